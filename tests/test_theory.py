"""Statistical checks against queueing theory and probability (STYLE.md, habit 9).

Every test fixes its seed and says its tolerance and where the tolerance comes from.
Tolerances on simulated means are 4 standard errors, the standard errors measured from
30 independent replications of the same scenario (seeds 101-130) unless a closed form
is given; a chi-square or KS test uses alpha = 0.001. With a fixed seed each test is a
deterministic check, and the tolerance keeps it meaningful: a model error of a few
percent fails it.
"""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import numpy as np
import pytest
from scenario_text import scenario
from scipy import stats

import sim
from sim.distributions import Constant, Distribution, Exponential, Gamma, LogNormal, Uniform
from sim.endpoint_choice import ChoiceContext, Connection, UniformRandom
from sim.randomness import Streams
from sim.runtime.dataplane import iptables_cascade_choice

ALPHA = 0.001


def erlang_c(c: int, a: float) -> float:
    """Erlang C: probability that an arrival waits in M/M/c with offered load a = λ/μ < c.

    C(c, a) = (a^c / c!) · c/(c − a)  /  ( Σ_{k=0}^{c−1} a^k/k!  +  (a^c / c!) · c/(c − a) )
    """
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


# -- single-server and multi-server queues -------------------------------------------


def test_mm1_sojourn_time_mean_and_p99_match_the_exponential_law():
    """M/M/1 (λ = 70/s, μ = 100/s, ρ = 0.7, zero network latency, seed 1).

    FIFO sojourn time T ~ Exponential(μ − λ): E[T] = 1/(μ − λ) = 33.33 ms and
    p99 = ln(100)/(μ − λ) = 153.5 ms. Run: 10 000 s (~700 000 requests), 100 s warm-up.
    Standard errors over 30 replications: 0.24 ms for the mean, 2.2 ms for p99, so the
    tolerances are ±1.0 ms (3 %) and ±9 ms (6 %).
    """
    result = sim.simulate(scenario(rate=70, duration=10_000.0, warmup=100.0), seed=1)
    mu, lam = 100.0, 70.0

    assert set(result.requests["outcome"].unique()) == {"ok"}
    latency = result.summary["latency_ms"]
    assert latency["mean"] == pytest.approx(1e3 / (mu - lam), abs=1.0)
    assert latency["p99"] == pytest.approx(1e3 * math.log(100) / (mu - lam), abs=9.0)


def test_mmc_waiting_and_sojourn_time_match_erlang_c():
    """M/M/3 (one pod, concurrency 3, λ = 240/s, μ = 100/s per worker, a = λ/μ = 2.4, seed 1).

    Erlang C gives P(wait) = C(3, 2.4) = 0.6472, mean wait Wq = C/(cμ − λ) = 10.79 ms and
    mean sojourn W = Wq + 1/μ = 20.79 ms. Run: 4 000 s (~960 000 requests), 40 s
    warm-up. Standard error of the mean sojourn over 30 replications: 0.16 ms, so the
    tolerance is ±0.65 ms (3 % of W, 6 % of Wq). The mean service time is 10 ms by
    construction, so a ±0.65 ms error in W is the same error in Wq.
    """
    c, lam, mu = 3, 240.0, 100.0
    result = sim.simulate(scenario(rate=lam, concurrency=c, duration=4_000.0, warmup=40.0), seed=1)
    wait_ms = 1e3 * erlang_c(c, lam / mu) / (c * mu - lam)
    sojourn_ms = wait_ms + 1e3 / mu

    assert erlang_c(c, lam / mu) == pytest.approx(0.6472, abs=1e-4)  # the formula, against a table value
    measured = result.summary["latency_ms"]["mean"]
    assert measured == pytest.approx(sojourn_ms, abs=0.65)  # so Wq = W - 1/μ is within ±0.65 ms too


@pytest.mark.parametrize(("concurrency", "rate"), [(1, 200.0), (3, 600.0)], ids=["c1", "c3"])
def test_utilisation_of_each_pod_is_its_arrival_rate_times_mean_service_time_over_workers(concurrency, rate):
    """Utilisation per pod ρ = λ_pod · E[S] / c, with λ_pod = λ / pods (uniform choice).

    4 pods on 2 nodes, E[S] = 10 ms exponential, seed 3, 2 000 s with 20 s warm-up
    (T = 1 980 s): c = 1 at λ = 200/s and c = 3 at λ = 600/s, both ρ = 0.5. Busy time is
    compound Poisson, so SE(ρ̂) = E[S] · sqrt(2 λ_pod / T) / c: 0.0022 and 0.0013; the
    tolerance is 4 SE.
    """
    pods = 4
    result = sim.simulate(
        scenario(nodes=2, replicas=pods, rate=rate, concurrency=concurrency, duration=2_000.0, warmup=20.0),
        seed=3,
    )
    lam_pod, mean_s, window = rate / pods, 0.010, 1_980.0
    expected = lam_pod * mean_s / concurrency
    se = mean_s * math.sqrt(2 * lam_pod / window) / concurrency
    utilisation = {name: p["utilisation"] for name, p in result.summary["pods"].items()}
    assert len(utilisation) == pods
    for name, value in utilisation.items():
        assert value == pytest.approx(expected, abs=4 * se), name


