"""Runs compared: the summaries of several runs side by side, with differences against the first.

``compare(runs)`` reads each run once into a :class:`RunSummary` (a label, the metrics, their
confidence intervals for a replicated run, and the run's tables when there are any) and lays
the metrics out as one table: a row per metric, a column per run, then per later run its
difference and relative difference against the first run (the baseline). A run is a
:class:`~sim.results.result.Result`, a run folder (``svcsim run --out``), a replications
folder (``svcsim run --replications N``: ``replications.json``) or an object with a
``summary_dict()`` in that file's shape (``sim.replicate``'s result).

The metrics are named as in ``replications.parquet`` so that a single run and a replicated
one line up (:data:`METRICS`): ``requests`` (rows of the requests table, as ``summary.json``
counts them), ``outcome_<name>`` per outcome, ``error_rate`` (the share of the clients'
requests sent in ``[warmup, duration]`` that did not end ok, as the SLO measures it),
``throughput_rps``, ``latency_<stat>_ms`` (mean, p50, p90, p95, p99, max over ok requests
sent after warm-up) and ``slo_met`` (1 met, 0 missed; for replications the share of
replications that met it), the last only when some run has a ``spec.slo``. A statistic with
nothing to measure is NaN.

For a replicated run a cell holds the mean across replications, beside its confidence
interval; when the baseline is replicated too, ``CI overlap`` says whether the two intervals
overlap (disjoint intervals are strong evidence of a difference; overlapping ones are not
evidence of none).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import Problem, ScenarioError
from sim.results.result import Result, load_result
from sim.results.run_metrics import METRICS
from sim.results.run_metrics import metrics_of as run_metrics
from sim.scenario.load import load_scenario
from sim.scenario.resolved import Scenario

__all__ = ["METRICS", "Comparison", "RunSummary", "compare", "run_metrics", "run_summaries"]

_COUNTS = frozenset(m for m in METRICS if m == "requests" or m.startswith("outcome_"))
#: What ``sim.compare`` accepts for a run.
RunInput = Result | str | os.PathLike[str] | Any


@dataclass(frozen=True)
class RunSummary:
    """One run as a comparison sees it: its metrics (means for a replicated run) and, for a
    replicated run, the confidence interval of each; ``result`` is the run itself when it
    has tables to plot (a single run), else None."""

    label: str
    scenario: str  # the Simulation's name
    seed: int | None  # the run's seed, or the replications' root seed
    metrics: dict[str, float]
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    replications: int | None = None  # None for a single run
    confidence: float | None = None
    source: str | None = None  # the folder it was read from
    result: Result | None = field(default=None, repr=False, compare=False)
    #: The resolved scenario as YAML, seed set to 0 (what the report diffs), when it is at hand:
    #: a single run's, or a replicated run's ``scenario.yaml``.
    scenario_yaml: str | None = field(default=None, repr=False, compare=False)

    @property
    def replicated(self) -> bool:
        return self.replications is not None


def run_summaries(runs: Sequence[RunInput], labels: Sequence[str] | None = None) -> list[RunSummary]:
    """Each run read once and labelled: by ``labels`` when given (as many as runs, unique,
    not empty), else by its folder's name, or its scenario's name and seed, made unique by
    a `` (2)``, `` (3)``... suffix."""
    if isinstance(runs, str | os.PathLike | Result):
        raise ValueError("runs must be a list of results or run folders, not a single one")
    read = [_read(run) for run in runs]
    if labels is None:
        names = _unique([label for label, _ in read])
    else:
        names = [str(label) for label in labels]
        if len(names) != len(read):
            raise ValueError(f"{len(names)} label(s) for {len(read)} run(s): give one label per run")
        if any(not name.strip() for name in names):
            raise ValueError("a label is empty")
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"labels must be unique; repeated: {', '.join(repeated)}")
    return [_labelled(summary, name) for name, (_, summary) in zip(names, read, strict=True)]


def _labelled(summary: RunSummary, label: str) -> RunSummary:
    return dataclasses.replace(summary, label=label)


def _unique(names: list[str]) -> list[str]:
    """``names`` with each repeat suffixed `` (2)``, `` (3)``... (skipping a suffix another run
    already has as its name)."""
    taken = set(names)
    out: list[str] = []
    for name in names:
        candidate, k = name, 1
        while candidate in out or (k > 1 and candidate in taken):
            k += 1
            candidate = f"{name} ({k})"
        out.append(candidate)
    return out


def _read(run: RunInput) -> tuple[str, RunSummary]:
    """``(default label, summary)`` of one run, whatever form it comes in."""
    if isinstance(run, RunSummary):  # read already
        return run.label, run
    if isinstance(run, Result):
        name = run.scenario.simulation.name
        summary = RunSummary("", name, run.seed, run_metrics(run), result=run, scenario_yaml=_yaml(run))
        return f"{name} seed {run.seed}", summary
    if isinstance(run, str | os.PathLike):
        folder = Path(run)
        label = folder.resolve().name or str(folder)
        if not folder.is_dir():
            raise ScenarioError([Problem(str(folder), "", "", "no such run folder")])
        if (folder / "replications.json").is_file() and not (folder / "summary.json").is_file():
            summary = _replicated(_replications_json(folder), str(folder))
            return label, dataclasses.replace(summary, scenario_yaml=_scenario_text(folder / "scenario.yaml"))
        for marker, kind in (("sweep.json", "a sweep"), ("plan.json", "a plan")):
            if (folder / marker).is_file() and not (folder / "summary.json").is_file():
                message = (
                    f"{kind}'s folder: compare takes run folders and replications folders (svcsim run --replications)"
                )
                raise ScenarioError([Problem(str(folder), "", "", message)])
        result = load_result(folder)
        name = result.scenario.simulation.name
        return label, RunSummary(
            "", name, result.seed, run_metrics(result), source=str(folder), result=result, scenario_yaml=_yaml(result)
        )
    if callable(getattr(run, "summary_dict", None)):  # sim.replicate's Replications
        summary = _replicated(run.summary_dict(), None)
        scenario = getattr(run, "scenario", None)
        text = scenario.with_overrides(seed=0).to_yaml() if isinstance(scenario, Scenario) else None
        return f"{summary.scenario} ×{summary.replications}", dataclasses.replace(summary, scenario_yaml=text)
    raise ValueError(f"cannot compare {type(run).__name__}: give a Result, a run folder or replications")


def _yaml(result: Result) -> str:
    return result.scenario.with_overrides(seed=0).to_yaml()


def _scenario_text(path: Path) -> str | None:
    """A replicated run's ``scenario.yaml`` resolved again with seed 0 (to diff), or None if unreadable."""
    try:
        return load_scenario(path).with_overrides(seed=0).to_yaml()
    except (ScenarioError, OSError):
        return None


