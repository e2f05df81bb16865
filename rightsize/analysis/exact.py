"""Exact per-group quantiles of a stream too large to hold, in two passes over the data.

Pass 1 counts values per (group, bin); bins are 256 per octave, taken from the float64 bit
pattern (exactly monotone: no logarithm rounding), plus one bin that holds only exact zeros. The
counts say in which bin each wanted rank falls. Pass 2 keeps only the values in those bins, and a
sort inside each kept bin gives the value at the exact rank. Bins known to hold a single value
(zeros; small integers of an integer metric) need no pass 2 at all. Memory: the count table
(groups x bins) plus the values of the kept bins. Results equal numpy's ``quantile`` (linear
interpolation) on the full data, bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rightsize.errors import RightsizeError

PER_OCTAVE_BITS = 8  # 256 bins per octave: a bin spans 0.27 % of its values
SHIFT = 52 - PER_OCTAVE_BITS
# The compiled loops (kernels.py, numba) are imported where used: the in-memory path (profile.py's
# lerp, the backtest) then starts without loading numba.


def lerp(a: Any, b: Any, t: Any) -> Any:
    """Linear interpolation exactly as numpy's ``quantile`` does it (so results match bit for bit)."""
    diff = b - a
    return np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)


@dataclass(frozen=True)
class Binning:
    """Bin 0: exactly 0; bin 1: (0, 2^lo); then 256 per octave up to 2^hi; the last: above."""

    lo: int
    hi: int
    integer: bool = False  # values are integers: a bin narrower than 1 holds a single value

    @property
    def n(self) -> int:
        return ((self.hi - self.lo) << PER_OCTAVE_BITS) + 3

    @property
    def first(self) -> int:
        """What to subtract from a value's top bits (exponent and 8 mantissa bits) to get its bin."""
        return ((1023 + self.lo) << PER_OCTAVE_BITS) - 2

    def bins(self, v: np.ndarray) -> np.ndarray:
        """v: float64 >= 0 (no NaN) -> int64 bin, monotone non-decreasing in v."""
        b = v.view(np.int64) >> SHIFT
        b -= self.first
        np.clip(b, 1, self.n - 1, out=b)
        b[v == 0] = 0
        return b

    def single_value(self, b: np.ndarray) -> np.ndarray:
        """The one value a bin can hold (NaN where it may hold several)."""
        out = np.full(len(b), np.nan)
        out[b == 0] = 0.0
        if self.integer:
            inner = (b >= 2) & (b < self.n - 1)
            k = b[inner] - 2 + ((1023 + self.lo) << PER_OCTAVE_BITS)
            lo = (k << SHIFT).view(np.float64)
            hi = ((k + 1) << SHIFT).view(np.float64)
            first = np.ceil(lo)
            out[np.flatnonzero(inner)[first + 1 >= hi]] = first[first + 1 >= hi]
        return out


@dataclass
class Counter:
    """Pass 1: per-(group, bin) counts (int32: up to 2^31 values per group and bin)."""

    binning: Binning
    counts: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int32))

    def __post_init__(self) -> None:
        self.counts = np.zeros((0, self.binning.n), np.int32)

    @property
    def groups(self) -> int:
        return len(self.counts)

    def grow(self, groups: int) -> None:
        if groups > len(self.counts):
            bigger = np.zeros((groups, self.binning.n), np.int32)
            bigger[: len(self.counts)] = self.counts
            self.counts = bigger

    def add(self, local: np.ndarray, values: np.ndarray, groups: np.ndarray) -> int:
        """Count values (float64, NaN skipped) of local codes (e.g. a row group's dictionary
        indices); groups: the global group of each local code, -1 to skip its rows. Returns how
        many values were negative (skipped)."""
        from rightsize.analysis import kernels

        values = kernels.readonly(values)
        first = self.binning.first
        return int(kernels.count_bins(local, groups, values, kernels.NO_NULLS, 0, self.counts, first))

    def table(self) -> np.ndarray:
        return self.counts


@dataclass(frozen=True)
class Rank:
    """One wanted rank per group: its bin, how many values lie in lower bins, a known value."""

    rank: np.ndarray
    bin: np.ndarray
    below: np.ndarray
    known: np.ndarray  # the value if the bin holds a single value, else NaN


@dataclass(frozen=True)
class Targets:
    binning: Binning
    n: np.ndarray  # values per group
    ranks: dict[float, tuple[Rank, Rank, np.ndarray]]  # q -> (lower, upper, weight of upper)
    wanted: np.ndarray  # bool (groups * bins): keep the values of these bins in pass 2

    @property
    def needs_pass2(self) -> bool:
        return bool(self.wanted.any())


