"""The pods' CPU and memory usage model and CFS throttling (docs/semantics.md#cpu-and-memory-usage).

Tiers: exact accounts of tiny pods driven by hand (a constant service time, so every number is
known); the two engines agreeing on a run with a crash; statistical checks against the
arrival rate with fixed seeds and stated tolerances; throttling against the throughput one
core gives; parse errors through the CLI.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import yaml
from scenario_text import scenario_yaml

import sim
from sim.cli import main
from sim.distributions import parse_distribution
from sim.randomness import Streams
from sim.runtime.pod_usage import PodUsage, cpu_throttle, running_time
from sim.runtime.pods import Pod
from sim.runtime.requests.engine_choice import choose_engine
from sim.runtime.requests.rules import CANCELLED, PodLimits
from sim.runtime.run import _Wiring
from sim.scenario.simulation import CpuUsage, MemoryUsage

MI = 2**20


def _pod(
    concurrency: int = 1,
    service: str = "1s",
    cpu: CpuUsage | None = None,
    memory: MemoryUsage | None = None,
    limits: PodLimits | None = None,
) -> Pod:
    """A pod up from t = 0 with a usage account and a constant service time."""
    pod = Pod(
        index=0,
        name="web-1",
        deployment="web",
        labels={},
        node=0,
        ip="10.244.0.2",
        concurrency=concurrency,
        service=Streams(1).variates("pod/web-1/service", parse_distribution(service)),
        grace_period_s=30.0,
        created_at=0.0,
        limits=limits or PodLimits(),
        usage=PodUsage(cpu or CpuUsage(), memory or MemoryUsage()),
    )
    pod.app_up(0.0)
    return pod


# -- exact small cases ---------------------------------------------------------------------------
def test_a_request_burns_its_service_time_evenly_and_idle_adds_per_second_running():
    """Two requests at 0 and 0.5 on one worker (1 s each): served over [0, 1] and [1, 2];
    100m idle adds 0.1 CPU-second per second."""
    pod = _pod(cpu=CpuUsage(idle_cores=0.1))
    pod.admit(np.array([0.0, 0.5]), None)
    readings = [pod.cpu_seconds(t) for t in (0.5, 1.0, 1.5, 4.0)]
    assert readings == pytest.approx([0.5 + 0.05, 1.0 + 0.1, 1.5 + 0.15, 2.0 + 0.4], abs=1e-12)


def test_per_request_cpu_replaces_the_service_time():
    """perRequest 0.25 s on a 1 s service: a quarter core while it is served."""
    pod = _pod(cpu=CpuUsage(per_request_s=0.25))
    pod.admit_one(0.0, math.inf)
    assert [pod.cpu_seconds(t) for t in (0.5, 2.0)] == pytest.approx([0.125, 0.25], abs=1e-12)


def test_a_kill_cuts_what_the_pod_held_then():
    """Arrivals at 0, 0.2, 0.4 (one worker, 1 s each); a crash at 1.5 with the app back at 3:
    the second request burns 0.5 s, the third nothing; the pod runs 1.5 s before and from 3 on."""
    pod = _pod(cpu=CpuUsage(idle_cores=0.1))
    pod.admit(np.array([0.0, 0.2, 0.4]), None)
    gate = pod.kill(1.5)
    pod.reopen(gate, 3.0)
    assert pod.cpu_seconds(1.25) == pytest.approx(1.25 + 0.125, abs=1e-12)
    assert pod.cpu_seconds(2.0) == pytest.approx(1.5 + 0.15, abs=1e-12)
    assert pod.cpu_seconds(4.0) == pytest.approx(1.5 + 0.1 * (1.5 + 1.0), abs=1e-12)
    assert pod.requests_total(4.0) == 3  # all three were taken into a worker's queue (served or not)


def test_the_idle_time_skips_the_container_down_gaps():
    assert running_time(10.0, 1.0, math.inf, [3.0, 6.0], [4.0, 8.0]) == 2.0 + 2.0 + 2.0
    assert running_time(10.0, 1.0, 7.0, [3.0], [4.0]) == 2.0 + 3.0  # gone at 7
    assert running_time(0.5, 1.0, math.inf, [], []) == 0.0  # not up yet


def test_working_set_is_base_plus_per_request_times_the_requests_in_the_pod():
    """Arrivals at 0 and 0.5 (one worker, 1 s each): 2 in the pod at 0.75, 1 at 1.25, none at 2.5."""
    pod = _pod(memory=MemoryUsage(200 * MI, 2 * MI))
    pod.admit(np.array([0.0, 0.5]), None)
    assert [pod.in_flight(t) for t in (0.25, 0.75, 1.25, 2.5)] == [1, 2, 1, 0]
    assert pod.working_set_bytes(2.5) == 200 * MI
    pod2 = _pod(memory=MemoryUsage(200 * MI, 2 * MI))
    pod2.admit(np.array([0.0, 0.5]), None)
    assert pod2.working_set_bytes(0.75) == 204 * MI


def test_a_request_given_up_on_holds_memory_until_it_leaves_but_is_not_counted():
    """One worker, 1 s each; the second request's client gives up at 0.5 (onCancel drop)."""
    pod = _pod(memory=MemoryUsage(0.0, 1.0))
    fates, _, _ = pod.admit(np.array([0.0, 0.1]), np.array([math.inf, 0.5]))
    assert fates.tolist()[1] == CANCELLED
    assert [pod.working_set_bytes(t) for t in (0.3, 0.6)] == [2.0, 1.0]
    assert pod.requests_total(2.0) == 1
    assert pod.cpu_seconds(2.0) == pytest.approx(1.0)


