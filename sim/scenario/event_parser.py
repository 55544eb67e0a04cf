"""``spec.events`` of the Simulation document: what happens to the cluster during the run.

Each event has an ``at`` time and exactly one kind: ``scale``, ``rollout``, ``crash``,
``fail`` or ``recover``. Names (Deployments, pods, nodes, zones) are checked against the
other documents later, in :mod:`sim.scenario.cross_checks`.

A rollout's ``workload`` block is resolved here into a whole
:class:`~sim.scenario.simulation.Workload`: the fields it gives replace those of the
revision it follows, which is the Deployment's workload or the previous rollout's, taking
the events in the order the run applies them (by time, ties as written).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sim.kube.deployment import MAX_REPLICAS
from sim.kube.validation import dns1123_subdomain_problems, go
from sim.scenario.field_reader import FieldReader
from sim.scenario.simulation import CrashEvent, Event, NodeEvent, RolloutEvent, ScaleEvent, Workload, in_run_order
from sim.scenario.workload_parser import DEFAULT_WORKLOAD, workload_changes

__all__ = ["EVENT_KINDS", "ZONE_LABEL", "parse_events"]

EVENT_KINDS = ("scale", "rollout", "crash", "fail", "recover")
#: The well-known label that puts a node in a zone (``fail: {zone: Z}`` reads it).
ZONE_LABEL = "topology.kubernetes.io/zone"


def parse_events(raw: Any, fields: FieldReader, workloads: dict[str, Workload]) -> tuple[Event, ...]:
    """``spec.events``; ``workloads`` (``spec.workloads``) are the base of each Deployment's first rollout."""
    events: list[Event] = []
    changes: dict[int, dict[str, Any]] = {}  # per rollout with a workload block: the fields it gives
    for i, item in enumerate(fields.listing(raw, "spec.events", "events")):
        path = f"spec.events[{i}]"
        e = fields.keys(item, path, ("at", *EVENT_KINDS), required=("at",))
        at = fields.duration(e.get("at"), f"{path}.at", default=0.0)
        kinds = [k for k in EVENT_KINDS if k in e]
        if not kinds:
            if isinstance(item, dict) and set(item) <= {"at"}:  # an unknown kind is reported as such
                fields.fail(path, f"Required value: one of {', '.join(EVENT_KINDS)}")
            events.append(ScaleEvent(at, "", 0))  # a stand-in: the problem is reported
            continue
        if len(kinds) > 1:
            listed = " and ".join(kinds) if len(kinds) == 2 else ", ".join(kinds)
            fields.fail(path, f"Invalid value: both {listed}: an event does exactly one thing")
        kind, body, where = kinds[0], e[kinds[0]], f"{path}.{kinds[0]}"
        if kind == "scale":
            events.append(_scale(at, body, where, fields))
        elif kind == "rollout":
            r = fields.keys(body, where, ("deployment", "workload"), required=("deployment",))
            events.append(RolloutEvent(at, _name(r, "deployment", where, fields)))
            if r.get("workload") is not None:
                changes[i] = workload_changes(r["workload"], f"{where}.workload", fields)
        elif kind == "crash":
            events.append(_crash(at, body, where, fields))
        else:
            events.append(_node_event(at, kind, body, where, fields))
    return _chain_rollouts(tuple(events), changes, workloads)


def _chain_rollouts(
    events: tuple[Event, ...], changes: dict[int, dict[str, Any]], workloads: dict[str, Workload]
) -> tuple[Event, ...]:
    """Each rollout's workload: the fields it gives over the revision it follows, in run order.

    A rollout without a workload block keeps the current revision's workload: None while
    that is still the Deployment's own (``spec.workloads``), else the last rollout's.
    """
    out = list(events)
    current: dict[str, Workload] = {}  # Deployments a rollout has given a workload of their own
    for i in in_run_order(events):
        event = events[i]
        if not isinstance(event, RolloutEvent):
            continue
        name = event.deployment
        if i in changes:
            # With no workload to follow (reported by the cross checks) the defaults stand in.
            base = current.get(name) or workloads.get(name) or DEFAULT_WORKLOAD
            current[name] = dataclasses.replace(base, **changes[i])
        if name in current:
            out[i] = dataclasses.replace(event, workload=current[name])
    return tuple(out)


def _scale(at: float, raw: Any, path: str, fields: FieldReader) -> ScaleEvent:
    s = fields.keys(raw, path, ("deployment", "replicas"), required=("deployment", "replicas"))
    replicas = fields.integer(
        s.get("replicas", 0), f"{path}.replicas", maximum=MAX_REPLICAS, why="svcsim simulates every pod"
    )
    return ScaleEvent(at, _name(s, "deployment", path, fields), replicas)


def _crash(at: float, raw: Any, path: str, fields: FieldReader) -> CrashEvent:
    """``crash: {pod}`` or ``crash: {deployment, count}``."""
    c = fields.keys(raw, path, ("pod", "deployment", "count"))
    if "pod" in c and "deployment" in c:
        fields.fail(
            path, "Invalid value: both pod and deployment: crash one pod by name, or count pods of a Deployment"
        )
    elif "pod" not in c and "deployment" not in c and (raw is None or isinstance(raw, dict)):
        fields.fail(path, "Required value: pod, or deployment (with count)")
    if "pod" in c:
        if "count" in c:
            fields.fail(f"{path}.count", "Forbidden: only used with deployment, not pod")
        return CrashEvent(at, pod=_name(c, "pod", path, fields))
    count = 1
    if "count" in c:
        count = fields.integer(c["count"], f"{path}.count", minimum=1, maximum=MAX_REPLICAS, why="svcsim's limit")
    deployment = _name(c, "deployment", path, fields) if "deployment" in c else None
    return CrashEvent(at, deployment=deployment, count=count)


def _node_event(at: float, action: str, raw: Any, path: str, fields: FieldReader) -> NodeEvent:
    """``fail`` / ``recover``: ``{node: N}`` or ``{zone: Z}``."""
    n = fields.keys(raw, path, ("node", "zone"))
    if "node" in n and "zone" in n:
        fields.fail(path, "Invalid value: both node and zone: name one node, or one zone")
    elif "node" not in n and "zone" not in n and (raw is None or isinstance(raw, dict)):
        fields.fail(path, "Required value: node or zone")
    if "node" in n:
        return NodeEvent(at, action, node=_name(n, "node", path, fields))
    zone = fields.string(n["zone"], f"{path}.zone") if "zone" in n else None
    return NodeEvent(at, action, zone=zone)


def _name(raw: dict[str, Any], key: str, path: str, fields: FieldReader) -> str:
    """A Kubernetes object name (a DNS-1123 subdomain, as Deployments, pods and nodes are named)."""
    if key not in raw:
        return ""
    name = fields.string(raw[key], f"{path}.{key}")
    for problem in dns1123_subdomain_problems(name) if name else ():
        fields.fail(f"{path}.{key}", f"Invalid value: {go(name)}: {problem}")
    return name
