"""Running the real CLI entry point in-process: exit code, stdout and stderr, as a user sees them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from rightsize.cli import main


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``main(args)`` (which always exits) -> (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def sha(path: Path) -> str:
    """A file's SHA-256: "nothing written" is the same bytes before and after."""
    return hashlib.sha256(path.read_bytes()).hexdigest()
