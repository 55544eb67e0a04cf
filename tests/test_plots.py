"""Plots, the HTML report and the notebooks, on small runs.

Each plot function must return a Figure with the axes, labels and series a reader needs;
PNGs must be real images; the report must be one valid HTML file holding every plot and
linking nowhere; each notebook must run top to bottom.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure

import sim
from sim import plots
from sim.cli import main
from sim.results.capacity import client_deployments, serving_capacity
from sim.results.plots.data import (
    expected_requests,
    phases,
    rolling_latency,
    rolling_percentiles,
    step_series,
    time_bins,
)
from sim.results.report import describe, render_report
from scenario_text import scenario

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def scaled() -> sim.Result:
    """scale-up-down cut to 260 s: both scale events (120 s and 240 s) happen."""
    scenario = sim.load_scenario(ROOT / "scenarios" / "scale-up-down.yaml").with_overrides(duration_s=260)
    return sim.simulate(scenario, seed=3)


@pytest.fixture(scope="module")
def saved(scaled: sim.Result, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scaled.save(tmp_path_factory.mktemp("run") / "scale")


def lines_labelled(fig: Figure) -> list[str]:
    return [line.get_label() for ax in fig.axes for line in ax.get_lines() if not line.get_label().startswith("_")]


def test_latency_over_time_has_percentile_lines_pod_steps_and_labelled_scale_events(scaled):
    fig = plots.latency_over_time(scaled)
    main, pods_axis = fig.axes
    assert main.get_xlabel() == "simulated time (s)"
    assert "latency (ms" in main.get_ylabel()
    assert pods_axis.get_ylabel() == "pods"
    width = time_bins(260, int((scaled.requests["outcome"] == "ok").sum()))[1]
    percentiles = {f"p{q} per {width:g} s bin" for q in (50, 95, 99)}  # the bin width is said
    assert percentiles | {"Ready pods", "endpoints in dataplane"} <= set(lines_labelled(fig))
    texts = [t.get_text() for t in main.texts]
    assert texts == ["myapp: scale to 6", "myapp: scale to 2"]
    assert "scale-up-down" in main.get_title(loc="left")
    ready = next(line for line in pods_axis.get_lines() if line.get_label() == "Ready pods")
    assert {3, 6, 2} <= set(np.asarray(ready.get_ydata()).astype(int).tolist())


def test_latency_over_time_draws_into_a_given_axes_and_leaves_pyplot_alone(scaled):
    before = plt.get_fignums()
    fig = Figure()
    ax = fig.add_subplot()
    assert plots.latency_over_time(scaled, ax=ax) is fig
    assert plt.get_fignums() == before


def test_load_distribution_has_one_bar_per_pod_coloured_by_node_and_an_expected_share(scaled):
    fig = plots.load_distribution(scaled)
    ax = fig.axes[0]
    used = scaled.pods[scaled.pods["requests"] > 0]
    bars = [p for p in ax.patches if not np.isnan(p.get_height())]
    assert len(bars) == len(used)
    colours = plots.node_colors(scaled)
    by_height = {int(b.get_height()): b.get_facecolor() for b in bars}
    for pod in used.itertuples():
        assert np.allclose(by_height[int(pod.requests)][:3], _rgb(colours[pod.node]))
    assert ax.get_ylabel() == "requests routed to the pod"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[0] == "expected with uniform random choice"
    assert set(legend[1:]) == set(colours)


def test_expected_share_matches_what_uniform_choice_gave_within_sampling_error(scaled):
    """Each pod's count is Binomial around its expected share; allow 5 standard deviations."""
    expected = expected_requests(scaled)
    for pod in scaled.pods.itertuples():
        assert abs(pod.requests - expected[pod.pod]) <= 5 * np.sqrt(expected[pod.pod]) + 10


