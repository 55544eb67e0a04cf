"""Loading a scenario: one multi-document YAML file of real manifests plus one Simulation.

``load_scenario`` reads the file, validates every document (Kubernetes objects with the
API server's wording, the Simulation document strictly), checks the references between
them, and resolves what Kubernetes would fill in: node and client IPs, ClusterIPs and
nodePorts. The result is a frozen :class:`Scenario`; all problems are reported at once
as a :class:`~sim.errors.ScenarioError`.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sim.errors import Problem, ScenarioError
from sim.kube.addresses import ClusterIPAllocator, NodePortAllocator, RangeFull
from sim.kube.deployment import Deployment, parse_deployment
from sim.kube.service import Service, parse_service
from sim.kube.validation import go_map
from sim.randomness import Streams
from sim.scenario.field_reader import FieldReader
from sim.scenario.simulation import Client, Node, Simulation
from sim.scenario.simulation_parser import duration_problems, health_check_problems, parse_simulation, well_known_labels
from sim.scenario.yaml_reader import json_type, read_documents

__all__ = ["Scenario", "load_scenario"]

SIMULATION_API = "svcsim/v1alpha1"
API_VERSIONS = {"Service": "v1", "Deployment": "apps/v1", "Simulation": SIMULATION_API}


@dataclass(frozen=True)
class Scenario:
    """A checked scenario: the Simulation plus the Services and Deployments it runs."""

    source: str
    simulation: Simulation
    services: tuple[Service, ...]
    deployments: tuple[Deployment, ...]
    warnings: tuple[str, ...] = ()
    other_documents: tuple[dict[str, Any], ...] = field(default=(), repr=False)

    def service(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)

    def deployment(self, name: str) -> Deployment:
        return next(d for d in self.deployments if d.name == name)

    def with_overrides(self, *, seed: int | None = None, duration_s: float | None = None) -> Scenario:
        """The same scenario with a different seed or duration (the CLI's --seed, --duration)."""
        sim = self.simulation
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
                raise ScenarioError([Problem(self.source, "", "--seed", f"Invalid value: {seed}: must be >= 0")])
            sim = dataclasses.replace(sim, seed=seed)
        if duration_s is not None:
            if duration_s <= sim.warmup_s:
                raise ScenarioError(
                    [Problem(self.source, "", "--duration", f"must be longer than spec.warmup ({sim.warmup_s:g}s)")]
                )
            sim = dataclasses.replace(sim, duration_s=float(duration_s))
            too_long = duration_problems(sim.duration_s, sim.clients, "--duration")
            too_long += health_check_problems(sim, self.services, "--duration")
            if too_long:
                raise ScenarioError([Problem(self.source, "", path, message) for path, message in too_long])
        return dataclasses.replace(self, simulation=sim)

    def to_yaml(self) -> str:
        """The resolved scenario: every document with Kubernetes' and svcsim's defaults filled in."""
        docs: list[dict[str, Any]] = [_service_manifest(s) for s in self.services]
        docs += [_deployment_manifest(d) for d in self.deployments]
        docs += list(self.other_documents)
        docs.append(self.simulation.to_manifest())
        return yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False)


def load_scenario(source: str | os.PathLike[str]) -> Scenario:
    """Load and check a scenario from a file path or from YAML text.

    Parameters
    ----------
    source : path or str
        A path to a ``.yaml`` file, or the YAML text itself (anything containing a newline).

    Raises
    ------
    ScenarioError
        With one line per problem, naming file, document and field.

    Examples
    --------
    >>> import sim
    >>> scenario = sim.load_scenario("scenarios/nodeport-basic.yaml")  # doctest: +SKIP
    >>> scenario.service("myapp-service").ports[0].kubectl()  # doctest: +SKIP
    '80:30008/TCP'
    """
    if isinstance(source, os.PathLike) or (isinstance(source, str) and "\n" not in source):
        name = str(source)
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as err:
            raise ScenarioError([Problem(name, "", "", f"cannot read file: {err.strerror}")]) from None
        except UnicodeDecodeError as err:
            byte = err.object[err.start]
            message = f"cannot read file: not UTF-8 text (byte 0x{byte:02x} at offset {err.start})"
            raise ScenarioError([Problem(name, "", "", message)]) from None
    else:
        name, text = "<string>", str(source)
    return _Loader(name).load(text)


