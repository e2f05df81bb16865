"""Session 10's fresh-user journey: the mistakes a new user makes with the README in hand.

Each bad input is one ``rightsize: error:`` line on stderr and exit code 2, with nothing written.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas  # noqa: F401  # loaded first: an in-process collect in a fresh process would block it
import pytest

import rightsize
from tests.cli_helpers import run_cli


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["collect", "--duration", "24"], "--duration"),  # meant 24h: was 24 seconds of sampling
        (["collect", "--interval", "10"], "--interval"),
        (["collect", "--flush", "60"], "--flush"),
        (["backtest", "--train", "24"], "--train"),  # was 24 s, then "no window" about 7d
        (["backtest", "--test", "6"], "--test"),
        (["backtest", "--every", "6.5"], "--every"),
        # refused before the server is asked: nothing listens on port 9 here
        (["collect", "--source", "prometheus", "--url", "http://127.0.0.1:9", "--since", "14"], "--since"),
        (["collect", "--source", "prometheus", "--url", "http://127.0.0.1:9", "--step", "60"], "--step"),
        (["recommend", "--set", "min_history=24"], "setting min_history"),  # was 24 s
        (["backtest", "--train", "12h", "--test", "6h", "--set", "krr.min_history=2"], "setting min_history"),
    ],
)
def test_a_duration_without_unit_is_one_error_line(
    args: list[str], option: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--since 24`` was already refused ("a number without a unit"); ``--duration 24`` was read
    as 24 seconds, so a user who meant a day's collect got 24 s and a "successful" run."""
    out = tmp_path / "data"
    extra = ["--out", str(out)] if args[0] == "collect" else []
    code, stdout, err = run_cli([*args, *extra], capsys)
    assert code == 2, (stdout, err)
    lines = err.strip().splitlines()
    assert lines[-1].startswith("rightsize: error: "), err
    assert option in lines[-1] and "without a unit" in lines[-1], lines[-1]
    value = args[-1].split("=")[-1]
    assert f"{value}h" in lines[-1] and f"{value}s" in lines[-1], lines[-1]  # what to write instead
    assert "Traceback" not in err
    assert not out.exists()  # refused before any sampling: no folder, no file


SAMPLE_POSTGRES = "services:\n  postgres:\n    image: postgres:16\n    mem_limit: 4g\n"


def _collected_here(tmp_path: Path) -> None:
    """./rightsize-data as `rightsize collect` leaves it: here the sample with postgres at twice its
    memory, so that what is read (this, not the sample) shows in the numbers."""
    import pyarrow.parquet as pq

    from rightsize import sample_path

    for src in sample_path().rglob("*.parquet"):
        table = pq.read_table(src)
        if src.parts[-3] == "samples":
            df = table.to_pandas()
            pg = df["workload"] == "sutazai/postgres"
            for col in ("mem_working_set", "mem_rss", "mem_peak"):
                df.loc[pg, col] = df.loc[pg, col] * 2
            table = table.from_pandas(df, schema=table.schema, preserve_index=False)
        dst = tmp_path / "rightsize-data" / src.relative_to(sample_path())
        dst.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, dst)


