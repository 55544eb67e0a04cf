"""When the control plane notices a dead node, and when it taints it for eviction
(docs/semantics.md#node-failure).

Plain functions, no SimPy. Upstream: pkg/controller/nodelifecycle/node_lifecycle_controller.go
(``monitorNodeHealth``, ``tryUpdateNodeHealth``, ``processTaintBaseEviction``,
``handleDisruption``, ``ComputeZoneState``, ``ReducedQPSFunc``, ``HealthyQPSFunc``),
pkg/controller/nodelifecycle/scheduler/rate_limited_queue.go (``Try``, ``SwapLimiter``) and the
kubelet's node lease (renewed every 10 s: a quarter of its 40 s duration).

The timeline of one dead node, with the defaults: its last lease renewal at or before the failure
(renewals at k × 10 s); Ready=Unknown at the first node-monitor tick (k × 5 s) strictly after that
renewal + ``node-monitor-grace-period`` — its pods turn NotReady then; one tick later the node
enters its zone's taint queue; the ``node.kubernetes.io/unreachable:NoExecute`` taint is added as
the zone's rate limiter allows; its pods are deleted ``tolerationSeconds`` (300 s) later unless the
taint went first (:func:`eviction_at`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "LEASE_RENEW_S",
    "MONITOR_PERIOD_S",
    "TOLERATION_S",
    "EvictionRates",
    "NodeOutage",
    "eviction_at",
    "plan_taints",
    "ready_again_at",
    "unknown_at",
    "unknown_interval",
    "zone_state",
]

#: The kubelet renews its Lease every 10 s (leaseDurationSeconds 40 × renew fraction 0.25).
LEASE_RENEW_S = 10.0
#: kube-controller-manager ``--node-monitor-period``.
MONITOR_PERIOD_S = 5.0
#: The ``tolerationSeconds`` the DefaultTolerationSeconds admission plugin gives every pod for
#: the not-ready and unreachable NoExecute taints.
TOLERATION_S = 300.0


@dataclass(frozen=True)
class EvictionRates:
    """kube-controller-manager's eviction flags, with their defaults: ``--node-eviction-rate``,
    ``--secondary-node-eviction-rate``, ``--large-cluster-size-threshold``,
    ``--unhealthy-zone-threshold`` (taints per second; nodes in a zone; a share of a zone)."""

    normal_qps: float = 0.1
    secondary_qps: float = 0.01
    large_cluster_threshold: int = 50
    unhealthy_zone_threshold: float = 0.55


@dataclass(frozen=True)
class NodeOutage:
    """A node stops answering at ``fail_s`` and answers again at ``recover_s`` (None: never)."""

    node: str
    fail_s: float
    recover_s: float | None = None

    def __post_init__(self) -> None:
        assert self.fail_s >= 0 and (self.recover_s is None or self.recover_s > self.fail_s), self


def _tick_at_or_after(t: float, period: float) -> float:
    k = math.ceil(t / period)
    if (k - 1) * period >= t:  # guard against t / period rounding up
        k -= 1
    return k * period


def unknown_at(fail_s: float, grace_s: float = 50.0) -> float:
    """When a node that stopped answering at ``fail_s`` turns Ready=Unknown: the first monitor
    tick strictly after its last lease renewal at or before ``fail_s`` plus the grace period
    (``tryUpdateNodeHealth``: ``now.After(probeTimestamp + gracePeriod)``).

    >>> unknown_at(120.0), unknown_at(129.9), unknown_at(130.0), unknown_at(120.0, grace_s=40.0)
    (175.0, 175.0, 185.0, 165.0)
    """
    last_renewal = math.floor(fail_s / LEASE_RENEW_S) * LEASE_RENEW_S
    deadline = last_renewal + grace_s
    tick = _tick_at_or_after(deadline, MONITOR_PERIOD_S)
    return tick + MONITOR_PERIOD_S if tick <= deadline else tick


def ready_again_at(recover_s: float) -> float:
    """When the control plane sees a recovered node Ready again: the first monitor tick at or
    after ``recover_s`` (**simplification**: the kubelet's status post is taken as immediate).

    >>> ready_again_at(150.0), ready_again_at(151.0)
    (150.0, 155.0)
    """
    return _tick_at_or_after(recover_s, MONITOR_PERIOD_S)


def unknown_interval(outage: NodeOutage, grace_s: float = 50.0) -> tuple[float, float | None] | None:
    """[Ready=Unknown from, Ready again at) for one outage; None when the node is back before the
    control plane would have noticed."""
    start = unknown_at(outage.fail_s, grace_s)
    end = None if outage.recover_s is None else ready_again_at(outage.recover_s)
    if end is not None and end <= start:
        return None
    return start, end


def zone_state(not_ready: int, nodes: int, threshold: float = 0.55) -> str:
    """``ComputeZoneState``: "FullDisruption" when no node of the zone is Ready,
    "PartialDisruption" when more than 2 are not Ready and they are at least ``threshold`` of the
    zone, else "Normal".

    >>> zone_state(2, 2), zone_state(2, 3), zone_state(3, 5), zone_state(3, 6)
    ('FullDisruption', 'Normal', 'PartialDisruption', 'Normal')
    """
    if not_ready == nodes and nodes > 0:
        return "FullDisruption"
    if not_ready > 2 and not_ready / nodes >= threshold:
        return "PartialDisruption"
    return "Normal"


def eviction_at(taints: Sequence[tuple[float, float | None]], toleration_s: float = TOLERATION_S) -> float | None:
    """When the taint eviction controller deletes the pods that were on the node when a taint was
    added: ``toleration_s`` after the first taint that is still there by then (a taint removed at
    that same instant cancels the deletion)."""
    for start, end in taints:
        if end is None or end > start + toleration_s:
            return start + toleration_s
    return None


class _Limiter:
    """A zone's token bucket with burst 1 (``EvictionRateLimiterBurst``), or the never limiter
    (qps 0): ``ready_s`` is when its one token is (or was) there."""

    def __init__(self, qps: float) -> None:
        self.qps = qps
        self.ready_s = -math.inf if qps > 0 else math.inf

    def swap(self, qps: float, now_s: float) -> None:
        """``SwapLimiter``: nothing if the rate is the same; otherwise a new bucket, drained if
        the old one had no token at hand. The never limiter reports a rate of 1
        (client-go ``fakeNeverRateLimiter.QPS``), so a swap from it to 1/s does nothing."""
        reported = self.qps if self.qps > 0 else 1.0
        if qps == reported:
            return
        had_token = self.ready_s <= now_s
        self.qps = qps
        if qps <= 0:
            self.ready_s = math.inf
        else:
            self.ready_s = -math.inf if had_token else now_s + 1.0 / qps

    def take(self, now_s: float) -> None:
        self.ready_s = now_s + 1.0 / self.qps


def plan_taints(
    zones: Mapping[str, str | None],
    outages: Iterable[NodeOutage],
    until_s: float,
    grace_s: float = 50.0,
    rates: EvictionRates | None = None,
) -> dict[str, list[tuple[float, float | None]]]:
    """Per node, the intervals [added, removed) of its unreachable NoExecute taint up to
    ``until_s`` (removed None: still there).

    ``zones`` maps every node of the cluster to its zone (None: no zone label; such nodes form
    one zone). At each monitor tick where something changes: a node whose Ready=Unknown the
    controller had already recorded joins its zone's queue (``processTaintBaseEviction`` works on
    the condition as read, so this is one tick after Ready=Unknown); a node seen Ready again
    loses its taint and leaves the queue (``markNodeAsReachable``); then each zone's state sets
    its limiter (``handleDisruption``): Normal → ``normal_qps``; PartialDisruption →
    ``secondary_qps`` if the zone has more than ``large_cluster_threshold`` nodes, else 0;
    FullDisruption → ``normal_qps``, unless every zone is fully disrupted: then every taint is
    removed and every limiter stopped until some node is Ready again. Between ticks each zone
    taints its queued nodes as its limiter allows. **Simplifications:** the queue is taken in
    node-name order (upstream re-queues every waiting node on every pass, in no set order); the
    100 ms tainting pass is taken as continuous.
    """
    rates = rates or EvictionRates()
    intervals: dict[str, list[tuple[float, float | None]]] = {n: [] for n in sorted(zones)}
    unknown: dict[str, list[tuple[float, float]]] = {n: [] for n in zones}
    for outage in outages:
        assert outage.node in zones, f"unknown node {outage.node!r}"
        span = unknown_interval(outage, grace_s)
        if span is not None:
            unknown[outage.node].append((span[0], math.inf if span[1] is None else span[1]))
    for spans in unknown.values():
        spans.sort()
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans)), "overlapping outages"
    ticks = sorted({t for spans in unknown.values() for s, e in spans for t in (s, s + MONITOR_PERIOD_S, e)})
    ticks = [t for t in ticks if t <= until_s]

    zone_of = {n: (z or "") for n, z in zones.items()}
    members: dict[str, list[str]] = {}
    for node in sorted(zones):
        members.setdefault(zone_of[node], []).append(node)
    limiters = {z: _Limiter(rates.normal_qps) for z in members}
    states = dict.fromkeys(members, "Initial")
    tainted: dict[str, float] = {}  # node -> taint added at
    queued: set[str] = set()

    def is_unknown(node: str, t: float) -> bool:
        return any(s <= t < e for s, e in unknown[node])

    def untaint(node: str, t: float) -> None:
        if node in tainted:
            intervals[node].append((tainted.pop(node), t))

    for i, now in enumerate(ticks):
        # monitorNodeHealth: each node on the condition as read (what the last pass wrote).
        for node in zones:
            if is_unknown(node, now - MONITOR_PERIOD_S) and is_unknown(node, now):
                if node not in tainted:
                    queued.add(node)
            else:
                untaint(node, now)
                queued.discard(node)
        # handleDisruption on the conditions as this pass leaves them.
        new_states = {
            z: zone_state(sum(is_unknown(n, now) for n in ns), len(ns), rates.unhealthy_zone_threshold)
            for z, ns in members.items()
        }
        all_now = all(s == "FullDisruption" for s in new_states.values())
        all_before = all(s == "FullDisruption" for s in states.values())
        if all_now and not all_before:
            for node in list(tainted):
                untaint(node, now)
            queued.clear()
            for limiter in limiters.values():
                limiter.swap(0.0, now)
        elif not all_now:
            for z, state in new_states.items():
                if all_before or state != states[z]:
                    limiters[z].swap(_qps(state, len(members[z]), rates), now)
        states = new_states
        # doNoExecuteTaintingPass until the next tick.
        end = min(ticks[i + 1] if i + 1 < len(ticks) else math.inf, math.nextafter(until_s, math.inf))
        for z, limiter in limiters.items():
            waiting = sorted(n for n in members[z] if n in queued)
            for node in waiting:
                at = max(now, limiter.ready_s)
                if at >= end:
                    break
                limiter.take(at)
                tainted[node] = at
                queued.discard(node)
    for node, at in tainted.items():
        intervals[node].append((at, None))
    return intervals


def _qps(state: str, zone_size: int, rates: EvictionRates) -> float:
    """``setLimiterInZone``: the taint rate for a zone in ``state``."""
    if state == "PartialDisruption":  # ReducedQPSFunc: on the zone's size
        return rates.secondary_qps if zone_size > rates.large_cluster_threshold else 0.0
    return rates.normal_qps  # Normal, and FullDisruption (HealthyQPSFunc)
