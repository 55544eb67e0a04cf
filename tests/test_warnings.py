"""Run warnings: each fires on a case built for it and stays silent on the healthy shipped scenarios.

Seeds are fixed in each scenario; the statistical warnings (growing queue, MSER-5) are tested
on cases far from their thresholds, so the seed does not decide the outcome.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from scenario_text import scenario_yaml
from scipy import stats

import sim
from sim.cli import main
from sim.distributions import Constant, Exponential, Gamma, LogNormal, Uniform
from sim.results.steady_state import mser5

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
#: Shipped to show overload: it must warn (and says so in its header).
OVERLOADED = ROOT / "scenarios" / "traffic-ramp.yaml"


def run(slo: Any = None, **kwargs: Any) -> sim.Result:
    docs = list(yaml.safe_load_all(scenario_yaml(**kwargs)))
    if slo is not None:
        docs[2]["spec"]["slo"] = slo
    return sim.simulate(sim.load_scenario(yaml.safe_dump_all(docs, sort_keys=False)))


def warnings_of(result: sim.Result, start: str) -> list[str]:
    return [w for w in result.summary["warnings"] if start in w]


#: Autoscaling scenarios overload their first pods until the HPA has added more: they warn of it.
AUTOSCALED = [p for p in SCENARIOS if p.stem.startswith("hpa-") or p.stem == "cluster-autoscaler"]


@pytest.mark.parametrize("path", [p for p in SCENARIOS if p != OVERLOADED and p not in AUTOSCALED], ids=lambda p: p.stem)
def test_the_healthy_shipped_scenarios_warn_about_nothing(path):
    result = sim.simulate(sim.load_scenario(path), seed=7)
    assert result.summary["warnings"] == []


@pytest.mark.parametrize("path", AUTOSCALED, ids=lambda p: p.stem)
def test_the_autoscaling_scenarios_warn_only_of_the_overload_before_the_hpa_catches_up(path):
    """A warning, if any, is an overload that ends: the capacity the HPA added caught up with the
    load (svcsim's capacity check counts workers, not CPU limits, so hpa-ramp's throttling is
    not one)."""
    result = sim.simulate(sim.load_scenario(path), seed=7)
    for warning in result.summary["warnings"]:
        overload = ": offered load" in warning and " to " in warning
        assert overload or "waited Pending for a node" in warning, warning


def test_the_traffic_ramp_scenario_warns_about_overload_and_misses_its_slo():
    """The ramp crosses capacity (400 req/s) at 300/700 of its 3 minutes after 30 s: 107 s."""
    result = sim.simulate(sim.load_scenario(OVERLOADED))
    [overload] = warnings_of(result, "deployment web: offered load")
    assert "from 107.2s to 4m" in overload
    assert warnings_of(result, "latency grows")
    assert result.summary["slo"]["met"] is False
    assert result.summary["retries"] > 0.5 * result.summary["requests"]  # the storm
    tries = result.tries
    late = tries[tries["t_sent"] > 200]
    assert (late["attempt"] > 1).sum() > (late["attempt"] == 1).sum()  # more retries than first tries


# --- offered load against capacity -------------------------------------------------------------


def test_overload_names_the_deployment_the_interval_and_the_numbers():
    """150 req/s at 10 ms on one worker is 1.5× capacity until 4 pods take over at 20 s."""
    result = run(rate=150, duration=30, events=[(20, 4)], nodes=2, seed=1)
    assert warnings_of(result, "deployment web") == [
        "deployment web: offered load 1.5× capacity from 0s to 20s (λ 150 req/s, 1 pod × 1 worker, E[S] 10ms): "
        "queues grow without bound while it lasts"
    ]


def test_load_just_below_capacity_is_silent_and_at_capacity_warns():
    assert warnings_of(run(rate=95, duration=5), "deployment web") == []
    # Constant 10 ms service, 2 workers, 200 req/s: exactly 1.0×, which is no stable queue either.
    at = run(rate=200, arrival="constant", service_time="10ms", concurrency=2, duration=5)
    assert [w.split(" (")[0] for w in warnings_of(at, "deployment web")] == [
        "deployment web: offered load 1.0× capacity from 0s to 5s"
    ]


def test_a_deployment_with_no_pod_routed_is_said_to_refuse():
    """Its pods fit no node, so they stay Pending and every request is refused."""
    docs = list(yaml.safe_load_all(scenario_yaml(rate=20, duration=10)))
    docs[1]["spec"]["template"]["spec"]["nodeSelector"] = {"disk": "nvme"}
    result = sim.simulate(sim.load_scenario(yaml.safe_dump_all(docs)))
    assert result.summary["outcomes"]["refused"] == result.summary["requests"]
    assert warnings_of(result, "deployment web") == [
        "deployment web: no pod routed from 0s to 10s while clients offer up to 20 req/s: those requests are refused",
        "deployment web: 1 pod waited Pending for a node (from 0s, the longest 10s; 1 still Pending at the end): "
        "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are "
        "available: 1 Preemption is not helpful for scheduling.",
    ]


# --- latency bounds the service time alone forbids ----------------------------------------------

LOGNORMAL = {"distribution": "lognormal", "mean": "25ms", "cv": 1.5}


def test_a_p99_below_the_service_times_own_p99_is_warned_at_validate(tmp_path, capsys):
    """lognormal mean 25 ms, cv 1.5 has p99 173 ms: a p99 of 150 ms is impossible, p90 200 ms is not."""
    docs = list(yaml.safe_load_all(scenario_yaml(service_time=LOGNORMAL)))
    docs[2]["spec"]["slo"] = {"latency": {"p99": "150ms", "p90": "200ms"}}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    assert main(["validate", str(path)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].endswith(
        "spec.slo.latency.p99: 150 ms is below what the service time alone allows: the service time of web "
        "has p99 173 ms, so no replica count can meet it"
    )


def test_the_impossible_target_warning_reaches_the_summary_and_a_feasible_one_is_silent():
    result = run(slo={"latency": {"p99": "150ms"}}, service_time=LOGNORMAL, rate=10, duration=3)
    assert len(warnings_of(result, "spec.slo.latency.p99: 150 ms")) == 1
    assert run(slo={"latency": {"p99": "200ms"}}, service_time=LOGNORMAL, rate=10, duration=3).summary["warnings"] == []


def test_a_client_timeout_silences_the_impossible_target_warning():
    """Latency is measured over ok requests, and with a 150 ms timeout every ok one is faster
    than that: the service time's own p99 no longer bounds the measured p99."""
    result = run(
        slo={"latency": {"p99": "150ms"}},
        service_time=LOGNORMAL,
        duration=3,
        clients=[{"name": "c0", "rate": 10, "timeout": "150ms"}],
    )
    assert result.summary["warnings"] == []


