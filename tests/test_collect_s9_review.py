"""Review of the session 9 collector changes: each test fails before its fix."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import wait_for

from rightsize.sources import cgroups
from rightsize.sources.kmsg import Kill, parse_kill

# /dev/kmsg record (kernel 6.18, cgroup v1, engine 20.10) of a kill at the limit of a memory cgroup
# made inside a running container's (`mkdir /sys/fs/cgroup/memory/docker/<id>/rs-inner`, 8 MiB,
# a `docker exec`'d `tail /dev/zero` moved into it): not the container's limit, and the engine sent
# no `oom` for it (its events: exec_die, kill, die)
INNER = "8a58a51f7294568fd193e8f670ce0b51f345d19105477ab5d70fd7439b999978"
AT_INNER = (
    f"6,476559,75277268385,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset={INNER},"
    f"mems_allowed=0,oom_memcg=/docker/{INNER}/rs-inner,task_memcg=/docker/{INNER}/rs-inner,task=tail,"
    "pid=1351,uid=0\n"
)


def test_a_kill_at_a_cgroup_nested_in_a_container_is_not_the_containers() -> None:
    assert parse_kill(AT_INNER) is None
    # the same record at the container's own cgroup is its kill (the shape test_collect_s9_oom records)
    own = AT_INNER.replace(f"{INNER}/rs-inner", INNER)
    kill = parse_kill(own)
    assert kill is not None and kill.container_id == INNER


# a kill at a container's own 8 MiB limit (`-m 8m --memory-swap 8m`) of a process in a cgroup made
# inside it without a limit of its own (`.../<id>/rs-sub`, as systemd in a container makes): the
# engine sent an `oom` for it (its events: exec_create, exec_start, exec_die, oom)
SUB = "45ab7c9f6f1b27422df06c1fdda011b218c55d4aa5ea1e1e37209a2f32072f50"
AT_OWN_FROM_SUB = (
    f"6,483070,75528218370,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset={SUB},"
    f"mems_allowed=0,oom_memcg=/docker/{SUB},task_memcg=/docker/{SUB}/rs-sub,task=tail,pid=32245,uid=0\n"
)


def test_a_kill_at_the_containers_limit_of_a_process_in_a_cgroup_inside_it_is_the_containers() -> None:
    assert parse_kill(AT_OWN_FROM_SUB) == Kill(container_id=SUB, boot_us=75528218370)
    # a task_memcg that only starts with the same characters is not below it
    other = AT_OWN_FROM_SUB.replace(f"task_memcg=/docker/{SUB}/rs-sub", f"task_memcg=/docker/{SUB}x")
    assert parse_kill(other) is None


# ---------------------------------------------------------------------------------- real, cgroup v1

FREEZER = Path("/sys/fs/cgroup/freezer")


def _procs(reader: cgroups.CgroupReader) -> list[str]:
    return (cgroups.read_text(reader.procs) or "").split()


def _sleeping_long(reader: cgroups.CgroupReader) -> str | None:
    """The pid of its `sleep 1000`, once started."""
    for pid in _procs(reader):
        if cgroups.read_text(f"/proc/{pid}/cmdline") == "sleep\x001000\x00":
            return pid
    return None


@pytest.mark.skipif(cgroups.detect_version() != 1 or os.geteuid() != 0 or not FREEZER.is_dir(),
                    reason="freezes a process with the cgroup v1 freezer (root)")
@pytest.mark.docker
def test_a_process_left_after_the_first_exited_does_not_date_the_counters(
    run_container: Any, docker_client: Any
) -> None:
    # The container's first process exits while a later one, frozen (as one slow to die would be),
    # stays in its cgroup: the oldest process listed is no longer the one its counters began with
    # (0.5 s later here), and a mean from its start would be over too short a span.
    job = run_container("sleep 0.5; sleep 1000 & sleep 1")  # sh is pid 1, exits after `sleep 1`
    pid = docker_client.api.inspect_container(job.id)["State"]["Pid"]
    reader = cgroups.locate(job.id, pid)
    assert reader is not None and reader.procs
    wait_for(lambda: _sleeping_long(reader) is not None, "the late process to start")
    late = _sleeping_long(reader)
    assert late is not None
    assert reader.read(time.time(), since=True).start is not None  # its first process is there
    frozen = FREEZER / f"rs-s9review-{uuid.uuid4().hex[:8]}"
    frozen.mkdir()
    try:
        (frozen / "cgroup.procs").write_text(late)
        (frozen / "freezer.state").write_text("FROZEN")
        wait_for(lambda: _procs(reader) == [late], "the first process to exit")
        reading = reader.read(time.time(), since=True)
        assert reading.cpu_ns is not None and reading.start is None, reading
    finally:
        (frozen / "freezer.state").write_text("THAWED")  # the kill the kernel sent it lands
        wait_for(lambda: not (frozen / "cgroup.procs").read_text().split(), "the late process to die")
        frozen.rmdir()
