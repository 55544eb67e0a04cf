"""``simulate(sample=k)`` / ``svcsim run --sample K``: every k-th request's row kept, every
figure of the summary, its SLO checks and the pods table computed from every request."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scenario_text import scenario

import sim
from sim.cli import main
from sim.results.result import sampled_ids
from sim.results.run_metrics import metrics_of

ROOT_SCENARIO = "scenarios/nodeport-basic.yaml"


def test_a_sample_keeps_every_kth_row_and_the_exact_summary():
    base = sim.load_scenario(ROOT_SCENARIO).with_overrides(duration_s=60.0)
    full = sim.simulate(base, seed=3)
    sampled = sim.simulate(base, seed=3, sample=7)
    assert sampled.sample == 7 and full.sample == 1
    want = full.requests[sampled_ids(full.requests["request_id"].to_numpy(), 7)].reset_index(drop=True)
    pd.testing.assert_frame_equal(sampled.requests, want)
    assert len(sampled.requests) == pytest.approx(len(full.requests) / 7, abs=1)
    pd.testing.assert_frame_equal(sampled.pods, full.pods)  # requests and utilisation from every request
    extra = sampled.summary.pop("sample")
    assert extra == {"every": 7, "error_rate": metrics_of(full)["error_rate"], "rows": len(want)}
    assert sampled.summary == full.summary  # latency percentiles, outcomes, throughput, SLO, warnings


def test_a_sampled_run_reports_the_exact_error_rate_and_scales_its_rates(tmp_path):
    """Pods deleted mid-run refuse requests: the error rate in the metrics is the exact one
    (not the sample's), and the outcomes plot's rates are k times the rows' (so they match)."""
    failing = scenario(duration=6.0, events=[(2.0, 0)], grace=0, clients=[{"name": "c0", "rate": 400.0}])
    full = sim.simulate(failing, seed=5)
    sampled = sim.simulate(failing, seed=5, sample=10)
    exact = metrics_of(full)["error_rate"]
    assert 0 < exact < 1
    assert metrics_of(sampled)["error_rate"] == exact
    rows = sampled.requests
    naive = float((rows["outcome"] != "ok").mean())
    assert naive != exact  # what reading the rows alone would give: a different figure
    ax = sim.plots.outcomes_over_time(sampled).axes[0]
    ok_line = next(line for line in ax.get_lines() if line.get_label().startswith("ok ("))
    assert ok_line.get_label() == f"ok (≈{int((rows['outcome'] == 'ok').sum()) * 10:,})"
    ok_full = next(line for line in sim.plots.outcomes_over_time(full).axes[0].get_lines() if line.get_label().startswith("ok ("))
    # The sampled rate estimates the full one: the same mean over the run within 10 % (seed 5).
    assert np.mean(ok_line.get_ydata()) == pytest.approx(np.mean(ok_full.get_ydata()), rel=0.1)


def test_retries_keep_every_try_of_a_sampled_request():
    retrying = scenario(
        duration=6.0,
        events=[(2.0, 0)],
        grace=0,
        clients=[{"name": "c0", "rate": 100.0, "retries": {"attempts": 3, "on": ["refused"]}}],
    )
    full = sim.simulate(retrying, seed=2)
    sampled = sim.simulate(retrying, seed=2, sample=4)
    assert full.tries is not None and sampled.tries is not None
    want = full.tries[sampled_ids(full.tries["request_id"].to_numpy(), 4)].reset_index(drop=True)
    pd.testing.assert_frame_equal(sampled.tries, want)
    assert set(sampled.tries["request_id"]) == set(sampled.requests["request_id"])


@pytest.mark.parametrize("bad", [0, -1, 2.0, True])
def test_simulate_refuses_a_sample_that_is_not_a_whole_number_of_at_least_one(bad):
    with pytest.raises(ValueError, match="sample must be a whole number >= 1"):
        sim.simulate(sim.load_scenario(ROOT_SCENARIO), sample=bad)


def test_run_sample_writes_the_sampled_table_and_reads_back(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["run", ROOT_SCENARIO, "--out", str(out), "--sample", "50", "--duration", "20s", "--quiet", "--no-plots"]
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    table = pd.read_parquet(out / "requests.parquet")
    assert summary["sample"]["every"] == 50 and summary["sample"]["rows"] == len(table)
    assert sampled_ids(table["request_id"].to_numpy(), 50).all() and summary["requests"] > 40 * len(table)
    loaded = sim.load_result(out)
    assert loaded.sample == 50
    assert main(["report", str(out)]) == 0
    assert "1 in 50 requests" in (out / "report.html").read_text()


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--sample", "0"], "--sample: Invalid value: 0: must be at least 1"),
        (
            ["--sample", "5", "--replications", "3"],
            "--sample: not with --replications: replications keep each run's summary only (--keep-tables: every row)",
        ),
    ],
)
def test_run_refuses_bad_samples(tmp_path, capsys, flags, expected):
    assert main(["run", ROOT_SCENARIO, "--out", str(tmp_path / "x"), *flags]) == 2
    assert capsys.readouterr().err == f"error: {ROOT_SCENARIO}: {expected}\n"
    assert not (tmp_path / "x").exists()


def test_two_constant_clients_that_alternate_ids_keep_their_share_each():
    """Two clients at the same constant rate alternate request ids: a sample of 1 in 2 keeps
    about half of each client's requests (every even id kept one client's only), and a sample
    of 1 in k about 1/k of all ids (Fibonacci hashing spreads consecutive ids evenly)."""
    two = scenario(
        duration=10.0,
        clients=[{"name": "c0", "rate": 100.0, "arrival": "constant"}, {"name": "c1", "rate": 100.0, "arrival": "constant"}],
    )
    result = sim.simulate(two, seed=1, sample=2)
    kept = result.requests["client"].value_counts()
    assert kept["c0"] == pytest.approx(500, rel=0.05) and kept["c1"] == pytest.approx(500, rel=0.05)
    for k in (2, 3, 7, 100):
        ids = np.arange(1_000_000)
        assert sampled_ids(ids, k).sum() == pytest.approx(1_000_000 / k, rel=0.001)


def test_fewer_collections_restores_the_thresholds_when_runs_in_threads_interleave():
    """A enters, B enters, A leaves, B leaves: the thresholds come back once both are out."""
    import gc
    import threading

    from sim.api import fewer_collections

    before = gc.get_threshold()
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def a() -> None:
        with fewer_collections():
            a_in.set()
            b_in.wait()
        a_out.set()

    def b() -> None:
        a_in.wait()
        with fewer_collections():
            b_in.set()
            a_out.wait()
            assert gc.get_threshold()[0] >= 50_000  # still raised: B runs on

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert gc.get_threshold() == before


def test_run_lists_the_first_fifty_pods_and_says_how_many_there_are(tmp_path, capsys):
    """10 000 pods printed 10 000 lines (5 s) after the summary; pods.parquet has them all."""
    args = ["run", ROOT_SCENARIO, "--out", str(tmp_path / "r"), "--duration", "12s", "--no-plots"]
    assert main([*args, "--set", "deployment/myapp.spec.replicas=60"]) == 0
    out = capsys.readouterr().out
    assert "pods (the first 50 of 60: pods.parquet has all)" in out
    assert len(pd.read_parquet(tmp_path / "r" / "pods.parquet")) == 60
