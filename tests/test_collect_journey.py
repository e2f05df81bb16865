"""A user's `rightsize collect` over a compose project and short jobs on the real engine, checked
against what the containers did (found while hunting bugs in the one-off/short-lived features)."""

from __future__ import annotations

import os
import signal
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

import rightsize
from rightsize.collector.endings import final_base
from rightsize.collector.sampling import cpu_rates
from rightsize.sources.docker import counters_from_stats, parse_time

# A real first payload: `docker run --cpus 0.5 IMAGE sh -c 'yes >/dev/null & sleep 2'`, engine 20.10,
# cgroup v1 (as in test_collect_shortlived): read 33 ms after StartedAt, 35 ms of CPU used by then
# (the runtime starting the container, the shell forking yes).
STARTED_AT = "2026-11-28T12:29:55.985192688Z"
FIRST = {
    "read": "2026-11-28T12:29:56.01838574Z",
    "cpu_stats": {"cpu_usage": {"total_usage": 34986105},
                  "throttling_data": {"periods": 3, "throttled_periods": 0, "throttled_time": 0}},
    "memory_stats": {"usage": 782336, "max_usage": 4087808,
                     "stats": {"total_inactive_file": 0, "total_rss": 110592}},
    "pids_stats": {"current": 2},
}


def test_a_life_of_one_payload_gets_no_cpu_above_its_limit() -> None:
    # 35 ms of start-up CPU over 33 ms is 1.06 cores for a container held to 0.5: a mean over less
    # than a CFS period is not what the container uses. One payload only: a row, no CPU value.
    first = counters_from_stats(FIRST)
    started = parse_time(STARTED_AT)
    assert first is not None and started is not None
    picked = final_base(None, first, first, started, began=started - 5)
    assert picked is not None
    base, last = picked
    cores = cpu_rates(base, last, 0.5)[0] if base is not None else None  # type: ignore[index]
    assert cores is None or cores <= 0.5, cores


def _stop_when_gone(client: Any, started: list[Any], expected: int) -> Any:
    """on_tick: once all ``expected`` containers ran and were removed, and two more ticks handled
    their events, stop the run (SIGINT, as Ctrl-C)."""
    stop_at: list[int] = []

    def gone(c: Any) -> bool:
        try:
            client.api.inspect_container(c.id)
        except Exception:
            return True
        return False

    def on_tick(ticks: int, containers: int, samples: int) -> None:
        if not stop_at and len(started) == expected and all(gone(c) for c in started):
            stop_at.append(ticks + 2)
        elif stop_at and ticks >= stop_at[0]:
            os.kill(os.getpid(), signal.SIGINT)

    return on_tick


@pytest.mark.docker
@pytest.mark.slow
def test_sub_second_jobs_at_half_a_core_never_read_above_it(docker_client: Any, tmp_path: Path) -> None:
    # `docker run --rm --cpus 0.5` jobs of ~0.3 s (busy) and `true`: their one payload comes ~30 ms
    # after the start; measured from the start that read 0.64-1.48 cores (and ~0.95 for `true`).
    tag = uuid.uuid4().hex[:8]
    labels = {"rightsize-test": "1", "rs-journey": tag}
    jobs = ["yes >/dev/null & sleep 0.3; kill $!", "true", "yes >/dev/null & sleep 2; kill $!"] * 2
    started: list[Any] = []

    def run_jobs() -> None:  # from the first tick: these start during the run
        for i, command in enumerate(jobs):
            started.append(docker_client.containers.run(
                "rightsize-test/busybox:1", ["sh", "-c", command], name=f"rs-{tag}-{i}", labels=labels,
                nano_cpus=500_000_000, auto_remove=True, detach=True,
            ))

    keep = docker_client.containers.run("rightsize-test/busybox:1", ["sleep", "3600"], labels=labels,
                                        detach=True)
    stop = _stop_when_gone(docker_client, started, len(jobs))

    def on_tick(ticks: int, containers: int, samples: int) -> None:
        if ticks == 1:
            threading.Thread(target=run_jobs, daemon=True).start()
        stop(ticks, containers, samples)

    try:
        summary = rightsize.collect(
            tmp_path, duration="120s", interval="1s", flush="60s", source="docker",
            filters=[f"label=rs-journey={tag}"], quiet=True, on_tick=on_tick,
        )
    finally:
        keep.remove(force=True)
    samples = rightsize.load(tmp_path)
    jobs_rows = samples[samples["container"].str.startswith(f"rs-{tag}-")]
    assert set(jobs_rows["cpu_limit"]) == {0.5}
    cores = jobs_rows["cpu_cores"].dropna()
    # The CFS quota holds per 100 ms period, so over a span of >= 0.5 s (endings.MIN_SPAN) a job can
    # show one extra period's quota (0.5 x (0.5 + 0.1) / 0.5 = 0.6), and the kernel throttles only at
    # its next check, so each of the <= 6 periods touched may overrun by up to one 5 ms bandwidth
    # slice (6 x 5 ms / 0.5 s = 0.06). 0.525 and then 0.6 failed under load (0.61 seen in CI); the
    # bug this guards against read 0.95-1.48.
    assert (cores <= 0.66).all(), jobs_rows[["container", "cpu_cores"]].to_string()
    # the 2 s jobs still get their CPU (busy at the cap, less on a loaded machine)
    for i in (2, 5):
        assert jobs_rows.loc[jobs_rows["container"] == f"rs-{tag}-{i}", "cpu_cores"].notna().any()
    # the summary counts exactly the jobs left without a CPU value (the sleeper has one by its 2nd tick)
    with_cpu = set(jobs_rows.loc[jobs_rows["cpu_cores"].notna(), "container"])
    without = [c for c in started if c.name not in with_cpu]
    assert sum(summary.no_cpu.values()) == len(without), summary.no_cpu


