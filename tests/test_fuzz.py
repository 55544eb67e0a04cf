"""Fuzzing in the suite: generated scenarios across every feature, and broken ones.

**Valid scenarios.** :func:`every_feature` starts from the differential test's generator
(everything the batch engine runs) and adds what needs the event engine: keep-alive
connections, ``sessionAffinity: ClientIP`` on targeted Services, every IPVS scheduler,
clients through the load balancer, and calls between Services, cycles included (a Service
calling itself or two calling each other, with short call timeouts), and HorizontalPodAutoscalers
on any metric svcsim produces, synced every 0.1-0.3 s so they act within the short runs. Every
run must keep:

- conservation: request ids are 0..n-1, each request has exactly one outcome, finite times,
  ``t_done >= t_sent`` and ``latency == t_done - t_sent``;
- capacity: a pod never holds more requests at once than its ``concurrency`` (checked on the
  run's own columns, ``t_start`` and ``service_s``);
- autoscaling: every sync sets a count within [min, max] (unless scaling is disabled at 0
  replicas), one metric row per metric, NaN only as a metric's unavailable value, and each
  rescale is the Deployment's ``scale to N`` row at that instant;
- determinism: the same seed gives the same tables;
- agreement: where the batch engine can run it, it gives the event engine's tables.

**Broken scenarios.** :func:`broken` takes a valid scenario and breaks its Simulation
document (an unknown field, a scalar turned into a nested list, a required field removed, a
number out of range); ``svcsim run`` must exit 2 with one ``error:`` line per problem naming
the file and the document, no traceback, and write nothing.

Seed policy: derandomized, no example database; each scenario carries its own seed. CI runs
the counts below; ``SVCSIM_LONG_TESTS=1`` or ``pytest --hypothesis-profile=long`` runs five
times as many (``tests/examples.py``).
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from examples import examples
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from test_engines_agree import assert_same_run, batch_scenarios

import sim
from sim.cli import main
from sim.endpoint_choice import IPVS_SCHEDULERS
from sim.runtime.requests.engine_choice import event_features
from sim.runtime.run import run

FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)


@st.composite
def every_feature(draw: st.DrawFn) -> str:
    """A valid scenario using any mix of svcsim's features."""
    docs = list(yaml.safe_load_all(draw(batch_scenarios())))
    simulation = docs[-1]
    spec = simulation["spec"]
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
    deployments = [d["metadata"]["name"] for d in docs if d["kind"] == "Deployment"]
    if draw(st.booleans()):
        spec["kubeProxy"] = {"mode": "ipvs", "scheduler": draw(st.sampled_from(sorted(IPVS_SCHEDULERS)))}
    for c in spec["clients"]:
        if draw(st.integers(0, 3)) == 0:
            c["connections"] = {
                "mode": "keepalive",
                "count": draw(st.integers(1, 4)),
                **({"requestsPerConnection": draw(st.integers(1, 20))} if draw(st.booleans()) else {}),
                **({"maxAge": draw(st.sampled_from(["100ms", "1s"]))} if draw(st.booleans()) else {}),
            }
        if draw(st.integers(0, 3)) == 0:
            c["retries"] = {
                "attempts": draw(st.integers(1, 4)),
                "on": draw(
                    st.lists(
                        st.sampled_from(["refused", "unreachable", "rejected", "reset", "timeout"]),
                        min_size=1,
                        max_size=3,
                        unique=True,
                    )
                ),
                "backoff": {
                    "initial": draw(st.sampled_from(["1ms", "20ms", "200ms"])),
                    "jitter": draw(st.sampled_from(["full", "equal", "none", 0.2])),
                },
                **({"budget": draw(st.sampled_from(["10%", "50%", 1]))} if draw(st.booleans()) else {}),
            }
        target = services[c["target"]["service"]]
        if draw(st.integers(0, 3)) == 0:
            target["spec"]["sessionAffinity"] = "ClientIP"
        outside = target["spec"].get("type") == "LoadBalancer" and c.get("location", "external") == "external"
        if outside and draw(st.booleans()):
            c["target"]["via"] = "loadBalancer"
            c["target"].pop("port", None)
            c.pop("nodes", None)
    if draw(st.integers(0, 2)) == 0:
        draw(lifecycle(docs))
    if draw(st.integers(0, 2)) == 0:
        draw(autoscaling(docs))
    called = [n for n, s in services.items() if s["spec"].get("clusterIP") != "None"]
    for name in deployments:
        if called and draw(st.integers(0, 2)) == 0:
            spec["workloads"][name]["calls"] = [
                {"service": draw(st.sampled_from(called)), "timeout": draw(st.sampled_from(["50ms", "300ms", "2s"]))}
                for _ in range(draw(st.integers(1, 2)))
            ]
    return yaml.safe_dump_all(docs, sort_keys=False, allow_unicode=True)


