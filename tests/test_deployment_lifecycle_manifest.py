"""A Deployment's pod lifecycle fields: probes, preStop, strategy, minReadySeconds, progressDeadlineSeconds.

Defaults are the API server's, and every refusal is the API server's own message, prefixed
with the file and the document (docs/semantics.md#pod-lifecycle-fields).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

import sim
from sim.cli import main
from sim.kube.deployment import PreStop, Probe, Strategy, parse_deployment, scaled_value
from sim.kube.pod_lifecycle import exec_sleep_seconds

CONTAINERS = "spec.template.spec.containers"
HTTP = {"httpGet": {"path": "/healthz", "port": 8080}}


def deployment(**spec: Any) -> dict[str, Any]:
    """Deployment ``web`` (one container ``app``), with ``spec`` fields on top."""
    body: dict[str, Any] = {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": "nginx", "ports": [{"containerPort": 80}]}]},
        },
    }
    body.update(spec)
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": body}


def with_container(container: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    """The Deployment with ``container``'s fields added to its first container."""
    doc = deployment(**spec)
    doc["spec"]["template"]["spec"]["containers"][0].update(container or {})
    return doc


def write(tmp_path: Path, dep: dict[str, Any]) -> Path:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 80}]},
    }
    simulation = {
        "apiVersion": "svcsim/v1alpha1",
        "kind": "Simulation",
        "metadata": {"name": "test"},
        "spec": {"seed": 1, "duration": "5s", "cluster": {"nodes": 2}, "workloads": {"web": {"serviceTime": "10ms"}}},
    }
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump_all([service, dep, simulation], sort_keys=False))
    return path


def problems(tmp_path: Path, dep: dict[str, Any]) -> list[str]:
    """The details of the Deployment's problems, each checked to carry the file and document."""
    path = write(tmp_path, dep)
    with pytest.raises(sim.ScenarioError) as info:
        sim.load_scenario(path)
    lines = [str(p) for p in info.value.problems]
    second = next(i for i, line in enumerate(path.read_text().splitlines(), start=1) if line == "---") + 1
    prefix = f'{path}: document 2 (line {second}): The Deployment "web" is invalid: '
    assert all(line.startswith(prefix) for line in lines), lines
    return [line.removeprefix(prefix) for line in lines]


def loaded(tmp_path: Path, dep: dict[str, Any]) -> Any:
    return sim.load_scenario(write(tmp_path, dep)).deployment("web")


# --- defaults --------------------------------------------------------------------------------


def test_a_deployment_without_lifecycle_fields_gets_the_api_servers_defaults(tmp_path):
    dep = loaded(tmp_path, deployment())
    assert (dep.startup_probe, dep.readiness_probe, dep.liveness_probe, dep.pre_stop) == (None, None, None, None)
    assert dep.strategy == Strategy("RollingUpdate", "25%", "25%")
    assert (dep.min_ready_s, dep.progress_deadline_s) == (0.0, 600.0)


def test_a_probe_with_only_a_handler_gets_setdefaults_probe_values(tmp_path):
    dep = loaded(tmp_path, with_container({"readinessProbe": HTTP}))
    assert dep.readiness_probe == Probe(
        initial_delay_s=0.0, period_s=10.0, timeout_s=1.0, success_threshold=1, failure_threshold=3
    )


def test_zero_probe_fields_are_defaulted_like_omitted_ones(tmp_path):
    """SetDefaults_Probe replaces a 0 (Go's zero value) for all but initialDelaySeconds."""
    zeros = {
        "initialDelaySeconds": 0,
        "periodSeconds": 0,
        "timeoutSeconds": 0,
        "successThreshold": 0,
        "failureThreshold": 0,
    }
    dep = loaded(tmp_path, with_container({"livenessProbe": {**HTTP, **zeros}}))
    assert dep.liveness_probe == Probe(0.0, 10.0, 1.0, 1, 3)


