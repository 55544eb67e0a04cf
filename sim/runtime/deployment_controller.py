"""The Deployment controller's arithmetic: how far each ReplicaSet is scaled during a rollout,
and when a rollout has stopped progressing (docs/semantics.md#rolling-updates).

Plain functions over small frozen records, no SimPy: the control plane keeps the state, calls
:func:`sync` whenever something it depends on changes (a rollout, a pod becoming available, a
pod gone) and applies the :class:`ScaleAction` list it returns, calling again until it is empty,
as the controller's work queue re-syncs a Deployment after each ReplicaSet update.

Upstream: pkg/controller/deployment/rolling.go (``rolloutRolling``), recreate.go
(``rolloutRecreate``), progress.go (``syncRolloutStatus``), sync.go (``scaleReplicaSet``'s event)
and util/deployment_util.go (``NewRSNewReplicas``, ``MaxSurge``, ``MaxUnavailable``,
``ResolveFenceposts``, ``DeploymentProgressing``, ``DeploymentComplete``, ``DeploymentTimedOut``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from sim.kube.deployment import Strategy, scaled_value

__all__ = [
    "NEW_REPLICA_SET",
    "NEW_RS_AVAILABLE",
    "PROGRESS_DEADLINE_EXCEEDED",
    "REPLICA_SET_UPDATED",
    "SCALING_REPLICA_SET",
    "DeploymentCounts",
    "Progressing",
    "ReplicaSetState",
    "ScaleAction",
    "apply",
    "complete",
    "counts",
    "max_surge",
    "max_unavailable",
    "new_rs_new_replicas",
    "next_progress_check",
    "progressed",
    "resolve_fenceposts",
    "rollout_started",
    "sync",
    "sync_recreate",
    "sync_rolling",
    "timed_out",
    "update_progressing",
]

#: The event reason of every scale the controller makes (type Normal).
SCALING_REPLICA_SET = "ScalingReplicaSet"
#: Reasons of the Deployment's ``Progressing`` condition (util/deployment_util.go).
NEW_REPLICA_SET = "NewReplicaSetCreated"
REPLICA_SET_UPDATED = "ReplicaSetUpdated"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"


@dataclass(frozen=True)
class ReplicaSetState:
    """What the controller reads from one ReplicaSet.

    ``replicas`` is ``spec.replicas``; ``pods`` the live pods not being deleted
    (``status.replicas``); ``available`` those Ready for ``minReadySeconds``
    (``status.availableReplicas``); ``terminating`` the deleted pods not yet gone (only Recreate
    looks at them); ``created`` the creation order (older first, ties by name)."""

    name: str
    replicas: int
    pods: int = 0
    available: int = 0
    terminating: int = 0
    created: int = 0

    def __post_init__(self) -> None:
        assert self.replicas >= 0 and self.pods >= 0 and self.terminating >= 0
        assert 0 <= self.available <= self.pods, f"{self.name}: available {self.available} > pods {self.pods}"


@dataclass(frozen=True)
class ScaleAction:
    """One change of a ReplicaSet's ``spec.replicas``, with the event Kubernetes records for it."""

    replica_set: str
    from_replicas: int
    to_replicas: int

    @property
    def reason(self) -> str:
        return SCALING_REPLICA_SET

    @property
    def message(self) -> str:
        """sync.go ``scaleReplicaSet``: "Scaled up replica set web-5d8f7c9b4 from 0 to 1"."""
        way = "up" if self.to_replicas > self.from_replicas else "down"
        return f"Scaled {way} replica set {self.replica_set} from {self.from_replicas} to {self.to_replicas}"


