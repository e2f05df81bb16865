"""A collector whose loop is busy (a loaded host, a burst of starts, a slow flush) handles a job's
events after the job is gone, on the real engine. The seam holds the loop, for real, inside
``on_tick`` until the job has ended (and, with ``--rm``, been removed); the engine's event stream is
read meanwhile by its own thread, which inspects a new container at its create and opens its stats
stream at its start (``collector/early.py``)."""

from __future__ import annotations

import os
import signal
import time
import uuid
from functools import partial
from pathlib import Path
from typing import Any

import docker
import pytest
from engine_helpers import wait_for

import rightsize
from rightsize.analysis.history import histories
from rightsize.collector.endings import NO_READING, ONE_READING
from rightsize.sources import cgroups
from rightsize.sources import docker as engine

MiB = 1024 * 1024


def _ended(client: Any, container_id: str) -> bool:
    """Removed, or exited and no longer running."""
    try:
        state = client.api.inspect_container(container_id)["State"]
    except docker.errors.NotFound:
        return True
    return not state["Running"] and state["Status"] in ("exited", "dead")


def _died_and_logged(client: Any, container_id: str, since: float) -> bool:
    """Ended, and its die in the engine's event log (what the collector's event stream reads)."""
    return _ended(client, container_id) and "die" in _engine_kinds(client, container_id, since, until=0)


def _hold_loop_until_gone(client: Any, started: list[Any], *starts: Any) -> Any:
    """on_tick: at the first tick, start the jobs from the loop's own thread and hold the loop until
    they ended and the engine logged their die; SIGINT (as Ctrl-C) two ticks later, the late events
    handled by then."""
    stop_at: list[int] = []

    def on_tick(ticks: int, containers: int, samples: int) -> None:
        if ticks == 1:
            since = time.time() - 1
            started.extend(start() for start in starts)
            for c in started:
                wait_for(partial(_died_and_logged, client, c.id, since), f"{c.name} to end")
            stop_at.append(ticks + 2)
        elif stop_at and ticks >= stop_at[0]:
            os.kill(os.getpid(), signal.SIGINT)

    return on_tick


def _engine_kinds(client: Any, container_id: str, since: float, until: float = 1) -> list[str]:
    """The container's events in the engine's log, from ``since`` to ``until`` seconds from now."""
    logged = client.api.events(since=since, until=time.time() + until, decode=True,
                               filters={"type": "container", "container": [container_id]})
    return [e["Action"] for e in logged]


@pytest.mark.docker
@pytest.mark.parametrize("source", ["docker", "cgroup"])
def test_an_oom_killed_rm_job_removed_before_the_loop_saw_it_keeps_its_limit(
    run_container: Any, docker_client: Any, tmp_path: Path, source: str
) -> None:
    # `docker run --rm -m 8m` whose memory grows at once: started, OOM-killed and removed before
    # the loop looked at it, so its start's inspect failed and its OOM row was never written: the
    # kill had no limit. The inspect at its create (in the event thread) keeps it.
    tag = uuid.uuid4().hex[:8]
    labels = {"rs-late": tag}
    since = time.time() - 1
    started: list[Any] = []

    gate = tmp_path / "gate"
    gate.mkdir()

    def start() -> Any:
        # A process killed right at its start sometimes has no 'oom' event at all (seen on this
        # engine, raw event stream): its shim watches the OOM notices once the start is done, and a
        # fixed 0.3 s wait was too short on a loaded host. The job waits for the test's go, written
        # once the engine answered its start, then fills 8 MiB at once.
        job = run_container("until [ -e /gate/go ]; do sleep 0.05; done; tail /dev/zero", labels=labels,
                            mem_limit="8m", memswap_limit="8m", auto_remove=True,
                            volumes={str(gate): {"bind": "/gate", "mode": "ro"}})  # fmt: skip
        (gate / "go").touch()
        return job

    on_tick = _hold_loop_until_gone(docker_client, started, start)
    run_container("sleep 3600", labels=labels)  # sampled: the dataset exists
    summary = rightsize.collect(tmp_path, duration="60s", interval="0.5s", flush="60s", source=source,
                                filters=[f"label=rs-late={tag}"], quiet=True, on_tick=on_tick)
    assert summary.interrupted
    job = started[0]
    with pytest.raises(docker.errors.NotFound):  # removed before the loop handled its start
        docker_client.api.inspect_container(job.id)
    logged = _engine_kinds(docker_client, job.id, since)
    assert "oom" in logged, logged
    events = rightsize.load_events(tmp_path)
    mine = events[events["container_id"] == job.id]
    assert sorted(mine["kind"]) == sorted(k for k in logged if k in ("start", "oom", "die")), mine
    kill_ts = mine.loc[mine["kind"] == "oom", "ts"].iloc[0]
    rows = rightsize.load(tmp_path)
    rows = rows[rows["container_id"] == job.id]
    # the analysis takes a kill's limit from the workload's latest row at or before it
    before = rows[rows["ts"] <= kill_ts]
    assert len(before) >= 1, rows[["ts", "mem_limit", "oom_kills"]]
    assert (before["mem_limit"] == 8 * MiB).all()
    assert (rows["container"] == job.name).all()
    history = next(h for h in histories(rows, events) if h.workload == job.name)
    assert history.oom_limits == (8 * MiB,)  # what the OOM bump raises from


