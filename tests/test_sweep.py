"""Sweeps (``sim.sweep``, ``svcsim sweep``): the grid, the seeds, the tables and files, the
theory at every point, the plots and the command line's values and errors.

Dask workers giving the same bytes as a serial sweep: tests/test_dask_replications.py (one
cluster for both).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scenario_text import scenario

import sim
from sim.cli import main
from sim.cli_sweep import parse_values
from sim.errors import ScenarioError
from sim.experiments.replications import replicate
from sim.experiments.sweep import SWEEP_FILES, SweepGrid, _plain, load_sweep, repeated, sweep_points
from sim.experiments.sweep_plots import render_sweep_plots

RATE = "simulation.spec.clients[c0].rate"
REPLICAS = "deployment/web.spec.replicas"
SMALL = {"rate": 50.0, "duration": 4.0, "warmup": 1.0}


def test_points_are_every_combination_the_first_path_slowest():
    assert sweep_points({"a": [1, 2], "b": ["x", "y", "z"]}) == [
        {"a": a, "b": b} for a in (1, 2) for b in ("x", "y", "z")
    ]
    assert sweep_points({"a": 3}) == [{"a": 3}]


def test_a_point_replication_is_the_replication_of_the_changed_scenario():
    """Replication k of every point runs with replication_seed(root, k): what sim.replicate gives at that point."""
    s = scenario(**SMALL)
    result = sim.sweep(s, {REPLICAS: [1, 2], RATE: [30, 60]}, replications=2, seed=5)
    assert result.table[["point", REPLICAS, RATE, "replication"]].values.tolist() == [
        [p, r, q, k] for p, (r, q) in enumerate([(1, 30), (1, 60), (2, 30), (2, 60)]) for k in (0, 1)
    ]
    at = replicate(s.with_changes({REPLICAS: 2, RATE: 30}), 2, seed=5).table
    rows = result.table[result.table["point"] == 2].drop(columns=["point", REPLICAS, RATE]).reset_index(drop=True)
    pd.testing.assert_frame_equal(rows, at)
    assert result.table.groupby("point")["seed"].apply(list).map(tuple).nunique() == 1  # common random numbers


def test_every_point_reproduces_the_mm1_mean_within_its_interval():
    """M/M/1, mean service 10 ms (mu = 100/s): E[T] = 1/(mu - lambda) at rates 20, 50, 70.

    Seed 7, 8 replications of 60 s (10 s warm-up): the 95 % interval of each point covers the
    theory and is narrower than 20 % of it (fixed seed, so this is one deterministic draw that
    a wrong queue, a wrong rate change or intervals from the wrong rows would miss).
    """
    s = scenario(rate=20.0, duration=60.0, warmup=10.0)
    result = sim.sweep(s, {RATE: [20, 50, 70]}, replications=8, seed=7)
    means = result.metric("latency_mean_ms")
    for row in means.itertuples(index=False):
        theory = 1000.0 / (100.0 - row[1])
        assert row.ci_low <= theory <= row.ci_high, (row, theory)
        assert row.ci_high - row.ci_low < 0.2 * theory
        assert row.n == 8


def test_a_bad_value_at_any_point_stops_the_sweep_before_a_run():
    with pytest.raises(ScenarioError, match=r"--set deployment/web.spec.replicas: .*spec.replicas: Invalid value: -1"):
        sim.sweep(scenario(**SMALL), {REPLICAS: [1, -1]}, seed=1)
    with pytest.raises(ScenarioError, match='no Deployment named "nope"'):
        sim.sweep(scenario(**SMALL), {"deployment/nope.spec.replicas": [1]}, seed=1)
    with pytest.raises(ValueError, match="replications must be an integer >= 1"):
        sim.sweep(scenario(**SMALL), {REPLICAS: [1]}, replications=0)
    with pytest.raises(ValueError, match="has no values"):
        sim.sweep(scenario(**SMALL), {REPLICAS: []})


def test_save_and_load_round_trip_and_the_files(tmp_path):
    result = sim.sweep(scenario(**SMALL), {REPLICAS: [1, 2], "simulation.spec.duration": ["3s", "4s"]}, 2, seed=3)
    result.save(tmp_path / "s", render_sweep_plots(result))
    assert all((tmp_path / "s" / name).is_file() for name in SWEEP_FILES)
    back = load_sweep(tmp_path / "s")
    pd.testing.assert_frame_equal(back.table, result.table)
    pd.testing.assert_frame_equal(back.summary, result.summary)
    assert back.seed == 3 and back.grid == result.grid
    saved = json.loads((tmp_path / "s" / "sweep.json").read_text())
    assert saved["grid"] == {REPLICAS: [1, 2], "simulation.spec.duration": ["3s", "4s"]}
    assert [p["values"] for p in saved["points"]][1] == {REPLICAS: 1, "simulation.spec.duration": "4s"}
    p99 = saved["points"][0]["metrics"]["latency_p99_ms"]
    assert p99["n"] == 2 and p99["ci_low"] <= p99["mean"] <= p99["ci_high"]
    assert result.table[REPLICAS].dtype == np.int64
    assert pd.api.types.is_string_dtype(result.table["simulation.spec.duration"])
    summary = pd.read_parquet(tmp_path / "s" / "sweep_summary.parquet")
    swept = ["point", REPLICAS, "simulation.spec.duration"]
    assert list(summary.columns) == [*swept, "metric", "mean", "sd", "ci_low", "ci_high", "n"]
    assert sorted(p.name for p in (tmp_path / "s" / "plots").iterdir()) == [
        "sweep-error_rate.png",
        "sweep-latency_mean_ms.png",
        "sweep-latency_p99_ms.png",
        "sweep-throughput_rps.png",
    ]


def test_the_plot_draws_one_line_and_band_per_value_of_the_second_path():
    result = sim.sweep(scenario(**SMALL), {REPLICAS: [1, 2, 3], RATE: [20, 40]}, 2, seed=3)
    figure = result.plot("latency_p99_ms")
    ax = figure.axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["rate = 20", "rate = 40"]
    assert len(ax.collections) == 2  # the two bands
    assert ax.get_xlabel() == REPLICAS
    assert list(ax.get_xticks()) == [1.0, 2.0, 3.0]  # ticks at the swept values, not 1.25, 1.5...
    swapped = result.plot("latency_mean_ms", x=RATE, by=REPLICAS).axes[0]
    assert [line.get_label() for line in swapped.get_lines()] == ["replicas = 1", "replicas = 2", "replicas = 3"]
    with pytest.raises(ValueError, match="no metric 'nope'"):
        result.plot("nope")


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("a.b=4,6,8", [4, 6, 8]),
        ("a.b=1000:2000:500", [1000, 1500, 2000]),
        ("a.b=1:3", [1, 2, 3]),
        ("a.b=0.5:1.5:0.25", [0.5, 0.75, 1.0, 1.25, 1.5]),
        ("a.b=1:2:0.4", [1.0, 1.4, 1.8]),
        ("a.b=10s,1m", ["10s", "1m"]),
        ("a.b=8", [8]),
        ("a.b=[1, 2]", [[1, 2]]),
        ("a.b={mean: 10ms, distribution: exponential}", [{"mean": "10ms", "distribution": "exponential"}]),
    ],
)
def test_command_line_values(text, values):
    assert parse_values(text, "s.yaml") == ("a.b", values)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a.b=3:1", "LOW:HIGH needs LOW <= HIGH"),
        ("a.b=1:3:0", "the step must be > 0"),
        ("a.b=1,,2", "an empty item in the list"),
        ("a.b=1:1000000", "more than 100000"),
        ("a.b=1:1e400", "must be finite"),
        ("a.b", "expected PATH=VALUE"),
    ],
)
def test_command_line_values_refused(text, message):
    with pytest.raises(ScenarioError, match=message):
        parse_values(text, "s.yaml")


def test_cli_writes_the_sweep_and_refuses_bad_input_with_nothing_written(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text(scenario(**SMALL).to_yaml(), encoding="utf-8")
    out = tmp_path / "out"
    args = ["sweep", str(path), "--set", f"{REPLICAS}=1,2", "--set", f"{RATE}=20:40:20", "--out", str(out)]
    assert main([*args, "--replications", "2", "--seed", "4", "--serial"]) == 0
    printed = capsys.readouterr().out
    assert "4 points x 2 replications (seed 4)" in printed and "p99 ms" in printed
    table = pd.read_parquet(out / "sweep.parquet")
    assert table[[REPLICAS, RATE]].drop_duplicates().values.tolist() == [[1, 20], [1, 40], [2, 20], [2, 40]]
    assert (out / "plots" / "sweep-latency_p99_ms.png").is_file()
    api = sim.sweep(scenario(**SMALL), {REPLICAS: [1, 2], RATE: [20, 40]}, 2, seed=4)
    pd.testing.assert_frame_equal(table, api.table)
    assert main([*args, "--seed", "4", "--serial", "--quiet", "--no-plots"]) == 0  # over its own earlier sweep
    assert capsys.readouterr().out == "" and not (out / "plots").exists()
    for bad, message in [
        ([f"--set={REPLICAS}=1,-1"], "spec.replicas: Invalid value: -1"),
        ([f"--set={REPLICAS}=2", f"--set={REPLICAS}=3"], "given twice"),
        ([f"--set={REPLICAS}=2", "--replications", "0"], "--replications: Invalid value: 0"),
        ([f"--set={REPLICAS}=2", "--confidence", "1.5"], "--confidence: Invalid value: 1.5"),
        ([], "name at least one field to sweep"),
        # each range is allowed, their product is not: refused before the points are listed (it ran out of memory)
        ([f"--set={REPLICAS}=1:1000", f"--set={RATE}=1:1000"], "--set: 1000 x 1000 = 1000000 points, more than 100000"),
    ]:
        fresh = tmp_path / "never"
        assert main(["sweep", str(path), *bad, "--out", str(fresh), "--serial"]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and "Traceback" not in err
        assert not fresh.exists()


def test_a_misspelt_path_or_a_value_twice_is_refused_before_any_run():
    """A field the loader ignores (replicaz) changes nothing: a sweep over it would run the same
    point again and again; so would a value given twice."""
    with pytest.raises(ScenarioError, match=r"--set deployment/web.spec.replicaz: every value leaves the scenario"):
        sim.sweep(scenario(**SMALL), {"deployment/web.spec.replicaz": [1, 2], RATE: [20, 40]}, seed=1)
    with pytest.raises(ValueError, match=r"deployment/web.spec.replicas: 2 given twice"):
        sim.sweep(scenario(**SMALL), {REPLICAS: [1, 2, 2]}, seed=1)
    grid = SweepGrid.build(scenario(**SMALL), {REPLICAS: np.array([1, 2])})  # numpy values become Python's
    assert grid.grid == {REPLICAS: [1, 2]} and type(grid.grid[REPLICAS][0]) is int
    assert repeated([1, 1.0, True, "1"]) is None and repeated([2, 3, 2]) == (2,)  # 1, 1.0, True differ to a loader
    assert _plain(np.bool_(True)) is True and _plain(np.float64(0.5)) == 0.5  # plain Python values for the loader


def test_cli_checks_every_point_before_starting_a_cluster(tmp_path, capsys, monkeypatch):
    """--workers 2 with a bad value: the error comes first, no cluster is started."""
    from sim.experiments import dask_executor as dx

    def no_cluster(*args, **kwargs):
        raise AssertionError("a cluster was started before the input was checked")

    monkeypatch.setattr(dx, "local_cluster", no_cluster)
    path = tmp_path / "s.yaml"
    path.write_text(scenario(**SMALL).to_yaml(), encoding="utf-8")
    for bad, message in [
        (f"{REPLICAS}=1,-1", "spec.replicas: Invalid value: -1"),
        ("deployment/web.spec.replicaz=1,2", "every value leaves the scenario as it was"),
        (f"{REPLICAS}=1,2,1", f"--set {REPLICAS}: 1 given twice"),
    ]:
        assert main(["sweep", str(path), "--set", bad, "--workers", "2", "--out", str(tmp_path / "x")]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
    assert not (tmp_path / "x").exists()


def test_cli_duration_overrides_every_point(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(scenario(**SMALL).to_yaml(), encoding="utf-8")
    out = tmp_path / "o"
    args = ["sweep", str(path), "--set", f"{REPLICAS}=1,2", "--duration", "2s", "--seed", "1", "--serial", "--quiet"]
    assert main([*args, "--no-plots", "--out", str(out)]) == 0
    table = pd.read_parquet(out / "sweep.parquet")
    assert (table["requests"] < 50.0 * 2 * 1.5).all()  # 2 s at 50 req/s, not the file's 4 s
    assert "duration: 2s" in (out / "scenario.yaml").read_text()


def test_the_plot_uses_a_log_axis_when_a_saturated_point_would_flatten_the_rest():
    """At 1 replica the queue is unstable at 150 req/s (mu = 100/s): its p99 is many times the others'."""
    result = sim.sweep(scenario(**SMALL), {REPLICAS: [1, 2, 4], RATE: 150}, 1, seed=3)
    ax = result.plot("latency_p99_ms").axes[0]
    assert ax.get_yscale() == "log" and "held: rate = 150" in ax.get_title()
    assert "1 replication per point, no interval" in ax.get_title()
