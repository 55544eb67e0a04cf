"""Node failure timing and the rate-limited NoExecute taints, pinned to numbers derived by hand
from pkg/controller/nodelifecycle (lease every 10 s, monitor tick every 5 s, grace 50 s, one
taint per zone every 10 s, burst 1). Deterministic: exact times."""

from __future__ import annotations

import pytest

from sim.runtime.node_lifecycle import (
    EvictionRates,
    NodeOutage,
    eviction_at,
    plan_taints,
    ready_again_at,
    unknown_at,
    unknown_interval,
    zone_state,
)


@pytest.mark.parametrize(
    ("fail_s", "grace_s", "expected"),
    [
        (120.0, 50.0, 175.0),  # renewal 120, 170 is a tick but not strictly after: 175 (KUBERNETES.md's ≈ +55 s)
        (125.0, 50.0, 175.0),  # the last renewal is still 120
        (129.999, 50.0, 175.0),
        (130.0, 50.0, 185.0),  # a renewal at the failure instant counts
        (120.0, 40.0, 165.0),  # the grace period of 1.31 and earlier
        (3.0, 50.0, 55.0),
        (123.0, 47.0, 170.0),  # 120 + 47 = 167 ⇒ the first tick after it is 170
    ],
)
def test_unknown_at(fail_s, grace_s, expected):
    assert unknown_at(fail_s, grace_s) == expected


def test_ready_again_at_the_first_tick_at_or_after_recovery():
    assert [ready_again_at(t) for t in (150.0, 150.5, 154.999, 155.0, 0.0)] == [150.0, 155.0, 155.0, 155.0, 0.0]


def test_a_short_outage_goes_unnoticed():
    """Failing at 120 (renewal 120): back at 170, or at 171 (seen at the 175 tick itself),
    the node is Ready before the controller would mark it Unknown."""
    assert unknown_interval(NodeOutage("n1", 120.0, 170.0)) is None
    assert unknown_interval(NodeOutage("n1", 120.0, 171.0)) is None
    assert unknown_interval(NodeOutage("n1", 120.0, 176.0)) == (175.0, 180.0)
    assert unknown_interval(NodeOutage("n1", 120.0)) == (175.0, None)


@pytest.mark.parametrize(
    ("not_ready", "nodes", "state"),
    [
        (1, 1, "FullDisruption"),
        (2, 3, "Normal"),  # 67 % but only 2 nodes: "> 2" is required
        (3, 5, "PartialDisruption"),  # 60 % ≥ 55 %
        (11, 20, "PartialDisruption"),  # exactly 55 % counts (≥)
        (10, 20, "Normal"),
        (0, 4, "Normal"),
    ],
)
def test_zone_state(not_ready, nodes, state):
    assert zone_state(not_ready, nodes) == state


def _zone(prefix: str, n: int, zone: str | None = None) -> dict[str, str | None]:
    return {f"{prefix}{i:02d}": zone for i in range(n)}


def test_one_dead_node_is_tainted_one_tick_after_unknown_and_evicted_300_s_later():
    """Fail at 120: Unknown at 175 (pods NotReady); the pass at 180 reads Unknown and queues the
    node; the bucket is full, so the taint lands at 180; pods are deleted at 480."""
    taints = plan_taints(_zone("n", 3), [NodeOutage("n00", 120.0)], until_s=3600.0)
    assert taints == {"n00": [(180.0, None)], "n01": [], "n02": []}
    assert eviction_at(taints["n00"]) == 480.0


def test_recovery_removes_the_taint_and_cancels_the_eviction():
    taints = plan_taints(_zone("n", 3), [NodeOutage("n00", 120.0, 301.0)], until_s=3600.0)
    assert taints["n00"] == [(180.0, 305.0)]
    assert eviction_at(taints["n00"]) is None
    assert eviction_at([(180.0, 480.0)]) is None  # removed at the very instant: cancelled
    assert eviction_at([(180.0, 480.5)]) == 480.0


def test_normal_rate_one_node_every_ten_seconds_in_name_order():
    """5 of 20 nodes (25 %) fail at 120: the zone stays Normal; one taint per 10 s from 180."""
    outages = [NodeOutage(f"n{i:02d}", 120.0) for i in (7, 3, 12, 0, 5)]
    taints = plan_taints(_zone("n", 20), outages, until_s=3600.0)
    assert {n: t for n, t in taints.items() if t} == {
        "n00": [(180.0, None)],
        "n03": [(190.0, None)],
        "n05": [(200.0, None)],
        "n07": [(210.0, None)],
        "n12": [(220.0, None)],
    }


def test_each_zone_has_its_own_limiter():
    """One failure in each of two zones at the same time: both tainted at 180."""
    zones = _zone("a", 3, "z1") | _zone("b", 3, "z2")
    taints = plan_taints(zones, [NodeOutage("a00", 120.0), NodeOutage("b00", 120.0)], until_s=600.0)
    assert taints["a00"] == [(180.0, None)] and taints["b00"] == [(180.0, None)]


