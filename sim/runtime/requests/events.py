"""The request path one event at a time, for what depends on order and state.

Keep-alive connections, session affinity, IPVS schedulers that count connections, load
balancers and calls between Services all make a request's fate depend on requests
before it, so this engine handles requests as events in time order: a request enters a
node (kube-proxy chooses, or conntrack keeps the connection's pod), arrives at a pod,
and, for a pod that calls other Services, finishes its own work, calls, and returns.
Ties are broken by request id. The events live in a heap of plain tuples, not SimPy
processes; SimPy still drives the horizon up to which they run (see :mod:`sim.runtime.requests.batch`).

It draws the same random numbers in the same order as the batch engine, so a scenario
both can run gives identical results on both (a test checks this).

Connections (../shared/KUBERNETES.md, "Balancing is per connection"): kube-proxy picks an
endpoint when a connection opens and conntrack keeps it there for the connection's life.
A keep-alive client spreads its requests over ``count`` connections in turn; a
connection is replaced when it has carried ``requestsPerConnection`` requests, when it
reaches ``maxAge``, or when its pod starts terminating (the server closes idle
keep-alive connections on SIGTERM). svcsim does not charge a handshake for opening one.

Calls: a pod whose workload has ``calls`` does its own work, then calls each Service in
turn through its own node's kube-proxy (ClusterIP traffic), holding its worker the
whole time. A failed call (refused, dropped, unreachable) makes the request fail as
``rejected``: the pod answers with an error.
"""

from __future__ import annotations

import heapq
import ipaddress
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.endpoint_choice import Connection
from sim.runtime.dataplane import DROP, REJECT
from sim.runtime.load_balancer import LoadBalancerRuntime
from sim.runtime.pods import Pod
from sim.runtime.requests.batch import ClientFlow, Traffic
from sim.runtime.requests.request_log import OK, REFUSED, REJECTED, RESET, TIMEOUT, UNREACHABLE
from sim.scenario.simulation import Connections

__all__ = ["CallPlan", "EventTraffic"]

INF = math.inf
ENTRY, LB_ARRIVE, ARRIVE, WORK_DONE, CALL_RETURN = range(5)


@dataclass(frozen=True)
class CallPlan:
    """The calls pods of one Deployment make, as (Service port index, destination IP)."""

    client: int  # the client index its calls are recorded under
    calls: tuple[tuple[int, int], ...]


@dataclass(eq=False)
class _Conn:
    id: int  # the request id that opened it
    source_ip: int
    node: int
    opened_at: float
    pod: int = -1  # set when kube-proxy (or the balancer) chooses
    requests: int = 1
    counted: bool = False  # whether the node's scheduler counts it as open


@dataclass(eq=False)
class _Slot:
    """One keep-alive connection of a client's pool, reopened as needed."""

    conn: _Conn | None = None
    last_entry: float = 0.0


@dataclass(eq=False)
class _Worker:
    """Queue and free workers of a pod whose requests wait on calls."""

    free: int
    queue: deque[int] = field(default_factory=deque)
    idle_since: float = 0.0


