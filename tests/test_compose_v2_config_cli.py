"""The differential reading through the CLI: --project-directory, several documents, what compose
refuses, twin keys, include version differences (see test_compose_v2_config)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import run_cli, sha
from compose_v2_reading import (
    Case,
    _have_v2,
    _svc,
    _write,
    agree,
    rs_read,
    v2_config,
)
from test_compose_v2_config_names import CASES  # the corner projects these CLI tests reuse

pytestmark = pytest.mark.skipif(not _have_v2(), reason="Docker Compose v2 (docker compose) not installed")


def test_apply_refuses_a_file_of_several_documents_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """check and recommend -f read it as compose does; apply would patch each document apart (one
    overwriting the other): refused, the file untouched."""
    case = CASES["documents"]
    _write(tmp_path, case.files)
    path = tmp_path / "compose.yml"
    before = sha(path)
    code, out, err = run_cli(["apply", "-f", str(path)], capsys)
    lines = [x for x in err.splitlines() if "SYNTHETIC" not in x]
    assert (code, out, len(lines)) == (2, "", 1), err
    assert lines[0].startswith(f"rightsize: error: {path}: holds several YAML documents")
    assert sha(path) == before
    code, out, err = run_cli(["check", "-f", str(path)], capsys)
    assert code in (0, 1) and "db " in out, err  # read: a verdict per service, no error


def test_project_directory_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """check reads the values --project-directory's .env gives (as docker compose config does), and
    names the project after that folder; apply --dry-run finds the include there."""
    case = CASES["project-directory"]
    values = agree(tmp_path, case)
    assert values["db"]["memory"] == (None, 3 * 2**30)  # Other.Dir/.env, not files/.env
    compose = str(tmp_path / "files/compose.yml")
    code, out, err = run_cli(
        ["check", "-f", compose, "--project-directory", str(tmp_path / "Other.Dir"), "--format", "json"],
        capsys,
    )
    assert code in (0, 1), err
    rows = {(r["service"], r["resource"]): r for r in json.loads(out)["rows"]}
    assert rows[("db", "memory")]["why"].startswith("reads 3g")
    assert rows[("db", "cpu")]["configured"] == "2" and rows[("i", "pids")]["configured"] == "2"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["check", "-f", "{c}", "--project-directory", "{t}/nope"],
            "--project-directory {t}/nope: no such folder",
        ),
        (["recommend", "-f", "{c}", "--project-directory", "{c}"], "--project-directory {c}: not a folder"),
        (["report", "-f", "{c}", "--project-directory", " "], "--project-directory is empty"),
        (["recommend", "--project-directory", "{t}"], "--project-directory works with --compose only"),
        (["apply", "--live", "--project-directory", "{t}"], "--project-directory works with --compose only"),
        (
            ["apply", "-f", "{c}", "--project-directory", "{t}/nope"],
            "--project-directory {t}/nope: no such folder",
        ),
    ],
)
def test_a_bad_project_directory_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    compose = tmp_path / "compose.yml"
    compose.write_text(_svc("    mem_limit: 1g\n"))
    fill = {"c": str(compose), "t": str(tmp_path)}
    before = sha(compose)
    code, out, err = run_cli([a.format(**fill) for a in args], capsys)
    lines = [x for x in err.splitlines() if "SYNTHETIC" not in x]
    assert (code, out, len(lines)) == (2, "", 1), err
    assert lines[0].startswith("rightsize: error: " + message.format(**fill)), lines[0]
    assert sha(compose) == before


def test_a_float_memory_limit_is_no_limit_with_one_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``mem_limit: 1e9``: compose-go's UnitBytes takes an int or a string and lets a float through as
    0, so the container runs unlimited; check says so (rightsize read 1e9 bytes: a limit that is not)."""
    values = agree(tmp_path, Case({"compose.yml": _svc("    mem_limit: 1e9\n    cpus: 1\n")}))
    assert values["db"]["memory"] == (None, None)
    code, out, err = run_cli(["check", "-f", str(tmp_path / "compose.yml"), "--format", "json"], capsys)
    assert code == 1, err
    warned = [x for x in err.splitlines() if "YAML float" in x]
    assert len(warned) == 1 and warned[0].startswith("rightsize: warning: ") and "(1000000000.0)" in warned[0]
    row = next(r for r in json.loads(out)["rows"] if r["resource"] == "memory")
    assert (row["configured"], row["ok"]) == (None, False) and row["why"].startswith("no memory limit")


# ---- a known version difference ---------------------------------------------------------------

INCLUDE_CONFLICTS = {
    # two includes bring db, differing: Compose 5.0 (compose-go 2.10+, #835) merges, the first wins
    "two-includes": (
        {
            "compose.yml": "include: [a.yml, b.yml]\nservices:\n  web: {image: y}\n",
            "a.yml": _svc("    mem_limit: 1g\n"),
            "b.yml": _svc("    mem_limit: 2g\n    cpus: 2\n"),
        },
        {"memory": (None, 2**30), "cpu": (None, 2.0), "pids": (None, None)},
    ),
    # the file's own db and an included one: the own one merges over the included one
    "own-and-included": (
        {"compose.yml": "include: [a.yml]\n" + _svc("    cpus: 1\n"), "a.yml": _svc("    mem_limit: 1g\n")},
        {"memory": (None, 2**30), "cpu": (None, 1.0), "pids": (None, None)},
    ),
}


