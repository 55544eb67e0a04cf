"""Ctrl-C and SIGTERM during ``svcsim run``: exit 130 or 143, one line, nothing half-written.

Real processes get real signals at five moments: while the modules load, while simulating,
while the tables are written to the staging folder, while the staged files move into place
(held back until they all have) and while the staging folder is removed. A test driver
(below) marks each moment in a file and slows it down, so the signal lands where the test
says. Each time the folder must hold the previous complete run, byte for byte, or (signal
during the move or the clean-up) the new one, and no staging folder may be left next to it.
An interrupt lost on the way (in a ``__del__``, or swallowed) must still stop the run.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from sim import cli
from sim.cli import main

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "scenarios" / "nodeport-basic.yaml"

# Runs ``svcsim`` with one moment slowed down and marked: argv is MOMENT MARK_FILE ARGS...
DRIVER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path

    moment, mark, argv = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]

    def arrived():
        mark.write_text(str(os.getpid()))

    if moment == "simulating":
        import sim.cli

        real = sim.cli.simulate

        def simulate(scenario, **kwargs):
            def tick(now):
                arrived()
                time.sleep(0.2)  # 100 ticks: 20 s inside the simulation, more than the test waits

            result = real(scenario, progress=tick)
            (mark.parent / "simulated").touch()
            return result

        sim.cli.simulate = simulate
    elif moment == "destructor":  # Ctrl-C lands in a __del__: Python can only print it and go on
        import signal
        import sim.cli

        real = sim.cli.simulate

        class Finalised:
            def __del__(self):
                signal.raise_signal(signal.SIGINT)

        def simulate(scenario, **kwargs):
            Finalised()
            (mark.parent / "went-on").touch()
            return real(scenario, **kwargs)

        sim.cli.simulate = simulate
    elif moment == "staging":
        import pandas as pd

        real = pd.DataFrame.to_parquet

        def to_parquet(self, path, *args, **kwargs):
            real(self, path, *args, **kwargs)
            arrived()
            time.sleep(30)

        pd.DataFrame.to_parquet = to_parquet
    elif moment == "moving":
        real = os.replace

        def replace(src, dst, *args, **kwargs):
            real(src, dst, *args, **kwargs)
            if Path(dst).name == "requests.parquet":
                arrived()
                time.sleep(3)  # the signal comes now; the other files must still move in

        os.replace = replace
    elif moment == "cleaning":  # the files are in place; the staging folder is being removed
        import shutil

        real = shutil.rmtree

        def rmtree(path, *args, **kwargs):
            real(path, *args, **kwargs)
            if Path(path).name.startswith(".out-"):
                arrived()
                time.sleep(3)

        shutil.rmtree = rmtree

    sys.argv = ["svcsim", *argv]
    from sim.__main__ import main

    sys.exit(main())
    """
)


