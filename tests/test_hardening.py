"""Regressions from fuzzing (issue 8): inputs that once gave garbage, a crash or a wrong route.

Each test names what it proves; each failed on the code before its fix.
"""

from __future__ import annotations

import json

import numpy as np

import sim

BASE = """
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: REPLICAS
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: GRACE
      containers: [{name: web, image: web, ports: [{containerPort: 8080}]}]
"""

TWO_SERVICES = """
---
apiVersion: v1
kind: Service
metadata: {name: api}
spec:
  selector: {app: api}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  replicas: 2
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: api, image: api, ports: [{containerPort: 8080}]}]}
"""


def scenario(simulation: str, *, replicas: int = 2, grace: int = 30, extra: str = "") -> str:
    return BASE.replace("REPLICAS", str(replicas)).replace("GRACE", str(grace)) + extra + "---\n" + simulation


def simulation(
    workloads: str, clients: str, events: str = "[]", duration: str = "10s", sync: str = "1s", network: str = "{}"
) -> str:
    return f"""apiVersion: svcsim/v1alpha1
kind: Simulation
metadata: {{name: hardening}}
spec:
  seed: 1
  duration: {duration}
  cluster: {{nodes: 2, network: {network}}}
  kubeProxy: {{syncDelay: {sync}}}
  workloads: {workloads}
  clients: {clients}
  events: {events}
"""


def assert_sane(result: sim.Result) -> None:
    """Every request has one outcome and finite times; the summary is valid JSON."""
    req = result.requests
    assert req["outcome"].notna().all()
    assert np.isfinite(req["t_done"]).all() and np.isfinite(req["latency"]).all()
    assert (req["t_done"] >= req["t_sent"]).all()
    json.dumps(result.summary, allow_nan=False)


def test_a_service_calling_itself_ends_every_request_with_finite_numbers_and_a_warning():
    """One worker per pod and a call to its own Service: the inner call waits for the worker
    its parent holds. It gives up after its 2 s timeout, so the client request is rejected
    and the call ends ``timeout`` exactly 2 s after it was sent (calls below it in the chain
    are cancelled with it, a little sooner after they were sent); nothing stays NaN."""
    text = scenario(
        simulation(
            "{web: {serviceTime: 5ms, calls: [{service: web, timeout: 2s}]}}",
            "[{name: c, target: {service: web}, rate: 2}]",
        ),
    )
    loaded = sim.load_scenario(text)
    assert any("calls form a cycle (web → web)" in w for w in loaded.warnings)
    result = sim.simulate(loaded)
    assert_sane(result)
    req = result.requests
    calls = req[req["parent_id"].notna()]
    assert len(calls) and (calls["outcome"] == "timeout").all()
    first = calls[calls["parent_id"].isin(req[req["parent_id"].isna()]["request_id"])]
    assert np.allclose(first["latency"], 2.0, rtol=0, atol=1e-9)
    assert (calls["latency"] <= 2.0 + 1e-9).all()
    assert (req[req["parent_id"].isna()]["outcome"] == "rejected").all()


def test_two_services_calling_each_other_terminate_and_warn():
    """web calls api, api calls web, concurrency 2: the recursion stops at the first abandoned
    call, the number of calls is bounded, and every request ends."""
    text = scenario(
        simulation(
            "{web: {serviceTime: 5ms, concurrency: 2, calls: [{service: api, timeout: 1s}]},"
            " api: {serviceTime: 5ms, concurrency: 2, calls: [{service: web, timeout: 1s}]}}",
            "[{name: c, target: {service: web}, rate: 5}]",
            duration="4s",
        ),
        extra=TWO_SERVICES,
    )
    loaded = sim.load_scenario(text)
    assert any("calls form a cycle (api → web → api)" in w for w in loaded.warnings)
    result = sim.simulate(loaded)
    assert_sane(result)
    clients = (result.requests["parent_id"].isna()).sum()
    assert len(result.requests) < clients * 20  # bounded by the workers a chain can hold


