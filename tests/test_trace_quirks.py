"""Real-world trace quirks through ``rightsize import`` and ``rightsize backtest`` (traces built here)."""

from __future__ import annotations

import decimal
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from cli_helpers import run_cli

from rightsize import store
from rightsize.analysis.backtest import backtest
from rightsize.ingest import importer

H_MS = 3_600_000
T0_MS = 1_767_225_600_000  # 2026-01-01T00:00Z


def import_argv(trace: Path, out: Path) -> list[str]:
    return ["import", str(trace), "--map", "workload=vm,ts=t,mem_working_set=mem", "--out", str(out)]


def test_a_csv_column_whose_first_block_holds_only_integers_or_blanks_takes_later_decimals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # arrow's streaming CSV reader fixes each column's type from the first block (64 MB in a real
    # run): an idle VM's CPU "0" or an empty column there made a later "0.5" a parse error, and
    # whole-second ISO times made a later fractional one fail
    rows = [f"vm_{i % 3},{1_767_225_600 + 300 * i},0,,2026-01-01T00:00:{i % 60:02d}Z" for i in range(400)]
    rows.append("vm_0,1767345900,0.5,1.5,2026-01-01T01:00:00.500+01:00")
    trace = tmp_path / "late-decimals.csv"
    trace.write_text("vm,epoch,cpu,mem_mb,iso\n" + "\n".join(rows) + "\n")
    monkeypatch.setattr(importer, "_CSV_BLOCK", 1 << 12)  # many blocks from a small file
    mapping = importer.parse_mapping("workload=vm,ts=epoch,cpu_cores=cpu,mem_working_set=mem_mb*1048576")
    assert importer.import_trace(trace, mapping, tmp_path / "a") == 401
    got = store.load(tmp_path / "a").sort_values("ts", ignore_index=True)
    assert got["cpu_cores"].iloc[-1] == 0.5 and got["cpu_cores"].iloc[:-1].eq(0).all()
    assert got["mem_working_set"].iloc[-1] == 1.5 * 2**20 and got["mem_working_set"].iloc[:-1].isna().all()
    iso = importer.parse_mapping("workload=vm,ts=iso,cpu_cores=cpu")
    assert importer.import_trace(trace, iso, tmp_path / "b") == 401
    times = store.load(tmp_path / "b")["ts"]
    assert pd.Timestamp("2026-01-01T00:00:00.500Z") in set(times)


def test_a_date_column_is_midnight_utc_like_the_same_iso_text(tmp_path: Path) -> None:
    # a daily trace: arrow reads "2026-03-29" as a date column; it was refused as "date32[day]
    # values; expected ISO 8601 text", which it is
    trace = tmp_path / "daily.csv"
    trace.write_text("vm,day,mem\na,2026-03-29,10\na,2026-03-30,20\n")
    n = importer.import_trace(
        trace, importer.parse_mapping("workload=vm,ts=day,mem_working_set=mem"), tmp_path / "o"
    )
    assert n == 2
    got = store.load(tmp_path / "o")
    days = [pd.Timestamp("2026-03-29T00:00Z"), pd.Timestamp("2026-03-30T00:00Z")]
    assert got["ts"].tolist() == days
    parquet = tmp_path / "daily.parquet"
    pq.write_table(pacsv.read_csv(trace), parquet)  # the date32 column as arrow inferred it
    assert pq.read_schema(parquet).field("day").type == pa.date32()
    importer.import_trace(
        parquet, importer.parse_mapping("workload=vm,ts=day,mem_working_set=mem"), tmp_path / "p"
    )
    assert store.load(tmp_path / "p")["ts"].tolist() == days


def _with_limits(days: int = 29) -> tuple[pd.DataFrame, np.ndarray]:
    n = days * 24
    cpu = np.full(n, 1.0)
    cpu[15 * 24 : 15 * 24 + 5] = 3.0  # above both the reservation and the limit, in the first test week
    frame = pd.DataFrame(
        {
            "ts": pd.to_datetime(T0_MS + H_MS * np.arange(n), unit="ms", utc=True),
            "workload": "w",
            "mem_working_set": np.full(n, 500),
            "mem_limit": 1000,
            "cpu_cores": cpu,
            "cpu_limit": 2.0,
            "cpu_reservation": 1.5,
        }
    )
    return frame, cpu


