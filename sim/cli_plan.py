"""``svcsim plan S --slo p99<150ms --vary deployment/myapp.spec.replicas --range 1:200``: the
smallest value meeting the SLO with the requested confidence (:func:`sim.experiments.plan.plan`).

Prints the answer (one sentence and the values tried) on stdout and writes ``plan.json``,
``plan.parquet``, ``scenario.yaml`` and, unless ``--no-plots``, ``capacity.html`` into ``--out``
(default ``runs/<simulation name>-plan``). A line per value judged goes to stderr unless
``--quiet``. Bad ``--slo``, ``--vary``, ``--range`` (and the rest) are one error line each,
exit 2, before any run, before a Dask cluster is started or joined, and with nothing written.
An infeasible plan exits 0 (``feasible: false`` in ``plan.json``) unless ``--fail-if-infeasible``
(exit :data:`EXIT_INFEASIBLE`, after writing).

Where the runs go: as ``run --replications`` (``--serial``, ``--workers K``, ``--scheduler
ADDR``: :func:`sim.cli_replications.executor_from_flags`); by default the first run here,
timed, and the rest of the plan on a local cluster of one process per core if ``5 × n`` runs
at that pace would take more than ``AUTO_CLUSTER_MIN_S`` (a plan judges several values of up
to ``n`` replications each), started once for the command.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from sim.cli_replications import add_executor_flags, executor_from_flags, number_text, out_errors
from sim.errors import Problem, ScenarioError
from sim.experiments.dask_executor import AUTO_CLUSTER_MIN_S, RunFailed, dask_executor, default_workers, local_cluster
from sim.experiments.plan import check_plan_arguments, parse_range, plan
from sim.experiments.plan_result import Plan, loss_text
from sim.experiments.plan_search import Point
from sim.experiments.replications import Executor, RunFunction, RunTask
from sim.interrupts import stop_if_signalled
from sim.results.run_folder import check_run_target
from sim.scenario.resolved import Scenario

__all__ = ["EXIT_INFEASIBLE", "add_plan_parser", "range_value_with_dash", "run_plan"]

#: Points a plan is expected to judge at n replications, for the default's cluster decision.
_EXPECTED_POINTS = 5
#: ``plan --fail-if-infeasible``: written, and no value met the SLO (``run --fail-on-slo``'s code, cli.EXIT_SLO_MISSED).
EXIT_INFEASIBLE = 3


def add_plan_parser(sub: Any) -> argparse.ArgumentParser:
    """The ``plan`` subcommand's flags (``cli.py`` adds ``--set`` and the handler)."""
    parser = sub.add_parser("plan", help="the smallest value of a field that meets an SLO with confidence")
    parser.add_argument("scenario", help="multi-document YAML: Services, Deployments and one Simulation")
    parser.add_argument(
        "--slo",
        action="append",
        default=[],
        metavar="TARGET",
        help="a target, repeatable: p50|p90|p95|p99|mean|max<DURATION (p99<150ms), errors<PERCENT (errors<0.1%%), "
        "throughput>RATE",
    )
    parser.add_argument("--vary", metavar="PATH", help="the field to size, e.g. deployment/myapp.spec.replicas")
    parser.add_argument("--range", metavar="LO:HI", help="the whole values searched, e.g. 1:200")
    parser.add_argument("--duration", help="override spec.duration of every run (e.g. 60s, 5m), as for run")
    parser.add_argument(
        "--replications", type=int, default=10, metavar="N", help="replications near the answer (default 10)"
    )
    parser.add_argument("--confidence", type=float, default=0.95, metavar="LEVEL", help="default 0.95")
    parser.add_argument("--seed", type=int, help="the root seed (default: spec.seed, else a fresh one)")
    parser.add_argument("--out", help="results folder (default: runs/<simulation name>-plan)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines and no table")
    parser.add_argument("--no-plots", action="store_true", help="skip capacity.html (plan.json and plan.parquet only)")
    parser.add_argument("--no-what-if", action="store_true", help="skip the node- and zone-loss runs")
    parser.add_argument("--no-headroom", action="store_true", help="skip the load-headroom search")
    parser.add_argument(
        "--fail-if-infeasible",
        action="store_true",
        help=f"exit {EXIT_INFEASIBLE} (after writing DIR) when no value in the range meets the SLO (default: exit 0, "
        "feasible: false in plan.json)",
    )
    add_executor_flags(parser)
    return parser


