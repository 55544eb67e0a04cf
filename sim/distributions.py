"""Random variates for service times and link latencies.

Each distribution is a small frozen object with ``sample(rng, size)`` and its analytic
``mean``, ``variance``, ``cdf`` and ``quantile``, so tests can compare samples with theory
generically (the Ciw habit) and the results can say what a service time alone allows (an SLO
below a service time's own p99 cannot be met at any replica count). All values are seconds.
Draws are always float; nothing is truncated to integers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.units import format_duration, parse_duration

__all__ = [
    "Constant",
    "Distribution",
    "Exponential",
    "Gamma",
    "LogNormal",
    "Uniform",
    "parse_distribution",
    "parse_seconds",
]

FloatArray = np.ndarray
#: Coefficients of variation svcsim accepts for lognormal and gamma (its own bounds, not Kubernetes').
CV_RANGE = (0.01, 100.0)


class Distribution:
    """Interface: ``sample(rng, size)`` returns ``size`` float seconds."""

    mean: float

    @property
    def variance(self) -> float:
        raise NotImplementedError

    def cdf(self, x: float) -> float:
        """P(X <= x)."""
        raise NotImplementedError

    def quantile(self, q: float) -> float:
        """The smallest x with P(X <= x) >= q, for 0 <= q <= 1 (``quantile(0.99)`` is the p99)."""
        raise NotImplementedError

    def sample(self, rng: np.random.Generator, size: int) -> FloatArray:
        raise NotImplementedError

    def to_spec(self) -> Any:
        """The resolved form written back into ``scenario.yaml``."""
        raise NotImplementedError


@dataclass(frozen=True)
class Constant(Distribution):
    mean: float

    @property
    def variance(self) -> float:
        return 0.0

    def cdf(self, x: float) -> float:
        return 1.0 if x >= self.mean else 0.0

    def quantile(self, q: float) -> float:
        _check_q(q)
        return self.mean

    def sample(self, rng: np.random.Generator, size: int) -> FloatArray:
        return np.full(size, self.mean)

    def to_spec(self) -> Any:
        return format_duration(self.mean)


@dataclass(frozen=True)
class Exponential(Distribution):
    mean: float

    @property
    def variance(self) -> float:
        return self.mean**2

    def cdf(self, x: float) -> float:
        return -math.expm1(-x / self.mean) if x > 0 else 0.0

    def quantile(self, q: float) -> float:
        _check_q(q)
        return -self.mean * math.log1p(-q) if q < 1 else math.inf

    def sample(self, rng: np.random.Generator, size: int) -> FloatArray:
        return rng.exponential(self.mean, size)

    def to_spec(self) -> Any:
        return {"distribution": "exponential", "mean": format_duration(self.mean)}


@dataclass(frozen=True)
class LogNormal(Distribution):
    """Log-normal with the given mean and coefficient of variation ``cv``."""

    mean: float
    cv: float = 1.0

    @property
    def variance(self) -> float:
        return (self.cv * self.mean) ** 2

    @property
    def _mu_sigma(self) -> tuple[float, float]:
        """Parameters of the underlying normal: ln X ~ N(mu, sigma²)."""
        sigma2 = math.log1p(self.cv**2)
        return math.log(self.mean) - sigma2 / 2, math.sqrt(sigma2)

    def cdf(self, x: float) -> float:
        if x <= 0:
            return 0.0
        mu, sigma = self._mu_sigma
        return float(_special().ndtr((math.log(x) - mu) / sigma))

    def quantile(self, q: float) -> float:
        _check_q(q)
        mu, sigma = self._mu_sigma
        return float(math.exp(mu + sigma * _special().ndtri(q))) if 0 < q < 1 else (0.0 if q == 0 else math.inf)

    def sample(self, rng: np.random.Generator, size: int) -> FloatArray:
        mu, sigma = self._mu_sigma
        return rng.lognormal(mu, sigma, size)

    def to_spec(self) -> Any:
        return {"distribution": "lognormal", "mean": format_duration(self.mean), "cv": self.cv}


@dataclass(frozen=True)
class Gamma(Distribution):
    """Gamma with the given mean and coefficient of variation ``cv`` (shape 1/cv²)."""

    mean: float
    cv: float = 1.0

    @property
    def variance(self) -> float:
        return (self.cv * self.mean) ** 2

    def cdf(self, x: float) -> float:
        shape = 1.0 / self.cv**2
        return float(_special().gammainc(shape, x * shape / self.mean)) if x > 0 else 0.0

    def quantile(self, q: float) -> float:
        _check_q(q)
        shape = 1.0 / self.cv**2
        return float(_special().gammaincinv(shape, q)) * self.mean / shape if q < 1 else math.inf

    def sample(self, rng: np.random.Generator, size: int) -> FloatArray:
        shape = 1.0 / self.cv**2
        return rng.gamma(shape, self.mean / shape, size)

    def to_spec(self) -> Any:
        return {"distribution": "gamma", "mean": format_duration(self.mean), "cv": self.cv}


@dataclass(frozen=True)
class Uniform(Distribution):
    low: float
    high: float

    @property
    def mean(self) -> float:  # type: ignore[override]
        return (self.low + self.high) / 2

    @property
    def variance(self) -> float:
        return (self.high - self.low) ** 2 / 12

    def cdf(self, x: float) -> float:
        if x >= self.high:
            return 1.0
        return max(0.0, (x - self.low) / (self.high - self.low)) if x > self.low else 0.0

    def quantile(self, q: float) -> float:
        _check_q(q)
        return self.low + q * (self.high - self.low)

    def sample(self, rng: np.random.Generator, size: int) -> FloatArray:
        return rng.uniform(self.low, self.high, size)

    def to_spec(self) -> Any:
        return {
            "distribution": "uniform",
            "min": format_duration(self.low),
            "max": format_duration(self.high),
        }


_FIELDS = {
    "exponential": {"distribution", "mean"},
    "constant": {"distribution", "mean"},
    "lognormal": {"distribution", "mean", "cv"},
    "gamma": {"distribution", "mean", "cv"},
    "uniform": {"distribution", "min", "max"},
}


def parse_distribution(value: Any, *, allow_zero_mean: bool = False) -> Distribution:
    """Build a distribution from a scenario value; raise ``ValueError`` naming the bad key.

    A bare duration (``0.5ms``) is a constant. A mapping names its ``distribution``
    (exponential, constant, lognormal, gamma, uniform) and parameters in duration units.
    The message of a ``ValueError`` may start with ``key: `` to point at a sub-field.
    """
    if not isinstance(value, dict):
        return Constant(parse_seconds(value))
    kind = value.get("distribution")
    if not isinstance(kind, str) or kind not in _FIELDS:
        supported = ", ".join(f'"{k}"' for k in _FIELDS)
        raise ValueError(f"distribution: Unsupported value: {kind!r}: supported values: {supported}")
    unknown = sorted(set(value) - _FIELDS[kind])
    if unknown:
        raise ValueError(f"{unknown[0]}: unknown field for distribution {kind!r}")
    if kind == "uniform":
        low = _duration_field(value, "min")
        high = _duration_field(value, "max")
        if high < low:
            raise ValueError(f"max: must be >= min ({format_duration(low)})")
        return Uniform(low, high)
    mean = _duration_field(value, "mean")
    if mean <= 0 and not (allow_zero_mean and kind == "constant"):
        raise ValueError("mean: must be > 0")
    if kind == "exponential":
        return Exponential(mean)
    if kind == "constant":
        return Constant(mean)
    cv = value.get("cv", 1.0)
    if isinstance(cv, bool) or not isinstance(cv, int | float) or not CV_RANGE[0] <= cv <= CV_RANGE[1]:
        # Outside this range the parameters stop being numbers: cv 1e200 overflows sigma²,
        # cv 1e-200 makes the gamma shape 1/cv² infinite.
        raise ValueError(
            f"cv: Invalid value: {cv!r}: must be a number between {CV_RANGE[0]:g} and {CV_RANGE[1]:g}, inclusive"
        )
    return LogNormal(mean, float(cv)) if kind == "lognormal" else Gamma(mean, float(cv))


def _special() -> Any:
    """scipy.special, imported on first use: it costs 0.2 s that a run without an SLO need not pay."""
    from scipy import special  # noqa: PLC0415

    return special


def _check_q(q: float) -> None:
    if not 0 <= q <= 1:
        raise ValueError(f"quantile: q must be between 0 and 1, got {q!r}")


def _duration_field(value: dict[str, Any], key: str) -> float:
    if key not in value:
        raise ValueError(f"{key}: Required value")
    try:
        return parse_seconds(value[key])
    except ValueError as err:
        raise ValueError(f"{key}: {err}") from None


def parse_seconds(value: Any) -> float:
    """:func:`sim.units.parse_duration`, with an integer too large for a float reported the same way."""
    try:
        return parse_duration(value)
    except OverflowError:  # YAML reads 1 followed by 400 zeros as a Python int
        raise ValueError(f"must be a finite duration >= 0, got a number with {len(str(value))} digits") from None
