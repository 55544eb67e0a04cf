"""kube-scheduler's choice of node for a new pod (docs/semantics.md#scheduling).

One scheduling cycle, as the default profile runs it for a pod without affinity, tolerations
or priorities of its own:

- **Filter** (in plugin order; a node fails at the first plugin that rejects it):
  TaintToleration (a NotReady node's ``node.kubernetes.io/unreachable:NoSchedule`` taint),
  NodeAffinity (``nodeSelector``), NodeResourcesFit (pod count, then cpu and memory requests
  against allocatable minus what the node's pods request). Nodes are examined from a start
  index that rotates between cycles, and the search stops once ``numFeasibleNodesToFind``
  nodes fit (percentageOfNodesToScore, adaptive: 50 − nodes/125 %, at least 5 %, and at
  least 100 nodes).
- **Score** the feasible nodes: NodeResourcesFit LeastAllocated (cpu and memory weight 1, with
  the non-zero defaults 100m / 200Mi for a pod without requests), NodeResourcesBalancedAllocation
  (skipped for a best-effort pod), the default PodTopologySpread constraints (hostname maxSkew 3,
  zone maxSkew 5, ScheduleAnyway) normalised to 0..100; plugin weights 1, 1 and 2. Plugins whose
  score is the same on every node here (TaintToleration, NodeAffinity, InterPodAffinity,
  ImageLocality) cannot change the choice and are left out.
- **Select** uniformly at random among the nodes with the top score (selectHost's reservoir
  sampling), with one uniform draw from the ``scheduler/ties`` stream when two or more tie.
- **No fit**: the FitError message, preemption's part included, in upstream wording.

The arithmetic is integer where Go's is (int64 scores, truncating division) and float where
Go's is, so the scores are upstream's to the point. Every filter and score is a numpy
operation over the nodes, so a cycle costs a few dozen array operations whatever the cluster.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from sim.scenario.simulation import Node

__all__ = [
    "DEFAULT_CPU_REQUEST_M",
    "DEFAULT_MEMORY_REQUEST_B",
    "ZONE_LABEL",
    "PodSpec",
    "Scheduler",
    "nodes_to_find",
]

ZONE_LABEL = "topology.kubernetes.io/zone"
#: schedutil.DefaultMilliCPURequest / DefaultMemoryRequest: what scoring assumes for a pod
#: that requests nothing (GetNonzeroRequests), so best-effort pods still spread.
DEFAULT_CPU_REQUEST_M = 100
DEFAULT_MEMORY_REQUEST_B = 200 * 1024 * 1024
MAX_NODE_SCORE = 100
#: Score plugin weights of the default profile (apis/config/v1/default_plugins.go).
FIT_WEIGHT = 1
BALANCED_WEIGHT = 1
SPREAD_WEIGHT = 2
#: The system default spread constraints (podtopologyspread/plugin.go systemDefaultConstraints).
HOSTNAME_MAX_SKEW = 3
ZONE_MAX_SKEW = 5
#: scheduler.go minFeasibleNodesToFind and minFeasibleNodesPercentageToFind.
MIN_FEASIBLE_NODES = 100
MIN_FEASIBLE_PERCENT = 5

UNREACHABLE_TAINT = "node(s) had untolerated taint {node.kubernetes.io/unreachable: }"
TO_BE_DELETED = "node(s) had untolerated taint {{ToBeDeletedByClusterAutoscaler: {value}}}"
SELECTOR_MISMATCH = "node(s) didn't match Pod's node affinity/selector"
TOO_MANY_PODS = "Too many pods"
INSUFFICIENT_CPU = "Insufficient cpu"
INSUFFICIENT_MEMORY = "Insufficient memory"
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"


@dataclass(frozen=True)
class PodSpec:
    """What the scheduler reads from a pod: its requests (the sum of its containers'; 0 for
    none), its ``nodeSelector`` and its spread group (the pods the default spread constraints
    count: those of its ReplicaSet, whose selector the constraints take)."""

    cpu_m: int
    memory_b: int
    selector: tuple[tuple[str, str], ...]
    group: str

    @property
    def best_effort(self) -> bool:
        return self.cpu_m == 0 and self.memory_b == 0


def nodes_to_find(nodes: int) -> int:
    """``numFeasibleNodesToFind`` with the default (adaptive) percentageOfNodesToScore.

    >>> nodes_to_find(50), nodes_to_find(150), nodes_to_find(1000), nodes_to_find(5000)
    (50, 100, 420, 500)
    """
    if nodes < MIN_FEASIBLE_NODES:
        return nodes
    percent = max(MIN_FEASIBLE_PERCENT, 50 - nodes // 125)
    return max(MIN_FEASIBLE_NODES, nodes * percent // 100)


class Scheduler:
    """The nodes' allocatable and requested resources, kept as pods are bound and go, and
    the scheduling cycle over them.

    ``uniform`` gives the draws that break ties among the top scores.
    """

    def __init__(self, nodes: Sequence[Node], uniform: Callable[[], float]) -> None:
        self._uniform = uniform
        self.names: list[str] = []
        self._labels: list[dict[str, str]] = []
        self._zones: list[str] = []  # zone names, by code
        self._zone = np.zeros(0, dtype=np.int64)  # per node: zone code, -1 without the label
        self.alloc_cpu = np.zeros(0, dtype=np.int64)
        self.alloc_memory = np.zeros(0, dtype=np.int64)
        self.alloc_pods = np.zeros(0, dtype=np.int64)
        self.requested_cpu = np.zeros(0, dtype=np.int64)
        self.requested_memory = np.zeros(0, dtype=np.int64)
        self._nonzero_cpu = np.zeros(0, dtype=np.int64)
        self._nonzero_memory = np.zeros(0, dtype=np.int64)
        self.pods = np.zeros(0, dtype=np.int64)
        self._tainted = np.zeros(0, dtype=bool)
        self._absent = np.zeros(0, dtype=bool)  # a cluster autoscaler's node not (or no longer) there
        self._deleting: dict[int, int] = {}  # node -> its ToBeDeletedByClusterAutoscaler taint's value
        self._groups: dict[str, np.ndarray] = {}  # spread group -> its counted pods per node
        self._selectors: dict[tuple[tuple[str, str], ...], np.ndarray] = {}
        self._zoned_nodes: dict[tuple[tuple[str, str], ...], tuple[np.ndarray, np.ndarray]] = {}
        self._zoneless = False  # some node has no zone label
        self._generation = 0  # counts changes that can turn a failure into a fit
        self._failures: dict[PodSpec, tuple[int, str]] = {}  # a spec's last FitError and its generation
        self._fit: dict[tuple[int, int], np.ndarray] = {}  # LeastAllocated per node, by the pod's requests
        self._balance: dict[tuple[int, int], np.ndarray] = {}  # BalancedAllocation, likewise
        self._order = np.zeros(0, dtype=np.int64)  # the snapshot's node order (zones interleaved)
        self._start = 0  # nextStartNodeIndex
        for node in nodes:
            self.add_node(node)

    # -- the cluster -----------------------------------------------------------------
    def add_node(self, node: Node) -> int:
        """A node joins (at start, or from a cluster autoscaler); returns its index."""
        index = len(self.names)
        self.names.append(node.name)
        self._labels.append(dict(node.labels))
        zone = node.labels.get(ZONE_LABEL)
        if zone is not None and zone not in self._zones:
            self._zones.append(zone)
        code = self._zones.index(zone) if zone is not None else -1
        self._zoneless |= zone is None
        self._zoned_nodes.clear()
        self._zone = np.append(self._zone, code)
        a = node.allocatable
        self.alloc_cpu = np.append(self.alloc_cpu, a.cpu_m)
        self.alloc_memory = np.append(self.alloc_memory, a.memory_b)
        self.alloc_pods = np.append(self.alloc_pods, a.pods)
        for name in ("requested_cpu", "requested_memory", "_nonzero_cpu", "_nonzero_memory", "pods"):
            setattr(self, name, np.append(getattr(self, name), 0))
        self._tainted = np.append(self._tainted, False)
        self._absent = np.append(self._absent, False)
        for group, counts in self._groups.items():
            self._groups[group] = np.append(counts, 0)
        for key, mask in self._selectors.items():
            self._selectors[key] = np.append(mask, self._matches(index, key))
        for cache, score in ((self._fit, _least_allocated), (self._balance, _balanced)):
            for requests, values in cache.items():
                cache[requests] = np.append(values, score(self, index, *requests))
        self._order = self._interleaved()
        self._generation += 1
        return index

    def _interleaved(self) -> np.ndarray:
        """The node tree's order: the first node of each zone (zones in order of appearance),
        then the second of each, and so on (NodeTree.list)."""
        by_zone: dict[int, list[int]] = {}
        for i, code in enumerate(self._zone.tolist()):
            by_zone.setdefault(code, []).append(i)
        rows = list(by_zone.values())
        out = [row[k] for k in range(max(map(len, rows), default=0)) for row in rows if k < len(row)]
        return np.array(out, dtype=np.int64)

    def taint(self, node: int) -> None:
        """The node lifecycle controller's unreachable NoSchedule taint: no new pod goes there."""
        self._tainted[node] = True
        self._generation += 1

    def untaint(self, node: int) -> None:
        self._tainted[node] = False
        self._generation += 1

    def set_present(self, node: int, present: bool) -> None:
        """A cluster autoscaler's node joins (``present``) or leaves the cluster; an absent
        node is no node at all: not examined, not counted in "0/N nodes are available"."""
        self._absent[node] = not present
        self._deleting.pop(node, None)
        self._generation += 1

    @property
    def present(self) -> int:
        """Nodes in the cluster now."""
        return len(self.names) - int(self._absent.sum())

    def is_present(self, node: int) -> bool:
        return not bool(self._absent[node])

    def mark_deleting(self, node: int, value: int) -> None:
        """cluster-autoscaler's ``ToBeDeletedByClusterAutoscaler=<value>:NoSchedule`` taint
        (``value``: the Unix time it was added; svcsim's simulated second)."""
        self._deleting[node] = value
        self._generation += 1

    def bind(self, node: int, pod: PodSpec) -> None:
        """A pod now runs on ``node``: its requests count there, and it counts for spreading."""
        self.pods[node] += 1
        self.requested_cpu[node] += pod.cpu_m
        self.requested_memory[node] += pod.memory_b
        self._nonzero_cpu[node] += pod.cpu_m or DEFAULT_CPU_REQUEST_M
        self._nonzero_memory[node] += pod.memory_b or DEFAULT_MEMORY_REQUEST_B
        self._group(pod.group)[node] += 1
        self._rescore(node)
        self._generation += 1

    def stop_spreading(self, node: int, pod: PodSpec) -> None:
        """The pod is terminating: spreading no longer counts it (countPodsMatchSelector skips
        pods with a deletionTimestamp), though its requests hold until it is gone."""
        self._group(pod.group)[node] -= 1

    def release(self, node: int, pod: PodSpec, spreading: bool) -> None:
        """The pod on ``node`` is gone (``spreading``: it still counted for spreading)."""
        self.pods[node] -= 1
        self.requested_cpu[node] -= pod.cpu_m
        self.requested_memory[node] -= pod.memory_b
        self._nonzero_cpu[node] -= pod.cpu_m or DEFAULT_CPU_REQUEST_M
        self._nonzero_memory[node] -= pod.memory_b or DEFAULT_MEMORY_REQUEST_B
        if spreading:
            self._group(pod.group)[node] -= 1
        self._rescore(node)
        self._generation += 1

    def _group(self, group: str) -> np.ndarray:
        counts = self._groups.get(group)
        if counts is None:
            counts = self._groups[group] = np.zeros(len(self.names), dtype=np.int64)
        return counts

    def _matches(self, node: int, selector: tuple[tuple[str, str], ...]) -> bool:
        labels = self._labels[node]
        return all(labels.get(k) == v for k, v in selector)

    def _zoned(self, selector: tuple[tuple[str, str], ...], selected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The nodes with a zone that ``selector`` admits, and their zones (kept per selector)."""
        found = self._zoned_nodes.get(selector)
        if found is None:
            admitted = np.flatnonzero(selected & (self._zone >= 0))
            found = self._zoned_nodes[selector] = (admitted, self._zone[admitted])
        return found

    def _selector_mask(self, selector: tuple[tuple[str, str], ...]) -> np.ndarray:
        mask = self._selectors.get(selector)
        if mask is None:
            mask = np.array([self._matches(i, selector) for i in range(len(self.names))], dtype=bool)
            self._selectors[selector] = mask
        return mask

    # -- one scheduling cycle --------------------------------------------------------
    def schedule(self, pod: PodSpec) -> int | str:
        """The node index for ``pod``, or the FailedScheduling message when none fits.
        Nothing is bound: the caller binds the pod (:meth:`bind`) once it has its node."""
        n = self.present
        selected = self._selector_mask(pod.selector)
        fits = ~self._tainted & ~self._absent & selected & (self.pods < self.alloc_pods)
        for node in self._deleting:
            fits[node] = False
        if pod.cpu_m:
            fits &= pod.cpu_m <= self.alloc_cpu - self.requested_cpu
        if pod.memory_b:
            fits &= pod.memory_b <= self.alloc_memory - self.requested_memory
        if not fits.any():
            known = self._failures.get(pod)
            if known is not None and known[0] == self._generation:
                return known[1]  # nothing changed since this pod's twin failed
            message = self._fit_error(pod, selected)
            self._failures[pod] = (self._generation, message)
            return message
        wanted = nodes_to_find(n)
        if wanted >= n:  # every node is examined: the start index comes back where it was
            candidates = self._order[fits[self._order]]
        else:
            slots = len(self._order)  # absent nodes are passed over as if not listed
            seq = np.roll(self._order, -self._start)
            in_order = fits[seq]
            counted = np.cumsum(in_order)
            # Stop at the wanted-th feasible node; with fewer, every node was examined.
            examined = int(np.searchsorted(counted, wanted)) + 1 if counted[-1] > wanted else slots
            self._start = (self._start + examined) % slots
            candidates = seq[:examined][in_order[:examined]]
        if len(candidates) == 1:
            return int(candidates[0])  # a single feasible node is taken without scoring
        total = FIT_WEIGHT * self._cached(self._fit, (pod.cpu_m, pod.memory_b), _least_allocated)[candidates]
        if not pod.best_effort:
            total += BALANCED_WEIGHT * self._cached(self._balance, (pod.cpu_m, pod.memory_b), _balanced)[candidates]
        total += SPREAD_WEIGHT * self._spread(pod, candidates, selected)
        top = candidates[total == total.max()]
        if len(top) == 1:
            return int(top[0])
        u = self._uniform()
        return int(top[min(int(u * len(top)), len(top) - 1)])

    def _cached(
        self,
        cache: dict[tuple[int, int], np.ndarray],
        key: tuple[int, int],
        score: Callable[[Scheduler, int, int, int], int],
    ) -> np.ndarray:
        """A per-node score for pods requesting ``key``: it depends on nothing but the node's
        own state, so it is kept and only the node a pod joins or leaves is scored again."""
        found = cache.get(key)
        if found is None:
            found = np.array([score(self, i, *key) for i in range(len(self.names))], dtype=np.int64)
            cache[key] = found
        return found

    def _rescore(self, node: int) -> None:
        for cache, score in ((self._fit, _least_allocated), (self._balance, _balanced)):
            for key, values in cache.items():
                values[node] = score(self, node, *key)

    def _spread(self, pod: PodSpec, c: np.ndarray, selected: np.ndarray) -> np.ndarray:
        """PodTopologySpread with the system default constraints, normalised to 0..100:
        per node ``Σ count × log(domains + 2) + (maxSkew − 1)`` over the constraints whose key the
        node has, rounded; then ``100 × (max + min − s) / max`` (fewer matching pods, higher score).
        Hostname domains are the feasible nodes; zone domains the zones among them, each counting
        the group's pods on every node the pod's selector admits (nodeAffinityPolicy Honor)."""
        counts = self._group(pod.group)
        score = counts[c] * math.log(len(c) + 2) + (HOSTNAME_MAX_SKEW - 1 + 0.5)
        if self._zones:
            zone = self._zone[c]
            admitted, admitted_zone = self._zoned(pod.selector, selected)
            per_zone = np.bincount(admitted_zone, weights=counts[admitted], minlength=len(self._zones))
            if self._zoneless:
                zoned = zone >= 0
                domains = np.count_nonzero(np.bincount(zone[zoned], minlength=len(self._zones)))
                zone_score = per_zone[np.where(zoned, zone, 0)] * math.log(domains + 2) + (ZONE_MAX_SKEW - 1)
                score += np.where(zoned, zone_score, 0.0)
            else:
                domains = np.count_nonzero(np.bincount(zone, minlength=len(self._zones)))
                score += per_zone[zone] * math.log(domains + 2) + (ZONE_MAX_SKEW - 1)
        rounded = score.astype(np.int64)  # math.Round of a positive value: the 0.5 is added above
        high, low = int(rounded.max()), int(rounded.min())
        if high == 0:
            return np.full(len(c), MAX_NODE_SCORE, dtype=np.int64)
        return MAX_NODE_SCORE * (high + low - rounded) // high

    def _fit_error(self, pod: PodSpec, selected: np.ndarray) -> str:
        """FitError.Error(): each node's filter reasons counted, ``"<count> <reason>"`` sorted as
        strings; then DefaultPreemption's own FitError (every pod has the same priority, so a
        node that preemption might help has no victims). A node fails at its first filter
        plugin: the taint, then the selector, then every resource it lacks."""
        present = ~self._absent
        tainted = self._tainted & present
        deleting = np.zeros_like(tainted)
        for node in self._deleting:
            deleting[node] = not tainted[node]
        mismatch = present & ~tainted & ~deleting & ~selected
        rest = present & ~tainted & ~deleting & selected
        too_many = rest & (self.pods >= self.alloc_pods)
        cpu_short = rest & (pod.cpu_m > self.alloc_cpu - self.requested_cpu) if pod.cpu_m else np.zeros_like(rest)
        memory_short = (
            rest & (pod.memory_b > self.alloc_memory - self.requested_memory) if pod.memory_b else np.zeros_like(rest)
        )
        # Insufficient* is UnschedulableAndUnresolvable when the request exceeds the node's allocatable.
        never = (cpu_short & (pod.cpu_m > self.alloc_cpu)) | (memory_short & (pod.memory_b > self.alloc_memory))
        reasons = {
            UNREACHABLE_TAINT: int(tainted.sum()),
            SELECTOR_MISMATCH: int(mismatch.sum()),
            TOO_MANY_PODS: int(too_many.sum()),
            INSUFFICIENT_CPU: int(cpu_short.sum()),
            INSUFFICIENT_MEMORY: int(memory_short.sum()),
        }
        for node, value in self._deleting.items():
            if deleting[node]:
                reason = TO_BE_DELETED.format(value=value)
                reasons[reason] = reasons.get(reason, 0) + 1
        hopeless = int((tainted | deleting | mismatch | never).sum())
        n = self.present
        preemption = {NOT_HELPFUL: hopeless, NO_VICTIMS: n - hopeless}
        return (
            f"0/{n} nodes are available: {_histogram(reasons)}. "
            f"preemption: 0/{n} nodes are available: {_histogram(preemption)}."
        )


def _least_allocated(s: Scheduler, i: int, cpu_m: int, memory_b: int) -> int:
    """NodeResourcesFit's LeastAllocated score of node ``i`` for a pod requesting ``cpu_m`` and
    ``memory_b``: per resource ``(alloc − requested) × 100 / alloc`` on the non-zero requests
    (0 past allocatable), averaged with weights 1, a resource of allocatable 0 left out."""
    total = weight = 0
    for alloc, used, own in (
        (int(s.alloc_cpu[i]), int(s._nonzero_cpu[i]), cpu_m or DEFAULT_CPU_REQUEST_M),
        (int(s.alloc_memory[i]), int(s._nonzero_memory[i]), memory_b or DEFAULT_MEMORY_REQUEST_B),
    ):
        if alloc == 0:
            continue
        requested = used + own
        total += 0 if requested > alloc else (alloc - requested) * MAX_NODE_SCORE // alloc
        weight += 1
    return total // weight if weight else 0


def _balanced(s: Scheduler, i: int, cpu_m: int, memory_b: int) -> int:
    """BalancedAllocation of node ``i``: ``(1 − std) × 100`` of the cpu and memory fractions
    requested (actual requests, each capped at 1; with two resources std is half their gap)."""
    fractions = [
        min((used + own) / alloc, 1.0)
        for alloc, used, own in (
            (int(s.alloc_cpu[i]), int(s.requested_cpu[i]), cpu_m),
            (int(s.alloc_memory[i]), int(s.requested_memory[i]), memory_b),
        )
        if alloc
    ]
    std = abs((fractions[0] - fractions[1]) / 2) if len(fractions) == 2 else 0.0
    return int((1 - std) * MAX_NODE_SCORE)


def _histogram(counts: dict[str, int]) -> str:
    """``sort.Strings`` of ``"<count> <reason>"``: as text, so "10 …" sorts before "2 …"."""
    return ", ".join(sorted(f"{count} {reason}" for reason, count in counts.items() if count))
