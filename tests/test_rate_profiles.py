"""Rate profiles: their arithmetic, the arrivals they drive, and every way to write one wrong.

Tiers:

- exact: each profile's Λ (``cumulative``) matches a fine quadrature of its rate, its inverse
  inverts it, its ``peak`` is the grid's maximum; a constant rate from time 0 gives the send
  times svcsim always gave, bit for bit (the old formula is copied here);
- statistical, fixed seeds: Poisson arrivals under every profile put ∫rate arrivals in each of
  K intervals (each within 4σ, and a chi-square dispersion check with 0.001 < p < 0.999), and
  their times pass the time-rescaling theorem (Λ(t_k) − Λ(t_{k−1}) ~ Exp(1), KS p > 0.001); a
  homogeneous process at the mean rate fails that same KS test, so it can fail; ``constant``
  arrivals put within 1 of ∫rate in each interval;
- validation: one problem naming the field for every bad input, exit 2 from the CLI;
- traces: found next to the scenario file, kept in the resolved scenario so a run folder
  loads again after the CSV is gone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import itertools
import math
import shutil

import numpy as np
import pytest
import yaml
from scenario_text import scenario_yaml
from scipy import stats

import sim
from sim.cli import main
from sim.randomness import BlockStream, Streams
from sim.results.report import describe
from sim.runtime.requests.clients import arrival_stream
from sim.scenario.rate_profile import Constant, Ramp, RateProfile, Sine, Spike, Steps, Trace
from sim.scenario.simulation import Client

PROFILES: dict[str, RateProfile] = {
    "ramp": Ramp(50.0, 400.0, over_s=50.0, at_s=10.0),
    "ramp-down-to-0": Ramp(300.0, 0.0, over_s=60.0, at_s=20.0),
    "steps": Steps(((0.0, 50.0), (20.0, 300.0), (50.0, 0.0), (70.0, 120.0))),
    "steps-late-start": Steps(((15.0, 200.0), (60.0, 80.0))),
    "sine": Sine(200.0, 150.0, period_s=60.0, phase_s=10.0),
    "sine-touching-0": Sine(150.0, 150.0, period_s=40.0),
    "spike": Spike(100.0, 1000.0, at_s=30.0, duration_s=10.0),
    "trace-step": Trace(((5.0, 100.0), (30.0, 400.0), (45.0, 20.0), (80.0, 250.0))),
    "trace-linear": Trace(((0.0, 0.0), (30.0, 400.0), (45.0, 20.0), (80.0, 250.0)), linear=True),
}
RUN_S = 100.0


def client_with(
    rate: RateProfile, arrival: str = "poisson", start_s: float = 0.0, stop_s: float | None = None
) -> Client:
    """The one client of a tiny scenario, with ``rate`` and its window swapped in."""
    base = sim.load_scenario(scenario_yaml(duration=RUN_S, arrival=arrival)).simulation.clients[0]
    return dataclasses.replace(base, rate=rate, start_s=start_s, stop_s=stop_s)


def send_times(client: Client, seed: int, until: float = RUN_S) -> np.ndarray:
    return arrival_stream(Streams(seed), "client/c0", client).take_below(until)


# -- the arithmetic ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_cumulative_is_the_integral_of_the_rate_and_inverts(name):
    profile = PROFILES[name]
    t = np.linspace(0.0, RUN_S, 200_001)
    rate = profile.rates(t)
    trapezoids = np.concatenate(([0.0], np.cumsum((rate[1:] + rate[:-1]) / 2 * np.diff(t))))
    lam = profile.cumulative(t)
    # Trapezoids are exact on linear pieces; a jump costs at most half a grid step times the jump.
    jumps = np.abs(np.diff(rate)).max()
    assert np.max(np.abs(lam - trapezoids)) <= 1e-6 * lam[-1] + jumps * (t[1] - t[0])
    assert profile.integral(10.0, 70.0) == pytest.approx(
        float(profile.cumulative(np.array([70.0]))[0] - profile.cumulative(np.array([10.0]))[0]), abs=1e-9
    )
    y = np.linspace(0.0, lam[-1], 5001)
    back = profile.cumulative(profile.inverse_cumulative(y))
    assert np.max(np.abs(back - y)) <= 1e-8 * max(1.0, lam[-1])
    assert profile.peak(0.0, RUN_S) == pytest.approx(rate.max(), rel=1e-6)
    assert profile.peak(12.0, 33.0) == pytest.approx(rate[(t >= 12.0) & (t <= 33.0)].max(), rel=1e-6)


def test_the_inverse_skips_stretches_where_the_rate_is_0():
    """At a flat level of Λ the inverse is the end of the flat stretch: the rate rises there."""
    steps = PROFILES["steps"]
    level = steps.integral(0.0, 50.0)
    assert steps.inverse_cumulative(np.array([0.0, level]))[1] == 70.0
    assert PROFILES["steps-late-start"].inverse_cumulative(np.array([0.0]))[0] == 15.0
    ends = PROFILES["ramp-down-to-0"].inverse_cumulative(np.array([1e9]))
    assert ends[0] == math.inf


def test_each_profile_reads_back_from_its_spec():
    for name, profile in PROFILES.items():
        text = scenario_yaml(duration=RUN_S, rate=1.0).replace(
            "rate: 1.0", f"rate: {yaml.safe_dump(profile.to_spec(), default_flow_style=True).strip()}"
        )
        assert sim.load_scenario(text).simulation.clients[0].rate == profile, name


# -- constant rates are unchanged --------------------------------------------------------------


def _old_arrivals(seed: int, rate: float, arrival: str) -> BlockStream:
    """``arrival_stream`` as it was before rate profiles (a copy, to compare against)."""
    rng = Streams(seed).generator("client/c0/arrivals")
    mean_gap = 1.0 / rate
    state = {"last": 0.0, "count": 0}

    def poisson(gen: np.random.Generator, n: int) -> np.ndarray:
        times = state["last"] + np.cumsum(gen.exponential(mean_gap, n))
        state["last"] = float(times[-1])
        return times

    def constant(gen: np.random.Generator, n: int) -> np.ndarray:
        start = state["count"]
        state["count"] += n
        return (start + np.arange(n)) / rate

    return BlockStream(rng, poisson if arrival == "poisson" else constant)


@pytest.mark.parametrize("arrival", ["poisson", "constant"])
def test_a_constant_rate_sends_exactly_as_before(arrival):
    new = arrival_stream(Streams(11), "client/c0", client_with(Constant(173.0), arrival))
    old = _old_arrivals(11, 173.0, arrival)
    for horizon in (0.01, 0.5, 0.51, 3.0, 40.0, 100.0):
        assert np.array_equal(new.take_below(horizon), old.take_below(horizon))


def test_a_simulated_constant_rate_client_sends_at_the_old_times():
    result = sim.simulate(sim.load_scenario(scenario_yaml(duration=5.0, rate=300.0, seed=4)))
    old = _old_arrivals(4, 300.0, "poisson").take_below(5.0)
    assert np.array_equal(np.sort(result.requests["t_sent"].to_numpy()), old)


# -- Poisson arrivals follow the profile -------------------------------------------------------

K = 25  # intervals of the run


def _counts(times: np.ndarray, profile: RateProfile, start: float, end: float) -> tuple[np.ndarray, np.ndarray]:
    edges = np.linspace(start, end, K + 1)
    counts = np.histogram(times, bins=edges)[0]
    expected = np.array([profile.integral(a, b) for a, b in itertools.pairwise(edges)])
    return counts, expected


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_poisson_counts_per_interval_match_the_integral_of_the_rate(name):
    """Seed 2024; each interval within 4σ; chi-square over the K intervals with 0.001 < p < 0.999
    (too regular is as wrong as too scattered)."""
    profile = PROFILES[name]
    counts, expected = _counts(send_times(client_with(profile), seed=2024), profile, 0.0, RUN_S)
    empty = expected == 0
    assert (counts[empty] == 0).all()
    e, n = expected[~empty], counts[~empty]
    assert (np.abs(n - e) <= 4 * np.sqrt(e)).all(), list(zip(n, e.round(1), strict=True))
    chi2 = float(np.sum((n - e) ** 2 / e))
    p = stats.chi2.sf(chi2, df=len(e))
    assert 0.001 < p < 0.999, (chi2, len(e))


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_poisson_arrival_times_pass_the_time_rescaling_ks_test(name):
    """Seed 7: Λ(t_k) − Λ(t_{k−1}) are unit exponentials (time-rescaling theorem), KS p > 0.001."""
    profile = PROFILES[name]
    start = 3.0
    times = send_times(client_with(profile, start_s=start), seed=7)
    assert times.size > 5000 and times[0] >= start
    gaps = np.diff(profile.cumulative(np.concatenate(([start], times))))
    assert stats.kstest(gaps, "expon").pvalue > 0.001


def test_the_ks_test_rejects_a_homogeneous_process_at_the_mean_rate():
    """The KS check has power: constant-rate arrivals under the ramp's Λ fail it."""
    profile = PROFILES["ramp"]
    mean = profile.integral(0.0, RUN_S) / RUN_S
    times = send_times(client_with(Constant(mean)), seed=7)
    gaps = np.diff(profile.cumulative(np.concatenate(([0.0], times))))
    assert stats.kstest(gaps, "expon").pvalue < 1e-6


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_constant_arrivals_put_the_integral_of_the_rate_in_each_interval_within_one(name):
    profile = PROFILES[name]
    times = send_times(client_with(profile, "constant"), seed=1)
    counts, expected = _counts(times, profile, 0.0, RUN_S)
    assert np.all(np.abs(counts - expected) <= 1 + 1e-9), list(zip(counts, expected.round(2), strict=True))
    assert np.all(np.diff(times) >= 0)


