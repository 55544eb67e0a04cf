"""metrics-server's scrapes (docs/semantics.md#metrics-pipeline), on pods whose usage is given
exactly: CPU is a rate between two answers, a restart or a missed scrape starts it over, memory
is the working set now, request rates are counter increases over the rate window."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import simpy

from sim.runtime.metrics_server import MetricsServer


@dataclass
class FakePod:
    """Usage as functions of time: ``cores`` busy all along, ``rps`` requests a second."""

    index: int
    name: str
    cores: float = 0.5
    rps: float = 10.0
    memory: float = 100e6
    restarts: int = 0
    up: bool = True
    extra: dict[str, float] = field(default_factory=dict)

    def cpu_seconds(self, t: float) -> float:
        return self.cores * t

    def working_set_bytes(self, t: float) -> float:
        return self.memory

    def requests_total(self, t: float) -> int:
        return int(self.rps * t)

    def in_flight(self, t: float) -> int:
        return 3


def _server(pods: list[FakePod], resolution: float = 15.0, window: float = 60.0) -> tuple[simpy.Environment, MetricsServer]:
    env = simpy.Environment()
    server = MetricsServer(env, lambda: pods, lambda p: p.up, lambda: None, resolution, window)  # type: ignore[arg-type,return-value]
    env.process(server.process())
    return env, server


def test_cpu_is_the_rate_between_two_answers_in_millicores() -> None:
    pod = FakePod(0, "a", cores=0.25)
    env, server = _server([pod])
    env.run(until=1)  # the scrape at t = 0: a baseline, no sample yet
    assert server.resource([pod], "cpu") == {}  # type: ignore[list-item]
    env.run(until=16)
    sample = server.resource([pod], "cpu")["a"]  # type: ignore[list-item]
    assert (sample.value, sample.timestamp_s, sample.window_s) == (250, 15.0, 15.0)
    assert server.resource([pod], "memory")["a"].value == 100_000_000_000  # type: ignore[list-item]  # milli-bytes


def test_a_restart_or_a_missed_scrape_starts_the_rate_over() -> None:
    pod = FakePod(0, "a")
    env, server = _server([pod])
    env.run(until=16)
    assert "a" in server.resource([pod], "cpu")  # type: ignore[list-item]
    pod.restarts = 1
    env.run(until=31)  # the counter was reset: this answer is a new baseline
    assert server.resource([pod], "cpu") == {}  # type: ignore[list-item]
    env.run(until=46)
    assert "a" in server.resource([pod], "cpu")  # type: ignore[list-item]
    pod.up = False
    env.run(until=61)  # no answer: missing, memory too
    assert server.resource([pod], "cpu") == {} and server.resource([pod], "memory") == {}  # type: ignore[list-item]
    pod.up = True
    env.run(until=76)
    assert server.resource([pod], "cpu") == {}  # type: ignore[list-item]
    env.run(until=91)
    assert server.resource([pod], "cpu")["a"].window_s == 15.0  # type: ignore[list-item]


@pytest.mark.parametrize("resolution", [15.0, 60.0])
def test_request_rate_is_the_counter_increase_over_the_window(resolution: float) -> None:
    pod = FakePod(0, "a", rps=12.0)
    env, server = _server([pod], resolution=resolution, window=60.0)
    env.run(until=resolution * 6 + 1)
    found = server.pods_metric([pod], "http_requests_per_second")  # type: ignore[list-item]
    assert found["a"].value == 12_000
    assert found["a"].window_s == 60.0
    assert server.pods_metric([pod], "http_requests_in_flight")["a"].value == 3000  # type: ignore[list-item]


def test_a_new_pod_has_no_rate_until_its_second_answer() -> None:
    pods = [FakePod(0, "a")]
    env, server = _server(pods)
    env.run(until=20)
    pods.append(FakePod(1, "b"))
    env.run(until=31)
    assert set(server.resource(pods, "cpu")) == {"a"}  # type: ignore[arg-type]
    assert set(server.pods_metric(pods, "http_requests_per_second")) == {"a"}  # type: ignore[arg-type]
    env.run(until=46)
    assert set(server.resource(pods, "cpu")) == {"a", "b"}  # type: ignore[arg-type]


def test_memory_comes_with_the_cpu_rate_from_the_second_answer() -> None:
    """metrics-server lists a pod only once it holds two points of it (podStorage.GetMetrics), so
    a new pod's working set is not there at its first answer either; its timestamp and window
    are the CPU rate's. Before the fix memory was served from the first answer."""
    pods = [FakePod(0, "a")]
    env, server = _server(pods)
    env.run(until=20)
    pods.append(FakePod(1, "b"))
    env.run(until=31)
    assert set(server.resource(pods, "memory")) == {"a"}  # type: ignore[arg-type]
    env.run(until=46)
    sample = server.resource(pods, "memory")["b"]  # type: ignore[arg-type]
    assert (sample.value, sample.timestamp_s, sample.window_s) == (100_000_000_000, 45.0, 15.0)
