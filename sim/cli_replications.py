"""``svcsim run S --replications N``: the scenario run N times with independent seeds, the
mean of every metric with its confidence interval written and printed.

Writes ``replications.parquet``, ``replications.json`` and ``scenario.yaml`` into ``--out``
(:mod:`sim.experiments.replications`); the replications' own tables and plots are not
written. Progress goes to stderr unless ``--quiet``: a bar over the runs on a terminal, a line
per replication otherwise.

Where the runs go (:mod:`sim.experiments.dask_executor`): ``--serial`` in this process,
``--workers K`` a local Dask cluster of K processes, ``--scheduler ADDR`` an existing Dask
cluster; by default the first run in this process, timed, and the rest on a local cluster of
one process per core when they would take more than ``AUTO_CLUSTER_MIN_S`` serially.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sim.errors import Problem, ScenarioError
from sim.experiments.dask_executor import RunFailed, auto_executor, cluster_executor, connect, dask_executor
from sim.experiments.replications import Executor, Replications, replicate, serial
from sim.interrupts import stop_if_signalled
from sim.results.run_folder import check_run_target
from sim.scenario.resolved import Scenario
from sim.units import parse_duration

__all__ = [
    "add_executor_flags",
    "add_keep_tables_flag",
    "add_replication_flags",
    "duration_arg",
    "duration_override",
    "executor_from_flags",
    "number_text",
    "out_errors",
    "progress_lines",
    "run_replications",
    "wants_replications",
]


_BARE_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")


def duration_arg(source: str, flag: str, value: str) -> float:
    """A duration flag: with a unit, or a bare number of seconds (``--at 0``, ``--duration 60``),
    as everywhere else; on the command line every value arrives as text."""
    try:
        return parse_duration(float(value) if _BARE_NUMBER.fullmatch(value) else value)
    except ValueError as err:
        raise ScenarioError([Problem(source, "", flag, str(err))]) from None


def duration_override(args: argparse.Namespace) -> float | None:
    """``--duration`` (``run``, ``sweep``, ``plan``) in seconds, or None when not given; for
    ``Scenario.with_overrides``, which later changes keep."""
    duration = duration_arg(args.scenario, "--duration", args.duration) if args.duration else None
    if duration is not None and duration <= 0:
        raise ScenarioError([Problem(args.scenario, "", "--duration", "must be > 0")])
    return duration


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
    add_keep_tables_flag(run, "with --replications: ")
    add_executor_flags(run, "with --replications: ")


def add_keep_tables_flag(command: argparse.ArgumentParser, only: str = "") -> None:
    """``--keep-tables``: every run's own folder kept under DIR/runs/ (its tables cross the network)."""
    command.add_argument(
        "--keep-tables",
        action="store_true",
        help=f"{only}also keep every run's tables, summary and scenario under DIR/runs/NAME/ (a run folder each; "
        "from Dask workers they are sent back, so this moves every run's tables over the network)",
    )


def add_executor_flags(command: argparse.ArgumentParser, only: str = "") -> None:
    """``--workers``, ``--scheduler`` and ``--serial``: where the runs of an experiment go
    (``only`` prefixes their help, such as "with --replications: ")."""
    where = command.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=int,
        metavar="K",
        help=f"{only}run on a local Dask cluster of K worker processes (default: one per core, "
        "used when the runs would take more than 10 s in this process)",
    )
    where.add_argument(
        "--scheduler",
        metavar="ADDR",
        help=f"{only}run on the existing Dask cluster whose scheduler is at ADDR (tcp://HOST:8786)",
    )
    where.add_argument("--serial", action="store_true", help=f"{only}every run in this process, one after the other")


def wants_replications(args: argparse.Namespace) -> bool:
    return args.replications is not None or any(
        v is not None and v is not False
        for v in (args.confidence, args.workers, args.scheduler, args.serial, args.keep_tables)
    )


def run_replications(args: argparse.Namespace, scenario: Scenario, out: Path, console: Console) -> int:
    """Check the flags, run the replications, write ``out`` and print the summary."""
    source = args.scenario
    problems: list[Problem] = []
    if args.replications is None:
        given = [("--confidence", args.confidence), ("--workers", args.workers), ("--scheduler", args.scheduler)]
        given += [("--serial", args.serial or None), ("--keep-tables", args.keep_tables or None)]
        problems.extend(Problem(source, "", flag, "only with --replications") for flag, v in given if v is not None)
    elif args.replications < 2:
        message = f"Invalid value: {args.replications}: must be at least 2 (a confidence interval needs two runs)"
        problems.append(Problem(source, "", "--replications", message))
    confidence = 0.95 if args.confidence is None else args.confidence
    if not 0 < confidence < 1:  # also refuses nan
        problems.append(Problem(source, "", "--confidence", f"Invalid value: {confidence:g}: must be > 0 and < 1"))
    if args.workers is not None and args.workers < 1:
        problems.append(Problem(source, "", "--workers", f"Invalid value: {args.workers}: must be at least 1"))
    if args.fail_on_slo:
        message = "not with --replications: each replication has its own verdict (slo_met in replications.parquet)"
        problems.append(Problem(source, "", "--fail-on-slo", message))
    if problems:
        raise ScenarioError(problems)
    check_run_target(out)  # before the runs, as for a single run
    args.writes = out
    n = int(args.replications)
    try:
        with executor_from_flags(args, source) as executor, progress_lines(args, n) as progress:
            reps = replicate(
                scenario,
                n,
                confidence=confidence,
                executor=executor,
                on_done=lambda k, seed, metrics: progress(f"replication {k + 1}/{n}", seed, metrics),
                keep_tables=args.keep_tables,
            )
    except RunFailed as err:  # one line, not a worker's traceback; exit 1, as a failed run (not the user's input)
        print(f"error: {err}", file=sys.stderr)
        return 1
    stop_if_signalled()
    with out_errors(source, out):
        reps.save(out)
    args.written = True
    if not args.quiet:
        console.print(replications_table(reps, out))
    return 0


