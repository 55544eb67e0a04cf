"""Kubernetes ``autoscaling/v2`` (and ``v1``) HorizontalPodAutoscaler objects, as the API server
stores them: defaults filled, validated (docs/semantics.md#horizontalpodautoscaler).

The shapes here are the contract between the manifest parser and the controller
(:mod:`sim.runtime.hpa_controller`, docs/semantics.md#horizontalpodautoscaler-controller).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sim.kube.deployment import MAX_REPLICAS
from sim.kube.hpa_metrics import MetricSpec, MetricTarget, read_metrics, read_quantity, reference
from sim.kube.labels import read_labels
from sim.kube.validation import (
    DNS1123,
    DNS1123_MSG,
    DNS1123_SUBDOMAIN_MAX_LENGTH,
    FieldError,
    decode_int,
    decode_object,
    go,
    mapping,
    object_name,
    unmarshal_error,
    unsupported,
)

__all__ = [
    "DEFAULT_CPU_UTILIZATION",
    "HPA_API_VERSIONS",
    "MAX_PERIOD_S",
    "MAX_STABILIZATION_WINDOW_S",
    "SCALE_DOWN_DEFAULTS",
    "SCALE_UP_DEFAULTS",
    "HPABehavior",
    "HPAScalingPolicy",
    "HPAScalingRules",
    "HorizontalPodAutoscaler",
    "MetricSpec",
    "MetricTarget",
    "parse_hpa",
]

HPA_API_VERSIONS = ("autoscaling/v2", "autoscaling/v1")
#: autoscaling.DefaultCPUUtilization: the target when an HPA names no metric.
DEFAULT_CPU_UTILIZATION = 80
#: validation.go's MaxPeriodSeconds and MaxStabilizationWindowSeconds.
MAX_PERIOD_S = 1800
MAX_STABILIZATION_WINDOW_S = 3600
_SPEC_KEYS = {
    "autoscaling/v2": ("scaleTargetRef", "minReplicas", "maxReplicas", "metrics", "behavior"),
    "autoscaling/v1": ("scaleTargetRef", "minReplicas", "maxReplicas", "targetCPUUtilizationPercentage"),
}
_RULES_KEYS = ("stabilizationWindowSeconds", "selectPolicy", "policies", "tolerance")
_SELECT_POLICIES = ("Disabled", "Max", "Min")  # sorted, as NotSupported lists them
_POLICY_TYPES = ("Percent", "Pods")


@dataclass(frozen=True)
class HPAScalingPolicy:
    """One policy: at most ``value`` pods (``Pods``) or percent (``Percent``) per ``period_s``."""

    type: str  # "Pods" | "Percent"
    value: int
    period_s: int


@dataclass(frozen=True)
class HPAScalingRules:
    """``behavior.scaleUp`` or ``scaleDown`` with the API's defaults filled in."""

    stabilization_window_s: int
    select_policy: str  # "Max" | "Min" | "Disabled"
    policies: tuple[HPAScalingPolicy, ...]
    tolerance: float | None = None  # None: the controller's --horizontal-pod-autoscaler-tolerance (0.1)


@dataclass(frozen=True)
class HPABehavior:
    scale_up: HPAScalingRules
    scale_down: HPAScalingRules


@dataclass(frozen=True)
class HorizontalPodAutoscaler:
    name: str
    namespace: str
    api_version: str  # autoscaling/v2 or autoscaling/v1
    target_kind: str  # scaleTargetRef.kind (Deployment)
    target_name: str
    min_replicas: int
    max_replicas: int
    metrics: tuple[MetricSpec, ...]
    behavior: HPABehavior | None  # None: no behavior given, the controller's legacy path
    manifest: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)
    target_api_version: str = ""  # scaleTargetRef.apiVersion as given (apps/v1 for a Deployment)


#: v2 defaults.go's defaultHPAScaleUpRules: no window, 4 pods or 100 % per 15 s, the larger.
SCALE_UP_DEFAULTS = HPAScalingRules(0, "Max", (HPAScalingPolicy("Pods", 4, 15), HPAScalingPolicy("Percent", 100, 15)))
#: defaultHPAScaleDownRules: 100 % per 15 s; its window is left nil there and the controller then
#: uses --horizontal-pod-autoscaler-downscale-stabilization (300 s), filled in here.
SCALE_DOWN_DEFAULTS = HPAScalingRules(300, "Max", (HPAScalingPolicy("Percent", 100, 15),))


