"""A container's ``resources.requests`` and ``resources.limits``: decoded, validated and
defaulted as the API server does (docs/semantics.md#resources).

Decoding is the strict JSON decoder's (``v1.ResourceRequirements``: ``limits``, ``requests``,
``claims``; each quantity through ``Quantity.UnmarshalJSON``); validation is
ValidateResourceRequirements with validateContainerResourceName and
ValidateResourceQuantityValue, message for message; a limit without a request gives the request
(SetDefaults_Pod, applied to the pods the Deployment creates). svcsim keeps cpu (millicores,
MilliValue) and memory (bytes, Value); other resource names are checked, then ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sim.kube.labels import label_key_problems
from sim.kube.quantity import INT64_MAX, Quantity, QuantityError, decode_quantity, parse_quantity
from sim.kube.validation import NEGATIVE_MSG, FieldError, decode_object, go, one_line, unmarshal_error

__all__ = [
    "ContainerResources",
    "container_resources",
    "pod_total",
]

_KEYS = ("limits", "requests", "claims")
_HUGE_PAGES = "hugepages-"
_NATIVE_PREFIX = "kubernetes.io/"
_REQUESTS_PREFIX = "requests."
#: The resource names pkg/apis/core/helper knows (standardResources), besides hugepages.
_STANDARD = frozenset(
    (
        "cpu",
        "memory",
        "ephemeral-storage",
        "requests.cpu",
        "requests.memory",
        "requests.ephemeral-storage",
        "limits.cpu",
        "limits.memory",
        "limits.ephemeral-storage",
        "pods",
        "resourcequotas",
        "services",
        "replicationcontrollers",
        "secrets",
        "configmaps",
        "persistentvolumeclaims",
        "storage",
        "requests.storage",
        "services.nodeports",
        "services.loadbalancers",
    )
)
_STANDARD_CONTAINER = frozenset(("cpu", "memory", "ephemeral-storage"))
_INTEGER = frozenset(
    (
        "pods",
        "resourcequotas",
        "services",
        "replicationcontrollers",
        "secrets",
        "configmaps",
        "persistentvolumeclaims",
        "services.nodeports",
        "services.loadbalancers",
    )
)
_QOS = ("cpu", "memory")


@dataclass(frozen=True)
class ContainerResources:
    """One container's cpu (millicores, rounded up) and memory (bytes, rounded up) requests and
    limits after defaulting, None where the container sets none; ``other``, the names of the
    other resources it requests or limits (checked, not modelled)."""

    container: str
    cpu_request_m: int | None = None
    cpu_limit_m: int | None = None
    memory_request_b: int | None = None
    memory_limit_b: int | None = None
    other: tuple[str, ...] = ()

    @property
    def sets_any(self) -> bool:
        """Whether the container requests or limits anything."""
        values = (self.cpu_request_m, self.cpu_limit_m, self.memory_request_b, self.memory_limit_b)
        return bool(self.other) or any(value is not None for value in values)


def pod_total(containers: Sequence[ContainerResources], field: str) -> int | None:
    """A pod-level value: the sum of ``field`` over the containers that set it; None when
    none does (the HPA, like the scheduler, sums containers' requests)."""
    values = [getattr(c, field) for c in containers if getattr(c, field) is not None]
    return sum(values) if values else None


def container_resources(
    container: dict[str, Any], cpath: str, name: str, errors: list[FieldError]
) -> ContainerResources | None:
    """The container's cpu and memory, or None when its ``resources`` cannot be decoded or
    are invalid (the problems are in ``errors``)."""
    path = f"{cpath}.resources"
    before = len(errors)
    raw = decode_object(container.get("resources"), path, "Container", "v1.ResourceRequirements", _KEYS, errors)
    limits = _resource_list(raw.get("limits"), f"{path}.limits", errors)
    requests = _resource_list(raw.get("requests"), f"{path}.requests", errors)
    claims = raw.get("claims")
    if claims is not None and not isinstance(claims, list):
        errors.append(unmarshal_error(claims, f"{path}.claims", "ResourceRequirements", "[]v1.ResourceClaim"))
    if len(errors) > before:
        return None
    _validate(limits, requests, path, errors)
    if len(errors) > before:
        return None
    requests = {**limits, **requests}  # SetDefaults_Pod: a limit without a request gives the request
    values = {
        "cpu_request_m": _amount(requests.get("cpu"), -3, f"{path}.requests[cpu]", "millicores", errors),
        "cpu_limit_m": _amount(limits.get("cpu"), -3, f"{path}.limits[cpu]", "millicores", errors),
        "memory_request_b": _amount(requests.get("memory"), 0, f"{path}.requests[memory]", "bytes", errors),
        "memory_limit_b": _amount(limits.get("memory"), 0, f"{path}.limits[memory]", "bytes", errors),
    }
    if len(errors) > before:
        return None
    other = tuple(sorted(set(requests) - set(_QOS)))
    return ContainerResources(name, **values, other=other)


def _resource_list(raw: Any, path: str, errors: list[FieldError]) -> dict[str, Quantity]:
    """A ``v1.ResourceList``: a map of resource names to quantities, each decoded; a quantity
    the decoder refuses is its error (apimachinery's text), named at the entry's path."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        errors.append(unmarshal_error(raw, path, "ResourceRequirements", "v1.ResourceList"))
        return {}
    out = {}
    for key, value in raw.items():
        name = key if isinstance(key, str) else go(key)  # YAML keys reach JSON as strings
        try:
            out[name] = decode_quantity(value)
        except QuantityError as problem:
            errors.append(FieldError(f"{path}[{one_line(name)}]", str(problem), decoding=True))
    return out


def _validate(limits: dict[str, Quantity], requests: dict[str, Quantity], path: str, errors: list[FieldError]) -> None:
    """ValidateResourceRequirements, limits first, each list in manifest order (Go ranges over
    a map, in no fixed order)."""
    huge_pages = cpu_or_memory = False
    for name, quantity in limits.items():
        at = f"{path}.limits[{one_line(name)}]"
        errors.extend(FieldError(at, f"Invalid value: {go(name)}: {p}") for p in _name_problems(name))
        errors.extend(_quantity_problems(name, quantity, at))
        huge_pages |= name.startswith(_HUGE_PAGES)
        cpu_or_memory |= name in _QOS
    for name, quantity in requests.items():
        at = f"{path}.requests[{one_line(name)}]"
        errors.extend(FieldError(at, f"Invalid value: {go(name)}: {p}") for p in _name_problems(name))
        errors.extend(_quantity_problems(name, quantity, at))
        limit = limits.get(name)
        shown = go(str(quantity))
        if limit is not None:
            if quantity.amount != limit.amount and not _overcommit_allowed(name):
                errors.append(
                    FieldError(f"{path}.requests", f"Invalid value: {shown}: must be equal to {name} limit of {limit}")
                )
            elif quantity.amount > limit.amount:
                detail = f"Invalid value: {shown}: must be less than or equal to {name} limit of {limit}"
                errors.append(FieldError(f"{path}.requests", detail))
        elif not _overcommit_allowed(name):
            errors.append(
                FieldError(f"{path}.limits", "Required value: Limit must be set for non overcommitable resources")
            )
        huge_pages |= name.startswith(_HUGE_PAGES)
        cpu_or_memory |= name in _QOS
    if huge_pages and not cpu_or_memory:
        errors.append(FieldError(path, "Forbidden: HugePages require cpu or memory"))


def _name_problems(name: str) -> list[str]:
    """validateResourceName then validateContainerResourceName: a qualified name; without a
    ``/``, a standard resource, and one a container may use; with one, kubernetes.io's or an
    extended resource."""
    problems = label_key_problems(name)
    if problems:
        return problems
    if "/" not in name:
        if not (name in _STANDARD or name.startswith((_HUGE_PAGES, f"{_REQUESTS_PREFIX}{_HUGE_PAGES}"))):
            problems.append("must be a standard resource type or fully qualified")
        if not (name in _STANDARD_CONTAINER or name.startswith(_HUGE_PAGES)):
            problems.append("must be a standard resource for containers")
    elif not _native(name) and not _extended(name):
        problems.append("doesn't follow extended resource name standard")
    return problems


def _quantity_problems(name: str, quantity: Quantity, at: str) -> list[FieldError]:
    """ValidateResourceQuantityValue (non-negative; a whole number for integer resources), then
    a hugepages size's rule (validateResourceQuantityHugePageValue)."""
    shown = go(str(quantity))
    out = []
    if quantity.amount < 0:
        out.append(FieldError(at, f"Invalid value: {shown}: {NEGATIVE_MSG}"))
    if (name in _INTEGER or _extended(name)) and not _whole(quantity):
        out.append(FieldError(at, f"Invalid value: {shown}: must be an integer"))
    if name.startswith(_HUGE_PAGES) and not _divisible(name, quantity):
        out.append(FieldError(at, f"Invalid value: {shown}: {quantity} is not positive integer multiple of {name}"))
    return out


def _whole(quantity: Quantity) -> bool:
    """``MilliValue() % 1000 == 0``, IsIntegerResourceName's test (so 0.9999 counts as 1)."""
    try:
        return quantity.milli_value() % 1000 == 0
    except OverflowError:
        return quantity.amount % 1 == 0


def _native(name: str) -> bool:
    """IsNativeResource: no domain, or a kubernetes.io one."""
    return "/" not in name or _NATIVE_PREFIX in name


def _extended(name: str) -> bool:
    """IsExtendedResourceName: not native, not ``requests.``-prefixed, and still a qualified
    name with ``requests.`` in front (the name quota would use)."""
    if _native(name) or name.startswith(_REQUESTS_PREFIX):
        return False
    return not label_key_problems(f"{_REQUESTS_PREFIX}{name}")


def _overcommit_allowed(name: str) -> bool:
    """IsOvercommitAllowed: native resources other than hugepages."""
    return _native(name) and not name.startswith(_HUGE_PAGES)


def _divisible(name: str, quantity: Quantity) -> bool:
    """IsHugePageResourceValueDivisible: the page size (the name's suffix) is a whole positive
    quantity, and the value a multiple of it."""
    try:
        page = parse_quantity(name.removeprefix(_HUGE_PAGES))
        return page.amount > 0 and page.amount % 1 == 0 and quantity.value() % page.value() == 0
    except (QuantityError, OverflowError):
        return False


def _amount(quantity: Quantity | None, scale: int, at: str, unit: str, errors: list[FieldError]) -> int | None:
    """The quantity in thousandths (scale -3) or units (0), rounded up; svcsim's own limit: an
    int64, as Go's MilliValue and Value return it."""
    if quantity is None:
        return None
    try:
        amount = quantity.scaled_value(scale)
    except OverflowError:
        amount = INT64_MAX + 1
    if amount > INT64_MAX:
        errors.append(
            FieldError(at, f"Invalid value: {go(str(quantity))}: must be at most {INT64_MAX} {unit} (svcsim's limit)")
        )
        return None
    return amount
