"""Reading a scenario file into typed documents: its Services, Deployments, the one Simulation,
and the kinds svcsim does not simulate, each with the document number and line that messages name.

Kubernetes objects are checked as the API server checks them (:mod:`sim.kube`) and the
Simulation document strictly (:mod:`sim.scenario.simulation_parser`). Every problem and warning
goes to a :class:`Findings`, which reports problems in file order, so one run names them all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sim.errors import Problem, ScenarioError
from sim.kube.deployment import Deployment, parse_deployment
from sim.kube.hpa import HPA_API_VERSIONS, HorizontalPodAutoscaler, parse_hpa
from sim.kube.service import Service, parse_service
from sim.kube.validation import FieldError, go_quote, one_line
from sim.scenario.field_reader import FieldReader
from sim.scenario.simulation import Simulation
from sim.scenario.simulation_parser import parse_simulation
from sim.scenario.yaml_reader import json_type

__all__ = [
    "API_VERSIONS",
    "SIMULATION_API",
    "DeploymentDocument",
    "Findings",
    "HPADocument",
    "Origin",
    "ScenarioDocuments",
    "ServiceDocument",
    "SimulationDocument",
    "read_scenario_documents",
]

SIMULATION_API = "svcsim/v1alpha1"
API_VERSIONS = {"Service": "v1", "Deployment": "apps/v1", "Simulation": SIMULATION_API}

_Object = TypeVar("_Object", Service, Deployment, HorizontalPodAutoscaler)


@dataclass(frozen=True)
class Origin:
    """Where a problem is: the document's number in the file (problems are reported in that
    order) and the label messages name it by, such as ``document 2 (line 14)``."""

    number: int
    label: str


class Findings:
    """The problems and warnings of one scenario file, collected so that all are reported at once."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.warnings: list[str] = []
        self._problems: list[tuple[int, Problem]] = []

    @property
    def clean(self) -> bool:
        """No problem so far."""
        return not self._problems

    def fail(self, origin: Origin | None, path: str, message: str) -> None:
        """A problem with field ``path`` of the document at ``origin`` (None: of the file as a whole)."""
        number, label = (origin.number, origin.label) if origin is not None else (0, "")
        self._problems.append((number, Problem(self.file, label, one_line(path), one_line(message))))

    def warn(self, origin: Origin, message: str) -> None:
        """Something legal but probably not meant; the run goes ahead."""
        self.warnings.append(f"{self.file}: {origin.label}: {one_line(message)}")

    def error(self, *, in_file_order: bool = True) -> ScenarioError:
        """Every problem, in file order (by document number) or else as found.

        File order puts a Service's allocation conflicts, found only after every document is
        read, with that Service's other problems.
        """
        assert self._problems, "error() is only asked for when there are problems"
        found = sorted(self._problems, key=lambda item: item[0]) if in_file_order else self._problems
        return ScenarioError([problem for _, problem in found])


@dataclass(frozen=True)
class ServiceDocument:
    """A valid Service; ``origin`` names it as the API server does (``The Service "web" is invalid``)."""

    service: Service
    origin: Origin


@dataclass(frozen=True)
class DeploymentDocument:
    """A valid Deployment; ``origin`` names it for warnings (``Deployment "web"``)."""

    deployment: Deployment
    origin: Origin


@dataclass(frozen=True)
class HPADocument:
    """A valid HorizontalPodAutoscaler; ``origin`` names it for later problems and warnings."""

    hpa: HorizontalPodAutoscaler
    origin: Origin


@dataclass(frozen=True)
class SimulationDocument:
    """The Simulation as read; if not ``valid`` it is partial and its ranges cannot be trusted."""

    simulation: Simulation
    origin: Origin
    valid: bool


@dataclass(frozen=True)
class ScenarioDocuments:
    """Every document of a scenario file, by kind, in file order."""

    services: tuple[ServiceDocument, ...]
    deployments: tuple[DeploymentDocument, ...]
    simulation: SimulationDocument | None
    ignored: tuple[dict[str, Any], ...]  # kinds svcsim does not simulate, kept for the resolved scenario
    hpas: tuple[HPADocument, ...] = ()


@dataclass(frozen=True)
class _Document:
    """One non-empty YAML document: its number in the file, its first line and its content."""

    number: int
    line: int | None  # None for a document given as a dict, not read from YAML text
    content: dict[str, Any]

    @property
    def name(self) -> Any:
        """``metadata.name`` as written ("" if absent), for labels."""
        meta = self.content.get("metadata")
        return meta.get("name", "") if isinstance(meta, dict) else ""

    @property
    def quoted_name(self) -> str:
        """The name in quotes as the API server's messages print it (Go's ``%q``, long names shortened)."""
        name = self.name
        return go_quote(name) if isinstance(name, str) else f'"{name}"'

    def origin(self, what: str = "") -> Origin:
        """``document 2 (line 14)``, then ``: what`` if given."""
        label = f"document {self.number}" + (f" (line {self.line})" if self.line is not None else "")
        return Origin(self.number, f"{label}: {what}" if what else label)


