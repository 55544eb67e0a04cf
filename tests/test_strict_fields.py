"""kubectl's strict field validation and the JSON decoder's type errors, in the Deployment
objects svcsim models (docs/semantics.md#strict-fields-and-types), and Go-style compound
durations (README.md, "Scenario format").

Expected messages are the API server's: ``strict decoding error: unknown field "<full path>"``
(sigs.k8s.io/json, strict) and ``json: cannot unmarshal <json type> into Go struct field
<struct>.<path without indexes> of type <go type>`` (encoding/json's UnmarshalTypeError).
"""

from __future__ import annotations

import pytest

from sim.cli import main
from sim.kube.deployment import Probe, Strategy, parse_deployment
from sim.kube.validation import FieldError
from sim.units import parse_duration
from tests.test_deployment_lifecycle_manifest import (
    CONTAINERS,
    HTTP,
    deployment,
    loaded,
    problems,
    with_container,
    write,
)

P0 = f"{CONTAINERS}[0]"
RU = "spec.strategy.rollingUpdate"


def unknown(path: str) -> str:
    return f'{path}: strict decoding error: unknown field "{path}"'


def unmarshal(path: str, what: str, struct: str, go_type: str) -> str:
    field = path.replace("[0]", "").replace("[1]", "")
    return f"{path}: json: cannot unmarshal {what} into Go struct field {struct}.{field} of type {go_type}"


# --- unknown fields ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "container", "expected"),
    [
        pytest.param(
            {"strategy": {"rollingUpdate": {"maxUnavailble": 0}}},
            None,
            [unknown(f"{RU}.maxUnavailble")],
            id="the-new-users-rollingUpdate-typo",
        ),
        pytest.param({"strategy": {"typ": "Recreate"}}, None, [unknown("spec.strategy.typ")], id="strategy"),
        pytest.param(
            {"strategy": {"type": "Recreate", "rollingUpdate": {"maxSurg": 1}}},
            None,
            [unknown(f"{RU}.maxSurg")],
            id="decoded-before-recreate-forbids-rollingUpdate",
        ),
        pytest.param(
            {},
            {"readinessProbe": {**HTTP, "periodSecond": 5}},
            [unknown(f"{P0}.readinessProbe.periodSecond")],
            id="the-new-users-probe-typo",
        ),
        pytest.param(
            {},
            {"livenessProbe": {"httpGett": {"port": 80}}},
            [unknown(f"{P0}.livenessProbe.httpGett")],
            id="a-misspelt-handler-is-not-also-a-missing-one",
        ),
        pytest.param(
            {},
            {"startupProbe": {"exec": {"command": ["true"], "args": ["x"]}}},
            [unknown(f"{P0}.startupProbe.exec.args")],
            id="exec",
        ),
        pytest.param(
            {},
            {"readinessProbe": {"httpGet": {"port": 80, "paht": "/"}}},
            [unknown(f"{P0}.readinessProbe.httpGet.paht")],
            id="httpGet",
        ),
        pytest.param(
            {},
            {"readinessProbe": {"tcpSocket": {"port": 80, "timeout": 1}}},
            [unknown(f"{P0}.readinessProbe.tcpSocket.timeout")],
            id="tcpSocket",
        ),
        pytest.param(
            {},
            {"readinessProbe": {"grpc": {"port": 80, "serviceName": "x"}}},
            [unknown(f"{P0}.readinessProbe.grpc.serviceName")],
            id="grpc",
        ),
        pytest.param(
            {},
            {"lifecycle": {"preStop": {"sleep": {"seconds": 5}}, "preStart": {"exec": {"command": ["x"]}}}},
            [unknown(f"{P0}.lifecycle.preStart")],
            id="lifecycle",
        ),
        pytest.param(
            {},
            {"lifecycle": {"preStop": {"sleep": {"second": 5}}}},
            [unknown(f"{P0}.lifecycle.preStop.sleep.second")],
            id="sleep",
        ),
        pytest.param(
            {},
            {"lifecycle": {"preStop": {"exec": {"command": ["sleep", "5"]}, "timeoutSeconds": 5}}},
            [unknown(f"{P0}.lifecycle.preStop.timeoutSeconds")],
            id="preStop",
        ),
        pytest.param(
            {"strategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailble": 0, "max_surge": 2}}},
            {"readinessProbe": {**HTTP, "periodSecond": 5, "timeoutSecond": 2}},
            [
                unknown(f"{P0}.readinessProbe.periodSecond"),
                unknown(f"{P0}.readinessProbe.timeoutSecond"),
                unknown(f"{RU}.maxUnavailble"),
                unknown(f"{RU}.max_surge"),
            ],
            id="one-error-per-unknown-field-in-document-order",
        ),
    ],
)
def test_an_unknown_field_in_a_modelled_object_is_refused_as_kubectl_strict_validation_does(
    tmp_path, spec, container, expected
):
    assert problems(tmp_path, with_container(container, **spec)) == expected