class EventTraffic(Traffic):
    """Requests as events in time order (see the module docstring)."""

    def __init__(
        self,
        *args: object,
        pools: dict[int, Connections],
        destinations: list[int],
        load_balancers: dict[int, LoadBalancerRuntime],
        call_plans: dict[str, CallPlan],
        n_clients: int,
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._heap: list[tuple[float, Any, int, int]] = []  # (time, order key, kind, request id)
        self.call_keys: dict[int, tuple[int, ...]] = {}  # a call's key: its parent's key + (index,)
        self._pools = pools  # client index -> keep-alive settings
        self._slots = {c: [_Slot() for _ in range(p.count)] for c, p in pools.items()}
        self._sent = dict.fromkeys(pools, 0)
        self._slot_of: dict[int, _Slot] = {}
        self._riding: dict[int, _Conn] = {}  # through a balancer: decided there, used at the node
        self._opening: dict[int, _Conn] = {}
        self._counted: dict[int, int] = {}  # one-request connection -> node counting it open
        self._destinations = destinations  # Service port -> the virtual IP dialled (for dh)
        self._lbs = load_balancers  # Service port -> its balancer
        self._plans = call_plans  # Deployment -> calls
        self._workers: dict[int, _Worker] = {}
        self._progress: dict[int, int] = {}  # request waiting on calls -> calls done
        self._failed: set[int] = set()
        self._parent_of: dict[int, int] = {}
        self._external = [f.external for f in self.clients] + [False] * (n_clients - len(self.clients))
        self._timeout = [f.connect_timeout_s for f in self.clients] + [1.0] * (n_clients - len(self.clients))
        self._handlers = (self._enter, self._at_balancer, self._arrive, self._work_done, self._call_returned)

    # -- engine interface --------------------------------------------------------------
    def pod_added(self, pod: Pod) -> None:
        super().pod_added(pod)
        if pod.deployment in self._plans:
            self._workers[pod.index] = _Worker(free=pod.concurrency)

    def finish_pod(self, pod: Pod) -> None:
        """Serve ``pod``'s pending arrivals now (its own FIFO state is all they depend on)."""
        if pod.index in self._workers:
            return  # its requests wait on calls: the cluster polls busy_until instead
        log = self.log
        mine = [e for e in self._heap if e[2] == ARRIVE and log.pod[e[3]] == pod.index]
        if not mine:
            return
        self._heap = [e for e in self._heap if not (e[2] == ARRIVE and log.pod[e[3]] == pod.index)]
        heapq.heapify(self._heap)
        for when, _, _, rid in sorted(mine):
            self._arrive(rid, when)

    def busy_until(self, pod: Pod) -> float | None:
        worker = self._workers.get(pod.index)
        if worker is None:
            return pod.busy_until
        if worker.queue or worker.free < pod.concurrency:
            return None
        return worker.idle_since

    def _process(self, horizon: float) -> None:
        heap, handlers = self._heap, self._handlers
        while heap and heap[0][0] < horizon:
            when, _, kind, rid = heapq.heappop(heap)
            handlers[kind](rid, when)

    def _push(self, when: float, rid: int, kind: int) -> None:
        """Ties in time go by the request's order key: its id, or for a call its parent's key
        and the call's index, so the order never depends on when ids were handed out."""
        key: Any = (self.call_keys.get(rid) or (rid,)) if self._plans else rid
        heapq.heappush(self._heap, (when, key, kind, rid))

    # -- send stage hooks ----------------------------------------------------------------
    def _entered(self, flow: ClientFlow, ids: np.ndarray, t_entry: np.ndarray) -> None:
        for rid, when in zip(ids.tolist(), self._pooled(flow, ids, t_entry).tolist(), strict=True):
            self._push(when, rid, ENTRY)

    def _at_load_balancer(self, flow: ClientFlow, ids: np.ndarray, t_arrive: np.ndarray) -> None:
        for rid, when in zip(ids.tolist(), self._pooled(flow, ids, t_arrive).tolist(), strict=True):
            self._push(when, rid, LB_ARRIVE)

    def _deliver(self, pod: Pod, ids: np.ndarray, t_arrive: np.ndarray) -> None:
        for rid, when in zip(ids.tolist(), t_arrive.tolist(), strict=True):
            self._push(when, rid, ARRIVE)

    def _pooled(self, flow: ClientFlow, ids: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Give keep-alive requests their connection slot, in turn; a connection delivers in order."""
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

    # -- connections -------------------------------------------------------------------
    def _resolve(self, rid: int, now: float) -> tuple[_Conn | None, _Conn | None]:
        """At the request's first hop: ``(riding, opening)``, the open connection it rides or
        the new one it opens (its node and pod are set when they are chosen)."""
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
            if fresh and pod.terminating_at > now and pod.gone_at > now:
                conn.requests += 1
                self.log.connection[rid] = conn.id
                self.log.client_ip[rid] = conn.source_ip
                return conn, None
            if conn.counted:
                self.dataplanes[conn.node].closes_at(conn.pod, now)
        slot.conn = _Conn(rid, int(self.log.client_ip[rid]), -1, now)
        return None, slot.conn

    # -- events ------------------------------------------------------------------------
    def _at_balancer(self, rid: int, now: float) -> None:
        log = self.log
        client = int(log.client[rid])
        port = int(log.service[rid])
        lb = self._lbs[port]
        if now < lb.provisioned_at:  # no ingress IP yet: nothing answers
            self._slot_of.pop(rid, None)
            log.outcome[rid] = UNREACHABLE
            log.t_done[rid] = log.t_sent[rid] + self._timeout[client]
            return
        out, back = lb.latency_out.one(), lb.latency_back.one()
        log.back_s[rid] += back
        riding, opening = self._resolve(rid, now)
        if lb.direct:  # no node, no kube-proxy: the balancer picks the pod itself
            pod = riding.pod if riding is not None else lb.choose_pod(port)
            if pod < 0:
                log.outcome[rid] = REFUSED
                log.t_done[rid] = now + log.back_s[rid]
                return
            node = int(self._pod_node[pod])
            if opening is not None:
                opening.node, opening.pod = node, pod
            log.entry_node[rid] = log.pod_node[rid] = node
            log.pod[rid] = pod
            self._push(now + out, rid, ARRIVE)
            return
        node = riding.node if riding is not None else lb.choose_node()
        log.entry_node[rid] = node
        if riding is not None:
            self._riding[rid] = riding
        elif opening is not None:
            opening.node = node
            self._opening[rid] = opening
        self._push(now + out, rid, ENTRY)

    def _enter(self, rid: int, now: float) -> None:
        """The request reaches its entry node: conntrack or kube-proxy decides the pod."""
        log = self.log
        riding, opening = self._riding.pop(rid, None), self._opening.pop(rid, None)
        if riding is None and opening is None:
            riding, opening = self._resolve(rid, now)
        if riding is not None:  # the connection's packets enter where it was opened
            log.entry_node[rid] = riding.node
        node = int(log.entry_node[rid])
        plane = self.dataplanes[node]
        hop_out, hop_back = self.hops_out[node].one(), self.hops_back[node].one()
        if riding is not None:
            pod = riding.pod
        else:
            port = int(log.service[rid])
            client = int(log.client[rid])
            ask = Connection(int(log.client_ip[rid]), self._destinations[port], port)
            pod = plane.choose(port, self._external[client], ask, now)
            if pod >= 0:
                counted = plane.opened(pod)
                if opening is not None:
                    opening.node, opening.pod, opening.counted = node, pod, counted
                elif counted:
                    self._counted[rid] = node
        if pod < 0:
            self._unserved(rid, now, pod)
            return
        pod_node = int(self._pod_node[pod])
        log.pod[rid] = pod
        log.pod_node[rid] = pod_node
        cross = pod_node != node
        if cross:
            log.back_s[rid] += hop_back
        self._push(now + (hop_out if cross else 0.0), rid, ARRIVE)

    def _unserved(self, rid: int, now: float, action: int) -> None:
        log = self.log
        client = int(log.client[rid])
        if action == REJECT:
            log.outcome[rid] = REFUSED
            log.t_done[rid] = now + log.back_s[rid]
        else:
            assert action == DROP
            log.outcome[rid] = TIMEOUT
            log.t_done[rid] = log.t_sent[rid] + self._timeout[client]
        self._returned(rid)

    def _arrive(self, rid: int, now: float) -> None:
        log = self.log
        pod = self.pods[int(log.pod[rid])]
        log.t_arrive[rid] = now
        worker = self._workers.get(pod.index)
        if worker is not None:
            if now >= pod.gone_at:  # the pod has gone: nothing answers the SYN
                log.outcome[rid] = UNREACHABLE
                log.t_done[rid] = log.t_sent[rid] + self._timeout[int(log.client[rid])]
                self._returned(rid)
                return
            if worker.free:
                worker.free -= 1
                self._start(pod, rid, now)
            else:
                worker.queue.append(rid)
            return
        start, service = pod.serve_one(now)
        log.t_start[rid] = start
        log.service_s[rid] = service
        log.t_done[rid] = start + service + log.back_s[rid]
        log.outcome[rid] = OK
        node = self._counted.pop(rid, None)
        if node is not None:  # a one-request connection closes with its answer
            self.dataplanes[node].closes_at(pod.index, start + service)
        self._returned(rid)

    def _start(self, pod: Pod, rid: int, now: float) -> None:
        self.log.t_start[rid] = now
        self._progress[rid] = 0
        if now >= pod.deadline:  # killed with the pod before a worker could take it
            self._finish(pod, rid, now, RESET)
            return
        self._push(now + pod.service.one(), rid, WORK_DONE)

    def _work_done(self, rid: int, now: float) -> None:
        self._next_call(rid, now)

    def _next_call(self, rid: int, now: float) -> None:
        """Make the request's next call, or finish it if none is left (or one failed)."""
        log = self.log
        pod = self.pods[int(log.pod[rid])]
        plan = self._plans[pod.deployment]
        done = self._progress[rid]
        if now > pod.deadline:  # the pod was killed while this request waited: RST at the deadline
            self._finish(pod, rid, pod.deadline, RESET)
            return
        if done == len(plan.calls) or rid in self._failed:
            self._finish(pod, rid, now, REJECTED if rid in self._failed else OK)
            return
        port, _ = plan.calls[done]
        child = int(self.log.new(1)[0])
        log.t_sent[child] = now
        log.client[child] = plan.client
        log.client_ip[child] = int(ipaddress.IPv4Address(pod.ip)) if pod.ip else 0
        log.entry_node[child] = pod.node if pod.node is not None else -1
        log.service[child] = port
        log.connection[child] = child
        log.parent[child] = rid
        log.back_s[child] = 0.0
        self.call_keys[child] = (*(self.call_keys.get(rid) or (rid,)), done)
        self._parent_of[child] = rid
        self._push(now, child, ENTRY)

    def _returned(self, rid: int) -> None:
        """A call's answer (or failure) is back at the calling pod."""
        parent = self._parent_of.pop(rid, None)
        if parent is None:
            return
        if self.log.outcome[rid] != OK:
            self._failed.add(parent)
        self._push(float(self.log.t_done[rid]), parent, CALL_RETURN)

    def _call_returned(self, rid: int, now: float) -> None:
        self._progress[rid] += 1
        self._next_call(rid, now)

    def _finish(self, pod: Pod, rid: int, now: float, outcome: int) -> None:
        log = self.log
        del self._progress[rid]
        log.service_s[rid] = now - log.t_start[rid]
        log.t_done[rid] = now + log.back_s[rid]
        log.outcome[rid] = outcome
        self._failed.discard(rid)
        node = self._counted.pop(rid, None)
        if node is not None:
            self.dataplanes[node].closes_at(pod.index, now)
        worker = self._workers[pod.index]
        if worker.queue:
            self._start(pod, worker.queue.popleft(), now)
        else:
            worker.free += 1
            worker.idle_since = now
        self._returned(rid)
