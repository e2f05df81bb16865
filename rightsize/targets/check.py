"""CI gate: are the configured limits inside the recommended band, and is the plan's checklist met?

A limit outside ``recommended x (1 +- tolerance)`` or missing fails; so do the plan's resource
checklist items (memory, CPU and PID limits set, a restart policy configured). A configured memory or
CPU reservation fails when it is above the recommended limit or outside the same band around the
recommended reservation; a missing reservation is not a failure (the checklist asks for limits).
Services the data does not know are listed but cannot fail the band check. Swap rows
(``memswap_limit``, ``--swap``) are judged in ``checkswap``.
"""

from __future__ import annotations

import dataclasses
import json
import struct
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from rightsize.errors import RightsizeError
from rightsize.models import Recommendation
from rightsize.render import one_line
from rightsize.targets import hostcpus
from rightsize.targets.checkswap import swap_verdict
from rightsize.targets.compose import DEPLOY, LEGACY
from rightsize.targets.composefile import (
    Stack,
    container_alias,
    load_compose,
    paths_of,
    select,
)
from rightsize.targets.cpuquota import plan_quota, quota_limit
from rightsize.targets.effective import Env
from rightsize.targets.effective import effective as _effective
from rightsize.targets.effective import read as _read
from rightsize.targets.interpolate import interpolated, substitute
from rightsize.targets.locate import home
from rightsize.targets.match import Recs, match_workloads, resolve
from rightsize.targets.project import folder_project, project_for, project_name
from rightsize.targets.swapsize import parse_swap
from rightsize.targets.validate import validate_units
from rightsize.targets.values import minus_one, parse_value
from rightsize.units import format_bytes, format_cpus

CHECKLIST = {"memory": "Memory limits set", "cpu": "CPU limits set", "pids": "PID limits configured"}


@dataclass(frozen=True)
class CheckRow:
    service: str
    resource: str  # memory | cpu | pids | restart | swap (memswap_limit)
    configured: str | None
    recommended: str | None
    ok: bool
    why: str
    kind: str = "limit"  # limit | reservation | policy (restart) | conflict (two spellings disagree) | swap


@dataclass(frozen=True)
class CheckResult:
    rows: tuple[CheckRow, ...]
    tolerance: float
    swap: int | None = None  # --swap, in bytes

    @property
    def failed(self) -> bool:
        return any(not r.ok for r in self.rows)

    def to_json(self) -> str:
        rows = [dataclasses.asdict(r) for r in self.rows]
        head = {"failed": self.failed, "tolerance": self.tolerance, "swap": self.swap}
        return json.dumps({**head, "rows": rows}, indent=2)

    def table(self) -> str:
        head = ("service", "resource", "configured", "recommended", "status", "why")
        body = [
            (
                r.service,
                f"{r.resource} {r.kind}" if r.kind in ("reservation", "conflict") else r.resource,
                r.configured or "-",
                r.recommended or "-",
                "ok" if r.ok else "FAIL",
                r.why,
            )
            for r in self.rows
        ]
        widths = [max(len(str(x[i])) for x in [head, *body]) for i in range(5)]
        lines = [
            "  ".join(str(c).ljust(w) for c, w in zip(row[:5], widths, strict=True)) + "  " + row[5]
            for row in [head, *body]
        ]
        failed = sum(not r.ok for r in self.rows)
        lines.append(
            f"{failed} problem(s); tolerance ±{self.tolerance:.0%}"
            if failed
            else f"all limits (and reservations set) within ±{self.tolerance:.0%}; checklist met"
        )
        return "\n".join(lines)


def parse_tolerance(text: str | float) -> float:
    """``"25%"`` or ``0.25`` -> 0.25."""
    raw = str(text).strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise RightsizeError(f"not a tolerance: {raw!r} (expected e.g. 25% or 0.25)") from None
    if not 0 <= value < 10:
        raise RightsizeError(f"tolerance out of range: {raw!r} (expected 0 to 10, e.g. 25% or 0.25)")
    return value


