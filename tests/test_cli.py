"""The ``svcsim`` command line: exit codes, what goes to stdout and stderr, what is written.

Most tests call :func:`sim.cli.main` in-process (a traceback would fail them just the
same); a few run ``python -m sim`` and the ``svcsim`` script to cover the entry points.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import sim
from sim.bench import run_bench
from sim.cli import main
from sim.results.result import COLUMNS
from sim.scenario.run_limits import MAX_REQUESTS, _too_many_requests

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "scenarios" / "nodeport-basic.yaml"
RESULT_FILES = {"requests.parquet", "timeline.parquet", "summary.json", "scenario.yaml"}


@pytest.fixture
def quick(tmp_path: Path) -> Path:
    """The guide's scenario with a 1 s warmup, so ``--duration 5s`` is a valid override."""
    text = GUIDE.read_text()
    assert "warmup: 10s" in text
    path = tmp_path / "quick.yaml"
    path.write_text(text.replace("warmup: 10s", "warmup: 1s"))
    return path


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def table(text: str) -> list[list[str]]:
    """Cells of a kubectl-style table (columns are separated by at least three spaces)."""
    return [re.split(r" {3,}", line.strip()) for line in text.strip().splitlines()]


# --- run ------------------------------------------------------------------------------------


def test_run_writes_the_results_and_nothing_else(tmp_path, quick, capsys):
    out = tmp_path / "results" / "basic"
    code, stdout, stderr = run_cli(capsys, "run", quick, "--out", out, "--duration", "5s")
    assert (code, stderr) == (0, "")
    assert {p.name for p in out.iterdir()} >= RESULT_FILES
    assert [p.name for p in out.parent.iterdir()] == ["basic"]  # no staging folder left behind
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["scenario"], summary["seed"], summary["duration_s"]) == ("nodeport-basic", 42, 5.0)
    requests = pd.read_parquet(out / "requests.parquet")
    assert len(requests) == summary["requests"] > 0
    assert requests["t_sent"].max() <= 5.0
    assert "results in" in stdout


def test_seed_override_is_recorded_and_reproduces_the_run(tmp_path, quick, capsys):
    first, second = tmp_path / "a", tmp_path / "b"
    for out in (first, second):
        code, _, _ = run_cli(capsys, "run", quick, "--out", out, "--duration", "5s", "--seed", "7", "--quiet")
        assert code == 0
    assert json.loads((first / "summary.json").read_text())["seed"] == 7
    saved = list(yaml.safe_load_all((first / "scenario.yaml").read_text()))
    assert saved[-1]["spec"]["seed"] == 7
    assert saved[-1]["spec"]["duration"] == "5s"
    pd.testing.assert_frame_equal(
        pd.read_parquet(first / "requests.parquet"), pd.read_parquet(second / "requests.parquet")
    )


def test_saved_scenario_loads_again_with_the_same_addresses_and_ports(tmp_path, quick, capsys):
    out = tmp_path / "out"
    assert run_cli(capsys, "run", quick, "--out", out, "--duration", "5s", "--quiet")[0] == 0
    original, saved = sim.load_scenario(quick), sim.load_scenario(out / "scenario.yaml")
    for scenario in (original, saved):
        assert [n.ip for n in scenario.simulation.cluster.nodes] == ["192.168.1.2", "192.168.1.3", "192.168.1.4"]
    assert [(s.name, s.cluster_ip, s.ports) for s in saved.services] == [
        (s.name, s.cluster_ip, s.ports) for s in original.services
    ]
    assert [c.ip for c in saved.simulation.clients] == [c.ip for c in original.simulation.clients]
    assert saved.simulation.duration_s == 5.0


def test_quiet_prints_nothing_on_stdout(tmp_path, quick, capsys):
    code, stdout, _ = run_cli(capsys, "run", quick, "--out", tmp_path / "out", "--duration", "5s", "--quiet")
    assert (code, stdout) == (0, "")
    assert (tmp_path / "out" / "summary.json").is_file()


