"""`apply -f` and `check` follow a compose file's top-level ``include`` (Compose 2.20+) as Docker
Compose v2 does: services are patched and checked in the file that defines them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli as run
from cli_helpers import sha
from writer_recs import G, M, rec

from rightsize.errors import RightsizeError
from rightsize.targets.check import check_compose
from rightsize.targets.compose import patch_compose
from rightsize.targets.yaml import plain_yaml


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def load(path: Path) -> Any:
    return plain_yaml().load(path.read_text())


DB = """\
# the database, kept by the DBA team
include:
  - cache/compose.yml   # relative to this file's folder
services:
  postgres:
    image: postgres:16
    restart: unless-stopped
    mem_limit: 2g   # set by hand in 2023
    cpus: 2
"""
CACHE = """\
services:
  redis:
    image: redis:7   # pinned
    deploy:
      restart_policy: {condition: on-failure}
      resources:
        limits: {memory: 512M, cpus: "0.5"}
"""


def project(tmp_path: Path) -> tuple[Path, Path, Path]:
    top = write(tmp_path / "compose.yml", "name: sutazai\ninclude:\n  - db/compose.yml\n")
    return (
        top,
        write(tmp_path / "db" / "compose.yml", DB),
        write(tmp_path / "db" / "cache" / "compose.yml", CACHE),
    )


@pytest.mark.slow
def test_cli_apply_patches_nested_includes_in_their_own_files_then_check_passes(
    tmp_path: Path, capsys: Any
) -> None:
    """The real analysis on the bundled sample: ``--dry-run`` shows one diff per file touched and writes
    nothing; apply writes each value in the file that defines the service, every comment kept; check
    then passes, reading the same files."""
    top, db, cache = project(tmp_path)
    before = {p: p.read_text() for p in (top, db, cache)}
    code, out, _ = run(["check", "-f", str(top)], capsys)
    assert code == 1 and "postgres" in out and "redis" in out
    code, out, err = run(["apply", "-f", str(top), "--dry-run"], capsys)
    assert code == 0, err
    assert [ln for ln in out.splitlines() if ln.startswith("--- ")] == [f"--- {cache}", f"--- {db}"]
    assert {p: p.read_text() for p in (top, db, cache)} == before
    code, out, err = run(["apply", "-f", str(top)], capsys)
    assert code == 0, err
    assert top.read_text() == before[top]  # it defines no service: untouched
    for path in (db, cache):
        new = path.read_text()
        assert new != before[path]
        kept = [ln for ln in before[path].splitlines() if "#" in ln and "mem_limit" not in ln]
        assert all(ln in new.splitlines() for ln in kept)  # comments and untouched lines survive
    assert "mem_limit: 2g   # set by hand in 2023" not in db.read_text()
    assert "# set by hand in 2023" in db.read_text()
    assert "pids_limit" in load(db)["services"]["postgres"]
    assert "pids" in load(cache)["services"]["redis"]["deploy"]["resources"]["limits"]
    code, out, _ = run(["check", "-f", str(top)], capsys)
    assert code == 0, out
    code, out, _ = run(["apply", "-f", str(top)], capsys)
    assert code == 0 and "0 changed" in out


def test_long_syntax_path_list_project_directory_and_env_file(tmp_path: Path) -> None:
    """``path`` as a list (the second file overrides the first, like -f a -f b), ``project_directory``
    for the included project's relative paths, and ``env_file`` for its ``${VAR}``s (the including
    project's environment wins over it, as compose merges them)."""
    top = write(
        tmp_path / "compose.yml",
        "include:\n"
        "  - path: [svc/base.yml, svc/override.yml]\n"
        "    project_directory: svc\n"
        "    env_file: svc/values.env\n",
    )
    write(tmp_path / "svc" / "base.yml", "include: [inner.yml]\nservices:\n  api:\n    image: x\n")
    over = write(tmp_path / "svc" / "override.yml", "services:\n  api:\n    mem_limit: ${API_MEM:-4g}\n")
    write(tmp_path / "svc" / "values.env", "API_MEM=1g\nWORKER_MEM=1500m\n")
    write(
        tmp_path / "svc" / "inner.yml", "services:\n  worker:\n    image: x\n    mem_limit: ${WORKER_MEM}\n"
    )
    recs = [rec("p/api", "memory", None, G), rec("p/worker", "memory", None, 1500 * M)]
    rows = {r.service: r for r in check_compose([top], recs, project="p").rows if r.resource == "memory"}
    assert rows["api"].ok and rows["api"].why == "reads 1g: within the band"
    assert rows["worker"].ok and rows["worker"].why == "reads 1500m: within the band"
    write(tmp_path / ".env", "API_MEM=3g\n")  # the including project's .env wins over the include's
    rows = {r.service: r for r in check_compose([top], recs, project="p").rows if r.resource == "memory"}
    assert not rows["api"].ok and rows["api"].why.startswith("reads 3g: 200% above")
    (result_over, *_) = [
        r for r in patch_compose([top], recs, project="p", dry_run=True) if r.target == str(over)
    ]
    assert not result_over.diff  # an interpolated limit is never replaced
    assert "is interpolated (${API_MEM:-4g}): not replaced; set it to 1G" in result_over.skipped[0].reason


