"""A client or a call aimed at a Service with several ports must say which one, as kubectl makes
you choose; with one port, or a port given, nothing changes."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from scenario_text import scenario_yaml

import sim
from sim.cli import main

TWO_PORTS = [{"name": "http", "port": 80, "targetPort": 80}, {"name": "metrics", "port": 9090, "targetPort": 9090}]


def two_port_scenario(client_port: Any = None, call_port: Any = "absent") -> str:
    """web-svc with ports http 80 and metrics 9090; optionally web calls web-svc too."""
    docs = list(yaml.safe_load_all(scenario_yaml(duration=2)))
    docs[0]["spec"]["ports"] = TWO_PORTS
    target = docs[2]["spec"]["clients"][0]["target"]
    if client_port is not None:
        target["port"] = client_port
    if call_port != "absent":
        call: dict[str, Any] = {"service": "web-svc", "timeout": "1s"}
        if call_port is not None:
            call["port"] = call_port
        docs[2]["spec"]["workloads"]["web"]["calls"] = [call]
    return yaml.safe_dump_all(docs, sort_keys=False)


def test_a_client_without_port_to_a_two_port_service_is_one_error_listing_the_ports(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text(two_port_scenario())
    assert main(["validate", str(path)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: {path}: document 3 (")
    assert line.endswith(
        'spec.clients[0].target.port: Required value: Service "web-svc" has 2 ports (http 80/TCP, '
        "metrics 9090/TCP): choose one by number or name"
    )


def test_a_call_without_port_to_a_two_port_service_is_one_error_naming_the_call(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text(two_port_scenario(client_port="http", call_port=None))
    assert main(["validate", str(path)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert 'spec.workloads.web.calls[0].port: Required value: Service "web-svc" has 2 ports' in line


@pytest.mark.parametrize("port", [80, "http", 9090, "metrics"])
def test_naming_the_port_by_number_or_name_is_accepted(port):
    scenario = sim.load_scenario(two_port_scenario(client_port=port, call_port=port))
    assert scenario.simulation.clients[0].target.port == port


def test_one_port_needs_no_choice():
    assert sim.load_scenario(scenario_yaml(duration=2)).simulation.clients[0].target.port is None
