"""apply --swap: memswap_limit in compose files (legacy and deploy.resources forms), MemorySwap on
running containers (read back from the engine and the kernel's cgroup), and the bad inputs."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from writer_recs import M, rec

from rightsize.cli import main
from rightsize.targets.check import check_compose
from rightsize.targets.compose import patch_compose
from rightsize.targets.schema import schema_errors
from rightsize.units import parse_bytes

STACK = """\
# the stack
services:
  legacy:
    image: x
    mem_limit: 1g   # the limit
    cpus: 2
  dep:
    image: x
    deploy:
      resources:
        limits:
          memory: 2G  # limit
  swapped:
    image: x
    mem_limit: 1g
    memswap_limit: 3g # three
  unlimited:
    image: x
    mem_limit: 1g
    memswap_limit: -1
  right:
    image: x
    mem_limit: 512m
"""
SERVICES = ("legacy", "dep", "swapped", "unlimited", "right")


def _recs(limit: float = 512 * M) -> list[Any]:
    return [rec(f"p/{s}", "memory", None, limit) for s in SERVICES]


def _services(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text())["services"]


def test_swap_sets_memswap_limit_in_both_forms_keeping_style_and_comments(tmp_path: Path) -> None:
    path = tmp_path / "compose.yml"
    path.write_text(STACK)
    (result,) = patch_compose([path], _recs(), swap=256 * M)
    text = path.read_text()
    svc = _services(path)
    assert {s: svc[s]["memswap_limit"] for s in SERVICES} == {
        "legacy": "768m",  # the file's lower-case style (mem_limit: 1g)
        "dep": "768M",  # beside deploy.resources: compose has no deploy key for swap
        "swapped": "768m",
        "unlimited": "768m",  # -1 is replaced: --swap asks for a bound
        "right": "768m",  # the limit was already right: its swap is still set
    }
    assert svc["dep"]["deploy"]["resources"]["limits"]["memory"] == "512M"
    assert "mem_limit: 512m   # the limit" in text and "memswap_limit: 768m # three" in text
    assert text.startswith("# the stack\n") and "memory: 512M  # limit" in text
    notes = {c.key: (c.old, c.new, c.note) for c in result.changes}
    assert notes["services.unlimited.memswap_limit"][:2] == ("-1", "768m")
    assert "it was -1, unlimited" in notes["services.unlimited.memswap_limit"][2]
    assert notes["services.legacy.memswap_limit"] == (
        None,
        "768m",
        "--swap: memory limit 512 MiB + 256 MiB of swap",
    )
    assert not result.skipped
    assert schema_errors(YAML(typ="safe").load(text)) == []
    before = path.read_bytes()
    (again,) = patch_compose([path], _recs(), swap=256 * M)  # idempotent
    assert not again.changes and not again.written and path.read_bytes() == before


def test_swap_zero_is_memswap_equal_to_the_limit_and_compose_and_check_accept_it(tmp_path: Path) -> None:
    path = tmp_path / "compose.yml"
    path.write_text(STACK)
    patch_compose([path], _recs(), swap=0)
    svc = _services(path)
    assert {s: svc[s]["memswap_limit"] for s in SERVICES} == {
        "legacy": "512m",
        "dep": "512M",
        "swapped": "512m",
        "unlimited": "512m",
        "right": "512m",
    }
    # Debian's docker-compose 1.29 reads the file (memswap_limit beside deploy.resources included)
    cfg = subprocess.run(
        ["docker-compose", "-f", str(path), "config"], capture_output=True, text=True, timeout=60
    )
    assert cfg.returncode == 0, cfg.stderr
    resolved = YAML(typ="safe").load(cfg.stdout)["services"]
    assert resolved["dep"]["memswap_limit"] == "512M"
    assert resolved["dep"]["deploy"]["resources"]["limits"]["memory"] == "512M"
    result = check_compose([path], _recs(), tolerance=0.25)
    memory = [row for row in result.rows if row.resource == "memory"]
    assert len(memory) == len(SERVICES) and all(row.ok for row in memory), result.table()


def test_swap_follows_a_limit_raised_above_the_old_memswap(tmp_path: Path) -> None:
    path = tmp_path / "compose.yml"
    path.write_text("services:\n  a:\n    image: x\n    mem_limit: 256M\n    memswap_limit: 512M\n")
    patch_compose([path], [rec("p/a", "memory", None, 1536 * M)], swap=0)
    assert (
        path.read_text() == "services:\n  a:\n    image: x\n    mem_limit: 1536M\n    memswap_limit: 1536M\n"
    )


def test_without_swap_the_allowance_is_kept_as_before(tmp_path: Path) -> None:
    path = tmp_path / "compose.yml"
    path.write_text(STACK)
    patch_compose([path], _recs())
    svc = _services(path)
    assert svc["swapped"]["memswap_limit"] == "2560m"  # 2g allowance kept beside the 512m limit
    assert svc["unlimited"]["memswap_limit"] == -1
    assert "memswap_limit" not in svc["legacy"] and "memswap_limit" not in svc["dep"]


def test_interpolated_memswap_or_limit_is_skipped_with_the_value_to_set(tmp_path: Path) -> None:
    text = (
        "services:\n  a:\n    image: x\n    mem_limit: 1g\n    memswap_limit: ${SWAP:-2g}\n"
        "  b:\n    image: x\n    mem_limit: ${MEM:-1g}\n"
    )
    path = tmp_path / "compose.yml"
    path.write_text(text)
    (result,) = patch_compose(
        [path], [rec("p/a", "memory", None, 512 * M), rec("p/b", "memory", None, 512 * M)], swap=0
    )
    assert path.read_text() == text.replace("mem_limit: 1g", "mem_limit: 512m")
    reasons = {(s.workload, s.reason): s.recommended for s in result.skipped}
    assert (
        reasons[
            ("p/a", "--swap: memswap_limit not written: it is interpolated (${SWAP:-2g}); set it to 512m")
        ]
        == "512m"
    )
    assert (
        reasons[
            ("p/b", "--swap: memswap_limit not written: the memory limit is interpolated; set it to 512M")
        ]
        == "512M"
    )


def test_swap_goes_into_a_merge_key_users_own_override_and_the_override_file(tmp_path: Path) -> None:
    base = tmp_path / "base.yml"
    over = tmp_path / "over.yml"
    base.write_text(
        "x-d: &d\n  image: x\n  mem_limit: 1g\n  memswap_limit: 2g\n"
        "services:\n  m:\n    <<: *d\n  o:\n    image: x\n    memswap_limit: 2g\n"
    )
    over.write_text("services:\n  o:\n    mem_limit: 1g\n")
    recs = [rec("p/m", "memory", None, 512 * M), rec("p/o", "memory", None, 512 * M)]
    patch_compose([base, over], recs, swap=128 * M)
    data = YAML(typ="safe").load(base.read_text())
    assert data["x-d"]["memswap_limit"] == "2g"  # the shared anchor is not edited
    assert (data["services"]["m"]["mem_limit"], data["services"]["m"]["memswap_limit"]) == ("512m", "640m")
    assert data["services"]["o"]["memswap_limit"] == "640m"  # changed where it is set
    assert YAML(typ="safe").load(over.read_text())["services"]["o"]["mem_limit"] == "512m"


def _cli(args: list[str], capsys: Any) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-5", "--swap '-5': a size cannot be negative"),
        ("-1", "--swap '-1': a size cannot be negative"),
        ("abc", "--swap 'abc': expected a swap size such as 0 or 256M"),
        ("512", "--swap '512': give a unit (e.g. 512M)"),
        ("", "--swap is empty"),
    ],
)
def test_bad_swap_values_are_one_line_and_the_file_untouched(
    tmp_path: Path, capsys: Any, value: str, message: str
) -> None:
    path = tmp_path / "compose.yml"
    path.write_text(STACK)
    code, out, err = _cli(["apply", "-f", str(path), "--swap", value], capsys)
    assert code == 2 and out == ""
    assert err.startswith(f"rightsize: error: {message}") and err.count("\n") == 1, err
    assert path.read_text() == STACK


def test_swap_with_only_cpu_would_change_nothing_and_is_an_error(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "compose.yml"
    path.write_text(STACK)
    code, _, err = _cli(["apply", "-f", str(path), "--swap", "0", "--only", "cpu,pids"], capsys)
    assert code == 2
    assert (
        err == "rightsize: error: --swap is set with each memory limit: --only cpu,pids leaves memory out\n"
    )
    assert path.read_text() == STACK


def test_swap_with_helm_is_an_error(tmp_path: Path, capsys: Any) -> None:
    values = tmp_path / "values.yaml"
    values.write_text("resources: {}\n")
    code, _, err = _cli(["apply", "--helm", str(values), "--swap", "0"], capsys)
    assert code == 2 and err == (
        "rightsize: error: --swap works with --compose or --live only: "
        "Kubernetes has no per-container swap limit\n"
    )
    assert values.read_text() == "resources: {}\n"


def test_cli_swap_on_the_bundled_sample_shows_the_swap_in_json_and_summary(
    tmp_path: Path, capsys: Any
) -> None:
    path = tmp_path / "compose.yml"
    path.write_text(
        "name: sutazai\nservices:\n  postgres:\n    image: x\n    mem_limit: 2g\n    memswap_limit: 4g\n"
        "  backend:\n    image: x\n    deploy:\n      resources:\n        limits:\n          memory: 4G\n"
    )
    code, out, _ = _cli(
        ["apply", "-f", str(path), "--swap", "256M", "--only", "memory", "--format", "json"], capsys
    )
    assert code == 0
    changes = {c["key"]: c for r in json.loads(out)["results"] for c in r["changes"]}
    svc = _services(path)
    for name in ("postgres", "backend"):
        limit = svc[name].get("mem_limit") or svc[name]["deploy"]["resources"]["limits"]["memory"]
        swap = changes[f"services.{name}.memswap_limit"]
        assert swap["new"] == svc[name]["memswap_limit"]
        assert parse_bytes(swap["new"]) == parse_bytes(limit) + 256 * M  # memory + swap
        assert "256 MiB of swap" in swap["note"]
    code, out, _ = _cli(["apply", "-f", str(path), "--swap", "256M", "--only", "memory"], capsys)
    assert code == 0 and "0 changed" in out  # a second run changes nothing


# --- live: the real engine -------------------------------------------------------------------------


def _labels(project: str, service: str) -> dict[str, str]:
    return {"com.docker.compose.project": project, "com.docker.compose.service": service}


def _kernel_memsw(c: Any) -> int:
    """The memory+swap limit the kernel enforces for the container: cgroup v1's memsw limit, or
    cgroup v2's memory.max + memory.swap.max (v2 limits swap alone)."""
    code, out = c.exec_run(["cat", "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"])
    if code == 0:
        return int(out)
    code, out = c.exec_run(["cat", "/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.swap.max"])
    assert code == 0, out
    mem, swap = (int(v) for v in out.split())
    return mem + swap


