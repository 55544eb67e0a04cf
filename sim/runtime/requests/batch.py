"""The request path: client → node (nodePort or ClusterIP) → kube-proxy's choice → pod → back.

Requests are not SimPy processes. Between two control events (a pod Ready, a dataplane
sync, a scale event, a load-balancer health check) nothing a request can see changes, so
the engine moves all requests up to the next control time at once and stops at that
horizon. The SimPy environment drives the horizon: a ticker and every control event
call :meth:`Traffic.advance`.

Two engines share the send stage (:class:`Traffic`):

- :class:`BatchTraffic` (here), for the stateless case (iptables/nftables random choice,
  one connection per request, no load balancer, affinity or calls), moves requests in
  vectorised stages: **send** (ids in send order, entry node, link latencies), **route**
  (requests that reached their entry node before the horizon, in (entry time, id)
  order), **serve** (arrivals at pods before the horizon, FIFO). Each stage only takes
  what happened before the horizon and every later stage's time is at least the earlier
  one's, so no request is overtaken by one handled in a later batch: the result is that
  of an event-by-event run and does not depend on where the horizons fall.
- :class:`sim.runtime.requests.events.EventTraffic` handles the rest one event at a time, in
  the same time order and drawing the same random numbers, so on a scenario both can
  run they agree exactly (a test checks this).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sim.randomness import BlockStream
from sim.runtime.dataplane import DROP, REJECT, Dataplane
from sim.runtime.pods import Pod
from sim.runtime.requests.request_log import OK, REFUSED, TIMEOUT, UNREACHABLE, RequestLog

__all__ = ["BatchTraffic", "ClientFlow", "Traffic"]

INF = math.inf


@dataclass(eq=False)
class ClientFlow:
    """One client's traffic at run time: its arrival stream and the draws it owns."""

    index: int
    via: str  # "nodePort" | "clusterIP" | "loadBalancer" | "podIP"
    port: int  # Service port index
    own_node: int | None  # the node an in-cluster client runs on
    entry_nodes: np.ndarray  # candidate entry nodes (via nodePort)
    arrivals: BlockStream  # increasing send times
    entry_draws: BlockStream
    link_out: BlockStream  # client → entry node, load balancer or pod node
    link_back: BlockStream
    connect_timeout_s: float
    first_ip: int  # source addresses: first_ip .. first_ip + ips - 1
    ips: int
    ip_draws: BlockStream

    @property
    def external(self) -> bool:
        """Traffic from outside (nodePort, load balancer) follows externalTrafficPolicy."""
        return self.via in ("nodePort", "loadBalancer")


class Traffic:
    """Send stage and bookkeeping shared by both engines."""

    def __init__(
        self,
        log: RequestLog,
        clients: list[ClientFlow],
        dataplanes: list[Dataplane],
        hops_out: list[BlockStream],
        hops_back: list[BlockStream],
        pods: list[Pod],
        first_endpoint: Callable[[int], Pod | None],
        send_until: float,
    ) -> None:
        self.log = log
        self.clients = clients
        self.dataplanes = dataplanes
        self.hops_out = hops_out
        self.hops_back = hops_back
        self.pods = pods  # shared with the cluster, which appends new pods
        self.first_endpoint = first_endpoint  # Service port -> Pod | None (podIP targets)
        self.send_until = send_until
        self.now = 0.0
        self._pod_node = np.empty(0, dtype=np.int64)

    def pod_added(self, pod: Pod) -> None:
        """The cluster created ``pod`` (indices are dense, in creation order)."""
        assert pod.index == len(self._pod_node)
        self._pod_node = np.append(self._pod_node, -1 if pod.node is None else pod.node)

    def advance(self, horizon: float) -> None:
        """Move every request as far as it gets before ``horizon``."""
        if horizon <= self.now:
            return
        self._send(min(horizon, self.send_until))
        self._process(horizon)
        self.now = horizon

    def drain(self) -> None:
        """After the last send: let every request in flight finish with the state as it is."""
        self.advance(self.send_until)
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

    def _depart(self, flow: ClientFlow, ids: np.ndarray, t_sent: np.ndarray) -> None:
        """Draw what every request of ``flow`` needs at send time, the same in both engines."""
        log = self.log
        n = len(ids)
        log.service[ids] = flow.port
        log.client_ip[ids] = self._source_ips(flow, n)
        if flow.via in ("clusterIP", "podIP") and flow.own_node is None:
            # ClusterIPs and pod IPs are not routable from outside: the SYN goes unanswered.
            log.outcome[ids] = UNREACHABLE
            log.t_done[ids] = t_sent + flow.connect_timeout_s
            return
        if flow.via == "nodePort":
            pick = (flow.entry_draws.take(n) * len(flow.entry_nodes)).astype(np.int64)
            entry = flow.entry_nodes[pick]
            out, back = flow.link_out.take(n), flow.link_back.take(n)
            if flow.own_node is not None:  # a client on a node reaches its own node at no cost
                local = entry == flow.own_node
                out, back = np.where(local, 0.0, out), np.where(local, 0.0, back)
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
        offsets = (flow.ip_draws.take(n) * flow.ips).astype(np.int64)
        return flow.first_ip + np.minimum(offsets, flow.ips - 1)

    def _to_pod_ip(self, flow: ClientFlow, ids: np.ndarray, t_sent: np.ndarray) -> None:
        """``via: podIP`` from a node: straight to the Service's first Ready pod, no kube-proxy."""
        log = self.log
        n = len(ids)
        log.entry_node[ids] = flow.own_node
        pod = self.first_endpoint(flow.port)
        if pod is None:
            log.outcome[ids] = REFUSED
            log.t_done[ids] = t_sent
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

    def _no_endpoint(self, ids: np.ndarray, t_entry: np.ndarray, action: np.ndarray, timeout: np.ndarray) -> None:
        """REJECT: refused at once (the RST travels back); DROP: the client times out."""
        log = self.log
        refused = action == REJECT
        log.outcome[ids[refused]] = REFUSED
        log.t_done[ids[refused]] = t_entry[refused] + log.back_s[ids[refused]]
        dropped = action == DROP
        log.outcome[ids[dropped]] = TIMEOUT
        log.t_done[ids[dropped]] = log.t_sent[ids[dropped]] + timeout[dropped]


