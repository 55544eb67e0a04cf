"""Runs on ``dask.distributed``: an :data:`~sim.experiments.replications.Executor` that sends
each ``(scenario, seed)`` task to a Dask worker and yields ``(index, metrics)`` as they finish.

- :func:`dask_executor` uses a ``distributed.Client`` the caller owns (an existing cluster,
  ``svcsim run --scheduler tcp://HOST:8786``, ``sim.replicate(..., client=...)``);
- :func:`local_cluster` starts a cluster on this machine for one command (worker processes
  with one thread each, on 127.0.0.1) and stops it after;
- :func:`auto_executor` is the CLI's default: the first run in this process, timed, and the
  rest on a local cluster only when they would take long enough to pay its start-up
  (:data:`AUTO_CLUSTER_MIN_S`, README "Replications on Dask");
- :func:`cluster_executor` starts a local cluster for the tasks (``--workers K``) and runs
  tasks in this process while it starts, as the default does once it has chosen a cluster.

Each distinct scenario is scattered to the workers once; a task ships only its seed and
brings back the few hundred bytes of :func:`~sim.experiments.metrics.run_one`'s dict. The
results do not depend on the executor: every seed comes from ``(root seed, index)`` alone and
the metrics are plain floats, pickled exactly.

``dask`` is imported when a cluster is used, not when ``sim`` is: a serial run never pays for it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

from sim.experiments.replications import Executor, RunFunction, RunTask

__all__ = [
    "AUTO_CLUSTER_MIN_IDLE",
    "AUTO_CLUSTER_MIN_S",
    "RunFailed",
    "auto_executor",
    "cluster_executor",
    "connect",
    "dask_executor",
    "default_workers",
    "idle_cores",
    "local_cluster",
]

#: The rest of the runs go to a local cluster when, at the first run's speed, they would take
#: longer than this serially: starting 2 worker processes, importing svcsim in them and
#: stopping them again costs 1.6-4.5 s on a 2-core machine (measured, README).
AUTO_CLUSTER_MIN_S = 10.0
#: ...and when at least this many cores are idle (:func:`idle_cores`): measured on a 2-core
#: machine with the load average at 2.4, 8 replications took 13.7 s serially and 20-21 s on a
#: 2-worker cluster.
AUTO_CLUSTER_MIN_IDLE = 1.5


class RunFailed(RuntimeError):
    """A run raised on a worker (or its worker died): which task, which seed, what error.

    The worker's exception is chained as ``__cause__``; the runs still pending are cancelled.
    """

    def __init__(self, index: int, seed: int, error: BaseException) -> None:
        detail = " ".join(str(error).split()) or "(no message)"
        super().__init__(f"run {index} (seed {seed}) failed on a Dask worker: {type(error).__name__}: {detail}")
        self.index, self.seed = index, seed


def default_workers() -> int:
    """Worker processes for a local cluster: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@contextmanager
def local_cluster(workers: int | None = None) -> Iterator[Any]:
    """A ``distributed.Client`` on a new ``LocalCluster`` of ``workers`` processes (default:
    :func:`default_workers`), one thread each, listening on 127.0.0.1 only (the dashboard on a free port);
    closed, with its processes, when the block ends."""
    import dask  # noqa: PLC0415 (only a cluster needs dask)
    from distributed import Client, LocalCluster  # noqa: PLC0415

    n = default_workers() if workers is None else int(workers)
    if n < 1:
        raise ValueError(f"workers must be >= 1, got {workers!r}")
    with ExitStack() as stack:
        # Entered and left without ``with Client(...)``: that form keeps a context variable that
        # only the thread that entered it may reset, and cluster_executor starts the cluster in
        # a thread of its own and stops it in the caller's.
        stack.enter_context(dask.config.set(_worker_config()))
        cluster = LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",  # a free port: a fixed one clashes with a second cluster
            silence_logs=50,  # logging.CRITICAL: a worker's own log lines are not the user's output
        )
        stack.callback(cluster.close)
        client = Client(cluster)
        stack.callback(client.close)
        yield client


def _worker_config() -> dict[str, Any]:
    """Dask settings for a local cluster whose workers run one CPU-bound simulation after another
    (README, "Replications on Dask", has the measurements).

    - Without Dask's ``MALLOC_TRIM_THRESHOLD_=65536`` in the workers' environment: setting it
      turns off glibc's adaptive mmap threshold, so every large numpy column of a run is a fresh
      ``mmap`` and its pages faulted in again; measured, a 1 000 000-request run took 0.78 s of
      CPU on a worker with it, 0.65 s without, 0.61 s in this process. Dask's other worker
      environment (one BLAS thread) is kept.
    - Without the worker's statistical profiler (a stack sample every 10 ms, about 5 % more).
    - Quieter housekeeping: every process's event-loop check every 500 ms instead of 20 ms,
      the memory monitors every 1 s instead of 100 ms, the host monitor every 2 s instead of
      500 ms. They only serve warnings, the dashboard and the memory limits, and on 2 cores
      they ran beside the workers: this process (scheduler, nannies, client) used 4-5 % of a
      core during the runs with Dask's defaults, 1.3-1.7 % with these.
    - One task per worker at a time (``worker-saturation`` 1.0; Dask's default 1.1 hands a
      1-thread worker two): at the end of a sweep a run no longer waits behind another on a
      busy worker while a second worker idles; the next run leaves the scheduler's queue when
      a worker is free (a round trip of 1-5 ms, measured). With nothing assigned ahead there
      is nothing to steal, so work stealing (a scheduler callback every 100 ms) is off.
    """
    import dask  # noqa: PLC0415
    import distributed  # noqa: F401, PLC0415 (its defaults enter dask.config on import)

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    return {
        "distributed.nanny.pre-spawn-environ": environ,
        "distributed.worker.profile.enabled": False,
        "distributed.admin.tick.interval": "500ms",
        "distributed.worker.memory.monitor-interval": "1s",
        "distributed.admin.system-monitor.interval": "2s",
        "distributed.scheduler.worker-saturation": 1.0,
        "distributed.scheduler.work-stealing": False,
    }


