"""How one node's kube-proxy picks an endpoint for a new connection.

One small class per strategy, each with one method, ``choose(endpoints, conn)``; each
node owns its own instances, so state (round-robin positions, connection counts) is per
node and never shared, exactly as in IPVS (../shared/KUBERNETES.md, "kube-proxy
dataplane"). ``endpoints`` is a sequence of pod indices in the order the rules list
them; ``conn`` says who is asking.

kube-proxy gives every IPVS real server weight 1 (pkg/proxy/ipvs/proxier.go), so the
weighted schedulers behave as their unweighted twins: wrr as rr, wlc as lc, and sed's
(C+1)/W as least connections. Connection counts are the connections this node sent that
are still open; svcsim does not model TIME_WAIT, so IPVS's "inactive" count is zero.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sim.randomness import BlockStream

__all__ = [
    "Connection",
    "DestinationHash",
    "LeastConnection",
    "Maglev",
    "NeverQueue",
    "RoundRobin",
    "Scheduler",
    "SourceHash",
    "UniformRandom",
    "make_scheduler",
]


@dataclass(frozen=True)
class Connection:
    """What a scheduler may look at: the source address and the virtual address dialled."""

    source_ip: int
    destination_ip: int
    service_port: int


class Scheduler:
    """Interface: ``choose(endpoints, conn)`` returns one of ``endpoints``."""

    #: Whether the choice depends on live connection counts (then the engine keeps them).
    counts_connections = False

    def choose(self, endpoints: Sequence[int], conn: Connection) -> int:
        raise NotImplementedError


class UniformRandom(Scheduler):
    """iptables and nftables: each endpoint with probability exactly 1/n.

    iptables writes rule i of n with ``-m statistic --mode random --probability 1/(n-i)``
    and the last rule unconditional; the product of "not taken" before i and "taken" at
    i is 1/n for every i (:func:`sim.runtime.dataplane.iptables_cascade_choice` is the literal
    walk, and a test checks that the two agree). One uniform draw per connection is
    therefore exact.
    """

    def __init__(self, draws: BlockStream) -> None:
        self.draws = draws

    def choose(self, endpoints: Sequence[int], conn: Connection) -> int:
        return endpoints[min(int(self.draws.one() * len(endpoints)), len(endpoints) - 1)]


class RoundRobin(Scheduler):
    """IPVS ``rr`` (and ``wrr`` with kube-proxy's equal weights): the next server in the list,
    one position per Service port, continuing after the last server chosen."""

    def __init__(self) -> None:
        self._last: dict[int, int] = {}  # service port -> pod chosen last

    def choose(self, endpoints: Sequence[int], conn: Connection) -> int:
        last = self._last.get(conn.service_port)
        position = endpoints.index(last) + 1 if last in endpoints else 0
        pod = endpoints[position % len(endpoints)]
        self._last[conn.service_port] = pod
        return pod


class LeastConnection(Scheduler):
    """IPVS ``lc`` (also ``wlc`` and ``sed`` at weight 1): fewest open connections from this
    node; ties go to the first in list order, as ip_vs_lc.c scans for a strictly smaller count."""

    counts_connections = True

    def __init__(self, open_connections: Callable[[int], int]) -> None:
        self.open = open_connections  # pod -> connections this node has open to it

    def choose(self, endpoints: Sequence[int], conn: Connection) -> int:
        return min(endpoints, key=self.open)


class NeverQueue(LeastConnection):
    """IPVS ``nq``: an idle server if there is one (the first in list order), else as ``sed``."""

    def choose(self, endpoints: Sequence[int], conn: Connection) -> int:
        for pod in endpoints:
            if self.open(pod) == 0:
                return pod
        return super().choose(endpoints, conn)


def _hash_bucket(key: int, bits: int = 8) -> int:
    """IPVS's multiplicative hash (ip_vs_sh.c ``ip_vs_sh_hashkey``): Knuth's 2654435761."""
    return ((key * 2654435761) & 0xFFFFFFFF) >> (32 - bits)


class SourceHash(Scheduler):
    """IPVS ``sh``: a 256-bucket table filled with the servers in turn, indexed by a hash of
    the source address, so one client address always reaches the same pod while the list
    stays the same."""

    def choose(self, endpoints: Sequence[int], conn: Connection) -> int:
        return endpoints[_hash_bucket(self._key(conn)) % len(endpoints)]

    def _key(self, conn: Connection) -> int:
        return conn.source_ip


class DestinationHash(SourceHash):
    """IPVS ``dh``: the same table keyed by the destination address. Every connection to a
    Service dials the same virtual address, so all of them land on one pod."""

    def _key(self, conn: Connection) -> int:
        return conn.destination_ip


class Maglev(Scheduler):
    """IPVS ``mh``: Maglev consistent hashing (Eisenbud et al., NSDI 2016).

    Each pod fills a lookup table of prime size in the order of its own permutation
    (offset and skip from two hashes of its identity); the source address hashes into
    the table. Removing one pod moves only the addresses that were on it.
    """

    # ip_vs_mh.c: the table size is primes[CONFIG_IP_VS_MH_TAB_INDEX - 8] of 251, 509, 1021,
    # 2039, 4093, ...; the Kconfig default index 12 gives 4093.
    TABLE_SIZE = 4093

    def __init__(self) -> None:
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


def make_scheduler(
    mode: str, scheduler: str | None, draws: BlockStream, open_connections: Callable[[int], int]
) -> Scheduler:
    """The strategy one node's kube-proxy uses for a mode (and IPVS scheduler)."""
    if mode in ("iptables", "nftables"):
        return UniformRandom(draws)
    table: dict[str, Callable[[], Scheduler]] = {
        "rr": RoundRobin,
        "wrr": RoundRobin,
        "lc": lambda: LeastConnection(open_connections),
        "wlc": lambda: LeastConnection(open_connections),
        "sed": lambda: LeastConnection(open_connections),
        "nq": lambda: NeverQueue(open_connections),
        "sh": SourceHash,
        "dh": DestinationHash,
        "mh": Maglev,
    }
    return table[scheduler or "rr"]()
