"""The end of an import: nothing imported is an error, rows that could not be placed are counted."""

from __future__ import annotations

import warnings

from rightsize.errors import RightsizeError


def check_placed(
    name: str, rows: int, matched: int, written: int, where: str | None, mapping: dict[str, str]
) -> None:
    """Nothing imported is an error (exit 0 and "imported 0 rows" left no dataset behind); rows
    skipped for want of a time or a workload are one warning, not a silent loss."""
    time = f"a time (--map ts={mapping['ts']})"
    workload = f"a workload (--map workload={mapping['workload']})"
    if written == 0:
        if rows == 0:
            raise RightsizeError(f"{name} holds no rows: nothing imported")
        if where is not None and matched == 0:
            raise RightsizeError(f"no row of {name} has --where {where} true: nothing imported")
        kept = f" with --where {where} true" if where is not None else ""
        raise RightsizeError(f"no row of {name}{kept} has both {time} and {workload}: nothing imported")
    if matched > written:
        skipped = matched - written
        rows_ = f"{skipped:,} row{'' if skipped == 1 else 's'}"
        warnings.warn(f"{name}: skipped {rows_} without {time} or {workload}", stacklevel=3)
