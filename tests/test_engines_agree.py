"""Differential test: the batch engine and the event engine give the same run, bit for bit.

The event engine is the reference semantics (one request at a time, in time order); the
vectorised batch engine claims to be an exact reordering of the same work for every
scenario it accepts. Here hypothesis writes small scenarios from everything the batch
engine can run, and each one runs with ``engine="batch"`` and ``engine="events"``: the
``requests``, ``timeline`` and ``pods`` tables must be equal with exact float comparison,
and the summaries equal except ``"engine"``. A single differing bit (a random number
drawn in another order, a tie broken another way, a request served after a sync it
should precede) fails the test and prints the scenario as YAML.

The scenarios cover: Services of type ClusterIP, NodePort and LoadBalancer (reached via
nodePort or clusterIP, never via the balancer), pod IPs; external clients and clients on
a node; ``nodes:`` subsets, several source addresses, a port by number or name; kube-proxy
iptables and nftables with several sync delays; per-request connections;
``externalTrafficPolicy`` and ``internalTrafficPolicy`` Cluster and Local;
``trafficDistribution`` PreferClose/PreferSameZone/PreferSameNode with zone labels on
nodes; ``nodeName`` and ``nodeSelector`` placement (some Pending); scale events, to 0 and
back; ``startupTime``; concurrency above 1; every service-time and latency distribution;
client ``timeout`` and ``connectTimeout``; every form of client ``rate`` (a number, ramp,
steps, sine, spike, an inline trace, step or linear) and ``start``/``stop`` windows;
``queueLimit``, ``maxConnections`` and ``onCancel`` drop or finish; short grace periods (``reset``);
``sessionAffinity: ClientIP`` on Services no client targets; two Services and two
Deployments, a Service selecting both; balancer health checks (Local, or straight to pod
IPs); warmup. Each scenario is small (1-4 nodes, 0-5 replicas, at most 2 s of traffic,
at most 200 requests/s per client) so one example runs in tens of milliseconds.

A second test does the same with kube-proxy in IPVS mode with the hashing schedulers
(``sh``, ``dh``, ``mh``), which are stateless per connection and so could run on the
batch engine. Today ``engine="batch"`` refuses IPVS; the test is skipped until it accepts
a tiny ``sh`` scenario, and then runs without change.

Seed policy: hypothesis runs derandomized (``derandomize=True``, no example database), so
every run of the suite generates the same scenarios and CI is reproducible; each scenario
carries its own simulation seed, drawn by hypothesis. The example counts live in
``tests/examples.py``. The long profile runs five times as many examples::

    SVCSIM_LONG_TESTS=1 python -m pytest -q tests/test_engines_agree.py
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest
import yaml
from examples import examples
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from scenario_text import DEPLOYMENT, SERVICE, scenario_yaml

import sim

#: Generated scenarios per run of the suite (``tests/examples.py`` scales them for the long profile).
EXAMPLES = examples(150)
IPVS_EXAMPLES = examples(50)

AGREE = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: Both engines advance in horizons ``batch_s`` apart besides every control event; the default
#: (4096 requests' worth, capped at 5 s) exceeds these runs, so short ticks are drawn too.
BATCH_S = st.sampled_from([None, None, 0.001, 0.05, 0.3])
IPVS_HASHING = st.fixed_dictionaries({"mode": st.just("ipvs"), "scheduler": st.sampled_from(["sh", "dh", "mh"])})

ZONE = "topology.kubernetes.io/zone"
API_SERVICE, API = "api-svc", "api"
STICKY_SERVICE = "sticky-svc"  # sessionAffinity ClientIP; no client ever targets it

# -- distributions ---------------------------------------------------------------------------

MS = st.integers(1, 40)
SERVICE_TIMES = st.one_of(
    MS.map(lambda ms: f"{ms}ms"),
    MS.map(lambda ms: {"distribution": "exponential", "mean": f"{ms}ms"}),
    MS.map(lambda ms: {"distribution": "constant", "mean": f"{ms}ms"}),
    st.tuples(MS, st.sampled_from([0.5, 1.0, 2.5])).map(
        lambda m: {"distribution": "lognormal", "mean": f"{m[0]}ms", "cv": m[1]}
    ),
    st.tuples(MS, st.sampled_from([0.3, 1.0, 3.0])).map(
        lambda m: {"distribution": "gamma", "mean": f"{m[0]}ms", "cv": m[1]}
    ),
    st.tuples(st.integers(0, 20), st.integers(1, 20)).map(
        lambda m: {"distribution": "uniform", "min": f"{m[0]}ms", "max": f"{m[0] + m[1]}ms"}
    ),
)
REPLICAS = st.sampled_from([3, 1, 2, 4, 5, 0])  # hypothesis favours the first: start with some pods
LINKS = st.one_of(
    st.sampled_from(["0ms", "200us", "1ms", "3ms"]),
    st.integers(1, 3).map(lambda v: {"distribution": "exponential", "mean": f"{v}ms"}),
    st.integers(1, 3).map(lambda v: {"distribution": "lognormal", "mean": f"{v}ms", "cv": 0.5}),
    st.integers(0, 2).map(lambda v: {"distribution": "uniform", "min": f"{v}ms", "max": f"{v + 1}ms"}),
)


# -- the generator ---------------------------------------------------------------------------


@st.composite
def scale_events(draw: st.DrawFn, duration: float) -> list[tuple[float, int]]:
    """Zero to three scale events at tenths of a second inside the run, to 0 replicas
    and back among them."""
    return [
        (draw(st.integers(0, int(duration * 10) - 1)) / 10, draw(st.sampled_from([0, 0, 1, 2, 3, 5])))
        for _ in range(draw(st.integers(0, 3)))
    ]


@st.composite
def node_list(draw: st.DrawFn, count: int) -> int | list[dict[str, Any]]:
    """A node count, or named nodes with zone and disk labels (for topology and nodeSelector)."""
    if not draw(st.booleans()):
        return count
    return [
        {
            "name": f"node-{i}",
            "labels": {ZONE: draw(st.sampled_from(["a", "b"])), "disk": draw(st.sampled_from(["ssd", "hdd"]))},
        }
        for i in range(1, count + 1)
    ]


@st.composite
def placement(draw: st.DrawFn, nodes: int) -> dict[str, Any]:
    """Pod-template fields that place pods: none, nodeName (maybe a node that does not
    exist: Pending), or a nodeSelector on a zone, disk or hostname label."""
    kind = draw(st.sampled_from(["none", "none", "nodeName", "nodeSelector"]))
    if kind == "nodeName":
        return {"nodeName": f"node-{draw(st.integers(1, nodes + 1))}"}
    if kind == "nodeSelector":
        key, value = draw(
            st.sampled_from(
                [
                    (ZONE, "a"),
                    ("disk", "ssd"),
                    ("kubernetes.io/hostname", f"node-{draw(st.integers(1, nodes))}"),
                    ("kubernetes.io/os", "linux"),
                ]
            )
        )
        return {"nodeSelector": {key: value}}
    return {}


@st.composite
def workload(draw: st.DrawFn) -> dict[str, Any]:
    """A Deployment's performance model: any service-time law, 1-4 workers, a start-up time,
    and sometimes a queue limit, a connection limit, or ``onCancel: finish``."""
    out = {
        "serviceTime": draw(SERVICE_TIMES),
        "concurrency": draw(st.sampled_from([1, 1, 2, 4])),
        "startupTime": draw(st.sampled_from(["0s", "100ms", "300ms", "1s"])),
    }
    if draw(st.booleans()):
        out["queueLimit"] = draw(st.integers(0, 5))
    if draw(st.booleans()):
        out["maxConnections"] = draw(st.integers(1, 8))
    if draw(st.booleans()):
        out["onCancel"] = draw(st.sampled_from(["drop", "finish"]))
    return out


@st.composite
def service_spec(draw: st.DrawFn, selector: dict[str, str]) -> dict[str, Any]:
    """A Service spec: any type, traffic policies, trafficDistribution, one or two ports."""
    kind = draw(st.sampled_from(["NodePort", "ClusterIP", "NodePort", "LoadBalancer"]))
    spec: dict[str, Any] = {"type": kind, "selector": selector}
    ports = [{"name": "web", "port": 80, "targetPort": draw(st.sampled_from([8080, "http"]))}]
    if draw(st.booleans()):
        ports.append({"name": "alt", "port": 81, "targetPort": draw(st.sampled_from([9090, "alt"]))})
    spec["ports"] = ports
    if kind != "ClusterIP":
        policy = draw(st.sampled_from([None, "Cluster", "Local", "Local"]))
        if policy is not None:
            spec["externalTrafficPolicy"] = policy
    if kind == "LoadBalancer" and draw(st.integers(0, 3)) == 0:
        spec["allocateLoadBalancerNodePorts"] = False
    internal = draw(st.sampled_from([None, "Cluster", "Local"]))
    if internal is not None:
        spec["internalTrafficPolicy"] = internal
    distribution = draw(st.sampled_from([None, None, "PreferClose", "PreferSameZone", "PreferSameNode"]))
    if distribution is not None:
        spec["trafficDistribution"] = distribution
    return spec


def _via_choices(spec: dict[str, Any]) -> list[str]:
    """How a client may reach the Service on the batch engine (never via the balancer)."""
    node_ports = spec["type"] == "NodePort" or (
        spec["type"] == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is not False
    )
    return (["nodePort", "nodePort", "nodePort"] if node_ports else []) + ["clusterIP", "clusterIP", "podIP"]


def _locations(via: str, nodes: int) -> list[str]:
    """Where a client may run, the likeliest first: outside for nodePort (half the time);
    on a node for clusterIP and podIP (from outside those end ``unreachable``)."""
    on_nodes = [f"node-{k}" for k in range(1, nodes + 1)]
    return ["external"] * nodes + on_nodes if via == "nodePort" else [*on_nodes, "external"]


@st.composite
def rates(draw: st.DrawFn, duration: float) -> Any:
    """A client's rate: mostly a number, else any profile; never 0 over a stretch, so any start-stop window sends."""
    rate = st.integers(10, 200)
    ms = st.integers(0, int(duration * 1000)).map(lambda v: f"{v}ms")
    kind = draw(st.sampled_from(["number", "number", "ramp", "steps", "sine", "spike", "trace"]))
    if kind == "ramp":
        return {
            "ramp": {
                "from": draw(st.integers(1, 200)),
                "to": draw(rate),
                "over": draw(ms.filter(lambda v: v != "0ms")),
                "at": draw(ms),
            }
        }
    if kind == "steps":
        return {
            "steps": [
                {"at": "0s", "rate": draw(rate)},
                {"at": f"{draw(st.integers(1, int(duration * 1000)))}ms", "rate": draw(st.integers(1, 200))},
            ]
        }
    if kind == "sine":
        mean = draw(rate)
        return {
            "sine": {
                "mean": mean,
                "amplitude": draw(st.integers(0, mean)),
                "period": draw(st.sampled_from(["200ms", "1s", "3s"])),
                "phase": draw(ms),
            }
        }
    if kind == "spike":
        return {
            "spike": {
                "base": draw(rate),
                "peak": draw(st.integers(1, 400)),
                "at": draw(ms),
                "duration": draw(st.sampled_from(["50ms", "300ms"])),
            }
        }
    if kind == "trace":
        times = sorted(draw(st.sets(st.integers(1, int(duration * 10)), max_size=3)))
        points = [[0, draw(rate)]] + [[t / 10, draw(st.integers(1, 200))] for t in times]
        return {"trace": points, "interpolate": draw(st.sampled_from(["step", "linear"]))}
    return draw(rate)


