"""What a run produces: tidy tables, the summary computed from them, and saving to disk.

Tables (documented columns; times in seconds from the start of the run):

- ``requests``: one row per request: ``request_id, client, t_sent, t_done, latency,
  entry_node, pod, pod_node, outcome, client_ip, connection_id, parent_id, attempts``. Rows
  that never reached a pod have empty (null) pod fields; ``connection_id`` is the id of the
  request that opened the connection; ``parent_id`` is set on calls between Services. A
  request a client retried has its first try's ``t_sent``, its last try's end, pod and
  outcome, and ``attempts`` tries (1 without retries); latency spans every try.
- ``tries`` (only when a client has ``retries``): one row per try: ``request_id, attempt,
  client, t_sent, t_done, latency, entry_node, pod, pod_node, outcome``.
- ``timeline``: one row per change: ``time, deployment, pods_total, pods_ready,
  endpoints`` (pods the dataplane routes to), ``event``, ``pod``, ``detail``.
- ``pods``: one row per pod that ever existed: ``pod, deployment, node, ip, created,
  ready, terminating, deleted, routed, unrouted, requests, utilisation``.
- ``events``: what the controllers did, as ``kubectl get events`` lists it, by time:
  ``time, type`` (Normal or Warning), ``reason, object`` (``pod/NAME``, ``node/NAME``...),
  ``message``.
- ``pod_status``: one row per change of a pod's kubectl view, by time: ``time, pod,
  status, ready`` (``1/1`` or ``0/1``), ``restarts``; each row holds until the pod's next.
- ``hpa``: one row per HorizontalPodAutoscaler sync, by time: ``time, hpa, reference``
  (``Deployment/web``), ``min_replicas, max_replicas, current_replicas`` (the scale read at
  the sync), ``desired_replicas`` (what it set or kept), ``rescaled, reason`` ("" when none),
  ``able_to_scale, scaling_active, scaling_limited`` (each condition as ``True/ReasonName``).
- ``hpa_metrics``: one row per HPA sync per metric: ``time, hpa, metric`` (``cpu``,
  ``memory``, ``pods/NAME``, ``external/NAME``, ``object/KIND/NAME/METRIC``), ``target_type``
  (Utilization, AverageValue or Value), ``current`` (percent of request for Utilization, else
  base units; NaN when the metric was unavailable), ``target`` (same units), ``proposal``
  (replicas the metric proposed; -1 if none).
- ``nodes``: one row per node that ever joined: ``node, ip, zone, cpu_m, memory_bytes, pods``
  (allocatable), ``added`` (0 for the scenario's nodes), ``removed`` (null while present).

The summary also records the ``seed``, the ``engine`` that ran and the ``svcsim_version``.

The summary's statistics are computed from these tables, over the measurement window
``[warmup, duration]``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from sim.errors import Problem, ScenarioError
from sim.results.describe import describe_result
from sim.results.run_folder import MARKER, read_marker, replacing, write_files
from sim.results.run_warnings import run_warnings
from sim.results.slo import slo_report, window_error_rate
from sim.results.tables import (
    EVENTS_SCHEMA,
    HPA_METRICS_SCHEMA,
    HPA_SCHEMA,
    NODES_SCHEMA,
    POD_STATUS_SCHEMA,
    events_table,
    finite,
    hpa_metrics_table,
    hpa_table,
    nodes_table,
    pod_status_table,
    pod_table,
    requests_table,
    tries_table,
)
from sim.runtime.kube_scheduler import node_row
from sim.runtime.requests.outcomes import OUTCOMES
from sim.runtime.topology import Topology
from sim.scenario.load import load_scenario
from sim.version import VERSION

if TYPE_CHECKING:
    from sim.runtime.run import RunRecord
    from sim.scenario.resolved import Scenario

__all__ = ["Result", "build_result", "load_result", "summarize"]

PERCENTILES = (50, 90, 95, 99)  # on the 0–100 scale numpy expects


@dataclass(repr=False)
class Result:
    """A finished run: ``requests``, ``timeline`` and ``pods`` tables and the ``summary``;
    ``tries`` when a client retries; the controllers' ``events``, the pods' ``pod_status`` and
    the autoscalers' ``hpa`` syncs and ``hpa_metrics`` (empty tables, with their columns, when
    nothing was recorded)."""

    scenario: Scenario
    seed: int
    requests: pd.DataFrame
    timeline: pd.DataFrame
    pods: pd.DataFrame
    summary: dict[str, Any]
    topology: Topology | None = field(default=None, repr=False)
    tries: pd.DataFrame | None = None  # one row per try, when a client retries
    events: pd.DataFrame = field(default_factory=lambda: events_table([]))
    pod_status: pd.DataFrame = field(default_factory=lambda: pod_status_table([]))
    hpa: pd.DataFrame = field(default_factory=lambda: hpa_table([]))
    hpa_metrics: pd.DataFrame = field(default_factory=lambda: hpa_metrics_table([]))
    nodes: pd.DataFrame = field(default_factory=lambda: nodes_table([]))

    def __repr__(self) -> str:
        """A few lines: requests, outcomes, p50/p99, throughput (not every table)."""
        return describe_result(self)

    @property
    def sample(self) -> int:
        """k when the requests table keeps every k-th request (``simulate(sample=k)``), else 1:
        a count of its rows times k estimates the count of requests."""
        sampled = self.summary.get("sample")
        every = sampled.get("every") if isinstance(sampled, dict) else None
        return every if isinstance(every, int) and not isinstance(every, bool) and every >= 1 else 1

    def save(self, directory: str | os.PathLike[str], extra: dict[str, bytes] | None = None) -> Path:
        """Write the tables, summary and resolved scenario (and ``extra`` files, by relative
        path, such as rendered plots) into ``directory``, with the run marker
        (:mod:`sim.results.run_folder`).

        ``directory`` must be new, empty or an earlier run's folder; a non-empty folder
        without the marker is a :class:`ScenarioError`. Everything is written to a staging
        folder first and moved in at the end, so an interrupted save leaves the folder as it
        was. The previous run's files that are not written again (plots and a report drawn
        from the old tables) are removed; files svcsim did not write are left alone.
        """
        with replacing(directory, whole_run=True) as staging:
            self.requests.to_parquet(staging / "requests.parquet", index=False)
            self.timeline.to_parquet(staging / "timeline.parquet", index=False)
            self.pods.to_parquet(staging / "pods.parquet", index=False)
            if self.tries is not None:
                self.tries.to_parquet(staging / "tries.parquet", index=False)
            # With a schema, an empty table keeps its column types (text, not null).
            self.events.to_parquet(staging / "events.parquet", index=False, schema=EVENTS_SCHEMA)
            self.pod_status.to_parquet(staging / "pod_status.parquet", index=False, schema=POD_STATUS_SCHEMA)
            self.hpa.to_parquet(staging / "hpa.parquet", index=False, schema=HPA_SCHEMA)
            self.hpa_metrics.to_parquet(staging / "hpa_metrics.parquet", index=False, schema=HPA_METRICS_SCHEMA)
            self.nodes.to_parquet(staging / "nodes.parquet", index=False, schema=NODES_SCHEMA)
            (staging / "summary.json").write_text(summary_json(self.summary), encoding="utf-8")
            resolved = self.scenario.with_overrides(seed=self.seed)
            (staging / "scenario.yaml").write_text(resolved.to_yaml(), encoding="utf-8")
            write_files(staging, extra or {})
        return Path(directory)


RUN_FILES = ("requests.parquet", "timeline.parquet", "pods.parquet", "summary.json", "scenario.yaml")
#: Written by every run since pod lifecycle (issue 10); a folder written before has neither,
#: and reads back with both tables empty.
LIFECYCLE_FILES = ("events.parquet", "pod_status.parquet")
#: Written by every run since autoscaling (issue 11); a folder written before reads back with
#: both tables empty.
HPA_FILES = ("hpa.parquet", "hpa_metrics.parquet")


def summary_json(summary: dict[str, Any]) -> str:
    """The summary as strict JSON: a value that is not a finite number (NaN, infinity) is
    written as null, since JSON has no such numbers and most readers reject Python's."""
    return json.dumps(_finite_or_null(summary), indent=2, allow_nan=False) + "\n"


