"""The HPA controller on metrics the simulated requests produce (docs/semantics.md,
"HorizontalPodAutoscaler controller" and "Metrics pipeline").

The load is deterministic where it matters: constant arrivals and a constant 10 ms of CPU per
request, so the pods' summed CPU over a scrape window is the rate times 10 ms (kube-proxy's
random choice moves requests between pods, not out of the sum the utilization is made of).
Times are pinned to the second, as the rules give them.
"""

from __future__ import annotations

import math

import pytest

import sim
from sim.results.result import build_result
from sim.runtime.run import RunRecord, run

SCENARIO = """apiVersion: v1
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
  replicas: 4
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: app
          image: app
          ports: [{containerPort: 80}]
          resources: {requests: {cpu: 100m}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 10
  metrics:
    - type: Resource
      resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
BEHAVIOR
---
apiVersion: svcsim/v1alpha1
kind: Simulation
metadata: {name: hpa-step}
spec:
  seed: 5
  duration: DURATION
  cluster: {nodes: 2}
  workloads:
    web: {serviceTime: 10ms, concurrency: 4, startupTime: 5s}
  clients:
    - name: c
      location: node-1
      target: {service: web, via: clusterIP}
      arrival: constant
      rate: {steps: [{at: 0s, rate: 20}, {at: 90s, rate: 28}, {at: 405s, rate: 17}]}
"""


def _run(duration: str = "800s", behavior: str = "") -> RunRecord:
    text = SCENARIO.replace("DURATION", duration).replace("BEHAVIOR", behavior)
    return run(sim.load_scenario(text))


@pytest.fixture(scope="module")
def step() -> RunRecord:
    return _run()


def _rescales(record: RunRecord) -> list[tuple[float, int, int]]:
    return [(r["time"], r["current_replicas"], r["desired_replicas"]) for r in record.hpa if r["rescaled"]]


def test_a_step_rescales_at_the_first_sync_whose_window_shows_it(step: RunRecord) -> None:
    """20 req/s × 10 ms on 4 pods of 100m is 50 %: on target. At 90 s the rate steps to 28: the
    scrape at 90 s still covers [75, 90], the one at 105 s covers [90, 105] at 70 %, so the sync
    at 105 s proposes ceil(1.4 × 4) = 6 (legacy limit max(2 × 4, 4) = 8 does not bite). The rates
    are chosen so that no count sits on a ceiling's edge: per-pod samples are rounded up to a
    millicore, which moves the utilization by up to 1 %."""
    first = _rescales(step)[0]
    assert first == (105.0, 4, 6)
    row = next(r for r in step.hpa_metrics if r["time"] == 105.0)
    assert row["metric"] == "cpu" and row["target"] == 50.0
    assert 69 <= row["current"] <= 71  # int(Σusage × 100 / Σrequest): 0.28 cores of 0.4 requested
    event = next(e for e in step.events if e["reason"] == "SuccessfulRescale")
    assert event["time"] == 105.0 and event["object"] == "horizontalpodautoscaler/web"
    assert event["message"] == "New size: 6; reason: cpu resource utilization (percentage of request) above target"
    before = [r for r in step.hpa if r["time"] < 105.0]
    assert [r["time"] for r in before] == [15.0 * k for k in range(1, 7)]
    assert not any(r["rescaled"] for r in before)


def test_new_pods_missing_or_unready_do_not_push_the_count_further(step: RunRecord) -> None:
    """After the rescale the 2 new pods have no sample until their second scrape; the scale-up
    rule counts them as 0, which brings the ratio to 0.28 / 0.6 / 0.5 = 0.93, within tolerance:
    keep 6; once they have samples, 47 % is within tolerance too."""
    after = [r for r in step.hpa if 105.0 < r["time"] < 405.0]
    assert after and all(r["desired_replicas"] == 6 and not r["rescaled"] for r in after)
    ready = [r for r in step.hpa_metrics if 150.0 <= r["time"] < 405.0]
    assert all(46 <= r["current"] <= 48 for r in ready)


def test_stabilization_holds_the_scale_down_for_300_s(step: RunRecord) -> None:
    """The rate falls to 17 req/s at 405 s (a scrape boundary): from the sync at 420 s the metric
    says ceil(0.28/0.5 × 6) = 4, but the recommendation of 6 made at 405 s holds until it is older
    than the window: upstream drops a recommendation only when it is *before* now − 300 s, so the
    sync at 705 s still counts it and the one at 720 s scales down."""
    rescales = _rescales(step)
    assert rescales[1] == (720.0, 6, 4)
    held = [r for r in step.hpa if 420.0 <= r["time"] < 720.0]
    assert held and all(r["desired_replicas"] == 6 for r in held)
    assert all(r["able_to_scale"] == "True/ScaleDownStabilized" for r in held)
    proposals = [r["proposal"] for r in step.hpa_metrics if 420.0 <= r["time"] < 720.0]
    assert set(proposals) == {4}
    deleted = [e for e in step.events if e["reason"] == "SuccessfulDelete"]
    assert len(deleted) == 2 and all(e["time"] == 720.0 for e in deleted)


