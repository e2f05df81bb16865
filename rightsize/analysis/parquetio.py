"""Parquet plumbing for the streaming scan: tolerant file opening, read-ahead, column conversion."""

from __future__ import annotations

import warnings
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from rightsize import store
from rightsize.analysis.coltypes import check_types
from rightsize.analysis.plausible import Ignored, Plausible, none_possible
from rightsize.errors import RightsizeError


def f64(col: pa.ChunkedArray) -> np.ndarray:
    """A numeric column as float64 with NaN for nulls (no copy for a float64 column without nulls)."""
    if col.null_count == 0:
        arr = col.chunk(0).to_numpy() if col.num_chunks == 1 else col.to_numpy()
        return np.asarray(arr, dtype=np.float64)
    return np.asarray(col.cast(pa.float64()).to_numpy(), dtype=np.float64)


NATIVE = (pa.int32(), pa.int64(), pa.float32(), pa.float64())  # the types the scan's kernels take as is


def native(col: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray, int]:
    """A numeric column as (values, validity bitmap or empty, bit offset), straight from Arrow's
    buffers (no conversion, no copy; null slots hold anything); other types or several chunks
    as float64 with NaN for nulls. Read-only either way: one compiled kernel variant per type."""
    from rightsize.analysis import kernels  # numba: not for readers that only need ts_bounds

    if col.num_chunks == 1 and col.type in NATIVE:
        arr = col.chunk(0)
        if arr.null_count == 0:
            return kernels.frozen(arr.to_numpy(zero_copy_only=True)), kernels.NO_NULLS, 0
        bitmap, data = arr.buffers()[:2]
        dtype = np.dtype(arr.type.to_pandas_dtype())
        values = np.frombuffer(data, dtype, count=len(arr), offset=arr.offset * dtype.itemsize)
        return kernels.frozen(values), kernels.frozen(np.frombuffer(bitmap, np.uint8)), arr.offset
    return kernels.readonly(f64(col)), kernels.NO_NULLS, 0


def ts_ms(col: pa.ChunkedArray) -> np.ndarray:
    """A timestamp column (any unit; ms in our files) as int64 ms since the epoch."""
    if not pa.types.is_timestamp(col.type):
        raise RightsizeError(f"column ts is {col.type}, not a timestamp")
    if col.type.unit != "ms":
        col = col.cast(pa.timestamp("ms", tz=col.type.tz), safe=False)
    return np.asarray(col.cast(pa.int64()).to_numpy())


def all_null(col: pa.ChunkedArray) -> bool:
    return col.null_count == len(col)


def any_positive(col: pa.ChunkedArray) -> bool:
    """Whether a numeric column holds a value > 0 (one C++ reduction, no numpy copy)."""
    top = pc.max(col).as_py()
    return top is not None and top > 0


def strings_at(col: pa.ChunkedArray, rows: np.ndarray) -> np.ndarray:
    """The strings of a (dictionary-encoded) column at the given rows only."""
    arr = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    picked = arr.take(pa.array(rows))
    if pa.types.is_dictionary(picked.type):
        picked = picked.cast(pa.string())
    return np.asarray(picked.to_numpy(zero_copy_only=False), dtype=object)


