"""``svcsim compare --out DIR``: ``comparison.html``, one self-contained page comparing runs.

In the style of ``report.html`` (:mod:`sim.results.report`): the runs (label, scenario,
seed, where each was read from, replications), each run's SLO verdict, the table of
:class:`~sim.results.comparison.Comparison`, the overlaid plots (PNG embedded as data URIs),
and what differs between the runs' resolved scenarios (a unified diff of each against the
first). It links to nothing outside itself.
"""

from __future__ import annotations

import base64
import difflib
import html
import os
from pathlib import Path

from sim.results.comparison import Comparison, RunSummary
from sim.results.html_page import NOTE_CSS, PAGE_CSS, html_table
from sim.results.plots.compare import render_compare_plots
from sim.results.run_folder import write_files

__all__ = ["render_comparison", "write_comparison"]

RUN_COLUMNS = ["run", "scenario", "seed", "kind", "read from"]
_EXTRA_CSS = "td.diff { font-variant-numeric: tabular-nums; }" + NOTE_CSS


def _run_rows(comparison: Comparison) -> list[list[str]]:
    rows = []
    for i, run in enumerate(comparison.runs):
        how = f"{run.replications} replications ({run.confidence or 0:.0%} CI)" if run.replicated else "one run"
        seed = "-" if run.seed is None else str(run.seed)
        rows.append(
            [run.label + (" (baseline)" if i == 0 else ""), run.scenario, seed, how, run.source or "(in memory)"]
        )
    return rows


def _slo_text(run: RunSummary) -> str:
    met = run.metrics.get("slo_met")
    if met is None:
        return f"{run.label}: no spec.slo"
    if run.replicated:
        return f"{run.label}: SLO met in {met:.0%} of its replications"
    return f"{run.label}: SLO {'met' if met == 1.0 else 'MISSED'}"


def _scenario_diffs(comparison: Comparison) -> str:
    """Each later run's resolved scenario as a unified diff against the baseline's (seed left
    out: it differs by design); runs without a scenario at hand are skipped."""
    base = comparison.runs[0]
    if base.scenario_yaml is None:
        return "<p>The baseline's scenario is not at hand: no scenario diff.</p>"
    before = base.scenario_yaml.splitlines()
    parts = []
    for run in comparison.runs[1:]:
        if run.scenario_yaml is None:
            continue
        after = run.scenario_yaml.splitlines()
        diff = list(difflib.unified_diff(before, after, base.label, run.label, lineterm="", n=2))
        body = "\n".join(diff) if diff else "(the same scenario, seed aside)"
        parts.append(
            f"<h3>{html.escape(run.label)} against {html.escape(base.label)}</h3><pre>{html.escape(body)}</pre>"
        )
    return "".join(parts)


def render_comparison(comparison: Comparison, plots: dict[str, bytes] | None = None) -> str:
    """The whole page as one HTML string (``plots`` from :func:`render_compare_plots` when
    already drawn)."""
    drawn = plots if plots is not None else render_compare_plots(comparison)
    header, rows = comparison.text_rows()
    names = " vs ".join(html.escape(label) for label in comparison.labels)
    images = "".join(
        f'<h3>{html.escape(name)}</h3><img alt="{html.escape(name)}" '
        f'src="data:image/png;base64,{base64.b64encode(data).decode("ascii")}">'
        for name, data in drawn.items()
    )
    slo = "".join(f"<li>{html.escape(_slo_text(run))}</li>" for run in comparison.runs)
    replicated = any(run.replicated for run in comparison.runs)
    note = (
        "<p class=note>A replicated run's value is the mean across its replications, beside its confidence "
        "interval; CI overlap compares it with the baseline's. Disjoint intervals are strong evidence of a "
        "difference; overlapping ones are not evidence of none.</p>"
        if replicated
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>svcsim comparison: {names}</title>
<style>{PAGE_CSS}{_EXTRA_CSS}</style></head>
<body>
<h1>svcsim comparison: {names}</h1>
<h2>Runs (the first is the baseline)</h2>{html_table(RUN_COLUMNS, _run_rows(comparison))}
<h2>SLO</h2><ul>{slo}</ul>
<h2>Summaries side by side (latency over the clients' ok requests sent after warm-up)</h2>
<p class=note>Δ is a run's value minus the baseline's; Δ% that over the baseline's value.</p>{note}
{html_table(header, rows)}
<h2>Plots</h2>{images}
<h2>What differs between the scenarios</h2>{_scenario_diffs(comparison)}
</body></html>
"""


def write_comparison(comparison: Comparison, directory: str | os.PathLike[str]) -> list[Path]:
    """Write ``comparison.html`` and the overlaid PNGs into ``directory`` (made if missing;
    everything is drawn before the first file is written). Returns the paths written."""
    plots = render_compare_plots(comparison)
    page = render_comparison(comparison, plots)
    return write_files(Path(directory), {**plots, "comparison.html": page.encode("utf-8")})
