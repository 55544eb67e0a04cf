"""Which engine runs a scenario: the batch engine when nothing stateful is in play.

The batch engine is exact only when a request's fate cannot depend on requests before it
beyond its pod's FIFO queue. Each feature that breaks that is one entry below, with the
reason; the endpoint-choice strategy says for itself whether it keeps state
(:mod:`sim.endpoint_choice`). A new feature that needs the event engine is one more entry.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from sim.endpoint_choice import kube_proxy_choice
from sim.scenario.resolved import Scenario

__all__ = ["EVENT_FEATURES", "Engine", "choose_engine", "event_features"]


class Engine(StrEnum):
    BATCH = "batch"
    EVENTS = "events"


def _targeted(scenario: Scenario) -> set[str]:
    return {c.target.service for c in scenario.simulation.clients}


#: Features that need the event engine: name -> whether the scenario uses it.
EVENT_FEATURES: dict[str, Callable[[Scenario], bool]] = {
    "an endpoint choice that keeps state (IPVS rr, lc, nq, ...)": lambda s: (
        kube_proxy_choice(s.simulation.kube_proxy.mode, s.simulation.kube_proxy.scheduler).keeps_state
    ),
    "keep-alive connections": lambda s: any(c.connections.keepalive for c in s.simulation.clients),
    "a client via loadBalancer": lambda s: any(c.target.via == "loadBalancer" for c in s.simulation.clients),
    "sessionAffinity ClientIP on a targeted Service": lambda s: any(
        svc.session_affinity == "ClientIP" for svc in s.services if svc.name in _targeted(s)
    ),
    "calls between Services": lambda s: any(w.calls for w in s.simulation.workloads.values()),
    "client retries": lambda s: any(c.retries is not None for c in s.simulation.clients),
}


def event_features(scenario: Scenario) -> list[str]:
    """The features in ``scenario`` that need the event engine."""
    return [name for name, used in EVENT_FEATURES.items() if used(scenario)]


def choose_engine(scenario: Scenario, forced: str | None) -> Engine:
    """The engine to run: ``forced`` if given (the batch engine only where it is exact),
    else the batch engine unless a feature needs events."""
    if forced is not None and forced not in tuple(Engine):
        raise ValueError(f'engine must be "batch" or "events", not {forced!r}')
    needs = event_features(scenario)
    if forced == Engine.BATCH and needs:
        raise ValueError(f"this scenario needs the event engine ({', '.join(needs)})")
    if forced is not None:
        return Engine(forced)
    return Engine.EVENTS if needs else Engine.BATCH
