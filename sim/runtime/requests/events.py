"""The event engine: the request path one event at a time, the reference semantics.

Keep-alive connections, session affinity, schedulers that keep state, load balancers and
calls between Services make a request's fate depend on requests before it, so this engine
handles requests as events in time order: a request reaches a balancer, enters a node
(kube-proxy chooses, or conntrack keeps the connection's pod), arrives at a pod, and, for a
pod that calls other Services, finishes its own work, calls, and returns. Ties are broken by
request id (for calls, by their parent's). The events live in a heap of plain tuples, not
SimPy processes; SimPy drives the horizon up to which they run. A horizon with nothing in play
but entries and arrivals runs in a compiled kernel on the same state, with the same draws
(:mod:`~sim.runtime.requests.event_kernel`, laid out by :mod:`~sim.runtime.requests.event_arrays`);
sends wait as batches until their horizon runs, then go to the kernel or, one by one, to the heap.

The rules are those of :mod:`~sim.runtime.requests.rules` and
:mod:`~sim.runtime.requests.outcomes`; connections live in
:mod:`~sim.runtime.requests.connections`, calls in :mod:`~sim.runtime.requests.calls`.
"""

from __future__ import annotations

import heapq
from typing import Any

import numpy as np

from sim.runtime.load_balancer import LoadBalancerRuntime
from sim.runtime.pods import Pod
from sim.runtime.requests import outcomes
from sim.runtime.requests.calls import CallPlan, Calls
from sim.runtime.requests.clients import ClientFlow
from sim.runtime.requests.connections import NO_SLOT, ConnectionTable
from sim.runtime.requests.engine import INF, RequestEngine, RequestPath
from sim.runtime.requests.event_arrays import EventArrays
from sim.runtime.requests.retries import RetryingClient
from sim.runtime.requests.rules import ADMITTED, pod_hop
from sim.scenario.simulation import Connections

__all__ = ["EventEngine"]

ENTRY, LB_ARRIVE, ARRIVE, WORK_DONE, CALL_RETURN, GIVE_UP, TRY_END, RETRY, CALL_END, KILL = range(10)


