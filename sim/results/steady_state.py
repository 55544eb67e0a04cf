"""Is the measured window in steady state? Two checks on the clients' ok latencies.

- **Growing queue**: batch means of latency over ``[warmup, duration]`` trend upward (a
  regression slope significant at p < 0.001) and the last quarter's mean is well above the
  first's, with every quarter above the one before: the queue is not stationary and the
  summary's percentiles depend on how long the run was.
- **Warm-up too short**: MSER-5 (White 1997) on the latencies from t = 0, in send order,
  batched in fives: the truncation point that minimises the standard error of the remaining
  mean is where the run has settled. If it lies well past ``warmup`` and the part it would
  drop stands out from the settled rest (by more than stretches of the same length there
  wander), the warm-up is too short; the warning gives the suggested one.

docs/semantics.md#slos-and-warnings states the rules and thresholds.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from sim.units import format_duration

__all__ = ["growing_queue", "mser5", "short_warmup"]

TREND_BATCHES = 20
TREND_P = 0.001
TREND_GROWTH = 1.5  # last quarter's mean latency at least this many times the first's
MSER_BATCH = 5
WARMUP_BIAS = 0.1  # the dropped part's mean differs from the rest's by more than this share
WARMUP_SLACK = 0.02  # ... and the suggested warm-up passes spec.warmup by more than this share of the run
WARMUP_STRETCHES = 5  # ... and the settled part holds this many stretches as long as the dropped one
WARMUP_SPREAD = 3.0  # ... whose means the dropped part's is this many times farther from the rest's


def growing_queue(t_sent: np.ndarray, latency: np.ndarray, warmup_s: float, duration_s: float) -> str | None:
    """A warning if ok latencies (by send time) grow through the measurement window, else None."""
    window = duration_s - warmup_s
    keep = (t_sent >= warmup_s) & (t_sent <= duration_s)
    t, latency = (t_sent, latency) if keep.all() else (t_sent[keep], latency[keep])  # no copy of 10^7 rows
    if window <= 0 or len(t) < TREND_BATCHES * 10:
        return None
    # ((t - warmup) / window * batches) in place, the same operations in the same order.
    position = t - warmup_s
    position /= window
    position *= TREND_BATCHES
    which = position.astype(int)
    del position
    np.minimum(which, TREND_BATCHES - 1, out=which)
    counts = np.bincount(which, minlength=TREND_BATCHES)
    if (counts < 5).any():
        return None
    means = np.bincount(which, weights=latency, minlength=TREND_BATCHES) / counts
    centers = warmup_s + (np.arange(TREND_BATCHES) + 0.5) * window / TREND_BATCHES
    quarters = [float(q.mean()) for q in np.array_split(means, 4)]
    rising = all(b > a for a, b in itertools.pairwise(quarters))
    if not (rising and quarters[-1] >= TREND_GROWTH * quarters[0]):
        return None  # checked first: a healthy run never pays for the significance test's import
    slope, t_stat, p_value = _slope(centers, means)
    if not (slope > 0 and p_value < TREND_P):
        return None
    quarter = window / 4
    return (
        f"latency grows through the measurement window: mean {_latency(quarters[0])} in the first quarter "
        f"({_when(warmup_s)}–{_when(warmup_s + quarter)}), {_latency(quarters[-1])} in the last "
        f"({_when(duration_s - quarter)}–{_when(duration_s)}), slope {slope * 1e3:+.3g} ms/s "
        f"(t = {t_stat:.1f}, p {_p(p_value)} over {TREND_BATCHES} batch means): the queue is not stationary, "
        "so the summary's percentiles depend on the run's length"
    )


def _slope(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Least-squares slope, its t statistic and the one-sided p-value of slope > 0."""
    from scipy import stats  # noqa: PLC0415  (0.3 s to import, on first use only)

    fit = stats.linregress(x, y)
    if not math.isfinite(fit.stderr) or fit.stderr == 0:
        return float(fit.slope), math.inf if fit.slope > 0 else 0.0, 0.0 if fit.slope > 0 else 1.0
    t_stat = float(fit.slope / fit.stderr)
    return float(fit.slope), t_stat, float(stats.t.sf(t_stat, len(x) - 2))


def mser5(values: np.ndarray) -> int:
    """MSER-5 (White 1997): batch ``values`` in fives and return how many leading values to
    drop (a multiple of 5) to minimise ``Σ (Y_i − Ȳ_d)² / (n − d)²`` over the kept batch means,
    searching the first half of the batches only, as White et al. (2000) recommend."""
    n = len(values) // MSER_BATCH
    if n < 4:
        return 0
    batches = values[: n * MSER_BATCH].reshape(n, MSER_BATCH).mean(axis=1)
    batches = batches - batches.mean()  # centred: the sums of squares below lose no precision
    tail_sum = np.cumsum(batches[::-1])[::-1]
    tail_sq = np.cumsum((batches**2)[::-1])[::-1]
    kept = n - np.arange(n)
    statistic = (tail_sq - tail_sum**2 / kept) / kept**2
    d = int(np.argmin(statistic[: n // 2 + 1]))
    return d * MSER_BATCH


def short_warmup(t_sent: np.ndarray, latency: np.ndarray, warmup_s: float, duration_s: float) -> str | None:
    """A warning if MSER-5 finds the run settles well after ``warmup``, else None (``t_sent``
    in increasing order)."""
    keep = t_sent <= duration_s
    t, latency = (t_sent, latency) if keep.all() else (t_sent[keep], latency[keep])  # no copy of 10^7 rows
    if len(latency) < 20 * MSER_BATCH:
        return None
    drop = mser5(latency)
    suggested = float(t[drop]) if drop < len(t) else duration_s
    if suggested <= warmup_s + WARMUP_SLACK * duration_s:
        return None
    dropped = latency[(t >= warmup_s) & (t < suggested)]
    rest_t, rest = t[t >= suggested], latency[t >= suggested]
    if not len(dropped) or not len(rest):
        return None
    # How far the mean of a stretch as long as the dropped one wanders in the settled part:
    # the dropped part must stand out beyond that (autocorrelation included), not only from
    # the rest's mean. Too few such stretches and the run is too short to tell.
    length = suggested - warmup_s
    stretches = int((duration_s - suggested) // length)
    if stretches < WARMUP_STRETCHES:
        return None
    which = ((rest_t - suggested) // length).astype(int)
    inside = which < stretches
    counts = np.bincount(which[inside], minlength=stretches)
    if (counts == 0).any():
        return None
    means = np.bincount(which[inside], weights=rest[inside], minlength=stretches) / counts
    center = float(rest.mean())
    gap = abs(float(dropped.mean()) - center)
    if gap <= WARMUP_BIAS * center or gap <= WARMUP_SPREAD * float(np.abs(means - center).max()):
        return None
    return (
        f"spec.warmup {_when(warmup_s)} is shorter than the time the run takes to settle: MSER-5 on latency "
        f"from t = 0 suggests {_when(suggested)}; ok requests sent from {_when(warmup_s)} to {_when(suggested)} "
        f"average {_latency(float(dropped.mean()))} against {_latency(float(rest.mean()))} after: "
        f"use warmup: {_when(math.ceil(suggested))} or more"
    )


def _latency(seconds: float) -> str:
    return f"{seconds:.3g} s" if seconds >= 1 else f"{seconds * 1e3:.3g} ms"


def _when(t: float) -> str:
    return format_duration(round(t, 1) if t >= 1 else round(t, 3))


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"
