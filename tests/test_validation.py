"""Loading a scenario: Kubernetes' defaults, validation and wording, address resolution.

The expected messages are the API server's own (docs/semantics.md#service-defaults-and-validation), prefixed with
the file and the document, so a user can find the line and compare with ``kubectl apply``.
"""

from __future__ import annotations

import copy
import ipaddress
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import sim
from sim.kube.addresses import NodePortAllocator, RangeFull, node_pod_cidr
from sim.results.kubectl import format_table, service_rows
from sim.scenario.run_limits import _too_many_requests

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "scenarios" / "nodeport-basic.yaml"
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


# --- building scenarios ------------------------------------------------------------


def service(name: str = "web", *, ports: list[Any] | None = None, **spec: Any) -> dict[str, Any]:
    """A ``v1 Service`` selecting ``app: web``; NodePort unless ``type`` says otherwise."""
    body: dict[str, Any] = {"type": "NodePort", "selector": {"app": "web"}}
    body["ports"] = [{"port": 80}] if ports is None else ports
    body.update(spec)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": body}


def deployment(name: str = "web", *, labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"} if labels is None else labels},
            "spec": {"containers": [{"name": "nginx", "image": "nginx", "ports": [{"containerPort": 80}]}]},
        },
    }
    body.update(spec)
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": body}


def simulation(**spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"seed": 1, "duration": "5s", "cluster": {"nodes": 2}}
    body.update(spec)
    return {"apiVersion": "svcsim/v1alpha1", "kind": "Simulation", "metadata": {"name": "test"}, "spec": body}


def write(tmp_path: Path, *docs: dict[str, Any], name: str = "scenario.yaml") -> Path:
    """Write the documents; add a Simulation (with a workload per Deployment) if none is given."""
    all_docs = list(docs)
    if not any(d.get("kind") == "Simulation" for d in all_docs):
        workloads = {d["metadata"]["name"]: {"serviceTime": "10ms"} for d in all_docs if d["kind"] == "Deployment"}
        all_docs.append(simulation(workloads=workloads))
    path = tmp_path / name
    path.write_text(yaml.safe_dump_all(all_docs, sort_keys=False))
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(sim.ScenarioError) as info:
        sim.load_scenario(path)
    return [str(p) for p in info.value.problems]


def doc_line(path: Path, number: int) -> int:
    """First line (1-based) of document ``number`` in a file written by ``write``."""
    separators = [i for i, line in enumerate(path.read_text().splitlines(), start=1) if line == "---"]
    return 1 if number == 1 else separators[number - 2] + 1


def service_error(path: Path, detail: str, *, doc: int = 1, name: str = "web") -> str:
    return f'{path}: document {doc} (line {doc_line(path, doc)}): The Service "{name}" is invalid: {detail}'


def many_services(count: int, prefix: str = "svc", **kwargs: Any) -> list[dict[str, Any]]:
    return [service(f"{prefix}-{i}", **kwargs) for i in range(count)]


# --- Service defaults ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("port", "expected"),
    [
        pytest.param({"port": 80}, (None, "TCP", 80, 80), id="targetPort-defaults-to-port"),
        pytest.param({"port": 1}, (None, "TCP", 1, 1), id="lowest-port"),
        pytest.param({"port": 65535}, (None, "TCP", 65535, 65535), id="highest-port"),
        pytest.param({"port": 80, "targetPort": 8080}, (None, "TCP", 80, 8080), id="explicit-targetPort"),
        pytest.param({"port": 80, "targetPort": "http"}, (None, "TCP", 80, "http"), id="named-targetPort"),
        pytest.param({"port": 53, "protocol": "UDP"}, (None, "UDP", 53, 53), id="udp"),
        pytest.param({"port": 80, "protocol": "SCTP"}, (None, "SCTP", 80, 80), id="sctp"),
        # defaults.go treats the zero values like omitted fields:
        pytest.param({"port": 80, "targetPort": 0}, (None, "TCP", 80, 80), id="targetPort-0-is-unset"),
        pytest.param({"port": 80, "targetPort": ""}, (None, "TCP", 80, 80), id="targetPort-empty-is-unset"),
        pytest.param({"port": 80, "protocol": ""}, (None, "TCP", 80, 80), id="protocol-empty-is-TCP"),
        pytest.param({"name": "http", "port": 80}, ("http", "TCP", 80, 80), id="named-port"),
    ],
)
def test_service_port_is_defaulted_like_the_api_server(tmp_path, port, expected):
    scenario = sim.load_scenario(write(tmp_path, service(ports=[port]), deployment()))
    p = scenario.service("web").ports[0]
    assert (p.name, p.protocol, p.port, p.target_port) == expected


def test_service_type_defaults_to_cluster_ip_with_session_affinity_none(tmp_path):
    svc = service()
    del svc["spec"]["type"]
    scenario = sim.load_scenario(write(tmp_path, svc, deployment()))
    loaded = scenario.service("web")
    assert (loaded.type, loaded.session_affinity, loaded.external_traffic_policy) == ("ClusterIP", "None", None)
    assert loaded.ports[0].node_port is None


@pytest.mark.parametrize("svc_type", ["NodePort", "LoadBalancer"])
def test_external_traffic_policy_defaults_to_cluster_for_external_services(tmp_path, svc_type):
    scenario = sim.load_scenario(write(tmp_path, service(type=svc_type), deployment()))
    assert scenario.service("web").external_traffic_policy == "Cluster"


# --- Service validation: Kubernetes' exact wording ------------------------------------------


@pytest.mark.parametrize(
    ("spec", "details"),
    [
        pytest.param(
            {"ports": [{"port": 0}]},
            # targetPort is defaulted from port before validation, so Kubernetes reports both.
            [
                "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
                "spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive",
            ],
            id="port-0",
        ),
        pytest.param(
            {"ports": [{"port": 65536, "targetPort": 80}]},
            ["spec.ports[0].port: Invalid value: 65536: must be between 1 and 65535, inclusive"],
            id="port-65536",
        ),
        pytest.param(
            {"ports": [{"port": -1, "targetPort": 80}]},
            ["spec.ports[0].port: Invalid value: -1: must be between 1 and 65535, inclusive"],
            id="port-negative",
        ),
        pytest.param(
            {"ports": [{"port": 80, "targetPort": 70000}]},
            ["spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive"],
            id="targetPort-out-of-range",
        ),
        pytest.param(
            {"ports": [{"targetPort": 80}]},
            ["spec.ports[0].port: Required value"],
            id="port-required",
        ),
        pytest.param(
            {"ports": [{"port": 80, "protocol": "tcp"}]},
            ['spec.ports[0].protocol: Unsupported value: "tcp": supported values: "SCTP", "TCP", "UDP"'],
            id="protocol-is-case-sensitive",
        ),
        pytest.param(
            {"ports": [{"port": 80, "protocol": "HTTP"}]},
            ['spec.ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"'],
            id="protocol-unknown",
        ),
        pytest.param(
            {"ports": [{"port": 80, "nodePort": 29999}]},
            [
                "spec.ports[0].nodePort: Invalid value: 29999: provided port is not in the valid range. "
                "The range of valid ports is 30000-32767"
            ],
            id="nodePort-below-range",
        ),
        pytest.param(
            {"ports": [{"port": 80, "nodePort": 32768}]},
            [
                "spec.ports[0].nodePort: Invalid value: 32768: provided port is not in the valid range. "
                "The range of valid ports is 30000-32767"
            ],
            id="nodePort-above-range",
        ),
        pytest.param(
            {"ports": [{"port": 80}, {"port": 443}]},
            ["spec.ports[0].name: Required value", "spec.ports[1].name: Required value"],
            id="several-ports-need-names",
        ),
        pytest.param(
            {"ports": [{"name": "http", "port": 80}, {"port": 443}]},
            ["spec.ports[1].name: Required value"],
            id="every-port-needs-a-name",
        ),
        pytest.param(
            {"ports": [{"name": "http", "port": 80}, {"name": "http", "port": 443}]},
            ['spec.ports[1].name: Duplicate value: "http"'],
            id="port-names-unique",
        ),
        pytest.param(
            {"type": "ClusterIP", "ports": [{"port": 80, "nodePort": 30080}]},
            ["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"],
            id="nodePort-on-ClusterIP",
        ),
        pytest.param(
            {"type": "nodeport"},
            [
                'spec.type: Unsupported value: "nodeport": supported values: "ClusterIP", "ExternalName", '
                '"LoadBalancer", "NodePort"'
            ],
            id="type-is-case-sensitive",
        ),
        pytest.param({"ports": []}, ["spec.ports: Required value"], id="ports-required"),
        pytest.param(
            {"ports": [{"port": 80, "targetPort": "8080"}]},
            ['spec.ports[0].targetPort: Invalid value: "8080": must contain at least one letter (a-z)'],
            id="quoted-number-is-a-port-name",
        ),
        pytest.param(
            {"ports": [{"port": 80, "targetPort": "web--http"}]},
            ['spec.ports[0].targetPort: Invalid value: "web--http": must not contain consecutive hyphens'],
            id="port-name-consecutive-hyphens",
        ),
    ],
)
def test_invalid_service_is_refused_with_kubernetes_wording(tmp_path, spec, details):
    path = write(tmp_path, service(**spec), deployment())
    assert problems(path) == [service_error(path, d) for d in details]