@pytest.mark.parametrize("arrival", ["poisson", "constant"])
@pytest.mark.parametrize(
    "rate", [Constant(200.0), PROFILES["sine"], PROFILES["steps"]], ids=["constant", "sine", "steps"]
)
def test_nothing_is_sent_before_start_or_at_or_after_stop(rate, arrival):
    stream = arrival_stream(Streams(3), "client/c0", client_with(rate, arrival, start_s=12.5, stop_s=61.0))
    times = stream.take_below(RUN_S)
    assert times.size > 1000 and times[0] >= 12.5 and times[-1] < 61.0
    assert stream.take_below(1e9).size == 0  # past stop the stream is inf: no horizon reaches it
    if arrival == "constant":
        assert times[0] == pytest.approx(12.5, abs=1e-9)  # the first send at start (every rate is > 0 there)
    counts, expected = _counts(times, rate, 12.5, 61.0)
    assert np.all(np.abs(counts - expected) <= (4 * np.sqrt(expected) + 1 if arrival == "poisson" else 1 + 1e-9))


def test_a_simulated_ramp_with_start_and_stop_sends_inside_its_window():
    text = scenario_yaml(duration=20.0, seed=5, replicas=3, service_time="1ms")
    text = text.replace(
        "rate: 10.0", "rate: {ramp: {from: 100, to: 600, over: 8s, at: 4s}}\n    start: 2s\n    stop: 15s"
    )
    scenario = sim.load_scenario(text)
    client = scenario.simulation.clients[0]
    assert (client.start_s, client.stop_s) == (2.0, 15.0)
    sent = sim.simulate(scenario).requests["t_sent"].to_numpy()
    expected = client.expected_requests(20.0)
    assert sent.min() >= 2.0 and sent.max() < 15.0
    assert abs(sent.size - expected) <= 4 * math.sqrt(expected)  # seed 5