def test_a_pod_released_by_one_sync_is_not_routed_again_by_the_next():
    """Scale 2 -> 1 at 1 s and 1 -> 0 at 1.001 s, syncDelay 1 s: the second snapshot lists both
    terminating pods as fallbacks, so the first pod must not exit when the first sync drops it.
    No request ends unreachable while a pod still serves."""
    text = scenario(
        simulation(
            "{web: {serviceTime: 2ms, shutdown: {onSigterm: drain}}}",
            "[{name: c, target: {service: web}, rate: 50}]",
            events="[{at: 1s, scale: {deployment: web, replicas: 1}},"
            " {at: 1.001s, scale: {deployment: web, replicas: 0}}]",
            duration="5s",
        )
    )
    result = sim.simulate(sim.load_scenario(text))
    assert (result.requests["outcome"] == "ok").all()
    assert result.pods["deleted"].isna().all()  # both keep serving into their grace period


def test_unreachable_requests_carry_no_pod_fields():
    """A request that reaches a pod after it has gone was answered by nobody: its pod fields are
    empty, as the README says (an app that exits on SIGTERM, nothing routes to it after the
    instant sync: the pod goes while requests are on their way)."""
    text = scenario(
        simulation(
            "{web: {serviceTime: 50ms, concurrency: 1, shutdown: {onSigterm: exit}}}",
            "[{name: c, target: {service: web}, rate: 100}]",
            events="[{at: 1s, scale: {deployment: web, replicas: 0}}]",
            duration="3s",
            sync="0s",
            network="{clientToNode: 1ms, nodeToNode: 100ms}",
        ),
        grace=0,
    )
    req = sim.simulate(sim.load_scenario(text), seed=2).requests
    unreachable = req[req["outcome"] == "unreachable"]
    assert len(unreachable)
    assert unreachable["pod"].isna().all() and unreachable["pod_node"].isna().all()


def test_a_long_queue_of_a_calling_pod_is_reset_without_recursion():
    """An overloaded pod that makes calls is scaled to 0: at its grace deadline thousands of
    queued requests are reset in one go. This once recursed and died with RecursionError."""
    text = scenario(
        simulation(
            "{web: {serviceTime: 10ms, calls: [{service: api}]}, api: {serviceTime: 1ms}}",
            "[{name: c, target: {service: web}, rate: 3000}]",
            events="[{at: 2s, scale: {deployment: web, replicas: 0}}]",
            duration="3s",
        ),
        replicas=1,
        grace=1,
        extra=TWO_SERVICES,
    )
    result = sim.simulate(sim.load_scenario(text))
    assert_sane(result)
    assert (result.requests["outcome"] == "reset").sum() > 2000


def test_a_local_service_with_no_endpoint_anywhere_refuses_and_drops_only_when_others_exist():
    """externalTrafficPolicy Local: with endpoints on another node only, the entry node drops
    the packet (timeout after connectTimeout); with no endpoint anywhere kube-proxy's "has no
    endpoints" REJECT applies (refused at once), as iptables/nftables proxier.go do."""
    local = BASE.replace("  type: NodePort\n", "  type: NodePort\n  externalTrafficPolicy: Local\n")
    clients = "[{name: c, target: {service: web}, nodes: [node-1], rate: 20, connectTimeout: 3s}]"
    elsewhere = (
        local.replace("REPLICAS", "1")
        .replace("GRACE", "30")
        .replace("      containers:", "      nodeName: node-2\n      containers:")
    )
    dropped = sim.simulate(sim.load_scenario(elsewhere + "---\n" + simulation("{web: {serviceTime: 1ms}}", clients)))
    assert (dropped.requests["outcome"] == "timeout").all()
    assert np.allclose(dropped.requests["latency"], 3.0)
    none = local.replace("REPLICAS", "0").replace("GRACE", "30")
    refused = sim.simulate(sim.load_scenario(none + "---\n" + simulation("{web: {serviceTime: 1ms}}", clients)))
    assert (refused.requests["outcome"] == "refused").all()
    assert (refused.requests["latency"] < 0.01).all()
