"""Statistical tests for issue 10: what faults and rollouts cost, against simple arithmetic.

Each expected count is rate × share × window for a Poisson stream split at random among
endpoints, so the count is Poisson; tolerances are 4 standard deviations (seed fixed).
"""

from __future__ import annotations

import math

import numpy as np

from sim.distributions import parse_distribution
from sim.kube.deployment import PreStop, Strategy
from sim.scenario.simulation import NodeEvent, OnSigterm, RolloutEvent, Shutdown
from test_lifecycle_timelines import build, simulate, with_workload


def within_poisson(count: int, expected: float, sds: float = 4.0) -> bool:
    return abs(count - expected) <= sds * math.sqrt(expected) + 1


def assert_one_outcome_each(ran: object) -> None:
    req = ran.requests  # type: ignore[attr-defined]
    assert req["outcome"].notna().all()
    assert np.isfinite(req["t_done"]).all()
    assert (req["t_done"] >= req["t_sent"]).all()


def test_requests_lost_to_a_failed_node_until_its_endpoints_drop() -> None:
    """Six pods, one per node; node-2 fails at 120 s and its endpoint leaves the dataplanes at
    176 s (Unknown at 175 s + syncDelay 1 s). A client on node-1 at 300 req/s loses ≈ 300 × 1/6 ×
    56 s = 2 800 requests, each a connect timeout (1 s), none after 176 s (seed 3, 4 sd)."""
    rate, window = 300.0, 176.0 - 120.0
    scenario = build(replicas=6, nodes=6, rate=rate, duration="260s", events=(NodeEvent(120.0, "fail", node="node-2"),))
    ran = simulate(scenario)
    assert_one_outcome_each(ran)
    req = ran.requests
    lost = req[req["outcome"] != "ok"]
    assert set(lost["outcome"]) == {"timeout"}
    assert lost["t_sent"].min() >= 120.0 - 0.01 and lost["t_sent"].max() < 176.0
    expected = rate * window / 6
    assert within_poisson(len(lost), expected), (len(lost), expected)
    blackholed = lost[lost["t_sent"] >= 120.0]
    assert np.allclose(blackholed["latency"], 1.0)  # the client's connectTimeout


def refused_in_rollout(
    pre_stop: float | None, on_sigterm: OnSigterm = OnSigterm.STOP_ACCEPTING, drain_timeout: float | None = None
) -> tuple[int, int]:
    """A rolling update of 4 pods (surge 1, unavailable 0) at 400 req/s: (refused, ok)."""
    scenario = build(
        replicas=4,
        nodes=2,
        startup="5s",
        rate=400,
        duration="80s",
        events=(RolloutEvent(20.0, "web"),),
        strategy=Strategy(max_surge=1, max_unavailable=0),
        pre_stop=None if pre_stop is None else PreStop("sleep", pre_stop),
    )
    scenario = with_workload(scenario, shutdown=Shutdown(on_sigterm=on_sigterm, drain_timeout_s=drain_timeout))
    ran = simulate(scenario)
    assert_one_outcome_each(ran)
    outcome = ran.requests["outcome"]
    assert len(ran.pods) == 8 and ran.pods["terminating"].notna().sum() == 4
    return int((outcome == "refused").sum()), int((outcome == "ok").sum())


def test_a_rollout_without_prestop_refuses_rate_times_share_times_sync_delay_per_pod() -> None:
    """Each old pod stops listening when deleted and leaves the dataplanes 1 s later, while it
    holds 1/4 of the routes: 400 × 1/4 × 1 s = 100 refused per pod, 400 for four (seed 3, 4 sd)."""
    refused, _ = refused_in_rollout(None)
    assert within_poisson(refused, 4 * 400 * 0.25 * 1.0), refused


def test_a_prestop_sleep_of_at_least_sync_delay_removes_the_refusals() -> None:
    refused, ok = refused_in_rollout(2.0)
    assert refused == 0 and ok > 0
    refused, _ = refused_in_rollout(1.0)  # exactly syncDelay: the listener closes as the rules go
    assert refused == 0


def test_an_app_that_drains_on_sigterm_loses_nothing_either() -> None:
    refused, _ = refused_in_rollout(None, OnSigterm.DRAIN)
    assert refused == 0


def test_a_drain_timeout_shorter_than_sync_delay_refuses_for_what_is_left_of_it() -> None:
    """drainTimeout 0.5 s: each old pod accepts for 0.5 s after SIGTERM, then refuses until the
    rules drop it at 1 s: 400 × 1/4 × 0.5 s = 50 per pod, 200 for four (seed 3, 4 sd)."""
    refused, _ = refused_in_rollout(None, OnSigterm.DRAIN, drain_timeout=0.5)
    assert within_poisson(refused, 4 * 400 * 0.25 * 0.5), refused


def test_an_app_that_exits_on_sigterm_resets_what_it_holds() -> None:
    """``onSigterm: exit`` with 200 ms requests: what each old pod holds at SIGTERM is reset then
    (at the deletion instant, no preStop), later arrivals refused until the rules drop it."""
    scenario = build(
        replicas=2,
        rate=8,
        duration="60s",
        events=(RolloutEvent(10.0, "web"),),
        strategy=Strategy(max_surge=1, max_unavailable=0),
    )
    scenario = with_workload(
        scenario, shutdown=Shutdown(on_sigterm=OnSigterm.EXIT), service_time=parse_distribution("200ms")
    )
    ran = simulate(scenario)
    assert_one_outcome_each(ran)
    req = ran.requests
    deleted = ran.pods.dropna(subset=["terminating"]).set_index("pod")["terminating"]
    reset = req[req["outcome"] == "reset"]
    assert len(reset) > 0
    assert np.allclose(reset["t_done"] - reset["pod"].map(deleted).astype(float), 0.0, atol=0.01)
    stayed = req[(req["outcome"] == "ok") & req["pod"].isin(deleted.index)]
    assert (stayed["t_done"] <= stayed["pod"].map(deleted).astype(float) + 0.01).all()