def test_without_data_collects_default_out_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`rightsize collect` (default --out ./rightsize-data), then `rightsize apply -f compose.yml`:
    without --data apply took the bundled SYNTHETIC sample, matched its `sutazai/postgres` to the
    user's `postgres` and wrote the sample's numbers into the file, a warning the only sign. Without
    --data every command now reads ./rightsize-data when it is here, and says so."""
    monkeypatch.chdir(tmp_path)
    _collected_here(tmp_path)
    for compose in ("given.yml", "default.yml"):
        (tmp_path / compose).write_text(SAMPLE_POSTGRES)
    code, _, err = run_cli(["apply", "-f", "given.yml", "--data", "rightsize-data", "--only=memory"], capsys)
    assert code == 0, err
    code, _, err = run_cli(["apply", "-f", "default.yml", "--only", "memory"], capsys)
    assert code == 0, err
    assert "reading ./rightsize-data (collect's default --out)" in err and "SYNTHETIC" not in err
    written = (tmp_path / "default.yml").read_text()
    assert written == (tmp_path / "given.yml").read_text() != SAMPLE_POSTGRES
    assert "mem_limit: 1536m" not in written  # the sample's own recommendation (test below)
    code, out, err = run_cli(["recommend", "--format", "json", "--workload", "*postgres"], capsys)
    assert code == 0 and "reading ./rightsize-data" in err, err
    code, given, _ = run_cli(["recommend", "--format", "json", "--workload", "*postgres", "--data",
                              "rightsize-data"], capsys)  # fmt: skip
    assert out == given
    code, out, err = run_cli(["check", "-f", "default.yml", "--format", "json"], capsys)
    assert code in (0, 1) and "reading ./rightsize-data" in err, err


def test_without_data_and_nothing_collected_the_sample_is_read_and_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    compose = tmp_path / "compose.yml"
    compose.write_text(SAMPLE_POSTGRES)
    code, _, err = run_cli(["apply", "-f", "compose.yml", "--only", "memory"], capsys)
    assert code == 0, err
    assert "bundled SYNTHETIC sample" in err
    assert "mem_limit: 1536m" in compose.read_text()


@pytest.mark.parametrize(
    ("name", "text"),
    [("docker-compose.yml", SAMPLE_POSTGRES), ("notes.txt", "my notes\n"), ("data.json", '{"a": 1}\n')],
)
def test_report_out_never_replaces_a_file_that_is_not_a_page(
    name: str, text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`rightsize report -o docker-compose.yml` (-o taken for -f) replaced the compose file with the
    HTML page: the user's file was gone."""
    target = tmp_path / name
    target.write_text(text)
    code, out, err = run_cli(["report", "--out", str(target)], capsys)
    assert code == 2, (out, err)
    assert err.strip().splitlines()[-1] == (
        f"rightsize: error: cannot write {target}: it exists and is not an HTML page; give another --out "
        "(e.g. report.html)"
    )
    assert target.read_text() == text
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temporary file left


