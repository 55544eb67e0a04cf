"""``kubectl get``-style views of a scenario's Services and pods.

Columns and formats follow kubectl's printers (pkg/printers/internalversion/printers.go):
``NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE`` for Services, with PORT(S) such as
``80:30008/TCP``; ``NAME READY STATUS RESTARTS AGE IP NODE`` for pods. Ages are taken at
a simulated time (default 0, the cluster as the scenario starts it; docs/semantics.md#kubectl-views).
"""

from __future__ import annotations

import math

import pandas as pd

from sim.kube.service import Service
from sim.scenario.resolved import Scenario
from sim.units import human_age

__all__ = ["format_table", "pod_rows", "service_rows"]


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


def pod_rows(pods: pd.DataFrame, at_s: float, wide: bool = False) -> list[list[str]]:
    """Header and one row per pod alive at ``at_s`` (from a result's ``pods`` table)."""
    header = ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]
    if wide:
        header += ["NOMINATED NODE", "READINESS GATES"]
    rows = [header]
    for pod in pods.sort_values("pod").itertuples():
        ready_at, terminating_at, gone_at = (_time(v) for v in (pod.ready, pod.terminating, pod.deleted))
        if pod.created > at_s or gone_at <= at_s:
            continue
        if not isinstance(pod.node, str):
            status, ready = "Pending", False
        elif terminating_at <= at_s:
            status, ready = "Terminating", ready_at <= at_s
        elif ready_at <= at_s:
            status, ready = "Running", True
        else:
            status, ready = "ContainerCreating", False
        row = [
            pod.pod,
            "1/1" if ready else "0/1",
            status,
            "0",
            human_age(at_s - pod.created),
            pod.ip if isinstance(pod.ip, str) else "<none>",
            pod.node if isinstance(pod.node, str) else "<none>",
        ]
        if wide:
            row += ["<none>", "<none>"]
        rows.append(row)
    return rows


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