@contextmanager
def connect(address: str) -> Iterator[Any]:
    """A ``distributed.Client`` on the existing scheduler at ``address`` (``tcp://HOST:8786``),
    closed when the block ends; the cluster itself is left running."""
    from distributed import Client  # noqa: PLC0415

    client = Client(address, timeout="10s")
    try:
        yield client
    finally:
        client.close()


def dask_executor(client: Any) -> Executor:
    """An executor running every task on ``client``'s cluster, yielding as they finish."""

    def execute(function: RunFunction, tasks: Sequence[RunTask]) -> Iterator[tuple[int, dict[str, Any]]]:
        yield from _on_cluster(client, function, tasks, range(len(tasks)))

    return execute


def _on_cluster(
    client: Any,
    function: RunFunction,
    tasks: Sequence[RunTask],
    indices: Sequence[int],
) -> Iterator[tuple[int, dict[str, Any]]]:
    from distributed import as_completed  # noqa: PLC0415

    scattered: dict[int, Any] = {}  # id(scenario) -> its future: each scenario crosses the network once
    futures = {}
    for index in indices:
        scenario, seed = tasks[index]
        if id(scenario) not in scattered:
            scattered[id(scenario)] = client.scatter(scenario, broadcast=True, hash=False)
        future = client.submit(function, scattered[id(scenario)], seed, pure=False, retries=0)
        futures[future] = index
    try:
        for future in as_completed(list(futures)):
            index = futures[future]
            try:
                metrics = future.result()
            except Exception as error:  # the run's own exception, or KilledWorker
                raise RunFailed(index, tasks[index][1], error) from error
            yield index, metrics
    finally:  # an error, or the caller stopped iterating: nothing keeps running for nobody
        client.cancel(list(futures) + list(scattered.values()))


def cluster_executor(workers: int | None = None) -> Executor:
    """An executor on a :func:`local_cluster` of ``workers`` processes started for the tasks and
    stopped after them (``--workers K``), without waiting idle for it: while the cluster starts
    (1.5-2 s on 2 cores: the worker processes import Dask and svcsim), tasks run here, in
    order; once it is up the rest go to it (:func:`_while_starting`)."""

    def execute(function: RunFunction, tasks: Sequence[RunTask]) -> Iterator[tuple[int, dict[str, Any]]]:
        yield from _while_starting(function, tasks, range(len(tasks)), workers)

    return execute


def _while_starting(
    function: RunFunction, tasks: Sequence[RunTask], indices: Sequence[int], workers: int | None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Tasks ``indices`` in this process, in order, while a local cluster starts in a thread;
    the ones left on the cluster once it is up; the cluster stopped at the end (also on an
    error, or when the caller stops iterating). Which task ran where does not change its
    result: each depends on its scenario and seed alone."""
    pending = list(indices)
    if not pending:
        return
    stack = ExitStack()
    started: dict[str, Any] = {}

    def start() -> None:
        try:
            started["client"] = stack.enter_context(local_cluster(workers))
        except BaseException as error:
            started["error"] = error

    thread = threading.Thread(target=start, name="svcsim-cluster-start", daemon=True)
    thread.start()
    try:
        while pending and thread.is_alive():
            index = pending.pop(0)
            yield index, function(*tasks[index])
        thread.join()
        if "error" in started:
            raise started["error"]
        if pending:
            yield from _on_cluster(started["client"], function, tasks, pending)
    finally:
        thread.join()
        stack.close()


def idle_cores() -> float:
    """Cores no other work is using, by the 1-minute load average (this process, busy with the
    first run, counts for one): on a machine others keep busy, a cluster's workers would only
    share the cores the serial run already has."""
    try:
        load = os.getloadavg()[0]
    except OSError:  # not available: assume an idle machine
        return float(default_workers())
    return max(0.0, default_workers() - max(0.0, load - 1.0))


def auto_executor(workers: int | None = None, on_cluster: Callable[[int], None] | None = None) -> Executor:
    """The CLI's default: task 0 in this process, timed; the rest on a :func:`local_cluster`
    of ``workers`` processes if the machine has more than one core, at least
    :data:`AUTO_CLUSTER_MIN_IDLE` of them idle, and they would take more than
    :data:`AUTO_CLUSTER_MIN_S` serially, else in this process too. ``on_cluster(n)`` is
    called when a cluster of ``n`` workers is started."""
    n_workers = default_workers() if workers is None else workers

    def execute(function: RunFunction, tasks: Sequence[RunTask]) -> Iterator[tuple[int, dict[str, Any]]]:
        if not tasks:
            return
        started = time.perf_counter()
        first = function(*tasks[0])
        estimate_s = (time.perf_counter() - started) * (len(tasks) - 1)
        yield 0, first
        rest = range(1, len(tasks))
        if n_workers > 1 and estimate_s > AUTO_CLUSTER_MIN_S and idle_cores() >= AUTO_CLUSTER_MIN_IDLE:
            if on_cluster is not None:
                on_cluster(n_workers)
            yield from _while_starting(function, tasks, rest, n_workers)
            return
        for index in rest:
            yield index, function(*tasks[index])

    return execute