def test_every_probe_field_and_kind_is_read(tmp_path):
    fields = {"initialDelaySeconds": 5, "periodSeconds": 2, "timeoutSeconds": 3, "failureThreshold": 6}
    container = {
        "startupProbe": {"tcpSocket": {"port": 8080}, **fields},
        "readinessProbe": {"exec": {"command": ["cat", "/tmp/ready"]}, **fields, "successThreshold": 2},
        "livenessProbe": {"grpc": {"port": 9090}, **fields},
    }
    dep = loaded(tmp_path, with_container(container))
    assert dep.startup_probe == Probe(5.0, 2.0, 3.0, 1, 6)
    assert dep.readiness_probe == Probe(5.0, 2.0, 3.0, 2, 6)
    assert dep.liveness_probe == Probe(5.0, 2.0, 3.0, 1, 6)


def test_with_several_containers_each_kind_comes_from_the_first_that_declares_it(tmp_path):
    """svcsim models one app per pod: a sidecar's probe does not override the app's."""
    dep = deployment()
    dep["spec"]["template"]["spec"]["containers"] = [
        {"name": "app", "image": "app", "readinessProbe": {**HTTP, "periodSeconds": 1}},
        {
            "name": "sidecar",
            "image": "proxy",
            "readinessProbe": {**HTTP, "periodSeconds": 7},
            "livenessProbe": {**HTTP, "periodSeconds": 9},
            "lifecycle": {"preStop": {"sleep": {"seconds": 4}}},
        },
    ]
    loaded_dep = loaded(tmp_path, dep)
    assert loaded_dep.readiness_probe is not None and loaded_dep.readiness_probe.period_s == 1.0
    assert loaded_dep.liveness_probe is not None and loaded_dep.liveness_probe.period_s == 9.0
    assert loaded_dep.pre_stop == PreStop("sleep", 4.0)


@pytest.mark.parametrize(
    ("hook", "expected"),
    [
        pytest.param({"sleep": {"seconds": 5}}, PreStop("sleep", 5.0), id="sleep"),
        pytest.param({"sleep": {"seconds": 0}}, PreStop("sleep", 0.0), id="sleep-zero-allowed-since-1.34"),
        pytest.param({"sleep": {"seconds": 30}}, PreStop("sleep", 30.0), id="sleep-equal-to-grace"),
        pytest.param({"exec": {"command": ["sleep", "5"]}}, PreStop("exec", 5.0), id="exec-sleep"),
        pytest.param({"exec": {"command": ["/bin/sh", "-c", "sleep 5"]}}, PreStop("exec", 5.0), id="exec-sh-c"),
        pytest.param({"exec": {"command": ["/usr/sbin/nginx", "-s", "quit"]}}, PreStop("exec", None), id="exec-other"),
        pytest.param({"httpGet": {"path": "/drain", "port": 8080}}, PreStop("httpGet", None), id="httpGet"),
    ],
)
def test_pre_stop_kind_and_seconds(tmp_path, hook, expected):
    assert loaded(tmp_path, with_container({"lifecycle": {"preStop": hook}})).pre_stop == expected


@pytest.mark.parametrize(
    ("command", "seconds"),
    [
        (["sleep", "5"], 5.0),
        (["/bin/sleep", "2.5"], 2.5),
        (["sleep", "1m"], 60.0),
        (["sh", "-c", "sleep 10"], 10.0),
        (["/bin/bash", "-c", " sleep 3s "], 3.0),
        (["/bin/sh", "-c", "exec sleep 4"], 4.0),
        (["/bin/sh", "-c", "sleep 5 && nginx -s quit"], None),
        (["/bin/sh", "-c", "nginx -s quit; sleep 5"], None),
        (["sleep", "infinity"], None),
        (["sleep"], None),
        (["python", "-c", "sleep 5"], None),
        ([], None),
    ],
)
def test_only_a_command_that_is_just_a_sleep_gives_seconds(command, seconds):
    assert exec_sleep_seconds(command) == seconds


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        pytest.param({"type": "Recreate"}, "Recreate", id="recreate"),
        pytest.param({"type": "Recreate", "rollingUpdate": None}, "Recreate", id="recreate-null-rollingUpdate"),
        pytest.param({}, Strategy("RollingUpdate", "25%", "25%"), id="empty-is-rolling-update"),
        pytest.param({"rollingUpdate": {"maxSurge": 1}}, Strategy("RollingUpdate", 1, "25%"), id="surge-only"),
        pytest.param(
            {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "50%", "maxUnavailable": 0}},
            Strategy("RollingUpdate", "50%", 0),
            id="zero-unavailable",
        ),
        pytest.param(
            {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": "100%"}},
            Strategy("RollingUpdate", 0, "100%"),
            id="all-unavailable",
        ),
    ],
)
def test_strategy_is_defaulted_and_read(tmp_path, strategy, expected):
    dep = loaded(tmp_path, deployment(strategy=strategy))
    assert (dep.strategy.type if isinstance(expected, str) else dep.strategy) == expected


