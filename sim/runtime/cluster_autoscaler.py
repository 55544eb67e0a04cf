"""The Cluster Autoscaler at run time (docs/semantics.md#cluster-autoscaler).

One node group: the scenario's nodes and the node template's, between ``minNodes`` and
``maxNodes``. Every ``scanInterval`` (the first one interval after t = 0) it

- **scales up** for the Pending pods the scheduler could not place: it packs them first-fit
  onto the nodes already being provisioned, then onto new template nodes (the binpacking
  estimator), up to ``maxNodes``; each new node is Ready ``provisioningTime`` later and the
  scheduler retries the Pending pods at once. Events on the pods: ``TriggeredScaleUp``, or
  ``NotTriggerScaleUp`` for a pod no new node would take;
- **scales down**: a node whose requested cpu and memory are both below
  ``scaleDownUtilizationThreshold`` of its allocatable, and whose pods all fit on the other
  nodes, is *unneeded*; once unneeded for ``scaleDownUnneededTime`` (and not within
  ``scaleDownDelayAfterAdd`` of the last scale-up) it is removed, never below ``minNodes``:
  empty nodes up to 10 in one scan, others one at a time, drained first (tainted
  ``ToBeDeletedByClusterAutoscaler``, each pod deleted as by eviction, so its ReplicaSet
  replaces it elsewhere), the node deleted once its pods are gone (checked every 5 s).

The decisions are plain functions (:func:`pack_pending`, :func:`unneeded_nodes`,
:func:`nodes_to_remove`); :class:`ClusterAutoscalerRuntime` reads the cluster into them and
carries them out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sim.kube.addresses import PodIPAllocator, node_pod_cidr
from sim.runtime.placement import INSUFFICIENT_CPU, INSUFFICIENT_MEMORY, SELECTOR_MISMATCH, TOO_MANY_PODS, PodSpec
from sim.runtime.pods import INF, Pod
from sim.scenario.simulation import Allocatable, ClusterAutoscaler

if TYPE_CHECKING:
    from sim.runtime.control_plane import ControlPlane

__all__ = [
    "DRAIN_CHECK_S",
    "GROUP",
    "MAX_EMPTY_BULK_DELETE",
    "ClusterAutoscalerRuntime",
    "NodeLoad",
    "Packing",
    "nodes_to_remove",
    "pack_pending",
    "unneeded_nodes",
    "utilization",
]

#: ``--max-empty-bulk-delete``: empty nodes deleted in one scan.
MAX_EMPTY_BULK_DELETE = 10
#: How often the drain looks whether the evicted pods are gone (actuation/drain.go, waitPodsToDisappear).
DRAIN_CHECK_S = 5.0
NODE_DELETE_DELAY_AFTER_TAINT_S = 5.0  # --node-delete-delay-after-taint
#: The node group's id in event messages (``{nodes 3->5 (max: 10)}``).
GROUP = "nodes"
MAX_SIZE_REACHED = "max node group size reached"


# -- scale-up ----------------------------------------------------------------------------
def _fits(pod: PodSpec, free_cpu: int, free_memory: int, free_pods: int) -> bool:
    return free_pods >= 1 and pod.cpu_m <= free_cpu and pod.memory_b <= free_memory


def template_misfit(pod: PodSpec, template: Allocatable, labels: dict[str, str]) -> list[str]:
    """Why ``pod`` would not fit on an empty template node (the scheduler's filter reasons);
    empty if it would."""
    if any(labels.get(k) != v for k, v in pod.selector):
        return [SELECTOR_MISMATCH]
    reasons = []
    if template.pods < 1:
        reasons.append(TOO_MANY_PODS)
    if pod.cpu_m > template.cpu_m:
        reasons.append(INSUFFICIENT_CPU)
    if pod.memory_b > template.memory_b:
        reasons.append(INSUFFICIENT_MEMORY)
    return reasons


@dataclass(frozen=True)
class Packing:
    """What a scan's scale-up does: ``new_nodes`` to add; per pending pod (by position) the
    reasons it triggers none (empty: it goes on an upcoming or new node)."""

    new_nodes: int
    misfits: dict[int, list[str]] = field(default_factory=dict)

    def triggered(self, count: int) -> list[int]:
        return [i for i in range(count) if i not in self.misfits]


def pack_pending(
    pods: Sequence[PodSpec], template: Allocatable, labels: dict[str, str], upcoming: int, room: int
) -> Packing:
    """First-fit the Pending ``pods`` (oldest first) onto the ``upcoming`` template nodes (being
    provisioned), then onto new ones, at most ``room`` of them (``maxNodes`` minus the nodes
    present or upcoming): the binpacking estimator's answer for one node group.

    >>> t = Allocatable(cpu_m=4000, memory_b=2**34, pods=110)
    >>> one_cpu = PodSpec(1000, 0, (), "web")
    >>> pack_pending([one_cpu] * 9, t, {}, upcoming=0, room=10).new_nodes
    3
    >>> p = pack_pending([one_cpu] * 9, t, {}, upcoming=1, room=1)
    >>> p.new_nodes, sorted(p.misfits)
    (1, [8])
    """
    bins: list[list[int]] = [[template.cpu_m, template.memory_b, template.pods] for _ in range(upcoming)]
    new = 0
    misfits: dict[int, list[str]] = {}
    for i, pod in enumerate(pods):
        reasons = template_misfit(pod, template, labels)
        if reasons:
            misfits[i] = reasons
            continue
        spot = next((b for b in bins if _fits(pod, *b)), None)
        if spot is None:
            if new >= room:
                misfits[i] = [MAX_SIZE_REACHED]
                continue
            new += 1
            spot = [template.cpu_m, template.memory_b, template.pods]
            bins.append(spot)
        spot[0] -= pod.cpu_m
        spot[1] -= pod.memory_b
        spot[2] -= 1
    return Packing(new, misfits)


# -- scale-down --------------------------------------------------------------------------
@dataclass
class NodeLoad:
    """A present node as scale-down sees it: its allocatable and requests, the pods it would
    have to move (``pods``), and whether something on it cannot move (``blocked``)."""

    index: int
    alloc_cpu: int
    alloc_memory: int
    alloc_pods: int
    cpu: int
    memory: int
    count: int
    labels: dict[str, str]
    pods: list[PodSpec] = field(default_factory=list)
    blocked: bool = False
    ready: bool = True

    @property
    def empty(self) -> bool:
        return not self.pods and not self.blocked


def utilization(node: NodeLoad) -> float:
    """The larger of requested cpu / allocatable and requested memory / allocatable
    (utilization.Calculate: the max of the two, as ``scale-down-utilization-threshold`` reads it).

    >>> utilization(NodeLoad(0, 4000, 1000, 110, cpu=1000, memory=600, count=2, labels={}))
    0.6
    """
    shares = [used / alloc for used, alloc in ((node.cpu, node.alloc_cpu), (node.memory, node.alloc_memory)) if alloc]
    return max(shares, default=0.0)


def unneeded_nodes(nodes: Sequence[NodeLoad], threshold: float) -> list[int]:
    """The nodes (by ``index``) whose utilization is below ``threshold`` and whose pods all fit
    on the other nodes, taken in order: a node found unneeded is taken out and its pods placed
    on the rest first-fit before the next is looked at (simulator FindNodesToRemove)."""
    free = {n.index: [n.alloc_cpu - n.cpu, n.alloc_memory - n.memory, n.alloc_pods - n.count] for n in nodes}
    labels = {n.index: n.labels for n in nodes}
    gone: set[int] = set()
    out = []
    for node in nodes:
        if not node.ready or node.blocked or utilization(node) >= threshold:
            continue
        trial = {i: list(f) for i, f in free.items() if i != node.index and i not in gone}
        ok = True
        for pod in node.pods:
            spot = next(
                (f for i, f in trial.items() if all(labels[i].get(k) == v for k, v in pod.selector) and _fits(pod, *f)),
                None,
            )
            if spot is None:
                ok = False
                break
            spot[0] -= pod.cpu_m
            spot[1] -= pod.memory_b
            spot[2] -= 1
        if ok:
            gone.add(node.index)
            free.update(trial)
            out.append(node.index)
    return out


def nodes_to_remove(
    unneeded_since: dict[int, float],
    empty: set[int],
    now: float,
    unneeded_s: float,
    present: int,
    min_nodes: int,
    draining: bool,
) -> tuple[list[int], int | None]:
    """The empty nodes to delete now (up to :data:`MAX_EMPTY_BULK_DELETE`) and the one node to
    drain (None), among those unneeded for ``unneeded_s``, in node order, never leaving fewer
    than ``min_nodes`` of the ``present`` ones; no new drain while one is under way.

    >>> nodes_to_remove({1: 0.0, 2: 0.0, 3: 500.0}, {2}, 600.0, 600.0, present=4, min_nodes=1, draining=False)
    ([2], 1)
    >>> nodes_to_remove({1: 0.0, 2: 0.0}, {1, 2}, 600.0, 600.0, present=2, min_nodes=1, draining=False)
    ([1], None)
    """
    ripe = sorted(i for i, since in unneeded_since.items() if now - since >= unneeded_s)
    budget = present - min_nodes
    deleted = [i for i in ripe if i in empty][: max(0, min(MAX_EMPTY_BULK_DELETE, budget))]
    budget -= len(deleted)
    drain = None
    if not draining and budget > 0:
        drain = next((i for i in ripe if i not in empty), None)
    return deleted, drain


# -- the process -------------------------------------------------------------------------
class ClusterAutoscalerRuntime:
    """cluster-autoscaler's loop on the control plane ``plane``."""

    def __init__(self, plane: ControlPlane, spec: ClusterAutoscaler) -> None:
        self.plane = plane
        self.env = plane.env
        self.spec = spec
        self.initial = len(plane.sim.cluster.nodes)
        self._upcoming: list[int] = []  # slots being provisioned
        self._deleting: set[int] = set()  # nodes tainted for deletion, not yet gone
        self._draining = False
        self._since: dict[int, float] = {}  # unneeded node -> since when
        self._last_scale_up = -INF
        self._told: dict[int, str] = {}  # pod -> its last NotTriggerScaleUp message
        # Nodes a client runs on or sends to (nodePort clients keep the entry nodes of t = 0):
        # deleting one would send that client's requests into a deleted node.
        initial = [n.name for n in plane.sim.cluster.nodes]
        self._hosts = {c.location for c in plane.sim.clients} | {
            name for c in plane.sim.clients if c.target.via == "nodePort" for name in (c.nodes or initial)
        }
        self._outages: dict[int, list[float]] = {}  # deleted node -> its open outage span
        labels = dict(spec.slots[0].labels) if spec.slots else dict(spec.template.labels)
        labels.pop("kubernetes.io/hostname", None)  # each node's own; a template's labels otherwise
        self._labels = labels

    def process(self) -> Any:
        """SimPy process: a scan every ``scanInterval``, after what else happens at that instant."""
        k = 1
        while True:
            yield self.env.timeout(k * self.spec.scan_interval_s - self.env.now)
            yield self.env.timeout(0)
            yield self.env.timeout(0)
            self.scan()
            k += 1

    def _present(self) -> list[int]:
        cycle = self.plane.scheduler.cycle
        return [i for i in range(len(cycle.names)) if cycle.is_present(i)]

    def scan(self) -> None:
        self.plane.catch_up()
        scaled = self._scale_up()
        self._scale_down(scaled)

    # -- scale-up --------------------------------------------------------------------
    def _scale_up(self) -> bool:
        plane, spec = self.plane, self.spec
        scheduler = plane.scheduler
        pending = scheduler.pending()
        if not pending:
            return False
        specs = [scheduler.spec(p) for p in pending]
        present = self._present()
        size = len(present) + len(self._upcoming)
        # A slot is free when its node is not there; a scenario node the autoscaler deleted is
        # not made again (new nodes are the template's), so its group may top out below maxNodes.
        free = [i for i in range(self.initial, len(plane.node_names)) if i not in present and i not in self._upcoming]
        room = min(spec.max_nodes - size, len(free))
        packing = pack_pending(specs, spec.template.allocatable, self._labels, len(self._upcoming), room)
        for i, pod in enumerate(pending):
            reasons = packing.misfits.get(i)
            if reasons is None:
                continue
            message = "pod didn't trigger scale-up (it wouldn't fit if a new node is added): " + ", ".join(
                f"1 {r}" for r in reasons
            )
            if self._told.get(pod.index) != message:
                self._told[pod.index] = message
                plane.event("Normal", "NotTriggerScaleUp", f"pod/{pod.name}", message)
        if not packing.new_nodes:
            return False
        added = free[: packing.new_nodes]
        info = f"[{{{GROUP} {size}->{size + len(added)} (max: {spec.max_nodes})}}]"
        for i in packing.triggered(len(pending)):
            plane.event("Normal", "TriggeredScaleUp", f"pod/{pending[i].name}", f"pod triggered scale-up: {info}")
            self._told.pop(pending[i].index, None)
        self._upcoming += added
        self._last_scale_up = self.env.now
        for index in added:
            self.env.process(self._provision(index))
        return True

    def _provision(self, index: int) -> Any:
        yield self.env.timeout(self.spec.provisioning_s)
        plane = self.plane
        plane.catch_up()
        self._upcoming.remove(index)
        name = plane.node_names[index]
        plane._ipam[index] = PodIPAllocator(node_pod_cidr(plane.sim.cluster.pod_cidr, index))  # a new node's IPAM
        plane.dataplanes[index].present = True
        plane.dataplanes[index].down = False
        span = self._outages.pop(index, None)
        if span is not None:  # a slot used again: its old node's outage ends
            span[2] = self.env.now
        plane.event(
            "Normal", "RegisteredNode", f"node/{name}", f"Node {name} event: Registered Node {name} in Controller"
        )
        plane.event("Normal", "NodeReady", f"node/{name}", f"Node {name} status is now: NodeReady")
        for dep in plane.scenario.deployments:
            plane.record_row(dep.name, "node added", name)
        plane.scheduler.node_joined(index)

    # -- scale-down ------------------------------------------------------------------
    def _loads(self) -> list[NodeLoad]:
        plane = self.plane
        cycle = plane.scheduler.cycle
        on: dict[int, list[Pod]] = {}
        for pod in plane._live.values():
            if pod.node is not None:
                on.setdefault(pod.node, []).append(pod)
        loads = []
        for i in self._present():
            if i in self._deleting:
                continue
            pods = sorted(on.get(i, []), key=lambda p: p.name)
            moving = [p for p in pods if p.terminating_at == INF]
            loads.append(
                NodeLoad(
                    index=i,
                    alloc_cpu=int(cycle.alloc_cpu[i]),
                    alloc_memory=int(cycle.alloc_memory[i]),
                    alloc_pods=int(cycle.alloc_pods[i]),
                    cpu=int(cycle.requested_cpu[i]),
                    memory=int(cycle.requested_memory[i]),
                    count=int(cycle.pods[i]),
                    labels=cycle._labels[i],
                    pods=[plane.scheduler.spec(p) for p in moving],
                    # a client runs there, or a pod pinned by nodeName: nothing else can take them
                    blocked=plane.node_names[i] in self._hosts
                    or any(plane.deployment(p).node_name is not None for p in moving),
                    ready=not plane.nodes.down(i) and not bool(cycle._tainted[i]),
                )
            )
        return loads

    def _scale_down(self, scaled_up: bool) -> None:
        now, spec = self.env.now, self.spec
        loads = self._loads()
        unneeded = set(unneeded_nodes(loads, spec.scale_down_utilization_threshold))
        self._since = {i: self._since.get(i, now) for i in sorted(unneeded)}
        if scaled_up or now < self._last_scale_up + spec.scale_down_delay_after_add_s:
            return  # scale-down in cooldown (the unneeded times still run)
        present = len(self._present()) - len(self._deleting)
        empty = {n.index for n in loads if n.empty}
        deleted, drain = nodes_to_remove(
            self._since, empty, now, spec.scale_down_unneeded_s, present, spec.min_nodes, self._draining
        )
        for index in deleted:
            self._mark(index)
            self.env.process(self._delete_after_taint(index))
        if drain is not None:
            self._mark(drain)
            self._draining = True
            self.env.process(self._drain(drain))

    def _mark(self, index: int) -> None:
        plane = self.plane
        self._deleting.add(index)
        self._since.pop(index, None)
        plane.scheduler.cycle.mark_deleting(index, int(self.env.now))
        plane.dataplanes[index].to_be_deleted = True
        name = plane.node_names[index]
        plane.event("Normal", "ScaleDown", f"node/{name}", "marked the node as toBeDeleted/unschedulable")

    def _drain(self, index: int) -> Any:
        plane = self.plane
        pods = sorted(
            (p for p in plane._live.values() if p.node == index and p.terminating_at == INF), key=lambda p: p.name
        )
        for pod in pods:
            plane.event("Normal", "ScaleDown", f"pod/{pod.name}", "deleting pod for node scale down")
            plane.record(pod.deployment, "evicted", pod)
            self.env.process(plane.kubelet.terminate(pod))
        yield self.env.timeout(0)  # the kubelet has marked them terminating: their ReplicaSets replace them
        for deployment in sorted({p.deployment for p in pods}):
            plane.reconcile(deployment)
        while any(p.node == index for p in plane._live.values()):
            yield self.env.timeout(DRAIN_CHECK_S)
        yield from self._delete_after_taint(index)
        self._draining = False

    def _delete_after_taint(self, index: int) -> Any:
        """``--node-delete-delay-after-taint`` after the taint (5 s), the node is deleted."""
        yield self.env.timeout(NODE_DELETE_DELAY_AFTER_TAINT_S)
        self.plane.catch_up()
        self._remove(index)

    def _remove(self, index: int) -> None:
        """The node is deleted from the cloud provider: gone from the cluster."""
        plane = self.plane
        self._deleting.discard(index)
        name = plane.node_names[index]
        plane.dataplanes[index].present = False
        plane.dataplanes[index].to_be_deleted = False
        plane.dataplanes[index].down = True  # a client still sending to its IP gets no answer
        self._outages[index] = plane.outages.fail(index, self.env.now)
        plane.scheduler.node_left(index)
        plane.event("Normal", "ScaleDown", f"node/{name}", "nodes removed by cluster autoscaler")
        for dep in plane.scenario.deployments:
            plane.record_row(dep.name, "node removed", name)
