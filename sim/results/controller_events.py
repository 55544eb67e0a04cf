"""The controllers' events read back: which are faults and rollouts, the marks the plots draw
for them, and the paragraph the report tells about them.

A run's ``events`` table lists everything the controllers did, most of it routine (pods
scheduled, started, stopped). Only some reasons change what the clients see: a node that
fails, goes NotReady or comes back; pods evicted from it; containers that crash or are
killed by a liveness probe and back off; a rollout's first step and a rollout past its
progress deadline. :data:`MARKED_REASONS` names them (docs/semantics.md#kubectl-views).
Events at nearly the same time become one mark, so a node taking its pods with it is one
line on a plot, not one per pod.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pandas as pd

__all__ = ["MARKED_REASONS", "Happening", "Mark", "happenings", "marks", "narrative"]

#: At most this many marks on a plot; nearby ones merge until no more are left.
MAX_MARKS = 12
#: Events closer than this share of the plotted span are one mark (the gap doubles as needed).
_MERGE_SHARE = 1 / 80
#: The narrative tells at most this many moments, then counts the rest.
_MAX_MOMENTS = 15
_SCALED = re.compile(r"Scaled (?:up|down) replica set (\S+) (?:from \d+ )?to \d+")


@dataclass(frozen=True)
class Happening:
    """One event worth marking: when, its ``kind`` (``fault``, ``rollout`` or ``recovery``),
    a short plot ``label`` and a narrative ``phrase`` (``{n}`` stands for how many events of
    the same phrase share the moment)."""

    time: float
    kind: str
    label: str
    phrase: str


@dataclass(frozen=True)
class Mark:
    """Happenings at nearly the same time, as one vertical line: the first one's time, the
    most serious kind (a fault before a rollout before a recovery), a combined label and the
    happenings themselves."""

    time: float
    kind: str
    label: str
    happenings: tuple[Happening, ...]


_SERIOUSNESS = {"fault": 0, "rollout": 1, "recovery": 2}


def _name(obj: str) -> str:
    """``node/node-2`` -> ``node-2``."""
    return obj.split("/", 1)[1] if "/" in obj else obj


# A rule reads one event's object and message: (kind, plot label, narrative phrase), or None.
Rule = Callable[[str, str], "tuple[str, str, str] | None"]


def _node_failed(obj: str, message: str) -> tuple[str, str, str] | None:
    return "fault", f"{_name(obj)} failed", f"node {_name(obj)} stopped answering"


def _not_ready(obj: str, message: str) -> tuple[str, str, str] | None:
    if obj.startswith("node/"):
        return "fault", f"{_name(obj)} NotReady", f"node {_name(obj)} was marked NotReady"
    return "fault", "pods NotReady", "{n} pod(s) were marked not Ready with their node"


def _node_ready(obj: str, message: str) -> tuple[str, str, str] | None:
    if not obj.startswith("node/"):
        return None
    return "recovery", f"{_name(obj)} Ready", f"node {_name(obj)} was Ready again"


def _node_back(obj: str, message: str) -> tuple[str, str, str] | None:
    return "recovery", f"{_name(obj)} back", f"node {_name(obj)} answered again"


def _evicted(obj: str, message: str) -> tuple[str, str, str] | None:
    return "fault", "eviction", "{n} pod(s) were evicted"


def _killing(obj: str, message: str) -> tuple[str, str, str] | None:
    """Killing is also every ordinary stop; only a liveness kill or an eviction is a fault."""
    text = message.lower()
    if "liveness" in text:
        return "fault", "liveness kill", "a failing liveness probe killed {n} container(s)"
    if "evict" in text or "taint" in text:
        return _evicted(obj, message)
    return None


def _crashed(obj: str, message: str) -> tuple[str, str, str] | None:
    return "fault", "crash", "{n} container(s) crashed"


def _back_off(obj: str, message: str) -> tuple[str, str, str] | None:
    return "fault", "BackOff", "{n} crashed container(s) were held back (CrashLoopBackOff)"


def _deadline(obj: str, message: str) -> tuple[str, str, str] | None:
    deployment = _name(obj)
    return "fault", f"{deployment} stuck", f"the rollout of Deployment {deployment} passed its progress deadline"


_RULES: dict[str, Rule] = {
    "NodeFailed": _node_failed,
    "NodeNotReady": _not_ready,
    "NodeReady": _node_ready,
    "NodeRecovered": _node_back,
    "TaintManagerEviction": _evicted,
    "Evicted": _evicted,
    "Killing": _killing,
    "Crashed": _crashed,
    "BackOff": _back_off,
    "ProgressDeadlineExceeded": _deadline,
}
#: The reasons that can mark a plot. A Killing only when a liveness probe or an eviction
#: caused it; a ScalingReplicaSet only as a rollout's first step.
MARKED_REASONS = frozenset({*_RULES, "ScalingReplicaSet"})


def happenings(events: pd.DataFrame | None) -> list[Happening]:
    """The events worth marking, in time order.

    A rollout is marked where a Deployment's ReplicaSet not seen before is first scaled, once
    the Deployment already had one (the control plane records its first ReplicaSet's scale-up
    at t = 0, as the Deployment controller does when the Deployment is created); its phrase
    counts the scaling steps until the Deployment's next rollout.
    """
    if events is None or events.empty:
        return []
    found: list[Happening] = []
    replica_sets: dict[str, set[str]] = {}  # per Deployment, the ReplicaSets it scaled
    rollouts: dict[str, list[tuple[int, str, list[float]]]] = {}  # per Deployment: (index in found, rs, steps)
    for time, reason, obj, message in zip(
        events["time"].to_numpy(dtype=float),
        events["reason"].astype(str),
        events["object"].astype(str),
        events["message"].astype(str),
        strict=True,
    ):
        if reason == "ScalingReplicaSet":
            scaled = _SCALED.match(message)
            if scaled is None:
                continue
            deployment, rs = _name(obj), scaled.group(1)
            seen = replica_sets.setdefault(deployment, set())
            if rs not in seen and seen:  # a ReplicaSet scaled after another: a new revision
                rollouts.setdefault(deployment, []).append((len(found), rs, []))
                found.append(Happening(float(time), "rollout", f"rollout {deployment}", ""))
            seen.add(rs)
            if rollouts.get(deployment):
                rollouts[deployment][-1][2].append(float(time))
            continue
        rule = _RULES.get(reason)
        read = rule(obj, message) if rule is not None else None
        if read is not None:
            found.append(Happening(float(time), *read))
    for deployment, started in rollouts.items():
        for index, rs, steps in started:
            phrase = f"a rollout of Deployment {deployment} began (ReplicaSet {rs}"
            phrase += f"; {len(steps)} scaling steps, the last at {_at(steps[-1])})" if len(steps) > 1 else ")"
            h = found[index]
            found[index] = Happening(h.time, h.kind, h.label, phrase)
    return found


def marks(events: pd.DataFrame | None, span_s: float, max_marks: int = MAX_MARKS) -> list[Mark]:
    """The marks to draw over a plot spanning ``span_s`` seconds: happenings closer than
    1/80 of the span merge, and the distance doubles until at most ``max_marks`` are left."""
    found = happenings(events)
    if not found:
        return []
    gap = max(span_s, 1e-9) * _MERGE_SHARE
    groups = _groups(found, gap)
    while len(groups) > max_marks:
        gap *= 2
        groups = _groups(found, gap)
    return [_mark(group) for group in groups]


def _groups(found: list[Happening], gap: float) -> list[list[Happening]]:
    groups: list[list[Happening]] = []
    for h in found:
        if groups and h.time - groups[-1][0].time <= gap:
            groups[-1].append(h)
        else:
            groups.append([h])
    return groups


def _mark(group: list[Happening]) -> Mark:
    counts = _counted(h.label for h in group)
    labels = [f"{label} ×{n}" if n > 1 else label for label, n in counts.items()]
    label = ", ".join(labels[:2]) + (f" +{len(labels) - 2} more" if len(labels) > 2 else "")
    kind = min((h.kind for h in group), key=_SERIOUSNESS.__getitem__)
    return Mark(group[0].time, kind, label, tuple(group))


def _counted(items: Iterable[str]) -> dict[str, int]:
    """How often each item occurs, in order of first occurrence."""
    counts: dict[str, int] = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return counts


def narrative(events: pd.DataFrame | None, duration_s: float) -> str:
    """One paragraph on the run's faults and rollouts, moment by moment (events within
    a 1/400 of the run of each other are one moment), or why there is nothing to tell."""
    total = 0 if events is None else len(events)
    if total == 0:
        return "The controllers recorded no events in this run."
    moments = _groups(happenings(events), max(duration_s, 1e-9) / 400)
    sentences = []
    for group in moments[:_MAX_MOMENTS]:
        phrases = [p.replace("{n}", str(n)) for p, n in _counted(h.phrase for h in group).items()]
        sentences.append(f"At {_at(group[0].time)}, " + "; ".join(phrases) + ".")
    if len(moments) > _MAX_MOMENTS:
        sentences.append(f"{len(moments) - _MAX_MOMENTS} more moment(s) follow in the table.")
    if not sentences:
        sentences.append(f"No fault and no rollout: the controllers' {total} event(s) are routine.")
    unhealthy = int((events["reason"].astype(str) == "Unhealthy").sum()) if events is not None else 0
    if unhealthy:
        sentences.append(f"Probes failed {unhealthy} time(s) (Unhealthy).")
    return " ".join(sentences)


def _at(time_s: float) -> str:
    """A simulated time for the narrative: ``t = 120 s``, ``t = 475.5 s``."""
    return f"t = {round(time_s, 1):g} s"
