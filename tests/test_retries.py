"""Clients that retry: the policy followed exactly, decisions that agree with the final
tables, the budget, and new connections that land on other pods.

Seeds are fixed in every test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scenario_text import scenario, scenario_yaml

import sim
from sim.runtime.requests.outcomes import OUTCOMES
from sim.scenario.run_limits import MAX_REQUESTS
from sim.scenario.simulation import Backoff


def retrying(retries: dict, *, rate: float = 50.0, timeout: str | None = None, **kwargs) -> sim.Scenario:
    client = {"name": "c0", "rate": rate, "retries": retries}
    if timeout is not None:
        client["timeout"] = timeout
    return scenario(clients=[client], **kwargs)


def test_retries_on_refused_follow_the_policy_exactly_when_the_only_pod_is_gone():
    """The Service's only pod is deleted at 2 s and killed at once (grace 0): from then on
    every try is refused at once. With 4 attempts and backoff 100 ms × 2 capped at
    250 ms without jitter, each request's tries are sent at t_done(previous) + 100, 200,
    250 ms, exactly, and the request ends refused after 4 tries."""
    result = sim.simulate(
        retrying(
            {
                "attempts": 4,
                "on": ["refused"],
                "backoff": {"initial": "100ms", "multiplier": 2, "max": "250ms", "jitter": "none"},
            },
            duration=6.0,
            events=[(2.0, 0)],
            grace=0,
            client_to_node="1ms",
        ),
        seed=11,
    )
    assert result.summary["engine"] == "events"
    tries = result.tries
    requests = result.requests
    late = requests[requests["t_sent"] > 2.5]
    assert len(late) > 100
    assert (late["outcome"] == "refused").all()
    assert (late["attempts"] == 4).all()
    waits = Backoff(0.1, 2.0, 0.25, "none")
    for request_id in late["request_id"].to_numpy()[:50]:
        mine = tries[tries["request_id"] == request_id].sort_values("attempt")
        assert mine["attempt"].tolist() == [1, 2, 3, 4]
        assert (mine["outcome"] == "refused").all()
        sent, done = mine["t_sent"].to_numpy(), mine["t_done"].to_numpy()
        assert sent[1:] - done[:-1] == pytest.approx([waits.base(n) for n in (1, 2, 3)], abs=1e-12)
        assert done - sent == pytest.approx(0.002)  # the RST comes back at once: 1 ms each way
    row = late.iloc[0]
    mine = tries[tries["request_id"] == row["request_id"]]
    assert row["t_sent"] == mine["t_sent"].min() and row["t_done"] == mine["t_done"].max()
    assert row["latency"] == pytest.approx(4 * 0.002 + 0.1 + 0.2 + 0.25)


@pytest.mark.parametrize("jitter", ["full", "equal", 0.2])
def test_jittered_backoff_stays_in_its_band(jitter):
    result = sim.simulate(
        retrying(
            {
                "attempts": 3,
                "on": ["refused"],
                "backoff": {"initial": "100ms", "multiplier": 3, "max": "2s", "jitter": jitter},
            },
            duration=6.0,
            events=[(1.0, 0)],
            grace=0,
        ),
        seed=12,
    )
    tries = result.tries.sort_values(["request_id", "attempt"])
    nxt = tries.groupby("request_id").shift(-1)
    has_next = nxt["t_sent"].notna()
    wait = (nxt["t_sent"] - tries["t_done"])[has_next].to_numpy()
    base = np.where(tries["attempt"][has_next] == 1, 0.1, 0.3)
    low, high = {"full": (0, 1), "equal": (0.5, 1), 0.2: (0.8, 1.2)}[jitter]
    assert len(wait) > 200
    assert (wait >= low * base - 1e-12).all() and (wait <= high * base + 1e-12).all()
    spread = wait / base
    assert spread.std() > 0.05  # jittered, not constant


@pytest.mark.parametrize("timeout", ["80ms", None])
def test_every_retry_decision_agrees_with_the_final_outcomes(timeout):
    """Retry on timeout, reset and rejected, through scale-downs with a grace period of 1 s
    (resets), a queue limit (rejected) and a timeout (or none: then only the answer, the
    reset or the pod's exit tells the client): a try is followed by another exactly when
    its final outcome is one the client retries and attempts are left."""
    text = scenario(
        replicas=3,
        nodes=2,
        duration=20.0,
        concurrency=2,
        client_to_node={"distribution": "exponential", "mean": "1ms"},
        workload={"queueLimit": 3},
        grace=1,
        events=[(5.0, 1), (9.0, 3), (13.0, 0), (15.0, 2)],
        clients=[
            {
                "name": "c0",
                "rate": 300.0,
                **({} if timeout is None else {"timeout": timeout}),
                "retries": {"attempts": 3, "on": ["timeout", "reset", "rejected"], "backoff": {"initial": "10ms"}},
            },
            {"name": "plain", "rate": 50.0},
        ],
    )
    result = sim.simulate(text, seed=5)
    tries = result.tries.sort_values(["request_id", "attempt"])
    retried_on = {"timeout", "reset", "rejected"}
    c0 = tries[tries["client"] == "c0"]
    nxt = c0.groupby("request_id")["attempt"].shift(-1)
    should = c0["outcome"].astype(str).isin(retried_on) & (c0["attempt"] < 3)
    assert (should == nxt.notna()).all()
    assert set(c0["outcome"].astype(str)) >= {"ok", "rejected"}
    plain = tries[tries["client"] == "plain"]
    assert (plain["attempt"] == 1).all()
    # The requests table is each request's last try.
    last = c0.groupby("request_id").tail(1).set_index("request_id")
    req = result.requests.set_index("request_id").loc[last.index]
    assert (req["outcome"].astype(str) == last["outcome"].astype(str)).all()
    assert (req["attempts"] == last["attempt"]).all()


def test_the_budget_caps_retries_in_flight():
    """An outage (every try refused at once) with 5 attempts: without a budget every request
    is tried 5 times; with budget 20 % and minRetryConcurrency 3, at most 3 retries are in
    flight (each waits at least its 100 ms backoff), so at most 30 retries a second."""
    policy = {"attempts": 5, "on": ["refused"], "backoff": {"initial": "100ms", "jitter": "none"}}
    free = sim.simulate(retrying(policy, rate=400.0, duration=10.0, events=[(0.5, 0)], grace=0), seed=2)
    capped = sim.simulate(
        retrying(
            {**policy, "budget": "20%", "minRetryConcurrency": 3}, rate=400.0, duration=10.0, events=[(0.5, 0)], grace=0
        ),
        seed=2,
    )
    late = free.tries[free.tries["t_sent"] > 2]
    assert (late["attempt"] > 1).sum() > 3 * (late["attempt"] == 1).sum()
    retries = capped.tries[(capped.tries["attempt"] > 1) & (capped.tries["t_sent"] > 2)]
    assert 0 < len(retries) / 8.0 <= 30.0 + 1e-9


def test_each_try_is_a_new_connection_and_can_land_on_another_pod():
    """Three pods, every try rejected by a full queue half the time: the retry's pod is
    another than the first try's about 2/3 of the time (random choice among 3)."""
    result = sim.simulate(
        retrying(
            {"attempts": 2, "on": ["rejected"], "backoff": {"initial": "1ms"}},
            rate=1200.0,
            replicas=3,
            duration=20.0,
            workload={"queueLimit": 0},
        ),
        seed=4,
    )
    tries = result.tries
    pairs = tries[tries["attempt"] == 1].merge(tries[tries["attempt"] == 2], on="request_id")
    assert len(pairs) > 2000
    moved = (pairs["pod_x"].astype(str) != pairs["pod_y"].astype(str)).mean()
    assert moved == pytest.approx(2 / 3, abs=0.05)
    assert (pairs["t_sent_y"] > pairs["t_done_x"]).all()


def test_retries_route_to_the_event_engine_and_refuse_the_batch_engine():
    text = retrying({"attempts": 2}, duration=1.0)
    with pytest.raises(ValueError, match="client retries"):
        sim.simulate(text, engine="batch")


def test_results_with_retries_do_not_depend_on_batch_length():
    text = retrying(
        {"attempts": 3, "on": ["rejected", "timeout"], "backoff": {"initial": "5ms"}, "budget": "10%"},
        rate=400.0,
        timeout="50ms",
        replicas=2,
        duration=10.0,
        workload={"queueLimit": 1},
        events=[(4.0, 1), (6.0, 3)],
    )
    runs = [sim.simulate(text, seed=8, batch_s=b) for b in (0.001, 0.3, 5.0)]
    for other in runs[1:]:
        pd.testing.assert_frame_equal(runs[0].requests, other.requests)
        pd.testing.assert_frame_equal(runs[0].tries, other.tries)


def test_tries_round_trip_through_a_run_folder(tmp_path):
    result = sim.simulate(
        retrying({"attempts": 2, "on": ["refused"]}, duration=3.0, events=[(1.0, 0)], grace=0), seed=1
    )
    result.save(tmp_path / "run")
    loaded = sim.load_result(tmp_path / "run")
    pd.testing.assert_frame_equal(loaded.tries, result.tries)
    assert loaded.summary["retries"] == (result.tries["attempt"] > 1).sum() > 0
    assert list(OUTCOMES) == list(loaded.tries["outcome"].cat.categories)


def test_the_request_limit_counts_every_try_a_client_may_make(tmp_path):
    """d s at 2 000 req/s is within the limit (which depends on the machine's memory); with 3
    attempts each it may be three times that, over it: refused before anything runs, saying why."""
    seconds = MAX_REQUESTS // 4000  # 2 000 d <= MAX_REQUESTS < 6 000 d
    text = scenario_yaml(clients=[{"name": "c0", "rate": 2000.0, "retries": {"attempts": 3}}], duration=float(seconds))
    assert sim.load_scenario(text.replace("attempts: 3", "attempts: 1"))
    with pytest.raises(sim.ScenarioError) as info:
        sim.load_scenario(text)
    [problem] = info.value.problems
    assert problem.field == "spec.clients"
    assert f"up to {6000 * seconds:.3g} tries with every retry its clients may make" in problem.message
    assert problem.message.endswith("lower the rates or the duration or the retry attempts")


TWO_TIERS = """
apiVersion: v1
kind: Service
metadata: {name: front}
spec: {type: NodePort, selector: {app: front}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: back}
spec: {selector: {app: back}, ports: [{port: 80}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: front}
spec:
  replicas: 1
  selector: {matchLabels: {app: front}}
  template: {metadata: {labels: {app: front}}, spec: {containers: [{name: c, image: i}]}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: back}
spec:
  replicas: 1
  selector: {matchLabels: {app: back}}
  template: {metadata: {labels: {app: back}}, spec: {containers: [{name: c, image: i}]}}
---
apiVersion: svcsim/v1alpha1
kind: Simulation
metadata: {name: two-tiers}
spec:
  duration: 50s
  workloads:
    front: {serviceTime: 1ms, calls: [{service: back}]}
    back: {serviceTime: 1ms}
  clients:
    - {name: c0, target: {service: front}, rate: 490000, retries: {attempts: ATTEMPTS}}
"""


def test_the_request_limit_multiplies_every_try_by_the_calls_it_makes():
    """front calls back once per request: r req/s for 50 s is 50 r requests and as many calls,
    within the limit (which depends on the machine's memory); with 2 attempts each try makes its
    call too, up to 200 r rows: past it, refused."""
    rate = MAX_REQUESTS // 150  # 100 r <= MAX_REQUESTS < 200 r
    two_tiers = TWO_TIERS.replace("rate: 490000", f"rate: {rate}")
    assert sim.load_scenario(two_tiers.replace("ATTEMPTS", "1"))
    with pytest.raises(sim.ScenarioError) as info:
        sim.load_scenario(two_tiers.replace("ATTEMPTS", "2"))
    [problem] = info.value.problems
    assert problem.field == "spec.workloads.front.calls"
    sent = f"{rate * 50 * 2:.3g}"
    assert f"about {rate * 50 * 4:.3g} requests expected: clients send {sent} (every try a retrying client may make)" in (
        problem.message
    )


def test_a_zero_timeout_and_a_repeated_outcome_are_refused():
    text = scenario_yaml(
        clients=[{"name": "c0", "rate": 1.0, "timeout": "0s", "retries": {"attempts": 2, "on": ["reset", "reset"]}}]
    )
    with pytest.raises(sim.ScenarioError) as info:
        sim.load_scenario(text)
    assert sorted((p.field, p.message) for p in info.value.problems) == [
        ("spec.clients[0].retries.on[1]", 'Duplicate value: "reset"'),
        ("spec.clients[0].timeout", "must be > 0"),
    ]


def test_a_try_reset_by_a_terminating_pod_is_retried_when_the_reset_reaches_the_client():
    """One pod of 3 s requests is deleted at 2 s (grace 1 s, but SIGKILL never sooner than 2 s after
    SIGTERM: at 4 s; endpoint gone 0.5 s after the deletion; an app that drains): every try it
    still holds or receives meanwhile is reset at 4 s, and retried 1 ms after its reset reaches
    the client, never when its work would have ended."""
    result = sim.simulate(
        retrying(
            {"attempts": 2, "on": ["reset"], "backoff": {"initial": "1ms", "jitter": "none"}},
            rate=5.0,
            service_time="3s",
            duration=5.0,
            grace=1,
            sync_delay="500ms",
            events=[(2.0, 0)],
            workload={"shutdown": {"onSigterm": "drain"}},
        ),
        seed=3,
    )
    tries = result.tries.sort_values(["request_id", "attempt"])
    first, second = tries[tries["attempt"] == 1], tries[tries["attempt"] == 2]
    pairs = first.merge(second, on="request_id", suffixes=("", "_retry"))
    assert len(pairs) >= 5
    assert (pairs["outcome"] == "reset").all()
    assert pairs["t_sent_retry"].to_numpy() == pytest.approx(pairs["t_done"].to_numpy() + 0.001, abs=1e-9)
    assert pairs["t_done"].max() < 4.01  # all reset at the kill, none at a would-be answer


def test_a_retry_comes_from_its_requests_source_address():
    """A client of 50 addresses: each retry is a new connection from the same host."""
    from sim.runtime.run import run  # noqa: PLC0415

    text = retrying(
        {"attempts": 3, "on": ["rejected"], "backoff": {"initial": "1ms"}},
        rate=600.0,
        replicas=3,
        duration=5.0,
        workload={"queueLimit": 0},
    )
    text = sim.load_scenario(text.to_yaml().replace("ips: 1", "ips: 50"))
    log = run(text, seed=5).log
    origin, ip = log.column("origin"), log.column("client_ip")
    retried = origin >= 0
    assert retried.sum() > 100
    assert (ip[retried] == ip[origin[retried]]).all()
    assert len(set(ip[retried].tolist())) > 40


def test_a_timed_out_keepalive_connection_is_replaced_so_retries_spread():
    """One keep-alive connection to 3 pods, tries timing out at 30 ms: the client closes a
    connection that timed out, so the retry opens a new one and kube-proxy chooses again."""
    text = scenario(
        replicas=3,
        service_time={"distribution": "exponential", "mean": "20ms"},
        duration=20.0,
        clients=[
            {
                "name": "c0",
                "rate": 120.0,
                "timeout": "30ms",
                "connections": {"mode": "keepalive", "count": 1},
                "retries": {"attempts": 3, "on": ["timeout"], "backoff": {"initial": "1ms"}},
            }
        ],
    )
    tries = sim.simulate(text, seed=5).tries
    assert (tries["attempt"] > 1).sum() > 100
    assert tries.loc[tries["attempt"] > 1, "pod"].nunique() == 3
    assert tries["pod"].value_counts().min() > 0.1 * len(tries)


def test_a_huge_backoff_multiplier_waits_the_cap_instead_of_overflowing():
    result = sim.simulate(
        retrying(
            {"attempts": 100, "on": ["refused"], "backoff": {"initial": "1ms", "multiplier": 1e6, "max": "10ms"}},
            rate=2.0,
            duration=3.0,
            replicas=0,
        ),
        seed=1,
    )
    assert (result.requests["attempts"] == 100).all()


def test_a_call_killed_with_its_pod_fails_its_request_when_it_happens_so_the_client_retries():
    """front calls back; back's only pod (2 s of work, grace 1 s, SIGKILL 2 s after SIGTERM at the
    least) is deleted at 5 s, so calls it holds are reset at 7 s. Their requests fail then (rejected), and the client, retrying on
    rejected, retries every one of them: its decisions agree with the tables."""
    text = (
        TWO_TIERS.replace("ATTEMPTS", "2")
        .replace("rate: 490000", "rate: 4, timeout: 10s")
        .replace("retries: {attempts: 2}", 'retries: {attempts: 2, "on": [rejected], backoff: {initial: 1ms}}')
        .replace("back: {serviceTime: 1ms}", "back: {serviceTime: 2s, concurrency: 50, shutdown: {onSigterm: drain}}")
        .replace("front: {serviceTime: 1ms, calls", "front: {serviceTime: 1ms, concurrency: 50, calls")
        .replace("duration: 50s", "duration: 9s\n  events: [{at: 5s, scale: {deployment: back, replicas: 0}}]")
        .replace(
            "template: {metadata: {labels: {app: back}}, spec: {containers: [{name: c, image: i}]}}",
            "template: {metadata: {labels: {app: back}}, spec: {terminationGracePeriodSeconds: 1, containers: "
            "[{name: c, image: i}]}}",
        )
    )
    result = sim.simulate(sim.load_scenario(text), seed=2)
    tries = result.tries[result.tries["client"] == "c0"].sort_values(["request_id", "attempt"])
    first = tries[tries["attempt"] == 1]
    killed = first[(first["outcome"] == "rejected") & first["t_done"].between(7.0, 7.01)]
    assert len(killed) >= 3  # calls reset with back's pod
    retried = set(tries.loc[tries["attempt"] == 2, "request_id"])
    assert set(killed["request_id"]) <= retried
    nxt = tries.groupby("request_id")["attempt"].shift(-1)
    should = (tries["outcome"] == "rejected") & (tries["attempt"] < 2)
    assert (should == nxt.notna()).all()


@pytest.mark.parametrize(
    ("client", "field"),
    [
        ({"rate": {"rmap": {"from": 1, "to": 2, "over": "1s"}}}, "spec.clients[0].rate.rmap"),
        (
            {"rate": 5, "retries": {"attempts": 2, "budgt": "20%", "minRetryConcurrency": 3}},
            "spec.clients[0].retries.budgt",
        ),
    ],
    ids=["profile", "budget"],
)
def test_a_misspelt_key_is_one_problem_not_two(client, field):
    with pytest.raises(sim.ScenarioError) as info:
        sim.load_scenario(scenario_yaml(clients=[{"name": "c0", **client}]))
    assert [p.field for p in info.value.problems] == [field]
