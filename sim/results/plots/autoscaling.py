"""Drawing what the HorizontalPodAutoscalers did: the load, each HPA's metrics against their
targets and its replicas, and the cluster's nodes, one panel each over simulated time.

Pure drawing into given axes, as :mod:`sim.results.plots.rates` does; ``autoscaling.png``
(:func:`sim.results.plots.autoscaling_panels`) stacks the panels. Values come from the run's
``hpa`` and ``hpa_metrics`` tables: a metric read at a sync holds until the next sync.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from sim.kube.hpa import HorizontalPodAutoscaler, MetricSpec
from sim.results.hpa_status import metric_key, rescales
from sim.results.kubectl import node_statuses
from sim.results.plots.common import mark_faults_and_rollouts
from sim.results.plots.data import deployment_ready, node_count, pending_pods
from sim.results.plots.rates import draw_rates
from sim.results.result import Result

__all__ = [
    "autoscaling_draws",
    "draw_metrics",
    "draw_nodes",
    "draw_replicas",
    "has_hpas",
    "mark_rescales",
    "panel_height",
]

RESCALE_COLOR = "#6a3d9a"
_METRIC_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
_UTILIZATION = "% of request"


def has_hpas(result: Result) -> bool:
    """Whether the run's scenario has a HorizontalPodAutoscaler (``autoscaling.png`` is drawn)."""
    return bool(result.scenario.hpas)


def autoscaling_draws(result: Result) -> list[Callable[[Result, Axes], Any]]:
    """The panels of ``autoscaling.png`` in order: the load, then per HPA its metrics (one
    panel per unit: Utilization metrics share one) and its replicas, then the nodes."""
    draws: list[Callable[[Result, Axes], Any]] = [_draw_load]
    for hpa in sorted(result.scenario.hpas, key=lambda h: h.name):
        for unit in _metric_groups(hpa):
            draws.append(functools.partial(draw_metrics, hpa=hpa, unit=unit))
        draws.append(functools.partial(draw_replicas, hpa=hpa))
    draws.append(draw_nodes)
    return draws


def _metric_groups(hpa: HorizontalPodAutoscaler) -> list[str]:
    """The HPA's metric panels, by unit: ``% of request`` for every Utilization metric, else
    one per metric (named by its ``metric`` key)."""
    groups: list[str] = []
    for spec in hpa.metrics:
        unit = _unit(spec)
        if unit not in groups:
            groups.append(unit)
    return groups


def _unit(spec: MetricSpec) -> str:
    utilization = spec.type in ("Resource", "ContainerResource") and spec.target.average_value is None
    return _UTILIZATION if utilization else metric_key(spec)


def _end(result: Result) -> float:
    return result.scenario.simulation.duration_s


def _steps(times: np.ndarray, values: np.ndarray, end_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Sync values as step points held until the next sync, the last one until ``end_s``."""
    if not len(times):
        return times, values
    return np.append(times, max(end_s, float(times[-1]))), np.append(values, values[-1])


def _draw_load(result: Result, ax: Axes) -> None:
    draw_rates(ax, result)
    mark_rescales(ax, result)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    hpas = ", ".join(
        f"{h.name} → {h.target_kind}/{h.target_name}" for h in sorted(result.scenario.hpas, key=lambda h: h.name)
    )
    sim = result.scenario.simulation
    ax.set_title(
        f"Autoscaling: load, metrics against targets, replicas and nodes (HPA {hpas})\n"
        f"scenario {sim.name}: {sim.duration_s:g} s, seed {result.seed}; purple lines: rescales",
        fontsize=10,
        loc="left",
    )


def draw_metrics(result: Result, ax: Axes, *, hpa: HorizontalPodAutoscaler, unit: str) -> None:
    """The HPA's metrics of one unit: the value read at each sync (held until the next; gaps
    where it was unavailable) against its target (dashed)."""
    table = result.hpa_metrics
    mine = table[table["hpa"].astype(str) == hpa.name]
    end = _end(result)
    for i, spec in enumerate(hpa.metrics):
        if _unit(spec) != unit:
            continue
        color, name = _METRIC_COLORS[i % len(_METRIC_COLORS)], metric_key(spec)
        rows = mine[mine["metric"].astype(str) == name]
        times = rows["time"].to_numpy(dtype=float)
        t, current = _steps(times, rows["current"].to_numpy(dtype=float), end)
        ax.step(t, current, where="post", color=color, linewidth=1.5, label=f"{name} read at each sync")
        ax.plot(times, rows["current"].to_numpy(dtype=float), "o", color=color, markersize=2.5)
        target = _target_value(spec)
        if len(rows):
            t, goal = _steps(times, rows["target"].to_numpy(dtype=float), end)
            ax.step(
                t, goal, where="post", color=color, linestyle="--", linewidth=1.2, label=f"{metric_key(spec)} target"
            )
        elif target is not None:
            ax.axhline(target, color=color, linestyle="--", linewidth=1.2, label=f"{name} target")
    ax.set_xlim(0, end)
    ax.set_ylim(bottom=0)
    ax.set_ylabel(unit if unit == _UTILIZATION else "value")
    ax.set_xlabel("simulated time (s)")
    mark_rescales(ax, result, hpa.name)
    if not len(mine):
        ax.text(0.5, 0.5, f"HPA {hpa.name} recorded no sync", transform=ax.transAxes, ha="center", color="0.4")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), title=f"HPA {hpa.name}", title_fontsize=8)


def _target_value(spec: MetricSpec) -> float | None:
    t = spec.target
    if t.average_value is not None:
        return t.average_value
    if t.average_utilization is not None:
        return float(t.average_utilization)
    return t.value


def draw_replicas(result: Result, ax: Axes, *, hpa: HorizontalPodAutoscaler) -> None:
    """Desired against current replicas at each sync, the min and max bounds, and the target
    Deployment's Ready and Pending pods; each rescale labelled ``from → to``."""
    end = _end(result)
    syncs = result.hpa[result.hpa["hpa"].astype(str) == hpa.name]
    times = syncs["time"].to_numpy(dtype=float)
    t, desired = _steps(times, syncs["desired_replicas"].to_numpy(dtype=float), end)
    ax.step(t, desired, where="post", color="#ff7f0e", linewidth=1.6, label="desired replicas (HPA)")
    t, current = _steps(times, syncs["current_replicas"].to_numpy(dtype=float), end)
    ax.step(t, current, where="post", color="#1f77b4", linewidth=1.2, label="current replicas (read at sync)")
    t, ready = deployment_ready(result.timeline, hpa.target_name, end)
    ax.step(t, ready, where="post", color="black", linewidth=1.2, label=f"Ready pods of {hpa.target_name}")
    t, pending = pending_pods(result.pod_status, result.pods, hpa.target_name, end)
    if pending.any():
        ax.step(t, pending, where="post", color="#d62728", linewidth=1.2, label=f"Pending pods of {hpa.target_name}")
    for bound, value in (("min", hpa.min_replicas), ("max", hpa.max_replicas)):
        ax.axhline(value, color="0.5", linestyle=":", linewidth=1.2)
        ax.annotate(
            f"{bound}Replicas {value}",
            xy=(0, value),
            xycoords=("axes fraction", "data"),
            xytext=(3, 2),
            textcoords="offset points",
            fontsize=7,
            color="0.35",
        )
    ax.set_xlim(0, end)
    top = max([hpa.max_replicas, *desired.tolist(), *ready.tolist(), 1])
    ax.set_ylim(0, top * 1.15 + 0.5)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("replicas / pods")
    ax.set_xlabel("simulated time (s)")
    mark_rescales(ax, result, hpa.name, label=True)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), title=f"HPA {hpa.name}", title_fontsize=8)


