"""Endpoints kept as pods change (issue 13, item 2): the same as computed from scratch, and a
scale event of N pods costs endpoint work that grows with N, not with N × pods or nodes."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scenario_text import scenario

import sim
from sim.kube.service import Service, parse_service
from sim.randomness import Streams
from sim.runtime.control_plane import ControlPlane
from sim.runtime.dataplane import Dataplane, Rules
from sim.runtime.endpoint_slices import EndpointSlices, service_ports
from sim.runtime.pods import Pod

ZONES = ["a", "b", None, "a"]  # node index -> zone label (node 2 has none)


def _service(name: str, selector: dict[str, str], target: int | str, **spec: Any) -> Service:
    doc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": selector, "ports": [{"port": 80, "targetPort": target}], **spec},
    }
    svc, errors = parse_service(doc)
    assert svc is not None, errors
    return svc


SERVICES = [
    _service("web", {"app": "web"}, 80),
    _service("named", {"app": "web"}, "http", trafficDistribution="PreferSameZone"),  # resolves in "web" only
    _service("both", {"tier": "front"}, 80, internalTrafficPolicy="Local"),
]
NAMED_PORTS = {"web": {"http"}, "api": set()}
LABELS = {"web": {"app": "web", "tier": "front"}, "api": {"app": "api", "tier": "front"}}


def _pod(index: int, name: str, deployment: str, node: int | None) -> Pod:
    return Pod(
        index=index,
        name=name,
        deployment=deployment,
        labels=dict(LABELS[deployment]),
        node=node,
        ip=None,
        concurrency=1,
        service=Streams(1).uniform("unused"),
        grace_period_s=30.0,
        created_at=0.0,
    )


def _endpoints_from_scratch(slices: EndpointSlices, live: dict[int, Pod], port: int) -> list[Pod]:
    """What the EndpointSlice holds, by definition: bound live pods the port selects, by name."""
    chosen = (p for p in live.values() if p.node is not None and slices._selects(port, p))
    return sorted(chosen, key=lambda p: p.name)


def _views_from_scratch(endpoints: list[Pod], node: int, zone: str | None) -> dict[str, list[int]]:
    """Each node's lists as the list-based code before issue 13 derived them (pkg/proxy/topology.go)."""

    def usable(pods: list[Pod]) -> list[Pod]:
        ready = [p for p in pods if p.ready]
        return ready or [p for p in pods if p.serving]

    everywhere = usable(endpoints)
    assert all(p.node is not None for p in endpoints)
    return {
        "usable": [p.index for p in everywhere],
        "local": [p.index for p in usable([p for p in endpoints if p.node == node])],
        "same_node": [p.index for p in everywhere if p.node == node],
        "same_zone": [] if zone is None else [p.index for p in everywhere if ZONES[p.node or 0] == zone],
        "local_ready": [sum(1 for p in endpoints if p.node == node and p.ready)],
    }


def _views(rules: Rules, node: int, zone: str | None) -> dict[str, list[int]]:
    views = rules.views
    return {
        "usable": views.usable.tolist(),
        "local": views.local(node).tolist(),
        "same_node": views.same_node(node).tolist(),
        "same_zone": views.same_zone(zone).tolist(),
        "local_ready": [views.local_ready(node)],
    }


