"""Session 7 bug-hunt fixes in the readers: an import the disk refuses, rows without a workload,
and backtest's column type check."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cli_helpers import run_cli

from rightsize import store

M = 1 << 20


def _limit_file_size(limit: int) -> None:
    """In the child: a write past ``limit`` bytes fails with EFBIG, as a full disk or a quota refuses
    one (the signal that would kill the process is ignored)."""
    import resource
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def _trace(path: Path, n: int = 20_000) -> Path:
    ts = pd.date_range("2026-11-20", periods=n, freq="10s").strftime("%Y-%m-%dT%H:%M:%SZ")
    mem = np.random.default_rng(1).integers(100 * M, 2000 * M, n)
    pd.DataFrame({"vm": np.where(np.arange(n) % 2, "a", "b"), "time": ts, "mem": mem}).to_csv(
        path, index=False
    )
    return path


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("existing", [False, True])
def test_import_the_disk_refuses_names_the_file_and_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], existing: bool
) -> None:
    # the error line named no file ("rightsize: error: File too large", or a traceback), and the
    # date= folder made for the refused file stayed behind (with out/ and out/samples)
    trace, out = _trace(tmp_path / "t.csv"), tmp_path / "out"
    if existing:  # a dataset already there (another host, an earlier day): only our writes go
        _dataset(out, n=10)
    before = _tree(tmp_path)
    args = ["import", str(trace), "--map", "workload=vm,ts=time,mem_working_set=mem", "--out", str(out)]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "rightsize", *args], capture_output=True, text=True, env=env,
        preexec_fn=lambda: _limit_file_size(20_000), check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.splitlines()
    day = out / "samples" / "date=2026-11-20"
    assert line.startswith(f"rightsize: error: {day}/import-"), line
    name = line.removeprefix(f"rightsize: error: {day}/").split(":")[0]
    assert re.fullmatch(r"import-\d+-[0-9a-f]{8}\.parquet", name), line  # the very file refused
    assert ".parquet: cannot write it: File too large; nothing was imported from t.csv" in line, line
    assert _tree(tmp_path) == before  # no file, no folder left
    # without the limit the same import works
    code, _, err = run_cli(args, capsys)
    assert code == 0, err
    assert len(list(day.glob("import-*.parquet"))) == 1


def _dataset(root: Path, n: int = 1000, unnamed: int = 0, memory: bool = True) -> Path:
    ts = pd.Timestamp("2026-11-20", tz="UTC") + pd.to_timedelta(np.arange(n) * 10, unit="s")
    rng = np.random.default_rng(7)
    frames = []
    for i, w in enumerate(["shop/web", "shop/db"]):
        mem = (200 * M + rng.integers(0, 8 * M, n)).astype("int64") if memory else None
        frames.append(pd.DataFrame({
            "ts": ts, "host": "h", "workload": w, "container_id": f"id{i}",
            "cpu_cores": rng.uniform(0.1, 0.3, n), "mem_working_set": mem,
            "mem_limit": 512 * M, "cpu_limit": 1.0,
        }))  # fmt: skip
    df = pd.concat(frames, ignore_index=True)
    df["workload"] = df["workload"].astype(object)
    df.loc[: unnamed - 1, "workload"] = None
    store.append(root, store.to_table(df))
    return root


def _warnings(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.startswith("rightsize: warning:")]


@pytest.mark.parametrize("small_rows", ["", "0"])  # the in-memory path, the streaming scan
def test_rows_without_a_workload_are_one_warning_on_either_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, small_rows: str
) -> None:
    # they were dropped silently by recommend (both paths) and backtest
    monkeypatch.setenv("RIGHTSIZE_SMALL_ROWS", small_rows)
    data = _dataset(tmp_path / "d", unnamed=37)
    code, out, err = run_cli(["recommend", "--data", str(data), "--format", "json"], capsys)
    assert code == 0, err
    assert _warnings(err) == ["rightsize: warning: ignored 37 rows without a workload"]
    assert '"samples": 963' in out and '"samples": 1000' in out  # shop/db lost 37 rows, shop/web none
    code, _, err = run_cli(["backtest", "--data", str(data), "--train", "90m", "--test", "30m"], capsys)
    assert code == 0, err
    assert "rightsize: warning: ignored 37 rows without a workload" in _warnings(err)
    # none without: no such line
    clean = _dataset(tmp_path / "c")
    code, _, err = run_cli(["recommend", "--data", str(clean), "--format", "json"], capsys)
    assert code == 0 and _warnings(err) == [], err


@pytest.mark.parametrize("small_rows", ["", "0"])
def test_no_memory_value_is_the_same_warning_on_either_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, small_rows: str
) -> None:
    # only the in-memory path said so; the scan recommended CPU and said nothing about memory
    monkeypatch.setenv("RIGHTSIZE_SMALL_ROWS", small_rows)
    data = _dataset(tmp_path / "d", memory=False)
    code, _, err = run_cli(["recommend", "--data", str(data), "--format", "json"], capsys)
    assert code == 0, err
    assert _warnings(err) == ["rightsize: warning: ignored 2000 rows without a memory value"]


def test_backtest_refuses_a_text_ts_as_recommend_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # backtest read ISO text times as times; recommend refused the file, naming it and the column
    data = tmp_path / "d"
    table = store.to_table(pq.read_table(next(_dataset(tmp_path / "src").rglob("*.parquet"))).to_pandas())
    ts = pa.array(table["ts"].to_pandas().dt.strftime("%Y-%m-%dT%H:%M:%SZ"), pa.string())
    bad = data / "samples" / "date=2026-11-20" / "h-1-00000000.parquet"
    bad.parent.mkdir(parents=True)
    pq.write_table(table.set_column(0, "ts", ts), bad)
    want = f"rightsize: error: {bad}: column ts is string, expected a timestamp"
    for cmd in (["recommend"], ["backtest", "--train", "1h", "--test", "30m"]):
        code, _, err = run_cli([*cmd, "--data", str(data)], capsys)
        assert code == 2, (cmd, err)
        assert err.splitlines()[-1].startswith(want), (cmd, err)
