"""Kubernetes resource quantities (``500m``, ``1.5``, ``256Mi``, ``1e3``), exactly as apimachinery
reads and prints them (docs/semantics.md#resources).

:func:`parse_quantity` is ``resource.ParseQuantity``: a sign, digits with an optional fraction, then
a decimal SI suffix (``n u m "" k M G T P E``), a binary one (``Ki Mi Gi Ti Pi Ei``) or a decimal
exponent (``e3``, ``E-2``); the value is exact, rounded up (away from zero) to a nano, and a binary
quantity is capped at 2^63-1. :meth:`Quantity.__str__` is ``Quantity.String()``, the canonical form
the API server prints in its messages (``2000m`` prints as ``2``). :func:`decode_quantity` is the
JSON decoder's ``Quantity.UnmarshalJSON``, which also reads YAML numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sim.kube.validation import json_number

__all__ = [
    "ERR_FORMAT_WRONG",
    "ERR_NUMERIC",
    "ERR_SUFFIX",
    "INT64_MAX",
    "Format",
    "Quantity",
    "QuantityError",
    "decode_quantity",
    "parse_quantity",
]

SPLIT_RE = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
ERR_FORMAT_WRONG = f"quantities must match the regular expression '{SPLIT_RE}'"
ERR_NUMERIC = "unable to parse numeric part of quantity"
ERR_SUFFIX = "unable to parse quantity's suffix"
INT64_MAX = 2**63 - 1
_INT32_MAX = 2**31 - 1
_NANO = -9  # the smallest exponent a parsed quantity keeps
_MAX_INT64_FACTORS = 18  # digits that always fit in an int64: the parser's fast path
_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_BY_EXPONENT = {e: s for s, e in _DECIMAL_SUFFIXES.items()}
_BINARY_BY_EXPONENT = {e: s for s, e in _BINARY_SUFFIXES.items()}
_SUFFIX_CHARS = frozenset("eEinumkKMGTP")
_DIGITS = frozenset("0123456789")
#: What Go's strings.TrimSpace removes from a JSON string's raw bytes: its Unicode spaces that
#: encoding/json writes unescaped (control characters, U+2028 and U+2029 arrive as escapes).
_JSON_SPACES = " \u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
_EXPONENT = re.compile(r"[+-]?[0-9]+")


class Format(StrEnum):
    """How a quantity was written, and so how it prints: ``12e6``, ``12Mi`` or ``12M``."""

    DECIMAL_EXPONENT = "DecimalExponent"
    BINARY_SI = "BinarySI"
    DECIMAL_SI = "DecimalSI"


class QuantityError(ValueError):
    """A string ParseQuantity refuses; the message is apimachinery's own error text."""


