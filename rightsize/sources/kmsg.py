"""OOM kills as the kernel logs them (``/dev/kmsg``): the evidence for a kill the engine sent no
``oom`` event for.

The engine's ``oom`` event comes from the runtime's shim, which watches a container's memory cgroup
only once the container's start is done: a process killed in its first milliseconds (``dd bs=16M``
under an 8 MiB limit: 3 of 12 on engine 20.10) dies with exit code 137 and no event, and with
``--rm`` nothing is left to ask. What that die carries is no evidence: exit code 137 is any SIGKILL
(``docker kill``, ``kill -9`` from the host, a script's ``exit 137``); memory near the limit is what
page cache does; ``memory.failcnt`` counts reclaims at the limit, not kills; the cgroup's own
``oom_kill`` counter is gone with the cgroup by the die (the engine removes it first) and on cgroup
v1 is not summed into its parent's. The kernel logs each kill it makes, naming the memory cgroup
whose limit was hit and the victim's, before the victim dies:

    oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=<id>,mems_allowed=0,
    oom_memcg=/docker/<id>,task_memcg=/docker/<id>,task=dd,pid=27425,uid=0

A kill counts for a container when the limit hit is its own cgroup's (``oom_memcg`` ends with its
id, ``task_memcg`` is it or below it, ``CONSTRAINT_MEMCG``), as the engine's event does (a
host-wide OOM is not a limit too low). Reading the log needs CAP_SYSLOG where
``kernel.dmesg_restrict`` is 1 (root has it); without it no kill is inferred, and only the engine's
events count.

The kernel's ring buffer is small (about 130 KB here: some 215 s of a busy host's log), so the run
reads it every ``READ_EVERY`` seconds whatever its ``--interval``; records overwritten before a read
(``EPIPE``) are told once, as a warning.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import time
import warnings
from dataclasses import dataclass

KMSG = "/dev/kmsg"
# the container's own memory cgroup: its id is the path's last part (cgroupfs ``/docker/<id>``, systemd
# ``docker-<id>.scope``); a cgroup made inside a container's is not the container's limit
_OWN = re.compile(r"(?:^|/|-)([0-9a-f]{64})(?:\.scope)?$")
MAX_RECORD = 8192  # a read must hold a whole record (the kernel's CONSOLE_EXT_LOG_MAX)
READ_EVERY = 30.0  # seconds between reads: well within the ~215 s a busy host's ring buffer holds


@dataclass(frozen=True)
class Kill:
    container_id: str
    boot_us: int  # when it was logged: microseconds after boot, on the kernel's log clock


def parse_kill(record: str) -> Kill | None:
    """Pure: one ``/dev/kmsg`` record -> the OOM kill it logs, for a container hitting its own
    memory limit; None for any other record."""
    head, sep, message = record.partition(";")
    if not sep or not message.startswith("oom-kill:"):
        return None
    fields = {}
    for item in message[len("oom-kill:"):].strip().split(","):
        key, _, value = item.partition("=")
        fields[key] = value
    # the limit hit is the container's own cgroup's; its victim may be in a cgroup made inside it
    # (systemd in a container): the engine sends its `oom` for that too (recorded)
    memcg, task = fields.get("oom_memcg", ""), fields.get("task_memcg", "")
    if fields.get("constraint") != "CONSTRAINT_MEMCG" or not (task == memcg or task.startswith(f"{memcg}/")):
        return None
    own = _OWN.search(memcg)
    parts = head.split(",")
    if own is None or len(parts) < 3 or not parts[2].isdigit():
        return None
    return Kill(container_id=own.group(1), boot_us=int(parts[2]))


class KernelLog:
    """The kernel's log from the moment it is opened (one per collect run): ``read()`` takes every
    record logged since, non-blocking, and keeps the OOM kills, per container id, as epoch ns."""

    def __init__(self, path: str | None = None) -> None:
        self.kills: dict[str, list[int]] = {}
        self.lost = False  # records were overwritten before they were read (told once)
        self.fd: int | None
        try:
            self.fd = os.open(path or KMSG, os.O_RDONLY | os.O_NONBLOCK)
            os.lseek(self.fd, 0, os.SEEK_END)  # only what is logged from now on
        except OSError:  # no CAP_SYSLOG (dmesg_restrict), no such device (a container): no evidence
            self.fd = None

    @property
    def readable(self) -> bool:
        return self.fd is not None

    def read(self) -> None:
        """Every record logged since the last read (a kill is logged before its victim dies: by the
        engine's ``die`` it is there)."""
        while self.fd is not None:
            try:
                record = os.read(self.fd, MAX_RECORD)
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno == errno.EPIPE:  # records overwritten before they were read: go on
                    self._overrun()
                    continue
                self.close()
                return
            if not record:
                return
            kill = parse_kill(record.decode("utf-8", "replace"))
            if kill is not None:
                # the log's clock runs from boot, as CLOCK_MONOTONIC does (both stop in a suspend)
                epoch_ns = time.time_ns() - time.monotonic_ns() + kill.boot_us * 1000
                self.kills.setdefault(kill.container_id, []).append(epoch_ns)

    def _overrun(self) -> None:
        if not self.lost:
            self.lost = True
            warnings.warn("the kernel's log wrapped before it was read: OOM kills the engine did not "
                          "report may be missing", stacklevel=3)

    def close(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None
