"""Drawing the cluster graph the way people sketch it on a whiteboard.

Clients stand outside the cluster box; nodes are boxes labelled with their IP and the
nodePorts they listen on; pods sit inside their node with their pod IP; each Service
shows its ClusterIP and ports. Arrows follow the NodePort path: client → node IP:nodePort
→ kube-proxy (the Service's rules) → a pod, possibly on another node.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from sim.results.result import Result
from sim.runtime.topology import Topology

__all__ = ["draw_topology"]

_MAX_PODS_SHOWN = 6
#: Up to this many nodes are drawn side by side; with more, the first _NODES_SHOWN_WHEN_MANY are,
#: and the rest are summed up in one box (at 100 nodes a node's box was a sliver and its labels
#: overlapped the next).
_MAX_NODES_SHOWN = 8
_NODES_SHOWN_WHEN_MANY = 5


def _box(
    ax: Axes,
    x: float,
    y: float,
    w: float,
    h: float,
    *,
    edge: str,
    face: str = "white",
    lw: float = 1.2,
    style: str = "round,pad=0.004,rounding_size=0.01",
) -> None:
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle=style, edgecolor=edge, facecolor=face, linewidth=lw))


def _arrow(
    ax: Axes,
    start: tuple[float, float],
    end: tuple[float, float],
    color: str,
    *,
    style: str = "-",
    lw: float = 1.0,
    rad: float = 0.0,
) -> None:
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle="-|>",
            mutation_scale=9,
            color=color,
            linestyle=style,
            linewidth=lw,
            connectionstyle=f"arc3,rad={rad}",
            shrinkA=2,
            shrinkB=2,
        )
    )


def _there(result: Result, node: dict[str, Any], at: float) -> bool:
    """Whether a node is in the cluster at ``at``: a cluster autoscaler's node only while added."""
    if not node.get("autoscaled"):
        return True
    table = getattr(result, "nodes", None)
    if not isinstance(table, pd.DataFrame) or table.empty:
        return False
    rows = table[table["node"] == node["name"]]
    return bool(((rows["added"] <= at) & ~(rows["removed"].astype(float) <= at)).any())


def draw_topology(ax: Axes, result: Result, colors: dict[str, str], at_s: float | None = None) -> None:
    """Draw ``result``'s cluster on ``ax`` (pods alive at ``at_s``, default the end of the run)."""
    sim = result.scenario.simulation
    topo = result.topology or Topology(result.scenario)
    g = topo.graph
    at = sim.duration_s if at_s is None else at_s
    pods = result.pods
    alive = pods[(pods["created"] <= at) & ~(pods["deleted"].astype(float) <= at)]
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")

    nodes = [n for n, d in g.nodes(data=True) if d["kind"] == "node" and _there(result, d, at)]
    services = [d for _, d in g.nodes(data=True) if d["kind"] == "service"]
    clients = [d for _, d in g.nodes(data=True) if d["kind"] == "client"]

    # The cluster and its Services.
    left = 0.2
    _box(ax, left, 0.02, 0.78, 0.86, edge="0.6", face="#fafafa", lw=1.0)
    ax.text(
        left + 0.01,
        0.86,
        f"cluster  (pods {sim.cluster.pod_cidr}, Services {sim.cluster.service_cidr})",
        fontsize=8,
        va="top",
        color="0.35",
    )
    svc_pos = _draw_services(ax, services, left)
    hidden = nodes[_NODES_SHOWN_WHEN_MANY:] if len(nodes) > _MAX_NODES_SHOWN else []
    nodes = nodes[: len(nodes) - len(hidden)] + (["..."] if hidden else [])
    node_top, pod_pos = _draw_nodes(ax, result, g, nodes, alive, colors, left, at, hidden)
    lb_pos = _draw_balancers(ax, result, node_top, colors)
    _draw_calls(ax, result, svc_pos)
    _draw_clients(ax, result, clients, svc_pos, node_top, lb_pos, colors)
    _draw_dnat(ax, g, services, svc_pos, pod_pos)
    ax.text(
        0.01,
        0.04,
        "solid: client → node IP:nodePort\ndash-dot: in-cluster client → its node\n"
        "dotted: kube-proxy rules (any node)\ndashed: DNAT to an endpoint",
        fontsize=7,
        color="0.3",
        va="bottom",
    )


def _draw_services(ax: Axes, services: list[dict[str, Any]], left: float) -> dict[str, tuple[float, float]]:
    """One box per Service; returns where its arrows start."""
    svc_w = min(0.3, 0.74 / max(1, len(services)))
    svc_pos: dict[str, tuple[float, float]] = {}
    for i, svc in enumerate(services):
        x = left + 0.02 + i * (svc_w + 0.01)
        _box(ax, x, 0.68, svc_w, 0.12, edge="#444444", face="#eef3fb")
        ax.text(
            x + svc_w / 2,
            0.74,
            f"Service {svc['name']} ({svc['type']})\nClusterIP {svc['ip']}\n{', '.join(svc['ports'])}",
            ha="center",
            va="center",
            fontsize=7.5,
        )
        svc_pos[svc["name"]] = (x + svc_w / 2, 0.68)

    return svc_pos


