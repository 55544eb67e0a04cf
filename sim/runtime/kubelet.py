"""What the kubelet does with a pod: start its container, probe it, restart it, shut it down.

SimPy processes, one chain per pod and container incarnation; a crash or a restart bumps the
pod's generation and every process of an older one stops at its next step. The rules
(docs/semantics.md#probes, #crashes-and-restarts, #graceful-shutdown):

- **Start.** The app is up ``startupTime`` after its container starts. Probes tick every
  ``periodSeconds`` from the container's start, once ``initialDelaySeconds`` have passed
  (pkg/kubelet/prober/worker.go). A startup probe must pass first; the pod is Ready at the
  first passing readiness probe after the app is up (``successThreshold`` in a row), or
  when the app is up if it has none. A probe before the app is up fails.
- **Probes that fail.** ``probeFailure`` (the Simulation) says when a probe of a running app
  fails: too many requests in the pod, or the probe waiting behind the queue longer than
  its ``timeoutSeconds``. ``failureThreshold`` failures in a row: readiness takes the pod
  out of endpoints (no restart); liveness and startup restart the container.
- **Crashes** (an event, ``failures``, a liveness or startup failure) reset what the pod
  holds; the container restarts after CrashLoopBackOff's delay: none for the first restart,
  then 10 s doubling to 300 s, back to none once a container ran 10 minutes.
- **Shutdown.** On deletion the endpoint turns terminating at once; the preStop hook runs,
  then SIGTERM; what the app does then is ``shutdown.onSigterm``; SIGKILL at the end of the
  grace period, but at least 2 s after SIGTERM, resets what is left.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sim.kube.deployment import Deployment, Probe
from sim.runtime.pods import BLACKHOLED, INF, Pod
from sim.scenario.simulation import OnSigterm

if TYPE_CHECKING:
    from sim.runtime.control_plane import ControlPlane

__all__ = ["BACKOFF_MAX_S", "BACKOFF_RESET_S", "Kubelet", "backoff_delay"]

BACKOFF_INITIAL_S = 10.0  # kubelet's crash back-off (pkg/kubelet/kubelet.go)
BACKOFF_MAX_S = 300.0
BACKOFF_RESET_S = 600.0  # a container that ran this long starts the back-off afresh
MINIMUM_GRACE_S = 2.0  # minimumGracePeriodInSeconds (pkg/kubelet/kuberuntime/kuberuntime_container.go)


def backoff_delay(restart: int) -> float:
    """The wait before restart ``restart`` (1 for the first) in a crash loop.

    >>> [backoff_delay(n) for n in range(1, 9)]
    [0.0, 10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0]
    """
    if restart <= 1:
        return 0.0
    return min(BACKOFF_MAX_S, BACKOFF_INITIAL_S * 2 ** (restart - 2))


def container_name(dep: Deployment) -> str:
    """The name events give the pod's container: its first (svcsim models one app per pod)."""
    names = dep.container_names
    return names[0] if names else "app"


def probe_ticks(started: float, probe: Probe, after: float) -> Iterator[float]:
    """The probe's ticks at or after ``after``: ``started + k × period`` with
    ``k × period ≥ initialDelaySeconds``."""
    period = probe.period_s
    first = math.ceil(probe.initial_delay_s / period - 1e-9)
    k = max(first, math.ceil((after - started) / period - 1e-9))
    while True:
        yield started + k * period
        k += 1


