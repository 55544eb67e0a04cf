"""The ``svcsim/v1alpha1 Simulation`` document: load, timing, cluster and events.

Parsed into these frozen dataclasses once, at load (:mod:`sim.scenario.simulation_parser` reads and
checks the document); the engine reads them and never changes them. Unknown fields are
errors there (unlike in Kubernetes manifests), because a typo in a load or timing field
would silently change what is simulated.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sim.distributions import Distribution
from sim.endpoint_choice import ProxyMode
from sim.scenario.rate_profile import RateProfile
from sim.units import format_duration

__all__ = [
    "DEFAULT_ALLOCATABLE",
    "RETRYABLE",
    "SLO_LATENCY_KEYS",
    "Allocatable",
    "Arrival",
    "Backoff",
    "Call",
    "Client",
    "Cluster",
    "ClusterAutoscaler",
    "ConnectionMode",
    "Connections",
    "CpuUsage",
    "CrashEvent",
    "Event",
    "Failures",
    "KubeProxy",
    "LoadBalancer",
    "MemoryUsage",
    "Network",
    "Node",
    "NodeEvent",
    "NodeTemplate",
    "OnCancel",
    "OnSigterm",
    "ProbeFailure",
    "ProxyMode",
    "Retries",
    "RolloutEvent",
    "ScaleEvent",
    "Shutdown",
    "Simulation",
    "Slo",
    "Target",
    "Via",
    "Workload",
    "in_run_order",
]

DEFAULT_CALL_TIMEOUT_S = 15.0  # Envoy's default route timeout (docs/semantics.md#calls-between-services)
DEFAULT_NETWORK = {"clientToNode": "0.5ms", "nodeToNode": "0.2ms"}


@dataclass(frozen=True)
class Allocatable:
    """What a node offers pods (``status.allocatable``): cpu in millicores, memory in bytes,
    and the most pods it runs (the kubelet's ``maxPods``)."""

    cpu_m: int
    memory_b: int
    pods: int


#: svcsim's default node: 4 CPUs, 16 GiB and the kubelet's default maxPods of 110
#: (docs/semantics.md#scheduling).
DEFAULT_ALLOCATABLE = Allocatable(cpu_m=4000, memory_b=16 * 2**30, pods=110)


@dataclass(frozen=True)
class Node:
    name: str
    ip: str | None
    labels: dict[str, str] = field(default_factory=dict)
    allocatable: Allocatable = DEFAULT_ALLOCATABLE


@dataclass(frozen=True)
class Network:
    """One-way latencies; a cross-node hop inside one datacentre is ~0.1–0.5 ms round trip
    (docs/semantics.md#latency-numbers: no Kubernetes source gives a figure)."""

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


#: The ``Pods`` metrics svcsim serves as a Prometheus adapter would (docs/semantics.md#metrics-pipeline).
POD_METRICS = ("http_requests_per_second", "http_requests_in_flight")
#: The ``Object`` (a Service or a Deployment) and ``External`` metrics: the same, summed over the pods.
TOTAL_METRICS = ("requests_per_second", "requests_in_flight")


@dataclass(frozen=True)
class MetricsPipeline:
    """How pod metrics reach the HPA (docs/semantics.md#metrics-pipeline): metrics-server scrapes
    every pod each ``resolution_s`` (its ``--metric-resolution``; the release manifests set 15 s);
    request-rate metrics are rates over ``rate_window_s``, as a Prometheus adapter's
    ``rate(...[1m])`` would give them."""

    resolution_s: float = 15.0
    rate_window_s: float = 60.0


@dataclass(frozen=True)
class HPAController:
    """kube-controller-manager's ``--horizontal-pod-autoscaler-*`` flags, with their defaults
    (docs/semantics.md#horizontalpodautoscaler-controller)."""

    sync_period_s: float = 15.0
    tolerance: float = 0.1
    downscale_stabilization_s: float = 300.0
    cpu_initialization_period_s: float = 300.0
    initial_readiness_delay_s: float = 30.0


@dataclass(frozen=True)
class NodeTemplate:
    """The nodes a cluster autoscaler adds: their allocatable, labels (the kubelet's well-known
    ones added at load) and name prefix (``node-`` gives ``node-4``, ``node-5`` ... after the
    scenario's nodes)."""

    allocatable: Allocatable = DEFAULT_ALLOCATABLE
    labels: dict[str, str] = field(default_factory=dict)
    name_prefix: str = "node-"


@dataclass(frozen=True)
class ClusterAutoscaler:
    """``cluster.autoscaler``: one node group from ``min_nodes`` to ``max_nodes`` nodes, the
    scenario's nodes included, with cluster-autoscaler's flags and their defaults
    (docs/semantics.md#cluster-autoscaler).

    ``slots`` are the ``max_nodes − len(cluster.nodes)`` nodes it may add, named, addressed and
    labelled at load (:func:`sim.scenario.resolve.resolve_cluster`); empty until then."""

    min_nodes: int
    max_nodes: int
    template: NodeTemplate = field(default_factory=NodeTemplate)
    provisioning_s: float = 60.0
    scan_interval_s: float = 10.0
    scale_down_unneeded_s: float = 600.0
    scale_down_utilization_threshold: float = 0.5
    scale_down_delay_after_add_s: float = 600.0
    slots: tuple[Node, ...] = ()


@dataclass(frozen=True)
class Cluster:
    nodes: tuple[Node, ...]
    node_cidr: ipaddress.IPv4Network
    pod_cidr: ipaddress.IPv4Network
    service_cidr: ipaddress.IPv4Network
    node_port_range: tuple[int, int]
    network: Network
    load_balancer: LoadBalancer
    node_monitor_grace_period_s: float = 50.0  # kube-controller-manager's default from 1.32 (40 s before)
    metrics: MetricsPipeline = field(default_factory=MetricsPipeline)
    hpa_controller: HPAController = field(default_factory=HPAController)
    allocatable: Allocatable = DEFAULT_ALLOCATABLE  # every node's, unless the node sets its own
    autoscaler: ClusterAutoscaler | None = None
    node_cost_per_hour: float | None = None  # cluster.nodeCost: price of one node for one hour (svcsim plan's cost)

    @property
    def slots(self) -> tuple[Node, ...]:
        """Every node the run may have: the scenario's (present from t = 0), then those a
        cluster autoscaler may add (absent until it does)."""
        return self.nodes + (self.autoscaler.slots if self.autoscaler is not None else ())


@dataclass(frozen=True)
class KubeProxy:
    mode: ProxyMode
    sync_delay_s: float
    scheduler: str | None = None  # IPVS mode only; kube-proxy's default is rr


@dataclass(frozen=True)
class Call:
    """A call a pod makes to another Service while it serves a request. The calling pod gives
    up after ``timeout_s`` (default 15 s, Envoy's default route timeout, as in a service mesh):
    the call ends ``timeout`` and the request it serves answers with an error."""

    service: str
    port: int | str | None = None
    timeout_s: float = DEFAULT_CALL_TIMEOUT_S


class OnCancel(StrEnum):
    """What a pod does with a queued request whose client has gone (docs/semantics.md#servers-that-push-back)."""

    DROP = "drop"  # the server sees the closed connection and never starts the request
    FINISH = "finish"  # the server does the work anyway, for nobody


class OnSigterm(StrEnum):
    """What the app does when the kubelet sends SIGTERM (docs/semantics.md#graceful-shutdown)."""

    DRAIN = "drain"  # keeps accepting for drainTimeout (None: until nothing routes to it), then stopAccepting
    STOP_ACCEPTING = "stopAccepting"  # closes its listener (new connections refused), finishes what it holds
    EXIT = "exit"  # exits at once: what it holds is reset


@dataclass(frozen=True)
class Shutdown:
    """How a pod of the workload shuts down: the app's answer to SIGTERM, and how long an
    ``exec`` preStop hook runs (None: as the manifest says, 0 if it cannot tell)."""

    on_sigterm: OnSigterm = OnSigterm.STOP_ACCEPTING
    drain_timeout_s: float | None = None
    pre_stop_s: float | None = None


@dataclass(frozen=True)
class ProbeFailure:
    """What makes a pod's probes fail (docs/semantics.md#probes): more than
    ``in_flight_above`` requests in the pod (waiting or served), or, with
    ``wait_above_timeout``, the probe waiting behind the queue longer than its
    ``timeoutSeconds``. ``probes`` lists the probe kinds it applies to."""

    in_flight_above: int | None = None
    wait_above_timeout: bool = False
    probes: tuple[str, ...] = ("readiness", "liveness")


@dataclass(frozen=True)
class Failures:
    """Random container crashes: each pod's container crashes after an exponential time
    with this mean, counted from each (re)start."""

    mean_time_between_s: float


@dataclass(frozen=True)
class CpuUsage:
    """The CPU a pod of the workload uses (docs/semantics.md#cpu-and-memory-usage): each
    request burns ``per_request_s`` CPU-seconds evenly over its service (None: its own service
    time, one core while a worker serves it), and a running pod ``idle_cores`` besides."""

    per_request_s: float | None = None
    idle_cores: float = 0.0

    def demand_cores(self, mean_service_s: float) -> float:
        """The cores one busy worker demands: CPU per request over the mean service time (1
        when each request burns its own service time).

        >>> CpuUsage(0.008).demand_cores(0.010)
        0.8
        """
        if self.per_request_s is None or mean_service_s <= 0:
            return 1.0
        return self.per_request_s / mean_service_s


@dataclass(frozen=True)
class MemoryUsage:
    """A pod's working set: ``base_bytes`` plus ``per_request_bytes`` per request in the pod
    (waiting or served) (docs/semantics.md#cpu-and-memory-usage)."""

    base_bytes: float = 0.0
    per_request_bytes: float = 0.0


@dataclass(frozen=True)
class Workload:
    """Performance model of one Deployment's pods: own work, then its calls, in sequence.

    ``queue_limit``: requests that may wait beyond the busy workers (None: unbounded);
    ``max_connections``: connections a pod holds at once (None: unbounded); ``on_cancel``:
    whether a request whose client gave up while it waited is dropped or still served;
    ``cpu`` and ``memory``: what its pods use (the metrics an HPA reads, and CFS throttling).
    """

    service_time: Distribution
    concurrency: int
    startup_time_s: float
    calls: tuple[Call, ...] = ()
    queue_limit: int | None = None
    max_connections: int | None = None
    on_cancel: OnCancel = OnCancel.DROP
    shutdown: Shutdown = field(default_factory=Shutdown)
    probe_failure: ProbeFailure | None = None
    failures: Failures | None = None
    cpu: CpuUsage = field(default_factory=CpuUsage)
    memory: MemoryUsage = field(default_factory=MemoryUsage)


class ConnectionMode(StrEnum):
    """A new TCP connection for every request, or a pool of connections kept alive."""

    PER_REQUEST = "per-request"
    KEEPALIVE = "keepalive"


@dataclass(frozen=True)
class Connections:
    """How a client uses TCP connections: one per request, or a pool kept alive.

    kube-proxy balances connections, not requests (conntrack pins an established
    connection to its pod), so keep-alive connections stay where they were opened.
    """

    mode: ConnectionMode = ConnectionMode.PER_REQUEST
    count: int = 1
    requests_per_connection: int | None = None
    max_age_s: float | None = None

    @property
    def keepalive(self) -> bool:
        return self.mode == ConnectionMode.KEEPALIVE


class Via(StrEnum):
    """How a client reaches its Service: a node's nodePort, the ClusterIP, the cloud load
    balancer, or a pod IP directly (bypassing kube-proxy)."""

    NODE_PORT = "nodePort"
    CLUSTER_IP = "clusterIP"
    LOAD_BALANCER = "loadBalancer"
    POD_IP = "podIP"


class Arrival(StrEnum):
    """When a client's requests start: a Poisson process, or evenly spaced at the rate."""

    POISSON = "poisson"
    CONSTANT = "constant"


#: Outcomes a client may retry (``ok`` never is).
RETRYABLE = ("refused", "unreachable", "rejected", "reset", "timeout")


@dataclass(frozen=True)
class Backoff:
    """The wait before retry n (n = 1 for the first): ``min(max, initial · multiplier^(n−1))``,
    then jittered: ``full`` draws uniformly in [0, base] (gRPC's retry policy, AWS's "full
    jitter"), ``equal`` in [base/2, base], ``none`` waits exactly base, and a number f
    multiplies base by a uniform draw in [1 − f, 1 + f] (gRPC's connection backoff uses 0.2)
    (docs/semantics.md#clients-that-retry)."""

    initial_s: float = 0.025  # Envoy's default base interval
    multiplier: float = 2.0
    max_s: float = 0.25  # Envoy's default: 10 × the base interval
    jitter: str | float = "full"

    def base(self, retry: int) -> float:
        """The un-jittered wait before retry ``retry`` (1, 2, ...); the power is never taken
        past the cap, so a large multiplier cannot overflow.

        >>> Backoff(0.1, 1e6, 2.0, "none").base(100)
        2.0
        """
        if self.multiplier == 1 or self.initial_s <= 0 or self.initial_s >= self.max_s:
            return min(self.max_s, self.initial_s)
        steps_to_cap = math.log(self.max_s / self.initial_s) / math.log(self.multiplier)
        if retry - 1 >= steps_to_cap:
            return self.max_s
        return min(self.max_s, self.initial_s * self.multiplier ** (retry - 1))

    def wait(self, retry: int, u: float) -> float:
        """The wait before retry ``retry`` given a uniform draw ``u`` in [0, 1).

        >>> b = Backoff(0.1, 2.0, 2.0, "none")
        >>> [b.wait(n, 0.5) for n in (1, 2, 3, 6)]
        [0.1, 0.2, 0.4, 2.0]
        """
        base = self.base(retry)
        if self.jitter == "full":
            return base * u
        if self.jitter == "equal":
            return base / 2 + base / 2 * u
        if self.jitter == "none":
            return base
        return base * (1 + float(self.jitter) * (2 * u - 1))


@dataclass(frozen=True)
class Retries:
    """How a client retries: ``attempts`` counts every try, the first included (gRPC's
    ``maxAttempts``); ``on`` lists the outcomes retried; ``budget`` caps the retries in flight
    at that share of the client's tries in flight, but always allows ``min_retry_concurrency``
    (Envoy's retry budget; None: no cap). Each try is a new connection."""

    attempts: int
    on: tuple[str, ...] = ("refused", "unreachable", "rejected", "reset")
    backoff: Backoff = field(default_factory=Backoff)
    budget: float | None = None
    min_retry_concurrency: int = 3  # Envoy's default


@dataclass(frozen=True)
class Target:
    service: str
    via: Via
    port: int | str | None = None


@dataclass(frozen=True)
class Client:
    name: str
    ip: str | None
    location: str  # "external" or a node name
    target: Target
    rate: RateProfile
    arrival: Arrival
    nodes: tuple[str, ...] | None
    connect_timeout_s: float
    timeout_s: float | None
    ips: int = 1  # source addresses: ip, ip+1, ... (affinity and hashing key on them)
    connections: Connections = field(default_factory=Connections)
    retries: Retries | None = None
    start_s: float = 0.0  # no request before start
    stop_s: float | None = None  # none at or after stop (None: until the end of the run)

    def sending(self, duration_s: float) -> tuple[float, float]:
        """The interval ``[start, end)`` in which this client sends during a run of ``duration_s``."""
        end = duration_s if self.stop_s is None else min(self.stop_s, duration_s)
        return self.start_s, max(self.start_s, end)

    def expected_requests(self, duration_s: float) -> float:
        """Requests this client sends on average during a run of ``duration_s``: its rate's integral."""
        return self.rate.integral(*self.sending(duration_s))


@dataclass(frozen=True)
class ScaleEvent:
    at_s: float
    deployment: str
    replicas: int


@dataclass(frozen=True)
class RolloutEvent:
    """A new revision of a Deployment's pod template (``kubectl rollout restart``, or a new
    image): a new ReplicaSet whose pods use ``workload`` (None: the Deployment's workload as
    it is; given fields replace the current revision's)."""

    at_s: float
    deployment: str
    workload: Workload | None = None


@dataclass(frozen=True)
class CrashEvent:
    """Containers crash: one pod by name, or ``count`` Ready pods of a Deployment (the first
    ones by name)."""

    at_s: float
    pod: str | None = None
    deployment: str | None = None
    count: int = 1


@dataclass(frozen=True)
class NodeEvent:
    """A node, or every node of a zone, fails (``fail``: it stops answering at once) or
    comes back (``recover``)."""

    at_s: float
    action: str  # "fail" | "recover"
    node: str | None = None
    zone: str | None = None


Event = ScaleEvent | RolloutEvent | CrashEvent | NodeEvent


def in_run_order(events: tuple[Event, ...]) -> list[int]:
    """Indices of ``events`` in the order the run applies them: by time, ties as written."""
    return sorted(range(len(events)), key=lambda i: events[i].at_s)


#: The latency statistics an SLO may bound, in the order checks are reported.
SLO_LATENCY_KEYS = ("p50", "p90", "p95", "p99", "mean")


@dataclass(frozen=True)
class Slo:
    """What the run must meet, judged on the clients' requests sent in ``[warmup, duration]``:
    latency bounds (seconds, by statistic in :data:`SLO_LATENCY_KEYS`), the highest share of
    requests whose outcome is not ``ok``, and the fewest ok responses per second."""

    latency_s: dict[str, float] = field(default_factory=dict)
    error_rate: float | None = None
    throughput_rps: float | None = None

    def to_spec(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.latency_s:
            out["latency"] = {k: format_duration(v) for k, v in self.latency_s.items()}
        if self.error_rate is not None:
            out["errorRate"] = self.error_rate
        if self.throughput_rps is not None:
            out["throughput"] = self.throughput_rps
        return out


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
    events: tuple[Event, ...]
    slo: Slo | None = None

    def to_manifest(self) -> dict[str, Any]:
        """The document with every default filled in (saved as the resolved scenario)."""
        from sim.scenario.simulation_manifest import simulation_manifest  # noqa: PLC0415 (it imports this module)

        return simulation_manifest(self)
