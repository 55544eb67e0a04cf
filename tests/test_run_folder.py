"""The run folder: svcsim writes a run only where it cannot destroy someone else's files.

A run folder carries the marker ``.svcsim-run`` listing the files svcsim wrote; a rerun
replaces and removes only those. A non-empty folder without the marker is refused with one
line and exit code 2, before anything is simulated or written.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import sim
from sim import plots
from sim.cli import main
from sim.results.run_folder import MARKER

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "scenarios" / "nodeport-basic.yaml"
TABLES = [
    "events.parquet",
    "hpa.parquet",
    "hpa_metrics.parquet",
    "nodes.parquet",
    "pod_status.parquet",
    "pods.parquet",
    "requests.parquet",
    "scenario.yaml",
    "summary.json",
    "timeline.parquet",
]


@pytest.fixture
def quick(tmp_path: Path) -> Path:
    path = tmp_path / "quick.yaml"
    path.write_text(GUIDE.read_text().replace("warmup: 10s", "warmup: 1s"))
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


def files_in(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too) by relative path, with its bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def marker(folder: Path) -> dict[str, object]:
    return json.loads((folder / MARKER).read_text())


def plot_files() -> list[str]:
    return [f"plots/{name}" for name in sorted(plots.PLOTS)]


def test_a_run_into_a_folder_of_the_users_refuses_and_deletes_nothing(tmp_path, quick, capsys):
    """The reported bug: --out at a folder holding the user's plots/figure1.svg and report.html."""
    out = tmp_path / "mine"
    (out / "plots").mkdir(parents=True)
    (out / "plots" / "figure1.svg").write_text("<svg/>")
    (out / "report.html").write_text("<p>my report</p>")
    before = files_in(out)
    code, err = run(capsys, "run", quick, "--out", out, "--duration", "3s", "--quiet")
    assert code == 2
    assert err == (
        f"error: {out}: not empty and not a svcsim run folder (no .svcsim-run): a run is written only into a new "
        "or empty folder or over an earlier run, so nothing of yours is replaced\n"
    )
    assert files_in(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "quick.yaml"]  # no staging folder either


def test_an_out_that_is_a_file_is_one_error(tmp_path, quick, capsys):
    out = tmp_path / "taken"
    out.write_text("mine")
    assert run(capsys, "run", quick, "--out", out, "--duration", "3s", "--quiet") == (
        2,
        f"error: {out}: exists and is not a folder\n",
    )
    assert out.read_text() == "mine"


def test_an_empty_folder_takes_a_run_and_the_marker_lists_what_was_written(tmp_path, quick, capsys):
    out = tmp_path / "empty"
    out.mkdir()
    assert run(capsys, "run", quick, "--out", out, "--duration", "3s", "--quiet") == (0, "")
    written = marker(out)
    assert (written["written_by"], written["complete"], written["svcsim_version"]) == ("svcsim", True, sim.__version__)
    assert written["files"] == sorted(TABLES + plot_files())
    assert sorted(files_in(out)) == sorted([MARKER, *TABLES, *plot_files()])


def test_a_rerun_replaces_svcsims_files_and_leaves_the_users_alone(tmp_path, quick, capsys):
    out = tmp_path / "run"
    assert run(capsys, "run", quick, "--out", out, "--duration", "3s", "--quiet") == (0, "")
    assert run(capsys, "report", out)[0] == 0
    assert marker(out)["files"] == sorted([*TABLES, *plot_files(), "report.html"])
    mine = {"plots/figure1.svg": b"<svg/>", "plots/mine.png": b"not svcsim's", "notes.txt": b"my notes"}
    for name, data in mine.items():
        (out / name).write_bytes(data)
    old_summary = (out / "summary.json").read_bytes()

    assert run(capsys, "run", quick, "--out", out, "--duration", "4s", "--quiet", "--no-plots") == (0, "")

    assert (out / "summary.json").read_bytes() != old_summary  # the tables are the new run's
    assert json.loads((out / "summary.json").read_text())["duration_s"] == 4.0
    left = files_in(out)
    assert sorted(left) == sorted([MARKER, *TABLES, *mine])  # old plots and report gone: drawn from old tables
    assert all(left[name] == data for name, data in mine.items())
    assert marker(out)["files"] == TABLES


