"""Kubernetes objects as the user wrote them: ``v1 Service`` and ``apps/v1 Deployment``.

Parsing applies the API server's defaults and validation with its own wording
(pkg/apis/core/v1/defaults.go, pkg/apis/core/validation/validation.go), so a manifest
that ``kubectl apply`` would refuse is refused here with the same message. Fields the
simulator does not model are accepted and kept in ``manifest`` untouched.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ContainerPort",
    "Deployment",
    "FieldError",
    "LabelSelector",
    "Service",
    "ServicePort",
    "parse_deployment",
    "parse_service",
]

SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
PROTOCOLS = ("SCTP", "TCP", "UDP")
_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_IANA_SVC_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$")
_DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
    "an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
_DNS1123_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


@dataclass(frozen=True)
class FieldError:
    """One validation failure: ``path`` in the manifest and the API server's ``detail``."""

    path: str
    detail: str


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
class ServicePort:
    name: str | None
    protocol: str
    port: int
    target_port: int | str
    node_port: int | None

    def kubectl(self) -> str:
        """``80:30008/TCP`` or ``80/TCP`` (printers.go makePortString)."""
        if self.node_port:
            return f"{self.port}:{self.node_port}/{self.protocol}"
        return f"{self.port}/{self.protocol}"


@dataclass(frozen=True)
class Service:
    """A ``v1 Service`` after defaulting; ``selector`` None means no managed endpoints."""

    name: str
    namespace: str
    type: str
    selector: dict[str, str] | None
    ports: tuple[ServicePort, ...]
    cluster_ip: str | None
    external_traffic_policy: str | None
    session_affinity: str
    manifest: dict[str, Any] = field(repr=False, compare=False)

    @property
    def has_node_ports(self) -> bool:
        return self.type in ("NodePort", "LoadBalancer")

    def selects(self, labels: Mapping[str, str]) -> bool:
        """Service selectors are equality-only and an empty selector selects nothing."""
        if not self.selector:
            return False
        return all(labels.get(k) == v for k, v in self.selector.items())


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


def parse_service(doc: dict[str, Any]) -> tuple[Service | None, list[FieldError]]:
    """Default and validate a Service manifest; return it, or None with the errors."""
    errors: list[FieldError] = []
    meta = _mapping(doc.get("metadata"), "metadata", errors)
    spec = _mapping(doc.get("spec"), "spec", errors)
    name = _object_name(meta, errors, _DNS1035, _DNS1035_MSG)
    # SetDefaults_Service (defaults.go) treats "" like an omitted field throughout.
    svc_type = _default(spec.get("type"), "ClusterIP")
    if svc_type not in SERVICE_TYPES:
        errors.append(_unsupported("spec.type", svc_type, SERVICE_TYPES))
    raw_ports = spec.get("ports")
    if svc_type != "ExternalName" and not raw_ports:
        errors.append(FieldError("spec.ports", "Required value"))
    if raw_ports is not None and not isinstance(raw_ports, list):
        errors.append(FieldError("spec.ports", f"Invalid value: {_go(raw_ports)}: must be a list"))
        raw_ports = []
    ports = [_service_port(p, i, svc_type, len(raw_ports or []), errors) for i, p in enumerate(raw_ports or [])]
    seen_names: set[str] = set()
    for i, port in enumerate(ports):
        if port is not None and port.name is not None:
            if port.name in seen_names:
                errors.append(FieldError(f"spec.ports[{i}].name", f"Duplicate value: {_go(port.name)}"))
            seen_names.add(port.name)
    selector = spec.get("selector")
    if selector is not None and not _is_str_map(selector):
        errors.append(FieldError("spec.selector", f"Invalid value: {_go(selector)}: must be a map of strings"))
        selector = None
    etp = _default(spec.get("externalTrafficPolicy"), None)
    if etp is not None and etp not in ("Cluster", "Local"):
        errors.append(_unsupported("spec.externalTrafficPolicy", etp, ("Cluster", "Local")))
    if etp is not None and svc_type not in ("NodePort", "LoadBalancer"):
        errors.append(
            FieldError(
                "spec.externalTrafficPolicy",
                f"Invalid value: {_go(etp)}: may only be set for externally-accessible services",
            )
        )
    if etp is None and svc_type in ("NodePort", "LoadBalancer"):
        etp = "Cluster"
    affinity = _default(spec.get("sessionAffinity"), "None")
    if affinity not in ("ClientIP", "None"):
        errors.append(_unsupported("spec.sessionAffinity", affinity, ("ClientIP", "None")))
    cluster_ip = spec.get("clusterIP")
    if cluster_ip is not None and not isinstance(cluster_ip, str):
        errors.append(FieldError("spec.clusterIP", f"Invalid value: {_go(cluster_ip)}: must be a valid IP address"))
        cluster_ip = None
    if cluster_ip == "None" and svc_type in ("NodePort", "LoadBalancer"):
        errors.append(
            FieldError(
                "spec.clusterIPs[0]",
                f"Invalid value: \"None\": may not be set to 'None' for {svc_type} services",
            )
        )
    if errors:
        return None, errors
    return Service(
        name=name,
        namespace=str(meta.get("namespace", "default")),
        type=svc_type,
        selector=dict(selector) if selector is not None else None,
        ports=tuple(p for p in ports if p is not None),
        cluster_ip=cluster_ip or None,
        external_traffic_policy=etp,
        session_affinity=affinity,
        manifest=doc,
    ), []