def test_node_port_zero_asks_for_an_allocated_port(tmp_path):
    """nodePort 0 is Go's zero value: the API server allocates one, as if it were omitted."""
    scenario = sim.load_scenario(write(tmp_path, service(ports=[{"port": 80, "nodePort": 0}]), deployment()))
    assert 30086 <= scenario.service("web").ports[0].node_port <= 32767


def test_wrong_api_version_is_refused(tmp_path):
    svc = service()
    svc["apiVersion"] = "v2"
    path = write(tmp_path, svc, deployment())
    assert problems(path) == [
        f'{path}: document 1 (line 1): apiVersion: Unsupported value: "v2": supported values: "v1"'
    ]


# --- nodePorts: uniqueness, bands, exhaustion ------------------------------------------


def test_duplicate_node_port_is_already_allocated(tmp_path):
    """The example of docs/semantics.md#addresses: the second Service asking for 30080 is refused."""
    path = write(
        tmp_path,
        service("web", ports=[{"port": 80, "nodePort": 30080}]),
        service("web-dup", ports=[{"port": 80, "nodePort": 30080}]),
        deployment(),
    )
    detail = "spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated"
    assert problems(path) == [service_error(path, detail, doc=2, name="web-dup")]


def test_node_port_is_unique_across_ports_of_one_service(tmp_path):
    ports = [{"name": "a", "port": 80, "nodePort": 30080}, {"name": "b", "port": 81, "nodePort": 30080}]
    path = write(tmp_path, service(ports=ports), deployment())
    detail = "spec.ports[1].nodePort: Invalid value: 30080: provided port is already allocated"
    assert problems(path) == [service_error(path, detail)]


def test_node_port_range_follows_the_configured_range(tmp_path):
    sim_doc = simulation(
        cluster={"nodes": 1, "nodePortRange": "31000-31999"}, workloads={"web": {"serviceTime": "10ms"}}
    )
    path = write(tmp_path, service(ports=[{"port": 80, "nodePort": 30500}]), deployment(), sim_doc)
    detail = (
        "spec.ports[0].nodePort: Invalid value: 30500: provided port is not in the valid range. "
        "The range of valid ports is 31000-31999"
    )
    assert problems(path) == [service_error(path, detail)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_auto_node_ports_come_from_the_dynamic_band_and_never_collide(tmp_path, seed):
    """Default range 30000-32767: static band 30000-30085, so auto ports are 30086 or more."""
    given = [service(f"given-{i}", ports=[{"port": 80, "nodePort": 30086 + i}]) for i in range(10)]
    auto = many_services(40, "auto")
    sim_doc = simulation(seed=seed, workloads={"web": {"serviceTime": "10ms"}})
    scenario = sim.load_scenario(write(tmp_path, *auto, *given, deployment(), sim_doc))
    auto_ports = [s.ports[0].node_port for s in scenario.services if s.name.startswith("auto")]
    assert all(30086 <= p <= 32767 for p in auto_ports)
    assert len(set(auto_ports)) == len(auto_ports)
    assert not set(auto_ports) & set(range(30086, 30096))
    assert [s.ports[0].node_port for s in scenario.services if s.name.startswith("given")] == list(range(30086, 30096))


def test_auto_node_ports_fill_the_dynamic_band_before_the_static_band(tmp_path):
    """Range 30000-30099 (100 ports): static band 30000-30015, dynamic band 30016-30099.

    The user's ports take all of the dynamic band but 30096-30099; the auto-allocated
    Services come first in the file, so they only avoid the given ports if those are
    reserved before anything is allocated (as the API server does for explicit ports).
    """
    auto = many_services(5, "auto")
    given = [service(f"given-{p}", ports=[{"port": 80, "nodePort": p}]) for p in range(30016, 30096)]
    sim_doc = simulation(
        cluster={"nodes": 1, "nodePortRange": "30000-30099"}, workloads={"web": {"serviceTime": "10ms"}}
    )
    scenario = sim.load_scenario(write(tmp_path, *auto, *given, deployment(), sim_doc))
    ports = sorted(s.ports[0].node_port for s in scenario.services if s.name.startswith("auto"))
    assert ports[1:] == [30096, 30097, 30098, 30099]
    assert 30000 <= ports[0] <= 30015


@pytest.mark.parametrize(
    ("low", "high", "static"),
    [
        pytest.param(30000, 32767, 86, id="default-range"),
        pytest.param(30000, 30099, 16, id="at-least-16"),
        pytest.param(20000, 29999, 128, id="at-most-128"),
        pytest.param(30000, 30999, 31, id="size-over-32"),
        pytest.param(30000, 30016, 16, id="17-ports"),
        pytest.param(30000, 30015, 0, id="16-ports-no-static-band"),
        pytest.param(30000, 30001, 0, id="2-ports"),
        pytest.param(30000, 30000, 0, id="1-port"),
    ],
)
@pytest.mark.parametrize("seed", range(5))
def test_node_port_allocator_uses_the_kep_3668_bands(low, high, static, seed):
    """min(max(16, size/32), 128) static ports, 0 for ranges of 16 or fewer (calculateRangeOffset).

    Up to 8 ports are left free on each side of the band boundary; the dynamic ones must
    all come out before any static one (a boundary off by one fails for most seeds).
    """
    allocator = NodePortAllocator(low, high, np.random.default_rng(seed))
    boundary = low + static
    dynamic = list(range(boundary, min(boundary + 8, high + 1)))
    static_free = list(range(max(low, boundary - 8), boundary))
    for port in range(low, high + 1):
        if port not in dynamic and port not in static_free:
            assert allocator.reserve(port) is None
    got = [allocator.allocate() for _ in range(len(dynamic) + len(static_free))]
    assert sorted(got[: len(dynamic)]) == dynamic
    assert sorted(got[len(dynamic) :]) == static_free
    with pytest.raises(RangeFull, match=r"^failed to allocate a nodePort: range is full$"):
        allocator.allocate()


def test_node_port_range_full_is_reported_on_the_service_that_does_not_fit(tmp_path):
    sim_doc = simulation(
        cluster={"nodes": 1, "nodePortRange": "30000-30001"}, workloads={"web": {"serviceTime": "10ms"}}
    )
    path = write(tmp_path, *many_services(3), deployment(), sim_doc)
    detail = "spec.ports[0].nodePort: failed to allocate a nodePort: range is full"
    assert problems(path) == [service_error(path, detail, doc=3, name="svc-2")]


def test_small_node_port_range_allocates_only_inside_it(tmp_path):
    sim_doc = simulation(
        cluster={"nodes": 1, "nodePortRange": "30000-30001"}, workloads={"web": {"serviceTime": "10ms"}}
    )
    scenario = sim.load_scenario(write(tmp_path, *many_services(2), deployment(), sim_doc))
    assert sorted(s.ports[0].node_port for s in scenario.services) == [30000, 30001]


# --- ClusterIPs --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "detail"),
    [
        pytest.param("10.96.0.1", 'Invalid value: "10.96.0.1": provided IP is already allocated', id="kubernetes"),
        pytest.param("10.96.0.10", 'Invalid value: "10.96.0.10": provided IP is already allocated', id="dns"),
        pytest.param(
            "10.0.0.5",
            'Invalid value: "10.0.0.5": provided IP is not in the valid range. The range of valid IPs is 10.96.0.0/12',
            id="outside-service-cidr",
        ),
    ],
)
def test_reserved_or_foreign_cluster_ip_is_refused(tmp_path, ip, detail):
    path = write(tmp_path, service(type="ClusterIP", clusterIP=ip), deployment())
    assert problems(path) == [service_error(path, f"spec.clusterIP: {detail}")]


