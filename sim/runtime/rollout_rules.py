"""The Deployment controller's arithmetic (pkg/controller/deployment; docs/semantics.md#rolling-updates).

Plain functions of the ReplicaSets' counts: the control plane calls :func:`sync` whenever
a Deployment or one of its pods changes, applies the scale actions, and calls again until
nothing changes, as the controller's own resyncs do.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.kube.deployment import Strategy, scaled_value

__all__ = ["Action", "ReplicaSetState", "sync"]


@dataclass(frozen=True)
class ReplicaSetState:
    name: str
    replicas: int  # spec.replicas
    pods: int  # active pods (not being deleted)
    available: int  # active pods Ready for at least minReadySeconds
    existing: int  # pods not gone, terminating ones included


@dataclass(frozen=True)
class Action:
    name: str
    start: int
    to: int

    @property
    def message(self) -> str:
        way = "up" if self.to > self.start else "down"
        return f"Scaled {way} replica set {self.name} from {self.start} to {self.to}"


def surge_and_unavailable(desired: int, strategy: Strategy) -> tuple[int, int]:
    """ResolveFenceposts: maxSurge rounds up, maxUnavailable down; both 0 gives unavailable 1."""
    surge = scaled_value(strategy.max_surge, desired, True)
    unavailable = scaled_value(strategy.max_unavailable, desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, min(unavailable, desired)


def sync(desired: int, strategy: Strategy, new: ReplicaSetState, old: list[ReplicaSetState]) -> list[Action]:
    """One sync of the Deployment controller: the scale actions it makes, in order.

    ``old`` is oldest first. Like rolloutRolling, a sync that scales up stops there; the
    caller syncs again (the ReplicaSet's update triggers it in a cluster)."""
    if strategy.type == "Recreate":
        return _recreate(desired, new, old)
    if new.replicas != desired:
        scaled = _reconcile_new(desired, strategy, new, old)
        if scaled:
            return scaled
    return _reconcile_old(desired, strategy, new, old)


def _reconcile_new(desired: int, strategy: Strategy, new: ReplicaSetState, old: list[ReplicaSetState]) -> list[Action]:
    if new.replicas > desired:
        return [Action(new.name, new.replicas, desired)]
    surge, _ = surge_and_unavailable(desired, strategy)
    current = new.replicas + sum(rs.replicas for rs in old)
    most = desired + surge
    if current >= most:
        return []
    count = new.replicas + min(most - current, desired - new.replicas)
    return [Action(new.name, new.replicas, count)] if count != new.replicas else []


def _reconcile_old(desired: int, strategy: Strategy, new: ReplicaSetState, old: list[ReplicaSetState]) -> list[Action]:
    old_count = sum(rs.replicas for rs in old)
    if old_count == 0:
        return []
    all_count = old_count + new.replicas
    _, unavailable = surge_and_unavailable(desired, strategy)
    min_available = desired - unavailable
    new_unavailable = new.replicas - new.available
    most_down = all_count - min_available - new_unavailable
    if most_down <= 0:
        return []
    actions: list[Action] = []
    replicas = {rs.name: rs.replicas for rs in old}
    cleaned = 0  # cleanupUnhealthyReplicas: unavailable old pods go first, oldest ReplicaSet first
    for rs in old:
        if cleaned >= most_down:
            break
        if replicas[rs.name] == 0 or replicas[rs.name] == rs.available:
            continue
        down = min(most_down - cleaned, replicas[rs.name] - rs.available)
        actions.append(Action(rs.name, replicas[rs.name], replicas[rs.name] - down))
        replicas[rs.name] -= down
        cleaned += down
    available = new.available + sum(rs.available for rs in old)  # statuses as the sync began
    if available <= min_available:
        return actions
    total = available - min_available
    done = 0
    for rs in old:  # scaleDownOldReplicaSetsForRollingUpdate
        if done >= total:
            break
        if replicas[rs.name] == 0:
            continue
        down = min(replicas[rs.name], total - done)
        actions.append(Action(rs.name, replicas[rs.name], replicas[rs.name] - down))
        replicas[rs.name] -= down
        done += down
    return actions


def _recreate(desired: int, new: ReplicaSetState, old: list[ReplicaSetState]) -> list[Action]:
    down = [Action(rs.name, rs.replicas, 0) for rs in old if rs.replicas > 0]
    if down:
        return down
    if any(rs.existing > 0 for rs in old):
        return []  # oldPodsRunning: wait until every old pod has gone
    return [Action(new.name, new.replicas, desired)] if new.replicas != desired else []
