"""The Simulation document's lifecycle fields and events (issue 10): parsed, checked against the
other documents, written back, counted towards svcsim's limits and told in words.

Each refusal is one line naming the file, the document and the field, as for every other
Simulation field; the run-time behaviour of these fields is tested with the control plane.
"""

from __future__ import annotations

import copy
import dataclasses
import types
from pathlib import Path
from typing import Any

import pytest
import yaml

import sim
from sim.distributions import parse_distribution
from sim.kube.deployment import Strategy
from sim.results.report import describe
from sim.scenario.pod_count import PodCount
from sim.scenario.run_limits import MAX_ENDPOINT_UPDATES, MAX_PODS, MAX_WORKERS
from sim.scenario.simulation import (
    CrashEvent,
    Failures,
    NodeEvent,
    OnSigterm,
    ProbeFailure,
    RolloutEvent,
    ScaleEvent,
    Shutdown,
    Workload,
)

ZONE = "topology.kubernetes.io/zone"


def service() -> dict[str, Any]:
    spec = {"type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 80}]}
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": spec}


def deployment(name: str = "web", replicas: int = 3, **pod: Any) -> dict[str, Any]:
    container = {"name": "app", "image": "nginx", **pod.pop("container", {})}
    spec = {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container], **pod}},
    }
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": spec}


def simulation(**spec: Any) -> dict[str, Any]:
    """Two nodes in zones a and b, a ``web`` workload and one client; ``spec`` replaces keys."""
    body: dict[str, Any] = {
        "seed": 1,
        "duration": "10m",
        "cluster": {
            "nodes": [{"name": "node-1", "labels": {ZONE: "a"}}, {"name": "node-2", "labels": {ZONE: "b"}}],
            "network": {"clientToNode": "1ms", "nodeToNode": "1ms"},  # 0.2ms does not survive format_duration
        },
        "workloads": {"web": {"serviceTime": "10ms"}},
        "clients": [{"name": "c", "target": {"service": "web"}, "rate": 10}],
    }
    body.update(spec)
    return {"apiVersion": "svcsim/v1alpha1", "kind": "Simulation", "metadata": {"name": "t"}, "spec": body}


def write(tmp_path: Path, *docs: dict[str, Any]) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump_all(list(docs), sort_keys=False))
    return path


def load(tmp_path: Path, sim_doc: dict[str, Any], *deployments: dict[str, Any]) -> sim.Scenario:
    return sim.load_scenario(write(tmp_path, service(), *(deployments or (deployment(),)), sim_doc))


def problems(tmp_path: Path, sim_doc: dict[str, Any], *deployments: dict[str, Any]) -> list[str]:
    """The problems after ``Simulation "t", line N): ``, one per line."""
    with pytest.raises(sim.ScenarioError) as info:
        load(tmp_path, sim_doc, *deployments)
    return [str(p).split("): ", 1)[1] for p in info.value.problems]


def with_workload(**fields: Any) -> dict[str, Any]:
    return simulation(workloads={"web": {"serviceTime": "10ms", **fields}})


