"""Pod lifecycle shown everywhere: the events and pod_status tables, ``svcsim get events``,
``get pods`` STATUS and RESTARTS, the marks on the plots and the report's section.

The control plane fills ``RunRecord.events`` and ``RunRecord.pod_status``; these tests fill
them by hand on a short run of the guide's scenario (seed 1), so every view is checked
against rows whose story is known.
"""

from __future__ import annotations

import dataclasses
import html
import re
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

import sim
from sim.cli import _until, main
from sim.results.controller_events import MAX_MARKS, happenings, marks, narrative
from sim.results.kubectl import EVENT_HEADER, event_rows, format_table, pod_rows
from sim.results.plots import latency_over_time, outcomes_over_time, rates_over_time
from sim.results.plots.common import MARK_COLORS
from sim.results.report import EVENT_ROWS, render_report
from sim.results.result import build_result, load_result
from sim.results.run_folder import MARKER, read_marker
from sim.results.tables import events_table, pod_status_table
from sim.runtime.run import RunRecord, run
from sim.scenario.simulation import ProbeFailure

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "scenarios" / "nodeport-basic.yaml"
DURATION_S = 20.0


def event(time: float, reason: str, obj: str, message: str, kind: str = "Normal") -> dict[str, object]:
    return {"time": time, "type": kind, "reason": reason, "object": obj, "message": message}


# A node failure and a rollout, in the order a control plane records them (ties included).
EVENTS = [
    event(0.0, "ScalingReplicaSet", "deployment/myapp", "Scaled up replica set myapp-aaa from 0 to 3"),
    event(0.0, "Scheduled", "pod/myapp-aaa-1", "Successfully assigned default/myapp-aaa-1 to node-2"),
    event(12.0, "NodeNotReady", "pod/myapp-aaa-1", "Node is not ready", "Warning"),
    event(4.0, "NodeFailed", "node/node-2", "Node node-2 stopped answering", "Warning"),
    event(12.0, "NodeNotReady", "node/node-2", "Node node-2 status is now: NodeNotReady"),
    event(15.0, "ScalingReplicaSet", "deployment/myapp", "Scaled up replica set myapp-bbb from 0 to 1"),
    event(16.0, "ScalingReplicaSet", "deployment/myapp", "Scaled down replica set myapp-aaa from 3 to 2"),
    event(16.0, "Killing", "pod/myapp-aaa-3", "Stopping container myapp"),
]


@pytest.fixture(scope="module")
def record() -> RunRecord:
    """The guide's scenario for 20 s (seed 1), with no events yet."""
    return run(sim.load_scenario(GUIDE).with_overrides(duration_s=DURATION_S), seed=1)


def status_rows(pod: str) -> list[dict[str, object]]:
    """One pod that crashes at 5 s, backs off, restarts at 8 s and crashes again at 14 s."""
    rows = [
        (0.0, "ContainerCreating", "0/1", 0),
        (1.0, "Running", "1/1", 0),
        (5.0, "Error", "0/1", 0),
        (5.0, "Running", "0/1", 1),  # restarted at once: the first restart of CrashLoopBackOff
        (6.0, "Running", "1/1", 1),
        (14.0, "CrashLoopBackOff", "0/1", 1),
        (18.0, "Running", "0/1", 2),
    ]
    return [{"time": t, "pod": pod, "status": s, "ready": r, "restarts": n} for t, s, r, n in rows]


@pytest.fixture(scope="module")
def lived(record: RunRecord) -> sim.Result:
    return build_result(dataclasses.replace(record, events=EVENTS, pod_status=status_rows(record.pods[0].name)))


# --- the tables -----------------------------------------------------------------------------


def test_events_are_ordered_by_time_and_ties_keep_their_recorded_order(lived):
    events = lived.events
    assert list(events.columns) == ["time", "type", "reason", "object", "message"]
    assert events["time"].tolist() == [0.0, 0.0, 4.0, 12.0, 12.0, 15.0, 16.0, 16.0]
    assert events["object"].tolist()[3:5] == ["pod/myapp-aaa-1", "node/node-2"]  # as recorded
    assert events["reason"].tolist()[-2:] == ["ScalingReplicaSet", "Killing"]


