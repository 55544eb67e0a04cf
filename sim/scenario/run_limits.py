"""svcsim's own limits, which keep one run within memory and time (Kubernetes has none of these).

Each limit says why it exists; messages that cite one say it is svcsim's. The Simulation
parser checks the single fields (a node count, a concurrency, the client requests); once the
documents are read, :func:`run_limit_problems` estimates the work the whole scenario implies
(requests including the calls they cause, pods in total, worker slots, endpoint updates,
health checks) and refuses it, naming the field, before any of that work starts. The
estimate takes time about linear in the size of the scenario (no loop follows the calls
themselves), so refusing takes well under a second.
:func:`duration_problems` and :func:`run_limit_problems` are checked again when the CLI's
``--duration`` changes a loaded scenario.

The bounds were measured (``svcsim bench --suite`` runs the largest scenario each allows;
the README gives the figures).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sim.kube.deployment import Deployment
from sim.kube.service import Service, ServiceType
from sim.kube.validation import go
from sim.scenario.pod_count import PodCount
from sim.scenario.simulation import (
    Client,
    CrashEvent,
    NodeEvent,
    RolloutEvent,
    ScaleEvent,
    Simulation,
    Via,
    Workload,
)
from sim.units import format_duration

__all__ = [
    "BYTES_PER_REQUEST",
    "MAX_ATTEMPTS",
    "MAX_CLIENT_IPS",
    "MAX_CONCURRENCY",
    "MAX_CONNECTIONS",
    "MAX_DURATION_S",
    "MAX_ENDPOINT_UPDATES",
    "MAX_HEALTH_CHECK_WORK",
    "MAX_NODES",
    "MAX_PODS",
    "MAX_POOLED_CONNECTIONS",
    "MAX_QUEUE",
    "MAX_REQUESTS",
    "MAX_WORKERS",
    "MEMORY_SHARE",
    "REQUEST_ID_LIMIT",
    "LimitProblem",
    "RequestEstimate",
    "duration_problems",
    "estimate_requests",
    "machine_memory_bytes",
    "run_limit_problems",
]

#: Peak memory per request of a whole run (the request log, the table built from it and
#: saving it), measured with calls between Services, the costliest case (about 145 bytes
#: without calls: 1.34 GiB for 10^7 requests over 10 000 pods, the log's columns freed as the
#: tables take them); ``svcsim bench --suite`` measures both (275 and 208 at --scale 0.2, where
#: the fixed ~170 MiB weighs 17 bytes a request). Retries keep a second table, of tries.
BYTES_PER_REQUEST = 280
#: Request ids and the ids one request keeps of another are int32 columns.
REQUEST_ID_LIMIT = 2**31 - 1
#: The share of the machine's memory the largest run may take (the rest: the OS, other work).
MEMORY_SHARE = 0.75


def machine_memory_bytes() -> int:
    """This machine's physical memory, or the memory limit of this process's cgroup (a
    container, a systemd slice) when lower; 16 GiB where neither can be read."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):  # not POSIX
        total = 16 * 2**30
    for limit in _cgroup_limits():
        if 0 < limit < total:
            total = limit
    return total


def _cgroup_limits() -> list[int]:
    """The memory limits of this process's cgroups (v2 ``memory.max``, v1
    ``memory.limit_in_bytes``), as ``/proc/self/cgroup`` places them, and the root's; "max"
    and anything unreadable is no limit."""
    paths = ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        _, controllers, where = [*line.split(":", 2), "", ""][:3]
        if controllers == "":  # v2: "0::/path"
            paths.append(f"/sys/fs/cgroup{where.rstrip('/')}/memory.max")
        elif "memory" in controllers.split(","):
            paths.append(f"/sys/fs/cgroup/memory{where.rstrip('/')}/memory.limit_in_bytes")
    limits = []
    for path in paths:
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            limits.append(int(text))
    return limits


