"""The event engine's state as arrays, for :mod:`~sim.runtime.requests.event_kernel`.

Between two control events the event engine can hand its common case to the compiled
kernel: :meth:`EventArrays.covers` says whether this horizon is one (nothing in play that the
kernel does not implement), :meth:`EventArrays.run` lays out the state the kernel reads and
writes (pods' workers, gates and restarts; nodes' endpoints, choice state and connection
counts; the random streams' blocks), runs it to the horizon, refilling streams as their
blocks run out, and writes the state back where the Python handlers keep it. The log and the
keep-alive slots are arrays already and are shared, not copied. So the control plane, the
Python handlers and the kernel always see one state, and a run may switch between them at
any horizon.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.compiled import use_svcsim_cache
from sim.endpoint_choice import LeastConnection, NeverQueue, RoundRobin, UniformRandom
from sim.randomness import BlockStream

if TYPE_CHECKING:
    from sim.runtime.requests.events import EventEngine

__all__ = ["LEAST_CONNECTION", "NEVER_QUEUE", "RANDOM", "ROUND_ROBIN", "EventArrays", "StreamMirror"]

RANDOM, ROUND_ROBIN, LEAST_CONNECTION, NEVER_QUEUE = range(4)  # a node's endpoint choice, for the kernel

#: The endpoint choices the kernel implements (exact classes: a subclass may choose otherwise).
STRATEGIES: dict[type, int] = {
    UniformRandom: RANDOM,
    RoundRobin: ROUND_ROBIN,
    LeastConnection: LEAST_CONNECTION,
    NeverQueue: NEVER_QUEUE,
}

Heap = list[tuple[float, Any, int, int]]


class StreamMirror:
    """The current blocks of many :class:`~sim.randomness.BlockStream`\\ s in one buffer, with
    a cursor each. A block is copied when the stream draws a new one, not at every horizon;
    its segment is reused when the new block fits, else a new one is appended."""

    def __init__(self) -> None:
        self._streams: list[BlockStream] = []
        self._blocks: list[np.ndarray] = []
        self.buf = np.empty(4096)
        self._used = 0
        self.start = np.empty(0, dtype=np.int64)
        self._cap = np.empty(0, dtype=np.int64)
        self.cur = np.empty(0, dtype=np.int64)
        self.end = np.empty(0, dtype=np.int64)

    def sync(self, streams: list[BlockStream]) -> None:
        """Point the cursors at the streams' next variates (``streams`` only grows at the end)."""
        n = len(streams)
        if n > len(self.start):
            extra = n - len(self.start)
            self.start, self._cap, self.cur, self.end = (
                np.concatenate((a, np.zeros(extra, dtype=np.int64)))
                for a in (self.start, self._cap, self.cur, self.end)
            )
        for k, stream in enumerate(streams):
            # As the block is: one used up (or never drawn) is refilled only when the kernel
            # reaches it and returns for it, so a pod without requests never makes its generator.
            block, pos = stream.peek()
            if k >= len(self._streams):
                self._streams.append(stream)
                self._blocks.append(block)
                self._place(k, block, new=True)
            elif self._streams[k] is not stream or self._blocks[k] is not block:
                self._streams[k], self._blocks[k] = stream, block
                self._place(k, block, new=False)
            self.cur[k] = self.start[k] + pos

    def _place(self, k: int, block: np.ndarray, new: bool) -> None:
        size = len(block)
        if new or size > self._cap[k]:
            if self._used + size > len(self.buf):
                grown = np.empty(max(2 * len(self.buf), self._used + size))
                grown[: self._used] = self.buf[: self._used]
                self.buf = grown
            self.start[k], self._cap[k] = self._used, size
            self._used += size
        self.buf[self.start[k] : self.start[k] + size] = block
        self.end[k] = self.start[k] + size

    def refill(self, k: int) -> None:
        """Stream ``k``'s block ran out: draw its next one."""
        stream = self._streams[k]
        stream.consumed(int(self.cur[k] - self.start[k]))
        block, pos = stream.window()
        self._blocks[k] = block
        self._place(k, block, new=False)
        self.cur[k] = self.start[k] + pos

    def release(self) -> None:
        """Tell every stream how far the kernel read."""
        for k, stream in enumerate(self._streams):
            stream.consumed(int(self.cur[k] - self.start[k]))


