"""The collector's row buffers and their flushes into the Parquet dataset, surviving refused writes.

A flush the file system refuses (``OSError``: a full disk, a read-only remount, an output folder
removed or replaced by a file) loses nothing: the rows stay buffered, as compact Arrow tables, and
every later flush retries them; the first refusal is one warning naming the error. Each write is
one ``store.append`` call for one UTC day (so one file, written atomically), which makes a retry
exact: a day written before the refusal is never written twice.

Memory stays bounded while writes keep failing: at most ``MAX_UNWRITTEN_ROWS`` rows per kind are
kept (~240 bytes a sample row, so ~60 MB: 14 hours of 50 containers sampled every 10 s); beyond
that the oldest are dropped, counted in ``dropped`` and reported.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from rightsize import store
from rightsize.collector.sampling import Columns
from rightsize.errors import RightsizeError

MAX_UNWRITTEN_ROWS = 250_000
_DAY_MS = 86_400_000


def describe(exc: OSError) -> str:
    """The OS's words for a refused write ("No space left on device"), without Arrow's wrapping."""
    return os.strerror(exc.errno) if exc.errno else str(exc)


def by_day(table: pa.Table) -> list[pa.Table]:
    """``table`` split into one table per UTC day of ``ts``, oldest first (one file each)."""
    days = pc.divide(table["ts"].cast(pa.int64()), _DAY_MS)
    unique = sorted(pc.unique(days).to_pylist())
    if len(unique) == 1:
        return [table]
    return [table.filter(pc.equal(days, day)) for day in unique]


@dataclass
class _Kind:
    """One kind's buffer: rows being sampled, and older rows whose write was refused."""

    rows: Columns
    unwritten: list[pa.Table] = field(default_factory=list)
    written: int = 0
    dropped: int = 0

    def pending(self) -> int:
        return len(self.rows) + sum(t.num_rows for t in self.unwritten)


class Buffers:
    """Samples and events buffered for ``out``; ``flush()`` writes them (or keeps them on refusal)."""

    def __init__(self, out: Path, host: str, max_unwritten: int = MAX_UNWRITTEN_ROWS) -> None:
        self.out, self.host, self.max_unwritten = out, host, max_unwritten
        self.samples = Columns("samples")
        self.events = Columns("events")
        self._kinds: dict[store.Kind, _Kind] = {"samples": _Kind(self.samples), "events": _Kind(self.events)}
        self.files = 0
        self.containers: set[str] = set()  # container ids with at least one sample row written
        self.workloads: set[str] = set()  # workloads with at least one sample row written
        self.error: OSError | None = None  # the latest refusal; None after a complete flush
        self._warned_refused = self._warned_dropped = False

    @property
    def written(self) -> dict[store.Kind, int]:
        return {kind: k.written for kind, k in self._kinds.items()}

    @property
    def dropped(self) -> dict[store.Kind, int]:
        return {kind: k.dropped for kind, k in self._kinds.items()}

    def refused(self) -> int:
        """Rows kept because their flush was refused (0 while writes succeed)."""
        return sum(t.num_rows for k in self._kinds.values() for t in k.unwritten)

    def unwritten(self) -> dict[store.Kind, int]:
        """Rows per kind not yet in the dataset (buffered, or kept after a refused write)."""
        return {kind: k.pending() for kind, k in self._kinds.items()}

    def flush(self, *, final: bool = False) -> bool:
        """Write every buffered row; True when all of them are now in the dataset.

        A refusal keeps the rows for the next flush and warns once per run. On the ``final`` flush
        it is a RightsizeError saying how many rows could not be written (no warning).
        """
        self.error = None
        for kind, k in self._kinds.items():
            parts = [*k.unwritten, k.rows.table()] if len(k.rows) else list(k.unwritten)
            k.rows.clear()
            k.unwritten = []
            for part in by_day(store.concat(parts, kind)) if parts else []:
                if self.error is None:  # once refused, keep the rest too: the disk is not back yet
                    try:
                        self._write(part, kind)
                        continue
                    except OSError as exc:
                        self.error = exc
                k.unwritten.append(part)
            self._cap(kind, k)
        if self.error is not None:
            if final:
                raise RightsizeError(self._lost_message(self.error))
            if not self._warned_refused:
                self._warned_refused = True
                left = sum(self.unwritten().values())
                rows = f"{left} row" + ("" if left == 1 else "s")
                warnings.warn(
                    f"cannot write to {self.out} ({describe(self.error)}): keeping {rows} in memory "
                    f"and retrying at every flush (at most {self.max_unwritten} rows per kind)",
                    stacklevel=2,
                )
        return self.error is None

    def _write(self, table: pa.Table, kind: store.Kind) -> None:
        paths = store.append(self.out, table, kind, self.host)
        self.files += len(paths)
        self._kinds[kind].written += table.num_rows
        if kind == "samples":
            self.containers.update(pc.unique(table["container_id"]).drop_null().to_pylist())
            self.workloads.update(pc.unique(table["workload"]).drop_null().to_pylist())

    def _cap(self, kind: store.Kind, k: _Kind) -> None:
        excess = sum(t.num_rows for t in k.unwritten) - self.max_unwritten
        if excess <= 0:
            return
        kept = store.concat(k.unwritten, kind)
        k.unwritten = [kept.slice(excess)]  # oldest first: drop the oldest
        k.dropped += excess
        if not self._warned_dropped:
            self._warned_dropped = True
            warnings.warn(
                f"{self.out} still refuses writes: dropping the oldest unwritten {kind} rows beyond "
                f"{self.max_unwritten} (memory stays bounded)",
                stacklevel=3,
            )

    def _lost_message(self, exc: OSError) -> str:
        left = self.unwritten()
        counts = [f"{_n(left[kind], kind)}" for kind in ("samples", "events") if left[kind]]
        lost = sum(self.dropped.values())
        dropped = f" ({lost} more dropped earlier to bound memory)" if lost else ""
        before = f"; the {self.files} files written before are complete" if self.files else ""
        return (
            f"cannot write to {self.out} ({describe(exc)}): {' and '.join(counts)} could not be written"
            f"{dropped}{before}"
        )


def _n(count: int, kind: str) -> str:
    noun = {"samples": "sample", "events": "event"}[kind]
    return f"{count} {noun}" + ("" if count == 1 else "s")