# -- kube-proxy's endpoint choice --------------------------------------------------------


def test_requests_split_evenly_over_pods_and_over_entry_nodes():
    """3 nodes × 2 pods, an external client spreading over all nodes, 60 000 requests, seed 5.

    kube-proxy picks each endpoint with probability 1/6 and the client each node with
    1/3; both hold overall and, for the pods, on each entry node separately (each
    node's dataplane draws on its own). Chi-square goodness of fit, alpha = 0.001 each.
    """
    result = sim.simulate(scenario(nodes=3, replicas=6, rate=1_000.0, duration=60.0), seed=5)
    req = result.requests
    assert len(req) > 55_000
    assert (req["outcome"] == "ok").all()
    assert sorted(result.pods["node"].value_counts().tolist()) == [2, 2, 2]

    by_pod = req["pod"].value_counts().reindex(result.pods["pod"]).to_numpy()
    assert len(by_pod) == 6
    assert stats.chisquare(by_pod).pvalue > ALPHA

    by_node = req["entry_node"].value_counts().to_numpy()
    assert len(by_node) == 3
    assert stats.chisquare(by_node).pvalue > ALPHA

    for node, rows in req.groupby("entry_node", observed=True):
        counts = rows["pod"].value_counts().reindex(result.pods["pod"]).to_numpy()
        assert stats.chisquare(counts).pvalue > ALPHA, node


def test_uniform_choice_can_be_told_apart_from_a_biased_one():
    """The chi-square check above has power: 60 000 picks with one of 6 pods at 1.05/6
    (others sharing the rest) is rejected at alpha = 0.001 (seed 5)."""
    rng = np.random.default_rng(5)
    p = np.full(6, (1 - 1.05 / 6) / 5)
    p[0] = 1.05 / 6
    counts = np.bincount(rng.choice(6, size=60_000, p=p), minlength=6)
    assert stats.chisquare(counts).pvalue < ALPHA


class _ProbeRng:
    """Stands in for the rng: logs the probability each rule's draw is compared with and
    answers "not taken" to every rule but the ``take_at``-th."""

    def __init__(self, take_at: int | None = None) -> None:
        self.thresholds: list[float] = []
        self.take_at = take_at

    def random(self) -> _Draw:
        return _Draw(self)


class _Draw:
    """What ``_ProbeRng.random()`` returns; ``draw < p`` records ``p``."""

    def __init__(self, rng: _ProbeRng) -> None:
        self.rng = rng

    def __lt__(self, threshold: float) -> bool:
        self.rng.thresholds.append(threshold)
        return len(self.rng.thresholds) - 1 == self.rng.take_at


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 10, 33])
def test_iptables_cascade_gives_every_endpoint_exactly_one_nth(n):
    """Rule i of n matches with probability 1/(n − i), the last unconditionally, so
    P(i) = Π_{j<i} (1 − 1/(n − j)) · 1/(n − i) = 1/n exactly (docs/semantics.md#kube-proxy-dataplane, proxier.go).

    The probabilities are read from :func:`iptables_cascade_choice` itself (a probe rng
    logs each threshold it is compared with) and multiplied as exact fractions.
    """
    probe = _ProbeRng()
    assert iptables_cascade_choice(n, probe) == n - 1
    rules = [Fraction(t).limit_denominator(10_000) for t in probe.thresholds] + [Fraction(1)]
    assert len(rules) == n
    assert rules == [Fraction(1, n - i) for i in range(n)]
    reach = Fraction(1)
    for i, p in enumerate(rules):
        assert reach * p == Fraction(1, n), i
        reach *= 1 - p
    assert reach == 0
    for i in range(n - 1):  # the rule that matches is the endpoint chosen
        assert iptables_cascade_choice(n, _ProbeRng(take_at=i)) == i


@pytest.mark.parametrize("n", [2, 3, 5, 8])
def test_iptables_cascade_and_the_single_draw_strategy_have_the_same_distribution(n):
    """The engine's one-draw :class:`UniformRandom` and the literal cascade, 40 000 picks
    each (seeds 11 and 12): a chi-square test of homogeneity on the 2 × n table and a
    goodness-of-fit test of each against 1/n, alpha = 0.001."""
    size = 40_000
    rng = np.random.default_rng(11)
    cascade = np.bincount([iptables_cascade_choice(n, rng) for _ in range(size)], minlength=n)
    endpoints = np.arange(100, 100 + n)
    strategy = UniformRandom(ChoiceContext(Streams(12).uniform("test"), lambda pod: 0))
    conn = Connection(source_ip=1, destination_ip=2, service_port=0)
    picks = np.array([strategy.choose(endpoints.tolist(), conn) for _ in range(size)])
    assert set(np.unique(picks)) == set(endpoints.tolist())
    single = np.bincount(picks - 100, minlength=n)

    assert stats.chi2_contingency(np.vstack([cascade, single])).pvalue > ALPHA
    assert stats.chisquare(cascade).pvalue > ALPHA
    assert stats.chisquare(single).pvalue > ALPHA


