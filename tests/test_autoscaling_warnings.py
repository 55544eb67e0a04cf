"""Load-time warnings for autoscaling set-ups that are legal but cannot work as meant: pods no
node can take, a ContainerResource metric on a container the pods do not have."""

from __future__ import annotations

from pathlib import Path

import yaml

import sim

ROOT = Path(__file__).resolve().parents[1]


def _scenario(allocatable: dict | None = None, requests: dict | None = None, hpa_metric: dict | None = None):
    docs = list(yaml.safe_load_all((ROOT / "scenarios" / "nodeport-basic.yaml").read_text()))
    for doc in docs:
        if doc["kind"] == "Simulation" and allocatable is not None:
            doc["spec"]["cluster"]["allocatable"] = allocatable
        if doc["kind"] == "Deployment" and requests is not None:
            doc["spec"]["template"]["spec"]["containers"][0]["resources"] = {"requests": requests}
    if hpa_metric is not None:
        ref = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "myapp"}
        docs.append(
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "myapp"},
                "spec": {"scaleTargetRef": ref, "maxReplicas": 5, "metrics": [hpa_metric]},
            }
        )
    return sim.load_scenario(yaml.safe_dump_all(docs, sort_keys=False))


def _pending_warnings(scenario: sim.Scenario) -> list[str]:
    return [w for w in scenario.warnings if "fits no node" in w]


def test_pods_bigger_than_every_node_are_warned_about():
    assert _pending_warnings(_scenario({"cpu": "100m"}, {"cpu": "500m"}))
    assert _pending_warnings(_scenario({"memory": "100Mi"}, {"memory": "1Gi"}))
    assert _pending_warnings(_scenario({"pods": 0}))
    assert not _pending_warnings(_scenario({"cpu": "500m"}, {"cpu": "500m"}))  # exactly fits
    assert not _pending_warnings(_scenario())


def test_a_container_resource_metric_on_a_missing_container_is_warned_about():
    metric = {
        "type": "ContainerResource",
        "containerResource": {
            "name": "cpu",
            "container": "nope",
            "target": {"type": "Utilization", "averageUtilization": 60},
        },
    }
    warnings = _scenario(requests={"cpu": "100m"}, hpa_metric=metric).warnings
    assert any('spec.metrics[0].containerResource.container: no container "nope"' in w for w in warnings)
