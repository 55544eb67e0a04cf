"""What the planner reads from and changes in a scenario: which Deployment is varied, where its
pods land, the clients' rates scaled, a node or zone failed at the window's start, the service-time floor
under a latency target and the nodes a scenario's pods need (docs/semantics.md#capacity-planning).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sim.results.capacity import client_deployments, client_rates
from sim.results.result import build_result
from sim.runtime.placement import ZONE_LABEL
from sim.runtime.run import run
from sim.scenario.changes import KINDS
from sim.scenario.resolved import Scenario, copy_data
from sim.scenario.slo_checks import client_service_times, mixture_quantile

__all__ = [
    "at_start",
    "busiest",
    "latency_floor_ms",
    "mean_offered_rps",
    "nodes_needed",
    "scaled_rates",
    "varied_deployment",
    "with_failure",
]

HOURS_PER_MONTH = 24 * 30


def varied_deployment(scenario: Scenario, vary: str) -> str | None:
    """The Deployment whose pods the varied field is about: ``deployment/NAME...`` or
    ``simulation.spec.workloads.NAME...``; otherwise the first the clients' Services select."""
    kind, slash, rest = vary.partition("/")
    names = [d.name for d in scenario.deployments]
    if slash and KINDS.get(kind.lower()) == "Deployment":
        fits = [n for n in names if rest.startswith(n + ".")]
        if fits:
            return max(fits, key=len)
    prefix = "simulation.spec.workloads."
    if vary.startswith(prefix):
        fits = [n for n in names if vary[len(prefix) :].startswith(n + ".")]
        if fits:
            return max(fits, key=len)
    served = client_deployments(scenario)
    return served[0] if served else None


def busiest(
    scenario: Scenario, deployment: str, seed: int
) -> tuple[str | None, tuple[str, int] | None, dict[str, int]]:
    """``(node, (zone, pods) or None, pods per node)`` for ``deployment``'s pods as the run with
    ``seed`` places them at t = 0: the node holding the most (ties: the first by name) and, when
    nodes carry ``topology.kubernetes.io/zone``, the zone holding the most. Nodes a client sits
    on or sends through (``location``, ``nodes``) are not chosen while another node holds pods:
    losing the client's own node is losing the client, not capacity. Only t = 0 is simulated
    (:func:`at_start`): milliseconds, whatever the scenario's duration."""
    result = build_result(run(at_start(scenario), seed))
    pods = result.pods
    first = pods[(pods["deployment"] == deployment) & (pods["created"] <= 0) & pods["node"].notna()]
    counts: dict[str, int] = {}
    for node in first["node"]:
        counts[str(node)] = counts.get(str(node), 0) + 1
    if not counts:
        return None, None, {}
    sim = scenario.simulation
    clients = {c.location for c in sim.clients} | {n for c in sim.clients for n in (c.nodes or ())}
    candidates = sorted(n for n in counts if n not in clients) or sorted(counts)
    node = max(candidates, key=lambda n: counts[n])
    labels = {n.name: n.labels for n in sim.cluster.nodes}
    zones: dict[str, int] = {}
    for name, count in counts.items():
        zone = labels.get(name, {}).get(ZONE_LABEL)
        if zone is not None:
            zones[zone] = zones.get(zone, 0) + count
    client_zones = {labels.get(n, {}).get(ZONE_LABEL) for n in clients}
    zone_candidates = sorted(z for z in zones if z not in client_zones) or sorted(zones)
    zone_most = None
    if len({n.labels.get(ZONE_LABEL) for n in sim.cluster.nodes} - {None}) >= 2 and zone_candidates:
        name = max(zone_candidates, key=lambda z: zones[z])
        zone_most = (name, zones[name])
    return node, zone_most, counts


def at_start(scenario: Scenario) -> Scenario:
    """The scenario cut just past t = 0, without warm-up or clients: the pods as the scheduler
    places them at the start. The placement draws from the scheduler's own random stream
    (sim/randomness.py: streams by component name), so it is the full run's with the same seed."""
    sim = dataclasses.replace(scenario.simulation, duration_s=2e-9, warmup_s=0.0, clients=())
    return dataclasses.replace(scenario, simulation=sim)


