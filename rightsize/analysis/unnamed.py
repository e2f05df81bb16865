"""Rows without a workload: no analysis can attribute them, so they are left out with one warning.

Counted from the Parquet footers (each row group's null count of ``workload``), so recommend's
in-memory path and its streaming scan say the same, and no row is read for it; a file whose footer
lacks the statistic has its ``workload`` column read instead.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from rightsize.store import DatasetWarning


def unnamed_rows(files: Iterable[Path]) -> int:
    """How many rows of ``files`` have a null workload (an unreadable file counts none: the readers
    warn about it or refuse it themselves)."""
    total = 0
    for f in files:
        try:
            meta = pq.read_metadata(f)
            paths = [meta.schema.column(j).path for j in range(meta.num_columns)]
            if "workload" not in paths:
                continue  # the readers name the missing column
            j = paths.index("workload")
            stats = [meta.row_group(g).column(j).statistics for g in range(meta.num_row_groups)]
            if all(s is not None and s.has_null_count for s in stats):
                total += sum(int(s.null_count) for s in stats if s is not None)
            else:
                total += pq.read_table(f, columns=["workload"])["workload"].null_count
        except (OSError, pa.ArrowException):
            continue
    return total


def warn_unnamed(count: int, stacklevel: int = 3) -> None:
    """One warning line for ``count`` rows without a workload (none for 0)."""
    if count:
        rows = f"{count:,} row{'' if count == 1 else 's'}"
        warnings.warn(f"ignored {rows} without a workload", DatasetWarning, stacklevel=stacklevel)