def _replications_json(folder: Path) -> dict[str, Any]:
    path = folder / "replications.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        detail = " ".join(str(err).split()) or type(err).__name__
        raise ScenarioError([Problem(str(path), "", "", f"cannot read: {detail}")]) from None
    return data if isinstance(data, dict) else {}


def _replicated(data: dict[str, Any], source: str | None) -> RunSummary:
    """A replicated run from ``replications.json``'s object: ``scenario, seed, replications,
    confidence`` and ``metrics: {name: {mean, ci_low, ci_high, ...}}`` (null is NaN)."""
    where = str(Path(source) / "replications.json") if source else "replications"
    metrics_in = data.get("metrics")
    n = data.get("replications")
    if not isinstance(metrics_in, dict) or isinstance(n, bool) or not isinstance(n, int):
        problem = "not written by svcsim: expected replications (an integer) and metrics (an object)"
        raise ScenarioError([Problem(where, "", "", problem)])
    metrics: dict[str, float] = {}
    intervals: dict[str, tuple[float, float]] = {}
    for name, entry in metrics_in.items():
        if not isinstance(entry, dict) or not all(_numeric(entry.get(k)) for k in ("mean", "ci_low", "ci_high")):
            problem = f"not written by svcsim: metric {name} is not an object with mean, ci_low and ci_high"
            raise ScenarioError([Problem(where, "", "", problem)])
        metrics[str(name)] = _number(entry["mean"])
        intervals[str(name)] = (_number(entry["ci_low"]), _number(entry["ci_high"]))
    seed = data.get("seed")
    confidence = data.get("confidence")
    return RunSummary(
        "",
        str(data.get("scenario", "")),
        seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        metrics,
        intervals,
        n,
        float(confidence) if _numeric(confidence) and confidence is not None else None,
        source,
    )


def _number(value: Any) -> float:
    """A JSON number (null is NaN)."""
    return math.nan if value is None else float(value)


def _numeric(value: Any) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


