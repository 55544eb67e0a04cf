"""Calls between Services: a pod that calls others holds its worker until they answer.

A pod whose workload has ``calls`` does its own work, then calls each Service in turn through
its own node's kube-proxy (ClusterIP traffic), holding its worker the whole time. A failed
call (refused, dropped, unreachable, or no answer within the call's ``timeout``) makes the
request fail as ``rejected``: the pod answers with an error
(docs/semantics.md#calls-between-services). A call served by a pod killed before it answers
fails at the kill, one served by a pod already gone at the connect timeout: the calling pod
learns a call's end when it happens (the event engine's CALL_END, re-timed when the serving
pod starts terminating). Such a pod's queue cannot be computed ahead (a worker's release
waits on other pods), so the event engine asks this module when a worker frees.

A call its caller gave up on is *abandoned*: it keeps its ``timeout`` outcome, the pod that
has it still does its own work (the server does not notice the caller left), but its context
is cancelled, as Go's and gRPC's request contexts are when the client goes away: the call it
is waiting on is abandoned at once too (and so on down the chain), and it makes no further
calls. That is what ends a cycle of calls (a Service calling itself, or two that call each
other): the first timeout unwinds the whole chain, so the work a request causes is bounded
by the workers a chain can hold.
"""

from __future__ import annotations

import ipaddress
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from sim.runtime.pods import Pod
from sim.runtime.requests import outcomes
from sim.runtime.requests.outcomes import REJECTED, RESET, SERVED
from sim.runtime.requests.request_log import RequestLog
from sim.runtime.requests.rules import ADMITTED, turned_away

__all__ = ["CallPlan", "Calls"]

INF = math.inf


@dataclass(frozen=True)
class CallPlan:
    """The calls pods of one Deployment make, as (Service port index, timeout in seconds)."""

    client: int  # the client index its calls are recorded under
    calls: tuple[tuple[int, float], ...]


@dataclass(eq=False)
class _Workers:
    """Queue and free workers of a pod whose requests wait on calls."""

    free: int
    queue: deque[int] = field(default_factory=deque)
    idle_since: float = 0.0


