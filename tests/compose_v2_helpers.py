"""Helpers for the tests that run Docker Compose v2 (`docker compose`) on what `rightsize apply` wrote."""

from __future__ import annotations

import json
import random
import subprocess
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

M = 1024**2
IMAGE = "rightsize-test/busybox:1"


def v2(project: str | None, folder: Path, files: tuple[str, ...], *args: str, ok: bool = True) -> Any:
    """``docker compose [-p PROJECT] -f ... ARGS`` (the real Compose v2 plugin); no ``-p`` with None."""
    flags = [*(("-p", project) if project else ()), *(a for f in files for a in ("-f", str(folder / f)))]
    done = subprocess.run(["docker", "compose", *flags, *args], capture_output=True, text=True, timeout=120)
    if ok:
        assert done.returncode == 0, done.stderr
    return done


def config_of(project: str, folder: Path, files: tuple[str, ...]) -> dict[str, Any]:
    """The services as v2's ``config --format json`` reads them."""
    return dict(json.loads(v2(project, folder, files, "config", "--format", "json").stdout)["services"])


def hosts_of(client: Any, project: str) -> dict[str, dict[str, Any]]:
    """Each service's container HostConfig, as the engine runs it."""
    found = client.containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"})
    return {c.labels["com.docker.compose.service"]: c.attrs["HostConfig"] for c in found}


def started(client: Any, project: str) -> dict[str, tuple[str, str]]:
    """Each service's container id and start time: an update in place changes neither."""
    found = client.containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"})
    return {c.labels["com.docker.compose.service"]: (c.id, c.attrs["State"]["StartedAt"]) for c in found}


def files_args(folder: Path, files: tuple[str, ...]) -> list[str]:
    """``-f`` and each file, for the rightsize CLI."""
    return [a for f in files for a in ("-f", str(folder / f))]


@pytest.fixture
def stack(tmp_path: Path, docker_client: Any) -> Iterator[Any]:
    """Write files into a folder; `up` through v2 later; `down -t 0` (and a sweep) at the end."""
    made: list[tuple[str, Path, tuple[str, ...], bool]] = []

    def _make(
        files: dict[str, str], given: tuple[str, ...], project: str | None = None, p: bool = True
    ) -> tuple[str, Path]:
        """Files into a new folder; the project (``-p`` unless ``p`` is False: the file names it)."""
        folder = tmp_path / "stack"
        for rel, text in files.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_text(text)
        project = project or f"rs8v2{uuid.uuid4().hex[:8]}"
        made.append((project, folder, given, p))
        return project, folder

    yield _make
    for project, folder, given, p in made:
        v2(project if p else None, folder, given, "down", "-t", "0", ok=False)
        label = {"label": f"com.docker.compose.project={project}"}
        for c in docker_client.containers.list(all=True, filters=label):
            c.remove(force=True)  # the files may no longer load: leave nothing behind


def sample_recs() -> dict[tuple[str, str], Any]:
    """The bundled sample's recommendations (what `apply` without --data writes), by (service, resource)."""
    from rightsize.analysis.recommend import recommend

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "no --data given: the bundled SYNTHETIC sample"
        recs = recommend(None)
    return {(r.workload.split("/")[1], r.resource): r.recommended for r in recs if r.ok}


def effective(svc: dict[str, Any]) -> dict[str, float | None]:
    """What v2's `config --format json` says a service runs with, in base units."""
    res = (svc.get("deploy") or {}).get("resources") or {}
    lim, rsv = res.get("limits") or {}, res.get("reservations") or {}
    mem, memres = lim.get("memory", svc.get("mem_limit")), rsv.get("memory", svc.get("mem_reservation"))
    cpu = lim.get("cpus", svc.get("cpus"))
    if svc.get("cpu_quota"):
        cpu = svc["cpu_quota"] / (svc.get("cpu_period") or 100_000)
    return {
        "mem": None if mem is None else int(mem),
        "memres": None if memres is None else int(memres),
        "cpu": cpu,
        "pids": lim.get("pids", svc.get("pids_limit")),
        "swap": None if svc.get("memswap_limit") is None else int(svc["memswap_limit"]),
    }


def dataset(root: Path, usage: dict[str, tuple[float, float]]) -> str:
    """Three hours of 10 s samples per workload (working set bytes, CPU cores), for the real analysis."""
    from rightsize.store import append, to_table

    rnd, t0 = random.Random(8), 1_767_225_600_000  # 2026-01-01T00:00Z, ms
    rows = [
        {"ts": t0 + i * 10_000, "host": "h", "workload": wl, "container_id": wl, "container": wl[-9:],
         "image": IMAGE, "cpu_cores": cpu * rnd.uniform(0.9, 1.1), "pids": 2, "oom_kills": 0, "restarts": 0,
         "mem_working_set": int(mem * rnd.uniform(0.9, 1.1)), "mem_rss": int(mem * 0.8)}
        for wl, (mem, cpu) in usage.items()
        for i in range(3 * 360)
    ]  # fmt: skip
    append(root, to_table(rows), "samples", host="h")
    return str(root)
