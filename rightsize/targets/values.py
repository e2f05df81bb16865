"""What a recommendation becomes in a file: formatted values, and comparing them with what is there."""

from __future__ import annotations

import dataclasses
import math
import re
import struct
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.comments import CommentedMap, TaggedScalar
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from rightsize.errors import RightsizeError
from rightsize.models import Recommendation
from rightsize.targets.edit import NewScalar
from rightsize.units import (
    Dialect,
    format_bytes,
    format_cpus,
    go_parse_int,
    parse_bytes,
    parse_compose_bytes,
    parse_compose_count,
    parse_compose_cpus,
    parse_cpus,
)

Kind = str  # "limit" | "reservation"


@dataclass(frozen=True)
class Wanted:
    """One value to write: which resource and kind, in base units."""

    workload: str
    resource: str
    kind: Kind
    value: float
    rec: Recommendation


def wanted(rec: Recommendation) -> list[Wanted]:
    """The limit and reservation a recommendation asks for (PIDs have only a limit)."""
    out = []
    assert rec.recommended is not None
    for kind in ("limit", "reservation"):
        v = getattr(rec.recommended, kind)
        if v is None or (rec.resource == "pids" and kind == "reservation"):
            continue
        out.append(Wanted(rec.workload, rec.resource, kind, float(v), rec))
    return out


def unreserved(rec: Recommendation) -> Recommendation:
    """A recommended reservation of 0 as what it means in compose and the engine, none: compose-go
    reads a 0 as unset, so the limit is written and a reservation in the file is left as it is (the
    whole resource was skipped: a "0K" reservation is below the engine's 6M minimum)."""
    if rec.recommended is None or rec.recommended.reservation != 0:
        return rec
    return dataclasses.replace(rec, recommended=dataclasses.replace(rec.recommended, reservation=None))


# Below these the engine refuses a container (moby daemon_unix.go: "Minimum memory limit allowed is
# 6MB", likewise the reservation) or the kernel its CFS quota (cpus 0.005: "cpu.cfs_quota_us: invalid
# argument"); a CPU limit that rounds to "0" would read as no limit at all.
ENGINE_MIN = {"memory": 6 * 1024**2, "cpu": 0.01}
MIN_QUOTA_US = 1000  # "CPU cfs quota can not be less than 1ms (i.e. 1000)"
_FLOOR_SETTING = {"memory": ("mem_floor", "6M"), "cpu": ("cpu_floor", "0.01")}


def engine_refuses(rec: Recommendation, exact: bool = False, cfs: bool = False) -> str | None:
    """Why Docker would refuse the recommendation's memory limit or reservation, or CPU limit, as
    written (``exact``: as sent to the engine, unrounded); None when it takes them. ``cfs``: the CPU
    limit goes in as a quota at the container's own CFS period, where the floor is a 1 ms quota at
    that period (0.005 CPUs at cpu_period 1000000 is 5000 µs: taken), which the caller checks knowing
    the period: only 0 is refused here."""
    for w in wanted(rec):
        if w.resource not in ENGINE_MIN or (w.resource, w.kind) == ("cpu", "reservation"):
            continue  # (compose v2 gives a CPU reservation no engine field)
        raw = format_value(w.resource, w.value, "compose").raw
        value = w.value if exact else parse_value(w.resource, raw, "compose", "internal")
        if cfs and w.resource == "cpu" and value > 0:
            continue
        if value < ENGINE_MIN[w.resource]:
            setting, least = _FLOOR_SETTING[w.resource]
            noun = "CPU" if w.resource == "cpu" else w.resource
            zero = ", and 0 reads as none at all" if value == 0 else ""
            return (
                f"the {noun} {w.kind} {raw} is below the {least} Docker accepts{zero} "
                f"(--set {setting}={least} raises it)"
            )
    return None


_NOUN = {"memory": "memory size", "cpu": "CPU amount", "pids": "PID count"}


def parse_value(resource: str, value: Any, dialect: Dialect, where: str) -> float:
    """A value found in a file, in base units; a unit that cannot be parsed is bad input."""
    if isinstance(value, TaggedScalar) and str(value.tag) == "tag:yaml.org,2002:str":
        value = str(value.value)  # `!!str 100`: a string, as every YAML reader takes it
    try:
        if isinstance(value, float) and math.isinf(value):  # `1e400` (a ScalarFloat) or `.inf`
            big = "a number too large for a float" if type(value) is not float else "infinite"
            raise RightsizeError(f"not a {_NOUN.get(resource, 'value')}: {value} ({big})")
        if dialect == "compose":  # as Docker Compose v2 reads the file (see units.parse_compose_*)
            if resource == "memory":
                n = _int64(parse_compose_bytes(value), value, "it ignores it: no limit")
                if isinstance(value, str) and float(n) >= 2**63:  # go-units: int64(a float64) wraps
                    raise RightsizeError(f"{value!r} reads as 2^63 bytes or more (Docker Compose v2 reads a "
                                         "size through a float64): it wraps to -9223372036854775808, which "
                                         "Docker refuses")  # fmt: skip
                return float(n)
            if resource == "pids":
                return float(_int64(parse_compose_count(value), value, "a negative to it: unlimited"))
            return _float32(parse_compose_cpus(value), value)
        if resource == "memory":
            return float(parse_bytes(value, dialect))
        if resource == "cpu":
            return parse_cpus(value)
        if isinstance(value, bool):
            raise RightsizeError(f"not a PID count: {value!r}")
        try:
            return float(int(str(value).strip()))
        except ValueError:
            raise RightsizeError(f"not a PID count: {value!r}") from None
    except RightsizeError as exc:
        raise RightsizeError(f"{where}: {exc}") from None
    except (TypeError, ValueError):  # a tag no reader here knows (`!foo 5`): not a number
        raise RightsizeError(f"{where}: not a {_NOUN.get(resource, 'value')}: {str(value)!r}") from None


