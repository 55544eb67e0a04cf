"""A client's request rate over time: a constant, or a profile (ramp, steps, sine, spike, trace).

Every profile answers the same questions, so the arrival process, the run limits, the
warnings and the plots need not know which one a client has: the rate at given times, the
expected number of arrivals over an interval (the integral of the rate), and the highest
rate over an interval. Times are seconds from the start of the run.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Constant", "RateProfile"]


class RateProfile(ABC):
    """Requests per second as a function of time (never negative)."""

    @abstractmethod
    def rates(self, t: np.ndarray) -> np.ndarray:
        """The rate at each time in ``t``."""

    @abstractmethod
    def integral(self, t0: float, t1: float) -> float:
        """Expected arrivals in ``[t0, t1]``: the integral of the rate."""

    @abstractmethod
    def peak(self, t0: float, t1: float) -> float:
        """The highest rate in ``[t0, t1]``."""

    @abstractmethod
    def to_spec(self) -> Any:
        """The profile as the user writes it (a number for a constant rate)."""

    @abstractmethod
    def describe(self) -> str:
        """A few words for reports and titles, such as ``"200 req/s"``."""


@dataclass(frozen=True)
class Constant(RateProfile):
    """The same rate for the whole run (``rate: 200``)."""

    rate: float

    def rates(self, t: np.ndarray) -> np.ndarray:
        return np.full(np.shape(t), self.rate, dtype=float)

    def integral(self, t0: float, t1: float) -> float:
        return self.rate * max(0.0, t1 - t0)

    def peak(self, t0: float, t1: float) -> float:
        return self.rate

    def to_spec(self) -> Any:
        return self.rate

    def describe(self) -> str:
        return f"{self.rate:g} req/s"
