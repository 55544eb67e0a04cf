"""Replications (``sim.replicate``, ``svcsim run --replications``): seeds, aggregation, files,
and the coverage of the confidence interval on an M/M/1 queue."""

from __future__ import annotations

import json
import math
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from examples import long_tests
from scenario_text import scenario, scenario_yaml
from scipy import stats

import sim
from sim.cli import main
from sim.experiments.confidence import confidence_interval, summarize_metrics
from sim.experiments.metrics import METRICS, run_one
from sim.experiments.replications import load_replications, replicate, serial
from sim.experiments.seeds import replication_seed

SMALL = {"rate": 50.0, "duration": 5.0, "warmup": 1.0}  # M/M/1 at rho 0.5, ~250 requests a run


# -- seeds -------------------------------------------------------------------------------


@pytest.mark.parametrize("root", [0, 42, 2**40 + 3])
def test_replication_seed_is_the_spawned_child_whatever_the_count(root):
    """Replication k's seed is SeedSequence(root).spawn(n)[k]'s first word (63 bits), for any n > k."""
    for n in (1, 4, 10):
        children = np.random.SeedSequence(root).spawn(n)
        for k, child in enumerate(children):
            expected = int(child.generate_state(1, dtype=np.uint64)[0]) % 2**63
            assert replication_seed(root, k) == expected
    seeds = [replication_seed(root, k) for k in range(100)]
    assert len(set(seeds)) == 100 and all(0 <= s < 2**63 for s in seeds)


def reversed_executor(function, tasks):
    """Runs the tasks last first, as a pool of workers may finish them."""
    for index in reversed(range(len(tasks))):
        yield index, function(*tasks[index])


def test_replications_are_the_same_in_any_order_of_execution():
    s = scenario(**SMALL)
    in_order = replicate(s, 4, seed=9)
    backwards = replicate(s, 4, seed=9, executor=reversed_executor)
    pd.testing.assert_frame_equal(in_order.table, backwards.table)
    pd.testing.assert_frame_equal(in_order.summary, backwards.summary)
    # and replication k does not depend on how many there are
    pd.testing.assert_frame_equal(replicate(s, 2, seed=9).table, in_order.table.iloc[:2])


def test_same_seed_same_result_and_another_seed_another():
    s = scenario(**SMALL)
    first, again, other = replicate(s, 3, seed=5), replicate(s, 3, seed=5), replicate(s, 3, seed=6)
    pd.testing.assert_frame_equal(first.table, again.table)
    assert not np.array_equal(first.table["latency_mean_ms"], other.table["latency_mean_ms"])


def test_replication_k_is_simulate_with_its_seed():
    """Each row holds the summary metrics of sim.simulate(scenario, seed=replication_seed(root, k))."""
    s = scenario(**SMALL)
    reps = replicate(s, 2, seed=11)
    for k in range(2):
        summary = sim.simulate(s, seed=replication_seed(11, k)).summary
        row = reps.table.iloc[k]
        assert row["seed"] == replication_seed(11, k)
        assert row["requests"] == summary["requests"] and row["outcome_ok"] == summary["outcomes"]["ok"]
        assert row["latency_p99_ms"] == summary["latency_ms"]["p99"]
        assert row["throughput_rps"] == summary["throughput_rps"]


def test_the_root_seed_defaults_to_spec_seed_and_is_recorded_without_one():
    assert replicate(scenario(**SMALL, seed=3), 2).seed == 3
    docs = list(yaml.safe_load_all(scenario_yaml(**SMALL)))
    del docs[2]["spec"]["seed"]
    fresh = replicate(sim.load_scenario(yaml.safe_dump_all(docs)), 2)
    assert 0 <= fresh.seed < 2**63
    assert list(fresh.table["seed"]) == [replication_seed(fresh.seed, k) for k in range(2)]


def test_a_replication_is_a_small_picklable_dict():
    """What a worker sends back: floats only, a few hundred bytes."""
    metrics = run_one(scenario(**SMALL), 1)
    assert list(metrics) == [m for m in METRICS if m != "slo_met"]  # no spec.slo here
    assert all(type(v) is float for v in metrics.values())
    assert len(pickle.dumps(metrics)) < 1000
    assert pickle.loads(pickle.dumps(scenario(**SMALL))).simulation.name == "tiny"