def test_current_cpu_slack_is_against_the_recorded_reservation_as_documented() -> None:
    # README: cpu_slack = (reservation - usage) / reservation, the limit only where no reservation is
    # given; `current` used the recorded cpu_limit even where a cpu_reservation was recorded
    frame, cpu = _with_limits()
    got = backtest(frame, strategies="current").strategies["current"]
    test = cpu[14 * 24 : 28 * 24]  # the two test weeks [14d, 21d) and [21d, 28d)
    assert got.windows == 2
    assert got.cpu_slack == pytest.approx(float(np.mean((1.5 - test) / 1.5)))
    assert got.cpu_over_reservation_share == pytest.approx(float(np.mean(test > 1.5)))
    # without a recorded reservation the limit stands in, as for the strategies
    no_res = backtest(frame.drop(columns="cpu_reservation"), strategies="current").strategies["current"]
    assert no_res.cpu_slack == pytest.approx(float(np.mean((2.0 - test) / 2.0)))


def test_current_without_recorded_limits_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # it said "no training window has enough samples for the strategies", which no setting fixes
    frame, _ = _with_limits()
    data = tmp_path / "ds"
    store.append(data, store.to_table(frame.drop(columns=["mem_limit"]), "samples"), "samples", "h")
    code, out, err = run_cli(["backtest", "--data", str(data), "--strategies", "current"], capsys)
    assert code == 2 and out == ""
    assert err == (
        "rightsize: error: --strategies current: the data records no memory limit (mem_limit) "
        "to score as current\n"
    )
    # beside other strategies it is one warning line and an empty row, the others are scored
    code, out, err = run_cli(
        ["backtest", "--data", str(data), "--strategies", "krr,current", "--format", "json"], capsys
    )
    assert code == 0, err
    assert err == (
        "rightsize: warning: --strategies current: the data records no memory limit (mem_limit) "
        "to score as current\n"
    )
    assert '"windows": 2' in out and '"windows": 0' in out


def test_a_cpu_only_trace_says_the_backtest_needs_memory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # import accepts a trace with cpu_cores only; the backtest then blamed min_samples/min_history
    frame, _ = _with_limits()
    data = tmp_path / "ds"
    cpu_only = frame[["ts", "workload", "cpu_cores"]]
    store.append(data, store.to_table(cpu_only, "samples"), "samples", "h")
    code, out, err = run_cli(["backtest", "--data", str(data)], capsys)
    assert code == 2 and out == ""
    assert err == (
        "rightsize: error: no window to score: the data has no memory usage (mem_working_set), and every "
        "window is scored on the memory limit it sets (CPU is scored beside it)\n"
    )


