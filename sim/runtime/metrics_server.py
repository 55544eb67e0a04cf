"""The metrics the HPA reads: metrics-server's resource metrics and a Prometheus adapter's
custom ones, scraped from the simulated pods (docs/semantics.md#metrics-pipeline).

Every ``resolution`` (metrics-server's ``--metric-resolution``, 15 s in its release
manifests) the scraper reads each watched pod whose container runs on a reachable node:

- **cpu** = Δ(cumulative CPU) / Δt between this scrape and the pod's previous one, so a pod
  has no CPU sample until its second scrape, and a restarted container starts again (its
  counter was reset); the sample's window is that Δt and its timestamp this scrape;
- **memory** = the working set now, given with the CPU rate only (metrics-server answers for a
  pod once it holds two scrapes of it);
- **http_requests_per_second** = the increase of the pod's request counter over the last
  ``rateWindow`` (from the oldest scrape in it), ``rate(http_requests_total[1m])`` as a
  Prometheus adapter exposes it, and **http_requests_in_flight**, the requests in the pod now.

A pod that was not scraped this time (its node is down, its container is not running) has no
sample: the HPA counts it as missing. The scrape before the first sync is taken at t = 0, so
the first CPU values are there one resolution later.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import simpy

from sim.runtime.hpa_replicas import PodMetric, milli_value
from sim.runtime.pods import Pod

__all__ = ["MetricsServer", "PodSamples"]


@dataclass
class PodSamples:
    """What the scraper last read of one pod, and the counter's history over the rate window."""

    cpu: PodMetric | None = None
    memory: PodMetric | None = None
    custom: dict[str, PodMetric] = field(default_factory=dict)
    last_cpu: tuple[float, float, int] | None = None  # (time, cumulative CPU s, restarts) at the last scrape
    counter: deque[tuple[float, int]] = field(default_factory=deque)  # (time, requests_total)


class MetricsServer:
    """Scrapes the pods ``watched`` returns every ``resolution_s``; the HPA controller reads the
    latest samples with :meth:`resource` and :meth:`pods_metric`."""

    def __init__(
        self,
        env: simpy.Environment,
        watched: Callable[[], Iterable[Pod]],
        scrapable: Callable[[Pod], bool],
        catch_up: Callable[[], None],
        resolution_s: float,
        rate_window_s: float,
    ) -> None:
        self.env = env
        self._watched = watched
        self._scrapable = scrapable
        self._catch_up = catch_up
        self.resolution_s = resolution_s
        self.rate_window_s = rate_window_s
        self._samples: dict[int, PodSamples] = {}
        self._current: set[int] = set()  # pods that answered the latest scrape

    def process(self) -> Any:
        """A scrape at t = 0, then one every resolution."""
        while True:
            self.scrape()
            yield self.env.timeout(self.resolution_s)

    def scrape(self) -> None:
        self._catch_up()
        now = self.env.now
        current: set[int] = set()
        watched = list(self._watched())
        for pod in watched:
            samples = self._samples.get(pod.index)
            if samples is None:
                samples = self._samples[pod.index] = PodSamples()
            if not self._scrapable(pod):
                samples.last_cpu = None  # the next answer starts a new CPU rate
                continue
            current.add(pod.index)
            self._read(pod, samples, now)
        alive = {pod.index for pod in watched}
        for index in [i for i in self._samples if i not in alive]:
            del self._samples[index]  # the pod is gone
        self._current = current

    def _read(self, pod: Pod, samples: PodSamples, now: float) -> None:
        cpu = pod.cpu_seconds(now)
        last = samples.last_cpu
        samples.cpu = samples.memory = None
        if last is not None and last[2] == pod.restarts and now > last[0]:
            # metrics-server answers for a pod only once it holds two points of it (podStorage.
            # GetMetrics): memory comes with the CPU rate, with its timestamp and window.
            window = now - last[0]
            samples.cpu = PodMetric(milli_value(max(0.0, cpu - last[1]) / window), now, window)
            samples.memory = PodMetric(milli_value(pod.working_set_bytes(now)), now, window)
        samples.last_cpu = (now, cpu, pod.restarts)
        counter = samples.counter
        counter.append((now, pod.requests_total(now)))
        while len(counter) > 1 and counter[1][0] <= now - self.rate_window_s:
            counter.popleft()
        samples.custom = {"http_requests_in_flight": PodMetric(milli_value(pod.in_flight(now)), now, 0.0)}
        if len(counter) > 1:
            (t0, n0), (t1, n1) = counter[0], counter[-1]
            rate = max(0, n1 - n0) / (t1 - t0)
            samples.custom["http_requests_per_second"] = PodMetric(milli_value(rate), now, t1 - t0)

    # -- what the HPA reads --------------------------------------------------------
    def resource(self, pods: Iterable[Pod], resource: str) -> dict[str, PodMetric]:
        """The latest ``cpu`` or ``memory`` sample of each of ``pods`` that has one."""
        out = {}
        for pod in pods:
            samples = self._samples.get(pod.index)
            if samples is None or pod.index not in self._current:
                continue
            metric = samples.cpu if resource == "cpu" else samples.memory
            if metric is not None:
                out[pod.name] = metric
        return out

    def pods_metric(self, pods: Iterable[Pod], name: str) -> dict[str, PodMetric]:
        """The latest sample of the custom metric ``name`` of each of ``pods`` that has one."""
        out = {}
        for pod in pods:
            samples = self._samples.get(pod.index)
            if samples is None or pod.index not in self._current:
                continue
            metric = samples.custom.get(name)
            if metric is not None:
                out[pod.name] = metric
        return out
