"""Replications: the same scenario run ``n`` times with independent seeds, and the mean of
every metric with its confidence interval (``sim.replicate``, ``svcsim run --replications``).

The work is a list of ``(scenario, seed)`` tasks handed to an *executor*, a function that
applies :func:`~sim.experiments.metrics.run_one` to each and yields ``(index, metrics)`` as
the runs finish, in any order. :func:`serial` is the loop in this process; a distributed
executor (Dask) only has to honour the same signature, and since every seed comes from
``(root seed, index)`` alone (:mod:`sim.experiments.seeds`), the results do not depend on it.

On disk (:meth:`Replications.save`): ``replications.parquet`` (one row per replication:
``replication, seed`` and the metrics of :mod:`sim.experiments.metrics`),
``replications.json`` (the root seed, the count, the confidence level and per metric
``mean, sd, ci_low, ci_high, n``) and ``scenario.yaml`` (the scenario, its ``spec.seed``
the root seed). The replications' own tables are not kept.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import Problem, ScenarioError
from sim.experiments.confidence import check_confidence, summarize_metrics
from sim.experiments.metrics import FILES, METRICS, run_keeping, run_one
from sim.experiments.seeds import fresh_root_seed, replication_seed
from sim.results.result import summary_json
from sim.results.run_folder import replacing, write_files
from sim.scenario.load import load_scenario
from sim.scenario.resolved import Scenario
from sim.version import VERSION

__all__ = [
    "REPLICATION_FILES",
    "Executor",
    "Replications",
    "RunTask",
    "executor_and_root",
    "load_replications",
    "replicate",
    "serial",
]

RunTask = tuple[Scenario, int]
RunFunction = Callable[[Scenario, int], dict[str, Any]]  # run_one's metrics (run_keeping: and its files)
#: Applies the function to every task and yields ``(task index, its metrics)`` as each finishes.
Executor = Callable[[RunFunction, Sequence[RunTask]], Iterable[tuple[int, dict[str, Any]]]]
REPLICATION_FILES = ("replications.parquet", "replications.json", "scenario.yaml")
_COUNTS = ("requests", *(m for m in METRICS if m.startswith("outcome_")))


def serial(function: RunFunction, tasks: Sequence[RunTask]) -> Iterator[tuple[int, dict[str, Any]]]:
    """The tasks one after the other in this process, in order."""
    for index, (scenario, seed) in enumerate(tasks):
        yield index, function(scenario, seed)


@dataclass(frozen=True, eq=False)  # tables do not compare with ==
class Replications:
    """``n`` runs of one scenario: ``table`` (one row per replication) and ``summary`` (one
    row per metric: ``metric, mean, sd, ci_low, ci_high, n``, at ``confidence``)."""

    scenario: Scenario = field(repr=False)
    seed: int  # the root seed every replication's seed derives from
    confidence: float
    table: pd.DataFrame = field(repr=False)
    summary: pd.DataFrame = field(repr=False)
    #: With ``keep_tables``: each replication's run folder, ``replication-K`` -> {file: bytes}.
    runs: dict[str, dict[str, bytes]] = field(default_factory=dict, repr=False)

    @property
    def n(self) -> int:
        return len(self.table)

    @property
    def metrics(self) -> list[str]:
        """The metric columns of ``table``, in order."""
        return [c for c in self.table.columns if c not in ("replication", "seed")]

    def with_confidence(self, confidence: float) -> Replications:
        """The same runs summarised at another confidence level (nothing is run again)."""
        level = check_confidence(confidence)
        return Replications(
            self.scenario, self.seed, level, self.table, summarize_metrics(self.table, self.metrics, level), self.runs
        )

    def interval(self, metric: str) -> tuple[float, float, float]:
        """``(mean, ci_low, ci_high)`` of ``metric``."""
        row = self.summary.set_index("metric").loc[metric]
        return float(row["mean"]), float(row["ci_low"]), float(row["ci_high"])

    def __repr__(self) -> str:
        name = self.scenario.simulation.name
        lines = [f"<Replications of {name!r}: {self.n} runs, seed {self.seed}, {self.confidence:.0%} intervals>"]
        for row in self.summary.itertuples():
            if row.metric.startswith("latency_") or row.metric in ("error_rate", "throughput_rps", "slo_met"):
                lines.append(f"  {row.metric:<16} {row.mean:12.4g}  [{row.ci_low:.4g}, {row.ci_high:.4g}]")
        return "\n".join(lines)

    def summary_dict(self) -> dict[str, Any]:
        """What ``replications.json`` holds (NaN as None once written)."""
        return {
            "scenario": self.scenario.simulation.name,
            "seed": self.seed,
            "replications": self.n,
            "confidence": self.confidence,
            "metrics": {
                row.metric: {
                    "mean": float(row.mean),
                    "sd": float(row.sd),
                    "ci_low": float(row.ci_low),
                    "ci_high": float(row.ci_high),
                    "n": int(row.n),
                }
                for row in self.summary.itertuples()
            },
            "svcsim_version": VERSION,
        }

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write :data:`REPLICATION_FILES` into ``directory`` (new, empty or an earlier run's
        folder, whose other files go: :mod:`sim.results.run_folder`)."""
        with replacing(directory, whole_run=True) as staging:
            self.table.to_parquet(staging / "replications.parquet", index=False)
            (staging / "replications.json").write_text(summary_json(self.summary_dict()), encoding="utf-8")
            resolved = self.scenario.with_overrides(seed=self.seed)
            (staging / "scenario.yaml").write_text(resolved.to_yaml(), encoding="utf-8")
            write_runs(staging, self.runs)
        return Path(directory)


