"""Races between `rightsize collect` and the engine, made to happen for real: a container removed
between the collector's list and its inspect, and events logged just before a run stops, which its
event stream had not delivered yet."""

from __future__ import annotations

import os
import signal
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import container_gone

import rightsize
from rightsize.collector.discovery import Discovery
from rightsize.collector.endings import NO_READING, ONE_READING


@pytest.mark.docker
@pytest.mark.slow
def test_a_container_removed_between_list_and_inspect_keeps_its_events(
    run_container: Any, docker_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The seam: the collector's id lookup for an event's container (list, then inspect) gets the
    # container removed, for real, right after the list matched it: the inspect then fails as it
    # does when a `docker run --rm` job ends in that instant. Its events were all rejected.
    tag = uuid.uuid4().hex[:8]
    labels = {"rs-race": tag}
    victim: list[Any] = []
    real_list = Discovery._list

    def list_then_remove(self: Discovery, ids: list[str] | None = None, all_states: bool = False) -> Any:
        found = real_list(self, ids, all_states)
        if ids and victim and ids == [victim[0].id] and victim[0].id in found:
            docker_client.api.remove_container(victim[0].id, force=True)
        return found

    monkeypatch.setattr(Discovery, "_list", list_then_remove)
    stop_at: list[int] = []

    def on_tick(ticks: int, containers: int, samples: int) -> None:
        if ticks == 1:
            victim.append(run_container("sleep 3600", labels=labels))
        elif not stop_at and victim and container_gone(docker_client, victim[0].id):
            stop_at.append(ticks + 2)  # two more ticks handle its events
        elif stop_at and ticks >= stop_at[0]:
            os.kill(os.getpid(), signal.SIGINT)

    run_container("sleep 3600", labels=labels)  # sampled: the dataset exists
    summary = rightsize.collect(tmp_path, duration="60s", interval="0.5s", flush="60s",
                                filters=[f"label=rs-race={tag}"], quiet=True, on_tick=on_tick)
    assert summary.interrupted
    events = rightsize.load_events(tmp_path)
    mine = events[events["container_id"] == victim[0].id]
    assert {"start", "die"} <= set(mine["kind"]), mine
    assert (mine["container"] == victim[0].name).all()
    assert (mine["workload"] == victim[0].name).all()
    # never read at a tick: the summary counts it (the sleeper has its CPU from its second tick).
    # Its one row, if any, is from the stream opened at its start (early.py) before it was removed
    samples = rightsize.load(tmp_path)
    rows = samples[samples["container_id"] == victim[0].id]
    assert len(rows) <= 1
    if rows["cpu_cores"].notna().any():  # two payloads came (a slow host)
        assert summary.no_cpu == {}, summary.no_cpu
    else:
        assert summary.no_cpu == {ONE_READING if len(rows) else NO_READING: 1}, summary.no_cpu


@pytest.mark.docker
def test_an_id_filter_holds_for_containers_started_during_the_run(run_container: Any, tmp_path: Path) -> None:
    # The event path looked a new container up by its own id alone, replacing --filter id=: every
    # container started during the run was collected.
    keep = run_container("sleep 3600")
    other: list[Any] = []

    def on_tick(ticks: int, containers: int, samples: int) -> None:
        if ticks == 1:
            other.append(run_container("sleep 3600"))
        elif ticks == 4:
            os.kill(os.getpid(), signal.SIGINT)

    rightsize.collect(tmp_path, duration="60s", interval="0.5s", flush="60s", filters=[f"id={keep.id[:12]}"],
                      quiet=True, on_tick=on_tick)
    assert other
    assert set(rightsize.load(tmp_path)["container_id"]) == {keep.id}
    assert other[0].id not in set(rightsize.load_events(tmp_path)["container_id"])


@pytest.mark.docker
@pytest.mark.slow
def test_events_logged_before_the_stop_but_not_delivered_are_drained(
    run_container: Any, docker_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An OOM-killed `--rm` job just before the run stops: its start/oom/die were logged by the
    # engine, but the run's event stream had not delivered them (made certain here by closing the
    # stream, as the engine closing it would, right before the job starts). The end of the run asks
    # the engine for what it logged up to the stop; events the stream did deliver are not repeated.
    from rightsize.sources import docker_events as engine

    watchers: list[engine.EventWatcher] = []
    real_init = engine.EventWatcher.__init__

    def keep(self: engine.EventWatcher, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        watchers.append(self)

    monkeypatch.setattr(engine.EventWatcher, "__init__", keep)
    tag = uuid.uuid4().hex[:8]
    labels = {"rs-race": tag}
    since = int(time.time()) - 1
    early: list[Any] = []
    oomer: list[Any] = []
    cut_at: list[int] = []

    def on_tick(ticks: int, containers: int, samples: int) -> None:
        if ticks == 1:
            early.append(run_container("sleep 0.3", labels=labels))  # delivered by the stream
        elif not cut_at and early:
            early[0].reload()
            if early[0].status == "exited":
                cut_at.append(ticks + 2)  # two more ticks: its events came through the stream
        elif cut_at and ticks == cut_at[0]:
            watchers[0].stop()
            oomer.append(run_container("dd if=/dev/zero of=/dev/null bs=64M", labels=labels, mem_limit="16m",
                                       memswap_limit="16m", auto_remove=True))
        elif oomer and container_gone(docker_client, oomer[0].id):
            os.kill(os.getpid(), signal.SIGINT)

    run_container("sleep 3600", labels=labels)  # sampled: the dataset exists
    summary = rightsize.collect(tmp_path, duration="120s", interval="0.5s", flush="60s",
                                filters=[f"label=rs-race={tag}"], quiet=True, on_tick=on_tick)
    assert summary.interrupted and oomer
    logged = docker_client.api.events(
        since=since, until=int(time.time()) + 1, decode=True,
        filters={"type": "container", "label": [f"rs-race={tag}"], "event": ["start", "oom", "die"]},
    )
    engine_kinds = [(e["id"], e["Action"]) for e in logged]
    events = rightsize.load_events(tmp_path)
    for c in (early[0], oomer[0]):
        mine = sorted(events.loc[events["container_id"] == c.id, "kind"])
        told = sorted(kind for cid, kind in engine_kinds if cid == c.id)
        # a kill the engine logged no `oom` for may be in the kernel's log (sources/kmsg.py, read as
        # root): then the dataset holds it too, once (as in test_collect_lifecycle)
        if c is oomer[0] and "oom" not in told and mine.count("oom") == 1:
            mine.remove("oom")
        assert mine == told, c.name
        assert {"start", "die"} <= set(mine)
    assert events.loc[events["container_id"] == oomer[0].id, "container"].eq(oomer[0].name).all()


@pytest.mark.docker
def test_a_run_ending_before_its_cgroup_is_found_is_counted_not_skipped(
    run_container: Any, docker_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A crash loop's run can end between the collector's inspect (running) and its cgroup lookup
    # (gone). It was taken for a container whose cgroup is not visible: a "not found" warning, and
    # its die, and every later run's, went uncounted. The seam ends it, for real, in that instant.
    from rightsize.sources import cgroups

    tag = uuid.uuid4().hex[:8]
    labels = {"rs-race": tag}
    victim: list[Any] = []
    real_locate = cgroups.locate

    def end_then_locate(container_id: str, *args: Any, **kwargs: Any) -> Any:
        if victim and container_id == victim[0].id:
            docker_client.api.kill(container_id)
            docker_client.api.wait(container_id, timeout=30)
        return real_locate(container_id, *args, **kwargs)

    monkeypatch.setattr(cgroups, "locate", end_then_locate)
    stop_at: list[int] = []

    def on_tick(ticks: int, containers: int, samples: int) -> None:
        if ticks == 1:
            victim.append(run_container("sleep 3600", labels=labels))
        elif not stop_at and victim:
            victim[0].reload()
            if victim[0].status == "exited":
                stop_at.append(ticks + 2)
        elif stop_at and ticks >= stop_at[0]:
            os.kill(os.getpid(), signal.SIGINT)

    run_container("sleep 3600", labels=labels)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        summary = rightsize.collect(tmp_path, duration="60s", interval="0.5s", flush="60s", source="cgroup",
                                    filters=[f"label=rs-race={tag}"], quiet=True, on_tick=on_tick)
    assert not [w for w in caught if "not found" in str(w.message)]
    assert summary.no_cpu == {NO_READING: 1}, summary.no_cpu


@pytest.mark.docker
@pytest.mark.slow
def test_an_event_stream_the_engine_closes_is_opened_again(
    run_container: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stream closed from the engine's side (a restart, a socket proxy's idle timeout) delivered
    # nothing more: a container started after it was found by the 30 s relist at best, and its
    # events only at the stop. The seam closes the run's stream's connection, as the engine would.
    from rightsize.collector import loop
    from rightsize.sources import docker_events as engine

    monkeypatch.setattr(loop, "RELIST_SECONDS", 3600.0)  # only its events can make it known
    watchers: list[engine.EventWatcher] = []
    real_init = engine.EventWatcher.__init__

    def keep(self: engine.EventWatcher, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        watchers.append(self)

    monkeypatch.setattr(engine.EventWatcher, "__init__", keep)
    tag = uuid.uuid4().hex[:8]
    labels = {"rs-race": tag}
    late: list[Any] = []
    stop_at: list[int] = []

    def on_tick(ticks: int, containers: int, samples: int) -> None:
        if ticks == 1:
            watchers[0]._stream.close()
        elif ticks == 2:
            late.append(run_container("sleep 3600", labels=labels))
        elif not stop_at and (containers == 2 or ticks == 40):  # tracked (or 20 s gone by: failed)
            stop_at.append(ticks + 2)
        elif stop_at and ticks >= stop_at[0]:
            os.kill(os.getpid(), signal.SIGINT)

    run_container("sleep 3600", labels=labels)
    rightsize.collect(tmp_path, duration="60s", interval="0.5s", flush="60s",
                      filters=[f"label=rs-race={tag}"], quiet=True, on_tick=on_tick)
    samples, events = rightsize.load(tmp_path), rightsize.load_events(tmp_path)
    assert (samples["container_id"] == late[0].id).sum() >= 2  # sampled during the run
    mine = events[events["container_id"] == late[0].id]
    assert mine["kind"].tolist() == ["start"]  # once, though asked for again from before it



def _a_start_after_the_stream_closed_is_kept(run_container: Any, tmp_path: Path, watchers: list[Any]) -> None:
    """A run whose event stream (``watchers[0]``) closes at its first tick, before a second container
    starts: only the stop's request for undelivered events can bring that start; it must."""
    tag = uuid.uuid4().hex[:8]
    labels = {"rs-race": tag}
    late: list[Any] = []

    def on_tick(ticks: int, containers: int, samples: int) -> None:
        if ticks == 1:
            watchers[0].stop()
            late.append(run_container("sleep 3600", labels=labels))
        elif ticks == 4:
            os.kill(os.getpid(), signal.SIGINT)

    run_container("sleep 3600", labels=labels)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rightsize.collect(tmp_path, duration="60s", interval="0.5s", flush="60s",
                          filters=[f"label=rs-race={tag}"], quiet=True, on_tick=on_tick)
    assert not [str(w.message) for w in caught if "did not answer" in str(w.message)]
    events = rightsize.load_events(tmp_path)
    assert events.loc[events["container_id"] == late[0].id, "kind"].tolist() == ["start"]


@pytest.mark.docker
def test_the_stop_asks_for_late_events_up_to_the_engines_clock(
    run_container: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An engine whose clock runs ahead of ours (a remote one): the stop asked it for the events up to
    # our stop time, seconds in its past, so those of the last seconds were never drained (a 'since'
    # after that 'until' is a 400, which docker-py reads as no events). The seams: our
    # stop time 5 s back, as a clock 5 s behind the engine's would give; the stream closed before a
    # container starts, so its start can only come from the request at the stop.
    from rightsize.sources import docker_events as engine

    watchers: list[engine.EventWatcher] = []
    real_init, real_missed = engine.EventWatcher.__init__, engine.EventWatcher.missed

    def keep(self: engine.EventWatcher, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        watchers.append(self)

    monkeypatch.setattr(engine.EventWatcher, "__init__", keep)
    monkeypatch.setattr(engine.EventWatcher, "missed", lambda self, until: real_missed(self, until - 5))
    _a_start_after_the_stream_closed_is_kept(run_container, tmp_path, watchers)


@pytest.mark.docker
def test_the_stop_keeps_an_event_stamped_at_the_engines_clock_and_none_after_it(
    run_container: Any, docker_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The stop's request for undelivered events ends at the engine's clock (docker info SystemTime).
    # It was read as a float of microseconds: an event stamped in that very microsecond fell past
    # the request's end and was lost. The request now stays open a moment past that clock (an event
    # stamped before it may reach the engine's log after a request for past events only was
    # answered), so one stamped after it must be left out by its stamp. The seams: the stream closed
    # before `first` and `after` start (only the stop's request can bring their starts); at the
    # stop, the engine's clock is answered with `first`'s own start stamp (as if read at that
    # instant), and the request stays open 3 s past it, so `after`'s start, stamped later, is in
    # the engine's answer.
    from rightsize.sources import docker_events as engine

    watchers: list[engine.EventWatcher] = []
    real_init, real_missed = engine.EventWatcher.__init__, engine.EventWatcher.missed

    def keep(self: engine.EventWatcher, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        watchers.append(self)

    tag = uuid.uuid4().hex[:8]
    labels = {"rs-race": tag}
    first: list[Any] = []
    after: list[Any] = []
    stamps: list[int] = []

    class ClockAtFirstStart:
        """The run's client, but its clock reads the instant `first` started."""

        def __init__(self, client: Any) -> None:
            self.api, self._client = client.api, client

        def info(self) -> dict[str, Any]:
            logged = docker_client.api.events(
                since=int(time.time()) - 60, until=int(time.time()) + 1, decode=True,
                filters={"type": "container", "container": [first[0].id], "event": ["start"]})
            stamps.extend(e["timeNano"] for e in logged)
            secs, nanos = divmod(stamps[0], 1_000_000_000)
            clock = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{nanos:09d}Z"
            return {**self._client.info(), "SystemTime": clock}

    def missed_at_first_start(self: engine.EventWatcher, until: float) -> list[dict[str, Any]]:
        real_client, self._client = self._client, ClockAtFirstStart(self._client)
        try:
            return real_missed(self, until)
        finally:
            self._client = real_client

    monkeypatch.setattr(engine.EventWatcher, "__init__", keep)
    monkeypatch.setattr(engine.EventWatcher, "missed", missed_at_first_start)
    monkeypatch.setattr(engine.EventWatcher, "TAIL_SECONDS", 3.0)

    def on_tick(ticks: int, containers: int, samples: int) -> None:
        if ticks == 1:
            watchers[0].stop()
            first.append(run_container("sleep 3600", labels=labels))
            after.append(run_container("sleep 3600", labels=labels))
        elif ticks == 4:
            os.kill(os.getpid(), signal.SIGINT)

    run_container("sleep 3600", labels=labels)
    rightsize.collect(tmp_path, duration="60s", interval="0.5s", flush="60s",
                      filters=[f"label=rs-race={tag}"], quiet=True, on_tick=on_tick)
    assert len(stamps) == 1 and after
    events = rightsize.load_events(tmp_path)
    mine = events[events["container_id"] == first[0].id]
    assert mine["kind"].tolist() == ["start"]
    assert mine["ts"].iloc[0].value // 1_000_000 == stamps[0] // 1_000_000
    assert after[0].id not in set(events["container_id"])


@pytest.mark.docker
def test_the_stop_asks_for_late_events_from_the_run_start_on_the_engines_clock(
    run_container: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Our clock ahead of the engine's (a remote one): the run's start, on our clock, was a time in
    # the engine's future, and with no event delivered by the stream the stop asked for events
    # since then, past the request's end: the engine refused it (a 400, which docker-py reads as
    # no events) and the last events were lost. The seams: the run's start handed to the watcher 60 s
    # ahead, as such a clock gives it; the stream closed before the only container starts.
    from rightsize.sources import docker_events as engine

    watchers: list[engine.EventWatcher] = []
    real_init = engine.EventWatcher.__init__

    def ahead(self: engine.EventWatcher, client: Any, since: float, *args: Any, **kwargs: Any) -> None:
        real_init(self, client, since + 60, *args, **kwargs)
        watchers.append(self)

    monkeypatch.setattr(engine.EventWatcher, "__init__", ahead)
    _a_start_after_the_stream_closed_is_kept(run_container, tmp_path, watchers)
