"""The ``svcsim/v1alpha1 Simulation`` document: load, timing, cluster and events.

Parsed into frozen dataclasses once, at load; the engine reads them and never changes
them. Unknown fields are errors here (unlike in Kubernetes manifests), because a typo
in a load or timing field would silently change what is simulated.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from sim.distributions import Distribution, parse_distribution
from sim.units import format_duration, parse_duration

__all__ = [
    "Client",
    "Cluster",
    "KubeProxy",
    "Network",
    "Node",
    "ScaleEvent",
    "Simulation",
    "Target",
    "Workload",
    "parse_simulation",
]

VIAS = ("nodePort", "podIP")
ARRIVALS = ("poisson", "constant")
PROXY_MODES = ("iptables", "nftables")
DEFAULT_NETWORK = {"clientToNode": "0.5ms", "nodeToNode": "0.2ms"}


@dataclass(frozen=True)
class Node:
    name: str
    ip: str | None
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Network:
    """One-way latencies; a cross-node hop inside one datacentre is ~0.1–0.5 ms round trip
    (../shared/KUBERNETES.md, "Latency numbers": no Kubernetes source gives a figure)."""

    client_to_node: Distribution
    node_to_node: Distribution


@dataclass(frozen=True)
class Cluster:
    nodes: tuple[Node, ...]
    node_cidr: ipaddress.IPv4Network
    pod_cidr: ipaddress.IPv4Network
    service_cidr: ipaddress.IPv4Network
    node_port_range: tuple[int, int]
    network: Network


@dataclass(frozen=True)
class KubeProxy:
    mode: str
    sync_delay_s: float


@dataclass(frozen=True)
class Workload:
    """Performance model of one Deployment's pods."""

    service_time: Distribution
    concurrency: int
    startup_time_s: float


@dataclass(frozen=True)
class Target:
    service: str
    via: str
    port: int | str | None = None


@dataclass(frozen=True)
class Client:
    name: str
    ip: str | None
    location: str  # "external" or a node name
    target: Target
    rate: float
    arrival: str
    nodes: tuple[str, ...] | None
    connect_timeout_s: float
    timeout_s: float | None


@dataclass(frozen=True)
class ScaleEvent:
    at_s: float
    deployment: str
    replicas: int


@dataclass(frozen=True)
class Simulation:
    name: str
    seed: int | None
    duration_s: float
    warmup_s: float
    cluster: Cluster
    kube_proxy: KubeProxy
    workloads: dict[str, Workload]
    clients: tuple[Client, ...]
    events: tuple[ScaleEvent, ...]

    def to_manifest(self) -> dict[str, Any]:
        """The document with every default filled in (saved as the resolved scenario)."""
        cluster = self.cluster
        return {
            "apiVersion": "svcsim/v1alpha1",
            "kind": "Simulation",
            "metadata": {"name": self.name},
            "spec": {
                "seed": self.seed,
                "duration": format_duration(self.duration_s),
                "warmup": format_duration(self.warmup_s),
                "cluster": {
                    "nodes": [{"name": n.name, "ip": n.ip, "labels": dict(n.labels)} for n in cluster.nodes],
                    "nodeCIDR": str(cluster.node_cidr),
                    "podCIDR": str(cluster.pod_cidr),
                    "serviceCIDR": str(cluster.service_cidr),
                    "nodePortRange": f"{cluster.node_port_range[0]}-{cluster.node_port_range[1]}",
                    "network": {
                        "clientToNode": cluster.network.client_to_node.to_spec(),
                        "nodeToNode": cluster.network.node_to_node.to_spec(),
                    },
                },
                "kubeProxy": {
                    "mode": self.kube_proxy.mode,
                    "syncDelay": format_duration(self.kube_proxy.sync_delay_s),
                },
                "workloads": {
                    name: {
                        "serviceTime": w.service_time.to_spec(),
                        "concurrency": w.concurrency,
                        "startupTime": format_duration(w.startup_time_s),
                    }
                    for name, w in self.workloads.items()
                },
                "clients": [_client_manifest(c) for c in self.clients],
                "events": [
                    {"at": format_duration(e.at_s), "scale": {"deployment": e.deployment, "replicas": e.replicas}}
                    for e in self.events
                ],
            },
        }