def replicate(
    scenario: Scenario,
    n: int,
    seed: int | None = None,
    *,
    confidence: float = 0.95,
    executor: Executor = serial,
    client: Any = None,
    on_done: Callable[[int, int, dict[str, float]], None] | None = None,
    keep_tables: bool = False,
) -> Replications:
    """Run ``scenario`` ``n`` times with independent seeds and summarise every metric.

    Parameters
    ----------
    scenario : Scenario
        From :func:`sim.load_scenario`.
    n : int
        Replications, at least 2 (an interval needs two).
    seed : int, optional
        The root seed; replication ``k`` runs with ``replication_seed(seed, k)``, the
        ``k``-th child of ``SeedSequence(seed)`` (:mod:`sim.experiments.seeds`). Defaults to
        the scenario's ``spec.seed``, else a fresh one (recorded in ``Replications.seed``).
        Replication 0 is not the single run with the same seed.
    confidence : float
        Level of the Student-t intervals, in (0, 1).
    executor : callable
        How the runs are carried out (:data:`Executor`); :func:`serial` by default.
    client : distributed.Client, optional
        Run on this Dask cluster instead (:func:`sim.experiments.dask_executor.dask_executor`;
        not with ``executor``). The results are the same as the serial run's, bit for bit.
    on_done : callable, optional
        Called as ``on_done(k, seed_k, metrics)`` as each replication finishes (progress).
    keep_tables : bool
        Also keep each replication's run folder (tables, summary, scenario), shipped back from
        the workers and written by :meth:`Replications.save` under ``runs/replication-K/``
        (readable with :func:`sim.load_result`). Every run's tables then cross the network.

    Examples
    --------
    >>> import sim
    >>> reps = sim.replicate(sim.load_scenario("scenarios/nodeport-basic.yaml"), 3, seed=1)
    >>> reps.n, list(reps.summary.columns)
    (3, ['metric', 'mean', 'sd', 'ci_low', 'ci_high', 'n'])
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 2:
        raise ValueError(f"n must be an integer >= 2 (a confidence interval needs two runs), got {n!r}")
    level = check_confidence(confidence)
    executor, root = executor_and_root(scenario, seed, executor, client)
    seeds = [replication_seed(root, k) for k in range(int(n))]
    done: dict[int, dict[str, float]] = {}
    runs: dict[int, dict[str, bytes]] = {}  # the kept runs' folders, by replication
    for k, result in executor(run_keeping if keep_tables else run_one, [(scenario, s) for s in seeds]):
        metrics, files = kept(result)
        done[k] = metrics
        if files is not None:
            runs[k] = files
        if on_done is not None:
            on_done(k, seeds[k], metrics)
    assert sorted(done) == list(range(n)), "the executor must return every task once"
    table = replication_table(seeds, [done[k] for k in range(n)])
    metrics_order = [c for c in table.columns if c not in ("replication", "seed")]
    summary = summarize_metrics(table, metrics_order, level)
    return Replications(scenario, root, level, table, summary, {f"replication-{k}": runs[k] for k in sorted(runs)})


def executor_and_root(scenario: Scenario, seed: Any, executor: Executor, client: Any) -> tuple[Executor, int]:
    """The ``executor=`` / ``client=`` and ``seed=`` arguments every experiment (``replicate``,
    ``sweep``, ``plan``) takes, resolved: the executor (a Dask one for ``client``) and the root
    seed (``seed``, else the scenario's ``spec.seed``, else a fresh one).

    Raises
    ------
    ValueError
        Both ``client`` and ``executor``, or a seed that is not an integer >= 0.
    """
    if client is not None:
        if executor is not serial:
            raise ValueError("give client= or executor=, not both")
        from sim.experiments.dask_executor import dask_executor  # noqa: PLC0415 (it imports this module)

        executor = dask_executor(client)
    root = seed if seed is not None else scenario.simulation.seed
    if root is None:
        root = fresh_root_seed()
    if isinstance(root, bool) or not isinstance(root, int | np.integer) or root < 0:
        raise ValueError(f"seed must be an integer >= 0, got {root!r}")
    return executor, int(root)


def write_runs(staging: Path, runs: dict[str, dict[str, bytes]]) -> None:
    """Each kept run's folder under ``staging/runs/NAME/`` (``--keep-tables``)."""
    for name, files in runs.items():
        write_files(staging / "runs" / name, files)


def kept(metrics: dict[str, Any]) -> tuple[dict[str, float], dict[str, bytes] | None]:
    """A run's metrics and, from :func:`~sim.experiments.metrics.run_keeping`, its files."""
    files = metrics.pop(FILES, None)
    return metrics, files


def replication_table(seeds: Sequence[int], runs: Sequence[dict[str, float]]) -> pd.DataFrame:
    """One row per replication: ``replication, seed`` and the metrics (counts as integers,
    ``slo_met`` as a bool, the rest floats with NaN for nothing measured)."""
    names = [m for m in METRICS if any(m in r for r in runs)]
    table = pd.DataFrame({"replication": np.arange(len(seeds), dtype="int64"), "seed": np.array(seeds, dtype="int64")})
    for name in names:
        column = np.array([r.get(name, np.nan) for r in runs], dtype=float)
        if name in _COUNTS:
            table[name] = column.astype("int64")
        elif name == "slo_met":
            table[name] = column == 1.0
        else:
            table[name] = column
    return table


def load_replications(directory: str | os.PathLike[str]) -> Replications:
    """Read back a folder :meth:`Replications.save` wrote (its summary recomputed from the
    table at the saved confidence level)."""
    folder = Path(directory)
    missing = [name for name in REPLICATION_FILES if not (folder / name).is_file()]
    if missing:
        raise ScenarioError([Problem(str(folder), "", "", f"not a replications folder: no {', '.join(missing)}")])
    try:
        saved = json.loads((folder / "replications.json").read_text(encoding="utf-8"))
        confidence, root = check_confidence(saved["confidence"]), int(saved["seed"])
        table = pd.read_parquet(folder / "replications.parquet")
    except (OSError, ValueError, KeyError, TypeError) as err:
        detail = " ".join(str(err).split()) or type(err).__name__
        raise ScenarioError([Problem(str(folder), "", "", f"cannot read the replications: {detail}")]) from None
    scenario = load_scenario(folder / "scenario.yaml")
    metrics_order = [c for c in table.columns if c not in ("replication", "seed")]
    return Replications(scenario, root, confidence, table, summarize_metrics(table, metrics_order, confidence))
