"""Checks between documents: every name the Simulation uses must exist in the scenario.

Workloads and events name Deployments; events also name pods, nodes and zones; clients and
calls name Services, their ports and how they are reached; clients name nodes. Problems are
reported on the Simulation document.
Some things are legal but rarely meant, such as a pod that fits no node: they are warnings.
"""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx

from sim.kube.deployment import Deployment
from sim.kube.service import Service, ServiceType
from sim.kube.validation import go, go_map
from sim.scenario.documents import DeploymentDocument, Findings, HPADocument, Origin
from sim.scenario.event_parser import ZONE_LABEL
from sim.scenario.run_limits import run_limit_problems
from sim.scenario.simulation import (
    POD_METRICS,
    TOTAL_METRICS,
    Client,
    CrashEvent,
    NodeEvent,
    RolloutEvent,
    ScaleEvent,
    Simulation,
    Via,
    in_run_order,
)
from sim.scenario.slo_checks import impossible_latency_targets
from sim.units import format_duration

__all__ = ["MEMORY_LIMIT_NOT_ENFORCED", "cross_check"]

#: Said once per Deployment whose containers limit memory (docs/semantics.md#resources).
MEMORY_LIMIT_NOT_ENFORCED = (
    "spec.template.spec.containers[].resources.limits.memory: not enforced (svcsim models no OOM kill; "
    "requests are scheduled and autoscaled on, cpu limits throttle)"
)


def cross_check(
    simulation: Simulation,
    origin: Origin,
    services: Sequence[Service],
    deployments: Sequence[DeploymentDocument],
    findings: Findings,
    hpas: Sequence[HPADocument] = (),
) -> None:
    """Report each name the Simulation at ``origin`` uses that the other documents do not define,
    and each HorizontalPodAutoscaler whose target is not one Deployment of the scenario."""
    svc_by_name = {s.name: s for s in services}
    dep_names = {d.deployment.name for d in deployments}
    node_names = {n.name for n in simulation.cluster.nodes}
    for name in simulation.workloads:
        if name not in dep_names:
            findings.fail(origin, f"spec.workloads.{name}", f"no Deployment named {go(name)} in this scenario")
    for document in deployments:
        if document.deployment.name not in simulation.workloads:
            findings.fail(
                origin,
                "spec.workloads",
                f'Required value: Deployment "{document.deployment.name}" needs a performance model '
                "(serviceTime, concurrency, startupTime)",
            )
    names = [c.name for c in simulation.clients]
    for i, client in enumerate(simulation.clients):
        path = f"spec.clients[{i}]"
        if client.name in names[:i]:
            findings.fail(origin, f"{path}.name", f"Duplicate value: {go(client.name)}")
        if client.location != "external" and client.location not in node_names:
            findings.fail(
                origin,
                f"{path}.location",
                f'Invalid value: {go(client.location)}: must be "external" or a node name '
                f"({', '.join(sorted(node_names))})",
            )
        for node in client.nodes or ():
            if node not in node_names:
                findings.fail(origin, f"{path}.nodes", f"Invalid value: {go(node)}: no such node")
        _check_target(origin, path, client, svc_by_name, findings)
    _check_calls(origin, simulation, svc_by_name, findings)
    for path, message in _event_problems(simulation, dep_names):
        findings.fail(origin, path, message)
    for message in _recover_warnings(simulation) + _lifecycle_warnings(simulation, deployments):
        findings.warn(origin, message)
    documents = {d.deployment.name: d.origin for d in deployments}
    for problem in run_limit_problems(simulation, services, [d.deployment for d in deployments]):
        findings.fail(documents.get(problem.deployment or "", origin), problem.field, problem.message)
    for document in deployments:
        _warn_unschedulable(simulation, document.deployment, document.origin, findings)
        if any(c.memory_limit_b is not None for c in document.deployment.container_resources):
            findings.warn(document.origin, MEMORY_LIMIT_NOT_ENFORCED)
    _warn_call_cycles(origin, simulation, services, [d.deployment for d in deployments], findings)
    for message in impossible_latency_targets(simulation, services, [d.deployment for d in deployments]):
        findings.warn(origin, message)
    _check_hpa_targets(hpas, [d.deployment for d in deployments], findings)
    _check_hpa_metrics(hpas, services, [d.deployment for d in deployments], findings)