def test_min_ready_and_progress_deadline_are_read(tmp_path):
    dep = loaded(tmp_path, deployment(minReadySeconds=10, progressDeadlineSeconds=11))
    assert (dep.min_ready_s, dep.progress_deadline_s) == (10.0, 11.0)


def test_scaled_value_rounds_surge_up_and_unavailable_down():
    """intstr.GetScaledValueFromIntOrPercent: 25 % of 4 is exactly 1 either way; of 10 it is 2.5."""
    assert scaled_value("25%", 4, round_up=True) == 1
    assert scaled_value("25%", 4, round_up=False) == 1
    assert scaled_value("25%", 10, round_up=True) == 3
    assert scaled_value("25%", 10, round_up=False) == 2
    assert scaled_value("1%", 1, round_up=True) == 1
    assert scaled_value("1%", 1, round_up=False) == 0
    assert scaled_value(3, 10, round_up=False) == 3


def test_the_manifest_is_kept_as_written(tmp_path):
    """Defaults are applied to the parsed Deployment, never written into the user's manifest."""
    doc = with_container({"readinessProbe": HTTP})
    before = copy.deepcopy(doc)
    deployment_obj, errors = parse_deployment(doc)
    assert errors == [] and deployment_obj is not None
    assert doc == before


# --- validation: probes ---------------------------------------------------------------------

P0 = f"{CONTAINERS}[0]"


@pytest.mark.parametrize(
    ("container", "expected"),
    [
        pytest.param(
            {"readinessProbe": {"periodSeconds": 5}},
            [f"{P0}.readinessProbe: Required value: must specify a handler type"],
            id="no-handler",
        ),
        pytest.param(
            {"readinessProbe": {"httpGet": None, "periodSeconds": 5}},
            [f"{P0}.readinessProbe: Required value: must specify a handler type"],
            id="null-handler-is-no-handler",
        ),
        pytest.param(
            {"livenessProbe": {"exec": {"command": ["true"]}, "httpGet": {"port": 80}, "tcpSocket": {"port": 80}}},
            [
                f"{P0}.livenessProbe.httpGet: Forbidden: may not specify more than 1 handler type",
                f"{P0}.livenessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type",
            ],
            id="three-handlers",
        ),
        pytest.param(
            {"startupProbe": {"sleep": {"seconds": 1}}},
            [f'{P0}.startupProbe.sleep: strict decoding error: unknown field "{P0}.startupProbe.sleep"'],
            id="sleep-is-no-probe-handler",
        ),
        pytest.param(
            {
                "readinessProbe": {
                    **HTTP,
                    "initialDelaySeconds": -1,
                    "timeoutSeconds": -2,
                    "periodSeconds": -3,
                    "successThreshold": -4,
                    "failureThreshold": -5,
                }
            },
            [
                f"{P0}.readinessProbe.initialDelaySeconds: Invalid value: -1: must be greater than or equal to 0",
                f"{P0}.readinessProbe.timeoutSeconds: Invalid value: -2: must be greater than or equal to 0",
                f"{P0}.readinessProbe.periodSeconds: Invalid value: -3: must be greater than or equal to 0",
                f"{P0}.readinessProbe.successThreshold: Invalid value: -4: must be greater than or equal to 0",
                f"{P0}.readinessProbe.failureThreshold: Invalid value: -5: must be greater than or equal to 0",
            ],
            id="negative-fields-in-validateprobe-order",
        ),
        pytest.param(
            {"livenessProbe": {**HTTP, "successThreshold": 2}},
            [f"{P0}.livenessProbe.successThreshold: Invalid value: 2: must be 1"],
            id="liveness-success-threshold",
        ),
        pytest.param(
            {"startupProbe": {**HTTP, "successThreshold": 3}},
            [f"{P0}.startupProbe.successThreshold: Invalid value: 3: must be 1"],
            id="startup-success-threshold",
        ),
        pytest.param(
            {"readinessProbe": {**HTTP, "periodSeconds": "10s"}},
            [
                f"{P0}.readinessProbe.periodSeconds: json: cannot unmarshal string into Go struct field "
                f"Probe.{CONTAINERS}.readinessProbe.periodSeconds of type int32"
            ],
            id="not-an-integer",
        ),
        pytest.param(
            {"readinessProbe": {"exec": {}}},
            [f"{P0}.readinessProbe.exec.command: Required value"],
            id="exec-without-command",
        ),
        pytest.param(
            {"readinessProbe": {"httpGet": {"path": "/"}}},
            [f"{P0}.readinessProbe.httpGet.port: Invalid value: 0: must be between 1 and 65535, inclusive"],
            id="httpGet-without-port",
        ),
        pytest.param(
            {"livenessProbe": {"tcpSocket": {"port": "HTTP"}}},
            [
                f'{P0}.livenessProbe.tcpSocket.port: Invalid value: "HTTP": must contain only alpha-numeric characters '
                "(a-z, 0-9), and hyphens (-)",
                f'{P0}.livenessProbe.tcpSocket.port: Invalid value: "HTTP": must contain at least one letter (a-z)',
            ],
            id="bad-port-name",
        ),
        pytest.param(
            {"livenessProbe": {"grpc": {"port": 70000}}},
            [f"{P0}.livenessProbe.grpc.port: Invalid value: 70000: must be between 1 and 65535, inclusive"],
            id="grpc-port",
        ),
        pytest.param(
            {
                "lifecycle": {"preStop": {"sleep": {"seconds": 1}}},
                "livenessProbe": {},
                "readinessProbe": {},
                "startupProbe": {},
            },
            [
                f"{P0}.livenessProbe: Required value: must specify a handler type",
                f"{P0}.readinessProbe: Required value: must specify a handler type",
                f"{P0}.startupProbe: Required value: must specify a handler type",
            ],
            id="validatecontainers-order",
        ),
    ],
)
def test_invalid_probe_is_refused_in_the_api_servers_words(tmp_path, container, expected):
    assert problems(tmp_path, with_container(container)) == expected


