"""``recommend()``: dataset (or DataFrame, or the bundled sample) -> one Recommendation per workload/resource.

A dataset folder is scanned file by file (``scan.py``: bounded memory, exact percentiles); a
DataFrame goes through the in-memory ``histories`` path. Both yield Profiles, so a strategy gives
the same answer either way. A small dataset folder (fewer than ``SMALL_ROWS`` rows by the Parquet
footers) is read whole into that in-memory path too: the scan's compiled loops (numba) cost ~1 s
to load and seconds to compile on a machine's first run, more than such data takes in numpy.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from rightsize import store
from rightsize.analysis.current import read_compose, with_current
from rightsize.analysis.history import histories, ts_ms
from rightsize.analysis.plausible import Plausible, keep_possible, plausible
from rightsize.analysis.profile import Profile, profile_of
from rightsize.analysis.strategies import get_strategy
from rightsize.analysis.unnamed import unnamed_rows, warn_unnamed
from rightsize.errors import RightsizeError
from rightsize.globs import joined, matches, warn_unmatched
from rightsize.models import RESOURCES, Recommendation
from rightsize.units import parse_duration

if TYPE_CHECKING:
    import pyarrow.dataset as ds

_ORDER = {r: i for i, r in enumerate(RESOURCES)}
# Below this many rows a dataset folder is read whole (in-memory path, no numba); measured in
# BENCHMARKS.md "cold start". RIGHTSIZE_SMALL_ROWS overrides it (0: always the streaming scan).
SMALL_ROWS = 300_000
SMALL_BYTES_PER_ROW = 64  # a bound before any footer is read: the bundled sample takes ~15
_COLUMNS = ["ts", "workload", "container_id", "mem_working_set", "mem_peak", "cpu_cores", "cpu_throttled",
            "pids", "mem_reservation", "mem_limit", "cpu_reservation", "cpu_limit", "pids_limit",
            "oom_kills", "restarts"]  # fmt: skip


class SampleDataWarning(UserWarning):
    """No dataset given: ./rightsize-data or the bundled synthetic sample is used."""


def sample_path() -> Path:
    """The bundled synthetic 24 h dataset (shipped inside the package)."""
    return Path(__file__).resolve().parents[1] / "sample"


Since = str | float | timedelta | datetime | None  # text as --since takes it; from Python also a span/instant


COLLECTED = Path("rightsize-data")  # collect's default --out


def default_data() -> Path:
    """What ``--data`` left out reads: ./rightsize-data when it is here (``rightsize collect``, then
    ``rightsize recommend``: the user's own data, not a demo), else the bundled sample."""
    return COLLECTED if (COLLECTED / "samples").is_dir() else sample_path()


def sample_warning() -> str:
    """What ``--data`` left out means: which dataset ``default_data()`` reads."""
    if default_data() == COLLECTED:
        return "no --data given: reading ./rightsize-data (collect's default --out)"
    return f"no --data given: using the bundled SYNTHETIC sample at {sample_path()}"


def since_start(since: Since, latest_ms: int | None) -> int | None:
    """``7d`` -> ms of (latest sample - 7 days); an ISO date/time -> that instant; None -> None.
    From Python also a ``timedelta``/``pd.Timedelta`` (a span) or ``datetime``/``pd.Timestamp``."""
    if since is None or latest_ms is None:
        return None
    if isinstance(since, timedelta) and not pd.isna(since):  # the notebook's own types
        if since < timedelta(0):
            raise RightsizeError(f"since={since!r}: a negative span")
        return latest_ms - int(since.total_seconds() * 1000)
    if isinstance(since, datetime) and not pd.isna(since):
        t = pd.Timestamp(since)
        t = t.tz_localize("UTC") if t.tzinfo is None else t
        return int(t.as_unit("ms").asm8.view("i8"))
    if isinstance(since, int | float) and not isinstance(since, bool):
        return latest_ms - int(parse_duration(since) * 1000)  # seconds, as every duration
    since = str(since)
    if re.fullmatch(r"\s*\d+(\.\d*)?\s*", since):  # seconds? a year? 20260131?
        raise RightsizeError(
            f"--since {since!r}: a number without a unit; write a duration with its unit (7d, 24h, "
            f"{since.strip()}s) or a date with dashes (2026-01-31)"
        )
    try:
        return latest_ms - int(parse_duration(since) * 1000)
    except RightsizeError:
        pass
    # 03/04/2026 reads as 4 March (month first), where most of the world means 3 April
    dm = re.match(r"\s*(\d{1,2})[./-](\d{1,2})[./-](\d{4})", since)
    if dm and 1 <= int(dm[1]) <= 12 and 1 <= int(dm[2]) <= 12 and int(dm[1]) != int(dm[2]):
        y, a, b = dm[3], int(dm[1]), int(dm[2])
        raise RightsizeError(
            f"--since {since!r}: is it {y}-{a:02d}-{b:02d} or {y}-{b:02d}-{a:02d}? Write it year first"
        )
    bad = RightsizeError(
        f"--since {since!r}: expected a duration (7d, 24h; units in lower case) or a date (2026-01-31)"
    )
    try:
        t = pd.Timestamp(since)
    except (ValueError, TypeError):
        raise bad from None
    # NaT ("nan"), or no year written: "6H" reads as 06:00 on 1 January of year 1
    if pd.isna(t) or not re.search(rf"(?<!\d){t.year:04d}(?!\d)", since):
        raise bad
    t = t.tz_localize("UTC") if t.tzinfo is None else t
    return int(t.as_unit("ms").asm8.view("i8"))  # (not .value: nanoseconds overflow past 2262)


def _frame_profiles(
    samples: pd.DataFrame, events: pd.DataFrame | None, since: Since, qs: Iterable[float],
    valid: Plausible,
) -> list[Profile]:  # fmt: skip
    missing = [c for c in ("ts", "workload", "mem_working_set") if c not in samples.columns]
    if missing:
        raise RightsizeError(f"samples frame lacks column(s): {', '.join(missing)}")
    if samples.empty:
        raise RightsizeError("no samples: the frame is empty")
    samples = keep_possible(samples, valid)
    start = since_start(since, int(ts_ms(samples["ts"]).max()))
    if start is not None:
        samples = samples[ts_ms(samples["ts"]) >= start]
    return [profile_of(h, qs) for h in histories(samples, events)]


def small_rows() -> int:
    """The row count below which a dataset folder takes the in-memory path."""
    raw = os.environ.get("RIGHTSIZE_SMALL_ROWS", "").strip()
    try:
        return int(raw) if raw else SMALL_ROWS
    except ValueError:
        raise RightsizeError(f"RIGHTSIZE_SMALL_ROWS={raw!r}: expected a number of rows") from None


def small_dataset(files: list[Path], limit: int) -> ds.Dataset | None:
    """The files as one Arrow dataset if they hold 1..limit-1 rows in all, by their footers (no data
    read); None where a footer is unreadable or lacks a column too: the scan then warns or fails as
    it always did. One dataset, not a file at a time: a collector's 1,440 one-minute files read
    4x faster so."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    from rightsize.analysis.coltypes import check_types

    if limit <= 0 or sum(store.size_of(f) for f in files) >= limit * SMALL_BYTES_PER_ROW:
        return None
    rows = 0
    try:
        dataset = ds.dataset([str(f) for f in files], schema=store.SAMPLES_SCHEMA, format="parquet")
        for frag in dataset.get_fragments():
            rows += frag.metadata.num_rows  # the footer (kept for the read)
            if rows >= limit or store.missing_columns(frag.physical_schema.names):
                return None
            check_types(frag.path, frag.physical_schema)  # the scan's error, not a quiet cast
    except (OSError, pa.ArrowException):
        return None
    return dataset if rows else None


def _small_profiles(
    path: Path, dataset: ds.Dataset, since: Since, qs: Iterable[float], workloads: str | None,
    valid: Plausible,
) -> list[Profile] | None:  # fmt: skip
    """The scan's Profiles by the in-memory path: the rows it skips (no workload, before --since,
    other workloads) are dropped first, so its counts, warnings and errors are the scan's. None if
    the data cannot be read so (a corrupt page): the scan says why. A column of the wrong type
    was refused with its file's name already (``small_dataset``)."""
    import pyarrow as pa

    try:  # as store.load reads: columns added to the schema later are null in older files
        table = dataset.to_table(columns=_COLUMNS)
    except (OSError, pa.ArrowException):
        return None
    # sorted by ts, the files in order: the later file's row is the latest on a tie, as in the scan
    frame = table.to_pandas().sort_values("ts", kind="stable", ignore_index=True)
    frame = keep_possible(frame, valid)  # a 1970 or 2100 row: no history, no latest sample
    ts = ts_ms(frame["ts"])
    hi = int(ts.max())
    start = since_start(since, hi)
    if start is not None and start > hi:
        last = pd.Timestamp(hi, unit="ms", tz="UTC").isoformat()
        raise RightsizeError(f"--since {since!r}: no samples after it (the data ends at {last})")
    keep = frame["workload"].notna().to_numpy(dtype=bool, copy=True)
    if start is not None:
        keep &= ts >= start
    if workloads:
        names = frame["workload"].astype("string")
        ok = {n: matches(n, workloads) for n in names.dropna().unique()}
        keep &= names.map(ok).fillna(False).to_numpy(dtype=bool)
    frame = frame[keep]
    if frame.empty:
        raise RightsizeError(
            f"no workload matches {workloads!r}" if workloads else "no samples with a workload"
        )
    return [profile_of(h, qs) for h in histories(frame, store.events_beside(path))]