def _draw_nodes(
    ax: Axes,
    result: Result,
    g: Any,
    nodes: list[str],
    alive: pd.DataFrame,
    colors: dict[str, str],
    left: float,
    at: float,
    hidden: list[str] | None = None,
) -> tuple[dict[str, tuple[float, float]], dict[str, tuple[float, float]]]:
    """Nodes with their IP:nodePort and the pods alive on them; returns node tops and pod anchors.
    A node ``"..."`` is a box summing up the ``hidden`` nodes and their pods."""
    node_ports = sorted({p.node_port for s in result.scenario.services for p in s.ports if p.node_port})
    port_text = ":" + ",".join(map(str, node_ports)) if node_ports else ""
    width = (0.76 - 0.015 * (len(nodes) - 1)) / max(1, len(nodes))
    node_top: dict[str, tuple[float, float]] = {}
    pod_pos: dict[str, tuple[float, float]] = {}
    for i, vid in enumerate(nodes):
        x = left + 0.01 + i * (width + 0.015)
        if vid == "...":
            names = [g.nodes[v]["name"] for v in hidden or []]
            counts = alive["node"].value_counts()
            per_node = [int(counts.get(n, 0)) for n in names]
            _box(ax, x, 0.05, width, 0.5, edge="0.5", lw=1.5)
            spread = f"{min(per_node)}" if min(per_node) == max(per_node) else f"{min(per_node)}-{max(per_node)}"
            text = f"+{len(names)} more nodes\n{sum(per_node):,} pods\n({spread} a node)"
            ax.text(x + width / 2, 0.3, text, ha="center", va="center", fontsize=7.5, color="0.3")
            continue
        data = g.nodes[vid]
        color = colors.get(data["name"], "0.4")
        _box(ax, x, 0.05, width, 0.5, edge=color, lw=2)
        ax.text(
            x + width / 2,
            0.53,
            f"{data['name']}\n{data['ip']}{port_text}",
            ha="center",
            va="top",
            fontsize=8,
            fontweight="bold",
            color=color,
        )
        node_top[data["name"]] = (x + width / 2, 0.55)
        mine = alive[alive["node"] == data["name"]].sort_values("pod")
        if len(mine) > _MAX_PODS_SHOWN:
            pod_pos.update(_draw_pod_counts(ax, mine, x, width, color, at))
            continue
        shown = mine.head(_MAX_PODS_SHOWN)
        slot = 0.36 / max(_MAX_PODS_SHOWN, 1)
        for k, row in enumerate(shown.itertuples()):
            y = 0.43 - (k + 1) * slot
            _box(ax, x + 0.01, y, width - 0.02, slot * 0.85, edge=color, face="white", lw=0.8)
            ready = not (isinstance(row.ready, float) and math.isnan(row.ready)) and float(row.ready) <= at
            label = f"{row.pod}\n{row.ip}" + ("" if ready else "  (not Ready)")
            ax.text(x + width / 2, y + slot * 0.42, label, ha="center", va="center", fontsize=6.2)
            pod_pos[str(row.pod)] = (x + 0.012, y + slot * 0.42)
        if len(mine) > len(shown):
            ax.text(x + width / 2, 0.07, f"+{len(mine) - len(shown)} more pods", ha="center", fontsize=7)

    return node_top, pod_pos


def _draw_pod_counts(
    ax: Axes, mine: pd.DataFrame, x: float, width: float, color: str, at: float
) -> dict[str, tuple[float, float]]:
    """A crowded node's pods as counts, a box per Deployment (how many, how many Ready); every
    pod's DNAT arrow ends at its Deployment's box."""
    anchors: dict[str, tuple[float, float]] = {}
    groups = list(mine.groupby("deployment", sort=True))
    slot = 0.36 / max(_MAX_PODS_SHOWN, 1)
    for k, (deployment, pods) in enumerate(groups[:_MAX_PODS_SHOWN]):
        y = 0.43 - (k + 1) * slot
        ready = int((pods["ready"].astype(float) <= at).sum())
        _box(ax, x + 0.01, y, width - 0.02, slot * 0.85, edge=color, face="white", lw=0.8)
        label = f"{deployment}: {len(pods):,} pods\n{ready:,} Ready"
        ax.text(x + width / 2, y + slot * 0.42, label, ha="center", va="center", fontsize=6.5)
        anchors.update(dict.fromkeys(pods["pod"].astype(str), (x + 0.012, y + slot * 0.42)))
    if len(groups) > _MAX_PODS_SHOWN:
        rest = sum(len(pods) for _, pods in groups[_MAX_PODS_SHOWN:])
        ax.text(x + width / 2, 0.07, f"+{rest:,} pods of {len(groups) - _MAX_PODS_SHOWN} more", ha="center", fontsize=7)
    return anchors


