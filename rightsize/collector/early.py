"""What cannot wait for the loop: a matching container's create and start, acted on in the event
stream's own thread the moment they arrive (``EventWatcher(on_event=...)``).

The loop handles events one after another, with engine calls for each (list, inspect, cgroup
lookup), between ticks, flushes and relists; a busy or loaded host handles a start seconds after
it was logged. A short job is gone by then: its cgroup files and its stats (the engine answers an
exited container's stats with an empty payload), and with ``--rm`` its inspect too. So:

- at ``create`` its inspect is asked for at once (a small pool, the stream is never held up): the
  limits it runs with are known before it starts, and an OOM kill of a ``--rm`` job removed before
  the loop saw its start still has its memory limit;
- at ``start`` its readings begin at once: where its cgroup files are visible (``--source cgroup``
  and ``auto``), a ``CgroupStream`` reads them at once and every ``EARLY_READ`` seconds; else
  (``--source docker``, a remote engine) its engine stats stream is opened. The loop adopts them
  (under ``auto`` as the backup a life started during the run keeps until its cgroup reads give a
  CPU value), or, when the job already ended, writes its one row from them, CPU included. The
  files are read rather than the engine's stream where they can be: on a loaded host the engine
  sent no payload at all within a 2 s life now and then, where a read of the files takes a few
  hundred microseconds.

Events are judged against the filters from their own attributes (labels, name, image) here; the
loop's own check still decides, and closes a stream it does not adopt. An ``ancestor=`` filter the
event's image name does not meet (an image built ``FROM`` the one named) is judged from the image's
parent links (``ancestry.py``) in the pool, with the inspect at create; a start waiting for that
judgement opens its readings when it comes, and the loop waits for them (``JUDGE_WAIT`` at most).
A container judged so and removed before the loop could ask the engine still counts as matching
(``created``).
"""

from __future__ import annotations

import functools
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rightsize.collector.ancestry import Ancestry
from rightsize.collector.tracked import EARLY_READ, Readings
from rightsize.sources import cgroups
from rightsize.sources import docker as engine
from rightsize.sources.docker import ContainerInfo

# inspects kept for containers created during the run (a few hundred bytes each); the oldest go
# first, far after their container's start and OOM kill were handled
MAX_CREATED = 10_000
# longest the loop waits, at a start, for an ancestry judgement still under way (engine inspects of
# the container and its image's parents: milliseconds, unless the engine is very busy)
JUDGE_WAIT = 2.0


class CgroupStream:
    """A container's cgroup files read in a thread of their own, at once and every ``every`` seconds
    until they are gone or ``stop()``: what ``engine.StatsStream`` gives, without the engine. The
    readings are stamped with epoch seconds, as the engine's are."""

    def __init__(self, reader: cgroups.CgroupReader, every: float = EARLY_READ) -> None:
        self.reader, self.every = reader, every
        self.first: cgroups.Counters | None = None
        self.latest: cgroups.Counters | None = None
        self.ended = threading.Event()
        self._stopping = threading.Event()
        threading.Thread(target=self._run, name="cgroup-early", daemon=True).start()

    def _run(self) -> None:
        try:
            while True:
                reading = self.reader.read(time.time(), since=True)  # a life's own start: endings.py
                if self.first is None:
                    self.first = reading
                self.latest = reading
                if self._stopping.wait(self.every):
                    return
        except cgroups.CgroupGone:
            pass
        finally:
            self.ended.set()

    def stop(self) -> None:
        self._stopping.set()


