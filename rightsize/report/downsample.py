"""Downsampling for charts that never hides a peak.

A 14-day history at 10 s is 120,960 points per series; a chart is ~1,000 pixels wide. Averaging
or striding would smooth away exactly the spikes that decide a memory limit, so each time bucket
keeps its minimum and its maximum sample (at their own timestamps, in time order): the drawn line
touches every bucket's extreme, and the series' global max and min always survive.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

# Time buckets per chart unless asked: every peak survives any count (each bucket keeps its min and
# max); past FULL_UNTIL workloads the count falls so the page's chart data stays about as large as
# at FULL_UNTIL (2,000 workloads drew 40 MiB pages), down to FLOOR buckets (~12 px each).
BUCKETS = 500
FULL_UNTIL = 500
FLOOR = 100


def page_buckets(workloads: int, asked: int | None = None) -> int:
    """Buckets per chart for a page of ``workloads`` charts: ``asked``, or the default for that many."""
    if asked is not None:
        return asked
    if workloads <= FULL_UNTIL:
        return BUCKETS
    return max(FLOOR, BUCKETS * FULL_UNTIL // workloads)


def _series(ts: npt.ArrayLike, values: npt.ArrayLike, buckets: int) -> tuple[FloatArray, FloatArray]:
    """``ts`` and ``values`` as float64 arrays, checked for the envelopes."""
    if buckets < 1:
        raise ValueError("buckets must be >= 1")
    t = np.asarray(ts, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if t.shape != v.shape or t.ndim != 1:
        raise ValueError("ts and values must be 1-D arrays of the same length")
    return t, v


def minmax_envelope(ts: npt.ArrayLike, values: npt.ArrayLike, buckets: int) -> tuple[FloatArray, FloatArray]:
    """Reduce ``(ts, values)`` to at most ``2 * buckets`` points: each bucket's min and max sample.

    ``ts`` is any increasing-or-not numeric time (e.g. ms since epoch); it is sorted first.
    Buckets are equal slices of ``[min(ts), max(ts)]``. NaN values are ignored; a bucket with no
    finite value but with samples yields one NaN point so that a line shows the gap. Series that
    already fit (``len <= 2 * buckets``) are returned unchanged (sorted, as float64).
    """
    t, v = _series(ts, values, buckets)
    if len(t) and np.any(np.diff(t) < 0):
        order = np.argsort(t, kind="stable")
        t, v = t[order], v[order]
    if len(t) <= 2 * buckets:
        return t.copy(), v.copy()

    span = t[-1] - t[0]
    if span > 0:
        bucket = np.minimum(((t - t[0]) / span * buckets).astype(np.int64), buckets - 1)
    else:  # every sample at one instant: one bucket
        bucket = np.zeros(len(t), dtype=np.int64)
    # t is sorted, so each bucket is one contiguous run: its starts index reduceat.
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    lengths = np.diff(np.r_[starts, len(t)])
    finite = np.isfinite(v)
    hi = np.maximum.reduceat(np.where(finite, v, -np.inf), starts)
    lo = np.minimum.reduceat(np.where(finite, v, np.inf), starts)
    seg = np.repeat(np.arange(len(starts)), lengths)
    # First position in each run holding the run's max (resp. min).
    imax = _first_per_segment(np.flatnonzero(finite & (v == hi[seg])), seg, len(starts))
    imin = _first_per_segment(np.flatnonzero(finite & (v == lo[seg])), seg, len(starts))

    empty = imax < 0  # a run of samples that are all NaN
    keep = np.unique(np.r_[imax[~empty], imin[~empty], starts[empty]])
    return t[keep], v[keep]


def grid_envelope(
    ts: npt.ArrayLike, values: npt.ArrayLike, start: float, span: float, buckets: int
) -> FloatArray:
    """``2 * buckets`` values on a fixed time grid: bucket ``k`` of ``[start, start + span]`` gives
    its min and max sample in the order they happened (NaN, NaN where it has no finite value).

    Every series of one chart shares the grid, so no time travels with the values: the chart
    draws point ``i`` at ``start + (i + 0.5) * span / (2 * buckets)`` (plotly's ``x0``/``dx``).
    A peak keeps its true height; its time moves by at most half a bucket (a pixel or two).
    """
    t, v = _series(ts, values, buckets)
    out = np.full(2 * buckets, np.nan)
    finite = np.isfinite(v) & np.isfinite(t)
    t, v = t[finite], v[finite]
    if not len(t):
        return out
    if np.any(np.diff(t) < 0):
        order = np.argsort(t, kind="stable")
        t, v = t[order], v[order]
    scaled = (t - start) / span * buckets if span > 0 else np.zeros(len(t))
    bucket = np.clip(scaled.astype(np.int64), 0, buckets - 1)
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])  # one contiguous run per bucket
    lengths = np.diff(np.r_[starts, len(t)])
    hi = np.maximum.reduceat(v, starts)
    lo = np.minimum.reduceat(v, starts)
    seg = np.repeat(np.arange(len(starts)), lengths)
    imax = _first_per_segment(np.flatnonzero(v == hi[seg]), seg, len(starts))
    imin = _first_per_segment(np.flatnonzero(v == lo[seg]), seg, len(starts))
    k = bucket[starts]
    out[2 * k] = np.where(imin <= imax, lo, hi)
    out[2 * k + 1] = np.where(imin <= imax, hi, lo)
    return out


def _first_per_segment(
    positions: npt.NDArray[np.int64], seg: npt.NDArray[np.int64], n: int
) -> npt.NDArray[np.int64]:
    out = np.full(n, -1, dtype=np.int64)
    segs, first = np.unique(seg[positions], return_index=True)
    out[segs] = positions[first]
    return out


def step_points(ts: npt.ArrayLike, values: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """A step series (a limit that rarely changes) reduced to the first and last point of each run.

    NaN (no limit) counts as a value of its own, so "no limit" stretches stay visible as gaps.
    """
    t = np.asarray(ts, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if len(t) <= 2:
        return t.copy(), v.copy()
    order = np.argsort(t, kind="stable")
    t, v = t[order], v[order]
    same = (v[1:] == v[:-1]) | (np.isnan(v[1:]) & np.isnan(v[:-1]))
    change = np.r_[True, ~same]  # first point of each run
    last = np.r_[~same, True]  # last point of each run
    keep = change | last
    return t[keep], v[keep]


def histogram(
    values: npt.ArrayLike, bins: int = 60, upto: float | None = None
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Counts of the finite values in ``bins`` equal bins: ``(left edges, widths, counts)``.

    Bins span the data, or ``[min(0, min), upto]`` when ``upto`` (e.g. the highest limit drawn on
    the same axis) is given, so bars keep one width across the whole axis. Precomputed here so the
    page carries 60 numbers per distribution instead of every sample.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if not len(v):
        empty = np.zeros(0)
        return empty, empty, empty
    lo, hi = float(v.min()), float(v.max())
    if upto is not None and np.isfinite(upto) and upto > hi:
        lo, hi = min(lo, 0.0), float(upto)
    if hi <= lo:
        hi = lo + max(abs(lo) * 0.01, 1e-9)
    counts, edges = np.histogram(v, bins=bins, range=(lo, hi))
    return edges[:-1], np.diff(edges), counts.astype(np.float64)
