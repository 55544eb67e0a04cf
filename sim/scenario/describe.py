"""A scenario in a few lines, for ``repr`` in a notebook or a REPL: what runs, at what load, for how long.

Every field is in the frozen dataclasses; this is the view a person reads first.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from sim.units import format_duration

if TYPE_CHECKING:
    from sim.scenario.resolved import Scenario

__all__ = ["describe_scenario"]


def describe_scenario(scenario: Scenario) -> str:
    """``<Scenario NAME from SOURCE`` then one indented line each for the Services, Deployments
    (with replicas), autoscalers, nodes, clients (with rates) and the run's length and seed."""
    sim = scenario.simulation
    lines = [f"<Scenario {sim.name} from {scenario.source}"]
    lines.append(
        "  services: "
        + _listing(f"{s.name} ({s.type} {','.join(p.kubectl() for p in s.ports)})" for s in scenario.services)
    )
    lines.append(
        "  deployments: "
        + _listing(f"{d.name} ({d.replicas} replica{'s' if d.replicas != 1 else ''})" for d in scenario.deployments)
    )
    if scenario.hpas:
        lines.append(
            "  autoscalers: "
            + _listing(f"{h.name} ({h.target_name}: {h.min_replicas}-{h.max_replicas} replicas)" for h in scenario.hpas)
        )
    lines.append(f"  nodes: {len(sim.cluster.nodes)}" + (" (+ cluster autoscaler)" if sim.cluster.autoscaler else ""))
    lines.append(
        "  clients: "
        + _listing(
            f"{c.name} ({c.rate.describe()} {c.arrival} to {c.target.service} via {c.target.via})" for c in sim.clients
        )
    )
    seed = "none (drawn at run time)" if sim.seed is None else str(sim.seed)
    events = f", {len(sim.events)} event(s)" if sim.events else ""
    lines.append(
        f"  duration {format_duration(sim.duration_s)}, warmup {format_duration(sim.warmup_s)}, seed {seed}{events}>"
    )
    return "\n".join(lines)


def _listing(items: Iterable[str]) -> str:
    return ", ".join(items) or "none"
