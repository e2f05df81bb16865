"""Replacing a text file atomically: a reader sees the old file or the new one, never half of either."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def stage_text(path: Path, text: str, *, mode: int = 0o644, newline: str | None = None) -> Path:
    """Write ``text`` to a hidden temporary file beside ``path`` (flushed to disk) and return it; the
    caller renames it over ``path`` (``os.replace``) or deletes it."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".rightsize-tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def replace_text(path: Path, text: str, *, mode: int = 0o644, newline: str | None = None) -> None:
    """Write ``text`` to a hidden temporary file beside ``path``, then rename it over ``path``."""
    tmp = stage_text(path, text, mode=mode, newline=newline)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
