"""``kubectl get``-style views of a scenario's Services, pods and events.

Columns and formats follow kubectl's printers (pkg/printers/internalversion/printers.go):
``NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE`` for Services, with PORT(S) such as
``80:30008/TCP``; ``NAME READY STATUS RESTARTS AGE IP NODE`` for pods, RESTARTS as
``3 (45s ago)`` once a container has restarted; ``LAST SEEN TYPE REASON OBJECT MESSAGE``
for events; ``NAME REFERENCE TARGETS MINPODS MAXPODS REPLICAS AGE`` for HorizontalPodAutoscalers,
TARGETS such as ``cpu: 45%/60%``; for nodes svcsim's own columns ``NAME STATUS CPU(ALLOC) CPU(REQ)
MEMORY(ALLOC) MEMORY(REQ) PODS AGE`` (kubectl's STATUS and AGE, and what ``kubectl describe node``
lists as allocatable and allocated). Ages are taken at a simulated time (docs/semantics.md#kubectl-views).
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pandas as pd

from sim.kube.hpa import HorizontalPodAutoscaler
from sim.kube.quantity import Format, Quantity
from sim.kube.service import Service
from sim.results.hpa_status import MetricReading, current_text, status_at, target_text
from sim.scenario.resolved import Scenario
from sim.units import human_age

__all__ = [
    "EVENT_HEADER",
    "HPA_HEADER",
    "NODE_HEADER",
    "event_rows",
    "format_table",
    "hpa_rows",
    "node_rows",
    "node_statuses",
    "pod_rows",
    "service_rows",
]

#: ``kubectl get events``' columns (printers.go printEvent, without ``-o wide``).
EVENT_HEADER = ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
#: ``kubectl get hpa``'s columns (printers.go printHorizontalPodAutoscaler).
HPA_HEADER = ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]
#: formatHPAMetrics lists this many metrics, then ``+ N more...``.
_HPA_METRICS_SHOWN = 2


def service_rows(scenario: Scenario, at_s: float = 0.0, wide: bool = False) -> list[list[str]]:
    """Header and one row per Service, as ``kubectl get svc`` prints them."""
    header = ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    if wide:
        header.append("SELECTOR")
    rows = [header]
    for svc in scenario.services:
        row = [
            svc.name,
            svc.type,
            svc.cluster_ip or "<none>",  # "None" (headless) is printed as written
            _external_ip(svc, wide, at_s >= scenario.simulation.cluster.load_balancer.provisioning_delay_s),
            ",".join(p.kubectl() for p in svc.ports) or "<none>",
            human_age(at_s),
        ]
        if wide:
            row.append(",".join(f"{k}={v}" for k, v in sorted((svc.selector or {}).items())) or "<none>")
        rows.append(row)
    return rows


def _external_ip(svc: Service, wide: bool = False, provisioned: bool = True) -> str:
    """EXTERNAL-IP as printers.go getServiceExternalIP: spec.externalIPs, the load balancer's
    ingress (from a pasted ``status``, else from the pool once provisioned; ``<pending>``
    before), or the name an ExternalName Service points to."""
    spec = svc.manifest.get("spec") or {}
    external = [str(ip) for ip in spec.get("externalIPs") or []]
    if svc.type == "ExternalName":
        return str(spec.get("externalName") or "")
    if svc.type == "LoadBalancer":
        status = svc.manifest.get("status") or {}
        ingress = (status.get("loadBalancer") or {}).get("ingress") if isinstance(status, dict) else None
        names = [str(i.get("ip") or i.get("hostname") or "") for i in ingress or [] if isinstance(i, dict)]
        if not names and provisioned and svc.ingress_ip:
            names = [svc.ingress_ip]
        lb = ",".join(n for n in names if n)
        if not wide and len(lb) > 16:
            lb = lb[:13] + "..."
        return ",".join([*([lb] if lb else []), *external]) or "<pending>"
    return ",".join(external) or "<none>"


def pod_rows(
    pods: pd.DataFrame, at_s: float, wide: bool = False, pod_status: pd.DataFrame | None = None
) -> list[list[str]]:
    """Header and one row per pod alive at ``at_s`` (from a result's ``pods`` table).

    READY, STATUS and RESTARTS come from the pod's last ``pod_status`` row at or before
    ``at_s``; a pod with none there is derived from its lifecycle times in ``pods``.
    """
    header = ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]
    if wide:
        header += ["NOMINATED NODE", "READINESS GATES"]
    rows = [header]
    seen = _status_at(pod_status, at_s)
    for pod in pods.sort_values("pod").itertuples():
        ready_at, terminating_at, gone_at = (_time(v) for v in (pod.ready, pod.terminating, pod.deleted))
        if pod.created > at_s or gone_at <= at_s:
            continue
        restarts = "0"
        if pod.pod in seen:
            status, ready_text, restarts = seen[pod.pod]
        else:
            if not isinstance(pod.node, str):
                status, ready = "Pending", False
            elif terminating_at <= at_s:
                status, ready = "Terminating", ready_at <= at_s
            elif ready_at <= at_s:
                status, ready = "Running", True
            else:
                status, ready = "ContainerCreating", False
            ready_text = "1/1" if ready else "0/1"
        # A pod Pending at ``at_s`` has no node or IP yet, though the run bound it later.
        bound = status != "Pending" and isinstance(pod.node, str)
        row = [
            pod.pod,
            ready_text,
            status,
            restarts,
            human_age(at_s - pod.created),
            pod.ip if bound and isinstance(pod.ip, str) else "<none>",
            pod.node if bound else "<none>",
        ]
        if wide:
            row += ["<none>", "<none>"]
        rows.append(row)
    return rows


def _status_at(pod_status: pd.DataFrame | None, at_s: float) -> dict[str, tuple[str, str, str]]:
    """Per pod with a ``pod_status`` row at or before ``at_s``: its last such row's STATUS,
    READY and RESTARTS, the latter as kubectl prints it: ``3 (45s ago)``, the age of the last
    container exit (printers.go printPod: restarts and ``lastState.terminated.finishedAt``): the
    last row showing the container dead (``Error``, ``CrashLoopBackOff``), else the last row where
    the count went up (a restart after its node came back)."""
    if pod_status is None or pod_status.empty:
        return {}
    upto = pod_status[pod_status["time"].to_numpy(dtype=float) <= at_s]
    out = {}
    for name, rows in upto.groupby("pod", sort=False):  # the table is in time order
        counts = rows["restarts"].to_numpy(dtype=np.int64)
        times = rows["time"].to_numpy(dtype=float)
        went_up = np.flatnonzero(np.diff(counts, prepend=0) > 0)
        exited = np.flatnonzero(rows["status"].isin(("Error", "CrashLoopBackOff")).to_numpy())
        last = rows.iloc[-1]
        restarts = str(int(counts[-1]))
        if counts[-1] > 0 and (len(exited) or len(went_up)):
            finished = times[exited[-1]] if len(exited) else times[went_up[-1]]
            restarts += f" ({_age(at_s - finished)} ago)"
        out[str(name)] = (str(last["status"]), str(last["ready"]), restarts)
    return out


#: ``svcsim get nodes``' columns.
NODE_HEADER = ["NAME", "STATUS", "CPU(ALLOC)", "CPU(REQ)", "MEMORY(ALLOC)", "MEMORY(REQ)", "PODS", "AGE"]
#: The node events that set what kubectl's STATUS shows from then on.
_NODE_STATUS = {"NodeReady": "Ready", "NodeNotReady": "NotReady", "NodeNotSchedulable": "Ready,SchedulingDisabled"}


def node_statuses(events: pd.DataFrame, at_s: float) -> dict[str, str]:
    """Each node's kubectl STATUS at ``at_s`` from its last status event then (a node with
    none is Ready)."""
    status: dict[str, str] = {}
    shown = events[(events["time"].to_numpy(dtype=float) <= at_s) & events["object"].str.startswith("node/")]
    for reason, obj in zip(shown["reason"], shown["object"], strict=True):
        if str(reason) in _NODE_STATUS:
            status[str(obj)[5:]] = _NODE_STATUS[str(reason)]
    return status


def node_rows(
    scenario: Scenario,
    nodes: pd.DataFrame,
    pods: pd.DataFrame,
    events: pd.DataFrame,
    at_s: float,
    wide: bool = False,
) -> list[list[str]]:
    """Header and one row per node present at ``at_s`` (from a result's ``nodes``, ``pods``
    and ``events`` tables).

    STATUS is the node's last NodeReady / NotReady event at or before ``at_s`` (Ready without
    one); REQ sums the requests of the pods bound to the node at ``at_s`` (from their
    ``Scheduled`` event, or their creation for pods the run began with, until they are gone,
    terminating ones included, as ``kubectl describe node`` counts them), with the share of
    allocatable; PODS is those pods over allocatable pods.
    """
    header = list(NODE_HEADER) + (["INTERNAL-IP"] if wide else [])
    rows = [header]
    shown = events[events["time"].to_numpy(dtype=float) <= at_s]
    status = node_statuses(events, at_s)
    scheduled: dict[str, float] = {}
    for event in shown.itertuples():
        obj = str(event.object)
        if obj.startswith("pod/") and str(event.reason) == "Scheduled":
            scheduled[obj[4:]] = float(event.time)
    requests = {d.name: (d.cpu_request_m or 0, d.memory_request_b or 0) for d in scenario.deployments}
    cpu: dict[str, int] = {}
    memory: dict[str, int] = {}
    count: dict[str, int] = {}
    for pod in pods.itertuples():
        if not isinstance(pod.node, str) or _time(pod.deleted) <= at_s:
            continue
        if scheduled.get(str(pod.pod), float(pod.created)) > at_s:
            continue  # created Pending and bound later, or not yet created
        c, m = requests.get(str(pod.deployment), (0, 0))
        cpu[pod.node] = cpu.get(pod.node, 0) + c
        memory[pod.node] = memory.get(pod.node, 0) + m
        count[pod.node] = count.get(pod.node, 0) + 1
    for node in nodes.itertuples():
        if float(node.added) > at_s or _time(node.removed) <= at_s:
            continue
        name = str(node.node)
        alloc_cpu, alloc_memory = int(node.cpu_m), int(node.memory_bytes)
        row = [
            name,
            status.get(name, "Ready"),
            _cpu(alloc_cpu),
            f"{_cpu(cpu.get(name, 0))} ({_percent(cpu.get(name, 0), alloc_cpu)})",
            _memory(alloc_memory),
            f"{_memory(memory.get(name, 0))} ({_percent(memory.get(name, 0), alloc_memory)})",
            f"{count.get(name, 0)}/{int(node.pods)}",
            _age(at_s - float(node.added)),
        ]
        if wide:
            row.append(node.ip if isinstance(node.ip, str) else "<none>")
        rows.append(row)
    return rows


def _cpu(millicores: int) -> str:
    """Millicores in the API server's canonical form: ``4``, ``3500m``."""
    return str(Quantity(Decimal(millicores) / 1000, Format.DECIMAL_SI))


