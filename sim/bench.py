"""``svcsim bench``: the engine against a SimPy model written the obvious way, same process.

Reference workload (issue 2): 3 nodes, 6 pods of concurrency 1, exponential 10 ms
service at utilisation 0.7 (420 requests/s in all), Poisson arrivals entering every node
evenly, 0.2 ms client hop, 0.1 ms node hop, 200 000 requests. The obvious model uses
one SimPy process per request, a ``simpy.Resource`` per pod and one numpy draw per call.
Both run here, in one process, so the ratio of their request rates is comparable even on
a noisy machine; their mean latencies must agree (both estimate the same queue).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import simpy

from sim.api import simulate
from sim.scenario.load import load_scenario
from sim.scenario.resolved import Scenario

__all__ = [
    "MAX_BENCH_REQUESTS",
    "MIN_BENCH_REQUESTS",
    "VARIANTS",
    "BenchResult",
    "DaskBench",
    "SchedulerBench",
    "dask_bench",
    "dask_sweep",
    "obvious_model",
    "reference_scenario",
    "run_bench",
    "scheduler_bench",
]

NODES = 3
PODS = 6
SERVICE_MEAN_S = 0.010
UTILISATION = 0.7
RATE = UTILISATION * PODS / SERVICE_MEAN_S  # 420 requests per second
CLIENT_HOP_S = 0.0002
NODE_HOP_S = 0.0001
#: Fewer requests time mostly start-up; more keep the obvious model (a process each) busy for hours.
MIN_BENCH_REQUESTS = 1000
MAX_BENCH_REQUESTS = 10_000_000


#: The reference workload's variants that run on the event engine (each held to at least 10x
#: the obvious model): IPVS least connection, and keep-alive clients. The keep-alive pool is
#: 120 connections of 100 requests each (about 29 s a connection): enough connections that
#: each pod holds about 20 and none is overloaded for long (mean latency about 60 ms, against
#: 33 ms with a connection per request); a pool of a few connections over 6 pods would
#: overload some pods and time queues rather than the engine.
VARIANTS = {
    "lc": ("  workloads:", "  kubeProxy: {mode: ipvs, scheduler: lc}\n  workloads:"),
    "keepalive": (
        "arrival: poisson}",
        "arrival: poisson, connections: {mode: keepalive, count: 120, requestsPerConnection: 100}}",
    ),
}


def reference_scenario(requests: int, seed: int = 1, variant: str | None = None) -> str:
    """The reference workload as scenario YAML (through the public API, like a user);
    ``variant`` (a key of :data:`VARIANTS`) makes it one of its event-engine variants."""
    if variant is not None and variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)} or None, not {variant!r}")
    text = _reference_text(requests, seed)
    if variant is None:
        return text
    old, new = VARIANTS[variant]
    assert text.count(old) == 1
    return text.replace(old, new)


def _reference_text(requests: int, seed: int) -> str:
    duration = requests / RATE
    return f"""
apiVersion: v1
kind: Service
metadata: {{name: bench}}
spec:
  type: NodePort
  selector: {{app: bench}}
  ports: [{{port: 80, nodePort: 30080}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: bench}}
spec:
  replicas: {PODS}
  selector: {{matchLabels: {{app: bench}}}}
  template:
    metadata: {{labels: {{app: bench}}}}
    spec: {{containers: [{{name: app, image: app}}]}}
---
apiVersion: svcsim/v1alpha1
kind: Simulation
metadata: {{name: bench}}
spec:
  seed: {seed}
  duration: {duration!r}s
  cluster:
    nodes: {NODES}
    network: {{clientToNode: {CLIENT_HOP_S * 1e3}ms, nodeToNode: {NODE_HOP_S * 1e3}ms}}
  workloads:
    bench: {{serviceTime: {{distribution: exponential, mean: {SERVICE_MEAN_S * 1e3}ms}}, concurrency: 1}}
  clients:
    - {{name: load, target: {{service: bench, via: nodePort}}, rate: {RATE}, arrival: poisson}}