@pytest.mark.docker
@pytest.mark.slow
# --source docker: the stream is its own; auto: it was a cgroup-read life's backup stream. With
# --rm the job's own inspect fails too (its limits come from the inspect at its create)
@pytest.mark.parametrize(("source", "auto_remove"), [("docker", False), ("auto", True)])
def test_a_job_whose_start_is_handled_after_it_ended_has_its_cpu(
    run_container: Any, docker_client: Any, tmp_path: Path, source: str, auto_remove: bool
) -> None:
    # A 2 s busy job held to 0.5 cores, whose start the loop handles only after it exited (or was
    # removed, with --rm): its cgroup files are gone and the engine's stats of an exited container
    # are empty. It had no row at all and was counted as 'exited before any reading'; the stream
    # opened at its start (event thread) holds its readings.
    tag = uuid.uuid4().hex[:8]
    labels = {"rs-late": tag}
    started: list[Any] = []

    def start() -> Any:
        return run_container("yes >/dev/null & sleep 2", labels=labels, nano_cpus=500_000_000,
                             auto_remove=auto_remove)

    on_tick = _hold_loop_until_gone(docker_client, started, start)
    run_container("sleep 3600", labels=labels)
    summary = rightsize.collect(tmp_path, duration="60s", interval="0.5s", flush="60s", source=source,
                                filters=[f"label=rs-late={tag}"], quiet=True, on_tick=on_tick)
    assert summary.interrupted
    job = started[0]
    rows = rightsize.load(tmp_path)
    mine = rows[rows["container_id"] == job.id]
    cores = mine["cpu_cores"].dropna()
    assert len(cores) == 1, mine
    # held to its 0.5-core quota (less when the shared machine is busy)
    assert 0.05 < cores.iloc[0] <= 0.6
    assert (mine["cpu_limit"] == 0.5).all() and (mine["container"] == job.name).all()
    assert mine["mem_working_set"].notna().all()
    assert summary.no_cpu == {}, summary.no_cpu  # the sleeper has its CPU from its second tick
    events = rightsize.load_events(tmp_path)
    assert {"start", "die"} <= set(events.loc[events["container_id"] == job.id, "kind"])


