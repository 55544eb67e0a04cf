"""svcsim's own limits hold: a scenario over one is refused at load, naming the field, before
any work starts; the paths that made the largest allowed scenarios quadratic stay linear.

Refusals are checked without timing them (the suite runs on shared machines); the README's
figures come from ``svcsim bench --suite``.
"""

from __future__ import annotations

import ipaddress
import json
import math
import itertools
import re
from typing import Any

import pytest
import yaml

import sim
from sim.bench_suite import CASES, CaseResult, run_case_here
from sim.cli import main
from sim.kube.addresses import node_pod_cidr
from sim.runtime.topology import Topology
from sim.scenario.run_limits import (
    MAX_ENDPOINT_UPDATES,
    MAX_HEALTH_CHECK_WORK,
    MAX_PODS,
    MAX_POOLED_CONNECTIONS,
    MAX_REQUESTS,
    MAX_WORKERS,
)


def service(name: str) -> dict[str, Any]:
    spec = {"type": "ClusterIP", "selector": {"app": name}, "ports": [{"port": 80}]}
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def deployment(name: str, replicas: int = 1) -> dict[str, Any]:
    spec = {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "c"}]}},
    }
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": spec}


def scenario_text(
    calls: dict[str, list[str]] | None = None,
    *,
    replicas: dict[str, int] | None = None,
    rate: float = 1000,
    duration: str = "300s",
    nodes: int = 3,
    concurrency: int = 1,
    events: list[dict[str, Any]] | None = None,
    target: str = "web",
    **spec: Any,
) -> str:
    """Services and Deployments named after ``replicas`` (default ``web`` and ``b``), each
    workload calling the Services ``calls`` lists; one client on node-1 sends to ``target``."""
    replicas = replicas or {"web": 1, "b": 1}
    calls = calls or {}
    docs: list[dict[str, Any]] = []
    for name, count in replicas.items():
        docs += [service(name), deployment(name, count)]
    workloads = {
        name: {"serviceTime": "1ms", "concurrency": concurrency, "calls": [{"service": s} for s in calls.get(name, [])]}
        for name in replicas
    }
    body: dict[str, Any] = {
        "seed": 1,
        "duration": duration,
        "cluster": {"nodes": nodes, "podCIDR": "10.0.0.0/8", "nodeCIDR": "172.16.0.0/16"},
        "workloads": workloads,
        "clients": [
            {"name": "load", "location": "node-1", "target": {"service": target, "via": "clusterIP"}, "rate": rate}
        ],
        "events": events or [],
        **spec,
    }
    docs.append({"apiVersion": "svcsim/v1alpha1", "kind": "Simulation", "metadata": {"name": "t"}, "spec": body})
    return yaml.safe_dump_all(docs, sort_keys=False)


def refusal(text: str) -> list[str]:
    """Each problem as ``field: message`` (the file and document prefix left out)."""
    with pytest.raises(sim.ScenarioError) as info:
        sim.load_scenario(text)
    return [f"{p.field}: {p.message}" for p in info.value.problems]


# --- requests, calls included -----------------------------------------------------------------


def test_calls_that_multiply_past_the_request_limit_are_refused_naming_the_calls():
    """The fuzzing report's case: 1 000 req/s, each making 300 calls, for long enough to pass the
    limit (which depends on the machine's memory: 300 s on 24 GiB)."""
    seconds = math.ceil(1.3 * MAX_REQUESTS / 301 / 1000)
    text = scenario_text({"web": ["b"] * 300}, rate=1000, duration=f"{seconds}s")
    (problem,) = refusal(text)
    expected = f"about {301 * 1000 * seconds:.3g} requests expected: clients send {1000 * seconds:.3g}"
    assert problem.startswith(f"spec.workloads.web.calls: {expected}")
    assert f"more than the {MAX_REQUESTS:,} svcsim can keep in memory" in problem


