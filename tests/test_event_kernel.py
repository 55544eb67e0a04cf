"""Differential test: the event engine's compiled kernel gives the run its Python handlers give.

:mod:`sim.runtime.requests.event_kernel` runs entries and arrivals of the horizons it covers;
``EventEngine.compiled = False`` makes every horizon run the Python handlers (the reference).
Each scenario here runs both ways on the event engine: the ``requests``, ``timeline`` and
``pods`` tables must be equal with exact float comparison (one random number drawn in another
order, or one tie broken another way, fails it). Each case also checks that the kernel did
run (a spy counts its horizons), so a case the kernel stopped covering fails loudly instead
of comparing Python with Python.

Cases: every shipped scenario the kernel covers, on the event engine (shortened; the lifecycle ones bring crashes
and restarts, node failures, rolling updates and scale events: gates, kills, DROP, REJECT,
terminating pods), and the reference workload with each IPVS scheduler the kernel implements,
keep-alive pools (``requestsPerConnection``, ``maxAge``) with random and least-connection
choice, and client timeouts that drop waiting requests. Seeds are the scenarios' own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import sim
from sim.bench import reference_scenario
from sim.runtime.requests import event_arrays
from sim.runtime.requests.events import EventEngine

#: Shipped scenarios the kernel never covers (their features run in Python): left out, as
#: comparing the Python handlers with themselves could not fail.
PYTHON_ONLY = {
    "clusterip-tiers",  # calls between Services
    "cluster-autoscaler",  # a client via loadBalancer
    "hpa-ramp",  # a client via loadBalancer
    "loadbalancer-local",  # a client via loadBalancer
    "session-affinity",  # sessionAffinity ClientIP
    "traffic-ramp",  # client retries
    "hpa-behavior",  # metered pods (the HPA reads their usage)
}
SCENARIOS = [
    p for p in sorted((Path(__file__).parent.parent / "scenarios").glob("*.yaml")) if p.stem not in PYTHON_ONLY
]
#: Simulated seconds per shipped scenario: enough to pass their first control events.
SHIPPED_S = 150.0


def _both_ways(scenario: sim.Scenario, monkeypatch: pytest.MonkeyPatch) -> tuple[sim.Result, sim.Result, int]:
    """The run with the kernel and without, and how many horizons the kernel ran."""
    runs = []
    real = event_arrays.EventArrays.run

    def counted(self: event_arrays.EventArrays, *args: object, **kwargs: object) -> object:
        runs.append(1)
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(event_arrays.EventArrays, "run", counted)
    compiled = sim.simulate(scenario, engine="events")
    monkeypatch.setattr(EventEngine, "compiled", False)
    python = sim.simulate(scenario, engine="events")
    return compiled, python, len(runs)


def _assert_same(compiled: sim.Result, python: sim.Result) -> None:
    for table in ("requests", "timeline", "pods"):
        a, b = getattr(compiled, table), getattr(python, table)
        assert a.equals(b), f"{table} differ"


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_shipped_scenarios_agree(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = sim.load_scenario(path.read_text())
    duration = min(scenario.simulation.duration_s, SHIPPED_S)
    scenario = scenario.with_changes({"simulation.spec.duration": f"{duration!r}s"})
    compiled, python, horizons = _both_ways(scenario, monkeypatch)
    _assert_same(compiled, python)
    assert horizons > 0, "the kernel ran no horizon"


def _reference(requests: int, kube_proxy: str = "", client: str = "") -> str:
    text = reference_scenario(requests, seed=3)
    if kube_proxy:
        text = text.replace("  workloads:", f"  kubeProxy: {kube_proxy}\n  workloads:")
    return text.replace("arrival: poisson}", f"arrival: poisson{client}}}")


CASES = {
    "rr": _reference(6000, "{mode: ipvs, scheduler: rr}"),
    "wrr": _reference(6000, "{mode: ipvs, scheduler: wrr}"),
    "lc": _reference(6000, "{mode: ipvs, scheduler: lc}"),
    "sed": _reference(6000, "{mode: ipvs, scheduler: sed}"),
    "nq": _reference(6000, "{mode: ipvs, scheduler: nq}"),
    "keepalive-random": _reference(
        6000, client=", connections: {mode: keepalive, count: 5, requestsPerConnection: 20}"
    ),
    "keepalive-lc-max-age": _reference(
        6000, "{mode: ipvs, scheduler: lc}", ", connections: {mode: keepalive, count: 3, maxAge: 2s}"
    ),
    "lc-timeouts-drop": _reference(6000, "{mode: ipvs, scheduler: lc}", ", timeout: 25ms").replace(
        "concurrency: 1}", "concurrency: 2}"
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_reference_variants_agree(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = sim.load_scenario(CASES[name])
    compiled, python, horizons = _both_ways(scenario, monkeypatch)
    _assert_same(compiled, python)
    assert horizons > 0, "the kernel ran no horizon"
    if name == "lc-timeouts-drop":  # the case must reach the rule it is about
        assert (python.requests["outcome"] == "timeout").any()


@pytest.mark.parametrize("variant", ["lc", "keepalive"])
def test_bench_variants_run_on_the_kernel(variant: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``svcsim bench``'s event-engine variants of the reference workload (issue 13's bar) are
    the kernel's case, and give the Python handlers' results."""
    scenario = sim.load_scenario(reference_scenario(3000, variant=variant))
    compiled, python, horizons = _both_ways(scenario, monkeypatch)
    assert compiled.summary["engine"] == "events"
    _assert_same(compiled, python)
    assert horizons > 0


def test_an_unknown_bench_variant_is_refused() -> None:
    with pytest.raises(ValueError, match="variant must be one of lc, keepalive"):
        reference_scenario(3000, variant="rr")


def test_the_kernel_leaves_streams_nobody_draws_from_unmade():
    """Laying streams out for the kernel must not draw a block for every pod: 60 pods behind
    IPVS lc, 20 requests; the pods that got none never made a generator (30 µs each)."""
    from sim.runtime.run import run

    text = reference_scenario(1000, variant="lc").replace("replicas: 6", "replicas: 60")
    scenario = sim.load_scenario(text).with_overrides(duration_s=20 / 420)
    record = run(scenario, 1)
    served = set(record.log.column("pod").tolist())
    idle = [pod for pod in record.pods if pod.index not in served]
    assert record.engine == "events" and len(idle) > 30
    assert all(pod.service._rng is None for pod in idle)
