"""Samples with impossible timestamps (before 2000, or more than a day after the machine's clock).

One row at 1970-01-01 (a zero) made a one-day history "20759d" with confidence 1.00 (the short-history
margin gone: a memory limit ~19 % lower) and stretched the scan's daily-peak tables over 20,000
days; one row in 2100 became the "latest" sample, so ``--since 6h`` kept only that row. Such rows
are now left out by every reader (recommend's three paths, backtest, check, report) and counted in
one warning line. Each test failed before that.
"""

from __future__ import annotations

import json
import re
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from cli_helpers import run_cli

from rightsize import store
from rightsize.analysis import scan
from rightsize.analysis.recommend import recommend

DAY0 = pd.Timestamp("2025-03-10", tz="UTC")
ODD = [pd.Timestamp(0, unit="ms", tz="UTC"), pd.Timestamp("2100-01-01", tz="UTC")]
WARNING = (
    "rightsize: warning: ignored 2 samples with impossible timestamps "
    "(1970-01-01 00:00:00, 2100-01-01 00:00:00)"
)


def _frame(odd: bool) -> pd.DataFrame:
    """One day of 60 s samples of two workloads (seeded); ``odd`` adds a 1970 and a 2100 row."""
    rng = np.random.default_rng(11)
    parts = []
    for i, name in enumerate(("shop/web", "shop/db")):
        n = 1440
        ts = DAY0 + pd.to_timedelta(np.arange(n) * 60, unit="s")
        mem = (rng.lognormal(19 + i, 0.3, n)).astype(np.int64)
        parts.append(pd.DataFrame({
            "ts": ts, "host": "h", "workload": name, "container_id": f"c-{i}", "container": name,
            "image": "img", "cpu_cores": rng.gamma(2, 0.1, n), "cpu_throttled": np.float32(0.01),
            "mem_working_set": mem, "mem_rss": mem, "mem_peak": pd.array([None] * n, dtype="Int64"),
            "pids": 10 + rng.integers(0, 5, n), "mem_limit": np.int64(2**31),
            "mem_reservation": np.int64(2**29), "cpu_limit": 2.0, "pids_limit": 500, "oom_kills": 0,
            "restarts": 0, "cpu_reservation": 0.5,
        }))  # fmt: skip
    frame = pd.concat(parts, ignore_index=True)
    if odd:  # copies of a real row, under broken clocks; the 2100 one says the limit was raised
        extra = frame.iloc[[100, 200]].assign(ts=ODD, mem_limit=[2**32, 2**33])
        frame = pd.concat([frame, extra], ignore_index=True)
    return frame


def _write(root: Path, odd: bool, layout: str) -> Path:
    """``partitions``: as the store writes (the odd rows in date=1970-01-01 and date=2100-01-01
    folders); ``one file``: all rows in one file under the real day's folder."""
    frame = _frame(odd)
    if layout == "partitions":
        store.append(root, store.to_table(frame))
    else:
        folder = root / "samples" / f"date={DAY0:%Y-%m-%d}"
        folder.mkdir(parents=True)
        pq.write_table(store.to_table(frame), folder / "h-0-all.parquet")
    return root


@pytest.fixture(params=["partitions", "one file"])
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, Path]:
    return _write(tmp_path / "clean", False, request.param), _write(tmp_path / "odd", True, request.param)


