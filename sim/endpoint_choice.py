"""How an endpoint is chosen for a new connection: kube-proxy's modes and IPVS schedulers, and
the cloud load balancer's algorithms.

Each strategy is one small class in a registry: it declares the names it answers to, whether
it keeps state between choices (then the request order matters and the event engine runs),
and whether it counts open connections; it answers ``choose(endpoints, conn)`` and, where it
vectorises, ``choose_many``. Validation (the accepted ``scheduler`` and ``algorithm`` values)
and the choice of engine are derived from these registries, so a new scheduler is one class
here. Each node owns its own instances, so state (round-robin positions, connection counts)
is per node and never shared, exactly as in IPVS (docs/semantics.md#kube-proxy-dataplane).

kube-proxy gives every IPVS real server weight 1 (pkg/proxy/ipvs/proxier.go), so the
weighted schedulers behave as their unweighted twins: wrr as rr, wlc as lc, and sed's
(C+1)/W as least connections. Connection counts are the connections this node sent that
are still open; svcsim does not model TIME_WAIT, so IPVS's "inactive" count is zero.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, NamedTuple, TypeVar

import numpy as np

from sim.randomness import BlockStream, uniform_index

__all__ = [
    "BALANCER_ALGORITHMS",
    "IPVS_SCHEDULERS",
    "ChoiceContext",
    "Connection",
    "ConnectionBatch",
    "DestinationHash",
    "EndpointChoice",
    "LeastConnection",
    "Maglev",
    "NeverQueue",
    "ProxyMode",
    "RoundRobin",
    "SourceHash",
    "Turns",
    "UniformRandom",
    "kube_proxy_choice",
    "register",
]


class ProxyMode(StrEnum):
    """kube-proxy's ``--proxy-mode``."""

    IPTABLES = "iptables"
    NFTABLES = "nftables"
    IPVS = "ipvs"


class Connection(NamedTuple):
    """What a strategy may look at: the source address and the virtual address dialled
    (a named tuple: one is made per new connection, so it must be cheap)."""

    source_ip: int
    destination_ip: int
    service_port: int


@dataclass(frozen=True)
class ConnectionBatch:
    """Many new connections at once, as columns (in the order they are chosen for)."""

    source_ip: np.ndarray
    destination_ip: np.ndarray
    service_port: np.ndarray

    def __len__(self) -> int:
        return len(self.source_ip)

    def __getitem__(self, i: int) -> Connection:
        return Connection(int(self.source_ip[i]), int(self.destination_ip[i]), int(self.service_port[i]))


@dataclass(frozen=True)
class ChoiceContext:
    """What the owner of a strategy lends it: its own uniform draws, and its live count of
    open connections per pod (for the schedulers that count them)."""

    draws: BlockStream
    open_connections: Callable[[int], int]


class EndpointChoice:
    """A strategy: ``choose(endpoints, conn)`` returns one of ``endpoints`` (pod indices in
    the order the rules list them, never empty)."""

    #: The configuration values that select this strategy (filled by :func:`register`).
    names: ClassVar[tuple[str, ...]] = ()
    #: Whether a choice depends on earlier choices (then requests must be taken one by one).
    keeps_state: ClassVar[bool] = False
    #: Whether the choice depends on live connection counts (then the owner keeps them).
    counts_connections: ClassVar[bool] = False

    def __init__(self, context: ChoiceContext) -> None:
        self.context = context

    def choose(self, endpoints: Sequence[int], conn: Connection) -> int:
        raise NotImplementedError

    def choose_many(self, endpoint_sets: Sequence[np.ndarray], which: np.ndarray, conns: ConnectionBatch) -> np.ndarray:
        """Choices for many connections in order: connection i picks from
        ``endpoint_sets[which[i]]``. The default asks :meth:`choose` for each, in order, so it
        is exactly the sequence of single choices; strategies that vectorise override it."""
        return np.array(
            [self.choose(endpoint_sets[w].tolist(), conns[i]) for i, w in enumerate(which.tolist())], dtype=np.int64
        )


Strategy = TypeVar("Strategy", bound=type[EndpointChoice])