# --- validation: preStop --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hook", "pod", "expected"),
    [
        pytest.param(
            {"sleep": {"seconds": 31}},
            {},
            [
                f"{P0}.lifecycle.preStop.sleep: Invalid value: 31: must be non-negative and less than "
                "terminationGracePeriodSeconds (30)"
            ],
            id="sleep-beyond-default-grace",
        ),
        pytest.param(
            {"sleep": {"seconds": 10}},
            {"terminationGracePeriodSeconds": 5},
            [
                f"{P0}.lifecycle.preStop.sleep: Invalid value: 10: must be non-negative and less than "
                "terminationGracePeriodSeconds (5)"
            ],
            id="sleep-beyond-own-grace",
        ),
        pytest.param(
            {"sleep": {"seconds": -1}},
            {},
            [
                f"{P0}.lifecycle.preStop.sleep: Invalid value: -1: must be non-negative and less than "
                "terminationGracePeriodSeconds (30)"
            ],
            id="negative-sleep",
        ),
        pytest.param(
            {"sleep": {"seconds": 100}},
            {"terminationGracePeriodSeconds": -1},
            ["spec.template.spec.terminationGracePeriodSeconds: Invalid value: -1: must be greater than or equal to 0"],
            id="invalid-grace-is-the-one-error",
        ),
        pytest.param(
            {},
            {},
            [f"{P0}.lifecycle.preStop: Required value: must specify a handler type"],
            id="no-handler",
        ),
        pytest.param(
            {"grpc": {"port": 80}},
            {},
            [f'{P0}.lifecycle.preStop.grpc: strict decoding error: unknown field "{P0}.lifecycle.preStop.grpc"'],
            id="grpc-is-no-lifecycle-handler",
        ),
        pytest.param(
            {"exec": {"command": ["sleep", "5"]}, "sleep": {"seconds": 5}},
            {},
            [f"{P0}.lifecycle.preStop.sleep: Forbidden: may not specify more than 1 handler type"],
            id="two-handlers",
        ),
    ],
)
def test_invalid_pre_stop_is_refused_in_the_api_servers_words(tmp_path, hook, pod, expected):
    dep = with_container({"lifecycle": {"preStop": hook}})
    dep["spec"]["template"]["spec"].update(pod)
    assert problems(tmp_path, dep) == expected


