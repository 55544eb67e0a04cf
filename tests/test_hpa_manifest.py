"""HorizontalPodAutoscaler manifests: the API's defaults, its validation in its words, the
references to the scenario's Deployments, and the warning that nothing scales yet
(docs/semantics.md#horizontalpodautoscaler).

Expected messages are the API server's (pkg/apis/autoscaling/validation/validation.go) unless a
test says they are svcsim's.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

import sim
from sim.cli import main
from sim.kube.hpa import (
    SCALE_DOWN_DEFAULTS,
    SCALE_UP_DEFAULTS,
    HPABehavior,
    HPAScalingPolicy,
    HPAScalingRules,
    MetricSpec,
    MetricTarget,
    parse_hpa,
)
from sim.kube.hpa_metrics import QUANTITY_FORMAT_MSG, read_quantity
from sim.kube.quantity import ERR_SUFFIX
from sim.kube.validation import FieldError
from tests.test_validation import deployment, doc_line, problems, service, write

CPU80 = MetricSpec("Resource", "cpu", MetricTarget("Utilization", average_utilization=80))
NO_REQUEST = (
    "spec.metrics[0].resource: container nginx of Deployment web has no cpu request, so its utilization cannot be "
    "computed: the HPA will not scale (FailedGetResourceMetric at every sync)"
)


def hpa(name: str = "web", *, api: str = "autoscaling/v2", target: str = "web", **spec: Any) -> dict[str, Any]:
    """An HPA on Deployment ``target`` with maxReplicas 5; ``spec`` adds or replaces fields."""
    ref = {"apiVersion": "apps/v1", "kind": "Deployment", "name": target}
    body: dict[str, Any] = {"scaleTargetRef": ref, "maxReplicas": 5, **spec}
    return {"apiVersion": api, "kind": "HorizontalPodAutoscaler", "metadata": {"name": name}, "spec": body}


def parsed(doc: dict[str, Any]) -> Any:
    found, errors = parse_hpa(doc)
    assert errors == [], errors
    return found


def details(doc: dict[str, Any]) -> list[str]:
    found, errors = parse_hpa(doc)
    assert found is None
    return [f"{e.path}: {e.detail}" for e in errors]


# --- defaults ------------------------------------------------------------------------------


def test_a_minimal_v2_hpa_gets_min_one_and_cpu_at_80_percent_and_no_behavior():
    found = parsed(hpa())
    assert (found.min_replicas, found.max_replicas, found.metrics, found.behavior) == (1, 5, (CPU80,), None)
    assert (found.target_kind, found.target_name, found.target_api_version) == ("Deployment", "web", "apps/v1")


def test_an_empty_metrics_list_is_defaulted_like_an_omitted_one():
    assert parsed(hpa(metrics=[])).metrics == (CPU80,)


def test_an_empty_behavior_gets_every_default_of_both_directions():
    found = parsed(hpa(behavior={}))
    assert found.behavior == HPABehavior(SCALE_UP_DEFAULTS, SCALE_DOWN_DEFAULTS)
    assert (
        HPAScalingRules(0, "Max", (HPAScalingPolicy("Pods", 4, 15), HPAScalingPolicy("Percent", 100, 15)))
        == SCALE_UP_DEFAULTS
    )
    assert HPAScalingRules(300, "Max", (HPAScalingPolicy("Percent", 100, 15),)) == SCALE_DOWN_DEFAULTS


def test_a_partial_rule_keeps_what_is_given_and_fills_the_rest():
    behavior = {
        "scaleDown": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}], "tolerance": "50m"},
        "scaleUp": {"stabilizationWindowSeconds": 30, "selectPolicy": "Disabled"},
    }
    found = parsed(hpa(behavior=behavior))
    assert found.behavior.scale_down == HPAScalingRules(300, "Max", (HPAScalingPolicy("Pods", 1, 60),), 0.05)
    assert found.behavior.scale_up == HPAScalingRules(30, "Disabled", SCALE_UP_DEFAULTS.policies)


def test_v1_target_cpu_utilization_becomes_one_resource_cpu_metric():
    found = parsed(hpa(api="autoscaling/v1", minReplicas=2, targetCPUUtilizationPercentage=50))
    expected = MetricSpec("Resource", "cpu", MetricTarget("Utilization", average_utilization=50))
    assert (found.api_version, found.min_replicas, found.metrics, found.behavior) == (
        "autoscaling/v1",
        2,
        (expected,),
        None,
    )
    assert parsed(hpa(api="autoscaling/v1")).metrics == (CPU80,)


def test_metric_sources_are_read_with_their_quantities():
    metrics = [
        {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "1Gi"}}},
        {
            "type": "ContainerResource",
            "containerResource": {
                "name": "cpu",
                "container": "app",
                "target": {"type": "Utilization", "averageUtilization": 60},
            },
        },
        {
            "type": "Pods",
            "pods": {"metric": {"name": "rps"}, "target": {"type": "AverageValue", "averageValue": "500m"}},
        },
        {
            "type": "Object",
            "object": {
                "describedObject": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "main"},
                "metric": {"name": "hits"},
                "target": {"type": "Value", "value": "10k"},
            },
        },
        {
            "type": "External",
            "external": {
                "metric": {"name": "queue", "selector": {"matchLabels": {"q": "jobs"}}},
                "target": {"type": "AverageValue", "averageValue": 30},
            },
        },
    ]
    assert parsed(hpa(metrics=metrics)).metrics == (
        MetricSpec("Resource", "memory", MetricTarget("AverageValue", average_value=2.0**30)),
        MetricSpec("ContainerResource", "cpu", MetricTarget("Utilization", average_utilization=60), container="app"),
        MetricSpec("Pods", "rps", MetricTarget("AverageValue", average_value=0.5)),
        MetricSpec("Object", "hits", MetricTarget("Value", value=10_000.0), described="Ingress/main"),
        MetricSpec(
            "External",
            "queue",
            MetricTarget("AverageValue", average_value=30.0),
            selector={"matchLabels": {"q": "jobs"}},
        ),
    )


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("500m", 0.5),
        ("1", 1.0),
        (2, 2.0),
        (0.25, 0.25),
        ("1.5", 1.5),
        (".5", 0.5),
        ("100u", 1e-4),
        ("3n", 3e-9),
        ("1k", 1000.0),
        ("2M", 2e6),
        ("1Ki", 1024.0),
        ("1Mi", 2.0**20),
        ("1.5Gi", 1.5 * 2**30),
        ("1e3", 1000.0),
        ("5E-1", 0.5),
        ("-2", -2.0),
        (" 7 ", 7.0),
    ],
)
def test_quantities_are_read_in_base_units(written, value):
    errors: list[FieldError] = []
    assert read_quantity(written, "q", errors) == pytest.approx(value, rel=1e-12)
    assert errors == []


@pytest.mark.parametrize(
    ("written", "message"),
    [
        *((w, QUANTITY_FORMAT_MSG) for w in ["1q", "abc", "1.2.3", "", "1 Mi", True, [1]]),
        *((w, ERR_SUFFIX) for w in ["1K", "1e"]),
    ],
)
def test_what_is_not_a_quantity_is_refused_as_the_decoder_refuses_it(written, message):
    errors: list[FieldError] = []
    assert read_quantity(written, "q", errors) is None
    assert errors == [FieldError("q", message, decoding=True)]


def test_a_suffix_without_a_number_is_zero_as_parse_quantity_reads_it():
    """parseQuantityString: "if we stripped all numerator positions, always return 0"."""
    errors: list[FieldError] = []
    assert read_quantity("Mi", "q", errors) == 0.0 and errors == []


# --- validation ----------------------------------------------------------------------------


def _resource(target: dict[str, Any], name: str = "cpu") -> list[dict[str, Any]]:
    return [{"type": "Resource", "resource": {"name": name, "target": target}}]


M0 = "spec.metrics[0]"
UP = "spec.behavior.scaleUp"
DOWN = "spec.behavior.scaleDown"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(
            {"minReplicas": 0}, ["spec.minReplicas: Invalid value: 0: must be greater than or equal to 1"], id="min-0"
        ),
        pytest.param(
            {"maxReplicas": 0},
            [
                "spec.maxReplicas: Invalid value: 0: must be greater than 0",
                "spec.maxReplicas: Invalid value: 0: must be greater than or equal to `minReplicas`",
            ],
            id="max-0",
        ),
        pytest.param(
            {"minReplicas": 6},
            ["spec.maxReplicas: Invalid value: 5: must be greater than or equal to `minReplicas`"],
            id="max-below-min",
        ),
        pytest.param(
            {"maxReplicas": 100_001},
            [
                "spec.maxReplicas: Invalid value: 100001: must be less than or equal to 100000 "
                "(svcsim simulates every pod)"
            ],
            id="svcsim-limit",
        ),
        pytest.param(
            {"scaleTargetRef": {"apiVersion": "apps/v1"}},
            ["spec.scaleTargetRef.kind: Required value", "spec.scaleTargetRef.name: Required value"],
            id="ref-required",
        ),
        pytest.param(
            {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "..", "name": "a/b%"}},
            [
                "spec.scaleTargetRef.kind: Invalid value: \"..\": may not be '..'",
                "spec.scaleTargetRef.name: Invalid value: \"a/b%\": may not contain '/'",
                "spec.scaleTargetRef.name: Invalid value: \"a/b%\": may not contain '%'",
            ],
            id="ref-path-segments",
        ),
        pytest.param(
            {"metrics": [{}]},
            [
                f"{M0}.type: Required value: must specify a metric source type",
                f'{M0}.type: Unsupported value: "": supported values: '
                '"ContainerResource", "External", "Object", "Pods", "Resource"',
            ],
            id="metric-type-required",
        ),
        pytest.param(
            {"metrics": [{"type": "Resource"}]},
            [f"{M0}.resource: Required value: must populate information for the given metric source"],
            id="source-required",
        ),
        pytest.param(
            {
                "metrics": [
                    {
                        "type": "Pods",
                        **{"resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}},
                    }
                ]
            },
            [
                # A single source given is not also forbidden (validateMetricSpec counts them).
                f"{M0}.pods: Required value: must populate information for the given metric source",
            ],
            id="wrong-source",
        ),
        pytest.param(
            {"metrics": _resource({"type": "Utilization"})},
            [
                f"{M0}.resource.target.averageUtilization: Required value: "
                "must set either a target raw value or a target utilization"
            ],
            id="resource-target-missing",
        ),
        pytest.param(
            {"metrics": _resource({"type": "Utilization", "averageUtilization": 0})},
            [f"{M0}.resource.target.averageUtilization: Invalid value: 0: must be greater than 0"],
            id="utilization-0",
        ),
        pytest.param(
            {"metrics": _resource({"type": "Utilization", "averageUtilization": 50, "averageValue": "100m"})},
            [
                f"{M0}.resource.target.averageValue: Forbidden: "
                "may not set both a target raw value and a target utilization"
            ],
            id="utilization-and-value",
        ),
        pytest.param(
            {"metrics": _resource({"averageValue": "-100m"})},
            [
                f"{M0}.resource.target.type: Required value: must specify a metric target type",
                f'{M0}.resource.target.type: Invalid value: "": must be either Utilization, Value, or AverageValue',
                f'{M0}.resource.target.averageValue: Invalid value: "-100m": must be positive',
            ],
            id="target-type-and-sign",
        ),
        pytest.param(
            {"metrics": _resource({"type": "Utilization", "averageUtilization": 50}, name="")},
            [f"{M0}.resource.name: Required value: must specify a resource name"],
            id="resource-name",
        ),
        pytest.param(
            {
                "metrics": [
                    {
                        "type": "Object",
                        "object": {
                            "describedObject": {"kind": "Ingress", "name": "i"},
                            "metric": {"name": "hits"},
                            "target": {"type": "Value"},
                        },
                    }
                ]
            },
            [f"{M0}.object.target.averageValue: Required value: must set either a target value or averageValue"],
            id="object-target",
        ),
        pytest.param(
            {
                "metrics": [
                    {
                        "type": "External",
                        "external": {
                            "metric": {"name": "q"},
                            "target": {"type": "Value", "value": 1, "averageValue": 2},
                        },
                    }
                ]
            },
            [f"{M0}.external.target.value: Forbidden: may not set both a target value for metric and a per-pod target"],
            id="external-both",
        ),
        pytest.param(
            {"metrics": [{"type": "Pods", "pods": {"metric": {}, "target": {"type": "AverageValue"}}}]},
            [
                f"{M0}.pods.metric.name: Required value: must specify a metric name",
                f"{M0}.pods.target.averageValue: Required value: must specify a positive target averageValue",
            ],
            id="pods-target",
        ),
        pytest.param(
            {
                "metrics": [
                    {
                        "type": "ContainerResource",
                        "containerResource": {
                            "name": "gpu",
                            "target": {"type": "Utilization", "averageUtilization": 5},
                        },
                    }
                ]
            },
            [
                f'{M0}.containerResource.name: Invalid value: "gpu": must be a standard resource for containers',
                f"{M0}.containerResource.container: Required value: must specify a container",
            ],
            id="container-resource",
        ),
        pytest.param(
            {"behavior": {"scaleUp": {"policies": [], "selectPolicy": "Fastest"}}},
            [
                f'{UP}.selectPolicy: Unsupported value: "Fastest": supported values: "Disabled", "Max", "Min"',
                f"{UP}.policies: Required value: must specify at least one Policy",
            ],
            id="rules",
        ),
        pytest.param(
            {
                "behavior": {
                    "scaleDown": {"stabilizationWindowSeconds": -1},
                    "scaleUp": {"stabilizationWindowSeconds": 3601},
                }
            },
            [
                f"{UP}.stabilizationWindowSeconds: Invalid value: 3601: must be less than or equal to 3600",
                f"{DOWN}.stabilizationWindowSeconds: Invalid value: -1: must be greater than or equal to zero",
            ],
            id="windows",
        ),
        pytest.param(
            {
                "behavior": {
                    "scaleDown": {
                        "policies": [
                            {"type": "Pod", "value": 0, "periodSeconds": 1801},
                            {"type": "Percent", "value": 10},
                        ]
                    }
                }
            },
            [
                f'{DOWN}.policies[0].type: Unsupported value: "Pod": supported values: "Percent", "Pods"',
                f"{DOWN}.policies[0].value: Invalid value: 0: must be greater than zero",
                f"{DOWN}.policies[0].periodSeconds: Invalid value: 1801: must be less than or equal to 1800",
                f"{DOWN}.policies[1].periodSeconds: Invalid value: 0: must be greater than zero",
            ],
            id="policies",
        ),
        pytest.param(
            {"behavior": {"scaleDown": {"tolerance": "-0.1"}}},
            [f'{DOWN}.tolerance: Invalid value: "-0.1": must be greater than or equal to zero'],
            id="tolerance",
        ),
    ],
)
def test_invalid_hpas_are_refused_in_the_api_servers_words(spec, expected):
    doc = hpa()
    doc["spec"].update(spec)
    assert details(doc) == expected


def test_a_second_source_is_forbidden_and_only_the_first_is_checked():
    """validateMetricSpec checks the first source present in its order (object, external, pods,
    resource, containerResource), then forbids every one but the type's."""
    resource = {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}
    pods = {"metric": {"name": "rps"}, "target": {"type": "AverageValue", "averageValue": "0"}}
    doc = hpa(metrics=[{"type": "Resource", "resource": resource, "pods": pods}])
    assert details(doc) == [
        f'{M0}.pods.target.averageValue: Invalid value: "0": must be positive',
        f"{M0}.pods: Forbidden: must populate the given metric source only",
    ]


