"""Autoscaling shown everywhere: the hpa and hpa_metrics tables, ``svcsim get hpa``,
``autoscaling.png`` and the report's "What the autoscaler did".

The HPA controller fills ``RunRecord.hpa`` and ``RunRecord.hpa_metrics``; these tests fill them
by hand on a 10 s run of a tiny scenario (seed 1), so every view is checked against rows whose
story is known. Expected TARGETS follow kubectl's printers.go formatHPAMetrics.
"""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

import sim
from sim.cli import main
from sim.kube.hpa import HorizontalPodAutoscaler, parse_hpa
from sim.results.hpa_status import metric_key, rescales
from sim.results.kubectl import HPA_HEADER, format_table, hpa_rows
from sim.results.plots import available_plots, render_plots
from sim.results.plots.data import node_count, pending_pods
from sim.results.report import render_report
from sim.results.result import Result, build_result, load_result
from sim.results.run_folder import read_marker
from sim.results.tables import hpa_metrics_table, hpa_table
from sim.runtime.run import RunRecord, run
from tests.scenario_text import scenario_yaml

CPU_REASON = "cpu resource utilization (percentage of request) above target"


def hpa_doc(name: str = "web", metrics: list[dict[str, Any]] | None = None, **spec: Any) -> dict[str, Any]:
    """An autoscaling/v2 HPA on Deployment ``web``, min 2, max 10, CPU at 60 % unless ``metrics``."""
    if metrics is None:
        metrics = [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}},
            }
        ]
    body = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "minReplicas": 2,
        "maxReplicas": 10,
        "metrics": metrics,
        **spec,
    }
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": name}, "spec": body}


def parsed(doc: dict[str, Any]) -> HorizontalPodAutoscaler:
    found, errors = parse_hpa(doc)
    assert errors == [] and found is not None, errors
    return found


def sync(
    time: float, current: int, desired: int, *, hpa: str = "web", limited: str = "False/DesiredWithinRange"
) -> dict[str, Any]:
    rescaled = desired != current
    return {
        "time": time,
        "hpa": hpa,
        "reference": "Deployment/web",
        "min_replicas": 2,
        "max_replicas": 10,
        "current_replicas": current,
        "desired_replicas": desired,
        "rescaled": rescaled,
        "reason": CPU_REASON if rescaled else "",
        "able_to_scale": "True/SucceededRescale" if rescaled else "True/ReadyForNewScale",
        "scaling_active": "True/ValidMetricFound",
        "scaling_limited": limited,
    }


def reading(
    time: float,
    metric: str,
    current: float,
    target: float,
    proposal: int,
    *,
    kind: str = "Utilization",
    hpa: str = "web",
) -> dict[str, Any]:
    return {
        "time": time,
        "hpa": hpa,
        "metric": metric,
        "target_type": kind,
        "current": current,
        "target": target,
        "proposal": proposal,
    }


# The story: 2 pods at 0 s (no CPU sample yet), 90 % at 15 s → 3, 75 % at 30 s → 4, 45.7 % at 45 s holds.
SYNCS = [sync(0.0, 2, 2), sync(15.0, 2, 3), sync(30.0, 3, 4), sync(45.0, 4, 4)]
READINGS = [
    reading(0.0, "cpu", math.nan, 60.0, -1),
    reading(15.0, "cpu", 90.0, 60.0, 3),
    reading(30.0, "cpu", 75.0, 60.0, 4),
    reading(45.0, "cpu", 45.7, 60.0, 4),
]


