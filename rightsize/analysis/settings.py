"""Typed, frozen strategy settings: default, valid range and help text declared once per field.

``with_overrides(settings, {"margin": "0.2"})`` is what ``--set margin=0.2`` calls; the same field
metadata validates the value and documents it (``describe``), so the help can never drift from
what is checked.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import warnings
from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from rightsize.errors import RightsizeError
from rightsize.units import (
    format_duration,
    human_bytes,
    parse_bytes,
    parse_cpus,
    parse_duration,
    refuse_bare_number,
)

Kind = Literal["number", "fraction", "duration", "bytes", "cores", "count"]
S = TypeVar("S", bound="Settings")


def opt(default: float, help: str, kind: Kind = "number", lo: float = 0.0, hi: float = math.inf) -> Any:
    """A settings field: its default, what it means, how to parse it and its valid range."""
    return dataclasses.field(default=default, metadata={"help": help, "kind": kind, "lo": lo, "hi": hi})


@dataclasses.dataclass(frozen=True)
class Settings:
    """Base of every strategy's settings; checks every field against its declared range."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            lo, hi = f.metadata.get("lo", -math.inf), f.metadata.get("hi", math.inf)
            if not isinstance(value, int | float) or not math.isfinite(value) or not lo <= value <= hi:
                raise RightsizeError(
                    f"setting {f.name}={value!r} out of range: expected {_range(lo, hi)} "
                    f"({f.metadata['help']})"
                )


def _range(lo: float, hi: float) -> str:
    if hi == math.inf:
        return f">= {lo:g}"
    return f"{lo:g}..{hi:g}"


def parse_value(kind: str, text: str) -> float:
    text = text.strip()
    if kind == "duration":
        return parse_duration(text)
    if kind == "bytes":
        return float(parse_bytes(text))
    if kind == "cores":  # 0.5 or 500m, as --cpus and Kubernetes write them
        return parse_cpus(text)
    if kind == "count" and math.isfinite(float(text)) and float(text) % 1:  # pids_floor=1.5: no count
        raise ValueError(text)
    if kind == "fraction" and text.endswith("%"):
        return float(text[:-1]) / 100.0
    if kind == "fraction" and text.lower().startswith("p"):  # p95 -> 0.95
        return float(text[1:]) / 100.0
    return float(text)


_EXPECTED: dict[str, str] = {
    "bytes": "a size (100M, 1.5g, 512Mi)", "duration": "a duration (90s, 2h, 7d)",
    "number": "a number", "fraction": "a fraction (0.2, 20%, p95)", "cores": "CPU cores (0.5, 500m)",
    "count": "a whole number",
}  # fmt: skip

# sanity ceilings for --set values (far above any real setting: 1 EiB, ~31 years, a million)
_OVERRIDE_CAP: dict[str, float] = {
    "bytes": 2.0**60, "duration": 1e9, "number": 1e6, "fraction": 1e6, "cores": 1e6, "count": 1e6,
}  # fmt: skip


