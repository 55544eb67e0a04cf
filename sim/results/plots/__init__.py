"""Pictures of a run: latency while pods scale, load per pod and node, outcomes, topology,
and what the autoscalers did.

Every function takes a :class:`~sim.results.result.Result` (or a run folder) and an optional
matplotlib ``ax``, and returns the Figure; the ``compare_*`` functions take several runs and
overlay them, one colour and legend entry per run (:mod:`sim.results.plots.compare`).
Figures are made with ``matplotlib.figure.Figure``, never pyplot, so no global state leaks
between calls. Large runs are aggregated into time
bins before drawing and the faint per-request layer is a bounded sample, so a run of 10^6
requests draws in a few seconds. Colours are fixed per node (and per outcome) across plots.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from sim.results.plots.autoscaling import autoscaling_draws, has_hpas, panel_height
from sim.results.plots.cluster_drawing import draw_topology
from sim.results.plots.common import (
    OUTCOME_COLORS,
    STAT_COLORS,
    RunLike,
    axes,
    mark_faults_and_rollouts,
    mark_scale_events,
    node_colors,
    panels,
    plain_text,
    png_bytes,
    run_result,
    shade_warmup,
    title,
)
from sim.results.plots.compare import (
    COMPARE_PLOTS,
    compare_latency_cdf,
    compare_latency_distribution,
    compare_latency_over_time,
    compare_latency_tail,
    render_compare_plots,
)
from sim.results.plots.data import (
    binned_rate,
    expected_requests,
    rate_per_pod,
    rolling_latency,
    row_count,
    step_series,
    time_bins,
)
from sim.results.plots.distribution import latency_cdf, latency_distribution, latency_tail
from sim.results.plots.rates import draw_rates, draw_retries, has_retries
from sim.results.result import Result
from sim.results.run_folder import replacing, write_files
from sim.scenario.simulation import SLO_LATENCY_KEYS

_MAX_POINTS = 20_000  # faint per-request layer: at most this many points
_MAX_FAILURE_POINTS = 5_000

__all__ = [
    "COMPARE_PLOTS",
    "OPTIONAL_PLOTS",
    "PLOTS",
    "autoscaling_panels",
    "available_plots",
    "compare_latency_cdf",
    "compare_latency_distribution",
    "compare_latency_over_time",
    "compare_latency_tail",
    "latency_cdf",
    "latency_distribution",
    "latency_over_time",
    "latency_tail",
    "load_distribution",
    "load_over_time",
    "load_panels",
    "node_colors",
    "outcomes_over_time",
    "rates_over_time",
    "render_compare_plots",
    "render_plots",
    "retries_over_time",
    "save_plots",
    "topology",
]


@plain_text
def latency_over_time(run: RunLike, ax: Axes | None = None) -> Figure:
    """Rolling p50/p95/p99 latency with Ready pods and dataplane endpoints on a second axis;
    scale events, faults and rollouts marked."""
    result = run_result(run)
    fig, ax = axes(ax)
    req = result.requests
    ok = req[req["outcome"] == "ok"]
    duration = result.scenario.simulation.duration_s
    if len(ok):
        step = max(1, math.ceil(len(ok) / _MAX_POINTS))
        sample = ok.iloc[::step]
        ax.scatter(
            sample["t_sent"],
            sample["latency"] * 1e3,
            s=2,
            color="0.6",
            alpha=0.25,
            linewidths=0,
            label=f"ok requests ({'1 in ' + str(step * result.sample) if step * result.sample > 1 else 'all'})",
            rasterized=True,
        )
        centers, table = rolling_latency(ok, duration, _latency_stats(result))
        width = f"{centers[1] - centers[0]:g} s" if len(centers) > 1 else f"{duration:g} s"
        for stat, values in table.items():
            ax.plot(centers, values, color=STAT_COLORS[stat], linewidth=1.6, label=f"{stat} per {width} bin")
    _slo_lines(ax, result)
    failed = req[req["outcome"] != "ok"]
    if len(failed):
        step = max(1, math.ceil(len(failed) / _MAX_FAILURE_POINTS))
        for outcome, group in failed.iloc[::step].groupby("outcome", observed=True):
            ax.scatter(
                group["t_sent"],
                group["latency"] * 1e3,
                marker="x",
                s=14,
                color=OUTCOME_COLORS[str(outcome)],
                label=f"{outcome} ({int((failed['outcome'] == outcome).sum())})",
            )
    ax.set_yscale("log")
    ax.set_xlim(0, duration)
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("latency (ms, log scale)")
    pods_ax = ax.twinx()
    times, ready, endpoints = step_series(result.timeline, duration)
    pods_ax.step(times, ready, where="post", color="black", linewidth=1.2, label="Ready pods")
    pods_ax.step(
        times, endpoints, where="post", color="black", linewidth=1.2, linestyle=":", label="endpoints in dataplane"
    )
    pods_ax.set_ylabel("pods")
    pods_ax.set_ylim(0, max([*ready, *endpoints, 1]) * 1.6)
    pods_ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    mark_scale_events(ax, result)
    mark_faults_and_rollouts(ax, result)
    shade_warmup(ax, result)
    handles, labels = ax.get_legend_handles_labels()
    more, more_labels = pods_ax.get_legend_handles_labels()
    ax.legend(
        handles + more, labels + more_labels, loc="upper left", bbox_to_anchor=(1.08, 1), fontsize=8, markerscale=3
    )
    title(ax, "Latency over time (percentiles per time bin, by send time) and pods", result)
    return fig


def _latency_stats(result: Result) -> tuple[str, ...]:
    """The statistics drawn per bin: p50, p95 and p99, and any other the SLO bounds (so each
    bound has its measured line beside it), in :data:`SLO_LATENCY_KEYS` order."""
    slo = result.scenario.simulation.slo
    bounded = set(slo.latency_s) if slo is not None else set()
    return tuple(k for k in SLO_LATENCY_KEYS if k in bounded or k in ("p50", "p95", "p99"))


def _slo_lines(ax: Axes, result: Result) -> None:
    """The SLO's latency bounds as dash-dotted horizontal lines, each in the colour of its
    statistic's line and named at its right end."""
    slo = result.scenario.simulation.slo
    for key, target_s in (slo.latency_s if slo is not None else {}).items():
        color = STAT_COLORS[key]
        ax.axhline(
            target_s * 1e3, color=color, linestyle="-.", linewidth=1.2, label=f"SLO {key} ≤ {target_s * 1e3:g} ms"
        )
        ax.annotate(
            f"SLO {key}",
            xy=(1, target_s * 1e3),
            xycoords=("axes fraction", "data"),
            xytext=(-3, 2),
            textcoords="offset points",
            ha="right",
            va="bottom",
            fontsize=8,
            color=color,
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.8},
        )