def caught_signals(pid: int) -> int:
    """The mask of signals the process has handlers for (Linux: /proc/PID/status SigCgt)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return int(line.split()[1], 16)
    return 0


def wait_for(condition, what: str, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def files_in(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def previous_run(tmp_path: Path) -> Path:
    """A complete run of 3 s (plots included) in ``tmp_path/out``, to be left intact."""
    scenario = tmp_path / "quick.yaml"
    scenario.write_text(GUIDE.read_text().replace("warmup: 10s", "warmup: 1s"))
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(out), "--duration", "3s", "--quiet"]) == 0
    return out


def interrupted_run(tmp_path: Path, moment: str, signum: int) -> tuple[subprocess.Popen[str], str]:
    """Start a 60 s run into ``tmp_path/out``, send ``signum`` at ``moment``; its exit and stderr."""
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    mark = tmp_path / "mark"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = ["run", str(tmp_path / "quick.yaml"), "--out", str(tmp_path / "out"), "--duration", "60s", "--quiet"]
    if moment == "loading":  # the real entry point, nothing patched
        command = [sys.executable, "-m", "sim", *argv]
    else:
        command = [sys.executable, str(driver), moment, str(mark), *argv]
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        if moment == "loading":
            # svcsim handles SIGTERM once its trap is set, before it loads pandas & co (seconds)
            wait_for(lambda: caught_signals(process.pid) & (1 << (signal.SIGTERM - 1)), "the signal trap")
        else:
            wait_for(mark.exists, f"the moment {moment!r}")
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    return process, stderr


needs_proc = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc/PID/status (Linux)")


@needs_proc
@pytest.mark.parametrize(
    ("moment", "signum"),
    [
        pytest.param("loading", signal.SIGINT, id="sigint-loading"),
        pytest.param("loading", signal.SIGTERM, id="sigterm-loading"),
        pytest.param("simulating", signal.SIGINT, id="sigint-simulating"),
        pytest.param("simulating", signal.SIGTERM, id="sigterm-simulating"),
        pytest.param("staging", signal.SIGINT, id="sigint-staging"),
        pytest.param("staging", signal.SIGTERM, id="sigterm-staging"),
    ],
)
def test_a_signal_before_the_files_move_exits_128_plus_it_and_leaves_the_previous_run(
    tmp_path, previous_run, moment, signum
):
    before = files_in(previous_run)
    process, stderr = interrupted_run(tmp_path, moment, signum)
    name = signal.Signals(signum).name
    expected = "nothing written" if moment == "loading" else f"{previous_run} left as it was"
    assert (process.returncode, stderr) == (128 + signum, f"error: interrupted by {name}; {expected}\n")
    assert files_in(previous_run) == before
    assert not (tmp_path / "simulated").exists()  # the signal came during the simulation, not after
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no staging folder


@needs_proc
@pytest.mark.parametrize(
    ("moment", "signum"),
    [
        pytest.param("moving", signal.SIGINT, id="sigint-moving"),
        pytest.param("moving", signal.SIGTERM, id="sigterm-moving"),
        pytest.param("cleaning", signal.SIGINT, id="sigint-cleaning-up"),
    ],
)
def test_a_signal_while_the_files_move_waits_for_the_new_run_to_be_complete(tmp_path, previous_run, moment, signum):
    process, stderr = interrupted_run(tmp_path, moment, signum)
    name = signal.Signals(signum).name
    assert (process.returncode, stderr) == (
        128 + signum,
        f"error: interrupted by {name}; {previous_run} was written in full first\n",
    )
    summary = json.loads((previous_run / "summary.json").read_text())
    assert summary["duration_s"] == 60.0  # the new run, every file of it
    marker = json.loads((previous_run / ".svcsim-run").read_text())
    assert marker["complete"] is True
    assert sorted(files_in(previous_run)) == sorted([".svcsim-run", *marker["files"]])
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_an_interrupt_a_library_swallows_still_stops_the_run_before_it_saves(
    tmp_path, previous_run, capsys, monkeypatch
):
    """C code that looks up an attribute, or a SimPy process, can lose a KeyboardInterrupt;
    the run must not then finish and exit 0 (as it once did)."""
    real = cli.simulate

    def swallowing(scenario, **kwargs):
        with contextlib.suppress(BaseException):  # the point: something on the way eats it
            signal.raise_signal(signal.SIGINT)
        return real(scenario, **kwargs)

    monkeypatch.setattr(cli, "simulate", swallowing)
    before = files_in(previous_run)
    code = main(["run", str(tmp_path / "quick.yaml"), "--out", str(previous_run), "--duration", "5s", "--quiet"])
    assert (code, capsys.readouterr().err) == (130, f"error: interrupted by SIGINT; {previous_run} left as it was\n")
    assert files_in(previous_run) == before


def test_the_command_puts_the_signal_handlers_back(tmp_path, previous_run):
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    assert main(["validate", str(tmp_path / "quick.yaml")]) == 0
    assert {s: signal.getsignal(s) for s in before} == before


def test_an_interrupt_lost_in_a_destructor_still_stops_the_run_and_prints_only_one_line(tmp_path, previous_run):
    """Python prints an exception raised in ``__del__`` as "Exception ignored in ..." and carries on."""
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    argv = ["run", str(tmp_path / "quick.yaml"), "--out", str(previous_run), "--duration", "5s", "--quiet"]
    before = files_in(previous_run)
    done = subprocess.run(
        [sys.executable, str(driver), "destructor", str(tmp_path / "mark"), *argv],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert (tmp_path / "went-on").exists()  # the interrupt was lost indeed
    expected = f"error: interrupted by SIGINT; {previous_run} left as it was\n"
    assert (done.returncode, done.stderr) == (130, expected)
    assert files_in(previous_run) == before