@st.composite
def client(
    draw: st.DrawFn, index: int, nodes: int, services: dict[str, dict[str, Any]], duration: float
) -> dict[str, Any]:
    """A per-request client of one of ``services``, with the optional fields sometimes set."""
    target_name = draw(st.sampled_from(sorted(services)))
    spec = services[target_name]
    via = draw(st.sampled_from(_via_choices(spec)))
    target: dict[str, Any] = {"service": target_name, "via": via}
    if len(spec["ports"]) > 1 or draw(st.booleans()):
        port = draw(st.sampled_from(spec["ports"]))
        target["port"] = draw(st.sampled_from([port["port"], port["name"]]))
    out: dict[str, Any] = {
        "name": f"c{index}",
        "location": draw(st.sampled_from(_locations(via, nodes))),
        "target": target,
        "rate": draw(rates(duration)),
        "arrival": draw(st.sampled_from(["poisson", "constant"])),
    }
    if draw(st.integers(0, 3)) == 0:
        tenths = int(duration * 10)
        start = draw(st.integers(0, tenths // 2))
        if start:
            out["start"] = f"{start / 10!r}s"
        if draw(st.booleans()):
            out["stop"] = f"{draw(st.integers(start + 1, tenths)) / 10!r}s"
    if draw(st.booleans()):
        out["nodes"] = [f"node-{k}" for k in sorted(draw(st.sets(st.integers(1, nodes), min_size=1)))]
    if draw(st.integers(0, 2)) == 0:
        ips = draw(st.integers(2, 8))
        if out["location"] == "external":  # on a node, further addresses would be other nodes' IPs
            out["ips"] = ips
    if draw(st.integers(0, 2)) == 0:
        out["connectTimeout"] = f"{draw(st.integers(10, 1500))}ms"
    if draw(st.integers(0, 2)) == 0:
        out["timeout"] = f"{draw(st.integers(5, 500))}ms"
    if draw(st.integers(0, 3)) == 0:
        out["connections"] = {"mode": "per-request"}
    return out


def _service(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def _deployment(name: str, replicas: int, pod_spec: dict[str, Any], ports: list[dict[str, Any]]) -> dict[str, Any]:
    labels = {"app": name, "part-of": "shop"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {**pod_spec, "containers": [{"name": "app", "image": name, "ports": ports}]},
            },
        },
    }


@st.composite
def batch_scenarios(draw: st.DrawFn, proxy: st.SearchStrategy[dict[str, Any]] | None = None) -> str:
    """Scenario YAML the batch engine accepts, built on :func:`scenario_text.scenario_yaml`.

    ``proxy`` draws the ``kubeProxy`` document (default: iptables or nftables).
    """
    nodes = draw(st.integers(1, 4))
    duration = draw(st.integers(5, 20)) / 10
    two = draw(st.booleans())
    web_ports = [{"name": "http", "containerPort": 8080}, {"name": "alt", "containerPort": 9090}]
    api_ports = [{"name": "http", "containerPort": 8080}]  # no "alt": a named targetPort "alt" skips api pods

    services = {SERVICE: draw(service_spec(draw(st.sampled_from([{"app": DEPLOYMENT}, {"part-of": "shop"}]))))}
    if two:
        services[API_SERVICE] = draw(service_spec({"app": API}))
    clients = [draw(client(i, nodes, services, duration)) for i in range(draw(st.integers(1, 3)))]
    targeted = {c["target"]["service"] for c in clients}
    for name, spec in services.items():
        if name not in targeted and draw(st.booleans()):
            spec["sessionAffinity"] = "ClientIP"  # legal on the batch engine: no client reaches it
    sticky = draw(st.booleans())

    web = draw(workload())
    base = scenario_yaml(
        nodes=nodes,
        replicas=draw(REPLICAS),
        service_time=web["serviceTime"],
        concurrency=web["concurrency"],
        startup=web["startupTime"],
        workload={k: v for k, v in web.items() if k in ("queueLimit", "maxConnections", "onCancel")},
        sync_delay=draw(st.sampled_from(["0s", "50ms", "300ms", "1s"])),
        client_to_node=draw(LINKS),
        node_to_node=draw(LINKS),
        clients=clients,
        events=draw(scale_events(duration)),
        duration=duration,
        warmup=draw(st.sampled_from([0.0, 0.0, 0.2, duration / 2])),
        seed=draw(st.integers(0, 2**32 - 1)),
    )
    service, deployment, simulation = yaml.safe_load_all(base)
    spec = simulation["spec"]

    service["spec"] = services[SERVICE]
    pod_spec = draw(placement(nodes))
    grace = draw(st.sampled_from([None, 0, 1, 30]))  # 0 and 1 s: requests in hand are reset
    if grace is not None:
        pod_spec["terminationGracePeriodSeconds"] = grace
    deployment = _deployment(DEPLOYMENT, deployment["spec"]["replicas"], pod_spec, web_ports)
    docs = [service, deployment]
    if two:
        docs.append(_service(API_SERVICE, services[API_SERVICE]))
        docs.append(_deployment(API, draw(REPLICAS), draw(placement(nodes)), api_ports))
        spec["workloads"][API] = draw(workload())
        spec["events"] += [
            {"at": f"{at!r}s", "scale": {"deployment": API, "replicas": n}} for at, n in draw(scale_events(duration))
        ]
    if sticky:
        affinity: dict[str, Any] = {
            "selector": {"part-of": "shop"},
            "ports": [{"port": 80, "targetPort": 8080}],
            "sessionAffinity": "ClientIP",
        }
        if draw(st.booleans()):
            affinity["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": draw(st.integers(1, 86400))}}
        docs.append(_service(STICKY_SERVICE, affinity))

    spec["cluster"]["nodes"] = draw(node_list(nodes))
    if any(s["type"] == "LoadBalancer" for s in services.values()):
        spec["cluster"]["loadBalancer"] = {
            "healthCheckInterval": draw(st.sampled_from(["100ms", "250ms", "1s"])),
            "provisioningDelay": draw(st.sampled_from(["0s", "500ms"])),
        }
    spec["kubeProxy"]["mode"] = draw(st.sampled_from(["iptables", "nftables"]))
    if proxy is not None:
        spec["kubeProxy"].update(draw(proxy))
    return yaml.safe_dump_all([*docs, simulation], sort_keys=False)


