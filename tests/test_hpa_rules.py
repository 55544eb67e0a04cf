"""The HPA controller's arithmetic against upstream's own test cases
(docs/semantics.md#horizontalpodautoscaler-controller).

Each test names the kubernetes/kubernetes test it mirrors: pkg/controller/podautoscaler/
replica_calculator_test.go (``TestReplicaCalc*``, ``TestGroupPods``) and horizontal_test.go
(``TestScalingWithRules``, ``TestNormalizeDesiredReplicas``,
``TestNormalizeDesiredReplicasWithBehavior``, ``TestStoreScaleEvents``,
``TestNoScaleDownOneMetricInvalid``, ``TestScaleUpOneMetricEmpty``, ``TestScaleUp``,
``TestScaleDown``). Upstream's fixtures, translated:

* upstream tests run with a 2 min CPU initialization period and a 10 s readiness delay
  (``defaultTestingCPUInitializationPeriod``, ``defaultTestingDelayOfInitialReadinessStatus``);
* a pod's start time and Ready transition default to Go's zero time, long before "now"; a "hot"
  pod starts now, a "cool" one 3 min ago; metric samples carry the zero timestamp and a 1 min
  window;
* every pod has two containers each requesting 1.0 CPU and each using the listed level
  (``makePodMetricLevels``), so a pod requests 2000m and uses twice the level.
"""

from __future__ import annotations

import pytest

from sim.kube.hpa import (
    HorizontalPodAutoscaler,
    HPABehavior,
    HPAScalingPolicy,
    HPAScalingRules,
    MetricSpec,
    MetricTarget,
)
from sim.runtime.hpa_replicas import (
    MetricUnavailable,
    PodMetric,
    PodSample,
    Tolerances,
    external_metric_replicas,
    external_per_pod_metric_replicas,
    group_pods,
    milli_value,
    object_metric_replicas,
    object_per_pod_metric_replicas,
    plain_metric_replicas,
    resource_replicas,
)
from sim.runtime.hpa_rules import (
    HPAHistory,
    MetricOutcome,
    Recommendation,
    ScaleEvent,
    calculate_scale_down_limit,
    combine_metrics,
    convert_with_behavior_rate,
    convert_with_rules,
    metric_description,
    propose_or_error,
    reconcile,
    record_scale_event,
    stabilize_legacy,
    stabilize_with_behaviors,
    tolerances_for,
)

NOW = 100_000.0
HOT, COOL = NOW, NOW - 180.0
TEST_INIT_PERIOD_S, TEST_READINESS_DELAY_S = 120.0, 10.0
CPU_UTIL = MetricSpec("Resource", "cpu", MetricTarget("Utilization", average_utilization=30))


def pods(n, readiness=None, phases=None, starts=None, deleting=None):
    """``prepareTestClientSet``: pods test-pod-0 … with the given per-pod overrides."""
    n = max(n, len(phases or ()))
    return [
        PodSample(
            f"test-pod-{i}",
            phase=(phases or ["Running"] * n)[i],
            deleting=(deleting or [False] * n)[i],
            ready=(readiness or "T" * n)[i:i + 1].replace("T", "True").replace("F", "False") or "True",
            start_s=(starts or [0.0] * n)[i],
        )
        for i in range(n)
    ]  # fmt: skip


def cpu_metrics(*levels):
    """``makePodMetricLevels``: two containers at each level."""
    return {f"test-pod-{i}": PodMetric(2 * level, 0.0, 60.0) for i, level in enumerate(levels)}


def cpu_requests(pod_list, cores=(1.0,) * 8):
    return {p.name: 2 * milli_value(cores[i]) for i, p in enumerate(pod_list)}


def calc_cpu(current, target, pod_list, metrics, requests=None):
    return resource_replicas(
        current,
        target,
        "cpu",
        pod_list,
        metrics,
        cpu_requests(pod_list) if requests is None else requests,
        NOW,
        Tolerances(),
        TEST_INIT_PERIOD_S,
        TEST_READINESS_DELAY_S,
    )


# --- replica_calculator_test.go: Resource utilization ------------------------------------------

