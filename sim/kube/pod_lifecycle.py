"""A Deployment's pod lifecycle fields: container probes, the ``preStop`` hook, the rollout
strategy, ``minReadySeconds`` and ``progressDeadlineSeconds``.

Defaults are the API server's (SetDefaults_Probe, SetDefaults_Deployment); validation and its
wording follow ValidateProbe, validateHandler, validateSleepAction, validateContainers,
ValidateDeploymentStrategy and ValidateRollingUpdateDeployment
(docs/semantics.md#pod-lifecycle-fields). Before validation, these objects are decoded as the API
server's strict decoder does: an unknown key, or a value of the wrong type, is refused in its
words (docs/semantics.md#strict-fields-and-types).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sim.kube.validation import (
    NEGATIVE_MSG,
    FieldError,
    decode_int,
    decode_int_or_string,
    decode_object,
    go,
    nonnegative,
    port_name_problems,
    regex_error,
    unmarshal_error,
    unsupported,
    valid_port,
)

__all__ = [
    "DEFAULT_MAX_SURGE",
    "DEFAULT_MAX_UNAVAILABLE",
    "DEFAULT_PROGRESS_DEADLINE_S",
    "ContainerLifecycle",
    "PreStop",
    "Probe",
    "Strategy",
    "container_lifecycle",
    "exec_sleep_seconds",
    "progress_deadline",
    "scaled_value",
    "strategy",
]

DEFAULT_MAX_SURGE = "25%"
DEFAULT_MAX_UNAVAILABLE = "25%"
DEFAULT_PROGRESS_DEADLINE_S = 600
STRATEGY_TYPES = ("Recreate", "RollingUpdate")

#: (manifest key, default when omitted or 0) in the order ValidateProbe checks them.
_PROBE_FIELDS = (
    ("initialDelaySeconds", 0),
    ("timeoutSeconds", 1),
    ("periodSeconds", 10),
    ("successThreshold", 1),
    ("failureThreshold", 3),
)
#: Handler fields in the order validateHandler looks at them.
_PROBE_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
_LIFECYCLE_HANDLERS = ("exec", "httpGet", "tcpSocket", "sleep")
#: Every JSON field of the structs read here (k8s.io/api core/v1 Probe with its inline
#: ProbeHandler, Lifecycle, the actions; apps/v1 DeploymentStrategy, RollingUpdateDeployment):
#: the strict decoder refuses any other key.
_PROBE_KEYS = (*_PROBE_HANDLERS, *(key for key, _ in _PROBE_FIELDS), "terminationGracePeriodSeconds")
_LIFECYCLE_KEYS = ("postStart", "preStop", "stopSignal")
#: Per handler kind: its Go struct and that struct's fields.
_ACTIONS = {
    "exec": ("ExecAction", ("command",)),
    "httpGet": ("HTTPGetAction", ("path", "port", "host", "scheme", "httpHeaders")),
    "tcpSocket": ("TCPSocketAction", ("port", "host")),
    "grpc": ("GRPCAction", ("port", "service")),
    "sleep": ("SleepAction", ("seconds",)),
}
_STRATEGY_KEYS = ("type", "rollingUpdate")
_ROLLING = "RollingUpdateDeployment"
_ROLLING_UPDATE_KEYS = ("maxUnavailable", "maxSurge")
#: apimachinery's IsValidPercent.
_PERCENT = re.compile(r"[0-9]+%")
_PERCENT_MSG = regex_error(
    "a valid percent string must be a numeric string followed by an ending '%'", "[0-9]+%", "1%", "93%"
)
_SHELLS = ("sh", "bash", "ash", "dash", "zsh")
#: A plain ``sleep N`` as a shell runs it: GNU sleep's optional s/m/h/d suffix, nothing after it.
_SHELL_SLEEP = re.compile(r"\s*(?:exec\s+)?sleep\s+(\d+(?:\.\d*)?|\.\d+)([smhd]?)\s*;?\s*")
_SLEEP_UNIT_S = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


@dataclass(frozen=True)
class Probe:
    """A container probe's timing (its handler does not matter to svcsim: what makes it fail
    is the Simulation's ``probeFailure``). Defaults are the API server's."""

    initial_delay_s: float = 0.0
    period_s: float = 10.0
    timeout_s: float = 1.0
    success_threshold: int = 1
    failure_threshold: int = 3


@dataclass(frozen=True)
class PreStop:
    """A container's ``lifecycle.preStop`` hook: ``sleep`` (its ``seconds``), ``exec``,
    ``httpGet`` or ``tcpSocket``; ``seconds`` is None when the manifest does not say how long
    it runs (an ``exec`` that is not a plain ``sleep N``, an HTTP call)."""

    kind: str
    seconds: float | None


@dataclass(frozen=True)
class Strategy:
    """``spec.strategy``: ``RollingUpdate`` with maxSurge / maxUnavailable (an int or a
    percentage string, as written), or ``Recreate`` (which leaves them at their defaults,
    unused)."""

    type: str = "RollingUpdate"
    max_surge: int | str = "25%"
    max_unavailable: int | str = "25%"


@dataclass(frozen=True)
class ContainerLifecycle:
    """One container's probes and preStop hook, as read from its manifest (None where absent)."""

    startup_probe: Probe | None = None
    readiness_probe: Probe | None = None
    liveness_probe: Probe | None = None
    pre_stop: PreStop | None = None