def test_fan_out_multiplies_along_a_chain_of_calls():
    """web calls b twice, b calls c three times: each request is 1 + 2 × (1 + 3) = 9 requests."""
    chain = {"web": ["b", "b"], "b": ["c", "c", "c"]}
    replicas = {"web": 1, "b": 1, "c": 1}
    per_request = 9
    at_limit = MAX_REQUESTS // per_request // 100
    assert sim.load_scenario(scenario_text(chain, replicas=replicas, rate=at_limit, duration="100s"))
    (problem,) = refusal(scenario_text(chain, replicas=replicas, rate=at_limit + 1, duration="100s"))
    assert problem.startswith("spec.workloads.web.calls: ")
    assert "causes up to 8 calls" in problem


CYCLES = [
    pytest.param({"web": ["web"]}, "spec.workloads.web.calls[0]", 'Service "web" → web → Service "web"', id="self"),
    pytest.param(
        {"web": ["b"], "b": ["web"]},
        "spec.workloads.web.calls[0]",
        'Service "web" → web → Service "b" → b → Service "web"',
        id="a-b-a",
    ),
    pytest.param(
        {"web": ["b"], "b": ["b"]}, "spec.workloads.b.calls[0]", 'Service "b" → b → Service "b"', id="behind-a-call"
    ),
]


@pytest.mark.parametrize(("calls", "field", "cycle"), CYCLES)
def test_a_cycle_of_calls_is_bounded_by_its_workers_and_accepted_within_the_limit(calls, field, cycle):
    """A cycle ends at its first call timeout (the chain below is cancelled), so a request causes
    at most a call per worker of the cycle's pods: light traffic into a cycle is accepted."""
    assert sim.load_scenario(scenario_text(calls, rate=1, duration="1s"))


@pytest.mark.parametrize(("calls", "field", "cycle"), CYCLES)
def test_a_cycle_of_calls_past_the_limit_is_refused_naming_it(calls, field, cycle):
    """1 000 req/s into a cycle with at least 200 workers, long enough to pass the limit (which
    depends on the machine's memory: 6e7 requests on 24 GiB)."""
    seconds = math.ceil(1.2 * MAX_REQUESTS / 201 / 1000)
    text = scenario_text(calls, replicas={"web": 200, "b": 200}, rate=1000, duration=f"{seconds}s")
    (problem,) = refusal(text)
    assert problem.startswith(f'{field}: Invalid value: calls form a cycle ({cycle}) that client "load" reaches')
    assert f"more than the {MAX_REQUESTS:,} svcsim can keep in memory" in problem


def test_a_cycle_no_traffic_reaches_is_accepted():
    """b calls itself, but clients only reach web, which makes no calls."""
    assert sim.load_scenario(scenario_text({"b": ["b"]}, rate=1, duration="1s"))


def test_a_long_chain_of_calls_is_estimated_without_recursion():
    """1 200 Services in a chain: deeper than Python's recursion limit."""
    names = [f"s{i}" for i in range(1200)]
    calls = {a: [b] for a, b in itertools.pairwise(names)}
    scenario = sim.load_scenario(scenario_text(calls, replicas=dict.fromkeys(names, 1), target="s0", rate=1))
    assert len(scenario.services) == 1200


def test_the_duration_override_rechecks_what_calls_add():
    scenario = sim.load_scenario(scenario_text({"web": ["b"] * 300}, rate=1000, duration="100s"))
    with pytest.raises(sim.ScenarioError) as info:
        scenario.with_overrides(duration_s=300.0)
    (problem,) = info.value.problems
    assert problem.field == "spec.workloads.web.calls"
    assert "(--duration 5m)" in problem.message


# --- pods, workers, endpoint updates, health checks ---------------------------------------------


def test_pods_in_total_across_deployments_are_bounded():
    """Ten Deployments of 100 000 replicas each pass the per-Deployment check, not the total."""
    replicas = {f"w{i}": 100_000 for i in range(10)}
    problems = refusal(scenario_text(replicas=replicas, target="w0", rate=1, duration="1s", nodes=10_000))
    assert problems[0] == (
        "spec.replicas: Invalid value: 100000: the Deployments' replicas (1,000,000) and the scale events create "
        f"1,000,000 pods in all, more than the {MAX_PODS:,} svcsim simulates (svcsim's limit)"
    )


