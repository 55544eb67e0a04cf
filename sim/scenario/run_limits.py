"""svcsim's own limits, which keep one run within memory and time (Kubernetes has none of these).

Each limit says why it exists; messages that cite one say it is svcsim's. The Simulation
parser checks them field by field; :func:`duration_problems` and :func:`health_check_problems`
are checked again when the CLI's ``--duration`` changes a loaded scenario.
"""

from __future__ import annotations

from collections.abc import Sequence

from sim.kube.service import Service, ServiceType
from sim.scenario.simulation import Client, Simulation
from sim.units import format_duration

__all__ = [
    "MAX_CLIENT_IPS",
    "MAX_CONCURRENCY",
    "MAX_CONNECTIONS",
    "MAX_DURATION_S",
    "MAX_HEALTH_CHECKS",
    "MAX_NODES",
    "MAX_REQUESTS",
    "duration_problems",
    "health_check_problems",
]

#: Every request is a row kept in memory (~100 bytes each), so 10⁸ requests is ~10 GB.
MAX_REQUESTS = 100_000_000
#: The engine steps through simulated time at least every 5 s, health checks and all.
MAX_DURATION_S = 30 * 24 * 3600.0
MAX_NODES = 10_000
#: Workers per pod and keep-alive connections per client are each a slot in memory.
MAX_CONCURRENCY = 100_000
MAX_CONNECTIONS = 100_000
#: Source addresses per client: a /16 worth.
MAX_CLIENT_IPS = 65_536
#: Load-balancer health checks per run (each probes every node).
MAX_HEALTH_CHECKS = 10_000_000


def duration_problems(
    duration_s: float, clients: tuple[Client, ...], field: str = "spec.duration"
) -> list[tuple[str, str]]:
    """``(field, message)`` if the run would be too long or produce too many requests to keep.

    The expected request count is the sum of the clients' rates times the duration (calls
    between Services come on top); ``field`` names the duration as the user gave it.
    """
    if duration_s > MAX_DURATION_S:
        return [
            (
                field,
                f"Invalid value: {format_duration(duration_s)}: must be at most {format_duration(MAX_DURATION_S)} "
                "(30 days) of simulated time",
            )
        ]
    total_rate = sum(c.rate for c in clients)
    expected = total_rate * duration_s
    if expected <= MAX_REQUESTS:
        return []
    return [
        (
            "spec.clients",
            f"about {expected:.3g} requests expected (rates {total_rate:g}/s in all × {field} "
            f"{format_duration(duration_s)}), more than the {MAX_REQUESTS:,} svcsim can keep in memory "
            "(~100 bytes each): lower the rates or the duration",
        )
    ]


def health_check_problems(
    sim: Simulation, services: Sequence[Service], field: str = "spec.duration"
) -> list[tuple[str, str]]:
    """``(field, message)`` if the load balancers would probe more often than svcsim can afford."""
    balancers = sum(1 for s in services if s.type == ServiceType.LOAD_BALANCER)
    interval = sim.cluster.load_balancer.health_check_interval_s
    checks = sim.duration_s / interval * balancers
    if checks <= MAX_HEALTH_CHECKS:
        return []
    return [
        (
            "spec.cluster.loadBalancer.healthCheckInterval",
            f"Invalid value: {format_duration(interval)}: {balancers} load balancer(s) probing every "
            f"{format_duration(interval)} for {format_duration(sim.duration_s)} ({field}) make {checks:.3g} "
            f"health checks, more than the {MAX_HEALTH_CHECKS:,} svcsim allows: lengthen the interval",
        )
    ]