RESOURCE_CASES = [
    # (upstream test, current, target, pods kwargs, levels, replicas, utilization, raw value)
    ("TestReplicaCalcScaleUp", 3, 30, {}, (300, 500, 700), 5, 50, 2 * 500),
    ("TestReplicaCalcScaleUpUnreadyLessScale", 3, 30, {"readiness": "FTT"}, (300, 500, 700), 4, 60, 2 * 600),
    ("TestReplicaCalcScaleUpHotCpuLessScale", 3, 30, {"starts": [HOT, COOL, COOL]}, (300, 500, 700), 4, 60, 2 * 600),
    ("TestReplicaCalcScaleUpUnreadyNoScale", 3, 30, {"readiness": "TFF"}, (400, 500, 700), 3, 40, 2 * 400),
    ("TestReplicaCalcScaleHotCpuNoScale", 3, 30, {"readiness": "TFF", "starts": [COOL, HOT, HOT]}, (400, 500, 700), 3, 40, 2 * 400),
    ("TestReplicaCalcScaleUpIgnoresFailedPods", 2, 30, {"readiness": "TTFF", "phases": ["Running", "Running", "Failed", "Failed"]}, (500, 700), 4, 60, 2 * 600),
    ("TestReplicaCalcScaleUpIgnoresDeletionPods", 2, 30, {"readiness": "TTFF", "phases": ["Running"] * 4, "deleting": [False, False, True, True]}, (500, 700), 4, 60, 2 * 600),
    ("TestReplicaCalcScaleDown", 5, 50, {}, (100, 300, 500, 250, 250), 3, 28, 2 * 280),
    ("TestReplicaCalcScaleDownExcludeUnreadyPods", 5, 50, {"readiness": "TTTFF"}, (100, 300, 500, 250, 250), 2, 30, 2 * 300),
    ("TestReplicaCalcScaleDownExcludeUnscheduledPods", 5, 50, {"readiness": "TFFFF", "phases": ["Running"] + ["Pending"] * 4}, (100,), 1, 10, 2 * 100),
    ("TestReplicaCalcScaleDownIgnoreHotCpuPods", 5, 50, {"starts": [COOL, COOL, COOL, HOT, HOT]}, (100, 300, 500, 250, 250), 2, 30, 2 * 300),
    ("TestReplicaCalcScaleDownIgnoresFailedPods", 5, 50, {"readiness": "TTTTTFF", "phases": ["Running"] * 5 + ["Failed"] * 2}, (100, 300, 500, 250, 250), 3, 28, 2 * 280),
    ("TestReplicaCalcScaleDownIgnoresDeletionPods", 5, 50, {"readiness": "TTTTTFF", "phases": ["Running"] * 7, "deleting": [False] * 5 + [True] * 2}, (100, 300, 500, 250, 250), 3, 28, 2 * 280),
    ("TestReplicaCalcSuperfluousMetrics", 4, 100, {}, (4000, 9500, 3000, 7000, 3200, 2000), 24, 587, 2 * 5875),
    ("TestReplicaCalcMissingMetrics", 4, 100, {}, (400, 95), 3, 24, 495),
    ("TestReplicaCalcMissingMetricsNoChangeEq", 2, 100, {}, (1000,), 2, 100, 2 * 1000),
    ("TestReplicaCalcMissingMetricsNoChangeGt", 2, 100, {}, (1900,), 2, 190, 2 * 1900),
    ("TestReplicaCalcMissingMetricsNoChangeLt", 2, 100, {}, (600,), 2, 60, 2 * 600),
    ("TestReplicaCalcMissingMetricsUnreadyChange", 3, 50, {"readiness": "FTT"}, (100, 450), 3, 45, 2 * 450),
    ("TestReplicaCalcMissingMetricsHotCpuNoChange", 3, 50, {"starts": [HOT, COOL, COOL]}, (100, 450), 3, 45, 2 * 450),
    ("TestReplicaCalcMissingMetricsUnreadyScaleUp", 3, 50, {"readiness": "FTT"}, (100, 2000), 4, 200, 2 * 2000),
    ("TestReplicaCalcMissingMetricsHotCpuScaleUp", 3, 50, {"readiness": "FTT", "starts": [HOT, COOL, COOL]}, (100, 2000), 4, 200, 2 * 2000),
]  # fmt: skip


@pytest.mark.parametrize(
    "current,target,pod_kwargs,levels,replicas,utilization,raw",
    [case[1:] for case in RESOURCE_CASES],
    ids=[case[0] for case in RESOURCE_CASES],
)
def test_resource_utilization_matches_upstream_case(
    current, target, pod_kwargs, levels, replicas, utilization, raw
):
    pod_list = pods(current, **pod_kwargs)
    got = calc_cpu(current, target, pod_list, cpu_metrics(*levels))
    assert (got.replicas, got.utilization, got.usage) == (replicas, utilization, raw)


def test_tolerance_keeps_replicas_for_a_two_percent_excess():
    """``TestReplicaCalcTolerance``: requests 0.9/1.0/1.1, usage 1010/1030/1020 → 102 % of a
    100 % target, within 0.1: stay at 3."""
    pod_list = pods(3)
    requests = cpu_requests(pod_list, (0.9, 1.0, 1.1))
    got = calc_cpu(3, 100, pod_list, cpu_metrics(1010, 1030, 1020), requests)
    assert (got.replicas, got.utilization, got.usage) == (3, 102, 2 * 1020)


def test_tolerance_band_edges_are_inclusive_and_per_direction():
    """``Tolerances.isWithin`` (derived by hand): 1 − tDown ≤ ratio ≤ 1 + tUp, both ends kept.
    A per-HPA scale-up tolerance of 0 makes a 2 % excess scale 3 pods to ceil(1.02 × 3) = 4."""
    band = Tolerances(scale_down=0.2, scale_up=0.05)
    assert band.is_within(0.8) and band.is_within(1.05)
    assert not band.is_within(0.79) and not band.is_within(1.0501)
    pod_list = pods(3)
    got = resource_replicas(
        3, 100, "cpu", pod_list, cpu_metrics(1020, 1020, 1020), cpu_requests(pod_list), NOW,
        Tolerances(scale_down=0.1, scale_up=0.0),
    )  # fmt: skip
    assert got.replicas == 4


def test_missing_pods_count_as_the_target_when_it_is_above_100_percent():
    """``GetResourceReplicas`` fallback ``max(100, target)`` (derived by hand; the upstream
    case is not in the stored test file): target 200 %, one pod at 50 %, one missing. Ratio 0.25
    is a scale-down; the missing pod counts as 200 % of 2000m = 4000m, so the new utilization is
    (1000 + 4000) × 100 / 4000 = 125 %, ratio 0.625 → ceil(0.625 × 2) = 2 = current."""
    pod_list = pods(2)
    got = calc_cpu(2, 200, pod_list, cpu_metrics(500))
    assert (got.replicas, got.utilization) == (2, 50)
    got = calc_cpu(4, 200, pods(4), cpu_metrics(500))
    # 4 pods, 3 missing: (1000 + 3 × 4000) × 100 / 8000 = 162 % → ratio 0.81 → ceil(3.24) = 4
    assert got.replicas == 4


def test_missing_pods_cannot_turn_a_scale_down_into_a_scale_up():
    """The direction guard of ``GetResourceReplicas`` (derived by hand): target 50 %, one pod at
    40 %, two without samples. Ratio 0.8 says down; counting the missing pods at 100 % of
    request gives (800 + 2000 + 2000) × 100 / 6000 = 80 %, ratio 1.6, which would say up
    (ceil(1.6 × 3) = 5): the direction flips, so the count stays at 3."""
    got = calc_cpu(3, 50, pods(3), cpu_metrics(400))
    assert (got.replicas, got.utilization) == (3, 40)