def _client_manifest(c: Client) -> dict[str, Any]:
    target: dict[str, Any] = {"service": c.target.service, "via": c.target.via}
    if c.target.port is not None:
        target["port"] = c.target.port
    out: dict[str, Any] = {
        "name": c.name,
        "ip": c.ip,
        "location": c.location,
        "target": target,
        "rate": c.rate,
        "arrival": c.arrival,
    }
    if c.nodes is not None:
        out["nodes"] = list(c.nodes)
    out["connectTimeout"] = format_duration(c.connect_timeout_s)
    if c.timeout_s is not None:
        out["timeout"] = format_duration(c.timeout_s)
    return out


class SpecErrors:
    """Collects ``(field path, message)`` pairs while a document is read."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.items.append((path, message))

    def keys(self, value: Any, path: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict[str, Any]:
        """Check ``value`` is a mapping with only ``allowed`` keys; return it (or {})."""
        if value is None:
            value = {}
        if not isinstance(value, dict):
            self.add(path, f"must be a mapping, got {value!r}")
            return {}
        for key in value:
            if key not in allowed:
                self.add(_join(path, key), f"unknown field; expected one of: {', '.join(allowed)}")
        for key in required:
            if key not in value:
                self.add(_join(path, key), "Required value")
        return value

    def duration(self, value: Any, path: str, default: float | None = None) -> float:
        if value is None:
            if default is None:
                self.add(path, "Required value")
                return 0.0
            return default
        try:
            return parse_duration(value)
        except ValueError as err:
            self.add(path, str(err))
            return 0.0

    def distribution(self, value: Any, path: str, allow_zero: bool = True) -> Distribution | None:
        try:
            return parse_distribution(value, allow_zero_mean=allow_zero)
        except ValueError as err:
            text = str(err)
            head, sep, rest = text.partition(": ")
            if sep and head.isidentifier():
                self.add(f"{path}.{head}", rest)
            else:
                self.add(path, text)
            return None

    def number(
        self, value: Any, path: str, *, integer: bool = False, minimum: float = 0, strict: bool = False
    ) -> float:
        kinds: tuple[type, ...] = (int,) if integer else (int, float)
        ok = isinstance(value, kinds) and not isinstance(value, bool)
        if ok and (value > minimum if strict else value >= minimum):
            return value
        sign = ">" if strict else ">="
        what = "an integer" if integer else "a number"
        self.add(path, f"Invalid value: {value!r}: must be {what} {sign} {minimum:g}")
        return minimum

    def choice(self, value: Any, path: str, choices: tuple[str, ...]) -> str:
        if value in choices:
            return str(value)
        listed = ", ".join(f'"{c}"' for c in choices)
        self.add(path, f"Unsupported value: {value!r}: supported values: {listed}")
        return choices[0]

    def cidr(self, value: Any, path: str) -> ipaddress.IPv4Network:
        try:
            return ipaddress.IPv4Network(str(value), strict=True)
        except ValueError as err:
            self.add(path, f"Invalid value: {value!r}: must be an IPv4 CIDR such as 10.244.0.0/16 ({err})")
            return ipaddress.IPv4Network("0.0.0.0/0")


def _join(path: str, key: object) -> str:
    """``spec.cluster`` + ``nodes``; a key of the document itself has no leading dot."""
    return f"{path}.{key}" if path else str(key)


def parse_simulation(doc: dict[str, Any], errors: SpecErrors) -> Simulation:
    """Read the Simulation document; problems go to ``errors`` (the result is then partial)."""
    errors.keys(doc, "", ("apiVersion", "kind", "metadata", "spec"))
    meta = errors.keys(doc.get("metadata"), "metadata", ("name", "labels", "annotations"))
    spec = errors.keys(
        doc.get("spec"),
        "spec",
        ("seed", "duration", "warmup", "cluster", "kubeProxy", "workloads", "clients", "events"),
        required=("duration",),
    )
    seed = spec.get("seed")
    if seed is not None:
        seed = int(errors.number(seed, "spec.seed", integer=True))
    before = len(errors.items)
    duration = errors.duration(spec.get("duration"), "spec.duration", default=0.0)
    if "duration" in spec and duration <= 0 and len(errors.items) == before:
        errors.add("spec.duration", "must be > 0")
    warmup = errors.duration(spec.get("warmup"), "spec.warmup", default=0.0)
    if duration > 0 and warmup >= duration:
        errors.add("spec.warmup", f"must be shorter than spec.duration ({format_duration(duration)})")
    proxy = errors.keys(spec.get("kubeProxy"), "spec.kubeProxy", ("mode", "syncDelay"))
    kube_proxy = KubeProxy(
        mode=errors.choice(proxy.get("mode", "iptables"), "spec.kubeProxy.mode", PROXY_MODES),
        sync_delay_s=errors.duration(proxy.get("syncDelay"), "spec.kubeProxy.syncDelay", default=1.0),
    )
    return Simulation(
        name=str(meta.get("name", "simulation")),
        seed=seed,
        duration_s=duration,
        warmup_s=warmup,
        cluster=_cluster(spec.get("cluster"), errors),
        kube_proxy=kube_proxy,
        workloads=_workloads(spec.get("workloads"), errors),
        clients=_clients(spec.get("clients"), errors),
        events=_events(spec.get("events"), errors),
    )


def _cluster(raw: Any, errors: SpecErrors) -> Cluster:
    path = "spec.cluster"
    c = errors.keys(raw, path, ("nodes", "nodeCIDR", "podCIDR", "serviceCIDR", "nodePortRange", "network"))
    nodes_raw = c.get("nodes", 1)
    nodes: list[Node] = []
    if isinstance(nodes_raw, int) and not isinstance(nodes_raw, bool):
        if nodes_raw < 1:
            errors.add(f"{path}.nodes", f"Invalid value: {nodes_raw}: must be at least 1")
        nodes = [Node(f"node-{i}", None, {}) for i in range(1, nodes_raw + 1)]
    elif isinstance(nodes_raw, list) and nodes_raw:
        for i, item in enumerate(nodes_raw):
            n = errors.keys(item, f"{path}.nodes[{i}]", ("name", "ip", "labels"), required=("name",))
            labels = n.get("labels") or {}
            if not isinstance(labels, dict):
                errors.add(f"{path}.nodes[{i}].labels", "must be a mapping of strings")
                labels = {}
            ip = n.get("ip")
            if ip is not None:
                try:
                    ip = str(ipaddress.IPv4Address(str(ip)))
                except ValueError:
                    errors.add(f"{path}.nodes[{i}].ip", f"Invalid value: {ip!r}: must be an IPv4 address")
            nodes.append(Node(str(n.get("name", f"node-{i + 1}")), ip, {str(k): str(v) for k, v in labels.items()}))
    else:
        errors.add(f"{path}.nodes", f"Invalid value: {nodes_raw!r}: must be a count or a list of nodes")
    names = [n.name for n in nodes]
    for i, name in enumerate(names):
        if name in names[:i]:
            errors.add(f"{path}.nodes[{i}].name", f'Duplicate value: "{name}"')
    ports_raw = str(c.get("nodePortRange", "30000-32767"))
    low, _, high = ports_raw.partition("-")
    if not (low.strip().isdigit() and high.strip().isdigit() and 0 < int(low) <= int(high) <= 65535):
        errors.add(f"{path}.nodePortRange", f"Invalid value: {ports_raw!r}: must be LOW-HIGH, such as 30000-32767")
        low, high = "30000", "32767"
    net = errors.keys(c.get("network"), f"{path}.network", ("clientToNode", "nodeToNode"))
    network = Network(
        client_to_node=errors.distribution(
            net.get("clientToNode", DEFAULT_NETWORK["clientToNode"]), f"{path}.network.clientToNode"
        )
        or parse_distribution(0),
        node_to_node=errors.distribution(
            net.get("nodeToNode", DEFAULT_NETWORK["nodeToNode"]), f"{path}.network.nodeToNode"
        )
        or parse_distribution(0),
    )
    return Cluster(
        nodes=tuple(nodes),
        node_cidr=errors.cidr(c.get("nodeCIDR", "192.168.1.0/24"), f"{path}.nodeCIDR"),
        pod_cidr=errors.cidr(c.get("podCIDR", "10.244.0.0/16"), f"{path}.podCIDR"),
        service_cidr=errors.cidr(c.get("serviceCIDR", "10.96.0.0/12"), f"{path}.serviceCIDR"),
        node_port_range=(int(low), int(high)),
        network=network,
    )


def _workloads(raw: Any, errors: SpecErrors) -> dict[str, Workload]:
    out: dict[str, Workload] = {}
    if raw is None:
        return out
    if not isinstance(raw, dict):
        errors.add("spec.workloads", "must be a mapping keyed by Deployment name")
        return out
    for name in raw:
        path = f"spec.workloads.{name}"
        w = errors.keys(raw[name], path, ("serviceTime", "concurrency", "startupTime"), required=("serviceTime",))
        service = errors.distribution(w.get("serviceTime", "10ms"), f"{path}.serviceTime")
        concurrency = int(errors.number(w.get("concurrency", 1), f"{path}.concurrency", integer=True, minimum=1))
        startup = errors.duration(w.get("startupTime"), f"{path}.startupTime", default=0.0)
        out[str(name)] = Workload(service or parse_distribution(0), concurrency, startup)
    return out


def _clients(raw: Any, errors: SpecErrors) -> tuple[Client, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        errors.add("spec.clients", "must be a list of clients")
        return ()
    clients = []
    for i, item in enumerate(raw):
        path = f"spec.clients[{i}]"
        c = errors.keys(
            item,
            path,
            ("name", "ip", "location", "target", "rate", "arrival", "nodes", "connectTimeout", "timeout"),
            required=("name", "target", "rate"),
        )
        t = errors.keys(c.get("target"), f"{path}.target", ("service", "via", "port"), required=("service",))
        target = Target(
            service=str(t.get("service", "")),
            via=errors.choice(t.get("via", "nodePort"), f"{path}.target.via", VIAS),
            port=t.get("port"),
        )
        nodes = c.get("nodes")
        if nodes is not None and not (isinstance(nodes, list) and nodes and all(isinstance(n, str) for n in nodes)):
            errors.add(f"{path}.nodes", f"Invalid value: {nodes!r}: must be a non-empty list of node names")
            nodes = None
        ip = c.get("ip")
        if ip is not None:
            try:
                ip = str(ipaddress.IPv4Address(str(ip)))
            except ValueError:
                errors.add(f"{path}.ip", f"Invalid value: {ip!r}: must be an IPv4 address")
                ip = None
        timeout = c.get("timeout")
        clients.append(
            Client(
                name=str(c.get("name", f"client-{i}")),
                ip=ip,
                location=str(c.get("location", "external")),
                target=target,
                rate=float(errors.number(c.get("rate", 1.0), f"{path}.rate", strict=True)),
                arrival=errors.choice(c.get("arrival", "poisson"), f"{path}.arrival", ARRIVALS),
                nodes=tuple(nodes) if nodes is not None else None,
                connect_timeout_s=errors.duration(c.get("connectTimeout"), f"{path}.connectTimeout", default=1.0),
                timeout_s=None if timeout is None else errors.duration(timeout, f"{path}.timeout"),
            )
        )
    return tuple(clients)


def _events(raw: Any, errors: SpecErrors) -> tuple[ScaleEvent, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        errors.add("spec.events", "must be a list of events")
        return ()
    events = []
    for i, item in enumerate(raw):
        path = f"spec.events[{i}]"
        e = errors.keys(item, path, ("at", "scale"), required=("at", "scale"))
        at = errors.duration(e.get("at"), f"{path}.at", default=0.0)
        s = errors.keys(
            e.get("scale"), f"{path}.scale", ("deployment", "replicas"), required=("deployment", "replicas")
        )
        replicas = int(errors.number(s.get("replicas", 0), f"{path}.scale.replicas", integer=True))
        events.append(ScaleEvent(at, str(s.get("deployment", "")), replicas))
    return tuple(events)
