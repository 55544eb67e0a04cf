"""``spec.slo``: parsing, the checks in ``summary.json``, the CLI's table and ``--fail-on-slo``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from scenario_text import scenario_yaml

import sim
from sim.cli import main
from sim.results.report import render_report
from sim.results.slo import slo_report
from sim.scenario.field_reader import FieldReader
from sim.scenario.simulation import Slo


def with_slo(slo: Any, **kwargs: Any) -> str:
    docs = list(yaml.safe_load_all(scenario_yaml(**kwargs)))
    docs[2]["spec"]["slo"] = slo
    return yaml.safe_dump_all(docs, sort_keys=False)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


# --- parsing ----------------------------------------------------------------------------------


def test_a_full_slo_is_read_in_seconds_and_fractions_and_saved_back_loadable():
    text = with_slo({"latency": {"p99": "150ms", "p50": "30ms"}, "errorRate": "0.1%", "throughput": 500})
    scenario = sim.load_scenario(text)
    slo = scenario.simulation.slo
    assert slo == Slo(latency_s={"p50": 0.03, "p99": 0.15}, error_rate=0.001, throughput_rps=500.0)
    assert list(slo.latency_s) == ["p50", "p99"]  # the documented order, whatever the user's
    again = sim.load_scenario(scenario.to_yaml())
    assert again.simulation.slo == slo


def test_no_slo_is_none():
    assert sim.load_scenario(scenario_yaml()).simulation.slo is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [("20%", 0.2), ("0.1%", 0.001), (" 5 % ", 0.05), (0.2, 0.2), (0, 0.0), (1, 1.0), ("100%", 1.0), ("0%", 0.0)],
)
def test_fraction_reads_percentages_and_fractions(value, expected):
    fields = FieldReader()
    assert fields.fraction(value, "x") == pytest.approx(expected, rel=1e-12)
    assert fields.problems == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            5,
            'Invalid value: 5: must be a fraction from 0 to 1 or a percentage such as "20%" (write "5%" for 5 percent)',
        ),
        ("150%", 'Invalid value: "150%": must be a fraction from 0 to 1 or a percentage such as "20%"'),
        ("-1%", 'Invalid value: "-1%": must be a fraction from 0 to 1 or a percentage such as "20%"'),
        ("20", 'Invalid value: "20": must be a fraction from 0 to 1 or a percentage such as "20%"'),
        ("nan%", 'Invalid value: "nan%": must be a fraction from 0 to 1 or a percentage such as "20%"'),
        (True, 'Invalid value: True: must be a fraction from 0 to 1 or a percentage such as "20%"'),
        (-0.1, 'Invalid value: -0.1: must be a fraction from 0 to 1 or a percentage such as "20%"'),
    ],
)
def test_fraction_refuses_anything_else_with_one_problem(value, message):
    fields = FieldReader()
    fields.fraction(value, "spec.x")
    assert fields.problems == [("spec.x", message)]


@pytest.mark.parametrize(
    ("slo", "field", "message"),
    [
        ({}, "spec.slo", "Required value: at least one of latency, errorRate, throughput"),
        (None, "spec.slo", "Required value: at least one of latency, errorRate, throughput"),
        ({"latency": {}}, "spec.slo.latency", "Required value: at least one of p50, p90, p95, p99, mean"),
        (
            {"latency": {"p98": "1s"}},
            "spec.slo.latency.p98",
            "unknown field; expected one of: p50, p90, p95, p99, mean",
        ),
        ({"latency": {"p99": "0s"}}, "spec.slo.latency.p99", "must be > 0"),
        ({"latency": {"p99": "fast"}}, "spec.slo.latency.p99", "fast"),
        ({"errorRate": "150%"}, "spec.slo.errorRate", '"150%": must be a fraction'),
        ({"throughput": 0}, "spec.slo.throughput", "Invalid value: 0: must be a finite number > 0"),
        ({"throughput": 500, "latecy": {}}, "spec.slo.latecy", "unknown field"),
        ("fast", "spec.slo", "must be a mapping"),
    ],
)
def test_bad_slo_exits_2_with_one_line_naming_the_field(tmp_path, capsys, slo, field, message):
    path = write(tmp_path, with_slo(slo))
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {path}: document 3 (") and f"): {field}: " in lines[0]
    assert message in lines[0]
    assert not (tmp_path / "out").exists()


# --- the checks -------------------------------------------------------------------------------


def requests_table(rows: list[tuple[float, float, str, float | None]]) -> pd.DataFrame:
    """(t_sent, latency, outcome, parent_id) rows as a requests table."""
    t = np.array([r[0] for r in rows])
    latency = np.array([r[1] for r in rows])
    return pd.DataFrame(
        {
            "t_sent": t,
            "t_done": t + latency,
            "latency": latency,
            "outcome": [r[2] for r in rows],
            "parent_id": pd.array([r[3] for r in rows], dtype="Int64"),
        }
    )


def test_checks_measure_the_clients_requests_sent_in_the_window_exactly():
    """Warm-up 1 s, duration 10 s: the request sent at 0.5 s and the call (parent 1) do not count
    for latency and errors; throughput counts ok responses completed in the window, as the
    summary does, so the one sent at 0.5 s and done at 9.5 s counts there (4 in 9 s)."""
    table = requests_table(
        [
            (0.5, 9.0, "ok", None),  # warm-up
            (1.0, 0.010, "ok", None),
            (2.0, 0.030, "ok", None),
            (3.0, 0.020, "ok", None),
            (3.0, 5.000, "ok", 1),  # a call between Services
            (4.0, 1.000, "timeout", None),
        ]
    )
    slo = Slo(latency_s={"p50": 0.025, "mean": 0.019}, error_rate=0.2, throughput_rps=0.3)
    report = slo_report(table, slo, warmup_s=1.0, duration_s=10.0)
    assert report == {
        "met": False,
        "checks": [
            {"name": "latency p50", "target": 25.0, "measured": pytest.approx(20.0), "unit": "ms", "met": True},
            {"name": "latency mean", "target": 19.0, "measured": pytest.approx(20.0), "unit": "ms", "met": False},
            {"name": "error rate", "target": 0.2, "measured": 0.25, "unit": "fraction", "met": False},
            {"name": "throughput", "target": 0.3, "measured": pytest.approx(4 / 9), "unit": "req/s", "met": True},
        ],
    }


def test_a_check_with_nothing_to_measure_is_missed_and_null():
    table = requests_table([(0.5, 0.01, "ok", None)])
    report = slo_report(table, Slo(latency_s={"p99": 1.0}, error_rate=0.5), warmup_s=1.0, duration_s=10.0)
    assert [(c["measured"], c["met"]) for c in report["checks"]] == [(None, False), (None, False)]
    assert slo_report(table, None, 1.0, 10.0) is None


def test_without_calls_the_checks_measure_what_the_summary_reports():
    text = with_slo(
        {"latency": {"p50": "1s", "p99": "1s", "mean": "1s"}, "throughput": 1}, rate=50, duration=20, warmup=2
    )
    result = sim.simulate(sim.load_scenario(text))
    checks = {c["name"]: c["measured"] for c in result.summary["slo"]["checks"]}
    latency = result.summary["latency_ms"]
    assert checks["latency p50"] == pytest.approx(latency["p50"], rel=1e-12)
    assert checks["latency p99"] == pytest.approx(latency["p99"], rel=1e-12)
    assert checks["latency mean"] == pytest.approx(latency["mean"], rel=1e-12)
    assert checks["throughput"] == pytest.approx(result.summary["throughput_rps"], rel=1e-12)
    assert result.summary["slo"]["met"] is True


# --- CLI and report ---------------------------------------------------------------------------

MET = {"latency": {"p99": "5s"}, "errorRate": "1%"}
MISSED = {"latency": {"p50": "1ms"}, "throughput": 10}  # the latency check fails, throughput passes


@pytest.mark.parametrize(("slo", "code"), [(MET, 0), (MISSED, 3)])
def test_fail_on_slo_exits_3_only_when_a_check_is_missed_and_writes_the_run_first(tmp_path, capsys, slo, code):
    path = write(tmp_path, with_slo(slo, rate=20, duration=5))
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--no-plots", "--fail-on-slo"]) == code
    stdout = capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["slo"]["met"] is (code == 0)
    assert ("SLO met" if code == 0 else "SLO MISSED") in stdout
    assert "pass" in stdout and ("FAIL" in stdout) is (code != 0)
    assert main(["run", str(path), "--out", str(out), "--no-plots", "--quiet"]) == 0  # without the flag


def test_fail_on_slo_without_an_slo_is_a_usage_error_before_running(tmp_path, capsys):
    path = write(tmp_path, scenario_yaml(duration=5))
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--fail-on-slo"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f"error: {path}: --fail-on-slo: the Simulation has no spec.slo to check"]
    assert not (tmp_path / "out").exists()


def test_summary_has_a_null_slo_and_an_empty_warning_list_without_either(tmp_path, capsys):
    path = write(tmp_path, scenario_yaml(duration=5))
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--no-plots", "--quiet"]) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["slo"] is None and summary["warnings"] == []


def test_report_shows_the_slo_first():
    result = sim.simulate(sim.load_scenario(with_slo(MISSED, rate=20, duration=5)))
    page = render_report(result)
    assert page.index("<h2>SLO: ") < page.index("<h2>Scenario</h2>")
    assert "MISSED" in page and "≤ 1 ms" in page and "≥ 10 req/s" in page and "FAIL" in page


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"warnings": "none"}, 'warnings is "none", not a list'),
        ({"warnings": [1]}, "warnings holds something other than text"),
        ({"slo": {"met": "yes", "checks": []}}, "slo is not an object with met and a list of checks"),
        ({"slo": 3}, "slo is 3, not an object or null"),
    ],
)
def test_a_damaged_slo_or_warning_list_in_a_run_folder_is_one_error(tmp_path, capsys, change, problem):
    path = write(tmp_path, with_slo(MET, rate=20, duration=3))
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--no-plots", "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    (out / "summary.json").write_text(json.dumps({**summary, **change}))
    assert main(["report", str(out)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "summary.json: cannot read: " in line and problem in line


def test_the_summary_and_the_slo_measure_the_same_requests_when_pods_call_each_other():
    """Calls between Services are rows of the requests table, but neither the summary's
    latency and throughput nor the SLO count them: both measure what clients see."""
    from test_retries import TWO_TIERS  # noqa: PLC0415

    text = TWO_TIERS.replace("rate: 490000, retries: {attempts: ATTEMPTS}", "rate: 50").replace(
        "duration: 50s", "duration: 20s\n  slo: {latency: {p99: 1s, mean: 1s}, throughput: 1}"
    )
    result = sim.simulate(sim.load_scenario(text), seed=3)
    requests = result.requests
    assert requests["parent_id"].notna().sum() > 500  # the calls are there
    checks = {c["name"]: c["measured"] for c in result.summary["slo"]["checks"]}
    assert checks["throughput"] == pytest.approx(result.summary["throughput_rps"], rel=1e-12)
    assert checks["latency p99"] == pytest.approx(result.summary["latency_ms"]["p99"], rel=1e-12)
    assert checks["latency mean"] == pytest.approx(result.summary["latency_ms"]["mean"], rel=1e-12)
    assert result.summary["throughput_rps"] == pytest.approx(50, rel=0.1)