def profiles(
    data: str | os.PathLike[str] | pd.DataFrame | None,
    *,
    since: Since = None,
    qs: Iterable[float] = (),
    workloads: str | None = None,
    now: datetime | None = None,
) -> list[Profile]:
    """The usage profile of every workload in ``data`` (None = ``default_data()``); samples with
    impossible timestamps (``plausible.py``: before 2000, a day after ``now``) are left out."""
    since_start(since, 0)  # a bad --since is the only line, not after the bundled-sample warning
    if data is None:
        data = default_data()
        warnings.warn(sample_warning(), SampleDataWarning, stacklevel=3)
    if isinstance(data, pd.DataFrame):
        out = _frame_profiles(data, None, since, qs, plausible(now, data))
    else:
        store.dataset_dir(data)  # an empty path is an error, not Path("") = the current folder
        files = store.list_files(data, "samples")
        warn_unnamed(unnamed_rows(files))  # from the footers: the same line on either path
        small = small_dataset(files, small_rows()) if files else None
        valid = plausible(now, data)
        found = _small_profiles(Path(data), small, since, qs, workloads, valid) if small is not None else None
        if found is not None:
            out = found
        else:
            from rightsize.analysis.scan import scan_profiles

            out = scan_profiles(Path(data), since=since, qs=qs, workloads=workloads, valid=valid)
    if workloads:
        out = [p for p in out if matches(p.workload, workloads)]
        if not out:
            raise RightsizeError(f"no workload matches {workloads!r}")
        warn_unmatched(workloads, (p.workload for p in out))
    return out