def with_failure(scenario: Scenario, *, node: str | None = None, zone: str | None = None) -> tuple[str, Any]:
    """The change that adds ``fail: {node: N}`` (or ``{zone: Z}``) at the start of the measurement
    window (t = warmup) to the Simulation's events."""
    events: list[Any] = []
    for _, _, content in scenario.documents:
        if content.get("kind") == "Simulation":
            events = list(copy_data((content.get("spec") or {}).get("events") or []))
    target = {"node": node} if node is not None else {"zone": zone}
    return "simulation.spec.events", [{"at": scenario.simulation.warmup_s, "fail": target}, *events]


def scaled_rates(scenario: Scenario, factor: float) -> list[tuple[str, Any]]:
    """Changes multiplying every client's rate profile by ``factor`` (its shape kept)."""
    return [
        (f"simulation.spec.clients[{i}].rate", _scaled(c.rate.to_spec(), factor))
        for i, c in enumerate(scenario.simulation.clients)
    ]


_RATE_KEYS = {"ramp": ("from", "to"), "spike": ("base", "peak"), "sine": ("mean", "amplitude")}


def _scaled(spec: Any, factor: float) -> Any:
    if isinstance(spec, int | float):
        return spec * factor
    spec = copy_data(spec)
    for kind, keys in _RATE_KEYS.items():
        if kind in spec:
            for key in keys:
                spec[kind][key] = spec[kind][key] * factor
            return spec
    if "steps" in spec:
        for step in spec["steps"]:
            step["rate"] = step["rate"] * factor
        return spec
    if "trace" in spec:
        lines = str(spec["trace"]).strip().splitlines()[1:]  # after "time,rate"
        points = [(float(t), float(r) * factor) for t, r in (line.split(",") for line in lines)]
        spec["trace"] = "time,rate\n" + "".join(f"{t!r},{r!r}\n" for t, r in points)
        return spec
    raise AssertionError(f"a rate profile the planner cannot scale: {spec!r}")


def mean_offered_rps(scenario: Scenario) -> float:
    """All clients' mean rate over the measurement window ``[warmup, duration]``, req/s."""
    import numpy as np  # noqa: PLC0415

    sim = scenario.simulation
    t = np.linspace(sim.warmup_s, sim.duration_s, 2001)
    total = sum(client_rates(c, t, sim.duration_s) for c in sim.clients)
    return float(np.mean(total)) if len(sim.clients) else 0.0


def latency_floor_ms(scenario: Scenario, metric: str) -> float | None:
    """What the service time alone gives ``metric`` (a latency statistic), in ms: a bound no
    value of the varied field can beat (sim/scenario/slo_checks.py); None for other metrics,
    for ``max``, or when a client timeout caps the latency measured."""
    stat = metric.removeprefix("latency_").removesuffix("_ms")
    if not metric.startswith("latency_") or stat == "max":
        return None
    sim = scenario.simulation
    if any(c.timeout_s is not None for c in sim.clients):
        return None
    parts = client_service_times(sim, scenario.services, scenario.deployments)
    if not parts:
        return None
    if stat == "mean":
        return sum(w * d.mean for _, w, d in parts) * 1e3
    return mixture_quantile(parts, int(stat[1:]) / 100) * 1e3


def nodes_needed(scenario: Scenario) -> tuple[int | None, bool, int]:
    """``(nodes or None, fits, pods)``: the fewest nodes the scenario's pods need by their requests
    (cpu, memory, pod count against allocatable; first fit, largest pods first, nodes in the
    scenario's order, then more nodes like the cluster's default), and whether they fit the
    cluster's nodes; None when a pod fits no node. Node selectors and the scheduler's spreading
    are not modelled: a lower bound."""
    pods: list[tuple[int, int]] = []
    for d in scenario.deployments:
        pods += [(d.cpu_request_m or 0, d.memory_request_b or 0)] * d.replicas
    pods.sort(reverse=True)
    cluster = scenario.simulation.cluster
    free = [[n.allocatable.cpu_m, n.allocatable.memory_b, n.allocatable.pods] for n in cluster.nodes]
    used = [False] * len(free)
    fits = True
    for cpu, memory in pods:
        for i, room in enumerate(free):
            if room[0] >= cpu and room[1] >= memory and room[2] >= 1:
                room[0], room[1], room[2] = room[0] - cpu, room[1] - memory, room[2] - 1
                used[i] = True
                break
        else:
            a = cluster.allocatable
            if a.cpu_m < cpu or a.memory_b < memory or a.pods < 1:
                return None, False, len(pods)
            fits = False
            free.append([a.cpu_m - cpu, a.memory_b - memory, a.pods - 1])
            used.append(True)
    return sum(used), fits, len(pods)
