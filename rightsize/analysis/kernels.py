"""Compiled row loops of the streaming scan (numba): a few sweeps over a row group's rows.

The numpy version needed ~40 whole-array passes per row group (masks, copies, float conversions,
``bincount``, ``ufunc.at``); these loops read the rows straight from the Arrow buffers, write
into the per-workload tables, and release the GIL, so the reader threads decode the next row
groups meanwhile. One small loop per job: a single fused loop over all of pass 1 measured 20 ms
a row group against 13 ms for the separate loops (why was not investigated). ``cache=True``:
only the first run on a machine compiles (seconds); later runs load the machine code.

Conventions: ``local`` is a row group's dictionary index per row, ``lut`` maps it to the scan's
workload code (-1: filtered out or null: the row is skipped). A column is (values, validity
bitmap, bit offset), as Arrow holds it: an empty bitmap means no nulls; NaN counts as null.
Negative values are skipped and counted (the caller warns about them). Nothing here checks
bounds: the callers size the tables (codes < rows of every table, days within the peak table).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from rightsize.analysis.exact import SHIFT  # the bins are exact.Binning's

INF = np.inf

DAY_MS = 86_400_000
NO_NULLS = np.zeros(0, np.uint8)
NO_NULLS.flags.writeable = False
F = TypeVar("F", bound=Callable[..., Any])


def _jit(f: F) -> F:
    """Compiled (numba), cached on disk, GIL released; typed as the Python function it was."""
    try:
        return cast(F, njit(cache=True, nogil=True)(f))
    except RuntimeError:  # numba found no writable cache folder at all: compile on every run
        return cast(F, njit(nogil=True)(f))


def _f64_bits_intrinsic(typingctx: object, x: types.Type) -> tuple:
    def codegen(context: object, builder: ir.IRBuilder, signature: object, args: list) -> ir.Value:
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


# The bit pattern of a float64 as int64 (a register move: numpy's ``view`` for one value). Going
# through a one-element array view instead made the counting loop ~40x slower.
_f64_bits = cast(Callable[[float], int], intrinsic(_f64_bits_intrinsic))


@_jit
def _valid(bitmap: np.ndarray, off: int, i: int) -> bool:
    if len(bitmap) == 0:
        return True
    j = off + i
    return (bitmap[j >> 3] >> (j & 7)) & 1 == 1


@_jit
def _bin(v: float, first: int, last: int) -> int:
    """The bin of v >= 0 from its float64 bit pattern (exact.Binning.bins for one value)."""
    if v == 0.0:
        return 0
    b = (_f64_bits(v) >> SHIFT) - first
    return 1 if b < 1 else last if b > last else b


@_jit
def _count(table: np.ndarray, g: int, v: float, first: int) -> int:
    """Count v in table[g]: 1 if counted, 0 if NaN, -1 if negative or infinite (skipped)."""
    if v != v:
        return 0
    if v < 0 or v == INF:  # +inf: a broken source (Prometheus can answer "+Inf"), not a usage
        return -1
    table[g, _bin(v, first, table.shape[1] - 1)] += 1
    return 1


@_jit
def count_bins(
    local: np.ndarray, lut: np.ndarray, values: np.ndarray, ok: np.ndarray, off: int, table: np.ndarray,
    first: int,
) -> int:  # fmt: skip
    """table[code, bin] += 1 for every value >= 0; returns how many were negative."""
    bad = 0
    for i in range(len(local)):
        g = lut[local[i]]
        if g >= 0 and _valid(ok, off, i) and _count(table, g, float(values[i]), first) < 0:
            bad += 1
    return bad


@_jit
def count_rows(
    local: np.ndarray, lut: np.ndarray, ts: np.ndarray, n: np.ndarray, ts_min: np.ndarray, ts_max: np.ndarray
) -> None:
    """Rows per code, and the first and the last timestamp (of this row group: ts_max finds the
    row group holding each workload's latest row)."""
    for i in range(len(local)):
        g = lut[local[i]]
        if g < 0:
            continue
        t = ts[i]
        n[g] += 1
        if t < ts_min[g]:
            ts_min[g] = t
        if t > ts_max[g]:
            ts_max[g] = t


@_jit
def daily_max(
    local: np.ndarray, lut: np.ndarray, ts: np.ndarray, values: np.ndarray, ok: np.ndarray, off: int,
    peaks: np.ndarray, day0: int,
) -> None:  # fmt: skip
    """peaks[code, UTC day - day0] = the day's largest value >= 0 (the table spans every day)."""
    for i in range(len(local)):
        g = lut[local[i]]
        if g < 0 or not _valid(ok, off, i):
            continue
        v = float(values[i])
        d = ts[i] // DAY_MS - day0
        if v >= 0 and v < INF and v > peaks[g, d]:  # NaN: False
            peaks[g, d] = v


@_jit
def throttle_sums(
    local: np.ndarray, lut: np.ndarray, thr: np.ndarray, ok: np.ndarray, off: int, sums: np.ndarray
) -> None:
    """sums[code] += (sum of the throttled shares within 0..1, how many); others are skipped."""
    for i in range(len(local)):
        g = lut[local[i]]
        if g < 0 or not _valid(ok, off, i):
            continue
        x = float(thr[i])
        if x >= 0 and x <= 1:
            sums[g, 0] += x
            sums[g, 1] += 1.0


@_jit
def rank_bins(table: np.ndarray, ranks: np.ndarray, bins: np.ndarray, below: np.ndarray) -> None:
    """For each group (row of the count table) with values and each of its wanted ranks (0-based):
    the bin holding that rank, and how many values lie in lower bins."""
    cum = np.empty(table.shape[1], np.int64)
    for g in range(table.shape[0]):
        c = 0
        for b in range(table.shape[1]):
            c += table[g, b]
            cum[b] = c
        if c == 0:
            continue
        for j in range(ranks.shape[1]):
            b = np.searchsorted(cum, ranks[g, j], side="right")
            bins[g, j] = b
            below[g, j] = cum[b] - table[g, b]


@_jit
def keep_wanted(
    local: np.ndarray, lut: np.ndarray, values: np.ndarray, ok: np.ndarray, off: int, wanted: np.ndarray,
    first: int, nb: int, keys: np.ndarray, kept: np.ndarray,
) -> int:  # fmt: skip
    """Pass 2: write (code * nb + bin, value) of the values >= 0 in wanted bins to keys/kept
    (room for every row); returns how many."""
    k = 0
    for i in range(len(local)):
        g = lut[local[i]]
        if g < 0 or not _valid(ok, off, i):
            continue
        v = float(values[i])
        if not (v >= 0 and v < INF):  # NaN too
            continue
        key = g * nb + _bin(v, first, nb - 1)
        if wanted[key]:
            keys[k] = key
            kept[k] = v
            k += 1
    return k


@_jit
def nth_in_bins(
    ids: np.ndarray, values: np.ndarray, n_ids: int, q_id: np.ndarray, q_k: np.ndarray
) -> np.ndarray:
    """values grouped by ids (0..n_ids-1); for each query j, the q_k[j]-th smallest value of
    group q_id[j] (NaN if the group has fewer: the data changed between the passes). A counting
    sort by group, then a sort inside each group asked about."""
    start = np.zeros(n_ids + 1, np.int64)
    for i in range(len(ids)):
        start[ids[i] + 1] += 1
    for s in range(n_ids):
        start[s + 1] += start[s]
    at = start[:-1].copy()
    grouped = np.empty(len(values))
    for i in range(len(ids)):
        s = ids[i]
        grouped[at[s]] = values[i]
        at[s] += 1
    done = np.zeros(n_ids, np.bool_)
    out = np.empty(len(q_id))
    for j in range(len(q_id)):
        s = q_id[j]
        if not done[s]:
            grouped[start[s] : start[s + 1]].sort()
            done[s] = True
        k = q_k[j]
        out[j] = grouped[start[s] + k] if 0 <= k < start[s + 1] - start[s] else np.nan
    return out


def frozen(a: np.ndarray) -> np.ndarray:
    """A read-only view: numba compiles writable and read-only arrays as different types."""
    if a.flags.writeable:
        a = a.view()
        a.flags.writeable = False
    return a


def readonly(values: np.ndarray) -> np.ndarray:
    """Contiguous, read-only, of a type the kernels take (else float64): one compiled variant
    then serves numpy's arrays and Arrow's buffers alike."""
    if values.dtype not in (np.int32, np.int64, np.float32, np.float64):
        values = values.astype(np.float64)
    return frozen(np.ascontiguousarray(values))
