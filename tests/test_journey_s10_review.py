"""Review of session 10's user-facing changes (test_journey_s10): the holes found in them."""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any

import pandas  # noqa: F401  # loaded first, as in test_journey_s10
import pytest

import rightsize
from tests.cli_helpers import run_cli


def _read_until(fd: int, needle: bytes, proc: subprocess.Popen[bytes]) -> bytes:
    """The terminal's output until ``needle`` shows (the run is sampling), or the run ended."""
    seen = b""
    deadline = time.monotonic() + 60
    while needle not in seen and proc.poll() is None and time.monotonic() < deadline:
        if select.select([fd], [], [], 0.5)[0]:
            seen += os.read(fd, 65536)
    return seen


@pytest.mark.docker
@pytest.mark.slow
def test_collect_in_a_terminal_that_hangs_up_still_writes_its_rows(
    run_container: Any, tmp_path: Path
) -> None:
    """fa5b257 made SIGHUP flush like Ctrl-C, tested with -q and pipes. In a real terminal (the
    progress bar on it) the hangup also makes every write to it fail (EIO): the bar's last redraw
    raised before the final flush, so a dropped SSH session still lost every unflushed row."""
    c = run_container("sleep 600")
    out = tmp_path / "hup"
    master, slave = os.openpty()

    def own_terminal() -> None:  # as a login shell's job: the pty is its controlling terminal
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        [sys.executable, "-m", "rightsize", "collect", "--duration", "10m", "--interval", "0.5s",
         "--flush", "10m", "--filter", f"name={c.name}", "--out", str(out)],
        stdin=slave, stdout=slave, stderr=slave, start_new_session=True, preexec_fn=own_terminal,
    )  # fmt: skip
    os.close(slave)
    try:
        seen = _read_until(master, b" 3 samples", proc)
        assert proc.poll() is None, seen
    finally:
        os.close(master)  # the terminal hangs up: SIGHUP to the run, EIO on its writes
    proc.wait(timeout=60)
    assert len(rightsize.load(out)) >= 3


def test_a_warning_to_a_terminal_that_hung_up_does_not_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run whose terminal is gone (`collect & disown`, then the window closed) got EIO from its
    first warning line (an engine hiccup), raised out of the loop: its unflushed rows lost. Python's
    own showwarning ignores that OSError; ours now does too."""
    from rightsize.cli_checks import show_warning

    master, slave = os.openpty()
    os.close(master)  # hung up: every write to the terminal is EIO
    dead = os.fdopen(slave, "w", buffering=1)
    monkeypatch.setattr(sys, "stderr", dead)
    show_warning("the Docker engine did not answer", UserWarning, __file__, 1)
    monkeypatch.undo()
    with contextlib.suppress(OSError):
        dead.close()


@pytest.mark.parametrize("value", ["24.", "+24", "1e3", "2.5E1"])
def test_every_spelling_of_a_number_without_unit_is_refused(
    value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """787afd4 refused `--duration 24` but `24.`, `+24` and `1e3` still slipped through as seconds."""
    for args, option in (
        (["collect", "--duration", value, "--out", str(tmp_path / "d")], "--duration"),
        (["backtest", "--train", value], "--train"),
        (["recommend", "--set", f"min_history={value}"], "setting min_history"),
    ):
        code, out, err = run_cli(args, capsys)
        assert code == 2 and out == "", err
        assert err.strip().splitlines() == [
            f"rightsize: error: {option} {value!r}: a number without a unit; write {value.strip()}s, "
            f"{value.strip()}m, {value.strip()}h or {value.strip()}d"
        ]
    assert not (tmp_path / "d").exists()


def test_collect_leaves_a_programs_own_sighup_handler_alone() -> None:
    """fa5b257 took SIGHUP over unless ignored: rightsize.collect() inside a program with its own
    SIGHUP handler (a daemon's reload, log reopening) then ended the collection on it and the
    program's handler never ran. Only SIGHUP's default action (death, rows lost) is taken over."""
    from rightsize.collector.waker import Waker

    seen: list[int] = []

    def reload(signum: int, _frame: object) -> None:
        seen.append(signum)

    before = signal.signal(signal.SIGHUP, reload)
    try:
        waker = Waker()
        previous = waker.install_signals()
        try:
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(0.1)  # the handler runs in the main thread between bytecodes
        finally:
            waker.restore_signals(previous)
        assert seen == [signal.SIGHUP] and not waker.stop.is_set()
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        previous = waker.install_signals()  # the default (death) is still taken over: flush, exit 0
        try:
            assert signal.getsignal(signal.SIGHUP) == waker.signalled
        finally:
            waker.restore_signals(previous)
    finally:
        signal.signal(signal.SIGHUP, before)