def _service_port(raw: Any, i: int, svc_type: str, count: int, errors: list[FieldError]) -> ServicePort | None:
    path = f"spec.ports[{i}]"
    if not isinstance(raw, dict):
        errors.append(FieldError(path, f"Invalid value: {_go(raw)}: must be a mapping"))
        return None
    before = len(errors)
    name = raw.get("name")
    if name is None and count > 1:
        errors.append(FieldError(f"{path}.name", "Required value"))
    elif name is not None and not (isinstance(name, str) and _IANA_SVC_NAME.match(name)):
        errors.append(FieldError(f"{path}.name", f"Invalid value: {_go(name)}: must be a DNS label"))
    # Defaults treat the zero values as unset (SetDefaults_Service, defaults.go): protocol ""
    # is TCP, targetPort 0 or "" is the port, and nodePort 0 asks for an allocated port.
    protocol = _default(raw.get("protocol"), "TCP")
    if protocol not in PROTOCOLS:
        errors.append(_unsupported(f"{path}.protocol", protocol, PROTOCOLS))
    port = raw.get("port")
    if port is None:
        errors.append(FieldError(f"{path}.port", "Required value"))
    elif not _valid_port(port):
        errors.append(FieldError(f"{path}.port", f"Invalid value: {_go(port)}: must be between 1 and 65535, inclusive"))
    target = raw.get("targetPort")
    if target is None or target == "" or (target == 0 and not isinstance(target, bool)):
        target = port
    if isinstance(target, str):  # a string is a port name, even "8080" (IntOrString of type string)
        problems = _port_name_problems(target)
        if problems:
            errors.append(FieldError(f"{path}.targetPort", f"Invalid value: {_go(target)}: {', '.join(problems)}"))
    elif target is not None and not _valid_port(target):
        errors.append(
            FieldError(f"{path}.targetPort", f"Invalid value: {_go(target)}: must be between 1 and 65535, inclusive")
        )
    node_port = raw.get("nodePort")
    if node_port == 0 and not isinstance(node_port, bool):
        node_port = None
    if node_port is not None:
        if svc_type not in ("NodePort", "LoadBalancer"):
            errors.append(FieldError(f"{path}.nodePort", f"Forbidden: may not be used when `type` is '{svc_type}'"))
        elif not _valid_port(node_port):
            errors.append(
                FieldError(
                    f"{path}.nodePort", f"Invalid value: {_go(node_port)}: must be between 1 and 65535, inclusive"
                )
            )
    if len(errors) > before or port is None or target is None:
        return None
    return ServicePort(name, protocol, int(port), target, node_port)


