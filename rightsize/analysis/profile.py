"""A workload's usage profile: the few numbers the strategies read (percentiles, peaks, OOMs, limits).

Two builders produce the same Profile: ``profile_of(History)`` in memory (backtest, DataFrames), and
the streaming scan in ``scan.py`` for datasets larger than memory. Strategies only see a Profile,
so both paths give identical recommendations for identical data.

Percentiles interpolate linearly between the two nearest ranks (numpy's default, DuckDB's
``quantile_cont``), so benchmarks against DuckDB compare like with like.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from rightsize.analysis.exact import lerp
from rightsize.analysis.history import History
from rightsize.models import Observed, Values

OBSERVED_QS: tuple[float, ...] = (0.5, 0.9, 0.95, 0.99, 1.0)
DAY_MS = 86_400_000


@dataclass(frozen=True)
class Dist:
    """Sample count and the requested quantiles (q -> value; q=1.0 is the maximum) of one metric."""

    n: int = 0
    q: Mapping[float, float] = field(default_factory=dict)

    def at(self, p: float) -> float:
        if p not in self.q:
            raise KeyError(f"quantile {p} was not computed")
        return self.q[p]

    @property
    def max(self) -> float:
        return self.q.get(1.0, math.nan)

    def observed(self) -> Observed:
        if not self.n:
            return Observed()
        return Observed(*(self.q.get(p) for p in OBSERVED_QS))


def rank_positions(n: int, qs: Iterable[float]) -> dict[float, tuple[int, int, float]]:
    """q -> (lower rank, upper rank, weight of upper) for linear interpolation over n sorted values."""
    out = {}
    for q in qs:
        pos = q * (n - 1)
        lo = math.floor(pos)
        hi = min(lo + 1, n - 1)
        out[q] = (lo, hi, pos - lo)
    return out


def dist_of(values: np.ndarray, qs: Iterable[float]) -> Dist:
    """Exact quantiles of the non-NaN values (partial selection, no full sort)."""
    v = values[~np.isnan(values)]
    n = len(v)
    if not n:
        return Dist()
    pos = rank_positions(n, qs)
    ranks = sorted({r for lo, hi, _ in pos.values() for r in (lo, hi)})
    part = np.partition(v, ranks)
    return Dist(n, {q: float(lerp(part[lo], part[hi], np.float64(w))) for q, (lo, hi, w) in pos.items()})


@dataclass(frozen=True)
class Profile:
    workload: str
    samples: int
    history_seconds: float
    mem: Dist
    cpu: Dist
    pids: Dist
    daily_mem_peaks: Dist  # quantiles of the per-UTC-day maxima of the working set
    mem_peaks: Dist  # quantiles of the kernel-recorded peaks (mem_peak), where offered
    throttled_share: float | None  # mean fraction of CFS periods throttled (None: no CPU limit)
    current: dict[str, Values]
    oom_limits: tuple[float, ...] = ()
    restarts: int = 0

    @property
    def days(self) -> float:
        """History for the confidence terms: the span, but no more days than had a memory reading.

        Two readings a fortnight apart are not a fortnight of evidence; VPA likewise takes the
        smaller of its history's length and its sample count.
        """
        span = self.history_seconds / 86400.0
        seen = self.daily_mem_peaks.n
        return min(span, float(seen)) if seen else span

    @property
    def mem_peak_max(self) -> float | None:
        """The highest kernel-recorded peak (None where the kernel offered none)."""
        return self.mem_peaks.max if self.mem_peaks.n else None


def daily_peaks(ts: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Maximum of ``values`` per UTC day (ts in ms, sorted); days without values are left out."""
    ok = ~np.isnan(values)
    if not ok.any():
        return np.empty(0)
    day = ts[ok] // DAY_MS
    v = values[ok]
    starts = np.flatnonzero(np.diff(day, prepend=day[0] - 1))
    return np.maximum.reduceat(v, starts)


def profile_of(h: History, qs: Iterable[float] = OBSERVED_QS) -> Profile:
    qs = tuple(sorted(set(qs) | set(OBSERVED_QS)))
    thr = h.cpu_throttled[~np.isnan(h.cpu_throttled)]
    return Profile(
        workload=h.workload,
        samples=len(h.ts),
        history_seconds=h.history_seconds,
        mem=dist_of(h.mem, qs),
        cpu=dist_of(h.cpu, qs),
        pids=dist_of(h.pids, qs),
        daily_mem_peaks=dist_of(daily_peaks(h.ts, h.mem), qs),
        mem_peaks=dist_of(h.mem_peak, qs),
        throttled_share=float(thr.mean()) if len(thr) else None,
        current=h.current,
        oom_limits=h.oom_limits,
        restarts=h.restarts,
    )
