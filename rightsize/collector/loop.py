"""The sampling loop behind ``rightsize collect``: clock, container churn, flushes, signals.

Every tick samples each tracked container once (cgroup files read directly where visible, the
latest streamed engine payload otherwise), turns cumulative counters into per-interval values
with ``sampling.sample_row`` (pure), and buffers the rows; every ``flush`` seconds the buffer becomes one
new complete Parquet file per kind (``flush.Buffers``), so a crash loses at most one flush
interval, and a write the disk refuses keeps its rows for the next flush. SIGINT/SIGTERM stop the
loop, flush, and return normally (exit code 0).

Engine events are handled as they arrive, between ticks too: a container that lives two seconds
is tracked at its start, and at its end gets one last row from its freshest reading
(``endings.py``), so it has a CPU value even when it was never sampled twice. A life read from its
cgroup files alone is read again ``tracked.EARLY_READ`` after its first reading. What cannot wait
for the loop (a create's inspect, a start's stats stream) is done in the event stream's thread
(``early.py``); what each event does is in ``lives.py``. At the stop, the engine is asked for the
events it logged up to its clock that its stream had not delivered (``sources/docker_events.py``).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

from rightsize import store
from rightsize.collector.endings import describe, no_cpu_reason
from rightsize.collector.flush import Buffers
from rightsize.collector.lives import Lives
from rightsize.collector.sampling import CollectSummary, cpu_rates
from rightsize.collector.waker import Waker
from rightsize.errors import RightsizeError
from rightsize.sources import cgroups, docker_events, kmsg
from rightsize.sources import docker as engine
from rightsize.units import parse_positive_duration

Source = Literal["auto", "docker", "cgroup"]
SOURCES = ("auto", "docker", "cgroup")
RELIST_SECONDS = 30.0  # a full list now and then catches any event the stream missed


# ------------------------------------------------------------------------------- the loop


def collect(
    out: str | os.PathLike[str] = "./rightsize-data",
    *,
    duration: str | float = "24h",
    interval: str | float = "10s",
    flush: str | float = "60s",
    source: str = "auto",
    filters: str | Sequence[str] | None = None,
    project: str | None = None,
    docker_host: str | None = None,
    quiet: bool = False,
    host: str | None = None,
    cgroup_root: str | os.PathLike[str] = cgroups.DEFAULT_ROOT,
    on_tick: Callable[[int, int, int], None] | None = None,
) -> CollectSummary:
    """Sample running containers into the Parquet dataset at ``out`` until ``duration`` ends.

    Bad input (duration, interval, flush, source, filter, unwritable output, unreachable engine,
    invisible cgroup filesystem with ``source="cgroup"``) raises RightsizeError before any
    sampling. ``on_tick(ticks, containers, samples)`` is called after each tick (progress).
    ``host`` names the rows and files (default: the engine's host name). A flush the disk refuses
    warns once and keeps its rows for the next one; if the last flush is refused too, a
    RightsizeError says how many rows could not be written.
    """
    total = parse_positive_duration(duration, "duration")
    step = parse_positive_duration(interval, "interval")
    flush_every = parse_positive_duration(flush, "flush")
    if source not in SOURCES:
        raise RightsizeError(f"unknown source {source!r} (expected one of: {', '.join(SOURCES)}, prometheus)")
    given = [filters] if isinstance(filters, str) else list(filters or ())  # one filter as a string too
    engine_filters = engine.parse_filters(given, project)
    if host is not None:
        store.check_host(host)
    if not str(out).strip():  # Path("") is "." : an unset variable would fill the current folder
        raise RightsizeError("--out is empty: expected a dataset folder")
    out_path = Path(out)
    store.check_writable(out_path)
    root = Path(cgroup_root)
    if source == "cgroup" and cgroups.detect_version(root) is None:
        raise RightsizeError(f"no cgroup filesystem visible at {root}: use --source docker")
    client = engine.connect(docker_host)
    try:
        run = _Run(
            client, out_path, total, step, flush_every, source, engine_filters, root, quiet, on_tick, host
        )
        return run.run()
    finally:
        client.close()


class _Run(Lives):
    """State of one collect run (kept off the module: no global mutable state)."""

    def __init__(
        self,
        client: Any,
        out: Path,
        total: float,
        step: float,
        flush_every: float,
        source: str,
        filters: dict[str, list[str]],
        root: Path,
        quiet: bool,
        on_tick: Callable[[int, int, int], None] | None,
        host: str | None = None,
    ) -> None:
        host = host or str(client.info().get("Name") or "localhost")
        super().__init__(client, source, filters, root, host, Buffers(out, host), step)
        self.out, self.total, self.flush_every = out, total, flush_every
        self.quiet, self.on_tick = quiet, on_tick
        self.waker = Waker()
        self.stop = self.waker.stop
        self.ticks = self.missed = 0
        self.engine_warned = False
        self.kernel_due = math.inf  # when the kernel's log is next read (``_read_kernel``)
        self.kernel_readable = self.kernel.readable  # at the start (closed at the end)

    # -- sampling --------------------------------------------------------------------------

    def _sample(self, ts_ms: int, clock: float, only_due: bool = False) -> None:
        """Read every tracked container (a tick), or ``only_due`` those whose early reading
        (``tracked.EARLY_READ``) fell due."""
        for cid, t in list(self.tracked.items()):
            if only_due and (t.due is None or t.due > clock):
                continue
            t.due = None
            if t.reader is not None:
                try:
                    cur = t.reader.read(clock, since=t.wants_start(self.began))
                except cgroups.CgroupGone:
                    self._finish(cid)
                    continue
            else:
                assert t.stream is not None
                if t.stream.ended.is_set():
                    self._finish(cid)
                    continue
                if t.stream.latest is None:
                    continue  # no payload yet: nothing measured to record
                cur = t.stream.latest
            rates = cpu_rates(t.baseline(cur, self.began), cur, t.info.cpu_limit)
            if rates is not None:  # a fresh reading; a stale one repeats the last rates
                t.rates, t.prev = rates, cur
            self._append(cid, t, cur, max(ts_ms, t.last_ts + 1))
            if t.rows == 1 and not t.has_cpu:
                t.read_soon(clock, self.step)  # its first reading: the second comes soon

    def _sleep(self, deadline: float, watcher: docker_events.EventWatcher) -> None:
        """Until ``deadline`` (the next tick, or the end), handling events as they arrive and taking
        early readings as they fall due."""
        def wake_at() -> float:  # an event (a start) may bring an early reading forward
            due = [t.due for t in self.tracked.values() if t.due is not None]
            return min([deadline, self.kernel_due, *due])

        while not self.stop.is_set():
            self.waker.sleep_until(wake_at, lambda: self._drain(watcher))
            if self.stop.is_set() or time.monotonic() >= deadline:
                return
            if time.monotonic() >= self.kernel_due:
                self._read_kernel()
            self._sample(int(time.time() * 1000), time.monotonic(), only_due=True)

    def _read_kernel(self) -> None:
        """The kernel's log, read before its ring buffer wraps over a kill: at each tick, and every
        ``kmsg.READ_EVERY`` seconds between ticks (an --interval of minutes would lose some)."""
        self.kernel.read()
        self.kernel_due = time.monotonic() + kmsg.READ_EVERY if self.kernel.readable else math.inf

    def _drain(self, watcher: docker_events.EventWatcher) -> None:
        """Handle the events received so far (at each tick, and between ticks as they arrive)."""
        self._handle_all(watcher.drain())

    def _drain_rest(self, watcher: docker_events.EventWatcher, until: float) -> None:
        """At the run's end: every event the engine logged up to the stop (its now; ``until`` if it
        tells none) not delivered by the stream (an OOM kill in the last instant, a stream closed)."""
        watcher.close()
        self._drain(watcher)  # all the stream delivered, handled even if the request below fails
        try:
            late = watcher.missed(until)
        except Exception as exc:
            self._engine_trouble(exc)
            return
        self._handle_all(late)

    def _handle_all(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            try:
                self._handle(event)
            except Exception as exc:  # engine unreachable for a moment: keep sampling what we have
                self._engine_trouble(exc)

    def _engine_trouble(self, exc: Exception) -> None:
        if not self.engine_warned:
            import warnings

            warnings.warn(f"the Docker engine did not answer ({exc}); still sampling known containers",
                          stacklevel=2)
            self.engine_warned = True

    def _warm_up(self, limit: float = 3.0) -> None:
        """Wait (briefly) for each engine stream's first payload, so the first tick has them all."""
        deadline = time.monotonic() + limit
        for t in self.tracked.values():
            while t.stream is not None and t.stream.latest is None and not t.stream.ended.is_set():
                if time.monotonic() > deadline or self.stop.wait(0.05):
                    return

    def run(self) -> CollectSummary:
        from rightsize.collector.progress import Progress

        self.began = time.time()
        try:
            watcher = docker_events.EventWatcher(
                self.client, since=self.began, wake=self.waker.wake, on_event=self.early.seen
            )
        except BaseException:  # opened with the run (lives.py): closed on every path
            self.early.close()
            self.kernel.close()
            raise
        # compared with the engine's start times and stream readings: on its clock, not ours (a
        # remote engine's clock behind ours made a restart during the run look older than the run)
        self.began = watcher.run_start
        handlers = self.waker.install_signals()
        progress = Progress(self.total, disabled=self.quiet)
        background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="relist")
        start = time.monotonic()
        try:
            self._add(self._list())
            self._warm_up()
            try:
                self.out.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # e.g. under /proc: access() said yes, the kernel says no
                raise RightsizeError(f"output {self.out} is not writable: {exc.strerror}") from None
            start = last_flush = last_list = time.monotonic()
            relist: Future[list[str]] | None = None
            end = start + self.total
            next_tick = start
            with progress:
                while not self.stop.is_set():
                    now = time.monotonic()
                    if now >= end:
                        break
                    self._drain(watcher)
                    self._read_kernel()  # its kills kept before the kernel's ring buffer wraps over them
                    try:
                        if relist is None and now - last_list >= RELIST_SECONDS:
                            relist = background.submit(self._list)  # a slow list never delays a tick
                        elif relist is not None and relist.done():
                            current, relist, last_list = set(relist.result()), None, now
                            for cid in set(self.tracked) - current:
                                self._finish(cid)
                            self._add(sorted(current))
                    except Exception as exc:  # engine unreachable for a moment: keep sampling what we have
                        self._engine_trouble(exc)
                    self._sample(int(time.time() * 1000), time.monotonic())
                    self.ticks += 1
                    if now - last_flush >= self.flush_every:
                        self.buffers.flush()  # refused: the rows stay buffered for the next one
                        last_flush = now
                    progress.update(now - start, len(self.tracked), self.n_samples, self.buffers.refused())
                    if self.on_tick:
                        self.on_tick(self.ticks, len(self.tracked), self.n_samples)
                    next_tick += self.step
                    late = time.monotonic() - next_tick
                    if late >= self.step:  # more than a whole tick behind: skip, never bunch up
                        skipped = math.floor(late / self.step)
                        self.missed += skipped
                        next_tick += skipped * self.step
                    self._sleep(min(next_tick, end), watcher)
                elapsed = time.monotonic() - start
                progress.update(elapsed, len(self.tracked), self.n_samples, self.buffers.refused())
            self._drain_rest(watcher, until=time.time())
            self._kernel_kills_all()
            self.buffers.flush(final=True)
        finally:
            self.waker.restore_signals(handlers)
            background.shutdown(wait=False, cancel_futures=True)
            watcher.stop()
            self.early.close()
            self.kernel.close()
            for cid, t in list(self.tracked.items()):
                if t.rows and not t.has_cpu:
                    self.no_cpu.append(no_cpu_reason(t.rows, ended=False))
                    self.no_cpu_ids.add(cid)
                self._drop(cid)
        b = self.buffers  # counts of what reached the dataset, not of what was tracked or sampled
        written_via = [how for cid, how in self.sources.items() if cid in b.containers]
        return CollectSummary(
            out=self.out,
            host=self.host,
            seconds=time.monotonic() - start,
            ticks=self.ticks,
            missed_ticks=self.missed,
            samples=b.written["samples"],
            events=b.written["events"],
            containers=len(b.containers),
            workloads=len(b.workloads),
            files=b.files,
            sources={k: written_via.count(k) for k in sorted(set(written_via))},
            interrupted=self.stop.is_set(),
            dropped=sum(b.dropped.values()),
            no_cpu=describe(self.no_cpu),
            no_cpu_containers=len(self.no_cpu_ids),
            oom_kills=sum(self.ooms.values()),
            oom_unread=len(self.oom_unread),
            oom_kernel_only=sum(self.inferred.values()),
            kernel_log=self.kernel_readable,
        )
