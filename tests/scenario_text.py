"""Tiny scenarios as YAML text, for the theory and property tests.

``scenario_yaml`` writes one NodePort Service, one Deployment and the Simulation
document, with every knob the tests vary as a keyword; ``scenario`` loads it.
Durations are passed as svcsim duration strings (``"10ms"``) or distribution mappings.
"""

from __future__ import annotations

from typing import Any

import yaml

import sim

SERVICE = "web-svc"
DEPLOYMENT = "web"


def scenario_yaml(
    *,
    nodes: int = 1,
    replicas: int = 1,
    service_time: Any = None,
    concurrency: int = 1,
    workload: dict[str, Any] | None = None,
    startup: str = "0s",
    sync_delay: str = "0s",
    client_to_node: Any = "0ms",
    node_to_node: Any = "0ms",
    clients: list[dict[str, Any]] | None = None,
    rate: float = 10.0,
    arrival: str = "poisson",
    events: list[tuple[float, int]] | None = None,
    duration: float = 10.0,
    warmup: float = 0.0,
    seed: int = 1,
) -> str:
    """YAML for a Service ``web-svc`` selecting Deployment ``web``, and its Simulation.

    ``clients`` defaults to one external client ``c0`` at ``rate`` via nodePort;
    ``events`` are ``(at_seconds, replicas)`` scale events on ``web``; ``workload`` adds
    fields to its workload (``queueLimit``, ``onCancel``, ...).
    """
    if service_time is None:
        service_time = {"distribution": "exponential", "mean": "10ms"}
    if clients is None:
        clients = [{"name": "c0", "rate": rate, "arrival": arrival}]
    full_clients = []
    for c in clients:
        item: dict[str, Any] = {"location": "external", "target": {"service": SERVICE, "via": "nodePort"}}
        item.update(c)
        full_clients.append(item)
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": SERVICE},
        "spec": {"type": "NodePort", "ports": [{"port": 80, "targetPort": 80}], "selector": {"app": DEPLOYMENT}},
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": DEPLOYMENT, "labels": {"app": DEPLOYMENT}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": DEPLOYMENT}},
            "template": {
                "metadata": {"labels": {"app": DEPLOYMENT}},
                "spec": {"containers": [{"name": "app", "image": "nginx", "ports": [{"containerPort": 80}]}]},
            },
        },
    }
    simulation = {
        "apiVersion": "svcsim/v1alpha1",
        "kind": "Simulation",
        "metadata": {"name": "tiny"},
        "spec": {
            "seed": seed,
            "duration": f"{duration!r}s",
            "warmup": f"{warmup!r}s",
            "cluster": {"nodes": nodes, "network": {"clientToNode": client_to_node, "nodeToNode": node_to_node}},
            "kubeProxy": {"mode": "iptables", "syncDelay": sync_delay},
            "workloads": {
                DEPLOYMENT: {
                    "serviceTime": service_time,
                    "concurrency": concurrency,
                    "startupTime": startup,
                    **(workload or {}),
                }
            },
            "clients": full_clients,
            "events": [
                {"at": f"{at!r}s", "scale": {"deployment": DEPLOYMENT, "replicas": n}} for at, n in (events or [])
            ],
        },
    }
    return yaml.safe_dump_all([service, deployment, simulation], sort_keys=False)


def scenario(**kwargs: Any) -> sim.Scenario:
    """:func:`scenario_yaml` loaded with :func:`sim.load_scenario`."""
    return sim.load_scenario(scenario_yaml(**kwargs))