@pytest.mark.parametrize(
    "metrics,requests,message",
    [
        ({}, None, "did not receive metrics for targeted pods (pods might be unready)"),
        ({"test-pod-0": PodMetric(400)}, {"test-pod-0": None}, "missing request for cpu in Pod test-pod-0"),
        ({"an-older-pod-name": PodMetric(200)}, None, "no metrics returned matched known pods"),
    ],
    ids=["TestReplicaCalcEmptyMetrics", "TestReplicaCalcEmptyCPURequest", "TestReplicaCalcDisjointResourcesMetrics"],
)  # fmt: skip
def test_resource_errors_carry_upstream_text(metrics, requests, message):
    pod_list = pods(1)
    with pytest.raises(MetricUnavailable, match=message.replace("(", r"\(").replace(")", r"\)")):
        calc_cpu(1, 100, pod_list, metrics, requests)


def test_no_pods_is_an_error():
    with pytest.raises(MetricUnavailable, match="no pods returned by selector"):
        calc_cpu(1, 100, [], cpu_metrics(100))


# --- replica_calculator_test.go: Pods, Object and External metrics ----------------------------


def qps(*levels):
    return {f"test-pod-{i}": PodMetric(level) for i, level in enumerate(levels)}


@pytest.mark.parametrize(
    "current,pod_kwargs,levels,target,replicas,usage",
    [
        (3, {}, (20000, 10000, 30000), 15000, 4, 20000),
        (3, {"readiness": "TTF", "starts": [COOL, COOL, HOT]}, (50000, 10000, 30000), 15000, 6, 30000),
        (3, {"readiness": "FTF", "starts": [HOT, COOL, HOT]}, (50000, 15000, 30000), 15000, 7, 31666),
        (5, {}, (12000,) * 5, 20000, 3, 12000),
        (3, {}, (20000, 21000, 21000), 20000, 3, 20666),
        (5, {}, (20000, 19000, 21000), 20000, 5, 20000),
    ],
    ids=[
        "TestReplicaCalcScaleUpCM",
        "TestReplicaCalcScaleUpCMUnreadyHotCpuNoLessScale",
        "TestReplicaCalcScaleUpCMUnreadyHotCpuScaleWouldScaleDown",
        "TestReplicaCalcScaleDownCM",
        "TestReplicaCalcToleranceCM",
        "TestPlainMetricReplicaCalcMissingMetricsNoChangeEq",
    ],
)
def test_pods_metric_matches_upstream_case(current, pod_kwargs, levels, target, replicas, usage):
    """Pods metrics ignore readiness and CPU warm-up: only ``cpu`` has those rules."""
    got = plain_metric_replicas(
        current, target, "", pods(current, **pod_kwargs), qps(*levels), NOW, Tolerances(),
        TEST_INIT_PERIOD_S, TEST_READINESS_DELAY_S,
    )  # fmt: skip
    assert (got.replicas, got.usage) == (replicas, usage)


@pytest.mark.parametrize(
    "current,readiness,usage,target,replicas",
    [(3, "TTT", 20000, 15000, 4), (3, "FTF", 50000, 10000, 5), (5, "TTTTT", 12000, 20000, 3), (3, "TTT", 20666, 20000, 3)],
    ids=["TestReplicaCalcScaleUpCMObject", "TestReplicaCalcScaleUpCMObjectIgnoresUnreadyPods",
         "TestReplicaCalcScaleDownCMObject", "TestReplicaCalcToleranceCMObject"],
)  # fmt: skip
def test_object_value_matches_upstream_case(current, readiness, usage, target, replicas):
    got = object_metric_replicas(current, usage, target, pods(current, readiness=readiness))
    assert (got.replicas, got.usage) == (replicas, usage)


@pytest.mark.parametrize(
    "status,usage,target,replicas,average",
    [(3, 20000, 5000, 4, 6667), (5, 6000, 2000, 3, 1200), (4, 20166, 5000, 4, 5042)],
    ids=["TestReplicaCalcScaleUpCMPerPodObject", "TestReplicaCalcScaleDownPerPodCMObject",
         "TestReplicaCalcTolerancePerPodCMObject"],
)  # fmt: skip
def test_object_average_value_matches_upstream_case(status, usage, target, replicas, average):
    got = object_per_pod_metric_replicas(status, usage, target)
    assert (got.replicas, got.usage) == (replicas, average)


@pytest.mark.parametrize(
    "current,readiness,target,replicas",
    [(3, "FTF", 4400, 2), (5, "TTTTT", 14334, 3), (3, "TTT", 8888, 3)],
    ids=["TestReplicaCalcScaleUpCMExternalIgnoresUnreadyPods", "TestReplicaCalcScaleDownCMExternal",
         "TestReplicaCalcToleranceCMExternal"],
)  # fmt: skip
def test_external_value_matches_upstream_case(current, readiness, target, replicas):
    got = external_metric_replicas(current, [8600], target, pods(current, readiness=readiness))
    assert (got.replicas, got.usage) == (replicas, 8600)


@pytest.mark.parametrize(
    "status,target,replicas,average",
    [(3, 2150, 4, 2867), (5, 2867, 3, 1720), (3, 2900, 3, 2867)],
    ids=["TestReplicaCalcScaleUpPerPodCMExternal", "TestReplicaCalcScaleDownPerPodCMExternal",
         "TestReplicaCalcTolerancePerPodCMExternal"],
)  # fmt: skip
def test_external_average_value_matches_upstream_case(status, target, replicas, average):
    got = external_per_pod_metric_replicas(status, [8600], target)
    assert (got.replicas, got.usage) == (replicas, average)


def test_external_value_from_zero_replicas_is_ceil_of_the_ratio():
    """``getUsageRatioReplicaCount`` with currentReplicas 0 (HPAScaleToZero; derived by hand):
    no tolerance, no pod count: ceil(8600 / 4400) = 2, and 0 usage proposes 0."""
    assert external_metric_replicas(0, [8600], 4400, pods(1)).replicas == 2
    assert external_metric_replicas(0, [0], 4400, pods(1)).replicas == 0


