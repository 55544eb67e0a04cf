"""The ``svcsim`` command line: run, plot, report, compare, plan, validate, get, bench.

User mistakes (a bad scenario, a bad flag value, a damaged run folder) print one line per
problem on stderr and exit with code 2; nothing is written. Warnings (a valid scenario that
is probably not meant) print as ``warning: ...``, one unwrapped line each on stderr, so
``grep`` finds them. SIGINT (Ctrl-C) and SIGTERM stop a command with one line on stderr and
exit code 128 + the signal's number (130, 143); what it was writing is left as it was
(:mod:`sim.results.run_folder`). ``run --fail-on-slo`` exits with code 3 when the run, written
in full, misses a check of its ``spec.slo``. Tracebacks are for bugs only.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console as RichConsole
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sim.api import fewer_collections, simulate
from sim.cli_bench import add_bench_parser
from sim.cli_compare import add_compare_parser
from sim.cli_plan import add_plan_parser, range_value_with_dash, run_plan
from sim.cli_replications import (
    add_replication_flags,
    duration_arg,
    duration_override,
    out_errors,
    run_replications,
    wants_replications,
)
from sim.cli_sweep import add_sweep_parser
from sim.errors import Problem, ScenarioError
from sim.interrupts import SignalTrap, exit_code, interrupt_message, interrupt_signal, stop_if_signalled
from sim.results.kubectl import HPA_HEADER, event_rows, format_table, hpa_rows, node_rows, pod_rows, service_rows
from sim.results.plots import render_plots, save_plots
from sim.results.report import write_report
from sim.results.result import Result, load_result
from sim.results.run_folder import check_run_target, written_before
from sim.results.slo import slo_value
from sim.scenario.changes import load_changed, parse_set
from sim.scenario.load import file_documents, load_scenario
from sim.scenario.resolved import Scenario
from sim.units import format_duration

__all__ = ["main"]

EXIT_USAGE = 2
EXIT_SLO_MISSED = 3  # svcsim run --fail-on-slo: the run was written and missed a check of spec.slo
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a tool cut off by head
T = TypeVar("T")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(range_value_with_dash(sys.argv[1:] if argv is None else argv))
    args.writes, args.written = None, False  # the folder the command writes into, and whether it has
    with SignalTrap() as trap, fewer_collections():
        try:
            stop_if_signalled()  # one lost while the modules loaded: stop before any work
            code = int(args.handler(args))
            args.written = args.writes is not None
            stop_if_signalled()
        except ScenarioError as err:
            for problem in err.problems:
                print(f"error: {problem}", file=sys.stderr)
            code = EXIT_USAGE
        except BrokenPipeError:  # stdout closed early (``svcsim get pods ... | head``): not an error
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit flush is quiet
            code = EXIT_BROKEN_PIPE
        except BaseException as stop:  # re-raised below unless a stop signal explains it
            signum = interrupt_signal(stop)
            if signum is None:
                raise
            trap.armed = False  # a second signal is only counted: the one line below gets out
            print(interrupt_message(signum, _written_state(stop, args.writes, args.written)), file=sys.stderr)
            code = exit_code(signum)
    return code


def _written_state(stop: BaseException, folder: Path | None, written: bool) -> str:
    if folder is None:
        return "nothing written"
    if written or written_before(stop, folder):
        return f"{folder} was written in full first"
    return f"{folder} left as it was"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="svcsim", description="Simulate Kubernetes Service networking (NodePort → kube-proxy → pods)."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="simulate a scenario and write its results")
    run.add_argument("scenario", help="multi-document YAML: Services, Deployments and one Simulation")
    run.add_argument("--out", help="results folder (default: runs/<simulation name>)")
    run.add_argument("--seed", type=int, help="override spec.seed")
    run.add_argument("--duration", help="override spec.duration (e.g. 60s, 5m)")
    _set_argument(run)
    run.add_argument("--quiet", action="store_true", help="no progress bar and no summary table")
    run.add_argument("--no-plots", action="store_true", help="skip the PNGs under DIR/plots/")
    run.add_argument(
        "--sample",
        type=int,
        metavar="K",
        help="keep 1 in K requests' rows in requests.parquet (the summary, SLO and pods table still count "
        "every request, exactly)",
    )
    run.add_argument(
        "--fail-on-slo",
        action="store_true",
        help=f"exit {EXIT_SLO_MISSED} (after writing DIR) when the run misses any check of spec.slo",
    )
    add_replication_flags(run)
    run.set_defaults(handler=_run)

    plot = sub.add_parser("plot", help="(re)draw a run's plots into RUN_DIR/plots/ from its saved tables")
    plot.add_argument("run_dir")
    plot.set_defaults(handler=_plot)

    report = sub.add_parser("report", help="write RUN_DIR/report.html: one self-contained page")
    report.add_argument("run_dir")
    report.set_defaults(handler=_report)

    add_compare_parser(sub)
    add_sweep_parser(sub)

    plan = add_plan_parser(sub)
    _set_argument(plan)
    plan.set_defaults(handler=_plan)

    validate = sub.add_parser("validate", help="check a scenario and report every problem")
    validate.add_argument("scenario")
    _set_argument(validate)
    validate.set_defaults(handler=_validate)

    get = sub.add_parser(
        "get", help="kubectl-style listing of a scenario's or a run's Services, pods, nodes, events or autoscalers"
    )
    get.add_argument("resource", choices=[*_SERVICES, *_PODS, *_NODES, *_EVENTS, *_HPAS])
    get.add_argument("scenario", metavar="SCENARIO_OR_RUN", help="a scenario file, or a run folder to read back")
    get.add_argument(
        "--at", help="simulated time to show (default: 0s, the start; for events and hpa the end of the run)"
    )
    get.add_argument("-o", "--output", choices=["wide"], help="more columns, as kubectl -o wide")
    _set_argument(get)
    get.set_defaults(handler=_get)

    add_bench_parser(sub, Console)
    return parser


def _set_argument(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="change a field of the scenario before it is checked (repeatable), e.g. "
        "deployment/myapp.spec.replicas=8 or simulation.spec.clients[laptop].rate=3000",
    )


_SERVICES = ("svc", "services", "service")
_PODS = ("pods", "pod", "po")
_EVENTS = ("events", "event", "ev")
_HPAS = ("hpa", "horizontalpodautoscalers", "horizontalpodautoscaler")
_NODES = ("nodes", "node", "no")


class Console(RichConsole):
    """rich's console, except that a closed stdout is ours to handle: rich would exit 1 (the
    code the README keeps for bugs); main() turns BrokenPipeError into a quiet 141."""

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError


def _load(path: str, sets: Sequence[str] = ()) -> Scenario:
    """The scenario file at ``path`` with the ``--set`` changes made, then checked (so a change
    can put right what the file gets wrong); its warnings printed."""
    if not sets:
        scenario = load_scenario(Path(path))
    else:
        changes, problems = [], []
        for text in sets:
            try:
                changes.append(parse_set(text, path))
            except ScenarioError as err:
                problems += err.problems
        if problems:
            raise ScenarioError(problems)
        scenario = load_changed(*file_documents(Path(path)), changes)
    for warning in scenario.warnings:
        # One plain line per warning, as for errors: rich would wrap it at the terminal's width
        # (80 columns off a terminal) and read brackets in it (``map[string]string``) as markup.
        print(f"warning: {warning}", file=sys.stderr)
    return scenario


def _run(args: argparse.Namespace) -> int:
    scenario = _load(args.scenario, args.set).with_overrides(seed=args.seed, duration_s=duration_override(args))
    if args.sample is not None and args.sample < 1:
        message = f"Invalid value: {args.sample}: must be at least 1"
        raise ScenarioError([Problem(args.scenario, "", "--sample", message)])
    if args.sample is not None and wants_replications(args):
        message = "not with --replications: replications keep each run's summary only (--keep-tables: every row)"
        raise ScenarioError([Problem(args.scenario, "", "--sample", message)])
    sample = args.sample or 1
    if wants_replications(args):
        out = Path(args.out) if args.out else Path("runs") / scenario.simulation.name
        return run_replications(args, scenario, out, Console())
    if args.fail_on_slo and scenario.simulation.slo is None:
        raise ScenarioError([Problem(args.scenario, "", "--fail-on-slo", "the Simulation has no spec.slo to check")])
    out = Path(args.out) if args.out else Path("runs") / scenario.simulation.name
    check_run_target(out)  # before the simulation: refused after an hour's run is an hour lost
    args.writes = out
    result = simulate(scenario, sample=sample) if args.quiet else _with_progress(scenario, sample)
    stop_if_signalled()  # a run cut short and swallowed somewhere is not saved as if complete
    plots = {} if args.no_plots else {f"plots/{name}": data for name, data in render_plots(result).items()}
    stop_if_signalled()
    _save(result, out, args.scenario, plots)  # tables and plots land together, or not at all
    args.written = True
    for warning in result.summary["warnings"]:
        if warning not in scenario.warnings:  # those were printed as the scenario loaded
            print(f"warning: {warning}", file=sys.stderr)
    if not args.quiet:
        _print_summary(result, out)
    slo = result.summary["slo"]
    return EXIT_SLO_MISSED if args.fail_on_slo and not slo["met"] else 0


def _plan(args: argparse.Namespace) -> int:
    """``svcsim plan``: the scenario loaded with ``--set`` and ``--duration`` as for ``run``, then :func:`run_plan`."""
    return run_plan(args, _load(args.scenario, args.set).with_overrides(duration_s=duration_override(args)), Console())


def _save(result: Result, out: Path, source: str, extra: dict[str, bytes]) -> None:
    with out_errors(source, out):
        result.save(out, extra)


def _plot(args: argparse.Namespace) -> int:
    args.writes = Path(args.run_dir)
    for path in _writing(args.run_dir, lambda: save_plots(args.run_dir)):
        print(path)
    return 0


def _report(args: argparse.Namespace) -> int:
    args.writes = Path(args.run_dir)
    print(_writing(args.run_dir, lambda: write_report(args.run_dir)))
    return 0


def _writing(where: str | Path, write: Callable[[], T]) -> T:
    """Run ``write``; a file that cannot be written (a directory in the way, a full disk) is one error line."""
    with out_errors(str(where), where, flag=""):
        return write()


def _with_progress(scenario: Scenario, sample: int = 1) -> Result:
    total = scenario.simulation.duration_s
    console = Console(stderr=True)
    if not console.is_terminal:  # a progress bar in a log file is only noise (and a stray newline)
        return simulate(scenario, sample=sample)
    columns = (
        TextColumn("simulating"),
        BarColumn(),
        TextColumn("{task.fields[now]} / " + format_duration(total)),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("run", total=total, now="0s")

        def tick(now: float) -> None:
            bar.update(task, completed=now, now=f"{now:.0f}s")

        return simulate(scenario, progress=tick, sample=sample)


#: Pods listed after a run: 10 000 lines took 5 s to print and buried the summary.
_PODS_PRINTED = 50


def _print_summary(result: Result, out: Path) -> None:
    s = result.summary
    console = Console()
    console.print(
        f"[bold]{s['scenario']}[/]: {s['requests']} requests over "
        f"{format_duration(s['duration_s'])} (seed {s['seed']}), results in {out}/",
        highlight=False,
    )
    table = Table(title="summary (latency over ok requests after warmup)", title_justify="left")
    table.add_column("outcome")
    table.add_column("requests", justify="right")
    table.add_column("latency")
    table.add_column("ms", justify="right")
    latency = [(k, f"{v:.2f}" if v is not None else "-") for k, v in s["latency_ms"].items()]
    outcomes = [(k, str(v)) for k, v in s["outcomes"].items()]
    tput = f"{s['throughput_rps']:.1f}" if s["throughput_rps"] is not None else "-"
    outcomes.append(("throughput rps", tput))
    if "retries" in s:  # tries beyond the first, when a client retries
        outcomes.append(("retries", str(s["retries"])))
    latency += [("", "")] * (len(outcomes) - len(latency))  # the left column is the longer one
    for (name, count), (stat, value) in zip(outcomes, latency, strict=True):
        table.add_row(name, count, stat, value)
    console.print(table)
    everyone = list(s["pods"].items())
    shown = everyone if len(everyone) <= _PODS_PRINTED else everyone[:_PODS_PRINTED]
    title = "pods" if shown is everyone else f"pods (the first {len(shown)} of {len(everyone):,}: pods.parquet has all)"
    pods = Table(title=title, title_justify="left")
    for name in ("pod", "node", "ip", "requests", "utilisation"):
        pods.add_column(name, justify="right" if name in ("requests", "utilisation") else "left")
    for name, p in shown:
        util = f"{p['utilisation']:.3f}" if p["utilisation"] is not None else "-"
        pods.add_row(name, p["node"] or "<none>", p["ip"] or "<none>", str(p["requests"]), util)
    console.print(pods)
    if s["slo"] is not None:
        console.print(_slo_table(s["slo"]))


def _slo_table(slo: dict[str, Any]) -> Table:
    """The SLO's checks with a pass/fail column (clients' requests sent after warm-up)."""
    verdict = "met" if slo["met"] else "MISSED"
    table = Table(title=f"SLO {verdict} (clients' requests sent after warmup)", title_justify="left")
    for name in ("check", "target", "measured", "result"):
        table.add_column(name, justify="left" if name in ("check", "result") else "right")
    for check in slo["checks"]:
        result = "[green]pass[/]" if check["met"] else "[bold red]FAIL[/]"
        table.add_row(
            check["name"],
            slo_value(check["target"], check["unit"], bound=True),
            slo_value(check["measured"], check["unit"]),
            result,
        )
    return table


def _validate(args: argparse.Namespace) -> int:
    scenario = _load(args.scenario, args.set)
    sim = scenario.simulation
    print(
        f"{args.scenario}: valid: {len(scenario.services)} Service(s), {len(scenario.deployments)} "
        f"Deployment(s), {len(sim.cluster.nodes)} node(s), {len(sim.clients)} client(s), "
        f"{len(sim.events)} event(s), {format_duration(sim.duration_s)} simulated"
    )
    return 0


def _get(args: argparse.Namespace) -> int:
    """kubectl's view of a scenario (simulated up to ``--at``) or of a run folder (read back)."""
    events = args.resource in _EVENTS
    if events and args.output == "wide":
        raise ScenarioError([Problem(args.scenario, "", "-o", "wide is not supported for events")])
    saved = load_result(args.scenario, requests=False) if Path(args.scenario).is_dir() else None
    if saved is not None and args.set:
        raise ScenarioError([Problem(args.scenario, "", "--set", "changes a scenario file, not a run folder")])
    scenario = saved.scenario if saved is not None else _load(args.scenario, args.set)
    end = scenario.simulation.duration_s
    # events and HPAs say nothing at t = 0 (an HPA first syncs one period later): show the end
    latest = events or args.resource in _HPAS
    at = duration_arg(args.scenario, "--at", args.at) if args.at is not None else (end if latest else 0.0)
    if at > end:
        note = f"note: --at {format_duration(at)} is after the run's end ({format_duration(end)})"
        print(f"{note}: showing the cluster as the run left it", file=sys.stderr)
    wide = args.output == "wide"
    if args.resource in _SERVICES:
        rows = service_rows(scenario, at, wide)
    elif args.resource in _HPAS and not scenario.hpas:
        rows = [list(HPA_HEADER)]  # nothing to list: no need to simulate
    else:
        result = saved if saved is not None else _simulate_until(scenario, at)
        if args.resource in _HPAS:  # -o wide adds no column for HPAs (printers.go)
            rows = hpa_rows(scenario.hpas, result.hpa, result.hpa_metrics, at)
        elif events:
            rows = event_rows(result.events, at)
        elif args.resource in _NODES:
            rows = node_rows(result.scenario, result.nodes, result.pods, result.events, at, wide)
        else:
            rows = pod_rows(result.pods, at, wide, result.pod_status)
    if len(rows) == 1 and args.resource not in (*_SERVICES, *_PODS, *_NODES):
        print("No resources found in default namespace.", file=sys.stderr)  # kubectl's words, on stderr
        return 0
    print(format_table(rows))
    return 0