def resolve_fenceposts(strategy: Strategy, desired: int) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) against ``desired``: surge rounds up, unavailability down, and
    when both come to 0 unavailability becomes 1 "on the theory that surge might not work due to
    quota" (``ResolveFenceposts``).

    >>> resolve_fenceposts(Strategy(), 4), resolve_fenceposts(Strategy(max_surge=0, max_unavailable="25%"), 3)
    ((1, 1), (0, 1))
    """
    surge = scaled_value(strategy.max_surge, desired, True)
    unavailable = scaled_value(strategy.max_unavailable, desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_surge(strategy: Strategy, desired: int) -> int:
    """``MaxSurge``: 0 for Recreate."""
    if strategy.type != "RollingUpdate":
        return 0
    return resolve_fenceposts(strategy, desired)[0]


def max_unavailable(strategy: Strategy, desired: int) -> int:
    """``MaxUnavailable``: 0 for Recreate or 0 replicas, never more than ``desired``."""
    if strategy.type != "RollingUpdate" or desired == 0:
        return 0
    return min(resolve_fenceposts(strategy, desired)[1], desired)


def new_rs_new_replicas(desired: int, strategy: Strategy, new: ReplicaSetState, old: Sequence[ReplicaSetState]) -> int:
    """``NewRSNewReplicas``: the new ReplicaSet grows until all ReplicaSets' ``spec.replicas``
    reach desired + maxSurge, never past ``desired`` (Recreate: ``desired`` at once). The sum is
    of spec replicas, not of pods: pods still terminating do not count."""
    if strategy.type != "RollingUpdate":
        return desired
    total = new.replicas + sum(rs.replicas for rs in old)
    ceiling = desired + max_surge(strategy, desired)
    if total >= ceiling:
        return new.replicas
    return new.replicas + min(ceiling - total, desired - new.replicas)


def sync(desired: int, strategy: Strategy, new: ReplicaSetState, old: Sequence[ReplicaSetState]) -> list[ScaleAction]:
    """One sync of a Deployment mid-rollout: the scales it makes, in order (empty: nothing to do).

    ``new`` is the ReplicaSet of the current pod template (``replicas`` 0 before it exists),
    ``old`` every other ReplicaSet of the Deployment."""
    if strategy.type == "Recreate":
        return sync_recreate(desired, new, old)
    return sync_rolling(desired, strategy, new, old)


def sync_rolling(
    desired: int, strategy: Strategy, new: ReplicaSetState, old: Sequence[ReplicaSetState]
) -> list[ScaleAction]:
    """``rolloutRolling``: scale the new ReplicaSet up if it may grow, and stop there; otherwise
    scale old ReplicaSets down (their unhealthy pods first, then the oldest ReplicaSet first)."""
    if new.replicas > desired:  # reconcileNewReplicaSet, a Deployment scaled down mid-rollout
        return [ScaleAction(new.name, new.replicas, desired)]
    if new.replicas < desired:
        target = new_rs_new_replicas(desired, strategy, new, old)
        if target != new.replicas:
            return [ScaleAction(new.name, new.replicas, target)]
    return _reconcile_old(desired, strategy, new, old)


def _reconcile_old(
    desired: int, strategy: Strategy, new: ReplicaSetState, old: Sequence[ReplicaSetState]
) -> list[ScaleAction]:
    """``reconcileOldReplicaSets``: at most allPods − minAvailable − newRSUnavailable pods go,
    first by ``cleanupUnhealthyReplicas`` then by ``scaleDownOldReplicaSetsForRollingUpdate``."""
    active = _by_age(rs for rs in old if rs.replicas > 0)  # FilterActiveReplicaSets
    if not active:
        return []
    all_pods = new.replicas + sum(rs.replicas for rs in old)
    min_available = desired - max_unavailable(strategy, desired)
    new_unavailable = new.replicas - new.available
    budget = all_pods - min_available - new_unavailable
    if budget <= 0:
        return []
    actions: list[ScaleAction] = []
    # cleanupUnhealthyReplicas: spec replicas not available (missing or unready pods) go first.
    cleaned = 0
    for i, rs in enumerate(active):
        if cleaned >= budget:
            break
        if rs.replicas in (0, rs.available):
            continue
        if rs.available > rs.replicas:  # a stale status: upstream errors out of the sync here
            return actions
        down = min(budget - cleaned, rs.replicas - rs.available)
        actions.append(ScaleAction(rs.name, rs.replicas, rs.replicas - down))
        active[i] = replace(rs, replicas=rs.replicas - down)  # status (available) unchanged
        cleaned += down
    # scaleDownOldReplicaSetsForRollingUpdate: available pods above minAvailable, oldest first.
    available = new.available + sum(rs.available for rs in active)
    if available <= min_available:
        return actions
    wanted = available - min_available
    scaled = 0
    for rs in active:
        if scaled >= wanted:
            break
        if rs.replicas == 0:
            continue
        down = min(rs.replicas, wanted - scaled)
        actions.append(ScaleAction(rs.name, rs.replicas, rs.replicas - down))
        scaled += down
    return actions


def sync_recreate(desired: int, new: ReplicaSetState, old: Sequence[ReplicaSetState]) -> list[ScaleAction]:
    """``rolloutRecreate``: every old ReplicaSet to 0; the new one to ``desired`` only once no old
    pod is left, terminating ones included (``oldPodsRunning``: a pod counts until it reaches a
    terminal phase)."""
    down = [ScaleAction(rs.name, rs.replicas, 0) for rs in _by_age(old) if rs.replicas > 0]
    if down:
        return down
    if any(rs.pods > 0 or rs.terminating > 0 for rs in old):
        return []
    if new.replicas != desired:
        return [ScaleAction(new.name, new.replicas, desired)]
    return []


def apply(actions: Iterable[ScaleAction], replica_sets: Sequence[ReplicaSetState]) -> list[ReplicaSetState]:
    """The ReplicaSets with ``spec.replicas`` as the actions set them (status untouched)."""
    target = {a.replica_set: a.to_replicas for a in actions}
    return [replace(rs, replicas=target[rs.name]) if rs.name in target else rs for rs in replica_sets]


def _by_age(replica_sets: Iterable[ReplicaSetState]) -> list[ReplicaSetState]:
    """``ReplicaSetsByCreationTimestamp``: oldest first, ties by name."""
    return sorted(replica_sets, key=lambda rs: (rs.created, rs.name))


# --- progress (progress.go syncRolloutStatus) -------------------------------------------------


@dataclass(frozen=True)
class DeploymentCounts:
    """The Deployment status fields progress is judged on (``calculateStatus``): pods not being
    deleted, those of the new ReplicaSet, and the Ready and available ones."""

    replicas: int
    updated: int
    ready: int
    available: int


def counts(new: ReplicaSetState, old: Sequence[ReplicaSetState], ready: int) -> DeploymentCounts:
    """The status of a Deployment whose ReplicaSets are ``new`` and ``old`` (``ready``: its
    Ready pods, which the ReplicaSet records do not carry)."""
    return DeploymentCounts(
        replicas=new.pods + sum(rs.pods for rs in old),
        updated=new.pods,
        ready=ready,
        available=new.available + sum(rs.available for rs in old),
    )


def progressed(before: DeploymentCounts, after: DeploymentCounts) -> bool:
    """``DeploymentProgressing``: more updated pods, fewer old pods, more Ready or more available
    pods than at the last status."""
    return (
        after.updated > before.updated
        or after.replicas - after.updated < before.replicas - before.updated
        or after.ready > before.ready
        or after.available > before.available
    )


def complete(desired: int, status: DeploymentCounts) -> bool:
    """``DeploymentComplete``: every desired pod updated and available, no old pod left."""
    return status.updated == desired and status.replicas == desired and status.available == desired


def timed_out(last_update_s: float, now_s: float, deadline_s: float) -> bool:
    """``DeploymentTimedOut``: the Progressing condition's lastUpdateTime + progressDeadlineSeconds
    is strictly before now."""
    return last_update_s + deadline_s < now_s


def next_progress_check(last_update_s: float, deadline_s: float) -> float:
    """When a stuck Deployment is synced again to look at its deadline: ``requeueStuckDeployment``
    waits until the deadline plus one second ("to avoid milliseconds skew")."""
    return last_update_s + deadline_s + 1.0


@dataclass(frozen=True)
class Progressing:
    """The Deployment's ``Progressing`` condition."""

    status: str  # "True" | "False"
    reason: str
    message: str
    last_update_s: float


