"""Reading a client's ``rate`` field: a number, or one profile (ramp, steps, sine, spike, trace).

Every problem names the field it is in and is reported once; a field that cannot be read
stands in as 0 so the rest of the profile is still checked. A ``trace`` names a CSV file,
found relative to the scenario file's folder, or is written inline: as ``[time, rate]``
pairs, or as the CSV text itself (a string with a newline, as a scenario given as text is;
the resolved scenario keeps traces so, one YAML value however many points). The README's "Rate profiles" section is the
user's description of the forms.
"""

from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path
from typing import Any

from sim.distributions import parse_seconds
from sim.scenario.field_reader import FieldReader, yaml11_number_hint
from sim.scenario.rate_profile import Constant, Ramp, RateProfile, Sine, Spike, Steps, Trace
from sim.scenario.yaml_reader import MAX_FILE_BYTES

__all__ = ["MAX_TRACE_POINTS", "PROFILES", "parse_rate"]

#: Points of a trace: the resolved scenario saved with a run embeds them, and must load again
#: within the YAML reader's budget of values.
MAX_TRACE_POINTS = 100_000
PROFILES = ("ramp", "steps", "sine", "spike", "trace")
_FALLBACK = Constant(1.0)


def parse_rate(value: Any, path: str, fields: FieldReader, folder: Path | None = None) -> RateProfile:
    """The profile ``value`` describes; ``folder`` is where a trace's relative path starts
    (the scenario file's folder; None: the working directory)."""
    if not isinstance(value, dict):
        before = len(fields.problems)
        rate = fields.number(value, path, strict=True)
        if len(fields.problems) == before:
            return Constant(float(rate))
        if not (isinstance(value, int | float) and not isinstance(value, bool)) and not yaml11_number_hint(value):
            # Neither a number nor text meant as one: say what else fits.
            fields.problems[-1] = (path, f"{fields.problems[-1][1]}, or a mapping with one of: {', '.join(PROFILES)}")
        return _FALLBACK
    fields.keys(value, path, (*PROFILES, "interpolate"))
    kinds = [k for k in PROFILES if k in value]
    misspelt = any(key not in (*PROFILES, "interpolate") for key in value)
    if not kinds and misspelt:  # the unknown field is the one problem (a misspelt profile)
        return _FALLBACK
    if len(kinds) != 1:
        found = f"got {', '.join(kinds)}" if kinds else "got none"
        fields.fail(path, f"must name exactly one profile of: {', '.join(PROFILES)} ({found})")
        return _FALLBACK
    kind = kinds[0]
    if "interpolate" in value and kind != "trace":
        fields.fail(f"{path}.interpolate", "Forbidden: only used with trace")
    before = len(fields.problems)
    where = f"{path}.{kind}"
    if kind == "ramp":
        profile = _ramp(value[kind], where, fields)
    elif kind == "steps":
        profile = _steps(value[kind], where, fields)
    elif kind == "sine":
        profile = _sine(value[kind], where, fields)
    elif kind == "spike":
        profile = _spike(value[kind], where, fields)
    else:
        linear = fields.choice(value.get("interpolate", "step"), f"{path}.interpolate", ("step", "linear"))
        profile = _trace(value[kind], where, fields, folder, linear == "linear")
    return profile if profile is not None and len(fields.problems) == before else _FALLBACK


def _ramp(raw: Any, path: str, fields: FieldReader) -> RateProfile | None:
    r = fields.keys(raw, path, ("from", "to", "over", "at"), required=("from", "to", "over"))
    start = float(fields.number(r["from"], f"{path}.from")) if "from" in r else 0.0
    end = float(fields.number(r["to"], f"{path}.to")) if "to" in r else 0.0
    over = fields.duration(r.get("over"), f"{path}.over", default=0.0, positive=True) if "over" in r else 0.0
    at = fields.duration(r.get("at"), f"{path}.at", default=0.0)
    return Ramp(start, end, over, at) if over > 0 else None


def _steps(raw: Any, path: str, fields: FieldReader) -> RateProfile | None:
    if not isinstance(raw, list) or not raw:
        fields.fail(path, f"Invalid value: {raw!r}: must be a non-empty list of {{at, rate}}")
        return None
    steps: list[tuple[float, float]] = []
    for i, item in enumerate(raw):
        where = f"{path}[{i}]"
        s = fields.keys(item, where, ("at", "rate"), required=("at", "rate"))
        at = fields.duration(s["at"], f"{where}.at") if "at" in s else 0.0
        rate = float(fields.number(s["rate"], f"{where}.rate")) if "rate" in s else 0.0
        if steps and "at" in s and at <= steps[-1][0]:
            fields.fail(f"{where}.at", f"Invalid value: {s['at']!r}: must be later than the step before it")
        steps.append((at, rate))
    return Steps(tuple(steps))


