"""Profiles straight from a Parquet dataset folder, in bounded memory, with exact percentiles.

Two passes over the row groups (see exact.py). Pass 1 reads the workload codes, timestamps,
usage and counters, and keeps per-workload counts per value bin, maxima, daily memory peaks,
throttling sums, the rows where OOM/restart counters change, and where each workload's latest
row is. Pass 2 re-reads only memory, CPU and PIDs (the workload codes are cached from pass 1) and
keeps the values in the bins that hold the wanted ranks, plus the limits of each latest row.
Memory: O(workloads x bins) + one row group + the kept values; never the whole dataset.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rightsize import store
from rightsize.analysis.exact import Binning, Counter, Keeper, plan
from rightsize.analysis.history import _current, counter_increments, ts_ms, warn_cleaned
from rightsize.analysis.parquetio import Item, f64, open_samples, read_ahead, strings_at, ts_bounds
from rightsize.analysis.profile import DAY_MS, OBSERVED_QS, Dist, Profile, dist_of
from rightsize.errors import RightsizeError

PASS1 = ["ts", "workload", "mem_working_set", "cpu_cores", "pids", "cpu_throttled", "mem_peak",
         "oom_kills", "restarts"]  # fmt: skip
METRICS = {"mem": "mem_working_set", "cpu": "cpu_cores", "pids": "pids"}
BINNINGS = {"mem": Binning(16, 42), "cpu": Binning(-16, 10), "pids": Binning(0, 20, integer=True)}
BAD = {
    "mem": "negative memory values",
    "cpu": "negative CPU values (counter reset after a restart?)",
    "pids": "negative PID counts",
    "peak": "negative memory peaks",
}
LIMITS = ["mem_reservation", "mem_limit", "cpu_limit", "pids_limit"]


def _grow(a: np.ndarray, size: int, fill: float) -> np.ndarray:
    if len(a) >= size:
        return a
    out = np.full(size, fill, dtype=a.dtype)
    out[: len(a)] = a
    return out


@dataclass
class _Scan:
    """Pass-1 accumulators (internal, mutable; one per call)."""

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
    peak_max: np.ndarray = field(default_factory=lambda: np.zeros(0))
    bad: dict[str, int] = field(default_factory=dict)
    changes: list[pd.DataFrame] = field(default_factory=list)
    # per row group, for pass 2: dictionary index per row (uint8 mostly: 1 byte a row) and the
    # global code of each index (-1: filtered out), or None when no row of it counts
    codes: list[tuple[np.ndarray, np.ndarray] | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.counters = {m: Counter(b) for m, b in BINNINGS.items()}
        self.peaks = np.zeros((0, self.days))

    def code_lut(self, dictionary: pa.Array) -> np.ndarray:
        lut = np.full(len(dictionary) + 1, -1, np.int64)  # last slot: null
        for i, name in enumerate(dictionary.to_pylist()):
            if name is None or (self.match and not fnmatch.fnmatchcase(name, self.match)):
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
        cap = max(size, 2 * self.cap, 64)
        self.n = _grow(self.n, cap, 0)
        self.ts_min = _grow(self.ts_min, cap, np.iinfo(np.int64).max)
        self.ts_max = _grow(self.ts_max, cap, np.iinfo(np.int64).min)
        self.latest_at = _grow(self.latest_at, cap, -1)
        self.peak_max = _grow(self.peak_max, cap, -np.inf)
        for m in METRICS:
            self.counters[m].grow(cap)
        peaks = np.full((cap, self.days), -np.inf)
        peaks[: len(self.peaks)] = self.peaks
        thr = np.zeros((cap, 2))
        thr[: len(self.thr)] = self.thr
        self.peaks, self.thr, self.cap = peaks, thr, cap

    def clean(self, v: np.ndarray, what: str) -> np.ndarray:
        neg = v < 0
        if neg.any():
            self.bad[BAD[what]] = self.bad.get(BAD[what], 0) + int(neg.sum())
            v = np.where(neg, np.nan, v)
        return v


def _codes(s: _Scan, col: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(local code per row, global code per local code); -1 = null or filtered out."""
    if col.num_chunks != 1 or not pa.types.is_dictionary(col.type):
        chunks = [c if pa.types.is_dictionary(c.type) else c.dictionary_encode() for c in col.chunks]
        col = pa.chunked_array(
            chunks, type=chunks[0].type if chunks else pa.dictionary(pa.int32(), pa.string())
        )
        col = col.unify_dictionaries()
    arr = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    lut = s.code_lut(arr.dictionary)
    return arr.indices.fill_null(len(arr.dictionary)).to_numpy().astype(np.int64), lut


