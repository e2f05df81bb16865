"""What compose files say the services run with now (``recommend --compose FILE``, ``report``).

Read as ``check`` reads them (``rightsize.targets.effective``): ``-f`` files in order, what they
``include``, ``extends``, merge tags, both the Compose Specification (``deploy.resources``) and the
legacy keys (``mem_limit``, ``cpus``, ``cpu_quota``...), and ``${VAR}`` interpolated from the
environment, then ``--env-file`` files (default ``.env`` beside the first file). A value that reads
empty (an unset ``${VAR}``) and an unset ``${VAR:?msg}`` are bad input, as ``docker compose`` says.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rightsize.errors import RightsizeError
from rightsize.models import Values

if TYPE_CHECKING:
    from rightsize.targets.composefile import Stack

Current = dict[str, Values]
PathArg = str | os.PathLike[str]


def compose_current(
    path: PathArg | Sequence[PathArg],
    env_files: Sequence[PathArg] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Current]:
    """Service name -> {"memory"/"cpu"/"pids": Values(reservation, limit)} from one compose file or
    several (``-f a -f b``: a later file's value wins)."""
    # the compose reader (ruamel.yaml) loads only when a compose file is given
    from rightsize.targets.composefile import Stack, load_compose, service_names

    files = [Path(path)] if isinstance(path, str | os.PathLike) else [Path(p) for p in path]
    for p in files:
        if p.is_dir():  # (it said "not found", apply and check "is a directory")
            raise RightsizeError(f"{p}: is a directory, not a compose file")
        if not p.is_file() and str(p) != "-":  # (-f -, stdin: load_compose says it is not supported)
            raise RightsizeError(f"compose file not found: {p}")
    docs = load_compose(files, [Path(f) for f in env_files] if env_files else None, environ)
    names = service_names(docs)
    stack = Stack(docs, names)
    out: dict[str, Current] = {}
    for svc in names:
        res = {r: _value(stack, svc, r, "reservation") for r in ("memory", "cpu")}
        out[svc] = {r: Values(res.get(r), _value(stack, svc, r, "limit")) for r in ("memory", "cpu", "pids")}
    return out


def _value(stack: Stack, svc: str, resource: str, kind: str) -> float | None:
    from rightsize.targets.cpuquota import quota_limit
    from rightsize.targets.effective import effective, read
    from rightsize.targets.interpolate import interpolated
    from rightsize.targets.locate import DEPLOY, LEGACY
    from rightsize.targets.values import parse_value

    pair = (resource, kind)
    paths = [(LEGACY[pair],), DEPLOY[pair]] if pair in LEGACY else [DEPLOY[pair]]
    raw, where, env = effective(stack, svc, paths)
    if raw is None and pair == ("cpu", "limit"):  # the CFS spelling (cpu_quota/cpu_period)
        raw, where = quota_limit(stack, svc)
        if interpolated(raw):
            return None  # as check: an interpolated quota's default is no CPU amount
    if raw is None:
        return None
    value, _ = read(raw, env, where or svc)  # (empty: an error there, as compose refuses it)
    shown = f"{where} ({raw})" if interpolated(raw) else str(where or svc)
    parsed = parse_value(resource, value, "compose", shown)
    return parsed if parsed > 0 else None  # 0 (-1 for PIDs) is Docker's "unlimited": none, as check reads it


def service_of(workload: str) -> str:
    """Compose workloads are ``project/service``; anything else is matched by its full name."""
    parts = workload.split("/")
    return parts[1] if len(parts) == 2 else workload
