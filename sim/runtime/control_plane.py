"""The control plane at run time: Deployments and ReplicaSets, pods' publication and kube-proxy sync.

These are SimPy processes: they are few (one per pod change and dataplane sync) and they set
the state that requests see. Every change first lets the request engine catch up to the
current time, so requests before the change see the old state and requests after it the new
one. What happens inside a pod's life (containers, probes, crashes, shutdown) is the
kubelet's (:mod:`~sim.runtime.kubelet`); node failures are the node lifecycle controller's
(:mod:`~sim.runtime.node_controller`). Naming (:mod:`~sim.runtime.pod_identity`), placement
(:mod:`~sim.runtime.placement`), pod IPs (:mod:`sim.kube.addresses`) and endpoints
(:mod:`~sim.runtime.endpoint_slices`) live in their own modules.

Rules (docs/semantics.md#scaling-and-termination, #rolling-updates, #endpoint-lifecycle-and-propagation):
- a Deployment owns ReplicaSets, one per pod-template revision; the Deployment controller
  sets their replica counts (:mod:`~sim.runtime.deployment_controller`) and each
  ReplicaSet creates or deletes pods to match;
- scale-down deletes unscheduled pods first, then not-ready ones, then the newest
  (ReplicaSet ``ActivePods`` ranking, pkg/controller/controller_utils.go);
- endpoints reach every node's dataplane ``syncDelay`` after they change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import simpy

from sim.kube.addresses import PodIPAllocator, RangeFull, node_pod_cidr
from sim.kube.deployment import Deployment
from sim.randomness import Streams
from sim.runtime import deployment_controller
from sim.runtime.dataplane import Dataplane, Rules
from sim.runtime.endpoint_slices import EndpointSlices
from sim.runtime.kube_scheduler import KubeScheduler
from sim.runtime.pod_identity import PodNames, template_hash
from sim.runtime.pod_usage import PodUsage, cpu_throttle, metered_deployments
from sim.runtime.pods import INF, Pod
from sim.runtime.requests.outcomes import NodeOutages
from sim.runtime.requests.rules import PodLimits
from sim.runtime.topology import Topology
from sim.scenario.resolved import Scenario
from sim.scenario.simulation import OnCancel, Workload

__all__ = ["ZONE_LABEL", "ControlPlane", "ReplicaSet"]


class TrafficHooks(Protocol):
    """What the control plane needs from the traffic engine."""

    def advance(self, horizon: float) -> None: ...
    def pod_added(self, pod: Pod) -> None: ...
    def pod_bound(self, pod: Pod) -> None: ...
    def finish_pod(self, pod: Pod) -> None: ...
    def busy_until(self, pod: Pod) -> float | None: ...
    def pod_killed(self, pod: Pod, at: float) -> None: ...
    def in_pod(self, pod: Pod, now: float) -> int: ...
    def probe_wait(self, pod: Pod, now: float) -> float: ...


ZONE_LABEL = "topology.kubernetes.io/zone"


@dataclass(eq=False)
class ReplicaSet:
    """One revision of a Deployment's pod template and the pods it made."""

    name: str
    deployment: str
    template: str  # pod-template-hash
    revision: int
    workload: Workload
    created_at: float
    replicas: int = 0  # spec.replicas, as the Deployment controller sets it
    pods: list[Pod] = field(default_factory=list)
    done: bool = False  # an old ReplicaSet scaled to 0 whose pods have all gone
    deleting: set[int] = field(default_factory=set)  # pods it deleted (their shutdown may not have begun)

    def active(self) -> list[Pod]:
        """Pods not being deleted (``FilterActivePods``)."""
        return [p for p in self.pods if p.terminating_at == INF and p.gone_at == INF and p.index not in self.deleting]

    def existing(self) -> list[Pod]:
        """Pods not gone, terminating ones included (what Recreate waits for)."""
        return [p for p in self.pods if p.gone_at == INF]


