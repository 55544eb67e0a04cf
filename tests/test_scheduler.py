"""kube-scheduler (issue 11): node allocatable, filter and score, FailedScheduling, Pending retries.

The scoring is cross-checked against a plain per-node transcription of the upstream plugins
(:func:`reference_scores`), written from docs/semantics.md#scheduling the way the Go code reads,
one node at a time; the messages are pinned to upstream's FitError wording.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from examples import examples
from hypothesis import given, settings
from hypothesis import strategies as st

import sim
from sim.results.kubectl import NODE_HEADER
from sim.runtime.placement import PodSpec, Scheduler, nodes_to_find
from sim.scenario.simulation import Allocatable, Node

ROOT = Path(__file__).resolve().parent.parent
GI = 2**30
MI = 2**20


def scenario_text(
    replicas: int,
    nodes: str = "3",
    resources: str = "{requests: {cpu: 1500m}}",
    node_selector: str = "",
    events: str = "",
    cluster: str = "",
) -> str:
    selector = f"\n      nodeSelector: {node_selector}" if node_selector else ""
    return f"""apiVersion: v1
kind: Service
metadata: {{name: web}}
spec: {{selector: {{app: web}}, ports: [{{port: 80}}]}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:{selector}
      containers: [{{name: app, image: app, resources: {resources}}}]
---
apiVersion: svcsim/v1alpha1
kind: Simulation
metadata: {{name: sched}}
spec:
  seed: 4
  duration: 60s
  cluster:
    nodes: {nodes}
{cluster}  workloads:
    web: {{serviceTime: 5ms, startupTime: 1s}}
  clients:
    - {{name: c, target: {{service: web, via: clusterIP}}, rate: 1}}
{events}"""


def run(text: str, seed: int = 4) -> sim.Result:
    return sim.simulate(sim.load_scenario(text), seed=seed)


def failed_messages(result: sim.Result) -> list[str]:
    events = result.events
    return events.loc[events["reason"] == "FailedScheduling", "message"].tolist()


# --- FailedScheduling wording ------------------------------------------------------------------


def test_insufficient_cpu_leaves_pods_pending_with_upstream_message():
    """3 nodes of 4 CPUs take two 1500m pods each; the 7th pod fits nowhere."""
    result = run(scenario_text(7))
    pods = result.pods
    assert pods["node"].notna().sum() == 6
    assert pods.groupby("node").size().tolist() == [2, 2, 2]
    pending = pods[pods["node"].isna()]
    assert len(pending) == 1 and pending["ip"].isna().all()
    assert failed_messages(result) == [
        "0/3 nodes are available: 3 Insufficient cpu. "
        "preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
    ]
    status = result.pod_status
    assert status.loc[status["pod"] == pending["pod"].iloc[0], "status"].tolist() == ["Pending"]


def test_memory_pods_and_a_request_larger_than_any_node():
    """Memory: 6Gi pods on 16Gi nodes (two each); pods: maxPods 1; a 5-CPU pod on 4-CPU nodes is
    unresolvable, so preemption is "not helpful" there."""
    memory = run(scenario_text(7, resources="{requests: {memory: 6Gi}}"))
    assert failed_messages(memory) == [
        "0/3 nodes are available: 3 Insufficient memory. "
        "preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
    ]
    pods = run(scenario_text(4, resources="{}", cluster="    allocatable: {pods: 1}\n"))
    assert failed_messages(pods) == [
        "0/3 nodes are available: 3 Too many pods. "
        "preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
    ]
    huge = run(scenario_text(1, resources="{requests: {cpu: 5, memory: 1Gi}}"))
    assert failed_messages(huge) == [
        "0/3 nodes are available: 3 Insufficient cpu. "
        "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    ]


def test_mixed_reasons_are_counted_and_sorted_as_strings():
    """12 nodes: 10 without the label, 2 full: the histogram sorts "10 node(s)..." before
    "2 Insufficient cpu" (Go's sort.Strings on the counted reasons)."""
    nodes = "\n" + "".join(
        f"      - {{name: n{i}, labels: {{disk: {'ssd' if i < 2 else 'hdd'}}}}}\n" for i in range(12)
    )
    result = run(scenario_text(5, nodes=nodes.rstrip("\n"), node_selector="{disk: ssd}"))
    assert failed_messages(result) == [
        "0/12 nodes are available: 10 node(s) didn't match Pod's node affinity/selector, 2 Insufficient cpu. "
        "preemption: 0/12 nodes are available: 10 Preemption is not helpful for scheduling, "
        "2 No preemption victims found for incoming pod."
    ]


def test_tainted_node_reason_and_retry_when_it_is_ready_again():
    """Two 4-CPU nodes, 2-CPU pods, one on each. node-2 fails at 10 s and turns NotReady at
    60 s (tainted); the scale to 4 at 70 s fills node-1 and leaves the 4th pod Pending (node-1
    full, node-2 tainted). node-2 comes back at 100 s; once it is Ready the Pending pod goes there."""
    text = scenario_text(
        2,
        nodes="2",
        resources="{requests: {cpu: 2}}",
        events=(
            "  events:\n"
            "    - {at: 10s, fail: {node: node-2}}\n"
            "    - {at: 70s, scale: {deployment: web, replicas: 4}}\n"
            "    - {at: 100s, recover: {node: node-2}}\n"
        ),
    ).replace("duration: 60s", "duration: 200s")
    result = run(text)
    assert failed_messages(result) == [
        "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint "
        "{node.kubernetes.io/unreachable: }. preemption: 0/2 nodes are available: "
        "1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling."
    ]
    events = result.events
    failed_at = events.loc[events["reason"] == "FailedScheduling", "time"].tolist()
    assert failed_at == [pytest.approx(70.0)]
    pending = events.loc[events["reason"] == "FailedScheduling", "object"].iloc[0]
    scheduled = events[(events["reason"] == "Scheduled") & (events["object"] == pending)]
    ready = events.loc[events["reason"] == "NodeReady", "time"].tolist()
    assert len(scheduled) == 1 and ready
    assert scheduled["time"].iloc[0] == pytest.approx(ready[0])
    assert scheduled["message"].iloc[0] == f"Successfully assigned default/{pending[4:]} to node-2"


TWO_DEPLOYMENTS = """apiVersion: apps/v1
kind: Deployment
metadata: {name: batch}
spec:
  replicas: 1
  selector: {matchLabels: {app: batch}}
  template:
    metadata: {labels: {app: batch}}
    spec: {containers: [{name: app, image: app, resources: {requests: {cpu: 3}}}]}
---
"""


def test_pending_pod_is_scheduled_when_a_pod_leaves():
    """One 4-CPU node: batch's pod requests 3 CPUs, so web's 1500m pod is Pending from the start.
    batch is scaled to 0 at 20 s; the moment its pod is gone, web's pod is bound to the node,
    gets an IP, and is Ready startupTime (1 s) later."""
    text = TWO_DEPLOYMENTS + scenario_text(
        1, nodes="1", events="  events:\n    - {at: 20s, scale: {deployment: batch, replicas: 0}}\n"
    ).replace(
        "    web: {serviceTime: 5ms, startupTime: 1s}",
        "    web: {serviceTime: 5ms, startupTime: 1s}\n    batch: {serviceTime: 5ms}",
    )
    result = run(text)
    pods = result.pods.set_index("deployment")
    web, batch = pods.loc["web"], pods.loc["batch"]
    assert failed_messages(result) == [
        "0/1 nodes are available: 1 Insufficient cpu. "
        "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
    ]
    events = result.events
    bound = events[(events["reason"] == "Scheduled") & (events["object"] == f"pod/{web['pod']}")]
    assert bound["time"].tolist() == [pytest.approx(batch["deleted"])]
    assert batch["deleted"] >= 20.0
    assert web["node"] == "node-1" and isinstance(web["ip"], str)
    assert web["ready"] == pytest.approx(batch["deleted"] + 1.0)
    status = result.pod_status[result.pod_status["pod"] == web["pod"]]["status"].tolist()
    assert status[0] == "Pending" and "Running" in status


# --- Spreading as the scores predict -----------------------------------------------------------


def test_equal_nodes_spread_within_one_pod():
    """Best-effort pods on 5 equal nodes: the spread score favours the node with fewest pods of
    the ReplicaSet, so counts never differ by more than one (seed 1..5)."""
    for seed in range(1, 6):
        result = run(scenario_text(23, nodes="5", resources="{}"), seed=seed)
        counts = result.pods.groupby("node").size()
        assert len(counts) == 5 and counts.max() - counts.min() <= 1, (seed, counts.tolist())


def test_unequal_allocatable_follows_least_allocated():
    """node-a has 8 CPUs, node-b 2 (memory equal, large); 500m pods. LeastAllocated prefers the
    node with the larger free share; spreading pulls the other way. Every choice agrees with the
    reference scores, and the big node ends with the most pods."""
    nodes = "\n      - {name: node-a, allocatable: {cpu: 8}}\n      - {name: node-b, allocatable: {cpu: 2}}"
    result = run(scenario_text(10, nodes=nodes, resources="{requests: {cpu: 500m}}"))
    counts = result.pods.groupby("node").size().to_dict()
    assert counts["node-a"] > counts["node-b"]
    # Replay the choices: each pod's node has the top reference score at its turn.
    alloc = [Allocatable(8000, 64 * GI, 110), Allocatable(2000, 64 * GI, 110)]
    state = {"cpu": [0, 0], "pods": [0, 0]}
    for pod in result.pods.sort_values("created", kind="stable").itertuples():
        node = 0 if pod.node == "node-a" else 1
        scores = reference_scores(alloc, state["cpu"], [0, 0], state["pods"], [None, None], 500, 0)
        assert scores[node] == max(scores), (pod.pod, scores)
        state["cpu"][node] += 500
        state["pods"][node] += 1


def test_same_seed_same_placement_other_seed_may_differ():
    text = scenario_text(12, nodes="4", resources="{}")
    a, b = run(text, seed=9), run(text, seed=9)
    assert a.pods[["pod", "node"]].equals(b.pods[["pod", "node"]])
    placements = {tuple(run(text, seed=s).pods.sort_values("created", kind="stable")["node"]) for s in range(1, 6)}
    assert len(placements) > 1  # ties are broken at random


# --- The vectorised cycle against a per-node transcription of the plugins ---------------------


def reference_scores(alloc, cpu_req, mem_req, pod_counts, zones, pod_cpu, pod_mem, group_counts=None):
    """Total score per node, plugin by plugin, as the Go code reads (every node feasible)."""
    group = group_counts if group_counts is not None else pod_counts
    n = len(alloc)
    nz_cpu = [c if c else 0 for c in cpu_req]
    totals = []
    raw_spread = []
    domains = len({z for z in zones if z is not None})
    for i in range(n):
        a = alloc[i]
        # LeastAllocated on non-zero requests (existing pods here request pod_cpu/pod_mem each).
        least = []
        for cap, used, own in (
            (a.cpu_m, nz_cpu[i] + (100 if not pod_cpu else 0) * pod_counts[i], pod_cpu or 100),
            (a.memory_b, mem_req[i] + (200 * MI if not pod_mem else 0) * pod_counts[i], pod_mem or 200 * MI),
        ):
            req = used + own
            least.append(0 if req > cap else (cap - req) * 100 // cap)
        fit = sum(least) // 2
        balanced = 0
        if pod_cpu or pod_mem:
            f1 = min((cpu_req[i] + pod_cpu) / a.cpu_m, 1.0)
            f2 = min((mem_req[i] + pod_mem) / a.memory_b, 1.0)
            balanced = int((1 - abs((f1 - f2) / 2)) * 100)
        s = group[i] * math.log(n + 2) + 2
        if zones[i] is not None:
            zc = sum(group[j] for j in range(n) if zones[j] == zones[i])
            s += zc * math.log(domains + 2) + 4
        raw_spread.append(math.floor(s + 0.5))
        totals.append(fit + balanced)
    hi, lo = max(raw_spread), min(raw_spread)
    spread = [100 if hi == 0 else 100 * (hi + lo - s) // hi for s in raw_spread]
    return [t + 2 * s for t, s in zip(totals, spread, strict=True)]


@settings(max_examples=examples(80), deadline=None)
@given(
    cpus=st.lists(st.sampled_from([1000, 2000, 4000, 8000]), min_size=2, max_size=7),
    zones=st.lists(st.sampled_from([None, "a", "b"]), min_size=7, max_size=7),
    pod_cpu=st.sampled_from([0, 250, 500]),
    pod_mem=st.sampled_from([0, 256 * MI, GI]),
    pods=st.integers(1, 25),
)
def test_vectorised_cycle_matches_the_reference(cpus, zones, pod_cpu, pod_mem, pods):
    """Every choice the scheduler makes has the top reference score, and it uses a tie draw only
    when two or more nodes share the top score."""
    zones = zones[: len(cpus)]
    nodes = [
        Node(f"n{i}", None, {"topology.kubernetes.io/zone": z} if z else {}, Allocatable(c, 16 * GI, 110))
        for i, (c, z) in enumerate(zip(cpus, zones, strict=True))
    ]
    draws = []

    def uniform() -> float:
        draws.append(1)
        return 0.5

    scheduler = Scheduler(nodes, uniform)
    spec = PodSpec(pod_cpu, pod_mem, (), "rs")
    cpu = [0] * len(nodes)
    mem = [0] * len(nodes)
    count = [0] * len(nodes)
    for _ in range(pods):
        chosen = scheduler.schedule(spec)
        fits = [
            count[i] + 1 <= 110 and pod_cpu <= cpus[i] - cpu[i] and pod_mem <= 16 * GI - mem[i]
            for i in range(len(nodes))
        ]
        if not any(fits):
            assert isinstance(chosen, str)
            break
        assert isinstance(chosen, int)
        before = len(draws)
        if all(fits):
            scores = reference_scores([n.allocatable for n in nodes], cpu, mem, count, zones, pod_cpu, pod_mem)
            top = [i for i, s in enumerate(scores) if s == max(scores)]
            assert chosen in top, (scores, chosen)
        scheduler.bind(chosen, spec)
        cpu[chosen] += pod_cpu
        mem[chosen] += pod_mem
        count[chosen] += 1
        assert len(draws) - before <= 1


def test_nodes_to_find_is_upstreams_adaptive_percentage():
    sizes = (1, 99, 100, 200, 250, 1000, 5000, 10000)
    assert [nodes_to_find(n) for n in sizes] == [1, 99, 100, 100, 120, 420, 500, 500]


def test_large_cluster_scores_only_the_nodes_found_and_rotates_the_start():
    """1000 equal nodes: each cycle examines 420 feasible nodes from a start index that moves
    on by 420, so 1000 pods land on every node once or twice and none three times."""
    nodes = [Node(f"n{i:04d}", None, {}) for i in range(1000)]
    scheduler = Scheduler(nodes, np.random.default_rng(1).random)
    spec = PodSpec(0, 0, (), "rs")
    for _ in range(1000):
        node = scheduler.schedule(spec)
        assert isinstance(node, int)
        scheduler.bind(node, spec)
    assert scheduler.pods.max() <= 2
    assert scheduler._start == (1000 * 420) % 1000


# --- Fields, views and tables -------------------------------------------------------------------


def test_allocatable_defaults_and_overrides_field_by_field():
    text = scenario_text(
        1,
        nodes="\n      - {name: a}\n      - {name: b, allocatable: {memory: 8Gi}}",
        cluster="    allocatable: {cpu: 3500m, pods: 30}\n",
    )
    nodes = sim.load_scenario(text).simulation.cluster.nodes
    assert [n.allocatable for n in nodes] == [Allocatable(3500, 16 * GI, 30), Allocatable(3500, 8 * GI, 30)]
    default = sim.load_scenario(scenario_text(1)).simulation.cluster.nodes[0].allocatable
    assert default == Allocatable(4000, 16 * GI, 110)


@pytest.mark.parametrize(
    ("allocatable", "message"),
    [
        ("{cpu: lots}", 'spec.cluster.allocatable.cpu: Invalid value: "lots": quantities must match'),
        ("{memory: -1Gi}", 'spec.cluster.allocatable.memory: Invalid value: "-1Gi": must be greater than'),
        ("{pods: 1.5}", 'spec.cluster.allocatable.pods: Invalid value: "1500m": must be an integer'),
        ("{gpu: 1}", "spec.cluster.allocatable.gpu: unknown field; expected one of: cpu, memory, pods"),
    ],
)
def test_allocatable_errors_exit_2_on_one_line(tmp_path, allocatable, message):
    path = tmp_path / "s.yaml"
    path.write_text(scenario_text(1, cluster=f"    allocatable: {allocatable}\n"))
    done = subprocess.run(
        [sys.executable, "-m", "sim", "validate", str(path)], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and str(path) in lines[0], done.stderr


def test_per_node_allocatable_error_names_the_node(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(scenario_text(1, nodes="\n      - {name: a, allocatable: {cpu: x}}"))
    done = subprocess.run(
        [sys.executable, "-m", "sim", "validate", str(path)], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.returncode == 2 and "spec.cluster.nodes[0].allocatable.cpu" in done.stderr


def test_nodes_table_and_get_nodes(tmp_path):
    result = run(scenario_text(7))
    nodes = result.nodes
    assert nodes.columns.tolist() == ["node", "ip", "zone", "cpu_m", "memory_bytes", "pods", "added", "removed"]
    assert nodes["cpu_m"].tolist() == [4000] * 3 and nodes["added"].tolist() == [0.0] * 3
    assert nodes["removed"].isna().all()
    out = result.save(tmp_path / "run")
    back = pd.read_parquet(out / "nodes.parquet")
    assert back.equals(nodes)
    done = subprocess.run(
        [sys.executable, "-m", "sim", "get", "nodes", str(out), "--at", "30s"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == NODE_HEADER
    assert lines[1].split() == ["node-1", "Ready", "4", "3", "(75%)", "16Gi", "0", "(0%)", "2/110", "30s"]
