"""The CPU count apply -f and check judge a CPU limit against: the engine's (`docker info` NCPU of the
engine `docker compose` talks to: DOCKER_HOST, else DOCKER_CONTEXT, else the config's current context),
else this process's when the engine does not answer (rightsize.targets.hostcpus).

There is one engine here, on this machine; to tell its count from this process's, the process runs
on one CPU (its affinity mask) while the engine has all of them: a limit of 1.25 whose data peaked
at 0.99 CPUs fits the engine (written as it is) but not one CPU (capped at 1, as before).
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
import warnings
from pathlib import Path
from typing import Any

import pytest
from context_helpers import SOCKET, clear_docker_env, cpu_case, create_context, one_cpu

from rightsize.models import Observed, Recommendation, Values
from rightsize.targets.check import check_compose
from rightsize.targets.compose import patch_compose

pytestmark = pytest.mark.docker

GONE = "unix:///nonexistent/rightsize-s10.sock"
TEXT, REC = cpu_case("rs10cpu")


@pytest.fixture
def engine_ncpu(docker_client: Any) -> int:
    ncpu = int(docker_client.info()["NCPU"])
    if ncpu < 2 or not Path(SOCKET).exists():
        pytest.skip("needs the engine on /var/run/docker.sock with 2+ CPUs")
    return ncpu


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No DOCKER_HOST/DOCKER_CONTEXT, and a docker config folder of the test's own."""
    clear_docker_env(monkeypatch)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "dockercfg"))
    return monkeypatch


