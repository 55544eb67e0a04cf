"""The cluster as a networkx graph: who can reach whom, and at what latency.

Vertices are clients, nodes, pods and Services, each with its kind and IP; edges carry
the one-way ``latency`` (a :class:`~sim.distributions.Distribution`). An external client
reaches node IPs only, because pod IPs are not routable from outside the cluster
(docs/semantics.md#addresses); a client on a node shares that node's vertex
links. Nodes form a full mesh; a pod hangs off its node (veth, no cost). Services link
to the pods they select (for drawing and inspection; the dataplane does the routing).

Every node-to-node link has the one law ``nodeToNode`` and every external client's link to a
node the one law ``clientToNode``, so those links are not stored as edges (10 000 nodes
would make 50 million of them): :meth:`Topology.link` answers them from the two laws, kept
in the graph's attributes (``graph.graph["node_to_node"]``, ``["client_to_node"]``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import networkx as nx

from sim.distributions import Constant, Distribution

if TYPE_CHECKING:
    from sim.scenario.resolved import Scenario

__all__ = ["Topology"]

ZERO = Constant(0.0)


class Topology:
    """Graph of the cluster; vertex ids are ``kind/name`` (``node/node-1``, ``pod/web-…``)."""

    def __init__(self, scenario: Scenario) -> None:
        sim = scenario.simulation
        net = sim.cluster.network
        g: nx.Graph = nx.Graph(node_to_node=net.node_to_node, client_to_node=net.client_to_node)
        initial = len(sim.cluster.nodes)
        for i, node in enumerate(sim.cluster.slots):
            # ``autoscaled``: a cluster autoscaler's node, in the cluster only while it is added
            g.add_node(
                f"node/{node.name}",
                kind="node",
                name=node.name,
                ip=node.ip,
                index=i,
                labels=dict(node.labels),
                autoscaled=i >= initial,
            )
        for svc in scenario.services:
            g.add_node(
                f"service/{svc.name}",
                kind="service",
                name=svc.name,
                ip=svc.cluster_ip,
                type=svc.type,
                ports=[p.kubectl() for p in svc.ports],
            )
        for client in sim.clients:
            vid = f"client/{client.name}"
            g.add_node(vid, kind="client", name=client.name, ip=client.ip, location=client.location)
            if client.location != "external":
                g.add_edge(vid, f"node/{client.location}", latency=ZERO)
            g.add_edge(vid, f"service/{client.target.service}", kind="targets", via=client.target.via)
        self.graph = g
        self._services = scenario.services

    def add_pod(self, name: str, ip: str | None, deployment: str, node: str | None, labels: dict[str, str]) -> None:
        """A pod was created: a vertex inside its node, linked to the Services selecting it."""
        vid = f"pod/{name}"
        self.graph.add_node(vid, kind="pod", name=name, ip=ip, deployment=deployment, node=node)
        if node is not None:
            self.graph.add_edge(vid, f"node/{node}", latency=ZERO)
        for svc in self._services:
            if svc.selects(labels):
                self.graph.add_edge(f"service/{svc.name}", vid, kind="selects")

    def bind_pod(self, name: str, ip: str, node: str) -> None:
        """A Pending pod was scheduled: it gets its IP and sits inside ``node``."""
        vid = f"pod/{name}"
        self.graph.nodes[vid].update(ip=ip, node=node)
        self.graph.add_edge(vid, f"node/{node}", latency=ZERO)

    def link(self, a: str, b: str) -> Distribution:
        """Latency of the direct link from vertex ``a`` to ``b`` (zero for the same vertex).

        Raises ``KeyError`` if there is no such link (a pod IP from outside the cluster).
        """
        if a == b:
            return ZERO
        g = self.graph
        kinds = {g.nodes[a]["kind"], g.nodes[b]["kind"]}
        if kinds == {"node"}:
            return g.graph["node_to_node"]
        if kinds == {"node", "client"}:
            client = a if g.nodes[a]["kind"] == "client" else b
            if g.nodes[client]["location"] == "external":
                return g.graph["client_to_node"]
        return g.edges[a, b]["latency"]

    def client_link(self, client: str, node: str) -> Distribution:
        """Latency from a client to a node's IP: direct for external clients, else via its node."""
        data = self.graph.nodes[f"client/{client}"]
        if data["location"] == "external":
            return self.link(f"client/{client}", f"node/{node}")
        return self.link(f"node/{data['location']}", f"node/{node}")
