"""The streaming scan's compiled loops against the in-memory path, on files shaped to reach them
all: several large row groups per file (read by the reader threads, two of the same file at once),
nulls (Arrow validity bitmaps), NaN, negative values and zeros."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from rightsize import store
from rightsize.analysis import kernels
from rightsize.analysis.history import histories
from rightsize.analysis.parquetio import SMALL_ROW_GROUP, Batch, native
from rightsize.analysis.profile import profile_of
from rightsize.analysis.recommend import sample_path
from rightsize.analysis.scan import scan_profiles

DAY_MS = 86_400_000


def _with_holes(table: pa.Table, rng: np.random.Generator) -> pa.Table:
    """Nulls, NaN, negative values and zeros sprinkled into the metric columns."""
    n = table.num_rows
    for name in ("mem_working_set", "cpu_cores", "pids", "mem_peak", "cpu_throttled"):
        col = table[name].combine_chunks()
        typ = col.type
        values = col.to_numpy(zero_copy_only=False).astype(np.float64)
        values[rng.random(n) < 0.01] = np.nan  # null (or NaN, for float columns)
        values[rng.random(n) < 0.003] = 0.0
        if name != "cpu_throttled":
            values[rng.random(n) < 0.002] *= -1
        mask = np.isnan(values) & (rng.random(n) < 0.5 if pa.types.is_floating(typ) else True)
        filled = np.where(np.isnan(values), 0, values)
        arr = pa.array(filled if pa.types.is_floating(typ) else filled.round(), mask=mask).cast(typ)
        table = table.set_column(table.schema.get_field_index(name), name, arr)
    return table


def test_scan_equals_the_in_memory_path_over_large_row_groups_with_holes(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    day1 = store.read_table(sample_path()).sort_by("ts")
    later = pc.add(day1["ts"].cast(pa.int64()), DAY_MS).cast(day1["ts"].type)
    day2 = day1.set_column(day1.schema.get_field_index("ts"), "ts", later).cast(day1.schema)
    table = _with_holes(pa.concat_tables([day1, day2]), rng)
    out = tmp_path / "d" / "samples" / "date=2026-11-16"
    out.mkdir(parents=True)
    pq.write_table(table, out / "big.parquet", row_group_size=SMALL_ROW_GROUP)  # 3 full + 1 small
    assert pq.ParquetFile(out / "big.parquet").metadata.num_row_groups == 4

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the negative values are warned about; tested elsewhere
        scanned = scan_profiles(tmp_path / "d")
        frame = store.load(tmp_path / "d")
        expected = [profile_of(h) for h in histories(frame, store.load_events(tmp_path / "d"))]
    assert len(scanned) == 10
    for got, want in zip(scanned, expected, strict=True):
        assert got.workload == want.workload and got.samples == want.samples
        assert (got.mem, got.cpu, got.pids, got.mem_peaks) == (want.mem, want.cpu, want.pids, want.mem_peaks)
        assert got.daily_mem_peaks == want.daily_mem_peaks
        assert got.throttled_share == pytest.approx(want.throttled_share, rel=1e-12)
        assert got.history_seconds == want.history_seconds and got.current == want.current


def test_native_columns_read_arrow_buffers_with_offsets() -> None:
    """A sliced Arrow array (offset not a multiple of 8): the bitmap offset says which are null."""
    arr = pa.array([5, None, 7, 8, None, 10, 11, None, 13, 14, 15], pa.int64()).slice(3)
    values, ok, off = native(pa.chunked_array([arr]))
    assert off == 3 and not values.flags.writeable
    table = np.zeros((1, 5), np.int32)
    lut = np.array([0, -1])
    local = np.zeros(len(arr), np.uint8)
    assert kernels.count_bins(local, lut, values, ok, off, table, 0) == 0
    assert table.sum() == 6  # 8, 10, 11, 13, 14, 15: the two nulls skipped


def test_fewer_values_in_pass_2_than_pass_1_counted_is_an_error_not_a_crash() -> None:
    """The compiled loops do not check bounds: a file rewritten between the passes must end in an
    error line, never in reading past a group."""
    from rightsize.analysis.exact import Binning, Counter, Keeper, plan
    from rightsize.errors import RightsizeError

    binning = Binning(16, 42)
    counter = Counter(binning)
    counter.grow(1)
    values = np.linspace(1e6, 2e6, 1000)
    counter.add(np.zeros(1000, np.int64), values, np.array([0]))
    keeper = Keeper(plan(counter.table(), (0.5,), binning))
    keeper.add(np.zeros(400, np.int64), values[:400])  # rows lost between the passes
    with pytest.raises(RightsizeError, match="changed during the scan"):
        keeper.quantiles()


def test_many_workloads_in_one_file_uint16_codes_and_table_growth(tmp_path: Path) -> None:
    """1,000 workloads in one row group's dictionary (two-byte local codes), then 100 more (the
    count tables grow past their first 1,024 rows mid-scan); every workload's percentiles still
    equal the in-memory path's."""
    rng = np.random.default_rng(11)
    per, names = 24, [f"ns/w{i:04d}" for i in range(1100)]
    sample = store.read_table(sample_path()).slice(0, per * len(names))
    table = sample.set_column(
        sample.schema.get_field_index("workload"), "workload", pa.array(np.repeat(names, per))
    )
    table = _with_holes(table, rng)
    out = tmp_path / "d" / "samples" / "date=2026-11-16"
    out.mkdir(parents=True)
    pq.write_table(table, out / "many.parquet", row_group_size=1000 * per)  # 1,000 then 100 more
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scanned = scan_profiles(tmp_path / "d")
        frame = store.load(tmp_path / "d")
        expected = [profile_of(h) for h in histories(frame, store.load_events(tmp_path / "d"))]
    assert len(scanned) == len(expected) == 1100
    for got, want in zip(scanned, expected, strict=True):
        assert (got.workload, got.samples) == (want.workload, want.samples)
        assert (got.mem, got.cpu, got.pids, got.mem_peaks) == (want.mem, want.cpu, want.pids, want.mem_peaks)


def test_small_files_are_batched_by_rows_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Small files are read many at a time, in batches bounded by rows as well as by bytes: a
    5-minute trace compresses ~20x, and 16 MiB batches of it decoded to ~5 M rows each."""
    from rightsize.analysis import scanpart
    from rightsize.analysis.recommend import recommend

    table = store.read_table(sample_path()).sort_by("ts")
    root = tmp_path / "d"
    step = 2_500
    for i in range(0, table.num_rows, step):  # ~38 files of ~100 KB: batched, not read one by one
        part = root / "samples" / "date=2026-11-16" / f"h-{i:06d}.parquet"
        part.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table.slice(i, step), part)
    monkeypatch.setenv("RIGHTSIZE_SMALL_ROWS", "0")  # the scan, not the small-data path
    whole = recommend(root)

    read: list[int] = []  # the rows of each batch read (the whole group is opened, then split)
    real = Batch.read_row_group

    def spy(self: Batch, *args: Any, **kwargs: Any) -> pa.Table:
        read.append(self.rows)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Batch, "read_row_group", spy)
    monkeypatch.setattr(scanpart, "BATCH_ROWS", 10_000)
    assert recommend(root) == whole
    assert len(read) >= table.num_rows // 10_000
    assert max(read) <= 10_000 and sum(read) >= table.num_rows  # pass 2 may read some again