#: Above this many pods the load plots show the spread of the pods' load and per-node totals
#: instead of a bar and a band per pod: at 60 pods the bars' labels are already unreadable, and
#: 10 000 bands took minutes to draw.
MANY_PODS = 40


@plain_text
def load_distribution(run: RunLike, ax: Axes | None = None) -> Figure:
    """Requests per pod, grouped and coloured by node, against the share uniform choice predicts
    (with more than :data:`MANY_PODS` pods: :func:`load_spread`)."""
    result = run_result(run)
    if len(result.pods) > MANY_PODS:
        return load_spread(result, ax)
    fig, ax = axes(ax)
    pods = result.pods[result.pods["requests"] > 0].copy()
    pods["node"] = pods["node"].fillna("<none>")
    pods = pods.sort_values(["node", "created", "pod"])
    colors = node_colors(result)
    expected = expected_requests(result)
    x = np.arange(len(pods))
    ax.bar(x, pods["requests"], color=[colors.get(n, "0.5") for n in pods["node"]], width=0.8)
    ax.scatter(
        x,
        [expected.get(p, np.nan) for p in pods["pod"]],
        marker="_",
        s=600,
        color="black",
        zorder=3,
        label="expected with uniform random choice",
    )
    ax.set_xticks(
        x, [f"{p}\n{ip}" for p, ip in zip(pods["pod"], pods["ip"], strict=True)], rotation=30, ha="right", fontsize=7
    )
    for node, color in colors.items():
        ax.bar([np.nan], [np.nan], color=color, label=node)
    ax.set_ylabel("requests routed to the pod")
    ax.set_xlabel("pod (grouped by node)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    title(ax, "Requests per pod, coloured by node", result)
    return fig


@plain_text
def load_spread(run: RunLike, ax: Axes | None = None) -> Figure:
    """Each pod's requests as a share of what uniform random choice predicts for it, as a
    histogram (100 % is the expected share), the three pods furthest below and above named."""
    result = run_result(run)
    fig, ax = axes(ax)
    expected = expected_requests(result)
    pods = result.pods[["pod", "node", "requests"]].copy()
    pods["expected"] = pods["pod"].map(expected).astype(float)
    pods = pods[pods["expected"] > 0]
    ratio = 100.0 * pods["requests"].to_numpy(dtype=float) / pods["expected"].to_numpy(dtype=float)
    if len(ratio):
        # Bins a whole number of requests wide: counts are integers, so a bin narrower than one
        # request (as a share of the typical expectation) would be empty or doubled by turns.
        step = 100.0 / float(np.median(pods["expected"]))
        width = step * max(1.0, np.ceil((np.ptp(ratio) / 40.0) / step))
        edges = np.arange(ratio.min() - width / 2, ratio.max() + width, width)
        ax.hist(ratio, bins=edges.tolist(), color="#1f77b4", alpha=0.8)
    ax.axvline(100.0, color="black", lw=1, ls="--", label="the expected share (uniform random choice)")
    order = np.argsort(ratio, kind="stable")
    named = [*order[:3], *order[-3:]] if len(order) > 6 else list(order)
    lines = [
        f"{pods['pod'].iloc[i]} ({pods['node'].iloc[i]}): {ratio[i]:.0f} %, {int(pods['requests'].iloc[i]):,} requests"
        for i in dict.fromkeys(named)
    ]
    if lines:
        ax.text(
            1.01,
            0.0,
            "furthest from their share:\n" + "\n".join(lines),
            transform=ax.transAxes,
            fontsize=7,
            va="bottom",
        )
    ax.set_xlabel("requests routed to the pod, % of its expected share")
    ax.set_ylabel("pods")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    title(ax, f"Requests per pod against the expected share ({len(ratio):,} pods that got requests)", result)
    return fig


@plain_text
def load_over_time(run: RunLike, ax: Axes | None = None) -> Figure:
    """Per-pod request rate over time, stacked: load moving onto new pods and off removed ones
    (with more than :data:`MANY_PODS` pods: per node)."""
    result = run_result(run)
    fig, ax = axes(ax)
    duration = result.scenario.simulation.duration_s
    if len(result.pods) > MANY_PODS:
        return _node_rates(result, fig, ax)
    centers, rates = rate_per_pod(result.requests, duration, weight=result.sample)
    node_of = dict(zip(result.pods["pod"], result.pods["node"], strict=True))
    colors = node_colors(result)
    created = {str(p): i for i, p in enumerate(result.pods["pod"])}  # the pods table is in creation order
    order = sorted(rates, key=lambda p: (str(node_of.get(p)), created.get(p, 0)))
    shades = _pod_shades(order, node_of, colors)
    if order:
        ax.stackplot(
            centers, [rates[p] for p in order], colors=[shades[p] for p in order], linewidth=0.2, edgecolor="white"
        )
    for node, color in colors.items():
        ax.fill_between([], [], color=color, label=node)
    _rate_axes(ax, result, "requests per second", "node (one shade per pod)")
    title(ax, "Request rate per pod over time (stacked)", result)
    return fig


def _node_rates(result: Result, fig: Figure, ax: Axes) -> Figure:
    """Requests per second to each node's pods over time, summarised across the nodes: the
    median, the 10-90 % band and the range (a band per node is unreadable past a dozen)."""
    duration = result.scenario.simulation.duration_s
    centers, per_node = rate_per_pod(result.requests, duration, by="pod_node", weight=result.sample)
    if per_node:
        rates = np.vstack(list(per_node.values()))
        low, p10, median, p90, high = np.percentile(rates, [0, 10, 50, 90, 100], axis=0)
        ax.fill_between(centers, low, high, color="#1f77b4", alpha=0.15, linewidth=0, label="min-max")
        ax.fill_between(centers, p10, p90, color="#1f77b4", alpha=0.35, linewidth=0, label="10-90 %")
        ax.plot(centers, median, color="#1f77b4", lw=1.2, label="median")
    _rate_axes(ax, result, "requests per second to the node's pods", "across nodes")
    title(ax, f"Request rate per node over time ({len(per_node)} nodes with pods that got requests)", result)
    return fig


def _rate_axes(ax: Axes, result: Result, ylabel: str, legend: str) -> None:
    """A rate over the run's time: from 0, scale events marked, warm-up shaded, legend outside."""
    ax.set_xlim(0, result.scenario.simulation.duration_s)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel(ylabel)
    mark_scale_events(ax, result)
    shade_warmup(ax, result)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), title=legend, title_fontsize=8)


