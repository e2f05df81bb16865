"""Epoch numbers that all read as 1970 dates: relative times, or a CPU/memory column mapped as ``ts``
by mistake. The import keeps them (relative times backtest fine) and says so in one warning line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

ROWS = (f"a,0.{i % 9 + 1},{100_000_000 + i},{1_700_000_000 + 300 * i}\n" for i in range(50))
CSV = "vm,cpu,mem,t\n" + "".join(ROWS)
MAP = "workload=vm,cpu_cores=cpu,mem_working_set=mem,ts="


def _import(tmp_path: Path, ts: str) -> subprocess.CompletedProcess[str]:
    trace = tmp_path / "trace.csv"
    trace.write_text(CSV)
    return subprocess.run(
        [sys.executable, "-m", "rightsize", "import", str(trace), "--map", MAP + ts, "--out",
         str(tmp_path / "d")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_a_cpu_column_mapped_as_the_time_is_named_in_one_warning(tmp_path: Path) -> None:
    done = _import(tmp_path, "cpu")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("rightsize: warning: trace.csv: every time in column 'cpu'")
    assert "before the year 2000" in lines[0] and "--map ts=COLUMN" in lines[0]
    assert (tmp_path / "d" / "samples").is_dir()  # kept: relative times are valid input


def test_real_epoch_times_import_without_a_warning(tmp_path: Path) -> None:
    done = _import(tmp_path, "t")
    assert done.returncode == 0 and done.stderr == "", done.stderr
    samples = pd.read_parquet(tmp_path / "d" / "samples")
    assert pd.Timestamp(samples["ts"].min()).year == 2023
