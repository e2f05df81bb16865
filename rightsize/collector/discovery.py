"""Which containers a collect run reads, and how: engine lists and inspects, the matching of event
senders against the filters, and a new container's reader (cgroup files, engine stream, or both).

The base of the run's state (``loop._Run``): kept apart so the loop module stays about the loop.
"""

from __future__ import annotations

import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rightsize.collector.early import CgroupStream
from rightsize.collector.tracked import Readings, Tracked
from rightsize.sources import cgroups
from rightsize.sources import docker as engine
from rightsize.sources.docker import ContainerInfo


class Discovery:
    """The engine's containers as one run sees them (no global state: one instance per run)."""

    def __init__(self, client: Any, source: str, filters: dict[str, list[str]], root: Path) -> None:
        self.client, self.source, self.filters, self.root = client, source, filters, root
        self.began = time.time()
        self.tracked: dict[str, Tracked] = {}
        self.known: dict[str, ContainerInfo] = {}  # every matching container seen (for events)
        self.rejected: set[str] = set()
        self.gone: set[str] = set()  # matching containers removed before they could be inspected
        # restart count already accounted for per container id; not ``known``, which a relist
        # refreshes while the container waits to restart (its count already raised)
        self.restarts: dict[str, int] = {}
        self.sources: dict[str, str] = {}  # container id -> how it is read
        self.untracked: set[str] = set()  # matching but unreadable (cgroup not found)
        self.cgroup_warned = False

    def _list(self, ids: list[str] | None = None, all_states: bool = False) -> list[str]:
        filters = dict(self.filters)
        if ids:
            filters["id"] = ids
        return [c["Id"] for c in self.client.api.containers(all=all_states, filters=filters)]

    def _inspect(self, cid: str) -> ContainerInfo | None:
        try:
            return engine.info_from_inspect(self.client.api.inspect_container(cid))
        except Exception:  # gone between list and inspect
            return None

    def _track(self, infos: list[ContainerInfo], early: Readings | None = None) -> None:
        """Track each running container; ``early``, the stream opened at the start of the one
        container given (``early.py``), is adopted as its engine stream (the caller stops it if not)."""
        for info in infos:
            self.known[info.id] = info
            # Restarts already accounted for, when first seen in a list: a life started during the
            # run, or a container waiting to restart, has its count raised already and its start
            # event (which counts that restart) still to be handled
            pending = info.restarts > 0 and (info.restarting or (info.started_at or 0) >= self.began)
            self.restarts.setdefault(info.id, info.restarts - pending)
            if info.id in self.tracked or info.pid is None:
                continue
            reader = None
            if self.source in ("auto", "cgroup"):
                reader = cgroups.locate(info.id, info.pid, self.root)
                if reader is None and self.source == "cgroup":
                    again = self._inspect(info.id)
                    if again is None or again.pid != info.pid:
                        continue  # this run ended before its cgroup was found: its die counts it
                    self.untracked.add(info.id)
                    if not self.cgroup_warned:
                        msg = f"cgroup of {info.name} not found under {self.root}; skipped"
                        warnings.warn(msg, stacklevel=2)
                        self.cgroup_warned = True
                    continue
            stream = None if reader else early or engine.StatsStream(self.client, info.id)
            kind = f"cgroup v{reader.version}" if reader else "docker"
            self.sources[info.id] = kind
            # a life started during the run (auto, cgroup): readings of its files from its start, kept
            # until a tick's read gives a CPU value (they are gone at its die)
            fresh = reader and (info.started_at or 0) >= self.began
            backup = (early or CgroupStream(reader)) if fresh and reader else None
            early = None  # one container's
            self.tracked[info.id] = Tracked(info, reader, stream, backup)

    def _add(self, ids: list[str]) -> None:
        new = [i for i in ids if i not in self.tracked]
        if not new:
            return
        with ThreadPoolExecutor(max_workers=min(8, len(new))) as pool:
            infos = [i for i in pool.map(self._inspect, new) if i is not None]
        self._track(infos)

    def _drop(self, cid: str) -> None:
        t = self.tracked.pop(cid, None)
        if t:
            t.close()

    def _matches(self, cid: str, event: dict[str, Any]) -> bool:
        """Whether the container an event is about passes the run's filters (asked once per id)."""
        if cid in self.known or cid in self.gone:
            return True
        if cid in self.rejected:
            return False
        # the id lookup below replaces any --filter id=, so that filter is judged here
        if "id" in self.filters and not engine.event_matches({"id": self.filters["id"]}, event):
            self.rejected.add(cid)
            return False
        listed = bool(self._list([cid], all_states=True))
        info = self._inspect(cid)
        if info is not None and listed:
            self.known[cid] = info
            return True
        # Gone (inspect failed): removed before it could be looked up (docker run --rm killed at
        # once), or between the list, which matched it against the filters, and the inspect: its
        # events count, named from their own attributes (an image built from an ancestor= filter's
        # is not in them: judged at its create).
        if info is None and (
            listed or engine.event_matches(self.filters, event) or self._matched_at_create(cid)
        ):
            self.gone.add(cid)
            return True
        self.rejected.add(cid)
        return False

    def _matched_at_create(self, cid: str) -> bool:
        """Whether a container removed before the engine could be asked was found matching when it
        was created (``Lives``: ``early.py``, which judges an ``ancestor=`` filter by image ancestry)."""
        return False
