"""Replications and sweeps on dask.distributed (``sim.replicate(..., client=)``, ``svcsim run
--replications N --workers K | --scheduler ADDR | --serial``, ``sim.sweep``, ``svcsim sweep``):
the same bytes as a serial run on real local clusters of worker processes on 127.0.0.1, a
worker's error as one error, and no process left behind.

One 2-worker cluster serves the whole module (starting one costs seconds); the 1-worker
cluster is started once, in the test that also checks it leaves no process behind.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import dask
import pandas as pd
import psutil
import pytest
from scenario_text import scenario

import sim
from sim import bench
from sim.cli import main
from sim.experiments import dask_executor as dx
from sim.experiments.metrics import run_one
from sim.experiments.replications import replicate

SMALL = {"rate": 50.0, "duration": 4.0, "warmup": 1.0}  # M/M/1 at rho 0.5, ~200 requests a run
N, SEED = 6, 11


@pytest.fixture(scope="module")
def client():
    with dx.local_cluster(2) as c:
        assert len(c.scheduler_info()["workers"]) == 2
        yield c


@pytest.fixture(scope="module")
def serial_bytes(tmp_path_factory) -> bytes:
    out = tmp_path_factory.mktemp("serial")
    replicate(scenario(**SMALL), N, seed=SEED).save(out)
    return (out / "replications.parquet").read_bytes()


def _parquet(reps: sim.Replications, folder: Path) -> bytes:
    reps.save(folder)
    return (folder / "replications.parquet").read_bytes()


def test_two_workers_give_the_serial_runs_bytes(client, serial_bytes, tmp_path):
    """Same seeds, same metrics, same row order (by replication index), whatever order the workers finish in."""
    reps = replicate(scenario(**SMALL), N, seed=SEED, client=client)
    assert reps.table["replication"].tolist() == list(range(N))
    assert _parquet(reps, tmp_path) == serial_bytes


def test_an_executor_over_a_client_passed_in_gives_the_same_bytes(client, serial_bytes, tmp_path):
    reps = replicate(scenario(**SMALL), N, seed=SEED, executor=dx.dask_executor(client))
    assert _parquet(reps, tmp_path) == serial_bytes


SWEEP_GRID = {"deployment/web.spec.replicas": [1, 2], "simulation.spec.clients[c0].rate": [30, 60]}


@pytest.fixture(scope="module")
def serial_sweep_bytes(tmp_path_factory) -> bytes:
    out = tmp_path_factory.mktemp("serial-sweep")
    sim.sweep(scenario(**SMALL), SWEEP_GRID, 3, seed=SEED).save(out)
    return (out / "sweep.parquet").read_bytes()


def _sweep_parquet(result: sim.Sweep, folder: Path) -> bytes:
    result.save(folder)
    return (folder / "sweep.parquet").read_bytes()


def test_a_sweep_on_two_workers_writes_the_serial_sweeps_bytes(client, serial_sweep_bytes, tmp_path):
    """Issue 12: serial, 1 worker (next test) and 2 workers give byte-identical sweep.parquet."""
    result = sim.sweep(scenario(**SMALL), SWEEP_GRID, 3, seed=SEED, client=client)
    assert _sweep_parquet(result, tmp_path) == serial_sweep_bytes


def test_cli_sweep_on_a_scheduler_writes_the_serial_sweeps_bytes(client, serial_sweep_bytes, tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(scenario(**SMALL).to_yaml(), encoding="utf-8")
    sets = [f"--set={p}={','.join(map(str, v))}" for p, v in SWEEP_GRID.items()]
    common = ["sweep", str(path), *sets, "--replications", "3", "--seed", str(SEED), "--quiet", "--no-plots"]
    assert main([*common, "--out", str(tmp_path / "a"), "--scheduler", client.scheduler.address]) == 0
    assert (tmp_path / "a" / "sweep.parquet").read_bytes() == serial_sweep_bytes


def test_one_worker_gives_the_same_bytes_and_leaves_no_process_behind(serial_bytes, serial_sweep_bytes, tmp_path):
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    with dx.local_cluster(1) as one:
        workers = one.scheduler_info()["workers"]
        assert len(workers) == 1 and all(address.startswith("tcp://127.0.0.1:") for address in workers)
        started = {p.pid for p in me.children(recursive=True)} - before
        assert started, "a LocalCluster of processes starts at least one worker process"
        reps = replicate(scenario(**SMALL), N, seed=SEED, client=one)
        swept = sim.sweep(scenario(**SMALL), SWEEP_GRID, 3, seed=SEED, client=one)
    assert _parquet(reps, tmp_path) == serial_bytes
    assert _sweep_parquet(swept, tmp_path / "sweep") == serial_sweep_bytes
    _, alive = psutil.wait_procs([psutil.Process(pid) for pid in started if psutil.pid_exists(pid)], timeout=10)
    assert not alive, f"worker processes still running after the cluster closed: {[p.pid for p in alive]}"


def test_a_failing_run_is_one_error_naming_the_run_and_the_cluster_stays_usable(client):
    """A negative seed makes the engine raise on the worker (SeedSequence refuses it)."""
    s = scenario(**SMALL)
    execute = dx.dask_executor(client)
    with pytest.raises(dx.RunFailed, match=r"^run 1 \(seed -1\) failed on a Dask worker: ValueError: ") as caught:
        list(execute(run_one, [(s, 5), (s, -1), (s, 7)]))
    assert isinstance(caught.value.__cause__, ValueError)
    assert caught.value.index == 1 and caught.value.seed == -1
    assert dict(execute(run_one, [(s, 5)])) == {0: run_one(s, 5)}  # nothing left stuck on the cluster


def test_client_and_executor_together_are_refused(client):
    with pytest.raises(ValueError, match="client= or executor="):
        replicate(scenario(**SMALL), 2, seed=1, client=client, executor=dx.dask_executor(client))


def test_the_default_stays_in_this_process_for_short_runs(serial_bytes, tmp_path):
    """~0.1 s runs: 5 more are far under AUTO_CLUSTER_MIN_S, so no cluster starts."""
    started: list[int] = []
    reps = replicate(scenario(**SMALL), N, seed=SEED, executor=dx.auto_executor(2, on_cluster=started.append))
    assert started == []
    assert _parquet(reps, tmp_path) == serial_bytes


def test_the_default_sends_the_rest_to_a_cluster_when_they_would_be_long(client, serial_bytes, tmp_path, monkeypatch):
    """With the threshold at 0 s the runs after the first go to a local cluster (here the module's)."""

    @contextmanager
    def module_cluster(workers):
        yield client

    monkeypatch.setattr(dx, "AUTO_CLUSTER_MIN_S", 0.0)
    monkeypatch.setattr(dx, "local_cluster", module_cluster)
    monkeypatch.setattr(dx, "idle_cores", lambda: 2.0)  # whatever else this machine is doing now
    started: list[int] = []
    reps = replicate(scenario(**SMALL), N, seed=SEED, executor=dx.auto_executor(2, on_cluster=started.append))
    assert started == [2]
    assert _parquet(reps, tmp_path) == serial_bytes


def test_the_default_stays_here_when_other_work_keeps_the_cores_busy(serial_bytes, tmp_path, monkeypatch):
    """Long runs, but a load average that leaves under 1.5 cores idle: a cluster would only share
    the cores the serial run has (measured: 13.7 s serial, 20 s on a cluster at load 2.4)."""
    monkeypatch.setattr(dx, "AUTO_CLUSTER_MIN_S", 0.0)
    monkeypatch.setattr(dx, "default_workers", lambda: 2)
    monkeypatch.setattr(dx.os, "getloadavg", lambda: (2.4, 2.0, 2.0))
    assert dx.idle_cores() == pytest.approx(0.6)
    started: list[int] = []
    reps = replicate(scenario(**SMALL), N, seed=SEED, executor=dx.auto_executor(2, on_cluster=started.append))
    assert started == []
    assert _parquet(reps, tmp_path) == serial_bytes
    monkeypatch.setattr(dx.os, "getloadavg", lambda: (1.2, 1.0, 1.0))  # this process alone, nearly
    assert dx.idle_cores() == pytest.approx(1.8)


def test_cli_scheduler_and_serial_write_the_same_bytes(client, tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(scenario(**SMALL).to_yaml(), encoding="utf-8")
    common = ["run", str(path), "--replications", "4", "--seed", "3", "--quiet"]
    assert main([*common, "--out", str(tmp_path / "a"), "--scheduler", client.scheduler.address]) == 0
    assert main([*common, "--out", str(tmp_path / "b"), "--serial"]) == 0
    a, b = (tmp_path / x / "replications.parquet" for x in "ab")
    assert a.read_bytes() == b.read_bytes()


def test_cli_refuses_cluster_flags_without_replications_and_a_bad_worker_count(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text(scenario(**SMALL).to_yaml(), encoding="utf-8")
    assert main(["run", str(path), "--workers", "2", "--out", str(tmp_path / "x")]) == 2
    assert "--workers: only with --replications" in capsys.readouterr().err
    assert main(["run", str(path), "--replications", "3", "--workers", "0", "--out", str(tmp_path / "y")]) == 2
    assert "--workers: Invalid value: 0: must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_a_local_cluster_hands_a_worker_one_run_at_a_time_and_keeps_its_housekeeping_quiet(client):
    """README "Replications on Dask": no second run queued on a busy worker, no stealing, the
    event-loop check every 500 ms and no MALLOC_TRIM_THRESHOLD_ in the workers' environment."""

    def scheduler_settings(dask_scheduler):
        return dask_scheduler.WORKER_SATURATION, "stealing" in dask_scheduler.extensions

    assert client.run_on_scheduler(scheduler_settings) == (1.0, False)

    def worker_settings():
        return dask.config.get("distributed.admin.tick.interval"), "MALLOC_TRIM_THRESHOLD_" in os.environ

    assert set(client.run(worker_settings).values()) == {("500ms", False)}


# --- svcsim bench --dask ------------------------------------------------------------------------


def test_the_bench_sweep_is_four_points_of_ten_seeds_at_560_requests_a_second():
    base = bench.dask_sweep(requests=2000)
    assert base.simulation.clients[0].rate.rate == bench.DASK_RATE == 560.0
    assert base.simulation.duration_s * bench.DASK_RATE == pytest.approx(2000)
    assert len(sim.experiments.sweep.sweep_points(bench.DASK_GRID)) * bench.DASK_SEEDS == 40
    assert max(bench.DASK_RATE / (r * 100.0) for r in bench.DASK_GRID["deployment/bench.spec.replicas"]) == 0.7


def test_the_dask_bench_runs_the_sweep_both_ways_with_identical_tables():
    """At a tiny size (2000 requests a run): the machinery, not the speed."""
    d = bench.dask_bench(workers=2, requests=2000, seed=1)
    assert (d.runs, d.points, d.workers, d.identical) == (40, 4, 2, True)
    assert 40 * 2000 * 0.9 < d.requests < 40 * 2000 * 1.1
    assert min(d.serial_s, d.start_s, d.runs_s, d.stop_s, d.workers_cpu_s, d.main_cpu_s) > 0
    assert d.dask_s == d.start_s + d.runs_s + d.stop_s and d.speedup == d.serial_s / d.dask_s
    assert d.workers_flag_identical and d.workers_flag_s > 0
    assert d.worker_peak_rss_bytes > 50 * 2**20 and d.peak_rss_bytes > 50 * 2**20


def test_bench_dask_refuses_zero_repeats_before_starting_anything(capsys):
    assert main(["bench", "--dask", "--repeat", "0"]) == 2
    assert capsys.readouterr() == ("", "error: --repeat: Invalid value: 0: must be at least 1\n")


def _where(scenario: sim.Scenario, seed: int) -> dict[str, float]:
    """A run function reporting the process that ran the task (and waiting a little, so the
    cluster comes up while tasks are still left)."""
    import time  # noqa: PLC0415

    time.sleep(0.25)
    return {"pid": float(os.getpid()), "seed": float(seed)}


def test_workers_flag_runs_here_while_the_cluster_starts_then_on_it_and_stops_it():
    """``--workers K`` (cluster_executor): the first tasks run in this process while the local
    cluster starts, the rest on its workers; every task once, and no process left behind."""
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    tasks = [(scenario(**SMALL), seed) for seed in range(24)]
    done = dict(dx.cluster_executor(2)(_where, tasks))
    assert sorted(done) == list(range(24)) and all(done[i]["seed"] == i for i in done)
    here = [i for i in done if done[i]["pid"] == os.getpid()]
    assert here and here == list(range(len(here))), "tasks ran here, in order, while the cluster started"
    assert len(here) < 24, "the rest went to the cluster's workers"
    started = {p.pid for p in me.children(recursive=True)} - before
    _, alive = psutil.wait_procs([psutil.Process(pid) for pid in started if psutil.pid_exists(pid)], timeout=10)
    assert not alive


def test_workers_flag_gives_the_serial_sweeps_bytes(serial_sweep_bytes, tmp_path):
    result = sim.sweep(scenario(**SMALL), SWEEP_GRID, 3, seed=SEED, executor=dx.cluster_executor(2))
    assert _sweep_parquet(result, tmp_path) == serial_sweep_bytes


def test_keep_tables_brings_every_runs_folder_back_from_the_workers(client, tmp_path):
    """--keep-tables: each replication's run folder, shipped back from the workers, under
    runs/replication-K/; it is the run `svcsim run --seed <its seed>` writes, table for table;
    without the flag nothing but the summaries crosses the network."""
    reps = replicate(scenario(**SMALL), 3, seed=SEED, client=client, keep_tables=True)
    assert list(reps.runs) == ["replication-0", "replication-1", "replication-2"]
    reps.save(tmp_path / "r")
    kept = sim.load_result(tmp_path / "r" / "runs" / "replication-1")
    alone = sim.simulate(scenario(**SMALL), seed=int(reps.table["seed"][1]))
    pd.testing.assert_frame_equal(kept.requests, alone.requests)
    assert replicate(scenario(**SMALL), 2, seed=SEED, client=client).runs == {}


def test_cli_sweep_keep_tables_writes_a_run_folder_per_run_and_a_rerun_without_removes_them(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(scenario(**SMALL).to_yaml(), encoding="utf-8")
    out = tmp_path / "o"
    args = ["sweep", str(path), "--set", "deployment/web.spec.replicas=1,2", "--seed", "1", "--serial", "--quiet"]
    assert main([*args, "--replications", "2", "--keep-tables", "--no-plots", "--out", str(out)]) == 0
    names = sorted(p.name for p in (out / "runs").iterdir())
    assert names == [f"point-{p}-replication-{k}" for p in (0, 1) for k in (0, 1)]
    assert main(["get", "pods", str(out / "runs" / "point-1-replication-0")]) == 0  # a run folder like any other
    assert main([*args, "--no-plots", "--out", str(out)]) == 0
    assert not (out / "runs").exists()  # the earlier sweep's kept runs go with it
