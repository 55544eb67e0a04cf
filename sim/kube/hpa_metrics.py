"""An ``autoscaling/v2`` HPA's ``spec.metrics``: decoded strictly and validated as the API server
does (pkg/apis/autoscaling/validation: validateMetrics, validateMetricSpec, the per-source
checks and validateMetricTarget), with its wording (docs/semantics.md#horizontalpodautoscaler).

Quantities (``value``, ``averageValue``, a rule's ``tolerance``) are read by
:func:`read_quantity`, through :mod:`sim.kube.quantity` (apimachinery's ``resource.ParseQuantity``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sim.kube.quantity import ERR_FORMAT_WRONG, QuantityError, decode_quantity
from sim.kube.validation import (
    FieldError,
    decode_int,
    decode_object,
    dns1123_label_problems,
    go,
    unmarshal_error,
    unsupported,
)

__all__ = [
    "METRIC_SOURCE_TYPES",
    "QUANTITY_FORMAT_MSG",
    "MetricSpec",
    "MetricTarget",
    "metric_key",
    "path_segment_problems",
    "read_metrics",
    "read_quantity",
    "reference",
]

#: validMetricSourceTypes, listed sorted as ``sets.List`` gives them in NotSupported messages.
METRIC_SOURCE_TYPES = ("ContainerResource", "External", "Object", "Pods", "Resource")
#: resource.ErrFormatWrong: what the decoder says of a value that is not a quantity.
QUANTITY_FORMAT_MSG = ERR_FORMAT_WRONG
# The source field of each type, in the order validateMetricSpec looks at them, and its Go struct.
_SOURCES = (
    ("object", "Object", "ObjectMetricSource"),
    ("external", "External", "ExternalMetricSource"),
    ("pods", "Pods", "PodsMetricSource"),
    ("resource", "Resource", "ResourceMetricSource"),
    ("containerResource", "ContainerResource", "ContainerResourceMetricSource"),
)
_SOURCE_KEYS = {
    "object": ("describedObject", "target", "metric"),
    "external": ("metric", "target"),
    "pods": ("metric", "target"),
    "resource": ("name", "target"),
    "containerResource": ("name", "target", "container"),
}
_TARGET_KEYS = ("type", "value", "averageValue", "averageUtilization")
_REFERENCE_KEYS = ("kind", "name", "apiVersion")
_TARGET_TYPES = ("Utilization", "Value", "AverageValue")


@dataclass(frozen=True)
class MetricTarget:
    """``type`` Utilization (``average_utilization``, percent of request), AverageValue
    (``average_value``) or Value (``value``); quantities as floats in base units (cores for cpu,
    bytes for memory, plain numbers otherwise).

    As the API server stores it: ``type`` is not checked against the field set (a Resource
    metric with ``type: Utilization`` and only an ``averageValue`` is valid; the controller
    reads the fields).
    """

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


def metric_key(spec: MetricSpec) -> str:
    """How svcsim names a metric in its tables: ``cpu`` / ``memory`` (Resource and
    ContainerResource), ``pods/NAME``, ``external/NAME``, ``object/KIND/NAME/METRIC``."""
    if spec.type in ("Resource", "ContainerResource"):
        return spec.name
    if spec.type == "Object":
        return f"object/{spec.described}/{spec.name}"
    return f"{spec.type.lower()}/{spec.name}"


def read_quantity(value: Any, path: str, errors: list[FieldError]) -> float | None:
    """A ``resource.Quantity`` field as a float in base units (``500m`` is 0.5, ``1Ki`` 1024); None
    when omitted or refused. Read by :func:`sim.kube.quantity.decode_quantity` (ParseQuantity,
    with apimachinery's error texts)."""
    if value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        errors.append(unmarshal_error(value, path, "", "resource.Quantity"))
        return None
    try:
        amount = decode_quantity(value).amount
    except QuantityError as err:
        errors.append(FieldError(path, str(err), decoding=True))
        return None
    number = float(amount)
    if not math.isfinite(number):
        errors.append(FieldError(path, f"Invalid value: {go(str(value))}: svcsim reads quantities up to about 1e308"))
        return None
    return number


def path_segment_problems(name: str) -> list[str]:
    """apimachinery's IsValidPathSegmentName: the rule for scaleTargetRef's kind and name and a metric's name."""
    problems = [f"may not be '{name}'"] if name in (".", "..") else []
    problems += [f"may not contain '{ch}'" for ch in "/%" if ch in name]
    return problems


def reference(raw: Any, path: str, owner: str, go_type: str, errors: list[FieldError]) -> tuple[str, str, str]:
    """A CrossVersionObjectReference as ``(kind, name, apiVersion)``, checked as
    ValidateCrossVersionObjectReference does: kind and name required, each a valid path segment."""
    ref = decode_object(raw, path, owner, go_type, _REFERENCE_KEYS, errors)
    kind, name, api = (
        _string(ref.get(key), f"{path}.{key}", "CrossVersionObjectReference", errors) for key in _REFERENCE_KEYS
    )
    for key, value in (("kind", kind), ("name", name)):
        if not value:
            errors.append(FieldError(f"{path}.{key}", "Required value"))
        errors.extend(
            FieldError(f"{path}.{key}", f"Invalid value: {go(value)}: {p}") for p in path_segment_problems(value)
        )
    return kind, name, api


def read_metrics(raw: Any, errors: list[FieldError]) -> tuple[MetricSpec, ...]:
    """``spec.metrics``, each entry checked as validateMetricSpec does; the valid ones, in order."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        errors.append(unmarshal_error(raw, "spec.metrics", "HorizontalPodAutoscalerSpec", "[]v2.MetricSpec"))
        return ()
    metrics = []
    for i, item in enumerate(raw):
        before = len(errors)
        metric = _metric(item, f"spec.metrics[{i}]", errors)
        if metric is not None and len(errors) == before:
            metrics.append(metric)
    return tuple(metrics)


def _metric(raw: Any, path: str, errors: list[FieldError]) -> MetricSpec | None:
    keys = ("type", *(key for key, _, _ in _SOURCES))
    item = decode_object(raw, path, "HorizontalPodAutoscalerSpec", "v2.MetricSpec", keys, errors)
    kind = _string(item.get("type"), f"{path}.type", "MetricSpec", errors, "v2.MetricSourceType")
    if not kind:
        errors.append(FieldError(f"{path}.type", "Required value: must specify a metric source type"))
    if kind not in METRIC_SOURCE_TYPES:
        errors.append(unsupported(f"{path}.type", kind, METRIC_SOURCE_TYPES))
    present = [key for key, _, _ in _SOURCES if item.get(key) is not None]
    found: MetricSpec | None = None
    for key, source_type, struct in _SOURCES:
        if present and key == present[0]:
            spath = f"{path}.{key}"
            body = decode_object(item[key], spath, "MetricSpec", f"v2.{struct}", _SOURCE_KEYS[key], errors)
            found = _source(source_type, body, spath, struct, errors)
    expected = next((key for key, source_type, _ in _SOURCES if source_type == kind), None)
    if expected is not None and expected not in present:
        errors.append(
            FieldError(f"{path}.{expected}", "Required value: must populate information for the given metric source")
        )
    if len(present) != 1:
        for key in present:
            if key != expected:
                errors.append(FieldError(f"{path}.{key}", "Forbidden: must populate the given metric source only"))
    return found if found is not None and found.type == kind else None


def _source(source_type: str, body: dict[str, Any], path: str, struct: str, errors: list[FieldError]) -> MetricSpec:
    """One metric source, checked as validate<Type>Source does."""
    name, container, described, selector = "", None, None, None
    if source_type in ("Resource", "ContainerResource"):
        name = _string(body.get("name"), f"{path}.name", struct, errors, "v1.ResourceName")
        if not name:
            errors.append(FieldError(f"{path}.name", "Required value: must specify a resource name"))
        elif source_type == "ContainerResource" and "/" not in name and not _standard_container_resource(name):
            errors.append(
                FieldError(f"{path}.name", f"Invalid value: {go(name)}: must be a standard resource for containers")
            )
    if source_type == "ContainerResource":
        container = _string(body.get("container"), f"{path}.container", struct, errors)
        if not container:
            errors.append(FieldError(f"{path}.container", "Required value: must specify a container"))
        errors.extend(
            FieldError(f"{path}.container", f"Invalid value: {go(container)}: {p}") for p in _label_problems(container)
        )
    if source_type == "Object":
        ref_kind, ref_name, _ = reference(
            body.get("describedObject"), f"{path}.describedObject", struct, "v2.CrossVersionObjectReference", errors
        )
        described = f"{ref_kind}/{ref_name}"
    if source_type in ("Object", "External", "Pods"):
        name, selector = _identifier(body.get("metric"), f"{path}.metric", struct, errors)
    target = _target(body.get("target"), f"{path}.target", struct, errors)
    tpath = f"{path}.target"
    has_value, has_average = target.value is not None, target.average_value is not None
    if source_type == "Object" and not (has_value or has_average):
        errors.append(
            FieldError(f"{tpath}.averageValue", "Required value: must set either a target value or averageValue")
        )
    elif source_type == "External" and not (has_value or has_average):
        errors.append(
            FieldError(
                f"{tpath}.averageValue", "Required value: must set either a target value for metric or a per-pod target"
            )
        )
    elif source_type == "External" and has_value and has_average:
        errors.append(
            FieldError(f"{tpath}.value", "Forbidden: may not set both a target value for metric and a per-pod target")
        )
    elif source_type == "Pods" and not has_average:
        errors.append(
            FieldError(f"{tpath}.averageValue", "Required value: must specify a positive target averageValue")
        )
    elif source_type in ("Resource", "ContainerResource"):
        has_utilization = target.average_utilization is not None
        if not (has_utilization or has_average):
            errors.append(
                FieldError(
                    f"{tpath}.averageUtilization",
                    "Required value: must set either a target raw value or a target utilization",
                )
            )
        elif has_utilization and has_average:
            errors.append(
                FieldError(
                    f"{tpath}.averageValue", "Forbidden: may not set both a target raw value and a target utilization"
                )
            )
    return MetricSpec(source_type, name, target, container, described, selector)


def _identifier(raw: Any, path: str, struct: str, errors: list[FieldError]) -> tuple[str, dict[str, Any] | None]:
    """A MetricIdentifier (validateMetricIdentifier): a name, required and a path segment; a selector kept as given."""
    ident = decode_object(raw, path, struct, "v2.MetricIdentifier", ("name", "selector"), errors)
    name = _string(ident.get("name"), f"{path}.name", "MetricIdentifier", errors)
    if not name:
        errors.append(FieldError(f"{path}.name", "Required value: must specify a metric name"))
    errors.extend(FieldError(f"{path}.name", f"Invalid value: {go(name)}: {p}") for p in path_segment_problems(name))
    selector = ident.get("selector")
    if selector is not None and not isinstance(selector, dict):
        errors.append(unmarshal_error(selector, f"{path}.selector", "MetricIdentifier", "v1.LabelSelector"))
        selector = None
    return name, selector


def _target(raw: Any, path: str, struct: str, errors: list[FieldError]) -> MetricTarget:
    """A MetricTarget, checked as validateMetricTarget does."""
    body = decode_object(raw, path, struct, "v2.MetricTarget", _TARGET_KEYS, errors)
    kind = _string(body.get("type"), f"{path}.type", "MetricTarget", errors, "v2.MetricTargetType")
    if not kind:
        errors.append(FieldError(f"{path}.type", "Required value: must specify a metric target type"))
    if kind not in _TARGET_TYPES:
        errors.append(
            FieldError(f"{path}.type", f"Invalid value: {go(kind)}: must be either Utilization, Value, or AverageValue")
        )
    quantities = {}
    for key in ("value", "averageValue"):
        number = read_quantity(body.get(key), f"{path}.{key}", errors)
        if number is not None and number <= 0:
            errors.append(FieldError(f"{path}.{key}", f"Invalid value: {_shown(body.get(key))}: must be positive"))
        quantities[key] = number
    utilization = decode_int(body.get("averageUtilization"), f"{path}.averageUtilization", "MetricTarget", 32, errors)
    if utilization is not None and utilization < 1:
        errors.append(FieldError(f"{path}.averageUtilization", f"Invalid value: {utilization}: must be greater than 0"))
    return MetricTarget(kind, utilization, quantities["averageValue"], quantities["value"])


def _string(value: Any, path: str, owner: str, errors: list[FieldError], go_type: str = "string") -> str:
    """A string field ("" when omitted); anything else is the decoder's unmarshal error."""
    if value is None:
        return ""
    if not isinstance(value, str):
        errors.append(unmarshal_error(value, path, owner, go_type))
        return ""
    return value


def _shown(value: Any) -> str:
    """A quantity in a message as written (svcsim's choice: the API server prints its Go struct)."""
    return go(value)


def _standard_container_resource(name: str) -> bool:
    """IsStandardContainerResourceName: cpu, memory, ephemeral-storage and hugepages-<size>."""
    return name in ("cpu", "memory", "ephemeral-storage") or name.startswith("hugepages-")


def _label_problems(name: str) -> list[str]:
    return dns1123_label_problems(name) if name else []
