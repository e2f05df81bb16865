"""The collector loop's waits: until the next tick, an engine event, or a stop signal, whichever is first."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from typing import Any


class Waker:
    """``stop`` ends the loop (a signal); ``wake`` interrupts a wait (an event or a signal)."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.wake = threading.Event()

    def signalled(self, *_: object) -> None:
        self.stop.set()
        self.wake.set()

    def sleep_until(self, deadline: Callable[[], float], on_wake: Callable[[], None]) -> None:
        """Wait until ``deadline()`` (monotonic; asked again after each wake, which may have moved
        it) or stop; call ``on_wake`` whenever woken before it."""
        # in slices: one wait of a --interval like 1000000d overflows the platform's time_t
        while not self.stop.is_set() and (left := deadline() - time.monotonic()) > 0:
            if self.wake.wait(min(left, 86400.0)):
                self.wake.clear()  # before on_wake: whatever arrives meanwhile wakes the next wait
                if not self.stop.is_set():
                    on_wake()

    def install_signals(self) -> dict[int, Any]:
        """SIGINT/SIGTERM stop the loop (main thread only); returns the handlers to restore.
        SIGHUP too (a closed terminal or dropped SSH session killed the run, its unflushed rows
        lost), only while it has its default action: ignored (``nohup``) the run goes on, and a
        program's own handler (a daemon's reload) keeps it."""
        if threading.current_thread() is not threading.main_thread():
            return {}
        signals = [signal.SIGINT, signal.SIGTERM]
        if signal.getsignal(signal.SIGHUP) is signal.SIG_DFL:
            signals.append(signal.SIGHUP)
        return {sig: signal.signal(sig, self.signalled) for sig in signals}

    @staticmethod
    def restore_signals(previous: dict[int, Any]) -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
