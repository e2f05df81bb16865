"""apply --live and a CPU limit above the engine's CPU count, as apply -f writes it (hostcpus.fit_host).

The data's peak fits the engine's CPUs: -f caps the limit at the count; --live skipped it ("more than
the N this engine has"), so the two disagreed on the same data. Now --live sends the count too. A peak
above the count (data from a larger host) is still skipped: the engine refuses it, and -f only writes
it for a file that deploys elsewhere. A container limited by a CFS quota is sent as recommended, as -f
writes a cpu_quota: the engine bounds only NanoCpus.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from rightsize.models import Observed, Recommendation, Values
from rightsize.targets.compose import patch_compose
from rightsize.targets.live import apply_live

pytestmark = pytest.mark.docker
M = 1024**2


def cpu(workload: str, limit: float, peak: float) -> Recommendation:
    return Recommendation(
        workload, "cpu", Values(), Values(None, limit), Observed(p99=peak * 0.98, max=peak),
        20160, 14 * 86400, 0.9, ("p99 +25%",), "default",
    )  # fmt: skip


def mem(workload: str, limit: int) -> Recommendation:
    return Recommendation(
        workload, "memory", Values(), Values(None, limit), Observed(p99=limit / 2, max=limit / 2),
        20160, 14 * 86400, 0.9, ("p99 +25%",), "default",
    )  # fmt: skip


def labels(project: str, service: str) -> dict[str, str]:
    return {"com.docker.compose.project": project, "com.docker.compose.service": service}


def test_live_caps_a_limit_above_the_engine_as_apply_f_writes_it(
    run_container: Any, docker_client: Any, tmp_path: Path
) -> None:
    ncpu = int(docker_client.info()["NCPU"])
    project = f"rs10cap{uuid.uuid4().hex[:6]}"
    fits = run_container("sleep 3600", labels=labels(project, "fits"), mem_limit="64m", nano_cpus=500_000_000)
    larger = run_container(
        "sleep 3600", labels=labels(project, "larger"), mem_limit="64m", nano_cpus=500_000_000
    )
    quota = run_container(
        "sleep 3600", labels=labels(project, "quota"), mem_limit="64m", cpu_period=100_000, cpu_quota=50_000
    )
    recs = [
        cpu(f"{project}/fits", ncpu + 0.5, float(ncpu)),  # every core busy: p99 +25% is above the count
        cpu(f"{project}/larger", ncpu + 1.5, ncpu + 1.0),  # peaked above this engine: another host's
        mem(f"{project}/larger", 48 * M),
        cpu(f"{project}/quota", ncpu + 0.5, float(ncpu)),
    ]
    result = apply_live(recs, project=project)
    for c in (fits, larger, quota):
        c.reload()
    assert fits.attrs["HostConfig"]["NanoCpus"] == ncpu * 10**9  # before: skipped, left at 0.5
    change = next(ch for ch in result.changes if ch.workload == f"{project}/fits")
    assert (change.key, change.new) == ("NanoCpus", str(ncpu))
    assert change.note == (
        f"recommended {ncpu + 0.5:g}, capped at the engine's {ncpu} CPUs (the data's peak is {ncpu} CPUs), "
        "as apply -f writes it"
    )
    host = larger.attrs["HostConfig"]
    assert (host["NanoCpus"], host["Memory"]) == (500_000_000, 48 * M)  # CPU skipped, memory still sent
    (skip,) = [s for s in result.skipped if s.workload == f"{project}/larger"]
    assert skip.reason == (
        f"refused: {ncpu + 1.5:g} CPUs is more than the {ncpu} this engine has (Docker's upper bound; "
        f"the data's peak is {ncpu + 1:g} CPUs: collected on a larger host)"
    )
    host = quota.attrs["HostConfig"]  # a quota above the count: the engine takes it, as -f writes it
    assert (host["CpuQuota"], host["CpuPeriod"], host["NanoCpus"]) == (
        round((ncpu + 0.5) * 100_000),
        100_000,
        0,
    )

    # the same recommendations through apply -f on this engine: the same values
    path = tmp_path / "compose.yml"
    path.write_text(
        f"name: {project}\nservices:\n  fits:\n    image: x\n    cpus: 0.5\n"
        "  quota:\n    image: x\n    cpu_quota: 50000\n    cpu_period: 100000\n"
    )
    with pytest.warns(UserWarning, match=f"fits: CPU limit {ncpu + 0.5:g} capped at {ncpu}, "):
        patch_compose(path, recs, only="cpu")
    text = path.read_text()
    assert f"    cpus: {ncpu}\n" in text and f"cpu_quota: {round((ncpu + 0.5) * 100_000)}\n" in text


def test_the_real_analysis_on_a_saturating_workload_gives_live_and_f_the_same_limit(
    run_container: Any, docker_client: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Data that kept every core of this engine busy (the real analysis: p99 +25% above the count):
    `apply --live` sends NanoCpus = the count, and `apply -f` writes `cpus:` the count."""
    from cli_helpers import run_cli
    from compose_v2_helpers import dataset

    ncpu = int(docker_client.info()["NCPU"])
    project = f"rs10sat{uuid.uuid4().hex[:6]}"
    web = run_container("sleep 3600", labels=labels(project, "web"), mem_limit="64m", nano_cpus=500_000_000)
    data = dataset(tmp_path / "data", {f"{project}/web": (16 * M, ncpu / 1.1)})  # peaks at the count
    code, out, err = run_cli(
        ["apply", "--live", "--project", project, "--data", data, "--only", "cpu"], capsys
    )
    assert code == 0, err
    web.reload()
    assert web.attrs["HostConfig"]["NanoCpus"] == ncpu * 10**9  # before: skipped, left at 0.5
    assert f"NanoCpus: 0.5 -> {ncpu}  (recommended " in out and f"capped at the engine's {ncpu} CPUs" in out
    path = tmp_path / "compose.yml"
    path.write_text(f"name: {project}\nservices:\n  web:\n    image: x\n    cpus: 0.5\n")
    code, _, err = run_cli(["apply", "-f", str(path), "--data", data, "--only", "cpu"], capsys)
    assert code == 0 and f"capped at {ncpu}, this host's CPU count" in err, err
    assert f"    cpus: {ncpu}\n" in path.read_text()