def test_an_overloaded_span_and_a_span_without_pods_get_a_warning_each():
    """One pod at twice its capacity until it is deleted at 8 s and exits (its app exits on
    SIGTERM), then none: two lines."""
    result = run(rate=200, duration=10, events=[(8, 0)], workload={"shutdown": {"onSigterm": "exit"}}, seed=1)
    lines = warnings_of(result, "deployment web")
    assert len(lines) == 2
    assert lines[0].startswith("deployment web: no pod routed from 8")
    assert lines[1].startswith("deployment web: offered load 2.0× capacity from 0s to 8")


@pytest.mark.parametrize(
    ("dist", "frozen"),
    [
        (Exponential(0.01), stats.expon(scale=0.01)),
        (LogNormal(0.025, 1.5), stats.lognorm(s=np.sqrt(np.log1p(1.5**2)), scale=0.025 / np.sqrt(1 + 1.5**2))),
        (Gamma(0.01, 0.5), stats.gamma(a=4, scale=0.0025)),
        (Uniform(0.001, 0.003), stats.uniform(loc=0.001, scale=0.002)),
    ],
    ids=["exponential", "lognormal", "gamma", "uniform"],
)
def test_quantiles_and_cdf_agree_with_scipy_stats(dist, frozen):
    for q in (0.01, 0.5, 0.9, 0.99, 0.999):
        assert dist.quantile(q) == pytest.approx(frozen.ppf(q), rel=1e-9)
        assert dist.cdf(dist.quantile(q)) == pytest.approx(q, rel=1e-9)
    assert dist.mean == pytest.approx(frozen.mean(), rel=1e-12)


def test_the_constant_distributions_quantile_is_its_value():
    assert Constant(0.01).quantile(0.99) == 0.01 and Constant(0.01).cdf(0.00999) == 0.0


# --- steady state -----------------------------------------------------------------------------


def test_a_queue_that_grows_through_the_window_is_named_with_its_numbers():
    result = run(rate=150, duration=40, warmup=5, seed=2)
    (warning,) = warnings_of(result, "latency grows")
    assert "in the first quarter (5s–13.8s)" in warning and "p < 0.001 over 20 batch means" in warning