#: Every request is a row kept in memory: as many as three quarters of this machine's memory
#: holds at BYTES_PER_REQUEST each (24 GiB: 68 million), at least a million (a tiny or misread
#: limit must not refuse every run), at most what the int32 ids number.
MAX_REQUESTS = min(REQUEST_ID_LIMIT, max(1_000_000, int(machine_memory_bytes() * MEMORY_SHARE / BYTES_PER_REQUEST)))
#: The engine steps through simulated time at least every 5 s, health checks and all.
MAX_DURATION_S = 30 * 24 * 3600.0
MAX_NODES = 10_000
#: Pods in a run: every Deployment's replicas plus the pods events create (each is kept;
#: :class:`~sim.scenario.pod_count.PodCount` counts them).
MAX_PODS = 100_000
#: Workers per pod and keep-alive connections per client are each a slot in memory.
MAX_CONCURRENCY = 100_000
MAX_CONNECTIONS = 100_000
#: Tries per request (gRPC caps maxAttempts at 5; svcsim allows more for experiments).
MAX_ATTEMPTS = 100
#: queueLimit and maxConnections: counts, not slots; the bound only keeps them machine integers.
MAX_QUEUE = 1_000_000_000
#: Keep-alive connections of all clients together (each is an object: ~150 bytes).
MAX_POOLED_CONNECTIONS = 1_000_000
#: Worker slots in all: pods × their concurrency.
MAX_WORKERS = 10_000_000
#: Source addresses per client: a /16 worth.
MAX_CLIENT_IPS = 65_536
#: Every pod an event (or a random failure) adds, removes or takes out of the endpoints and
#: back republishes its Services' endpoints and resyncs every node: (pods alive + nodes ×
#: Service ports) per pod changed at worst, when each change comes at an instant of its own
#: (changes at one instant, such as a scale event's, share one sync: 100 → 10 000 pods on
#: 100 nodes, 10^8 units, takes about 1.5 s). About 1 µs each at worst: 1 000 crash changes ×
#: (2 000 pods + 2 000 nodes) took 4.4 s of CPU, 1 000 × (10 000 pods + 100 nodes) 2 s, so the
#: largest allowed run spends about 4 minutes on them (it was 5 µs each before endpoints were
#: kept incrementally).
MAX_ENDPOINT_UPDATES = 250_000_000
#: Load-balancer health checks probe every node and read the Service's endpoints:
#: checks × (nodes + pods + a check's own cost, as much as 10 of those), about 0.6 µs each
#: (the largest allowed ran 304 s).
MAX_HEALTH_CHECK_WORK = 500_000_000
_CHECK_COST = 10


@dataclass(frozen=True)
class LimitProblem:
    """A limit the scenario exceeds: ``field`` of the Simulation document, or of the
    Deployment named ``deployment``."""

    field: str
    message: str
    deployment: str | None = None


def duration_problems(
    duration_s: float, clients: tuple[Client, ...], field: str = "spec.duration"
) -> list[tuple[str, str]]:
    """``(field, message)`` if the run would be too long or produce too many requests to keep.

    The expected request count is the sum of the integrals of the clients' rates from their
    start to their stop (calls between Services come on top: :func:`run_limit_problems`);
    ``field`` names the duration as the user gave it.
    """
    if duration_s > MAX_DURATION_S:
        return [
            (
                field,
                f"Invalid value: {format_duration(duration_s)}: must be at most {format_duration(MAX_DURATION_S)} "
                "(30 days) of simulated time",
            )
        ]
    expected = sum(c.expected_requests(duration_s) for c in clients)
    total_rate = expected / duration_s if duration_s > 0 else 0.0
    # Each try is kept: a client that retries may send up to `attempts` per request.
    tries = sum(c.expected_requests(duration_s) * (c.retries.attempts if c.retries else 1) for c in clients)
    if tries <= MAX_REQUESTS:
        return []
    retrying = f", up to {tries:.3g} tries with every retry its clients may make" if tries > expected else ""
    return [
        (
            "spec.clients",
            f"about {expected:.3g} requests expected (rates {total_rate:g}/s in all × {field} "
            f"{format_duration(duration_s)}){retrying}, {_too_many_requests()}: lower the rates or the duration"
            + (" or the retry attempts" if retrying else ""),
        )
    ]


def _too_many_requests() -> str:
    memory = machine_memory_bytes() / 2**30
    return (
        f"more than the {MAX_REQUESTS:,} svcsim can keep in memory (~{BYTES_PER_REQUEST} bytes each, "
        f"{MEMORY_SHARE:.0%} of this machine's {memory:.1f} GiB)"
    )