def test_v1_target_cpu_below_one_is_refused_on_the_field_written():
    doc = hpa(api="autoscaling/v1", targetCPUUtilizationPercentage=0)
    assert details(doc) == ["spec.targetCPUUtilizationPercentage: Invalid value: 0: must be greater than 0"]


@pytest.mark.parametrize(
    ("api", "spec", "expected"),
    [
        pytest.param(
            "autoscaling/v2",
            {"maxReplica": 3},
            ['spec.maxReplica: strict decoding error: unknown field "spec.maxReplica"'],
            id="unknown-spec-field",
        ),
        pytest.param(
            "autoscaling/v1",
            {"metrics": []},
            ['spec.metrics: strict decoding error: unknown field "spec.metrics"'],
            id="v2-field-in-v1",
        ),
        pytest.param(
            "autoscaling/v2",
            {"targetCPUUtilizationPercentage": 50},
            [
                "spec.targetCPUUtilizationPercentage: strict decoding error: unknown field "
                '"spec.targetCPUUtilizationPercentage"'
            ],
            id="v1-field-in-v2",
        ),
        pytest.param(
            "autoscaling/v2",
            {"maxReplicas": "10", "behavior": {"scaleUp": {"policies": [{"type": "Pods", "value": 1, "period": 15}]}}},
            [
                "spec.maxReplicas: json: cannot unmarshal string into Go struct field "
                "HorizontalPodAutoscalerSpec.spec.maxReplicas of type int32",
                "spec.behavior.scaleUp.policies[0].period: strict decoding error: unknown field "
                '"spec.behavior.scaleUp.policies[0].period"',
            ],
            id="decoding-comes-first",
        ),
        pytest.param(
            "autoscaling/v2",
            {"metrics": _resource({"type": "AverageValue", "averageValue": "2 cores"})},
            [f"{M0}.resource.target.averageValue: {QUANTITY_FORMAT_MSG}"],
            id="bad-quantity",
        ),
    ],
)
def test_what_the_decoder_refuses_is_reported_alone(api, spec, expected):
    doc = hpa(api=api)
    doc["spec"].update(spec)
    doc["spec"]["minReplicas"] = 0  # a validation error, not reported while decoding fails
    assert details(doc) == expected


