"""Connections, not requests: keep-alive pools, conntrack, and the counts IPVS schedulers see.

kube-proxy picks an endpoint when a connection opens and conntrack keeps it there for the
connection's life (docs/semantics.md#connections-and-conntrack). A keep-alive client spreads
its requests over ``count`` connections in turn; a connection is replaced when it has carried
``requestsPerConnection`` requests, when it reaches ``maxAge``, when its pod starts
terminating (the server closes idle keep-alive connections on SIGTERM), or when its pod's
container was killed since it opened (a crash resets its connections). svcsim does not
charge a handshake for opening one. A per-request connection closes with its answer.

The state lives in numpy columns (:class:`SlotColumns`, one row per pool slot; two columns
by request id), so the event engine's compiled kernel (:mod:`~sim.runtime.requests.event_kernel`)
applies the same rules to the same state as the methods here.
"""

from __future__ import annotations

import math

import numpy as np

from sim.runtime.dataplane import Dataplane
from sim.runtime.pods import Pod
from sim.runtime.requests.clients import ClientFlow
from sim.runtime.requests.request_log import RequestLog
from sim.scenario.simulation import Connections

__all__ = ["NO_SLOT", "ConnectionTable", "SlotColumns"]

NO_SLOT = -1


class SlotColumns:
    """One row per keep-alive slot of every pool: the connection it holds (conntrack's entry),
    and its pool's limits. ``has[s]`` is False until the slot's first connection opens."""

    def __init__(self, pools: dict[int, Connections]) -> None:
        limits = [(p.requests_per_connection, p.max_age_s) for _, p in sorted(pools.items()) for _ in range(p.count)]
        n = len(limits)
        self.has = np.zeros(n, dtype=np.bool_)
        self.id = np.full(n, -1, dtype=np.int64)  # the request id that opened it
        self.source_ip = np.full(n, -1, dtype=np.int64)
        self.node = np.full(n, -1, dtype=np.int64)  # where its packets enter (-1 until chosen)
        self.opened_at = np.zeros(n)
        self.pod = np.full(n, -1, dtype=np.int64)  # set when kube-proxy (or the balancer) chooses
        self.requests = np.zeros(n, dtype=np.int64)
        self.counted = np.zeros(n, dtype=np.bool_)  # whether the node's scheduler counts it as open
        self.last_entry = np.zeros(n)  # when its latest request reached the first hop
        self.max_requests = np.array([-1 if r is None else r for r, _ in limits], dtype=np.int64)  # -1: no limit
        self.max_age_s = np.array([math.inf if a is None else a for _, a in limits])


