"""A scenario changed in code (``Scenario.with_changes``) or on the command line (``--set``) is
loaded and checked again in full: the same checks and the same one-line messages as a file.
Also: a scenario given as a list of dicts, and the short ``repr`` of a Scenario and a Result.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

import sim
from sim.cli import main
from sim.scenario.yaml_reader import read_documents

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "scenarios" / "nodeport-basic.yaml"
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))


@pytest.fixture(scope="module")
def guide() -> sim.Scenario:
    return sim.load_scenario(GUIDE)


def test_changes_by_index_and_by_name(guide: sim.Scenario) -> None:
    changed = guide.with_changes({"deployment/myapp.spec.replicas": 8, "simulation.spec.clients[laptop].rate": 3000})
    assert changed.deployment("myapp").replicas == 8
    assert changed.simulation.clients[0].rate.describe() == "3000 req/s"
    by_index = guide.with_changes(
        {"simulation.spec.clients[0].rate": 50, "svc/myapp-service.spec.ports[0].nodePort": 30009}
    )
    assert by_index.simulation.clients[0].rate.describe() == "50 req/s"
    assert by_index.service("myapp-service").ports[0].node_port == 30009
    # the original is untouched, and a later change of the same path wins
    assert guide.deployment("myapp").replicas == 3
    assert (
        guide.with_changes([("deployment/myapp.spec.replicas", 5), ("deployment/myapp.spec.replicas", 6)])
        .deployment("myapp")
        .replicas
        == 6
    )


def test_an_hpa_is_changed_by_kind_and_name() -> None:
    scenario = sim.load_scenario(ROOT / "scenarios" / "hpa-ramp.yaml")
    assert scenario.with_changes({"hpa/web.spec.maxReplicas": 7}).hpas[0].max_replicas == 7
    long_kind = scenario.with_changes({"horizontalpodautoscaler/web.spec.minReplicas": 2})
    assert long_kind.hpas[0].min_replicas == 2


def test_a_missing_key_is_created_with_the_mappings_on_the_way(guide: sim.Scenario) -> None:
    assert guide.simulation.slo is None
    changed = guide.with_changes(
        {
            "simulation.spec.slo.latency.p99": "150ms",
            "deployment/myapp.metadata.labels[app.kubernetes.io/part-of]": "shop",  # [key] for a key with dots
        }
    )
    assert changed.simulation.slo is not None and changed.simulation.slo.latency_s == {"p99": 0.15}
    assert changed.deployment("myapp").manifest["metadata"]["labels"]["app.kubernetes.io/part-of"] == "shop"


def test_a_name_with_dots_is_matched_whole(tmp_path: Path) -> None:
    text = GUIDE.read_text().replace("name: myapp\n", "name: my.app\n").replace("    myapp:\n", "    my.app:\n")
    path = tmp_path / "dots.yaml"
    path.write_text(text)
    scenario = sim.load_scenario(path)
    assert scenario.with_changes({"deployment/my.app.spec.replicas": 4}).deployment("my.app").replicas == 4


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("deployment/nope.spec.replicas", 'no Deployment named "nope" (the scenario\'s: myapp)'),
        (
            "hpa/web.spec.maxReplicas",
            'no HorizontalPodAutoscaler named "web" (the scenario has no HorizontalPodAutoscaler)',
        ),
        ("deployment/myapp", "give a field of the Deployment, such as deployment/myapp.spec"),
        ("simulation", "give a field of the Simulation, such as simulation.spec.duration"),
        ("simulation.spec.clients[3].rate", "spec.clients has 1 item(s): there is no [3]"),
        ("simulation.spec.clients[bob].rate", 'spec.clients has no item named "bob" (names: laptop)'),
        ("simulation.spec.duration.x", "spec.duration is a string (300s), not a mapping: it has no field 'x'"),
        ("simulation.spec.nothing[0]", "spec.nothing does not exist: there is no list to pick [0] from"),
        ("simulation.spec..x", "empty field name in 'spec..x'"),
        ("simulation.spec.clients[0", "unclosed [ in 'spec.clients[0'"),
        (
            "pod/x.spec",
            "a path starts with simulation. or <kind>/<name>. (kind: deployment, service, horizontalpodautoscaler "
            "or hpa), such as deployment/myapp.spec.replicas or simulation.spec.clients[laptop].rate",
        ),
    ],
)
def test_a_path_that_names_nothing_is_an_error_naming_it(guide: sim.Scenario, path: str, message: str) -> None:
    with pytest.raises(sim.ScenarioError) as err:
        guide.with_changes({path: 1})
    assert [str(p) for p in err.value.problems] == [f"{GUIDE}: --set {path}: {message}"]


def test_every_bad_path_is_reported_at_once(guide: sim.Scenario) -> None:
    with pytest.raises(sim.ScenarioError) as err:
        guide.with_changes({"deployment/a.spec.replicas": 1, "deployment/b.spec.replicas": 1})
    assert [p.field for p in err.value.problems] == [
        "--set deployment/a.spec.replicas",
        "--set deployment/b.spec.replicas",
    ]


@pytest.mark.parametrize(
    ("path", "value", "written", "as_file"),
    [
        ("deployment/myapp.spec.replicas", -5, "  replicas: 3\n", "  replicas: -5\n"),
        # dataclasses.replace ran this one into an IndexError (issue 12)
        ("simulation.spec.workloads.myapp.concurrency", 0, "concurrency: 1\n", "concurrency: 0\n"),
        ("simulation.spec.clients[laptop].rate", "fast", "rate: 200\n", "rate: fast\n"),
        ("simulation.spec.bogus", 1, "  seed: 42\n", "  seed: 42\n  bogus: 1\n"),
    ],
)
def test_an_invalid_value_gives_the_files_message_naming_the_change(
    guide: sim.Scenario, tmp_path: Path, path: str, value: object, written: str, as_file: str
) -> None:
    """The message is the one the same value written in the file gets, after ``--set <path>:``."""
    text = GUIDE.read_text()
    assert text.count(written) == 1
    edited = tmp_path / "edited.yaml"
    edited.write_text(text.replace(written, as_file))
    with pytest.raises(sim.ScenarioError) as from_file:
        sim.load_scenario(edited)
    with pytest.raises(sim.ScenarioError) as changed:
        guide.with_changes({path: value})
    expected = [str(p).replace(f"{edited}: ", f"{GUIDE}: --set {path}: ", 1) for p in from_file.value.problems]
    assert [str(p) for p in changed.value.problems] == expected


def test_a_problem_elsewhere_keeps_the_loaders_line(guide: sim.Scenario) -> None:
    """A change that breaks another field (a Service selecting no pod's label) is reported where that field is."""
    with pytest.raises(sim.ScenarioError) as err:
        guide.with_changes({"simulation.spec.clients[laptop].target.service": "nope"})
    assert len(err.value.problems) == 1
    assert "--set simulation.spec.clients[laptop].target.service: document 3" in str(err.value.problems[0])


def test_changes_keep_an_earlier_seed_and_duration_override(guide: sim.Scenario) -> None:
    changed = guide.with_overrides(seed=7, duration_s=20.0).with_changes({"deployment/myapp.spec.replicas": 2})
    assert (changed.simulation.seed, changed.simulation.duration_s) == (7, 20.0)
    assert changed.deployment("myapp").replicas == 2


def test_dataclasses_replace_skips_validation_with_changes_does_not(guide: sim.Scenario) -> None:
    """Why the README points to with_changes: replace builds whatever it is given."""
    bad = dataclasses.replace(guide.deployments[0], replicas=-5)
    assert dataclasses.replace(guide, deployments=(bad,)).deployments[0].replicas == -5
    with pytest.raises(sim.ScenarioError):
        guide.with_changes({"deployment/myapp.spec.replicas": -5})


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_scenarios_reload_unchanged(path: Path) -> None:
    """No change: the same resolved scenario, and the kept documents are the file's."""
    scenario = sim.load_scenario(path)
    assert scenario.with_changes({}).to_yaml() == scenario.to_yaml()
    assert list(scenario.documents) == read_documents(str(path), path.read_text())


def test_a_list_of_dicts_loads_as_the_file_does() -> None:
    documents = list(yaml.safe_load_all(GUIDE.read_text()))
    from_list = sim.load_scenario(documents)
    assert from_list.to_yaml() == sim.load_scenario(GUIDE).to_yaml()
    assert from_list.source == "<documents>"
    documents[1]["spec"]["replicas"] = 9  # the scenario keeps its own copy
    assert from_list.deployment("myapp").replicas == 3
    assert from_list.with_changes({"deployment/myapp.spec.replicas": 4}).deployment("myapp").replicas == 4


def test_a_list_of_dicts_is_checked_with_the_same_messages() -> None:
    documents = list(yaml.safe_load_all(GUIDE.read_text()))
    documents[1]["spec"]["replicas"] = -5
    documents[2]["spec"]["clients"][0]["rate"] = {1, 2}  # no YAML value
    with pytest.raises(sim.ScenarioError) as err:
        sim.load_scenario(documents)
    assert [str(p) for p in err.value.problems] == [
        "<documents>: document 3: spec.clients[0].rate: Invalid value: a Python set: only YAML values "
        "(mappings, lists, text, numbers, true/false, null) can be read"
    ]
    documents[2]["spec"]["clients"][0]["rate"] = 200
    with pytest.raises(sim.ScenarioError) as err:
        sim.load_scenario(documents)
    assert [str(p) for p in err.value.problems] == [
        '<documents>: document 2: The Deployment "myapp" is invalid: spec.replicas: Invalid value: -5: '
        "must be greater than or equal to 0"
    ]
    with pytest.raises(sim.ScenarioError) as err:
        sim.load_scenario([documents[0], "text"])
    assert str(err.value.problems[0]) == "<documents>: document 2: must be a mapping with apiVersion and kind"
    with pytest.raises(sim.ScenarioError) as err:
        sim.load_scenario([])
    assert str(err.value) == (
        "<documents>: no documents: a scenario needs a Simulation document (apiVersion: svcsim/v1alpha1, kind: Simulation)"
    )
    with pytest.raises(sim.ScenarioError) as err:
        sim.load_scenario(documents[2])  # type: ignore[arg-type]
    assert "a list of documents (dicts), not a dict" in str(err.value)


def test_cli_set_changes_what_runs_and_is_saved(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    code = main(
        ["run", str(GUIDE), "--quiet", "--no-plots", "--duration", "12s", "--out", str(out),
         "--set", "deployment/myapp.spec.replicas=5", "--set", "simulation.spec.clients[laptop].rate=50"]
    )  # fmt: skip
    assert code == 0
    saved = yaml.safe_load_all((out / "scenario.yaml").read_text())
    by_kind = {d["kind"]: d for d in saved}
    assert by_kind["Deployment"]["spec"]["replicas"] == 5  # "5" on the command line is read as YAML: a number
    assert by_kind["Simulation"]["spec"]["clients"][0]["rate"] == 50
    assert main(["get", "pods", str(GUIDE), "--set", "deployment/myapp.spec.replicas=2"]) == 0
    assert capsys.readouterr().out.count("Running") == 2


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (
            ["validate", str(GUIDE), "--set", "deployment/myapp.spec.replicas=-5"],
            f'{GUIDE}: --set deployment/myapp.spec.replicas: document 2 (line 16): The Deployment "myapp" is invalid: '
            "spec.replicas: Invalid value: -5: must be greater than or equal to 0",
        ),
        (
            ["run", str(GUIDE), "--set", "deployment/nope.spec.replicas=2"],
            f'{GUIDE}: --set deployment/nope.spec.replicas: no Deployment named "nope" (the scenario\'s: myapp)',
        ),
        (
            ["get", "svc", str(GUIDE), "--set", "replicas"],
            f"{GUIDE}: --set replicas: expected PATH=VALUE, such as deployment/myapp.spec.replicas=8",
        ),
        (
            ["validate", str(GUIDE), "--set", "simulation.spec.duration="],
            f"{GUIDE}: --set simulation.spec.duration: no value after '=' (write '' for empty text, null for none)",
        ),
        (
            ["validate", str(GUIDE), "--set", "simulation.spec.duration={a:"],
            f"{GUIDE}: --set simulation.spec.duration: cannot read the value as YAML: "
            "expected the node content, but found '<stream end>'",
        ),
    ],
)
def test_cli_set_errors_exit_2_with_one_line(
    argv: list[str], error: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, *(["--out", str(tmp_path / "x")] if argv[0] == "run" else [])]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"error: {error}\n"
    assert not (tmp_path / "x").exists()


