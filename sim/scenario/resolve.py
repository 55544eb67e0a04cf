"""What Kubernetes fills in once the documents are read: node and client IPs, the kubelet's node
labels, ClusterIPs, nodePorts, healthCheckNodePorts and load-balancer ingress IPs.

Allocation follows :mod:`sim.kube.addresses` (user-given values are reserved first, then the
rest allocated) and draws from the scenario's seed, so the same file always resolves the same
way. Each function returns new frozen objects; what it cannot allocate goes to the findings.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Iterator, Sequence

from sim.kube.addresses import ClusterIPAllocator, NodePortAllocator, RangeFull
from sim.kube.service import Service, ServicePort, ServiceType
from sim.randomness import Streams
from sim.scenario.client_addresses import LAST_IPV4, AddressRanges, client_range_problems
from sim.scenario.documents import Findings, Origin, ServiceDocument
from sim.scenario.simulation import Client, ClusterAutoscaler, Node, Simulation

__all__ = ["resolve_cluster", "resolve_services", "well_known_labels"]


def resolve_cluster(simulation: Simulation, origin: Origin, findings: Findings) -> Simulation:
    """Give nodes without an IP addresses from nodeCIDR (.2 upward) and clients theirs; label the nodes.

    Every node gets the well-known labels the kubelet sets, under the user's own. If the node
    network runs out of addresses, that is reported and ``simulation`` is returned unchanged.
    Clients' address ranges are checked against the nodes and the cluster's networks.
    """
    cluster = simulation.cluster
    taken = AddressRanges()  # given node IPs and given client ranges: automatic IPs avoid them
    for node in cluster.nodes:
        if node.ip:
            taken.add(int(ipaddress.IPv4Address(node.ip)), int(ipaddress.IPv4Address(node.ip)))
    for client in simulation.clients:
        if client.ip:
            first = int(ipaddress.IPv4Address(client.ip))
            last = first if client.location != "external" else min(first + client.ips - 1, LAST_IPV4)
            taken.add(first, last)
    hosts = (h for h in cluster.node_cidr.hosts() if int(h) - int(cluster.node_cidr.network_address) >= 2)
    nodes = []
    for node in cluster.nodes:
        ip = node.ip
        if ip is None:
            free = next((h for h in hosts if taken.first_taken(int(h), int(h)) is None), None)
            if free is None:
                findings.fail(
                    origin, "spec.cluster.nodeCIDR", f"{cluster.node_cidr} has no address left for {node.name}"
                )
                return simulation
            ip = str(free)
        nodes.append(Node(node.name, ip, {**well_known_labels(node.name), **node.labels}, node.allocatable))
    ips = [n.ip for n in nodes]
    for i, ip in enumerate(ips):
        if ip in ips[:i]:
            findings.fail(origin, f"spec.cluster.nodes[{i}].ip", f'Duplicate value: "{ip}"')
    for node in nodes:
        taken.add(int(ipaddress.IPv4Address(node.ip)), int(ipaddress.IPv4Address(node.ip)))
    clients = _client_ips(simulation, nodes, taken, origin, findings)
    autoscaler = cluster.autoscaler
    if autoscaler is not None:
        slots = _autoscaler_slots(autoscaler, nodes, hosts, taken)
        if slots is None:
            findings.fail(
                origin,
                "spec.cluster.nodeCIDR",
                f"{cluster.node_cidr} has no address left for the cluster autoscaler's nodes "
                f"(spec.cluster.autoscaler.maxNodes: {autoscaler.max_nodes})",
            )
            return simulation
        autoscaler = dataclasses.replace(autoscaler, slots=tuple(slots))
    return dataclasses.replace(
        simulation,
        cluster=dataclasses.replace(cluster, nodes=tuple(nodes), autoscaler=autoscaler),
        clients=tuple(clients),
    )


def _autoscaler_slots(
    autoscaler: ClusterAutoscaler, nodes: list[Node], hosts: Iterator[ipaddress.IPv4Address], taken: AddressRanges
) -> list[Node] | None:
    """The nodes a cluster autoscaler may add, in the order it adds them: the template's name
    prefix numbered on from the scenario's nodes (skipping names in use), the next free node
    IPs after the scenario's nodes and clients, the template's labels over the well-known ones.
    None when the node network runs out."""
    names = {n.name for n in nodes}
    template = autoscaler.template
    slots: list[Node] = []
    k = len(nodes)
    while len(nodes) + len(slots) < autoscaler.max_nodes:
        k += 1
        name = f"{template.name_prefix}{k}"
        if name in names:
            continue
        free = next((h for h in hosts if taken.first_taken(int(h), int(h)) is None), None)
        if free is None:
            return None
        taken.add(int(free), int(free))
        names.add(name)
        slots.append(Node(name, str(free), {**well_known_labels(name), **template.labels}, template.allocatable))
    return slots


def well_known_labels(node: str) -> dict[str, str]:
    """The labels the kubelet puts on every Node (kubernetes.io/docs/reference/labels-annotations-taints/).

    svcsim's nodes are linux/amd64, so a pasted ``nodeSelector: {kubernetes.io/os: linux}`` schedules.
    """
    return {"kubernetes.io/arch": "amd64", "kubernetes.io/hostname": node, "kubernetes.io/os": "linux"}


def _client_ips(
    simulation: Simulation, nodes: list[Node], taken: AddressRanges, origin: Origin, findings: Findings
) -> list[Client]:
    """A client on a node uses the node's IP; external clients without an ``ip`` take the first
    block of ``ips`` free addresses from .10 of the node network upward (the guide's laptop).
    Every client's range is then checked (:func:`client_range_problems`)."""
    cluster = simulation.cluster
    node_cidr = cluster.node_cidr
    node_ip = {n.name: str(n.ip) for n in nodes}
    networks = (
        ("the pod network", "spec.cluster.podCIDR", cluster.pod_cidr),
        ("the Service network", "spec.cluster.serviceCIDR", cluster.service_cidr),
    )
    spare_from = int(node_cidr.network_address) + 10
    spare_to = int(node_cidr.broadcast_address) - 1  # the first address must be a host of the node network
    clients = []
    for i, client in enumerate(simulation.clients):
        path = f"spec.clients[{i}]"
        ip, own_node = client.ip, None
        if client.location in node_ip:
            own_node = client.location
            if ip is not None and ip != node_ip[own_node]:
                findings.fail(origin, f"{path}.ip", f"a client on {own_node} uses the node's IP {node_ip[own_node]}")
            ip = node_ip[own_node]
        elif ip is None:
            start = taken.free_block(spare_from, client.ips, spare_to)
            if start is None:
                findings.fail(
                    origin,
                    f"{path}.ip",
                    f"Required value: {node_cidr} has no {client.ips} free addresses in a row from .10 upward "
                    "for this client; give it an ip",
                )
                clients.append(client)
                continue
            ip = str(ipaddress.IPv4Address(start))
        first = ipaddress.IPv4Address(ip)
        for field, message in client_range_problems(
            first, client.ips, own_node=own_node, node_ips=node_ip, networks=networks
        ):
            findings.fail(origin, f"{path}.{field}", message)
        taken.add(int(first), min(int(first) + client.ips - 1, LAST_IPV4))
        clients.append(dataclasses.replace(client, ip=ip))
    return clients


def resolve_services(
    simulation: Simulation, documents: Sequence[ServiceDocument], findings: Findings
) -> tuple[Service, ...]:
    """Allocate ClusterIPs and nodePorts: user-given values first, then automatic ones.

    A failed allocation is reported on its field; the Service is still returned, so that
    clients naming it do not get a second, misleading "no Service" error.
    """
    streams = Streams(simulation.seed or 0)
    cluster = simulation.cluster
    ips = ClusterIPAllocator(cluster.service_cidr, streams.generator("ipam/cluster-ip"))
    ports = NodePortAllocator(*cluster.node_port_range, streams.generator("ipam/node-port"))
    # By name, as the API server names objects (a name given twice is an error of its own).
    origin = {d.service.name: d.origin for d in documents}
    services = [d.service for d in documents]
    for svc in services:
        _reserve_requested(svc, ips, ports, origin[svc.name], findings)
    pool = (str(h) for h in cluster.load_balancer.ip_pool.hosts())
    return tuple(_allocate(svc, ips, ports, pool, origin[svc.name], findings) for svc in services)


def _reserve_requested(
    svc: Service, ips: ClusterIPAllocator, ports: NodePortAllocator, origin: Origin, findings: Findings
) -> None:
    """Claim the ClusterIP, nodePorts and healthCheckNodePort the user wrote, reporting conflicts."""
    if svc.cluster_ip not in (None, "None"):
        detail = ips.reserve(str(svc.cluster_ip))
        if detail:
            findings.fail(origin, "spec.clusterIP", detail)
    for i, port in enumerate(svc.ports):
        if port.node_port is not None:
            detail = ports.reserve(port.node_port)
            if detail:
                findings.fail(origin, f"spec.ports[{i}].nodePort", detail)
    if svc.health_check_node_port is not None:
        detail = ports.reserve(svc.health_check_node_port)
        if detail:
            findings.fail(origin, "spec.healthCheckNodePort", detail)


def _allocate(
    svc: Service,
    ips: ClusterIPAllocator,
    ports: NodePortAllocator,
    pool: Iterator[str],
    origin: Origin,
    findings: Findings,
) -> Service:
    """The Service with what it did not ask for allocated: ClusterIP, nodePorts, health-check port, ingress IP."""
    cluster_ip = svc.cluster_ip
    if cluster_ip is None and svc.type != ServiceType.EXTERNAL_NAME:  # an ExternalName is only a DNS alias
        try:
            cluster_ip = ips.allocate()
        except RangeFull as err:
            findings.fail(origin, "spec.clusterIP", str(err))
    new_ports: list[ServicePort] = []
    for i, port in enumerate(svc.ports):
        node_port = port.node_port
        if svc.has_node_ports and node_port is None:
            try:
                node_port = ports.allocate()
            except RangeFull as err:
                findings.fail(origin, f"spec.ports[{i}].nodePort", str(err))
        new_ports.append(dataclasses.replace(port, node_port=node_port))
    health = svc.health_check_node_port
    if health is None and svc.needs_health_check_port:
        try:
            health = ports.allocate()
        except RangeFull as err:
            findings.fail(origin, "spec.healthCheckNodePort", str(err))
    ingress = _pasted_ingress(svc) or next(pool, None) if svc.type == ServiceType.LOAD_BALANCER else None
    return dataclasses.replace(
        svc, cluster_ip=cluster_ip, ports=tuple(new_ports), health_check_node_port=health, ingress_ip=ingress
    )


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
