"""`apply`: a limit written as ``${VAR}`` that already reads as the recommendation is an already-right
value, reported like a literal one (no change, no skip); one that reads otherwise is still never
replaced ("not replaced; set it to ..."). The bundled sample recommends 1536M for postgres' memory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli as run
from cli_helpers import sha

TEXT = "name: sutazai\nservices:\n  postgres:\n    image: x\n    mem_limit: {limit}\n"


def apply(tmp_path: Path, capsys: Any, limit: str, *extra: str) -> dict[str, Any]:
    path = tmp_path / "compose.yml"
    path.write_text(TEXT.format(limit=limit))
    before = sha(path)
    code, out, err = run(["apply", "-f", str(path), "--only", "memory", "--format", "json", *extra], capsys)
    assert code == 0, err
    assert sha(path) == before or "--dry-run" not in extra
    (result,) = json.loads(out)["results"]
    return {
        "changes": [(c["key"], c["old"], c["new"], c["note"]) for c in result["changes"]],
        "skipped": [s["reason"] for s in result["skipped"]],
    }


@pytest.mark.slow
@pytest.mark.parametrize("swap", [[], ["--swap", "256M"]])
def test_an_interpolated_limit_already_right_reads_like_a_literal_one(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch, swap: list[str]
) -> None:
    monkeypatch.delenv("PG_MEM", raising=False)
    literal = apply(tmp_path, capsys, "1536M", "--dry-run", *swap)
    assert literal["skipped"] == [] and literal["changes"]  # the reservation (and memswap_limit)
    (tmp_path / ".env").write_text("PG_MEM=1536M\n")
    assert apply(tmp_path, capsys, "${PG_MEM}", "--dry-run", *swap) == literal
    assert apply(tmp_path, capsys, "${PG_MEM:-4g}", "--dry-run", *swap) == literal
    (tmp_path / ".env").write_text("PG_MEM=1.5g\n")  # the same size, in another spelling
    assert apply(tmp_path, capsys, "${PG_MEM}", "--dry-run", *swap) == literal


@pytest.mark.slow
def test_an_interpolated_limit_that_differs_is_still_not_replaced(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PG_MEM", raising=False)
    (tmp_path / ".env").write_text("PG_MEM=2g\n")
    got = apply(tmp_path, capsys, "${PG_MEM}")  # (not a dry run: the file stays as it is)
    assert (tmp_path / "compose.yml").read_text() == TEXT.format(limit="${PG_MEM}")
    assert got == {
        "changes": [],
        "skipped": [
            "mem_limit is interpolated (${PG_MEM}): not replaced; set it to 1536M",
            "not written: the limit is interpolated, so a reservation could exceed it",
        ],
    }
    (tmp_path / ".env").write_text("PG_MEM=\n")  # empty: compose v2 refuses it ("invalid size: ''")
    path = tmp_path / "compose.yml"
    code, out, err = run(["apply", "-f", str(path), "--only", "memory"], capsys)
    lines = [x for x in err.splitlines() if "bundled SYNTHETIC sample" not in x]
    assert (code, out, len(lines)) == (2, "", 1) and "mem_limit: ${PG_MEM} reads empty" in lines[0], err
    assert (tmp_path / "compose.yml").read_text() == TEXT.format(limit="${PG_MEM}")
