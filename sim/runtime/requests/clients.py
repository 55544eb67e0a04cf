"""Clients at run time: who sends, how often, from which addresses, to which entry point."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.randomness import BlockStream, Streams
from sim.scenario.simulation import Client

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
    """Send times as an increasing stream, built in fixed blocks so batching cannot change them."""
    rng = streams.generator(f"{prefix}/arrivals")
    rate = client.rate.peak(0.0, 0.0)  # constant for now
    mean_gap = 1.0 / rate
    state = {"last": 0.0, "count": 0}

    def poisson(gen: np.random.Generator, n: int) -> np.ndarray:
        times = state["last"] + np.cumsum(gen.exponential(mean_gap, n))
        state["last"] = float(times[-1])
        return times

    def constant(gen: np.random.Generator, n: int) -> np.ndarray:
        start = state["count"]
        state["count"] += n
        return (start + np.arange(n)) / rate

    return BlockStream(rng, poisson if client.arrival == "poisson" else constant)