@st.composite
def lifecycle(draw: st.DrawFn, docs: list[dict[str, Any]]) -> None:
    """Pods that start, fail and roll (issue 10), added to ``docs`` in place: probes, preStop
    hooks, strategies, shutdown behaviour, probe failures, random crashes, and crash, node
    failure, recovery and rollout events inside the run."""
    spec = docs[-1]["spec"]
    duration = float(str(spec["duration"]).rstrip("s"))
    nodes = spec["cluster"]["nodes"]
    nodes = nodes if isinstance(nodes, int) else len(nodes)
    names = [d["metadata"]["name"] for d in docs if d["kind"] == "Deployment"]
    for doc in docs:
        if doc["kind"] != "Deployment":
            continue
        container = doc["spec"]["template"]["spec"]["containers"][0]
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            if draw(st.integers(0, 2)) == 0:
                container[probe] = {"tcpSocket": {"port": 80}, "periodSeconds": 1}
        if draw(st.booleans()):
            container["lifecycle"] = {"preStop": {"sleep": {"seconds": draw(st.integers(0, 1))}}}
        if draw(st.booleans()):
            doc["spec"]["strategy"] = draw(
                st.sampled_from([{"type": "Recreate"}, {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}, {}])
            )
    for name in names:
        workload = spec["workloads"][name]
        workload["shutdown"] = {"onSigterm": draw(st.sampled_from(["drain", "stopAccepting", "exit"]))}
        if draw(st.integers(0, 2)) == 0:
            workload["probeFailure"] = {"inFlightAbove": draw(st.integers(0, 3)), "waitAboveTimeout": True}
        if draw(st.integers(0, 2)) == 0:
            workload["failures"] = {"meanTimeBetween": draw(st.sampled_from(["300ms", "1s", "5s"]))}
    at = st.integers(1, int(duration * 10) - 1).map(lambda k: f"{k / 10!r}s")
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["crash", "fail", "rollout"]))
        if kind == "crash":
            spec["events"].append({"at": draw(at), "crash": {"deployment": draw(st.sampled_from(names))}})
        elif kind == "rollout":
            spec["events"].append({"at": draw(at), "rollout": {"deployment": draw(st.sampled_from(names))}})
        else:
            node = f"node-{draw(st.integers(1, nodes))}"
            spec["cluster"]["nodeMonitorGracePeriod"] = "1s"
            spec["events"].append({"at": draw(at), "fail": {"node": node}})
            if draw(st.booleans()):
                spec["events"].append({"at": f"{duration - 0.05!r}s", "recover": {"node": node}})


_HPA_METRICS = [
    ("resource", {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}),
    ("resource", {"name": "cpu", "target": {"type": "AverageValue", "averageValue": "20m"}}),
    ("resource", {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}}),
    (
        "containerResource",
        {"name": "cpu", "container": "FIRST", "target": {"type": "Utilization", "averageUtilization": 40}},
    ),
    (
        "pods",
        {"metric": {"name": "http_requests_per_second"}, "target": {"type": "AverageValue", "averageValue": "20"}},
    ),
    (
        "pods",
        {"metric": {"name": "http_requests_in_flight"}, "target": {"type": "AverageValue", "averageValue": "500m"}},
    ),
    (
        "object",
        {
            "metric": {"name": "requests_per_second"},
            "describedObject": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "SELF"},
            "target": {"type": "Value", "value": "50"},
        },
    ),
    ("external", {"metric": {"name": "requests_in_flight"}, "target": {"type": "AverageValue", "averageValue": "1"}}),
]


