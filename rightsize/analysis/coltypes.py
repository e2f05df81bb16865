"""Checks a samples file's column types from its footer, before any row is read.

A hand-made Parquet file with, say, ``pids`` as strings crashed deep inside either path (or,
in memory, was quietly converted); this names the file and column on one line instead. Only the
columns the analysis reads are checked; any integer or float width will do (other writers use
float memory or microsecond timestamps), and an all-null column (type ``null``) too.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from rightsize import store
from rightsize.errors import RightsizeError

READ = ("ts", "workload", "container_id", "mem_working_set", "mem_peak", "cpu_cores", "cpu_throttled",
        "pids", "mem_reservation", "mem_limit", "cpu_reservation", "cpu_limit", "pids_limit",
        "oom_kills", "restarts")  # fmt: skip


def _kind(t: pa.DataType) -> str:
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_null(t):
        return "any"
    if pa.types.is_timestamp(t):
        return "a timestamp"
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        return "a number"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "a string"
    return str(t)


def check_types(path: str | Path, schema: pa.Schema) -> None:
    """RightsizeError naming the first read column of ``path`` whose type is not the expected kind."""
    for name in READ:
        i = schema.get_field_index(name)
        if i < 0:
            continue  # missing columns have their own message
        want = _kind(store.SAMPLES_SCHEMA.field(name).type)
        got = schema.field(i).type
        if _kind(got) not in (want, "any"):
            shown = got.value_type if pa.types.is_dictionary(got) else got
            raise RightsizeError(
                f"{path}: column {name} is {shown}, expected {want} (not a file rightsize wrote?"
                " fix its types or move it away)"
            )