def parse_hpa(doc: dict[str, Any]) -> tuple[HorizontalPodAutoscaler | None, list[FieldError]]:
    """Default and validate an ``autoscaling/v2`` or ``autoscaling/v1`` HorizontalPodAutoscaler
    (v2 defaults.go; ValidateHorizontalPodAutoscaler, its checks in its order).

    A v1 object is read as the API server converts it: ``targetCPUUtilizationPercentage`` is one
    Resource cpu Utilization metric (80 when omitted), with no ``behavior``. While anything
    cannot be decoded, only the decoder's refusals are returned, as the API server validates
    nothing it could not decode.
    """
    errors: list[FieldError] = []
    api = str(doc.get("apiVersion"))
    assert api in HPA_API_VERSIONS, "the caller dispatches on apiVersion"
    version = api.split("/")[1]
    meta = mapping(doc.get("metadata"), "metadata", errors)
    name = object_name(meta, errors, DNS1123, DNS1123_MSG, DNS1123_SUBDOMAIN_MAX_LENGTH)
    read_labels(meta.get("labels"), "metadata.labels", errors)  # ValidateObjectMeta
    owner = "HorizontalPodAutoscalerSpec"
    spec = decode_object(
        doc.get("spec"), "spec", "HorizontalPodAutoscaler", f"{version}.{owner}", _SPEC_KEYS[api], errors
    )
    min_replicas = decode_int(spec.get("minReplicas"), "spec.minReplicas", owner, 32, errors)
    max_replicas = decode_int(spec.get("maxReplicas"), "spec.maxReplicas", owner, 32, errors)
    min_replicas = 1 if spec.get("minReplicas") is None else min_replicas
    max_replicas = 0 if max_replicas is None else max_replicas  # a Go int32 left unset is 0
    _replica_bounds(min_replicas, max_replicas, errors)
    ref_path = "spec.scaleTargetRef"
    ref_type = f"{version}.CrossVersionObjectReference"
    target_kind, target_name, target_api = reference(spec.get("scaleTargetRef"), ref_path, owner, ref_type, errors)
    behavior: HPABehavior | None = None
    if api == "autoscaling/v2":
        raw_metrics = spec.get("metrics")
        metrics = read_metrics(raw_metrics, errors)
        if not raw_metrics:  # defaults.go: no metric at all is CPU at 80 %
            metrics = (_cpu_metric(DEFAULT_CPU_UTILIZATION),)
        behavior = _behavior(spec.get("behavior"), errors)
    else:
        path = "spec.targetCPUUtilizationPercentage"
        percent = decode_int(spec.get("targetCPUUtilizationPercentage"), path, owner, 32, errors)
        if percent is not None and percent < 1:
            # Converted to the v2 metric and checked there; svcsim names the field as written.
            errors.append(FieldError(path, f"Invalid value: {percent}: must be greater than 0"))
        metrics = (_cpu_metric(DEFAULT_CPU_UTILIZATION if percent is None else percent),)
    decoding = [error for error in errors if error.decoding]
    if decoding:
        return None, decoding
    if errors or min_replicas is None:
        return None, errors
    return HorizontalPodAutoscaler(
        name=name,
        namespace=str(meta.get("namespace", "default")),
        api_version=api,
        target_kind=target_kind,
        target_name=target_name,
        min_replicas=min_replicas,
        max_replicas=max_replicas,
        metrics=metrics,
        behavior=behavior,
        manifest=doc,
        target_api_version=target_api,
    ), []


def _replica_bounds(low: int | None, high: int, errors: list[FieldError]) -> None:
    """minReplicas ≥ 1 (HPAScaleToZero is alpha, off by default), maxReplicas ≥ 1 and ≥ minReplicas;
    and maxReplicas within what svcsim simulates."""
    if low is not None and low < 1:
        errors.append(FieldError("spec.minReplicas", f"Invalid value: {low}: must be greater than or equal to 1"))
    if high < 1:
        errors.append(FieldError("spec.maxReplicas", f"Invalid value: {high}: must be greater than 0"))
    if low is not None and high < low:
        errors.append(
            FieldError("spec.maxReplicas", f"Invalid value: {high}: must be greater than or equal to `minReplicas`")
        )
    if high > MAX_REPLICAS:
        errors.append(
            FieldError(
                "spec.maxReplicas",
                f"Invalid value: {high}: must be less than or equal to {MAX_REPLICAS} (svcsim simulates every pod)",
            )
        )


def _cpu_metric(percent: int) -> MetricSpec:
    return MetricSpec("Resource", "cpu", MetricTarget("Utilization", average_utilization=percent))


