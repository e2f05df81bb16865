"""One workload's history as numpy arrays (replicas pooled), built from a samples/events DataFrame.

This is the in-memory path: the backtest slices histories into train/test windows and calls a
strategy on each, so building them must be cheap (one lexsort for the whole frame, then views).
Bad values are cleaned here, once: negative, infinite or NaN memory/PIDs and negative or infinite
CPU (a cumulative counter that reset when a container restarted) become NaN, with one warning
saying how many.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rightsize.errors import RightsizeError
from rightsize.models import Values
from rightsize.store import DatasetWarning

LIMIT_COLUMNS = {
    "memory": ("mem_reservation", "mem_limit"),
    "cpu": ("cpu_reservation", "cpu_limit"),
    "pids": (None, "pids_limit"),
}


@dataclass(frozen=True)
class History:
    """One workload, replicas pooled, rows sorted by ts. Units: bytes, cores, counts."""

    workload: str
    ts: np.ndarray  # int64 ms since epoch (UTC)
    mem: np.ndarray  # float64 working-set bytes (NaN = missing)
    mem_peak: np.ndarray  # float64 kernel peak bytes (NaN where not offered)
    cpu: np.ndarray  # float64 cores (NaN on first sample of a container)
    cpu_throttled: np.ndarray  # float64 fraction (NaN without CPU limit)
    pids: np.ndarray  # float64 (NaN = missing)
    current: dict[str, Values] = field(default_factory=dict)  # what it ran with (latest sample)
    oom_limits: tuple[float, ...] = ()  # memory limit in force at each OOM kill (NaN if none)
    restarts: int = 0

    @property
    def history_seconds(self) -> float:
        return float(self.ts[-1] - self.ts[0]) / 1000.0 if len(self.ts) else 0.0

    def window(self, start_ms: int, end_ms: int) -> History:
        """Rows with start_ms <= ts < end_ms (OOM limits and restarts are kept as they are)."""
        lo, hi = np.searchsorted(self.ts, [start_ms, end_ms], side="left")
        return History(
            self.workload,
            self.ts[lo:hi],
            self.mem[lo:hi],
            self.mem_peak[lo:hi],
            self.cpu[lo:hi],
            self.cpu_throttled[lo:hi],
            self.pids[lo:hi],
            self.current,
            self.oom_limits,
            self.restarts,
        )


def ts_ms(column: pd.Series) -> np.ndarray:
    """A ts column (datetime, tz-aware or not, or integer ms) -> int64 ms since epoch."""
    if column.dtype.kind in "iu":
        return column.to_numpy(dtype=np.int64)
    if column.dtype.kind == "f":
        return column.to_numpy(dtype=np.float64).astype(np.int64)
    idx = pd.DatetimeIndex(column)
    return np.asarray(idx.as_unit("ms").asi8, dtype=np.int64)


def _col(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def clean(values: np.ndarray, what: str, counts: dict[str, int]) -> np.ndarray:
    """Negative and infinite values -> NaN (counted under ``what`` for one warning later)."""
    bad = (values < 0) | np.isposinf(values)
    n = int(bad.sum())
    if n:
        counts[what] = counts.get(what, 0) + n
        values = np.where(bad, np.nan, values)
    return values


def warn_cleaned(counts: dict[str, int]) -> None:
    if counts:
        parts = ", ".join(f"{n} {what}" for what, n in counts.items())
        warnings.warn(f"ignored {parts}", DatasetWarning, stacklevel=3)


def _limit(x: float | None, unlimited: float = math.inf) -> float | None:
    """A recorded limit or reservation; 0 or less is none, and so is ``unlimited`` or more (memory:
    cgroup v1's "no limit", 9223372036854771712 bytes, which a trace from raw cgroup files holds)."""
    return None if x is None or np.isnan(x) or x <= 0 or x >= unlimited else float(x)


def _current(row: dict[str, float]) -> dict[str, Values]:
    out = {}
    for resource, (res_col, lim_col) in LIMIT_COLUMNS.items():
        res = row.get(res_col) if res_col else None
        lim = row.get(lim_col)
        unlimited = 2.0**62 if resource == "memory" else math.inf
        out[resource] = Values(_limit(res, unlimited), _limit(lim, unlimited))
    return out


def counter_increments(container: np.ndarray, counter: np.ndarray) -> np.ndarray:
    """Per row: how much a cumulative per-container counter grew since that container's previous row.

    Rows must be sorted by ts within the workload; containers may interleave. The first row of a
    container counts its whole value (kills before collection started are unknowable otherwise).
    """
    out = np.zeros(len(counter))
    if not len(counter):
        return out
    c = np.nan_to_num(counter, nan=0.0)
    order = np.lexsort((np.arange(len(c)), container))
    cs, vs = container[order], c[order]
    inc = np.diff(vs, prepend=0.0)
    first = np.ones(len(cs), dtype=bool)
    first[1:] = cs[1:] != cs[:-1]
    inc[first] = vs[first]
    inc = np.maximum(inc, 0.0)  # a counter that went down was reset (restart): no new kills
    out[order] = inc
    return out


def check_events(events: pd.DataFrame | None) -> None:
    """A caller's events frame holds what OOM kills are read from (KeyError, or ignored, else)."""
    if events is None or events.empty:
        return
    lacking = [c for c in ("ts", "workload", "kind") if c not in events.columns]
    if lacking:
        raise RightsizeError(f"events frame lacks column(s): {', '.join(lacking)}")


def histories(samples: pd.DataFrame, events: pd.DataFrame | None = None) -> Iterator[History]:
    """Group a samples frame by workload into Histories (sorted by workload name).

    OOM kills come from ``events`` (kind ``oom``) when it has any for the workload, else from the
    cumulative ``oom_kills`` counters; the limit in force is the ``mem_limit`` of the latest sample
    at or before the kill.
    """
    check_events(events)
    if samples.empty:
        return
    counts: dict[str, int] = {}
    ts = ts_ms(samples["ts"])
    workload = samples["workload"].astype("string").fillna("").to_numpy(dtype=object)
    codes, names = pd.factorize(workload, sort=True)
    order = np.lexsort((ts, codes))
    ts, codes = ts[order], codes[order]
    mem_raw = _col(samples, "mem_working_set")[order]
    mem = clean(mem_raw, "negative or infinite memory values", counts)
    peak = clean(_col(samples, "mem_peak")[order], "negative or infinite memory peaks", counts)
    cpu_bad = "negative or infinite CPU values (counter reset after a restart?)"
    cpu = clean(_col(samples, "cpu_cores")[order], cpu_bad, counts)
    thr = _col(samples, "cpu_throttled")[order]
    thr = np.where((thr < 0) | (thr > 1), np.nan, thr)
    pids = clean(_col(samples, "pids")[order], "negative or infinite PID counts", counts)
    limits = {c: _col(samples, c)[order] for cols in LIMIT_COLUMNS.values() for c in cols if c}
    if "container_id" in samples.columns:
        cont = samples["container_id"].astype("string").fillna("").to_numpy(dtype=object)[order]
    else:
        cont = np.zeros(len(ts), dtype=object)
    oom_c, restart_c = _col(samples, "oom_kills")[order], _col(samples, "restarts")[order]
    # A row that measured nothing at an OOM kill is the collector's record of the kill (the job died
    # before any reading; the row holds the limit it was killed at): not a missing memory value
    kills = np.isnan(mem_raw) & np.isnan(peak) & np.isnan(cpu) & np.isnan(pids) & (oom_c > 0)
    rest = mem_raw[~kills]
    if len(rest) and np.isnan(rest).all():
        counts["rows without a memory value"] = len(rest)
    warn_cleaned(counts)

    ev_oom: dict[str, np.ndarray] = {}
    if events is not None and not events.empty and "kind" in events.columns:
        oom = events[events["kind"].astype("string") == "oom"]
        if not oom.empty:
            ev_ts = ts_ms(oom["ts"])
            ev_wl = oom["workload"].astype("string").fillna("").to_numpy(dtype=object)
            for name in np.unique(ev_wl):
                ev_oom[str(name)] = np.sort(ev_ts[ev_wl == name])

    bounds = np.flatnonzero(np.diff(codes)) + 1
    starts = np.concatenate(([0], bounds))
    ends = np.concatenate((bounds, [len(codes)]))
    for s, e in zip(starts, ends, strict=True):
        name = str(names[codes[s]])
        sl = slice(s, e)
        last = {c: float(v[e - 1]) for c, v in limits.items()}
        mem_limit = limits["mem_limit"][sl]
        if name in ev_oom:
            idx = np.searchsorted(ts[sl], ev_oom[name], side="right") - 1
            oom_limits = tuple(float(mem_limit[i]) if i >= 0 else float("nan") for i in idx)
        else:
            inc = counter_increments(cont[sl], oom_c[sl])
            oom_limits = tuple(float(mem_limit[i]) for i in np.flatnonzero(inc) for _ in range(int(inc[i])))
        restarts = int(counter_increments(cont[sl], restart_c[sl]).sum())
        yield History(
            workload=name,
            ts=ts[sl],
            mem=mem[sl],
            mem_peak=peak[sl],
            cpu=cpu[sl],
            cpu_throttled=thr[sl],
            pids=pids[sl],
            current=_current(last),
            oom_limits=oom_limits,
            restarts=restarts,
        )
