"""Where a compose service keeps a resource value across ``-f`` files, ``extends`` and merge tags,
and which spelling (service-level ``mem_limit``... or ``deploy.resources``) a new value takes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ruamel.yaml.comments import CommentedMap

from rightsize.targets.composefile import Stack, service_node
from rightsize.targets.include import doc_env
from rightsize.targets.mergetags import visible
from rightsize.targets.values import depth, lookup

DEPLOY: dict[tuple[str, str], tuple[str, ...]] = {
    ("memory", "limit"): ("deploy", "resources", "limits", "memory"),
    ("memory", "reservation"): ("deploy", "resources", "reservations", "memory"),
    ("cpu", "limit"): ("deploy", "resources", "limits", "cpus"),
    ("cpu", "reservation"): ("deploy", "resources", "reservations", "cpus"),
    ("pids", "limit"): ("deploy", "resources", "limits", "pids"),
}
LEGACY: dict[tuple[str, str], str] = {
    ("memory", "limit"): "mem_limit",
    ("memory", "reservation"): "mem_reservation",
    ("cpu", "limit"): "cpus",
    ("pids", "limit"): "pids_limit",
}
LEGACY_KEYS = ("mem_limit", "mem_reservation", "cpus", "pids_limit", "memswap_limit")


def home(docs: Stack, svc: str) -> int:
    """The file where the service keeps its resources (else the last file defining it)."""
    last = 0
    for i, doc in enumerate(docs):
        node = service_node(doc, svc)
        if not isinstance(node, CommentedMap):
            continue
        last = i
    for i in range(len(docs) - 1, -1, -1):
        node = service_node(docs[i], svc)
        if isinstance(node, CommentedMap) and (
            any(k in node for k in LEGACY_KEYS) or lookup(node, ("deploy", "resources"))[0]
        ):
            return i
    return last


def where(docs: Stack, svc: str, path: tuple[str, ...], home: int) -> tuple[int, bool, Any]:
    """(file index, exists, current value): the last file setting path, else where it fits best."""
    lo, _ = visible(docs, svc, path)  # files before lo set nothing compose reads (!reset, !override)
    for i in range(len(docs) - 1, lo - 1, -1):
        found, value = lookup(service_node(docs[i], svc), path)
        if found:
            return i, True, value
    chain = docs.extends.get(svc, ()) if lo == 0 else ()
    inherited = next((v for found, v in (lookup(n, path) for n in chain) if found), None)
    depths = [depth(service_node(d, svc), path) if i >= lo else -2 for i, d in enumerate(docs)]
    best = max(depths)
    at = home if depths[home] == best else max(i for i, d in enumerate(depths) if d == best)
    return at, False, inherited


def env_at(docs: Stack, svc: str, path: tuple[str, ...], i: int) -> Mapping[str, str]:
    """The environment compose interpolates the value ``where`` gives for path (in file ``i``) from:
    that file's, or for a value inherited through ``extends`` that of the file it comes from (an
    included file has its include's environment)."""
    if lookup(service_node(docs[i], svc), path)[0]:
        return doc_env(docs[i])
    chain = zip(docs.extends.get(svc, ()), docs.extends_env.get(svc, ()), strict=True)
    return next((env for node, env in chain if lookup(node, path)[0]), doc_env(docs[i]))


def exists(docs: Stack, svc: str, path: tuple[str, ...]) -> bool:
    """Whether the service has path, in a file or through ``extends`` (as compose reads it)."""
    lo, _ = visible(docs, svc, path)
    nodes = [*(service_node(d, svc) for d in docs[lo:]), *(docs.extends.get(svc, ()) if lo == 0 else ())]
    return any(lookup(n, path)[0] for n in nodes)


def spelling(docs: Stack, svc: str, pair: tuple[str, str], legacy_style: bool) -> str:
    """Where a value neither spelling holds yet goes: ``deploy``, ``legacy``, or ``none`` (legacy is
    needed and compose has no such key). Docker Compose v2 refuses a service-level key beside a
    ``deploy.resources.limits`` (``reservations``) block that lacks its twin, so a value joins an
    existing block of its kind, else the service-level keys of its kind, else the service's style."""
    kind = "limits" if pair[1] == "limit" else "reservations"
    if exists(docs, svc, ("deploy", "resources", kind)):
        return "deploy"
    if legacy_style or any(exists(docs, svc, (k,)) for (_, knd), k in LEGACY.items() if knd == pair[1]):
        return "legacy" if pair in LEGACY else "none"
    return "deploy"
