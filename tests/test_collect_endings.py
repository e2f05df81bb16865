"""How a container's life ends inside a `rightsize collect` run on the real engine: an OOM kill before
its first sample still has the limit it ran with; a container that dies before its second reading
still gets a CPU value where one can be measured."""

from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path
from typing import Any

import pytest

import rightsize
from rightsize.analysis.history import histories

MiB = 1024**2
# The first run is OOM-killed after 1 s (dd's 64 MiB buffer in 16 MiB; killed at once, the engine
# sometimes logs no oom under load: its watch was not set yet); the policy restart finds the marker
# in the container's file system and sleeps.
OOM_SOON = (
    "if [ -e /tmp/ran ]; then exec sleep 3600; fi; touch /tmp/ran; sleep 1; "
    "dd if=/dev/zero of=/dev/null bs=64M"
)


@pytest.mark.docker
@pytest.mark.slow
def test_an_oom_kill_before_the_first_sample_carries_its_limit(run_container: Any, tmp_path: Path) -> None:
    # Started just after the first tick of a 5 s interval and killed 1 s later: no row of it existed
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
