"""Reading the ``svcsim/v1alpha1 Simulation`` document into the frozen dataclasses of :mod:`sim.scenario.simulation`.

Every field is checked once, here: unknown keys, types, units, and the bounds that keep a
run finite. Kubernetes' rules and wording are used where Kubernetes has them (node names,
pod CIDRs per node); svcsim's own limits (:mod:`sim.scenario.run_limits`) say that they are
svcsim's and why. Workloads are read by :mod:`sim.scenario.workload_parser`, events by
:mod:`sim.scenario.event_parser`.
"""

from __future__ import annotations

import ipaddress
import math
from pathlib import Path
from typing import Any

from sim.distributions import parse_distribution
from sim.endpoint_choice import BALANCER_ALGORITHMS, IPVS_SCHEDULERS
from sim.kube.labels import label_errors
from sim.kube.quantity import INT64_MAX, QuantityError, decode_quantity
from sim.kube.validation import NEGATIVE_MSG, dns1123_subdomain_problems, go
from sim.scenario.autoscaler_parser import parse_autoscaler
from sim.scenario.client_parser import parse_clients
from sim.scenario.event_parser import parse_events
from sim.scenario.field_reader import FieldReader
from sim.scenario.run_limits import MAX_NODES, duration_problems
from sim.scenario.simulation import (
    DEFAULT_ALLOCATABLE,
    DEFAULT_NETWORK,
    SLO_LATENCY_KEYS,
    Allocatable,
    Cluster,
    HPAController,
    KubeProxy,
    LoadBalancer,
    MetricsPipeline,
    Network,
    Node,
    ProxyMode,
    Simulation,
    Slo,
)
from sim.scenario.workload_parser import parse_workloads
from sim.units import format_duration

__all__ = ["NODE_CIDR_MASK_SIZE", "parse_simulation"]

#: kube-controller-manager's ``--node-cidr-mask-size`` default: each node gets its own /24.
NODE_CIDR_MASK_SIZE = 24


def parse_simulation(doc: dict[str, Any], fields: FieldReader, folder: Path | None = None) -> Simulation:
    """Read the Simulation document; problems go to ``fields`` (the result is then partial).

    ``folder`` is the scenario file's folder, where files it names (a rate's trace) are found.
    """
    fields.keys(doc, "", ("apiVersion", "kind", "metadata", "spec"))
    meta = fields.keys(doc.get("metadata"), "metadata", ("name", "labels", "annotations"))
    spec = fields.keys(
        doc.get("spec"),
        "spec",
        ("seed", "duration", "warmup", "cluster", "kubeProxy", "workloads", "clients", "events", "slo"),
        required=("duration",),
    )
    seed = spec.get("seed")
    if seed is not None:
        seed = fields.integer(seed, "spec.seed")
    before = len(fields.problems)
    duration = fields.duration(spec.get("duration"), "spec.duration", default=0.0, positive=True)
    warmup = fields.duration(spec.get("warmup"), "spec.warmup", default=0.0)
    if duration > 0 and warmup >= duration:
        fields.fail("spec.warmup", f"must be shorter than spec.duration ({format_duration(duration)})")
    duration_ok = len(fields.problems) == before
    proxy = fields.keys(spec.get("kubeProxy"), "spec.kubeProxy", ("mode", "scheduler", "syncDelay"))
    mode = fields.one_of(proxy.get("mode", ProxyMode.IPTABLES), "spec.kubeProxy.mode", ProxyMode)
    scheduler = None
    if mode == "ipvs":
        scheduler = fields.choice(proxy.get("scheduler", "rr"), "spec.kubeProxy.scheduler", tuple(IPVS_SCHEDULERS))
    elif "scheduler" in proxy:
        fields.fail("spec.kubeProxy.scheduler", f'Forbidden: only used with mode "ipvs", not "{mode}"')
    kube_proxy = KubeProxy(
        mode=mode,
        sync_delay_s=fields.duration(proxy.get("syncDelay"), "spec.kubeProxy.syncDelay", default=1.0),
        scheduler=scheduler,
    )
    name = _name(meta.get("name", "simulation"), fields)
    cluster = _cluster(spec.get("cluster"), fields)
    workloads = parse_workloads(spec.get("workloads"), fields)
    before = len(fields.problems)
    clients = parse_clients(spec.get("clients"), fields, folder, duration if duration_ok else None)
    clients_ok = len(fields.problems) == before
    events = parse_events(spec.get("events"), fields, workloads)
    slo = _slo(spec["slo"], fields) if "slo" in spec else None
    if duration_ok and clients_ok:
        for path, message in duration_problems(duration, clients):
            fields.fail(path, message)
    return Simulation(
        name=name,
        seed=seed,
        duration_s=duration,
        warmup_s=warmup,
        cluster=cluster,
        kube_proxy=kube_proxy,
        workloads=workloads,
        clients=clients,
        events=events,
        slo=slo,
    )