# A pod change: create (deployment, node or None for Pending, name seed), bind a Pending pod,
# delete, Ready, not Ready, terminating; or a read of the endpoints (a sync).
NODES = [0, 1, 2, 3, None]
POD_CHANGES = ["bind", "delete", "ready", "unready", "terminate"]
_CHANGES = st.lists(
    st.one_of(
        st.tuples(
            st.just("create"), st.sampled_from(["web", "api"]), st.sampled_from([0, 1, 2, 3, None]), st.integers(0, 30)
        ),
        st.tuples(
            st.sampled_from(["bind", "delete", "ready", "unready", "terminate"]),
            st.integers(0, 1000),
            st.integers(0, 3),
        ),
        st.tuples(st.just("read")),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(_CHANGES)
def test_incremental_endpoints_equal_a_rebuild_from_scratch(changes):
    """After any sequence of pod changes, reads in between or not, each port's endpoints, rules
    and every node's views equal those computed from the live pods from scratch (names may repeat:
    equal names keep creation order). Conditions change as the control plane changes them: the
    pod is touched."""
    live: dict[int, Pod] = {}
    ports = service_ports(SERVICES)
    slices = EndpointSlices(ports, NAMED_PORTS, ZONES, live)
    pods: list[Pod] = []
    for change in [*changes, ("read",)]:
        kind = change[0]
        if kind == "create":
            _, deployment, node, seed = change
            pod = _pod(len(pods), f"{deployment}-{seed:02d}", deployment, node)
            pods.append(pod)
            live[pod.index] = pod
            slices.add(pod)
        elif kind == "read":
            for port in range(len(ports)):
                expected = _endpoints_from_scratch(slices, live, port)
                assert slices.endpoints(port) == expected
                rules = slices.rules(port)
                assert rules.pods.tolist() == [p.index for p in expected]
                assert rules.ready.tolist() == [p.ready for p in expected]
                assert rules.serving.tolist() == [p.serving for p in expected]
                for node, zone in enumerate(ZONES):
                    assert _views(rules, node, zone) == _views_from_scratch(expected, node, zone)
                assert rules.usable_pods() == {p.index for p in expected if p.ready} or {
                    p.index for p in expected if p.serving
                }
        elif live:
            _, which, node = change
            pod = list(live.values())[which % len(live)]
            if kind == "bind" and pod.node is None:
                pod.node = node
                slices.add(pod)
            elif kind == "delete":
                pod.gone_at = 1.0
                del live[pod.index]
                slices.remove(pod)
            elif kind in ("ready", "unready"):
                pod.condition_ready = kind == "ready"
                slices.touch(pod)  # as ControlPlane.set_condition_ready does
            elif kind == "terminate":
                pod.terminating_at = 1.0
                slices.touch(pod)  # as ControlPlane.set_terminating does


def test_rules_arrays_are_shared_read_only():
    """Nodes install the same arrays: no node can change what another routes to."""
    live: dict[int, Pod] = {}
    slices = EndpointSlices(service_ports(SERVICES), NAMED_PORTS, ZONES, live)
    for i in range(4):
        pod = live[i] = _pod(i, f"web-{i}", "web", i)
        pod.condition_ready = True
        slices.add(pod)
    rules = slices.rules(0)
    for array in (rules.pods, rules.nodes, rules.ready, rules.views.usable, rules.views.local(1)):
        assert not array.flags.writeable
    assert rules.views.usable.tolist() == [0, 1, 2, 3]


# -- cost of one scale event (counted, not timed) ---------------------------------------------


def _counted_scale_up(monkeypatch: pytest.MonkeyPatch, replicas: int) -> dict[str, int]:
    """Scale 2 -> ``replicas`` on 4 nodes at 1 s; count the endpoint work the run does."""
    counts: dict[str, int] = defaultdict(int)
    rules, install, record = EndpointSlices.rules, Dataplane.install, ControlPlane._row

    def counted_rules(self: EndpointSlices, port: int) -> Rules:
        counts["rules"] += 1
        made = rules(self, port)
        counts["endpoints read"] += len(made.pods)
        return made

    def counted_install(self: Dataplane, port: int, made: Rules) -> None:
        counts["installs"] += 1
        install(self, port, made)

    def counted_row(self: ControlPlane, *args: Any, **kwargs: Any) -> dict[str, Any]:
        counts["rows"] += 1
        counts["changes"] = self.slices.changes
        return record(self, *args, **kwargs)

    ready = Pod.ready.fget
    assert ready is not None

    def counted_ready(pod: Pod) -> bool:
        counts["ready reads"] += 1  # per-pod work anywhere: endpoints, timeline rows, controllers
        return ready(pod)

    monkeypatch.setattr(Pod, "ready", property(counted_ready))
    monkeypatch.setattr(EndpointSlices, "rules", counted_rules)
    monkeypatch.setattr(Dataplane, "install", counted_install)
    monkeypatch.setattr(ControlPlane, "_row", counted_row)
    result = sim.simulate(
        scenario(nodes=4, replicas=2, rate=50.0, duration=3.0, events=[(1.0, replicas)], sync_delay="100ms")
    )
    assert len(result.pods) == replicas
    return dict(counts)


def test_one_scale_event_does_endpoint_work_linear_in_the_pods_it_adds(monkeypatch):
    """Scaling 2 -> 50 and 2 -> 400 pods: the new pods enter the endpoints once each, the
    endpoints are read (and every node installs them) the same few times whatever N is, so the
    work is O(N): before issue 13 each pod created, Ready, ... rescanned every live pod."""
    small, large = (_counted_scale_up(monkeypatch, n) for n in (50, 400))
    assert (small["changes"], large["changes"]) == (50, 400)  # each pod entered the endpoints once
    assert small["rules"] == large["rules"] <= 6  # start, and one snapshot per instant pods changed at
    assert small["installs"] == large["installs"] == 4 * small["rules"]  # 4 nodes, 1 port
    # Endpoints read per snapshot: at most the pods alive, so the total is O(N).
    assert large["endpoints read"] <= small["rules"] * 400
    assert large["rows"] - small["rows"] == pytest.approx(2 * (400 - 50), abs=5)  # created, Ready: O(1) each
    # Every look at a pod's readiness, by anyone: a bounded number per pod (it was one per pod
    # alive per timeline row: 400 pods made 400 × 800 reads).
    assert large["ready reads"] <= 25 * 400
    assert large["ready reads"] / small["ready reads"] <= 1.5 * 400 / 50


def test_timeline_counts_are_those_of_the_live_pods():
    """The counts kept as pods change (pods_total, pods_ready, endpoints) equal the live pods'
    at every row of a run with scale-up, scale-down and a readiness delay."""
    rows: list[tuple[dict[str, Any], int, int, int]] = []
    original = ControlPlane._row

    def checked(self: ControlPlane, deployment: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        row = original(self, deployment, *args, **kwargs)
        live = [p for p in self._live.values() if p.deployment == deployment]
        # The endpoints from scratch, as every row once rescanned them: pods some node's
        # dataplane (or a balancer sending to pod IPs) routes to now.
        routed: set[int] = set()
        for extra in self.balancer_routes:
            routed.update(extra())
        for plane in self.dataplanes:
            for port in range(self.n_ports):
                routed.update(plane.external[port].tolist())
                routed.update(plane.internal[port].tolist())
        endpoints = sum(1 for i in routed if self.pods[i].deployment == deployment)
        rows.append((row, len(live), sum(p.ready for p in live), endpoints))
        return row

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ControlPlane, "_row", checked)
        sim.simulate(
            scenario(
                nodes=3, replicas=3, startup="300ms", sync_delay="200ms", events=[(1.0, 9), (2.0, 2)], duration=4.0
            )
        )
    assert len(rows) > 20
    for row, total, ready, endpoints in rows:
        assert (row["pods_total"], row["pods_ready"], row["endpoints"]) == (total, ready, endpoints)
    assert len({row["endpoints"] for row, *_ in rows}) > 2  # the endpoints changed along the run
