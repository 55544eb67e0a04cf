"""Event-log tests for issue 10: the exact timelines of probes, crashes, node failures and rollouts.

Each test builds a small scenario, runs it, and pins the times at which the controllers act,
derived by hand from the rules in docs/semantics.md (Probes, Crashes and restarts, Node
failure, Rolling updates).
"""

from __future__ import annotations

import copy
import dataclasses

import pandas as pd
import pytest

import sim
from sim.distributions import parse_distribution
from sim.kube.deployment import PreStop, Probe, Strategy
from sim.results.result import build_result
from sim.runtime.run import RunRecord, run
from sim.runtime.kubelet import backoff_delay
from sim.scenario.simulation import (
    CrashEvent,
    Failures,
    NodeEvent,
    OnSigterm,
    ProbeFailure,
    RolloutEvent,
    ScaleEvent,
    Shutdown,
)

BASE = """apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 80, nodePort: 30080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: REPLICAS
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: app, image: app, ports: [{containerPort: 80}]}]
---
apiVersion: svcsim/v1alpha1
kind: Simulation
metadata: {name: lifecycle}
spec:
  seed: 3
  duration: DURATION
  cluster: {nodes: NODES}
  kubeProxy: {syncDelay: 1s}
  workloads:
    web: {serviceTime: 5ms, startupTime: STARTUP}
  clients:
    - {name: c, location: node-1, target: {service: web, via: clusterIP}, rate: RATE}
"""


def build(
    replicas: int = 3,
    nodes: int = 3,
    duration: str = "200s",
    startup: str = "0s",
    rate: float = 50,
    events: tuple = (),
    **deployment: object,
) -> sim.Scenario:
    text = (
        BASE.replace("REPLICAS", str(replicas))
        .replace("DURATION", duration)
        .replace("NODES", str(nodes))
        .replace("STARTUP", startup)
        .replace("RATE", str(rate))
    )
    scenario = sim.load_scenario(text)
    dep = dataclasses.replace(scenario.deployments[0], **deployment)
    simulation = dataclasses.replace(scenario.simulation, events=tuple(events))
    return dataclasses.replace(scenario, deployments=(dep,), simulation=simulation)


def with_workload(scenario: sim.Scenario, **changes: object) -> sim.Scenario:
    simulation = scenario.simulation
    workload = dataclasses.replace(simulation.workloads["web"], **changes)
    return dataclasses.replace(scenario, simulation=dataclasses.replace(simulation, workloads={"web": workload}))


class Ran:
    """A run's result and its record (the record holds the events and pod statuses)."""

    def __init__(self, record: RunRecord) -> None:
        self.record = record
        self.result = build_result(record)
        self.timeline = self.result.timeline
        self.pods = self.result.pods
        self.requests = self.result.requests


def simulate(scenario: sim.Scenario) -> Ran:
    return Ran(run(scenario))


def rows(result: Ran, event: str) -> list[tuple[float, str]]:
    tl = result.timeline
    mine = tl[tl["event"] == event]
    return list(zip(mine["time"].round(9), mine["pod"], strict=True))


def events(result: Ran, reason: str) -> list[tuple[float, str, str]]:
    return [(e["time"], e["object"], e["message"]) for e in result.record.events if e["reason"] == reason]


@pytest.mark.parametrize(
    ("startup", "delay", "period", "ready"),
    [
        ("12s", 0, 10, 120.0),  # ticks 100, 110, 120: the app is up at 112
        ("3s", 5, 10, 110.0),  # the first tick counts at k × 10 ≥ 5: 110
        ("0s", 0, 10, 100.0),  # up at once: the tick at the start passes
        ("25s", 0, 7, 128.0),  # ticks 100, 107, ..., 128 (up at 125)
    ],
)
def test_a_new_pod_is_ready_on_its_readiness_probe_grid(startup: str, delay: int, period: int, ready: float) -> None:
    """A pod created at 100 s: Ready at the first readiness tick at or after its app is up."""
    scenario = build(
        replicas=1,
        startup=startup,
        events=(ScaleEvent(100.0, "web", 2),),
        readiness_probe=Probe(initial_delay_s=delay, period_s=period),
    )
    result = simulate(scenario)
    created = rows(result, "created")
    assert [t for t, _ in created] == [100.0]
    assert rows(result, "ready") == [(ready, created[0][1])]
    # The dataplanes route it one syncDelay later.
    pods = result.pods.set_index("pod")
    assert pods.loc[created[0][1], "routed"] == pytest.approx(ready + 1.0)


