"""The HPA controller's decision for one sync, as plain functions
(docs/semantics.md#horizontalpodautoscaler-controller).

Upstream: pkg/controller/podautoscaler/horizontal.go (``computeReplicasForMetrics``,
``computeReplicasForMetric`` and the ``computeStatusFor*Metric`` functions,
``reconcileAutoscaler``, ``stabilizeRecommendation``, ``normalizeDesiredReplicas``,
``convertDesiredReplicasWithRules``, ``calculateScaleUpLimit``,
``stabilizeRecommendationWithBehaviors``, ``convertDesiredReplicasWithBehaviorRate``,
``calculateScaleUpLimitWithScalingRules``, ``calculateScaleDownLimitWithBehaviors``,
``getReplicasChangePerPeriod``, ``storeScaleEvent``, ``markScaleEventsOutdated``).

The controller's memory (recommendations and scale events) is an immutable :class:`HPAHistory`
passed in and handed back, so every function here is pure. The one-metric arithmetic lives in
:mod:`sim.runtime.hpa_replicas`. :mod:`sim.runtime.hpa_controller` calls
them at each sync.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

from sim.kube.hpa import HorizontalPodAutoscaler, HPABehavior, HPAScalingRules, MetricSpec
from sim.runtime.hpa_replicas import DEFAULT_TOLERANCE, MetricUnavailable, Proposal, Tolerances

__all__ = [
    "DOWNSCALE_STABILIZATION_S",
    "Condition",
    "Decision",
    "HPAHistory",
    "MetricOutcome",
    "MetricsResult",
    "Recommendation",
    "ScaleEvent",
    "calculate_scale_down_limit",
    "calculate_scale_up_limit",
    "combine_metrics",
    "convert_with_behavior_rate",
    "convert_with_rules",
    "failure_reason",
    "metric_description",
    "propose_or_error",
    "reconcile",
    "record_scale_event",
    "replicas_change_in_period",
    "stabilize_legacy",
    "stabilize_with_behaviors",
    "tolerances_for",
]

T = TypeVar("T")
DOWNSCALE_STABILIZATION_S = 300.0  # --horizontal-pod-autoscaler-downscale-stabilization
SCALE_UP_LIMIT_FACTOR = 2.0
SCALE_UP_LIMIT_MINIMUM = 4.0


@dataclass(frozen=True)
class Recommendation:
    replicas: int
    at_s: float


@dataclass(frozen=True)
class ScaleEvent:
    """``timestampedScaleEvent``: a replica change (always positive) and when it was made."""

    change: int
    at_s: float
    outdated: bool = False


@dataclass(frozen=True)
class HPAHistory:
    """What the controller remembers per HPA between syncs. ``recommendations`` None: nothing
    recorded yet (the first sync seeds it with the current replica count)."""

    recommendations: tuple[Recommendation, ...] | None = None
    scale_up_events: tuple[ScaleEvent, ...] = ()
    scale_down_events: tuple[ScaleEvent, ...] = ()


@dataclass(frozen=True)
class Condition:
    type: str  # AbleToScale | ScalingActive | ScalingLimited
    status: str  # "True" | "False"
    reason: str
    message: str


@dataclass(frozen=True)
class MetricOutcome:
    """One metric's result: a proposal, or the error that kept it from one."""

    spec: MetricSpec
    proposal: Proposal | None = None
    error: str | None = None


@dataclass(frozen=True)
class MetricsResult:
    """``computeReplicasForMetrics``: the largest proposal (-1 when the HPA must not scale),
    the metric that made it, the error of the first failed metric, and the ScalingActive
    condition."""

    replicas: int
    metric: str
    error: str | None
    condition: Condition


@dataclass(frozen=True)
class Decision:
    """One sync's outcome: the replica count to set (``rescale``), the event to emit, the
    HPA's conditions and the controller's updated memory."""

    current_replicas: int
    desired_replicas: int
    rescale: bool
    reason: str
    conditions: tuple[Condition, ...]
    event: tuple[str, str, str] | None  # (type, reason, message)
    history: HPAHistory = field(repr=False)


