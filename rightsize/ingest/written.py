"""What one import wrote, so that a failure (a bad value, a full disk, an interrupt) undoes all of it."""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

import pyarrow as pa

from rightsize import store
from rightsize.errors import RightsizeError


class Written:
    """The files an import appended and the folders it created (removed again by ``remove``)."""

    def __init__(self, out: str | os.PathLike[str], host: str, trace: str) -> None:
        self.out, self.host, self.trace = Path(out), host, trace
        samples = self.out / "samples"
        self.fresh = [d for d in (self.out, samples) if not d.exists()]
        # store.append makes a date= folder before writing into it: one made for a write that
        # then failed holds no file of ours, so it is found by comparing with what was there before
        self.days = set(samples.iterdir()) if samples.is_dir() else set()
        self.files: list[Path] = []

    def append(self, day: pa.Table) -> None:
        """Append one UTC day's rows; a write the disk refuses is one line naming the file."""
        try:
            self.files += store.append(self.out, day, "samples", self.host)
        except OSError as exc:
            # arrow's has no strerror: "Error writing bytes to file. Detail: [errno 27] File too large"
            detail = str(exc.strerror or exc).split("Detail: ")[-1]
            reason = re.sub(r"^\[errno \d+\] ", "", detail, flags=re.I)
            raise RightsizeError(
                f"{exc.filename or self.out}: cannot write it: {reason}; nothing was imported "
                f"from {self.trace} (the files already written were removed)"
            ) from None

    def remove(self) -> None:
        """Undo a failed import: its files, then the folders it made (emptied now)."""
        for f in self.files:
            f.unlink(missing_ok=True)
        samples = self.out / "samples"
        new_days = set(samples.iterdir()) - self.days if samples.is_dir() else set()
        folders = sorted({f.parent for f in self.files} | {d for d in new_days if d.is_dir()})
        for folder in [*folders, *reversed(self.fresh)]:
            with contextlib.suppress(OSError):  # not empty: other files were there before
                folder.rmdir()
