"""Runs compared (issue 12, item 5): ``sim.compare``, the overlaid plots, ``svcsim compare``.

The table must hold each run's summary as ``summary.json`` has it, differences against the
first run, and for replicated runs the mean, CI and whether the CIs overlap; the overlaid
plots one line per run, each in its own colour and named by the run, on one axis; the CLI
one error line and exit 2 for anything it cannot compare.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

import sim
from sim import plots
from sim.cli import main
from sim.experiments.metrics import run_one
from sim.results.compare_report import render_comparison
from sim.results.comparison import METRICS, run_summaries
from sim.results.plots.compare import run_styles

ROOT = Path(__file__).resolve().parents[1]
LATENCY = ("mean", "p50", "p90", "p95", "p99", "max")


def _basic(replicas: int, slo: bool = False) -> sim.Scenario:
    """nodeport-basic cut to 30 s (warm-up 10 s) with ``replicas`` pods, optionally an SLO."""
    text = (ROOT / "scenarios" / "nodeport-basic.yaml").read_text()
    assert "  replicas: 3\n" in text and "  warmup: 10s\n" in text
    text = text.replace("  replicas: 3\n", f"  replicas: {replicas}\n")
    if slo:
        text = text.replace("  warmup: 10s\n", "  warmup: 10s\n  slo: {latency: {p99: 150ms}, errorRate: 0.01}\n")
    return sim.load_scenario(text).with_overrides(duration_s=30)


@pytest.fixture(scope="module")
def two_runs() -> tuple[sim.Result, sim.Result]:
    """3 replicas against 2 (same seed 5): fewer pods, higher latency."""
    return sim.simulate(_basic(3, slo=True), seed=5), sim.simulate(_basic(2, slo=True), seed=5)


@pytest.fixture(scope="module")
def folders(two_runs, tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("runs")
    return two_runs[0].save(root / "three"), two_runs[1].save(root / "two")


# --- the table ------------------------------------------------------------------------------------


def test_table_holds_each_runs_summary_and_the_differences_against_the_first(two_runs):
    a, b = two_runs
    c = sim.compare([a, b], labels=["three", "two"])
    t = c.table
    assert list(t.columns) == ["three", "two", "Δ two", "Δ% two"]
    for label, result in (("three", a), ("two", b)):
        s = result.summary
        assert t.loc["requests", label] == s["requests"]
        for outcome, count in s["outcomes"].items():
            assert t.loc[f"outcome_{outcome}", label] == count
        assert t.loc["throughput_rps", label] == s["throughput_rps"]
        for stat in LATENCY:
            assert t.loc[f"latency_{stat}_ms", label] == s["latency_ms"][stat]
        assert t.loc["slo_met", label] == (1.0 if s["slo"]["met"] else 0.0)
        error_check = next(check for check in s["slo"]["checks"] if check["name"] == "error rate")
        assert t.loc["error_rate", label] == pytest.approx(error_check["measured"], abs=1e-12)
    p99_a, p99_b = a.summary["latency_ms"]["p99"], b.summary["latency_ms"]["p99"]
    assert t.loc["latency_p99_ms", "Δ two"] == pytest.approx(p99_b - p99_a)
    assert t.loc["latency_p99_ms", "Δ% two"] == pytest.approx((p99_b - p99_a) / p99_a * 100)
    assert p99_b > p99_a, "two pods at the same load must be slower than three (seed 5)"
    assert list(t.index) == list(METRICS)  # every metric, slo_met included, in order


def test_relative_difference_against_a_zero_is_not_a_number(two_runs):
    t = sim.compare(list(two_runs)).table
    assert t.loc["outcome_timeout", t.columns[0]] == 0
    assert math.isnan(t.loc["outcome_timeout", t.columns[-1]])


def test_the_printed_table_names_every_metric_and_run(two_runs):
    text = str(sim.compare(list(two_runs), labels=["three", "two"]))
    header = text.splitlines()[0].split()
    assert header[:3] == ["metric", "three", "two"]
    for metric in METRICS:
        assert any(line.startswith(metric + " ") for line in text.splitlines()), metric


def test_default_labels_are_folder_names_or_scenario_and_seed_made_unique(two_runs, folders):
    a, b = two_runs
    assert sim.compare(list(folders)).labels == ["three", "two"]
    assert sim.compare([a, a, b]).labels == [
        "nodeport-basic seed 5",
        "nodeport-basic seed 5 (2)",
        "nodeport-basic seed 5 (3)",
    ]


@pytest.mark.parametrize(
    ("labels", "message"),
    [(["x"], "1 label(s) for 2 run(s)"), (["x", "x"], "repeated: x"), (["x", " "], "a label is empty")],
)
def test_labels_that_do_not_fit_the_runs_are_refused(two_runs, labels, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        sim.compare(list(two_runs), labels=labels)


def test_one_run_is_not_a_comparison(two_runs):
    with pytest.raises(ValueError, match="at least 2 runs"):
        sim.compare([two_runs[0]])


# --- replicated runs ------------------------------------------------------------------------------


def _replications_folder(path: Path, p99: tuple[float, float, float], n: int = 10) -> Path:
    """A folder as ``svcsim run --replications`` writes it (replications.json's shape)."""
    path.mkdir()
    mean, low, high = p99
    metrics = {
        "requests": {"mean": 6000.0, "sd": 50.0, "ci_low": 5964.0, "ci_high": 6036.0, "n": n},
        "error_rate": {"mean": 0.0, "sd": 0.0, "ci_low": 0.0, "ci_high": 0.0, "n": n},
        "latency_p99_ms": {"mean": mean, "sd": 1.0, "ci_low": low, "ci_high": high, "n": n},
        "latency_max_ms": {"mean": 230.0, "sd": None, "ci_low": None, "ci_high": None, "n": 1},
    }
    data = {"scenario": "nodeport-basic", "seed": 7, "replications": n, "confidence": 0.95, "metrics": metrics}
    (path / "replications.json").write_text(json.dumps(data))
    (path / "replications.parquet").write_bytes(b"")  # not read by compare
    return path


def test_replicated_runs_show_mean_ci_and_whether_the_cis_overlap(tmp_path):
    base = _replications_folder(tmp_path / "base", (300.0, 290.0, 310.0))
    near = _replications_folder(tmp_path / "near", (305.0, 295.0, 315.0))
    far = _replications_folder(tmp_path / "far", (330.0, 320.0, 340.0))
    t = sim.compare([base, near, far]).table
    assert t.loc["latency_p99_ms", "base"] == 300.0
    assert (t.loc["latency_p99_ms", "near CI low"], t.loc["latency_p99_ms", "near CI high"]) == (295.0, 315.0)
    assert t.loc["latency_p99_ms", "CI overlap near"] is True
    assert t.loc["latency_p99_ms", "CI overlap far"] is False
    assert t.loc["latency_max_ms", "CI overlap far"] is None  # one replication measured it: no interval
    assert t.loc["latency_p99_ms", "Δ far"] == 30.0


def test_a_replicated_run_beside_a_single_one_has_no_overlap_column(tmp_path, folders):
    reps = _replications_folder(tmp_path / "reps", (300.0, 290.0, 310.0))
    c = sim.compare([folders[0], reps])
    assert "reps CI low" in c.table.columns and not any(col.startswith("CI overlap") for col in c.table.columns)
    assert math.isnan(c.table.loc["latency_p50_ms", "reps"])  # the replications did not measure it
    assert "reps: 10 replications, mean and 95 % CI" in str(c)


def test_an_object_with_summary_dict_compares_like_its_folder(tmp_path):
    folder = _replications_folder(tmp_path / "r", (300.0, 290.0, 310.0))
    data = json.loads((folder / "replications.json").read_text())

    class Replications:  # what sim.replicate returns, as far as compare reads it
        def summary_dict(self):
            return data

    c = sim.compare([folder, Replications()], labels=["folder", "object"])
    assert c.table["folder"].equals(c.table["object"].rename("folder"))
    assert c.table.loc["latency_p99_ms", "CI overlap object"] is True


def test_a_damaged_replications_json_is_one_error_naming_the_file(tmp_path, folders):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "replications.json").write_text(json.dumps({"replications": 3, "metrics": {"requests": {"mean": "x"}}}))
    with pytest.raises(sim.ScenarioError, match=r"bad/replications.json: not written by svcsim: metric requests"):
        sim.compare([folders[0], bad])