def scaled_value(value: int | str, total: int, round_up: bool) -> int:
    """An int-or-percent against ``total``, as intstr.GetScaledValueFromIntOrPercent does:
    a percentage rounds up (maxSurge) or down (maxUnavailable).

    >>> scaled_value("25%", 10, True), scaled_value("25%", 10, False), scaled_value(2, 10, True)
    (3, 2, 2)
    """
    if isinstance(value, int):
        return value
    percent = int(value.rstrip("%"))
    exact = percent * total
    return -(-exact // 100) if round_up else exact // 100


def container_lifecycle(
    container: dict[str, Any], cpath: str, grace_s: int | None, errors: list[FieldError]
) -> ContainerLifecycle:
    """A container's ``lifecycle.preStop`` and its three probes, checked in validateContainers'
    order: lifecycle, liveness, readiness, startup. ``grace_s`` is the pod's valid
    terminationGracePeriodSeconds (None when it is itself invalid: one error is enough)."""
    lpath = f"{cpath}.lifecycle"
    lifecycle = decode_object(container.get("lifecycle"), lpath, "Container", "v1.Lifecycle", _LIFECYCLE_KEYS, errors)
    pre_stop = None
    raw = lifecycle.get("preStop")
    if raw is not None:
        path = f"{lpath}.preStop"
        before = len(errors)
        hook = decode_object(raw, path, "Lifecycle", "v1.LifecycleHandler", _LIFECYCLE_HANDLERS, errors)
        kind = _handler(hook, path, "LifecycleHandler", grace_s, errors) if isinstance(raw, dict) else None
        if kind is not None and len(errors) == before:
            pre_stop = PreStop(kind, _pre_stop_seconds(kind, hook[kind]))
    probes = {}
    for key, once in (("livenessProbe", True), ("readinessProbe", False), ("startupProbe", True)):
        fields = _probe(container.get(key), f"{cpath}.{key}", once, errors)
        probes[key] = Probe(*fields) if fields is not None else None
    return ContainerLifecycle(
        startup_probe=probes["startupProbe"],
        readiness_probe=probes["readinessProbe"],
        liveness_probe=probes["livenessProbe"],
        pre_stop=pre_stop,
    )


def exec_sleep_seconds(command: Any) -> float | None:
    """How long an ``exec`` hook runs when its command is just a sleep: ``["sleep", "5"]``,
    ``["/bin/sh", "-c", "sleep 5"]`` (any common shell, GNU suffixes s/m/h/d); None otherwise.

    >>> exec_sleep_seconds(["sleep", "5"]), exec_sleep_seconds(["/bin/sh", "-c", "sleep 2m"])
    (5.0, 120.0)
    >>> exec_sleep_seconds(["/bin/sh", "-c", "nginx -s quit; sleep 5"]) is None
    True
    """
    if not isinstance(command, list) or not all(isinstance(part, str) for part in command) or not command:
        return None
    program = command[0].rsplit("/", 1)[-1]
    if program == "sleep" and len(command) == 2:
        script = f"sleep {command[1]}"
    elif program in _SHELLS and len(command) == 3 and command[1] == "-c":
        script = command[2]
    else:
        return None
    match = _SHELL_SLEEP.fullmatch(script)
    if match is None:
        return None
    return float(match.group(1)) * _SLEEP_UNIT_S[match.group(2)]


def strategy(spec: dict[str, Any], errors: list[FieldError]) -> Strategy:
    """``spec.strategy`` defaulted as SetDefaults_Deployment does (RollingUpdate, 25 %/25 %) and
    checked as ValidateDeploymentStrategy does."""
    path = "spec.strategy"
    rpath = f"{path}.rollingUpdate"
    raw = decode_object(spec.get("strategy"), path, "DeploymentSpec", "v1.DeploymentStrategy", _STRATEGY_KEYS, errors)
    kind = raw.get("type")
    rolling = raw.get("rollingUpdate")
    before = len(errors)
    fields = decode_object(
        rolling, rpath, "DeploymentStrategy", "v1.RollingUpdateDeployment", _ROLLING_UPDATE_KEYS, errors
    )
    unavailable = decode_int_or_string(fields.get("maxUnavailable"), f"{rpath}.maxUnavailable", _ROLLING, errors)
    surge = decode_int_or_string(fields.get("maxSurge"), f"{rpath}.maxSurge", _ROLLING, errors)
    if kind is not None and not isinstance(kind, str):
        errors.append(unmarshal_error(kind, f"{path}.type", "DeploymentStrategy", "v1.DeploymentStrategyType"))
    if len(errors) > before:
        return Strategy()
    kind = "RollingUpdate" if kind is None or kind == "" else kind
    if kind == "Recreate":
        if rolling is not None:
            detail = "Forbidden: may not be specified when strategy `type` is 'Recreate'"
            errors.append(FieldError(f"{path}.rollingUpdate", detail))
        return Strategy(type=kind)
    if kind != "RollingUpdate":
        errors.append(unsupported(path, kind, STRATEGY_TYPES))
        return Strategy()
    unavailable = DEFAULT_MAX_UNAVAILABLE if unavailable is None else unavailable
    surge = DEFAULT_MAX_SURGE if surge is None else surge
    _int_or_percent(unavailable, f"{rpath}.maxUnavailable", errors)
    _int_or_percent(surge, f"{rpath}.maxSurge", errors)
    if _int_or_percent_value(unavailable) == 0 and _int_or_percent_value(surge) == 0:
        errors.append(
            FieldError(
                f"{rpath}.maxUnavailable", f"Invalid value: {go(unavailable)}: may not be 0 when `maxSurge` is 0"
            )
        )
    if isinstance(unavailable, str) and _PERCENT.fullmatch(unavailable) and int(unavailable[:-1]) > 100:
        errors.append(
            FieldError(f"{rpath}.maxUnavailable", f"Invalid value: {go(unavailable)}: must not be greater than 100%")
        )
    if len(errors) > before:
        return Strategy()
    return Strategy(type=kind, max_surge=surge, max_unavailable=unavailable)


def progress_deadline(spec: dict[str, Any], errors: list[FieldError]) -> tuple[int, int]:
    """``(minReadySeconds, progressDeadlineSeconds)``, defaulted (0, 600) and checked as
    ValidateDeploymentSpec does: both non-negative, the deadline greater than minReadySeconds."""
    min_ready = nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds", "DeploymentSpec", 0, errors)
    deadline = nonnegative(
        spec.get("progressDeadlineSeconds"),
        "spec.progressDeadlineSeconds",
        "DeploymentSpec",
        DEFAULT_PROGRESS_DEADLINE_S,
        errors,
    )
    if min_ready is not None and deadline is not None and deadline <= min_ready:
        errors.append(
            FieldError(
                "spec.progressDeadlineSeconds", f"Invalid value: {deadline}: must be greater than minReadySeconds"
            )
        )
    return min_ready or 0, DEFAULT_PROGRESS_DEADLINE_S if deadline is None else deadline


def _probe(
    raw: Any, path: str, succeed_once: bool, errors: list[FieldError]
) -> tuple[float, float, float, int, int] | None:
    """A probe's timing fields, in Probe's order (initial delay, period, timeout, success and
    failure thresholds): validateProbe's handler and non-negative checks, then, for liveness and
    startup probes, successThreshold must be 1. A 0 is defaulted, as SetDefaults_Probe does."""
    if raw is None:
        return None
    before = len(errors)
    probe = decode_object(raw, path, "Container", "v1.Probe", _PROBE_KEYS, errors)
    if not isinstance(raw, dict):
        return None
    _handler(probe, path, "Probe", None, errors)
    values = {}
    for key, fallback in _PROBE_FIELDS:
        value = nonnegative(probe.get(key), f"{path}.{key}", "Probe", fallback, errors)
        values[key] = value or fallback
    if succeed_once and values["successThreshold"] != 1:
        errors.append(FieldError(f"{path}.successThreshold", f"Invalid value: {values['successThreshold']}: must be 1"))
    if len(errors) > before:
        return None
    return (
        float(values["initialDelaySeconds"]),
        float(values["periodSeconds"]),
        float(values["timeoutSeconds"]),
        int(values["successThreshold"]),
        int(values["failureThreshold"]),
    )


def _handler(raw: dict[str, Any], path: str, owner: str, grace_s: int | None, errors: list[FieldError]) -> str | None:
    """validateHandler: exactly one handler set (a null counts as unset), each checked; the one
    found, or None. ``owner`` is the Go struct holding them: ``Probe`` (its inline ProbeHandler)
    or ``LifecycleHandler``."""
    kinds = _PROBE_HANDLERS if owner == "Probe" else _LIFECYCLE_HANDLERS
    found = None
    for kind in kinds:
        action = raw.get(kind)
        if action is None:
            continue
        if found is not None:
            errors.append(FieldError(f"{path}.{kind}", "Forbidden: may not specify more than 1 handler type"))
            continue
        found = kind
        _action(kind, action, f"{path}.{kind}", owner, grace_s, errors)
    if found is None:
        errors.append(FieldError(path, "Required value: must specify a handler type"))
    return found


def _action(kind: str, action: Any, path: str, owner: str, grace_s: int | None, errors: list[FieldError]) -> None:
    """One handler, decoded (its struct's fields, a port as IntOrString or int32, a sleep's
    int64), then its own rules: an exec command is required (validateExecAction); ports are a
    number 1–65535 or a port name (ValidatePortNumOrName); a sleep fits in the grace period
    (validateSleepAction, zero allowed as from 1.34)."""
    struct, fields = _ACTIONS[kind]
    before = len(errors)
    body = decode_object(action, path, owner, f"v1.{struct}", fields, errors)
    if kind == "exec":
        command = body.get("command")
        if isinstance(command, list):
            for i, part in enumerate(command):
                if part is not None and not isinstance(part, str):
                    errors.append(unmarshal_error(part, f"{path}.command[{i}]", struct, "string"))
        elif command is not None:
            errors.append(unmarshal_error(command, f"{path}.command", struct, "[]string"))
        if len(errors) == before and not command:
            errors.append(FieldError(f"{path}.command", "Required value"))
    elif kind in ("httpGet", "tcpSocket", "grpc"):
        raw = body.get("port")
        port: int | str | None
        if kind == "grpc":  # a number only
            port = decode_int(raw, f"{path}.port", struct, 32, errors)
        else:
            port = decode_int_or_string(raw, f"{path}.port", struct, errors)
        if len(errors) > before:
            return
        port = 0 if port is None else port
        if isinstance(port, str):
            problems = port_name_problems(port)
        else:
            problems = [] if valid_port(port) else ["must be between 1 and 65535, inclusive"]
        errors.extend(FieldError(f"{path}.port", f"Invalid value: {go(port)}: {p}") for p in problems)
    elif kind == "sleep":
        seconds = decode_int(body.get("seconds"), f"{path}.seconds", struct, 64, errors)
        if len(errors) > before:
            return
        seconds = 0 if seconds is None else seconds
        if grace_s is not None and not 0 <= seconds <= grace_s:
            errors.append(
                FieldError(
                    path,
                    f"Invalid value: {seconds}: must be non-negative and less than "
                    f"terminationGracePeriodSeconds ({grace_s})",
                )
            )


def _pre_stop_seconds(kind: str, action: dict[str, Any]) -> float | None:
    """How long the (valid) hook runs, when the manifest says: a sleep's seconds, an exec that
    is just a sleep; None for the rest."""
    if kind == "sleep":
        return float(action.get("seconds") or 0)
    if kind == "exec":
        return exec_sleep_seconds(action.get("command"))
    return None


def _int_or_percent(value: int | str, path: str, errors: list[FieldError]) -> None:
    """ValidatePositiveIntOrPercent: a percent string as IsValidPercent wants it, or an int ≥ 0."""
    if isinstance(value, str):
        if not _PERCENT.fullmatch(value):
            errors.append(FieldError(path, f"Invalid value: {go(value)}: {_PERCENT_MSG}"))
    elif value < 0:
        errors.append(FieldError(path, f"Invalid value: {value}: {NEGATIVE_MSG}"))


def _int_or_percent_value(value: int | str) -> int:
    """getIntOrPercentValue: a valid percent's number, an int, or a string's Atoi (0 if it is
    not a number)."""
    if isinstance(value, str):
        if _PERCENT.fullmatch(value):
            return int(value[:-1])
        return int(value) if re.fullmatch(r"[+-]?[0-9]+", value) else 0
    return value
