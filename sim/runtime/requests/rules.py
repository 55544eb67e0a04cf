"""The request path's rules, once, for both engines.

Every function takes one request (scalars) or many (numpy arrays) alike, so the batch engine
calls them on a whole batch and the event engine on one request, and the two cannot drift.
The event engine is the reference semantics; the batch engine is its fast path for the
stateless case (see :mod:`sim.runtime.requests.engine_choice`).

The draw contract: which random stream each step consumes, and when. Both engines consume
every stream in the same order, so a scenario both can run gives identical results
(``tests/test_engines_agree.py`` checks it on generated scenarios).

- ``client/<name>/arrivals``: send times, in blocks, in send order (:func:`arrival_stream`
  in :mod:`sim.runtime.requests.clients`): one exponential draw per ``poisson`` send (mapped
  through the rate profile's inverse cumulative intensity unless the rate is constant from
  time 0), none for ``constant`` arrivals; blocks go on being drawn past ``stop``, whose
  sends are ``inf``.
- ``client/<name>/source-ip``, ``/entry``, ``/link-out``, ``/link-back``: one draw each per
  request at send time, in send order, for the requests that use them (a source address only
  when ``ips > 1``; an entry node only ``via: nodePort``; links for the ways that cross them).
- ``node/<name>/kube-proxy``: one uniform draw per new connection that has an endpoint to
  choose from (iptables/nftables, or a balancer's ``random``), in the order connections reach
  the node, (time, request id); none when the rules REJECT or DROP, or conntrack or session
  affinity decides.
- ``node/<name>/hop-out``, ``/hop-back``: one draw each per connection routed at that node,
  in the same order, used only when the pod is on another node (:func:`pod_hop`).
- ``deployment/<name>/service`` (per pod): one service time per request a pod starts, in the
  order the pod's FIFO queue takes them (:func:`fifo_starts`, :func:`fifo_admit`): none for a
  request it pushes back or drops.
- ``client/<name>/retry-entry``, ``/retry-link-out``, ``/retry-link-back``,
  ``/backoff``: a retry's own draws, in the event engine's order
  (docs/semantics.md#clients-that-retry).
- ``lb/<service>/choice``, ``/latency-out``, ``/latency-back``: per connection reaching the
  balancer, in time order (event engine only).
- ``scheduler/ties`` (the control plane's, not a request's): one uniform draw per pod the
  scheduler places when two or more nodes share the top score, in the order pods are
  scheduled (:mod:`sim.runtime.placement`); none for a ``nodeName`` pod, a single feasible node,
  a single top score or a pod that fits nowhere.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ADMITTED",
    "BLACKHOLED",
    "CANCELLED",
    "FULL",
    "NO_LISTENER",
    "OVER_CONNECTIONS",
    "PodLimits",
    "fifo_admit",
    "fifo_starts",
    "pod_hop",
    "turned_away",
]

#: What a pod does with an arriving request (:func:`fifo_admit`); a pod closed by its life
#: (:class:`~sim.runtime.pods.Pod` gates) refuses it (NO_LISTENER: the app does not listen)
#: or never answers (BLACKHOLED: its node is down).
ADMITTED, FULL, OVER_CONNECTIONS, CANCELLED, NO_LISTENER, BLACKHOLED = range(6)


def pod_hop(entry_node: Any, pod_node: Any, hop_out: Any, hop_back: Any) -> tuple[Any, Any]:
    """The extra way out and back when the chosen pod runs on another node than the entry node.

    kube-proxy DNATs to the pod and SNATs to the entry node, so the reply returns through it:
    a cross-node pod costs one node hop each way, a local one nothing
    (docs/semantics.md#kube-proxy-dataplane). Multiplying by the boolean keeps the drawn hop
    bit for bit where it applies and gives exactly 0.0 where it does not.

    >>> pod_hop(0, 1, 0.2, 0.3), pod_hop(1, 1, 0.2, 0.3)
    ((0.2, 0.3), (0.0, 0.0))
    """
    cross = pod_node != entry_node
    return hop_out * cross, hop_back * cross


def fifo_starts(free: list[float], arrivals: Sequence[float], service: Sequence[float]) -> list[float]:
    """Start times of requests taken in FIFO order by workers free at ``free`` (a min-heap,
    updated in place): Lindley's recursion for c workers, start = max(arrival, earliest free).

    One worker is the common case and is kept as a plain float; the rule is the same.

    >>> free = [0.0, 0.0]
    >>> fifo_starts(free, [0.0, 0.0, 0.0], [1.0, 2.0, 1.0]), sorted(free)
    ([0.0, 0.0, 1.0], [2.0, 2.0])
    """
    starts = [0.0] * len(arrivals)
    if len(free) == 1:
        at = free[0]
        for i, arrive in enumerate(arrivals):
            at = arrive if arrive > at else at
            starts[i] = at
            at += service[i]
        free[0] = at
        return starts
    for i, arrive in enumerate(arrivals):
        earliest = free[0]
        begin = arrive if arrive > earliest else earliest
        starts[i] = begin
        heapq.heapreplace(free, begin + service[i])
    return starts


@dataclass(frozen=True)
class PodLimits:
    """How a pod pushes back (docs/semantics.md#servers-that-push-back): ``queue_limit``
    requests may wait beyond the busy workers, ``max_connections`` connections may be open
    at once (None: unbounded), and with ``drop`` a waiting request whose client gave up is
    never started."""

    queue_limit: int | None = None
    max_connections: int | None = None
    drop: bool = True
    track: bool = False  # keep who is in the pod even without a limit (a probe counts them)
    #: CFS quota in cores when the pod's demand can exceed it (None: never throttled), and the
    #: cores one busy worker demands (docs/semantics.md#cpu-and-memory-usage).
    cpu_limit: float | None = None
    cpu_demand: float = 1.0

    @property
    def bounded(self) -> bool:
        return self.queue_limit is not None or self.max_connections is not None

    def plain_fifo(self, any_cancellable: bool) -> bool:
        """Whether arrivals (``any_cancellable``: some has a finite cancel time) need nothing
        but :func:`fifo_starts`: no limit, nobody counted, no throttling, and no request that
        could be dropped."""
        return not self.bounded and not self.track and self.cpu_limit is None and not (self.drop and any_cancellable)

    def stretch(self, busy: int) -> float:
        """CFS throttling: the factor on the service time of a request that starts while
        ``busy`` workers serve (itself included), ``max(1, busy × demand / limit)``.

        >>> PodLimits(cpu_limit=1.0).stretch(4), PodLimits(cpu_limit=2.0).stretch(1)
        (4.0, 1.0)
        """
        if self.cpu_limit is None:
            return 1.0
        return max(1.0, busy * self.cpu_demand / self.cpu_limit)


def turned_away(present: int, workers: int, limits: PodLimits) -> int | None:
    """Whether an arrival that finds ``present`` requests in a pod of ``workers`` (those in
    service and those waiting) is refused (OVER_CONNECTIONS: one connection per request) or
    answered at once (FULL: ``queue_limit`` wait already), or None: it gets in.

    >>> turned_away(3, 2, PodLimits(queue_limit=1)), turned_away(2, 2, PodLimits(queue_limit=1))
    (1, None)
    """
    if limits.max_connections is not None and present >= limits.max_connections:
        return OVER_CONNECTIONS
    if limits.queue_limit is not None and present - workers >= limits.queue_limit:
        return FULL
    return None


def fifo_admit(
    free: list[float],
    leave: list[float],
    limits: PodLimits,
    arrivals: Sequence[float],
    cancel_at: Sequence[float],
    draw: Callable[[], float],
    drawn: list[float] | None = None,
) -> tuple[list[int], list[float], list[float]]:
    """FIFO service with push-back, one arrival at a time, in arrival order: each request's
    ``(fate, start, service)`` (start and service NaN unless ADMITTED).

    ``free`` is the workers' min-heap of free times (as in :func:`fifo_starts`), ``leave`` a
    min-heap of the times the requests in the pod leave it (both updated in place). An
    arrival finds ``len(leave)`` requests in the pod once those gone by then are popped; with
    c workers and FIFO, all of them but c wait. It is refused if ``max_connections`` are
    open (one per request: per-request connections), answered at once ``FULL`` if
    ``queue_limit`` wait already (M/M/c/K with K = c + queueLimit), and with ``drop`` left
    unstarted if no worker is free by ``cancel_at`` (when the server sees the client's
    closed connection): it leaves then, ``CANCELLED``. Only a started request draws its
    service time (``draw``), so the draw contract holds. A throttled pod
    (``limits.cpu_limit``) stretches it by :meth:`PodLimits.stretch` of the workers busy when
    it starts; ``drawn`` (if given) receives each started request's draw, unstretched.

    >>> free, leave = [0.0], []
    >>> fifo_admit(free, leave, PodLimits(queue_limit=1), [0.0, 0.0, 0.0], [9.0] * 3, lambda: 1.0)[0]
    [0, 0, 1]
    """
    c = len(free)
    nan = math.nan
    fates, starts, services = [], [], []
    track = limits.bounded or limits.track  # who is in the pod matters only to a limit or a probe
    throttled = limits.cpu_limit is not None
    for arrive, cancel in zip(arrivals, cancel_at, strict=True):
        while leave and leave[0] <= arrive:
            heapq.heappop(leave)
        refused = turned_away(len(leave), c, limits)
        if refused is not None:
            fates.append(refused)
        else:
            earliest = free[0]
            begin = arrive if arrive > earliest else earliest
            if limits.drop and begin > cancel:
                fates.append(CANCELLED)
                if track:
                    heapq.heappush(leave, cancel)
            else:
                service = draw()
                if drawn is not None:
                    drawn.append(service)
                if throttled:
                    service *= limits.stretch(1 + sum(1 for at in free if at > begin))
                heapq.heapreplace(free, begin + service)
                if track:
                    heapq.heappush(leave, begin + service)
                fates.append(ADMITTED)
                starts.append(begin)
                services.append(service)
                continue
        starts.append(nan)
        services.append(nan)
    return fates, starts, services
