"""Label keys and values as the API server checks them, wherever labels appear.

A key is a qualified name: an optional DNS-1123 subdomain prefix (at most 253 characters) and
``/``, then a name of at most 63 characters of ``[A-Za-z0-9_.-]`` that starts and ends with an
alphanumeric. A value is empty or follows the name rule (k8s.io/apimachinery
pkg/util/validation: IsQualifiedName, IsValidLabelValue; ValidateLabels in
pkg/apis/meta/v1/validation). The same rule covers ``metadata.labels``, a Service's
``spec.selector``, a selector's ``matchLabels`` and ``matchExpressions``, pod template labels,
``nodeSelector`` and Node labels.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sim.kube.validation import (
    FieldError,
    byte_length,
    dns1123_subdomain_problems,
    go,
    is_str_map,
    max_length_problem,
    regex_error,
)

__all__ = [
    "LABEL_NAME_MAX_LENGTH",
    "LABEL_VALUE_MAX_LENGTH",
    "label_errors",
    "label_key_problems",
    "label_value_problems",
    "read_labels",
]

LABEL_NAME_MAX_LENGTH = 63
LABEL_VALUE_MAX_LENGTH = 63
_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_VALUE_FMT = f"({_NAME_FMT})?"
_NAME = re.compile(_NAME_FMT)
_VALUE = re.compile(_VALUE_FMT)
_NAME_MSG = regex_error(
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
    _NAME_FMT,
    "MyName",
    "my.name",
    "123-abc",
)
_PREFIX_HINT = " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
_VALUE_MSG = regex_error(
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character",
    _VALUE_FMT,
    "MyValue",
    "my_value",
    "12345",
)


def label_key_problems(key: str) -> list[str]:
    """IsQualifiedName, message for message: prefix problems first, then the name's."""
    parts = key.split("/")
    if len(parts) > 2:
        return [f"a qualified name {_NAME_MSG}{_PREFIX_HINT}"]
    problems: list[str] = []
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            problems.append("prefix part must be non-empty")
        else:
            problems.extend(f"prefix part {p}" for p in dns1123_subdomain_problems(prefix))
    if not name:
        problems.append("name part must be non-empty")
    elif byte_length(name) > LABEL_NAME_MAX_LENGTH:
        problems.append(f"name part {max_length_problem(LABEL_NAME_MAX_LENGTH)}")
    if not _NAME.fullmatch(name):  # an empty name fails here too, as upstream reports it twice
        problems.append(f"name part {_NAME_MSG}")
    return problems


def label_value_problems(value: str) -> list[str]:
    """IsValidLabelValue: at most 63 characters, empty or a name."""
    problems = [max_length_problem(LABEL_VALUE_MAX_LENGTH)] if byte_length(value) > LABEL_VALUE_MAX_LENGTH else []
    if not _VALUE.fullmatch(value):
        problems.append(_VALUE_MSG)
    return problems


def label_errors(labels: Mapping[str, str], path: str) -> list[FieldError]:
    """ValidateLabels: each key's problems, then its value's, all on the map's own ``path``.

    Keys are taken in sorted order (Go's map order is random, svcsim's output is not).
    """
    errors: list[FieldError] = []
    for key in sorted(labels):
        errors.extend(FieldError(path, f"Invalid value: {go(key)}: {p}") for p in label_key_problems(key))
        value = labels[key]
        errors.extend(FieldError(path, f"Invalid value: {go(value)}: {p}") for p in label_value_problems(value))
    return errors


def read_labels(raw: Any, path: str, errors: list[FieldError], *, reported_at: str | None = None) -> dict[str, str]:
    """The label map at ``path`` (an omitted or empty one is ``{}``), checked with ValidateLabels.

    Anything but a map of strings is reported at ``path`` and read as ``{}``. ``reported_at`` is
    the path the API server names for the labels' own problems where it differs: pod template
    labels are checked as ``spec.template.labels`` (ValidatePodTemplateSpec).
    """
    if not raw:
        return {}
    if not is_str_map(raw):
        errors.append(FieldError(path, f"Invalid value: {go(raw)}: must be a map of strings"))
        return {}
    errors.extend(label_errors(raw, reported_at or path))
    return dict(raw)