def recommend(
    data: str | Path | pd.DataFrame | None = None,
    *,
    strategy: str = "default",
    overrides: dict[str, str] | None = None,
    since: Since = None,
    workloads: str | Sequence[str] | None = None,
    compose: str | Path | Sequence[str | Path] | None = None,
    events: pd.DataFrame | None = None,
    env_files: Sequence[str | Path] | None = None,
    now: datetime | None = None,
    project_directory: str | Path | None = None,
) -> list[Recommendation]:
    """Recommendations sorted by workload, then memory, cpu, pids.

    ``data``: a dataset root (or its ``samples`` folder, or one file), a samples DataFrame (with
    ``events`` optionally), or None for ``default_data()`` (with a warning saying which).
    ``compose``: take the current values from this file (or these, merged as ``-f a -f b``), with
    ``${VAR}`` read from the environment, then ``env_files`` (default ``.env`` beside the first file).
    ``project_directory``: compose's ``--project-directory`` (where ``.env`` and relative paths resolve).
    ``now``: the clock that samples more than a day ahead of are impossible (default: this machine's).
    """
    strat = get_strategy(strategy, overrides)  # fail on a bad name/setting before reading data
    workloads = joined(workloads)  # one glob string, as --workload gives it
    current = None if compose is None else read_compose(compose, env_files, None, project_directory)
    if isinstance(data, pd.DataFrame):
        profs = _frame_profiles(data, events, since, strat.quantiles(), plausible(now, data))
        if workloads:
            profs = [p for p in profs if matches(p.workload, workloads)]
            if not profs:
                raise RightsizeError(f"no workload matches {workloads!r}")
            warn_unmatched(workloads, (p.workload for p in profs))
    else:
        profs = profiles(data, since=since, qs=strat.quantiles(), workloads=workloads, now=now)
    recs: list[Recommendation] = []
    for p in profs:
        recs.extend(strat.recommend_profile(p))
    if current is not None:
        recs = with_current(recs, current)
    return sorted(recs, key=lambda r: (r.workload, _ORDER[r.resource]))