def test_partial_disruption_of_a_small_zone_stops_tainting():
    """A 10-node zone loses a node every 10 s from 120 (Unknown at 175, 185, …, 225). Taints at
    180, 190, 200, 210, 220 while at most 5/10 are down; at 225 the sixth makes 60 % ≥ 55 % with
    more than 2: PartialDisruption, and with ≤ 50 nodes ReducedQPSFunc gives 0: no more taints."""
    outages = [NodeOutage(f"n{i:02d}", 120.0 + 10 * i) for i in range(6)]
    taints = plan_taints(_zone("n", 10), outages, until_s=3600.0)
    assert [taints[f"n{i:02d}"] for i in range(6)] == [[(180.0 + 10 * i, None)] for i in range(5)] + [[]]


def test_partial_disruption_of_a_large_zone_slows_to_the_secondary_rate():
    """40 of 60 nodes fail at 120: PartialDisruption at 175 in a zone of more than 50 nodes ⇒
    0.01 taints/s. The old bucket still had its token, so the new one starts full: 180, 280, …,
    580, and the sixth (680) falls after ``until_s``."""
    outages = [NodeOutage(f"n{i:02d}", 120.0) for i in range(40)]
    taints = plan_taints(_zone("n", 60), outages, until_s=600.0)
    assert [taints[f"n{i:02d}"] for i in range(6)] == [[(180.0 + 100 * i, None)] for i in range(5)] + [[]]


def test_a_fully_disrupted_zone_keeps_the_normal_rate_while_another_zone_is_up():
    zones = _zone("a", 2, "z1") | _zone("b", 2, "z2")
    taints = plan_taints(zones, [NodeOutage("a00", 120.0), NodeOutage("a01", 120.0)], until_s=600.0)
    assert taints["a00"] == [(180.0, None)] and taints["a01"] == [(190.0, None)]


def test_every_zone_down_removes_the_taints_and_evicts_nothing():
    """Zone z1 dies at 120 (taints at 180 and 190); zone z2 dies at 300 (Unknown at 355): every
    zone is fully disrupted, the controller enters "master disruption mode", removes every taint
    and stops evictions. Nothing is ever evicted."""
    zones = _zone("a", 2, "z1") | _zone("b", 2, "z2")
    outages = [NodeOutage(n, 120.0) for n in ("a00", "a01")] + [NodeOutage(n, 300.0) for n in ("b00", "b01")]
    taints = plan_taints(zones, outages, until_s=3600.0)
    assert taints == {"a00": [(180.0, 355.0)], "a01": [(190.0, 355.0)], "b00": [], "b01": []}
    assert all(eviction_at(t) is None for t in taints.values())


def test_leaving_master_disruption_mode_starts_with_a_drained_bucket():
    """All 3 nodes of a one-zone cluster fail at 120: no taints. n02 is back at 400: the zone
    (2/3 down, only 2) is Normal again and its limiter swaps from "never" to 0.1/s, drained
    because the never limiter had no token: the first taint at 410, the next at 420."""
    outages = [NodeOutage("n00", 120.0), NodeOutage("n01", 120.0), NodeOutage("n02", 120.0, 400.0)]
    taints = plan_taints(_zone("n", 3), outages, until_s=3600.0)
    assert taints == {"n00": [(410.0, None)], "n01": [(420.0, None)], "n02": []}


def test_until_bounds_the_plan():
    taints = plan_taints(_zone("n", 20), [NodeOutage(f"n{i:02d}", 120.0) for i in range(3)], until_s=190.0)
    assert [taints[f"n{i:02d}"] for i in range(3)] == [[(180.0, None)], [(190.0, None)], []]


def test_rates_are_parameters():
    """A faster --node-eviction-rate (1/s) taints a node per second."""
    outages = [NodeOutage(f"n{i:02d}", 120.0) for i in range(3)]
    taints = plan_taints(_zone("n", 20), outages, until_s=600.0, rates=EvictionRates(normal_qps=1.0))
    assert [taints[f"n{i:02d}"] for i in range(3)] == [[(180.0, None)], [(181.0, None)], [(182.0, None)]]


def test_a_rate_of_one_never_leaves_the_stop():
    """An upstream quirk kept: the never limiter reports 1 qps, so with --node-eviction-rate 1
    SwapLimiter(1) after a cluster-wide outage is a no-op and tainting stays stopped."""
    outages = [NodeOutage("n00", 120.0), NodeOutage("n01", 120.0), NodeOutage("n02", 120.0, 400.0)]
    stopped = plan_taints(_zone("n", 3), outages, until_s=3600.0, rates=EvictionRates(normal_qps=1.0))
    assert stopped == {"n00": [], "n01": [], "n02": []}
    resumed = plan_taints(_zone("n", 3), outages, until_s=3600.0, rates=EvictionRates(normal_qps=0.5))
    assert resumed == {"n00": [(402.0, None)], "n01": [(404.0, None)], "n02": []}
