"""Regression tests for the lifecycle review's findings (issue 10): each one a bug that was
found, with the rule it breaks."""

from __future__ import annotations

import dataclasses

from test_lifecycle_timelines import build, events, rows, simulate, with_workload

from sim.distributions import parse_distribution
from sim.kube.deployment import PreStop, Probe
from sim.runtime.requests.outcomes import TCP_HANG_S
from sim.scenario.simulation import CrashEvent, NodeEvent, OnSigterm, ProbeFailure, RolloutEvent, ScaleEvent, Shutdown


def one_node_zero_latency(scenario):
    network = dataclasses.replace(
        scenario.simulation.cluster.network,
        client_to_node=parse_distribution(0),
        node_to_node=parse_distribution(0),
    )
    cluster = dataclasses.replace(scenario.simulation.cluster, network=network)
    return dataclasses.replace(scenario, simulation=dataclasses.replace(scenario.simulation, cluster=cluster))


def test_a_container_dead_in_its_back_off_when_its_node_fails_serves_again_after_recovery():
    """Crash at 1 s (restart at once), crash at 2 s (10 s back-off), node fails at 3 s and is back
    at 5 s: the container restarts at 5 s and every request after 6 s is served (the back-off's
    closed window must end with the restart, not stay open)."""
    scenario = build(
        replicas=1,
        nodes=2,
        duration="30s",
        rate=10,
        events=(
            CrashEvent(1.0, deployment="web"),
            CrashEvent(2.0, deployment="web"),
            NodeEvent(3.0, "fail", node="node-1"),
            NodeEvent(5.0, "recover", node="node-1"),
        ),
        node_name="node-1",  # the failed node: the scheduler's tie-break would pick either
    )
    ran = simulate(scenario)
    assert ran.pods["node"].tolist() == ["node-1"]
    later = ran.requests[ran.requests["t_sent"] >= 6.0]
    assert len(later) > 100 and (later["outcome"] == "ok").all()


def test_an_app_that_exits_on_sigterm_is_gone_as_soon_as_nothing_routes_to_it():
    scenario = build(replicas=2, rate=5, duration="40s", events=(ScaleEvent(3.0, "web", 1),))
    scenario = with_workload(
        scenario, service_time=parse_distribution("1s"), shutdown=Shutdown(on_sigterm=OnSigterm.EXIT)
    )
    ran = simulate(scenario)
    removed = ran.pods.dropna(subset=["terminating"]).iloc[0]
    assert removed["deleted"] == removed["unrouted"] == 4.0  # deleted at 3 s, syncDelay 1 s, nothing left to finish


def test_sigkill_comes_at_least_two_seconds_after_sigterm():
    """Grace 1 s, no hook: SIGTERM at deletion (1.2 s), SIGKILL 2 s later, not 1 s: a 1.5 s request
    that arrived at 1 s finishes at 2.5 s. A 5 s preStop sleep with a 5 s grace period: SIGTERM at
    the end of the grace period, SIGKILL 2 s after it."""
    scenario = build(
        replicas=1,
        rate=1,
        duration="20s",
        events=(ScaleEvent(1.2, "web", 0),),
        grace_period_s=1.0,
    )
    scenario = with_workload(
        scenario, service_time=parse_distribution("1500ms"), shutdown=Shutdown(on_sigterm=OnSigterm.DRAIN)
    )
    ran = simulate(scenario)
    early = ran.requests[ran.requests["t_sent"] < 1.2]
    assert (early["outcome"] == "ok").all()
    slept = build(
        replicas=1,
        rate=1,
        duration="20s",
        events=(ScaleEvent(1.2, "web", 0),),
        grace_period_s=5.0,
        pre_stop=PreStop("sleep", 5.0),
    )
    slept = with_workload(slept, service_time=parse_distribution("7s"))
    ran = simulate(slept)
    pod = ran.pods.iloc[0]
    assert pod["deleted"] == 1.2 + 5.0 + 2.0


