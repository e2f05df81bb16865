"""`rightsize apply --live` on a stack the real Docker Compose v2 (`docker compose`) started."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli
from compose_v2_helpers import IMAGE, M, dataset, hosts_of, started, v2
from compose_v2_helpers import stack as stack  # the fixture

pytestmark = pytest.mark.docker

LIVE = f"""\
name: {{name}}         # v2 runs the project under this name, normalized
services:
  app:
    image: {IMAGE}
    command: sleep 3600
    labels: [rightsize-test=1]
    mem_limit: 256m
    cpus: 1
    pids_limit: 500
  big:                   # busier than this engine has CPUs for
    image: {IMAGE}
    command: sleep 3600
    labels: [rightsize-test=1]
    mem_limit: 256m
    cpus: 1
  idle:                  # uses nothing: with floors 0, 0 is recommended (no limit to Docker)
    image: {IMAGE}
    command: sleep 3600
    labels: [rightsize-test=1]
    mem_limit: 256m
    cpus: 1
  period:                # a CFS period and no quota: NanoCpus beside it is refused
    image: {IMAGE}
    command: sleep 3600
    labels: [rightsize-test=1]
    mem_limit: 256m
    cpu_period: 50000
  quota:                 # started with a short CFS period
    image: {IMAGE}
    command: sleep 3600
    labels: [rightsize-test=1]
    mem_limit: 256m
    cpu_quota: 5000
    cpu_period: 5000
"""


@pytest.mark.slow
def test_live_updates_a_stack_v2_started_under_its_normalized_name(
    stack: Any, docker_client: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A stack `docker compose up` started from a file named ``RS8.Live_x``: v2 labels its containers
    with the normalized name and refuses ``-p RS8.Live_x``; `apply --live --project` does the same,
    and with the normalized name updates the running containers (no restart). A CPU limit that is a
    quota below 1 ms at the container's period, or more CPUs than the engine has, is skipped, not
    sent: the engine refused the whole update, so the memory limit was not applied either."""
    given = f"RS8.Live_{uuid.uuid4().hex[:6]}"
    project = given.lower().replace(".", "")
    _, folder = stack({"compose.yml": LIVE.format(name=given)}, ("compose.yml",), project=project, p=False)
    shown = v2(None, folder, ("compose.yml",), "config", "--format", "json").stdout
    assert json.loads(shown)["name"] == project
    refused = v2(given, folder, ("compose.yml",), "config", ok=False)
    assert refused.returncode != 0 and "invalid project name" in refused.stderr
    code, out, err = run_cli(["apply", "--live", "--project", given], capsys)
    assert (code, out) == (2, "") and len(err.splitlines()) == 1, err
    assert f"--project: invalid project name {given!r}" in err and f"did you mean {project}?" in err

    v2(None, folder, ("compose.yml",), "up", "-d")
    before = started(docker_client, project)
    assert set(before) == {"app", "big", "idle", "period", "quota"}
    ncpu = docker_client.info()["NCPU"]
    usage = {
        "app": (20 * M, 0.08),
        "big": (20 * M, ncpu + 1.0),
        "idle": (0, 0.0),
        "period": (20 * M, 0.08),
        "quota": (20 * M, 0.08),
    }
    data = dataset(tmp_path / "data", {f"{project}/{svc}": u for svc, u in usage.items()})
    from rightsize.analysis.recommend import recommend

    floors = {"mem_floor": "0", "cpu_floor": "0"}
    recs: dict[tuple[str, str], Any] = {
        (r.workload.split("/")[1], r.resource): r.recommended for r in recommend(data, overrides=floors)
    }
    assert round(recs[("quota", "cpu")].limit * 5000) < 1000  # what the engine would refuse
    assert recs[("big", "cpu")].limit > ncpu  # likewise ("Range of CPUs is from 0.01 to 2.00")
    assert (recs[("idle", "memory")].limit, recs[("idle", "cpu")].limit) == (0, 0)  # "no limit"
    floors_ = ["--set", "mem_floor=0", "--set", "cpu_floor=0"]
    code, out, err = run_cli(["apply", "--live", "--project", project, "--data", data, *floors_], capsys)
    assert code == 0, err
    hosts = hosts_of(docker_client, project)
    for svc in ("app", "big", "period", "quota"):  # (idle: below)
        mem = recs[(svc, "memory")]
        assert (hosts[svc]["Memory"], hosts[svc]["MemoryReservation"]) == (mem.limit, mem.reservation), svc
        assert hosts[svc]["PidsLimit"] == recs[(svc, "pids")].limit, svc
    assert hosts["app"]["NanoCpus"] == round(recs[("app", "cpu")].limit * 1e9)
    assert (hosts["quota"]["CpuQuota"], hosts["quota"]["CpuPeriod"]) == (5000, 5000)  # left as it was
    assert hosts["big"]["NanoCpus"] == 1_000_000_000  # left as it was
    idle = (hosts["idle"]["Memory"], hosts["idle"]["NanoCpus"], hosts["idle"]["PidsLimit"])
    assert idle == (256 * M, 1_000_000_000, recs[("idle", "pids")].limit)  # limits kept, PIDs set
    period = (hosts["period"]["CpuQuota"], hosts["period"]["CpuPeriod"], hosts["period"]["NanoCpus"])
    assert period == (round(recs[("period", "cpu")].limit * 50_000), 50_000, 0)  # a quota at its period
    assert "below 1000 (1 ms)" in out and f"is more than the {ncpu} this engine has" in out
    assert "not sent: the memory limit 0K is below the 6M Docker accepts, and 0 reads as none" in out
    assert started(docker_client, project) == before  # the same containers, never restarted