def test_cluster_ip_given_twice_is_already_allocated(tmp_path):
    path = write(
        tmp_path,
        service("a", type="ClusterIP", clusterIP="10.96.5.5"),
        service("b", type="ClusterIP", clusterIP="10.96.5.5"),
        deployment(),
    )
    detail = 'spec.clusterIP: Invalid value: "10.96.5.5": provided IP is already allocated'
    assert problems(path) == [service_error(path, detail, doc=2, name="b")]


def test_given_cluster_ip_is_kept(tmp_path):
    scenario = sim.load_scenario(write(tmp_path, service(type="ClusterIP", clusterIP="10.96.0.50"), deployment()))
    assert scenario.service("web").cluster_ip == "10.96.0.50"


def test_auto_cluster_ips_skip_kubernetes_and_dns_until_the_cidr_is_full(tmp_path):
    """A /28 has 14 hosts; .1 and .10 are taken, so exactly 12 Services fit and the 13th fails."""
    cluster = {"nodes": 1, "serviceCIDR": "10.96.0.0/28"}
    workloads = {"web": {"serviceTime": "10ms"}}
    full = many_services(12, type="ClusterIP")
    scenario = sim.load_scenario(write(tmp_path, *full, deployment(), simulation(cluster=cluster, workloads=workloads)))
    expected = {f"10.96.0.{i}" for i in range(2, 15)} - {"10.96.0.10"}
    assert {s.cluster_ip for s in scenario.services} == expected

    path = write(
        tmp_path,
        *many_services(13, type="ClusterIP"),
        deployment(),
        simulation(cluster=cluster, workloads=workloads),
        name="too-many.yaml",
    )
    detail = "spec.clusterIP: failed to allocate a serviceIP: range is full"
    assert problems(path) == [service_error(path, detail, doc=13, name="svc-12")]


def test_auto_cluster_ips_prefer_the_upper_band_of_the_default_cidr(tmp_path):
    """10.96.0.0/12: the static band is the first 256 addresses (KEP-3070)."""
    scenario = sim.load_scenario(write(tmp_path, *many_services(30, type="ClusterIP"), deployment()))
    ips = [ipaddress.IPv4Address(s.cluster_ip) for s in scenario.services]
    cidr = ipaddress.IPv4Network("10.96.0.0/12")
    assert len(set(ips)) == len(ips)
    assert all(ip in cidr and ip >= ipaddress.IPv4Address("10.96.1.0") for ip in ips)


def test_external_name_service_gets_no_cluster_ip(tmp_path):
    """An ExternalName Service is a DNS alias: the API server allocates it no ClusterIP."""
    alias = service("alias", type="ExternalName", externalName="db.example.com", ports=[])
    del alias["spec"]["selector"]
    scenario = sim.load_scenario(write(tmp_path, service(), alias, deployment()))
    assert scenario.service("alias").cluster_ip is None
    resolved = list(yaml.safe_load_all(scenario.to_yaml()))
    assert "clusterIP" not in resolved[1]["spec"]


def test_headless_service_keeps_cluster_ip_none(tmp_path):
    scenario = sim.load_scenario(write(tmp_path, service(type="ClusterIP", clusterIP="None"), deployment()))
    assert scenario.service("web").cluster_ip == "None"


# --- Deployments ---------------------------------------------------------------------


def test_deployment_selector_must_match_template_labels(tmp_path):
    path = write(tmp_path, service(), deployment(labels={"app": "other"}))
    expected = (
        f'{path}: document 2 (line {doc_line(path, 2)}): The Deployment "web" is invalid: '
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"other"}: '
        "`selector` does not match template `labels`"
    )
    assert problems(path) == [expected]


@pytest.mark.parametrize(
    ("spec", "detail"),
    [
        pytest.param({"selector": None}, "spec.selector: Required value", id="selector-required"),
        pytest.param(
            {"replicas": -1}, "spec.replicas: Invalid value: -1: must be greater than or equal to 0", id="replicas"
        ),
    ],
)
def test_invalid_deployment_is_refused(tmp_path, spec, detail):
    dep = deployment(**spec)
    if dep["spec"]["selector"] is None:
        del dep["spec"]["selector"]
    path = write(tmp_path, service(), dep)
    assert problems(path) == [
        f'{path}: document 2 (line {doc_line(path, 2)}): The Deployment "web" is invalid: {detail}'
    ]


def test_selector_with_match_expressions_is_accepted(tmp_path):
    selector = {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "api"]}]}
    scenario = sim.load_scenario(write(tmp_path, service(), deployment(selector=selector)))
    assert scenario.deployment("web").selector.matches({"app": "web"})


# --- unknown fields ----------------------------------------------------------------------


def full_simulation() -> dict[str, Any]:
    return simulation(
        kubeProxy={"mode": "iptables", "syncDelay": "1s"},
        workloads={"web": {"serviceTime": "10ms", "concurrency": 1}},
        clients=[{"name": "laptop", "target": {"service": "web", "via": "nodePort"}, "rate": 10}],
        events=[{"at": "2s", "scale": {"deployment": "web", "replicas": 3}}],
    )


@pytest.mark.parametrize(
    ("parent", "key", "field_path"),
    [
        pytest.param((), "extra", "extra", id="top-level"),
        pytest.param(("spec",), "sead", "spec.sead", id="spec"),
        pytest.param(("spec", "cluster"), "nodeCount", "spec.cluster.nodeCount", id="cluster"),
        pytest.param(("spec", "kubeProxy"), "modee", "spec.kubeProxy.modee", id="kubeProxy"),
        pytest.param(("spec", "workloads", "web"), "servicetime", "spec.workloads.web.servicetime", id="workload"),
        pytest.param(("spec", "clients", 0), "rat", "spec.clients[0].rat", id="client"),
        pytest.param(("spec", "clients", 0, "target"), "svc", "spec.clients[0].target.svc", id="target"),
        pytest.param(("spec", "events", 0, "scale"), "replica", "spec.events[0].scale.replica", id="event"),
    ],
)
def test_unknown_simulation_field_is_an_error_naming_its_path(tmp_path, parent, key, field_path):
    doc = full_simulation()
    node: Any = doc
    for step in parent:
        node = node[step]
    node[key] = 1
    path = write(tmp_path, service(), deployment(), doc)
    found = problems(path)
    assert len(found) == 1
    prefix = f'{path}: document 3 (Simulation "test", line {doc_line(path, 3)}): {field_path}: unknown field'
    assert found[0].startswith(prefix), found


def test_fields_kubernetes_has_but_svcsim_does_not_model_are_accepted_and_kept(tmp_path):
    """Users paste real manifests, status and all."""
    svc = service(ipFamilyPolicy="SingleStack", internalTrafficPolicy="Cluster")
    svc["metadata"].update(namespace="default", uid="1234", annotations={"team": "web"})
    svc["spec"]["ports"][0]["appProtocol"] = "http"
    svc["status"] = {"loadBalancer": {}}
    dep = deployment(strategy={"type": "RollingUpdate"}, revisionHistoryLimit=3)
    dep["spec"]["template"]["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "100m"}}
    dep["status"] = {"replicas": 2}
    scenario = sim.load_scenario(write(tmp_path, svc, dep))
    resolved = list(yaml.safe_load_all(scenario.to_yaml()))
    assert resolved[0]["spec"]["ipFamilyPolicy"] == "SingleStack"
    assert resolved[0]["metadata"]["annotations"] == {"team": "web"}
    assert resolved[1]["spec"]["strategy"] == {"type": "RollingUpdate"}


def test_other_kinds_are_ignored_with_a_warning(tmp_path):
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "b"}}
    scenario = sim.load_scenario(write(tmp_path, service(), deployment(), config))
    assert [w for w in scenario.warnings if "ConfigMap" in w] == [
        f"{tmp_path / 'scenario.yaml'}: document 3 (line {doc_line(tmp_path / 'scenario.yaml', 3)}): "
        "kind 'ConfigMap' is not simulated and is ignored"
    ]


