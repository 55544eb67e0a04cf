"""The engine: wire the scenario into a SimPy environment and run it.

SimPy drives time. Control processes (scale events, pod start-up and termination,
kube-proxy syncs) are SimPy processes; a ticker moves the request batches forward (see
:mod:`sim.runtime.requests.batch`), and so does every control event before it changes anything.
"""

from __future__ import annotations

import functools
import ipaddress
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from sim.distributions import Distribution
from sim.endpoint_choice import kube_proxy_choice
from sim.kube.service import Service
from sim.randomness import Streams
from sim.runtime.cluster_autoscaler import ClusterAutoscalerRuntime
from sim.runtime.control_plane import ZONE_LABEL, ControlPlane
from sim.runtime.dataplane import Dataplane
from sim.runtime.endpoint_slices import EndpointSlices, service_ports
from sim.runtime.hpa_controller import HPARuntime
from sim.runtime.load_balancer import LoadBalancerRuntime, health_checks
from sim.runtime.metrics_server import MetricsServer
from sim.runtime.pods import Pod
from sim.runtime.requests.batch import BatchEngine
from sim.runtime.requests.calls import CallPlan
from sim.runtime.requests.clients import ClientFlow, arrival_stream
from sim.runtime.requests.engine import RequestEngine, RequestPath
from sim.runtime.requests.engine_choice import Engine, choose_engine
from sim.runtime.requests.events import EventEngine
from sim.runtime.requests.outcomes import ClientTable, NodeOutages, settle
from sim.runtime.requests.request_log import RequestLog
from sim.runtime.requests.retries import retrying_client
from sim.runtime.topology import Topology
from sim.scenario.pod_count import PodCount
from sim.scenario.resolved import Scenario
from sim.scenario.run_limits import MAX_REQUESTS, estimate_requests
from sim.scenario.simulation import Client, CrashEvent, Event, RolloutEvent, ScaleEvent

__all__ = ["RunRecord", "run"]

#: Requests handled per batch on average; any value gives the same result, this one is fast.
_BATCH_REQUESTS = 4096
#: ...and at least this many per pod: the batch engine's work per batch has a part per busy pod
#: (its queue sorted, its arrivals admitted), so with thousands of pods a 4096-request batch
#: gives each pod about one request and that per-pod part dominates. Measured (bench --suite's scale case:
#: 10 000 pods, 10^6 requests at 100 000 req/s, 2 cores): batches of 0.04 s took 30 s, 0.16 s
#: 12 s, 0.4 s 7.8 s, 1 s 4.9 s, 2 s 4.1 s, the tables identical; peak RSS 434 -> 539 MB.
_BATCH_REQUESTS_PER_POD = 16


@dataclass(frozen=True)
class RunRecord:
    """What a run leaves behind, before it is turned into tables (:mod:`sim.results`)."""

    scenario: Scenario
    seed: int
    engine: str
    log: RequestLog
    pods: list[Pod]
    timeline: list[dict[str, Any]]
    topology: Topology
    callers: list[str]
    #: What the controllers did, as ``kubectl get events`` lists it: one dict per event with
    #: ``time`` (s), ``type`` (Normal | Warning), ``reason``, ``object`` (``pod/NAME``,
    #: ``replicaset/NAME``, ``deployment/NAME``, ``node/NAME``) and ``message``.
    events: list[dict[str, Any]] = field(default_factory=list)
    #: Every change of a pod's kubectl view: ``time``, ``pod``, ``status`` (Pending,
    #: ContainerCreating, Running, Terminating, CrashLoopBackOff, Error, Unknown), ``ready``
    #: (``"1/1"`` or ``"0/1"``) and ``restarts`` (int), from that time on.
    pod_status: list[dict[str, Any]] = field(default_factory=list)
    #: One row per HPA sync: ``time`` (s), ``hpa``, ``reference`` (``Deployment/web``),
    #: ``min_replicas``, ``max_replicas``, ``current_replicas`` (the scale read at the sync),
    #: ``desired_replicas`` (what it set or kept), ``rescaled`` (bool), ``reason`` ("" when
    #: none), and the conditions ``able_to_scale``, ``scaling_active``, ``scaling_limited``,
    #: each as ``"True/ReasonName"``.
    hpa: list[dict[str, Any]] = field(default_factory=list)
    #: One row per HPA sync per metric: ``time``, ``hpa``, ``metric`` (``cpu``, ``memory``,
    #: ``pods/NAME``, ``external/NAME``, ``object/KIND/NAME/METRIC``), ``target_type``
    #: (Utilization | AverageValue | Value), ``current`` (percent for Utilization, else base
    #: units; NaN when unavailable), ``target`` (same units) and ``proposal`` (replicas the
    #: metric proposed; -1 if none).
    hpa_metrics: list[dict[str, Any]] = field(default_factory=list)
    #: One row per node that ever joined (``nodes.parquet``, :func:`~sim.runtime.kube_scheduler.node_row`).
    nodes: list[dict[str, Any]] = field(default_factory=list)


