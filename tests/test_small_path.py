"""A small dataset folder takes the in-memory path (no numba); its recommendations equal the scan's.

Each case runs ``recommend()`` twice on the same folder: once with ``RIGHTSIZE_SMALL_ROWS=0`` (the
streaming scan with its compiled loops) and once with the default threshold, where the scan is
made to fail if it is called. Every field of every Recommendation must be equal, floats to the
bit (``repr`` of a float is exact, and NaN-safe where ``==`` is not).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cli_helpers import run_cli

from rightsize import store
from rightsize.analysis import recommend as rec_mod
from rightsize.analysis.recommend import recommend, sample_path
from rightsize.errors import RightsizeError
from rightsize.models import Recommendation

REPO = Path(__file__).resolve().parents[1]


def _edge_dataset(root: Path, workloads: int = 300, rows: int = 30_000, seed: int = 7) -> Path:
    """Seeded samples over 3 UTC days in 4 files, with NaN, negative and infinite values, rows
    without a workload, a one-sample workload, cumulative OOM/restart counters per container, a
    memory limit raised mid-way for some workloads, an older file without ``cpu_reservation``,
    and OOM events for two workloads (whose limit stays put: a change is
    test_the_limit_at_an_oom_event_after_a_limit_change's case)."""
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp("2026-11-10", tz="UTC")
    wl = rng.integers(0, workloads, rows)
    ts = t0 + pd.to_timedelta(np.sort(rng.integers(0, 3 * 86400, rows)), unit="s")
    mem = rng.lognormal(20, 1, rows)
    mem[rng.random(rows) < 0.02] = -5
    cpu = rng.gamma(1, 0.3, rows)
    cpu[rng.random(rows) < 0.02] = np.nan
    cpu[rng.random(rows) < 0.01] = -1.0
    cpu[rng.random(rows) < 0.005] = np.inf
    thr = rng.random(rows).astype(np.float32)
    thr[(rng.random(rows) < 0.3) | (wl % 5 == 0)] = np.nan  # no CPU limit, nothing throttled
    pids = pd.array(rng.integers(1, 300, rows), dtype="Int32")
    pids[rng.random(rows) < 0.05] = pd.NA
    peak = pd.array((mem * 1.1).clip(0).astype(np.int64), dtype="Int64")
    peak[wl % 2 == 0] = pd.NA
    peak[rng.random(rows) < 0.01] = -1
    cont = np.array([f"c{w}-{r}" for w, r in zip(wl, rng.integers(0, 2, rows), strict=True)], dtype=object)
    oom = pd.Series((rng.random(rows) < 0.002).astype(int)).groupby(cont).cumsum().to_numpy()
    restarts = pd.Series((rng.random(rows) < 0.001).astype(int)).groupby(cont).cumsum().to_numpy()
    raised = (wl % 3 == 0) & (ts > t0 + pd.Timedelta(hours=36))
    frame = pd.DataFrame({
        "ts": ts, "host": "h", "workload": [f"svc/w{w:03d}" for w in wl], "container_id": cont,
        "container": cont, "image": "img", "cpu_cores": cpu, "cpu_throttled": thr,
        "mem_working_set": mem.astype(np.int64), "mem_rss": 0, "mem_peak": peak, "pids": pids,
        "mem_limit": np.where(raised, 2**32, 2**31), "mem_reservation": np.int64(2**30),
        "cpu_limit": np.where(wl % 5 == 0, np.nan, 2.0), "pids_limit": 1000, "oom_kills": oom,
        "restarts": restarts, "cpu_reservation": 0.5,
    })  # fmt: skip
    frame.loc[frame["workload"] == "svc/w001", "workload"] = None
    frame = pd.concat([frame, frame.iloc[[5]].assign(workload="svc/single")], ignore_index=True)
    parts = np.array_split(np.arange(len(frame)), 4)
    old = store.to_table(frame.iloc[parts[0]]).drop_columns(["cpu_reservation"])  # a version-1 file
    (root / "samples" / "date=2026-11-10").mkdir(parents=True)
    pq.write_table(old, root / "samples" / "date=2026-11-10" / "h-0-old.parquet")
    for idx in parts[1:]:
        store.append(root, store.to_table(frame.iloc[idx]), "samples", "h")
    events = pd.DataFrame({
        "ts": t0 + pd.to_timedelta([3600, 7200, 90000], unit="s"), "host": "h",
        "workload": ["svc/w004", "svc/w004", "svc/w007"], "container_id": "c", "container": "c",
        "kind": "oom", "exit_code": 137,
    })  # fmt: skip
    store.append(root, store.to_table(events, "events"), "events", "h")
    return root


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _edge_dataset(tmp_path_factory.mktemp("small") / "data")


def _ignored(caught: list[warnings.WarningMessage]) -> list[str]:
    """The warnings, with the 'ignored a, b, c' parts sorted (each path lists them in its own order)."""
    out = []
    for w in caught:
        text = str(w.message)
        if text.startswith("ignored "):
            text = "ignored " + ", ".join(sorted(text[len("ignored ") :].split(", ")))
        out.append(text)
    return sorted(out)


def _both(
    monkeypatch: pytest.MonkeyPatch, path: Path, **kw: object
) -> tuple[list[Recommendation], list[Recommendation], list[str], list[str]]:
    """(scan's, small path's) recommendations and warnings for the same call."""
    from rightsize.analysis import scan

    def run() -> tuple[list[Recommendation], list[str]]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            recs = recommend(path, **kw)  # type: ignore[arg-type]
        return recs, _ignored(caught)

    with monkeypatch.context() as m:
        m.setenv("RIGHTSIZE_SMALL_ROWS", "0")
        big, big_w = run()
    with monkeypatch.context() as m:
        m.delenv("RIGHTSIZE_SMALL_ROWS", raising=False)

        def no_scan(*args: object, **kwargs: object) -> None:
            raise AssertionError("a small dataset went through the scan")

        m.setattr(scan, "scan_profiles", no_scan)
        small, small_w = run()
    return big, small, big_w, small_w


CASES = [
    {},
    {"since": "1d"},
    {"since": "2026-11-11T13:30"},
    {"workloads": "svc/w00*"},
    {"workloads": "svc/single"},
    {"strategy": "vpa"},
    {"strategy": "vpa", "since": "30h", "workloads": "svc/w1*"},
]


@pytest.mark.parametrize("kw", CASES, ids=[str(c) for c in CASES])
def test_generated_edge_cases_equal_the_scan(monkeypatch: pytest.MonkeyPatch, edge: Path, kw: dict) -> None:
    big, small, big_w, small_w = _both(monkeypatch, edge, **kw)
    assert [repr(r) for r in small] == [repr(r) for r in big]
    assert small == big
    assert small_w == big_w
    assert big and all(r.workload for r in big)  # the rows without a workload count nowhere
    if not kw:  # the data holds what the cases are about
        assert any("negative or infinite CPU" in w for w in big_w)
        by = {(r.workload, r.resource): r for r in big}
        assert len(by) == 3 * 300  # 299 named + the one-sample workload
        assert by["svc/single", "memory"].samples == 1
        assert by["svc/w004", "memory"].oom_kills == 2  # its two events, not its counters
        assert sum(r.oom_kills for r in big if r.resource == "memory") > 10
        assert {r.throttled_share is None for r in big if r.resource == "cpu"} == {True, False}
        assert by["svc/w003", "memory"].current.limit == 2**32  # the raised limit is the latest


@pytest.mark.parametrize("kw", [{}, {"since": "6h", "workloads": "*/post*"}, {"strategy": "vpa"}])
def test_bundled_sample_equals_the_scan(monkeypatch: pytest.MonkeyPatch, kw: dict) -> None:
    big, small, big_w, small_w = _both(monkeypatch, sample_path(), **kw)
    assert [repr(r) for r in small] == [repr(r) for r in big] and small == big
    assert small_w == big_w
    if not kw:
        assert len(big) == 30 and any(r.oom_kills for r in big)


def _sliced(root: Path) -> None:
    """The sample in 120 files, as a collector's flushes lay it out (the scan reads them in batches)."""
    table = store.read_table(sample_path()).sort_by("ts")
    out = root / "samples" / "date=2026-11-16"
    out.mkdir(parents=True)
    step = table.num_rows // 120 + 1
    for i in range(120):
        pq.write_table(table.slice(i * step, step), out / f"h-{i:04d}.parquet")
    shutil.copytree(sample_path() / "events", root / "events")


def _other_writer(root: Path) -> None:
    """Microsecond timestamps and float memory (pandas/other tools' Parquet), mixed with ours."""
    shutil.copytree(sample_path(), root)
    table = store.read_table(sample_path()).sort_by("ts").slice(0, 20_000)
    i = table.schema.get_field_index("ts")
    table = table.set_column(i, "ts", table["ts"].cast(pa.timestamp("us", tz="UTC")))
    j = table.schema.get_field_index("mem_working_set")
    table = table.set_column(j, "mem_working_set", table["mem_working_set"].cast(pa.float64()))
    pq.write_table(table, root / "samples" / "date=2026-11-16" / "other.parquet")


@pytest.mark.parametrize("layout", [_sliced, _other_writer], ids=["120 files", "other writer"])
def test_other_layouts_equal_the_scan(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, layout: object
) -> None:
    root = tmp_path / "d"
    layout(root)  # type: ignore[operator]
    big, small, big_w, small_w = _both(monkeypatch, root, strategy="vpa")
    assert [repr(r) for r in small] == [repr(r) for r in big] and small == big
    assert small_w == big_w and len(big) == 30


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"since": "2026-12-01"}, "no samples after it"),
        ({"workloads": "nothing*"}, "no workload matches 'nothing\\*'"),
        ({"workloads": "svc/w001"}, "no workload matches"),  # its rows have no workload
    ],
)
def test_errors_equal_the_scan(monkeypatch: pytest.MonkeyPatch, edge: Path, kw: dict, message: str) -> None:
    errors = []
    for limit in ("0", str(rec_mod.SMALL_ROWS)):
        monkeypatch.setenv("RIGHTSIZE_SMALL_ROWS", limit)
        with pytest.raises(RightsizeError, match=message) as exc, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            recommend(edge, **kw)
        errors.append(str(exc.value))
    assert errors[0] == errors[1]


