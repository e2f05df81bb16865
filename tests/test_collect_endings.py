"""How a container's life ends inside a `rightsize collect` run on the real engine: an OOM kill before
its first sample still has the limit it ran with; a container that dies before its second reading
still gets a CPU value where one can be measured."""

from __future__ import annotations

import os
import signal
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

import rightsize
from rightsize.analysis.history import histories

MiB = 1024**2
# The first run is OOM-killed after 0.5 s (dd's 64 MiB buffer in 16 MiB): before the collector's
# first row of it (1 s after its start event under --source cgroup, tracked.EARLY_READ). Killed at
# once, the engine sometimes logs no oom under load (its watch was not set yet). The policy restart
# finds the marker in the container's file system and sleeps.
OOM_SOON = (
    "if [ -e /tmp/ran ]; then exec sleep 3600; fi; touch /tmp/ran; sleep 0.5; "
    "dd if=/dev/zero of=/dev/null bs=64M"
)


@pytest.mark.docker
@pytest.mark.slow
def test_an_oom_kill_before_the_first_sample_carries_its_limit(run_container: Any, tmp_path: Path) -> None:
    # Started just after the first tick of a 5 s interval and killed 0.5 s later: no row of it existed
    # at its kill, so the analysis found no limit in force for it (NaN), only rows after the restart.
    # --source cgroup: no engine stream whose last payload would give it a row at its die.
    tag = uuid.uuid4().hex[:8]
    labels = {"rs-end": tag}
    oomer: list[Any] = []

    def on_tick(ticks: int, containers: int, samples: int) -> None:
        if ticks == 1:
            oomer.append(run_container(OOM_SOON, labels=labels, mem_limit="16m", memswap_limit="16m",
                                       restart_policy={"Name": "on-failure", "MaximumRetryCount": 1}))
        elif ticks == 2:  # sampled once after its restart
            os.kill(os.getpid(), signal.SIGINT)

    run_container("sleep 3600", labels=labels)
    rightsize.collect(tmp_path, duration="60s", interval="5s", flush="60s", source="cgroup",
                      filters=[f"label=rs-end={tag}"], quiet=True, on_tick=on_tick)
    samples, events = rightsize.load(tmp_path), rightsize.load_events(tmp_path)
    c = oomer[0]
    kills = events[(events["container_id"] == c.id) & (events["kind"] == "oom")]
    assert len(kills) == 1, events
    rows = samples[samples["container_id"] == c.id]
    at_kill = rows[rows["ts"] <= kills["ts"].iloc[0]]
    assert len(at_kill) == 1 and at_kill["mem_limit"].iloc[0] == 16 * MiB
    assert (rows["oom_kills"] == 1).all()
    [history] = [h for h in histories(samples, events) if h.workload == c.name]
    assert history.oom_limits == (16 * MiB,)


@pytest.mark.parametrize("source", ["auto", "cgroup"])
@pytest.mark.docker
@pytest.mark.slow
def test_a_container_stopped_before_its_second_tick_has_a_cpu_value(
    run_container: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    # Read from the cgroup files, which are gone by the die event: a container running when the run
    # began (auto, cgroup) or started during it (cgroup), killed after its first reading and before
    # the next tick, had no CPU value. The collector's row writes are watched (a seam that observes,
    # changes nothing) so each container is killed right after its second row, or 2.5 s after its
    # first when no second comes sooner (the interval is 4 s).
    from rightsize.collector import loop

    tag = uuid.uuid4().hex[:8]
    labels = {"rs-end": tag}
    rows: dict[str, list[threading.Event]] = {}
    real_append = loop._Run._append

    def counting(self: loop._Run, cid: str, *args: Any) -> None:
        real_append(self, cid, *args)
        waiting = rows.get(cid, [])
        if waiting:
            waiting.pop(0).set()

    monkeypatch.setattr(loop._Run, "_append", counting)
    killed: list[Any] = []

    def kill_after_second_row(c: Any) -> None:
        first, second = rows[c.id]
        first.wait(30)
        second.wait(2.5)
        c.kill()
        killed.append(c)
        if len(killed) == 2:
            c.wait(timeout=30)
            os.kill(os.getpid(), signal.SIGINT)  # its die is among the events drained at the stop

    def watch(c: Any) -> None:
        rows[c.id] = [threading.Event(), threading.Event()]
        threading.Thread(target=kill_after_second_row, args=(c,), daemon=True).start()

    before = run_container("sleep 3600", labels=labels)  # running when the run begins
    watch(before)

    def on_tick(ticks: int, containers: int, samples: int) -> None:
        if ticks == 1:
            # first row at the second tick (auto), or 1 s after its start event (cgroup)
            watch(run_container("sleep 3600", labels=labels))

    summary = rightsize.collect(tmp_path, duration="120s", interval="4s", flush="60s", source=source,
                                filters=[f"label=rs-end={tag}"], quiet=True, on_tick=on_tick)
    assert summary.interrupted and len(killed) == 2
    samples = rightsize.load(tmp_path)
    for c in killed:
        cores = samples.loc[samples["container_id"] == c.id, "cpu_cores"]
        assert cores.notna().any(), (c.name, cores.tolist())
        assert (cores.dropna() < 0.05).all()  # sleep: next to nothing, but measured
    assert summary.no_cpu == {}, summary.no_cpu