def test_cross_node_hops_happen_with_probability_one_minus_local_share():
    """With externalTrafficPolicy Cluster the pod may be on any node, so a request entering
    node k crosses to another node with probability 1 − (pods on k / all pods)
    (docs/semantics.md#kube-proxy-dataplane). 3 nodes, 4 pods (placed 2/1/1: expected 0.5, 0.75, 0.75), 60 000
    requests, seed 9; tolerance 4 binomial standard errors sqrt(p(1 − p)/n_k) ≈ 0.013.
    """
    result = sim.simulate(scenario(nodes=3, replicas=4, rate=1_000.0, duration=60.0), seed=9)
    req = result.requests
    on_node = result.pods["node"].value_counts()
    assert sorted(on_node.tolist()) == [1, 1, 2]
    total = int(on_node.sum())
    crossed = (req["pod_node"].astype(str) != req["entry_node"].astype(str)).groupby(req["entry_node"], observed=True)
    for node, share in crossed.mean().items():
        expected = 1 - on_node[node] / total
        count = int((req["entry_node"] == node).sum())
        assert share == pytest.approx(expected, abs=4 * math.sqrt(expected * (1 - expected) / count)), node


# -- service-time and latency distributions ----------------------------------------------

_MEAN = 0.010

DISTRIBUTIONS = {
    "exponential": (Exponential(_MEAN), stats.expon(scale=_MEAN)),
    "constant": (Constant(_MEAN), None),
    "lognormal-cv0.5": (
        LogNormal(_MEAN, 0.5),
        stats.lognorm(s=math.sqrt(math.log1p(0.25)), scale=_MEAN / math.sqrt(1.25)),
    ),
    "lognormal-cv1": (LogNormal(_MEAN, 1.0), stats.lognorm(s=math.sqrt(math.log(2)), scale=_MEAN / math.sqrt(2))),
    "gamma-cv0.5": (Gamma(_MEAN, 0.5), stats.gamma(a=4.0, scale=_MEAN / 4)),
    "gamma-cv2": (Gamma(_MEAN, 2.0), stats.gamma(a=0.25, scale=_MEAN / 0.25)),
    "uniform": (Uniform(0.005, 0.020), stats.uniform(loc=0.005, scale=0.015)),
}


@pytest.mark.parametrize("name", list(DISTRIBUTIONS))
def test_distribution_samples_match_its_analytic_mean_and_variance(name):
    """400 000 i.i.d. draws (seed 2024): the sample mean within 5 SE (σ/√n) of ``mean``,
    the sample variance within 5 SE of ``variance`` (SE = σ² · sqrt((κ + 2)/n), κ the
    excess kurtosis, from scipy), and a KS test against the scipy law, alpha = 0.001.
    ``mean`` and ``variance`` themselves are checked against scipy's (relative 1e-9)."""
    dist, law = DISTRIBUTIONS[name]
    n = 400_000
    x = dist.sample(np.random.default_rng(2024), n)
    assert x.shape == (n,)
    if law is None:  # a constant: no spread at all
        assert dist.variance == 0.0
        assert np.all(x == dist.mean)
        return
    mean, var, kurt = (float(v) for v in law.stats(moments="mvk"))
    assert dist.mean == pytest.approx(mean, rel=1e-9)
    assert dist.variance == pytest.approx(var, rel=1e-9)
    assert x.mean() == pytest.approx(dist.mean, abs=5 * math.sqrt(dist.variance / n))
    assert x.var(ddof=1) == pytest.approx(dist.variance, abs=5 * dist.variance * math.sqrt((kurt + 2) / n))
    assert stats.kstest(x, law.cdf).pvalue > ALPHA


def _seconds_scale(dist: Distribution) -> Distribution:
    """The same family with values around 2.5 s, where truncation to integers would show."""
    if isinstance(dist, Uniform):
        return Uniform(1.5, 3.5)
    return dataclasses.replace(dist, mean=2.5)


@pytest.mark.parametrize("name", list(DISTRIBUTIONS))
def test_distribution_samples_are_floats_not_truncated_to_integers(name):
    """A known bug of other simulators: integer-truncated "exponential" draws (docs/semantics.md#latency-numbers).
    At a 2.5 s scale every draw is a float and none is a whole number (seed 7)."""
    dist = _seconds_scale(DISTRIBUTIONS[name][0])
    x = dist.sample(np.random.default_rng(7), 10_000)
    assert x.dtype.kind == "f"
    assert not np.any(x == np.floor(x))
    if dist.variance == 0:
        assert np.all(x == 2.5)
    else:
        assert len(np.unique(x)) == len(x)
        assert x.mean() == pytest.approx(2.5, abs=5 * math.sqrt(dist.variance / len(x)))