def test_requests_total_counts_arrivals_up_to_t():
    pod = _pod()
    pod.admit(np.array([0.0, 0.5, 0.5, 3.0]), None)
    assert [pod.requests_total(t) for t in (0.0, 0.4, 0.5, 2.9, 3.0)] == [1, 1, 3, 3, 4]


def test_a_reading_cannot_go_back_in_time():
    pod = _pod()
    pod.cpu_seconds(2.0)
    with pytest.raises(AssertionError):
        pod.cpu_seconds(1.0)


# -- runs ----------------------------------------------------------------------------------------
def _metered(text: str, *, engine: str | None = None, seed: int = 1, scrape: tuple[float, ...] = ()) -> list[list]:
    """Run with every Deployment metered; at each ``scrape`` time (after the engine caught up)
    read every pod: ``(cpu_seconds, requests_total, in_flight)``."""
    scenario = sim.load_scenario(text)
    wiring = _Wiring(scenario, seed, None, choose_engine(scenario, engine))
    wiring.cluster.metered = frozenset(d.name for d in scenario.deployments)
    readings: list[list] = []

    def scraper() -> Any:
        for t in scrape:
            yield wiring.env.timeout(t - wiring.env.now)
            wiring.engine.advance(t)
            readings.append([(p.cpu_seconds(t), p.requests_total(t), p.in_flight(t)) for p in wiring.pods])

    wiring.env.process(scraper())
    wiring.execute(None)
    return readings


def test_both_engines_agree_on_usage_through_a_crash():
    """Seed 5; two pods, c = 2, a crash of one at 4 s: batch and events read the same CPU
    (to 1e-9 relative: only the order of the sums differs), counters and in-flight counts."""
    text = scenario_yaml(
        replicas=2,
        concurrency=2,
        rate=150.0,
        duration=10.0,
        workload={"cpu": {"idle": "50m"}, "onCancel": "drop"},
        clients=[{"name": "c0", "rate": 150.0, "timeout": "30ms"}],
    )
    docs = list(yaml.safe_load_all(text))
    docs[2]["spec"]["events"] = [{"at": "4s", "crash": {"deployment": "web", "count": 1}}]
    text = yaml.safe_dump_all(docs, sort_keys=False)
    times = (2.0, 4.0, 4.5, 7.0, 9.5)
    batch = _metered(text, engine="batch", seed=5, scrape=times)
    events = _metered(text, engine="events", seed=5, scrape=times)
    for b_row, e_row in zip(batch, events, strict=True):
        assert [(n, f) for _, n, f in b_row] == [(n, f) for _, n, f in e_row]
        assert [c for c, _, _ in b_row] == pytest.approx([c for c, _, _ in e_row], rel=1e-9)
    assert batch[-1][0][1] > 0 and batch[-1][1][1] > 0


@pytest.mark.parametrize(
    ("workload", "per_request_s"),
    [({}, 0.001), ({"cpu": {"perRequest": "0.5ms"}}, 0.0005), ({"cpu": {"idle": "250m"}}, 0.001)],
    ids=["service-time", "per-request", "idle"],
)
def test_utilization_between_two_scrapes_is_rate_times_cpu_per_request(workload, per_request_s):
    """Seed 11; one pod, c = 16, Poisson 4000 req/s, exponential service 1 ms, request cpu 1:
    the CPU rate between scrapes at 15 s and 30 s is 4000 × cpu per request (+ idle) / 1 core
    within 3 %. Over 15 s, 60 000 requests: the relative sd of Σ service is sqrt(2/60000) =
    0.58 % (exponential), of N × perRequest 0.41 %, so 3 % is over 5 sd."""
    text = scenario_yaml(
        concurrency=16,
        rate=4000.0,
        duration=31.0,
        service_time={"distribution": "exponential", "mean": "1ms"},
        workload=workload,
    )
    first, second = _metered(text, seed=11, scrape=(15.0, 30.0))
    utilization = (second[0][0] - first[0][0]) / 15.0 / 1.0
    idle = 0.25 if "idle" in workload.get("cpu", {}) else 0.0
    assert utilization == pytest.approx(4000 * per_request_s + idle, rel=0.03)


