"""``svcsim bench --suite``: the reference workload against the hand-written model, a cluster
of 10 000 pods, and the largest scenarios svcsim's limits allow.

Three kinds of case, each run in a fresh Python process that reports its wall time and peak
resident memory (``ru_maxrss``, interpreter and imports included), so one case's memory never
shows in another's:

- **ratio**: the reference workload (:mod:`sim.bench`) on the batch engine, with IPVS ``lc``
  and with keep-alive pools (both on the event engine), and the hand-written SimPy model in
  the same process, the best of three runs each: the speed ratio;
- **scale**: NodePort over 10 000 pods on 100 nodes (iptables, Poisson, exponential 10 ms,
  utilisation 0.1) for 10^6 and 10^7 requests, the latter with the time its plots add; a
  100 → 10 000 scale-up (the event's cost: the run minus the same run without it); an HPA
  taking a Deployment from 5 000 to 10 000 pods;
- **limit**: a scenario at one of svcsim's limits (:mod:`sim.scenario.run_limits`): the most
  nodes, pods, requests, endpoint updates, health-check work.

Each runs as ``svcsim run --no-plots`` would (load, simulate, save the tables). ``scale``
shrinks every case (sizes and counts times ``scale``) for a quick run; the README's figures
and the issue's bars (:data:`BARS`) are those of ``scale=1``. :func:`suite_json` is what
``bench.json`` holds.
"""

from __future__ import annotations

import gc
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from sim.api import fewer_collections, simulate
from sim.bench import obvious_model, reference_scenario
from sim.scenario.load import load_scenario
from sim.scenario.run_limits import (
    MAX_ENDPOINT_UPDATES,
    MAX_HEALTH_CHECK_WORK,
    MAX_NODES,
    MAX_PODS,
    MAX_REQUESTS,
)

__all__ = ["BARS", "CASES", "Case", "CaseResult", "run_case_here", "run_suite", "suite_json"]

REFERENCE_REQUESTS = 200_000
CLUSTER = "    podCIDR: 10.0.0.0/8\n    nodeCIDR: 172.16.0.0/16\n    serviceCIDR: 192.168.0.0/16\n"


def _scenario(
    *,
    nodes: int,
    replicas: int,
    rate: float,
    duration_s: float,
    service_type: str = "NodePort",
    via: str = "nodePort",
    cluster_extra: str = "",
    events: str = "",
    mean: str = "1ms",
    container: str = "",
) -> str:
    """One Service over one Deployment of ``mean`` (exponential) requests, one client, on
    ``nodes`` nodes; ``container``: more fields of its container (``resources: {...}``)."""
    policy = "\n  externalTrafficPolicy: Local" if service_type == "LoadBalancer" else ""
    return f"""apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  type: {service_type}{policy}
  selector: {{app: web}}
  ports: [{{port: 80}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec: {{containers: [{{name: app, image: app{", " + container if container else ""}}}]}}
---
apiVersion: svcsim/v1alpha1
kind: Simulation
metadata: {{name: bench-suite}}
spec:
  seed: 1
  duration: {duration_s!r}s
  cluster:
    nodes: {nodes}
{CLUSTER}{cluster_extra}  workloads:
    web: {{serviceTime: {{distribution: exponential, mean: {mean}}}}}
  clients:
    - {{name: load, target: {{service: web, via: {via}}}, rate: {rate!r}}}
{events}"""


def _reference(scale: float) -> str:
    return reference_scenario(max(1000, round(REFERENCE_REQUESTS * scale)))


def _max_nodes(scale: float) -> str:
    """MAX_NODES nodes with a pod each; 10 requests per node."""
    nodes = max(3, round(MAX_NODES * scale))
    return _scenario(nodes=nodes, replicas=nodes, rate=float(nodes), duration_s=10.0)


def _max_pods(scale: float) -> str:
    """MAX_PODS pods on a node per hundred; as many requests as pods."""
    pods = max(3, round(MAX_PODS * scale))
    return _scenario(nodes=max(3, math.ceil(pods / 100)), replicas=pods, rate=pods / 10, duration_s=10.0)


def _max_requests(scale: float) -> str:
    """The reference workload (batch engine) at MAX_REQUESTS requests."""
    return reference_scenario(max(1000, round(MAX_REQUESTS * scale)))


