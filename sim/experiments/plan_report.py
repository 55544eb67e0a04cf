"""``capacity.html``: one self-contained page for a :class:`~sim.experiments.plan_result.Plan`.

The answer in a sentence, then per SLO metric the curve of its mean against the varied value
with the confidence band, the SLO's bound and the recommended value marked (a PNG embedded as a
data URI), the evidence table, the what-if table, the headroom and the cost. In the style of
``report.html`` (:mod:`sim.results.report`); it links to nothing outside itself.
"""

from __future__ import annotations

import base64
import html
import math
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from sim.experiments.plan_result import Plan, pods_lost_text
from sim.results.html_page import NOTE_CSS, PAGE_CSS, html_table
from sim.results.plots.common import png_bytes

__all__ = ["capacity_figure", "render_capacity_report"]

_VERDICT_COLORS = {"met": "#2ca02c", "missed": "#d62728", "undecided": "#ff7f0e"}


def capacity_figure(plan: Plan) -> Figure:
    """One panel per SLO metric: mean and CI band against the varied value, the bound dashed,
    the recommended value dotted, each point coloured by that target's verdict."""
    targets = plan.targets
    with matplotlib.rc_context({"text.parse_math": False}):
        fig = Figure(figsize=(10, 3.6 * len(targets)), layout="constrained")
        ev = plan.evidence.sort_values("value")
        x = ev["value"].to_numpy(dtype=float)
        for i, t in enumerate(targets):
            ax = fig.add_subplot(len(targets), 1, i + 1)
            scale = 100.0 if t.metric == "error_rate" else 1.0
            mean = ev[f"{t.metric}_mean"].to_numpy(dtype=float) * scale
            low = ev[f"{t.metric}_ci_low"].to_numpy(dtype=float) * scale
            high = ev[f"{t.metric}_ci_high"].to_numpy(dtype=float) * scale
            band = np.isfinite(low) & np.isfinite(high)
            ax.fill_between(
                x[band], low[band], high[band], color="#1f77b4", alpha=0.2, label=f"{plan.confidence:.0%} CI"
            )
            ax.plot(x, mean, color="#1f77b4", lw=1, label="mean over replications")
            for verdict, color in _VERDICT_COLORS.items():
                chosen = (ev[f"{t.metric}_verdict"] == verdict).to_numpy()
                if chosen.any():
                    ax.scatter(x[chosen], mean[chosen], color=color, zorder=3, s=25, label=f"{verdict} ({t.text})")
            ax.axhline(t.bound * scale, color="#444", ls="--", lw=1, label=f"SLO {t.text}")
            if plan.recommended is not None:
                ax.axvline(plan.recommended, color="#2ca02c", ls=":", lw=1.5, label=f"recommended {plan.recommended}")
            finite = mean[np.isfinite(mean) & (mean > 0)]
            if t.metric.startswith("latency_") and finite.size and finite.max() / finite.min() > 30:
                ax.set_yscale("log")
            unit = "%" if t.metric == "error_rate" else ("req/s" if t.metric == "throughput_rps" else "ms")
            tried = sorted(set(ev["value"].tolist()))
            if len(tried) <= 15:
                ax.set_xticks([float(v) for v in tried], [str(v) for v in tried])  # the values tried, not 1.25...
            else:
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel(plan.vary)
            ax.set_ylabel(f"{t.name} ({unit})")
            ax.set_title(f"{t.name} against {plan.vary}")
            ax.legend(fontsize=8, loc="best")
    return fig


def _png(fig: Figure) -> str:
    return base64.b64encode(png_bytes(fig, dpi=100)).decode("ascii")


def _interval(plan: Plan, metric: str, values: dict[str, Any]) -> str:
    target = next(t for t in plan.targets if t.metric == metric)
    mean, low, high = (float(values[k]) for k in ("mean", "ci_low", "ci_high"))
    if math.isnan(low):
        return target.describe_value(mean)
    return f"{target.describe_value(mean)} [{target.describe_value(low)}, {target.describe_value(high)}]"