def _behavior(raw: Any, errors: list[FieldError]) -> HPABehavior | None:
    """``spec.behavior``: None when omitted (the controller's legacy path); when given, each
    direction with every omitted field filled from the defaults (GenerateHPAScaleUpRules,
    GenerateHPAScaleDownRules), then checked as validateScalingRules does."""
    if raw is None:
        return None
    path = "spec.behavior"
    keys = ("scaleUp", "scaleDown")
    body = decode_object(raw, path, "HorizontalPodAutoscalerSpec", "v2.HorizontalPodAutoscalerBehavior", keys, errors)
    up = _rules(body.get("scaleUp"), f"{path}.scaleUp", SCALE_UP_DEFAULTS, errors)
    down = _rules(body.get("scaleDown"), f"{path}.scaleDown", SCALE_DOWN_DEFAULTS, errors)
    return HPABehavior(up, down)


def _rules(raw: Any, path: str, defaults: HPAScalingRules, errors: list[FieldError]) -> HPAScalingRules:
    body = decode_object(raw, path, "HorizontalPodAutoscalerBehavior", "v2.HPAScalingRules", _RULES_KEYS, errors)
    owner = "HPAScalingRules"
    wpath = f"{path}.stabilizationWindowSeconds"
    window = decode_int(body.get("stabilizationWindowSeconds"), wpath, owner, 32, errors)
    if window is not None and window < 0:
        errors.append(FieldError(wpath, f"Invalid value: {window}: must be greater than or equal to zero"))
    elif window is not None and window > MAX_STABILIZATION_WINDOW_S:
        errors.append(
            FieldError(wpath, f"Invalid value: {window}: must be less than or equal to {MAX_STABILIZATION_WINDOW_S}")
        )
    select = body.get("selectPolicy")
    if select is not None and not isinstance(select, str):
        errors.append(unmarshal_error(select, f"{path}.selectPolicy", owner, "v2.ScalingPolicySelect"))
        select = None
    elif select is not None and select not in _SELECT_POLICIES:
        errors.append(unsupported(f"{path}.selectPolicy", select, _SELECT_POLICIES))
    policies = _policies(body.get("policies"), f"{path}.policies", errors)
    tolerance = read_quantity(body.get("tolerance"), f"{path}.tolerance", errors)
    if tolerance is not None and tolerance < 0:
        shown = body["tolerance"]  # as written (svcsim's choice: the API server prints its Go struct)
        errors.append(
            FieldError(f"{path}.tolerance", f"Invalid value: {go(shown)}: must be greater than or equal to zero")
        )
    return HPAScalingRules(
        stabilization_window_s=defaults.stabilization_window_s if window is None else window,
        select_policy=defaults.select_policy if select is None else select,
        policies=defaults.policies if policies is None else policies,
        tolerance=tolerance,
    )


def _policies(raw: Any, path: str, errors: list[FieldError]) -> tuple[HPAScalingPolicy, ...] | None:
    """The policies as given (None when omitted: the defaults); an empty list is kept, and refused."""
    if raw is None:
        return None
    if not isinstance(raw, list):
        errors.append(unmarshal_error(raw, path, "HPAScalingRules", "[]v2.HPAScalingPolicy"))
        return None
    if not raw:
        errors.append(FieldError(path, "Required value: must specify at least one Policy"))
    out = []
    for i, item in enumerate(raw):
        ipath = f"{path}[{i}]"
        keys = ("type", "value", "periodSeconds")
        body = decode_object(item, ipath, "HPAScalingRules", "v2.HPAScalingPolicy", keys, errors)
        kind = body.get("type")
        if kind is not None and not isinstance(kind, str):
            errors.append(unmarshal_error(kind, f"{ipath}.type", "HPAScalingPolicy", "v2.HPAScalingPolicyType"))
        elif kind not in _POLICY_TYPES:
            errors.append(unsupported(f"{ipath}.type", kind or "", _POLICY_TYPES))
        numbers = []
        for key in ("value", "periodSeconds"):
            number = decode_int(body.get(key), f"{ipath}.{key}", "HPAScalingPolicy", 32, errors)
            number = 0 if number is None else number
            if number <= 0:
                errors.append(FieldError(f"{ipath}.{key}", f"Invalid value: {number}: must be greater than zero"))
            numbers.append(number)
        if numbers[1] > MAX_PERIOD_S:
            errors.append(
                FieldError(
                    f"{ipath}.periodSeconds",
                    f"Invalid value: {numbers[1]}: must be less than or equal to {MAX_PERIOD_S}",
                )
            )
        out.append(HPAScalingPolicy(str(kind), numbers[0], numbers[1]))
    return tuple(out)
