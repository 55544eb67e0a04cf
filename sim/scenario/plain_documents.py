"""A scenario given as Python data: a list of dicts, one per document, checked as YAML would be read.

``sim.load_scenario([...])`` takes the documents as ``yaml.safe_load_all`` gives them. They are
copied into the same shapes the YAML reader produces (mapping keys as text, tuples as lists),
so the loader then checks them exactly as it checks a file; anything YAML could not have
written (a Python object, a set) is refused with the field it is at.
"""

from __future__ import annotations

import datetime
import numbers
from collections.abc import Mapping
from typing import Any

from sim.errors import Problem, ScenarioError
from sim.kube.validation import one_line

__all__ = ["DOCUMENTS_NAME", "plain_documents", "plain_value"]

#: The file name messages give a scenario loaded from a list of dicts.
DOCUMENTS_NAME = "<documents>"

_MAX_DEPTH = 100  # far beyond any manifest; a dict that contains itself stops here


def plain_documents(source: Any) -> list[tuple[int, None, Any]]:
    """``(number, None, content)`` for each document of ``source``, a list (or tuple) of dicts.

    Raises
    ------
    ScenarioError
        If ``source`` is not a list, or for each value YAML could not hold, naming document and field.
    """
    if isinstance(source, Mapping) or not isinstance(source, list | tuple):
        what = type(source).__name__
        message = f"a scenario is a file path, YAML text or a list of documents (dicts), not a {what}"
        raise ScenarioError([Problem(DOCUMENTS_NAME, "", "", message)])
    problems: list[Problem] = []
    out: list[tuple[int, None, Any]] = []
    for number, document in enumerate(source, start=1):
        if document is None:  # an empty document, as between two ``---``
            continue
        found: list[tuple[str, str]] = []
        out.append((number, None, _plain(document, "", found, 0)))
        problems += [Problem(DOCUMENTS_NAME, f"document {number}", path, message) for path, message in found]
    if problems:
        raise ScenarioError(problems)
    return out


def plain_value(value: Any) -> tuple[Any, list[tuple[str, str]]]:
    """``value`` copied into the YAML reader's shapes, and ``(path within it, message)`` for each
    part that YAML could not hold."""
    found: list[tuple[str, str]] = []
    return _plain(value, "", found, 0), found


def _plain(value: Any, path: str, found: list[tuple[str, str]], depth: int) -> Any:
    """A copy of ``value`` in the YAML reader's shapes; what cannot be is noted in ``found``."""
    if depth > _MAX_DEPTH:
        found.append((path, f"Invalid value: nested more than {_MAX_DEPTH} levels deep (does it contain itself?)"))
        return None
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            text = _key_text(key)
            out[text] = _plain(item, f"{path}.{text}" if path else text, found, depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [_plain(item, f"{path}[{i}]", found, depth + 1) for i, item in enumerate(value)]
    if value is None or isinstance(value, str | bool | datetime.date):
        return value
    if isinstance(value, numbers.Integral):  # numpy's integers too
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    message = f"Invalid value: a Python {type(value).__name__}: only YAML values (mappings, lists, text, numbers, "
    found.append((path, message + "true/false, null) can be read"))
    return None


def _key_text(key: Any) -> str:
    """A mapping key as text, as the YAML reader makes it (``1:`` is ``"1"``, ``true:`` is ``"true"``)."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    return "null" if key is None else one_line(str(key))