class EventArrays:
    """Lays out an :class:`~sim.runtime.requests.events.EventEngine`'s state for the kernel
    and writes it back (see the module docstring)."""

    def __init__(self, engine: EventEngine) -> None:
        self.engine = engine
        self.streams = StreamMirror()
        clients = engine.client_table
        self._clients = (clients.external.astype(np.bool_), clients.connect_timeout_s, clients.timeout_s)
        #: Static: no calls, retries or balancers (their events are the Python handlers' alone).
        self.possible = not engine.keyed and all(flow.via != "loadBalancer" for flow in engine.clients)

    def covers(self) -> bool:
        """Whether everything in play now is what the kernel implements."""
        if not self.possible:
            return False
        for dp in self.engine.dataplanes:
            if type(dp.choice) not in STRATEGIES or any(t is not None for t in dp._affinity_timeout):
                return False
        for pod in self.engine.pods:
            limits = pod.limits
            if pod.usage is not None or limits.bounded or limits.track or limits.cpu_limit is not None:
                return False
        return True

    def run(self, horizon: float, heap: Heap, incoming: list[tuple[np.ndarray, np.ndarray, int]]) -> Heap:
        """Run every event before ``horizon`` (``heap`` and the batches of ``incoming``); the
        events left, as the engine's heap."""
        # Imported here, not with the engine: numba's import and the kernel's load (from its
        # cache) cost some tenths of a second, once per process, paid only by runs that use it.
        use_svcsim_cache()  # before numba is imported
        from sim.runtime.requests.event_kernel import DONE, run_until  # noqa: PLC0415
        from sim.runtime.requests.events import ARRIVE, ENTRY  # noqa: PLC0415 (events imports this module)

        engine = self.engine
        h = _heap_arrays(heap, incoming)
        assert np.isin(h[2], (ENTRY, ARRIVE)).all(), "the kernel handles entries and arrivals only"
        dataplanes, pods = engine.dataplanes, engine.pods
        streams = [s for n, dp in enumerate(dataplanes) for s in _node_streams(engine, n, dp)]
        streams += [pod.service for pod in pods]
        self.streams.sync(streams)
        nodes = self._nodes()
        closing = _closing(dataplanes, extra=2 * int(h[3][0]) + 1)
        pod_arrays = _pods(engine)
        conns = self._conns()
        log = engine.log
        log_columns = (
            log.client, log.service, log.client_ip, log.connection, log.entry_node, log.pod, log.pod_node,
            log.back_s, log.t_sent, log.t_arrive, log.t_start, log.service_s, log.t_done, log.verdict,
        )  # fmt: skip
        mirror = self.streams
        while True:
            status = run_until(
                horizon,
                h,
                log_columns,
                self._clients,
                (mirror.buf, mirror.cur, mirror.end),
                nodes,
                closing,
                pod_arrays,
                conns,
                3 * len(dataplanes),
            )
            if status == DONE:
                break
            mirror.refill(status)
        mirror.release()
        self._write_back(nodes, closing, pod_arrays)
        n = int(h[3][0])
        return list(zip(h[0][:n].tolist(), h[1][:n].tolist(), h[2][:n].tolist(), h[1][:n].tolist(), strict=True))

    def _nodes(self) -> tuple[np.ndarray, ...]:
        dataplanes = self.engine.dataplanes
        n_nodes, n_pods = len(dataplanes), len(self.engine.pods)
        n_ports = len(dataplanes[0].external) if dataplanes else 0
        strategy = np.array([STRATEGIES[type(dp.choice)] for dp in dataplanes], dtype=np.int64)
        down = np.array([dp.down for dp in dataplanes], dtype=np.bool_)
        start = np.zeros((n_nodes, n_ports, 2), dtype=np.int64)
        length = np.zeros((n_nodes, n_ports, 2), dtype=np.int64)
        empty = np.zeros((n_nodes, n_ports, 2), dtype=np.int64)
        parts: list[np.ndarray] = []
        placed: dict[int, int] = {}  # the same list object on many nodes is laid out once
        used = 0
        for n, dp in enumerate(dataplanes):
            for port in range(n_ports):
                for side, outside in enumerate((True, False)):
                    endpoints = dp.endpoints(port, outside)
                    at = placed.get(id(endpoints))
                    if at is None:
                        at = placed[id(endpoints)] = used
                        parts.append(endpoints)
                        used += len(endpoints)
                    start[n, port, side], length[n, port, side] = at, len(endpoints)
                    empty[n, port, side] = dp.empty_action(port, outside)
        data = np.concatenate(parts).astype(np.int64) if parts else np.empty(0, dtype=np.int64)
        # Open connections per node and pod: only least-connection schedulers count them.
        counting = bool((strategy >= LEAST_CONNECTION).any())
        open_ = np.zeros((n_nodes, max(n_pods, 1)) if counting else (1, 1), dtype=np.int64)
        last = np.full((n_nodes, max(n_ports, 1)), -1, dtype=np.int64)
        for n, dp in enumerate(dataplanes):
            if strategy[n] >= LEAST_CONNECTION:
                for pod, count in dp._open.items():
                    open_[n, pod] = count
            if isinstance(dp.choice, RoundRobin):
                for port, pod in dp.choice._last.items():
                    last[n, port] = pod
        return strategy, down, data, start, length, empty, open_, last

    def _conns(self) -> tuple[np.ndarray, ...]:
        table = self.engine.connections
        size = self.engine.log.size
        if size:  # grown by doubling, not to the log's size at every horizon
            table.counted_at = table._fit(table.counted_at, size - 1)
        s = table.slots
        return (
            table.slot_of, table.counted_at, s.has, s.id, s.source_ip, s.node, s.opened_at, s.pod, s.requests,
            s.counted, s.max_requests, s.max_age_s,
        )  # fmt: skip

    def _write_back(
        self, nodes: tuple[np.ndarray, ...], closing: tuple[np.ndarray, ...], pods: tuple[Any, ...]
    ) -> None:
        engine = self.engine
        strategy, open_, last = nodes[0], nodes[6], nodes[7]
        cl_t, cl_node, cl_pod, cl_n = closing
        n_closing = int(cl_n[0])
        order = np.lexsort((cl_pod[:n_closing], cl_t[:n_closing]))  # a list sorted as the tuples are is a heap
        for n, dp in enumerate(engine.dataplanes):
            if strategy[n] >= LEAST_CONNECTION:
                counts = open_[n]
                dp._open = defaultdict(int, {int(p): int(counts[p]) for p in np.flatnonzero(counts)})
                mine = order[cl_node[order] == n]
                dp._closing = list(zip(cl_t[mine].tolist(), cl_pod[mine].tolist(), strict=True))
            elif strategy[n] == ROUND_ROBIN:
                assert isinstance(dp.choice, RoundRobin)
                dp.choice._last = {p: int(pod) for p, pod in enumerate(last[n].tolist()) if pod >= 0}
        free, free_start, f_seen, epoch = pods[1], pods[2], pods[15], pods[16]
        for i, pod in enumerate(engine.pods):
            workers = free[free_start[i] : free_start[i + 1]].tolist()
            heapq.heapify(workers)
            pod._free = workers
            pod._fresh_seen = int(f_seen[i])
            pod._epoch = float(epoch[i])


