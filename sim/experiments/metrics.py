"""One run reduced to its metrics (:mod:`sim.results.run_metrics`): ``run_one(scenario, seed)``
is the unit of work of every experiment (a replication, later a sweep point): it simulates,
keeps the run's metrics and drops the tables, so what comes back from a worker is small.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from sim.results.result import build_result
from sim.results.run_metrics import LATENCY_STATS, METRICS, metrics_of
from sim.runtime.run import run
from sim.scenario.resolved import Scenario

__all__ = ["FILES", "LATENCY_STATS", "METRICS", "metrics_of", "run_keeping", "run_one"]

#: The key under which :func:`run_keeping` returns the run's folder, file by file.
FILES = "__files__"


def run_one(scenario: Scenario, seed: int) -> dict[str, float]:
    """Simulate ``scenario`` with ``seed`` and return its :func:`metrics_of`.

    A plain module-level function of picklable arguments, so an executor can ship it to
    another process. It is ``sim.simulate(scenario, seed=seed)`` (the same two calls) without
    the tables kept.
    """
    return metrics_of(build_result(run(scenario, seed)))


def run_keeping(scenario: Scenario, seed: int) -> dict[str, Any]:
    """:func:`run_one`, and the whole run folder as ``Result.save`` writes it (tables, summary,
    scenario, marker; no plots) under :data:`FILES`: ``{relative path: bytes}``. What
    ``--keep-tables`` ships back from a worker: the tables cross the network only when asked."""
    result = build_result(run(scenario, seed))
    with tempfile.TemporaryDirectory(prefix="svcsim-run-") as scratch:
        folder = result.save(Path(scratch) / "run")
        files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
    return {**metrics_of(result), FILES: files}