# -- comparing two runs ----------------------------------------------------------------------


def _same(x: Any, y: Any) -> bool:
    """Exact equality of two summaries, where NaN equals NaN (no ok request: no latency)."""
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(_same(x[k], y[k]) for k in x)
    if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
        return True
    return type(x) is type(y) and bool(x == y)


def assert_same_run(one: sim.Result, other: sim.Result) -> None:
    """The three tables exactly equal, and the summaries equal but for which engine ran."""
    pd.testing.assert_frame_equal(one.requests, other.requests, check_exact=True)
    pd.testing.assert_frame_equal(one.timeline, other.timeline, check_exact=True)
    pd.testing.assert_frame_equal(one.pods, other.pods, check_exact=True)
    rest_one = {k: v for k, v in one.summary.items() if k != "engine"}
    rest_other = {k: v for k, v in other.summary.items() if k != "engine"}
    assert _same(rest_one, rest_other), (rest_one, rest_other)


def _run(text: str, batch_s: float | None, engine: str | None) -> sim.Result:
    return sim.simulate(sim.load_scenario(text), batch_s=batch_s, engine=engine)


def _record_coverage(scenario: sim.Scenario, result: sim.Result) -> None:
    """What the example exercised, for ``--hypothesis-show-statistics``."""
    spec = scenario.simulation
    event(f"kube-proxy {spec.kube_proxy.mode}")
    for svc in scenario.services:
        event(f"Service type {svc.type}")
        event(
            f"externalTrafficPolicy {svc.external_traffic_policy}, internalTrafficPolicy {svc.internal_traffic_policy}"
        )
        if svc.traffic_distribution:
            event(f"trafficDistribution {svc.traffic_distribution}")
    for c in spec.clients:
        event(f"via {c.target.via} from {'outside' if c.location == 'external' else 'a node'}")
    if any(s.replicas == 0 for s in spec.events):
        event("scale to 0")
    counts = result.requests["outcome"].value_counts()
    for outcome in counts[counts > 0].index:
        event(f"outcome {outcome}")
    for name in set(result.timeline["event"]):
        if not str(name).startswith("scale to"):
            event(f"timeline {name}")


