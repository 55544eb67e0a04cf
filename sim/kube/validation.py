"""The API server's validation vocabulary, shared by the Service and Deployment parsers.

Field errors carry a path and the API server's own detail text
(k8s.io/apimachinery/pkg/util/validation and pkg/apis/core/validation), and values are
rendered in messages the way Go prints them (docs/semantics.md#service-defaults-and-validation).
Before validation, the API server's JSON decoder refuses a value of the wrong type and, with
kubectl's default strict field validation, an unknown field; :func:`decode_object`,
:func:`decode_int` and :func:`decode_int_or_string` say so in its words
(docs/semantics.md#strict-fields-and-types).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar

__all__ = [
    "DNS1035",
    "DNS1035_MAX_LENGTH",
    "DNS1035_MSG",
    "DNS1123",
    "DNS1123_LABEL",
    "DNS1123_LABEL_MAX_LENGTH",
    "DNS1123_LABEL_MSG",
    "DNS1123_MSG",
    "DNS1123_SUBDOMAIN_MAX_LENGTH",
    "IANA_SVC_NAME",
    "MAX_SHOWN_CHARS",
    "NEGATIVE_MSG",
    "FieldError",
    "byte_length",
    "decode_int",
    "decode_int_or_string",
    "decode_object",
    "default",
    "dns1123_label_problems",
    "dns1123_subdomain_problems",
    "go",
    "go_map",
    "go_quote",
    "is_str_map",
    "json_number",
    "mapping",
    "max_length_problem",
    "member",
    "nonnegative",
    "object_name",
    "one_line",
    "port_name_problems",
    "regex_error",
    "sequence",
    "unmarshal_error",
    "unsupported",
    "valid_port",
]

_Choice = TypeVar("_Choice", bound=StrEnum)

DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
IANA_SVC_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$")
DNS1035_MAX_LENGTH = 63
DNS1123_SUBDOMAIN_MAX_LENGTH = 253
DNS1123_LABEL_MAX_LENGTH = 63
DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
    "an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
DNS1123_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
#: apimachinery's IsNegativeErrorMsg, ValidateNonnegativeField's detail.
NEGATIVE_MSG = "must be greater than or equal to 0"
#: Values longer than this are shortened in messages (svcsim's choice: the API server prints them whole).
#: It is above the longest name Kubernetes accepts (a 253-character DNS-1123 subdomain), so every
#: value a valid object can hold is shown exactly as ``kubectl apply`` shows it.
MAX_SHOWN_CHARS = 256
_SHOWN_PREFIX_CHARS = 64
_GO_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    '"': '\\"',
    "\\": "\\\\",
}


_LINE_BREAKS = {
    ord(ch): f"\\x{ord(ch):02x}" if ord(ch) < 0x80 else f"\\u{ord(ch):04x}"
    for ch in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
} | {ord("\n"): "\\n", ord("\r"): "\\r"}


@dataclass(frozen=True)
class FieldError:
    """One validation failure: ``path`` in the manifest and the API server's ``detail``;
    ``decoding`` when it is the JSON decoder's refusal, which comes before any validation."""

    path: str
    detail: str
    decoding: bool = False


def object_name(
    meta: dict[str, Any], errors: list[FieldError], pattern: re.Pattern[str], msg: str, max_length: int
) -> str:
    """``metadata.name``: required, and a DNS-1035 label (Services) or DNS-1123 subdomain (the rest).

    Each failed rule is its own error, as ValidateObjectMeta reports them.
    """
    name = meta.get("name")
    if not name:
        errors.append(FieldError("metadata.name", "Required value: name or generateName is required"))
        return ""
    if not isinstance(name, str):
        errors.append(FieldError("metadata.name", f"Invalid value: {go(name)}: {msg}"))
        return str(name)
    problems = [max_length_problem(max_length)] if byte_length(name) > max_length else []
    if not pattern.fullmatch(name):  # fullmatch: `$` alone would accept a trailing newline
        problems.append(msg)
    errors.extend(FieldError("metadata.name", f"Invalid value: {go(name)}: {p}") for p in problems)
    return name


def max_length_problem(limit: int) -> str:
    """apimachinery's MaxLenError."""
    return f"must be no more than {limit} characters"


def dns1123_subdomain_problems(name: str) -> list[str]:
    """apimachinery's IsDNS1123Subdomain: the rule for Node names (ValidateNodeName) and most objects."""
    too_long = byte_length(name) > DNS1123_SUBDOMAIN_MAX_LENGTH
    problems = [max_length_problem(DNS1123_SUBDOMAIN_MAX_LENGTH)] if too_long else []
    if not DNS1123.fullmatch(name):
        problems.append(DNS1123_MSG)
    return problems


