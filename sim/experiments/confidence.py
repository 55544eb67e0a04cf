"""Aggregating replications: per metric the mean, the standard deviation and a Student-t
confidence interval for the mean.

Replications are independent runs (independent seeds), so each metric's values are an
i.i.d. sample of the run's statistic, and ``mean ± t_{(1+c)/2, n-1} · sd / sqrt(n)`` (``sd``
with ``n - 1`` degrees of freedom) is the usual ``c`` interval for the expected value of
that statistic over runs of this length. It is an interval for what a run of this length
measures: a run's mean latency carries the warm-up's bias and the correlation between
successive requests, which only a long enough run and warm-up remove (README, "Replications").
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["SUMMARY_COLUMNS", "check_confidence", "confidence_interval", "metric_range", "summarize_metrics"]

#: Metrics that are shares (of requests, of replications): between 0 and 1.
_SHARES = ("error_rate", "slo_met")

SUMMARY_COLUMNS = ("metric", "mean", "sd", "ci_low", "ci_high", "n")


def check_confidence(confidence: float) -> float:
    """``confidence`` as a float strictly between 0 and 1, or a ValueError saying so."""
    value = float(confidence)
    if not 0.0 < value < 1.0:  # also refuses nan
        raise ValueError(f"confidence must be > 0 and < 1, got {confidence!r}")
    return value


def metric_range(name: str) -> tuple[float, float]:
    """The values metric ``name`` can take: every metric is a count, a rate, a latency or a
    share, so at least 0; shares (``error_rate``, ``slo_met``) at most 1."""
    return 0.0, (1.0 if name in _SHARES else math.inf)


def confidence_interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float, float, int]:
    """``(mean, sd, ci_low, ci_high, n)`` of the finite ``values`` (NaN, a run that had
    nothing to measure, is left out and not counted in ``n``).

    With fewer than two values the standard deviation and the interval are NaN; with all
    values equal the interval is the point ``[mean, mean]``.
    """
    level = check_confidence(confidence)
    sample = np.asarray(values, dtype=float)
    sample = sample[np.isfinite(sample)]
    n = int(sample.size)
    if n == 0:
        return math.nan, math.nan, math.nan, math.nan, 0
    mean = float(sample.mean())
    if n < 2:
        return mean, math.nan, math.nan, math.nan, n
    sd = float(sample.std(ddof=1))
    half = float(stats.t.ppf((1.0 + level) / 2.0, df=n - 1)) * sd / math.sqrt(n)
    return mean, sd, mean - half, mean + half, n


def summarize_metrics(table: pd.DataFrame, metrics: list[str], confidence: float = 0.95) -> pd.DataFrame:
    """One row per metric of ``table`` (one row per replication): ``metric, mean, sd,
    ci_low, ci_high, n``, in the order of ``metrics``.

    An interval is cut to the values its metric can take (:func:`metric_range`): a
    t-interval of a latency or an error rate can reach below 0 when the replications vary
    widely, and no expected value lies there, so the cut interval covers it as often.
    """
    rows = []
    for name in metrics:
        mean, sd, low, high, n = confidence_interval(table[name].to_numpy(dtype=float), confidence)
        floor, ceiling = metric_range(name)
        rows.append((name, mean, sd, max(low, floor), min(high, ceiling), n))  # NaN stays NaN
    summary = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    summary["n"] = summary["n"].astype("int64")
    return summary
