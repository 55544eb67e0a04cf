"""The batch engine: the request path in vectorised stages, for the stateless case.

When nothing stateful is in play (the choice keeps no state, one connection per request, no
load balancer, affinity or calls; :mod:`~sim.runtime.requests.engine_choice` decides),
requests move in three stages: **send** (shared, :mod:`~sim.runtime.requests.engine`),
**route** (requests that reached their entry node before the horizon, in (entry time, id)
order), **serve** (arrivals at pods before the horizon, FIFO). Each stage only takes what
happened before the horizon and every later stage's time is at least the earlier one's, so
no request is overtaken by one handled in a later batch: the result is that of the event
engine and does not depend on where the horizons fall (both are tested).
"""

from __future__ import annotations

import numpy as np

from sim.runtime.pods import Pod
from sim.runtime.requests import outcomes
from sim.runtime.requests.clients import ClientFlow
from sim.runtime.requests.engine import INF, RequestEngine, RequestPath
from sim.runtime.requests.rules import pod_hop

__all__ = ["BatchEngine"]


class BatchEngine(RequestEngine):
    """The vectorised engine for the stateless case."""

    name = "batch"

    def __init__(self, path: RequestPath) -> None:
        super().__init__(path)
        self._at_entry: list[tuple[np.ndarray, np.ndarray]] = []
        self._busy: set[int] = set()
        # Whether any client gives up (has a timeout): else no arrival needs its cancel time.
        self._cancellable = bool(np.isfinite(path.client_table.timeout_s).any())

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
        picks = np.empty(cut, dtype=np.int64)
        hop_out = np.empty(cut)
        hop_back = np.empty(cut)
        for node in np.unique(entry).tolist():
            here = entry == node
            count = int(here.sum())
            mine = ids[here]
            picks[here] = self.dataplanes[node].choose_many(
                log.service[mine], self.client_table.external[log.client[mine]], log.client_ip[mine]
            )
            hop_out[here] = self.path.hops_out[node].take(count)
            hop_back[here] = self.path.hops_back[node].take(count)
        failed = picks < 0
        if failed.any():
            outcomes.no_endpoint(log, ids[failed], t[failed], picks[failed], self.client_table)
            keep = ~failed
            ids, t, picks, entry = ids[keep], t[keep], picks[keep], entry[keep]
            hop_out, hop_back = hop_out[keep], hop_back[keep]
        if not len(ids):
            return
        pod_node = self._pod_node[picks]
        out, back = pod_hop(entry, pod_node, hop_out, hop_back)
        log.pod[ids] = picks
        log.pod_node[ids] = pod_node
        log.back_s[ids] += back
        t_arrive = t + out
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
        taken = pod.arrivals_before(horizon)
        if not pod.has_pending:
            self._busy.discard(pod.index)
        if taken is None:
            return
        ids, t = taken
        patience = self.client_table.timeout_s[self.log.client[ids]] if self._cancellable else None
        fate, start, service = pod.admit(t, None if patience is None else t + patience)
        outcomes.admitted(self.log, ids, t, fate, start, service, patience, self.client_table)
