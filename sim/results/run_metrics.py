"""One run reduced to the metrics experiments and comparisons use: a flat dict of numbers.

:func:`metrics_of` is the one definition: ``sim.experiments`` ships it from workers (a few
hundred bytes that pickle as plain floats) and ``sim.compare`` lines runs up by it.

The metrics, all measured as the summary measures them (clients' requests, the window
``[warmup, duration]``; docs/semantics.md#slos-and-warnings):

- ``requests``: rows in the requests table (calls between Services included, as in
  ``summary.json``), and ``outcome_<name>`` for each outcome (``outcome_ok``...);
- ``error_rate``: the share of the clients' requests sent in the window whose outcome is not
  ok (a fraction, as the SLO's error-rate check measures it);
- ``throughput_rps``: ok responses completed in the window per second;
- ``latency_<stat>_ms`` for mean, p50, p90, p95, p99 and max over ok requests sent after
  warm-up;
- ``slo_met`` (1.0 met, 0.0 missed) only when the Simulation has a ``spec.slo``.

A statistic with nothing to measure (no ok request after warm-up) is NaN.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sim.results.result import Result
from sim.results.slo import window_error_rate
from sim.runtime.requests.outcomes import OUTCOMES

__all__ = ["LATENCY_STATS", "METRICS", "metrics_of"]

LATENCY_STATS = ("mean", "p50", "p90", "p95", "p99", "max")
#: Every metric a run reports, in table order (``slo_met`` only with a ``spec.slo``).
METRICS = (
    "requests",
    *(f"outcome_{name}" for name in OUTCOMES),
    "error_rate",
    "throughput_rps",
    *(f"latency_{stat}_ms" for stat in LATENCY_STATS),
    "slo_met",
)


def metrics_of(result: Result) -> dict[str, float]:
    """The run's :data:`METRICS` (module docstring), as floats (counts are whole numbers); a
    summary from an older run folder that lacks an outcome or a statistic reads 0 or NaN."""
    s = result.summary
    sim = result.scenario.simulation
    metrics: dict[str, float] = {"requests": float(s["requests"])}
    metrics.update({f"outcome_{name}": float(s["outcomes"].get(name, 0)) for name in OUTCOMES})
    sampled = s.get("sample")  # a sampled run's rows are a sample: the exact rate is in the summary
    metrics["error_rate"] = (
        _number(sampled["error_rate"])
        if isinstance(sampled, dict)
        else window_error_rate(result.requests, sim.warmup_s, sim.duration_s)
    )
    metrics["throughput_rps"] = _number(s["throughput_rps"])
    metrics.update({f"latency_{stat}_ms": _number(s["latency_ms"].get(stat)) for stat in LATENCY_STATS})
    slo = s.get("slo")
    if slo is not None:
        metrics["slo_met"] = 1.0 if slo["met"] else 0.0
    return metrics


def _number(value: Any) -> float:
    return math.nan if value is None else float(np.float64(value))
