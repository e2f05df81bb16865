"""``--map``: which trace column (with an optional unit factor) holds each samples column."""

from __future__ import annotations

import math
import re

from rightsize.errors import RightsizeError

__all__ = ["parse_mapping", "source_of"]


def parse_mapping(text: str) -> dict[str, str]:
    """``"workload=vm,ts=time"`` -> ``{"workload": "vm", "ts": "time"}`` (RightsizeError if malformed).

    A numeric source may carry a unit factor: ``mem_working_set=mem_kb*1024``, ``cpu_cores=cpu_pct/100``.
    """
    mapping: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise RightsizeError(f"bad --map entry {part!r}: expected SAMPLES_COLUMN=TRACE_COLUMN")
        if key in mapping:
            raise RightsizeError(f"--map names {key!r} twice: expected each samples column once")
        mapping[key] = value
    return mapping


_SCALED = re.compile(r"^(?P<col>.+?)\s*(?P<op>[*/])\s*(?P<num>[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)$")


def source_of(key: str, value: str, columns: list[str]) -> tuple[str, float]:
    """``"mem_kb*1024"`` -> ("mem_kb", 1024.0); a name that is itself a column is taken as it is."""
    m = _SCALED.match(value)
    if value in columns:
        return value, 1.0
    if not m:
        col, op, factor = value.rpartition("*") if "*" in value else value.rpartition("/")
        if op and col.strip() in columns:  # a column with a factor that is not a number: say so
            raise RightsizeError(
                f"--map {key}={value}: factor {factor.strip()!r} is not a positive decimal number "
                f"(expected {col.strip()}*NUMBER or {col.strip()}/NUMBER, e.g. *1024 or /100)"
            )
        return value, 1.0
    num = float(m.group("num"))
    if num == 0:
        raise RightsizeError(f"--map {key}={value}: cannot scale by zero")
    if not math.isfinite(num):  # 1e400 parses as inf: every value would be written as null
        raise RightsizeError(f"--map {key}={value}: cannot scale by {num}")
    return m.group("col"), num if m.group("op") == "*" else 1.0 / num