@plain_text
def load_panels(run: RunLike) -> Figure:
    """Both load views in one figure, as written to ``load.png``."""
    return panels(run, (11, 9), (2, 1), load_distribution, load_over_time)


def _pod_shades(
    pods: list[str], node_of: dict[str, object], colors: dict[str, str]
) -> dict[str, tuple[float, float, float]]:
    """Pods on one node share the node's hue, each a little lighter than the last."""
    shades: dict[str, tuple[float, float, float]] = {}
    for node, color in colors.items():
        mine = [p for p in pods if node_of.get(p) == node]
        base = np.array(to_rgb(color))
        for i, pod in enumerate(mine):
            mix = 0.55 * i / max(1, len(mine) - 1) if len(mine) > 1 else 0.0
            r, g, b = (base + (1 - base) * mix).tolist()
            shades[pod] = (r, g, b)
    for pod in pods:
        shades.setdefault(pod, (0.5, 0.5, 0.5))
    return shades


@plain_text
def outcomes_over_time(run: RunLike, ax: Axes | None = None) -> Figure:
    """Rate of each outcome (ok, refused, unreachable, reset, timeout, rejected) over time;
    scale events, faults and rollouts marked."""
    result = run_result(run)
    fig, ax = axes(ax)
    req = result.requests
    duration = result.scenario.simulation.duration_s
    edges = time_bins(duration, len(req))
    centers = (edges[:-1] + edges[1:]) / 2
    width = np.diff(edges)
    for outcome, color in OUTCOME_COLORS.items():
        times = req.loc[req["outcome"] == outcome, "t_sent"].to_numpy()
        if outcome != "ok" and not len(times):
            continue
        rate = binned_rate(times, edges, result.sample)
        ax.plot(centers, rate, color=color, label=f"{outcome} ({row_count(len(times), result.sample)})", linewidth=1.4)
    ax.set_xlim(0, duration)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("simulated time (s, by send time)")
    ax.set_ylabel("requests per second")
    mark_scale_events(ax, result)
    mark_faults_and_rollouts(ax, result)
    shade_warmup(ax, result)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), title=f"per {width[0]:g} s bin", title_fontsize=8)
    title(ax, "Outcomes over time", result)
    return fig


