"""Node failures at run time: what stops at once, and what the controllers notice later.

A failed node stops answering at once: SYNs to its nodePort and to its pods go unanswered,
what is in flight through it hangs (:class:`~sim.runtime.requests.outcomes.NodeOutages`),
and its containers are gone. Nobody knows yet: endpoints still route to its pods until the
node lifecycle controller marks the node Ready=Unknown, after ``nodeMonitorGracePeriod`` on
its 5 s monitor grid (:mod:`~sim.runtime.node_lifecycle`); then its pods turn unready and
leave the dataplanes one ``syncDelay`` later, the node is tainted (no new pods), and 300 s
after the NoExecute taint its pods are evicted and replaced elsewhere. When the node comes
back, its evicted pods go, the others' containers restart, and it takes pods again once
the controller sees it Ready (docs/semantics.md#node-failure).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim.runtime import node_lifecycle
from sim.runtime.pods import BLACKHOLED, INF, Pod
from sim.scenario.simulation import NodeEvent

if TYPE_CHECKING:
    from sim.runtime.control_plane import ControlPlane

__all__ = ["NodeController"]


class NodeController:
    """Failures and recoveries of nodes, and the node lifecycle controller's answer."""

    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane
        self.env = plane.env
        n = len(plane.sim.cluster.nodes)  # a cluster autoscaler's nodes never fail
        self._unknown = [False] * n
        self._spans: dict[int, list[float]] = {}  # node -> its open outage span [node, since, end]
        self._zones = [node.labels.get("topology.kubernetes.io/zone") for node in plane.sim.cluster.nodes]
        self._taints = self._plan_taints()

    def _plan_taints(self) -> dict[str, list[tuple[float, float | None]]]:
        """Every node's unreachable taints over the run, from the scenario's fail and recover
        events (the eviction rate limits look at every zone at once, so they are planned ahead)."""
        sim = self.plane.sim
        names = self.plane.node_names[: len(self._zones)]
        outages: list[node_lifecycle.NodeOutage] = []
        failed: dict[int, float] = {}
        for event in sorted((e for e in sim.events if isinstance(e, NodeEvent)), key=lambda e: e.at_s):
            for node in self.nodes(event.node, event.zone):
                if event.action == "fail" and node not in failed:
                    failed[node] = event.at_s
                elif event.action == "recover" and node in failed:
                    outages.append(node_lifecycle.NodeOutage(names[node], failed.pop(node), event.at_s))
        outages += [node_lifecycle.NodeOutage(names[node], at) for node, at in failed.items()]
        return node_lifecycle.plan_taints(
            dict(zip(names, self._zones, strict=True)),
            outages,
            until_s=sim.duration_s,
            grace_s=sim.cluster.node_monitor_grace_period_s,
        )

    def down(self, node: int | None) -> bool:
        return node is not None and node in self._spans

    def nodes(self, node: str | None, zone: str | None) -> list[int]:
        names = self.plane.node_names
        if node is not None:
            return [names.index(node)] if node in names else []
        return [i for i, z in enumerate(self._zones) if z == zone]

    def _outage_since(self, node: int, since: float) -> bool:
        """Whether ``node`` is still in the outage that began at ``since``."""
        span = self._spans.get(node)
        return span is not None and span[1] == since

    def _pods_on(self, node: int) -> list[Pod]:
        return [p for p in self.plane._live.values() if p.node == node]

    # -- failure ---------------------------------------------------------------------
    def fail(self, node: int) -> None:
        plane = self.plane
        if node in self._spans or not plane.scheduler.cycle.is_present(node):
            return  # already down, or deleted by the cluster autoscaler
        plane.catch_up()
        now = self.env.now
        plane.dataplanes[node].down = True
        self._spans[node] = plane.outages.fail(node, now)
        name = plane.node_names[node]
        plane.event("Warning", "NodeFailed", f"node/{name}", f"Node {name} stopped answering (svcsim fault)")
        for dep in plane.scenario.deployments:
            plane.record_row(dep.name, "node failed", name)
        for pod in self._pods_on(node):
            plane.kubelet.node_lost(pod, now)
        grace = plane.sim.cluster.node_monitor_grace_period_s
        self.env.process(self._unknown_at(node, now, node_lifecycle.unknown_at(now, grace)))

    def _unknown_at(self, node: int, since: float, at: float) -> Any:
        yield self.env.timeout(at - self.env.now)
        if not self._outage_since(node, since):
            return
        plane = self.plane
        plane.catch_up()
        self._unknown[node] = True
        plane.scheduler.taint(node)
        name = plane.node_names[node]
        plane.event("Normal", "NodeNotReady", f"node/{name}", f"Node {name} status is now: NodeNotReady")
        for pod in sorted(self._pods_on(node), key=lambda p: p.name):
            plane.event("Warning", "NodeNotReady", f"pod/{pod.name}", "Node is not ready")
            plane.kubelet.set_ready(pod, False, publish=False)
        for dep in plane.scenario.deployments:
            plane.record_row(dep.name, "node not ready", name)
        plane.publish()
        taints = [t for t in self._taints[name] if t[0] >= since]
        evict = node_lifecycle.eviction_at(taints)
        if evict is not None:
            self.env.process(self._evict_at(node, since, evict))

    def _evict_at(self, node: int, since: float, at: float) -> Any:
        yield self.env.timeout(max(0.0, at - self.env.now))
        if not self._outage_since(node, since):
            return
        plane = self.plane
        plane.catch_up()
        touched = set()
        for pod in sorted(self._pods_on(node), key=lambda p: p.name):
            if pod.terminating_at < INF:
                continue
            plane.event(
                "Normal", "TaintManagerEviction", f"pod/{pod.name}", f"Marking for deletion Pod default/{pod.name}"
            )
            plane.set_terminating(pod, self.env.now)
            plane.scheduler.terminating(pod)
            plane.record(pod.deployment, "evicted", pod)
            plane.status(pod, "Unknown")
            touched.add(pod.deployment)
        plane.publish()
        for deployment in sorted(touched):
            plane.reconcile(deployment)

    # -- recovery --------------------------------------------------------------------
    def recover(self, node: int) -> None:
        plane = self.plane
        if node not in self._spans:
            return
        plane.catch_up()
        now = self.env.now
        plane.dataplanes[node].down = False
        self._spans.pop(node)[2] = now
        name = plane.node_names[node]
        plane.event("Normal", "NodeRecovered", f"node/{name}", f"Node {name} answers again (svcsim fault ends)")
        for dep in plane.scenario.deployments:
            plane.record_row(dep.name, "node recovered", name)
        for pod in sorted(self._pods_on(node), key=lambda p: p.name):
            for gate in pod.gates:
                if gate[1] == INF and gate[0] <= now and gate[2] == BLACKHOLED:
                    gate[1] = now
            if pod.terminating_at < INF:  # deleted while the node was away: the kubelet finishes it
                plane.exit(pod)
            else:
                plane.kubelet.set_ready(pod, False)
                plane.kubelet.node_back(pod)
        self.env.process(self._ready_at(node, now, node_lifecycle.ready_again_at(now)))

    def _ready_at(self, node: int, since: float, at: float) -> Any:
        yield self.env.timeout(max(0.0, at - self.env.now))
        if node in self._spans:
            return
        plane = self.plane
        if self._unknown[node]:
            self._unknown[node] = False
            name = plane.node_names[node]
            plane.event("Normal", "NodeReady", f"node/{name}", f"Node {name} status is now: NodeReady")
        plane.scheduler.untaint(node)