@pytest.mark.docker
@pytest.mark.slow
def test_live_swap_zero_sets_memory_swap_to_the_limit(docker_client: Any, run_container: Any) -> None:
    from rightsize.targets.live import apply_live

    assert docker_client.info().get("SwapLimit") is True  # cgroup v1 with swap accounting: it is enforced
    project = f"rsswap{uuid.uuid4().hex[:6]}"
    lowered = run_container("sleep 3600", labels=_labels(project, "lowered"), mem_limit="128m")
    kept = run_container("sleep 3600", labels=_labels(project, "kept"), mem_limit="64m")
    unlimited = run_container(
        "sleep 3600", labels=_labels(project, "unlimited"), mem_limit="64m", memswap_limit=-1
    )
    lowered.reload()
    assert lowered.attrs["HostConfig"]["MemorySwap"] == 256 * M  # the engine's default: twice the limit
    recs = [
        rec(f"{project}/lowered", "memory", None, 96 * M),
        rec(f"{project}/kept", "memory", None, 64 * M),  # already right: only its swap changes
        rec(f"{project}/unlimited", "memory", None, 80 * M),
    ]
    result = apply_live(recs, project=project, swap=0)
    assert result.written and not result.skipped
    want = {lowered: 96 * M, kept: 64 * M, unlimited: 80 * M}
    for c, limit in want.items():
        c.reload()
        host = c.attrs["HostConfig"]
        assert (host["Memory"], host["MemorySwap"]) == (limit, limit), c.name
        assert _kernel_memsw(c) == limit, c.name
        assert c.status == "running"
    swaps = {c.workload: (c.old, c.new, c.note) for c in result.changes if c.key == "MemorySwap"}
    assert swaps == {
        f"{project}/lowered": ("256M", "96M", "--swap: no swap"),
        f"{project}/kept": ("128M", "64M", "--swap: no swap"),
        f"{project}/unlimited": ("-1", "80M", "--swap: no swap"),
    }
    again = apply_live(recs, project=project, swap=0)
    assert not again.changes and not again.written

    more = apply_live(recs, project=project, swap=32 * M)  # some swap: memory + 32M
    assert len([c for c in more.changes if c.key == "MemorySwap"]) == 3
    kept.reload()
    assert kept.attrs["HostConfig"]["MemorySwap"] == 96 * M and _kernel_memsw(kept) == 96 * M