def rollout_started(new_rs: str, now_s: float) -> Progressing:
    """The condition set when the new ReplicaSet is created (sync.go ``getNewReplicaSet``)."""
    return Progressing("True", NEW_REPLICA_SET, f'Created new replica set "{new_rs}"', now_s)


def update_progressing(
    current: Progressing,
    desired: int,
    before: DeploymentCounts,
    after: DeploymentCounts,
    now_s: float,
    deadline_s: float | None,
    new_rs: str,
) -> Progressing:
    """The condition after a sync (``syncRolloutStatus``), checked in this order: complete ⇒
    NewReplicaSetAvailable; progress ⇒ ReplicaSetUpdated with lastUpdateTime now (even after a
    timeout: progress lifts it); past the deadline ⇒ False, ProgressDeadlineExceeded. A complete
    rollout is left alone while every pod is updated. ``deadline_s`` None: no deadline, no
    condition to keep (the lead drops it)."""
    if deadline_s is None:
        return current
    if current.reason == NEW_RS_AVAILABLE and after.replicas == after.updated:
        return current
    if complete(desired, after):
        return Progressing("True", NEW_RS_AVAILABLE, f'ReplicaSet "{new_rs}" has successfully progressed.', now_s)
    if progressed(before, after):
        return Progressing("True", REPLICA_SET_UPDATED, f'ReplicaSet "{new_rs}" is progressing.', now_s)
    if current.reason == PROGRESS_DEADLINE_EXCEEDED:
        return current  # SetDeploymentCondition keeps a condition of the same status and reason
    if timed_out(current.last_update_s, now_s, deadline_s):
        message = f'ReplicaSet "{new_rs}" has timed out progressing.'
        return Progressing("False", PROGRESS_DEADLINE_EXCEEDED, message, now_s)
    return current