def test_without_a_readiness_probe_a_pod_is_ready_when_its_app_is_up() -> None:
    result = simulate(build(replicas=1, startup="12s", events=(ScaleEvent(100.0, "web", 2),)))
    assert [t for t, _ in rows(result, "ready")] == [112.0]


def test_a_slow_app_without_a_startup_probe_is_killed_by_its_liveness_probe() -> None:
    """Liveness period 10, threshold 3, app up after 45 s: ticks at 100, 110, 120 fail, the
    container is killed at 120 and restarts at once (back-off 0): again at 140 (ticks 120, 130,
    140), then 10 s back-off... it is never Ready."""
    scenario = build(
        replicas=1,
        startup="45s",
        duration="300s",
        events=(ScaleEvent(100.0, "web", 2),),
        liveness_probe=Probe(),
    )
    result = simulate(scenario)
    crashes = [t for t, _ in rows(result, "crashed (failed liveness probe)")]
    restarts = [t for t, _ in rows(result, "restarted")]
    assert crashes[:3] == [120.0, 140.0, 170.0]
    assert restarts[:3] == [120.0, 150.0, 190.0]  # back-off 0, 10, 20
    assert rows(result, "ready") == []
    assert events(result, "Unhealthy")[0][2].startswith("Liveness probe failed")


def test_a_startup_probe_protects_a_slow_app_from_liveness() -> None:
    """The same app with a startup probe (period 10, threshold 10): it passes at 150 (up at 145),
    then readiness (no probe) makes it Ready at 150; no restart."""
    scenario = build(
        replicas=1,
        startup="45s",
        duration="300s",
        events=(ScaleEvent(100.0, "web", 2),),
        liveness_probe=Probe(),
        startup_probe=Probe(failure_threshold=10),
    )
    result = simulate(scenario)
    assert rows(result, "restarted") == []
    assert [t for t, _ in rows(result, "ready")] == [150.0]


def test_crash_loop_back_off_waits_0_10_20_40_up_to_300_seconds() -> None:
    """A container that crashes right after each start: restarts after 0, 10, 20, 40, 80, 160,
    300, 300 s (kubelet back-off), RESTARTS counting them."""
    scenario = with_workload(
        build(replicas=1, duration="1500s"),
        failures=Failures(mean_time_between_s=1e-6),
    )
    result = simulate(scenario)
    crashed = [t for t, _ in rows(result, "crashed (crashed)")]
    restarted = [t for t, _ in rows(result, "restarted")]
    waits = [round(r - c, 6) for c, r in zip(crashed, restarted, strict=False)]
    assert waits[:8] == [backoff_delay(n) for n in range(1, 9)] == [0, 10, 20, 40, 80, 160, 300, 300]
    status = result.record.pod_status
    assert max(s["restarts"] for s in status) == len(restarted)
    assert any(s["status"] == "CrashLoopBackOff" for s in status)
    assert [e[0] for e in events(result, "BackOff")] == pytest.approx(crashed[1:], abs=1e-8)  # all but the first wait


def test_a_crash_resets_the_pods_requests_and_refuses_until_endpoints_drop() -> None:
    """A crash at 60 s: requests in the pod then are reset at 60 s; arrivals while it restarts are
    refused; after syncDelay nothing routes to it until it is Ready again (startup 5 s)."""
    scenario = build(
        replicas=2, startup="5s", rate=400, duration="100s", events=(CrashEvent(60.0, deployment="web", count=1),)
    )
    result = simulate(scenario)
    req = result.requests
    crashed = rows(result, "crashed (crash event)")
    assert [t for t, _ in crashed] == [60.0]
    pod = crashed[0][1]
    reset = req[req["outcome"] == "reset"]
    assert (reset["pod"] == pod).all() and ((reset["t_done"] - 60.0).abs() < 0.01).all()
    refused = req[req["outcome"] == "refused"]
    assert len(refused) > 0
    assert ((refused["t_sent"] >= 60.0) & (refused["t_sent"] < 61.01)).all()
    assert rows(result, "ready") == [(65.0, pod)]


