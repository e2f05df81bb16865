"""`docker-compose run` one-offs on the real engine: the workload `project/service (run)`, kept apart
from the service's replicas, and never written into the service by `apply` (file or --live).

The containers are made by the real Debian `docker-compose` (v1.29): `up -d` for the service and
`run -d` for the one-off, so the labels are the ones Compose sets (v1.29 and v2 both write
`com.docker.compose.oneoff=True` on a run, `False` on `up` replicas).
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import rightsize
from rightsize.sources.docker import is_oneoff, workload_name
from rightsize.targets.match import match_workloads

MiB = 1024**2
COMPOSE = """\
version: "2.4"
services:
  web:
    image: rightsize-test/busybox:1
    command: ["sleep", "3600"]
    labels:
      rightsize-test: "1"
    mem_limit: 512m
"""
# a "migration" that holds 48 MiB: far more than the idle service, so pooling it would show
JOB = "dd if=/dev/zero bs=48M count=1 | sleep 3600"
FEW = {"min_history": "1s", "min_samples": "3"}  # a few seconds of data may be recommended from


def _compose(folder: Path, project: str, *args: str) -> str:
    done = subprocess.run(
        ["docker-compose", "-p", project, *args], cwd=folder, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def stack(tmp_path: Path, docker_client: Any) -> Iterator[tuple[Path, str]]:
    if shutil.which("docker-compose") is None:
        pytest.fail("docker-compose is not installed (run scripts/test-env.sh)")
    folder = tmp_path / "stack"
    folder.mkdir()
    (folder / "docker-compose.yml").write_text(COMPOSE)
    project = f"rs{uuid.uuid4().hex[:8]}"
    try:
        _compose(folder, project, "up", "-d")
        _compose(folder, project, "run", "-d", "web", "sh", "-c", JOB)
        yield folder, project
    finally:  # `down` removes the run containers too, and the project's network
        subprocess.run(["docker-compose", "-p", project, "down", "-t", "0"], cwd=folder,
                       capture_output=True, timeout=120)


@pytest.mark.docker
@pytest.mark.slow
def test_a_compose_run_one_off_is_its_own_workload_and_never_applied_to_the_service(
    stack: tuple[Path, str], docker_client: Any, tmp_path: Path
) -> None:
    folder, project = stack
    listed = docker_client.containers.list(filters={"label": f"com.docker.compose.project={project}"})
    by_oneoff = {c.labels["com.docker.compose.oneoff"]: c for c in listed}
    assert set(by_oneoff) == {"True", "False"}  # what docker-compose v1.29 really writes
    replica, job = by_oneoff["False"], by_oneoff["True"]

    out = tmp_path / "data"
    rightsize.collect(out, duration="3s", interval="0.5s", project=project, quiet=True)
    samples = rightsize.load(out)
    web, run = f"{project}/web", f"{project}/web (run)"
    assert set(samples["workload"]) == {web, run}
    assert set(samples.loc[samples["workload"] == web, "container_id"]) == {replica.id}
    assert set(samples.loc[samples["workload"] == run, "container_id"]) == {job.id}
    assert samples.loc[samples["workload"] == web, "mem_working_set"].max() < 16 * MiB
    assert samples.loc[samples["workload"] == run, "mem_working_set"].median() > 40 * MiB

    recs = rightsize.recommend(out, overrides=FEW)
    memory = {r.workload: r for r in recs if r.resource == "memory"}
    assert memory[web].ok and memory[run].ok
    assert memory[web].observed.max < 16 * MiB  # the job's 48 MiB did not reach web's percentiles

    # the compose file: web gets web's numbers; the run workload is nobody's service
    compose_file = folder / "docker-compose.yml"
    [result] = rightsize.patch_compose([compose_file], recs, dry_run=True, project=project)
    assert {c.workload for c in result.changes} == {web}
    assert result.diff and compose_file.read_text() == COMPOSE
    [only_runs] = rightsize.patch_compose(
        [compose_file], [r for r in recs if r.workload == run], dry_run=True, project=project
    )
    assert not only_runs.changes and not only_runs.diff
    [why] = {s.reason for s in only_runs.skipped}
    assert why.startswith(f"only its one-off runs are in the data ({run})")

    # Helm values: "web (run)" is near "web" by name, but lands there only through an explicit --map
    values = tmp_path / "values.yaml"
    values.write_text("web:\n  resources:\n    limits:\n      memory: 512Mi\n")
    runs = [r for r in recs if r.workload == run]
    helm = rightsize.patch_helm(values, runs, dry_run=True)
    assert not helm.changes and {s.workload for s in helm.skipped} == {run}
    mapped = rightsize.patch_helm(values, runs, dry_run=True, mapping={run: "web"})
    assert {c.workload for c in mapped.changes} == {run}

    # live: each running container gets its own workload's values, the job never web's
    live = rightsize.apply_live(recs, project=project, dry_run=True, only=["memory"])
    targets = {(c.target, c.workload) for c in live.changes}
    assert (replica.name, web) in targets and (job.name, run) in targets
    assert len({c.target for c in live.changes if c.workload == web}) == 1


# labels recorded from the containers above (docker-compose 1.29.2), trimmed to the compose ones
UP = {"com.docker.compose.project": "shop", "com.docker.compose.service": "web",
      "com.docker.compose.oneoff": "False", "com.docker.compose.container-number": "1",
      "com.docker.compose.version": "1.29.2"}
RUN = {"com.docker.compose.project": "shop", "com.docker.compose.service": "web",
       "com.docker.compose.oneoff": "True",
       "com.docker.compose.slug": "505ff7e2e0db259cd1c9cbf1d7ef9bb281d3af9f2f7900ed3659291fe5a8d69",
       "com.docker.compose.version": "1.29.2"}


def test_one_off_naming_and_matching() -> None:
    assert workload_name(UP, "/shop_web_1") == "shop/web"
    assert workload_name(RUN, "/shop_web_run_505ff7e2e0db") == "shop/web (run)"
    assert workload_name({**RUN, "com.docker.compose.oneoff": "true"}, "/x") == "shop/web (run)"
    assert is_oneoff("shop/web (run)") and not is_oneoff("shop/web")
    assert not is_oneoff("shop_web_run_505ff7e2e0db")  # a plain container name is its own workload


def test_match_never_takes_a_run_workload_for_the_service(tmp_path: Path) -> None:
    from rightsize.models import Observed, Recommendation, Values

    def rec(workload: str) -> Recommendation:
        return Recommendation(workload, "memory", Values(None, None), Values(None, 64 * MiB),
                              Observed(1, 1, 1, 1, 1), 100, 3600.0, 1.0, (), "default")

    both = [rec("shop/web (run)"), rec("shop/web")]
    for project in ("shop", None):
        found, why = match_workloads("web", both, project=project)
        assert [r.workload for r in found] == ["shop/web"] and why == ""
        found, why = match_workloads("web", both[:1], project=project)
        assert found == [] and "one-off runs" in why
    # a run of another project is not this project's reason
    assert match_workloads("web", both[:1], project="other")[1] == "service not in the data"
