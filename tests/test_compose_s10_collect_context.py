"""`rightsize collect` samples the engine `docker compose` talks to: DOCKER_HOST, else the docker
context (DOCKER_CONTEXT, else the config's currentContext). Before, it took DOCKER_HOST or the local
socket only: with a current context elsewhere, it sampled (or missed) another engine's containers
than the stack `docker compose up` started. The contexts are made by the real docker CLI."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli
from context_helpers import here_and_gone, use_context

from rightsize.store import load  # (loaded first: an in-process collect then keeps pandas importable)

pytestmark = pytest.mark.docker
GONE = "unix:///nonexistent/rightsize-s10-collect.sock"


@pytest.fixture
def config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A docker config folder with a context at the engine (`rs10here`) and one at no engine."""
    return here_and_gone(monkeypatch, tmp_path, GONE)


def test_collect_at_a_current_context_with_no_engine_is_refused(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: it sampled the local socket's containers (exit 0) though `docker ps` goes to the context."""
    use_context(config, "rs10gone")
    out = tmp_path / "data"
    code, stdout, err = run_cli(["collect", "--out", str(out), "--duration", "2s", "-q"], capsys)
    assert (code, stdout) == (2, "") and len(err.splitlines()) == 1, err
    assert err.startswith(f"rightsize: error: cannot reach docker context rs10gone ({GONE}): ")
    assert not out.exists()


def test_collect_samples_through_the_current_context(
    config: Path, run_container: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    use_context(config, "rs10here")
    project = f"rs10col{uuid.uuid4().hex[:6]}"
    run_container(
        "sleep 3600", labels={"com.docker.compose.project": project, "com.docker.compose.service": "db"}
    )
    out = tmp_path / "data"
    args = ["collect", "--out", str(out), "--duration", "3s", "--interval", "1s", "--project", project, "-q"]
    code, _, err = run_cli(args, capsys)
    assert code == 0, err
    assert set(load(out, columns=["workload"])["workload"]) == {f"{project}/db"}