def _node_streams(engine: EventEngine, n: int, dp: Any) -> tuple[BlockStream, BlockStream, BlockStream]:
    """A node's streams, in the kernel's order: hop out, hop back, kube-proxy draws."""
    return engine.path.hops_out[n], engine.path.hops_back[n], dp.choice.context.draws


def _heap_arrays(heap: Heap, incoming: list[tuple[np.ndarray, np.ndarray, int]]) -> tuple[np.ndarray, ...]:
    """The engine's pending events as sorted arrays (a sorted array is a heap)."""
    times = [np.array([e[0] for e in heap], dtype=float)]
    rids = [np.array([e[3] for e in heap], dtype=np.int64)]
    kinds = [np.array([e[2] for e in heap], dtype=np.int64)]
    for ids, t, kind in incoming:
        times.append(np.asarray(t, dtype=float))
        rids.append(np.asarray(ids, dtype=np.int64))
        kinds.append(np.full(len(ids), kind, dtype=np.int64))
    t_all, rid_all, kind_all = np.concatenate(times), np.concatenate(rids), np.concatenate(kinds)
    order = np.lexsort((kind_all, rid_all, t_all))
    return t_all[order], rid_all[order], kind_all[order], np.array([len(order)], dtype=np.int64)


def _closing(dataplanes: list[Any], extra: int) -> tuple[np.ndarray, ...]:
    """Every node's connections that close (Dataplane.closes_at) in one heap, with room for ``extra``."""
    entries = [(when, n, pod) for n, dp in enumerate(dataplanes) for when, pod in dp._closing]
    entries.sort()
    size = len(entries)
    cl_t = np.empty(size + extra)
    cl_node = np.empty(size + extra, dtype=np.int64)
    cl_pod = np.empty(size + extra, dtype=np.int64)
    if size:
        cl_t[:size] = [e[0] for e in entries]
        cl_node[:size] = [e[1] for e in entries]
        cl_pod[:size] = [e[2] for e in entries]
    return cl_t, cl_node, cl_pod, np.array([size], dtype=np.int64)