@dataclass(frozen=True)
class Comparison:
    """Several runs compared. ``runs`` in the order given (the first is the baseline);
    ``table``: one row per metric (the index), per run a column of its value (the mean for a
    replicated run) and, for a replicated run, ``<label> CI low`` and ``<label> CI high``;
    then per later run ``Δ <label>`` (its value minus the baseline's), ``Δ% <label>`` (that
    over the baseline's magnitude, in percent; NaN when the baseline is 0 or missing) and,
    when both are replicated, ``CI overlap <label>`` (True, False, or None for no interval).
    ``str()`` prints it as a fixed-width text table."""

    runs: tuple[RunSummary, ...]
    table: pd.DataFrame = field(repr=False)

    @property
    def labels(self) -> list[str]:
        return [run.label for run in self.runs]

    def __repr__(self) -> str:
        parts = [f"{run.label} ({'×' + str(run.replications) if run.replicated else 'one run'})" for run in self.runs]
        return f"<Comparison of {len(self.runs)} runs against {self.runs[0].label!r}: {', '.join(parts)}>"

    def text_rows(self) -> tuple[list[str], list[list[str]]]:
        """The header and the rows as display text (what ``str()``, the CLI and the report show)."""
        header = ["metric", *self.table.columns]
        rows = []
        for metric, row in self.table.iterrows():
            rows.append([str(metric), *(_display(str(metric), str(col), row[col]) for col in self.table.columns)])
        return header, rows

    def __str__(self) -> str:
        header, rows = self.text_rows()
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        lines = [
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(r, widths, strict=True))
            )
            for r in [header, *rows]
        ]
        notes = [
            f"{run.label}: {run.replications} replications, mean and {_level(run.confidence)} CI"
            for run in self.runs
            if run.replicated
        ]
        return "\n".join([*lines, *notes])


def _level(confidence: float | None) -> str:
    return f"{confidence * 100:g} %" if confidence is not None else "?"


def _display(metric: str, column: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    number = float(value)
    if column.startswith("Δ% "):
        return f"{number:+.1f}%"
    sign = "+" if column.startswith("Δ ") else ""
    if metric in _COUNTS and float(number).is_integer():
        return f"{number:{sign},.0f}"
    if metric == "error_rate":
        return f"{number * 100:{sign}.3g}%"
    return f"{number:{sign}.4g}" if abs(number) < 1e4 else f"{number:{sign},.0f}"


def compare(runs: Sequence[RunInput], labels: Sequence[str] | None = None) -> Comparison:
    """Compare two or more runs against the first (module docstring).

    Parameters
    ----------
    runs : sequence
        Results (:func:`sim.simulate`), run folders, replications folders or
        ``sim.replicate`` results; the first is the baseline.
    labels : sequence of str, optional
        One per run, unique. By default a folder's name, else ``<scenario> seed <seed>``.

    Examples
    --------
    >>> import sim
    >>> s = sim.load_scenario("scenarios/nodeport-basic.yaml").with_overrides(duration_s=20)
    >>> c = sim.compare([sim.simulate(s, seed=1), sim.simulate(s, seed=2)], labels=["a", "b"])
    >>> list(c.table.columns)
    ['a', 'b', 'Δ b', 'Δ% b']
    """
    summaries = run_summaries(runs, labels)
    if len(summaries) < 2:
        raise ValueError(f"compare needs at least 2 runs, got {len(summaries)}")
    return Comparison(tuple(summaries), comparison_table(summaries))


def comparison_table(runs: Sequence[RunSummary]) -> pd.DataFrame:
    """The wide table of :class:`Comparison` (one row per metric)."""
    present = {m for run in runs for m in run.metrics}
    metrics = [m for m in METRICS if m in present]
    table = pd.DataFrame(index=pd.Index(metrics, name="metric"))
    for run in runs:
        table[run.label] = [run.metrics.get(m, math.nan) for m in metrics]
        if run.replicated:
            table[f"{run.label} CI low"] = [run.intervals.get(m, (math.nan, math.nan))[0] for m in metrics]
            table[f"{run.label} CI high"] = [run.intervals.get(m, (math.nan, math.nan))[1] for m in metrics]
    base = runs[0]
    before = table[base.label].to_numpy(dtype=float)
    for run in runs[1:]:
        after = table[run.label].to_numpy(dtype=float)
        table[f"Δ {run.label}"] = after - before
        with np.errstate(divide="ignore", invalid="ignore"):
            relative = np.where(before != 0, (after - before) / np.abs(before) * 100, np.nan)
        table[f"Δ% {run.label}"] = relative
        if base.replicated and run.replicated:
            table[f"CI overlap {run.label}"] = pd.Series(
                [_overlap(base.intervals.get(m), run.intervals.get(m)) for m in metrics],
                index=table.index,
                dtype=object,
            )
    return table


def _overlap(a: tuple[float, float] | None, b: tuple[float, float] | None) -> bool | None:
    """Whether the intervals ``[low, high]`` share a point; None when either is missing."""
    if a is None or b is None or any(math.isnan(v) for v in (*a, *b)):
        return None
    return a[0] <= b[1] and b[0] <= a[1]
