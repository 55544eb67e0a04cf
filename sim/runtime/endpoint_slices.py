"""A Service port's endpoints as the EndpointSlice controller publishes them, and the rules
kube-proxy programs from them (docs/semantics.md#endpoint-lifecycle-and-propagation).

Endpoints are the pods that are scheduled and not gone, that the Service's selector matches
and whose ``targetPort`` resolves (a named port must be one of the pod's container ports),
in name order, each with its ``ready`` and ``serving`` conditions; each node's kube-proxy
then decides which it may use (:mod:`sim.runtime.dataplane`).
"""

from __future__ import annotations

from sim.kube.service import Service, ServicePort
from sim.runtime.dataplane import EndpointInfo, Rules
from sim.runtime.pods import Pod

__all__ = ["EndpointSlices", "service_ports"]


def _name(pod: Pod) -> str:
    return pod.name


def service_ports(services: tuple[Service, ...] | list[Service]) -> list[tuple[Service, ServicePort]]:
    """Every (Service, port) pair: the unit kube-proxy programs rules for, in a fixed order."""
    return [(svc, port) for svc in services for port in svc.ports]


class EndpointSlices:
    """Endpoints of every Service port, computed from the pods that are live now."""

    def __init__(
        self,
        ports: list[tuple[Service, ServicePort]],
        named_ports: dict[str, set[str]],
        zones: list[str | None],
        live: dict[int, Pod],
    ) -> None:
        self.ports = ports
        self._named_ports = named_ports  # Deployment -> its container port names
        self._zones = zones  # node index -> zone label
        self._live = live  # pods not gone, by index (shared with the control plane)
        self._selected: dict[tuple[int, str], bool] = {}  # (port, Deployment) -> its pods are endpoints

    def endpoints(self, port: int) -> list[Pod]:
        return sorted((p for p in self._live.values() if p.node is not None and self._selects(port, p)), key=_name)

    def _selects(self, port: int, pod: Pod) -> bool:
        """Whether the port's Service selects ``pod`` and its targetPort resolves in it: the same
        for every pod of a Deployment (they share labels and ports), so asked once per Deployment."""
        key = (port, pod.deployment)
        found = self._selected.get(key)
        if found is None:
            svc, service_port = self.ports[port]
            target = service_port.target_port
            found = svc.selects(pod.labels) and (
                not isinstance(target, str) or target in self._named_ports[pod.deployment]
            )
            self._selected[key] = found
        return found

    def rules(self, port: int) -> Rules:
        """What kube-proxy programs for a Service port, from its endpoints now."""
        svc, _ = self.ports[port]
        infos = tuple(
            EndpointInfo(p.index, p.node, self._zones[p.node], p.ready, p.serving)
            for p in self.endpoints(port)
            if p.node is not None
        )
        return Rules(
            endpoints=infos,
            external_local=svc.external_traffic_policy == "Local",
            internal_local=svc.internal_traffic_policy == "Local",
            distribution=svc.traffic_distribution,
            affinity_timeout_s=svc.affinity_timeout_s if svc.session_affinity == "ClientIP" else None,
        )

    def first_ready(self, port: int) -> Pod | None:
        """The first Ready pod of the Service by name (a ``via: podIP`` client's target)."""
        return next((p for p in self.endpoints(port) if p.ready), None)

    def ready_pods(self, port: int) -> list[int]:
        """Ready endpoints' pod indices (what a balancer sending to pod IPs targets)."""
        return [p.index for p in self.endpoints(port) if p.ready]
