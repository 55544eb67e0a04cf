"""``svcsim run S --replications N``: the scenario run N times with independent seeds, the
mean of every metric with its confidence interval written and printed.

Writes ``replications.parquet``, ``replications.json`` and ``scenario.yaml`` into ``--out``
(:mod:`sim.experiments.replications`); the replications' own tables and plots are not
written. A progress line per replication goes to stderr unless ``--quiet``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from sim.errors import Problem, ScenarioError
from sim.experiments.replications import Replications, replicate
from sim.interrupts import stop_if_signalled
from sim.results.run_folder import check_run_target
from sim.scenario.resolved import Scenario

__all__ = ["add_replication_flags", "run_replications", "wants_replications"]


def add_replication_flags(run: argparse.ArgumentParser) -> None:
    """``--replications`` and ``--confidence`` on ``svcsim run``."""
    run.add_argument(
        "--replications",
        type=int,
        metavar="N",
        help="run N >= 2 times with seeds spawned from --seed and write the mean and confidence interval of "
        "every metric (replications.parquet, replications.json) instead of one run's tables",
    )
    run.add_argument(
        "--confidence",
        type=float,
        metavar="LEVEL",
        help="with --replications: the intervals' confidence level (default 0.95)",
    )


def wants_replications(args: argparse.Namespace) -> bool:
    return args.replications is not None or args.confidence is not None


def run_replications(args: argparse.Namespace, scenario: Scenario, out: Path, console: Console) -> int:
    """Check the flags, run the replications, write ``out`` and print the summary."""
    source = args.scenario
    problems = []
    if args.replications is None:
        problems.append(Problem(source, "", "--confidence", "only with --replications"))
    elif args.replications < 2:
        message = f"Invalid value: {args.replications}: must be at least 2 (a confidence interval needs two runs)"
        problems.append(Problem(source, "", "--replications", message))
    confidence = 0.95 if args.confidence is None else args.confidence
    if not 0 < confidence < 1:  # also refuses nan
        problems.append(Problem(source, "", "--confidence", f"Invalid value: {confidence:g}: must be > 0 and < 1"))
    if args.fail_on_slo:
        message = "not with --replications: each replication has its own verdict (slo_met in replications.parquet)"
        problems.append(Problem(source, "", "--fail-on-slo", message))
    if problems:
        raise ScenarioError(problems)
    check_run_target(out)  # before the runs, as for a single run
    args.writes = out
    n = int(args.replications)
    started = time.perf_counter()

    def progress(k: int, seed: int, metrics: dict[str, float]) -> None:
        if not args.quiet:
            mean, p99 = metrics["latency_mean_ms"], metrics["latency_p99_ms"]
            print(
                f"replication {k + 1}/{n} (seed {seed}): {metrics['requests']:.0f} requests, "
                f"mean {_number(mean)} ms, p99 {_number(p99)} ms, {time.perf_counter() - started:.1f} s",
                file=sys.stderr,
                flush=True,
            )
        stop_if_signalled()  # between replications: a stop signal is not lost in a long loop

    reps = replicate(scenario, n, confidence=confidence, on_done=progress)
    stop_if_signalled()
    try:
        reps.save(out)
    except OSError as err:
        target = err.filename2 or err.filename or out
        raise ScenarioError([Problem(source, "", "--out", f"cannot write {target}: {err.strerror or err}")]) from None
    args.written = True
    if not args.quiet:
        console.print(replications_table(reps, out))
    return 0


def replications_table(reps: Replications, out: Path) -> Table:
    """Per metric: mean, the confidence interval and the standard deviation across runs."""
    level = f"{reps.confidence * 100:g} % CI"
    title = f"{reps.scenario.simulation.name}: {reps.n} replications (seed {reps.seed}), results in {out}/"
    table = Table(title=title, title_justify="left")
    for name in ("metric", "mean", level, "sd", "n"):
        table.add_column(name, justify="left" if name == "metric" else "right")
    for row in reps.summary.itertuples():
        interval = "-" if math.isnan(row.ci_low) else f"{_number(row.ci_low)} – {_number(row.ci_high)}"
        table.add_row(row.metric, _number(row.mean), interval, _number(row.sd), str(row.n))
    return table


def _number(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:,.0f}" if abs(value) >= 1e4 else f"{value:.4g}"
