"""`rightsize apply` against a real Docker Compose v2 (`docker compose`, 2.40.3 here) and the engine.

One stack spells its limits every way compose takes them (deploy.resources limits and reservations,
service-level keys with memswap_limit, a CFS quota, an override file, extends from another file, an
included file, one resources block shared through merge keys, comments everywhere). `apply` writes
the bundled sample's recommendations into it; then v2's own `config` must show exactly the values
applied, v2's `up` must give containers whose HostConfig holds them, and every other line must be as
it was. `--live` is checked on a stack v2 started, and a project name v2 refuses is refused alike.
"""

from __future__ import annotations

import difflib
import json
import random
import re
import subprocess
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli, sha

from rightsize.units import parse_compose_bytes

pytestmark = pytest.mark.docker

M = 1024**2
IMAGE = "rightsize-test/busybox:1"
BASE = f"""\
# shared JVM settings (not a -f file: reached through extends only)
services:
  jvm:
    image: {IMAGE}
    command: sleep 3600   # idle
    labels: [rightsize-test=1]
    deploy:
      resources:
        limits: {{memory: 3g, cpus: "1"}}   # flow style
        reservations: {{memory: 1g}}
"""
INCLUDED = f"""\
# included: the vector store keeps its own file
services:
  qdrant:
    image: {IMAGE}
    command: sleep 3600
    labels:
      - rightsize-test=1   # swept by the tests
    mem_limit: 2g   # qdrant limit
    pids_limit: 500 # qdrant pids
"""
COMPOSE = f"""\
# the shop: every way compose spells a limit
x-base: &base            # what every service shares
  image: {IMAGE}
  command: ["sleep", "3600"]   # idle
  labels:
    rightsize-test: "1"        # swept by the tests
x-shared: &shared        # one memory block, two services
  deploy:
    resources:
      limits:
        memory: 1g       # shared limit
        pids: 300        # shared pids
      reservations:
        memory: 128m     # shared reservation

include:
  - inc/qdrant.yml       # comment on the include

services:
  redis:                 # deploy.resources style
    <<: *base
    deploy:
      resources:
        limits:
          memory: 256M   # redis limit
          cpus: '0.5'    # redis cpus
          pids: 200      # redis pids
        reservations:
          memory: 32M    # redis reservation
          cpus: '0.05'   # redis cpu reservation
  grafana:               # service-level keys
    <<: *base
    mem_limit: 1g        # grafana limit
    mem_reservation: 256m  # grafana reservation
    cpus: 1.5            # grafana cpus
    pids_limit: 300      # grafana pids
    memswap_limit: 1536m # 512m of swap
  frontend:              # a CFS quota, and the shared block
    <<: [*base, *shared]
    cpu_quota: 150000    # 1.5 CPUs
    cpu_period: 100000   # the default period
  rabbitmq:              # the shared block too
    <<: [*base, *shared]
  prometheus:            # overridden in override.yml
    <<: *base
    mem_limit: 2g        # base value
    cpus: 1              # base cpus
  neo4j:                 # extends a service of another file
    extends:
      file: base.yml     # not given with -f
      service: jvm
"""
OVERRIDE = """\
# production overrides
services:
  prometheus:
    mem_reservation: 512m    # override reservation
    deploy:
      resources:
        limits:
          memory: 2g         # the twin of mem_limit (v2 wants them equal)
          cpus: "1"          # twin of cpus
          pids: 400          # override pids
"""
FILES = {"compose.yml": COMPOSE, "override.yml": OVERRIDE, "base.yml": BASE, "inc/qdrant.yml": INCLUDED}
GIVEN = ("compose.yml", "override.yml")  # the -f files, in order
SERVICES = ("redis", "grafana", "frontend", "rabbitmq", "prometheus", "neo4j", "qdrant")
# a line apply may add or change: a resource key or a mapping that holds one
RESOURCE_LINE = re.compile(
    r"\s*(memory|cpus|pids|mem_limit|mem_reservation|memswap_limit|cpu_quota|pids_limit|deploy|resources"
    r"|limits|reservations):"
)


def v2(project: str | None, folder: Path, files: tuple[str, ...], *args: str, ok: bool = True) -> Any:
    """``docker compose [-p PROJECT] -f ... ARGS`` (the real Compose v2 plugin); no ``-p`` with None."""
    flags = [*(("-p", project) if project else ()), *(a for f in files for a in ("-f", str(folder / f)))]
    done = subprocess.run(["docker", "compose", *flags, *args], capture_output=True, text=True, timeout=120)
    if ok:
        assert done.returncode == 0, done.stderr
    return done


def config_of(project: str, folder: Path, files: tuple[str, ...] = GIVEN) -> dict[str, Any]:
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


def _f(folder: Path, files: tuple[str, ...] = GIVEN) -> list[str]:
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


