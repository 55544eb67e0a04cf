"""The public entry points: load a scenario, simulate it, load a saved result.

They join the layers: :mod:`sim.scenario` reads the input, :mod:`sim.runtime` runs it and
:mod:`sim.results` turns the record into tables.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sim.results.comparison import Comparison, compare
from sim.results.result import Result, build_result, load_result
from sim.runtime.run import run
from sim.scenario.load import load_scenario
from sim.scenario.resolved import Scenario

__all__ = ["Comparison", "compare", "load_result", "load_scenario", "simulate"]


def simulate(
    scenario: Scenario,
    seed: int | None = None,
    *,
    progress: Callable[[float], None] | None = None,
    batch_s: float | None = None,
    engine: str | None = None,
    sample: int = 1,
) -> Result:
    """Run ``scenario`` and return its :class:`~sim.results.result.Result`.

    Parameters
    ----------
    scenario : Scenario
        From :func:`sim.load_scenario`.
    seed : int, optional
        Overrides the scenario's ``spec.seed``. With neither, a fresh seed is drawn and
        recorded in the summary, so the run can be repeated.
    progress : callable, optional
        Called with the simulated time as the run advances (for progress bars).
    batch_s : float, optional
        How far the request batches advance per tick. It changes speed, never results.
    engine : {"batch", "events"}, optional
        Force the request engine. By default the vectorised batch engine runs whenever
        nothing stateful is in play, else the event engine; on a scenario both can run
        they give identical results, which the tests check. ``summary["engine"]`` says
        which one ran.
    sample : int, optional
        Keep 1 in ``sample`` requests' rows in the requests table (chosen by a hash of their
        ``request_id``: :func:`sim.results.result.sampled_ids`); the summary, SLO checks,
        warnings and the pods table are still computed from every request, exactly. For runs
        whose tables and plots would be too large; ``summary["sample"]`` records it.

    Examples
    --------
    >>> import sim
    >>> result = sim.simulate(sim.load_scenario("scenarios/nodeport-basic.yaml"), seed=1)
    >>> result.summary["outcomes"]["ok"] > 0, result.summary["engine"]
    (True, 'batch')
    """
    if isinstance(sample, bool) or not isinstance(sample, int) or sample < 1:
        raise ValueError(f"sample must be a whole number >= 1, got {sample!r}")
    with fewer_collections():
        record = run(scenario, seed, progress=progress, batch_s=batch_s, engine=engine)
        return build_result(record, release_log=True, sample=sample)  # no one else sees the record


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Python's cyclic garbage collector run less often while a run builds its objects: with
    the default thresholds (700, 10, 10) creating 10 000 pods triggered full collections
    that took 0.6 of the 2.2 s a 100 -> 10 000 scale-up cost (``svcsim bench --suite``,
    case ``scale-up``). Collections free memory, never change results; the thresholds are
    restored afterwards. ``svcsim`` keeps them for a whole command (saving the tables and
    drawing the plots too), so the collection that follows a run falls after the command."""
    global _collecting_less, _thresholds  # noqa: PLW0603 (the process's collector is one)
    with (
        _collector_lock
    ):  # threads (Dask workers) share the thresholds: the first in raises them, the last out restores
        if _collecting_less == 0:
            _thresholds = gc.get_threshold()
            gc.set_threshold(max(_thresholds[0], 50_000), max(_thresholds[1], 50), max(_thresholds[2], 50))
        _collecting_less += 1
    try:
        yield
    finally:
        with _collector_lock:
            _collecting_less -= 1
            if _collecting_less == 0:
                gc.set_threshold(*_thresholds)


_collector_lock = threading.Lock()
_collecting_less = 0  # runs inside fewer_collections now, in every thread
_thresholds: tuple[int, ...] = gc.get_threshold()
