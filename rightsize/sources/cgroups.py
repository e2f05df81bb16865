"""Direct reads of a container's cgroup files (v1 and v2): no engine round trip per sample.

Both versions are parsed into one record, ``Counters``: cumulative CPU time and CFS period
counters (turned into cores and a throttled share by the collector, from deltas), memory usage,
inactive file cache, anonymous memory, the kernel's peak, PIDs and the OOM-kill counter.

Working set follows ``docker stats`` and cAdvisor: usage minus inactive file cache (v1
``memory.usage_in_bytes`` - ``total_inactive_file``; v2 ``memory.current`` - ``inactive_file``).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True, slots=True)
class Counters:
    """One reading of a container's counters; ``None`` where the source does not offer a value.

    ``t`` is the reading's time in seconds on the source's own clock (monotonic for cgroup
    reads, the engine's ``read`` timestamp for Docker stats); only its differences are used.
    """

    t: float
    cpu_ns: int | None = None  # cumulative CPU time, nanoseconds
    periods: int | None = None  # cumulative CFS periods
    throttled: int | None = None  # cumulative CFS periods in which the group was throttled
    mem_usage: int | None = None  # bytes, page cache included
    inactive_file: int | None = None  # bytes of inactive file cache (reclaimable)
    rss: int | None = None  # anonymous memory, bytes
    peak: int | None = None  # kernel-recorded peak usage, bytes
    pids: int | None = None
    oom_kills: int | None = None  # cumulative OOM kills in the group
    # when the cumulative counters began (0 at the group's creation): the start of its oldest process,
    # which joined it just after; on ``t``'s clock; only when asked for (``CgroupReader.read(since=)``)
    start: float | None = None

    @property
    def working_set(self) -> int | None:
        if self.mem_usage is None:
            return None
        return max(0, self.mem_usage - (self.inactive_file or 0))


# ------------------------------------------------------------------------------------- parsing


def parse_keyed(text: str | None) -> dict[str, int]:
    """``"key value\\n..."`` files (memory.stat, cpu.stat, memory.events, oom_control) -> dict."""
    out: dict[str, int] = {}
    if not text:
        return out
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        try:
            out[key] = int(value)
        except ValueError:
            continue
    return out


def parse_int(text: str | None) -> int | None:
    """A single-number file; ``max`` (v2 "no limit") and unreadable contents -> None."""
    if text is None:
        return None
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        return None


def counters_v1(files: Mapping[str, str | None], t: float) -> Counters:
    """Counters from cgroup v1 file contents keyed ``"<controller>/<file>"`` (missing -> None)."""
    mem = parse_keyed(files.get("memory/memory.stat"))
    cpu = parse_keyed(files.get("cpu/cpu.stat"))
    oom = parse_keyed(files.get("memory/memory.oom_control"))
    return Counters(
        t=t,
        cpu_ns=parse_int(files.get("cpuacct/cpuacct.usage")),
        periods=cpu.get("nr_periods"),
        throttled=cpu.get("nr_throttled"),
        mem_usage=parse_int(files.get("memory/memory.usage_in_bytes")),
        inactive_file=mem.get("total_inactive_file", mem.get("inactive_file")),
        rss=mem.get("total_rss", mem.get("rss")),
        peak=parse_int(files.get("memory/memory.max_usage_in_bytes")),
        pids=parse_int(files.get("pids/pids.current")),
        oom_kills=oom.get("oom_kill"),  # kernels >= 4.13
    )


def counters_v2(files: Mapping[str, str | None], t: float) -> Counters:
    """Counters from cgroup v2 file contents keyed by file name (missing -> None)."""
    mem = parse_keyed(files.get("memory.stat"))
    cpu = parse_keyed(files.get("cpu.stat"))
    events = parse_keyed(files.get("memory.events"))
    usage_usec = cpu.get("usage_usec")
    return Counters(
        t=t,
        cpu_ns=usage_usec * 1000 if usage_usec is not None else None,
        periods=cpu.get("nr_periods"),
        throttled=cpu.get("nr_throttled"),
        mem_usage=parse_int(files.get("memory.current")),
        inactive_file=mem.get("inactive_file"),
        rss=mem.get("anon"),
        peak=parse_int(files.get("memory.peak")),  # kernels >= 5.19
        pids=parse_int(files.get("pids.current")),
        oom_kills=events.get("oom_kill"),
    )


def start_ticks(stat: str | None) -> int | None:
    """A process's start from its ``/proc/<pid>/stat``: field 22, clock ticks after boot."""
    if not stat:
        return None
    fields = stat.rpartition(")")[2].split()  # the command name may hold spaces and parentheses
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def is_first(status: str | None) -> bool:
    """Whether a process (its ``/proc/<pid>/status``) may be its container's first: pid 1 of a pid
    namespace of its own (``NSpid``'s last), or one that cannot tell (the host's, ``--pid=host``; a
    kernel without ``NSpid``). Not one left after the first exited (the kernel kills the rest then;
    one slow to die, or frozen, stays listed a while, with a later start); not a process gone."""
    if status is None:
        return False
    for line in status.splitlines():
        if line.startswith("NSpid:"):
            ids = line.split()[1:]
            return len(ids) < 2 or ids[-1] == "1"
    return True


def life_start(
    ticks: Iterable[int | None], cpu_ns: int | None, clock: float, boot_now: float, hz: int, cpus: int
) -> float | None:
    """When a cgroup's counters began, on ``clock``'s clock (``clock`` and ``boot_now``, CLOCK_BOOTTIME
    seconds, taken at once): the start of its oldest process (``ticks``, ``start_ticks``).

    A container's first process is forked by the runtime and joins the fresh cgroup an instant
    later, so the CPU counted from then is a mean from its start, never above it (the start is
    rounded down to a tick: a span a tick longer at most). ``State.StartedAt`` is not that start:
    the engine stamps it after the process began (31 ms of CPU 7.5 ms after it, here: "4 cores"
    for a job held to 0.5). None when no process is visible, or when the counter holds more CPU
    than all CPUs could give since that start (it is not that life's counter).
    """
    known = [t for t in ticks if t is not None]
    if not known or cpu_ns is None:
        return None
    age = boot_now - min(known) / hz
    if age <= 0 or cpu_ns > age * cpus * 1e9:
        return None
    return clock - age


# ------------------------------------------------------------------------------------- reading

V1_FILES = (
    "memory/memory.stat",
    "memory/memory.usage_in_bytes",
    "memory/memory.max_usage_in_bytes",
    "memory/memory.oom_control",
    "cpuacct/cpuacct.usage",
    "cpu/cpu.stat",
    "pids/pids.current",
)
V2_FILES = ("memory.stat", "memory.current", "memory.peak", "memory.events", "cpu.stat", "pids.current")
# Files whose absence means the container is gone (the others are optional per kernel/config).
_V1_REQUIRED = "memory/memory.usage_in_bytes"
_V2_REQUIRED = "memory.current"


def read_text(path: str) -> str | None:
    """Read a small kernel file; None if it does not exist (optional file or container gone)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        return os.read(fd, 65536).decode("ascii", "replace")
    except OSError:  # ENODEV etc. when the cgroup is being torn down
        return None
    finally:
        os.close(fd)


class CgroupGone(Exception):
    """The container's cgroup disappeared (it stopped): drop it, no error."""


MAX_PROCS = 4096  # processes looked at for a cgroup's oldest (the first listed are the oldest, mostly)


@dataclass(frozen=True)
class CgroupReader:
    """Reads one container's cgroup files; ``read()`` raises CgroupGone once they disappear."""

    version: int
    paths: tuple[tuple[str, str], ...]  # (key, absolute path)
    procs: str = ""  # its cgroup.procs (the processes in it, for ``since``)
    proc_root: str = "/proc"

    def read(self, clock: float, since: bool = False) -> Counters:
        """Its counters now (``clock``: now on the caller's clock); with ``since``, when they began
        (``Counters.start``, ``life_start``; None when its processes, or its first one, are gone)."""
        files = {key: read_text(path) for key, path in self.paths}
        required = _V1_REQUIRED if self.version == 1 else _V2_REQUIRED
        if files.get(required) is None:
            raise CgroupGone
        counters = counters_v1(files, clock) if self.version == 1 else counters_v2(files, clock)
        if since and self.procs:
            pids = (read_text(self.procs) or "").split()[:MAX_PROCS]
            ticks = [start_ticks(read_text(f"{self.proc_root}/{pid}/stat")) for pid in pids]
            known = [(t, pid) for t, pid in zip(ticks, pids, strict=True) if t is not None]
            if known and not is_first(read_text(f"{self.proc_root}/{min(known)[1]}/status")):
                ticks = []  # its first process is gone: when its counters began is not known
            boot_now = time.clock_gettime(time.CLOCK_BOOTTIME)  # after ``clock``: the start, if off, earlier
            hz, cpus = os.sysconf("SC_CLK_TCK"), os.cpu_count() or 1
            start = life_start(ticks, counters.cpu_ns, clock, boot_now, hz, cpus)
            counters = dataclasses.replace(counters, start=start)
        return counters


def detect_version(root: Path = DEFAULT_ROOT) -> int | None:
    """1 or 2 for the cgroup hierarchy mounted at ``root``; None when none is visible."""
    if (root / "cgroup.controllers").exists():
        return 2
    if (root / "memory").is_dir() and ((root / "cpuacct").is_dir() or (root / "cpu,cpuacct").is_dir()):
        return 1
    return None


def _v1_controller_dir(root: Path, controller: str) -> Path:
    """v1 controllers may be co-mounted (``cpu,cpuacct``) or separate (``cpu`` and ``cpuacct``)."""
    for name in (controller, "cpu,cpuacct", "cpuacct,cpu"):
        if (root / name).is_dir():
            return root / name
    return root / controller


def _v1_relative(root: Path, pid: int | None, container_id: str) -> list[str]:
    rel = [f"docker/{container_id}", f"system.slice/docker-{container_id}.scope"]
    if pid:
        text = read_text(f"/proc/{pid}/cgroup") or ""
        for line in text.splitlines():
            parts = line.split(":", 2)
            if len(parts) == 3 and "memory" in parts[1].split(","):
                rel.insert(0, parts[2].lstrip("/"))
    return rel


def _v2_relative(pid: int | None, container_id: str) -> list[str]:
    rel = [f"system.slice/docker-{container_id}.scope", f"docker/{container_id}"]
    if pid:
        text = read_text(f"/proc/{pid}/cgroup") or ""
        for line in text.splitlines():
            if line.startswith("0::"):
                rel.insert(0, line[3:].lstrip("/"))
    return rel


def locate(container_id: str, pid: int | None = None, root: Path = DEFAULT_ROOT) -> CgroupReader | None:
    """The reader for a container's cgroup, or None when it is not visible from here.

    Looks where Docker puts it (cgroupfs driver ``docker/<id>``, systemd driver
    ``system.slice/docker-<id>.scope``) and where ``/proc/<pid>/cgroup`` says it is.
    """
    version = detect_version(root)
    if version == 2:
        for rel in _v2_relative(pid, container_id):
            base = root / rel
            if rel and container_id in rel and (base / "memory.current").exists():
                files = tuple((name, str(base / name)) for name in V2_FILES)
                return CgroupReader(2, files, str(base / "cgroup.procs"))
        return None
    if version == 1:
        for rel in _v1_relative(root, pid, container_id):
            if not rel or container_id not in rel:
                continue
            if (_v1_controller_dir(root, "memory") / rel / "memory.usage_in_bytes").exists():
                paths = []
                for key in V1_FILES:
                    controller, name = key.split("/")
                    paths.append((key, str(_v1_controller_dir(root, controller) / rel / name)))
                procs = _v1_controller_dir(root, "cpuacct") / rel / "cgroup.procs"
                return CgroupReader(1, tuple(paths), str(procs))
    return None
