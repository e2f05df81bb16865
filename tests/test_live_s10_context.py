"""apply --live talks to the engine `docker compose` talks to: DOCKER_HOST, else the docker context
(DOCKER_CONTEXT, else the config's currentContext). Before, it took DOCKER_HOST or the local socket
only: with a current context elsewhere, `docker compose up` started the stack on one engine and
--live updated (or missed) containers on another. The contexts are made by the real docker CLI."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli
from context_helpers import SOCKET, here_and_gone, use_context

from rightsize.models import Observed, Recommendation, Values
from rightsize.targets.live import apply_live

pytestmark = pytest.mark.docker
M = 1024**2
GONE = "unix:///nonexistent/rightsize-s10-live.sock"


def mem(workload: str, limit: int) -> Recommendation:
    return Recommendation(
        workload, "memory", Values(), Values(None, limit), Observed(p99=limit / 4, max=limit / 4),
        20160, 14 * 86400, 0.9, ("p99 +25%",), "default",
    )  # fmt: skip


@pytest.fixture
def contexts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A docker config folder with a context at the engine (`rs10here`) and one at no engine."""
    return here_and_gone(monkeypatch, tmp_path, GONE)


def test_live_updates_through_the_current_context(run_container: Any, contexts: Path) -> None:
    use_context(contexts, "rs10here")
    project = f"rs10ctx{uuid.uuid4().hex[:6]}"
    labels = {"com.docker.compose.project": project, "com.docker.compose.service": "app"}
    app = run_container("sleep 3600", labels=labels, mem_limit="64m")
    result = apply_live([mem(f"{project}/app", 48 * M)], project=project)
    app.reload()
    assert result.written and app.attrs["HostConfig"]["Memory"] == 48 * M


def test_a_current_context_at_no_engine_is_refused_not_the_local_socket(
    run_container: Any, contexts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: the local socket's containers were updated though `docker compose` (and `docker ps`)
    talk to the context's engine, which does not answer."""
    use_context(contexts, "rs10gone")
    ps = subprocess.run(["docker", "ps"], env={**os.environ}, capture_output=True, text=True, timeout=60)
    assert ps.returncode != 0 and "rightsize-s10-live.sock" in ps.stderr  # the CLI goes there too
    project = f"rs10ctx{uuid.uuid4().hex[:6]}"
    labels = {"com.docker.compose.project": project, "com.docker.compose.service": "app"}
    app = run_container("sleep 3600", labels=labels, mem_limit="64m")  # (the fixture's own client)
    from compose_v2_helpers import dataset

    data = dataset(contexts.parent / "data", {f"{project}/app": (16 * M, 0.05)})
    code, out, err = run_cli(["apply", "--live", "--project", project, "--data", data], capsys)
    assert (code, out) == (2, "") and len(err.splitlines()) == 1, err
    assert err.startswith(
        f"rightsize: error: cannot reach the Docker engine at docker context rs10gone ({GONE}): "
    )
    app.reload()
    assert app.attrs["HostConfig"]["Memory"] == 64 * M  # nothing sent anywhere


def test_docker_context_env_wins_over_the_config_and_docker_host_over_both(
    run_container: Any, contexts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rightsize.errors import RightsizeError

    use_context(contexts, "rs10here")
    monkeypatch.setenv("DOCKER_CONTEXT", "rs10gone")
    project = f"rs10ctx{uuid.uuid4().hex[:6]}"
    labels = {"com.docker.compose.project": project, "com.docker.compose.service": "app"}
    app = run_container("sleep 3600", labels=labels, mem_limit="64m")
    with pytest.raises(RightsizeError, match="at docker context rs10gone "):
        apply_live([mem(f"{project}/app", 48 * M)], project=project)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{SOCKET}")  # as the docker CLI: DOCKER_HOST first
    assert apply_live([mem(f"{project}/app", 48 * M)], project=project).written
    app.reload()
    assert app.attrs["HostConfig"]["Memory"] == 48 * M
    monkeypatch.setenv("DOCKER_HOST", GONE)
    with pytest.raises(RightsizeError, match=f"at DOCKER_HOST={GONE}: "):
        apply_live([mem(f"{project}/app", 40 * M)], project=project)
