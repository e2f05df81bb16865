"""Split millions of samples into per-workload frames for the charts, quickly.

``groupby().indices`` plus ``take`` on every column (strings included) costs seconds on 6 M rows;
factorizing the workload once, a stable radix sort of its integer codes and slicing numeric
arrays costs a fraction of that. Rows keep their order inside a workload; the chart functions
sort by time themselves where it matters (the envelope, the step lines, the counters).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rightsize.globs import matches
from rightsize.report.charts import COLUMNS

if TYPE_CHECKING:
    from rightsize.analysis.plausible import Plausible

META = (("container", "containers"), ("image", "images"), ("host", "hosts"))
# Chart values are held as float32: the charts draw float32 anyway, and 12 M rows x 4 columns
# take 190 MB less than as float64 (the report's own part of its peak on the 500-VM trace).
VALUES = np.float32
ARROW_VALUES = pa.float32()


About = dict[str, dict[str, list[str]]]


def split(samples: pd.DataFrame, about: About | None = None) -> tuple[dict[str, pd.DataFrame], About]:
    """``({workload: frame with the chart columns}, {workload: {"containers": [...], ...}})``.

    ``about`` (from :func:`meta_from_arrow`) saves reading the name columns into pandas at all.
    """
    if not len(samples):
        return {}, about or {}
    codes, names = pd.factorize(samples["workload"])
    order = _order(codes, len(names))
    bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
    columns: dict[str, np.ndarray] = {"ts": samples["ts"].to_numpy(dtype="datetime64[ms]")[order]}
    for column in COLUMNS:
        if column == "ts" or column not in samples:
            continue
        series = samples[column]
        if column == "container_id":  # only compared for equality: integer codes will do
            columns[column] = pd.factorize(series)[0][order]
        else:
            columns[column] = series.to_numpy(dtype=VALUES, na_value=np.nan)[order]
    return _groups(list(names), bounds, columns), about if about is not None else _meta(samples, codes, names)


def split_arrow(table: pa.Table, about: About | None = None) -> tuple[dict[str, pd.DataFrame], About]:
    """``split`` for an Arrow table as read from the store: no pandas conversion of the whole table,
    strings become dictionary codes in Arrow, numbers go straight to numpy."""
    about = meta_from_arrow(table) if about is None else about
    if not table.num_rows:
        return {}, about
    codes, names = _encode(table["workload"])
    order = _order(codes, len(names))
    bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
    columns: dict[str, np.ndarray] = {"ts": table["ts"].to_numpy()[order]}
    for column in COLUMNS:
        if column == "ts" or column not in table.column_names:
            continue
        if column == "container_id":
            columns[column] = _encode(table[column])[0][order]
        else:
            # unsafe: an int64 past 2**53 (cgroup v1's 'no limit' 9223372036854771712) rounds, not raises
            columns[column] = pc.cast(table[column], ARROW_VALUES, safe=False).to_numpy()[order]
    return _groups(names, bounds, columns), about


def read_arrow(
    source: str | os.PathLike[str], columns: Sequence[str], workloads: str | None
) -> tuple[pa.Table, About, int | None]:
    """``(chart columns of the samples whose workload matches the glob, their names as
    meta_from_arrow lists them, latest ts in ms of all samples)``.

    Filtered file by file: a report on 10 of 500 workloads holds 10 workloads' rows, not all 12 M;
    the container, image and host names are listed per file and not kept (12 M strings each).
    The latest sample is the whole dataset's, which ``--since`` counts back from (as recommend does).
    """
    from rightsize.store import SAMPLES_SCHEMA, iter_tables

    keys = ["workload", *(c for c, _ in META if c in columns)]
    tables, metas, latest = [], [], None
    for _, table in iter_tables(source, "samples", [*columns, *(c for c in keys if c not in columns)]):
        if table.num_rows:
            top = int(pc.max(table["ts"]).cast(pa.int64()).as_py())
            latest = top if latest is None else max(latest, top)
        if workloads:
            codes, names = _encode(table["workload"])
            keep = np.array([matches(n, workloads) for n in names], dtype=bool)
            table = table.filter(keep[codes]) if len(names) else table
        metas.append(table.select(keys).group_by(keys).aggregate([]))
        tables.append(table.drop_columns([c for c, _ in META if c in table.column_names]))
    if not tables:
        return pa.schema([SAMPLES_SCHEMA.field(c) for c in columns]).empty_table(), {}, None
    return pa.concat_tables(tables), meta_from_arrow(pa.concat_tables(metas)), latest


class Groups(Mapping[str, pd.DataFrame]):
    """Per-workload chart frames, assembled when asked for from per-file slices (:func:`read_groups`).

    The report takes each workload's frame once, draws it and drops it, so only one workload's
    concatenated columns exist at a time besides the slices (float32, columns that hold a value).
    ``start`` (ms) leaves out earlier rows, and workloads with none at or after it (``--since``).
    """

    def __init__(
        self, parts: dict[str, list[dict[str, np.ndarray]]], columns: Sequence[str], start: int | None = None
    ) -> None:
        self._parts = parts
        self._columns = [c for c in columns if c != "ts"]
        self._start = start
        self._names = [
            name
            for name, chunks in parts.items()
            if start is None or max(int(c["ts"].max()) for c in chunks) >= start
        ]
        self._kept = set(self._names)

    def since(self, start: int) -> Groups:
        return Groups(self._parts, ["ts", *self._columns], start)

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self._kept:
            raise KeyError(name)
        chunks = self._parts[name]
        ts = _join([c["ts"] for c in chunks])
        keep = None if self._start is None else ts >= self._start
        columns: dict[str, np.ndarray] = {"ts": (ts if keep is None else ts[keep]).view("datetime64[ms]")}
        for column in self._columns:
            pieces = [c[column] if column in c else np.full(len(c["ts"]), np.nan, VALUES) for c in chunks]
            values = _join(pieces)
            columns[column] = values if keep is None else values[keep]
        return pd.DataFrame(columns, copy=False)

    def __contains__(self, name: object) -> bool:  # Mapping's default would build the frame
        return name in self._kept

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def _join(arrays: list[np.ndarray]) -> np.ndarray:
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


STRINGS = ("workload", "container_id", *(c for c, _ in META))


def read_groups(
    source: str | os.PathLike[str], columns: Sequence[str], workloads: str | None,
    valid: Plausible | None = None,
) -> tuple[Groups, About, int | None]:  # fmt: skip
    """``(per-workload chart frames, names per workload, latest ts in ms of all samples)``, as
    :func:`read_arrow` + :func:`split_arrow` give them, file by file and in a fraction of the memory.

    Strings are read dictionary-encoded (12 M workload, container and host strings took 3/4 of the
    read time), a column with no value in a file is not materialized (a trace without PIDs or
    reservations), and each file's rows are sorted by workload and kept as slices: no 12 M-row
    table, no global sort, no float64 copy of every column at once (the old path peaked at 4 GB
    on the 500-VM trace). Rows of impossible times (``valid``, default ``plausible()``) are left
    out as recommend leaves them out, with the same warning.
    """
    from rightsize.analysis.plausible import Ignored, plausible
    from rightsize.store import SAMPLES_SCHEMA, DatasetWarning, list_files, missing_columns

    valid, ignored = valid or plausible(), Ignored()

    numeric = [c for c in columns if c not in STRINGS and c != "ts"]
    wanted = ["ts", *numeric, *(c for c in STRINGS if c in columns or c == "workload")]
    parts: dict[str, list[dict[str, np.ndarray]]] = {}
    metas: set[tuple[str | None, ...]] = set()
    cids: dict[str | None, int] = {}
    seen: set[str] = set()
    latest: int | None = None
    keys = ["workload", *(c for c, _ in META if c in columns)]
    for f in list_files(source, "samples"):
        try:
            names = pq.read_schema(f).names
        except (OSError, pa.ArrowException) as exc:
            warnings.warn(f"skipping {f}: not a readable Parquet file ({exc})", DatasetWarning, stacklevel=2)
            continue
        if missing_columns(names, "samples"):
            from rightsize.errors import RightsizeError

            missing = ", ".join(missing_columns(names, "samples"))
            raise RightsizeError(f"{f} is not a rightsize samples file: missing column {missing}")
        present = [c for c in wanted if c in names]
        try:
            table = pq.read_table(f, columns=present, read_dictionary=[c for c in present if c in STRINGS])
            if not table.num_rows:
                continue
            ts = table["ts"].cast(SAMPLES_SCHEMA.field("ts").type).cast(pa.int64()).to_numpy()
            codes = {c: _codes(table[c]) for c in STRINGS if c in present}
            values = {
                c: pc.cast(table[c], ARROW_VALUES, safe=False).to_numpy()
                for c in numeric
                if c in present and table[c].null_count < table.num_rows
            }
        except (OSError, pa.ArrowException) as exc:
            warnings.warn(f"skipping {f}: unreadable ({exc})", DatasetWarning, stacklevel=2)
            continue
        ok = valid.ok(ts)
        if not ok.all():  # a 1970 or 2100 row (analysis/plausible.py): no chart over decades
            ignored = ignored.add(ts[~ok])
            if not ok.any():
                continue
            ts, values = ts[ok], {c: v[ok] for c, v in values.items()}
            codes = {c: (v[0][ok], v[1]) for c, v in codes.items()}
        top = int(ts.max())
        latest = top if latest is None else max(latest, top)
        wcodes, wnames = codes["workload"][0], [n or "" for n in codes["workload"][1]]
        if workloads:
            keep = np.array([matches(n, workloads) for n in wnames], dtype=bool)[wcodes]
            if not keep.all():
                ts, wcodes = ts[keep], wcodes[keep]
                values = {c: v[keep] for c, v in values.items()}
                codes = {c: (v[0][keep], v[1]) for c, v in codes.items()}
        if not len(ts):
            continue
        metas |= _distinct(codes, keys)
        seen.update(values)
        cid_codes, cid_names = codes.get("container_id", (np.zeros(len(ts), np.int32), [None]))
        to_global = np.array([cids.setdefault(n, len(cids)) for n in cid_names], dtype=np.int32)
        order = _order(wcodes, len(wnames))
        bounds = np.searchsorted(wcodes[order], np.arange(len(wnames) + 1))
        sorted_cols = {"ts": ts[order], "container_id": to_global[cid_codes[order]]}
        sorted_cols.update((c, v[order]) for c, v in values.items())
        for k in np.flatnonzero(np.diff(bounds)).tolist():
            lo, hi = int(bounds[k]), int(bounds[k + 1])
            parts.setdefault(wnames[k], []).append({c: v[lo:hi] for c, v in sorted_cols.items()})
    ignored.warn()
    # a column with no value anywhere is left out: the charts treat it as all missing
    groups = Groups(parts, ["ts", "container_id", *(c for c in numeric if c in seen)])
    return groups, _about(metas, keys), latest


def _codes(column: pa.ChunkedArray) -> tuple[np.ndarray, list[str | None]]:
    """Integer codes and the names they stand for (None: missing)."""
    if pa.types.is_dictionary(column.type) and not column.null_count:
        array = column.unify_dictionaries().combine_chunks() if column.num_chunks != 1 else column.chunk(0)
        return array.indices.to_numpy(zero_copy_only=False), [str(v) for v in array.dictionary.to_pylist()]
    encoded = pc.dictionary_encode(column.cast(pa.string()).combine_chunks())
    names: list[str | None] = [str(v) for v in encoded.dictionary.to_pylist()]
    indices = pc.fill_null(encoded.indices, len(names)).to_numpy(zero_copy_only=False)
    return indices, [*names, None]


def _distinct(
    codes: dict[str, tuple[np.ndarray, list[str | None]]], keys: Sequence[str]
) -> set[tuple[str | None, ...]]:
    """The distinct combinations of ``keys`` in one file, as names (row-wise ``np.unique`` took 40 s
    on the 500-VM trace: one dense integer key per row instead)."""
    present = [k for k in keys if k in codes]
    key = codes[present[0]][0].astype(np.int64)
    for k in present[1:]:
        column = codes[k][0].astype(np.int64)
        _, key = np.unique(key * (int(column.max()) + 1) + column, return_inverse=True)
    _, first = np.unique(key, return_index=True)
    picked = [[codes[k][1][i] for i in codes[k][0][first].tolist()] for k in present]
    return set(zip(*picked, strict=True))


def _about(metas: set[tuple[str | None, ...]], keys: Sequence[str]) -> About:
    """``meta_from_arrow``'s listing from distinct (workload, container, image, host) tuples."""
    out: About = {}
    labels = dict(META)
    for row in metas:
        entry = out.setdefault(row[0] or "", {})
        for key, value in zip(keys[1:], row[1:], strict=True):
            listed = entry.setdefault(labels[key], [])
            if value is not None and value not in listed:
                listed.append(value)
    for lists in out.values():
        for values_list in lists.values():
            values_list.sort()
    return out


