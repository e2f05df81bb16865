"""Imported times no reader would use (before 2000, or more than a day after this machine's clock;
``rightsize.analysis.plausible``): a unit mistake is refused with one line naming a value as a date
and the factor that fixes it; a few strays among good rows are skipped with one warning. Before, epoch
seconds written 10 times too large imported silently as the year 2530 and recommend then ignored every row."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from cli_helpers import run_cli

from rightsize import store
from rightsize.ingest import importer

EXCERPT = Path(__file__).parent / "fixtures" / "backtest" / "bitbrains-rnd-excerpt.parquet"


def _import(
    trace: Path, out: Path, capsys: pytest.CaptureFixture[str], ts: str = "t"
) -> tuple[int, str, str]:
    argv = ["import", str(trace), "--map", f"workload=vm,ts={ts},mem_working_set=mem", "--out", str(out)]
    return run_cli(argv, capsys)


def _bitbrains(tmp_path: Path, name: str, seconds_times: int) -> tuple[Path, np.ndarray]:
    """The real trace excerpt as CSV, its times as epoch seconds multiplied by ``seconds_times``."""
    src = pq.read_table(EXCERPT).to_pandas().head(300)
    seconds = src["ts"].astype("int64").to_numpy() // 10**6  # µs -> s
    trace = tmp_path / name
    frame = pd.DataFrame(
        {"vm": src["container_id"].astype(str), "t": seconds * seconds_times, "mem": src["mem"]}
    )
    frame.to_csv(trace, index=False)
    return trace, seconds * 1000


def test_epoch_seconds_times_ten_is_refused_with_the_fix_which_then_imports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace, ms = _bitbrains(tmp_path, "x10.csv", 10)
    code, out, err = _import(trace, tmp_path / "o", capsys)
    assert code == 2 and out == "" and not (tmp_path / "o").exists()
    assert err.count("\n") == 1 and err.startswith(
        "rightsize: error: x10.csv row 1: --map ts=t reads 2405-09-17 00:22:30 UTC"
    ), err
    assert "more than a day after this machine's clock; all 300 times in column 't'" in err
    assert err.rstrip().endswith("in another unit? --map ts=t/10 reads it as 2013-07-28 00:02:15 UTC"), err
    code, out, err = _import(trace, tmp_path / "o", capsys, ts="t/10")  # the fix, as named
    assert code == 0 and err == "" and out == f"imported 300 rows into {tmp_path / 'o'}\n", err
    assert store.load(tmp_path / "o")["ts"].astype("int64").sort_values().tolist() == sorted(ms.tolist())


def test_milliseconds_times_ten_and_far_iso_text_name_their_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "ms.parquet"
    ms = 1_767_225_600_000 + 60_000 * np.arange(20)
    pd.DataFrame({"vm": "a", "t": ms * 10, "mem": 1}).to_parquet(trace)
    code, _, err = _import(trace, tmp_path / "o", capsys)
    assert code == 2 and not (tmp_path / "o").exists()
    assert "ms.parquet row 1: --map ts=t reads 2530-01-05 00:00:00 UTC" in err
    assert err.rstrip().endswith("--map ts=t/10 reads it as 2026-01-01 00:00:00 UTC"), err
    # ISO text has no unit to fix: the clock that wrote it is named
    iso = tmp_path / "iso.csv"
    iso.write_text("vm,t,mem\n" + "".join(f"a,2508-01-01T00:0{i}:00Z,1\n" for i in range(5)))
    code, _, err = _import(iso, tmp_path / "o", capsys)
    assert code == 2 and not (tmp_path / "o").exists()
    assert err == (
        "rightsize: error: iso.csv row 1: --map ts=t reads 2508-01-01 00:00:00 UTC, more than a day after "
        "this machine's clock; all 5 times in column 't' lie before 2000-01-01 or more than a day ahead, "
        "where no reader uses them; is the clock that wrote them wrong?\n"
    )


def test_a_few_impossible_rows_among_good_ones_are_skipped_with_one_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace, _ = _bitbrains(tmp_path, "few.csv", 1)
    lines = trace.read_text().splitlines()
    vm = lines[1].split(",")[0]
    trace.write_text("\n".join([*lines, f"{vm},0,1", f"{vm},17672256000,1", f"{vm},-60,1"]) + "\n")
    code, out, err = _import(trace, tmp_path / "o", capsys)
    assert code == 0 and out == f"imported 300 rows into {tmp_path / 'o'}\n", err
    assert err == (
        "rightsize: warning: few.csv: skipped 3 rows whose time in column 't' lies before 2000-01-01 or "
        "more than a day after this machine's clock, where no reader uses it "
        "(1969-12-31 23:59:00, …, 2530-01-05 00:00:00)\n"
    )
    assert {p.parent.name for p in store.list_files(tmp_path / "o")} == {"date=2013-07-28", "date=2013-07-29"}
    # what was imported is what every reader uses: no warning about impossible times
    code, _, err = run_cli(["recommend", "--data", str(tmp_path / "o"), "--format", "json"], capsys)
    assert code == 0 and "impossible" not in err, err


def test_mostly_impossible_rows_are_a_unit_mistake_not_strays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [f"a,{1_767_225_600 + 60 * i},1" for i in range(4)] + [
        f"a,{17_672_256_000 + 600 * i},1" for i in range(5)
    ]
    trace = tmp_path / "most.csv"
    trace.write_text("vm,t,mem\n" + "\n".join(rows) + "\n")
    code, _, err = _import(trace, tmp_path / "o", capsys)
    assert code == 2 and not (tmp_path / "o").exists()
    assert "most.csv row 5: --map ts=t reads 2530-01-05 00:00:00 UTC" in err
    assert "; 5 of 9 times in column 't' lie before 2000-01-01" in err


def test_times_since_the_trace_began_stay_and_a_stray_among_them_is_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "rel.csv"
    trace.write_text("vm,t,mem\n" + "".join(f"a,{60 * i},{i}\n" for i in range(50)) + "a,17672256000,1\n")
    code, out, err = _import(trace, tmp_path / "o", capsys)
    assert code == 0 and out == f"imported 50 rows into {tmp_path / 'o'}\n", err
    first, second = err.splitlines()
    assert first.startswith("rightsize: warning: rel.csv: skipped 1 row whose time in column 't'")
    assert second.startswith(
        "rightsize: warning: rel.csv: every time in column 't' falls before the year 2000"
    )
    assert "(the latest reads 1970-01-01 00:49:00 UTC)" in second  # the stray is not the latest
    assert store.load(tmp_path / "o")["ts"].astype("int64").max() == 49 * 60_000


def test_1970_rows_written_before_the_later_ones_showed_up_are_removed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [f"a,{60 * i},1" for i in range(30)] + [f"b,{1_767_225_600 + 60 * i},2" for i in range(40)]
    trace = tmp_path / "late.csv"
    trace.write_text("vm,t,mem\n" + "\n".join(rows) + "\n")
    monkeypatch.setattr(importer, "_CSV_BLOCK", 1 << 8)
    monkeypatch.setattr(importer, "_FLUSH_ROWS", 10)  # the 1970 rows reach their files first
    code, out, err = _import(trace, tmp_path / "o", capsys)
    assert code == 0 and out == f"imported 40 rows into {tmp_path / 'o'}\n", err
    assert "skipped 30 rows whose time in column 't' lies before 2000-01-01" in err
    assert sorted(p.name for p in (tmp_path / "o" / "samples").iterdir()) == ["date=2026-01-01"]
    assert set(store.load(tmp_path / "o")["workload"]) == {"b"}


def test_a_time_hours_ahead_of_this_clock_is_kept(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # another host's clock may run a little ahead: within a day is possible, as readers take it
    ahead = int(time.time()) + 6 * 3600
    trace = tmp_path / "ahead.csv"
    trace.write_text("vm,t,mem\n" + "".join(f"a,{ahead - 60 * i},1\n" for i in range(5)))
    code, out, err = _import(trace, tmp_path / "o", capsys)
    assert code == 0 and err == "" and out.startswith("imported 5 rows"), err


def test_times_since_the_start_beside_a_few_dates_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # readers would take the dates as the trace and ignore the 50 relative rows: the file needs a look
    rows = [f"a,{60 * i},1" for i in range(50)] + [f"b,{1_767_225_600 + i},1" for i in range(3)]
    trace = tmp_path / "eras.csv"
    trace.write_text("vm,t,mem\n" + "\n".join(rows) + "\n")
    code, _, err = _import(trace, tmp_path / "o", capsys)
    assert code == 2 and not (tmp_path / "o").exists()
    assert err.startswith(
        "rightsize: error: eras.csv row 1: --map ts=t reads 1970-01-01 00:00:00 UTC, before 2000"
    )
    assert "; 50 of 53 times in column 't'" in err
    assert err.rstrip().endswith(
        "times before 2000 are read only where every time is (times since a trace's start)"
    )
