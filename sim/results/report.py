"""``svcsim report``: one self-contained HTML page per run.

The page holds the SLO's verdict first (when the Simulation sets ``spec.slo``) and the run's
warnings, then the scenario in words, the kubectl-style Service view, the summary and
per-pod tables, what the controllers did (a paragraph on faults and rollouts, and the
events table), what the autoscalers did (each rescale with the metric values that drove it,
and ``autoscaling.png``; only for a scenario with an HPA), every plot (PNG embedded as data
URIs) and the resolved scenario YAML. It links to nothing outside itself, so it renders in a
browser with no network access.
"""

from __future__ import annotations

import base64
import html
import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from sim.results.controller_events import narrative
from sim.results.hpa_status import Rescale, current_text, metric_key, rescales, target_text
from sim.results.html_page import PAGE_CSS, html_table
from sim.results.kubectl import format_table, service_rows
from sim.results.plots import available_plots
from sim.results.plots.common import png_bytes
from sim.results.result import Result, load_result
from sim.results.run_folder import replacing
from sim.results.slo import slo_value
from sim.scenario.event_parser import ZONE_LABEL
from sim.scenario.resolved import Scenario
from sim.scenario.simulation import (
    Client,
    CrashEvent,
    Event,
    OnCancel,
    Retries,
    RolloutEvent,
    ScaleEvent,
    Via,
    Workload,
    in_run_order,
)
from sim.scenario.workload_parser import WORKLOAD_FIELDS
from sim.units import format_duration

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["describe", "render_report", "write_report"]

#: The events table shows this many rows, then says how many more there are.
EVENT_ROWS = 50
#: The rescales table likewise.
RESCALE_ROWS = 50
#: Drawn inside "What the autoscaler did", not again under Plots.
AUTOSCALING_PLOT = "autoscaling.png"
POD_COLUMNS = [
    "pod",
    "deployment",
    "node",
    "IP",
    "created s",
    "ready s",
    "terminating s",
    "deleted s",
    "requests",
    "utilisation",
]


def describe(result: Result) -> list[str]:
    """The scenario in words, one plain-text sentence per paragraph; ``**name**`` marks a name."""
    scenario = result.scenario
    sim = scenario.simulation
    proxy = sim.kube_proxy
    mode = f"{proxy.mode} mode" + (f" with the {proxy.scheduler} scheduler" if proxy.scheduler else "")
    nodes = ", ".join(f"{n.name} ({n.ip})" for n in sim.cluster.nodes)
    out = [
        f"Simulation **{sim.name}**: {format_duration(sim.duration_s)} of simulated time, the first "
        f"{format_duration(sim.warmup_s)} excluded from latency and throughput as warm-up, seed {result.seed}.",
        f"The cluster has {len(sim.cluster.nodes)} node(s): {nodes}; kube-proxy runs in {mode} and installs "
        f"endpoint changes {format_duration(proxy.sync_delay_s)} after they happen. A hop between nodes takes "
        f"{_law(sim.cluster.network.node_to_node)} one way.",
    ]
    for svc in scenario.services:
        ports = ", ".join(p.kubectl() + f" → targetPort {p.target_port}" for p in svc.ports)
        selector = ", ".join(f"{k}={v}" for k, v in sorted((svc.selector or {}).items())) or "nothing"
        extras = []
        if svc.external_traffic_policy:
            extras.append(f"externalTrafficPolicy {svc.external_traffic_policy}")
        if svc.session_affinity == "ClientIP":
            extras.append(f"session affinity by client IP for {svc.affinity_timeout_s:g} s")
        if svc.traffic_distribution:
            extras.append(f"trafficDistribution {svc.traffic_distribution}")
        if svc.type == "LoadBalancer":
            extras.append(f"load balancer {svc.ingress_ip or '<pending>'}")
        out.append(
            f"Service **{svc.name}** is of type {svc.type} with ClusterIP {svc.cluster_ip} and ports {ports}"
            + (f" ({'; '.join(extras)})" if extras else "")
            + f"; it selects pods labelled {selector}."
        )
    for dep in scenario.deployments:
        out.append(_deployment_words(dep.name, dep.replicas, sim.workloads[dep.name]))
    for c in sim.clients:
        out.append(_client_words(c, scenario))
    revisions = dict(sim.workloads)  # each Deployment's workload as the events change it
    for i in in_run_order(sim.events):
        out.append(_event_words(sim.events[i], scenario, revisions))
    return out


