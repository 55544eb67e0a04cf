"""The planner's service-level objectives: ``p99<150ms``, ``errors<0.1%``, ``throughput>=900``,
each read once into an :class:`SloTarget` on a column of :data:`sim.results.run_metrics.METRICS`,
and judged on a confidence interval (docs/semantics.md#capacity-planning).

A target *holds* at a value when the whole interval is on its good side (the upper bound under
a ``<`` bound, the lower bound over a ``>`` one); it is *missed* when the whole interval is on the
wrong side, and *undecided* when the interval straddles the bound. A replication that measured
nothing (NaN: no ok request after warm-up) misses a latency or throughput target, as the
Simulation's own ``spec.slo`` check counts a statistic with nothing to measure.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from sim.errors import Problem, ScenarioError
from sim.experiments.confidence import confidence_interval
from sim.units import parse_duration

__all__ = [
    "MET",
    "MISSED",
    "UNDECIDED",
    "Interval",
    "SloTarget",
    "interval_of",
    "judge",
    "overall",
    "parse_slo",
    "parse_slos",
]

MET, MISSED, UNDECIDED = "met", "missed", "undecided"
#: The latency statistics an SLO may bound, and the metric each reads.
_LATENCY = {stat: f"latency_{stat}_ms" for stat in ("p50", "p90", "p95", "p99", "mean", "max")}
_SPELLING = re.compile(r"^\s*([A-Za-z_0-9]+)\s*(<=|>=|<|>)\s*(\S.*?)\s*$")
_EXAMPLES = "p50|p90|p95|p99|mean|max < DURATION (p99<150ms), errors < PERCENT (errors<0.1%) or throughput > RATE"


@dataclass(frozen=True)
class SloTarget:
    """One objective: ``metric`` (a column of ``run_metrics.METRICS``) compared with ``bound``
    (in the metric's unit: ms for latency, a fraction for ``error_rate``, req/s for throughput)."""

    text: str  # as the user wrote it, spaces removed
    metric: str
    op: str  # "<", "<=", ">" or ">="
    bound: float

    @property
    def upper(self) -> bool:
        """Whether the bound is an upper one (latency, errors) rather than a lower one (throughput)."""
        return self.op in ("<", "<=")

    def satisfied_by(self, value: float) -> bool:
        """Whether ``value`` is on the good side of the bound."""
        if math.isnan(value):
            return False
        return {"<": value < self.bound, "<=": value <= self.bound, ">": value > self.bound, ">=": value >= self.bound}[
            self.op
        ]

    def describe_bound(self) -> str:
        """The bound in the user's terms: ``150 ms``, ``0.1 %``, ``900 req/s``."""
        if self.metric == "error_rate":
            return f"{self.bound * 100:g} %"
        if self.metric == "throughput_rps":
            return f"{self.bound:g} req/s"
        return f"{self.bound:g} ms"

    def describe_value(self, value: float) -> str:
        if math.isnan(value):
            return "-"
        if self.metric == "error_rate":
            return f"{value * 100:.3g} %"
        if self.metric == "throughput_rps":
            return f"{value:,.0f} req/s" if abs(value) >= 1e4 else f"{value:.4g} req/s"
        return f"{value:,.0f} ms" if abs(value) >= 1e4 else f"{value:.4g} ms"

    @property
    def name(self) -> str:
        """What the metric is called in sentences: ``p99``, ``errors``, ``throughput``."""
        if self.metric == "error_rate":
            return "the error rate"
        if self.metric == "throughput_rps":
            return "throughput"
        return self.metric.removeprefix("latency_").removesuffix("_ms")


@dataclass(frozen=True)
class Interval:
    """A metric over a point's replications: its mean and confidence interval, and how many
    replications measured nothing (NaN)."""

    mean: float
    ci_low: float
    ci_high: float
    n: int
    unmeasured: int = 0


def parse_slo(text: str, source: str = "") -> SloTarget:
    """One objective from its spelling (module docstring), or a one-line ScenarioError naming ``--slo``."""

    def refuse(message: str) -> ScenarioError:
        return ScenarioError([Problem(source, "", "--slo", f"{text!r}: {message}")])

    if not isinstance(text, str):
        raise refuse(f"an SLO is text such as {_EXAMPLES}")
    match = _SPELLING.match(text)
    if match is None:
        raise refuse(f"expected {_EXAMPLES}")
    what, op, value = match.group(1).lower(), match.group(2), match.group(3).strip()
    canonical = f"{what}{op}{value.replace(' ', '')}"
    if what in _LATENCY:
        if op not in ("<", "<="):
            raise refuse(f"a latency target is an upper bound: {what} < DURATION")
        try:
            seconds = parse_duration(value)
        except ValueError as err:
            raise refuse(str(err)) from None
        if seconds <= 0:
            raise refuse("the latency bound must be > 0")
        return SloTarget(canonical, _LATENCY[what], op, seconds * 1e3)
    if what in ("errors", "error_rate", "errorrate"):
        if op not in ("<", "<="):
            raise refuse("an error-rate target is an upper bound: errors < PERCENT, such as errors<0.1%")
        fraction = _number(value.removesuffix("%"), refuse)
        fraction = fraction / 100 if value.endswith("%") else fraction
        if not 0 <= fraction <= 1 or (op == "<" and fraction == 0):
            raise refuse("the error rate bound must be a percentage in (0 %, 100 %] (or a fraction in (0, 1])")
        return SloTarget(canonical, "error_rate", op, fraction)
    if what in ("throughput", "rps"):
        if op not in (">", ">="):
            raise refuse("a throughput target is a lower bound: throughput > RATE (req/s)")
        rate = _number(value.removesuffix("rps").removesuffix("req/s").removesuffix("/s").strip(), refuse)
        if rate < 0:
            raise refuse("the throughput bound must be >= 0 req/s")
        return SloTarget(canonical, "throughput_rps", op, rate)
    raise refuse(f"unknown metric {what!r}: expected {_EXAMPLES}")


def _number(text: str, refuse: Callable[[str], ScenarioError]) -> float:
    try:
        value = float(text)
    except ValueError:
        raise refuse(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise refuse(f"{text!r} is not a finite number")
    return value


def parse_slos(texts: str | Sequence[str], source: str = "") -> tuple[SloTarget, ...]:
    """Every objective of ``texts`` (one text or several); at least one, no metric twice."""
    items = [texts] if isinstance(texts, str) else list(texts)
    if not items:
        raise ScenarioError([Problem(source, "", "--slo", "give at least one target, such as p99<150ms")])
    targets = [parse_slo(t, source) for t in items]
    seen: dict[str, str] = {}
    for t in targets:
        if t.metric in seen:
            message = f"{t.text!r} and {seen[t.metric]!r} bound the same metric: give one"
            raise ScenarioError([Problem(source, "", "--slo", message)])
        seen[t.metric] = t.text
    return tuple(targets)


def interval_of(values: Sequence[float], confidence: float) -> Interval:
    """The :class:`Interval` of a metric's values over replications."""
    array = np.asarray(values, dtype=float)
    mean, _, low, high, n = confidence_interval(array, confidence)
    return Interval(mean, low, high, n, int(np.isnan(array).sum()))


def judge(target: SloTarget, interval: Interval) -> str:
    """:data:`MET` when the whole interval is on the good side of the bound, :data:`MISSED` when
    it is all on the wrong side (or a replication measured nothing), else :data:`UNDECIDED`."""
    if interval.unmeasured and target.metric != "error_rate":
        return MISSED
    if math.isnan(interval.ci_low) or math.isnan(interval.ci_high):
        return UNDECIDED  # fewer than two measured replications: no interval yet
    good = (interval.ci_high, interval.ci_low) if target.upper else (interval.ci_low, interval.ci_high)
    if target.satisfied_by(good[0]):
        return MET
    if not target.satisfied_by(good[1]):
        return MISSED
    return UNDECIDED


def overall(verdicts: Sequence[str]) -> str:
    """All targets met: met; any missed: missed; else undecided."""
    if any(v == MISSED for v in verdicts):
        return MISSED
    return MET if all(v == MET for v in verdicts) else UNDECIDED
