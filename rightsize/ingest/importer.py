"""Import an outside trace (Parquet or CSV) into the samples dataset through a column mapping.

``--map workload=vm,ts=time,cpu_cores=cpu,mem_working_set=mem`` names, for each samples column, the
trace column that holds it. The file is read in batches (Parquet row groups / CSV blocks) and
written in a few large appends, so a 12 M row trace never sits in memory whole.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from rightsize import store
from rightsize.errors import RightsizeError
from rightsize.ingest import importcsv
from rightsize.ingest.importrange import Span, remove_early
from rightsize.ingest.importtime import Clock, mixed, timestamps
from rightsize.ingest.mapping import parse_mapping, source_of
from rightsize.ingest.placed import check_placed
from rightsize.ingest.reimport import SOURCE_KEY, Earlier, fingerprint
from rightsize.ingest.written import Written

REQUIRED = ("workload", "ts")
UNLIMITED = 2**62  # cgroup v1 writes "no memory limit" as 9223372036854771712 (2**63 - 4096)
USAGE = ("cpu_cores", "mem_working_set")
_BATCH_ROWS = 1 << 20
_CSV_BLOCK = 64 << 20  # bytes arrow reads per CSV block
_FLUSH_ROWS = 2 << 20  # rows buffered per append: few, large files, bounded memory (~0.5 GB a flush)


def import_trace(
    file: str | os.PathLike[str],
    mapping: dict[str, str] | str,
    out: str | os.PathLike[str],
    where: str | None = None,
    host: str = "import",
    tz: str | None = None,
) -> int:
    """Copy ``file`` into the dataset at ``out`` (samples schema); returns the number of rows written.

    ``mapping`` maps samples columns to trace columns; ``workload`` and ``ts`` are required, and at
    least one of ``cpu_cores``/``mem_working_set``. ``where`` names a boolean trace column: only rows
    where it is true are imported. A numeric source may be scaled (``mem_kb*1024``). Unmapped columns
    are null, except ``host`` (the ``host`` argument) and ``container_id``/``container`` (the workload).
    ``tz`` is the zone of naive times (an IANA name, UTC or +02:00; without it they are UTC, and a
    warning says so); times with an offset keep it, epoch numbers are UTC. Times no reader uses
    (``importrange``) are skipped with a warning, or refused where most rows have them.
    All or nothing: on an error (or an interrupt) the files this import wrote are removed again.
    """
    if isinstance(mapping, str):  # the CLI's "workload=vm,ts=time" (was read letter by letter)
        mapping = parse_mapping(mapping)
    # Path("") is ".": an unset variable in a script must not read or fill the current folder
    if not str(file).strip():
        raise RightsizeError("FILE is empty: expected a Parquet or CSV trace file")
    if not str(out).strip():
        raise RightsizeError("--out is empty: expected a dataset folder")
    store.check_host(host)  # the same rule as collect --host: it names rows and files
    store.check_writable(Path(out))  # a file at --out failed only at the first write, cryptically
    if where is not None and not where.strip():  # not "no filter": that would import every row
        raise RightsizeError("--where is empty: expected a boolean column of the trace")
    path = Path(file)
    if path.is_dir():
        raise RightsizeError(f"{path} is a folder, expected a Parquet or CSV trace file")
    if not path.is_file():
        raise RightsizeError(f"no trace file at {path}")
    _check_mapping(mapping)
    clock = Clock(tz)  # an unknown zone is refused before anything is read or written
    labels: dict[str, tuple[str, str]] = {}  # how the user named each column, for a bad CSV value
    reader = _open(path, lambda schema: _csv_types(schema, mapping, where), labels)
    columns = next(reader)
    assert isinstance(columns, list)
    sources = {k: source_of(k, v, columns) for k, v in mapping.items()}
    for key, (_, factor) in sources.items():
        if factor != 1.0 and key in ("workload", "host", "container_id", "container", "image"):
            raise RightsizeError(f"--map {key}={mapping[key]}: only numeric columns can be scaled")
    needed = sorted({*(c for c, _ in sources.values()), *([where] if where else [])})
    missing = [c for c in needed if c not in columns]
    if missing:
        seps = [sep for sep in ";\t|" if len(columns) == 1 and sep in columns[0]]
        hint = f"; a {seps[0]!r}-separated file? only comma-separated CSV is read" if seps else ""
        raise RightsizeError(
            f"{path.name} has no column {', '.join(repr(c) for c in missing)} "
            f"(it has: {', '.join(columns)}){hint}"
        )
    twice = [c for c in needed if columns.count(c) > 1]
    if twice:
        raise RightsizeError(
            f"{path.name} has {columns.count(twice[0])} columns named {twice[0]!r}: rename one"
        )
    labels.update(importcsv.labels(sources, where))
    source = fingerprint(path)
    earlier = Earlier(out, host, path, source)  # before this import writes anything
    wrote = Written(out, host, path.name)  # removed again on a failure: all or nothing
    files = wrote.files
    buffer: list[pa.Table] = []
    buffered = written = 0
    offset = matched = 0  # rows of the file before this batch (for error lines); rows --where kept
    span = Span()  # times no reader would use: skipped, or the import refused
    try:
        for batch in reader:
            assert isinstance(batch, pa.RecordBatch)
            at = _rows(path.name, offset)
            table, kept = _convert(pa.Table.from_batches([batch]), sources, where, host, (clock, span), at)
            offset += batch.num_rows
            matched += kept
            if table.num_rows:
                buffer.append(table)
                buffered += table.num_rows
            if buffered >= _FLUSH_ROWS:
                _flush(buffer, wrote, earlier, source)
                written, buffer, buffered = written + buffered, [], 0
        if buffer:
            _flush(buffer, wrote, earlier, source)
            written += buffered
        skipped = span.finish(sources["ts"][0], clock.scales[0] if clock.scales else None, sources["ts"][1])
        if span.early_files():  # 1970 rows beside later ones: readers would ignore them
            remove_early(files, span.valid)
            written -= span.early.count
    except importcsv.BadValue as exc:
        wrote.remove()
        if exc.column == sources["ts"][0] and clock.first_number and _is_date(exc.value):
            raise mixed(exc.column, clock.first_number, (exc.at, exc.value)) from None
        raise
    except BaseException:
        wrote.remove()
        raise
    if skipped:
        warnings.warn(f"{path.name}: {skipped}", stacklevel=2)
    check_placed(path.name, offset, matched - span.skipped(), written, where, mapping)
    notice = clock.notice(path.name, sources["ts"][0], span.kept_latest()) if written else None
    if notice:
        warnings.warn(notice, stacklevel=2)
    return written


def _is_date(text: str) -> bool:
    return bool(pd.notna(pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")))


def _rows(name: str, offset: int) -> Callable[[int], str]:
    return lambda i: f"{name} row {offset + i + 1}"


def _flush(tables: list[pa.Table], written: Written, earlier: Earlier, source: bytes) -> None:
    """Append sorted by time, one UTC day at a time (store.append then scans each day's rows once);
    every file written is added to ``written`` at once (so a failure can remove it)."""
    table = pa.concat_tables(tables)
    # each file names its trace file, so the same file imported again (another --tz) is refused
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), SOURCE_KEY: source})
    table = table.take(pc.sort_indices(table, [("ts", "ascending")]))
    ms = table["ts"].combine_chunks().cast(pa.int64()).to_numpy()
    day = ms // 86_400_000
    cuts = np.flatnonzero(np.diff(day)) + 1
    for start, stop in zip(np.r_[0, cuts], np.r_[cuts, len(ms)], strict=True):
        part = table.slice(int(start), int(stop - start))
        earlier.check(part)
        earlier.check_source()
        written.append(part)


def _check_mapping(mapping: dict[str, str]) -> None:
    names = store.SAMPLES_SCHEMA.names
    unknown = [k for k in mapping if k not in names]
    if unknown:
        raise RightsizeError(
            f"--map: unknown samples column {', '.join(map(repr, unknown))} (known: {', '.join(names)})"
        )
    absent = [k for k in REQUIRED if k not in mapping]
    if absent:
        raise RightsizeError(f"--map must name {' and '.join(absent)} (e.g. --map workload=vm,ts=time,...)")
    if not any(k in mapping for k in USAGE):
        raise RightsizeError(
            "--map must name cpu_cores or mem_working_set: there is nothing to recommend from"
        )


_TEXT = ("workload", "host", "container_id", "container", "image")


def _csv_types(schema: pa.Schema, mapping: dict[str, str], where: str | None) -> dict[str, pa.DataType]:
    """CSV types for the mapped columns that a later block can still hold: an idle VM's CPU "0" (or
    blanks) in the first block must not make a later "0.5" a parse error, nor whole-second ISO times
    a later fractional one (ISO text is parsed per value, with its own zone)."""
    names = list(schema.names)
    out: dict[str, pa.DataType] = {}
    for key, value in mapping.items():
        col = source_of(key, value, names)[0]
        if names.count(col) != 1:
            continue  # import_trace names the missing (or twice named) column
        kind = schema.field(col).type
        if key in _TEXT:
            out[col] = pa.string()
        elif key == "ts":
            numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind)
            out[col] = pa.float64() if numeric else pa.string()
        elif pa.types.is_integer(kind) or pa.types.is_null(kind):
            out[col] = pa.float64()
        else:
            out.setdefault(col, kind)
    if where is not None and names.count(where) == 1:
        kind = schema.field(where).type
        out[str(where)] = pa.bool_() if pa.types.is_null(kind) else kind
    return out


def _open(
    path: Path,
    types: Callable[[pa.Schema], dict[str, pa.DataType]] | None = None,
    labels: dict[str, tuple[str, str]] | None = None,
) -> Iterator[list[str] | pa.RecordBatch]:
    """First yields the column names, then record batches; ``types`` picks CSV column types from
    the types arrow infers from the first block."""
    suffix = path.suffix.lower()
    kind = "Parquet" if suffix in (".parquet", ".pq") else "CSV"
    try:
        with path.open("rb") as f:
            head = f.read(4)
        parquet = head == b"PAR1"
        if kind == "CSV" and head[:2] in (b"\xff\xfe", b"\xfe\xff"):  # Excel's "Unicode Text"
            raise RightsizeError(f"cannot read {path.name} as CSV: it is UTF-16 text; save it as UTF-8 CSV")
        if kind == "Parquet" and not parquet:
            raise RightsizeError(
                f"cannot read {path.name}: not a Parquet file (it does not start with PAR1); "
                "a CSV trace must be named .csv"
            )
        if suffix in (".csv", ".txt") and parquet:
            raise RightsizeError(f"cannot read {path.name}: it is a Parquet file, not CSV; name it .parquet")
        if suffix in (".parquet", ".pq"):
            pf = pq.ParquetFile(path)
            yield list(pf.schema_arrow.names)
            yield from pf.iter_batches(batch_size=_BATCH_ROWS)
        elif suffix in (".csv", ".gz", ".txt"):
            read = pacsv.ReadOptions(block_size=_CSV_BLOCK)
            # a quoted value may span lines (and a block boundary); no slower on a 190 MB trace
            parse = pacsv.ParseOptions(newlines_in_values=True)
            csv = pacsv.open_csv(path, read_options=read, parse_options=parse)
            names = list(csv.schema.names)
            if types:  # arrow fixes types from the first block only: later blocks must fit them
                fixed = types(csv.schema)  # (the columns not imported are not read at all)
                convert = pacsv.ConvertOptions(column_types=fixed, include_columns=list(fixed))
                csv = pacsv.open_csv(path, read_options=read, parse_options=parse, convert_options=convert)
            yield names
            yield from importcsv.batches(csv, path, names, {} if labels is None else labels, read, parse)
        else:
            raise RightsizeError(
                f"{path.name}: unknown trace format {suffix or path.name!r} "
                "(expected a .parquet or .csv file)"
            )
    except (OSError, pa.ArrowException) as exc:
        # arrow quotes the offending row: keep the reason, drop bytes that are not printable
        reason = str(exc).strip("'\"").split(": \\x")[0].splitlines()[0] if str(exc) else repr(exc)
        reason = "".join(ch for ch in reason if ch.isprintable())
        if "Expected 1 columns, got" in reason:  # one header name, rows with commas: "1,5" beside ";"
            reason += " (the header has no comma: ';'- or tab-separated? only comma-separated CSV is read)"
        raise RightsizeError(f"cannot read {path.name} as {kind}: {reason}") from None


def _convert(
    table: pa.Table,
    sources: dict[str, tuple[str, float]],
    where: str | None,
    host: str,
    times: tuple[Clock, Span],
    at: Callable[[int], str],
) -> tuple[pa.Table, int]:
    """The batch in the samples schema, and how many of its rows ``where`` kept (before rows
    without a time or a workload, or with a time no reader uses, are dropped)."""
    clock, span = times
    if where is not None:
        mask = table[where]
        if pa.types.is_integer(mask.type):  # a 0/1 flag (CSV, or int8 from pandas)
            flags = pc.drop_null(mask)
            other = pc.filter(flags, pc.invert(pc.is_in(flags, pa.array([0, 1]))))
            if len(other):
                raise RightsizeError(
                    f"--where {where}: column {where!r} holds {other[0].as_py()}, "
                    "expected a boolean (true/false or 0/1) column"
                )
            mask = pc.not_equal(mask, 0)
        if not pa.types.is_boolean(mask.type):
            raise RightsizeError(
                f"--where {where}: column {where!r} is {mask.type}, expected a boolean (true/false) column"
            )
        mask = pc.fill_null(mask, False)
        kept = np.flatnonzero(mask.to_numpy(zero_copy_only=False))  # rows of the file, for errors
        at = (lambda where_at: lambda i: where_at(int(kept[i])))(at)
        table = table.filter(mask)
    n = table.num_rows
    cols: dict[str, pa.Array | pa.ChunkedArray] = {}
    for field in store.SAMPLES_SCHEMA:
        name = field.name
        if name == "ts":  # first: parsing text times is the peak of memory, before other columns exist
            cols[name] = _times(table, sources, clock, at)
        elif name in sources:
            source, factor = sources[name]
            column = table[source]
            if name in ("mem_limit", "mem_reservation"):  # cgroup v1's "no limit" is no limit
                column = _unlimited_as_null(column, factor)
            cols[name] = _cast(column, field, source, factor)
        elif name == "host":
            cols[name] = pa.array([host] * n, pa.string()) if n else pa.array([], pa.string())
        elif name in ("container_id", "container") and "workload" in cols:
            cols[name] = cols["workload"]
        else:
            cols[name] = pa.nulls(n, field.type)
    # a sample without a time or a workload cannot be placed anywhere; an empty CSV field is "", not
    # null, and a workload named "" (or "  ") is no workload either
    named = pc.not_equal(pc.utf8_trim_whitespace(cols["workload"]), "")
    keep = pc.and_(pc.is_valid(cols["ts"]), pc.fill_null(named, False)).to_numpy(zero_copy_only=False)
    keep = span.keep(cols["ts"], keep, at)
    out = pa.table(cols, schema=store.SAMPLES_SCHEMA)
    return (out if keep.all() else out.filter(keep)), n


def _times(
    table: pa.Table, sources: dict[str, tuple[str, float]], clock: Clock, at: Callable[[int], str]
) -> pa.Array:
    ts = table[sources["ts"][0]].combine_chunks()
    if pa.types.is_dictionary(ts.type):
        ts = ts.dictionary_decode()
    keys = table[sources.get("container_id", sources["workload"])[0]]  # each row's series (DST fold)
    try:
        return timestamps(ts, sources["ts"][0], clock, keys, at, sources["ts"][1])
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:  # one line, never a traceback
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RightsizeError(f"--map ts={sources['ts'][0]}: {ts.type} values ({reason})") from None


def _cast(
    column: pa.ChunkedArray,
    field: pa.Field,
    source: str,
    factor: float = 1.0,
) -> pa.Array:
    col = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_dictionary(col.type):
        col = col.dictionary_decode()
    if pa.types.is_boolean(col.type) and not pa.types.is_string(field.type):  # a flag is no amount
        raise RightsizeError(
            f"--map {field.name}={source}: column {source!r} holds true/false values, expected numbers"
        )
    if pa.types.is_decimal(col.type) and field.name != "ts":  # SQL numeric: a number like a float one
        col = col.cast(pa.float64())
    try:
        # safe=False here and for float columns: an int64 beyond 2**53 becomes the nearest float
        if factor != 1.0:  # a unit conversion asked for in --map (KiB -> bytes, percent -> cores)
            col = pc.multiply(col.cast(pa.float64(), safe=False), pa.scalar(factor, pa.float64()))
        if pa.types.is_string(field.type):
            return col.cast(pa.string())
        if pa.types.is_integer(field.type) and pa.types.is_floating(col.type):
            values = col.to_numpy(zero_copy_only=False)
            bad = ~np.isfinite(values)
            return pa.array(np.round(np.where(bad, 0, values)), mask=bad).cast(field.type)
        return col.cast(field.type, safe=not (pa.types.is_floating(field.type) and _numeric(col.type)))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        bad = re.search(r"Failed to parse string: '(.*?)' as a scalar", first)
        numeric = pa.types.is_integer(field.type) or pa.types.is_floating(field.type)
        what = f"text such as {bad.group(1)!r}" if bad else f"{col.type} values ({first})"
        expected = "numbers" if numeric else str(field.type)
        if numeric and _numeric(col.type):  # numbers, just out of the samples column's range
            scaled = " once scaled" if factor != 1.0 else ""
            what = f"values out of range for {field.name} ({field.type}){scaled} ({first})"
            expected = f"numbers that fit in {field.type}"
        where = f"--map {field.name}={source}: column {source!r}"
        raise RightsizeError(f"{where} holds {what}, expected {expected}") from None


def _unlimited_as_null(col: pa.ChunkedArray, factor: float) -> pa.ChunkedArray:
    """Limits of 2**62 or more are "no limit" (cgroup v1: 2**63 - 4096; unsigned: 2**64 - 1), before
    the cast to int64 refuses those beyond it."""
    if not (_numeric(col.type) or pa.types.is_decimal(col.type)):
        return col  # text: read (or refused) by _cast
    scaled = pc.multiply(col.cast(pa.float64(), safe=False), pa.scalar(factor, pa.float64()))
    return pc.if_else(pc.greater_equal(scaled, float(UNLIMITED)), pa.scalar(None, col.type), col)


def _numeric(kind: pa.DataType) -> bool:
    return bool(pa.types.is_integer(kind) or pa.types.is_floating(kind))
