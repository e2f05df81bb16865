"""Workload patterns: one glob, or several separated by commas (``'shop/*,db-?'``)."""

from __future__ import annotations

import fnmatch


def matches(name: str, patterns: str) -> bool:
    """True if ``name`` matches any of the comma-separated globs in ``patterns`` (case-sensitive)."""
    return any(fnmatch.fnmatchcase(name, p.strip()) for p in patterns.split(",") if p.strip())