# --- in a scenario -------------------------------------------------------------------------


def test_a_valid_hpa_loads_without_a_warning_when_its_pods_request_cpu(tmp_path):
    dep = deployment()
    dep["spec"]["template"]["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "100m"}}
    path = write(tmp_path, service(), dep, hpa())
    scenario = sim.load_scenario(path)
    assert [h.name for h in scenario.hpas] == ["web"]
    assert not [w for w in scenario.warnings if "HorizontalPodAutoscaler" in w or "request" in w]
    assert scenario.other_documents == ()


def test_a_cpu_utilization_target_on_pods_without_a_cpu_request_is_warned_about(tmp_path):
    """The API server accepts it; the controller fails at every sync ("missing request for cpu")."""
    path = write(tmp_path, service(), deployment(), hpa())
    warnings = sim.load_scenario(path).warnings
    assert [w for w in warnings if "request" in w] == [
        f'{path}: document 3 (line {doc_line(path, 3)}): HorizontalPodAutoscaler "web": {NO_REQUEST}'
    ]


def test_an_invalid_hpa_names_file_document_and_field(tmp_path):
    path = write(tmp_path, service(), deployment(), hpa(minReplicas=0))
    assert problems(path) == [
        f'{path}: document 3 (line {doc_line(path, 3)}): The HorizontalPodAutoscaler "web" is invalid: '
        "spec.minReplicas: Invalid value: 0: must be greater than or equal to 1"
    ]


def test_validate_exits_2_with_one_line_per_problem(tmp_path, capsys):
    path = write(tmp_path, service(), deployment(), hpa(minReplicas=0, maxReplicas=-1))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "HorizontalPodAutoscaler" in line]
    assert len(lines) == 3
    assert all(str(path) in line and "spec." in line for line in lines)