@pytest.fixture(params=["small", "scan"])
def path_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The in-memory path (the scan made to fail if called) or the streaming scan."""
    if request.param == "scan":
        monkeypatch.setenv("RIGHTSIZE_SMALL_ROWS", "0")
    else:
        monkeypatch.delenv("RIGHTSIZE_SMALL_ROWS", raising=False)

        def no_scan(*args: object, **kwargs: object) -> None:
            raise AssertionError("a small dataset went through the scan")

        monkeypatch.setattr(scan, "scan_profiles", no_scan)
    return str(request.param)


def _warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("rightsize: warning:")]


@pytest.mark.parametrize("since", [None, "6h"])
def test_recommend_is_the_same_without_the_impossible_rows(
    pair: tuple[Path, Path], path_kind: str, since: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    clean, odd = pair
    extra = ["--since", since] if since else []
    code, want, err = run_cli(["recommend", "--data", str(clean), "--format", "json", *extra], capsys)
    assert code == 0 and not _warnings(err), err
    code, got, err = run_cli(["recommend", "--data", str(odd), "--format", "json", *extra], capsys)
    assert code == 0, err
    assert got == want  # byte for byte: samples, history, confidence, the limits in force
    assert _warnings(err) == [WARNING]
    recs = json.loads(got)
    hours = 6 if since else 24
    assert {r["samples"] for r in recs} == {hours * 60 + (1 if since else 0)}
    assert {r["history_seconds"] for r in recs} == {hours * 3600.0 - (0 if since else 60)}
    memory = next(r for r in recs if r["resource"] == "memory")
    assert memory["current"]["limit"] == 2**31  # not the 2100 row's
    assert memory["confidence"] < 1


def test_scan_tables_span_the_real_day_only(
    pair: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The daily-peak tables (workloads x days) are sized from the plausible days: the
    date=1970-01-01 and date=2100-01-01 folders (and a file's statistics) made them 47,500 days."""
    monkeypatch.setenv("RIGHTSIZE_SMALL_ROWS", "0")
    days: list[int] = []
    merge = scan.merge

    def spy(found: list) -> scan.Merged:  # type: ignore[type-arg]
        days.extend(f.peaks.shape[1] for f in found)
        return merge(found)

    monkeypatch.setattr(scan, "merge", spy)
    for since in ([], ["--since", "6h"]):
        code, _, err = run_cli(["recommend", "--data", str(pair[1]), *since], capsys)
        assert code == 0, err
    assert days and max(days) <= 2, days