def _event_words(e: Event, scenario: Scenario, revisions: dict[str, Workload]) -> str:
    """One event in one sentence; a rollout also records its workload in ``revisions``."""
    at = f"At {format_duration(e.at_s)}"
    if isinstance(e, ScaleEvent):
        return f"{at} Deployment {e.deployment} is scaled to {e.replicas} replica(s)."
    if isinstance(e, RolloutEvent):
        old = revisions.get(e.deployment)
        new = e.workload or old
        changed = [
            key for key, attr in WORKLOAD_FIELDS.items() if old and new and getattr(old, attr) != getattr(new, attr)
        ]
        if new is not None:
            revisions[e.deployment] = new
        dep = next((d for d in scenario.deployments if d.name == e.deployment), None)
        how = "its pods are replaced"
        if dep is not None and dep.strategy.type == "Recreate":
            how = "a Recreate update deletes its pods, then creates new ones"
        elif dep is not None:
            s = dep.strategy
            how = f"a RollingUpdate (maxSurge {s.max_surge}, maxUnavailable {s.max_unavailable}) replaces its pods"
        listed = ", ".join(changed[:-1]) + f" and {changed[-1]}" if len(changed) > 1 else "".join(changed)
        what = f"that changes {listed}" if changed else "with the same workload (a restart)"
        return f"{at} Deployment {e.deployment} rolls out a new revision {what}: {how}."
    if isinstance(e, CrashEvent):
        if e.pod is not None:
            return f"{at} the container of pod {e.pod} crashes and restarts."
        return (
            f"{at} the containers of the first {e.count} Ready pod(s) of Deployment {e.deployment} crash and restart."
        )
    verb = "fails" if e.action == "fail" else "recovers"
    if e.node is not None:
        return f"{at} node {e.node} {verb}."
    nodes = [n.name for n in scenario.simulation.cluster.nodes if n.labels.get(ZONE_LABEL) == e.zone]
    return f"{at} zone {e.zone} {verb}: node{'s' if len(nodes) != 1 else ''} {', '.join(nodes)}."


def _deployment_words(name: str, replicas: int, w: Workload) -> str:
    """A Deployment's pods as servers: workers, queue bound, connection cap, calls, cancellation."""
    calls = "".join(
        f", then calls {c.service}"
        + (f" port {c.port}" if c.port is not None else "")
        + f" (giving up after {format_duration(c.timeout_s)})"
        for c in w.calls
    )
    if w.queue_limit is None:
        queue = "the rest wait in an unbounded FIFO queue"
    else:
        queue = (
            f"at most {w.queue_limit} more wait in a FIFO queue (queueLimit) and any further one is answered "
            "rejected (HTTP 503) at once"
        )
    if w.max_connections is not None:
        queue += (
            f"; a pod holds at most {w.max_connections} connection(s), one per request in it (maxConnections), "
            "and refuses more (refused)"
        )
    if w.on_cancel == OnCancel.DROP:
        cancel = "A waiting request whose client has given up is dropped unserved (onCancel: drop)"
    else:
        cancel = "A waiting request whose client has given up is still served, for nobody (onCancel: finish)"
    return (
        f"Deployment **{name}** starts with {replicas} replica(s), each Ready {format_duration(w.startup_time_s)} "
        f"after creation. Each pod serves {w.concurrency} request(s) at a time, working for "
        f"{_law(w.service_time)} on each{calls}; {queue}. {cancel}."
    )


