"""The resolved scenario: the checked Simulation plus the Services and Deployments it runs, with
every default Kubernetes and svcsim fill in (node and client IPs, ClusterIPs, nodePorts).

A :class:`Scenario` is frozen; the run reads it and never changes it. :meth:`Scenario.to_yaml`
writes it back as manifests, saved next to the results of every run so a run folder explains
itself. It keeps the documents it was loaded from, so :meth:`Scenario.with_changes` makes a
changed scenario by changing them and loading them again: every check runs, as for a file.
(``dataclasses.replace`` checks nothing: use ``with_changes``.)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sim.errors import Problem, ScenarioError
from sim.kube.deployment import Deployment
from sim.kube.hpa import HorizontalPodAutoscaler, HPAScalingRules, MetricSpec
from sim.kube.service import Service, SessionAffinity
from sim.scenario.run_limits import duration_problems, run_limit_problems
from sim.scenario.simulation import Simulation
from sim.units import format_duration

__all__ = ["Scenario", "copy_data"]


@dataclass(frozen=True, repr=False)
class Scenario:
    """A checked scenario: the Simulation plus the Services and Deployments it runs.

    ``documents`` are the user's documents as parsed (``(number, first line, content)``) and
    ``folder`` where the file was; :meth:`with_changes` loads them again, changed.
    """

    source: str
    simulation: Simulation
    services: tuple[Service, ...]
    deployments: tuple[Deployment, ...]
    warnings: tuple[str, ...] = ()
    other_documents: tuple[dict[str, Any], ...] = field(default=(), repr=False)
    hpas: tuple[HorizontalPodAutoscaler, ...] = ()  # parsed and checked; run by sim.runtime.hpa_controller
    documents: tuple[tuple[int, int | None, dict[str, Any]], ...] = field(default=(), compare=False)
    folder: Path | None = field(default=None, compare=False)

    def __repr__(self) -> str:
        """A few lines: what runs, at what load, for how long (not every field)."""
        from sim.scenario.describe import describe_scenario  # noqa: PLC0415 (it imports this module)

        return describe_scenario(self)

    def service(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)

    def deployment(self, name: str) -> Deployment:
        return next(d for d in self.deployments if d.name == name)

    def with_changes(self, changes: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> Scenario:
        """A new scenario with fields of its documents changed, loaded and checked again in full.

        Parameters
        ----------
        changes : mapping or iterable of (path, value)
            ``{"deployment/myapp.spec.replicas": 8, "simulation.spec.clients[laptop].rate": 3000}``.
            A path is ``<kind>/<name>.<field path>`` for a Kubernetes object (kind
            ``deployment``, ``service``, ``horizontalpodautoscaler`` or ``hpa``) or
            ``simulation.<field path>`` for the Simulation; a list item is ``[0]`` by index or
            ``[laptop]`` by its ``name``; a missing key is created. Values are YAML values
            (``"2s"``, ``{"distribution": "exponential", "mean": "10ms"}``). Applied in order.

        Raises
        ------
        ScenarioError
            The CLI's one-line problems: a path that names nothing
            (``--set deployment/nope.spec.replicas: no Deployment named "nope"``), or a value
            the loader refuses (the line starts ``--set <path>:``).

        Examples
        --------
        >>> import sim
        >>> scenario = sim.load_scenario("scenarios/nodeport-basic.yaml")
        >>> scenario.with_changes({"deployment/myapp.spec.replicas": 8}).deployment("myapp").replicas
        8
        """
        from sim.scenario.changes import apply_changes  # noqa: PLC0415 (it loads scenarios, which import this module)

        return apply_changes(self, changes)

    def with_overrides(self, *, seed: int | None = None, duration_s: float | None = None) -> Scenario:
        """The same scenario with a different seed or duration (the CLI's --seed, --duration)."""
        sim = self.simulation
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
                raise ScenarioError([Problem(self.source, "", "--seed", f"Invalid value: {seed}: must be >= 0")])
            sim = dataclasses.replace(sim, seed=seed)
        if duration_s is not None:
            if duration_s <= sim.warmup_s:
                raise ScenarioError(
                    [Problem(self.source, "", "--duration", f"must be longer than spec.warmup ({sim.warmup_s:g}s)")]
                )
            # A client's stop past the new end is cut there, so the saved scenario loads again.
            clients = tuple(
                c if c.stop_s is None or c.stop_s <= duration_s else dataclasses.replace(c, stop_s=float(duration_s))
                for c in sim.clients
            )
            sim = dataclasses.replace(sim, duration_s=float(duration_s), clients=clients)
            silent = [
                f"client {c.name} would send nothing in the first {format_duration(duration_s)}"
                + (f" (it starts at {format_duration(c.start_s)})" if c.start_s >= duration_s else "")
                for c in sim.clients
                if c.expected_requests(sim.duration_s) <= 0
            ]
            if silent:  # as spec.duration would be refused (a client's stop past the end is cut there)
                raise ScenarioError([Problem(self.source, "", "--duration", message) for message in silent])
            too_long = duration_problems(sim.duration_s, sim.clients, "--duration")
            too_long += [
                (p.field, p.message) for p in run_limit_problems(sim, self.services, self.deployments, "--duration")
            ]
            if too_long:
                raise ScenarioError([Problem(self.source, "", path, message) for path, message in too_long])
        return dataclasses.replace(self, simulation=sim, documents=self._documents_for(sim))

    def _documents_for(self, sim: Simulation) -> tuple[tuple[int, int | None, dict[str, Any]], ...]:
        """The documents with the Simulation's seed, duration and clients' stops set to ``sim``'s,
        so that a later :meth:`with_changes` keeps an override."""
        out = []
        for number, line, given in self.documents:
            content = given
            if content.get("kind") == "Simulation":
                content = copy_data(given)
                spec = content.setdefault("spec", {})
                if sim.seed != self.simulation.seed:
                    spec["seed"] = sim.seed
                if sim.duration_s != self.simulation.duration_s:
                    spec["duration"] = sim.duration_s
                    for client, was, doc in zip(
                        sim.clients, self.simulation.clients, spec.get("clients") or [], strict=False
                    ):
                        if client.stop_s != was.stop_s and isinstance(doc, dict):
                            doc["stop"] = client.stop_s
            out.append((number, line, content))
        return tuple(out)

    def to_yaml(self) -> str:
        """The resolved scenario: every document with Kubernetes' and svcsim's defaults filled in."""
        docs: list[dict[str, Any]] = [_service_manifest(s) for s in self.services]
        docs += [_deployment_manifest(d) for d in self.deployments]
        docs += [_hpa_manifest(h) for h in self.hpas]
        docs += list(self.other_documents)
        docs.append(self.simulation.to_manifest())
        return yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False)