def ts_bounds(files: list[Path], valid: Plausible) -> tuple[int, int, list[int]]:
    """Min and max of the possible ts (``valid``) over the files, from the row-group statistics
    (read ts where they lack them or hold an impossible time), and the rows of each file (0 if
    unreadable)."""
    lo, hi = None, None
    ignored = Ignored()
    rows: list[int] = []
    bad: list[tuple[Path, str]] = []
    for f in files:
        try:
            meta = pq.ParquetFile(f).metadata
        except (OSError, pa.ArrowException) as exc:
            rows.append(0)
            bad.append((f, str(exc).splitlines()[0] if str(exc) else type(exc).__name__))
            continue
        rows.append(meta.num_rows)
        missing = store.missing_columns(meta.schema.names)
        if missing:  # say so here: the bounds below would read a ts column that is not there
            raise RightsizeError(f"{f} is not a rightsize samples file: missing column {', '.join(missing)}")
        check_types(f, meta.schema.to_arrow_schema())
        col = meta.schema.names.index("ts")
        for i in range(meta.num_row_groups):
            st = meta.row_group(i).column(col).statistics if col is not None else None
            a, b = _stats_ms(st, _is_ms(meta, col or 0))
            if not valid.all_ok(a, b):  # no statistics, or an impossible time among them: read ts
                ts = ts_ms(pq.ParquetFile(f).read_row_group(i, columns=["ts"])["ts"])
                ok = valid.ok(ts)
                ignored = ignored.add(ts[~ok])
                if not ok.any():
                    continue
                a, b = int(ts[ok].min()), int(ts[ok].max())
            lo, hi = (a, b) if lo is None or hi is None else (min(lo, a), max(hi, b))
    if lo is None or hi is None:
        if bad:
            more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
            raise RightsizeError(f"no readable samples: {bad[0][0]} is not a readable Parquet file{more}")
        if ignored.count:
            raise RightsizeError(none_possible(ignored))
        raise RightsizeError("no samples in the dataset: every file is empty")
    return lo, hi, rows


def _stats_ms(st: pq.Statistics | None, ms: bool) -> tuple[int, int]:
    """A row group's (min, max) ts from its statistics; (1, 0) where they hold none that fits."""
    if st is None or not st.has_min_max:
        return 1, 0
    if st.physical_type == "INT64" and ms:
        return int(st.min_raw), int(st.max_raw)  # the stored ms: no datetime round trip
    try:
        return pd.Timestamp(st.min).value // 10**6, pd.Timestamp(st.max).value // 10**6
    except (OverflowError, ValueError, TypeError):  # past what a ns Timestamp holds: read the column
        return 1, 0


def _is_ms(meta: pq.FileMetaData, col: int) -> bool:
    return "timeUnit=milliseconds" in str(meta.schema.column(col).logical_type)


def open_samples(f: Path) -> pq.ParquetFile | None:
    try:
        pf = pq.ParquetFile(f, read_dictionary=_DICT)
    except KeyError:  # a dictionary column is missing: say which columns
        pf = None
    except (OSError, pa.ArrowException) as exc:
        warnings.warn(
            f"skipping {f}: not a readable Parquet file ({exc})", store.DatasetWarning, stacklevel=4
        )
        return None
    names = (pf or pq.ParquetFile(f)).schema_arrow.names
    missing = store.missing_columns(names)
    if missing or pf is None:
        raise RightsizeError(f"{f} is not a rightsize samples file: missing column {', '.join(missing)}")
    check_types(f, pf.schema_arrow)
    return pf


SMALL_ROW_GROUP = 50_000
READERS = 2  # row groups decoded at once, beside the caller's work on the one before
SMALL_FILE_BYTES = 2**20  # files this small (a collector's one-minute flushes) are read in batches
BATCH_BYTES = 16 * 2**20
# ... and of at most this many rows: files of a 5-minute trace shrink ~20x in Parquet, so 16 MiB of
# them decoded to ~5 M rows a batch, three batches in flight: 2.3 GB peak on the Bitbrains trace
BATCH_ROWS = 1_000_000
_DICT = ["workload", "container_id"]


class Batch:
    """Many small sample files read as one table by Arrow's multi-file scanner (one row group).

    Quacks like the part of ``pq.ParquetFile`` that ``read_ahead`` uses. Per-file Python work
    (open, read, a pass over a few hundred rows) would otherwise dominate such datasets.
    """

    def __init__(self, paths: list[Path], dataset: ds.Dataset, file_rows: list[int]) -> None:
        self.paths, self.dataset, self.file_rows = paths, dataset, file_rows
        self.rows = sum(file_rows)

    def split(self, most: int) -> list[Batch]:
        """Its files in runs of at most ``most`` rows (a larger file alone), from the fragments
        already opened: their footers are not read again."""
        runs: list[list[int]] = [[]]
        rows = 0
        for i, n in enumerate(self.file_rows):
            if runs[-1] and rows + n > most:
                runs.append([])
                rows = 0
            runs[-1].append(i)
            rows += n
        frags, d = list(self.dataset.get_fragments()), self.dataset
        return [
            Batch([self.paths[i] for i in run],
                  ds.FileSystemDataset([frags[i] for i in run], d.schema, d.format, d.filesystem),
                  [self.file_rows[i] for i in run])
            for run in runs
        ]  # fmt: skip

    def read_row_group(self, rg: int, columns: list[str], use_threads: bool = True) -> pa.Table:
        return self.dataset.to_table(columns=columns, use_threads=use_threads)