def applied(tmp_path: Path) -> tuple[str, list[str]]:
    """apply -f on one CPU: the file's cpus and the warnings."""
    path = tmp_path / "compose.yml"
    path.write_text(TEXT)
    with one_cpu(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        patch_compose(path, [REC])
    cpus = next(line.split(": ")[1] for line in path.read_text().splitlines() if "cpus:" in line)
    return cpus, [str(w.message) for w in caught]


def test_docker_host_at_the_engine_its_ncpu_is_used(
    engine_ncpu: int, clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Before: capped at 1 (this process's count) though the engine has more and `up` takes 1.25."""
    clean_env.setenv("DOCKER_HOST", f"unix://{SOCKET}")
    assert applied(tmp_path) == ("1.25", [])


def test_an_engine_that_does_not_answer_falls_back_to_this_process_count(
    engine_ncpu: int, clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("DOCKER_HOST", GONE)
    cpus, said = applied(tmp_path)
    assert cpus == "1" and len(said) == 1
    assert said[0].startswith(
        f"web: CPU limit 1.25 capped at 1, this host's CPU count (this machine's count: DOCKER_HOST={GONE} "
        "did not answer: "
    )
    assert "the data's peak is 0.99 CPUs" in said[0]


def test_the_current_docker_context_is_the_engine_asked(
    engine_ncpu: int, clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A context made current by `docker context use` (no DOCKER_HOST): its engine's count; a
    DOCKER_CONTEXT naming one that is gone: this process's, as `docker compose` fails to reach it."""
    config = tmp_path / "dockercfg"
    create_context(config, "rs10here", f"unix://{SOCKET}", current=True)
    create_context(config, "rs10gone", GONE)
    assert json.loads((config / "config.json").read_text())["currentContext"] == "rs10here"
    assert applied(tmp_path) == ("1.25", [])

    clean_env.setenv("DOCKER_CONTEXT", "rs10gone")
    env = {**os.environ}
    ls = subprocess.run(["docker", "compose", "ls"], env=env, capture_output=True, text=True, timeout=60)
    assert ls.returncode != 0 and "nonexistent/rightsize-s10.sock" in ls.stderr  # compose talks to it too
    cpus, said = applied(tmp_path)
    assert cpus == "1" and f"this machine's count: docker context rs10gone ({GONE}) did not answer" in said[0]

    clean_env.setenv("DOCKER_HOST", f"unix://{SOCKET}")  # DOCKER_HOST wins over DOCKER_CONTEXT (as the CLI)
    assert applied(tmp_path) == ("1.25", [])


def test_a_missing_context_falls_back(
    engine_ncpu: int, clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("DOCKER_CONTEXT", "rs10-never-made")
    cpus, said = applied(tmp_path)
    assert cpus == "1" and "docker context 'rs10-never-made' not found" in said[0]


def test_check_judges_against_the_engine_count_too(
    engine_ncpu: int, clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """check passes what apply wrote: 1.25 on the engine's count, 1 on this process's."""
    path = tmp_path / "compose.yml"
    path.write_text(TEXT.replace("0.5", "1.25"))
    clean_env.setenv("DOCKER_HOST", f"unix://{SOCKET}")
    with one_cpu():
        row = next(r for r in check_compose(path, [REC]).rows if r.resource == "cpu")
    assert (row.ok, row.recommended) == (True, "1.25") and "capped" not in row.why, row
    clean_env.setenv("DOCKER_HOST", GONE)
    with one_cpu():
        row = next(r for r in check_compose(path, [REC]).rows if r.resource == "cpu")
    assert row.recommended == "1" and row.why.startswith("recommended 1.25, capped at this host's 1 CPUs"), (
        row
    )


def test_a_file_without_a_cpu_limit_above_1_never_asks_the_engine(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The engine is asked only when a CPU limit above 1 is judged (every engine has one CPU): a
    memory-only apply, or a CPU limit of 0.5, with a DOCKER_HOST that would hang (a blackhole
    address) does not wait on it."""
    clean_env.setenv("DOCKER_HOST", "tcp://192.0.2.1:2375")  # TEST-NET-1: never answers
    path = tmp_path / "compose.yml"
    path.write_text(TEXT)
    mem = Recommendation(
        "rs10cpu/web", "memory", Values(), Values(None, 64 * 2**20), Observed(p99=30 * 2**20, max=31 * 2**20),
        20160, 14 * 86400, 0.9, ("p99 +25%",), "default",
    )  # fmt: skip
    cpu = Recommendation(
        "rs10cpu/web", "cpu", Values(), Values(None, 0.75), Observed(p99=0.5, max=0.6),
        20160, 14 * 86400, 0.9, ("p99 +25%",), "default",
    )  # fmt: skip
    from rightsize.targets import hostcpus

    asked: list[int] = []
    real = hostcpus.engine_cpus

    def counting() -> hostcpus.HostCpus:
        asked.append(1)
        return real()

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(hostcpus, "engine_cpus", counting)
        patch_compose(path, [mem, cpu])
    assert asked == [] and "mem_limit: 64M" in path.read_text() and "cpus: 0.75" in path.read_text()


@pytest.mark.slow
def test_the_cli_reads_the_engine_count(engine_ncpu: int, tmp_path: Path) -> None:
    """`python -m rightsize apply -f` on one CPU, DOCKER_HOST at the engine: 1.25 written; then
    `docker compose config` reads it."""
    name = f"rs10cli{uuid.uuid4().hex[:6]}"
    path = tmp_path / "compose.yml"
    path.write_text(TEXT.replace("rs10cpu", name).replace("image: x", "image: rightsize-test/busybox:1"))
    from compose_v2_helpers import dataset

    data = dataset(tmp_path / "data", {f"{name}/web": (32 * 2**20, 0.9)})
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env["DOCKER_HOST"] = f"unix://{SOCKET}"
    first = min(os.sched_getaffinity(0))
    done = subprocess.run(
        ["python3", "-m", "rightsize", "apply", "-f", str(path), "--data", data, "--only", "cpu"],
        env=env, capture_output=True, text=True, timeout=120,
        preexec_fn=lambda: os.sched_setaffinity(0, {first}),
    )  # fmt: skip
    assert done.returncode == 0 and "capped" not in done.stderr, done.stderr
    shown = subprocess.run(
        ["docker", "compose", "-f", str(path), "config", "--format", "json"],
        env=env, capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    assert json.loads(shown)["services"]["web"]["cpus"] == 1.25
