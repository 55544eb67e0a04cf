"""The run's tables: requests, tries and pods built from the request log's columns, and the
controllers' ``events``, the pods' ``pod_status`` and the autoscalers' ``hpa`` and
``hpa_metrics`` built from the run record's rows.

Split from :mod:`sim.results.result` (which documents the columns and builds the summary).
The request log holds one row per try; without retries the requests table's float and id
columns are views of it, not copies, since a run may hold 5 × 10⁷ requests.
"""

from __future__ import annotations

import ipaddress
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from sim.compiled import compiled
from sim.runtime.requests.outcomes import OUTCOMES
from sim.runtime.requests.request_log import RequestLog

if TYPE_CHECKING:
    from sim.runtime.pods import Pod

__all__ = [
    "EVENTS_SCHEMA",
    "HPA_METRICS_SCHEMA",
    "HPA_SCHEMA",
    "NODES_SCHEMA",
    "POD_STATUS_SCHEMA",
    "events_table",
    "finite",
    "hpa_metrics_table",
    "hpa_table",
    "nodes_table",
    "pod_status_table",
    "pod_table",
    "requests_table",
    "tries_table",
]

#: ``events.parquet``: what the controllers did, as ``kubectl get events`` lists it.
EVENTS_SCHEMA = pa.schema(
    [
        ("time", pa.float64()),
        ("type", pa.string()),
        ("reason", pa.string()),
        ("object", pa.string()),
        ("message", pa.string()),
    ]
)
#: ``nodes.parquet``: one row per node that ever joined, its allocatable, when it joined and left.
NODES_SCHEMA = pa.schema(
    [
        ("node", pa.string()),
        ("ip", pa.string()),
        ("zone", pa.string()),
        ("cpu_m", pa.int64()),
        ("memory_bytes", pa.int64()),
        ("pods", pa.int64()),
        ("added", pa.float64()),
        ("removed", pa.float64()),
    ]
)
#: ``pod_status.parquet``: every change of a pod's kubectl view, from that time on.
POD_STATUS_SCHEMA = pa.schema(
    [
        ("time", pa.float64()),
        ("pod", pa.string()),
        ("status", pa.string()),
        ("ready", pa.string()),
        ("restarts", pa.int64()),
    ]
)
#: ``hpa.parquet``: one row per HPA sync, the controller's view and decision at that time.
HPA_SCHEMA = pa.schema(
    [
        ("time", pa.float64()),
        ("hpa", pa.string()),
        ("reference", pa.string()),
        ("min_replicas", pa.int64()),
        ("max_replicas", pa.int64()),
        ("current_replicas", pa.int64()),
        ("desired_replicas", pa.int64()),
        ("rescaled", pa.bool_()),
        ("reason", pa.string()),
        ("able_to_scale", pa.string()),
        ("scaling_active", pa.string()),
        ("scaling_limited", pa.string()),
    ]
)
#: ``hpa_metrics.parquet``: one row per HPA sync per metric: the value read, its target and
#: the replicas it proposed.
HPA_METRICS_SCHEMA = pa.schema(
    [
        ("time", pa.float64()),
        ("hpa", pa.string()),
        ("metric", pa.string()),
        ("target_type", pa.string()),
        ("current", pa.float64()),
        ("target", pa.float64()),
        ("proposal", pa.int64()),
    ]
)


