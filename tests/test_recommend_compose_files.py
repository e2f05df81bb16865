"""`recommend --compose` and `report --compose` take several files (merged as `-f a -f b`) and
`--env-file`, read by the same loader as `apply` and `check`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli as run

BASE = "name: sutazai\nservices:\n  postgres:\n    image: x\n    mem_limit: ${PG_MEM:-4g}\n"
PROD = 'services:\n  postgres:\n    cpus: "3"\n'


def project(tmp_path: Path) -> tuple[Path, Path, Path]:
    base, prod, env = tmp_path / "compose.yml", tmp_path / "prod.yml", tmp_path / "prod.env"
    base.write_text(BASE)
    prod.write_text(PROD)
    env.write_text("PG_MEM=1234m  # the production size\n")
    return base, prod, env


def current(out: str) -> dict[str, Any]:
    rows = [r for r in json.loads(out) if r["workload"] == "sutazai/postgres"]
    return {r["resource"]: r["current"]["limit"] for r in rows}


@pytest.mark.slow
def test_recommend_reads_several_compose_files_and_env_files(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PG_MEM", raising=False)
    base, prod, env = project(tmp_path)
    code, out, err = run(["recommend", "-f", str(base), "--format", "json"], capsys)
    assert code == 0, err
    assert current(out) == {"memory": 4 * 2**30, "cpu": None, "pids": None}
    argv = ["recommend", "--compose", str(base), "-f", str(prod), "--env-file", str(env), "--format", "json"]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    assert current(out) == {"memory": 1234 * 2**20, "cpu": 3.0, "pids": None}


@pytest.mark.slow
def test_report_reads_several_compose_files_and_env_files(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PG_MEM", raising=False)
    base, prod, env = project(tmp_path)
    html = tmp_path / "report.html"
    argv = ["report", "-f", str(base), "-f", str(prod), "--env-file", str(env), "-o", str(html)]
    code, _, err = run(argv, capsys)
    assert code == 0, err
    row = next(r for r in re.findall(r"<tr[^>]*>.*?</tr>", html.read_text(), re.S) if "sutazai/postgres" in r)
    cells = re.sub(r"<[^>]+>", "|", row)
    assert "|1.2 GiB → |" in cells and "|3 cores → |" in cells  # the current values: 1234m and prod's cpus
    assert "Strategy settings" in html.read_text()  # report() itself read the files, as with one -f


@pytest.mark.parametrize("command", [["recommend"], ["report", "-o", "{d}/r.html"]])
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--env-file", "{d}/prod.env"], "--env-file works with --compose only"),
        (["-f", ""], "--compose is empty: expected a compose file"),
        (["-f", "{d}/compose.yml", "--env-file", ""],
         "--env-file is empty: expected an env file, e.g. --env-file .env.prod"),
        (["-f", "{d}/compose.yml", "-f", "{d}/prod.yml", "--env-file", "{d}/missing.env"],
         "env file {d}/missing.env: no such file"),
        (["-f", "{d}/compose.yml", "-f", "{d}/nope.yml"], "compose file not found: {d}/nope.yml"),
        (["-f", "{d}/compose.yml", "-f", "{d}/compose.yml"],
         "{d}/compose.yml: given twice (as {d}/compose.yml too): give each compose file once"),
    ],
)  # fmt: skip
def test_bad_compose_options_are_one_line_exit_2(
    tmp_path: Path, capsys: Any, command: list[str], extra: list[str], message: str
) -> None:
    project(tmp_path)
    argv = [a.replace("{d}", str(tmp_path)) for a in [*command, *extra]]
    code, out, err = run(argv, capsys)
    assert (code, out, err) == (2, "", f"rightsize: error: {message.replace('{d}', str(tmp_path))}\n")
    assert not (tmp_path / "r.html").exists()