def _offsets(lengths: list[int]) -> np.ndarray:
    out = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    return out


def _pods(engine: EventEngine) -> tuple[Any, ...]:
    """Pods as the kernel reads them (event_kernel's layout): node, workers' free times,
    drop rule, lifecycle times, kills, gates and restarts."""
    pods = engine.pods
    free_start = _offsets([pod.concurrency for pod in pods])
    free = np.array([t for pod in pods for t in pod._free], dtype=float)
    assert len(free) == free_start[-1], "a pod's workers are its concurrency: the kernel indexes them unchecked"
    drop = np.array([pod.limits.drop for pod in pods], dtype=np.bool_)
    terminating = np.array([pod.terminating_at for pod in pods], dtype=float)
    gone = np.array([pod.gone_at for pod in pods], dtype=float)
    k_start = _offsets([len(pod.kills) for pod in pods])
    k_t = np.array([t for pod in pods for t in pod.kills], dtype=float)
    g_start = _offsets([len(pod.gates) for pod in pods])
    gates = [gate for pod in pods for gate in pod.gates]
    g_lo = np.array([g[0] for g in gates], dtype=float)
    g_hi = np.array([g[1] for g in gates], dtype=float)
    g_kind = np.array([int(g[2]) for g in gates], dtype=np.int64)
    f_start = _offsets([len(pod._fresh) for pod in pods])
    f_t = np.array([t for pod in pods for t in pod._fresh], dtype=float)
    f_seen = np.array([pod._fresh_seen for pod in pods], dtype=np.int64)
    epoch = np.array([pod._epoch for pod in pods], dtype=float)
    node = engine.pod_nodes
    return (
        node, free, free_start, np.diff(free_start), drop, terminating, gone, k_start, k_t,
        g_start, g_lo, g_hi, g_kind, f_start, f_t, f_seen, epoch,
    )  # fmt: skip