def dns1123_label_problems(name: str) -> list[str]:
    """apimachinery's IsDNS1123Label: the rule for container names (validateContainerCommon).

    A valid subdomain that is not a label can only have dots, and is told so.
    """
    problems = [max_length_problem(DNS1123_LABEL_MAX_LENGTH)] if byte_length(name) > DNS1123_LABEL_MAX_LENGTH else []
    if not DNS1123_LABEL.fullmatch(name):
        problems.append("must not contain dots" if DNS1123.fullmatch(name) else DNS1123_LABEL_MSG)
    return problems


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """apimachinery's RegexError, double space after each example's comma included."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def byte_length(text: str) -> int:
    """Go's ``len`` of a string: its UTF-8 bytes, which is what the API server's length limits count."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def mapping(value: Any, path: str, errors: list[FieldError]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.append(FieldError(path, f"Invalid value: {go(value)}: must be a mapping"))
        return {}
    return value


def sequence(value: Any, path: str, errors: list[FieldError]) -> list[Any]:
    """A list field; anything else is reported (a JSON decoder would refuse it) and read as empty."""
    if value is None:
        return []
    if not isinstance(value, list):
        errors.append(FieldError(path, f"Invalid value: {go(value)}: must be a list"))
        return []
    return value


def nonnegative(value: Any, path: str, owner: str, default: int, errors: list[FieldError]) -> int | None:
    """An int32 field of Go struct ``owner``, decoded (:func:`decode_int`), then checked as
    ValidateNonnegativeField does; ``default`` when omitted, None for either problem."""
    if value is None:
        return default
    number = decode_int(value, path, owner, 32, errors)
    if number is not None and number < 0:
        errors.append(FieldError(path, f"Invalid value: {number}: {NEGATIVE_MSG}"))
        return None
    return number


def decode_object(
    value: Any, path: str, owner: str, go_type: str, fields: tuple[str, ...], errors: list[FieldError]
) -> dict[str, Any]:
    """A struct-valued field as the strict decoder reads it: omitted or null is ``{}``; anything
    but a mapping is an unmarshal error (and ``{}``); each key outside ``fields`` (the struct's
    JSON names) is its own ``strict decoding error: unknown field``, naming the key's full path.

    ``owner`` is the Go struct holding the field, ``go_type`` the field's type, as the decoder
    names them (``Container``, ``v1.Probe``).
    """
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.append(unmarshal_error(value, path, owner, go_type))
        return {}
    for key in value:
        if key not in fields:
            full = f"{path}.{key}"
            errors.append(FieldError(full, f"strict decoding error: unknown field {go_quote(full)}", decoding=True))
    return value


def decode_int(value: Any, path: str, owner: str, bits: int, errors: list[FieldError]) -> int | None:
    """An ``int32`` or ``int64`` (``bits``) field as the decoder reads it; None when omitted (or
    null), or when it is refused. A YAML float with an integral value is that integer: kubectl
    sends YAML as JSON, where ``2.0`` is written ``2``."""
    if value is None:
        return None
    number = _integral(value)
    if number is None or not -(2 ** (bits - 1)) <= number < 2 ** (bits - 1):
        errors.append(unmarshal_error(value, path, owner, f"int{bits}"))
        return None
    return number


def decode_int_or_string(value: Any, path: str, owner: str, errors: list[FieldError]) -> int | str | None:
    """An ``intstr.IntOrString`` field: a string as it is, else an int32 (its UnmarshalJSON);
    None when omitted or refused."""
    if isinstance(value, str):
        return value
    return decode_int(value, path, owner, 32, errors)


def unmarshal_error(value: Any, path: str, owner: str, go_type: str) -> FieldError:
    """Go's UnmarshalTypeError with the decoder's context: the struct holding the field and the
    field's JSON path without list indexes (``Probe.spec.template.spec.containers.readinessProbe.periodSeconds``).

    A value JSON cannot hold (YAML's ``.inf``, ``.nan``) is refused as Go's encoder refuses it
    on the way from YAML to JSON.
    """
    if isinstance(value, float) and not math.isfinite(value):
        shown = "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
        return FieldError(path, f"json: unsupported value: {shown}", decoding=True)
    if isinstance(value, bool):
        kind = "bool"
    elif isinstance(value, int | float):
        # Go names the number only when it is read into a number it does not fit.
        numeric = go_type.startswith(("int", "uint", "float"))
        kind = f"number {json_number(value)}" if numeric else "number"
    elif isinstance(value, dict):
        kind = "object"
    elif isinstance(value, list):
        kind = "array"
    else:
        kind = "string"
    field = re.sub(r"\[[0-9]+\]", "", path)
    detail = f"json: cannot unmarshal {kind} into Go struct field {owner}.{field} of type {go_type}"
    return FieldError(path, detail, decoding=True)


