"""``extends`` where an ``include`` brings the same service: what compose applies first.

compose-go (loader.go, loadYamlFile) imports a file's includes into the file's own content *before*
it applies the file's ``extends`` ("Process includes first so that extended services have all merged
attributes"), and each included file is loaded whole (its own ``extends`` applied, the key deleted:
extends.go) before it is imported. So a file's ``extends`` chain comes under everything the file and
its includes set, and an included copy's chain under that copy only.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import run_cli

G = 2**30


def write(root: Path, files: dict[str, str]) -> dict[str, Path]:
    out = {}
    for rel, text in files.items():
        (root / rel).write_text(text)
        out[rel] = root / rel
    return out


def memory_limit(capsys: pytest.CaptureFixture[str], top: Path) -> object:
    code, out, err = run_cli(["recommend", "-f", str(top), "--format", "json"], capsys)
    assert code == 0, err
    return next(
        r["current"]["limit"]
        for r in json.loads(out)
        if r["workload"].endswith("/postgres") and r["resource"] == "memory"
    )


def test_an_included_copy_wins_over_the_files_own_extends(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """compose.yml's postgres (``extends: root``, root 1536m) merged over a.yml's postgres (3g), then
    extended: a.yml's 3g is what compose runs. rightsize read root's 1536m (the recommendation), so
    apply changed nothing and check passed while postgres kept 3g."""
    f = write(
        tmp_path,
        {
            "compose.yml": "include: [a.yml]\nservices:\n  postgres:\n    extends: root\n"
            "  root:\n    image: x\n    mem_limit: 1536m\n",
            "a.yml": "services:\n  postgres:\n    image: y\n    mem_limit: 3g   # a's\n",
        },
    )
    assert memory_limit(capsys, f["compose.yml"]) == 3 * G
    code, _, err = run_cli(["apply", "-f", str(f["compose.yml"]), "--only", "memory"], capsys)
    assert code == 0, err
    assert "    mem_limit: 1536m   # a's\n" in f["a.yml"].read_text()
    assert memory_limit(capsys, f["compose.yml"]) == 1536 * 2**20


def test_the_first_includes_base_is_extended_before_a_later_include_is_merged_under_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """a.yml's base (``extends: root``, root 5g) is resolved in a.yml's own load, then b.yml's base
    (3g) merged under it: ``extends: base`` in compose.yml gets 5g, not b.yml's 3g."""
    f = write(
        tmp_path,
        {
            "compose.yml": "include: [a.yml, b.yml]\nservices:\n  postgres:\n    extends: base\n",
            "a.yml": "services:\n  base:\n    extends: root\n  root:\n    image: x\n    mem_limit: 5g\n",
            "b.yml": "services:\n  base:\n    image: y\n    mem_limit: 3g\n",
        },
    )
    assert memory_limit(capsys, f["compose.yml"]) == 5 * G


def test_a_nested_includes_copy_comes_before_the_included_files_own_extends(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """a.yml's base (``extends: root``, root 5g) merged over deep.yml's base (2g) in a.yml's load,
    then extended: 2g."""
    f = write(
        tmp_path,
        {
            "compose.yml": "include: [a.yml]\nservices:\n  postgres:\n    extends: base\n",
            "a.yml": "include: [deep.yml]\nservices:\n  base:\n    extends: root\n"
            "  root:\n    image: x\n    mem_limit: 5g\n",
            "deep.yml": "services:\n  base:\n    image: y\n    mem_limit: 2g\n",
        },
    )
    assert memory_limit(capsys, f["compose.yml"]) == 2 * G
