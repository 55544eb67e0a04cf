"""Endpoint-choice strategies plug in: a scheduler is one class in a registry.

A test-only IPVS scheduler registered here (and removed after) is accepted by validation,
runs, and decides the engine by what it declares, with no other change to svcsim.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

import sim
from sim.endpoint_choice import IPVS_SCHEDULERS, Connection, EndpointChoice, register

SCENARIO = """
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
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: web, ports: [{containerPort: 8080}]}]}
---
apiVersion: svcsim/v1alpha1
kind: Simulation
metadata: {name: toy}
spec:
  seed: 3
  duration: 2s
  cluster: {nodes: 2}
  kubeProxy: {mode: ipvs, scheduler: SCHEDULER}
  workloads:
    web: {serviceTime: 5ms}
  clients:
    - {name: c, target: {service: web}, rate: 100}
"""


@pytest.fixture
def toy_scheduler():
    """A scheduler that always takes the last endpoint in list order, registered for one test."""

    @register(IPVS_SCHEDULERS, "last")
    class Last(EndpointChoice):
        def choose(self, endpoints: Sequence[int], conn: Connection) -> int:
            return endpoints[-1]

    yield Last
    del IPVS_SCHEDULERS["last"]


def test_a_registered_scheduler_is_accepted_and_used(toy_scheduler):
    result = sim.simulate(sim.load_scenario(SCENARIO.replace("SCHEDULER", "last")))
    ok = result.requests[result.requests["outcome"] == "ok"]
    assert len(ok) > 150
    assert ok["pod"].nunique() == 1  # every node lists the same endpoints, in name order
    assert ok["pod"].iloc[0] == sorted(result.pods["pod"])[-1]
    assert result.summary["engine"] == "batch"  # it keeps no state, so the batch engine runs it


def test_a_scheduler_that_keeps_state_runs_on_the_event_engine(toy_scheduler):
    toy_scheduler.keeps_state = True
    result = sim.simulate(sim.load_scenario(SCENARIO.replace("SCHEDULER", "last")))
    assert result.summary["engine"] == "events"


def test_an_unregistered_scheduler_is_refused():
    with pytest.raises(sim.ScenarioError, match=r'spec.kubeProxy.scheduler: Unsupported value: .last.: supported values: "rr"'):
        sim.load_scenario(SCENARIO.replace("SCHEDULER", "last"))


@pytest.mark.parametrize("name", sorted(IPVS_SCHEDULERS))
def test_every_registered_scheduler_declares_itself(name):
    strategy = IPVS_SCHEDULERS[name]
    assert name in strategy.names
    assert not strategy.counts_connections or strategy.keeps_state  # counts are state
