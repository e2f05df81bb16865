"""A compose file nested deeper than the YAML loader can recurse is one error line, not a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow  # each run parses ~3,000 levels before the loader gives up (~4 s under load)
@pytest.mark.parametrize(
    ("command", "shape"), [("recommend", "flow"), ("check", "block"), ("apply", "flow"), ("apply", "block")]
)
def test_a_compose_file_nested_too_deeply_is_one_error_line(tmp_path: Path, command: str, shape: str) -> None:
    n = 3000
    text = "services:\n  web:\n    image: busybox\n"
    if shape == "flow":
        text += "    x-deep: " + "[" * n + "]" * n + "\n"
    else:
        text += "".join("    " + "  " * i + f"k{i}:\n" for i in range(n)) + "    " + "  " * n + "v: 1\n"
    path = tmp_path / "compose.yml"
    path.write_text(text)
    done = subprocess.run(
        [sys.executable, "-m", "rightsize", command, "-f", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == f"rightsize: error: {path}: nested too deeply to read"
    assert "Traceback" not in done.stderr
    assert path.read_text() == text