def _fmt(resource: str, value: float) -> str:
    if resource == "memory":
        return format_bytes(value)
    if resource == "cpu":
        return format_cpus(value)
    return str(int(value))


def check_compose(
    files: Path | str | Sequence[Path | str],
    recs: Recs,
    *,
    tolerance: float | str = 0.25,
    services: str | Sequence[str] | None = None,
    project: str | None = None,
    env_files: Sequence[Path | str] | None = None,
    swap: int | str | None = None,
    project_directory: Path | str | None = None,
    host_cpus: int | None = None,
) -> CheckResult:
    """Compare each service's limits with the recommendations and the plan's checklist; ``${VAR}``
    values are read as compose reads them (environment, then ``env_files``, default ``.env``).
    ``swap`` (bytes, ``--swap``): each memory limit needs memswap_limit = limit + swap; without it
    only a memswap_limit Docker refuses fails (see ``checkswap``). A CPU limit is judged against what
    ``apply`` writes on a host of ``host_cpus`` CPUs (default: the engine's, else this machine's; see
    hostcpus)."""
    tolerance, swap = parse_tolerance(tolerance), parse_swap(swap)  # "25%", "256M" as the CLI takes them
    docs = load_compose(paths_of(files), env_files, documents=True, project_directory=project_directory)
    explicit = project_name(docs, project)  # refused before the analysis, as compose refuses it
    names = select(docs, services)
    stack = Stack(docs, names)
    validate_units(stack, names)
    _validate_interpolated(stack, names)
    recs = resolve(recs)
    project = project_for(explicit, folder_project(docs), recs)
    rows: list[CheckRow] = []
    unmatched = 0
    cpus = hostcpus.LazyCpus(host_cpus)
    for svc in names:
        alias = container_alias(docs, svc)  # as apply matches it
        found, why_not = match_workloads(svc, recs, project=project, aliases=(alias,) if alias else ())
        unmatched += why_not == "service not in the data"
        by_res = {r.resource: r for r in found}
        capped = _as_applied(stack, svc, by_res, cpus)
        for res in ("memory", "cpu", "pids"):
            paths = [(LEGACY[(res, "limit")],), DEPLOY[(res, "limit")]]
            value, where, env = _effective(stack, svc, paths)
            how = capped if res == "cpu" else ""
            if res == "cpu" and value is None:  # the CFS spelling (cpu_quota/cpu_period), read through
                value, where, how = quota_limit(stack, svc)  # its ${VAR}s: a CPU amount (never capped)
            row = _row(_Judged(svc, res, value, where, by_res.get(res), tolerance, why_not), env)
            rows.append(dataclasses.replace(row, why=how + row.why) if how else row)
            if res != "pids":
                pair = (res, "reservation")
                value, where, env = _effective(stack, svc, [(LEGACY[pair],), DEPLOY[pair]] if pair in LEGACY
                                               else [DEPLOY[pair]])  # fmt: skip
                if value is not None:  # an unset reservation is allowed: nothing to judge
                    judged = _Judged(svc, res, value, where, by_res.get(res), tolerance, why_not)
                    rows.append(_reservation_row(judged, env))
        rows += _twin_rows(stack, svc)
        verdict = swap_verdict(stack, svc, swap)
        if verdict is not None:
            v = verdict
            rows.append(CheckRow(svc, "swap", v.configured, v.expected, v.ok, v.why, "swap"))
        restart, where, env = _effective(stack, svc, [("restart",), ("deploy", "restart_policy")])
        if interpolated(restart):
            restart = substitute(restart, env, where or svc) or None
        ok = restart is not None and str(restart) != "no"
        rows.append(
            CheckRow(
                svc,
                "restart",
                None if restart is None else _short(restart),
                None,
                ok,
                "" if ok else "no restart policy (plan checklist: Restart policy configured)",
                "policy",
            )
        )
    if recs and names and unmatched == len(names):  # a wrong --project would pass the gate silently
        known = sorted({r.workload for r in recs})
        some = one_line(", ".join(known[:5]) + (", ..." if len(known) > 5 else ""))
        warnings.warn(
            f"no service matched a workload in the data (it has {some}); check --project", stacklevel=2
        )
    return CheckResult(tuple(rows), tolerance, swap)