class _Loader:
    def __init__(self, name: str) -> None:
        self.name = name
        self.problems: list[Problem] = []
        self.warnings: list[str] = []
        self.where: dict[str, str] = {}  # "Kind/name" -> the document's label, for later problems

    def fail(self, document: str, path: str, message: str) -> None:
        self.problems.append(Problem(self.name, document, path, message))

    def _add_object(self, kind: str, parse: Any, doc: dict[str, Any], number: int, line: int, items: list[Any]) -> None:
        """Parse one Kubernetes object, report its problems under its document, keep it if valid."""
        meta: dict[str, Any] = doc["metadata"] if isinstance(doc.get("metadata"), dict) else {}
        label = f'document {number} (line {line}): The {kind} "{meta.get("name", "")}" is invalid'
        obj, field_errors = parse(doc)
        for fe in field_errors:
            self.fail(label, fe.path, fe.detail)
        if obj is None:
            return
        # Services are named in later allocation problems as the API server names them.
        self.where[f"{kind}/{obj.name}"] = (
            label if kind == "Service" else f'document {number} (line {line}): {kind} "{obj.name}"'
        )
        if any(item.name == obj.name for item in items):
            self.fail(label, "metadata.name", f'Duplicate value: "{obj.name}": a {kind} with this name comes earlier')
        items.append(obj)

    def load(self, text: str) -> Scenario:
        docs = self._documents(text)
        services: list[Service] = []
        deployments: list[Deployment] = []
        others: list[dict[str, Any]] = []
        simulation: tuple[str, Simulation] | None = None
        simulation_ok = False
        where = self.where
        for number, line, doc in docs:
            kind, api = doc.get("kind"), doc.get("apiVersion")
            meta: dict[str, Any] = doc["metadata"] if isinstance(doc.get("metadata"), dict) else {}
            label = f"document {number} (line {line})"
            if not self._type_meta_ok(label, doc):
                continue
            if kind == "Simulation" and api == SIMULATION_API:
                label = f'document {number} (Simulation "{meta.get("name", "")}", line {line})'
                if simulation is not None:
                    self.fail(label, "kind", f"a scenario has exactly one Simulation; the first is {simulation[0]}")
                    continue
                fields = FieldReader()
                parsed = parse_simulation(doc, fields)
                for path, message in fields.problems:
                    self.fail(label, path, message)
                simulation = (label, parsed)
                simulation_ok = not fields.problems
            elif kind == "Service" and api == "v1":
                self._add_object("Service", parse_service, doc, number, line, services)
            elif kind == "Deployment" and api == "apps/v1":
                self._add_object("Deployment", parse_deployment, doc, number, line, deployments)
            elif kind in API_VERSIONS:
                self.fail(
                    label, "apiVersion", f'Unsupported value: {_quote(api)}: supported values: "{API_VERSIONS[kind]}"'
                )
            else:
                others.append(doc)
                self.warnings.append(f"{self.name}: {label}: kind {kind!r} is not simulated and is ignored")
        if simulation is None:
            if not self.problems:
                self.fail("", "", f"no Simulation document (apiVersion: {SIMULATION_API}, kind: Simulation)")
            raise ScenarioError(self.problems)
        sim_label, sim = simulation
        clean = not self.problems
        if simulation_ok:
            # nodePort and ClusterIP conflicts belong with the other Service errors, so they are
            # looked for whenever the cluster's ranges are known, even if other documents failed.
            services = self._resolve_services(sim, services, where)
        if clean:
            sim = self._resolve_cluster(sim_label, sim)
            self._cross_check(sim_label, sim, services, deployments)
        if self.problems:
            # In file order: a Service's allocation conflicts are found after every document is read.
            raise ScenarioError(sorted(self.problems, key=_document_number))
        return Scenario(self.name, sim, tuple(services), tuple(deployments), tuple(self.warnings), tuple(others))

    def _type_meta_ok(self, label: str, doc: dict[str, Any]) -> bool:
        """apiVersion and kind must be strings, or kubectl cannot even decode the object."""
        ok = True
        for key in ("apiVersion", "kind"):
            value = doc.get(key)
            if value is not None and not isinstance(value, str):
                self.fail(
                    label,
                    key,
                    f"cannot unmarshal {json_type(value)} into Go struct field TypeMeta.{key} of type string",
                )
                ok = False
        return ok

    def _documents(self, text: str) -> list[tuple[int, int, dict[str, Any]]]:
        """Each non-empty document with its number and first line (YAML problems raise at once)."""
        out = []
        for number, line, doc in read_documents(self.name, text):
            if not isinstance(doc, dict):
                self.fail(f"document {number} (line {line})", "", "must be a mapping with apiVersion and kind")
                continue
            out.append((number, line, doc))
        return out

    def _resolve_cluster(self, label: str, sim: Simulation) -> Simulation:
        """Give nodes without an IP addresses from nodeCIDR (.2 upward) and clients theirs; label the nodes.

        Every node gets the well-known labels the kubelet sets, under the user's own.
        """
        cluster = sim.cluster
        used = {n.ip for n in cluster.nodes if n.ip} | {c.ip for c in sim.clients if c.ip}
        hosts = (str(h) for h in cluster.node_cidr.hosts() if int(h) - int(cluster.node_cidr.network_address) >= 2)
        nodes = []
        for node in cluster.nodes:
            ip = node.ip
            if ip is None:
                ip = next((h for h in hosts if h not in used), None)
                if ip is None:
                    self.fail(
                        label, "spec.cluster.nodeCIDR", f"{cluster.node_cidr} has no address left for {node.name}"
                    )
                    return sim
            nodes.append(Node(node.name, ip, {**well_known_labels(node.name), **node.labels}))
        ips = [n.ip for n in nodes]
        for i, ip in enumerate(ips):
            if ip in ips[:i]:
                self.fail(label, f"spec.cluster.nodes[{i}].ip", f'Duplicate value: "{ip}"')
        node_ip = {n.name: n.ip for n in nodes}
        # External clients take free node-network addresses from .10 upward (the guide's laptop).
        spare = (str(h) for h in cluster.node_cidr.hosts() if int(h) - int(cluster.node_cidr.network_address) >= 10)
        clients = []
        taken = set(ips) | used
        for i, client in enumerate(sim.clients):
            ip = client.ip
            if client.location in node_ip:
                if ip is not None and ip != node_ip[client.location]:
                    self.fail(
                        label,
                        f"spec.clients[{i}].ip",
                        f"a client on {client.location} uses the node's IP {node_ip[client.location]}",
                    )
                ip = node_ip[client.location]
            elif ip is None:
                ip = next((h for h in spare if h not in taken), None)
            elif ip in ips:
                self.fail(label, f"spec.clients[{i}].ip", f'Invalid value: "{ip}": already the IP of a node')
            if ip is not None:
                first = ipaddress.IPv4Address(ip)
                taken.update(str(first + k) for k in range(client.ips) if int(first) + k < 2**32)
            clients.append(dataclasses.replace(client, ip=ip))
        cluster = dataclasses.replace(cluster, nodes=tuple(nodes))
        return dataclasses.replace(sim, cluster=cluster, clients=tuple(clients))

    def _resolve_services(self, sim: Simulation, services: list[Service], where: dict[str, str]) -> list[Service]:
        """Allocate ClusterIPs and nodePorts: user-given values first, then automatic ones."""
        streams = Streams(sim.seed or 0)
        ips = ClusterIPAllocator(sim.cluster.service_cidr, streams.generator("ipam/cluster-ip"))
        ports = NodePortAllocator(*sim.cluster.node_port_range, streams.generator("ipam/node-port"))
        for svc in services:
            if svc.cluster_ip not in (None, "None"):
                detail = ips.reserve(str(svc.cluster_ip))
                if detail:
                    self.fail(where[f"Service/{svc.name}"], "spec.clusterIP", detail)
            for i, port in enumerate(svc.ports):
                if port.node_port is not None:
                    detail = ports.reserve(port.node_port)
                    if detail:
                        self.fail(where[f"Service/{svc.name}"], f"spec.ports[{i}].nodePort", detail)
            if svc.health_check_node_port is not None:
                detail = ports.reserve(svc.health_check_node_port)
                if detail:
                    self.fail(where[f"Service/{svc.name}"], "spec.healthCheckNodePort", detail)
        pool = (str(h) for h in sim.cluster.load_balancer.ip_pool.hosts())
        resolved = []
        for svc in services:
            # A failed allocation is reported on its field; the Service stays in the list so
            # that clients naming it do not get a second, misleading "no Service" error.
            cluster_ip = svc.cluster_ip
            if cluster_ip is None and svc.type != "ExternalName":  # an ExternalName is only a DNS alias
                try:
                    cluster_ip = ips.allocate()
                except RangeFull as err:
                    self.fail(where[f"Service/{svc.name}"], "spec.clusterIP", str(err))
            new_ports = []
            for i, port in enumerate(svc.ports):
                node_port = port.node_port
                if svc.has_node_ports and node_port is None:
                    try:
                        node_port = ports.allocate()
                    except RangeFull as err:
                        self.fail(where[f"Service/{svc.name}"], f"spec.ports[{i}].nodePort", str(err))
                new_ports.append(dataclasses.replace(port, node_port=node_port))
            health = svc.health_check_node_port
            if health is None and svc.needs_health_check_port:
                try:
                    health = ports.allocate()
                except RangeFull as err:
                    self.fail(where[f"Service/{svc.name}"], "spec.healthCheckNodePort", str(err))
            ingress = _pasted_ingress(svc) or next(pool, None) if svc.type == "LoadBalancer" else None
            resolved.append(
                dataclasses.replace(
                    svc,
                    cluster_ip=cluster_ip,
                    ports=tuple(new_ports),
                    health_check_node_port=health,
                    ingress_ip=ingress,
                )
            )
        return resolved

    def _cross_check(self, label: str, sim: Simulation, services: list[Service], deployments: list[Deployment]) -> None:
        svc_by_name = {s.name: s for s in services}
        dep_names = {d.name for d in deployments}
        node_names = {n.name for n in sim.cluster.nodes}
        for name in sim.workloads:
            if name not in dep_names:
                self.fail(label, f"spec.workloads.{name}", f'no Deployment named "{name}" in this scenario')
        for dep in deployments:
            if dep.name not in sim.workloads:
                self.fail(
                    label,
                    "spec.workloads",
                    f'Required value: Deployment "{dep.name}" needs a performance model '
                    "(serviceTime, concurrency, startupTime)",
                )
        names = [c.name for c in sim.clients]
        for i, client in enumerate(sim.clients):
            path = f"spec.clients[{i}]"
            if client.name in names[:i]:
                self.fail(label, f"{path}.name", f'Duplicate value: "{client.name}"')
            if client.location != "external" and client.location not in node_names:
                self.fail(
                    label,
                    f"{path}.location",
                    f'Invalid value: "{client.location}": must be "external" or a node name '
                    f"({', '.join(sorted(node_names))})",
                )
            for node in client.nodes or ():
                if node not in node_names:
                    self.fail(label, f"{path}.nodes", f'Invalid value: "{node}": no such node')
            self._check_target(label, path, client, svc_by_name)
        self._check_calls(label, sim, svc_by_name)
        for i, event in enumerate(sim.events):
            if event.deployment not in dep_names:
                self.fail(
                    label,
                    f"spec.events[{i}].scale.deployment",
                    f'no Deployment named "{event.deployment}" in this scenario',
                )
        for path, message in health_check_problems(sim, services):
            self.fail(label, path, message)
        for dep in deployments:
            self._warn_unschedulable(sim, dep)

    def _warn_unschedulable(self, sim: Simulation, dep: Deployment) -> None:
        """A pod whose nodeName or nodeSelector fits no node stays Pending: legal, but rarely meant."""
        nodes = sim.cluster.nodes
        where = f"{self.name}: {self.where[f'Deployment/{dep.name}']}"
        if dep.node_name is not None:
            if all(n.name != dep.node_name for n in nodes):
                self.warnings.append(
                    f'{where}: spec.template.spec.nodeName: no node named "{dep.node_name}" '
                    f"(nodes: {', '.join(n.name for n in nodes)}): its pods stay Pending"
                )
        elif not any(all(n.labels.get(k) == v for k, v in dep.node_selector.items()) for n in nodes):
            self.warnings.append(
                f"{where}: spec.template.spec.nodeSelector: no node has the labels {go_map(dep.node_selector)}: "
                f"its pods stay Pending (0/{len(nodes)} nodes are available: {len(nodes)} node(s) didn't match "
                "Pod's node affinity/selector.)"
            )

    def _check_target(self, label: str, path: str, client: Client, svc_by_name: dict[str, Service]) -> None:
        svc = svc_by_name.get(client.target.service)
        if svc is None:
            known = ", ".join(sorted(svc_by_name)) or "none"
            self.fail(
                label,
                f"{path}.target.service",
                f'no Service named "{client.target.service}" in this scenario (Services: {known})',
            )
            return
        via = client.target.via
        if via == "nodePort" and not svc.has_node_ports:
            self.fail(
                label,
                f"{path}.target.via",
                f'Invalid value: "nodePort": Service "{svc.name}" has type {svc.type} and no nodePort',
            )
        if via == "loadBalancer" and svc.type != "LoadBalancer":
            self.fail(
                label, f"{path}.target.via", f'Invalid value: "loadBalancer": Service "{svc.name}" has type {svc.type}'
            )
        if via == "clusterIP" and svc.cluster_ip in (None, "None"):
            self.fail(label, f"{path}.target.via", f'Invalid value: "clusterIP": Service "{svc.name}" has no ClusterIP')
        self._check_port(label, f"{path}.target.port", svc, client.target.port)

    def _check_port(self, label: str, path: str, svc: Service, port: int | str | None) -> None:
        if port is not None and not any(port in (p.port, p.name) for p in svc.ports):
            self.fail(label, path, f'Invalid value: {port!r}: Service "{svc.name}" has no such port')

    def _check_calls(self, label: str, sim: Simulation, svc_by_name: dict[str, Service]) -> None:
        for name, workload in sim.workloads.items():
            for i, call in enumerate(workload.calls):
                path = f"spec.workloads.{name}.calls[{i}]"
                svc = svc_by_name.get(call.service)
                if svc is None:
                    self.fail(label, f"{path}.service", f'no Service named "{call.service}" in this scenario')
                elif svc.cluster_ip in (None, "None"):
                    self.fail(label, f"{path}.service", f'Service "{svc.name}" has no ClusterIP to call')
                else:
                    self._check_port(label, f"{path}.port", svc, call.port)