def with_events(*events: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return simulation(events=list(events), **spec)


# --- defaults and values -------------------------------------------------------------------


def test_lifecycle_fields_default_to_stop_accepting_and_nothing_failing(tmp_path):
    s = load(tmp_path, simulation()).simulation
    assert s.workloads["web"].shutdown == Shutdown(OnSigterm.STOP_ACCEPTING, None, None)
    assert s.workloads["web"].probe_failure is None
    assert s.workloads["web"].failures is None
    assert s.cluster.node_monitor_grace_period_s == 50.0
    assert s.events == ()


def test_lifecycle_fields_are_read_into_their_dataclasses(tmp_path):
    doc = with_workload(
        shutdown={"onSigterm": "drain", "drainTimeout": "5s", "preStopTime": "2s"},
        probeFailure={"inFlightAbove": 20, "waitAboveTimeout": True, "probes": ["liveness", "startup"]},
        failures={"meanTimeBetween": "2h"},
    )
    doc["spec"]["cluster"]["nodeMonitorGracePeriod"] = "40s"
    s = load(tmp_path, doc).simulation
    web = s.workloads["web"]
    assert web.shutdown == Shutdown(OnSigterm.DRAIN, 5.0, 2.0)
    assert web.probe_failure == ProbeFailure(20, True, ("liveness", "startup"))
    assert web.failures == Failures(7200.0)
    assert s.cluster.node_monitor_grace_period_s == 40.0


def test_each_event_kind_is_read_into_its_dataclass(tmp_path):
    doc = with_events(
        {"at": "1m", "scale": {"deployment": "web", "replicas": 4}},
        {"at": "2m", "rollout": {"deployment": "web"}},
        {"at": "3m", "crash": {"pod": "web-5d8f7c9b4-x2b7k"}},
        {"at": "3m", "crash": {"deployment": "web", "count": 2}},
        {"at": "3m", "crash": {"deployment": "web"}},
        {"at": "4m", "fail": {"node": "node-2"}},
        {"at": "5m", "recover": {"node": "node-2"}},
        {"at": "6m", "fail": {"zone": "a"}},
        {"at": "7m", "recover": {"zone": "a"}},
    )
    assert load(tmp_path, doc).simulation.events == (
        ScaleEvent(60.0, "web", 4),
        RolloutEvent(120.0, "web", None),
        CrashEvent(180.0, pod="web-5d8f7c9b4-x2b7k"),
        CrashEvent(180.0, deployment="web", count=2),
        CrashEvent(180.0, deployment="web", count=1),
        NodeEvent(240.0, "fail", node="node-2"),
        NodeEvent(300.0, "recover", node="node-2"),
        NodeEvent(360.0, "fail", zone="a"),
        NodeEvent(420.0, "recover", zone="a"),
    )


# --- rollouts: a workload block over the revision it follows -------------------------------


def test_rollout_workload_replaces_the_fields_it_gives_and_keeps_the_rest(tmp_path):
    doc = simulation(
        workloads={
            "web": {"serviceTime": "10ms", "concurrency": 2, "queueLimit": 5, "shutdown": {"onSigterm": "exit"}}
        },
        events=[
            {"at": "1m", "rollout": {"deployment": "web", "workload": {"serviceTime": "20ms", "queueLimit": None}}}
        ],
    )
    (event,) = load(tmp_path, doc).simulation.events
    assert event == RolloutEvent(
        60.0,
        "web",
        Workload(parse_distribution("20ms"), 2, 0.0, queue_limit=None, shutdown=Shutdown(OnSigterm.EXIT)),
    )


def test_rollouts_chain_in_time_order_whatever_the_order_written(tmp_path):
    """The 3m rollout follows the 2m one (written after it); a rollout without a block keeps the revision."""
    doc = with_events(
        {"at": "1m", "rollout": {"deployment": "web"}},
        {"at": "3m", "rollout": {"deployment": "web", "workload": {"concurrency": 8}}},
        {"at": "2m", "rollout": {"deployment": "web", "workload": {"serviceTime": "30ms"}}},
        {"at": "4m", "rollout": {"deployment": "web"}},
    )
    first, third, second, fourth = load(tmp_path, doc).simulation.events
    assert first.workload is None  # still the Deployment's own workload
    assert second.workload == Workload(parse_distribution("30ms"), 1, 0.0)
    assert third.workload == Workload(parse_distribution("30ms"), 8, 0.0)
    assert fourth.workload == third.workload


# --- refusals: one line naming the field ---------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param(
            {"shutdown": {"onSigterm": "kill"}},
            'spec.workloads.web.shutdown.onSigterm: Unsupported value: "kill": supported values: "drain", '
            '"stopAccepting", "exit"',
            id="onSigterm",
        ),
        pytest.param(
            {"shutdown": {"drainTimeout": "5s"}},
            'spec.workloads.web.shutdown.drainTimeout: Forbidden: only used with onSigterm "drain", not '
            '"stopAccepting"',
            id="drainTimeout-without-drain",
        ),
        pytest.param(
            {"shutdown": {"onSigterm": "drain", "drainTimeout": "soon"}},
            "spec.workloads.web.shutdown.drainTimeout: expected a duration such as 10ms, 2s or 5m, got 'soon'",
            id="drainTimeout-not-a-duration",
        ),
        pytest.param(
            {"shutdown": {"preStopTime": "-1s"}},
            "spec.workloads.web.shutdown.preStopTime: must be a finite duration >= 0, got '-1s'",
            id="preStopTime-negative",
        ),
        pytest.param(
            {"shutdown": {"grace": 3}},
            "spec.workloads.web.shutdown.grace: unknown field; expected one of: onSigterm, drainTimeout, preStopTime",
            id="shutdown-unknown-key",
        ),
        pytest.param(
            {"probeFailure": {"probes": ["readiness"]}},
            "spec.workloads.web.probeFailure: Required value: at least one condition: inFlightAbove, or "
            "waitAboveTimeout: true",
            id="probeFailure-no-condition",
        ),
        pytest.param(
            {"probeFailure": {"inFlightAbove": -1}},
            "spec.workloads.web.probeFailure.inFlightAbove: Invalid value: -1: must be an integer >= 0",
            id="inFlightAbove-negative",
        ),
        pytest.param(
            {"probeFailure": {"waitAboveTimeout": "yes"}},
            "spec.workloads.web.probeFailure.waitAboveTimeout: Invalid value: 'yes': must be true or false",
            id="waitAboveTimeout-not-bool",
        ),
        pytest.param(
            {"probeFailure": {"inFlightAbove": 1, "probes": ["ready"]}},
            'spec.workloads.web.probeFailure.probes[0]: Unsupported value: "ready": supported values: '
            '"readiness", "liveness", "startup"',
            id="probe-kind",
        ),
        pytest.param(
            {"probeFailure": {"inFlightAbove": 1, "probes": ["liveness", "liveness"]}},
            "spec.workloads.web.probeFailure.probes[1]: Duplicate value: 'liveness'",
            id="probe-twice",
        ),
        pytest.param(
            {"probeFailure": {"inFlightAbove": 1, "probes": []}},
            "spec.workloads.web.probeFailure.probes: Required value: at least one of readiness, liveness, startup",
            id="no-probes",
        ),
        pytest.param(
            {"failures": {}},
            "spec.workloads.web.failures.meanTimeBetween: Required value",
            id="failures-without-mean",
        ),
        pytest.param(
            {"failures": {"meanTimeBetween": "0s"}},
            "spec.workloads.web.failures.meanTimeBetween: must be > 0",
            id="failures-mean-zero",
        ),
    ],
)
def test_wrong_lifecycle_fields_are_refused_naming_the_field(tmp_path, fields, expected):
    assert problems(tmp_path, with_workload(**fields)) == [expected]


