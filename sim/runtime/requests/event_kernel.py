"""The event engine's common case, compiled: entries and arrivals up to a horizon (imported
after :func:`sim.compiled.use_svcsim_cache`, by :meth:`EventArrays.run`).

Between two control events the request path of most scenarios is requests entering nodes
(conntrack or kube-proxy chooses their pod) and arriving at pods (a FIFO queue with c
workers). :func:`run_until` runs exactly those two events of
:class:`~sim.runtime.requests.events.EventEngine`, in the same order ((time, request id), from
the same heap discipline) with the same rules, on the engine's state laid out as arrays by
:mod:`~sim.runtime.requests.event_arrays`: the same random numbers are drawn in the same order,
so the results are identical, bit for bit, to the engine's Python handlers
(``tests/test_event_kernel.py`` runs both). What it covers: per-request and keep-alive
connections (``requestsPerConnection``, ``maxAge``, pods terminating, gone or killed),
iptables/nftables random choice and IPVS rr/wrr, lc/wlc/sed and nq, REJECT and DROP, nodes
down, pods' gates and restarts, clients that give up (``onCancel: drop``). Anything else
(calls, retries, balancers, session affinity, queue and connection limits, CPU throttling,
metered pods, hashing schedulers) runs in Python (:meth:`EventArrays.covers`).

Random draws come from the streams' blocks, copied into one buffer; when a block runs out the
kernel returns before the event that needs it, and the caller refills it and calls again.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

from sim.runtime.dataplane import DROP, REJECT
from sim.runtime.requests.event_arrays import LEAST_CONNECTION, NEVER_QUEUE, RANDOM, ROUND_ROBIN
from sim.runtime.requests.events import ARRIVE, ENTRY
from sim.runtime.requests.outcomes import OK, REFUSED, TIMEOUT
from sim.runtime.requests.rules import BLACKHOLED, CANCELLED, NO_LISTENER

__all__ = ["DONE", "run_until"]

DONE = -1  # the horizon was reached (else: the stream whose block ran out)
_INF = math.inf

# The functions never allocate: they only read and write the arrays they are given, so they
# run without the runtime's reference counting (``_nrt=False``, as numba's own string
# functions do), which otherwise costs more than the events themselves. Everything below
# is inlined into :func:`run_until`.
_OPTIONS: dict[str, Any] = {"cache": True, "_nrt": False}
_compiled = njit(**_OPTIONS)
_inlined = njit(inline="always", **_OPTIONS)


@_inlined
def _before(t: np.ndarray, rid: np.ndarray, kind: np.ndarray, i: int, j: int) -> bool:
    """Heap order of the engine's tuples (time, request id, kind)."""
    if t[i] != t[j]:
        return t[i] < t[j]
    if rid[i] != rid[j]:
        return rid[i] < rid[j]
    return kind[i] < kind[j]


@_inlined
def _swap(t: np.ndarray, rid: np.ndarray, kind: np.ndarray, i: int, j: int) -> None:
    """Entries ``i`` and ``j`` of a heap kept as three arrays (events; closing connections)."""
    t[i], t[j] = t[j], t[i]
    rid[i], rid[j] = rid[j], rid[i]
    kind[i], kind[j] = kind[j], kind[i]


@_inlined
def _sift_down(t: np.ndarray, rid: np.ndarray, kind: np.ndarray, n: int) -> None:
    i = 0
    while True:
        low = 2 * i + 1
        if low >= n:
            return
        if low + 1 < n and _before(t, rid, kind, low + 1, low):
            low += 1
        if not _before(t, rid, kind, low, i):
            return
        _swap(t, rid, kind, i, low)
        i = low


@_inlined
def _sift_up(t: np.ndarray, rid: np.ndarray, kind: np.ndarray, i: int) -> None:
    while i > 0:
        up = (i - 1) // 2
        if not _before(t, rid, kind, i, up):
            return
        _swap(t, rid, kind, i, up)
        i = up


@_inlined
def _closing_push(cl_t: np.ndarray, cl_node: np.ndarray, cl_pod: np.ndarray, cl_n: np.ndarray, when, node, pod) -> None:
    """A counted connection closes at ``when`` (Dataplane.closes_at); one heap for all nodes."""
    i = cl_n[0]
    cl_t[i], cl_node[i], cl_pod[i] = when, node, pod
    cl_n[0] = i + 1
    while i > 0:
        up = (i - 1) // 2
        if cl_t[up] <= cl_t[i]:
            break
        _swap(cl_t, cl_node, cl_pod, i, up)
        i = up


