"""Offered load against capacity, per Deployment, over the run.

The offered load of a Deployment is ρ(t) = λ(t)·E[S] / (c·n(t)): λ(t) the request rate its
clients' rate profiles send to a Service that selects it (plus the calls its callers make
for each request they serve), E[S] its mean service time, c its ``concurrency`` (or, for a pod
a CPU limit throttles, the workers that limit keeps busy at full speed: limit / the cores one
busy worker demands, docs/semantics.md#cpu-limits-cfs-throttling) and n(t) the pods the
dataplanes route to at t (the timeline's ``endpoints``). At ρ ≥ 1 no queue is
stable: it grows for as long as that lasts (docs/semantics.md#slos-and-warnings).
"""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx
import numpy as np
import pandas as pd

from sim.kube.deployment import Deployment
from sim.kube.service import Service
from sim.runtime.pod_usage import cpu_throttle
from sim.scenario.resolved import Scenario
from sim.scenario.simulation import Client, Simulation
from sim.units import format_duration

__all__ = [
    "capacity_warnings",
    "client_deployments",
    "client_rates",
    "effective_workers",
    "offered_rate",
    "routed_pods",
    "serving_capacity",
]

_CELLS = 2000  # the run is judged on this many equal cells (and every timeline change)
_MAX_INTERVALS = 3


def client_rates(client: Client, t: np.ndarray, duration_s: float) -> np.ndarray:
    """The client's rate at times ``t``: its profile inside ``[start, stop)`` and the run, else 0."""
    start = client.start_s
    stop = duration_s if client.stop_s is None else min(client.stop_s, duration_s)
    rates = np.asarray(client.rate.rates(t), dtype=float)
    return np.where((t >= start) & (t < stop), rates, 0.0)


def offered_rate(simulation: Simulation, t: np.ndarray) -> np.ndarray:
    """Requests per second all clients send at times ``t`` (what the plots call offered)."""
    total = np.zeros(np.shape(t), dtype=float)
    for client in simulation.clients:
        total += client_rates(client, t, simulation.duration_s)
    return total


def routed_pods(timeline: pd.DataFrame, deployment: str, t: np.ndarray) -> np.ndarray:
    """Pods of ``deployment`` the dataplanes route to at times ``t`` (0 before its first row)."""
    rows = timeline[timeline["deployment"] == deployment]
    if rows.empty:
        return np.zeros(np.shape(t))
    last = rows.groupby("time", sort=True)["endpoints"].last()
    times = last.index.to_numpy(dtype=float)
    at = np.searchsorted(times, t, side="right") - 1
    return np.where(at >= 0, last.to_numpy(dtype=float)[np.clip(at, 0, None)], 0.0)


def _selected(svc: Service | None, deployments: Sequence[Deployment], simulation: Simulation) -> list[str]:
    if svc is None:
        return []
    return [d.name for d in deployments if d.name in simulation.workloads and svc.selects(d.labels)]


def client_deployments(scenario: Scenario) -> list[str]:
    """The Deployments (with a workload) that the Services the clients target select, in scenario order."""
    sim = scenario.simulation
    services = {s.name: s for s in scenario.services}
    chosen = {d for c in sim.clients for d in _selected(services.get(c.target.service), scenario.deployments, sim)}
    return [d.name for d in scenario.deployments if d.name in chosen]


def effective_workers(scenario: Scenario, name: str) -> tuple[float, bool]:
    """The workers a pod of Deployment ``name`` keeps busy at full speed: its ``concurrency``,
    or fewer when its CPU limit throttles (quota / the cores one busy worker demands); and
    whether the limit is what bounds it."""
    work = scenario.simulation.workloads[name]
    quota, demand = cpu_throttle(scenario.deployment(name), work)
    if quota is None or demand <= 0 or quota / demand >= work.concurrency:
        return float(work.concurrency), False
    return quota / demand, True


def serving_capacity(scenario: Scenario, timeline: pd.DataFrame, t: np.ndarray) -> np.ndarray:
    """Requests per second the clients' Deployments can serve at times ``t``: the sum over
    :func:`client_deployments` of n(t)·c / E[S] (pods routed × concurrency / mean service
    time), the rate at which their offered load ρ(t) reaches 1."""
    sim = scenario.simulation
    total = np.zeros(np.shape(t), dtype=float)
    for name in client_deployments(scenario):
        work = sim.workloads[name]
        pods = routed_pods(timeline, name, t)
        mean_s = work.service_time.mean
        # A service time of zero serves without bound wherever a pod is routed.
        workers, _ = effective_workers(scenario, name)
        total += pods * workers / mean_s if mean_s > 0 else np.where(pods > 0, np.inf, 0.0)
    return total