@st.composite
def autoscaling(draw: st.DrawFn, docs: list[dict[str, Any]]) -> None:
    """HorizontalPodAutoscalers (issue 11), added to ``docs`` in place: cpu and memory requests,
    one HPA per Deployment drawn, any metric svcsim produces, a behavior or the legacy path, and a
    controller and metrics-server fast enough (a sync every 0.1-0.3 s) to act within a short run."""
    spec = docs[-1]["spec"]
    kinds = {
        "resource": "Resource",
        "containerResource": "ContainerResource",
        "pods": "Pods",
        "object": "Object",
        "external": "External",
    }
    for doc in [d for d in docs if d["kind"] == "Deployment"]:
        if draw(st.booleans()):
            continue
        name = doc["metadata"]["name"]
        container = doc["spec"]["template"]["spec"]["containers"][0]
        container["resources"] = {"requests": {"cpu": draw(st.sampled_from(["10m", "50m", "200m"])), "memory": "64Mi"}}
        low = draw(st.integers(1, 3))
        metrics = []
        for source, body in draw(
            st.lists(st.sampled_from(_HPA_METRICS), min_size=1, max_size=2, unique_by=lambda m: m[0])
        ):
            text = yaml.safe_dump(body).replace("FIRST", str(container["name"])).replace("SELF", name)
            metrics.append({"type": kinds[source], source: yaml.safe_load(text)})
        hpa: dict[str, Any] = {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": low,
            "maxReplicas": draw(st.integers(low, 8)),
            "metrics": metrics,
        }
        if draw(st.booleans()):
            hpa["behavior"] = {
                "scaleUp": {
                    "stabilizationWindowSeconds": 0,
                    "policies": [{"type": "Pods", "value": draw(st.integers(1, 4)), "periodSeconds": 1}],
                },
                "scaleDown": {
                    "stabilizationWindowSeconds": draw(st.sampled_from([0, 1])),
                    "selectPolicy": draw(st.sampled_from(["Max", "Min", "Disabled"])),
                },
            }
        docs.insert(
            -1,
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": name},
                "spec": hpa,
            },
        )
        workload = spec["workloads"][name]
        if draw(st.booleans()):
            workload["cpu"] = {
                "perRequest": draw(st.sampled_from(["1ms", "5ms"])),
                "idle": draw(st.sampled_from(["0", "5m"])),
            }
        if draw(st.booleans()):
            workload["memory"] = {"base": "50Mi", "perRequest": "1Mi"}
    spec["cluster"]["metrics"] = {"resolution": draw(st.sampled_from(["100ms", "150ms"])), "rateWindow": "300ms"}
    spec["cluster"]["hpaController"] = {
        "syncPeriod": draw(st.sampled_from(["100ms", "200ms", "300ms"])),
        "downscaleStabilization": "500ms",
        "cpuInitializationPeriod": "400ms",
        "initialReadinessDelay": "100ms",
    }


def assert_hpas_keep_their_bounds(scenario: sim.Scenario, result: sim.Result) -> None:
    """Each sync sets a count within [min, max] (unless scaling is disabled at 0), records one
    metric row per metric, and a rescale is the Deployment's next ``scale to`` row."""
    hpas = {h.name: h for h in scenario.hpas}
    for row in result.hpa.itertuples():
        h = hpas[row.hpa]
        if row.current_replicas or not h.min_replicas:
            assert h.min_replicas <= row.desired_replicas <= h.max_replicas, row
        assert row.rescaled == (row.desired_replicas != row.current_replicas), row
        event(f"hpa: {'rescaled' if row.rescaled else 'kept'}")
    for name, h in hpas.items():
        assert (result.hpa_metrics["hpa"] == name).sum() == (result.hpa["hpa"] == name).sum() * len(h.metrics)
    metrics = result.hpa_metrics
    assert not metrics.drop(columns=["current"]).isna().any().any()
    timeline = result.timeline
    for row in result.hpa[result.hpa["rescaled"]].itertuples():
        scaled = timeline[(timeline["time"] == row.time) & (timeline["detail"] == f"hpa/{row.hpa}")]
        assert list(scaled["event"]) == [f"scale to {row.desired_replicas}"], row


def _load(text: str) -> sim.Scenario | None:
    """The scenario, or None where the added features made it invalid (e.g. a balancer client
    of a Service whose ports the generator named): those are the second test's business."""
    try:
        return sim.load_scenario(text)
    except sim.ScenarioError as err:
        note("\n".join(map(str, err.problems)))
        return None


def assert_conserved(req: pd.DataFrame) -> None:
    assert (req["request_id"].to_numpy() == np.arange(len(req))).all()
    assert req["outcome"].notna().all()
    t_sent, t_done = req["t_sent"].to_numpy(), req["t_done"].to_numpy()
    assert np.isfinite(t_sent).all() and np.isfinite(t_done).all()
    assert (t_done >= t_sent).all()
    assert np.array_equal(req["latency"].to_numpy(), t_done - t_sent)


def assert_within_capacity(scenario: sim.Scenario, seed: int) -> None:
    """No pod ever holds more requests than its workers (the run's own columns)."""
    record = run(scenario, seed)
    log = record.log
    pod, start, work = log.column("pod"), log.column("t_start"), log.column("service_s")
    took = (pod >= 0) & np.isfinite(start)
    for p in record.pods:
        mine = took & (pod == p.index)
        if mine.sum() <= p.concurrency:
            continue
        assert most_at_once(start[mine], start[mine] + work[mine]) <= p.concurrency, f"pod {p.name} over capacity"


