"""Small questions the collector tests ask the real engine."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import docker


def container_gone(client: Any, container_id: str) -> bool:
    """True once the engine no longer knows the container (a ``--rm`` job removed)."""
    try:
        client.api.inspect_container(container_id)
    except docker.errors.NotFound:
        return True
    return False


def poll(predicate: Callable[[], bool], timeout: float = 60.0, every: float = 0.05) -> bool:
    """Ask ``predicate`` until true (True) or ``timeout`` (False); a generous deadline, as the shared
    machine may be very busy."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(every)
    return True


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """``poll``, failing the test with ``what`` at the deadline."""
    if not poll(predicate, timeout):
        raise AssertionError(f"timed out waiting for {what}")


def dies_logged(client: Any, container_ids: list[str], since: float) -> bool:
    """Each container's ``die`` in the engine's event log since ``since`` (what a collect run's stop
    asks the engine for)."""
    logged = client.api.events(since=since, until=time.time(), decode=True,
                               filters={"type": "container", "event": ["die"], "container": container_ids})
    return {e["id"] for e in logged} == set(container_ids)


def kmsg_readable() -> bool:
    """Whether this process may read the kernel's log (root or CAP_SYSLOG); the handle is closed."""
    from rightsize.sources.kmsg import KernelLog

    log = KernelLog()
    try:
        return log.readable
    finally:
        log.close()