def test_only_rows_without_a_workload_fail_as_the_scan_does(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    frame = store.load(sample_path()).head(500).assign(workload=None)
    store.append(tmp_path, store.to_table(frame))
    errors = []
    for limit in ("0", ""):
        monkeypatch.setenv("RIGHTSIZE_SMALL_ROWS", limit)
        with pytest.raises(RightsizeError) as exc:
            recommend(tmp_path)
        errors.append(str(exc.value))
    assert errors == ["no samples with a workload"] * 2


def test_the_threshold_and_unreadable_files_send_the_data_to_the_scan(
    monkeypatch: pytest.MonkeyPatch, edge: Path, tmp_path: Path
) -> None:
    files = store.list_files(edge)
    assert rec_mod.small_dataset(files, rec_mod.SMALL_ROWS) is not None
    assert rec_mod.small_dataset(files, 30_001) is None  # 30,001 rows: not below
    assert rec_mod.small_dataset(files, 30_002) is not None
    assert rec_mod.small_dataset(files, 0) is None
    root = tmp_path / "d"
    shutil.copytree(edge, root)
    junk = root / "samples" / "date=2026-11-10" / "junk.parquet"
    junk.write_bytes(b"not parquet")
    assert rec_mod.small_dataset(store.list_files(root), rec_mod.SMALL_ROWS) is None
    with pytest.warns(store.DatasetWarning, match="skipping .*junk.parquet"):
        recs = recommend(root)  # the scan skips it with its warning, as before
    assert len(recs) == 900


def test_a_corrupt_page_behind_a_good_footer_gets_the_scans_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # the footer says 5,000 rows (small), the data pages do not decompress: the small path gives
    # the folder back to the scan, whose one-line error names the file
    path = tmp_path / "d" / "samples" / "date=2026-11-16" / "a.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(store.read_table(sample_path()).slice(0, 5000), path, compression="zstd")
    data = bytearray(path.read_bytes())
    for i in range(200, len(data) // 2, 7):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    assert rec_mod.small_dataset(store.list_files(tmp_path / "d"), rec_mod.SMALL_ROWS) is not None
    code, out, err = run_cli(["recommend", "--data", str(tmp_path / "d")], capsys)
    assert code == 2 and out == ""
    assert re.fullmatch(
        r"rightsize: error: \S+a\.parquet: corrupt row group 0 \(.*\); move the file away\n", err
    )


def test_bad_threshold_is_one_line_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RIGHTSIZE_SMALL_ROWS", "many")
    code, _, err = run_cli(["recommend", "--data", str(sample_path())], capsys)
    assert code == 2
    assert err.strip() == "rightsize: error: RIGHTSIZE_SMALL_ROWS='many': expected a number of rows"


PROBE = """
import sys, warnings
warnings.simplefilter("ignore")
import rightsize.cli
imported_by_cli = "numba" in sys.modules
from rightsize.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    assert not exc.code, exc.code
print(imported_by_cli, "numba" in sys.modules, "rightsize.analysis.kernels" in sys.modules)
"""


def _probe(args: list[str], limit: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "RIGHTSIZE_SMALL_ROWS"}
    if limit is not None:
        env["RIGHTSIZE_SMALL_ROWS"] = limit
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *args], env=env, cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    return out.strip().splitlines()[-1]


@pytest.mark.slow
def test_small_data_never_imports_numba(edge: Path) -> None:
    assert _probe(["recommend"], None) == "False False False"
    assert _probe(["recommend", "--data", str(edge), "--since", "1d"], None) == "False False False"
    backtest = ["backtest", "--data", str(edge), "--train", "1d", "--test", "12h", "--every", "12h"]
    assert _probe(backtest, None) == "False False False"
    # the probe can tell: the same command through the scan loads the compiled loops
    assert _probe(["recommend"], "0") == "False True True"


def test_an_old_file_reads_as_store_load_reads_it(edge: Path) -> None:
    # one Arrow dataset over the folder: the version-1 file's missing column comes back null
    dataset = rec_mod.small_dataset(store.list_files(edge), rec_mod.SMALL_ROWS)
    assert dataset is not None
    table = dataset.to_table(columns=["ts", "cpu_reservation"]).to_pandas()
    table = table.sort_values("ts", kind="stable", ignore_index=True)
    loaded = store.load(edge, columns=["ts", "cpu_reservation"])
    assert table.equals(loaded)
    assert 0 < loaded["cpu_reservation"].isna().sum() < len(loaded)


def _one_container(root: Path, oom: list[int], mem_limit: list[float]) -> Path:
    """One workload, one container id, 300 rows 20 s apart, from the bundled sample's redis rows."""
    frame = store.load(sample_path())
    frame = frame[frame["workload"] == "sutazai/redis"].head(300).reset_index(drop=True)
    frame = frame.assign(container_id="c1", oom_kills=oom, restarts=0, mem_limit=mem_limit)
    frame["ts"] = pd.Timestamp("2026-11-16", tz="UTC") + pd.to_timedelta(np.arange(300) * 20, unit="s")
    store.append(root, store.to_table(frame))
    return root


def test_a_counter_reset_within_one_container_counts_both_kills(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # OOM-killed, restarted in place (the cgroup counter starts again at 0), killed again: two
    # kills on both paths (the scan keeps the row where the counter fell back to 0)
    oom = [0] * 100 + [1] * 50 + [0] * 100 + [1] * 50
    root = _one_container(tmp_path / "d", oom, [2.0**30] * 300)
    big, small, _, _ = _both(monkeypatch, root)
    assert small[0].oom_kills == 2
    assert big[0].oom_kills == 2


def test_the_limit_at_an_oom_event_after_a_limit_change(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # An OOM event at 1 GiB, then the limit raised to 2 GiB, counters all 0: the kill is reported
    # at the 1 GiB in force then on both paths, not at today's 2 GiB
    root = _one_container(tmp_path / "d", [0] * 300, [2.0**30] * 150 + [2.0**31] * 150)
    events = pd.DataFrame({
        "ts": [pd.Timestamp("2026-11-16T00:10", tz="UTC")], "host": "h", "workload": "sutazai/redis",
        "container_id": "c1", "container": "c1", "kind": "oom", "exit_code": 137,
    })  # fmt: skip
    store.append(root, store.to_table(events, "events"), "events", "h")
    big, small, _, _ = _both(monkeypatch, root)
    assert "at limit 1 GiB" in " ".join(small[0].reasons)
    assert big == small


@pytest.mark.parametrize("parallel", [False, True], ids=["one scanner", "two scanners"])
def test_a_reset_in_a_file_whose_counters_are_all_0_and_events_across_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, parallel: bool
) -> None:
    # killed (file 1), the counter back at 0 for a whole file (its statistics say "all 0": the
    # scan must still read it), killed twice more, with non-monotonic values in one row group;
    # and OOM events for a second workload whose limit changes in another file
    from rightsize.analysis import scanpart
    from rightsize.analysis.scan import scan_profiles

    monkeypatch.setattr(scanpart, "SMALL_FILE_BYTES", 0)  # file by file, by their statistics
    oom = [0] * 50 + [1] * 50 + [0] * 100 + [1] * 40 + [0] * 20 + [1] * 40
    root = _one_container(tmp_path / "d", oom, [2.0**30] * 300)
    (path,) = store.list_files(root)
    frame = store.read_table(path).to_pandas().sort_values("ts", ignore_index=True)
    path.unlink()
    other = frame.assign(
        workload="other", container_id="c2", oom_kills=0, mem_limit=[2**29] * 150 + [2**31] * 150
    )
    for k, lo in enumerate((0, 100, 200)):
        part = pd.concat([frame.iloc[lo : lo + 100], other.iloc[lo : lo + 100]], ignore_index=True)
        pq.write_table(store.to_table(part), path.parent / f"h-{k}.parquet")
    events = pd.DataFrame({
        "ts": pd.Timestamp("2026-11-16", tz="UTC") + pd.to_timedelta([-60, 30 * 20 + 5, 250 * 20], unit="s"),
        "host": "h", "workload": "other", "container_id": "c1", "container": "c1", "kind": "oom",
        "exit_code": 137,
    })  # fmt: skip
    store.append(root, store.to_table(events, "events"), "events", "h")
    big, small, _, _ = _both(monkeypatch, root)
    assert big == small
    mem = {r.workload: r for r in small if r.resource == "memory"}
    assert mem["sutazai/redis"].oom_kills == 3 and mem["other"].oom_kills == 3
    scanned = {p.workload: p for p in scan_profiles(root, parallel=parallel)}
    assert scanned["sutazai/redis"].oom_limits == (2.0**30,) * 3
    assert repr(scanned["other"].oom_limits) == repr((float("nan"), 2.0**29, 2.0**31))