def test_where_takes_a_0_1_flag_column_and_names_a_value_that_is_neither(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a flag written as 0/1 (CSV, or an int8 Parquet column from pandas, with nulls) was refused as
    # "int64, expected a boolean"; a null is false, as in a boolean column
    csv = tmp_path / "flags.csv"
    csv.write_text("vm,t,mem,up\na,1767225600,1,1\nb,1767225600,2,0\nc,1767225600,3,\nd,1767225600,4,1\n")
    parquet = tmp_path / "flags.parquet"
    frame = pd.DataFrame({"vm": list("abcd"), "t": [1767225600] * 4, "mem": [1, 2, 3, 4]})
    frame.assign(up=pd.array([1, 0, None, 1], dtype="Int8")).to_parquet(parquet)
    mapping = importer.parse_mapping("workload=vm,ts=t,mem_working_set=mem")
    for i, trace in enumerate((csv, parquet)):
        assert importer.import_trace(trace, mapping, tmp_path / f"o{i}", where="up") == 2
        assert sorted(store.load(tmp_path / f"o{i}")["workload"]) == ["a", "d"]
    bad = tmp_path / "bad.csv"
    bad.write_text("vm,t,mem,up\na,1767225600,1,1\nb,1767225600,2,2\n")
    argv = ["import", str(bad), "--map", "workload=vm,ts=t,mem_working_set=mem", "--where", "up"]
    code, out, err = run_cli([*argv, "--out", str(tmp_path / "bad")], capsys)
    assert code == 2 and out == "" and not (tmp_path / "bad").exists()
    assert err == (
        "rightsize: error: --where up: column 'up' holds 2, expected a boolean (true/false or 0/1) column\n"
    )


def test_quoted_newlines_across_csv_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a quoted value spanning lines imported from a small file, but failed ("CSV parser got out of
    # sync with chunker") once it straddled a block boundary, i.e. only in a trace over 64 MB
    trace = tmp_path / "names.csv"
    trace.write_text("vm,t,mem\n" + "".join(f'"vm\n{i % 3}",{1767225600 + i},{i}\n' for i in range(2000)))
    monkeypatch.setattr(importer, "_CSV_BLOCK", 1 << 12)
    mapping = importer.parse_mapping("workload=vm,ts=t,mem_working_set=mem")
    assert importer.import_trace(trace, mapping, tmp_path / "o") == 2000
    got = store.load(tmp_path / "o")
    assert sorted(set(got["workload"])) == ["vm\n0", "vm\n1", "vm\n2"]
    assert sorted(got["mem_working_set"]) == list(range(2000))


def test_epoch_numbers_that_change_magnitude_between_batches_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # times in µs since the trace began (as in Google's cluster traces): the unit was chosen per
    # batch, so the first hours were read as seconds and the rest as ms, silently
    us = np.arange(0, 200 * 3600 * 10**6, 3600 * 10**6, dtype=np.int64)  # 200 hours, in µs
    trace = tmp_path / "relative.parquet"
    pd.DataFrame({"job": "j", "time": us, "mem": 1}).to_parquet(trace)
    monkeypatch.setattr(importer, "_BATCH_ROWS", 20)
    monkeypatch.setattr(importer, "_FLUSH_ROWS", 40)
    argv = ["import", str(trace), "--map", "workload=job,ts=time,mem_working_set=mem"]
    code, out, err = run_cli([*argv, "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and out == "" and not list(tmp_path.glob("o/**/*.parquet"))
    assert err.startswith(
        "rightsize: error: --map ts=time: epoch numbers change magnitude within the file (read as seconds "
        "at first, as ms later, up to 140400000000): times since the trace began, not since 1970? "
    ), err
    # absolute epochs in any unit keep one unit through every batch
    ms = 1_767_225_600_000 + us // 1000
    pd.DataFrame({"job": "j", "time": ms, "mem": 1}).to_parquet(trace)
    code, out, err = run_cli([*argv, "--out", str(tmp_path / "p")], capsys)
    assert code == 0, err
    assert store.load(tmp_path / "p")["ts"].astype("int64").tolist() == ms.tolist()


def test_a_semicolon_separated_file_is_named_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "excel.csv"
    trace.write_text("vm;t;mem\na;1767225600;15\n")
    argv = import_argv(trace, tmp_path / "o")
    code, out, err = run_cli(argv, capsys)
    assert code == 2 and out == "" and not (tmp_path / "o").exists()
    assert err == (
        "rightsize: error: excel.csv has no column 'mem', 't', 'vm' (it has: vm;t;mem); "
        "a ';'-separated file? only comma-separated CSV is read\n"
    )
    trace.write_text("vm;t;mem\na;1767225600;1,5\n")  # a decimal comma: arrow fails at the first row
    code, out, err = run_cli(argv, capsys)
    assert code == 2 and out == "" and not (tmp_path / "o").exists()
    assert err == (
        "rightsize: error: cannot read excel.csv as CSV: CSV parse error: Expected 1 columns, got 2: "
        "a;1767225600;1,5 (the header has no comma: ';'- or tab-separated? "
        "only comma-separated CSV is read)\n"
    )


def test_set_for_current_and_absurdly_many_windows_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame, _ = _with_limits()
    data = tmp_path / "ds"
    store.append(data, store.to_table(frame, "samples"), "samples", "h")
    argv = ["backtest", "--data", str(data)]
    # `current` has no settings: the value was ignored without a word
    code, out, err = run_cli(
        [*argv, "--strategies", "krr,current", "--set", "current.mem_margin=0.3"], capsys
    )
    assert code == 2 and out == ""
    assert err == (
        "rightsize: error: --set current.mem_margin: current has no settings "
        "(it is the limits recorded in the data)\n"
    )
    # 40 days slid by 1 s: 1,638,001 windows, an hour or more of fitting with no output; now refused
    long = tmp_path / "long"
    store.append(long, store.to_table(_with_limits(days=40)[0], "samples"), "samples", "h")
    code, out, err = run_cli(["backtest", "--data", str(long), "--every", "1s"], capsys)
    assert code == 2 and out == ""
    assert err == (
        "rightsize: error: --every 1s makes 1,638,001 train/test windows (w: 1,638,001); the backtest "
        "scores at most 1,000,000: use a longer --every\n"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # two columns of one name (a careless export): a KeyError traceback
        ("vm,t,mem,mem\na,1767225600,1,2\n", "x.csv has 2 columns named 'mem': rename one"),
        # an epoch number no calendar holds: 'invalid value encountered in cast', then an OverflowError
        (
            "vm,t,mem\na,1e30,1\n",
            "--map ts=t: 1e+30 is out of range for a time (epoch ns by magnitude, between the years 1 and",
        ),
    ],
)
def test_broken_exports_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    trace = tmp_path / "x.csv"
    trace.write_text(text)
    argv = import_argv(trace, tmp_path / "o")
    code, out, err = run_cli(argv, capsys)
    assert code == 2 and out == "" and not list(tmp_path.glob("o/**/*.parquet"))
    assert err.startswith(f"rightsize: error: {message}") and err.count("\n") == 1, err


def test_iso_times_outside_the_nanosecond_range_import_like_epoch_numbers(tmp_path: Path) -> None:
    # "3000-01-01T00:00:00Z" failed with "holds string values (Casting from timestamp[us] to
    # timestamp[ns, tz=UTC] would result in out of bounds ...)"; the same time as epoch seconds imported.
    # No reader uses such times (analysis/plausible.py), so the import now skips them with a warning
    trace = tmp_path / "far.csv"
    good = "".join(f"a,2026-01-01T00:0{i}:00Z,{i}\n" for i in range(3))
    trace.write_text("vm,t,mem\na,3000-01-01T00:00:00Z,1\na,1600-01-01T00:00:00+01:00,2\n" + good)
    mapping = importer.parse_mapping("workload=vm,ts=t,mem_working_set=mem")
    with pytest.warns(UserWarning, match=r"\(1599-12-31 23:00:00, 3000-01-01 00:00:00\)"):
        assert importer.import_trace(trace, mapping, tmp_path / "o") == 3
    got = store.load(tmp_path / "o").sort_values("ts")
    assert got["ts"].min() == pd.Timestamp("2026-01-01T00:00Z")


def test_decimal_columns_are_numbers(tmp_path: Path) -> None:
    # a SQL export's numeric(10,2): "1.50" bytes failed ("holds decimal128(10, 2) values (Rescaling
    # Decimal value would cause data loss), expected numbers"); a float 1.5 is rounded, so is it now
    trace = tmp_path / "sql.parquet"
    mem = pa.array([decimal.Decimal("1.50"), decimal.Decimal("2048.25")], pa.decimal128(10, 2))
    cpu = pa.array([decimal.Decimal("0.25"), decimal.Decimal("1.75")], pa.decimal128(10, 2))
    pq.write_table(pa.table({"vm": ["a", "b"], "t": [1767225600, 1767225600], "mem": mem, "cpu": cpu}), trace)
    mapping = importer.parse_mapping("workload=vm,ts=t,mem_working_set=mem,cpu_cores=cpu,mem_limit=mem*1024")
    assert importer.import_trace(trace, mapping, tmp_path / "o") == 2
    got = store.load(tmp_path / "o").sort_values("workload")
    assert got["mem_working_set"].tolist() == [2, 2048]
    assert got["cpu_cores"].tolist() == [0.25, 1.75]
    assert got["mem_limit"].tolist() == [1536, 2097408]


def test_a_missing_time_spelled_na_or_null_drops_its_row_like_a_blank_one(tmp_path: Path) -> None:
    # a blank ISO time dropped its row, "N/A" or "NULL" (null in every number column) was "not a time"
    trace = tmp_path / "gaps.csv"
    trace.write_text(
        "vm,t,mem\na,2026-01-01T00:00:00Z,1\na,N/A,2\na,NULL,3\na,,4\na,2026-01-01T00:05:00Z,5\n"
    )
    mapping = importer.parse_mapping("workload=vm,ts=t,mem_working_set=mem")
    assert importer.import_trace(trace, mapping, tmp_path / "o") == 2
    assert store.load(tmp_path / "o")["mem_working_set"].tolist() == [1, 5]


def test_current_json_metrics_match_a_hand_computation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame, cpu = _with_limits()
    mem = np.full(len(frame), 500.0)
    mem[16 * 24 + 3] = 900  # inside the first test week, below its 1000 limit
    mem[23 * 24] = 850  # the second test week's limit is 800: one overrun
    limit = np.where(np.arange(len(frame)) < 21 * 24, 1000.0, 800.0)
    frame = frame.assign(mem_working_set=mem.astype("int64"), mem_limit=limit.astype("int64"))
    data = tmp_path / "ds"
    store.append(data, store.to_table(frame, "samples"), "samples", "h")
    code, out, err = run_cli(
        ["backtest", "--data", str(data), "--strategies", "current", "--format", "json"], capsys
    )
    assert code == 0, err
    got = json.loads(out)["strategies"]["current"]
    weeks = [slice(14 * 24, 21 * 24), slice(21 * 24, 28 * 24)]
    slack = np.concatenate([(limit[w] - mem[w]) / limit[w] for w in weeks])
    test = np.concatenate([cpu[w] for w in weeks])
    assert got == {
        "mem_slack": round(float(slack.mean()), 6),
        "mem_overrun_share": 0.5,
        "mem_alloc_ratio": round((1000 + 800) / sum(float(mem[w].mean()) for w in weeks), 6),
        "cpu_slack": round(float(np.mean((1.5 - test) / 1.5)), 6),
        "cpu_over_reservation_share": round(float(np.mean(test > 1.5)), 6),
        "limit_changes": 1,
        "windows": 2,
        "mem_overruns": 1,
    }


def test_importing_the_same_trace_twice_is_refused_and_leaves_the_dataset_as_it_was(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the second import doubled every sample without a word (sample counts, confidence, backtest)
    trace = tmp_path / "t.csv"
    trace.write_text("vm,t,mem\na,1767225600,15\na,1767229200,16\nb,1767225600,20\n")
    other = tmp_path / "u.csv"  # another VM on the same day: a trace split per VM imports file by file
    other.write_text("vm,t,mem\nc,1767225600,15\n")
    out = tmp_path / "o"
    assert run_cli(import_argv(trace, out), capsys)[0] == 0
    assert run_cli(import_argv(other, out), capsys)[0] == 0
    before = sorted(out.rglob("*.parquet"))
    code, _, err = run_cli(import_argv(trace, out), capsys)
    assert code == 2 and err.count("\n") == 1
    assert "already holds samples of 'a' on 2026-01-01 from host 'import'" in err and "twice" in err
    assert sorted(out.rglob("*.parquet")) == before and len(store.load(out)) == 4
    code, _, _ = run_cli([*import_argv(trace, out), "--host", "replay"], capsys)  # said to be other samples
    assert code == 0 and len(store.load(out)) == 7


def test_cgroup_v1_no_limit_is_no_limit_in_an_import_and_in_a_frame(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a trace from raw cgroup v1 files holds "no memory limit" as 9223372036854771712 bytes: it was
    # taken for a limit ("8388608 TiB -> 384 MiB") and drew the report's axis up to 8 EiB
    unlimited = 9223372036854771712
    rows = [f"vm_{i % 2},{1_767_225_600 + 60 * i},0.1,{100 + i % 7},{unlimited if i % 2 else 2 ** 30}"
            for i in range(400)]  # fmt: skip
    trace = tmp_path / "v1.csv"
    trace.write_text("vm,t,cpu,mem_mb,limit\n" + "\n".join(rows) + "\n")
    out = tmp_path / "d"
    mapping = "workload=vm,ts=t,cpu_cores=cpu,mem_working_set=mem_mb*1048576,mem_limit=limit"
    argv = ["import", str(trace), "--out", str(out), "--map", mapping]
    code, _, err = run_cli(argv, capsys)
    assert code == 0, err
    samples = store.load(out)
    by_vm = samples.groupby("workload")["mem_limit"]
    assert by_vm.count().to_dict() == {"vm_0": 200, "vm_1": 0}  # null, not 8 EiB
    code, text, err = run_cli(["recommend", "--data", str(out), "--format", "json"], capsys)
    assert code == 0, err
    current = {(r["workload"], r["resource"]): r["current"]["limit"] for r in json.loads(text)}
    assert current["vm_0", "memory"] == 2**30 and current["vm_1", "memory"] is None
    # a DataFrame that holds it (not through import) reads the same
    from rightsize.analysis.recommend import recommend

    frame = samples.assign(mem_limit=samples["mem_limit"].fillna(unlimited).astype("int64"))
    recs = {(r.workload, r.resource): r for r in recommend(frame)}
    assert recs["vm_1", "memory"].current.limit is None and recs["vm_0", "memory"].current.limit == 2**30