def test_cli_set_refuses_a_run_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert main(["run", str(GUIDE), "--quiet", "--no-plots", "--duration", "11s", "--out", str(out)]) == 0
    assert main(["get", "pods", str(out), "--set", "deployment/myapp.spec.replicas=2"]) == 2
    assert capsys.readouterr().err == f"error: {out}: --set: changes a scenario file, not a run folder\n"
    assert repr(sim.load_result(out)).startswith("<Result nodeport-basic, seed 42: ")  # a run read back


def test_repr_of_a_scenario_is_a_few_readable_lines(guide: sim.Scenario) -> None:
    assert repr(guide) == (
        f"<Scenario nodeport-basic from {GUIDE}\n"
        "  services: myapp-service (NodePort 80:30008/TCP)\n"
        "  deployments: myapp (3 replicas)\n"
        "  nodes: 3\n"
        "  clients: laptop (200 req/s poisson to myapp-service via nodePort)\n"
        "  duration 5m, warmup 10s, seed 42>"
    )


def test_repr_of_a_result_is_a_few_readable_lines(guide: sim.Scenario) -> None:
    result = sim.simulate(guide.with_overrides(duration_s=12.0), seed=3)
    s = result.summary
    lines = repr(result).splitlines()
    assert lines[0] == f"<Result nodeport-basic, seed 3: {s['requests']} requests over 12s (warmup 10s)"
    assert lines[1] == f"  outcomes: ok {s['outcomes']['ok']}"
    assert lines[2] == (
        f"  latency ms (ok, after warmup): p50 {s['latency_ms']['p50']:.2f}, p99 {s['latency_ms']['p99']:.2f}"
    )
    assert lines[3] == f"  throughput {s['throughput_rps']:.1f} rps>"
    assert len(lines) == 4


def test_cli_set_puts_right_what_the_file_gets_wrong(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--set changes the file before it is checked (README): a file refused alone (replicas -5)
    validates with the change that fixes it; the file's own message without it."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(GUIDE.read_text().replace("replicas: 3\n", "replicas: -5\n", 1))
    assert main(["validate", str(bad)]) == 2
    assert "spec.replicas: Invalid value: -5: must be greater than or equal to 0" in capsys.readouterr().err
    assert main(["validate", str(bad), "--set", "deployment/myapp.spec.replicas=3"]) == 0
    assert "valid: 1 Service(s), 1 Deployment(s)" in capsys.readouterr().out