def with_overrides(settings: S, overrides: Mapping[str, str] | None) -> S:
    """A copy of ``settings`` with ``{"name": "text"}`` overrides parsed and validated."""
    if not overrides:
        return settings
    fields = {f.name: f for f in dataclasses.fields(settings)}
    changes: dict[str, float] = {}
    for key, text in overrides.items():
        name = key.strip().replace("-", "_")
        if name not in fields:
            raise RightsizeError(f"unknown setting {key!r}; valid: {', '.join(sorted(fields))}")
        kind = fields[name].metadata["kind"]
        if kind == "duration":  # typed `min_history=24` (seconds? hours?); from Python a number is seconds
            refuse_bare_number(text, f"setting {name}")
        bare = isinstance(text, str) and re.fullmatch(r"\s*\d*\.?\d+\s*", text) and float(text)
        if kind == "bytes" and bare:  # `mem_floor=32` was 32 bytes, meant as 32M
            n = str(text).strip()
            raise RightsizeError(f"setting {name} {text!r}: a size without a unit; write {n}M, {n}G or {n}B")
        try:
            value = parse_value(kind, str(text))
        except (ValueError, OverflowError, RightsizeError):
            raise RightsizeError(f"setting {name}: cannot read {text!r} as {_EXPECTED[kind]}") from None
        # inf or 1e308 passes a ">= 0" range but overflows (or never ends) in the estimators
        cap, meta = _OVERRIDE_CAP[kind], fields[name].metadata
        if not math.isfinite(value) or abs(value) > cap:  # said with the setting's own range, if any
            raise RightsizeError(
                f"setting {name}={text!r} out of range: expected {_range(meta['lo'], min(cap, meta['hi']))}"
            )
        if kind == "fraction":
            _check_fraction(name, str(text).strip(), value, fields[name].metadata["hi"])
        changes[name] = int(value) if kind == "count" and value == int(value) else value
    return dataclasses.replace(settings, **changes)


def _check_fraction(name: str, text: str, value: float, hi: float) -> None:
    """A bare number above 1 for a fraction is most likely meant as percent: --set mem_margin=20 was
    "out of range" with no hint, and mem_margin=5 silently meant +500 % (1 is taken as written)."""
    if value <= 1 or text.endswith("%") or text.lower().startswith("p"):
        return
    if value > hi:
        raise RightsizeError(
            f"setting {name}={text} out of range: expected {_range(0, hi)}; for {text} percent write "
            f"{text}% or {value / 100:g}"
        )
    if math.isfinite(hi):  # mem_raise_max=10 (no ceiling) is meant as it is written
        warnings.warn(
            f"--set {name}={text} reads as {value:.0%}; for {text} percent write {text}% or {value / 100:g}",
            stacklevel=3,
        )


def parse_assignments(items: list[str] | None) -> dict[str, str]:
    """``["margin=0.2", "min_history=2h"]`` -> dict; RightsizeError on an item without ``=``."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise RightsizeError(f"--set expects NAME=VALUE, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def show_value(kind: str, value: float) -> str:
    if kind == "duration":
        return format_duration(value)
    if kind == "bytes":
        return human_bytes(value)
    return f"{value:g}"


def describe(settings: Settings) -> str:
    """One line per setting: name = value (range): help."""
    lines = []
    for f in dataclasses.fields(settings):
        kind = f.metadata["kind"]
        value = show_value(kind, getattr(settings, f.name))
        valid = _range(f.metadata["lo"], f.metadata["hi"])
        lines.append(f"  {f.name} = {value}  [{kind}, {valid}]  {f.metadata['help']}")
    return "\n".join(lines)


SETTINGS_FORMATS = ("table", "json")


def settings_records(settings: Settings) -> list[dict[str, Any]]:
    """One dict per setting: its value in base units (bytes, seconds, cores), as shown, and its range
    (``max`` None when unbounded, as JSON has no infinity)."""
    out = []
    for f in dataclasses.fields(settings):
        meta, value = f.metadata, getattr(settings, f.name)
        out.append({
            "name": f.name, "value": value, "text": show_value(meta["kind"], value), "kind": meta["kind"],
            "min": meta["lo"], "max": None if meta["hi"] == math.inf else meta["hi"], "help": meta["help"],
        })  # fmt: skip
    return out


def show_settings(name: str, summary: str, settings: Settings, fmt: str = "table") -> str:
    """What ``recommend --settings`` prints: the strategy's settings as text or as JSON."""
    if fmt == "table":
        return f"{name}: {summary}\n{describe(settings)}\n"
    if fmt == "json":
        doc = {"strategy": name, "summary": summary, "settings": settings_records(settings)}
        return json.dumps(doc, indent=2) + "\n"
    raise RightsizeError(f"--settings prints as --format {' or '.join(SETTINGS_FORMATS)}, not {fmt!r}")
