"""Helpers for the tests of which engine rightsize talks to (DOCKER_HOST, else the docker context, as
`docker compose` does): contexts made by the real docker CLI in a config folder of the test's own,
and the CPU limit apply/check judge against the engine's CPU count."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from rightsize.models import Observed, Recommendation, Values

SOCKET = "/var/run/docker.sock"


def clear_docker_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No DOCKER_* variable that names the engine or its TLS."""
    for name in ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
        monkeypatch.delenv(name, raising=False)


def create_context(config: Path, name: str, host: str, current: bool = False) -> None:
    """A docker context as `docker context create NAME --docker host=HOST` stores it in the config
    folder ``config`` (the real CLI); ``current``: made current with `docker context use` too."""
    env = {**os.environ, "DOCKER_CONFIG": str(config)}
    run = ["docker", "context", "create", name, "--docker", f"host={host}"]
    subprocess.run(run, env=env, check=True, capture_output=True, timeout=60)
    if current:
        use_context(config, name)


def use_context(config: Path, name: str) -> None:
    env = {**os.environ, "DOCKER_CONFIG": str(config)}
    subprocess.run(["docker", "context", "use", name], env=env, check=True, capture_output=True, timeout=60)


def here_and_gone(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, gone: str) -> Path:
    """A docker config folder (DOCKER_CONFIG; no other DOCKER_* variable) with a context at the engine
    (`rs10here`) and one at no engine (`rs10gone`, at ``gone``); skips without the engine's socket."""
    if not Path(SOCKET).exists():
        pytest.skip("needs the engine on /var/run/docker.sock")
    clear_docker_env(monkeypatch)
    folder = tmp_path / "dockercfg"
    monkeypatch.setenv("DOCKER_CONFIG", str(folder))
    for name, host in (("rs10here", f"unix://{SOCKET}"), ("rs10gone", gone)):
        create_context(folder, name, host)
    return folder


@contextlib.contextmanager
def one_cpu() -> Iterator[None]:
    """This process on its first CPU only (restored after)."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(before)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def cpu_case(project: str) -> tuple[str, Recommendation]:
    """A compose file (project ``project``, service web at cpus 0.5) and a CPU limit of 1.25 for web
    whose data peaked at 0.99 CPUs: it fits an engine of 2+ CPUs (written as it is), not one CPU
    (capped at 1)."""
    text = f"name: {project}\nservices:\n  web:\n    image: x\n    cpus: 0.5\n"
    rec = Recommendation(
        f"{project}/web", "cpu", Values(), Values(None, 1.25), Observed(p99=0.98, max=0.99),
        20160, 14 * 86400, 0.9, ("p99 +25%",), "default",
    )  # fmt: skip
    return text, rec
