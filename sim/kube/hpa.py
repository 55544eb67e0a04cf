"""Kubernetes ``autoscaling/v2`` (and ``v1``) HorizontalPodAutoscaler objects, as the API server
stores them: defaults filled, validated (docs/semantics.md#horizontalpodautoscaler).

The shapes here are the contract between the manifest parser and the controller's rules; the
run-time controller that acts on them is not wired in yet (issue 11): a scenario with an HPA
is warned about and its replica count changes only through events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "HPABehavior",
    "HPAScalingPolicy",
    "HPAScalingRules",
    "HorizontalPodAutoscaler",
    "MetricSpec",
    "MetricTarget",
]


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
class MetricTarget:
    """``type`` Utilization (``average_utilization``, percent of request), AverageValue
    (``average_value``) or Value (``value``); quantities as floats in base units (cores for cpu,
    bytes for memory, plain numbers otherwise)."""

    type: str
    average_utilization: int | None = None
    average_value: float | None = None
    value: float | None = None


@dataclass(frozen=True)
class MetricSpec:
    """One metric: ``type`` Resource / ContainerResource (``name`` cpu or memory, ``container``),
    Pods / Object / External (``name`` the metric's name, ``selector`` its label selector as
    given, ``described`` the Object's target ``kind/name``)."""

    type: str
    name: str
    target: MetricTarget
    container: str | None = None
    described: str | None = None
    selector: dict[str, Any] | None = None


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