def tolerances_for(behavior: HPABehavior | None, default: float = DEFAULT_TOLERANCE) -> Tolerances:
    """The per-direction tolerance: ``behavior.scaleDown|scaleUp.tolerance`` where given
    (HPAConfigurableTolerance), the controller flag otherwise."""
    if behavior is None:
        return Tolerances(default, default)
    down, up = behavior.scale_down.tolerance, behavior.scale_up.tolerance
    return Tolerances(default if down is None else down, default if up is None else up)


def metric_description(spec: MetricSpec) -> str:
    """The metric name horizontal.go puts in reasons and conditions: "cpu resource utilization
    (percentage of request)", "pods metric qps", "Deployment metric qps" … Object AverageValue is
    described as "external metric", as upstream does. **Simplification:** the label selector is
    printed as Python renders it, not Go's ``%+v``."""
    target, selector = spec.target, "<nil>" if spec.selector is None else str(spec.selector)
    if spec.type in ("Resource", "ContainerResource"):
        if target.type != "Utilization":
            return f"{spec.name} resource"
        kind = "container resource" if spec.type == "ContainerResource" else "resource"
        return f"{spec.name} {kind} utilization (percentage of request)"
    if spec.type == "Pods":
        return f"pods metric {spec.name}"
    if spec.type == "Object" and target.type == "Value":
        kind = (spec.described or "").split("/", 1)[0]
        return f"{kind} metric {spec.name}"
    return f"external metric {spec.name}({selector})"


def failure_reason(spec: MetricSpec) -> str:
    """The ScalingActive=False reason for a metric that failed (``getUnableComputeReplicaCountCondition``)."""
    return {
        "Resource": "FailedGetResourceMetric",
        "ContainerResource": "FailedGetContainerResourceMetric",
        "Pods": "FailedGetPodsMetric",
        "Object": "FailedGetObjectMetric",
        "External": "FailedGetExternalMetric",
    }.get(spec.type, "InvalidMetricSourceType")


def combine_metrics(spec_replicas: int, outcomes: Sequence[MetricOutcome]) -> MetricsResult:
    """``computeReplicasForMetrics``: the largest proposal wins (the first on ties). If every
    metric failed, or some failed and the rest would scale below ``spec_replicas``, the HPA does
    not scale (replicas -1) and ScalingActive turns False with the first failure's reason."""
    replicas, metric = 0, ""
    invalid = 0
    first_error: str | None = None
    first_condition: Condition | None = None
    for outcome in outcomes:
        if outcome.proposal is None:
            if invalid == 0:
                first_error = outcome.error or "unknown error"
                first_condition = Condition(
                    "ScalingActive",
                    "False",
                    failure_reason(outcome.spec),
                    f"the HPA was unable to compute the replica count: {first_error}",
                )
            invalid += 1
            continue
        if replicas == 0 or outcome.proposal.replicas > replicas:
            replicas, metric = outcome.proposal.replicas, metric_description(outcome.spec)
    error = None
    if first_error is not None:
        error = f"invalid metrics ({invalid} invalid out of {len(outcomes)}), first error is: {first_error}"
    if invalid >= len(outcomes) or (invalid > 0 and replicas < spec_replicas):
        assert first_condition is not None or not outcomes
        condition = first_condition or Condition("ScalingActive", "False", "", "")
        return MetricsResult(-1, "", error, condition)
    message = f"the HPA was able to successfully calculate a replica count from {metric}"
    return MetricsResult(replicas, metric, error, Condition("ScalingActive", "True", "ValidMetricFound", message))


# --- the legacy path (no behavior) -------------------------------------------------------------


def _store(items: tuple[T, ...], is_old: Callable[[T], bool], new: T) -> tuple[T, ...]:
    """Put ``new`` in the slot of the last old item (upstream reuses it), or append it."""
    old = [i for i, item in enumerate(items) if is_old(item)]
    if old:
        return (*items[: old[-1]], new, *items[old[-1] + 1 :])
    return (*items, new)


