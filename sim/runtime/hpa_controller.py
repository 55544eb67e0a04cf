"""The HorizontalPodAutoscaler controller at run time (docs/semantics.md#horizontalpodautoscaler-controller).

One SimPy process per HPA syncs it every ``syncPeriod`` (15 s), the first time one period
after t = 0: it reads the target's scale (the Deployment's ``spec.replicas``) and its pods as
the controller's listers show them, asks each metric for a proposal from the samples
:class:`~sim.runtime.metrics_server.MetricsServer` holds (:mod:`~sim.runtime.hpa_replicas`),
combines and stabilizes them (:mod:`~sim.runtime.hpa_rules`), and scales the Deployment as
``kubectl scale`` would. Syncs at the instant of a scrape see that scrape.

What it records: one ``hpa`` row per sync (the scale read, the count it set or kept, the
conditions), one ``hpa_metrics`` row per metric (value and target as ``kubectl get hpa`` shows
them, the replicas it proposed), and events as upstream emits them (``SuccessfulRescale``,
``FailedGetResourceMetric``, ``FailedComputeMetricsReplicas``); a warning repeated with the same
message is recorded once, as kubectl aggregates it into one row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sim.kube.hpa import HorizontalPodAutoscaler, MetricSpec
from sim.kube.hpa_metrics import metric_key
from sim.runtime import hpa_replicas as calc
from sim.runtime import hpa_rules as rules
from sim.runtime.hpa_replicas import MetricUnavailable, PodMetric, PodSample, Proposal
from sim.runtime.kubelet import container_name
from sim.runtime.metrics_server import MetricsServer
from sim.runtime.pod_usage import covered_deployments
from sim.runtime.pods import INF, Pod
from sim.scenario.simulation import HPAController

if TYPE_CHECKING:
    from sim.runtime.control_plane import ControlPlane

__all__ = ["HPARuntime"]


@dataclass
class _State:
    hpa: HorizontalPodAutoscaler
    history: rules.HPAHistory
    last_warning: dict[str, str]  # reason -> the message last recorded


class HPARuntime:
    """Every HPA of the scenario, synced on the control plane ``plane``."""

    def __init__(self, plane: ControlPlane, metrics: MetricsServer, flags: HPAController) -> None:
        self.plane = plane
        self.env = plane.env
        self.metrics = metrics
        self.flags = flags
        self.states = [_State(h, rules.HPAHistory(), {}) for h in plane.scenario.hpas]
        self.rows: list[dict[str, Any]] = []
        self.metric_rows: list[dict[str, Any]] = []
        self._event_errors: dict[int, str] = {}  # a failed metric's spec -> its warning's message

    def start(self) -> None:
        for state in self.states:
            self.env.process(self._loop(state))

    def _loop(self, state: _State) -> Any:
        period = self.flags.sync_period_s
        k = 1
        while True:
            yield self.env.timeout(k * period - self.env.now)
            yield self.env.timeout(0)  # after a scrape at this instant
            self.sync(state)
            k += 1

    # -- one sync ------------------------------------------------------------------
    def sync(self, state: _State) -> None:
        plane, hpa, now = self.plane, state.hpa, self.env.now
        plane.catch_up()
        deployment = hpa.target_name
        current = plane.desired[deployment]
        pods = plane.live_pods(deployment)
        if _reads_metrics(hpa, current):
            samples = [self._sample(p) for p in pods]
            tolerances = rules.tolerances_for(hpa.behavior, self.flags.tolerance)
            outcomes = [self._outcome(spec, current, pods, samples, tolerances) for spec in hpa.metrics]
            for outcome in outcomes:
                if outcome.error is not None:
                    self._warn(state, rules.failure_reason(outcome.spec), self._event_errors.pop(id(outcome.spec)))
            combined: rules.MetricsResult | None = rules.combine_metrics(current, outcomes)
        else:
            # reconcileAutoscaler reads no metric when the count is 0 (scaling disabled) or
            # outside [min, max]: no metric warning, and the status shows no current value.
            outcomes = [rules.MetricOutcome(spec) for spec in hpa.metrics]
            combined = None
        decision = rules.reconcile(hpa, current, combined, state.history, now, self.flags.downscale_stabilization_s)
        state.history = decision.history
        obj = f"horizontalpodautoscaler/{hpa.name}"
        if decision.event is not None:
            type_, reason, message = decision.event
            if type_ == "Warning":
                self._warn(state, reason, message)
            else:
                plane.event(type_, reason, obj, message)
        if decision.rescale:
            plane.scale(deployment, decision.desired_replicas, by=f"hpa/{hpa.name}")
        conditions = {c.type: f"{c.status}/{c.reason}" for c in decision.conditions}
        self.rows.append(
            {
                "time": float(now),
                "hpa": hpa.name,
                "reference": f"{hpa.target_kind}/{deployment}",
                "min_replicas": hpa.min_replicas,
                "max_replicas": hpa.max_replicas,
                "current_replicas": current,
                "desired_replicas": decision.desired_replicas,
                "rescaled": decision.rescale,
                "reason": decision.reason if decision.rescale else "",
                "able_to_scale": conditions.get("AbleToScale", ""),
                "scaling_active": conditions.get("ScalingActive", ""),
                "scaling_limited": conditions.get("ScalingLimited", ""),
            }
        )
        for outcome in outcomes:
            self.metric_rows.append(_metric_row(now, hpa.name, outcome))

    def _warn(self, state: _State, reason: str, message: str) -> None:
        if state.last_warning.get(reason) == message:
            return  # kubectl shows a repeated event once, with a count
        state.last_warning[reason] = message
        self.plane.event("Warning", reason, f"horizontalpodautoscaler/{state.hpa.name}", message)

    def _sample(self, pod: Pod) -> PodSample:
        """The pod as the controller's pod lister shows it."""
        plane = self.plane
        kubelet = plane.kubelet
        shown = plane.shown_status(pod)
        start = kubelet.start_time(pod)
        # Pending until a kubelet started its container: unscheduled, ContainerCreating, or bound
        # to a node that died before it could start it (nobody reported it Running).
        pending = pod.node is None or shown in ("Pending", "ContainerCreating") or start == INF
        phase = "Pending" if pending else "Running"
        deleting = pod.terminating_at < INF or pod.index in plane.replica_set[pod.index].deleting
        return PodSample(
            name=pod.name,
            phase=phase,
            deleting=deleting,
            ready="True" if pod.condition_ready else "False",
            ready_transition_s=kubelet.ready_transition(pod),
            start_s=start if start < INF else None,
        )

    # -- one metric ----------------------------------------------------------------
    def _outcome(
        self,
        spec: MetricSpec,
        current: int,
        pods: list[Pod],
        samples: list[PodSample],
        tolerances: calc.Tolerances,
    ) -> rules.MetricOutcome:
        try:
            return rules.MetricOutcome(spec, proposal=self._propose(spec, current, pods, samples, tolerances))
        except MetricUnavailable as exc:
            self._event_errors[id(spec)] = _event_error(spec, str(exc))
            return rules.MetricOutcome(spec, error=_wrapped(spec, str(exc)))

    def _propose(
        self,
        spec: MetricSpec,
        current: int,
        pods: list[Pod],
        samples: list[PodSample],
        tolerances: calc.Tolerances,
    ) -> Proposal:
        now, flags, target = self.env.now, self.flags, spec.target
        timing = (flags.cpu_initialization_period_s, flags.initial_readiness_delay_s)
        if spec.type in ("Resource", "ContainerResource"):
            # GetResourceReplicas' order: the metrics API, the pod list, the requests, the groups.
            found = self._resource_metrics(spec, pods)
            if not samples:
                raise MetricUnavailable("no pods returned by selector while calculating replica count")
            if target.type == "Utilization" and target.average_utilization is not None:
                requests: dict[str, int | None] = {p.name: self._request(p, spec) for p in pods}
                return calc.resource_replicas(
                    current, target.average_utilization, spec.name, samples, found, requests, now, tolerances, *timing
                )
            assert target.average_value is not None
            return calc.plain_metric_replicas(
                current, calc.milli_value(target.average_value), spec.name, samples, found, now, tolerances, *timing
            )
        if spec.type == "Pods":
            found = self.metrics.pods_metric(pods, spec.name)
            if not samples:
                raise MetricUnavailable("no pods returned by selector while calculating replica count")
            if not found:
                raise MetricUnavailable(
                    f"unable to get metric {spec.name}: no metrics returned from custom metrics API"
                )
            assert target.average_value is not None
            return calc.plain_metric_replicas(
                current, calc.milli_value(target.average_value), "", samples, found, now, tolerances, *timing
            )
        # Object and External metrics: a total over the pods the object or the selector picks.
        usage = self._total(spec)
        if spec.type == "Object":
            if target.type == "Value" and target.value is not None:
                return calc.object_metric_replicas(current, usage, calc.milli_value(target.value), samples, tolerances)
            assert target.average_value is not None
            status = sum(1 for s in samples if not s.deleting)
            average = calc.milli_value(target.average_value)
            return calc.object_per_pod_metric_replicas(status, usage, average, tolerances)
        if target.type == "Value" and target.value is not None:
            return calc.external_metric_replicas(current, [usage], calc.milli_value(target.value), samples, tolerances)
        assert target.average_value is not None
        status = sum(1 for s in samples if not s.deleting)
        average = calc.milli_value(target.average_value)
        return calc.external_per_pod_metric_replicas(status, [usage], average, tolerances)

    def _resource_metrics(self, spec: MetricSpec, pods: list[Pod]) -> dict[str, PodMetric]:
        """The resource metrics API's answer (``GetResourceMetric``): each pod's usage, or for a
        ContainerResource the named container's. svcsim's usage is the app's, its first
        container's (docs/semantics.md#cpu-and-memory-usage): any other container uses 0."""
        found = self.metrics.resource(pods, spec.name)
        prefix = f"unable to get metrics for resource {spec.name}: "
        if not found:
            raise MetricUnavailable(prefix + "no metrics returned from resource metrics API")
        if spec.type != "ContainerResource" or not pods:
            return found
        dep = self.plane.deployment(pods[0])
        if spec.container not in dep.container_names:
            first = next(p.name for p in pods if p.name in found)
            raise MetricUnavailable(
                prefix + f"failed to get container metrics: container {spec.container} not present in metrics "
                f"for pod default/{first}"
            )
        if spec.container == container_name(dep):
            return found
        return {name: replace(m, value=0) for name, m in found.items()}

    def _request(self, pod: Pod, spec: MetricSpec) -> int:
        """The pod's request for the metric's resource in milli-units (``calculatePodRequests``:
        every container, or the named one, must have one)."""
        dep = self.plane.deployment(pod)
        field = "cpu_request_m" if spec.name == "cpu" else "memory_request_b"
        by_name = {c.container: getattr(c, field) for c in dep.container_resources}
        names = dep.container_names
        if spec.type == "ContainerResource":
            if spec.container not in names:
                raise MetricUnavailable(f"container {spec.container} not found in Pod {pod.name}")
            names = [spec.container]
        total = 0
        for name in names:
            value = by_name.get(name)
            if value is None:
                raise MetricUnavailable(f"missing request for {spec.name} in container {name} of Pod {pod.name}")
            total += value
        return total if spec.name == "cpu" else total * 1000

    def _total(self, spec: MetricSpec) -> int:
        """An Object or External metric: the sum, over the pods it covers, of their latest
        samples of the per-pod metric of the same name."""
        covered = covered_deployments(self.plane.scenario, spec)
        pods = [p for name in sorted(covered) for p in self.plane.live_pods(name)]
        name = "http_" + spec.name
        found = self.metrics.pods_metric(pods, name)
        if not found and spec.type == "External":  # GetExternalMetricReplicas, GetExternalMetric
            selector = "<nil>" if spec.selector is None else str(spec.selector)
            raise MetricUnavailable(
                f"unable to get external metric default/{spec.name}/{selector}: "
                "no metrics returned from external metrics API"
            )
        if not found:
            raise MetricUnavailable(f"unable to get metric {spec.name}: no metrics returned from custom metrics API")
        return sum(m.value for m in found.values())


