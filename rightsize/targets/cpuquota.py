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
from rightsize.targets.effective import effective, read
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


def _last(docs: Stack, svc: str, key: str) -> tuple[int, Any, bool, str] | None:
    """(file index, value, inherited through extends, where it is written) of the value compose
    uses, or None."""
    for i, own, node, _ in docs.layers(svc):  # (a file's own value, then what its extends brings)
        found, value = lookup(node, (key,))
        if found and value is not None:
            where = f"{docs[i].source}: services.{svc}" if own else docs.origin(node, svc)
            return (i, value, False, where) if own else (-1, value, True, where)
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
    if not -(2**63) <= n < 2**63:  # (a YAML integer: compose-go's int64 cannot hold it)
        raise RightsizeError(f"{where}: {key}: {value} is beyond the int64 range Docker Compose v2 reads")
    return n


def quota_limit(docs: Stack, svc: str) -> tuple[str | None, str | None, str]:
    """The CPU limit ``cpu_quota``/``cpu_period`` set, as a CPU amount ("0" when unlimited), where, and
    how an interpolated quota or period read ("reads 25000: ", "" when neither is); (None, None, "")
    when the service sets no quota. ``${Q:-25000}`` is read as compose reads it: substituted, then
    cast as an int64 (Docker Compose 2.40.3 runs it as 0.25 CPUs; an empty or "2.5e4" one is refused)."""
    quota, where, env = effective(docs, svc, [("cpu_quota",)])
    if quota is None:
        return None, None, ""
    period, p_where, p_env = effective(docs, svc, [("cpu_period",)])
    where = where or svc
    q_text, q_read = read(quota, env, where)
    q = _micros(q_text, "cpu_quota", where.removesuffix(".cpu_quota"))  # (_micros names the key)
    p, p_read = 0, ""
    if period is not None:
        p_where = p_where or svc
        p_text, p_read = read(period, p_env, p_where)
        p = _micros(p_text, "cpu_period", p_where.removesuffix(".cpu_period"))
    p = p or PERIOD_US  # 0: Docker's default
    how = [f"{key} {text.removesuffix(': ')}" for key, text in (("cpu_quota", q_read), ("cpu_period", p_read))
           if text]  # fmt: skip
    return (f"{q / p:.6g}" if q > 0 and p > 0 else "0"), where, ("; ".join(how) + ": " if how else "")


def plan_quota(docs: Stack, svc: str, home: int, cores: float) -> QuotaEdit | str | None:
    """How a CPU limit is written for a service using CFS keys: an edit, a reason to skip ("" when the
    quota is already right), or None when it uses neither ``cpu_quota`` nor ``cpu_period``."""
    quota, period = _last(docs, svc, "cpu_quota"), _last(docs, svc, "cpu_period")
    if quota is None and period is None:
        return None
    p_value = period[1] if period else PERIOD_US
    if interpolated(p_value) or (quota is not None and interpolated(quota[1])):
        return "cpu_quota/cpu_period are interpolated: not replaced (Docker refuses cpus beside them)"
    p_where = period[3] if period else f"{docs[home].source}: services.{svc}"
    p = _micros(p_value, "cpu_period", p_where) or PERIOD_US  # 0: the default
    if p < 0:
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
    i, old, inherited, q_where = quota
    if _micros(old, "cpu_quota", q_where) == new:
        return ""
    note = f"{cores:g} CPUs at cpu_period {p}; Docker refuses cpus beside a quota"
    if inherited:
        i, note = home, note + "; inherited through extends: own override written"
    return QuotaEdit(i, old, NewScalar(str(new), str(new), new), note)
