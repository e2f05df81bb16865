"""Reading an imported CSV trace block by block, with a bad value in a later block named in words.

Arrow fixes each column's type from the first block and fails a later block that does not fit
("In CSV column #2: CSV conversion error to double: invalid value 'x'"). That becomes one line naming
the file, the row, the column as the user mapped it and the value.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from rightsize.errors import RightsizeError


class BadValue(RightsizeError):
    """A value of a later block that does not fit the column's type (``at``: "trace.csv row 9")."""

    def __init__(self, message: str, column: str, at: str, value: str) -> None:
        super().__init__(message)
        self.column, self.at, self.value = column, at, value


_CONVERSION = re.compile(r"In CSV column #(\d+): CSV conversion error to (.+?): invalid value '(.*)'$", re.S)


def batches(
    csv: pacsv.CSVStreamingReader,
    path: Path,
    names: list[str],
    labels: Mapping[str, tuple[str, str]],
    read: pacsv.ReadOptions,
    parse: pacsv.ParseOptions,
) -> Iterator[pa.RecordBatch]:
    """The batches of ``csv``; ``labels`` maps a column to how the user named it and what it should
    hold ('mem_working_set (column "mem")', 'a number')."""
    rows = 0
    try:
        for batch in csv:
            yield batch
            rows += batch.num_rows
    except pa.ArrowInvalid as exc:
        m = _CONVERSION.match(str(exc))
        if not m or int(m.group(1)) >= len(names):
            raise
        column, value = names[int(m.group(1))], m.group(3)
        label, expected = labels.get(column, (f'column "{column}"', f"{m.group(2)} values"))
        if not expected:  # the --where flag: the kind the first block held
            expected = "true or false" if m.group(2) == "bool" else "0 or 1"
        row = _locate(path, column, value, rows, read, parse)
        at = f"{path.name} row {row + 1}" if row is not None else f"{path.name} a row after row {rows}"
        message = f"{at}: {label} holds {value!r}, expected {expected} as in the rows before it"
        raise BadValue(message, column, at, value) from None


def _locate(
    path: Path, column: str, value: str, skip: int, read: pacsv.ReadOptions, parse: pacsv.ParseOptions
) -> int | None:
    """The row (0-based, after the header) where ``column`` first holds ``value`` from row ``skip``
    on: the failing block is the next one, so this reads only the failing column that far again."""
    options = pacsv.ReadOptions(block_size=read.block_size, skip_rows_after_names=skip)
    convert = pacsv.ConvertOptions(column_types={column: pa.string()}, include_columns=[column])
    try:
        reader = pacsv.open_csv(path, read_options=options, parse_options=parse, convert_options=convert)
        seen = skip
        for n, batch in enumerate(reader):
            hits = pc.index(batch.column(0), pa.scalar(value, pa.string())).as_py()
            if hits >= 0:
                return seen + int(hits)
            seen += batch.num_rows
            if n >= 2:  # the failing block is long passed: give up on the row, not on the error
                return None
    except (OSError, pa.ArrowException):
        return None
    return None


def labels(sources: Mapping[str, tuple[str, float]], where: str | None) -> dict[str, tuple[str, str]]:
    """Each mapped column as the user named it ('mem_working_set (column "mem")'), and what it holds."""
    keys: dict[str, list[str]] = {}
    for key, (col, _) in sources.items():
        keys.setdefault(col, []).append(key)
    out: dict[str, tuple[str, str]] = {}
    for col, names in keys.items():
        expected = "an epoch number" if names == ["ts"] else "a number"
        out[col] = (f'{", ".join(names)} (column "{col}")', expected)
    if where is not None:
        out[where] = (f'--where {where} (column "{where}")', "")
    return out
