"""``spec.workloads.X`` of the Simulation document, and the ``workload`` block of a rollout event.

A rollout's block takes the same keys; the fields it gives replace the previous revision's
and the rest are kept, so both are read by :func:`parse_workload` with a ``base``.
Problems go to the :class:`~sim.scenario.field_reader.FieldReader` with the field's path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sim.distributions import parse_distribution
from sim.kube.quantity import INT64_MAX, QuantityError, decode_quantity
from sim.kube.validation import NEGATIVE_MSG, go
from sim.scenario.field_reader import FieldReader
from sim.scenario.run_limits import MAX_CONCURRENCY, MAX_QUEUE
from sim.scenario.simulation import (
    DEFAULT_CALL_TIMEOUT_S,
    Call,
    CpuUsage,
    Failures,
    MemoryUsage,
    OnCancel,
    OnSigterm,
    ProbeFailure,
    Shutdown,
    Workload,
)

__all__ = ["DEFAULT_WORKLOAD", "PROBE_KINDS", "WORKLOAD_KEYS", "parse_workload", "parse_workloads", "workload_changes"]

_T = TypeVar("_T")

#: The keys of a workload, and the :class:`Workload` attribute each one sets.
WORKLOAD_FIELDS = {
    "serviceTime": "service_time",
    "concurrency": "concurrency",
    "startupTime": "startup_time_s",
    "calls": "calls",
    "queueLimit": "queue_limit",
    "maxConnections": "max_connections",
    "onCancel": "on_cancel",
    "shutdown": "shutdown",
    "probeFailure": "probe_failure",
    "failures": "failures",
    "cpu": "cpu",
    "memory": "memory",
}
WORKLOAD_KEYS = tuple(WORKLOAD_FIELDS)
#: The probe kinds ``probeFailure.probes`` may name, as the container fields call them without "Probe".
PROBE_KINDS = ("readiness", "liveness", "startup")

#: What a field not given stands for when nothing else does (serviceTime is then required).
DEFAULT_WORKLOAD = Workload(parse_distribution("10ms"), 1, 0.0)


def parse_workloads(raw: Any, fields: FieldReader) -> dict[str, Workload]:
    """``spec.workloads``: a performance model per Deployment name."""
    out: dict[str, Workload] = {}
    if raw is None:
        return out
    if not isinstance(raw, dict):
        fields.fail("spec.workloads", "must be a mapping keyed by Deployment name")
        return out
    for name in raw:
        out[str(name)] = parse_workload(raw[name], f"spec.workloads.{name}", fields)
    return out


def parse_workload(raw: Any, path: str, fields: FieldReader, base: Workload | None = None) -> Workload:
    """One workload at ``path``. Without ``base`` ``serviceTime`` is required and the other
    fields take their defaults; with it, each field given replaces the base's, whole (a
    ``shutdown``, ``cpu`` or ``memory`` block replaces the base's, its omitted keys defaulted).
    A null ``queueLimit``, ``maxConnections``, ``probeFailure`` or ``failures`` means none, a
    null ``cpu`` or ``memory`` the defaults."""
    w = fields.keys(raw, path, WORKLOAD_KEYS, required=() if base is not None else ("serviceTime",))
    old = base if base is not None else DEFAULT_WORKLOAD
    service = old.service_time
    if "serviceTime" in w:
        service = fields.distribution(w["serviceTime"], f"{path}.serviceTime") or parse_distribution(0)
    concurrency = old.concurrency
    if "concurrency" in w:
        concurrency = fields.integer(
            w["concurrency"],
            f"{path}.concurrency",
            minimum=1,
            maximum=MAX_CONCURRENCY,
            why="svcsim keeps a slot per worker",
        )
    startup = old.startup_time_s
    if "startupTime" in w:
        startup = fields.duration(w["startupTime"], f"{path}.startupTime", default=0.0)
    calls = _calls(w["calls"], path, fields) if "calls" in w else old.calls
    queue_limit = old.queue_limit
    if "queueLimit" in w:
        queue_limit = _optional(
            w["queueLimit"], lambda v: fields.integer(v, f"{path}.queueLimit", maximum=MAX_QUEUE, why="svcsim's limit")
        )
    max_connections = old.max_connections
    if "maxConnections" in w:
        max_connections = _optional(
            w["maxConnections"],
            lambda v: fields.integer(v, f"{path}.maxConnections", minimum=1, maximum=MAX_QUEUE, why="svcsim's limit"),
        )
    on_cancel = old.on_cancel
    if "onCancel" in w:
        on_cancel = fields.one_of(w["onCancel"], f"{path}.onCancel", OnCancel)
    return Workload(
        service,
        concurrency,
        startup,
        calls,
        queue_limit=queue_limit,
        max_connections=max_connections,
        on_cancel=on_cancel,
        shutdown=_shutdown(w["shutdown"], f"{path}.shutdown", fields) if "shutdown" in w else old.shutdown,
        probe_failure=_optional(w["probeFailure"], lambda v: _probe_failure(v, f"{path}.probeFailure", fields))
        if "probeFailure" in w
        else old.probe_failure,
        failures=_optional(w["failures"], lambda v: _failures(v, f"{path}.failures", fields))
        if "failures" in w
        else old.failures,
        cpu=_cpu(w["cpu"], f"{path}.cpu", fields) if "cpu" in w else old.cpu,
        memory=_memory(w["memory"], f"{path}.memory", fields) if "memory" in w else old.memory,
    )


def _optional(value: Any, read: Callable[[Any], _T]) -> _T | None:
    """None for a null field (none of it), else ``read(value)``."""
    return None if value is None else read(value)


def workload_changes(raw: Any, path: str, fields: FieldReader) -> dict[str, Any]:
    """The fields a rollout's ``workload`` block gives, by :class:`Workload` attribute, to
    apply over the revision it follows with :func:`dataclasses.replace`."""
    parsed = parse_workload(raw, path, fields, DEFAULT_WORKLOAD)
    given = raw if isinstance(raw, dict) else {}
    return {attr: getattr(parsed, attr) for key, attr in WORKLOAD_FIELDS.items() if key in given}


def _calls(raw: Any, path: str, fields: FieldReader) -> tuple[Call, ...]:
    calls = []
    for i, item in enumerate(fields.listing(raw, f"{path}.calls", "{service, port, timeout}")):
        where = f"{path}.calls[{i}]"
        c = fields.keys(item, where, ("service", "port", "timeout"), required=("service",))
        service = fields.string(c["service"], f"{where}.service") if "service" in c else ""
        port = fields.port(c.get("port"), f"{where}.port")
        timeout = fields.duration(c.get("timeout"), f"{where}.timeout", default=DEFAULT_CALL_TIMEOUT_S, positive=True)
        calls.append(Call(service, port, timeout))
    return tuple(calls)


def _shutdown(raw: Any, path: str, fields: FieldReader) -> Shutdown:
    """``shutdown: {onSigterm, drainTimeout, preStopTime}`` (docs/semantics.md#graceful-shutdown)."""
    s = fields.keys(raw, path, ("onSigterm", "drainTimeout", "preStopTime"))
    on_sigterm = fields.one_of(s.get("onSigterm", OnSigterm.STOP_ACCEPTING), f"{path}.onSigterm", OnSigterm)
    drain_timeout = None
    if s.get("drainTimeout") is not None:
        if on_sigterm == OnSigterm.DRAIN:
            drain_timeout = fields.duration(s["drainTimeout"], f"{path}.drainTimeout")
        else:
            fields.fail(f"{path}.drainTimeout", f'Forbidden: only used with onSigterm "drain", not "{on_sigterm}"')
    pre_stop = None
    if s.get("preStopTime") is not None:
        pre_stop = fields.duration(s["preStopTime"], f"{path}.preStopTime")
    return Shutdown(on_sigterm=on_sigterm, drain_timeout_s=drain_timeout, pre_stop_s=pre_stop)


def _probe_failure(raw: Any, path: str, fields: FieldReader) -> ProbeFailure:
    """``probeFailure: {inFlightAbove, waitAboveTimeout, probes}``, at least one condition
    (docs/semantics.md#probes)."""
    p = fields.keys(raw, path, ("inFlightAbove", "waitAboveTimeout", "probes"))
    in_flight = None
    if p.get("inFlightAbove") is not None:
        in_flight = fields.integer(p["inFlightAbove"], f"{path}.inFlightAbove", maximum=MAX_QUEUE, why="svcsim's limit")
    wait = p.get("waitAboveTimeout", False)
    readable = isinstance(wait, bool)  # a value that cannot be read is one problem, not two
    if not readable:
        fields.fail(f"{path}.waitAboveTimeout", f"Invalid value: {wait!r}: must be true or false")
        wait = False
    if isinstance(raw, dict) and in_flight is None and not wait and readable:
        fields.fail(path, "Required value: at least one condition: inFlightAbove, or waitAboveTimeout: true")
    probes: tuple[str, ...] = ProbeFailure().probes
    if "probes" in p:
        listed = []
        for i, kind in enumerate(fields.listing(p["probes"], f"{path}.probes", "probe kinds")):
            if kind in listed:
                fields.fail(f"{path}.probes[{i}]", f"Duplicate value: {kind!r}")
            else:
                listed.append(fields.choice(kind, f"{path}.probes[{i}]", PROBE_KINDS))
        if not listed and isinstance(p["probes"], list):
            fields.fail(f"{path}.probes", f"Required value: at least one of {', '.join(PROBE_KINDS)}")
        probes = tuple(listed) or probes
    return ProbeFailure(in_flight_above=in_flight, wait_above_timeout=wait, probes=probes)


def _failures(raw: Any, path: str, fields: FieldReader) -> Failures:
    """``failures: {meanTimeBetween}``: random container crashes, exponential per pod."""
    f = fields.keys(raw, path, ("meanTimeBetween",))
    mean = fields.duration(f.get("meanTimeBetween"), f"{path}.meanTimeBetween", positive=True)
    return Failures(mean_time_between_s=mean or 3600.0)  # a stand-in when reported


def _cpu(raw: Any, path: str, fields: FieldReader) -> CpuUsage:
    """``cpu: {perRequest, idle}`` (docs/semantics.md#cpu-and-memory-usage): the CPU time a
    request burns (a duration; default its own service time) and a running pod's baseline (a
    cpu quantity, ``20m`` or ``0.1``; default 0)."""
    c = fields.keys(raw, path, ("perRequest", "idle"))
    per_request = None
    if c.get("perRequest") is not None:
        per_request = fields.duration(c["perRequest"], f"{path}.perRequest")
    idle_m = _quantity(c.get("idle"), f"{path}.idle", fields, scale=-3, unit="millicores")
    return CpuUsage(per_request_s=per_request, idle_cores=idle_m / 1000)


def _memory(raw: Any, path: str, fields: FieldReader) -> MemoryUsage:
    """``memory: {base, perRequest}`` (memory quantities, ``200Mi``; defaults 0): the working
    set is base + perRequest × the requests in the pod."""
    m = fields.keys(raw, path, ("base", "perRequest"))
    base = _quantity(m.get("base"), f"{path}.base", fields, scale=0, unit="bytes")
    per_request = _quantity(m.get("perRequest"), f"{path}.perRequest", fields, scale=0, unit="bytes")
    return MemoryUsage(base_bytes=float(base), per_request_bytes=float(per_request))


def _quantity(raw: Any, path: str, fields: FieldReader, *, scale: int, unit: str) -> int:
    """A Kubernetes quantity (``20m``, ``0.5``, ``256Mi``) at ``scale`` (-3: millicores, as
    MilliValue; 0: bytes, as Value), rounded up; absent or null is 0. Problems are
    apimachinery's words, or svcsim's int64 limit, as for a container's resources."""
    if raw is None:
        return 0
    try:
        quantity = decode_quantity(raw)
    except QuantityError as err:
        shown = go(raw) if isinstance(raw, str) else repr(raw)
        fields.fail(path, f"Invalid value: {shown}: {err}")
        return 0
    if quantity.amount < 0:
        fields.fail(path, f"Invalid value: {go(str(quantity))}: {NEGATIVE_MSG}")
        return 0
    try:
        amount = quantity.scaled_value(scale)
    except OverflowError:
        amount = INT64_MAX + 1
    if amount > INT64_MAX:
        fields.fail(path, f"Invalid value: {go(str(quantity))}: must be at most {INT64_MAX} {unit} (svcsim's limit)")
        return 0
    return amount
