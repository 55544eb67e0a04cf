"""A sweep's pictures: a metric against a swept value, the mean with its confidence band,
one line per value of a second swept path (``Sweep.plot``, ``svcsim sweep``'s ``plots/``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from sim.results.plots.common import PHASE_COLORS, png_bytes

if TYPE_CHECKING:
    from sim.experiments.sweep import Sweep

__all__ = ["METRIC_LABELS", "SWEEP_PLOT_METRICS", "path_labels", "render_sweep_plots", "sweep_figure"]

#: The metrics ``svcsim sweep`` draws, one PNG each (``plots/sweep-<metric>.png``).
SWEEP_PLOT_METRICS = ("latency_p99_ms", "latency_mean_ms", "error_rate", "throughput_rps")
METRIC_LABELS = {
    "error_rate": "error rate",
    "throughput_rps": "throughput (req/s)",
    "requests": "requests",
    **{f"latency_{s}_ms": f"{s} latency (ms)" for s in ("mean", "p50", "p90", "p95", "p99", "max")},
}


def sweep_figure(
    sweep: Sweep, metric: str, *, x: str | None = None, by: str | None = None, ax: Axes | None = None
) -> Figure:
    """``metric``'s mean per point against the swept path ``x``, the band its confidence
    interval, one line per value of ``by``.

    ``x`` defaults to the first swept path with several numeric values (else the first with
    several values, drawn as categories); ``by`` to the next path with several values (with
    more than two such paths, one line per combination of the others). Points whose interval
    is unknown (one replication, or one finite value) draw the mean alone.
    """
    data = sweep.metric(metric)
    varied = [p for p in sweep.paths if data[p].nunique() > 1] or sweep.paths[:1]
    if x is None:
        numeric = [p for p in varied if pd.api.types.is_numeric_dtype(data[p])]
        x = (numeric or varied)[0]
    if x not in sweep.paths:
        raise ValueError(f"x must be a swept path ({', '.join(sweep.paths)}), got {x!r}")
    if by is not None and by not in sweep.paths:
        raise ValueError(f"by must be a swept path ({', '.join(sweep.paths)}), got {by!r}")
    # One line per combination of every other varied path (by first), never two points of one x on a line.
    others = [p for p in varied if p != x] if by is None else [by, *(p for p in varied if p not in (x, by))]
    names = path_labels(sweep.paths)
    figure: Figure
    if ax is None:
        figure = Figure(figsize=(8, 4.8), layout="constrained")
        ax = figure.add_subplot()
    else:
        figure = ax.figure  # type: ignore[assignment]
    numeric_x = pd.api.types.is_numeric_dtype(data[x])
    categories = list(dict.fromkeys(data[x])) if not numeric_x else []
    groups = data.groupby(others, sort=False) if others else [((), data)]
    for i, (key, group) in enumerate(groups):
        rows = group.sort_values(x) if numeric_x else group
        xs = rows[x].to_numpy(dtype=float) if numeric_x else np.array([categories.index(v) for v in rows[x]])
        color = PHASE_COLORS[i % len(PHASE_COLORS)]
        values = key if isinstance(key, tuple) else (key,)
        label = ", ".join(f"{names[p]} = {v}" for p, v in zip(others, values, strict=True)) or "mean"
        ax.plot(xs, rows["mean"], marker="o", markersize=4, color=color, label=label)
        known = np.isfinite(rows["ci_low"].to_numpy(dtype=float))
        if known.any():
            ax.fill_between(
                xs[known], rows["ci_low"][known], rows["ci_high"][known], color=color, alpha=0.2, linewidth=0
            )
    xs_all = sorted(set(data[x])) if numeric_x else []
    if numeric_x and len(xs_all) <= 12:
        ax.set_xticks([float(v) for v in xs_all], [f"{v:g}" for v in xs_all])  # the swept values themselves
    elif pd.api.types.is_integer_dtype(data[x]):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if not numeric_x:
        ax.set_xticks(range(len(categories)), [str(c) for c in categories])
    finite = data["mean"].to_numpy(dtype=float)
    finite = finite[np.isfinite(finite) & (finite > 0)]
    if metric.startswith("latency_") and len(finite) and finite.max() > 20 * finite.min():
        ax.set_yscale("log")  # a saturated point would flatten every other one
    if len(finite) == 0 and metric in ("error_rate", "slo_met"):
        ax.set_ylim(-0.05, 1.05)  # all 0: the whole range a share can take, not a band around nothing
    ax.set_xlabel(x)
    ax.set_ylabel(METRIC_LABELS.get(metric, metric))
    runs = f"{sweep.replications} replication{'s' if sweep.replications > 1 else ''} per point"
    level = f"{sweep.confidence:.0%} confidence band" if sweep.replications > 1 else "no interval"
    held = [f"{names[p]} = {data[p].iloc[0]}" for p in sweep.paths if data[p].nunique() == 1]
    ax.set_title(
        f"{sweep.scenario.simulation.name}: {METRIC_LABELS.get(metric, metric)} ({runs}, {level})"
        + (f"\nheld: {', '.join(held)}" if held else ""),
        fontsize=10,
    )
    ax.grid(True, alpha=0.3)
    if others or sweep.replications > 1:
        ax.legend(fontsize=8, title=None)
    return figure


def path_labels(paths: list[str]) -> dict[str, str]:
    """Each path's last field for legends (``simulation.spec.clients[laptop].rate`` -> ``rate``),
    or the whole path where two swept paths end alike."""
    short = {p: p.rsplit(".", 1)[-1] for p in paths}
    clash = {s for s in short.values() if list(short.values()).count(s) > 1}
    return {p: (p if s in clash else s) for p, s in short.items()}


def render_sweep_plots(sweep: Sweep) -> dict[str, bytes]:
    """``plots/sweep-<metric>.png`` for each of :data:`SWEEP_PLOT_METRICS` the sweep measured."""
    return {f"plots/sweep-{m}.png": png_bytes(sweep_figure(sweep, m)) for m in SWEEP_PLOT_METRICS if m in sweep.metrics}