def _check_hpa_targets(hpas: Sequence[HPADocument], deployments: Sequence[Deployment], findings: Findings) -> None:
    """Each HPA's scaleTargetRef names an ``apps/v1`` Deployment of the scenario in its namespace,
    and no Deployment has two HPAs (docs/semantics.md#horizontalpodautoscaler)."""
    path = "spec.scaleTargetRef"
    known = {(d.namespace, d.name) for d in deployments}
    scaled_by: dict[tuple[str, str], str] = {}
    for document in hpas:
        hpa, where = document.hpa, document.origin
        if hpa.target_kind != "Deployment":
            findings.fail(
                where,
                f"{path}.kind",
                f'Unsupported value: {go(hpa.target_kind)}: supported values: "Deployment" '
                "(svcsim scales Deployments only)",
            )
            continue
        if not hpa.target_api_version:
            findings.fail(
                where,
                f"{path}.apiVersion",
                'Required value: "apps/v1": without it the controller looks for a Deployment in the core API '
                "group, finds none and cannot scale it",
            )
        elif hpa.target_api_version != "apps/v1":
            findings.fail(
                where,
                f"{path}.apiVersion",
                f'Unsupported value: {go(hpa.target_api_version)}: supported values: "apps/v1"',
            )
        key = (hpa.namespace, hpa.target_name)
        if key not in known:
            findings.fail(
                where,
                f"{path}.name",
                f"Invalid value: {go(hpa.target_name)}: no Deployment named {go(hpa.target_name)} in namespace "
                f"{go(hpa.namespace)} of this scenario",
            )
        elif key in scaled_by:
            findings.fail(
                where,
                f"{path}.name",
                f'Duplicate value: {go(hpa.target_name)}: Deployment "{hpa.target_name}" is already scaled by '
                f'HorizontalPodAutoscaler "{scaled_by[key]}" (two HPAs on one Deployment: neither scales it)',
            )
        else:
            scaled_by[key] = hpa.name


def _check_hpa_metrics(
    hpas: Sequence[HPADocument], services: Sequence[Service], deployments: Sequence[Deployment], findings: Findings
) -> None:
    """Each metric is one svcsim can produce (docs/semantics.md#metrics-pipeline): cpu and memory;
    ``Pods`` metrics by the names a Prometheus adapter would serve; ``Object`` metrics of a
    Service or Deployment of the scenario and ``External`` ones, totals over pods selected by
    ``matchLabels``. A Utilization target on pods without that request is allowed, as the API
    server allows it, with a warning: the controller fails on it at every sync."""
    by_name = {d.name: d for d in deployments}
    service_names = {s.name for s in services}
    for document in hpas:
        hpa, where = document.hpa, document.origin
        target = by_name.get(hpa.target_name)
        for i, spec in enumerate(hpa.metrics):
            path = _metric_path(hpa.api_version, i, spec.type)
            if spec.type == "Pods" and spec.name not in POD_METRICS:
                findings.fail(where, f"{path}.metric.name", _unsupported_metric(spec.name, POD_METRICS))
            elif spec.type in ("Object", "External") and spec.name not in TOTAL_METRICS:
                findings.fail(where, f"{path}.metric.name", _unsupported_metric(spec.name, TOTAL_METRICS))
            if spec.type == "Object":
                kind, _, name = (spec.described or "").partition("/")
                if kind not in ("Service", "Deployment"):
                    findings.fail(
                        where,
                        f"{path}.describedObject.kind",
                        f'Unsupported value: {go(kind)}: supported values: "Deployment", "Service" '
                        "(the objects svcsim measures)",
                    )
                elif name not in (service_names if kind == "Service" else set(by_name)):
                    findings.fail(
                        where,
                        f"{path}.describedObject.name",
                        f"Invalid value: {go(name)}: no {kind} named {go(name)} in this scenario",
                    )
            if spec.type == "External" and spec.selector and set(spec.selector) - {"matchLabels"}:
                findings.fail(
                    where,
                    f"{path}.metric.selector",
                    "Unsupported value: svcsim selects External metrics' pods by matchLabels only",
                )
            if spec.type == "ContainerResource" and target and spec.container not in target.container_names:
                findings.warn(
                    where,
                    f"{path}.container: no container {go(spec.container or '')} in Deployment "
                    f"{hpa.target_name}'s pods (containers: {', '.join(target.container_names)}): "
                    "the HPA will not scale (FailedGetContainerResourceMetric at every sync)",
                )
            elif spec.type in ("Resource", "ContainerResource") and spec.target.type == "Utilization" and target:
                containers = target.container_resources
                if spec.type == "ContainerResource":
                    containers = tuple(c for c in containers if c.container == spec.container)
                field = "cpu_request_m" if spec.name == "cpu" else "memory_request_b"
                named = {c.container: c for c in containers}
                names = [n for n in target.container_names if spec.type == "Resource" or n == spec.container]
                lacking = [n for n in names if n not in named or getattr(named[n], field) is None]
                if lacking:
                    who = f"container {lacking[0]}"
                    findings.warn(
                        where,
                        f"{path}: {who} of Deployment {hpa.target_name} has no {spec.name} request, so its "
                        f"utilization cannot be computed: the HPA will not scale (FailedGetResourceMetric "
                        f"at every sync)",
                    )