def _draw_balancers(
    ax: Axes, result: Result, node_top: dict[str, tuple[float, float]], colors: dict[str, str]
) -> dict[str, tuple[float, float]]:
    """Load balancers, between the clients and the nodes."""
    lb_pos: dict[str, tuple[float, float]] = {}
    balancers = [s for s in result.scenario.services if s.type == "LoadBalancer"]
    for k, lb in enumerate(balancers):
        y = 0.3 - k * 0.1
        _box(ax, 0.01, y - 0.035, 0.15, 0.07, edge="0.2", face="#e8f4ea")
        ax.text(0.085, y, f"load balancer\n{lb.ingress_ip or '<pending>'}", ha="center", va="center", fontsize=7)
        lb_pos[lb.name] = (0.085, y + 0.035)
        for name, top in node_top.items():
            _arrow(ax, (0.16, y), top, colors.get(name, "0.3"), lw=0.8)

    return lb_pos


def _draw_calls(ax: Axes, result: Result, svc_pos: dict[str, tuple[float, float]]) -> None:
    """Calls between Services: from the Service of the calling pods to the one they call."""
    sim = result.scenario.simulation
    for dep in result.scenario.deployments:
        for call in sim.workloads[dep.name].calls:
            callers = [s.name for s in result.scenario.services if s.selects(dep.labels) and s.name in svc_pos]
            for caller in callers:
                if call.service in svc_pos and call.service != caller:
                    start, end = svc_pos[caller], svc_pos[call.service]
                    _arrow(ax, (start[0], start[1] + 0.12), (end[0], end[1] + 0.12), "#b03030", rad=-0.3)
                    ax.text((start[0] + end[0]) / 2, 0.85, "calls", color="#b03030", fontsize=7, ha="center")


def _draw_clients(
    ax: Axes,
    result: Result,
    clients: list[dict[str, Any]],
    svc_pos: dict[str, tuple[float, float]],
    node_top: dict[str, tuple[float, float]],
    lb_pos: dict[str, tuple[float, float]],
    colors: dict[str, str],
) -> None:
    """Clients outside, and the path their requests take."""
    sim = result.scenario.simulation
    for j, client in enumerate(clients):
        y = 0.8 - j * 0.14
        _box(ax, 0.01, y - 0.05, 0.15, 0.1, edge="0.2", face="#fff8e6")
        where = "outside the cluster" if client["location"] == "external" else f"on {client['location']}"
        ax.text(0.085, y, f"client {client['name']}\n{client['ip']}\n{where}", ha="center", va="center", fontsize=7.5)
        spec = next(c for c in sim.clients if c.name == client["name"])
        if spec.target.via == "nodePort":
            for name in spec.nodes or [n.name for n in sim.cluster.nodes]:
                if name in node_top:  # a node summed up in the "more nodes" box has no arrow of its own
                    _arrow(ax, (0.16, y), node_top[name], colors.get(name, "0.3"), lw=1.2)
        elif spec.target.via == "loadBalancer":
            _arrow(ax, (0.085, y - 0.05), lb_pos[spec.target.service], "0.2", lw=1.2)
        elif spec.target.via in ("clusterIP", "podIP") and spec.location in node_top:
            _arrow(ax, (0.16, y), node_top[spec.location], colors.get(spec.location, "0.3"), style="-.", lw=1.2)
        svc = svc_pos.get(spec.target.service)
        if svc is not None and spec.target.via in ("nodePort", "loadBalancer", "clusterIP"):
            for name in list(node_top)[:1]:
                _arrow(ax, node_top[name], svc, "0.3", style=":", rad=-0.2)


def _draw_dnat(
    ax: Axes,
    g: Any,
    services: list[dict[str, Any]],
    svc_pos: dict[str, tuple[float, float]],
    pod_pos: dict[str, tuple[float, float]],
) -> None:
    """DNAT from each Service to its endpoints."""
    for svc in services:
        if svc["name"] not in svc_pos:
            continue
        drawn: set[tuple[float, float]] = set()  # pods counted in one box share its arrow
        for pod_vid in g.neighbors(f"service/{svc['name']}"):
            name = g.nodes[pod_vid].get("name")
            if g.nodes[pod_vid].get("kind") == "pod" and name in pod_pos and pod_pos[name] not in drawn:
                drawn.add(pod_pos[name])
                _arrow(ax, svc_pos[svc["name"]], pod_pos[name], "0.45", style="--", lw=0.8)