# -- validation ---------------------------------------------------------------------------------


def _problems(text: str) -> list[sim.Problem]:
    with pytest.raises(sim.ScenarioError) as caught:
        sim.load_scenario(text)
    return caught.value.problems


def _with_client(fields: str, duration: float = 60.0) -> str:
    """A scenario whose client has ``fields`` (YAML lines at the client's indentation) instead of its rate."""
    text = scenario_yaml(duration=duration)
    assert "    rate: 10.0\n" in text
    return text.replace("    rate: 10.0\n", "".join(f"    {line}\n" for line in fields.strip().splitlines()))


BAD = [
    ("rate: -1", "spec.clients[0].rate", "must be a finite number > 0"),
    ("rate: 0", "spec.clients[0].rate", "must be a finite number > 0"),
    ("rate: .nan", "spec.clients[0].rate", "must be a finite number > 0"),
    ("rate: fast", "spec.clients[0].rate", "or a mapping with one of: ramp, steps"),
    ("rate: {}", "spec.clients[0].rate", "must name exactly one profile"),
    (
        "rate: {ramp: {from: 1, to: 2, over: 5s}, sine: {mean: 1, amplitude: 0, period: 1s}}",
        "spec.clients[0].rate",
        "got ramp, sine",
    ),
    ("rate: {ramp: {from: 1, to: 2, over: 5s, colour: red}}", "spec.clients[0].rate.ramp.colour", "unknown field"),
    ("rate: {ramp: {from: 1, to: 2, over: 5s}, colour: red}", "spec.clients[0].rate.colour", "unknown field"),
    ("rate: {ramp: {from: 1, to: 2}}", "spec.clients[0].rate.ramp.over", "Required value"),
    ("rate: {ramp: {from: 1, to: 2, over: 0s}}", "spec.clients[0].rate.ramp.over", "must be > 0"),
    ("rate: {ramp: {from: -5, to: 2, over: 5s}}", "spec.clients[0].rate.ramp.from", "must be a finite number >= 0"),
    ("rate: {ramp: {from: .inf, to: 2, over: 5s}}", "spec.clients[0].rate.ramp.from", "must be a finite number >= 0"),
    ("rate: {ramp: {from: 1, to: 2, over: 5s, at: -3s}}", "spec.clients[0].rate.ramp.at", "duration"),
    ("rate: {ramp: {from: 0, to: 0, over: 5s}}", "spec.clients[0].rate", "it would send nothing"),
    ("rate: {steps: []}", "spec.clients[0].rate.steps", "must be a non-empty list"),
    ("rate: {steps: [{at: 0s, rate: 5}, {at: 0s, rate: 7}]}", "spec.clients[0].rate.steps[1].at", "must be later"),
    ("rate: {steps: [{at: 0s, rate: -5}]}", "spec.clients[0].rate.steps[0].rate", ">= 0"),
    ("rate: {steps: [{at: 0s}]}", "spec.clients[0].rate.steps[0].rate", "Required value"),
    ("rate: {steps: [{at: 70s, rate: 5}]}", "spec.clients[0].rate", "it would send nothing"),
    ("rate: {sine: {mean: 10, amplitude: 11, period: 1m}}", "spec.clients[0].rate.sine.amplitude", "at most mean"),
    ("rate: {sine: {mean: 0, amplitude: 0, period: 1m}}", "spec.clients[0].rate.sine.mean", "> 0"),
    ("rate: {sine: {mean: 10, amplitude: 1, period: 0s}}", "spec.clients[0].rate.sine.period", "must be > 0"),
    ("rate: {spike: {base: 1, peak: 9, at: 5s, duration: 0s}}", "spec.clients[0].rate.spike.duration", "must be > 0"),
    ("rate: {spike: {base: 1, peak: -9, at: 5s, duration: 1s}}", "spec.clients[0].rate.spike.peak", ">= 0"),
    (
        "rate: {spike: {base: 0, peak: 9, at: 30s, duration: 5s}}\nstop: 20s",
        "spec.clients[0].rate",
        "it would send nothing",
    ),
    (
        "rate: {ramp: {from: 1, to: 2, over: 5s}, interpolate: linear}",
        "spec.clients[0].rate.interpolate",
        "only used with trace",
    ),
    ("rate: {trace: [[0, 5]], interpolate: cubic}", "spec.clients[0].rate.interpolate", "Unsupported value"),
    ("rate: {trace: [[0, 5], [0, 7]]}", "spec.clients[0].rate.trace", "item 1: time 0 must be later"),
    ("rate: {trace: [[0, 5], [1s, -7]]}", "spec.clients[0].rate.trace", "item 1: rate -7 must be a finite number >= 0"),
    ("rate: {trace: [[0, 5, 6]]}", "spec.clients[0].rate.trace", "item 0: must be two values"),
    ("rate: {trace: []}", "spec.clients[0].rate.trace", "no points"),
    ("rate: {trace: 5}", "spec.clients[0].rate.trace", "must be the path of a CSV file"),
    ("rate: 5\nstart: 1m", "spec.clients[0].start", "must be earlier than spec.duration (1m)"),
    ("rate: 5\nstart: 30s\nstop: 30s", "spec.clients[0].start", "must be earlier than stop (30s)"),
    ("rate: 5\nstop: 61s", "spec.clients[0].stop", "must be at most spec.duration (1m)"),
    ("rate: 5\nstop: 0s", "spec.clients[0].stop", "must be > 0"),
    ("rate: 5\nstart: -1s", "spec.clients[0].start", "duration"),
    ("rate: 5\nstart: soon", "spec.clients[0].start", "expected a duration"),
]


