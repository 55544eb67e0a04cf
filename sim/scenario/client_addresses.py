"""The source addresses of clients: each sends from ``ip`` to ``ip + ips - 1``.

Those addresses must exist (no IPv4 address past 255.255.255.255) and must not be someone
else's: not another node's IP, and not inside the pod network or the Service network, whose
addresses Kubernetes hands to pods and ClusterIPs (a reply to such a source would go to a pod
or a Service, not to the client). svcsim assumes this; Kubernetes has no client object to
check. Used by :mod:`sim.scenario.simulation_parser` (a range given by ``ip``) and
:mod:`sim.scenario.resolve` (every range, once node and client IPs are known).
"""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Iterable, Mapping

__all__ = ["LAST_IPV4", "AddressRanges", "client_range_problems", "overflow_problem"]

#: 255.255.255.255 as an integer: the last address a client range may reach.
LAST_IPV4 = 2**32 - 1


def overflow_problem(first: ipaddress.IPv4Address, ips: int) -> str | None:
    """The ``ips`` message if ``first`` .. ``first + ips - 1`` runs past 255.255.255.255, else None."""
    room = LAST_IPV4 - int(first) + 1
    if ips <= room:
        return None
    return f"Invalid value: {ips}: addresses from {first} would run past 255.255.255.255 (at most {room} fit)"


def client_range_problems(
    first: ipaddress.IPv4Address,
    ips: int,
    *,
    own_node: str | None,
    node_ips: Mapping[str, str],
    networks: Iterable[tuple[str, str, ipaddress.IPv4Network]],
) -> list[tuple[str, str]]:
    """``(field, message)`` for each way the range ``first`` .. ``first + ips - 1`` is not the client's.

    ``field`` is ``ip`` when the first address itself is wrong (an external client's ``ip``)
    and ``ips`` when only the further addresses are. A client on node ``own_node`` sends from
    that node's IP, which is not checked again. ``networks`` are ``(what, field, CIDR)`` such as
    ``("the pod network", "spec.cluster.podCIDR", IPv4Network("10.244.0.0/16"))``.
    """
    overflow = overflow_problem(first, ips)
    if overflow is not None:
        return [("ips", overflow)]
    start, last = int(first), int(first) + ips - 1
    span = f"addresses {first}-{ipaddress.IPv4Address(last)}"
    if own_node is not None:
        start += 1  # the node's own IP is the node's, rightly
    problems: list[tuple[str, str]] = []
    for node, ip in sorted(node_ips.items(), key=lambda item: int(ipaddress.IPv4Address(item[1]))):
        if node != own_node and start <= int(ipaddress.IPv4Address(ip)) <= last:
            if int(ipaddress.IPv4Address(ip)) == int(first):
                problems.append(("ip", f'Invalid value: "{first}": already the IP of a node'))
            else:
                problems.append(("ips", f'Invalid value: {ips}: {span} include {ip}, the IP of node "{node}"'))
            break  # one node is enough to make the point
    for what, field, network in networks:
        where = f"{what} {network} ({field})"
        low, high = max(start, int(network.network_address)), min(last, int(network.broadcast_address))
        if low > high:
            continue
        if low == int(first):
            problems.append(("ip", f'Invalid value: "{first}": inside {where}'))
        else:
            problems.append(("ips", f"Invalid value: {ips}: {span} reach into {where} at {ipaddress.IPv4Address(low)}"))
    return problems


class AddressRanges:
    """Disjoint, sorted ranges of taken IPv4 addresses, for allocating clients' address blocks."""

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []

    def add(self, first: int, last: int) -> None:
        """Take ``first`` .. ``last`` (inclusive), merging with the ranges it touches."""
        i = bisect.bisect_left(self._ends, first - 1)
        j = bisect.bisect_right(self._starts, last + 1)
        if i < j:
            first, last = min(first, self._starts[i]), max(last, self._ends[j - 1])
        self._starts[i:j] = [first]
        self._ends[i:j] = [last]

    def first_taken(self, first: int, last: int) -> int | None:
        """The lowest taken address in ``first`` .. ``last``, or None if all are free."""
        i = bisect.bisect_left(self._ends, first)
        if i < len(self._starts) and self._starts[i] <= last:
            return max(first, self._starts[i])
        return None

    def free_block(self, start: int, count: int, stop: int) -> int | None:
        """The lowest ``s`` in ``start`` .. ``stop`` with ``s`` .. ``s + count - 1`` all free (and real IPv4)."""
        while start <= stop and start + count - 1 <= LAST_IPV4:
            taken = self.first_taken(start, start + count - 1)
            if taken is None:
                return start
            i = bisect.bisect_left(self._ends, taken)
            start = self._ends[i] + 1
        return None
