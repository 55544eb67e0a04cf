"""One run reduced to its metrics (:mod:`sim.results.run_metrics`): ``run_one(scenario, seed)``
is the unit of work of every experiment (a replication, later a sweep point): it simulates,
keeps the run's metrics and drops the tables, so what comes back from a worker is small.
"""

from __future__ import annotations

from sim.results.result import build_result
from sim.results.run_metrics import LATENCY_STATS, METRICS, metrics_of
from sim.runtime.run import run
from sim.scenario.resolved import Scenario

__all__ = ["LATENCY_STATS", "METRICS", "metrics_of", "run_one"]


def run_one(scenario: Scenario, seed: int) -> dict[str, float]:
    """Simulate ``scenario`` with ``seed`` and return its :func:`metrics_of`.

    A plain module-level function of picklable arguments, so an executor can ship it to
    another process. It is ``sim.simulate(scenario, seed=seed)`` (the same two calls) without
    the tables kept.
    """
    return metrics_of(build_result(run(scenario, seed)))