def test_a_request_in_a_pod_whose_node_dies_hangs_even_with_no_way_back():
    """With zero network latency a request served on a node that fails is still cut at the failure:
    its connection hangs until the client's timeout, it is not reset."""
    scenario = one_node_zero_latency(
        build(replicas=1, nodes=1, rate=2, duration="3s", events=(NodeEvent(1.2, "fail", node="node-1"),))
    )
    scenario = with_workload(scenario, service_time=parse_distribution("1s"))
    client = dataclasses.replace(scenario.simulation.clients[0], timeout_s=5.0)
    scenario = dataclasses.replace(scenario, simulation=dataclasses.replace(scenario.simulation, clients=(client,)))
    ran = simulate(scenario)
    cut = ran.requests[(ran.requests["t_sent"] < 1.2) & (ran.requests["t_done"] > 1.2)]
    assert len(cut) > 0 and set(cut["outcome"]) == {"timeout"}
    assert "reset" not in set(ran.requests["outcome"])


def test_without_a_client_timeout_a_hung_request_ends_when_tcp_gives_up():
    """No client timeout: a request in flight on a node that fails at 1.2 s hangs until the kernel
    gives up on the connection, tcp_retries2's 924.6 s later."""
    scenario = build(replicas=1, nodes=1, rate=2, duration="3s", events=(NodeEvent(1.2, "fail", node="node-1"),))
    scenario = with_workload(scenario, service_time=parse_distribution("1s"))
    ran = simulate(scenario)
    hung = ran.requests[(ran.requests["t_sent"] < 1.2) & (ran.requests["t_done"] > 1.2)]
    assert len(hung) > 0 and set(hung["outcome"]) == {"timeout"}
    assert hung["t_done"].tolist() == [1.2 + TCP_HANG_S] * len(hung) and TCP_HANG_S == 924.6


def test_two_rollouts_at_one_instant_report_one_progress_deadline():
    scenario = build(replicas=2, duration="60s", progress_deadline_s=10.0)
    stuck = dataclasses.replace(scenario.simulation.workloads["web"], startup_time_s=1000.0)
    scenario = dataclasses.replace(
        scenario,
        simulation=dataclasses.replace(
            scenario.simulation, events=(RolloutEvent(5.0, "web", stuck), RolloutEvent(5.0, "web", stuck))
        ),
    )
    ran = simulate(scenario)
    assert [t for t, _, _ in events(ran, "ProgressDeadlineExceeded")] == [16.0]


def test_scale_down_deletes_the_pod_ready_for_the_least_time_with_the_most_restarts_first():
    scenario = build(
        replicas=3, nodes=1, duration="20s", events=(CrashEvent(5.0, deployment="web"), ScaleEvent(10.0, "web", 2))
    )
    ran = simulate(scenario)
    crashed = [obj for _, obj, _ in events(ran, "Crashed")]
    deleted = [m.removeprefix("Deleted pod: ") for _, _, m in events(ran, "SuccessfulDelete")]
    assert crashed == [f"pod/{deleted[0]}"]


def test_after_a_restart_probes_see_the_new_containers_empty_queue():
    """An overloaded pod (1 s requests at 5/s) fails readiness on its queue wait; a crash at 5 s
    restarts it with an empty queue, so the probe at 5 s passes (it must not read the dead
    container's queue)."""
    scenario = build(
        replicas=1,
        rate=5,
        duration="20s",
        events=(CrashEvent(5.0, deployment="web"),),
        readiness_probe=Probe(period_s=1),
    )
    scenario = with_workload(
        scenario,
        service_time=parse_distribution("1s"),
        probe_failure=ProbeFailure(wait_above_timeout=True, probes=("readiness",)),
    )
    name = simulate(scenario).pods["pod"].iloc[0]  # unready by 5 s, so crash it by name
    scenario = dataclasses.replace(
        scenario, simulation=dataclasses.replace(scenario.simulation, events=(CrashEvent(5.0, pod=name),))
    )
    ran = simulate(scenario)
    assert rows(ran, "not ready")[0][0] < 5.0
    assert (5.0, name) in rows(ran, "ready")