# -- the tests -------------------------------------------------------------------------------


@AGREE
@given(batch_scenarios(), BATCH_S)
def test_batch_and_event_engines_give_identical_tables(text, batch_s):
    """Every scenario the batch engine accepts gives the event engine's tables, bit for bit."""
    note(text)
    scenario = sim.load_scenario(text)
    batch = sim.simulate(scenario, batch_s=batch_s, engine="batch")
    events = sim.simulate(scenario, batch_s=batch_s, engine="events")
    assert (batch.summary["engine"], events.summary["engine"]) == ("batch", "events")
    _record_coverage(scenario, batch)
    assert_same_run(batch, events)


def test_the_comparison_sees_a_single_bit():
    """The check above can fail: one latency one ulp off, or one summary figure, is caught."""
    text = scenario_yaml(replicas=2, duration=1.0, rate=50)
    run = sim.simulate(sim.load_scenario(text))
    assert len(run.requests) > 0
    assert_same_run(run, sim.simulate(sim.load_scenario(text), engine="events"))
    nudged = sim.simulate(sim.load_scenario(text))
    nudged.requests.loc[0, "latency"] = math.nextafter(nudged.requests.loc[0, "latency"], math.inf)
    with pytest.raises(AssertionError):
        assert_same_run(run, nudged)
    nudged = sim.simulate(sim.load_scenario(text))
    nudged.summary["throughput_rps"] += 1e-12
    with pytest.raises(AssertionError):
        assert_same_run(run, nudged)


