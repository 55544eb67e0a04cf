"""What every plot shares: colours, the run it draws, its axes, title, warm-up, scale events
and the marks of faults and rollouts."""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Callable
from typing import Any, TypeVar

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.results.controller_events import marks
from sim.results.plots.data import scale_events
from sim.results.result import Result, load_result
from sim.scenario.rate_profile import Constant

__all__ = [
    "MARK_COLORS",
    "OUTCOME_COLORS",
    "PHASE_COLORS",
    "STAT_COLORS",
    "RunLike",
    "axes",
    "mark_faults_and_rollouts",
    "mark_scale_events",
    "node_colors",
    "plain_text",
    "png_bytes",
    "run_result",
    "shade_warmup",
    "title",
]

OUTCOME_COLORS = {
    "ok": "#2ca02c",
    "refused": "#d62728",
    "unreachable": "#9467bd",
    "rejected": "#8c564b",
    "reset": "#ff7f0e",
    "timeout": "#e377c2",
}
#: One colour per latency statistic, shared by its per-bin line and its SLO bound (none is an
#: outcome's colour, so a bound never reads as a failure marker).
STAT_COLORS = {"p50": "#1f77b4", "p90": "#bcbd22", "p95": "#ff7f0e", "p99": "#d62728", "mean": "#17becf"}
_NODE_PALETTE = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#17becf", "#bcbd22", "#7f7f7f", "#e377c2"]
#: Marks of the controllers' events, by kind (:mod:`sim.results.controller_events`).
MARK_COLORS = {"fault": "#b2182b", "rollout": "#2166ac", "recovery": "#1b7837"}
PHASE_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]

RunLike = Result | str | os.PathLike[str]
_Draw = TypeVar("_Draw", bound=Callable[..., Figure])


def png_bytes(figure: Figure, dpi: int = 110) -> bytes:
    """``figure`` as PNG bytes (drawn before anything is written: a run's files land together)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def plain_text(draw: _Draw) -> _Draw:
    """Names in a scenario are text, never math: a ``$`` in a pod or client name must not
    reach matplotlib's mathtext parser."""

    @functools.wraps(draw)
    def wrapper(*args: Any, **kwargs: Any) -> Figure:
        with matplotlib.rc_context({"text.parse_math": False}):
            return draw(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def run_result(run: RunLike) -> Result:
    return run if isinstance(run, Result) else load_result(run)


def axes(ax: Axes | None, size: tuple[float, float] = (10, 5)) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax  # type: ignore[return-value]
    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.add_subplot()


def panels(
    run: RunLike, size: tuple[float, float], shape: tuple[int, int], *draws: Callable[[Result, Axes], Any]
) -> Figure:
    """One figure of ``shape`` (rows, columns) panels, each drawn by one of ``draws`` in order."""
    result = run_result(run)
    fig = Figure(figsize=size, layout="constrained")
    for draw, ax in zip(draws, fig.subplots(*shape).flat, strict=True):
        draw(result, ax)
    return fig


def node_colors(result: Result) -> dict[str, str]:
    """One colour per node, the same in every plot of the run."""
    names = [n.name for n in result.scenario.simulation.cluster.slots]
    return {name: _NODE_PALETTE[i % len(_NODE_PALETTE)] for i, name in enumerate(names)}


def title(ax: Axes, what: str, result: Result) -> None:
    sim = result.scenario.simulation
    rate = sum(c.expected_requests(sim.duration_s) for c in sim.clients) / sim.duration_s
    # A varying rate is named by its profile (one client) or averaged (several).
    if len(sim.clients) == 1 and not isinstance(sim.clients[0].rate, Constant):
        load = sim.clients[0].rate.describe()
    else:
        load = f"{rate:g} req/s" + ("" if all(isinstance(c.rate, Constant) for c in sim.clients) else " on average")
    kept = f", rows of 1 in {result.sample:,} requests" if result.sample > 1 else ""
    ax.set_title(
        f"{what}\nscenario {sim.name}: {load} for {sim.duration_s:g} s, seed {result.seed}{kept}",
        fontsize=10,
        loc="left",
    )


def shade_warmup(ax: Axes, result: Result) -> None:
    """Grey out the warm-up, which the summary and the SLO do not measure."""
    warmup = result.scenario.simulation.warmup_s
    if warmup > 0:
        ax.axvspan(0, warmup, color="0.88", zorder=0, linewidth=0, label=f"warm-up ({warmup:g} s, not measured)")


def mark_scale_events(ax: Axes, result: Result) -> None:
    for t, label in scale_events(result.timeline):
        ax.axvline(t, color="0.35", linestyle="--", linewidth=1)
        ax.annotate(
            label,
            xy=(t, 1),
            xycoords=("data", "axes fraction"),
            xytext=(3, -3),
            textcoords="offset points",
            va="top",
            fontsize=8,
            color="0.25",
        )


def mark_faults_and_rollouts(ax: Axes, result: Result) -> None:
    """A thin vertical line and a short label, written up the line, at each fault, rollout
    and recovery among the run's events; events close together are one mark, and a run
    without any draws nothing."""
    low, high = ax.get_xlim()
    for mark in marks(getattr(result, "events", None), high - low):
        color = MARK_COLORS[mark.kind]
        ax.axvline(mark.time, color=color, linewidth=0.8, alpha=0.8, zorder=1)
        ax.annotate(
            mark.label,
            xy=(mark.time, 0.02),
            xycoords=("data", "axes fraction"),
            xytext=(-2, 0),
            textcoords="offset points",
            rotation=90,
            ha="right",
            va="bottom",
            fontsize=7,
            color=color,
            bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.7},
        )
