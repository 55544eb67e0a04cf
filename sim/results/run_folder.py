"""A run folder on disk: which files in it svcsim wrote, and replacing them all or none.

Every save writes a marker, ``.svcsim-run``: a JSON object with the ``files`` svcsim wrote
into the folder (paths relative to it), ``complete`` and the ``svcsim_version``. The marker
is how a folder is recognised as a run folder, and it bounds what svcsim may replace there:
a rerun into the folder replaces and removes only files the marker lists (tables, summary,
resolved scenario, plots, report), never a file the user put next to them. A folder that is
not empty and has no marker is refused.

New files are written into a hidden staging folder next to the target and moved in only
when all are written, with SIGINT and SIGTERM held back while they move (and while the
staging folder is removed), so an interrupt leaves either the previous files or the new
ones, and no staging folder. ``complete`` is false only while files move: a folder whose
marker says otherwise was cut off by something no handler sees (SIGKILL, a power cut).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from sim.errors import Problem, ScenarioError
from sim.version import VERSION

__all__ = ["MARKER", "check_run_target", "read_marker", "replacing", "write_files", "written_before"]

MARKER = ".svcsim-run"
# What svcsim may ever write into a run folder; a marker's other entries are never touched.
_RUN_FILES = (
    r"(?:requests\.parquet|tries\.parquet|timeline\.parquet|pods\.parquet|events\.parquet|pod_status\.parquet"
    r"|hpa\.parquet|hpa_metrics\.parquet"
    r"|nodes\.parquet"
    r"|summary\.json|scenario\.yaml"
    r"|report\.html|plots/[A-Za-z0-9_.-]+\.png)"
)
_OWNED = re.compile(
    rf"(?:{_RUN_FILES}"
    r"|replications\.parquet|replications\.json"
    r"|sweep\.parquet|sweep_summary\.parquet|sweep\.json"
    r"|plan\.json|plan\.parquet|capacity\.html"
    # an experiment's runs kept whole (--keep-tables): each a run folder of its own, marker included
    rf"|runs/[A-Za-z0-9_.-]+/(?:{_RUN_FILES}|\.svcsim-run))"
)
_HELD_BACK = (signal.SIGINT, signal.SIGTERM)


def read_marker(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The folder's marker (``files`` limited to what svcsim may write), or None without one.

    A marker that cannot be read is a :class:`ScenarioError` naming it: svcsim will not
    guess which files in the folder are its own.
    """
    path = Path(folder) / MARKER
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("files"), list):
            raise ValueError("expected a JSON object with a list of files")
    except (OSError, ValueError) as err:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        detail = " ".join(str(err).split()) or type(err).__name__
        raise ScenarioError([Problem(str(path), "", "", f"cannot read the run marker: {detail}")]) from None
    files = sorted({f for f in data["files"] if isinstance(f, str) and _OWNED.fullmatch(f)})
    return {**data, "files": files, "complete": data.get("complete") is True}


def check_run_target(folder: str | os.PathLike[str]) -> None:
    """Refuse a folder svcsim may not write a run into: one that is not a folder, or that
    holds files and no marker (someone else's)."""
    path = Path(folder)
    if not path.exists():
        return
    if not path.is_dir():
        raise ScenarioError([Problem(str(path), "", "", "exists and is not a folder")])
    if read_marker(path) is None and any(path.iterdir()):
        raise ScenarioError(
            [
                Problem(
                    str(path),
                    "",
                    "",
                    f"not empty and not a svcsim run folder (no {MARKER}): a run is written only into a new "
                    "or empty folder or over an earlier run, so nothing of yours is replaced",
                )
            ]
        )