def test_plot_and_report_join_the_marker_and_a_rerun_removes_the_emptied_plots_folder(tmp_path, quick, capsys):
    out = tmp_path / "run"
    assert run(capsys, "run", quick, "--out", out, "--duration", "3s", "--quiet", "--no-plots") == (0, "")
    assert run(capsys, "plot", out)[0] == 0
    assert marker(out)["files"] == sorted(TABLES + plot_files())
    assert run(capsys, "run", quick, "--out", out, "--duration", "3s", "--quiet", "--no-plots") == (0, "")
    assert not (out / "plots").exists()
    assert sorted(files_in(out)) == sorted([MARKER, *TABLES])


def test_a_marker_naming_files_svcsim_never_writes_cannot_make_a_rerun_delete_them(tmp_path, quick, capsys):
    """The marker is a file anyone can edit: svcsim removes only names it could have written."""
    out = tmp_path / "run"
    assert run(capsys, "run", quick, "--out", out, "--duration", "3s", "--quiet", "--no-plots") == (0, "")
    (tmp_path / "outside.txt").write_text("keep")
    (out / "notes.txt").write_text("keep")
    body = marker(out)
    body["files"] = [*body["files"], "../outside.txt", "notes.txt", str(tmp_path / "outside.txt"), 7]
    (out / MARKER).write_text(json.dumps(body))
    assert run(capsys, "run", quick, "--out", out, "--duration", "3s", "--quiet", "--no-plots") == (0, "")
    assert (tmp_path / "outside.txt").read_text() == "keep"
    assert (out / "notes.txt").read_text() == "keep"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        pytest.param("{not json", r"cannot read the run marker: Expecting property name .*", id="not-json"),
        pytest.param('{"files": "all"}', r"cannot read the run marker: expected .* list of files", id="no-list"),
    ],
)
def test_an_unreadable_marker_is_one_error_and_nothing_is_replaced(tmp_path, quick, capsys, content, problem):
    out = tmp_path / "run"
    assert run(capsys, "run", quick, "--out", out, "--duration", "3s", "--quiet", "--no-plots") == (0, "")
    (out / MARKER).write_text(content)
    before = files_in(out)
    for argv in (["run", quick, "--out", out, "--duration", "3s", "--quiet"], ["plot", out], ["report", out]):
        code, err = run(capsys, *argv)
        assert code == 2
        [line] = err.splitlines()
        assert line.startswith(f"error: {out / MARKER}: ")
        assert re.fullmatch(problem, line.split(": ", 2)[2]), line
    assert files_in(out) == before


def test_a_save_cut_off_mid_way_is_refused_by_plot_and_report(tmp_path, quick, capsys):
    """``complete: false`` is what SIGKILL during the final moves leaves: the tables may mix two runs."""
    out = tmp_path / "run"
    assert run(capsys, "run", quick, "--out", out, "--duration", "3s", "--quiet", "--no-plots") == (0, "")
    (out / MARKER).write_text(json.dumps({**marker(out), "complete": False}))
    for command in ("plot", "report"):
        code, err = run(capsys, command, out)
        assert (code, err) == (
            2,
            f"error: {out / MARKER}: a save into this folder was cut off (svcsim was killed?): its files may mix "
            "two runs; run again\n",
        )
    assert run(capsys, "run", quick, "--out", out, "--duration", "3s", "--quiet", "--no-plots") == (0, "")
    assert marker(out)["complete"] is True


def test_result_save_refuses_a_folder_that_is_not_a_run(tmp_path):
    result = sim.simulate(sim.load_scenario(GUIDE).with_overrides(duration_s=12), seed=1)
    (tmp_path / "data.csv").write_text("1,2\n")
    with pytest.raises(sim.ScenarioError, match="not a svcsim run folder"):
        result.save(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["data.csv"]
    result.save(tmp_path / "fresh")
    result.save(tmp_path / "fresh")  # its own run folder: replaced
    assert marker(tmp_path / "fresh")["files"] == TABLES
