"""kube-proxy's dataplane on one node: the endpoints it has installed and how it picks one.

Each node's kube-proxy keeps its own copy of every Service's endpoints, updated when
it syncs (../shared/KUBERNETES.md, "Endpoint lifecycle and propagation"), and its own
choice state. A choice is made once per new connection, on the node where the
connection enters (pkg/proxy/iptables/proxier.go).

Strategies are small classes with one method, ``choose(endpoints, draws)``; adding a
mode or an IPVS scheduler means adding a class here.
"""

from __future__ import annotations

import numpy as np

from sim.randomness import BlockStream

__all__ = ["Dataplane", "UniformRandom", "iptables_cascade_choice", "strategy_for"]


class UniformRandom:
    """iptables and nftables modes: every endpoint with probability exactly 1/n.

    iptables writes rule i of n with ``-m statistic --mode random --probability
    1/(n-i)`` and the last rule unconditional; the product of "not taken" before i and
    "taken" at i is 1/n for every i (see :func:`iptables_cascade_choice`, and the test
    that checks the two agree). One uniform draw per connection is therefore exact.
    """

    def choose(self, endpoints: np.ndarray, draws: np.ndarray) -> np.ndarray:
        """Pod indices for a batch of new connections; ``draws`` are uniform on [0, 1)."""
        picks = (draws * len(endpoints)).astype(np.int64)
        np.minimum(picks, len(endpoints) - 1, out=picks)
        return endpoints[picks]


def iptables_cascade_choice(n: int, rng: np.random.Generator) -> int:
    """The literal iptables walk: rule i matches with probability 1/(n-i), in order.

    Reference implementation for tests; the engine uses the equivalent single draw.
    """
    for i in range(n - 1):
        if rng.random() < 1.0 / (n - i):
            return i
    return n - 1


def strategy_for(mode: str) -> UniformRandom:
    """The endpoint-choice strategy for a kube-proxy mode."""
    if mode in ("iptables", "nftables"):
        return UniformRandom()
    raise ValueError(f"kube-proxy mode {mode!r} is not modelled")


class Dataplane:
    """One node's installed Service rules: endpoints per Service, as last synced."""

    def __init__(self, node: int, n_services: int, strategy: UniformRandom, draws: BlockStream) -> None:
        self.node = node
        self.strategy = strategy
        self.draws = draws
        self.endpoints: list[np.ndarray] = [np.empty(0, dtype=np.int64) for _ in range(n_services)]

    def install(self, service: int, pods: np.ndarray) -> None:
        """kube-proxy sync: replace the Service's endpoints (pod indices)."""
        self.endpoints[service] = pods

    def choose(self, services: np.ndarray) -> np.ndarray:
        """Pick a pod for each new connection (in entry order); -1 where none exists."""
        draws = self.draws.take(len(services))
        picks = np.full(len(services), -1, dtype=np.int64)
        for svc in np.unique(services).tolist():
            endpoints = self.endpoints[svc]
            if len(endpoints):
                mask = services == svc
                picks[mask] = self.strategy.choose(endpoints, draws[mask])
        return picks