# --- reporting ------------------------------------------------------------------------------


def test_every_problem_is_reported_at_once(tmp_path):
    doc = simulation(workloads={"web": {"serviceTime": "10ms"}}, sead=3)
    path = write(tmp_path, service(ports=[{"port": 80, "protocol": "tcp"}]), deployment(labels={"app": "x"}), doc)
    found = problems(path)
    assert len(found) == 3
    assert [line.split(" (")[0] for line in found] == [f"{path}: document {n}" for n in (1, 2, 3)]
    assert "spec.ports[0].protocol: Unsupported value" in found[0]
    assert "`selector` does not match template `labels`" in found[1]
    assert "spec.sead: unknown field" in found[2]


def test_allocation_conflicts_are_reported_with_the_other_documents_problems(tmp_path):
    """A taken nodePort is found only once every Service is read; it still comes out in file order."""
    path = write(
        tmp_path,
        service("a", ports=[{"port": 80, "nodePort": 30001}]),
        service("b", ports=[{"port": 80, "nodePort": 30001}]),
        deployment(labels={"app": "x"}),
    )
    found = problems(path)
    assert len(found) == 2
    assert found[0] == service_error(
        path, "spec.ports[0].nodePort: Invalid value: 30001: provided port is already allocated", doc=2, name="b"
    )
    assert found[1].startswith(f'{path}: document 3 (line {doc_line(path, 3)}): The Deployment "web" is invalid: ')


def test_a_bad_duration_is_reported_once(tmp_path):
    """A value that fails to parse is not also reported as "must be > 0"."""
    path = write(
        tmp_path, service(), deployment(), simulation(duration="5 parsecs", workloads={"web": {"serviceTime": "10ms"}})
    )
    found = problems(path)
    assert len(found) == 1
    assert "spec.duration: " in found[0] and "5 parsecs" in found[0]


BROKEN = {
    "service": lambda: (service(ports=[{"port": 0, "targetPort": 80}]), deployment()),
    "deployment": lambda: (service(), deployment(labels={"app": "x"})),
    "simulation-field": lambda: (service(), deployment(), simulation(workloads={"web": {"serviceTime": "10ms"}}, x=1)),
    "missing-workload": lambda: (service(), deployment(), simulation()),
    "unknown-target": lambda: (
        service(),
        deployment(),
        simulation(
            workloads={"web": {"serviceTime": "10ms"}},
            clients=[{"name": "c", "target": {"service": "nope"}, "rate": 1}],
        ),
    ),
    "node-port-taken": lambda: (
        service("a", ports=[{"port": 80, "nodePort": 30001}]),
        service("b", ports=[{"port": 80, "nodePort": 30001}]),
        deployment(),
    ),
    "two-simulations": lambda: (
        service(),
        deployment(),
        simulation(workloads={"web": {"serviceTime": "10ms"}}),
        simulation(workloads={"web": {"serviceTime": "10ms"}}),
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_every_error_line_names_the_file_and_the_document(tmp_path, case):
    path = write(tmp_path, *BROKEN[case]())
    found = problems(path)
    assert found
    for line in found:
        assert re.match(rf"^{re.escape(str(path))}: document \d+ \(", line), line
        assert "\n" not in line


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        pytest.param(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n---\n"
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web: oops\n",
            "document 2, line 9, column 12",
            "mapping values are not allowed here",
            id="colon-in-value",
        ),
        pytest.param(
            "apiVersion: v1\nkind: Service\nspec:\n  ports: [80, 81\n",
            "document 1, line 5, column 1",
            "expected ',' or ']', but got '<stream end>' (while parsing a flow sequence that starts at line 4, "
            "column 10)",
            id="unclosed-list",
        ),
        pytest.param(
            "kind: Service\n---\nkind: Deployment\n---\n\tkind: Simulation\n",
            "document 3, line 5, column 1",
            "found character '\\t' that cannot start any token",
            id="tab",
        ),
    ],
)
def test_yaml_syntax_error_names_document_line_and_column(tmp_path, text, where, problem):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    assert problems(path) == [f"{path}: {where}: YAML syntax error: {problem}"]


def test_file_level_problems_name_the_file(tmp_path):
    missing = tmp_path / "missing.yaml"
    assert problems(missing) == [f"{missing}: cannot read file: No such file or directory"]
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert problems(empty) == [
        f"{empty}: file is empty (no YAML document, only comments or ---): a scenario needs a Simulation document "
        "(apiVersion: svcsim/v1alpha1, kind: Simulation)"
    ]


# --- addresses --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cluster", "expected"),
    [
        pytest.param({"nodes": 3}, ["192.168.1.2", "192.168.1.3", "192.168.1.4"], id="count"),
        pytest.param({"nodes": 2, "nodeCIDR": "10.0.0.0/16"}, ["10.0.0.2", "10.0.0.3"], id="other-cidr"),
        pytest.param(
            {"nodes": [{"name": "a"}, {"name": "b", "ip": "192.168.1.2"}, {"name": "c"}]},
            ["192.168.1.3", "192.168.1.2", "192.168.1.4"],
            id="given-ips-are-skipped",
        ),
    ],
)
def test_node_ips_come_from_the_node_cidr_from_dot_2(tmp_path, cluster, expected):
    doc = simulation(cluster=cluster, workloads={"web": {"serviceTime": "10ms"}})
    scenario = sim.load_scenario(write(tmp_path, service(), deployment(), doc))
    assert [n.ip for n in scenario.simulation.cluster.nodes] == expected


def test_duplicate_node_ip_is_refused(tmp_path):
    nodes = [{"name": "a", "ip": "192.168.1.5"}, {"name": "b", "ip": "192.168.1.5"}]
    doc = simulation(cluster={"nodes": nodes}, workloads={"web": {"serviceTime": "10ms"}})
    path = write(tmp_path, service(), deployment(), doc)
    assert problems(path) == [
        f'{path}: document 3 (Simulation "test", line {doc_line(path, 3)}): '
        'spec.cluster.nodes[1].ip: Duplicate value: "192.168.1.5"'
    ]


@pytest.mark.parametrize(
    ("index", "cidr"), [(0, "10.244.0.0/24"), (1, "10.244.1.0/24"), (2, "10.244.2.0/24"), (255, "10.244.255.0/24")]
)
def test_node_i_gets_the_i_th_slash_24_of_the_pod_cidr(index, cidr):
    assert str(node_pod_cidr(ipaddress.IPv4Network("10.244.0.0/16"), index)) == cidr


def test_pod_cidr_runs_out_after_256_nodes():
    with pytest.raises(RangeFull):
        node_pod_cidr(ipaddress.IPv4Network("10.244.0.0/16"), 256)


# --- the guide's example --------------------------------------------------------------------


def test_guide_example_resolves_to_the_guides_addresses():
    scenario = sim.load_scenario(GUIDE)
    cluster = scenario.simulation.cluster
    assert [(n.name, n.ip) for n in cluster.nodes] == [
        ("node-1", "192.168.1.2"),
        ("node-2", "192.168.1.3"),
        ("node-3", "192.168.1.4"),
    ]
    assert [node_pod_cidr(cluster.pod_cidr, i).network_address + 2 for i in range(3)] == [
        ipaddress.IPv4Address(ip) for ip in ("10.244.0.2", "10.244.1.2", "10.244.2.2")
    ]
    svc = scenario.service("myapp-service")
    port = svc.ports[0]
    assert (svc.type, port.port, port.target_port, port.node_port, port.protocol) == ("NodePort", 80, 80, 30008, "TCP")
    assert ipaddress.IPv4Address(svc.cluster_ip) in ipaddress.IPv4Network("10.96.0.0/12")
    assert svc.cluster_ip not in ("10.96.0.1", "10.96.0.10")
    assert scenario.simulation.clients[0].ip == "192.168.1.10"


def test_guide_example_prints_like_kubectl_get_svc():
    header, row = format_table(service_rows(sim.load_scenario(GUIDE))).splitlines()
    assert header.split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert re.fullmatch(r"myapp-service   NodePort   10\.\d+\.\d+\.\d+ +<none>   +80:30008/TCP   0s", row), row
    for column in ("TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"):
        assert row[header.index(column) - 1] == " " and row[header.index(column)] != " ", column


