"""A job OOM-killed before any reading, through the CLI on the real engine: `rightsize collect`, then
`rightsize recommend`. Under ``--source docker`` such a job has no reading at all (the engine sends
no stats payload in its few milliseconds, and an empty one once it exited), so the collector
records the kill by a row holding the limits it ran with and no usage. That row must carry the
kill into the recommendation, and must not be reported as a missing memory value."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import container_gone, wait_for

import rightsize
from rightsize.cli import main
from rightsize.sources import docker as engine
from rightsize.sources.cgroups import Counters
from rightsize.sources.docker import COMPOSE_PROJECT, COMPOSE_SERVICE

MiB = 1024 * 1024
# waits for the test's go (its start done), then fills 8 MiB at once
GATED_OOM = "until [ -e /gate/go ]; do sleep 0.05; done; tail /dev/zero"


def _recommend(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[list[dict[str, Any]], str]:
    with pytest.raises(SystemExit) as exc:
        main(["recommend", "--format", "json", *args])
    captured = capsys.readouterr()
    assert exc.value.code in (0, None), captured.err
    return json.loads(captured.out), captured.err


@pytest.mark.docker
@pytest.mark.slow
def test_a_job_oom_killed_before_any_reading_reaches_recommend_without_a_warning(
    run_container: Any, docker_client: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tag = uuid.uuid4().hex[:8]
    labels = {"rs-oomrow": tag}
    service = {**labels, COMPOSE_PROJECT: f"rs{tag}", COMPOSE_SERVICE: "work"}
    run_container("sleep 3600", labels=service)  # the service's long-running replica: it is measured
    out = tmp_path / "data"
    # one tick at the start, the next an hour away: the jobs below are never sampled by a tick
    collector = subprocess.Popen(
        [sys.executable, "-m", "rightsize", "collect", "--source", "docker", "--duration", "10m",
         "--interval", "1h", "--filter", f"label=rs-oomrow={tag}", "--out", str(out), "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        wait_for(out.exists, "the collector to start sampling")  # made after its event stream opened
        # A process killed right at its start sometimes has no 'oom' event at all: the engine's shim
        # watches a container's OOM notices only once its start is done (a fixed 0.3 s wait was too
        # short on a loaded host). So each job waits for a file the test writes once the engine has
        # answered its start; tail's line buffer then passes 8 MiB at once.
        gate = tmp_path / "gate"
        gate.mkdir()
        oom = {"mem_limit": "8m", "memswap_limit": "8m", "auto_remove": True,
               "volumes": {str(gate): {"bind": "/gate", "mode": "ro"}}}  # fmt: skip
        jobs = [run_container(GATED_OOM, labels=service, **oom),  # a run of the service
                run_container(GATED_OOM, labels=labels, **oom)]  # a workload of its own
        (gate / "go").touch()
        for job in jobs:
            wait_for(partial(container_gone, docker_client, job.id), "the job to be killed and removed")
    finally:
        collector.send_signal(signal.SIGTERM)
        stdout, stderr = collector.communicate(timeout=120)
    assert collector.returncode == 0, stderr
    assert b"warning" not in stderr, stderr
    events = rightsize.load_events(out)
    for job in jobs:
        assert "oom" in set(events.loc[events["container_id"] == job.id, "kind"]), events
    # the scenario: each kill is recorded by a row with its limit and no usage (no invented reading)
    rows = rightsize.load(out)
    kills = rows[rows["container_id"].isin([j.id for j in jobs]) & rows["mem_working_set"].isna()]
    assert len(kills) == 2 and (kills["mem_limit"] == 8 * MiB).all(), rows
    assert (kills["oom_kills"] == 1).all() and kills["pids"].isna().all()
    # the stream may read a job in its 0.3 s before the kill (written at its die): then it is not
    # one "before any reading"; the count must say exactly how many have no reading at all
    read = rows[rows["container_id"].isin([j.id for j in jobs]) & rows["mem_working_set"].notna()]
    unread = 2 - read["container_id"].nunique()
    said = {0: b"OOM kills: 2\n", 1: b"OOM kills: 2 (1 before any reading: its row holds the limits",
            2: b"OOM kills: 2 (2 before any reading: their rows hold the limits they ran with"}
    assert said[unread] in stdout, stdout

    # the service: its replica's readings and the run's kill at 8M raise its memory limit
    # (a few seconds of history: no minimum, and no confidence scaling, which would dwarf the bump)
    few = ["--set", "min_samples=1", "--set", "min_history=0s", "--set", "mem_confidence_k=0"]
    recs, err = _recommend(["--data", str(out), *few, "--workload", f"rs{tag}/work"], capsys)
    assert "warning" not in err, err
    memory = next(r for r in recs if r["resource"] == "memory")
    assert memory["oom_kills"] == 1
    assert memory["recommended"]["limit"] >= 8 * MiB + 100 * MiB, memory  # the default OOM bump
    raised = "OOM-killed 1x at limit 8 MiB: limit raised"
    assert any(why.startswith(raised) for why in memory["reasons"]), memory["reasons"]

    # the job alone: nothing measured, and the kill still shows; no "rows without a memory value"
    recs, err = _recommend(["--data", str(out), "--workload", jobs[1].name], capsys)
    assert "without a memory value" not in err and "warning" not in err, err
    memory = next(r for r in recs if r["resource"] == "memory")
    assert memory["oom_kills"] == 1 and memory["current"]["limit"] == 8 * MiB, memory
    assert memory["recommended"] is None  # nothing measured: no usage to recommend from
    # but the kill says the limit was too low, and how far to raise it (8M + 100M, up to a step)
    assert "OOM-killed 1x at limit 8 MiB: that is too low; raise it to >= 128 MiB" in memory["reasons"][0]


def test_rows_that_measured_memory_nowhere_are_still_reported() -> None:
    # the warning stays for what it is for: rows that measured something, but never memory
    import warnings

    import pandas as pd

    from rightsize.analysis.history import histories

    base = {"workload": "w", "container_id": "c", "mem_limit": 8 * MiB, "oom_kills": 0}
    measured = pd.DataFrame([{**base, "ts": 1_700_000_000_000 + i, "cpu_cores": 0.1, "pids": 3}
                             for i in range(3)])
    kill = pd.DataFrame([{**base, "ts": 1_700_000_000_005, "oom_kills": 1}])
    said = ["ignored 3 rows without a memory value"]  # the kill's row is not one of them
    for frame, expected in ((measured, said), (pd.concat([measured, kill]), said), (kill, [])):
        frame = frame.reindex(columns=[*kill.columns, "cpu_cores", "pids"]).astype(
            {"cpu_cores": "float64", "pids": "float64"}).assign(mem_working_set=float("nan"))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert len(list(histories(frame))) == 1
        assert [str(w.message) for w in caught] == expected


def _watched_streams(monkeypatch: pytest.MonkeyPatch) -> dict[str, threading.Event]:
    """Container id -> set once the run's engine stats stream for it has its first payload: the
    real streams, observed (what the collector's own readings are), so a test waits for a reading
    instead of a fixed time."""
    read: dict[str, threading.Event] = {}
    lock = threading.Lock()

    class Observed(engine.StatsStream):
        @property
        def latest(self) -> Counters | None:
            return self._observed

        @latest.setter
        def latest(self, value: Counters | None) -> None:
            self._observed = value
            if value is not None:
                with lock:
                    read.setdefault(self.container_id, threading.Event()).set()

    monkeypatch.setattr(engine, "StatsStream", Observed)
    return read


def _payload_for(read: dict[str, threading.Event], container_id: str) -> bool:
    event = read.get(container_id)
    return event is not None and event.is_set()


@pytest.mark.docker
@pytest.mark.slow
def test_a_job_read_before_its_kill_is_not_counted_as_killed_before_any_reading(
    run_container: Any, docker_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The engine's stats stream reads the job during its life; the kill comes after, so the job has
    # a reading even though no tick sampled it: the summary must not say otherwise. The job is
    # killed once the run's stream for it has its first payload (not after a fixed time).
    tag = uuid.uuid4().hex[:8]
    read = _watched_streams(monkeypatch)
    gate = tmp_path / "gate"
    gate.mkdir()
    jobs: list[Any] = []

    def job_then_stop() -> None:
        try:
            since = time.time() - 1
            job = run_container(
                GATED_OOM, labels={"rs-oomread": tag}, mem_limit="8m", memswap_limit="8m",
                auto_remove=True, volumes={str(gate): {"bind": "/gate", "mode": "ro"}},
            )  # fmt: skip
            jobs.append(job)
            wait_for(partial(_payload_for, read, job.id), "the run's stream to read the job")
            (gate / "go").touch()
            wait_for(partial(container_gone, docker_client, job.id), "the job to be killed and removed")
            wait_for(partial(_logged, docker_client, job.id, since, "die"), "its die in the engine's log")
        finally:
            os.kill(os.getpid(), signal.SIGINT)  # the run's stop (as Ctrl-C), whatever happened

    def on_tick(ticks: int, containers: int, samples: int) -> None:
        if ticks == 1:
            threading.Thread(target=job_then_stop, daemon=True).start()

    # one tick at the start, the next an hour away: the job is never sampled by a tick
    summary = rightsize.collect(
        tmp_path / "data", duration="10m", interval="1h", source="docker",
        filters=[f"label=rs-oomread={tag}"], quiet=True, on_tick=on_tick,
    )  # fmt: skip
    assert summary.interrupted and len(jobs) == 1
    job = jobs[0]
    events = rightsize.load_events(tmp_path / "data")
    assert "oom" in set(events.loc[events["container_id"] == job.id, "kind"]), events
    rows = rightsize.load(tmp_path / "data")
    mine = rows[rows["container_id"] == job.id]
    assert mine["mem_working_set"].notna().any(), mine  # the stream read it before its kill
    assert summary.oom_kills == 1 and summary.oom_unread == 0
    assert "  OOM kills: 1" in str(summary).splitlines(), str(summary)  # not "(1 before any reading...)"


def _logged(client: Any, container_id: str, since: float, kind: str) -> bool:
    logged = client.api.events(since=since, until=time.time(), decode=True,
                               filters={"type": "container", "event": [kind], "container": [container_id]})
    return any(True for _ in logged)
