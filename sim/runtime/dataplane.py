"""kube-proxy's dataplane on one node: the rules it installed and the choice it makes.

Each node's kube-proxy keeps its own copy of every Service port's endpoints, updated
when it syncs, and its own choice state. A choice is made once per new connection, on
the node where the connection enters (pkg/proxy/iptables/proxier.go). Which endpoints a
connection may use (pkg/proxy/topology.go; docs/semantics.md#kube-proxy-dataplane):

- only Ready endpoints; if none is Ready, serving-and-terminating ones
  (ProxyTerminatingEndpoints, GA 1.28);
- traffic policy ``Local`` (external traffic with ``externalTrafficPolicy``, in-cluster
  traffic with ``internalTrafficPolicy``): only endpoints on this node; with none the
  packet is dropped ("has no local endpoints"), unless nothing at all is reachable from
  this node, when the REJECT rule below applies;
- otherwise ``trafficDistribution``: PreferSameZone (PreferClose is its alias) keeps
  same-zone endpoints if there are any; PreferSameNode prefers this node, then the zone;
- no endpoints at all: REJECT ("has no endpoints"), the client is refused at once;
- ``sessionAffinity: ClientIP``: per node, per Service port, a table keyed by source
  address, refreshed on use, forgotten after ``timeoutSeconds`` of silence.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from sim.endpoint_choice import ChoiceContext, Connection, ConnectionBatch, EndpointChoice
from sim.randomness import BlockStream

__all__ = ["DROP", "REJECT", "Dataplane", "EndpointViews", "Rules", "iptables_cascade_choice"]

REJECT = -1  # no endpoints: the client is refused at once
DROP = -2  # policy Local and no local endpoint: the packet is dropped, the client times out


@dataclass(frozen=True, eq=False)
class Rules:
    """What kube-proxy programs for one Service port: its endpoints as the EndpointSlice
    publishes them, as read-only arrays in pod-name order (one entry per endpoint), and the
    Service's policies."""

    pods: np.ndarray  # pod index
    nodes: np.ndarray  # its node
    zones: np.ndarray  # its node's zone, as a code of ``zone_codes`` (-1: no zone label)
    ready: np.ndarray  # EndpointSlice conditions (bool)
    serving: np.ndarray
    on_node: Mapping[int, np.ndarray]  # node -> its endpoints' positions in these arrays, in name order
    zone_codes: Mapping[str, int] = field(default_factory=dict)
    external_local: bool = False
    internal_local: bool = False
    distribution: str | None = None
    affinity_timeout_s: float | None = None  # None: sessionAffinity None

    def usable_pods(self) -> frozenset[int]:
        """The pods some node may route to once these rules are installed: the Ready endpoints,
        or with none Ready the serving terminating ones (before any node's own filtering)."""
        return self.views.usable_set

    @cached_property
    def views(self) -> EndpointViews:
        """The endpoint lists nodes derive from these rules, computed once for every node."""
        return EndpointViews(self)


class EndpointViews:
    """The endpoints of one :class:`Rules` as each node may use them, shared between nodes.

    Every node derives its lists from the same published endpoints, and most nodes derive
    the same list; computing them once per sync with array operations and sharing the
    (read-only) arrays keeps a sync O(endpoints) in numpy plus O(nodes) in Python, rather
    than O(endpoints × nodes).
    """

    def __init__(self, rules: Rules) -> None:
        self._rules = rules
        # Ready endpoints, or serving-and-terminating ones if none is Ready (ProxyTerminatingEndpoints).
        self._usable = rules.ready if rules.ready.any() else rules.serving
        self.usable = _frozen(rules.pods[self._usable])
        self._on = rules.on_node
        self._local: dict[int, np.ndarray] = {}
        self._zone: dict[str, np.ndarray] = {}
        self._node: dict[int, np.ndarray] = {}

    @cached_property
    def usable_set(self) -> frozenset[int]:
        return frozenset(self.usable.tolist())

    def local(self, node: int) -> np.ndarray:
        """Usable endpoints among those on ``node`` (traffic policy Local): its Ready ones, or
        its serving terminating ones if none of them is Ready."""
        found = self._local.get(node)
        if found is None:
            on = self._on.get(node, _NONE)
            ready = on[self._rules.ready[on]]
            found = self._local[node] = _frozen(self._rules.pods[ready if len(ready) else on[self._rules.serving[on]]])
        return found

    def local_ready(self, node: int) -> int:
        on = self._on.get(node, _NONE)
        return int(np.count_nonzero(self._rules.ready[on]))

    def same_zone(self, zone: str | None) -> np.ndarray:
        """Usable endpoints in ``zone`` (none when the node has no zone)."""
        if zone is None:
            return _EMPTY
        found = self._zone.get(zone)
        if found is None:
            code = self._rules.zone_codes.get(zone, -2)
            found = self._zone[zone] = _frozen(self._rules.pods[self._usable & (self._rules.zones == code)])
        return found

    def same_node(self, node: int) -> np.ndarray:
        """Usable endpoints (of all) that run on ``node``."""
        found = self._node.get(node)
        if found is None:
            on = self._on.get(node, _NONE)
            found = self._node[node] = _frozen(self._rules.pods[on[self._usable[on]]])
        return found