# --- replica_calculator_test.go: TestGroupPods --------------------------------------------------

M = PodMetric(1, NOW, 60.0)
GROUP_CASES = [
    # (case, pod, metric, resource, ready count, unready, missing, ignored)
    ("count in a ready pod - memory", PodSample("bentham", "Succeeded", ready=None, start_s=None), M, "memory", 1, "", "", ""),
    ("unready a pod without ready condition - CPU", PodSample("lucretius", "Succeeded", ready=None, start_s=NOW), PodMetric(1), "cpu", 0, "lucretius", "", ""),
    ("count in a ready pod with fresh metrics during initialization period - CPU", PodSample("bentham", "Succeeded", ready_transition_s=NOW - 30, start_s=NOW - 60), PodMetric(1, NOW, 30), "cpu", 1, "", "", ""),
    ("unready a ready pod without fresh metrics during initialization period - CPU", PodSample("bentham", "Succeeded", ready_transition_s=NOW - 30, start_s=NOW - 60), PodMetric(1, NOW, 60), "cpu", 0, "bentham", "", ""),
    ("unready an unready pod during initialization period - CPU", PodSample("lucretius", "Succeeded", ready="False", ready_transition_s=NOW - 594, start_s=NOW - 600), PodMetric(1), "cpu", 0, "lucretius", "", ""),
    ("count in a ready pod without fresh metrics after initialization period - CPU", PodSample("bentham", "Succeeded", ready_transition_s=NOW - 180, start_s=NOW - 180), PodMetric(1, NOW - 120, 60), "cpu", 1, "", "", ""),
    ("count in an unready pod that was ready after initialization period - CPU", PodSample("lucretius", "Succeeded", ready="False", ready_transition_s=NOW - 540, start_s=NOW - 600), PodMetric(1), "cpu", 1, "", "", ""),
    ("unready pod that has never been ready after initialization period - CPU", PodSample("lucretius", "Succeeded", ready="False", ready_transition_s=NOW - 590, start_s=NOW - 600), PodMetric(1), "cpu", 1, "", "", ""),
    ("a missing pod", PodSample("epicurus", "Succeeded", ready=None, start_s=NOW - 180), None, "cpu", 0, "", "epicurus", ""),
    ("pending pods are unreadied", PodSample("unscheduled", "Pending", ready=None, start_s=None), None, "cpu", 0, "unscheduled", "", ""),
    ("ignore pods with deletion timestamps", PodSample("deleted", "Pending", deleting=True, ready=None), PodMetric(1), "cpu", 0, "", "", "deleted"),
    ("ignore pods in a failed state", PodSample("failed", "Failed", ready=None), PodMetric(1), "cpu", 0, "", "", "failed"),
]  # fmt: skip


@pytest.mark.parametrize(
    "pod,metric,resource,ready,unready,missing,ignored",
    [case[1:] for case in GROUP_CASES],
    ids=[case[0] for case in GROUP_CASES],
)
def test_group_pods_matches_upstream_case(pod, metric, resource, ready, unready, missing, ignored):
    metrics = {} if metric is None else {pod.name: metric}
    got = group_pods([pod], metrics, resource, NOW, TEST_INIT_PERIOD_S, TEST_READINESS_DELAY_S)
    assert got.ready_count == ready
    assert (got.unready, got.missing, got.ignored) == tuple(
        frozenset([s]) if s else frozenset() for s in (unready, missing, ignored)
    )


def test_group_pods_several_pods():
    """``TestGroupPods`` "several pods": a hot pod with no Ready condition is unready, a cool
    Ready one counts, one without a sample is missing."""
    group = [
        PodSample("lucretius", "Succeeded", ready=None, start_s=NOW),
        PodSample("niccolo", "Succeeded", ready_transition_s=NOW - 180, start_s=NOW - 180),
        PodSample("epicurus", "Succeeded", ready=None, start_s=NOW - 180),
    ]
    metrics = {"lucretius": PodMetric(1), "niccolo": PodMetric(1)}
    got = group_pods(group, metrics, "cpu", NOW, TEST_INIT_PERIOD_S, TEST_READINESS_DELAY_S)
    assert (got.ready_count, got.unready, got.missing) == (
        1,
        frozenset({"lucretius"}),
        frozenset({"epicurus"}),
    )


# --- horizontal_test.go: the behavior rate limits (TestScalingWithRules) -----------------------


def rules(pods_=0, pods_period=0, percent=0, percent_period=0, window=0):
    """``generateScalingRules``: a Pods and/or a Percent policy, selectPolicy Max."""
    policies = []
    if pods_:
        policies.append(HPAScalingPolicy("Pods", pods_, pods_period))
    if percent:
        policies.append(HPAScalingPolicy("Percent", percent, percent_period))
    return HPAScalingRules(window, "Max", tuple(policies))


DEFAULT_UP = HPAScalingRules(
    0, "Max", (HPAScalingPolicy("Pods", 4, 15), HPAScalingPolicy("Percent", 100, 15))
)
DEFAULT_DOWN = HPAScalingRules(300, "Max", (HPAScalingPolicy("Percent", 100, 15),))


def uniform_events(changes, period_s):
    """``generateEventsUniformDistribution``: events at the centres of equal segments of the
    last ``period_s`` seconds (Go truncates each offset to whole seconds)."""
    segment = period_s / len(changes)
    return tuple(
        ScaleEvent(c, NOW - int(period_s - segment * (i + 1) + segment / 2))
        for i, c in enumerate(changes)
    )


