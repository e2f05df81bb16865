"""Jobs shorter than the collector's second reading (under a second) get a CPU value from one reading
of their cgroup files and the start of their counters: the start of the cgroup's oldest process
(``cgroups.life_start``), not the engine's ``State.StartedAt``, which is stamped after start-up CPU
was spent. On recorded real readings, and for real on the engine under ``auto`` and ``cgroup``."""

from __future__ import annotations

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
from rightsize.collector.endings import NO_READING, RUN_ENDED, final_base, life_base
from rightsize.collector.sampling import cpu_rates
from rightsize.sources import cgroups
from rightsize.sources.cgroups import Counters
from rightsize.sources.docker import parse_time

# Recorded on engine 20.10 (cgroup v1, 2 CPUs, USER_HZ 100): `docker run --cpus 0.5 IMAGE sh -c
# 'yes >/dev/null & sleep 0.4'`, read 0.25 s after `docker run` returned. sh exec'd sleep (pid 19823,
# the container's first process), yes is its child.
CLOCK = 1795913215.3872879  # time.time() at the read
BOOT_NOW = 71880.460366836  # CLOCK_BOOTTIME just after it
STARTED_AT = "2026-11-29T00:46:55.124063183Z"  # State.StartedAt
FILES = {
    "cpuacct/cpuacct.usage": "170091908\n",
    "cpu/cpu.stat": "nr_periods 5\nnr_throttled 2\nthrottled_time 23032441\nnr_bursts 0\nburst_time 0\n",
    "memory/memory.usage_in_bytes": "1\n",
}
STATS = [
    "19823 (sleep) S 19800 19823 19823 0 -1 4194560 1008 0 0 0 1 0 0 0 20 0 1 0 7188000 2322432 332 "
    "18446744073709551615 4198400 5785993 140726921942048 0 0 0 0 4 0 1 0 0 17 0 0 0 0 0 0 6141704 "
    "6178576 475238400 140726921944946 140726921944956 140726921944956 140726921945065 0\n",
    "19854 (yes) R 19823 19823 19823 0 -1 4194368 27 0 0 0 14 0 0 0 20 0 1 0 7188019 2322432 282 "
    "18446744073709551615 4198400 5785993 140735946379728 0 0 0 0 6 65536 0 0 0 17 1 0 0 0 0 0 6141704 "
    "6178576 750419968 140735946383216 140735946383249 140735946383249 140735946383344 0\n",
]


def _recorded() -> Counters:
    reading = cgroups.counters_v1(FILES, CLOCK)
    ticks = [cgroups.start_ticks(s) for s in STATS]
    start = cgroups.life_start(ticks, reading.cpu_ns, CLOCK, BOOT_NOW, hz=100, cpus=2)
    return Counters(**{**{f: getattr(reading, f) for f in reading.__slots__}, "start": start})


def test_one_reading_and_the_start_of_its_counters_give_a_short_job_its_cpu() -> None:
    assert [cgroups.start_ticks(s) for s in STATS] == [7188000, 7188019]
    assert cgroups.start_ticks("1 (a) b) S") is None and cgroups.start_ticks(None) is None
    reading = _recorded()
    assert reading.start == pytest.approx(CLOCK - (BOOT_NOW - 71880.00))  # the oldest process's start
    began = CLOCK - 60  # the run began a minute before
    # its only reading: the last row of a job that died before a second one
    picked = final_base(None, reading, reading, parse_time(STARTED_AT), began)
    assert picked is not None and picked[0] == Counters(t=reading.start, cpu_ns=0, periods=0, throttled=0)
    rates = cpu_rates(picked[0], reading, 0.5)
    assert rates is not None and rates[0] is not None
    assert rates[0] == pytest.approx(0.170091908 / 0.460366836)  # 0.37 cores, under its 0.5 quota
    assert rates[1] == pytest.approx(2 / 5)
    # from State.StartedAt, stamped 0.2 s after that start with start-up CPU spent: 0.65 cores,
    # beyond the quota: why the engine's start time is only a base over MIN_SPAN (endings.py)
    started_at = parse_time(STARTED_AT)
    assert started_at is not None
    assert 0.170091908 / (CLOCK - started_at) > 0.5