def test_removed_hpa_api_versions_are_refused(tmp_path):
    path = write(tmp_path, service(), deployment(), hpa(api="autoscaling/v2beta2"))
    assert problems(path) == [
        f'{path}: document 3 (line {doc_line(path, 3)}): apiVersion: Unsupported value: "autoscaling/v2beta2": '
        'supported values: "autoscaling/v2", "autoscaling/v1"'
    ]


def test_two_hpas_with_one_name_are_refused(tmp_path):
    path = write(tmp_path, service(), deployment(), hpa(), hpa(target="other"))
    assert (
        f'{path}: document 4 (line {doc_line(path, 4)}): The HorizontalPodAutoscaler "web" is invalid: '
        'metadata.name: Duplicate value: "web": a HorizontalPodAutoscaler with this name comes earlier'
    ) in problems(path)


def _target(**ref: Any) -> dict[str, Any]:
    doc = hpa()
    doc["spec"]["scaleTargetRef"] = ref
    return doc


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        pytest.param(
            hpa(target="api"),
            'spec.scaleTargetRef.name: Invalid value: "api": no Deployment named "api" in namespace "default" '
            "of this scenario",
            id="no-such-deployment",
        ),
        pytest.param(
            _target(apiVersion="apps/v1", kind="StatefulSet", name="web"),
            'spec.scaleTargetRef.kind: Unsupported value: "StatefulSet": supported values: "Deployment" '
            "(svcsim scales Deployments only)",
            id="not-a-deployment",
        ),
        pytest.param(
            _target(kind="Deployment", name="web"),
            'spec.scaleTargetRef.apiVersion: Required value: "apps/v1": without it the controller looks for a '
            "Deployment in the core API group, finds none and cannot scale it",
            id="no-api-version",
        ),
        pytest.param(
            _target(apiVersion="extensions/v1beta1", kind="Deployment", name="web"),
            'spec.scaleTargetRef.apiVersion: Unsupported value: "extensions/v1beta1": supported values: "apps/v1"',
            id="old-api-version",
        ),
    ],
)
def test_the_scale_target_must_be_an_apps_v1_deployment_of_the_scenario(tmp_path, doc, expected):
    path = write(tmp_path, service(), deployment(), doc)
    assert problems(path) == [
        f'{path}: document 3 (line {doc_line(path, 3)}): HorizontalPodAutoscaler "web": {expected}'
    ]


