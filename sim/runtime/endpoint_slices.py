"""A Service port's endpoints as the EndpointSlice controller publishes them, and the rules
kube-proxy programs from them (docs/semantics.md#endpoint-lifecycle-and-propagation).

Endpoints are the pods that are scheduled and not gone, that the Service's selector matches
and whose ``targetPort`` resolves (a named port must be one of the pod's container ports),
in name order, each with its ``ready`` and ``serving`` conditions; each node's kube-proxy
then decides which it may use (:mod:`sim.runtime.dataplane`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from sim.kube.service import Service, ServicePort
from sim.runtime.dataplane import Rules
from sim.runtime.pods import Pod

__all__ = ["EndpointSlices", "service_ports"]


def _name(pod: Pod) -> tuple[str, int]:
    """Name order; equal names (never in a run: names are unique) by creation, as a stable sort
    of the live pods gives, whenever each pod entered the list."""
    return pod.name, pod.index


def service_ports(services: tuple[Service, ...] | list[Service]) -> list[tuple[Service, ServicePort]]:
    """Every (Service, port) pair: the unit kube-proxy programs rules for, in a fixed order."""
    return [(svc, port) for svc in services for port in svc.ports]


def _frozen(values: np.ndarray) -> np.ndarray:
    values.flags.writeable = False  # shared by the rules of every sync that reads them
    return values


class _PortArrays:
    """One port's endpoints as the read-only arrays :class:`Rules` holds (a new array replaces
    one that changes: rules already installed keep theirs)."""

    def __init__(self, endpoints: list[Pod], node_zone: np.ndarray) -> None:
        n = len(endpoints)
        self.endpoints = endpoints  # the list these were made from
        self.position = {p.index: i for i, p in enumerate(endpoints)}
        self.pods = _frozen(np.fromiter((p.index for p in endpoints), np.int64, n))
        self.nodes = _frozen(np.fromiter((p.node for p in endpoints), np.int64, n))
        self.zones = _frozen(node_zone[self.nodes])
        self.ready = _frozen(np.fromiter((p.ready for p in endpoints), bool, n))
        self.serving = _frozen(np.fromiter((p.serving for p in endpoints), bool, n))
        # Endpoint positions on each node, each in name order (a stable sort).
        order = np.argsort(self.nodes, kind="stable")
        nodes, starts = np.unique(self.nodes[order], return_index=True)
        ends = [*starts[1:].tolist(), n][: len(starts)]
        self.on_node = {
            node: _frozen(order[a:b]) for node, a, b in zip(nodes.tolist(), starts.tolist(), ends, strict=True)
        }

    def update(self, pods: Iterable[Pod]) -> None:
        """The conditions of ``pods`` (endpoints of this port) are read again."""
        ready, serving = self.ready.copy(), self.serving.copy()
        for pod in pods:
            i = self.position[pod.index]
            ready[i], serving[i] = pod.ready, pod.serving
        self.ready, self.serving = _frozen(ready), _frozen(serving)


class EndpointSlices:
    """Endpoints of every Service port, kept as pods come, are bound and go.

    Each port's endpoints are a list sorted by pod name, changed only by pods entering or
    leaving it: the changes made between two reads are applied together at the next read
    (a sort of the new pods merged into the sorted list, a filter for the gone ones), so a
    scale event of N pods costs O(N log N) once, not a scan of every live pod per pod.
    A pod's ``ready`` and ``serving`` are read from the pod itself when it joins, and again
    after the control plane :meth:`touch`-es it.
    """

    def __init__(
        self,
        ports: list[tuple[Service, ServicePort]],
        named_ports: dict[str, set[str]],
        zones: list[str | None],
        live: dict[int, Pod],
    ) -> None:
        """``live``: the pods not gone, by index (shared with the control plane), whose bound
        ones are the starting endpoints; later ones arrive through :meth:`add` and :meth:`remove`."""
        self.ports = ports
        self._named_ports = named_ports  # Deployment -> its container port names
        self._zones = zones  # node index -> zone label
        self._selected: dict[tuple[int, str], bool] = {}  # (port, Deployment) -> its pods are endpoints
        self._ports_of: dict[str, list[int]] = {}  # Deployment -> the ports whose endpoints its pods are
        self._endpoints: list[list[Pod]] = [[] for _ in ports]  # per port, by name
        self._added: list[list[Pod]] = [[] for _ in ports]  # per port: joined since the last read
        self._removed: list[set[int]] = [set() for _ in ports]  # per port: left since the last read
        # Zones as codes, for the rules' arrays: node index -> code (-1: no zone label).
        self._zone_codes: dict[str, int] = {}
        for zone in zones:
            if zone is not None:
                self._zone_codes.setdefault(zone, len(self._zone_codes))
        self._node_zone = np.array([-1 if z is None else self._zone_codes[z] for z in zones], dtype=np.int64)
        # Per port: the arrays of the endpoints as last read (remade when the list changes).
        self._arrays: list[_PortArrays | None] = [None] * len(ports)
        self._touched: list[dict[int, Pod]] = [{} for _ in ports]  # per port: conditions changed since
        #: Pods taken in or out of some port's endpoints so far (what a scale event costs here).
        self.changes = 0
        for pod in live.values():
            self.add(pod)

    def add(self, pod: Pod) -> None:
        """A live pod is bound to a node (created on one, or scheduled later): an endpoint of
        the ports that select it."""
        if pod.node is None:
            return
        for port in self._ports(pod):
            self._added[port].append(pod)
            self.changes += 1

    def touch(self, pod: Pod) -> None:
        """``pod``'s ``ready`` or ``serving`` condition may have changed: the control plane calls
        this for every change of its Ready condition or deletion (the only writers of either)."""
        if pod.node is None:
            return
        for port in self._ports(pod):
            self._touched[port][pod.index] = pod

    def remove(self, pod: Pod) -> None:
        """A pod has gone: no longer an endpoint."""
        if pod.node is None:
            return
        for port in self._ports(pod):
            self._removed[port].add(pod.index)
            self.changes += 1

    def _ports(self, pod: Pod) -> list[int]:
        found = self._ports_of.get(pod.deployment)
        if found is None:
            found = self._ports_of[pod.deployment] = [i for i in range(len(self.ports)) if self._selects(i, pod)]
        return found

    def endpoints(self, port: int) -> list[Pod]:
        """The port's endpoints now, by pod name (read-only: the list is kept between calls)."""
        added, removed = self._added[port], self._removed[port]
        if added or removed:
            current = self._endpoints[port]
            if removed:
                current = [p for p in current if p.index not in removed]
                added = [p for p in added if p.index not in removed]
            if added:
                # Both runs sorted: timsort merges them.
                current = current + sorted(added, key=_name)
                current.sort(key=_name)
            self._endpoints[port] = current
            self._added[port] = []
            self._removed[port] = set()
        return self._endpoints[port]

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
        """What kube-proxy programs for a Service port, from its endpoints now.

        The endpoints' pods, nodes and zones are arrays remade only when the endpoints change;
        their ``ready`` and ``serving`` conditions are updated for the pods touched since the
        last read (:meth:`touch`), so a read after one pod's change costs a copy of two arrays.
        """
        svc, _ = self.ports[port]
        endpoints = self.endpoints(port)
        arrays = self._arrays[port]
        touched = self._touched[port]
        if arrays is None or arrays.endpoints is not endpoints:
            arrays = self._arrays[port] = _PortArrays(endpoints, self._node_zone)
        elif touched:
            arrays.update(touched.values())
        touched.clear()
        return Rules(
            pods=arrays.pods,
            nodes=arrays.nodes,
            zones=arrays.zones,
            ready=arrays.ready,
            serving=arrays.serving,
            on_node=arrays.on_node,
            zone_codes=self._zone_codes,
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