def test_slo_met_is_the_share_of_replications_that_met_the_slo():
    doc = list(yaml.safe_load_all(scenario_yaml(**SMALL)))
    doc[2]["spec"]["slo"] = {"latency": {"p99": "90ms"}}  # p99 of Exp(50/s) is 92 ms: some meet it
    reps = replicate(sim.load_scenario(yaml.safe_dump_all(doc)), 6, seed=2)
    met = reps.table["slo_met"]
    assert met.dtype == bool and list(met) == list(reps.table["latency_p99_ms"] <= 90.0)
    assert reps.interval("slo_met")[0] == pytest.approx(met.mean())


def test_invalid_arguments_are_refused():
    s = scenario(**SMALL)
    for n in (0, 1, 2.5, True):
        with pytest.raises(ValueError, match="n must be an integer >= 2"):
            replicate(s, n)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="confidence must be > 0 and < 1"):
        replicate(s, 2, confidence=1.0)
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        replicate(s, 2, seed=-1)


# -- aggregation -------------------------------------------------------------------------

SAMPLE = np.array([20.3, 19.1, 21.7, 18.8, 20.0, 22.4, 19.5, 20.9, 17.6, 21.1])


@pytest.mark.parametrize("level", [0.95, 0.9, 0.99])
def test_the_interval_is_scipys_student_t_interval(level):
    mean, sd, low, high, n = confidence_interval(SAMPLE, level)
    expected = stats.t.interval(level, df=9, loc=SAMPLE.mean(), scale=stats.sem(SAMPLE))
    assert n == 10 and mean == pytest.approx(SAMPLE.mean(), rel=1e-12)
    assert sd == pytest.approx(SAMPLE.std(ddof=1), rel=1e-12)
    assert (low, high) == pytest.approx(expected, rel=1e-12)
    # hand check at 95 %: t_{0.975, 9} = 2.2622
    if level == 0.95:
        assert high - mean == pytest.approx(2.2622 * sd / math.sqrt(10), rel=1e-4)


def test_missing_values_are_left_out_and_too_few_give_no_interval():
    with_nan = np.append(SAMPLE, np.nan)
    assert confidence_interval(with_nan) == pytest.approx(confidence_interval(SAMPLE))
    mean, sd, low, high, n = confidence_interval(np.array([4.0, np.nan]))
    assert (mean, n) == (4.0, 1) and all(math.isnan(v) for v in (sd, low, high))
    assert confidence_interval(np.array([3.0, 3.0, 3.0]))[1:] == (0.0, 3.0, 3.0, 3)
    assert confidence_interval(np.array([np.nan]))[-1] == 0


def test_the_summary_is_one_tidy_row_per_metric():
    table = pd.DataFrame({"a": SAMPLE, "b": SAMPLE * 2})
    summary = summarize_metrics(table, ["b", "a"], 0.9)
    assert list(summary.columns) == ["metric", "mean", "sd", "ci_low", "ci_high", "n"]
    assert list(summary["metric"]) == ["b", "a"] and list(summary["n"]) == [10, 10]
    assert summary.loc[0, "ci_high"] == pytest.approx(2 * summary.loc[1, "ci_high"])
    reps = replicate(scenario(**SMALL), 3, seed=1)
    wider = reps.with_confidence(0.99)
    assert wider.table is reps.table
    _, low95, high95 = reps.interval("latency_mean_ms")
    _, low99, high99 = wider.interval("latency_mean_ms")
    assert low99 < low95 < high95 < high99


# -- command line ------------------------------------------------------------------------


