"""How many pods a run creates, and how many change at once: the estimate behind svcsim's pod limits.

Each Deployment starts with its replicas; then the events act in the order the run applies
them (by time, ties as written; events after the end never happen):

- a scale event adds (or removes) the difference;
- a rollout creates the Deployment's replicas in effect anew, in a new ReplicaSet, and old
  and new pods live side by side while it runs;
- a node failure gets replacements for the pods on the failed nodes once they are evicted
  (node-monitor grace period, then the 300 s NoExecute toleration:
  docs/semantics.md#node-failure), unless the node recovers first
  or the run ends. A Deployment's pods on the failed nodes are its pods times those nodes'
  share of the nodes it may run on that are still up, rounded up (the scheduler's spread
  score places a ReplicaSet's pods about evenly);
- a crash creates no pod (the container restarts in place) but takes pods out of the
  endpoints and back, as do the random ``failures`` of a workload.

The counts are upper bounds where the run's details (placement, timing) are not known.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

from sim.kube.deployment import Deployment
from sim.scenario.simulation import CrashEvent, NodeEvent, RolloutEvent, ScaleEvent, Simulation, in_run_order

__all__ = ["TOLERATION_S", "PodCount"]

#: DefaultTolerationSeconds for ``node.kubernetes.io/unreachable:NoExecute``: a pod on an
#: unreachable node is evicted this long after the node turns Ready=Unknown.
TOLERATION_S = 300.0
_ZONE_LABEL = "topology.kubernetes.io/zone"


class PodCount:
    """The pods a run creates (``total``, and by the event that creates them), the worker
    slots they hold, and the pods each event changes in the endpoints."""

    def __init__(self, sim: Simulation, deployments: Sequence[Deployment]) -> None:
        self.sim = sim
        self.initial = {d.name: d.replicas for d in deployments}
        self.total = sum(self.initial.values())
        #: Worker slots by the field that set their concurrency (``spec.workloads.X.concurrency``,
        #: or a rollout's ``spec.events[i].rollout.workload.concurrency``): that field's value, and
        #: each pod created under it × that value.
        self.workers: dict[str, tuple[int, int]] = {}
        self._source = {name: f"spec.workloads.{name}.concurrency" for name in sim.workloads}
        #: In run order, per event that creates pods: its index and the total after it.
        self.totals: list[tuple[int, int]] = []
        #: Per event index: pods it takes in or out of the endpoints, and pods alive at most around it.
        self.changes: dict[int, tuple[int, int]] = {}
        #: Per workload with random failures: pods that expect to crash, each out and back in.
        self.failure_changes: dict[str, float] = {}
        self._concurrency = {name: w.concurrency for name, w in sim.workloads.items()}
        for d in deployments:
            self._add_workers(d.name, d.replicas)
        self._current = dict(self.initial)
        self._known = {n.name for n in sim.cluster.nodes}
        self._zones: dict[str, list[str]] = {}
        for node in sim.cluster.nodes:
            if _ZONE_LABEL in node.labels:
                self._zones.setdefault(node.labels[_ZONE_LABEL], []).append(node.name)
        order = in_run_order(sim.events)
        self._position = {i: p for p, i in enumerate(order)}
        self._order = order
        #: Per node: the positions in run order of the recover events that name it.
        self._recovers: dict[str, list[int]] = {}
        for position, j in enumerate(order):
            event = sim.events[j]
            if isinstance(event, NodeEvent) and event.action == "recover":
                for name in self.nodes_of(event):
                    self._recovers.setdefault(name, []).append(position)
        # Deployments that may run on the same nodes form a placement group (None: every node).
        self._group_of = {d.name: _placement_key(d) for d in deployments}
        self._groups = {key: _eligible(key, sim) for key in sorted(set(self._group_of.values()), key=repr)}
        self._down_in = dict.fromkeys(self._groups, 0)  # per group: its nodes that are down
        self._down: set[str] = set()
        self.peak = self.alive = self.total
        #: Per Deployment: most pods alive at once, and the largest concurrency of its revisions.
        self.peak_pods = dict(self.initial)
        self.most_concurrency = dict(self._concurrency)
        for i in order:
            event = sim.events[i]
            if event.at_s > sim.duration_s:
                continue
            if isinstance(event, ScaleEvent):
                self._scale(i, event)
            elif isinstance(event, RolloutEvent):
                self._rollout(i, event)
            elif isinstance(event, CrashEvent):
                self._crash(i, event)
            elif event.action == "fail":
                self._fail(i, event)
            else:
                self._recover(event)
        for name, workload in sim.workloads.items():
            if workload.failures is not None and name in self.peak_pods:
                crashes = self.peak_pods[name] * sim.duration_s / workload.failures.mean_time_between_s
                self.failure_changes[name] = 2 * crashes

    def nodes_of(self, event: NodeEvent) -> list[str]:
        """The nodes a fail or recover event names: one, or every node of the zone."""
        if event.node is not None:
            return [event.node] if event.node in self._known else []
        return self._zones.get(event.zone or "", [])

    def _create(self, i: int, deployment: str, pods: int) -> None:
        self.total += pods
        self._add_workers(deployment, pods)
        if pods > 0:
            self.totals.append((i, self.total))

    def _add_workers(self, deployment: str, pods: int) -> None:
        if deployment in self._source:
            source, concurrency = self._source[deployment], self._concurrency[deployment]
            self.workers[source] = (concurrency, self.workers.get(source, (0, 0))[1] + pods * concurrency)

    def _set_alive(self, deployment: str, pods: int) -> None:
        self.alive += pods - self._current[deployment]
        self._current[deployment] = pods
        self.peak = max(self.peak, self.alive)
        self.peak_pods[deployment] = max(self.peak_pods[deployment], pods)

    def _scale(self, i: int, event: ScaleEvent) -> None:
        if event.deployment not in self._current:
            return
        delta = event.replicas - self._current[event.deployment]
        self._create(i, event.deployment, max(0, delta))
        self.changes[i] = (abs(delta), max(self.alive, self.alive + delta))
        self._set_alive(event.deployment, event.replicas)

    def _rollout(self, i: int, event: RolloutEvent) -> None:
        name = event.deployment
        if name not in self._current:
            return
        if event.workload is not None:
            if event.workload.concurrency != self._concurrency.get(name):
                self._source[name] = f"spec.events[{i}].rollout.workload.concurrency"
            self._concurrency[name] = event.workload.concurrency
            self.most_concurrency[name] = max(self.most_concurrency.get(name, 0), event.workload.concurrency)
        pods = self._current[name]
        self._create(i, name, pods)
        self.changes[i] = (2 * pods, self.alive + pods)  # each new pod joins, each old one leaves
        self.peak = max(self.peak, self.alive + pods)
        self.peak_pods[name] = max(self.peak_pods[name], 2 * pods)

    def _crash(self, i: int, event: CrashEvent) -> None:
        if event.pod is not None:
            self.changes[i] = (2, self.alive)
        elif event.deployment in self._current:
            self.changes[i] = (2 * min(event.count, self._current[event.deployment]), self.alive)

    def _fail(self, i: int, event: NodeEvent) -> None:
        failing = [n for n in self.nodes_of(event) if n not in self._down]
        evicted_at = event.at_s + self.sim.cluster.node_monitor_grace_period_s + TOLERATION_S
        staying = [n for n in failing if self._stays_down(i, n, evicted_at)]
        changed = replaced = 0
        hits = {group: (_count_in(failing, nodes), _count_in(staying, nodes)) for group, nodes in self._groups.items()}
        for name, pods in self._current.items():
            group = self._group_of[name]
            eligible = self._groups[group]
            up = (len(self.sim.cluster.nodes) if eligible is None else len(eligible)) - self._down_in[group]
            hit, evicted = hits[group]
            if not pods or not hit or up <= 0:
                continue
            changed += 2 * min(pods, math.ceil(pods * hit / up))  # out of endpoints, and back or replaced
            if evicted:
                new = min(pods, math.ceil(pods * evicted / up))
                self._create(i, name, new)
                self.peak_pods[name] = max(self.peak_pods[name], pods + new)
                replaced += new
        self._mark_down(failing, +1)
        if changed:
            self.changes[i] = (changed, self.alive + replaced)
        self.alive += replaced  # the evicted pods stay Terminating while their node is away
        self.peak = max(self.peak, self.alive)

    def _recover(self, event: NodeEvent) -> None:
        self._mark_down([n for n in self.nodes_of(event) if n in self._down], -1)

    def _mark_down(self, nodes: list[str], sign: int) -> None:
        """Nodes go down (+1) or come back (-1); each placement group counts its nodes down."""
        for group, eligible in self._groups.items():
            self._down_in[group] += sign * _count_in(nodes, eligible)
        if sign > 0:
            self._down.update(nodes)
        else:
            self._down.difference_update(nodes)

    def _stays_down(self, index: int, node: str, evicted_at: float) -> bool:
        """Whether ``node``, failing at event ``index``, is still down at ``evicted_at`` within
        the run: no recover event after this one brings it back by then."""
        if evicted_at > self.sim.duration_s:
            return False
        recovers = self._recovers.get(node, [])  # positions in run order, ascending
        after = bisect.bisect_right(recovers, self._position[index])
        # The first recover after the failure is the earliest, as run order is by time.
        return after == len(recovers) or self.sim.events[self._order[recovers[after]]].at_s > evicted_at


_PlacementKey = tuple[str | None, tuple[tuple[str, str], ...]]


def _placement_key(dep: Deployment) -> _PlacementKey:
    return dep.node_name, tuple(sorted(dep.node_selector.items()))


def _eligible(key: _PlacementKey, sim: Simulation) -> frozenset[str] | None:
    """The nodes a Deployment with this nodeName and nodeSelector may run on (None: every node)."""
    node_name, selector = key
    if node_name is None and not selector:
        return None
    return frozenset(
        n.name
        for n in sim.cluster.nodes
        if (node_name is None or n.name == node_name) and all(n.labels.get(k) == v for k, v in selector)
    )


def _count_in(nodes: list[str], eligible: frozenset[str] | None) -> int:
    """How many of ``nodes`` are in ``eligible`` (None: every node)."""
    return len(nodes) if eligible is None else sum(1 for n in nodes if n in eligible)
