"""Running the real CLI entry point in-process: exit code, stdout and stderr, as a user sees them."""

from __future__ import annotations

import pytest

from rightsize.cli import main


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``main(args)`` (which always exits) -> (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err
