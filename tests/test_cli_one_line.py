"""Every error is one line on stderr, even when what it names holds a line break."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import run_cli

from rightsize.cli_checks import one_line


def test_a_file_name_with_a_line_break_is_named_on_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "a\nb.yml"
    code, out, err = run_cli(["apply", "-f", str(missing)], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("rightsize: error: ")
    assert f"{tmp_path}/a b.yml" in err  # the name, its break read as a space


def test_an_output_folder_with_a_line_break_is_named_on_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = run_cli(["report", "--out", str(tmp_path / "no\nsuch" / "r.html")], capsys)
    assert code == 2
    assert err.splitlines()[-1].startswith("rightsize: error: ")  # after the sample-data warning
    assert all(line.startswith("rightsize: ") for line in err.splitlines())


def test_one_line_joins_the_lines_and_drops_blank_ones() -> None:
    assert one_line("Couldn't deserialize thrift: x\nInvalid data\n)\n") == (
        "Couldn't deserialize thrift: x Invalid data )"
    )
    assert one_line(OSError("plain")) == "plain"