class Early:
    """One run's early work (no global state). ``seen`` runs in the event thread, the rest in the loop.

    ``root``: read the cgroup files under it where visible (else an engine stats stream);
    ``engine``: open an engine stats stream where they are not (not under ``--source cgroup``).
    """

    def __init__(self, client: Any, filters: dict[str, list[str]], root: Path | None, engine: bool) -> None:
        self.client, self.filters, self.root, self.engine = client, filters, root, engine
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="inspect-at-create")
        self._created: OrderedDict[str, Future[ContainerInfo | None]] = OrderedDict()
        self._started: dict[str, Readings] = {}
        self._judging: dict[str, threading.Event] = {}  # starts waiting for their ancestry judgement
        self._closed = False
        self.ancestry = Ancestry(client)
        others = {k: v for k, v in filters.items() if k != "ancestor"}
        self._others = others if "ancestor" in filters else None  # the filters but ancestor=

    def seen(self, event: dict[str, Any]) -> None:
        """An event just read from the engine (the event thread: never blocks on the engine)."""
        cid = str(event.get("id") or "")
        action = str(event.get("Action") or event.get("status") or "")
        if not cid or action not in ("create", "start"):
            return
        if engine.event_matches(self.filters, event):
            judge = False
        elif self._others is not None and engine.event_matches(self._others, event):
            judge = True  # an image built from the one named, perhaps: asked of the engine
        else:
            return
        with self._lock:
            if self._closed:
                return
            if action == "create" or (judge and cid not in self._created):  # judged at a start too
                self._created[cid] = self._pool.submit(self._inspect, cid, judge)
                while len(self._created) > MAX_CREATED:
                    self._created.popitem(last=False)
            if action != "start":
                return
            if judge:
                token = self._judging[cid] = threading.Event()  # a later start replaces it
                judged = self._created[cid]
            else:
                old = self._started.pop(cid, None)  # a restart before the loop took the last one
                if (stream := self._stream(cid)) is not None:
                    self._started[cid] = stream
                if old is not None:
                    old.stop()
                return
        # outside the lock: a judgement already made calls back at once, in this thread
        judged.add_done_callback(functools.partial(self._open_judged, cid, token))

    def _open_judged(self, cid: str, token: threading.Event, judged: Future[ContainerInfo | None]) -> None:
        """A start's ancestry judgement came: its readings opened if it matched (a pool thread)."""
        stream = None
        try:
            if judged.result() is not None:
                stream = self._stream(cid)
        except Exception:  # cancelled at the run's end; or no stream (the loop reads it itself)
            pass
        old = None
        with self._lock:
            current = not self._closed and self._judging.get(cid) is token
            if current:
                del self._judging[cid]
                old = self._started.pop(cid, None)
                if stream is not None:
                    self._started[cid] = stream
        token.set()
        for stale in (old, None if current else stream):
            if stale is not None:
                stale.stop()

    def _stream(self, cid: str) -> Readings | None:
        # by its id alone (where Docker puts it): no inspect for its pid in this thread
        reader = cgroups.locate(cid, None, self.root) if self.root is not None else None
        if reader is not None:
            return CgroupStream(reader)
        return engine.StatsStream(self.client, cid) if self.engine else None

    def _inspect(self, cid: str, judge: bool = False) -> ContainerInfo | None:
        """The container's inspect; with ``judge``, None unless its image descends from an
        ``ancestor=`` filter's (``ancestry.py``)."""
        try:
            attrs = self.client.api.inspect_container(cid)
            if judge and not self.ancestry.descends(str(attrs.get("Image") or ""), self.filters["ancestor"]):
                return None
            return engine.info_from_inspect(attrs)
        except Exception:  # removed already, or the engine did not answer: as if never asked
            return None

    def created(self, cid: str) -> ContainerInfo | None:
        """The container as created during this run (its limits), if it was inspected in time (and,
        judged by its image's ancestry, matched)."""
        with self._lock:
            future = self._created.get(cid)
        if future is None:
            return None
        try:
            return future.result()
        except Exception:  # cancelled at the run's end
            return None

    def take_stream(self, cid: str) -> Readings | None:
        """The stats stream opened at the container's latest start; the caller adopts or stops it.
        One waiting for its ancestry judgement is waited for, ``JUDGE_WAIT`` at most (then given up:
        the loop reads the container itself)."""
        with self._lock:
            token = self._judging.get(cid)
        if token is not None and not token.wait(JUDGE_WAIT):
            with self._lock:
                if self._judging.get(cid) is token:
                    del self._judging[cid]  # its readings, when they come, are stopped
        with self._lock:
            return self._started.pop(cid, None)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            streams, self._started = list(self._started.values()), {}
        for stream in streams:
            stream.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)
