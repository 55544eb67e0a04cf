"""Sweeps: a scenario run at every point of a grid of changed fields, each point replicated,
with the mean and confidence interval of every metric per point (``sim.sweep``, ``svcsim sweep``).

The grid is a mapping from change paths (:mod:`sim.scenario.changes`) to the values each
takes; its points are every combination, the first path varying slowest. Every point is
the scenario with that point's changes, loaded and checked again in full before anything
runs, so a value the loader refuses stops the sweep with the CLI's one-line problem.

Seeds: replication ``k`` of *every* point runs with ``replication_seed(root, k)``, the seed
``sim.replicate`` gives its replication ``k`` (:mod:`sim.experiments.seeds`). Points compared
on the same random numbers (common random numbers) differ by what was changed, not by the
draw, so a curve across points is smoother than with a fresh seed per point, and each
point's interval is still an ordinary interval over independent replications. The tasks
go to an :data:`~sim.experiments.replications.Executor` like replications; the table is
assembled in point and replication order whatever order they finish in, so a serial run and
any number of Dask workers write the same bytes.

On disk (:meth:`Sweep.save`): ``sweep.parquet`` (one row per point x replication: ``point``,
one column per swept path holding its value, ``replication``, ``seed`` and the metrics),
``sweep_summary.parquet`` (one row per point x metric: ``point``, the swept columns,
``metric, mean, sd, ci_low, ci_high, n``), ``sweep.json`` (the root seed, the grid, the
replications, the confidence level and the points with their intervals) and ``scenario.yaml``
(the scenario before the changes, ``spec.seed`` the root seed).
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import Problem, ScenarioError
from sim.experiments.confidence import SUMMARY_COLUMNS, check_confidence, summarize_metrics
from sim.experiments.metrics import run_keeping, run_one
from sim.experiments.replications import Executor, executor_and_root, kept, replication_table, serial, write_runs
from sim.experiments.seeds import replication_seed
from sim.kube.validation import one_line
from sim.results.result import summary_json
from sim.results.run_folder import replacing, write_files
from sim.scenario.load import load_scenario
from sim.scenario.resolved import Scenario
from sim.version import VERSION

__all__ = ["REPEATED", "SWEEP_FILES", "Sweep", "SweepGrid", "load_sweep", "repeated", "sweep", "sweep_points"]

SWEEP_FILES = ("sweep.parquet", "sweep_summary.parquet", "sweep.json", "scenario.yaml")
_KEYS = ("point", "replication", "seed")


def sweep_points(grid: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every combination of ``grid``'s values (a value that is not a list or tuple is one
    value), the first path varying slowest.

    Examples
    --------
    >>> sweep_points({"a": [1, 2], "b": [10, 20], "c": "x"})
    [{'a': 1, 'b': 10, 'c': 'x'}, {'a': 1, 'b': 20, 'c': 'x'}, {'a': 2, 'b': 10, 'c': 'x'}, {'a': 2, 'b': 20, 'c': 'x'}]
    """
    paths = list(grid)
    values = [list(v) if isinstance(v, list | tuple) else [v] for v in grid.values()]
    return [dict(zip(paths, combination, strict=True)) for combination in itertools.product(*values)]