def parse_deployment(doc: dict[str, Any]) -> tuple[Deployment | None, list[FieldError]]:
    """Default and validate an ``apps/v1`` Deployment manifest."""
    errors: list[FieldError] = []
    meta = _mapping(doc.get("metadata"), "metadata", errors)
    spec = _mapping(doc.get("spec"), "spec", errors)
    name = _object_name(meta, errors, _DNS1123, _DNS1123_MSG)
    replicas = spec.get("replicas", 1)
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
        errors.append(
            FieldError("spec.replicas", f"Invalid value: {_go(replicas)}: must be greater than or equal to 0")
        )
    selector = _label_selector(spec.get("selector"), errors)
    template = _mapping(spec.get("template"), "spec.template", errors)
    tmeta = _mapping(template.get("metadata"), "spec.template.metadata", errors)
    labels = tmeta.get("labels") or {}
    if not _is_str_map(labels):
        errors.append(
            FieldError("spec.template.metadata.labels", f"Invalid value: {_go(labels)}: must be a map of strings")
        )
        labels = {}
    if selector is not None and not selector.matches(labels):
        errors.append(
            FieldError(
                "spec.template.metadata.labels",
                f"Invalid value: {_go_map(labels)}: `selector` does not match template `labels`",
            )
        )
    pod = _mapping(template.get("spec"), "spec.template.spec", errors)
    node_name = pod.get("nodeName")
    if node_name is not None and not isinstance(node_name, str):
        errors.append(FieldError("spec.template.spec.nodeName", f"Invalid value: {_go(node_name)}: must be a string"))
    node_selector = pod.get("nodeSelector") or {}
    if not _is_str_map(node_selector):
        errors.append(
            FieldError(
                "spec.template.spec.nodeSelector", f"Invalid value: {_go(node_selector)}: must be a map of strings"
            )
        )
    grace = pod.get("terminationGracePeriodSeconds", 30)
    if isinstance(grace, bool) or not isinstance(grace, int) or grace < 0:
        errors.append(
            FieldError(
                "spec.template.spec.terminationGracePeriodSeconds",
                f"Invalid value: {_go(grace)}: must be greater than or equal to 0",
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
            if not isinstance(raw, dict) or not _valid_port(raw.get("containerPort")):
                value = raw.get("containerPort") if isinstance(raw, dict) else raw
                errors.append(
                    FieldError(
                        f"{path}.containerPort",
                        f"Invalid value: {_go(value)}: must be between 1 and 65535, inclusive",
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
        errors.append(FieldError("spec.selector", f"Invalid value: {_go(raw)}: must be a label selector"))
        return None
    labels = raw.get("matchLabels") or {}
    if not _is_str_map(labels):
        errors.append(
            FieldError("spec.selector.matchLabels", f"Invalid value: {_go(labels)}: must be a map of strings")
        )
        return None
    expressions = []
    for i, expr in enumerate(raw.get("matchExpressions") or []):
        op = expr.get("operator") if isinstance(expr, dict) else None
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            errors.append(
                _unsupported(
                    f"spec.selector.matchExpressions[{i}].operator", op, ("DoesNotExist", "Exists", "In", "NotIn")
                )
            )
            continue
        expressions.append((str(expr.get("key")), op, tuple(str(v) for v in expr.get("values") or ())))
    if not labels and not expressions:
        errors.append(FieldError("spec.selector", "Invalid value: {}: empty selector is invalid for deployment"))
        return None
    return LabelSelector(tuple(sorted(labels.items())), tuple(expressions))


def _object_name(meta: dict[str, Any], errors: list[FieldError], pattern: re.Pattern[str], msg: str) -> str:
    name = meta.get("name")
    if not name:
        errors.append(FieldError("metadata.name", "Required value: name or generateName is required"))
        return ""
    if not isinstance(name, str) or not pattern.match(name):
        errors.append(FieldError("metadata.name", f"Invalid value: {_go(name)}: {msg}"))
        return str(name)
    return name


def _mapping(value: Any, path: str, errors: list[FieldError]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.append(FieldError(path, f"Invalid value: {_go(value)}: must be a mapping"))
        return {}
    return value


def _default(value: Any, default: Any) -> Any:
    """The API server's defaulting: an omitted field and an empty string both get ``default``."""
    return default if value is None or value == "" else value


def _port_name_problems(name: str) -> list[str]:
    """apimachinery's IsValidPortName (pkg/util/validation/validation.go), message for message."""
    problems = []
    if len(name) > 15:
        problems.append("must be no more than 15 characters")
    if not re.fullmatch(r"[-a-z0-9]+", name):
        problems.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search(r"[a-z]", name):
        problems.append("must contain at least one letter (a-z)")
    if "--" in name:
        problems.append("must not contain consecutive hyphens")
    if name and (name[0] == "-" or name[-1] == "-"):
        problems.append("must not begin or end with a hyphen")
    return problems


def _valid_port(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535


def _is_str_map(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())


def _unsupported(path: str, value: Any, supported: tuple[str, ...]) -> FieldError:
    choices = ", ".join(f'"{s}"' for s in supported)
    return FieldError(path, f"Unsupported value: {_go(value)}: supported values: {choices}")


def _go(value: Any) -> str:
    """Render a value as the API server does in messages: strings quoted, numbers bare."""
    if isinstance(value, str):
        return f'"{value}"'
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _go_map(labels: Mapping[str, str]) -> str:
    inner = ", ".join(f'"{k}":"{v}"' for k, v in sorted(labels.items()))
    return f"map[string]string{{{inner}}}"