class EventEngine(RequestEngine):
    """Requests as events in time order (see the module docstring)."""

    name = "events"
    #: Whether horizons the compiled kernel covers run there (:mod:`~sim.runtime.requests.event_kernel`);
    #: the Python handlers alone give the same results (tests compare the two).
    compiled = True

    def __init__(
        self,
        path: RequestPath,
        pools: dict[int, Connections],
        load_balancers: dict[int, LoadBalancerRuntime],
        call_plans: dict[str, CallPlan],
        retrying: dict[int, RetryingClient] | None = None,
    ) -> None:
        super().__init__(path)
        self._heap: list[tuple[float, Any, int, int]] = []  # (time, order key, kind, request id)
        self.connections = ConnectionTable(path.log, pools, path.pods, path.dataplanes)
        self.calls = Calls(
            path.log,
            path.pods,
            call_plans,
            schedule_work_done=lambda when, rid: self._push(when, rid, WORK_DONE),
            schedule_call=lambda when, rid: self._push(when, rid, ENTRY),
            schedule_give_up=lambda when, rid: self._push(when, rid, GIVE_UP),
            answered=self._pod_answered,
        )
        self._lbs = load_balancers  # Service port -> its balancer
        self._with_calls = bool(call_plans)  # without calls, skip their bookkeeping on the hot path
        self._retrying = retrying or {}  # client index -> its retry policy and counts
        self._keyed = self._with_calls or bool(self._retrying)  # ids handed out during the run
        self._open: set[int] = set()  # tries of retrying clients whose end the client awaits
        self._known: set[int] = set()  # ... of those, the ones whose end is scheduled
        self._at_pod: dict[int, set[int]] = {}  # pod -> open tries it serves
        self._calls_at_pod: dict[int, set[int]] = {}  # pod -> calls it serves, their caller waiting
        self._clock = 0.0  # the time of the event being handled
        self._external = path.client_table.external.tolist()  # per client, as plain bools
        self._hops_out, self._hops_back = path.hops_out, path.hops_back
        #: Batches of (ids, times, kind) sent since the last horizon, not yet in the heap.
        self._incoming: list[tuple[np.ndarray, np.ndarray, int]] = []
        self._arrays = EventArrays(self)
        self._handlers = (
            self._enter,
            self._at_balancer,
            self._arrive,
            self.calls.work_done,
            self.calls.call_returned,
            self._give_up,
            self._try_end,
            self._retry,
            self._call_end,
            self._kill,
        )

    @property
    def keyed(self) -> bool:
        """Whether events are ordered by keys other than request ids (calls, retries)."""
        return self._keyed

    @property
    def pod_nodes(self) -> np.ndarray:
        """Each pod's node (-1 while Pending)."""
        return self._pod_node

    @property
    def call_keys(self) -> dict[int, tuple[int, ...]]:
        return self.calls.keys

    # -- engine interface --------------------------------------------------------------
    def pod_added(self, pod: Pod) -> None:
        super().pod_added(pod)
        self.calls.pod_added(pod)

    def finish_pod(self, pod: Pod) -> None:
        """Serve ``pod``'s pending arrivals now (its own FIFO state is all they depend on)."""
        if self.calls.holds(pod):
            return  # its requests wait on calls: the cluster polls busy_until instead
        self._flush()
        pod_of = self.log.pod
        mine = [e for e in self._heap if e[2] == ARRIVE and pod_of[e[3]] == pod.index]
        if not mine:
            return
        self._heap = [e for e in self._heap if not (e[2] == ARRIVE and pod_of[e[3]] == pod.index)]
        heapq.heapify(self._heap)
        for when, _, _, rid in sorted(mine):
            self._arrive(rid, when)
            if rid in self._open and self.log.verdict[rid] != outcomes.PENDING:  # a retrying client's try
                self._try_known(rid)

    def in_pod(self, pod: Pod, now: float) -> int:
        if self.calls.holds(pod):
            return self.calls.in_pod(pod)
        return super().in_pod(pod, now)

    def probe_wait(self, pod: Pod, now: float) -> float:
        if self.calls.holds(pod):
            return self.calls.probe_wait(pod, now)
        return super().probe_wait(pod, now)

    def busy_until(self, pod: Pod) -> float | None:
        return self.calls.busy_until(pod) if self.calls.holds(pod) else pod.busy_until

    def _flush(self) -> None:
        """Put the batches sent into the heap, one event each."""
        for ids, times, kind in self._incoming:
            for rid, when in zip(ids.tolist(), times.tolist(), strict=True):
                heapq.heappush(self._heap, (when, rid, kind, rid))
        self._incoming = []

    def _process(self, horizon: float) -> None:
        if self.compiled and self._worth_compiling() and self._arrays.covers():
            self._heap = self._arrays.run(horizon, self._heap, self._incoming)
            self._incoming = []
            return
        self._flush()
        heap, handlers = self._heap, self._handlers
        if not self._keyed:
            while heap and heap[0][0] < horizon:
                when, _, kind, rid = heapq.heappop(heap)
                handlers[kind](rid, when)
            return
        log, open_ = self.log, self._open  # not the log's columns: they are replaced as it grows
        while heap and heap[0][0] < horizon:
            when, _, kind, rid = heapq.heappop(heap)
            self._clock = when
            handlers[kind](rid, when)
            if kind <= ARRIVE and rid in open_ and log.verdict[rid] != outcomes.PENDING:
                self._try_known(rid)

    def _worth_compiling(self) -> bool:
        """Whether the kernel pays for laying the state out as arrays (work per pod and node)
        this horizon: with 10 000 pods and a few events a horizon, the Python handlers were
        faster. Either way gives the same results."""
        events = len(self._heap) + sum(len(batch[0]) for batch in self._incoming)
        return events > 0 and 4 * events >= len(self.pods) + len(self.dataplanes)

    def _push(self, when: float, rid: int, kind: int) -> None:
        key: Any = rid
        if self._with_calls:
            key = self.calls.key(rid)
        elif self._keyed:  # retries without calls: a retry's place is after its request's first try
            origin = int(self.log.origin[rid])
            key = (rid,) if origin < 0 else (origin, -1, int(self.log.attempt[rid]))
        heapq.heappush(self._heap, (when, key, kind, rid))

    # -- send stage hooks ----------------------------------------------------------------
    def _entered(self, flow: ClientFlow, ids: np.ndarray, t_entry: np.ndarray) -> None:
        self._schedule(ids, self.connections.pooled(flow, ids, t_entry), ENTRY)

    def _at_load_balancer(self, flow: ClientFlow, ids: np.ndarray, t_arrive: np.ndarray) -> None:
        self._schedule(ids, self.connections.pooled(flow, ids, t_arrive), LB_ARRIVE)

    def _deliver(self, pod: Pod, ids: np.ndarray, t_arrive: np.ndarray) -> None:
        self._schedule(ids, t_arrive, ARRIVE)

    def _schedule(self, ids: np.ndarray, times: np.ndarray, kind: int) -> None:
        """Requests sent: keyed events go to the heap now, the rest as a batch (a heap of
        request ids needs no order among them until the horizon is run)."""
        if self._keyed:
            for rid, when in zip(ids.tolist(), times.tolist(), strict=True):
                self._push(when, rid, kind)
        else:
            self._incoming.append((ids, times, kind))

    # -- events ------------------------------------------------------------------------
    def _at_balancer(self, rid: int, now: float) -> None:
        log = self.log
        port = int(log.service[rid])
        lb = self._lbs[port]
        if now < lb.provisioned_at:  # no ingress IP yet: nothing answers
            self.connections.forget(rid)
            outcomes.no_answer(log, rid, self.client_table.connect_timeout_s[log.client[rid]])
            return
        out, back = lb.latency_out.one(), lb.latency_back.one()
        log.back_s[rid] += back
        connections = self.connections
        riding, opening = connections.resolve(rid, now)
        if lb.direct:  # no node, no kube-proxy: the balancer picks the pod itself
            pod = connections.route(riding)[1] if riding != NO_SLOT else lb.choose_pod(port)
            if pod < 0:
                outcomes.refused(log, rid, now + log.back_s[rid])
                return
            node = int(self._pod_node[pod])
            if opening != NO_SLOT:
                connections.set_route(opening, node, pod)
            log.entry_node[rid] = log.pod_node[rid] = node
            log.pod[rid] = pod
            self._push(now + out, rid, ARRIVE)
            return
        node = connections.route(riding)[0] if riding != NO_SLOT else lb.choose_node()
        log.entry_node[rid] = node
        if opening != NO_SLOT:
            connections.set_route(opening, node)
        connections.hand_over(rid, riding, opening)
        self._push(now + out, rid, ENTRY)

    def _enter(self, rid: int, now: float) -> None:
        """The request reaches its entry node: conntrack or kube-proxy decides the pod."""
        log = self.log
        riding, opening = self.connections.resolve(rid, now)
        if riding != NO_SLOT:  # the connection's packets enter where it was opened
            log.entry_node[rid], pod = self.connections.route(riding)
        node = int(log.entry_node[rid])
        hop_out, hop_back = self._hops_out[node].one(), self._hops_back[node].one()
        if riding == NO_SLOT:
            port = int(log.service[rid])
            external = self._external[log.client[rid]]
            pod = self.dataplanes[node].choose(port, external, int(log.client_ip[rid]), now)
            if pod >= 0:
                self.connections.chosen(rid, opening, node, pod)
        if pod < 0:
            outcomes.no_endpoint(log, np.array([rid]), np.array([now]), np.array([pod]), self.client_table)
            self._returned(rid)
            return
        pod_node = int(self._pod_node[pod])
        log.pod[rid] = pod
        log.pod_node[rid] = pod_node
        out, back = pod_hop(node, pod_node, hop_out, hop_back)
        if back:
            log.back_s[rid] += back
        self._push(now + out, rid, ARRIVE)

    def _arrive(self, rid: int, now: float) -> None:
        log = self.log
        pod = self.pods[int(log.pod[rid])]
        if self._with_calls and self.calls.holds(pod):
            log.t_arrive[rid] = now
            if now >= pod.gone_at:  # the pod has gone: nothing answers the SYN
                outcomes.no_answer(log, rid, self.client_table.connect_timeout_s[log.client[rid]])
                self._returned(rid)
                return
            patience = self._patience(rid)
            closed = pod.closed_at(now)
            fate = closed if closed is not None else self.calls.arrive(pod, rid, now, now + patience)
            if fate != ADMITTED:
                outcomes.pushed_back(log, rid, now, fate, patience, self.client_table)
                self._pod_answered(rid, pod.index, now)
            return
        patience = self._patience(rid)
        fate, start, service = pod.admit_one(now, now + patience)
        if fate != ADMITTED:  # the pod pushed back, or dropped it: its connection closes now
            outcomes.pushed_back(log, rid, now, fate, patience, self.client_table)
            left = now
        elif self._with_calls and rid in self.calls.abandoned:  # nobody waits, but the pod works
            outcomes.worked(log, rid, now, start, service)
            left = start + service
        else:
            outcomes.served(log, rid, now, start, service)
            left = start + service
        self.connections.answered(rid, pod.index, left)
        if self._with_calls:
            self._returned(rid)

    def _patience(self, rid: int) -> float:
        """How long after sending it the request's client gives up: its timeout, or a call's."""
        if self._with_calls:
            timeout = self.calls.patience(rid)
            if timeout is not None:
                return timeout
        return float(self.client_table.timeout_s[self.log.client[rid]])

    def _pod_answered(self, rid: int, pod: int, when: float) -> None:
        self.connections.answered(rid, pod, when)
        self._returned(rid)
        if rid in self._open:
            self._try_known(rid)

    # -- retries (sim.runtime.requests.retries) -----------------------------------------
    def _after_send(self, ids: np.ndarray) -> None:
        """Tries of retrying clients are in flight: their client gives up at its timeout, or
        learns the outcome earlier if it is already known (refused, unreachable)."""
        if not self._retrying:
            return
        log, timeouts = self.log, self.client_table.timeout_s
        for rid, client in zip(ids.tolist(), log.client[ids].tolist(), strict=True):
            retrying = self._retrying.get(client)
            if retrying is None:
                continue
            retrying.sending(float(log.t_sent[rid]))
            self._open.add(rid)
            limit = float(timeouts[client])
            if limit < INF:
                self._push(float(log.t_sent[rid]) + limit, rid, TRY_END)
            if log.verdict[rid] != outcomes.PENDING:
                self._try_known(rid)

    def _try_known(self, rid: int) -> None:
        """The try's verdict is in: schedule the moment its client learns it."""
        if rid in self._known:
            return
        self._known.add(rid)
        log = self.log
        pod = int(log.pod[rid])
        if pod >= 0 and log.verdict[rid] == outcomes.SERVED:  # its pod may yet be killed
            self._at_pod.setdefault(pod, set()).add(rid)
        # When it ends as known by now: a pod already terminating or gone ends it sooner (or later)
        # than its answer would; pod_killed moves it again if its pod is killed later.
        _, ends = outcomes.outcome_now(log, rid, self.pods, self.client_table, self.path.outages)
        self._push(max(self._clock, ends), rid, TRY_END)

    def pod_killed(self, pod: Pod, at: float) -> None:
        """``pod`` will be killed at ``at``: tries and calls it would still hold then end sooner;
        a pod that makes calls lets go of what it holds then (its queue is kept here)."""
        log = self.log
        if self._with_calls and self.calls.holds(pod):
            heapq.heappush(self._heap, (at, (-1, pod.index), KILL, pod.index))
        for kind, held in ((TRY_END, self._at_pod), (CALL_END, self._calls_at_pod)):
            for rid in held.get(pod.index, ()):
                if log.t_arrive[rid] < at < log.t_start[rid] + log.service_s[rid]:
                    self._push(max(self._clock, at + float(log.back_s[rid])), rid, kind)

    def _try_end(self, rid: int, now: float) -> None:
        """The client learns how a try ended, and retries it or not."""
        if rid not in self._open:
            return
        log = self.log
        outcome, t_done = outcomes.outcome_now(log, rid, self.pods, self.client_table, self.path.outages)
        if t_done > now:  # it ends later than first thought (a pod gone before it arrived)
            self._push(t_done, rid, TRY_END)
            return
        self._open.discard(rid)
        self._known.discard(rid)
        pod = int(log.pod[rid])
        if pod in self._at_pod:
            self._at_pod[pod].discard(rid)
        retrying = self._retrying[int(log.client[rid])]
        attempt = int(log.attempt[rid])
        retrying.ended(attempt, now)
        if outcome in (outcomes.TIMEOUT, outcomes.RESET):  # a client cannot reuse such a connection
            self.connections.close(rid, now)
        wait = retrying.retry_after(attempt, outcome)
        if wait is not None:
            self._push(now + wait, rid, RETRY)

    def _retry(self, previous: int, now: float) -> None:
        """Send the next try of ``previous``'s request, as a new connection."""
        log = self.log
        client = int(log.client[previous])
        rid = int(log.new(1)[0])
        root = int(log.origin[previous])
        root = previous if root < 0 else root
        attempt = int(log.attempt[previous]) + 1
        log.t_sent[rid] = now
        log.client[rid] = client
        log.connection[rid] = rid
        log.origin[rid] = root
        log.attempt[rid] = attempt
        if self._with_calls:  # without calls, _push and the final numbering read the log instead
            self.calls.keys[rid] = (*self.calls.key(root), -1, attempt)  # after its first try, before its calls
        ids = np.array([rid], dtype=np.int64)
        self._depart(self._retrying[client].flow, ids, np.array([now]))
        log.client_ip[rid] = log.client_ip[previous]  # the same host, a new connection (source port)
        self._after_send(ids)

    def _give_up(self, rid: int, now: float) -> None:
        for parent in self.calls.give_up(rid, now):
            self._push(now, parent, CALL_RETURN)

    def _returned(self, rid: int) -> None:
        """A call's answer (or failure) is back at the calling pod."""
        if not self._with_calls:
            return
        log = self.log
        pod = int(log.pod[rid])
        if pod >= 0 and log.verdict[rid] == outcomes.SERVED and self.calls.waited_on(rid):
            # Served, but its pod may yet be killed (or had gone): the caller learns the call's
            # fate when it ends, as a client does (pod_killed moves the end if need be).
            self._calls_at_pod.setdefault(pod, set()).add(rid)
            _, ends = outcomes.outcome_now(log, rid, self.pods, self.client_table, self.path.outages)
            self._push(max(self._clock, ends), rid, CALL_END)
            return
        parent = self.calls.returned(rid)
        if parent is not None:
            self._push(float(log.t_done[rid]), parent, CALL_RETURN)

    def _kill(self, pod: int, now: float) -> None:
        """A calling pod's container dies (``rid`` is the pod's index here)."""
        self.calls.kill(self.pods[pod], now)

    def _call_end(self, rid: int, now: float) -> None:
        """A served call ends: its caller resumes now, with the call failed if its pod was killed
        (or had gone) before it answered."""
        if not self.calls.waited_on(rid):  # its caller gave up first
            self._calls_at_pod.get(int(self.log.pod[rid]), set()).discard(rid)
            return
        outcome, ends = outcomes.outcome_now(self.log, rid, self.pods, self.client_table, self.path.outages)
        if ends > now:  # its pod went before it arrived: nothing answers until the connect timeout
            self._push(ends, rid, CALL_END)
            return
        self._calls_at_pod.get(int(self.log.pod[rid]), set()).discard(rid)
        parent = self.calls.returned(rid, outcome, ends)
        if parent is not None:
            self._push(ends, parent, CALL_RETURN)
