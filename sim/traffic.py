"""The request path: client → node (nodePort) → kube-proxy choice → pod → back.

Requests are not SimPy processes. Between two control events (a pod Ready, a dataplane
sync, a scale event) nothing a request can see changes, so the engine moves all
requests up to the next control time in vectorised batches, in three stages:

1. **send**: clients' arrival times below the horizon get ids (in send order), an entry
   node and their link latencies;
2. **route**: requests that reached their entry node before the horizon get an endpoint
   from that node's dataplane, in (entry time, id) order;
3. **serve**: pods serve the arrivals that landed before the horizon, FIFO.

Each stage only takes what happened before the horizon, and every later stage's time is
at least the earlier one's, so no request can be overtaken by one handled in a later
batch: the result is exactly that of an event-by-event simulation, and it does not
depend on how the horizon advances (a test checks this). The SimPy environment drives
the horizon: a ticker and every control event call :meth:`Traffic.advance`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.dataplane import Dataplane
from sim.pods import Pod
from sim.randomness import BlockStream
from sim.records import OK, REFUSED, UNREACHABLE, RequestLog

__all__ = ["ClientFlow", "Traffic"]

INF = math.inf


@dataclass(eq=False)
class ClientFlow:
    """One client's traffic at run time: its arrival stream and the draws it owns."""

    index: int
    via: str  # "nodePort" | "podIP"
    service: int
    own_node: int | None  # the node an in-cluster client runs on
    entry_nodes: np.ndarray  # candidate entry nodes (via nodePort)
    arrivals: BlockStream  # increasing send times
    entry_draws: BlockStream
    link_out: BlockStream  # client → entry node (or → pod node for podIP)
    link_back: BlockStream
    connect_timeout_s: float


class Traffic:
    """Moves every request through send, route and serve, batch by batch."""

    def __init__(
        self,
        log: RequestLog,
        clients: list[ClientFlow],
        dataplanes: list[Dataplane],
        hops_out: list[BlockStream],
        hops_back: list[BlockStream],
        pods: list[Pod],
        first_endpoint: object,
        send_until: float,
    ) -> None:
        self.log = log
        self.clients = clients
        self.dataplanes = dataplanes
        self.hops_out = hops_out
        self.hops_back = hops_back
        self.pods = pods  # shared with the cluster, which appends new pods
        self.first_endpoint = first_endpoint  # service index -> Pod | None (podIP targets)
        self.send_until = send_until
        self.now = 0.0
        self._pod_node = np.empty(0, dtype=np.int64)
        self._at_entry: list[tuple[np.ndarray, np.ndarray]] = []
        self._busy: set[int] = set()

    def pod_added(self, pod: Pod) -> None:
        """The cluster created ``pod`` (indices are dense, in creation order)."""
        assert pod.index == len(self._pod_node)
        self._pod_node = np.append(self._pod_node, -1 if pod.node is None else pod.node)

    def advance(self, horizon: float) -> None:
        """Move every request as far as it gets before ``horizon``."""
        if horizon <= self.now:
            return
        self._send(min(horizon, self.send_until))
        self._route(horizon)
        self._serve(horizon)
        self.now = horizon

    def drain(self) -> None:
        """After the last send: let every request in flight finish with the state as it is."""
        self.advance(self.send_until)
        self._route(INF)
        self._serve(INF)

    def finish_pod(self, pod: Pod) -> None:
        """Serve all of ``pod``'s arrivals now; only valid once no new request can reach it."""
        self._serve_pod(pod, INF)

    # -- stage 1: send -------------------------------------------------------------
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
        for flow in self.clients:
            mine = owner == flow.index
            if mine.any():
                self._depart(flow, ids[mine], t_sent[mine])

    def _depart(self, flow: ClientFlow, ids: np.ndarray, t_sent: np.ndarray) -> None:
        log = self.log
        n = len(ids)
        log.service[ids] = flow.service
        if flow.via == "nodePort":
            pick = (flow.entry_draws.take(n) * len(flow.entry_nodes)).astype(np.int64)
            entry = flow.entry_nodes[pick]
            out, back = flow.link_out.take(n), flow.link_back.take(n)
            if flow.own_node is not None:  # a client on a node reaches its own node at no cost
                local = entry == flow.own_node
                out, back = np.where(local, 0.0, out), np.where(local, 0.0, back)
            log.entry_node[ids] = entry
            log.back_s[ids] = back
            self._at_entry.append((ids, t_sent + out))
            return
        # podIP: straight to one pod, bypassing kube-proxy; only a node can route to it.
        if flow.own_node is None:
            log.outcome[ids] = UNREACHABLE
            log.t_done[ids] = t_sent + flow.connect_timeout_s
            return
        log.entry_node[ids] = flow.own_node
        pod = self.first_endpoint(flow.service)  # type: ignore[operator]
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

    # -- stage 2: route ------------------------------------------------------------
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
        picks = np.empty(cut, dtype=np.int64)
        hop_out = np.empty(cut)
        hop_back = np.empty(cut)
        for node in np.unique(entry).tolist():
            here = entry == node
            count = int(here.sum())
            picks[here] = self.dataplanes[node].choose(log.service[ids[here]])
            hop_out[here] = self.hops_out[node].take(count)
            hop_back[here] = self.hops_back[node].take(count)
        refused = picks < 0
        if refused.any():  # kube-proxy's REJECT rule: "has no endpoints"
            gone = ids[refused]
            log.outcome[gone] = REFUSED
            log.t_done[gone] = t[refused] + log.back_s[gone]
            keep = ~refused
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

    # -- stage 3: serve ------------------------------------------------------------
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
