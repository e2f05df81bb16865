"""CPU limits written as ``cpu_quota``/``cpu_period`` (CFS microseconds per period).

Docker refuses them beside ``cpus`` ("Conflicting options: Nano CPUs and CPU Quota cannot both be
set"), so a service that limits CPU this way gets its quota updated, never a ``cpus`` key added; and
``check`` reads the limit they set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from rightsize.errors import RightsizeError
from rightsize.targets.composefile import Stack
from rightsize.targets.edit import NewScalar
from rightsize.targets.values import MIN_QUOTA_US, interpolated, lookup
from rightsize.targets.yamlnum import yaml_v3
from rightsize.units import go_parse_int

PERIOD_US = 100_000  # Docker's default CFS period


@dataclass(frozen=True)
class QuotaEdit:
    """Set ``cpu_quota`` in file ``index`` (``old`` is the value compose uses now)."""

    index: int
    old: Any
    new: NewScalar
    note: str


def _last(docs: Stack, svc: str, key: str) -> tuple[int, Any, bool] | None:
    """(file index, value, inherited through extends) of the value compose uses, or None."""
    for i, own, node, _ in docs.layers(svc):  # (a file's own value, then what its extends brings)
        found, value = lookup(node, (key,))
        if found and value is not None:
            return (i, value, False) if own else (-1, value, True)
    return None


def _micros(value: Any, key: str, where: str) -> int:
    """As compose-go reads cpu_quota/cpu_period (int64): a YAML number, or a string
    strconv.ParseInt(s, 10, 64) takes (its interpolation cast: no " 50000", no "5e4")."""
    value = yaml_v3(value)  # (050000 is octal to compose's YAML reader)
    if isinstance(value, str):
        n = go_parse_int(value)
    elif isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        n = int(value)
    else:
        n = None
    if n is None:
        raise RightsizeError(f"{where}: {key}: not a number of microseconds: {value!r}")
    return n


def quota_limit(docs: Stack, svc: str) -> tuple[str | None, str | None]:
    """The CPU limit ``cpu_quota``/``cpu_period`` set, as a CPU amount ("0" when unlimited,
    ``${cpu_quota}`` when interpolated), and where; (None, None) when the service sets no quota."""
    quota = _last(docs, svc, "cpu_quota")
    if quota is None:
        return None, None
    where = "services extended by " + svc if quota[2] else f"{docs[quota[0]].source}: services.{svc}"
    period = _last(docs, svc, "cpu_period")
    if interpolated(quota[1]) or (period is not None and interpolated(period[1])):
        return "${cpu_quota}", where  # no default is read: a quota default is not a CPU amount
    q = _micros(quota[1], "cpu_quota", where)
    p = (_micros(period[1], "cpu_period", where) if period else 0) or PERIOD_US  # 0: Docker's default
    return (f"{q / p:.6g}" if q > 0 and p > 0 else "0"), f"{where}.cpu_quota"


def plan_quota(docs: Stack, svc: str, home: int, cores: float) -> QuotaEdit | str | None:
    """How a CPU limit is written for a service using CFS keys: an edit, a reason to skip ("" when the
    quota is already right), or None when it uses neither ``cpu_quota`` nor ``cpu_period``."""
    quota, period = _last(docs, svc, "cpu_quota"), _last(docs, svc, "cpu_period")
    if quota is None and period is None:
        return None
    p_value = period[1] if period else PERIOD_US
    if interpolated(p_value) or (quota is not None and interpolated(quota[1])):
        return "cpu_quota/cpu_period are interpolated: not replaced (Docker refuses cpus beside them)"
    p = _micros(p_value, "cpu_period", f"{docs[home].source}: services.{svc}")
    if p <= 0:
        return f"cpu_period {p_value} is not a period: cpu limit not written"
    new = round(cores * p)
    if new < MIN_QUOTA_US:  # the engine: "CPU cfs quota can not be less than 1ms (i.e. 1000)"
        return (
            f"not written: {cores:g} CPUs at cpu_period {p} is cpu_quota {new}, below the {MIN_QUOTA_US} "
            f"(1 ms) Docker accepts; a cpu_period of {math.ceil(MIN_QUOTA_US / cores)} or more allows it"
        )
    if quota is None:
        return (
            f"cpu_period is set without cpu_quota (Docker refuses cpus beside it): "
            f"set cpu_quota: {new} for {cores:g} CPUs"
        )
    i, old, inherited = quota
    if _micros(old, "cpu_quota", f"{docs[home].source}: services.{svc}") == new:
        return ""
    note = f"{cores:g} CPUs at cpu_period {p}; Docker refuses cpus beside a quota"
    if inherited:
        i, note = home, note + "; inherited through extends: own override written"
    return QuotaEdit(i, old, NewScalar(str(new), str(new), new), note)
