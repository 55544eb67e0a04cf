"""Clients that retry: when a try's outcome is one the client retries, it tries again after a
backoff, on a new connection, until ``attempts`` tries are spent or the retry budget says no
(docs/semantics.md#clients-that-retry).

A client learns a try's outcome at the moment it ends (its answer arrives, its timeout runs
out, its connection is reset or refused), so retries run on the event engine: this module
keeps, per retrying client, what is in flight and decides; the engine schedules the events.
Retries draw from their own streams (``client/<name>/retry-*``, ``/backoff``), in the order
the event engine sends them, so they never shift the draws of first tries.
"""

from __future__ import annotations

import dataclasses
import heapq
from dataclasses import dataclass, field

from sim.distributions import Distribution
from sim.randomness import BlockStream, Streams
from sim.runtime.requests.clients import ClientFlow
from sim.runtime.requests.outcomes import OUTCOMES
from sim.scenario.simulation import Retries

__all__ = ["RetryingClient", "retrying_client"]


@dataclass(eq=False)
class RetryingClient:
    """One client's retry policy at run time and its requests in flight."""

    policy: Retries
    flow: ClientFlow  # the client's flow, drawing from its retry streams
    backoff_draws: BlockStream  # uniforms for the jitter
    retry_on: frozenset[int]  # outcome codes
    in_flight: int = 0  # tries sent and not yet ended
    retries_in_flight: int = 0  # retries scheduled or sent and not yet ended
    _upcoming: list[float] = field(default_factory=list)  # send times of tries not yet counted

    def sending(self, t_sent: float) -> None:
        """A try will leave at ``t_sent`` (the engine hands out sends ahead of time: they are
        counted in flight from then)."""
        heapq.heappush(self._upcoming, t_sent)

    def _count_sent(self, now: float) -> None:
        upcoming = self._upcoming
        while upcoming and upcoming[0] <= now:
            heapq.heappop(upcoming)
            self.in_flight += 1

    def ended(self, attempt: int, now: float) -> None:
        """A try ended (its outcome is known to the client)."""
        self._count_sent(now)
        self.in_flight -= 1
        if attempt > 1:
            self.retries_in_flight -= 1

    def retry_after(self, attempt: int, outcome: int) -> float | None:
        """The wait before the next try after try ``attempt`` ended ``outcome``, or None if
        the client does not retry: not an outcome it retries, no attempt left, or over budget
        (Envoy's retry budget: retries in flight below ``budget`` × tries in flight, and
        never fewer than ``minRetryConcurrency``)."""
        policy = self.policy
        if outcome not in self.retry_on or attempt >= policy.attempts:
            return None
        if policy.budget is not None:
            # + 1: the request being retried is still in flight for the client (Envoy counts
            # the downstream request as active while it retries).
            allowed = max(policy.min_retry_concurrency, policy.budget * (self.in_flight + 1))
            if self.retries_in_flight >= allowed:
                return None
        self.retries_in_flight += 1
        return policy.backoff.wait(attempt, self.backoff_draws.one())


def retrying_client(
    streams: Streams, name: str, flow: ClientFlow, link: Distribution, policy: Retries
) -> RetryingClient:
    """The run-time retry state of client ``name`` (``flow`` is its first tries' flow,
    ``link`` the law of its links to the cluster)."""
    prefix = f"client/{name}"
    retry_flow = dataclasses.replace(
        flow,
        entry_draws=streams.uniform(f"{prefix}/retry-entry"),
        link_out=streams.variates(f"{prefix}/retry-link-out", link),
        link_back=streams.variates(f"{prefix}/retry-link-back", link),
        ips=1,  # a retry comes from the host its request came from (the engine copies its address)
    )
    return RetryingClient(
        policy=policy,
        flow=retry_flow,
        backoff_draws=streams.uniform(f"{prefix}/backoff"),
        retry_on=frozenset(OUTCOMES.index(o) for o in policy.on),
    )