@contextmanager
def out_errors(source: str, out: str | os.PathLike[str], flag: str = "--out") -> Iterator[None]:
    """A file the block cannot write under ``out`` (a directory in the way, a full disk, no
    permission) as one error line naming ``flag``, not a traceback."""
    try:
        yield
    except OSError as err:
        target = err.filename2 or err.filename or out  # a rename names its destination second
        raise ScenarioError([Problem(source, "", flag, f"cannot write {target}: {err.strerror or err}")]) from None


@contextmanager
def executor_from_flags(
    args: argparse.Namespace, source: str, default: Callable[[], Executor] | None = None
) -> Iterator[Executor]:
    """Where the runs go (:func:`add_executor_flags`): the flags' choice, a cluster started or
    joined for the block; without a flag, ``default()`` if given (``svcsim plan``'s), else
    :func:`auto_executor`."""
    if args.serial:
        yield serial
    elif args.scheduler is not None:
        with ExitStack() as stack:
            try:
                client = stack.enter_context(connect(args.scheduler))
            except (OSError, ValueError, TypeError) as err:  # unreachable, refused, or not an address
                detail = " ".join(str(err).split()) or type(err).__name__
                message = f"cannot reach a Dask scheduler at {args.scheduler}: {detail}"
                raise ScenarioError([Problem(source, "", "--scheduler", message)]) from None
            yield dask_executor(client)
    elif args.workers is not None:
        yield cluster_executor(args.workers)
    elif default is not None:
        yield default()
    else:

        def announce(workers: int) -> None:
            if not args.quiet:
                print(f"starting a local Dask cluster of {workers} workers for the other runs", file=sys.stderr)

        yield auto_executor(on_cluster=announce)


@contextmanager
def progress_lines(args: argparse.Namespace, n: int) -> Iterator[Callable[[str, int, dict[str, float]], None]]:
    """``done(what, seed, metrics)`` to call as each of ``n`` runs finishes: a bar over the
    runs on a terminal, a line per run off one (a log file: ``what`` names the run), nothing
    with ``--quiet``; it also stops on a signal between runs."""
    console = Console(stderr=True)
    started = time.perf_counter()
    if args.quiet or not console.is_terminal:

        def line(what: str, seed: int, metrics: dict[str, float]) -> None:
            if not args.quiet:
                mean, p99 = metrics["latency_mean_ms"], metrics["latency_p99_ms"]
                print(
                    f"{what} (seed {seed}): {metrics['requests']:.0f} requests, "
                    f"mean {number_text(mean)} ms, p99 {number_text(p99)} ms, "
                    f"{time.perf_counter() - started:.1f} s elapsed",
                    file=sys.stderr,
                    flush=True,
                )
            stop_if_signalled()  # between replications: a stop signal is not lost in a long loop

        yield line
        return
    columns = (TextColumn("runs"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("runs", total=n)

        def tick(what: str, seed: int, metrics: dict[str, float]) -> None:
            bar.advance(task)
            stop_if_signalled()

        yield tick


def replications_table(reps: Replications, out: Path) -> Table:
    """Per metric: mean, the confidence interval and the standard deviation across runs."""
    level = f"{reps.confidence * 100:g} % CI"
    title = f"{reps.scenario.simulation.name}: {reps.n} replications (seed {reps.seed}), results in {out}/"
    table = Table(title=title, title_justify="left")
    for name in ("metric", "mean", level, "sd", "n"):
        table.add_column(name, justify="left" if name == "metric" else "right")
    for row in reps.summary.itertuples():
        interval = "-" if math.isnan(row.ci_low) else f"{number_text(row.ci_low)} – {number_text(row.ci_high)}"
        table.add_row(row.metric, number_text(row.mean), interval, number_text(row.sd), str(row.n))
    return table


def number_text(value: float) -> str:
    """A metric for a table: 4 significant digits, thousands separated from 10 000, '-' for NaN."""
    if math.isnan(value):
        return "-"
    return f"{value:,.0f}" if abs(value) >= 1e4 else f"{value:.4g}"