def _evidence_table(plan: Plan) -> str:
    header = ["value", "replications", *(t.text for t in plan.targets), "verdict"]
    rows = []
    for row in plan.evidence.to_dict("records"):
        cells = [str(row["value"]), str(row["replications"])]
        for t in plan.targets:
            values = {s: row[f"{t.metric}_{s}"] for s in ("mean", "ci_low", "ci_high")}
            cells.append(_interval(plan, t.metric, values))
        rows.append([*cells, row["verdict"]])
    return html_table(header, rows)


def _what_if_section(plan: Plan) -> str:
    if not plan.what_if:
        return "<p>Not run (the SLO is not met in the range, or what-if was turned off).</p>"
    rows, notes = [], []
    for loss in plan.what_if:
        if not loss.get("name"):
            notes.append(f"<p>{html.escape(str(loss.get('skipped', '')))}</p>")
            continue
        cells = [
            f"{loss['loss']} {loss['name']}",
            f"{pods_lost_text(loss)} of {loss['pods']}",
            str(loss["replications"]),
        ]
        cells += [_interval(plan, t.metric, loss["metrics"][t.metric]) for t in plan.targets]
        cells.append("holds" if loss["holds"] else "does NOT hold")
        survive = loss.get("smallest_surviving", "-")
        cells.append("none in the range" if survive is None else str(survive) if loss["loss"] == "node" else "-")
        rows.append(cells)
    header = ["lost", "pods lost", "replications", *(t.text for t in plan.targets), "SLO", "smallest value surviving"]
    return (html_table(header, rows) if rows else "") + "".join(notes)


def _headroom_text(plan: Plan) -> str:
    h = plan.headroom
    if h is None:
        return "<p>Not run.</p>"
    return (
        f"<p>At {html.escape(plan.vary)} = {h['value']}, all clients' rates scaled together (req/s on "
        f"average over the measurement window): <b>{html.escape(plan.headroom_text())}</b>.</p>"
    )


def _cost_text(plan: Plan) -> str:
    c = plan.cost
    text = f"<p><b>{html.escape(plan.cost_text())}</b> (first fit of the pods' requests on the nodes' "
    text += "allocatable: a lower bound, without node selectors or the scheduler's spreading). "
    if c["node_cost_per_hour"] is None:
        return text + "Give <code>cluster.nodeCost</code> (price per node-hour) for the cost.</p>"
    whole = f"{c['cluster_per_hour']:,.2f}"
    price = c["node_cost_per_hour"]
    return text + f"At {price:g} per node-hour the whole cluster as written costs {whole} per hour.</p>"


def render_capacity_report(plan: Plan) -> str:
    """The whole page as one HTML string."""
    name = html.escape(plan.scenario.simulation.name)
    slo = "".join(f"<li><code>{html.escape(t.text)}</code></li>" for t in plan.targets)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>svcsim capacity plan: {name}</title>
<style>{PAGE_CSS}{NOTE_CSS}</style></head>
<body>
<h1>svcsim capacity plan: {name}</h1>
<p><b>{html.escape(plan.sentence())}</b></p>
<p class=note>Varied: <code>{html.escape(plan.vary)}</code> in {plan.range[0]}..{plan.range[1]}; seed {plan.seed};
{plan.replications} replications near the answer ({plan.confidence:.0%} Student-t intervals). A value meets the SLO
when every interval lies wholly on its target's good side.</p>
<h2>SLO</h2><ul>{slo}</ul>
<h2>The curve</h2>
<img alt="SLO metrics against {html.escape(plan.vary)}" src="data:image/png;base64,{_png(capacity_figure(plan))}">
<h2>Every value tried</h2>{_evidence_table(plan)}
<h2>What if a node or a zone is lost</h2>
<p class=note>In each replication, the node (zone) holding the most of the varied Deployment's pods in that
replication's placement fails at the start of the measurement window (t = warmup): the window sees the failure go
unnoticed for nodeMonitorGracePeriod, then the rest of the pods carry the load. Pods lost: their range over the
replications.</p>{_what_if_section(plan)}
<h2>Headroom</h2>{_headroom_text(plan)}
<h2>Cost</h2>{_cost_text(plan)}
</body></html>
"""
