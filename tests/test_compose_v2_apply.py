"""`rightsize apply -f` against a real Docker Compose v2 (`docker compose`, 2.40.3 here) and the engine.

One stack spells its limits every way compose takes them (deploy.resources limits and reservations,
service-level keys with memswap_limit, a CFS quota, an override file, extends from another file, an
included file, one resources block shared through merge keys, comments everywhere). `apply` writes
the bundled sample's recommendations into it; then v2's own `config` must show exactly the values
applied, v2's `up` must give containers whose HostConfig holds them, and every other line must be as
it was. `--live` on a stack v2 started: test_compose_v2_live.py.
"""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli, sha
from compose_v2_helpers import IMAGE, M, config_of, dataset, effective, files_args, hosts_of, sample_recs, v2
from compose_v2_helpers import stack as stack  # the fixture

from rightsize.units import parse_compose_bytes

pytestmark = pytest.mark.docker
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
    r"|limits|reservations)?:"  # (a bare `: value` is an explicit key's value, `? key` the line above)
)


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
    code, out, err = run_cli(["apply", *files_args(folder, GIVEN), "--format", "json"], capsys)
    assert code == 0, err
    changes = [c for r in json.loads(out)["results"] for c in r["changes"]]
    assert {c["target"] for c in changes} == {str(folder / f) for f in ("compose.yml", "override.yml",
                                                                        "inc/qdrant.yml")}  # fmt: skip
    assert (folder / "base.yml").read_text() == BASE  # the extended service's file is not touched

    # (a) v2 loads the patched files and shows exactly what apply wrote, and what was recommended
    config = config_of(project, folder, GIVEN)
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
    code, out, _ = run_cli(["apply", *files_args(folder, GIVEN)], capsys)
    assert code == 0 and out.splitlines()[-1].startswith("total: 0 changed")  # applying twice: no change


def test_dry_run_writes_nothing_and_shows_the_diff(stack: Any, capsys: pytest.CaptureFixture[str]) -> None:
    project, folder = stack(FILES, GIVEN)
    shas = {rel: sha(folder / rel) for rel in FILES}
    code, out, err = run_cli(["apply", *files_args(folder, GIVEN), "--dry-run"], capsys)
    assert code == 0, err
    assert {rel: sha(folder / rel) for rel in FILES} == shas
    assert re.search(r"^\+          memory: \d+M   # redis limit$", out, re.M), out
    for rel in ("compose.yml", "override.yml", "inc/qdrant.yml"):
        assert f"+++ {folder / rel}" in out
    assert "total: " in err  # the summary goes to stderr, the diff alone to stdout
    config = config_of(project, folder, GIVEN)
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
    code, _, err = run_cli(["apply", *files_args(folder, one), "--swap", "64M", "--only", "memory"], capsys)
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
    code, out, err = run_cli(["apply", *files_args(folder, ("compose.yml",))], capsys)
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1 and err.startswith("rightsize: error: ") and key in err, err
    assert (folder / "compose.yml").read_text() == text