def test_pods_that_scale_events_add_count_towards_the_total():
    """Down to 0 and up again, twice: every pod the events add is a new pod."""
    half = MAX_PODS // 2
    events = [
        {"at": "1s", "scale": {"deployment": "web", "replicas": 0}},
        {"at": "2s", "scale": {"deployment": "web", "replicas": half}},
        {"at": "3s", "scale": {"deployment": "web", "replicas": 0}},
        {"at": "4s", "scale": {"deployment": "web", "replicas": half}},
    ]
    text = scenario_text(replicas={"web": half}, rate=1, duration="10s", nodes=1000, events=events)
    problems = refusal(text)
    assert problems[0].startswith(f"spec.events[3].scale.replicas: Invalid value: {half}: the Deployments' replicas")
    assert f"create {3 * half:,} pods in all" in problems[0]


def test_events_after_the_end_add_no_pods():
    events = [{"at": "20s", "scale": {"deployment": "web", "replicas": MAX_PODS}}]
    assert sim.load_scenario(scenario_text(replicas={"web": 1}, rate=1, duration="10s", events=events))


def test_worker_slots_in_all_are_bounded():
    pods = MAX_WORKERS // 100_000 + 1
    (problem,) = refusal(scenario_text(replicas={"web": pods}, concurrency=100_000, rate=1, duration="1s"))
    assert problem.startswith("spec.workloads.web.concurrency: Invalid value: 100000: the run's")


def test_endpoint_updates_of_scale_events_are_bounded():
    """Scaling 50 000 pods up and down on 10 000 nodes republishes endpoints to every node each time."""
    events = [{"at": f"{t}s", "scale": {"deployment": "web", "replicas": r}} for t, r in ((1, 50_000), (2, 1))]
    text = scenario_text(replicas={"web": 1}, rate=1, duration="10s", nodes=10_000, events=events)
    (problem,) = refusal(text)
    assert problem.startswith("spec.events[")
    assert f"endpoint updates, more than the {MAX_ENDPOINT_UPDATES:,} svcsim allows" in problem


def test_keep_alive_connections_of_all_clients_together_are_bounded():
    """Each client may keep 100 000 connections, but not twenty such clients at once."""
    docs = list(yaml.safe_load_all(scenario_text(replicas={"web": 1}, rate=1, duration="1s")))
    pool = {"mode": "keepalive", "count": 100_000}
    first = docs[-1]["spec"]["clients"][0]
    docs[-1]["spec"]["clients"] = [{**first, "name": f"c{i}", "connections": pool} for i in range(20)]
    (problem,) = refusal(yaml.safe_dump_all(docs, sort_keys=False))
    assert problem == (
        "spec.clients[0].connections.count: Invalid value: 100000: the clients keep 2,000,000 keep-alive "
        f"connections in all, more than the {MAX_POOLED_CONNECTIONS:,} svcsim can hold (svcsim's limit)"
    )


def test_health_checks_count_the_nodes_they_probe():
    """A 1 s interval for 30 days is fine on 3 nodes and too much on 10 000."""
    lb = {"loadBalancer": {"healthCheckInterval": "1s"}}
    text = scenario_text(replicas={"web": 1}, rate=1, duration="720h")
    docs = list(yaml.safe_load_all(text))
    docs[0]["spec"]["type"] = "LoadBalancer"
    for nodes, refused in ((3, False), (10_000, True)):
        docs[-1]["spec"]["cluster"] = {"nodes": nodes, "podCIDR": "10.0.0.0/8", "nodeCIDR": "172.16.0.0/16", **lb}
        text = yaml.safe_dump_all(docs, sort_keys=False)
        if refused:
            (problem,) = refusal(text)
            assert problem.startswith("spec.cluster.loadBalancer.healthCheckInterval: Invalid value: 1s")
            assert f"more than the {MAX_HEALTH_CHECK_WORK:,} svcsim allows" in problem
        else:
            assert sim.load_scenario(text)


