"""Reading user fields with their paths: every problem is collected as ``(field path, message)``.

Used for the Simulation document, where unknown fields are errors: the reader checks the
keys of each mapping and parses durations, distributions, numbers, choices and CIDRs,
recording one message per problem instead of stopping at the first.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from sim.distributions import Distribution, parse_distribution
from sim.units import parse_duration

__all__ = ["SpecErrors"]


class SpecErrors:
    """Collects ``(field path, message)`` pairs while a document is read."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.items.append((path, message))

    def keys(self, value: Any, path: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict[str, Any]:
        """Check ``value`` is a mapping with only ``allowed`` keys; return it (or {})."""
        if value is None:
            value = {}
        if not isinstance(value, dict):
            self.add(path, f"must be a mapping, got {value!r}")
            return {}
        for key in value:
            if key not in allowed:
                self.add(_join(path, key), f"unknown field; expected one of: {', '.join(allowed)}")
        for key in required:
            if key not in value:
                self.add(_join(path, key), "Required value")
        return value

    def duration(self, value: Any, path: str, default: float | None = None) -> float:
        if value is None:
            if default is None:
                self.add(path, "Required value")
                return 0.0
            return default
        try:
            return parse_duration(value)
        except ValueError as err:
            self.add(path, str(err))
            return 0.0

    def distribution(self, value: Any, path: str, allow_zero: bool = True) -> Distribution | None:
        try:
            return parse_distribution(value, allow_zero_mean=allow_zero)
        except ValueError as err:
            text = str(err)
            head, sep, rest = text.partition(": ")
            if sep and head.isidentifier():
                self.add(f"{path}.{head}", rest)
            else:
                self.add(path, text)
            return None

    def number(
        self, value: Any, path: str, *, integer: bool = False, minimum: float = 0, strict: bool = False
    ) -> float:
        kinds: tuple[type, ...] = (int,) if integer else (int, float)
        ok = isinstance(value, kinds) and not isinstance(value, bool)
        if ok and (value > minimum if strict else value >= minimum):
            return value
        sign = ">" if strict else ">="
        what = "an integer" if integer else "a number"
        self.add(path, f"Invalid value: {value!r}: must be {what} {sign} {minimum:g}")
        return minimum

    def choice(self, value: Any, path: str, choices: tuple[str, ...]) -> str:
        if value in choices:
            return str(value)
        listed = ", ".join(f'"{c}"' for c in choices)
        self.add(path, f"Unsupported value: {value!r}: supported values: {listed}")
        return choices[0]

    def cidr(self, value: Any, path: str) -> ipaddress.IPv4Network:
        try:
            return ipaddress.IPv4Network(str(value), strict=True)
        except ValueError as err:
            self.add(path, f"Invalid value: {value!r}: must be an IPv4 CIDR such as 10.244.0.0/16 ({err})")
            return ipaddress.IPv4Network("0.0.0.0/0")


def _join(path: str, key: object) -> str:
    """``spec.cluster`` + ``nodes``; a key of the document itself has no leading dot."""
    return f"{path}.{key}" if path else str(key)
