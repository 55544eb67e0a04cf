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
from sim.fields import SpecErrors
from sim.units import format_duration

__all__ = [
    "Call",
    "Client",
    "Cluster",
    "Connections",
    "KubeProxy",
    "LoadBalancer",
    "Network",
    "Node",
    "ScaleEvent",
    "Simulation",
    "Target",
    "Workload",
    "parse_simulation",
]

VIAS = ("nodePort", "clusterIP", "loadBalancer", "podIP")
ARRIVALS = ("poisson", "constant")
PROXY_MODES = ("iptables", "nftables", "ipvs")
#: IPVS schedulers kube-proxy accepts (pkg/proxy/ipvs); lblc and lblcr are not modelled.
IPVS_SCHEDULERS = ("rr", "wrr", "lc", "wlc", "sed", "nq", "sh", "dh", "mh")
LB_ALGORITHMS = ("random", "round-robin")
CONNECTION_MODES = ("per-request", "keepalive")
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
class LoadBalancer:
    """The cloud load balancer in front of LoadBalancer Services.

    No Kubernetes source fixes these numbers; the defaults are stated parameters: 1 ms
    from the balancer to a node, a documentation range (RFC 5737) for ingress IPs, no
    provisioning delay, and a 5 s health-check interval.
    """

    latency: Distribution
    algorithm: str  # "random" | "round-robin" over the nodes in rotation
    ip_pool: ipaddress.IPv4Network
    provisioning_delay_s: float
    health_check_interval_s: float


@dataclass(frozen=True)
class Cluster:
    nodes: tuple[Node, ...]
    node_cidr: ipaddress.IPv4Network
    pod_cidr: ipaddress.IPv4Network
    service_cidr: ipaddress.IPv4Network
    node_port_range: tuple[int, int]
    network: Network
    load_balancer: LoadBalancer


@dataclass(frozen=True)
class KubeProxy:
    mode: str
    sync_delay_s: float
    scheduler: str | None = None  # IPVS mode only; kube-proxy's default is rr


@dataclass(frozen=True)
class Call:
    """A call a pod makes to another Service while it serves a request."""

    service: str
    port: int | str | None = None


@dataclass(frozen=True)
class Workload:
    """Performance model of one Deployment's pods: own work, then its calls, in sequence."""

    service_time: Distribution
    concurrency: int
    startup_time_s: float
    calls: tuple[Call, ...] = ()


@dataclass(frozen=True)
class Connections:
    """How a client uses TCP connections: one per request, or a pool kept alive.

    kube-proxy balances connections, not requests (conntrack pins an established
    connection to its pod), so keep-alive connections stay where they were opened.
    """

    mode: str = "per-request"
    count: int = 1
    requests_per_connection: int | None = None
    max_age_s: float | None = None

    @property
    def keepalive(self) -> bool:
        return self.mode == "keepalive"


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
    ips: int = 1  # source addresses: ip, ip+1, ... (affinity and hashing key on them)
    connections: Connections = field(default_factory=Connections)


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
                    "loadBalancer": _lb_manifest(cluster.load_balancer),
                },
                "kubeProxy": _proxy_manifest(self.kube_proxy),
                "workloads": {name: _workload_manifest(w) for name, w in self.workloads.items()},
                "clients": [_client_manifest(c) for c in self.clients],
                "events": [
                    {"at": format_duration(e.at_s), "scale": {"deployment": e.deployment, "replicas": e.replicas}}
                    for e in self.events
                ],
            },
        }


def _lb_manifest(lb: LoadBalancer) -> dict[str, Any]:
    return {
        "latency": lb.latency.to_spec(),
        "algorithm": lb.algorithm,
        "ipPool": str(lb.ip_pool),
        "provisioningDelay": format_duration(lb.provisioning_delay_s),
        "healthCheckInterval": format_duration(lb.health_check_interval_s),
    }


def _proxy_manifest(proxy: KubeProxy) -> dict[str, Any]:
    out: dict[str, Any] = {"mode": proxy.mode, "syncDelay": format_duration(proxy.sync_delay_s)}
    if proxy.scheduler is not None:
        out["scheduler"] = proxy.scheduler
    return out