def test_node_failure_timeline() -> None:
    """node-2 fails at 120 s (lease renewed at 120, grace 50 s): Ready=Unknown at the first 5 s
    monitor tick after 170, 175 s; its pods unready then and out of the dataplanes at 176 s; the
    NoExecute taint one monitor tick later, 180 s (the controller acts on the condition it read
    before updating it), eviction 300 s later at 480 s; replacements created on the other nodes
    then, Ready after startupTime (5 s), routed 1 s later."""
    scenario = build(
        replicas=6,
        nodes=6,
        startup="5s",
        duration="600s",
        rate=60,
        events=(NodeEvent(120.0, "fail", node="node-2"),),
    )
    result = simulate(scenario)
    nodes = result.pods.set_index("pod")
    on_2 = sorted(nodes.index[nodes["node"] == "node-2"])
    assert len(on_2) == 1
    (lost,) = on_2
    assert events(result, "NodeFailed") == [(120.0, "node/node-2", "Node node-2 stopped answering (svcsim fault)")]
    assert [e[:2] for e in events(result, "NodeNotReady")] == [(175.0, "node/node-2"), (175.0, f"pod/{lost}")]
    assert rows(result, "not ready") == [(175.0, lost)]
    assert nodes.loc[lost, "unrouted"] == pytest.approx(176.0)
    assert [e[:2] for e in events(result, "TaintManagerEviction")] == [(480.0, f"pod/{lost}")]
    created = rows(result, "created")
    assert [t for t, _ in created] == [480.0]
    replacement = created[0][1]
    assert nodes.loc[replacement, "node"] != "node-2"
    assert nodes.loc[replacement, "ready"] == pytest.approx(485.0)
    assert nodes.loc[replacement, "routed"] == pytest.approx(486.0)
    assert nodes.loc[lost, "terminating"] == pytest.approx(480.0)
    assert pd.isna(nodes.loc[lost, "deleted"])  # never: the node stays away
    shown = [(s["time"], s["status"], s["ready"]) for s in result.record.pod_status if s["pod"] == lost]
    assert shown == [(0.0, "Running", "1/1"), (175.0, "Running", "0/1"), (480.0, "Unknown", "0/1")]


def test_node_monitor_grace_period_of_40_seconds_gives_unknown_at_165() -> None:
    scenario = build(replicas=3, nodes=3, duration="300s", events=(NodeEvent(120.0, "fail", node="node-2"),))
    cluster = dataclasses.replace(scenario.simulation.cluster, node_monitor_grace_period_s=40.0)
    scenario = dataclasses.replace(scenario, simulation=dataclasses.replace(scenario.simulation, cluster=cluster))
    result = simulate(scenario)
    assert [e[0] for e in events(result, "NodeNotReady")][:1] == [165.0]


def test_a_recovered_node_restarts_its_pods_and_takes_new_ones() -> None:
    scenario = build(
        replicas=3,
        nodes=3,
        startup="2s",
        duration="400s",
        events=(NodeEvent(100.0, "fail", node="node-2"), NodeEvent(200.0, "recover", node="node-2")),
    )
    result = simulate(scenario)
    assert [e[0] for e in events(result, "NodeReady")] == [200.0]
    restarted = rows(result, "restarted")
    assert [t for t, _ in restarted] == [200.0]
    pods = result.pods.set_index("pod")
    assert pods.loc[restarted[0][1], "node"] == "node-2"
    # Ready again once its app is up: 202 s.
    assert (202.0, restarted[0][1]) in rows(result, "ready")
    assert result.record.pod_status[-1]["restarts"] == 1


def steps(result: Ran) -> list[tuple[float, str, str]]:
    """The Deployment controller's ScalingReplicaSet events after the one that created it at 0."""
    return [e for e in events(result, "ScalingReplicaSet") if e[0] > 0]


def scaling_messages(result: Ran) -> list[str]:
    return [m for _, _, m in steps(result)]


def short(messages: list[str], old: str, new: str) -> list[str]:
    return [
        m.replace(old, "OLD").replace(new, "NEW").replace("Scaled ", "").replace(" replica set ", " ") for m in messages
    ]


def rollout_names(result: Ran) -> tuple[str, str]:
    names = sorted({p.rsplit("-", 1)[0] for p in result.pods["pod"]})
    created = rows(result, "created")
    new = created[0][1].rsplit("-", 1)[0]
    (old,) = [n for n in names if n != new]
    return old, new


