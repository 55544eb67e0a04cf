"""Loading a scenario: one multi-document YAML file of real manifests plus one Simulation.

``load_scenario`` is a pipeline (:func:`load_documents`): read the documents (:mod:`sim.scenario.documents`: Kubernetes
objects with the API server's wording, the Simulation document strictly), resolve what
Kubernetes would fill in (:mod:`sim.scenario.resolve`: node and client IPs, ClusterIPs and
nodePorts), and check the references between documents (:mod:`sim.scenario.cross_checks`).
The result is a frozen :class:`~sim.scenario.resolved.Scenario`; all problems are reported
at once as a :class:`~sim.errors.ScenarioError`. A scenario may also be given as a list of
dicts (the documents, as YAML would parse them): the same pipeline checks them.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sim.errors import Problem, ScenarioError
from sim.scenario.cross_checks import cross_check
from sim.scenario.documents import SIMULATION_API, Findings, read_scenario_documents
from sim.scenario.plain_documents import DOCUMENTS_NAME, plain_documents
from sim.scenario.resolve import resolve_cluster, resolve_services
from sim.scenario.resolved import Scenario, copy_data
from sim.scenario.yaml_reader import MAX_FILE_BYTES, read_documents

__all__ = ["Scenario", "load_documents", "load_scenario"]


def load_scenario(source: str | os.PathLike[str] | Sequence[Mapping[str, Any]]) -> Scenario:
    """Load and check a scenario from a file path, from YAML text or from a list of documents.

    Parameters
    ----------
    source : path, str or list of dicts
        A path to a ``.yaml`` file, the YAML text itself (anything containing a newline), or
        the documents as dicts (as ``yaml.safe_load_all`` gives them; messages name them
        ``<documents>: document 2``).

    Raises
    ------
    ScenarioError
        With one line per problem, naming file, document and field.

    Examples
    --------
    >>> import sim
    >>> scenario = sim.load_scenario("scenarios/nodeport-basic.yaml")
    >>> scenario.service("myapp-service").ports[0].kubectl()
    '80:30008/TCP'
    """
    if not isinstance(source, str | os.PathLike):
        return load_documents(DOCUMENTS_NAME, plain_documents(source), None)
    name, text = _source_text(source)
    folder = Path(source).parent if name != "<string>" else None
    return load_documents(name, read_documents(name, text), folder)


def file_documents(path: str | os.PathLike[str]) -> tuple[str, list[tuple[int, int | None, Any]], Path]:
    """A scenario file's documents as read, not yet checked: ``(name for messages, documents,
    folder)``, what :func:`load_documents` takes (``svcsim --set`` changes them first)."""
    name, text = _source_text(path)
    return name, list(read_documents(name, text)), Path(path).parent


def load_documents(name: str, parsed: Sequence[tuple[int, int | None, Any]], folder: Path | None) -> Scenario:
    """Check parsed documents (``(number, first line or None, content)``) and resolve them.

    ``name`` is the file messages name; ``folder`` is where files the Simulation names (a
    rate's trace) are found (None: the working directory). The Scenario keeps the documents
    so that :meth:`~sim.scenario.resolved.Scenario.with_changes` can change and check them again.
    """
    findings = Findings(name)
    documents = read_scenario_documents(parsed, findings, folder)
    if documents.simulation is None:
        needed = f"a Simulation document (apiVersion: {SIMULATION_API}, kind: Simulation)"
        if findings.clean and not (documents.services or documents.deployments or documents.hpas or documents.ignored):
            empty = (
                "no documents" if name == DOCUMENTS_NAME else "file is empty (no YAML document, only comments or ---)"
            )
            findings.fail(None, "", f"{empty}: a scenario needs {needed}")
        elif findings.clean:
            findings.fail(None, "", f"no Simulation document (apiVersion: {SIMULATION_API}, kind: Simulation)")
        # As found, as svcsim has always listed them here: documents that are not mappings first.
        raise findings.error(in_file_order=False)
    simulation, origin = documents.simulation.simulation, documents.simulation.origin
    documents_clean = findings.clean
    services = tuple(d.service for d in documents.services)
    if documents.simulation.valid:
        # nodePort and ClusterIP conflicts belong with the other Service errors, so they are
        # looked for whenever the cluster's ranges are known, even if other documents failed.
        services = resolve_services(simulation, documents.services, findings)
    if documents_clean:
        simulation = resolve_cluster(simulation, origin, findings)
        cross_check(simulation, origin, services, documents.deployments, findings, documents.hpas)
    if not findings.clean:
        raise findings.error()
    return Scenario(
        name,
        simulation,
        services,
        tuple(d.deployment for d in documents.deployments),
        tuple(findings.warnings),
        documents.ignored,
        tuple(d.hpa for d in documents.hpas),
        documents=tuple((number, line, copy_data(content)) for number, line, content in parsed),
        folder=folder,
    )


def _source_text(source: str | os.PathLike[str]) -> tuple[str, str]:
    """``(name for messages, YAML text)``: a path is read as UTF-8; text containing a newline is used as is.

    Neither may exceed :data:`~sim.scenario.yaml_reader.MAX_FILE_BYTES`: a regular file that
    does is refused from its size, before reading; anything else is read no further.
    """
    if isinstance(source, os.PathLike) or (isinstance(source, str) and "\n" not in source):
        name = str(source)
        try:
            with open(source, "rb") as file:
                info = os.fstat(file.fileno())
                if stat.S_ISREG(info.st_mode) and info.st_size > MAX_FILE_BYTES:
                    raise ScenarioError([Problem(name, "", "", _too_large(info.st_size))])
                data = file.read(MAX_FILE_BYTES + 1)
        except OSError as err:
            raise ScenarioError([Problem(name, "", "", f"cannot read file: {err.strerror}")]) from None
        if len(data) > MAX_FILE_BYTES:  # a pipe or device: its size was not known
            raise ScenarioError([Problem(name, "", "", _too_large(None))])
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            byte = err.object[err.start]
            message = f"cannot read file: not UTF-8 text (byte 0x{byte:02x} at offset {err.start})"
            raise ScenarioError([Problem(name, "", "", message)]) from None
        return name, text.replace("\r\n", "\n").replace("\r", "\n")  # universal newlines, as text mode reads
    text = str(source)
    if len(text) > MAX_FILE_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise ScenarioError([Problem("<string>", "", "", _too_large(None))])
    return "<string>", text


def _too_large(size: int | None) -> str:
    limit = f"the {MAX_FILE_BYTES // 2**20} MiB ({MAX_FILE_BYTES} bytes) svcsim reads"
    return f"file is too large: {size} bytes, more than {limit}" if size else f"file is too large: more than {limit}"
