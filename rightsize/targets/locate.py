"""Where a compose service keeps a resource value across ``-f`` files, ``extends`` and merge tags,
and which spelling (service-level ``mem_limit``... or ``deploy.resources``) a new value takes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ruamel.yaml.comments import CommentedMap

from rightsize.targets.composefile import Layer, Stack, service_node, visible
from rightsize.targets.include import doc_env
from rightsize.targets.mergetags import hidden
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
    hide, _ = hidden(docs, svc, path)  # files that set nothing compose reads (!reset, !override)
    floor, inherited = 0, None
    for i, own, node, _ in _layers(docs, svc, path, hide):
        found, value = lookup(node, path)
        if found and own:
            return i, True, value
        if found:  # what file i's extends brings: an override must go to file i or a later one
            floor, inherited = i, value
            break
    depths = [
        depth(service_node(d, svc), path) if i >= floor and i not in hide else -2 for i, d in enumerate(docs)
    ]
    best = max(depths)
    at = home if depths[home] == best else max(i for i, d in enumerate(depths) if d == best)
    return at, False, inherited


def env_at(docs: Stack, svc: str, path: tuple[str, ...], i: int) -> Mapping[str, str]:
    """The environment compose interpolates the value ``where`` gives for path (in file ``i``) from:
    that file's, or for a value inherited through ``extends`` that of the file it comes from (an
    included file has its include's environment)."""
    if lookup(service_node(docs[i], svc), path)[0]:
        return doc_env(docs[i])
    layers = _layers(docs, svc, path, hidden(docs, svc, path)[0])
    return next((env for _, _, node, env in layers if lookup(node, path)[0]), doc_env(docs[i]))


def named(docs: Stack, svc: str, path: tuple[str, ...], i: int) -> str:
    """Where the value ``where`` gives for path (in file ``i``) is written, "FILE: services.NAME.KEY":
    for a value inherited through ``extends``, the file and service it comes from."""
    key = ".".join(path)
    if lookup(service_node(docs[i], svc), path)[0]:
        return f"{docs[i].source}: services.{svc}.{key}"
    layers = _layers(docs, svc, path, hidden(docs, svc, path)[0])
    node = next((node for _, _, node, _ in layers if lookup(node, path)[0]), None)
    return f"{docs.origin(node, svc) if node is not None else f'{docs[i].source}: services.{svc}'}.{key}"


def exists(docs: Stack, svc: str, path: tuple[str, ...]) -> bool:
    """Whether the service has path, in a file or through ``extends`` (as compose reads it)."""
    hide, _ = hidden(docs, svc, path)
    return any(lookup(node, path)[0] for _, _, node, _ in _layers(docs, svc, path, hide))


def _layers(docs: Stack, svc: str, path: tuple[str, ...], hide: frozenset[int]) -> list[Layer]:
    """``docs.layers`` without what an ``extends`` brings where a tag replaces it (see visible)."""
    return visible(docs.layers(svc, hide), path)


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
