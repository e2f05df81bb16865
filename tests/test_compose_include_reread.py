"""A file two ``-f`` files (or two paths of one include entry) both include, as compose reads it.

compose-go loads each ``-f`` file (each path of an include entry) in turn, its includes imported into
it (loader.go, loadYamlFile: ApplyInclude), then merges it over the ones before: the later file's
load imports the shared file again, so what the shared file sets wins over the earlier file's own
value. rightsize reads the shared file once; it read it where the first file included it, under the
later file's load, and took the earlier file's own value.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import run_cli

G = 2**30
COMMON = "services:\n  postgres:\n    image: x\n    mem_limit: 2g   # common\n"


def write(root: Path, files: dict[str, str]) -> dict[str, Path]:
    for rel, text in files.items():
        (root / rel).write_text(text)
    return {rel: root / rel for rel in files}


def memory_limit(capsys: pytest.CaptureFixture[str], *files: Path) -> object:
    args = [x for f in files for x in ("-f", str(f))]
    code, out, err = run_cli(["recommend", *args, "--format", "json"], capsys)
    assert code == 0, err
    return next(
        r["current"]["limit"]
        for r in json.loads(out)
        if r["workload"].endswith("/postgres") and r["resource"] == "memory"
    )


def test_a_file_two_f_files_include_wins_over_the_first_files_own_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = write(
        tmp_path,
        {
            "f1.yml": "include: [common.yml]\nservices:\n  postgres:\n    mem_limit: 3g   # f1\n",
            "f2.yml": "include: [common.yml]\nservices:\n  web:\n    image: w\n",
            "common.yml": COMMON,
        },
    )
    assert memory_limit(capsys, f["f1.yml"], f["f2.yml"]) == 2 * G
    code, _, err = run_cli(
        ["apply", "-f", str(f["f1.yml"]), "-f", str(f["f2.yml"]), "--only", "memory"], capsys
    )
    assert code == 0, err
    assert "    mem_limit: 1536m   # common\n" in f["common.yml"].read_text()
    assert "    mem_limit: 3g   # f1\n" in f["f1.yml"].read_text()  # compose does not use it: left alone
    assert memory_limit(capsys, f["f1.yml"], f["f2.yml"]) == 1536 * 2**20


def test_a_file_two_paths_of_one_include_entry_include_wins_over_the_first_paths_own_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = write(
        tmp_path,
        {
            "compose.yml": "include:\n  - path: [p1.yml, p2.yml]\n",
            "p1.yml": "include: [common.yml]\nservices:\n  postgres:\n    mem_limit: 3g\n",
            "p2.yml": "include: [common.yml]\nservices:\n  web:\n    image: w\n",
            "common.yml": COMMON,
        },
    )
    assert memory_limit(capsys, f["compose.yml"]) == 2 * G


def test_a_file_the_first_include_shares_stays_where_it_wins(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two entries of one file's include (a diamond): the first include's load wins, common with it."""
    f = write(
        tmp_path,
        {
            "compose.yml": "include: [a.yml, b.yml]\n",
            "a.yml": "include: [common.yml]\nservices:\n  web:\n    image: w\n",
            "b.yml": "include: [common.yml]\nservices:\n  postgres:\n    mem_limit: 3g\n",
            "common.yml": COMMON,
        },
    )
    assert memory_limit(capsys, f["compose.yml"]) == 2 * G


def test_an_identical_copy_in_the_first_includer_is_still_patched_alike(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """f1.yml's postgres is identical to common.yml's: Docker Compose before 5.0 compares them when
    f1.yml imports common.yml, so both get the change (common.yml is read where f2.yml includes it)."""
    f = write(
        tmp_path,
        {
            "f1.yml": "include: [common.yml]\n" + COMMON,
            "f2.yml": "include: [common.yml]\nservices:\n  web:\n    image: w\n",
            "common.yml": COMMON,
        },
    )
    code, _, err = run_cli(
        ["apply", "-f", str(f["f1.yml"]), "-f", str(f["f2.yml"]), "--only", "memory"], capsys
    )
    assert code == 0, err
    assert f["f1.yml"].read_text() == "include: [common.yml]\n" + f["common.yml"].read_text()
    assert "    mem_limit: 1536m   # common\n" in f["common.yml"].read_text()