def draw_nodes(result: Result, ax: Axes) -> None:
    """Nodes in the cluster over time (constant when the run has no ``nodes`` table)."""
    end = _end(result)
    t, count, recorded = node_count(result, end)
    label = "nodes" if recorded else "nodes (the scenario's, constant)"
    ax.step(t, count, where="post", color="#2ca02c", linewidth=1.6, label=label)
    if (result.events["reason"] == "NodeNotReady").any():
        rt, ready = ready_nodes(result, t, count)
        ax.step(rt, ready, where="post", color="#d62728", linewidth=1.2, linestyle="--", label="Ready nodes")
    mark_faults_and_rollouts(ax, result)
    ax.set_xlim(0, end)
    ax.set_ylim(0, max(float(count.max(initial=0.0)), 1.0) * 1.3)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("nodes")
    ax.set_xlabel("simulated time (s)")
    mark_rescales(ax, result)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))


def mark_rescales(ax: Axes, result: Result, hpa: str | None = None, *, label: bool = False) -> None:
    """A thin vertical line at each rescale (of ``hpa``, or of every HPA); with ``label``, the
    change at its top (``3→5``), a label close to the one before it one line lower, so rescales
    a sync apart stay readable."""
    span = _end(result)
    row, last = 0, -math.inf
    for r in rescales(result.scenario.hpas, result.hpa, _empty_metrics(result.hpa_metrics)):
        if hpa is not None and r.hpa != hpa:
            continue
        ax.axvline(r.time, color=RESCALE_COLOR, linewidth=0.8, alpha=0.7, zorder=1)
        if label:
            row = (row + 1) % 3 if r.time - last < 0.06 * span else 0  # about one label's width
            last = r.time
            ax.annotate(
                f"{r.before}→{r.after}",
                xy=(r.time, 1),
                xycoords=("data", "axes fraction"),
                xytext=(2, -3 - 9 * row),
                textcoords="offset points",
                ha="left",
                va="top",
                fontsize=7,
                color=RESCALE_COLOR,
                bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.7},
            )


def _empty_metrics(metrics: pd.DataFrame) -> pd.DataFrame:
    """The marks need no readings: an empty metrics table spares matching them."""
    return metrics.iloc[0:0]


def panel_height(count: int) -> float:
    """Inches for ``count`` stacked panels (the top one carries the title)."""
    return 2.4 * count + 0.6


def ready_nodes(result: Result, t: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nodes in the cluster and Ready over time: the count less those whose kubectl STATUS is
    NotReady then (:func:`~sim.results.kubectl.node_statuses`)."""
    events = result.events
    changes = events.loc[events["reason"].isin(["NodeNotReady", "NodeReady"]), "time"].to_numpy(dtype=float)
    times = np.unique(np.concatenate([t, changes]))
    level = [
        count[max(int(np.searchsorted(t, tm, side="right")) - 1, 0)]
        - sum(status == "NotReady" for status in node_statuses(events, float(tm)).values())
        for tm in times
    ]
    return times, np.array(level, dtype=float)