def _encode(column: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    encoded = pc.dictionary_encode(pc.fill_null(column.combine_chunks(), ""))
    return encoded.indices.to_numpy(zero_copy_only=False), [str(v) for v in encoded.dictionary.to_pylist()]


def _order(codes: np.ndarray, n: int) -> np.ndarray:
    small = codes.astype(np.int16) if n < 2**15 else codes  # 16-bit keys: numpy radix-sorts
    return np.argsort(small, kind="stable")


def _groups(
    names: Sequence[object], bounds: np.ndarray, columns: dict[str, np.ndarray]
) -> dict[str, pd.DataFrame]:
    return {
        str(name): pd.DataFrame({c: v[bounds[k] : bounds[k + 1]] for c, v in columns.items()}, copy=False)
        for k, name in enumerate(names)
    }


def _meta(samples: pd.DataFrame, codes: np.ndarray, names: pd.Index) -> dict[str, dict[str, list[str]]]:
    out: dict[str, dict[str, list[str]]] = {str(name): {} for name in names}
    for column, label in META:
        if column not in samples:
            continue
        vcodes, values = pd.factorize(samples[column])
        width = len(values) + 1  # code 0 = missing
        for pair in np.unique(codes.astype(np.int64) * width + (vcodes + 1)).tolist():
            w, v = divmod(pair, width)
            entry = out[str(names[w])].setdefault(label, [])
            if v:
                entry.append(str(values[v - 1]))
    for lists in out.values():
        for values_list in lists.values():
            values_list.sort()
    return out


def meta_from_arrow(table: pa.Table) -> About:
    """The same listing as ``split`` gives, from an Arrow table (one multi-threaded hash group-by)."""
    keys = ["workload", *(c for c, _ in META if c in table.column_names)]
    distinct = table.select(keys).group_by(keys).aggregate([]).to_pydict()
    out: About = {}
    for i, workload in enumerate(distinct["workload"]):
        entry = out.setdefault(str(workload), {})
        for column, label in META:
            if column in distinct:
                entry.setdefault(label, [])
                value = distinct[column][i]
                if value is not None and str(value) not in entry[label]:
                    entry[label].append(str(value))
    for lists in out.values():
        for values_list in lists.values():
            values_list.sort()
    return out