def _document_number(problem: Problem) -> int:
    match = re.match(r"document (\d+)", problem.document)
    return int(match.group(1)) if match else 0


def _quote(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else "null" if value is None else str(value)


def _pasted_ingress(svc: Service) -> str | None:
    """An ingress IP from a pasted ``status.loadBalancer``, if the user kept one."""
    status = svc.manifest.get("status")
    balancer = status.get("loadBalancer") if isinstance(status, dict) else None
    ingress = balancer.get("ingress") if isinstance(balancer, dict) else None
    for item in ingress if isinstance(ingress, list) else []:
        ip = item.get("ip") if isinstance(item, dict) else None
        if isinstance(ip, str):
            try:
                return str(ipaddress.ip_address(ip))
            except ValueError:
                continue  # the API server ignores status on create; so does svcsim
    return None


def _service_manifest(svc: Service) -> dict[str, Any]:
    doc = _copy(svc.manifest)
    spec = doc.setdefault("spec", {})
    spec["type"] = svc.type
    if svc.cluster_ip is not None:
        spec["clusterIP"] = svc.cluster_ip
        spec["clusterIPs"] = [svc.cluster_ip]
    spec["ports"] = [
        {
            k: v
            for k, v in (
                ("name", p.name),
                ("protocol", p.protocol),
                ("port", p.port),
                ("targetPort", p.target_port),
                ("nodePort", p.node_port),
            )
            if v is not None
        }
        for p in svc.ports
    ]
    spec["sessionAffinity"] = svc.session_affinity
    if svc.session_affinity == "ClientIP":
        spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": int(svc.affinity_timeout_s)}}
    if svc.external_traffic_policy:
        spec["externalTrafficPolicy"] = svc.external_traffic_policy
    spec["internalTrafficPolicy"] = svc.internal_traffic_policy
    if svc.health_check_node_port is not None:
        spec["healthCheckNodePort"] = svc.health_check_node_port
    return doc


def _deployment_manifest(dep: Deployment) -> dict[str, Any]:
    doc = _copy(dep.manifest)
    doc.setdefault("spec", {})["replicas"] = dep.replicas
    return doc


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
