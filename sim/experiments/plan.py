"""The capacity planner (``sim.plan``, ``svcsim plan``): the smallest value of one field for
which the SLO holds with the requested confidence, and what happens around it.

A value *meets* the SLO when, for every target, the Student-t interval of the metric's mean over
its replications lies wholly on the target's good side (for ``p99<150ms``: the upper bound under
150 ms); the search (:mod:`sim.experiments.plan_search`) assumes that more of the varied value
never hurts. Around the answer: the same SLO with one node (and one zone) lost, the headroom
(how far all clients' rates can grow before the SLO breaks) and the nodes and cost the answer
needs. docs/semantics.md#capacity-planning states the rules; README "Capacity planning: svcsim
plan" the outputs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import Problem, ScenarioError
from sim.experiments.confidence import check_confidence
from sim.experiments.plan_model import (
    HOURS_PER_MONTH,
    busiest,
    latency_floor_ms,
    mean_offered_rps,
    nodes_needed,
    scaled_rates,
    varied_deployment,
    with_failure,
)
from sim.experiments.plan_result import Plan
from sim.experiments.plan_search import Point, PointRunner, largest_factor, smallest_meeting
from sim.experiments.replications import Executor, executor_and_root, serial
from sim.experiments.seeds import replication_seed
from sim.experiments.slo_targets import MET, SloTarget, parse_slos
from sim.scenario.resolved import Scenario

__all__ = ["Plan", "PlanArguments", "check_plan_arguments", "parse_range", "plan"]


def plan(
    scenario: Scenario,
    slo: str | Sequence[str] = ("p99<150ms",),
    vary: str = "",
    range: tuple[int, int] = (1, 200),  # the spelling, shadowing the builtin here only
    replications: int = 10,
    confidence: float = 0.95,
    seed: int | None = None,
    *,
    executor: Executor = serial,
    client: Any = None,
    what_if: bool = True,
    headroom: bool = True,
    on_done: Callable[[int, dict[str, float]], None] | None = None,
    on_point: Callable[[Point], None] | None = None,
) -> Plan:
    """The smallest value of ``vary`` in ``range`` for which every ``slo`` target holds with
    ``confidence``, and the evidence.

    Parameters
    ----------
    scenario : Scenario
        From :func:`sim.load_scenario`.
    slo : str or list of str
        Targets: ``p50|p90|p95|p99|mean|max < DURATION`` (``p99<150ms``), ``errors < PERCENT``
        (``errors<0.1%``), ``throughput > RATE`` (req/s); ``<=`` and ``>=`` too.
    vary : str
        A field path as for :meth:`Scenario.with_changes` whose value is a whole number, such as
        ``deployment/myapp.spec.replicas`` or ``simulation.spec.workloads.myapp.concurrency``.
    range : (int, int) or str
        ``(lo, hi)`` or ``"lo:hi"``, ``0 <= lo < hi``: the values searched.
    replications : int
        ``n`` >= 2: the replications a point near the answer runs (a point far below it runs
        ``min(3, n)``, an undecided one up to ``3n``: :mod:`sim.experiments.plan_search`).
    confidence : float
        Level of the Student-t intervals, in (0, 1).
    seed : int, optional
        Root seed (default: the scenario's ``spec.seed``, else a fresh one, recorded); value
        replication ``k`` of every value runs with ``replication_seed(seed, k)``, as in
        :func:`sim.sweep` (common random numbers).
    executor, client
        Where the runs go, as for :func:`sim.replicate` (serial by default; ``client`` a
        ``distributed.Client``). The plan does not depend on it.
    what_if : bool
        At the answer, also run with one node lost (in each replication, the one with the most
        of the varied Deployment's pods in that replication's placement; and one zone, when
        nodes carry zone labels), and search the smallest value that survives the node's loss.
    headroom : bool
        At the answer, search how far all clients' rates can be scaled before the SLO breaks.
    on_done, on_point : callable, optional
        ``on_done(seed, metrics)`` after each run; ``on_point(point)`` after each point's verdict.

    Raises
    ------
    ScenarioError
        A bad argument, before any run (:func:`check_plan_arguments`). The messages name the
        ``svcsim plan`` flag that carries the same argument (``--slo`` for ``slo``, ``--range``
        for ``range``, ``--vary`` for ``vary``...), so the API and the CLI say the same.

    Examples
    --------
    >>> import sim
    >>> s = sim.load_scenario("scenarios/nodeport-basic.yaml")
    >>> p = sim.plan(s, slo="p99<400ms", vary="deployment/myapp.spec.replicas", range=(1, 8),
    ...              replications=2, seed=1, what_if=False, headroom=False)  # doctest: +SKIP
    >>> p.recommended, p.feasible  # doctest: +SKIP
    (3, True)
    """
    checked = check_plan_arguments(scenario, slo, vary, range, replications, confidence, seed)
    targets, lo, hi, level, variants = checked.targets, checked.lo, checked.hi, checked.confidence, checked.variants
    executor, root = executor_and_root(scenario, seed, executor, client)
    runner = PointRunner(root, targets, level, checked.replications, executor, on_point=on_point, on_done=on_done)

    def meets(value: int) -> bool:
        return runner.judge("search", value, variants.at(value)).met

    if _impossible(targets, variants.at(hi)):  # a service-time floor above a latency target: the top decides
        recommended = hi if meets(hi) else None
    else:
        recommended = smallest_meeting(meets, lo, hi)
    feasible = recommended is not None
    reason = (
        _infeasible_reason(targets, runner.points[("search", hi, 1.0)], variants, level)
        if recommended is None
        else _answer_reason(targets, runner.points[("search", recommended, 1.0)], vary, lo, level)
    )
    losses: list[dict[str, Any]] = []
    room: dict[str, Any] | None = None
    if recommended is not None and what_if:
        losses = _what_if(runner, variants, recommended, hi, root, level)
    if recommended is not None and headroom:
        room = _headroom(runner, variants, recommended, targets)
    cost = _cost(variants.at(recommended if recommended is not None else hi), recommended is not None)
    return Plan(
        scenario=scenario,
        targets=targets,
        vary=vary,
        range=(lo, hi),
        replications=checked.replications,
        confidence=level,
        seed=root,
        recommended=recommended,
        feasible=feasible,
        reason=reason,
        evidence=_evidence(runner, targets),
        runs=runner.table(),
        what_if=losses,
        headroom=room,
        cost=cost,
    )


@dataclass(frozen=True)
class PlanArguments:
    """:func:`plan`'s arguments, checked: the targets, the range, the replications, the
    confidence level and the scenario at each value of the varied field (built on demand)."""

    targets: tuple[SloTarget, ...]
    lo: int
    hi: int
    replications: int
    confidence: float
    variants: _Variants


def check_plan_arguments(
    scenario: Scenario,
    slo: str | Sequence[str],
    vary: str,
    range: Any,
    replications: Any,
    confidence: Any,
    seed: Any = None,
) -> PlanArguments:
    """:func:`plan`'s argument checks alone, run nothing: ``svcsim plan`` calls it before it
    starts or joins a Dask cluster, so a bad flag is reported at once and as itself.

    Raises
    ------
    ScenarioError
        Every problem found, each naming the CLI flag that carries the argument.
    """
    source = scenario.source
    problems: list[Problem] = []
    targets: tuple[SloTarget, ...] = ()
    lo_hi: tuple[int, int] | None = None
    level = math.nan
    try:
        targets = tuple(parse_slos(slo, source))
    except ScenarioError as err:
        problems += err.problems
    try:
        lo_hi = _check_range(range, source)
    except ScenarioError as err:
        problems += err.problems
    if isinstance(replications, bool) or not isinstance(replications, int | np.integer) or replications < 2:
        message = f"Invalid value: {replications!r}: must be an integer >= 2 (an interval needs two runs)"
        problems.append(Problem(source, "", "--replications", message))
    try:
        level = check_confidence(confidence)
    except (TypeError, ValueError):
        problems.append(Problem(source, "", "--confidence", f"Invalid value: {confidence!r}: must be > 0 and < 1"))
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0):
        problems.append(Problem(source, "", "--seed", f"Invalid value: {seed!r}: must be an integer >= 0"))
    if problems:
        raise ScenarioError(problems)
    assert lo_hi is not None
    variants = _Variants(scenario, vary, *lo_hi)  # the path checked at both ends of the range
    return PlanArguments(targets, lo_hi[0], lo_hi[1], int(replications), level, variants)


def parse_range(text: str | None, source: str) -> tuple[int, int]:
    """``LO:HI`` as two whole numbers (``--range``, or ``range="1:200"``), or the one-line
    error naming ``--range``; whether ``0 <= LO < HI`` is :func:`plan`'s check."""
    if text is None:
        raise ScenarioError([Problem(source, "", "--range", "Required value: LO:HI, such as 1:200")])
    ends = re.fullmatch(r"\s*(-?[0-9]+)\s*:\s*(-?[0-9]+)\s*", text)  # ASCII digits: str.isdigit() also takes '²'
    if ends is None:
        message = f"Invalid value: {text!r}: expected LO:HI, two whole numbers >= 0 such as 1:200"
        raise ScenarioError([Problem(source, "", "--range", message)])
    return int(ends[1]), int(ends[2])


def _check_range(value: Any, source: str) -> tuple[int, int]:
    def refuse(message: str) -> ScenarioError:
        return ScenarioError([Problem(source, "", "--range", message)])

    if isinstance(value, str):
        value = parse_range(value, source)
    try:
        lo, hi = value
    except (TypeError, ValueError):
        raise refuse(f"Invalid value: {value!r}: expected LO:HI (two whole numbers, such as 1:200)") from None
    for bound in (lo, hi):
        if isinstance(bound, bool) or not isinstance(bound, int | np.integer):
            raise refuse(f"Invalid value: {bound!r}: the range's ends are whole numbers")
    if not 0 <= lo < hi:
        raise refuse(f"Invalid value: {lo}:{hi}: must be 0 <= LO < HI")
    return int(lo), int(hi)


class _Variants:
    """The scenario at each value (and with a load factor or a failure), checked once and kept."""

    def __init__(self, scenario: Scenario, vary: str, lo: int, hi: int) -> None:
        self.base, self.vary = scenario, vary
        self._cache: dict[tuple[int, float, str | None, str | None], Scenario] = {}
        if not isinstance(vary, str) or not vary:
            raise ScenarioError(
                [Problem(scenario.source, "", "--vary", "give a field path, such as deployment/myapp.spec.replicas")]
            )
        low, high = self.at(lo), self.at(hi)
        if low == high:
            message = f"{vary}: setting it to {lo} or to {hi} changes nothing in the scenario: is the path right?"
            raise ScenarioError([Problem(scenario.source, "", "--vary", message)])
        self.deployment = varied_deployment(scenario, vary)

    def at(self, value: int, factor: float = 1.0, node: str | None = None, zone: str | None = None) -> Scenario:
        key = (value, factor, node, zone)
        if key not in self._cache:
            # The load and the failure change the scenario *at the value*: when the varied field
            # is itself a client's rate, the headroom scales that rate, not the file's.
            point = self.base if key == (value, 1.0, None, None) else self.at(value)
            changes: list[tuple[str, Any]] = [(self.vary, value)] if point is self.base else []
            if factor != 1.0:
                changes += scaled_rates(point, factor)
            if node is not None or zone is not None:
                changes.append(with_failure(point, node=node, zone=zone))
            try:
                self._cache[key] = point.with_changes(changes)
            except ScenarioError as err:
                given = f"--vary {self.vary}={value}" if point is self.base else None
                raise ScenarioError([_as_vary(p, given) for p in err.problems]) from None
        return self._cache[key]


def _as_vary(problem: Problem, given: str | None) -> Problem:
    """A change's problem as the planner's: ``--vary PATH`` where with_changes says ``--set PATH``;
    a problem the value causes elsewhere (``spec.warmup`` for a short ``spec.duration``) is
    prefixed with ``given`` (``--vary PATH=VALUE``), so the line names the flag."""

    def swap(text: str) -> str:
        return "--vary " + text.removeprefix("--set ") if text.startswith("--set ") else text

    document, name = swap(problem.document), swap(problem.field)
    if given is not None and not (document.startswith("--vary") or name.startswith("--vary")):
        document = f"{given}: {document}" if document else given
    return Problem(problem.file, document, name, problem.message)


def _evidence(runner: PointRunner, targets: Sequence[SloTarget]) -> pd.DataFrame:
    """One row per value the search tried, in value order."""
    rows = []
    for (experiment, _, _), point in sorted(runner.points.items(), key=lambda kv: kv[0][1]):
        if experiment != "search":
            continue
        rows.append(_point_row(point, targets))
    stats = ("mean", "ci_low", "ci_high", "verdict")
    columns = ["value", "replications", *(f"{t.metric}_{s}" for t in targets for s in stats)]
    return pd.DataFrame(rows, columns=[*columns, "verdict"])


def _point_row(point: Point, targets: Sequence[SloTarget]) -> dict[str, Any]:
    row: dict[str, Any] = {"value": point.value, "replications": point.replications}
    for t in targets:
        i = point.intervals[t.metric]
        row.update({f"{t.metric}_mean": i.mean, f"{t.metric}_ci_low": i.ci_low, f"{t.metric}_ci_high": i.ci_high})
        row[f"{t.metric}_verdict"] = point.verdicts[t.metric]
    row["verdict"] = point.verdict
    return row


def _interval_text(target: SloTarget, point: Point, level: float) -> str:
    i = point.intervals[target.metric]
    if math.isnan(i.ci_low):
        return f"{target.name} is {target.describe_value(i.mean)}"
    return (
        f"{target.name} is {target.describe_value(i.mean)} [{target.describe_value(i.ci_low)}, "
        f"{target.describe_value(i.ci_high)}] ({level:.0%} CI, {point.replications} replications)"
    )


def _answer_reason(targets: Sequence[SloTarget], point: Point, vary: str, lo: int, level: float) -> str:
    where = "the range's low end already meets the SLO: " if point.value == lo else ""
    parts = "; ".join(_interval_text(t, point, level) for t in targets)
    return f"{where}at {vary}={point.value} {parts}"


def _impossible(targets: Sequence[SloTarget], top: Scenario) -> bool:
    """Whether the service time alone puts some latency target out of reach at the range's top."""
    for t in targets:
        floor = latency_floor_ms(top, t.metric)
        if floor is not None and not t.satisfied_by(floor):
            return True
    return False


def _infeasible_reason(targets: Sequence[SloTarget], point: Point, variants: _Variants, level: float) -> str:
    """Why no value in the range meets the SLO: a service-time floor above a latency target if
    there is one (no value helps), else what the range's top measured."""
    top = variants.at(point.value)
    for t in targets:
        floor = latency_floor_ms(top, t.metric)
        if floor is not None and not t.satisfied_by(floor):
            return (
                f"{t.name} of the service time alone is {floor:.4g} ms, above the target {t.describe_bound()}: "
                f"no value of {variants.vary} can meet {t.text}"
            )
    missed = [t for t in targets if point.verdicts[t.metric] != MET] or list(targets)
    parts = "; ".join(_interval_text(t, point, level) for t in missed)
    return (
        f"at {variants.vary}={point.value} (the range's top) {parts}, not within the target"
        f"{'s' if len(missed) > 1 else ''} {', '.join(t.text for t in missed)} with {level:.0%} confidence"
    )


class _Placements:
    """Replication ``k``'s placement at a value: the busiest node (and zone) of the varied
    Deployment in the run with ``replication_seed(root, k)`` (placement depends on the seed)."""

    def __init__(self, variants: _Variants, root: int) -> None:
        self.variants, self.root = variants, root
        self._cache: dict[tuple[int, int], tuple[str | None, tuple[str, int] | None, dict[str, int]]] = {}

    def at(self, value: int, k: int) -> tuple[str | None, tuple[str, int] | None, dict[str, int]]:
        if (value, k) not in self._cache:
            deployment = self.variants.deployment or ""
            self._cache[value, k] = busiest(self.variants.at(value), deployment, replication_seed(self.root, k))
        return self._cache[value, k]

    def node_lost(self, value: int) -> Callable[[int], Scenario]:
        """Replication ``k``'s scenario at ``value`` with its busiest node failed."""

        def scenario_for(k: int) -> Scenario:
            node = self.at(value, k)[0]
            return self.variants.at(value, node=node) if node is not None else self.variants.at(value)

        return scenario_for

    def zone_lost(self, value: int) -> Callable[[int], Scenario]:
        def scenario_for(k: int) -> Scenario:
            zone = self.at(value, k)[1]
            return self.variants.at(value, zone=zone[0]) if zone is not None else self.variants.at(value)

        return scenario_for


def _what_if(
    runner: PointRunner, variants: _Variants, value: int, hi: int, root: int, level: float
) -> list[dict[str, Any]]:
    """At ``value``: in each replication, the node (and zone) with the most of the varied
    Deployment's pods in that replication's placement failed at t = warmup; for the node, the
    smallest value up to ``hi`` that survives its loss."""
    if variants.deployment is None:
        return [{"loss": None, "skipped": "no Deployment is varied or served to the clients: nothing to place"}]
    placements = _Placements(variants, root)
    node, zone, _ = placements.at(value, 0)
    if node is None:
        return [{"loss": None, "skipped": f"no pod of {variants.deployment} is placed at {variants.vary}={value}"}]
    if len(variants.base.simulation.cluster.nodes) < 2:
        return [{"loss": "node", "skipped": "the cluster has one node: losing it loses everything"}]
    point = runner.judge("node loss", value, placements.node_lost(value))
    entry = _loss_entry("node", point, placements, runner.targets)

    def survives(v: int) -> bool:
        if placements.at(v, 0)[0] is None:
            return False
        return runner.judge("node loss", v, placements.node_lost(v)).met

    # the top first: when even it does not survive, one value settles it (no search); the
    # search may judge the top again: judge() returns it as it was
    if point.met:
        entry["smallest_surviving"] = value
    elif value < hi and survives(hi):
        entry["smallest_surviving"] = smallest_meeting(survives, value + 1, hi)
    else:
        entry["smallest_surviving"] = None
    out = [entry]
    if zone is not None:
        zone_point = runner.judge("zone loss", value, placements.zone_lost(value))
        out.append(_loss_entry("zone", zone_point, placements, runner.targets))
    return out


def _loss_entry(kind: str, point: Point, placements: _Placements, targets: Sequence[SloTarget]) -> dict[str, Any]:
    """The what-if's row: per replication the node (zone) lost and its pods, their range, the
    targets' intervals and the verdict."""
    lost: list[str | None] = []
    pods_lost: list[int] = []
    totals: list[int] = []
    for k in range(point.replications):
        node, zone, counts = placements.at(point.value, k)
        if kind == "node":
            lost.append(node)
            pods_lost.append(counts.get(node, 0) if node is not None else 0)
        else:
            lost.append(zone[0] if zone is not None else None)
            pods_lost.append(zone[1] if zone is not None else 0)
        totals.append(sum(counts.values()))
    names = sorted({name for name in lost if name is not None})
    return {
        "loss": kind,
        "name": ", ".join(names),
        "lost": lost,
        "pods_lost": [min(pods_lost), max(pods_lost)],
        "pods": max(totals),
        "value": point.value,
        "replications": point.replications,
        "metrics": {
            t.metric: {
                "mean": point.intervals[t.metric].mean,
                "ci_low": point.intervals[t.metric].ci_low,
                "ci_high": point.intervals[t.metric].ci_high,
                "verdict": point.verdicts[t.metric],
            }
            for t in targets
        },
        "verdict": point.verdict,
        "holds": point.met,
    }


def _headroom(runner: PointRunner, variants: _Variants, value: int, targets: Sequence[SloTarget]) -> dict[str, Any]:
    """How far the clients' rates can be multiplied at ``value`` before the SLO breaks."""
    stopped: list[str] = []

    def meets(factor: float) -> bool:
        try:
            scenario = variants.at(value, factor)
        except ScenarioError as err:  # the run limits refuse that much load
            stopped.append(str(err.problems[0]))
            return False
        return runner.judge("headroom", value, scenario, factor).met

    good, bad = largest_factor(meets)
    base_rps = mean_offered_rps(variants.at(value))
    return {
        "value": value,
        "factor": good,
        "breaks_at": bad,
        "offered_rps": base_rps,
        "rate_rps": base_rps * good,
        "limited_by": stopped[0] if stopped else None,
    }


def _cost(scenario: Scenario, feasible: bool) -> dict[str, Any]:
    """The nodes the value's pods need (requests against allocatable) and their price."""
    needed, fits, pods = nodes_needed(scenario)
    cluster = scenario.simulation.cluster
    price = cluster.node_cost_per_hour
    return {
        "for": "recommended" if feasible else "range top",
        "pods": pods,
        "requests_given": any(d.cpu_request_m or d.memory_request_b for d in scenario.deployments),
        "nodes_needed": needed,
        "fits_cluster": fits,
        "cluster_nodes": len(cluster.nodes),
        "node_cost_per_hour": price,
        "per_hour": None if price is None or needed is None else needed * price,
        "per_month": None if price is None or needed is None else needed * price * HOURS_PER_MONTH,
        "cluster_per_hour": None if price is None else len(cluster.nodes) * price,
    }