LONG_PERIOD = f"""\
services:
  long:                  # a 1 s CFS period: 0.005 CPUs is a 5000 us quota, which the engine takes
    image: {IMAGE}
    command: sleep 3600
    labels: [rightsize-test=1]
    mem_limit: 64m
    cpu_quota: 50000     # kept until apply
    cpu_period: 1000000
"""


@pytest.mark.slow
def test_a_cpu_limit_under_001_at_a_long_cfs_period_is_written_and_sent(
    stack: Any, docker_client: Any
) -> None:
    """The 0.01-CPU floor is NanoCpus' (a 1 ms quota at the 100 ms default period); at a container's
    own period the floor is a 1 ms quota there. apply -f and --live skipped 0.005 CPUs at cpu_period
    1000000 ('below the 0.01 Docker accepts'), which v2 `up` and the engine's update take. Through
    the Python API: the analysis rounds CPU up to 0.05 steps."""
    from writer_recs import rec

    from rightsize.targets.compose import patch_compose
    from rightsize.targets.live import apply_live

    project, folder = stack({"compose.yml": LONG_PERIOD}, ("compose.yml",))
    recs = [rec(f"{project}/long", "cpu", None, 0.005)]
    (result,) = patch_compose(folder / "compose.yml", recs, project=project)
    assert [(c.key, c.new) for c in result.changes] == [("services.long.cpu_quota", "5000")], result.skipped
    v2(project, folder, ("compose.yml",), "up", "-d")
    assert (hosts_of(docker_client, project)["long"]["CpuQuota"]) == 5000  # v2 ran it
    live = apply_live([rec(f"{project}/long", "cpu", None, 0.004)], project=project)
    assert [(c.key, c.new) for c in live.changes] == [("CpuQuota", "0.004")], live.skipped
    assert hosts_of(docker_client, project)["long"]["CpuQuota"] == 4000  # the engine took it
    live = apply_live([rec(f"{project}/long", "cpu", None, 0.0005)], project=project)  # 500 us: refused
    assert not live.changes and "CpuQuota 500 at CpuPeriod 1000000, below 1000" in live.skipped[0].reason
    assert hosts_of(docker_client, project)["long"]["CpuQuota"] == 4000