def _memory(size: int) -> str:
    """Bytes in the canonical binary form where exact: ``16Gi``, ``512Mi``."""
    return str(Quantity(Decimal(size), Format.BINARY_SI))


def _percent(part: int, whole: int) -> str:
    """kubectl describe node's share: ``int64(float64(req) / float64(alloc) * 100)``."""
    return f"{int(part / whole * 100) if whole else 0}%"


def event_rows(events: pd.DataFrame, at_s: float) -> list[list[str]]:
    """Header and one row per event at or before ``at_s``, oldest first, as ``kubectl get
    events`` prints them; LAST SEEN is the event's age at ``at_s`` (each event is recorded
    once, so it is also FIRST SEEN)."""
    rows = [list(EVENT_HEADER)]
    shown = events[events["time"].to_numpy(dtype=float) <= at_s]
    for event in shown.itertuples():
        rows.append(
            [
                _age(at_s - float(event.time)),
                str(event.type),
                str(event.reason),
                str(event.object),
                str(event.message),
            ]
        )
    return rows


def hpa_rows(
    hpas: tuple[HorizontalPodAutoscaler, ...], syncs: pd.DataFrame, metrics: pd.DataFrame, at_s: float
) -> list[list[str]]:
    """Header and one row per HPA (by name, as the API lists them), as ``kubectl get hpa``
    prints them at ``at_s``: the status after the HPA's last sync at or before it (from a
    result's ``hpa`` and ``hpa_metrics`` tables). Before its first sync the status is empty:
    TARGETS ``<unknown>/60%`` and REPLICAS 0, as for a new HPA. Every HPA exists from t = 0."""
    rows = [list(HPA_HEADER)]
    for hpa in sorted(hpas, key=lambda h: h.name):
        status = status_at(hpa, syncs, metrics, at_s)
        replicas = int(status.row["current_replicas"]) if status.row is not None else 0
        rows.append(
            [
                hpa.name,
                f"{hpa.target_kind}/{hpa.target_name}",
                _hpa_targets(hpa, status.readings),
                str(hpa.min_replicas),
                str(hpa.max_replicas),
                str(replicas),
                _age(at_s),
            ]
        )
    return rows