# --- the overlaid plots ---------------------------------------------------------------------------


def _named_lines(fig: Figure) -> dict[str, str]:
    return {
        line.get_label(): to_hex(line.get_color())
        for ax in fig.axes
        for line in ax.get_lines()
        if not line.get_label().startswith("_")
    }


@pytest.mark.parametrize(
    "draw", [plots.compare_latency_cdf, plots.compare_latency_tail, plots.compare_latency_over_time]
)
def test_each_overlaid_plot_has_one_line_per_run_in_its_own_colour_on_one_axis(two_runs, draw):
    fig = Figure()
    ax = fig.add_subplot()
    returned = draw(list(two_runs), ax, labels=["three", "two"])
    assert returned is fig and fig.axes == [ax]  # drawn onto the given axis, no twin axis added
    lines = _named_lines(fig)
    runs = {label: color for label, color in lines.items() if "SLO" not in label}
    assert [label.split(":")[0] for label in runs] == ["three", "two"]
    assert len(set(runs.values())) == 2
    legend = ax.get_legend()
    assert legend is not None and [t.get_text().split(":")[0] for t in legend.get_texts()][:2] == ["three", "two"]


def test_two_overlays_on_one_axis_add_no_twin_axis(two_runs):
    """The bug of issue 12: drawing runs onto one axis doubled the pods' twin axis."""
    fig = Figure()
    ax = fig.add_subplot()
    plots.compare_latency_over_time(list(two_runs), ax)
    plots.compare_latency_over_time(list(two_runs), ax)
    assert len(fig.axes) == 1


