"""Kubernetes ``apps/v1 Deployment`` objects: how many pods, their labels, where they may run.

Defaults and validation follow the API server (pkg/apis/apps/validation), with its wording.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sim.apimachinery import (
    DNS1123,
    DNS1123_MSG,
    FieldError,
    go,
    go_map,
    is_str_map,
    mapping,
    object_name,
    unsupported,
    valid_port,
)

__all__ = ["ContainerPort", "Deployment", "LabelSelector", "parse_deployment"]


@dataclass(frozen=True)
class LabelSelector:
    """``matchLabels`` plus ``matchExpressions`` (In, NotIn, Exists, DoesNotExist)."""

    match_labels: tuple[tuple[str, str], ...] = ()
    expressions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if any(labels.get(k) != v for k, v in self.match_labels):
            return False
        for key, op, values in self.expressions:
            present = key in labels
            if op == "In" and not (present and labels[key] in values):
                return False
            if op == "NotIn" and present and labels[key] in values:
                return False
            if op == "Exists" and not present:
                return False
            if op == "DoesNotExist" and present:
                return False
        return True


@dataclass(frozen=True)
class ContainerPort:
    name: str | None
    container_port: int
    protocol: str


@dataclass(frozen=True)
class Deployment:
    """An ``apps/v1 Deployment``: how many pods, their labels and where they may run."""

    name: str
    namespace: str
    replicas: int
    selector: LabelSelector
    labels: dict[str, str]
    node_name: str | None
    node_selector: dict[str, str]
    grace_period_s: float
    ports: tuple[ContainerPort, ...]
    manifest: dict[str, Any] = field(repr=False, compare=False)


def parse_deployment(doc: dict[str, Any]) -> tuple[Deployment | None, list[FieldError]]:
    """Default and validate an ``apps/v1`` Deployment manifest."""
    errors: list[FieldError] = []
    meta = mapping(doc.get("metadata"), "metadata", errors)
    spec = mapping(doc.get("spec"), "spec", errors)
    name = object_name(meta, errors, DNS1123, DNS1123_MSG)
    replicas = spec.get("replicas", 1)
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
        errors.append(FieldError("spec.replicas", f"Invalid value: {go(replicas)}: must be greater than or equal to 0"))
    selector = _label_selector(spec.get("selector"), errors)
    template = mapping(spec.get("template"), "spec.template", errors)
    tmeta = mapping(template.get("metadata"), "spec.template.metadata", errors)
    labels = tmeta.get("labels") or {}
    if not is_str_map(labels):
        errors.append(
            FieldError("spec.template.metadata.labels", f"Invalid value: {go(labels)}: must be a map of strings")
        )
        labels = {}
    if selector is not None and not selector.matches(labels):
        errors.append(
            FieldError(
                "spec.template.metadata.labels",
                f"Invalid value: {go_map(labels)}: `selector` does not match template `labels`",
            )
        )
    pod = mapping(template.get("spec"), "spec.template.spec", errors)
    node_name = pod.get("nodeName")
    if node_name is not None and not isinstance(node_name, str):
        errors.append(FieldError("spec.template.spec.nodeName", f"Invalid value: {go(node_name)}: must be a string"))
    node_selector = pod.get("nodeSelector") or {}
    if not is_str_map(node_selector):
        errors.append(
            FieldError(
                "spec.template.spec.nodeSelector", f"Invalid value: {go(node_selector)}: must be a map of strings"
            )
        )
    grace = pod.get("terminationGracePeriodSeconds", 30)
    if isinstance(grace, bool) or not isinstance(grace, int) or grace < 0:
        errors.append(
            FieldError(
                "spec.template.spec.terminationGracePeriodSeconds",
                f"Invalid value: {go(grace)}: must be greater than or equal to 0",
            )
        )
    ports = _container_ports(pod, errors)
    if errors or selector is None:
        return None, errors
    return Deployment(
        name=name,
        namespace=str(meta.get("namespace", "default")),
        replicas=replicas,
        selector=selector,
        labels=dict(labels),
        node_name=node_name,
        node_selector=dict(node_selector),
        grace_period_s=float(grace),
        ports=ports,
        manifest=doc,
    ), []


def _container_ports(pod: dict[str, Any], errors: list[FieldError]) -> tuple[ContainerPort, ...]:
    containers = pod.get("containers") or []
    if not isinstance(containers, list):
        errors.append(FieldError("spec.template.spec.containers", "Invalid value: must be a list"))
        return ()
    ports: list[ContainerPort] = []
    for ci, container in enumerate(containers):
        raw_ports = container.get("ports") or [] if isinstance(container, dict) else []
        for pi, raw in enumerate(raw_ports):
            path = f"spec.template.spec.containers[{ci}].ports[{pi}]"
            if not isinstance(raw, dict) or not valid_port(raw.get("containerPort")):
                value = raw.get("containerPort") if isinstance(raw, dict) else raw
                errors.append(
                    FieldError(
                        f"{path}.containerPort",
                        f"Invalid value: {go(value)}: must be between 1 and 65535, inclusive",
                    )
                )
                continue
            ports.append(ContainerPort(raw.get("name"), raw["containerPort"], raw.get("protocol", "TCP")))
    return tuple(ports)


def _label_selector(raw: Any, errors: list[FieldError]) -> LabelSelector | None:
    if raw is None:
        errors.append(FieldError("spec.selector", "Required value"))
        return None
    if not isinstance(raw, dict):
        errors.append(FieldError("spec.selector", f"Invalid value: {go(raw)}: must be a label selector"))
        return None
    labels = raw.get("matchLabels") or {}
    if not is_str_map(labels):
        errors.append(FieldError("spec.selector.matchLabels", f"Invalid value: {go(labels)}: must be a map of strings"))
        return None
    expressions = []
    for i, expr in enumerate(raw.get("matchExpressions") or []):
        op = expr.get("operator") if isinstance(expr, dict) else None
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            errors.append(
                unsupported(
                    f"spec.selector.matchExpressions[{i}].operator", op, ("DoesNotExist", "Exists", "In", "NotIn")
                )
            )
            continue
        expressions.append((str(expr.get("key")), op, tuple(str(v) for v in expr.get("values") or ())))
    if not labels and not expressions:
        errors.append(FieldError("spec.selector", "Invalid value: {}: empty selector is invalid for deployment"))
        return None
    return LabelSelector(tuple(sorted(labels.items())), tuple(expressions))