def _pass1_group(s: _Scan, f: Path, rg: int, flat: int, start: int | None, tb: pa.Table) -> None:
    local, lut = _codes(s, tb["workload"])
    codes = lut[local]
    ts = tb["ts"].cast(pa.int64()).to_numpy()
    keep = codes >= 0
    if start is not None:
        keep &= ts >= start
    cached = np.where(keep, local, len(lut) - 1) if start is not None else local  # last slot: -1
    small = np.uint8 if len(lut) <= 2**8 else np.uint16 if len(lut) <= 2**16 else np.int64
    s.codes.append((cached.astype(small), lut) if keep.any() else None)
    if keep.all():
        keep = slice(None)  # no copies when every row counts
    c, ts, local = codes[keep], ts[keep], local[keep]
    if not len(c):
        return
    s.n += np.bincount(c, minlength=s.cap)
    np.minimum.at(s.ts_min, c, ts)
    np.maximum.at(s.ts_max, c, ts)
    rg_max = np.full(s.cap, np.iinfo(np.int64).min)
    np.maximum.at(rg_max, c, ts)
    newer = rg_max >= s.ts_max  # equal: a later file's row wins, as in a ts-sorted frame
    newer &= rg_max > np.iinfo(np.int64).min
    s.latest_at[newer] = flat
    day = ts // DAY_MS - s.day0
    for m, col in METRICS.items():
        v = s.clean(f64(tb[col])[keep], m)
        ok = ~np.isnan(v)
        cm, vm, lm = (c, v, local) if ok.all() else (c[ok], v[ok], local[ok])
        s.counters[m].add(lm, vm, lut)
        if m == "mem":
            np.maximum.at(s.peaks.reshape(-1), cm * s.days + (day if cm is c else day[ok]), vm)
    thr = f64(tb["cpu_throttled"])[keep]
    ok = ~np.isnan(thr) & (thr >= 0) & (thr <= 1)
    s.thr[:, 0] += np.bincount(c[ok], weights=thr[ok], minlength=s.cap)
    s.thr[:, 1] += np.bincount(c[ok], minlength=s.cap)
    peak = s.clean(f64(tb["mem_peak"])[keep], "peak")
    ok = ~np.isnan(peak)
    np.maximum.at(s.peak_max, c[ok], peak[ok])
    oom = np.nan_to_num(f64(tb["oom_kills"])[keep])
    rst = np.nan_to_num(f64(tb["restarts"])[keep])
    nz = (oom > 0) | (rst > 0)
    if nz.any():  # rare: fetch container ids and limits for the rows where a counter is set
        # a reader of our own: the read-ahead thread is using the other one
        extra = pq.ParquetFile(f, read_dictionary=["container_id"]).read_row_group(
            rg, columns=["container_id", "mem_limit"]
        )
        cont = strings_at(extra["container_id"], np.arange(len(codes))[keep][nz])
        lim = f64(extra["mem_limit"])[keep][nz]
        frame = pd.DataFrame(
            {
                "code": c[nz],
                "container": cont,
                "ts": ts[nz],
                "oom": oom[nz],
                "restarts": rst[nz],
                "mem_limit": lim,
            }
        )
        s.changes.append(frame.drop_duplicates(["code", "container", "oom", "restarts"]))


def _oom_and_restarts(
    s: _Scan, events: pd.DataFrame, current: list[dict]
) -> tuple[list[tuple[float, ...]], list[int]]:
    """Per workload: the limit in force at each OOM kill, and the restart count (as histories() does)."""
    ooms: list[tuple[float, ...]] = [() for _ in s.names]
    restarts = [0] * len(s.names)
    ch = pd.concat(s.changes, ignore_index=True) if s.changes else None
    ev: dict[str, np.ndarray] = {}
    if not events.empty:
        e = events[events["kind"].astype("string") == "oom"]
        for name, grp in e.groupby(e["workload"].astype("string")):
            ev[str(name)] = np.sort(ts_ms(grp["ts"]))
    groups = dict(iter(ch.sort_values("ts", kind="stable").groupby("code"))) if ch is not None else {}
    for code, name in enumerate(s.names):
        rows = groups.get(code)
        if rows is not None:
            cont = rows["container"].to_numpy(dtype=object)
            restarts[code] = int(counter_increments(cont, rows["restarts"].to_numpy()).sum())
        if name in ev:
            lim_now = current[code]["memory"].limit
            found = []
            for t in ev[name]:
                if rows is not None and len(rows):
                    i = int(np.searchsorted(rows["ts"].to_numpy(), t, side="right")) - 1
                    found.append(float(rows["mem_limit"].to_numpy()[max(i, 0)]))
                else:
                    found.append(float("nan") if lim_now is None else float(lim_now))
            ooms[code] = tuple(found)
        elif rows is not None:
            inc = counter_increments(cont, rows["oom"].to_numpy())
            lim = rows["mem_limit"].to_numpy()
            ooms[code] = tuple(float(lim[i]) for i in np.flatnonzero(inc) for _ in range(int(inc[i])))
    return ooms, restarts


