"""Loading a scenario: Kubernetes' defaults, validation and wording, address resolution.

The expected messages are the API server's own (../shared/KUBERNETES.md), prefixed with
the file and the document, so a user can find the line and compare with ``kubectl apply``.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import sim
from sim.addresses import NodePortAllocator, RangeFull, node_pod_cidr
from sim.kubectl import format_table, service_rows

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
    """The example of KUBERNETES.md: the second Service asking for 30080 is refused."""
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
    assert problems(empty) == [f"{empty}: no Simulation document (apiVersion: svcsim/v1alpha1, kind: Simulation)"]


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