def _as_applied(docs: Stack, svc: str, by_res: dict[Any, Recommendation], cpus: hostcpus.LazyCpus) -> str:
    """Put in ``by_res`` the CPU recommendation as apply writes it on this host (capped at its CPU
    count, unless the service limits CPU with cpu_quota: see hostcpus), so that check passes what apply
    just wrote; the row's note when capped."""
    rec = by_res.get("cpu")
    if rec is None or plan_quota(docs, svc, home(docs, svc), 1.0) is not None:
        return ""
    fitted = hostcpus.fit_host(rec, svc, cpus, warn=False)
    if fitted is rec or rec.recommended is None or rec.recommended.limit is None:
        return ""
    by_res["cpu"] = fitted
    was = format_cpus(rec.recommended.limit)
    return f"recommended {was}, capped at this host's {cpus.value.count} CPUs as apply writes it: "


def _validate_interpolated(docs: Stack, names: Sequence[str]) -> None:
    """Read every interpolated value a row will judge before the (slower) analysis runs: an unset
    ``${VAR:?msg}``, a bad template or a unit compose cannot read fails fast, as ``docker compose`` does."""
    paths = [*((k,) for k in LEGACY.values()), *DEPLOY.values(), ("restart",), ("memswap_limit",)]
    for svc in names:
        quota_limit(docs, svc)  # (cpu_quota/cpu_period: an empty or non-integer ${VAR} is refused)
        for path in paths:
            value, where, env = _effective(docs, svc, [path])
            if not interpolated(value):
                continue
            if path == ("restart",):
                substitute(value, env, where or svc)  # (an unset ${VAR:?msg} fails here too)
                continue
            read = _read(value, env, where or svc)[0]  # (empty: compose refuses it, so does read)
            if not minus_one(read):  # (-1: unlimited swap or PIDs)
                resource = {"cpus": "cpu", "pids": "pids", "pids_limit": "pids"}.get(path[-1], "memory")
                parse_value(resource, read, "compose", f"{where} ({value})")


def _twin_rows(docs: Stack, svc: str) -> list[CheckRow]:
    """Docker Compose v2 refuses ``mem_limit`` (``cpus``, ...) beside a ``deploy.resources.limits``
    (``reservations``) block whose twin says otherwise or nothing (compose-go's checkConsistency)."""
    rows = []
    for (res, kind), key in LEGACY.items():
        value, where, env = _effective(docs, svc, [(key,)])
        block, _, _ = _effective(docs, svc, [DEPLOY[(res, kind)][:-1]])
        twin, twin_where, twin_env = _effective(docs, svc, [DEPLOY[(res, kind)]])
        if value is None or block is None:
            continue
        shown = value
        value = _read(value, env, where or svc)[0]
        twin = _read(twin, twin_env, twin_where or svc)[0] if twin is not None else None
        current = parse_value(res, value, "compose", where or svc)
        other = 0.0 if twin is None else parse_value(res, twin, "compose", where or svc)
        if current != 0 and not _equal_in_compose(res, current, other):
            twin_key = ".".join(DEPLOY[(res, kind)])
            why = f"{key} and {twin_key} ({twin or 'unset'}) disagree: Docker Compose v2 refuses the file"
            rows.append(CheckRow(svc, res, str(shown), None, False, why, "conflict"))
    return rows


def _equal_in_compose(res: str, a: float, b: float) -> bool:
    """Equal as Docker Compose v2's checkConsistency compares them: bytes and PIDs as int64 (1g and
    1073741823 differ), cpus as the float32 compose-go stores (``cpus`` and ``NanoCPUs``)."""
    if res != "cpu":
        return a == b
    try:
        return struct.pack("f", a) == struct.pack("f", b)
    except OverflowError:  # beyond float32: compose-go's ParseFloat(s, 32) refuses it anyway
        return a == b


