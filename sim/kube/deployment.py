"""Kubernetes ``apps/v1 Deployment`` objects: how many pods, their labels, where they may run.

Defaults and validation follow the API server (pkg/apis/apps/validation, and ValidatePodSpec in
pkg/apis/core/validation for the pod template), with its wording (docs/semantics.md#deployments-and-pods).
Probes, the preStop hook and the rollout strategy are read by sim.kube.pod_lifecycle, whose
dataclasses are re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sim.kube.labels import label_errors, label_key_problems, label_value_problems, read_labels
from sim.kube.pod_lifecycle import (
    ContainerLifecycle,
    PreStop,
    Probe,
    Strategy,
    container_lifecycle,
    progress_deadline,
    scaled_value,
    strategy,
)
from sim.kube.resources import ContainerResources, container_resources, pod_total
from sim.kube.validation import (
    DNS1123,
    DNS1123_MSG,
    DNS1123_SUBDOMAIN_MAX_LENGTH,
    FieldError,
    default,
    dns1123_label_problems,
    dns1123_subdomain_problems,
    go,
    go_map,
    is_str_map,
    mapping,
    object_name,
    port_name_problems,
    sequence,
    unsupported,
    valid_port,
)

__all__ = [
    "MAX_REPLICAS",
    "ContainerPort",
    "ContainerResources",
    "Deployment",
    "LabelSelector",
    "PreStop",
    "Probe",
    "Strategy",
    "parse_deployment",
    "scaled_value",
]

#: svcsim's limit, not Kubernetes' (replicas is an int32 there): every pod is simulated.
MAX_REPLICAS = 100_000
PROTOCOLS = ("SCTP", "TCP", "UDP")
LIFECYCLE_FIELDS = ("startup_probe", "readiness_probe", "liveness_probe", "pre_stop")
OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


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
    startup_probe: Probe | None = None
    readiness_probe: Probe | None = None
    liveness_probe: Probe | None = None
    pre_stop: PreStop | None = None
    strategy: Strategy = field(default_factory=Strategy)
    min_ready_s: float = 0.0
    progress_deadline_s: float = 600.0
    #: Each container's cpu and memory, in container order; empty when no container sets
    #: ``resources`` (docs/semantics.md#resources): what the HPA divides usage by, CPU limits (CFS throttling).
    container_resources: tuple[ContainerResources, ...] = ()

    @property
    def cpu_request_m(self) -> int | None:
        """The pod's cpu request in millicores: the sum over the containers that set one
        (a limit alone sets it); None when none does."""
        return pod_total(self.container_resources, "cpu_request_m")

    @property
    def cpu_limit_m(self) -> int | None:
        """The pod's cpu limit in millicores, summed as :attr:`cpu_request_m`."""
        return pod_total(self.container_resources, "cpu_limit_m")

    @property
    def memory_request_b(self) -> int | None:
        """The pod's memory request in bytes, summed as :attr:`cpu_request_m`."""
        return pod_total(self.container_resources, "memory_request_b")

    @property
    def memory_limit_b(self) -> int | None:
        """The pod's memory limit in bytes, summed as :attr:`cpu_request_m`."""
        return pod_total(self.container_resources, "memory_limit_b")

    @property
    def container_names(self) -> list[str]:
        """The names of the pod template's containers, in order."""
        containers = self.manifest.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or []
        return [str(c["name"]) for c in containers if isinstance(c, dict) and isinstance(c.get("name"), str)]

    @property
    def sets_resources(self) -> bool:
        """Whether any container sets a request or a limit, of any resource."""
        return any(c.sets_any for c in self.container_resources)