def stabilize_legacy(
    recommendations: tuple[Recommendation, ...],
    desired: int,
    now_s: float,
    window_s: float = DOWNSCALE_STABILIZATION_S,
) -> tuple[int, tuple[Recommendation, ...]]:
    """``stabilizeRecommendation``: the highest of ``desired`` and the recommendations not older
    than the downscale window; ``desired`` is recorded."""
    cutoff = now_s - window_s
    stabilized = max([desired] + [r.replicas for r in recommendations if r.at_s >= cutoff])
    new = _store(recommendations, lambda r: r.at_s < cutoff, Recommendation(desired, now_s))
    return stabilized, new


def convert_with_rules(current: int, desired: int, min_replicas: int, max_replicas: int) -> tuple[int, str, str]:
    """``convertDesiredReplicasWithRules``: clamp to [min, min(max, max(2 × current, 4))]."""
    scale_up_limit = int(max(SCALE_UP_LIMIT_FACTOR * current, SCALE_UP_LIMIT_MINIMUM))
    if max_replicas > scale_up_limit:
        maximum, reason = scale_up_limit, "ScaleUpLimit"
        message = "the desired replica count is increasing faster than the maximum scale rate"
    else:
        maximum, reason = max_replicas, "TooManyReplicas"
        message = "the desired replica count is more than the maximum replica count"
    if desired < min_replicas:
        message = "the desired replica count is less than the minimum replica count"
        return min_replicas, "TooFewReplicas", message
    if desired > maximum:
        return maximum, reason, message
    return desired, "DesiredWithinRange", "the desired count is within the acceptable range"


# --- the behavior path -------------------------------------------------------------------------


def stabilize_with_behaviors(
    recommendations: tuple[Recommendation, ...],
    current: int,
    desired: int,
    now_s: float,
    up_window_s: float,
    down_window_s: float,
) -> tuple[int, str, str, tuple[Recommendation, ...]]:
    """``stabilizeRecommendationWithBehaviors``: clamp ``current`` between the lowest
    recommendation of the up window and the highest of the down window (``desired`` included);
    ``desired`` is recorded in the slot of a recommendation older than both windows."""
    up_cutoff, down_cutoff = now_s - up_window_s, now_s - down_window_s
    up = min([desired] + [r.replicas for r in recommendations if r.at_s > up_cutoff])
    down = max([desired] + [r.replicas for r in recommendations if r.at_s > down_cutoff])
    stabilized = min(max(current, up), down)
    new = _store(
        recommendations,
        lambda r: r.at_s < up_cutoff and r.at_s < down_cutoff,
        Recommendation(desired, now_s),
    )
    if desired >= current:
        reason = "ScaleUpStabilized"
        message = "recent recommendations were lower than current one, applying the lowest recent recommendation"
    else:
        reason = "ScaleDownStabilized"
        message = "recent recommendations were higher than current one, applying the highest recent recommendation"
    return stabilized, reason, message, new


def replicas_change_in_period(period_s: float, events: Sequence[ScaleEvent], now_s: float) -> int:
    """``getReplicasChangePerPeriod``: the changes made strictly within the last ``period_s``."""
    cutoff = now_s - period_s
    return sum(e.change for e in events if e.at_s > cutoff)


def _period_start(
    current: int, up: Sequence[ScaleEvent], down: Sequence[ScaleEvent], period_s: int, now_s: float
) -> int:
    return current - replicas_change_in_period(period_s, up, now_s) + replicas_change_in_period(period_s, down, now_s)


def calculate_scale_up_limit(
    current: int,
    up_events: Sequence[ScaleEvent],
    down_events: Sequence[ScaleEvent],
    rules: HPAScalingRules,
    now_s: float,
) -> int:
    """``calculateScaleUpLimitWithScalingRules``: per policy, from the count at its period's
    start, Pods + value or ceil(start × (1 + value/100)); Max takes the largest, Min the
    smallest, Disabled allows none."""
    if rules.select_policy == "Disabled":
        return current
    pick = min if rules.select_policy == "Min" else max
    proposals = []
    for policy in rules.policies:
        start = _period_start(current, up_events, down_events, policy.period_s, now_s)
        if policy.type == "Pods":
            proposals.append(start + policy.value)
        else:
            proposals.append(math.ceil(start * (1 + policy.value / 100)))
    return pick(proposals) if proposals else (2**31 - 1 if pick is min else -(2**31))