E159 = uniform_events([1, 5, 9], 120)
SCALING_CASES = [
    # (name, current, desired, min, max, up rules, down rules, up events, down events, replicas, reason)
    ("prenormalized desired replicas within range", 5, 7, 3, 8, None, None, (), (), 7, "DesiredWithinRange"),
    ("prenormalized desired replicas < minReplicas", 3, 1, 2, 8, None, None, (), (), 2, "TooFewReplicas"),
    ("prenormalized desired replicas within range when minReplicas is 0", 1, 0, 0, 10, None, None, (), (), 0, "DesiredWithinRange"),
    ("maxReplicas is the limit because maxReplicas < scaleUpLimit", 20, 1000, 1, 10, None, None, (), (), 10, "TooManyReplicas"),
    ("desired replica count is more than the maximum replica count", 100, 1000, 100, 150, None, None, (), (), 150, "TooManyReplicas"),
    ("scaleUpLimit is the limit because scaleUpLimit < maxReplicas with user policies", 3, 1000, 1, 2000, rules(0, 0, 1, 60), None, (), (), 4, "ScaleUpLimit"),
    ("scaleDownLimit is the limit because scaleDownLimit > minReplicas with user defined policies", 1000, 3, 3, 2000, None, rules(20, 60), (), (), 980, "ScaleDownLimit"),
    ("scaleUp with default behavior", 10, 50, 1, 1000, None, None, (), (), 20, "ScaleUpLimit"),
    ("scaleUp with pods policy larger than percent policy", 10, 500, 1, 1000, rules(100, 60, 100, 60), None, (), (), 110, "ScaleUpLimit"),
    ("scaleUp with percent policy larger than pods policy", 10, 500, 1, 1000, rules(2, 60, 100, 60), None, (), (), 20, "ScaleUpLimit"),
    ("scaleUp with spec MaxReplicas limitation with large pod policy", 10, 50, 1, 1000, rules(100, 60), None, (), (), 50, "DesiredWithinRange"),
    ("scaleUp with pod policy limitation", 10, 50, 1, 1000, rules(30, 60), None, (), (), 40, "ScaleUpLimit"),
    ("scaleUp with percent policy limitation", 10, 50, 1, 1000, rules(0, 0, 200, 60), None, (), (), 30, "ScaleUpLimit"),
    ("scaleDown with percent policy larger than pod policy", 100, 2, 1, 1000, None, rules(20, 60, 1, 60, 300), (), (), 80, "ScaleDownLimit"),
    ("scaleDown with pod policy larger than percent policy", 100, 2, 1, 1000, None, rules(2, 60, 1, 60, 300), (), (), 98, "ScaleDownLimit"),
    ("scaleDown with spec MinReplicas limitation with large pod policy", 10, 0, 1, 1000, None, rules(100, 60, window=300), (), (), 1, "TooFewReplicas"),
    ("scaleDown with spec MinReplicas limitation with large percent policy", 10, 2, 5, 1000, None, rules(0, 0, 100, 60, 300), (), (), 5, "TooFewReplicas"),
    ("scaleDown with pod policy limitation", 10, 2, 1, 1000, None, rules(5, 60, window=300), (), (), 5, "ScaleDownLimit"),
    ("scaleDown with percent policy limitation", 10, 5, 1, 1000, None, rules(0, 0, 50, 60, 300), (), (), 5, "DesiredWithinRange"),
    ("scaleUp with spec MaxReplicas limitation with large pod policy and events", 100, 500, 1, 200, rules(300, 60), None, E159, (), 200, "TooManyReplicas"),
    ("scaleUp with currentReplicas limitation with rate.PeriodSeconds with a lot of recent scale up events", 100, 500, 1, 1000, rules(5, 120), None, E159, (), 100, "ScaleUpLimit"),
    ("scaleUp with pod policy and previous scale up events", 100, 500, 1, 1000, rules(150, 120), None, E159, (), 235, "ScaleUpLimit"),
    ("scaleUp with percent policy and previous scale up events", 100, 500, 1, 1000, rules(0, 0, 200, 120), None, E159, (), 255, "ScaleUpLimit"),
    ("scaleUp with percent policy and previous scale up and down events", 6, 24, 1, 1000, rules(0, 0, 300, 300), None, uniform_events([4], 120), uniform_events([2], 120), 16, "ScaleUpLimit"),
    ("scaleDown with default policy and previous events", 10, 5, 1, 1000, None, None, (), E159, 5, "DesiredWithinRange"),
    ("scaleDown with spec MinReplicas=nil limitation with large pod policy and previous events", 100, 0, 1, 1000, None, rules(115, 120, window=300), (), E159, 1, "TooFewReplicas"),
    ("scaleDown with spec MinReplicas limitation with large pod policy and previous events", 100, 0, 5, 1000, None, rules(130, 120, window=300), (), E159, 5, "TooFewReplicas"),
    ("scaleDown with pod policy limitation and previous events", 100, 2, 1, 1000, None, rules(5, 120, window=300), (), E159, 100, "ScaleDownLimit"),
    ("scaleDown with percent policy limitation and previous events", 100, 0, 1, 1000, None, rules(0, 0, 50, 120, 300), (), uniform_events([2, 4, 6], 120), 56, "ScaleDownLimit"),
    ("scaleDown with percent policy and previous scale up and down events", 10, 1, 1, 1000, None, rules(0, 0, 50, 180), uniform_events([2], 120), uniform_events([4], 120), 6, "ScaleDownLimit"),
    ("scaleDown with previous events preventing further scale down", 100, 0, 1, 1000, None, rules(0, 0, 10, 120, 300), (), uniform_events([10, 10, 10], 120), 100, "ScaleDownLimit"),
    ("scaleDown with with previous events still allowing more scale down", 10, 5, 1, 1000, None, rules(0, 0, 1000, 120, 300), (), uniform_events([10, 10, 10], 120), 5, "DesiredWithinRange"),
    ("check 'outdated' flag for events for one behavior for up", 100, 200, 1, 1000, rules(1000, 60), None, uniform_events([8, 12, 9, 11], 120), (), 200, "DesiredWithinRange"),
    ("check that events were marked 'outdated' for two different policies in the behavior for down", 100, 5, 1, 1000, None, rules(1000, 30, 100, 60, 300), (), uniform_events([8, 12, 9, 11], 120), 5, "DesiredWithinRange"),
]  # fmt: skip