#: IPVS schedulers kube-proxy accepts (pkg/proxy/ipvs); lblc and lblcr are not modelled.
IPVS_SCHEDULERS: dict[str, type[EndpointChoice]] = {}
#: The cloud load balancer's ``algorithm`` values.
BALANCER_ALGORITHMS: dict[str, type[EndpointChoice]] = {}


def register(registry: dict[str, type[EndpointChoice]], *names: str) -> Callable[[Strategy], Strategy]:
    """Class decorator: make a strategy selectable under ``names`` in ``registry``."""

    def add(cls: Strategy) -> Strategy:
        for name in names:
            assert name not in registry, f"{name} registered twice"
            registry[name] = cls
        cls.names = (*cls.names, *names)
        return cls

    return add


@register(BALANCER_ALGORITHMS, "random")
class UniformRandom(EndpointChoice):
    """iptables and nftables: each endpoint with probability exactly 1/n (also the cloud
    balancer's ``random``).

    iptables writes rule i of n with ``-m statistic --mode random --probability 1/(n-i)``
    and the last rule unconditional; the product of "not taken" before i and "taken" at
    i is 1/n for every i (:func:`sim.runtime.dataplane.iptables_cascade_choice` is the literal
    walk, and a test checks that the two agree). One uniform draw per connection is
    therefore exact; it is drawn only when there is an endpoint to choose.
    """

    def choose(self, endpoints: Sequence[int], conn: Connection) -> int:
        return endpoints[uniform_index(self.context.draws.one(), len(endpoints))]

    def choose_many(self, endpoint_sets: Sequence[np.ndarray], which: np.ndarray, conns: ConnectionBatch) -> np.ndarray:
        draws = self.context.draws.take(len(which))
        picks = np.empty(len(which), dtype=np.int64)
        for w, endpoints in enumerate(endpoint_sets):
            mask = which == w
            picks[mask] = endpoints[uniform_index(draws[mask], len(endpoints))]
        return picks


@register(BALANCER_ALGORITHMS, "round-robin")
class Turns(EndpointChoice):
    """The cloud balancer's ``round-robin``: one turn counter over whatever list it is given."""

    keeps_state = True

    def __init__(self, context: ChoiceContext) -> None:
        super().__init__(context)
        self._turn = 0

    def choose(self, endpoints: Sequence[int], conn: Connection) -> int:
        self._turn += 1
        return endpoints[(self._turn - 1) % len(endpoints)]


@register(IPVS_SCHEDULERS, "rr", "wrr")
class RoundRobin(EndpointChoice):
    """IPVS ``rr`` (and ``wrr`` with kube-proxy's equal weights): the next server in the list,
    one position per Service port, continuing after the last server chosen."""

    keeps_state = True

    def __init__(self, context: ChoiceContext) -> None:
        super().__init__(context)
        self._last: dict[int, int] = {}  # service port -> pod chosen last

    def choose(self, endpoints: Sequence[int], conn: Connection) -> int:
        last = self._last.get(conn.service_port)
        position = endpoints.index(last) + 1 if last in endpoints else 0
        pod = endpoints[position % len(endpoints)]
        self._last[conn.service_port] = pod
        return pod


@register(IPVS_SCHEDULERS, "lc", "wlc", "sed")
class LeastConnection(EndpointChoice):
    """IPVS ``lc`` (also ``wlc`` and ``sed`` at weight 1): fewest open connections from this
    node; ties go to the first in list order, as ip_vs_lc.c scans for a strictly smaller count."""

    keeps_state = True
    counts_connections = True

    def choose(self, endpoints: Sequence[int], conn: Connection) -> int:
        return min(endpoints, key=self.context.open_connections)


@register(IPVS_SCHEDULERS, "nq")
class NeverQueue(LeastConnection):
    """IPVS ``nq``: an idle server if there is one (the first in list order), else as ``sed``."""

    def choose(self, endpoints: Sequence[int], conn: Connection) -> int:
        for pod in endpoints:
            if self.context.open_connections(pod) == 0:
                return pod
        return super().choose(endpoints, conn)