def test_an_included_project_name_is_not_the_projects(tmp_path: Path) -> None:
    """Compose imports services, networks, volumes... from an included file, never its ``name``."""
    top = write(
        tmp_path / "compose.yml", "include: [lib/compose.yml]\nname: shop\nservices:\n  web: {image: x}\n"
    )
    lib = write(tmp_path / "lib" / "compose.yml", "name: lib\nservices:\n  db:\n    image: x\n")
    results = patch_compose([top], [rec("shop/db", "memory", None, G), rec("lib/web", "memory", None, G)])
    assert [(r.target, len(r.changes)) for r in results] == [(str(lib), 1), (str(top), 0)]


def test_a_file_included_twice_is_read_and_patched_once(tmp_path: Path) -> None:
    top = write(tmp_path / "compose.yml", "include: [a.yml, b.yml]\n")
    write(tmp_path / "a.yml", "include: [common.yml]\nservices:\n  a: {image: x}\n")
    write(tmp_path / "b.yml", "include: [common.yml]\nservices:\n  b: {image: x}\n")
    common = write(tmp_path / "common.yml", "services:\n  db:\n    image: x\n")
    results = patch_compose([top], [rec("p/db", "memory", None, G)])
    assert [r.target for r in results if r.changes] == [str(common)]
    assert load(common)["services"]["db"]["deploy"]["resources"]["limits"]["memory"] == "1G"


def test_a_relative_first_file_gives_relative_included_paths(tmp_path: Path, capsys: Any) -> None:
    """Paths resolve against the including file's folder, not the working directory."""
    project(tmp_path)
    cwd = Path.cwd()
    os.chdir(tmp_path.parent)
    try:
        recs = [rec("sutazai/redis", "pids", None, 100)]
        results = patch_compose([Path(tmp_path.name) / "compose.yml"], recs, dry_run=True)
    finally:
        os.chdir(cwd)
    (touched,) = [r for r in results if r.diff]
    assert touched.target == f"{tmp_path.name}/db/cache/compose.yml"
    assert touched.diff.startswith(f"--- a/{tmp_path.name}/db/cache/compose.yml\n")


def test_a_remote_include_is_named_in_a_warning_and_the_rest_followed(tmp_path: Path, capsys: Any) -> None:
    top = write(
        tmp_path / "compose.yml",
        "include:\n  - oci://registry.example/stack:1\n  - git@github.com:org/repo.git\n  - db.yml\n",
    )
    write(tmp_path / "db.yml", "services:\n  db:\n    image: x\n")
    with pytest.warns(UserWarning) as caught:
        rows = check_compose([top], [rec("p/db", "memory", None, G)]).rows
    assert {r.service for r in rows} == {"db"}
    assert [str(w.message) for w in caught] == [
        f"{top}: include {url} is remote: not followed (rightsize reads local files only): "
        "its services are neither patched nor checked"
        for url in ("oci://registry.example/stack:1", "git@github.com:org/repo.git")
    ]


