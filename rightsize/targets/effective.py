"""The value compose uses for a service key across ``-f`` files, ``include``, ``extends`` and merge tags,
read through ``${VAR}`` interpolation: shared by ``check``, its swap rows and ``recommend --compose``.

Read-only and light (no writer imports): ``recommend`` loads it only when given a compose file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rightsize.errors import RightsizeError
from rightsize.targets.composefile import Stack, visible
from rightsize.targets.interpolate import interpolated, substitute, unset_names
from rightsize.targets.mergetags import hidden, tag, untagged
from rightsize.targets.values import lookup, parse_value
from rightsize.targets.yamlnum import BYTES_KEYS, yaml_v3

Env = Mapping[str, str]
_BYTES = {(k,) for k in BYTES_KEYS}


def effective(docs: Stack, svc: str, paths: Sequence[tuple[str, ...]]) -> tuple[Any, str | None, Env]:
    """The value compose would use (last file wins, then what ``extends`` brings), where it is, and
    the environment compose interpolates it from (each included file has its own). Of several
    ``paths`` (``mem_limit`` and ``deploy.resources.limits.memory``) the first found wins, but a zero
    is compose-go's unset: the other spelling's value applies (``mem_limit: 0`` beside a deploy
    limit of 768M is 768M; Docker Compose 2.40.3), and a zero is returned only when nothing else is
    set. A plain YAML number is the one compose's YAML reader reads (``yaml_v3``); a float where
    compose wants bytes is ignored by compose (``load_compose`` warns of it): a zero too."""
    hide = {path: hidden(docs, svc, path)[0] for path in paths}  # !reset / !override hide earlier files
    layers = docs.layers(svc)  # each with its file's environment (an include has its own)
    shown = {path: {id(layer) for layer in visible(layers, path)} for path in paths}  # (tags on a chain)
    zero: tuple[Any, str | None, Env] | None = None
    settled: set[tuple[str, ...]] = set()  # paths whose winning value is known (a zero)
    for layer in layers:
        i, own, node, env = layer
        source = f"{docs[i].source}: services.{svc}" if own else docs.origin(node, svc)
        for path in paths:
            if id(layer) not in shown[path] or path in settled:
                continue
            found, value = lookup(node, path)
            if found and value is not None and i not in hide[path] and not dropped_here(node, path):
                where = f"{source}.{'.'.join(path)}"
                value = yaml_v3(untagged(value))
                if path in _BYTES and isinstance(value, float):  # ignored by compose: unset
                    settled.add(path)
                    continue
                if len(paths) > 1 and _zero(path, value, env, where):
                    zero = zero or (value, where, env)
                    settled.add(path)
                    continue
                return value, where, env
    return zero or (None, None, {})


def dropped_here(node: Any, path: tuple[str, ...]) -> bool:
    """Whether a ``!reset`` on the value drops it (its own content too), which it does unless an
    ``!override`` above it in the service (the service itself too) keeps the block as written
    (Docker Compose 2.40.3: ``deploy: !override {resources: {reservations: {memory: !reset 64m}}}``
    is 64m)."""
    if tag(lookup(node, path)[1]) != "!reset":
        return False
    chain = [node, *(lookup(node, path[:n])[1] for n in range(1, len(path)))]
    return not any(tag(x) == "!override" for x in chain)


_RESOURCE = {"cpus": "cpu", "pids": "pids", "pids_limit": "pids"}


def _zero(path: tuple[str, ...], value: Any, env: Env, where: str) -> bool:
    """Whether a resource value reads as 0 (a value that does not read is not: its caller says why)."""
    if path[-1] not in ("memory", "cpus", "pids", *BYTES_KEYS, "pids_limit"):
        return False
    try:
        text = read(value, env, where)[0]
        return parse_value(_RESOURCE.get(path[-1], "memory"), text, "compose", where) == 0
    except RightsizeError:
        return False


def read(value: Any, env: Env, where: str) -> tuple[Any, str]:
    """(the value compose reads, how an interpolated one was read: "" when it is not). A value that
    reads empty (``''``, an unset ``${VAR}``) is bad input: compose-go's casts refuse "" (a limit is
    0 to mean none), e.g. "failed to cast to expected type: strconv.ParseFloat: parsing \"\""."""
    value = yaml_v3(untagged(value))  # (as effective gives it: a caller may pass a file's own node)
    text = substitute(value, env, where) if interpolated(value) else value  # not stripped (see units)
    if text == "":  # compose-go casts "" as it casts any value (ParseFloat, ParseInt, RAMInBytes): an error
        unset = unset_names(value, env) if interpolated(value) else []
        why = f" ({', '.join(unset)} not set: in the environment, .env or --env-file)" if unset else ""
        raise RightsizeError(
            f"{where}: {value or repr('')} reads empty{why}: Docker Compose v2 refuses an empty value "
            "here (set it, or 0 for no limit)"
        )
    return text, (f"reads {text}: " if interpolated(value) else "")
