"""`rightsize collect` as a process: bad input (exit 2, one line, nothing written), SIGTERM flush,
kill -9 recovery, appending runs, and a real docker-compose project."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import rightsize
from rightsize import store
from rightsize.cli import main

IMAGE = "rightsize-test/busybox:1"


def run_main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    return int(exc.value.code or 0), capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--duration", "24x"], "not a duration: '24x'"),
        (["--interval", "0"], "interval must be greater than 0"),
        (["--interval", "-1s"], "not a duration"),
        (["--flush", "0s"], "flush must be greater than 0"),
        (["--filter", "colour=red"], "unknown filter 'colour'"),
        (["--filter", "name"], "bad filter 'name'"),
        (["--source", "kubelet"], "unknown source 'kubelet'"),
        (["--docker-host", "unix:///nonexistent/docker.sock"], "cannot reach unix:///nonexistent/docker.sock"),
        (["--source", "prometheus"], "--source prometheus needs --url"),
        (["--project", ""], "--project is empty: expected a compose project name"),
        (["--docker-host", " "], "--docker-host is empty: expected an engine URL"),  # not the local one
        (["--host", ""], "--host is empty: expected a host name"),
        (["--host", "rack1/box"], "--host 'rack1/box': expected a host name without '/'"),
        (["--host", "a\nb"], "--host 'a\\nb': expected a host name without control characters"),
        # it is part of every file name: one too long for the file system would fail only at the flush
        (["--host", "h" * 201], "--host has 201 characters: expected a host name of at most 200"),
        (["--host", "h", "--source", "prometheus", "--url", "http://127.0.0.1:9"], "--host applies to"),
        (["--source", "prometheus", "--url", "http://127.0.0.1:9", "--namespace", ""], "--namespace is"),
        # an option of the other source was silently ignored: a pull of everything, or a Docker collect
        (["--source", "prometheus", "--url", "http://127.0.0.1:9", "--filter", "name=x"], "--filter applies"),
        (["--source", "prometheus", "--url", "http://127.0.0.1:9", "--project", "shop"], "--project applies"),
        (["--url", "http://127.0.0.1:9"], "--url applies to --source prometheus"),
        (["--namespace", "shop"], "--namespace applies to --source prometheus"),
        # ... and --duration (given above) with a pull, --since/--step with a Docker collect
        (["--source", "prometheus", "--url", "http://127.0.0.1:9"], "--duration applies to the docker"),
        (["--since", "7d"], "--since applies to --source prometheus"),
        (["--step", "5m"], "--step applies to --source prometheus"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "data"
    code, err = run_main(["collect", "--out", str(out), "--duration", "5s", "-q", *args], capsys)
    assert code == 2
    assert err.startswith("rightsize: error: ") and message in err
    assert err.count("\n") == 1
    assert not out.exists()


def test_an_unreachable_docker_host_variable_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    code, err = run_main(["collect", "--out", str(tmp_path / "d"), "--duration", "5s", "-q"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "cannot reach DOCKER_HOST=unix:///nonexistent/docker.sock" in err


@pytest.mark.docker
def test_an_interval_of_a_million_days_waits_instead_of_overflowing(
    docker_client: object, tmp_path: Path
) -> None:
    import threading

    def interrupt_while_waiting(*_: int) -> None:  # after the first tick, from inside the long wait
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()

    summary = rightsize.collect(
        tmp_path / "d", duration="1000000d", interval="1000000d", quiet=True,
        filters=[f"label=rs-none-{uuid.uuid4().hex[:8]}=1"], on_tick=interrupt_while_waiting,
    )  # fmt: skip
    assert summary.interrupted and summary.ticks == 1


@pytest.mark.docker
def test_limits_changed_while_collecting_show_in_the_later_rows(run_container: Any, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    c = run_container("sleep 3600", labels={"rs-upd": tag}, mem_limit="64m", mem_reservation="48m")

    def update_on_tick_2(ticks: int, *_: int) -> None:
        if ticks == 2:  # what `docker update` or `apply --live` does to a running container
            c.update(mem_reservation="32m")

    rightsize.collect(
        tmp_path, duration="3s", interval="0.25s", quiet=True, filters=[f"label=rs-upd={tag}"],
        on_tick=update_on_tick_2,
    )  # fmt: skip
    rows = store.load(tmp_path).sort_values("ts")
    assert rows["mem_reservation"].iloc[0] == 48 * 2**20
    assert rows["mem_reservation"].iloc[-1] == 32 * 2**20  # was 48m to the end: stale since the start


def test_unwritable_output_is_rejected_before_sampling(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, err = run_main(["collect", "--out", str(blocker / "data"), "--duration", "5s", "-q"], capsys)
    assert code == 2 and "not writable" in err and err.count("\n") == 1
    code, err = run_main(["collect", "--out", str(blocker), "--duration", "5s", "-q"], capsys)
    assert code == 2 and "not a folder" in err


@pytest.mark.docker
def test_output_the_kernel_refuses_is_one_line(
    docker_client: object, capsys: pytest.CaptureFixture[str]
) -> None:
    # access() allows root to write under /proc; only mkdir fails, after the engine was reached
    code, err = run_main(["collect", "--out", "/proc/rightsize-data", "--duration", "5s", "-q"], capsys)
    assert code == 2 and err.startswith("rightsize: error: ") and "not writable" in err
    assert err.count("\n") == 1


def test_cgroup_source_without_cgroup_filesystem(tmp_path: Path) -> None:
    with pytest.raises(rightsize.RightsizeError, match="no cgroup filesystem visible"):
        rightsize.collect(tmp_path / "d", duration="5s", source="cgroup", cgroup_root=tmp_path)
    assert not (tmp_path / "d").exists()


# ---------------------------------------------------------------------------- real processes


@pytest.fixture(scope="module")
def sleeper(docker_client: Any) -> Iterator[str]:
    tag = uuid.uuid4().hex[:8]
    c = docker_client.containers.run(
        IMAGE, ["sleep", "3600"], name=f"rs-{tag}-sleeper", labels={"rightsize-test": "1", "rs-run": tag},
        detach=True,
    )
    yield f"label=rs-run={tag}"
    c.remove(force=True)


def _collector(out: Path, flt: str, flush: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "rightsize", "collect", "--duration", "10m", "--interval", "0.5s",
         "--flush", flush, "--filter", flt, "--out", str(out), "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def _wait_for(predicate: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


@pytest.mark.docker
@pytest.mark.slow
def test_sigterm_flushes_and_exits_0(sleeper: str, tmp_path: Path) -> None:
    out = tmp_path / "data"
    proc = _collector(out, sleeper, flush="10m")  # nothing is flushed before the signal
    _wait_for(out.exists)  # the folder is created once discovery is done and sampling starts
    time.sleep(2.5)
    assert not store.list_files(out) if (out / "samples").exists() else True  # flush is 10 min away
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert b"stopped early by signal" in stdout
    samples = rightsize.load(out)
    assert len(samples) >= 3 and samples["container"].str.endswith("-sleeper").all()


@pytest.mark.docker
@pytest.mark.slow
def test_kill_9_keeps_closed_files_and_a_second_run_appends(sleeper: str, tmp_path: Path) -> None:
    out = tmp_path / "data"
    proc = _collector(out, sleeper, flush="1s")
    _wait_for(lambda: len(store.list_files(out)) >= 2 if (out / "samples").exists() else False)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    files = store.list_files(out)
    first = rightsize.load(out)  # every file closed before the kill is complete and readable
    assert len(first) >= 2
    assert len(pd.read_parquet(out / "samples")) == len(first)

    summary = rightsize.collect(out, duration="2s", interval="0.5s", filters=[sleeper], quiet=True)
    both = rightsize.load(out)
    assert len(both) == len(first) + summary.samples
    assert set(files) < set(store.list_files(out))


@pytest.mark.docker
@pytest.mark.slow
def test_compose_project_services_become_workloads(docker_client: Any, tmp_path: Path) -> None:
    project = f"rs{uuid.uuid4().hex[:8]}"
    (tmp_path / "docker-compose.yml").write_text(
        "version: '2.4'\n"
        "services:\n"
        "  web:\n"
        f"    image: {IMAGE}\n"
        "    command: sleep 3600\n"
        "    labels: {rightsize-test: '1'}\n"
        "    mem_limit: 64m\n"
        "  db:\n"
        f"    image: {IMAGE}\n"
        "    command: sleep 3600\n"
        "    labels: {rightsize-test: '1'}\n"
    )
    compose = ["docker-compose", "-p", project, "-f", str(tmp_path / "docker-compose.yml")]
    subprocess.run([*compose, "up", "-d", "--scale", "web=2"], check=True, capture_output=True, timeout=180)
    try:
        out = tmp_path / "data"
        summary = rightsize.collect(out, duration="3s", interval="1s", project=project, quiet=True)
        samples = rightsize.load(out)
    finally:
        subprocess.run([*compose, "down", "-t", "0"], capture_output=True, timeout=180)
    assert set(samples["workload"]) == {f"{project}/web", f"{project}/db"}
    web = samples[samples["workload"] == f"{project}/web"]
    assert web["container_id"].nunique() == 2
    assert (web["mem_limit"] == 64 * 1024**2).all()
    assert summary.workloads == 2 and summary.containers == 3


@pytest.mark.docker
@pytest.mark.slow
def test_progress_bar_and_summary(sleeper: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "data"
    with pytest.raises(SystemExit) as exc:
        main(["collect", "--duration", "2s", "--interval", "0.5s", "--filter", sleeper, "--out", str(out)])
    captured = capsys.readouterr()
    assert exc.value.code == 0
    n = len(rightsize.load(out))
    assert "collecting" in captured.err and f"1 containers, {n} samples" in captured.err
    assert captured.out.startswith(f"collected {n} samples from 1 container (1 workload) on ")
    assert f"written: 1 file under {out}" in captured.out


@pytest.mark.docker
def test_host_option_names_the_dataset_rows_and_files(
    sleeper: str, docker_client: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "data"
    assert docker_client.info()["Name"] != "edge-7"
    args = ["collect", "--duration", "2s", "--interval", "0.5s", "--filter", sleeper, "--out", str(out)]
    code, _ = run_main([*args, "--host", "edge-7", "-q"], capsys)
    assert code == 0
    samples = rightsize.load(out)
    assert len(samples) >= 2 and set(samples["host"]) == {"edge-7"}
    files = store.list_files(out)
    assert files and all(f.name.startswith("edge-7-") for f in files)


@pytest.mark.docker
def test_the_library_takes_one_filter_as_a_string(sleeper: str, tmp_path: Path) -> None:
    # filters="label=..." was read letter by letter: "bad filter 'l'"
    summary = rightsize.collect(tmp_path / "d", duration="1.5s", interval="0.5s", filters=sleeper, quiet=True)
    assert summary.samples >= 1
    assert set(rightsize.load(tmp_path / "d")["container"]) == {f"rs-{sleeper.rsplit('=', 1)[1]}-sleeper"}


@pytest.mark.docker
def test_cgroup_source_skips_containers_whose_cgroup_is_not_visible(sleeper: str, tmp_path: Path) -> None:
    root = tmp_path / "cgroup"  # a v1 hierarchy without this container in it
    (root / "memory").mkdir(parents=True)
    (root / "cpuacct").mkdir()
    with pytest.warns(UserWarning, match="cgroup of rs-.*-sleeper not found"):
        summary = rightsize.collect(
            tmp_path / "d", duration="1s", interval="0.5s", source="cgroup", filters=[sleeper],
            quiet=True, cgroup_root=root,
        )
    assert summary.samples == 0 and summary.sources == {}


@pytest.mark.parametrize(
    "args",
    [
        ["collect", "--out", ""],
        ["collect", "--out", "  "],
        ["collect", "--source", "prometheus", "--url", "http://127.0.0.1:9", "--out", ""],
    ],
)
def test_empty_out_is_one_line_and_writes_nothing_here(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # a script passing an unset variable must not get the current folder as its dataset
    monkeypatch.chdir(tmp_path)
    code, err = run_main([*args, "--duration", "1s", "--interval", "1s", "-q"], capsys)
    assert code == 2 and err == "rightsize: error: --out is empty: expected a dataset folder\n"
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(rightsize.RightsizeError, match="out is empty"):
        rightsize.collect("", duration="1s")
