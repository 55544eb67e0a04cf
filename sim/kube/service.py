"""Kubernetes ``v1 Service`` objects as the user wrote them.

Parsing applies the API server's defaults and validation with its own wording
(pkg/apis/core/v1/defaults.go, pkg/apis/core/validation/validation.go), so a manifest
that ``kubectl apply`` would refuse is refused here with the same message. Fields the
simulator does not model are accepted and kept in ``manifest`` untouched
(docs/semantics.md#service-defaults-and-validation).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sim.kube.labels import label_errors, read_labels
from sim.kube.validation import (
    DNS1035,
    DNS1035_MAX_LENGTH,
    DNS1035_MSG,
    IANA_SVC_NAME,
    FieldError,
    default,
    dns1123_subdomain_problems,
    go,
    is_str_map,
    mapping,
    member,
    object_name,
    port_name_problems,
    sequence,
    unsupported,
    valid_port,
)

__all__ = [
    "FieldError",
    "Service",
    "ServicePort",
    "ServiceType",
    "SessionAffinity",
    "TrafficDistribution",
    "TrafficPolicy",
    "parse_service",
]

DEFAULT_AFFINITY_TIMEOUT_S = 10800.0  # sessionAffinityConfig.clientIP.timeoutSeconds default (3 h)
MAX_AFFINITY_TIMEOUT_S = 86400
PROTOCOLS = ("SCTP", "TCP", "UDP")


class ServiceType(StrEnum):
    """``spec.type``: how the Service is reached (an ExternalName is only a DNS alias)."""

    CLUSTER_IP = "ClusterIP"
    EXTERNAL_NAME = "ExternalName"
    LOAD_BALANCER = "LoadBalancer"
    NODE_PORT = "NodePort"


class TrafficPolicy(StrEnum):
    """``spec.externalTrafficPolicy`` and ``spec.internalTrafficPolicy``: any ready endpoint in the
    cluster, or only those on the node the traffic arrived at."""

    CLUSTER = "Cluster"
    LOCAL = "Local"


class SessionAffinity(StrEnum):
    """``spec.sessionAffinity``: ClientIP pins a client's connections to one endpoint for a while."""

    CLIENT_IP = "ClientIP"
    NONE = "None"


class TrafficDistribution(StrEnum):
    """``spec.trafficDistribution``: a preference for topologically close endpoints (KEP-4444)."""

    PREFER_CLOSE = "PreferClose"
    PREFER_SAME_NODE = "PreferSameNode"
    PREFER_SAME_ZONE = "PreferSameZone"


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
    type: ServiceType
    selector: dict[str, str] | None
    ports: tuple[ServicePort, ...]
    cluster_ip: str | None
    external_traffic_policy: TrafficPolicy | None
    session_affinity: SessionAffinity
    manifest: dict[str, Any] = field(repr=False, compare=False)
    affinity_timeout_s: float = DEFAULT_AFFINITY_TIMEOUT_S
    internal_traffic_policy: TrafficPolicy = TrafficPolicy.CLUSTER
    traffic_distribution: TrafficDistribution | None = None
    allocate_load_balancer_node_ports: bool = True
    health_check_node_port: int | None = None
    ingress_ip: str | None = None  # the load balancer's address, once provisioned

    @property
    def has_node_ports(self) -> bool:
        """NodePort Services, and LoadBalancers unless ``allocateLoadBalancerNodePorts: false``."""
        return self.type == ServiceType.NODE_PORT or (
            self.type == ServiceType.LOAD_BALANCER and self.allocate_load_balancer_node_ports
        )

    @property
    def needs_health_check_port(self) -> bool:
        """A LoadBalancer with policy Local gets a healthCheckNodePort (service/storage/alloc.go)."""
        return self.type == ServiceType.LOAD_BALANCER and self.external_traffic_policy == TrafficPolicy.LOCAL

    def port(self, wanted: int | str | None) -> ServicePort:
        """The port a client or call names (number or name); the first if none is named."""
        if wanted is None:
            return self.ports[0]
        return next(p for p in self.ports if wanted in (p.port, p.name))

    def selects(self, labels: Mapping[str, str]) -> bool:
        """Service selectors are equality-only and an empty selector selects nothing."""
        if not self.selector:
            return False
        return all(labels.get(k) == v for k, v in self.selector.items())