def _slo(raw: Any, fields: FieldReader) -> Slo | None:
    """``spec.slo``: latency bounds, an error rate and a throughput, all optional, at least one."""
    path = "spec.slo"
    allowed = ("latency", "errorRate", "throughput")
    s = fields.keys(raw, path, allowed)
    if (raw is None or isinstance(raw, dict)) and not any(key in s for key in allowed):
        fields.fail(path, f"Required value: at least one of {', '.join(allowed)}")
    latency: dict[str, float] = {}
    if "latency" in s:
        lat = fields.keys(s["latency"], f"{path}.latency", SLO_LATENCY_KEYS)
        if (s["latency"] is None or isinstance(s["latency"], dict)) and not lat:
            fields.fail(f"{path}.latency", f"Required value: at least one of {', '.join(SLO_LATENCY_KEYS)}")
        for key in SLO_LATENCY_KEYS:  # stored in this order, whatever the user's
            if key in lat:
                latency[key] = fields.duration(lat[key], f"{path}.latency.{key}", positive=True)
    error_rate = fields.fraction(s["errorRate"], f"{path}.errorRate") if "errorRate" in s else None
    throughput = None
    if "throughput" in s:
        throughput = float(fields.number(s["throughput"], f"{path}.throughput", strict=True))
    return Slo(latency_s=latency, error_rate=error_rate, throughput_rps=throughput)


def _name(value: Any, fields: FieldReader) -> str:
    """metadata.name names the results folder (runs/<name>), so it must be a DNS-1123 subdomain."""
    if not isinstance(value, str):
        fields.fail("metadata.name", f"Invalid value: {value!r}: must be a string")
        return str(value)
    for problem in dns1123_subdomain_problems(value):
        fields.fail("metadata.name", f"Invalid value: {go(value)}: {problem}")
    return value


def _cluster(raw: Any, fields: FieldReader) -> Cluster:
    path = "spec.cluster"
    c = fields.keys(
        raw,
        path,
        (
            "nodes",
            "nodeCIDR",
            "podCIDR",
            "serviceCIDR",
            "nodePortRange",
            "network",
            "loadBalancer",
            "nodeMonitorGracePeriod",
            "metrics",
            "hpaController",
            "allocatable",
            "autoscaler",
            "nodeCost",
        ),
    )
    allocatable = _allocatable(c.get("allocatable"), f"{path}.allocatable", fields, DEFAULT_ALLOCATABLE)
    nodes = _nodes(c.get("nodes", 1), f"{path}.nodes", fields, allocatable)
    autoscaler = parse_autoscaler(
        c.get("autoscaler"), f"{path}.autoscaler", fields, len(nodes), allocatable, _allocatable
    )
    ports_raw = str(c.get("nodePortRange", "30000-32767"))
    low, _, high = ports_raw.partition("-")
    if not (low.strip().isdigit() and high.strip().isdigit() and 0 < int(low) <= int(high) <= 65535):
        fields.fail(f"{path}.nodePortRange", f"Invalid value: {ports_raw!r}: must be LOW-HIGH, such as 30000-32767")
        low, high = "30000", "32767"
    net = fields.keys(c.get("network"), f"{path}.network", ("clientToNode", "nodeToNode"))
    network = Network(
        client_to_node=fields.distribution(
            net.get("clientToNode", DEFAULT_NETWORK["clientToNode"]), f"{path}.network.clientToNode"
        )
        or parse_distribution(0),
        node_to_node=fields.distribution(
            net.get("nodeToNode", DEFAULT_NETWORK["nodeToNode"]), f"{path}.network.nodeToNode"
        )
        or parse_distribution(0),
    )
    before = len(fields.problems)
    pod_cidr = fields.cidr(c.get("podCIDR", "10.244.0.0/16"), f"{path}.podCIDR")
    if len(fields.problems) == before:
        # a cluster autoscaler's nodes get theirs too (the range allocator's next /24s)
        most = max(len(nodes), autoscaler.max_nodes if autoscaler is not None else 0)
        _check_pod_cidr(pod_cidr, most, f"{path}.podCIDR", fields)
    return Cluster(
        nodes=tuple(nodes),
        node_cidr=fields.cidr(c.get("nodeCIDR", "192.168.1.0/24"), f"{path}.nodeCIDR"),
        pod_cidr=pod_cidr,
        service_cidr=fields.cidr(c.get("serviceCIDR", "10.96.0.0/12"), f"{path}.serviceCIDR"),
        node_port_range=(int(low), int(high)),
        network=network,
        load_balancer=_load_balancer(c.get("loadBalancer"), fields),
        # kube-controller-manager's --node-monitor-grace-period (docs/semantics.md#node-failure)
        node_monitor_grace_period_s=fields.duration(
            c.get("nodeMonitorGracePeriod"), f"{path}.nodeMonitorGracePeriod", default=50.0, positive=True
        )
        or 50.0,
        metrics=_metrics_pipeline(c.get("metrics"), f"{path}.metrics", fields),
        hpa_controller=_hpa_controller(c.get("hpaController"), f"{path}.hpaController", fields),
        allocatable=allocatable,
        autoscaler=autoscaler,
        # a price per node-hour, in the user's currency: only svcsim plan reads it (README "Capacity planning")
        node_cost_per_hour=float(fields.number(c["nodeCost"], f"{path}.nodeCost")) if "nodeCost" in c else None,
    )