def test_scenarios_over_every_limit_are_refused_at_load_not_run():
    """The fuzzing report's four cases, together in one file, refused as it loads."""
    replicas = {f"w{i}": 100_000 for i in range(10)}
    calls = {"w0": ["w1"] * 300}
    text = scenario_text(calls, replicas=replicas, target="w0", rate=1000, duration="300s", nodes=10_000)
    problems = refusal(text)
    assert [p.split(":")[0] for p in problems] == ["spec.replicas", "spec.workloads.w0.calls"]


# --- the paths that were quadratic ------------------------------------------------------------


def test_node_pod_cidr_is_computed_directly_for_the_last_of_10_000_nodes():
    assert str(node_pod_cidr(ipaddress.IPv4Network("10.0.0.0/8"), 9999)) == "10.39.15.0/24"


def test_topology_answers_node_links_from_one_law_without_edges():
    text = scenario_text(replicas={"web": 1}, rate=1, duration="1s", nodes=1000)
    topology = Topology(sim.load_scenario(text))
    nodes = [v for v, d in topology.graph.nodes(data=True) if d["kind"] == "node"]
    assert len(nodes) == 1000
    assert not any(topology.graph.has_edge(a, b) for a, b in ((nodes[0], nodes[1]), (nodes[1], nodes[999])))
    law = topology.graph.graph["node_to_node"]
    assert topology.link(nodes[0], nodes[999]) is law
    assert topology.client_link("load", "node-7") is law  # a client on node-1 goes through its node


# --- svcsim bench --suite -----------------------------------------------------------------------


def test_bench_suite_runs_cases_in_their_own_processes_and_writes_bench_json(capsys, tmp_path):
    """Each case in its own process, with its wall time and peak memory (the full size is the README's),
    the ratio and the scale-up's cost printed and in bench.json."""
    out_json = tmp_path / "bench.json"
    names = ["reference-lc", "scale-up"]
    args = ["bench", "--suite", "--scale", "0.001", "--json", str(out_json)]
    assert main([*args, *(x for name in names for x in ("--case", name))]) == 0
    out = capsys.readouterr().out
    for name in names:
        assert re.search(rf"^{name} \(.*\): [0-9.]+ s, peak RSS [0-9,]+ MiB$", out, re.MULTILINE), name
    assert re.search(r"^reference-lc: svcsim [0-9,]+ requests/s, the hand-written SimPy model [0-9,]+/s: [0-9.]+x", out, re.M)
    assert re.search(r"^scale-up: .* the event costs -?[0-9.]+ s$", out, re.MULTILINE)
    facts = json.loads(out_json.read_text())
    assert facts["scale"] == 0.001 and facts["machine"]["cpus"] >= 1
    by_name = {case["name"]: case for case in facts["cases"]}
    assert list(by_name) == names
    lc = by_name["reference-lc"]
    assert lc["engine"] == "events" and lc["requests"] > 1000 and lc["peak_rss_bytes"] > 2**20
    assert lc["figures"]["ratio"] == pytest.approx(lc["figures"]["engine_per_s"] / lc["figures"]["obvious_per_s"])
    assert lc["bars"] == []  # the bars are judged at full size only
    up = by_name["scale-up"]
    assert up["pods"] == 10 and up["figures"]["event_s"] == pytest.approx(up["wall_s"] - up["figures"]["without_event_s"])


@pytest.mark.parametrize("name", list(CASES))
def test_every_suite_case_runs_at_a_tiny_scale(name):
    """Every case's scenario runs and is measured (here, in this process: the CLI test above starts processes)."""
    facts = run_case_here(name, 0.001)
    assert facts["requests"] > 0 and facts["wall_s"] > 0 and facts["pods"] >= 3
    kind = CASES[name].kind
    assert ("ratio" in facts["figures"]) == (kind == "ratio")
    assert ("plots_s" in facts["figures"]) == CASES[name].plots