def _reads_metrics(hpa: HorizontalPodAutoscaler, current: int) -> bool:
    """Whether ``reconcileAutoscaler`` computes the metrics at this sync: only when scaling is
    not disabled (0 replicas with minReplicas > 0) and the count is within [min, max]."""
    if current == 0 and hpa.min_replicas != 0:
        return False
    return hpa.min_replicas <= current <= hpa.max_replicas


def _event_error(spec: MetricSpec, error: str) -> str:
    """The error the per-metric warning (``getUnableComputeReplicaCountCondition``) carries: the
    calculator's, with the resource calculators' "failed to get cpu utilization: " before it."""
    if spec.type in ("Resource", "ContainerResource"):
        what = "utilization" if spec.target.type == "Utilization" else "usage"
        return f"failed to get {spec.name} {what}: {error}"
    return error


def _wrapped(spec: MetricSpec, error: str) -> str:
    """The error as ``computeReplicasForMetric`` words it for each source type (what
    FailedComputeMetricsReplicas reports)."""
    inner = _event_error(spec, error)
    if spec.type == "Resource":
        return f"failed to get {spec.name} resource metric value: {inner}"
    if spec.type == "ContainerResource":
        return f"failed to get {spec.container} container metric value: {inner}"
    if spec.type == "Pods":
        return f"failed to get pods metric value: {inner}"
    if spec.type == "Object":
        if spec.target.type != "Value":
            inner = f"failed to get {spec.name} object metric: {inner}"
        return f"failed to get object metric value: {inner}"
    if spec.target.type == "Value":
        inner = f"failed to get external metric {spec.name}: {inner}"
    else:
        inner = f"failed to get {spec.name} external metric: {inner}"
    return f"failed to get {spec.name} external metric value: {inner}"


def _metric_row(now: float, hpa: str, outcome: rules.MetricOutcome) -> dict[str, Any]:
    spec, proposal = outcome.spec, outcome.proposal
    target = spec.target
    if target.type == "Utilization":
        goal = float(target.average_utilization or 0)
        current = math.nan if proposal is None or proposal.utilization is None else float(proposal.utilization)
    else:
        goal = float((target.value if target.type == "Value" else target.average_value) or 0.0)
        current = math.nan if proposal is None else proposal.usage / 1000  # milli-units back to base units
    return {
        "time": float(now),
        "hpa": hpa,
        "metric": metric_key(spec),
        "target_type": target.type,
        "current": current,
        "target": goal,
        "proposal": -1 if proposal is None else proposal.replicas,
    }
