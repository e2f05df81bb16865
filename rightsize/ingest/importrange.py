"""Imported times that no reader would use: refused, or skipped with one warning.

Every reader of samples leaves out times before 2000 or more than a day after this machine's clock
(``rightsize.analysis.plausible``), unless every time lies in 1970..1999 (times since a trace's
start). An epoch in seconds written 10 times too large reads as the year 2508: it imported
silently, and recommend then ignored every row. So the import applies the same rule as it reads:

- a time before 1970 or more than a day ahead is never used: the row is skipped;
- a time in 1970..1999 is kept while no later time shows up (relative times), and skipped once one
  does (its files, one per UTC day, are removed again at the end);
- if that skips every row, or most of them (a unit mistake rather than a few strays), the import
  is an error naming the column, a value as a date and, for epoch numbers, the factor that reads
  it as a possible time; otherwise one warning counts the skipped rows.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from rightsize.analysis.plausible import (
    DAY_MS,
    EARLIEST,
    Ignored,
    Plausible,
    partition_day,
    plausible,
    when,
)
from rightsize.errors import RightsizeError
from rightsize.ingest.importtime import unit_scale

# factors to suggest for a unit mistake, smallest change first
_FACTORS = (0.1, 10.0, 0.01, 100.0, 0.001, 1000.0, 1e-6, 1e6, 1e-9, 1e9)


@dataclass
class Span:
    """What one import saw of its times (mutable on purpose: owned by one import, batch by batch)."""

    valid: Plausible = field(default_factory=plausible)
    never: Ignored = field(default_factory=Ignored)  # before 1970 or ahead: skipped at once
    early: Ignored = field(default_factory=Ignored)  # 1970..1999: kept unless later times show up
    good: int = 0
    latest: int | None = None  # the latest time kept, in ms
    # the first row of each kind: where it is, its time (ms)
    first_never: tuple[str, int] | None = None
    first_early: tuple[str, int] | None = None

    def keep(self, ts: pa.Array, keep: np.ndarray, at: Callable[[int], str]) -> np.ndarray:
        """``keep`` (rows with a time and a workload) without the rows no reader would use."""
        ms = ts.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
        never = keep & ((ms < 0) | (ms > self.valid.hi))
        early = keep & ~never & (ms < self.valid.lo)
        kept = keep & ~never
        self.never = self.never.add(ms[never])
        self.early = self.early.add(ms[early])
        self.good += int(kept.sum() - early.sum())
        if kept.any():
            top = int(ms[kept].max())
            self.latest = top if self.latest is None else max(self.latest, top)
        if self.first_never is None and never.any():
            i = int(np.flatnonzero(never)[0])
            self.first_never = (at(i), int(ms[i]))
        if self.first_early is None and early.any():
            i = int(np.flatnonzero(early)[0])
            self.first_early = (at(i), int(ms[i]))
        return kept

    def finish(self, source: str, scale: float | None, factor: float) -> str | None:
        """After the last batch: an error if most rows would be skipped; else the warning (if any).
        ``scale``: ms per unit of epoch numbers (None: the times were no epoch numbers)."""
        skipped = self.never.merged(self.early) if self.good else self.never
        if not skipped.count:
            return None
        kept = self.good if self.good else self.early.count
        example = self.first_never or self.first_early
        assert example is not None  # a row was skipped
        if skipped.count >= kept:
            which = f"all {skipped.count:,}" if not kept else f"{skipped.count:,} of {skipped.count + kept:,}"
            at, ms = example
            why = (
                "more than a day after this machine's clock" if ms > self.valid.hi
                else "before 1970" if ms < 0 else f"before {EARLIEST:%Y-%m-%d}"
            )  # fmt: skip
            fix = _fix(ms, source, scale, factor)
            if self.first_never is None:  # 1970..1999 beside later times
                fix = "; times before 2000 are read only where every time is (times since a trace's start)"
            raise RightsizeError(
                f"{at}: --map ts={source} reads {when(ms)} UTC, {why}; {which} times in column "
                f"{source!r} lie before {EARLIEST:%Y-%m-%d} or more than a day ahead, where no reader "
                f"uses them{fix}"
            )
        rows = f"{skipped.count:,} row{'' if skipped.count == 1 else 's'}"
        return (
            f"skipped {rows} whose time in column {source!r} lies before {EARLIEST:%Y-%m-%d} or more "
            f"than a day after this machine's clock, where no reader uses it {skipped.examples()}"
        )

    def skipped(self) -> int:
        """How many rows ``finish`` counted as skipped."""
        return self.never.count + (self.early.count if self.good else 0)

    def early_files(self) -> bool:
        """Whether the 1970..1999 rows already written must go again (later times showed up)."""
        return bool(self.early.count and self.good)

    def kept_latest(self) -> int | None:
        """The latest time imported when every one lies before 2000 (for the relative-times notice)."""
        return self.latest if not self.good else None


def _fix(ms: int, source: str, scale: float | None, factor: float) -> str:
    """'; in another unit? --map ts=t/10 reads it as 2023-11-14 22:13:20' for epoch numbers."""
    if scale is None:
        return "; is the clock that wrote them wrong?" if ms > 0 else ""
    if ms == 0:
        return "; a missing time written as 0?"
    value = ms / scale  # the number as read (after the --map factor)
    valid = plausible()
    for f in _FACTORS:
        scaled = value * f
        got = scaled * unit_scale(abs(scaled))
        if valid.lo <= got <= valid.hi:
            total = factor * f
            mapped = f"{source}/{1 / total:g}" if total < 1 else f"{source}*{total:g}"
            return f"; in another unit? --map ts={mapped} reads it as {when(int(got))} UTC"
    return ""


def remove_early(files: list[Path], valid: Plausible) -> None:
    """Remove the written files of days before ``valid.lo`` (the store names a day's folder
    ``date=YYYY-MM-DD``), and forget them in ``files``."""
    first_day = valid.lo // DAY_MS
    for f in list(files):
        day = partition_day(f)
        if day is not None and day < first_day:
            f.unlink(missing_ok=True)
            files.remove(f)
            with contextlib.suppress(OSError):  # other files of that day were there before
                f.parent.rmdir()
