"""--live: update real running containers through the Engine API, and refuse unsafe limits."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from writer_recs import M, rec

from rightsize.errors import RightsizeError
from rightsize.targets.live import apply_live

pytestmark = pytest.mark.docker


def compose_labels(project: str, service: str) -> dict[str, str]:
    return {"com.docker.compose.project": project, "com.docker.compose.service": service}


def test_live_update_changes_the_running_containers(run_container: Any) -> None:
    project = f"rs5live{uuid.uuid4().hex[:6]}"
    app = run_container(
        "sleep 3600",
        labels=compose_labels(project, "app"),
        mem_limit="64m",
        nano_cpus=500_000_000,
        pids_limit=50,
    )
    quota = run_container(
        "sleep 3600",
        labels=compose_labels(project, "quota"),
        mem_limit="48m",
        memswap_limit="96m",
        cpu_period=100_000,
        cpu_quota=25_000,
    )
    other = run_container("sleep 3600", labels=compose_labels(project + "x", "app"), mem_limit="64m")
    recs = [
        rec(f"{project}/app", "memory", 16 * M, 96 * M),
        rec(f"{project}/app", "cpu", 0.25, 0.75),
        rec(f"{project}/app", "pids", None, 64),
        rec(f"{project}/quota", "memory", None, 80 * M),
        rec(f"{project}/quota", "cpu", None, 0.5),
    ]
    dry = apply_live(recs, project=project, dry_run=True)
    assert len(dry.changes) == 6 and not dry.written
    app.reload()
    assert app.attrs["HostConfig"]["Memory"] == 64 * M  # a dry run changes nothing

    result = apply_live(recs, project=project)
    assert result.written and not result.skipped
    for c in (app, quota, other):
        c.reload()
    host = app.attrs["HostConfig"]
    assert (host["Memory"], host["MemoryReservation"], host["NanoCpus"], host["PidsLimit"]) == (
        96 * M,
        16 * M,
        750_000_000,
        64,
    )
    assert app.status == "running"  # updated in place, no restart
    qhost = quota.attrs["HostConfig"]
    assert qhost["Memory"] == 80 * M
    assert qhost["MemorySwap"] == 128 * M  # swap allowance (48m) kept
    assert (qhost["CpuQuota"], qhost["CpuPeriod"], qhost["NanoCpus"]) == (50_000, 100_000, 0)
    assert other.attrs["HostConfig"]["Memory"] == 64 * M  # another project is not touched

    again = apply_live(recs, project=project)
    assert not again.changes  # idempotent


def test_live_refuses_a_limit_below_current_usage(run_container: Any) -> None:
    project = f"rs5live{uuid.uuid4().hex[:6]}"
    # 40 MiB in tmpfs is charged to the container as shared memory: it cannot be reclaimed as cache
    c = run_container(
        "dd if=/dev/zero of=/dev/shm/fill bs=1M count=40 2>/dev/null; echo ready; sleep 3600",
        labels=compose_labels(project, "hog"),
        mem_limit="128m",
        shm_size="64m",
    )
    for _ in range(100):
        if b"ready" in c.logs():
            break
        time.sleep(0.1)
    result = apply_live([rec(f"{project}/hog", "memory", None, 16 * M)], project=project)
    (skip,) = result.skipped
    assert "refused" in skip.reason and "below the current usage" in skip.reason
    c.reload()
    assert c.attrs["HostConfig"]["Memory"] == 128 * M and not result.changes


def test_unknown_project_is_bad_input(docker_client: Any) -> None:
    with pytest.raises(RightsizeError, match="no running containers of compose project"):
        apply_live([rec("nope/app", "memory", None, 64 * M)], project=f"nope{uuid.uuid4().hex}")


def test_unreachable_engine_is_one_line() -> None:
    with pytest.raises(RightsizeError, match="cannot reach the Docker engine"):
        apply_live([], docker_host="unix:///nonexistent/docker.sock")


@pytest.mark.slow
def test_cli_apply_live_uses_the_real_analysis(tmp_path: Any, run_container: Any, capsys: Any) -> None:
    """A small dataset through the real analysis, then `apply --live` on a real container."""
    import random

    from rightsize.analysis.recommend import recommend
    from rightsize.cli import main
    from rightsize.store import append, to_table

    project = f"rs5cli{uuid.uuid4().hex[:6]}"
    rnd = random.Random(5)
    t0 = 1_767_225_600_000  # 2026-01-01T00:00Z, ms
    rows = [
        {
            "ts": t0 + i * 10_000,
            "host": "h",
            "workload": f"{project}/app",
            "container_id": "c1",
            "container": f"{project}_app_1",
            "image": "busybox",
            "cpu_cores": 0.05 + rnd.random() * 0.05,
            "mem_working_set": int((20 + rnd.random() * 4) * M),
            "mem_rss": int(18 * M),
            "pids": 3,
            "mem_limit": 256 * M,
            "cpu_limit": 2.0,
            "pids_limit": 500,
            "oom_kills": 0,
            "restarts": 0,
        }
        for i in range(3 * 360)  # 3 hours at 10 s
    ]
    append(tmp_path / "data", to_table(rows), "samples", host="h")
    c = run_container(
        "sleep 3600",
        labels=compose_labels(project, "app"),
        mem_limit="256m",
        nano_cpus=2_000_000_000,
        pids_limit=500,
    )
    recs = {r.resource: r for r in recommend(tmp_path / "data")}
    assert recs["memory"].ok and recs["pids"].ok

    with pytest.raises(SystemExit) as exc:
        main(["apply", "--live", "--project", project, "--data", str(tmp_path / "data")])
    out = capsys.readouterr().out
    assert exc.value.code == 0, out
    c.reload()
    host = c.attrs["HostConfig"]
    start = {"Memory": 256 * M, "MemoryReservation": 0, "NanoCpus": 2_000_000_000, "PidsLimit": 500}
    want = {
        "Memory": recs["memory"].recommended.limit,
        "MemoryReservation": recs["memory"].recommended.reservation,
        "NanoCpus": recs["cpu"].recommended.limit * 1e9,
        "PidsLimit": recs["pids"].recommended.limit,
    }
    for key, value in want.items():
        if value is None:
            continue
        assert host[key] == round(value), key  # the container runs with exactly what the analysis said
        if round(value) != start[key]:
            assert f"{project}/app ({c.name}): {key}: " in out  # and the summary says what changed
    assert any(round(v) != start[k] for k, v in want.items() if v is not None)


def test_a_reservation_above_the_new_limit_is_refused_not_half_applied(run_container: Any) -> None:
    project = f"rs5live{uuid.uuid4().hex[:6]}"
    c = run_container(
        "sleep 3600",
        labels=compose_labels(project, "app"),
        mem_limit="128m",
        mem_reservation="96m",
        pids_limit=50,
    )
    # the memory limit may only go down to 64m if the existing 96m reservation goes down too
    recs = [rec(f"{project}/app", "memory", None, 64 * M), rec(f"{project}/app", "pids", None, 80)]
    result = apply_live(recs, project=project)
    assert any("would exceed the limit" in s.reason for s in result.skipped)
    c.reload()
    host = c.attrs["HostConfig"]
    assert (host["Memory"], host["MemoryReservation"], host["PidsLimit"]) == (128 * M, 96 * M, 80)


def test_an_engine_refusal_is_reported_and_other_containers_still_update(run_container: Any) -> None:
    project = f"rs5live{uuid.uuid4().hex[:6]}"
    bad = run_container("sleep 3600", labels=compose_labels(project, "bad"), nano_cpus=500_000_000)
    good = run_container("sleep 3600", labels=compose_labels(project, "good"), mem_limit="64m")
    recs = [rec(f"{project}/bad", "cpu", None, 4096.0), rec(f"{project}/good", "memory", None, 96 * M)]
    result = apply_live(recs, project=project)  # no host has 4096 CPUs: the engine would say no
    (skip,) = result.skipped
    assert skip.workload == f"{project}/bad" and "CPUs is more than the" in skip.reason
    bad.reload()
    good.reload()
    assert bad.attrs["HostConfig"]["NanoCpus"] == 500_000_000
    assert good.attrs["HostConfig"]["Memory"] == 96 * M


def test_unlimited_swap_stays_unlimited_when_the_limit_moves(run_container: Any) -> None:
    project = f"rs5live{uuid.uuid4().hex[:6]}"
    c = run_container("sleep 3600", labels=compose_labels(project, "app"), mem_limit="256m", memswap_limit=-1)
    result = apply_live([rec(f"{project}/app", "memory", None, 128 * M)], project=project)
    assert not result.skipped and len(result.changes) == 1
    c.reload()
    assert (c.attrs["HostConfig"]["Memory"], c.attrs["HostConfig"]["MemorySwap"]) == (128 * M, -1)


def test_a_container_removed_since_the_list_is_skipped_not_a_crash(
    docker_client: Any, run_container: Any
) -> None:
    from rightsize.targets.live import _update

    project = f"rs5live{uuid.uuid4().hex[:6]}"
    c = run_container("sleep 3600", labels=compose_labels(project, "app"), mem_limit="64m")
    listed = docker_client.containers.get(c.id)  # what apply_live listed ...
    c.remove(force=True)  # ... then `docker compose down` ran before its update
    changes, skipped = _update(
        docker_client, listed, f"{project}/app", [rec(f"{project}/app", "pids", None, 80)], False
    )
    assert changes == [] and len(skipped) == 1 and "the container is gone" in skipped[0].reason


def test_an_unreachable_docker_host_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(RightsizeError, match=r"at DOCKER_HOST=unix:///nonexistent/docker\.sock: "):
        apply_live([])


def test_min_confidence_out_of_range_fails_before_the_engine() -> None:
    with pytest.raises(RightsizeError, match=r"--min-confidence 1\.5"):
        apply_live([], docker_host="unix:///nonexistent/docker.sock", min_confidence=1.5)