@pytest.mark.docker
@pytest.mark.slow
def test_the_cgroup_source_reads_a_job_whose_start_is_handled_after_it_ended(
    run_container: Any, docker_client: Any, tmp_path: Path
) -> None:
    # --source cgroup opens no engine stream: a job gone before the loop handled its start had no
    # reading at all. Its files are now read from its start event, in a thread of their own, once
    # a second until they go: a 2 s job has its CPU. A job gone within a few ms (`true`) still has
    # none; it is counted, and the summary line says why.
    tag = uuid.uuid4().hex[:8]
    labels = {"rs-late": tag}
    started: list[Any] = []
    on_tick = _hold_loop_until_gone(
        docker_client, started,
        lambda: run_container("yes >/dev/null & sleep 2", labels=labels, nano_cpus=500_000_000),
        lambda: run_container("true", labels=labels),
    )
    run_container("sleep 3600", labels=labels)
    summary = rightsize.collect(tmp_path, duration="60s", interval="0.5s", flush="60s", source="cgroup",
                                filters=[f"label=rs-late={tag}"], quiet=True, on_tick=on_tick)
    busy, instant = started
    rows = rightsize.load(tmp_path)
    cores = rows.loc[rows["container_id"] == busy.id, "cpu_cores"].dropna()
    assert len(cores) == 1 and 0.05 < cores.iloc[0] <= 0.6, cores.tolist()
    assert set(summary.sources) == {f"cgroup v{cgroups.detect_version()}"}
    once = rows.loc[rows["container_id"] == instant.id, "cpu_cores"]
    if len(once):  # read once in its few ms (a fast host): from its counters' start, if it was known
        assert len(once) == 1
        if once.notna().all():  # its processes were there at the read: the mean of its life
            assert 0 <= once.iloc[0] <= (os.cpu_count() or 1) and summary.no_cpu == {}, summary.no_cpu
        else:
            assert summary.no_cpu == {ONE_READING: 1}, summary.no_cpu
    else:
        assert summary.no_cpu == {NO_READING: 1}, summary.no_cpu
        line = next(x for x in str(summary).splitlines() if "no CPU value" in x)
        why = "exited before any reading (nothing is left to read after exit)"
        assert line.strip() == f"no CPU value: 1 container (1 {why})"


@pytest.mark.docker
@pytest.mark.slow
def test_a_job_killed_right_after_its_first_tick_row_has_its_cpu(
    run_container: Any, docker_client: Any, tmp_path: Path
) -> None:
    # --source auto, a job started during the run: read from its cgroup files at ticks, with its
    # files also read once a second from its start (its backup, for its last reading). Killed right
    # after its first tick row (which had no CPU value: a first reading), its backup's last reading
    # was older than that row and was dropped: no CPU value at all ('exited after one reading', 1
    # of 16 jobs on a loaded host). The first tick row now measures from the backup's first reading.
    tag = uuid.uuid4().hex[:8]
    labels = {"rs-late": tag}
    job: list[Any] = []
    stop_at: list[int] = []

    def on_tick(ticks: int, containers: int, samples: int) -> None:
        if ticks == 1:
            job.append(run_container("yes >/dev/null & sleep 3600", labels=labels, nano_cpus=500_000_000))
            # The scenario needs the tick after this one to read the job well past its start: a tick
            # within MIN_SPAN (0.5 s) of its first reading has, by design, no CPU value, and
            # starting a container took 1.3 s under load (the next tick came 0.4 s after its start,
            # and the job killed right after it had no CPU value: 1 run in 3). The loop is held
            # until the job has run 2.5 s, between two of its backup's once-a-second readings (so
            # none falls between the next tick's row and the kill); the next tick then comes at once.
            started = engine.info_from_inspect(docker_client.api.inspect_container(job[0].id)).started_at
            assert started is not None
            wait_for(lambda: time.time() - started >= 2.5, "the job to have run 2.5 s")
        elif ticks == 2:
            docker_client.api.kill(job[0].id)  # right after the tick's row of it
            docker_client.api.wait(job[0].id, timeout=30)
            stop_at.append(ticks + 2)
        elif stop_at and ticks >= stop_at[0]:
            os.kill(os.getpid(), signal.SIGINT)

    run_container("sleep 3600", labels=labels)
    summary = rightsize.collect(tmp_path, duration="60s", interval="2s", flush="60s", source="auto",
                                filters=[f"label=rs-late={tag}"], quiet=True, on_tick=on_tick)
    rows = rightsize.load(tmp_path)
    mine = rows[rows["container_id"] == job[0].id]
    cores = mine["cpu_cores"].dropna()
    assert len(cores) >= 1, mine[["ts", "cpu_cores"]]
    assert (cores > 0.05).all() and (cores <= 0.6).all(), cores.tolist()
    assert summary.no_cpu == {}, summary.no_cpu
