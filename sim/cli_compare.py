"""``svcsim compare RUN_A RUN_B [...] [--out DIR] [--labels a,b]``: runs side by side.

Prints the comparison table (:class:`sim.results.comparison.Comparison`) on stdout; with
``--out`` also writes ``comparison.html`` and the overlaid PNGs there
(:mod:`sim.results.compare_report`). A missing folder, a folder svcsim did not write, fewer
than two runs or labels that do not fit are one error line each, exit code 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sim.errors import Problem, ScenarioError
from sim.results.compare_report import write_comparison
from sim.results.comparison import compare

__all__ = ["add_compare_parser"]


def add_compare_parser(sub: Any) -> None:
    """The ``compare`` subcommand on ``svcsim``'s subparsers."""
    parser = sub.add_parser(
        "compare", help="compare run folders side by side: their summaries, differences and overlaid plots"
    )
    parser.add_argument(
        "runs", nargs="*", metavar="RUN", help="run folders (svcsim run --out); the first is the baseline"
    )
    parser.add_argument("--out", help="write comparison.html and the overlaid PNGs into this folder")
    parser.add_argument("--labels", help="comma-separated names for the runs, one per run (default: folder names)")
    parser.set_defaults(handler=_compare)


def _compare(args: argparse.Namespace) -> int:
    if len(args.runs) < 2:
        raise ScenarioError([Problem("", "", "RUN", f"compare needs at least 2 run folders, got {len(args.runs)}")])
    labels = None if args.labels is None else [label.strip() for label in args.labels.split(",")]
    try:
        comparison = compare(args.runs, labels)
    except ValueError as err:  # the labels do not fit the runs
        raise ScenarioError([Problem("", "", "--labels", str(err))]) from None
    print(comparison)
    if args.out:
        args.writes = Path(args.out)
        try:
            written = write_comparison(comparison, args.out)
        except OSError as err:
            target = err.filename or args.out
            message = f"cannot write {target}: {err.strerror or err}"
            raise ScenarioError([Problem(args.out, "", "--out", message)]) from None
        for path in written:
            print(path)
    return 0