def most_at_once(begin: np.ndarray, end: np.ndarray) -> int:
    """The most intervals [begin, end) open at one instant (one leaving and one arriving at the
    same instant do not overlap). Times are compared to the nanosecond: a calling pod's work
    is recorded as a duration (now - start), and start + duration may miss now by an ulp."""
    times = np.round(np.concatenate([begin, end]), 9)
    steps = np.concatenate([np.ones(len(begin)), -np.ones(len(end))])
    order = np.lexsort((steps, times))  # at one instant, leaving before arriving
    return int(np.cumsum(steps[order]).max())


@settings(FUZZ, max_examples=examples(120))
@given(text=every_feature())
def test_generated_scenarios_conserve_requests_respect_capacity_and_repeat(text):
    scenario = _load(text)
    if scenario is None:
        event("invalid after adding features")
        return
    note(text)
    first = sim.simulate(scenario)
    assert_conserved(first.requests)
    assert_hpas_keep_their_bounds(scenario, first)
    again = sim.simulate(scenario)
    assert_same_run(first, again)
    seed = first.summary["seed"]
    assert_within_capacity(scenario, seed)
    needs = event_features(scenario)
    for feature in needs:
        event(f"feature: {feature}")
    if not needs:
        assert_same_run(sim.simulate(scenario, engine="batch"), sim.simulate(scenario, engine="events"))
    for outcome, count in first.summary["outcomes"].items():
        if count:
            event(f"outcome: {outcome}")


# -- broken scenarios ---------------------------------------------------------------------------

_REQUIRED = [("serviceTime",), ("clients", 0, "target"), ("clients", 0, "rate"), ("duration",)]


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(node, dict):
        return [leaf for k, v in node.items() for leaf in _leaves(v, (*path, k))]
    if isinstance(node, list):
        return [leaf for i, v in enumerate(node) for leaf in _leaves(v, (*path, i))]
    return [path]


def _mappings(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    here = [path] if isinstance(node, dict) else []
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    return here + [m for k, v in children for m in _mappings(v, (*path, k))]


def _at(root: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        root = root[key]
    return root


@st.composite
def broken(draw: st.DrawFn) -> tuple[str, str]:
    """A scenario whose Simulation document is certainly invalid, and how it was broken."""
    docs = list(yaml.safe_load_all(draw(batch_scenarios())))
    spec = docs[-1]["spec"]
    how = draw(st.sampled_from(["unknown field", "nested list", "missing field", "out of range"]))
    if how == "unknown field":
        where = draw(st.sampled_from([m for m in _mappings(spec) if "labels" not in m]))  # labels are free-form
        _at(spec, where)["colour"] = "blue"
    elif how == "nested list":
        leaf = draw(st.sampled_from(_leaves(spec)))
        _at(spec, leaf[:-1])[leaf[-1]] = [[1]]
    elif how == "missing field":
        path = draw(st.sampled_from(_REQUIRED))
        if path == ("serviceTime",):
            path = ("workloads", next(iter(spec["workloads"])), "serviceTime")
        del _at(spec, path[:-1])[path[-1]]
    else:
        fields = [("duration",), ("clients", 0, "rate"), ("clients", 0, "start"), ("kubeProxy", "syncDelay")]
        field = draw(st.sampled_from(fields))
        _at(spec, field[:-1])[field[-1]] = draw(st.sampled_from([-1, -0.5, 10**30, "-3s"]))
    return yaml.safe_dump_all(docs, sort_keys=False), how


@settings(FUZZ, max_examples=examples(150))
@given(case=broken())
def test_broken_scenarios_exit_2_with_one_line_per_problem_and_write_nothing(case, tmp_path_factory):
    text, how = case
    event(how)
    folder = tmp_path_factory.mktemp("broken")
    path = folder / "scenario.yaml"
    path.write_text(text)
    out = folder / "out"
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["run", str(path), "--out", str(out), "--quiet", "--no-plots"])
    lines = err.getvalue().splitlines()
    note(text + "\n" + err.getvalue())
    assert code == 2
    errors = [line for line in lines if line.startswith("error: ")]
    assert errors and all(line.startswith(("error: ", "warning: ")) for line in lines)
    assert all(str(path) in line and "document" in line for line in errors)
    assert "Traceback" not in err.getvalue()
    assert not out.exists() or not any(Path(out).iterdir())


def test_the_capacity_check_can_fail():
    """The sweep the capacity property uses sees an overlap, and not a hand-over at one instant."""
    assert most_at_once(np.array([0.0, 0.5]), np.array([1.0, 1.5])) == 2
    assert most_at_once(np.array([0.0, 1.0]), np.array([1.0, 2.0])) == 1
