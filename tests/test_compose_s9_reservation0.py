"""A recommended reservation of 0 is compose's "unset": no reservation. apply skipped the whole
resource for it (the limit too: "the memory reservation 0K is below the 6M Docker accepts"), and
check divided by it (a ZeroDivisionError traceback). The CLI gives one with ``--set mem_floor=0``
(``cpu_floor=0``) on a workload idle 90% of the time; the library API with any ``Values(0, limit)``.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli
from writer_recs import M, rec

from rightsize.targets.check import check_compose
from rightsize.targets.compose import patch_compose

TEXT = "name: p\nservices:\n  web:\n    image: x\n    mem_limit: 1g\n    mem_reservation: 256m\n"


def test_the_limit_is_written_and_the_reservation_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "compose.yml"
    path.write_text(TEXT)
    (result,) = patch_compose(path, [rec("p/web", "memory", 0, 512 * M)])
    assert [(c.key, c.new) for c in result.changes] == [("services.web.mem_limit", "512m")]
    assert result.skipped == ()
    assert path.read_text() == TEXT.replace("1g", "512m")


def test_a_limit_below_the_reservation_left_in_place_is_skipped_as_before(tmp_path: Path) -> None:
    path = tmp_path / "compose.yml"
    path.write_text(TEXT)
    (result,) = patch_compose(path, [rec("p/web", "memory", 0, 128 * M)])
    assert [s.reason for s in result.skipped] == [
        "not written: 128M would be below the memory reservation left in place"
    ]
    assert path.read_text() == TEXT


def test_check_reads_a_zero_reservation_as_none_recommended(tmp_path: Path) -> None:
    path = tmp_path / "compose.yml"
    path.write_text(TEXT + "    deploy: {resources: {reservations: {cpus: '0.5'}}}\n")
    result = check_compose(path, [rec("p/web", "memory", 0, 1024 * M), rec("p/web", "cpu", 0, 0)])
    rows = {(r.resource, r.kind): (r.ok, r.why) for r in result.rows}
    assert rows[("memory", "limit")] == (True, "within the band")
    why = "no reservation recommended; below the recommended limit 1G"
    assert rows[("memory", "reservation")] == (True, why)
    assert rows[("cpu", "reservation")][0] is True
    assert rows[("cpu", "limit")] == (False, "no cpu limit (plan checklist: CPU limits set)")


def _idle(root: Path) -> str:
    """3 h of 10 s samples of a workload busy one sample in 20 (100M, 0.5 cores), idle (0) otherwise:
    its p90 is 0, so are the reservations with the floors at 0."""
    from rightsize.store import append, to_table

    t0 = 1_767_225_600_000
    rows = [
        {"ts": t0 + i * 10_000, "host": "h", "workload": "p/web", "container_id": "c", "container": "p-web-1",
         "image": "x", "cpu_cores": 0.5 if i % 20 == 0 else 0.0, "pids": 2, "oom_kills": 0, "restarts": 0,
         "mem_working_set": 100 * M if i % 20 == 0 else 0, "mem_rss": 0}
        for i in range(3 * 360)
    ]  # fmt: skip
    append(root, to_table(rows), "samples", host="h")
    return str(root)


def test_the_cli_writes_the_limits_of_an_idle_workload_with_the_floors_at_0(
    tmp_path: Path, capsys: Any
) -> None:
    path = tmp_path / "compose.yml"
    path.write_text(TEXT + "    cpus: 2\n")
    floors = ["--data", _idle(tmp_path / "data"), "--set", "mem_floor=0", "--set", "cpu_floor=0"]
    code, out, err = run_cli(["recommend", *floors, "--format", "json"], capsys)
    assert code == 0, err
    code, out, err = run_cli(["check", "-f", str(path), *floors], capsys)
    assert code == 1 and "Traceback" not in err, err  # (the limits are off the band: that is all)
    assert "no reservation recommended" in out
    code, out, err = run_cli(["apply", "-f", str(path), *floors, "--only", "memory,cpu"], capsys)
    assert code == 0, err
    text = path.read_text()
    assert "mem_limit: 1g" not in text and "cpus: 2\n" not in text  # both limits written
    assert "mem_reservation: 256m" in text  # the reservation: none recommended, left as it is


@pytest.mark.docker
def test_apply_live_sends_the_limit_of_a_zero_reservation(run_container: Any) -> None:
    """--live skipped the whole memory recommendation too ("not sent: the memory reservation 0K ...")."""
    from rightsize.targets.live import apply_live

    project = f"rs9res{uuid.uuid4().hex[:6]}"
    labels = {"com.docker.compose.project": project, "com.docker.compose.service": "web"}
    box = run_container("sleep 3600", labels=labels, mem_limit="64m", mem_reservation="32m")
    result = apply_live([rec(f"{project}/web", "memory", 0, 96 * M)], project=project)
    assert result.skipped == () and [(c.key, c.new) for c in result.changes] == [("Memory", "96M")]
    box.reload()
    host = box.attrs["HostConfig"]
    assert (host["Memory"], host["MemoryReservation"]) == (96 * M, 32 * M)  # the reservation left as it was
