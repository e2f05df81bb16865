"""The Parquet dataset: schema (one constant, versioned), crash-safe append, and tolerant reads.

Layout under one root (what ``collect --out`` writes and ``--data`` reads)::

    ROOT/samples/date=YYYY-MM-DD/<host>-<first ts ms>-<random>.parquet
    ROOT/events/date=YYYY-MM-DD/<host>-<first ts ms>-<random>.parquet

Each file is written complete under a name starting with ``.`` (which pyarrow, pandas, DuckDB and
we all skip) and then renamed, so a reader never sees half a file and a crash loses at most the
batch not yet flushed.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import warnings
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rightsize.errors import RightsizeError

if TYPE_CHECKING:  # pandas is imported where used: the collector writes with pyarrow alone (~40 MB less RSS)
    import pandas as pd

SCHEMA_VERSION = "2"
Kind = Literal["samples", "events"]

_TS = pa.timestamp("ms", tz="UTC")
_DAY_MS = 86_400_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_META = {b"rightsize.schema_version": SCHEMA_VERSION.encode()}

SAMPLES_SCHEMA = pa.schema(
    [
        pa.field("ts", _TS, nullable=False),
        pa.field("host", pa.string()),
        pa.field("workload", pa.string()),
        pa.field("container_id", pa.string()),
        pa.field("container", pa.string()),
        pa.field("image", pa.string()),
        pa.field("cpu_cores", pa.float64()),
        pa.field("cpu_throttled", pa.float32()),
        pa.field("mem_working_set", pa.int64()),
        pa.field("mem_rss", pa.int64()),
        pa.field("mem_peak", pa.int64()),
        pa.field("pids", pa.int32()),
        pa.field("mem_limit", pa.int64()),
        pa.field("mem_reservation", pa.int64()),
        pa.field("cpu_limit", pa.float64()),
        pa.field("pids_limit", pa.int32()),
        pa.field("oom_kills", pa.int32()),
        pa.field("restarts", pa.int32()),
        # added in schema version 2 (files written before it lack them: they read as null)
        pa.field("cpu_reservation", pa.float64()),  # cores (Kubernetes CPU request)
    ],
    metadata=_META,
)

EVENTS_SCHEMA = pa.schema(
    [
        pa.field("ts", _TS, nullable=False),
        pa.field("host", pa.string()),
        pa.field("workload", pa.string()),
        pa.field("container_id", pa.string()),
        pa.field("container", pa.string()),
        pa.field("kind", pa.string()),  # start, die, oom, restart, stop, ...
        pa.field("exit_code", pa.int32()),
    ],
    metadata=_META,
)

SCHEMAS: dict[str, pa.Schema] = {"samples": SAMPLES_SCHEMA, "events": EVENTS_SCHEMA}

# Columns added after schema version 1. A file written before one was added lacks it and is still a
# good file: readers fill the column with nulls. A missing version-1 column is still an error.
ADDED_COLUMNS: dict[str, frozenset[str]] = {"samples": frozenset({"cpu_reservation"}), "events": frozenset()}


def missing_columns(names: Iterable[str], kind: Kind = "samples") -> list[str]:
    """The required (version-1) columns of ``kind`` that a file with columns ``names`` lacks."""
    have = set(names)
    return [c for c in SCHEMAS[kind].names if c not in have and c not in ADDED_COLUMNS[kind]]


def fill_added(table: pa.Table, columns: Sequence[str], kind: Kind = "samples") -> pa.Table:
    """``table`` with the ``columns`` it lacks appended as nulls (columns added after a file was written)."""
    for c in columns:
        if c not in table.column_names:
            field = SCHEMAS[kind].field(c)
            table = table.append_column(field, pa.nulls(table.num_rows, field.type))
    return table


@contextlib.contextmanager
def warn_once(given: set[str]) -> Iterator[None]:
    """Pass on the block's warnings, but not one whose text is in ``given`` (then add it): two
    readers of the same files (recommend, then the report's charts) warn once about a bad file."""
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught_now:
            warnings.simplefilter("always")
            caught = caught_now
            yield
    finally:
        for w in caught:
            if str(w.message) not in given:
                given.add(str(w.message))
                warnings.warn(w.message, stacklevel=3)


class DatasetWarning(UserWarning):
    """A part of the dataset was skipped (e.g. one corrupt file); the rest is still usable."""


# ---------------------------------------------------------------------------------------- writing


def to_table(rows: Sequence[dict[str, object]] | pd.DataFrame, kind: Kind = "samples") -> pa.Table:
    """Rows (dicts keyed by column name; missing keys are null) or a DataFrame -> a table in the schema."""
    schema = SCHEMAS[kind]
    if not isinstance(rows, Sequence):  # a DataFrame
        import pandas as pd

        frame = rows.copy()
        for name in schema.names:
            if name not in frame.columns:
                frame[name] = None
        if frame["ts"].dtype.kind in "iu":
            frame["ts"] = pd.to_datetime(frame["ts"], unit="ms", utc=True)
        return pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)
    columns = {name: [row.get(name) for row in rows] for name in schema.names}
    return pa.table(columns, schema=schema)


