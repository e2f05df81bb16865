"""``rightsize import --tz``: naive (zone-less) times in a named zone, across the real 2026 DST changes,
and a bad value in a later CSV block named in rightsize's words."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import run_cli

from rightsize import store
from rightsize.ingest import importer

MAP = "workload=vm,ts=t,mem_working_set=mem"


def argv(trace: Path, out: Path, *extra: str) -> list[str]:
    return ["import", str(trace), "--map", MAP, "--out", str(out), *extra]


def local_logger(zone: str, start_utc: str, end_utc: str, vms: int = 3, every: str = "5min") -> pd.DataFrame:
    """What a collector writing naive local wall-clock times produces: rows in time order, the VMs
    interleaved; ``truth`` is the real UTC time of each row."""
    utc = pd.date_range(start_utc, end_utc, freq=every, inclusive="left")
    rows = [
        (f"vm{v}", t.tz_convert(zone).strftime("%Y-%m-%d %H:%M:%S"), i * 10 + v, t)
        for i, t in enumerate(utc)
        for v in range(vms)
    ]
    return pd.DataFrame(rows, columns=["vm", "t", "mem", "truth"])


# the real 2026 fall-back changes: an hour of wall-clock times happens twice
FOLDS = [
    ("Europe/Berlin", "2026-10-24T22:00Z", "2026-10-25T03:00Z"),  # 03:00 CEST -> 02:00 CET
    ("America/New_York", "2026-11-01T03:00Z", "2026-11-01T09:00Z"),  # 02:00 EDT -> 01:00 EST
    ("Australia/Sydney", "2026-04-04T13:00Z", "2026-04-04T19:00Z"),  # 03:00 AEDT -> 02:00 AEST
]


@pytest.mark.parametrize(("zone", "start", "end"), FOLDS)
def test_a_repeated_local_hour_is_read_in_row_order_across_csv_blocks(
    zone: str,
    start: str,
    end: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    frame = local_logger(zone, start, end)
    assert frame["t"].duplicated().any()  # the repeated hour is in the file: 2 rows per wall time
    trace = tmp_path / "local.csv"
    frame.drop(columns="truth").to_csv(trace, index=False)
    # the repeated hour straddles CSV blocks: a VM's first and second pass land in different blocks
    monkeypatch.setattr(importer, "_CSV_BLOCK", 1 << 10)
    monkeypatch.setattr(importer, "_FLUSH_ROWS", 50)
    code, out, err = run_cli(argv(trace, tmp_path / "o", "--tz", zone), capsys)
    assert code == 0 and err == "", err
    assert out == f"imported {len(frame)} rows into {tmp_path / 'o'}\n"
    got = store.load(tmp_path / "o").sort_values(["mem_working_set"], ignore_index=True)
    assert got["ts"].tolist() == frame["truth"].tolist()
    # without --tz the same file is read as UTC (wall times), with one warning saying so
    code, out, err = run_cli(argv(trace, tmp_path / "u"), capsys)
    assert code == 0
    assert err == (
        "rightsize: warning: local.csv: times without a zone (column 't') were read as UTC; if they "
        "are local times, give their zone with --tz (e.g. --tz Europe/Berlin)\n"
    )
    naive = store.load(tmp_path / "u").sort_values(["mem_working_set"], ignore_index=True)
    wall = pd.to_datetime(frame["t"]).dt.tz_localize("UTC")
    assert naive["ts"].tolist() == wall.tolist()


def test_a_repeated_hour_in_a_parquet_timestamp_column_with_hourly_samples(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # hourly samples at :00 write 02:00 twice in Berlin on 2026-10-25: the second is an hour later
    frame = local_logger("Europe/Berlin", "2026-10-24T20:00Z", "2026-10-25T06:00Z", vms=2, every="1h")
    frame["t"] = pd.to_datetime(frame["t"])  # a naive timestamp column
    assert str(frame["t"].dtype).startswith("datetime64") and frame["t"].dt.tz is None
    trace = tmp_path / "hourly.parquet"
    frame.drop(columns="truth").to_parquet(trace)
    monkeypatch.setattr(importer, "_BATCH_ROWS", 5)  # the two 02:00 rows of a VM in different batches
    code, _, err = run_cli(argv(trace, tmp_path / "o", "--tz", "Europe/Berlin"), capsys)
    assert code == 0 and err == "", err
    got = store.load(tmp_path / "o").sort_values("mem_working_set", ignore_index=True)
    assert got["ts"].tolist() == frame["truth"].tolist()
    assert not got.duplicated(["workload", "ts"]).any()


# the real 2026 spring-forward changes: an hour of wall-clock times never happens
GAPS = [
    ("Europe/Berlin", "2026-03-29 02:30:00", "UTC+01:00 to UTC+02:00 on 2026-03-29", "+01:00"),
    ("America/New_York", "2026-03-08 02:15:00", "UTC-05:00 to UTC-04:00 on 2026-03-08", "-05:00"),
]


@pytest.mark.parametrize(("zone", "skipped", "change", "standard"), GAPS)
def test_a_skipped_local_time_is_one_line_and_nothing_is_written(
    zone: str, skipped: str, change: str, standard: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    day = skipped[:10]
    frame = local_logger(zone, f"{day}T00:00Z", f"{day}T12:00Z", vms=2, every="15min")
    assert skipped not in set(frame["t"])  # a local logger never writes it ...
    trace = tmp_path / "spring.csv"
    frame.drop(columns="truth").to_csv(trace, index=False)
    code, _, err = run_cli(argv(trace, tmp_path / "o", "--tz", zone), capsys)
    assert code == 0, err  # ... and its file imports, an hour shorter in local time
    got = store.load(tmp_path / "o").sort_values("mem_working_set", ignore_index=True)
    assert got["ts"].tolist() == frame["truth"].tolist()
    lines = trace.read_text().splitlines()
    lines.insert(5, f"vm0,{skipped},7")  # data row 5
    trace.write_text("\n".join(lines) + "\n")
    code, out, err = run_cli(argv(trace, tmp_path / "bad", "--tz", zone), capsys)
    assert code == 2 and out == "" and not (tmp_path / "bad").exists()
    assert err == (
        f"rightsize: error: spring.csv row 5: --map ts=t: {skipped} is not a time in {zone} (its clocks "
        f"change from {change}, skipping it): are the times in another zone, or in "
        f"standard time all year (then --tz {standard})?\n"
    )
    # standard time all year, as the line suggests: every wall time exists
    code, _, err = run_cli(argv(trace, tmp_path / "std", "--tz", standard), capsys)
    assert code == 0, err
    got = store.load(tmp_path / "std")
    sign = 1 if standard[0] == "+" else -1
    hours = int(standard[1:3])
    assert pd.Timestamp(skipped, tz="UTC") - sign * pd.Timedelta(hours=hours) in set(got["ts"])


@pytest.mark.parametrize(
    ("zone", "day", "change"),
    [
        ("Europe/Berlin", "2026-10-25", "UTC+02:00 to UTC+01:00"),
        ("Australia/Sydney", "2026-04-05", "UTC+11:00 to UTC+10:00"),  # 16:00 UTC the day before
    ],
)
def test_a_repeated_time_out_of_order_names_its_row(
    zone: str, day: str, change: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "unsorted.csv"
    trace.write_text(
        f"vm,t,mem\na,{day} 02:40:00,1\nb,{day} 02:00:00,1\na,{day} 03:10:00,1\na,{day} 02:20:00,1\n"
    )
    code, out, err = run_cli(argv(trace, tmp_path / "o", "--tz", zone), capsys)
    assert code == 2 and out == "" and not (tmp_path / "o").exists()
    assert err == (
        f"rightsize: error: unsorted.csv row 4: --map ts=t: {day} 02:20:00 happens twice in {zone} "
        f"(its clocks change from {change} on {day}), and the rows of 'a' before it are later than both: "
        "sort the file by time, or write the times with their UTC offset\n"
    )


def test_times_with_an_offset_and_epoch_numbers_are_not_shifted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "mixed.csv"
    trace.write_text(
        "vm,t,epoch,mem\n"
        "a,2026-07-01T12:00:00Z,1782907200,1\n"
        "a,2026-07-01T12:05:00+02:00,1782907500,2\n"
        "a,2026-07-01 12:10:00,1782907800,3\n"  # naive: Berlin summer time, 10:10Z
        "a,2026-07-01T12:15,1782908100,4\n"
        "a,2026-07-02,1782908400,5\n"  # a date: local midnight
    )
    code, _, err = run_cli(argv(trace, tmp_path / "o", "--tz", "Europe/Berlin"), capsys)
    assert code == 0 and err == "", err
    got = store.load(tmp_path / "o").sort_values("mem_working_set")["ts"].tolist()
    expected = ["2026-07-01T12:00Z", "2026-07-01T10:05Z", "2026-07-01T10:10Z", "2026-07-01T10:15Z"]
    assert got == [pd.Timestamp(t) for t in [*expected, "2026-07-01T22:00Z"]]
    epoch = ["import", str(trace), "--map", "workload=vm,ts=epoch,mem_working_set=mem", "--tz", "Asia/Tokyo"]
    code, _, err = run_cli([*epoch, "--out", str(tmp_path / "e")], capsys)
    assert code == 0 and err == (  # epoch numbers are UTC: not shifted, and the user is told
        "rightsize: warning: --tz Asia/Tokyo changed nothing: every time in column 'epoch' is an epoch "
        "number (UTC by definition) or carries its own zone\n"
    )
    got = store.load(tmp_path / "e").sort_values("mem_working_set")["ts"]
    assert (got.astype("int64") // 1000).tolist() == [1782907200 + 300 * i for i in range(5)]


@pytest.mark.parametrize(
    ("tz", "shift_hours"),
    [("UTC", 0), ("+05:30", 5.5), ("-0800", -8), ("UTC+2", 2), ("Asia/Kolkata", 5.5), ("Etc/GMT+3", -3)],
)
def test_fixed_offsets_and_utc(
    tz: str,
    shift_hours: float,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    frame = local_logger("UTC", "2026-01-01T00:00Z", "2026-01-01T12:00Z", vms=2)
    trace = tmp_path / "t.csv"
    frame.drop(columns="truth").to_csv(trace, index=False)
    monkeypatch.setattr(importer, "_CSV_BLOCK", 1 << 10)
    code, _, err = run_cli(argv(trace, tmp_path / "o", "--tz", tz), capsys)
    assert code == 0 and err == "", err  # --tz UTC too: the user said so, no warning
    got = store.load(tmp_path / "o").sort_values("mem_working_set", ignore_index=True)
    shift = pd.Timedelta(hours=shift_hours)
    assert got["ts"].tolist() == (frame["truth"] - shift).tolist()


@pytest.mark.parametrize(
    ("tz", "message"),
    [
        (
            "Mars/Olympus",
            "--tz 'Mars/Olympus': unknown time zone; expected an IANA zone such as Europe/Berlin",
        ),
        ("CEST", "--tz 'CEST': unknown time zone; expected an IANA zone such as Europe/Berlin"),
        ("../etc/passwd", "--tz '../etc/passwd': unknown time zone"),
        ("", "--tz is empty: expected an IANA zone such as Europe/Berlin"),
        ("+25:00", "--tz +25:00: offsets run from -14:00 to +14:00"),
        ("+02:75", "--tz +02:75: offsets run from -14:00 to +14:00"),
    ],
)
def test_an_unknown_zone_is_one_line_and_nothing_is_written(
    tz: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text("vm,t,mem\na,2026-01-01 00:00:00,1\n")
    code, out, err = run_cli(argv(trace, tmp_path / "o", "--tz", tz), capsys)
    assert code == 2 and out == "" and not (tmp_path / "o").exists()
    assert err.startswith(f"rightsize: error: {message}") and err.count("\n") == 1, err


# how pandas' ISO 8601 reader writes a time with its own zone, and without one
ISO_FORMS = [
    "2026-01-05T10:00:00Z",
    "2026-01-05T10:00:00+01:00",
    "2026-01-05T10:00:00+0100",
    "2026-01-05T10:00:00-03",
    "2026-01-05 10:00:00 +01:00",
    "2026-01-05T10:00:00.250-05:00",
    "20260105T100000Z",
    "2026-01-05T10Z",
    "2026-01-05T10:00:00",
    "2026-01-05 10:00:00.250",
    "2026-01-05T10:00",
    "20260105T100000",
    "2026-01-05",
]


def test_iso_forms_with_an_offset_keep_it_and_the_others_take_the_zone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "forms.csv"
    trace.write_text("vm,t,mem\n" + "".join(f"a,{t},{i}\n" for i, t in enumerate(ISO_FORMS)))
    code, _, err = run_cli(argv(trace, tmp_path / "o", "--tz", "+07:00"), capsys)
    assert code == 0, err
    got = store.load(tmp_path / "o").sort_values("mem_working_set")["ts"].tolist()
    for form, ts in zip(ISO_FORMS, got, strict=True):
        own = pd.Timestamp(form)  # pandas alone: aware if the text carries a zone
        want = own.tz_convert("UTC") if own.tzinfo else own.tz_localize("UTC") - pd.Timedelta(hours=7)
        assert ts == want, form


def test_a_bad_value_in_a_later_csv_block_is_one_line_naming_row_column_and_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [f"vm_{i % 3},{1_767_225_600 + 60 * i},{i * 1000},{i % 2}" for i in range(3000)]
    rows[2600] = "vm_2,1767381600,12k,1"  # data row 2601, far past the first block
    trace = tmp_path / "big.csv"
    trace.write_text("vm,t,mem,up\n" + "\n".join(rows) + "\n")
    monkeypatch.setattr(importer, "_CSV_BLOCK", 1 << 12)  # ~10 blocks
    monkeypatch.setattr(importer, "_FLUSH_ROWS", 200)  # earlier blocks are already written when it fails
    first = pd.read_csv(trace, nrows=100)
    assert first["mem"].dtype == np.int64  # the first block holds numbers only
    out = tmp_path / "ds"
    code, stdout, err = run_cli(argv(trace, out), capsys)
    assert code == 2 and stdout == ""
    assert err == (
        "rightsize: error: big.csv row 2601: mem_working_set (column \"mem\") holds '12k', expected a "
        "number as in the rows before it\n"
    )
    assert not out.exists()  # no files, and no folders the failed import made
    # the same in a dataset that holds other data: that is left as it was
    other = tmp_path / "other.csv"
    other.write_text("vm,t,mem\nz,1767225600,5\n")
    assert run_cli(argv(other, out), capsys)[0] == 0
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    mapping = "workload=vm,ts=t,mem_working_set=mem*1024,mem_rss=mem"
    code, _, err = run_cli(["import", str(trace), "--map", mapping, "--out", str(out)], capsys)
    assert code == 2
    assert err == (
        "rightsize: error: big.csv row 2601: mem_working_set, mem_rss (column \"mem\") holds '12k', "
        "expected a number as in the rows before it\n"
    )
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before


@pytest.mark.parametrize(
    ("bad_row", "extra", "message"),
    [
        (
            "vm_1,soon,5,1",  # date text there: test_import_mixed_times
            [],
            "ts (column \"t\") holds 'soon', expected an epoch number as in the rows before it",
        ),
        (
            "vm_1,1767300000,5,yes",
            ["--where", "up"],
            "--where up (column \"up\") holds 'yes', expected 0 or 1 as in the rows before it",
        ),
    ],
)
def test_other_bad_values_in_a_later_csv_block(
    bad_row: str,
    extra: list[str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rows = [f"vm_{i % 3},{1_767_225_600 + 60 * i},{i},{i % 2}" for i in range(1500)]
    rows[1234] = bad_row
    trace = tmp_path / "late.csv"
    trace.write_text("vm,t,mem,up\n" + "\n".join(rows) + "\n")
    monkeypatch.setattr(importer, "_CSV_BLOCK", 1 << 12)
    code, _, err = run_cli([*argv(trace, tmp_path / "o"), *extra], capsys)
    assert code == 2 and not (tmp_path / "o").exists()
    assert err == f"rightsize: error: late.csv row 1235: {message}\n"


def test_parquet_aware_timestamps_stay_and_dates_are_local_midnight(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "typed.parquet"
    aware = pd.to_datetime(["2026-07-01T12:00:00+02:00", "2026-07-01T13:00:00+02:00"], utc=True)
    days = pd.Series(pd.to_datetime(["2026-07-01", "2025-12-01"]).date)  # a date32 column
    pd.DataFrame({"vm": ["a", "b"], "aware": aware, "day": days, "mem": [1, 2]}).to_parquet(trace)
    base = ["import", str(trace), "--tz", "America/New_York", "--out"]
    code, _, err = run_cli(
        [*base, str(tmp_path / "a"), "--map", "workload=vm,ts=aware,mem_working_set=mem"], capsys
    )
    assert code == 0 and err.startswith("rightsize: warning: --tz America/New_York changed nothing: "), err
    assert store.load(tmp_path / "a").sort_values("workload")["ts"].tolist() == aware.tolist()
    code, _, err = run_cli(
        [*base, str(tmp_path / "d"), "--map", "workload=vm,ts=day,mem_working_set=mem"], capsys
    )
    assert code == 0 and err == "", err
    got = store.load(tmp_path / "d").sort_values("workload")["ts"].tolist()
    assert got == [pd.Timestamp("2026-07-01T04:00Z"), pd.Timestamp("2025-12-01T05:00Z")]  # EDT, EST


def test_a_skipped_time_behind_a_where_filter_names_its_row_in_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "flagged.csv"
    trace.write_text(
        "vm,t,mem,up\na,2026-03-29 01:50:00,1,true\n"
        "b,2026-03-29 02:30:00,3,false\nb,2026-03-29 02:40:00,3,true\n"
    )
    code, _, err = run_cli([*argv(trace, tmp_path / "o", "--tz", "Europe/Berlin"), "--where", "up"], capsys)
    assert code == 2 and not (tmp_path / "o").exists()
    assert err.startswith(
        "rightsize: error: flagged.csv row 3: --map ts=t: 2026-03-29 02:40:00 is not a time"
    ), err
