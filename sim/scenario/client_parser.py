"""Reading ``spec.clients`` of the Simulation document: targets, rates, connections, retries.

Split from :mod:`sim.scenario.simulation_parser`, which calls :func:`parse_clients`; the
rate field itself is :mod:`sim.scenario.rate_parser`'s.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from sim.kube.validation import go
from sim.scenario.client_addresses import overflow_problem
from sim.scenario.field_reader import FieldReader
from sim.scenario.rate_parser import parse_rate
from sim.scenario.rate_profile import RateProfile
from sim.scenario.run_limits import MAX_ATTEMPTS, MAX_CLIENT_IPS, MAX_CONNECTIONS
from sim.scenario.simulation import (
    RETRYABLE,
    Arrival,
    Backoff,
    Client,
    ConnectionMode,
    Connections,
    Retries,
    Target,
    Via,
)
from sim.units import format_duration

__all__ = ["parse_clients"]


def _connections(raw: Any, path: str, fields: FieldReader) -> Connections:
    c = fields.keys(raw, path, ("mode", "count", "requestsPerConnection", "maxAge"))
    mode = fields.one_of(c.get("mode", ConnectionMode.PER_REQUEST), f"{path}.mode", ConnectionMode)
    if mode == ConnectionMode.PER_REQUEST:
        for key in ("count", "requestsPerConnection", "maxAge"):
            if key in c:
                fields.fail(f"{path}.{key}", 'Forbidden: only used with mode "keepalive"')
        return Connections()
    per = c.get("requestsPerConnection")
    age = c.get("maxAge")
    return Connections(
        mode=mode,
        count=fields.integer(
            c.get("count", 1),
            f"{path}.count",
            minimum=1,
            maximum=MAX_CONNECTIONS,
            why="svcsim keeps a slot per connection",
        ),
        requests_per_connection=None
        if per is None
        else fields.integer(per, f"{path}.requestsPerConnection", minimum=1),
        max_age_s=None if age is None else fields.duration(age, f"{path}.maxAge"),
    )


def _retries(raw: Any, path: str, fields: FieldReader) -> Retries:
    if isinstance(raw, dict) and "true" in raw and "on" not in raw:
        # YAML 1.1 reads a bare `on:` key as the boolean true, and keys become text as kubectl
        # makes them ("true"); GitHub Actions workflows read `on:` back the same way.
        raw = {("on" if key == "true" else key): value for key, value in raw.items()}
    allowed = ("attempts", "on", "backoff", "budget", "minRetryConcurrency")
    r = fields.keys(raw, path, allowed, required=("attempts",))
    attempts = fields.integer(
        r.get("attempts", 1),
        f"{path}.attempts",
        minimum=1,
        maximum=MAX_ATTEMPTS,
        why="svcsim's limit",
    )
    on = r.get("on", list(Retries(1).on))
    if not isinstance(on, list) or not on:
        fields.fail(f"{path}.on", f"Invalid value: {on!r}: must be a non-empty list of outcomes")
        on = []
    for i, outcome in enumerate(on):
        if outcome not in RETRYABLE:
            fields.fail(
                f"{path}.on[{i}]",
                f"Unsupported value: {go(outcome) if isinstance(outcome, str) else outcome!r}: supported values: "
                + ", ".join(f'"{o}"' for o in RETRYABLE),
            )
        elif outcome in on[:i]:
            fields.fail(f"{path}.on[{i}]", f'Duplicate value: "{outcome}"')
    b = fields.keys(r.get("backoff"), f"{path}.backoff", ("initial", "multiplier", "max", "jitter"))
    default = Backoff()
    initial = fields.duration(b.get("initial"), f"{path}.backoff.initial", default=default.initial_s)
    largest = fields.duration(b.get("max"), f"{path}.backoff.max", default=max(default.max_s, initial))
    if largest < initial:
        fields.fail(
            f"{path}.backoff.max",
            f"Invalid value: {format_duration(largest)}: must be at least backoff.initial ({format_duration(initial)})",
        )
    multiplier = float(fields.number(b.get("multiplier", default.multiplier), f"{path}.backoff.multiplier", minimum=1))
    jitter: str | float = b.get("jitter", default.jitter)
    if isinstance(jitter, str):
        jitter = fields.choice(jitter, f"{path}.backoff.jitter", ("full", "equal", "none"))
    else:
        jitter = float(fields.number(jitter, f"{path}.backoff.jitter", maximum=1, why="a share of the wait"))
    budget = r.get("budget")
    misspelt = any(key not in allowed for key in r)
    if "minRetryConcurrency" in r and budget is None and not misspelt:  # a misspelt budget is one problem
        fields.fail(f"{path}.minRetryConcurrency", "Forbidden: only used with budget")
    return Retries(
        attempts=attempts,
        on=tuple(o for o in on if o in RETRYABLE),
        backoff=Backoff(initial, multiplier, largest, jitter),
        budget=None if budget is None else fields.fraction(budget, f"{path}.budget"),
        min_retry_concurrency=fields.integer(r.get("minRetryConcurrency", 3), f"{path}.minRetryConcurrency"),
    )


def parse_clients(raw: Any, fields: FieldReader, folder: Path | None, duration: float | None) -> tuple[Client, ...]:
    """Read ``spec.clients``; problems go to ``fields`` (the result is then partial).
    ``duration`` (None if it is wrong itself) bounds each client's ``start`` and ``stop``."""
    clients = []
    for i, item in enumerate(fields.listing(raw, "spec.clients", "clients")):
        path = f"spec.clients[{i}]"
        c = fields.keys(
            item,
            path,
            (
                "name",
                "ip",
                "ips",
                "location",
                "target",
                "rate",
                "arrival",
                "nodes",
                "connectTimeout",
                "timeout",
                "connections",
                "start",
                "stop",
                "retries",
            ),
            required=("name", "target", "rate"),
        )
        t = fields.keys(c.get("target"), f"{path}.target", ("service", "via", "port"), required=("service",))
        target = Target(
            service=fields.string(t["service"], f"{path}.target.service") if "service" in t else "",
            via=fields.one_of(t.get("via", Via.NODE_PORT), f"{path}.target.via", Via),
            port=fields.port(t.get("port"), f"{path}.target.port"),
        )
        nodes = c.get("nodes")
        if nodes is not None and not (isinstance(nodes, list) and nodes and all(isinstance(n, str) for n in nodes)):
            fields.fail(f"{path}.nodes", f"Invalid value: {nodes!r}: must be a non-empty list of node names")
            nodes = None
        ip = c.get("ip")
        if ip is not None:
            try:
                ip = str(ipaddress.IPv4Address(str(ip)))
            except ValueError:
                fields.fail(f"{path}.ip", f"Invalid value: {ip!r}: must be an IPv4 address")
                ip = None
        ips = fields.integer(c.get("ips", 1), f"{path}.ips", minimum=1, maximum=MAX_CLIENT_IPS, why="a /16")
        overflow = overflow_problem(ipaddress.IPv4Address(ip), ips) if ip is not None else None
        if overflow is not None:
            fields.fail(f"{path}.ips", overflow)
        timeout = c.get("timeout")
        before = len(fields.problems)
        rate = parse_rate(c.get("rate", 1.0), f"{path}.rate", fields, folder)
        start, stop = _sending(c, path, fields, duration)
        if len(fields.problems) == before and duration is not None:
            _check_sends(rate, start, duration if stop is None else stop, path, fields)
        clients.append(
            Client(
                name=fields.string(c["name"], f"{path}.name") if "name" in c else f"client-{i}",
                ip=ip,
                location=fields.string(c.get("location", "external"), f"{path}.location"),
                target=target,
                rate=rate,
                arrival=fields.one_of(c.get("arrival", Arrival.POISSON), f"{path}.arrival", Arrival),
                nodes=tuple(nodes) if nodes is not None else None,
                connect_timeout_s=fields.duration(c.get("connectTimeout"), f"{path}.connectTimeout", default=1.0),
                timeout_s=None if timeout is None else fields.duration(timeout, f"{path}.timeout", positive=True),
                ips=ips,
                connections=_connections(c.get("connections"), f"{path}.connections", fields),
                start_s=start,
                stop_s=stop,
                retries=None if c.get("retries") is None else _retries(c["retries"], f"{path}.retries", fields),
            )
        )
    return tuple(clients)