@pytest.mark.docker
@pytest.mark.slow
def test_a_crash_loop_is_one_container_in_the_no_cpu_line(run_container: Any, tmp_path: Path) -> None:
    # `--restart always` with `exit 1`: every run lives a few ms, never read by the cgroup source.
    # The summary said "collected 2 samples from 1 container" and "no CPU value: 8 containers (8
    # exited before any reading)": one container's eight runs counted as eight containers.
    tag = uuid.uuid4().hex[:8]
    labels = {"rs-journey": tag}
    steady = run_container("sleep 3600", labels=labels)
    looping: list[Any] = []
    stop_at: list[int] = []

    def on_tick(ticks: int, containers: int, samples: int) -> None:
        if ticks == 1:
            looping.append(run_container("exit 1", labels=labels, restart_policy={"Name": "always"}))
        elif not stop_at and looping:
            looping[0].reload()
            if looping[0].attrs["RestartCount"] >= 3:  # four runs at least, then two ticks more
                stop_at.append(ticks + 2)
        elif stop_at and ticks >= stop_at[0]:
            os.kill(os.getpid(), signal.SIGINT)

    summary = rightsize.collect(
        tmp_path, duration="120s", interval="1s", flush="60s", source="cgroup",
        filters=[f"label=rs-journey={tag}"], quiet=True, on_tick=on_tick,
    )
    events = rightsize.load_events(tmp_path)
    runs = int(((events["container_id"] == looping[0].id) & (events["kind"] == "start")).sum())
    assert runs >= 4
    samples = rightsize.load(tmp_path)
    assert samples.loc[samples["container_id"] == steady.id, "cpu_cores"].notna().any()
    lives = sum(summary.no_cpu.values())
    # a run read once at its start event has its CPU (from its counters' start): not counted
    read = int(samples.loc[samples["container_id"] == looping[0].id, "cpu_cores"].notna().sum())
    # each run without a reading, counted by reason; the last run may still be starting when the
    # collect stops (under load 3 of 4 were counted once)
    assert runs - 1 <= lives + read <= runs
    assert summary.no_cpu_containers == (1 if lives else 0)
    if lives > 1:  # nearly always: a run lives a few ms
        assert f"no CPU value: {lives} runs of 1 container (" in str(summary)


def test_the_no_cpu_line_counts_containers_and_their_runs() -> None:
    from rightsize.collector.endings import NO_READING, ONE_READING
    from rightsize.collector.sampling import CollectSummary

    base = {"out": Path("d"), "host": "h", "seconds": 9.0, "ticks": 9, "missed_ticks": 0, "samples": 9,
            "events": 9, "containers": 3, "workloads": 3, "files": 1}
    one_each = CollectSummary(**base, no_cpu={NO_READING: 2, ONE_READING: 1}, no_cpu_containers=3)
    assert f"no CPU value: 3 containers (2 {NO_READING}, 1 {ONE_READING})" in str(one_each)
    loop = CollectSummary(**base, no_cpu={NO_READING: 8}, no_cpu_containers=1)
    assert f"no CPU value: 8 runs of 1 container (8 {NO_READING})" in str(loop)


def test_the_summary_says_how_long_as_recommend_does() -> None:
    # "collected ... on h in 2.517m": minutes written as recommend's notes write them, not 'm'
    from rightsize.collector.sampling import CollectSummary

    base = {"out": Path("d"), "host": "h", "ticks": 9, "missed_ticks": 0, "samples": 9,
            "events": 9, "containers": 3, "workloads": 3, "files": 1}  # fmt: skip
    for seconds, said in ((151.0, "3 min"), (42.4, "42 s"), (86400.0, "1.0 days"), (7200.0, "2.0 h")):
        assert f"on h in {said}\n" in str(CollectSummary(**base, seconds=seconds)), seconds
