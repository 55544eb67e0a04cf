"""Node failure timing (temporary: replaced by node_lifecycle)."""

from __future__ import annotations

import math

LEASE_RENEW_S = 10.0
MONITOR_PERIOD_S = 5.0


def unknown_at(fail_s: float, grace_s: float) -> float:
    last = math.floor(fail_s / LEASE_RENEW_S + 1e-9) * LEASE_RENEW_S
    due = last + grace_s
    return (math.floor(due / MONITOR_PERIOD_S + 1e-9) + 1) * MONITOR_PERIOD_S


def ready_again_at(recover_s: float) -> float:
    return math.ceil(recover_s / MONITOR_PERIOD_S - 1e-9) * MONITOR_PERIOD_S


class EvictionLimiter:
    def __init__(self, zones: list[str | None]) -> None:
        self._zones = zones
        self._next: dict[str | None, float] = {}

    def taint_at(self, node: int, now: float, unknown: list[bool]) -> float | None:
        zone = self._zones[node]
        members = [i for i, z in enumerate(self._zones) if z == zone]
        if all(unknown):
            return None
        bad = sum(1 for i in members if unknown[i])
        if 0.55 * len(members) < bad < len(members) and len(self._zones) <= 50 and bad > 2:
            return None
        at = max(now, self._next.get(zone, -math.inf))
        self._next[zone] = at + 10.0
        return at