def _sending(c: dict[str, Any], path: str, fields: FieldReader, duration: float | None) -> tuple[float, float | None]:
    """``start`` and ``stop``: 0 <= start < stop <= spec.duration (stop None: the end of the run)."""
    before = len(fields.problems)
    start = fields.duration(c.get("start"), f"{path}.start", default=0.0)
    stop = None if c.get("stop") is None else fields.duration(c.get("stop"), f"{path}.stop", positive=True)
    if duration is None or duration <= 0 or len(fields.problems) > before:
        return start, stop
    end = duration if stop is None else stop
    if stop is not None and stop > duration:
        fields.fail(
            f"{path}.stop",
            f"Invalid value: {format_duration(stop)}: must be at most spec.duration ({format_duration(duration)})",
        )
    elif start >= end:
        limit = f"stop ({format_duration(end)})" if stop is not None else f"spec.duration ({format_duration(end)})"
        fields.fail(f"{path}.start", f"Invalid value: {format_duration(start)}: must be earlier than {limit}")
    return start, stop


def _check_sends(rate: RateProfile, start: float, end: float, path: str, fields: FieldReader) -> None:
    """A client whose rate is 0 from start to stop would send nothing: surely not what was meant."""
    if start < end and rate.integral(start, end) <= 0:
        fields.fail(
            f"{path}.rate",
            f"Invalid value: the rate is 0 from {format_duration(start)} to {format_duration(end)}, "
            "when this client sends (start to stop): it would send nothing",
        )
