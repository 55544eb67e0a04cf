"""Tiny scenarios with exact expected event logs: pods, endpoints and the request path.

Constant arrivals, constant service times and constant latencies make every time exact,
so these tests compare whole logs, SimPy-style.
"""

from __future__ import annotations

import textwrap

import pytest

import sim


def scenario(
    *,
    replicas: int = 1,
    nodes: int | str = 1,
    rate: float = 10,
    duration: str = "1s",
    service: str = "10ms",
    concurrency: int = 1,
    startup: str = "0s",
    sync: str = "0s",
    client_to_node: str = "0ms",
    node_to_node: str = "0ms",
    events: str = "[]",
    client_extra: str = "",
    pod_extra: str = "",
    workload_extra: str = "",
    grace: int = 30,
    via: str = "nodePort",
    location: str = "external",
) -> sim.Scenario:
    """A one-Service, one-Deployment scenario with deterministic timing."""
    text = f"""
    apiVersion: v1
    kind: Service
    metadata: {{name: web}}
    spec:
      type: NodePort
      selector: {{app: web}}
      ports: [{{port: 80, nodePort: 30080}}]
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata: {{name: web}}
    spec:
      replicas: {replicas}
      selector: {{matchLabels: {{app: web}}}}
      template:
        metadata: {{labels: {{app: web}}}}
        spec:
          terminationGracePeriodSeconds: {grace}
          containers: [{{name: app, image: app}}]
          {pod_extra}
    ---
    apiVersion: svcsim/v1alpha1
    kind: Simulation
    metadata: {{name: tiny}}
    spec:
      seed: 1
      duration: {duration}
      cluster:
        nodes: {nodes}
        network: {{clientToNode: {client_to_node}, nodeToNode: {node_to_node}}}
      kubeProxy: {{syncDelay: {sync}}}
      workloads:
        web: {{serviceTime: {service}, concurrency: {concurrency}, startupTime: {startup}{workload_extra}}}
      clients:
        - name: c
          location: {location}
          target: {{service: web, via: {via}}}
          rate: {rate}
          arrival: constant
          {client_extra}
      events: {events}
    """
    return sim.load_scenario(textwrap.dedent(text))


def log(result: sim.Result) -> list[tuple[float, str, float, str]]:
    """(sent, outcome, latency in ms, pod IP) per request, rounded to the microsecond."""
    ips = dict(zip(result.pods["pod"], result.pods["ip"], strict=True))
    return [
        (
            round(r.t_sent, 6),
            r.outcome,
            round(r.latency * 1e3, 3),
            ips.get(r.pod, "-") if isinstance(r.pod, str) else "-",
        )
        for r in result.requests.itertuples()
    ]


def timeline(result: sim.Result) -> list[tuple[float, str, int, int, int]]:
    return [(round(r.time, 6), r.event, r.pods_total, r.pods_ready, r.endpoints) for r in result.timeline.itertuples()]


def test_one_pod_serves_constant_requests_in_exactly_service_plus_network_time():
    """Ten requests 100 ms apart to one idle pod: each takes 10 ms of service plus 2 × 0.5 ms of wire."""
    result = sim.simulate(scenario(client_to_node="0.5ms"))
    assert log(result) == [(round(0.1 * i, 6), "ok", 11.0, "10.244.0.2") for i in range(10)]


def test_requests_closer_than_the_service_time_queue_fifo():
    """Arrivals every 5 ms, service 10 ms, one worker: request i waits 5·i ms (FIFO, Lindley)."""
    result = sim.simulate(scenario(rate=200, duration="20ms"))
    assert log(result) == [
        (0.0, "ok", 10.0, "10.244.0.2"),
        (0.005, "ok", 15.0, "10.244.0.2"),
        (0.01, "ok", 20.0, "10.244.0.2"),
        (0.015, "ok", 25.0, "10.244.0.2"),
    ]


