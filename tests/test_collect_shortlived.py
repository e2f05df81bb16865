"""Containers that live a few seconds, shorter than one --interval, on the real engine: with `--source docker`
they get a CPU value from the engine's stats stream, with `auto` from their cgroup files read once
a second from their start event (both kept to their die event: collector/early.py), as with `--source
cgroup` (the files are gone by the die event); one gone before any reading is counted in the summary."""

from __future__ import annotations

import dataclasses
import os
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import dies_logged, poll

import rightsize
from rightsize.collector.endings import NO_READING, ONE_READING, RUN_ENDED
from rightsize.sources import cgroups

# 4 s, not 2: under load the engine's stream sent no payload at all within a 2 s life in 2-3 of 7
# runs (the summary counts that case); the lives stay well inside one 10 s interval
LIFE = 4
BUSY = f"yes >/dev/null & sleep {LIFE}"


def _start_at_first_tick(
    run_container: Any, tag: str, started: list[Any], instant: list[Any] | None = None
) -> Any:
    """Start the short-lived containers just after the first (and only) tick of a 20 s interval
    (and a `true` job into ``instant``, if given), and stop the run (SIGINT, as Ctrl-C) once they
    have exited: however slow the engine, the run sees their whole lives and never waits longer
    than it must. They start from a thread of their own, as containers start beside a real run:
    from on_tick they blocked the collector's loop for the seconds `docker run` takes on a loaded
    host, so it handled a 4 s job's start event when the job was nearly gone."""

    def start_then_stop() -> None:
        since = time.time() - 1
        labels = {"rs-short": tag}
        started.append(run_container(BUSY, labels=labels, nano_cpus=500_000_000))
        started.append(run_container(f"sleep {LIFE}", labels=labels))
        if instant is not None:
            instant.append(run_container("true", labels=labels))
        for c in started:
            c.wait(timeout=60)
        # their die in the engine's log (logged a moment after the wait returns): the stop asks for
        # every event logged up to then
        poll(lambda: dies_logged(c.client, [s.id for s in started], since))
        os.kill(os.getpid(), signal.SIGINT)

    def on_tick(ticks: int, containers: int, samples: int) -> None:
        if ticks == 1:
            threading.Thread(target=start_then_stop, daemon=True).start()

    return on_tick


# docker: the container's own stream; auto: cgroup files at ticks, and for a container started
# during the run readings of them once a second from its start until the ticks give a CPU value
# (the files are gone at its die)
@pytest.mark.parametrize("source", ["docker", "auto"])
@pytest.mark.docker
@pytest.mark.slow
def test_a_job_shorter_than_an_interval_gets_its_cpu(run_container: Any, tmp_path: Path, source: str) -> None:
    tag = uuid.uuid4().hex[:8]
    started: list[Any] = []
    on_tick = _start_at_first_tick(run_container, tag, started)
    run_container("sleep 3600", labels={"rs-short": tag})  # sampled at the tick: the dataset exists
    summary = rightsize.collect(
        tmp_path, duration="60s", interval="20s", flush="20s", source=source,
        filters=[f"label=rs-short={tag}"], quiet=True, on_tick=on_tick,
    )
    busy, idle = started
    assert set(summary.sources) == {"docker" if source == "docker" else f"cgroup v{cgroups.detect_version()}"}
    samples = rightsize.load(tmp_path)
    events = rightsize.load_events(tmp_path)
    for c in (busy, idle):
        c.reload()
        assert c.status == "exited", c.name  # it lived and died inside the run
        assert {"start", "die"} <= set(events.loc[events["container_id"] == c.id, "kind"])

    # never sampled at a tick (it started after the only one): its row is its last stream reading
    mine = samples[samples["container_id"] == busy.id]
    cores = mine["cpu_cores"].dropna()
    assert len(cores) == 1
    # a busy loop held to its 0.5-core quota (it gets less when the shared machine is busy)
    assert 0.05 < cores.iloc[0] <= 0.6
    assert 0 <= mine["cpu_throttled"].dropna().iloc[0] <= 1
    assert (mine["cpu_limit"] == 0.5).all()
    assert mine["mem_working_set"].notna().all()

    quiet = samples.loc[samples["container_id"] == idle.id, "cpu_cores"].dropna()
    assert len(quiet) == 1 and quiet.iloc[0] < 0.05  # sleep: next to nothing, but measured
    assert summary.interrupted and summary.ticks == 1  # never sampled twice at a tick
    if source == "docker":
        # only the long-running one lacks CPU: read at the one tick (a first reading has none), and said so
        assert summary.no_cpu == {RUN_ENDED: 1}
        assert f"no CPU value: 1 container (1 {RUN_ENDED})" in str(summary)
    else:  # its cgroup files are read again 1 s after their first reading (tracked.EARLY_READ)
        assert summary.no_cpu == {}