# --- the resolved scenario ------------------------------------------------------------------


def addresses(scenario: sim.Scenario) -> dict[str, Any]:
    s = scenario.simulation
    return {
        "nodes": [(n.name, n.ip) for n in s.cluster.nodes],
        "clients": [(c.name, c.ip) for c in s.clients],
        "services": [(v.name, v.type, v.cluster_ip, v.ports) for v in scenario.services],
    }


@pytest.mark.parametrize("source", [pytest.param(p, id=p.stem) for p in SCENARIOS] + ["generated"])
def test_resolved_scenario_loads_again_with_the_same_addresses(tmp_path, source):
    if source == "generated":
        doc = simulation(
            seed=None,
            cluster={"nodes": 4},
            workloads={"web": {"serviceTime": "10ms"}},
            clients=[{"name": "c", "target": {"service": "svc-0"}, "rate": 5}],
        )
        source = write(tmp_path, *many_services(5), *many_services(3, "cip", type="ClusterIP"), deployment(), doc)
    first = sim.load_scenario(source)
    again_path = tmp_path / "resolved.yaml"
    again_path.write_text(first.to_yaml())
    again = sim.load_scenario(again_path)
    assert addresses(again) == addresses(first)
    assert again.simulation.duration_s == first.simulation.duration_s


# --- inputs that used to crash or pass silently (one contract each) ---------------------------


def sim_error(path: Path, detail: str, *, doc: int = 3) -> str:
    return f'{path}: document {doc} (Simulation "test", line {doc_line(path, doc)}): {detail}'


def deployment_error(path: Path, detail: str, *, doc: int = 2, name: str = "web") -> str:
    return f'{path}: document {doc} (line {doc_line(path, doc)}): The Deployment "{name}" is invalid: {detail}'


def web_simulation(**spec: Any) -> dict[str, Any]:
    """A Simulation with the ``web`` workload the helpers' Deployment needs."""
    return simulation(**{"workloads": {"web": {"serviceTime": "10ms"}}, **spec})


def client(**fields: Any) -> dict[str, Any]:
    return {"name": "c", "target": {"service": "web"}, "rate": 10, **fields}


@pytest.mark.parametrize(
    ("pod_cidr", "nodes", "needed"),
    [
        pytest.param("10.244.0.0/24", 2, "/23", id="slash-24-two-nodes"),
        pytest.param("10.244.0.0/23", 3, "/22", id="slash-23-three-nodes"),
        pytest.param("10.244.0.0/16", 257, "/15", id="slash-16-257-nodes"),
        pytest.param("10.244.0.0/25", 2, "/23", id="smaller-than-one-node-range"),
    ],
)
def test_pod_cidr_must_hold_a_slash_24_for_every_node(tmp_path, pod_cidr, nodes, needed):
    """kube-controller-manager gives each node its own /24 (--node-cidr-mask-size 24)."""
    doc = web_simulation(cluster={"nodes": nodes, "podCIDR": pod_cidr, "nodeCIDR": "10.0.0.0/16"})
    path = write(tmp_path, service(), deployment(), doc)
    assert problems(path) == [
        sim_error(
            path,
            f'spec.cluster.podCIDR: Invalid value: "{pod_cidr}": CIDR allocation failed; there are no remaining '
            f"CIDRs left to allocate in the accepted range: each node gets a /24 (--node-cidr-mask-size), so "
            f"{nodes} nodes need a {needed} or larger",
        )
    ]


@pytest.mark.parametrize(("pod_cidr", "nodes"), [("10.244.0.0/24", 1), ("10.244.0.0/23", 2), ("10.244.0.0/16", 256)])
def test_pod_cidr_with_room_for_every_node_is_accepted(tmp_path, pod_cidr, nodes):
    doc = web_simulation(cluster={"nodes": nodes, "podCIDR": pod_cidr, "nodeCIDR": "10.0.0.0/16"})
    assert len(sim.load_scenario(write(tmp_path, service(), deployment(), doc)).simulation.cluster.nodes) == nodes


@pytest.mark.parametrize(
    ("spec", "detail"),
    [
        pytest.param(
            {"clients": [client(rate=float("inf"))]},
            "spec.clients[0].rate: Invalid value: inf: must be a finite number > 0",
            id="rate-inf",
        ),
        pytest.param(
            {"clients": [client(rate=float("nan"))]},
            "spec.clients[0].rate: Invalid value: nan: must be a finite number > 0",
            id="rate-nan",
        ),
        pytest.param(
            {"clients": [client(rate=1.0e7)], "duration": "1h"},
            "spec.clients: about 3.6e+10 requests expected (rates 1e+07/s in all × spec.duration 1h), "
            f"{_too_many_requests()}: lower the rates or the duration",
            id="rate-times-duration",
        ),
        pytest.param(
            {"clients": [client(rate=15_000), client(name="d", rate=15_000)], "duration": "720h"},
            "spec.clients: about 7.78e+10 requests expected (rates 30000/s in all × spec.duration 720h), "
            f"{_too_many_requests()}: lower the rates or the duration",
            id="sum-of-rates",
        ),
        pytest.param(
            {"clients": [client()], "duration": 1.0e300},
            "spec.duration: Invalid value: 2.77778e+296h: must be at most 720h (30 days) of simulated time",
            id="duration-1e300",
        ),
        pytest.param(
            {"duration": "721h"},
            "spec.duration: Invalid value: 721h: must be at most 720h (30 days) of simulated time",
            id="duration-without-clients",
        ),
    ],
)
def test_run_must_be_finite_and_fit_in_memory(tmp_path, spec, detail):
    path = write(tmp_path, service(), deployment(), web_simulation(**spec))
    assert problems(path) == [sim_error(path, detail)]


def test_expected_requests_at_the_limit_are_accepted(tmp_path):
    doc = web_simulation(clients=[client(rate=1000)], duration="50000s")  # exactly 5 × 10⁷
    assert sim.load_scenario(write(tmp_path, service(), deployment(), doc)).simulation.clients[0].rate.to_spec() == 1000


def test_load_balancer_health_checks_are_bounded(tmp_path):
    """A 1 µs probe interval over an hour would be 3.6e9 checks: refused at load."""
    doc = web_simulation(cluster={"nodes": 2, "loadBalancer": {"healthCheckInterval": "1us"}}, duration="1h")
    path = write(tmp_path, service(type="LoadBalancer"), deployment(), doc)
    assert problems(path) == [
        sim_error(
            path,
            "spec.cluster.loadBalancer.healthCheckInterval: Invalid value: 1us: 1 load balancer(s) probing every "
            "1us for 1h (spec.duration) make 3.6e+09 health checks, each probing 2 node(s) and reading up to 2 "
            "endpoint(s): 5.04e+10 units of work, more than the 500,000,000 svcsim allows (svcsim's limit): "
            "lengthen the interval",
        )
    ]


@pytest.mark.parametrize(
    ("spec", "detail"),
    [
        pytest.param(
            {"workloads": {"web": {"serviceTime": "10ms", "concurrency": 10_000_000_000}}},
            "spec.workloads.web.concurrency: Invalid value: 10000000000: must be less than or equal to 100000 "
            "(svcsim keeps a slot per worker)",
            id="concurrency",
        ),
        pytest.param(
            {"cluster": {"nodes": 10_001, "podCIDR": "10.0.0.0/8", "nodeCIDR": "172.16.0.0/12"}},
            "spec.cluster.nodes: Invalid value: 10001: must be less than or equal to 10000 (svcsim's limit)",
            id="node-count",
        ),
        pytest.param(
            {"events": [{"at": "1s", "scale": {"deployment": "web", "replicas": 100_001}}]},
            "spec.events[0].scale.replicas: Invalid value: 100001: must be less than or equal to 100000 "
            "(svcsim simulates every pod)",
            id="event-replicas",
        ),
        pytest.param(
            {"clients": [client(connections={"mode": "keepalive", "count": 10**9})]},
            "spec.clients[0].connections.count: Invalid value: 1000000000: must be less than or equal to 100000 "
            "(svcsim keeps a slot per connection)",
            id="keepalive-connections",
        ),
        pytest.param(
            {"clients": [client(ips=10**12)]},
            "spec.clients[0].ips: Invalid value: 1000000000000: must be less than or equal to 65536 (a /16)",
            id="client-ips",
        ),
    ],
)
def test_sizes_are_capped_with_a_clear_error(tmp_path, spec, detail):
    path = write(tmp_path, service(), deployment(), web_simulation(**spec))
    assert problems(path) == [sim_error(path, detail)]


