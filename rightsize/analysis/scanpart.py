"""One scanner's share of a streaming scan: pass 1 and pass 2 over a list of files.

``scan.py`` runs one Part in-process, or two (the second in a child process, over the later half
of the files) and merges what they found: counts add, extremes combine, and each Part keeps the
values its own rows hold in the bins the merged plan wants.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rightsize import store
from rightsize.analysis import kernels
from rightsize.analysis.exact import Binning, Counter, Keeper, Targets
from rightsize.analysis.parquetio import (
    BATCH_BYTES,
    BATCH_ROWS,
    SMALL_FILE_BYTES,
    Batch,
    Item,
    any_positive,
    f64,
    native,
    open_batch,
    open_samples,
    read_ahead,
    read_columns,
    ts_ms,
)
from rightsize.analysis.plausible import Ignored, Plausible, plausible
from rightsize.analysis.profile import DAY_MS
from rightsize.analysis.scanfound import Found, Kept
from rightsize.analysis.scanoom import KILL_ROWS, EventLimits, changed_rows, kill_rows
from rightsize.errors import RightsizeError
from rightsize.globs import matches

PASS1 = ["ts", "workload", "mem_working_set", "cpu_cores", "pids", "cpu_throttled", "mem_peak",
         "oom_kills", "restarts"]  # fmt: skip
METRICS = {"mem": "mem_working_set", "cpu": "cpu_cores", "pids": "pids", "peak": "mem_peak"}
BINNINGS = {"mem": Binning(16, 42), "cpu": Binning(-16, 10), "pids": Binning(0, 20, integer=True),
            "peak": Binning(16, 42)}  # fmt: skip
BAD = {
    "mem": "negative or infinite memory values",
    "cpu": "negative or infinite CPU values (counter reset after a restart?)",
    "pids": "negative or infinite PID counts",
    "peak": "negative or infinite memory peaks",
}
LIMITS = ["mem_reservation", "mem_limit", "cpu_reservation", "cpu_limit", "pids_limit"]
COUNTERS = ("oom_kills", "restarts")
VALUE_CACHE_BYTES = 96 * 2**20


def _grow(a: np.ndarray, size: int, fill: float) -> np.ndarray:
    if len(a) >= size:
        return a
    out = np.full(size, fill, dtype=a.dtype)
    out[: len(a)] = a
    return out


@dataclass
class Part:
    """The scan of some of the files (all of them, or one half in a second process); mutable."""

    match: str | None
    day0: int
    days: int
    names: list[str] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)
    cap: int = 0
    n: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    ts_min: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    ts_max: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    latest_at: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # flat rg number
    counters: dict[str, Counter] = field(default_factory=dict)
    peaks: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    thr: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    bad: dict[str, int] = field(default_factory=dict)
    changes: list[tuple[np.ndarray, ...]] = field(default_factory=list)  # code, container, ts, ...
    # per row group, for pass 2: dictionary index per row (uint8 mostly: 1 byte a row) and the
    # global code of each index (-1: filtered out), or None when no row of it counts
    codes: list[tuple[np.ndarray, np.ndarray] | None] = field(default_factory=list)
    # file (or batch of small files), first flat row-group number, row groups
    good: list[tuple[Path | tuple[Path, ...], int, int]] = field(default_factory=list)
    # (codes, values) per metric of row groups kept from pass 1 while they fit VALUE_CACHE_BYTES:
    # a small dataset (many small files from a collector) is then read only once
    values: dict[int, dict[str, tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict)
    value_flats: set[int] = field(default_factory=set)
    value_bytes: int = 0
    early_latest: dict[int, tuple[int, int, dict[str, float]]] = field(default_factory=dict)
    events: tuple[np.ndarray, np.ndarray] = (np.zeros(0, object), np.zeros(0, np.int64))  # oom_events()
    ev_limits: EventLimits = field(init=False)
    tracked: set[str] = field(default_factory=set)  # containers with a counter above 0 so far
    tracked_codes: set[int] = field(default_factory=set)  # their workloads
    valid: Plausible = field(default_factory=plausible)  # possible sample times; the rest is ignored
    ignored: Ignored = field(default_factory=Ignored)
    possible: int = 0  # rows of a possible time

    def __post_init__(self) -> None:
        self.counters = {m: Counter(b) for m, b in BINNINGS.items()}
        self.peaks = np.zeros((0, self.days))
        self.ev_limits = EventLimits(*self.events)

    def code_lut(self, dictionary: pa.Array) -> np.ndarray:
        lut = np.full(len(dictionary) + 1, -1, np.int64)  # last slot: null
        for i, name in enumerate(dictionary.to_pylist()):
            if name is None or (self.match and not matches(name, self.match)):
                continue
            if name not in self.index:
                self.index[name] = len(self.names)
                self.names.append(name)
            lut[i] = self.index[name]
        self._ensure(len(self.names))
        return lut

    def _ensure(self, size: int) -> None:
        if size <= self.cap:
            return
        # room for 1,024 workloads from the start: the OS zeroes the count tables' pages lazily
        # (rows never touched cost no memory), and each growth would copy them all
        cap = max(size, 2 * self.cap, 1024)
        self.n = _grow(self.n, cap, 0)
        self.ts_min = _grow(self.ts_min, cap, np.iinfo(np.int64).max)
        self.ts_max = _grow(self.ts_max, cap, np.iinfo(np.int64).min)
        self.latest_at = _grow(self.latest_at, cap, -1)
        for m in METRICS:
            self.counters[m].grow(cap)
        peaks = np.full((cap, self.days), -np.inf)
        peaks[: len(self.peaks)] = self.peaks
        thr = np.zeros((cap, 2))
        thr[: len(self.thr)] = self.thr
        self.peaks, self.thr, self.cap = peaks, thr, cap

    def ensure_days(self, lo: int, hi: int) -> None:
        """Make the daily-peak table span UTC days lo..hi (day numbers since the epoch)."""
        start, end = min(self.day0, lo), max(self.day0 + self.days, hi + 1)
        if start == self.day0 and end == self.day0 + self.days:
            return
        peaks = np.full((self.cap, end - start), -np.inf)
        peaks[:, self.day0 - start : self.day0 - start + self.days] = self.peaks
        self.peaks, self.day0, self.days = peaks, start, end - start


def _codes(s: Part, col: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(local code per row, global code per local code); -1 = null or filtered out."""
    if col.num_chunks != 1 or not pa.types.is_dictionary(col.type):
        chunks = [c if pa.types.is_dictionary(c.type) else c.dictionary_encode() for c in col.chunks]
        col = pa.chunked_array(
            chunks, type=chunks[0].type if chunks else pa.dictionary(pa.int32(), pa.string())
        )
        col = col.unify_dictionaries()
    arr = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    lut = s.code_lut(arr.dictionary)
    idx = arr.indices if not arr.indices.null_count else arr.indices.fill_null(len(arr.dictionary))
    return idx.to_numpy(), lut


