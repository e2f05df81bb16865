"""Follow-up of the session 9 review of the kernel-log OOM kills (``sources/kmsg.py``): each test
fails before its fix. On the real engine, with real containers and the real ``/dev/kmsg``."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from engine_helpers import kmsg_readable, wait_for

import rightsize
from rightsize.sources import docker_events, kmsg


def _kmsg_fds() -> int:
    """This process's open ``/dev/kmsg`` handles."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the listing's own handle, closed meanwhile
            count += os.readlink(f"/proc/self/fd/{fd}") == kmsg.KMSG
    return count


NEEDS_KMSG = pytest.mark.skipif(not kmsg_readable(), reason="the kernel log needs CAP_SYSLOG")
UNREPORTED = ("  OOM kills the engine does not report cannot be recovered: /dev/kmsg is not readable "
              "(needs root or CAP_SYSLOG)")


@NEEDS_KMSG
@pytest.mark.docker
@pytest.mark.slow
def test_the_kernel_log_is_read_between_ticks_whatever_the_interval(
    run_container: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # --interval 1h: the ring buffer (~215 s of a busy host's log) would wrap over a kill in a
    # container that keeps running before the next tick read it. The log is read between ticks.
    tag = uuid.uuid4().hex[:8]
    run_container("sleep 3600", labels={"rs-s9follow": tag})  # keeps running: no die reads the log
    monkeypatch.setattr(kmsg, "READ_EVERY", 0.2, raising=False)  # the cadence, short for the test
    reads = [0]
    ticked = threading.Event()
    real_read = kmsg.KernelLog.read

    def counted(self: kmsg.KernelLog) -> None:
        if ticked.is_set():
            reads[0] += 1
        real_read(self)

    monkeypatch.setattr(kmsg.KernelLog, "read", counted)
    outcome: list[str] = []

    def wait_then_stop() -> None:
        try:
            wait_for(lambda: reads[0] >= 3, "the kernel's log read between ticks", timeout=30)
            outcome.append("read")
        except AssertionError as exc:
            outcome.append(str(exc))
        finally:
            os.kill(os.getpid(), signal.SIGINT)

    def on_tick(ticks: int, containers: int, samples: int) -> None:
        if ticks == 1:
            ticked.set()
            threading.Thread(target=wait_then_stop, daemon=True).start()

    summary = rightsize.collect(
        tmp_path, duration="10m", interval="1h", source="auto", filters=[f"label=rs-s9follow={tag}"],
        quiet=True, on_tick=on_tick,
    )  # fmt: skip
    assert outcome == ["read"]
    assert summary.ticks == 1 and summary.containers == 1  # read between ticks, not at them
    assert UNREPORTED not in str(summary).splitlines()  # readable here: nothing to say


@pytest.mark.docker
def test_an_unreadable_kernel_log_is_said_once_in_the_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # as without root (kernel.dmesg_restrict=1, no CAP_SYSLOG): the log cannot be opened
    monkeypatch.setattr(kmsg, "KMSG", str(tmp_path / "no-kmsg"))
    summary = rightsize.collect(
        tmp_path / "data", duration="1s", interval="0.5s", filters=[f"label=rs-s9none={uuid.uuid4().hex}"],
        quiet=True,
    )  # fmt: skip
    assert str(summary).splitlines().count(UNREPORTED) == 1, str(summary)
    assert not summary.kernel_log


@NEEDS_KMSG
@pytest.mark.docker
def test_the_kernel_log_is_closed_when_the_event_watcher_fails_at_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the engine going away between the run's first request and its event stream's (the error
    # docker-py raises for a refused connection)
    def refused(self: docker_events.EventWatcher, since: float) -> Any:
        raise requests.exceptions.ConnectionError("Connection refused")

    monkeypatch.setattr(docker_events.EventWatcher, "_open", refused)
    before = _kmsg_fds()
    with pytest.raises(requests.exceptions.ConnectionError):
        rightsize.collect(tmp_path, duration="1s", interval="0.5s", host="rs-s9follow", quiet=True)
    assert _kmsg_fds() == before