def range_value_with_dash(argv: Sequence[str]) -> list[str]:
    """``argv`` with ``--range -1:5`` joined into ``--range=-1:5``: argparse reads a value that
    starts with '-' (other than a plain negative number) as an option and would say "expected one
    argument"; joined, the value reaches the planner's check and its usual one-line error."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1] == "--range" and re.match(r"-[0-9]", arg):
            out[-1] = f"--range={arg}"
        else:
            out.append(arg)
    return out


def run_plan(args: argparse.Namespace, scenario: Scenario, console: Console) -> int:
    """Check the flags, plan, write ``--out`` and print the answer."""
    source = args.scenario
    problems = []
    if not args.slo:
        problems.append(Problem(source, "", "--slo", "Required value: at least one target, such as p99<150ms"))
    if not args.vary:
        problems.append(
            Problem(source, "", "--vary", "Required value: a field path, such as deployment/myapp.spec.replicas")
        )
    if args.workers is not None and args.workers < 1:
        problems.append(Problem(source, "", "--workers", f"Invalid value: {args.workers}: must be at least 1"))
    if problems:
        raise ScenarioError(problems)
    lo_hi = parse_range(args.range, source)
    # every flag checked before a cluster is started or joined (which takes seconds, or fails as itself)
    check_plan_arguments(scenario, args.slo, args.vary, lo_hi, args.replications, args.confidence, args.seed)
    out = Path(args.out) if args.out else Path("runs") / f"{scenario.simulation.name}-plan"
    check_run_target(out)
    started = time.perf_counter()

    def show(point: Point) -> None:
        if not args.quiet:
            print(_point_line(point, args.vary, time.perf_counter() - started), file=sys.stderr, flush=True)
        stop_if_signalled()

    try:
        with executor_from_flags(args, source, default=lambda: _lazy(args)) as executor, _cluster_scope(executor):
            result = plan(
                scenario,
                slo=args.slo,
                vary=args.vary,
                range=lo_hi,
                replications=args.replications,
                confidence=args.confidence,
                seed=args.seed,
                executor=executor,
                what_if=not args.no_what_if,
                headroom=not args.no_headroom,
                on_point=show,
                on_done=lambda seed, metrics: stop_if_signalled(),
            )
    except RunFailed as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    stop_if_signalled()
    args.writes = out
    with out_errors(source, out):
        result.save(out, plots=not args.no_plots)
    args.written = True
    if not args.quiet:
        print_plan(result, out, console)
    return EXIT_INFEASIBLE if args.fail_if_infeasible and not result.feasible else 0


def _point_line(point: Point, vary: str, elapsed_s: float) -> str:
    what = f"{vary}={point.value}"
    if point.experiment != "search":
        what += f" ({point.experiment}{'' if point.factor == 1.0 else f' ×{point.factor:g}'})"
    parts = [
        f"{metric} {number_text(i.mean)} [{number_text(i.ci_low)}, {number_text(i.ci_high)}]"
        for metric, i in point.intervals.items()
    ]
    return f"{what}: {point.replications} runs, {point.verdict}: {'; '.join(parts)} ({elapsed_s:.1f} s)"


def print_plan(result: Plan, out: Path, console: Console) -> None:
    """The answer: one sentence, the values tried, the what-if, the headroom and the cost."""
    console.print(result.sentence(), highlight=False, soft_wrap=True, markup=False)  # [laptop] is a path, not markup
    table = Table(title=f"values tried ({result.confidence:.0%} CI), results in {out}/", title_justify="left")
    table.add_column("value", justify="right")
    table.add_column("runs", justify="right")
    for t in result.targets:
        table.add_column(t.text, justify="right")
    table.add_column("verdict")
    for row in result.evidence.to_dict("records"):
        cells = [str(row["value"]), str(row["replications"])]
        for t in result.targets:
            mean, low, high = (float(row[f"{t.metric}_{s}"]) for s in ("mean", "ci_low", "ci_high"))
            cells.append(
                t.describe_value(mean)
                + ("" if math.isnan(low) else f" [{t.describe_value(low)}, {t.describe_value(high)}]")
            )
        table.add_row(*cells, row["verdict"])
    console.print(table)
    for loss in result.what_if:
        if not loss.get("name"):
            console.print(f"what-if: {loss.get('skipped')}", highlight=False, markup=False)
            continue
        verdict = "holds" if loss["holds"] else "does NOT hold"
        line = f"what-if: {loss_text(loss)}: SLO {verdict}"
        if loss["loss"] == "node" and not loss["holds"]:
            survive = loss.get("smallest_surviving")
            line += (
                "; no value in the range survives it" if survive is None else f"; {result.vary}={survive} survives it"
            )
        console.print(line, highlight=False, markup=False)
    if result.headroom is not None:
        console.print(f"headroom: {result.headroom_text()}", highlight=False, markup=False)
    console.print(f"cost: {result.cost_text()}", highlight=False, markup=False)


# -- the default executor: one local cluster for the whole plan, when it pays ---------------------


class _Lazy:
    """Runs here until the first run shows the plan would take long; then a local cluster,
    started once and kept until the command ends (:func:`_cluster_scope` closes it)."""

    def __init__(self, quiet: bool, replications: int) -> None:
        self.quiet, self.n = quiet, replications
        self.stack = ExitStack()
        self.cluster: Executor | None = None
        self.decided = False

    def __call__(self, function: RunFunction, tasks: Sequence[RunTask]) -> Iterator[tuple[int, dict[str, float]]]:
        if self.cluster is not None:
            yield from self.cluster(function, tasks)
            return
        start = 0
        if not self.decided and tasks:
            self.decided = True
            began = time.perf_counter()
            yield 0, function(*tasks[0])
            start = 1
            workers = default_workers()
            if workers > 1 and (time.perf_counter() - began) * _EXPECTED_POINTS * self.n > AUTO_CLUSTER_MIN_S:
                if not self.quiet:
                    print(f"starting a local Dask cluster of {workers} workers for the other runs", file=sys.stderr)
                self.cluster = dask_executor(self.stack.enter_context(local_cluster(workers)))
                for index, metrics in self.cluster(function, tasks[1:]):
                    yield index + 1, metrics
                return
        for index in range(start, len(tasks)):
            yield index, function(*tasks[index])


def _lazy(args: argparse.Namespace) -> Executor:
    return _Lazy(args.quiet, args.replications)


@contextmanager
def _cluster_scope(executor: Executor) -> Iterator[None]:
    """Closes the default executor's cluster, if it started one, when the plan ends."""
    try:
        yield
    finally:
        if isinstance(executor, _Lazy):
            executor.stack.close()
