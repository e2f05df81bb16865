"""Corner cases of today's compose work, found by trying to break it through the CLI: JSON compose
files, ``extends`` chains, ``.env`` and interpolation. The bundled sample recommends 1536M for
``sutazai/postgres``'s memory limit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli as run
from cli_helpers import sha

COMPACT = '{"name":"sutazai","services":{"postgres":{"image":"x","mem_limit":"1g"}}}'


def test_apply_to_compact_json_keeps_it_json(tmp_path: Path, capsys: Any) -> None:
    """``{"a":"b"}`` (no space after the colon, as JSON tools write it) read 'internal: could not find
    a key's colon', exit 2."""
    path = tmp_path / "compose.json"
    path.write_text(COMPACT)
    code, _, err = run(["apply", "-f", str(path), "--only", "memory"], capsys)
    assert code == 0, err
    service = json.loads(path.read_text())["services"]["postgres"]
    assert service["mem_limit"] == "1536m" and service["mem_reservation"]


def _check(path: Path, capsys: Any) -> tuple[int, str, str]:
    return run(["check", "-f", str(path), "--services", "postgres", "--format", "json"], capsys)


def _memory(out: str) -> dict[str, Any]:
    return next(r for r in json.loads(out)["rows"] if r["resource"] == "memory")


def test_extends_cycles_are_one_error_line(tmp_path: Path, capsys: Any) -> None:
    """compose (v1 and v2) refuses an extends cycle ("Circular reference"); check and apply read the
    service as if the cycle were not there."""
    (tmp_path / "self.yml").write_text(
        "name: sutazai\nservices:\n  postgres:\n    image: x\n    mem_limit: 1g\n    extends: postgres\n"
    )
    (tmp_path / "a.yml").write_text(
        "name: sutazai\nservices:\n  postgres:\n    image: x\n    extends: {file: b.yml, service: db}\n"
    )
    (tmp_path / "b.yml").write_text(
        "services:\n  db:\n    mem_limit: 1g\n    extends: {file: a.yml, service: postgres}\n"
    )
    for name in ("self.yml", "a.yml"):
        before = sha(tmp_path / name)
        for cmd in ("check", "apply"):
            code, out, err = run([cmd, "-f", str(tmp_path / name)], capsys)
            assert code == 2 and out == "", (cmd, name, out, err)
            (line,) = [ln for ln in err.splitlines() if "warning: no --data" not in ln]
            assert line.startswith("rightsize: error: ") and "extends cycle" in line, line
        assert sha(tmp_path / name) == before


def test_a_long_extends_chain_is_followed_to_its_end(tmp_path: Path, capsys: Any) -> None:
    """Twelve services deep (compose has no depth limit): the limit at the end was not read (the
    chain stopped after ten), so check said 'no memory limit'."""
    lines = ["name: sutazai", "services:", "  postgres:", "    image: x", "    extends: s1"]
    for i in range(1, 13):
        lines += [f"  s{i}:", "    image: x", f"    extends: s{i + 1}" if i < 12 else "    mem_limit: 1g"]
    path = tmp_path / "compose.yml"
    path.write_text("\n".join(lines) + "\n")
    code, out, err = _check(path, capsys)
    assert code == 1, err
    assert _memory(out)["configured"] == "1g"


@pytest.mark.parametrize("target", ["over.yml", "over.yml.bak"])  # a link to the file; a link loop
def test_apply_backup_that_cannot_be_made_writes_no_file(tmp_path: Path, capsys: Any, target: str) -> None:
    """-f compose.yml -f over.yml --backup, where over.yml.bak cannot be written: compose.yml was
    already rewritten (and backed up) when over.yml's copy failed, with a Python repr for a message
    ("PosixPath('...') and PosixPath('...') are the same file")."""
    base, over = tmp_path / "compose.yml", tmp_path / "over.yml"
    base.write_text("name: sutazai\nservices:\n  postgres:\n    image: x\n    mem_limit: 1g\n")
    over.write_text("services:\n  postgres:\n    cpus: 0.5\n")
    (tmp_path / "over.yml.bak").symlink_to(target)
    before = sha(base), sha(over)
    code, out, err = run(["apply", "-f", str(base), "-f", str(over), "--backup"], capsys)
    assert code == 2 and out == ""
    (line,) = [ln for ln in err.splitlines() if "warning: no --data" not in ln]
    assert line.startswith("rightsize: error: ") and "over.yml.bak" in line and "PosixPath" not in line
    assert (sha(base), sha(over)) == before
    assert not (tmp_path / "compose.yml.bak").exists()


STACK = {
    "name": "sutazai",
    "services": {
        "postgres": {"image": "x", "mem_limit": "1g"},
        "backend": {"image": "y", "deploy": {"resources": {"limits": {"memory": "1g"}}}},
    },
}


@pytest.mark.parametrize(("indent", "newline"), [(2, "\n"), (2, "\r\n"), ("\t", "\n")])
def test_apply_to_indented_json_writes_one_key_a_line(
    tmp_path: Path, capsys: Any, indent: int | str, newline: str
) -> None:
    """An indented JSON file (as json.dump writes it) got its new keys on the line of the last one
    ('"mem_limit": "1536m", "mem_reservation": "896m"') and a new block as one line; now the file
    reads as json.dump would write the new values."""
    path = tmp_path / "compose.json"
    path.write_bytes((json.dumps(STACK, indent=indent) + "\n").replace("\n", newline).encode())
    code, _, err = run(["apply", "-f", str(path), "--only", "memory"], capsys)
    assert code == 0, err
    text = path.read_bytes().decode()
    assert text.count(newline) == text.count("\n")  # one line ending throughout
    got = json.loads(text)
    assert got["services"]["postgres"] == {"image": "x", "mem_limit": "1536m", "mem_reservation": "896m"}
    assert got["services"]["backend"]["deploy"]["resources"]["reservations"] == {"memory": "896m"}
    assert text.replace("\r\n", "\n") == json.dumps(got, indent=indent) + "\n"


def test_extends_in_two_files_both_count(tmp_path: Path, capsys: Any) -> None:
    """Docker Compose v2 applies each -f file's extends before merging the files: postgres gets
    mem_limit from a.yml's base and cpus from over.yml's. Only the last file's chain was read, so
    check said 'no memory limit' for a service running with 1g."""
    (tmp_path / "a.yml").write_text(
        "name: sutazai\nservices:\n  postgres:\n    image: x\n    extends: b1\n"
        "  b1:\n    image: x\n    mem_limit: 1g\n"
    )
    (tmp_path / "over.yml").write_text(
        "services:\n  postgres:\n    extends: b2\n  b2:\n    image: x\n    cpus: 1\n"
    )
    files = ["-f", str(tmp_path / "a.yml"), "-f", str(tmp_path / "over.yml")]
    code, out, err = run(["check", *files, "--services", "postgres", "--format", "json"], capsys)
    assert code == 1, err
    rows = {r["resource"]: r["configured"] for r in json.loads(out)["rows"] if r["kind"] == "limit"}
    assert rows["memory"] == "1g" and rows["cpu"] == "1"


@pytest.mark.parametrize("cmd", ["recommend", "report"])
def test_recommend_and_report_name_a_folder_as_a_folder(tmp_path: Path, capsys: Any, cmd: str) -> None:
    """-f FOLDER said 'compose file not found: FOLDER' (apply and check: 'is a directory')."""
    out_file = ["-o", str(tmp_path / "r.html")] if cmd == "report" else []
    code, out, err = run([cmd, "-f", str(tmp_path), *out_file], capsys)
    assert code == 2 and out == ""
    assert err.splitlines()[-1] == f"rightsize: error: {tmp_path}: is a directory, not a compose file"


def test_a_read_only_file_with_nothing_to_change_does_not_stop_apply(tmp_path: Path, capsys: Any) -> None:
    """A read-only included file (or -f base file) that needs no change stopped the whole apply
    ('lib/base.yml: file is read-only; nothing written'), though only compose.yml had changes."""
    (tmp_path / "lib").mkdir()
    top = tmp_path / "compose.yml"
    head = "name: sutazai\ninclude:\n  - lib/base.yml\nservices:\n"
    top.write_text(head + "  postgres:\n    image: x\n    mem_limit: 1g\n")
    lib = tmp_path / "lib" / "base.yml"
    lib.write_text("services:\n  vendored:\n    image: x\n")
    lib.chmod(0o444)
    before = sha(lib)
    code, _, err = run(["apply", "-f", str(top), "--only", "memory", "--backup"], capsys)
    assert code == 0, err
    assert "mem_limit: 1536m" in top.read_text() and sha(lib) == before
    assert not (tmp_path / "lib" / "base.yml.bak").exists()
    lib.write_text("services:\n  postgres:\n    image: x\n    mem_limit: 1g\n")  # now it has a change
    top.write_text(head + "  web:\n    image: y\n    mem_limit: 1g\n")
    before = (sha(top), sha(lib))
    code, _, err = run(["apply", "-f", str(top), "--only", "memory"], capsys)
    assert code == 2 and err.strip().endswith("base.yml: file is read-only; nothing written")
    assert (sha(top), sha(lib)) == before


def test_apply_to_json_quotes_a_size_that_replaces_a_number_or_null(tmp_path: Path, capsys: Any) -> None:
    """"mem_limit": 1073741824 (bytes, a JSON number) became "mem_limit": 1536M, which no JSON tool
    reads (compose still did, as YAML); null likewise."""
    path = tmp_path / "compose.json"
    service = {"image": "x", "mem_limit": 1073741824, "mem_reservation": None, "cpus": 0.5, "pids_limit": 50}
    path.write_text(json.dumps({"name": "sutazai", "services": {"postgres": service}}, indent=2) + "\n")
    code, _, err = run(["apply", "-f", str(path)], capsys)
    assert code == 0, err
    got = json.loads(path.read_text())["services"]["postgres"]
    assert got == {**service, "mem_limit": "1536M", "mem_reservation": "896M", "cpus": 2, "pids_limit": 100}


@pytest.mark.parametrize("cmd", ["apply", "check", "recommend"])
def test_compose_from_stdin_is_named(tmp_path: Path, capsys: Any, cmd: str) -> None:
    """`-f -` (docker compose reads stdin) said 'cannot read -: No such file or directory'."""
    code, out, err = run([cmd, "-f", "-"], capsys)
    assert code == 2 and out == ""
    expected = "-f -: compose from stdin is not supported; give the file's path"
    assert err.splitlines()[-1] == f"rightsize: error: {expected}"