def _client_words(c: Client, scenario: Scenario) -> str:
    """A client: addresses, rate and window, target Service and port, connections, timeout, retries."""
    where = "from outside the cluster" if c.location == "external" else f"from node {c.location}"
    conn = (
        f" over {c.connections.count} keep-alive connection(s)"
        if c.connections.keepalive
        else ", a new connection each"
    )
    ips = f" ({c.ips} addresses from {c.ip})" if c.ips > 1 else f" ({c.ip})"
    window = f" from {format_duration(c.start_s)}" if c.start_s > 0 else ""
    window += f" until {format_duration(c.stop_s)}" if c.stop_s is not None else ""
    timeout = (
        f"Each try gives up after {format_duration(c.timeout_s)} (timeout)"
        if c.timeout_s is not None
        else "It waits for an answer without a timeout"
    )
    timeout += f", and a connection attempt after {format_duration(c.connect_timeout_s)} (connectTimeout)."
    return (
        f"Client **{c.name}**{ips} sends {c.rate.describe()}{window} ({c.arrival} arrivals) {where} to "
        f"{_target(c, scenario)}{conn}. {timeout} {_retries_words(c.retries)}"
    )


def _target(c: Client, scenario: Scenario) -> str:
    """``Service web port 80 (http) via nodePort 30008``: the Service port the client aims at
    (the Service's only one when the client names none) and the way in."""
    svc = next((s for s in scenario.services if s.name == c.target.service), None)
    if svc is None or not svc.ports:
        return f"Service {c.target.service} via {c.target.via}"
    p = svc.port(c.target.port)
    name = f" ({p.name})" if p.name else ""
    via = f"nodePort {p.node_port}" if c.target.via == Via.NODE_PORT and p.node_port else str(c.target.via)
    return f"Service {svc.name} port {p.port}{name} via {via}"


def _retries_words(r: Retries | None) -> str:
    """How a client retries, or that it does not."""
    if r is None or r.attempts <= 1:
        return "It never retries."
    b = r.backoff
    names = {"full": "full jitter", "equal": "equal jitter", "none": "no jitter"}
    jitter = names[b.jitter] if isinstance(b.jitter, str) else f"jitter ±{_percent(float(b.jitter))}"
    text = (
        f"It retries a try that ends {' or '.join(r.on)}, up to {r.attempts} tries in all (attempts), after a "
        f"backoff of min({format_duration(b.max_s)}, {format_duration(b.initial_s)} × {b.multiplier:g}^(n−1)) "
        f"before retry n, with {jitter}"
    )
    if r.budget is not None:
        text += (
            f"; a retry is sent only while the retries in flight are fewer than {_percent(r.budget)} of its tries "
            f"in flight or than {r.min_retry_concurrency} (retry budget), else the request ends with that try"
        )
    return text + "."


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.3g}%"


def _paragraph(text: str) -> str:
    """Escape a sentence of :func:`describe` and turn its ``**name**`` marks into bold."""
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(text))


def _law(dist: object) -> str:
    spec = dist.to_spec()  # type: ignore[attr-defined]
    if isinstance(spec, str):
        return spec
    params = ", ".join(f"{k} {v}" for k, v in spec.items() if k != "distribution")
    return f"{spec['distribution']} ({params})"


def _png(result: Result, name: str, draw: Callable[[Result], Figure]) -> str:
    return base64.b64encode(png_bytes(draw(result), dpi=100)).decode("ascii")


def _table(header: list[str], rows: list[list[object]]) -> str:
    """Numbers right-aligned, whatever their column."""
    return html_table(header, rows, text=_cell, numeric=lambda _, v: isinstance(v, int | float))