def test_the_over_time_plot_draws_each_runs_slo_bound_in_its_colour(two_runs):
    fig = plots.compare_latency_over_time(sim.compare(list(two_runs), labels=["three", "two"]))
    lines = _named_lines(fig)
    assert lines["three: SLO p99 ≤ 150 ms"] == lines["three"] != lines["two"] == lines["two: SLO p99 ≤ 150 ms"]


def test_the_over_time_p99_per_bin_is_the_p99_of_that_bins_requests(two_runs):
    a = two_runs[0]
    fig = plots.compare_latency_over_time([a], stat="p99")
    line = next(ln for ln in fig.axes[0].get_lines() if ln.get_label() == "nodeport-basic seed 5")
    x, y = line.get_xdata(), line.get_ydata()
    half = (x[1] - x[0]) / 2
    req = a.requests[a.requests["outcome"] == "ok"]
    i = len(x) // 2
    in_bin = req[(req["t_sent"] >= x[i] - half) & (req["t_sent"] < x[i] + half)]
    assert y[i] == pytest.approx(np.percentile(in_bin["latency"] * 1e3, 99))


def test_run_styles_stay_distinct_for_forty_runs():
    styles = run_styles(40)
    assert len(set(styles)) == 40 and len({color for color, _ in styles[:10]}) == 10


def test_a_replicated_run_is_named_as_not_drawn(tmp_path, two_runs):
    reps = _replications_folder(tmp_path / "reps", (300.0, 290.0, 310.0))
    fig = plots.compare_latency_cdf(sim.compare([two_runs[0], reps]))
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "not drawn (replicated: summaries only; compare a kept run folder to draw it): reps" in texts


# --- the report and the CLI -----------------------------------------------------------------------