def _finite_or_null(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _finite_or_null(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_null(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# The columns a saved table must have for the plots and the report, and what each holds:
# "number" (a float or integer column, nulls allowed), "outcome" (one of OUTCOMES in every
# row) or "any" (text: names and addresses, any type reads as text).
COLUMNS: dict[str, dict[str, str]] = {
    "requests.parquet": {
        "request_id": "number",
        "client": "any",
        "t_sent": "number",
        "t_done": "number",
        "latency": "number",
        "entry_node": "any",
        "pod": "any",
        "pod_node": "any",
        "outcome": "outcome",
        "client_ip": "any",
        "connection_id": "number",
        "parent_id": "number",
        "attempts": "number",
    },
    "tries.parquet": {
        "request_id": "number",
        "attempt": "number",
        "client": "any",
        "t_sent": "number",
        "t_done": "number",
        "latency": "number",
        "entry_node": "any",
        "pod": "any",
        "pod_node": "any",
        "outcome": "outcome",
    },
    "timeline.parquet": {
        "time": "number",
        "deployment": "any",
        "pods_total": "number",
        "pods_ready": "number",
        "endpoints": "number",
        "event": "any",
        "pod": "any",
        "detail": "any",
    },
    "pods.parquet": {
        "pod": "any",
        "deployment": "any",
        "node": "any",
        "ip": "any",
        "created": "number",
        "ready": "number",
        "terminating": "number",
        "deleted": "number",
        "routed": "number",
        "unrouted": "number",
        "requests": "number",
        "utilisation": "number",
    },
    "events.parquet": {"time": "number", "type": "any", "reason": "any", "object": "any", "message": "any"},
    "pod_status.parquet": {"time": "number", "pod": "any", "status": "any", "ready": "any", "restarts": "number"},
    "hpa.parquet": {
        "time": "number",
        "hpa": "any",
        "reference": "any",
        "min_replicas": "number",
        "max_replicas": "number",
        "current_replicas": "number",
        "desired_replicas": "number",
        "rescaled": "any",
        "reason": "any",
        "able_to_scale": "any",
        "scaling_active": "any",
        "scaling_limited": "any",
    },
    "hpa_metrics.parquet": {
        "time": "number",
        "hpa": "any",
        "metric": "any",
        "target_type": "any",
        "current": "number",
        "target": "number",
        "proposal": "number",
    },
    "nodes.parquet": {
        "node": "any",
        "ip": "any",
        "zone": "any",
        "cpu_m": "number",
        "memory_bytes": "number",
        "pods": "number",
        "added": "number",
        "removed": "number",
    },
}
# The summary's keys the report reads, with the JSON types each may hold.
SUMMARY_KEYS: dict[str, tuple[tuple[type, ...], str]] = {
    "seed": ((int,), "an integer"),
    "requests": ((int,), "an integer"),
    "outcomes": ((dict,), "an object"),
    "latency_ms": ((dict,), "an object"),
    "throughput_rps": ((float, int, type(None)), "a number or null"),
}
# Keys the report reads when present (a run folder older than spec.slo has neither).
OPTIONAL_SUMMARY_KEYS: dict[str, tuple[tuple[type, ...], str]] = {
    "slo": ((dict, type(None)), "an object or null"),
    "warnings": ((list,), "a list"),
}


def load_result(directory: str | os.PathLike[str], *, requests: bool = True) -> Result:
    """Read a run folder written by :meth:`Result.save` (or ``svcsim run``) back into a Result.

    Anything the plots and the report could not use (a missing or damaged file, a missing
    column, a column of the wrong type, an unknown outcome) is a :class:`ScenarioError`
    naming the file and what is wrong. ``requests=False`` reads the requests and tries
    tables' columns but none of their rows, for views of the cluster alone (``svcsim get``)
    that need not read 10⁷ requests.
    """
    folder = Path(directory)
    missing = [name for name in RUN_FILES if not (folder / name).is_file()]
    if missing:
        raise ScenarioError([Problem(str(folder), "", "", f"not a svcsim run folder: missing {', '.join(missing)}")])
    marker = read_marker(folder)
    if marker is not None and not marker["complete"]:
        message = "a save into this folder was cut off (svcsim was killed?): its files may mix two runs; run again"
        raise ScenarioError([Problem(str(folder / MARKER), "", "", message)])
    scenario = load_scenario(folder / "scenario.yaml")

    def read(name: str, reader: Any) -> Any:
        """One file of the run; a damaged one is a one-line ScenarioError naming it."""
        path = folder / name
        try:
            data = reader(path)
        # ArrowInvalid (a damaged parquet file) and JSONDecodeError are ValueErrors.
        except (OSError, ValueError, TypeError, KeyError, NotImplementedError) as err:
            detail = " ".join(str(err).split()) or type(err).__name__
            raise ScenarioError([Problem(str(path), "", "", f"cannot read: {detail}")]) from None
        problem = _table_problem(data, COLUMNS[name]) if name in COLUMNS else None
        if problem:
            raise ScenarioError([Problem(str(path), "", "", f"not written by svcsim: {problem}")])
        return data

    summary = read("summary.json", _summary_object)
    pods = read("pods.parquet", pd.read_parquet)
    table_reader = pd.read_parquet if requests else _columns_only
    requests_df = read("requests.parquet", table_reader)
    timeline = read("timeline.parquet", pd.read_parquet)
    retrying = any(c.retries is not None for c in scenario.simulation.clients)
    if retrying and not (folder / "tries.parquet").is_file():
        problem = "not a complete svcsim run folder: missing tries.parquet (its clients retry)"
        raise ScenarioError([Problem(str(folder), "", "", problem)])
    tries = read("tries.parquet", table_reader) if retrying else None
    # A folder written before pod lifecycle (LIFECYCLE_FILES) has no events: empty tables.
    events = read("events.parquet", pd.read_parquet) if (folder / "events.parquet").is_file() else events_table([])
    pod_status = (
        read("pod_status.parquet", pd.read_parquet)
        if (folder / "pod_status.parquet").is_file()
        else pod_status_table([])
    )
    # A folder written before autoscaling (HPA_FILES) has no HPA tables: empty ones.
    hpa = read("hpa.parquet", pd.read_parquet) if (folder / "hpa.parquet").is_file() else hpa_table([])
    hpa_metrics = (
        read("hpa_metrics.parquet", pd.read_parquet)
        if (folder / "hpa_metrics.parquet").is_file()
        else hpa_metrics_table([])
    )
    # A folder written before node capacity (issue 11) has no nodes table: the scenario's nodes.
    nodes_df = (
        read("nodes.parquet", pd.read_parquet)
        if (folder / "nodes.parquet").is_file()
        else nodes_table([node_row(n, 0.0) for n in scenario.simulation.cluster.nodes])
    )
    requests_df["outcome"] = pd.Categorical(requests_df["outcome"], categories=list(OUTCOMES))
    if tries is not None:
        tries["outcome"] = pd.Categorical(tries["outcome"], categories=list(OUTCOMES))
    nodes = {n.name for n in scenario.simulation.cluster.slots} | {str(n) for n in nodes_df["node"]}
    strangers = sorted({str(n) for n in pods["node"].dropna()} - nodes)
    if strangers:
        message = f"pods on node(s) {', '.join(strangers)} that scenario.yaml does not have"
        raise ScenarioError([Problem(str(folder / "pods.parquet"), "", "", message)])
    topology = Topology(scenario)
    labels = {d.name: d.labels for d in scenario.deployments}
    for row in pods.itertuples():
        node = row.node if isinstance(row.node, str) else None
        ip = row.ip if isinstance(row.ip, str) else None
        topology.add_pod(str(row.pod), ip, str(row.deployment), node, labels.get(str(row.deployment), {}))
    return Result(
        scenario=scenario,
        seed=int(summary["seed"]),
        requests=requests_df,
        timeline=timeline,
        pods=pods,
        summary=summary,
        topology=topology,
        tries=tries,
        events=events,
        pod_status=pod_status,
        hpa=hpa,
        hpa_metrics=hpa_metrics,
        nodes=nodes_df,
    )


def _columns_only(path: Path) -> pd.DataFrame:
    """A parquet file's columns, with their types, and no rows."""
    return pq.read_schema(path).empty_table().to_pandas()


def _summary_object(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or isinstance(data.get("seed"), bool) or not isinstance(data.get("seed"), int):
        raise ValueError("expected a JSON object with an integer seed")
    for key, (types, description) in SUMMARY_KEYS.items():
        if key not in data:
            raise ValueError(f"no key {key}")
        if isinstance(data[key], bool) or not isinstance(data[key], types):
            raise ValueError(f"{key} is {json.dumps(data[key])[:40]}, not {description}")
    for key, (types, description) in OPTIONAL_SUMMARY_KEYS.items():
        if key in data and not isinstance(data[key], types):
            raise ValueError(f"{key} is {json.dumps(data[key])[:40]}, not {description}")
    slo = data.get("slo")
    if isinstance(slo, dict) and not _slo_shaped(slo):
        raise ValueError("slo is not an object with met and a list of checks {name, target, measured, unit, met}")
    if any(not isinstance(w, str) for w in data.get("warnings", [])):
        raise ValueError("warnings holds something other than text")
    return data


def _slo_shaped(slo: dict[str, Any]) -> bool:
    checks = slo.get("checks")
    return (
        isinstance(slo.get("met"), bool)
        and isinstance(checks, list)
        and all(
            isinstance(c, dict)
            and isinstance(c.get("name"), str)
            and c.get("unit") in ("ms", "fraction", "req/s")
            and isinstance(c.get("met"), bool)
            and all(
                isinstance(c.get(k), int | float | None) and not isinstance(c.get(k), bool)
                for k in ("target", "measured")
            )
            for c in checks
        )
    )


def _table_problem(table: pd.DataFrame, columns: dict[str, str]) -> str | None:
    """What makes ``table`` unusable as the table ``columns`` describes, or None."""
    absent = [c for c in columns if c not in table.columns]
    if absent:
        return f"no column {', '.join(absent)}"
    for name, kind in columns.items():
        column = table[name]
        numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
        if kind == "number" and not numeric and not column.isna().all():
            return f"column {name} holds {str(column.dropna().iloc[0])[:40]!r}, not numbers"
        if kind == "outcome":
            # The distinct values only (a category's codes, not 10^7 strings: 2.3 s at that size).
            unknown = sorted({str(v) for v in column.dropna().unique()} - set(OUTCOMES))
            if unknown:
                return f"column outcome holds {', '.join(unknown[:3])}, not one of {', '.join(OUTCOMES)}"
            empty = int(column.isna().sum())
            if empty:
                return f"column outcome is empty in {empty} row(s)"
    return None


def build_result(record: RunRecord, *, release_log: bool = False, sample: int = 1) -> Result:
    """Turn a run's columns into tables and compute the summary from them.

    ``release_log``: free each of the record's log columns once the tables hold what they
    need of it (10^7 requests over 10 000 pods: 1855 -> 1335 MiB peak); the record cannot be built
    into a result again. :func:`sim.api.simulate`, which never shows the record, says so.

    ``sample`` k > 1: the summary, its SLO checks and warnings, and the pods table are computed
    from every request, then the requests (and tries) tables keep 1 in k requests, chosen by a
    hash of ``request_id`` (:func:`sampled_ids`); ``summary["sample"]`` records k and
    the exact error rate the metrics would otherwise read from the rows."""
    scenario, seed, log, pods, callers = record.scenario, record.seed, record.log, record.pods, record.callers
    sim = scenario.simulation
    node_names = [n.name for n in sim.cluster.slots]  # a cluster autoscaler's nodes after the scenario's
    client_names = [c.name for c in sim.clients] + list(callers or [])  # calls: under their Deployment
    pod_names = [p.name for p in pods]
    retries = any(c.retries is not None for c in sim.clients)  # the tries table reads the whole log
    requests, request_of = requests_table(log, client_names, node_names, pod_names, release=release_log and not retries)
    tries = None
    if retries:
        ids = np.arange(log.size) if request_of is None else request_of
        tries = tries_table(log, ids, client_names, node_names, pod_names)
    timeline = sorted(record.timeline, key=lambda row: row["time"])  # a late-found exit goes in its place
    timeline_df = pd.DataFrame(
        timeline, columns=["time", "deployment", "pods_total", "pods_ready", "endpoints", "event", "pod", "detail"]
    )
    pods_df = pod_table(sim.warmup_s, sim.duration_s, log, pods, node_names)
    if release_log:
        log.release(("pod", "t_start", "service_s"))
    summary = {
        "scenario": sim.name,
        "seed": seed,
        **summarize(requests, pods_df, sim.warmup_s, sim.duration_s),
        "slo": slo_report(requests, sim.slo, sim.warmup_s, sim.duration_s),
        "warnings": run_warnings(scenario, requests, timeline_df, record.events, pods_df),
        "engine": record.engine,
        "svcsim_version": VERSION,
    }
    if tries is not None:
        summary["retries"] = int(log.size - len(requests))
    if sample > 1:
        summary["sample"] = {
            "every": sample,
            "error_rate": window_error_rate(requests, sim.warmup_s, sim.duration_s),
        }
        requests, tries = sample_rows(requests, sample), None if tries is None else sample_rows(tries, sample)
        summary["sample"]["rows"] = len(requests)
    return Result(
        scenario,
        seed,
        requests,
        timeline_df,
        pods_df,
        summary,
        record.topology,
        tries,
        events=events_table(record.events),
        pod_status=pod_status_table(record.pod_status),
        hpa=hpa_table(record.hpa),
        hpa_metrics=hpa_metrics_table(record.hpa_metrics),
        nodes=nodes_table(record.nodes or [node_row(n, 0.0) for n in sim.cluster.nodes]),
    )


#: Fibonacci hashing (Knuth): request ids times 2^64 / golden ratio, mod 2^64.
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def sampled_ids(request_id: np.ndarray, every: int) -> np.ndarray:
    """Which requests a sample of 1 in ``every`` keeps: those whose id's Fibonacci hash falls in
    the lowest 1/every of its range. Not ``id % every == 0``: ids are handed out in send order, so
    two constant-rate clients alternate ids and a multiple of 2 kept one client's requests only.
    The hashes of consecutive ids spread evenly (the golden ratio's low discrepancy), so every
    client, pod and stretch of time keeps close to 1 in ``every`` of its requests."""
    hashed = request_id.astype(np.uint64) * _GOLDEN  # wraps around 2^64, as a hash should
    return (hashed >> np.uint64(32)) < np.uint64(2**32 // every)


def sample_rows(table: pd.DataFrame, every: int) -> pd.DataFrame:
    """The rows of the requests :func:`sampled_ids` keeps (a try keeps its request's id, so a
    sampled request keeps all its tries); their ``request_id`` stays."""
    keep = sampled_ids(table["request_id"].to_numpy(), every)
    return table[keep].reset_index(drop=True)


def summarize(requests: pd.DataFrame, pods: pd.DataFrame, warmup_s: float, duration_s: float) -> dict[str, Any]:
    """The run's summary from its tables, over ``[warmup, duration]``; a statistic with
    nothing to measure (no ok request after warm-up, a pod never Ready) is None. Latency and
    throughput count the clients' requests only (a call between Services is a row too)."""
    outcome = requests["outcome"]
    counts = outcome.value_counts()
    # Latency and throughput are what clients see: calls between Services are rows too, not counted.
    ok = (outcome == "ok").to_numpy() & requests["parent_id"].isna().to_numpy()
    latency_ms = requests["latency"].to_numpy()[ok & (requests["t_sent"].to_numpy() >= warmup_s)]
    latency_ms *= 1e3  # in place: a copy of 10^7 latencies is 80 MB
    latency: dict[str, float | None]
    if len(latency_ms):
        mean, top = finite(float(latency_ms.mean())), finite(float(latency_ms.max()))  # before the reorder
        quantiles = np.percentile(latency_ms, PERCENTILES, overwrite_input=True)  # partitions in place
        latency = {
            "mean": mean,
            **{f"p{q}": finite(float(v)) for q, v in zip(PERCENTILES, quantiles, strict=True)},
            "max": top,
        }
    else:
        latency = dict.fromkeys(("mean", "p50", "p90", "p95", "p99", "max"))
    window = duration_s - warmup_s
    t_done = requests["t_done"].to_numpy()
    done_in_window = int((ok & (t_done >= warmup_s) & (t_done <= duration_s)).sum())
    return {
        "duration_s": duration_s,
        "warmup_s": warmup_s,
        "requests": len(requests),
        "outcomes": {name: int(counts.get(name, 0)) for name in OUTCOMES},
        "latency_ms": latency,
        "throughput_rps": finite(float(done_in_window / window)) if window > 0 else None,
        "pods": {
            row.pod: {
                "deployment": row.deployment,
                "node": row.node if isinstance(row.node, str) else None,  # a pod never scheduled: null
                "ip": row.ip if isinstance(row.ip, str) else None,
                "requests": int(row.requests),
                "utilisation": finite(float(row.utilisation)),
            }
            for row in pods.itertuples()
        },
    }