def test_a_run_folder_writes_and_reads_back_both_tables(lived, tmp_path):
    out = lived.save(tmp_path / "run")
    assert {"events.parquet", "pod_status.parquet"} <= set(read_marker(out)["files"])
    back = load_result(out)
    pd.testing.assert_frame_equal(back.events, lived.events)
    pd.testing.assert_frame_equal(back.pod_status, lived.pod_status)
    assert back.pod_status["restarts"].dtype == "int64"


def test_a_run_without_events_writes_empty_tables_with_their_columns_and_types(record, tmp_path):
    result = build_result(dataclasses.replace(record, events=[], pod_status=[]))
    assert result.events.empty and result.pod_status.empty
    out = result.save(tmp_path / "run")
    events, status = pq.read_schema(out / "events.parquet"), pq.read_schema(out / "pod_status.parquet")
    assert [(f.name, str(f.type)) for f in events] == [
        ("time", "double"),
        ("type", "string"),
        ("reason", "string"),
        ("object", "string"),
        ("message", "string"),
    ]
    assert [(f.name, str(f.type)) for f in status] == [
        ("time", "double"),
        ("pod", "string"),
        ("status", "string"),
        ("ready", "string"),
        ("restarts", "int64"),
    ]
    back = load_result(out)
    assert list(back.events.columns) == list(result.events.columns) and back.events.empty


def test_a_run_without_changes_has_its_creation_events_and_each_pod_running_from_the_start(record):
    result = build_result(record)
    assert result.events[["time", "reason"]].values.tolist() == [[0.0, "ScalingReplicaSet"]]
    assert result.events["message"].iloc[0].endswith(f"from 0 to {len(result.pods)}")
    status = result.pod_status
    assert set(status["pod"]) == set(result.pods["pod"]) and len(status) == len(result.pods)
    assert (status["time"] == 0.0).all() and (status["status"] == "Running").all() and (status["ready"] == "1/1").all()


def test_a_folder_from_before_pod_lifecycle_reads_back_with_empty_tables(lived, tmp_path):
    out = lived.save(tmp_path / "run")
    (out / "events.parquet").unlink()
    (out / "pod_status.parquet").unlink()
    back = load_result(out)
    assert back.events.empty and list(back.events.columns) == list(lived.events.columns)
    assert back.pod_status.empty and list(back.pod_status.columns) == list(lived.pod_status.columns)