def requests_table(
    log: RequestLog,
    client_names: list[str],
    node_names: list[str],
    pod_names: list[str],
    *,
    release: bool = False,
) -> tuple[pd.DataFrame, np.ndarray | None]:
    """One row per request (its first try's send, its last try's end) and, when some request
    was retried, every try's request id (None when each try is its own request).

    ``release``: free each log column this table alone needs as soon as the table holds its
    own copy (not ``pod``, which the pods table reads, nor those kept as views)."""
    first = log.column("origin") < 0  # a request's first try: every row, unless a client retried
    rows: slice | np.ndarray
    last: slice | np.ndarray
    if first.all():  # views, not copies: a run may hold 5 × 10⁷ requests
        rows = last = slice(None)
        request_of = None  # each try is its request
    else:
        rows = np.flatnonzero(first)
        root = np.where(first, np.arange(log.size), log.column("origin"))
        request_of = (np.cumsum(first) - 1)[root]
        last = _last_tries(root, log.column("attempt"))

    def at(name: str, which: slice | np.ndarray) -> np.ndarray:
        return log.column(name)[which]

    # The small columns first, the log's wide ones freed, then the new 8-byte columns: the
    # log and the table never hold a 10^7-row column twice at once.
    client = _labels(at("client", rows), client_names)
    entry_node = _labels(at("entry_node", last), node_names)
    pod = _labels(at("pod", last), pod_names)
    pod_node = _labels(at("pod_node", last), node_names)
    outcome = pd.Categorical.from_codes(at("outcome", last), categories=list(OUTCOMES))
    client_ip = _addresses(at("client_ip", last))
    attempts = at("attempt", last).astype(np.int16)
    if release:
        log.release(("client", "entry_node", "pod_node", "outcome", "client_ip", "attempt", "origin"))
    parent = at("parent", rows)
    no_parent = parent < 0
    parent_values = np.where(no_parent, 0, parent if request_of is None else request_of[np.maximum(parent, 0)])
    del parent
    if release:
        log.release(("parent",))
    t_sent, t_done = at("t_sent", rows), at("t_done", last)
    connection = at("connection", last)
    # copy=False: the columns taken whole from the log stay views of it (pandas copies a dict's
    # arrays by default); the rest are new arrays no one else holds.
    requests = pd.DataFrame(
        {
            "request_id": np.arange(len(t_sent), dtype=np.int64),
            "client": client,
            "t_sent": t_sent,
            "t_done": t_done,
            "latency": t_done - t_sent,
            "entry_node": entry_node,
            "pod": pod,
            "pod_node": pod_node,
            "outcome": outcome,
            "client_ip": client_ip,
            "connection_id": connection.astype(np.int64, copy=False) if request_of is None else request_of[connection],
            "parent_id": pd.arrays.IntegerArray(parent_values.astype(np.int64, copy=False), no_parent),
            "attempts": attempts,
        },
        copy=False,
    )
    return requests, request_of


def tries_table(
    log: RequestLog, request_of: np.ndarray, client_names: list[str], node_names: list[str], pod_names: list[str]
) -> pd.DataFrame:
    """One row per try, with the id of the request it belongs to."""
    t_sent, t_done = log.column("t_sent"), log.column("t_done")
    return pd.DataFrame(
        {
            "request_id": request_of.astype(np.int64),
            "attempt": log.column("attempt").astype(np.int64),
            "client": _labels(log.column("client"), client_names),
            "t_sent": t_sent,
            "t_done": t_done,
            "latency": t_done - t_sent,
            "entry_node": _labels(log.column("entry_node"), node_names),
            "pod": _labels(log.column("pod"), pod_names),
            "pod_node": _labels(log.column("pod_node"), node_names),
            "outcome": pd.Categorical.from_codes(log.column("outcome"), categories=list(OUTCOMES)),
        }
    )


def _last_tries(root: np.ndarray, attempt: np.ndarray) -> np.ndarray:
    """For each request (first tries, in row order), the row of its last try."""
    first = np.flatnonzero(root == np.arange(len(root)))
    if len(first) == len(root):
        return first
    order = np.lexsort((attempt, root))  # by request, then attempt
    ends = np.flatnonzero(np.diff(root[order], append=-1) != 0)  # the last row of each request's group
    last = np.empty(len(root), dtype=np.int64)
    last[root[order][ends]] = order[ends]
    return last[first]


