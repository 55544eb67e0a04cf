"""Servers that push back: queueLimit, maxConnections and onCancel, against queueing theory.

Seeds are fixed; each tolerance says where it comes from. A pod with c workers and
``queueLimit: N`` is an M/M/c/K queue with K = c + N; ``maxConnections: K`` with
per-request connections is the same queue answering with ``refused`` instead of
``rejected``. A client timeout T with ``onCancel: drop`` and no network delay is the
M/M/1+D queue (deterministic patience known at arrival: a request is served only if the
work ahead of it ends within T).
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from scenario_text import scenario

import sim


def mmck_blocking(lam: float, mu: float, c: int, k: int) -> float:
    """Erlang's loss formula generalised to a waiting room: P(K in system) in M/M/c/K.

    p_n ∝ a^n/n! for n < c and a^n/(c!·c^(n−c)) for c ≤ n ≤ K, a = λ/μ; arrivals see p_K (PASTA).
    """
    a = lam / mu
    terms = [a**n / math.factorial(n) for n in range(c)]
    terms += [a**n / (math.factorial(c) * c ** (n - c)) for n in range(c, k + 1)]
    return terms[-1] / sum(terms)


def mm1_patience_goodput(lam: float, mu: float, patience: float) -> float:
    """Ok answers per second in M/M/1+D: served within ``patience`` of arrival, FIFO.

    The virtual waiting time V has an atom p0 at 0 and density λ·p0·e^{−(μ−λ)x} on
    [0, τ], λ·p0·e^{−(μ−λ)τ}·e^{−μ(x−τ)} above it (an arrival with V > τ is dropped
    and adds no work); an arrival succeeds if V + S ≤ τ:
    goodput = λ·p0·[(1 − e^{−μτ}) + λ(1 − e^{−(μ−λ)τ})/(μ − λ) − e^{−μτ}(e^{λτ} − 1)].
    """
    d = mu - lam
    p0 = 1 / (1 + lam * (1 - math.exp(-d * patience)) / d + lam * math.exp(-d * patience) / mu)
    tail = math.exp(-mu * patience)
    return lam * p0 * ((1 - tail) + lam * (1 - math.exp(-d * patience)) / d - tail * (math.exp(lam * patience) - 1))


def _window(result: sim.Result, warmup: float) -> pd.DataFrame:
    requests = result.requests
    return requests[requests["t_sent"] >= warmup]


@pytest.mark.parametrize(
    ("workers", "queue_limit", "rate"),
    [(1, 3, 100.0), (3, 5, 250.0), (2, 0, 300.0)],
)
def test_queue_limit_blocks_as_mmck_predicts(workers, queue_limit, rate):
    """Share of requests answered ``rejected`` = p_K of M/M/c/K (μ = 100/s, seed 5).

    Tolerance 3 % relative: the measured standard error over 10 replications is under
    0.7 % for these runs (1 500 s, 150 000 to 450 000 requests)."""
    result = sim.simulate(
        scenario(rate=rate, concurrency=workers, duration=1500.0, warmup=50.0, workload={"queueLimit": queue_limit}),
        seed=5,
    )
    window = _window(result, 50.0)
    assert set(window["outcome"].unique()) <= {"ok", "rejected"}
    blocked = (window["outcome"] == "rejected").mean()
    assert blocked == pytest.approx(mmck_blocking(rate, 100.0, workers, workers + queue_limit), rel=0.03)


def test_max_connections_refuses_as_mmck_predicts():
    """maxConnections: 4 with 2 workers and per-request connections is M/M/2/4, refused (seed 6, 3 %)."""
    result = sim.simulate(
        scenario(rate=180.0, concurrency=2, duration=1500.0, warmup=50.0, workload={"maxConnections": 4}), seed=6
    )
    window = _window(result, 50.0)
    assert set(window["outcome"].unique()) <= {"ok", "refused"}
    refused = (window["outcome"] == "refused").mean()
    assert refused == pytest.approx(mmck_blocking(180.0, 100.0, 2, 4), rel=0.03)


def test_a_rejected_request_is_answered_at_once_and_takes_no_worker():
    result = sim.simulate(scenario(rate=300.0, duration=20.0, workload={"queueLimit": 0}, client_to_node="1ms"), seed=2)
    requests = result.requests
    rejected = requests[requests["outcome"] == "rejected"]
    assert len(rejected) > 1000
    assert rejected["latency"].to_numpy() == pytest.approx(0.002)  # 1 ms there, 1 ms back
    busy = result.pods["utilisation"].iloc[0]
    assert busy < 1.0
    served = requests[requests["outcome"] == "ok"]
    assert len(served) * 0.010 / 20.0 == pytest.approx(busy, rel=0.05)  # only served requests did work


def _goodput(on_cancel: str, *, workload: dict | None = None, seed: int = 3) -> float:
    """Ok answers per second over capacity (100/s) at twice the capacity, timeout 1 s."""
    result = sim.simulate(
        scenario(
            duration=600.0,
            warmup=60.0,
            workload={"onCancel": on_cancel, **(workload or {})},
            clients=[{"name": "c0", "rate": 200.0, "timeout": "1s"}],
        ),
        seed=seed,
    )
    return result.summary["throughput_rps"] / 100.0


def test_drop_keeps_the_goodput_theory_predicts_and_finish_collapses():
    """At 2× capacity with a 1 s client timeout (μ = 100/s, λ = 200/s, seed 3):

    - ``finish``: the queue grows without bound, every request waits longer than the
      client does, and the pod spends all its time on answers nobody reads: goodput → 0
      (under 2 % of capacity here);
    - ``drop``: abandoned requests never start, so the pod's time goes to requests still
      wanted; with FIFO the survivors have waited almost the whole timeout, so goodput
      is M/M/1+D's, 50.0 % of capacity (within 3 %: the standard error over 10
      replications of 540 s is 0.8 %);
    - ``drop`` and ``queueLimit: 10``: nothing waits longer than ~100 ms, far inside the
      timeout, so almost every served request is answered in time: above 95 %.
    """
    assert _goodput("finish") < 0.02
    assert _goodput("drop") == pytest.approx(mm1_patience_goodput(200.0, 100.0, 1.0) / 100.0, rel=0.03)
    assert _goodput("drop", workload={"queueLimit": 10}) > 0.95


def test_a_dropped_request_is_a_timeout_at_the_clients_deadline_and_takes_no_worker():
    result = sim.simulate(scenario(duration=30.0, clients=[{"name": "c0", "rate": 300.0, "timeout": "200ms"}]), seed=4)
    requests = result.requests
    timed_out = requests[requests["outcome"] == "timeout"]
    assert len(timed_out) > 1000
    assert timed_out["latency"].to_numpy() == pytest.approx(0.2)
    assert timed_out["pod"].notna().all()  # it reached the pod, which dropped it
    finished = sim.simulate(
        scenario(
            duration=30.0, workload={"onCancel": "finish"}, clients=[{"name": "c0", "rate": 300.0, "timeout": "200ms"}]
        ),
        seed=4,
    )
    assert (finished.requests["outcome"] == "ok").sum() < (requests["outcome"] == "ok").sum() / 10


@pytest.mark.parametrize(
    "workload",
    [{"queueLimit": 2}, {"maxConnections": 3}, {"onCancel": "finish"}, {"queueLimit": 1, "maxConnections": 2}],
)
def test_both_engines_push_back_alike(workload):
    text = scenario(
        replicas=3,
        nodes=2,
        concurrency=2,
        duration=20.0,
        client_to_node={"distribution": "exponential", "mean": "1ms"},
        node_to_node="0.5ms",
        workload=workload,
        clients=[{"name": "c0", "rate": 700.0, "timeout": "150ms"}],
        events=[(8.0, 1), (14.0, 4)],
    )
    batch = sim.simulate(text, seed=9, engine="batch")
    events = sim.simulate(text, seed=9, engine="events")
    assert batch.summary["engine"] == "batch"
    pd.testing.assert_frame_equal(batch.requests, events.requests)
    assert set(batch.requests["outcome"].unique()) & {"rejected", "refused", "timeout"}


def test_a_calling_pod_pushes_back_too_and_results_do_not_depend_on_batch_length():
    """A pod that calls other Services queues in the event engine's own bookkeeping; its
    queue limit holds there too (rejected), with keep-alive, lc and scale events, and the
    tables are the same for any batch length."""
    from test_service_types import TIERS  # noqa: PLC0415

    text = (
        TIERS.replace("GRACE", "30")
        .replace("BACKMS", "6ms")
        .replace("RATE", "700")
        .replace("concurrency: 2, calls:", "concurrency: 2, queueLimit: 1, calls:")
        .replace("mean: BACKMS}, concurrency: 2}", "mean: 6ms}, concurrency: 2, maxConnections: 3}")
    )
    runs = [sim.simulate(sim.load_scenario(text), batch_s=b) for b in (0.001, 0.37)]
    pd.testing.assert_frame_equal(runs[0].requests, runs[1].requests)
    outcomes = runs[0].requests["outcome"].value_counts()
    assert outcomes["rejected"] > 0
    assert outcomes["ok"] > 0


@pytest.mark.parametrize("workload", [{"queueLimit": 0}, {"maxConnections": 1}, {}])
@pytest.mark.parametrize("engine", ["batch", "events"])
def test_a_gone_pod_answers_nothing_even_with_limits(workload, engine):
    """The only pod is deleted at 1 s, its app exits on SIGTERM (its queue is reset then), and it
    leaves the dataplanes 0.5 s later: what still reaches it meanwhile meets a pod with no
    listener, whatever its limits, and is refused (not rejected by the dead app's stale queue);
    after that, no endpoint is left: refused too."""
    result = sim.simulate(
        scenario(
            rate=200.0,
            duration=3.0,
            grace=0,
            sync_delay="500ms",
            events=[(1.0, 0)],
            workload={**workload, "shutdown": {"onSigterm": "exit"}},
            service_time="30ms",
        ),
        seed=1,
        engine=engine,
    )
    requests = result.requests
    late = requests[(requests["t_sent"] > 1.0) & (requests["t_sent"] < 1.5)]
    assert len(late) > 50
    assert (late["outcome"] == "refused").all()


def test_a_calling_pods_queue_forgets_requests_whose_client_left():
    """front (one worker, 1 s of work, then a call; queueLimit 1) gets a request every 250 ms
    from a client that gives up after 100 ms: the one queued behind the busy worker has left
    by the time the next arrives, so nothing is ever rejected for a full queue: the queued
    ones are dropped (timeout), as at a pod without calls."""
    from test_retries import TWO_TIERS  # noqa: PLC0415

    text = (
        TWO_TIERS.replace("rate: 490000, retries: {attempts: ATTEMPTS}", "rate: 4, arrival: constant, timeout: 100ms")
        .replace("front: {serviceTime: 1ms, calls", "front: {serviceTime: 1s, queueLimit: 1, calls")
        .replace("duration: 50s", "duration: 10s")
    )
    result = sim.simulate(sim.load_scenario(text), seed=1)
    clients = result.requests[result.requests["client"] == "c0"]
    assert (clients["outcome"] == "timeout").sum() > 30
    assert (clients["outcome"] != "rejected").all()