@pytest.mark.docker
@pytest.mark.slow
def test_live_without_swap_keeps_the_allowance_and_says_so(run_container: Any) -> None:
    from rightsize.targets.live import apply_live

    project = f"rsswap{uuid.uuid4().hex[:6]}"
    default = run_container("sleep 3600", labels=_labels(project, "default"), mem_limit="128m")
    unlimited = run_container(
        "sleep 3600", labels=_labels(project, "unlimited"), mem_limit="128m", memswap_limit=-1
    )
    none = run_container(
        "sleep 3600", labels=_labels(project, "none"), mem_limit="128m", memswap_limit="128m"
    )
    recs = [rec(f"{project}/{s}", "memory", None, 96 * M) for s in ("default", "unlimited", "none")]
    result = apply_live(recs, project=project)
    notes = {c.workload.split("/")[1]: c.note for c in result.changes if c.key == "Memory"}
    assert notes == {
        "default": "swap allowance kept: 128 MiB (MemorySwap was twice the limit, as the engine sets it "
        "when no swap is given); --swap SIZE bounds it",
        "unlimited": "swap stays unlimited (MemorySwap -1); --swap SIZE bounds it",
        "none": "no swap, as before",
    }
    memsw = {}
    for name, c in (("default", default), ("unlimited", unlimited), ("none", none)):
        c.reload()
        memsw[name] = c.attrs["HostConfig"]["MemorySwap"]
    assert memsw == {"default": 224 * M, "unlimited": -1, "none": 96 * M}
    assert _kernel_memsw(default) == 224 * M and _kernel_memsw(none) == 96 * M


