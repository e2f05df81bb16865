"""One tracked container life: how it is read, its last reading and rates, and what its rows held."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rightsize.endings import final_base
from rightsize.sampling import cpu_rates
from rightsize.sources import cgroups
from rightsize.sources import docker as engine
from rightsize.sources.cgroups import Counters
from rightsize.sources.docker import ContainerInfo


@dataclass
class Tracked:
    info: ContainerInfo
    reader: cgroups.CgroupReader | None
    stream: engine.StatsStream | None
    prev: Counters | None = None
    rates: tuple[float | None, float | None] = (None, None)
    rows: int = 0
    has_cpu: bool = False  # any row of this life with a CPU value
    last_ts: int = 0

    def wrote(self, ts_ms: int) -> None:
        """Account for one row written from ``prev`` with ``rates`` at ``ts_ms``."""
        self.rows += 1
        self.last_ts = ts_ms
        self.has_cpu = self.has_cpu or self.rates[0] is not None

    def last_reading(self, began: float) -> tuple[Counters, int] | None:
        """At the container's end: its final reading and row time, rates updated; None if nothing new.

        The engine stream's newest payload (``endings.final_base``), or one more read of the cgroup
        files when they are still there (usually gone by the ``die`` event).
        """
        if self.stream is not None:
            picked = final_base(self.prev, self.stream.first, self.stream.latest, self.info.started_at, began)
            if picked is None:
                return None
            base, cur = picked
            ts_ms = int(cur.t * 1000)  # the engine's read time (epoch)
        else:
            assert self.reader is not None
            try:
                cur = self.reader.read(time.monotonic())
            except cgroups.CgroupGone:
                return None
            base, ts_ms = self.prev, int(time.time() * 1000)
        rates = cpu_rates(base, cur, self.info.cpu_limit) if base is not None else (None, None)
        if rates is None:
            return None
        self.rates, self.prev = rates, cur
        return cur, max(ts_ms, self.last_ts + 1)
