"""``rightsize import``: a real trace excerpt (Bitbrains Rnd, Parquet) and CSV traces through --map."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cli_helpers import run_cli

import rightsize
from rightsize import store
from rightsize.errors import RightsizeError
from rightsize.ingest import importer

EXCERPT = Path(__file__).parent / "fixtures" / "backtest" / "bitbrains-rnd-excerpt.parquet"
BITBRAINS_MAP = (
    "workload=container_id,ts=ts,cpu_cores=cpu,mem_working_set=mem,mem_limit=mem_limit,cpu_limit=cpu_limit"
)


def test_real_trace_excerpt_imports_only_provisioned_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ds"
    code, stdout, err = run_cli(
        ["import", str(EXCERPT), "--map", BITBRAINS_MAP, "--where", "provisioned", "--out", str(out)], capsys
    )
    assert code == 0, err
    src = pq.read_table(EXCERPT).to_pandas()
    src = src[src["provisioned"]]
    assert stdout.strip() == f"imported {len(src)} rows into {out}"
    got = store.load(out).sort_values(["workload", "ts"], ignore_index=True)
    src = src.assign(container_id=src["container_id"].astype(str)).sort_values(["container_id", "ts"])
    assert len(got) == len(src) == 2100
    assert got["workload"].tolist() == src["container_id"].tolist()
    assert got["container_id"].tolist() == src["container_id"].tolist()
    assert (got["host"] == "import").all()
    assert (got["ts"].to_numpy() == src["ts"].dt.as_unit("ms").to_numpy()).all()
    assert (got["mem_working_set"].to_numpy() == src["mem"].to_numpy()).all()
    assert (got["mem_limit"].to_numpy() == src["mem_limit"].to_numpy()).all()
    assert np.allclose(got["cpu_cores"].to_numpy(), src["cpu"].to_numpy().astype(float))
    assert np.allclose(got["cpu_limit"].to_numpy(), src["cpu_limit"].to_numpy().astype(float))
    assert got["mem_peak"].isna().all() and got["pids"].isna().all()
    # one file per UTC day touched, in the store's layout
    days = sorted(p.parent.name for p in store.list_files(out))
    assert days == ["date=2013-07-28", "date=2013-07-29", "date=2013-07-30"]


def test_streaming_in_small_batches_gives_the_same_dataset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mapping = importer.parse_mapping(BITBRAINS_MAP)
    whole = importer.import_trace(EXCERPT, mapping, tmp_path / "a", where="provisioned")
    monkeypatch.setattr(importer, "_BATCH_ROWS", 100)
    monkeypatch.setattr(importer, "_FLUSH_ROWS", 300)
    small = importer.import_trace(EXCERPT, mapping, tmp_path / "b", where="provisioned")
    assert whole == small == 2100
    a = store.load(tmp_path / "a").sort_values(["workload", "ts"], ignore_index=True)
    b = store.load(tmp_path / "b").sort_values(["workload", "ts"], ignore_index=True)
    pd.testing.assert_frame_equal(a, b)
    assert len(store.list_files(tmp_path / "b")) > len(store.list_files(tmp_path / "a"))


def test_csv_with_epoch_seconds_and_iso_times(tmp_path: Path) -> None:
    src = pq.read_table(EXCERPT).to_pandas().head(50)
    csv = tmp_path / "trace.csv"
    pd.DataFrame(
        {
            "vm": src["container_id"].astype(str),
            "epoch": src["ts"].astype("int64") // 10**6,  # us -> s
            "used_mb": src["mem"] / 2**20,
        }
    ).to_csv(csv, index=False)
    n = importer.import_trace(
        csv, importer.parse_mapping("workload=vm, ts=epoch, mem_working_set=used_mb"), tmp_path / "o"
    )
    got = store.load(tmp_path / "o")
    assert n == 50
    assert (got["ts"].to_numpy() == src["ts"].dt.as_unit("ms").to_numpy()).all()
    # MiB read as bytes: the mapping copies numbers, it does not guess units ...
    assert np.allclose(got["mem_working_set"].to_numpy(), np.round(src["mem"].to_numpy() / 2**20))
    # ... unless a factor says so
    mapping = importer.parse_mapping(
        "workload=vm,ts=epoch,mem_working_set=used_mb * 1048576,cpu_cores=used_mb/1e3"
    )
    importer.import_trace(csv, mapping, tmp_path / "scaled")
    scaled = store.load(tmp_path / "scaled")
    assert np.allclose(scaled["mem_working_set"].to_numpy(), src["mem"].to_numpy(), rtol=0, atol=1)
    assert np.allclose(scaled["cpu_cores"].to_numpy(), src["mem"].to_numpy() / 2**20 / 1000)
    iso = tmp_path / "iso.csv"
    pd.DataFrame(
        {"name": ["a", "a"], "t": ["2026-01-05T00:00:00Z", "2026-01-05T00:05:00+00:00"], "c": [0.5, 1.0]}
    ).to_csv(iso, index=False)
    assert importer.import_trace(iso, {"workload": "name", "ts": "t", "cpu_cores": "c"}, tmp_path / "p") == 2
    got = store.load(tmp_path / "p")
    assert got["ts"].tolist() == [pd.Timestamp("2026-01-05T00:00Z"), pd.Timestamp("2026-01-05T00:05Z")]
    assert got["cpu_cores"].tolist() == [0.5, 1.0] and got["mem_working_set"].isna().all()


@pytest.mark.parametrize(
    ("map_", "extra", "message"),
    [
        ("workload=container_id,ts=ts,cpu=cpu", [], "unknown samples column 'cpu'"),
        ("workload=container_id,cpu_cores=cpu", [], "--map must name ts"),
        ("workload=container_id,ts=ts", [], "must name cpu_cores or mem_working_set"),
        ("workload=container_id,ts=ts,cpu_cores=nope", [], "has no column 'nope'"),
        ("workload=container_id,ts", [], "bad --map entry 'ts'"),
        ("workload=container_id,ts=ts,ts=ts,cpu_cores=cpu", [], "twice: expected each samples column once"),
        (
            "workload=container_id,ts=ts,cpu_cores=cpu",
            ["--where", "mem"],
            "holds 652833587, expected a boolean (true/false or 0/1)",
        ),
        (
            "workload=container_id,ts=ts,cpu_cores=container_id",
            [],
            "--map cpu_cores=container_id: column 'container_id' holds text such as 'bitbrains_rnd_14', "
            "expected numbers",
        ),
        (
            "workload=container_id,ts=container_id,cpu_cores=cpu",
            [],
            "--map ts=container_id: 'bitbrains_rnd_1' is not a time; expected ISO 8601 text",
        ),
        ("workload=container_id,ts=ts*1000,cpu_cores=cpu", [], "only numeric columns can be scaled"),
        ("workload=container_id,ts=ts,cpu_cores=cpu/0", [], "--map cpu_cores=cpu/0: cannot scale by zero"),
        ("workload=container_id,ts=ts,cpu_cores=cpu*abc", [], "'abc' is not a positive decimal number (exp"),
        ("workload=container_id,ts=ts,cpu_cores=cpu/", [], "factor '' is not a positive decimal number"),
        ("workload=container_id,ts=ts,cpu_cores=cpu,mem_working_set=mem*1k", [], "factor '1k' is not"),
        ("workload=container_id,ts=ts,cpu_cores=cpu", ["--where", "cpu"], "float, expected a boolean"),
        ("workload=container_id,ts=ts,cpu_cores=cpu*1e400", [], "cannot scale by inf"),
        ("workload=container_id,ts=ts,cpu_cores=cpu*-1", [], "factor '-1' is not a positive decimal number"),
        ("workload=container_id,ts=ts,cpu_cores=cpu/1e-400", [], "cannot scale by zero"),
    ],
)
def test_bad_mappings_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], map_: str, extra: list[str], message: str
) -> None:
    code, _, err = run_cli(
        ["import", str(EXCERPT), "--map", map_, "--out", str(tmp_path / "o"), *extra], capsys
    )
    assert code == 2 and err.startswith("rightsize: error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "o" / "samples").exists() or not store.list_files(tmp_path / "o")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("x.parquet", None, "no trace file at {tmp}/x.parquet"),
        ("", None, "{tmp} is a folder, expected a Parquet or CSV trace file"),
        ("trace.xlsx", b"PK", "trace.xlsx: unknown trace format '.xlsx' (expected a .parquet or .csv file)"),
        (
            "broken.parquet",
            b"a,b\n1,2\n",
            "cannot read broken.parquet: not a Parquet file (it does not start with PAR1); "
            "a CSV trace must be named .csv",
        ),
        ("trace.csv", "PARQUET", "cannot read trace.csv: it is a Parquet file, not CSV; name it .parquet"),
        ("bad.csv", b"a,b\n1,2,3\n", "cannot read bad.csv as CSV: CSV parse error: Expected 2 col"),
    ],
)
def test_bad_files_are_one_line_naming_what_is_expected(
    name: str, content: bytes | str | None, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / name
    if content == "PARQUET":
        trace.write_bytes(EXCERPT.read_bytes())
    elif isinstance(content, bytes):
        trace.write_bytes(content)
    argv = ["import", str(trace), "--map", BITBRAINS_MAP, "--out", str(tmp_path / "o")]
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"rightsize: error: {message.format(tmp=tmp_path)}"), err
    assert err.rstrip("\n").isprintable()  # no bytes of the file in the message


def test_imported_real_trace_backtests_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ds"
    args = ["import", str(EXCERPT), "--map", BITBRAINS_MAP, "--where", "provisioned", "--out", str(out)]
    assert run_cli(args, capsys)[0] == 0
    code, stdout, err = run_cli(
        [
            "backtest",
            "--data",
            str(out),
            "--train",
            "1d",
            "--test",
            "12h",
            "--every",
            "12h",
            "--format",
            "json",
        ],
        capsys,
    )
    assert code == 0, err
    doc = json.loads(stdout)
    assert set(doc["strategies"]) == {"default", "krr", "vpa", "current"}
    # the trace's own limits, by hand: windows from each VM's first sample, train 1 day, test 12 h
    src = pq.read_table(EXCERPT).to_pandas()
    src = src[src["provisioned"]].assign(vm=lambda f: f["container_id"].astype(str))
    limits, used, windows = 0.0, 0.0, 0
    for _, vm in src.groupby("vm"):
        t = (vm["ts"] - vm["ts"].iloc[0]).dt.total_seconds().to_numpy()
        start = 0.0
        while start + 1.5 * 86400 <= t[-1]:
            test = vm[(t >= start + 86400) & (t < start + 1.5 * 86400)]
            if len(test):  # current is scored on every test window with samples
                limits += test["mem_limit"].mean()
                used += test["mem"].mean()
                windows += 1
            start += 43200
    current = doc["strategies"]["current"]
    assert current["windows"] == windows > 0
    assert current["mem_alloc_ratio"] == pytest.approx(limits / used, rel=1e-5)
    assert current["mem_overrun_share"] == 0.0
    assert {w["workload"] for w in doc["workloads"]} == set(src["vm"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["FILE", "--out", ""], "--out is empty: expected a dataset folder"),
        (["FILE", "--out", " "], "--out is empty: expected a dataset folder"),
        (["", "--out", "ds"], "FILE is empty: expected a Parquet or CSV trace file"),
    ],
)
def test_empty_paths_are_one_line_and_write_nothing_here(
    args: list[str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # an unset variable in a script must not import into (or from) the current folder
    monkeypatch.chdir(tmp_path)
    argv = ["import", *[str(EXCERPT) if a == "FILE" else a for a in args], "--map", BITBRAINS_MAP]
    code, out, err = run_cli(argv, capsys)
    assert code == 2 and out == "" and err == f"rightsize: error: {message}\n"
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RightsizeError, match="is empty"):
        trace = EXCERPT if args[0] == "FILE" else ""
        importer.import_trace(trace, importer.parse_mapping(BITBRAINS_MAP), args[2])


@pytest.mark.parametrize("where", ["", " "])
def test_empty_where_is_one_line_not_every_row(
    where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o"
    argv = ["import", str(EXCERPT), "--map", BITBRAINS_MAP, "--out", str(out), "--where", where]
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and err == "rightsize: error: --where is empty: expected a boolean column of the trace\n"
    assert not out.exists()


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("", "--host is empty: expected a host name"),
        ("a/b", "--host 'a/b': expected a host name without '/'"),
        ("x" * 250, "--host has 250 characters: expected a host name of at most 200"),
    ],
)
def test_bad_host_is_one_line(
    host: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o"
    argv = ["import", str(EXCERPT), "--map", BITBRAINS_MAP, "--out", str(out), "--host", host]
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and err == f"rightsize: error: {message}\n"
    assert not out.exists()


def test_numbers_too_large_say_so_and_large_integers_still_import_as_floats(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = pq.read_table(EXCERPT)
    big = trace.set_column(trace.schema.get_field_index("mem"), "mem", pa.array([2**62] * len(trace)))
    pq.write_table(big, tmp_path / "big.parquet")
    base = "workload=container_id,ts=ts,mem_limit=mem_limit"
    argv = ["import", str(tmp_path / "big.parquet"), "--out", str(tmp_path / "o"), "--map"]
    # 2**62 x 4 is past int64: the message says so (it said "holds int64 values, expected numbers")
    code, _, err = run_cli([*argv, f"{base},mem_working_set=mem*4"], capsys)
    assert (
        code == 2
        and err.startswith(
            "rightsize: error: --map mem_working_set=mem: column 'mem' holds values out of range for "
            "mem_working_set (int64) once scaled ("
        )
        and err.endswith("), expected numbers that fit in int64\n")
    ), err
    assert not (tmp_path / "o").exists()
    # an int64 beyond 2**53 is valid in a float64 column (to the nearest float), not an error
    code, _, err = run_cli([*argv, f"{base},cpu_cores=mem"], capsys)
    assert code == 0, err
    assert rightsize.load(tmp_path / "o")["cpu_cores"].eq(2.0**62).all()


def test_a_blank_time_in_text_times_drops_that_row_like_a_missing_one(tmp_path: Path) -> None:
    # aware and naive times together stay text in arrow's CSV reader; an empty cell is then "", which
    # is a missing time (the row is dropped, as a null time always was), not "'' is not a time"
    trace = tmp_path / "gaps.csv"
    trace.write_text("vm,t,c\na,2026-01-05T00:00:00Z,0.5\na,,0.7\na, ,0.8\na,2026-01-05T00:10:00,1.0\n")
    assert importer.import_trace(trace, {"workload": "vm", "ts": "t", "cpu_cores": "c"}, tmp_path / "o") == 2
    got = store.load(tmp_path / "o")
    assert got["cpu_cores"].tolist() == [0.5, 1.0]
    bad = tmp_path / "bad.csv"
    bad.write_text("vm,t,c\na,2026-01-05T00:00:00Z,0.5\na,soon,0.7\n")
    with pytest.raises(RightsizeError, match="'soon' is not a time"):
        importer.import_trace(bad, {"workload": "vm", "ts": "t", "cpu_cores": "c"}, tmp_path / "p")


def test_a_bad_value_late_in_the_trace_leaves_the_dataset_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # a value that only fails in the last batch, after earlier flushes were already written
    trace = pq.read_table(EXCERPT)
    mem = trace["mem"].to_numpy().copy()
    mem[-1] = 2**62
    late = tmp_path / "late.parquet"
    pq.write_table(trace.set_column(trace.schema.get_field_index("mem"), "mem", pa.array(mem)), late)
    out = tmp_path / "ds"
    importer.import_trace(EXCERPT, importer.parse_mapping(BITBRAINS_MAP), out, host="earlier")
    before = sorted(store.list_files(out))
    monkeypatch.setattr(importer, "_BATCH_ROWS", 100)
    monkeypatch.setattr(importer, "_FLUSH_ROWS", 300)
    argv = ["import", str(late), "--map", BITBRAINS_MAP + ",mem_working_set=mem*4", "--out", str(out)]
    argv[3] = argv[3].replace("mem_working_set=mem,", "")
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and "out of range for mem_working_set" in err
    assert sorted(store.list_files(out)) == before  # nothing of the failed import is left behind
