"""``extends`` of a service that an ``include`` brings, as Docker Compose v2 resolves it.

compose-go's loader (loader.go, loadYamlFile) applies a file's ``include`` before its ``extends``
("Process includes first so that extended services have all merged attributes"; the order fixed for
docker/compose#13606, compose-go#868), so ``extends: base`` finds a ``base`` that a file it includes
(or a file those include) defines, read with the include's own environment. A file reached through
``extends.file`` is loaded with SkipInclude (loader/extends.go): its includes are not seen. Cycles
stay an error (cycleTracker). rightsize refused all of it ("extends 'base', which compose.yml lacks").
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import run_cli, sha

BASE = "services:\n  base:\n    image: x\n    mem_limit: ${BASE_MEM:-2g}\n    cpus: 2\n"
TOP = "include:\n  - inc/base.yml\nservices:\n  postgres:\n    extends: base\n"


def project(root: Path, *, top: str = TOP, base: str = BASE, env: str | None = None) -> Path:
    (root / "inc").mkdir()
    (root / "inc" / "base.yml").write_text(base)
    if env is not None:  # the include's env_file by default: .env in its project directory (inc/)
        (root / "inc" / ".env").write_text(env)
    path = root / "compose.yml"
    path.write_text(top)
    return path


def current(capsys: pytest.CaptureFixture[str], path: Path) -> dict[str, object]:
    code, out, err = run_cli(["recommend", "-f", str(path), "--format", "json"], capsys)
    assert code == 0, err
    return {
        r["resource"]: r["current"]["limit"] for r in json.loads(out) if r["workload"].endswith("/postgres")
    }


def test_apply_writes_the_override_where_the_extending_service_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BASE_MEM", raising=False)
    path = project(tmp_path, base=BASE.replace("${BASE_MEM:-2g}", "2g"))
    included = sha(tmp_path / "inc" / "base.yml")
    assert current(capsys, path) == {"memory": 2 * 2**30, "cpu": 2.0, "pids": None}  # read from inc/
    code, out, err = run_cli(["apply", "-f", str(path), "--only", "memory"], capsys)
    assert code == 0, err
    assert "inherited through extends: own override written" in out
    text = path.read_text()
    assert text.startswith(TOP) and "    mem_limit: 1536m\n" in text  # the unit spelling of base's 2g
    assert sha(tmp_path / "inc" / "base.yml") == included  # base is not touched: others may extend it
    code, out, err = run_cli(["apply", "-f", str(path), "--only", "memory"], capsys)
    assert code == 0 and "total: 0 changed" in out, err
    assert current(capsys, path)["memory"] == 1536 * 2**20


def test_the_inherited_value_is_read_with_the_includes_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``${BASE_MEM}`` in the included file is interpolated from inc/.env (compose interpolates each
    included file before it is imported), not from the top project's environment, which lacks it."""
    monkeypatch.delenv("BASE_MEM", raising=False)
    path = project(tmp_path, env="BASE_MEM=1536m\n")
    assert current(capsys, path)["memory"] == 1536 * 2**20  # (2g, the default, read with the top env)
    code, out, err = run_cli(["check", "-f", str(path)], capsys)
    row = next(x for x in out.splitlines() if x.startswith("postgres") and " memory " in x)
    assert "reads 1536m" in row and "ok" in row.split(), out
    code, out, err = run_cli(["apply", "-f", str(path), "--only", "memory"], capsys)
    assert code == 0, err
    assert "mem_limit" not in path.read_text()  # it reads as the recommended 1536M already
    assert "    mem_reservation: " in path.read_text()


def test_a_nested_include_is_seen_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = project(tmp_path, base="include:\n  - deeper.yml\n")
    (tmp_path / "inc" / "deeper.yml").write_text(BASE.replace("${BASE_MEM:-2g}", "3g"))
    assert current(capsys, path) == {"memory": 3 * 2**30, "cpu": 2.0, "pids": None}