class Kubelet:
    """Every node's kubelet, for the pods of one control plane."""

    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane
        self.env = plane.env
        self._gen: dict[int, int] = {}  # pod -> container incarnation
        self._started: dict[int, float] = {}  # pod -> when its container last started
        self._ready_since: dict[int, float] = {}
        self._first_start: dict[int, float] = {}  # pod -> status.startTime
        self._ready_changed: dict[int, float] = {}  # pod -> the Ready condition's lastTransitionTime
        self._in_loop: dict[int, int] = {}  # pod -> restarts since the back-off was reset
        self._down_gate: dict[int, list[float]] = {}  # pod -> the gate of its dead container
        self._failures: dict[int, Any] = {}  # pod -> its crash-time generator

    # -- queries -------------------------------------------------------------------
    def ready_since(self, pod: Pod) -> float:
        return self._ready_since.get(pod.index, INF)

    def start_time(self, pod: Pod) -> float:
        """``status.startTime``: when the kubelet first started the pod (INF: not yet)."""
        return self._first_start.get(pod.index, INF)

    def ready_transition(self, pod: Pod) -> float:
        """The Ready condition's ``lastTransitionTime`` (the pod's start while it never changed)."""
        return self._ready_changed.get(pod.index, self._first_start.get(pod.index, pod.created_at))

    def stale(self, pod: Pod, gen: int) -> bool:
        return self._gen.get(pod.index, 0) != gen or pod.gone_at < INF

    # -- start -----------------------------------------------------------------------
    def running_from_start(self, pod: Pod) -> None:
        """A pod that exists at t = 0: its container is up and Ready."""
        self._started[pod.index] = 0.0
        self._first_start[pod.index] = 0.0
        self._ready_changed[pod.index] = 0.0
        self._ready_since[pod.index] = 0.0
        pod.app_up(0.0)
        self.plane.status(pod, "Running")
        self._watch(pod, self._gen.setdefault(pod.index, 0), 0.0, from_start=True)

    def create(self, pod: Pod) -> None:
        """A new pod bound to a node: its first container starts now. With probes it shows
        Running 0/1 while they tick (``startupTime`` is then the app's own start); without, the
        pod shows ContainerCreating until it is Ready (image pull, start and readiness are one
        ``startupTime``)."""
        dep = self.plane.deployment(pod)
        probed = dep.startup_probe is not None or dep.readiness_probe is not None or dep.liveness_probe is not None
        self.plane.status(pod, "Running" if probed else "ContainerCreating", False)
        if self.plane.nodes.down(pod.node):
            return  # the node is down: the container starts when it recovers
        self._start_container(pod)

    def _start_container(self, pod: Pod) -> None:
        gen = self._gen.get(pod.index, 0) + 1
        self._gen[pod.index] = gen
        self._started[pod.index] = self.env.now
        self._first_start.setdefault(pod.index, self.env.now)
        pod.app_up(self.env.now + self.plane.workload(pod).startup_time_s)
        self.env.process(self._container(pod, gen, self.env.now))

    def _container(self, pod: Pod, gen: int, started: float) -> Any:
        """One container incarnation: start-up, startup probe, readiness; then the watch."""
        plane, env = self.plane, self.env
        workload = plane.workload(pod)
        dep = plane.deployment(pod)
        up = started + workload.startup_time_s
        ok_at = up
        probe = dep.startup_probe
        if probe is not None:
            for fails, tick in enumerate(probe_ticks(started, probe, started), start=1):
                yield env.timeout(tick - env.now)
                if self.stale(pod, gen):
                    return
                failed = self._failure(pod, probe, "startup", up)
                if failed is None:
                    ok_at = tick
                    break
                self._unhealthy(pod, "Startup", failed)
                if fails >= probe.failure_threshold:
                    self.crash(pod, "failed startup probe")
                    return
        if dep.liveness_probe is not None:  # from the startup probe's success, or the start
            live_from = ok_at if dep.startup_probe is not None else started
            env.process(self._liveness(pod, gen, started, up, live_from))
        yield env.timeout(max(0.0, up - env.now))
        if self.stale(pod, gen):
            return
        probe = dep.readiness_probe
        if probe is None:
            if env.now < ok_at:
                yield env.timeout(ok_at - env.now)
                if self.stale(pod, gen):
                    return
            self.set_ready(pod, True)
            self._watch(pod, gen, started)
            return
        passes = 0
        for tick in probe_ticks(started, probe, ok_at):
            yield env.timeout(tick - env.now)
            if self.stale(pod, gen):
                return
            failed = self._failure(pod, probe, "readiness", up)
            if failed is None:
                passes += 1
                if passes >= probe.success_threshold:
                    self.set_ready(pod, True)
                    break
            else:
                self._unhealthy(pod, "Readiness", failed)
                passes = 0
        self._watch(pod, gen, started, after=env.now)

    def _watch(self, pod: Pod, gen: int, started: float, after: float | None = None, from_start: bool = False) -> None:
        """After start-up: readiness probes that can fail, and random crashes."""
        plane = self.plane
        workload = plane.workload(pod)
        dep = plane.deployment(pod)
        kinds = workload.probe_failure.probes if workload.probe_failure is not None else ()
        if dep.readiness_probe is not None and "readiness" in kinds:
            start = self.env.now if after is None else after
            self.env.process(self._readiness(pod, gen, started, dep.readiness_probe, start))
        if dep.liveness_probe is not None and "liveness" in kinds and from_start:
            # A pod running from t = 0 has had no start-up for _container to probe.
            self.env.process(self._liveness(pod, gen, started, 0.0, 0.0))
        if workload.failures is not None:
            self.env.process(self._random_crash(pod, gen, workload.failures.mean_time_between_s))

    def _readiness(self, pod: Pod, gen: int, started: float, probe: Probe, after: float) -> Any:
        """Readiness probes of a running app: out of endpoints after ``failureThreshold`` failures in
        a row, back after ``successThreshold`` passes."""
        env = self.env
        fails = passes = 0
        for tick in probe_ticks(started, probe, after + 1e-9):
            yield env.timeout(tick - env.now)
            if self.stale(pod, gen) or pod.terminating_at < INF:
                return
            failed = self._failure(pod, probe, "readiness", started)
            if failed is None:
                fails, passes = 0, passes + 1
                if not pod.condition_ready and passes >= probe.success_threshold:
                    self.set_ready(pod, True)
            else:
                fails, passes = fails + 1, 0
                self._unhealthy(pod, "Readiness", failed)
                if pod.condition_ready and fails >= probe.failure_threshold:
                    self.set_ready(pod, False)

    def _liveness(self, pod: Pod, gen: int, started: float, up: float, after: float) -> Any:
        """Liveness probes, from the startup probe's success (or the container's start):
        ``failureThreshold`` failures in a row restart the container. Before the app is up a
        probe fails; after, only ``probeFailure`` makes it fail (and with none, ticking stops)."""
        env = self.env
        probe = self.plane.deployment(pod).liveness_probe
        assert probe is not None
        workload = self.plane.workload(pod)
        can_fail = workload.probe_failure is not None and "liveness" in workload.probe_failure.probes
        fails = 0
        for tick in probe_ticks(started, probe, after):
            if tick >= up and not can_fail:
                return
            yield env.timeout(tick - env.now)
            if self.stale(pod, gen) or pod.terminating_at < INF:
                return
            failed = self._failure(pod, probe, "liveness", up)
            if failed is None:
                fails = 0
                continue
            fails += 1
            self._unhealthy(pod, "Liveness", failed)
            if fails >= probe.failure_threshold:
                self.crash(pod, "failed liveness probe")
                return

    def _failure(self, pod: Pod, probe: Probe, kind: str, up: float) -> str | None:
        """Why a probe of ``kind`` at the pod fails now (the app up since ``up``), or None: it passes."""
        now = self.env.now
        refused = f"dial tcp {pod.ip}: connect: connection refused"
        if now < up:
            return refused  # the app does not listen yet
        failure = self.plane.workload(pod).probe_failure
        if failure is None or kind not in failure.probes:
            return None
        self.plane.catch_up()
        if pod.gate_at(now) is not None:
            return refused
        engine = self.plane.engine
        if failure.in_flight_above is not None:
            held = engine.in_pod(pod, now)
            if held > failure.in_flight_above:
                return f"{held} requests in the pod, more than inFlightAbove {failure.in_flight_above} (svcsim)"
        if failure.wait_above_timeout:
            wait = engine.probe_wait(pod, now)
            if wait > probe.timeout_s:
                return (
                    "context deadline exceeded (Client.Timeout exceeded while awaiting headers): "
                    f"{wait:.3g}s behind the queue, timeoutSeconds {probe.timeout_s:g}"
                )
        return None

    def _unhealthy(self, pod: Pod, kind: str, why: str) -> None:
        """The kubelet's event for one failed probe."""
        self.plane.event("Warning", "Unhealthy", f"pod/{pod.name}", f"{kind} probe failed: {why}")

    def _random_crash(self, pod: Pod, gen: int, mean_s: float) -> Any:
        draws = self._failures.get(pod.index)
        if draws is None:
            draws = self._failures[pod.index] = self.plane.streams.generator(f"pod/{pod.name}/failures")
        yield self.env.timeout(float(draws.exponential(mean_s)))
        if not self.stale(pod, gen):
            self.crash(pod, "crashed")

    # -- readiness -------------------------------------------------------------------
    def set_ready(self, pod: Pod, ready: bool, publish: bool = True) -> None:
        """The pod's Ready condition changes now."""
        if pod.condition_ready == ready:
            return
        plane = self.plane
        plane.catch_up()
        plane.set_condition_ready(pod, ready)
        self._ready_changed[pod.index] = self.env.now
        if ready:
            if pod.ready_at == INF:
                pod.ready_at = self.env.now
            self._ready_since[pod.index] = self.env.now
            plane.record(pod.deployment, "ready", pod)
            plane.status(pod, "Running")
            min_ready = plane.deployment(pod).min_ready_s
            if min_ready > 0:
                self.env.process(self._available(pod, min_ready))
        else:
            self._ready_since.pop(pod.index, None)
            plane.record(pod.deployment, "not ready", pod)
            plane.status(pod, "Terminating" if pod.terminating_at < INF else "Running")
        if publish:
            plane.publish()
        plane.pod_changed(pod)

    def _available(self, pod: Pod, after: float) -> Any:
        since = self._ready_since[pod.index]
        yield self.env.timeout(after)
        if self._ready_since.get(pod.index) == since and pod.gone_at == INF:
            self.plane.pod_changed(pod)

    # -- crashes ---------------------------------------------------------------------
    def crash(self, pod: Pod, cause: str) -> None:
        """The container dies now: what the pod holds is reset, it restarts after the back-off."""
        plane, env = self.plane, self.env
        if pod.gone_at < INF or pod.terminating_at < INF or pod.node is None or plane.nodes.down(pod.node):
            return
        plane.catch_up()
        now = env.now
        self._gen[pod.index] = self._gen.get(pod.index, 0) + 1
        if now - self._started.get(pod.index, now) >= BACKOFF_RESET_S:
            self._in_loop[pod.index] = 0
        restart = self._in_loop.get(pod.index, 0) + 1
        self._in_loop[pod.index] = restart
        delay = backoff_delay(restart)
        self._down_gate[pod.index] = pod.kill(now)
        plane.engine.pod_killed(pod, now)
        plane.record(pod.deployment, f"crashed ({cause})", pod)
        container = container_name(plane.deployment(pod))
        if cause.startswith("failed"):
            plane.event("Normal", "Killing", f"pod/{pod.name}", f"Container {container} {cause}, will be restarted")
        else:
            message = f"Container {container} exited with code 1 (svcsim fault)"
            plane.event("Warning", "Crashed", f"pod/{pod.name}", message)
        if delay > 0:
            plane.event(
                "Warning",
                "BackOff",
                f"pod/{pod.name}",
                f"Back-off restarting failed container {container} in pod {pod.name}_default",
            )
        self.set_ready(pod, False)
        plane.status(pod, "CrashLoopBackOff" if delay > 0 else "Error", False)
        self.env.process(self._restart(pod, self._gen[pod.index], delay))

    def _restart(self, pod: Pod, gen: int, delay: float) -> Any:
        yield self.env.timeout(delay)
        if self.stale(pod, gen) or pod.terminating_at < INF:
            return
        self.restart(pod)

    def restart(self, pod: Pod) -> None:
        """The dead container starts again now; the pod takes requests once its app is up."""
        plane = self.plane
        plane.catch_up()
        pod.restarts += 1
        pod.reopen(self._down_gate.pop(pod.index), self.env.now + plane.workload(pod).startup_time_s)
        plane.record(pod.deployment, "restarted", pod)
        plane.status(pod, "Running", False)
        self._start_container(pod)

    def node_lost(self, pod: Pod, at: float) -> None:
        """Its node died at ``at``: the container is gone (if it was not already, in a back-off),
        what the pod holds hangs."""
        self._gen[pod.index] = self._gen.get(pod.index, 0) + 1
        if pod.index in self._started and pod.index not in self._down_gate:
            self._down_gate[pod.index] = pod.kill(at)
            self.plane.engine.pod_killed(pod, at)
        pod.close(at, INF, BLACKHOLED)

    def node_back(self, pod: Pod) -> None:
        """Its node is back: a container that ran restarts, one never started starts."""
        if pod.index in self._down_gate:
            self.restart(pod)
        else:
            self._start_container(pod)

    # -- shutdown --------------------------------------------------------------------
    def terminate(self, pod: Pod) -> Any:
        """Delete ``pod``: endpoint terminating now, preStop, SIGTERM, SIGKILL (a process)."""
        plane, env = self.plane, self.env
        plane.catch_up()
        t0 = env.now
        plane.set_terminating(pod, t0)
        plane.scheduler.terminating(pod)
        dep = plane.deployment(pod)
        shutdown = plane.workload(pod).shutdown
        hook = shutdown.pre_stop_s
        if hook is None:
            hook = dep.pre_stop.seconds if dep.pre_stop is not None and dep.pre_stop.seconds is not None else 0.0
        grace = pod.grace_period_s
        # SIGTERM when preStop ends (cut at the grace period); SIGKILL when what is left of the
        # grace period has passed, but never sooner than 2 s after SIGTERM (killContainer).
        sigterm = t0 + min(hook, grace)
        pod.deadline = sigterm + max(MINIMUM_GRACE_S, grace - min(hook, grace))
        self._gen[pod.index] = self._gen.get(pod.index, 0) + 1  # probes and crash timers stop
        plane.record(pod.deployment, "terminating", pod)
        plane.status(pod, "Terminating")
        plane.event("Normal", "Killing", f"pod/{pod.name}", f"Stopping container {container_name(dep)}")
        if pod.ready_at == INF or pod.node is None:  # never served: nothing to drain
            plane.exit(pod)
            return
        pod.kill(pod.deadline)
        plane.engine.pod_killed(pod, pod.deadline)
        closes: float | None = sigterm  # when the app stops taking new connections
        if shutdown.on_sigterm == OnSigterm.EXIT:
            pod.kill(sigterm)
            plane.engine.pod_killed(pod, sigterm)
        elif shutdown.on_sigterm == OnSigterm.DRAIN:
            closes = None if shutdown.drain_timeout_s is None else sigterm + shutdown.drain_timeout_s
        if closes is not None:
            self._stops_listening(pod, closes)
        plane.publish()
        if plane.nodes.down(pod.node):
            return  # the node is away: the pod goes when it comes back
        unrouted = plane.wait_unrouted(pod)
        yield unrouted | env.timeout(pod.deadline - env.now)
        plane.forget_unrouted(pod)
        plane.catch_up()
        if closes is None:  # drain until nothing routes to it
            closes = max(sigterm, env.now) if unrouted.triggered else pod.deadline
            self._stops_listening(pod, closes)
        if unrouted.triggered:  # no node sends it new requests: finish what it holds
            left = max(env.now, closes)
            plane.engine.finish_pod(pod)
            while env.now < pod.deadline:
                until = plane.engine.busy_until(pod)
                if until is not None:
                    exit_at = min(pod.deadline, max(left, until))
                    if exit_at < env.now:  # found idle on a later look: it went when it fell idle
                        self._exit(pod, exit_at)
                        return
                    yield env.timeout(exit_at - env.now)
                    break
                # A pod whose requests wait on calls cannot be predicted: look again later.
                yield env.timeout(min(plane.poll_s, pod.deadline - env.now))
                plane.catch_up()
        if not plane.nodes.down(pod.node):
            self._exit(pod)

    def _stops_listening(self, pod: Pod, at: float) -> None:
        """The terminating pod's app closes its listener at ``at``: arrivals are refused from
        then, and its endpoint is no longer serving (its container stops; the kubelet reports
        it unready), so no dataplane keeps it as a last terminating fallback."""
        pod.close(at)
        if at <= self.env.now:
            self.plane.set_condition_ready(pod, False)
        else:
            self.env.process(self._not_serving_at(pod, at))

    def _not_serving_at(self, pod: Pod, at: float) -> Any:
        yield self.env.timeout(at - self.env.now)
        if pod.gone_at == INF and pod.condition_ready:
            self.plane.catch_up()
            self.plane.set_condition_ready(pod, False)
            self.plane.publish()

    def _exit(self, pod: Pod, at: float | None = None) -> None:
        if pod.gone_at == INF:
            self.plane.exit(pod, at)