def calculate_scale_down_limit(
    current: int,
    up_events: Sequence[ScaleEvent],
    down_events: Sequence[ScaleEvent],
    rules: HPAScalingRules,
    now_s: float,
) -> int:
    """``calculateScaleDownLimitWithBehaviors``: per policy, start − value or
    trunc(start × (1 − value/100)); Max (the biggest change) takes the smallest count."""
    if rules.select_policy == "Disabled":
        return current
    pick = max if rules.select_policy == "Min" else min
    proposals = []
    for policy in rules.policies:
        start = _period_start(current, up_events, down_events, policy.period_s, now_s)
        if policy.type == "Pods":
            proposals.append(start - policy.value)
        else:
            proposals.append(int(start * (1 - policy.value / 100)))
    return pick(proposals) if proposals else (-(2**31) if pick is max else 2**31 - 1)


def convert_with_behavior_rate(
    current: int,
    desired: int,
    min_replicas: int,
    max_replicas: int,
    behavior: HPABehavior,
    history: HPAHistory,
    now_s: float,
) -> tuple[int, str, str]:
    """``convertDesiredReplicasWithBehaviorRate``: the rate limits, then [min, max]."""
    up, down = history.scale_up_events, history.scale_down_events
    if desired > current:
        limit = max(calculate_scale_up_limit(current, up, down, behavior.scale_up, now_s), current)
        if max_replicas > limit:
            allowed, reason = limit, "ScaleUpLimit"
            message = "the desired replica count is increasing faster than the maximum scale rate"
        else:
            allowed, reason = max_replicas, "TooManyReplicas"
            message = "the desired replica count is more than the maximum replica count"
        if desired > allowed:
            return allowed, reason, message
    elif desired < current:
        limit = calculate_scale_down_limit(current, up, down, behavior.scale_down, now_s)
        limit = min(limit, current)
        if min_replicas < limit:
            allowed, reason = limit, "ScaleDownLimit"
            message = "the desired replica count is decreasing faster than the maximum scale rate"
        else:
            allowed, reason = min_replicas, "TooFewReplicas"
            message = "the desired replica count is less than the minimum replica count"
        if desired < allowed:
            return allowed, reason, message
    return desired, "DesiredWithinRange", "the desired count is within the acceptable range"


def _mark_outdated(events: tuple[ScaleEvent, ...], longest_s: int, now_s: float) -> tuple[ScaleEvent, ...]:
    cutoff = now_s - longest_s
    return tuple(replace(e, outdated=True) if e.at_s < cutoff else e for e in events)


def record_scale_event(
    behavior: HPABehavior | None, history: HPAHistory, previous: int, new: int, now_s: float
) -> HPAHistory:
    """``storeScaleEvent``: with a behavior, remember the change; events older than the
    direction's longest policy period are marked outdated and the last of them is reused."""
    if behavior is None:
        return history
    up = new > previous
    rules = behavior.scale_up if up else behavior.scale_down
    longest = max((p.period_s for p in rules.policies), default=0)
    events = _mark_outdated(history.scale_up_events if up else history.scale_down_events, longest, now_s)
    events = _store(events, lambda e: e.outdated, ScaleEvent(abs(new - previous), now_s))
    if up:
        return replace(history, scale_up_events=events)
    return replace(history, scale_down_events=events)


# --- one sync ----------------------------------------------------------------------------------


def _set(conditions: list[Condition], new: Condition) -> None:
    """``setConditionInList``: replace the condition of the same type, or append it."""
    for i, c in enumerate(conditions):
        if c.type == new.type:
            conditions[i] = new
            return
    conditions.append(new)