def test_deployment_replicas_are_capped(tmp_path):
    path = write(tmp_path, service(), deployment(replicas=100_001))
    assert problems(path) == [
        deployment_error(
            path,
            "spec.replicas: Invalid value: 100001: must be less than or equal to 100000 (svcsim simulates every pod)",
        )
    ]


@pytest.mark.parametrize("kind", ["lognormal", "gamma"])
@pytest.mark.parametrize(
    ("cv", "shown"),
    [
        pytest.param(1e200, "1e+200", id="overflows"),
        pytest.param(1e-200, "1e-200", id="divides-by-zero"),
        pytest.param(100.5, "100.5", id="above-100"),
        pytest.param(0.009, "0.009", id="below-0.01"),
        pytest.param(0, "0", id="zero"),
        pytest.param(float("inf"), "inf", id="inf"),
        pytest.param(float("nan"), "nan", id="nan"),
        pytest.param(True, "True", id="bool"),
    ],
)
def test_cv_must_be_a_finite_number_between_0_01_and_100(tmp_path, kind, cv, shown):
    workload = {"serviceTime": {"distribution": kind, "mean": "10ms", "cv": cv}}
    path = write(tmp_path, service(), deployment(), simulation(workloads={"web": workload}))
    assert problems(path) == [
        sim_error(
            path,
            f"spec.workloads.web.serviceTime.cv: Invalid value: {shown}: must be a number between 0.01 and 100, "
            "inclusive",
        )
    ]


@pytest.mark.parametrize("kind", ["lognormal", "gamma"])
@pytest.mark.parametrize("cv", [0.01, 100])
def test_cv_at_the_bounds_draws_finite_positive_times(tmp_path, kind, cv):
    workload = {"serviceTime": {"distribution": kind, "mean": "10ms", "cv": cv}}
    scenario = sim.load_scenario(write(tmp_path, service(), deployment(), simulation(workloads={"web": workload})))
    draws = scenario.simulation.workloads["web"].service_time.sample(np.random.default_rng(1), 10_000)
    assert np.isfinite(draws).all() and (draws >= 0).all()


@pytest.mark.parametrize("key", ["kind", "apiVersion"])
@pytest.mark.parametrize(
    ("value", "json_type"), [(["Service"], "array"), ({"a": 1}, "object"), (5, "number"), (True, "bool")]
)
def test_kind_and_api_version_must_be_strings(tmp_path, key, value, json_type):
    """kubectl cannot decode such an object at all; svcsim says so instead of crashing on an unhashable kind."""
    svc = service()
    svc[key] = value
    path = write(tmp_path, svc, deployment())
    assert problems(path) == [
        f"{path}: document 1 (line {doc_line(path, 1)}): {key}: cannot unmarshal {json_type} into Go struct "
        f"field TypeMeta.{key} of type string"
    ]


def rich_documents() -> list[dict[str, Any]]:
    """Every field the parsers read, so that each can be replaced by a wrong type."""
    svc = service(
        type="LoadBalancer",
        externalTrafficPolicy="Local",
        sessionAffinity="ClientIP",
        sessionAffinityConfig={"clientIP": {"timeoutSeconds": 100}},
        externalIPs=["198.51.100.7"],
        ports=[{"name": "http", "port": 80, "targetPort": "http", "nodePort": 30080, "protocol": "TCP"}],
    )
    svc["status"] = {"loadBalancer": {"ingress": [{"ip": "20.1.2.3"}]}}
    alias = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "alias"},
        "spec": {"type": "ExternalName", "externalName": "db.example.com"},
    }
    dep = deployment(
        selector={
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a"]}],
        },
        labels={"app": "web", "tier": "a"},
    )
    pod = dep["spec"]["template"]["spec"]
    pod.update(nodeSelector={"zone": "a"}, terminationGracePeriodSeconds=10)
    pod["containers"][0]["ports"] = [{"name": "http", "containerPort": 80, "protocol": "TCP"}]
    doc = simulation(
        warmup="1s",
        cluster={
            "nodes": [{"name": "n1", "ip": "192.168.1.2", "labels": {"zone": "a"}}, {"name": "n2"}],
            "podCIDR": "10.244.0.0/16",
            "network": {"clientToNode": {"distribution": "lognormal", "mean": "1ms", "cv": 0.5}},
            "loadBalancer": {"latency": {"distribution": "uniform", "min": "1ms", "max": "2ms"}},
        },
        kubeProxy={"mode": "ipvs", "scheduler": "rr", "syncDelay": "1s"},
        workloads={
            "web": {"serviceTime": {"distribution": "gamma", "mean": "10ms", "cv": 2}, "concurrency": 2, "calls": []}
        },
        clients=[
            client(
                ip="192.168.1.20",
                ips=2,
                location="external",
                target={"service": "web", "via": "nodePort", "port": "http"},
                nodes=["n1"],
                timeout="2s",
                connections={"mode": "keepalive", "count": 2, "requestsPerConnection": 10, "maxAge": "5s"},
            )
        ],
        events=[{"at": "2s", "scale": {"deployment": "web", "replicas": 3}}],
    )
    return [svc, alias, dep, doc]


def nested_paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, child in children:
        found += nested_paths(child, (*prefix, key))
    return found


@pytest.mark.parametrize("bad", [5, "x", [], {}, None, [5]], ids=repr)
def test_any_nested_value_of_a_wrong_type_is_a_scenario_error(tmp_path, bad):
    """Replace each value of every document, one at a time: loading either works or raises ScenarioError.

    Before, ``matchExpressions: 5``, ``values: 5``, ``ports: 5`` and the like raised TypeError.
    """
    docs = rich_documents()
    assert sim.load_scenario(write(tmp_path, *docs)).warnings == ()
    crashes = []
    for d, doc in enumerate(docs):
        for where in nested_paths(doc):
            changed = copy.deepcopy(docs)
            target = changed[d]
            for key in where[:-1]:
                target = target[key]
            target[where[-1]] = bad
            try:
                sim.load_scenario(yaml.safe_dump_all(changed, sort_keys=False))
            except sim.ScenarioError as err:
                assert all("\n" not in str(p) for p in err.problems)
            except Exception as err:  # anything else is the bug this test looks for
                crashes.append((d, where, f"{type(err).__name__}: {err}"))
    assert crashes == []


def with_pod_spec(**fields: Any) -> dict[str, Any]:
    dep = deployment()
    dep["spec"]["template"]["spec"].update(fields)
    return dep


