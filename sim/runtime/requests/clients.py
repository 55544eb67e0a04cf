"""Clients at run time: who sends, how often, from which addresses, to which entry point."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sim.randomness import BlockStream, Streams
from sim.scenario.rate_profile import Constant
from sim.scenario.simulation import Arrival, Client

__all__ = ["ClientFlow", "arrival_stream"]


@dataclass(eq=False)
class ClientFlow:
    """One client's traffic at run time: its arrival stream and the draws it owns."""

    index: int
    via: str  # "nodePort" | "clusterIP" | "loadBalancer" | "podIP"
    port: int  # Service port index
    own_node: int | None  # the node an in-cluster client runs on
    entry_nodes: np.ndarray  # candidate entry nodes (via nodePort)
    arrivals: BlockStream  # increasing send times
    entry_draws: BlockStream
    link_out: BlockStream  # client → entry node, load balancer or pod node
    link_back: BlockStream
    connect_timeout_s: float
    first_ip: int  # source addresses: first_ip .. first_ip + ips - 1
    ips: int
    ip_draws: BlockStream

    @property
    def external(self) -> bool:
        """Traffic from outside (nodePort, load balancer) follows externalTrafficPolicy."""
        return self.via in ("nodePort", "loadBalancer")


def arrival_stream(streams: Streams, prefix: str, client: Client) -> BlockStream:
    """Send times as an increasing stream, built in fixed blocks so batching cannot change them.

    Arrivals follow the client's rate profile by time inversion: with Λ the profile's
    cumulative intensity, the k-th send is at Λ⁻¹(Λ(start) + y_k), where y_k is the sum of k
    unit-rate exponential draws (``poisson``: an exact non-homogeneous Poisson process) or
    k - 1 (``constant``: evenly spaced in Λ, one send per unit of expected requests). Nothing is
    sent at or after ``stop``: from there the stream is ``inf``, which no horizon reaches
    (docs/semantics.md#clients-and-outcomes).
    """
    rng = streams.generator(f"{prefix}/arrivals")
    profile = client.rate
    stop = math.inf if client.stop_s is None else client.stop_s
    if isinstance(profile, Constant) and client.start_s == 0:
        return BlockStream(rng, _constant_rate(profile.rate, client.arrival, stop))
    offset = float(profile.cumulative(np.array([client.start_s]))[0])
    state = {"y": 0.0, "count": 0, "last": client.start_s}

    def send_times(gen: np.random.Generator, n: int) -> np.ndarray:
        if client.arrival == Arrival.POISSON:
            y = state["y"] + np.cumsum(gen.exponential(1.0, n))
            state["y"] = float(y[-1])
        else:
            y = state["count"] + np.arange(n, dtype=float)
            state["count"] += n
        times = np.maximum(profile.inverse_cumulative(offset + y), client.start_s)
        times = np.maximum.accumulate(np.maximum(times, state["last"]))  # rounding must not reorder sends
        state["last"] = float(times[-1])
        times[times >= stop] = math.inf
        return times

    return BlockStream(rng, send_times)


def _constant_rate(rate: float, arrival: Arrival, stop: float) -> Callable[[np.random.Generator, int], np.ndarray]:
    """A constant rate from time 0, drawn as svcsim always has (exponential gaps of mean 1/rate,
    or k/rate), so the send times of such clients stay the same bit for bit."""
    mean_gap = 1.0 / rate
    state = {"last": 0.0, "count": 0}

    def poisson(gen: np.random.Generator, n: int) -> np.ndarray:
        times = state["last"] + np.cumsum(gen.exponential(mean_gap, n))
        state["last"] = float(times[-1])
        times[times >= stop] = math.inf
        return times

    def constant(gen: np.random.Generator, n: int) -> np.ndarray:
        start = state["count"]
        state["count"] += n
        times = (start + np.arange(n)) / rate
        times[times >= stop] = math.inf
        return times

    return poisson if arrival == Arrival.POISSON else constant