def reconcile(
    hpa: HorizontalPodAutoscaler,
    current_replicas: int,
    metrics: MetricsResult | None,
    history: HPAHistory,
    now_s: float,
    downscale_stabilization_s: float = DOWNSCALE_STABILIZATION_S,
) -> Decision:
    """``reconcileAutoscaler`` from the scale read to the rescale. ``metrics`` is the
    :func:`combine_metrics` result (not consulted when the count is outside [min, max] or 0)."""
    conditions = [
        Condition(
            "AbleToScale",
            "True",
            "SucceededGetScale",
            "the HPA controller was able to get the target's current scale",
        )
    ]
    recs = history.recommendations
    if recs is None:  # recordInitialRecommendation
        recs = (Recommendation(current_replicas, now_s),)
    min_r, max_r = hpa.min_replicas, hpa.max_replicas
    reason = ""
    if current_replicas == 0 and min_r != 0:
        message = "scaling is disabled since the replica count of the target is zero"
        _set(conditions, Condition("ScalingActive", "False", "ScalingDisabled", message))
        history = replace(history, recommendations=recs)
        return Decision(current_replicas, current_replicas, False, "", tuple(conditions), None, history)
    if current_replicas > max_r:
        desired, reason = max_r, "Current number of replicas above Spec.MaxReplicas"
    elif current_replicas < min_r:
        desired, reason = min_r, "Current number of replicas below Spec.MinReplicas"
    else:
        assert metrics is not None, "metrics are needed when the count is within [min, max]"
        _set(conditions, metrics.condition)
        if metrics.replicas == -1:
            history = replace(history, recommendations=recs)
            event = ("Warning", "FailedComputeMetricsReplicas", metrics.error or "")
            return Decision(current_replicas, current_replicas, False, "", tuple(conditions), event, history)
        desired, rescale_metric = 0, ""
        if metrics.replicas > desired:
            desired, rescale_metric = metrics.replicas, metrics.metric
        if desired > current_replicas:
            reason = f"{rescale_metric} above target"
        if desired < current_replicas:
            reason = "All metrics below target"
        if hpa.behavior is None:
            stabilized, recs = stabilize_legacy(recs, desired, now_s, downscale_stabilization_s)
            if stabilized != desired:
                able = Condition(
                    "AbleToScale",
                    "True",
                    "ScaleDownStabilized",
                    "recent recommendations were higher than current one, applying the highest recent recommendation",
                )
            else:
                able = Condition("AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size")
            limited, lim_reason, lim_message = convert_with_rules(current_replicas, stabilized, min_r, max_r)
        else:
            b = hpa.behavior
            stabilized, st_reason, st_message, recs = stabilize_with_behaviors(
                recs,
                current_replicas,
                desired,
                now_s,
                b.scale_up.stabilization_window_s,
                b.scale_down.stabilization_window_s,
            )
            if stabilized != desired:
                able = Condition("AbleToScale", "True", st_reason, st_message)
            else:
                able = Condition("AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size")
            limited, lim_reason, lim_message = convert_with_behavior_rate(
                current_replicas, stabilized, min_r, max_r, b, history, now_s
            )
        _set(conditions, able)
        status = "False" if limited == stabilized else "True"
        _set(conditions, Condition("ScalingLimited", status, lim_reason, lim_message))
        desired = limited
    history = replace(history, recommendations=recs)
    if desired == current_replicas:
        return Decision(current_replicas, current_replicas, False, reason, tuple(conditions), None, history)
    message = f"the HPA controller was able to update the target scale to {desired}"
    _set(conditions, Condition("AbleToScale", "True", "SucceededRescale", message))
    event = ("Normal", "SuccessfulRescale", f"New size: {desired}; reason: {reason}")
    history = record_scale_event(hpa.behavior, history, current_replicas, desired, now_s)
    return Decision(current_replicas, desired, True, reason, tuple(conditions), event, history)


def propose_or_error(spec: MetricSpec, compute: Callable[[], Proposal]) -> MetricOutcome:
    """Run one calculator and keep its error text instead of raising."""
    try:
        return MetricOutcome(spec, proposal=compute())
    except MetricUnavailable as exc:
        return MetricOutcome(spec, error=str(exc))