def _metrics_pipeline(raw: Any, path: str, fields: FieldReader) -> MetricsPipeline:
    m = fields.keys(raw, path, ("resolution", "rateWindow"))
    d = MetricsPipeline()
    resolution = fields.duration(m.get("resolution"), f"{path}.resolution", default=d.resolution_s, positive=True)
    window = fields.duration(m.get("rateWindow"), f"{path}.rateWindow", default=d.rate_window_s, positive=True)
    return MetricsPipeline(resolution_s=resolution or d.resolution_s, rate_window_s=window or d.rate_window_s)


def _hpa_controller(raw: Any, path: str, fields: FieldReader) -> HPAController:
    """kube-controller-manager's HPA flags (docs/semantics.md#horizontalpodautoscaler-controller)."""
    h = fields.keys(
        raw,
        path,
        ("syncPeriod", "tolerance", "downscaleStabilization", "cpuInitializationPeriod", "initialReadinessDelay"),
    )
    d = HPAController()
    tolerance = d.tolerance
    if "tolerance" in h:
        tolerance = fields.number(h["tolerance"], f"{path}.tolerance", minimum=0.0)
    return HPAController(
        sync_period_s=fields.duration(h.get("syncPeriod"), f"{path}.syncPeriod", default=d.sync_period_s, positive=True)
        or d.sync_period_s,
        tolerance=tolerance,
        downscale_stabilization_s=fields.duration(
            h.get("downscaleStabilization"), f"{path}.downscaleStabilization", default=d.downscale_stabilization_s
        ),
        cpu_initialization_period_s=fields.duration(
            h.get("cpuInitializationPeriod"), f"{path}.cpuInitializationPeriod", default=d.cpu_initialization_period_s
        ),
        initial_readiness_delay_s=fields.duration(
            h.get("initialReadinessDelay"), f"{path}.initialReadinessDelay", default=d.initial_readiness_delay_s
        ),
    )


def _allocatable(raw: Any, path: str, fields: FieldReader, base: Allocatable) -> Allocatable:
    """A node's ``allocatable``: ``cpu`` and ``memory`` quantities (``3500m``, ``16Gi``) and
    ``pods``, each field replacing ``base``'s (the cluster's, or svcsim's default)."""
    a = fields.keys(raw, path, ("cpu", "memory", "pods"))
    cpu = _quantity(a, "cpu", path, fields, -3, "millicores")
    memory = _quantity(a, "memory", path, fields, 0, "bytes")
    pods = _quantity(a, "pods", path, fields, 0, "pods", whole=True)
    return Allocatable(
        cpu_m=base.cpu_m if cpu is None else cpu,
        memory_b=base.memory_b if memory is None else memory,
        pods=base.pods if pods is None else pods,
    )


def _quantity(
    a: dict[str, Any], key: str, path: str, fields: FieldReader, scale: int, unit: str, whole: bool = False
) -> int | None:
    """One allocatable quantity, as the API server decodes it, rounded up to ``unit``
    (MilliValue for cpu, Value otherwise); None when absent or wrong (the problem is recorded)."""
    if key not in a:
        return None
    at = f"{path}.{key}"
    try:
        quantity = decode_quantity(a[key])
    except QuantityError as err:
        raw = a[key]
        fields.fail(at, f"Invalid value: {go(raw) if isinstance(raw, str) else repr(raw)}: {err}")
        return None
    shown = go(str(quantity))
    if quantity.amount < 0:
        fields.fail(at, f"Invalid value: {shown}: {NEGATIVE_MSG}")
        return None
    if whole and quantity.amount % 1 != 0:
        fields.fail(at, f"Invalid value: {shown}: must be an integer")
        return None
    try:
        value = quantity.scaled_value(scale)
    except OverflowError:
        value = INT64_MAX + 1
    if value > INT64_MAX:
        fields.fail(at, f"Invalid value: {shown}: must be at most {INT64_MAX} {unit} (svcsim's limit)")
        return None
    return value