class Calls:
    """Workers of calling pods and the progress of each request through its calls.

    ``schedule(when, rid, kind)`` is the engine's: WORK_DONE when a request's own work ends,
    ENTRY when a call is sent. ``answered(rid, pod, when)`` tells the connections a request
    left its pod.
    """

    def __init__(
        self,
        log: RequestLog,
        pods: list[Pod],
        plans: dict[str, CallPlan],
        schedule_work_done: Callable[[float, int], None],
        schedule_call: Callable[[float, int], None],
        schedule_give_up: Callable[[float, int], None],
        answered: Callable[[int, int, float], None],
    ) -> None:
        self.log = log
        self.pods = pods
        self.plans = plans  # Deployment -> calls
        self.keys: dict[int, tuple[int, ...]] = {}  # a call's key: its parent's key + (index,)
        self._schedule_work_done = schedule_work_done
        self._schedule_call = schedule_call
        self._schedule_give_up = schedule_give_up
        self._answered = answered
        self._workers: dict[int, _Workers] = {}
        self._progress: dict[int, int] = {}  # request waiting on calls -> calls done
        self._failed: set[int] = set()
        self._parent_of: dict[int, int] = {}
        self._deadline: dict[int, float] = {}  # call in flight -> when its caller gives up
        self._awaiting: dict[int, int] = {}  # request -> the call it waits on now
        self._cancel_at: dict[int, float] = {}  # queued request -> when the pod sees its client leave
        self._timeout: dict[int, float] = {}  # call not yet at a pod -> its timeout
        self.abandoned: set[int] = set()  # calls whose caller gave up before their answer

    def key(self, rid: int) -> tuple[int, ...]:
        """The order of a request among simultaneous events: its id, or for a call its
        parent's key and the call's index, so the order never depends on when ids were handed out."""
        return self.keys.get(rid) or (rid,)

    def pod_added(self, pod: Pod) -> None:
        if pod.deployment in self.plans:
            self._workers[pod.index] = _Workers(free=pod.concurrency)

    def patience(self, rid: int) -> float | None:
        """A call's timeout (None for a client's request), asked once, when it reaches a pod."""
        return self._timeout.pop(rid, None)

    def holds(self, pod: Pod) -> bool:
        """Whether ``pod`` makes calls (its queue is managed here)."""
        return pod.index in self._workers

    def in_pod(self, pod: Pod) -> int:
        """Requests the pod holds: those its workers serve (or wait on calls for) and those queued."""
        workers = self._workers[pod.index]
        return pod.concurrency - workers.free + len(workers.queue)

    def probe_wait(self, pod: Pod, now: float) -> float:
        """A probe's wait behind the queue of a calling pod, which cannot be known ahead (a
        worker's release waits on other pods): none if a worker is free, else at least as long
        as the head of the queue has waited so far."""
        workers = self._workers[pod.index]
        if workers.free:
            return 0.0
        if not workers.queue:
            return 0.0
        return now - float(self.log.t_arrive[workers.queue[0]])

    def busy_until(self, pod: Pod) -> float | None:
        workers = self._workers[pod.index]
        if workers.queue or workers.free < pod.concurrency:
            return None
        return workers.idle_since

    def arrive(self, pod: Pod, rid: int, now: float, cancel_at: float) -> int:
        """A request reaches a calling pod: a free worker takes it, or it queues (FIFO), or
        the pod pushes back (the fate, as :func:`~sim.runtime.requests.rules.fifo_admit`'s).

        A queued request whose client gave up is dropped when a worker reaches it (with
        ``onCancel: drop``), but it left the pod when the pod saw the cancel: it no longer
        counts against the limits, as in ``fifo_admit``."""
        workers = self._workers[pod.index]
        limits = pod.limits
        queued = len(workers.queue)
        if limits.bounded and limits.drop:
            queued = sum(1 for waiting in workers.queue if self._cancel_at.get(waiting, INF) > now)
        refused = turned_away(pod.concurrency - workers.free + queued, pod.concurrency, limits)
        if refused is not None:
            return refused
        if workers.free:  # then nobody waits: a free worker takes the head of the queue at once
            workers.free -= 1
            if self._take(pod, rid, now):
                self._free_worker(pod, now)
        else:
            workers.queue.append(rid)
            if limits.drop:
                self._cancel_at[rid] = cancel_at
        return ADMITTED

    def work_done(self, rid: int, now: float) -> None:
        if rid in self._progress:  # else its pod was killed meanwhile
            self._next_call(rid, now)

    def call_returned(self, rid: int, now: float) -> None:
        if rid in self._progress:
            self._progress[rid] += 1
            self._next_call(rid, now)

    def kill(self, pod: Pod, now: float) -> None:
        """``pod``'s container dies now: what it holds, taken or queued, is reset, the calls
        its requests wait on are abandoned, and its workers are free for the restarted app."""
        workers = self._workers[pod.index]
        pod_of = self.log.pod
        held = sorted(rid for rid in self._progress if int(pod_of[rid]) == pod.index)
        queued = list(workers.queue)
        workers.queue.clear()
        for rid in held:
            child = self._awaiting.pop(rid, None)
            if child is not None:  # its context is cancelled: the call is abandoned
                self._parent_of.pop(child, None)
                self._deadline.pop(child, None)
                outcomes.gave_up(self.log, child, now)
                self.abandoned.add(child)
            self._answer(pod, rid, now, RESET)
        for rid in queued:
            self._cancel_at.pop(rid, None)
            if rid in self.abandoned:
                self._answered(rid, pod.index, now)
                continue
            outcomes.answered(self.log, rid, now, RESET)
            self._answered(rid, pod.index, now)
        workers.free = pod.concurrency
        workers.idle_since = now

    def waited_on(self, rid: int) -> bool:
        """Whether ``rid`` is a call its caller still waits for."""
        return rid in self._parent_of

    def returned(self, rid: int, outcome: int | None = None, ends: float | None = None) -> int | None:
        """A request has its verdict; if it was a call, the parent that resumes (else None),
        at the call's end: its answer, or the moment the caller gave up. ``outcome`` and
        ``ends``: the call's fate as known when it ended (default: its verdict and t_done)."""
        self._timeout.pop(rid, None)  # a call that never reached a pod
        parent = self._parent_of.pop(rid, None)
        if parent is None:
            return None
        del self._awaiting[parent]
        deadline = self._deadline.pop(rid)
        if (self.log.t_done[rid] if ends is None else ends) > deadline:  # the answer would come too late
            self.abandoned.add(rid)
            outcomes.gave_up(self.log, rid, deadline)
        if (self.log.verdict[rid] if outcome is None else outcome) != SERVED:
            self._failed.add(parent)
        return parent

    def give_up(self, rid: int, now: float) -> list[int]:
        """The call's timeout ran out. If it has no answer yet, its caller stops waiting, and the
        cancellation runs down the chain of calls it is waiting on; returns the requests that
        resume now (each with a failed call), callers first."""
        resume = []
        call: int | None = rid
        while call is not None and call in self._parent_of:
            parent = self._parent_of.pop(call)
            del self._deadline[call]
            del self._awaiting[parent]
            outcomes.gave_up(self.log, call, now)
            self.abandoned.add(call)
            self._failed.add(parent)
            resume.append(parent)
            call = self._awaiting.get(call)  # what the abandoned call itself waits on
        return resume

    def _take(self, pod: Pod, rid: int, now: float) -> bool:
        """A worker takes ``rid``; whether it is done at once (killed with its pod)."""
        self.log.t_start[rid] = now
        self._progress[rid] = 0
        kill = pod.first_kill_after(float(self.log.t_arrive[rid]))
        if now >= kill:  # killed with the pod before a worker could take it
            self._answer(pod, rid, now, RESET)
            return True
        work = pod.service.one()
        if pod.usage is not None:  # its own work burns CPU (docs/semantics.md#cpu-and-memory-usage)
            pod.usage.served_one(float(self.log.t_arrive[rid]), now, work, work)
        self._schedule_work_done(now + work, rid)
        return False

    def _next_call(self, rid: int, now: float) -> None:
        """Make the request's next call, or answer it if none is left (or one failed)."""
        log = self.log
        pod = self.pods[int(log.pod[rid])]
        plan = self.plans[pod.deployment]
        done = self._progress[rid]
        kill = pod.first_kill_after(float(log.t_arrive[rid]))
        if now > kill:  # the pod was killed while this request waited: RST then
            self._release(pod, rid, kill, RESET)
            return
        if done == len(plan.calls) or rid in self._failed or rid in self.abandoned:
            self._release(pod, rid, now, REJECTED if rid in self._failed else SERVED)
            return
        port, timeout = plan.calls[done]
        child = int(log.new(1)[0])
        log.t_sent[child] = now
        log.client[child] = plan.client
        log.client_ip[child] = int(ipaddress.IPv4Address(pod.ip)) if pod.ip else 0
        log.entry_node[child] = pod.node if pod.node is not None else -1
        log.service[child] = port
        log.connection[child] = child
        log.parent[child] = rid
        log.back_s[child] = 0.0
        self.keys[child] = (*self.key(rid), done)
        self._parent_of[child] = rid
        self._awaiting[rid] = child
        self._deadline[child] = now + timeout
        self._timeout[child] = timeout
        self._schedule_call(now, child)
        self._schedule_give_up(now + timeout, child)

    def _release(self, pod: Pod, rid: int, now: float, verdict: int) -> None:
        """Answer ``rid`` and hand its worker to the queue, iteratively: a queued request the
        worker takes may end at once (its pod killed), freeing the worker again."""
        self._answer(pod, rid, now, verdict)
        self._free_worker(pod, now)

    def _free_worker(self, pod: Pod, now: float) -> None:
        workers = self._workers[pod.index]
        while workers.queue:
            rid = workers.queue.popleft()
            cancel_at = self._cancel_at.pop(rid, INF)
            if now > cancel_at:  # its client left while it waited: dropped, unstarted
                self._dropped(pod, rid, cancel_at)
                continue
            if not self._take(pod, rid, now):
                return
        workers.free += 1
        workers.idle_since = now

    def _dropped(self, pod: Pod, rid: int, cancel_at: float) -> None:
        if rid not in self.abandoned:  # an abandoned call already has its timeout
            patience = cancel_at - self.log.t_arrive[rid]  # the pod saw the cancel this long after arrival
            outcomes.gave_up(self.log, rid, self.log.t_sent[rid] + patience)
        self._answered(rid, pod.index, cancel_at)

    def _answer(self, pod: Pod, rid: int, now: float, verdict: int) -> None:
        del self._progress[rid]
        if rid in self.abandoned:  # its caller left: it keeps its timeout, the pod did the work
            outcomes.held(self.log, rid, now)
        else:
            outcomes.answered(self.log, rid, now, verdict)
        self._failed.discard(rid)
        self._answered(rid, pod.index, now)
