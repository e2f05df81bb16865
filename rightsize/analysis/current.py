"""What compose files say the services run with now (``recommend --compose FILE``, ``report``).

Read as ``check`` reads them (``rightsize.targets.effective``): ``-f`` files in order, what they
``include``, ``extends``, merge tags, both the Compose Specification (``deploy.resources``) and the
legacy keys (``mem_limit``, ``cpus``, ``cpu_quota``...), and ``${VAR}`` interpolated from the
environment, then ``--env-file`` files (default ``.env`` beside the first file). A value that reads
empty (an unset ``${VAR}``) and an unset ``${VAR:?msg}`` are bad input, as ``docker compose`` says.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rightsize.errors import RightsizeError
from rightsize.models import Recommendation, Values

if TYPE_CHECKING:
    from rightsize.targets.composefile import Stack

Current = dict[str, Values]
PathArg = str | os.PathLike[str]


def compose_current(
    path: PathArg | Sequence[PathArg],
    env_files: Sequence[PathArg] | None = None,
    environ: Mapping[str, str] | None = None,
    project_directory: PathArg | None = None,
) -> dict[str, Current]:
    """Service name -> {"memory"/"cpu"/"pids": Values(reservation, limit)} from one compose file or
    several (``-f a -f b``: a later file's value wins)."""
    return read_compose(path, env_files, environ, project_directory).services


@dataclass(frozen=True)
class ComposeCurrent:
    """What the files set per service, and what matches a service to workloads as apply matches it:
    the project (``name:`` or ``COMPOSE_PROJECT_NAME``), else the folder's (``targets.project``),
    and each service's ``container_name``."""

    services: dict[str, Current]
    project: str | None
    aliases: dict[str, str]
    folder: str | None = None  # compose's default project name: used if the data has workloads of it


def read_compose(
    path: PathArg | Sequence[PathArg],
    env_files: Sequence[PathArg] | None = None,
    environ: Mapping[str, str] | None = None,
    project_directory: PathArg | None = None,
) -> ComposeCurrent:
    # the compose reader (ruamel.yaml) loads only when a compose file is given
    from rightsize.targets.composefile import (
        Stack,
        container_alias,
        load_compose,
        service_names,
    )
    from rightsize.targets.project import folder_project, project_name

    files = [Path(path)] if isinstance(path, str | os.PathLike) else [Path(p) for p in path]
    for p in files:
        if p.is_dir():  # (it said "not found", apply and check "is a directory")
            raise RightsizeError(f"{p}: is a directory, not a compose file")
        if not p.is_file() and str(p) != "-":  # (-f -, stdin: load_compose says it is not supported)
            raise RightsizeError(f"compose file not found: {p}")
    docs = load_compose(files, [Path(f) for f in env_files] if env_files else None, environ, documents=True,
                        project_directory=project_directory)  # fmt: skip
    names = service_names(docs)
    stack = Stack(docs, names)
    out: dict[str, Current] = {}
    aliases: dict[str, str] = {}
    for svc in names:
        res = {r: _value(stack, svc, r, "reservation") for r in ("memory", "cpu")}
        out[svc] = {r: Values(res.get(r), _value(stack, svc, r, "limit")) for r in ("memory", "cpu", "pids")}
        alias = container_alias(docs, svc)
        if alias:
            aliases[svc] = alias
    return ComposeCurrent(out, project_name(docs), aliases, folder_project(docs))


def with_current(recs: Sequence[Recommendation], compose: ComposeCurrent) -> list[Recommendation]:
    """``recs`` with the current values of the service each belongs to, matched as ``apply`` and
    ``check`` match them (``project/service``): a ``web`` of another project on the same host keeps
    what its containers ran with."""
    from rightsize.targets.match import candidates
    from rightsize.targets.project import project_for

    out = list(recs)
    project = project_for(compose.project, compose.folder, out)
    for svc, current in compose.services.items():
        alias = compose.aliases.get(svc)
        hit = candidates(svc, out, project=project, aliases=(alias,) if alias else ())
        if len(hit) > 1:
            warnings.warn(
                f"compose service {svc} matches {', '.join(hit)}: their current values are what the "
                "containers ran with (give the file a name: or set COMPOSE_PROJECT_NAME)",
                stacklevel=2,
            )
        elif hit:
            mine = hit[0]
            out = [dataclasses.replace(r, current=current[r.resource]) if r.workload == mine else r
                   for r in out]  # fmt: skip
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
    if raw is None and pair == ("cpu", "limit"):  # the CFS spelling (cpu_quota/cpu_period), read through
        raw, where, _ = quota_limit(stack, svc)  # its ${VAR}s: a CPU amount
        env = {}
    if raw is None:
        return None
    value, _ = read(raw, env, where or svc)  # (empty: an error there, as compose refuses it)
    shown = f"{where} ({raw})" if interpolated(raw) else str(where or svc)
    parsed = parse_value(resource, value, "compose", shown)
    return parsed if parsed > 0 else None  # 0 (-1 for PIDs) is Docker's "unlimited": none, as check reads it