@pytest.mark.parametrize(
    ("base", "top", "message"),
    [
        # a cycle among included services is still one: compose's cycleTracker refuses it
        ("services:\n  base:\n    extends: other\n  other:\n    extends: base\n    image: x\n", TOP,
         "inc/base.yml: extends cycle: base ("),
        # extends.file loads that file without its includes (SkipInclude): base is not found
        ("services:\n  x:\n    image: x\n",
         "services:\n  postgres:\n    extends:\n      file: lib.yml\n      service: base\n",
         "which {d}/lib.yml lacks"),
        # a name neither the file nor its includes define
        (BASE, TOP.replace("extends: base", "extends: nope"),
         "extends 'nope', which {d}/compose.yml and the files it includes lack"),
    ],
)  # fmt: skip
def test_what_compose_refuses_stays_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], base: str, top: str, message: str
) -> None:
    path = project(tmp_path, base=base, top=top)
    (tmp_path / "lib.yml").write_text("include:\n  - inc/base.yml\nservices:\n  y:\n    image: x\n")
    before = sha(path)
    for command in (["apply"], ["check"], ["recommend"]):
        code, out, err = run_cli([*command, "-f", str(path)], capsys)
        errors = [x for x in err.splitlines() if "bundled SYNTHETIC sample" not in x]
        assert (code, out, len(errors)) == (2, "", 1), err
        assert message.replace("{d}", str(tmp_path)) in errors[0], errors[0]
    assert sha(path) == before


def test_a_later_files_extends_wins_over_an_earlier_files_own_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``-f a.yml -f b.yml``, b.yml's postgres extending a base that sets 3g: compose-go applies each
    file's ``extends`` before it merges the file over the ones before (loadYamlFile: ApplyExtends,
    then override.Merge), so postgres runs with 3g, not a.yml's 1g. rightsize read 1g and patched
    a.yml's mem_limit, which compose then ignored."""
    a, b = tmp_path / "a.yml", tmp_path / "b.yml"
    a.write_text("services:\n  postgres:\n    image: x\n    mem_limit: 1g\n")
    b.write_text("services:\n  base:\n    image: x\n    mem_limit: 3g\n  postgres:\n    extends: base\n")
    argv = ["-f", str(a), "-f", str(b)]
    code, out, err = run_cli(["recommend", *argv, "--format", "json"], capsys)
    assert code == 0, err
    limits = {
        r["resource"]: r["current"]["limit"] for r in json.loads(out) if r["workload"].endswith("/postgres")
    }
    assert limits["memory"] == 3 * 2**30
    code, out, err = run_cli(["apply", *argv, "--only", "memory"], capsys)
    assert code == 0, err
    assert "    mem_limit: 1g\n" in a.read_text()  # not what compose uses: left alone
    assert b.read_text().endswith("  postgres:\n    extends: base\n    mem_limit: 1536m\n")
    code, out, err = run_cli(["check", *argv], capsys)
    row = next(x for x in out.splitlines() if x.startswith("postgres") and " memory " in x)
    assert row.split()[2] == "1536m" and " ok " in row, out


def test_a_files_own_service_merges_over_the_included_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """compose-go#835 ("Allow importing compose file to override resource definition"): a service the
    file defines and an include brings too is the included one with the file's own merged over it (an
    error before: "services.postgres conflicts with imported resource", which rightsize repeated). An
    ``extends`` of it gets both (docker/compose#13606: the included attributes too)."""
    inc = "services:\n  postgres:\n    image: x\n    mem_limit: 2g\n    cpus: 2\n"
    top = (
        "include:\n  - inc/base.yml\nservices:\n  postgres:\n    cpus: 1\n  replica:\n    extends: postgres\n"
    )
    path = project(tmp_path, top=top, base=inc)
    included = tmp_path / "inc" / "base.yml"
    assert current(capsys, path) == {"memory": 2 * 2**30, "cpu": 1.0, "pids": None}
    code, out, err = run_cli(["check", "-f", str(path)], capsys)
    rows = {tuple(x.split()[:2]): x for x in out.splitlines() if x.startswith(("postgres", "replica"))}
    assert rows[("replica", "memory")].split()[2] == "2g" and rows[("replica", "cpu")].split()[2] == "1"
    code, out, err = run_cli(["apply", "-f", str(path), "--only", "memory,cpu"], capsys)
    assert code == 0, err
    assert "    mem_limit: 1536m\n" in included.read_text()  # set there only: changed there
    own = "    cpus: 2\n    mem_reservation: 896m\n"  # the file's own value is the one compose uses
    assert path.read_text() == top.replace("    cpus: 1\n", own)