def test_run_without_out_writes_under_runs_named_after_the_simulation(tmp_path, quick, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_cli(capsys, "run", quick, "--duration", "5s", "--quiet")[0] == 0
    assert {p.name for p in (tmp_path / "runs" / "nodeport-basic").iterdir()} >= RESULT_FILES


# --- bad input: exit 2, one line per problem, nothing written ---------------------------------------

BAD_SERVICE = """\
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 0, protocol: tcp}]
"""


@pytest.mark.parametrize(
    ("content", "flags", "expected"),
    [
        pytest.param(
            BAD_SERVICE,
            [],
            [
                r'{file}: document 1 \(line 1\): The Service "web" is invalid: spec\.ports\[0\]\.protocol: '
                r'Unsupported value: "tcp": supported values: "SCTP", "TCP", "UDP"',
                r'{file}: document 1 \(line 1\): The Service "web" is invalid: spec\.ports\[0\]\.port: '
                r"Invalid value: 0: must be between 1 and 65535, inclusive",
                r'{file}: document 1 \(line 1\): The Service "web" is invalid: spec\.ports\[0\]\.targetPort: '
                r"Invalid value: 0: must be between 1 and 65535, inclusive",
            ],
            id="invalid-service",
        ),
        pytest.param(
            "kind: Service\nspec: {ports: [80\n",
            [],
            [r"{file}: document 1, line 3, column 1: YAML syntax error: .+"],
            id="yaml-syntax",
        ),
        pytest.param(
            GUIDE.read_text().replace("  seed: 42\n", "  seed: 42\n  sead: 1\n"),
            [],
            [r'{file}: document 3 \(Simulation "nodeport-basic", line \d+\): spec\.sead: unknown field; .+'],
            id="unknown-simulation-field",
        ),
        pytest.param("", [], [r"{file}: file is empty .+"], id="empty-file"),
        pytest.param(None, [], [r"{file}: cannot read file: No such file or directory"], id="missing-file"),
        pytest.param(
            GUIDE.read_text(), ["--duration", "5 parsecs"], [r"{file}: --duration: .*5 parsecs.*"], id="bad-duration"
        ),
        pytest.param(GUIDE.read_text(), ["--duration", "0s"], [r"{file}: --duration: must be > 0"], id="zero-duration"),
        pytest.param(
            GUIDE.read_text(),
            ["--duration", "5s"],
            [r"{file}: --duration: must be longer than spec\.warmup \(10s\)"],
            id="duration-within-warmup",
        ),
        pytest.param(
            GUIDE.read_text(),
            ["--seed", "-1"],
            [r"{file}: --seed: Invalid value: -1: must be >= 0"],
            id="negative-seed",
        ),
        pytest.param(
            GUIDE.read_text(),
            ["--duration", "1000h"],
            [r"{file}: --duration: Invalid value: 1000h: must be at most 720h \(30 days\) of simulated time"],
            id="duration-override-too-long",
        ),
        pytest.param(
            GUIDE.read_text(),
            ["--duration", "720h"],
            [
                r"{file}: spec\.clients: about 5\.18e\+08 requests expected \(rates 200/s in all × --duration 720h\), "
                + re.escape(_too_many_requests()).replace("{", "{{").replace("}", "}}")
                + r": lower the rates or the duration"
            ],
            id="duration-override-too-many-requests",
        ),
        pytest.param(
            b"apiVersion: v1\nkind: Service\nmetadata: {name: caf\xe9}\n",
            [],
            [r"{file}: cannot read file: not UTF-8 text \(byte 0xe9 at offset 49\)"],
            id="not-utf8",
        ),
        pytest.param(
            GUIDE.read_text().replace("  seed: 42\n", "  seed: 42\n  seed: 7\n"),
            [],
            [r'{file}: document 3, line 44, column 3: YAML error: key "seed" already set in map \(first at line 43\)'],
            id="duplicate-key",
        ),
        pytest.param(
            GUIDE.read_text().replace("kind: Service", "kind: [Service]"),
            [],
            [
                r"{file}: document 1 \(line 3\): kind: cannot unmarshal array into Go struct field TypeMeta\.kind "
                r"of type string"
            ],
            id="kind-not-a-string",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line_per_problem_and_writes_nothing(tmp_path, capsys, content, flags, expected):
    scenario = tmp_path / "bad.yaml"
    if isinstance(content, bytes):
        scenario.write_bytes(content)
    elif content is not None:
        scenario.write_text(content)
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(capsys, "run", scenario, "--out", out, *flags)
    assert code == 2
    assert stdout == ""
    lines = stderr.splitlines()
    assert len(lines) == len(expected), stderr
    for line, pattern in zip(lines, expected, strict=True):
        assert re.fullmatch("error: " + pattern.format(file=re.escape(str(scenario))), line), line
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == (["bad.yaml"] if content is not None else [])


def test_bad_scenario_through_python_dash_m_has_no_traceback_and_no_out_dir(tmp_path):
    scenario = tmp_path / "bad.yaml"
    scenario.write_text(BAD_SERVICE)
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "sim", "run", str(scenario), "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert len(done.stderr.splitlines()) == 3
    assert all(line.startswith(f"error: {scenario}: document 1 ") for line in done.stderr.splitlines())
    assert not out.exists()


# --- validate ------------------------------------------------------------------------------


def test_validate_accepts_the_guide_example(capsys):
    code, stdout, stderr = run_cli(capsys, "validate", GUIDE)
    assert (code, stderr) == (0, "")
    assert stdout == (
        f"{GUIDE}: valid: 1 Service(s), 1 Deployment(s), 3 node(s), 1 client(s), 0 event(s), 5m simulated\n"
    )


def test_validate_reports_every_problem_and_exits_2(tmp_path, capsys):
    scenario = tmp_path / "bad.yaml"
    scenario.write_text(
        GUIDE.read_text()
        .replace("nodePort: 30008", "nodePort: 29999")
        .replace("app: myapp\n    spec:", "app: other\n    spec:")
    )
    code, stdout, stderr = run_cli(capsys, "validate", scenario)
    assert (code, stdout) == (2, "")
    lines = stderr.splitlines()
    assert len(lines) == 2, stderr
    assert lines[0].endswith(
        "spec.ports[0].nodePort: Invalid value: 29999: provided port is not in the valid range. "
        "The range of valid ports is 30000-32767"
    )
    assert "`selector` does not match template `labels`" in lines[1]


@pytest.fixture
def warned(quick: Path) -> Path:
    """The quick guide scenario plus an ignored ConfigMap and a nodeSelector no node has: two long warnings."""
    text = quick.read_text()
    pod_spec = "    spec:\n      containers:"
    assert pod_spec in text
    text = text.replace(pod_spec, "    spec:\n      nodeSelector: {disk: nvme}\n      containers:")
    quick.write_text(text + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {a: b}\n")
    return quick


@pytest.mark.parametrize("command", [("validate",), ("run", "--quiet", "--no-plots", "--duration", "2s")])
def test_each_warning_is_one_unwrapped_line_on_stderr(tmp_path, warned, capsys, monkeypatch, command):
    monkeypatch.setenv("COLUMNS", "40")  # a narrow terminal must not wrap them either
    extra = ("--out", tmp_path / "out") if command[0] == "run" else ()
    code, _, stderr = run_cli(capsys, command[0], warned, *command[1:], *extra)
    assert code == 0
    # A run also finds what the pending pods mean for the clients (sim/results/capacity.py), and
    # how long they waited (sim/results/run_warnings.py).
    found = (
        [
            "warning: deployment myapp: no pod routed from 0s to 2s while clients offer up to 200 req/s: "
            "those requests are refused",
            "warning: deployment myapp: 3 pods waited Pending for a node (from 0s, the longest 2s; 3 still Pending "
            "at the end): 0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. "
            "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
        ]
        if command[0] == "run"
        else []
    )
    assert stderr.splitlines() == [
        f"warning: {warned}: document 4 (line 75): kind 'ConfigMap' is not simulated and is ignored",
        f'warning: {warned}: document 2 (line 16): Deployment "myapp": spec.template.spec.nodeSelector: '
        'no node has the labels map[string]string{"disk":"nvme"}: its pods stay Pending '
        "(0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.)",
        *found,
    ]
    assert all(len(line) > 80 for line in stderr.splitlines())


# --- get --------------------------------------------------------------------------------------


def test_get_svc_prints_kubectls_columns_for_the_guide(capsys):
    code, stdout, _ = run_cli(capsys, "get", "svc", GUIDE)
    assert code == 0
    header, row = table(stdout)
    assert header == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert row[:2] == ["myapp-service", "NodePort"]
    assert re.fullmatch(r"10\.(9[6-9]|10[0-9]|11[01])\.\d+\.\d+", row[2])
    assert row[3:] == ["<none>", "80:30008/TCP", "0s"]
    head, line = stdout.splitlines()
    assert line.index("80:30008/TCP") == head.index("PORT(S)")


def test_get_svc_port_and_ip_columns_follow_the_service_type(tmp_path, capsys):
    text = GUIDE.read_text().replace(
        "---\napiVersion: apps/v1",
        """---
apiVersion: v1
kind: Service
metadata: {name: internal}
spec:
  selector: {app: myapp}
  ports: [{port: 8080, targetPort: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: two-ports}
spec:
  type: NodePort
  selector: {app: myapp}
  ports:
  - {name: http, port: 80, nodePort: 30080}
  - {name: dns, port: 53, protocol: UDP, nodePort: 30053}
---
apiVersion: v1
kind: Service
metadata: {name: public}
spec:
  type: LoadBalancer
  selector: {app: myapp}
  ports: [{port: 443, nodePort: 30443}]
---
apiVersion: v1
kind: Service
metadata: {name: headless}
spec:
  clusterIP: None
  selector: {app: myapp}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: provisioned}
spec:
  type: LoadBalancer
  selector: {app: myapp}
  ports: [{port: 80}]
status:
  loadBalancer:
    ingress: [{ip: 20.91.172.24}]
---
apiVersion: v1
kind: Service
metadata: {name: alias}
spec:
  type: ExternalName
  externalName: db.example.com
---
apiVersion: apps/v1""",
        1,
    )
    scenario = tmp_path / "many.yaml"
    scenario.write_text(text)
    code, stdout, _ = run_cli(capsys, "get", "services", scenario)
    assert code == 0
    rows = {r[0]: r[1:] for r in table(stdout)[1:]}
    assert list(rows) == ["myapp-service", "internal", "two-ports", "public", "headless", "provisioned", "alias"]
    assert [rows[n][0] for n in rows] == [
        "NodePort",
        "ClusterIP",
        "NodePort",
        "LoadBalancer",
        "ClusterIP",
        "LoadBalancer",
        "ExternalName",
    ]
    assert [rows[n][2:4] for n in rows] == [
        ["<none>", "80:30008/TCP"],
        ["<none>", "8080/TCP"],
        ["<none>", "80:30080/TCP,53:30053/UDP"],
        ["203.0.113.1", "443:30443/TCP"],  # the first address of the default ingress pool
        ["<none>", "80/TCP"],
        ["20.91.172.24", rows["provisioned"][3]],
        ["db.example.com", "<none>"],
    ]
    assert re.fullmatch(r"80:3\d{4}/TCP", rows["provisioned"][3])
    assert (rows["headless"][1], rows["alias"][1]) == ("None", "<none>")  # printers.go: ClusterIPs[0] or <none>


def test_get_pods_shows_the_guides_pod_ips_on_each_node(capsys):
    code, stdout, _ = run_cli(capsys, "get", "pods", GUIDE)
    assert code == 0
    header, *rows = table(stdout)
    assert header == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]
    assert sorted((r[6], r[5]) for r in rows) == [
        ("node-1", "10.244.0.2"),
        ("node-2", "10.244.1.2"),
        ("node-3", "10.244.2.2"),
    ]
    assert all(r[0].startswith("myapp-") and r[1:3] == ["1/1", "Running"] for r in rows)


def test_get_with_a_bad_scenario_exits_2(tmp_path, capsys):
    scenario = tmp_path / "bad.yaml"
    scenario.write_text(BAD_SERVICE)
    code, stdout, stderr = run_cli(capsys, "get", "svc", scenario)
    assert (code, stdout) == (2, "")
    assert len(stderr.splitlines()) == 3


# --- entry points -------------------------------------------------------------------------


def test_python_dash_m_sim_and_the_svcsim_script_print_the_same(tmp_path):
    script = shutil.which("svcsim") or str(Path(sys.executable).with_name("svcsim"))
    assert Path(script).is_file(), "the svcsim console script is not installed"
    outputs = [
        subprocess.run([*cmd, "get", "svc", str(GUIDE)], capture_output=True, text=True, check=True).stdout
        for cmd in ([sys.executable, "-m", "sim"], [script])
    ]
    assert outputs[0] == outputs[1]
    assert "80:30008/TCP" in outputs[0]


# --- bench flags --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        pytest.param(["--repeat", "0"], "--repeat: Invalid value: 0: must be at least 1", id="repeat-0"),
        pytest.param(["--repeat", "-3"], "--repeat: Invalid value: -3: must be at least 1", id="repeat-negative"),
        pytest.param(
            ["--requests", "10"], "--requests: Invalid value: 10: must be between 1000 and 10000000", id="requests-few"
        ),
        pytest.param(
            ["--requests", "1000000000"],
            "--requests: Invalid value: 1000000000: must be between 1000 and 10000000",
            id="requests-many",
        ),
        pytest.param(["--seed", "-1"], "--seed: Invalid value: -1: must be >= 0", id="seed-negative"),
    ],
)
def test_bench_refuses_bad_flags_before_running(capsys, flags, expected):
    code, stdout, stderr = run_cli(capsys, "bench", *flags)
    assert (code, stdout, stderr) == (2, "", f"error: {expected}\n")


def test_run_bench_refuses_zero_repeats():
    with pytest.raises(ValueError, match="repeat >= 1"):
        run_bench(1000, 1, 0)


# --- saved runs: damaged files and unwritable outputs ---------------------------------------------


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One short run of the guide (its client retrying, so every table is written), saved
    without plots; tests copy it before changing it."""
    base = tmp_path_factory.mktemp("saved")
    scenario = base / "quick.yaml"
    text = GUIDE.read_text().replace("warmup: 10s", "warmup: 1s")
    scenario.write_text(
        text.replace("      arrival: poisson\n", "      arrival: poisson\n      retries: {attempts: 2}\n", 1)
    )
    out = base / "run"
    assert main(["run", str(scenario), "--out", str(out), "--duration", "3s", "--quiet", "--no-plots"]) == 0
    return out


@pytest.fixture
def run_copy(saved_run: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(saved_run, copy)
    return copy


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        pytest.param("summary.json", b"{not json", r"cannot read: Expecting property name .*", id="summary-not-json"),
        pytest.param(
            "summary.json", b"[1, 2]", r"cannot read: expected a JSON object with an integer seed", id="summary-list"
        ),
        pytest.param(
            "summary.json", b"\xff\xfe", r"cannot read: 'utf-8' codec can't decode byte 0xff .*", id="summary-binary"
        ),
        pytest.param("pods.parquet", b"not parquet", r"cannot read: .*[Pp]arquet.*", id="pods"),
        pytest.param("requests.parquet", b"", r"cannot read: .+", id="requests-empty"),
        pytest.param("timeline.parquet", b"PAR1garbagePAR1", r"cannot read: .+", id="timeline"),
    ],
)
def test_a_damaged_run_file_is_one_error_naming_it(run_copy, capsys, name, content, problem):
    (run_copy / name).write_bytes(content)
    with pytest.raises(sim.ScenarioError) as info:
        sim.load_result(run_copy)
    [found] = info.value.problems
    assert (found.file, found.document, found.field) == (str(run_copy / name), "", "")
    assert re.fullmatch(problem, found.message), found.message
    for command in ("plot", "report"):
        code, stdout, stderr = run_cli(capsys, command, run_copy)
        assert (code, stdout, stderr) == (2, "", f"error: {run_copy / name}: {found.message}\n")
    assert {p.name for p in run_copy.iterdir()} == RESULT_FILES | {
        "pods.parquet",
        "tries.parquet",
        "events.parquet",
        "pod_status.parquet",
        "hpa.parquet",
        "hpa_metrics.parquet",
        "nodes.parquet",
        ".svcsim-run",
    }  # no plots, no report


def test_a_parquet_file_without_the_expected_columns_is_named(run_copy):
    pd.DataFrame({"x": [1]}).to_parquet(run_copy / "pods.parquet")
    with pytest.raises(sim.ScenarioError) as info:
        sim.load_result(run_copy)
    assert [str(p) for p in info.value.problems] == [
        f"{run_copy / 'pods.parquet'}: not written by svcsim: no column pod, deployment, node, ip, created, ready, "
        "terminating, deleted, routed, unrouted, requests, utilisation"
    ]


@pytest.mark.parametrize(
    ("command", "blocked"),
    [
        pytest.param("plot", "plots/latency.png", id="plot-file-is-a-directory"),
        pytest.param("plot", "plots", id="plots-folder-is-a-file"),
        pytest.param("report", "report.html", id="report-is-a-directory"),
    ],
)
def test_an_output_that_cannot_be_written_is_one_error(run_copy, capsys, command, blocked):
    target = run_copy / blocked
    if blocked == "plots":
        target.write_text("in the way")
    else:
        target.mkdir(parents=True)
    code, stdout, stderr = run_cli(capsys, command, run_copy)
    assert (code, stdout) == (2, "")
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert re.fullmatch(rf"error: {re.escape(str(run_copy))}: cannot write {re.escape(str(target))}: .+", lines[0])


# --- saved runs that plot and report cannot use: one line naming the file, exit 2 ---------------


def broken_table(run_copy: Path, name: str, change) -> None:
    table = pd.read_parquet(run_copy / name)
    change(table).to_parquet(run_copy / name, index=False)


def assert_one_error_for_plot_and_report(capsys, run_copy: Path, line: str) -> None:
    before = sorted(p.name for p in run_copy.iterdir())
    for command in ("plot", "report"):
        code, stdout, stderr = run_cli(capsys, command, run_copy)
        assert (code, stdout, stderr) == (2, "", line + "\n")
    assert sorted(p.name for p in run_copy.iterdir()) == before  # no plots, no report, no staging


def test_the_checked_columns_are_exactly_the_ones_a_run_writes(saved_run):
    for name, columns in COLUMNS.items():
        assert list(columns) == list(pd.read_parquet(saved_run / name).columns), name


@pytest.mark.parametrize(
    ("name", "column"),
    [(name, column) for name, columns in COLUMNS.items() for column in columns],
    ids=[f"{name.split('.')[0]}-{column}" for name, columns in COLUMNS.items() for column in columns],
)
def test_a_table_missing_any_of_its_columns_is_one_error_naming_it(run_copy, capsys, name, column):
    broken_table(run_copy, name, lambda t: t.drop(columns=[column]))
    assert_one_error_for_plot_and_report(
        capsys, run_copy, f"error: {run_copy / name}: not written by svcsim: no column {column}"
    )


def test_an_unknown_outcome_is_one_error_naming_the_file(run_copy, capsys):
    def lost(table: pd.DataFrame) -> pd.DataFrame:
        table["outcome"] = table["outcome"].astype(str)
        table.loc[table.index[::2], "outcome"] = "lost"
        return table

    broken_table(run_copy, "requests.parquet", lost)
    assert_one_error_for_plot_and_report(
        capsys,
        run_copy,
        f"error: {run_copy / 'requests.parquet'}: not written by svcsim: column outcome holds lost, not one of "
        "ok, refused, unreachable, rejected, reset, timeout",
    )


def test_a_request_without_an_outcome_is_one_error_naming_the_file(run_copy, capsys):
    def blank(table: pd.DataFrame) -> pd.DataFrame:
        table["outcome"] = table["outcome"].astype(object)
        table.loc[table.index[:3], "outcome"] = None
        return table

    broken_table(run_copy, "requests.parquet", blank)
    assert_one_error_for_plot_and_report(
        capsys,
        run_copy,
        f"error: {run_copy / 'requests.parquet'}: not written by svcsim: column outcome is empty in 3 row(s)",
    )


@pytest.mark.parametrize(
    ("name", "column"),
    [("requests.parquet", "latency"), ("timeline.parquet", "pods_ready"), ("pods.parquet", "created")],
)
def test_a_number_column_holding_text_is_one_error_naming_it(run_copy, capsys, name, column):
    broken_table(run_copy, name, lambda t: t.assign(**{column: "soon"}))
    assert_one_error_for_plot_and_report(
        capsys, run_copy, f"error: {run_copy / name}: not written by svcsim: column {column} holds 'soon', not numbers"
    )


@pytest.mark.parametrize("name", ["requests.parquet", "timeline.parquet", "pods.parquet", "summary.json"])
def test_a_missing_run_file_is_one_error_naming_it(run_copy, capsys, name):
    (run_copy / name).unlink()
    assert_one_error_for_plot_and_report(
        capsys, run_copy, f"error: {run_copy}: not a svcsim run folder: missing {name}"
    )


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        pytest.param(lambda s: s.pop("latency_ms"), "no key latency_ms", id="no-latency"),
        pytest.param(lambda s: s.pop("outcomes"), "no key outcomes", id="no-outcomes"),
        pytest.param(lambda s: s.update(requests="many"), 'requests is "many", not an integer', id="text-count"),
        pytest.param(lambda s: s.update(throughput_rps=[1]), "throughput_rps is [1], not a number or null", id="list"),
    ],
)
def test_a_summary_without_what_the_report_reads_is_one_error_naming_it(run_copy, capsys, change, problem):
    summary = json.loads((run_copy / "summary.json").read_text())
    change(summary)
    (run_copy / "summary.json").write_text(json.dumps(summary))
    assert_one_error_for_plot_and_report(
        capsys, run_copy, f"error: {run_copy / 'summary.json'}: cannot read: {problem}"
    )


def test_pods_on_a_node_the_scenario_lacks_are_one_error_naming_the_file(run_copy, capsys):
    broken_table(run_copy, "pods.parquet", lambda t: t.assign(node="node-9"))
    assert_one_error_for_plot_and_report(
        capsys, run_copy, f"error: {run_copy / 'pods.parquet'}: pods on node(s) node-9 that scenario.yaml does not have"
    )


# --- summary.json is strict JSON --------------------------------------------------------------------


def strict_json(text: str) -> object:
    """json.loads without Python's extensions: NaN, Infinity and -Infinity are errors."""

    def refuse(constant: str) -> object:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_a_run_with_no_ok_request_writes_null_latency_in_strict_json(tmp_path, quick, capsys):
    scenario = tmp_path / "none.yaml"
    scenario.write_text(quick.read_text().replace("replicas: 3", "replicas: 0"))
    out = tmp_path / "run"
    assert run_cli(capsys, "run", scenario, "--out", out, "--duration", "3s", "--quiet")[0] == 0
    summary = strict_json((out / "summary.json").read_text())
    assert summary["latency_ms"] == dict.fromkeys(("mean", "p50", "p90", "p95", "p99", "max"))
    assert summary["outcomes"]["ok"] == 0 and summary["outcomes"]["refused"] == summary["requests"] > 0
    assert summary["throughput_rps"] == 0.0


def test_save_writes_a_statistic_that_is_not_a_finite_number_as_null(tmp_path):
    result = sim.simulate(sim.load_scenario(GUIDE).with_overrides(duration_s=12), seed=1)
    result.summary["latency_ms"].update(mean=float("nan"), max=float("inf"))
    result.summary["throughput_rps"] = np.float64("-inf")
    pod = next(iter(result.summary["pods"]))
    result.summary["pods"][pod]["utilisation"] = float("nan")
    result.save(tmp_path / "run")
    summary = strict_json((tmp_path / "run" / "summary.json").read_text())
    assert (summary["latency_ms"]["mean"], summary["latency_ms"]["max"], summary["throughput_rps"]) == (None,) * 3
    assert summary["pods"][pod]["utilisation"] is None
    assert summary["latency_ms"]["p50"] == result.summary["latency_ms"]["p50"]  # finite values as they were


def test_a_bare_number_on_the_command_line_is_seconds(capsys):
    """As everywhere else, ``--at 0`` and ``--at 12`` are seconds (a new user tripped on it)."""
    scenario = str(ROOT / "scenarios" / "scale-up-down.yaml")
    assert main(["get", "pods", scenario, "--at", "12"]) == 0
    assert main(["get", "pods", scenario, "--at", "0"]) == 0
    out = capsys.readouterr().out
    assert " 12s " in out and " 0s " in out


def test_output_cut_off_by_head_ends_quietly():
    """``svcsim get pods ... | head -1``: no BrokenPipeError traceback, exit 141 (SIGPIPE)."""
    command = [sys.executable, "-m", "sim", "get", "pods", "scenarios/scale-up-down.yaml", "--at", "12"]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader goes away before svcsim writes (it takes a second to start)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) in (0, 141)
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_a_run_cut_off_by_head_exits_141_not_1(tmp_path):
    """``svcsim run ... | head -1``: rich would exit 1 (the code kept for bugs); it is 141 and
    the files are complete."""
    out = tmp_path / "run"
    command = [sys.executable, "-m", "sim", "run", "scenarios/nodeport-basic.yaml", "--out", str(out)]
    command += ["--no-plots", "--duration", "20s"]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 141, err
    assert "Traceback" not in err
    assert (out / "requests.parquet").exists() and (out / "summary.json").exists()


@pytest.mark.parametrize(
    ("scenario", "old", "new", "field"),
    [
        ("clusterip-tiers", "calls: [{service: backend", "calls: [{service: backend, timeout: abc", "calls[0].timeout"),
        ("loadbalancer-local", "healthCheckInterval: 5s", "healthCheckInterval: abc", "healthCheckInterval"),
    ],
)
def test_an_unreadable_positive_duration_is_one_error(scenario, old, new, field):
    """A duration that must be > 0 and cannot be read gives its one line, not a second 'must be > 0'."""
    text = (ROOT / "scenarios" / f"{scenario}.yaml").read_text().replace(old, new, 1)
    with pytest.raises(sim.ScenarioError) as info:
        sim.load_scenario(text)
    assert len(info.value.problems) == 1
    assert f"{field}: expected a duration" in str(info.value.problems[0])


def test_a_retrying_run_prints_its_summary_and_fails_its_slo_with_exit_3(capsys, tmp_path):
    """The summary of a run whose client retries has a retries row; --fail-on-slo exits 3."""
    from scenario_text import scenario_yaml  # noqa: PLC0415

    docs = list(
        yaml.safe_load_all(
            scenario_yaml(
                duration=5.0,
                workload={"queueLimit": 0},
                clients=[{"name": "c0", "rate": 300.0, "retries": {"attempts": 2, "on": ["rejected"]}}],
            )
        )
    )
    docs[2]["spec"]["slo"] = {"errorRate": "0.1%"}
    path = tmp_path / "retrying.yaml"
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    code, stdout, stderr = run_cli(capsys, "run", path, "--out", tmp_path / "run", "--no-plots", "--fail-on-slo")
    assert code == 3, stderr
    assert re.search(r"│ retries\s+│\s+\d+ │", stdout)
    assert "SLO MISSED" in stdout
    assert (tmp_path / "run" / "tries.parquet").is_file()


def test_a_retrying_run_without_its_tries_table_is_one_error(run_copy, capsys):
    """The saved run's client retries, so tries.parquet belongs to it: without it, plot and
    report refuse the folder (and leave the old plots alone)."""
    (run_copy / "tries.parquet").unlink()
    assert_one_error_for_plot_and_report(
        capsys,
        run_copy,
        f"error: {run_copy}: not a complete svcsim run folder: missing tries.parquet (its clients retry)",
    )


def test_a_duration_override_that_leaves_a_client_silent_is_refused(capsys, tmp_path):
    """A client that starts after the overridden end, or whose steps begin later, would send
    nothing: refused as the same spec.duration would be; a stop past the end is cut there."""
    from scenario_text import scenario_yaml  # noqa: PLC0415

    text = scenario_yaml(
        duration=100.0,
        clients=[
            {"name": "late", "rate": 10.0, "start": "10s"},
            {"name": "steps", "rate": {"steps": [{"at": "20s", "rate": 5}]}},
            {"name": "early", "rate": 10.0, "stop": "50s"},
        ],
    )
    path = tmp_path / "s.yaml"
    path.write_text(text)
    code, stdout, stderr = run_cli(capsys, "run", path, "--out", tmp_path / "r", "--duration", "8s", "--quiet")
    assert code == 2 and stdout == ""
    assert stderr.splitlines() == [
        f"error: {path}: --duration: client late would send nothing in the first 8s (it starts at 10s)",
        f"error: {path}: --duration: client steps would send nothing in the first 8s",
    ]
    assert not (tmp_path / "r").exists()
    code, _, _ = run_cli(capsys, "run", path, "--out", tmp_path / "r", "--duration", "30s", "--quiet", "--no-plots")
    assert code == 0
    requests = pd.read_parquet(tmp_path / "r" / "requests.parquet")
    assert requests.groupby("client", observed=True)["t_sent"].max()["early"] < 30
    saved = sim.load_result(tmp_path / "r")  # the saved scenario has the cut stop, so it loads again
    assert saved.scenario.simulation.clients[2].stop_s == 30.0
