"""The Simulation as a document: what ``scenario.yaml`` in a run folder holds.

Every field is written with its default filled in, so the document loads again to an equal
:class:`~sim.scenario.simulation.Simulation` (the tests check it). Fixed choices are
written as plain strings: YAML's safe dumper refuses str subclasses such as StrEnums.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sim.kube.quantity import Format, Quantity
from sim.scenario.simulation import (
    Allocatable,
    Call,
    Client,
    ClusterAutoscaler,
    CpuUsage,
    CrashEvent,
    Event,
    KubeProxy,
    LoadBalancer,
    MemoryUsage,
    Node,
    ProbeFailure,
    Retries,
    RolloutEvent,
    ScaleEvent,
    Shutdown,
    Simulation,
    Workload,
    in_run_order,
)
from sim.units import format_duration

__all__ = ["simulation_manifest"]


def simulation_manifest(sim: Simulation) -> dict[str, Any]:
    """The Simulation document with every default filled in (saved as the resolved scenario)."""
    cluster = sim.cluster
    return {
        "apiVersion": "svcsim/v1alpha1",
        "kind": "Simulation",
        "metadata": {"name": sim.name},
        "spec": {
            "seed": sim.seed,
            "duration": format_duration(sim.duration_s),
            "warmup": format_duration(sim.warmup_s),
            "cluster": {
                "nodes": [_node_manifest(n, cluster.allocatable) for n in cluster.nodes],
                "allocatable": _allocatable_manifest(cluster.allocatable),
                "nodeCIDR": str(cluster.node_cidr),
                "podCIDR": str(cluster.pod_cidr),
                "serviceCIDR": str(cluster.service_cidr),
                "nodePortRange": f"{cluster.node_port_range[0]}-{cluster.node_port_range[1]}",
                "network": {
                    "clientToNode": cluster.network.client_to_node.to_spec(),
                    "nodeToNode": cluster.network.node_to_node.to_spec(),
                },
                "loadBalancer": _lb_manifest(cluster.load_balancer),
                "nodeMonitorGracePeriod": format_duration(cluster.node_monitor_grace_period_s),
                "metrics": {
                    "resolution": format_duration(cluster.metrics.resolution_s),
                    "rateWindow": format_duration(cluster.metrics.rate_window_s),
                },
                "hpaController": {
                    "syncPeriod": format_duration(cluster.hpa_controller.sync_period_s),
                    "tolerance": cluster.hpa_controller.tolerance,
                    "downscaleStabilization": format_duration(cluster.hpa_controller.downscale_stabilization_s),
                    "cpuInitializationPeriod": format_duration(cluster.hpa_controller.cpu_initialization_period_s),
                    "initialReadinessDelay": format_duration(cluster.hpa_controller.initial_readiness_delay_s),
                },
                **({"autoscaler": _autoscaler_manifest(cluster.autoscaler)} if cluster.autoscaler is not None else {}),
                **({"nodeCost": cluster.node_cost_per_hour} if cluster.node_cost_per_hour is not None else {}),
            },
            "kubeProxy": _proxy_manifest(sim.kube_proxy),
            "workloads": {name: _workload_manifest(w) for name, w in sim.workloads.items()},
            "clients": [_client_manifest(c) for c in sim.clients],
            "events": _events_manifest(sim.events, sim.workloads),
            **({"slo": sim.slo.to_spec()} if sim.slo is not None else {}),
        },
    }


def _node_manifest(node: Node, default: Allocatable) -> dict[str, Any]:
    out: dict[str, Any] = {"name": node.name, "ip": node.ip, "labels": dict(node.labels)}
    if node.allocatable != default:
        out["allocatable"] = _allocatable_manifest(node.allocatable)
    return out


def _autoscaler_manifest(a: ClusterAutoscaler) -> dict[str, Any]:
    """``cluster.autoscaler`` as written (its nodes' names and IPs follow from it at load)."""
    return {
        "minNodes": a.min_nodes,
        "maxNodes": a.max_nodes,
        "nodeTemplate": {
            "allocatable": _allocatable_manifest(a.template.allocatable),
            "labels": dict(a.template.labels),
            "namePrefix": a.template.name_prefix,
        },
        "provisioningTime": format_duration(a.provisioning_s),
        "scanInterval": format_duration(a.scan_interval_s),
        "scaleDownUnneededTime": format_duration(a.scale_down_unneeded_s),
        "scaleDownUtilizationThreshold": a.scale_down_utilization_threshold,
        "scaleDownDelayAfterAdd": format_duration(a.scale_down_delay_after_add_s),
    }


def _allocatable_manifest(a: Allocatable) -> dict[str, Any]:
    """cpu and memory in the API server's canonical quantity form (``3500m``, ``16Gi``)."""
    cpu = Quantity(Decimal(a.cpu_m) / 1000, Format.DECIMAL_SI)
    return {"cpu": str(cpu), "memory": str(Quantity(Decimal(a.memory_b), Format.BINARY_SI)), "pods": a.pods}


def _lb_manifest(lb: LoadBalancer) -> dict[str, Any]:
    return {
        "latency": lb.latency.to_spec(),
        "algorithm": lb.algorithm,
        "ipPool": str(lb.ip_pool),
        "provisioningDelay": format_duration(lb.provisioning_delay_s),
        "healthCheckInterval": format_duration(lb.health_check_interval_s),
    }


def _proxy_manifest(proxy: KubeProxy) -> dict[str, Any]:
    out: dict[str, Any] = {"mode": str(proxy.mode), "syncDelay": format_duration(proxy.sync_delay_s)}
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
        out["calls"] = [_call_manifest(c) for c in w.calls]
    if w.queue_limit is not None:
        out["queueLimit"] = w.queue_limit
    if w.max_connections is not None:
        out["maxConnections"] = w.max_connections
    out["onCancel"] = str(w.on_cancel)
    out["shutdown"] = _shutdown_manifest(w.shutdown)
    if w.probe_failure is not None:
        out["probeFailure"] = _probe_failure_manifest(w.probe_failure)
    if w.failures is not None:
        out["failures"] = {"meanTimeBetween": format_duration(w.failures.mean_time_between_s)}
    if w.cpu != CpuUsage():  # written when set, so existing run folders read as before
        cpu: dict[str, Any] = {"idle": f"{round(w.cpu.idle_cores * 1000)}m"}
        if w.cpu.per_request_s is not None:
            cpu["perRequest"] = format_duration(w.cpu.per_request_s)
        out["cpu"] = cpu
    if w.memory != MemoryUsage():
        out["memory"] = {"base": int(w.memory.base_bytes), "perRequest": int(w.memory.per_request_bytes)}
    return out


def _shutdown_manifest(s: Shutdown) -> dict[str, Any]:
    out: dict[str, Any] = {"onSigterm": str(s.on_sigterm)}
    if s.drain_timeout_s is not None:
        out["drainTimeout"] = format_duration(s.drain_timeout_s)
    if s.pre_stop_s is not None:
        out["preStopTime"] = format_duration(s.pre_stop_s)
    return out


def _probe_failure_manifest(p: ProbeFailure) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if p.in_flight_above is not None:
        out["inFlightAbove"] = p.in_flight_above
    out["waitAboveTimeout"] = p.wait_above_timeout
    out["probes"] = list(p.probes)
    return out


def _events_manifest(events: tuple[Event, ...], workloads: dict[str, Workload]) -> list[dict[str, Any]]:
    """Every event as written; a rollout's workload as the fields that differ from the revision
    it follows (null for one it removes), so that the manifest reloads to the same workloads."""
    revisions = dict(workloads)
    diffs: dict[int, dict[str, Any]] = {}
    for i in in_run_order(events):
        event = events[i]
        if isinstance(event, RolloutEvent) and event.workload is not None:
            new = _workload_manifest(event.workload)
            base = revisions.get(event.deployment)
            old = _workload_manifest(base) if base is not None else {}
            diffs[i] = {k: v for k, v in new.items() if old.get(k) != v} | {k: None for k in old if k not in new}
            revisions[event.deployment] = event.workload
    out: list[dict[str, Any]] = []
    for i, e in enumerate(events):
        body: dict[str, Any]
        if isinstance(e, ScaleEvent):
            kind, body = "scale", {"deployment": e.deployment, "replicas": e.replicas}
        elif isinstance(e, RolloutEvent):
            kind, body = "rollout", {"deployment": e.deployment}
            if i in diffs:
                body["workload"] = diffs[i]
        elif isinstance(e, CrashEvent):
            kind = "crash"
            body = {"pod": e.pod} if e.pod is not None else {"deployment": e.deployment, "count": e.count}
        else:
            kind, body = e.action, {"node": e.node} if e.node is not None else {"zone": e.zone}
        out.append({"at": format_duration(e.at_s), kind: body})
    return out


def _client_manifest(c: Client) -> dict[str, Any]:
    # Fixed choices as plain strings: YAML's safe dumper refuses str subclasses such as StrEnums.
    target: dict[str, Any] = {"service": c.target.service, "via": str(c.target.via)}
    if c.target.port is not None:
        target["port"] = c.target.port
    out: dict[str, Any] = {
        "name": c.name,
        "ip": c.ip,
        "location": c.location,
        "target": target,
        "rate": c.rate.to_spec(),
        "arrival": str(c.arrival),
    }
    if c.start_s > 0:
        out["start"] = format_duration(c.start_s)
    if c.stop_s is not None:
        out["stop"] = format_duration(c.stop_s)
    if c.nodes is not None:
        out["nodes"] = list(c.nodes)
    out["connectTimeout"] = format_duration(c.connect_timeout_s)
    if c.timeout_s is not None:
        out["timeout"] = format_duration(c.timeout_s)
    out["ips"] = c.ips
    conn: dict[str, Any] = {"mode": str(c.connections.mode)}
    if c.connections.keepalive:
        conn["count"] = c.connections.count
        if c.connections.requests_per_connection is not None:
            conn["requestsPerConnection"] = c.connections.requests_per_connection
        if c.connections.max_age_s is not None:
            conn["maxAge"] = format_duration(c.connections.max_age_s)
    out["connections"] = conn
    if c.retries is not None:
        out["retries"] = _retries_manifest(c.retries)
    return out


def _retries_manifest(r: Retries) -> dict[str, Any]:
    out: dict[str, Any] = {
        "attempts": r.attempts,
        "on": list(r.on),
        "backoff": {
            "initial": format_duration(r.backoff.initial_s),
            "multiplier": r.backoff.multiplier,
            "max": format_duration(r.backoff.max_s),
            "jitter": r.backoff.jitter,
        },
    }
    if r.budget is not None:
        out["budget"] = r.budget
        out["minRetryConcurrency"] = r.min_retry_concurrency
    return out


def _call_manifest(c: Call) -> dict[str, Any]:
    port = {} if c.port is None else {"port": c.port}
    return {"service": c.service, **port, "timeout": format_duration(c.timeout_s)}