def read_scenario_documents(
    parsed: Sequence[tuple[int, int | None, Any]], findings: Findings, folder: Path | None = None
) -> ScenarioDocuments:
    """Read every document of ``parsed`` (``(number, first line, content)``, as
    :func:`~sim.scenario.yaml_reader.read_documents` returns them; the line is None for a
    document given as a dict); problems and warnings go to ``findings``.

    ``folder`` is the scenario file's folder: files the Simulation names (a rate's trace) are
    found from there (None: from the working directory, for scenarios given as text).

    A document that cannot be read is reported and skipped, so the other documents are still checked.
    """
    services: list[ServiceDocument] = []
    deployments: list[DeploymentDocument] = []
    ignored: list[dict[str, Any]] = []
    hpas: list[HPADocument] = []
    simulation: SimulationDocument | None = None
    for document in _documents(parsed, findings):
        kind, api = document.content.get("kind"), document.content.get("apiVersion")
        if not _type_meta_ok(document, findings):
            continue
        if kind == "Simulation" and api == SIMULATION_API:
            line = f", line {document.line}" if document.line is not None else ""
            origin = Origin(document.number, f"document {document.number} (Simulation {document.quoted_name}{line})")
            if simulation is not None:
                findings.fail(
                    origin, "kind", f"a scenario has exactly one Simulation; the first is {simulation.origin.label}"
                )
                continue
            simulation = _simulation(document.content, origin, findings, folder)
        elif kind == "Service" and api == API_VERSIONS["Service"]:
            # Later problems with a Service (allocation conflicts) name it as the API server does.
            origin = document.origin(f"The Service {document.quoted_name} is invalid")
            service = _kube_object("Service", parse_service, document, origin, [d.service for d in services], findings)
            if service is not None:
                services.append(ServiceDocument(service, origin))
        elif kind == "Deployment" and api == API_VERSIONS["Deployment"]:
            origin = document.origin(f"The Deployment {document.quoted_name} is invalid")
            earlier = [d.deployment for d in deployments]
            deployment = _kube_object("Deployment", parse_deployment, document, origin, earlier, findings)
            if deployment is not None:
                deployments.append(DeploymentDocument(deployment, document.origin(f'Deployment "{deployment.name}"')))
        elif kind == "HorizontalPodAutoscaler" and api in HPA_API_VERSIONS:
            origin = document.origin(f"The HorizontalPodAutoscaler {document.quoted_name} is invalid")
            named = [d.hpa for d in hpas]
            hpa = _kube_object("HorizontalPodAutoscaler", parse_hpa, document, origin, named, findings)
            if hpa is not None:
                hpas.append(HPADocument(hpa, document.origin(f'HorizontalPodAutoscaler "{hpa.name}"')))
        elif kind == "HorizontalPodAutoscaler":
            supported = ", ".join(f'"{v}"' for v in HPA_API_VERSIONS)
            findings.fail(
                document.origin(), "apiVersion", f"Unsupported value: {_quote(api)}: supported values: {supported}"
            )
        elif kind in API_VERSIONS:
            findings.fail(
                document.origin(),
                "apiVersion",
                f'Unsupported value: {_quote(api)}: supported values: "{API_VERSIONS[kind]}"',
            )
        else:
            ignored.append(document.content)
            findings.warn(document.origin(), f"kind {kind!r} is not simulated and is ignored")
    return ScenarioDocuments(tuple(services), tuple(deployments), simulation, tuple(ignored), tuple(hpas))


def _documents(parsed: Sequence[tuple[int, int | None, Any]], findings: Findings) -> list[_Document]:
    """Each document that is a mapping, with its number and first line (others are reported)."""
    out = []
    for number, line, content in parsed:
        if not isinstance(content, dict):
            where = f"document {number}" + (f" (line {line})" if line is not None else "")
            findings.fail(Origin(number, where), "", "must be a mapping with apiVersion and kind")
            continue
        out.append(_Document(number, line, content))
    return out


def _type_meta_ok(document: _Document, findings: Findings) -> bool:
    """apiVersion and kind must be strings, or kubectl cannot even decode the object."""
    ok = True
    for key in ("apiVersion", "kind"):
        value = document.content.get(key)
        if value is not None and not isinstance(value, str):
            findings.fail(
                document.origin(),
                key,
                f"cannot unmarshal {json_type(value)} into Go struct field TypeMeta.{key} of type string",
            )
            ok = False
    return ok


def _simulation(content: dict[str, Any], origin: Origin, findings: Findings, folder: Path | None) -> SimulationDocument:
    fields = FieldReader()
    simulation = parse_simulation(content, fields, folder)
    for path, message in fields.problems:
        findings.fail(origin, path, message)
    return SimulationDocument(simulation, origin, valid=not fields.problems)


def _kube_object(
    kind: str,
    parse: Callable[[dict[str, Any]], tuple[_Object | None, list[FieldError]]],
    document: _Document,
    origin: Origin,
    earlier: Sequence[_Object],
    findings: Findings,
) -> _Object | None:
    """Parse one Kubernetes object, reporting its problems at ``origin`` as the API server words them.

    A valid object is returned even if its name comes earlier (that is reported), so that
    references to it do not fail a second time.
    """
    obj, field_errors = parse(document.content)
    for error in field_errors:
        findings.fail(origin, error.path, error.detail)
    if obj is not None and any(item.name == obj.name for item in earlier):
        findings.fail(origin, "metadata.name", f'Duplicate value: "{obj.name}": a {kind} with this name comes earlier')
    return obj


def _quote(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else "null" if value is None else str(value)
