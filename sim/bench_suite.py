"""``svcsim bench --suite``: the reference workload and the largest scenarios svcsim's limits allow.

Each case is a scenario at one limit (:mod:`sim.scenario.run_limits`): the most nodes, the
most pods in all, the most requests, the most endpoint updates from scale events, the most
health-check work. Each runs as ``svcsim run --no-plots`` would (load, simulate, save the
tables) in a fresh Python process, which reports its wall time and peak resident memory
(``ru_maxrss``, interpreter and imports included), so one case's memory never shows in
another's. ``scale`` shrinks every case (sizes and counts times ``scale``) for a quick run;
the README's figures are those of ``scale=1``.
"""

from __future__ import annotations

import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

from sim.api import simulate
from sim.bench import reference_scenario
from sim.scenario.load import load_scenario
from sim.scenario.run_limits import (
    MAX_ENDPOINT_UPDATES,
    MAX_HEALTH_CHECK_WORK,
    MAX_NODES,
    MAX_PODS,
    MAX_REQUESTS,
)

__all__ = ["CASES", "CaseResult", "run_case_here", "run_suite"]

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
) -> str:
    """One Service over one Deployment of 1 ms (mean) requests, one client, on ``nodes`` nodes."""
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
    spec: {{containers: [{{name: app, image: app}}]}}
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
    web: {{serviceTime: {{distribution: exponential, mean: 1ms}}}}
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


#: name -> (what it is, scenario YAML for a scale)
CASES: dict[str, tuple[str, Callable[[float], str]]] = {
    "reference": (f"reference workload, {REFERENCE_REQUESTS:,} requests", _reference),
    "max-nodes": (f"{MAX_NODES:,} nodes, a pod on each", _max_nodes),
    "max-pods": (f"{MAX_PODS:,} pods on {MAX_PODS // 100:,} nodes", _max_pods),
    "max-requests": (f"reference workload, {MAX_REQUESTS:,} requests", _max_requests),
    "max-requests-calls": (f"{MAX_REQUESTS:,} requests, half of them calls", _max_requests_calls),
    "max-scaling": (f"scale up and back down, {MAX_ENDPOINT_UPDATES:.2g} endpoint updates", _max_endpoint_updates),
    "max-health-checks": (f"balancer probing, {MAX_HEALTH_CHECK_WORK:.0e} units of work", _max_health_checks),
}


@dataclass(frozen=True)
class CaseResult:
    name: str
    what: str
    requests: int
    pods: int
    nodes: int
    wall_s: float
    peak_rss_bytes: int

    @property
    def bytes_per_request(self) -> float:
        return self.peak_rss_bytes / max(self.requests, 1)


def run_case_here(name: str, scale: float) -> dict[str, float | int]:
    """Run one case in this process (the child's side): load, simulate, save the tables."""
    started = time.perf_counter()
    scenario = load_scenario(CASES[name][1](scale))
    result = simulate(scenario)
    with tempfile.TemporaryDirectory(prefix="svcsim-bench-") as out:
        result.save(out)
    wall_s = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "requests": len(result.requests),
        "pods": len(result.pods),
        "nodes": len(scenario.simulation.cluster.nodes),
        "wall_s": wall_s,
        "peak_rss_bytes": peak_kib * 1024,
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
            CASES[name][0],
            int(facts["requests"]),
            int(facts["pods"]),
            int(facts["nodes"]),
            float(facts["wall_s"]),
            int(facts["peak_rss_bytes"]),
        )
        if on_result is not None:
            on_result(result)
        results.append(result)
    return results