@pytest.mark.parametrize("name", list(INCLUDE_CONFLICTS))
def test_a_service_two_includes_bring_is_read_as_compose_5_merges_it(tmp_path: Path, name: str) -> None:
    """rightsize deliberately follows Docker Compose 5.0 (compose-go 2.10+): the copies merge, the
    including file's own first, then the first include. Compose 2.20-2.40 (here 2.40.3, compose-go
    2.9.1) refuses copies that differ ("services.db conflicts with imported resource") and accepts
    identical ones, which read alike in both (test_corner_reads_as_compose_v2[include-*]; apply keeps
    identical copies identical, see copies.py)."""
    files, want = INCLUDE_CONFLICTS[name]
    root = tmp_path / "proj"
    _write(root, files)
    cfg, err = v2_config(root, Case(files))
    assert cfg is None and "services.db conflicts with imported resource" in err
    got, _ = rs_read(root, Case(files))
    assert got["db"] == want


def test_twin_keys_that_disagree_compose_refuses_check_flags_recommend_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``mem_reservation`` beside a ``deploy.resources.reservations`` block without ``memory``: v2
    refuses the project (checkConsistency). rightsize is lenient here without reading another value:
    check turns it into a failing 'conflict' row (exit 1, every other row still shown) and recommend
    -f shows the service-level value, the one compose would use once the block agrees."""
    body = "    mem_reservation: 100m\n    deploy: {resources: {reservations: {cpus: '0.25'}}}\n"
    case = Case({"compose.yml": _svc(body)})
    root = tmp_path / "proj"
    _write(root, case.files)
    cfg, err = v2_config(root, case)
    assert cfg is None and "can't set distinct values on 'mem_reservation'" in err
    got, _ = rs_read(root, case)
    assert got["db"]["memory"] == (100 * 2**20, None)
    code, out, err = run_cli(["check", "-f", str(root / "compose.yml"), "--format", "json"], capsys)
    assert code == 1, err
    conflict = [r for r in json.loads(out)["rows"] if "disagree" in r["why"]]
    assert len(conflict) == 1 and "Docker Compose v2 refuses the file" in conflict[0]["why"]


def test_recommend_reads_a_file_of_several_documents_as_compose(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """recommend -f on the bundled sample (project sutazai): the current values are the merged
    documents' (the second document's 12g and 3 CPUs), the ones docker compose config gives."""
    text = "name: sutazai\nservices:\n  ollama: {image: x, mem_limit: 16g}\n---\n"
    text += "services:\n  ollama: {mem_limit: 12g, cpus: 3}\n"
    values = agree(tmp_path, Case({"compose.yml": text}))
    assert values["ollama"]["memory"] == (None, 12 * 2**30)
    args = [
        "recommend",
        "-f",
        str(tmp_path / "compose.yml"),
        "--format",
        "json",
        "--workload",
        "sutazai/ollama",
    ]
    code, out, err = run_cli(args, capsys)
    assert code == 0, err
    current = {r["resource"]: r["current"] for r in json.loads(out)}
    assert current["memory"] == {"reservation": None, "limit": 12 * 2**30}
    assert current["cpu"] == {"reservation": None, "limit": 3.0}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name: "${NOPE}"\nservices:\n  db: {image: x}\n', "reads as an empty project name"),
        ("name: 7\nservices:\n  db: {image: x}\n", "name: 7 is not a string"),
        ("services:\n  db: {image: x}\n---\n", "not a compose file (the top level of its document 2"),
    ],
)
@pytest.mark.parametrize("command", ["check", "recommend", "apply"])
def test_what_compose_v2_refuses_is_one_line_through_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, text: str, message: str
) -> None:
    path = tmp_path / "compose.yml"
    path.write_text(text)
    cfg, _ = v2_config(tmp_path, Case({"compose.yml": text}))
    assert cfg is None  # (docker compose refuses it too)
    before = sha(path)
    code, out, err = run_cli([command, "-f", str(path)], capsys)
    lines = [x for x in err.splitlines() if "SYNTHETIC" not in x]
    assert (code, out, len(lines)) == (2, "", 1), err
    assert lines[0].startswith(f"rightsize: error: {path}") and message in lines[0]
    assert sha(path) == before


def test_extends_of_an_included_service_is_read_as_compose_5_reads_it(tmp_path: Path) -> None:
    """``extends: x`` where ``x`` comes from the file's own ``include``: Docker Compose 2.40.3
    (compose-go 2.9.1) refuses it ('service "x" not found', docker/compose#12533); Compose 5
    resolves includes first (docker/compose#13606, compose-go#868), and rightsize follows it
    (test_compose_include_extends). In a file of several documents only the same document's
    includes count (test_a_file_compose_v2_refuses_gives_no_numbers[extends-another-documents-include])."""
    files = {
        "compose.yml": "include: [inc.yml]\nservices:\n  db: {extends: x, image: y}\n",
        "inc.yml": "services:\n  x: {image: x, cpus: 2, mem_limit: 1g}\n",
    }
    root = tmp_path / "proj"
    _write(root, files)
    cfg, err = v2_config(root, Case(files))
    assert cfg is None and 'service "x" not found' in err
    got, _ = rs_read(root, Case(files))
    assert got["db"] == {"memory": (None, 2**30), "cpu": (None, 2.0), "pids": (None, None)}