def _sine(raw: Any, path: str, fields: FieldReader) -> RateProfile | None:
    s = fields.keys(raw, path, ("mean", "amplitude", "period", "phase"), required=("mean", "amplitude", "period"))
    mean = float(fields.number(s["mean"], f"{path}.mean", strict=True)) if "mean" in s else 0.0
    amplitude = float(fields.number(s["amplitude"], f"{path}.amplitude")) if "amplitude" in s else 0.0
    if mean > 0 and amplitude > mean:
        fields.fail(
            f"{path}.amplitude",
            f"Invalid value: {s['amplitude']!r}: must be at most mean ({mean:g}), or the rate would go below 0",
        )
    period = fields.duration(s["period"], f"{path}.period", positive=True) if "period" in s else 0.0
    phase = fields.duration(s.get("phase"), f"{path}.phase", default=0.0)
    return Sine(mean, amplitude, period, phase) if mean > 0 and period > 0 else None


def _spike(raw: Any, path: str, fields: FieldReader) -> RateProfile | None:
    s = fields.keys(raw, path, ("base", "peak", "at", "duration"), required=("base", "peak", "at", "duration"))
    base = float(fields.number(s["base"], f"{path}.base")) if "base" in s else 0.0
    peak = float(fields.number(s["peak"], f"{path}.peak")) if "peak" in s else 0.0
    at = fields.duration(s["at"], f"{path}.at") if "at" in s else 0.0
    length = fields.duration(s["duration"], f"{path}.duration", positive=True) if "duration" in s else 0.0
    return Spike(base, peak, at, length) if length > 0 else None


# -- traces ----------------------------------------------------------------------------------


def _trace(raw: Any, path: str, fields: FieldReader, folder: Path | None, linear: bool) -> RateProfile | None:
    if isinstance(raw, list):
        rows = [(f"item {i}", item) for i, item in enumerate(raw)]
        points, problem = _points(rows, lambda row: row if isinstance(row, list) and len(row) == 2 else None)
        if problem is not None:
            fields.fail(path, f"Invalid value: {problem}")
            return None
        return Trace(points, linear)
    if isinstance(raw, str) and "\n" in raw:  # the CSV text itself, as the resolved scenario keeps it
        points, problem = _csv_points(raw)
        if problem is not None:
            fields.fail(path, f"Invalid value: the inline CSV: {problem}")
            return None
        return Trace(points, linear)
    if not isinstance(raw, str) or not raw:
        fields.fail(
            path, f"Invalid value: {raw!r}: must be the path of a CSV file (time,rate) or a list of [time, rate]"
        )
        return None
    file = Path(raw) if os.path.isabs(raw) or folder is None else folder / raw
    text, problem = _read_csv(file)
    if problem is None:
        points, problem = _csv_points(text)
    if problem is not None:
        fields.fail(path, f"Invalid value: {raw!r}: {problem}")
        return None
    return Trace(points, linear)


def _read_csv(file: Path) -> tuple[str, str | None]:
    try:
        with open(file, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        return "", f"cannot read {file}: {err.strerror}"
    if len(data) > MAX_FILE_BYTES:
        return "", f"{file} is larger than the {MAX_FILE_BYTES // 2**20} MiB svcsim reads"
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as err:
        return "", f"{file} is not UTF-8 text (byte 0x{err.object[err.start]:02x} at offset {err.start})"


def _csv_points(text: str) -> tuple[tuple[tuple[float, float], ...], str | None]:
    """The rows after a ``time,rate`` header (blank lines skipped), numbered as the file's lines."""
    lines = list(enumerate(csv.reader(io.StringIO(text)), start=1))
    lines = [(n, row) for n, row in lines if any(cell.strip() for cell in row)]
    if not lines or [cell.strip() for cell in lines[0][1]] != ["time", "rate"]:
        return (), 'line 1: the header must be "time,rate"'
    rows = [(f"line {n}", row) for n, row in lines[1:]]
    return _points(rows, lambda row: row if len(row) == 2 else None)


def _points(rows: list[tuple[str, Any]], pair: Any) -> tuple[tuple[tuple[float, float], ...], str | None]:
    """``(time_s, rate)`` for each row, or the first problem, naming its row."""
    if not rows:
        return (), "the trace has no points"
    if len(rows) > MAX_TRACE_POINTS:
        return (
            (),
            f"the trace has {len(rows):,} points, more than the {MAX_TRACE_POINTS:,} svcsim takes (svcsim's limit)",
        )
    points: list[tuple[float, float]] = []
    for where, row in rows:
        cells = pair(row)
        if cells is None:
            return (), f"{where}: must be two values, time and rate, got {row!r}"
        time_s, rate = _time(cells[0]), _number(cells[1])
        if time_s is None:
            return (), f"{where}: time {cells[0]!r} must be seconds or a duration such as 30s"
        if rate is None or rate < 0:
            return (), f"{where}: rate {cells[1]!r} must be a finite number >= 0"
        if points and time_s <= points[-1][0]:
            return (), f"{where}: time {cells[0]!r} must be later than the row before it"
        points.append((time_s, rate))
    return tuple(points), None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value.strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _time(value: Any) -> float | None:
    number = _number(value)
    if number is not None:
        value = number
    elif isinstance(value, str):
        value = value.strip()
    try:
        seconds = parse_seconds(value)
    except ValueError:
        return None
    return seconds
