"""What a pod uses: cumulative CPU-seconds, working set, and its request counters
(docs/semantics.md#cpu-and-memory-usage).

The metrics pipeline reads these as the kubelet's cAdvisor and an app's Prometheus endpoint
expose them: a cumulative CPU counter (metrics-server turns two readings into a rate), the
working set now, and ``http_requests_total``. They are kept online: each admitted request is
recorded once as ``(arrival, start, end, cpu)``, and a reading at t folds every request that
has left the pod by t into running totals, so a reading costs O(requests still in the pod),
not O(requests ever). Readings come in time order per pod, after the request engine has
caught up to their time, so every kill up to t is known then (the control plane sets kills at
or before the times they name).

Only pods of the Deployments in :attr:`~sim.runtime.control_plane.ControlPlane.metered` carry
a :class:`PodUsage`; other pods pay nothing.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from sim.kube.deployment import Deployment
from sim.kube.hpa import MetricSpec
from sim.scenario.resolved import Scenario
from sim.scenario.simulation import CpuUsage, MemoryUsage, Workload

__all__ = ["PodUsage", "covered_deployments", "cpu_throttle", "metered_deployments", "running_at", "running_time"]

INF = math.inf


def covered_deployments(scenario: Scenario, spec: MetricSpec) -> set[str]:
    """The Deployments whose pods an Object or External metric sums over: a described Service's
    backends, a described Deployment, or the pods an External metric's ``matchLabels`` select
    (every pod without a selector)."""
    if spec.type == "Object":
        kind, _, name = (spec.described or "").partition("/")
        if kind == "Deployment":
            return {name}
        service = next(s for s in scenario.services if s.name == name)
        return {d.name for d in scenario.deployments if service.selects(d.labels)}
    wanted = (spec.selector or {}).get("matchLabels") or {}
    return {d.name for d in scenario.deployments if all(d.labels.get(k) == v for k, v in wanted.items())}


def metered_deployments(scenario: Scenario) -> frozenset[str]:
    """The Deployments whose pods keep usage accounts: those an HPA scales, and those whose pods
    an Object or External metric sums over (metrics-server and the adapter scrape them)."""
    out: set[str] = set()
    for hpa in scenario.hpas:
        out.add(hpa.target_name)
        for spec in hpa.metrics:
            if spec.type in ("Object", "External"):
                out |= covered_deployments(scenario, spec)
    return frozenset(out)


def cpu_throttle(dep: Deployment, workload: Workload) -> tuple[float | None, float]:
    """The pod's CFS quota in cores, when its demand can exceed it, and the cores one busy
    worker demands (docs/semantics.md#cpu-and-memory-usage). The kubelet puts a quota on the
    pod's cgroup only when every container has a non-zero cpu limit (ResourceConfigForPod's
    ``cpuLimitsDeclared``): the sum of their limits. None when there is none, or when all the
    workers busy at once stay within it."""
    demand = workload.cpu.demand_cores(workload.service_time.mean)
    containers = dep.container_resources
    if not containers or any(not c.cpu_limit_m for c in containers):
        return None, demand
    limit = sum(c.cpu_limit_m or 0 for c in containers) / 1000
    return (limit if workload.concurrency * demand > limit else None), demand


@dataclass(eq=False)
class PodUsage:
    """One pod's usage account: its workload's usage model and the requests not yet folded."""

    cpu: CpuUsage
    memory: MemoryUsage
    _cpu_done: float = 0.0  # CPU-seconds of the requests folded so far
    _count_done: int = 0  # ... how many of them were served (a counter's part)
    _seen: float = -INF  # the last reading's time (readings come in time order)
    # Requests not folded yet: numpy chunks (the batch engine) and scalars (the event engine).
    _chunks: list[tuple[np.ndarray, ...]] = field(default_factory=list)
    _rows: list[tuple[float, float, float, float, bool]] = field(default_factory=list)
    _row_chunks: list[tuple[np.ndarray, ...]] = field(default_factory=list)  # rows recorded as columns

    # -- recording (Pod.admit and Pod.admit_one) ---------------------------------------------
    def served(self, arrive: np.ndarray, start: np.ndarray, service: np.ndarray, drawn: np.ndarray) -> None:
        """Requests a worker takes: in the pod from ``arrive``, served over ``[start, start +
        service]``; each burns ``cpu.per_request_s``, or its drawn (unthrottled) service time."""
        cpu = drawn if self.cpu.per_request_s is None else np.full(len(arrive), self.cpu.per_request_s)
        self._chunks.append((arrive, start, start + service, cpu, np.ones(len(arrive), dtype=bool)))

    def served_one(self, arrive: float, start: float, service: float, drawn: float) -> None:
        cpu = drawn if self.cpu.per_request_s is None else self.cpu.per_request_s
        self._rows.append((arrive, start, start + service, cpu, True))

    def admitted(
        self,
        arrive: np.ndarray,
        cancel: np.ndarray,
        served: np.ndarray,
        waited: np.ndarray,
        start: np.ndarray,
        service: np.ndarray,
        drawn: np.ndarray,
    ) -> None:
        """What :func:`~sim.runtime.requests.rules.fifo_admit` decided for arrivals in order, as
        columns: the ``served`` ones (``drawn``: their unstretched draws, in order) as
        :meth:`served_one` records them, the ``waited`` ones as :meth:`waited` does, kept in
        arrival order among the rows (the same rows, in the same order, as one call each)."""
        keep = served | waited
        if not keep.any():
            return
        cpu = np.zeros(len(arrive))
        cpu[served] = drawn if self.cpu.per_request_s is None else self.cpu.per_request_s
        begin = np.where(served, start, cancel)
        end = np.where(served, start + service, cancel)
        self._row_chunks.append((arrive[keep], begin[keep], end[keep], cpu[keep], served[keep]))

    def waited(self, arrive: float, left: float) -> None:
        """A request that waited in the pod from ``arrive`` and left unserved at ``left`` (its
        client gave up): it holds memory, burns no CPU and is not counted as served."""
        self._rows.append((arrive, left, left, 0.0, False))

    # -- readings ----------------------------------------------------------------------------
    def cpu_seconds(self, t: float, running_s: float, kills: Sequence[float]) -> float:
        """CPU-seconds used by ``t``: idle × ``running_s`` plus each request's CPU spread evenly
        over its service, cut at the first kill after its arrival."""
        _, start, end, cpu, _ = self._fold(t, kills)
        span = end - start
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(span > 0, np.clip((np.minimum(end, t) - start) / span, 0.0, 1.0), start <= t)
        # Unfolded requests have not left by t: one cut by a kill k <= t would have been folded.
        return self.cpu.idle_cores * running_s + self._cpu_done + float(np.dot(cpu, share))

    def requests_total(self, t: float, kills: Sequence[float]) -> int:
        """Requests served (a worker took them) with arrival <= t: ``http_requests_total``."""
        arrive, _, _, _, counted = self._fold(t, kills)
        return self._count_done + int(np.count_nonzero(counted & (arrive <= t)))

    def in_flight(self, t: float, kills: Sequence[float]) -> int:
        """Requests in the pod at ``t``, waiting or served (arrived, not left)."""
        arrive, _, _, _, _ = self._fold(t, kills)
        return int(np.count_nonzero(arrive <= t))

    def working_set_bytes(self, t: float, running: bool, kills: Sequence[float]) -> float:
        """base (while the container runs) + perRequest × the requests in the pod at ``t``."""
        base = self.memory.base_bytes if running else 0.0
        return base + self.memory.per_request_bytes * self.in_flight(t, kills)

    def _fold(self, t: float, kills: Sequence[float]) -> tuple[np.ndarray, ...]:
        """Fold every request that left the pod by ``t`` (served, given up, or cut by a kill)
        into the totals; the rest, as columns ``(arrive, start, end, cpu, counted)`` with
        ``end`` already cut at a kill."""
        assert t >= self._seen, f"usage read at {t} after {self._seen}: readings go forward in time"
        self._seen = t
        chunks = self._chunks
        if self._row_chunks or self._rows:
            # The rows after the chunks, as they were recorded (the sums' order stays the same).
            parts = self._row_chunks
            if self._rows:
                rows = np.array(self._rows, dtype=float).reshape(-1, 5)
                parts.append((rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3], rows[:, 4].astype(bool)))
            if len(parts) == 1:
                chunks.append(parts[0])
            else:
                chunks.append(tuple(np.concatenate(column) for column in zip(*parts, strict=True)))
            self._rows, self._row_chunks = [], []
        if not chunks:
            empty = np.empty(0)
            return empty, empty, empty, empty, np.empty(0, dtype=bool)
        arrive, start, end, cpu, counted = (np.concatenate(column) for column in zip(*chunks, strict=True))
        if kills:
            known = np.asarray(kills, dtype=float)
            at = np.searchsorted(known, arrive, side="right")  # the first kill after each arrival
            kill = np.append(known, INF)[at]
            cut = kill < end
            if cut.any():  # burns up to the kill, nothing if it had not started
                span = end - start
                with np.errstate(divide="ignore", invalid="ignore"):
                    kept = np.where(span > 0, np.clip((kill - start) / span, 0.0, 1.0), 0.0)
                cpu = np.where(cut, cpu * kept, cpu)
                start = np.where(cut, np.minimum(start, kill), start)
                end = np.where(cut, kill, end)
        gone = end <= t
        if gone.any():
            self._cpu_done += float(cpu[gone].sum())
            self._count_done += int(np.count_nonzero(counted[gone]))
            stay = ~gone
            arrive, start, end, cpu, counted = arrive[stay], start[stay], end[stay], cpu[stay], counted[stay]
        self._chunks = [(arrive, start, end, cpu, counted)] if len(arrive) else []
        return arrive, start, end, cpu, counted


def running_time(t: float, first_up: float, gone_at: float, kills: Sequence[float], fresh: Sequence[float]) -> float:
    """Seconds the pod's app ran by ``t``: from its first start to its end, less the gaps from
    each kill to the next time a restarted app came up (``fresh``; none: down for good).

    >>> running_time(10.0, 0.0, math.inf, [2.0], [5.0])
    7.0
    """
    end = min(t, gone_at)
    if end <= first_up:
        return 0.0
    total, at = 0.0, first_up  # ``at``: the end of what has been counted
    for kill in kills:
        if kill >= end:
            break
        if kill > at:
            total += kill - at
        i = bisect.bisect_right(fresh, kill)
        at = max(at, fresh[i] if i < len(fresh) else INF)
    if at < end:
        total += end - at
    return total


def running_at(t: float, first_up: float, gone_at: float, kills: Sequence[float], fresh: Sequence[float]) -> bool:
    """Whether the pod's app runs at ``t`` (as :func:`running_time` counts it)."""
    if not first_up <= t < gone_at:
        return False
    i = bisect.bisect_right(kills, t)
    if i == 0:
        return True
    j = bisect.bisect_right(fresh, kills[i - 1])
    return j < len(fresh) and fresh[j] <= t