@_inlined
def _expire(cl_t: np.ndarray, cl_node: np.ndarray, cl_pod: np.ndarray, cl_n: np.ndarray, open_, now) -> None:
    """Dataplane._expire for every node at once: a node reads its counts only after expiring
    its own closings up to now, and events come in time order, so expiring all of them early
    changes no count that is read."""
    while cl_n[0] > 0 and cl_t[0] <= now:
        open_[cl_node[0], cl_pod[0]] -= 1
        n = cl_n[0] - 1
        cl_n[0] = n
        cl_t[0], cl_node[0], cl_pod[0] = cl_t[n], cl_node[n], cl_pod[n]
        i = 0
        while True:
            low = 2 * i + 1
            if low >= n:
                break
            if low + 1 < n and cl_t[low + 1] < cl_t[low]:
                low += 1
            if cl_t[i] <= cl_t[low]:
                break
            _swap(cl_t, cl_node, cl_pod, i, low)
            i = low


@_inlined
def _first_kill_after(k_start: np.ndarray, k_t: np.ndarray, pod, t) -> float:
    """Pod.first_kill_after: the first kill strictly after ``t``."""
    for i in range(k_start[pod], k_start[pod + 1]):
        if k_t[i] > t:
            return k_t[i]
    return _INF


@_inlined
def _riding(conns, pods, rid, now) -> int:
    """The keep-alive slot whose open connection request ``rid`` rides, or -1 (no mutation)."""
    slot_of, _, has, _, _, _, opened_at, c_pod, requests, _, max_requests, max_age_s = conns
    if rid >= len(slot_of) or slot_of[rid] < 0:
        return -1
    s = slot_of[rid]
    pod = c_pod[s]
    if not has[s] or pod < 0:
        return -1
    terminating, gone, k_start, k_t = pods[5], pods[6], pods[7], pods[8]
    opened = opened_at[s]
    fresh = (max_requests[s] < 0 or requests[s] < max_requests[s]) and now - opened < max_age_s[s]
    alive = terminating[pod] > now and gone[pod] > now and _first_kill_after(k_start, k_t, pod, opened) > now
    return s if fresh and alive else -1


@_inlined
def _resolve(conns, closing, riding, client_ip, connection, rid, now) -> int:
    """ConnectionTable.resolve once :func:`_riding` decided: ride the slot's connection, or
    open a new one in it (returned), closing the old one; -1 for a one-request connection."""
    slot_of, has, c_id, c_ip = conns[0], conns[2], conns[3], conns[4]
    c_node, opened_at, c_pod, requests, counted = conns[5], conns[6], conns[7], conns[8], conns[9]
    if rid >= len(slot_of) or slot_of[rid] < 0:
        return -1
    s = slot_of[rid]
    slot_of[rid] = -1
    if riding >= 0:
        requests[s] += 1
        connection[rid] = c_id[s]
        client_ip[rid] = c_ip[s]
        return -1
    if has[s] and c_pod[s] >= 0 and counted[s]:
        _closing_push(closing[0], closing[1], closing[2], closing[3], now, c_node[s], c_pod[s])
    has[s], c_id[s], c_ip[s], c_node[s], opened_at[s] = True, rid, client_ip[rid], -1, now
    c_pod[s], requests[s], counted[s] = -1, 1, False
    return s


@_inlined
def _choose(nodes, closing, node, port, outside, draw, now) -> int:
    """Dataplane.choose without session affinity: a pod, or REJECT / DROP."""
    strategy, down, ep_data, ep_start, ep_len, ep_empty, open_, rr_last = nodes
    if down[node]:
        return DROP
    side = 0 if outside else 1
    n = ep_len[node, port, side]
    if n == 0:
        return ep_empty[node, port, side]
    lo = ep_start[node, port, side]
    kind = strategy[node]
    if kind == RANDOM:
        i = int(draw * n)  # randomness.uniform_index
        return ep_data[lo + (i if i < n else n - 1)]
    if kind == ROUND_ROBIN:
        last = rr_last[node, port]
        position = 0
        for i in range(n):
            if ep_data[lo + i] == last:
                position = i + 1
                break
        pod = ep_data[lo + position % n]
        rr_last[node, port] = pod
        return pod
    cl_t, cl_node, cl_pod, cl_n = closing
    _expire(cl_t, cl_node, cl_pod, cl_n, open_, now)
    if kind == NEVER_QUEUE:
        for i in range(n):
            if open_[node, ep_data[lo + i]] == 0:
                return ep_data[lo + i]
    best = ep_data[lo]
    for i in range(1, n):  # ties to the first in list order (a strictly smaller count wins)
        pod = ep_data[lo + i]
        if open_[node, pod] < open_[node, best]:
            best = pod
    return best