def _pass1_group(s: Part, item: Item, start: int | None, tb: pa.Table) -> None:
    flat = item[3]
    local, lut = _codes(s, tb["workload"])
    ts = ts_ms(tb["ts"])
    lo, hi = (int(ts.min()), int(ts.max())) if len(ts) else (0, -1)
    good = len(ts)
    if good and not s.valid.all_ok(lo, hi):  # a 1970 or 2100 row: no history, no latest sample
        ok = s.valid.ok(ts)
        good = int(ok.sum())
        s.ignored = s.ignored.add(ts[~ok])
        local = np.where(ok, local, len(lut) - 1)  # last slot: -1, skipped
        lo, hi = (int(ts[ok].min()), int(ts[ok].max())) if good else (0, -1)
    s.possible += good
    if start is not None:
        local = np.where(ts >= start, local, len(lut) - 1)
    # the smallest integer type: pass 2 keeps it (1 byte a row mostly), and the loops read less
    small = np.uint8 if len(lut) <= 2**8 else np.uint16 if len(lut) <= 2**16 else np.int64
    local = local.astype(small)
    rg_max = np.full(s.cap, np.iinfo(np.int64).min)
    if hi >= lo:
        s.ensure_days(lo // DAY_MS, hi // DAY_MS)  # the hint may be wrong
    before = int(s.n.sum())
    kernels.count_rows(local, lut, ts, s.n, s.ts_min, rg_max)
    for m, col in METRICS.items():
        values, ok, off = native(tb[col])
        bad = kernels.count_bins(local, lut, values, ok, off, s.counters[m].counts, BINNINGS[m].first)
        if bad:
            s.bad[BAD[m]] = s.bad.get(BAD[m], 0) + bad
        if m == "mem":
            kernels.daily_max(local, lut, ts, values, ok, off, s.peaks, s.day0)
    thr_sums = np.zeros((s.cap, 2))  # this row group's, then added: they round as they always did
    kernels.throttle_sums(local, lut, *native(tb["cpu_throttled"]), thr_sums)
    s.thr += thr_sums
    rows = int(s.n.sum()) - before
    s.codes.append((local, lut) if rows else None)
    if not rows:
        return
    # equal: a later file's row wins, as in a ts-sorted frame
    newer = (rg_max >= s.ts_max) & (rg_max > np.iinfo(np.int64).min)
    np.maximum(s.ts_max, rg_max, out=s.ts_max)
    s.latest_at[newer] = flat
    batch = all(k in tb.column_names for k in LIMITS)  # a batch of small files: limits read already
    row_bytes = 16 * len(METRICS)  # an int64 code and a float64 value per metric
    cache = s.value_bytes + row_bytes * rows <= VALUE_CACHE_BYTES
    codes = lut[local] if batch or cache else np.zeros(0, np.int64)
    if batch:
        lims = {k: f64(tb[k]) for k in LIMITS}
        for i in np.flatnonzero((codes >= 0) & newer[codes] & (ts == rg_max[codes])):
            s.early_latest[int(codes[i])] = (flat, int(ts[i]), {k: float(lims[k][i]) for k in LIMITS})
    if cache:  # kept for pass 2: no second read of these rows
        kept = {}
        for m, col in METRICS.items():
            v = f64(tb[col])
            ok = (codes >= 0) & (v >= 0)  # False for NaN too
            kept[m] = (codes[ok], v[ok])
        s.values[flat], s.value_bytes = kept, s.value_bytes + row_bytes * rows
        s.value_flats.add(flat)
    if "mem_limit" in tb.column_names:  # read where there are OOM events (_pass1_columns)
        s.ev_limits.update(s.index, local, lut, ts, tb["mem_limit"])
    # a container whose counter went above 0 before: its rows at 0 (a reset) count too, so a
    # row group whose statistics said "all 0" is read for them where its workload is here
    tracked_here = bool(s.tracked_codes) and bool(np.isin(lut, list(s.tracked_codes)).any())
    if "container_id" not in tb.column_names:  # the statistics said: no counter above 0
        if not tracked_here:
            return
        tb = read_columns(item[1], item[2], ["container_id", *COUNTERS, "mem_limit"])
    elif not (tracked_here or any_positive(tb["oom_kills"]) or any_positive(tb["restarts"])):
        return
    oom, rst = (tb[k].fill_null(0).to_numpy() for k in COUNTERS)  # no copy without nulls
    if "mem_working_set" in tb.column_names:  # else (read again above) no counter is above 0
        s.bad[KILL_ROWS] = s.bad.get(KILL_ROWS, 0) + kill_rows(tb, lut[local], oom)
    found = changed_rows(s.tracked, tb["container_id"], oom, rst, lut, local)
    if found is None:
        return
    rows_at, cont = found
    codes_at = lut[local[rows_at]]
    s.tracked_codes.update(np.unique(codes_at).tolist())
    lim = f64(tb["mem_limit"].take(pa.array(rows_at)))
    s.changes.append(
        (codes_at, cont, ts[rows_at], oom[rows_at].astype(np.int64), rst[rows_at].astype(np.int64), lim)
    )


def _pass1_columns(p: Part, item: Item) -> list[str]:
    """PASS1, without the counters where the row-group statistics say they never exceed 0, and
    with the container ids and limits (to attribute the counts) where they may; the memory limit
    where there are OOM events (the limit in force at each)."""
    if isinstance(item[1], Batch):  # no per-file statistics at hand: small anyway, read all
        return [*PASS1, "container_id", *LIMITS]
    md = item[1].metadata
    names = md.schema.names
    cols = md.row_group(item[2])
    for name in COUNTERS:
        st = cols.column(names.index(name)).statistics
        if st is None or not st.has_min_max or st.max is None or st.max > 0:
            return [*PASS1, "container_id", "mem_limit"]
    return [c for c in PASS1 if c not in COUNTERS] + (["mem_limit"] if len(p.events[1]) else [])


def _groups(files: list[Path]) -> Iterator[list[Path]]:
    """Consecutive small files in batches of up to BATCH_BYTES; every other file alone."""
    batch: list[Path] = []
    size = 0
    for f in files:
        n = store.size_of(f)
        if n > SMALL_FILE_BYTES:
            if batch:
                yield batch
            batch, size = [], 0
            yield [f]
            continue
        batch.append(f)
        size += n
        if size >= BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _sources(group: list[Path]) -> Iterator[tuple[list[Path], Batch | None]]:
    """A group of small files as Batches of at most BATCH_ROWS rows (None: read file by file)."""
    batch = open_batch(group) if len(group) > 1 else None
    if batch is None or batch.rows <= BATCH_ROWS:
        yield group, batch
        return
    for part in batch.split(BATCH_ROWS):
        yield part.paths, part if len(part.paths) > 1 else None


def pass1(p: Part, files: list[Path], start: int | None) -> Found:
    def items() -> Iterator[Item]:
        flat = 0
        for group, batch in (s for g in _groups(files) for s in _sources(g)):
            if batch is not None:
                p.good.append((tuple(group), flat, 1))
                yield group[0], batch, 0, flat
                flat += 1
                continue
            for f in group:
                pf = open_samples(f)
                if pf is None:
                    continue
                p.good.append((f, flat, pf.metadata.num_row_groups))
                for rg in range(pf.metadata.num_row_groups):
                    yield f, pf, rg, flat
                    flat += 1

    for item, tb in read_ahead(items(), lambda item: _pass1_columns(p, item)):
        _pass1_group(p, item, start, tb)
    w = len(p.names)
    tables = {m: p.counters[m].table()[:w] for m in METRICS}
    p.counters = {m: Counter(b) for m, b in BINNINGS.items()}  # the caller owns the tables now
    changes = None
    if p.changes:
        cols = ("code", "container", "ts", "oom", "restarts", "mem_limit")
        changes = pd.DataFrame(
            {k: np.concatenate([part[i] for part in p.changes]) for i, k in enumerate(cols)}
        )
    return Found(p.names, p.n[:w], p.ts_min[:w], p.ts_max[:w], tables, p.peaks[:w], p.thr[:w],
                 p.bad, changes, len(p.good), p.day0, p.ev_limits, p.ignored, p.possible)  # fmt: skip


def pass2(p: Part, wanted: dict[str, np.ndarray]) -> Kept:
    """Keep the values of the wanted bins (flat bool per metric, in this Part's codes)."""
    w = len(p.names)
    keepers = {m: Keeper(Targets(BINNINGS[m], np.zeros(0, np.int64), {}, wanted[m])) for m in wanted}
    latest: dict[int, tuple[int, dict[str, float]]] = {}
    for code, (at, when, limits) in p.early_latest.items():
        if p.latest_at[code] == at:  # still the latest row: pass 1 read its limits
            latest[code] = (when, limits)
    wanted_latest = {int(p.latest_at[code]) for code in range(w) if code not in latest}

    for values in p.values.values():  # row groups whose values pass 1 kept: no second read
        for m, keeper in keepers.items():
            keeper.add(*values[m])
    p.values = {}

    def columns_of(flat: int) -> list[str]:
        if p.codes[flat] is None:
            return []
        metrics = [METRICS[m] for m in keepers] if flat not in p.value_flats else []
        return metrics + (["ts", *LIMITS] if flat in wanted_latest else [])

    def items() -> Iterator[Item]:
        for f, base, n_rg in p.good:
            if not any(columns_of(base + rg) for rg in range(n_rg)):  # open only files to read
                continue
            if isinstance(f, tuple):
                batch = open_batch(list(f))
                if batch is None:
                    raise RightsizeError(f"{f[0]} and {len(f) - 1} more files changed during the scan")
                yield f[0], batch, 0, base
                continue
            pf = pq.ParquetFile(f)
            for rg in range(n_rg):
                yield f, pf, rg, base + rg

    for (_, _, _, flat), tb in read_ahead(items(), lambda item: columns_of(item[3])):
        cached = p.codes[flat]
        assert cached is not None  # columns() skipped those
        p.codes[flat] = None  # done with it: free as we go
        local, lut = cached
        for m, keeper in keepers.items():
            if METRICS[m] in tb.column_names:  # else: kept in pass 1
                vals, ok, off = native(tb[METRICS[m]])
                keeper.add(local, vals, lut, ok, off)
        if flat in wanted_latest:
            c = lut[local]
            ts = ts_ms(tb["ts"])
            lims = {k: f64(tb[k]) for k in LIMITS}
            for i in np.flatnonzero((c >= 0) & (ts == p.ts_max[c]) & (p.latest_at[c] == flat)):
                latest[int(c[i])] = (int(ts[i]), {k: float(lims[k][i]) for k in LIMITS})
    values = {
        m: (np.concatenate(k.keys or [np.zeros(0, np.int64)]), np.concatenate(k.values or [np.zeros(0)]))
        for m, k in keepers.items()
    }
    return Kept(values, latest)
