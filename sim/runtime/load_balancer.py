"""The cloud load balancer in front of a ``type: LoadBalancer`` Service.

It spreads connections over the nodes in its rotation (at random, or round-robin), each
reached on the Service's nodePort, or, with ``allocateLoadBalancerNodePorts: false``,
straight over the pods' IPs. Which nodes are in rotation comes from health checks every
``healthCheckInterval``: with ``externalTrafficPolicy: Local`` the balancer probes the
``healthCheckNodePort``, where kube-proxy answers 200 only if the node has a local
endpoint (``{"localEndpoints": N}``, else 503), so nodes without one leave the rotation
at the next check (docs/semantics.md#load-balancers). With policy Cluster every node is healthy.
If no node passes, the balancer fails open and uses them all, as AWS and GCP network
balancers do. Until the balancer is provisioned the Service has no ingress IP and
connections to it go unanswered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import simpy

from sim.endpoint_choice import BALANCER_ALGORITHMS, ChoiceContext, Connection
from sim.kube.service import Service
from sim.randomness import BlockStream
from sim.runtime.dataplane import Dataplane
from sim.scenario.simulation import LoadBalancer

__all__ = ["LoadBalancerRuntime", "health_checks"]

_NO_CONNECTION = Connection(0, 0, -1)  # the balancer's algorithms look at no address


class LoadBalancerRuntime:
    """One Service's balancer: its ingress IP, its rotation and its choice."""

    def __init__(
        self,
        service: Service,
        ports: list[int],
        spec: LoadBalancer,
        ingress_ip: str,
        n_nodes: int,
        draws: BlockStream,
        latency_out: BlockStream,
        latency_back: BlockStream,
    ) -> None:
        self.service = service
        self.ports = ports  # the Service's port indices
        self.spec = spec
        self.ingress_ip = ingress_ip
        # A status pasted from a live cluster means the balancer already exists.
        pasted = (service.manifest.get("status") or {}) if isinstance(service.manifest.get("status"), dict) else {}
        self.provisioned_at = 0.0 if (pasted.get("loadBalancer") or {}).get("ingress") else spec.provisioning_delay_s
        self.direct = not service.allocate_load_balancer_node_ports and not any(p.node_port for p in service.ports)
        self.rotation: list[int] = list(range(n_nodes))
        self.targets: dict[int, list[int]] = {p: [] for p in ports}  # direct mode: pods per port
        self.choice = BALANCER_ALGORITHMS[spec.algorithm](ChoiceContext(draws, lambda pod: 0))
        self.latency_out = latency_out
        self.latency_back = latency_back
        self._all_nodes = list(range(n_nodes))

    def _pick(self, choices: list[int]) -> int:
        return self.choice.choose(choices, _NO_CONNECTION)

    def choose_node(self) -> int:
        """The node a new connection is sent to (failing open to every node in the cluster)."""
        return self._pick(self.rotation or self._all_nodes)

    def choose_pod(self, port: int) -> int:
        """Direct mode: the pod a new connection is sent to, or -1 if there is none."""
        targets = self.targets[port]
        return self._pick(targets) if targets else -1

    def routed_pods(self) -> set[int]:
        """Pods the balancer sends to directly (with ``allocateLoadBalancerNodePorts: false``)."""
        return {pod for pods in self.targets.values() for pod in pods}

    def healthy_nodes(self, dataplanes: list[Dataplane]) -> list[int]:
        """Nodes passing the health check now: with policy Local, kube-proxy's
        healthCheckNodePort answers 200 only while the node has a local *ready* endpoint
        (terminating ones still serve, but the balancer drains the node)."""
        if self.service.external_traffic_policy != "Local":
            return [plane.node for plane in dataplanes if not plane.down]
        return [plane.node for plane in dataplanes if not plane.down and any(plane.local_ready[p] for p in self.ports)]

    def present_nodes(self, dataplanes: list[Dataplane]) -> list[int]:
        """The nodes in the cluster: the balancer's targets (a cluster autoscaler's node joins
        them when it is added and leaves when it is deleted)."""
        return [plane.node for plane in dataplanes if plane.present]


def health_checks(
    env: simpy.Environment,
    lb: LoadBalancerRuntime,
    dataplanes: list[Dataplane],
    ready_targets: Callable[[int], list[int]],
    catch_up: Callable[[], None],
    record: Callable[[str], None],
    node_names: list[str],
    released: Callable[[float], None],
) -> Any:
    """SimPy process: probe every ``healthCheckInterval`` and update the rotation."""
    lb.rotation = lb.healthy_nodes(dataplanes)
    lb._all_nodes = lb.present_nodes(dataplanes)
    for port in lb.ports:
        lb.targets[port] = ready_targets(port)
    while True:
        yield env.timeout(lb.spec.health_check_interval_s)
        healthy = lb.healthy_nodes(dataplanes)
        lb._all_nodes = lb.present_nodes(dataplanes)
        targets = {port: ready_targets(port) for port in lb.ports}
        if healthy != lb.rotation or targets != lb.targets:
            catch_up()
            changed = healthy != lb.rotation
            lb.rotation, lb.targets = healthy, targets
            if changed:
                record(",".join(node_names[i] for i in healthy) or "<none>")
            released(env.now)  # pods it no longer sends to may finish and go
