"""What a compose file says the services run with now (``recommend --compose FILE``).

Read-only and lenient about the rest of the file: only the resource keys are read, from both the
Compose Specification (``deploy.resources``) and the legacy v2 keys (``mem_limit``, ``cpus``, ...).
A value written as an environment interpolation (``${MEM:-1g}``) is not guessed: it is left unset.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ruamel.yaml.error import YAMLError

from rightsize.errors import RightsizeError
from rightsize.models import Values
from rightsize.targets.yaml import plain_yaml
from rightsize.units import parse_bytes, parse_cpus

Current = dict[str, Values]


def _get(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def _num(value: Any, kind: str, where: str) -> float | None:
    if value is None or (isinstance(value, str) and "$" in value):
        return None
    try:
        if kind == "memory":
            return float(parse_bytes(value))
        if kind == "cpu":
            return parse_cpus(value)
        return float(int(value))
    except (RightsizeError, ValueError, TypeError):
        raise RightsizeError(f"{where}: cannot read {value!r} as a {kind} value") from None


def compose_current(path: str | os.PathLike[str]) -> dict[str, Current]:
    """Service name -> {"memory"/"cpu"/"pids": Values(reservation, limit)} from a compose file."""
    p = Path(path)
    if not p.is_file():
        raise RightsizeError(f"compose file not found: {p}")
    try:
        doc = plain_yaml().load(p.read_text(encoding="utf-8"))
    except (YAMLError, UnicodeDecodeError) as exc:
        raise RightsizeError(f"{p}: not valid YAML ({str(exc).splitlines()[0]})") from None
    services = _get(doc, "services")
    if not isinstance(services, dict):
        raise RightsizeError(f"{p}: not a compose file (no services mapping)")
    out: dict[str, Current] = {}
    for name, svc in services.items():
        if not isinstance(svc, dict):
            continue
        lim = _get(svc, "deploy", "resources", "limits") or {}
        res = _get(svc, "deploy", "resources", "reservations") or {}
        w = f"{p}: services.{name}"
        out[str(name)] = {
            "memory": Values(
                _num(res.get("memory", svc.get("mem_reservation")), "memory", w),
                _num(lim.get("memory", svc.get("mem_limit")), "memory", w),
            ),
            "cpu": Values(_num(res.get("cpus"), "cpu", w), _num(lim.get("cpus", svc.get("cpus")), "cpu", w)),
            "pids": Values(None, _num(lim.get("pids", svc.get("pids_limit")), "pids", w)),
        }
    return out


def service_of(workload: str) -> str:
    """Compose workloads are ``project/service``; anything else is matched by its full name."""
    parts = workload.split("/")
    return parts[1] if len(parts) == 2 else workload