@pytest.mark.parametrize(
    ("name", "old"),
    [
        ("report.html", "old"),  # named as a page: the user means it
        ("report", ""),
        ("report", "<!DOCTYPE html>\n<html><body>an earlier report</body></html>\n"),
    ],
)
def test_report_out_still_replaces_an_earlier_report_or_an_empty_file(
    name: str, old: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / name
    target.write_text(old)
    code, _, err = run_cli(["report", "--out", str(target)], capsys)
    assert code == 0, err
    assert target.read_text().startswith("<!DOCTYPE html>") and "an earlier report" not in target.read_text()


def _collect_process(out: Path, flt: str, sighup: object) -> subprocess.Popen[bytes]:
    """`rightsize collect` as a shell starts it; ``sighup``: its SIGHUP disposition (SIG_IGN = nohup)."""

    def child() -> None:
        signal.signal(signal.SIGHUP, sighup)  # type: ignore[arg-type]

    return subprocess.Popen(
        [sys.executable, "-m", "rightsize", "collect", "--duration", "10m", "--interval", "0.5s",
         "--flush", "10m", "--filter", flt, "--out", str(out), "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=child,
    )  # fmt: skip


def _sampled(proc: subprocess.Popen[bytes], out: Path) -> None:
    """Until the run has sampled (its folder exists, then a few ticks), or it ended."""
    deadline = time.monotonic() + 60
    while not out.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2.5)


@pytest.mark.docker
@pytest.mark.slow
def test_collect_hangup_flushes_like_ctrl_c_and_nohup_keeps_running(
    run_container: Any, tmp_path: Path
) -> None:
    """A closed terminal or a dropped SSH session (SIGHUP) killed `collect` with its unflushed rows
    (up to a --flush interval, 60 s by default: here all of them). Now it ends as Ctrl-C does; under
    nohup (SIGHUP ignored) it keeps running."""
    c = run_container("sleep 600")
    flt = f"name={c.name}"
    out = tmp_path / "hup"
    proc = _collect_process(out, flt, signal.SIG_DFL)
    _sampled(proc, out)
    proc.send_signal(signal.SIGHUP)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, (proc.returncode, stderr)
    assert b"stopped early by signal" in stdout
    assert len(rightsize.load(out)) >= 2

    out = tmp_path / "nohup"
    proc = _collect_process(out, flt, signal.SIG_IGN)
    _sampled(proc, out)
    proc.send_signal(signal.SIGHUP)
    time.sleep(1.5)
    assert proc.poll() is None  # still running: nohup asked for that
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0 and b"stopped early by signal" in stdout, stderr
    assert len(rightsize.load(out)) >= 2


@pytest.mark.parametrize("setting", ["mem_floor=32", "mem_headroom_ref=96", "oom_bump_bytes=100.5"])
def test_a_size_setting_without_unit_is_one_error_line(
    setting: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--set mem_floor=32` was 32 bytes (the floor gone), meant as 32M; 0 and `32M`/`32B` still work."""
    code, out, err = run_cli(["recommend", "--set", setting], capsys)
    name, value = setting.split("=")
    assert code == 2 and out == "", err
    assert err.strip().splitlines()[-1] == (
        f"rightsize: error: setting {name} '{value}': a size without a unit; "
        f"write {value}M, {value}G or {value}B"
    )
    for fine in (f"{name}=0", f"{name}={value}M", f"{name}={value}B"):
        code, _, err = run_cli(["recommend", "--set", fine, "--format", "json"], capsys)
        assert code == 0, err


def test_top_level_help_lists_every_command_with_a_whole_summary(capsys: pytest.CaptureFixture[str]) -> None:
    """`rightsize --help` cut each command's summary at 45 characters ("Replay history: fit each
    strategy on a training window, score..."): a new user's first look."""
    code, out, _ = run_cli(["--help"], capsys)
    assert code == 0
    commands = out.split("Commands:")[1].strip().splitlines()
    names = [line.split()[0] for line in commands]
    assert names == ["collect", "recommend", "backtest", "import", "apply", "check", "report"]
    assert not any(line.rstrip().endswith("...") for line in commands), out


@pytest.mark.slow
def test_notebook_reads_a_relative_rightsize_data_from_where_jupyter_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`RIGHTSIZE_DATA=rightsize-data jupyter lab notebooks/explore.ipynb`: the kernel runs in
    notebooks/, so the relative path was looked for there ("no dataset at rightsize-data")."""
    import shutil

    import nbformat
    from nbclient import NotebookClient

    launched, kernel_dir = tmp_path / "project", tmp_path / "project" / "notebooks"
    kernel_dir.mkdir(parents=True)
    shutil.copytree(rightsize.sample_path(), launched / "rightsize-data")
    monkeypatch.setenv("PWD", str(launched))  # what the shell that started jupyter exports
    monkeypatch.setenv("RIGHTSIZE_DATA", "rightsize-data")
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # where its last cell writes the report
    notebook = Path(__file__).resolve().parents[1] / "notebooks" / "explore.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(kernel_dir)}}
    ).execute()
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert "95,051 samples of 10 workloads" in outputs[0].get("text", "")


@pytest.mark.docker
def test_live_names_a_project_container_the_data_has_no_workload_for(
    run_container: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """`apply --live --project demo` where the data holds no demo/* workload printed "0 changed,
    0 skipped (unchanged)": the project's running containers are now skipped, saying why."""
    from rightsize import sample_path

    project = f"rsj{time.time_ns() % 10**8}"
    labels = {"com.docker.compose.project": project, "com.docker.compose.service": "web"}
    c = run_container("sleep 600", labels=labels)
    args = ["apply", "--live", "--project", project, "--data", str(sample_path()), "--format", "json"]
    code, out, err = run_cli(args, capsys)
    assert code == 0, err
    skipped = json.loads(out)["results"][0]["skipped"]
    assert [(s["target"], s["workload"], s["reason"]) for s in skipped] == [
        (c.name, f"{project}/web", f"the data has no workload {project}/web")
    ]