def test_node_monitor_grace_period_must_be_positive(tmp_path):
    doc = simulation()
    doc["spec"]["cluster"]["nodeMonitorGracePeriod"] = 0
    assert problems(tmp_path, doc) == ["spec.cluster.nodeMonitorGracePeriod: must be > 0"]


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        pytest.param(
            {"at": "1m", "scale": {"deployment": "web", "replicas": 2}, "crash": {"pod": "web-a-b"}},
            "spec.events[0]: Invalid value: both scale and crash: an event does exactly one thing",
            id="two-kinds",
        ),
        pytest.param(
            {"at": "1m"},
            "spec.events[0]: Required value: one of scale, rollout, crash, fail, recover",
            id="no-kind",
        ),
        pytest.param(
            {"at": "1m", "restart": {"deployment": "web"}},
            "spec.events[0].restart: unknown field; expected one of: at, scale, rollout, crash, fail, recover",
            id="unknown-kind",
        ),
        pytest.param(
            {"rollout": {"deployment": "web"}},
            "spec.events[0].at: Required value",
            id="no-time",
        ),
        pytest.param(
            {"at": "1m", "rollout": {"workload": {"concurrency": 2}}},
            "spec.events[0].rollout.deployment: Required value",
            id="rollout-without-deployment",
        ),
        pytest.param(
            {"at": "1m", "rollout": {"deployment": "web", "workload": {"concurrency": 0}}},
            "spec.events[0].rollout.workload.concurrency: Invalid value: 0: must be an integer >= 1",
            id="rollout-workload-field",
        ),
        pytest.param(
            {"at": "1m", "rollout": {"deployment": "web", "workload": {"image": "v2"}}},
            "spec.events[0].rollout.workload.image: unknown field; expected one of: serviceTime, concurrency, "
            "startupTime, calls, queueLimit, maxConnections, onCancel, shutdown, probeFailure, failures, cpu, memory",
            id="rollout-workload-unknown-key",
        ),
        pytest.param(
            {"at": "1m", "crash": {"pod": "web-a-b", "deployment": "web"}},
            "spec.events[0].crash: Invalid value: both pod and deployment: crash one pod by name, or count pods "
            "of a Deployment",
            id="crash-both",
        ),
        pytest.param(
            {"at": "1m", "crash": {}},
            "spec.events[0].crash: Required value: pod, or deployment (with count)",
            id="crash-neither",
        ),
        pytest.param(
            {"at": "1m", "crash": {"deployment": "web", "count": 0}},
            "spec.events[0].crash.count: Invalid value: 0: must be an integer >= 1",
            id="crash-count-zero",
        ),
        pytest.param(
            {"at": "1m", "crash": {"pod": "web-a-b", "count": 2}},
            "spec.events[0].crash.count: Forbidden: only used with deployment, not pod",
            id="crash-count-with-pod",
        ),
        pytest.param(
            {"at": "1m", "crash": {"pod": "Web_1"}},
            'spec.events[0].crash.pod: Invalid value: "Web_1": a lowercase RFC 1123 subdomain must consist of '
            "lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
            "character (e.g. 'example.com', regex used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            id="crash-pod-name",
        ),
        pytest.param(
            {"at": "1m", "fail": {"node": "node-1", "zone": "a"}},
            "spec.events[0].fail: Invalid value: both node and zone: name one node, or one zone",
            id="fail-both",
        ),
        pytest.param(
            {"at": "1m", "recover": {}},
            "spec.events[0].recover: Required value: node or zone",
            id="recover-neither",
        ),
        pytest.param(
            {"at": "1m", "fail": {"zone": 3}},
            "spec.events[0].fail.zone: Invalid value: 3: must be a non-empty string",
            id="zone-not-a-string",
        ),
    ],
)
def test_wrong_events_are_refused_naming_the_field(tmp_path, event, expected):
    assert problems(tmp_path, with_events(event)) == [expected]


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        pytest.param(
            {"scale": {"deployment": "api", "replicas": 2}},
            'spec.events[0].scale.deployment: no Deployment named "api" in this scenario',
            id="scale",
        ),
        pytest.param(
            {"rollout": {"deployment": "api"}},
            'spec.events[0].rollout.deployment: no Deployment named "api" in this scenario',
            id="rollout",
        ),
        pytest.param(
            {"crash": {"deployment": "api", "count": 2}},
            'spec.events[0].crash.deployment: no Deployment named "api" in this scenario',
            id="crash-deployment",
        ),
        pytest.param(
            {"crash": {"pod": "api-5d8f7c9b4-x2b7k"}},
            'spec.events[0].crash.pod: Invalid value: "api-5d8f7c9b4-x2b7k": not a pod of any Deployment in this '
            "scenario (pods are named <deployment>-<pod-template-hash>-<suffix>; Deployments: web)",
            id="crash-pod",
        ),
        pytest.param(
            {"fail": {"node": "node-3"}},
            'spec.events[0].fail.node: Invalid value: "node-3": no such node (node-1, node-2)',
            id="fail-node",
        ),
        pytest.param(
            {"recover": {"zone": "c"}},
            'spec.events[0].recover.zone: Invalid value: "c": no node is in this zone (zones: a, b)',
            id="recover-zone",
        ),
    ],
)
def test_events_must_name_what_the_scenario_defines(tmp_path, event, expected):
    assert problems(tmp_path, with_events({"at": "1m", **event})) == [expected]


