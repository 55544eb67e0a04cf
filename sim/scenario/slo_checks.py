"""Latency targets no replica count can meet, found before the run.

A request's latency is at least the service time of the pod that serves it, so the clients'
latency quantile is at least the quantile of the service times they meet: a mixture of the
Deployments their Services select, weighted by the requests each receives
(docs/semantics.md#slos-and-warnings). If that quantile already exceeds the SLO's bound, no
number of pods helps; the warning says the number.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from sim.distributions import Distribution
from sim.kube.deployment import Deployment
from sim.kube.service import Service
from sim.scenario.simulation import Simulation

__all__ = ["client_service_times", "impossible_latency_targets", "mixture_quantile"]


def client_service_times(
    simulation: Simulation, services: Sequence[Service], deployments: Sequence[Deployment]
) -> list[tuple[str, float, Distribution]]:
    """``(deployment, share of the clients' requests, its service time)`` for each Deployment the
    clients' Services select; a Service selecting several splits its requests by replicas."""
    sim = simulation
    weight: dict[str, float] = {}
    by_name = {s.name: s for s in services}
    for client in sim.clients:
        svc = by_name.get(client.target.service)
        if svc is None:
            continue
        chosen = [d for d in deployments if d.name in sim.workloads and svc.selects(d.labels)]
        start = max(sim.warmup_s, client.start_s)
        stop = sim.duration_s if client.stop_s is None else min(sim.duration_s, client.stop_s)
        sent = client.rate.integral(start, stop) if stop > start else 0.0
        pods = sum(d.replicas for d in chosen)
        for d in chosen:
            weight[d.name] = weight.get(d.name, 0.0) + sent * (d.replicas / pods if pods else 1 / len(chosen))
    total = sum(weight.values())
    if total <= 0:
        return []
    return [(name, w / total, sim.workloads[name].service_time) for name, w in sorted(weight.items()) if w > 0]


def mixture_quantile(parts: Sequence[tuple[str, float, Distribution]], q: float) -> float:
    """The ``q`` quantile of the weighted mixture (bisection on its CDF)."""
    if len(parts) == 1:
        return parts[0][2].quantile(q)
    low, high = 0.0, max(d.quantile(q) for _, _, d in parts)
    if not math.isfinite(high):
        return high
    for _ in range(100):
        mid = (low + high) / 2
        if sum(w * d.cdf(mid) for _, w, d in parts) >= q:
            high = mid
        else:
            low = mid
    return high


def impossible_latency_targets(
    simulation: Simulation, services: Sequence[Service], deployments: Sequence[Deployment]
) -> list[str]:
    """One message per ``spec.slo.latency`` bound below what the service times alone allow."""
    slo = simulation.slo
    if slo is None or not slo.latency_s:
        return []
    if any(c.timeout_s is not None for c in simulation.clients):
        # Latency is measured over ok requests, and a client timeout T makes every ok one
        # faster than T: the service time's own quantile no longer bounds the measured one.
        return []
    parts = client_service_times(simulation, services, deployments)
    if not parts:
        return []
    served = ", ".join(f"{name} ({share:.0%})" for name, share, _ in parts) if len(parts) > 1 else parts[0][0]
    out = []
    for key, target in slo.latency_s.items():
        floor = sum(w * d.mean for _, w, d in parts) if key == "mean" else mixture_quantile(parts, int(key[1:]) / 100)
        if floor > target:
            out.append(
                f"spec.slo.latency.{key}: {_ms(target)} is below what the service time alone allows: the "
                f"service time of {served} has {key} {_ms(floor)}, so no replica count can meet it"
            )
    return out


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms" if math.isfinite(seconds) else "no finite value"