def run_limit_problems(
    sim: Simulation,
    services: Sequence[Service],
    deployments: Sequence[Deployment],
    field: str = "spec.duration",
) -> list[LimitProblem]:
    """Every limit the whole scenario exceeds, estimated before any work starts.

    ``field`` names the duration as the user gave it (``--duration`` when the CLI overrides it).
    Names that do not resolve (reported elsewhere) are left out of the estimate.
    """
    problems = _request_problems(sim, services, deployments, field)
    pods = PodCount(sim, deployments)
    problems += _pod_problems(sim, pods)
    problems += _endpoint_update_problems(sim, services, pods)
    problems += _health_check_problems(sim, services, pods, field)
    problems += _connection_problems(sim)
    return problems


def _connection_problems(sim: Simulation) -> list[LimitProblem]:
    pools = {i: c.connections.count for i, c in enumerate(sim.clients) if c.connections.keepalive}
    total = sum(pools.values())
    if total <= MAX_POOLED_CONNECTIONS:
        return []
    largest = max(pools, key=lambda i: pools[i])
    return [
        LimitProblem(
            f"spec.clients[{largest}].connections.count",
            f"Invalid value: {pools[largest]}: the clients keep {total:,} keep-alive connections in all, more than "
            f"the {MAX_POOLED_CONNECTIONS:,} svcsim can hold (svcsim's limit)",
        )
    ]


# -- requests, calls included ------------------------------------------------------------


@dataclass(frozen=True)
class RequestEstimate:
    """Requests a run will hold: what clients send, and that times the calls it causes."""

    sent: float
    expected: float
    heaviest: str | None = None  # the Service whose calls add the most requests
    cycle: tuple[list[tuple[str, str, int]], str] | None = None  # a cycle clients reach, and which client


def estimate_requests(
    sim: Simulation, services: Sequence[Service], deployments: Sequence[Deployment], *, every_try: bool = False
) -> RequestEstimate:
    """Client requests times their fan-out through ``calls`` (an upper bound when a Service
    selects several Deployments; bounded by the cycle's workers when they reach a cycle).
    ``every_try``: a retrying client sends ``attempts`` tries per request, each with its calls
    (the worst case the limits must hold for; the expected case sizes the request log)."""
    fan_out = _FanOut(sim, services, deployments)
    sent = expected = 0.0
    heaviest: tuple[float, str | None] = (0.0, None)
    for client in sim.clients:
        count = client.expected_requests(sim.duration_s)
        if every_try and client.retries is not None:
            count *= client.retries.attempts
        sent += count
        service = client.target.service
        outside = client.location == "external" and client.target.via in (Via.CLUSTER_IP, Via.POD_IP)
        if outside or service not in fan_out.services:
            expected += count  # unreachable or unknown: the requests stop there
            continue
        cycle = fan_out.cycle_from(service)
        if cycle is not None:
            # A cycle ends at its first call timeout, which cancels the chain below it
            # (docs/semantics.md#calls-between-services): each level holds a worker, so a request
            # causes at most as many calls as the cycle's Deployments have workers, plus the one
            # left waiting, times the calls a level makes.
            per_request = 1 + _cycle_bound(sim, deployments, cycle)
            expected += count * per_request
            if expected > MAX_REQUESTS:
                return RequestEstimate(sent, expected, service, (cycle, client.name))
            continue
        expected += count * fan_out.requests(service)
        if count * (fan_out.requests(service) - 1) > heaviest[0]:
            heaviest = (count * (fan_out.requests(service) - 1), service)
    return RequestEstimate(sent, expected, heaviest[1])


def _request_problems(
    sim: Simulation, services: Sequence[Service], deployments: Sequence[Deployment], field: str
) -> list[LimitProblem]:
    """Client requests times their fan-out through ``calls`` must stay within MAX_REQUESTS.

    Client requests alone are the parser's check; this one reports only what calls add.
    """
    estimate = estimate_requests(sim, services, deployments, every_try=True)
    if estimate.cycle is not None:
        return [_cycle_problem(*estimate.cycle, estimate.expected)]
    if estimate.expected <= MAX_REQUESTS or estimate.sent > MAX_REQUESTS or estimate.heaviest is None:
        return []
    workload, calls = _FanOut(sim, services, deployments).busiest(estimate.heaviest)
    return [
        LimitProblem(
            f"spec.workloads.{workload}.calls",
            f"about {estimate.expected:.3g} requests expected: clients send {estimate.sent:.3g}"
            f"{' (every try a retrying client may make)' if any(c.retries for c in sim.clients) else ''} ({field} "
            f"{format_duration(sim.duration_s)}) and their calls multiply them (each request to Service "
            f'"{estimate.heaviest}" causes up to {calls:,} calls), {_too_many_requests()}: fewer calls, lower '
            "rates or a shorter duration",
        )
    ]


