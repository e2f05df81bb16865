"""The workload a container's rows are collected under is the one `apply --live` looks it up by."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

import rightsize
from rightsize.sources.docker import COMPOSE_PROJECT, COMPOSE_SERVICE
from rightsize.targets.live import workload_of


@pytest.mark.docker
@pytest.mark.parametrize(
    ("compose", "expected"),
    [
        # a service label alone (no project): apply --live took it for its container name
        ({COMPOSE_SERVICE: "svc"}, "svc-{tag}"),
        ({COMPOSE_PROJECT: "proj", COMPOSE_SERVICE: "svc"}, "proj-{tag}/svc-{tag}"),
        ({}, "{name}"),
    ],
    ids=["service-only", "project-and-service", "plain"],
)
def test_live_names_a_container_as_the_collector_did(
    run_container: Any, docker_client: Any, tmp_path: Path, compose: dict[str, str], expected: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    labels = {"rs-naming": tag, **{k: f"{v}-{tag}" for k, v in compose.items()}}
    c = run_container("sleep 3600", labels=labels)
    rightsize.collect(tmp_path, duration="1.5s", interval="0.5s", flush="10s",
                      filters=[f"label=rs-naming={tag}"], quiet=True)
    collected = set(rightsize.load(tmp_path)["workload"])
    assert len(collected) == 1
    assert collected == {expected.format(tag=tag, name=c.name)}
    assert workload_of(docker_client.containers.get(c.id)) == expected.format(tag=tag, name=c.name)