def test_two_workers_serve_two_requests_at_once():
    """Concurrency 2 halves the wait: pairs of requests run side by side."""
    result = sim.simulate(scenario(rate=200, duration="20ms", concurrency=2))
    assert [lat for _, _, lat, _ in log(result)] == [10.0, 10.0, 10.0, 10.0]


def test_no_endpoints_is_refused_at_once():
    """Zero replicas: kube-proxy's REJECT rule answers immediately (one round trip to the node)."""
    result = sim.simulate(scenario(replicas=0, client_to_node="0.5ms", duration="300ms"))
    assert log(result) == [(0.0, "refused", 1.0, "-"), (0.1, "refused", 1.0, "-"), (0.2, "refused", 1.0, "-")]


def test_scale_up_timeline_waits_for_startup_then_sync():
    """1 → 2 at 1 s: the new pod is Ready at 3 s (startupTime 2 s) and routed at 4 s (syncDelay 1 s)."""
    events = "[{at: 1s, scale: {deployment: web, replicas: 2}}]"
    result = sim.simulate(scenario(duration="6s", startup="2s", sync="1s", events=events))
    assert timeline(result) == [
        (0.0, "start", 1, 1, 1),
        (1.0, "scale to 2", 1, 1, 1),
        (1.0, "created", 2, 1, 1),
        (3.0, "ready", 2, 2, 1),
        (4.0, "synced", 2, 2, 2),
    ]
    new_pod = result.pods.iloc[1]
    assert new_pod["ip"] == "10.244.0.3"
    reached = result.requests[result.requests["pod"] == new_pod["pod"]]
    assert reached["t_sent"].min() >= 4.0


DRAIN = ", shutdown: {onSigterm: drain}"  # apps that keep accepting until nothing routes to them


def test_graceful_scale_down_loses_nothing_and_pods_leave_after_their_last_request():
    """3 → 1 under load, apps that drain: removed pods stop getting requests at the sync,
    finish, then go."""
    events = "[{at: 1s, scale: {deployment: web, replicas: 1}}]"
    result = sim.simulate(
        scenario(replicas=3, rate=150, duration="3s", sync="500ms", events=events, workload_extra=DRAIN)
    )
    assert set(result.requests["outcome"]) == {"ok"}
    removed = result.pods[result.pods["terminating"].notna()]
    assert len(removed) == 2
    for pod in removed.itertuples():
        mine = result.requests[result.requests["pod"] == pod.pod]
        assert mine["t_sent"].max() < 1.5  # nothing new after the dataplane sync at 1.5 s
        assert pod.deleted == pytest.approx(max(1.5, mine["t_done"].max()))


def test_requests_still_queued_when_the_grace_period_ends_are_reset():
    """A pod holding 1 s requests is deleted with a 2 s grace period: what it cannot finish is reset."""
    events = "[{at: 950ms, scale: {deployment: web, replicas: 0}}]"
    result = sim.simulate(scenario(rate=10, service="1s", duration="1s", grace=2, events=events))
    outcomes = list(result.requests["outcome"])
    # Sent at 0.0..0.9 s; service 1 s each, back to back: done at 1, 2, 3, ... s. Kill at 2.95 s.
    assert outcomes == ["ok", "ok"] + ["reset"] * 8
    reset = result.requests[result.requests["outcome"] == "reset"]
    assert reset["t_done"].tolist() == pytest.approx([2.95] * 8)
    assert result.pods["terminating"].tolist() == pytest.approx([0.95])


def test_pod_ip_is_unreachable_from_outside_but_works_from_a_node():
    """The guide: the laptop cannot reach 10.244.0.2; curl from the node can."""
    outside = sim.simulate(scenario(via="podIP", duration="200ms", client_extra="connectTimeout: 1s"))
    assert log(outside) == [(0.0, "unreachable", 1000.0, "-"), (0.1, "unreachable", 1000.0, "-")]
    inside = sim.simulate(scenario(via="podIP", duration="200ms", location="node-1"))
    assert log(inside) == [(0.0, "ok", 10.0, "10.244.0.2"), (0.1, "ok", 10.0, "10.244.0.2")]