def _metric_path(api_version: str, index: int, source: str) -> str:
    if api_version == "autoscaling/v1":
        return "spec.targetCPUUtilizationPercentage"
    field = source[0].lower() + source[1:]
    return f"spec.metrics[{index}].{field}"


def _unsupported_metric(name: str, known: tuple[str, ...]) -> str:
    listed = ", ".join(f'"{k}"' for k in known)
    return f"Unsupported value: {go(name)}: supported values: {listed} (the metrics svcsim produces)"


def _event_problems(simulation: Simulation, dep_names: set[str]) -> list[tuple[str, str]]:
    """``(field, message)`` for each name an event uses that the scenario does not define."""
    nodes = [n.name for n in simulation.cluster.nodes]
    zones = sorted({n.labels[ZONE_LABEL] for n in simulation.cluster.nodes if ZONE_LABEL in n.labels})
    out = []
    for i, event in enumerate(simulation.events):
        path = f"spec.events[{i}]"
        if isinstance(event, ScaleEvent | RolloutEvent) or (isinstance(event, CrashEvent) and event.pod is None):
            kind = (
                "scale" if isinstance(event, ScaleEvent) else "rollout" if isinstance(event, RolloutEvent) else "crash"
            )
            name = event.deployment or ""
            if name and name not in dep_names:
                out.append((f"{path}.{kind}.deployment", f"no Deployment named {go(name)} in this scenario"))
        elif isinstance(event, CrashEvent) and event.pod:
            if not any(event.pod.startswith(f"{d}-") and len(event.pod) > len(d) + 1 for d in dep_names):
                out.append(
                    (
                        f"{path}.crash.pod",
                        f"Invalid value: {go(event.pod)}: not a pod of any Deployment in this scenario (pods are "
                        f"named <deployment>-<pod-template-hash>-<suffix>; Deployments: "
                        f"{', '.join(sorted(dep_names)) or 'none'})",
                    )
                )
        elif isinstance(event, NodeEvent) and event.node and event.node not in nodes:
            out.append(
                (f"{path}.{event.action}.node", f"Invalid value: {go(event.node)}: no such node ({_listed(nodes)})")
            )
        elif isinstance(event, NodeEvent) and event.zone and event.zone not in zones:
            known = f"zones: {_listed(zones)}" if zones else f"no node has the label {ZONE_LABEL}"
            out.append(
                (f"{path}.{event.action}.zone", f"Invalid value: {go(event.zone)}: no node is in this zone ({known})")
            )
    return out


