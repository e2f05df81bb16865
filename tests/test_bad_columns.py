"""A samples file whose column has the wrong type (a hand-made Parquet file): one line, exit 2, on
the in-memory path for small folders and on the streaming scan (file by file, or in a batch of
small files; with --since the scan reads the footers first)."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cli_helpers import run_cli

from rightsize import store
from rightsize.analysis.recommend import sample_path


def _dataset(root: Path, column: str, to: pa.DataType, beside_a_good_file: bool) -> Path:
    table = store.read_table(sample_path()).sort_by("ts").slice(0, 4000)
    out = root / "samples" / "date=2026-11-16"
    out.mkdir(parents=True)
    if beside_a_good_file:  # two small files: the scan reads them as one batch
        pq.write_table(table.slice(0, 2000), out / "a-good.parquet")
    i = table.schema.get_field_index(column)
    pq.write_table(table.set_column(i, column, table[column].cast(to)), out / "b-bad.parquet")
    return out / "b-bad.parquet"


@pytest.mark.parametrize("limit", ["", "0"], ids=["small path", "scan"])
@pytest.mark.parametrize("beside", [False, True], ids=["alone", "beside a good file"])
@pytest.mark.parametrize("since", [[], ["--since", "1h"]], ids=["all", "since"])
@pytest.mark.parametrize(
    ("column", "to", "want"),
    [
        ("pids", pa.string(), "a number"),
        ("mem_working_set", pa.string(), "a number"),
        ("oom_kills", pa.string(), "a number"),
        ("ts", pa.string(), "a timestamp"),
    ],
)
def test_a_column_of_the_wrong_type_is_one_line_exit_2(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    limit: str,
    beside: bool,
    since: list[str],
    column: str,
    to: pa.DataType,
    want: str,
) -> None:
    bad = _dataset(tmp_path / "d", column, to, beside)
    monkeypatch.setenv("RIGHTSIZE_SMALL_ROWS", limit)
    code, out, err = run_cli(["recommend", "--data", str(tmp_path / "d"), *since], capsys)
    assert (code, out) == (2, "")
    assert err == (
        f"rightsize: error: {bad}: column {column} is string, expected {want} (not a file rightsize"
        " wrote? fix its types or move it away)\n"
    )


def test_other_writers_types_still_read(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # float memory, int64 PIDs, microsecond timestamps, an all-null column: numbers all the same
    table = store.read_table(sample_path()).sort_by("ts").slice(0, 4000)
    for name, to in [
        ("mem_working_set", pa.float64()),
        ("pids", pa.int64()),
        ("ts", pa.timestamp("us", "UTC")),
    ]:
        table = table.set_column(table.schema.get_field_index(name), name, table[name].cast(to))
    i = table.schema.get_field_index("mem_peak")
    table = table.set_column(i, "mem_peak", pa.nulls(table.num_rows))
    out = tmp_path / "d" / "samples" / "date=2026-11-16"
    out.mkdir(parents=True)
    pq.write_table(table, out / "other.parquet")
    code, text, err = run_cli(["recommend", "--data", str(tmp_path / "d"), "--format", "json"], capsys)
    assert code == 0 and not re.search("error", err)
    assert '"workload"' in text
