"""The latency distribution: CDF per phase between scale events, and its tail on log axes."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.results.plots.common import PHASE_COLORS, RunLike, axes, panels, plain_text, run_result, title
from sim.results.plots.data import phases, row_count
from sim.results.result import Result

__all__ = ["cdf_axes", "cdf_curve", "latency_cdf", "latency_distribution", "latency_tail", "tail_axes", "tail_curve"]

_MAX_CDF_POINTS = 2000  # a CDF line of more points looks the same and draws slower


def cdf_curve(ax: Axes, lat: np.ndarray, color: str, label: str, linestyle: str = "-", sample: int = 1) -> None:
    """The CDF of sorted latencies ``lat`` (ms), thinned to :data:`_MAX_CDF_POINTS`, with its p50
    (o) and p99 (◆) marked; the legend entry names the count and both percentiles (of a sample's
    rows when ``sample`` > 1: each row is that many requests)."""
    keep = np.unique(np.linspace(0, len(lat) - 1, min(len(lat), _MAX_CDF_POINTS)).astype(int))
    p50, p99 = np.percentile(lat, [50, 99])
    label = f"{label}: {row_count(len(lat), sample)} ok, p50 {p50:.1f} ms, p99 {p99:.1f} ms"
    ax.plot(lat[keep], (keep + 1) / len(lat), color=color, linestyle=linestyle, label=label)
    ax.plot([p50], [0.5], marker="o", color=color, label="_p50")
    ax.plot([p99], [0.99], marker="D", color=color, label="_p99")


def cdf_axes(ax: Axes) -> None:
    """A CDF's axes: latency on a log axis, the fraction of ok requests, the 0.5 and 0.99 lines."""
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("latency (ms, log scale)")
    ax.set_ylabel("fraction of ok requests")
    ax.axhline(0.5, color="0.8", linewidth=0.8)
    ax.axhline(0.99, color="0.8", linewidth=0.8)


def tail_curve(ax: Axes, lat: np.ndarray, color: str, label: str, linestyle: str = "-") -> None:
    """1 − CDF of sorted latencies ``lat`` (ms) at 400 levels from 1 down to 1/n."""
    survival = np.logspace(0, -math.log10(len(lat)), 400)
    index = np.clip(np.ceil((1 - survival) * len(lat)).astype(int), 0, len(lat) - 1)
    ax.plot(lat[index], survival, color=color, linestyle=linestyle, label=label)


def tail_axes(ax: Axes) -> None:
    """A tail's axes: both log, the 0.5, 0.01 and 0.001 levels marked."""
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("latency (ms, log scale)")
    ax.set_ylabel("fraction of ok requests slower (1 − CDF, log scale)")
    for level in (0.5, 0.01, 0.001):
        ax.axhline(level, color="0.85", linewidth=0.8)


def _phase_latencies(result: Result) -> Iterator[tuple[int, str, np.ndarray]]:
    """Per phase between scale events (numbered): its label and its ok latencies in ms, sorted."""
    req = result.requests
    ok = req[req["outcome"] == "ok"]
    for i, (start, end, label) in enumerate(phases(result)):
        lat = np.sort(ok.loc[(ok["t_sent"] >= start) & (ok["t_sent"] < end), "latency"].to_numpy() * 1e3)
        if len(lat):
            yield i, label, lat


@plain_text
def latency_cdf(run: RunLike, ax: Axes | None = None) -> Figure:
    """Latency CDF on a log axis, one line per phase between scale events, p50 and p99 marked."""
    result = run_result(run)
    fig, ax = axes(ax)
    for i, label, lat in _phase_latencies(result):
        cdf_curve(ax, lat, PHASE_COLORS[i % len(PHASE_COLORS)], label, sample=result.sample)
    cdf_axes(ax)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="lower right", title="phase (o p50, ◆ p99)", title_fontsize=8)
    else:
        ax.text(0.5, 0.5, "no ok requests after warm-up", transform=ax.transAxes, ha="center")
    title(ax, "Latency distribution per phase between scale events", result)
    return fig


@plain_text
def latency_tail(run: RunLike, ax: Axes | None = None) -> Figure:
    """The tail: 1 − CDF of ok latency on log axes, one line per phase, the SLO's bounds marked."""
    result = run_result(run)
    fig, ax = axes(ax)
    for i, label, lat in _phase_latencies(result):
        tail_curve(ax, lat, PHASE_COLORS[i % len(PHASE_COLORS)], label)
    slo = result.scenario.simulation.slo
    for key, target_s in (slo.latency_s if slo is not None else {}).items():
        if key != "mean":
            level = 1 - int(key[1:]) / 100
            ax.plot([target_s * 1e3], [level], marker="x", color="black", markersize=9, linestyle="none")
            ax.annotate(f"SLO {key}", (target_s * 1e3, level), xytext=(4, 4), textcoords="offset points", fontsize=8)
    tail_axes(ax)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="lower left", title="phase (x: an SLO bound)", title_fontsize=8)
    else:
        ax.text(0.5, 0.5, "no ok requests after warm-up", transform=ax.transAxes, ha="center")
    title(ax, "Latency tail (1 − CDF)", result)
    return fig


@plain_text
def latency_distribution(run: RunLike) -> Figure:
    """The CDF and, beside it, the tail on log axes, as written to ``latency_cdf.png``."""
    return panels(run, (15, 5.5), (1, 2), latency_cdf, latency_tail)
