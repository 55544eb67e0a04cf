"""Connections, not requests: keep-alive pools, conntrack, and the counts IPVS schedulers see.

kube-proxy picks an endpoint when a connection opens and conntrack keeps it there for the
connection's life (docs/semantics.md#connections-and-conntrack). A keep-alive client spreads
its requests over ``count`` connections in turn; a connection is replaced when it has carried
``requestsPerConnection`` requests, when it reaches ``maxAge``, when its pod starts
terminating (the server closes idle keep-alive connections on SIGTERM), or when its pod's
container was killed since it opened (a crash resets its connections). svcsim does not
charge a handshake for opening one. A per-request connection closes with its answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.runtime.dataplane import Dataplane
from sim.runtime.pods import Pod
from sim.runtime.requests.clients import ClientFlow
from sim.runtime.requests.request_log import RequestLog
from sim.scenario.simulation import Connections

__all__ = ["Connection", "ConnectionTable"]


@dataclass(eq=False)
class Connection:
    """One open (or opening) connection: conntrack's entry for it."""

    id: int  # the request id that opened it
    source_ip: int
    node: int  # where its packets enter (-1 until chosen)
    opened_at: float
    pod: int = -1  # set when kube-proxy (or the balancer) chooses
    requests: int = 1
    counted: bool = False  # whether the node's scheduler counts it as open


@dataclass(eq=False)
class _Slot:
    """One keep-alive connection of a client's pool, reopened as needed."""

    conn: Connection | None = None
    last_entry: float = 0.0


class ConnectionTable:
    """Every client's keep-alive pool, the connections in flight, and which of them a
    node's scheduler counts as open."""

    def __init__(
        self, log: RequestLog, pools: dict[int, Connections], pods: list[Pod], dataplanes: list[Dataplane]
    ) -> None:
        self.log = log
        self.pods = pods
        self.dataplanes = dataplanes
        self._pools = pools  # client index -> keep-alive settings
        self._slots = {c: [_Slot() for _ in range(p.count)] for c, p in pools.items()}
        self._sent = dict.fromkeys(pools, 0)
        self._slot_of: dict[int, _Slot] = {}  # request -> the pool slot it rides
        self._handed: dict[int, tuple[Connection | None, Connection | None]] = {}  # balancer -> node
        self._counted: dict[int, int] = {}  # one-request connection -> node counting it open

    def pooled(self, flow: ClientFlow, ids: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Give keep-alive requests their connection slot, in turn; a connection delivers in
        order, so a request cannot reach the first hop before the one ahead of it."""
        pool = self._pools.get(flow.index)
        if pool is None:
            return times
        slots = self._slots[flow.index]
        out = times.copy()
        for i, rid in enumerate(ids.tolist()):
            slot = slots[self._sent[flow.index] % pool.count]
            self._sent[flow.index] += 1
            out[i] = max(out[i], slot.last_entry)
            slot.last_entry = out[i]
            self._slot_of[rid] = slot
        return out

    def resolve(self, rid: int, now: float) -> tuple[Connection | None, Connection | None]:
        """At the request's first hop: ``(riding, opening)``, the open connection it rides or
        the new one it opens (its node and pod are set when they are chosen); (None, None)
        for a one-request connection. A balancer resolves first and :meth:`hand_over`\\ s."""
        handed = self._handed.pop(rid, None)
        if handed is not None:
            return handed
        slot = self._slot_of.pop(rid, None)
        if slot is None:
            return None, None
        pool = self._pools[int(self.log.client[rid])]
        conn = slot.conn
        if conn is not None and conn.pod >= 0:
            pod = self.pods[conn.pod]
            fresh = (pool.requests_per_connection is None or conn.requests < pool.requests_per_connection) and (
                pool.max_age_s is None or now - conn.opened_at < pool.max_age_s
            )
            alive = pod.terminating_at > now and pod.gone_at > now and pod.first_kill_after(conn.opened_at) > now
            if fresh and alive:  # a kill (crash, restart) reset it
                conn.requests += 1
                self.log.connection[rid] = conn.id
                self.log.client_ip[rid] = conn.source_ip
                return conn, None
            if conn.counted:
                self.dataplanes[conn.node].closes_at(conn.pod, now)
        slot.conn = Connection(rid, int(self.log.client_ip[rid]), -1, now)
        return None, slot.conn

    def hand_over(self, rid: int, riding: Connection | None, opening: Connection | None) -> None:
        """The balancer resolved the request's connection; its node will use that."""
        if riding is not None or opening is not None:
            self._handed[rid] = (riding, opening)

    def forget(self, rid: int) -> None:
        """The request never reached a hop that resolves connections."""
        self._slot_of.pop(rid, None)

    def chosen(self, rid: int, opening: Connection | None, node: int, pod: int) -> None:
        """kube-proxy on ``node`` chose ``pod`` for a new connection; count it if the node's
        scheduler counts connections."""
        counted = self.dataplanes[node].opened(pod)
        if opening is not None:
            opening.node, opening.pod, opening.counted = node, pod, counted
        elif counted:
            self._counted[rid] = node

    def close(self, rid: int, when: float) -> None:
        """The client closed the keep-alive connection ``rid`` rode (it timed out, or was reset):
        the pool opens a new one for its next request."""
        pool = self._slots.get(int(self.log.client[rid]))
        if pool is None:
            return
        conn_id = int(self.log.connection[rid])
        for slot in pool:
            conn = slot.conn
            if conn is not None and conn.id == conn_id:
                if conn.counted:
                    self.dataplanes[conn.node].closes_at(conn.pod, when)
                slot.conn = None
                return

    def answered(self, rid: int, pod: int, when: float) -> None:
        """The request's answer left ``pod`` at ``when``: a one-request connection closes."""
        node = self._counted.pop(rid, None)
        if node is not None:
            self.dataplanes[node].closes_at(pod, when)
