"""Everything svcsim warns about a run, as one list of one-line strings for ``summary.json``.

The scenario's own warnings (found as it loaded, such as an SLO latency bound below what the
service time allows) come first, then what the run's tables show: offered load at or above a
Deployment's capacity (:mod:`sim.results.capacity`), latency growing through the measurement
window and a warm-up shorter than the time the run takes to settle
(:mod:`sim.results.steady_state`), events that found nothing to act on, and pods that waited
Pending for a node (the scheduler's FailedScheduling).
"""

from __future__ import annotations

import math
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
    scenario: Scenario,
    requests: pd.DataFrame,
    timeline: pd.DataFrame,
    events: list[dict[str, Any]] | None = None,
    pods: pd.DataFrame | None = None,
) -> list[str]:
    """The scenario's warnings, then the run's, each one line."""
    sim = scenario.simulation
    # Two numpy columns, not a copy of the table: a run may hold 50 000 000 requests.
    ok = client_mask(requests) & (requests["outcome"] == "ok").to_numpy()
    t_sent, latency = requests["t_sent"].to_numpy(dtype=float), requests["latency"].to_numpy(dtype=float)
    if not ok.all():  # else the columns themselves (read only here): a copy of 10^7 rows is 160 MB
        t_sent, latency = t_sent[ok], latency[ok]
    if len(t_sent) and not bool((t_sent[1:] >= t_sent[:-1]).all()):  # np.diff would be a copy
        order = np.argsort(t_sent, kind="stable")
        t_sent, latency = t_sent[order], latency[order]
    found = list(scenario.warnings) + capacity_warnings(scenario, timeline)
    # An event that found nothing to act on (a crash of a pod name no live pod has).
    found += [f"at {format_duration(e['time'])}: {e['message']}" for e in events or () if e["reason"] == "NotFound"]
    if pods is not None:
        found += pending_warnings(events or [], pods, sim.duration_s)
    for check in (growing_queue, short_warmup):
        message = check(t_sent, latency, sim.warmup_s, sim.duration_s)
        if message is not None:
            found.append(message)
    return found


def pending_warnings(events: list[dict[str, Any]], pods: pd.DataFrame, duration_s: float) -> list[str]:
    """One line per Deployment some of whose pods waited for a node: how many, from when, the
    longest wait, how many were still Pending at the end, and the scheduler's last reason."""
    deployment_of = dict(zip(pods["pod"].astype(str), pods["deployment"].astype(str), strict=True))
    deleted = dict(zip(pods["pod"].astype(str), pods["deleted"].astype(float), strict=True))
    first: dict[str, float] = {}
    bound: dict[str, float] = {}
    last_reason: dict[str, str] = {}
    for e in events:
        pod = str(e["object"]).removeprefix("pod/")
        if e["reason"] == "FailedScheduling" and pod not in bound:
            first.setdefault(pod, float(e["time"]))
            last_reason[deployment_of.get(pod, "")] = str(e["message"])
        elif e["reason"] == "Scheduled" and pod in first:
            bound.setdefault(pod, float(e["time"]))
    out = []
    for deployment in sorted({deployment_of.get(p, "") for p in first}):
        mine = [p for p in first if deployment_of.get(p, "") == deployment]
        ends = {p: bound.get(p, _gone(deleted.get(p, math.nan), duration_s)) for p in mine}
        waiting = [p for p in mine if p not in bound and math.isnan(deleted.get(p, math.nan))]
        longest = max(ends[p] - first[p] for p in mine)
        still = f"; {len(waiting)} still Pending at the end" if waiting else ""
        out.append(
            f"deployment {deployment}: {len(mine)} pod{'s' if len(mine) != 1 else ''} waited Pending for a node "
            f"(from {format_duration(min(first[p] for p in mine))}, the longest {format_duration(longest)}{still}): "
            f"{last_reason[deployment]}"
        )
    return out


def _gone(deleted: float, duration_s: float) -> float:
    """When a pod that never got a node stopped waiting: its deletion, or the end of the run."""
    return duration_s if math.isnan(deleted) else min(deleted, duration_s)
