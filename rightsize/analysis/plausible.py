"""Which sample timestamps are possible for container metrics, and the one warning about the rest.

A timestamp before 2000-01-01 UTC (1970 from a zero or a missing value) or more than a day after
this machine's clock (a bad clock, seconds read as milliseconds) cannot be a container's sample.
One such row made a one-day history decades long (the short-history margin gone) or became the
"latest" sample that ``--since`` counts back from. Every reader of samples (recommend's three paths,
the backtest, the report's charts) leaves them out and counts them in one warning line.
Far-but-possible strays (a sample weeks away from the rest) are kept: the report's ``span.py``
shows them.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rightsize.errors import RightsizeError
from rightsize.store import DatasetWarning

if TYPE_CHECKING:
    import pandas as pd

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
AHEAD = timedelta(days=1)  # clocks of other hosts may run a little ahead of this one
DAY_MS = 86_400_000
WHAT = "samples with impossible timestamps"


def _ms(t: datetime) -> int:
    t = t if t.tzinfo is not None else t.replace(tzinfo=UTC)
    return (t - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


@dataclass(frozen=True)
class Plausible:
    """The possible sample times, ms since the epoch, both ends included."""

    lo: int
    hi: int

    def ok(self, ts: np.ndarray) -> np.ndarray:
        return (ts >= self.lo) & (ts <= self.hi)

    def day_ok(self, day: int) -> bool:
        """Whether a UTC day (number since the epoch) holds any possible time."""
        return self.lo // DAY_MS <= day <= self.hi // DAY_MS

    def all_ok(self, lo: int, hi: int) -> bool:
        return lo >= self.lo and hi <= self.hi


def plausible(now: datetime | None = None, data: object = None) -> Plausible:
    """The bounds for a reader started at ``now`` (default: this machine's clock; naive is UTC).

    ``data`` (a samples DataFrame or dataset path): where every time in it lies in 1970..1999, its
    times count from a trace's start (``rightsize import`` keeps them so, and says they work), and
    all of them are possible, not strays."""
    valid = Plausible(_ms(EARLIEST), _ms((now or datetime.now(UTC)) + AHEAD))
    if data is not None and _relative(data, valid):
        return Plausible(0, valid.hi)
    return valid


def _relative(data: object, valid: Plausible) -> bool:
    """Whether every time in ``data`` lies from 1970 to before ``valid.lo`` (a missing one aside)."""
    import pandas as pd

    from rightsize.analysis.history import ts_ms

    if isinstance(data, pd.DataFrame):
        if "ts" not in data.columns:
            return False
        ts = ts_ms(data["ts"])
        ts = ts[ts != np.iinfo(np.int64).min]  # NaT
        return bool(len(ts)) and int(ts.min()) >= 0 and int(ts.max()) < valid.lo
    from rightsize import store
    from rightsize.analysis.parquetio import ts_bounds

    try:
        files = store.list_files(data, "samples")  # type: ignore[arg-type]
        if not files:
            return False
        since_1970 = Plausible(0, np.iinfo(np.int64).max)
        days = partition_days(files, since_1970)
        if days is not None:  # the store's date folders tell it without a footer read
            return (days[0] + days[1] - 1) * DAY_MS < valid.lo
        return ts_bounds(files, since_1970)[1] < valid.lo
    except RightsizeError:  # unreadable or empty: the reader says so in its own words
        return False


@dataclass(frozen=True)
class Ignored:
    """How many rows were left out, the earliest and latest of their times (ms), and whether
    any lies between those two."""

    count: int = 0
    first: int = 0
    last: int = 0
    more: bool = False

    def add(self, bad: np.ndarray) -> Ignored:
        """With the times ``bad`` (int64 ms) left out too."""
        if not len(bad):
            return self
        lo, hi = int(bad.min()), int(bad.max())
        return self.merged(Ignored(len(bad), lo, hi, bool(((bad > lo) & (bad < hi)).any())))

    def merged(self, other: Ignored) -> Ignored:
        if not other.count or not self.count:
            return other if not self.count else self
        lo, hi = min(self.first, other.first), max(self.last, other.last)
        inner = any(lo < t < hi for t in (self.first, self.last, other.first, other.last))
        return Ignored(self.count + other.count, lo, hi, self.more or other.more or inner)

    def examples(self) -> str:
        """``(1970-01-01 00:00:00, 2100-01-01 00:00:00)``; an ellipsis between where there are more."""
        if self.first == self.last:
            return f"({when(self.first)})"
        mid = ", …" if self.more else ""
        return f"({when(self.first)}{mid}, {when(self.last)})"

    def warn(self, stacklevel: int = 3) -> None:
        """The one warning line (nothing if no row was left out)."""
        if self.count:
            what = WHAT if self.count != 1 else "sample with an impossible timestamp"
            text = f"ignored {self.count} {what} {self.examples()}"
            warnings.warn(text, DatasetWarning, stacklevel=stacklevel)


def when(ms: int) -> str:
    """A time in ms as ``YYYY-MM-DD HH:MM:SS`` UTC (a value no calendar holds as its number)."""
    if ms == np.iinfo(np.int64).min:  # NaT in a DataFrame's ts column
        return "no time"
    try:
        return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)).strftime("%Y-%m-%d %H:%M:%S")
    except OverflowError:
        return f"{ms} ms since 1970"


def none_possible(ignored: Ignored) -> str:
    """The error when every sample was impossible."""
    which = f"all {ignored.count} lie" if ignored.count != 1 else "the one sample lies"
    return (
        f"no samples with a possible timestamp: {which} before {EARLIEST:%Y-%m-%d} or "
        f"more than a day after this machine's clock {ignored.examples()}"
    )


def keep_possible(frame: pd.DataFrame, valid: Plausible) -> pd.DataFrame:
    """``frame`` without its rows of impossible times (one warning says how many); an error if
    no row is left."""
    from rightsize.analysis.history import ts_ms

    ts = ts_ms(frame["ts"])
    ok = valid.ok(ts)
    if ok.all():
        return frame
    ignored = Ignored().add(ts[~ok])
    if not ok.any():
        raise RightsizeError(none_possible(ignored))
    ignored.warn(stacklevel=4)
    return frame[ok]


EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def partition_day(file: Path) -> int | None:
    """The UTC day number (since 1970) of a file in the store's ``date=YYYY-MM-DD`` folder, else None."""
    m = re.fullmatch(r"date=(\d{4})-(\d{2})-(\d{2})", file.parent.name)
    return None if m is None else date(*map(int, m.groups())).toordinal() - EPOCH_ORDINAL


def partition_days(files: list[Path], valid: Plausible | None = None) -> tuple[int, int] | None:
    """(first UTC day number, number of days) from ``date=YYYY-MM-DD`` folders, if every file has one;
    a folder of an impossible day (``valid``: the store put a 1970 row in date=1970-01-01) is left
    out: its rows are, and the tables would span decades."""
    valid = valid or plausible()
    days = []
    for f in files:
        day = partition_day(f)
        if day is None:
            return None
        if valid.day_ok(day):
            days.append(day)
    return (min(days), max(days) - min(days) + 1) if days else None
