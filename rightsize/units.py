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
    return round(float(m.group("num")) * mult)


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


def parse_positive_duration(value: str | int | float, what: str) -> float:
    """``parse_duration``, refusing 0 (an interval or a duration of nothing)."""
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