def _pod_work(
    pod: np.ndarray, start: np.ndarray, service_s: np.ndarray, end_cap: np.ndarray, warmup_s: float, duration_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per pod (a numba kernel: :func:`sim.compiled.compiled`): requests routed to it, and its
    served requests' busy time inside [warmup, duration] (cut at the pod's end), summed in row
    order; what ``np.bincount`` gave over the per-row numpy expressions, bit for bit, without
    their temporaries (10^7 rows: 245 MiB of them). ``tests/test_tables.py`` holds the numpy form."""
    n = end_cap.shape[0]
    count = np.zeros(n, dtype=np.int64)
    busy = np.zeros(n)
    for i in range(pod.shape[0]):
        k = pod[i]
        if k < 0:
            continue
        count[k] += 1
        begin_at = start[i]
        if begin_at != begin_at:  # noqa: PLR0124 (never started)
            continue
        # np.clip(start, warmup, duration): start is a number here, the bounds too.
        begin = warmup_s if begin_at < warmup_s else begin_at
        begin = duration_s if begin > duration_s else begin
        # np.minimum(start + service, end_cap), then np.minimum(., duration): NaN propagates.
        finish = begin_at + service_s[i]
        cap = end_cap[k]
        if finish == finish and (cap != cap or cap < finish):  # noqa: PLR0124 (NaN tests)
            finish = cap
        if finish == finish and duration_s < finish:  # noqa: PLR0124
            finish = duration_s
        # np.clip(finish - begin, 0, None)
        worked = finish - begin
        busy[k] += 0.0 if worked < 0.0 else worked
    return count, busy


def pod_table(
    warmup_s: float, duration_s: float, log: RequestLog, pods: list[Pod], node_names: list[str]
) -> pd.DataFrame:
    """Per pod: lifecycle times, requests routed to it, and utilisation in the window.

    Utilisation is busy worker-time divided by ``concurrency`` × the time the pod was
    Ready (until it went) inside the window.
    """
    end_cap = np.array([min(p.gone_at, p.deadline) for p in pods], dtype=float)
    count, busy = compiled(_pod_work)(
        log.column("pod"), log.column("t_start"), log.column("service_s"), end_cap, float(warmup_s), float(duration_s)
    )
    rows = []
    for p in pods:
        up = max(0.0, min(p.gone_at, duration_s) - max(p.ready_at, warmup_s))
        rows.append(
            {
                "pod": p.name,
                "deployment": p.deployment,
                "node": node_names[p.node] if p.node is not None else None,
                "ip": p.ip,
                "created": p.created_at,
                "ready": finite(p.ready_at),
                "terminating": finite(p.terminating_at),
                "deleted": finite(p.gone_at),
                "routed": finite(p.routed_at),
                "unrouted": finite(p.unrouted_at),
                "requests": int(count[p.index]),
                "utilisation": busy[p.index] / (p.concurrency * up) if up > 0 else math.nan,
            }
        )
    columns = [
        "pod",
        "deployment",
        "node",
        "ip",
        "created",
        "ready",
        "terminating",
        "deleted",
        "routed",
        "unrouted",
        "requests",
        "utilisation",
    ]
    return pd.DataFrame(rows, columns=columns)


def events_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The controllers' events (:attr:`RunRecord.events <sim.runtime.run.RunRecord.events>`)
    ordered by time; events at the same time keep the order they were recorded in."""
    return _rows_table(rows, EVENTS_SCHEMA)


def pod_status_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Every change of a pod's kubectl view (:attr:`RunRecord.pod_status
    <sim.runtime.run.RunRecord.pod_status>`) ordered by time, same-time rows as recorded."""
    return _rows_table(rows, POD_STATUS_SCHEMA)


def hpa_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The HPA controller's syncs (:attr:`RunRecord.hpa <sim.runtime.run.RunRecord.hpa>`)
    ordered by time, same-time rows as recorded."""
    return _rows_table(rows, HPA_SCHEMA)


def hpa_metrics_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Each HPA sync's metrics (:attr:`RunRecord.hpa_metrics
    <sim.runtime.run.RunRecord.hpa_metrics>`) ordered by time, same-time rows as recorded
    (the HPA's metrics in its spec's order)."""
    return _rows_table(rows, HPA_METRICS_SCHEMA)


def nodes_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The nodes (:attr:`RunRecord.nodes <sim.runtime.run.RunRecord.nodes>`), in the order they joined."""
    columns = {f.name: [row[f.name] for row in rows] for f in NODES_SCHEMA}
    return pa.table(columns, schema=NODES_SCHEMA).to_pandas()


def _rows_table(rows: list[dict[str, Any]], schema: pa.Schema) -> pd.DataFrame:
    """Rows as a table with ``schema``'s columns and types (an empty table has them too),
    stably sorted by ``time``."""
    ordered = sorted(rows, key=lambda row: float(row["time"]))  # sorted() is stable
    columns = {f.name: [row[f.name] for row in ordered] for f in schema}
    return pa.table(columns, schema=schema).to_pandas()


def _addresses(values: np.ndarray) -> pd.Categorical:
    """Integer IPv4 addresses as a categorical column of dotted strings, sorted by address.

    pd.factorize hashes rather than sorts (np.unique's argsort holds four row-sized int64
    arrays at once); with ``sort=True`` its codes and uniques are np.unique's."""
    codes, unique = pd.factorize(values, sort=True)
    names = [str(ipaddress.IPv4Address(int(v))) for v in unique]
    return pd.Categorical.from_codes(codes, categories=names)


def _labels(codes: np.ndarray, names: list[str]) -> pd.Categorical:
    """Integer codes (-1 for none) as a categorical column of names, null where -1; the
    categorical keeps the codes in the smallest integer type that holds them."""
    return pd.Categorical.from_codes(codes, categories=names) if names else pd.Categorical([None] * len(codes))


def finite(value: float) -> float | None:
    """``value``, or None where it is not a finite number (JSON has none)."""
    return value if math.isfinite(value) else None
