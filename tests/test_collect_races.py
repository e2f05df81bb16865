"""Races between `rightsize collect` and the engine, made to happen for real: a container removed
between the collector's list and its inspect, and events logged just before a run stops, which its
event stream had not delivered yet."""

from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path
from typing import Any

import docker
import pytest

import rightsize
from rightsize.collector.discovery import Discovery
from rightsize.collector.endings import NO_READING


def _gone(client: Any, container_id: str) -> bool:
    try:
        client.api.inspect_container(container_id)
    except docker.errors.NotFound:
        return True
    return False


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
        elif not stop_at and victim and _gone(docker_client, victim[0].id):
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
    # never read: the summary counts it (the sleeper has its CPU from its second tick)
    assert summary.no_cpu == {NO_READING: 1}, summary.no_cpu


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
