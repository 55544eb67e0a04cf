"""Review of the HPA controller's glue against upstream (issue 11): cases the first cut got
wrong, each test failing before its fix (docs/semantics.md, "HorizontalPodAutoscaler
controller" and "Metrics pipeline")."""

from __future__ import annotations

import math

import sim
from sim.runtime.run import RunRecord, run

BASE = """apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 80}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: REPLICAS
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: app
          image: app
          ports: [{containerPort: 80}]
          RESOURCES
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: MIN
  maxReplicas: 10
  metrics:
METRICS
---
apiVersion: svcsim/v1alpha1
kind: Simulation
metadata: {name: review}
spec:
  seed: 3
  duration: DURATION
  cluster: {nodes: 2}
  workloads:
    web: {serviceTime: 10ms, concurrency: 4, startupTime: 5s WORKLOAD}
  clients:
    - name: c
      location: node-1
      target: {service: web, via: clusterIP}
      arrival: constant
      rate: 20
"""

CPU = """    - type: Resource
      resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}"""


def _run(
    replicas: int = 4,
    min_replicas: int = 2,
    resources: str = "resources: {requests: {cpu: 100m}}",
    metrics: str = CPU,
    duration: str = "60s",
    workload: str = "",
) -> RunRecord:
    text = (
        BASE.replace("REPLICAS", str(replicas))
        .replace("MIN", str(min_replicas))
        .replace("RESOURCES", resources)
        .replace("METRICS", metrics)
        .replace("DURATION", duration)
        .replace("WORKLOAD", workload)
    )
    return run(sim.load_scenario(text))


def _hpa_events(record: RunRecord) -> list[tuple[float, str, str]]:
    return [
        (e["time"], e["reason"], e["message"]) for e in record.events if e["object"] == "horizontalpodautoscaler/web"
    ]


def test_below_min_rescales_to_min_without_reading_metrics() -> None:
    """reconcileAutoscaler goes straight to minReplicas when the count is below it, without
    computeReplicasForMetrics: pods lacking the cpu request give no FailedGetResourceMetric
    warning at that sync, and the status has no current value (kubectl: <unknown>). Before the
    fix the controller read the metrics at every sync and warned "missing request"."""
    record = _run(replicas=1, min_replicas=3, resources="", duration="20s")
    first = record.hpa[0]
    assert (first["time"], first["current_replicas"], first["desired_replicas"]) == (15.0, 1, 3)
    assert first["reason"] == "Current number of replicas below Spec.MinReplicas"
    assert _hpa_events(record) == [
        (15.0, "SuccessfulRescale", "New size: 3; reason: Current number of replicas below Spec.MinReplicas")
    ]
    row = record.hpa_metrics[0]
    assert row["time"] == 15.0 and math.isnan(row["current"]) and row["proposal"] == -1


def test_zero_replicas_disable_scaling_without_metric_warnings() -> None:
    """A Deployment at 0 replicas under an HPA with minReplicas 1: ScalingDisabled, nothing read,
    no warning (before the fix: FailedGetResourceMetric at the first sync)."""
    record = _run(replicas=0, min_replicas=1, duration="35s")
    assert [r["scaling_active"] for r in record.hpa] == ["False/ScalingDisabled"] * 2
    assert not any(r["rescaled"] for r in record.hpa)
    assert _hpa_events(record) == []


SIDECAR = """resources: {requests: {cpu: 100m}}
        - name: side
          image: side
          resources: {requests: {cpu: 100m}}"""


def _container_metric(container: str) -> str:
    return f"""    - type: ContainerResource
      containerResource:
        name: cpu
        container: {container}
        target: {{type: Utilization, averageUtilization: 50}}"""