def test_a_zone_needs_the_zone_label_on_some_node(tmp_path):
    doc = with_events({"at": "1m", "fail": {"zone": "a"}}, cluster={"nodes": 2})
    assert problems(tmp_path, doc) == [
        f'spec.events[0].fail.zone: Invalid value: "a": no node is in this zone (no node has the label {ZONE})'
    ]


def test_refusals_name_the_file_and_the_simulation_document(tmp_path):
    path = write(tmp_path, service(), deployment(), with_events({"at": "1m", "fail": {"node": "node-9"}}))
    with pytest.raises(sim.ScenarioError) as info:
        sim.load_scenario(path)
    (problem,) = (str(p) for p in info.value.problems)
    assert problem.startswith(f'{path}: document 3 (Simulation "t", line ')
    assert problem.endswith('spec.events[0].fail.node: Invalid value: "node-9": no such node (node-1, node-2)')


def test_the_cli_refuses_with_one_line_and_exit_code_2(tmp_path, capsys):
    path = write(tmp_path, service(), deployment(), with_events({"at": "1m", "crash": {"pod": "api-x"}}))
    assert sim.cli.main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "spec.events[0].crash.pod" in err[0]


# --- warnings --------------------------------------------------------------------------------


def warnings(scenario: sim.Scenario) -> list[str]:
    return [w.split("): ", 1)[1] for w in scenario.warnings]