@pytest.mark.parametrize(
    "current,desired,min_r,max_r,up,down,up_events,down_events,replicas,reason",
    [case[1:] for case in SCALING_CASES],
    ids=[case[0] for case in SCALING_CASES],
)
def test_behavior_rate_matches_upstream_case(
    current, desired, min_r, max_r, up, down, up_events, down_events, replicas, reason
):
    behavior = HPABehavior(up or DEFAULT_UP, down or DEFAULT_DOWN)
    history = HPAHistory((), up_events, down_events)
    got = convert_with_behavior_rate(current, desired, min_r, max_r, behavior, history, NOW)
    assert got[:2] == (replicas, reason)


def test_select_policy_min_on_scale_down_takes_the_smallest_change():
    """``TestCalculateScaleDownLimitWithBehaviors``-style case with selectPolicy Min: from 5,
    Pods 2 → 3 and Percent 50 → trunc(2.5) = 2; Min keeps the smaller change, 3."""
    rules_min = HPAScalingRules(
        300, "Min", (HPAScalingPolicy("Pods", 2, 60), HPAScalingPolicy("Percent", 50, 60))
    )
    assert calculate_scale_down_limit(5, (), (), rules_min, NOW) == 3


def test_percent_scale_down_truncates():
    """``calculateScaleDownLimitWithBehaviors`` (derived by hand): Percent 50 from 5 is
    int(5 × 0.5) = 2, not 3; so a wish for 1 stops at 2 (ScaleDownLimit)."""
    behavior = HPABehavior(DEFAULT_UP, rules(0, 0, 50, 60))
    got = convert_with_behavior_rate(5, 1, 1, 10, behavior, HPAHistory(), NOW)
    assert got[:2] == (2, "ScaleDownLimit")


def test_disabled_select_policy_holds_the_count():
    """selectPolicy Disabled (derived by hand): the limit is the current count, so a scale-up
    to 9 from 3 stays at 3 with reason ScaleUpLimit."""
    behavior = HPABehavior(HPAScalingRules(0, "Disabled", DEFAULT_UP.policies), DEFAULT_DOWN)
    got = convert_with_behavior_rate(3, 9, 1, 10, behavior, HPAHistory(), NOW)
    assert got[:2] == (3, "ScaleUpLimit")


# --- horizontal_test.go: the legacy path --------------------------------------------------------


@pytest.mark.parametrize(
    "current,desired,min_r,max_r,expected",
    [
        (3, 1000, 1, 2000, (6, "ScaleUpLimit")),
        (1, 1000, 1, 2000, (4, "ScaleUpLimit")),
        (20, 1000, 1, 10, (10, "TooManyReplicas")),
        (3, 1, 2, 8, (2, "TooFewReplicas")),
        (5, 7, 3, 8, (7, "DesiredWithinRange")),
    ],
)
def test_legacy_limits_clamp_and_double(current, desired, min_r, max_r, expected):
    """``convertDesiredReplicasWithRules`` (derived by hand from ``calculateScaleUpLimit``):
    at most max(2 × current, 4) per sync, then [min, max]."""
    assert convert_with_rules(current, desired, min_r, max_r)[:2] == expected


LEGACY_CASES = [
    # ``TestNormalizeDesiredReplicas``: (name, recommendations (replicas, age s), desired, stabilized, log length)
    ("empty log", [], 5, 5, 1),
    ("stabilize", [(4, 120), (5, 60)], 3, 5, 3),
    ("no stabilize", [(1, 120), (2, 60)], 3, 3, 3),
    ("no stabilize - old recommendations", [(10, 600), (9, 540)], 3, 3, 2),
    ("stabilize - old recommendations", [(10, 600), (4, 60), (5, 120), (9, 540)], 3, 5, 4),
]


@pytest.mark.parametrize(
    "recs,desired,stabilized,length", [c[1:] for c in LEGACY_CASES], ids=[c[0] for c in LEGACY_CASES]
)
def test_legacy_stabilization_matches_upstream_case(recs, desired, stabilized, length):
    history = tuple(Recommendation(r, NOW - age) for r, age in recs)
    got, log = stabilize_legacy(history, desired, NOW, 300.0)
    assert (got, len(log)) == (stabilized, length)


# --- horizontal_test.go: TestNormalizeDesiredReplicasWithBehavior -------------------------------

STABILIZE_CASES = [
    # (name, recs (replicas, age s), current, desired, up window, down window, stabilized, stored)
    ("empty recommendations for scaling down", [], 100, 5, 0, 0, 5, [5]),
    ("simple scale down stabilization", [(4, 120), (5, 60)], 100, 3, 0, 180, 5, [4, 5, 3]),
    ("simple scale up stabilization", [(4, 120), (5, 60)], 1, 7, 300, 0, 4, [4, 5, 7]),
    ("no scale down stabilization", [(1, 120), (2, 60)], 100, 3, 300, 0, 3, [1, 2, 3]),
    ("no scale up stabilization", [(4, 120), (5, 60)], 1, 3, 0, 300, 3, [4, 5, 3]),
    ("no scale down stabilization, reuse recommendation element", [(10, 600), (9, 540)], 100, 3, 0, 0, 3, [10, 3]),
    ("no scale up stabilization, reuse recommendation element", [(10, 600), (9, 540)], 1, 100, 0, 0, 100, [10, 100]),
    ("scale down stabilization, reuse one of obsolete recommendation element", [(10, 600), (4, 60), (5, 120), (9, 540)], 100, 3, 0, 180, 5, [10, 4, 5, 3]),
    ("scale up stabilization, reuse one of obsolete recommendation element", [(10, 6000), (6, 60), (5, 120), (9, 180)], 1, 100, 300, 0, 5, [100, 6, 5, 9]),
    ("scale up and down stabilization, do not scale up when prenormalized rec goes down", [(2, 6000), (3, 180)], 2, 1, 300, 300, 2, None),
    ("scale up and down stabilization, do not scale down when prenormalized rec goes up", [(2, 6000), (1, 180)], 2, 3, 300, 300, 2, None),
]  # fmt: skip