@pytest.mark.parametrize(("fields", "path", "message"), BAD, ids=[b[0] for b in BAD])
def test_each_bad_rate_or_window_is_one_problem_naming_its_field(fields, path, message):
    problems = _problems(_with_client(fields))
    assert [(p.field, message in p.message) for p in problems] == [(path, True)], problems


@pytest.mark.parametrize(
    ("csv", "message"),
    [
        (None, "cannot read"),
        ("when,rate\n0,5\n", 'line 1: the header must be "time,rate"'),
        ("time,rate\n", "no points"),
        ("time,rate\n0,5\n\n10s,6\nten,7\n", "line 5: time 'ten' must be seconds or a duration"),
        ("time,rate\n0,5\n10,-1\n", "line 3: rate '-1' must be a finite number >= 0"),
        ("time,rate\n0,5\n10,nan\n", "line 3: rate 'nan' must be a finite number >= 0"),
        ("time,rate\n0,5\n10,6\n10,7\n", "line 4: time '10' must be later than the row before it"),
        ("time,rate\n0,5,3\n", "line 2: must be two values"),
        (b"time,rate\n0,\xff\n", "not UTF-8"),
    ],
)
def test_a_bad_trace_file_is_one_problem_naming_the_file_and_the_line(tmp_path, csv, message):
    if isinstance(csv, bytes):
        (tmp_path / "traffic.csv").write_bytes(csv)
    elif csv is not None:
        (tmp_path / "traffic.csv").write_text(csv)
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(_with_client("rate: {trace: traffic.csv}"))
    problems = _problems(str(scenario))
    assert len(problems) == 1, problems
    assert problems[0].field == "spec.clients[0].rate.trace"
    assert "traffic.csv" in problems[0].message and message in problems[0].message, problems[0].message


