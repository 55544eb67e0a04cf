"""The HPA replica calculator: one metric's replica proposal, as plain functions
(docs/semantics.md#horizontalpodautoscaler-controller).

Upstream: pkg/controller/podautoscaler/replica_calculator.go (``GetResourceReplicas``,
``GetRawResourceReplicas``, ``GetMetricReplicas``, ``calcPlainMetricReplicas``,
``GetObjectMetricReplicas``, ``getUsageRatioReplicaCount``, ``GetObjectPerPodMetricReplicas``,
``GetExternalMetricReplicas``, ``GetExternalPerPodMetricReplicas``, ``groupPods``,
``Tolerances.isWithin``) and pkg/controller/podautoscaler/metrics/utilization.go
(``GetResourceUtilizationRatio``, ``GetMetricUsageRatio``).

Values are integer milli-units, as upstream keeps them (``Quantity.MilliValue``): 250m CPU is
250, 1.5 requests/s is 1500. Times are seconds on the simulation clock. The run-time
controller (:mod:`sim.runtime.hpa_controller`) calls them at each sync.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "CPU_INITIALIZATION_PERIOD_S",
    "DEFAULT_TOLERANCE",
    "INITIAL_READINESS_DELAY_S",
    "MAX_INT32",
    "MetricUnavailable",
    "PodGroups",
    "PodMetric",
    "PodSample",
    "Proposal",
    "Tolerances",
    "external_metric_replicas",
    "external_per_pod_metric_replicas",
    "group_pods",
    "metric_usage_ratio",
    "milli_value",
    "object_metric_replicas",
    "object_per_pod_metric_replicas",
    "plain_metric_replicas",
    "ready_pod_count",
    "resource_replicas",
    "resource_utilization_ratio",
]

DEFAULT_TOLERANCE = 0.1  # --horizontal-pod-autoscaler-tolerance
CPU_INITIALIZATION_PERIOD_S = 300.0  # --horizontal-pod-autoscaler-cpu-initialization-period
INITIAL_READINESS_DELAY_S = 30.0  # --horizontal-pod-autoscaler-initial-readiness-delay
MAX_INT32 = 2**31 - 1


class MetricUnavailable(Exception):
    """The calculator could not propose a replica count; the message is upstream's error text."""


@dataclass(frozen=True)
class Tolerances:
    """``Tolerances``: the ratio band ``1 − scale_down ≤ ratio ≤ 1 + scale_up`` that means "keep"."""

    scale_down: float = DEFAULT_TOLERANCE
    scale_up: float = DEFAULT_TOLERANCE

    def is_within(self, usage_ratio: float) -> bool:
        return (1.0 - self.scale_down) <= usage_ratio <= (1.0 + self.scale_up)


@dataclass(frozen=True)
class PodSample:
    """What the controller's pod lister shows of one pod targeted by the HPA.

    ``ready`` is the Ready condition's status ("True", "False", "Unknown"), None when the pod has
    no Ready condition; ``ready_transition_s`` its lastTransitionTime; ``start_s`` the pod's
    status.startTime (None: not set)."""

    name: str
    phase: str = "Running"  # Pending | Running | Succeeded | Failed
    deleting: bool = False  # deletionTimestamp set
    ready: str | None = "True"
    ready_transition_s: float = 0.0
    start_s: float | None = 0.0


@dataclass(frozen=True)
class PodMetric:
    """One pod's sample from the metrics API: value, its timestamp and the window it covers."""

    value: int
    timestamp_s: float = 0.0
    window_s: float = 60.0


@dataclass(frozen=True)
class PodGroups:
    """``groupPods``: ready pods with metrics, and the names set aside."""

    ready_count: int
    unready: frozenset[str]
    missing: frozenset[str]
    ignored: frozenset[str]


@dataclass(frozen=True)
class Proposal:
    """One metric's answer: a replica count and the usage it saw (the raw average or total in
    milli-units; ``utilization`` the percentage of request for Utilization targets)."""

    replicas: int
    usage: int
    utilization: int | None = None


