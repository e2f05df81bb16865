"""One tracked container life: how it is read, its last reading and rates, and what its rows held."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from threading import Event
from typing import Protocol

from rightsize.collector.endings import MIN_SPAN, final_base, first_or_start, life_base
from rightsize.collector.sampling import cpu_rates
from rightsize.sources import cgroups
from rightsize.sources.cgroups import Counters
from rightsize.sources.docker import ContainerInfo

# A life read from its cgroup files alone gets its second reading this soon after its first, not a
# whole interval later: the files are gone by its die event, so one dying before its second reading
# had no CPU value (a container running when the run began and stopped in its first interval).
# 1 s: ten CFS periods, as the engine's stream spaces its payloads.
EARLY_READ = 1.0


class Readings(Protocol):
    """A container's readings taken by a thread of their own (``engine.StatsStream``,
    ``early.CgroupStream``): the first, the newest, and whether they have ended."""

    first: Counters | None
    latest: Counters | None
    ended: Event

    def stop(self) -> None: ...


@dataclass
class Tracked:
    info: ContainerInfo
    reader: cgroups.CgroupReader | None
    stream: Readings | None
    # read from its cgroup files, a container started during the run: readings in a thread of their
    # own from its start (early.py) kept until the tick's cgroup reads give a CPU value, since the
    # files are gone by the die event of a short-lived one
    backup: Readings | None = None
    prev: Counters | None = None
    rates: tuple[float | None, float | None] = (None, None)
    rows: int = 0
    has_cpu: bool = False  # any row of this life with a CPU value
    last_ts: int = 0
    due: float | None = None  # monotonic time of an early reading (``EARLY_READ``)

    def wrote(self, ts_ms: int) -> None:
        """Account for one row written from ``prev`` with ``rates`` at ``ts_ms``."""
        self.rows += 1
        self.last_ts = ts_ms
        self.has_cpu = self.has_cpu or self.rates[0] is not None
        if self.has_cpu and self.backup is not None:  # no longer needed
            self.backup.stop()
            self.backup = None

    def baseline(self, cur: Counters, began: float) -> Counters | None:
        """The reading to measure ``cur``'s CPU from at a tick: the last one, else (read from the
        engine stream, started during the run) its first payload or its start
        (``endings.first_or_start``), so a life sampled once before its last payload still has a
        CPU value; else (its cgroup files, started during the run) its counters' start
        (``endings.life_base``: ``cur`` read with ``since``), or the first reading of its backup.
        A container running before the run has none on its first row."""
        if self.prev is not None:
            return self.prev
        if self.reader is not None:
            return life_base(cur, began - (time.time() - time.monotonic())) or self._backup_first(cur)
        started = self.info.started_at
        if started is None or started < began:
            return None
        return first_or_start(self.stream.first if self.stream else None, started, began, cur)

    def _backup_first(self, cur: Counters) -> Counters | None:
        """For a life read from its cgroup files with readings of the same files since its start
        (auto: ``early.CgroupStream``), its first one on the reader's clock, ``MIN_SPAN`` or more
        before ``cur``: its first tick row has a CPU value (a job dying right after that tick had
        none, the backup's last reading being older than the row)."""
        backup = self.backup
        if backup is None or backup.first is None or getattr(backup, "reader", None) != self.reader:
            return None
        first = dataclasses.replace(backup.first, t=backup.first.t - (time.time() - time.monotonic()))
        return first if cur.t - first.t >= MIN_SPAN else None

    def read_soon(self, clock: float, step: float) -> None:
        """Have its next reading ``EARLY_READ`` after ``clock`` (cgroup files alone, a long interval)."""
        if self.reader is not None and self.backup is None and step > EARLY_READ:
            self.due = clock + EARLY_READ

    def wants_start(self, began: float) -> bool:
        """Whether its next cgroup read should say when its counters began (``read(since=)``): its
        first reading, of a life started during the run (``endings.life_base``)."""
        return self.prev is None and (self.info.started_at or 0) >= began

    def close(self) -> None:
        for stream in (self.stream, self.backup):
            if stream is not None:
                stream.stop()

    def last_reading(self, began: float) -> tuple[Counters, int] | None:
        """At the container's end: its final reading and row time, rates updated; None if nothing new.

        The engine stream's newest payload (``endings.final_base``), or one more read of the cgroup
        files when they are still there (usually gone by the ``die`` event: then the backup stream's).
        """
        if self.reader is None:
            return self._from_stream(self.stream, self.prev, began)
        try:
            cur = self.reader.read(time.monotonic(), since=self.wants_start(began))
        except cgroups.CgroupGone:
            return None if self.has_cpu else self._from_stream(self.backup, None, began)
        return self._rated(self.baseline(cur, began), cur, int(time.time() * 1000))

    def _from_stream(
        self, stream: Readings | None, prev: Counters | None, began: float
    ) -> tuple[Counters, int] | None:
        if stream is None:
            return None
        picked = final_base(prev, stream.first, stream.latest, self.info.started_at, began)
        if picked is None:
            return None
        base, cur = picked
        ts_ms = int(cur.t * 1000)  # the engine's read time (epoch)
        if stream is self.backup and ts_ms <= self.last_ts:
            return None  # not newer than what the cgroup files gave
        return self._rated(base, cur, ts_ms)

    def _rated(self, base: Counters | None, cur: Counters, ts_ms: int) -> tuple[Counters, int] | None:
        rates = cpu_rates(base, cur, self.info.cpu_limit) if base is not None else (None, None)
        if rates is None:
            return None
        self.rates, self.prev = rates, cur
        return cur, max(ts_ms, self.last_ts + 1)
