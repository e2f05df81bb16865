"""Flushes the file system refuses (a full disk, an output folder that is gone) keep their rows and
retry; the summary counts only what was written.

The full disk is real: a small tmpfs mounted for the test (root is needed to mount; CI runs as
root because it starts dockerd) and filled with a file, then freed again.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import rightsize
from rightsize import store
from rightsize.cli import main
from rightsize.collector.flush import Buffers
from rightsize.errors import RightsizeError


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs: a disk that really fills up (ENOSPC), unmounted afterwards."""
    mnt = tmp_path / "fs"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode != 0:
        reason = f"cannot mount a tmpfs (needs root): {done.stderr.decode().strip()}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False, capture_output=True)


def fill(mnt: Path) -> Path:
    """Fill the file system at ``mnt`` to the last byte; delete the returned file to free it."""
    filler = mnt / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for size in (1 << 20, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    return filler


def regular_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


# ------------------------------------------------------------------------- the real collector


@pytest.mark.docker
def test_a_disk_full_mid_run_loses_no_row(run_container: Any, small_fs: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    run_container("sleep 3600", labels={"rs-full": tag})
    run_container("sleep 3600", labels={"rs-full": tag})
    out = small_fs / "data"
    sampled: list[int] = []
    filler: list[Path] = []

    def disk_full_from_tick_2_to_8(ticks: int, containers: int, samples: int) -> None:
        sampled.append(samples)
        if ticks == 2:
            filler.append(fill(small_fs))
        elif ticks == 8:  # >= 1.25 s later: at least one flush (every 0.5 s) was refused
            filler[0].unlink()
        elif ticks == 10:  # stop by ticks, not by time: a slow machine still frees the disk first
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.warns(UserWarning, match="No space left on device") as caught:
        summary = rightsize.collect(
            out, duration="10m", interval="0.25s", flush="0.5s", filters=[f"label=rs-full={tag}"],
            quiet=True, on_tick=disk_full_from_tick_2_to_8,
        )  # fmt: skip
    assert len([w for w in caught if "No space left" in str(w.message)]) == 1  # once, not every flush
    rows = rightsize.load(out)
    assert summary.samples == len(rows) == sampled[-1] == 20  # every sampled row, kept through the full disk
    assert not rows.duplicated(["container_id", "ts"]).any()  # and none written twice
    assert summary.containers == 2 and summary.dropped == 0
    assert not [f for f in regular_files(out) if f.name.startswith(".")]  # no temporary file left


def collect_on_a_full_disk(run_container: Any, small_fs: Path, *args: str) -> tuple[Path, int]:
    """One sleeping container, the output folder on a full file system: collect's exit code."""
    tag = uuid.uuid4().hex[:8]
    run_container("sleep 3600", labels={"rs-full": tag})
    out = small_fs / "data"
    out.mkdir()
    fill(small_fs)
    with pytest.raises(SystemExit) as exc:
        main(["collect", "--out", str(out), *args, "--filter", f"label=rs-full={tag}"])
    return out, int(exc.value.code or 0)


@pytest.mark.docker
def test_a_final_flush_on_a_full_disk_is_one_line_exit_2(
    run_container: Any, small_fs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, code = collect_on_a_full_disk(run_container, small_fs, "--duration", "1s", "--interval", "1s", "-q")
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("rightsize: error: ")
    assert "No space left on device" in err and str(out) in err
    # one tick (interval = duration), one container; its start event too when it fell in the run's
    # first second (the event stream starts at a whole second)
    assert re.search(r": 1 sample( and 1 event)? could not be written$", err.strip())
    assert regular_files(out) == []  # nothing half-written


@pytest.mark.docker
def test_the_progress_bar_shows_the_rows_waiting_for_the_disk(
    run_container: Any, small_fs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, code = collect_on_a_full_disk(
        run_container, small_fs, "--duration", "3s", "--interval", "0.5s", "--flush", "0.5s"
    )
    err = capsys.readouterr().err
    assert code == 2
    assert re.search(r"1 containers, \d+ samples, [1-9]\d* unwritten \(disk refused\)", err)
    lines = err.strip().splitlines()
    assert len([line for line in lines if line.startswith("rightsize: warning: ")]) == 1
    lost = r"^rightsize: error: .*\(No space left on device\): \d+ samples? .*could not be written$"
    assert re.search(lost, lines[-1])


# ------------------------------------------------------------------------------- the summary


@pytest.mark.docker
def test_the_summary_counts_only_workloads_with_rows_written(run_container: Any, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    run_container("sleep 3600", labels={"rs-sum": tag})

    def start_one_more_after_the_only_tick(ticks: int, *_: int) -> None:
        if ticks == 1:  # its start event is handled after the last tick: tracked, never sampled
            # handled at the stop at the latest: the engine logged it before answering the start,
            # and the stop asks for every event it logged up to its clock
            run_container("sleep 3600", labels={"rs-sum": tag, "rs-late": tag})

    summary = rightsize.collect(
        tmp_path / "d", duration="1s", interval="1s", filters=[f"label=rs-sum={tag}"], quiet=True,
        on_tick=start_one_more_after_the_only_tick,
    )  # fmt: skip
    rows = rightsize.load(tmp_path / "d")
    assert summary.ticks == 1 and summary.samples == len(rows) == 1
    assert summary.containers == 1 and summary.workloads == 1
    assert sum(summary.sources.values()) == 1
    assert str(summary).startswith("collected 1 sample from 1 container (1 workload) on ")


@pytest.mark.docker
def test_the_summary_says_so_when_no_row_was_written(run_container: Any, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]

    def start_the_only_container_after_the_only_tick(ticks: int, *_: int) -> None:
        if ticks == 1:
            run_container("sleep 3600", labels={"rs-none": tag})  # its start: handled by the stop

    summary = rightsize.collect(
        tmp_path / "d", duration="1s", interval="1s", filters=[f"label=rs-none={tag}"], quiet=True,
        on_tick=start_the_only_container_after_the_only_tick,
    )  # fmt: skip
    assert summary.samples == summary.containers == summary.workloads == 0
    assert summary.sources == {}
    text = str(summary)
    assert text.startswith("no samples written: ") and "workload" not in text.splitlines()[0]
    assert not (tmp_path / "d" / "samples").exists()
    assert len(rightsize.load_events(tmp_path / "d")) == 1  # its start event was written


# ------------------------------------------------------------------------- the buffers alone

T0 = 1_764_288_000_000  # 2025-11-28 00:00:00 UTC


def sample(i: int, ts: int | None = None) -> dict[str, object]:
    """A samples row as sampling.sample_row makes it (one container, one second apart)."""
    return {"ts": T0 + i * 1000 if ts is None else ts, "host": "h", "workload": "shop/db",
            "container_id": "c" * 64, "container": "shop-db-1", "image": "postgres:16",
            "mem_working_set": 1000 + i, "pids": 3, "oom_kills": 0, "restarts": 0}  # fmt: skip


def test_a_full_disk_keeps_the_rows_warns_once_and_the_next_flush_writes_them(small_fs: Path) -> None:
    out = small_fs / "data"
    buffers = Buffers(out, "h")
    for i in range(5):
        buffers.samples.append(sample(i))
    filler = fill(small_fs)
    refused = r"cannot write to .*data \(No space left on device\): keeping 5 rows"
    with pytest.warns(UserWarning, match=refused):
        assert buffers.flush() is False
    for i in range(5, 8):
        buffers.samples.append(sample(i))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second refusal does not warn again
        assert buffers.flush() is False
    assert buffers.unwritten() == {"samples": 8, "events": 0}
    assert regular_files(out) == []  # the refused writes left no temporary file
    filler.unlink()
    assert buffers.flush() is True
    assert buffers.unwritten() == {"samples": 0, "events": 0} and buffers.written["samples"] == 8
    assert list(store.load(out)["mem_working_set"]) == list(range(1000, 1008))
    assert buffers.files == 1 and buffers.workloads == {"shop/db"}


def test_an_output_folder_replaced_by_a_file_keeps_the_rows_until_it_is_back(tmp_path: Path) -> None:
    out = tmp_path / "data"  # no mount needed: runs as any user
    buffers = Buffers(out, "h")
    buffers.samples.append(sample(0))
    assert buffers.flush()
    shutil.rmtree(out)
    out.write_text("someone put a file here")
    buffers.samples.append(sample(1))
    buffers.events.append({"ts": T0 + 1500, "host": "h", "container_id": "c" * 64, "kind": "die"})
    with pytest.warns(UserWarning, match="Not a directory"):
        assert not buffers.flush()
    lost = r"\(Not a directory\): 1 sample and 1 event could not be written"
    with pytest.raises(RightsizeError, match=lost):
        buffers.flush(final=True)
    out.unlink()
    assert buffers.flush(final=True)  # the rows were still kept after the refused final flush
    assert list(store.load(out)["mem_working_set"]) == [1001]
    assert list(store.load_events(out)["kind"]) == ["die"]


def test_a_refused_second_day_is_retried_without_writing_the_first_twice(tmp_path: Path) -> None:
    out = tmp_path / "data"
    buffers = Buffers(out, "h")
    before_midnight, after_midnight = T0 - 1000, T0 + 1000
    buffers.samples.append(sample(0, before_midnight))
    buffers.samples.append(sample(1, after_midnight))
    blocker = out / "samples" / "date=2025-11-28"  # a file where the new day's folder goes
    blocker.parent.mkdir(parents=True)
    blocker.write_text("")
    with pytest.warns(UserWarning, match="File exists"):
        assert not buffers.flush()
    assert buffers.unwritten()["samples"] == 1 and buffers.written["samples"] == 1
    blocker.unlink()
    assert buffers.flush()
    assert sorted(store.load(out)["mem_working_set"]) == [1000, 1001]  # each once


def test_unwritten_rows_are_capped_by_dropping_the_oldest(small_fs: Path) -> None:
    out = small_fs / "data"
    buffers = Buffers(out, "h", max_unwritten=4)
    filler = fill(small_fs)
    for i in range(3):
        buffers.samples.append(sample(i))
    with pytest.warns(UserWarning, match="No space left"):
        buffers.flush()
    for i in range(3, 6):
        buffers.samples.append(sample(i))
    with pytest.warns(UserWarning, match="dropping the oldest unwritten samples rows beyond 4"):
        buffers.flush()
    assert buffers.unwritten()["samples"] == 4 and buffers.dropped["samples"] == 2
    with pytest.raises(RightsizeError, match=r"4 samples could not be written \(2 more dropped earlier"):
        buffers.flush(final=True)
    filler.unlink()
    assert buffers.flush(final=True)
    assert list(store.load(out)["mem_working_set"]) == [1002, 1003, 1004, 1005]  # the newest 4