def test_rolling_update_4_replicas_surge_25_unavailable_0() -> None:
    """maxSurge 25 % of 4 → 1 (up), maxUnavailable 0: one new pod, then one old pod down as each
    new one is available (rolling.go: reconcileNewReplicaSet, then reconcileOldReplicaSets)."""
    scenario = build(
        replicas=4,
        nodes=2,
        startup="5s",
        duration="100s",
        events=(RolloutEvent(20.0, "web"),),
        strategy=Strategy(max_surge="25%", max_unavailable=0),
    )
    result = simulate(scenario)
    old, new = rollout_names(result)
    assert short(scaling_messages(result), old, new) == [
        "up NEW from 0 to 1",
        "down OLD from 4 to 3",
        "up NEW from 1 to 2",
        "down OLD from 3 to 2",
        "up NEW from 2 to 3",
        "down OLD from 2 to 1",
        "up NEW from 3 to 4",
        "down OLD from 1 to 0",
    ]
    times = [t for t, _, _ in steps(result)]
    assert times == [20.0, 25.0, 25.0, 30.0, 30.0, 35.0, 35.0, 40.0]
    assert all(name.startswith(new) for _, name in rows(result, "created"))


def test_rolling_update_10_replicas_surge_25_unavailable_25() -> None:
    """maxSurge ceil(2.5) = 3, maxUnavailable floor(2.5) = 2 (minAvailable 8). At 20 s: new 0→3,
    old 10→8 (13 − 8 − 3 unavailable new = 2), new 3→5 (total back to 13). At 25 s the five new pods
    are available: old 8→3 (13 − 8 − 0), new 5→10. At 30 s: old 3→0."""
    scenario = build(
        replicas=10,
        nodes=3,
        startup="5s",
        duration="100s",
        events=(RolloutEvent(20.0, "web"),),
    )
    result = simulate(scenario)
    old, new = rollout_names(result)
    assert short(scaling_messages(result), old, new) == [
        "up NEW from 0 to 3",
        "down OLD from 10 to 8",
        "up NEW from 3 to 5",
        "down OLD from 8 to 3",
        "up NEW from 5 to 10",
        "down OLD from 3 to 0",
    ]
    times = [t for t, _, _ in steps(result)]
    assert times == [20.0, 20.0, 20.0, 25.0, 25.0, 30.0]


def test_recreate_deletes_every_old_pod_before_the_new_ones_start() -> None:
    scenario = build(
        replicas=3,
        startup="5s",
        duration="100s",
        events=(RolloutEvent(20.0, "web"),),
        strategy=Strategy(type="Recreate"),
    )
    result = simulate(scenario)
    old, new = rollout_names(result)
    assert short(scaling_messages(result), old, new) == ["down OLD from 3 to 0", "up NEW from 0 to 3"]
    deleted = [t for t, _ in rows(result, "deleted")]
    up_at = steps(result)[1][0]
    assert max(deleted) <= up_at


def test_a_rollout_that_never_becomes_ready_exceeds_its_progress_deadline() -> None:
    """New pods that never pass readiness (startup longer than the run): the Deployment reports
    ProgressDeadlineExceeded when the controller looks again, progressDeadlineSeconds (60 s here)
    plus 1 s after the last progress (requeueStuckDeployment; the deadline is strictly passed)."""
    scenario = build(
        replicas=2,
        duration="300s",
        events=(RolloutEvent(20.0, "web"),),
        progress_deadline_s=60.0,
    )
    scenario = dataclasses.replace(
        scenario,
        simulation=dataclasses.replace(
            scenario.simulation,
            events=(
                RolloutEvent(
                    20.0, "web", dataclasses.replace(scenario.simulation.workloads["web"], startup_time_s=1000.0)
                ),
            ),
        ),
    )
    result = simulate(scenario)
    (event,) = events(result, "ProgressDeadlineExceeded")
    old, new = rollout_names(result)
    assert event[0] == 81.0
    assert event[2] == f'ReplicaSet "{new}" has timed out progressing.'


def test_both_engines_agree_through_crashes_node_failures_and_rollouts() -> None:
    """Pods close by time, not by batch: the batch and event engines give the same tables when
    crashes, random failures, a node failure and recovery, a rollout and a scale-down mix."""
    scenario = build(
        replicas=4,
        nodes=3,
        startup="3s",
        rate=300,
        duration="200s",
        events=(
            CrashEvent(20.0, deployment="web", count=1),
            NodeEvent(40.0, "fail", node="node-2"),
            RolloutEvent(60.0, "web"),
            NodeEvent(120.0, "recover", node="node-2"),
            ScaleEvent(150.0, "web", 2),
        ),
        readiness_probe=Probe(period_s=2),
    )
    scenario = with_workload(scenario, failures=Failures(30.0))
    batch, events_ = build_result(run(scenario, engine="batch")), build_result(run(scenario, engine="events"))
    pd.testing.assert_frame_equal(batch.requests, events_.requests)
    pd.testing.assert_frame_equal(batch.pods, events_.pods)
    pd.testing.assert_frame_equal(batch.timeline, events_.timeline)
    outcomes = set(batch.requests["outcome"])
    assert {"ok", "refused", "reset"} <= outcomes


