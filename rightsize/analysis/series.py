"""The whole samples dataset as per-workload numpy arrays, sorted once, for the backtest.

Reading goes file by file with the workload column dictionary-encoded (a 12 M row dataset holds a
few hundred distinct names), so loading costs one pass over numbers and one sort; every workload is
then a set of views into the sorted arrays, and every train/test window a slice of those views.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rightsize import store
from rightsize.analysis.coltypes import check_types
from rightsize.analysis.history import check_events, counter_increments
from rightsize.analysis.plausible import Ignored, Plausible, none_possible, plausible
from rightsize.analysis.unnamed import warn_unnamed
from rightsize.errors import RightsizeError

VALUES = (
    "mem_working_set",
    "mem_peak",
    "cpu_cores",
    "cpu_throttled",
    "pids",
    "mem_limit",
    "mem_reservation",
    "cpu_limit",
    "cpu_reservation",  # added in schema version 2: absent (NaN) in older files
    "pids_limit",
    "oom_kills",  # cumulative per container: OOM kill times where the events dataset has none
)
COLUMNS = ("ts", "workload", "container_id", *VALUES)
_NEGATIVE_IS_MISSING = ("mem_working_set", "mem_peak", "cpu_cores", "pids")


@dataclass(frozen=True)
class Series:
    """One workload (replicas pooled), sorted by ts; values float64 with NaN for missing/none."""

    workload: str
    ts: np.ndarray  # int64 ms since epoch
    values: dict[str, np.ndarray]  # VALUES column -> float64 array, same length as ts
    oom_ts: np.ndarray  # int64 ms of each OOM kill (events, else oom_kills counters), sorted

    def __getitem__(self, column: str) -> np.ndarray:
        return self.values[column]


def load_series(
    data: str | os.PathLike[str] | pd.DataFrame, events: pd.DataFrame | None = None,
    now: datetime | None = None,
) -> list[Series]:  # fmt: skip
    """Every workload in ``data`` (a dataset path or a samples DataFrame), sorted by name; rows of
    impossible times (``plausible.py``, ``now``: this machine's clock by default) left out."""
    if isinstance(data, pd.DataFrame):
        missing = [c for c in ("ts", "workload", "mem_working_set") if c not in data.columns]
        if missing:
            raise RightsizeError(f"samples frame lacks column(s): {', '.join(missing)}")
        tables: Iterable[pa.Table] = [store.to_table(data, "samples").select(list(COLUMNS))]
    else:
        tables = _read(data)
        if events is None:
            events = store.events_beside(data)
    out = _split(tables, events, plausible(now, data))
    if not out:
        raise RightsizeError("no samples: the dataset is empty")
    return out


def _read(path: str | os.PathLike[str]) -> Iterator[pa.Table]:
    for f in store.list_files(path, "samples"):
        try:
            schema = pq.read_schema(f)
            names = schema.names
            missing = [c for c in ("ts", "workload") if c not in names]
            if missing:
                raise RightsizeError(
                    f"{f} is not a rightsize samples file: missing column {', '.join(missing)}"
                )
            check_types(f, schema)  # as recommend: a text ts was read as times of its own guessing
            dicts = [c for c in ("workload", "container_id") if c in names]
            yield pq.read_table(f, columns=[c for c in COLUMNS if c in names], read_dictionary=dicts)
        except (OSError, pa.ArrowException) as exc:
            warnings.warn(f"skipping {f}: unreadable ({exc})", store.DatasetWarning, stacklevel=2)


def _numbers(table: pa.Table, column: str) -> np.ndarray | None:
    if column not in table.column_names or table[column].null_count == table.num_rows:
        return None
    # safe=False: integers beyond 2**53 (absurd, but valid int64) lose precision instead of failing
    return np.asarray(table[column].cast(pa.float64(), safe=False).to_numpy(), dtype=np.float64)


def _codes(table: pa.Table, column: str, names: dict[str, int]) -> np.ndarray:
    """Global integer codes of a string column (-1 = null or no such column)."""
    if column not in table.column_names:
        return np.full(table.num_rows, -1, dtype=np.int32)
    col = table[column].combine_chunks()
    if not pa.types.is_dictionary(col.type):
        col = col.cast(pa.string()).dictionary_encode()
    local = np.array([names.setdefault(str(n), len(names)) for n in col.dictionary.to_pylist()] + [-1])
    return np.asarray(local[col.indices.fill_null(len(col.dictionary)).to_numpy()], dtype=np.int32)


def _split(tables: Iterable[pa.Table], events: pd.DataFrame | None, valid: Plausible) -> list[Series]:
    names: dict[str, int] = {}
    containers: dict[str, int] = {}
    codes, stamps, conts = [], [], []
    cols: dict[str, list[np.ndarray | None]] = {c: [] for c in VALUES}
    for t in tables:
        codes.append(_codes(t, "workload", names))
        conts.append(_codes(t, "container_id", containers))
        stamps.append(t["ts"].cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64()).to_numpy())
        for c in VALUES:
            cols[c].append(_numbers(t, c))
    if not codes:
        return []
    code = np.concatenate(codes)
    ts = np.concatenate(stamps)
    if len(names) < 32_000:
        # radix sort by name; rows of one workload then keep file order, which is nearly always
        # time order already (files are per day), so only the rare unsorted workload is sorted
        order = np.argsort(code.astype(np.int16), kind="stable")
        cs = code[order]
        cuts = np.flatnonzero(cs[1:] != cs[:-1]) + 1
        for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(cs)], strict=True):
            seg = ts[order[lo:hi]]
            if len(seg) > 1 and not bool(np.all(seg[1:] >= seg[:-1])):
                order[lo:hi] = order[lo:hi][np.argsort(seg, kind="stable")]
    else:
        order = np.lexsort((ts, code))
    keep = order[code[order] >= 0]  # a row without a workload cannot be attributed
    warn_unnamed(len(order) - len(keep), stacklevel=4)  # as recommend says it
    ok = valid.ok(ts)
    if not ok.all():  # a 1970 or 2100 row: no window starts in 1970
        ignored = Ignored().add(ts[~ok])
        if not ok.any():
            raise RightsizeError(none_possible(ignored))
        ignored.warn(stacklevel=4)
        keep = keep[ok[keep]]
    code, ts = code[keep], ts[keep]
    cont = np.concatenate(conts)[keep]
    values: dict[str, np.ndarray | None] = {}
    for c, parts in cols.items():
        if all(p is None for p in parts):
            values[c] = None  # absent everywhere: per-workload NaN arrays later, not 12 M NaNs now
            continue
        full = np.concatenate(
            [p if p is not None else np.full(len(s), np.nan) for p, s in zip(parts, stamps, strict=True)]
        )
        cols[c] = []
        v = full[keep]
        del full
        if c in _NEGATIVE_IS_MISSING:
            v[(v < 0) | np.isposinf(v)] = np.nan  # a reset counter or a broken source, not a usage
        values[c] = v
    by_code = {i: n for n, i in names.items()}
    ooms = _oom_times(events)
    bounds = np.flatnonzero(np.diff(code)) + 1
    out = []
    spans = list(zip(np.r_[0, bounds], np.r_[bounds, len(code)], strict=True)) if len(code) else []
    nan = np.full(max((hi - lo for lo, hi in spans), default=0), np.nan)
    nan.flags.writeable = False  # shared by every workload lacking a column
    for lo, hi in spans:
        name = by_code[int(code[lo])]
        n = hi - lo
        vals = {c: (v[lo:hi] if v is not None else nan[:n]) for c, v in values.items()}
        kills = ooms.get(name)
        if kills is None and values["oom_kills"] is not None:
            inc = counter_increments(cont[lo:hi], vals["oom_kills"]).astype(np.int64)
            kills = np.repeat(ts[lo:hi], inc)
        out.append(Series(name, ts[lo:hi], vals, kills if kills is not None else np.empty(0, np.int64)))
    return sorted(out, key=lambda s: s.workload)


def _oom_times(events: pd.DataFrame | None) -> dict[str, np.ndarray]:
    check_events(events)
    if events is None or events.empty:
        return {}
    oom = events[events["kind"].astype("string") == "oom"]
    if oom.empty:
        return {}
    ts = pd.DatetimeIndex(pd.to_datetime(oom["ts"], utc=True)).as_unit("ms").asi8
    wl = oom["workload"].astype("string").fillna("").to_numpy(dtype=object)
    return {str(n): np.sort(ts[wl == n]) for n in np.unique(wl)}