def test_only_the_decoders_refusals_are_shown_while_there_are_any(tmp_path):
    """The API server validates only what it could decode: a Deployment with a typo and a
    validation problem (replicas -1) reports the typo alone; without the typo, the validation problem shows."""
    dep = with_container({"readinessProbe": {**HTTP, "periodSecond": 5}}, replicas=-1)
    assert problems(tmp_path, dep) == [unknown(f"{P0}.readinessProbe.periodSecond")]
    dep = with_container({"readinessProbe": {**HTTP, "periodSeconds": 5}}, replicas=-1)
    assert problems(tmp_path, dep) == ["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]


def test_the_second_containers_fields_are_named_with_its_index(tmp_path):
    dep = deployment()
    dep["spec"]["template"]["spec"]["containers"].append(
        {"name": "sidecar", "image": "envoy", "livenessProbe": {**HTTP, "failureTreshold": 3}}
    )
    assert problems(tmp_path, dep) == [unknown(f"{CONTAINERS}[1].livenessProbe.failureTreshold")]


def test_every_field_of_the_api_types_is_accepted(tmp_path):
    """The key sets are k8s.io/api's: Probe (with ProbeHandler inline), the actions, Lifecycle,
    DeploymentStrategy and RollingUpdateDeployment. Fields svcsim does not model are still valid."""
    probe = {
        "httpGet": {
            "path": "/healthz",
            "port": "http",
            "host": "10.0.0.1",
            "scheme": "HTTPS",
            "httpHeaders": [{"name": "X", "value": "y"}],
        },
        "initialDelaySeconds": 1,
        "timeoutSeconds": 2,
        "periodSeconds": 3,
        "successThreshold": 1,
        "failureThreshold": 4,
        "terminationGracePeriodSeconds": 5,
    }
    container = {
        "ports": [{"containerPort": 80, "name": "http"}],
        "livenessProbe": probe,
        "readinessProbe": {"tcpSocket": {"port": 80, "host": "localhost"}},
        "startupProbe": {"grpc": {"port": 9000, "service": "health"}},
        "lifecycle": {
            "postStart": {"exec": {"command": ["true"]}},
            "preStop": {"sleep": {"seconds": 5}},
            "stopSignal": "SIGTERM",
        },
        "resources": {"limits": {"cpu": "1"}},  # a part svcsim does not model: not checked
    }
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "10%"}}
    dep = loaded(tmp_path, with_container(container, strategy=strategy))
    assert dep.liveness_probe == Probe(1.0, 3.0, 2.0, 1, 4)
    assert dep.strategy == Strategy("RollingUpdate", 1, "10%")


def test_fields_svcsim_does_not_model_are_still_ignored(tmp_path):
    """Only the objects svcsim reads are checked strictly; elsewhere an unknown key is ignored."""
    dep = with_container({"imagePullPolicyy": "Always"}, paused=False, revisionHistoryLimitt=3)
    dep["metadata"]["annotationz"] = {}
    assert loaded(tmp_path, dep).name == "web"


def test_a_key_with_a_line_break_stays_on_one_line(tmp_path):
    lines = problems(tmp_path, deployment(strategy={"type\nx": "Recreate"}))
    assert lines == ['spec.strategy.type\\nx: strict decoding error: unknown field "spec.strategy.type\\nx"']