class ConnectionTable:
    """Every client's keep-alive pool, the connections in flight, and which of them a
    node's scheduler counts as open.

    Slots are numbered pool after pool (clients in index order); ``riding`` and ``opening``
    below are slot numbers, or :data:`NO_SLOT`."""

    def __init__(
        self, log: RequestLog, pools: dict[int, Connections], pods: list[Pod], dataplanes: list[Dataplane]
    ) -> None:
        self.log = log
        self.pods = pods
        self.dataplanes = dataplanes
        self._pools = pools  # client index -> keep-alive settings
        self.slots = SlotColumns(pools)
        self._first: dict[int, int] = {}  # client -> its pool's first slot
        first = 0
        for client, pool in sorted(pools.items()):
            self._first[client] = first
            first += pool.count
        self._sent = dict.fromkeys(pools, 0)
        #: By request id: the slot it rides, until it reaches its first hop (NO_SLOT: none).
        self.slot_of = np.empty(0, dtype=np.int32)
        #: By request id: the node counting its one-request connection as open (-1: none).
        self.counted_at = np.empty(0, dtype=np.int32)
        self._handed: dict[int, tuple[int, int]] = {}  # balancer -> node

    def _fit(self, column: np.ndarray, rid: int) -> np.ndarray:
        """``column`` long enough for request ``rid`` (it grows as the log does)."""
        if rid < len(column):
            return column
        grown = np.full(max(rid + 1, 2 * len(column), 1024), -1, dtype=column.dtype)
        grown[: len(column)] = column
        return grown

    def pooled(self, flow: ClientFlow, ids: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Give keep-alive requests their connection slot, in turn; a connection delivers in
        order, so a request cannot reach the first hop before the one ahead of it."""
        pool = self._pools.get(flow.index)
        if pool is None or not len(ids):
            return times
        self.slot_of = self._fit(self.slot_of, int(ids[-1]))
        count, first, sent = pool.count, self._first[flow.index], self._sent[flow.index]
        self._sent[flow.index] = sent + len(ids)
        turn = (sent + np.arange(len(ids))) % count
        self.slot_of[ids] = first + turn
        out = times.copy()
        last = self.slots.last_entry
        for k in range(min(count, len(ids))):  # per slot: each time at least the one before it
            mine = out[k::count]
            slot = first + int(turn[k])
            mine[:] = np.maximum.accumulate(np.concatenate(([last[slot]], mine)))[1:]
            last[slot] = mine[-1]
        return out

    def resolve(self, rid: int, now: float) -> tuple[int, int]:
        """At the request's first hop: ``(riding, opening)``, the open connection it rides or
        the new one it opens (its node and pod are set when they are chosen); both NO_SLOT
        for a one-request connection. A balancer resolves first and :meth:`hand_over`\\ s."""
        handed = self._handed.pop(rid, None)
        if handed is not None:
            return handed
        if rid >= len(self.slot_of) or self.slot_of[rid] == NO_SLOT:
            return NO_SLOT, NO_SLOT
        s = int(self.slot_of[rid])
        self.slot_of[rid] = NO_SLOT
        slots = self.slots
        pod_index = int(slots.pod[s])
        if slots.has[s] and pod_index >= 0:
            pod = self.pods[pod_index]
            opened = float(slots.opened_at[s])
            limit = int(slots.max_requests[s])
            fresh = (limit < 0 or slots.requests[s] < limit) and now - opened < slots.max_age_s[s]
            alive = pod.terminating_at > now and pod.gone_at > now and pod.first_kill_after(opened) > now
            if fresh and alive:  # a kill (crash, restart) reset it
                slots.requests[s] += 1
                self.log.connection[rid] = slots.id[s]
                self.log.client_ip[rid] = slots.source_ip[s]
                return s, NO_SLOT
            if slots.counted[s]:
                self.dataplanes[int(slots.node[s])].closes_at(pod_index, now)
        slots.has[s] = True
        slots.id[s] = rid
        slots.source_ip[s] = self.log.client_ip[rid]
        slots.node[s] = -1
        slots.opened_at[s] = now
        slots.pod[s] = -1
        slots.requests[s] = 1
        slots.counted[s] = False
        return NO_SLOT, s

    def route(self, slot: int) -> tuple[int, int]:
        """The ``(node, pod)`` of the connection in ``slot``."""
        return int(self.slots.node[slot]), int(self.slots.pod[slot])

    def set_route(self, slot: int, node: int, pod: int = -1) -> None:
        """The balancer chose the node (and, sending to pods directly, the pod) of a new connection."""
        self.slots.node[slot] = node
        self.slots.pod[slot] = pod

    def hand_over(self, rid: int, riding: int, opening: int) -> None:
        """The balancer resolved the request's connection; its node will use that."""
        if riding != NO_SLOT or opening != NO_SLOT:
            self._handed[rid] = (riding, opening)

    def forget(self, rid: int) -> None:
        """The request never reached a hop that resolves connections."""
        if rid < len(self.slot_of):
            self.slot_of[rid] = NO_SLOT

    def chosen(self, rid: int, opening: int, node: int, pod: int) -> None:
        """kube-proxy on ``node`` chose ``pod`` for a new connection; count it if the node's
        scheduler counts connections."""
        counted = self.dataplanes[node].opened(pod)
        if opening != NO_SLOT:
            slots = self.slots
            slots.node[opening], slots.pod[opening], slots.counted[opening] = node, pod, counted
        elif counted:
            self.counted_at = self._fit(self.counted_at, rid)
            self.counted_at[rid] = node

    def close(self, rid: int, when: float) -> None:
        """The client closed the keep-alive connection ``rid`` rode (it timed out, or was reset):
        the pool opens a new one for its next request."""
        client = int(self.log.client[rid])
        pool = self._pools.get(client)
        if pool is None:
            return
        conn_id = int(self.log.connection[rid])
        slots = self.slots
        for s in range(self._first[client], self._first[client] + pool.count):
            if slots.has[s] and slots.id[s] == conn_id:
                if slots.counted[s]:
                    self.dataplanes[int(slots.node[s])].closes_at(int(slots.pod[s]), when)
                slots.has[s] = False
                return

    def answered(self, rid: int, pod: int, when: float) -> None:
        """The request's answer left ``pod`` at ``when``: a one-request connection closes."""
        if rid < len(self.counted_at) and self.counted_at[rid] >= 0:
            self.dataplanes[int(self.counted_at[rid])].closes_at(pod, when)
            self.counted_at[rid] = -1
