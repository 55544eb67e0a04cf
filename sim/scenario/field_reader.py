"""Reading user fields with their paths: every problem is collected as ``(field path, message)``.

Used for the Simulation document, where unknown fields are errors: the reader checks the
keys of each mapping and parses durations, distributions, numbers, choices and CIDRs,
recording one message per problem instead of stopping at the first.
"""

from __future__ import annotations

import ipaddress
import math
import re
from enum import StrEnum
from typing import Any, TypeVar

import yaml

from sim.distributions import Distribution, parse_distribution, parse_seconds
from sim.kube.validation import go, member
from sim.scenario.run_limits import MAX_DURATION_S
from sim.units import format_duration

__all__ = ["FieldReader", "yaml11_number_hint"]

_Choice = TypeVar("_Choice", bound=StrEnum)

# What YAML 1.2 (and JSON, and Go's decoder) read as a number but PyYAML's YAML 1.1 resolver
# leaves as text: an exponent without a dot in the mantissa or without a sign (1e12, 2.5e3).
_YAML11_TEXT_NUMBER = re.compile(r"[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)[eE][-+]?[0-9]+")


def yaml11_number_hint(value: Any, *, integer: bool = False) -> str:
    """How to write a number that YAML read as text, as a parenthesised hint ("" if not a number).

    PyYAML follows YAML 1.1, where ``1e12`` is a string: a float needs a dot and a signed
    exponent (``1.0e+12``). A number in quotes is text in any YAML version.
    """
    if not (isinstance(value, str) and value.isascii()):  # float() also reads other scripts' digits
        return ""
    text = value.strip()
    try:
        number = float(text.replace("_", ""))
        read_as_text = isinstance(yaml.safe_load(text), str)  # else it was a number in quotes
    except (ValueError, yaml.YAMLError):
        return ""
    if not math.isfinite(number):
        return ""
    if integer and number.is_integer() and abs(number) < 1e15:
        written = str(int(number))
    elif read_as_text and _YAML11_TEXT_NUMBER.fullmatch(text):
        mantissa, marker, exponent = text.replace("_", "").replace("E", "e").partition("e")
        mantissa += "" if "." in mantissa else ".0"
        exponent = exponent if exponent[0] in "+-" else f"+{exponent}"
        written = f"{mantissa}{marker}{exponent}"
    else:
        written = text
    if read_as_text:
        return f" (write {written}: YAML 1.1 reads {text} as text)"
    return f" (write {written} without quotes: a quoted number is text)"