def test_a_behavior_window_replaces_the_default_stabilization() -> None:
    """``behavior.scaleDown.stabilizationWindowSeconds: 60``: the scale-down comes 60 s after the
    last high recommendation (405 s), at 465 s. With behaviors upstream keeps a recommendation only
    when it is *after* now − window (stabilizeRecommendationWithBehaviors), where the legacy path
    drops it only when *before*: at exactly the window's edge the two paths differ by one sync."""
    behavior = "  behavior:\n    scaleDown: {stabilizationWindowSeconds: 60}"
    record = _run("600s", behavior)
    assert _rescales(record)[:2] == [(105.0, 4, 6), (465.0, 6, 4)]


def test_results_carry_the_hpa_tables(step: RunRecord) -> None:
    result = build_result(step)
    assert not hasattr(result, "hpa") or len(result.hpa) == len(step.hpa)  # views add the table
    assert math.isfinite(step.hpa_metrics[-1]["current"])


def test_a_node_failure_under_the_hpa_counts_its_pods_as_missing() -> None:
    """node-2 fails at 50 s under the same load (its 2 pods blackholed; the client times out at
    2 s). From the scrape at 60 s its pods have no sample. At 105 s node-1's pods read 70-75 %
    (half the 28 req/s), ratio 1.5, but missing pods count as 0 on the way up: 0.75 / 2 → the
    direction flips and the HPA keeps 4. At 105 s the node turns NotReady, its endpoints leave a
    second later, node-1's pods carry everything and the sync at 120 s scales to 6; the new pods
    go to node-1 (node-2 is tainted). Until the eviction the 2 missing pods hold the count at 6."""
    text = SCENARIO.replace("DURATION", "300s").replace("BEHAVIOR", "")
    text = text.replace("{at: 90s, rate: 28}, {at: 405s, rate: 17}", "{at: 90s, rate: 28}")
    text = text.replace("      rate: {steps:", "      timeout: 2s\n      rate: {steps:")
    text = text.replace("  workloads:", "  events:\n    - {at: 50s, fail: {node: node-2}}\n  workloads:")
    record = run(sim.load_scenario(text))
    by_time = {r["time"]: r for r in record.hpa}
    metric = {r["time"]: r for r in record.hpa_metrics}
    assert all(by_time[t]["desired_replicas"] == 4 for t in (60.0, 75.0, 90.0, 105.0))
    assert metric[105.0]["current"] >= 55  # above the target and its tolerance, yet no scale-up
    assert metric[105.0]["proposal"] == 4
    assert _rescales(record)[0] == (120.0, 4, 6)
    down = [e for e in record.events if e["reason"] == "NodeNotReady" and e["object"] == "node/node-2"]
    assert [e["time"] for e in down] == [105.0]
    placed = [e["message"] for e in record.events if e["reason"] == "Scheduled" and e["time"] == 120.0]
    assert len(placed) == 2 and all(m.endswith(" to node-1") for m in placed)
    assert all(r["desired_replicas"] == 6 for r in record.hpa if r["time"] > 120.0)


@pytest.mark.parametrize(
    ("metric", "first"),
    [
        # 20 req/s over 4 pods is 5 a pod: ratio 5/4 → ceil(1.25 × 4) = 5
        ("{type: Pods, pods: {metric: {name: http_requests_per_second}, target: {type: AverageValue, averageValue: 4}}}", 5),
        # a Service's total 20 against a Value of 12: ceil(20/12 × 4 ready pods) = 7
        (
            "{type: Object, object: {describedObject: {apiVersion: v1, kind: Service, name: web}, "
            "metric: {name: requests_per_second}, target: {type: Value, value: 12}}}",
            7,
        ),
        # an External total (pods labelled app=web) against an AverageValue of 3: ceil(20 / 3) = 7
        (
            "{type: External, external: {metric: {name: requests_per_second, selector: {matchLabels: {app: web}}}, "
            "target: {type: AverageValue, averageValue: 3}}}",
            7,
        ),
    ],
    ids=["pods", "object", "external"],
)
def test_request_rate_metrics_scale_at_the_first_sync(metric: str, first: int) -> None:
    """Constant 20 req/s from t = 0: the first sync (15 s) has two scrapes of each pod's request
    counter, so the rate is there; each source type's formula gives the count (targets chosen
    so that no count sits on a ceiling's edge: the counted rate is 20 give or take a request)."""
    text = SCENARIO.replace("DURATION", "40s").replace("BEHAVIOR", "")
    text = text.replace(
        "    - type: Resource\n      resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}",
        f"    - {metric}",
    )
    record = run(sim.load_scenario(text))
    assert _rescales(record)[0] == (15.0, 4, first)
    row = record.hpa_metrics[0]
    assert row["current"] == pytest.approx(5.0 if "Average" in metric else 20.0, rel=0.05)