def append(
    root: str | os.PathLike[str],
    table: pa.Table,
    kind: Kind = "samples",
    host: str = "localhost",
) -> list[Path]:
    """Write ``table`` under ``root/kind/date=…/`` as new complete files (one per UTC day touched).

    Returns the paths written. Existing files are never modified, so a second collector (another
    run, another host) appending into the same root can never clash or corrupt earlier data.
    """
    if table.num_rows == 0:
        return []
    table = table.cast(SCHEMAS[kind]) if table.schema != SCHEMAS[kind] else table
    # Whole days since the epoch by integer division: strftime on every row cost seconds per 10 M rows.
    days = pc.divide(table["ts"].cast(pa.int64()), _DAY_MS)
    written = []
    for day in pc.unique(days).to_pylist():
        part = table.filter(pc.equal(days, day))
        date = (_EPOCH + timedelta(days=day)).strftime("%Y-%m-%d")
        first_ms = int(pc.min(part["ts"]).cast(pa.int64()).as_py())
        directory = Path(root) / kind / f"date={date}"
        directory.mkdir(parents=True, exist_ok=True)
        name = f"{safe_host(host)}-{first_ms}-{secrets.token_hex(4)}.parquet"
        final = directory / name
        tmp = directory / f".{name}.tmp"
        try:
            pq.write_table(part, tmp, compression="zstd")
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, final)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            if exc.filename is not None:
                raise
            # arrow's error names no file ("Error writing bytes to file. Detail: [errno 27] ..."): the
            # caller's one-line message needs the file that was refused
            raise OSError(exc.errno, exc.strerror or str(exc), str(final)) from exc
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        written.append(final)
    return written


def safe_host(host: str) -> str:
    """A host name usable in a file name: no separators, and never hidden (leading ``.``/``_``)."""
    cleaned = re.sub(r"[^A-Za-z0-9.-]+", "-", host).strip(".-") or "host"
    return cleaned


# ---------------------------------------------------------------------------------------- reading


# Checked before a collect or an import starts, so bad output options fail before any work.
def check_writable(out: Path) -> None:
    """RightsizeError unless ``out`` is (or can be created as) a writable folder. Creates nothing."""
    probe = out
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if out.exists() and not out.is_dir():
        raise RightsizeError(f"output {out} exists and is not a folder")
    if not probe.is_dir():
        raise RightsizeError(f"output {out} is not writable: {probe} is not a folder")
    readonly = bool(os.statvfs(probe).f_flag & os.ST_RDONLY)
    if readonly or not os.access(probe, os.W_OK | os.X_OK):
        raise RightsizeError(f"output {out} is not writable ({probe} is read-only or not yours)")


MAX_HOST = 200  # it starts every file name: ".<host>-<13-digit ms>-<8 hex>.parquet.tmp" <= 255 bytes


def check_host(name: str) -> str:
    """The ``--host`` name as given, or RightsizeError if it is empty or cannot name a host."""
    if not name.strip():
        raise RightsizeError("--host is empty: expected a host name")
    if "/" in name:
        raise RightsizeError(f"--host {name!r}: expected a host name without '/'")
    if not name.isprintable():
        raise RightsizeError(f"--host {name!r}: expected a host name without control characters")
    if len(name) > MAX_HOST:  # else the file system refuses it only at the first flush, after sampling
        raise RightsizeError(f"--host has {len(name)} characters: expected a host name of at most {MAX_HOST}")
    return name


def dataset_dir(path: str | os.PathLike[str], kind: Kind = "samples") -> Path:
    """``ROOT`` or ``ROOT/samples`` or a single file -> the folder (or file) holding ``kind``."""
    if not os.fspath(path).strip():  # Path("") is ".": an empty variable would read the cwd
        raise RightsizeError("the dataset path is empty: expected a dataset folder or file")
    p = Path(path)
    if not p.exists():
        raise RightsizeError(f"no dataset at {p}: the path does not exist")
    if p.is_file():
        return p
    if (p / kind).is_dir():
        return p / kind
    if kind == "samples" and p.name == "events" and (p.parent / "samples").is_dir():
        # reading ROOT/samples instead would hide the slip; say which folder was meant
        raise RightsizeError(
            f"{p} holds events (OOM kills, restarts), not samples: give the dataset {p.parent}"
        )
    if kind == "events" and p.name == "samples":  # ROOT/samples given: its events live at ROOT/events
        return p.parent / kind
    if p.name == kind or any(p.glob("date=*")) or any(p.glob("*.parquet")):
        return p
    if kind == "events" and (p / "samples").is_dir():
        return p / kind  # a root without events yet: an empty events dataset
    raise RightsizeError(f"no rightsize dataset at {p}: expected {p / kind}/date=YYYY-MM-DD/*.parquet")