def test_load_over_time_stacks_one_area_per_pod(scaled):
    fig = plots.load_over_time(scaled)
    ax = fig.axes[0]
    pods_with_requests = (scaled.pods["requests"] > 0).sum()
    assert len(ax.collections) >= pods_with_requests
    assert ax.get_ylabel() == "requests per second"
    assert [t.get_text() for t in ax.texts] == ["myapp: scale to 6", "myapp: scale to 2"]


def test_latency_cdf_has_one_line_per_phase_on_a_log_axis(scaled):
    fig = plots.latency_cdf(scaled)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    phase_lines = [label for label in lines_labelled(fig) if " ok, p50 " in label]
    assert [label.split(":")[0] for label in phase_lines] == ["10–120 s", "120–240 s", "240–260 s"]


def test_outcomes_over_time_shows_each_outcome_that_happened():
    scenario = sim.load_scenario(ROOT / "scenarios" / "nodeport-basic.yaml").with_overrides(duration_s=20)
    result = sim.simulate(scenario, seed=1)
    fig = plots.outcomes_over_time(result)
    assert lines_labelled(fig) == [f"ok ({len(result.requests)})"]
    assert fig.axes[0].get_ylabel() == "requests per second"


def test_topology_shows_every_node_ip_pod_ip_and_the_service(scaled):
    fig = plots.topology(scaled)
    text = " ".join(t.get_text() for t in fig.axes[0].texts)
    for node in scaled.scenario.simulation.cluster.nodes:
        assert f"{node.ip}:30008" in text
    alive = scaled.pods[scaled.pods["deleted"].isna()]
    for ip in alive["ip"]:
        assert ip in text
    svc = scaled.scenario.service("myapp-service")
    assert f"ClusterIP {svc.cluster_ip}" in text and "80:30008/TCP" in text
    assert "client laptop" in text


def test_aggregation_bins_stay_bounded_for_a_million_requests():
    edges = time_bins(3600, 10**6)
    assert len(edges) - 1 <= 150
    assert np.all(np.diff(edges) > 0)


def test_rolling_percentiles_are_on_the_0_to_100_scale(scaled):
    ok = scaled.requests[scaled.requests["outcome"] == "ok"]
    _, table = rolling_percentiles(ok, 260)
    overall_p50 = ok["latency"].median() * 1e3
    # Median of per-bin medians vs the overall median: 12.9 vs 13.4 ms measured (seed 3); a
    # quantile on the 0-1 scale or in seconds would be off by orders of magnitude.
    assert np.nanmedian(table[50]) == pytest.approx(overall_p50, rel=0.1)
    assert np.all(table[99][~np.isnan(table[99])] >= table[50][~np.isnan(table[50])])


def test_step_series_and_phases_follow_the_timeline(scaled):
    times, ready, endpoints = step_series(scaled.timeline, 260)
    assert times[-1] == 260 and ready[0] == 3 and ready[-1] == 2 and endpoints.max() == 6
    assert [(a, b) for a, b, _ in phases(scaled)] == [(10, 120), (120, 240), (240, 260)]


def test_save_plots_writes_five_real_pngs_and_the_cli_plot_command_redraws_them(saved):
    written = plots.save_plots(saved)
    assert sorted(p.name for p in written) == sorted(plots.PLOTS)
    for path in written:
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.images: list[str] = []
        self.errors: list[str] = []
        self.void = {"img", "meta", "br", "hr", "link", "input"}

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs)["src"])
        if tag not in self.void:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
        else:
            self.stack.pop()


def test_report_is_valid_self_contained_html_with_every_plot(scaled):
    page = render_report(scaled)
    parser = _Collector()
    parser.feed(page)
    assert parser.errors == [] and parser.stack == []
    assert len(parser.images) == len(plots.PLOTS)
    for src in parser.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:4] == b"\x89PNG"
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", page.replace("data:image", ""))
    assert "myapp-service" in page and "80:30008/TCP" in page and "kind: Simulation" in page