"""


def obvious_model(requests: int, seed: int = 1) -> tuple[int, float]:
    """The reference workload the obvious SimPy way; returns (requests done, mean latency s)."""
    rng = np.random.default_rng(seed)
    env = simpy.Environment()
    pods = [simpy.Resource(env, capacity=1) for _ in range(PODS)]
    pod_node = [i % NODES for i in range(PODS)]
    latencies: list[float] = []
    duration = requests / RATE

    def request(env: simpy.Environment) -> simpy.events.ProcessGenerator:
        sent = env.now
        entry = int(rng.integers(NODES))
        yield env.timeout(CLIENT_HOP_S)
        pod = int(rng.integers(PODS))
        cross = pod_node[pod] != entry
        if cross:
            yield env.timeout(NODE_HOP_S)
        with pods[pod].request() as slot:
            yield slot
            yield env.timeout(rng.exponential(SERVICE_MEAN_S))
        if cross:
            yield env.timeout(NODE_HOP_S)
        yield env.timeout(CLIENT_HOP_S)
        latencies.append(env.now - sent)

    def source(env: simpy.Environment) -> simpy.events.ProcessGenerator:
        while True:
            yield env.timeout(rng.exponential(1.0 / RATE))
            if env.now >= duration:
                return
            env.process(request(env))

    env.process(source(env))
    env.run()
    return len(latencies), float(np.mean(latencies))


@dataclass(frozen=True)
class BenchResult:
    engine_requests: int
    engine_s: float
    engine_mean_ms: float
    obvious_requests: int
    obvious_s: float
    obvious_mean_ms: float

    @property
    def engine_rate(self) -> float:
        return self.engine_requests / self.engine_s

    @property
    def obvious_rate(self) -> float:
        return self.obvious_requests / self.obvious_s

    @property
    def ratio(self) -> float:
        return self.engine_rate / self.obvious_rate

    @property
    def latency_gap(self) -> float:
        """Relative difference of the two mean latencies."""
        return abs(self.engine_mean_ms - self.obvious_mean_ms) / self.obvious_mean_ms


def run_bench(requests: int = 200_000, seed: int = 1, repeat: int = 1) -> BenchResult:
    """Time both models on the reference workload; the best of ``repeat`` runs each.

    Raises ``ValueError`` for arguments ``svcsim bench`` refuses (the CLI checks them first).
    """
    if repeat < 1 or seed < 0 or not MIN_BENCH_REQUESTS <= requests <= MAX_BENCH_REQUESTS:
        raise ValueError(
            f"run_bench needs {MIN_BENCH_REQUESTS} <= requests <= {MAX_BENCH_REQUESTS}, seed >= 0 and repeat >= 1; "
            f"got requests={requests}, seed={seed}, repeat={repeat}"
        )
    scenario = load_scenario(reference_scenario(requests, seed))
    engine_s = obvious_s = float("inf")
    engine_n = obvious_n = 0
    engine_mean = obvious_mean = float("nan")
    for _ in range(repeat):
        started = time.perf_counter()
        result = simulate(scenario, seed=seed)
        engine_s = min(engine_s, time.perf_counter() - started)
        engine_n = len(result.requests)
        engine_mean = float(result.requests["latency"].mean() * 1e3)
        started = time.perf_counter()
        obvious_n, mean_s = obvious_model(requests, seed)
        obvious_s = min(obvious_s, time.perf_counter() - started)
        obvious_mean = mean_s * 1e3
    return BenchResult(engine_n, engine_s, engine_mean, obvious_n, obvious_s, obvious_mean)


#: ``svcsim bench --scheduler``: kube-scheduler's cycle alone (issue 11's bar: 10 000 pods in well under a second).
SCHEDULER_PODS = 10_000
SCHEDULER_NODES = 100


@dataclass(frozen=True)
class SchedulerBench:
    """Pods placed one scheduling cycle after another on equal nodes in three zones."""

    pods: int
    nodes: int
    placed: int
    wall_s: float
    max_skew: int  # most minus fewest pods on a node, at the end

    @property
    def per_pod_us(self) -> float:
        return self.wall_s / self.pods * 1e6


def scheduler_bench(pods: int = SCHEDULER_PODS, nodes: int = SCHEDULER_NODES, seed: int = 1) -> SchedulerBench:
    """Schedule and bind ``pods`` pods of one ReplicaSet (10m cpu, 32Mi each) on ``nodes``
    default nodes (4 CPUs, 16Gi, 110 pods) spread over three zones: filter, score, tie draw and
    bind, as a run does for each pod, timed with nothing else around it."""
    from sim.randomness import Streams  # noqa: PLC0415 (only this case needs them)
    from sim.runtime.placement import PodSpec, Scheduler  # noqa: PLC0415
    from sim.scenario.simulation import Node  # noqa: PLC0415

    cluster = [Node(f"node-{i}", None, {"topology.kubernetes.io/zone": f"zone-{i % 3}"}) for i in range(nodes)]
    scheduler = Scheduler(cluster, Streams(seed).uniform("scheduler/ties").one)
    spec = PodSpec(cpu_m=10, memory_b=32 * 2**20, selector=(), group="bench")
    placed = 0
    started = time.perf_counter()
    for _ in range(pods):
        node = scheduler.schedule(spec)
        if isinstance(node, int):
            scheduler.bind(node, spec)
            placed += 1
    wall_s = time.perf_counter() - started
    return SchedulerBench(pods, nodes, placed, wall_s, int(scheduler.pods.max() - scheduler.pods.min()))


#: ``svcsim bench --dask``: issue 12's bar, a 40-run sweep on a 2-worker local cluster at least
#: 1.7x faster than serial on a 2-core machine. The sweep (``sim.sweep``): the reference
#: workload at 560 requests/s over 8, 10, 12 and 14 replicas (utilisation 0.7 to 0.4), x 10
#: seeds. A realistic sweep point is a run of 1-2 s: 2 million requests here, about 1.2 s of
#: CPU each, about 50 s serial in all (README, "Replications on Dask").
DASK_WORKERS = 2
DASK_GRID = {"deployment/bench.spec.replicas": [8, 10, 12, 14]}
DASK_RATE = 560.0  # requests/s at every point
DASK_SEEDS = 10  # runs per point
DASK_REQUESTS = 2_000_000  # per run


@dataclass(frozen=True)
class DaskBench:
    """The same sweep serially in this process and on a local Dask cluster (one repeat)."""

    runs: int
    points: int
    workers: int
    requests: int  # simulated in all, over every run
    serial_s: float
    start_s: float  # the cluster started and svcsim imported in its workers
    runs_s: float  # the runs on the cluster
    stop_s: float  # the cluster stopped
    identical: bool  # the two tables are equal, value for value
    peak_rss_bytes: int  # this process
    worker_peak_rss_bytes: int  # the largest worker
    serial_cpu_s: float  # CPU time of the serial runs: below serial_s when others share the cores
    workers_cpu_s: float  # CPU time of the workers during the runs, all added up
    main_cpu_s: float  # CPU time of this process (scheduler, nannies, client) during the runs on the cluster
    load_average: float  # the machine's 1-minute load average before the bench: others' work
    workers_flag_s: float  # the same sweep as `--workers K` runs it: runs here while the cluster starts
    workers_flag_identical: bool

    @property
    def dask_s(self) -> float:
        """What a user waits: start, runs and stop."""
        return self.start_s + self.runs_s + self.stop_s

    @property
    def speedup(self) -> float:
        return self.serial_s / self.dask_s

    @property
    def workers_flag_speedup(self) -> float:
        """What ``svcsim sweep --workers K`` gains: the cluster started while runs go on here."""
        return self.serial_s / self.workers_flag_s

    @property
    def runs_speedup(self) -> float:
        """The runs alone, the cluster already up (as with ``--scheduler``)."""
        return self.serial_s / self.runs_s


def dask_sweep(requests: int = DASK_REQUESTS) -> Scenario:
    """The scenario the bench sweeps over :data:`DASK_GRID`: the reference workload at
    :data:`DASK_RATE`, ``requests`` requests a run."""
    base = load_scenario(reference_scenario(requests))
    return base.with_changes(
        {"simulation.spec.clients[load].rate": DASK_RATE, "simulation.spec.duration": f"{requests / DASK_RATE!r}s"}
    )


def dask_bench(workers: int = DASK_WORKERS, requests: int = DASK_REQUESTS, seed: int = 1) -> DaskBench:
    """Time the sweep of :func:`dask_sweep` serially, then on a
    :func:`~sim.experiments.dask_executor.local_cluster` of ``workers`` processes (start-up and
    shutdown timed apart, the cluster idle while it starts), then as ``--workers K`` runs it
    (:func:`~sim.experiments.dask_executor.cluster_executor`: runs here while the cluster
    starts), each through ``sim.sweep``; svcsim is imported here before the serial runs, and in
    the workers as part of the start-up."""
    import importlib  # noqa: PLC0415

    from sim.experiments.dask_executor import (  # noqa: PLC0415 (only this case needs dask)
        cluster_executor,
        dask_executor,
        local_cluster,
    )
    from sim.experiments.replications import Executor, serial  # noqa: PLC0415
    from sim.experiments.sweep import sweep  # noqa: PLC0415

    base = dask_sweep(requests)

    def run_sweep(executor: Executor) -> pd.DataFrame:
        return sweep(base, DASK_GRID, DASK_SEEDS, seed, executor=executor).table

    load_average = os.getloadavg()[0]
    started, cpu = time.perf_counter(), time.process_time()
    serial_table = run_sweep(serial)
    serial_s, serial_cpu_s = time.perf_counter() - started, time.process_time() - cpu
    started = time.perf_counter()
    with local_cluster(workers) as client:
        client.run(importlib.import_module, "sim.experiments.metrics")
        cpu_before, main_before = client.run(time.process_time), time.process_time()
        up = time.perf_counter()
        dask_table = run_sweep(dask_executor(client))
        done = time.perf_counter()
        cpu_after, main_cpu_s = client.run(time.process_time), time.process_time() - main_before
        workers_cpu_s = sum(cpu_after[w] - cpu_before[w] for w in cpu_before)
        worker_rss = max(client.run(_peak_rss).values())
        closing = time.perf_counter()
    stop_s = time.perf_counter() - closing
    flag_started = time.perf_counter()
    flag_table = run_sweep(cluster_executor(workers))
    workers_flag_s = time.perf_counter() - flag_started
    return DaskBench(
        runs=len(serial_table),
        points=serial_table["point"].nunique(),
        workers=workers,
        requests=int(serial_table["requests"].sum()),
        serial_s=serial_s,
        start_s=up - started,
        runs_s=done - up,
        stop_s=stop_s,
        identical=serial_table.equals(dask_table),
        peak_rss_bytes=_peak_rss(),
        worker_peak_rss_bytes=worker_rss,
        serial_cpu_s=serial_cpu_s,
        workers_cpu_s=workers_cpu_s,
        main_cpu_s=main_cpu_s,
        load_average=load_average,
        workers_flag_s=workers_flag_s,
        workers_flag_identical=serial_table.equals(flag_table),
    )


def _peak_rss() -> int:
    """This process's peak resident set size in bytes (Linux reports KiB)."""
    import resource  # noqa: PLC0415 (POSIX only)

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