def _frozen(pods: np.ndarray) -> np.ndarray:
    out = np.asarray(pods, dtype=np.int64)
    out.flags.writeable = False  # shared by every node that installs it
    return out


_EMPTY = _frozen(np.empty(0, dtype=np.int64))
_NONE = np.empty(0, dtype=np.intp)  # no endpoint positions


def iptables_cascade_choice(n: int, rng: np.random.Generator) -> int:
    """The literal iptables walk: rule i matches with probability 1/(n-i), in order.

    Reference implementation for tests; the engine uses the equivalent single draw.
    """
    for i in range(n - 1):
        if rng.random() < 1.0 / (n - i):
            return i
    return n - 1


class Dataplane:
    """One node's installed rules and its endpoint choice, affinity tables and connection counts."""

    def __init__(
        self,
        node: int,
        zone: str | None,
        destinations: list[int],
        choice: type[EndpointChoice],
        draws: BlockStream,
    ) -> None:
        """``destinations``: each Service port's virtual address (what ``dh`` hashes);
        ``choice``: the strategy class, built here with this node's ``draws`` and counts."""
        self.node = node
        self.zone = zone
        self.destinations = np.array(destinations, dtype=np.int64)
        self._destination = list(destinations)  # the same, for one connection at a time
        self.choice = choice(ChoiceContext(draws, self.open_connections))
        n_ports = len(destinations)
        empty = np.empty(0, dtype=np.int64)
        self.external = [empty] * n_ports  # endpoints for traffic entering from outside
        self.internal = [empty] * n_ports  # endpoints for in-cluster traffic (ClusterIP)
        self._on_empty = [(REJECT, REJECT)] * n_ports
        self.local_ready = [0] * n_ports  # what the healthCheckNodePort reports as localEndpoints
        self._affinity_timeout: list[float | None] = [None] * n_ports
        self._affinity: dict[int, dict[int, tuple[int, float]]] = defaultdict(dict)
        self._open: dict[int, int] = defaultdict(int)
        self._closing: list[tuple[float, int]] = []
        self.down = False  # the node has failed: nothing it receives is answered
        self.present = True  # False: a cluster autoscaler's node not (or no longer) in the cluster
        #: The node carries the autoscaler's ToBeDeletedByClusterAutoscaler taint: kube-proxy's
        #: healthz fails (docs/semantics.md#cluster-autoscaler), so balancers drain it.
        self.to_be_deleted = False

    # -- sync -------------------------------------------------------------------------
    def install(self, port: int, rules: Rules) -> None:
        """kube-proxy sync for one Service port (the arrays are shared with other nodes: read-only)."""
        views = rules.views
        local = views.local(self.node)
        preferred = self._preferred(views, rules.distribution)
        usable = views.usable
        self.external[port] = local if rules.external_local else preferred
        self.internal[port] = local if rules.internal_local else preferred
        # kube-proxy REJECTs when nothing is reachable from this node at all (the endpoints of
        # every policy in use), and DROPs a Local direction only when others are reachable.
        uses_cluster = not (rules.external_local and rules.internal_local)
        reachable = len(local) > 0 or (uses_cluster and len(usable) > 0)
        self._on_empty[port] = (
            DROP if rules.external_local and reachable else REJECT,
            DROP if rules.internal_local and reachable else REJECT,
        )
        self._affinity_timeout[port] = rules.affinity_timeout_s
        self.local_ready[port] = views.local_ready(self.node)

    def _preferred(self, views: EndpointViews, distribution: str | None) -> np.ndarray:
        chosen = views.usable
        if distribution == "PreferSameNode":
            for narrower in (views.same_node(self.node), views.same_zone(self.zone)):
                if len(narrower):
                    return narrower
        elif distribution in ("PreferSameZone", "PreferClose"):
            zone = views.same_zone(self.zone)
            if len(zone):
                return zone
        return chosen

    # -- choice -----------------------------------------------------------------------
    def endpoints(self, port: int, external: bool) -> np.ndarray:
        return self.external[port] if external else self.internal[port]

    def choose(self, port: int, external: bool, source_ip: int, now: float) -> int:
        """A pod for a new connection from ``source_ip`` at ``now``, or REJECT / DROP
        (DROP for every connection while the node is down: its SYNs go unanswered)."""
        if self.down:
            return DROP
        endpoints = self.endpoints(port, external)
        if not len(endpoints):
            return self.empty_action(port, external)
        timeout = self._affinity_timeout[port]
        if timeout is not None:
            table = self._affinity[port]
            known = table.get(source_ip)
            if known is not None and now - known[1] <= timeout and known[0] in endpoints:
                table[source_ip] = (known[0], now)
                return known[0]
        if self.choice.counts_connections:
            self._expire(now)
        pod = self.choice.choose(endpoints.tolist(), Connection(source_ip, self._destination[port], port))
        if timeout is not None:
            self._affinity[port][source_ip] = (pod, now)
        return pod

    def choose_many(self, ports: np.ndarray, external: np.ndarray, source_ips: np.ndarray) -> np.ndarray:
        """Choices for a batch of new connections in entry order, REJECT/DROP where there is no
        endpoint: exactly the sequence :meth:`choose` would give one by one, for a strategy
        that keeps no state and ports without session affinity (the batch engine's case)."""
        assert not self.choice.keeps_state
        if self.down:
            return np.full(len(ports), DROP, dtype=np.int64)
        picks = np.empty(len(ports), dtype=np.int64)
        which = np.empty(len(ports), dtype=np.int64)
        routable = np.zeros(len(ports), dtype=bool)
        endpoint_sets: list[np.ndarray] = []
        for port in np.unique(ports).tolist():
            assert self._affinity_timeout[port] is None
            for outside in (True, False):
                mask = (ports == port) & (external == outside)
                if not mask.any():
                    continue
                endpoints = self.endpoints(port, outside)
                if len(endpoints):
                    which[mask] = len(endpoint_sets)
                    endpoint_sets.append(endpoints)
                    routable |= mask
                else:
                    picks[mask] = self.empty_action(port, outside)
        if routable.any():
            chosen = ports[routable]
            conns = ConnectionBatch(source_ips[routable], self.destinations[chosen], chosen)
            picks[routable] = self.choice.choose_many(endpoint_sets, which[routable], conns)
        return picks

    def empty_action(self, port: int, external: bool) -> int:
        return self._on_empty[port][0 if external else 1]

    # -- connection counts (least-connection schedulers) -------------------------------
    def opened(self, pod: int) -> bool:
        """A connection to ``pod`` opened; whether this node's scheduler counts it."""
        if not self.choice.counts_connections:
            return False
        self._open[pod] += 1
        return True

    def closes_at(self, pod: int, when: float) -> None:
        """A counted connection to ``pod`` closes at ``when`` (forgotten lazily)."""
        heapq.heappush(self._closing, (when, pod))

    def open_connections(self, pod: int) -> int:
        return self._open[pod]

    def _expire(self, now: float) -> None:
        closing = self._closing
        while closing and closing[0][0] <= now:
            _, pod = heapq.heappop(closing)
            self._open[pod] -= 1