def _max_requests_calls(scale: float) -> str:
    """MAX_REQUESTS on the event engine, the costliest per request: each request calls a second Service."""
    rate = 1667.0
    duration_s = max(1.0, MAX_REQUESTS * scale / 2 / rate)
    backend = (
        "apiVersion: v1\nkind: Service\nmetadata: {name: b}\nspec: {selector: {app: b}, ports: [{port: 80}]}\n---\n"
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: b}\nspec:\n  replicas: 3\n"
        "  selector: {matchLabels: {app: b}}\n  template:\n    metadata: {labels: {app: b}}\n"
        "    spec: {containers: [{name: app, image: app}]}\n---\n"
    )
    front = _scenario(nodes=3, replicas=3, rate=rate, duration_s=float(int(duration_s)))
    front = front.replace(
        "    web: {serviceTime: {distribution: exponential, mean: 1ms}}",
        "    web: {serviceTime: {distribution: exponential, mean: 1ms}, concurrency: 4, calls: [{service: b}]}\n"
        "    b: {serviceTime: {distribution: exponential, mean: 1ms}, concurrency: 4}",
    )
    return backend + front


def _max_endpoint_updates(scale: float) -> str:
    """On 100 nodes, scale up from 3 pods and back: 2 changes × (pods + 100 nodes) ≈ the limit."""
    nodes, budget = 100, MAX_ENDPOINT_UPDATES * scale
    # changes × (alive + nodes) per event, up then down: 2 (k - 3)(k + nodes) <= budget.
    top = int((-(nodes - 3) + math.sqrt((nodes - 3) ** 2 + 4 * (budget / 2 + 3 * nodes))) / 2)
    top = max(4, top)
    events = (
        "  events:\n"
        f"    - {{at: 1s, scale: {{deployment: web, replicas: {top}}}}}\n"
        "    - {at: 5s, scale: {deployment: web, replicas: 3}}\n"
    )
    return _scenario(nodes=nodes, replicas=3, rate=100.0, duration_s=60.0, events=events)


def _max_health_checks(scale: float) -> str:
    """A balancer (policy Local) probing 1 000 nodes with 1 000 pods every second, as long as the limit allows."""
    nodes = pods = max(3, round(1000 * math.sqrt(scale)))
    duration_s = max(10.0, MAX_HEALTH_CHECK_WORK * scale / (10 + nodes + pods))
    extra = "    loadBalancer: {healthCheckInterval: 1s}\n"
    return _scenario(
        nodes=nodes,
        replicas=pods,
        rate=1.0,
        duration_s=float(int(duration_s)),
        service_type="LoadBalancer",
        via="loadBalancer",
        cluster_extra=extra,
    )


def _reference_lc(scale: float) -> str:
    """The reference workload with kube-proxy in IPVS mode, least connection: the event engine."""
    return reference_scenario(max(1000, round(REFERENCE_REQUESTS * scale)), variant="lc")


def _reference_keepalive(scale: float) -> str:
    """The reference workload over keep-alive pools (:data:`sim.bench.VARIANTS`): the event engine."""
    return reference_scenario(max(1000, round(REFERENCE_REQUESTS * scale)), variant="keepalive")


#: The scale cases: NodePort over 10 000 pods on 100 nodes, exponential 10 ms at utilisation 0.1.
SCALE_PODS = 10_000
SCALE_NODES = 100
SCALE_POD_RATE = 10.0  # requests/s per pod: utilisation 0.1 at 10 ms


def _cluster_scenario(pods: int, nodes: int, requests: float) -> str:
    rate = pods * SCALE_POD_RATE
    return _scenario(nodes=nodes, replicas=pods, rate=rate, duration_s=max(1.0, requests / rate), mean="10ms")


def _scale_size(scale: float) -> tuple[int, int]:
    return max(6, round(SCALE_PODS * scale)), max(3, round(SCALE_NODES * scale))


def _scale_1e6(scale: float) -> str:
    return _cluster_scenario(*_scale_size(scale), 1e6 * scale)


def _scale_1e7(scale: float) -> str:
    return _cluster_scenario(*_scale_size(scale), 1e7 * scale)