def test_a_pod_on_another_node_costs_a_node_hop_each_way():
    """Entry on node-1, the only pod on node-2: 2 × (0.5 + 0.2) ms of network on top of service."""
    result = sim.simulate(
        scenario(
            nodes="2",
            duration="100ms",
            client_to_node="0.5ms",
            node_to_node="0.2ms",
            client_extra="nodes: [node-1]",
            pod_extra="nodeName: node-2",
        )
    )
    row = result.requests.iloc[0]
    assert (row.entry_node, row.pod_node, round(row.latency * 1e3, 6)) == ("node-1", "node-2", 11.4)


def test_client_timeout_ends_slow_requests():
    """A 5 ms client timeout against 10 ms of service: every request times out at 5 ms."""
    result = sim.simulate(scenario(duration="200ms", client_extra="timeout: 5ms"))
    assert log(result) == [(0.0, "timeout", 5.0, "10.244.0.2"), (0.1, "timeout", 5.0, "10.244.0.2")]


def test_scheduler_spreads_pods_to_the_emptiest_node_and_honours_node_selector():
    """Fewest pods first (ties by name); nodeSelector limits the candidates; no fit stays Pending."""
    spread = sim.simulate(scenario(replicas=4, nodes="3", duration="10ms"))
    assert list(spread.pods["node"]) == ["node-1", "node-2", "node-3", "node-1"]
    assert list(spread.pods["ip"]) == ["10.244.0.2", "10.244.1.2", "10.244.2.2", "10.244.0.3"]
    nodes = "[{name: a}, {name: b, labels: {disk: ssd}}]"
    pinned = sim.simulate(scenario(replicas=2, nodes=nodes, duration="10ms", pod_extra="nodeSelector: {disk: ssd}"))
    assert list(pinned.pods["node"]) == ["b", "b"]
    nowhere = sim.simulate(scenario(replicas=1, duration="10ms", pod_extra="nodeSelector: {disk: nvme}"))
    assert nowhere.pods["node"].isna().all()
    assert set(nowhere.requests["outcome"]) == {"refused"}


def test_a_stale_sync_does_not_let_a_terminating_pod_leave_early():
    """Regression: a pod created at 0.2 s (Ready 1.2 s) and deleted at 1.5 s. The sync due at
    1.1 s carries rules published at 0.1 s, before the pod was Ready, so it lacks the pod;
    that must not count as the pod leaving the dataplanes, or the pod exits and the sync
    at 2.2 s routes to a dead IP. Only rules published after 1.5 s (due 2.5 s) unroute it."""
    events = (
        "[{at: 100ms, scale: {deployment: web, replicas: 1}}, {at: 200ms, scale: {deployment: web, replicas: 2}},"
        " {at: 1500ms, scale: {deployment: web, replicas: 1}}]"
    )
    result = sim.simulate(
        scenario(replicas=2, rate=100, duration="4s", startup="1s", sync="1s", events=events, workload_extra=DRAIN)
    )
    assert set(result.requests["outcome"]) == {"ok"}
    late = result.pods[result.pods["created"] == 0.2].iloc[0]
    assert late["deleted"] == pytest.approx(2.5)
    assert late["routed"] == pytest.approx(2.2) and late["unrouted"] == pytest.approx(2.5)


def test_warmup_is_left_out_of_latency_and_throughput_but_every_request_is_counted():
    """10 requests/s for 10 s, 5 s warm-up: 100 requests and 100 ok in the counts; latency
    percentiles from the 50 sent after warm-up; throughput = ok answers in [5 s, 10 s] / 5 s."""
    text = scenario(rate=10, duration="10s").to_yaml().replace("warmup: 0s", "warmup: 5s")
    result = sim.simulate(sim.load_scenario(text))
    summary = result.summary
    assert summary["requests"] == 100 and summary["outcomes"]["ok"] == 100
    assert summary["throughput_rps"] == pytest.approx(50 / 5)
    assert summary["latency_ms"]["max"] == pytest.approx(10.0)
    late = result.requests[result.requests["t_sent"] >= 5]
    assert len(late) == 50
