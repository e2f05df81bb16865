"""The time column of an imported trace: timestamps, dates, ISO text or epoch numbers -> UTC ms.

Naive times (a timestamp column without a zone, ISO text without an offset, dates) are wall-clock
times in the zone ``--tz`` names (UTC without it). A wall time the zone skips (spring forward) is
refused; one it repeats (fall back) is taken as the first occurrence unless the rows of its series
(one container) go back in time there, which is what a local-time logger writes in the repeated hour.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from rightsize.errors import RightsizeError

TS = pa.timestamp("ms", tz="UTC")
_MIN_MS, _MAX_MS = -62_135_596_800_000, 253_402_300_800_000  # years 1..9999 (date partitions)
_Y2000_MS = 946_684_800_000  # epoch times all before it: relative times, or not the time column
TIME_FORMS = "expected ISO 8601 text (2026-01-31T12:00:00Z), epoch numbers or a timestamp column"
_UNITS = {1000.0: "seconds", 1.0: "ms", 1e-3: "µs", 1e-6: "ns"}
_NAT = np.iinfo(np.int64).min
# ISO text that carries its own zone: a time of day, then Z or an offset (as pandas' ISO8601 reads
# them: +01, +0100, +01:00). A date alone ("2026-01-05") ends in "-05" but is naive.
_AWARE = r"[Tt ]\d{2}(:?\d{2}(:?\d{2}([.,]\d+)?)?)?\s*(Z|[+-]\d{2}(:?\d{2})?)\s*$"
# a plain decimal number (epoch time as text); "2026" and "20260101" also read as ISO dates, and
# stay dates where every value of the batch does
_NUMBER = r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$"
_OFFSET = re.compile(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)
_ZONE_FORMS = "expected an IANA zone such as Europe/Berlin or America/New_York, UTC, or an offset (+02:00)"


def parse_zone(text: str | None) -> tzinfo | None:
    """``--tz``: None (not given: UTC, with a warning if naive times occur), UTC, a fixed offset
    (``+02:00``, ``-0530``, ``UTC+2``) or an IANA zone; RightsizeError for anything else."""
    if text is None:
        return None
    name = text.strip()
    if not name:
        raise RightsizeError(f"--tz is empty: {_ZONE_FORMS}")
    if name.upper() in ("UTC", "Z", "GMT", "ETC/UTC"):
        return UTC
    m = _OFFSET.match(name)
    if m:
        hours, minutes = int(m.group(2)), int(m.group(3) or 0)
        if hours > 14 or minutes >= 60 or (hours == 14 and minutes):
            raise RightsizeError(f"--tz {name}: offsets run from -14:00 to +14:00")
        delta = timedelta(hours=hours, minutes=minutes)
        return UTC if not delta else timezone(-delta if m.group(1) == "-" else delta)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # ValueError: "../x", absolute paths
        raise RightsizeError(f"--tz {name!r}: unknown time zone; {_ZONE_FORMS}") from None


class Clock:
    """How one import reads its times: the zone of naive times and what earlier batches showed."""

    def __init__(self, tz: str | None) -> None:
        self.zone = parse_zone(tz)
        self.explicit = tz is not None
        self.naive = False  # a naive time was read (without --tz: as UTC, which the import says)
        self.scales: list[float] = []  # the epoch unit of the file's first batch holds for all
        self.last: dict[object, int] = {}  # per series: UTC ms of its last row in a batch at a fold
        self.epoch_top: float | None = None  # the latest epoch time read, in ms
        # where the first epoch number and the first date text were (row, value): a column that
        # holds both is named with one of each
        self.first_number: tuple[str, str] | None = None
        self.first_text: tuple[str, str] | None = None

    def notice(self, file: str, source: str, latest_ms: int | None = None) -> str | None:
        """The warning after an import: naive times read as UTC unasked, or a --tz that shifted nothing.
        ``latest_ms``: the latest time imported, when every one lies before 2000."""
        if self.epoch_top is not None and latest_ms is not None and latest_ms < _Y2000_MS:
            # a mapped CPU or memory column reads as 1970 dates without a word otherwise
            latest = datetime.fromtimestamp(latest_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
            return (
                f"{file}: every time in column {source!r} falls before the year 2000 (the latest reads "
                f"{latest} UTC): times since the trace began work as they are, but if {source!r} is not "
                "the time column, map the right one with --map ts=COLUMN"
            )
        if self.naive and not self.explicit:
            return (
                f"{file}: times without a zone (column {source!r}) were read as UTC; "
                "if they are local times, give their zone with --tz (e.g. --tz Europe/Berlin)"
            )
        if self.explicit and not self.naive and self.zone is not UTC:
            return (
                f"--tz {self.name} changed nothing: every time in column {source!r} is an epoch number "
                "(UTC by definition) or carries its own zone"
            )
        return None

    def saw(self, source: str, number: tuple[str, str] | None, text: tuple[str, str] | None) -> None:
        """Note the first epoch number / date text of a batch; an error if the column now holds both."""
        self.first_number = self.first_number or number
        self.first_text = self.first_text or text
        if self.first_number and self.first_text:
            raise mixed(source, self.first_number, self.first_text)

    @property
    def name(self) -> str:
        zone = self.zone
        if zone is None or zone is UTC:
            return "UTC"
        return zone.key if isinstance(zone, ZoneInfo) else str(zone)


def mixed(source: str, number: tuple[str, str], text: tuple[str, str]) -> RightsizeError:
    """The error for a time column that holds epoch numbers and date text, with a row of each."""
    return RightsizeError(
        f"--map ts={source}: column {source!r} mixes epoch numbers ({number[0]}: {number[1]}) and "
        f"date text ({text[0]}: {text[1]!r}); write every time the same way, all epoch numbers or all "
        "ISO 8601 text"
    )


def unit_scale(top: float) -> float:
    """ms per unit of epoch numbers whose largest magnitude is ``top``: seconds reach 1e11 only in
    the year 5138; the same rule for ms/µs/ns."""
    return 1000.0 if top < 1e11 else 1.0 if top < 1e14 else 1e-3 if top < 1e17 else 1e-6


def timestamps(
    col: pa.Array,
    source: str,
    clock: Clock,
    keys: pa.Array | pa.ChunkedArray | None = None,
    where: Callable[[int], str] = lambda i: f"row {i + 1}",
    factor: float = 1.0,
) -> pa.Array:
    """``col`` as UTC ms. ``keys`` names each row's series (container) for the DST fold; ``where``
    says where row ``i`` of this batch is in the file (for error lines); ``factor`` (``--map
    ts=t/10``) scales epoch numbers before their unit is told."""
    numeric = pa.types.is_integer(col.type) or pa.types.is_floating(col.type)
    text = pa.types.is_string(col.type) or pa.types.is_large_string(col.type)
    if factor != 1.0 and not numeric and not text:  # text: scaled where it holds epoch numbers
        raise RightsizeError(f"--map ts={source}: only numeric columns can be scaled (it holds {col.type})")
    if pa.types.is_date(col.type):  # a daily trace: midnight, as the same ISO text would be
        col = col.cast(pa.timestamp("ms"))
    if pa.types.is_timestamp(col.type):
        if col.type.tz is not None:
            return col.cast(pa.timestamp(col.type.unit, tz="UTC")).cast(TS, safe=False)
        wall = col.cast(pa.timestamp("ms"), safe=False)
        valid = np.asarray(wall.is_valid(), dtype=bool)
        if valid.any():
            clock.naive = True
        ms = wall.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False).copy()
        _localize(ms, valid, clock, source, keys, where)
        return pa.array(ms, mask=~valid).cast(TS)
    if text:
        return _from_text(col, source, clock, keys, where, factor)
    if numeric:
        return _from_epoch(col, source, clock, where, factor)
    raise RightsizeError(f"--map ts={source}: column {source!r} holds {col.type} values; {TIME_FORMS}")


def _from_text(
    col: pa.Array,
    source: str,
    clock: Clock,
    keys: pa.Array | pa.ChunkedArray | None,
    where: Callable[[int], str],
    factor: float = 1.0,
) -> pa.Array:
    text = pd.Series(col.to_pandas())
    # a blank cell (or N/A, NULL: what arrow reads as null in a number column) is a missing time:
    # the row is dropped
    text = text.where(~text.str.strip().isin(["", *pacsv.ConvertOptions().null_values]))
    parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    unparsed = (parsed.isna() & text.notna()).to_numpy()
    # the regex only where needed (it costs as much as the parse): after epoch numbers, "1200" is
    # one more of them, not the ISO year 1200
    if unparsed.any() or clock.first_number:
        number = text.str.match(_NUMBER, na=False).to_numpy()
        if (number | text.isna().to_numpy()).all():  # epoch numbers as text (a Parquet string column)
            return _from_epoch(pa.array(pd.to_numeric(text), pa.float64()), source, clock, where, factor)
    if unparsed.any():
        i = int(np.flatnonzero(unparsed)[0])
        dates = np.flatnonzero(~number & ~unparsed & text.notna().to_numpy())
        if number[i] and dates.size:  # epoch numbers beside date text (each alone reads fine)
            j = int(dates[0])
            raise mixed(source, (where(i), str(text.iloc[i]).strip()), (where(j), str(text.iloc[j])))
        # name the first value, not pandas' advice about formats
        raise RightsizeError(f"{where(i)}: --map ts={source}: {text.iloc[i]!r} is not a time; {TIME_FORMS}")
    if factor != 1.0:
        raise RightsizeError(f"--map ts={source}: only numeric columns can be scaled (it holds date text)")
    valid_rows = np.flatnonzero(text.notna().to_numpy())
    if valid_rows.size:
        first = int(valid_rows[0])
        clock.saw(source, None, (where(first), str(text.iloc[first])))
    # in pandas' own unit (µs for years past 2262, where ns overflows); naive text was read as UTC
    utc = pa.array(parsed).cast(TS, safe=False)
    valid = np.asarray(utc.is_valid(), dtype=bool)
    aware = pc.fill_null(pc.match_substring_regex(col, _AWARE), False)
    naive = valid & ~np.asarray(aware, dtype=bool)
    if not naive.any():
        return utc
    clock.naive = True
    if clock.zone is None or clock.zone is UTC:  # read as UTC already
        return utc
    ms = utc.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False).copy()
    _localize(ms, naive, clock, source, keys, where, valid)
    return pa.array(ms, mask=~valid).cast(TS)


def _localize(
    ms: np.ndarray,
    naive: np.ndarray,
    clock: Clock,
    source: str,
    keys: pa.Array | pa.ChunkedArray | None,
    where: Callable[[int], str],
    valid: np.ndarray | None = None,
) -> None:
    """Turn the wall times ``ms[naive]`` into UTC in place (``valid``: rows that hold a time)."""
    zone = clock.zone
    if zone is None or zone is UTC:
        return
    if not isinstance(zone, ZoneInfo):  # a fixed offset: no gaps, no folds
        offset = zone.utcoffset(None)
        assert offset is not None
        ms[naive] -= int(offset.total_seconds() * 1000)
        return
    wall = pd.DatetimeIndex(ms[naive].astype("datetime64[ms]"))
    try:  # the common case: no time of the batch falls in a gap or a fold
        ms[naive] = wall.tz_localize(zone).asi8
        return
    except ValueError:
        pass
    first = wall.tz_localize(zone, ambiguous=np.ones(len(wall), bool), nonexistent="NaT").asi8
    second = wall.tz_localize(zone, ambiguous=np.zeros(len(wall), bool), nonexistent="NaT").asi8
    rows = np.flatnonzero(naive)
    gap = first == _NAT
    if gap.any():
        i = int(rows[np.argmax(gap)])
        raise RightsizeError(
            f"{where(i)}: --map ts={source}: {_wall(ms[i])} is not a time in {clock.name} "
            f"({_change(zone, ms[i])}, skipping it): are the times in another zone, "
            f"or in standard time all year (then --tz {_offset(zone, ms[i] - 86_400_000)})?"
        )
    early, late = np.minimum(first, second), np.maximum(first, second)
    ms[naive] = early
    fold = early != late
    if fold.any():
        held = valid if valid is not None else naive
        _resolve(ms, rows[fold], late[fold], held, clock, source, keys, where)


def _resolve(
    ms: np.ndarray,
    rows: np.ndarray,
    late: np.ndarray,
    valid: np.ndarray,
    clock: Clock,
    source: str,
    keys: pa.Array | pa.ChunkedArray | None,
    where: Callable[[int], str],
) -> None:
    """Wall times the zone repeats (``ms[rows]`` holds the first occurrence, ``late`` the second):
    the second when the series' previous row (in file order) is not before the first already."""
    n = len(ms)
    codes = pd.factorize(np.asarray(keys.to_pandas(), dtype=object))[0] if keys is not None else np.zeros(n)
    uniques = {int(codes[i]): keys[int(i)].as_py() for i in rows} if keys is not None else {}
    codes = np.where(valid, codes, -1).astype(np.int64)
    order = np.argsort(codes, kind="stable")
    prev = np.full(n, -1, dtype=np.int64)
    same = (codes[order[1:]] == codes[order[:-1]]) & (codes[order[1:]] >= 0)
    prev[order[1:][same]] = order[:-1][same]
    for i, second in zip(rows.tolist(), late.tolist(), strict=True):  # a fold's rows: few
        code = int(codes[i])
        before = int(ms[prev[i]]) if prev[i] >= 0 else clock.last.get(uniques.get(code), None)
        if before is None or ms[i] > before:
            continue  # the first occurrence (also when the series starts in the repeated hour)
        if second >= before:
            ms[i] = second
            continue
        series = f" of {uniques[code]!r}" if code in uniques else ""
        wall = _wall_ms(clock, second)
        raise RightsizeError(
            f"{where(i)}: --map ts={source}: {_wall(wall)} happens twice in {clock.name} "
            f"({_change(clock.zone, wall)}), and the rows{series} before it are later than both: "
            "sort the file by time, or write the times with their UTC offset"
        )
    # the last row of each series seen at a fold, for a fold that goes on in the next batch
    last = np.full(int(codes.max()) + 1 if n else 0, -1, dtype=np.int64)
    pos = codes[order] >= 0
    last[codes[order][pos]] = order[pos]  # later rows of a code overwrite earlier ones
    for code in {int(codes[i]) for i in rows}:
        if code >= 0 and code in uniques:
            clock.last[uniques[code]] = int(ms[last[code]])