def only_values_changed(before: str, after: str) -> None:
    """Every line apply did not mean to touch is as it was: a changed line keeps its key and its
    comment and holds a new value; an added line is a resource key; no line is dropped."""
    old, new = before.splitlines(), after.splitlines()
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        assert tag != "delete", old[i1:i2]
        assert all(RESOURCE_LINE.match(line) for line in new[j1:j2]), new[j1:j2]
        added = list(new[j1:j2])
        for line in old[i1:i2]:
            key, _, rest = line.partition(":")
            comment = rest.partition(" #")[2]
            same = [n for n in added if n.startswith(key + ":") and n.partition(" #")[2] == comment]
            twin = same[0] if same else None
            assert twin is not None and twin != line, (line, added)
            added.remove(twin)


@pytest.mark.slow
def test_every_spelling_is_applied_as_v2_reads_and_runs_it(
    stack: Any, docker_client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    project, folder = stack(FILES, GIVEN)
    before = v2(project, folder, GIVEN, "config", "--format", "json")  # the stack is one v2 loads
    assert set(json.loads(before.stdout)["services"]) == set(SERVICES)
    code, out, err = run_cli(["apply", *_f(folder), "--format", "json"], capsys)
    assert code == 0, err
    changes = [c for r in json.loads(out)["results"] for c in r["changes"]]
    assert {c["target"] for c in changes} == {str(folder / f) for f in ("compose.yml", "override.yml",
                                                                        "inc/qdrant.yml")}  # fmt: skip
    assert (folder / "base.yml").read_text() == BASE  # the extended service's file is not touched

    # (a) v2 loads the patched files and shows exactly what apply wrote, and what was recommended
    config = config_of(project, folder)
    for c in changes:
        _, svc, *path = c["key"].split(".")
        node = config[svc]
        for key in path:
            node = node[key]
        if path[-1] in ("memory", "mem_limit", "mem_reservation", "memswap_limit"):
            assert int(node) == parse_compose_bytes(c["new"]), c
        else:
            assert float(node) == float(c["new"]), c
    recs = sample_recs()
    for svc in SERVICES:
        got, mem, cpu = effective(config[svc]), recs[(svc, "memory")], recs[(svc, "cpu")]
        pids = recs[(svc, "pids")]
        assert (got["mem"], got["memres"], got["pids"]) == (mem.limit, mem.reservation, pids.limit), svc
        assert got["cpu"] == pytest.approx(cpu.limit), svc
    swap = effective(config["grafana"])["swap"]
    assert swap == recs[("grafana", "memory")].limit + 512 * M  # the swap allowance is kept

    # (b) v2 brings it up, and the engine runs each container with those values
    v2(project, folder, GIVEN, "up", "-d")
    hosts = hosts_of(docker_client, project)
    assert set(hosts) == set(SERVICES)
    for svc, host in hosts.items():
        mem, cpu, pids = recs[(svc, "memory")], recs[(svc, "cpu")].limit, recs[(svc, "pids")].limit
        assert (host["Memory"], host["MemoryReservation"], host["PidsLimit"]) == (
            mem.limit, mem.reservation, pids), svc  # fmt: skip
        if svc == "frontend":  # the quota was rescaled; no NanoCpus beside it (Docker refuses both)
            quota = (host["CpuQuota"], host["CpuPeriod"], host["NanoCpus"])
            assert quota == (round(cpu * 100_000), 100_000, 0)
        else:
            assert (host["NanoCpus"], host["CpuQuota"]) == (round(cpu * 1e9), 0), svc
        swap = mem.limit + 512 * M if svc == "grafana" else 2 * mem.limit  # else the engine's default
        assert host["MemorySwap"] == swap, svc

    # (c) comments, anchors, the include and every other line are as they were
    for rel in ("compose.yml", "override.yml", "inc/qdrant.yml"):
        only_values_changed(FILES[rel], (folder / rel).read_text())
    text = (folder / "compose.yml").read_text()
    shared = COMPOSE[COMPOSE.index("x-shared") : COMPOSE.index("include:")]
    assert shared in text  # the anchor two services share is not edited: each got its own copy
    code, out, _ = run_cli(["apply", *_f(folder)], capsys)
    assert code == 0 and out.splitlines()[-1].startswith("total: 0 changed")  # applying twice: no change


def test_dry_run_writes_nothing_and_shows_the_diff(stack: Any, capsys: pytest.CaptureFixture[str]) -> None:
    project, folder = stack(FILES, GIVEN)
    shas = {rel: sha(folder / rel) for rel in FILES}
    code, out, err = run_cli(["apply", *_f(folder), "--dry-run"], capsys)
    assert code == 0, err
    assert {rel: sha(folder / rel) for rel in FILES} == shas
    assert re.search(r"^\+          memory: \d+M   # redis limit$", out, re.M), out
    for rel in ("compose.yml", "override.yml", "inc/qdrant.yml"):
        assert f"+++ {folder / rel}" in out
    assert "total: " in err  # the summary goes to stderr, the diff alone to stdout
    config = config_of(project, folder)
    assert effective(config["qdrant"])["mem"] == 2 * 1024**3  # v2 still reads the values as they were


SWAP = f"""\
services:
  redis:
    image: {IMAGE}
    command: sleep 3600
    labels: [rightsize-test=1]
    deploy:
      resources:
        limits:
          memory: 1g   # deploy limit
  grafana:
    image: {IMAGE}
    command: sleep 3600
    labels: [rightsize-test=1]
    mem_limit: 1g
    memswap_limit: -1  # unlimited swap
"""


@pytest.mark.slow
def test_swap_is_memswap_limit_v2_runs_with(
    stack: Any, docker_client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    project, folder = stack({"compose.yml": SWAP}, ("compose.yml",))
    one = ("compose.yml",)
    code, _, err = run_cli(["apply", *_f(folder, one), "--swap", "64M", "--only", "memory"], capsys)
    assert code == 0, err
    recs, config = sample_recs(), config_of(project, folder, one)
    v2(project, folder, one, "up", "-d")
    hosts = hosts_of(docker_client, project)
    assert set(hosts) == {"redis", "grafana"}
    for svc, host in hosts.items():
        limit = recs[(svc, "memory")].limit
        assert effective(config[svc])["swap"] == limit + 64 * M, svc  # memswap_limit = limit + --swap
        assert (host["Memory"], host["MemorySwap"]) == (limit, limit + 64 * M), svc
    assert "memswap_limit: -1" not in (folder / "compose.yml").read_text()


# files Docker Compose v2 refuses to load, and the key its error names
REFUSED = [
    ("    mem_limit: 1Gi\n", "mem_limit"),
    ('    cpus: "1500m"\n', "cpus"),
    ("    deploy:\n      resources:\n        limits:\n          pids: 1.5\n", "pids"),
]


@pytest.mark.parametrize(("lines", "key"), REFUSED)
def test_a_file_v2_refuses_is_refused_and_left_alone(
    stack: Any, lines: str, key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = f"services:\n  redis:\n    image: {IMAGE}\n" + lines
    project, folder = stack({"compose.yml": text}, ("compose.yml",))
    assert v2(project, folder, ("compose.yml",), "config", ok=False).returncode != 0  # v2 refuses it
    code, out, err = run_cli(["apply", *_f(folder, ("compose.yml",))], capsys)
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1 and err.startswith("rightsize: error: ") and key in err, err
    assert (folder / "compose.yml").read_text() == text


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


ENGINE_MINIMUMS = f"""\
services:
  idle:                  # uses nothing: floors 0 would recommend 0, which Docker reads as no limit
    image: {IMAGE}
    command: sleep 3600
    labels: [rightsize-test=1]
    mem_limit: 64m       # kept
    cpus: 0.5            # kept
  quota:                 # a short CFS period: 0.15 CPUs is a quota below Docker's 1 ms
    image: {IMAGE}
    command: sleep 3600
    labels: [rightsize-test=1]
    mem_limit: 64m
    cpu_quota: 5000      # kept
    cpu_period: 5000
"""


@pytest.mark.slow
def test_values_the_engine_refuses_are_not_written(
    stack: Any, docker_client: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """v2's `config` takes cpu_quota 750, but `up` fails ("CPU cfs quota can not be less than 1ms");
    `mem_limit: 0k` and `cpus: 0` load and run, as no limit at all. apply wrote all three."""
    project, folder = stack({"compose.yml": ENGINE_MINIMUMS}, ("compose.yml",))
    data = dataset(tmp_path / "data", {f"{project}/idle": (0, 0.0), f"{project}/quota": (20 * M, 0.08)})
    floors = ["--set", "mem_floor=0", "--set", "cpu_floor=0"]
    code, out, err = run_cli(["apply", *_f(folder, ("compose.yml",)), "--data", data, "--project", project,
                              *floors, "--format", "json"], capsys)  # fmt: skip
    assert code == 0, err
    result = json.loads(out)["results"][0]
    why: dict[tuple[str, str], str] = {}
    for s in result["skipped"]:
        key = (s["workload"].split("/")[1], s["resource"])
        why[key] = why.get(key, "") + s["reason"] + "\n"
    assert "the memory limit 0K is below the 6M Docker accepts" in why[("idle", "memory")]
    assert "the CPU limit 0 is below the 0.01 Docker accepts" in why[("idle", "cpu")]
    assert "is cpu_quota 750, below the 1000 (1 ms) Docker accepts" in why[("quota", "cpu")]
    assert {c["key"] for c in result["changes"]} >= {"services.quota.mem_limit", "services.idle.pids_limit"}
    text = (folder / "compose.yml").read_text()
    for kept in ("mem_limit: 64m       # kept", "cpus: 0.5            # kept", "cpu_quota: 5000      # kept"):
        assert kept in text
    v2(project, folder, ("compose.yml",), "up", "-d")  # and v2 brings the patched stack up
    hosts = hosts_of(docker_client, project)
    assert (hosts["idle"]["Memory"], hosts["idle"]["NanoCpus"]) == (64 * M, 500_000_000)
    assert (hosts["quota"]["CpuQuota"], hosts["quota"]["CpuPeriod"]) == (5000, 5000)


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
    recs = {(r.workload.split("/")[1], r.resource): r.recommended for r in recommend(data, overrides=floors)}
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
