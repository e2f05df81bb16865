"""Containers that live ~2 s, shorter than one --interval, on the real engine: with `--source docker`
or `auto` they get a CPU value from the engine's stats stream (read from their start to their die
event); with `--source cgroup` no second reading exists (the files are gone by the die event), and
the summary says so."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

import rightsize
from rightsize.endings import NO_READING, ONE_READING, RUN_ENDED
from rightsize.sources import cgroups

pytestmark = [pytest.mark.docker, pytest.mark.slow]

BUSY_2S = "yes >/dev/null & sleep 2"


def _start_at_first_tick(run_container: Any, tag: str, started: list[Any]) -> Any:
    """Start the short-lived containers just after the first (and only) tick of a 10 s interval,
    and stop the run (SIGINT, as Ctrl-C) once both have exited: however slow the engine, the run
    sees both whole lives and never waits longer than it must."""

    def stop_when_exited() -> None:
        for c in started:
            c.wait(timeout=60)
        time.sleep(1.0)  # for the die events to reach the collector's event stream
        os.kill(os.getpid(), signal.SIGINT)

    def on_tick(ticks: int, containers: int, samples: int) -> None:
        if ticks == 1:
            labels = {"rs-short": tag}
            started.append(run_container(BUSY_2S, labels=labels, nano_cpus=500_000_000))
            started.append(run_container("sleep 2", labels=labels))
            threading.Thread(target=stop_when_exited, daemon=True).start()

    return on_tick


# docker: the container's own stream; auto: cgroup files at ticks, and for a container started
# during the run an engine stream until the files give a CPU value (they are gone at its die)
@pytest.mark.parametrize("source", ["docker", "auto"])
def test_a_two_second_container_gets_its_cpu(run_container: Any, tmp_path: Path, source: str) -> None:
    tag = uuid.uuid4().hex[:8]
    started: list[Any] = []
    on_tick = _start_at_first_tick(run_container, tag, started)
    run_container("sleep 3600", labels={"rs-short": tag})  # sampled at the tick: the dataset exists
    summary = rightsize.collect(
        tmp_path, duration="60s", interval="10s", flush="10s", source=source,
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
    # only the long-running one lacks CPU: read at the one tick (a first reading has none), and said so
    assert summary.no_cpu == {RUN_ENDED: 1}
    assert f"no CPU value: 1 container (1 {RUN_ENDED})" in str(summary)


def test_a_short_container_without_a_second_reading_is_counted(run_container: Any, tmp_path: Path) -> None:
    # The cgroup path reads the files at ticks only, and they are removed when the container exits:
    # a container living between two ticks has no CPU value there, and the summary names why.
    tag = uuid.uuid4().hex[:8]
    started: list[Any] = []
    on_tick = _start_at_first_tick(run_container, tag, started)
    run_container("sleep 3600", labels={"rs-short": tag})
    summary = rightsize.collect(
        tmp_path, duration="60s", interval="10s", flush="10s", source="cgroup",
        filters=[f"label=rs-short={tag}"], quiet=True, on_tick=on_tick,
    )
    samples = rightsize.load(tmp_path)
    for c in started:
        assert samples.loc[samples["container_id"] == c.id, "cpu_cores"].isna().all()
    counted = {k: v for k, v in summary.no_cpu.items() if k in (NO_READING, ONE_READING)}
    assert sum(counted.values()) == 2 and summary.no_cpu[RUN_ENDED] == 1, summary.no_cpu
    assert "no CPU value: 3 containers (" in str(summary)