def _hpa_targets(hpa: HorizontalPodAutoscaler, readings: list[MetricReading | None]) -> str:
    """TARGETS as printers.go formatHPAMetrics: ``cpu: 45%/60%`` for Resource metrics (named),
    ``current/target`` for Pods, Object and External ones, `` (avg)`` after an Object or
    External AverageValue; the first two, then ``+ N more...``."""
    if not hpa.metrics:
        return "<none>"
    parts = []
    for i, (spec, reading) in enumerate(zip(hpa.metrics, readings, strict=True)):
        pair = f"{current_text(reading)}/{target_text(hpa, i)}"
        if spec.type in ("Resource", "ContainerResource"):
            parts.append(f"{spec.name}: {pair}")
        elif spec.type in ("Object", "External") and spec.target.average_value is not None:
            parts.append(f"{pair} (avg)")
        else:
            parts.append(pair)
    text = ", ".join(parts[:_HPA_METRICS_SHOWN])
    more = len(parts) - _HPA_METRICS_SHOWN
    return f"{text} + {more} more..." if more > 0 else text


def _age(seconds: float) -> str:
    """kubectl's age of a simulated interval, taken to the microsecond first, so float error
    (165 − 120.000000001) does not truncate a whole second away."""
    return human_age(round(seconds, 6))


def _time(value: object) -> float:
    """A lifecycle time from the pods table; missing (never happened) is +inf."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return math.inf
    return float(value)  # type: ignore[arg-type]


def format_table(rows: list[list[str]]) -> str:
    """Left-aligned columns separated by three spaces, like kubectl's tabwriter."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["   ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)