def test_min_ready_seconds_holds_each_step_until_the_new_pod_has_been_ready_that_long() -> None:
    """(4, surge 1, unavailable 0) with minReadySeconds 10: a new pod Ready at 25 s is available
    at 35 s, so the old ReplicaSet steps down at 35, 50, 65 and 80 s."""
    scenario = build(
        replicas=4,
        nodes=2,
        startup="5s",
        duration="120s",
        events=(RolloutEvent(20.0, "web"),),
        strategy=Strategy(max_surge=1, max_unavailable=0),
        min_ready_s=10.0,
    )
    result = simulate(scenario)
    old, new = rollout_names(result)
    downs = [t for t, _, m in steps(result) if "down" in m]
    assert downs == [35.0, 50.0, 65.0, 80.0]


def test_crash_loop_back_off_starts_afresh_after_ten_minutes_of_running() -> None:
    """Crashes at 10 s (restart at once), 20 s (10 s back-off, restart at 30 s) and 700 s: the
    container ran 670 s > 10 min, so the third restart is immediate again."""
    scenario = build(
        replicas=1,
        duration="800s",
        events=(
            CrashEvent(10.0, deployment="web"),
            CrashEvent(20.0, deployment="web"),
            CrashEvent(700.0, deployment="web"),
        ),
    )
    result = simulate(scenario)
    assert [t for t, _ in rows(result, "restarted")] == [10.0, 30.0, 700.0]


def test_a_prestop_hook_that_overruns_the_grace_period_gets_sigterm_then_and_sigkill_2s_later() -> None:
    """An exec preStop of 40 s (preStopTime) with a 30 s grace period: SIGTERM at 30 s after the
    deletion, SIGKILL 2 s later (kubelet's minimum grace): 40 s requests still running then are
    reset at deletion + 32 s."""
    scenario = build(
        replicas=2,
        rate=2,
        duration="100s",
        events=(ScaleEvent(20.0, "web", 1),),
        pre_stop=PreStop("exec", None),
    )
    scenario = with_workload(
        scenario,
        service_time=parse_distribution("40s"),
        concurrency=200,
        shutdown=Shutdown(on_sigterm=OnSigterm.DRAIN, pre_stop_s=40.0),
    )
    result = simulate(scenario)
    (removed,) = result.pods.dropna(subset=["terminating"])["pod"]
    reset = result.requests[result.requests["outcome"] == "reset"]
    assert len(reset) > 0 and (reset["pod"] == removed).all()
    assert ((reset["t_done"] - 52.0).abs() < 0.01).all()  # the RST's way back: a node hop
    assert result.pods.set_index("pod").loc[removed, "deleted"] == pytest.approx(52.0)


def test_a_busy_pod_fails_its_liveness_probe_and_is_restarted_the_overload_cascade() -> None:
    """One pod, 20 ms requests at 60 req/s (ρ 1.2): its queue grows; a liveness probe (period 10,
    timeout 1, threshold 3) waits behind it and times out once the wait passes 1 s, so after three
    failures in a row the kubelet kills the busy pod, resetting everything it holds."""
    scenario = build(replicas=1, rate=60, duration="200s", liveness_probe=Probe())
    scenario = with_workload(
        scenario,
        service_time=parse_distribution("20ms"),
        probe_failure=ProbeFailure(wait_above_timeout=True, probes=("liveness",)),
    )
    result = simulate(scenario)
    kills = [t for t, _ in rows(result, "crashed (failed liveness probe)")]
    assert kills, "the overloaded pod is restarted"
    assert all(round(t, 6) % 10 == 0 for t in kills)  # on the probe grid from its start at 0
    assert (result.requests["outcome"] == "reset").sum() > 0
    unhealthy = events(result, "Unhealthy")
    assert unhealthy and unhealthy[0][2].startswith("Liveness probe failed")