def test_the_cli_exits_2_naming_file_document_and_field_for_a_missing_trace(tmp_path):
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(_with_client("rate: {trace: nowhere.csv}"))
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["validate", str(scenario)])
    assert code == 2
    lines = err.getvalue().splitlines()
    assert len(lines) == 1 and "Traceback" not in err.getvalue()
    assert str(scenario) in lines[0] and "Simulation" in lines[0] and "spec.clients[0].rate.trace" in lines[0]
    assert "nowhere.csv" in lines[0]


# -- traces -----------------------------------------------------------------------------------


TRACE_CSV = "time,rate\n0,50\n20s,300\n0.5m,80\n\n45,0\n"


def test_a_trace_can_be_the_csv_text_itself():
    text = _with_client('rate: {trace: "time,rate\\n0,50\\n20s,300\\n", interpolate: linear}')
    assert sim.load_scenario(text).simulation.clients[0].rate == Trace(((0.0, 50.0), (20.0, 300.0)), linear=True)
    problems = _problems(_with_client('rate: {trace: "time,rate\\n0,50\\n0,300\\n"}'))
    assert [(p.field, p.message) for p in problems] == [
        (
            "spec.clients[0].rate.trace",
            "Invalid value: the inline CSV: line 3: time '0' must be later than the row before it",
        )
    ]


def test_a_trace_path_is_relative_to_the_scenario_file(tmp_path, monkeypatch):
    folder = tmp_path / "here"
    folder.mkdir()
    (folder / "traffic.csv").write_text(TRACE_CSV)
    (folder / "scenario.yaml").write_text(_with_client("rate: {trace: traffic.csv, interpolate: linear}"))
    monkeypatch.chdir(tmp_path)  # elsewhere: the path still resolves from the scenario's folder
    rate = sim.load_scenario("here/scenario.yaml").simulation.clients[0].rate
    assert rate == Trace(((0.0, 50.0), (20.0, 300.0), (30.0, 80.0), (45.0, 0.0)), linear=True)


def test_a_run_with_a_trace_loads_again_after_the_csv_is_gone(tmp_path):
    (tmp_path / "traffic.csv").write_text(TRACE_CSV)
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(_with_client("rate: {trace: traffic.csv}\nstart: 5s\nstop: 40s"))
    out = tmp_path / "run"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["run", str(scenario), "--out", str(out), "--quiet", "--no-plots"]) == 0
    (tmp_path / "traffic.csv").unlink()
    moved = tmp_path / "elsewhere"
    shutil.move(out, moved)
    result = sim.load_result(moved)
    client = result.scenario.simulation.clients[0]
    assert client.rate == Trace(((0.0, 50.0), (20.0, 300.0), (30.0, 80.0), (45.0, 0.0)))
    assert (client.start_s, client.stop_s) == (5.0, 40.0)
    again = sim.simulate(result.scenario, seed=result.seed)
    assert again.requests["t_sent"].equals(result.requests["t_sent"])
    sent = result.requests["t_sent"]
    assert sent.min() >= 5.0 and sent.max() < 40.0


def test_resolved_scenarios_keep_every_profile_and_window(tmp_path):
    for name, profile in PROFILES.items():
        text = _with_client(
            f"rate: {yaml.safe_dump(profile.to_spec(), default_flow_style=True).strip()}\nstart: 1.25s\nstop: 50s"
        )
        first = sim.load_scenario(text)
        again = sim.load_scenario(first.to_yaml())
        assert again.simulation.clients == first.simulation.clients, name


def test_the_report_names_the_profile_and_the_window():
    text = _with_client("rate: {sine: {mean: 100, amplitude: 50, period: 20s}}\nstart: 2s\nstop: 30s", duration=40)
    lines = describe(sim.simulate(sim.load_scenario(text)))
    assert any("100 ± 50 req/s (a sine, period 20s) from 2s until 30s" in line for line in lines), lines
