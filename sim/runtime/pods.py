"""A pod at run time: ``concurrency`` workers in front of one FIFO queue, bounded or not.

Requests reach a pod as (id, arrival time) pairs. Because the queue is FIFO and a
request's service time is drawn when it arrives, its start and finish follow from the
workers' free times (Lindley's recursion, generalised to c workers), so a pod needs no
simulation event per request. The traffic engine hands a pod only arrivals that can no
longer be overtaken by an earlier one, which keeps the order exact. A pod that pushes back
(a queue limit, a connection limit, dropping requests whose client left) decides each
arrival in the same order (:func:`~sim.runtime.requests.rules.fifo_admit`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from sim.randomness import BlockStream
from sim.runtime.requests.rules import ADMITTED, PodLimits, fifo_admit, fifo_starts

__all__ = ["Pod"]

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
    ready_at: float = INF
    terminating_at: float = INF
    deadline: float = INF  # SIGKILL: terminating_at + grace period
    gone_at: float = INF
    routed_at: float = INF  # first installed in the dataplanes
    unrouted_at: float = INF  # last removed from them
    _free: list[float] = field(default_factory=list)
    _pending_ids: list[np.ndarray] = field(default_factory=list)
    _pending_t: list[np.ndarray] = field(default_factory=list)
    _leave: list[float] = field(default_factory=list)  # when the requests in the pod leave it

    def __post_init__(self) -> None:
        self._free = [0.0] * self.concurrency

    @property
    def ready(self) -> bool:
        """EndpointSlice ``ready``: serving and not terminating."""
        return self.ready_at < INF and self.terminating_at == INF

    @property
    def serving(self) -> bool:
        """EndpointSlice ``serving``: the container passed readiness and still runs."""
        return self.ready_at < INF and self.gone_at == INF

    @property
    def busy_until(self) -> float:
        """When the last request handed to this pod so far finishes."""
        return max(self._free)

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
        n = len(t)
        if self.limits.plain_fifo(cancel_at is not None and bool(np.isfinite(cancel_at).any())):
            service = self.service.take(n)
            start = np.asarray(fifo_starts(self._free, t.tolist(), service.tolist()))
            return np.full(n, ADMITTED, dtype=np.int8), start, service
        cancel = [INF] * n if cancel_at is None else cancel_at.tolist()
        fates, starts, services = fifo_admit(self._free, self._leave, self.limits, t.tolist(), cancel, self.service.one)
        return np.array(fates, dtype=np.int8), np.array(starts), np.array(services)

    def admit_one(self, arrive: float, cancel_at: float) -> tuple[int, float, float]:
        """One arrival, in arrival order: its ``(fate, start, service)``."""
        if self.limits.plain_fifo(cancel_at < INF):
            service = self.service.one()
            return ADMITTED, fifo_starts(self._free, (arrive,), (service,))[0], service
        fates, starts, services = fifo_admit(
            self._free, self._leave, self.limits, (arrive,), (cancel_at,), self.service.one
        )
        return fates[0], starts[0], services[0]