def deployment_rates(scenario: Scenario, timeline: pd.DataFrame, t: np.ndarray) -> dict[str, np.ndarray]:
    """λ(t) per Deployment: clients' rates through their Services (split by routed pods where a
    Service selects several Deployments), then the calls, in call order; a cycle of calls is
    left out (its load is bounded by timeouts, not by rates)."""
    sim = scenario.simulation
    services = {s.name: s for s in scenario.services}
    pods = {d.name: routed_pods(timeline, d.name, t) for d in scenario.deployments if d.name in sim.workloads}
    rates = {name: np.zeros(np.shape(t)) for name in pods}

    def send(service: str, rate: np.ndarray) -> None:
        chosen = _selected(services.get(service), scenario.deployments, sim)
        if not chosen:
            return
        total = sum(pods[d] for d in chosen)
        for d in chosen:
            share = np.where(total > 0, pods[d] / np.where(total > 0, total, 1), 1 / len(chosen))
            rates[d] += rate * share

    for client in sim.clients:
        send(client.target.service, client_rates(client, t, sim.duration_s))
    graph = nx.DiGraph()
    graph.add_nodes_from(sorted(rates))
    for name in sorted(rates):
        for call in sim.workloads[name].calls:
            graph.add_edges_from((name, d) for d in _selected(services.get(call.service), scenario.deployments, sim))
    if nx.is_directed_acyclic_graph(graph):
        for name in nx.lexicographical_topological_sort(graph):
            for call in sim.workloads[name].calls:
                send(call.service, rates[name].copy())
    return rates


def capacity_warnings(scenario: Scenario, timeline: pd.DataFrame) -> list[str]:
    """One line per Deployment whose offered load reaches its capacity at some time of the run."""
    sim = scenario.simulation
    edges = np.linspace(0.0, sim.duration_s, _CELLS + 1)
    changes = timeline["time"].to_numpy(dtype=float) if len(timeline) else np.zeros(0)
    edges = np.unique(np.concatenate([edges, changes[(changes > 0) & (changes < sim.duration_s)]]))
    mid = (edges[:-1] + edges[1:]) / 2
    out = []
    for name, lam in deployment_rates(scenario, timeline, mid).items():
        work = sim.workloads[name]
        workers, throttled = effective_workers(scenario, name)
        pods = routed_pods(timeline, name, mid)
        mean_s = work.service_time.mean
        routed = pods > 0
        none = (lam > 0) & ~routed  # nothing to send to: refused, whatever the service time
        if none.any():
            out.append(
                f"deployment {name}: no pod routed {_spans(none, edges)} while clients offer up to "
                f"{_rate(float(lam[none].max()))} req/s: those requests are refused"
            )
        with np.errstate(divide="ignore", invalid="ignore"):
            rho = np.where((lam > 0) & routed, lam * mean_s / (np.maximum(pods, 1) * workers), 0.0)
        over = routed & (rho >= 1)
        if not over.any():
            continue
        parts = [_spans(over, edges)]
        worst = int(np.argmax(np.where(over, rho, -1.0)))
        steady = np.ptp(rho[over]) < 1e-9 * rho[worst]
        times = f"{rho[worst]:.1f}×" if rho[worst] < 10 else f"{rho[worst]:.0f}×"
        size = f"{times} capacity" if steady else f"up to {times} capacity"
        at = "" if steady else f"at {_when(mid[worst])}: "
        out.append(
            f"deployment {name}: offered load {size} {', '.join(parts)} ({at}λ {_rate(float(lam[worst]))} req/s, "
            f"{pods[worst]:.0f} pod{'s' if pods[worst] != 1 else ''} × {workers:g} "
            f"worker{'s' if workers != 1 else ''}{' at its CPU limit' if throttled else ''}, "
            f"E[S] {format_duration(mean_s)}): queues grow without bound while it lasts"
        )
    return out


def _spans(mask: np.ndarray, edges: np.ndarray) -> str:
    """The runs of True cells as "from A to B", at most a few, then how many more."""
    spans = _runs(mask)
    parts = [f"from {_when(edges[a])} to {_when(edges[b])}" for a, b in spans[:_MAX_INTERVALS]]
    if len(spans) > _MAX_INTERVALS:
        parts.append(f"and {len(spans) - _MAX_INTERVALS} more interval(s)")
    return ", ".join(parts)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``(first cell, one past the last)`` of each run of True cells, as edge indices."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    change = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b)) for a, b in zip(change[::2], change[1::2], strict=True)]


def _when(t: float) -> str:
    """A time of the run, rounded to what the judging grid resolves."""
    return format_duration(round(float(t), 1) if t >= 1 else round(float(t), 3))


def _rate(rate: float) -> str:
    return f"{rate:,.0f}" if rate >= 100 else f"{rate:.3g}"
