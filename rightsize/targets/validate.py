"""Every resource value a compose project holds must read as Docker Compose v2 reads it, before
anything is computed or written (``apply -f`` and ``check``): one line naming the file, service and
key of the first that does not."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rightsize.targets.composefile import Stack, service_node
from rightsize.targets.cpuquota import quota_limit
from rightsize.targets.effective import effective as effective_value
from rightsize.targets.effective import read as read_value
from rightsize.targets.include import doc_env, reading_order
from rightsize.targets.locate import DEPLOY, LEGACY_KEYS
from rightsize.targets.mergetags import tag
from rightsize.targets.values import interpolated, lookup, minus_one, parse_value


def validate_units(docs: Stack, names: Sequence[str]) -> None:
    """Every resource value already in the files must parse (before anything is computed or written),
    and so must one a service gets through ``extends`` (compose reads the service once extended)."""
    keys = [*((k,) for k in LEGACY_KEYS), *DEPLOY.values()]
    for doc in reading_order(docs):  # (the first bad value named in the order the files are written)
        for svc in names:
            for path in keys:
                found, value = lookup(service_node(doc, svc), path)
                if found and value is not None and tag(value) != "!reset":  # (!reset: compose drops it)
                    _readable(path, value, doc_env(doc), f"{doc.source}: services.{svc}.{'.'.join(path)}")
    for svc in names:
        quota_limit(docs, svc)  # (cpu_quota/cpu_period: as compose casts them)
        for path in keys:
            value, where, env = effective_value(docs, svc, [path])
            if value is not None and where is not None:  # (a value written where it comes from, above)
                _readable(path, value, env, where)


def _readable(path: tuple[str, ...], value: Any, env: Mapping[str, str], where: str) -> None:
    text = read_value(value, env, where)[0]  # interpolated as compose does; "" refused
    if not (minus_one(text) and path[-1] in ("memswap_limit", "pids_limit", "pids")):  # -1: unlimited
        resource = {"cpus": "cpu", "pids": "pids", "pids_limit": "pids"}.get(path[-1], "memory")
        shown = f"{where} ({value})" if interpolated(value) else where
        parse_value(resource, text, "compose", shown)
