"""The optional second scanner process (``RIGHTSIZE_SCAN_PROCESSES=2``) and its pickled messages.

Pickles over stdin/stdout rather than multiprocessing: spawning would re-run the caller's main
script, and forking a process that holds Arrow's threads is unsafe.
"""

from __future__ import annotations

import pickle
import sys
import warnings
from pathlib import Path
from subprocess import PIPE, Popen
from typing import Any

import numpy as np

from rightsize.analysis.plausible import Plausible
from rightsize.analysis.scanpart import Part, pass1, pass2
from rightsize.errors import RightsizeError


def child_main() -> None:
    """The second scanner process (started by ``start_child``).

    Pickles over stdin/stdout (not multiprocessing: spawning would re-run the caller's main script):
    receive the files, pass 1, send; receive the wanted bins, pass 2, send.
    """
    out, inp = sys.stdout.buffer, sys.stdin.buffer

    def send(tag: str, payload: object, caught: list[warnings.WarningMessage]) -> None:
        pickle.dump((tag, payload, [str(w.message) for w in caught]), out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            files, start, match, days, events, valid = pickle.load(inp)
            p = Part(match, days[0], days[1], events=events, valid=valid)
            send("found", pass1(p, files, start), caught)
            caught.clear()
            wanted = pickle.load(inp)
            send("kept", pass2(p, wanted), caught)
        except RightsizeError as exc:
            send("error", str(exc), caught)
        except Exception as exc:  # reported by the parent as one line
            send("error", f"scanner process failed: {type(exc).__name__}: {exc}", caught)


def start_child(
    files: list[Path], start: int | None, match: str | None, days: tuple[int, int],
    events: tuple[np.ndarray, np.ndarray], valid: Plausible,
) -> Popen[bytes]:  # fmt: skip
    # import by name (not -m): pickled records must name this module, not __main__
    code = "from rightsize.analysis.scanproc import child_main; child_main()"
    proc = Popen([sys.executable, "-c", code], stdin=PIPE, stdout=PIPE)
    assert proc.stdin is not None
    pickle.dump((files, start, match, days, events, valid), proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
    proc.stdin.flush()
    return proc


def send_child(proc: Popen[bytes], payload: object) -> None:
    assert proc.stdin is not None
    pickle.dump(payload, proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
    proc.stdin.flush()


def receive(proc: Popen[bytes], kind: str) -> Any:
    """The child's next message; its warnings re-emitted here, its errors raised here."""
    from rightsize.store import DatasetWarning

    assert proc.stdout is not None
    try:
        tag, payload, caught = pickle.load(proc.stdout)
    except (EOFError, pickle.UnpicklingError):
        raise RightsizeError(f"the second scanner process died (exit code {proc.wait()})") from None
    for message in caught:
        warnings.warn(message, DatasetWarning, stacklevel=3)
    if tag == "error":
        raise RightsizeError(payload)
    assert tag == kind
    return payload
