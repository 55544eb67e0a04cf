"""Per-request records in preallocated numpy columns.

The engine writes each request's facts into these columns by request id as the request
moves (sent, routed, served); nothing per request lives in Python objects. The table
grows by a quarter when full, so the cost per request is a few array stores and at most a
quarter of the columns stands empty.

Memory: the columns take 95 bytes per request. Once outcomes are settled the columns only
the engine needs (``_WORKING_COLUMNS``) are released, before the result tables are built
from the rest, and :func:`sim.api.simulate` frees the others as the tables take them
(:meth:`RequestLog.release`); a whole run peaks at about 145 bytes per request (10^7
requests over 10 000 pods: 1.34 GiB), 260-280 with calls between Services, whose
bookkeeping the event engine keeps per call (the figure
:data:`sim.scenario.run_limits.BYTES_PER_REQUEST` states).
"""

from __future__ import annotations

import math

import numpy as np

from sim.scenario.run_limits import MAX_REQUESTS, REQUEST_ID_LIMIT

__all__ = ["RequestLog"]


_FLOAT_COLUMNS = ("t_sent", "t_done", "back_s", "t_arrive", "t_start", "service_s")
# int32: indexes, and the ids of other requests (a run holds at most MAX_REQUESTS < 2^31)
_INT_COLUMNS = ("client", "service", "entry_node", "pod", "pod_node", "parent", "origin")
# int64: addresses, and the connection id, which the requests table keeps as an int64 view
_WIDE_COLUMNS = ("client_ip", "connection")
_ALL_COLUMNS = (*_FLOAT_COLUMNS, *_INT_COLUMNS, *_WIDE_COLUMNS, "verdict", "outcome", "attempt")
#: Needed while requests move and outcomes are settled, not by the result tables.
_WORKING_COLUMNS = ("back_s", "t_arrive", "service", "verdict")
_GROWTH = 1.25
assert MAX_REQUESTS <= REQUEST_ID_LIMIT < 2**31, "request ids fit the int32 columns"


class RequestLog:
    """Columns of every request, indexed by request id (ids are given in send order)."""

    t_sent: np.ndarray
    t_done: np.ndarray
    back_s: np.ndarray  # latency of the way back from the pod (or entry node) to the client
    t_arrive: np.ndarray  # arrival at the pod
    t_start: np.ndarray  # a worker starts on it
    service_s: np.ndarray
    client: np.ndarray  # client index (calls: one past the clients, per calling Deployment)
    service: np.ndarray  # Service port index
    client_ip: np.ndarray  # source address as an integer
    connection: np.ndarray  # connection id
    parent: np.ndarray  # for a call: the request it serves; else -1
    origin: np.ndarray  # for a retry: the request's first try; else -1
    attempt: np.ndarray  # 1 for a first try, 2 for the first retry, ...
    entry_node: np.ndarray
    pod: np.ndarray
    pod_node: np.ndarray
    verdict: np.ndarray  # what the engine decided (sim.runtime.requests.outcomes), -1 until then
    outcome: np.ndarray  # written once, after the run, by outcomes.settle

    def __init__(self, capacity: int = 1024) -> None:
        self.size = 0
        self._capacity = max(int(capacity), 16)
        for name in _FLOAT_COLUMNS:
            setattr(self, name, np.full(self._capacity, math.nan))
        for name in _INT_COLUMNS:
            setattr(self, name, np.full(self._capacity, -1, dtype=np.int32))
        for name in _WIDE_COLUMNS:
            setattr(self, name, np.full(self._capacity, -1, dtype=np.int64))
        self.verdict = np.full(self._capacity, -1, dtype=np.int8)
        self.outcome = np.full(self._capacity, -1, dtype=np.int8)
        self.attempt = np.full(self._capacity, 1, dtype=np.int8)

    def new(self, count: int) -> np.ndarray:
        """Ids for ``count`` new requests, in the order they were sent."""
        if self.size + count > self._capacity:
            self._grow(self.size + count)
        ids = np.arange(self.size, self.size + count, dtype=np.int64)
        self.size += count
        return ids

    def _grow(self, needed: int) -> None:
        capacity = self._capacity
        while capacity < needed:
            capacity = int(capacity * _GROWTH) + 1
        for name in _ALL_COLUMNS:
            old = getattr(self, name)
            fill = math.nan if old.dtype.kind == "f" else 1 if name == "attempt" else -1
            new = np.full(capacity, fill, dtype=old.dtype)
            new[: self._capacity] = old
            setattr(self, name, new)
        self._capacity = capacity

    def release_working_columns(self) -> None:
        """Free the columns only the engine needs, once every outcome is settled; reading
        them afterwards is a bug, so they become empty."""
        self.release(_WORKING_COLUMNS)

    def release(self, names: tuple[str, ...]) -> None:
        """Free the columns ``names`` (a table built from them holds what it needs); reading
        them afterwards is a bug, so they become empty."""
        for name in names:
            old = getattr(self, name)
            setattr(self, name, np.empty(0, dtype=old.dtype))

    def column(self, name: str) -> np.ndarray:
        """The filled part of a column."""
        return getattr(self, name)[: self.size]

    def reorder(self, order: np.ndarray) -> None:
        """Renumber requests so that new id k is old id ``order[k]``; id-valued columns follow."""
        n = self.size
        assert len(order) == n
        position = np.empty(n, dtype=np.int64)
        position[order] = np.arange(n)
        for name in _ALL_COLUMNS:
            column = getattr(self, name)
            column[:n] = column[:n][order]
        for name in ("connection", "parent", "origin"):
            column = self.column(name)
            valid = column >= 0
            column[valid] = position[column[valid]]
