"""An error about a value a service gets through ``extends`` names the file and the service where the
value is written (``base.yml: services.base.mem_limit``), as an error about a value in the file
itself does; it named the extending service ("services extended by web.mem_limit") or, in apply, the
extending file. Each project is refused by Docker Compose 2.40.3 too (``config``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli as run
from compose_v2_reading import Case, _have_v2, both_refuse
from writer_recs import M, rec

from rightsize.errors import RightsizeError
from rightsize.targets.check import check_compose
from rightsize.targets.compose import patch_compose

pytestmark = pytest.mark.skipif(not _have_v2(), reason="Docker Compose v2 (docker compose) not installed")

TOP = "services:\n  web:\n    image: x\n    extends: {file: base.yml, service: base}\n"

CASES = {
    # the value in a file only extends.file reaches
    "extends-file": (
        {"compose.yml": TOP, "base.yml": "services:\n  base:\n    image: x\n    mem_limit: 1x\n"},
        (),
        "base.yml: services.base.mem_limit: not a memory size",
    ),
    # along a chain of files: compose.yml -> mid.yml -> base.yml
    "chain-of-files": (
        {
            "compose.yml": "services:\n  web:\n    image: x\n    extends: {file: mid.yml, service: mid}\n",
            "mid.yml": "services:\n  mid:\n    extends: {file: base.yml, service: base}\n    restart: no\n",
            "base.yml": 'services:\n  base:\n    image: x\n    cpus: "1.5x"\n',
        },
        (),
        "base.yml: services.base.cpus: not a CPU amount",
    ),
    # along a chain in the same file, only the extending service selected
    "chain-in-file": (
        {
            "compose.yml": (
                "services:\n  web:\n    image: x\n    extends: mid\n  mid:\n    extends: base\n"
                '  base:\n    image: x\n    deploy: {resources: {limits: {pids: "12a"}}}\n'
            )
        },
        ("--services", "web"),
        "compose.yml: services.base.deploy.resources.limits.pids: not a PID count",
    ),
    # interpolated in the extended file
    "interpolated": (
        {"compose.yml": TOP, "base.yml": "services:\n  base:\n    image: x\n    mem_reservation: ${R:-1q}\n"},
        (),
        "base.yml: services.base.mem_reservation (${R:-1q}): not a memory size",
    ),
    # the CFS spelling
    "cpu-quota": (
        {"compose.yml": TOP, "base.yml": 'services:\n  base:\n    image: x\n    cpu_quota: "5e4"\n'},
        (),
        "base.yml: services.base: cpu_quota: not a number of microseconds",
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_each_command_names_the_file_and_service_holding_the_value(
    name: str, tmp_path: Path, capsys: Any
) -> None:
    files, extra, want = CASES[name]
    both_refuse(tmp_path, Case(files))  # (compose refuses it; so does rightsize's reader)
    compose = str(tmp_path / "compose.yml")
    for argv in (
        ["check", "-f", compose, *extra],
        ["recommend", "-f", compose],
        ["apply", "-f", compose, "--dry-run", *extra],
    ):
        code, _, err = run(argv, capsys)
        lines = [x for x in err.splitlines() if "error" in x]
        assert code == 2, (argv, err)
        assert len(lines) == 1 and str(tmp_path / want.split(": ")[0]) in lines[0], (argv, err)
        assert want.split(": ", 1)[1] in lines[0], (argv, err)
        assert "extended by" not in err


def test_apply_with_data_for_the_service_names_the_base_file(tmp_path: Path) -> None:
    """apply's own readers (the value it replaces, the reservation it keeps): they named compose.yml,
    the file of the extending service, which holds no such value."""
    (tmp_path / "compose.yml").write_text(TOP)
    (tmp_path / "base.yml").write_text("services:\n  base:\n    image: x\n    mem_limit: ${M:-1x}\n")
    recs = [rec("web", "memory", 64 * M, 128 * M)]
    for call in (patch_compose, check_compose):
        with pytest.raises(RightsizeError) as exc:
            call(tmp_path / "compose.yml", recs)
        assert str(exc.value).startswith(f"{tmp_path / 'base.yml'}: services.base.mem_limit"), call


def test_a_value_in_the_file_itself_still_names_its_own_service(tmp_path: Path, capsys: Any) -> None:
    (tmp_path / "compose.yml").write_text(TOP + "    mem_limit: 2x\n")
    (tmp_path / "base.yml").write_text("services:\n  base:\n    image: x\n    mem_limit: 1x\n")
    code, _, err = run(["check", "-f", str(tmp_path / "compose.yml")], capsys)
    assert code == 2 and f"{tmp_path / 'compose.yml'}: services.web.mem_limit: not a memory size: '2x'" in err
