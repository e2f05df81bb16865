"""`check` (and `apply` where it reads a value) interpolate ``${VAR}`` as Docker Compose v2 does: the
process environment first, then ``.env`` beside the first compose file, or ``--env-file``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli as run
from cli_helpers import sha
from writer_recs import G, M, rec

from rightsize.errors import RightsizeError
from rightsize.targets.check import check_compose
from rightsize.targets.compose import patch_compose
from rightsize.targets.interpolate import parse_dotenv, project_env, read_env_files, substitute
from rightsize.targets.yaml import plain_yaml

DOTENV = """\
# comment
FROM_FILE=1g
EMPTY=
export EXPORTED=768m
QUOTED="512m"
SINGLE='$NOT_EXPANDED'
SPACED=  256m   # trailing comment
REF=${FROM_FILE}
BOTH=file
"""
TEMPLATES = {
    "a": "${FROM_FILE}",
    "b": "${EMPTY:-soft}",
    "c": "${EMPTY-hard}",
    "d": "${UNSET_V:-soft}",
    "e": "${UNSET_V-hard}",
    "f": "${EXPORTED}",
    "g": "${QUOTED}",
    "h": "${SINGLE}",
    "i": "${SPACED}",
    "j": "${REF}",
    "k": "${BOTH}",
    "l": "$$FROM_FILE",
    "m": "x${FROM_FILE}y$FROM_FILE",
    "o": "${FROM_FILE:?must}",
    "p": "${EMPTY?set, even if empty}",
    "q": "${UNSET_V}",
}
EXPECTED = {
    "a": "1g", "b": "soft", "c": "", "d": "soft", "e": "hard", "f": "768m", "g": "512m",
    "h": "$NOT_EXPANDED", "i": "256m", "j": "1g", "k": "process", "l": "$FROM_FILE", "m": "x1gy1g",
    "o": "1g", "p": "", "q": "",
}  # fmt: skip


def test_interpolation_and_dotenv_read_as_compose_does(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(DOTENV)
    env = project_env(tmp_path / "compose.yml", None, {"BOTH": "process", "PATH": "/bin"})
    assert {k: substitute(t, env, k) for k, t in TEMPLATES.items()} == EXPECTED
    assert substitute("${UNSET_V:-${FROM_FILE}}", env, "n") == "1g"  # nested (compose v2, not v1)
    assert substitute("${UNSET_V:-a-b?c}", env, "n") == "a-b?c"


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose (v1) not installed")
def test_the_same_values_as_docker_compose_config(tmp_path: Path) -> None:
    """Debian's docker-compose 1.29 interpolates with the same rules (it prints ``$`` as ``$$``)."""
    (tmp_path / ".env").write_text(DOTENV)
    body = "".join(f"      {k}: '{t}'\n" for k, t in TEMPLATES.items())
    (tmp_path / "docker-compose.yml").write_text(f"services:\n  w:\n    image: x\n    environment:\n{body}")
    environ = {"BOTH": "process", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    done = subprocess.run(
        ["docker-compose", "config"], cwd=tmp_path, env=environ, capture_output=True, text=True, check=True
    )
    theirs = plain_yaml().load(done.stdout)["services"]["w"]["environment"]
    env = project_env(tmp_path / "docker-compose.yml", None, environ)
    ours = {k: substitute(t, env, k) for k, t in TEMPLATES.items()}
    assert ours == {k: str(v).replace("$$", "$") for k, v in theirs.items()} == EXPECTED


def test_dotenv_details(tmp_path: Path) -> None:
    text = 'A="two\\nlines"\nB = spaced\nINHERITED\nNOT_THERE\nC=${A/x/y}\n'
    with pytest.raises(RightsizeError, match=r"^f:5: invalid interpolation format"):
        parse_dotenv(text, "f", {"INHERITED": "from env"})
    got = parse_dotenv(text.replace("${A/x/y}", "'${A/x/y}'"), "f", {"INHERITED": "from env"})
    assert got == {"A": "two\nlines", "B": "spaced", "INHERITED": "from env", "C": "${A/x/y}"}
    with pytest.raises(RightsizeError, match=r"^f:2: unterminated quoted value$"):
        parse_dotenv("OK=1\nX='open\n", "f", {})
    with pytest.raises(RightsizeError, match=r"^f:1: unexpected character '\$' in variable name$"):
        parse_dotenv("MY$VAR=1\n", "f", {})  # ('-' and '.' are allowed: compose-go reads MY-VAR=1)
    first, second = tmp_path / "a.env", tmp_path / "b.env"
    first.write_text("X=first\nY=first\nBASE=1g\n")
    second.write_text("X=second\nZ=${BASE}\n")
    # a later file wins (as compose documents it); the environment wins over both
    assert read_env_files([first, second], {"Y": "env"}) == {
        "X": "second",
        "Y": "env",
        "BASE": "1g",
        "Z": "1g",
    }


STACK = (
    "name: sutazai\nservices:\n  postgres:\n    image: x\n    restart: always\n    mem_limit: ${PG_MEM:-4g}\n"
)


@pytest.mark.slow
def test_cli_check_reads_dotenv_then_the_environment_then_env_file(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real analysis on the bundled sample recommends about 1.5G for postgres: 4g (the default)
    fails; ``.env`` beside the file says 1536m, which passes; the environment overrides ``.env``; and
    ``--env-file`` replaces ``.env``."""
    monkeypatch.delenv("PG_MEM", raising=False)
    path = tmp_path / "compose.yml"
    path.write_text(STACK)

    def memory(*extra: str) -> dict[str, Any]:
        code, out, err = run(["check", "-f", str(path), "--format", "json", *extra], capsys)
        assert code in (0, 1), err
        return next(r for r in json.loads(out)["rows"] if r["resource"] == "memory")

    row = memory()
    assert not row["ok"] and row["why"].startswith("reads 4g: ") and row["configured"] == "${PG_MEM:-4g}"
    (tmp_path / ".env").write_text("PG_MEM=1536m\n")
    row = memory()
    assert row["ok"] and row["why"] == "reads 1536m: within the band"
    monkeypatch.setenv("PG_MEM", "8g")
    assert memory()["why"].startswith("reads 8g: ")
    monkeypatch.delenv("PG_MEM")
    (tmp_path / "prod.env").write_text("PG_MEM=6g\n")
    assert memory("--env-file", str(tmp_path / "prod.env"))["why"].startswith("reads 6g: ")


@pytest.mark.parametrize(
    ("text", "extra", "message"),
    [
        ("    mem_limit: ${PG_MEM:?set PG_MEM in .env}\n", [],
         "{f}: services.postgres.mem_limit: required variable PG_MEM is missing a value: set PG_MEM in .env"),
        ("    mem_limit: ${PG_MEM?}\n", [],
         "{f}: services.postgres.mem_limit: required variable PG_MEM is missing a value"),
        ("    mem_limit: ${1g}\n", [],
         "{f}: services.postgres.mem_limit: invalid interpolation format '${1g}' (escape a literal $ as $$)"),
        ("    cpus: ${CPUS:-lots}\n", [],
         "{f}: services.postgres.cpus (${CPUS:-lots}): not a CPU amount: 'lots' "
         "(expected e.g. 0.5, 1.5: Docker Compose v2 reads a plain number, no 1500m, no space around it)"),
        ("    mem_limit: 1g\n", ["--env-file", "{d}/missing.env"], "env file {d}/missing.env: no such file"),
        ("    mem_limit: 1g\n", ["--env-file", ""], "--env-file is empty: expected an env file, e.g. "
         "--env-file .env.prod"),
        ("    mem_limit: 1g\n", ["--env-file", "{d}"], "env file {d}: is a directory"),
    ],
)  # fmt: skip
def test_cli_check_bad_interpolation_is_one_line_exit_2(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch, text: str, extra: list[str], message: str
) -> None:
    monkeypatch.delenv("PG_MEM", raising=False)
    monkeypatch.delenv("CPUS", raising=False)
    path = tmp_path / "compose.yml"
    path.write_text("services:\n  postgres:\n    image: x\n" + text)
    argv = [a.replace("{d}", str(tmp_path)) for a in extra]
    code, out, err = run(["check", "-f", str(path), *argv], capsys)
    want = message.replace("{f}", str(path)).replace("{d}", str(tmp_path))
    assert (code, out, err) == (2, "", f"rightsize: error: {want}\n")


def test_cli_apply_env_file_needs_a_compose_target(tmp_path: Path, capsys: Any) -> None:
    values = tmp_path / "values.yaml"
    values.write_text("resources: {}\n")
    before = sha(values)
    code, _, err = run(["apply", "--helm", str(values), "--env-file", str(tmp_path / ".env")], capsys)
    assert (code, err) == (2, "rightsize: error: --env-file works with --compose only\n")
    assert sha(values) == before
    path = tmp_path / "compose.yml"
    path.write_text("services:\n  db:\n    image: x\n")
    code, _, err = run(["apply", "-f", str(path), "--env-file", str(tmp_path / "prod.env")], capsys)
    assert (code, err) == (2, f"rightsize: error: env file {tmp_path / 'prod.env'}: no such file\n")


def test_a_limit_an_unset_variable_empties_is_one_error_line(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """compose v2 reads an unset ``${VAR}`` (or ``${VAR-}``) as "", then refuses it where a size or a
    number goes (UnitBytes: "invalid size: ''"; cpus: "failed to cast to expected type: strconv.ParseFloat:
    parsing \"\""), so check, apply and recommend stop too (check reported a missing limit)."""
    monkeypatch.delenv("PG_MEM", raising=False)
    monkeypatch.delenv("PG_RES", raising=False)
    path = tmp_path / "compose.yml"
    path.write_text(
        "services:\n  pg:\n    image: x\n    mem_limit: ${PG_MEM}\n    mem_reservation: ${PG_RES-0}\n"
    )
    for command in (["check"], ["apply"], ["recommend"]):
        code, out, err = run([*command, "-f", str(path)], capsys)
        lines = [x for x in err.splitlines() if "bundled SYNTHETIC sample" not in x]
        want = (
            f"rightsize: error: {path}: services.pg.mem_limit: ${{PG_MEM}} reads empty (PG_MEM not set: in "
            "the environment, .env or --env-file): Docker Compose v2 refuses an empty value here (set it, or "
            "0 for no limit)"
        )
        assert (code, out, lines) == (2, "", [want])
    monkeypatch.setenv("PG_MEM", "1g")
    rows = {(r.resource, r.kind): r for r in check_compose([path], [rec("p/pg", "memory", 512 * M, G)]).rows}
    assert rows[("memory", "limit")].ok and rows[("memory", "reservation")].ok  # (0: no reservation)
    path.write_text("services:\n  pg:\n    image: x\n    cpus: ''\n")  # a literal '' too
    code, out, err = run(["check", "-f", str(path)], capsys)
    assert code == 2 and f"{path}: services.pg.cpus: '' reads empty: Docker Compose v2 refuses" in err, err


def test_apply_reads_the_limit_it_leaves_in_place_from_dotenv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reservation is not written above the limit compose applies now: ``${MEM:-2g}`` is 512m when
    ``.env`` says so. The interpolated limit itself is never replaced."""
    path = tmp_path / "compose.yml"
    text = "services:\n  db:\n    image: x\n    mem_limit: ${MEM:-2g}\n"
    path.write_text(text)
    recs = [rec("p/db", "memory", G, None)]  # a reservation only: the limit is left in place
    monkeypatch.delenv("MEM", raising=False)
    (result,) = patch_compose([path], recs, dry_run=True)
    assert [c.key for c in result.changes] == ["services.db.mem_reservation"]
    (tmp_path / ".env").write_text("MEM=512m\n")
    (result,) = patch_compose([path], recs)
    assert not result.changes and path.read_text() == text
    assert result.skipped[0].reason == "not written: 1G would exceed the memory limit left in place"
    (result,) = patch_compose([path], [rec("p/db", "memory", None, G)])
    assert path.read_text() == text  # the variable is not written away
    assert result.skipped[0].reason.startswith("mem_limit is interpolated (${MEM:-2g}): not replaced")


def test_the_project_name_is_read_as_compose_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``COMPOSE_PROJECT_NAME`` (environment or ``.env``) wins over ``name:``, which is interpolated."""
    for var in ("STACK", "COMPOSE_PROJECT_NAME"):
        monkeypatch.delenv(var, raising=False)
    path = tmp_path / "compose.yml"
    path.write_text("name: ${STACK:-shop}\nservices:\n  db:\n    image: x\n")
    recs = [rec(f"{p}/db", "memory", None, (i + 1) * G) for i, p in enumerate(("shop", "prod", "ci"))]

    def written() -> str:
        (result,) = patch_compose([path], recs, dry_run=True)
        return str(result.changes[0].new)

    assert written() == "1G"
    (tmp_path / ".env").write_text("STACK=prod\n")
    assert written() == "2G"
    (tmp_path / ".env").write_text("STACK=prod\nCOMPOSE_PROJECT_NAME=ci\n")
    assert written() == "3G"
