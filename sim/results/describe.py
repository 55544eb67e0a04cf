"""A result in a few lines, for ``repr`` in a notebook or a REPL: what ran and how it went.

The tables and ``summary`` hold everything; this is the view a person reads first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim.units import format_duration

if TYPE_CHECKING:
    from sim.results.result import Result

__all__ = ["describe_result"]


def describe_result(result: Result) -> str:
    """``<Result NAME, seed S: N requests over D`` then the outcomes (those that happened),
    latency p50/p99 and throughput, and whether an SLO was met. A run folder read back may
    be older than some summary keys: what is missing is left out."""
    s, sim = result.summary, result.scenario.simulation
    lines = [
        f"<Result {sim.name}, seed {result.seed}: {s['requests']} requests over "
        f"{format_duration(sim.duration_s)} (warmup {format_duration(sim.warmup_s)})"
    ]
    outcomes = {name: count for name, count in s["outcomes"].items() if count}
    lines.append("  outcomes: " + (", ".join(f"{name} {count}" for name, count in outcomes.items()) or "none"))
    latency = s["latency_ms"]
    shown = [f"{key} {latency[key]:.2f}" for key in ("p50", "p99") if _number(latency.get(key))]
    lines.append("  latency ms (ok, after warmup): " + (", ".join(shown) or "-"))
    tput = s["throughput_rps"]
    lines.append(f"  throughput {tput:.1f} rps" if _number(tput) else "  throughput -")
    slo = s.get("slo")
    if isinstance(slo, dict):
        lines.append(f"  SLO {'met' if slo.get('met') else 'MISSED'}")
    lines[-1] += ">"
    return "\n".join(lines)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
