"""Everything svcsim warns about a run, as one list of one-line strings for ``summary.json``.

The scenario's own warnings (found as it loaded, such as an SLO latency bound below what the
service time allows) come first, then what the run's tables show: offered load at or above a
Deployment's capacity (:mod:`sim.results.capacity`), latency growing through the measurement
window and a warm-up shorter than the time the run takes to settle
(:mod:`sim.results.steady_state`), and events that found nothing to act on.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sim.results.capacity import capacity_warnings
from sim.results.slo import client_mask
from sim.results.steady_state import growing_queue, short_warmup
from sim.scenario.resolved import Scenario
from sim.units import format_duration

__all__ = ["run_warnings"]


def run_warnings(
    scenario: Scenario, requests: pd.DataFrame, timeline: pd.DataFrame, events: list[dict[str, Any]] | None = None
) -> list[str]:
    """The scenario's warnings, then the run's, each one line."""
    sim = scenario.simulation
    # Two numpy columns, not a copy of the table: a run may hold 50 000 000 requests.
    ok = client_mask(requests) & (requests["outcome"] == "ok").to_numpy()
    t_sent = requests["t_sent"].to_numpy(dtype=float)[ok]
    latency = requests["latency"].to_numpy(dtype=float)[ok]
    if len(t_sent) and not bool(np.all(np.diff(t_sent) >= 0)):
        order = np.argsort(t_sent, kind="stable")
        t_sent, latency = t_sent[order], latency[order]
    found = list(scenario.warnings) + capacity_warnings(scenario, timeline)
    # An event that found nothing to act on (a crash of a pod name no live pod has).
    found += [f"at {format_duration(e['time'])}: {e['message']}" for e in events or () if e["reason"] == "NotFound"]
    for check in (growing_queue, short_warmup):
        message = check(t_sent, latency, sim.warmup_s, sim.duration_s)
        if message is not None:
            found.append(message)
    return found
