"""Review of the session 9 collector changes: each test fails before its fix."""

from __future__ import annotations

from rightsize.sources.kmsg import parse_kill

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