def test_mser5_finds_the_end_of_a_transient_to_within_a_batch():
    """1 000 values at 10, then 9 000 around 1 (seed 0): the truncation is the transient's end."""
    rng = np.random.default_rng(0)
    values = np.concatenate([np.full(1000, 10.0), rng.normal(1.0, 0.1, 9000)])
    assert mser5(values) in (1000, 1005)
    assert mser5(np.full(100, 1.0)) == 0


def test_a_warmup_shorter_than_the_settling_time_is_said_with_a_suggestion():
    """One pod at 1.5× capacity for 20 s, then four: its queue drains by about 36 s (seed 1)."""
    result = run(rate=150, duration=300, events=[(20, 4)], nodes=2, seed=1)
    (warning,) = warnings_of(result, "spec.warmup")
    assert warning.startswith("spec.warmup 0s is shorter than the time the run takes to settle: MSER-5")
    suggested = float(warning.split("suggests ")[1].split("s;")[0])
    assert 25 <= suggested <= 45, warning
    assert warning.endswith(f"use warmup: {int(np.ceil(suggested))}s or more")
    # With that warm-up the same run is silent on it.
    longer = run(rate=150, duration=300, events=[(20, 4)], nodes=2, seed=1, warmup=float(np.ceil(suggested)))
    assert warnings_of(longer, "spec.warmup") == []


def test_run_warnings_go_to_stderr_one_line_each(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text(scenario_yaml(rate=150, duration=5))
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet", "--no-plots"]) == 0
    capacity, trend = capsys.readouterr().err.splitlines()
    assert capacity == (
        "warning: deployment web: offered load 1.5× capacity from 0s to 5s (λ 150 req/s, 1 pod × 1 worker, "
        "E[S] 10ms): queues grow without bound while it lasts"
    )
    assert trend.startswith("warning: latency grows through the measurement window: ")


@pytest.mark.parametrize(("limit", "warned"), [(None, False), ("1", True), ("4", False)])
def test_a_cpu_limit_that_throttles_counts_in_the_capacity_warning(limit, warned):
    """One pod of 4 workers, 10 ms per request at one core each: 400 req/s unthrottled, 100 with a
    1-CPU limit (docs/semantics.md#cpu-limits-cfs-throttling); 150 req/s overloads only the
    latter, by 1.5×. A limit of 4 CPUs never throttles 4 workers."""
    docs = list(yaml.safe_load_all(scenario_yaml(concurrency=4, rate=150.0, duration=5.0)))
    if limit is not None:
        docs[1]["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"cpu": limit}}
    scenario = sim.load_scenario(yaml.safe_dump_all(docs, sort_keys=False))
    found = [w for w in sim.simulate(scenario, seed=1).summary["warnings"] if "offered load" in w]
    assert bool(found) == warned
    if warned:
        assert "1.5× capacity" in found[0] and "1 pod × 1 worker at its CPU limit" in found[0]


def test_pods_that_wait_for_a_node_are_warned_about():
    """Two nodes of 1 CPU, pods requesting 600m: one pod per node fits, a scale to 3 at 5 s leaves
    the third Pending to the end (FailedScheduling in the scheduler's words)."""
    docs = list(yaml.safe_load_all(scenario_yaml(nodes=2, replicas=2, duration=20.0, events=[(5.0, 3)])))
    docs[1]["spec"]["template"]["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "600m"}}
    docs[2]["spec"]["cluster"]["allocatable"] = {"cpu": "1"}
    result = sim.simulate(sim.load_scenario(yaml.safe_dump_all(docs, sort_keys=False)), seed=1)
    [pending] = warnings_of(result, "waited Pending")
    assert pending.startswith("deployment web: 1 pod waited Pending for a node (from 5s, the longest 15s; ")
    assert "1 still Pending at the end): 0/2 nodes are available: 2 Insufficient cpu." in pending


def test_a_run_with_a_pod_never_scheduled_prints_and_saves_it_without_a_node(tmp_path, capsys):
    """The console's pods table and summary.json show a pod that never got a node as <none> / null."""
    docs = list(yaml.safe_load_all(scenario_yaml(nodes=1, replicas=2, duration=2.0)))
    docs[1]["spec"]["template"]["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "600m"}}
    docs[2]["spec"]["cluster"]["allocatable"] = {"cpu": "1"}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--no-plots"]) == 0
    assert "<none>" in capsys.readouterr().out
    pods = json.loads((tmp_path / "out" / "summary.json").read_text())["pods"]
    assert sorted(p["node"] is None for p in pods.values()) == [False, True]