def test_recovering_a_node_that_never_failed_is_a_warning_and_does_nothing(tmp_path):
    doc = with_events(
        {"at": "2m", "fail": {"node": "node-1"}},
        {"at": "1m", "recover": {"node": "node-1"}},  # the times swapped
        {"at": "3m", "recover": {"zone": "a"}},  # node-1, failed at 2m: fine
        {"at": "4m", "recover": {"zone": "b"}},
    )
    assert warnings(load(tmp_path, doc)) == [
        'spec.events[1].recover: node "node-1" has not failed by 1m (no earlier fail event): recovering does nothing',
        'spec.events[3].recover: no node of zone "b" has failed by 4m (no earlier fail event): recovering does nothing',
    ]


def test_lifecycle_fields_the_deployment_gives_nothing_to_act_on_are_warned_about(tmp_path):
    doc = with_workload(probeFailure={"inFlightAbove": 5}, shutdown={"preStopTime": "3s"})
    doc["spec"]["events"] = [
        {"at": "1m", "rollout": {"deployment": "web", "workload": {"concurrency": 2}}},  # changes neither: quiet
        {"at": "2m", "rollout": {"deployment": "web", "workload": {"probeFailure": {"waitAboveTimeout": True}}}},
    ]
    assert warnings(load(tmp_path, doc)) == [
        'spec.workloads.web.probeFailure: Deployment "web" has no readinessProbe or livenessProbe: probeFailure '
        "changes nothing",
        'spec.workloads.web.shutdown.preStopTime: Deployment "web" has no lifecycle.preStop hook: preStopTime '
        "changes nothing",
        'spec.events[1].rollout.workload.probeFailure: Deployment "web" has no readinessProbe or livenessProbe: '
        "probeFailure changes nothing",
    ]


# --- the resolved scenario -------------------------------------------------------------------