def test_an_hpa_in_another_namespace_does_not_find_the_deployment(tmp_path):
    doc = hpa()
    doc["metadata"]["namespace"] = "prod"
    path = write(tmp_path, service(), deployment(), doc)
    assert problems(path) == [
        f'{path}: document 3 (line {doc_line(path, 3)}): HorizontalPodAutoscaler "web": spec.scaleTargetRef.name: '
        'Invalid value: "web": no Deployment named "web" in namespace "prod" of this scenario'
    ]


def test_a_deployment_takes_one_hpa(tmp_path):
    path = write(tmp_path, service(), deployment(), hpa("first"), hpa("second"))
    assert problems(path) == [
        f'{path}: document 4 (line {doc_line(path, 4)}): HorizontalPodAutoscaler "second": spec.scaleTargetRef.name: '
        'Duplicate value: "web": Deployment "web" is already scaled by HorizontalPodAutoscaler "first" '
        "(two HPAs on one Deployment: neither scales it)"
    ]


@pytest.mark.parametrize(
    "doc",
    [
        pytest.param(hpa(), id="v2-defaults"),
        pytest.param(
            hpa(
                minReplicas=2,
                metrics=_resource({"type": "AverageValue", "averageValue": "250m"}),
                behavior={"scaleUp": {"tolerance": "0.05"}, "scaleDown": {"selectPolicy": "Min"}},
            ),
            id="v2-given",
        ),
        pytest.param(hpa(api="autoscaling/v1", targetCPUUtilizationPercentage=65), id="v1"),
    ],
)
def test_the_resolved_scenario_keeps_the_hpa_filled_in_and_reloads_equal(tmp_path, doc):
    original = copy.deepcopy(doc)
    scenario = sim.load_scenario(write(tmp_path, service(), deployment(), doc))
    text = scenario.to_yaml()
    saved = next(d for d in yaml.safe_load_all(text) if d["kind"] == "HorizontalPodAutoscaler")
    assert saved["spec"]["minReplicas"] == scenario.hpas[0].min_replicas
    if doc["apiVersion"] == "autoscaling/v2":
        assert saved["spec"]["metrics"]
    if "behavior" in doc["spec"]:
        assert saved["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300
    reloaded = sim.load_scenario(text)
    assert reloaded.hpas == scenario.hpas
    assert doc == original  # the user's manifest is not changed in place


def test_only_the_autoscaling_scenarios_have_hpas():
    """Scenarios written before autoscaling keep their resolved form (and so their results)."""
    for path in sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.yaml")):
        autoscaled = path.stem.startswith("hpa-") or path.stem == "cluster-autoscaler"
        assert bool(sim.load_scenario(path).hpas) == autoscaled, path.name


def test_the_readmes_hpa_example_loads_next_to_the_guides_deployment():
    """The README's example is a valid HPA for the guide's Deployment, read as documented."""
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    block = readme.split("**HorizontalPodAutoscaler**", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    text = (root / "scenarios" / "nodeport-basic.yaml").read_text().rstrip("\n") + "\n---\n" + block
    (found,) = sim.load_scenario(text).hpas
    assert (found.target_name, found.min_replicas, found.max_replicas) == ("myapp", 2, 10)
    assert found.metrics == (MetricSpec("Resource", "cpu", MetricTarget("Utilization", average_utilization=60)),)
    assert found.behavior == HPABehavior(SCALE_UP_DEFAULTS, HPAScalingRules(120, "Max", SCALE_DOWN_DEFAULTS.policies))
