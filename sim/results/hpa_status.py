"""What the HorizontalPodAutoscalers saw and did, read from a run's ``hpa`` and ``hpa_metrics``
tables: each HPA's status at a time (its last sync at or before it), its rescales with the
metric values that drove them, and the text kubectl prints for a metric
(docs/semantics.md#kubectl-views).

A metric row is matched to the HPA's spec by its ``metric`` name (:func:`metric_key`); rows a
name does not match are matched by their order within the sync, the spec's order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd

from sim.kube.hpa import HorizontalPodAutoscaler, MetricSpec
from sim.kube.hpa_metrics import metric_key
from sim.kube.quantity import Format, Quantity, QuantityError, decode_quantity

__all__ = [
    "MetricReading",
    "Rescale",
    "SyncStatus",
    "current_text",
    "metric_key",
    "metric_readings",
    "rescales",
    "status_at",
    "target_text",
]

_SOURCE_FIELDS = {
    "Resource": "resource",
    "ContainerResource": "containerResource",
    "Pods": "pods",
    "Object": "object",
    "External": "external",
}


@dataclass(frozen=True)
class MetricReading:
    """One metric at one sync: the spec it belongs to, the value read (NaN when unavailable),
    its target (same units) and the replicas it proposed (-1 if none)."""

    spec: MetricSpec
    current: float
    target: float
    proposal: int


@dataclass(frozen=True)
class SyncStatus:
    """An HPA's last sync at or before a time: its ``hpa`` table row (None before the first
    sync) and its metric readings (one per spec metric; None where the sync has no row)."""

    row: dict[str, Any] | None
    readings: list[MetricReading | None]


@dataclass(frozen=True)
class Rescale:
    """A sync that changed the scale: when, which HPA, from → to, why, and the readings."""

    time: float
    hpa: str
    reference: str
    before: int
    after: int
    reason: str
    readings: list[MetricReading | None]


def metric_readings(hpa: HorizontalPodAutoscaler, rows: pd.DataFrame) -> list[MetricReading | None]:
    """``rows`` (one sync's ``hpa_metrics`` rows, in recorded order) matched to ``hpa``'s metrics."""
    records = rows.to_dict("records")
    by_name: dict[str, dict[str, Any]] = {}
    for r in records:
        by_name.setdefault(str(r["metric"]), r)
    out: list[MetricReading | None] = []
    for i, spec in enumerate(hpa.metrics):
        row = by_name.get(metric_key(spec))
        if row is None and i < len(records) and str(records[i]["metric"]) not in {metric_key(m) for m in hpa.metrics}:
            row = records[i]
        out.append(
            None
            if row is None
            else MetricReading(spec, _float(row["current"]), _float(row["target"]), int(row["proposal"]))
        )
    return out


def status_at(hpa: HorizontalPodAutoscaler, syncs: pd.DataFrame, metrics: pd.DataFrame, at_s: float) -> SyncStatus:
    """``hpa``'s status after its last sync at or before ``at_s`` (from a run's ``hpa`` and
    ``hpa_metrics`` tables)."""
    mine = syncs[(syncs["hpa"].astype(str) == hpa.name) & (syncs["time"].to_numpy(dtype=float) <= at_s)]
    if mine.empty:
        return SyncStatus(None, [None] * len(hpa.metrics))
    row = mine.iloc[-1].to_dict()
    return SyncStatus(row, metric_readings(hpa, _sync_rows(metrics, hpa.name, float(row["time"]))))


def rescales(hpas: tuple[HorizontalPodAutoscaler, ...], syncs: pd.DataFrame, metrics: pd.DataFrame) -> list[Rescale]:
    """Every sync that rescaled, in time order, with the metric values read at it."""
    by_name = {h.name: h for h in hpas}
    out = []
    for row in syncs[syncs["rescaled"].astype(bool)].itertuples():
        hpa = by_name.get(str(row.hpa))
        readings = metric_readings(hpa, _sync_rows(metrics, hpa.name, float(row.time))) if hpa else []
        out.append(
            Rescale(
                float(row.time),
                str(row.hpa),
                str(row.reference),
                int(row.current_replicas),
                int(row.desired_replicas),
                str(row.reason),
                readings,
            )
        )
    return out


def _sync_rows(metrics: pd.DataFrame, name: str, time_s: float) -> pd.DataFrame:
    return metrics[(metrics["hpa"].astype(str) == name) & (metrics["time"].to_numpy(dtype=float) == time_s)]


def _float(value: object) -> float:
    return math.nan if value is None or pd.isna(value) else float(value)  # type: ignore[arg-type]


def target_text(hpa: HorizontalPodAutoscaler, index: int) -> str:
    """The spec metric's target as kubectl prints it: ``60%``, or the quantity as the API
    server stores it (``500m``, ``256Mi``, ``2k``)."""
    spec = hpa.metrics[index]
    t = spec.target
    if spec.type in ("Resource", "ContainerResource") and t.average_value is None:
        return "<auto>" if t.average_utilization is None else f"{t.average_utilization}%"
    value = t.average_value if t.average_value is not None else t.value
    written = _written_target(hpa, index, "averageValue" if t.average_value is not None else "value")
    if written is not None:
        return written
    return _milli_text(round((value or 0.0) * 1000))


def current_text(reading: MetricReading | None) -> str:
    """The value read, as kubectl prints the status: ``45%`` (the truncated utilization) or the
    controller's milli-quantity (``1500m``, ``2k``); ``<unknown>`` before a value exists."""
    if reading is None or not math.isfinite(reading.current):
        return "<unknown>"
    spec = reading.spec
    if spec.type in ("Resource", "ContainerResource") and spec.target.average_value is None:
        return f"{int(reading.current)}%"
    return _milli_text(round(reading.current * 1000))


def _milli_text(milli: int) -> str:
    """``resource.NewMilliQuantity(milli, DecimalSI).String()``."""
    return str(Quantity(Decimal(milli).scaleb(-3), Format.DECIMAL_SI))


def _written_target(hpa: HorizontalPodAutoscaler, index: int, key: str) -> str | None:
    """The target quantity as the manifest holds it, in canonical form (``0.5`` is ``500m``,
    ``256Mi`` stays), or None when the manifest does not hold it (a defaulted metric)."""
    metrics = (hpa.manifest.get("spec") or {}).get("metrics")
    if not isinstance(metrics, list) or index >= len(metrics) or not isinstance(metrics[index], dict):
        return None
    source = metrics[index].get(_SOURCE_FIELDS.get(hpa.metrics[index].type, ""))
    target = source.get("target") if isinstance(source, dict) else None
    if not isinstance(target, dict) or target.get(key) is None:
        return None
    try:
        q = decode_quantity(target[key])
    except QuantityError:
        return None
    return str(Quantity(q.amount, q.format))  # the stored object prints canonically