@dataclass(frozen=True, eq=False)  # tables do not compare with ==
class Sweep:
    """A grid of points, each replicated: ``table`` (one row per point x replication) and
    ``summary`` (one row per point x metric, intervals at ``confidence``)."""

    scenario: Scenario = field(repr=False)  # before the changes
    grid: dict[str, list[Any]]  # path -> the values it takes, in order
    seed: int  # replication k of every point runs with replication_seed(seed, k)
    replications: int
    confidence: float
    table: pd.DataFrame = field(repr=False)
    summary: pd.DataFrame = field(repr=False)
    #: With ``keep_tables``: each run's folder, ``point-P-replication-K`` -> {file: bytes}.
    runs: dict[str, dict[str, bytes]] = field(default_factory=dict, repr=False)

    @property
    def paths(self) -> list[str]:
        """The swept paths (the table's value columns), in grid order."""
        return list(self.grid)

    @property
    def points(self) -> pd.DataFrame:
        """One row per point: ``point`` and the value of every swept path."""
        return self.table.drop_duplicates("point")[["point", *self.paths]].reset_index(drop=True)

    @property
    def metrics(self) -> list[str]:
        """The metric columns of ``table``, in order."""
        return [c for c in self.table.columns if c not in (*_KEYS, *self.paths)]

    def metric(self, name: str) -> pd.DataFrame:
        """Per point: the swept values and ``mean, sd, ci_low, ci_high, n`` of metric ``name``."""
        if name not in self.metrics:
            raise ValueError(f"no metric {name!r} in this sweep; it has {', '.join(self.metrics)}")
        rows = self.summary[self.summary["metric"] == name]
        return rows.drop(columns="metric").reset_index(drop=True)

    def with_confidence(self, confidence: float) -> Sweep:
        """The same runs summarised at another confidence level (nothing is run again)."""
        level = check_confidence(confidence)
        return Sweep(
            self.scenario,
            self.grid,
            self.seed,
            self.replications,
            level,
            self.table,
            point_summary(self.table, self.paths, level),
            self.runs,
        )

    def plot(self, metric: str = "latency_p99_ms", x: str | None = None, by: str | None = None, ax: Any = None) -> Any:
        """``metric`` against the swept path ``x`` (default: the first numeric one) with its
        confidence band, one line per value of ``by`` (default: the other swept path, if
        any); on ``ax`` if given. Returns the Figure (:func:`sim.experiments.sweep_plots.sweep_figure`)."""
        from sim.experiments.sweep_plots import sweep_figure  # noqa: PLC0415 (matplotlib only for plots)

        return sweep_figure(self, metric, x=x, by=by, ax=ax)

    def __repr__(self) -> str:
        name = self.scenario.simulation.name
        head = (
            f"<Sweep of {name!r}: {len(self.points)} points x {self.replications} replications, "
            f"seed {self.seed}, {self.confidence:.0%} intervals>"
        )
        lines = [head, *(f"  {path}: {', '.join(map(str, values))}" for path, values in self.grid.items())]
        if "latency_p99_ms" in self.metrics:
            lines.append("  p99 (ms) by point:")
            for row in self.metric("latency_p99_ms").head(12).itertuples(index=False):
                at = ", ".join(f"{getattr(row, _column(i))}" for i in range(len(self.paths)))
                lines.append(f"    {at}: {row.mean:.4g} [{row.ci_low:.4g}, {row.ci_high:.4g}]")
        return "\n".join(lines)

    def summary_dict(self) -> dict[str, Any]:
        """What ``sweep.json`` holds (NaN as None once written)."""
        points = []
        for point in self.points.itertuples(index=False):
            rows = self.summary[self.summary["point"] == point.point]
            points.append(
                {
                    "point": int(point.point),
                    "values": {path: _plain(getattr(point, _column(i))) for i, path in enumerate(self.paths)},
                    "metrics": {
                        r.metric: {k: (int(r.n) if k == "n" else float(getattr(r, k))) for k in SUMMARY_COLUMNS[1:]}
                        for r in rows.itertuples()
                    },
                }
            )
        return {
            "scenario": self.scenario.simulation.name,
            "seed": self.seed,
            "grid": {path: [_plain(v) for v in values] for path, values in self.grid.items()},
            "replications": self.replications,
            "confidence": self.confidence,
            "points": points,
            "svcsim_version": VERSION,
        }

    def save(self, directory: str | os.PathLike[str], plots: Mapping[str, bytes] | None = None) -> Path:
        """Write :data:`SWEEP_FILES` (and ``plots``, name to PNG bytes, such as
        ``{"plots/sweep-latency_p99_ms.png": ...}``) into ``directory`` (new, empty or an
        earlier run's folder: :mod:`sim.results.run_folder`); all of it lands or none."""
        with replacing(directory, whole_run=True) as staging:
            self.table.to_parquet(staging / "sweep.parquet", index=False)
            self.summary.to_parquet(staging / "sweep_summary.parquet", index=False)
            (staging / "sweep.json").write_text(summary_json(self.summary_dict()), encoding="utf-8")
            resolved = self.scenario.with_overrides(seed=self.seed)
            (staging / "scenario.yaml").write_text(resolved.to_yaml(), encoding="utf-8")
            write_files(staging, plots or {})
            write_runs(staging, self.runs)
        return Path(directory)


