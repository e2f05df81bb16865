"""A user importing a local-time export: the mistakes a user makes, seen through the CLI (found while
hunting bugs in `import --tz`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import run_cli

import rightsize

MAP = "workload=host,ts=time,cpu_cores=cpu"


def _export(path: Path) -> Path:
    # a monitoring tool's CSV in local time (Berlin, UTC+2 in June): the first hours of a day
    path.write_text(
        "time,host,cpu\n"
        "2026-06-01 00:10:00,web-1,0.5\n"
        "2026-06-01 00:20:00,web-1,0.7\n"
        "2026-06-01 01:10:00,web-1,0.6\n"
    )
    return path


def test_the_same_file_again_with_tz_after_the_warning_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Without --tz the import warns the times were read as UTC and says to give --tz; doing so into
    # the same dataset moved every row to the day before (22:10-23:10 UTC on May 31), where the day
    # check found nothing: 6 samples, each counted twice, an hour and two hours apart.
    trace, out = _export(tmp_path / "export.csv"), tmp_path / "data"
    code, _, err = run_cli(["import", str(trace), "--map", MAP, "--out", str(out)], capsys)
    assert code == 0 and "--tz" in err
    before = sorted(p.name for p in out.rglob("*.parquet"))
    again = ["import", str(trace), "--map", MAP, "--out", str(out), "--tz", "Europe/Berlin"]
    code, _, err = run_cli(again, capsys)
    assert code == 2, err
    assert err.startswith("rightsize: error: ") and len(err.strip().splitlines()) == 1
    assert "export.csv" in err and "already" in err
    assert sorted(p.name for p in out.rglob("*.parquet")) == before  # nothing written
    assert len(rightsize.load(out)) == 3


def test_the_same_file_under_another_host_or_another_file_still_imports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace, out = _export(tmp_path / "export.csv"), tmp_path / "data"
    assert run_cli(["import", str(trace), "--map", MAP, "--out", str(out), "--tz", "UTC"], capsys)[0] == 0
    # --host: the documented way to import genuinely different samples
    argv = ["import", str(trace), "--map", MAP, "--out", str(out), "--tz", "Europe/Berlin", "--host", "b"]
    assert run_cli(argv, capsys)[0] == 0
    # another VM's file of the same trace, same host name
    other = tmp_path / "other.csv"
    other.write_text(trace.read_text().replace("web-1", "web-2"))
    assert run_cli(["import", str(other), "--map", MAP, "--out", str(out), "--tz", "UTC"], capsys)[0] == 0
    assert len(rightsize.load(out)) == 9