def _int64(n: int, value: Any, as_v2: str) -> int:
    """A YAML integer compose-go cannot hold (int64): Docker Compose 2.40.3 reads ``mem_limit:
    9223372036854775808`` as no limit and ``pids_limit`` so as -9223372036854775808 (unlimited);
    refused here, in one line, rather than read as a limit it is not."""
    if -(2**63) <= n < 2**63:
        return n
    raise RightsizeError(f"{value} is beyond the int64 range Docker Compose v2 reads ({as_v2})")


def _float32(cores: float, value: Any) -> float:
    """compose-go keeps cpus as a float32: a number beyond it reads as infinity (``config`` fails:
    "json: unsupported value: +Inf"; a string: "value out of range")."""
    if beyond_float32(cores):
        raise RightsizeError(
            f"{value} is beyond the float32 range Docker Compose v2 reads CPUs in (it reads as infinity)"
        )
    return cores


def beyond_float32(x: float) -> bool:
    """Whether a finite number becomes infinity as a float32 (Go's float32(x), rounded to nearest)."""
    try:
        return math.isfinite(x) and math.isinf(struct.unpack("f", struct.pack("f", x))[0])
    except OverflowError:  # (struct refuses it outright)
        return True


# a compose size with a unit: its spacing, the unit letter's case, and what follows it (B, iB, i)
_UNIT_STYLE = re.compile(r"\s*[\d.]+( ?)([kKmMgGtTpP])([iI]?[bB]?)\s*")


def format_value(resource: str, value: float, dialect: Dialect, old: Any = None) -> NewScalar:
    """The scalar to write; memory keeps the file's unit style (``2g`` -> ``1536m``, ``2GB`` ->
    ``1536MB``, ``2 GiB`` -> ``1536 MiB``: compose reads them all alike)."""
    if isinstance(old, TaggedScalar):  # `!override 4g`: the style is the tagged text's
        old = old.value
    if resource == "memory":
        text = format_bytes(value, dialect)
        style = _UNIT_STYLE.fullmatch(old) if dialect == "compose" and isinstance(old, str) else None
        unit = re.fullmatch(r"([\d.]+)([KMGTP])", text)
        if style and unit:
            space, letter, tail = style.groups()
            text = unit[1] + space + (unit[2].lower() if letter.islower() else unit[2]) + tail
        elif isinstance(old, str) and re.fullmatch(r"\s*[\d.]+[a-z]+\s*", old):  # 2147483648b
            text = text.lower()
        return NewScalar(text, text, text)
    if resource == "cpu":
        text = format_cpus(value, dialect)
        if dialect == "k8s":
            if text.endswith("m"):
                return NewScalar(text, text, text)
            return NewScalar(text, text, int(text))
        return NewScalar(text, f'"{text}"', DoubleQuotedScalarString(text))
    text = str(round(value))
    return NewScalar(text, text, int(text))


def same(resource: str, old: float, new_raw: str, dialect: Dialect) -> bool:
    """Whether the value in the file already equals the one we would write (idempotence)."""
    new = parse_value(resource, new_raw, dialect, "internal")
    if resource == "cpu":
        return abs(old - new) < 5e-4
    return round(old) == round(new)


def minus_one(value: Any) -> bool:
    """Whether a value reads as -1 (Docker's "unlimited" swap or PIDs) as compose-go reads it: a YAML
    -1, or a string strconv.ParseInt reads as -1 ("-1", "-01"; not " -1", an error there)."""
    if isinstance(value, bool):
        return False
    return value == -1 if isinstance(value, int | float) else go_parse_int(str(value)) == -1


def interpolated(value: Any) -> bool:
    return isinstance(value, str) and "$" in value


def lookup(node: Any, path: tuple[str, ...]) -> tuple[bool, Any]:
    """Follow path through mappings (merge keys included); (found, value)."""
    for key in path:
        if not isinstance(node, CommentedMap) or key not in node:
            return False, None
        node = node[key]
    return True, node


def depth(node: Any, path: tuple[str, ...]) -> int:
    """How many leading keys of path exist as mappings under node (-1: node itself is not one)."""
    if not isinstance(node, CommentedMap):
        return -1
    d = 0
    for key in path[:-1]:
        if key not in node or not isinstance(node[key], CommentedMap):
            break
        node = node[key]
        d += 1
    return d
