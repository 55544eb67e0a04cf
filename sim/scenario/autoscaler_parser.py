"""Reading ``spec.cluster.autoscaler`` (docs/semantics.md#cluster-autoscaler).

The node group's bounds, its node template and cluster-autoscaler's timing flags, each with
upstream's default (cluster-autoscaler/FAQ.md, "What are the parameters to CA?"). The bounds
must hold the scenario's own nodes: ``minNodes ≤ initial nodes ≤ maxNodes``, as a node group
whose size is outside its bounds is not scaled by cluster-autoscaler either.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sim.kube.labels import label_errors
from sim.kube.validation import dns1123_subdomain_problems, go
from sim.scenario.field_reader import FieldReader
from sim.scenario.run_limits import MAX_NODES
from sim.scenario.simulation import Allocatable, ClusterAutoscaler, NodeTemplate

__all__ = ["AUTOSCALER_FIELDS", "parse_autoscaler"]

AUTOSCALER_FIELDS = (
    "minNodes",
    "maxNodes",
    "nodeTemplate",
    "provisioningTime",
    "scanInterval",
    "scaleDownUnneededTime",
    "scaleDownUtilizationThreshold",
    "scaleDownDelayAfterAdd",
)

AllocatableReader = Callable[[Any, str, FieldReader, Allocatable], Allocatable]


def parse_autoscaler(
    raw: Any, path: str, fields: FieldReader, initial: int, allocatable: Allocatable, read: AllocatableReader
) -> ClusterAutoscaler | None:
    """``raw`` as a :class:`ClusterAutoscaler` (None when it is absent or its bounds are wrong:
    the problems are in ``fields``). ``initial`` is the scenario's node count, ``allocatable``
    the cluster's, which the template's fields replace (``read`` reads them as for a node)."""
    if raw is None:
        return None
    before = len(fields.problems)
    a = fields.keys(raw, path, AUTOSCALER_FIELDS, required=("minNodes", "maxNodes"))
    d = ClusterAutoscaler(min_nodes=0, max_nodes=0)
    counted = len(fields.problems)
    low = fields.integer(a["minNodes"], f"{path}.minNodes", minimum=0) if "minNodes" in a else 0
    high = (
        fields.integer(a["maxNodes"], f"{path}.maxNodes", minimum=1, maximum=MAX_NODES, why="svcsim's limit")
        if "maxNodes" in a
        else 0
    )
    bounds_ok = len(fields.problems) == counted and "minNodes" in a and "maxNodes" in a
    if bounds_ok and low > initial:
        fields.fail(
            f"{path}.minNodes",
            f"Invalid value: {low}: must be at most the initial node count ({initial}, spec.cluster.nodes): "
            "minNodes ≤ initial nodes ≤ maxNodes",
        )
    if bounds_ok and high < initial:
        fields.fail(
            f"{path}.maxNodes",
            f"Invalid value: {high}: must be at least the initial node count ({initial}, spec.cluster.nodes): "
            "minNodes ≤ initial nodes ≤ maxNodes",
        )
    template = _template(a.get("nodeTemplate"), f"{path}.nodeTemplate", fields, allocatable, read)
    threshold = d.scale_down_utilization_threshold
    if "scaleDownUtilizationThreshold" in a:
        threshold = fields.fraction(a["scaleDownUtilizationThreshold"], f"{path}.scaleDownUtilizationThreshold")
    result = ClusterAutoscaler(
        min_nodes=low,
        max_nodes=high,
        template=template,
        provisioning_s=fields.duration(a.get("provisioningTime"), f"{path}.provisioningTime", default=d.provisioning_s),
        scan_interval_s=fields.duration(
            a.get("scanInterval"), f"{path}.scanInterval", default=d.scan_interval_s, positive=True
        )
        or d.scan_interval_s,
        scale_down_unneeded_s=fields.duration(
            a.get("scaleDownUnneededTime"), f"{path}.scaleDownUnneededTime", default=d.scale_down_unneeded_s
        ),
        scale_down_utilization_threshold=threshold,
        scale_down_delay_after_add_s=fields.duration(
            a.get("scaleDownDelayAfterAdd"), f"{path}.scaleDownDelayAfterAdd", default=d.scale_down_delay_after_add_s
        ),
    )
    return result if len(fields.problems) == before else None


def _template(
    raw: Any, path: str, fields: FieldReader, allocatable: Allocatable, read: AllocatableReader
) -> NodeTemplate:
    t = fields.keys(raw, path, ("allocatable", "labels", "namePrefix"))
    labels = t.get("labels") or {}
    if not (isinstance(labels, dict) and all(isinstance(x, str) for kv in labels.items() for x in kv)):
        fields.fail(f"{path}.labels", f"Invalid value: {labels!r}: must be a mapping of strings")
        labels = {}
    for error in label_errors(labels, f"{path}.labels"):
        fields.fail(error.path, error.detail)
    prefix = t.get("namePrefix", "node-")
    if not isinstance(prefix, str) or not prefix:
        fields.fail(f"{path}.namePrefix", f"Invalid value: {prefix!r}: must be a non-empty string")
        prefix = "node-"
    else:
        for problem in dns1123_subdomain_problems(f"{prefix}1"):
            fields.fail(
                f"{path}.namePrefix", f"Invalid value: {go(prefix)}: node names {go(prefix + '1')} ...: {problem}"
            )
    return NodeTemplate(
        allocatable=read(t.get("allocatable"), f"{path}.allocatable", fields, allocatable),
        labels=dict(labels),
        name_prefix=prefix,
    )