def test_a_container_resource_metric_reads_that_containers_usage() -> None:
    """20 req/s × 10 ms on 4 pods is 0.2 cores, all the app's (svcsim's usage is the first
    container's). The app container's utilization is 0.2 / 0.4 = 50 % of its own request; the
    sidecar's is 0 %. Before the fix both read the pod's whole usage (50 %)."""
    app = _run(resources=SIDECAR, metrics=_container_metric("app"), duration="50s")
    side = _run(resources=SIDECAR, metrics=_container_metric("side"), duration="50s")
    app_row, side_row = app.hpa_metrics[1], side.hpa_metrics[1]
    assert app_row["time"] == side_row["time"] == 30.0
    assert 48 <= app_row["current"] <= 51
    assert side_row["current"] == 0.0


def test_a_container_resource_metric_of_an_unknown_container_fails_in_upstream_words() -> None:
    record = _run(metrics=_container_metric("nope"), duration="20s")
    (warning,) = [e for e in _hpa_events(record) if e[1] == "FailedGetContainerResourceMetric"]
    assert warning[2].startswith(
        "failed to get cpu utilization: unable to get metrics for resource cpu: failed to get container "
        "metrics: container nope not present in metrics for pod default/web-"
    )


def test_a_missing_request_names_the_container_as_upstream_does() -> None:
    """calculatePodRequests: "missing request for cpu in container side of Pod web-…"."""
    sidecar = "resources: {requests: {cpu: 100m}}\n        - {name: side, image: side}"
    record = _run(resources=sidecar, duration="20s")
    (warning,) = [e for e in _hpa_events(record) if e[1] == "FailedGetResourceMetric"]
    assert warning[2].startswith("failed to get cpu utilization: missing request for cpu in container side of Pod web-")


SURGE = "{rollingUpdate: {maxSurge: 4, maxUnavailable: 0}}"


def test_surge_pods_of_a_rollout_ratchet_the_count_up_as_in_kubernetes() -> None:
    """Kubernetes issues 72775 / 90461: during a rolling update the replica calculator counts
    every Ready pod with a sample, surge pods included, against spec.replicas. 21 req/s × 10 ms
    on 4 pods of 100m is 52 % of a 50 % target (within tolerance). A rollout at 100 s surges 4
    new pods that minReadySeconds 60 keeps next to the old ones; at the sync at 135 s all 8 have
    samples (the new ones Ready at 105 s, one window before): 26 %, ratio 0.53, and the fast path
    proposes ceil(0.53 × 8) = 5 > 4: a scale-up with the metric below target. Deterministic
    (constant arrivals, constant CPU per request)."""
    text = (
        BASE.replace("REPLICAS", f"4\n  minReadySeconds: 60\n  strategy: {SURGE}")
        .replace("MIN", "2")
        .replace("RESOURCES", "resources: {requests: {cpu: 100m}}")
        .replace("METRICS", CPU)
        .replace("DURATION", "150s")
        .replace("WORKLOAD", "")
        .replace("rate: 20", "rate: 21")
        .replace("  clients:", "  events: [{at: 100s, rollout: {deployment: web}}]\n  clients:")
    )
    record = run(sim.load_scenario(text))
    rescales = [(r["time"], r["current_replicas"], r["desired_replicas"]) for r in record.hpa if r["rescaled"]]
    assert rescales[0] == (135.0, 4, 5)
    reading = next(r for r in record.hpa_metrics if r["time"] == 135.0)
    assert reading["current"] < 50


def test_a_container_resource_metric_of_an_unknown_container_is_warned_about() -> None:
    text = (
        BASE.replace("REPLICAS", "4")
        .replace("MIN", "2")
        .replace("RESOURCES", "resources: {requests: {cpu: 100m}}")
        .replace("METRICS", _container_metric("nope"))
        .replace("DURATION", "20s")
        .replace("WORKLOAD", "")
    )
    warnings = [w for w in sim.load_scenario(text).warnings if "nope" in w]
    assert len(warnings) == 1
    assert warnings[0].endswith(
        "spec.metrics[0].containerResource.container: no container \"nope\" in Deployment web's pods (containers: "
        "app): the HPA will not scale (FailedGetContainerResourceMetric at every sync)"
    )