def parse_deployment(doc: dict[str, Any]) -> tuple[Deployment | None, list[FieldError]]:
    """Default and validate an ``apps/v1`` Deployment manifest."""
    errors: list[FieldError] = []
    meta = mapping(doc.get("metadata"), "metadata", errors)
    spec = mapping(doc.get("spec"), "spec", errors)
    name = object_name(meta, errors, DNS1123, DNS1123_MSG, DNS1123_SUBDOMAIN_MAX_LENGTH)
    read_labels(meta.get("labels"), "metadata.labels", errors)  # ValidateObjectMeta
    replicas = spec.get("replicas", 1)
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
        errors.append(FieldError("spec.replicas", f"Invalid value: {go(replicas)}: must be greater than or equal to 0"))
    elif replicas > MAX_REPLICAS:
        errors.append(
            FieldError(
                "spec.replicas",
                f"Invalid value: {replicas}: must be less than or equal to {MAX_REPLICAS} (svcsim simulates every pod)",
            )
        )
    selector = _label_selector(spec.get("selector"), errors)
    template = mapping(spec.get("template"), "spec.template", errors)
    tmeta = mapping(template.get("metadata"), "spec.template.metadata", errors)
    # ValidatePodTemplateSpec names the labels' own problems spec.template.labels.
    labels = read_labels(
        tmeta.get("labels"), "spec.template.metadata.labels", errors, reported_at="spec.template.labels"
    )
    if selector is not None and not selector.matches(labels):
        errors.append(
            FieldError(
                "spec.template.metadata.labels",
                f"Invalid value: {go_map(labels)}: `selector` does not match template `labels`",
            )
        )
    pod = mapping(template.get("spec"), "spec.template.spec", errors)
    node_name = default(pod.get("nodeName"), None)
    if node_name is not None and not isinstance(node_name, str):
        errors.append(FieldError("spec.template.spec.nodeName", f"Invalid value: {go(node_name)}: must be a string"))
    elif node_name is not None:  # ValidatePodSpec: ValidateNodeName, message by message
        for problem in dns1123_subdomain_problems(node_name):
            errors.append(FieldError("spec.template.spec.nodeName", f"Invalid value: {go(node_name)}: {problem}"))
    node_selector = read_labels(pod.get("nodeSelector"), "spec.template.spec.nodeSelector", errors)
    grace = pod.get("terminationGracePeriodSeconds", 30)
    valid_grace = not isinstance(grace, bool) and isinstance(grace, int) and 0 <= grace < 2**63  # an int64
    if not valid_grace:
        errors.append(
            FieldError(
                "spec.template.spec.terminationGracePeriodSeconds",
                f"Invalid value: {go(grace)}: must be greater than or equal to 0",
            )
        )
    ports, lifecycle, resources = _containers(pod, grace if valid_grace else None, errors)
    rollout = strategy(spec, errors)
    min_ready_s, progress_deadline_s = progress_deadline(spec, errors)
    decoding = [error for error in errors if error.decoding]
    if decoding:  # the API server validates only what it could decode
        return None, decoding
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
        startup_probe=lifecycle.startup_probe,
        readiness_probe=lifecycle.readiness_probe,
        liveness_probe=lifecycle.liveness_probe,
        pre_stop=lifecycle.pre_stop,
        strategy=rollout,
        min_ready_s=float(min_ready_s),
        progress_deadline_s=float(progress_deadline_s),
        container_resources=resources if any(r.sets_any for r in resources) else (),
    ), []


def _containers(
    pod: dict[str, Any], grace_s: int | None, errors: list[FieldError]
) -> tuple[tuple[ContainerPort, ...], ContainerLifecycle, tuple[ContainerResources, ...]]:
    """The containers' ports, resources, probes and preStop hook, each container checked as
    validateContainers does: at least one container; each with a name (a DNS-1123 label,
    unique) and an image; ports with a number, name and protocol; its resources; its
    lifecycle and probes.

    svcsim models one app per pod: each probe kind, and the preStop hook, come from the first
    container that declares it."""
    ports: list[ContainerPort] = []
    resources: list[ContainerResources] = []
    found: dict[str, Any] = {}
    path = "spec.template.spec.containers"
    containers = sequence(pod.get("containers"), path, errors)
    if not containers and isinstance(pod.get("containers"), list | None):
        errors.append(FieldError(path, "Required value"))
    names: set[str] = set()
    for ci, container in enumerate(containers):
        cpath = f"{path}[{ci}]"
        if not isinstance(container, dict):
            errors.append(FieldError(cpath, f"Invalid value: {go(container)}: must be a mapping"))
            continue
        name = _container_name(container.get("name"), f"{cpath}.name", errors)
        image = container.get("image")
        if image is None or image == "":
            errors.append(FieldError(f"{cpath}.image", "Required value"))
        elif not isinstance(image, str):
            errors.append(FieldError(f"{cpath}.image", f"Invalid value: {go(image)}: must be a string"))
        ports.extend(_container_ports(container, cpath, errors))
        own_resources = container_resources(container, cpath, name or "", errors)
        if own_resources is not None:
            resources.append(own_resources)
        own = container_lifecycle(container, cpath, grace_s, errors)
        for key in LIFECYCLE_FIELDS:
            if found.get(key) is None:
                found[key] = getattr(own, key)
        if name is not None:  # after the container's own checks, as validateContainers reports it
            if name in names:
                errors.append(FieldError(f"{cpath}.name", f"Duplicate value: {go(name)}"))
            names.add(name)
    return tuple(ports), ContainerLifecycle(**found), tuple(resources)


