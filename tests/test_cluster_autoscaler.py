"""Cluster Autoscaler (issue 11): the pure decisions, an end-to-end timeline pinned to the
second, the node slots' names and addresses, and the field's parse errors
(docs/semantics.md#cluster-autoscaler)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import sim
from sim.runtime.cluster_autoscaler import (
    MAX_EMPTY_BULK_DELETE,
    NodeLoad,
    nodes_to_remove,
    pack_pending,
    unneeded_nodes,
    utilization,
)
from sim.runtime.placement import PodSpec
from sim.scenario.simulation import Allocatable

ROOT = Path(__file__).resolve().parent.parent
GI = 2**30
NODE = Allocatable(cpu_m=4000, memory_b=16 * GI, pods=110)


def pod(cpu_m: int, memory_b: int = 0, selector: tuple[tuple[str, str], ...] = ()) -> PodSpec:
    return PodSpec(cpu_m, memory_b, selector, "web-1")


def load(index: int, cpu: int, pods: list[PodSpec], memory: int = 0, **kw: object) -> NodeLoad:
    return NodeLoad(index, 4000, 16 * GI, 110, cpu, memory, len(pods), {}, pods, **kw)  # type: ignore[arg-type]


# -- scale-up: packing -------------------------------------------------------------------
def test_packing_first_fit_opens_as_few_template_nodes_as_the_requests_need():
    """Nine 1-CPU pods and one 3-CPU pod on 4-CPU nodes: two full nodes, the third holds 1 + 3 CPU."""
    packing = pack_pending([pod(1000)] * 9 + [pod(3000)], NODE, {}, upcoming=0, room=10)
    assert packing.new_nodes == 3 and packing.misfits == {}


def test_packing_counts_nodes_already_being_provisioned():
    packing = pack_pending([pod(1000)] * 6, NODE, {}, upcoming=1, room=10)
    assert packing.new_nodes == 1  # four go on the upcoming node, two on a new one


def test_packing_stops_at_max_nodes_and_says_so():
    packing = pack_pending([pod(2000)] * 5, NODE, {}, upcoming=0, room=2)
    assert packing.new_nodes == 2
    assert packing.misfits == {4: ["max node group size reached"]}


def test_pods_no_template_node_would_take_trigger_nothing():
    big = pod(5000, 20 * GI)
    picky = pod(100, selector=(("disk", "ssd"),))
    packing = pack_pending([big, picky], NODE, {"disk": "hdd"}, upcoming=0, room=5)
    assert packing.new_nodes == 0
    assert packing.misfits == {
        0: ["Insufficient cpu", "Insufficient memory"],
        1: ["node(s) didn't match Pod's node affinity/selector"],
    }


# -- scale-down: unneeded nodes and what goes ----------------------------------------------
def test_utilization_is_the_larger_share_of_cpu_and_memory():
    assert utilization(load(0, 1000, [], memory=12 * GI)) == 0.75
    assert utilization(load(0, 1999, [])) < 0.5 <= utilization(load(0, 2000, []))


def test_a_node_is_unneeded_only_if_under_threshold_and_its_pods_fit_elsewhere():
    nodes = [
        load(0, 3500, [pod(1000)] * 3 + [pod(500)]),  # 87.5 %: needed
        load(1, 1000, [pod(1000)]),  # 25 %: its pod does not fit on node 0 (500m free), it does on node 2
        load(2, 1500, [pod(1500)]),  # 37.5 %: but with node 1 gone its pod fits nowhere (node 0: 500m free)
    ]
    assert unneeded_nodes(nodes, 0.5) == [1]


def test_blocked_and_unready_nodes_are_never_unneeded():
    nodes = [load(0, 0, [], blocked=True), load(1, 0, [], ready=False), load(2, 0, [])]
    assert unneeded_nodes(nodes, 0.5) == [2]


def test_empty_nodes_go_in_bulk_others_one_at_a_time():
    since = dict.fromkeys(range(15), 0.0)
    empty = set(range(12))
    deleted, drain = nodes_to_remove(since, empty, 600.0, 600.0, present=20, min_nodes=0, draining=False)
    assert deleted == list(range(MAX_EMPTY_BULK_DELETE)) and drain == 12
    _, drain = nodes_to_remove(since, empty, 600.0, 600.0, present=20, min_nodes=0, draining=True)
    assert drain is None  # one drain at a time


def test_never_below_min_nodes_and_only_after_the_unneeded_time():
    since = {1: 0.0, 2: 0.0, 3: 10.0}
    assert nodes_to_remove(since, {1, 2, 3}, 600.0, 600.0, present=4, min_nodes=2, draining=False) == ([1, 2], None)
    assert nodes_to_remove(since, {1, 2, 3}, 600.0, 600.0, present=4, min_nodes=4, draining=False) == ([], None)
    assert nodes_to_remove(since, set(), 609.0, 600.0, present=4, min_nodes=0, draining=False) == ([], 1)


# -- end to end --------------------------------------------------------------------------
def scenario(events: str, autoscaler: str = "{minNodes: 1, maxNodes: 4}", client: str = "location: node-1") -> str:
    return f"""apiVersion: v1
