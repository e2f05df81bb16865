"""Workload names: patterns (one glob, or several separated by commas: ``'shop/*,db-?'``) and order."""

from __future__ import annotations

import fnmatch
import re
import warnings
from collections.abc import Iterable


def matches(name: str, patterns: str) -> bool:
    """True if ``name`` matches any of the comma-separated globs in ``patterns`` (case-sensitive)."""
    return any(fnmatch.fnmatchcase(name, p.strip()) for p in patterns.split(",") if p.strip())


def warn_unmatched(patterns: str | None, names: Iterable[str], where: str = "in the data") -> None:
    """One warning naming the globs of several that match none of ``names`` (a typo among them
    would otherwise just leave that workload out); ``where`` ends it."""
    if not patterns:
        return
    seen = list(names)
    missed = [p.strip() for p in patterns.split(",") if p.strip()]
    missed = [p for p in missed if not any(fnmatch.fnmatchcase(n, p) for n in seen)]
    if missed:
        verb = "matches" if len(missed) == 1 else "match"
        warnings.warn(f"--workload: {', '.join(missed)} {verb} no workload {where}", stacklevel=3)


def joined(patterns: str | Iterable[str] | None) -> str | None:
    """The library's ``workloads=["shop/*", "db"]`` as the CLI's one ``"shop/*,db"`` (a list failed
    with AttributeError: 'list' object has no attribute 'split')."""
    return patterns if patterns is None or isinstance(patterns, str) else ",".join(patterns)


def natural(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key: runs of digits as numbers (vm_2 before vm_10), the rest as text."""
    return tuple((0, int(t)) if t.isdigit() else (1, t) for t in re.split(r"(\d+)", name) if t)