def _cycle_problem(cycle: list[tuple[str, str, int]], client: str, expected: float) -> LimitProblem:
    """A cycle of calls whose bounded fan-out (see :func:`_cycle_bound`) still passes the limit."""
    service, workload, index = cycle[0]
    path = " → ".join(f'Service "{s}" → {w}' for s, w, _ in cycle) + f' → Service "{service}"'
    return LimitProblem(
        f"spec.workloads.{workload}.calls[{index}]",
        f'Invalid value: calls form a cycle ({path}) that client "{client}" reaches: about {expected:.3g} '
        f"requests expected, as every request can cause a call per worker of the cycle's pods, "
        f"{_too_many_requests()}: break the cycle, or fewer workers, lower rates or a shorter duration",
    )


def _cycle_bound(sim: Simulation, deployments: Sequence[Deployment], cycle: list[tuple[str, str, int]]) -> int:
    """Calls one request can cause in a cycle: one per worker its Deployments can have (at their
    most pods alive in the run, rollouts' included, and their largest concurrency), plus one
    waiting, times the most calls a level makes (of any revision)."""
    names = {workload for _, workload, _ in cycle}
    pods = PodCount(sim, deployments)
    revisions = _revisions(sim)
    workers = 0
    most_calls = 1
    for dep in deployments:
        if dep.name not in names or dep.name not in sim.workloads:
            continue
        workers += pods.peak_pods[dep.name] * pods.most_concurrency[dep.name]
        most_calls = max(most_calls, *(len(w.calls) for w in revisions[dep.name]))
    return (workers + 1) * most_calls


def _revisions(sim: Simulation) -> dict[str, list[Workload]]:
    """Each Deployment's workloads over the run: its own, then each rollout's that differs."""
    out = {name: [w] for name, w in sim.workloads.items()}
    for event in sim.events:
        known = out.get(event.deployment, []) if isinstance(event, RolloutEvent) else []
        if isinstance(event, RolloutEvent) and known and event.workload is not None and event.workload not in known:
            known.append(event.workload)
    return out


