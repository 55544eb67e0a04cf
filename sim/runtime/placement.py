"""Where a new pod runs: the scheduler's choice of node (docs/semantics.md#deployments-and-pods).

``nodeName`` binds the pod directly; otherwise the nodes whose labels match ``nodeSelector``
fit, and the pod goes to the one running the fewest pods (ties by node name), a simple
stand-in for kube-scheduler's spreading scores. No fit: the pod stays Pending.
"""

from __future__ import annotations

from collections.abc import Iterable

from sim.kube.deployment import Deployment
from sim.scenario.simulation import Node

__all__ = ["place"]


def place(dep: Deployment, nodes: tuple[Node, ...] | list[Node], running_on: Iterable[int | None]) -> int | None:
    """The node index for a new pod of ``dep``, or None (Pending); ``running_on`` lists the
    node of every pod that has not gone."""
    names = [n.name for n in nodes]
    if dep.node_name is not None:
        return names.index(dep.node_name) if dep.node_name in names else None
    fits = [i for i, n in enumerate(nodes) if all(n.labels.get(k) == v for k, v in dep.node_selector.items())]
    if not fits:
        return None
    load = dict.fromkeys(fits, 0)
    for node in running_on:
        if node in load:
            load[node] += 1
    return min(fits, key=lambda i: (load[i], nodes[i].name))