def plan(table: np.ndarray, qs: tuple[float, ...], binning: Binning) -> Targets:
    """Which bins pass 2 must keep so that every quantile in ``qs`` can be read exactly."""
    from rightsize.analysis import kernels

    groups, nb = table.shape
    n = table.sum(axis=1)
    rows = np.flatnonzero(n > 0)
    pos = {q: q * np.maximum(n - 1, 0) for q in qs}
    lows = {q: np.floor(p).astype(np.int64) for q, p in pos.items()}
    # per group and quantile: the lower and the upper rank, their bins and the counts below
    wanted_ranks = np.zeros((groups, 2 * len(qs)), np.int64)
    for i, q in enumerate(qs):
        wanted_ranks[:, 2 * i] = lows[q]
        wanted_ranks[:, 2 * i + 1] = np.minimum(lows[q] + 1, np.maximum(n - 1, 0))
    bins, below = np.zeros_like(wanted_ranks), np.zeros_like(wanted_ranks)
    kernels.rank_bins(table, wanted_ranks, bins, below)
    wanted = np.zeros(groups * nb, dtype=bool)
    ranks: dict[float, tuple[Rank, Rank, np.ndarray]] = {}
    for i, q in enumerate(qs):
        pair = []
        for j in (2 * i, 2 * i + 1):
            b = bins[:, j]
            known = binning.single_value(b)
            need = rows[np.isnan(known[rows])]
            wanted[need * nb + b[need]] = True
            pair.append(Rank(wanted_ranks[:, j].copy(), b.copy(), below[:, j].copy(), known))
        ranks[q] = (pair[0], pair[1], pos[q] - lows[q])
    return Targets(binning, n, ranks, wanted)


@dataclass
class Keeper:
    """Pass 2: keep (key, value) for the values in wanted bins."""

    targets: Targets
    keys: list[np.ndarray] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)
    # room for a row group's rows, reused: fresh buffers each time cost page faults (the kernel
    # zeroes every page on first touch, 2 MB at a time with transparent huge pages)
    _room: tuple[np.ndarray, np.ndarray] = field(
        default_factory=lambda: (np.zeros(0, np.int64), np.zeros(0)), repr=False
    )

    def add(
        self, local: np.ndarray, values: np.ndarray, groups: np.ndarray | None = None,
        ok: np.ndarray | None = None, off: int = 0,
    ) -> None:  # fmt: skip
        """Keep the values (NaN, negatives and nulls per the ``ok`` bitmap skipped) that fall in
        wanted bins; local codes map to groups through ``groups`` (-1: skip), or are the groups."""
        from rightsize.analysis import kernels

        if not len(local):
            return
        b = self.targets.binning
        ok = kernels.NO_NULLS if ok is None else ok
        if groups is None:
            groups = np.arange(len(self.targets.wanted) // b.n)
        if len(self._room[0]) < len(local):
            self._room = (np.empty(len(local), np.int64), np.empty(len(local)))
        keys, kept = self._room
        values = kernels.readonly(values)
        k = kernels.keep_wanted(local, groups, values, ok, off, self.targets.wanted, b.first, b.n, keys, kept)
        self.keys.append(keys[:k].copy())
        self.values.append(kept[:k].copy())

    def quantiles(self) -> dict[float, np.ndarray]:
        """q -> per-group exact quantile (NaN for groups without values)."""
        from rightsize.analysis import kernels

        t = self.targets
        nb = t.binning.n
        keys, vals = (
            (np.concatenate(chunks) if len(chunks) > 1 else chunks[0] if chunks else np.zeros(0, dtype))
            for chunks, dtype in ((self.keys, np.int64), (self.values, np.float64))
        )
        self.keys, self.values = [], []
        ids = np.cumsum(t.wanted, dtype=np.int32) - 1  # wanted bin -> its number among them
        n_ids = int(ids[-1]) + 1 if len(ids) else 0
        rows = np.flatnonzero(t.n > 0)
        asks = []  # per (q, lower/upper): the groups whose value lies in a kept bin
        for lo, hi, _ in t.ranks.values():
            for r in (lo, hi):
                g = rows[np.isnan(r.known[rows])]
                asks.append((g, ids[g * nb + r.bin[g]], r.rank[g] - r.below[g]))
        found = kernels.nth_in_bins(
            ids[keys], vals, n_ids, np.concatenate([a[1] for a in asks] or [np.zeros(0, np.int32)]),
            np.concatenate([a[2] for a in asks] or [np.zeros(0, np.int64)]),
        )  # fmt: skip
        if np.isnan(found).any():  # pass 2 found fewer values than pass 1 counted
            raise RightsizeError("the dataset changed during the scan; run again")
        out: dict[float, np.ndarray] = {}
        at = 0
        for i, (q, (lo, hi, w)) in enumerate(t.ranks.items()):
            pair = []
            for j, r in enumerate((lo, hi)):
                v = r.known[rows].copy()
                g = asks[2 * i + j][0]
                v[np.isnan(v)] = found[at : at + len(g)]
                at += len(g)
                pair.append(v)
            res = np.full(len(t.n), math.nan)
            res[rows] = lerp(pair[0], pair[1], w[rows])
            out[q] = res
        return out