@pytest.mark.docker
@pytest.mark.slow
def test_the_cgroup_source_measures_a_job_from_its_start_event(run_container: Any, tmp_path: Path) -> None:
    # The cgroup path reads the files at ticks, and they are removed when the container exits: a job
    # living between two ticks had no reading at all. Its files are now read from its start event,
    # once a second until they go, and its row has a CPU value; a job gone before its start event is
    # handled (`true`) still has none, and the summary names why.
    tag = uuid.uuid4().hex[:8]
    started: list[Any] = []
    instant: list[Any] = []
    on_tick = _start_at_first_tick(run_container, tag, started, instant)
    run_container("sleep 3600", labels={"rs-short": tag})
    summary = rightsize.collect(
        tmp_path, duration="60s", interval="20s", flush="20s", source="cgroup",
        filters=[f"label=rs-short={tag}"], quiet=True, on_tick=on_tick,
    )
    assert summary.interrupted and summary.ticks == 1  # the jobs lived between two ticks
    samples = rightsize.load(tmp_path)
    busy, idle = started
    cores = samples.loc[samples["container_id"] == busy.id, "cpu_cores"].dropna()
    assert len(cores) >= 1 and (cores > 0.05).all() and (cores <= 0.6).all(), cores.tolist()
    quiet = samples.loc[samples["container_id"] == idle.id, "cpu_cores"].dropna()
    assert len(quiet) >= 1 and (quiet < 0.05).all()
    instant_rows = samples[samples["container_id"] == instant[0].id]
    # the instant job: read once at its start event, when its files outlived that event by a moment
    # (early.CgroupStream), it has the CPU of its life if its process was still there to tell its
    # start; the long-running one has its CPU from its second reading
    if len(instant_rows) and instant_rows["cpu_cores"].notna().all():
        assert summary.no_cpu == {}, summary.no_cpu
        return
    reason = ONE_READING if len(instant_rows) else NO_READING
    assert summary.no_cpu == {reason: 1}, summary.no_cpu
    assert f"no CPU value: 1 container (1 {reason})" in str(summary)


# A real stream, trimmed to what is read: `docker run --cpus 0.5 IMAGE sh -c 'yes >/dev/null & sleep 2'`
# on engine 20.10 (cgroup v1). Two payloads while it ran, then the empty one sent after its exit.
STARTED_AT = "2026-11-28T12:29:55.985192688Z"
PAYLOADS = [
    {"read": "2026-11-28T12:29:56.01838574Z",
     "cpu_stats": {"cpu_usage": {"total_usage": 34986105},
                   "throttling_data": {"periods": 3, "throttled_periods": 0, "throttled_time": 0}},
     "memory_stats": {"usage": 782336, "max_usage": 4087808,
                      "stats": {"total_inactive_file": 0, "total_rss": 110592}},
     "pids_stats": {"current": 2}},
    {"read": "2026-11-28T12:29:57.028628937Z",
     "cpu_stats": {"cpu_usage": {"total_usage": 450189372},
                   "throttling_data": {"periods": 13, "throttled_periods": 0, "throttled_time": 0}},
     "memory_stats": {"usage": 782336, "max_usage": 4087808,
                      "stats": {"total_inactive_file": 0, "total_rss": 110592}},
     "pids_stats": {"current": 2}},
    {"read": "0001-01-01T00:00:00Z",
     "cpu_stats": {"cpu_usage": {"total_usage": 0},
                   "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}},
     "memory_stats": {}, "pids_stats": {}},
]


def test_the_last_reading_of_a_recorded_short_life() -> None:
    from rightsize.collector.endings import final_base
    from rightsize.collector.sampling import cpu_rates
    from rightsize.sources.docker import counters_from_stats, parse_time

    first, latest, after_exit = (counters_from_stats(p) for p in PAYLOADS)
    assert first is not None and latest is not None
    assert after_exit is None  # nothing to read once it exited
    started = parse_time(STARTED_AT)
    assert started is not None

    # started during the run: from the stream's first payload, 1.01 s before the last (both the
    # engine's readings; the 35 ms of CPU before the first, in the 33 ms after the engine's start
    # time, would count start-up CPU over too short a span: 0.431 cores from the start)
    picked = final_base(None, first, latest, started, began=started - 5)
    assert picked == (first, latest)
    rates = cpu_rates(first, latest, 0.5)
    assert rates is not None
    assert rates[0] == pytest.approx((450189372 - 34986105) / (latest.t - first.t) / 1e9)  # 0.411
    assert rates[1] == 0.0  # 10 more periods, none throttled
    # a first payload under MIN_SPAN before the last: from the start (fresh counters), its whole life
    near = dataclasses.replace(first, t=latest.t - 0.4)
    picked = final_base(None, near, latest, started, began=started - 5)
    assert picked is not None and picked[0] is not None and picked[0].t == started
    rates = cpu_rates(picked[0], latest, 0.5)
    assert rates is not None and rates[0] == pytest.approx(450189372 / (latest.t - started) / 1e9)

    # running before the run: from the stream's first payload
    picked = final_base(None, first, latest, started, began=started + 5)
    assert picked == (first, latest)
    # sampled at a tick already: from that reading; nothing new when the tick had the last one
    assert final_base(first, first, latest, started, began=started - 5) == (first, latest)
    assert final_base(latest, first, latest, started, began=started - 5) is None
    # one payload only, started before the run: a row, but no second reading for CPU
    assert final_base(None, first, first, started, began=started + 5) == (None, first)