@plain_text
def rates_over_time(run: RunLike, ax: Axes | None = None) -> Figure:
    """What the clients offered (their rate profiles summed) against what was served ok and
    what failed, per time bin: served below offered means a queue is building or failing."""
    result = run_result(run)
    fig, ax = axes(ax)
    draw_rates(ax, result)
    mark_scale_events(ax, result)
    mark_faults_and_rollouts(ax, result)
    shade_warmup(ax, result)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    title(ax, "Offered, served and failed requests over time (clients' requests)", result)
    return fig


@plain_text
def retries_over_time(run: RunLike, ax: Axes | None = None) -> Figure:
    """Retries per time bin (tries after a request's first), and requests that needed one."""
    result = run_result(run)
    fig, ax = axes(ax)
    if has_retries(result):
        draw_retries(ax, result)
    else:
        ax.text(0.5, 0.5, "this run kept no tries", transform=ax.transAxes, ha="center")
    mark_scale_events(ax, result)
    shade_warmup(ax, result)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    title(ax, "Retries over time", result)
    return fig


@plain_text
def topology(run: RunLike, ax: Axes | None = None, at_s: float | None = None) -> Figure:
    """The cluster as one pictures it: clients outside, nodes with pods inside, the NodePort path."""
    result = run_result(run)
    fig, ax = axes(ax, size=(11, 6.5))
    draw_topology(ax, result, node_colors(result), at_s)
    title(ax, "Topology: clients → node IP:nodePort → kube-proxy → pods", result)
    return fig