def open_batch(paths: list[Path]) -> Batch | None:
    """A Batch of readable sample files, None if any is unreadable (the caller then goes file by
    file, warning about each bad one); RightsizeError for a file lacking a schema column."""
    fmt = ds.ParquetFileFormat(read_options=ds.ParquetReadOptions(dictionary_columns=set(_DICT)))
    try:
        dataset = ds.dataset([str(p) for p in paths], format=fmt)
        rows: list[int] = []
        schemas = []
        for frag in dataset.get_fragments():
            schemas.append(frag.physical_schema)
            missing = store.missing_columns(frag.physical_schema.names)
            if missing:
                raise RightsizeError(
                    f"{frag.path} is not a rightsize samples file: missing column {', '.join(missing)}"
                )
            check_types(frag.path, frag.physical_schema)
            rows.append(frag.metadata.num_rows)
        if any(s.names != schemas[0].names for s in schemas):
            # files from before and after a column was added: the dataset takes the first file's
            # columns unless told all of them (the older files then read that column as null)
            dataset = ds.dataset([str(p) for p in paths], format=fmt, schema=pa.unify_schemas(schemas))
    except (OSError, pa.ArrowException):
        return None
    return Batch(paths, dataset, rows)


def read_columns(src: pq.ParquetFile | Batch, rg: int, columns: list[str]) -> pa.Table:
    """A row group's columns; those added to the schema after the file was written come back null."""
    names = src.dataset.schema.names if isinstance(src, Batch) else src.schema_arrow.names
    present = [c for c in columns if c in names]
    # one thread per row group (read_ahead runs several): Arrow's column-parallel decoding kept
    # the two cores of the test host less busy
    table = src.read_row_group(rg, columns=present, use_threads=False)
    return table if len(present) == len(columns) else store.fill_added(table, columns)


def rows_of(item: Item) -> int:
    src = item[1]
    return src.rows if isinstance(src, Batch) else src.metadata.row_group(item[2]).num_rows


Item = tuple[Path, "pq.ParquetFile | Batch", int, int]  # file, source, row group, flat row-group number


def read_ahead(
    items: Iterator[Item], columns: Callable[[Item], list[str]]
) -> Iterator[tuple[Item, pa.Table]]:
    """Yield each row group's table while the next READERS are read and decoded in other threads."""

    def read(item: Item) -> pa.Table:
        src = item[1]
        if not isinstance(src, Batch):  # a reader of its own: two threads never share one
            src = pq.ParquetFile(item[0], read_dictionary=_DICT, metadata=src.metadata)
        return read_columns(src, item[2], columns(item))

    def result(pending: tuple[Item, Future[pa.Table]]) -> tuple[Item, pa.Table]:
        try:
            return pending[0], pending[1].result()
        except (OSError, pa.ArrowException) as exc:
            f, _, rg, _ = pending[0]
            raise RightsizeError(f"{f}: corrupt row group {rg} ({exc}); move the file away") from None

    with ThreadPoolExecutor(READERS) as pool:
        pending: deque[tuple[Item, Future[pa.Table]]] = deque()
        for item in items:
            if not columns(item):
                continue
            if rows_of(item) < SMALL_ROW_GROUP:
                fut: Future[pa.Table] = Future()  # small: a thread hand-off costs more than it saves
                try:
                    fut.set_result(read_columns(item[1], item[2], columns(item)))
                except (OSError, pa.ArrowException) as exc:
                    fut.set_exception(exc)
            else:
                fut = pool.submit(read, item)
            pending.append((item, fut))
            if len(pending) > READERS:
                yield result(pending.popleft())
        while pending:
            yield result(pending.popleft())