@_inlined
def _restart_fifo(pods, pod, t) -> None:
    """Pod.restart_fifo: a restarted app that came up by ``t`` starts with empty workers."""
    free, free_start, conc = pods[1], pods[2], pods[3]
    f_start, f_t, f_seen, epoch = pods[13], pods[14], pods[15], pods[16]
    while f_start[pod] + f_seen[pod] < f_start[pod + 1] and f_t[f_start[pod] + f_seen[pod]] <= t:
        up = f_t[f_start[pod] + f_seen[pod]]
        for w in range(conc[pod]):
            free[free_start[pod] + w] = up
        epoch[pod] = up
        f_seen[pod] += 1


@_inlined
def _gate(pods, pod, t) -> int:
    """Pod.gate_at: BLACKHOLED, NO_LISTENER, or -1 (open)."""
    g_start, g_lo, g_hi, g_kind = pods[9], pods[10], pods[11], pods[12]
    found = -1
    for i in range(g_start[pod], g_start[pod + 1]):
        if g_lo[i] <= t < g_hi[i]:
            if g_kind[i] == BLACKHOLED:
                return BLACKHOLED
            found = NO_LISTENER
    return found


@_inlined
def _enter(log, clients, streams, nodes, closing, pods, conns, heap, rid, now) -> int:
    """EventEngine._enter; returns DONE, or the stream to refill first (nothing changed yet)."""
    client, service, client_ip, connection, entry_node = log[0], log[1], log[2], log[3], log[4]
    l_pod, l_pod_node, back_s, t_sent, t_done, verdict = log[5], log[6], log[7], log[8], log[12], log[13]
    external, connect_timeout = clients[0], clients[1]
    buf, cur, end = streams
    counted_at, c_node, c_pod, counted = conns[1], conns[5], conns[7], conns[9]
    open_ = nodes[6]
    riding = _riding(conns, pods, rid, now)
    node = c_node[riding] if riding >= 0 else entry_node[rid]
    port = service[rid]
    outside = external[client[rid]]
    draws = 3 * node + 2
    needs = (  # a random choice draws only with an endpoint to choose from
        riding < 0 and nodes[0][node] == RANDOM and not nodes[1][node] and nodes[4][node, port, 0 if outside else 1] > 0
    )
    for k in (3 * node, 3 * node + 1):
        if cur[k] >= end[k]:
            return k
    if needs and cur[draws] >= end[draws]:
        return draws
    # -- from here on, the event happens
    opening = _resolve(conns, closing, riding, client_ip, connection, rid, now)
    if riding >= 0:
        entry_node[rid] = node
    hop_out = buf[cur[3 * node]]
    cur[3 * node] += 1
    hop_back = buf[cur[3 * node + 1]]
    cur[3 * node + 1] += 1
    if riding >= 0:
        pod = c_pod[riding]
    else:
        draw = 0.0
        if needs:
            draw = buf[cur[draws]]
            cur[draws] += 1
        pod = _choose(nodes, closing, node, port, outside, draw, now)
        if pod >= 0:  # ConnectionTable.chosen
            counts = nodes[0][node] >= LEAST_CONNECTION
            if counts:
                open_[node, pod] += 1
            if opening >= 0:
                c_node[opening], c_pod[opening], counted[opening] = node, pod, counts
            elif counts:
                counted_at[rid] = node
    if pod < 0:  # outcomes.no_endpoint
        if pod == REJECT:
            verdict[rid] = REFUSED
            t_done[rid] = now + back_s[rid]
        else:
            verdict[rid] = TIMEOUT
            t_done[rid] = t_sent[rid] + connect_timeout[client[rid]]
        _pop(heap)
        return DONE
    pod_node = pods[0][pod]
    l_pod[rid] = pod
    l_pod_node[rid] = pod_node
    cross = 1.0 if pod_node != node else 0.0  # rules.pod_hop
    out, back = hop_out * cross, hop_back * cross
    if back != 0.0:
        back_s[rid] += back
    h_t, h_rid, h_kind, h_n = heap
    h_t[0], h_kind[0] = now + out, ARRIVE  # the request's next event replaces this one
    _sift_down(h_t, h_rid, h_kind, h_n[0])
    return DONE