def _wall_ms(clock: Clock, utc_ms: int) -> int:
    zone = clock.zone
    assert zone is not None
    offset = datetime.fromtimestamp(utc_ms / 1000, UTC).astimezone(zone).utcoffset()
    return utc_ms + int(offset.total_seconds() * 1000) if offset else utc_ms


def _wall(ms: int) -> str:
    return str(pd.Timestamp(int(ms), unit="ms"))


def _offset(zone: tzinfo, wall_ms: int) -> str:
    offset = zone.utcoffset(datetime(1970, 1, 1) + timedelta(milliseconds=int(wall_ms)))
    minutes = int(offset.total_seconds() // 60) if offset else 0
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _change(zone: tzinfo | None, ms: int) -> str:
    """'its clocks change from UTC+01:00 to UTC+02:00 on 2026-03-29' around ``ms`` (either kind)."""
    assert zone is not None
    day = (datetime(1970, 1, 1) + timedelta(milliseconds=int(ms))).strftime("%Y-%m-%d")
    before, after = _offset(zone, ms - 86_400_000), _offset(zone, ms + 86_400_000)
    return f"its clocks change from UTC{before} to UTC{after} on {day}"


def _from_epoch(
    col: pa.Array, source: str, clock: Clock, where: Callable[[int], str], factor: float = 1.0
) -> pa.Array:
    """Epoch numbers, UTC by definition (``--tz`` does not apply); the unit from the magnitude of
    the file's first batch (``clock.scales``)."""
    scales = clock.scales
    values = col.to_numpy(zero_copy_only=False).astype("float64")
    present = np.flatnonzero(np.isfinite(values))
    if present.size:
        raw = float(values[present[0]])
        clock.saw(source, (where(int(present[0])), f"{raw:.0f}" if raw.is_integer() else repr(raw)), None)
    values = values * factor
    finite = values[np.isfinite(values)]
    top = float(np.abs(finite).max()) if finite.size else 0.0
    scale = unit_scale(top)
    if finite.size and scales and scale != scales[0]:  # relative times (µs since the trace began)
        raise RightsizeError(
            f"--map ts={source}: epoch numbers change magnitude within the file (read as "
            f"{_UNITS[scales[0]]} at first, as {_UNITS[scale]} later, up to {top:.0f}): times since "
            "the trace began, not since 1970? convert them to epoch or ISO times first"
        )
    if finite.size and not scales:
        scales.append(scale)
    ms = np.round(values * scale)
    bad = ~np.isfinite(ms)
    odd = ~bad & ((ms < _MIN_MS) | (ms >= _MAX_MS))  # no calendar (nor date partition) holds it
    if odd.any():
        raise RightsizeError(
            f"--map ts={source}: {values[odd][0]:g} is out of range for a time (epoch {_UNITS[scale]} by "
            "magnitude, between the years 1 and 9999); "
            f"{TIME_FORMS}"
        )
    if not bad.all():
        top_ms = float(ms[~bad].max())
        clock.epoch_top = top_ms if clock.epoch_top is None else max(clock.epoch_top, top_ms)
    return pa.array(np.where(bad, 0, ms).astype("int64"), mask=bad).cast(TS)