def _hash_bucket(key: int | np.ndarray, bits: int = 8) -> int | np.ndarray:
    """IPVS's multiplicative hash (ip_vs_sh.c ``ip_vs_sh_hashkey``): Knuth's 2654435761."""
    return ((key * 2654435761) & 0xFFFFFFFF) >> (32 - bits)


@register(IPVS_SCHEDULERS, "sh")
class SourceHash(EndpointChoice):
    """IPVS ``sh``: a 256-bucket table filled with the servers in turn, indexed by a hash of
    the source address, so one client address always reaches the same pod while the list
    stays the same. Stateless: the same list and address give the same pod."""

    def choose(self, endpoints: Sequence[int], conn: Connection) -> int:
        return endpoints[int(_hash_bucket(self._key(conn))) % len(endpoints)]

    def choose_many(self, endpoint_sets: Sequence[np.ndarray], which: np.ndarray, conns: ConnectionBatch) -> np.ndarray:
        buckets = _hash_bucket(self._keys(conns).astype(np.int64))
        picks = np.empty(len(which), dtype=np.int64)
        for w, endpoints in enumerate(endpoint_sets):
            mask = which == w
            picks[mask] = endpoints[np.asarray(buckets)[mask] % len(endpoints)]
        return picks

    def _key(self, conn: Connection) -> int:
        return conn.source_ip

    def _keys(self, conns: ConnectionBatch) -> np.ndarray:
        return conns.source_ip


@register(IPVS_SCHEDULERS, "dh")
class DestinationHash(SourceHash):
    """IPVS ``dh``: the same table keyed by the destination address. Every connection to a
    Service dials the same virtual address, so all of them land on one pod."""

    def _key(self, conn: Connection) -> int:
        return conn.destination_ip

    def _keys(self, conns: ConnectionBatch) -> np.ndarray:
        return conns.destination_ip


@register(IPVS_SCHEDULERS, "mh")
class Maglev(EndpointChoice):
    """IPVS ``mh``: Maglev consistent hashing (Eisenbud et al., NSDI 2016).

    Each pod fills a lookup table of prime size in the order of its own permutation
    (offset and skip from two hashes of its identity); the source address hashes into
    the table. Removing one pod moves only the addresses that were on it.
    """

    # ip_vs_mh.c: the table size is primes[CONFIG_IP_VS_MH_TAB_INDEX - 8] of 251, 509, 1021,
    # 2039, 4093, ...; the Kconfig default index 12 gives 4093.
    TABLE_SIZE = 4093

    def __init__(self, context: ChoiceContext) -> None:
        super().__init__(context)
        self._tables: dict[tuple[int, ...], list[int]] = {}

    def choose(self, endpoints: Sequence[int], conn: Connection) -> int:
        key = tuple(endpoints)
        table = self._tables.get(key)
        if table is None:
            table = self._tables[key] = self._populate(key)
        return table[zlib.crc32(conn.source_ip.to_bytes(4, "big")) % self.TABLE_SIZE]

    def _populate(self, pods: tuple[int, ...]) -> list[int]:
        m = self.TABLE_SIZE
        offsets = [zlib.crc32(f"offset/{p}".encode()) % m for p in pods]
        skips = [zlib.crc32(f"skip/{p}".encode()) % (m - 1) + 1 for p in pods]
        nexts = [0] * len(pods)
        table = [-1] * m
        filled = 0
        while filled < m:
            for i, pod in enumerate(pods):
                slot = (offsets[i] + nexts[i] * skips[i]) % m
                while table[slot] >= 0:
                    nexts[i] += 1
                    slot = (offsets[i] + nexts[i] * skips[i]) % m
                table[slot] = pod
                nexts[i] += 1
                filled += 1
                if filled == m:
                    break
        return table


def kube_proxy_choice(mode: str, scheduler: str | None) -> type[EndpointChoice]:
    """The strategy one node's kube-proxy uses in ``mode`` (with its IPVS ``scheduler``)."""
    if mode == ProxyMode.IPVS:
        return IPVS_SCHEDULERS[scheduler or "rr"]
    return UniformRandom