@contextlib.contextmanager
def replacing(folder: str | os.PathLike[str], *, whole_run: bool) -> Iterator[Path]:
    """Yield a staging folder; files written there replace their namesakes in ``folder``
    when the block ends without error, and nothing changes in ``folder`` otherwise.

    ``whole_run``: the staged files are a new run, so files of the previous one that are
    not written again (a plot or report drawn from the old tables) are removed; ``folder``
    must be new, empty or a run folder. Otherwise (a plot or report added to a run) the
    marker keeps what it listed and gains the new files.
    """
    target = Path(folder)
    if whole_run:
        check_run_target(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    note = _written_note(target)
    committed = False
    try:
        yield staging
        with _signals_held_back(note):
            _commit(staging, target, whole_run)
            committed = True
    finally:
        with _signals_held_back(note if committed else ""):  # a signal while cleaning up: after the move
            shutil.rmtree(staging, ignore_errors=True)


def write_files(folder: Path, files: Mapping[str, bytes]) -> list[Path]:
    """Each of ``files`` (relative path -> bytes: rendered plots, a kept run's folder) into
    ``folder`` (a staging folder of :func:`replacing`, or a plain one), subfolders made as
    needed; the paths written."""
    written = []
    for relative, data in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
    return written


def written_before(interrupt: BaseException, folder: str | os.PathLike[str]) -> bool:
    """Whether ``interrupt`` was held back until the files staged for ``folder`` were in place."""
    return _written_note(Path(folder)) in getattr(interrupt, "__notes__", ())


def _written_note(target: Path) -> str:
    return f"svcsim: {target} was written in full before the signal was handled"


def _commit(staging: Path, target: Path, whole_run: bool) -> None:
    new = sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file())
    assert all(_OWNED.fullmatch(f) for f in new), f"svcsim writes only its own files: {new}"
    if whole_run:
        check_run_target(target)  # again: the folder may have changed while the run was staged
    previous = read_marker(target) if target.is_dir() else None
    old = previous["files"] if previous else []
    marked = whole_run or previous is not None  # a plot or report in an unmarked folder does not mark it
    _check_nothing_in_the_way(target, new)
    target.mkdir(exist_ok=True)
    if marked:
        _write_marker(staging, target, sorted({*old, *new}), complete=False)
    for stale in sorted(set(old) - set(new)) if whole_run else ():
        path = target / stale
        path.unlink(missing_ok=True)
        for parent in path.relative_to(target).parents[:-1]:  # plots/, runs/NAME/plots/, runs/NAME/, runs/
            with contextlib.suppress(OSError):  # goes once empty; with the user's files in it, it stays
                (target / parent).rmdir()
    for name in new:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / name, target / name)
    if marked:
        _write_marker(staging, target, new if whole_run else sorted({*old, *new}), complete=True)


def _check_nothing_in_the_way(target: Path, names: list[str]) -> None:
    """Fail before anything moves if a staged file could not take its place (a folder
    where a file goes, a file where a folder goes), so no commit stops half-way."""
    for name in names:
        path = target / name
        for parent in reversed(path.relative_to(target).parents[:-1]):
            if (target / parent).exists() and not (target / parent).is_dir():
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(target / parent))
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))


def _write_marker(staging: Path, target: Path, files: list[str], *, complete: bool) -> None:
    body = {"written_by": "svcsim", "svcsim_version": VERSION, "complete": complete, "files": files}
    scratch = staging / MARKER
    scratch.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    os.replace(scratch, target / MARKER)


@contextlib.contextmanager
def _signals_held_back(note: str = "") -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block ends, then deliver the first one that came
    to the handler that was in place (``note`` added to the exception it raises).

    Python runs signal handlers in the main thread only; elsewhere nothing is held back.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {}
    for signum in _HELD_BACK:
        handler = signal.getsignal(signum)
        if handler is not None:  # None: installed outside Python, cannot be put back
            previous[signum] = signal.signal(signum, lambda s, _frame: caught.append(s))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if caught:
            try:
                signal.raise_signal(caught[0])
            except BaseException as err:
                if note:
                    err.add_note(note)
                raise