@pytest.mark.parametrize("version", ["1.2", "1.3"])
@pytest.mark.parametrize("command", [["apply"], ["check"], ["recommend"]])
def test_a_yaml_directive_v2_refuses_is_refused_by_every_command(
    stack: Any, version: str, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """v2 reads YAML 1.1 only ('yaml: found incompatible YAML document'); rightsize read and patched
    a %YAML 1.2 file, and a %YAML 1.3 one was an AssertionError traceback from ruamel.yaml."""
    text = f"%YAML {version}\n---\nservices:\n  redis:\n    image: {IMAGE}\n    mem_limit: 1g\n"
    project, folder = stack({"compose.yml": text}, ("compose.yml",))
    refusal = v2(project, folder, ("compose.yml",), "config", ok=False)
    assert refusal.returncode != 0 and "incompatible YAML document" in refusal.stderr
    code, out, err = run_cli([*command, *files_args(folder, ("compose.yml",))], capsys)
    assert (code, out) == (2, "")
    assert err == (
        f"rightsize: error: {folder / 'compose.yml'}:1: %YAML {version} directive: Docker Compose v2 and "
        "Helm refuse the file (yaml: found incompatible YAML document; only 1.1 is read): remove that line\n"
    )
    assert (folder / "compose.yml").read_text() == text


def test_a_yaml_1_1_directive_is_read_as_v2_reads_it(stack: Any, capsys: pytest.CaptureFixture[str]) -> None:
    text = f"\ufeff%YAML 1.1\n---\nservices:\n  redis:\n    image: {IMAGE}\n    mem_limit: 1g\n"
    project, folder = stack({"compose.yml": text}, ("compose.yml",))
    config_of(project, folder, ("compose.yml",))  # v2 reads it
    code, _, err = run_cli(["apply", *files_args(folder, ("compose.yml",))], capsys)
    assert code == 0, err
    got = effective(config_of(project, folder, ("compose.yml",))["redis"])
    assert got["mem"] == sample_recs()[("redis", "memory")].limit
    assert (folder / "compose.yml").read_text().startswith("\ufeff%YAML 1.1\n---\n")


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
    args = [*files_args(folder, ("compose.yml",)), "--data", data, "--project", project, *floors]
    code, out, err = run_cli(["apply", *args, "--format", "json"], capsys)
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


# Layouts the writer got wrong. YAML's explicit keys (`? key` then `: value`): new keys went between
# the two lines, which the read-back caught ("internal error, nothing written: services.redis.mem_limit
# would read None"). A file without a final line break: two blocks added at its end were parted by a
# blank line. A flow mapping ending in a comma got a second one (would not parse; nothing written),
# one whose last entry a comment follows got the new keys inside the comment.
LAYOUTS = [
    f"services:\n  redis:\n    image: {IMAGE}\n    ? mem_limit\n    : 1g\n",
    f"services:\n  redis:\n    ? mem_limit   # first\n    : 1g\n    image: {IMAGE}\n",
    f"services:\n  redis:\n    image: {IMAGE}\n    deploy:\n      resources:\n        limits:\n"
    "          ? memory\n          : 1g\n",
    f"services:\n  redis:\n    image: {IMAGE}\n    deploy:\n      resources:\n        limits:\n"
    "          memory: 1g  # no line break after this",
    f"services:\n  redis:\n    image: {IMAGE}\n    deploy: {{\n      resources: {{\n"
    "        limits: {memory: 1g},\n      },\n    }\n",  # a trailing comma: ', reservations' followed it
    f"services:\n  redis:\n    image: {IMAGE}\n    deploy: {{resources: {{limits: {{memory: 1g,}},}},}}\n",
    # a comment after a flow mapping's last entry: the new keys went into it (read back: not there)
    f"services:\n  redis: {{\n    image: {IMAGE},  # img\n    mem_limit: 1g  # m, it's\n  }}\n",
    f"services:\n  redis:\n    image: {IMAGE}\n    deploy: {{\n      resources: {{\n"
    "        limits: {memory: 1g}  # lim\n      }\n    }\n",
    # a last entry that is a flow collection closed at the key's column: new keys went before the ']'
    f"services:\n  redis:\n    image: {IMAGE}\n    mem_limit: 1g\n"
    "    command: [\n      sleep,\n      '3600',\n    ]\n",
    # a last entry that is a quoted scalar continued less indented than its key: new keys went inside it
    f'services:\n  redis:\n    image: {IMAGE}\n    mem_limit: 1g\n    command: "sleep\n  3600"\n',
    f"services:\n  redis:\n    image: {IMAGE}\n    mem_limit: 1g\n    command: 'sleep\n\n 3600'  # q\n",
]


@pytest.mark.parametrize("text", LAYOUTS)
def test_odd_layouts_keep_every_other_line(stack: Any, text: str, capsys: pytest.CaptureFixture[str]) -> None:
    project, folder = stack({"compose.yml": text}, ("compose.yml",))
    config_of(project, folder, ("compose.yml",))  # v2 reads it
    code, _, err = run_cli(["apply", *files_args(folder, ("compose.yml",))], capsys)
    assert code == 0, err
    got, mem = (
        effective(config_of(project, folder, ("compose.yml",))["redis"]),
        sample_recs()[("redis", "memory")],
    )
    assert (got["mem"], got["memres"]) == (mem.limit, mem.reservation)
    only_values_changed(text, (folder / "compose.yml").read_text())


# a byte-order mark, then flow style on the first line: ruamel.yaml counts no column for the mark, so
# every edit on that line landed one character early (read back: not there; nothing written, exit 2)
BOM_FLOW = [
    f"\ufeff{{services: {{redis: {{image: {IMAGE}, mem_limit: 1g}}}}}}  # one line\n",
    f"\ufeffservices: {{redis: {{image: {IMAGE}, deploy: {{resources: {{limits: {{memory: 1g}}}}}}}}}}\n",
]


@pytest.mark.parametrize("text", BOM_FLOW)
def test_a_byte_order_mark_before_a_flow_first_line(
    stack: Any, text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    project, folder = stack({"compose.yml": text}, ("compose.yml",))
    config_of(project, folder, ("compose.yml",))  # v2 reads it
    code, _, err = run_cli(["apply", *files_args(folder, ("compose.yml",))], capsys)
    assert code == 0, err
    mem = sample_recs()[("redis", "memory")]
    got = effective(config_of(project, folder, ("compose.yml",))["redis"])
    assert (got["mem"], got["memres"]) == (mem.limit, mem.reservation)
    after = (folder / "compose.yml").read_text()
    head = text.split("mem_limit: 1g" if "mem_limit" in text else "memory: 1g")[0]
    assert after.startswith(head) and after.count("\n") == 1, after
    assert after.endswith("}}}  # one line\n" if "# one line" in text else "}}}}}\n"), after


@pytest.mark.slow
def test_cpu_period_0_is_the_default_period(
    stack: Any, docker_client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Docker runs `cpu_period: 0` at its default 100000 us period (as check reads it); apply said
    'cpu_period 0 is not a period: cpu limit not written'."""
    text = (
        f"services:\n  redis:\n    image: {IMAGE}\n    command: sleep 3600\n    labels: [rightsize-test=1]\n"
    )
    text += "    cpu_quota: 50000   # half a CPU\n    cpu_period: 0\n"
    project, folder = stack({"compose.yml": text}, ("compose.yml",))
    code, _, err = run_cli(["apply", *files_args(folder, ("compose.yml",)), "--only", "cpu"], capsys)
    assert code == 0, err
    cores = sample_recs()[("redis", "cpu")].limit
    quota = round(cores * 100_000)
    assert f"cpu_quota: {quota}   # half a CPU\n    cpu_period: 0\n" in (folder / "compose.yml").read_text()
    v2(project, folder, ("compose.yml",), "up", "-d")
    host = hosts_of(docker_client, project)["redis"]
    assert (host["CpuQuota"], host["CpuPeriod"], host["NanoCpus"]) == (quota, 0, 0)
