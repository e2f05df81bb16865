"""Split millions of samples into per-workload frames for the charts, quickly.

``groupby().indices`` plus ``take`` on every column (strings included) costs seconds on 6 M rows;
factorizing the workload once, a stable radix sort of its integer codes and slicing numeric
arrays costs a fraction of that. Rows keep their order inside a workload; the chart functions
sort by time themselves where it matters (the envelope, the step lines, the counters).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from rightsize.globs import matches
from rightsize.report.charts import COLUMNS

META = (("container", "containers"), ("image", "images"), ("host", "hosts"))


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
            columns[column] = series.to_numpy(dtype=np.float64, na_value=np.nan)[order]
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
            columns[column] = pc.cast(table[column], pa.float64(), safe=False).to_numpy()[order]
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