class _FanOut:
    """Requests each request to a Service causes, itself included, through the calls of the
    Deployments it selects (the busiest of them when it selects several: an upper bound).

    Computed once per Service by an iterative depth-first search that also finds cycles, so
    a chain or a loop of calls never makes the estimate recurse or loop.
    """

    def __init__(self, sim: Simulation, services: Sequence[Service], deployments: Sequence[Deployment]) -> None:
        self.services = {s.name for s in services}
        revisions = _revisions(sim)
        # Deployments by each of their labels, so a Service is matched against only those
        # that carry its selector's first label, not against every Deployment.
        by_label: dict[tuple[str, str], list[Deployment]] = defaultdict(list)
        for dep in deployments:
            for label in dep.labels.items():
                by_label[label].append(dep)
        # Per Service: each selected Deployment with a workload, and the Services it calls
        # (one entry per call, with its index in ``calls``).
        self._backends: dict[str, list[tuple[str, list[tuple[str, int]]]]] = {}
        for svc in services:
            backends = []
            candidates = by_label.get(next(iter(svc.selector.items())), []) if svc.selector else []
            for dep in candidates:
                if not svc.selects(dep.labels):
                    continue
                seen: list[list[tuple[str, int]]] = []
                for workload in revisions.get(dep.name, ()):  # each revision's calls: the busiest bounds
                    calls = [(c.service, i) for i, c in enumerate(workload.calls) if c.service in self.services]
                    if calls not in seen:
                        seen.append(calls)
                        backends.append((dep.name, calls))
            self._backends[svc.name] = backends
        self._requests: dict[str, int] = {}
        self._cycles: dict[str, list[tuple[str, str, int]] | None] = {}

    def requests(self, service: str) -> int:
        """Requests one request to ``service`` causes, itself included (capped past MAX_REQUESTS)."""
        self._search(service)
        return self._requests[service]

    def cycle_from(self, service: str) -> list[tuple[str, str, int]] | None:
        """A cycle of calls reachable from ``service`` as (Service, workload, call index) steps, or None."""
        self._search(service)
        return self._cycles[service]

    def busiest(self, service: str) -> tuple[str, int]:
        """The workload behind ``service`` that causes the most calls, and how many."""
        self._search(service)
        best = max(self._backends[service], key=lambda b: sum(self._requests[s] for s, _ in b[1]))
        return best[0], sum(self._requests[s] for s, _ in best[1])

    def _search(self, root: str) -> None:
        if root in self._requests:
            return
        cap = MAX_REQUESTS + 1
        on_path: dict[str, int] = {}  # Service -> its depth on the current path
        path: list[tuple[str, str, int]] = []  # the call taken out of each Service on the path
        stack: list[tuple[str, list[tuple[str, str, int]]]] = [(root, self._steps(root))]
        on_path[root] = 0
        while stack:
            service, steps = stack[-1]
            while steps and steps[-1][1] in self._requests:
                steps.pop()  # already known, or finished in this search
            if steps:
                workload, target, index = steps.pop()
                if target in on_path:  # a back edge: a cycle through the current path
                    loop = [*path[on_path[target] :], (service, workload, index)]
                    self._mark_cycle(on_path, loop)
                    continue
                path.append((service, workload, index))
                on_path[target] = len(stack)
                stack.append((target, self._steps(target)))
                continue
            stack.pop()
            del on_path[service]
            if path:
                path.pop()
            if service in self._cycles:  # reaches a cycle: its requests have no bound
                self._requests[service] = cap
                continue
            cycles = [self._cycles.get(s) for _, calls in self._backends[service] for s, _ in calls]
            found = next((c for c in cycles if c is not None), None)
            self._cycles[service] = found
            total = 1
            for _, calls in self._backends[service]:
                total = max(total, 1 + sum(self._requests[s] for s, _ in calls))
            self._requests[service] = cap if found is not None else min(total, cap)

    def _steps(self, service: str) -> list[tuple[str, str, int]]:
        return [(workload, target, index) for workload, calls in self._backends[service] for target, index in calls]

    def _mark_cycle(self, on_path: dict[str, int], loop: list[tuple[str, str, int]]) -> None:
        """Every Service on the current path reaches ``loop``."""
        for service in on_path:
            self._cycles.setdefault(service, loop)


# -- pods and workers ----------------------------------------------------------------------


def _pod_problems(sim: Simulation, pods: PodCount) -> list[LimitProblem]:
    """The pods the run creates (:class:`~sim.scenario.pod_count.PodCount`) and the worker slots they hold."""
    out = []
    total = pods.total
    if total > MAX_PODS:
        initial = sum(pods.initial.values())
        detail = (
            f"the Deployments' replicas ({initial:,}) and the {_creating(sim, pods)} create {total:,} pods in all, "
            f"more than the {MAX_PODS:,} svcsim simulates (svcsim's limit)"
        )
        first_over = next((i for i, after in pods.totals if after > MAX_PODS), None)
        if first_over is None:  # the replicas alone are too many
            name = max(pods.initial, key=lambda n: pods.initial[n])
            out.append(LimitProblem("spec.replicas", f"Invalid value: {pods.initial[name]}: {detail}", name))
        else:
            field, value = _event_field(sim, first_over)
            out.append(LimitProblem(field, f"Invalid value: {value}: {detail}"))
    slots = sum(held for _, held in pods.workers.values())
    if slots > MAX_WORKERS:
        field = max(pods.workers, key=lambda f: pods.workers[f][1])
        out.append(
            LimitProblem(
                field,
                f"Invalid value: {pods.workers[field][0]}: the run's {total:,} pods would hold "
                f"{slots:,} worker slots in all (pods × concurrency), more than the "
                f"{MAX_WORKERS:,} svcsim can keep (svcsim's limit)",
            )
        )
    return out