def _cell(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    return html.escape(str(value))


def _slo_section(slo: dict[str, object] | None) -> str:
    if slo is None:
        return ""
    checks = slo["checks"]
    assert isinstance(checks, list)
    rows: list[list[object]] = [
        [
            c["name"],
            slo_value(c["target"], c["unit"], bound=True),
            slo_value(c["measured"], c["unit"]),
            "pass" if c["met"] else "FAIL",
        ]
        for c in checks
    ]
    verdict = "met" if slo["met"] else "MISSED"
    colour = "#2ca02c" if slo["met"] else "#d62728"
    return (
        f'<h2>SLO: <span style="color: {colour}">{verdict}</span> (clients\' requests sent after warm-up)</h2>'
        + _table(["check", "target", "measured", "result"], rows)
    )


def _events_section(result: Result) -> str:
    """What the controllers did: the faults and rollouts in a paragraph, then the events
    (the first :data:`EVENT_ROWS`, and how many more ``events.parquet`` holds)."""
    events = result.events
    story = f"<p>{html.escape(narrative(events, result.scenario.simulation.duration_s))}</p>"
    if events.empty:
        return f"<h2>What the controllers did</h2>{story}"
    rows: list[list[object]] = [
        [float(e.time), str(e.type), str(e.reason), str(e.object), str(e.message)]
        for e in events.head(EVENT_ROWS).itertuples()
    ]
    more = len(events) - len(rows)
    rest = f"<p>… and {more} more (every event is in events.parquet).</p>" if more > 0 else ""
    return (
        f"<h2>What the controllers did</h2>{story}"
        + _table(["time s", "type", "reason", "object", "message"], rows)
        + rest
    )


def _autoscaler_section(result: Result) -> str:
    """What the autoscaler did: per HPA a sentence (syncs, rescales, the replicas' range, syncs
    held at maxReplicas), then each rescale with time, from → to, the metric values read at
    that sync (kubectl's notation) and the controller's reason, and ``autoscaling.png``."""
    hpas = sorted(result.scenario.hpas, key=lambda h: h.name)
    if not hpas:
        return ""
    syncs, metrics = result.hpa, result.hpa_metrics
    words = "".join(f"<p>{html.escape(_hpa_words(h.name, h.max_replicas, syncs))}</p>" for h in hpas)
    changes = rescales(result.scenario.hpas, syncs, metrics)
    rows: list[list[object]] = [
        [c.time, c.hpa, f"{c.before} → {c.after}", _readings_text(result, c), c.reason or "–"]
        for c in changes[:RESCALE_ROWS]
    ]
    more = len(changes) - len(rows)
    rest = f"<p>… and {more} more (every sync is in hpa.parquet).</p>" if more > 0 else ""
    table = (
        _table(["time s", "HPA", "replicas", "metrics at that sync (current/target)", "reason"], rows) if rows else ""
    )
    draw = available_plots(result).get(AUTOSCALING_PLOT)
    image = (
        f'<img alt="{AUTOSCALING_PLOT}" src="data:image/png;base64,{_png(result, AUTOSCALING_PLOT, draw)}">'
        if draw is not None
        else ""
    )
    return f"<h2>What the autoscaler did</h2>{words}{table}{rest}{image}"


def _hpa_words(name: str, max_replicas: int, syncs: pd.DataFrame) -> str:
    """One HPA's run in a sentence, from its rows of the ``hpa`` table."""
    mine = syncs[syncs["hpa"].astype(str) == name]
    if mine.empty:
        return f"HPA {name} recorded no sync in this run."
    count = int(mine["rescaled"].astype(bool).sum())
    low = int(min(mine["current_replicas"].min(), mine["desired_replicas"].min()))
    high = int(max(mine["current_replicas"].max(), mine["desired_replicas"].max()))
    text = (
        f"HPA {name} ({mine['reference'].iloc[0]}) synced {len(mine)} time(s) and rescaled {count} time(s); "
        f"its replicas ranged from {low} to {high}."
    )
    capped = mine[mine["scaling_limited"].astype(str) == "True/TooManyReplicas"]
    if len(capped):
        text += (
            f" At {len(capped)} sync(s), from {float(capped['time'].iloc[0]):g} s, it wanted more than "
            f"maxReplicas {max_replicas} (ScalingLimited TooManyReplicas): a higher maximum would have scaled further."
        )
    return text


def _readings_text(result: Result, change: Rescale) -> str:
    """``cpu: 90%/60% → 3`` per metric read at the rescale's sync (its proposal after the arrow)."""
    hpa = next((h for h in result.scenario.hpas if h.name == change.hpa), None)
    parts = []
    for i, reading in enumerate(change.readings if hpa is not None else []):
        assert hpa is not None
        proposal = f" → {reading.proposal}" if reading is not None and reading.proposal >= 0 else ""
        parts.append(f"{metric_key(hpa.metrics[i])}: {current_text(reading)}/{target_text(hpa, i)}{proposal}")
    return "; ".join(parts) or "–"


def _warnings_section(warnings: list[str]) -> str:
    if not warnings:
        return ""
    items = "".join(f"<li>{html.escape(w)}</li>" for w in warnings)
    return f"<h2>Warnings</h2><ul>{items}</ul>"


def render_report(result: Result) -> str:
    """The whole report as one HTML string."""
    s = result.summary
    words = "".join(f"<p>{_paragraph(line)}</p>" for line in describe(result))
    kubectl = html.escape(format_table(service_rows(result.scenario, result.scenario.simulation.duration_s)))
    lat = s["latency_ms"]
    summary_rows: list[list[object]] = [["requests", s["requests"]]]
    summary_rows += [[f"outcome {k}", v] for k, v in s["outcomes"].items()]
    if "retries" in s:  # only when a client retries
        summary_rows += [["retries (tries beyond the first)", s["retries"]]]
    summary_rows += [["throughput (requests/s)", s["throughput_rps"]]]
    summary_rows += [[f"latency {k} (ms)", v] for k, v in lat.items()]
    if result.sample > 1:  # svcsim run --sample K: the figures above count every request, the plots a sample
        kept = f"1 in {result.sample:,} requests ({len(result.requests):,} rows)"
        summary_rows += [["rows kept in requests.parquet", kept]]
    pods = result.pods
    pod_rows = [
        [r.pod, r.deployment, r.node, r.ip, r.created, r.ready, r.terminating, r.deleted, r.requests, r.utilisation]
        for r in pods.itertuples()
    ]
    pod_rows = [[None if isinstance(v, float) and math.isnan(v) else v for v in row] for row in pod_rows]
    images = "".join(
        f'<h3>{html.escape(name)}</h3><img alt="{html.escape(name)}" '
        f'src="data:image/png;base64,{_png(result, name, draw)}">'
        for name, draw in available_plots(result).items()
        if name != AUTOSCALING_PLOT
    )
    yaml_text = html.escape(result.scenario.with_overrides(seed=result.seed).to_yaml())
    name = html.escape(result.scenario.simulation.name)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>svcsim report: {name}</title><style>{PAGE_CSS}</style></head>
<body>
<h1>svcsim report: {name}</h1>
{_slo_section(s.get("slo"))}{_warnings_section(s.get("warnings", []))}
<h2>Scenario</h2>{words}
<h2>Services (kubectl get svc, at the end of the run)</h2><pre>{kubectl}</pre>
<h2>Summary (latency over ok requests sent after warm-up)</h2>{_table(["measure", "value"], summary_rows)}
<h2>Pods</h2>{_table(POD_COLUMNS, pod_rows)}
{_events_section(result)}
{_autoscaler_section(result)}
<h2>Plots</h2>{images}
<h2>Resolved scenario</h2><pre>{yaml_text}</pre>
</body></html>
"""


def write_report(run_dir: str | os.PathLike[str]) -> Path:
    """Write ``RUN_DIR/report.html`` from a saved run (drawn in full before it replaces an
    older report, so an interrupt leaves the old one)."""
    page = render_report(load_result(run_dir))
    with replacing(run_dir, whole_run=False) as staging:
        (staging / "report.html").write_text(page, encoding="utf-8")
    return Path(run_dir) / "report.html"