def _listed(names: list[str], most: int = 10) -> str:
    """Names for a message, the first ``most`` of a long list."""
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def _recover_warnings(simulation: Simulation) -> list[str]:
    """A ``recover`` of nodes that no earlier event failed does nothing: legal, but rarely meant
    (the times of a fail and its recover swapped, say)."""
    zone_of = {n.name: n.labels.get(ZONE_LABEL) for n in simulation.cluster.nodes}
    failed: set[str] = set()
    out = []
    for i in in_run_order(simulation.events):
        event = simulation.events[i]
        if not isinstance(event, NodeEvent):
            continue
        named = [event.node] if event.node else [n for n, z in zone_of.items() if event.zone and z == event.zone]
        if event.action == "fail":
            failed.update(named)
        elif named and not failed.intersection(named):
            what = f"node {go(event.node)} has not" if event.node else f"no node of zone {go(event.zone or '')} has"
            out.append(
                f"spec.events[{i}].recover: {what} failed by {format_duration(event.at_s)} "
                "(no earlier fail event): recovering does nothing"
            )
        else:
            failed.difference_update(named)
    return out


def _lifecycle_warnings(simulation: Simulation, deployments: Sequence[DeploymentDocument]) -> list[str]:
    """Lifecycle fields that the Deployment gives nothing to act on: a ``probeFailure`` for
    probes it does not have, a ``preStopTime`` without a preStop hook. A rollout's workload
    is warned about only for what it changes."""
    by_name = {d.deployment.name: d.deployment for d in deployments}
    models = [
        (f"spec.workloads.{n}", n, w.probe_failure, w.shutdown.pre_stop_s) for n, w in simulation.workloads.items()
    ]
    for i, event in enumerate(simulation.events):
        own = simulation.workloads.get(event.deployment) if isinstance(event, RolloutEvent) else None
        if isinstance(event, RolloutEvent) and event.workload is not None and own is not None:
            new = event.workload
            failure = None if new.probe_failure == own.probe_failure else new.probe_failure
            pre_stop = None if new.shutdown.pre_stop_s == own.shutdown.pre_stop_s else new.shutdown.pre_stop_s
            models.append((f"spec.events[{i}].rollout.workload", event.deployment, failure, pre_stop))
    out = []
    for path, name, failure, pre_stop in models:
        dep = by_name.get(name)
        if dep is None:
            continue
        probes = {"startup": dep.startup_probe, "readiness": dep.readiness_probe, "liveness": dep.liveness_probe}
        if failure is not None and all(probes[kind] is None for kind in failure.probes):
            kinds = " or ".join(f"{kind}Probe" for kind in failure.probes)
            out.append(f"{path}.probeFailure: Deployment {go(name)} has no {kinds}: probeFailure changes nothing")
        if pre_stop is not None and dep.pre_stop is None:
            out.append(
                f"{path}.shutdown.preStopTime: Deployment {go(name)} has no lifecycle.preStop hook: "
                "preStopTime changes nothing"
            )
    return out


def _warn_unschedulable(simulation: Simulation, dep: Deployment, origin: Origin, findings: Findings) -> None:
    """A pod whose nodeName or nodeSelector fits no node stays Pending: legal, but rarely meant."""
    nodes = simulation.cluster.nodes
    if dep.node_name is not None:
        if all(n.name != dep.node_name for n in nodes):
            findings.warn(
                origin,
                f'spec.template.spec.nodeName: no node named "{dep.node_name}" '
                f"(nodes: {', '.join(n.name for n in nodes)}): its pods stay Pending",
            )
    elif not any(all(n.labels.get(k) == v for k, v in dep.node_selector.items()) for n in nodes):
        findings.warn(
            origin,
            f"spec.template.spec.nodeSelector: no node has the labels {go_map(dep.node_selector)}: "
            f"its pods stay Pending (0/{len(nodes)} nodes are available: {len(nodes)} node(s) didn't match "
            "Pod's node affinity/selector.)",
        )
    else:
        _warn_too_big(simulation, dep, origin, findings)


def _warn_too_big(simulation: Simulation, dep: Deployment, origin: Origin, findings: Findings) -> None:
    """A pod whose requests exceed what every node (a cluster autoscaler's template included)
    allocates, or whose nodes take no pods, stays Pending (docs/semantics.md#scheduling)."""
    cpu, memory = dep.cpu_request_m or 0, dep.memory_request_b or 0
    fits = [
        n
        for n in simulation.cluster.slots
        if all(n.labels.get(k) == v for k, v in dep.node_selector.items())
        and n.allocatable.pods > 0
        and cpu <= n.allocatable.cpu_m
        and memory <= n.allocatable.memory_b
    ]
    if not fits:
        findings.warn(
            origin,
            f"spec.template.spec.containers[].resources.requests: a pod (cpu {cpu}m, memory {memory} bytes) fits "
            "no node's allocatable (cluster.allocatable, cluster.nodes[].allocatable): its pods stay Pending",
        )


