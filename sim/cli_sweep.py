"""``svcsim sweep S --set PATH=VALUES ... [--replications N]``: the scenario at every point of a
grid, each point replicated, the mean and confidence interval of every metric per point
(:mod:`sim.experiments.sweep`).

``VALUES`` is a comma-separated list (``4,6,8,12``; each item read as YAML, so ``2s`` and
``exponential`` are text and ``8`` a number), a range ``LOW:HIGH[:STEP]`` of numbers
(``1000:4000:500``, HIGH included when the steps land on it; STEP 1 by default) or one value
held at every point. A value that is itself a YAML list or mapping (starting ``[`` or ``{``)
is one value. Writes ``sweep.parquet``, ``sweep_summary.parquet``, ``sweep.json``,
``scenario.yaml`` and, unless ``--no-plots``, ``plots/sweep-<metric>.png`` into ``--out``.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from sim.cli_replications import (
    add_executor_flags,
    add_keep_tables_flag,
    duration_override,
    executor_from_flags,
    number_text,
    out_errors,
    progress_lines,
)
from sim.errors import Problem, ScenarioError
from sim.experiments.dask_executor import RunFailed
from sim.experiments.sweep import REPEATED, Sweep, SweepGrid, repeated, sweep
from sim.experiments.sweep_plots import path_labels, render_sweep_plots
from sim.interrupts import stop_if_signalled
from sim.kube.validation import one_line
from sim.results.run_folder import check_run_target
from sim.scenario.changes import parse_set
from sim.scenario.load import load_scenario

__all__ = ["add_sweep_parser", "parse_values"]

_NUMBER = r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
_RANGE = re.compile(rf"({_NUMBER}):({_NUMBER})(?::({_NUMBER}))?")
#: More values in a range, or points in the grid, than this is surely a typo (``1:100000``); a bigger
#: grid is an API call away.
MAX_POINTS = 100_000


def add_sweep_parser(sub: Any) -> None:
    sweep_cmd = sub.add_parser(
        "sweep", help="run a scenario at every point of a grid of changed fields, with confidence intervals"
    )
    sweep_cmd.add_argument("scenario", help="multi-document YAML: Services, Deployments and one Simulation")
    sweep_cmd.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=VALUES",
        help="a swept field and its values (repeatable; the grid is every combination): a list 4,6,8, a range "
        "LOW:HIGH[:STEP] such as 1000:4000:500, or one value",
    )
    sweep_cmd.add_argument(
        "--replications", type=int, default=1, metavar="N", help="runs per point (default 1; 2 or more for intervals)"
    )
    sweep_cmd.add_argument("--confidence", type=float, metavar="LEVEL", help="the intervals' level (default 0.95)")
    sweep_cmd.add_argument("--out", help="results folder (default: runs/<simulation name>-sweep)")
    sweep_cmd.add_argument("--seed", type=int, help="the root seed (default: spec.seed, else a fresh one)")
    sweep_cmd.add_argument("--duration", help="override spec.duration at every point (e.g. 60s, 5m)")
    sweep_cmd.add_argument("--quiet", action="store_true", help="no progress and no summary table")
    sweep_cmd.add_argument("--no-plots", action="store_true", help="skip the PNGs under DIR/plots/")
    add_keep_tables_flag(sweep_cmd)
    add_executor_flags(sweep_cmd)
    sweep_cmd.set_defaults(handler=_sweep)


def parse_values(text: str, source: str) -> tuple[str, list[Any]]:
    """``(path, values)`` from ``PATH=VALUES`` (module docstring).

    Raises
    ------
    ScenarioError
        As ``--set`` on ``run`` does, and for a range that is empty or has a step <= 0.
    """
    path, value = parse_set(text, source)  # checks PATH=, and that VALUES reads as YAML
    raw = text.partition("=")[2].strip()
    where = f"--set {one_line(path)}"
    ranged = _RANGE.fullmatch(raw)
    if ranged:
        low, high = float(ranged[1]), float(ranged[2])
        step = float(ranged[3]) if ranged[3] is not None else 1.0
        if not math.isfinite(low + high + step):
            message = f"Invalid value: {raw!r}: LOW, HIGH and STEP must be finite"
            raise ScenarioError([Problem(source, "", where, message)])
        if not step > 0:
            raise ScenarioError([Problem(source, "", where, f"Invalid value: {raw!r}: the step must be > 0")])
        if high < low:
            raise ScenarioError([Problem(source, "", where, f"Invalid value: {raw!r}: LOW:HIGH needs LOW <= HIGH")])
        count = math.floor((high - low) / step + 1e-9) + 1
        if count > MAX_POINTS:
            message = f"Invalid value: {raw!r}: {count} values, more than {MAX_POINTS}"
            raise ScenarioError([Problem(source, "", where, message)])
        whole = all(_is_int(g) for g in ranged.groups() if g is not None)
        values = [int(low + i * step) if whole else round(low + i * step, 12) for i in range(count)]
        return path, values
    if raw.startswith(("[", "{")) or "," not in raw:
        return path, [value]
    values = []
    for item in raw.split(","):
        if not item.strip():
            raise ScenarioError([Problem(source, "", where, f"Invalid value: {raw!r}: an empty item in the list")])
        values.append(parse_set(f"{path}={item.strip()}", source)[1])
    return path, values


def _is_int(text: str) -> bool:
    return re.fullmatch(r"[-+]?[0-9]+", text) is not None


def _flags(args: argparse.Namespace, source: str) -> dict[str, list[Any]]:
    """The grid from the ``--set`` flags, every flag checked (all problems at once)."""
    problems: list[Problem] = []
    if not args.set:
        problems.append(
            Problem(
                source, "", "--set", "name at least one field to sweep, e.g. --set deployment/myapp.spec.replicas=2,4,8"
            )
        )
    if args.replications < 1:
        problems.append(
            Problem(source, "", "--replications", f"Invalid value: {args.replications}: must be at least 1")
        )
    confidence = 0.95 if args.confidence is None else args.confidence
    if not 0 < confidence < 1:
        problems.append(Problem(source, "", "--confidence", f"Invalid value: {confidence:g}: must be > 0 and < 1"))
    if args.workers is not None and args.workers < 1:
        problems.append(Problem(source, "", "--workers", f"Invalid value: {args.workers}: must be at least 1"))
    if args.seed is not None and args.seed < 0:
        problems.append(Problem(source, "", "--seed", f"Invalid value: {args.seed}: must be >= 0"))
    grid: dict[str, list[Any]] = {}
    for text in args.set:
        try:
            path, values = parse_values(text, source)
        except ScenarioError as err:
            problems += err.problems
            continue
        if path in grid:
            problems.append(
                Problem(source, "", f"--set {one_line(path)}", "given twice; give every value in one --set")
            )
        again = repeated(values)  # with the other flags' problems; SweepGrid.build would stop at it alone
        if again is not None:
            problems.append(Problem(source, "", f"--set {one_line(path)}", f"{again[0]!r} {REPEATED}"))
        grid[path] = values
    n_points = math.prod(len(values) for values in grid.values())
    if n_points > MAX_POINTS:  # before the points are listed: 1:100000 twice would exhaust memory first
        sizes = " x ".join(str(len(values)) for values in grid.values())
        problems.append(Problem(source, "", "--set", f"{sizes} = {n_points} points, more than {MAX_POINTS}"))
    if problems:
        raise ScenarioError(problems)
    return grid


def _sweep(args: argparse.Namespace) -> int:
    source = args.scenario
    grid = _flags(args, source)
    confidence = 0.95 if args.confidence is None else args.confidence
    scenario = load_scenario(Path(source))
    for warning in scenario.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    scenario = scenario.with_overrides(seed=args.seed, duration_s=duration_override(args))  # the points keep it
    try:  # every point checked before a cluster starts or a run begins
        points = SweepGrid.build(scenario, grid)
    except ValueError as err:  # a value given twice
        raise ScenarioError([Problem(source, "", "--set", str(err))]) from None
    out = Path(args.out) if args.out else Path("runs") / f"{scenario.simulation.name}-sweep"
    check_run_target(out)
    args.writes = out
    n_runs = len(points.points) * args.replications
    try:
        with executor_from_flags(args, source) as executor, progress_lines(args, n_runs) as progress:

            def done(point: int, k: int, seed: int, metrics: dict[str, float]) -> None:
                progress(
                    f"point {point}, replication {k} (run {point * args.replications + k + 1}/{n_runs})",
                    seed,
                    metrics,
                )

            result = sweep(
                scenario,
                points,
                args.replications,
                confidence=confidence,
                executor=executor,
                on_done=done,
                keep_tables=args.keep_tables,
            )
    except RunFailed as err:  # one line, not a worker's traceback; exit 1 as a failed run
        print(f"error: {err}", file=sys.stderr)
        return 1
    stop_if_signalled()
    plots = {} if args.no_plots else render_sweep_plots(result)
    with out_errors(source, out):
        result.save(out, plots)
    args.written = True
    if not args.quiet:
        Console().print(console_table(result, out))
    return 0


_HEADERS = {
    "latency_p99_ms": "p99 ms",
    "latency_mean_ms": "mean ms",
    "error_rate": "error rate",
    "throughput_rps": "ok/s",
}


def console_table(result: Sweep, out: Path) -> Table:
    """Per point: the swept values, then mean [interval] of p99, mean latency, error rate and throughput."""
    title = (
        f"{result.scenario.simulation.name}: {len(result.points)} points x {result.replications} replications "
        f"(seed {result.seed}), results in {out}/"
    )
    if result.replications > 1:
        title += f"\nmean [{result.confidence * 100:g} % confidence interval] per point"
    table = Table(title=title, title_justify="left")
    names = path_labels(result.paths)
    for path in result.paths:
        table.add_column(names[path], justify="right")
    shown = [m for m in ("latency_p99_ms", "latency_mean_ms", "error_rate", "throughput_rps") if m in result.metrics]
    for metric in shown:
        table.add_column(_HEADERS[metric], justify="right")
    columns = {m: result.metric(m) for m in shown}
    for i, point in enumerate(result.points.itertuples(index=False)):
        cells = [str(v) for v in list(point)[1:]]
        for metric in shown:
            row = columns[metric].iloc[i]
            cell = number_text(row["mean"])
            if math.isfinite(row["ci_low"]):
                cell += f" [{number_text(row['ci_low'])}, {number_text(row['ci_high'])}]"
            cells.append(cell)
        table.add_row(*cells)
    return table
