"""apply -f and a CPU limit above this host's CPU count (rightsize.targets.hostcpus).

Docker refuses ``cpus`` above the CPUs it may use ("Range of CPUs is from 0.01 to 2.00, as there are
only 2 CPUs available") and ``docker compose up`` fails. A workload that kept every core busy gets
such a limit (the default strategy: p99 +25%). When the data's peak fits this host the limit is
capped at its CPU count, with a warning; when the data peaked above it (collected on a larger host)
it is written as recommended, with a warning that ``up`` fails here.
"""

from __future__ import annotations

import uuid
import warnings
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli
from compose_v2_helpers import IMAGE, M, dataset, files_args, hosts_of, v2
from compose_v2_helpers import stack as stack  # the fixture

from rightsize.models import Observed, Recommendation, Values
from rightsize.targets.compose import patch_compose

ONE = ("compose.yml",)


def cpu_rec(workload: str, reservation: float | None, limit: float, peak: float) -> Recommendation:
    return Recommendation(
        workload, "cpu", Values(), Values(reservation, limit), Observed(p99=peak * 0.98, max=peak),
        20160, 14 * 86400, 0.9, ("p99 +25%",), "default",
    )  # fmt: skip


def patched(tmp_path: Path, text: str, recs: list[Recommendation], cpus: int) -> tuple[str, list[str]]:
    path = tmp_path / "compose.yml"
    path.write_text(text)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        patch_compose(path, recs, host_cpus=cpus)
    return path.read_text(), [str(w.message) for w in caught]


TEXT = (
    "services:\n  web:\n    image: x\n    cpus: 0.5\n    deploy: {resources: {reservations: {cpus: '.25'}}}\n"
)


def test_a_saturating_workload_is_capped_at_the_host_cpu_count(tmp_path: Path) -> None:
    """2 busy cores on a 2-CPU host: 2.5 recommended (p99 2 +25%) would make `up` fail here."""
    text, said = patched(tmp_path, TEXT, [cpu_rec("web", 2.0, 2.5, 2.0)], cpus=2)
    assert "cpus: 2\n" in text and "cpus: '2'" in text  # (a reservation at 2 stays: it is not above it)
    assert said == [
        "web: CPU limit 2.5 capped at 2, this host's CPU count (the data's peak is 2 CPUs; Docker refuses "
        "more here); edit the file if it deploys to a larger host"
    ]


def test_a_reservation_above_the_host_is_capped_with_the_limit(tmp_path: Path) -> None:
    """vpa on 2 busy cores: reservation 2.5, limit 5 (its upper bound); a sampled peak of 2.05 is noise."""
    text, said = patched(tmp_path, TEXT, [cpu_rec("web", 2.5, 5.0, 2.05)], cpus=2)
    assert "cpus: 2\n" in text and "cpus: '2'" in text
    assert len(said) == 1 and said[0].startswith("web: CPU limit 5 capped at 2, ")


def test_data_from_a_larger_host_is_written_as_recommended_with_a_warning(tmp_path: Path) -> None:
    text, said = patched(tmp_path, TEXT, [cpu_rec("web", 2.0, 4.5, 3.6)], cpus=2)
    assert "cpus: 4.5\n" in text and "cpus: '2'" in text
    assert said == [
        "web: CPU limit 4.5 is above this host's 2 CPUs; written as recommended (the data's peak is 3.6 "
        "CPUs: collected on a larger host), but `docker compose up` fails on this host"
    ]


def test_a_limit_within_the_host_is_written_without_a_warning(tmp_path: Path) -> None:
    text, said = patched(tmp_path, TEXT, [cpu_rec("web", 1.0, 2.0, 1.6)], cpus=2)
    assert "cpus: 2\n" in text and said == []


@pytest.mark.docker
@pytest.mark.slow
def test_what_apply_writes_for_a_saturating_workload_starts(
    stack: Any, docker_client: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real analysis on data that kept every core of this host busy, written by `apply -f` into
    both spellings, then a real `docker compose up`: it starts with NanoCpus at the host's count."""
    from rightsize.targets.hostcpus import host_cpus

    n = host_cpus()
    assert docker_client.info()["NCPU"] == n  # the engine checks the count rightsize read
    project = f"rs9cpu{uuid.uuid4().hex[:8]}"
    svc = f"    image: {IMAGE}\n    command: sleep 3600\n    labels: [rightsize-test=1]\n"
    text = (
        f"name: {project}\nservices:\n  web:\n{svc}    cpus: 0.5\n"
        f"  api:\n{svc}    deploy:\n      resources:\n        limits: {{cpus: '0.5', memory: 64m}}\n"
    )
    _, folder = stack({"compose.yml": text}, ONE, project=project)
    busy = n / 1.1  # the samples are x0.9..1.1 of it: every core busy at the peak, never more
    data = dataset(tmp_path / "data", {f"{project}/web": (32 * M, busy), f"{project}/api": (32 * M, busy)})
    code, _, err = run_cli(["apply", *files_args(folder, ONE), "--data", data, "--only", "cpu"], capsys)
    assert code == 0, err
    for name in ("web", "api"):
        assert f"rightsize: warning: {name}: CPU limit " in err and f" capped at {n}, this host's" in err
    up = v2(project, folder, ONE, "up", "-d", ok=False)
    assert up.returncode == 0, up.stderr  # before: "Range of CPUs is from 0.01 to 2.00, ..."
    hosts = hosts_of(docker_client, project)
    assert {name: h["NanoCpus"] for name, h in hosts.items()} == {"web": n * 10**9, "api": n * 10**9}
