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

LOCAL_CELLS = 8_000_000  # per-dictionary count tables (int32) kept before the oldest is moved in
PER_OCTAVE_BITS = 8  # 256 bins per octave: a bin spans 0.27 % of its values
SHIFT = 52 - PER_OCTAVE_BITS


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

    def bins(self, v: np.ndarray) -> np.ndarray:
        """v: float64 >= 0 (no NaN) -> int64 bin, monotone non-decreasing in v."""
        b = v.view(np.int64) >> SHIFT
        b -= ((1023 + self.lo) << PER_OCTAVE_BITS) - 2
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
    """Pass 1: per-(group, bin) counts (int32: up to 2^31 values per group and bin).

    ``add`` takes codes local to one chunk of data (e.g. a row group's dictionary indices) and the
    global group of each local code: counting into a small local table and adding it to the
    global rows keeps the random writes inside the CPU cache.
    """

    binning: Binning
    counts: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int32))
    # Files of one host share one dictionary of workloads: count into a local table per
    # dictionary (an in-place add) and move it into ``counts`` only at the end (or when too many).
    local: dict[bytes, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

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

    def add(self, local: np.ndarray, values: np.ndarray, groups: np.ndarray) -> None:
        """local: int64 in [0, len(groups)); groups: the global group of each local code, distinct,
        or -1 for codes that never occur in ``local`` (filtered out)."""
        nb = self.binning.n
        bins = self.binning.bins(values)
        if len(local) * 4 < len(groups) * nb:  # few values: scatter straight into the table
            if len(local):
                bins += groups[local] * nb
                np.add.at(self.counts.reshape(-1), bins, np.int32(1))  # int32: the fast path
            return
        bins += local * nb
        counted = np.bincount(bins, minlength=len(groups) * nb).reshape(len(groups), nb)
        key = groups.tobytes()
        if key not in self.local:
            while self.local and (len(self.local) + 1) * len(groups) * nb > LOCAL_CELLS:
                self._flush(next(iter(self.local)))
            self.local[key] = (groups.copy(), np.zeros((len(groups), nb), np.int32))
        acc = self.local[key][1]
        np.add(acc, counted, out=acc, casting="unsafe")

    def _flush(self, key: bytes) -> None:
        groups, acc = self.local.pop(key)
        real = groups >= 0  # a -1 would alias the last row: a duplicate index loses updates
        self.counts[groups[real]] += acc[real]

    def table(self) -> np.ndarray:
        for key in list(self.local):
            self._flush(key)
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
    groups, nb = table.shape
    n = table.sum(axis=1)
    rows = np.flatnonzero(n > 0)
    sub = np.cumsum(table[rows], axis=1)
    wanted = np.zeros(groups * nb, dtype=bool)
    ranks: dict[float, tuple[Rank, Rank, np.ndarray]] = {}
    for q in qs:
        pos = q * np.maximum(n - 1, 0)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, np.maximum(n - 1, 0))
        pair = []
        for r in (lo, hi):
            b = np.zeros(groups, np.int64)
            below = np.zeros(groups, np.int64)
            b[rows] = [np.searchsorted(sub[i], r[g], side="right") for i, g in enumerate(rows)]
            below[rows] = sub[np.arange(len(rows)), b[rows]] - table[rows, b[rows]]
            known = binning.single_value(b)
            need = rows[np.isnan(known[rows])]
            wanted[need * nb + b[need]] = True
            pair.append(Rank(r, b, below, known))
        ranks[q] = (pair[0], pair[1], pos - lo)
    return Targets(binning, n, ranks, wanted)


@dataclass
class Keeper:
    """Pass 2: keep (key, value) for the values in wanted bins."""

    targets: Targets
    keys: list[np.ndarray] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)

    def add(self, codes: np.ndarray, values: np.ndarray) -> None:
        if not len(codes):
            return
        key = self.targets.binning.bins(values)
        key += codes * self.targets.binning.n
        sel = self.targets.wanted[key]
        self.keys.append(key[sel])
        self.values.append(values[sel])

    def quantiles(self) -> dict[float, np.ndarray]:
        """q -> per-group exact quantile (NaN for groups without values)."""
        t = self.targets
        nb = t.binning.n
        keys = np.concatenate(self.keys) if self.keys else np.zeros(0, np.int64)
        vals = np.concatenate(self.values) if self.values else np.zeros(0)
        order = np.lexsort((vals, keys))
        keys, vals = keys[order], vals[order]
        rows = np.flatnonzero(t.n > 0)
        out: dict[float, np.ndarray] = {}
        for q, (lo, hi, w) in t.ranks.items():
            pair = []
            for r in (lo, hi):
                v = r.known[rows].copy()
                todo = np.isnan(v)
                g = rows[todo]
                start = np.searchsorted(keys, g * nb + r.bin[g], side="left")
                v[todo] = vals[start + (r.rank[g] - r.below[g])]
                pair.append(v)
            res = np.full(len(t.n), math.nan)
            res[rows] = lerp(pair[0], pair[1], w[rows])
            out[q] = res
        return out
