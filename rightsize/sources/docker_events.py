"""The Docker Engine's container event stream: read in a thread, reopened when the engine closes it,
and drained at the stop up to the engine's own clock.

The engine stamps an event (``time.Now()``) before it takes its log's lock to store and publish it,
and a request for past events only (an ``until`` before the engine's now) is answered from a
snapshot of that log: an event stamped just before the ``until`` but stored an instant after the
snapshot is in neither the closed stream nor the answer. So the stop's request stays open
``TAIL_SECONDS`` past the engine's now (the engine subscribes it to live events under the same
lock as the snapshot, so nothing falls between), and only events stamped up to that now are kept.
"""

from __future__ import annotations

import contextlib
import queue
import re
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from rightsize.sources.docker import parse_time


class _Seen:
    """The events seen lately (within ``overlap_ns`` of the newest), to tell a repeat when the
    engine is asked again from a little before the last one: its log is in order, give or take
    events logged at once (each takes its time before the log's lock)."""

    def __init__(self, overlap_ns: int) -> None:
        self.overlap_ns = overlap_ns
        self.last_ns = 0
        self.recent: dict[tuple[str, str, int], int] = {}

    def add(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            ns = event_ns(event)
            self.recent[event_key(event)] = ns
            self.last_ns = max(self.last_ns, ns)
        if events:
            oldest = self.last_ns - self.overlap_ns
            self.recent = {k: ns for k, ns in self.recent.items() if ns >= oldest}

    def since(self, default: float) -> float:
        """Where to ask again from (epoch seconds): a little before the last event seen."""
        return (self.last_ns - self.overlap_ns) / 1e9 if self.last_ns else default

    def __contains__(self, event: dict[str, Any]) -> bool:
        return event_key(event) in self.recent


class EventWatcher:
    """The engine's container event stream, read in a daemon thread into a queue.

    A stream the engine closes (a restart, a proxy's idle timeout) is opened again from the last
    event received, repeats skipped. ``on_event`` is called in the reading thread for each new
    event, before it is queued (work that cannot wait for the loop: ``collector/early.py``).
    At the stop: ``close()``, a last ``drain()``, then ``missed(until)`` asks the engine once more
    for what it logged up to its now that was not handed out (an event logged just before the stop
    may still have been on its way).
    """

    # create: inspected at once (collector/early.py), not a dataset event;
    # update: `docker update`, apply --live; rename: the rows' container (and workload) name
    ACTIONS = ("create", "start", "die", "oom", "restart", "update", "rename")
    OVERLAP_NS = 1_000_000_000
    REOPEN_SECONDS = 1.0  # pause before opening a closed stream again (an engine that is down)
    # an event's stamp-to-log delay is microseconds; a loaded host may hold the engine's thread
    # for a scheduler slice or a few (milliseconds each): far less than this, which every stop waits
    TAIL_SECONDS = 0.25

    def __init__(
        self,
        client: Any,
        since: float,
        wake: threading.Event | None = None,
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.queue: queue.Queue[dict[str, Any]] = queue.Queue()
        self._client = client
        # the run's start on the engine's clock, which stamps the events (``since``, ours, if it
        # tells none): from ours, a clock ahead of the engine's asked the stop's request for events
        # since a time past its end (the engine refuses it), one behind replayed events of before
        now_ns = parse_time_ns(str(client.info().get("SystemTime") or ""))
        self._since = now_ns / 1e9 if now_ns is not None else since
        self._filters = {"type": "container", "event": list(self.ACTIONS)}
        self._handed = _Seen(self.OVERLAP_NS)  # by drain (the loop's thread)
        self._queued = _Seen(self.OVERLAP_NS)  # by the reading thread
        self._stopped = threading.Event()
        self._wake = wake  # set on every event: the loop handles a start at once, not at the next tick
        self._on_event = on_event
        self._stream = self._open(self._since)  # not a second earlier: events before the run are not its
        self._thread = threading.Thread(target=self._run, name="docker-events", daemon=True)
        self._thread.start()

    @property
    def run_start(self) -> float:
        """The run's start on the engine's clock (epoch seconds), which the engine's times are on."""
        return self._since

    def _open(self, since: float) -> Any:
        return self._client.api.events(since=f"{max(since, 0):.9f}", decode=True, filters=self._filters)

    def _run(self) -> None:
        stream = self._stream
        while True:
            try:
                for event in stream:
                    if event in self._queued:
                        continue  # sent again after a reopen
                    self._queued.add([event])
                    if self._on_event is not None:
                        with contextlib.suppress(Exception):  # its failure must not end the stream
                            self._on_event(event)
                    self.queue.put(event)
                    if self._wake is not None:
                        self._wake.set()
            except Exception:  # closed by stop(), or by the engine
                pass
            if self._stopped.wait(self.REOPEN_SECONDS):
                return
            with contextlib.suppress(Exception):  # still unreachable: try again after the pause
                stream = self._stream = self._open(self._queued.since(self._since))
                if self._stopped.is_set():  # stop() came while opening
                    stream.close()
                    return

    def drain(self) -> list[dict[str, Any]]:
        events = []
        while True:
            try:
                events.append(self.queue.get_nowait())
            except queue.Empty:
                self._handed.add(events)
                return events

    def close(self) -> None:
        """Close the stream and wait for its thread: the queue then holds all it delivered."""
        self.stop()
        self._thread.join(timeout=5)

    def missed(self, until: float) -> list[dict[str, Any]]:
        """The events logged up to the engine's now (``until``, epoch seconds, if it tells none)
        not handed out by ``drain`` (call after ``close()`` and a last ``drain()``: whatever the
        queue still holds is in the answer too, as it was not handed out)."""
        # the engine's clock, not ours: one ahead of ours stamps the last seconds' events past our
        # stop; one behind would be asked to stream on until our time
        cutoff_ns = parse_time_ns(str(self._client.info().get("SystemTime") or "")) or int(until * 1e9)
        since = self._handed.since(self._since)
        stream = self._client.api.events(
            since=f"{max(since, 0):.9f}", until=_seconds(cutoff_ns, self.TAIL_SECONDS), decode=True,
            filters=self._filters,
        )
        try:
            late = [e for e in stream if event_ns(e) <= cutoff_ns and e not in self._handed]
        finally:
            with contextlib.suppress(Exception):
                stream.close()
        self._handed.add(late)
        return late

    def stop(self) -> None:
        self._stopped.set()
        with contextlib.suppress(Exception):
            self._stream.close()


def _seconds(ns: int, plus: float = 0.0) -> str:
    """Epoch nanoseconds (+ ``plus`` seconds) as the API's ``seconds.nanoseconds``, exactly."""
    ns += round(plus * 1e9)
    return f"{ns // 1_000_000_000}.{ns % 1_000_000_000:09d}"


_FRACTION = re.compile(r"\.(\d+)")


def parse_time_ns(text: str | None) -> int | None:
    """RFC 3339 with nanoseconds (``2024-08-31T22:02:27.639190522Z``, or an offset) -> epoch
    nanoseconds, exactly (a float of epoch seconds keeps about a quarter of a microsecond, and
    ``parse_time`` microseconds: an event stamped in the lost digits was left out of the stop's
    request)."""
    if not text or text.startswith("0001-01-01"):
        return None
    match = _FRACTION.search(text)
    digits = match.group(1) if match else ""
    whole = _FRACTION.sub("", text, count=1).replace("Z", "+00:00")
    try:
        seconds = int(datetime.fromisoformat(whole).timestamp())
    except ValueError:
        fallback = parse_time(text)
        return None if fallback is None else int(fallback * 1e9)
    return seconds * 1_000_000_000 + int((digits + "000000000")[:9] or 0)


def event_ns(event: Mapping[str, Any]) -> int:
    """An engine event's time, nanoseconds since the epoch."""
    return int(event.get("timeNano") or 0) or int(event.get("time") or 0) * 1_000_000_000


def event_key(event: Mapping[str, Any]) -> tuple[str, str, int]:
    """What tells two engine events apart: container, action, time."""
    action = str(event.get("Action") or event.get("status") or "")
    return (str(event.get("id") or ""), action, event_ns(event))