def _creating(sim: Simulation, pods: PodCount) -> str:
    """The kinds of events that create the run's pods, for a message ("scale events" if none do)."""
    kinds = {type(sim.events[i]) for i, _ in pods.totals}
    named = [
        words
        for kind, words in ((ScaleEvent, "scale events"), (RolloutEvent, "rollouts"), (NodeEvent, "node failures"))
        if kind in kinds
    ]
    if len(named) > 1:
        return f"{', '.join(named[:-1])} and {named[-1]}"
    return named[0] if named else "scale events"


def _event_field(sim: Simulation, i: int) -> tuple[str, str]:
    """The field of event ``i`` a limit problem names, and its value as the message shows it."""
    event = sim.events[i]
    path = f"spec.events[{i}]"
    if isinstance(event, ScaleEvent):
        return f"{path}.scale.replicas", str(event.replicas)
    if isinstance(event, RolloutEvent):
        return f"{path}.rollout.deployment", go(event.deployment)
    if isinstance(event, CrashEvent):
        if event.pod is not None:
            return f"{path}.crash.pod", go(event.pod)
        return f"{path}.crash.count", str(event.count)
    if event.node is not None:
        return f"{path}.{event.action}.node", go(event.node)
    return f"{path}.{event.action}.zone", go(event.zone or "")


# -- control plane -------------------------------------------------------------------------


def _endpoint_update_problems(sim: Simulation, services: Sequence[Service], pods: PodCount) -> list[LimitProblem]:
    """Pods the events and random failures take in or out of endpoints × (pods alive + nodes × Service ports)."""
    ports = sum(len(s.ports) for s in services)
    nodes = len(sim.cluster.nodes)
    work: dict[int | str, float] = {
        i: changed * (alive + nodes * ports) for i, (changed, alive) in pods.changes.items()
    }
    for name, changed in pods.failure_changes.items():
        work[name] = changed * (pods.peak + nodes * ports)
    total = sum(work.values())
    if total <= MAX_ENDPOINT_UPDATES:
        return []
    worst = max(work, key=lambda key: work[key])
    changed = sum(c for c, _ in pods.changes.values()) + sum(pods.failure_changes.values())
    if isinstance(worst, str):
        field = f"spec.workloads.{worst}.failures.meanTimeBetween"
        failures = sim.workloads[worst].failures
        value = format_duration(failures.mean_time_between_s if failures else 0.0)
        advice = "make failures rarer, the run shorter or use fewer nodes"
    else:
        field, value = _event_field(sim, worst)
        advice = "change fewer pods (fewer replicas) or use fewer nodes"
    return [
        LimitProblem(
            field,
            f"Invalid value: {value}: the events and failures change {changed:,.0f} pods, and each change "
            f"republishes the endpoints (up to {pods.peak:,} pods) and every node's rules ({nodes:,} nodes × {ports} "
            f"Service port(s)): {total:.3g} endpoint updates, more than the {MAX_ENDPOINT_UPDATES:,} svcsim allows "
            f"(svcsim's limit on pods changed × (pods alive + nodes × ports)): {advice}",
        )
    ]


def _health_check_problems(
    sim: Simulation, services: Sequence[Service], pods: PodCount, field: str
) -> list[LimitProblem]:
    """Load-balancer health checks × (nodes probed + endpoints read)."""
    balancers = sum(1 for s in services if s.type == ServiceType.LOAD_BALANCER)
    interval = sim.cluster.load_balancer.health_check_interval_s
    checks = sim.duration_s / interval * balancers
    nodes = len(sim.cluster.nodes)
    work = checks * (_CHECK_COST + nodes + pods.peak)
    if work <= MAX_HEALTH_CHECK_WORK:
        return []
    return [
        LimitProblem(
            "spec.cluster.loadBalancer.healthCheckInterval",
            f"Invalid value: {format_duration(interval)}: {balancers} load balancer(s) probing every "
            f"{format_duration(interval)} for {format_duration(sim.duration_s)} ({field}) make {checks:.3g} "
            f"health checks, each probing {nodes:,} node(s) and reading up to {pods.peak:,} endpoint(s): "
            f"{work:.3g} units of work, more than the {MAX_HEALTH_CHECK_WORK:,} svcsim allows (svcsim's limit): "
            "lengthen the interval",
        )
    ]