kind: Service
metadata: {{name: web}}
spec: {{selector: {{app: web}}, ports: [{{port: 80}}]}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers: [{{name: app, image: app, resources: {{requests: {{cpu: "1"}}}}}}]
---
apiVersion: svcsim/v1alpha1
kind: Simulation
metadata: {{name: ca}}
spec:
  seed: 3
  duration: 20m
  cluster:
    nodes: 2
    autoscaler: {autoscaler}
  workloads:
    web: {{serviceTime: 5ms, startupTime: 1s}}
  clients:
    - {{name: c, {client}, target: {{service: web, via: clusterIP}}, rate: 5}}
  events:
{events}"""


def _events(result: sim.Result, *reasons: str) -> list[tuple[float, str, str]]:
    e = result.events
    e = e[e["reason"].isin(reasons)]
    return [(float(t), str(r), str(o)) for t, r, o in zip(e["time"], e["reason"], e["object"], strict=True)]


def test_pending_pod_scales_up_at_the_next_scan_and_schedules_when_the_node_is_ready():
    """At 33 s ten 1-CPU pods want 2 nodes of 4 CPUs: two are Pending. The scan at 40 s adds one
    node (TriggeredScaleUp on both pods), Ready at 100 s, where both are scheduled at once.
    At 5m the Deployment shrinks to 2; node-3 is empty from then, the delay after the scale-up
    (40 s + 10m = 640 s) has passed by the time it has been unneeded 10 minutes: tainted at 910 s,
    deleted 5 s later (--node-delete-delay-after-taint), at 915 s."""
    result = sim.simulate(
        sim.load_scenario(
            scenario(
                "    - {at: 33s, scale: {deployment: web, replicas: 10}}\n"
                "    - {at: 5m, scale: {deployment: web, replicas: 2}}\n"
            )
        )
    )
    triggered = _events(result, "TriggeredScaleUp")
    assert [t for t, _, _ in triggered] == [40.0, 40.0]
    message = result.events[result.events["reason"] == "TriggeredScaleUp"]["message"].iloc[0]
    assert message == "pod triggered scale-up: [{nodes 2->3 (max: 4)}]"
    assert _events(result, "RegisteredNode", "NodeReady") == [
        (100.0, "RegisteredNode", "node/node-3"),
        (100.0, "NodeReady", "node/node-3"),
    ]
    late = {o for _, _, o in triggered}
    scheduled = result.events[(result.events["reason"] == "Scheduled") & result.events["object"].isin(late)]
    assert set(scheduled["time"]) == {100.0}
    assert set(scheduled["message"].str.endswith("to node-3")) == {True}
    nodes = result.nodes.set_index("node")
    assert nodes.loc["node-3", "added"] == 100.0
    assert _events(result, "ScaleDown")[0] == (910.0, "ScaleDown", "node/node-3")  # unneeded from 310 s, + 10m
    assert nodes.loc["node-3", "removed"] == 915.0
    assert pd.isna(nodes.loc["node-1", "removed"])  # the client's node


def test_drained_node_evicts_its_pods_and_goes_once_they_have():
    """node-2 holds one pod (25 %) that fits on node-1 beside the other: unneeded from the first
    scan, removed after 10 minutes by draining (no scale-up, so no delay after add)."""
    result = sim.simulate(sim.load_scenario(scenario("    []\n")))
    marked = _events(result, "ScaleDown")
    evicted = [o for t, r, o in marked if o.startswith("pod/")]
    assert marked[0] == (610.0, "ScaleDown", "node/node-2")  # unneeded since the scan at 10 s
    assert len(evicted) == 1
    removed = result.nodes.set_index("node").loc["node-2", "removed"]
    assert 615.0 <= removed <= 645.0 and (removed - 610.0) % 5 == 0  # drain checks every 5 s, then 5 s after taint
    on_node_2 = result.pods[(result.pods["node"] == "node-2")]
    assert (on_node_2["deleted"] <= removed).all()
    assert len(result.pods[result.pods["deleted"].isna()]) == 2  # the replacement runs elsewhere


def test_min_nodes_holds_the_cluster():
    result = sim.simulate(sim.load_scenario(scenario("    []\n", autoscaler="{minNodes: 2, maxNodes: 4}")))
    assert _events(result, "ScaleDown") == []
    assert result.nodes["removed"].isna().all()


def test_slots_take_the_next_names_ips_and_pod_cidrs():
    scn = sim.load_scenario(
        scenario("    []\n", autoscaler="{minNodes: 1, maxNodes: 4, nodeTemplate: {labels: {pool: b}}}")
    )
    cluster = scn.simulation.cluster
    assert [(n.name, n.ip) for n in cluster.slots] == [
        ("node-1", "192.168.1.2"),
        ("node-2", "192.168.1.3"),
        ("node-3", "192.168.1.4"),
        ("node-4", "192.168.1.5"),
    ]
    assert cluster.slots[3].labels["pool"] == "b" and cluster.slots[3].labels["kubernetes.io/hostname"] == "node-4"
    written = scn.simulation.to_manifest()["spec"]["cluster"]["autoscaler"]
    assert written["maxNodes"] == 4 and written["scaleDownUnneededTime"] == "10m"


@pytest.mark.parametrize(
    ("autoscaler", "message"),
    [
        (
            "{minNodes: 3, maxNodes: 4}",
            "spec.cluster.autoscaler.minNodes: Invalid value: 3: must be at most the initial node count (2",
        ),
        (
            "{minNodes: 1, maxNodes: 1}",
            "spec.cluster.autoscaler.maxNodes: Invalid value: 1: must be at least the initial node count (2",
        ),
        (
            "{minNodes: 1, maxNodes: 20000}",
            "spec.cluster.autoscaler.maxNodes: Invalid value: 20000: must be less than or equal to 10000",
        ),
        ("{maxNodes: 4}", "spec.cluster.autoscaler.minNodes: Required value"),
        ("{minNodes: 1, maxNodes: 4, scanInterval: 0s}", "spec.cluster.autoscaler.scanInterval"),
        (
            "{minNodes: 1, maxNodes: 4, scaleDownUtilizationThreshold: 7}",
            "spec.cluster.autoscaler.scaleDownUtilizationThreshold",
        ),
        (
            "{minNodes: 1, maxNodes: 4, nodeTemplate: {cpu: 4}}",
            "spec.cluster.autoscaler.nodeTemplate.cpu: unknown field",
        ),
        ("{minNodes: 1, maxNodes: 4, expander: random}", "spec.cluster.autoscaler.expander: unknown field"),
    ],
)
def test_autoscaler_errors_exit_2_naming_the_field(tmp_path, autoscaler, message):
    path = tmp_path / "s.yaml"
    path.write_text(scenario("    []\n", autoscaler=autoscaler))
    done = subprocess.run(
        [sys.executable, "-m", "sim", "validate", str(path)], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and str(path) in lines[0], done.stderr


def test_a_balancer_drains_a_node_the_autoscaler_deletes_before_it_goes():
    """kube-proxy's healthz fails on a node tainted ToBeDeletedByClusterAutoscaler (KEP-3836): a
    LoadBalancer with policy Cluster takes it out of rotation at its next health check (1 s here),
    within the 5 s the autoscaler waits after the taint, so no request is sent to the deleted node."""
    text = Path(__file__).resolve().parents[1].joinpath("scenarios", "cluster-autoscaler.yaml").read_text()
    text = text.replace("    autoscaler:\n", "    loadBalancer: {healthCheckInterval: 1s}\n    autoscaler:\n")
    assert "healthCheckInterval: 1s" in text
    result = sim.simulate(sim.load_scenario(text), seed=7)
    removed = result.nodes.dropna(subset=["removed"])
    assert len(removed)
    tainted = float(result.events[result.events["reason"] == "ScaleDown"]["time"].min())
    requests = result.requests
    late = requests[requests["entry_node"].isin(removed["node"]) & (requests["t_sent"] >= tainted)]
    assert len(late) and (late["outcome"] == "ok").all()


def test_a_node_a_nodeport_client_sends_to_is_never_removed():
    """The drain case above, but the client sends to the nodes' IPs (via nodePort, to every node
    present at t = 0): removing node-2 would send half its requests into a deleted node, so the
    autoscaler keeps it (as it keeps a node a client runs on)."""
    text = scenario("    []\n", client="location: external").replace(
        "spec: {selector: {app: web}, ports: [{port: 80}]}", "spec: {type: NodePort, selector: {app: web}, ports: [{port: 80}]}"
    ).replace("via: clusterIP", "via: nodePort")
    result = sim.simulate(sim.load_scenario(text))
    assert _events(result, "ScaleDown") == []
    assert result.nodes["removed"].isna().all()
    assert (result.requests["outcome"] == "ok").all()


def test_get_pods_from_a_run_folder_shows_no_node_while_a_pod_is_pending(tmp_path, capsys):
    """The two pods Pending from 33 s to 100 s (the first test's run) are bound to node-3 later;
    read back from the run folder at 50 s they have no IP and no node yet."""
    from sim.cli import main  # noqa: PLC0415

    result = sim.simulate(sim.load_scenario(scenario("    - {at: 33s, scale: {deployment: web, replicas: 10}}\n")))
    out = result.save(tmp_path / "run")
    capsys.readouterr()
    assert main(["get", "pods", str(out), "--at", "50s", "-o", "wide"]) == 0
    pending = [line.split() for line in capsys.readouterr().out.splitlines() if " Pending " in line]
    assert len(pending) == 2 and all(row[5:7] == ["<none>", "<none>"] for row in pending)
