"""A result in a few lines, for ``repr`` in a notebook or a REPL: what ran and how it went.

The tables and ``summary`` hold everything; this is the view a person reads first.
"""

from __future__ import annotations

from typing import Any

from sim.units import format_duration

__all__ = ["describe_result"]


def describe_result(summary: dict[str, Any], request_rows: int) -> str:
    """``<Result NAME, seed S: N requests over D`` then the outcomes (those that happened),
    latency p50/p99 and throughput, and whether an SLO was met. ``request_rows`` is the
    requests table's length (0 when a run folder was read back without it)."""
    lines = [
        f"<Result {summary['scenario']}, seed {summary['seed']}: {summary['requests']} requests over "
        f"{format_duration(summary['duration_s'])} (warmup {format_duration(summary['warmup_s'])})"
    ]
    outcomes = {name: count for name, count in summary["outcomes"].items() if count}
    lines.append("  outcomes: " + (", ".join(f"{name} {count}" for name, count in outcomes.items()) or "none"))
    latency = summary["latency_ms"]
    shown = [f"{key} {latency[key]:.2f}" for key in ("p50", "p99") if latency.get(key) is not None]
    lines.append("  latency ms (ok, after warmup): " + (", ".join(shown) or "-"))
    tput = summary["throughput_rps"]
    lines.append(f"  throughput {tput:.1f} rps" if tput is not None else "  throughput -")
    if summary.get("slo") is not None:
        lines.append(f"  SLO {'met' if summary['slo']['met'] else 'MISSED'}")
    if request_rows == 0 and summary["requests"]:
        lines.append("  (requests table not loaded)")
    lines[-1] += ">"
    return "\n".join(lines)