class ControlPlane:
    """Pods, their ReplicaSets and placement, and what every node's dataplane holds."""

    def __init__(
        self,
        env: simpy.Environment,
        scenario: Scenario,
        streams: Streams,
        topology: Topology,
        dataplanes: list[Dataplane],
        pods: list[Pod],
        live: dict[int, Pod],
        slices: EndpointSlices,
        engine: TrafficHooks,
        poll_s: float,
        balancer_routes: list[Callable[[], set[int]]],
        outages: NodeOutages | None = None,
    ) -> None:
        """``pods`` (every pod, by index) and ``live`` (those not gone) are shared with
        ``slices`` and the request ``engine``; ``poll_s`` is how often a pod whose end cannot
        be predicted is looked at again; ``balancer_routes`` give the pods balancers send
        to directly; ``outages`` records node failures for the request engines."""
        from sim.runtime.kubelet import Kubelet  # noqa: PLC0415 (the kubelet works on this plane)
        from sim.runtime.node_controller import NodeController  # noqa: PLC0415

        self.env = env
        self.scenario = scenario
        self.sim = scenario.simulation
        self._deployments = {d.name: d for d in scenario.deployments}  # by name (looked up per pod)
        self.streams = streams
        self.topology = topology
        self.dataplanes = dataplanes
        self.pods = pods
        self.slices = slices
        self.engine = engine
        self.poll_s = poll_s
        self.balancer_routes = balancer_routes
        self.outages = outages if outages is not None else NodeOutages()
        self.node_names = [n.name for n in self.sim.cluster.slots]  # a cluster autoscaler's nodes after the scenario's
        self.n_ports = len(slices.ports)
        self._ipam = [PodIPAllocator(node_pod_cidr(self.sim.cluster.pod_cidr, i)) for i in range(len(self.node_names))]
        self.scheduler = KubeScheduler(self)  # placement, and the Pending pods it retries
        self._names = PodNames(
            scenario.deployments,
            {d.name: streams.generator(f"deployment/{d.name}/names") for d in scenario.deployments},
        )
        self._unrouted: dict[int, simpy.Event] = {}
        self._syncs: dict[float, list[Rules]] = {}  # due time -> rules to install
        self._pending: float | None = None  # due time of a snapshot to take at the end of this instant
        self.timeline: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.pod_status: list[dict[str, Any]] = []
        self._shown: dict[int, str] = {}  # pod -> its latest STATUS
        self._live = live
        # Kept as pods change, so a timeline row costs O(1) however many pods there are:
        self._live_of: dict[str, dict[int, Pod]] = {d.name: {} for d in scenario.deployments}  # by index
        self._ready_of: dict[str, int] = {d.name: 0 for d in scenario.deployments}  # live pods with Pod.ready
        self._plane_routed: set[int] = set()  # pods some node's dataplane routes to (as last installed)
        self._plane_routed_of: dict[str, int] = {}  # ... how many of each Deployment's
        self._deployment_names = [d.name for d in scenario.deployments]
        self._deployment_position = {name: i for i, name in enumerate(self._deployment_names)}
        self._deployment_code = np.zeros(64, dtype=np.int64)  # pod index -> its Deployment's position
        self._last_row: dict[str, dict[str, Any]] = {}  # Deployment -> its latest timeline row
        self.sets: dict[str, list[ReplicaSet]] = {d.name: [] for d in scenario.deployments}
        self.desired: dict[str, int] = {d.name: d.replicas for d in scenario.deployments}
        self.replica_set: dict[int, ReplicaSet] = {}  # pod index -> its ReplicaSet
        self._throttle: dict[str, tuple[float | None, float]] = {}  # ReplicaSet -> cpu_throttle()
        #: Deployments whose pods keep usage accounts (Pod.cpu_seconds ...): set before start().
        self.metered: frozenset[str] = metered_deployments(scenario)
        self._progress: dict[str, float] = {}  # Deployment -> last progress of its rollout
        self._counts: dict[str, deployment_controller.DeploymentCounts] = {}  # ... its status then
        self._rolling: set[str] = set()  # Deployments whose last rollout is not complete
        self._queued: set[str] = set()  # Deployments waiting for the controller's next sync
        self.kubelet = Kubelet(self)
        self.nodes = NodeController(self)

    def live_pods(self, deployment: str) -> list[Pod]:
        """The Deployment's pods not gone, in creation order."""
        return list(self._live_of[deployment].values())

    # -- a pod's readiness (every change goes through these, which keep the counts) ------
    def set_condition_ready(self, pod: Pod, ready: bool) -> None:
        """The pod's Ready condition is ``ready`` from now."""
        was = pod.ready
        pod.condition_ready = ready
        self._ready_changed(pod, was)

    def set_terminating(self, pod: Pod, at: float) -> None:
        """The pod is being deleted from ``at``: its endpoint is no longer ``ready``."""
        was = pod.ready
        pod.terminating_at = at
        self._ready_changed(pod, was)

    def _ready_changed(self, pod: Pod, was: bool) -> None:
        self.slices.touch(pod)  # serving may have changed even if ready did not
        if pod.index in self._live and pod.ready != was:
            self._ready_of[pod.deployment] += 1 if pod.ready else -1

    def deployment(self, pod: Pod) -> Deployment:
        return self._deployments[pod.deployment]

    def workload(self, pod: Pod) -> Workload:
        return self.replica_set[pod.index].workload

    # -- changes ---------------------------------------------------------------------
    def start(self) -> None:
        """The cluster as it stands at t=0: every Deployment's pods Ready, rules synced."""
        for dep in self.scenario.deployments:
            rs = self._new_replica_set(dep, self.sim.workloads[dep.name])
            rs.replicas = dep.replicas
            if dep.replicas:  # as the Deployment controller did when the Deployment was created
                action = deployment_controller.ScaleAction(rs.name, 0, dep.replicas)
                self.event("Normal", action.reason, f"deployment/{dep.name}", action.message)
            for _ in range(dep.replicas):
                pod = self._create(rs)
                if pod.node is not None:
                    self.set_condition_ready(pod, True)
                    pod.ready_at = 0.0
                    pod.routed_at = 0.0
                    self.kubelet.running_from_start(pod)
                else:
                    self.status(pod, "Pending")
                    self.scheduler.failed(pod)
        for port in range(self.n_ports):
            rules = self.slices.rules(port)
            for plane in self.dataplanes:
                plane.install(port, rules)
        self._installed()
        for dep in self.scenario.deployments:
            self.record(dep.name, "start", None)

    def scale(self, deployment: str, replicas: int, by: str | None = None) -> None:
        """Set a Deployment's replica count, as ``kubectl scale`` does (``by``: who did, such as
        ``hpa/web``, noted in the timeline row's detail)."""
        self.catch_up()
        self.desired[deployment] = replicas
        self._append(self._row(deployment, f"scale to {replicas}", None, by))
        self.reconcile(deployment)

    def rollout(self, deployment: str, workload: Workload | None) -> None:
        """A new pod template (``kubectl rollout restart``, or a new version running ``workload``)."""
        self.catch_up()
        dep = self._deployments[deployment]
        current = self.sets[deployment][-1]
        self._new_replica_set(dep, workload if workload is not None else current.workload)
        self.record(deployment, "rollout", None)
        self._progress[deployment] = self.env.now
        self._counts.pop(deployment, None)
        self._rolling.add(deployment)
        self.env.process(self._progress_deadline(deployment, self.sets[deployment][-1]))
        self.reconcile(deployment)

    def reconcile(self, deployment: str) -> None:
        """The Deployment controller's sync, then each ReplicaSet's: replica counts, then pods."""
        dep = self._deployments[deployment]
        sets = self.sets[deployment]
        new, old = sets[-1], [rs for rs in sets[:-1] if not rs.done]
        by_name = {rs.name: rs for rs in sets}
        for _ in range(2 + 2 * len(old)):  # each sync scales up or down; resyncs follow at once
            actions = deployment_controller.sync(
                self.desired[deployment],
                dep.strategy,
                self._rs_state(new, dep),
                [self._rs_state(rs, dep) for rs in old],
            )
            if not actions:
                break
            for action in actions:
                rs = by_name[action.replica_set]
                self.event("Normal", action.reason, f"deployment/{deployment}", action.message)
                rs.replicas = action.to_replicas
                self._sync_replica_set(rs)
        for rs in (*old, new):
            self._sync_replica_set(rs)
        for rs in old:
            rs.done = rs.replicas == 0 and not rs.existing()
        self._note_progress(deployment)

    def _note_progress(self, deployment: str) -> None:
        """``DeploymentProgressing``: more updated, Ready or available pods, or fewer old ones,
        than at the last status; the progress deadline counts from then."""
        if deployment not in self._rolling:
            return  # no rollout under way
        dep = self._deployments[deployment]
        sets = self.sets[deployment]
        live = self.live_pods(deployment)
        after = deployment_controller.counts(
            self._rs_state(sets[-1], dep),
            [self._rs_state(rs, dep) for rs in sets[:-1] if not rs.done],
            ready=sum(p.ready for p in live),
        )
        before = self._counts.get(deployment)
        if before is not None and deployment_controller.progressed(before, after):
            self._progress[deployment] = self.env.now
        self._counts[deployment] = after
        if deployment_controller.complete(self.desired[deployment], after):
            self._rolling.discard(deployment)

    def _rs_state(self, rs: ReplicaSet, dep: Deployment) -> deployment_controller.ReplicaSetState:
        now = self.env.now
        active = rs.active()
        available = sum(1 for p in active if p.ready and now - self.kubelet.ready_since(p) >= dep.min_ready_s)
        return deployment_controller.ReplicaSetState(
            name=rs.name,
            replicas=rs.replicas,
            pods=len(active),
            available=available,
            terminating=len(rs.existing()) - len(active),
            created=rs.revision,
        )

    def _sync_replica_set(self, rs: ReplicaSet) -> None:
        """The ReplicaSet controller: create or delete pods until ``replicas`` are active."""
        active = rs.active()
        if rs.replicas > len(active):
            for _ in range(rs.replicas - len(active)):
                pod = self._create(rs)
                self.record(rs.deployment, "created" if pod.node is not None else "pending", pod)
                self.event("Normal", "SuccessfulCreate", f"replicaset/{rs.name}", f"Created pod: {pod.name}")
                if pod.node is None:
                    self.status(pod, "Pending")
                    self.scheduler.failed(pod)
                else:
                    self.event(
                        "Normal",
                        "Scheduled",
                        f"pod/{pod.name}",
                        f"Successfully assigned default/{pod.name} to {self.node_names[pod.node]}",
                    )
                    self.kubelet.create(pod)
        elif rs.replicas < len(active):
            ranked = sorted(active, key=self._deletion_rank)
            for pod in ranked[: len(active) - rs.replicas]:
                self.event("Normal", "SuccessfulDelete", f"replicaset/{rs.name}", f"Deleted pod: {pod.name}")
                rs.deleting.add(pod.index)
                self.env.process(self.kubelet.terminate(pod))

    def _deletion_rank(self, pod: Pod) -> tuple[bool, bool, float, int, float, int]:
        """ActivePods' order, the first deleted first (pkg/controller/controller_utils.go):
        unscheduled, not Ready, Ready for less time, more restarts, newer."""
        since = self.kubelet.ready_since(pod) if pod.ready else 0.0
        return (pod.node is not None, pod.ready, -since, -pod.restarts, -pod.created_at, -pod.index)

    def _new_replica_set(self, dep: Deployment, workload: Workload) -> ReplicaSet:
        sets = self.sets[dep.name]
        revision = len(sets) + 1
        template = template_hash(dep, revision)
        rs = ReplicaSet(f"{dep.name}-{template}", dep.name, template, revision, workload, self.env.now)
        sets.append(rs)
        return rs

    def _progress_deadline(self, deployment: str, rollout: ReplicaSet) -> Any:
        """``progressDeadlineSeconds`` after the last progress with the rollout unfinished:
        condition Progressing=False, ProgressDeadlineExceeded (docs/semantics.md#rolling-updates)."""
        dep = self._deployments[deployment]
        while True:
            due = deployment_controller.next_progress_check(self._progress[deployment], dep.progress_deadline_s)
            if due > self.sim.duration_s:
                return
            yield self.env.timeout(due - self.env.now)
            sets = self.sets[deployment]
            if sets[-1] is not rollout:
                return  # a newer rollout took over
            if deployment not in self._rolling:
                return  # complete
            if deployment_controller.timed_out(self._progress[deployment], self.env.now, dep.progress_deadline_s):
                new = sets[-1]
                self.event(
                    "Warning",
                    "ProgressDeadlineExceeded",
                    f"deployment/{deployment}",
                    f'ReplicaSet "{new.name}" has timed out progressing.',
                )
                self.record(deployment, "progress deadline exceeded", None)
                return

    def pod_changed(self, pod: Pod) -> None:
        """A pod became Ready or available, went unready, or was deleted: progress, and the
        Deployment controller may take its next step."""
        deployment = pod.deployment
        if deployment in self._queued:
            return
        if deployment in self._rolling or any(not old.done for old in self.sets[deployment][:-1]):
            # The controller's work queue holds a Deployment once: changes at one instant make one
            # sync (which also judges the rollout's progress).
            self._queued.add(pod.deployment)
            self.env.process(self._queued_sync(pod.deployment))

    def _queued_sync(self, deployment: str) -> Any:
        yield self.env.timeout(0)
        self._queued.discard(deployment)
        self.catch_up()
        self.reconcile(deployment)

    def _create(self, rs: ReplicaSet) -> Pod:
        dep = self._deployments[rs.deployment]
        workload = rs.workload
        name = self._names.new(dep.name, rs.template)
        node = self.scheduler.place(rs, dep)
        ip = None
        if node is not None:
            try:
                ip = self._ipam[node].allocate()
            except RangeFull:  # the node's pod CIDR is used up: the sandbox never starts
                node = None
        tracked = workload.probe_failure is not None and workload.probe_failure.in_flight_above is not None
        throttle = self._throttle.get(rs.name)
        if throttle is None:  # the same for every pod of the ReplicaSet
            throttle = self._throttle[rs.name] = cpu_throttle(dep, workload)
        cpu_limit, cpu_demand = throttle
        pod = Pod(
            index=len(self.pods),
            name=name,
            deployment=dep.name,
            labels=dict(dep.labels),
            node=node,
            ip=ip,
            concurrency=workload.concurrency,
            service=self.streams.variates(f"pod/{name}/service", workload.service_time),
            grace_period_s=dep.grace_period_s,
            created_at=self.env.now,
            limits=PodLimits(
                workload.queue_limit,
                workload.max_connections,
                workload.on_cancel == OnCancel.DROP,
                tracked,
                cpu_limit,
                cpu_demand,
            ),
            usage=PodUsage(workload.cpu, workload.memory) if dep.name in self.metered else None,
        )
        self.pods.append(pod)
        if pod.index == len(self._deployment_code):  # room for twice as many pods
            self._deployment_code = np.concatenate((self._deployment_code, self._deployment_code))
        self._deployment_code[pod.index] = self._deployment_position[dep.name]
        self._live[pod.index] = pod
        self._live_of[pod.deployment][pod.index] = pod
        self.slices.add(pod)
        self.replica_set[pod.index] = rs
        rs.pods.append(pod)
        self.scheduler.created(pod)
        self.topology.add_pod(pod.name, pod.ip, pod.deployment, self._node_name(pod.node), pod.labels)
        self.engine.pod_added(pod)
        return pod

    def _node_name(self, node: int | None) -> str | None:
        return None if node is None else self.node_names[node]

    def crash(self, pod_name: str | None, deployment: str | None, count: int) -> None:
        """A ``crash`` event: one pod by name, or ``count`` Ready pods of a Deployment by name."""
        self.catch_up()
        if pod_name is not None:
            victims = [p for p in self._live.values() if p.name == pod_name]
            if not victims:
                self.event(
                    "Warning",
                    "NotFound",
                    f"pod/{pod_name}",
                    f"crash event: no live pod named {pod_name} (pod names depend on the seed: see svcsim get pods)",
                )
        else:
            ready = sorted(
                (p for p in self._live.values() if p.deployment == deployment and p.ready), key=lambda p: p.name
            )
            victims = ready[:count]
        for pod in victims:
            self.kubelet.crash(pod, "crash event")

    def exit(self, pod: Pod, at: float | None = None) -> None:
        """The pod's containers are gone (at ``at`` if that was found out later)."""
        self.catch_up()
        was = pod.ready
        pod.gone_at = self.env.now if at is None else at
        if self._live.pop(pod.index, None) is not None:
            del self._live_of[pod.deployment][pod.index]
            self._ready_of[pod.deployment] -= was
            self.slices.remove(pod)
            self.scheduler.gone(pod)
        if pod.node is not None and pod.ip is not None:
            self._ipam[pod.node].release(pod.ip)
        self.record(pod.deployment, "deleted", pod, at)
        self.publish()
        self.pod_changed(pod)

    # -- endpoints -------------------------------------------------------------------
    def publish(self) -> None:
        """EndpointSlices changed: every node installs the new endpoints ``syncDelay`` later.

        Changes made at the same instant reach the dataplanes in one sync, as kube-proxy
        batches them (``minSyncPeriod``), so the dataplane at time t holds the endpoints
        as they were at t - syncDelay.
        """
        due = self.env.now + self.sim.kube_proxy.sync_delay_s
        if self._pending is None:  # the first change at this instant: take the snapshot once, after the last
            self._pending = due
            self.env.process(self._snapshot_later())
        if due not in self._syncs:
            self._syncs[due] = []
            self.env.process(self._sync(due))

    def _snapshot_later(self) -> Any:
        yield self.env.timeout(0)
        self._flush()

    def _flush(self) -> None:
        """Take the snapshot of changes published at this instant (once, however many there were)."""
        due = self._pending
        if due is None:
            return
        self._pending = None
        self._syncs[due] = [self.slices.rules(port) for port in range(self.n_ports)]

    def wait_unrouted(self, pod: Pod) -> simpy.Event:
        """An event that fires once nothing routes new connections to ``pod`` (terminating)."""
        event = self.env.event()
        self._unrouted[pod.index] = event
        return event

    def forget_unrouted(self, pod: Pod) -> None:
        self._unrouted.pop(pod.index, None)

    def _sync(self, due: float) -> Any:
        yield self.env.timeout(due - self.env.now)
        self._flush()
        self.catch_up()
        snapshot = self._syncs.pop(due)
        before = self._routed()
        for plane in self.dataplanes:
            for port, rules in enumerate(snapshot):
                plane.install(port, rules)
        self._installed()
        routed = self._routed()
        for index in sorted(routed - before):
            pod = self.pods[index]
            pod.routed_at = min(pod.routed_at, self.env.now)
            pod.unrouted_at = INF
        for index in sorted(before - routed):
            self.pods[index].unrouted_at = self.env.now
        self.check_unrouted(due - self.sim.kube_proxy.sync_delay_s)
        for dep in self.scenario.deployments:
            self.record(dep.name, "synced", None)

    def check_unrouted(self, taken_at: float) -> None:
        """Release terminating pods that nothing routes to any more.

        Only state taken after the pod began terminating can have dropped it for good; an
        older snapshot may lack it merely because it was not Ready yet. A snapshot published
        but not yet installed may still route it (as a terminating fallback when no endpoint
        is Ready), so a pod in one is not released either.
        """
        self._flush()
        if not self._unrouted:
            return  # no pod waits for it
        routed = self._routed()
        for snapshot in self._syncs.values():
            for rules in snapshot:
                routed |= rules.usable_pods()
        for index, event in list(self._unrouted.items()):
            if index not in routed and not event.triggered and self.pods[index].terminating_at <= taken_at:
                event.succeed()

    def _routed(self) -> set[int]:
        """Pods some node's dataplane, or a balancer sending to pod IPs, routes to (a new set)."""
        routed = set(self._plane_routed)
        for extra in self.balancer_routes:
            routed.update(extra())
        return routed

    def _installed(self) -> None:
        """The dataplanes installed new rules: what they route to now (only installs change it)."""
        arrays: dict[int, np.ndarray] = {}  # nodes share their endpoint arrays: read each one once
        for plane in self.dataplanes:
            for port in range(self.n_ports):
                for pods in (plane.external[port], plane.internal[port]):
                    arrays.setdefault(id(pods), pods)
        routed = np.unique(np.concatenate(list(arrays.values()))) if arrays else np.empty(0, dtype=np.int64)
        self._plane_routed = set(routed.tolist())
        codes = np.bincount(self._deployment_code[routed], minlength=len(self._deployment_names))
        self._plane_routed_of = dict(zip(self._deployment_names, codes.tolist(), strict=True))

    def _routed_count(self, deployment: str) -> int:
        """How many of the Deployment's pods some dataplane or balancer routes to."""
        if not self.balancer_routes:
            return self._plane_routed_of.get(deployment, 0)
        return sum(1 for i in self._routed() if self.pods[i].deployment == deployment)

    # -- what the run records --------------------------------------------------------
    def record(self, deployment: str, event: str, pod: Pod | None, at: float | None = None) -> None:
        """A timeline row: a change of ``deployment`` (optionally of one of its pods)."""
        row = self._row(deployment, event, pod.name if pod is not None else None, None, at)
        last = self._last_row.get(deployment)
        if event == "synced" and last is not None and last["endpoints"] == row["endpoints"]:
            return  # a sync that changed nothing for this Deployment is not a change
        self._append(row)

    def record_row(self, deployment: str, event: str, detail: str) -> None:
        """A timeline row for a change outside the Deployment itself (load-balancer rotation)."""
        self._append(self._row(deployment, event, None, detail))

    def _append(self, row: dict[str, Any]) -> None:
        self.timeline.append(row)
        self._last_row[row["deployment"]] = row

    def event(self, type_: str, reason: str, obj: str, message: str, at: float | None = None) -> None:
        """A row of ``kubectl get events`` (docs/semantics.md#kubectl-views)."""
        self.events.append(
            {
                "time": float(self.env.now if at is None else at),
                "type": type_,
                "reason": reason,
                "object": obj,
                "message": message,
            }
        )

    def status(self, pod: Pod, status: str, ready: bool | None = None) -> None:
        """``pod`` shows ``status`` in ``kubectl get pods`` from now on."""
        shown = pod.condition_ready if ready is None else ready
        self._shown[pod.index] = status
        self.pod_status.append(
            {
                "time": float(self.env.now),
                "pod": pod.name,
                "status": status,
                "ready": "1/1" if shown else "0/1",
                "restarts": pod.restarts,
            }
        )

    def scrapable(self, pod: Pod) -> bool:
        """Whether metrics-server gets an answer for ``pod`` now: its container runs on a
        reachable node (docs/semantics.md#metrics-pipeline)."""
        if pod.node is None or pod.gone_at < INF or self.nodes.down(pod.node):
            return False
        return self.shown_status(pod) not in ("Pending", "ContainerCreating", "CrashLoopBackOff", "Error")

    def shown_status(self, pod: Pod) -> str:
        """The pod's STATUS in ``kubectl get pods`` now."""
        return self._shown.get(pod.index, "Pending")

    def _row(
        self, deployment: str, event: str, pod: str | None, detail: str | None, at: float | None = None
    ) -> dict[str, Any]:
        return {
            "time": float(self.env.now if at is None else at),
            "deployment": deployment,
            "pods_total": len(self._live_of[deployment]),
            "pods_ready": self._ready_of[deployment],
            "endpoints": self._routed_count(deployment),
            "event": event,
            "pod": pod,
            "detail": detail,
        }

    def catch_up(self) -> None:
        """Let every request reach the present before the state it sees changes."""
        self.engine.advance(self.env.now)
