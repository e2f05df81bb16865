"""Parse and format bytes, CPUs and durations the way compose files, Docker and Kubernetes write them.

Docker and compose read memory sizes with binary multipliers (``1g`` = 1 GiB, ``768M`` = 768 MiB);
Kubernetes quantities distinguish ``Gi`` (binary) from ``G`` (decimal). Both dialects are parsed
here, so that a number written by one tool means the same in the other.
"""

from __future__ import annotations

import math
import re
from typing import Literal

from rightsize.errors import RightsizeError

Dialect = Literal["compose", "k8s"]

KiB = 1024
MiB = 1024**2
GiB = 1024**3
TiB = 1024**4

_COMPOSE_MULT = {"": 1, "b": 1, "k": KiB, "m": MiB, "g": GiB, "t": TiB, "p": 1024**5}
_K8S_MULT = {
    "": 1,
    "Ki": KiB,
    "Mi": MiB,
    "Gi": GiB,
    "Ti": TiB,
    "Pi": 1024**5,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
}
_NUMBER = r"(?P<num>[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)"
_COMPOSE_RE = re.compile(rf"^\s*{_NUMBER}\s*(?P<unit>[bkmgtp]?)i?b?\s*$", re.IGNORECASE)
_K8S_RE = re.compile(rf"^\s*{_NUMBER}\s*(?P<unit>Ki|Mi|Gi|Ti|Pi|k|M|G|T|P|)\s*$")
_DURATION_RE = re.compile(r"^\s*(?P<num>[0-9]*\.?[0-9]+)\s*(?P<unit>ms|s|m|h|d|w)\s*$")
# every spelling of a number float() (so parse_duration) takes as seconds: 24, 24., +24, 1e3
_BARE_NUMBER_RE = re.compile(r"\s*\+?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")
_DURATION_MULT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_bytes(value: str | int | float, dialect: Dialect = "compose") -> int:
    """``"1.5g"`` -> 1610612736. Plain numbers are bytes. Raises RightsizeError on anything else.

    Compose (Docker) multipliers are binary and case-insensitive; ``"16GB"`` is 16 GiB, as Docker
    reads it. Kubernetes quantities keep ``Gi`` binary and ``G`` decimal.
    """
    if isinstance(value, bool):
        raise RightsizeError(f"not a memory size: {value!r}")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise RightsizeError(f"not a memory size: {value!r}")
        return int(value)
    text = str(value)
    if dialect == "k8s":
        m = _K8S_RE.match(text)
        mult = _K8S_MULT[m.group("unit")] if m else 0
    else:
        m = _COMPOSE_RE.match(text)
        mult = _COMPOSE_MULT[m.group("unit").lower()] if m else 0
    if not m:
        raise RightsizeError(f"not a memory size: {text!r} (expected e.g. 512M, 1.5g, 1536Mi)")
    size = float(m.group("num")) * mult
    if not math.isfinite(size):  # "1e400M": round() of an infinity raised OverflowError
        raise RightsizeError(f"not a memory size: {text!r} (too large)")
    return round(size)


# ---- compose-file values, read as Docker Compose v2 reads them ------------------------------------
# compose-go decodes mem_limit, mem_reservation, memswap_limit and deploy.resources.*.memory as
# types.UnitBytes (strconv.ParseInt(s, 10, 64), else go-units v0.5.0 RAMInBytes), cpus with
# strconv.ParseFloat, pids_limit and deploy.resources.limits.pids with strconv.ParseInt(s, 10, 64).
# None of them trims white space: " 1g" and "1g " are errors there.
_GO_INT = re.compile(r"[+-]?[0-9]+")
_GO_DEC = re.compile(r"[+-]?(?=\.?[0-9])[0-9_]*(?:\.[0-9_]*)?(?:[eE][+-]?[0-9_]+)?")
_GO_HEX = re.compile(r"[+-]?0[xX](?=\.?[0-9a-fA-F_])[0-9a-fA-F_]*(?:\.[0-9a-fA-F_]*)?[pP][+-]?[0-9_]+")
_GO_SPECIAL = re.compile(r"[+-]?(?:inf|infinity)|nan", re.IGNORECASE)
_GO_UNITS = {"k": KiB, "m": MiB, "g": GiB, "t": TiB, "p": 1024**5}


def go_parse_int(text: str) -> int | None:
    """Go's ``strconv.ParseInt(text, 10, 64)``: an optional sign and ASCII digits, nothing else (no
    space, no ``_``); None when Go returns an error (out of the int64 range too)."""
    if not _GO_INT.fullmatch(text):
        return None
    n = int(text)
    return n if -(2**63) <= n < 2**63 else None


