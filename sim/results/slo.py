"""Judging a run against its ``spec.slo``.

Every check is measured on the clients' requests (calls between Services are not what a
client sees) sent in the measurement window ``[warmup, duration]``, from the requests table,
as :func:`sim.results.result.summarize` measures the summary (docs/semantics.md#slos-and-warnings).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from sim.scenario.simulation import Slo

__all__ = ["client_mask", "client_requests", "slo_report", "slo_value"]


def client_mask(requests: pd.DataFrame) -> np.ndarray:
    """True for the rows clients sent (not calls between Services)."""
    if "parent_id" not in requests.columns:
        return np.ones(len(requests), dtype=bool)
    return requests["parent_id"].isna().to_numpy()


def client_requests(requests: pd.DataFrame) -> pd.DataFrame:
    """The rows clients sent (not calls between Services)."""
    return requests[client_mask(requests)]


def window_error_rate(requests: pd.DataFrame, warmup_s: float, duration_s: float) -> float:
    """The share of the clients' requests sent in ``[warmup, duration]`` whose outcome is not
    ok (nan with none sent)."""
    t_sent = requests["t_sent"].to_numpy(dtype=float)
    sent = client_mask(requests) & (t_sent >= warmup_s) & (t_sent <= duration_s)
    n_sent = int(sent.sum())
    if not n_sent:
        return math.nan
    return float((sent & (requests["outcome"] != "ok").to_numpy()).sum() / n_sent)


def slo_report(requests: pd.DataFrame, slo: Slo | None, warmup_s: float, duration_s: float) -> dict[str, Any] | None:
    """``{"met": bool, "checks": [{name, target, measured, unit, met}]}``, or None without an SLO.

    Latency is in ms over ok requests; the error rate is the share of requests whose outcome
    is not ok (a fraction); throughput is ok responses completed in the window per second. A
    statistic with nothing to measure (no request in the window) is None and its check is missed.
    """
    if slo is None:
        return None
    clients = client_mask(requests)  # numpy columns, not a copy of the table: it may be large
    t_sent, t_done = requests["t_sent"].to_numpy(dtype=float), requests["t_done"].to_numpy(dtype=float)
    is_ok = (requests["outcome"] == "ok").to_numpy()
    sent = clients & (t_sent >= warmup_s) & (t_sent <= duration_s)
    latency_ms = requests["latency"].to_numpy(dtype=float)[sent & is_ok] * 1e3
    checks = []
    for key, target_s in slo.latency_s.items():
        measured = None
        if len(latency_ms):
            measured = float(latency_ms.mean() if key == "mean" else np.percentile(latency_ms, int(key[1:])))
        checks.append(_check(f"latency {key}", target_s * 1e3, measured, "ms", at_most=True))
    if slo.error_rate is not None:
        rate = window_error_rate(requests, warmup_s, duration_s)  # nan with none sent: measured None
        checks.append(_check("error rate", slo.error_rate, rate, "fraction", at_most=True))
    if slo.throughput_rps is not None:
        window = duration_s - warmup_s
        done = int((clients & is_ok & (t_done >= warmup_s) & (t_done <= duration_s)).sum())
        rps = float(done / window) if window > 0 else None
        checks.append(_check("throughput", slo.throughput_rps, rps, "req/s", at_most=False))
    return {"met": all(c["met"] for c in checks), "checks": checks}


def _check(name: str, target: float, measured: float | None, unit: str, *, at_most: bool) -> dict[str, Any]:
    if measured is not None and not math.isfinite(measured):
        measured = None
    met = measured is not None and (measured <= target if at_most else measured >= target)
    return {"name": name, "target": target, "measured": measured, "unit": unit, "met": met}


def slo_value(value: float | None, unit: str, *, bound: bool = False) -> str:
    """A target or measurement as people write it: ``≤ 150 ms``, ``0.1%``, ``≥ 500 req/s``."""
    if value is None:
        return "-"
    if unit == "fraction":
        text = f"{value * 100:.3g}%"
    elif unit == "ms":
        text = f"{value:.4g} ms"
    else:
        text = f"{value:.4g} {unit}"
    if not bound:
        return text
    return ("≥ " if unit == "req/s" else "≤ ") + text
