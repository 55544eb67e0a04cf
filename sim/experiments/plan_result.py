"""What :func:`sim.plan` returns: the answer, the evidence, and the files it saves.

On disk (:meth:`Plan.save`): ``plan.json`` (the answer, the SLO, every value tried with its
intervals and verdict, the what-if, the headroom, the cost), ``plan.parquet`` (every run:
``experiment, value, load_factor, replication, seed`` and its metrics), ``scenario.yaml`` (the
scenario, ``spec.seed`` the plan's root seed) and, unless ``plots=False``, ``capacity.html``
(:mod:`sim.experiments.plan_report`). All or nothing (:mod:`sim.results.run_folder`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sim.experiments.slo_targets import SloTarget
from sim.results.result import summary_json
from sim.results.run_folder import replacing
from sim.scenario.resolved import Scenario
from sim.version import VERSION

__all__ = ["PLAN_FILES", "Plan", "loss_text", "pods_lost_text"]

PLAN_FILES = ("plan.json", "plan.parquet", "scenario.yaml", "capacity.html")


@dataclass(frozen=True, eq=False)  # tables do not compare with ==
class Plan:
    """The planner's answer: ``recommended`` (None when infeasible), ``feasible``, ``reason`` (one
    sentence), ``evidence`` (one row per value tried: ``value, replications``, per SLO metric
    ``<metric>_mean, <metric>_ci_low, <metric>_ci_high, <metric>_verdict``, and the overall
    ``verdict``: met / missed / undecided), ``runs`` (every run), ``what_if``, ``headroom`` and ``cost``."""

    scenario: Scenario = field(repr=False)
    targets: tuple[SloTarget, ...]
    vary: str
    range: tuple[int, int]
    replications: int
    confidence: float
    seed: int
    recommended: int | None
    feasible: bool
    reason: str
    evidence: pd.DataFrame = field(repr=False)
    runs: pd.DataFrame = field(repr=False)
    what_if: list[dict[str, Any]] = field(repr=False)
    headroom: dict[str, Any] | None = field(repr=False)
    cost: dict[str, Any] = field(repr=False)

    @property
    def slo(self) -> list[str]:
        return [t.text for t in self.targets]

    def sentence(self) -> str:
        """The answer in one sentence."""
        slo = " and ".join(self.slo)
        if self.recommended is None:
            return f"No value of {self.vary} in {self.range[0]}..{self.range[1]} meets {slo}: {self.reason}."
        return (
            f"{self.vary} = {self.recommended} is the smallest value in {self.range[0]}..{self.range[1]} "
            f"meeting {slo} with {self.confidence:.0%} confidence ({self.reason})."
        )

    def headroom_text(self) -> str:
        """The headroom in words (plain text): how far the load grows with the SLO still met."""
        h = self.headroom
        if h is None:
            return "not run"
        if h["breaks_at"] is None:  # no break found: the factor is a lower bound, not where the SLO breaks
            why = f"the run limits refused more: {h['limited_by']}" if h.get("limited_by") else "the most tried"
            return f"the SLO still holds with the load ×{h['factor']:g} ({h['rate_rps']:,.1f} req/s), {why}"
        breaks = f"; at ×{h['breaks_at']:g} it no longer holds"
        if h["factor"] <= 1.0:
            return f"none: the SLO holds at the load as written ({h['rate_rps']:,.1f} req/s){breaks}"
        return f"the load can grow ×{h['factor']:g} (to {h['rate_rps']:,.1f} req/s) with the SLO still met{breaks}"

    def cost_text(self) -> str:
        """The nodes the pods need and their price (plain text)."""
        c = self.cost
        at = "the answer" if c["for"] == "recommended" else "the range's top (no value met the SLO)"
        pods = f"{c['pods']} pod{'' if c['pods'] == 1 else 's'}"
        if c["nodes_needed"] is None:
            text = f"{pods} at {at}: no node can hold one of them"
        else:
            nodes = f"{c['nodes_needed']} node{'' if c['nodes_needed'] == 1 else 's'}"
            text = f"{pods} at {at} need {nodes} of the cluster's {c['cluster_nodes']} by their requests"
            if not c.get("requests_given", True):
                text += " (they request no cpu or memory: only the pods-per-node limit counts)"
            elif not c["fits_cluster"]:
                text += " (more than the cluster has)"
        if c["per_hour"] is not None:
            text += f": {c['per_hour']:,.2f} per hour, {c['per_month']:,.2f} per 30-day month"
        return text

    def __repr__(self) -> str:
        lines = [f"<Plan for {self.scenario.simulation.name!r}: {self.sentence()}>"]
        lines += [f"  {line}" for line in self.evidence_lines()]
        for loss in self.what_if:
            if loss.get("name"):
                verdict = "holds" if loss["holds"] else "does NOT hold"
                lines.append(f"  {loss_text(loss)}: SLO {verdict}")
        if self.headroom is not None:
            lines.append(f"  headroom: {self.headroom_text()}")
        lines.append(f"  cost: {self.cost_text()}")
        return "\n".join(lines)

    def evidence_lines(self) -> list[str]:
        """The evidence as fixed-width text: a line per value tried."""
        out = []
        for row in self.evidence.itertuples(index=False):
            values = row._asdict()
            parts = []
            for t in self.targets:
                mean, low, high = (values[f"{t.metric}_{s}"] for s in ("mean", "ci_low", "ci_high"))
                ci = "" if math.isnan(low) else f" [{t.describe_value(low)}, {t.describe_value(high)}]"
                parts.append(f"{t.name} {t.describe_value(mean)}{ci}")
            out.append(
                f"{values['value']:>6}  {values['replications']:>3} runs  {values['verdict']:<9} " + "; ".join(parts)
            )
        return out

    def summary_dict(self) -> dict[str, Any]:
        """What ``plan.json`` holds (NaN as null once written)."""
        evidence = []
        for row in self.evidence.to_dict("records"):
            evidence.append(
                {
                    "value": int(row["value"]),
                    "replications": int(row["replications"]),
                    "verdict": row["verdict"],
                    "metrics": {
                        t.metric: {
                            **{s: float(row[f"{t.metric}_{s}"]) for s in ("mean", "ci_low", "ci_high")},
                            "verdict": row[f"{t.metric}_verdict"],
                        }
                        for t in self.targets
                    },
                }
            )
        return {
            "scenario": self.scenario.simulation.name,
            "recommended": self.recommended,
            "feasible": self.feasible,
            "reason": self.reason,
            "answer": self.sentence(),
            "slo": [{"text": t.text, "metric": t.metric, "op": t.op, "bound": t.bound} for t in self.targets],
            "vary": self.vary,
            "range": list(self.range),
            "replications": self.replications,
            "confidence": self.confidence,
            "seed": self.seed,
            "evidence": evidence,
            "what_if": self.what_if,
            "headroom": self.headroom,
            "cost": self.cost,
            "svcsim_version": VERSION,
        }

    def save(self, directory: str | os.PathLike[str], *, plots: bool = True) -> Path:
        """Write :data:`PLAN_FILES` (``capacity.html`` only with ``plots``) into ``directory``
        (new, empty or an earlier run's folder, whose other files go)."""
        page = None
        if plots:
            from sim.experiments.plan_report import render_capacity_report  # noqa: PLC0415 (matplotlib)

            page = render_capacity_report(self)
        with replacing(directory, whole_run=True) as staging:
            (staging / "plan.json").write_text(summary_json(self.summary_dict()), encoding="utf-8")
            self.runs.to_parquet(staging / "plan.parquet", index=False)
            resolved = self.scenario.with_overrides(seed=self.seed)
            (staging / "scenario.yaml").write_text(resolved.to_yaml(), encoding="utf-8")
            if page is not None:
                (staging / "capacity.html").write_text(page, encoding="utf-8")
        return Path(directory)


def pods_lost_text(loss: dict[str, Any]) -> str:
    """``2`` or, when the replications' placements differ, the range ``2-3``."""
    low, high = loss["pods_lost"]
    return f"{low}" if low == high else f"{low}-{high}"


def loss_text(loss: dict[str, Any]) -> str:
    """A what-if row in words: ``node node-1 lost (2 of 4 pods)``; when the busiest node differs
    between replications, ``node node-1, node-3 lost (the busiest in each replication: 2-3 of 7 pods)``."""
    several = len(set(loss["lost"])) > 1
    each = f"the busiest in each replication: {pods_lost_text(loss)}" if several else pods_lost_text(loss)
    return f"{loss['loss']} {loss['name']} lost ({each} of {loss['pods']} pods)"
