"""Pure rules for a container's end: its last reading (CPU for a short-lived container), or why it has no CPU.

CPU is a difference of two cumulative readings, and the loop reads a container once a tick: a
container living less than two intervals would never get one. The engine's stats stream already
holds a fresher reading when the container dies (its first payload comes at once, then one a
second), so the collector writes one last row from it, its CPU measured from:

- the container's last sampled reading, when it was sampled;
- else, read from its cgroup files, its counters' own start (``cgroups.life_start``: its oldest
  process's start; the counters are 0 then), for a life started during the run: the mean over its
  whole life, however short (a job of 0.3 s has one reading), with no start-up CPU left out of
  the span. A restart makes a fresh cgroup with counters from 0 and a new first process, so the
  start read with a reading is always that reading's life's;
- else the stream's first payload, when it is at least ``MIN_SPAN`` older: both are the engine's
  readings on one clock (the engine's start time is taken after the process began, so a mean from
  it counts start-up CPU over too short a span: 0.61 cores for a job held to 0.5, under load);
- else its start (``State.StartedAt``; the fresh cgroup's counters are 0 then), when it started
  during the run and the reading is at least ``MIN_SPAN`` later: the mean over its whole life (a
  first payload ~30 ms after the start holds mostly start-up CPU, beyond any --cpus limit);
- else the stream's first payload, when it is older than the last.

Where no second reading exists the CPU stays null, and the summary counts the container with
one of the reasons below.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from rightsize.sources.cgroups import Counters

# why, in the words of the summary line: a stopped container's cgroup files are gone by its die
# event, and the engine answers its stats with an empty payload
NO_READING = "exited before any reading (nothing is left to read after exit)"
ONE_READING = "exited after one reading"
RUN_ENDED = "read once before the run ended"
# Shortest span measured from the start: a CPU quota holds per 100 ms CFS period, and 35 ms of
# start-up CPU over 33 ms read 1.06 cores for a container held to 0.5 (0.6-1.5 for 0.3 s jobs);
# over 0.5 s start-up is ~0.06 cores and the quota holds within a period or so
MIN_SPAN = 0.5


def final_base(
    prev: Counters | None,
    first: Counters | None,
    latest: Counters | None,
    started_at: float | None,
    began: float,
) -> tuple[Counters | None, Counters] | None:
    """(reading to measure CPU from, or None; last reading) for a container's last row.

    None when there is no reading newer than the last one sampled (nothing left to write).
    Times: ``prev``, ``first`` and ``latest`` come from one source's clock; ``started_at`` and
    ``began`` (the run's start) are epoch seconds, as the engine's stream readings are.
    """
    if latest is None:
        return None
    if prev is not None:
        return (prev, latest) if latest.t > prev.t else None
    if (start := life_base(latest, began) or life_base(_same_life(first, latest), began)) is not None:
        return start, latest
    if (start := first_or_start(first, started_at, began, latest)) is not None:
        return start, latest
    if first is not None and first.t < latest.t:
        return first, latest
    return None, latest


def first_or_start(
    first: Counters | None, started_at: float | None, began: float, reading: Counters
) -> Counters | None:
    """What to measure a never-sampled life's ``reading`` from: the stream's first payload when it
    is ``MIN_SPAN`` older, else its start (``from_start``)."""
    if first is not None and reading.t - first.t >= MIN_SPAN:
        return first
    return from_start(started_at, began, reading)


def from_start(started_at: float | None, began: float, reading: Counters) -> Counters | None:
    """The fresh counters at a container's start, to measure ``reading`` from: only for a start
    during the run (``began``), at least ``MIN_SPAN`` before the reading."""
    if started_at is None or started_at < began or reading.t - started_at < MIN_SPAN:
        return None
    return Counters(t=started_at, cpu_ns=0, periods=0, throttled=0)


def life_base(reading: Counters | None, began: float) -> Counters | None:
    """The counters at the start of ``reading``'s life (all 0), when it knows that start
    (``Counters.start``, cgroup reads) and it is during the run (``began``, on the reading's clock):
    a life running before the run keeps no CPU value on its first row (one mean over days is not an
    interval's)."""
    if reading is None or reading.start is None or reading.start < began or reading.t <= reading.start:
        return None
    return Counters(t=reading.start, cpu_ns=0, periods=0, throttled=0)


def _same_life(first: Counters | None, latest: Counters) -> Counters | None:
    """``first`` with ``latest``'s time, for its life's start when ``latest`` was read as its processes
    were gone (no start of its own): only if its counters did not go back (a restart between)."""
    if first is None or first.cpu_ns is None or latest.cpu_ns is None or latest.cpu_ns < first.cpu_ns:
        return None
    return Counters(t=latest.t, start=first.start)


def no_cpu_reason(rows: int, ended: bool) -> str:
    """Why a container life whose rows carry no CPU value has none."""
    if not ended:
        return RUN_ENDED
    return ONE_READING if rows else NO_READING


def describe(reasons: Iterable[str]) -> dict[str, int]:
    """Reason -> number of container lives, most frequent first (the summary's ``no_cpu``)."""
    return dict(Counter(reasons).most_common())
