"""Address and port allocation: node IPs, pod IPs, ClusterIPs and nodePorts.

Each allocator follows the Kubernetes component that owns the numbers:
- pod CIDRs: kube-controller-manager gives node i the i-th /24 of the cluster CIDR
  (``--node-cidr-mask-size`` 24); host-local IPAM hands out pod IPs from .2 upward.
- ClusterIPs: the first address of the Service CIDR is the ``kubernetes`` Service and the
  tenth is DNS; dynamic allocation prefers the upper band (KEP-3070,
  pkg/registry/core/service/ipallocator).
- nodePorts: the range splits into a static band of ``min(max(16, size/32), 128)`` ports
  and a dynamic band; auto-allocation takes a random free port from the dynamic band
  first (KEP-3668, pkg/registry/core/service/portallocator/allocator.go). A range of
  16 ports or fewer has no static band (``calculateRangeOffset`` returns 0).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "ClusterIPAllocator",
    "NodePortAllocator",
    "PodIPAllocator",
    "RangeFull",
    "node_pod_cidr",
    "range_offset",
]


class RangeFull(Exception):
    """An allocator has no free value left."""


def range_offset(size: int, step: int, lowest: int, highest: int) -> int:
    """Size of the static band: ``min(max(lowest, size/step), highest)``, 0 for ranges of ``lowest`` or less.

    Kubernetes' ``calculateRangeOffset`` (portallocator and ipallocator) keeps the offset
    below the range size, so a small range is all dynamic band.
    """
    if size <= lowest:
        return 0
    return min(max(lowest, size // step), highest)


def node_pod_cidr(pod_cidr: ipaddress.IPv4Network, index: int) -> ipaddress.IPv4Network:
    """The /24 that node number ``index`` (0-based) gets from the cluster's pod CIDR."""
    prefix = max(24, pod_cidr.prefixlen)
    if not 0 <= index < 2 ** (prefix - pod_cidr.prefixlen):
        raise RangeFull(f"pod CIDR {pod_cidr} has no /{prefix} left for node {index + 1}")
    # The index-th subnet in address order, computed directly: walking subnets() from the
    # start made a 10 000-node cluster quadratic.
    first = int(pod_cidr.network_address) + (index << (32 - prefix))
    return ipaddress.IPv4Network((first, prefix))


def _dotted(address: int) -> str:
    """An IPv4 address as text (``str(IPv4Address(address))``, without building the object).

    >>> _dotted(167772418)
    '10.0.1.2'
    """
    return f"{address >> 24}.{(address >> 16) & 255}.{(address >> 8) & 255}.{address & 255}"


@dataclass
class PodIPAllocator:
    """host-local IPAM on one node: next free address from .2 upward, wrapping around.

    Like host-local it does not reuse a released address until the range wraps, so a
    replacement pod shows a new IP as it does on a real node.
    """

    subnet: ipaddress.IPv4Network
    _next: int = 2
    _used: set[int] = field(default_factory=set)

    def allocate(self) -> str:
        size = self.subnet.num_addresses
        for _ in range(size):
            offset = self._next
            self._next = self._next + 1 if self._next + 1 < size - 1 else 2
            if offset not in self._used:
                self._used.add(offset)
                return _dotted(int(self.subnet.network_address) + offset)
        raise RangeFull(f"no free pod IP left in {self.subnet}")

    def release(self, ip: str) -> None:
        self._used.discard(int(ipaddress.ip_address(ip)) - int(self.subnet.network_address))


class ClusterIPAllocator:
    """ClusterIPs from the Service CIDR, reserving ``.1`` (kubernetes) and ``.10`` (DNS)."""

    def __init__(self, cidr: ipaddress.IPv4Network, rng: np.random.Generator) -> None:
        self.cidr = cidr
        self._rng = rng
        size = cidr.num_addresses
        self._static = range_offset(size, 16, 16, 256)
        base = cidr.network_address
        self._used = {str(base), str(base + 1), str(base + 10), str(cidr.broadcast_address)}

    def reserve(self, ip: str) -> str | None:
        """Claim a user-given ClusterIP; return an error detail, or None if it is free."""
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return f'Invalid value: "{ip}": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'
        if addr not in self.cidr:
            return (
                f'Invalid value: "{ip}": provided IP is not in the valid range. The range of valid IPs is {self.cidr}'
            )
        if str(addr) in self._used:
            return f'Invalid value: "{ip}": provided IP is already allocated'
        self._used.add(str(addr))
        return None

    def allocate(self) -> str:
        size = self.cidr.num_addresses
        split = max(self._static, 1)  # offset 0 is the network address, never handed out
        for low, high in ((split, size - 1), (1, split)):
            if low >= high:
                continue
            for _ in range(64):
                offset = int(self._rng.integers(low, high))
                ip = str(self.cidr.network_address + offset)
                if ip not in self._used:
                    self._used.add(ip)
                    return ip
            for offset in range(low, high):
                ip = str(self.cidr.network_address + offset)
                if ip not in self._used:
                    self._used.add(ip)
                    return ip
        raise RangeFull("failed to allocate a serviceIP: range is full")


class NodePortAllocator:
    """Cluster-wide unique nodePorts from ``--service-node-port-range``."""

    def __init__(self, low: int, high: int, rng: np.random.Generator) -> None:
        self.low, self.high = low, high
        self._rng = rng
        size = high - low + 1
        self.static_end = low + range_offset(size, 32, 16, 128)  # first port of the dynamic band
        self._used: set[int] = set()

    def reserve(self, port: int) -> str | None:
        """Claim a user-given nodePort; return the API server's error detail, or None."""
        if not self.low <= port <= self.high:
            return (
                f"Invalid value: {port}: provided port is not in the valid range. "
                f"The range of valid ports is {self.low}-{self.high}"
            )
        if port in self._used:
            return f"Invalid value: {port}: provided port is already allocated"
        self._used.add(port)
        return None

    def allocate(self) -> int:
        for low, high in ((self.static_end, self.high + 1), (self.low, self.static_end)):
            free = [p for p in range(low, high) if p not in self._used]
            if free:
                port = free[int(self._rng.integers(len(free)))]
                self._used.add(port)
                return port
        raise RangeFull("failed to allocate a nodePort: range is full")