def _workload_manifest(w: Workload) -> dict[str, Any]:
    out: dict[str, Any] = {
        "serviceTime": w.service_time.to_spec(),
        "concurrency": w.concurrency,
        "startupTime": format_duration(w.startup_time_s),
    }
    if w.calls:
        out["calls"] = [{"service": c.service, **({"port": c.port} if c.port is not None else {})} for c in w.calls]
    return out


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
    out["ips"] = c.ips
    conn: dict[str, Any] = {"mode": c.connections.mode}
    if c.connections.keepalive:
        conn["count"] = c.connections.count
        if c.connections.requests_per_connection is not None:
            conn["requestsPerConnection"] = c.connections.requests_per_connection
        if c.connections.max_age_s is not None:
            conn["maxAge"] = format_duration(c.connections.max_age_s)
    out["connections"] = conn
    return out


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
    proxy = errors.keys(spec.get("kubeProxy"), "spec.kubeProxy", ("mode", "scheduler", "syncDelay"))
    mode = errors.choice(proxy.get("mode", "iptables"), "spec.kubeProxy.mode", PROXY_MODES)
    scheduler = None
    if mode == "ipvs":
        scheduler = errors.choice(proxy.get("scheduler", "rr"), "spec.kubeProxy.scheduler", IPVS_SCHEDULERS)
    elif "scheduler" in proxy:
        errors.add("spec.kubeProxy.scheduler", f'Forbidden: only used with mode "ipvs", not "{mode}"')
    kube_proxy = KubeProxy(
        mode=mode,
        sync_delay_s=errors.duration(proxy.get("syncDelay"), "spec.kubeProxy.syncDelay", default=1.0),
        scheduler=scheduler,
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
    c = errors.keys(
        raw, path, ("nodes", "nodeCIDR", "podCIDR", "serviceCIDR", "nodePortRange", "network", "loadBalancer")
    )
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
        load_balancer=_load_balancer(c.get("loadBalancer"), errors),
    )


def _load_balancer(raw: Any, errors: SpecErrors) -> LoadBalancer:
    path = "spec.cluster.loadBalancer"
    lb = errors.keys(raw, path, ("latency", "algorithm", "ipPool", "provisioningDelay", "healthCheckInterval"))
    interval = errors.duration(lb.get("healthCheckInterval"), f"{path}.healthCheckInterval", default=5.0)
    if interval <= 0:
        errors.add(f"{path}.healthCheckInterval", "must be > 0")
    return LoadBalancer(
        latency=errors.distribution(lb.get("latency", "1ms"), f"{path}.latency") or parse_distribution(0),
        algorithm=errors.choice(lb.get("algorithm", "random"), f"{path}.algorithm", LB_ALGORITHMS),
        ip_pool=errors.cidr(lb.get("ipPool", "203.0.113.0/24"), f"{path}.ipPool"),
        provisioning_delay_s=errors.duration(lb.get("provisioningDelay"), f"{path}.provisioningDelay", default=0.0),
        health_check_interval_s=interval or 5.0,
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
        w = errors.keys(
            raw[name], path, ("serviceTime", "concurrency", "startupTime", "calls"), required=("serviceTime",)
        )
        service = errors.distribution(w.get("serviceTime", "10ms"), f"{path}.serviceTime")
        concurrency = int(errors.number(w.get("concurrency", 1), f"{path}.concurrency", integer=True, minimum=1))
        startup = errors.duration(w.get("startupTime"), f"{path}.startupTime", default=0.0)
        out[str(name)] = Workload(
            service or parse_distribution(0), concurrency, startup, _calls(w.get("calls"), path, errors)
        )
    return out


def _calls(raw: Any, path: str, errors: SpecErrors) -> tuple[Call, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        errors.add(f"{path}.calls", "must be a list of {service, port}")
        return ()
    calls = []
    for i, item in enumerate(raw):
        c = errors.keys(item, f"{path}.calls[{i}]", ("service", "port"), required=("service",))
        calls.append(Call(str(c.get("service", "")), c.get("port")))
    return tuple(calls)


def _connections(raw: Any, path: str, errors: SpecErrors) -> Connections:
    c = errors.keys(raw, path, ("mode", "count", "requestsPerConnection", "maxAge"))
    mode = errors.choice(c.get("mode", "per-request"), f"{path}.mode", CONNECTION_MODES)
    if mode == "per-request":
        for key in ("count", "requestsPerConnection", "maxAge"):
            if key in c:
                errors.add(f"{path}.{key}", 'Forbidden: only used with mode "keepalive"')
        return Connections()
    per = c.get("requestsPerConnection")
    age = c.get("maxAge")
    return Connections(
        mode=mode,
        count=int(errors.number(c.get("count", 1), f"{path}.count", integer=True, minimum=1)),
        requests_per_connection=None
        if per is None
        else int(errors.number(per, f"{path}.requestsPerConnection", integer=True, minimum=1)),
        max_age_s=None if age is None else errors.duration(age, f"{path}.maxAge"),
    )


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
            (
                "name",
                "ip",
                "ips",
                "location",
                "target",
                "rate",
                "arrival",
                "nodes",
                "connectTimeout",
                "timeout",
                "connections",
            ),
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
                ips=int(errors.number(c.get("ips", 1), f"{path}.ips", integer=True, minimum=1)),
                connections=_connections(c.get("connections"), f"{path}.connections", errors),
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
