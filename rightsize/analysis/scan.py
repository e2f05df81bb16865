"""Profiles straight from a Parquet dataset folder, in bounded memory, with exact percentiles.

Two passes over the row groups (see exact.py and scanpart.py). Pass 1 reads the workload codes,
timestamps, usage and counters, and keeps per-workload counts per value bin, daily memory peaks,
throttling sums, the rows where OOM/restart counters change, and where each workload's latest
row is. Pass 2 re-reads only memory, kernel peaks, CPU and PIDs (the workload codes are cached
from pass 1) and keeps the values in the bins that hold the wanted ranks, plus the limits of each
latest row.
Memory: O(workloads x bins) + a row group or two + the kept values; never the whole dataset.

The row loops are compiled (kernels.py) and release the GIL; two reader threads decode the next
row groups meanwhile, so one process keeps two cores busy. With ``RIGHTSIZE_SCAN_PROCESSES=2``
the later half of the files is scanned by a second process at the same time (from the numpy
build, whose sweeps held the GIL); the two halves are merged exactly. It is off by default: on
the busy 2-core development host it was not faster and doubled the memory (see BENCHMARKS.md).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from rightsize import store
from rightsize.analysis.exact import Keeper, plan
from rightsize.analysis.history import _current, counter_increments, warn_cleaned
from rightsize.analysis.parquetio import ts_bounds
from rightsize.analysis.plausible import Ignored, Plausible, none_possible, partition_days, plausible
from rightsize.analysis.profile import DAY_MS, OBSERVED_QS, Dist, Profile, dist_of
from rightsize.analysis.scanfound import Found, Kept
from rightsize.analysis.scanoom import KILL_ROWS, EventLimits, oom_events
from rightsize.analysis.scanpart import BINNINGS, METRICS, Part, pass1, pass2
from rightsize.analysis.scanproc import receive, send_child, start_child
from rightsize.errors import RightsizeError

if TYPE_CHECKING:
    from rightsize.analysis.recommend import Since

PARALLEL_ROWS = 4_000_000  # below this, starting a second process costs more than it saves
Latest = dict[int, tuple[int, dict[str, float]]]


def _oom_and_restarts(
    names: list[str], changes: pd.DataFrame | None, ev: dict[str, tuple[float, ...]]
) -> tuple[list[tuple[float, ...]], list[int]]:
    """Per workload: the limit in force at each OOM kill (``ev``: from its OOM events, where it has
    any), and the restart count (as histories() does)."""
    ooms: list[tuple[float, ...]] = [() for _ in names]
    restarts = [0] * len(names)
    ch = changes
    groups = dict(iter(ch.sort_values("ts", kind="stable").groupby("code"))) if ch is not None else {}
    for code, name in enumerate(names):
        rows = groups.get(code)
        if rows is not None:
            cont = rows["container"].to_numpy(dtype=object)
            restarts[code] = int(counter_increments(cont, rows["restarts"].to_numpy()).sum())
        if name in ev:
            ooms[code] = ev[name]
        elif rows is not None:
            inc = counter_increments(cont, rows["oom"].to_numpy())
            lim = rows["mem_limit"].to_numpy()
            ooms[code] = tuple(float(lim[i]) for i in np.flatnonzero(inc) for _ in range(int(inc[i])))
    return ooms, restarts


def events_of(path: Path) -> pd.DataFrame:
    """The events beside the samples (``store.events_beside``)."""
    return store.events_beside(path)


@dataclass
class Merged:
    """Pass-1 results of all parts in one code space (the first part's codes come first)."""

    names: list[str]
    maps: list[np.ndarray]  # per part: its code -> merged code
    n: np.ndarray
    ts_min: np.ndarray
    ts_max: np.ndarray
    tables: dict[str, np.ndarray]
    peaks: np.ndarray
    thr: np.ndarray
    changes: pd.DataFrame | None
    ev_limits: EventLimits


def merge(found: list[Found]) -> Merged:
    if len(found) == 1:  # one part: its codes are the merged codes, nothing to copy
        f = found[0]
        tables, f.tables = f.tables, {}
        return Merged(list(f.names), [np.arange(len(f.names))], f.n, f.ts_min, f.ts_max, tables,
                      f.peaks, f.thr, f.changes, f.ev_limits)  # fmt: skip
    index: dict[str, int] = {}
    for f in found:
        for name in f.names:
            index.setdefault(name, len(index))
    g = len(index)
    maps = [np.array([index[name] for name in f.names], dtype=np.int64) for f in found]
    d0 = min(f.day0 for f in found)
    days = max(f.day0 + f.peaks.shape[1] for f in found) - d0
    m = Merged(
        list(index), maps, np.zeros(g, np.int64), np.full(g, np.iinfo(np.int64).max),
        np.full(g, np.iinfo(np.int64).min), {k: np.zeros((g, b.n), np.int32) for k, b in BINNINGS.items()},
        np.full((g, days), -np.inf), np.zeros((g, 2)), None, found[0].ev_limits,
    )  # fmt: skip
    changes = []
    for f, mp in zip(found, maps, strict=True):
        m.n[mp] += f.n
        m.ts_min[mp] = np.minimum(m.ts_min[mp], f.ts_min)
        m.ts_max[mp] = np.maximum(m.ts_max[mp], f.ts_max)
        for k in METRICS:
            m.tables[k][mp] += f.tables[k]
        cols = slice(f.day0 - d0, f.day0 - d0 + f.peaks.shape[1])
        m.peaks[mp, cols] = np.maximum(m.peaks[mp, cols], f.peaks)
        m.thr[mp] += f.thr
        if f is not found[0]:
            m.ev_limits.merge(f.ev_limits)
        if f.changes is not None:
            changes.append(f.changes.assign(code=mp[f.changes["code"].to_numpy()]))
        f.tables = {}  # merged: let them go
    m.changes = pd.concat(changes, ignore_index=True) if changes else None
    return m


def split(files: list[Path], rows: list[int], parallel: bool | None = None) -> list[list[Path]]:
    """One list, or two halves of about equal rows (the later files second: they win ties)."""
    total = sum(rows)
    if parallel is None:  # opt-in: measured no faster on a busy 2-core host, at twice the memory
        parallel = total >= PARALLEL_ROWS and (os.cpu_count() or 1) >= 2
        parallel &= os.environ.get("RIGHTSIZE_SCAN_PROCESSES", "1") == "2"
    if not parallel or len(files) < 2:
        return [files]
    cut = int(np.searchsorted(np.cumsum(rows), total / 2)) + 1
    cut = min(max(cut, 1), len(files) - 1)
    return [files[:cut], files[cut:]]


def scan_profiles(
    path: Path,
    *,
    since: Since = None,
    qs: Iterable[float] = (),
    workloads: str | None = None,
    parallel: bool | None = None,
    valid: Plausible | None = None,
) -> list[Profile]:
    """One Profile per workload under ``path`` (sorted by name); see the module docstring.

    ``parallel``: None = a second process for large datasets on multi-core machines; True/False
    forces it (when there are at least two files) or not. ``valid``: the possible sample times
    (default: ``plausible()``); rows outside them are left out and counted in one warning.
    """
    from rightsize.analysis.recommend import since_start

    files = store.list_files(path, "samples")
    if not files:
        raise RightsizeError(f"no samples under {store.dataset_dir(path)}: the dataset is empty")
    qs = tuple(sorted(set(qs) | set(OBSERVED_QS)))
    valid = valid or plausible()
    hint = partition_days(files, valid)
    if since is None and hint is not None:  # the date partitions say enough: no footer to read twice
        start, days, rows = None, hint, [store.size_of(f) // 16 for f in files]  # ~rows, for split()
    else:
        lo_ts, hi_ts, rows = ts_bounds(files, valid)
        start = since_start(since, hi_ts)
        if start is not None and start > hi_ts:  # a date after the data: nothing to scan
            last = pd.Timestamp(hi_ts, unit="ms", tz="UTC").isoformat()
            raise RightsizeError(f"--since {since!r}: no samples after it (the data ends at {last})")
        first = max(lo_ts, start) if start is not None else lo_ts
        days = (first // DAY_MS, int(hi_ts // DAY_MS - first // DAY_MS) + 1)
    halves = split(files, rows, parallel)
    events = oom_events(events_of(path))
    proc = start_child(halves[1], start, workloads, days, events, valid) if len(halves) == 2 else None
    try:
        mine = Part(workloads, *days, events=events, valid=valid)
        found = [pass1(mine, halves[0], start)]
        if proc is not None:
            found.append(receive(proc, "found"))
        if not sum(f.files for f in found):
            raise RightsizeError(f"no readable samples under {store.dataset_dir(path)}")
        ignored = Ignored()
        for f in found:
            ignored = ignored.merged(f.ignored)
        if ignored.count and not sum(f.possible for f in found):
            raise RightsizeError(none_possible(ignored))
        ignored.warn()  # one line for both halves
        m = merge(found)
        bad: dict[str, int] = {}
        for f in found:  # one line for both halves too
            for what, n in f.bad.items():
                bad[what] = bad.get(what, 0) + n
        kills = bad.pop(KILL_ROWS, 0)  # no missing values: the records of kills before any reading
        if m.n.sum() > kills and not m.tables["mem"].sum():  # as histories() says it in memory
            bad["rows without a memory value"] = int(m.n.sum()) - kills
        warn_cleaned(bad)
        w = len(m.names)
        if not w:
            raise RightsizeError(
                f"no workload matches {workloads!r}" if workloads else "no samples with a workload"
            )
        keepers = {}
        for k in METRICS:
            keepers[k] = Keeper(plan(m.tables[k], qs, BINNINGS[k]))
            m.tables[k] = np.zeros((0, 0), np.int32)  # planned: free the count table before pass 2
        need = [k for k in METRICS if keepers[k].targets.needs_pass2]
        wanted = [{k: keepers[k].targets.wanted.reshape(w, -1)[mp].ravel() for k in need} for mp in m.maps]
        if proc is not None:
            send_child(proc, wanted[1])
        kept = [pass2(mine, wanted[0])]
        if proc is not None:
            kept.append(receive(proc, "kept"))
    finally:
        if proc is not None:
            proc.kill()  # done, or we failed: never leave it behind
            proc.wait()
            for pipe in (proc.stdin, proc.stdout):  # else a ResourceWarning each
                if pipe is not None:
                    pipe.close()
    latest: Latest = {}
    for part, mp in zip(kept, m.maps, strict=True):
        _collect(part, mp, keepers, latest)
    q = {k: keepers[k].quantiles() for k in METRICS}
    current = [_current(latest[code][1] if code in latest else {}) for code in range(w)]
    ooms, restarts = _oom_and_restarts(m.names, m.changes, m.ev_limits.by_workload())
    out = []
    for code in sorted(range(w), key=lambda i: m.names[i]):
        if not m.n[code]:
            continue

        def dist(k: str, code: int = code) -> Dist:
            count = int(keepers[k].targets.n[code])
            return Dist(count, {p: float(q[k][p][code]) for p in qs}) if count else Dist()

        thr_n = m.thr[code, 1]
        out.append(
            Profile(
                workload=m.names[code],
                samples=int(m.n[code]),
                history_seconds=float(m.ts_max[code] - m.ts_min[code]) / 1000.0,
                mem=dist("mem"),
                cpu=dist("cpu"),
                pids=dist("pids"),
                daily_mem_peaks=dist_of(m.peaks[code][np.isfinite(m.peaks[code])], qs),
                mem_peaks=dist("peak"),
                throttled_share=float(m.thr[code, 0] / thr_n) if thr_n else None,
                current=current[code],
                oom_limits=ooms[code],
                restarts=restarts[code],
            )
        )
    return out


def _collect(part: Kept, mp: np.ndarray, keepers: dict[str, Keeper], latest: Latest) -> None:
    """Add one part's kept values and latest limits in merged codes (the later part wins ties)."""
    same = bool((mp == np.arange(len(mp))).all())  # one part (the usual case): codes unchanged
    for k, (keys, values) in part.values.items():
        nb = BINNINGS[k].n
        keepers[k].keys.append(keys if same else mp[keys // nb] * nb + keys % nb)
        keepers[k].values.append(values)
    for code, (ts, lims) in part.latest.items():
        g = int(mp[code])
        if g not in latest or ts >= latest[g][0]:
            latest[g] = (ts, lims)