def _simulate_until(scenario: Scenario, at_s: float) -> Result:
    """The scenario run up to ``at_s`` with its seed (0 without one)."""
    seed = scenario.simulation.seed if scenario.simulation.seed is not None else 0
    return simulate(_until(scenario, at_s), seed=seed)


def _until(scenario: Scenario, at_s: float) -> Scenario:
    """The scenario cut at ``at_s``, its clients silenced unless load shapes the pods' lives
    (a ``probeFailure`` makes probes fail under load): otherwise only the cluster's state matters."""
    sim = scenario.simulation
    clients = sim.clients if _load_shapes_pods(scenario) else ()
    cut = dataclasses.replace(sim, duration_s=max(at_s, 1e-9) + 1e-9, warmup_s=0.0, clients=clients)
    return dataclasses.replace(scenario, simulation=cut)


def _load_shapes_pods(scenario: Scenario) -> bool:
    """Whether requests can change a pod's status or count: some workload (or a rollout's new
    one) has a ``probeFailure``, or an HPA scales on what the requests cost."""
    if scenario.hpas:
        return True
    sim = scenario.simulation
    workloads = [*sim.workloads.values(), *(getattr(e, "workload", None) for e in sim.events)]
    return any(w is not None and w.probe_failure is not None for w in workloads)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
