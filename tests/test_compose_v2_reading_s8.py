"""Compose reading leftovers (session 8), each checked against Docker Compose 2.40.3 (``docker compose
config``): an interpolated ``cpu_quota`` is a CPU limit ``check`` and ``recommend -f`` read, and a file
reached only through ``extends.file`` is type-checked as the ``-f`` files are."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import run_cli
from compose_v2_reading import Case, _have_v2, _write, agree, both_refuse, v2_config

pytestmark = pytest.mark.skipif(not _have_v2(), reason="Docker Compose v2 (docker compose) not installed")

QUOTA = 'name: sutazai\nservices:\n  ollama: {image: x, cpu_quota: "${Q:-250000}"}\n'


def test_an_interpolated_cpu_quota_is_checked_and_shown_as_compose_reads_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``cpu_quota: ${Q:-250000}``: compose runs it as 2.5 CPUs; check said "interpolated: not
    checked" and recommend -f showed no current CPU limit."""
    monkeypatch.delenv("Q", raising=False)
    _write(tmp_path, {"compose.yml": QUOTA})
    cfg, err = v2_config(tmp_path, Case({"compose.yml": QUOTA}))
    assert cfg is not None and cfg["services"]["ollama"]["cpu_quota"] == 250000, err
    path = str(tmp_path / "compose.yml")
    code, out, err = run_cli(["check", "-f", path, "--format", "json"], capsys)
    assert code == 1, err  # (no memory limit: the checklist fails)
    cpu = next(r for r in json.loads(out)["rows"] if r["resource"] == "cpu")
    assert (cpu["configured"], cpu["kind"]) == ("2.5", "limit")
    assert cpu["why"].startswith("cpu_quota reads 250000: ") and "band" in cpu["why"]
    args = ["recommend", "-f", path, "--workload", "sutazai/ollama", "--format", "json"]
    code, out, err = run_cli(args, capsys)
    assert code == 0, err
    current = {r["resource"]: r["current"] for r in json.loads(out)}
    assert current["cpu"] == {"reservation": None, "limit": 2.5}


@pytest.mark.parametrize("command", ["check", "recommend"])
def test_an_interpolated_cpu_quota_compose_refuses_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """``Q=2.5e4``: compose-go's ParseInt refuses it ("failed to cast to expected type")."""
    monkeypatch.setenv("Q", "2.5e4")
    _write(tmp_path, {"compose.yml": QUOTA})
    cfg, err = v2_config(tmp_path, Case({"compose.yml": QUOTA}, env={"Q": "2.5e4"}))
    assert cfg is None and "strconv.ParseInt" in err
    path = tmp_path / "compose.yml"
    code, out, err = run_cli([command, "-f", str(path)], capsys)
    lines = [x for x in err.splitlines() if "SYNTHETIC" not in x]
    assert (code, out, len(lines)) == (2, "", 1), err
    assert lines[0].startswith(f"rightsize: error: {path}: services.ollama: cpu_quota: not a number")


_INT_MEMORY = "services:\n  b:\n    image: x\n    deploy: {resources: {limits: {memory: 1073741824}}}\n"
_EXTENDS = "services:\n  db:\n    image: x\n    extends: {file: base.yml, service: b}\n"

# an integer memory in a file reached only through extends.file: compose validates the service once
# extended ("services.db.deploy.resources.limits.memory must be a string"); rightsize read 1 GiB
EXTENDS_FILE_REFUSED = {
    "plain": {"compose.yml": _EXTENDS, "base.yml": _INT_MEMORY},
    "another-document": {  # (the extended service's other document brings it)
        "compose.yml": _EXTENDS,
        "base.yml": _INT_MEMORY + "---\nservices:\n  b: {image: y}\n",
    },
    "through-a-middle-file": {
        "compose.yml": _EXTENDS.replace("base.yml", "mid.yml").replace("service: b", "service: m"),
        "mid.yml": "services:\n  m:\n    extends: {file: base.yml, service: b}\n    cpus: 1\n",
        "base.yml": _INT_MEMORY,
    },
}

# what compose accepts: the value is not on the chain, or a nearer service sets or replaces it
EXTENDS_FILE_READ = {
    "another-service": {
        "compose.yml": _EXTENDS,
        "base.yml": _INT_MEMORY.replace("  b:\n", "  b: {image: x}\n  o:\n"),
    },
    "set-nearer": {
        "compose.yml": _EXTENDS + "    deploy: {resources: {limits: {memory: 1g}}}\n",
        "base.yml": _INT_MEMORY,
    },
    "override-nearer": {
        "compose.yml": _EXTENDS + "    deploy: !override {resources: {limits: {cpus: 1}}}\n",
        "base.yml": _INT_MEMORY,
    },
    "reset-nearer": {
        "compose.yml": _EXTENDS + "    deploy: {resources: {limits: {memory: !reset null}}}\n",
        "base.yml": _INT_MEMORY,
    },
    "set-in-a-middle-file": {
        "compose.yml": _EXTENDS.replace("base.yml", "mid.yml").replace("service: b", "service: m"),
        "mid.yml": "services:\n  m:\n    extends: {file: base.yml, service: b}\n"
        "    deploy: {resources: {limits: {memory: 2g}}}\n",
        "base.yml": _INT_MEMORY,
    },
}


@pytest.mark.parametrize("name", list(EXTENDS_FILE_REFUSED))
def test_a_type_compose_refuses_in_an_extends_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    files = EXTENDS_FILE_REFUSED[name]
    _, mine = both_refuse(tmp_path, Case(files))
    where = f"{tmp_path / 'base.yml'}: services.b.deploy.resources.limits.memory"
    assert f"{where}: 1073741824 is not a string" in mine
    path = tmp_path / "compose.yml"
    for command in ("check", "recommend"):
        code, out, err = run_cli([command, "-f", str(path)], capsys)
        lines = [x for x in err.splitlines() if "SYNTHETIC" not in x]
        assert (code, out, len(lines)) == (2, "", 1), err
        assert lines[0] == f"rightsize: error: {mine}"


@pytest.mark.parametrize("name", list(EXTENDS_FILE_READ))
def test_a_type_compose_never_sees_in_an_extends_file_is_not_refused(tmp_path: Path, name: str) -> None:
    agree(tmp_path, Case(EXTENDS_FILE_READ[name]))