def test_bars_are_judged_at_full_size_only():
    result = CaseResult("scale-1e7", "", 10**7, 10_000, 100, 31.0, int(1.4 * 2**30), "batch", {"plots_s": 16.0})
    assert [(name, met) for name, _, _, _, met in result.bars(1.0)] == [
        ("wall_s", True),
        ("peak_rss_gib", True),
        ("plots_s", False),
    ]
    assert result.bars(0.5) == []


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        pytest.param(["--scale", "0.5"], "--scale: only with --suite", id="scale-without-suite"),
        pytest.param(["--suite", "--scale", "0"], "--scale: Invalid value: 0: must be > 0 and at most 1", id="zero"),
        pytest.param(["--suite", "--scale", "2"], "--scale: Invalid value: 2: must be > 0 and at most 1", id="two"),
        pytest.param(["--suite", "--scale", "nan"], "--scale: Invalid value: nan: must be > 0 and at most 1", id="nan"),
        pytest.param(["--case", "reference"], "--case: only with --suite", id="case-without-suite"),
        pytest.param(["--json", "b.json"], "--json: only with --suite", id="json-without-suite"),
        pytest.param(
            ["--suite", "--case", "nope"],
            f"--case: Unsupported value: 'nope': supported values: {', '.join(CASES)}",
            id="unknown-case",
        ),
        pytest.param(
            ["--suite", "--json", "/nonexistent/b.json"],
            "--json: cannot write /nonexistent/b.json: not a file in an existing folder",
            id="json-folder-missing",
        ),
    ],
)
def test_bench_suite_refuses_bad_scales(capsys, flags, expected):
    assert main(["bench", *flags]) == 2
    assert capsys.readouterr().err == f"error: {expected}\n"


@pytest.mark.parametrize("name", list(CASES))
def test_every_suite_case_at_full_size_is_within_the_limits(name):
    """The suite's cases sit at svcsim's limits, not past them: each loads (nothing runs)."""
    if name == "scale-1e7" and MAX_REQUESTS < 10**7:
        pytest.skip(f"this machine's memory allows {MAX_REQUESTS:,} requests, fewer than the case's 10^7")
    assert sim.load_scenario(CASES[name].scenario(1.0))


def test_the_request_limit_reads_this_process_cgroup(monkeypatch, tmp_path):
    """A container's (or slice's) memory limit below the machine's is what a run may use: v2
    from ``0::/path``, v1 from the memory controller's line; "max", 0 and junk are no limit."""
    from sim.scenario import run_limits

    files = {
        "/proc/self/cgroup": "4:memory:/slice/a\n0::/slice/b\n",
        "/sys/fs/cgroup/slice/b/memory.max": "2147483648\n",
        "/sys/fs/cgroup/memory/slice/a/memory.limit_in_bytes": "0\n",
        "/sys/fs/cgroup/memory.max": "max\n",
    }

    class FakePath:
        def __init__(self, path: str) -> None:
            self.path = path

        def read_text(self) -> str:
            if self.path not in files:
                raise FileNotFoundError(self.path)
            return files[self.path]

    monkeypatch.setattr(run_limits, "Path", FakePath)
    assert sorted(run_limits._cgroup_limits()) == [0, 2147483648]
    assert run_limits.machine_memory_bytes() == 2147483648


def test_batches_are_sized_for_the_most_pods_the_run_may_hold():
    """A scale event's pods count (batches sized for the first 100 pods spread 1.5 requests a
    pod over the 10 000 a scale-up made): the bench's scale-up case, 100 -> 10 000."""
    from sim.runtime.run import _most_pods

    up = sim.load_scenario(CASES["scale-up"].scenario(1.0))
    assert up.deployment("web").replicas == 100 and _most_pods(up) == 10_000
    hpa = sim.load_scenario(CASES["hpa-10k"].scenario(1.0))
    assert hpa.deployment("web").replicas == 5_000 and _most_pods(hpa) == 10_000  # the HPA's maxReplicas