@pytest.mark.parametrize(
    "recs,current,desired,up_w,down_w,stabilized,stored",
    [c[1:] for c in STABILIZE_CASES],
    ids=[c[0] for c in STABILIZE_CASES],
)
def test_behavior_stabilization_matches_upstream_case(
    recs, current, desired, up_w, down_w, stabilized, stored
):
    history = tuple(Recommendation(r, NOW - age) for r, age in recs)
    got, _, _, log = stabilize_with_behaviors(history, current, desired, NOW, up_w, down_w)
    assert got == stabilized
    if stored is not None:
        assert [r.replicas for r in log] == stored


# --- horizontal_test.go: TestStoreScaleEvents ----------------------------------------------------

STORE_CASES = [
    # (name, previous events (change, age s), rules, stored changes (outdated flags))
    ("empty entries with default behavior", [], None, []),
    ("empty entries with two-policy-behavior", [], rules(10, 60, 100, 60), [(5, False)]),
    ("one outdated entry to be kept untouched without behavior", [(7, 61)], None, [(7, False)]),
    ("one outdated entry to be replaced with behavior", [(7, 61)], rules(10, 60, 100, 60), [(5, False)]),
    ("one actual entry to be not touched with behavior", [(7, 58)], rules(10, 60, 100, 60), [(7, False), (5, False)]),
    ("two entries, one of them to be replaced", [(7, 61), (6, 59)], rules(10, 60), [(5, False), (6, False)]),
    ("replace one entry, use policies with different periods", [(8, 29), (6, 59), (7, 61), (9, 61)], rules(10, 60, 100, 30), [(8, False), (6, False), (7, True), (5, False)]),
    ("two entries, both actual", [(7, 58), (6, 59)], rules(10, 120, 100, 30), [(7, False), (6, False), (5, False)]),
]  # fmt: skip


@pytest.mark.parametrize(
    "previous,up_rules,stored", [c[1:] for c in STORE_CASES], ids=[c[0] for c in STORE_CASES]
)
def test_store_scale_events_matches_upstream_case(previous, up_rules, stored):
    events = tuple(ScaleEvent(c, NOW - age) for c, age in previous)
    behavior = None if up_rules is None else HPABehavior(up_rules, DEFAULT_DOWN)
    history = record_scale_event(behavior, HPAHistory(None, events, ()), 10, 15, NOW)
    assert [(e.change, e.outdated) for e in history.scale_up_events] == stored or (
        behavior is None and history.scale_up_events == events
    )


# --- horizontal_test.go: several metrics and one sync --------------------------------------------


def cpu_outcome(spec, current, target, levels):
    pod_list = pods(current)
    return propose_or_error(
        spec, lambda: calc_cpu(current, target, pod_list, cpu_metrics(*levels))
    )


def test_one_invalid_metric_blocks_a_scale_down():
    """``TestNoScaleDownOneMetricInvalid``: CPU alone would go 5 → 3, but an invalid metric
    forbids scaling down: no proposal, ScalingActive False with the failure's reason."""
    cpu = MetricSpec("Resource", "cpu", MetricTarget("Utilization", average_utilization=50))
    bad = MetricSpec("CheddarCheese", "", MetricTarget("Value"))
    outcomes = [
        cpu_outcome(cpu, 5, 50, (100, 300, 500, 250, 250)),
        MetricOutcome(bad, error='unknown metric source type "CheddarCheese"'),
    ]
    got = combine_metrics(5, outcomes)
    assert got.replicas == -1
    assert (got.condition.status, got.condition.reason) == ("False", "InvalidMetricSourceType")
    assert got.error == (
        "invalid metrics (1 invalid out of 2), first error is: "
        'unknown metric source type "CheddarCheese"'
    )


def test_one_failed_metric_does_not_block_a_scale_up():
    """``TestScaleUpOneMetricEmpty``: CPU says 3 → 4 while the External metric fails; the HPA
    still scales up, and ScalingActive is True (ValidMetricFound)."""
    qps_spec = MetricSpec("External", "qps", MetricTarget("Value", value=0.1))
    outcomes = [
        cpu_outcome(CPU_UTIL, 3, 30, (300, 400, 500)),
        MetricOutcome(qps_spec, error="unable to get external metric"),
    ]
    got = combine_metrics(3, outcomes)
    assert (got.replicas, got.metric) == (4, "cpu resource utilization (percentage of request)")
    assert got.condition.reason == "ValidMetricFound"
    assert got.error is not None and got.error.startswith("invalid metrics (1 invalid out of 2)")


def test_the_largest_proposal_wins():
    """``computeReplicasForMetrics``: with CPU at 4 and a Pods metric at 6, 6 wins and names
    the reason."""
    pods_spec = MetricSpec("Pods", "qps", MetricTarget("AverageValue", average_value=15.0))
    pod_list = pods(3)
    outcomes = [
        cpu_outcome(CPU_UTIL, 3, 30, (300, 400, 500)),
        propose_or_error(
            pods_spec,
            lambda: plain_metric_replicas(3, 15000, "", pod_list, qps(30000, 30000, 30000), NOW),
        ),
    ]
    assert (combine_metrics(3, outcomes).replicas, combine_metrics(3, outcomes).metric) == (
        6,
        "pods metric qps",
    )


def hpa(min_r=2, max_r=6, behavior=None):
    return HorizontalPodAutoscaler(
        "web", "default", "autoscaling/v2", "Deployment", "web", min_r, max_r, (CPU_UTIL,), behavior
    )


