"""The numbers behind the plots: time bins, rolling percentiles, rates, phases, expected load.

Kept apart from drawing so they can be tested as data and reused in notebooks. Everything
is aggregated with numpy/pandas before anything is drawn.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from sim.results.result import Result

__all__ = [
    "binned_rate",
    "deployment_ready",
    "expected_requests",
    "node_count",
    "pending_pods",
    "phases",
    "rate_per_pod",
    "rolling_latency",
    "rolling_percentiles",
    "row_count",
    "scale_events",
    "step_series",
    "time_bins",
]

_NICE_S = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)


def binned_rate(times: np.ndarray, edges: np.ndarray, weight: int = 1) -> np.ndarray:
    """Events per second in each bin of ``edges``; each row counts ``weight`` events (a sampled
    run's k: :attr:`Result.sample <sim.results.result.Result.sample>`)."""
    return weight * np.histogram(times, bins=edges)[0] / np.diff(edges)


def row_count(rows: int, weight: int = 1) -> str:
    """How many requests ``rows`` rows stand for, for a legend: exact when every row is kept,
    ``≈N`` in a sampled run."""
    return f"{rows}" if weight == 1 else f"≈{rows * weight:,}"


def time_bins(duration_s: float, n_requests: int, *, min_per_bin: int = 30, max_bins: int = 150) -> np.ndarray:
    """Bin edges over ``[0, duration]``: a round width with at most ``max_bins`` bins and,
    on average, at least ``min_per_bin`` requests in each."""
    floor = max(duration_s / max_bins, min_per_bin * duration_s / max(n_requests, 1))
    width = next((w for w in _NICE_S if w >= floor), floor)
    edges = np.arange(0.0, duration_s + width, width)
    edges[-1] = max(edges[-1], duration_s)
    return edges


def rolling_percentiles(
    ok: pd.DataFrame, duration_s: float, quantiles: tuple[int, ...] = (50, 95, 99)
) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Latency percentiles (ms) of ok requests per time bin, by send time; NaN for empty bins."""
    edges = time_bins(duration_s, len(ok))
    centers = (edges[:-1] + edges[1:]) / 2
    which = np.clip(np.searchsorted(edges, ok["t_sent"].to_numpy(), side="right") - 1, 0, len(centers) - 1)
    frame = pd.DataFrame({"bin": which, "ms": ok["latency"].to_numpy() * 1e3})
    table = frame.groupby("bin")["ms"].quantile([q / 100 for q in quantiles]).unstack()
    table = table.reindex(range(len(centers)))
    return centers, {q: table[q / 100].to_numpy() for q in quantiles}


def rolling_latency(
    ok: pd.DataFrame, duration_s: float, stats: tuple[str, ...]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Latency statistics (ms) of ok requests per time bin, by send time, by name: ``mean`` or
    a percentile ``p50``, ``p90``...; the bins of :func:`rolling_percentiles`, NaN when empty."""
    quantiles = tuple(int(s[1:]) for s in stats if s != "mean")
    centers, table = rolling_percentiles(ok, duration_s, quantiles)
    out = {f"p{q}": table[q] for q in quantiles}
    if "mean" in stats:
        edges = time_bins(duration_s, len(ok))
        which = np.clip(np.searchsorted(edges, ok["t_sent"].to_numpy(), side="right") - 1, 0, len(centers) - 1)
        sums = np.bincount(which, weights=ok["latency"].to_numpy() * 1e3, minlength=len(centers))
        counts = np.bincount(which, minlength=len(centers))
        with np.errstate(invalid="ignore", divide="ignore"):
            out["mean"] = np.where(counts > 0, sums / counts, np.nan)
    return centers, {s: out[s] for s in stats}


def scale_events(timeline: pd.DataFrame) -> list[tuple[float, str]]:
    """(time, label) of every scale event, e.g. ``(120.0, "myapp: scale to 6")``."""
    rows = timeline[timeline["event"].astype(str).str.startswith("scale to")]
    return [(float(r.time), f"{r.deployment}: {r.event}") for r in rows.itertuples()]


def step_series(timeline: pd.DataFrame, duration_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ready pods and dataplane endpoints over time, summed over Deployments, as step points."""
    if timeline.empty:
        return np.array([0.0, duration_s]), np.zeros(2), np.zeros(2)
    last = timeline.groupby(["time", "deployment"], sort=True)[["pods_ready", "endpoints"]].last()
    wide = last.unstack("deployment").ffill().fillna(0)
    times = wide.index.to_numpy(dtype=float)
    ready = wide["pods_ready"].sum(axis=1).to_numpy()
    endpoints = wide["endpoints"].sum(axis=1).to_numpy()
    return np.append(times, duration_s), np.append(ready, ready[-1]), np.append(endpoints, endpoints[-1])


def deployment_ready(timeline: pd.DataFrame, deployment: str, duration_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Ready pods of one Deployment over time, as step points (0 before its first row)."""
    rows = timeline[timeline["deployment"].astype(str) == deployment]
    if rows.empty:
        return np.array([0.0, duration_s]), np.zeros(2)
    last = rows.groupby("time", sort=True)["pods_ready"].last()
    times, ready = last.index.to_numpy(dtype=float), last.to_numpy(dtype=float)
    return np.append(times, duration_s), np.append(ready, ready[-1])


def pending_pods(
    pod_status: pd.DataFrame, pods: pd.DataFrame, deployment: str, duration_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Pods of one Deployment whose kubectl STATUS is ``Pending`` over time, as step points: a
    pod counts from a ``pod_status`` row saying Pending until its next row, or its deletion."""
    names = set(pods.loc[pods["deployment"].astype(str) == deployment, "pod"].astype(str))
    rows = pod_status[pod_status["pod"].astype(str).isin(names)]
    if rows.empty:
        return np.array([0.0, duration_s]), np.zeros(2)
    deleted = pods[pods["pod"].astype(str).isin(names)][["pod", "deleted"]].dropna()
    gone = pd.DataFrame({"time": deleted["deleted"].astype(float), "pod": deleted["pod"].astype(str), "status": ""})
    changes = pd.concat([rows[["time", "pod", "status"]].astype({"pod": str}), gone], ignore_index=True)
    changes = changes.sort_values("time", kind="stable")
    pending = (changes["status"].astype(str) == "Pending").astype(int)
    before = pending.groupby(changes["pod"]).shift(fill_value=0)
    delta = (pending - before).groupby(changes["time"].to_numpy(dtype=float)).sum()
    times = delta.index.to_numpy(dtype=float)
    level = np.cumsum(delta.to_numpy(dtype=float))
    times, level = np.concatenate(([0.0], times)), np.concatenate(([0.0], level))
    return np.append(times, duration_s), np.append(level, level[-1])


def node_count(result: Result, duration_s: float) -> tuple[np.ndarray, np.ndarray, bool]:
    """Nodes in the cluster over time as step points, and whether they come from the run's
    ``nodes`` table (``added``/``removed``); without one, the scenario's nodes throughout."""
    nodes = getattr(result, "nodes", None)
    if not isinstance(nodes, pd.DataFrame) or not {"added", "removed"} <= set(nodes.columns) or nodes.empty:
        constant = float(len(result.scenario.simulation.cluster.nodes))
        return np.array([0.0, duration_s]), np.array([constant, constant]), False
    added = nodes["added"].astype(float).fillna(0.0).to_numpy()
    removed = nodes["removed"].astype(float).dropna().to_numpy()
    times = np.unique(np.concatenate(([0.0], added, removed)))
    times = times[times <= duration_s]
    count = np.searchsorted(np.sort(added), times, side="right") - np.searchsorted(np.sort(removed), times, "right")
    return np.append(times, duration_s), np.append(count, count[-1]).astype(float), True


def rate_per_pod(
    requests: pd.DataFrame, duration_s: float, by: str = "pod", weight: int = 1
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Requests per second routed to each pod (``by="pod_node"``: to each node's pods), per
    time bin (by send time); each row counts ``weight`` requests (a sampled run's k). Bins are
    wide enough for the rows of an average pod (or node), not of all of them together."""
    routed_rows = requests[by].notna()
    groups = max(1, requests.loc[routed_rows, by].nunique())
    edges = time_bins(duration_s, int(routed_rows.sum()) // groups)
    centers = (edges[:-1] + edges[1:]) / 2
    routed = requests[routed_rows]
    rates = {
        str(key): binned_rate(times.to_numpy(), edges, weight)
        for key, times in routed.groupby(by, observed=True)["t_sent"]
    }
    return centers, rates


def phases(result: Result) -> list[tuple[float, float, str]]:
    """Intervals between scale events over the measured window: ``(start, end, label)``."""
    sim = result.scenario.simulation
    cuts = sorted({t for t, _ in scale_events(result.timeline) if sim.warmup_s < t < sim.duration_s})
    bounds = [sim.warmup_s, *cuts, sim.duration_s]
    return [(a, b, f"{a:g}–{b:g} s") for a, b in itertools.pairwise(bounds)]


def expected_requests(result: Result) -> dict[str, float]:
    """Requests each pod would get if every routed request chose uniformly among the pods
    the dataplane held at that moment (per Deployment): the yardstick for the bars."""
    pods, req = result.pods, result.requests
    routed = req[req["pod"].notna()]
    deployment_of = dict(zip(pods["pod"], pods["deployment"], strict=True))
    out: dict[str, float] = {}
    for deployment, group in pods.groupby("deployment"):
        names = set(group["pod"])
        times = np.sort(routed.loc[routed["pod"].map(deployment_of) == deployment, "t_sent"].to_numpy())
        if not len(times):
            continue
        start = group["routed"].astype(float).fillna(np.inf).to_numpy()
        stop = group["unrouted"].astype(float).fillna(np.inf).to_numpy()
        started = np.searchsorted(np.sort(start), times, side="right")
        live = started - np.searchsorted(np.sort(stop), times, side="right")
        share = np.where(live > 0, 1.0 / np.maximum(live, 1), 0.0)
        prefix = np.concatenate(([0.0], np.cumsum(share)))
        for name, a, b in zip(group["pod"], start, stop, strict=True):
            assert name in names
            lo = np.searchsorted(times, a, side="left")
            hi = np.searchsorted(times, b, side="left")
            out[str(name)] = float(prefix[hi] - prefix[lo]) * result.sample  # a sampled row is k requests
    return out