def _container_name(name: Any, path: str, errors: list[FieldError]) -> str | None:
    """Required, and a DNS-1123 label (validateContainerCommon); the name if it is a string."""
    if name is None or name == "":
        errors.append(FieldError(path, "Required value"))
        return None
    if not isinstance(name, str):
        errors.append(FieldError(path, f"Invalid value: {go(name)}: must be a string"))
        return None
    errors.extend(FieldError(path, f"Invalid value: {go(name)}: {p}") for p in dns1123_label_problems(name))
    return name


def _container_ports(container: dict[str, Any], cpath: str, errors: list[FieldError]) -> list[ContainerPort]:
    """One container's ports, checked as validateContainerPorts does (number, name, protocol)."""
    ports: list[ContainerPort] = []
    for pi, raw in enumerate(sequence(container.get("ports"), f"{cpath}.ports", errors)):
        path = f"{cpath}.ports[{pi}]"
        if not isinstance(raw, dict):
            errors.append(FieldError(path, f"Invalid value: {go(raw)}: must be a mapping"))
            continue
        before = len(errors)
        number = raw.get("containerPort")
        if number is None:
            errors.append(FieldError(f"{path}.containerPort", "Required value"))
        elif not valid_port(number):
            errors.append(
                FieldError(
                    f"{path}.containerPort", f"Invalid value: {go(number)}: must be between 1 and 65535, inclusive"
                )
            )
        name = default(raw.get("name"), None)
        if name is not None:
            problems = port_name_problems(name) if isinstance(name, str) else ["must be a string"]
            errors.extend(FieldError(f"{path}.name", f"Invalid value: {go(name)}: {p}") for p in problems)
        protocol = default(raw.get("protocol"), "TCP")
        if protocol not in PROTOCOLS:
            errors.append(unsupported(f"{path}.protocol", protocol, PROTOCOLS))
        if len(errors) == before and isinstance(number, int):
            ports.append(ContainerPort(name, number, protocol))
    return ports


def _label_selector(raw: Any, errors: list[FieldError]) -> LabelSelector | None:
    """matchLabels and matchExpressions, with ValidateLabelSelectorRequirement's rules and wording."""
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
    before = len(errors)
    errors.extend(label_errors(labels, "spec.selector.matchLabels"))
    expressions = []
    for i, expr in enumerate(sequence(raw.get("matchExpressions"), "spec.selector.matchExpressions", errors)):
        path = f"spec.selector.matchExpressions[{i}]"
        if not isinstance(expr, dict):
            errors.append(FieldError(path, f"Invalid value: {go(expr)}: must be a mapping"))
            continue
        key, op = expr.get("key"), expr.get("operator")
        values = sequence(expr.get("values"), f"{path}.values", errors)
        if op in ("In", "NotIn") and not values and isinstance(expr.get("values"), list | None):
            errors.append(
                FieldError(f"{path}.values", "Required value: must be specified when `operator` is 'In' or 'NotIn'")
            )
        elif op in ("Exists", "DoesNotExist") and values:
            errors.append(
                FieldError(
                    f"{path}.values", "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
                )
            )
        elif not (isinstance(op, str) and op in OPERATORS):
            errors.append(FieldError(f"{path}.operator", f"Invalid value: {go(op)}: not a valid selector operator"))
        if not isinstance(key, str):
            errors.append(FieldError(f"{path}.key", f"Invalid value: {go(key)}: must be a string"))
        else:
            errors.extend(FieldError(f"{path}.key", f"Invalid value: {go(key)}: {p}") for p in label_key_problems(key))
        for j, value in enumerate(values):
            problems = label_value_problems(value) if isinstance(value, str) else ["must be a string"]
            errors.extend(FieldError(f"{path}.values[{j}]", f"Invalid value: {go(value)}: {p}") for p in problems)
        expressions.append((str(key), str(op), tuple(str(v) for v in values)))
    if len(errors) > before:
        return None
    if not labels and not expressions:
        errors.append(FieldError("spec.selector", "Invalid value: {}: empty selector is invalid for deployment"))
        return None
    return LabelSelector(tuple(sorted(labels.items())), tuple(expressions))
