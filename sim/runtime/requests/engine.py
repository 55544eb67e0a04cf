"""What both request engines share: the wiring of the request path and the send stage.

Requests are not SimPy processes. Between two control events (a pod Ready, a dataplane
sync, a scale event, a load-balancer health check) nothing a request can see changes, so
an engine moves every request up to the next control time and stops at that horizon. The
SimPy environment drives the horizon: a ticker and every control event call
:meth:`RequestEngine.advance`.

The send stage is the same for both engines, and draws what every request needs at send
time (the draw contract is in :mod:`sim.runtime.requests.rules`). What happens after is
the engines' own scheduling of the shared rules: :class:`~sim.runtime.requests.batch.BatchEngine`
in vectorised stages, :class:`~sim.runtime.requests.events.EventEngine` one event at a time.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from sim.randomness import BlockStream, uniform_index
from sim.runtime.dataplane import Dataplane
from sim.runtime.pods import Pod
from sim.runtime.requests import outcomes
from sim.runtime.requests.clients import ClientFlow
from sim.runtime.requests.outcomes import ClientTable, NodeOutages
from sim.runtime.requests.request_log import RequestLog

__all__ = ["INF", "RequestEngine", "RequestPath"]

INF = math.inf


@dataclass(frozen=True, eq=False)
class RequestPath:
    """Everything a request meets on its way, handed to an engine when it is built."""

    log: RequestLog
    clients: list[ClientFlow]
    client_table: ClientTable
    dataplanes: list[Dataplane]
    hops_out: list[BlockStream]  # per entry node: to a pod on another node
    hops_back: list[BlockStream]
    pods: list[Pod]  # shared with the control plane, which appends new pods
    first_endpoint: Callable[[int], Pod | None]  # Service port -> its first Ready pod (podIP)
    send_until: float
    outages: NodeOutages = field(default_factory=NodeOutages)  # filled by the control plane


class RequestEngine:
    """Send stage and bookkeeping shared by both engines."""

    #: The name recorded in ``summary.json``.
    name = ""

    def __init__(self, path: RequestPath) -> None:
        self.path = path
        self.log = path.log
        self.clients = path.clients
        self.client_table = path.client_table
        self.dataplanes = path.dataplanes
        self.pods = path.pods
        self.now = 0.0
        self._pod_node_room = np.empty(64, dtype=np.int64)  # grows by doubling
        self._pod_node = self._pod_node_room[:0]  # each pod's node (-1: Pending), a view of the room

    def pod_added(self, pod: Pod) -> None:
        """The cluster created ``pod`` (indices are dense, in creation order)."""
        n = len(self._pod_node)
        assert pod.index == n
        if n == len(self._pod_node_room):  # np.append per pod was quadratic in a 10 000-pod scale-up
            self._pod_node_room = np.concatenate((self._pod_node_room, np.empty(n, dtype=np.int64)))
        self._pod_node_room[n] = -1 if pod.node is None else pod.node
        self._pod_node = self._pod_node_room[: n + 1]

    def pod_bound(self, pod: Pod) -> None:
        """A Pending pod was scheduled onto ``pod.node``."""
        assert pod.node is not None
        self._pod_node[pod.index] = pod.node

    def advance(self, horizon: float) -> None:
        """Move every request as far as it gets before ``horizon``."""
        if horizon <= self.now:
            return
        self._send(min(horizon, self.path.send_until))
        self._process(horizon)
        self.now = horizon

    def drain(self) -> None:
        """After the last send: let every request in flight finish with the state as it is."""
        self.advance(self.path.send_until)
        self._process(INF)

    def finish_pod(self, pod: Pod) -> None:
        """Serve all of ``pod``'s arrivals now; only valid once no new request can reach it."""
        raise NotImplementedError

    def busy_until(self, pod: Pod) -> float | None:
        """When ``pod`` finishes the work handed to it so far, if that is known yet."""
        return pod.busy_until

    def _process(self, horizon: float) -> None:
        raise NotImplementedError

    # -- send stage ----------------------------------------------------------------
    def _send(self, horizon: float) -> None:
        if horizon <= self.now:
            return
        times, owners = [], []
        for flow in self.clients:
            t = flow.arrivals.take_below(horizon)
            if len(t):
                times.append(t)
                owners.append(np.full(len(t), flow.index, dtype=np.int64))
        if not times:
            return
        t_sent = np.concatenate(times)
        owner = np.concatenate(owners)
        order = np.argsort(t_sent, kind="stable")  # ties keep client order
        t_sent, owner = t_sent[order], owner[order]
        ids = self.log.new(len(t_sent))
        self.log.t_sent[ids] = t_sent
        self.log.client[ids] = owner
        self.log.connection[ids] = ids  # one connection per request unless a pool says otherwise
        for flow in self.clients:
            mine = owner == flow.index
            if mine.any():
                self._depart(flow, ids[mine], t_sent[mine])
        self._after_send(ids)

    def _after_send(self, ids: np.ndarray) -> None:
        """Every request of ``ids`` has left its client (the event engine tracks retries)."""

    def pod_killed(self, pod: Pod, at: float) -> None:
        """``pod`` will be killed at ``at`` (now, or its SIGKILL deadline): what it holds then is reset."""

    def in_pod(self, pod: Pod, now: float) -> int:
        """Requests in ``pod`` at ``now`` (the engine has caught up to ``now``)."""
        pod.restart_fifo(now)
        return pod.in_pod(now)

    def probe_wait(self, pod: Pod, now: float) -> float:
        """How long a probe arriving at ``now`` would wait behind the pod's queue."""
        pod.restart_fifo(now)
        return max(0.0, min(pod._free) - now)

    def _depart(self, flow: ClientFlow, ids: np.ndarray, t_sent: np.ndarray) -> None:
        """Draw what every request of ``flow`` needs at send time, the same in both engines."""
        log = self.log
        n = len(ids)
        log.service[ids] = flow.port
        log.client_ip[ids] = self._source_ips(flow, n)
        if flow.via in ("clusterIP", "podIP") and flow.own_node is None:
            # ClusterIPs and pod IPs are not routable from outside: the SYN goes unanswered.
            outcomes.no_answer(log, ids, flow.connect_timeout_s)
            return
        if flow.via == "nodePort":
            entry = flow.entry_nodes[uniform_index(flow.entry_draws.take(n), len(flow.entry_nodes))]
            out, back = flow.link_out.take(n), flow.link_back.take(n)
            if flow.own_node is not None:  # a client on a node reaches its own node at no cost
                away = entry != flow.own_node
                out, back = out * away, back * away
            log.entry_node[ids] = entry
            log.back_s[ids] = back
            self._entered(flow, ids, t_sent + out)
        elif flow.via == "clusterIP":  # the client's own node's kube-proxy picks the endpoint
            log.entry_node[ids] = flow.own_node
            log.back_s[ids] = 0.0
            self._entered(flow, ids, t_sent)
        elif flow.via == "loadBalancer":
            out, back = flow.link_out.take(n), flow.link_back.take(n)
            log.back_s[ids] = back
            self._at_load_balancer(flow, ids, t_sent + out)
        else:
            self._to_pod_ip(flow, ids, t_sent)

    def _source_ips(self, flow: ClientFlow, n: int) -> np.ndarray:
        if flow.ips == 1:
            return np.full(n, flow.first_ip, dtype=np.int64)
        return flow.first_ip + uniform_index(flow.ip_draws.take(n), flow.ips)

    def _to_pod_ip(self, flow: ClientFlow, ids: np.ndarray, t_sent: np.ndarray) -> None:
        """``via: podIP`` from a node: straight to the Service's first Ready pod, no kube-proxy."""
        log = self.log
        n = len(ids)
        log.entry_node[ids] = flow.own_node
        pod = self.path.first_endpoint(flow.port)
        if pod is None:
            outcomes.refused(log, ids, t_sent)
            return
        out, back = flow.link_out.take(n), flow.link_back.take(n)
        if pod.node == flow.own_node:
            out, back = np.zeros(n), np.zeros(n)
        log.pod[ids] = pod.index
        log.pod_node[ids] = pod.node
        log.back_s[ids] = back
        self._deliver(pod, ids, t_sent + out)

    def _entered(self, flow: ClientFlow, ids: np.ndarray, t_entry: np.ndarray) -> None:
        raise NotImplementedError

    def _at_load_balancer(self, flow: ClientFlow, ids: np.ndarray, t_arrive: np.ndarray) -> None:
        raise NotImplementedError

    def _deliver(self, pod: Pod, ids: np.ndarray, t_arrive: np.ndarray) -> None:
        raise NotImplementedError