def parse_service(doc: dict[str, Any]) -> tuple[Service | None, list[FieldError]]:
    """Default and validate a Service manifest; return it, or None with the errors."""
    errors: list[FieldError] = []
    meta = mapping(doc.get("metadata"), "metadata", errors)
    spec = mapping(doc.get("spec"), "spec", errors)
    name = object_name(meta, errors, DNS1035, DNS1035_MSG, DNS1035_MAX_LENGTH)
    read_labels(meta.get("labels"), "metadata.labels", errors)  # ValidateObjectMeta
    # SetDefaults_Service (defaults.go) treats "" like an omitted field throughout.
    svc_type = default(spec.get("type"), ServiceType.CLUSTER_IP)
    if member(ServiceType, svc_type) is None:
        errors.append(unsupported("spec.type", svc_type, ServiceType))
    raw_ports = sequence(spec.get("ports"), "spec.ports", errors)
    if svc_type != ServiceType.EXTERNAL_NAME and not raw_ports and isinstance(spec.get("ports"), list | None):
        errors.append(FieldError("spec.ports", "Required value"))
    ports = [_service_port(p, i, svc_type, len(raw_ports), errors) for i, p in enumerate(raw_ports)]
    seen_names: set[str] = set()
    for i, port in enumerate(ports):
        if port is not None and port.name is not None:
            if port.name in seen_names:
                errors.append(FieldError(f"spec.ports[{i}].name", f"Duplicate value: {go(port.name)}"))
            seen_names.add(port.name)
    selector = spec.get("selector")
    if selector is not None and not is_str_map(selector):
        errors.append(FieldError("spec.selector", f"Invalid value: {go(selector)}: must be a map of strings"))
        selector = None
    elif selector is not None:  # ValidateServiceSpec: ValidateLabels(spec.selector)
        errors.extend(label_errors(selector, "spec.selector"))
    etp = default(spec.get("externalTrafficPolicy"), None)
    if etp is not None and member(TrafficPolicy, etp) is None:
        errors.append(unsupported("spec.externalTrafficPolicy", etp, TrafficPolicy))
    if etp is not None and svc_type not in (ServiceType.NODE_PORT, ServiceType.LOAD_BALANCER):
        errors.append(
            FieldError(
                "spec.externalTrafficPolicy",
                f"Invalid value: {go(etp)}: may only be set for externally-accessible services",
            )
        )
    if etp is None and svc_type in (ServiceType.NODE_PORT, ServiceType.LOAD_BALANCER):
        etp = TrafficPolicy.CLUSTER
    affinity = default(spec.get("sessionAffinity"), SessionAffinity.NONE)
    if member(SessionAffinity, affinity) is None:
        errors.append(unsupported("spec.sessionAffinity", affinity, SessionAffinity))
    affinity_timeout = _affinity_timeout(spec, affinity, errors)
    itp = default(spec.get("internalTrafficPolicy"), TrafficPolicy.CLUSTER)
    if member(TrafficPolicy, itp) is None:
        errors.append(unsupported("spec.internalTrafficPolicy", itp, TrafficPolicy))
    distribution = default(spec.get("trafficDistribution"), None)
    if distribution is not None and member(TrafficDistribution, distribution) is None:
        errors.append(unsupported("spec.trafficDistribution", distribution, TrafficDistribution))
    allocate = spec.get("allocateLoadBalancerNodePorts")
    if allocate is not None and svc_type != ServiceType.LOAD_BALANCER:
        errors.append(
            FieldError(
                "spec.allocateLoadBalancerNodePorts", "Forbidden: may only be used when `type` is 'LoadBalancer'"
            )
        )
    if allocate is not None and not isinstance(allocate, bool):
        errors.append(
            FieldError("spec.allocateLoadBalancerNodePorts", f"Invalid value: {go(allocate)}: must be a boolean")
        )
    health_port = spec.get("healthCheckNodePort")
    if health_port is not None and not (
        valid_port(health_port) and svc_type == ServiceType.LOAD_BALANCER and etp == TrafficPolicy.LOCAL
    ):
        errors.append(
            FieldError(
                "spec.healthCheckNodePort",
                f"Invalid value: {go(health_port)}: may only be set when `type` is 'LoadBalancer' and "
                "`externalTrafficPolicy` is 'Local'",
            )
        )
    cluster_ip = spec.get("clusterIP")
    if cluster_ip is not None and not isinstance(cluster_ip, str):
        errors.append(FieldError("spec.clusterIP", f"Invalid value: {go(cluster_ip)}: must be a valid IP address"))
        cluster_ip = None
    if cluster_ip == "None" and svc_type in (ServiceType.NODE_PORT, ServiceType.LOAD_BALANCER):
        errors.append(
            FieldError(
                "spec.clusterIPs[0]",
                f"Invalid value: \"None\": may not be set to 'None' for {svc_type} services",
            )
        )
    _external_addresses(spec, svc_type, errors)
    _status(doc.get("status"), errors)
    if errors:
        return None, errors
    return Service(
        name=name,
        namespace=str(meta.get("namespace", "default")),
        type=ServiceType(svc_type),
        selector=dict(selector) if selector is not None else None,
        ports=tuple(p for p in ports if p is not None),
        cluster_ip=cluster_ip or None,
        external_traffic_policy=TrafficPolicy(etp) if etp is not None else None,
        session_affinity=SessionAffinity(affinity),
        manifest=doc,
        affinity_timeout_s=affinity_timeout,
        internal_traffic_policy=TrafficPolicy(itp),
        traffic_distribution=TrafficDistribution(distribution) if distribution is not None else None,
        allocate_load_balancer_node_ports=allocate is not False,
        health_check_node_port=health_port,
    ), []