def sweep(
    scenario: Scenario,
    grid: Mapping[str, Any] | SweepGrid,
    replications: int = 1,
    seed: int | None = None,
    *,
    confidence: float = 0.95,
    executor: Executor = serial,
    client: Any = None,
    on_done: Callable[[int, int, int, dict[str, float]], None] | None = None,
    keep_tables: bool = False,
) -> Sweep:
    """Run ``scenario`` at every point of ``grid``, ``replications`` times each.

    Parameters
    ----------
    scenario : Scenario
        From :func:`sim.load_scenario`.
    grid : mapping
        Change path (as in :meth:`Scenario.with_changes`) to the list of values it takes,
        e.g. ``{"deployment/myapp.spec.replicas": [4, 6, 8], "simulation.spec.clients[laptop].rate":
        range(1000, 4001, 500)}``; a single value is held at every point. Or a
        :class:`SweepGrid` built for ``scenario`` (its checks already done).
    replications : int
        Runs per point (at least 1; intervals need 2). Replication ``k`` of every point runs
        with the same seed, ``replication_seed(seed, k)`` (module docstring).
    seed : int, optional
        The root seed; defaults to the scenario's ``spec.seed``, else a fresh one (in ``Sweep.seed``).
    confidence : float
        Level of the Student-t intervals, in (0, 1).
    executor, client
        Where the runs go, as for :func:`sim.replicate` (serial by default; ``client=`` a Dask
        cluster). The results do not depend on it, bit for bit.
    on_done : callable, optional
        ``on_done(point, replication, seed, metrics)`` as each run finishes (progress).
    keep_tables : bool
        Also keep every run's folder, written by :meth:`Sweep.save` under
        ``runs/point-P-replication-K/`` (as :func:`sim.replicate`'s ``keep_tables``).

    Raises
    ------
    ScenarioError
        A path that names nothing, a value the loader refuses at any point, or a path whose
        values change nothing (misspelt), before any run (:meth:`SweepGrid.build`).

    Examples
    --------
    >>> import sim
    >>> s = sim.sweep(sim.load_scenario("scenarios/nodeport-basic.yaml"),
    ...               {"deployment/myapp.spec.replicas": [2, 4]}, replications=2, seed=1)
    >>> s.points
       point  deployment/myapp.spec.replicas
    0      0                               2
    1      1                               4
    """
    if isinstance(replications, bool) or not isinstance(replications, int | np.integer) or replications < 1:
        raise ValueError(f"replications must be an integer >= 1, got {replications!r}")
    level = check_confidence(confidence)
    prepared = grid if isinstance(grid, SweepGrid) else SweepGrid.build(scenario, grid)
    if prepared.scenario is not scenario:
        raise ValueError("grid was built for another scenario: SweepGrid.build(scenario, ...) with this one")
    tidy, points, changed = prepared.grid, prepared.points, prepared.scenarios
    executor, root = executor_and_root(scenario, seed, executor, client)
    seeds = [replication_seed(int(root), k) for k in range(int(replications))]
    tasks = [(changed[p], s) for p in range(len(points)) for s in seeds]
    done: dict[int, dict[str, float]] = {}
    kept_runs: dict[int, dict[str, bytes]] = {}
    for index, result in executor(run_keeping if keep_tables else run_one, tasks):
        metrics, files = kept(result)
        done[index] = metrics
        if files is not None:
            kept_runs[index] = files
        if on_done is not None:
            p, k = divmod(index, len(seeds))
            on_done(p, k, seeds[k], metrics)
    assert sorted(done) == list(range(len(tasks))), "the executor must return every task once"
    table = sweep_table(points, seeds, [done[i] for i in range(len(tasks))])
    summary = point_summary(table, list(tidy), level)
    runs = {f"point-{i // len(seeds)}-replication-{i % len(seeds)}": kept_runs[i] for i in sorted(kept_runs)}
    return Sweep(scenario, tidy, int(root), int(replications), level, table, summary, runs)


