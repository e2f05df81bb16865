"""A time column that mixes epoch numbers and date text: one line naming a row of each, nothing
written. Before, it read "'1767225600' is not a time; expected ISO 8601 text …, epoch numbers …"."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cli_helpers import run_cli

from rightsize import store
from rightsize.ingest import importer

MAP = "workload=vm,ts=t,mem_working_set=mem"
FIX = "write every time the same way, all epoch numbers or all ISO 8601 text"


def _import(trace: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code, stdout, err = run_cli(["import", str(trace), "--map", MAP, "--out", str(out)], capsys)
    assert stdout == "" or code == 0
    return code, err


@pytest.mark.parametrize(
    ("rows", "number", "text"),
    [
        (
            ["a,1767225600,1", "a,2026-01-01T00:05:00Z,2"],
            "row 1: 1767225600",
            "row 2: '2026-01-01T00:05:00Z'",
        ),
        (
            ["a,2026-01-01 00:00:00,1", "b,1767225900.5,2"],
            "row 2: 1767225900.5",
            "row 1: '2026-01-01 00:00:00'",
        ),
    ],
)
def test_csv_mixing_epoch_numbers_and_iso_text_is_one_line_with_a_row_of_each(
    rows: list[str], number: str, text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "mixed.csv"
    trace.write_text("vm,t,mem\n" + "\n".join(rows) + "\n")
    code, err = _import(trace, tmp_path / "o", capsys)
    assert code == 2 and not (tmp_path / "o").exists()
    assert err == (
        f"rightsize: error: --map ts=t: column 't' mixes epoch numbers (mixed.csv {number}) and "
        f"date text (mixed.csv {text}); {FIX}\n"
    )


def test_csv_whose_first_block_holds_numbers_and_a_later_one_iso_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [f"vm_{i % 3},{1_767_225_600 + 60 * i},{i}" for i in range(1500)]
    rows[1234] = "vm_1,2026-01-02T00:00:00Z,5"
    trace = tmp_path / "late.csv"
    trace.write_text("vm,t,mem\n" + "\n".join(rows) + "\n")
    monkeypatch.setattr(importer, "_CSV_BLOCK", 1 << 12)  # arrow typed the column from block 1
    monkeypatch.setattr(importer, "_FLUSH_ROWS", 100)  # earlier rows were written: they go again
    code, err = _import(trace, tmp_path / "o", capsys)
    assert code == 2 and not (tmp_path / "o").exists()
    assert err == (
        "rightsize: error: --map ts=t: column 't' mixes epoch numbers (late.csv row 1: 1767225600) and "
        f"date text (late.csv row 1235: '2026-01-02T00:00:00Z'); {FIX}\n"
    )


def test_parquet_text_column_mixing_them_within_or_across_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "mixed.parquet"
    times = [f"2026-01-01T00:{i:02d}:00Z" for i in range(20)] + [
        str(1_767_226_800 + 60 * i) for i in range(10)
    ]
    pq.write_table(pa.table({"vm": ["a"] * 30, "t": times, "mem": list(range(30))}), trace)
    code, err = _import(trace, tmp_path / "o", capsys)
    assert code == 2 and not (tmp_path / "o").exists()
    expected = (
        "rightsize: error: --map ts=t: column 't' mixes epoch numbers (mixed.parquet row 21: 1767226800) "
        f"and date text (mixed.parquet row 1: '2026-01-01T00:00:00Z'); {FIX}\n"
    )
    assert err == expected
    # each batch alone is all text or all numbers: the first batch's kind is remembered
    monkeypatch.setattr(importer, "_BATCH_ROWS", 10)
    monkeypatch.setattr(importer, "_FLUSH_ROWS", 10)
    code, err = _import(trace, tmp_path / "o", capsys)
    assert code == 2 and not (tmp_path / "o").exists()
    assert err == expected


def test_epoch_numbers_written_as_text_import_as_epoch_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a string column of epoch seconds (as a CSV-to-Parquet export may write it) said
    # "'1767225600' is not a time; expected ..., epoch numbers or a timestamp column"
    seconds = [1_767_225_600 + 300 * i for i in range(12)]
    text, numbers = tmp_path / "text.parquet", tmp_path / "numbers.parquet"
    pq.write_table(pa.table({"vm": ["a"] * 12, "t": [f" {s}" for s in seconds], "mem": [1] * 12}), text)
    pq.write_table(pa.table({"vm": ["a"] * 12, "t": seconds, "mem": [1] * 12}), numbers)
    for trace in (text, numbers):
        code, err = _import(trace, tmp_path / trace.stem, capsys)
        assert code == 0 and err == "", err
    a, b = store.load(tmp_path / "text"), store.load(tmp_path / "numbers")
    pd.testing.assert_frame_equal(a, b)
    assert a["ts"].min() == pd.Timestamp("2026-01-01T00:00Z")


def test_text_that_is_neither_still_names_the_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "odd.csv"
    trace.write_text("vm,t,mem\na,2026-01-01T00:00:00Z,1\na,yesterday,2\na,1767225600,3\n")
    code, err = _import(trace, tmp_path / "o", capsys)
    assert code == 2 and not (tmp_path / "o").exists()
    assert err.startswith("rightsize: error: odd.csv row 2: --map ts=t: 'yesterday' is not a time; "), err


def test_a_text_batch_of_four_digit_numbers_after_epoch_numbers_stays_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # seconds since a trace's start as text: "1200" also reads as the ISO year 1200, so a batch of
    # only such values was taken for date text ("mixes epoch numbers (row 1: 0) and date text")
    trace = tmp_path / "rel.parquet"
    seconds = [60 * i for i in range(200)]
    pq.write_table(pa.table({"vm": ["a"] * 200, "t": [str(s) for s in seconds], "mem": [1] * 200}), trace)
    monkeypatch.setattr(importer, "_BATCH_ROWS", 10)  # rows 21..30 are "1200".."1740"
    code, err = _import(trace, tmp_path / "o", capsys)
    assert code == 0, err
    assert store.load(tmp_path / "o")["ts"].astype("int64").tolist() == [s * 1000 for s in seconds]