def _check_target(
    origin: Origin, path: str, client: Client, svc_by_name: dict[str, Service], findings: Findings
) -> None:
    """The client's Service exists, can be reached the way ``via`` says, and has the named port."""
    svc = svc_by_name.get(client.target.service)
    if svc is None:
        known = ", ".join(sorted(svc_by_name)) or "none"
        findings.fail(
            origin,
            f"{path}.target.service",
            f"no Service named {go(client.target.service)} in this scenario (Services: {known})",
        )
        return
    via = client.target.via
    if via == Via.NODE_PORT and not svc.has_node_ports:
        findings.fail(
            origin,
            f"{path}.target.via",
            f'Invalid value: "nodePort": Service "{svc.name}" has type {svc.type} and no nodePort',
        )
    if via == Via.LOAD_BALANCER and svc.type != ServiceType.LOAD_BALANCER:
        findings.fail(
            origin, f"{path}.target.via", f'Invalid value: "loadBalancer": Service "{svc.name}" has type {svc.type}'
        )
    if via == Via.CLUSTER_IP and svc.cluster_ip in (None, "None"):
        findings.fail(
            origin, f"{path}.target.via", f'Invalid value: "clusterIP": Service "{svc.name}" has no ClusterIP'
        )
    _check_port(origin, f"{path}.target.port", svc, client.target.port, findings)


def _check_port(origin: Origin, path: str, svc: Service, port: int | str | None, findings: Findings) -> None:
    """The port exists; with several ports one must be named, as ``kubectl port-forward`` makes
    you name it (docs/semantics.md#clients-and-outcomes)."""
    if port is None and len(svc.ports) > 1:
        listed = ", ".join(f"{p.name} {p.port}/{p.protocol}".strip() for p in svc.ports)
        findings.fail(
            origin,
            path,
            f'Required value: Service "{svc.name}" has {len(svc.ports)} ports ({listed}): choose one by number or name',
        )
    elif port is not None and not any(port in (p.port, p.name) for p in svc.ports):
        findings.fail(origin, path, f'Invalid value: {port!r}: Service "{svc.name}" has no such port')


def _check_calls(origin: Origin, simulation: Simulation, svc_by_name: dict[str, Service], findings: Findings) -> None:
    """Each call a workload makes names a Service with a ClusterIP, and a port it has."""
    for name, workload in simulation.workloads.items():
        for i, call in enumerate(workload.calls):
            path = f"spec.workloads.{name}.calls[{i}]"
            svc = svc_by_name.get(call.service)
            if svc is None:
                findings.fail(origin, f"{path}.service", f"no Service named {go(call.service)} in this scenario")
            elif svc.cluster_ip in (None, "None"):
                findings.fail(origin, f"{path}.service", f'Service "{svc.name}" has no ClusterIP to call')
            else:
                _check_port(origin, f"{path}.port", svc, call.port, findings)


def _warn_call_cycles(
    origin: Origin,
    simulation: Simulation,
    services: Sequence[Service],
    deployments: Sequence[Deployment],
    findings: Findings,
) -> None:
    """Calls that lead back to the Deployment that made them: legal in Kubernetes, but a pod can
    end up waiting for a worker it holds itself. Each call then waits its timeout and the
    request answers with an error (docs/semantics.md#calls-between-services)."""
    graph = nx.DiGraph()
    for dep in deployments:
        for call in simulation.workloads[dep.name].calls if dep.name in simulation.workloads else ():
            for svc in services:
                if svc.name == call.service:
                    graph.add_edges_from((dep.name, d.name) for d in deployments if svc.selects(d.labels))
    for cycle in sorted(sorted(c) if len(c) > 1 else c for c in nx.simple_cycles(graph)):
        loop = " → ".join([*cycle, cycle[0]])
        findings.warn(
            origin,
            f"spec.workloads: calls form a cycle ({loop}): a request can wait for a call that waits for a "
            "worker of its own pods; each call gives up after its timeout and the request answers with an error",
        )