def events_of(path: Path) -> pd.DataFrame:
    """The events beside the samples: ROOT/events for ROOT or ROOT/samples; none for a single file."""
    root = path.parent if path.name == "samples" else path
    if path.is_dir() and (root / "events").is_dir():
        return store.load_events(root)
    return pd.DataFrame(columns=store.EVENTS_SCHEMA.names)


def scan_profiles(
    path: Path, *, since: str | None = None, qs: Iterable[float] = (), workloads: str | None = None
) -> list[Profile]:
    """One Profile per workload under ``path`` (sorted by name); see the module docstring."""
    from rightsize.analysis.recommend import since_start

    files = store.list_files(path, "samples")
    if not files:
        raise RightsizeError(f"no samples under {store.dataset_dir(path)}: the dataset is empty")
    qs = tuple(sorted(set(qs) | set(OBSERVED_QS)))
    lo_ts, hi_ts = ts_bounds(files)
    start = since_start(since, hi_ts)
    first = max(lo_ts, start) if start is not None else lo_ts
    s = _Scan(workloads, first // DAY_MS, int(hi_ts // DAY_MS - first // DAY_MS) + 1)
    good: list[tuple[Path, int, int]] = []  # (file, first flat row-group number, row groups)

    def pass1_items() -> Iterator[Item]:
        flat = 0
        for f in files:
            pf = open_samples(f)
            if pf is None:
                continue
            good.append((f, flat, pf.metadata.num_row_groups))
            for rg in range(pf.metadata.num_row_groups):
                yield f, pf, rg, flat
                flat += 1

    for (f, _, rg, flat), tb in read_ahead(pass1_items(), lambda item: PASS1):
        _pass1_group(s, f, rg, flat, start, tb)
    if not good:
        raise RightsizeError(f"no readable samples under {store.dataset_dir(path)}")
    warn_cleaned(s.bad)
    w = len(s.names)
    if not w:
        raise RightsizeError(
            f"no workload matches {workloads!r}" if workloads else "no samples with a workload"
        )
    keepers = {}
    for m in METRICS:
        keepers[m] = Keeper(plan(s.counters[m].table()[:w], qs, BINNINGS[m]))
        s.counters[m] = Counter(BINNINGS[m])  # free the count table before pass 2
    need = [m for m in METRICS if keepers[m].targets.needs_pass2]
    latest_rows: dict[int, dict[str, float]] = {}
    wanted_latest = set(s.latest_at[:w].tolist())

    def pass2_items() -> Iterator[Item]:
        for f, base, n_rg in good:
            pf = pq.ParquetFile(f)
            for rg in range(n_rg):
                yield f, pf, rg, base + rg

    def pass2_columns(item: Item) -> list[str]:
        if s.codes[item[3]] is None:
            return []
        return [METRICS[m] for m in need] + (["ts", *LIMITS] if item[3] in wanted_latest else [])

    for (_, _, _, flat), tb in read_ahead(pass2_items(), pass2_columns):
        cached = s.codes[flat]
        assert cached is not None  # pass2_columns skipped those
        s.codes[flat] = None  # done with it: free as we go
        codes = cached[1][cached[0]]
        keep = codes >= 0
        if keep.all():
            keep = slice(None)
        c = codes[keep]
        for m in need:
            v = f64(tb[METRICS[m]])[keep]
            ok = ~np.isnan(v) & (v >= 0)
            keepers[m].add(*((c, v) if ok.all() else (c[ok], v[ok])))
        if flat in wanted_latest:
            ts = tb["ts"].cast(pa.int64()).to_numpy()[keep]
            lims = {k: f64(tb[k])[keep] for k in LIMITS}
            for i in np.flatnonzero((ts == s.ts_max[c]) & (s.latest_at[c] == flat)):
                latest_rows[int(c[i])] = {k: float(lims[k][i]) for k in LIMITS}
    q = {m: keepers[m].quantiles() for m in METRICS}
    current = [_current(latest_rows.get(code, {})) for code in range(w)]
    ooms, restarts = _oom_and_restarts(s, events_of(path), current)
    out = []
    for code in sorted(range(w), key=lambda i: s.names[i]):
        if not s.n[code]:
            continue

        def dist(m: str, code: int = code) -> Dist:
            k = int(keepers[m].targets.n[code])
            return Dist(k, {p: float(q[m][p][code]) for p in qs}) if k else Dist()

        thr_n = s.thr[code, 1]
        out.append(
            Profile(
                workload=s.names[code],
                samples=int(s.n[code]),
                history_seconds=float(s.ts_max[code] - s.ts_min[code]) / 1000.0,
                mem=dist("mem"),
                cpu=dist("cpu"),
                pids=dist("pids"),
                daily_mem_peaks=dist_of(s.peaks[code][np.isfinite(s.peaks[code])], qs),
                mem_peak_max=float(s.peak_max[code]) if np.isfinite(s.peak_max[code]) else None,
                throttled_share=float(s.thr[code, 0] / thr_n) if thr_n else None,
                current=current[code],
                oom_limits=ooms[code],
                restarts=restarts[code],
            )
        )
    return out