@dataclass(frozen=True, eq=False)
class SweepGrid:
    """A grid checked against a scenario, its points' scenarios loaded: what :func:`sweep`
    runs. Build it first (``SweepGrid.build``) to have every input problem before any run
    starts (the CLI does, before it starts a Dask cluster)."""

    scenario: Scenario
    grid: dict[str, list[Any]]  # path -> its values, plain Python values, in order
    points: list[dict[str, Any]]  # every combination, the first path slowest
    scenarios: list[Scenario]  # each point's scenario, checked

    @classmethod
    def build(cls, scenario: Scenario, grid: Mapping[str, Any]) -> SweepGrid:
        """Check ``grid`` and load every point's scenario.

        Raises
        ------
        ValueError
            ``grid`` not a non-empty mapping, a path with no values or with a value twice.
        ScenarioError
            Every point's problems (each once), as the loader words them with the ``--set`` path;
            and a swept path whose values all leave the scenario as it was (a misspelt field the
            loader ignores).
        """
        if not isinstance(grid, Mapping) or not grid:
            raise ValueError("grid must be a non-empty mapping of change paths to values")
        tidy: dict[str, list[Any]] = {}
        for path, given in grid.items():
            values = [_plain(v) for v in (given if isinstance(given, list | tuple | range | np.ndarray) else [given])]
            if not values:
                raise ValueError(f"grid[{path!r}] has no values")
            again = repeated(values)
            if again is not None:
                raise ValueError(f"{path}: {again[0]!r} {REPEATED}")
            tidy[str(path)] = values
        points = sweep_points(tidy)
        changed: list[Scenario] = []
        problems: list[Problem] = []
        for point in points:
            try:
                changed.append(scenario.with_changes(point))
            except ScenarioError as err:
                problems.extend(p for p in err.problems if p not in problems)
        if problems:
            raise ScenarioError(problems)
        problems = [
            Problem(scenario.source, "", f"--set {one_line(path)}", _NO_CHANGE) for path in _no_op_paths(tidy, changed)
        ]
        if problems:
            raise ScenarioError(problems)
        return cls(scenario, tidy, points, changed)


_NO_CHANGE = "every value leaves the scenario as it was: is the path right?"


def _no_op_paths(grid: Mapping[str, list[Any]], scenarios: Sequence[Scenario]) -> list[str]:
    """Paths with several values whose first two points differing only there load the same scenario."""
    paths = list(grid)
    sizes = [len(grid[p]) for p in paths]
    found = []
    for i, path in enumerate(paths):
        if sizes[i] < 2:
            continue
        stride = int(np.prod(sizes[i + 1 :], dtype=np.int64)) if i + 1 < len(sizes) else 1
        if scenarios[0] == scenarios[stride]:  # point 0 and the one with this path's second value
            found.append(path)
    return found


REPEATED = "given twice: each point would run twice"


def repeated(values: Sequence[Any]) -> tuple[Any] | None:
    """The first value given again (as a 1-tuple: the value may be None), or None. Equal values
    of the same kind only: 1, 1.0 and True are different values to a loader."""
    for i, value in enumerate(values):
        if any(type(value) is type(earlier) and value == earlier for earlier in values[:i]):
            return (value,)
    return None


