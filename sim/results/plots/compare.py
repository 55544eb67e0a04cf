"""Several runs on one axis: the latency CDF, its tail and p99 over time, one colour per run.

Each function takes a :class:`~sim.results.comparison.Comparison` or a list of runs (Results
or run folders, with optional ``labels``) and an optional ``ax``, draws one line per run onto
that one axis (never a twin axis), in the run's colour from a qualitative palette, labelled
by the run's name in the legend, and returns the Figure. Latency is over the clients' ok
requests sent after each run's warm-up, as the summary measures it, so the p50 and p99 marked
on the curves are the table's. A replicated run kept no requests: it is named as not drawn.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Literal

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.results.comparison import Comparison, RunInput, RunSummary, run_summaries
from sim.results.plots.common import axes, plain_text, png_bytes
from sim.results.plots.data import time_bins
from sim.results.plots.distribution import cdf_axes, cdf_curve, tail_axes, tail_curve
from sim.results.result import Result
from sim.results.slo import client_mask

__all__ = [
    "COMPARE_PLOTS",
    "RUN_COLORS",
    "compare_latency_cdf",
    "compare_latency_distribution",
    "compare_latency_over_time",
    "compare_latency_tail",
    "render_compare_plots",
    "run_styles",
]

#: matplotlib's tab10, a qualitative palette: one colour per run (the 11th run starts again
#: with a dashed line, so up to 40 runs stay apart).
RUN_COLORS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
_LINESTYLES = ("-", "--", ":", "-.")
#: Requests per time bin on average (of the busiest run): a p99 of fewer is close to the bin's maximum.
_MIN_PER_BIN = 300

RunsLike = Comparison | Sequence[RunInput]


def run_styles(n: int) -> list[tuple[str, str]]:
    """``(colour, linestyle)`` of each of ``n`` runs, all distinct for up to 40."""
    return [(RUN_COLORS[i % len(RUN_COLORS)], _LINESTYLES[(i // len(RUN_COLORS)) % len(_LINESTYLES)]) for i in range(n)]


def _runs(runs: RunsLike, labels: Sequence[str] | None) -> list[RunSummary]:
    if isinstance(runs, Comparison):
        if labels is not None:
            raise ValueError("labels are the Comparison's own: give labels to sim.compare")
        return list(runs.runs)
    return run_summaries(runs, labels)


def _ok_latency_ms(result: Result) -> np.ndarray:
    """The clients' ok latencies (ms) of requests sent after warm-up, sorted: the summary's sample."""
    req = result.requests
    ok = (req["outcome"] == "ok").to_numpy() & client_mask(req)
    ok &= req["t_sent"].to_numpy(dtype=float) >= result.scenario.simulation.warmup_s
    return np.sort(req["latency"].to_numpy(dtype=float)[ok] * 1e3)


def _not_drawn(ax: Axes, skipped: list[str]) -> None:
    if skipped:
        ax.text(
            0.01,
            0.99,
            "not drawn (replicated: summaries only; compare a kept run folder to draw it): " + ", ".join(skipped),
            transform=ax.transAxes,
            va="top",
            fontsize=8,
            color="0.35",
        )


def _legend(ax: Axes, loc: Literal["lower right", "lower left", "upper left"], title: str) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc=loc, title=title, title_fontsize=8)
    else:
        ax.text(
            0.5, 0.5, "nothing to draw: no run here kept ok requests after warm-up", transform=ax.transAxes, ha="center"
        )


def _latencies(summaries: Sequence[RunSummary]) -> Iterator[tuple[RunSummary, str, str, np.ndarray]]:
    """Each run that kept its requests and has ok ones: its colour, line style and sorted ok latencies (ms)."""
    for run, (color, style) in zip(summaries, run_styles(len(summaries)), strict=True):
        if run.result is not None:
            lat = _ok_latency_ms(run.result)
            if len(lat):
                yield run, color, style, lat


@plain_text
def compare_latency_cdf(runs: RunsLike, ax: Axes | None = None, labels: Sequence[str] | None = None) -> Figure:
    """The latency CDF of every run on one log axis, one colour per run, p50 and p99 marked."""
    summaries = _runs(runs, labels)
    fig, ax = axes(ax)
    for run, color, style, lat in _latencies(summaries):
        cdf_curve(ax, lat, color, run.label, style)
    cdf_axes(ax)
    _legend(ax, "lower right", "run (o p50, ◆ p99)")
    _not_drawn(ax, [run.label for run in summaries if run.result is None])
    ax.set_title(
        f"Latency distribution, {len(summaries)} runs compared\nclients' ok requests sent after warm-up",
        fontsize=10,
        loc="left",
    )
    return fig


@plain_text
def compare_latency_tail(runs: RunsLike, ax: Axes | None = None, labels: Sequence[str] | None = None) -> Figure:
    """The tail (1 − CDF) of every run on log axes, one colour per run."""
    summaries = _runs(runs, labels)
    fig, ax = axes(ax)
    for run, color, style, lat in _latencies(summaries):
        tail_curve(ax, lat, color, run.label, style)
    tail_axes(ax)
    _legend(ax, "lower left", "run")
    _not_drawn(ax, [run.label for run in summaries if run.result is None])
    ax.set_title(f"Latency tail (1 − CDF), {len(summaries)} runs compared", fontsize=10, loc="left")
    return fig


@plain_text
def compare_latency_over_time(
    runs: RunsLike, ax: Axes | None = None, labels: Sequence[str] | None = None, stat: str = "p99"
) -> Figure:
    """``stat`` (``p99`` by default, any ``pNN`` or ``mean``) of ok latency per time bin, by
    send time, one line per run on shared bins; a run's SLO bound for ``stat`` as a
    dash-dotted line in its colour; the warm-up shaded when every run has the same one."""
    if stat != "mean" and not (stat.startswith("p") and stat[1:].isdigit() and 0 < int(stat[1:]) < 100):
        raise ValueError(f"stat must be mean or a percentile p1..p99, got {stat!r}")
    summaries = _runs(runs, labels)
    fig, ax = axes(ax)
    drawn = [run for run in summaries if run.result is not None]
    skipped = [run.label for run in summaries if run.result is None]
    duration = max((run.result.scenario.simulation.duration_s for run in drawn if run.result), default=1.0)
    most = max((len(run.result.requests) for run in drawn if run.result), default=0)
    edges = time_bins(duration, most, min_per_bin=_MIN_PER_BIN)
    centers = (edges[:-1] + edges[1:]) / 2
    for run, (color, style) in zip(summaries, run_styles(len(summaries)), strict=True):
        if run.result is None:
            continue
        values = _per_bin(run.result, edges, stat)
        if np.isfinite(values).any():
            ax.plot(centers, values, color=color, linestyle=style, linewidth=1.6, label=run.label)
    for run, (color, _) in zip(summaries, run_styles(len(summaries)), strict=True):  # after the runs' lines
        slo = run.result.scenario.simulation.slo if run.result is not None else None
        if slo is not None and stat in slo.latency_s:
            bound = slo.latency_s[stat] * 1e3
            ax.axhline(bound, color=color, linestyle="-.", linewidth=1, label=f"{run.label}: SLO {stat} ≤ {bound:g} ms")
    warmups = {run.result.scenario.simulation.warmup_s for run in drawn if run.result}
    if len(warmups) == 1 and (warmup := warmups.pop()) > 0:
        ax.axvspan(0, warmup, color="0.88", zorder=0, linewidth=0, label=f"warm-up ({warmup:g} s, not measured)")
    ax.set_yscale("log")
    ax.set_xlim(0, duration)
    ax.set_xlabel("simulated time (s, by send time)")
    ax.set_ylabel(f"{stat} latency (ms, log scale)")
    width = f"{edges[1] - edges[0]:g} s" if len(edges) > 1 else f"{duration:g} s"
    _legend(ax, "upper left", f"run ({stat} per {width} bin)")
    _not_drawn(ax, skipped)
    ax.set_title(f"Latency {stat} over time, {len(summaries)} runs compared", fontsize=10, loc="left")
    return fig


def _per_bin(result: Result, edges: np.ndarray, stat: str) -> np.ndarray:
    """``stat`` of the clients' ok latencies (ms) per bin of ``edges``, by send time; NaN when empty."""
    req = result.requests
    ok = (req["outcome"] == "ok").to_numpy() & client_mask(req)
    t_sent = req["t_sent"].to_numpy(dtype=float)[ok]
    ms = req["latency"].to_numpy(dtype=float)[ok] * 1e3
    which = np.searchsorted(edges, t_sent, side="right") - 1
    inside = (which >= 0) & (which < len(edges) - 1)
    which, ms = which[inside], ms[inside]
    out = np.full(len(edges) - 1, np.nan)
    order = np.argsort(which, kind="stable")
    which, ms = which[order], ms[order]
    bins, starts = np.unique(which, return_index=True)
    for b, chunk in zip(bins, np.split(ms, starts[1:]), strict=True):
        out[b] = chunk.mean() if stat == "mean" else np.percentile(chunk, int(stat[1:]))
    return out


@plain_text
def compare_latency_distribution(runs: RunsLike, labels: Sequence[str] | None = None) -> Figure:
    """The overlaid CDF and, beside it, the overlaid tail, as written to ``compare_latency_cdf.png``."""
    summaries = _runs(runs, labels)
    fig = Figure(figsize=(15, 5.5), layout="constrained")
    left, right = fig.subplots(1, 2)
    compare_latency_cdf(summaries, left)  # already read: not read again
    compare_latency_tail(summaries, right)
    return fig


#: The overlaid plots ``svcsim compare --out`` writes, by file name.
COMPARE_PLOTS: dict[str, Callable[[Comparison], Figure]] = {
    "compare_latency_cdf.png": compare_latency_distribution,
    "compare_latency.png": compare_latency_over_time,
}


def render_compare_plots(comparison: Comparison) -> dict[str, bytes]:
    """Every overlaid plot as PNG bytes, by file name."""
    return {name: png_bytes(draw(comparison)) for name, draw in COMPARE_PLOTS.items()}
