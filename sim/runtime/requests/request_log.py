"""Per-request records in preallocated numpy columns.

The engine writes each request's facts into these columns by request id as the request
moves (sent, routed, served); nothing per request lives in Python objects. The table
grows by doubling, so the cost per request is a few array stores.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["OUTCOMES", "RequestLog"]

OUTCOMES = ("ok", "refused", "unreachable", "rejected", "reset", "timeout")
OK, REFUSED, UNREACHABLE, REJECTED, RESET, TIMEOUT = range(len(OUTCOMES))

_FLOAT_COLUMNS = ("t_sent", "t_done", "back_s", "t_arrive", "t_start", "service_s")
_INT_COLUMNS = ("client", "service", "entry_node", "pod", "pod_node")
_WIDE_COLUMNS = ("client_ip", "connection", "parent")  # int64: addresses and ids


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
    entry_node: np.ndarray
    pod: np.ndarray
    pod_node: np.ndarray
    outcome: np.ndarray

    def __init__(self, capacity: int = 1024) -> None:
        self.size = 0
        self._capacity = max(int(capacity), 16)
        for name in _FLOAT_COLUMNS:
            setattr(self, name, np.full(self._capacity, math.nan))
        for name in _INT_COLUMNS:
            setattr(self, name, np.full(self._capacity, -1, dtype=np.int32))
        for name in _WIDE_COLUMNS:
            setattr(self, name, np.full(self._capacity, -1, dtype=np.int64))
        self.outcome = np.zeros(self._capacity, dtype=np.int8)

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
            capacity *= 2
        for name in (*_FLOAT_COLUMNS, *_INT_COLUMNS, *_WIDE_COLUMNS, "outcome"):
            old = getattr(self, name)
            fill = math.nan if old.dtype.kind == "f" else (0 if name == "outcome" else -1)
            new = np.full(capacity, fill, dtype=old.dtype)
            new[: self._capacity] = old
            setattr(self, name, new)
        self._capacity = capacity

    def column(self, name: str) -> np.ndarray:
        """The filled part of a column."""
        return getattr(self, name)[: self.size]

    def reorder(self, order: np.ndarray) -> None:
        """Renumber requests so that new id k is old id ``order[k]``; id-valued columns follow."""
        n = self.size
        assert len(order) == n
        position = np.empty(n, dtype=np.int64)
        position[order] = np.arange(n)
        for name in (*_FLOAT_COLUMNS, *_INT_COLUMNS, *_WIDE_COLUMNS, "outcome"):
            column = getattr(self, name)
            column[:n] = column[:n][order]
        for name in ("connection", "parent"):
            column = self.column(name)
            valid = column >= 0
            column[valid] = position[column[valid]]

    def finalize(
        self,
        deadline_by_pod: np.ndarray,
        gone_by_pod: np.ndarray,
        connect_timeout_by_client: np.ndarray,
        timeout_by_client: np.ndarray,
    ) -> None:
        """Apply what only the whole run knows: pods killed with work in hand, client timeouts.

        - a request still in a pod when its grace period ends is ``reset`` (the RST
          travels back to the client);
        - a request arriving at a pod that has gone gets no answer: ``unreachable``
          after the client's connect timeout;
        - a request slower than its client's timeout ends as ``timeout`` at that moment.
        """
        n = self.size
        pod = self.pod[:n]
        outcome = self.outcome[:n]
        t_done = self.t_done[:n]
        t_sent = self.t_sent[:n]
        served = (pod >= 0) & (outcome == OK)
        if served.any():
            pods = pod[served]
            finish = self.t_start[:n][served] + self.service_s[:n][served]
            gone = self.t_arrive[:n][served] >= gone_by_pod[pods]
            killed = ~gone & (finish > deadline_by_pod[pods])
            idx = np.flatnonzero(served)
            lost = idx[gone]
            outcome[lost] = UNREACHABLE
            t_done[lost] = t_sent[lost] + connect_timeout_by_client[self.client[lost]]
            cut = idx[killed]
            outcome[cut] = RESET
            t_done[cut] = deadline_by_pod[pods[killed]] + self.back_s[cut]
        limit = timeout_by_client[self.client[:n]]
        late = (t_done - t_sent) > limit
        outcome[late] = TIMEOUT
        t_done[late] = t_sent[late] + limit[late]
        self._fail_parents()

    def _fail_parents(self) -> None:
        """A request whose call failed did not succeed either: the pod answered with an error."""
        n = self.size
        outcome, parent = self.outcome[:n], self.parent[:n]
        while True:
            failed = (parent >= 0) & (outcome != OK)
            parents = parent[failed]
            flip = parents[outcome[parents] == OK]
            if not len(flip):
                return
            outcome[flip] = REJECTED