def sweep_table(
    points: Sequence[Mapping[str, Any]], seeds: Sequence[int], runs: Sequence[dict[str, float]]
) -> pd.DataFrame:
    """One row per point x replication (runs in that order): ``point``, the swept values,
    then :func:`~sim.experiments.replications.replication_table`'s columns."""
    per_point = [replication_table(seeds, runs[p * len(seeds) : (p + 1) * len(seeds)]) for p in range(len(points))]
    metrics = [m for m in dict.fromkeys(c for t in per_point for c in t.columns) if m not in ("replication", "seed")]
    pieces = []
    for p, (point, part) in enumerate(zip(points, per_point, strict=True)):
        head = pd.DataFrame({"point": np.full(len(part), p, dtype="int64")})
        for path, value in point.items():
            head[path] = [value] * len(part)
        pieces.append(pd.concat([head, part.reindex(columns=["replication", "seed", *metrics])], axis=1))
    table = pd.concat(pieces, ignore_index=True)
    for path in points[0]:
        table[path] = _column_of(table[path])
    for name in metrics:  # a metric missing at some point (NaN there) keeps a float column
        if table[name].dtype == object:
            table[name] = table[name].astype(float)
    return table


def point_summary(table: pd.DataFrame, paths: Sequence[str], confidence: float) -> pd.DataFrame:
    """One row per point x metric: ``point``, the swept values, ``metric, mean, sd, ci_low, ci_high, n``."""
    metrics = [c for c in table.columns if c not in (*_KEYS, *paths)]
    parts = []
    for p, rows in table.groupby("point", sort=True):
        summary = summarize_metrics(rows, metrics, confidence)
        head = pd.DataFrame({"point": np.full(len(summary), p, dtype="int64")})
        for path in paths:
            head[path] = [rows[path].iloc[0]] * len(summary)
        parts.append(pd.concat([head, summary], axis=1))
    summary = pd.concat(parts, ignore_index=True)
    for path in paths:
        summary[path] = summary[path].astype(table[path].dtype)
    return summary


def _column_of(values: pd.Series) -> pd.Series:
    """Integers as int64, numbers as float64, anything else (text, durations, mappings) as text."""
    items = list(values)
    if all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in items):
        return pd.Series(items, dtype="int64", index=values.index)
    if all(isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool) for v in items):
        return pd.Series(items, dtype="float64", index=values.index)
    return pd.Series([v if isinstance(v, str) else json.dumps(v, sort_keys=True) for v in items], index=values.index)


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers (for with_changes, JSON and pickling the same everywhere)."""
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _column(i: int) -> str:
    """The attribute itertuples(index=False) gives the i-th swept column (paths are not identifiers)."""
    return f"_{i + 1}"


def load_sweep(directory: str | os.PathLike[str]) -> Sweep:
    """Read back a folder :meth:`Sweep.save` wrote (its summary recomputed from the table at
    the saved confidence level)."""
    folder = Path(directory)
    missing = [name for name in SWEEP_FILES if not (folder / name).is_file()]
    if missing:
        raise ScenarioError([Problem(str(folder), "", "", f"not a sweep folder: no {', '.join(missing)}")])
    try:
        saved = json.loads((folder / "sweep.json").read_text(encoding="utf-8"))
        confidence, root = check_confidence(saved["confidence"]), int(saved["seed"])
        grid = {str(path): list(values) for path, values in saved["grid"].items()}
        replications = int(saved["replications"])
        table = pd.read_parquet(folder / "sweep.parquet")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        detail = " ".join(str(err).split()) or type(err).__name__
        raise ScenarioError([Problem(str(folder), "", "", f"cannot read the sweep: {detail}")]) from None
    scenario = load_scenario(folder / "scenario.yaml")
    return Sweep(scenario, grid, root, replications, confidence, table, point_summary(table, list(grid), confidence))
