"""kube-scheduler at run time: placing new pods, and the queue of Pending pods it retries.

:class:`~sim.runtime.placement.Scheduler` answers one scheduling cycle; this module keeps what
the run needs around it: which pods count on which node (bound, terminating, gone), the
Pending pods in creation order, and their retry when the cluster changes so that one may
fit: a pod leaves a node, a node becomes Ready again, a node joins
(docs/semantics.md#scheduling). kube-scheduler moves unschedulable pods back to its active
queue on such cluster events; svcsim retries them at the end of the instant of the change.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from sim.kube.addresses import RangeFull
from sim.kube.deployment import Deployment
from sim.runtime.placement import ZONE_LABEL, PodSpec, Scheduler
from sim.runtime.pods import INF, Pod
from sim.scenario.simulation import Node

if TYPE_CHECKING:
    from sim.runtime.control_plane import ControlPlane, ReplicaSet

__all__ = ["KubeScheduler", "node_row"]


def node_row(node: Node, added_s: float) -> dict[str, Any]:
    """A node as ``nodes.parquet`` holds it: allocatable, and when it joined and left."""
    a = node.allocatable
    return {
        "node": node.name,
        "ip": node.ip,
        "zone": node.labels.get(ZONE_LABEL),
        "cpu_m": a.cpu_m,
        "memory_bytes": a.memory_b,
        "pods": a.pods,
        "added": float(added_s),
        "removed": math.nan,
    }


class KubeScheduler:
    """Placement of a run's pods and the Pending pods' retries."""

    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane
        cluster = plane.sim.cluster
        self.slots = cluster.slots
        self.cycle = Scheduler(self.slots, plane.streams.uniform("scheduler/ties").one)
        for index in range(len(cluster.nodes), len(self.slots)):
            self.cycle.set_present(index, False)  # a cluster autoscaler's node, until it adds it
        #: One row per node lifetime (:func:`node_row`); a node removed and added again gets a new one.
        self.node_rows: list[dict[str, Any]] = [node_row(n, 0.0) for n in cluster.nodes]
        self._row_of: dict[int, int] = {i: i for i in range(len(cluster.nodes))}  # present node -> its row
        self._pending: dict[int, Pod] = {}  # Pending pods to retry, in creation order
        self._why: dict[int, str] = {}  # a Pending pod's last FailedScheduling message
        self._spreading: set[int] = set()  # bound pods the spread constraints count
        self._retry_queued = False
        self._unplaced: str | None = None  # why the last pod :meth:`place` looked at fits nowhere
        self._specs: dict[str, PodSpec] = {}  # ReplicaSet -> what its pods ask for (read per pod)

    def spec(self, pod: Pod) -> PodSpec:
        """What the scheduler reads from ``pod``."""
        plane = self.plane
        return self._spec(plane.replica_set[pod.index], plane.deployment(pod))

    def _spec(self, rs: ReplicaSet, dep: Deployment) -> PodSpec:
        """Every pod of a ReplicaSet has the same spec: derived once from the Deployment."""
        found = self._specs.get(rs.name)
        if found is None:
            found = self._specs[rs.name] = _spec(rs, dep)
        return found

    # -- new pods ----------------------------------------------------------------------
    def place(self, rs: ReplicaSet, dep: Deployment) -> int | None:
        """The node of a new pod of ``rs``: its ``nodeName`` (no scheduler involved) or the
        scheduler's choice; None when it fits nowhere."""
        self._unplaced = None
        names = self.plane.node_names
        if dep.node_name is not None:
            if dep.node_name not in names or not self.cycle.is_present(names.index(dep.node_name)):
                return None
            return names.index(dep.node_name)
        chosen = self.cycle.schedule(self._spec(rs, dep))
        if isinstance(chosen, str):
            self._unplaced = chosen
            return None
        return chosen

    def created(self, pod: Pod) -> None:
        """The pod :meth:`place` looked at exists: its requests count on its node, or, if the
        scheduler found no node, it waits to be retried (a ``nodeName`` pod is not the
        scheduler's, and a node whose pod CIDR is used up never starts the sandbox)."""
        if pod.node is not None:
            self.cycle.bind(pod.node, self.spec(pod))
            self._spreading.add(pod.index)
        elif self._unplaced is not None:
            self._why[pod.index] = self._unplaced
            self._pending[pod.index] = pod

    def failed(self, pod: Pod) -> None:
        """The scheduler's Warning for a Pending pod (the loader warns about the other cases)."""
        why = self._why.get(pod.index)
        if why is not None:
            self.plane.event("Warning", "FailedScheduling", f"pod/{pod.name}", why)

    # -- pods that go --------------------------------------------------------------------
    def terminating(self, pod: Pod) -> None:
        """``pod`` has begun terminating: the spread constraints stop counting it; its
        requests hold until it is gone."""
        if pod.index in self._spreading and pod.node is not None:
            self._spreading.discard(pod.index)
            self.cycle.stop_spreading(pod.node, self.spec(pod))

    def gone(self, pod: Pod) -> None:
        """``pod`` has gone: its node's resources are free, and a Pending pod may fit."""
        self._pending.pop(pod.index, None)
        if pod.node is None:
            return
        self.cycle.release(pod.node, self.spec(pod), pod.index in self._spreading)
        self._spreading.discard(pod.index)
        self.retry_soon()

    # -- nodes ---------------------------------------------------------------------------
    def taint(self, node: int) -> None:
        """The node lifecycle controller's unreachable NoSchedule taint."""
        self.cycle.taint(node)

    def untaint(self, node: int) -> None:
        """The node is Ready again: it takes pods, Pending ones first."""
        self.cycle.untaint(node)
        self.retry_soon()

    def node_joined(self, index: int) -> None:
        """A cluster autoscaler's node is Ready now: the scheduler sees it, it gets its
        ``nodes.parquet`` row, Pending pods are retried at once."""
        self.cycle.set_present(index, True)
        self._row_of[index] = len(self.node_rows)
        self.node_rows.append(node_row(self.slots[index], self.plane.env.now))
        self.retry_soon()

    def node_left(self, index: int) -> None:
        """A node the cluster autoscaler deleted: gone from the scheduler, its row closed."""
        self.cycle.set_present(index, False)
        self.node_rows[self._row_of.pop(index)]["removed"] = float(self.plane.env.now)

    def pending(self) -> list[Pod]:
        """The Pending pods the scheduler could not place, oldest first."""
        return [
            p
            for i, p in self._pending.items()
            if p.terminating_at == INF and p.gone_at == INF and i not in self.plane.replica_set[i].deleting
        ]

    # -- retries -------------------------------------------------------------------------
    def retry_soon(self) -> None:
        """Retry the Pending pods once, at the end of this instant (after every change made in it)."""
        if self._pending and not self._retry_queued:
            self._retry_queued = True
            self.plane.env.process(self._retry())

    def _retry(self) -> Any:
        yield self.plane.env.timeout(0)
        self._retry_queued = False
        self.plane.catch_up()
        self.schedule_pending()

    def schedule_pending(self) -> None:
        """One scheduling cycle for every Pending pod, oldest first.

        A pod that still fits nowhere gets a new FailedScheduling event only when the message
        changed (a repeat is the same Event's count in Kubernetes); a pod with the same spec as
        one that just failed is not tried again until a pod is bound (the answer could not differ).
        """
        plane = self.plane
        failed: dict[PodSpec, str] = {}
        for index, pod in list(self._pending.items()):
            if pod.terminating_at < INF or pod.gone_at < INF or index in plane.replica_set[index].deleting:
                del self._pending[index]
                continue
            spec = self.spec(pod)
            chosen = failed[spec] if spec in failed else self.cycle.schedule(spec)
            if isinstance(chosen, str):
                failed[spec] = chosen
                if self._why.get(index) != chosen:
                    self._why[index] = chosen
                    self.failed(pod)
                continue
            del self._pending[index]
            self._why.pop(index, None)
            failed.clear()
            try:
                ip = plane._ipam[chosen].allocate()
            except RangeFull:  # as for a new pod: bound, but the sandbox never starts
                continue
            self._bind(pod, chosen, ip)

    def _bind(self, pod: Pod, node: int, ip: str) -> None:
        """A Pending pod bound: its node and IP, the topology and the request engines learn
        them; ``Scheduled``; the kubelet starts its containers."""
        plane = self.plane
        pod.node, pod.ip = node, ip
        plane.slices.add(pod)
        self.cycle.bind(node, self.spec(pod))
        self._spreading.add(pod.index)
        name = plane.node_names[node]
        plane.topology.bind_pod(pod.name, ip, name)
        plane.engine.pod_bound(pod)
        plane.record(pod.deployment, "scheduled", pod)
        plane.event("Normal", "Scheduled", f"pod/{pod.name}", f"Successfully assigned default/{pod.name} to {name}")
        plane.kubelet.create(pod)


def _spec(rs: ReplicaSet, dep: Deployment) -> PodSpec:
    return PodSpec(
        cpu_m=dep.cpu_request_m or 0,
        memory_b=dep.memory_request_b or 0,
        selector=tuple(sorted(dep.node_selector.items())),
        group=rs.name,
    )