@_inlined
def _arrive(log, clients, streams, closing, pods, conns, heap, pod_streams, rid, now) -> int:
    """EventEngine._arrive for a pod without calls; returns DONE, or the stream to refill first."""
    client, l_pod, back_s, t_sent, t_arrive, t_start, service_s, t_done, verdict = (
        log[0],
        log[5],
        log[7],
        log[8],
        log[9],
        log[10],
        log[11],
        log[12],
        log[13],
    )
    connect_timeout, timeout = clients[1], clients[2]
    buf, cur, end = streams
    free, free_start, conc, drop = pods[1], pods[2], pods[3], pods[4]
    counted_at = conns[1]
    pod = l_pod[rid]
    patience = timeout[client[rid]]
    cancel = now + patience
    # Pod.admit_one: closed_at (restarts first), then fifo_starts or fifo_admit's drop rule
    _restart_fifo(pods, pod, now)
    fate = _gate(pods, pod, now)
    lo, c = free_start[pod], conc[pod]
    w = lo
    for i in range(lo + 1, lo + c):  # the worker free first (any of equal ones: same times)
        if free[i] < free[w]:
            w = i
    begin = now if now > free[w] else free[w]
    if fate < 0 and drop[pod] and cancel < _INF and begin > cancel:
        fate = CANCELLED
    stream = pod_streams + pod
    if fate < 0 and cur[stream] >= end[stream]:
        return stream
    _pop(heap)
    left = now
    if fate < 0:
        service = buf[cur[stream]]
        cur[stream] += 1
        free[w] = begin + service
        t_arrive[rid], t_start[rid], service_s[rid] = now, begin, service  # outcomes.served
        t_done[rid] = begin + service + back_s[rid]
        verdict[rid] = OK
        left = begin + service
    else:  # outcomes.pushed_back
        t_arrive[rid] = now
        if fate == CANCELLED:
            verdict[rid] = TIMEOUT
            t_done[rid] = t_sent[rid] + patience
        elif fate == BLACKHOLED:
            verdict[rid] = TIMEOUT
            t_done[rid] = t_sent[rid] + connect_timeout[client[rid]]
        else:
            t_done[rid] = now + back_s[rid]
            verdict[rid] = REFUSED
    if rid < len(counted_at) and counted_at[rid] >= 0:  # ConnectionTable.answered
        _closing_push(closing[0], closing[1], closing[2], closing[3], left, counted_at[rid], pod)
        counted_at[rid] = -1
    return DONE


@_inlined
def _pop(heap) -> None:
    h_t, h_rid, h_kind, h_n = heap
    n = h_n[0] - 1
    h_n[0] = n
    h_t[0], h_rid[0], h_kind[0] = h_t[n], h_rid[n], h_kind[n]
    _sift_down(h_t, h_rid, h_kind, n)


@_compiled
def run_until(horizon, heap, log, clients, streams, nodes, closing, pods, conns, pod_streams) -> int:
    """Handle every event before ``horizon`` in heap order; DONE, or the stream to refill.

    The tuples are laid out by :class:`~sim.runtime.requests.event_arrays.EventArrays`;
    streams are numbered 3 per node (hop out, hop back, kube-proxy draws), then one per pod
    from ``pod_streams`` (service times).
    """
    h_t, h_rid, h_kind, h_n = heap
    while h_n[0] > 0 and h_t[0] < horizon:
        rid, now = h_rid[0], h_t[0]
        if h_kind[0] == ENTRY:
            status = _enter(log, clients, streams, nodes, closing, pods, conns, heap, rid, now)
        else:
            status = _arrive(log, clients, streams, closing, pods, conns, heap, pod_streams, rid, now)
        if status != DONE:
            return status
    return DONE