def milli_value(quantity: float) -> int:
    """``Quantity.MilliValue``: the quantity in thousandths, rounded up (0.0015 → 2)."""
    return math.ceil(round(quantity * 1000, 6))


def _go_div(a: int, b: int) -> int:
    """Go's integer division, which truncates toward zero (Python's ``//`` floors)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _ceil_int32(value: float) -> int:
    return MAX_INT32 if value > MAX_INT32 else math.ceil(value)


def group_pods(
    pods: Iterable[PodSample],
    metrics: Mapping[str, PodMetric],
    resource: str,
    now_s: float,
    cpu_initialization_period_s: float = CPU_INITIALIZATION_PERIOD_S,
    initial_readiness_delay_s: float = INITIAL_READINESS_DELAY_S,
) -> PodGroups:
    """``groupPods``. Ignored: deleting or Failed. Unready: Pending, and for ``cpu`` only also a
    pod with no Ready condition or start time; within the initialization period since start, one
    that is Ready=False or whose sample predates the Ready transition + its window; after it, one
    that is Ready=False and turned so within the initial readiness delay of its start. Missing:
    no sample. Other resources and custom metrics ignore readiness."""
    ready_count = 0
    unready: set[str] = set()
    missing: set[str] = set()
    ignored: set[str] = set()
    for pod in pods:
        if pod.deleting or pod.phase == "Failed":
            ignored.add(pod.name)
            continue
        if pod.phase == "Pending":
            unready.add(pod.name)
            continue
        metric = metrics.get(pod.name)
        if metric is None:
            missing.add(pod.name)
            continue
        if resource == "cpu":
            if pod.ready is None or pod.start_s is None:
                is_unready = True
            elif pod.start_s + cpu_initialization_period_s > now_s:
                is_unready = pod.ready == "False" or (metric.timestamp_s < pod.ready_transition_s + metric.window_s)
            else:
                is_unready = pod.ready == "False" and pod.start_s + initial_readiness_delay_s > pod.ready_transition_s
            if is_unready:
                unready.add(pod.name)
                continue
        ready_count += 1
    return PodGroups(ready_count, frozenset(unready), frozenset(missing), frozenset(ignored))


def resource_utilization_ratio(
    metrics: Mapping[str, int], requests: Mapping[str, int], target_utilization: int
) -> tuple[float, int, int]:
    """``GetResourceUtilizationRatio``: (ratio, utilization, raw average) where utilization is
    int(Σusage × 100 / Σrequests), a truncated ratio of sums over the pods with a request."""
    metrics_total = requests_total = entries = 0
    for name, value in metrics.items():
        if name not in requests:
            continue
        metrics_total += value
        requests_total += requests[name]
        entries += 1
    if requests_total == 0:
        raise MetricUnavailable("no metrics returned matched known pods")
    utilization = _go_div(metrics_total * 100, requests_total)
    return utilization / target_utilization, utilization, _go_div(metrics_total, entries)


def metric_usage_ratio(metrics: Mapping[str, int], target_usage: int) -> tuple[float, int]:
    """``GetMetricUsageRatio``: (ratio, average) with the average truncated to a milli-unit."""
    usage = _go_div(sum(metrics.values()), len(metrics))
    return usage / target_usage, usage


def _pod_list(pods: Sequence[PodSample]) -> Sequence[PodSample]:
    if not pods:
        raise MetricUnavailable("no pods returned by selector while calculating replica count")
    return pods


def _values_for_targeted_pods(
    pods: Sequence[PodSample],
    metrics: Mapping[str, PodMetric],
    resource: str,
    now_s: float,
    cpu_initialization_period_s: float,
    initial_readiness_delay_s: float,
) -> tuple[PodGroups, dict[str, int]]:
    groups = group_pods(
        _pod_list(pods), metrics, resource, now_s, cpu_initialization_period_s,
        initial_readiness_delay_s,
    )  # fmt: skip
    dropped = groups.ignored | groups.unready
    values = {name: m.value for name, m in metrics.items() if name not in dropped}
    if not values:
        raise MetricUnavailable("did not receive metrics for targeted pods (pods might be unready)")
    return groups, values


def _rebalanced(
    current_replicas: int, usage_ratio: float, new_usage_ratio: float, counted: int, tol: Tolerances
) -> int:
    """The tail both calculators share once missing and unready pods were filled in."""
    if (
        tol.is_within(new_usage_ratio)
        or (usage_ratio < 1.0 and new_usage_ratio > 1.0)
        or (usage_ratio > 1.0 and new_usage_ratio < 1.0)
    ):
        return current_replicas  # too small a change, or the direction would flip
    new_replicas = math.ceil(new_usage_ratio * counted)
    if (new_usage_ratio < 1.0 and new_replicas > current_replicas) or (
        new_usage_ratio > 1.0 and new_replicas < current_replicas
    ):
        return current_replicas  # the count of pods considered would flip the direction
    return new_replicas


def resource_replicas(
    current_replicas: int,
    target_utilization: int,
    resource: str,
    pods: Sequence[PodSample],
    metrics: Mapping[str, PodMetric],
    requests: Mapping[str, int | None],
    now_s: float,
    tolerances: Tolerances = Tolerances(),
    cpu_initialization_period_s: float = CPU_INITIALIZATION_PERIOD_S,
    initial_readiness_delay_s: float = INITIAL_READINESS_DELAY_S,
) -> Proposal:
    """``GetResourceReplicas``: a Utilization target (percent of request). ``requests`` holds each
    pod's request in milli-units (the named container's for ContainerResource), None where a
    container has none."""
    groups, values = _values_for_targeted_pods(
        pods, metrics, resource, now_s, cpu_initialization_period_s, initial_readiness_delay_s
    )
    known: dict[str, int] = {}
    for pod in pods:
        request = requests.get(pod.name)
        if request is None:
            raise MetricUnavailable(f"missing request for {resource} in Pod {pod.name}")
        known[pod.name] = request
    usage_ratio, utilization, raw = resource_utilization_ratio(values, known, target_utilization)

    scale_up_with_unready = bool(groups.unready) and usage_ratio > 1.0
    if not scale_up_with_unready and not groups.missing:
        if tolerances.is_within(usage_ratio):
            return Proposal(current_replicas, raw, utilization)
        return Proposal(math.ceil(usage_ratio * groups.ready_count), raw, utilization)

    if groups.missing:
        if usage_ratio < 1.0:
            # scale-down: a missing pod counts as its whole request, or the target if above 100 %
            fallback = max(100, target_utilization)
            for name in groups.missing:
                values[name] = _go_div(known[name] * fallback, 100)
        elif usage_ratio > 1.0:
            for name in groups.missing:
                values[name] = 0
    if scale_up_with_unready:
        for name in groups.unready:
            values[name] = 0
    new_usage_ratio, _, _ = resource_utilization_ratio(values, known, target_utilization)
    replicas = _rebalanced(current_replicas, usage_ratio, new_usage_ratio, len(values), tolerances)
    return Proposal(replicas, raw, utilization)


def plain_metric_replicas(
    current_replicas: int,
    target_usage: int,
    resource: str,
    pods: Sequence[PodSample],
    metrics: Mapping[str, PodMetric],
    now_s: float,
    tolerances: Tolerances = Tolerances(),
    cpu_initialization_period_s: float = CPU_INITIALIZATION_PERIOD_S,
    initial_readiness_delay_s: float = INITIAL_READINESS_DELAY_S,
) -> Proposal:
    """``calcPlainMetricReplicas``: an AverageValue target per pod, for a Pods metric
    (``GetMetricReplicas``, ``resource`` "") or a Resource AverageValue
    (``GetRawResourceReplicas``, ``resource`` "cpu"/"memory"). A missing pod counts as the
    target on a scale-down and 0 on a scale-up."""
    groups, values = _values_for_targeted_pods(
        pods, metrics, resource, now_s, cpu_initialization_period_s, initial_readiness_delay_s
    )
    usage_ratio, usage = metric_usage_ratio(values, target_usage)

    scale_up_with_unready = bool(groups.unready) and usage_ratio > 1.0
    if not scale_up_with_unready and not groups.missing:
        if tolerances.is_within(usage_ratio):
            return Proposal(current_replicas, usage)
        return Proposal(math.ceil(usage_ratio * groups.ready_count), usage)

    if groups.missing:
        if usage_ratio < 1.0:
            for name in groups.missing:
                values[name] = target_usage
        elif usage_ratio > 1.0:
            for name in groups.missing:
                values[name] = 0
    if scale_up_with_unready:
        for name in groups.unready:
            values[name] = 0
    new_usage_ratio, _ = metric_usage_ratio(values, target_usage)
    replicas = _rebalanced(current_replicas, usage_ratio, new_usage_ratio, len(values), tolerances)
    return Proposal(replicas, usage)


def ready_pod_count(pods: Sequence[PodSample]) -> int:
    """``getReadyPodsCount``: Running pods whose Ready condition is True."""
    return sum(1 for p in _pod_list(pods) if p.phase == "Running" and p.ready == "True")


def _usage_ratio_replicas(
    current_replicas: int, usage_ratio: float, pods: Sequence[PodSample], tolerances: Tolerances
) -> int:
    """``getUsageRatioReplicaCount``: ceil(ratio × ready pods); from 0 replicas, ceil(ratio)."""
    if current_replicas == 0:
        return math.ceil(usage_ratio)
    if tolerances.is_within(usage_ratio):
        return current_replicas
    return _ceil_int32(usage_ratio * ready_pod_count(pods))


def object_metric_replicas(
    current_replicas: int,
    usage: int,
    target_usage: int,
    pods: Sequence[PodSample],
    tolerances: Tolerances = Tolerances(),
) -> Proposal:
    """``GetObjectMetricReplicas``: an Object metric with a Value target."""
    replicas = _usage_ratio_replicas(current_replicas, usage / target_usage, pods, tolerances)
    return Proposal(replicas, usage)


def object_per_pod_metric_replicas(
    status_replicas: int, usage: int, target_average: int, tolerances: Tolerances = Tolerances()
) -> Proposal:
    """``GetObjectPerPodMetricReplicas``: an Object metric with an AverageValue target:
    ceil(total / target) unless total / (target × replicas) is within tolerance."""
    replicas = status_replicas
    ratio = usage / (target_average * status_replicas) if status_replicas else math.inf
    if not tolerances.is_within(ratio):
        replicas = math.ceil(usage / target_average)
    average = math.ceil(usage / status_replicas) if status_replicas else usage
    return Proposal(replicas, average)


def external_metric_replicas(
    current_replicas: int,
    values: Sequence[int],
    target_usage: int,
    pods: Sequence[PodSample],
    tolerances: Tolerances = Tolerances(),
) -> Proposal:
    """``GetExternalMetricReplicas``: an External metric with a Value target, over the sum of
    the series the selector matched."""
    usage = min(sum(values), 2**63 - 1)
    replicas = _usage_ratio_replicas(current_replicas, usage / target_usage, pods, tolerances)
    return Proposal(replicas, usage)


def external_per_pod_metric_replicas(
    status_replicas: int,
    values: Sequence[int],
    target_average: int,
    tolerances: Tolerances = Tolerances(),
) -> Proposal:
    """``GetExternalPerPodMetricReplicas``: an External metric with an AverageValue target."""
    usage = min(sum(values), 2**63 - 1)
    replicas = status_replicas
    ratio = usage / (target_average * status_replicas) if status_replicas else math.inf
    if not tolerances.is_within(ratio):
        replicas = _ceil_int32(usage / target_average)
    average = math.ceil(usage / status_replicas) if status_replicas else usage
    return Proposal(replicas, average)