def _short(value: Any) -> str:
    if isinstance(value, CommentedMap):
        return str(value.get("condition", "set"))
    return str(value)


def _outside(res: str, current: float, target: float, tol: float, what: str) -> str | None:
    """Why ``current`` is outside ``target x (1 +- tol)``, or None when it is inside."""
    lo, hi = target * (1 - tol), target * (1 + tol)
    if lo <= current <= hi:
        return None
    side = "below" if current < lo else "above"
    return f"{abs(current / target - 1):.0%} {side} the {what} (band {_fmt(res, lo)}..{_fmt(res, hi)})"


@dataclass(frozen=True)
class _Judged:
    """What a limit or reservation row judges: one service's configured value for one resource (and
    where it is), its recommendation (None: ``why_not`` says why) and the tolerance."""

    svc: str
    res: str
    value: Any
    where: str | None
    rec: Recommendation | None
    tol: float
    why_not: str


def _reservation_row(j: _Judged, env: Env) -> CheckRow:
    svc, res, rec = j.svc, j.res, j.rec
    shown = str(j.value)
    target = rec.recommended.reservation if rec is not None and rec.recommended is not None else None
    target = target or None  # a recommended 0 is compose's unset: no reservation (apply writes none)
    text = None if target is None else _fmt(res, target)
    value, read = _read(j.value, env, j.where or svc)

    def row(ok: bool, why: str) -> CheckRow:
        return CheckRow(svc, res, shown, text, ok, read + why, "reservation")

    current = parse_value(res, value, "compose", j.where or svc)
    if current == 0:  # Docker reads a zero reservation as none set
        return row(True, "0 = no reservation: nothing to judge")
    if rec is None or rec.recommended is None:
        return row(True, j.why_not or "no recommendation for this resource")
    limit = rec.recommended.limit or None  # (a recommended 0 is no limit, as compose reads it)
    if limit is not None and current > limit:
        return row(False, f"above the recommended limit {_fmt(res, limit)}: a reservation cannot exceed it")
    if target is None:
        bound = f"; below the recommended limit {_fmt(res, limit)}" if limit is not None else ""
        return row(True, f"no reservation recommended{bound}")
    off = _outside(res, current, target, j.tol, "recommended reservation")
    return row(off is None, off or "within the band")


def _row(j: _Judged, env: Env) -> CheckRow:
    """One limit's row, its value read through ``env``."""
    svc, res, rec = j.svc, j.res, j.rec
    checklist = f"(plan checklist: {CHECKLIST[res]})"
    if j.value is None:
        return CheckRow(svc, res, None, _rec_text(rec), False, f"no {res} limit {checklist}")
    shown = str(j.value)
    value, read = _read(j.value, env, j.where or svc)

    def row(ok: bool, why: str, recommended: str | None = _rec_text(rec)) -> CheckRow:
        return CheckRow(svc, res, shown, recommended, ok, read + why)

    current = parse_value(res, value, "compose", j.where or svc)
    if current <= 0:  # Docker reads 0 (and -1 for PIDs) as no limit at all
        return row(False, f"{value if read else shown} = unlimited: no {res} limit {checklist}")
    if rec is None:
        return row(True, j.why_not or "no recommendation for this resource", None)
    if rec.recommended is None:
        return row(True, "no recommendation: " + "; ".join(rec.reasons), None)
    target = rec.recommended.limit
    if not target:  # (a recommended 0 reads as no limit too)
        return row(True, "strategy recommends no limit; not checked", "no limit")
    off = _outside(res, current, target, j.tol, "recommendation")
    return row(off is None, off or "within the band")


def _rec_text(rec: Recommendation | None) -> str | None:
    if rec is None or rec.recommended is None or rec.recommended.limit is None:
        return None
    return _fmt(rec.resource, rec.recommended.limit)
