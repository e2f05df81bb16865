"""What each engine event does to a collect run's containers: a start tracks a new life (or, handled
after it ended, writes its one row from the stream opened at its start: ``early.py``), a die writes a
life's last row (``endings.py``), an OOM kill a row carrying the limit it ran with; and the count
of lives left without a CPU value, with the reason.

The base of the run's state (``loop._Run``), above ``Discovery`` (which containers, read how).
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from pathlib import Path
from typing import Any

from rightsize.collector.discovery import Discovery
from rightsize.collector.early import CgroupStream, Early
from rightsize.collector.endings import no_cpu_reason
from rightsize.collector.flush import Buffers
from rightsize.collector.sampling import event_row, sample_row
from rightsize.collector.tracked import Readings, Tracked
from rightsize.sources import cgroups, docker_events
from rightsize.sources import docker as engine
from rightsize.sources.cgroups import Counters
from rightsize.sources.kmsg import KernelLog


class Lives(Discovery):
    """The container lives of one run and the rows they write (no global state: one per run)."""

    def __init__(
        self,
        client: Any,
        source: str,
        filters: dict[str, list[str]],
        root: Path,
        host: str,
        buffers: Buffers,
        step: float,
    ) -> None:
        super().__init__(client, source, filters, root)
        self.host, self.buffers, self.step = host, buffers, step
        self.samples, self.events = buffers.samples, buffers.events
        # OOM events per container id, kept across its restarts: the fresh cgroup counts from 0
        self.ooms: dict[str, int] = {}
        self.first_row: dict[str, int] = {}  # container id -> its earliest row's ts (ms) in this run
        self.n_samples = 0  # sampled so far (the progress bar)
        self.no_cpu: list[str] = []  # one reason per container life without any CPU value
        self.no_cpu_ids: set[str] = set()  # the containers of those lives (a crash loop: one)
        self.finished: set[str] = set()  # ended since their last start (their reason is counted)
        # containers whose OOM row holds the limits only, until a reading of theirs is written (the
        # engine's stream may hold one from before the kill, written at the die)
        self.oom_unread: set[str] = set()
        # OOM kills the kernel logged for a container that the engine sent no event for
        # (``sources/kmsg.py``), and how many of those an engine event may still come for
        self.inferred: dict[str, int] = {}
        self.early = Early(client, filters, None if source == "docker" else root, engine=source != "cgroup")
        self.kernel = KernelLog()  # last: nothing after it can fail and leave it open (run() closes it)

    def _matched_at_create(self, cid: str) -> bool:
        return self.early.created(cid) is not None

    def _finish(self, cid: str) -> None:
        """A tracked container ended (die, cgroup gone, stream closed): its last row, then drop it."""
        t = self.tracked.get(cid)
        if t is None:
            return
        self._last_row(cid, t)
        if not t.has_cpu:
            self.no_cpu.append(no_cpu_reason(t.rows, ended=True))
            self.no_cpu_ids.add(cid)
        self.finished.add(cid)
        self._drop(cid)

    def _last_row(self, cid: str, t: Tracked) -> None:
        if (last := t.last_reading(self.began)) is not None:
            self._append(cid, t, *last)

    def _append(self, cid: str, t: Tracked, cur: Counters, ts_ms: int) -> None:
        ooms = self.ooms.get(cid, 0)
        self.samples.append(sample_row(t.info, cur, t.rates, ts_ms=ts_ms, host=self.host, oom_events=ooms))
        self.n_samples += 1
        self.first_row[cid] = min(ts_ms, self.first_row.get(cid, ts_ms))
        if cur.working_set is not None:
            self.oom_unread.discard(cid)
        t.wrote(ts_ms)

    def _oom_row(self, cid: str, event: dict[str, Any]) -> None:
        """An OOM kill of a container without a row at or before it: one row at the kill, carrying
        the limits it ran with (from its inspect), so the kill's limit is known (the analysis takes
        it from the latest row at or before the kill); measured when its cgroup is still there.
        (A life whose start was handled after it ended has one row, from its stream's last payload,
        which may be later than the kill.)"""
        ts_ms = docker_events.event_ns(event) // 1_000_000
        if self.first_row.get(cid, ts_ms + 1) <= ts_ms:
            return
        if (info := self.known.get(cid) or self._inspect(cid) or self.early.created(cid)) is None:
            return  # gone before any look-up, even the one at its create
        cur, t = Counters(t=ts_ms / 1000), self.tracked.get(cid)
        if t is not None and t.reader is not None:
            with contextlib.suppress(cgroups.CgroupGone):
                cur = t.prev = t.reader.read(time.monotonic())  # the next reading's CPU is from here
        row = sample_row(info, cur, (None, None), ts_ms=ts_ms, host=self.host, oom_events=self.ooms[cid])
        self.samples.append(row)
        if cur.working_set is None:  # never the limit as a reading: nothing was measured
            self.oom_unread.add(cid)
        self.n_samples += 1
        self.first_row[cid] = min(ts_ms, self.first_row.get(cid, ts_ms))
        if t is not None:
            t.wrote(max(ts_ms, t.last_ts))

    def _handle(self, event: dict[str, Any]) -> None:
        cid = str(event.get("id") or "")
        action = str(event.get("Action") or event.get("status") or "")
        if action == "create":
            return  # inspected at once (early.py); not a dataset event
        early = self.early.take_stream(cid) if action == "start" else None
        try:
            if cid and self._matches(cid, event):
                self._handle_matching(cid, action, event, early)
        finally:
            t = self.tracked.get(cid)
            if early is not None and (t is None or early not in (t.stream, t.backup)):
                early.stop()  # not adopted

    def _handle_matching(
        self, cid: str, action: str, event: dict[str, Any], early: Readings | None
    ) -> None:
        if action in ("update", "rename"):  # new limits (docker update, apply --live) or name
            if (info := self._inspect(cid)) is not None:
                self.known[cid] = info
                if cid in self.tracked:
                    self.tracked[cid].info = info
            return  # not a dataset event
        if action == "start":
            self.finished.discard(cid)
            self.untracked.discard(cid)  # each run is looked for anew (a crash loop's may end first)
            info = self._inspect(cid)
            # One per start, against the count accounted for: a relist may already track this
            # run, and the count read now may include the next exit (raised as it dies).
            seen = self.restarts.get(cid, info.restarts) if info else 0
            if info and info.restarts > seen:
                self.events.append(event_row({**event, "Action": "restart"}, info, self.host))
                self.restarts[cid] = seen + 1
            elif info:
                self.restarts[cid] = info.restarts
            tracked = self.tracked.get(cid)
            if info and tracked and tracked.info.pid == info.pid:
                info = None  # already sampled since the initial list or a relist: keep its counters
            elif info:
                self._finish(cid)  # a restarted container starts from fresh counters
                self._track([info], early)
            if early is not None and cid not in self.tracked and (info is None or info.pid is None):
                self._ended_unseen(cid, info or self.early.created(cid), event, early)
        elif action == "die":
            self._kernel_kills(cid, event)  # before its last row, which carries the count
            if cid in self.tracked:
                self._finish(cid)
            elif cid not in self.finished and cid not in self.untracked:
                self.no_cpu.append(no_cpu_reason(0, ended=True))  # gone before it could be read
                self.no_cpu_ids.add(cid)
                self.finished.add(cid)
        elif action == "oom":
            if self.inferred.get(cid):  # a kill recorded from the kernel's log at its die, told late
                self.inferred[cid] -= 1
                return
            self.ooms[cid] = self.ooms.get(cid, 0) + 1
            self._oom_row(cid, event)
        self.events.append(event_row(event, self.known.get(cid), self.host))

    def _kernel_kills(self, cid: str, event: dict[str, Any] | None = None) -> None:
        """The OOM kills of a matching container that the kernel logged during the run beyond the
        engine's ``oom`` events for it (one killed at its start: the engine watches only later),
        recorded as the engine's would be: an ``oom`` event, and a row with the limits it ran with
        when it has none at or before the kill. At its die and at the run's end: by then the
        engine's event, if any, came first."""
        self.kernel.read()
        kills = self.kernel.kills.get(cid, [])
        missing = len(kills) - self.ooms.get(cid, 0)
        if missing <= 0:
            return
        last = docker_events.event_ns(event) if event else None
        actor = (event or {}).get("Actor") or {}  # the die's: its name, image, labels; not its exit code
        named = {k: v for k, v in (actor.get("Attributes") or {}).items() if k != "exitCode"}
        for ns in kills[-missing:]:
            ns = min(ns, last) if last else ns  # the log's clock, not quite the engine's: never after its die
            kill = {"id": cid, "Action": "oom", "timeNano": ns, "Actor": {"ID": cid, "Attributes": named}}
            self.ooms[cid] = self.ooms.get(cid, 0) + 1
            self.inferred[cid] = self.inferred.get(cid, 0) + 1
            self._oom_row(cid, kill)
            self.events.append(event_row(kill, self.known.get(cid) or self.early.created(cid), self.host))

    def _kernel_kills_all(self) -> None:
        """At the run's end (after the engine's last events): each matching container's kills."""
        self.kernel.read()
        for cid in sorted(set(self.kernel.kills) & (set(self.known) | self.gone)):
            self._kernel_kills(cid)

    def _ended_unseen(
        self, cid: str, info: engine.ContainerInfo | None, event: dict[str, Any], stream: Readings
    ) -> None:
        """A start handled after its container ended (a loaded host, a busy loop): its one row from
        the readings taken since its start (``early.py``: the engine's stats stream, or its cgroup
        files), with the CPU of its life: from its counters' start (cgroup files), or if they hold two
        readings (or one ``endings.MIN_SPAN`` after the start: ``endings.final_base``)."""
        if info is None:  # never inspected, not even at its create: its die counts it
            return
        if info.started_at is None:  # inspected as created (since removed): it started at its event
            info = dataclasses.replace(info, started_at=docker_events.event_ns(event) / 1e9)
        self.known.setdefault(cid, info)
        kind = f"cgroup v{stream.reader.version}" if isinstance(stream, CgroupStream) else "docker"
        self.sources[cid] = kind
        self.tracked[cid] = Tracked(info, None, stream)
        self._finish(cid)
