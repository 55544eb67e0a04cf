"""A client's request rate over time: a constant, or a profile (ramp, steps, sine, spike, trace).

Every profile answers the same questions, so the arrival process, the run limits, the
warnings and the plots need not know which one a client has: the rate at given times, the
expected number of arrivals over an interval (the integral of the rate), the highest rate
over an interval, and the cumulative intensity Λ(t) with its inverse, from which arrivals
are drawn by time inversion (docs/semantics.md#clients-and-outcomes). Times are seconds from
the start of the run; every profile is defined for t >= 0.

Ramp, steps, spike and trace are all piecewise linear in time, so they share one core
(:class:`Piecewise`: knots, each segment flat or linear) whose integral and inverse are
closed form; each only says which knots it has. The sine's Λ is closed form too, its inverse
is found numerically (Newton's method kept inside a bisection bracket), the one case where
no closed form exists.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from sim.units import format_duration, parse_duration

__all__ = ["Constant", "Piecewise", "Ramp", "RateProfile", "Sine", "Spike", "Steps", "Trace"]


class RateProfile(ABC):
    """Requests per second as a function of time (never negative)."""

    @abstractmethod
    def rates(self, t: np.ndarray) -> np.ndarray:
        """The rate at each time in ``t``."""

    @abstractmethod
    def cumulative(self, t: np.ndarray) -> np.ndarray:
        """Λ(t): expected arrivals in ``[0, t]`` for each time in ``t``."""

    @abstractmethod
    def inverse_cumulative(self, y: np.ndarray) -> np.ndarray:
        """For each ``y >= 0``, the earliest time after which Λ exceeds ``y`` (``inf`` if it never does).

        At a level where Λ stays flat (the rate is 0 for a while) this is the end of the flat
        stretch, so the first arrival of a profile that starts at 0 req/s comes when it rises.
        """

    def integral(self, t0: float, t1: float) -> float:
        """Expected arrivals in ``[t0, t1]``: the integral of the rate."""
        if t1 <= t0:
            return 0.0
        lam = self.cumulative(np.array([t0, t1], dtype=float))
        return max(0.0, float(lam[1] - lam[0]))

    @abstractmethod
    def peak(self, t0: float, t1: float) -> float:
        """The highest rate in ``[t0, t1]``."""

    @abstractmethod
    def to_spec(self) -> Any:
        """The profile as the user writes it (a number for a constant rate)."""

    @abstractmethod
    def describe(self) -> str:
        """A few words for reports and titles, such as ``"200 req/s"``."""


def _duration_spec(seconds: float) -> str | float:
    """A duration as written back: ``5m`` when that reads back exactly, else the seconds."""
    text = format_duration(seconds)
    return text if parse_duration(text) == seconds else seconds


@dataclass(frozen=True)
class Constant(RateProfile):
    """The same rate for the whole run (``rate: 200``)."""

    rate: float

    def rates(self, t: np.ndarray) -> np.ndarray:
        return np.full(np.shape(t), self.rate, dtype=float)

    def cumulative(self, t: np.ndarray) -> np.ndarray:
        return self.rate * np.maximum(np.asarray(t, dtype=float), 0.0)

    def inverse_cumulative(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, dtype=float)
        return y / self.rate if self.rate > 0 else np.full(y.shape, np.inf)

    def integral(self, t0: float, t1: float) -> float:
        return self.rate * max(0.0, t1 - t0)

    def peak(self, t0: float, t1: float) -> float:
        return self.rate

    def to_spec(self) -> Any:
        return self.rate

    def describe(self) -> str:
        return f"{self.rate:g} req/s"


# -- piecewise linear profiles ---------------------------------------------------------------


class Piecewise(RateProfile):
    """A rate given by knots ``(t_i, r_i)``, ``t_0 = 0`` and increasing: on ``[t_i, t_{i+1})``
    the rate is ``r_i`` (``linear`` False) or goes linearly from ``r_i`` to ``r_{i+1}``; after
    the last knot it stays at the last rate. Subclasses say which knots they have."""

    @abstractmethod
    def knots(self) -> tuple[tuple[tuple[float, float], ...], bool]:
        """``((t_0, r_0), ..., (t_n, r_n)), linear`` with ``t_0 == 0`` and times increasing."""

    @cached_property
    def _table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Knot times, rates at them, slopes of each segment (the tail's is 0), and Λ at the knots."""
        points, linear = self.knots()
        times = np.array([t for t, _ in points], dtype=float)
        rates = np.array([r for _, r in points], dtype=float)
        assert times[0] == 0.0 and np.all(np.diff(times) > 0), "knots start at 0 and increase"
        widths = np.diff(times)
        slopes = np.zeros(len(times))
        if linear:
            slopes[:-1] = np.diff(rates) / widths
            pieces = (rates[:-1] + rates[1:]) / 2 * widths
        else:
            pieces = rates[:-1] * widths
        lam = np.concatenate(([0.0], np.cumsum(pieces)))
        return times, rates, slopes, lam

    def _segment(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        times = self._table[0]
        t = np.maximum(np.asarray(t, dtype=float), 0.0)
        i = np.searchsorted(times, t, side="right") - 1
        return i, t - times[i]

    def rates(self, t: np.ndarray) -> np.ndarray:
        _, rates, slopes, _ = self._table
        i, s = self._segment(t)
        return rates[i] + slopes[i] * s

    def cumulative(self, t: np.ndarray) -> np.ndarray:
        _, rates, slopes, lam = self._table
        i, s = self._segment(t)
        flat = (rates[i] == 0) & (slopes[i] == 0)  # Λ(inf) after a rate of 0 is finite
        with np.errstate(invalid="ignore"):
            return lam[i] + np.where(flat, 0.0, rates[i] * s + slopes[i] * s * s / 2)

    def inverse_cumulative(self, y: np.ndarray) -> np.ndarray:
        times, rates, slopes, lam = self._table
        y = np.maximum(np.asarray(y, dtype=float), 0.0)
        i = np.searchsorted(lam, y, side="right") - 1  # the last knot with Λ <= y: past any flat stretch
        d = y - lam[i]
        a, b = rates[i], slopes[i]
        # a·s + b·s²/2 = d, solved in the form that stays exact when b is 0 or negative.
        root = a + np.sqrt(np.maximum(a * a + 2 * b * d, 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.where(root > 0, 2 * d / root, 0.0)
        last = len(times) - 1
        widths = np.append(np.diff(times), np.inf)
        s = np.minimum(s, widths[i])  # rounding must not carry a time past its segment
        out = times[i] + s
        out[(i == last) & (rates[last] <= 0)] = np.inf  # the rate ends at 0: Λ never exceeds y
        return out

    def peak(self, t0: float, t1: float) -> float:
        times = self._table[0]
        inside = times[(times > t0) & (times <= t1)]
        return float(np.max(self.rates(np.concatenate(([t0, max(t0, t1)], inside)))))


@dataclass(frozen=True)
class Ramp(Piecewise):
    """``start_rate`` until ``at_s``, then linearly to ``end_rate`` over ``over_s``, then ``end_rate``."""

    start_rate: float
    end_rate: float
    over_s: float
    at_s: float = 0.0

    def knots(self) -> tuple[tuple[tuple[float, float], ...], bool]:
        rise = ((self.at_s, self.start_rate), (self.at_s + self.over_s, self.end_rate))
        return ((0.0, self.start_rate), *rise) if self.at_s > 0 else rise, True

    def to_spec(self) -> Any:
        return {
            "ramp": {
                "from": self.start_rate,
                "to": self.end_rate,
                "over": _duration_spec(self.over_s),
                "at": _duration_spec(self.at_s),
            }
        }

    def describe(self) -> str:
        return (
            f"a ramp from {self.start_rate:g} to {self.end_rate:g} req/s over {format_duration(self.over_s)} "
            f"at {format_duration(self.at_s)}"
        )


@dataclass(frozen=True)
class Steps(Piecewise):
    """Piecewise constant: ``rate`` from each ``at`` to the next; 0 before the first ``at``."""

    steps: tuple[tuple[float, float], ...]  # (at_s, rate), at_s increasing

    def knots(self) -> tuple[tuple[tuple[float, float], ...], bool]:
        return _from_zero(self.steps), False

    def to_spec(self) -> Any:
        return {"steps": [{"at": _duration_spec(at), "rate": rate} for at, rate in self.steps]}

    def describe(self) -> str:
        if len(self.steps) <= 4:
            return "steps " + ", ".join(f"{r:g} req/s at {format_duration(at)}" for at, r in self.steps)
        rates = [r for _, r in self.steps]
        return f"{len(self.steps)} steps between {min(rates):g} and {max(rates):g} req/s"


@dataclass(frozen=True)
class Spike(Piecewise):
    """``base`` req/s, ``peak_rate`` during ``[at_s, at_s + duration_s)``."""

    base: float
    peak_rate: float
    at_s: float
    duration_s: float

    def knots(self) -> tuple[tuple[tuple[float, float], ...], bool]:
        spike = ((self.at_s, self.peak_rate), (self.at_s + self.duration_s, self.base))
        return ((0.0, self.base), *spike) if self.at_s > 0 else spike, False

    def to_spec(self) -> Any:
        return {
            "spike": {
                "base": self.base,
                "peak": self.peak_rate,
                "at": _duration_spec(self.at_s),
                "duration": _duration_spec(self.duration_s),
            }
        }

    def describe(self) -> str:
        return (
            f"{self.base:g} req/s with a spike to {self.peak_rate:g} req/s at {format_duration(self.at_s)} "
            f"for {format_duration(self.duration_s)}"
        )


@dataclass(frozen=True)
class Trace(Piecewise):
    """Measured points ``(time_s, rate)``: held until the next point (``linear`` False) or joined
    by straight lines; 0 before the first point, the last rate after the last one."""

    points: tuple[tuple[float, float], ...]
    linear: bool = False

    def knots(self) -> tuple[tuple[tuple[float, float], ...], bool]:
        return _from_zero(self.points), self.linear

    def to_spec(self) -> Any:
        # The points themselves, not the CSV's path: the resolved scenario is saved in the run
        # folder, where a path relative to the scenario file would no longer resolve.
        # The CSV text (one YAML value, quick to read back even with many points), exact floats.
        text = "time,rate\n" + "".join(f"{t!r},{r!r}\n" for t, r in self.points)
        return {"trace": text, "interpolate": "linear" if self.linear else "step"}

    def describe(self) -> str:
        rates = [r for _, r in self.points]
        how = "linear" if self.linear else "step"
        return f"a trace of {len(self.points)} points ({how}) between {min(rates):g} and {max(rates):g} req/s"


def _from_zero(points: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
    """Knots from t = 0: a rate of 0 until the first point."""
    return points if points[0][0] == 0 else ((0.0, 0.0), *points)


# -- sine ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sine(RateProfile):
    """``mean + amplitude·sin(2π(t − phase)/period)``, with ``amplitude <= mean`` (a diurnal cycle)."""

    mean: float
    amplitude: float
    period_s: float
    phase_s: float = 0.0

    @property
    def _omega(self) -> float:
        return 2 * math.pi / self.period_s

    def rates(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        return self.mean + self.amplitude * np.sin(self._omega * (t - self.phase_s))

    def cumulative(self, t: np.ndarray) -> np.ndarray:
        t = np.maximum(np.asarray(t, dtype=float), 0.0)
        w = self._omega
        swing = self.amplitude / w * (math.cos(w * self.phase_s) - np.cos(w * (t - self.phase_s)))
        return self.mean * t + swing

    def inverse_cumulative(self, y: np.ndarray) -> np.ndarray:
        """Λ grows by ``mean·period`` every period, so ``y`` is reduced to one period and Λ(t) = y
        solved there by Newton's method, falling back to bisection whenever a step leaves the
        bracket (where the rate touches 0, when ``amplitude == mean``)."""
        y = np.maximum(np.asarray(y, dtype=float), 0.0)
        per_period = self.mean * self.period_s
        whole = np.floor(y / per_period)
        rest = y - whole * per_period
        t = np.clip(rest / self.mean, 0.0, self.period_s)
        lo = np.zeros_like(rest)
        hi = np.full_like(rest, self.period_s)
        # Λ to within a nanosecond's worth of arrivals at the mean rate, or a few ulps of Λ.
        tolerance = max(1e-9 * self.mean, 8 * np.finfo(float).eps * per_period)
        active = np.arange(rest.size)
        for _ in range(200):  # Newton converges in a few steps; bisection alone in ~60
            ta = t[active]
            f = self.cumulative(ta) - rest[active]
            open_ = np.abs(f) > tolerance
            active, ta, f = active[open_], ta[open_], f[open_]
            if active.size == 0:
                break
            lo[active] = np.where(f < 0, ta, lo[active])
            hi[active] = np.where(f > 0, ta, hi[active])
            slope = self.rates(ta)
            with np.errstate(divide="ignore", invalid="ignore"):
                step = ta - f / slope
            inside = (slope > 0) & (step > lo[active]) & (step < hi[active])
            t[active] = np.where(inside, step, (lo[active] + hi[active]) / 2)
        return whole * self.period_s + t

    def peak(self, t0: float, t1: float) -> float:
        # The maxima are at phase + period/4 + k·period.
        first_top = self.phase_s + self.period_s / 4
        k = math.ceil((t0 - first_top) / self.period_s)
        if first_top + k * self.period_s <= t1:
            return self.mean + self.amplitude
        return float(np.max(self.rates(np.array([t0, max(t0, t1)]))))

    def to_spec(self) -> Any:
        return {
            "sine": {
                "mean": self.mean,
                "amplitude": self.amplitude,
                "period": _duration_spec(self.period_s),
                "phase": _duration_spec(self.phase_s),
            }
        }

    def describe(self) -> str:
        return f"{self.mean:g} ± {self.amplitude:g} req/s (a sine, period {format_duration(self.period_s)})"
