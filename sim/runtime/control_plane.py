"""The control plane at run time: ReplicaSets, the scheduler, EndpointSlices, kube-proxy sync.

These are SimPy processes: they are few (one per pod start, stop and dataplane sync)
and they set the state that requests see. Every change first lets the traffic engine
catch up to the current time, so requests before the change see the old state and
requests after it the new one.

Rules (../shared/KUBERNETES.md):
- a new pod is Ready ``startupTime`` after creation; its endpoint reaches every node's
  dataplane ``syncDelay`` later;
- scale-down deletes not-ready pods first, then the newest (ReplicaSet ``ActivePods``
  ranking, pkg/controller/controller_utils.go); a deleted pod is ``terminating`` at
  once, leaves the dataplanes at the next sync, finishes what it holds and exits, or
  is killed when its grace period (``terminationGracePeriodSeconds``, 30 s) ends;
- a Service port's endpoints are the pods its selector matches whose ``targetPort``
  resolves (a named port must be one of the pod's container ports), each with its
  ``ready`` and ``serving`` conditions; each node's kube-proxy then decides which it
  may use (:mod:`sim.runtime.dataplane`).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from typing import Any, Protocol

import simpy

from sim.kube.addresses import PodIPAllocator, RangeFull, node_pod_cidr
from sim.kube.deployment import Deployment
from sim.kube.service import Service, ServicePort
from sim.randomness import Streams
from sim.runtime.dataplane import Dataplane, EndpointInfo, Rules
from sim.runtime.pods import INF, Pod
from sim.runtime.topology import Topology
from sim.scenario.load import Scenario

__all__ = ["ClusterRuntime"]

# kube's SafeEncodeString alphabet (no vowels, no confusable digits) for pod-name suffixes.
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


class TrafficHooks(Protocol):
    """What the control plane needs from the traffic engine."""

    def advance(self, horizon: float) -> None: ...
    def pod_added(self, pod: Pod) -> None: ...
    def finish_pod(self, pod: Pod) -> None: ...
    def busy_until(self, pod: Pod) -> float | None: ...


ZONE_LABEL = "topology.kubernetes.io/zone"


def service_ports(services: tuple[Service, ...] | list[Service]) -> list[tuple[Service, ServicePort]]:
    """Every (Service, port) pair: the unit kube-proxy programs rules for, in a fixed order."""
    return [(svc, port) for svc in services for port in svc.ports]


class ClusterRuntime:
    """Pods, their placement and lifecycle, and what every node's dataplane holds."""

    def __init__(
        self,
        env: simpy.Environment,
        scenario: Scenario,
        streams: Streams,
        topology: Topology,
        dataplanes: list[Dataplane],
    ) -> None:
        self.env = env
        self.scenario = scenario
        self.sim = scenario.simulation
        self.streams = streams
        self.topology = topology
        self.dataplanes = dataplanes
        self.traffic: TrafficHooks | None = None
        self.pods: list[Pod] = []
        self.node_names = [n.name for n in self.sim.cluster.nodes]
        self.services = list(scenario.services)
        self.ports = service_ports(scenario.services)
        self.zones = [n.labels.get(ZONE_LABEL) for n in self.sim.cluster.nodes]
        self._named_ports = {d.name: {p.name for p in d.ports if p.name} for d in scenario.deployments}
        self.batch_s = 1.0  # the engine sets its ticker period (used to poll pods it cannot predict)
        self._ipam = [PodIPAllocator(node_pod_cidr(self.sim.cluster.pod_cidr, i)) for i in range(len(self.node_names))]
        self._names = {d.name: streams.generator(f"deployment/{d.name}/names") for d in scenario.deployments}
        self._hash = {d.name: _template_hash(d) for d in scenario.deployments}
        self._unrouted: dict[int, simpy.Event] = {}
        self._syncs: dict[float, list[Rules]] = {}  # due time -> rules to install
        self.timeline: list[dict[str, Any]] = []
        self.balancer_routes: list[Callable[[], set[int]]] = []  # pods balancers send to directly
        self._live: dict[int, Pod] = {}  # pods not gone, by index (creation order)
        self._taken_names: set[str] = set()

    # -- queries ---------------------------------------------------------------------
    def live_pods(self, deployment: str) -> list[Pod]:
        return [p for p in self._live.values() if p.deployment == deployment]

    def endpoints(self, port: int) -> list[Pod]:
        """A Service port's endpoints as the EndpointSlice controller publishes them now:
        scheduled, not gone, selected, with the target port; in name order."""
        svc, service_port = self.ports[port]
        target = service_port.target_port
        return sorted(
            (
                p
                for p in self._live.values()
                if p.node is not None
                and svc.selects(p.labels)
                and (not isinstance(target, str) or target in self._named_ports[p.deployment])
            ),
            key=lambda p: p.name,
        )

    def rules(self, port: int) -> Rules:
        """What kube-proxy programs for a Service port, from its endpoints now."""
        svc, _ = self.ports[port]
        infos = tuple(
            EndpointInfo(p.index, p.node, self.zones[p.node], p.ready, p.serving)  # type: ignore[index,arg-type]
            for p in self.endpoints(port)
        )
        return Rules(
            endpoints=infos,
            external_local=svc.external_traffic_policy == "Local",
            internal_local=svc.internal_traffic_policy == "Local",
            distribution=svc.traffic_distribution,
            affinity_timeout_s=svc.affinity_timeout_s if svc.session_affinity == "ClientIP" else None,
        )

    def first_endpoint(self, port: int) -> Pod | None:
        """The first Ready pod of the Service by name (a ``via: podIP`` client's target)."""
        return next((p for p in self.endpoints(port) if p.ready), None)

    # -- changes ---------------------------------------------------------------------
    def start(self) -> None:
        """The cluster as it stands at t=0: every Deployment's pods Ready, rules synced."""
        for dep in self.scenario.deployments:
            for _ in range(dep.replicas):
                pod = self._create(dep)
                if pod.node is not None:
                    pod.ready_at = 0.0
                    pod.routed_at = 0.0
        for port in range(len(self.ports)):
            rules = self.rules(port)
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
        name = self._pod_name(dep)
        node = self._schedule(dep)
        ip = None
        if node is not None:
            try:
                ip = self._ipam[node].allocate()
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
        )
        self.pods.append(pod)
        self._live[pod.index] = pod
        self._taken_names.add(pod.name)
        self.topology.add_pod(pod.name, pod.ip, pod.deployment, self._node_name(pod.node), pod.labels)
        self._hooks().pod_added(pod)
        return pod

    def _node_name(self, node: int | None) -> str | None:
        return None if node is None else self.node_names[node]

    def _schedule(self, dep: Deployment) -> int | None:
        """nodeName if set; else among nodes matching nodeSelector, the one with fewest pods."""
        nodes = self.sim.cluster.nodes
        if dep.node_name is not None:
            return self.node_names.index(dep.node_name) if dep.node_name in self.node_names else None
        fits = [i for i, n in enumerate(nodes) if all(n.labels.get(k) == v for k, v in dep.node_selector.items())]
        if not fits:
            return None
        load = dict.fromkeys(fits, 0)
        for p in self._live.values():
            if p.node in load:
                load[p.node] += 1
        return min(fits, key=lambda i: (load[i], nodes[i].name))

    def _pod_name(self, dep: Deployment) -> str:
        taken = self._taken_names
        rng = self._names[dep.name]
        while True:
            suffix = "".join(_ALPHABET[int(i)] for i in rng.integers(0, len(_ALPHABET), 5))
            name = f"{dep.name}-{self._hash[dep.name]}-{suffix}"
            if name not in taken:
                return name

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
            self._hooks().finish_pod(pod)
            while env.now < pod.deadline:
                until = self._hooks().busy_until(pod)
                if until is not None:
                    exit_at = min(pod.deadline, max(left, until))
                    if exit_at < env.now:  # found idle on a later look: it went when it fell idle
                        yield from self._exit(pod, exit_at)
                        return
                    yield env.timeout(exit_at - env.now)
                    break
                # A pod whose requests wait on calls cannot be predicted: look again later.
                yield env.timeout(min(self.batch_s, pod.deadline - env.now))
                self._catch_up()
        yield from self._exit(pod)

    def _exit(self, pod: Pod, at: float | None = None) -> Any:
        """The pod's containers are gone (at ``at`` if that was found out later)."""
        self._catch_up()
        pod.gone_at = self.env.now if at is None else at
        self._live.pop(pod.index, None)
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
        snapshot = [self.rules(port) for port in range(len(self.ports))]
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
        older snapshot may lack it merely because it was not Ready yet.
        """
        routed = self._routed()
        for index, event in list(self._unrouted.items()):
            if index not in routed and not event.triggered and self.pods[index].terminating_at <= taken_at:
                event.succeed()

    def _routed(self) -> set[int]:
        """Pods some node's dataplane, or a balancer sending to pod IPs, routes to."""
        routed: set[int] = set()
        for extra in self.balancer_routes:
            routed.update(extra())
        for plane in self.dataplanes:
            for port in range(len(self.ports)):
                routed.update(plane.external[port].tolist())
                routed.update(plane.internal[port].tolist())
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

    def _hooks(self) -> TrafficHooks:
        assert self.traffic is not None, "attach the traffic engine before the run starts"
        return self.traffic

    def _catch_up(self) -> None:
        """Let every request reach the present before the state it sees changes."""
        self._hooks().advance(self.env.now)


def _template_hash(dep: Deployment) -> str:
    """A stable 10-character pod-template-hash, as the Deployment controller adds to names."""
    template = dep.manifest.get("spec", {}).get("template", {})
    value = zlib.crc32(json.dumps(template, sort_keys=True, default=str).encode())
    value = value * 2654435761 % (27**10)
    chars = []
    for _ in range(10):
        value, rest = divmod(value, 27)
        chars.append(_ALPHABET[rest])
    return "".join(chars)
