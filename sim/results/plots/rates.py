"""Drawing rates over time: offered against served and failed, and retries.

Pure drawing into a given axes, as :mod:`sim.results.plots.cluster_drawing` does; the public
functions in :mod:`sim.results.plots` add titles, warm-up shading and scale events. Only the
clients' requests count here (calls between Services are not offered by a client).
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from sim.results.capacity import client_deployments, effective_workers, offered_rate, serving_capacity
from sim.results.plots.data import binned_rate, row_count, time_bins
from sim.results.result import Result
from sim.results.slo import client_requests
from sim.scenario.resolved import Scenario
from sim.units import format_duration

__all__ = ["draw_rates", "draw_retries", "has_retries", "tries_table"]

_OFFERED_POINTS = 1000
_CLIP = 4.0  # a capacity this many times the highest rate is cut off the plot ...
_HEADROOM = 1.5  # ... which then reaches this far above that rate


def draw_rates(ax: Axes, result: Result) -> str:
    """Offered rate (the clients' profiles summed, shaded) and the serving capacity under the
    measured ok and failed rates per bin by completion time; returns the bin width as text
    (``"1 s"``)."""
    sim = result.scenario.simulation
    duration = sim.duration_s
    clients = client_requests(result.requests)
    edges = time_bins(duration, len(clients))
    centers, width = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
    t = np.linspace(0.0, duration, _OFFERED_POINTS)
    offered = offered_rate(sim, np.minimum(t, np.nextafter(duration, 0.0)))  # clients send in [0, duration)
    done = clients["t_done"].to_numpy(dtype=float)
    ok = (clients["outcome"] == "ok").to_numpy()
    served = binned_rate(done[ok], edges, result.sample)
    failed = binned_rate(done[~ok], edges, result.sample)
    ax.fill_between(t, offered, step=None, color="#1f77b4", alpha=0.18, linewidth=0)
    ax.plot(t, offered, color="#1f77b4", linewidth=1.2, label="offered (clients' rate profiles)")
    top = max(float(offered.max(initial=0.0)), float(served.max(initial=0.0)), float(failed.max(initial=0.0)))
    clipped = _draw_capacity(ax, result, t, top)
    bin_text = f"{width[0]:g} s"
    ax.plot(centers, served, color="#2ca02c", linewidth=1.6, label=f"served: ok per {bin_text} bin")
    ax.plot(centers, failed, color="#d62728", linewidth=1.6, label=f"failed: not ok per {bin_text} bin")
    ax.set_xlim(0, duration)
    ax.set_ylim(0, top * _HEADROOM if clipped else None)
    ax.set_xlabel("simulated time (s; served and failed by completion time)")
    ax.set_ylabel("requests per second")
    return bin_text


def _draw_capacity(ax: Axes, result: Result, t: np.ndarray, top: float) -> bool:
    """Draw the clients' Deployments' serving capacity, pods routed(t) × concurrency / E[S],
    as a step line: where offered rises above it, queues grow (docs/semantics.md#slos-and-warnings).
    Returns whether it runs far above ``top`` (the highest rate drawn), so the axis is cut
    below it and the label gives its value instead."""
    scenario, timeline = result.scenario, result.timeline
    names = client_deployments(scenario)
    if not names:
        return False
    changes = timeline["time"].to_numpy(dtype=float) if len(timeline) else np.zeros(0)
    at = np.unique(np.concatenate([t, changes[(changes >= 0) & (changes <= t[-1])]]))
    capacity = serving_capacity(scenario, timeline, at)
    finite = capacity[np.isfinite(capacity)]
    if not len(finite):
        return False
    label = "capacity: " + " + ".join(_per_pod(scenario, name) for name in names)
    clipped = top > 0 and float(finite.max()) > _CLIP * top
    if clipped:
        label += f" (up to {float(finite.max()):,.0f} req/s, above the plot)"
    label = textwrap.fill(label, 70, subsequent_indent="  ")  # a legend no wider than the plot
    ax.plot(
        at,
        np.where(np.isfinite(capacity), capacity, np.nan),
        drawstyle="steps-post",
        color="black",
        linestyle="--",
        linewidth=1.4,
        label=label,
    )
    return clipped


def tries_table(result: Result) -> pd.DataFrame | None:
    """The run's tries (one row per attempt), or None when the run kept none."""
    tries = getattr(result, "tries", None)
    return tries if isinstance(tries, pd.DataFrame) else None


def has_retries(result: Result) -> bool:
    """Whether the run has what the retries plot needs: ``attempts`` on requests and a tries table."""
    tries = tries_table(result)
    return (
        "attempts" in result.requests.columns
        and tries is not None
        and {"attempt", "t_sent", "outcome"} <= set(tries.columns)
    )


def draw_retries(ax: Axes, result: Result) -> str:
    """Retries sent (tries after the first) and requests that needed one, per bin by send
    time; returns the bin width as text."""
    tries = tries_table(result)
    assert tries is not None
    duration = result.scenario.simulation.duration_s
    edges = time_bins(duration, len(tries))
    centers, width = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
    bin_text = f"{width[0]:g} s"
    retried = tries[tries["attempt"] > 1]
    k = result.sample
    ax.plot(
        centers,
        binned_rate(retried["t_sent"].to_numpy(dtype=float), edges, k),
        color="#ff7f0e",
        linewidth=1.6,
        label=f"retries sent per {bin_text} bin ({row_count(len(retried), k)})",
    )
    for outcome, color in (("ok", "#2ca02c"), ("not ok", "#d62728")):
        mask = retried["outcome"].astype(str) == "ok"
        chosen = retried[mask if outcome == "ok" else ~mask]
        ax.plot(
            centers,
            binned_rate(chosen["t_sent"].to_numpy(dtype=float), edges, k),
            color=color,
            linewidth=1,
            linestyle=":",
            label=f"… of which {outcome} ({row_count(len(chosen), k)})",
        )
    requests = client_requests(result.requests)
    needed = requests[requests["attempts"] > 1]
    label = f"requests that needed a retry ({row_count(len(needed), k)})"
    ax.plot(
        centers, binned_rate(needed["t_sent"].to_numpy(dtype=float), edges, k), color="0.3", linewidth=1.2, label=label
    )
    ax.set_xlim(0, duration)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("simulated time (s, by send time)")
    ax.set_ylabel("per second")
    return bin_text


def _per_pod(scenario: Scenario, name: str) -> str:
    """``web pods routed × 2 / 16ms``, the workers a CPU limit leaves when it throttles."""
    workers, throttled = effective_workers(scenario, name)
    mean = format_duration(scenario.simulation.workloads[name].service_time.mean)
    return f"{name} pods routed × {workers:g}{' (cpu limit)' if throttled else ''} / {mean}"