def test_scale_up_emits_successful_rescale():
    """``TestScaleUp``: min 2, max 6, 3 pods at 300/500/700m of 1.0 CPU against 30 % → 5, with
    the event text kubectl shows."""
    metrics = combine_metrics(3, [cpu_outcome(CPU_UTIL, 3, 30, (300, 500, 700))])
    got = reconcile(hpa(), 3, metrics, HPAHistory(recommendations=()), NOW)
    assert (got.desired_replicas, got.rescale) == (5, True)
    assert got.event == (
        "Normal",
        "SuccessfulRescale",
        "New size: 5; reason: cpu resource utilization (percentage of request) above target",
    )
    assert [(c.type, c.status, c.reason) for c in got.conditions] == [
        ("AbleToScale", "True", "SucceededRescale"),
        ("ScalingActive", "True", "ValidMetricFound"),
        ("ScalingLimited", "False", "DesiredWithinRange"),
    ]


def test_scale_down_after_the_window_says_all_metrics_below_target():
    """``TestScaleDown``: 5 pods at 100/300/500/250/250m against 50 % → 3 when no recent
    recommendation is higher; the reason is "All metrics below target"."""
    spec = MetricSpec("Resource", "cpu", MetricTarget("Utilization", average_utilization=50))
    metrics = combine_metrics(5, [cpu_outcome(spec, 5, 50, (100, 300, 500, 250, 250))])
    got = reconcile(hpa(), 5, metrics, HPAHistory(recommendations=()), NOW)
    assert got.event == ("Normal", "SuccessfulRescale", "New size: 3; reason: All metrics below target")


def test_first_sync_holds_a_scale_down_for_the_stabilization_window():
    """``recordInitialRecommendation`` (derived by hand): the first sync records the current 5
    as a recommendation, so a 3 is held at 5 (ScaleDownStabilized) until 300 s have passed."""
    spec = MetricSpec("Resource", "cpu", MetricTarget("Utilization", average_utilization=50))
    metrics = combine_metrics(5, [cpu_outcome(spec, 5, 50, (100, 300, 500, 250, 250))])
    history = HPAHistory()
    timeline = []
    for t in (0.0, 15.0, 300.0, 315.0):
        decision = reconcile(hpa(), 5, metrics, history, NOW + t)
        history = decision.history
        timeline.append((t, decision.desired_replicas, decision.conditions[0].reason))
    assert timeline == [
        (0.0, 5, "ScaleDownStabilized"),
        (15.0, 5, "ScaleDownStabilized"),
        (300.0, 5, "ScaleDownStabilized"),  # the seed at t=0 is not older than the window yet
        (315.0, 3, "SucceededRescale"),
    ]


def test_behavior_sync_sequence_limits_and_remembers_scale_events():
    """The behavior path over three syncs (derived by hand from the default scaleUp rules):
    desired 20 from 2 is capped at max(2 + 4, ceil(2 × 2)) = 6 (ScaleUpLimit); 15 s later the
    +4 of the first sync has left the 15 s period, so the cap is max(6 + 4, 12) = 12. At 30 s
    the first event (30 s old, beyond the longest 15 s period) is outdated and its slot reused."""
    behavior = HPABehavior(DEFAULT_UP, DEFAULT_DOWN)
    target = hpa(min_r=1, max_r=50, behavior=behavior)
    history = HPAHistory()
    counts = []
    current = 2
    for t in (0.0, 15.0, 30.0):
        outcome = MetricOutcome(CPU_UTIL, proposal=_proposal(20))
        decision = reconcile(target, current, combine_metrics(current, [outcome]), history, NOW + t)
        history, current = decision.history, decision.desired_replicas
        counts.append((current, decision.conditions[-1].reason))
    assert counts == [(6, "ScaleUpLimit"), (12, "ScaleUpLimit"), (20, "DesiredWithinRange")]
    assert [e.change for e in history.scale_up_events] == [8, 6]


def _proposal(replicas):
    from sim.runtime.hpa_replicas import Proposal

    return Proposal(replicas, 0)


def test_outside_bounds_and_zero_replicas():
    """``reconcileAutoscaler``: above max or below min go straight to the bound; a target at 0
    replicas (minReplicas ≠ 0) disables scaling."""
    above = reconcile(hpa(), 9, None, HPAHistory(), NOW)
    assert above.event == (
        "Normal",
        "SuccessfulRescale",
        "New size: 6; reason: Current number of replicas above Spec.MaxReplicas",
    )
    below = reconcile(hpa(), 1, None, HPAHistory(), NOW)
    assert below.desired_replicas == 2
    off = reconcile(hpa(), 0, None, HPAHistory(), NOW)
    assert (off.rescale, off.conditions[-1].reason) == (False, "ScalingDisabled")


def test_tolerances_come_from_behavior_or_the_flag():
    down = HPAScalingRules(300, "Max", DEFAULT_DOWN.policies, tolerance=0.05)
    assert tolerances_for(None) == Tolerances(0.1, 0.1)
    assert tolerances_for(HPABehavior(DEFAULT_UP, down)) == Tolerances(0.05, 0.1)


@pytest.mark.parametrize(
    "spec,text",
    [
        (CPU_UTIL, "cpu resource utilization (percentage of request)"),
        (MetricSpec("ContainerResource", "cpu", MetricTarget("Utilization", average_utilization=50), container="app"),
         "cpu container resource utilization (percentage of request)"),
        (MetricSpec("Resource", "memory", MetricTarget("AverageValue", average_value=1e8)), "memory resource"),
        (MetricSpec("Pods", "qps", MetricTarget("AverageValue", average_value=1.0)), "pods metric qps"),
        (MetricSpec("Object", "qps", MetricTarget("Value", value=1.0), described="Ingress/main"), "Ingress metric qps"),
        (MetricSpec("External", "queue", MetricTarget("Value", value=1.0)), "external metric queue(<nil>)"),
    ],
)  # fmt: skip
def test_metric_descriptions_match_horizontal_go(spec, text):
    assert metric_description(spec) == text