# -- throttling ----------------------------------------------------------------------------------
def _with_cpu_limit(text: str, cpu: Any) -> str:
    docs = list(yaml.safe_load_all(text))
    docs[1]["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"cpu": cpu}}
    return yaml.safe_dump_all(docs, sort_keys=False)


@pytest.mark.parametrize("engine", ["batch", "events"])
def test_a_saturated_pod_serves_what_its_cpu_limit_allows(engine):
    """Seed 3; c = 4, default cpu (r = 1), limit 1 CPU, Poisson 200 req/s against exponential
    10 ms work: capacity is 1 core / 10 ms = 100 req/s, not the 400 its workers could serve.
    Completions in [10 s, 60 s] (the queue never empties): within 3 % of 100/s (5000 of them;
    a saturated M/M/1-like server's count over 50 s has sd ≈ 1.4 %)."""
    text = _with_cpu_limit(scenario_yaml(concurrency=4, rate=200.0, duration=60.0), "1")
    requests = sim.simulate(sim.load_scenario(text), seed=3, engine=engine).requests
    done = requests[(requests.outcome == "ok") & (requests.t_done > 10) & (requests.t_done <= 60)]
    assert len(done) / 50 == pytest.approx(100, rel=0.03)


def test_a_pod_serving_one_request_at_a_time_is_not_slowed():
    """Constant arrivals 10/s against constant 10 ms work never overlap: c = 4 with a 1-CPU
    limit gives the same latencies, to the bit, as no limit; and c = 1 within its limit is not
    throttled at all."""
    base = scenario_yaml(concurrency=4, rate=10.0, arrival="constant", duration=20.0, service_time="10ms")
    free = sim.simulate(sim.load_scenario(base), seed=2).requests
    limited = sim.simulate(sim.load_scenario(_with_cpu_limit(base, "1")), seed=2).requests
    assert limited.latency.tolist() == free.latency.tolist()


def test_only_a_pod_whose_workers_can_exceed_a_limit_every_container_sets_is_throttled():
    """cpuLimitsDeclared: a container without a cpu limit leaves the pod unlimited; c = 1 at
    r = 1 never exceeds 1 CPU; c = 4 does; perRequest 2.5 ms on 10 ms work (r = 0.25) does not."""

    def quota(concurrency: int, containers: list[dict[str, Any]], workload: dict[str, Any] | None = None) -> Any:
        docs = list(yaml.safe_load_all(scenario_yaml(concurrency=concurrency, workload=workload)))
        docs[1]["spec"]["template"]["spec"]["containers"] = containers
        scenario = sim.load_scenario(yaml.safe_dump_all(docs, sort_keys=False))
        return cpu_throttle(scenario.deployments[0], scenario.simulation.workloads["web"])

    app = {"name": "app", "image": "nginx", "ports": [{"containerPort": 80}], "resources": {"limits": {"cpu": "1"}}}
    side = {"name": "side", "image": "envoy"}
    assert quota(4, [app]) == (1.0, 1.0)
    assert quota(4, [app, side]) == (None, 1.0)
    assert quota(4, [app, {**side, "resources": {"limits": {"cpu": "500m"}}}]) == (1.5, 1.0)
    assert quota(1, [app]) == (None, 1.0)
    assert quota(4, [app], {"cpu": {"perRequest": "2.5ms"}}) == (None, 0.25)


def test_throttling_stretches_wall_time_not_cpu():
    """c = 2, limit 1 core, 1 s requests both arriving at 0: the second starts with 2 busy and
    takes 2 s; each still burns 1 CPU-second."""
    pod = _pod(concurrency=2, limits=PodLimits(cpu_limit=1.0, cpu_demand=1.0))
    _, start, service = pod.admit(np.array([0.0, 0.0]), None)
    assert start.tolist() == [0.0, 0.0] and service.tolist() == [1.0, 2.0]
    assert pod.cpu_seconds(1.0) == pytest.approx(1.5)
    assert pod.cpu_seconds(3.0) == pytest.approx(2.0)


# -- parsing -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("usage", "message"),
    [
        (
            {"cpu": {"idle": -1}},
            'spec.workloads.web.cpu.idle: Invalid value: "-1": must be greater than or equal to 0',
        ),
        (
            {"cpu": {"perRequest": "8 parsecs"}},
            "spec.workloads.web.cpu.perRequest:",
        ),
        (
            {"memory": {"base": "2Mx"}},
            'spec.workloads.web.memory.base: Invalid value: "2Mx": quantities must match the regular expression',
        ),
        (
            {"memory": {"perRequst": "1Mi"}},
            "spec.workloads.web.memory.perRequst: unknown field; expected one of: base, perRequest",
        ),
    ],
)
def test_a_bad_usage_field_is_one_line_and_exit_code_2(tmp_path, capsys, usage, message):
    path = tmp_path / "bad.yaml"
    path.write_text(scenario_yaml(workload=usage))
    code = main(["run", str(path), "--out", str(tmp_path / "out")])
    stdout, stderr = capsys.readouterr()
    assert (code, stdout) == (2, "")
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: document 3") and message in lines[0]