IPVS_SH = """
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {type: NodePort, selector: {app: web}, ports: [{port: 80}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template: {metadata: {labels: {app: web}}, spec: {containers: [{name: c, image: i}]}}
---
apiVersion: svcsim/v1alpha1
kind: Simulation
metadata: {name: ipvs-sh}
spec:
  seed: 1
  duration: 100ms
  kubeProxy: {mode: ipvs, scheduler: sh}
  workloads: {web: {serviceTime: 1ms}}
  clients: [{name: c, target: {service: web}, rate: 50}]
"""


def _batch_runs_ipvs_hashing() -> bool:
    """Whether ``engine="batch"`` accepts IPVS ``sh`` (it raises ValueError where it does not)."""
    try:
        sim.simulate(sim.load_scenario(IPVS_SH), engine="batch")
    except ValueError:
        return False
    return True


@pytest.mark.skipif(not _batch_runs_ipvs_hashing(), reason='engine="batch" does not run kube-proxy ipvs sh yet')
@settings(AGREE, max_examples=IPVS_EXAMPLES)
@given(batch_scenarios(proxy=IPVS_HASHING), BATCH_S)
def test_batch_and_event_engines_agree_on_ipvs_hashing(text, batch_s):
    """IPVS source, destination and Maglev hashing keep no state between connections, so
    once the batch engine runs them it must give the event engine's tables, and so must
    whichever engine ``engine=None`` picks."""
    note(text)
    events = _run(text, batch_s, "events")
    assert_same_run(_run(text, batch_s, "batch"), events)
    assert_same_run(_run(text, batch_s, None), events)