@pytest.mark.parametrize(
    ("dep", "details"),
    [
        pytest.param(
            deployment(selector={"matchLabels": {"app": "web"}, "matchExpressions": 5}),
            ["spec.selector.matchExpressions: Invalid value: 5: must be a list"],
            id="matchExpressions-5",
        ),
        pytest.param(
            deployment(selector={"matchExpressions": [{"key": "app", "operator": "In", "values": 5}]}),
            ["spec.selector.matchExpressions[0].values: Invalid value: 5: must be a list"],
            id="values-5",
        ),
        pytest.param(
            deployment(selector={"matchExpressions": [{"key": "app", "operator": "In"}]}),
            [
                "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is "
                "'In' or 'NotIn'"
            ],
            id="In-without-values",
        ),
        pytest.param(
            deployment(
                selector={
                    "matchLabels": {"app": "web"},
                    "matchExpressions": [{"key": "app", "operator": "Exists", "values": ["web"]}],
                }
            ),
            [
                "spec.selector.matchExpressions[0].values: Forbidden: may not be specified when `operator` is "
                "'Exists' or 'DoesNotExist'"
            ],
            id="Exists-with-values",
        ),
        pytest.param(
            deployment(selector={"matchExpressions": [{"key": "app", "operator": "Equals", "values": ["web"]}]}),
            ['spec.selector.matchExpressions[0].operator: Invalid value: "Equals": not a valid selector operator'],
            id="unknown-operator",
        ),
        pytest.param(
            with_pod_spec(containers=[{"name": "c", "image": "i", "ports": 5}]),
            ["spec.template.spec.containers[0].ports: Invalid value: 5: must be a list"],
            id="container-ports-5",
        ),
        pytest.param(
            with_pod_spec(containers=5),
            ["spec.template.spec.containers: Invalid value: 5: must be a list"],
            id="containers-5",
        ),
        pytest.param(
            with_pod_spec(containers=[{"name": "c", "image": "i", "ports": [{"containerPort": 80, "name": "HTTP"}]}]),
            [  # one error per rule IsValidPortName breaks, as ValidatePodSpec reports them
                'spec.template.spec.containers[0].ports[0].name: Invalid value: "HTTP": must contain only '
                "alpha-numeric characters (a-z, 0-9), and hyphens (-)",
                'spec.template.spec.containers[0].ports[0].name: Invalid value: "HTTP": must contain at least one '
                "letter (a-z)",
            ],
            id="container-port-name",
        ),
        pytest.param(
            with_pod_spec(
                containers=[{"name": "c", "image": "i", "ports": [{"containerPort": 80, "protocol": "tcp"}]}]
            ),
            [
                'spec.template.spec.containers[0].ports[0].protocol: Unsupported value: "tcp": supported values: '
                '"SCTP", "TCP", "UDP"'
            ],
            id="container-port-protocol",
        ),
        pytest.param(
            with_pod_spec(nodeName="Node_1"),
            [f'spec.template.spec.nodeName: Invalid value: "Node_1": {sim.kube.validation.DNS1123_MSG}'],
            id="nodeName",
        ),
    ],
)
def test_wrong_nested_deployment_fields_are_refused_with_kubernetes_wording(tmp_path, dep, details):
    path = write(tmp_path, service(), dep)
    assert problems(path) == [deployment_error(path, d) for d in details]


@pytest.mark.parametrize(
    ("svc", "details"),
    [
        pytest.param(
            service(sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": 5}),
            ["spec.sessionAffinityConfig.clientIP: Invalid value: 5: must be a mapping"],
            id="affinity-clientIP-5",
        ),
        pytest.param(
            service(externalIPs=["x"]),
            ['spec.externalIPs[0]: Invalid value: "x": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'],
            id="externalIPs",
        ),
        pytest.param(
            service(type="ExternalName", ports=[], selector=None),
            ["spec.externalName: Required value"],
            id="externalName-required",
        ),
        pytest.param(
            {**service(type="LoadBalancer"), "status": {"loadBalancer": {"ingress": 5}}},
            ["status.loadBalancer.ingress: Invalid value: 5: must be a list"],
            id="status-ingress",
        ),
        pytest.param(
            {**service(), "metadata": {"name": "a" * 64}},
            [f'metadata.name: Invalid value: "{"a" * 64}": must be no more than 63 characters'],
            id="name-too-long",
        ),
    ],
)
def test_wrong_nested_service_fields_are_refused_with_kubernetes_wording(tmp_path, svc, details):
    path = write(tmp_path, svc, deployment())
    name = svc["metadata"]["name"]
    assert problems(path) == [service_error(path, d, name=name) for d in details]


@pytest.mark.parametrize(
    ("content", "where", "message"),
    [
        pytest.param(
            b"\xff\xfeapiVersion: v1\n", "", "cannot read file: not UTF-8 text (byte 0xff at offset 0)", id="utf-16"
        ),
        pytest.param(
            b"kind: Service\nname: caf\xe9\n",
            "",
            "cannot read file: not UTF-8 text (byte 0xe9 at offset 23)",
            id="latin-1",
        ),
        pytest.param(
            b"kind: Service\n\x00\x01\x02",
            "line 2, column 1: ",
            "YAML syntax error: unacceptable character #x0000: special characters are not allowed",
            id="binary",
        ),
    ],
)
def test_a_file_that_is_not_utf8_text_is_one_clean_error(tmp_path, content, where, message):
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    assert problems(path) == [f"{path}: {where}{message}"]


def test_utf8_byte_order_mark_is_accepted(tmp_path):
    path = write(tmp_path, service(), deployment())
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert sim.load_scenario(path).service("web").name == "web"


@pytest.mark.parametrize(
    ("text", "where", "key", "first"),
    [
        pytest.param(
            GUIDE.read_text().replace("  warmup: 10s\n", "  warmup: 10s\n  duration: 1h\n"),
            "document 3, line 46, column 3",
            "duration",
            44,
            id="simulation",
        ),
        pytest.param(
            GUIDE.read_text().replace("  type: NodePort\n", "  type: NodePort\n  type: ClusterIP\n"),
            "document 1, line 9, column 3",
            "type",
            8,
            id="service",
        ),
        pytest.param(
            GUIDE.read_text().replace("      app: myapp\n  template", "      app: myapp\n      app: other\n  template"),
            "document 2, line 27, column 7",
            "app",
            26,
            id="nested",
        ),
    ],
)
def test_duplicate_keys_are_refused_with_line_and_column(tmp_path, text, where, key, first):
    """kubectl's strict decoder refuses them; PyYAML alone would keep the last one silently."""
    path = tmp_path / "dup.yaml"
    path.write_text(text)
    assert problems(path) == [f'{path}: {where}: YAML error: key "{key}" already set in map (first at line {first})']


def test_merge_keys_may_be_overridden(tmp_path):
    """``<<: *laptop`` then an explicit key is YAML's override, not a duplicate."""
    path = tmp_path / "merge.yaml"
    path.write_text(
        GUIDE.read_text()
        .replace("  clients:\n    - name: laptop\n", "  clients:\n    - &laptop\n      name: laptop\n")
        .replace(
            "      arrival: poisson\n",
            "      arrival: poisson\n    - <<: *laptop\n      name: phone\n      ip: 192.168.1.11\n",
        )
    )
    clients = sim.load_scenario(path).simulation.clients
    assert [(c.name, c.ip, c.rate.to_spec()) for c in clients] == [
        ("laptop", "192.168.1.10", 200),
        ("phone", "192.168.1.11", 200),
    ]


@pytest.mark.parametrize(
    ("old", "new", "detail"),
    [
        pytest.param(
            "rate: 200",
            "rate: 1e12",
            "spec.clients[0].rate: Invalid value: '1e12': must be a finite number > 0 "
            "(write 1.0e+12: YAML 1.1 reads 1e12 as text)",
            id="rate-1e12",
        ),
        pytest.param(
            "rate: 200",
            "rate: 2.5e2",
            "spec.clients[0].rate: Invalid value: '2.5e2': must be a finite number > 0 "
            "(write 2.5e+2: YAML 1.1 reads 2.5e2 as text)",
            id="rate-unsigned-exponent",
        ),
        pytest.param(
            "rate: 200",
            'rate: "200"',
            "spec.clients[0].rate: Invalid value: '200': must be a finite number > 0 "
            "(write 200 without quotes: a quoted number is text)",
            id="rate-quoted",
        ),
        pytest.param(
            "concurrency: 1",
            "concurrency: 1e3",
            "spec.workloads.myapp.concurrency: Invalid value: '1e3': must be an integer >= 1 "
            "(write 1000: YAML 1.1 reads 1e3 as text)",
            id="integer-field",
        ),
        pytest.param(
            "duration: 300s",
            "duration: 3e2",
            "spec.duration: expected a duration such as 10ms, 2s or 5m, got '3e2' "
            "(write 3.0e+2: YAML 1.1 reads 3e2 as text)",
            id="bare-duration",
        ),
        pytest.param(
            "serviceTime: {distribution: exponential, mean: 10ms}",
            "serviceTime: {distribution: lognormal, mean: 10ms, cv: 5e-1}",
            "spec.workloads.myapp.serviceTime.cv: Invalid value: '5e-1': must be a number between 0.01 and 100, "
            "inclusive (write 5.0e-1: YAML 1.1 reads 5e-1 as text)",
            id="cv",
        ),
    ],
)
def test_numbers_yaml_reads_as_text_get_a_hint(tmp_path, old, new, detail):
    """PyYAML follows YAML 1.1: ``1e12`` is a string there, though JSON and YAML 1.2 read a number."""
    text = GUIDE.read_text()
    assert old in text
    path = tmp_path / "hint.yaml"
    path.write_text(text.replace(old, new))
    line = next(i for i, t in enumerate(text.splitlines(), start=1) if t == "kind: Simulation") - 1
    assert problems(path) == [f'{path}: document 3 (Simulation "nodeport-basic", line {line}): {detail}']


@pytest.mark.parametrize(
    ("name", "details"),
    [
        pytest.param("Node_1", [f'Invalid value: "Node_1": {sim.kube.validation.DNS1123_MSG}'], id="underscore"),
        pytest.param("-node", [f'Invalid value: "-node": {sim.kube.validation.DNS1123_MSG}'], id="leading-hyphen"),
        pytest.param("node.", [f'Invalid value: "node.": {sim.kube.validation.DNS1123_MSG}'], id="trailing-dot"),
        pytest.param("a" * 254, [f'Invalid value: "{"a" * 254}": must be no more than 253 characters'], id="254-chars"),
        pytest.param("", ["Required value"], id="empty"),
        pytest.param(5, ["Invalid value: 5: must be a string"], id="number"),
    ],
)
def test_node_names_follow_kubernetes_node_name_rules(tmp_path, name, details):
    doc = web_simulation(cluster={"nodes": [{"name": "ok"}, {"name": name}]})
    path = write(tmp_path, service(), deployment(), doc)
    assert problems(path) == [sim_error(path, f"spec.cluster.nodes[1].name: {d}") for d in details]


@pytest.mark.parametrize("name", ["node-1", "worker.eu-west.example.com", "a" * 253, "1"])
def test_valid_node_names_are_accepted(tmp_path, name):
    doc = web_simulation(cluster={"nodes": [{"name": name}]})
    assert sim.load_scenario(write(tmp_path, service(), deployment(), doc)).simulation.cluster.nodes[0].name == name


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        pytest.param({"name": 5}, "spec.clients[0].name: Invalid value: 5: must be a non-empty string", id="number"),
        pytest.param({"name": ""}, "spec.clients[0].name: Invalid value: '': must be a non-empty string", id="empty"),
        pytest.param(
            {"name": None}, "spec.clients[0].name: Invalid value: None: must be a non-empty string", id="null"
        ),
        pytest.param(
            {"name": ["a"]}, "spec.clients[0].name: Invalid value: ['a']: must be a non-empty string", id="list"
        ),
        pytest.param(
            {"target": {"service": 5}},
            "spec.clients[0].target.service: Invalid value: 5: must be a non-empty string",
            id="target-service",
        ),
        pytest.param(
            {"target": {"service": "web", "port": [80]}},
            "spec.clients[0].target.port: Invalid value: [80]: must be a port number (1-65535) or a port name",
            id="target-port",
        ),
    ],
)
def test_client_names_and_references_must_be_strings(tmp_path, fields, detail):
    path = write(tmp_path, service(), deployment(), web_simulation(clients=[client(**fields)]))
    assert problems(path) == [sim_error(path, detail)]


