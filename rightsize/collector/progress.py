"""The collector's progress bar (rich, on stderr): elapsed/ETA, containers, samples so far, and the
rows waiting for a disk that refuses writes."""

from __future__ import annotations

import contextlib
from types import TracebackType
from typing import Any


class Progress:
    """A context manager around one rich progress task; does nothing when ``disabled``."""

    def __init__(self, total_seconds: float, *, disabled: bool = False) -> None:
        self._total = total_seconds
        self._bar: Any = None
        self._task: Any = None
        if disabled:
            return
        from rich.console import Console
        from rich.progress import BarColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
        from rich.progress import Progress as RichProgress

        self._bar = RichProgress(
            TextColumn("collecting"),
            BarColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[containers]} containers, {task.fields[samples]} samples"
                       "{task.fields[note]}"),
            console=Console(stderr=True),
            refresh_per_second=2,  # cheap: the collector itself must stay near-idle
            transient=False,
        )

    def __enter__(self) -> Progress:
        if self._bar is not None:
            self._bar.start()
            self._task = self._bar.add_task("collect", total=self._total, containers=0, samples=0, note="")
        return self

    def update(self, elapsed: float, containers: int, samples: int, unwritten: int = 0) -> None:
        """``unwritten``: rows kept because the disk refused their flush (0: nothing to show)."""
        if self._bar is not None:
            note = f", {unwritten} unwritten (disk refused)" if unwritten else ""
            self._bar.update(self._task, completed=elapsed, containers=containers, samples=samples, note=note)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bar is not None:
            # the terminal hung up (SIGHUP, then EIO on its writes): the rows still get their final flush
            with contextlib.suppress(OSError):
                self._bar.stop()
