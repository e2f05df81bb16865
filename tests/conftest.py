"""Shared fixtures: the real Docker engine started by scripts/test-env.sh, and its test image."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

# The real-Prometheus fixtures (prom_cluster, empty_prometheus), shared by several test modules.
pytest_plugins = ["prom_fixtures"]

TEST_IMAGE = "rightsize-test/busybox:1"
TEST_LABEL = "rightsize-test"
# Only what this pytest session started is swept at its end: other sessions may share the engine.
SESSION_LABEL = "rightsize-test-session"
SESSION_ID = uuid.uuid4().hex[:12]


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    """A client for the local engine. Missing engine: a failure, so CI cannot pass without it.

    Set RIGHTSIZE_SKIP_DOCKER=1 to skip (never in CI) when working on a machine without dockerd.
    """
    import docker

    try:
        client = docker.from_env(timeout=120)
        client.ping()
        client.images.get(TEST_IMAGE)
    except Exception as exc:
        if os.environ.get("RIGHTSIZE_SKIP_DOCKER") == "1" and not os.environ.get("CI"):
            pytest.skip(f"no docker engine: {exc}")
        pytest.fail(f"docker engine or {TEST_IMAGE} unavailable (run scripts/test-env.sh): {exc}")
    yield client
    for c in client.containers.list(all=True, filters={"label": f"{SESSION_LABEL}={SESSION_ID}"}):
        c.remove(force=True)
    client.close()


@pytest.fixture
def run_container(docker_client: Any) -> Iterator[Any]:
    """Start a labelled busybox container: ``run_container("sleep 60", mem_limit="32m", ...)``.

    Everything started through it is removed after the test.
    """
    started: list[Any] = []
    tag = uuid.uuid4().hex[:8]

    def _run(command: str, name: str | None = None, labels: dict[str, str] | None = None, **kw: Any) -> Any:
        container = docker_client.containers.run(
            TEST_IMAGE,
            ["sh", "-c", command],
            name=name or f"rs-{tag}-{len(started)}",
            labels={TEST_LABEL: "1", SESSION_LABEL: SESSION_ID, **(labels or {})},
            detach=True,
            **kw,
        )
        started.append(container)
        return container

    yield _run
    for c in started:
        with contextlib.suppress(Exception):
            c.remove(force=True)