def _external_addresses(spec: dict[str, Any], svc_type: str, errors: list[FieldError]) -> None:
    """``externalName`` (ExternalName Services: a DNS-1123 subdomain, maybe with a trailing dot)
    and ``externalIPs`` (valid IPs), as ValidateServiceSpec checks them."""
    name = spec.get("externalName")
    if svc_type == ServiceType.EXTERNAL_NAME:
        cname = name.removesuffix(".") if isinstance(name, str) else name
        if not cname:
            errors.append(FieldError("spec.externalName", "Required value"))
        elif not isinstance(cname, str):
            errors.append(FieldError("spec.externalName", f"Invalid value: {go(name)}: must be a string"))
        else:
            for problem in dns1123_subdomain_problems(cname):
                errors.append(FieldError("spec.externalName", f"Invalid value: {go(cname)}: {problem}"))
    for i, ip in enumerate(sequence(spec.get("externalIPs"), "spec.externalIPs", errors)):
        try:
            ipaddress.ip_address(ip if isinstance(ip, str) else "")
        except ValueError:
            errors.append(
                FieldError(
                    f"spec.externalIPs[{i}]",
                    f"Invalid value: {go(ip)}: must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                )
            )


def _status(raw: Any, errors: list[FieldError]) -> None:
    """A pasted ``status`` is ignored on create, but it must still decode (svcsim reads its ingress IPs)."""
    status = mapping(raw, "status", errors)
    balancer = mapping(status.get("loadBalancer"), "status.loadBalancer", errors)
    for i, item in enumerate(sequence(balancer.get("ingress"), "status.loadBalancer.ingress", errors)):
        entry = mapping(item, f"status.loadBalancer.ingress[{i}]", errors)
        for key in ("ip", "hostname"):
            value = entry.get(key)
            if value is not None and not isinstance(value, str):
                path = f"status.loadBalancer.ingress[{i}].{key}"
                errors.append(FieldError(path, f"Invalid value: {go(value)}: must be a string"))


def _affinity_timeout(spec: dict[str, Any], affinity: str, errors: list[FieldError]) -> float:
    """``sessionAffinityConfig.clientIP.timeoutSeconds``: 10800 by default, 1–86400 allowed."""
    config = spec.get("sessionAffinityConfig")
    if config is None:
        return DEFAULT_AFFINITY_TIMEOUT_S
    path = "spec.sessionAffinityConfig"
    if affinity != SessionAffinity.CLIENT_IP:
        errors.append(FieldError(path, f"Invalid value: {go(config)}: must not be set when sessionAffinity is None"))
        return DEFAULT_AFFINITY_TIMEOUT_S
    client_ip = mapping(mapping(config, path, errors).get("clientIP"), f"{path}.clientIP", errors)
    timeout = client_ip.get("timeoutSeconds", DEFAULT_AFFINITY_TIMEOUT_S)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= MAX_AFFINITY_TIMEOUT_S:
        errors.append(
            FieldError(
                f"{path}.clientIP.timeoutSeconds",
                f"Invalid value: {go(timeout)}: must be greater than 0 and less than {MAX_AFFINITY_TIMEOUT_S}",
            )
        )
        return DEFAULT_AFFINITY_TIMEOUT_S
    return float(timeout)


def _service_port(raw: Any, i: int, svc_type: str, count: int, errors: list[FieldError]) -> ServicePort | None:
    path = f"spec.ports[{i}]"
    if not isinstance(raw, dict):
        errors.append(FieldError(path, f"Invalid value: {go(raw)}: must be a mapping"))
        return None
    before = len(errors)
    name = raw.get("name")
    if name is None and count > 1:
        errors.append(FieldError(f"{path}.name", "Required value"))
    elif name is not None and not (isinstance(name, str) and IANA_SVC_NAME.fullmatch(name)):
        errors.append(FieldError(f"{path}.name", f"Invalid value: {go(name)}: must be a DNS label"))
    # Defaults treat the zero values as unset (SetDefaults_Service, defaults.go): protocol ""
    # is TCP, targetPort 0 or "" is the port, and nodePort 0 asks for an allocated port.
    protocol = default(raw.get("protocol"), "TCP")
    if protocol not in PROTOCOLS:
        errors.append(unsupported(f"{path}.protocol", protocol, PROTOCOLS))
    port = raw.get("port")
    if port is None:
        errors.append(FieldError(f"{path}.port", "Required value"))
    elif not valid_port(port):
        errors.append(FieldError(f"{path}.port", f"Invalid value: {go(port)}: must be between 1 and 65535, inclusive"))
    target = raw.get("targetPort")
    if target is None or target == "" or (target == 0 and not isinstance(target, bool)):
        target = port
    if isinstance(target, str):  # a string is a port name, even "8080" (IntOrString of type string)
        problems = port_name_problems(target)
        if problems:
            errors.append(FieldError(f"{path}.targetPort", f"Invalid value: {go(target)}: {', '.join(problems)}"))
    elif target is not None and not valid_port(target):
        errors.append(
            FieldError(f"{path}.targetPort", f"Invalid value: {go(target)}: must be between 1 and 65535, inclusive")
        )
    node_port = raw.get("nodePort")
    if node_port == 0 and not isinstance(node_port, bool):
        node_port = None
    if node_port is not None:
        if svc_type not in (ServiceType.NODE_PORT, ServiceType.LOAD_BALANCER):
            errors.append(FieldError(f"{path}.nodePort", f"Forbidden: may not be used when `type` is '{svc_type}'"))
        elif not valid_port(node_port):
            errors.append(
                FieldError(
                    f"{path}.nodePort", f"Invalid value: {go(node_port)}: must be between 1 and 65535, inclusive"
                )
            )
    if len(errors) > before or port is None or target is None:
        return None
    return ServicePort(name, protocol, int(port), target, node_port)