def _service_manifest(svc: Service) -> dict[str, Any]:
    doc = copy_data(svc.manifest)
    spec = doc.setdefault("spec", {})
    # Plain strings: YAML's safe dumper refuses str subclasses such as the StrEnums.
    spec["type"] = str(svc.type)
    if svc.cluster_ip is not None:
        spec["clusterIP"] = svc.cluster_ip
        spec["clusterIPs"] = [svc.cluster_ip]
    spec["ports"] = [
        {
            k: v
            for k, v in (
                ("name", p.name),
                ("protocol", p.protocol),
                ("port", p.port),
                ("targetPort", p.target_port),
                ("nodePort", p.node_port),
            )
            if v is not None
        }
        for p in svc.ports
    ]
    spec["sessionAffinity"] = str(svc.session_affinity)
    if svc.session_affinity == SessionAffinity.CLIENT_IP:
        spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": int(svc.affinity_timeout_s)}}
    if svc.external_traffic_policy:
        spec["externalTrafficPolicy"] = str(svc.external_traffic_policy)
    spec["internalTrafficPolicy"] = str(svc.internal_traffic_policy)
    if svc.health_check_node_port is not None:
        spec["healthCheckNodePort"] = svc.health_check_node_port
    return doc


def _deployment_manifest(dep: Deployment) -> dict[str, Any]:
    doc = copy_data(dep.manifest)
    doc.setdefault("spec", {})["replicas"] = dep.replicas
    return doc


def _hpa_manifest(hpa: HorizontalPodAutoscaler) -> dict[str, Any]:
    """The HPA as the API server stores it: minReplicas, the default metric and, when a
    ``behavior`` is given, every rule filled in; metrics and quantities as written."""
    doc = copy_data(hpa.manifest)
    spec = doc.setdefault("spec", {})
    spec["minReplicas"] = hpa.min_replicas
    if hpa.api_version == "autoscaling/v1":
        spec.setdefault("targetCPUUtilizationPercentage", hpa.metrics[0].target.average_utilization)
        return doc
    if not spec.get("metrics"):
        spec["metrics"] = [_metric_manifest(m) for m in hpa.metrics]
    if hpa.behavior is not None:
        given = spec.get("behavior") or {}
        spec["behavior"] = {
            "scaleUp": _rules_manifest(hpa.behavior.scale_up, (given.get("scaleUp") or {}).get("tolerance")),
            "scaleDown": _rules_manifest(hpa.behavior.scale_down, (given.get("scaleDown") or {}).get("tolerance")),
        }
    return doc


def _metric_manifest(metric: MetricSpec) -> dict[str, Any]:
    """The defaulted metric (Resource cpu Utilization), the only one svcsim writes itself."""
    target = {"type": metric.target.type, "averageUtilization": metric.target.average_utilization}
    return {"type": metric.type, "resource": {"name": metric.name, "target": target}}


def _rules_manifest(rules: HPAScalingRules, tolerance: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "stabilizationWindowSeconds": rules.stabilization_window_s,
        "selectPolicy": rules.select_policy,
        "policies": [{"type": p.type, "value": p.value, "periodSeconds": p.period_s} for p in rules.policies],
    }
    if tolerance is not None:
        out["tolerance"] = tolerance  # as written: a quantity keeps its form
    return out


def copy_data(value: Any) -> Any:
    """A copy of parsed YAML in which nothing is shared (an alias becomes its own copy)."""
    if isinstance(value, dict):
        return {k: copy_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_data(v) for v in value]
    return value