@pytest.fixture
def small_file(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(scenario_yaml(**SMALL))
    return path


def test_run_with_replications_writes_the_table_and_the_summary(small_file, tmp_path, capsys):
    out = tmp_path / "reps"
    assert main(["run", str(small_file), "--replications", "3", "--seed", "4", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert sorted(p.name for p in out.iterdir()) == [
        ".svcsim-run",
        "replications.json",
        "replications.parquet",
        "scenario.yaml",
    ]  # no per-replication tables, no plots
    table = pd.read_parquet(out / "replications.parquet")
    assert list(table.columns) == ["replication", "seed", *[m for m in METRICS if m != "slo_met"]]
    assert list(table["replication"]) == [0, 1, 2]
    assert list(table["seed"]) == [replication_seed(4, k) for k in range(3)]
    saved = json.loads((out / "replications.json").read_text())
    assert (saved["seed"], saved["replications"], saved["confidence"]) == (4, 3, 0.95)
    mean = saved["metrics"]["latency_mean_ms"]
    assert set(mean) == {"mean", "sd", "ci_low", "ci_high", "n"}
    assert mean["mean"] == pytest.approx(table["latency_mean_ms"].mean())
    assert sim.load_scenario(out / "scenario.yaml").simulation.seed == 4
    assert load_replications(out).table.equals(table)
    assert captured.err.count("replication ") == 3 and "replication 3/3 (seed" in captured.err
    assert "latency_mean_ms" in captured.out and "95 % CI" in captured.out


def test_quiet_replications_print_nothing_and_confidence_is_recorded(small_file, tmp_path, capsys):
    out = tmp_path / "reps"
    args = ["run", str(small_file), "--replications", "2", "--confidence", "0.9", "--quiet", "--out", str(out)]
    assert main(args) == 0
    assert capsys.readouterr() == ("", "")
    assert json.loads((out / "replications.json").read_text())["confidence"] == 0.9


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--replications", "1"], "--replications: Invalid value: 1: must be at least 2"),
        (["--replications", "3", "--confidence", "95"], "--confidence: Invalid value: 95: must be > 0 and < 1"),
        (["--confidence", "0.9"], "--confidence: only with --replications"),
        (["--replications", "3", "--fail-on-slo"], "--fail-on-slo: not with --replications"),
    ],
)
def test_bad_replication_flags_are_one_line_errors(small_file, tmp_path, capsys, flags, message):
    out = tmp_path / "reps"
    assert main(["run", str(small_file), *flags, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and not out.exists()


# -- coverage against queueing theory ----------------------------------------------------


def test_the_95_percent_interval_of_the_mean_latency_covers_the_mm1_mean_in_95_percent_of_experiments():
    """M/M/1, lambda = 50/s, mu = 100/s (rho = 0.5, zero network latency): W = 1/(mu - lambda) = 20 ms.

    Each experiment is ``replicate(s, 10, seed=root)``: 10 runs of 20 s with a 2 s warm-up
    (~900 requests measured, 900 W; the queue forgets its empty start in ~0.1 s, so the
    warm-up leaves no measurable bias and the run mean is close to normal). The interval
    estimates the expected mean latency of such a run, which is W here.

    Long (SVCSIM_LONG_TESTS=1): roots 0-199, the issue's bar: coverage in 95 % +- 3 % (the
    binomial sd over 200 experiments is 1.5 %). Measured: 190/200 = 0.950.
    Default: roots 0-39, coverage >= 95 % - 3 binomial sd (sqrt(0.95 * 0.05 / 40) = 3.4 %),
    i.e. at least 34 of 40. Measured: 40/40.
    Both also check the grand mean of the replication means is within 4 standard errors
    (measured from those means) of W: no bias the interval would hide.
    """
    lam, mu = 50.0, 100.0
    w_ms = 1e3 / (mu - lam)
    s = scenario(rate=lam, duration=20.0, warmup=2.0)
    roots = range(200) if long_tests() else range(40)
    covered, means = 0, []
    for root in roots:
        reps = replicate(s, 10, seed=root)
        _, low, high = reps.interval("latency_mean_ms")
        covered += low <= w_ms <= high
        means.extend(reps.table["latency_mean_ms"])
    coverage = covered / len(roots)
    if long_tests():
        assert 0.92 <= coverage <= 0.98, coverage
    else:
        assert coverage >= 0.95 - 3 * math.sqrt(0.95 * 0.05 / len(roots)), coverage
    se = np.std(means, ddof=1) / math.sqrt(len(means))
    assert np.mean(means) == pytest.approx(w_ms, abs=4 * se)


def test_intervals_are_cut_to_the_values_a_metric_can_take():
    """Three replications far apart: the t-interval of the mean reaches below 0 (and, for a
    share, above 1); the summary cuts it there, the mean and sd unchanged."""
    table = pd.DataFrame(
        {"latency_p99_ms": [10.0, 20.0, 1000.0], "error_rate": [0.0, 0.0, 0.9], "slo_met": [1.0, 1.0, 0.0]}
    )
    raw = {name: confidence_interval(table[name].to_numpy(), 0.95) for name in table}
    assert raw["latency_p99_ms"][2] < 0 and raw["error_rate"][2] < 0 and raw["slo_met"][3] > 1
    summary = summarize_metrics(table, list(table.columns), 0.95).set_index("metric")
    assert summary.loc["latency_p99_ms", "ci_low"] == 0.0 and summary.loc["error_rate", "ci_low"] == 0.0
    assert summary.loc["slo_met", "ci_high"] == 1.0
    assert summary.loc["latency_p99_ms", "ci_high"] == raw["latency_p99_ms"][3]
    assert summary.loc["latency_p99_ms", "mean"] == raw["latency_p99_ms"][0]