class FieldReader:
    """Reads user fields by path, each method returning a usable value even when the field is
    wrong, and collects every problem as ``(field path, message)`` in ``problems``."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    def fail(self, path: str, message: str) -> None:
        """Record a problem with the field at ``path``."""
        self.problems.append((path, message))

    def listing(self, value: Any, path: str, what: str) -> list[Any]:
        """``value`` as a list (an omitted field is empty); anything else is reported."""
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(path, f"must be a list of {what}")
            return []
        return value

    def keys(self, value: Any, path: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict[str, Any]:
        """Check ``value`` is a mapping with only ``allowed`` keys; return it (or {})."""
        if value is None:
            value = {}
        if not isinstance(value, dict):
            self.fail(path, f"must be a mapping, got {value!r}")
            return {}
        for key in value:
            if key not in allowed:
                self.fail(_join(path, key), f"unknown field; expected one of: {', '.join(allowed)}")
        for key in required:
            if key not in value:
                self.fail(_join(path, key), "Required value")
        return value

    def duration(self, value: Any, path: str, default: float | None = None, positive: bool = False) -> float:
        """``value`` in seconds (``default`` when absent); ``positive``: zero is refused too.
        Exactly one problem per bad value: a value that cannot be read is not also "not > 0"."""
        if value is None:
            if default is None:
                self.fail(path, "Required value")
                return 0.0
            return default
        try:
            seconds = parse_seconds(value)
        except ValueError as err:
            self.fail(path, f"{err}{yaml11_number_hint(value)}")
            return 0.0
        if seconds > MAX_DURATION_S:  # a typo such as 1e30; nothing svcsim models lasts longer than a run may
            limit = f"{format_duration(MAX_DURATION_S)} (30 days) of simulated time"
            self.fail(path, f"Invalid value: {format_duration(seconds)}: must be at most {limit}")
            return 0.0
        if positive and seconds <= 0:
            self.fail(path, "must be > 0")
        return seconds

    def distribution(self, value: Any, path: str, allow_zero: bool = True) -> Distribution | None:
        try:
            return parse_distribution(value, allow_zero_mean=allow_zero)
        except ValueError as err:
            text = str(err)
            head, sep, rest = text.partition(": ")
            if sep and head.isidentifier():
                hint = yaml11_number_hint(value.get(head)) if isinstance(value, dict) else ""
                self.fail(f"{path}.{head}", rest + hint)
            else:
                self.fail(path, text + yaml11_number_hint(value))
            return None

    def number(
        self,
        value: Any,
        path: str,
        *,
        integer: bool = False,
        minimum: float = 0,
        strict: bool = False,
        maximum: float | None = None,
        why: str = "",
    ) -> float:
        """A finite number (an integer if ``integer``) >= ``minimum`` (> if ``strict``), <= ``maximum``.

        ``why`` says where a maximum comes from (svcsim's limits are not Kubernetes').
        """
        ok = not isinstance(value, bool) and (
            isinstance(value, int) or (not integer and isinstance(value, float) and math.isfinite(value))
        )
        if ok and not integer and abs(value) >= 2**1024:  # an int no float can hold
            ok = False
        shown = _shown(value)
        if ok and (value > minimum if strict else value >= minimum):
            if maximum is None or value <= maximum:
                return value
            limit = int(maximum) if float(maximum).is_integer() else maximum
            because = f" ({why})" if why else ""
            self.fail(path, f"Invalid value: {shown}: must be less than or equal to {limit}{because}")
            return maximum
        sign = ">" if strict else ">="
        what = "an integer" if integer else "a finite number"
        hint = yaml11_number_hint(value, integer=integer)
        self.fail(path, f"Invalid value: {shown}: must be {what} {sign} {minimum:g}{hint}")
        return minimum

    def fraction(self, value: Any, path: str) -> float:
        """A share between 0 and 1: a percentage (``"20%"``, ``"0.1%"``) or a number (``0.2``).

        A bare number above 1 is refused with a hint (``5`` is more likely 5 % than 500 %)."""
        number: float | None = None
        if isinstance(value, str) and value.strip().endswith("%"):
            text = value.strip()[:-1].strip()
            try:
                number = float(text) / 100 if text.isascii() and text else None
            except ValueError:
                number = None
        elif isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
        if number is not None and math.isfinite(number) and 0 <= number <= 1:
            return number
        shown = go(value) if isinstance(value, str) else _shown(value)
        hint = ""
        if isinstance(value, int | float) and not isinstance(value, bool) and 1 < value <= 100:
            hint = f' (write "{value:g}%" for {value:g} percent)'
        self.fail(path, f'Invalid value: {shown}: must be a fraction from 0 to 1 or a percentage such as "20%"{hint}')
        return 0.0

    def integer(self, value: Any, path: str, *, minimum: float = 0, maximum: float | None = None, why: str = "") -> int:
        """:meth:`number` for an integer field, as an ``int``."""
        return int(self.number(value, path, integer=True, minimum=minimum, maximum=maximum, why=why))

    def string(self, value: Any, path: str) -> str:
        """A non-empty string (a name, a reference to one); anything else is reported."""
        if isinstance(value, str) and value:
            return value
        self.fail(path, f"Invalid value: {value!r}: must be a non-empty string")
        return ""

    def port(self, value: Any, path: str) -> int | str | None:
        """A port given by number (1-65535) or by name, as Service ports are named."""
        if value is None or (isinstance(value, str) and value):
            return value
        if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535:
            return value
        self.fail(path, f"Invalid value: {value!r}: must be a port number (1-65535) or a port name")
        return None

    def choice(self, value: Any, path: str, choices: tuple[str, ...]) -> str:
        if value in choices:
            return str(value)
        self._unsupported(value, path, choices)
        return choices[0]

    def one_of(self, value: Any, path: str, kind: type[_Choice]) -> _Choice:
        """``value`` as a member of the fixed-choice field ``kind``; if it is none, that is
        reported with the supported values in order, and the first member stands in."""
        found = member(kind, value)
        if found is None:
            self._unsupported(value, path, tuple(kind))
            return next(iter(kind))
        return found

    def _unsupported(self, value: Any, path: str, choices: tuple[str, ...]) -> None:
        listed = ", ".join(f'"{c}"' for c in choices)
        shown = go(value) if isinstance(value, str | bool) or value is None else _shown(value)
        self.fail(path, f"Unsupported value: {shown}: supported values: {listed}")

    def cidr(self, value: Any, path: str) -> ipaddress.IPv4Network:
        try:
            return ipaddress.IPv4Network(str(value), strict=True)
        except ValueError as err:
            self.fail(path, f"Invalid value: {value!r}: must be an IPv4 CIDR such as 10.244.0.0/16 ({err})")
            return ipaddress.IPv4Network("0.0.0.0/0")


def _shown(value: Any) -> str:
    """``repr(value)``, with an integer of more than 20 digits shortened (1.23e+400)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**20:
        digits = str(abs(value))
        return f"{'-' if value < 0 else ''}{digits[0]}.{digits[1:3]}e+{len(digits) - 1}"
    return repr(value)


def _join(path: str, key: object) -> str:
    """``spec.cluster`` + ``nodes``; a key of the document itself has no leading dot."""
    return f"{path}.{key}" if path else str(key)