class BatchTraffic(Traffic):
    """The vectorised engine for the stateless case."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._at_entry: list[tuple[np.ndarray, np.ndarray]] = []
        self._busy: set[int] = set()
        self._external = np.array([f.external for f in self.clients], dtype=bool)
        self._connect_timeout = np.array([f.connect_timeout_s for f in self.clients] or [1.0])

    def finish_pod(self, pod: Pod) -> None:
        self._serve_pod(pod, INF)

    def _process(self, horizon: float) -> None:
        self._route(horizon)
        self._serve(horizon)

    def _entered(self, flow: ClientFlow, ids: np.ndarray, t_entry: np.ndarray) -> None:
        self._at_entry.append((ids, t_entry))

    def _at_load_balancer(self, flow: ClientFlow, ids: np.ndarray, t_arrive: np.ndarray) -> None:
        raise AssertionError("load-balancer clients run on the event engine")

    # -- route -----------------------------------------------------------------------
    def _route(self, horizon: float) -> None:
        if not self._at_entry:
            return
        ids = np.concatenate([b[0] for b in self._at_entry])
        t = np.concatenate([b[1] for b in self._at_entry])
        order = np.lexsort((ids, t))
        ids, t = ids[order], t[order]
        cut = len(t) if horizon == INF else int(np.searchsorted(t, horizon, side="left"))
        self._at_entry = [(ids[cut:], t[cut:])] if cut < len(t) else []
        if cut == 0:
            return
        ids, t = ids[:cut], t[:cut]
        log = self.log
        entry = log.entry_node[ids].astype(np.int64)
        clients = log.client[ids]
        picks = np.empty(cut, dtype=np.int64)
        hop_out = np.empty(cut)
        hop_back = np.empty(cut)
        for node in np.unique(entry).tolist():
            here = entry == node
            count = int(here.sum())
            picks[here] = self.dataplanes[node].choose_many(log.service[ids[here]], self._external[clients[here]])
            hop_out[here] = self.hops_out[node].take(count)
            hop_back[here] = self.hops_back[node].take(count)
        failed = picks < 0
        if failed.any():
            self._no_endpoint(ids[failed], t[failed], picks[failed], self._connect_timeout[clients[failed]])
            keep = ~failed
            ids, t, picks, entry = ids[keep], t[keep], picks[keep], entry[keep]
            hop_out, hop_back = hop_out[keep], hop_back[keep]
        if not len(ids):
            return
        pod_node = self._pod_node[picks]
        cross = pod_node != entry  # SNAT to the entry node; the reply returns through it
        log.pod[ids] = picks
        log.pod_node[ids] = pod_node
        log.back_s[ids] += np.where(cross, hop_back, 0.0)
        t_arrive = t + np.where(cross, hop_out, 0.0)
        order = np.argsort(picks, kind="stable")
        picks, ids, t_arrive = picks[order], ids[order], t_arrive[order]
        bounds = np.flatnonzero(np.diff(picks)) + 1
        for segment in np.split(np.arange(len(picks)), bounds):
            pod = self.pods[int(picks[segment[0]])]
            self._deliver(pod, ids[segment], t_arrive[segment])

    def _deliver(self, pod: Pod, ids: np.ndarray, t_arrive: np.ndarray) -> None:
        pod.enqueue(ids, t_arrive)
        self._busy.add(pod.index)

    # -- serve -----------------------------------------------------------------------
    def _serve(self, horizon: float) -> None:
        for index in sorted(self._busy):
            self._serve_pod(self.pods[index], horizon)

    def _serve_pod(self, pod: Pod, horizon: float) -> None:
        served = pod.serve(horizon)
        if not pod.has_pending:
            self._busy.discard(pod.index)
        if served is None:
            return
        ids, t_arrive, start, service = served
        log = self.log
        log.t_arrive[ids] = t_arrive
        log.t_start[ids] = start
        log.service_s[ids] = service
        log.t_done[ids] = start + service + log.back_s[ids]
        log.outcome[ids] = OK