def test_usage_fields_reload_from_the_saved_scenario_and_a_rollout_replaces_the_block():
    text = scenario_yaml(workload={"cpu": {"perRequest": "8ms", "idle": "20m"}, "memory": {"base": "200Mi"}})
    docs = list(yaml.safe_load_all(text))
    docs[2]["spec"]["events"] = [{"at": "1s", "rollout": {"deployment": "web", "workload": {"cpu": {"idle": 0.1}}}}]
    scenario = sim.load_scenario(yaml.safe_dump_all(docs, sort_keys=False))
    workload = scenario.simulation.workloads["web"]
    assert workload.cpu == CpuUsage(0.008, 0.02) and workload.memory == MemoryUsage(200 * MI, 0.0)
    rolled = scenario.simulation.events[0].workload
    assert rolled.cpu == CpuUsage(None, 0.1) and rolled.memory == workload.memory
    again = sim.load_scenario(scenario.to_yaml())
    assert again.simulation.workloads == scenario.simulation.workloads
    assert again.simulation.events == scenario.simulation.events


def test_only_deployments_an_hpa_scales_keep_usage_accounts():
    """The accounts cost nothing elsewhere: without an HPA no pod has one."""
    text = scenario_yaml(replicas=2)
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "maxReplicas": 4},
    }
    for extra, metered in (([], False), ([hpa], True)):
        docs = list(yaml.safe_load_all(text)) + extra
        scenario = sim.load_scenario(yaml.safe_dump_all(docs, sort_keys=False))
        wiring = _Wiring(scenario, 1, None, choose_engine(scenario, None))
        wiring.cluster.start()
        assert [p.usage is not None for p in wiring.pods] == [metered, metered]


CALLING = """apiVersion: v1
kind: Service
metadata: {name: front}
spec: {selector: {app: front}, ports: [{port: 80, targetPort: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: back}
spec: {selector: {app: back}, ports: [{port: 80, targetPort: 80}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: front}
spec:
  replicas: 2
  selector: {matchLabels: {app: front}}
  template:
    metadata: {labels: {app: front}}
    spec: {containers: [{name: app, image: app}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: back}
spec:
  replicas: 2
  selector: {matchLabels: {app: back}}
  template:
    metadata: {labels: {app: back}}
    spec: {containers: [{name: app, image: app}]}
---
apiVersion: svcsim/v1alpha1
kind: Simulation
metadata: {name: calling}
spec:
  duration: 31s
  cluster: {nodes: 2}
  workloads:
    front: {serviceTime: 4ms, concurrency: 8, calls: [{service: back}]}
    back: {serviceTime: 20ms, concurrency: 8}
  clients:
    - {name: c, location: node-1, target: {service: front, via: clusterIP}, rate: 100, arrival: constant}
"""


def test_a_calling_pod_burns_cpu_over_its_own_work_only():
    """Constant 100 req/s, 4 ms of own work per request at the front, 20 ms at the back: between
    scrapes at 15 s and 30 s the front's pods burn 0.4 cores together and the back's 2.0 (within
    1 %: only requests straddling a scrape move it); the wait on the call is not CPU."""
    first, second = _metered(CALLING, seed=3, scrape=(15.0, 30.0))
    cores = [(b[0] - a[0]) / 15.0 for a, b in zip(first, second, strict=True)]
    front, back = sum(cores[:2]), sum(cores[2:])  # pods in creation order: front's two, then back's
    assert front == pytest.approx(0.4, rel=0.01)
    assert back == pytest.approx(2.0, rel=0.01)
