"""The control plane at run time: ReplicaSets, pod lifecycle, EndpointSlice publication, kube-proxy sync.

These are SimPy processes: they are few (one per pod start, stop and dataplane sync)
and they set the state that requests see. Every change first lets the request engine
catch up to the current time, so requests before the change see the old state and
requests after it the new one. Naming (:mod:`~sim.runtime.pod_identity`), placement
(:mod:`~sim.runtime.placement`), pod IPs (:mod:`sim.kube.addresses`) and endpoints
(:mod:`~sim.runtime.endpoint_slices`) live in their own modules.

Rules (docs/semantics.md#scaling-and-termination, #endpoint-lifecycle-and-propagation):
- a new pod is Ready ``startupTime`` after creation; its endpoint reaches every node's
  dataplane ``syncDelay`` later;
- scale-down deletes not-ready pods first, then the newest (ReplicaSet ``ActivePods``
  ranking, pkg/controller/controller_utils.go); a deleted pod is ``terminating`` at
  once, leaves the dataplanes at the next sync, finishes what it holds and exits, or
  is killed when its grace period (``terminationGracePeriodSeconds``, 30 s) ends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import simpy

from sim.kube.addresses import PodIPAllocator, RangeFull, node_pod_cidr
from sim.kube.deployment import Deployment
from sim.randomness import Streams
from sim.runtime.dataplane import Dataplane, Rules
from sim.runtime.endpoint_slices import EndpointSlices
from sim.runtime.placement import Placement
from sim.runtime.pod_identity import PodNames
from sim.runtime.pods import INF, Pod
from sim.runtime.requests.rules import PodLimits
from sim.runtime.topology import Topology
from sim.scenario.resolved import Scenario
from sim.scenario.simulation import OnCancel

__all__ = ["ZONE_LABEL", "ControlPlane"]


class TrafficHooks(Protocol):
    """What the control plane needs from the traffic engine."""

    def advance(self, horizon: float) -> None: ...
    def pod_added(self, pod: Pod) -> None: ...
    def finish_pod(self, pod: Pod) -> None: ...
    def busy_until(self, pod: Pod) -> float | None: ...
    def pod_terminating(self, pod: Pod) -> None: ...


ZONE_LABEL = "topology.kubernetes.io/zone"


class ControlPlane:
    """Pods, their placement and lifecycle, and what every node's dataplane holds."""

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
    ) -> None:
        """``pods`` (every pod, by index) and ``live`` (those not gone) are shared with
        ``slices`` and the request ``engine``; ``poll_s`` is how often a pod whose end cannot
        be predicted is looked at again; ``balancer_routes`` give the pods balancers send
        to directly."""
        self.env = env
        self.scenario = scenario
        self.sim = scenario.simulation
        self.streams = streams
        self.topology = topology
        self.dataplanes = dataplanes
        self.pods = pods
        self.slices = slices
        self.engine = engine
        self.poll_s = poll_s
        self.balancer_routes = balancer_routes
        self.node_names = [n.name for n in self.sim.cluster.nodes]
        self.n_ports = len(slices.ports)
        self._ipam = [PodIPAllocator(node_pod_cidr(self.sim.cluster.pod_cidr, i)) for i in range(len(self.node_names))]
        self._placement = Placement(self.sim.cluster.nodes)  # pods per node, kept as pods come and go
        self._names = PodNames(
            scenario.deployments,
            {d.name: streams.generator(f"deployment/{d.name}/names") for d in scenario.deployments},
        )
        self._unrouted: dict[int, simpy.Event] = {}
        self._syncs: dict[float, list[Rules]] = {}  # due time -> rules to install
        self.timeline: list[dict[str, Any]] = []
        self._live = live

    def live_pods(self, deployment: str) -> list[Pod]:
        return [p for p in self._live.values() if p.deployment == deployment]

    # -- changes ---------------------------------------------------------------------
    def start(self) -> None:
        """The cluster as it stands at t=0: every Deployment's pods Ready, rules synced."""
        for dep in self.scenario.deployments:
            for _ in range(dep.replicas):
                pod = self._create(dep)
                if pod.node is not None:
                    pod.ready_at = 0.0
                    pod.routed_at = 0.0
        for port in range(self.n_ports):
            rules = self.slices.rules(port)
            for plane in self.dataplanes:
                plane.install(port, rules)
        for dep in self.scenario.deployments:
            self._record(dep.name, "start", None)

    def scale(self, deployment: str, replicas: int) -> None:
        """Set a Deployment's replica count, as ``kubectl scale`` does."""
        self._catch_up()
        dep = self.scenario.deployment(deployment)
        active = [p for p in self.live_pods(deployment) if p.terminating_at == INF]
        self._record(deployment, f"scale to {replicas}", None)
        if replicas > len(active):
            for _ in range(replicas - len(active)):
                pod = self._create(dep)
                self._record(deployment, "created" if pod.node is not None else "pending", pod)
                if pod.node is not None:
                    self.env.process(self._start_up(pod))
        elif replicas < len(active):
            ranked = sorted(active, key=lambda p: (p.node is not None, p.ready, -p.created_at, -p.index))
            for pod in ranked[: len(active) - replicas]:
                self.env.process(self._terminate(pod))

    def _create(self, dep: Deployment) -> Pod:
        workload = self.sim.workloads[dep.name]
        name = self._names.new(dep.name)
        node = self._placement.choose(dep)
        ip = None
        if node is not None:
            try:
                ip = self._ipam[node].allocate()
                self._placement.bind(node)
            except RangeFull:  # the node's pod CIDR is used up: the sandbox never starts
                node = None
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
            limits=PodLimits(workload.queue_limit, workload.max_connections, workload.on_cancel == OnCancel.DROP),
        )
        self.pods.append(pod)
        self._live[pod.index] = pod
        self.topology.add_pod(pod.name, pod.ip, pod.deployment, self._node_name(pod.node), pod.labels)
        self.engine.pod_added(pod)
        return pod

    def _node_name(self, node: int | None) -> str | None:
        return None if node is None else self.node_names[node]

    def _start_up(self, pod: Pod) -> Any:
        yield self.env.timeout(self.sim.workloads[pod.deployment].startup_time_s)
        if pod.terminating_at < INF:
            return
        self._catch_up()
        pod.ready_at = self.env.now
        self._record(pod.deployment, "ready", pod)
        self._publish()

    def _terminate(self, pod: Pod) -> Any:
        self._catch_up()
        env = self.env
        pod.terminating_at = env.now
        pod.deadline = env.now + pod.grace_period_s
        self.engine.pod_terminating(pod)
        self._record(pod.deployment, "terminating", pod)
        if pod.ready_at == INF:  # never served: nothing to drain
            yield from self._exit(pod)
            return
        unrouted = env.event()
        self._unrouted[pod.index] = unrouted
        self._publish()
        yield unrouted | env.timeout(pod.grace_period_s)
        self._unrouted.pop(pod.index, None)
        self._catch_up()
        if unrouted.triggered:  # no node sends it new requests: finish what it holds
            left = env.now
            self.engine.finish_pod(pod)
            while env.now < pod.deadline:
                until = self.engine.busy_until(pod)
                if until is not None:
                    exit_at = min(pod.deadline, max(left, until))
                    if exit_at < env.now:  # found idle on a later look: it went when it fell idle
                        yield from self._exit(pod, exit_at)
                        return
                    yield env.timeout(exit_at - env.now)
                    break
                # A pod whose requests wait on calls cannot be predicted: look again later.
                yield env.timeout(min(self.poll_s, pod.deadline - env.now))
                self._catch_up()
        yield from self._exit(pod)

    def _exit(self, pod: Pod, at: float | None = None) -> Any:
        """The pod's containers are gone (at ``at`` if that was found out later)."""
        self._catch_up()
        pod.gone_at = self.env.now if at is None else at
        if self._live.pop(pod.index, None) is not None and pod.node is not None:
            self._placement.unbind(pod.node)
        if pod.node is not None and pod.ip is not None:
            self._ipam[pod.node].release(pod.ip)
        self._record(pod.deployment, "deleted", pod, at)
        self._publish()
        yield from ()

    def _publish(self) -> None:
        """EndpointSlices changed: every node installs the new endpoints ``syncDelay`` later.

        Changes made at the same instant reach the dataplanes in one sync, as kube-proxy
        batches them (``minSyncPeriod``), so the dataplane at time t holds the endpoints
        as they were at t - syncDelay.
        """
        snapshot = [self.slices.rules(port) for port in range(self.n_ports)]
        due = self.env.now + self.sim.kube_proxy.sync_delay_s
        if due not in self._syncs:
            self.env.process(self._sync(due))
        self._syncs[due] = snapshot

    def _sync(self, due: float) -> Any:
        yield self.env.timeout(due - self.env.now)
        self._catch_up()
        snapshot = self._syncs.pop(due)
        before = self._routed()
        for plane in self.dataplanes:
            for port, rules in enumerate(snapshot):
                plane.install(port, rules)
        routed = self._routed()
        for index in sorted(routed - before):
            pod = self.pods[index]
            pod.routed_at = min(pod.routed_at, self.env.now)
            pod.unrouted_at = INF
        for index in sorted(before - routed):
            self.pods[index].unrouted_at = self.env.now
        self.check_unrouted(due - self.sim.kube_proxy.sync_delay_s)
        for dep in self.scenario.deployments:
            self._record(dep.name, "synced", None)

    def check_unrouted(self, taken_at: float) -> None:
        """Release terminating pods that nothing routes to any more.

        Only state taken after the pod began terminating can have dropped it for good; an
        older snapshot may lack it merely because it was not Ready yet. A snapshot published
        but not yet installed may still route it (as a terminating fallback when no endpoint
        is Ready), so a pod in one is not released either.
        """
        routed = self._routed()
        for snapshot in self._syncs.values():
            for rules in snapshot:
                routed |= rules.usable_pods()
        for index, event in list(self._unrouted.items()):
            if index not in routed and not event.triggered and self.pods[index].terminating_at <= taken_at:
                event.succeed()

    def _routed(self) -> set[int]:
        """Pods some node's dataplane, or a balancer sending to pod IPs, routes to."""
        routed: set[int] = set()
        for extra in self.balancer_routes:
            routed.update(extra())
        seen: set[int] = set()  # nodes share their endpoint arrays: read each one once
        for plane in self.dataplanes:
            for port in range(self.n_ports):
                for pods in (plane.external[port], plane.internal[port]):
                    if id(pods) not in seen:
                        seen.add(id(pods))
                        routed.update(pods.tolist())
        return routed

    def _record(self, deployment: str, event: str, pod: Pod | None, at: float | None = None) -> None:
        row = self._row(deployment, event, pod.name if pod is not None else None, None, at)
        last = next((r for r in reversed(self.timeline) if r["deployment"] == deployment), None)
        if event == "synced" and last is not None and last["endpoints"] == row["endpoints"]:
            return  # a sync that changed nothing for this Deployment is not a change
        self.timeline.append(row)

    def record_row(self, deployment: str, event: str, detail: str) -> None:
        """A timeline row for a change outside the Deployment itself (load-balancer rotation)."""
        self.timeline.append(self._row(deployment, event, None, detail))

    def _row(
        self, deployment: str, event: str, pod: str | None, detail: str | None, at: float | None = None
    ) -> dict[str, Any]:
        live = self.live_pods(deployment)
        routed = self._routed()
        return {
            "time": float(self.env.now if at is None else at),
            "deployment": deployment,
            "pods_total": len(live),
            "pods_ready": sum(p.ready for p in live),
            "endpoints": sum(1 for i in routed if self.pods[i].deployment == deployment),
            "event": event,
            "pod": pod,
            "detail": detail,
        }

    def _catch_up(self) -> None:
        """Let every request reach the present before the state it sees changes."""
        self.engine.advance(self.env.now)
