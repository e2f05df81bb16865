"""`.env` files read as Docker Compose v2 reads them (compose-go's dotenv parser), through the CLI.

Each corner is read back from ``check``'s restart row: ``restart: ${VAR}`` shows the value compose
would use, verbatim (any non-"no" policy passes, so the probe itself judges nothing). Docker Compose
v1 (Debian's docker-compose 1.29, python-dotenv) agrees on most lines; where it differs, rightsize
follows v2 and the test says so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli as run

from rightsize.targets.yaml import plain_yaml

# name -> (the .env line, what compose v2 reads)
CORNERS = {
    "HASH_GLUED": ("HASH_GLUED=x#y", "x#y"),  # '#' starts a comment only after a space
    "HASH_SPACED": ("HASH_SPACED=x #a comment", "x"),
    "HASH_QUOTED": ('HASH_QUOTED="x #y" # a comment', "x #y"),
    "ESC_QUOTE": ('ESC_QUOTE="say \\"hi\\""', 'say "hi"'),
    "ESC_BACKSLASH": ('ESC_BACKSLASH="C:\\\\data\\\\x"', "C:\\data\\x"),
    "ESC_NEWLINE": ('ESC_NEWLINE="two\\nlines"', "two\nlines"),
    "SINGLE": ("SINGLE='literal $HASH_GLUED \\n'", "literal $HASH_GLUED \\n"),
    "SINGLE_ESC": ("SINGLE_ESC='it\\'s'", "it's"),  # single quotes are literal but for \'
    "DOUBLE_REF": ('DOUBLE_REF="${HASH_GLUED}!"', "x#y!"),
    "EXPORTED": ("export EXPORTED=yes", "yes"),
    "AFTER_BLANKS": ("\n\n   # an indented comment\n\tAFTER_BLANKS =  spaced  ", "spaced"),
}
V2_ONLY = {
    # v1 cuts at any white space before '#'; compose-go only at " #"
    "TAB_HASH": ("TAB_HASH=x\t#y", "x\t#y"),
    # v1 keeps the backslash (\$EXPANDED); compose-go reads a literal $
    "ESC_DOLLAR": ('ESC_DOLLAR="not \\$EXPANDED"', "not $EXPANDED"),
    # v1 reads no KEY: VALUE lines; compose-go takes them as KEY=VALUE
    "YAMLISH": ("YAMLISH: colon=ok", "colon=ok"),
}
EXTRA = [
    "MY-DASHED.KEY=1",  # keys may hold '-', '.', '[' and ']' (no ${} can name them)
    "a[1]=2",
    "INHERITED",  # a line without '=': the value the environment has
    "NOT_IN_ENV",
]


def dotenv() -> str:
    lines = [line for line, _ in (*CORNERS.values(), *V2_ONLY.values())]
    return "# corners\n" + "\n".join([*lines, *EXTRA]) + "\n"


def compose(names: list[str]) -> str:
    body = "".join(f"  {n.lower()}:\n    image: x\n    restart: ${{{n}}}\n" for n in names)
    return "name: corners\nservices:\n" + body


def restarts(out: str) -> dict[str, str | None]:
    return {r["service"]: r["configured"] for r in json.loads(out)["rows"] if r["resource"] == "restart"}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (*CORNERS, *V2_ONLY, "INHERITED", "NOT_IN_ENV", "COMPOSE_DISABLE_ENV_FILE", "MEM"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.slow
def test_dotenv_corners_read_as_compose_v2_through_check(
    tmp_path: Path, capsys: Any, clean_env: pytest.MonkeyPatch
) -> None:
    names = [*CORNERS, *V2_ONLY, "INHERITED", "NOT_IN_ENV"]
    path = tmp_path / "compose.yml"
    path.write_text(compose(names))
    (tmp_path / ".env").write_text(dotenv())
    clean_env.setenv("INHERITED", "from the shell")
    code, out, err = run(["check", "-f", str(path), "--format", "json"], capsys)
    assert code == 1, err  # no limits at all: the checklist fails, not the reading
    want = {n.lower(): v for n, (_, v) in {**CORNERS, **V2_ONLY}.items()}
    # NOT_IN_ENV: a bare key the environment lacks is not set: compose reads ${NOT_IN_ENV} as ""
    assert restarts(out) == {**want, "inherited": "from the shell", "not_in_env": None}
    # COMPOSE_DISABLE_ENV_FILE (the environment only) skips .env, as compose does
    clean_env.setenv("COMPOSE_DISABLE_ENV_FILE", "true")
    code, out, err = run(["check", "-f", str(path), "--format", "json"], capsys)
    assert set(restarts(out).values()) == {None, "from the shell"}


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose (v1) not installed")
def test_the_corners_v1_and_v2_agree_on_read_as_docker_compose_config(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    """The lines both versions read alike, checked against the real ``docker-compose config``."""
    from rightsize.targets.interpolate import project_env, substitute

    (tmp_path / ".env").write_text(dotenv())
    env_lines = "".join(f"      {n}: '${{{n}}}'\n" for n in CORNERS)
    (tmp_path / "docker-compose.yml").write_text(
        f"services:\n  w:\n    image: x\n    environment:\n{env_lines}"
    )
    environ = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    done = subprocess.run(
        ["docker-compose", "config"], cwd=tmp_path, env=environ, capture_output=True, text=True, check=True
    )
    theirs = plain_yaml().load(done.stdout)["services"]["w"]["environment"]
    env = project_env(tmp_path / "docker-compose.yml", None, environ)
    ours = {n: substitute(f"${{{n}}}", env, n) for n in CORNERS}
    assert ours == {n: str(v).replace("$$", "$") for n, v in theirs.items()}
    assert ours == {n: v for n, (_, v) in CORNERS.items()}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        # compose v2 keeps "1g#x" whole: not a size (the old reading cut it to 1g without a word)
        ("MEM=1g#x", "{f}: services.postgres.mem_limit (${MEM}): not a memory size: '1g#x'"),
        ("lol$wut", "{e}:2: unexpected character '$' in variable name"),
        ("MY KEY=1", "{e}:2: key cannot contain a space ('MY KEY')"),
        ("MEM='1g", "{e}:2: unterminated quoted value"),
        ('MEM="1g\\"', "{e}:2: unterminated quoted value"),  # \" escapes the closing quote
        ("MEM=${NOPE:?set it}", "{e}:2: required variable NOPE is missing a value: set it"),
    ],
)
def test_a_bad_dotenv_line_is_one_error_line_exit_2(
    tmp_path: Path, capsys: Any, clean_env: pytest.MonkeyPatch, line: str, message: str
) -> None:
    clean_env.delenv("NOPE", raising=False)
    path = tmp_path / "compose.yml"
    path.write_text("services:\n  postgres:\n    image: x\n    mem_limit: ${MEM}\n")  # (in the data)
    dot = tmp_path / ".env"
    dot.write_text(f"# first line\n{line}\n")
    before = path.read_bytes()
    for command in (["check"], ["apply", "--dry-run"]):
        code, out, err = run([*command, "-f", str(path)], capsys)
        want = message.replace("{f}", str(path)).replace("{e}", str(dot))
        assert (code, out) == (2, "")
        lines = [x for x in err.splitlines() if "bundled SYNTHETIC sample" not in x]  # (apply reads data)
        assert len(lines) == 1 and lines[0].startswith(f"rightsize: error: {want}"), err
    assert path.read_bytes() == before


def test_compose_disable_env_file_must_be_a_boolean(
    tmp_path: Path, capsys: Any, clean_env: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "compose.yml"
    path.write_text("services:\n  db:\n    image: x\n    mem_limit: 1g\n")
    (tmp_path / ".env").write_text("MEM=1g\n")
    clean_env.setenv("COMPOSE_DISABLE_ENV_FILE", "maybe")
    code, out, err = run(["check", "-f", str(path)], capsys)
    assert (code, out) == (2, "")
    assert err == (
        "rightsize: error: COMPOSE_DISABLE_ENV_FILE='maybe': expected true or false (as compose reads it)\n"
    )


# ---- COMPOSE_FILE -----------------------------------------------------------------------------------
# rightsize reads (and writes) the files given with -f, as `docker compose -f` does; `docker compose`
# without -f reads COMPOSE_FILE instead. A COMPOSE_FILE naming other files gets one warning line.


def two_files(tmp_path: Path) -> tuple[Path, Path]:
    base = tmp_path / "compose.yml"
    base.write_text("name: sutazai\nservices:\n  postgres:\n    image: x\n    restart: always\n")
    prod = tmp_path / "prod.yml"
    prod.write_text("services:\n  postgres:\n    mem_limit: 1536m\n")
    return base, prod


def warnings_of(err: str) -> list[str]:
    lines = err.splitlines()
    return [line for line in lines if line.startswith("rightsize: warning:") and "bundled" not in line]


@pytest.mark.slow
def test_compose_file_naming_other_files_than_f_is_one_warning(
    tmp_path: Path, capsys: Any, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.delenv("COMPOSE_FILE", raising=False)
    clean_env.delenv("COMPOSE_PATH_SEPARATOR", raising=False)
    base, prod = two_files(tmp_path)
    (tmp_path / ".env").write_text("COMPOSE_FILE=compose.yml:prod.yml\n")
    code, out, err = run(["check", "-f", str(base), "--format", "json"], capsys)
    assert code == 1  # prod.yml's limit is not read: no memory limit
    assert warnings_of(err) == [
        f"rightsize: warning: COMPOSE_FILE (from the env file) names {base}, {prod}: docker compose "
        f"without -f reads those, rightsize reads only {base}; give the same files with -f"
    ]
    code, out, err = run(["check", "-f", str(base), "-f", str(prod), "--format", "json"], capsys)
    memory = next(r for r in json.loads(out)["rows"] if r["resource"] == "memory")
    assert memory["configured"] == "1536m" and warnings_of(err) == []
    # the separator, and a COMPOSE_FILE from the shell: relative to the current folder
    (tmp_path / ".env").write_text("COMPOSE_PATH_SEPARATOR=;\n")
    clean_env.chdir(tmp_path)
    clean_env.setenv("COMPOSE_FILE", "compose.yml;prod.yml")
    code, out, err = run(["check", "-f", "compose.yml", "-f", "prod.yml"], capsys)
    assert warnings_of(err) == []
    clean_env.setenv("COMPOSE_FILE", "prod.yml")
    code, out, err = run(["check", "-f", "compose.yml"], capsys)
    assert warnings_of(err) == [
        f"rightsize: warning: COMPOSE_FILE (from the environment) names {prod}: docker compose without -f "
        "reads those, rightsize reads only compose.yml; give the same files with -f"
    ]


def test_no_override_warning_when_compose_file_picks_the_files(
    tmp_path: Path, capsys: Any, clean_env: pytest.MonkeyPatch
) -> None:
    """compose.override.yml beside compose.yml is merged only when compose looks for default files,
    which it does not when COMPOSE_FILE is set. (A fast, failing run: the warnings come first.)"""
    clean_env.delenv("COMPOSE_FILE", raising=False)
    base, _ = two_files(tmp_path)
    (tmp_path / "compose.override.yml").write_text("services:\n  postgres:\n    cpus: 1\n")
    argv = ["check", "-f", str(base), "--services", "nosuch"]
    (tmp_path / ".env").write_text("COMPOSE_FILE=compose.yml\n")
    code, _, err = run(argv, capsys)
    assert code == 2 and warnings_of(err) == []
    (tmp_path / ".env").unlink()  # (this order: Python shows one warning text once per process)
    code, _, err = run(argv, capsys)
    assert code == 2 and len(warnings_of(err)) == 1 and "compose.override.yml is beside" in err