@plain_text
def autoscaling_panels(run: RunLike) -> Figure:
    """What the HorizontalPodAutoscalers did, as written to ``autoscaling.png``: the offered
    load against what was served, each HPA's metrics against their targets and its desired,
    current, Ready and Pending replicas between its min and max, and the nodes; rescales marked."""
    result = run_result(run)
    if not has_hpas(result):
        raise ValueError(
            f"scenario {result.scenario.simulation.name} has no HorizontalPodAutoscaler: autoscaling_panels has "
            "nothing to draw"
        )
    draws = autoscaling_draws(result)
    return panels(result, (11, panel_height(len(draws))), (len(draws), 1), *draws)


PLOTS: dict[str, Callable[[Result], Figure]] = {
    "latency.png": latency_over_time,
    "load.png": load_panels,
    "latency_cdf.png": latency_distribution,
    "outcomes.png": outcomes_over_time,
    "rates.png": rates_over_time,
    "topology.png": topology,
}
#: Plots drawn only for runs that have what they show: file name -> (draw, whether it applies).
OPTIONAL_PLOTS: dict[str, tuple[Callable[[Result], Figure], Callable[[Result], bool]]] = {
    "retries.png": (retries_over_time, has_retries),
    "autoscaling.png": (autoscaling_panels, has_hpas),
}


def available_plots(result: Result) -> dict[str, Callable[[Result], Figure]]:
    """The plots this run gets: every one of :data:`PLOTS`, and the optional ones that apply."""
    extra = {name: draw for name, (draw, applies) in OPTIONAL_PLOTS.items() if applies(result)}
    return {**PLOTS, **extra}


def render_plots(run: RunLike) -> dict[str, bytes]:
    """Every plot as PNG bytes, by file name (drawn before anything is written)."""
    result = run_result(run)
    return {name: png_bytes(draw(result)) for name, draw in available_plots(result).items()}


def save_plots(run: RunLike, directory: str | os.PathLike[str] | None = None) -> list[Path]:
    """Write every plot as a PNG into ``directory`` (default: the run folder's ``plots/``).

    Into a run folder, the plots are all drawn first and replace the old ones together
    (:func:`sim.results.run_folder.replacing`), and the run's marker lists them.
    """
    if directory is None:
        if isinstance(run, Result):
            raise ValueError("save_plots needs a directory when given a Result")
        rendered = render_plots(run)
        with replacing(run, whole_run=False) as staging:
            write_files(staging / "plots", rendered)
        return [Path(run) / "plots" / name for name in rendered]
    return write_files(Path(directory), render_plots(run))
