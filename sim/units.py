"""Durations as the user writes them (``10ms``, ``2m``) and as svcsim keeps them (float seconds).

Parsing happens once, at the edge (scenario loading and the CLI); everything inside
the engine is a float number of seconds.
"""

from __future__ import annotations

import math
import re

__all__ = ["format_duration", "human_age", "parse_duration"]

_UNITS_S = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(us|ms|s|m|h)\s*$")
#: One part of a Go-style compound duration (time.ParseDuration): a plain decimal and a unit, no spaces.
_PART = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:us|ms|s|m|h)"
_COMPOUND = re.compile(rf"\s*(?:{_PART}){{2,}}\s*")
_PARTS = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(us|ms|s|m|h)")


def parse_duration(value: object) -> float:
    """Return ``value`` in seconds.

    Accepts a string with a unit (``us``, ``ms``, ``s``, ``m``, ``h``), a Go-style
    compound of several (``1m30s``, ``1h2m3.5s``: what ``kubectl get`` prints as an
    age, and what Go's time.ParseDuration reads; README.md "Scenario format"), or a
    bare number, which is taken as seconds. Raises ``ValueError`` with a message
    meant for the user.

    Examples
    --------
    >>> parse_duration("10ms")
    0.01
    >>> parse_duration("2m")
    120.0
    >>> parse_duration("1m30s")
    90.0
    >>> parse_duration(1.5)
    1.5
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 10ms, 2s or 5m, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _text_seconds(value)
    else:
        raise ValueError(f"expected a duration such as 10ms, 2s or 5m, got {value!r}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"must be a finite duration >= 0, got {value!r}")
    return seconds


def _text_seconds(text: str) -> float:
    """A duration string's seconds: one number and unit (as ever), or a compound summed part by part."""
    match = _DURATION.match(text)
    if match is not None:
        return float(match.group(1)) * _UNITS_S[match.group(2)]
    if _COMPOUND.fullmatch(text):
        return sum(float(number) * _UNITS_S[unit] for number, unit in _PARTS.findall(text))
    unsigned = text.strip().removeprefix("-")
    if _DURATION.match(unsigned) is not None or _COMPOUND.fullmatch(unsigned):
        raise ValueError(f"must be a finite duration >= 0, got {text!r}")
    raise ValueError(f"expected a duration such as 10ms, 2s or 5m, got {text!r}")


def format_duration(seconds: float) -> str:
    """Write ``seconds`` back in the shortest exact unit, so resolved scenarios read naturally.

    >>> format_duration(0.0105)
    '10.5ms'
    >>> format_duration(0.0005)
    '500us'
    >>> format_duration(300.0)
    '5m'
    """
    if seconds == 0:
        return "0s"
    for unit, size in (("h", 3600.0), ("m", 60.0), ("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        count = seconds / size
        if count >= 1 and abs(count - round(count, 6)) < 1e-9:
            text = f"{round(count, 6):g}"
            return f"{text}{unit}"
    return f"{seconds:g}s"


def human_age(seconds: float) -> str:
    """Age as ``kubectl get`` prints it (k8s.io/apimachinery/pkg/util/duration.HumanDuration).

    >>> human_age(87)
    '87s'
    >>> human_age(300)
    '5m'
    >>> human_age(330)
    '5m30s'
    """
    s = int(seconds)
    if s < 0:
        return "<invalid>"
    if s < 60 * 2:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        rest_m = minutes % 60
        return f"{hours}h{rest_m}m" if rest_m else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    return f"{hours // 24}d"