@pytest.mark.parametrize("notebook", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_notebook_runs_top_to_bottom(notebook: Path, monkeypatch: pytest.MonkeyPatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    book = nbformat.read(notebook, as_version=4)
    assert all(not cell.get("outputs") for cell in book.cells if cell.cell_type == "code"), "commit without outputs"
    monkeypatch.setenv("SVCSIM_NOTEBOOK_DURATION", "260")
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's own inline backend: plots land in the outputs
    nbclient.NotebookClient(
        book, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(notebook.parent)}}
    ).execute()
    errors = [o for c in book.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []
    images = [o for c in book.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images, "a notebook shows its plots (a Figure svcsim made needs the inline backend: %matplotlib inline)"


def _rgb(color: str) -> tuple[float, float, float]:
    return to_rgb(color)


def test_notebook_folder_has_the_three_promised_notebooks():
    names = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert names == ["01-nodeport-walkthrough.ipynb", "02-scaling-analysis.ipynb", "03-capacity-planning.ipynb"]
    assert os.path.isdir(ROOT / "notebooks")


def test_cli_run_writes_plots_unless_told_not_to_and_plot_and_report_commands_work(tmp_path):
    scenario = str(ROOT / "scenarios" / "scale-up-down.yaml")
    assert main(["run", scenario, "--out", str(tmp_path / "a"), "--duration", "30s", "--quiet"]) == 0
    assert sorted(p.name for p in (tmp_path / "a" / "plots").iterdir()) == sorted(plots.PLOTS)
    assert main(["run", scenario, "--out", str(tmp_path / "b"), "--duration", "30s", "--quiet", "--no-plots"]) == 0
    assert not (tmp_path / "b" / "plots").exists()
    assert main(["plot", str(tmp_path / "b")]) == 0
    assert sorted(p.name for p in (tmp_path / "b" / "plots").iterdir()) == sorted(plots.PLOTS)
    assert main(["report", str(tmp_path / "b")]) == 0
    assert (tmp_path / "b" / "report.html").read_text().startswith("<!DOCTYPE html>")


def test_cli_plot_on_a_folder_that_is_not_a_run_is_a_usage_error(tmp_path, capsys):
    assert main(["plot", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a svcsim run folder" in err[0] and "Traceback" not in err[0]


def test_a_new_run_in_the_same_folder_removes_plots_and_report_of_the_old_one(tmp_path):
    scenario = str(ROOT / "scenarios" / "nodeport-basic.yaml")
    out = tmp_path / "run"
    assert main(["run", scenario, "--out", str(out), "--duration", "20s", "--quiet"]) == 0
    assert main(["report", str(out)]) == 0
    assert (out / "plots" / "latency.png").exists() and (out / "report.html").exists()
    assert main(["run", scenario, "--out", str(out), "--duration", "20s", "--quiet", "--no-plots"]) == 0
    assert not (out / "plots").exists() and not (out / "report.html").exists()
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [
            ".svcsim-run",
            "events.parquet",
            "hpa.parquet",
            "hpa_metrics.parquet",
            "nodes.parquet",
            "pod_status.parquet",
            "pods.parquet",
            "requests.parquet",
            "scenario.yaml",
            "summary.json",
            "timeline.parquet",
        ]
    )


# --- SLO lines, warm-up, rates, retries, tail ----------------------------------------------------


@pytest.fixture(scope="module")
def with_slo() -> sim.Result:
    """scale-up-down cut to 130 s with an SLO on p50 and p99 (warm-up 10 s, seed 3)."""
    text = (ROOT / "scenarios" / "scale-up-down.yaml").read_text()
    assert "  warmup: 10s\n" in text
    text = text.replace("  warmup: 10s\n", "  warmup: 10s\n  slo: {latency: {p50: 20ms, p99: 150ms}}\n")
    return sim.simulate(sim.load_scenario(text).with_overrides(duration_s=130), seed=3)


def test_latency_plot_draws_each_slo_bound_and_shades_the_warmup(with_slo):
    fig = plots.latency_over_time(with_slo)
    main_ax = fig.axes[0]
    bounds = {line.get_label(): line.get_ydata()[0] for line in main_ax.get_lines() if "SLO" in line.get_label()}
    assert bounds == {"SLO p50 ≤ 20 ms": 20, "SLO p99 ≤ 150 ms": 150}
    shaded = [p for p in main_ax.patches if p.get_label() == "warm-up (10 s, not measured)"]
    assert len(shaded) == 1 and shaded[0].get_x() == 0 and shaded[0].get_width() == 10


def test_rates_plot_draws_offered_under_served_and_failed(with_slo):
    fig = plots.rates_over_time(with_slo)
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    offered = lines["offered (clients' rate profiles)"]
    assert np.allclose(offered.get_ydata(), 150)  # the guide's laptop: 150 req/s throughout
    served = next(line for label, line in lines.items() if label.startswith("served: ok per "))
    assert any(label.startswith("failed: not ok per ") for label in lines)
    assert np.nanmean(served.get_ydata()[5:-5]) == pytest.approx(150, rel=0.1)  # nothing failed, nothing queued
    assert any(p.get_label().startswith("warm-up") for p in ax.patches)


def test_latency_cdf_png_is_the_cdf_beside_the_tail_on_log_axes(with_slo):
    fig = plots.PLOTS["latency_cdf.png"](with_slo)
    cdf, tail = fig.axes
    assert cdf.get_ylabel() == "fraction of ok requests" and tail.get_yscale() == "log"
    lines = [line for line in tail.get_lines() if not line.get_label().startswith("_")]
    assert [line.get_label() for line in lines] == ["10–120 s", "120–130 s"]
    survival = lines[0].get_ydata()
    assert survival[0] == 1 and np.all(np.diff(survival) < 0)  # 1 − CDF falls from 1
    assert [t.get_text() for t in tail.texts] == ["SLO p50", "SLO p99"]


def test_retries_plot_is_drawn_only_when_the_run_kept_tries(with_slo):
    assert "retries.png" not in plots.available_plots(with_slo)
    requests = with_slo.requests.assign(attempts=1)
    requests.loc[requests.index[::10], "attempts"] = 2
    retried = requests[requests["attempts"] > 1]
    tries = pd.DataFrame(
        {
            "request_id": retried["request_id"],
            "attempt": 2,
            "t_sent": retried["t_sent"] + 0.01,
            "t_done": retried["t_done"] + 0.01,
            "entry_node": retried["entry_node"],
            "pod": retried["pod"],
            "outcome": "ok",
        }
    )
    copy = dataclasses.replace(with_slo, requests=requests)
    copy.tries = tries  # type: ignore[attr-defined]  # the lead adds Result.tries
    assert "retries.png" in plots.available_plots(copy)
    fig = plots.retries_over_time(copy)
    labels = lines_labelled(fig)
    assert f"requests that needed a retry ({len(retried)})" in labels
    assert any(label.startswith("retries sent per ") and label.endswith(f"({len(retried)})") for label in labels)


# --- SLO lines per statistic, serving capacity ------------------------------------------------------


def test_each_slo_bound_has_its_own_colour_matching_its_statistics_line(scaled):
    """An SLO on all five statistics: each bound is a labelled dash-dotted line in the colour
    of its statistic's per-bin line (p90 and mean are drawn because they are bounded), and
    no two bounds share a colour."""
    bounds = {"mean": "15ms", "p50": "10ms", "p90": "30ms", "p95": "50ms", "p99": "150ms"}
    slo = dataclasses.replace(scaled.scenario.simulation, slo=sim.load_scenario(_with_slo_text(bounds)).simulation.slo)
    result = dataclasses.replace(scaled, scenario=dataclasses.replace(scaled.scenario, simulation=slo))
    main_ax = plots.latency_over_time(result).axes[0]
    lines = {line.get_label(): line for line in main_ax.get_lines()}
    colours = {}
    for key, bound in bounds.items():
        ms = float(bound.removesuffix("ms"))
        slo_line = lines[f"SLO {key} ≤ {ms:g} ms"]
        stat_line = next(line for label, line in lines.items() if label.startswith(f"{key} per "))
        assert slo_line.get_linestyle() == "-." and slo_line.get_ydata()[0] == ms
        assert _rgb(slo_line.get_color()) == _rgb(stat_line.get_color()), key
        colours[key] = _rgb(slo_line.get_color())
    assert len(set(colours.values())) == 5
    assert sorted(t.get_text() for t in main_ax.texts if t.get_text().startswith("SLO")) == sorted(
        f"SLO {k}" for k in bounds
    )


def _with_slo_text(bounds: dict[str, str]) -> str:
    text = (ROOT / "scenarios" / "scale-up-down.yaml").read_text()
    latency = ", ".join(f"{k}: {v}" for k, v in bounds.items())
    return text.replace("  warmup: 10s\n", f"  warmup: 10s\n  slo: {{latency: {{{latency}}}}}\n")


def test_rolling_latency_mean_is_the_mean_of_each_bin(scaled):
    ok = scaled.requests[scaled.requests["outcome"] == "ok"]
    centers, table = rolling_latency(ok, 260, ("p50", "mean"))
    edges = time_bins(260, len(ok))
    inside = (ok["t_sent"] >= edges[3]) & (ok["t_sent"] < edges[4])
    assert list(table) == ["p50", "mean"]
    assert table["mean"][3] == pytest.approx(ok.loc[inside, "latency"].mean() * 1e3, rel=1e-12)
    assert np.allclose(table["p50"], rolling_percentiles(ok, 260, (50,))[1][50], equal_nan=True)


def test_rates_plot_draws_the_serving_capacity_as_pods_routed_times_workers_over_mean_service_time(with_slo):
    """scale-up-down: 3 pods × 1 worker / 10 ms = 300 req/s until the three new pods are
    routed after the scale to 6 at 120 s; then 600 req/s, stepping where the timeline does."""
    ax = plots.rates_over_time(with_slo).axes[0]
    capacity = next(line for line in ax.get_lines() if line.get_label().startswith("capacity: "))
    assert capacity.get_label() == "capacity: myapp pods routed × 1 / 10ms"
    assert capacity.get_drawstyle() == "steps-post"
    t, y = np.asarray(capacity.get_xdata()), np.asarray(capacity.get_ydata())
    timeline = with_slo.timeline
    routed_all = timeline.loc[timeline["endpoints"] == 6, "time"].min()
    assert 120 < routed_all < 130
    assert np.all(y[t < 120] == 300) and np.all(y[t >= routed_all] == 600)
    assert set(np.unique(y)) <= {300.0, 400.0, 500.0, 600.0}  # the new pods join the dataplanes one by one


def test_rates_plot_shows_offered_crossing_capacity_on_the_ramp():
    """traffic-ramp's promise, on a 120 s cut: 100 → 800 req/s from 30 s over 3 min against
    2 pods × 4 workers / 20 ms = 400 req/s, so offered crosses capacity at 30 + 180·3/7 ≈ 107 s."""
    scenario = sim.load_scenario(ROOT / "scenarios" / "traffic-ramp.yaml").with_overrides(duration_s=120)
    ax = plots.rates_over_time(sim.simulate(scenario, seed=1)).axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    capacity = lines["capacity: web pods routed × 4 / 20ms"]
    assert np.all(np.asarray(capacity.get_ydata()) == 400)
    offered = lines["offered (clients' rate profiles)"]
    t, rate = np.asarray(offered.get_xdata()), np.asarray(offered.get_ydata())
    assert t[np.argmax(rate > 400)] == pytest.approx(30 + 180 * 3 / 7, abs=0.2)


def test_a_capacity_far_above_the_load_is_named_not_drawn_to_scale():
    """nodeport-basic at 10 req/s: 3 pods × 1 / 10 ms = 300 req/s is over 4× anything measured,
    so the axis stops at 1.5× the highest rate and the label gives the capacity."""
    scenario = sim.load_scenario(ROOT / "scenarios" / "nodeport-basic.yaml").with_overrides(duration_s=30)
    result = sim.simulate(dataclasses.replace(scenario, simulation=_at_rate(scenario.simulation, 10.0)), seed=2)
    ax = plots.rates_over_time(result).axes[0]
    label = next(line.get_label() for line in ax.get_lines() if line.get_label().startswith("capacity: "))
    assert " ".join(label.split()) == "capacity: myapp pods routed × 1 / 10ms (up to 300 req/s, above the plot)"  # wrapped
    assert ax.get_ylim()[1] < 300 / 4 * 1.5


def _at_rate(simulation, rate: float):
    from sim.scenario.rate_profile import Constant

    clients = tuple(dataclasses.replace(c, rate=Constant(rate)) for c in simulation.clients)
    return dataclasses.replace(simulation, clients=clients)


def test_serving_capacity_counts_only_the_deployments_the_clients_services_select():
    """clusterip-tiers with the two clients of backend removed: frontend (2 pods × 64 / 2 ms)
    serves the clients; backend is only called, so its capacity is not the clients'."""
    scenario = sim.load_scenario(ROOT / "scenarios" / "clusterip-tiers.yaml")
    both = client_deployments(scenario)
    assert both == ["frontend", "backend"]
    only = dataclasses.replace(scenario.simulation, clients=scenario.simulation.clients[:1])
    scenario = dataclasses.replace(scenario, simulation=only)
    assert client_deployments(scenario) == ["frontend"]
    timeline = pd.DataFrame(
        {"time": [0.0, 0.0, 5.0], "deployment": ["frontend", "backend", "frontend"], "endpoints": [2, 3, 1]}
    )
    assert serving_capacity(scenario, timeline, np.array([1.0, 6.0])).tolist() == [64_000.0, 32_000.0]


# --- the report's scenario in words and summary ------------------------------------------------------


def _described(workload: dict, client: dict) -> tuple[str, str, sim.Result]:
    """The Deployment's and the client's sentences for a 2 s run of the tiny scenario."""
    result = sim.simulate(scenario(workload=workload, clients=[{"name": "c0", "rate": 20, **client}], duration=2))
    lines = describe(result)
    deployment = next(line for line in lines if line.startswith("Deployment **web**"))
    client_line = next(line for line in lines if line.startswith("Client **c0**"))
    return deployment, client_line, result


def test_report_words_name_an_unbounded_queue_no_timeout_and_no_retries():
    deployment, client, result = _described({}, {})
    assert "Each pod serves 1 request(s) at a time" in deployment
    assert "the rest wait in an unbounded FIFO queue" in deployment
    assert "queueLimit" not in deployment and "maxConnections" not in deployment
    assert "is dropped unserved (onCancel: drop)" in deployment
    node_port = result.scenario.service("web-svc").ports[0].node_port
    assert f"to Service web-svc port 80 via nodePort {node_port}, a new connection each." in client
    assert "It waits for an answer without a timeout" in client and client.endswith("It never retries.")


def test_report_words_name_the_queue_bound_connection_cap_cancel_timeout_and_retries():
    workload = {"queueLimit": 5, "maxConnections": 8, "onCancel": "finish"}
    client = {
        "timeout": "300ms",
        "target": {"service": "web-svc", "via": "clusterIP", "port": 80},
        "location": "node-1",
        "retries": {
            "attempts": 3,
            "on": ["rejected", "timeout"],
            "backoff": {"initial": "10ms", "multiplier": 3, "max": "200ms", "jitter": 0.2},
            "budget": "25%",
            "minRetryConcurrency": 2,
        },
    }
    deployment, client_line, _ = _described(workload, client)
    assert "at most 5 more wait in a FIFO queue (queueLimit)" in deployment
    assert "answered rejected (HTTP 503) at once" in deployment
    assert "at most 8 connection(s), one per request in it (maxConnections), and refuses more" in deployment
    assert "is still served, for nobody (onCancel: finish)" in deployment
    assert "to Service web-svc port 80 via clusterIP" in client_line
    assert "Each try gives up after 300ms (timeout)" in client_line
    assert "retries a try that ends rejected or timeout, up to 3 tries in all (attempts)" in client_line
    assert "backoff of min(200ms, 10ms × 3^(n−1)) before retry n, with jitter ±20%" in client_line
    assert "fewer than 25% of its tries in flight or than 2 (retry budget)" in client_line


def test_report_summary_shows_retries_only_when_a_client_retries():
    retried = sim.simulate(scenario(clients=[{"name": "c0", "rate": 20, "retries": {"attempts": 2}}], duration=2))
    assert "retries" in retried.summary
    page = render_report(retried)
    assert f'<td>retries (tries beyond the first)</td><td class="num">{retried.summary["retries"]}</td>' in page
    plain = sim.simulate(scenario(rate=20, duration=2))
    assert "retries" not in plain.summary and "retries (tries beyond" not in render_report(plain)


def test_many_pods_draw_the_spread_of_their_load_and_per_node_summaries():
    """Above MANY_PODS pods the load plot is a histogram of each pod's requests against its
    expected share (100 %), the furthest pods named, and the per-node rate as median and bands;
    a bar per pod (unreadable at 60, minutes to draw at 10 000) is not drawn."""
    result = sim.simulate(scenario(nodes=3, replicas=60, rate=3000.0, duration=4.0), seed=2)
    fig = plots.load_panels(result)
    top, bottom = fig.axes[0], fig.axes[1]
    assert "against the expected share (60 pods" in top.get_title(loc="left")
    assert top.get_xlabel() == "requests routed to the pod, % of its expected share"
    assert sum(p.get_height() for p in top.patches) == 60  # every pod in the histogram once
    assert any("furthest from their share" in t.get_text() for t in top.texts)
    assert [line.get_label() for line in bottom.get_lines()] == ["median"] and "3 nodes" in bottom.get_title(loc="left")
    few = sim.simulate(scenario(nodes=3, replicas=6, rate=300.0, duration=4.0), seed=2)
    assert "Requests per pod, coloured by node" in plots.load_panels(few).axes[0].get_title(loc="left")


def test_topology_sums_up_the_nodes_past_eight_in_one_box():
    """Twelve nodes: five drawn, the other seven and their pods summed up (a box per node at
    100 nodes was a sliver with overlapping labels); eight or fewer are all drawn."""
    many = sim.simulate(scenario(nodes=12, replicas=24, rate=100.0, duration=2.0), seed=1)
    texts = [t.get_text() for t in plots.topology(many).axes[0].texts]
    assert "+7 more nodes\n14 pods\n(2 a node)" in texts
    assert sum(t.startswith("node-") for t in texts) == 5
    few = sim.simulate(scenario(nodes=8, replicas=8, rate=100.0, duration=2.0), seed=1)
    texts = [t.get_text() for t in plots.topology(few).axes[0].texts]
    assert sum(t.startswith("node-") for t in texts) == 8 and not any("more nodes" in t for t in texts)


def test_topology_counts_the_pods_of_a_crowded_node_per_deployment():
    """More than six pods on a node: one box per Deployment with its count and Ready pods, one
    DNAT arrow to it (at 100 pods a node, six pod boxes and a hundred arrows were a tangle)."""
    crowded = sim.simulate(scenario(nodes=2, replicas=20, rate=100.0, duration=2.0), seed=1)
    ax = plots.topology(crowded).axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert "web: 10 pods\n10 Ready" in texts and texts.count("web: 10 pods\n10 Ready") == 2
    assert not any(t.startswith("web-") for t in texts)  # no pod drawn by name
    dashed = [p for p in ax.patches if getattr(p, "get_linestyle", lambda: "")() == "--"]
    assert len(dashed) == 2  # a DNAT arrow per box, not per pod
    few = sim.simulate(scenario(nodes=2, replicas=4, rate=100.0, duration=2.0), seed=1)
    assert sum(t.get_text().startswith("web-") for t in plots.topology(few).axes[0].texts) == 4
