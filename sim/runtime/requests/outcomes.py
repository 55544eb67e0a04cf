"""How a request ends: the one place that decides refused, timeout, unreachable, reset and ok.

During the run an engine records each request's *verdict* as soon as it is known: refused
(REJECT), timeout (DROP), unreachable (nothing answers), rejected (a call failed), reset
(killed with its pod), or SERVED: a pod took it, and whether that answer stands depends on
what only the whole run knows (was the pod gone before it arrived, killed before it
finished, was the client's timeout shorter). :func:`settle` turns every verdict into the
request's ``outcome`` once, after the run; nothing else writes ``outcome``.

Every function takes one request id or an array of them (docs/semantics.md#clients-and-outcomes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.runtime.dataplane import DROP, REJECT
from sim.runtime.requests.request_log import RequestLog
from sim.runtime.requests.rules import ADMITTED, BLACKHOLED, CANCELLED, FULL, NO_LISTENER, OVER_CONNECTIONS

if TYPE_CHECKING:
    from sim.runtime.pods import Pod

__all__ = [
    "OUTCOMES",
    "PENDING",
    "SERVED",
    "TCP_HANG_S",
    "ClientTable",
    "NodeOutages",
    "admitted",
    "answered",
    "dropped",
    "gave_up",
    "no_answer",
    "no_endpoint",
    "outcome_now",
    "pushed_back",
    "refused",
    "served",
    "settle",
    "worked",
]

OUTCOMES = ("ok", "refused", "unreachable", "rejected", "reset", "timeout")
OK, REFUSED, UNREACHABLE, REJECTED, RESET, TIMEOUT = range(len(OUTCOMES))
SERVED = OK  # the provisional verdict of a request a pod took; settle decides if it stands
PENDING = -1  # no verdict yet
#: What a client sees of a pod that turned it away on arrival (rules.turned_away), or whose
#: app was not listening (an RST).
_TURNED_AWAY = {FULL: REJECTED, OVER_CONNECTIONS: REFUSED, NO_LISTENER: REFUSED}
#: How long an established connection to a dead peer hangs before the kernel gives up:
#: tcp_retries2 = 15 retransmissions, ~924.6 s (docs/semantics.md#node-failure).
TCP_HANG_S = 924.6
#: Rows :func:`settle` takes at once (its temporaries: some tens of bytes per row of a block).
_SETTLE_ROWS = 1 << 20


class NodeOutages:
    """When nodes were down: ``[node, start, end]`` spans (end INF until the node recovers).

    A request in flight through a node when it fails (entering there, or served by a pod
    there) gets no answer: its connection hangs until the client's timeout, or TCP gives up
    after :data:`TCP_HANG_S` (docs/semantics.md#node-failure)."""

    def __init__(self) -> None:
        self.spans: list[list[float]] = []

    def fail(self, node: int, at: float) -> list[float]:
        span = [float(node), at, math.inf]
        self.spans.append(span)
        return span

    def hang(self, entry: int, pod_node: int, t_sent: float, t_done: float) -> float | None:
        """When the first outage cut a request sent at ``t_sent`` that would end at ``t_done``."""
        cuts = [s for n, s, _ in self.spans if n in (entry, pod_node) and t_sent < s <= t_done]
        return min(cuts) if cuts else None


@dataclass(frozen=True)
class ClientTable:
    """Per client index (clients, then one per calling Deployment): what their requests'
    fate depends on."""

    external: np.ndarray  # traffic from outside follows externalTrafficPolicy
    connect_timeout_s: np.ndarray  # how long an unanswered SYN waits
    timeout_s: np.ndarray  # the client's request timeout (inf: none)


def refused(log: RequestLog, ids: Any, t_done: Any) -> None:
    """A RST came back: refused at ``t_done``."""
    log.verdict[ids] = REFUSED
    log.t_done[ids] = t_done


def no_answer(log: RequestLog, ids: Any, connect_timeout_s: Any) -> None:
    """Nothing answers the SYN (an address not routable from here, a gone pod, a balancer not
    provisioned yet): ``unreachable`` once the client's connect timeout runs out. It reached
    no pod, so it carries no pod fields."""
    log.pod[ids] = -1
    log.pod_node[ids] = -1
    log.verdict[ids] = UNREACHABLE
    log.t_done[ids] = log.t_sent[ids] + connect_timeout_s


def dropped(log: RequestLog, ids: Any, connect_timeout_s: Any) -> None:
    """The packet is dropped (policy Local, no local endpoint): ``timeout`` after the
    connect timeout."""
    log.verdict[ids] = TIMEOUT
    log.t_done[ids] = log.t_sent[ids] + connect_timeout_s


def no_endpoint(
    log: RequestLog, ids: np.ndarray, t_entry: np.ndarray, action: np.ndarray, clients: ClientTable
) -> None:
    """kube-proxy found no endpoint: REJECT is refused at once (the RST travels back), DROP
    times out (docs/semantics.md#kube-proxy-dataplane)."""
    rejected = action == REJECT
    refused(log, ids[rejected], t_entry[rejected] + log.back_s[ids[rejected]])
    gone = ids[action == DROP]
    dropped(log, gone, clients.connect_timeout_s[log.client[gone]])


def served(log: RequestLog, ids: Any, t_arrive: Any, start: Any, service: Any) -> None:
    """A pod took the request at ``start`` and worked ``service`` seconds on it."""
    worked(log, ids, t_arrive, start, service)
    log.t_done[ids] = start + service + log.back_s[ids]
    log.verdict[ids] = SERVED


def admitted(
    log: RequestLog,
    ids: np.ndarray,
    t_arrive: np.ndarray,
    fate: np.ndarray,
    start: Any,
    service: Any,
    patience: Any,
    clients: ClientTable,
) -> None:
    """What a pod did with arrivals (:func:`~sim.runtime.requests.rules.fifo_admit`): served
    them, answered at once that its queue is full (``rejected``, an HTTP 503), refused the
    connection (``refused``, over ``maxConnections``), or dropped a request whose client had
    given up ``patience`` seconds after sending it (``timeout`` then)
    (docs/semantics.md#servers-that-push-back)."""
    fate = np.asarray(fate)
    if (fate == ADMITTED).all():
        served(log, ids, t_arrive, start, service)
        return
    for kind, verdict in _TURNED_AWAY.items():
        mine = fate == kind
        log.t_arrive[ids[mine]] = t_arrive[mine]
        log.t_done[ids[mine]] = t_arrive[mine] + log.back_s[ids[mine]]
        log.verdict[ids[mine]] = verdict
    gone = fate == CANCELLED
    if gone.any():
        log.t_arrive[ids[gone]] = t_arrive[gone]
        gave_up(log, ids[gone], log.t_sent[ids[gone]] + np.asarray(patience)[gone])
    lost = fate == BLACKHOLED
    if lost.any():
        log.t_arrive[ids[lost]] = t_arrive[lost]
        dropped(log, ids[lost], clients.connect_timeout_s[log.client[ids[lost]]])
    took = fate == ADMITTED
    if took.any():
        served(log, ids[took], t_arrive[took], np.asarray(start)[took], np.asarray(service)[took])


def pushed_back(log: RequestLog, rid: int, t_arrive: float, fate: int, patience: float, clients: ClientTable) -> None:
    """:func:`admitted` for one request the pod did not take (the event engine's case)."""
    log.t_arrive[rid] = t_arrive
    if fate == CANCELLED:
        gave_up(log, rid, log.t_sent[rid] + patience)
        return
    if fate == BLACKHOLED:
        dropped(log, rid, clients.connect_timeout_s[log.client[rid]])
        return
    log.t_done[rid] = t_arrive + log.back_s[rid]
    log.verdict[rid] = _TURNED_AWAY[fate]


def worked(log: RequestLog, ids: Any, t_arrive: Any, start: Any, service: Any) -> None:
    """The pod's side of serving: when it arrived, started and how long it worked (what the
    pod's utilisation counts), whether or not anyone still waits for the answer."""
    log.t_arrive[ids] = t_arrive
    log.t_start[ids] = start
    log.service_s[ids] = service


def gave_up(log: RequestLog, ids: Any, at: Any) -> None:
    """The caller stopped waiting at ``at`` (a call's timeout): ``timeout`` then, whatever the
    pod still does with it."""
    log.verdict[ids] = TIMEOUT
    log.t_done[ids] = at


def answered(log: RequestLog, ids: Any, now: Any, verdict: int) -> None:
    """A pod that held the request (waiting on its calls) answers at ``now`` with
    ``verdict``: SERVED, REJECTED (a call failed) or RESET (the pod was killed)."""
    held(log, ids, now)
    log.t_done[ids] = now + log.back_s[ids]
    log.verdict[ids] = verdict


def held(log: RequestLog, ids: Any, now: Any) -> None:
    """A calling pod let go of the request at ``now``: it held a worker since ``t_start``."""
    log.service_s[ids] = now - log.t_start[ids]


def settle(
    log: RequestLog,
    kills_by_pod: list[list[float]],
    gone_by_pod: np.ndarray,
    clients: ClientTable,
    outages: NodeOutages | None = None,
) -> None:
    """Write every request's outcome from its verdict and what the whole run knows.

    - SERVED by a pod that had gone before it arrived: nothing answered, ``unreachable``
      after the client's connect timeout;
    - SERVED but still in the pod when it was killed (the first kill after it arrived: a
      crash, a liveness restart, SIGKILL at the end of the grace period): ``reset`` then
      (the RST travels back);
    - in flight through a node when the node failed: ``timeout``, its connection hangs;
    - slower than its client's timeout: ``timeout`` at that moment;
    - a request whose call failed fails too: ``rejected`` (the pod answered with an error).
    """
    n = log.size
    assert (log.verdict[:n] != PENDING).all(), "every request sent has a verdict"
    # Every rule but the last looks at one request at a time: taken in blocks of rows, the
    # index arrays and temporaries stay the size of a block, not of 10^7 requests.
    for lo in range(0, n, _SETTLE_ROWS):
        _settle_rows(log, lo, min(n, lo + _SETTLE_ROWS), kills_by_pod, gone_by_pod, clients, outages)
    _fail_parents(log.outcome[:n], log.parent[:n])


def _settle_rows(
    log: RequestLog,
    lo: int,
    hi: int,
    kills_by_pod: list[list[float]],
    gone_by_pod: np.ndarray,
    clients: ClientTable,
    outages: NodeOutages | None,
) -> None:
    """:func:`settle`'s rules for the requests ``lo`` to ``hi`` (all but the failed calls)."""
    verdict = log.verdict[lo:hi]
    outcome = log.outcome[lo:hi]
    outcome[:] = verdict
    pod, t_done, t_sent = log.pod[lo:hi], log.t_done[lo:hi], log.t_sent[lo:hi]
    t_arrive, client = log.t_arrive[lo:hi], log.client[lo:hi]
    # A pod answers on arrival (serves, or pushes back: never started); a gone pod answers nothing.
    at_pod = np.flatnonzero((pod >= 0) & ((verdict == SERVED) | np.isnan(log.t_start[lo:hi])))
    reached = at_pod[~np.isnan(t_arrive[at_pod])]
    if len(reached):
        gone = t_arrive[reached] >= gone_by_pod[pod[reached]]
        lost = reached[gone]
        outcome[lost] = UNREACHABLE
        pod[lost] = -1  # it never reached a live pod
        log.pod_node[lo:hi][lost] = -1
        t_done[lost] = t_sent[lost] + clients.connect_timeout_s[client[lost]]
    served_ = np.flatnonzero((pod >= 0) & (verdict == SERVED)) + lo
    _reset_killed(log, served_, kills_by_pod)
    limit = clients.timeout_s[client]
    if outages is not None:
        for node, start, _ in outages.spans:
            through = (log.entry_node[lo:hi] == node) | (log.pod_node[lo:hi] == node)
            cut = np.flatnonzero(
                through & (t_sent < start) & (t_done >= start) & (outcome != TIMEOUT) & (outcome != UNREACHABLE)
            )
            outcome[cut] = TIMEOUT
            t_done[cut] = np.minimum(t_sent[cut] + limit[cut], start + TCP_HANG_S)
    late = (t_done - t_sent) > limit
    outcome[late] = TIMEOUT
    t_done[late] = t_sent[late] + limit[late]


def _reset_killed(log: RequestLog, served: np.ndarray, kills_by_pod: list[list[float]]) -> None:
    """Requests served by a pod still in it at the first kill after they arrived: ``reset``
    then. Taken kill by kill (most pods have at most one, SIGKILL), so it stays vectorised."""
    deepest = max((len(k) for k in kills_by_pod), default=0)
    pending = served
    for k in range(deepest):
        if not len(pending):
            return
        kth = np.array([kills[k] if len(kills) > k else math.inf for kills in kills_by_pod])
        at = kth[log.pod[pending]]
        before = log.t_arrive[pending] < at
        mine = pending[before]
        killed = log.t_start[mine] + log.service_s[mine] > at[before]
        cut = mine[killed]
        kill = at[before][killed]
        log.outcome[cut] = RESET
        log.t_done[cut] = kill + log.back_s[cut]
        # The pod worked on it until the kill, or never started it (it waited in the queue).
        started = log.t_start[cut] < kill
        log.service_s[cut] = np.where(started, kill - log.t_start[cut], np.nan)
        log.t_start[cut[~started]] = np.nan
        pending = pending[~before]  # arrived after this kill: the next one may cut them


def outcome_now(
    log: RequestLog, rid: int, pods: list[Pod], clients: ClientTable, outages: NodeOutages | None = None
) -> tuple[int, float]:
    """``(outcome, t_done)`` of one request as its client learns it, during the run: the rules
    of :func:`settle` for one request, with the pods' deadlines and exits as known by now
    (a client decides to retry on this, a calling pod whether its call failed;
    ``tests/test_retries.py`` checks it agrees with what :func:`settle` writes). A request
    without a verdict yet has timed out."""
    t_sent = float(log.t_sent[rid])
    limit = float(clients.timeout_s[log.client[rid]])
    verdict = int(log.verdict[rid])
    if verdict == PENDING:
        return TIMEOUT, t_sent + limit
    outcome, t_done = verdict, float(log.t_done[rid])
    index = int(log.pod[rid])
    if index >= 0 and (verdict == SERVED or math.isnan(log.t_start[rid])):
        pod = pods[index]
        if log.t_arrive[rid] >= pod.gone_at:  # NaN (never arrived) compares False
            outcome, t_done = UNREACHABLE, t_sent + float(clients.connect_timeout_s[log.client[rid]])
        elif verdict == SERVED:
            kill = pod.first_kill_after(float(log.t_arrive[rid]))
            if log.t_start[rid] + log.service_s[rid] > kill:
                outcome, t_done = RESET, kill + float(log.back_s[rid])
    if outages is not None and outcome not in (TIMEOUT, UNREACHABLE):
        cut = outages.hang(int(log.entry_node[rid]), int(log.pod_node[rid]), t_sent, t_done)
        if cut is not None:
            outcome, t_done = TIMEOUT, min(t_sent + limit, cut + TCP_HANG_S)
    if t_done - t_sent > limit:
        return TIMEOUT, t_sent + limit
    return outcome, t_done


def _fail_parents(outcome: np.ndarray, parent: np.ndarray) -> None:
    """Up the chain of calls: a request whose call failed answers with an error."""
    while True:
        failed = (parent >= 0) & (outcome != OK)
        parents = parent[failed]
        flip = parents[outcome[parents] == OK]
        if not len(flip):
            return
        outcome[flip] = REJECTED
