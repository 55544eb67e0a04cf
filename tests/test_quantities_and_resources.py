"""Kubernetes quantities and containers' resources (docs/semantics.md#resources).

Quantity cases are apimachinery's own (staging/src/k8s.io/apimachinery/pkg/api/resource/
quantity_test.go: TestQuantityParse, TestQuantityString, TestQuantityParseEmit, the invalid
list); resource messages are ValidateResourceRequirements' (pkg/apis/core/validation).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

import sim
from sim.kube.deployment import ContainerResources, parse_deployment
from sim.kube.quantity import (
    ERR_FORMAT_WRONG,
    ERR_NUMERIC,
    ERR_SUFFIX,
    Format,
    QuantityError,
    decode_quantity,
    parse_quantity,
)
from sim.scenario.cross_checks import MEMORY_LIMIT_NOT_ENFORCED
from tests.test_deployment_lifecycle_manifest import CONTAINERS, deployment, problems, with_container, write

P0 = f"{CONTAINERS}[0].resources"
DSI, BSI, DEX = Format.DECIMAL_SI, Format.BINARY_SI, Format.DECIMAL_EXPONENT

# --- parsing: TestQuantityParse ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "amount", "fmt"),
    [
        ("0", "0", DSI),
        ("0n", "0", DSI),
        ("0Ki", "0", BSI),
        ("0Ti", "0", BSI),
        ("1", "1", DSI),
        ("1Ki", "1024", BSI),
        ("7Mi", str(7 * 2**20), BSI),
        ("5Ti", str(5 * 2**40), BSI),
        ("3Ei", str(3 * 2**60), BSI),
        ("5n", "5e-9", DSI),
        ("4u", "4e-6", DSI),
        ("3m", "3e-3", DSI),
        ("50k", "5e4", DSI),
        ("300T", "3e14", DSI),
        ("1E", "1e18", DSI),
        ("1E-3", "1e-3", DEX),
        ("1e3", "1e3", DEX),
        ("1E18", "1e18", DEX),
        ("100.035k", "100035", DSI),
        ("0.0005k", "0.5", DSI),
        ("0.5e-2", "5e-3", DEX),
        ("1.3E+6", "13e5", DEX),
        ("6.987654321G", "6987654321", DSI),
        ("1.01E", "101e16", DSI),
        # Things that saturate/round
        ("3.001n", "4e-9", DSI),
        ("1.1E-9", "2e-9", DEX),
        ("0.0000000001", "1e-9", DSI),
        ("0.5e-9", "1e-9", DEX),
        ("0.00000012345", "124e-9", DSI),
        ("9Ei", str(2**63 - 1), BSI),
        ("9223372036854775807Ki", str(2**63 - 1), BSI),
        ("12E", "12e18", DSI),
        # Fractional binary
        ("100.035Ki", "102435.84", BSI),
        ("0.5Mi", str(2**19), BSI),
        ("0.025Ti", "27487790694.4", BSI),
        # Things written by trolls
        ("0.000000000001Ki", "2e-9", DSI),  # rounds up, changes format
        (".001", "1e-3", DSI),
        (".0001k", "0.1", DSI),
        ("1.", "1", DSI),
        ("1.G", "1e9", DSI),
        (".", "0", DSI),
    ],
)
def test_quantities_parse_to_apimachinerys_exact_values_and_formats(text, amount, fmt):
    for sign, factor in (("", 1), ("+", 1), ("-", -1)):
        q = parse_quantity(sign + text)
        assert q.amount == Decimal(amount) * factor, sign + text
        assert q.format is fmt


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", ERR_FORMAT_WRONG),
        ("1.1.M", ERR_FORMAT_WRONG),
        ("1+1.0M", ERR_FORMAT_WRONG),
        ("0.1mi", ERR_SUFFIX),
        ("0.1am", ERR_FORMAT_WRONG),
        ("aoeu", ERR_FORMAT_WRONG),
        (".5i", ERR_SUFFIX),
        ("1i", ERR_SUFFIX),
        ("-3.01i", ERR_SUFFIX),
        ("-3.01e-", ERR_SUFFIX),
        ("1e4294967297", ERR_SUFFIX),  # outside the int32 scale: refused, not truncated
        ("1E2147483648", ERR_SUFFIX),
        (" 1", ERR_FORMAT_WRONG),
        ("1 ", ERR_FORMAT_WRONG),
        ("1ki", ERR_SUFFIX),
        (".Ei", ERR_NUMERIC),  # the slow path needs a digit
    ],
)
def test_bad_quantities_get_apimachinerys_error(text, error):
    with pytest.raises(QuantityError) as info:
        parse_quantity(text)
    assert str(info.value) == error


def test_the_format_error_quotes_the_upstream_regular_expression():
    assert ERR_FORMAT_WRONG == (
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )


def test_a_huge_exponent_is_parsed_without_computing_the_number():
    q = parse_quantity("1e2147483647")
    assert q.amount == Decimal("1e2147483647")
    with pytest.raises(OverflowError):
        q.milli_value()


# --- printing: TestQuantityString, TestQuantityParseEmit ----------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("1024Mi", "1Gi"),
        ("307200Ki", "300Mi"),
        ("1025024Mi", "1001Gi"),
        ("1024Gi", "1Ti"),
        ("1000M", "1G"),
        ("0.001T", "1G"),
        ("1000u", "1m"),
        ("1.08", "1080m"),
        ("1080000000n", "1080m"),
        ("1000E", "1e21"),  # no suffix past E: the exponent form, not "1"
        ("5000E", "5e21"),
        (".001e12", "1e9"),
        ("0.001e0", "1e-3"),
        ("1000e-12", "1e-9"),
        ("00", "0"),
        ("1Ki", "1Ki"),
        (".001Ki", "1024m"),
        (".000001Ki", "1024u"),
        (".000000001Ki", "1024n"),
        (".000000000001Ki", "2n"),
        ("1.5Gi", "1536Mi"),
        ("2000m", "2"),
        ("1500m", "1500m"),
        ("0.5", "500m"),
        ("5000m", "5"),
        ("2048", "2048"),
        ("1Ei", "1Ei"),
        ("9Ei", "9223372036854775807"),
    ],
)
def test_quantities_print_in_canonical_form(text, canonical):
    assert str(parse_quantity(text)) == canonical
    if canonical != "0":
        assert str(parse_quantity("-" + text)) == "-" + canonical


@pytest.mark.parametrize("text", ["1Gi", "300Mi", "6Ki", "1G", "1m", "80m", "1e9", "80e-3", "3k", "1n", "1e21"])
def test_a_canonical_string_is_kept_as_written(text):
    assert parse_quantity(text).text == text


def test_the_text_kept_is_the_text_written_even_with_a_plus_or_capital_e():
    """ParseQuantity keeps its input on the fast path, so String() prints it back as given."""
    assert str(parse_quantity("+1")) == "+1"
    assert str(parse_quantity("1E3")) == "1E3"


# --- values: MilliValue, Value ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "milli", "units"),
    [
        ("250m", 250, 1),
        ("0.1", 100, 1),
        ("1", 1000, 1),
        ("1.5", 1500, 2),
        ("0.0001", 1, 1),  # MilliValue rounds up: 0.1m is 1m
        ("100n", 1, 1),
        ("1Ki", 1024000, 1024),
        ("1.5Gi", 1610612736000, 1610612736),
        ("-1.5", -1500, -2),  # away from zero
        ("1e3", 1000000, 1000),
    ],
)
def test_milli_value_and_value_round_up_away_from_zero(text, milli, units):
    q = parse_quantity(text)
    assert (q.milli_value(), q.value()) == (milli, units)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (0.5, "500m"),  # a YAML number, as kubectl sends it in JSON
        (2, "2"),
        (1e-7, "100e-9"),  # Go writes 1e-7, a decimal exponent
        (" 1Gi ", "1Gi"),  # Quantity.UnmarshalJSON trims spaces
        (None, "0"),  # JSON null is the zero quantity
    ],
)
def test_decoding_reads_yaml_numbers_and_json_strings(raw, expected):
    assert str(decode_quantity(raw)) == expected


@pytest.mark.parametrize("raw", [True, [1], {"a": 1}, "1\n"])
def test_decoding_refuses_what_is_not_a_quantity(raw):
    with pytest.raises(QuantityError):
        decode_quantity(raw)


# --- containers' resources ----------------------------------------------------------------------


def with_resources(resources: Any, **container: Any) -> dict[str, Any]:
    return with_container({"resources": resources, **container})


def parsed(doc: dict[str, Any]) -> Any:
    dep, errors = parse_deployment(doc)
    assert errors == []
    return dep


def test_requests_and_limits_become_millicores_and_bytes():
    dep = parsed(
        with_resources({"requests": {"cpu": "250m", "memory": "64Mi"}, "limits": {"cpu": 1, "memory": "128Mi"}})
    )
    assert dep.container_resources == (ContainerResources("app", 250, 1000, 64 * 2**20, 128 * 2**20),)
    assert (dep.cpu_request_m, dep.cpu_limit_m, dep.memory_request_b, dep.memory_limit_b) == (
        250,
        1000,
        64 * 2**20,
        128 * 2**20,
    )


def test_a_limit_without_a_request_gives_the_request():
    """SetDefaults_Pod: the pods the Deployment creates get requests equal to their limits."""
    dep = parsed(with_resources({"limits": {"cpu": "500m", "memory": "1G"}, "requests": {"memory": "100M"}}))
    assert dep.container_resources[0] == ContainerResources("app", 500, 500, 100_000_000, 1_000_000_000)


def test_pod_values_are_sums_over_the_containers_that_set_them():
    doc = with_resources({"requests": {"cpu": "100m"}})
    doc["spec"]["template"]["spec"]["containers"] += [
        {"name": "side", "image": "envoy", "resources": {"requests": {"cpu": "0.05", "memory": "10Mi"}}},
        {"name": "bare", "image": "busybox"},
    ]
    dep = parsed(doc)
    assert [c.container for c in dep.container_resources] == ["app", "side", "bare"]
    assert dep.cpu_request_m == 150
    assert dep.memory_request_b == 10 * 2**20
    assert dep.cpu_limit_m is None and dep.memory_limit_b is None
    assert dep.container_resources[2].cpu_request_m is None  # what the HPA calls a missing request


def test_no_resources_leave_the_deployment_as_before():
    dep = parsed(deployment())
    assert dep.container_resources == ()
    assert dep.cpu_request_m is None and not dep.sets_resources


def test_other_resources_are_checked_and_kept_by_name_only():
    dep = parsed(
        with_resources(
            {
                "requests": {"ephemeral-storage": "1Gi"},
                "limits": {"nvidia.com/gpu": 1, "hugepages-2Mi": "4Mi", "memory": "1Gi"},
            }
        )
    )
    assert dep.container_resources[0].other == ("ephemeral-storage", "hugepages-2Mi", "nvidia.com/gpu")
    assert dep.sets_resources and dep.cpu_request_m is None


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        pytest.param(
            {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}},
            [f'{P0}.requests: Invalid value: "2": must be less than or equal to cpu limit of 1'],
            id="request-above-limit",
        ),
        pytest.param(
            {"requests": {"memory": "2000Mi"}, "limits": {"memory": "1.5Gi"}},
            [f'{P0}.requests: Invalid value: "2000Mi": must be less than or equal to memory limit of 1536Mi'],
            id="canonical-forms-in-the-message",
        ),
        pytest.param(
            {"requests": {"cpu": "-100m"}},
            [f'{P0}.requests[cpu]: Invalid value: "-100m": must be greater than or equal to 0'],
            id="negative",
        ),
        pytest.param(
            {"limits": {"maxmemory": "1Gi"}},
            [
                f'{P0}.limits[maxmemory]: Invalid value: "maxmemory": must be a standard resource type or fully qualified',
                f'{P0}.limits[maxmemory]: Invalid value: "maxmemory": must be a standard resource for containers',
            ],
            id="unknown-name",
        ),
        pytest.param(
            {"requests": {"pods": 1}, "limits": {"pods": 1}},
            [
                f'{P0}.limits[pods]: Invalid value: "pods": must be a standard resource for containers',
                f'{P0}.requests[pods]: Invalid value: "pods": must be a standard resource for containers',
            ],
            id="a-quota-resource-is-not-a-container-resource",
        ),
        pytest.param(
            {"requests": {"example.com/foo": 2}},
            [f"{P0}.limits: Required value: Limit must be set for non overcommitable resources"],
            id="extended-needs-a-limit",
        ),
        pytest.param(
            {"requests": {"example.com/foo": 1}, "limits": {"example.com/foo": "1500m"}},
            [
                f'{P0}.limits[example.com/foo]: Invalid value: "1500m": must be an integer',
                f'{P0}.requests: Invalid value: "1": must be equal to example.com/foo limit of 1500m',
            ],
            id="extended-whole-and-equal",
        ),
        pytest.param(
            {"limits": {"hugepages-2Mi": "3Mi"}},
            [
                f'{P0}.limits[hugepages-2Mi]: Invalid value: "3Mi": 3Mi is not positive integer multiple of hugepages-2Mi',
                f"{P0}: Forbidden: HugePages require cpu or memory",
            ],
            id="hugepages",
        ),
        pytest.param(
            {"requests": {"cpu": "1e30"}},
            [
                f'{P0}.requests[cpu]: Invalid value: "1e30": must be at most 9223372036854775807 millicores (svcsim\'s limit)'
            ],
            id="svcsims-int64-limit",
        ),
    ],
)
def test_invalid_resources_get_the_api_servers_messages(tmp_path, resources, expected):
    assert problems(tmp_path, with_resources(resources)) == expected


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        pytest.param(
            {"requests": {"cpu": "one", "memory": -1}},
            [f"{P0}.requests[cpu]: {ERR_FORMAT_WRONG}"],
            id="bad-quantity",
        ),
        pytest.param(
            {"requests": {"memory": "1mi", "cpu": -1}},
            [f"{P0}.requests[memory]: {ERR_SUFFIX}"],
            id="bad-suffix",
        ),
        pytest.param(
            {"request": {"cpu": 1}, "limits": {"memory": -1}},
            [f'{P0}.request: strict decoding error: unknown field "{P0}.request"'],
            id="unknown-key",
        ),
        pytest.param(
            {"limits": ["cpu"]},
            [
                f"{P0}.limits: json: cannot unmarshal array into Go struct field "
                "ResourceRequirements.spec.template.spec.containers.resources.limits of type v1.ResourceList"
            ],
            id="limits-not-a-map",
        ),
        pytest.param(
            "lots",
            [
                f"{P0}: json: cannot unmarshal string into Go struct field "
                "Container.spec.template.spec.containers.resources of type v1.ResourceRequirements"
            ],
            id="resources-not-a-map",
        ),
    ],
)
def test_resources_that_cannot_be_decoded_are_the_decoders_refusals(tmp_path, resources, expected):
    """Decoding errors come alone: the negative memory request is not also reported."""
    assert problems(tmp_path, with_resources(resources)) == expected


def test_a_deployment_that_limits_memory_is_warned_about_once(tmp_path):
    doc = with_resources({"requests": {"cpu": "100m"}, "limits": {"memory": "512Mi"}})
    doc["spec"]["template"]["spec"]["containers"].append(
        {"name": "side", "image": "envoy", "resources": {"limits": {"memory": "1Gi"}}}
    )
    warnings = sim.load_scenario(write(tmp_path, doc)).warnings
    assert [w for w in warnings if MEMORY_LIMIT_NOT_ENFORCED in w] == [
        next(w for w in warnings if w.endswith(MEMORY_LIMIT_NOT_ENFORCED))
    ]
    assert any(w.endswith(f'Deployment "web": {MEMORY_LIMIT_NOT_ENFORCED}') for w in warnings)


@pytest.mark.parametrize("resources", [None, {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "2"}}])
def test_a_deployment_without_a_memory_limit_gets_no_such_warning(tmp_path, resources):
    doc = deployment() if resources is None else with_resources(resources)
    warnings = sim.load_scenario(write(tmp_path, doc)).warnings
    assert not any(MEMORY_LIMIT_NOT_ENFORCED in w for w in warnings)