def test_a_start_is_not_taken_when_it_is_not_that_of_the_counters() -> None:
    reading = _recorded()
    # a life started before the run: its first row keeps no CPU value (not one mean over its life)
    assert life_base(reading, began=CLOCK - 0.1) is None
    assert final_base(None, reading, reading, None, CLOCK - 0.1) == (None, reading)
    # more CPU than 2 CPUs give since that start: not this counter's start (a cgroup not recreated)
    assert cgroups.life_start([7188000], 2 * 10**9, CLOCK, BOOT_NOW, hz=100, cpus=2) is None
    assert cgroups.life_start([], 1, CLOCK, BOOT_NOW, hz=100, cpus=2) is None  # its processes gone
    # read as its processes were gone: the first reading's start, if its counters did not go back
    gone = Counters(t=CLOCK + 0.3, cpu_ns=reading.cpu_ns + 10**8)  # type: ignore[operator]
    picked = final_base(None, reading, gone, None, CLOCK - 60)
    assert picked is not None and picked[0] is not None and picked[0].t == reading.start
    # a restart between (a fresh cgroup: counters from 0): not from the old life's start
    restarted = Counters(t=CLOCK + 0.3, cpu_ns=10**6)
    assert final_base(None, reading, restarted, None, CLOCK - 60) == (reading, restarted)


# ------------------------------------------------------------------------------------------ real

LIFE = 0.5  # under tracked.EARLY_READ: one reading of its cgroup files, at its start event


def _run_jobs_then_stop(client: Any, run_container: Any, tag: str, jobs: list[Any]) -> Any:
    """on_tick: after the first tick (of a 20 s interval), from a thread of its own, start the jobs,
    wait until the engine logged their die, then stop the run (SIGINT, as Ctrl-C)."""

    def go() -> None:
        since = time.time() - 1
        labels = {"rs-s9short": tag}
        for _ in range(2):
            jobs.append(run_container(f"yes >/dev/null & sleep {LIFE}", labels=labels, nano_cpus=500_000_000))
            jobs.append(run_container(f"sleep {LIFE}", labels=labels))
        poll(lambda: dies_logged(client, [j.id for j in jobs], since), timeout=120)
        os.kill(os.getpid(), signal.SIGINT)

    def on_tick(ticks: int, containers: int, samples: int) -> None:
        if ticks == 1:
            threading.Thread(target=go, daemon=True).start()

    return on_tick


@pytest.mark.parametrize("source", ["auto", "cgroup"])
@pytest.mark.docker
@pytest.mark.slow
def test_jobs_of_half_a_second_get_their_cpu(
    run_container: Any, docker_client: Any, tmp_path: Path, source: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    jobs: list[Any] = []
    run_container("sleep 3600", labels={"rs-s9short": tag})  # read at the tick: the dataset exists
    summary = rightsize.collect(
        tmp_path, duration="10m", interval="20s", flush="20s", source=source,
        filters=[f"label=rs-s9short={tag}"], quiet=True,
        on_tick=_run_jobs_then_stop(docker_client, run_container, tag, jobs),
    )  # fmt: skip
    assert summary.interrupted and summary.ticks == 1  # the jobs lived between two ticks
    assert set(summary.sources) == {f"cgroup v{cgroups.detect_version()}"}
    samples = rightsize.load(tmp_path)
    read = 0
    for i, job in enumerate(jobs):
        rows = samples[samples["container_id"] == job.id]
        if rows.empty:
            continue  # gone before its start event was handled (a very busy host): counted below
        read += 1
        assert len(rows) == 1, rows  # one reading: no second one within its life
        cores = rows["cpu_cores"].iloc[0]
        if i % 2 == 0:  # a busy loop held to 0.5 CPUs, and its start-up, over its whole life
            assert 0.02 < cores <= 0.8, cores
            assert (rows["cpu_limit"] == 0.5).all()
        else:  # sleep: its start-up CPU only (the runtime's init runs in the fresh cgroup: 0.06-0.15 seen)
            assert 0 <= cores < 0.3, cores
    assert read >= 1, "no job was read in its half second"
    # without a CPU value: the jobs gone before any reading, none "exited after one reading" (and
    # the long-running container if the run ended before its second reading, 1 s after the tick)
    assert summary.no_cpu.get(NO_READING, 0) == len(jobs) - read, summary.no_cpu
    assert set(summary.no_cpu) <= {NO_READING, RUN_ENDED}, summary.no_cpu