def test_external_and_container_metric_errors_are_worded_as_compute_replicas_for_metric_does() -> None:
    """horizontal.go wraps an External error as "failed to get NAME external metric value: failed to
    get external metric NAME: …" (Value target) and a ContainerResource one as "failed to get
    CONTAINER container metric value: …"; the per-metric warning carries the calculator's error.
    Before the fix: "failed to get external metric value: unable to get metric …" and "failed to
    get cpu container resource metric value: …". With a 20 s resolution the rate has one scrape
    at the sync at 15 s, so the External metric has no value yet."""
    external = """    - type: External
      external:
        metric: {name: requests_per_second}
        target: {type: Value, value: "10"}"""
    text = (
        BASE.replace("REPLICAS", "4")
        .replace("MIN", "2")
        .replace("RESOURCES", "resources: {requests: {cpu: 100m}}")
        .replace("METRICS", external + "\n" + _container_metric("nope"))
        .replace("DURATION", "16s")
        .replace("WORKLOAD", "")
        .replace("cluster: {nodes: 2}", "cluster: {nodes: 2, metrics: {resolution: 20s}}")
    )
    events = {reason: message for _, reason, message in _hpa_events(run(sim.load_scenario(text)))}
    raw = (
        "unable to get external metric default/requests_per_second/<nil>: no metrics returned from external metrics API"
    )
    assert events["FailedGetExternalMetric"] == raw
    assert events["FailedComputeMetricsReplicas"].startswith(
        "invalid metrics (2 invalid out of 2), first error is: failed to get requests_per_second external metric "
        f"value: failed to get external metric requests_per_second: {raw}"
    )
    assert events["FailedGetContainerResourceMetric"].startswith("failed to get cpu utilization: unable to get")


MEMORY = """    - type: Resource
      resource: {name: memory, target: {type: AverageValue, averageValue: 400Mi}}"""


def test_a_pod_whose_container_never_started_is_pending_to_the_controller() -> None:
    """A pod bound to a node that died before its container could start keeps phase Pending
    (no kubelet ever reported it), so groupPods sets it aside as unready, not missing. node-2
    fails at 5 s (NotReady only after the 50 s grace period, so the scheduler still uses it); a
    scale event at 10 s adds 2 pods, one per node. At the sync at 15 s only the old node-1 pod has
    a working set (100Mi against 400Mi): the old node-2 pod and the new node-1 pod (one scrape
    so far) are missing, counted as the target on a scale-down: (100 + 2 × 400) / 3 = 300Mi,
    ratio 0.75, proposal ceil(0.75 × 3) = 3. Before the fix the new pod on node-2 (it shows
    Running 0/1: it has a readiness probe) counted as missing too: 325Mi over 4 pods, and the
    proposal stayed 4."""
    text = (
        BASE.replace("REPLICAS", "2")
        .replace("MIN", "1")
        .replace(
            "RESOURCES",
            "resources: {requests: {cpu: 100m, memory: 100Mi}}\n"
            "          readinessProbe: {tcpSocket: {port: 80}, periodSeconds: 1}",
        )
        .replace("METRICS", MEMORY)
        .replace("DURATION", "16s")
        .replace("WORKLOAD", ", memory: {base: 100Mi}")
        .replace("rate: 20", "rate: 1")
        .replace(
            "  clients:",
            "  events: [{at: 5s, fail: {node: node-2}}, {at: 10s, scale: {deployment: web, replicas: 4}}]\n  clients:",
        )
    )
    record = run(sim.load_scenario(text))
    nodes = sorted(p.node for p in record.pods)
    assert nodes == [0, 0, 1, 1]  # one old and one new pod on each node
    row = next(r for r in record.hpa_metrics if r["time"] == 15.0)
    assert row["current"] == 100 * 2**20  # the one sample: 100Mi
    assert row["proposal"] == 3