def _integral(value: Any) -> int | None:
    """``value`` as the integer JSON would carry, or None (a bool, a string, a fraction...)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and abs(value) < 1e21:
        return int(value)  # Go writes such a float without a fraction or exponent
    return None


def json_number(value: int | float) -> str:
    """A number as Go's encoding/json writes it: integers whole, floats in their shortest form,
    positional from 1e-6 to 1e21 and with an exponent (``1e+21``, ``1e-7``) outside."""
    if isinstance(value, int):
        return str(value)
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    text = repr(value)  # the shortest digits; Python writes an exponent outside [1e-4, 1e16)
    if 1e-6 <= abs(value) < 1e21:
        return (format(Decimal(text), "f") if "e" in text else text).removesuffix(".0")
    mantissa, exponent = text.split("e")
    return f"{mantissa}e{exponent}".replace("e-0", "e-")  # Go: 1e+21, 1e-7


def default(value: Any, default: Any) -> Any:
    """The API server's defaulting: an omitted field and an empty string both get ``default``."""
    return default if value is None or value == "" else value


def port_name_problems(name: str) -> list[str]:
    """apimachinery's IsValidPortName (pkg/util/validation/validation.go), message for message."""
    problems = []
    if len(name) > 15:
        problems.append("must be no more than 15 characters")
    if not re.fullmatch(r"[-a-z0-9]+", name):
        problems.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search(r"[a-z]", name):
        problems.append("must contain at least one letter (a-z)")
    if "--" in name:
        problems.append("must not contain consecutive hyphens")
    if name and (name[0] == "-" or name[-1] == "-"):
        problems.append("must not begin or end with a hyphen")
    return problems


def valid_port(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535


def is_str_map(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())


def member(kind: type[_Choice], value: Any) -> _Choice | None:
    """The member of the fixed-choice field ``kind`` whose value is ``value``, or None.

    (Python 3.11's ``value in kind`` raises TypeError for a plain string.)
    """
    return next((choice for choice in kind if choice == value), None)


def unsupported(path: str, value: Any, supported: Iterable[str]) -> FieldError:
    """NotSupported: ``value`` is none of the ``supported`` values, which are listed in order."""
    choices = ", ".join(f'"{s}"' for s in supported)
    return FieldError(path, f"Unsupported value: {go(value)}: supported values: {choices}")


def go(value: Any) -> str:
    """Render a value as the API server does in messages: strings quoted (Go's ``%q``), numbers bare."""
    if isinstance(value, str):
        return go_quote(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def go_map(labels: Mapping[str, str]) -> str:
    inner = ", ".join(f"{go_quote(k)}:{go_quote(v)}" for k, v in sorted(labels.items()))
    return f"map[string]string{{{inner}}}"


def go_quote(text: str) -> str:
    """``text`` as Go's ``%q`` (strconv.Quote) prints it, so a message stays on one line.

    A value longer than :data:`MAX_SHOWN_CHARS` is shortened to its start and its length,
    ``"aaaa"... (300 characters)``: the API server prints it whole, but a pasted blob
    repeated in every line of a report helps nobody.
    """
    length = len(text)
    shown = text[:_SHOWN_PREFIX_CHARS] if length > MAX_SHOWN_CHARS else text
    if shown.isprintable() and '"' not in shown and "\\" not in shown:
        quoted = f'"{shown}"'
    else:
        quoted = '"' + "".join(_go_escape(ch) for ch in shown) + '"'
    return quoted if shown is text else f"{quoted}... ({length} characters)"


def one_line(text: str) -> str:
    """``text`` with every character that would start a new line (``str.splitlines``) escaped.

    User text reaches messages in field paths too (a mapping key with a newline); one problem
    must stay one line.
    """
    return text.translate(_LINE_BREAKS) if not text.isprintable() else text


def _go_escape(ch: str) -> str:
    """One character as strconv.Quote writes it: printable as is, the rest escaped."""
    if ch in _GO_ESCAPES:
        return _GO_ESCAPES[ch]
    if ch.isprintable():
        return ch
    code = ord(ch)
    if code < 0x20 or code == 0x7F:
        return f"\\x{code:02x}"
    if 0xD800 <= code <= 0xDFFF:  # not a valid rune: Go prints the replacement character
        code = 0xFFFD
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
