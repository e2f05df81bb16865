"""Bugs found by trying what a user feeds `import`, `check` and `collect --source prometheus`."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import run_cli as run


def test_check_warns_when_no_service_matches_the_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a wrong --project (or the data of another stack) made every row "service not in the data" and
    # the CI gate green without a word; apply warns in the same case, check said nothing
    compose = tmp_path / "compose.yml"
    compose.write_text(
        "services:\n  backend:\n    image: x\n    restart: always\n    mem_limit: 1g\n    cpus: 1\n"
        "    pids_limit: 100\n"
    )
    code, out, err = run(["check", "-f", str(compose), "--project", "wrong"], capsys)
    assert code == 0, err
    assert "service not in the data" in out
    assert "rightsize: warning: no service matched a workload in the data (it has sutazai/" in err
    # the right project matches: no such warning
    code, out, err = run(["check", "-f", str(compose), "--project", "sutazai"], capsys)
    assert "no service matched" not in err