def test_report_is_self_contained_with_the_table_both_plots_and_the_scenario_diff(two_runs):
    page = render_comparison(sim.compare(list(two_runs), labels=["three", "two"]))
    assert page.count('src="data:image/png;base64,') == len(plots.COMPARE_PLOTS)
    assert "http://" not in page and "https://" not in page
    assert "<td>latency_p99_ms</td>" in page
    assert "-  replicas: 3" in page and "+  replicas: 2" in page  # what differs between the scenarios


def test_cli_compare_prints_the_table_and_writes_the_report_and_pngs(folders, tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["compare", str(folders[0]), str(folders[1]), "--out", str(out), "--labels", "a,b"]) == 0
    printed = capsys.readouterr().out
    assert printed.splitlines()[0].split() == ["metric", "a", "b", "Δ", "b", "Δ%", "b"]
    assert sorted(p.name for p in out.iterdir()) == sorted(["comparison.html", *plots.COMPARE_PLOTS])
    for name in plots.COMPARE_PLOTS:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_compare_without_out_writes_nothing(folders, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["compare", str(folders[0]), str(folders[1])]) == 0
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ONE"], "error: RUN: compare needs at least 2 run folders, got 1"),
        (["ONE", "missing"], "error: missing: no such run folder"),
        (["ONE", "empty"], "error: empty: not a svcsim run folder: missing requests.parquet"),
        (["ONE", "ONE", "--labels", "a"], "error: --labels: 1 label(s) for 2 run(s)"),
    ],
)
def test_cli_compare_errors_are_one_line_and_exit_2(folders, tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    argv = [str(folders[0]) if a == "ONE" else a for a in args]
    assert main(["compare", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


def test_run_summaries_read_each_run_once_and_keep_its_tables(two_runs, folders):
    a_from_folder, a = run_summaries([folders[0], two_runs[0]])
    assert a_from_folder.source == str(folders[0]) and a_from_folder.result is not None
    assert a_from_folder.metrics == pytest.approx(a.metrics, nan_ok=True)
    assert isinstance(a.result.requests, pd.DataFrame)


def test_a_replication_reports_what_compare_reads_from_the_same_run(two_runs):
    """A replication's metrics (run_one: the run without its tables) equal compare's reading of
    the full run with the same seed, so single and replicated runs line up row for row."""
    a = two_runs[0]
    assert run_summaries([a])[0].metrics == pytest.approx(run_one(a.scenario, a.seed), nan_ok=True)


def test_sim_replicate_results_compare_with_their_intervals():
    s = _basic(3).with_overrides(duration_s=15)
    c = sim.compare([sim.replicate(s, 3, seed=1), sim.replicate(s, 3, seed=2)], labels=["r1", "r2"])
    mean, low, high = sim.replicate(s, 3, seed=1).interval("latency_p99_ms")
    assert (c.table.loc["latency_p99_ms", "r1"], c.table.loc["latency_p99_ms", "r1 CI low"]) == (mean, low)
    assert c.table.loc["latency_p99_ms", "r1 CI high"] == high
    assert c.table.loc["latency_p99_ms", "CI overlap r2"] in (True, False)


def test_replicated_runs_diff_their_scenarios_and_say_why_nothing_is_drawn(tmp_path):
    """Two replications folders: the report diffs their scenario.yaml (a new user's node-loss
    comparison wanted exactly that), and the plots say no run kept requests; a sweep's folder is
    refused with what compare takes."""
    base = _basic(3)
    sim.replicate(base, 2, seed=1).save(tmp_path / "a")
    sim.replicate(base.with_changes({"deployment/myapp.spec.replicas": 2}), 2, seed=1).save(tmp_path / "b")
    page = render_comparison(sim.compare([tmp_path / "a", tmp_path / "b"]))
    assert "-  replicas: 3" in page and "+  replicas: 2" in page
    sim.sweep(base, {"deployment/myapp.spec.replicas": [2, 3]}, seed=1).save(tmp_path / "s")
    with pytest.raises(sim.ScenarioError, match="a sweep's folder: compare takes run folders and replications"):
        sim.compare([tmp_path / "a", tmp_path / "s"])