def tables(syncs: list[dict[str, Any]], readings: list[dict[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    return hpa_table(syncs), hpa_metrics_table(readings)


def targets(hpa: HorizontalPodAutoscaler, readings: list[dict[str, Any]], at_s: float = 100.0) -> str:
    syncs = [sync(r["time"], 2, 2) for r in readings[:1]] if readings else []
    rows = hpa_rows((hpa,), *tables(syncs, readings), at_s)
    return rows[1][HPA_HEADER.index("TARGETS")]


# --- get hpa ---------------------------------------------------------------------------------


def test_get_hpa_shows_the_last_sync_at_or_before_the_time_with_kubectls_columns():
    hpa = parsed(hpa_doc())
    syncs, metrics = tables(SYNCS, READINGS)
    assert format_table(hpa_rows((hpa,), syncs, metrics, 31.0)) == (
        "NAME   REFERENCE        TARGETS        MINPODS   MAXPODS   REPLICAS   AGE\n"
        "web    Deployment/web   cpu: 75%/60%   2         10        3          31s"
    )
    assert hpa_rows((hpa,), syncs, metrics, 29.999)[1][2:6] == ["cpu: 90%/60%", "2", "10", "2"]
    assert hpa_rows((hpa,), syncs, metrics, 45.0)[1][2] == "cpu: 45%/60%"  # the status truncates, as upstream
    assert hpa_rows((hpa,), syncs, metrics, 330.0)[1][6] == "5m30s"


def test_before_a_value_exists_the_target_shows_unknown():
    hpa = parsed(hpa_doc())
    syncs, metrics = tables(SYNCS, READINGS)
    assert hpa_rows((hpa,), syncs, metrics, 0.0)[1][2] == "cpu: <unknown>/60%"  # the sync read no sample
    empty = tables([], [])
    assert hpa_rows((hpa,), *empty, 0.0)[1][2:6] == ["cpu: <unknown>/60%", "2", "10", "0"]  # before any sync


def test_average_value_and_value_targets_print_as_canonical_quantities():
    metrics = [
        {
            "type": "Resource",
            "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "256Mi"}},
        },
        {
            "type": "Pods",
            "pods": {
                "metric": {"name": "http_requests_per_second"},
                "target": {"type": "AverageValue", "averageValue": "10"},
            },
        },
    ]
    hpa = parsed(hpa_doc(metrics=metrics))
    rows = [
        reading(0.0, "memory", 200 * 2**20, 256 * 2**20, 2, kind="AverageValue"),
        reading(0.0, "pods/http_requests_per_second", 12.5, 10.0, 3, kind="AverageValue"),
    ]
    assert targets(hpa, rows) == "memory: 209715200/256Mi, 12500m/10"


def test_object_and_external_metrics_print_current_over_target_and_avg_for_per_pod_targets():
    metrics = [
        {
            "type": "External",
            "external": {"metric": {"name": "queue_length"}, "target": {"type": "Value", "value": "1"}},
        },
        {
            "type": "Object",
            "object": {
                "describedObject": {"apiVersion": "v1", "kind": "Service", "name": "web-svc"},
                "metric": {"name": "requests"},
                "target": {"type": "AverageValue", "averageValue": "0.5"},
            },
        },
    ]
    hpa = parsed(hpa_doc(metrics=metrics))
    assert [metric_key(m) for m in hpa.metrics] == ["external/queue_length", "object/Service/web-svc/requests"]
    rows = [
        reading(0.0, "external/queue_length", 0.5, 1.0, 1, kind="Value"),
        reading(0.0, "object/Service/web-svc/requests", 2000.0, 0.5, 4, kind="AverageValue"),
    ]
    assert targets(hpa, rows) == "500m/1, 2k/500m (avg)"
    assert targets(hpa, [reading(0.0, "external/queue_length", math.nan, 1.0, -1, kind="Value")]) == (
        "<unknown>/1, <unknown>/500m (avg)"
    )


def test_more_than_two_metrics_show_the_first_two_and_how_many_more():
    metrics = [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}},
        {
            "type": "Resource",
            "resource": {"name": "memory", "target": {"type": "Utilization", "averageUtilization": 70}},
        },
        {"type": "External", "external": {"metric": {"name": "a"}, "target": {"type": "Value", "value": "3"}}},
        {
            "type": "External",
            "external": {"metric": {"name": "b"}, "target": {"type": "AverageValue", "averageValue": "2"}},
        },
    ]
    hpa = parsed(hpa_doc(metrics=metrics))
    rows = [reading(0.0, "cpu", 61.0, 60.0, 3), reading(0.0, "memory", 12.0, 70.0, 1)]
    assert targets(hpa, rows) == "cpu: 61%/60%, memory: 12%/70% + 2 more..."


def test_hpas_are_listed_by_name():
    b, a = parsed(hpa_doc("b-hpa")), parsed(hpa_doc("a-hpa"))
    rows = hpa_rows((b, a), *tables([], []), 0.0)
    assert [r[0] for r in rows] == ["NAME", "a-hpa", "b-hpa"]


# --- a run with hand-made rows --------------------------------------------------------------------


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hpa") / "tiny-hpa.yaml"
    path.write_text(scenario_yaml(replicas=2, duration=60.0) + "---\n" + yaml.safe_dump(hpa_doc()))
    return path


@pytest.fixture(scope="module")
def record(scenario_file: Path) -> RunRecord:
    """The tiny scenario with its HPA for 60 s (seed 1), before the syncs are filled in."""
    return run(sim.load_scenario(scenario_file), seed=1)


@pytest.fixture(scope="module")
def scaled(record: RunRecord) -> Result:
    return build_result(dataclasses.replace(record, hpa=SYNCS, hpa_metrics=READINGS))


def test_both_tables_round_trip_through_a_run_folder(scaled, tmp_path):
    out = scaled.save(tmp_path / "run")
    assert {"hpa.parquet", "hpa_metrics.parquet"} <= set(read_marker(out)["files"])
    back = load_result(out)
    pd.testing.assert_frame_equal(back.hpa, scaled.hpa)
    pd.testing.assert_frame_equal(back.hpa_metrics, scaled.hpa_metrics)
    assert back.hpa["rescaled"].tolist() == [False, True, True, False]
    assert math.isnan(back.hpa_metrics["current"].iloc[0])


def test_a_run_without_syncs_writes_empty_tables_with_their_columns_and_types(record, tmp_path):
    out = build_result(record).save(tmp_path / "run")
    assert [(f.name, str(f.type)) for f in pq.read_schema(out / "hpa_metrics.parquet")] == [
        ("time", "double"),
        ("hpa", "string"),
        ("metric", "string"),
        ("target_type", "string"),
        ("current", "double"),
        ("target", "double"),
        ("proposal", "int64"),
    ]
    schema = pq.read_schema(out / "hpa.parquet")
    assert schema.names == list(hpa_table([]).columns) and str(schema.field("rescaled").type) == "bool"


def test_a_folder_from_before_autoscaling_reads_back_with_empty_tables(scaled, tmp_path):
    out = scaled.save(tmp_path / "run")
    (out / "hpa.parquet").unlink()
    (out / "hpa_metrics.parquet").unlink()
    back = load_result(out)
    assert back.hpa.empty and list(back.hpa.columns) == list(scaled.hpa.columns)
    assert back.hpa_metrics.empty and list(back.hpa_metrics.columns) == list(scaled.hpa_metrics.columns)


def test_a_damaged_hpa_table_is_one_error_naming_it(scaled, tmp_path):
    out = scaled.save(tmp_path / "run")
    pd.DataFrame({"x": [1]}).to_parquet(out / "hpa.parquet")
    with pytest.raises(sim.ScenarioError) as info:
        load_result(out)
    [problem] = info.value.problems
    assert problem.file == str(out / "hpa.parquet") and problem.message.startswith(
        "not written by svcsim: no column time"
    )


def test_svcsim_get_hpa_reads_a_run_folder(scaled, tmp_path, capsys):
    out = scaled.save(tmp_path / "run")
    assert main(["get", "hpa", str(out), "--at", "40s"]) == 0
    stdout, _ = capsys.readouterr()
    assert stdout.splitlines()[1].split() == ["web", "Deployment/web", "cpu:", "75%/60%", "2", "10", "3", "40s"]
    assert main(["get", "hpa", str(out)]) == 0  # without --at: the end of the run, as for events
    stdout, _ = capsys.readouterr()
    last = stdout.splitlines()[1].split()
    assert last[-1] == "60s" and "<unknown>" not in stdout  # AGE at the end of the 60 s run


def test_svcsim_get_hpa_simulates_a_scenario_until_the_time(scenario_file, capsys):
    assert main(["get", "horizontalpodautoscalers", str(scenario_file), "--at", "20s"]) == 0
    stdout, _ = capsys.readouterr()
    header, row = (re.split(r" {3,}", line) for line in stdout.splitlines())
    assert header == HPA_HEADER
    assert (row[0], row[1], row[3], row[4], row[6]) == ("web", "Deployment/web", "2", "10", "20s")


def test_svcsim_get_hpa_without_any_says_so_like_kubectl(capsys, tmp_path):
    path = tmp_path / "plain.yaml"
    path.write_text(scenario_yaml())
    assert main(["get", "hpa", str(path)]) == 0
    assert capsys.readouterr() == ("", "No resources found in default namespace.\n")


# --- autoscaling.png --------------------------------------------------------------------------


def test_the_autoscaling_plot_is_drawn_only_for_runs_with_an_hpa(scaled, record):
    assert "autoscaling.png" in available_plots(scaled)
    png = render_plots(scaled)["autoscaling.png"]
    assert png.startswith(b"\x89PNG")
    plain = dataclasses.replace(record.scenario, hpas=())
    assert "autoscaling.png" not in available_plots(dataclasses.replace(scaled, scenario=plain))


def test_the_autoscaling_plot_draws_a_run_whose_hpa_never_synced(record):
    """Before the controller has run (or with no sync in the run), the panels are empty, not an error."""
    assert render_plots(build_result(record))["autoscaling.png"].startswith(b"\x89PNG")


def test_pending_pods_count_from_a_pending_row_until_the_next_row_or_deletion():
    pods = pd.DataFrame({"pod": ["a", "b", "c"], "deployment": ["web", "web", "db"], "deleted": [np.nan, 30.0, np.nan]})
    status = pd.DataFrame(
        {
            "time": [0.0, 0.0, 5.0, 10.0, 12.0],
            "pod": ["a", "b", "c", "a", "b"],
            "status": ["Pending", "Running", "Pending", "ContainerCreating", "Pending"],
        }
    )
    times, level = pending_pods(status, pods, "web", 60.0)
    assert times.tolist() == [0.0, 0.0, 10.0, 12.0, 30.0, 60.0]
    assert level.tolist() == [0.0, 1.0, 0.0, 1.0, 0.0, 0.0]


def test_nodes_come_from_the_nodes_table_when_the_run_has_one(scaled):
    times, count, recorded = node_count(scaled, 60.0)
    assert (times.tolist(), count.tolist(), recorded) == ([0.0, 60.0], [1.0, 1.0], True)  # the run's one node
    nodes = pd.DataFrame({"node": ["n1", "n2"], "added": [0.0, 20.0], "removed": [np.nan, 50.0]})
    with_nodes = dataclasses.replace(scaled)
    object.__setattr__(with_nodes, "nodes", nodes)
    times, count, recorded = node_count(with_nodes, 60.0)
    assert (times.tolist(), count.tolist(), recorded) == ([0.0, 20.0, 50.0, 60.0], [1.0, 2.0, 1.0, 1.0], True)


# --- the report ----------------------------------------------------------------------------------


def test_the_report_lists_each_rescale_with_the_metrics_that_drove_it(scaled):
    page = render_report(scaled)
    section = page[page.index("<h2>What the autoscaler did</h2>") : page.index("<h2>Plots</h2>")]
    assert (
        "HPA web (Deployment/web) synced 4 time(s) and rescaled 2 time(s); its replicas ranged from 2 to 4." in section
    )
    cells = re.findall(r"<tr><td[^>]*>(.*?)</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>", section)
    assert cells == [
        ("15.000", "web", "2 → 3", "cpu: 90%/60% → 3", CPU_REASON),
        ("30.000", "web", "3 → 4", "cpu: 75%/60% → 4", CPU_REASON),
    ]
    assert section.count('alt="autoscaling.png"') == 1 and page.count('alt="autoscaling.png"') == 1


def test_the_report_says_when_max_replicas_held_the_autoscaler_back(record):
    capped = [
        sync(0.0, 2, 2),
        sync(15.0, 2, 10, limited="True/TooManyReplicas"),
        sync(30.0, 10, 10, limited="True/TooManyReplicas"),
    ]
    page = render_report(build_result(dataclasses.replace(record, hpa=capped, hpa_metrics=[])))
    assert "At 2 sync(s), from 15 s, it wanted more than maxReplicas 10 (ScalingLimited TooManyReplicas)" in page
    assert [
        (r.time, r.before, r.after) for r in rescales(record.scenario.hpas, hpa_table(capped), hpa_metrics_table([]))
    ] == [(15.0, 2, 10)]


def test_a_report_without_hpas_has_no_autoscaler_section(scaled, record):
    plain = dataclasses.replace(record.scenario, hpas=())
    assert "What the autoscaler did" not in render_report(dataclasses.replace(scaled, scenario=plain))


def test_autoscaling_panels_refuses_a_run_without_an_hpa(record):
    plain = dataclasses.replace(build_result(record))
    object.__setattr__(plain, "scenario", dataclasses.replace(plain.scenario, hpas=()))
    with pytest.raises(ValueError, match="has no HorizontalPodAutoscaler"):
        sim.plots.autoscaling_panels(plain)
