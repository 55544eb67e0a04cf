"""Endpoint-choice strategies plug in: a scheduler is one class in a registry.

A test-only IPVS scheduler registered here (and removed after) is accepted by validation,
runs, and decides the engine by what it declares, with no other change to svcsim.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import yaml
from scenario_text import scenario_yaml

import sim
from sim.endpoint_choice import IPVS_SCHEDULERS, Connection, EndpointChoice, register


def toy_scenario(scheduler: str) -> str:
    """Three pods on two nodes behind a NodePort, 100 req/s for 2 s, kube-proxy in IPVS mode."""
    docs = list(
        yaml.safe_load_all(scenario_yaml(nodes=2, replicas=3, service_time="5ms", rate=100, duration=2.0, seed=3))
    )
    docs[-1]["spec"]["kubeProxy"] = {"mode": "ipvs", "scheduler": scheduler}
    return yaml.safe_dump_all(docs, sort_keys=False)


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
    result = sim.simulate(sim.load_scenario(toy_scenario("last")))
    ok = result.requests[result.requests["outcome"] == "ok"]
    assert len(ok) > 150
    assert ok["pod"].nunique() == 1  # every node lists the same endpoints, in name order
    assert ok["pod"].iloc[0] == sorted(result.pods["pod"])[-1]
    assert result.summary["engine"] == "batch"  # it keeps no state, so the batch engine runs it


def test_a_scheduler_that_keeps_state_runs_on_the_event_engine(toy_scheduler):
    toy_scheduler.keeps_state = True
    result = sim.simulate(sim.load_scenario(toy_scenario("last")))
    assert result.summary["engine"] == "events"


def test_an_unregistered_scheduler_is_refused():
    with pytest.raises(
        sim.ScenarioError, match=r'spec.kubeProxy.scheduler: Unsupported value: .last.: supported values: "rr"'
    ):
        sim.load_scenario(toy_scenario("last"))


@pytest.mark.parametrize("name", sorted(IPVS_SCHEDULERS))
def test_every_registered_scheduler_declares_itself(name):
    strategy = IPVS_SCHEDULERS[name]
    assert name in strategy.names
    assert not strategy.counts_connections or strategy.keeps_state  # counts are state