def list_files(path: str | os.PathLike[str], kind: Kind = "samples") -> list[Path]:
    """The visible Parquet files of ``kind`` under ``path``, sorted; temporary files are skipped."""
    base = dataset_dir(path, kind)
    if base.is_file():
        return [base]
    if not base.exists():
        return []
    files = []
    for f in base.rglob("*.parquet"):
        rel = f.relative_to(base).parts
        if not any(part.startswith((".", "_")) for part in rel):
            files.append(f)
    return sorted(files)


def size_of(f: Path) -> int:
    """A file's size for planning a read; 0 for one that vanished or is a dangling link (the read
    then skips it with a DatasetWarning: a stat there failed the whole command)."""
    try:
        return f.stat().st_size
    except OSError:
        return 0


def iter_tables(
    path: str | os.PathLike[str],
    kind: Kind = "samples",
    columns: Sequence[str] | None = None,
    filters: pc.Expression | None = None,
) -> Iterator[tuple[Path, pa.Table]]:
    """Yield ``(file, table)`` per readable file, cast to the schema.

    A corrupt or unreadable file is skipped with a DatasetWarning naming it. A readable file that
    lacks a schema column is an error naming the file and the column: its data cannot be trusted
    to mean what the column says. Columns added to the schema later (``ADDED_COLUMNS``) are
    optional: a file written before them reads with those columns null.
    """
    schema = SCHEMAS[kind]
    wanted = list(columns) if columns is not None else schema.names
    unknown = [c for c in wanted if c not in schema.names]
    if unknown:
        raise RightsizeError(f"unknown {kind} column(s): {', '.join(unknown)}")
    for f in list_files(path, kind):
        try:
            file_schema = pq.read_schema(f)
        except (OSError, pa.ArrowException) as exc:
            warnings.warn(f"skipping {f}: not a readable Parquet file ({exc})", DatasetWarning, stacklevel=2)
            continue
        missing = missing_columns(file_schema.names, kind)
        if missing:
            raise RightsizeError(f"{f} is not a rightsize {kind} file: missing column {', '.join(missing)}")
        try:
            present = [c for c in wanted if c in file_schema.names]
            table = fill_added(pq.read_table(f, columns=present, filters=filters), wanted, kind)
            table = table.select(wanted).cast(pa.schema([schema.field(c) for c in wanted]))
        except (OSError, pa.ArrowException) as exc:
            warnings.warn(f"skipping {f}: unreadable ({exc})", DatasetWarning, stacklevel=2)
            continue
        yield f, table


def read_table(
    path: str | os.PathLike[str],
    kind: Kind = "samples",
    columns: Sequence[str] | None = None,
    since: pd.Timestamp | None = None,
) -> pa.Table:
    """All of ``kind`` under ``path`` as one Arrow table (optionally only rows at or after ``since``)."""
    schema = SCHEMAS[kind]
    wanted = list(columns) if columns is not None else schema.names
    filters = None
    if since is not None:
        import pandas as pd

        filters = pc.field("ts") >= pa.scalar(pd.Timestamp(since).to_pydatetime(), type=_TS)
    tables = [t for _, t in iter_tables(path, kind, wanted, filters)]
    if not tables:
        return pa.schema([schema.field(c) for c in wanted]).empty_table()
    return pa.concat_tables(tables)


def load(
    path: str | os.PathLike[str],
    columns: Sequence[str] | None = None,
    since: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """The ``samples`` dataset under ``path`` as a DataFrame sorted by ``ts``.

    ``ts`` is tz-aware UTC; integer columns that hold nulls (limits, ``mem_peak``) come back as
    float64 with NaN, as pandas does for nullable integers.
    """
    frame = read_table(path, "samples", columns, since).to_pandas()
    if not len(frame) and columns is None and not list_files(path, "samples"):
        raise RightsizeError(f"no samples under {dataset_dir(path)}: the dataset is empty")
    return frame.sort_values("ts", kind="stable", ignore_index=True) if "ts" in frame else frame


def load_events(path: str | os.PathLike[str], since: pd.Timestamp | None = None) -> pd.DataFrame:
    """The ``events`` dataset under ``path`` (empty frame with the schema's columns if none)."""
    frame = read_table(path, "events", None, since).to_pandas()
    return frame.sort_values("ts", kind="stable", ignore_index=True)


def events_beside(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The events that go with samples at ``path``: ROOT/events for ROOT or ROOT/samples, that day's
    ROOT/events/date=D for ROOT/samples/date=D; none for a single file or a plain folder of sample
    files (whose files are samples, not events)."""
    p = Path(path)
    if p.name.startswith("date=") and p.parent.name == "samples" and p.is_dir():  # one day: its OOM kills
        day = p.parent.parent / "events" / p.name
        return load_events(day) if day.is_dir() else EVENTS_SCHEMA.empty_table().to_pandas()
    root = p.parent if p.name == "samples" else p
    if p.is_dir() and (root / "events").is_dir():
        return load_events(root)
    return EVENTS_SCHEMA.empty_table().to_pandas()


def concat(tables: Iterable[pa.Table], kind: Kind = "samples") -> pa.Table:
    """Concatenate tables already in the schema (empty input -> empty table)."""
    parts = list(tables)
    return pa.concat_tables(parts) if parts else SCHEMAS[kind].empty_table()