def run(
    scenario: Scenario,
    seed: int | None = None,
    *,
    progress: Callable[[float], None] | None = None,
    batch_s: float | None = None,
    engine: str | None = None,
) -> RunRecord:
    """Run ``scenario`` and return what it recorded (:func:`sim.simulate` turns it into a Result).

    The parameters are those of :func:`sim.simulate`.
    """
    sim = scenario.simulation
    if seed is None:
        seed = sim.seed
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2**63))  # type: ignore[operator]
    wiring = _Wiring(scenario, int(seed), batch_s, choose_engine(scenario, engine))
    wiring.execute(progress)
    return wiring.record()


class _Wiring:
    """Builds every run-time object through its constructor, in dependency order, then runs."""

    def __init__(self, scenario: Scenario, seed: int, batch_s: float | None, engine: Engine) -> None:
        self.scenario = scenario
        self.seed = seed
        sim = scenario.simulation
        self.env = simpy.Environment()
        self.streams = Streams(seed)
        self.topology = Topology(scenario)
        nodes = sim.cluster.slots  # a cluster autoscaler's nodes too: absent until it adds them
        self.ports = service_ports(scenario.services)
        destinations = [_address(svc.cluster_ip) for svc, _ in self.ports]
        self.dataplanes = [self._dataplane(i, destinations) for i in range(len(nodes))]
        # Batches hold about _BATCH_REQUESTS at the busiest moment of any client's profile.
        total_rate = sum(c.rate.peak(*c.sending(sim.duration_s)) for c in sim.clients)
        self.log = RequestLog(_log_capacity(scenario))
        self.callers = sorted(name for name, w in sim.workloads.items() if w.calls)
        self.client_table = self._client_table()
        self.load_balancers = self._load_balancers()
        self.pods: list[Pod] = []
        live: dict[int, Pod] = {}
        slices = EndpointSlices(
            self.ports,
            {d.name: {p.name for p in d.ports if p.name} for d in scenario.deployments},
            [n.labels.get(ZONE_LABEL) for n in nodes],
            live,
        )
        hop = [self._hop_dist(n.name) for n in nodes]
        self.outages = NodeOutages()
        flows = [self._flow(i, c) for i, c in enumerate(sim.clients)]
        path = RequestPath(
            log=self.log,
            clients=flows,
            client_table=self.client_table,
            dataplanes=self.dataplanes,
            hops_out=[self.streams.variates(f"node/{n.name}/hop-out", hop[i]) for i, n in enumerate(nodes)],
            hops_back=[self.streams.variates(f"node/{n.name}/hop-back", hop[i]) for i, n in enumerate(nodes)],
            pods=self.pods,
            first_endpoint=slices.first_ready,
            send_until=sim.duration_s,
            outages=self.outages,
        )
        self.engine: RequestEngine
        if engine == Engine.EVENTS:
            self.engine = EventEngine(
                path,
                pools={i: c.connections for i, c in enumerate(sim.clients) if c.connections.keepalive},
                load_balancers={port: lb for lb in self.load_balancers for port in lb.ports},
                call_plans=self._call_plans(),
                retrying={
                    i: retrying_client(self.streams, c.name, flows[i], self._client_link(c), c.retries)
                    for i, c in enumerate(sim.clients)
                    if c.retries is not None
                },
            )
        else:
            self.engine = BatchEngine(path)
        if batch_s is None:
            per_batch = max(_BATCH_REQUESTS, _BATCH_REQUESTS_PER_POD * _most_pods(scenario))
            batch_s = min(5.0, max(1e-3, per_batch / total_rate)) if total_rate > 0 else sim.duration_s
        self.batch_s = batch_s
        self.cluster = ControlPlane(
            self.env,
            scenario,
            self.streams,
            self.topology,
            self.dataplanes,
            self.pods,
            live,
            slices,
            self.engine,
            poll_s=batch_s,
            balancer_routes=[lb.routed_pods for lb in self.load_balancers if lb.direct],
            outages=self.outages,
        )
        self.slices = slices
        self.hpas: HPARuntime | None = None
        self.autoscaler: ClusterAutoscalerRuntime | None = None
        if sim.cluster.autoscaler is not None:
            self.autoscaler = ClusterAutoscalerRuntime(self.cluster, sim.cluster.autoscaler)
            for i in range(len(sim.cluster.nodes), len(nodes)):
                self.dataplanes[i].present = False
                self.dataplanes[i].down = True  # nothing is sent to a node that is not there
        if scenario.hpas:
            cluster = self.cluster
            watched = cluster.metered
            metrics = MetricsServer(
                self.env,
                lambda: [p for name in sorted(watched) for p in cluster.live_pods(name)],
                cluster.scrapable,
                cluster.catch_up,
                sim.cluster.metrics.resolution_s,
                sim.cluster.metrics.rate_window_s,
            )
            self.metrics_server = metrics
            self.hpas = HPARuntime(cluster, metrics, sim.cluster.hpa_controller)

    def _dataplane(self, i: int, destinations: list[int]) -> Dataplane:
        sim = self.scenario.simulation
        node = sim.cluster.slots[i]
        return Dataplane(
            i,
            node.labels.get(ZONE_LABEL),
            destinations,
            kube_proxy_choice(sim.kube_proxy.mode, sim.kube_proxy.scheduler),
            self.streams.uniform(f"node/{node.name}/kube-proxy"),
        )

    def _client_table(self) -> ClientTable:
        """Per client index: the clients, then one per calling Deployment (calls are internal,
        wait 1 s for a SYN answer, and have no timeout of their own)."""
        clients, calls = self.scenario.simulation.clients, len(self.callers) + 1  # + 1: never empty
        return ClientTable(
            external=np.array(
                [c.target.via in ("nodePort", "loadBalancer") for c in clients] + [False] * calls, dtype=bool
            ),
            connect_timeout_s=np.array([c.connect_timeout_s for c in clients] + [1.0] * calls),
            timeout_s=np.array(
                [c.timeout_s if c.timeout_s is not None else math.inf for c in clients] + [math.inf] * calls
            ),
        )

    def _port_index(self, service: str, port: int | str | None) -> int:
        svc = self.scenario.service(service)
        wanted = svc.port(port)
        return next(i for i, (s, p) in enumerate(self.ports) if s.name == service and p == wanted)

    def _call_plans(self) -> dict[str, CallPlan]:
        sim = self.scenario.simulation
        plans = {}
        for k, name in enumerate(self.callers):
            calls = tuple(
                (self._port_index(call.service, call.port), call.timeout_s) for call in sim.workloads[name].calls
            )
            plans[name] = CallPlan(client=len(sim.clients) + k, calls=calls)
        return plans

    def _load_balancers(self) -> list[LoadBalancerRuntime]:
        sim = self.scenario.simulation
        out = []
        for svc in self.scenario.services:
            if svc.type != "LoadBalancer":
                continue
            prefix = f"lb/{svc.name}"
            spec = sim.cluster.load_balancer
            out.append(
                LoadBalancerRuntime(
                    service=svc,
                    ports=[i for i, (s, _) in enumerate(self.ports) if s.name == svc.name],
                    spec=spec,
                    ingress_ip=svc.ingress_ip or "",
                    n_nodes=len(sim.cluster.slots),
                    draws=self.streams.uniform(f"{prefix}/choice"),
                    latency_out=self.streams.variates(f"{prefix}/latency-out", spec.latency),
                    latency_back=self.streams.variates(f"{prefix}/latency-back", spec.latency),
                )
            )
        return out

    def _hop_dist(self, node: str) -> Distribution:
        other = next((n.name for n in self.scenario.simulation.cluster.nodes if n.name != node), None)
        return self.topology.link(f"node/{node}", f"node/{other}") if other else self.topology.link("", "")

    def _client_link(self, client: Client) -> Distribution:
        """Every link from this client to a node has the same law; take it from the graph."""
        names = [n.name for n in self.scenario.simulation.cluster.nodes]
        far = next((n for n in names if n != client.location), names[0])
        return self.topology.client_link(client.name, far)

    def _flow(self, index: int, client: Client) -> ClientFlow:
        names = [n.name for n in self.scenario.simulation.cluster.nodes]
        position = {name: i for i, name in enumerate(names)}
        entry = [position[n] for n in client.nodes] if client.nodes else list(range(len(names)))
        own = position.get(client.location)
        link = self._client_link(client)
        prefix = f"client/{client.name}"
        return ClientFlow(
            index=index,
            via=client.target.via,
            port=self._port_index(client.target.service, client.target.port),
            own_node=own,
            entry_nodes=np.array(entry, dtype=np.int64),
            arrivals=arrival_stream(self.streams, prefix, client),
            entry_draws=self.streams.uniform(f"{prefix}/entry"),
            link_out=self.streams.variates(f"{prefix}/link-out", link),
            link_back=self.streams.variates(f"{prefix}/link-back", link),
            connect_timeout_s=client.connect_timeout_s,
            first_ip=_address(client.ip),
            ips=client.ips,
            ip_draws=self.streams.uniform(f"{prefix}/source-ip"),
        )

    def execute(self, progress: Callable[[float], None] | None) -> None:
        env, sim = self.env, self.scenario.simulation
        self.cluster.start()
        if self.hpas is not None:
            env.process(self.metrics_server.process())
            self.hpas.start()
        if self.autoscaler is not None:
            env.process(self.autoscaler.process())
        for lb in self.load_balancers:
            env.process(
                health_checks(
                    env,
                    lb,
                    self.dataplanes,
                    self.slices.ready_pods,
                    self._catch_up,
                    functools.partial(self._record_rotation, lb.service),
                    [n.name for n in sim.cluster.slots],
                    self.cluster.check_unrouted,
                )
            )
        for event in sorted(sim.events, key=lambda e: e.at_s):
            env.process(self._event_at(event))
        env.process(self._ticker())
        steps = 100 if progress else 1
        for k in range(1, steps + 1):
            env.run(until=sim.duration_s * k / steps)
            if progress:
                progress(env.now)
        self.engine.advance(sim.duration_s)
        self.engine.drain()

    def _catch_up(self) -> None:
        self.engine.advance(self.env.now)

    def _record_rotation(self, svc: Service, detail: str) -> None:
        for dep in self.scenario.deployments:
            if svc.selects(dep.labels):
                self.cluster.record_row(dep.name, "lb rotation", f"{svc.name}: {detail}")

    def _event_at(self, event: Event) -> Any:
        """A scenario event at its time: scale, rollout, crash, node failure or recovery."""
        yield self.env.timeout(event.at_s)
        cluster = self.cluster
        if isinstance(event, ScaleEvent):
            cluster.scale(event.deployment, event.replicas)
        elif isinstance(event, RolloutEvent):
            cluster.rollout(event.deployment, event.workload)
        elif isinstance(event, CrashEvent):
            cluster.crash(event.pod, event.deployment, event.count)
        else:
            for node in cluster.nodes.nodes(event.node, event.zone):
                if event.action == "fail":
                    cluster.nodes.fail(node)
                else:
                    cluster.nodes.recover(node)

    def _ticker(self) -> Any:
        while True:
            yield self.env.timeout(self.batch_s)
            self.engine.advance(self.env.now)

    def record(self) -> RunRecord:
        pods = self.pods
        if isinstance(self.engine, EventEngine) and self.engine.call_keys:
            # Calls got ids as they happened; number every request in a fixed order instead
            # (each client request followed by its calls), so ids never depend on batching.
            keys = self.engine.call_keys
            self.log.reorder(np.array(sorted(range(self.log.size), key=lambda i: keys.get(i) or (i,))))
        elif any(c.retries is not None for c in self.scenario.simulation.clients):
            # Retries too got ids as they happened: each request's tries in attempt order.
            origin = self.log.column("origin")
            root = np.where(origin < 0, np.arange(self.log.size), origin)
            self.log.reorder(np.lexsort((self.log.column("attempt"), root)))
        settle(
            self.log,
            [p.kills for p in pods],
            np.array([p.gone_at for p in pods] or [math.inf]),
            self.client_table,
            self.outages,
        )
        self.log.release_working_columns()  # before the result tables are built next to the log
        return RunRecord(
            self.scenario,
            self.seed,
            self.engine.name,
            self.log,
            pods,
            self.cluster.timeline,
            self.topology,
            self.callers,
            self.cluster.events,
            self.cluster.pod_status,
            hpa=self.hpas.rows if self.hpas is not None else [],
            hpa_metrics=self.hpas.metric_rows if self.hpas is not None else [],
            nodes=self.cluster.scheduler.node_rows,
        )


def _most_pods(scenario: Scenario) -> int:
    """The most pods the run may hold at once: the Deployments' replicas, what events scale them
    to, and every HPA at its maxReplicas (batches sized for 100 pods spread thin over the 10 000
    a scale event made: 1.5 requests per pod per batch, 20 s where 6 would do)."""
    counted = PodCount(scenario.simulation, scenario.deployments)
    most = max([counted.total, *(alive for _, alive in counted.changes.values())])
    return most + sum(max(0, h.max_replicas - h.min_replicas) for h in scenario.hpas)


def _log_capacity(scenario: Scenario) -> int:
    """Room for the requests the run is expected to hold, calls included, so the log rarely
    grows (a Poisson count rarely exceeds its mean by 6 standard deviations)."""
    estimate = estimate_requests(scenario.simulation, scenario.services, scenario.deployments)
    expected = min(estimate.expected, MAX_REQUESTS)
    return int(expected + 6 * math.sqrt(expected)) + 1024


def _address(ip: str | None) -> int:
    """An IPv4 address as an integer; 0 for none (a headless Service has no ClusterIP)."""
    try:
        return int(ipaddress.IPv4Address(ip or "0.0.0.0"))
    except ValueError:
        return 0