# --- nodes as Kubernetes labels them -----------------------------------------------------------


def test_nodes_carry_the_well_known_labels_under_the_users_labels(tmp_path):
    nodes = [{"name": "a"}, {"name": "b", "labels": {"disk": "ssd", "kubernetes.io/arch": "arm64"}}]
    scenario = sim.load_scenario(write(tmp_path, service(), deployment(), web_simulation(cluster={"nodes": nodes})))
    assert [n.labels for n in scenario.simulation.cluster.nodes] == [
        {"kubernetes.io/arch": "amd64", "kubernetes.io/hostname": "a", "kubernetes.io/os": "linux"},
        {"kubernetes.io/arch": "arm64", "kubernetes.io/hostname": "b", "kubernetes.io/os": "linux", "disk": "ssd"},
    ]
    assert scenario.warnings == ()


@pytest.mark.parametrize(
    ("selector", "nodes"),
    [
        pytest.param({"kubernetes.io/os": "linux"}, {"node-1", "node-2"}, id="os"),
        pytest.param({"kubernetes.io/hostname": "node-2"}, {"node-2"}, id="hostname"),
        pytest.param({"kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux"}, {"node-1", "node-2"}, id="both"),
    ],
)
def test_a_pasted_node_selector_on_well_known_labels_schedules(tmp_path, selector, nodes):
    dep = with_pod_spec(nodeSelector=selector)
    dep["spec"]["replicas"] = 4
    scenario = sim.load_scenario(write(tmp_path, service(), dep))
    assert scenario.warnings == ()
    pods = sim.simulate(scenario).pods
    assert set(pods["node"]) == nodes


@pytest.mark.parametrize(
    ("pod_spec", "warning"),
    [
        pytest.param(
            {"nodeSelector": {"disk": "nvme"}},
            'spec.template.spec.nodeSelector: no node has the labels map[string]string{"disk":"nvme"}: its pods '
            "stay Pending (0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.)",
            id="nodeSelector",
        ),
        pytest.param(
            {"nodeName": "node-9"},
            'spec.template.spec.nodeName: no node named "node-9" (nodes: node-1, node-2): its pods stay Pending',
            id="nodeName",
        ),
    ],
)
def test_a_deployment_that_fits_no_node_is_a_warning(tmp_path, pod_spec, warning):
    path = write(tmp_path, service(), with_pod_spec(**pod_spec))
    scenario = sim.load_scenario(path)
    assert scenario.warnings == (f'{path}: document 2 (line {doc_line(path, 2)}): Deployment "web": {warning}',)
    assert sim.simulate(scenario).pods["node"].isna().all()


HUGE = 10**400  # YAML reads it as a Python int that no float can hold


@pytest.mark.parametrize(
    ("docs", "detail"),
    [
        pytest.param(
            lambda: (service(), deployment(), web_simulation(clients=[client(rate=HUGE)])),
            "spec.clients[0].rate: Invalid value: 1.00e+400: must be a finite number > 0",
            id="rate",
        ),
        pytest.param(
            lambda: (service(), deployment(), web_simulation(duration=HUGE)),
            "spec.duration: must be a finite duration >= 0, got a number with 401 digits",
            id="duration",
        ),
        pytest.param(
            lambda: (service(), deployment(), simulation(workloads={"web": {"serviceTime": HUGE}})),
            "spec.workloads.web.serviceTime: must be a finite duration >= 0, got a number with 401 digits",
            id="service-time",
        ),
        pytest.param(
            lambda: (
                service(),
                deployment(),
                web_simulation(workloads={"web": {"serviceTime": "1ms", "concurrency": HUGE}}),
            ),
            "spec.workloads.web.concurrency: Invalid value: 1.00e+400: must be less than or equal to 100000 "
            "(svcsim keeps a slot per worker)",
            id="concurrency",
        ),
    ],
)
def test_a_number_too_large_for_a_float_is_an_error(tmp_path, docs, detail):
    path = write(tmp_path, *docs())
    assert problems(path) == [sim_error(path, detail)]


def test_huge_termination_grace_period_is_refused(tmp_path):
    path = write(tmp_path, service(), with_pod_spec(terminationGracePeriodSeconds=HUGE))
    assert problems(path) == [
        deployment_error(
            path,
            f"spec.template.spec.terminationGracePeriodSeconds: Invalid value: {HUGE}: must be greater than or equal "
            "to 0",
        )
    ]


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        pytest.param(
            "a: 1" + "0" * 5000 + "\n",
            "document 1, line 1, column 4",
            "a: Invalid value: a number with 5001 digits: svcsim reads integers of at most 640 digits",
            id="5000-digit-number",
        ),
        pytest.param(
            "a: 2024-13-45\n",
            "document 1, line 1",
            "YAML error: cannot read a value: month must be in 1..12",
            id="impossible-date",
        ),
        pytest.param(
            "a: &a [*a]\n", "document 1, line 1", "YAML error: an anchor's value contains itself", id="recursive-alias"
        ),
        pytest.param(
            "a: &a [x,x,x,x,x,x,x,x,x]\n"
            + "".join(f"{c}: &{c} [{','.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)),
            "document 1, line 1",
            "YAML error: document contains excessive aliasing",
            id="billion-laughs",
        ),
        pytest.param(
            "a: " + "[" * 3000 + "]" * 3000 + "\n",
            "document 1",
            "YAML error: nested too deeply to read",
            id="deep-nesting",
        ),
    ],
)
def test_yaml_that_python_cannot_hold_is_one_clean_error(tmp_path, text, where, message):
    path = tmp_path / "odd.yaml"
    path.write_text(text)
    assert problems(path) == [f"{path}: {where}: {message}"]