def everything() -> dict[str, Any]:
    """Every lifecycle field and every event kind, with values that differ from the defaults."""
    doc = simulation(
        workloads={
            "web": {
                "serviceTime": {"distribution": "exponential", "mean": "10ms"},
                "concurrency": 2,
                "queueLimit": 10,
                "maxConnections": 50,
                "shutdown": {"onSigterm": "drain", "drainTimeout": "5s", "preStopTime": "2s"},
                "probeFailure": {"inFlightAbove": 20, "waitAboveTimeout": True, "probes": ["liveness"]},
                "failures": {"meanTimeBetween": "2h"},
            }
        },
        events=[
            {"at": "30s", "scale": {"deployment": "web", "replicas": 4}},
            {"at": "1m", "rollout": {"deployment": "web"}},
            {"at": "3m", "rollout": {"deployment": "web", "workload": {"concurrency": 4, "queueLimit": None}}},
            {"at": "2m", "rollout": {"deployment": "web", "workload": {"failures": None, "probeFailure": None}}},
            {"at": "4m", "rollout": {"deployment": "web"}},
            {"at": "4m", "crash": {"pod": "web-5d8f7c9b4-x2b7k"}},
            {"at": "4m", "crash": {"deployment": "web", "count": 2}},
            {"at": "5m", "fail": {"node": "node-2"}},
            {"at": "6m", "recover": {"node": "node-2"}},
            {"at": "7m", "fail": {"zone": "a"}},
            {"at": "8m", "recover": {"zone": "a"}},
        ],
    )
    doc["spec"]["cluster"]["nodeMonitorGracePeriod"] = "40s"
    return doc


def test_resolved_scenario_reloads_to_an_equal_simulation(tmp_path):
    first = load(tmp_path, everything())
    again_path = tmp_path / "resolved.yaml"
    again_path.write_text(first.to_yaml())
    again = sim.load_scenario(again_path)
    assert again.simulation == first.simulation
    assert again.to_yaml() == first.to_yaml()


def test_resolved_rollouts_write_what_each_changes_over_the_revision_before(tmp_path):
    written = load(tmp_path, everything()).simulation.to_manifest()["spec"]["events"]
    assert [e.get("rollout") for e in written if "rollout" in e] == [
        {"deployment": "web"},
        {"deployment": "web", "workload": {"concurrency": 4, "queueLimit": None}},
        {"deployment": "web", "workload": {"probeFailure": None, "failures": None}},
        {"deployment": "web", "workload": {}},
    ]


def test_resolved_workload_writes_the_default_shutdown(tmp_path):
    written = load(tmp_path, simulation()).simulation.to_manifest()["spec"]
    assert written["workloads"]["web"]["shutdown"] == {"onSigterm": "stopAccepting"}
    assert written["cluster"]["nodeMonitorGracePeriod"] == "50s"


# --- svcsim's limits -------------------------------------------------------------------------


def many_nodes(count: int, zones: int = 2) -> list[dict[str, Any]]:
    return [{"name": f"n{i}", "labels": {ZONE: f"z{i % zones}"}} for i in range(count)]


def limit_problems(tmp_path: Path, doc: dict[str, Any], replicas: int) -> list[str]:
    with pytest.raises(sim.ScenarioError) as info:
        load(tmp_path, doc, deployment(replicas=replicas))
    return [str(p).split("): ", 1)[1] for p in info.value.problems]


def test_pods_rollouts_create_count_towards_the_total(tmp_path):
    """A rollout creates the replicas in effect anew: 100 pods rolled out 1 000 times are 100 100 pods."""
    rollouts = [{"at": f"{t}s", "rollout": {"deployment": "web"}} for t in range(1, 1001)]
    doc = with_events(*rollouts, cluster={"nodes": 10}, duration="1001s")
    (problem,) = limit_problems(tmp_path, doc, 100)
    assert problem == (
        'spec.events[999].rollout.deployment: Invalid value: "web": the Deployments\' replicas (100) and the '
        f"rollouts create 100,100 pods in all, more than the {MAX_PODS:,} svcsim simulates (svcsim's limit)"
    )
    doc["spec"]["duration"] = "999s"  # the last rollout, after the end, never happens
    assert load(tmp_path, doc, deployment(replicas=100))


