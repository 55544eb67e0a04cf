"""Changing a loaded scenario by field paths, then checking it again in full (README "Changing a scenario").

A change names a field of one of the scenario's documents and gives it a new value:

- ``deployment/myapp.spec.replicas``: a Kubernetes object by kind and name (``deployment/``,
  ``service/``, ``horizontalpodautoscaler/`` or ``hpa/``), then the field path in its manifest;
- ``simulation.spec.clients[laptop].rate``: the Simulation document;
- ``[0]`` picks a list item by index, ``[laptop]`` the item whose ``name`` is ``laptop`` (on a
  mapping, ``[key]`` is that key, for keys with dots such as ``app.kubernetes.io/name``);
- a missing key is created (``simulation.spec.slo.latency.p99``), a missing list item is not.

The changed documents go through the whole loader again (:func:`sim.scenario.load.load_documents`),
so every check and every message is the one a file would get; a problem at a changed field
names the change (``--set deployment/myapp.spec.replicas: document 2 ...``). The command line's
``--set PATH=VALUE`` reads VALUE as YAML (:func:`parse_set`) and applies the same changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from sim.errors import Problem, ScenarioError
from sim.kube.validation import one_line
from sim.scenario.load import load_documents
from sim.scenario.plain_documents import plain_value
from sim.scenario.resolved import copy_data
from sim.scenario.yaml_reader import json_type

if TYPE_CHECKING:
    from sim.scenario.resolved import Scenario

__all__ = ["KINDS", "apply_changes", "parse_set"]

#: The kinds a path may start with (``kind/name.``), as kubectl spells them, and the kind they name.
KINDS = {
    "deployment": "Deployment",
    "deployments": "Deployment",
    "deploy": "Deployment",
    "service": "Service",
    "services": "Service",
    "svc": "Service",
    "horizontalpodautoscaler": "HorizontalPodAutoscaler",
    "horizontalpodautoscalers": "HorizontalPodAutoscaler",
    "hpa": "HorizontalPodAutoscaler",
}
_EXAMPLE = "deployment/myapp.spec.replicas or simulation.spec.clients[laptop].rate"


class _PathError(Exception):
    """A change that names no field: its message says what is there instead."""


def parse_set(text: str, source: str) -> tuple[str, Any]:
    """``(path, value)`` from the command line's ``PATH=VALUE``, VALUE read as YAML (``8`` is a number).

    Raises
    ------
    ScenarioError
        Without ``=``, with nothing after it, or when VALUE is not YAML; naming ``--set`` and the path.
    """
    path, equals, value_text = text.partition("=")
    if not equals:
        raise ScenarioError(
            [
                Problem(
                    source,
                    "",
                    f"--set {one_line(text)}",
                    "expected PATH=VALUE, such as deployment/myapp.spec.replicas=8",
                )
            ]
        )
    if not value_text.strip():
        message = "no value after '=' (write '' for empty text, null for none)"
        raise ScenarioError([Problem(source, "", f"--set {one_line(path)}", message)])
    try:
        value = yaml.safe_load(value_text)
    except yaml.YAMLError as err:
        problem = " ".join(str(getattr(err, "problem", None) or err).split())
        raise ScenarioError(
            [Problem(source, "", f"--set {one_line(path)}", f"cannot read the value as YAML: {problem}")]
        ) from None
    return path, value


def apply_changes(scenario: Scenario, changes: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> Scenario:
    """``scenario`` with ``changes`` (path to value, applied in order) made to its documents, loaded again.

    Raises
    ------
    ScenarioError
        For every path that names nothing, else for every problem the loader finds.
    """
    return load_changed(scenario.source, scenario.documents, scenario.folder, changes)


def load_changed(
    source: str,
    original: Sequence[tuple[int, int | None, Any]],
    folder: Path | None,
    changes: Mapping[str, Any] | Iterable[tuple[str, Any]],
) -> Scenario:
    """Documents (of a scenario, or of a file as read and not yet checked: :func:`file_documents`)
    with ``changes`` made, then loaded and checked: ``svcsim --set`` changes a file before it is
    checked, so a value the file gets wrong can be set right."""
    items = list(changes.items()) if isinstance(changes, Mapping) else list(changes)
    documents = [(number, line, copy_data(content)) for number, line, content in original]
    problems: list[Problem] = []
    made: list[tuple[str, int, str]] = []  # (path, document number, field as the loader names it)
    for path, value in items:
        where = f"--set {one_line(str(path))}"
        try:
            if not isinstance(path, str):
                raise _PathError(f"a path is text, such as {_EXAMPLE}")
            if not documents:
                raise _PathError("this scenario keeps no documents to change (load it with sim.load_scenario)")
            plain, bad = plain_value(value)
            if bad:
                inner, message = bad[0]
                raise _PathError(f"{inner + ': ' if inner else ''}{message}")
            number, field = _set(documents, path, plain)
        except _PathError as err:
            problems.append(Problem(source, "", where, str(err)))
            continue
        made.append((where, number, field))
    if problems:
        raise ScenarioError(problems)
    try:
        return load_documents(source, documents, folder)
    except ScenarioError as err:
        raise ScenarioError([_blamed(problem, made) for problem in err.problems]) from None


def _set(documents: list[tuple[int, int | None, Any]], path: str, value: Any) -> tuple[int, str]:
    """Set the field ``path`` names to ``value``; ``(document number, field path)`` of what changed."""
    number, content, rest = _document(documents, path)
    tokens = _tokens(rest)
    node: Any = content
    where = ""
    for i, (is_item, text) in enumerate(tokens):
        last = i == len(tokens) - 1
        if is_item and isinstance(node, list):
            index = _item_index(node, text, where)
            label = f"{where}[{index}]"
            key: Any = index
        elif isinstance(node, dict):
            label, key = (f"{where}.{text}" if where else text), text
            if not last and node.get(text) is None:
                if tokens[i + 1][0]:
                    raise _PathError(f"{label} does not exist: there is no list to pick [{tokens[i + 1][1]}] from")
                node[text] = {}  # a missing key is created, and so are the mappings on the way
        else:
            what = "a list" if is_item else "a mapping"
            raise _PathError(
                f"{where} is {_kind_of(node)}, not {what}: it has no [{text}]"
                if is_item
                else f"{where} is {_kind_of(node)}, not {what}: it has no field {text!r}"
            )
        if last:
            node[key] = value
        else:
            node = node[key]
        where = label
    return number, where


def _document(documents: list[tuple[int, int | None, Any]], path: str) -> tuple[int, dict[str, Any], str]:
    """The document ``path`` starts with, and the field path after it."""
    head, dot, rest = path.partition(".")
    if head == "simulation":
        if not dot or not rest:
            raise _PathError("give a field of the Simulation, such as simulation.spec.duration")
        for number, _, content in documents:
            if content.get("kind") == "Simulation":
                return number, content, rest
        raise _PathError("the scenario has no Simulation document")  # a loaded scenario always has one
    kind_text, slash, named = path.partition("/")
    kind = KINDS.get(kind_text.lower()) if slash else None
    if kind is None:
        kinds = "deployment, service, horizontalpodautoscaler or hpa"
        raise _PathError(f"a path starts with simulation. or <kind>/<name>. (kind: {kinds}), such as {_EXAMPLE}")
    of_kind = [(n, c) for n, _, c in documents if c.get("kind") == kind]
    names = [str((c.get("metadata") or {}).get("name")) for _, c in of_kind]
    # A name may hold dots (my.app): the longest name the path goes on from is the one meant.
    fits = [
        (len(name), n, c, name) for (n, c), name in zip(of_kind, names, strict=True) if named.startswith(name + ".")
    ]
    if not fits:
        name = named.split(".")[0]
        if name in names:
            raise _PathError(f"give a field of the {kind}, such as {kind_text}/{name}.spec")
        known = f"the scenario's: {', '.join(names)}" if names else f"the scenario has no {kind}"
        raise _PathError(f'no {kind} named "{name}" ({known})')
    _, number, content, name = max(fits, key=lambda fit: fit[0])
    rest = named[len(name) + 1 :]
    if not rest:
        raise _PathError(f"give a field of the {kind}, such as {kind_text}/{name}.spec")
    return number, content, rest


def _tokens(rest: str) -> list[tuple[bool, str]]:
    """``(is a [subscript], text)`` for each step of a field path such as ``spec.clients[laptop].rate``."""
    tokens: list[tuple[bool, str]] = []
    i = 0
    expect_key = True
    while i < len(rest):
        if rest[i] == "[":
            end = rest.find("]", i)
            if end < 0:
                raise _PathError(f"unclosed [ in {rest!r}")
            if end == i + 1:
                raise _PathError(f"empty [] in {rest!r}: give an index or a name")
            tokens.append((True, rest[i + 1 : end]))
            i, expect_key = end + 1, False
        elif rest[i] == ".":
            if expect_key:
                raise _PathError(f"empty field name in {rest!r}")
            i, expect_key = i + 1, True
        else:
            if not expect_key:
                raise _PathError(f"expected . or [ after ] in {rest!r}")
            end = min((j for j in (rest.find(".", i), rest.find("[", i)) if j >= 0), default=len(rest))
            tokens.append((False, rest[i:end]))
            i, expect_key = end, False
    if expect_key:
        raise _PathError(f"empty field name in {rest!r}")
    return tokens


def _item_index(items: list[Any], text: str, where: str) -> int:
    """The index ``[text]`` picks: a number, or the first item whose ``name`` is ``text``."""
    if text.isdigit():
        index = int(text)
        if index >= len(items):
            raise _PathError(f"{where} has {len(items)} item(s): there is no [{index}]")
        return index
    for index, item in enumerate(items):
        if isinstance(item, dict) and item.get("name") == text:
            return index
    names = [str(item["name"]) for item in items if isinstance(item, dict) and "name" in item]
    known = f"names: {', '.join(names)}" if names else "its items have no name: pick one by index"
    raise _PathError(f'{where} has no item named "{text}" ({known})')


def _kind_of(value: Any) -> str:
    """What a value is, for a path that goes on past it: ``a number (3)``, ``a list``."""
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    shown = one_line(str(value))
    return f"{json_type(value)} ({shown[:40]})" if isinstance(value, bool) else f"a {json_type(value)} ({shown[:40]})"


def _blamed(problem: Problem, made: list[tuple[str, int, str]]) -> Problem:
    """``problem``, its document label starting with the change that set its field (if one did)."""
    if not problem.field:
        return problem
    for where, number, field in reversed(made):  # the last change of a field is the one in effect
        label = problem.document
        in_document = label == f"document {number}" or label.startswith((f"document {number} ", f"document {number}:"))
        related = any(
            a == b or a.startswith((b + ".", b + "[")) for a, b in ((problem.field, field), (field, problem.field))
        )
        if in_document and related:
            return Problem(problem.file, f"{where}: {label}", problem.field, problem.message)
    return problem