def go_parse_float(text: str) -> float | None:
    """Go's ``strconv.ParseFloat(text, 64)``: decimal or hexadecimal (``0x1p4``, with its ``p``
    exponent) floats, ``_`` only between digits, ``inf``/``nan`` in any case; no space. None when Go
    returns an error (a value beyond the float64 range too)."""
    if _GO_SPECIAL.fullmatch(text):
        return float(text)
    hexa = _GO_HEX.fullmatch(text)
    if not (hexa or _GO_DEC.fullmatch(text)) or not _underscores_ok(text):
        return None
    plain = text.replace("_", "")
    value = float.fromhex(plain) if hexa else float(plain)
    return value if math.isfinite(value) else None  # ERANGE in Go


def _underscores_ok(text: str) -> bool:
    """Go's strconv.underscoreOK: each ``_`` between two digits (or after a ``0x`` prefix)."""
    body = text.lstrip("+-")
    hexa = body[:2].lower() == "0x"
    body = "0" + body[2:] if hexa else body  # the prefix counts as a digit
    digits = "0123456789abcdefABCDEF" if hexa else "0123456789"
    return not re.search(rf"(?:^|[^{digits}])_|_(?:$|[^{digits}])", body)


def parse_compose_bytes(value: str | int | float) -> int:
    """A compose file's memory value as compose-go reads it (types.UnitBytes): a YAML number is bytes;
    a string is ``strconv.ParseInt``, else go-units v0.5.0 ``RAMInBytes``: a number (Go's ParseFloat)
    then at most one space, then ``b``, or ``k/m/g/t/p`` (binary, any case) with an optional ``b`` or
    ``ib`` — ``1Gi`` is refused ("invalid suffix"), fractional bytes are truncated, and ``" 1g"``,
    ``"1g "`` are errors (``"1 "`` is 1 byte: the space is read as the separator)."""
    if not isinstance(value, str):
        return parse_bytes(value)
    text = value
    n = go_parse_int(text)
    if n is None:
        sep = max(text.rfind(c) for c in "0123456789. ")  # the number ends there; a space is dropped
        num, sfx = text[: sep + (text[sep : sep + 1] != " ")], text[sep + 1 :]
        size = go_parse_float(num) if sep >= 0 else None
        sfx = sfx.lower()
        mult = 1 if sfx in ("", "b") else _GO_UNITS.get(sfx[:1]) if sfx[1:] in ("", "b", "ib") else None
        if size is None or size < 0 or mult is None or not math.isfinite(size * mult):
            raise RightsizeError(
                f"not a memory size: {value!r} (expected e.g. 512m, 1.5g, 2GB, 1536MiB: Docker Compose "
                "v2 refuses 1Gi and a space before or after the value)"
            )
        n = int(size * mult)  # Go: int64(size), toward zero
    if n >= 2**63:  # Go: int64(a float64 of 2^63 or more) wraps
        raise RightsizeError(
            f"{value!r} reads as 2^63 bytes or more (Docker Compose v2 reads a size through a float64): it "
            "wraps to -9223372036854775808, which Docker refuses"
        )
    if n < 0:
        raise RightsizeError(f"not a memory size: {value!r}")
    return n


def parse_compose_cpus(value: str | int | float) -> float:
    """A compose file's ``cpus`` as compose-go reads it: a YAML number, or a string Go's
    ``strconv.ParseFloat`` takes (no ``1500m``, no space around it)."""
    if isinstance(value, str):
        cores = go_parse_float(value)
        if cores is None:
            raise RightsizeError(
                f"not a CPU amount: {value!r} (expected e.g. 0.5, 1.5: Docker Compose v2 reads a plain "
                "number, no 1500m, no space around it)"
            )
        value = cores
    return parse_cpus(value)


def parse_compose_count(value: str | int | float) -> int:
    """A compose file's ``pids_limit`` (``deploy.resources.limits.pids``) as compose-go reads it: a
    YAML integer, or a string Go's ``strconv.ParseInt(s, 10, 64)`` takes (no space, no ``_``)."""
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise RightsizeError(f"not a PID count: {value!r}")
    n = go_parse_int(value) if isinstance(value, str) else int(value)
    if n is None:
        raise RightsizeError(f"not a PID count: {value!r} (expected a whole number, no space around it)")
    return n