@dataclass(frozen=True)
class Quantity:
    """An exact quantity: ``amount`` (an exact Decimal, never rounded by a context), its
    ``format``, and ``text``, the string as written when ParseQuantity keeps it (it does so
    only for strings already in canonical form, ``+`` and ``E`` aside)."""

    amount: Decimal
    format: Format
    text: str | None = None

    def __str__(self) -> str:
        """``Quantity.String()``: the kept text, or the canonical form (CanonicalizeBytes)."""
        return self.text if self.text is not None else _canonical(self.amount, self.format)

    def scaled_value(self, scale: int) -> int:
        """``ceil(q / 10^scale)`` rounded away from zero (ScaledValue of an int64Amount).

        Raises OverflowError when the result could not be an int64 at all, before computing
        a huge integer (a quantity may be ``1e2000000000``)."""
        if self.amount == 0:
            return 0
        if self.amount.adjusted() - scale > 19:
            raise OverflowError(f"{self} does not fit in an int64 at scale {scale}")
        sign, digits, exponent = self.amount.as_tuple()
        assert isinstance(exponent, int)
        coefficient = int("".join(map(str, digits)))
        shift = int(exponent) - scale
        magnitude = coefficient * 10**shift if shift >= 0 else -(-coefficient // 10**-shift)
        return -magnitude if sign else magnitude

    def value(self) -> int:
        """``Value()``: whole units rounded up (bytes of a memory quantity)."""
        return self.scaled_value(0)

    def milli_value(self) -> int:
        """``MilliValue()``: thousandths rounded up (millicores of a cpu quantity)."""
        return self.scaled_value(-3)


def decode_quantity(raw: Any) -> Quantity:
    """A quantity field as the API server's JSON decoder reads it (``Quantity.UnmarshalJSON``):
    a string's raw JSON text, spaces trimmed; a YAML number as kubectl sends it, in Go's JSON
    form (``0.5``, ``1e+21``); null is the zero quantity; anything else fails the pattern."""
    if raw is None:
        return Quantity(Decimal(0), Format.DECIMAL_SI)
    if isinstance(raw, bool):
        text = "true" if raw else "false"
    elif isinstance(raw, int | float):
        text = json_number(raw)
    elif isinstance(raw, str):
        text = raw
    else:
        raise QuantityError(ERR_FORMAT_WRONG)  # a JSON object or array
    return parse_quantity(text.strip(_JSON_SPACES))


def parse_quantity(text: str) -> Quantity:
    """``resource.ParseQuantity``: the exact value, its format and, when canonical, the text.

    >>> str(parse_quantity("1500m")), str(parse_quantity("2000m")), str(parse_quantity("1024Mi"))
    ('1500m', '2', '1Gi')
    >>> parse_quantity("250m").milli_value(), parse_quantity("1Gi").value()
    (250, 1073741824)
    """
    if text == "":
        raise QuantityError(ERR_FORMAT_WRONG)
    if text == "0":
        return Quantity(Decimal(0), Format.DECIMAL_SI, "0")
    positive, value, num, denom, suffix = _split(text)
    base, exponent, fmt = _interpret(suffix)
    fast = _fast_path(text, positive, num, denom, base, exponent, fmt)
    if fast is not None:
        return fast
    if not any(ch in _DIGITS for ch in value):
        raise QuantityError(ERR_NUMERIC)
    whole, _, fraction = value.lstrip("+-").partition(".")
    coefficient, power = int(whole + fraction or "0"), -len(fraction)
    if base == 10:
        power += exponent
    else:
        coefficient <<= exponent
    magnitude = _exact(coefficient, power)
    magnitude = _round_up_to_nano(magnitude)
    if fmt is Format.BINARY_SI and magnitude > INT64_MAX:
        magnitude = Decimal(INT64_MAX)
    if fmt is Format.BINARY_SI and 0 < magnitude < 1:
        fmt = Format.DECIMAL_SI
    return Quantity(magnitude if positive else -magnitude, fmt)


def _split(text: str) -> tuple[bool, str, str, str, str]:
    """``parseQuantityString``: (positive, number as written, digits before and after the
    point with leading zeros stripped, suffix); ErrFormatWrong if something follows the suffix."""
    positive = True
    pos, end = 0, len(text)
    if text[0] in "+-":
        positive = text[0] == "+"
        pos = 1
    while pos < end and text[pos] == "0":
        pos += 1
    if pos >= end:
        return positive, "0", "0", "", ""
    start = pos
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    num = text[start:pos] or "0"
    denom = ""
    if pos < end and text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos] in _DIGITS:
            pos += 1
        denom = text[start:pos]
        if pos >= end:
            return positive, text, num, denom, ""
    value = text[:pos]
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    if pos < end:
        raise QuantityError(ERR_FORMAT_WRONG)
    return positive, value, num, denom, text[suffix_start:]


def _interpret(suffix: str) -> tuple[int, int, Format]:
    """The suffixer's ``interpret``: (base, exponent, format); an ``e``/``E`` exponent must fit
    an int32 scale that can be negated (±2147483647), as quantity_test.go pins it."""
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix], Format.DECIMAL_SI
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix], Format.BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE" and _EXPONENT.fullmatch(suffix[1:]):
        exponent = int(suffix[1:])
        if -_INT32_MAX <= exponent <= _INT32_MAX:
            return 10, exponent, Format.DECIMAL_EXPONENT
    raise QuantityError(ERR_SUFFIX)