def test_an_events_table_without_its_columns_is_one_error_naming_it(lived, tmp_path, capsys):
    out = lived.save(tmp_path / "run")
    pd.DataFrame({"time": [1.0]}).to_parquet(out / "events.parquet")
    assert main(["get", "events", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {out / 'events.parquet'}: not written by svcsim: no column type, reason, object, message\n"


def test_the_tables_of_a_run_without_lifecycle_are_unchanged(record, tmp_path):
    """Constant-rate runs keep their bytes: the new tables are files beside the old ones."""
    plain = build_result(record)
    lived = build_result(dataclasses.replace(record, events=EVENTS))
    for name in ("requests", "timeline", "pods"):
        pd.testing.assert_frame_equal(getattr(plain, name), getattr(lived, name))
    assert plain.summary == lived.summary


# --- kubectl views ----------------------------------------------------------------------------


def test_get_pods_takes_status_ready_and_restarts_from_pod_status(lived):
    crashing = lived.pod_status["pod"].iloc[0]

    def view(at_s: float) -> dict[str, list[str]]:
        return {r[0]: r[1:4] for r in pod_rows(lived.pods, at_s, pod_status=lived.pod_status)[1:]}

    assert view(0.5)[crashing] == ["0/1", "ContainerCreating", "0"]
    assert view(5.0)[crashing] == ["0/1", "Running", "1 (0s ago)"]  # the later of two rows at 5 s
    assert view(10.0)[crashing] == ["1/1", "Running", "1 (5s ago)"]
    assert view(15.0)[crashing] == ["0/1", "CrashLoopBackOff", "1 (1s ago)"]  # since the exit at 14 s
    assert view(20.0)[crashing] == ["0/1", "Running", "2 (6s ago)"]
    others = [name for name in view(10.0) if name != crashing]
    assert len(others) == 2 and all(view(10.0)[n] == ["1/1", "Running", "0"] for n in others)  # from pods


def test_get_pods_before_a_pods_first_status_row_derives_it_from_the_pods_table(lived):
    later = lived.pod_status.assign(time=lived.pod_status["time"] + 3.0)
    crashing = later["pod"].iloc[0]
    before = {r[0]: r[1:4] for r in pod_rows(lived.pods, 2.0, pod_status=later)[1:]}
    plain = {r[0]: r[1:4] for r in pod_rows(lived.pods, 2.0)[1:]}
    assert before[crashing] == plain[crashing] == ["1/1", "Running", "0"]


def test_get_events_lists_events_at_or_before_t_with_their_age(lived):
    rows = event_rows(lived.events, 12.0)
    assert rows[0] == EVENT_HEADER == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert [r[:4] for r in rows[1:]] == [
        ["12s", "Normal", "ScalingReplicaSet", "deployment/myapp"],
        ["12s", "Normal", "Scheduled", "pod/myapp-aaa-1"],
        ["8s", "Warning", "NodeFailed", "node/node-2"],
        ["0s", "Warning", "NodeNotReady", "pod/myapp-aaa-1"],
        ["0s", "Normal", "NodeNotReady", "node/node-2"],
    ]
    assert rows[3][4] == "Node node-2 stopped answering"
    assert len(event_rows(lived.events, 600.0)) == 1 + len(EVENTS)
    assert event_rows(lived.events, 600.0)[1][0] == "10m"  # kubectl's human age


def test_svcsim_get_events_on_a_run_folder_prints_kubectls_table(lived, tmp_path, capsys):
    out = lived.save(tmp_path / "run")
    assert main(["get", "events", str(out)]) == 0  # default --at: the end of the run (20 s)
    stdout, stderr = capsys.readouterr()
    lines = stdout.splitlines()
    assert stderr == ""
    assert lines[0] == "LAST SEEN   TYPE      REASON              OBJECT             MESSAGE"
    assert lines[3] == "16s         Warning   NodeFailed          node/node-2        Node node-2 stopped answering"
    assert len(lines) == 1 + len(EVENTS)
    assert stdout == format_table(event_rows(lived.events, DURATION_S)) + "\n"
    assert main(["get", "ev", str(out), "--at", "4s"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        "4s          Normal    ScalingReplicaSet   deployment/myapp   Scaled up replica set myapp-aaa from 0 to 3",
        "4s          Normal    Scheduled           pod/myapp-aaa-1    Successfully assigned default/myapp-aaa-1 to "
        "node-2",
        "0s          Warning   NodeFailed          node/node-2        Node node-2 stopped answering",
    ]


def test_svcsim_get_events_with_none_says_so_on_stderr_as_kubectl_does(record, tmp_path, capsys):
    out = build_result(dataclasses.replace(record, events=[])).save(tmp_path / "run")
    assert main(["get", "events", str(out)]) == 0
    assert capsys.readouterr() == ("", "No resources found in default namespace.\n")


def test_svcsim_get_events_on_a_scenario_simulates_up_to_t(lived, monkeypatch, capsys):
    asked = []

    def fake_simulate(scenario, seed=None):
        asked.append((scenario.simulation.duration_s, seed))
        return lived

    monkeypatch.setattr("sim.cli.simulate", fake_simulate)
    assert main(["get", "events", str(GUIDE), "--at", "12s"]) == 0
    stdout = capsys.readouterr().out
    assert stdout.splitlines()[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert len(stdout.splitlines()) == 1 + 5
    guide = sim.load_scenario(GUIDE).simulation
    assert asked == [(pytest.approx(12.0), guide.seed)]  # the scenario's own seed
    assert main(["get", "events", str(GUIDE)]) == 0  # default: the scenario's whole duration
    assert asked[1][0] == pytest.approx(guide.duration_s)


def test_svcsim_get_pods_on_a_run_folder_shows_restarts_with_their_age(lived, tmp_path, capsys):
    out = lived.save(tmp_path / "run")
    assert main(["get", "pods", str(out), "--at", "15s"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]
    crashing = lived.pod_status["pod"].iloc[0]
    [line] = [r for r in rows if r.startswith(crashing)]
    assert re.split(r" {3,}", line)[1:5] == ["0/1", "CrashLoopBackOff", "1 (1s ago)", "15s"]


def test_get_events_has_no_wide_output(capsys):
    assert main(["get", "events", str(GUIDE), "-o", "wide"]) == 2
    assert capsys.readouterr() == ("", f"error: {GUIDE}: -o: wide is not supported for events\n")


def test_get_from_a_scenario_keeps_the_clients_when_load_can_fail_probes():
    scenario = sim.load_scenario(GUIDE)
    assert _until(scenario, 5.0).simulation.clients == ()
    workloads = {
        name: dataclasses.replace(w, probe_failure=ProbeFailure(in_flight_above=5))
        for name, w in scenario.simulation.workloads.items()
    }
    loaded = dataclasses.replace(scenario, simulation=dataclasses.replace(scenario.simulation, workloads=workloads))
    assert _until(loaded, 5.0).simulation.clients == scenario.simulation.clients


# --- which events are marked ----------------------------------------------------------------


def table(*rows: dict[str, object]) -> pd.DataFrame:
    return events_table(list(rows))


def test_a_node_taking_its_pods_along_is_one_mark():
    pods = [event(170.0 + i * 0.01, "NodeNotReady", f"pod/web-{i}", "Node is not ready", "Warning") for i in range(30)]
    found = marks(table(event(170.0, "NodeNotReady", "node/node-2", "..."), *pods), 600.0)
    assert [(m.time, m.kind, m.label) for m in found] == [(170.0, "fault", "node-2 NotReady, pods NotReady ×30")]


def test_a_rollout_is_marked_at_its_new_replica_sets_first_step_only():
    found = happenings(
        table(
            event(0.0, "ScalingReplicaSet", "deployment/web", "Scaled up replica set web-1 from 0 to 4"),
            event(30.0, "ScalingReplicaSet", "deployment/web", "Scaled up replica set web-1 from 4 to 6"),  # scale
            event(60.0, "ScalingReplicaSet", "deployment/web", "Scaled up replica set web-2 from 0 to 2"),
            event(61.0, "Killing", "pod/web-1-a", "Stopping container web"),  # an ordinary stop
            event(70.0, "ScalingReplicaSet", "deployment/web", "Scaled down replica set web-1 from 6 to 0"),
            event(90.0, "ScalingReplicaSet", "deployment/web", "Scaled up replica set web-3 to 6"),  # older wording
        )
    )
    assert [(h.time, h.label) for h in found] == [(60.0, "rollout web"), (90.0, "rollout web")]
    assert (
        found[0].phrase == "a rollout of Deployment web began (ReplicaSet web-2; 2 scaling steps, the last at t = 70 s)"
    )
    assert found[1].phrase == "a rollout of Deployment web began (ReplicaSet web-3)"


def test_liveness_kills_evictions_and_crashes_are_faults_and_a_node_back_is_a_recovery():
    found = happenings(
        table(
            event(1.0, "Killing", "pod/a", "Container web failed liveness probe, will be restarted"),
            event(2.0, "TaintManagerEviction", "pod/b", "Marking for deletion Pod default/b"),
            event(3.0, "Crashed", "pod/c", "Container web exited with code 1"),
            event(4.0, "BackOff", "pod/c", "Back-off restarting failed container web in pod c", "Warning"),
            event(5.0, "NodeReady", "node/node-2", "Node node-2 status is now: NodeReady"),
            event(6.0, "ProgressDeadlineExceeded", "deployment/web", 'ReplicaSet "web-2" has timed out progressing.'),
            event(7.0, "Unhealthy", "pod/a", "Readiness probe failed", "Warning"),  # counted, not marked
        )
    )
    assert [(h.kind, h.label) for h in found] == [
        ("fault", "liveness kill"),
        ("fault", "eviction"),
        ("fault", "crash"),
        ("fault", "BackOff"),
        ("recovery", "node-2 Ready"),
        ("fault", "web stuck"),
    ]


def test_many_events_spread_over_the_run_collapse_to_at_most_the_cap():
    crashes = [event(float(t), "Crashed", f"pod/p{t}", "exit 1") for t in range(0, 600, 7)]
    found = marks(table(*crashes), 600.0)
    assert len(crashes) > 80 and 1 < len(found) <= MAX_MARKS
    assert sum(len(m.happenings) for m in found) == len(crashes)
    assert all(re.fullmatch(r"crash( ×\d+)?", m.label) for m in found)


def test_three_kinds_at_once_name_two_and_count_the_rest():
    found = marks(
        table(
            event(10.0, "Crashed", "pod/a", ""),
            event(10.0, "BackOff", "pod/a", ""),
            event(10.0, "TaintManagerEviction", "pod/b", ""),
        ),
        600.0,
    )
    assert [m.label for m in found] == ["crash, BackOff +1 more"]


# --- plots ------------------------------------------------------------------------------------


@pytest.mark.parametrize("draw", [latency_over_time, outcomes_over_time, rates_over_time])
def test_the_plots_mark_faults_and_rollouts_and_nothing_without_events(draw, record, lived):
    def drawn(result: sim.Result) -> tuple[list[float], list[str]]:
        ax = draw(result).axes[0]
        xs = [line.get_xdata()[0] for line in ax.get_lines() if line.get_color() in MARK_COLORS.values()]
        return xs, [t.get_text() for t in ax.texts]

    plain_lines, plain_texts = drawn(build_result(record))
    lines, texts = drawn(lived)
    assert plain_lines == [] and plain_texts == []
    assert lines == [4.0, 12.0, 15.0]  # node failed, NotReady, the rollout (the stop at 16 s is ordinary)
    assert texts == ["node-2 failed", "pods NotReady, node-2 NotReady", "rollout myapp"]


# --- the report --------------------------------------------------------------------------------


def test_the_report_tells_what_the_controllers_did(lived):
    page = render_report(lived)
    section = page[page.index("<h2>What the controllers did</h2>") : page.index("<h2>Plots</h2>")]
    assert (
        "At t = 4 s, node node-2 stopped answering. At t = 12 s, 1 pod(s) were marked not Ready with their node; "
        "node node-2 was marked NotReady. At t = 15 s, a rollout of Deployment myapp began (ReplicaSet myapp-bbb; "
        "2 scaling steps, the last at t = 16 s)." in section
    )
    assert section.count("<tr>") == 1 + len(EVENTS) and "more (every event" not in section


def test_the_reports_events_table_stops_at_fifty_rows_and_counts_the_rest(record):
    many = [event(float(i) / 10, "Scheduled", f"pod/p{i}", "Successfully assigned") for i in range(EVENT_ROWS + 7)]
    page = render_report(build_result(dataclasses.replace(record, events=many)))
    section = page[page.index("<h2>What the controllers did</h2>") : page.index("<h2>Plots</h2>")]
    assert section.count("<tr>") == 1 + EVENT_ROWS
    assert "… and 7 more (every event is in events.parquet)." in section
    assert html.escape(f"No fault and no rollout: the controllers' {EVENT_ROWS + 7} event(s) are routine.") in section


def test_a_report_without_events_says_so(record):
    page = render_report(build_result(dataclasses.replace(record, events=[])))
    assert "<h2>What the controllers did</h2><p>The controllers recorded no events in this run.</p>" in page
    assert narrative(None, 10.0) == "The controllers recorded no events in this run."


def test_the_marker_regex_owns_the_new_files(lived, tmp_path):
    out = lived.save(tmp_path / "run")
    assert (out / MARKER).is_file()
    assert read_marker(out)["files"] == sorted(
        [
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


def test_the_status_table_is_ordered_by_time_too():
    rows = [
        {"time": 3.0, "pod": "b", "status": "Running", "ready": "1/1", "restarts": 0},
        {"time": 1.0, "pod": "a", "status": "Pending", "ready": "0/1", "restarts": 0},
    ]
    assert pod_status_table(rows)["pod"].tolist() == ["a", "b"]
