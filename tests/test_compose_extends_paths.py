"""A relative ``extends.file`` resolves where Docker Compose v2 (compose-go's loader) resolves it.

compose-go loads each ``-f`` file with a resource loader rooted at the project directory (the first
file's folder), each included file with one rooted at the include's ``project_directory``, and a
file reached through ``extends.file`` with one rooted at that file's own folder. Each case below has
a decoy: the same file name beside the extending file, holding other values, which the old reading
(always beside the extending file) picked.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli as run
from writer_recs import M, rec

from rightsize.analysis.current import compose_current
from rightsize.targets.compose import patch_compose
from rightsize.targets.yaml import plain_yaml


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def two_folders(root: Path, include: bool) -> tuple[Path, Path]:
    """a/compose.yml (+ an include rooted at proj/) and b/prod.yml extending ext/base.yml."""
    inc = "include:\n  - path: ../inc/svc.yml\n    project_directory: ../proj\n" if include else ""
    top = write(root / "a" / "compose.yml", f"{inc}services:\n  postgres:\n    image: x\n")  # (v1: no name:)
    prod = write(
        root / "b" / "prod.yml",
        "services:\n  postgres:\n    restart: always\n    extends: {file: ext/base.yml, service: tmpl}\n",
    )
    # -f b/prod.yml: relative to the project directory a/, not to b/
    write(root / "a" / "ext" / "base.yml", (
        "services:\n  tmpl:\n    image: x\n    mem_limit: 1536m\n"
        "    extends: {file: root.yml, service: r}\n"
    ))  # fmt: skip
    write(root / "b" / "ext" / "base.yml", "services:\n  tmpl:\n    image: x\n    mem_limit: 8g\n")
    # reached through extends.file: relative to that file's folder a/ext/, not the project's a/
    write(root / "a" / "ext" / "root.yml", "services:\n  r:\n    image: x\n    cpus: '2'\n")
    write(root / "a" / "root.yml", "services:\n  r:\n    image: x\n    cpus: '7'\n")
    if include:  # an included file: relative to the include's project_directory proj/, not inc/
        write(root / "inc" / "svc.yml", (
            "services:\n  redis:\n    image: x\n    restart: always\n"
            "    extends: {file: base.yml, service: cache}\n"
        ))  # fmt: skip
        write(root / "proj" / "base.yml", "services:\n  cache:\n    image: x\n    mem_limit: 512m\n")
        write(root / "inc" / "base.yml", "services:\n  cache:\n    image: x\n    mem_limit: 4g\n")
    return top, prod


@pytest.mark.slow
def test_check_reads_extends_file_where_compose_v2_finds_it(tmp_path: Path, capsys: Any) -> None:
    top, prod = two_folders(tmp_path, include=True)
    code, out, err = run(["check", "-f", str(top), "-f", str(prod), "--format", "json"], capsys)
    assert code in (0, 1), err
    configured = {(r["service"], r["resource"]): r["configured"] for r in json.loads(out)["rows"]}
    assert configured[("postgres", "memory")] == "1536m"  # a/ext/base.yml, not b/ext/base.yml (8g)
    assert configured[("postgres", "cpu")] == "2"  # a/ext/root.yml, not a/root.yml (7)
    assert configured[("redis", "memory")] == "512m"  # proj/base.yml, not inc/base.yml (4g)


def test_apply_writes_the_override_from_the_right_base(tmp_path: Path, capsys: Any) -> None:
    """apply compares with the inherited value compose uses: 1536m (from a/ext/base.yml) already
    holds a 1536M recommendation, so nothing is written; the decoy's 8g would have been replaced."""
    top, prod = two_folders(tmp_path, include=False)
    before = prod.read_text()
    (result,) = [r for r in patch_compose([top, prod], [rec("sutazai/postgres", "memory", None, 1536 * M)])
                 if r.target == str(prod)]  # fmt: skip
    assert not result.changes and prod.read_text() == before


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose (v1) not installed")
def test_the_same_base_as_docker_compose_config(tmp_path: Path) -> None:
    """Docker Compose v1 resolves these two (-f in another folder, nested extends.file) alike; it
    has no include."""
    top, prod = two_folders(tmp_path, include=False)
    done = subprocess.run(
        ["docker-compose", "-f", str(top), "-f", str(prod), "config"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    theirs = plain_yaml().load(done.stdout)["services"]["postgres"]
    ours = compose_current([top, prod], environ={})["postgres"]
    assert (theirs["mem_limit"], str(theirs["cpus"])) == ("1536m", "2.0")
    assert (ours["memory"].limit, ours["cpu"].limit) == (1536 * 2**20, 2.0)
