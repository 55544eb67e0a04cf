"""The planner's search: replications of a scenario variant judged against the SLO with as few
runs as the decision allows, and the monotone searches built on that judgement.

**Replications per point** (the rule README "Capacity planning" states): a point (a value of
the varied field, possibly with a node lost or the load scaled) first runs ``min(3, n)``
replications. If that interval already misses the SLO (wholly on the wrong side of a bound) the
point is settled: far below the answer, a few runs suffice. Otherwise it runs up to ``n``; if
the interval then straddles a bound (undecided), ``n`` more at a time, up to ``3n``. A point
still undecided after ``3n`` replications counts as not meeting the SLO: the planner only
recommends what holds with the requested confidence. So every point reported as met has at
least ``n`` replications.

**Seeds**: replication ``k`` of every point runs with ``replication_seed(root, k)``, the seed
``sim.replicate`` and ``sim.sweep`` give their replication ``k`` (common random numbers across
values, lost nodes and load factors: points differ by what changed, not by the draw, which
also keeps the monotone search from being misled by noise), so a point's runs depend on
``(root, k)`` and the point alone, not on the search's order, the executor or the worker count,
and value ``v``'s runs are ``sim.sweep``'s at ``v`` with the same seed.

**Searches** rely on monotonicity (more of the varied value never hurts; more load never
helps): :func:`smallest_meeting` gallops up from the range's low end (``lo``, ``lo+1``,
``lo+2``, ``lo+4``... capped at ``hi``) to the first value that meets the SLO, then bisects
between it and the last that did not; :func:`largest_factor` does the same on the load factor,
geometrically, to 5 %.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.experiments.metrics import METRICS, run_one
from sim.experiments.replications import Executor
from sim.experiments.seeds import replication_seed
from sim.experiments.slo_targets import MET, MISSED, UNDECIDED, Interval, SloTarget, interval_of, judge, overall
from sim.scenario.resolved import Scenario

__all__ = ["Point", "PointRunner", "largest_factor", "smallest_meeting"]

#: Replications a point starts with (or n, if smaller), and the most it may take, in units of n.
FIRST_REPLICATIONS = 3
MAX_REPLICATIONS_FACTOR = 3
FACTOR_PRECISION = 1.05  # the headroom search stops when its bracket is this narrow (ratio)
MAX_LOAD_FACTOR = 64.0


@dataclass(frozen=True)
class Point:
    """One point's judgement: its replications' intervals per SLO metric and the verdict."""

    experiment: str  # "search", "node loss", "zone loss" or "headroom"
    value: int
    factor: float  # the clients' rates multiplied by this (1.0: as written)
    replications: int
    intervals: dict[str, Interval] = field(repr=False)
    verdicts: dict[str, str] = field(repr=False)
    verdict: str

    @property
    def met(self) -> bool:
        return self.verdict == MET


PointKey = tuple[str, int, float]


class PointRunner:
    """Runs and judges points, keeping every replication's metrics (``plan.parquet``).

    ``on_point(point)`` is called after each judgement, ``on_done(seed, metrics)`` after each run.
    """

    def __init__(
        self,
        root: int,
        targets: Sequence[SloTarget],
        confidence: float,
        replications: int,
        executor: Executor,
        on_point: Callable[[Point], None] | None = None,
        on_done: Callable[[int, dict[str, float]], None] | None = None,
    ) -> None:
        self.root, self.targets, self.confidence, self.n = root, tuple(targets), confidence, replications
        self.executor, self.on_point, self.on_done = executor, on_point, on_done
        self.runs: dict[PointKey, dict[int, dict[str, float]]] = {}
        self.points: dict[PointKey, Point] = {}

    def judge(
        self, experiment: str, value: int, scenario: Scenario | Callable[[int], Scenario], factor: float = 1.0
    ) -> Point:
        """The point's verdict under the replication rule (module docstring). ``scenario`` is
        the point's scenario, or a function giving replication ``k``'s (the node-loss what-if
        fails, in each replication, the node that replication's placement loads most). A point
        judged before is returned as it was, without running or reporting it again."""
        key = (experiment, int(value), float(factor))
        if key in self.points:
            return self.points[key]
        scenario_for = (lambda k: scenario) if isinstance(scenario, Scenario) else scenario
        first = min(FIRST_REPLICATIONS, self.n)
        point = self._judged(key, scenario_for, first)
        if point.verdict != MISSED and first < self.n:
            point = self._judged(key, scenario_for, self.n)
        while point.verdict == UNDECIDED and point.replications < MAX_REPLICATIONS_FACTOR * self.n:
            point = self._judged(key, scenario_for, point.replications + self.n)
        self.points[key] = point
        if self.on_point is not None:
            self.on_point(point)
        return point

    def _judged(self, key: PointKey, scenario_for: Callable[[int], Scenario], count: int) -> Point:
        done = self.runs.setdefault(key, {})
        missing = [k for k in range(count) if k not in done]
        seeds = [replication_seed(self.root, k) for k in missing]
        tasks = [(scenario_for(k), s) for k, s in zip(missing, seeds, strict=True)]
        for i, metrics in self.executor(run_one, tasks):
            done[missing[i]] = metrics
            if self.on_done is not None:
                self.on_done(seeds[i], metrics)
        assert all(k in done for k in range(count)), "the executor must return every task once"
        runs = [done[k] for k in range(count)]
        intervals = {
            t.metric: interval_of([r.get(t.metric, math.nan) for r in runs], self.confidence) for t in self.targets
        }
        verdicts = {t.metric: judge(t, intervals[t.metric]) for t in self.targets}
        return Point(key[0], key[1], key[2], count, intervals, verdicts, overall(list(verdicts.values())))

    def table(self) -> pd.DataFrame:
        """One row per run: ``experiment, value, load_factor, replication, seed`` and the metrics,
        in the order the points were first tried."""
        rows = []
        for (experiment, value, factor), done in self.runs.items():
            for k in sorted(done):
                row: dict[str, object] = {
                    "experiment": experiment,
                    "value": value,
                    "load_factor": factor,
                    "replication": k,
                    "seed": replication_seed(self.root, k),
                }
                row.update(done[k])
                rows.append(row)
        names = [m for m in METRICS if any(m in r for r in rows)]
        columns = ["experiment", "value", "load_factor", "replication", "seed", *names]
        table = pd.DataFrame(rows, columns=columns)
        for name in ("value", "replication", "seed"):
            table[name] = table[name].astype("int64")
        table["load_factor"] = table["load_factor"].astype(float)
        for name in names:
            if name == "requests" or name.startswith("outcome_"):
                table[name] = table[name].astype("int64")
            elif name == "slo_met":
                table[name] = table[name].to_numpy(dtype=float) == 1.0
            else:
                table[name] = table[name].astype(float)
        table["experiment"] = table["experiment"].astype(str)
        return table


def smallest_meeting(meets: Callable[[int], bool], lo: int, hi: int) -> int | None:
    """The smallest ``v`` in ``[lo, hi]`` with ``meets(v)``, for a monotone ``meets``; None if
    ``meets(hi)`` is false. Galloping from ``lo`` then bisection: O(log(answer − lo)) calls."""
    if meets(lo):
        return lo
    below, step = lo, 1
    while True:
        probe = min(lo + step, hi)
        if meets(probe):
            above = probe
            break
        if probe == hi:
            return None
        below, step = probe, step * 2
    while above - below > 1:
        middle = (below + above) // 2
        if meets(middle):
            above = middle
        else:
            below = middle
    return above


def largest_factor(meets: Callable[[float], bool], limit: float = MAX_LOAD_FACTOR) -> tuple[float, float | None]:
    """``(largest factor found to meet, smallest found to fail or None)`` for a monotone
    ``meets`` with ``meets(1.0)`` known true: doubling to the first failure (at most
    ``limit``), then geometric bisection until the bracket's ratio is under 5 %."""
    good, bad = 1.0, None
    factor = 2.0
    while factor <= limit:
        if meets(factor):
            good, factor = factor, factor * 2
        else:
            bad = factor
            break
    if bad is None:
        return good, None
    while bad / good > FACTOR_PRECISION:
        middle = float(np.sqrt(good * bad))
        middle = round(middle, 3)
        if middle <= good or middle >= bad:
            break
        if meets(middle):
            good = middle
        else:
            bad = middle
    return good, bad
