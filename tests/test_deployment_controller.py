"""The Deployment controller's arithmetic, driven by a tiny world and compared with sequences
derived by hand from pkg/controller/deployment (rolling.go, recreate.go, util/deployment_util.go).

The world: every created pod becomes available ``ready_s`` after its creation; a deleted pod
disappears at once (or lingers ``terminate_s`` as terminating), the not-yet-available pods of a
ReplicaSet going first, as the ReplicaSet controller deletes unready pods first. The controller
is synced until it has nothing to do, then time jumps to the next pod becoming available or
going away. No randomness anywhere: the logs are exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pytest

from sim.kube.deployment import Strategy
from sim.runtime import deployment_controller as dc
from sim.runtime.deployment_controller import (
    DeploymentCounts,
    ReplicaSetState,
    ScaleAction,
    max_surge,
    max_unavailable,
    resolve_fenceposts,
)


@dataclass
class _RS:
    name: str
    created: int
    replicas: int
    pods: list[float] = field(default_factory=list)  # creation times of live pods
    gone_at: list[float] = field(default_factory=list)  # when terminating pods are gone

    def state(self, now: float, ready_s: float) -> ReplicaSetState:
        return ReplicaSetState(
            self.name,
            self.replicas,
            pods=len(self.pods),
            available=sum(1 for t in self.pods if t + ready_s <= now),
            terminating=sum(1 for t in self.gone_at if t > now),
            created=self.created,
        )


def roll(
    desired: int,
    strategy: Strategy,
    *,
    old_replicas: int | None = None,
    ready_s: float = 10.0,
    terminate_s: float = 0.0,
) -> list[tuple[float, str, int, int]]:
    """Roll ``web-old`` (all pods available at t = 0) over to ``web-new``; the log of
    (time, ReplicaSet, from, to)."""
    n_old = desired if old_replicas is None else old_replicas
    old = _RS("web-old", 0, n_old, pods=[-ready_s] * n_old)
    new = _RS("web-new", 1, 0)
    log: list[tuple[float, str, int, int]] = []
    now = 0.0
    for _ in range(1000):
        while actions := dc.sync(desired, strategy, new.state(now, ready_s), [old.state(now, ready_s)]):
            for a in actions:
                log.append((now, a.replica_set, a.from_replicas, a.to_replicas))
                rs = new if a.replica_set == new.name else old
                rs.replicas = a.to_replicas
                while len(rs.pods) < rs.replicas:
                    rs.pods.append(now)
                while len(rs.pods) > rs.replicas:
                    # unavailable pods first, the newest of them first (ActivePods ranking)
                    rs.pods.sort(key=lambda t: (t + ready_s <= now, -t))
                    rs.pods.pop(0)
                    rs.gone_at.append(now + terminate_s)
        pending = [t + ready_s for rs in (old, new) for t in rs.pods if t + ready_s > now]
        pending += [t for rs in (old, new) for t in rs.gone_at if t > now]
        if not pending:
            return log
        now = min(pending)
    raise AssertionError("the rollout did not settle")


def test_four_replicas_surge_one_never_below_four():
    """replicas 4, maxSurge 25 % (⌈1⌉ = 1), maxUnavailable 0 (⌊1⌋ = 0), pods available 10 s
    after creation.

    t=0: NewRSNewReplicas: spec sum 4 < 4+1 ⇒ new 0→1. reconcileOldReplicaSets: allPods 5 −
    minAvailable 4 − newRSUnavailable 1 = 0 ⇒ nothing.
    t=10: new pod available ⇒ maxScaledDown 5−4−0 = 1; no unhealthy old pods; available 1+4 = 5
    > 4 ⇒ old 4→3. Next sync: spec sum 4 < 5 ⇒ new 1→2; then 5−4−1 = 0.
    t=20, t=30: the same step (old −1, new +1).
    t=40: new 4/4 available, new = desired ⇒ straight to old: 5−4−0 = 1, available 5 > 4 ⇒ old 1→0.
    """
    assert roll(4, Strategy("RollingUpdate", "25%", 0)) == [
        (0.0, "web-new", 0, 1),
        (10.0, "web-old", 4, 3),
        (10.0, "web-new", 1, 2),
        (20.0, "web-old", 3, 2),
        (20.0, "web-new", 2, 3),
        (30.0, "web-old", 2, 1),
        (30.0, "web-new", 3, 4),
        (40.0, "web-old", 1, 0),
    ]


def test_ten_replicas_surge_three_unavailable_two():
    """replicas 10, maxSurge 25 % (⌈2.5⌉ = 3), maxUnavailable 25 % (⌊2.5⌋ = 2).

    t=0: spec sum 10 < 13 ⇒ new 0→3. Old: allPods 13 − minAvailable 8 − newRSUnavailable 3 = 2;
    available 10 > 8 ⇒ old 10→8 (the budget of 2 and the 10−8 = 2 surplus agree). Spec sum 11
    < 13 ⇒ new 3→5 (spec counts, not pods: the surge refills at once). Then 13−8−5 = 0.
    t=10: the 5 new pods are available ⇒ 13−8−0 = 5, available 5+8 = 13 ⇒ old 8→3; spec sum 8
    ⇒ new 5→10 (capped by desired); new = desired and 13−8−5 = 0.
    t=20: available 10+3 = 13 ⇒ old 3→0.
    """
    assert roll(10, Strategy()) == [
        (0.0, "web-new", 0, 3),
        (0.0, "web-old", 10, 8),
        (0.0, "web-new", 3, 5),
        (10.0, "web-old", 8, 3),
        (10.0, "web-new", 5, 10),
        (20.0, "web-old", 3, 0),
    ]


def test_fenceposts_both_zero_means_one_unavailable():
    """replicas 2, maxSurge 0 %, maxUnavailable 1 %: both round to 0, so ResolveFenceposts makes
    maxUnavailable 1, and the rollout goes old −1, new +1, old −1, new +1 (the example in its
    comment).

    t=0: spec sum 2 = 2+0 ⇒ no surge; old: 2−1−0 = 1, available 2 > 1 ⇒ old 2→1; spec sum 1 ⇒
    new 0→1; then 2−1−1 = 0. t=10: 2−1−0 = 1, available 2 ⇒ old 1→0; new 1→2.
    """
    assert resolve_fenceposts(Strategy("RollingUpdate", "0%", "1%"), 2) == (0, 1)
    assert roll(2, Strategy("RollingUpdate", "0%", "1%")) == [
        (0.0, "web-old", 2, 1),
        (0.0, "web-new", 0, 1),
        (10.0, "web-old", 1, 0),
        (10.0, "web-new", 1, 2),
    ]


def test_recreate_scales_the_new_replica_set_once_old_pods_are_gone():
    """Recreate, 3 replicas: old 3→0 at once; with pods gone at once the new ReplicaSet goes
    0→3 in the next sync of the same instant."""
    assert roll(3, Strategy("Recreate")) == [(0.0, "web-old", 3, 0), (0.0, "web-new", 0, 3)]


def test_recreate_waits_for_terminating_pods():
    """Recreate counts terminating pods as running (recreate.go oldPodsRunning): with pods that
    take 30 s to terminate, the new ReplicaSet is scaled only at t = 30."""
    assert roll(3, Strategy("Recreate"), terminate_s=30.0) == [(0.0, "web-old", 3, 0), (30.0, "web-new", 0, 3)]
    stuck = ReplicaSetState("web-old", 0, pods=0, available=0, terminating=1)
    assert dc.sync(3, Strategy("Recreate"), ReplicaSetState("web-new", 0, created=1), [stuck]) == []


def test_rolling_update_ignores_terminating_pods():
    """RollingUpdate counts spec replicas: old pods still terminating do not hold the surge back
    (the same log as with pods gone at once)."""
    assert roll(4, Strategy("RollingUpdate", "25%", 0), terminate_s=30.0) == roll(
        4, Strategy("RollingUpdate", "25%", 0)
    )


def test_unhealthy_old_pods_are_removed_first():
    """Two old ReplicaSets: ``a`` (older) healthy, ``b`` with both pods unready. 4 replicas,
    25 %/25 % ⇒ surge 1, unavailable 1. The new ReplicaSet is at 1 (unready).

    allPods 5 − minAvailable 3 − newRSUnavailable 1 = 1: cleanupUnhealthyReplicas takes that one
    from ``b`` (a has none unhealthy) although ``a`` is older; then available 0+2+0 = 2 ≤ 3 ⇒ no
    further scale-down. Scaling ``a`` down instead would have cut availability.
    """
    new = ReplicaSetState("web-c", 1, pods=1, available=0, created=2)
    a = ReplicaSetState("web-a", 2, pods=2, available=2, created=0)
    b = ReplicaSetState("web-b", 2, pods=2, available=0, created=1)
    assert dc.sync(4, Strategy(), new, [b, a]) == [ScaleAction("web-b", 2, 1)]


def test_cleanup_and_scale_down_in_one_sync():
    """10 replicas, surge 3, unavailable 2; the new ReplicaSet 3/3 available, the old one at 10
    with 9 available. Budget 13−8−0 = 5: cleanup takes the unhealthy pod (10→9); then available
    3+9 = 12 > 8 ⇒ 4 more (9→5). Two events, as upstream records each scale."""
    new = ReplicaSetState("web-new", 3, pods=3, available=3, created=1)
    old = ReplicaSetState("web-old", 10, pods=10, available=9, created=0)
    assert dc.sync(10, Strategy(), new, [old]) == [ScaleAction("web-old", 10, 9), ScaleAction("web-old", 9, 5)]


def test_old_replica_sets_scale_down_oldest_first():
    """With no unhealthy pods, the surplus comes off the oldest ReplicaSet first
    (ReplicaSetsByCreationTimestamp), whatever order they are passed in."""
    new = ReplicaSetState("web-c", 4, pods=4, available=4, created=2)
    a = ReplicaSetState("web-a", 1, pods=1, available=1, created=0)
    b = ReplicaSetState("web-b", 3, pods=3, available=3, created=1)
    # desired 4, surge 1, unavailable 1: allPods 8 − 3 − 0 = 5; available 8 − 3 = 5 to remove
    assert dc.sync(4, Strategy(), new, [b, a]) == [ScaleAction("web-a", 1, 0), ScaleAction("web-b", 3, 0)]


def test_new_replica_set_above_desired_is_scaled_down_first():
    """A Deployment scaled down mid-rollout: reconcileNewReplicaSet brings the new ReplicaSet to
    ``desired`` and the sync stops there."""
    new = ReplicaSetState("web-new", 5, pods=5, available=5, created=1)
    old = ReplicaSetState("web-old", 2, pods=2, available=2, created=0)
    assert dc.sync(3, Strategy(), new, [old]) == [ScaleAction("web-new", 5, 3)]


@pytest.mark.parametrize(
    ("strategy", "desired", "surge", "unavailable"),
    [
        (Strategy(), 4, 1, 1),
        (Strategy(), 10, 3, 2),
        (Strategy(), 1, 1, 0),  # ⌈0.25⌉ = 1, ⌊0.25⌋ = 0
        (Strategy("RollingUpdate", 0, "25%"), 3, 0, 1),  # both 0 ⇒ unavailable 1
        (Strategy("RollingUpdate", 2, 5), 3, 2, 3),  # maxUnavailable capped at replicas
        (Strategy(), 0, 0, 0),  # 0 replicas: no unavailability
        (Strategy("Recreate"), 10, 0, 0),
    ],
)
def test_max_surge_and_max_unavailable(strategy, desired, surge, unavailable):
    assert (max_surge(strategy, desired), max_unavailable(strategy, desired)) == (surge, unavailable)


def test_event_wording():
    """sync.go scaleReplicaSet: Normal ScalingReplicaSet "Scaled up replica set x from 0 to 1"."""
    up, down = ScaleAction("web-5d8f7c9b4", 0, 1), ScaleAction("web-5d8f7c9b4", 4, 3)
    assert (up.reason, up.message) == ("ScalingReplicaSet", "Scaled up replica set web-5d8f7c9b4 from 0 to 1")
    assert down.message == "Scaled down replica set web-5d8f7c9b4 from 4 to 3"


def test_apply_sets_spec_replicas_only():
    old = ReplicaSetState("web-old", 4, pods=4, available=4)
    assert dc.apply([ScaleAction("web-old", 4, 3)], [old]) == [replace(old, replicas=3)]


# --- progress ---------------------------------------------------------------------------------


def test_deadline_passes_strictly_after_last_update_plus_deadline():
    """DeploymentTimedOut: lastUpdateTime + progressDeadlineSeconds is Before now (strict); the
    controller looks again one second after the deadline (requeueStuckDeployment)."""
    assert not dc.timed_out(100.0, 700.0, 600.0)
    assert dc.timed_out(100.0, 700.5, 600.0)
    assert dc.next_progress_check(100.0, 600.0) == 701.0


def test_progress_is_more_updated_fewer_old_more_ready_or_available():
    before = DeploymentCounts(replicas=5, updated=1, ready=4, available=4)
    assert not dc.progressed(before, before)
    assert dc.progressed(before, replace(before, updated=2, replicas=6))  # a new pod
    assert dc.progressed(before, replace(before, replicas=4))  # an old pod gone
    assert dc.progressed(before, replace(before, ready=5))
    assert dc.progressed(before, replace(before, available=5))
    assert not dc.progressed(before, replace(before, ready=3, available=3))  # losing pods is no progress


def test_a_stuck_rollout_times_out_and_progress_lifts_it():
    """A rollout created at t = 0 with deadline 600 s whose new pods never become available:
    Progressing stays True (NewReplicaSetCreated) until 600 s have passed, then turns False with
    reason ProgressDeadlineExceeded and upstream's message; a later sign of progress turns it
    True again (the Progressing case comes before the timeout case); completion ends it."""
    stuck = DeploymentCounts(replicas=5, updated=1, ready=4, available=4)
    cond = dc.rollout_started("web-5d8f7c9b4", 0.0)
    assert (cond.status, cond.reason, cond.message) == (
        "True",
        "NewReplicaSetCreated",
        'Created new replica set "web-5d8f7c9b4"',
    )
    assert dc.update_progressing(cond, 4, stuck, stuck, 600.0, 600.0, "web-5d8f7c9b4") == cond
    late = dc.update_progressing(cond, 4, stuck, stuck, 601.0, 600.0, "web-5d8f7c9b4")
    assert (late.status, late.reason, late.message, late.last_update_s) == (
        "False",
        "ProgressDeadlineExceeded",
        'ReplicaSet "web-5d8f7c9b4" has timed out progressing.',
        601.0,
    )
    assert dc.update_progressing(late, 4, stuck, stuck, 900.0, 600.0, "web-5d8f7c9b4") == late
    moving = dc.update_progressing(late, 4, stuck, replace(stuck, available=5), 910.0, 600.0, "web-5d8f7c9b4")
    assert (moving.status, moving.reason, moving.message, moving.last_update_s) == (
        "True",
        "ReplicaSetUpdated",
        'ReplicaSet "web-5d8f7c9b4" is progressing.',
        910.0,
    )
    done = DeploymentCounts(replicas=4, updated=4, ready=4, available=4)
    final = dc.update_progressing(moving, 4, stuck, done, 920.0, 600.0, "web-5d8f7c9b4")
    assert (final.reason, final.message) == (
        "NewReplicaSetAvailable",
        'ReplicaSet "web-5d8f7c9b4" has successfully progressed.',
    )
    assert dc.update_progressing(final, 4, done, done, 5000.0, 600.0, "web-5d8f7c9b4") == final


def test_counts_sum_the_replica_sets():
    new = ReplicaSetState("web-new", 3, pods=3, available=1, created=1)
    old = ReplicaSetState("web-old", 8, pods=8, available=8, terminating=2)
    assert dc.counts(new, [old], ready=9) == DeploymentCounts(replicas=11, updated=3, ready=9, available=9)
    assert dc.complete(3, DeploymentCounts(3, 3, 3, 3)) and not dc.complete(3, DeploymentCounts(4, 3, 4, 4))