def _scale_up(scale: float) -> str:
    """100 pods on 100 nodes scaled to 10 000 in one event at t = 1 s; 1 000 requests/s for 5 s."""
    pods, nodes = _scale_size(scale)
    start = max(1, pods // 100)
    events = f"  events:\n    - {{at: 1s, scale: {{deployment: web, replicas: {pods}}}}}\n"
    return _scenario(nodes=nodes, replicas=start, rate=1000.0 * scale, duration_s=5.0, events=events)


def _hpa_10k(scale: float) -> str:
    """An HPA (CPU 50 %, 5 000 to 10 000 replicas) under load for 10 000 pods of 20m: it scales
    5 000 → 10 000 at its first syncs; 60 s at 12 000 requests/s of 10 ms."""
    pods, nodes = _scale_size(scale)
    low = max(1, pods // 2)
    hpa = (
        "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: web}\nspec:\n"
        "  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n"
        f"  minReplicas: {low}\n  maxReplicas: {pods}\n"
        "  metrics: [{type: Resource, resource: {name: cpu,"
        " target: {type: Utilization, averageUtilization: 50}}}]\n---\n"
    )
    rate = 1.2 * pods  # 1.2 cores of 20m pods per 100 pods: 120 % of the target at `pods` replicas
    resources = "resources: {requests: {cpu: 20m, memory: 32Mi}}"
    return hpa + _scenario(nodes=nodes, replicas=low, rate=rate, duration_s=60.0, mean="10ms", container=resources)


@dataclass(frozen=True)
class Case:
    """One bench case: what it is, its scenario at a scale, and what is measured besides the run."""

    what: str
    scenario: Callable[[float], str]
    kind: str = "limit"  # "ratio", "scale" or "limit"
    plots: bool = False  # time the plots after the run
    without_event: bool = False  # also time the run without its events: the events' cost


#: name -> case
CASES: dict[str, Case] = {
    "reference": Case(f"reference workload, {REFERENCE_REQUESTS:,} requests (batch engine)", _reference, "ratio"),
    "reference-lc": Case("reference workload, IPVS lc (event engine)", _reference_lc, "ratio"),
    "reference-keepalive": Case("reference workload, keep-alive pools (event engine)", _reference_keepalive, "ratio"),
    "scale-1e6": Case("NodePort over 10 000 pods on 100 nodes, 10^6 requests", _scale_1e6, "scale"),
    "scale-1e7": Case("NodePort over 10 000 pods on 100 nodes, 10^7 requests", _scale_1e7, "scale", plots=True),
    "scale-up": Case("100 -> 10 000 replicas in one event, 100 nodes", _scale_up, "scale", without_event=True),
    "hpa-10k": Case("an HPA scaling 5 000 -> 10 000 pods on 100 nodes", _hpa_10k, "scale"),
    "max-nodes": Case(f"{MAX_NODES:,} nodes, a pod on each", _max_nodes),
    "max-pods": Case(f"{MAX_PODS:,} pods on {MAX_PODS // 100:,} nodes", _max_pods),
    "max-requests": Case(f"reference workload, {MAX_REQUESTS:,} requests", _max_requests),
    "max-requests-calls": Case(f"{MAX_REQUESTS:,} requests, half of them calls", _max_requests_calls),
    "max-scaling": Case(f"scale up and back down, {MAX_ENDPOINT_UPDATES:.2g} endpoint updates", _max_endpoint_updates),
    "max-health-checks": Case(f"balancer probing, {MAX_HEALTH_CHECK_WORK:.0e} units of work", _max_health_checks),
}

#: The bars svcsim is held to at full size (README, "How the engine works"), by case: (figure, comparison, value).
BARS: dict[str, list[tuple[str, str, float]]] = {
    "reference": [("ratio", ">=", 30.0)],
    "reference-lc": [("ratio", ">=", 10.0)],
    "reference-keepalive": [("ratio", ">=", 10.0)],
    "scale-1e7": [("wall_s", "<=", 60.0), ("peak_rss_gib", "<=", 1.5), ("plots_s", "<=", 15.0)],
    "scale-up": [("event_s", "<", 2.0)],
}
RATIO_REPEAT = 3  # ratio cases: the best of three runs of each model


@dataclass(frozen=True)
class CaseResult:
    name: str
    what: str
    requests: int
    pods: int
    nodes: int
    wall_s: float
    peak_rss_bytes: int
    engine: str = ""
    #: ratio cases: the hand-written model's requests and best wall time, the engine's best (wall_s
    #: is then the run as a user sees it, the first); plots: their time; scale-up: the run
    #: without its events.
    figures: dict[str, float] = field(default_factory=dict)

    @property
    def bytes_per_request(self) -> float:
        return self.peak_rss_bytes / max(self.requests, 1)

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.wall_s if self.wall_s > 0 else math.nan

    @property
    def peak_rss_gib(self) -> float:
        return self.peak_rss_bytes / 2**30

    def figure(self, name: str) -> float:
        """A measured figure by name: a field, a property, or one of :attr:`figures`."""
        if name in self.figures:
            return self.figures[name]
        return float(getattr(self, name))

    def bars(self, scale: float) -> list[tuple[str, str, float, float, bool]]:
        """The issue's bars for this case at full size: (figure, comparison, bar, measured, met)."""
        if scale != 1:
            return []
        out = []
        for name, op, bar in BARS.get(self.name, []):
            value = self.figure(name)
            met = value >= bar if op == ">=" else value <= bar if op == "<=" else value < bar
            out.append((name, op, bar, value, met))
        return out


def _timed_run(text: str) -> tuple[Any, Any, float, str]:
    """Load, simulate, save the tables (as ``svcsim run --no-plots``, with its garbage collector
    settings): (scenario, result, wall s, folder)."""
    gc.collect()  # what earlier work left, collected before the clock starts
    started = time.perf_counter()
    with fewer_collections():
        scenario = load_scenario(text)
        result = simulate(scenario)
        out = tempfile.mkdtemp(prefix="svcsim-bench-")
        result.save(out)
    return scenario, result, time.perf_counter() - started, out


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def run_case_here(name: str, scale: float) -> dict[str, Any]:
    """Run one case in this process (the child's side)."""
    import shutil  # noqa: PLC0415

    case = CASES[name]
    text = case.scenario(scale)
    plain_s = math.nan
    if case.without_event:  # first (twice: the first warms the process up), then the run with the event
        for _ in range(2):
            _, _, plain_s, plain_out = _timed_run(text[: text.index("  events:")])
            shutil.rmtree(plain_out, ignore_errors=True)
    scenario, result, wall_s, out = _timed_run(text)
    peak = _peak_rss()  # before plots and before the other model: the run's own
    figures: dict[str, float] = {}
    if case.kind == "ratio":
        requests = len(result.requests)
        best = wall_s
        obvious_s = math.inf
        obvious_n = 0
        for _ in range(RATIO_REPEAT):  # both models under the same collector settings, none owed
            gc.collect()
            with fewer_collections():
                started = time.perf_counter()
                again = simulate(scenario)
                best = min(best, time.perf_counter() - started)
            del again
            gc.collect()
            with fewer_collections():
                started = time.perf_counter()
                obvious_n, _ = obvious_model(requests)
                obvious_s = min(obvious_s, time.perf_counter() - started)
        figures = {
            "engine_s": best,
            "engine_per_s": requests / best,
            "obvious_s": obvious_s,
            "obvious_per_s": obvious_n / obvious_s,
            "ratio": (requests / best) / (obvious_n / obvious_s),
        }
    if case.plots:
        from sim.results.plots import save_plots  # noqa: PLC0415 (only this case draws)

        gc.collect()
        started = time.perf_counter()
        with fewer_collections():  # as svcsim run draws them
            save_plots(out)
        figures["plots_s"] = time.perf_counter() - started
    if case.without_event:
        figures["without_event_s"] = plain_s
        figures["event_s"] = wall_s - plain_s
    shutil.rmtree(out, ignore_errors=True)
    return {
        "requests": len(result.requests),
        "pods": len(result.pods),
        "nodes": len(scenario.simulation.cluster.nodes),
        "wall_s": wall_s,
        "peak_rss_bytes": peak,
        "engine": str(result.summary.get("engine", "")),
        "figures": figures,
    }


def run_suite(
    scale: float = 1.0, names: list[str] | None = None, on_result: Callable[[CaseResult], None] | None = None
) -> list[CaseResult]:
    """Run each case (all by default) in its own Python process; ``on_result`` sees each as it ends."""
    if not 0 < scale <= 1:
        raise ValueError(f"scale must be in (0, 1], got {scale}")
    results = []
    for name in names or list(CASES):
        code = f"import json, sim.bench_suite as s; print(json.dumps(s.run_case_here({name!r}, {scale!r})))"
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"bench case {name} failed:\n{done.stderr}")
        facts = json.loads(done.stdout.strip().splitlines()[-1])
        result = CaseResult(
            name,
            CASES[name].what,
            int(facts["requests"]),
            int(facts["pods"]),
            int(facts["nodes"]),
            float(facts["wall_s"]),
            int(facts["peak_rss_bytes"]),
            str(facts["engine"]),
            {k: float(v) for k, v in facts["figures"].items()},
        )
        if on_result is not None:
            on_result(result)
        results.append(result)
    return results


def suite_json(results: list[CaseResult], scale: float) -> dict[str, Any]:
    """What ``bench.json`` holds: the machine, the scale, and each case with its figures and bars."""
    import numpy  # noqa: PLC0415

    from sim.version import VERSION  # noqa: PLC0415

    cases = []
    for r in results:
        row = asdict(r)
        row["requests_per_s"] = r.requests_per_s
        row["peak_rss_gib"] = r.peak_rss_gib
        row["bars"] = [
            {"figure": f, "comparison": op, "bar": bar, "measured": value, "met": met}
            for f, op, bar, value, met in r.bars(scale)
        ]
        cases.append(row)
    return {
        "svcsim": VERSION,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "scale": scale,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": numpy.__version__,
            "platform": platform.platform(),
            "load_average_1m": os.getloadavg()[0],
        },
        "cases": cases,
    }
