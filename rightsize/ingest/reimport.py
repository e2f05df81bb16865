"""Refusing an import that would count samples twice: the same workload, host and day again, or the
same trace file again (also with another --tz, which moves its rows to other days)."""

from __future__ import annotations

import hashlib
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rightsize import store
from rightsize.errors import RightsizeError

SOURCE_KEY = b"rightsize.import_source"  # Parquet metadata: the trace file a file was imported from


def fingerprint(path: Path) -> bytes:
    """A trace file's identity: its size and the SHA-256 of its first MiB (a copy is the same file)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        digest.update(fh.read(1 << 20))
    return f"{path.stat().st_size}-{digest.hexdigest()[:32]}".encode()


class Earlier:
    """The dataset's files of ``host`` from before this import, checked one UTC day at a time.

    A second import of the same trace (or of overlapping parts) would double every sample: the
    percentiles barely move, so nothing would show it, but sample counts and confidence would be
    wrong. Other workloads, hosts or days are fine (a trace split into
    one file per VM imports file by file)."""

    def __init__(
        self, out: str | os.PathLike[str], host: str, trace: Path | None = None, source: bytes | None = None
    ) -> None:
        self.out, self.host = Path(out), host
        self.trace, self.source = trace, source  # the file being imported and its fingerprint
        self.source_checked = False
        # <host>-<first ts ms>-<8 hex>.parquet (store.append): host "import" is not "import-2"
        name = re.compile(rf"{re.escape(store.safe_host(host))}--?\d+-[0-9a-f]{{8}}\.parquet")
        root = self.out / "samples"
        self.files: dict[str, list[Path]] = {}
        for f in sorted(root.glob("date=*/*.parquet")) if root.is_dir() else []:
            if name.fullmatch(f.name):
                self.files.setdefault(f.parent.name, []).append(f)

    def check_source(self) -> None:
        """Raise if a file of this host was imported from the same trace file (``fingerprint``):
        imported again with another ``--tz``, its rows land hours away, often on other days. Once,
        after the first day's ``check`` (whose message names the workload and day)."""
        if self.source_checked or self.trace is None or self.source is None:
            return
        self.source_checked = True
        trace, source = self.trace, self.source
        for f in (f for day in self.files.values() for f in day):
            try:
                meta = pq.read_schema(f).metadata or {}
            except (OSError, pa.ArrowException):
                continue  # an unreadable file is reported by load, not here
            if meta.get(SOURCE_KEY) == source:
                raise RightsizeError(
                    f"{self.out} already holds {trace.name} from host {self.host!r} ({f.name}): importing "
                    "it again (with another --tz too) would count every sample twice; import into a "
                    "new --out folder, or give another --host if they are different samples"
                )

    def files_of(self, day_dir: str) -> list[Path]:
        return self.files.get(day_dir, [])

    def check(self, day: pa.Table) -> None:
        """Raise if a workload of ``day`` (one UTC day's rows) is already there for this host."""
        if not self.files or not day.num_rows:
            return
        first = pc.min(day["ts"]).cast(pa.int64()).as_py()
        # as store.append names the folder (fromtimestamp fails on some years this data may hold)
        date = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=first // 86_400_000)).strftime("%Y-%m-%d")
        earlier = self.files_of(f"date={date}")
        if not earlier:
            return
        new = set(pc.unique(day["workload"]).to_pylist())
        for f in earlier:
            old = set(pc.unique(pq.read_table(f, columns=["workload"])["workload"]).to_pylist())
            both = sorted(str(w) for w in new & old)
            if both:
                raise RightsizeError(
                    f"{self.out} already holds samples of {both[0]!r} on {date} from host {self.host!r} "
                    f"({f.name}): importing them again would count them twice; give another --host "
                    "if they are different samples"
                )
