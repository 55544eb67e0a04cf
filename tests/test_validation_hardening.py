"""Input that once crashed svcsim or was accepted where Kubernetes refuses it.

Each test names what it proves; the expected lines are the API server's wording
(docs/semantics.md#service-defaults-and-validation) or svcsim's own for its limits
(docs/semantics.md#svcsims-own-limits), prefixed with the file and the document.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_validation import (
    client,
    deployment,
    deployment_error,
    doc_line,
    problems,
    service,
    service_error,
    sim_error,
    web_simulation,
    with_pod_spec,
    write,
)

import sim
import sim.scenario.load
from sim.cli import main
from sim.kube.validation import DNS1035_MSG, DNS1123_MSG

NAME_RULE = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
    "character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
DNS1123_LABEL_MSG = (  # IsDNS1123Label, the rule for container names
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end "
    "with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
VALUE_RULE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
    "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


def loads(path: Path) -> sim.Scenario:
    return sim.load_scenario(path)


# --- label keys and values ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "details"),
    [
        pytest.param({"-bad": "web"}, [f'Invalid value: "-bad": name part {NAME_RULE}'], id="key-leading-hyphen"),
        pytest.param({"app": "-web"}, [f'Invalid value: "-web": {VALUE_RULE}'], id="value-leading-hyphen"),
        pytest.param(
            {"app": "w" * 64}, [f'Invalid value: "{"w" * 64}": must be no more than 63 characters'], id="value-64"
        ),
        pytest.param(
            {"a" * 64: "web"},
            [f'Invalid value: "{"a" * 64}": name part must be no more than 63 characters'],
            id="key-64",
        ),
        pytest.param(
            {"Example.com/app": "web"},
            [f'Invalid value: "Example.com/app": prefix part {DNS1123_MSG}'],
            id="prefix-uppercase",
        ),
        pytest.param({"/app": "web"}, ['Invalid value: "/app": prefix part must be non-empty'], id="prefix-empty"),
        pytest.param(
            {"a/b/c": "web"},
            [
                f'Invalid value: "a/b/c": a qualified name {NAME_RULE} with an optional DNS subdomain prefix and '
                "'/' (e.g. 'example.com/MyName')"
            ],
            id="two-slashes",
        ),
        pytest.param(
            {"example.com/": "web"},
            [
                'Invalid value: "example.com/": name part must be non-empty',
                f'Invalid value: "example.com/": name part {NAME_RULE}',
            ],
            id="name-empty",
        ),
    ],
)
def test_service_selector_labels_follow_the_api_servers_label_rules(tmp_path, selector, details):
    path = write(tmp_path, service(selector=selector), deployment())
    assert problems(path) == [service_error(path, f"spec.selector: {d}") for d in details]


@pytest.mark.parametrize(
    "labels",
    [
        {"app": ""},
        {"example.com/app": "web"},
        {"app.kubernetes.io/name": "My_App.v2"},
        {"a" * 63: "v" * 63},
        {f"{'p' * 253}/{'n' * 63}": "x"},
    ],
    ids=["empty-value", "prefixed-key", "mixed-case-value", "63-and-63", "longest-key"],
)
def test_valid_labels_are_accepted_everywhere(tmp_path, labels):
    dep = deployment(labels={"app": "web", **labels}, selector={"matchLabels": {"app": "web", **labels}})
    dep["metadata"]["labels"] = labels
    dep["spec"]["template"]["spec"]["nodeSelector"] = labels
    svc = service(selector={"app": "web", **labels})
    doc = web_simulation(cluster={"nodes": [{"name": "n1", "labels": labels}]})
    scenario = loads(write(tmp_path, svc, dep, doc))
    assert scenario.deployments[0].labels == {"app": "web", **labels}


def test_deployment_selector_and_template_label_keys_are_checked_where_the_api_server_checks_them(tmp_path):
    """matchLabels at spec.selector.matchLabels, template labels at spec.template.labels (ValidatePodTemplateSpec)."""
    dep = deployment(labels={"-bad": "x"}, selector={"matchLabels": {"-bad": "x"}})
    path = write(tmp_path, service(), dep)
    assert problems(path) == [
        deployment_error(path, f'spec.selector.matchLabels: Invalid value: "-bad": name part {NAME_RULE}'),
        deployment_error(path, f'spec.template.labels: Invalid value: "-bad": name part {NAME_RULE}'),
    ]


def test_a_bad_template_label_value_is_refused_even_if_the_selector_matches(tmp_path):
    dep = deployment(labels={"app": "web", "tier": "-x"})
    path = write(tmp_path, service(), dep)
    assert problems(path) == [deployment_error(path, f'spec.template.labels: Invalid value: "-x": {VALUE_RULE}')]


@pytest.mark.parametrize(
    ("expression", "details"),
    [
        pytest.param(
            {"key": "-bad", "operator": "Exists"},
            [f'spec.selector.matchExpressions[0].key: Invalid value: "-bad": name part {NAME_RULE}'],
            id="key",
        ),
        pytest.param(
            {"key": "", "operator": "Exists"},
            [
                'spec.selector.matchExpressions[0].key: Invalid value: "": name part must be non-empty',
                f'spec.selector.matchExpressions[0].key: Invalid value: "": name part {NAME_RULE}',
            ],
            id="empty-key",
        ),
        pytest.param(
            {"key": "app", "operator": "In", "values": ["web", "-x"]},
            [f'spec.selector.matchExpressions[0].values[1]: Invalid value: "-x": {VALUE_RULE}'],
            id="value",
        ),
    ],
)
def test_match_expressions_keys_and_values_follow_the_label_rules(tmp_path, expression, details):
    dep = deployment(selector={"matchLabels": {"app": "web"}, "matchExpressions": [expression]})
    path = write(tmp_path, service(), dep)
    assert problems(path) == [deployment_error(path, d) for d in details]


def test_node_selector_and_object_labels_follow_the_label_rules(tmp_path):
    dep = with_pod_spec(nodeSelector={"disk": "-ssd"})
    dep["metadata"]["labels"] = {"-team": "a"}
    svc = service()
    svc["metadata"]["labels"] = {"team": "a b"}
    path = write(tmp_path, svc, dep)
    assert problems(path) == [
        service_error(path, f'metadata.labels: Invalid value: "a b": {VALUE_RULE}'),
        deployment_error(path, f'metadata.labels: Invalid value: "-team": name part {NAME_RULE}'),
        deployment_error(path, f'spec.template.spec.nodeSelector: Invalid value: "-ssd": {VALUE_RULE}'),
    ]


def test_node_labels_in_the_simulation_follow_the_label_rules(tmp_path):
    doc = web_simulation(cluster={"nodes": [{"name": "n1", "labels": {"-zone": "a", "disk": "s s d"}}]})
    path = write(tmp_path, service(), deployment(), doc)
    assert problems(path) == [
        sim_error(path, f'spec.cluster.nodes[0].labels: Invalid value: "-zone": name part {NAME_RULE}'),
        sim_error(path, f'spec.cluster.nodes[0].labels: Invalid value: "s s d": {VALUE_RULE}'),
    ]


# --- containers and names ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pod", "details"),
    [
        pytest.param({"containers": []}, ["spec.template.spec.containers: Required value"], id="empty-list"),
        pytest.param({"containers": None}, ["spec.template.spec.containers: Required value"], id="absent"),
        pytest.param(
            {"containers": [{"image": "nginx"}]},
            ["spec.template.spec.containers[0].name: Required value"],
            id="no-name",
        ),
        pytest.param(
            {"containers": [{"name": "web"}]}, ["spec.template.spec.containers[0].image: Required value"], id="no-image"
        ),
        pytest.param(
            {"containers": [{"name": "", "image": ""}]},
            [
                "spec.template.spec.containers[0].name: Required value",
                "spec.template.spec.containers[0].image: Required value",
            ],
            id="both-empty",
        ),
        pytest.param(
            {"containers": [{"name": "Web", "image": "nginx"}]},
            [f'spec.template.spec.containers[0].name: Invalid value: "Web": {DNS1123_LABEL_MSG}'],
            id="name-uppercase",
        ),
        pytest.param(
            {"containers": [{"name": "web.v2", "image": "nginx"}]},
            ['spec.template.spec.containers[0].name: Invalid value: "web.v2": must not contain dots'],
            id="name-with-dots",
        ),
        pytest.param(
            {"containers": [{"name": "c" * 64, "image": "nginx"}]},
            [f'spec.template.spec.containers[0].name: Invalid value: "{"c" * 64}": must be no more than 63 characters'],
            id="name-64",
        ),
        pytest.param(
            {"containers": [{"name": "web", "image": "a"}, {"name": "web", "image": "b"}]},
            ['spec.template.spec.containers[1].name: Duplicate value: "web"'],
            id="duplicate-name",
        ),
    ],
)
def test_a_pod_template_needs_named_containers_with_images(tmp_path, pod, details):
    dep = deployment()
    if pod["containers"] is None:
        del dep["spec"]["template"]["spec"]["containers"]
    else:
        dep["spec"]["template"]["spec"].update(pod)
    path = write(tmp_path, service(), dep)
    assert problems(path) == [deployment_error(path, d) for d in details]


@pytest.mark.parametrize(
    ("kind", "name", "detail"),
    [
        pytest.param("Service", "web.v2", f'metadata.name: Invalid value: "web.v2": {DNS1035_MSG}', id="svc-dots"),
        pytest.param("Service", "1web", f'metadata.name: Invalid value: "1web": {DNS1035_MSG}', id="svc-digit"),
        pytest.param("Deployment", "Web", f'metadata.name: Invalid value: "Web": {DNS1123_MSG}', id="dep-upper"),
        pytest.param("Deployment", "web.v2", None, id="dep-dots-ok"),
        pytest.param("Deployment", "1web", None, id="dep-digit-ok"),
    ],
)
def test_services_are_dns_1035_labels_and_deployments_dns_1123_subdomains(tmp_path, kind, name, detail):
    svc = service(name) if kind == "Service" else service()
    dep = deployment(name) if kind == "Deployment" else deployment()
    workloads = {dep["metadata"]["name"]: {"serviceTime": "10ms"}}
    path = write(tmp_path, svc, dep, web_simulation(workloads=workloads))
    if detail is None:
        assert loads(path).deployments[0].name == name
    elif kind == "Service":
        assert problems(path) == [service_error(path, detail, name=name)]
    else:
        assert problems(path) == [deployment_error(path, detail, name=name)]


# --- client source addresses ------------------------------------------------------------------


def nodes_at(*ips: str) -> dict[str, Any]:
    """A cluster whose nodes n1, n2, ... have the given IPs, so that none moves."""
    return {"nodes": [{"name": f"n{i}", "ip": ip} for i, ip in enumerate(ips, start=1)]}


def test_a_client_range_past_255_255_255_255_is_a_one_line_cli_error(tmp_path, capsys):
    """It used to end in AddressValueError's traceback when the run built the client's addresses."""
    doc = web_simulation(clients=[client(ip="255.255.255.250", ips=100)])
    path = write(tmp_path, service(), deployment(), doc)
    out = tmp_path / "out"
    code = main(["run", str(path), "--out", str(out), "--quiet", "--no-plots"])
    captured = capsys.readouterr()
    detail = (
        "spec.clients[0].ips: Invalid value: 100: addresses from 255.255.255.250 would run past 255.255.255.255 "
        "(at most 6 fit)"
    )
    assert (code, captured.out, captured.err) == (2, "", f"error: {sim_error(path, detail)}\n")
    assert not out.exists()


def test_a_client_on_a_node_at_the_top_of_ipv4_cannot_have_addresses_past_it(tmp_path):
    doc = web_simulation(
        cluster={"nodeCIDR": "255.255.255.0/24", **nodes_at("255.255.255.254")},
        clients=[client(location="n1", ips=4)],
    )
    path = write(tmp_path, service(), deployment(), doc)
    assert problems(path) == [
        sim_error(
            path,
            "spec.clients[0].ips: Invalid value: 4: addresses from 255.255.255.254 would run past 255.255.255.255 "
            "(at most 2 fit)",
        )
    ]


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        pytest.param(
            {"ip": "192.168.1.5"},
            'spec.clients[0].ip: Invalid value: "192.168.1.5": already the IP of a node',
            id="ip-is-a-node",
        ),
        pytest.param(
            {"ip": "192.168.1.3", "ips": 5},
            "spec.clients[0].ips: Invalid value: 5: addresses 192.168.1.3-192.168.1.7 include 192.168.1.5, the IP of "
            'node "n2"',
            id="range-includes-a-node",
        ),
        pytest.param(
            {"ip": "10.244.3.7"},
            'spec.clients[0].ip: Invalid value: "10.244.3.7": inside the pod network 10.244.0.0/16 '
            "(spec.cluster.podCIDR)",
            id="ip-in-pod-cidr",
        ),
        pytest.param(
            {"ip": "10.243.255.254", "ips": 4},
            "spec.clients[0].ips: Invalid value: 4: addresses 10.243.255.254-10.244.0.1 reach into the pod network "
            "10.244.0.0/16 (spec.cluster.podCIDR) at 10.244.0.0",
            id="range-into-pod-cidr",
        ),
        pytest.param(
            {"ip": "10.100.0.1"},
            'spec.clients[0].ip: Invalid value: "10.100.0.1": inside the Service network 10.96.0.0/12 '
            "(spec.cluster.serviceCIDR)",
            id="ip-in-service-cidr",
        ),
        pytest.param(
            {"ip": "10.95.255.250", "ips": 10},
            "spec.clients[0].ips: Invalid value: 10: addresses 10.95.255.250-10.96.0.3 reach into the Service "
            "network 10.96.0.0/12 (spec.cluster.serviceCIDR) at 10.96.0.0",
            id="range-into-service-cidr",
        ),
    ],
)
def test_an_external_clients_addresses_belong_to_no_node_pod_or_service(tmp_path, fields, detail):
    doc = web_simulation(cluster=nodes_at("192.168.1.2", "192.168.1.5"), clients=[client(**fields)])
    path = write(tmp_path, service(), deployment(), doc)
    assert problems(path) == [sim_error(path, detail)]


def test_a_client_on_a_node_may_not_send_from_another_nodes_ip(tmp_path):
    doc = web_simulation(cluster={"nodes": 3}, clients=[client(location="node-1", ips=3)])
    path = write(tmp_path, service(), deployment(), doc)
    assert problems(path) == [
        sim_error(
            path,
            "spec.clients[0].ips: Invalid value: 3: addresses 192.168.1.2-192.168.1.4 include 192.168.1.3, the IP of "
            'node "node-2"',
        )
    ]


def test_a_client_on_the_last_node_may_have_further_addresses(tmp_path):
    doc = web_simulation(cluster={"nodes": 3}, clients=[client(location="node-3", ips=3)])
    scenario = loads(write(tmp_path, service(), deployment(), doc))
    assert scenario.simulation.clients[0].ip == "192.168.1.4"


def test_automatic_client_addresses_skip_every_node_in_their_range(tmp_path):
    """The first block of ``ips`` free addresses from .10, not just a free first address."""
    cluster = nodes_at("192.168.1.10", "192.168.1.12")
    doc = web_simulation(cluster=cluster, clients=[client(ips=5), client(name="d", ips=2)])
    scenario = loads(write(tmp_path, service(), deployment(), doc))
    assert [c.ip for c in scenario.simulation.clients] == ["192.168.1.13", "192.168.1.18"]


def test_automatic_node_addresses_skip_a_given_client_range(tmp_path):
    doc = web_simulation(cluster={"nodes": 2}, clients=[client(ip="192.168.1.2", ips=3)])
    scenario = loads(write(tmp_path, service(), deployment(), doc))
    assert [n.ip for n in scenario.simulation.cluster.nodes] == ["192.168.1.5", "192.168.1.6"]


# --- messages -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["", "\n\n", "# just a comment\n", "---\n---\n", "---\n# nothing here\n...\n", "~\n"], ids=repr
)
def test_an_empty_file_is_called_empty(tmp_path, text):
    path = tmp_path / "empty.yaml"
    path.write_text(text)
    assert problems(path) == [
        f"{path}: file is empty (no YAML document, only comments or ---): a scenario needs a Simulation document "
        "(apiVersion: svcsim/v1alpha1, kind: Simulation)"
    ]


def test_a_file_with_documents_but_no_simulation_still_says_so(tmp_path):
    path = tmp_path / "services.yaml"
    path.write_text(yaml.safe_dump(service()))
    assert problems(path) == [f"{path}: no Simulation document (apiVersion: svcsim/v1alpha1, kind: Simulation)"]


HUGE_DIGITS = "1" + "0" * 4999  # Python refuses to read more than 4300 digits by default


@pytest.mark.parametrize(
    ("text", "where", "field", "what"),
    [
        pytest.param(
            f"kind: Simulation\nspec:\n  clients:\n    - name: c\n      rate: {HUGE_DIGITS}\n",
            "document 1, line 5, column 13",
            "spec.clients[0].rate",
            "a number with 5000 digits",
            id="nested-field",
        ),
        pytest.param(
            f"kind: Service\n---\nkind: Service\nspec:\n  ports: [{{port: {HUGE_DIGITS}}}]\n",
            "document 2, line 5, column 18",
            "spec.ports[0].port",
            "a number with 5000 digits",
            id="second-document",
        ),
        pytest.param(
            f"spec:\n  selector:\n    ? {HUGE_DIGITS}\n    : web\n",  # an explicit key: a plain one is 1024 at most
            "document 1, line 3, column 7",
            "spec.selector",
            "a mapping key with 5000 digits",
            id="mapping-key",
        ),
        pytest.param(
            "a: 0x" + "f" * 4000 + "\n", "document 1, line 1, column 4", "a", "a number with 4817 digits", id="hex"
        ),
        pytest.param(
            f"a: {HUGE_DIGITS}:30\n", "document 1, line 1, column 4", "a", "a number with 5002 digits", id="base-60"
        ),
        pytest.param(
            f"a: &n {HUGE_DIGITS}\nb: *n\n",
            "document 1, line 1, column 4",
            "a",
            "a number with 5000 digits",
            id="alias-reported-once",
        ),
    ],
)
def test_an_integer_python_cannot_convert_is_reported_on_its_field(tmp_path, text, where, field, what):
    path = tmp_path / "digits.yaml"
    path.write_text(text)
    detail = f"Invalid value: {what}: svcsim reads integers of at most 640 digits"
    assert problems(path) == [f"{path}: {where}: {field}: {detail}"]


def test_an_integer_of_640_digits_reaches_the_fields_own_check(tmp_path):
    path = write(tmp_path, service(), deployment(), web_simulation(clients=[client(rate=10**639)]))
    assert problems(path) == [
        sim_error(path, "spec.clients[0].rate: Invalid value: 1.00e+639: must be a finite number > 0")
    ]


def test_a_name_longer_than_any_valid_name_is_shortened_in_messages(tmp_path):
    """The API server prints a bad value whole; svcsim prints its first 64 characters and its length."""
    name = "a" * 300
    path = write(tmp_path, service(name), deployment())
    shown = f'"{"a" * 64}"... (300 characters)'
    assert problems(path) == [
        f"{path}: document 1 (line 1): The Service {shown} is invalid: metadata.name: Invalid value: {shown}: "
        "must be no more than 63 characters"
    ]


def test_a_253_character_name_is_shown_whole_as_kubectl_shows_it(tmp_path):
    name = "a" * 253
    doc = web_simulation(cluster={"nodes": [{"name": "ok"}, {"name": name}, {"name": name}]})
    path = write(tmp_path, service(), deployment(), doc)
    assert problems(path) == [sim_error(path, f'spec.cluster.nodes[2].name: Duplicate value: "{name}"')]


def test_names_with_line_breaks_are_quoted_as_go_quotes_them(tmp_path):
    """One problem is one line, whatever characters a name holds (Go's %q escapes them)."""
    doc = web_simulation(
        cluster={"nodes": [{"name": "n\u2028x"}]}, workloads={"web": {"serviceTime": "1ms"}, "a\nb": 5}
    )
    path = write(tmp_path, service("we\nb"), deployment("we\rb"), doc)
    found = problems(path)
    assert all(len(line.splitlines()) == 1 for line in found), found
    assert found[0].startswith(f'{path}: document 1 (line 1): The Service "we\\nb" is invalid: metadata.name: ')
    assert found[1].startswith(f'{path}: document 2 (line {doc_line(path, 2)}): The Deployment "we\\rb" is invalid: ')
    assert f'spec.cluster.nodes[0].name: Invalid value: "n\\u2028x": {DNS1123_MSG}' in found[2]
    assert "spec.workloads.a\\nb: must be a mapping, got 5" in found[3]


# --- bounded reading ------------------------------------------------------------------------------


def test_a_50_mb_file_is_refused_from_its_size_in_well_under_a_second(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_bytes(b"kind: ConfigMap\ndata:\n" + b"  k: v\n" * (50 * 2**20 // 7))
    size = path.stat().st_size
    start = time.perf_counter()
    found = problems(path)
    elapsed = time.perf_counter() - start
    assert found == [f"{path}: file is too large: {size} bytes, more than the 10 MiB (10485760 bytes) svcsim reads"]
    assert elapsed < 0.5


def test_a_file_of_unknown_size_is_read_no_further_than_the_limit(tmp_path):
    if not Path("/dev/zero").exists():
        pytest.skip("needs /dev/zero")
    assert problems(Path("/dev/zero")) == [
        "/dev/zero: file is too large: more than the 10 MiB (10485760 bytes) svcsim reads"
    ]


def test_yaml_text_over_the_limit_is_refused_too():
    with pytest.raises(sim.ScenarioError) as info:
        sim.load_scenario("a: b\n" * (10 * 2**20 // 5 + 1))
    assert [str(p) for p in info.value.problems] == [
        "<string>: file is too large: more than the 10 MiB (10485760 bytes) svcsim reads"
    ]


@pytest.mark.parametrize(("size", "refused"), [(1000, False), (1001, True)])
def test_the_size_limit_is_inclusive(tmp_path, monkeypatch, size, refused):
    """At the limit a file is read, one byte over it is not (a 1000-byte limit stands in for 10 MiB)."""
    monkeypatch.setattr(sim.scenario.load, "MAX_FILE_BYTES", 1000)
    path = tmp_path / "limit.yaml"
    path.write_text("#" * (size - 1) + "\n")
    too_large = f"{path}: file is too large: {size} bytes, more than the 0 MiB (1000 bytes) svcsim reads"
    assert (problems(path)[0] == too_large) is refused


def test_a_billion_laughs_document_is_refused_before_it_is_expanded(tmp_path):
    """Ten levels of ten aliases would be 10**10 values; the parsed nodes are counted instead."""
    levels = "abcdefghijk"
    text = "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{c}: &{c} [{','.join(['*' + p] * 10)}]\n" for p, c in itertools.pairwise(levels)
    )
    path = tmp_path / "lol.yaml"
    path.write_text(text)
    start = time.perf_counter()
    found = problems(path)
    assert time.perf_counter() - start < 0.5
    assert found == [f"{path}: document 1, line 1: YAML error: document contains excessive aliasing"]


def test_aliases_are_bounded_across_the_whole_file_not_per_document(tmp_path):
    """Each document alone expands to 672 610 values, under the limit; two of them are over it."""
    doc = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{c}: &{c} [{','.join(['*' + p] * 9)}]\n" for p, c in zip("abcde", "bcdef", strict=True)
    )
    path = tmp_path / "twice.yaml"
    path.write_text(doc + "---\n" + doc)
    assert problems(path) == [
        f"{path}: document 2, line 8: YAML error: the file holds more than 1000000 values once aliases are "
        "expanded (svcsim's limit)"
    ]