# --- wrong types ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "container", "expected"),
    [
        pytest.param(
            {},
            {"readinessProbe": {**HTTP, "timeoutSeconds": "1s"}},
            [unmarshal(f"{P0}.readinessProbe.timeoutSeconds", "string", "Probe", "int32")],
            id="the-new-users-duration-in-an-integer",
        ),
        pytest.param(
            {},
            {"livenessProbe": {**HTTP, "initialDelaySeconds": 1.5, "failureThreshold": True}},
            [
                unmarshal(f"{P0}.livenessProbe.initialDelaySeconds", "number 1.5", "Probe", "int32"),
                unmarshal(f"{P0}.livenessProbe.failureThreshold", "bool", "Probe", "int32"),
            ],
            id="fraction-and-bool",
        ),
        pytest.param(
            {},
            {"startupProbe": {**HTTP, "periodSeconds": 2**31}},
            [unmarshal(f"{P0}.startupProbe.periodSeconds", "number 2147483648", "Probe", "int32")],
            id="beyond-int32",
        ),
        pytest.param(
            {},
            {"startupProbe": {**HTTP, "periodSeconds": 1e21, "timeoutSeconds": 1e-7}},
            [
                unmarshal(f"{P0}.startupProbe.timeoutSeconds", "number 1e-7", "Probe", "int32"),
                unmarshal(f"{P0}.startupProbe.periodSeconds", "number 1e+21", "Probe", "int32"),
            ],
            id="numbers-as-go-writes-them",
        ),
        pytest.param(
            {},
            {"readinessProbe": {**HTTP, "periodSeconds": float("inf")}},
            [f"{P0}.readinessProbe.periodSeconds: json: unsupported value: +Inf"],
            id="infinity",
        ),
        pytest.param(
            {},
            {"readinessProbe": "httpGet /healthz"},
            [unmarshal(f"{P0}.readinessProbe", "string", "Container", "v1.Probe")],
            id="probe-not-an-object",
        ),
        pytest.param(
            {},
            {"readinessProbe": {"httpGet": ["/healthz"]}},
            [unmarshal(f"{P0}.readinessProbe.httpGet", "array", "Probe", "v1.HTTPGetAction")],
            id="handler-not-an-object",
        ),
        pytest.param(
            {},
            {"readinessProbe": {"httpGet": {"port": 80.5}}},
            [unmarshal(f"{P0}.readinessProbe.httpGet.port", "number 80.5", "HTTPGetAction", "int32")],
            id="int-or-string-port",
        ),
        pytest.param(
            {},
            {"readinessProbe": {"grpc": {"port": "grpc"}}},
            [unmarshal(f"{P0}.readinessProbe.grpc.port", "string", "GRPCAction", "int32")],
            id="grpc-port-is-a-number-only",
        ),
        pytest.param(
            {},
            {"readinessProbe": {"exec": {"command": "cat /tmp/ready"}}},
            [unmarshal(f"{P0}.readinessProbe.exec.command", "string", "ExecAction", "[]string")],
            id="exec-command-not-a-list",
        ),
        pytest.param(
            {},
            {"readinessProbe": {"exec": {"command": ["sleep", 5]}}},
            [unmarshal(f"{P0}.readinessProbe.exec.command[1]", "number", "ExecAction", "string")],
            id="exec-command-item-not-a-string",
        ),
        pytest.param(
            {},
            {"lifecycle": {"preStop": {"sleep": {"seconds": "5s"}}}},
            [unmarshal(f"{P0}.lifecycle.preStop.sleep.seconds", "string", "SleepAction", "int64")],
            id="sleep-seconds",
        ),
        pytest.param(
            {},
            {"lifecycle": "preStop"},
            [unmarshal(f"{P0}.lifecycle", "string", "Container", "v1.Lifecycle")],
            id="lifecycle-not-an-object",
        ),
        pytest.param(
            {},
            {"lifecycle": {"preStop": ["sleep", "5"]}},
            [unmarshal(f"{P0}.lifecycle.preStop", "array", "Lifecycle", "v1.LifecycleHandler")],
            id="preStop-not-an-object",
        ),
        pytest.param(
            {"minReadySeconds": "10s", "progressDeadlineSeconds": 60.5},
            None,
            [
                unmarshal("spec.minReadySeconds", "string", "DeploymentSpec", "int32"),
                unmarshal("spec.progressDeadlineSeconds", "number 60.5", "DeploymentSpec", "int32"),
            ],
            id="deployment-spec",
        ),
        pytest.param(
            {"strategy": {"rollingUpdate": {"maxSurge": True, "maxUnavailable": {"percent": 25}}}},
            None,
            [
                unmarshal(f"{RU}.maxUnavailable", "object", "RollingUpdateDeployment", "int32"),
                unmarshal(f"{RU}.maxSurge", "bool", "RollingUpdateDeployment", "int32"),
            ],
            id="rolling-update-int-or-string",
        ),
        pytest.param(
            {"strategy": {"type": 1}},
            None,
            [unmarshal("spec.strategy.type", "number", "DeploymentStrategy", "v1.DeploymentStrategyType")],
            id="strategy-type",
        ),
        pytest.param(
            {"strategy": "RollingUpdate"},
            None,
            [unmarshal("spec.strategy", "string", "DeploymentSpec", "v1.DeploymentStrategy")],
            id="strategy-not-an-object",
        ),
        pytest.param(
            {"strategy": {"rollingUpdate": "25%"}},
            None,
            [unmarshal(RU, "string", "DeploymentStrategy", "v1.RollingUpdateDeployment")],
            id="rollingUpdate-not-an-object",
        ),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_in_the_decoders_words(tmp_path, spec, container, expected):
    assert problems(tmp_path, with_container(container, **spec)) == expected


def test_an_integral_float_is_the_integer_kubectl_sends(tmp_path):
    """kubectl sends YAML as JSON, where 5.0 is written 5: the API server reads an integer."""
    container = {
        "readinessProbe": {**HTTP, "periodSeconds": 5.0},
        "lifecycle": {"preStop": {"sleep": {"seconds": 2.0}}},
    }
    dep = loaded(
        tmp_path, with_container(container, minReadySeconds=3.0, strategy={"rollingUpdate": {"maxSurge": 2.0}})
    )
    assert dep.readiness_probe.period_s == 5.0
    assert (dep.pre_stop.seconds, dep.min_ready_s, dep.strategy.max_surge) == (2.0, 3.0, 2)
    assert problems(tmp_path, with_container(None, minReadySeconds=-3.0)) == [
        "spec.minReadySeconds: Invalid value: -3: must be greater than or equal to 0"
    ]


def test_the_decoders_refusals_are_marked_as_such():
    _, errors = parse_deployment(with_container({"readinessProbe": {**HTTP, "periodSecond": 5}}))
    assert errors == [
        FieldError(
            f"{P0}.readinessProbe.periodSecond",
            f'strict decoding error: unknown field "{P0}.readinessProbe.periodSecond"',
            decoding=True,
        )
    ]


def test_a_typo_exits_2_with_one_line_naming_file_document_and_field(tmp_path, capsys):
    path = write(tmp_path, deployment(strategy={"rollingUpdate": {"maxUnavailble": 0}}))
    code = main(["run", str(path), "--out", str(tmp_path / "out")])
    stdout, stderr = capsys.readouterr()
    second = next(i for i, line in enumerate(path.read_text().splitlines(), start=1) if line == "---") + 1
    assert (code, stdout) == (2, "")
    assert stderr.splitlines() == [
        f'error: {path}: document 2 (line {second}): The Deployment "web" is invalid: '
        f'{RU}.maxUnavailble: strict decoding error: unknown field "{RU}.maxUnavailble"'
    ]


# --- durations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1m30s", 90.0),
        ("1h2m3.5s", 3723.5),
        ("2m0.5s", 120.5),
        ("9m5s", 545.0),  # as `svcsim get pods` prints an age
        ("3h5m", 11100.0),
        ("1s500ms", 1.5),
        ("1ms500us", 0.0015),
        ("1m0s", 60.0),
        (".5m1s", 31.0),
        ("1s1m", 61.0),  # any order, as time.ParseDuration allows
        (" 1m30s ", 90.0),
    ],
)
def test_go_style_compound_durations_are_read(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds, rel=1e-15)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10ms", 0.01), ("2m", 120.0), ("1.5e1s", 15.0), (" 2 m ", 120.0), ("500us", 0.0005), ("0s", 0.0), (1.5, 1.5)],
)
def test_every_single_unit_form_keeps_its_exact_value(text, seconds):
    """One number and a unit is read as before (exponents and inner spaces included), bit for bit."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1m 30s", "expected a duration such as 10ms, 2s or 5m, got '1m 30s'"),
        ("1m30", "expected a duration such as 10ms, 2s or 5m, got '1m30'"),
        ("1e1m30s", "expected a duration such as 10ms, 2s or 5m, got '1e1m30s'"),
        ("1d2h", "expected a duration such as 10ms, 2s or 5m, got '1d2h'"),
        ("-1m30s", "must be a finite duration >= 0, got '-1m30s'"),
    ],
)
def test_a_malformed_compound_duration_is_refused(text, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        parse_duration(text)


def test_get_pods_at_accepts_an_age_as_svcsim_prints_it(tmp_path, capsys):
    scenario = write(tmp_path, deployment())
    assert main(["get", "pods", str(scenario), "--at", "0m2.5s"]) == 0
    compound = capsys.readouterr().out
    assert main(["get", "pods", str(scenario), "--at", "2.5s"]) == 0
    assert compound == capsys.readouterr().out != ""
    assert main(["get", "pods", str(scenario), "--at", "1m30"]) == 2
    assert "--at: expected a duration such as 10ms, 2s or 5m, got '1m30'" in capsys.readouterr().err
