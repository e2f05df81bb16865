"""Workload names: patterns (one glob, or several separated by commas: ``'shop/*,db-?'``) and order."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable


def matches(name: str, patterns: str) -> bool:
    """True if ``name`` matches any of the comma-separated globs in ``patterns`` (case-sensitive)."""
    return any(fnmatch.fnmatchcase(name, p.strip()) for p in patterns.split(",") if p.strip())


def joined(patterns: str | Iterable[str] | None) -> str | None:
    """The library's ``workloads=["shop/*", "db"]`` as the CLI's one ``"shop/*,db"`` (a list failed
    with AttributeError: 'list' object has no attribute 'split')."""
    return patterns if patterns is None or isinstance(patterns, str) else ",".join(patterns)


def natural(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key: runs of digits as numbers (vm_2 before vm_10), the rest as text."""
    return tuple((0, int(t)) if t.isdigit() else (1, t) for t in re.split(r"(\d+)", name) if t)