def test_the_second_scanner_process_ignores_them_too(tmp_path: Path) -> None:
    """The later half of the files (the 2100 folder among them) in a second process: the same
    Profiles as the clean data, and one warning for both halves."""
    clean = _write(tmp_path / "clean", False, "partitions")
    odd = _write(tmp_path / "odd", True, "partitions")
    want = scan.scan_profiles(clean, parallel=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = scan.scan_profiles(odd, parallel=True)
    assert repr(got) == repr(want)
    assert [str(w.message) for w in caught] == [WARNING.removeprefix("rightsize: warning: ")]


def test_partition_days_leave_impossible_folders_out(tmp_path: Path) -> None:
    odd = _write(tmp_path / "odd", True, "partitions")
    files = store.list_files(odd)
    assert len(files) == 3
    day = int(DAY0.value // 10**6 // 86_400_000)
    assert scan.partition_days(files) == (day, 1)


def test_now_bounds_the_future(tmp_path: Path, path_kind: str) -> None:
    """``now`` is a parameter: rows more than a day after it are left out (a day after is kept)."""
    clean = _write(tmp_path / "clean", False, "partitions")
    now = datetime(2025, 3, 9, 6, tzinfo=UTC)  # the data's first 6 hours are within a day of it
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        recs = recommend(clean, now=now)
    assert {r.samples for r in recs} == {6 * 60 + 1} and {r.history_seconds for r in recs} == {6 * 3600.0}
    said = [str(w.message) for w in caught]
    assert said == [
        "ignored 2158 samples with impossible timestamps (2025-03-10 06:01:00, …, 2025-03-10 23:59:00)"
    ]


def test_only_impossible_rows_is_one_error(
    tmp_path: Path, path_kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "d"
    store.append(root, store.to_table(_frame(True).iloc[-2:]))
    code, out, err = run_cli(["recommend", "--data", str(root)], capsys)
    assert code == 2 and not out
    assert err.splitlines() == [
        "rightsize: error: no samples with a possible timestamp: all 2 lie before 2000-01-01 or more than "
        "a day after this machine's clock (1970-01-01 00:00:00, 2100-01-01 00:00:00)"
    ]


def test_a_dataframe_is_read_the_same(tmp_path: Path) -> None:
    want = recommend(_frame(False))
    with pytest.warns(UserWarning, match="ignored 2 samples with impossible timestamps"):
        got = recommend(_frame(True), since="6h")
    assert repr(got) == repr(recommend(_frame(False), since="6h"))
    with pytest.warns(UserWarning, match="impossible timestamps"):
        assert repr(recommend(_frame(True))) == repr(want)


def test_backtest_is_the_same(pair: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """A 1970 row started every workload's windows in 1970 (none scored, or too many to score)."""
    args = ["backtest", "--train", "12h", "--test", "6h", "--every", "3h", "--format", "json"]
    code, want, err = run_cli([*args, "--data", str(pair[0])], capsys)
    assert code == 0 and not _warnings(err), err
    code, got, err = run_cli([*args, "--data", str(pair[1])], capsys)
    assert code == 0, err
    assert got == want and _warnings(err) == [WARNING]
    assert json.loads(got)["strategies"]["default"]["windows"] == 2 * 2  # both workloads: at 0 h and 3 h


def test_check_is_the_same(
    pair: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    compose = tmp_path / "compose.yaml"
    compose.write_text(
        "services:\n"
        "  web:\n    image: img\n    deploy:\n      resources:\n        limits:\n          memory: 200M\n"
        "  db:\n    image: img\n    deploy:\n      resources:\n        limits:\n          memory: 1G\n"
    )
    outs = []
    for data in pair:
        code, out, err = run_cli(
            ["check", "-f", str(compose), "--data", str(data), "--format", "json"], capsys
        )
        assert code in (0, 1), err
        outs.append((code, out))
    assert outs[0] == outs[1]


def test_report_does_not_stretch(
    pair: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The report's header covers the real day, its tables say the real history, no chart is
    stretched (no 'far from the rest' note: those rows are not there at all), one warning."""
    pages = []
    for name, data in zip(("clean", "odd"), pair, strict=True):
        out = tmp_path / f"{name}.html"
        code, _, err = run_cli(["report", "--data", str(data), "--out", str(out)], capsys)
        assert code == 0, err
        assert _warnings(err) == ([] if name == "clean" else [WARNING])
        pages.append(out.read_text())
    meta = [re.search(r'<p class="meta">(.*?)</p>', p, re.S) for p in pages]
    assert meta[0] is not None and meta[1] is not None
    head = [m.group(1).split("·")[:3] for m in (meta[0], meta[1])]
    assert head[0] == head[1]
    assert "2025-03-10 00:00 → 2025-03-10 23:59 UTC" in head[1][2] and "2,880 samples" in head[1][1]
    assert "far outside the rest" not in pages[1] and "1970" not in pages[1] and "2100" not in pages[1]


def test_a_missing_time_in_a_dataframe_is_one_of_them() -> None:
    """NaT read as the smallest int64 (a history of 292 million years before): left out too."""
    frame = _frame(False)
    odd = pd.concat([frame, frame.iloc[[5]].assign(ts=pd.NaT)], ignore_index=True)
    with pytest.warns(UserWarning) as caught:
        got = recommend(odd)
    said = [str(w.message) for w in caught]
    assert said == ["ignored 1 sample with an impossible timestamp (no time)"]
    assert repr(got) == repr(recommend(frame))


def _relative(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A trace whose times count from its start (as Alibaba's and Google's cluster traces do),
    imported as the import's warning says works: 1970-01-01 .. 1970-01-03, every 5 min."""
    n = 2 * 576
    rng = np.random.default_rng(5)
    pd.DataFrame({
        "t": np.tile(np.arange(576) * 300, 2), "vm": np.repeat(["a", "b"], 576),
        "mem": rng.integers(1, 4, n) * 2**28, "cpu": rng.gamma(2, 0.1, n),
    }).to_csv(tmp_path / "rel.csv", index=False)  # fmt: skip
    mapping = "ts=t,workload=vm,mem_working_set=mem,cpu_cores=cpu"
    args = ["import", str(tmp_path / "rel.csv"), "--map", mapping, "--out", str(tmp_path / "d")]
    code, _, err = run_cli(args, capsys)
    assert code == 0 and "times since the trace began work as they are" in err, err
    return tmp_path / "d"


@pytest.mark.parametrize("path_kind", ["small", "scan"], indirect=True)
def test_a_trace_of_times_since_its_start_is_read_whole(
    tmp_path: Path, path_kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every time before 2000 is a relative trace, not 1970 strays: all of it is read (it was 'no
    samples with a possible timestamp', beside the import's word that such times work)."""
    data = _relative(tmp_path, capsys)
    code, out, err = run_cli(["recommend", "--data", str(data), "--format", "json"], capsys)
    assert code == 0 and not _warnings(err), err
    recs = [r for r in json.loads(out) if r["resource"] != "pids"]  # (no PIDs in the trace)
    assert len(recs) == 4 and {r["samples"] for r in recs} == {576}
    assert {r["history_seconds"] for r in recs} == {575 * 300.0}
    assert all(r["recommended"] for r in recs)
    frame = store.load(data)
    assert {r.samples for r in recommend(frame) if r.resource != "pids"} == {576}
    code, _, err = run_cli(["backtest", "--data", str(data), "--train", "12h", "--test", "6h"], capsys)
    assert code == 0, err