def cases(tmp: Path) -> dict[str, tuple[dict[str, str], str]]:
    """name -> (files relative to tmp, the one stderr message)."""
    top = tmp / "compose.yml"
    return {
        "cycle": (
            {"compose.yml": "include: [a/a.yml]\nservices:\n  web: {image: x}\n",
             "a/a.yml": "include: [../b.yml]\nservices:\n  a: {image: x}\n",
             "b.yml": "include: [a/a.yml]\nservices:\n  b: {image: x}\n"},
            f"include cycle: {tmp / 'a' / 'a.yml'} -> {tmp / 'b.yml'} -> {tmp / 'a' / 'a.yml'}",
        ),
        "missing": (
            {"compose.yml": "include:\n  - path: gone.yml\nservices:\n  web: {image: x}\n"},
            f"{top}: include gone.yml: no such file ({tmp / 'gone.yml'})",
        ),
        "not a list": (
            {"compose.yml": "include: db.yml\nservices:\n  web: {image: x}\n"},
            f"{top}: include must be a list of files",
        ),
        "unknown key": (
            {"compose.yml": "include:\n  - {path: db.yml, profiles: [x]}\nservices:\n  web: {image: x}\n"},
            f"{top}: include[0]: unknown key profiles (path, project_directory, env_file)",
        ),
        "required variable in the path": (
            {"compose.yml": "include: ['${STACK:?name the stack}.yml']\nservices:\n  web: {image: x}\n"},
            f"{top}: include[0].path: required variable STACK is missing a value: name the stack",
        ),
        "missing env_file": (
            {"compose.yml": "include:\n  - {path: db.yml, env_file: db.env}\n",
             "db.yml": "services:\n  db: {image: x}\n"},
            f"env file {tmp / 'db.env'}: no such file",
        ),
        "an included file that is not compose": (
            {"compose.yml": "include: [db.yml]\nservices:\n  web: {image: x}\n", "db.yml": "- a\n- b\n"},
            f"{tmp / 'db.yml'}: not a compose file (the top level is not a mapping)",
        ),
    }  # fmt: skip


@pytest.mark.parametrize("name", list(cases(Path("/x"))))
@pytest.mark.parametrize("command", ["apply", "check"])
def test_bad_includes_are_one_line_exit_2_nothing_written(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch, name: str, command: str
) -> None:
    monkeypatch.delenv("STACK", raising=False)
    files, message = cases(tmp_path)[name]
    paths = [write(tmp_path / rel, text) for rel, text in files.items()]
    before = [sha(p) for p in paths]
    code, out, err = run([command, "-f", str(tmp_path / "compose.yml")], capsys)
    assert (code, out, err) == (2, "", f"rightsize: error: {message}\n")
    assert [sha(p) for p in paths] == before


def test_a_read_only_included_file_stops_the_whole_apply(tmp_path: Path, capsys: Any) -> None:
    """Write all or none: the including file, which has a change too, is not written either."""
    top = write(tmp_path / "compose.yml", "include: [db.yml]\nservices:\n  web:\n    image: x\n")
    db = write(tmp_path / "db.yml", "services:\n  db:\n    image: x\n")
    db.chmod(0o444)
    before = (sha(top), sha(db))
    with pytest.raises(RightsizeError, match=r"db\.yml: file is read-only; nothing written"):
        patch_compose([top], [rec("p/db", "memory", None, G), rec("p/web", "memory", None, G)])
    assert (sha(top), sha(db)) == before
    results = patch_compose([top], [rec("p/web", "memory", None, G)], dry_run=True)  # no write: no refusal
    assert [bool(r.diff) for r in results] == [False, True]


def test_one_result_per_file_included_files_first(tmp_path: Path) -> None:
    top, db, cache = project(tmp_path)
    results = patch_compose([top], [rec("sutazai/postgres", "memory", None, G)], dry_run=True)
    assert [r.target for r in results] == [str(cache), str(db), str(top)]
    (change,) = results[1].changes
    assert (change.key, change.old, change.new) == ("services.postgres.mem_limit", "2g", "1g")
