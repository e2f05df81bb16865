"""The streaming scan's rare rows: OOM/restart counter changes, and the memory limit at each OOM event.

Both must give what ``history.histories`` gives from all rows: a counter's increments per
container (a counter that fell back, e.g. to 0 in a recreated cgroup, counts again from there),
and for each OOM event the ``mem_limit`` of the workload's latest row at or before it (NaN if
none). Only vectorised work over a row group's rows; no per-row loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from rightsize.analysis.history import ts_ms

TS_BITS = 42  # ms since the epoch fit in 42 bits until 2109: (code << 42) | ts sorts by code, then ts
NONE = np.iinfo(np.int64).min


def oom_events(events: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(workload names, ts in ms) of the OOM events with a workload, sorted by name, then ts."""
    if events.empty or "kind" not in events.columns:
        return np.zeros(0, object), np.zeros(0, np.int64)
    e = events[(events["kind"].astype("string") == "oom") & events["workload"].notna()]
    names = e["workload"].astype("string").to_numpy(dtype=object)
    ts = ts_ms(e["ts"]) if len(e) else np.zeros(0, np.int64)
    order = np.lexsort((ts, names)) if len(e) else np.zeros(0, np.int64)
    return names[order], np.asarray(ts, np.int64)[order]


@dataclass
class EventLimits:
    """Per OOM event: ts of the latest row of its workload at or before it so far, and its limit."""

    names: np.ndarray
    ts: np.ndarray
    best_ts: np.ndarray = field(init=False)
    best_lim: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.best_ts = np.full(len(self.ts), NONE, np.int64)
        self.best_lim = np.full(len(self.ts), np.nan)

    def update(
        self, index: dict[str, int], local: np.ndarray, lut: np.ndarray, ts: np.ndarray, lim: pa.ChunkedArray
    ) -> None:
        """Look at one row group (read later than those before: its rows win ties, as in a frame
        sorted stably by ts)."""
        if not len(self.ts):
            return
        codes = np.array([index.get(n, -1) for n in self.names], np.int64)
        is_ev = np.zeros(len(index) + 1, bool)  # last slot: lut's -1
        is_ev[codes[codes >= 0]] = True
        if not is_ev[lut].any():
            return
        rows = np.flatnonzero(is_ev[lut][local])
        if not len(rows):
            return
        key = (lut[local[rows]].astype(np.int64) << TS_BITS) | ts[rows]
        order = np.argsort(key, kind="stable")
        sk = key[order]
        i = np.searchsorted(sk, (codes << TS_BITS) | self.ts, side="right") - 1
        ok = (codes >= 0) & (i >= 0)
        ok[ok] = (sk[i[ok]] >> TS_BITS) == codes[ok]
        at = sk[np.maximum(i, 0)] & ((1 << TS_BITS) - 1)
        better = ok & (at >= self.best_ts)
        if better.any():
            picked = rows[order[i[better]]]
            self.best_ts[better] = at[better]
            self.best_lim[better] = (
                lim.take(pa.array(picked)).cast(pa.float64()).to_numpy(zero_copy_only=False)
            )

    def merge(self, later: EventLimits) -> None:
        """Combine with the same events' results over later files (those win ties)."""
        better = later.best_ts >= self.best_ts
        self.best_ts[better] = later.best_ts[better]
        self.best_lim[better] = later.best_lim[better]

    def by_workload(self) -> dict[str, tuple[float, ...]]:
        """Workload -> the limit in force at each of its OOM events (NaN before its first row)."""
        lims = np.where(self.best_ts != NONE, self.best_lim, np.nan)
        out: dict[str, list[float]] = {}
        for name, lim in zip(self.names, lims, strict=True):
            out.setdefault(str(name), []).append(float(lim))
        return {k: tuple(v) for k, v in out.items()}


def changed_rows(
    tracked: set[str],
    cont: pa.ChunkedArray,
    oom: np.ndarray,
    rst: np.ndarray,
    codes: np.ndarray,
    local: np.ndarray,
) -> tuple[np.ndarray, np.ndarray] | None:
    """The rows where a container's (oom, restarts) counters differ from its previous row in this
    row group, and its first row here, for containers with a counter above 0 (here or in row
    groups before: ``tracked``, updated); with their container ids. Rows whose workload code
    (``codes[local]``) is -1 are not counted. A row at 0 after one above 0 is a reset: kept, so
    the kill after it counts again (as ``counter_increments`` over all rows does)."""
    if not pa.types.is_dictionary(cont.type):
        cont = cont.dictionary_encode()
    cont = cont.unify_dictionaries()
    arr = cont.combine_chunks() if cont.num_chunks != 1 else cont.chunk(0)
    names = np.array([n if n is not None else "" for n in arr.dictionary.to_pylist()] + [""], dtype=object)
    cidx = arr.indices.fill_null(-1).to_numpy(zero_copy_only=False)  # -1: names' last slot
    pos = (oom > 0) | (rst > 0)
    nz = np.flatnonzero(pos)
    nz = nz[codes[local[nz]] >= 0]
    tracked.update(names[np.unique(cidx[nz])].tolist())
    hit = np.array([n in tracked for n in names])
    if not hit.any():
        return None
    rows = np.flatnonzero(pos | hit[cidx])  # a tracked container's rows at 0 too
    rows = rows[codes[local[rows]] >= 0]
    if not len(rows):
        return None
    combo = (np.minimum(oom[rows], 2**21 - 1).astype(np.int64) << 21) | np.minimum(rst[rows], 2**21 - 1)
    c = cidx[rows]
    order = np.argsort(c, kind="stable")
    keep = np.ones(len(rows), bool)
    keep[1:] = (c[order][1:] != c[order][:-1]) | (combo[order][1:] != combo[order][:-1])
    rows = rows[np.sort(order[keep])]
    return rows, names[cidx[rows]]


KILL_ROWS = "rows recording an OOM kill"  # a count beside the warning counts, never warned itself


def kill_rows(tb: pa.Table, codes: np.ndarray, oom: np.ndarray) -> int:
    """Rows of wanted workloads (``codes`` >= 0) that measured nothing at an OOM kill: the collector's
    record of a job killed before any reading, which ``histories`` counts as no missing value."""
    none = np.ones(len(codes), bool)
    for col in ("mem_working_set", "mem_peak", "cpu_cores", "pids"):
        none &= tb[col].is_null().to_numpy(zero_copy_only=False)
    return int((none & (oom > 0) & (codes >= 0)).sum())
