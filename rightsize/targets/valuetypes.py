"""The Compose Specification's types for the resource values rightsize reads, checked as compose-go
checks them: each ``-f`` and included file's services as written, and a file reached only through
``extends.file`` once its service is merged under the one extending it."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

from ruamel.yaml.comments import CommentedMap, TaggedScalar

from rightsize.errors import RightsizeError
from rightsize.targets.mergetags import replaces, tag
from rightsize.targets.values import beyond_float32, lookup
from rightsize.targets.yaml import Doc
from rightsize.targets.yamlnum import BYTES_KEYS, yaml_v3

# The Compose Specification's types for the resource values rightsize reads: compose-go validates
# the file against its schema before it reads a value ("services.db.deploy.resources.limits.memory
# must be a string"). A YAML boolean is none of them.
_STRING, _INTEGER, _NUMBER = (
    ((str,), "a string"),
    ((str, int), "a string or an integer"),
    ((str, int, float), "a number or a string"),
)
_TYPES: dict[tuple[str, ...], tuple[tuple[type, ...], str]] = {
    ("deploy", "resources", "limits", "memory"): _STRING,
    ("deploy", "resources", "reservations", "memory"): _STRING,
    ("deploy", "resources", "limits", "pids"): _INTEGER,
    ("mem_reservation",): _INTEGER,
    **{
        (k,): _NUMBER for k in ("mem_limit", "memswap_limit", "cpus", "pids_limit", "cpu_quota", "cpu_period")
    },
    ("deploy", "resources", "limits", "cpus"): _NUMBER,
    ("deploy", "resources", "reservations", "cpus"): _NUMBER,
}


def check_types(doc: Doc, svc: str, node: CommentedMap | None, nearer: Sequence[Any] = ()) -> None:
    """Refuse a value of service ``svc`` (``node`` in ``doc``) the schema refuses, in one line naming its
    file; warn of a float compose ignores. ``nearer``: the services merged over ``node`` (it is what an
    ``extends`` brings): a path one of them sets or replaces (``!override``, ``!reset``) is not
    checked, as compose validates the service once extended (Docker Compose 2.40.3)."""
    for path, (types, kinds) in _TYPES.items():
        if any(_shadows(n, path) for n in nearer):
            continue
        value: Any = node
        tags = []
        for key in path:
            tags.append(tag(value))
            value = value.get(key) if isinstance(value, CommentedMap) else None
        # what a !reset drops (unless an !override above keeps it: effective.dropped_here) compose
        # drops before it validates the file
        reset = tags.index("!reset") if "!reset" in tags else None
        dropped = reset is not None and "!override" not in tags[:reset]
        if value is None or isinstance(value, TaggedScalar) or dropped:
            continue
        number = yaml_v3(value)
        _check_range(f"{doc.source}: services.{svc}.{'.'.join(path)}", path, number)
        # a float where compose wants bytes: ignored (see effective), once the schema took it (an
        # integer there is any whole number: mem_reservation: 5.5e8 loads, 1.5 is refused)
        if path[0] in BYTES_KEYS and isinstance(number, float) and (float in types or number.is_integer()):
            warnings.warn(
                f"{doc.source}: services.{svc}.{path[0]}: a YAML float ({value}): Docker Compose v2 ignores "
                "it (no limit at all); write a whole number of bytes or a size such as 1g",
                stacklevel=4,
            )
            continue
        if isinstance(value, types) and not isinstance(value, bool):
            continue
        if int in types and isinstance(number, float) and number.is_integer():  # JSON Schema's integer
            continue  # (deploy.resources.limits.pids: 5.0 is 5 to Docker Compose 2.40.3)
        quote = f' (quote it: "{value}")' if not isinstance(value, bool) else ""
        raise RightsizeError(
            f"{doc.source}: services.{svc}.{'.'.join(path)}: {value!r} is not {kinds}"
            f"{quote}: Docker Compose v2 refuses it (the Compose Specification's type)"
        )


def _check_range(where: str, path: tuple[str, ...], number: Any) -> None:
    """Refuse a YAML number compose-go cannot hold, in one line (Docker Compose 2.40.3 misreads each:
    ``mem_limit: 9223372036854775808`` is no limit, ``pids_limit`` so is -9223372036854775808, ``cpus:
    1e39`` is +Inf, which ``config`` cannot print, and ``1e400`` is "value out of range")."""
    if isinstance(number, bool) or not isinstance(number, int | float):
        return
    if isinstance(number, int) and not -(2**63) <= number < 2**63:
        why = "beyond the int64 range Docker Compose v2 reads"
    elif isinstance(number, float) and not math.isfinite(number):  # (1e400 loads as a ScalarFloat inf)
        if type(number) is not float:
            raise RightsizeError(f"{where}: a number too large for a float: Docker Compose v2 cannot use it")
        why = f"{'not a number' if math.isnan(number) else 'infinite'}: Docker Compose v2 cannot use it"
    elif path[-1] == "cpus" and beyond_float32(float(number)):
        why = "beyond the float32 range Docker Compose v2 reads CPUs in (it reads as infinity)"
    else:
        return
    raise RightsizeError(f"{where}: {number} is {why}")


def _shadows(node: Any, path: tuple[str, ...]) -> bool:
    """Whether a service merged over another sets ``path`` or replaces it (merge tags)."""
    found, value = lookup(node, path)
    return (found and value is not None) or replaces(node, path)