def _nodes(raw: Any, path: str, fields: FieldReader, allocatable: Allocatable) -> list[Node]:
    """A node count, or a list of nodes whose names follow Kubernetes' ValidateNodeName; each
    node has the cluster's ``allocatable`` unless it sets fields of its own."""
    nodes: list[Node] = []
    if isinstance(raw, int) and not isinstance(raw, bool):
        count = fields.integer(raw, path, minimum=1, maximum=MAX_NODES, why="svcsim's limit")
        nodes = [Node(f"node-{i}", None, {}, allocatable) for i in range(1, count + 1)]
    elif isinstance(raw, list) and raw:
        if len(raw) > MAX_NODES:
            fields.fail(path, f"Too many: {len(raw)}: must have at most {MAX_NODES} items (svcsim's limit)")
            return []
        for i, item in enumerate(raw):
            n = fields.keys(item, f"{path}[{i}]", ("name", "ip", "labels", "allocatable"), required=("name",))
            name = n.get("name", f"node-{i + 1}")
            if not isinstance(name, str):
                fields.fail(f"{path}[{i}].name", f"Invalid value: {name!r}: must be a string")
                name = str(name)
            elif not name:
                fields.fail(f"{path}[{i}].name", "Required value")
            else:
                for problem in dns1123_subdomain_problems(name):
                    fields.fail(f"{path}[{i}].name", f"Invalid value: {go(name)}: {problem}")
            labels = n.get("labels") or {}
            if not (isinstance(labels, dict) and all(isinstance(x, str) for kv in labels.items() for x in kv)):
                fields.fail(f"{path}[{i}].labels", f"Invalid value: {labels!r}: must be a mapping of strings")
                labels = {}
            for error in label_errors(labels, f"{path}[{i}].labels"):  # ValidateObjectMeta of the Node
                fields.fail(error.path, error.detail)
            ip = n.get("ip")
            if ip is not None:
                try:
                    ip = str(ipaddress.IPv4Address(str(ip)))
                except ValueError:
                    fields.fail(f"{path}[{i}].ip", f"Invalid value: {ip!r}: must be an IPv4 address")
            own = _allocatable(n.get("allocatable"), f"{path}[{i}].allocatable", fields, allocatable)
            nodes.append(Node(name, ip, dict(labels), own))
    else:
        fields.fail(path, f"Invalid value: {raw!r}: must be a count or a list of nodes")
    names = [n.name for n in nodes]
    for i, name in enumerate(names):
        if name in names[:i]:
            fields.fail(f"{path}[{i}].name", f"Duplicate value: {go(name)}")
    return nodes


def _check_pod_cidr(pod_cidr: ipaddress.IPv4Network, nodes: int, path: str, fields: FieldReader) -> None:
    """Each node takes a /24 of the pod CIDR (a smaller CIDR is one node's range), as
    kube-controller-manager's range allocator hands them out (--node-cidr-mask-size 24)."""
    prefix = max(NODE_CIDR_MASK_SIZE, pod_cidr.prefixlen)
    room = 2 ** (prefix - pod_cidr.prefixlen)
    if nodes <= room:
        return
    needed = NODE_CIDR_MASK_SIZE - math.ceil(math.log2(nodes))
    fields.fail(
        path,
        f'Invalid value: "{pod_cidr}": CIDR allocation failed; there are no remaining CIDRs left to allocate '
        f"in the accepted range: each node gets a /{NODE_CIDR_MASK_SIZE} (--node-cidr-mask-size), so {nodes} "
        f"nodes need a /{needed} or larger",
    )


def _load_balancer(raw: Any, fields: FieldReader) -> LoadBalancer:
    path = "spec.cluster.loadBalancer"
    lb = fields.keys(raw, path, ("latency", "algorithm", "ipPool", "provisioningDelay", "healthCheckInterval"))
    interval = fields.duration(lb.get("healthCheckInterval"), f"{path}.healthCheckInterval", default=5.0, positive=True)
    return LoadBalancer(
        latency=fields.distribution(lb.get("latency", "1ms"), f"{path}.latency") or parse_distribution(0),
        algorithm=fields.choice(lb.get("algorithm", "random"), f"{path}.algorithm", tuple(BALANCER_ALGORITHMS)),
        ip_pool=fields.cidr(lb.get("ipPool", "203.0.113.0/24"), f"{path}.ipPool"),
        provisioning_delay_s=fields.duration(lb.get("provisioningDelay"), f"{path}.provisioningDelay", default=0.0),
        health_check_interval_s=interval or 5.0,
    )
