"""``svcsim bench``: the engine against the hand-written SimPy model, the suite of scale and
limit cases (``--suite``, :mod:`sim.bench_suite`), kube-scheduler alone and Dask's speed-up
(:mod:`sim.bench`); what each prints."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from sim.bench import MAX_BENCH_REQUESTS, MIN_BENCH_REQUESTS, dask_bench, run_bench, scheduler_bench
from sim.bench_suite import CASES, RATIO_REPEAT, CaseResult, run_suite, suite_json
from sim.errors import Problem, ScenarioError

__all__ = ["add_bench_parser"]

ConsoleFactory = Callable[..., Console]


def add_bench_parser(sub: Any, make_console: ConsoleFactory) -> None:
    """``svcsim bench``'s flags; output through consoles ``make_console`` makes (the CLI's,
    which report a closed stdout)."""
    bench = sub.add_parser("bench", help="engine speed against an obvious SimPy model")
    bench.add_argument("--requests", type=int, default=200_000)
    bench.add_argument("--seed", type=int, default=1)
    bench.add_argument("--repeat", type=int, default=1, help="best of N runs of each model")
    bench.add_argument(
        "--suite",
        action="store_true",
        help="instead: the reference workload against the hand-written model, 10 000-pod clusters and the "
        "largest scenarios the limits allow, each in its own process, with wall time and peak memory; "
        "writes bench.json",
    )
    bench.add_argument("--scale", type=float, help="with --suite: shrink every case by this factor in (0, 1]")
    bench.add_argument("--json", help="with --suite: where to write the figures (default: bench.json here)")
    bench.add_argument(
        "--case", action="append", metavar="NAME", help="with --suite: only this case (repeatable; default: all)"
    )
    bench.add_argument(
        "--scheduler",
        action="store_true",
        help="instead: kube-scheduler alone, scheduling 10 000 pods on 100 nodes",
    )
    bench.add_argument(
        "--dask",
        action="store_true",
        help="instead: a 40-run sweep serially and on a 2-worker local Dask cluster, with the speed-up "
        "(--repeat K: K times)",
    )
    bench.set_defaults(handler=lambda args: _bench(args, make_console))


def _bench_dask(args: argparse.Namespace, make_console: ConsoleFactory) -> int:
    if args.repeat < 1:
        raise ScenarioError([Problem("", "", "--repeat", f"Invalid value: {args.repeat}: must be at least 1")])
    speedups = []
    for repeat in range(1, args.repeat + 1):
        d = dask_bench(seed=max(args.seed, 0))
        speedups.append(d.workers_flag_speedup)
        print(
            f"[{repeat}/{args.repeat}] a sweep of {d.runs} runs ({d.points} points, {d.requests / d.runs / 1e6:.2f}M "
            f"requests a run on average): serial {d.serial_s:.1f} s; {d.workers}-worker local Dask cluster "
            f"{d.dask_s:.1f} s (start {d.start_s:.1f} s, runs {d.runs_s:.1f} s, stop {d.stop_s:.1f} s): "
            f"speed-up {d.speedup:.2f}x with start and stop, {d.runs_speedup:.2f}x for the runs alone; "
            f"tables {'identical' if d.identical else 'DIFFER'}; peak RSS {d.peak_rss_bytes / 2**20:,.0f} MiB here, "
            f"{d.worker_peak_rss_bytes / 2**20:,.0f} MiB in a worker"
        )
        print(
            f"      CPU: serial {d.serial_cpu_s:.1f} s in {d.serial_s:.1f} s; workers {d.workers_cpu_s:.1f} s in "
            f"{d.runs_s:.1f} s ({d.workers_cpu_s / d.runs_s:.2f} of {d.workers} cores), this process "
            f"{d.main_cpu_s:.2f} s; load average before: {d.load_average:.2f} (others' work makes both times longer)"
        )
        print(
            f"      as `--workers {d.workers}` runs it (runs here while the cluster starts): {d.workers_flag_s:.1f} s, "
            f"speed-up {d.workers_flag_speedup:.2f}x; tables {'identical' if d.workers_flag_identical else 'DIFFER'}"
        )
    low, mid, high = min(speedups), statistics.median(speedups), max(speedups)
    verdict = "meets" if mid >= 1.7 else "MISSES"
    print(
        f"`--workers 2` speed-up over {len(speedups)} repeats: {low:.2f}-{high:.2f}x, median {mid:.2f}x "
        f"({verdict} the 1.7x bar)"
    )
    return 0


def _bench(args: argparse.Namespace, make_console: ConsoleFactory) -> int:
    if args.dask:
        return _bench_dask(args, make_console)
    if args.scheduler:
        b = scheduler_bench(seed=max(args.seed, 0))
        print(
            f"schedule {b.pods:,} pods on {b.nodes} nodes: {b.wall_s:.3f} s ({b.per_pod_us:.0f} µs per pod), "
            f"{b.placed:,} bound, pods per node differ by at most {b.max_skew}"
        )
        return 0
    if args.suite or args.scale is not None or args.json is not None or args.case is not None:
        return _bench_suite(args, make_console)
    problems = []
    if not MIN_BENCH_REQUESTS <= args.requests <= MAX_BENCH_REQUESTS:
        problems.append(
            Problem(
                "",
                "",
                "--requests",
                f"Invalid value: {args.requests}: must be between {MIN_BENCH_REQUESTS} and {MAX_BENCH_REQUESTS}",
            )
        )
    if args.repeat < 1:
        problems.append(Problem("", "", "--repeat", f"Invalid value: {args.repeat}: must be at least 1"))
    if args.seed < 0:
        problems.append(Problem("", "", "--seed", f"Invalid value: {args.seed}: must be >= 0"))
    if problems:
        raise ScenarioError(problems)
    r = run_bench(args.requests, args.seed, args.repeat)
    table = Table(title=f"reference workload: {args.requests} requests, 3 nodes, 6 pods, utilisation 0.7")
    for name in ("model", "requests", "wall s", "requests/s", "mean latency ms"):
        table.add_column(name, justify="right")
    table.add_row(
        "svcsim (public API)",
        str(r.engine_requests),
        f"{r.engine_s:.2f}",
        f"{r.engine_rate:,.0f}",
        f"{r.engine_mean_ms:.2f}",
    )
    table.add_row(
        "obvious SimPy model",
        str(r.obvious_requests),
        f"{r.obvious_s:.2f}",
        f"{r.obvious_rate:,.0f}",
        f"{r.obvious_mean_ms:.2f}",
    )
    console = make_console()
    console.print(table)
    verdict = "meets" if r.ratio >= 5 and r.latency_gap <= 0.05 else "MISSES"
    console.print(
        f"speed ratio {r.ratio:.1f}x (bar: >= 5x); mean latency differs by {r.latency_gap:.1%} "
        f"(bar: <= 5%): {verdict} the bar",
        highlight=False,
    )
    return 0


def _bench_suite(args: argparse.Namespace, make_console: ConsoleFactory) -> int:
    scale = 1.0 if args.scale is None else args.scale
    problems = []
    if not args.suite and args.scale is not None:
        problems.append(Problem("", "", "--scale", "only with --suite"))
    elif not 0 < scale <= 1:  # also refuses nan
        problems.append(Problem("", "", "--scale", f"Invalid value: {scale:g}: must be > 0 and at most 1"))
    for flag, given in (("--json", args.json), ("--case", args.case)):
        if given is not None and not args.suite:
            problems.append(Problem("", "", flag, "only with --suite"))
    unknown = [name for name in args.case or [] if name not in CASES]
    if unknown:
        problems.append(
            Problem("", "", "--case", f"Unsupported value: {unknown[0]!r}: supported values: {', '.join(CASES)}")
        )
    json_path = Path(args.json if args.json is not None else "bench.json")
    if args.suite and (json_path.is_dir() or not json_path.parent.is_dir()):
        problems.append(Problem("", "", "--json", f"cannot write {json_path}: not a file in an existing folder"))
    if problems:
        raise ScenarioError(problems)
    console = make_console(highlight=False, width=None if sys.stdout.isatty() else 160)
    title = "svcsim bench --suite, each case in its own process" + (f" (scale {scale:g})" if scale != 1 else "")
    table = Table(title=title)
    for name in ("case", "engine", "nodes", "pods", "requests", "wall s", "requests/s", "peak MiB", "B/request"):
        table.add_column(name, justify="left" if name in ("case", "engine") else "right")
    lines: list[str] = []

    def show(r: CaseResult) -> None:
        print(f"{r.name} ({r.what}): {r.wall_s:.1f} s, peak RSS {r.peak_rss_bytes / 2**20:,.0f} MiB", flush=True)
        per_request = f"{r.bytes_per_request:,.0f}" if r.requests >= 1_000_000 else "-"  # else imports dominate
        table.add_row(
            r.name,
            r.engine,
            f"{r.nodes:,}",
            f"{r.pods:,}",
            f"{r.requests:,}",
            f"{r.wall_s:.1f}",
            f"{r.requests_per_s:,.0f}",
            f"{r.peak_rss_bytes / 2**20:,.0f}",
            per_request,
        )
        f = r.figures
        if "ratio" in f:
            lines.append(
                f"{r.name}: svcsim {f['engine_per_s']:,.0f} requests/s, the hand-written SimPy model "
                f"{f['obvious_per_s']:,.0f}/s: {f['ratio']:.1f}x (best of {RATIO_REPEAT} each, same process)"
            )
        if "plots_s" in f:
            lines.append(f"{r.name}: all plots {f['plots_s']:.1f} s")
        if "event_s" in f:
            lines.append(
                f"{r.name}: {r.wall_s:.2f} s, {f['without_event_s']:.2f} s without the event: the event costs "
                f"{f['event_s']:.2f} s"
            )
        for figure, op, bar, value, met in r.bars(scale):
            lines.append(f"{r.name}: {figure} {value:.3g} (bar: {op} {bar:g}): {'meets' if met else 'MISSES'} the bar")

    results = run_suite(scale, list(dict.fromkeys(args.case)) if args.case else None, on_result=show)
    console.print(table)
    for line in lines:
        console.print(line)
    json_path.write_text(json.dumps(suite_json(results, scale), indent=2) + "\n")
    console.print(f"wrote {json_path}")
    return 0
