"""Checks between documents: every name the Simulation uses must exist in the scenario.

Workloads and scale events name Deployments; clients and calls name Services, their ports and
how they are reached; clients name nodes. Problems are reported on the Simulation document.
Some things are legal but rarely meant, such as a pod that fits no node: they are warnings.
"""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx

from sim.kube.deployment import Deployment
from sim.kube.service import Service, ServiceType
from sim.kube.validation import go, go_map
from sim.scenario.documents import DeploymentDocument, Findings, Origin
from sim.scenario.run_limits import run_limit_problems
from sim.scenario.simulation import Client, ScaleEvent, Simulation, Via
from sim.scenario.slo_checks import impossible_latency_targets

__all__ = ["cross_check"]


def cross_check(
    simulation: Simulation,
    origin: Origin,
    services: Sequence[Service],
    deployments: Sequence[DeploymentDocument],
    findings: Findings,
) -> None:
    """Report each name the Simulation at ``origin`` uses that the other documents do not define."""
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
    for i, event in enumerate(simulation.events):
        if isinstance(event, ScaleEvent) and event.deployment not in dep_names:
            findings.fail(
                origin,
                f"spec.events[{i}].scale.deployment",
                f"no Deployment named {go(event.deployment)} in this scenario",
            )
    documents = {d.deployment.name: d.origin for d in deployments}
    for problem in run_limit_problems(simulation, services, [d.deployment for d in deployments]):
        findings.fail(documents.get(problem.deployment or "", origin), problem.field, problem.message)
    for document in deployments:
        _warn_unschedulable(simulation, document.deployment, document.origin, findings)
    _warn_call_cycles(origin, simulation, services, [d.deployment for d in deployments], findings)
    for message in impossible_latency_targets(simulation, services, [d.deployment for d in deployments]):
        findings.warn(origin, message)


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
