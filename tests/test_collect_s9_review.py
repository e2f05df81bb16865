"""Review of the session 9 collector changes: each test fails before its fix."""

from __future__ import annotations

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