def parse_cpus(value: str | int | float) -> float:
    """``"1.5"`` or ``"1500m"`` or ``2`` -> cores as a float."""
    if isinstance(value, bool):
        raise RightsizeError(f"not a CPU amount: {value!r}")
    if isinstance(value, int | float):
        cores = float(value)
    else:
        text = str(value).strip()
        try:
            cores = float(text[:-1]) / 1000 if text.endswith("m") else float(text)
        except ValueError:
            raise RightsizeError(f"not a CPU amount: {text!r} (expected e.g. 0.5, 1.5, 1500m)") from None
    if not math.isfinite(cores) or cores < 0:
        raise RightsizeError(f"not a CPU amount: {value!r}")
    return cores


def parse_duration(value: str | int | float) -> float:
    """``"90s"``, ``"30m"``, ``"24h"``, ``"7d"``, ``"2w"`` -> seconds. Bare numbers are seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        text = str(value).strip()
        m = _DURATION_RE.match(text)
        if m:
            seconds = float(m.group("num")) * _DURATION_MULT[m.group("unit")]
        else:
            try:
                seconds = float(text)
            except ValueError:
                raise RightsizeError(
                    f"not a duration: {text!r} (expected e.g. 90s, 30m, 24h, 7d)"
                ) from None
    if not math.isfinite(seconds) or seconds < 0:
        raise RightsizeError(f"not a duration: {value!r}")
    return seconds


def refuse_bare_number(value: str | int | float, option: str) -> None:
    """A typed option's ``24`` (seconds? hours?) is an error naming what to write; 0 is 0 in any
    unit, and a Python int/float stays seconds."""
    if isinstance(value, str) and _BARE_NUMBER_RE.fullmatch(value) and float(value):
        n = value.strip()
        raise RightsizeError(f"{option} {value!r}: a number without a unit; write {n}s, {n}m, {n}h or {n}d")


def parse_positive_duration(value: str | int | float, what: str) -> float:
    """``parse_duration``, refusing 0 (an interval or a duration of nothing) and, in text, a
    number without a unit (``--duration 24`` meant 24h, not 24 s)."""
    refuse_bare_number(value, f"--{what}")
    seconds = parse_duration(value)
    if seconds <= 0:
        raise RightsizeError(f"{what} must be greater than 0, got {value!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """Shortest exact-ish spelling: 86400 -> ``"1d"``, 5400 -> ``"1.5h"``, 42 -> ``"42s"``."""
    for unit, mult in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= mult:
            return f"{_trim(seconds / mult)}{unit}"
    return f"{_trim(seconds)}s"


def format_duration_as_typed(seconds: float) -> str:
    """A duration in the largest whole unit, as a person types it: 5340 -> ``"89m"`` (not
    ``"1.483h"``), 1209600 -> ``"14d"``; what no unit divides falls back to ``format_duration``."""
    for unit, mult in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= mult and float(seconds) % mult == 0:
            return f"{int(seconds // mult)}{unit}"
    return format_duration(seconds)


def format_bytes(n: int | float, dialect: Dialect = "compose") -> str:
    """Bytes as a person writes them in a deploy file: ``8G``/``1536M`` (compose), ``8Gi``/``1536Mi`` (k8s).

    Whole GiB print as G; anything else as whole MiB (rounded up, so a limit never shrinks by
    formatting); below 1 MiB as KiB.
    """
    n = math.ceil(n)
    g, m, k = ("Gi", "Mi", "Ki") if dialect == "k8s" else ("G", "M", "K")
    if n >= GiB and n % GiB == 0:
        return f"{n // GiB}{g}"
    if n >= MiB:
        return f"{math.ceil(n / MiB)}{m}"
    return f"{math.ceil(n / KiB)}{k}"


def format_cpus(cores: float, dialect: Dialect = "compose") -> str:
    """Cores as ``"1.5"`` (compose ``cpus``) or ``"1500m"``/``"2"`` (Kubernetes)."""
    if dialect == "k8s":
        milli = round(cores * 1000)
        return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"
    return _trim(round(cores, 3))


def human_bytes(n: float | None) -> str:
    """For tables and reports: ``1.5 GiB``, ``768 MiB``; ``-`` for None/NaN."""
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return "-"
    for unit, mult in (("TiB", TiB), ("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if abs(n) >= mult:
            return f"{_trim(round(n / mult, 1))} {unit}"
    return f"{int(n)} B"


def _trim(x: float) -> str:
    """2.0 -> '2', 1.50 -> '1.5'."""
    text = f"{x:.3f}".rstrip("0").rstrip(".")
    return text or "0"
