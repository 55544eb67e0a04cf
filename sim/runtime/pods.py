"""A pod at run time: ``concurrency`` workers in front of one FIFO queue, bounded or not.

Requests reach a pod as (id, arrival time) pairs. Because the queue is FIFO and a
request's service time is drawn when it arrives, its start and finish follow from the
workers' free times (Lindley's recursion, generalised to c workers), so a pod needs no
simulation event per request. The traffic engine hands a pod only arrivals that can no
longer be overtaken by an earlier one, which keeps the order exact. A pod that pushes back
(a queue limit, a connection limit, dropping requests whose client left) decides each
arrival in the same order (:func:`~sim.runtime.requests.rules.fifo_admit`).

A pod's life closes it to arrivals at times the control plane knows when it decides them
(docs/semantics.md#pod-lifecycle): while its container is down or its app no longer listens
(arrivals are refused: the pod's IP answers RST), or while its node is down (arrivals go
unanswered). A kill (a crash, a liveness restart, SIGKILL) resets what the pod holds then,
and a restarted container starts with an empty queue. These are :attr:`Pod.gates`,
:attr:`Pod.kills` and the FIFO restarts, all by time, so a request's fate does not depend on
when the engine handles it.

A pod of a metered Deployment keeps a :class:`~sim.runtime.pod_usage.PodUsage` account of what
it uses (CPU, working set, requests served): every admitted request passes through
:meth:`Pod.admit` or :meth:`Pod.admit_one`, so both engines record it in one place.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from sim.randomness import BlockStream
from sim.runtime.pod_usage import PodUsage, running_at, running_time
from sim.runtime.requests.fifo_kernels import KERNEL_MIN, fifo_starts_array
from sim.runtime.requests.rules import (
    ADMITTED,
    BLACKHOLED,
    CANCELLED,
    NO_LISTENER,
    PodLimits,
    fifo_admit,
    fifo_starts,
)

__all__ = ["BLACKHOLED", "INF", "NO_LISTENER", "Pod"]

INF = math.inf


@dataclass(eq=False)
class Pod:
    """Run-time state of one pod (the spec is the Deployment it came from)."""

    index: int
    name: str
    deployment: str
    labels: dict[str, str]
    node: int | None  # None while Pending (no node fits)
    ip: str | None
    concurrency: int
    service: BlockStream
    grace_period_s: float
    created_at: float
    limits: PodLimits = field(default_factory=PodLimits)
    ready_at: float = INF  # first Ready
    condition_ready: bool = False  # the pod's Ready condition now
    restarts: int = 0
    terminating_at: float = INF
    deadline: float = INF  # SIGKILL: terminating_at + grace period
    gone_at: float = INF
    routed_at: float = INF  # first installed in the dataplanes
    unrouted_at: float = INF  # last removed from them
    usage: PodUsage | None = None  # its usage account, for pods the metrics pipeline reads
    first_up: float = INF  # when its app first came up (its container started + startupTime)
    _free: list[float] = field(default_factory=list)
    _pending_ids: list[np.ndarray] = field(default_factory=list)
    _pending_t: list[np.ndarray] = field(default_factory=list)
    _leave: list[float] = field(default_factory=list)  # when the requests in the pod leave it
    #: Closed to arrivals in ``[start, end)``: NO_LISTENER (refused) or BLACKHOLED (no answer).
    gates: list[list[float]] = field(default_factory=list)  # [start, end, kind]
    #: When what the pod holds was reset (crash, liveness restart, SIGKILL), in time order.
    kills: list[float] = field(default_factory=list)
    _fresh: list[float] = field(default_factory=list)  # when a restarted container's app came up
    _fresh_seen: int = 0  # of those, how many the FIFO state has been reset for
    _epoch: float = 0.0  # when the queue last started (afresh)

    def __post_init__(self) -> None:
        self._free = [0.0] * self.concurrency

    @property
    def ready(self) -> bool:
        """EndpointSlice ``ready``: serving and not terminating."""
        return self.condition_ready and self.terminating_at == INF

    @property
    def serving(self) -> bool:
        """EndpointSlice ``serving``: the pod's Ready condition, while it has not gone."""
        return self.condition_ready and self.gone_at == INF

    # -- lifecycle (set by the control plane, at or before the times they name) ----------
    def close(self, start: float, end: float = INF, kind: int = NO_LISTENER) -> list[float]:
        """Turn arrivals in ``[start, end)`` away; the gate is returned so its end can be set later."""
        gate = [start, end, float(kind)]
        self.gates.append(gate)
        return gate

    def kill(self, at: float, app_up_at: float = INF) -> list[float]:
        """Reset what the pod holds at ``at``; arrivals are refused until the restarted app is
        up at ``app_up_at`` (INF: not known yet, or never), when its queue starts empty. The
        gate is returned so the end can be set once known (:meth:`reopen`)."""
        bisect.insort(self.kills, at)
        return self.close(at, app_up_at)

    def reopen(self, gate: list[float], app_up_at: float) -> None:
        """A restarted container's app is up: the gate after a kill ends, the queue starts empty."""
        gate[1] = app_up_at
        bisect.insort(self._fresh, app_up_at)

    def app_up(self, at: float) -> None:
        """The pod's container started; its app is up at ``at`` (only the first counts: a
        restart's is in :meth:`reopen`)."""
        self.first_up = min(self.first_up, at)

    def first_kill_after(self, t: float) -> float:
        """The first kill strictly after ``t`` (INF if none)."""
        i = bisect.bisect_right(self.kills, t)
        return self.kills[i] if i < len(self.kills) else INF

    def gate_at(self, t: float) -> int | None:
        """Whether an arrival at ``t`` is turned away: NO_LISTENER, BLACKHOLED, or None."""
        found = None
        for start, end, kind in self.gates:
            if start <= t < end:
                if kind == BLACKHOLED:
                    return BLACKHOLED  # the node is down: nothing answers, whatever the pod does
                found = NO_LISTENER
        return found

    def in_pod(self, t: float) -> int:
        """Requests in the pod at ``t`` (waiting or served), when the pod tracks them."""
        return sum(1 for leave in self._leave if leave > t)

    def restart_fifo(self, t: float) -> None:
        """Before an arrival (or a probe) at ``t``: start the queue afresh if a restarted app
        came up since."""
        fresh = self._fresh
        seen = self._fresh_seen
        while seen < len(fresh) and fresh[seen] <= t:
            up = fresh[seen]
            self._free = [up] * self.concurrency
            self._leave = []
            self._epoch = up
            seen += 1
        self._fresh_seen = seen

    @property
    def busy_until(self) -> float:
        """When the last request handed to this pod so far finishes, or is cut by a kill (the
        first kill after its queue last started afresh)."""
        return min(max(self._free), self.first_kill_after(self._epoch))

    @property
    def has_pending(self) -> bool:
        return bool(self._pending_ids)

    def enqueue(self, ids: np.ndarray, t_arrive: np.ndarray) -> None:
        """Requests on their way to this pod, arriving at ``t_arrive``."""
        self._pending_ids.append(ids)
        self._pending_t.append(t_arrive)

    def arrivals_before(self, limit: float) -> tuple[np.ndarray, np.ndarray] | None:
        """Take every pending arrival before ``limit``, in FIFO order: ``(ids, arrival)``, or
        None if there are none. Arrivals at or after ``limit`` stay pending."""
        if not self._pending_ids:
            return None
        ids = np.concatenate(self._pending_ids)
        t = np.concatenate(self._pending_t)
        order = np.lexsort((ids, t))
        ids, t = ids[order], t[order]
        cut = len(t) if limit == INF else int(np.searchsorted(t, limit, side="left"))
        if cut < len(t):
            self._pending_ids, self._pending_t = [ids[cut:]], [t[cut:]]
            ids, t = ids[:cut], t[:cut]
        else:
            self._pending_ids, self._pending_t = [], []
        if cut == 0:
            return None
        return ids, t

    def admit(self, t: np.ndarray, cancel_at: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Arrivals at ``t`` (FIFO order) whose clients give up as the pod sees it at
        ``cancel_at`` (None: none of them gives up): each one's ``(fate, start, service)``
        (see :func:`~sim.runtime.requests.rules.fifo_admit`)."""
        if (self.gates or self._fresh_seen < len(self._fresh)) and self._still_gated(float(t[0])):
            return self._admit_gated(t, cancel_at)
        return self._admit_open(t, cancel_at)

    def closed_at(self, t: float) -> int | None:
        """For an arrival at ``t`` (arrivals come in time order): NO_LISTENER, BLACKHOLED, or
        None when the pod takes it (its queue restarted first if a restarted app came up)."""
        if (self.gates or self._fresh_seen < len(self._fresh)) and self._still_gated(t):
            return self.gate_at(t)
        return None

    def _still_gated(self, t: float) -> bool:
        """Before arrivals from ``t`` on (they come in time order): apply restarts up to ``t`` and
        drop gates that ended by then (an ended gate never changes again), so a pod whose crash
        is over goes back to the plain path; whether any gate or restart is still ahead."""
        self.restart_fifo(t)
        self.gates = [gate for gate in self.gates if gate[1] > t]
        return bool(self.gates) or self._fresh_seen < len(self._fresh)

    def _admit_gated(self, t: np.ndarray, cancel_at: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`admit` for a pod with gates: arrivals at a closed pod are turned away, the
        rest taken in runs between FIFO restarts, in order."""
        n = len(t)
        fate = np.full(n, ADMITTED, dtype=np.int8)
        start, service = np.full(n, np.nan), np.full(n, np.nan)
        times = t.tolist()
        closed = [self.gate_at(x) for x in times]
        i = 0
        while i < n:
            kind = closed[i]
            if kind is not None:
                fate[i] = kind
                i += 1
                continue
            self.restart_fifo(times[i])
            j = i + 1
            nxt = self._fresh[self._fresh_seen] if self._fresh_seen < len(self._fresh) else INF
            while j < n and closed[j] is None and times[j] < nxt:
                j += 1
            part = slice(i, j)
            f, s, v = self._admit_open(t[part], None if cancel_at is None else cancel_at[part])
            fate[part], start[part], service[part] = f, s, v
            i = j
        return fate, start, service

    def _admit_open(self, t: np.ndarray, cancel_at: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = len(t)
        usage = self.usage
        if self.limits.plain_fifo(cancel_at is not None and bool(np.isfinite(cancel_at).any())):
            service = self.service.take(n)
            if n >= KERNEL_MIN:
                start = fifo_starts_array(self._free, t, service)
            else:
                start = np.asarray(fifo_starts(self._free, t.tolist(), service.tolist()))
            if usage is not None:
                usage.served(t.copy(), start, service, service)
            return np.full(n, ADMITTED, dtype=np.int8), start, service
        times = t.tolist()
        cancel = [INF] * n if cancel_at is None else cancel_at.tolist()
        drawn: list[float] | None = None if usage is None else []
        fates, starts, services = fifo_admit(
            self._free, self._leave, self.limits, times, cancel, self.service.one, drawn
        )
        fate, begin, served = np.array(fates, dtype=np.int8), np.array(starts), np.array(services)
        if usage is not None:  # recorded as columns: one Python call per request here was a hot spot
            cancelled = np.asarray(cancel, dtype=float)
            usage.admitted(t, cancelled, fate == ADMITTED, fate == CANCELLED, begin, served, np.array(drawn or []))
        return fate, begin, served

    def admit_one(self, arrive: float, cancel_at: float) -> tuple[int, float, float]:
        """One arrival, in arrival order: its ``(fate, start, service)``."""
        closed = self.closed_at(arrive)
        if closed is not None:
            return closed, math.nan, math.nan
        usage = self.usage
        if self.limits.plain_fifo(cancel_at < INF):
            service = self.service.one()
            start = fifo_starts(self._free, (arrive,), (service,))[0]
            if usage is not None:
                usage.served_one(arrive, start, service, service)
            return ADMITTED, start, service
        drawn: list[float] | None = None if usage is None else []
        fates, starts, services = fifo_admit(
            self._free, self._leave, self.limits, (arrive,), (cancel_at,), self.service.one, drawn
        )
        if usage is not None:
            self._account(usage, (arrive,), (cancel_at,), fates, starts, services, drawn or [])
        return fates[0], starts[0], services[0]

    @staticmethod
    def _account(
        usage: PodUsage,
        arrivals: Sequence[float],
        cancel_at: Sequence[float],
        fates: list[int],
        starts: list[float],
        services: list[float],
        drawn: list[float],
    ) -> None:
        """Record what :func:`fifo_admit` decided: served requests with their unstretched draws
        (in order), and requests that waited until their client gave up."""
        taken = iter(drawn)
        for arrive, cancel, fate, start, service in zip(arrivals, cancel_at, fates, starts, services, strict=True):
            if fate == ADMITTED:
                usage.served_one(arrive, start, service, next(taken))
            elif fate == CANCELLED:
                usage.waited(arrive, cancel)

    # -- usage (docs/semantics.md#cpu-and-memory-usage) ----------------------------------------
    # Read after the request engine has caught up to t, with t never decreasing on one pod.
    def cpu_seconds(self, t: float) -> float:
        """CPU-seconds the pod used by ``t`` (a cumulative counter, as cAdvisor's)."""
        usage = self._usage()
        running = running_time(t, self.first_up, self.gone_at, self.kills, self._fresh)
        return usage.cpu_seconds(t, running, self.kills)

    def working_set_bytes(self, t: float) -> float:
        """The pod's memory working set at ``t``: base while it runs + perRequest × requests in it."""
        usage = self._usage()
        return usage.working_set_bytes(
            t, running_at(t, self.first_up, self.gone_at, self.kills, self._fresh), self.kills
        )

    def requests_total(self, t: float) -> int:
        """Requests served (a worker took them) that arrived by ``t``: ``http_requests_total``."""
        return self._usage().requests_total(t, self.kills)

    def in_flight(self, t: float) -> int:
        """Requests in the pod at ``t``, waiting or served."""
        return self._usage().in_flight(t, self.kills)

    def _usage(self) -> PodUsage:
        assert self.usage is not None, f"pod {self.name} keeps no usage account (its Deployment is not metered)"
        return self.usage