def _fast_path(
    text: str, positive: bool, num: str, denom: str, base: int, exponent: int, fmt: Format
) -> Quantity | None:
    """ParseQuantity's int64 fast path, which alone keeps the text it was given (when it is in
    canonical form); None where Go takes the slow path."""
    shifted = num + denom
    if fmt is Format.BINARY_SI:
        if denom:
            return None
        mantissa = 1 << exponent
        scale = 0
        precision = 15 - len(num) - (exponent * 3) // 10 - 1
    else:
        mantissa = 1
        scale = exponent - len(denom)
        precision = _MAX_INT64_FACTORS - len(num) - len(denom)
    if precision < 0 or scale < _NANO:
        return None
    result = int(shifted) * mantissa
    if result > INT64_MAX:
        return None
    amount = _exact(result if positive else -result, scale)
    if fmt is Format.BINARY_SI:
        canonical = exponent % 10 == 0 and int(shifted) & 7 != 0
    else:
        canonical = scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0"
    return Quantity(amount, fmt, text if canonical else None)


def _exact(coefficient: int, exponent: int) -> Decimal:
    """``coefficient × 10^exponent`` as an exact Decimal (no context rounding)."""
    sign = 1 if coefficient < 0 else 0
    digits = tuple(int(d) for d in str(abs(coefficient)))
    return Decimal((sign, digits, exponent))


def _round_up_to_nano(magnitude: Decimal) -> Decimal:
    """A non-negative amount rounded up to a multiple of 10^-9 (inf.RoundUp at scale 9)."""
    sign, digits, exponent = magnitude.as_tuple()
    assert isinstance(exponent, int) and not sign
    coefficient = int("".join(map(str, digits)) or "0")
    if coefficient == 0 or exponent >= _NANO:
        return magnitude
    drop = _NANO - exponent
    if drop > len(digits):
        return _exact(1, _NANO)
    return _exact(-(-coefficient // 10**drop), _NANO)


def _canonical(amount: Decimal, fmt: Format) -> str:
    """CanonicalizeBytes: no fraction, the largest suffix that loses nothing. A binary quantity
    below 1024 in magnitude, or not whole, prints as decimal SI; where no suffix exists (past
    ``E`` or ``Ei``, below ``n``) the decimal exponent form is used."""
    if amount == 0:
        return "0"
    sign, digits, exponent = amount.as_tuple()
    assert isinstance(exponent, int)
    coefficient = int("".join(map(str, digits)))
    minus = "-" if sign else ""
    if fmt is Format.BINARY_SI:
        if -1024 < amount < 1024 or (exponent < 0 and coefficient % 10**-exponent):
            fmt = Format.DECIMAL_SI
        else:
            whole = coefficient * 10**exponent if exponent >= 0 else coefficient // 10**-exponent
            power = 0
            while whole % 1024 == 0:
                whole //= 1024
                power += 10
            if power == 0:
                return f"{minus}{whole}"
            if power in _BINARY_BY_EXPONENT:
                return f"{minus}{whole}{_BINARY_BY_EXPONENT[power]}"
            fmt = Format.DECIMAL_EXPONENT
    while coefficient % 10 == 0:
        coefficient //= 10
        exponent += 1
    if exponent % 3 == 1:
        coefficient, exponent = coefficient * 10, exponent - 1
    elif exponent % 3 == 2:
        coefficient, exponent = coefficient * 100, exponent - 2
    if fmt is Format.DECIMAL_SI and exponent in _DECIMAL_BY_EXPONENT:
        return f"{minus}{coefficient}{_DECIMAL_BY_EXPONENT[exponent]}"
    return f"{minus}{coefficient}" + (f"e{exponent}" if exponent else "")