@pytest.mark.docker
def test_compose_up_reads_memswap_limit_beside_deploy_resources(tmp_path: Path, docker_client: Any) -> None:
    """The file --swap writes, brought up with Debian's docker-compose 1.29: MemorySwap as written."""
    path = tmp_path / "compose.yml"
    path.write_text(
        "services:\n  dep:\n    image: rightsize-test/busybox:1\n    command: sleep 3600\n"
        '    labels: {rightsize-test: "1"}\n    deploy:\n      resources:\n        limits:\n'
        "          memory: 128M\n"
    )
    patch_compose([path], [rec("p/dep", "memory", None, 64 * M)], swap=16 * M)
    assert _services(path)["dep"]["memswap_limit"] == "80M"
    project = f"rsswap{uuid.uuid4().hex[:8]}"
    cmd = ["docker-compose", "-p", project, "-f", str(path)]
    assert shutil.which("docker-compose")
    try:
        up = subprocess.run([*cmd, "up", "-d"], capture_output=True, text=True, timeout=240)
        assert up.returncode == 0, up.stderr
        (c,) = docker_client.containers.list(filters={"label": f"com.docker.compose.project={project}"})
        host = c.attrs["HostConfig"]
        assert (host["Memory"], host["MemorySwap"]) == (64 * M, 80 * M)
        assert _kernel_memsw(c) == 80 * M
    finally:
        subprocess.run([*cmd, "down", "-t", "0"], capture_output=True, timeout=240)


@pytest.mark.docker
def test_cli_live_dry_run_summary_shows_the_swap_change(run_container: Any, capsys: Any) -> None:
    """The bundled sample's sutazai/redis through the real analysis; a dry run writes nothing."""
    c = run_container("sleep 3600", labels=_labels("sutazai", "redis"), mem_limit="256m")
    code, out, err = _cli(
        ["apply", "--live", "--project", "sutazai", "--only", "memory", "--swap", "0", "--dry-run"], capsys
    )
    assert code == 0 and out == "", err  # a dry run: the summary goes to stderr
    mine = [line for line in err.splitlines() if f"({c.name})" in line]
    memory = next(line for line in mine if ": Memory: " in line)
    new = memory.split(" -> ")[1].split()[0]  # the limit the analysis recommends, e.g. 192M
    assert f"  sutazai/redis ({c.name}): MemorySwap: 512M -> {new}  (--swap: no swap)" in mine
    c.reload()
    assert (c.attrs["HostConfig"]["Memory"], c.attrs["HostConfig"]["MemorySwap"]) == (256 * M, 512 * M)


def test_library_refuses_a_negative_swap_before_touching_anything(tmp_path: Path) -> None:
    from rightsize.errors import RightsizeError
    from rightsize.targets.live import apply_live

    path = tmp_path / "compose.yml"
    path.write_text(STACK)
    with pytest.raises(RightsizeError, match="a swap size cannot be negative"):
        patch_compose([path], _recs(), swap=-1)
    assert path.read_text() == STACK
    with pytest.raises(RightsizeError, match="a swap size cannot be negative"):
        apply_live(_recs(), docker_host="unix:///nonexistent/docker.sock", swap=-5)


@pytest.mark.parametrize("swap", [0, None])
def test_no_memswap_limit_is_written_beside_a_limit_that_could_not_be(
    tmp_path: Path, swap: int | None
) -> None:
    """mem_limit shared through a scalar anchor is not edited; a memswap_limit planned from the new
    512m limit would not fit the 1g left in place (with --swap 0 it is below it: Docker refuses)."""
    text = (
        "services:\n  a:\n    image: x\n    mem_limit: &mem 1g\n    memswap_limit: 2g\n"
        "  b:\n    mem_limit: *mem\n"
    )
    path = tmp_path / "compose.yml"
    path.write_text(text)
    (result,) = patch_compose([path], [rec("p/a", "memory", None, 512 * M)], swap=swap)
    assert path.read_text() == text and not result.changes
    reasons = [s.reason for s in result.skipped if s.workload == "p/a"]
    assert "services.a.mem_limit is shared through anchor &mem; not edited" in reasons
    assert any("memswap_limit not written: neither is the memory limit" in r for r in reasons), reasons
