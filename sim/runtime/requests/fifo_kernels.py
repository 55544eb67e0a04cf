"""Compiled FIFO recursions (numba) for the batch engine's hot loop.

:func:`~sim.runtime.requests.rules.fifo_starts` is the rule, written plainly in Python; the
kernels here compute the same start times with the same float operations in the same order
(``max`` then ``+``, no fast-math), so the results are equal bit for bit
(``tests/test_fifo_kernels.py`` checks them against the rule). Several workers keep their
free times in a min-heap updated exactly as CPython's ``heapq.heapreplace`` does, so the
heap's layout is the same as the Python rule leaves it.

A call costs about a microsecond to enter, so short runs stay in Python
(:data:`KERNEL_MIN`); :func:`sim.compiled.compiled` compiles them at the first call.
"""

from __future__ import annotations

import numpy as np

from sim.compiled import compiled

__all__ = ["KERNEL_MIN", "fifo_starts_array"]

#: Fewer arrivals than this are cheaper through the Python rule than through a kernel call.
KERNEL_MIN = 8


def _one_worker(at: float, arrivals: np.ndarray, service: np.ndarray, starts: np.ndarray) -> float:
    for i in range(arrivals.shape[0]):
        arrive = arrivals[i]
        at = arrive if arrive > at else at  # as the rule writes it (not max: the same float either way)
        starts[i] = at
        at += service[i]
    return at


def _workers(free: np.ndarray, arrivals: np.ndarray, service: np.ndarray, starts: np.ndarray) -> None:
    end = free.shape[0]
    for i in range(arrivals.shape[0]):
        arrive = arrivals[i]
        earliest = free[0]
        begin = arrive if arrive > earliest else earliest
        starts[i] = begin
        # heapq.heapreplace(free, begin + service[i]): CPython's _siftup then _siftdown.
        item = begin + service[i]
        pos = 0
        child = 1
        while child < end:
            right = child + 1
            if right < end and not free[child] < free[right]:
                child = right
            free[pos] = free[child]
            pos = child
            child = 2 * pos + 1
        while pos > 0:
            parent = (pos - 1) >> 1
            if item < free[parent]:
                free[pos] = free[parent]
                pos = parent
                continue
            break
        free[pos] = item


def fifo_starts_array(free: list[float], arrivals: np.ndarray, service: np.ndarray) -> np.ndarray:
    """:func:`~sim.runtime.requests.rules.fifo_starts` on float64 arrays: the start times,
    ``free`` (the workers' min-heap) updated in place."""
    arrivals = np.ascontiguousarray(arrivals, dtype=np.float64)
    service = np.ascontiguousarray(service, dtype=np.float64)
    starts = np.empty(arrivals.shape[0])
    if len(free) == 1:
        free[0] = compiled(_one_worker)(free[0], arrivals, service, starts)
        return starts
    heap = np.array(free, dtype=np.float64)
    compiled(_workers)(heap, arrivals, service, starts)
    free[:] = heap.tolist()
    return starts