# --- validation: strategy, minReadySeconds, progressDeadlineSeconds --------------------------

RU = "spec.strategy.rollingUpdate"
PERCENT_MSG = (
    "a valid percent string must be a numeric string followed by an ending '%' "
    "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"
)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(
            {"strategy": {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}},
            ["spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"],
            id="rollingUpdate-with-recreate",
        ),
        pytest.param(
            {"strategy": {"type": "BlueGreen"}},
            ['spec.strategy: Unsupported value: "BlueGreen": supported values: "Recreate", "RollingUpdate"'],
            id="unsupported-type",
        ),
        pytest.param(
            {"strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}},
            [f"{RU}.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"],
            id="both-zero",
        ),
        pytest.param(
            {"strategy": {"rollingUpdate": {"maxSurge": "0%", "maxUnavailable": "0%"}}},
            [f'{RU}.maxUnavailable: Invalid value: "0%": may not be 0 when `maxSurge` is 0'],
            id="both-zero-percent",
        ),
        pytest.param(
            {"strategy": {"rollingUpdate": {"maxUnavailable": "110%"}}},
            [f'{RU}.maxUnavailable: Invalid value: "110%": must not be greater than 100%'],
            id="unavailable-over-100",
        ),
        pytest.param(
            {"strategy": {"rollingUpdate": {"maxSurge": "20Percent"}}},
            [f'{RU}.maxSurge: Invalid value: "20Percent": {PERCENT_MSG}'],
            id="bad-percent",
        ),
        pytest.param(
            {"strategy": {"rollingUpdate": {"maxSurge": "0", "maxUnavailable": 0}}},
            [
                f'{RU}.maxSurge: Invalid value: "0": {PERCENT_MSG}',
                f"{RU}.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0",
            ],
            id="number-as-string-counts-as-its-value",
        ),
        pytest.param(
            {"strategy": {"rollingUpdate": {"maxSurge": -1, "maxUnavailable": -2}}},
            [
                f"{RU}.maxUnavailable: Invalid value: -2: must be greater than or equal to 0",
                f"{RU}.maxSurge: Invalid value: -1: must be greater than or equal to 0",
            ],
            id="negative-in-validation-order",
        ),
        pytest.param(
            {"minReadySeconds": -1},
            ["spec.minReadySeconds: Invalid value: -1: must be greater than or equal to 0"],
            id="negative-min-ready",
        ),
        pytest.param(
            {"minReadySeconds": 600},
            ["spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds"],
            id="default-deadline-not-above-min-ready",
        ),
        pytest.param(
            {"minReadySeconds": 30, "progressDeadlineSeconds": 30},
            ["spec.progressDeadlineSeconds: Invalid value: 30: must be greater than minReadySeconds"],
            id="deadline-equal-to-min-ready",
        ),
        pytest.param(
            {"progressDeadlineSeconds": -5},
            ["spec.progressDeadlineSeconds: Invalid value: -5: must be greater than or equal to 0"],
            id="negative-deadline",
        ),
    ],
)
def test_invalid_rollout_settings_are_refused_in_the_api_servers_words(tmp_path, spec, expected):
    assert problems(tmp_path, deployment(**spec)) == expected


def test_a_bad_lifecycle_field_exits_2_with_one_line_naming_file_document_and_field(tmp_path, capsys):
    path = write(tmp_path, deployment(strategy={"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}))
    out = tmp_path / "out"
    code = main(["run", str(path), "--out", str(out)])
    stdout, stderr = capsys.readouterr()
    assert (code, stdout) == (2, "")
    second = next(i for i, line in enumerate(path.read_text().splitlines(), start=1) if line == "---") + 1
    assert stderr.splitlines() == [
        f'error: {path}: document 2 (line {second}): The Deployment "web" is invalid: '
        "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"
    ]
    assert not out.exists()