def test_endpoint_updates_of_a_rollout_are_bounded(tmp_path):
    """Replacing 12 000 pods takes each out of and into the endpoints of every node."""
    doc = with_events({"at": "1s", "rollout": {"deployment": "web"}}, cluster={"nodes": 10}, duration="10s")
    (problem,) = limit_problems(tmp_path, doc, 12_000)
    assert problem.startswith('spec.events[0].rollout.deployment: Invalid value: "web": the events and failures ')
    assert f"endpoint updates, more than the {MAX_ENDPOINT_UPDATES:,} svcsim allows" in problem


def test_worker_slots_of_a_rollout_count_at_its_concurrency(tmp_path):
    pods = 1000
    doc = with_events(
        {"at": "1s", "rollout": {"deployment": "web", "workload": {"concurrency": MAX_WORKERS // pods}}},
        cluster={"nodes": 10},
        duration="10s",
    )
    (problem,) = limit_problems(tmp_path, doc, pods)
    assert problem == (
        "spec.events[0].rollout.workload.concurrency: Invalid value: 10000: the run's 2,000 pods would hold "
        f"10,001,000 worker slots in all (pods × concurrency), more than the {MAX_WORKERS:,} svcsim can keep "
        "(svcsim's limit)"
    )


def pod_count(tmp_path: Path, events: list[dict[str, Any]], *deployments: dict[str, Any], **spec: Any) -> PodCount:
    """The pods counted for six nodes, three in each of zones z0 and z1, and a 400 s run."""
    doc = with_events(*events, **{"cluster": {"nodes": many_nodes(6)}, "duration": "400s", **spec})
    if len(deployments) > 1:
        doc["spec"]["workloads"] = {d["metadata"]["name"]: {"serviceTime": "10ms"} for d in deployments}
    scenario = load(tmp_path, doc, *deployments)
    return PodCount(scenario.simulation, scenario.deployments)


@pytest.mark.parametrize(
    ("events", "spec", "total"),
    [
        pytest.param([{"at": "1s", "fail": {"node": "n0"}}], {}, 70, id="one-node-of-six"),
        pytest.param([{"at": "1s", "fail": {"zone": "z0"}}], {}, 90, id="a-zone-of-three"),
        pytest.param(
            [{"at": "1s", "fail": {"node": "n0"}}, {"at": "2s", "fail": {"node": "n1"}}],
            {},
            60 + 10 + 12,  # the second node held a fifth of the pods left on the five up
            id="two-nodes-one-by-one",
        ),
        pytest.param([{"at": "1s", "fail": {"node": "n0"}}], {"duration": "300s"}, 60, id="run-ends-first"),
        pytest.param(
            [{"at": "1s", "fail": {"node": "n0"}}, {"at": "100s", "recover": {"zone": "z0"}}],
            {},
            60,
            id="recovered-first",
        ),
        pytest.param(
            [{"at": "1s", "fail": {"node": "n0"}}],
            {"cluster": {"nodes": many_nodes(6), "nodeMonitorGracePeriod": "120s"}},
            60,
            id="longer-grace-period",
        ),
        pytest.param([{"at": "1s", "rollout": {"deployment": "web"}}], {}, 120, id="rollout"),
        pytest.param([{"at": "1s", "crash": {"deployment": "web", "count": 5}}], {}, 60, id="crashes-restart-in-place"),
    ],
)
def test_pods_created_by_node_failures_are_replacements_of_evicted_pods(tmp_path, events, spec, total):
    """60 pods on six nodes; a node's pods are evicted 50 s + 300 s after it fails, if it is still away."""
    assert pod_count(tmp_path, events, deployment(replicas=60), **spec).total == total


def test_pods_pinned_to_a_failed_node_are_all_replaced(tmp_path):
    pinned = deployment("pinned", replicas=8, nodeName="n3")
    spread = deployment("spread", replicas=60)
    count = pod_count(tmp_path, [{"at": "1s", "fail": {"node": "n3"}}], pinned, spread)
    assert count.total == 68 + 8 + 10


def test_random_failures_count_towards_the_endpoint_updates(tmp_path):
    """10 000 pods crashing every second for an hour, each out of and back into 10 000 endpoints."""
    doc = with_workload(failures={"meanTimeBetween": "1s"})
    doc["spec"].update(cluster={"nodes": 100}, duration="1h")
    (problem,) = limit_problems(tmp_path, doc, 10_000)
    assert problem.startswith("spec.workloads.web.failures.meanTimeBetween: Invalid value: 1s: the events and ")
    assert f"endpoint updates, more than the {MAX_ENDPOINT_UPDATES:,} svcsim allows" in problem
    doc["spec"]["workloads"]["web"]["failures"]["meanTimeBetween"] = "2h"
    assert load(tmp_path, doc, deployment(replicas=100))


# --- the report's words ----------------------------------------------------------------------


def test_describe_tells_each_event_in_one_sentence_in_run_order(tmp_path):
    scenario = load(tmp_path, everything())
    sentences = describe(types.SimpleNamespace(scenario=scenario, seed=1))  # describe reads these two only
    rolling = "a RollingUpdate (maxSurge 25%, maxUnavailable 25%) replaces its pods"
    assert sentences[-11:] == [
        "At 30s Deployment web is scaled to 4 replica(s).",
        f"At 1m Deployment web rolls out a new revision with the same workload (a restart): {rolling}.",
        f"At 2m Deployment web rolls out a new revision that changes probeFailure and failures: {rolling}.",
        f"At 3m Deployment web rolls out a new revision that changes concurrency and queueLimit: {rolling}.",
        f"At 4m Deployment web rolls out a new revision with the same workload (a restart): {rolling}.",
        "At 4m the container of pod web-5d8f7c9b4-x2b7k crashes and restarts.",
        "At 4m the containers of the first 2 Ready pod(s) of Deployment web crash and restart.",
        "At 5m node node-2 fails.",
        "At 6m node node-2 recovers.",
        "At 7m zone a fails: node node-1.",
        "At 8m zone a recovers: node node-1.",
    ]


def test_describe_tells_a_recreate_rollout_apart(tmp_path):
    scenario = load(tmp_path, with_events({"at": "1m", "rollout": {"deployment": "web"}}))
    (web,) = scenario.deployments
    recreate = dataclasses.replace(web, strategy=Strategy(type="Recreate"))
    scenario = dataclasses.replace(scenario, deployments=(recreate,))
    assert describe(types.SimpleNamespace(scenario=scenario, seed=1))[-1] == (
        "At 1m Deployment web rolls out a new revision with the same workload (a restart): a Recreate update "
        "deletes its pods, then creates new ones."
    )


def test_scenarios_without_the_new_fields_are_unchanged(tmp_path):
    """A Simulation without lifecycle fields parses as before: the same workloads and scale events."""
    doc = with_events({"at": "1m", "scale": {"deployment": "web", "replicas": 5}})
    s = load(tmp_path, copy.deepcopy(doc)).simulation
    assert s.workloads == {"web": Workload(parse_distribution("10ms"), 1, 0.0)}
    assert s.events == (ScaleEvent(60.0, "web", 5),)


def nested_paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, child in children:
        found += nested_paths(child, (*prefix, key))
    return found


@pytest.mark.parametrize("bad", [5, "x", {}, None], ids=repr)
def test_any_lifecycle_value_of_a_wrong_type_is_a_scenario_error(tmp_path, bad):
    """Replace each value under workloads and events, one at a time: loading works or raises
    ScenarioError, never anything else."""
    doc = everything()
    crashes = []
    for where in nested_paths(doc["spec"]):
        if where[0] not in ("workloads", "events"):
            continue
        changed = copy.deepcopy(doc)
        target = changed["spec"]
        for key in where[:-1]:
            target = target[key]
        target[where[-1]] = bad
        try:
            load(tmp_path, changed)
        except sim.ScenarioError:
            pass
        except Exception as err:  # noqa: BLE001 - the point is to catch anything else
            crashes.append(f"{where}: {type(err).__name__}: {err}")
    assert crashes == []