def test_too_many_requests_in_a_pod_fail_readiness_and_take_it_out_of_endpoints() -> None:
    """Two pods near saturation (ρ 0.95): a pod holding more than inFlightAbove: 5 at three
    readiness probes in a row leaves the endpoints (no restart) and returns once it drains."""
    scenario = build(replicas=2, rate=190, duration="300s", readiness_probe=Probe(period_s=2))
    scenario = with_workload(
        scenario,
        service_time=parse_distribution("10ms"),
        probe_failure=ProbeFailure(in_flight_above=5, probes=("readiness",)),
    )
    result = simulate(scenario)
    unready = rows(result, "not ready")
    assert unready
    assert rows(result, "restarted") == []
    ready_again = [t for t, _ in rows(result, "ready")]
    assert any(t > unready[0][0] for t in ready_again)


def test_a_zone_failure_taints_its_nodes_one_every_ten_seconds() -> None:
    """Zone a (node-1, node-2) of a two-zone cluster fails at 120 s: both Unknown at 175 s; the
    zone is fully disrupted but the other is not, so the normal rate applies: taints at 180 and
    190 s, evictions at 480 and 490 s."""
    scenario = build(replicas=4, nodes=4, duration="600s", events=(NodeEvent(120.0, "fail", zone="a"),))
    nodes = tuple(
        dataclasses.replace(n, labels={**n.labels, "topology.kubernetes.io/zone": "a" if i < 2 else "b"})
        for i, n in enumerate(scenario.simulation.cluster.nodes)
    )
    cluster = dataclasses.replace(scenario.simulation.cluster, nodes=nodes)
    scenario = dataclasses.replace(scenario, simulation=dataclasses.replace(scenario.simulation, cluster=cluster))
    result = simulate(scenario)
    not_ready = [e[:2] for e in events(result, "NodeNotReady") if e[1].startswith("node/")]
    assert not_ready == [(175.0, "node/node-1"), (175.0, "node/node-2")]
    assert sorted({t for t, _, _ in events(result, "TaintManagerEviction")}) == [480.0, 490.0]


LB_SCENARIO = """apiVersion: v1
kind: Service
metadata: {name: shop}
spec:
  type: LoadBalancer
  selector: {app: shop}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: shop}
spec:
  replicas: 3
  selector: {matchLabels: {app: shop}}
  template:
    metadata: {labels: {app: shop}}
    spec: {containers: [{name: shop, image: shop, ports: [{containerPort: 8080}]}]}
---
apiVersion: svcsim/v1alpha1
kind: Simulation
metadata: {name: lb-node-failure}
spec:
  seed: 5
  duration: 60s
  cluster: {nodes: 3, loadBalancer: {healthCheckInterval: 5s}}
  workloads:
    shop: {serviceTime: 2ms}
  clients:
    - {name: c, target: {service: shop, via: loadBalancer}, rate: 100, connectTimeout: 1s}
  events:
    - {at: 21s, fail: {node: node-2}}
"""


def test_a_load_balancer_stops_sending_to_a_failed_node_at_its_next_health_check() -> None:
    """node-2 fails at 21 s; the balancer checks every 5 s, so from 25 s no connection enters
    there; those that did in between time out (their SYNs go unanswered)."""
    result = sim.simulate(sim.load_scenario(LB_SCENARIO))
    req = result.requests
    via_2 = req[req["entry_node"] == "node-2"]
    assert via_2["t_sent"].max() < 25.0
    lost = via_2[via_2["t_sent"] >= 21.0]
    assert len(lost) > 0 and set(lost["outcome"]) == {"timeout"}
    rotation = result.timeline[result.timeline["event"] == "lb rotation"]
    assert list(zip(rotation["time"], rotation["detail"], strict=True)) == [(25.0, "shop: node-1,node-3")]


def test_a_crash_of_a_pod_name_no_pod_has_is_a_warning_and_events_name_the_container() -> None:
    scenario = build(
        replicas=1,
        duration="30s",
        events=(CrashEvent(5.0, pod="web-nosuchhash-zzzzz"), CrashEvent(10.0, deployment="web")),
    )
    dep = scenario.deployments[0]
    manifest = copy.deepcopy(dep.manifest)
    manifest["spec"]["template"]["spec"]["containers"][0]["name"] = "checkout"
    scenario = dataclasses.replace(scenario, deployments=(dataclasses.replace(dep, manifest=manifest),))
    result = simulate(scenario)
    (warning,) = [w for w in result.result.summary["warnings"] if "no live pod named" in w]
    assert warning.startswith("at 5s: crash event: no live pod named web-nosuchhash-zzzzz")
    assert [m for _, _, m in events(result, "Crashed")] == ["Container checkout exited with code 1 (svcsim fault)"]
