"""Bugs found by using every README command as an operator would, on small inputs made for it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import run_cli as run

from rightsize import store

M = 2**20


def _dataset(root: Path, workloads: list[str], n: int = 1000, **columns: object) -> Path:
    """``n`` samples 10 s apart per workload (2.8 h: enough history), 512 MiB / 1 CPU limits."""
    ts = pd.Timestamp("2026-11-20", tz="UTC") + pd.to_timedelta(np.arange(n) * 10, unit="s")
    rng = np.random.default_rng(7)
    frames = []
    for i, w in enumerate(workloads):
        cols = {
            "ts": ts, "host": "h", "workload": w, "container_id": f"id{i}", "container": f"c{i}",
            "image": "img", "cpu_cores": rng.uniform(0.1, 0.3, n),
            "mem_working_set": (200 * M + rng.integers(0, 8 * M, n)).astype("int64"), "pids": 10,
            "mem_limit": 512 * M, "cpu_limit": 1.0, "oom_kills": 0, "restarts": 0, **columns,
        }  # fmt: skip
        frames.append(pd.DataFrame(cols))
    store.append(root, store.to_table(pd.concat(frames, ignore_index=True)))
    return root


def test_recommend_compose_gives_a_named_projects_values_to_its_own_workloads_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # One host runs two stacks with a service named web. `recommend -f shop/compose.yml` showed the
    # shop file's limits as blog/web's current ones too (and blog's CPU limit as unset), where apply
    # and check match project/service.
    data = _dataset(tmp_path / "d", ["shop/web", "blog/web"])
    compose = tmp_path / "compose.yml"
    compose.write_text("name: shop\nservices:\n  web:\n    image: x\n    mem_limit: 1g\n")
    code, out, err = run(["recommend", "--data", str(data), "-f", str(compose), "--format", "json"], capsys)
    assert code == 0, err
    cur = {(r["workload"], r["resource"]): r["current"] for r in json.loads(out)}
    assert cur[("shop/web", "memory")]["limit"] == 1024 * M  # the file's
    assert cur[("shop/web", "cpu")]["limit"] is None  # the file sets none
    assert cur[("blog/web", "memory")]["limit"] == 512 * M  # what blog's containers ran with
    assert cur[("blog/web", "cpu")]["limit"] == 1.0


def test_recommend_compose_without_a_project_leaves_an_ambiguous_service_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # without `name:` a service web matches */web only when one project has it (as apply and check)
    data = _dataset(tmp_path / "d", ["shop/web", "blog/web", "shop/db"])
    compose = tmp_path / "compose.yml"
    compose.write_text(
        "services:\n  web:\n    image: x\n    mem_limit: 1g\n  db:\n    image: x\n    mem_limit: 2g\n"
    )
    code, out, err = run(["recommend", "--data", str(data), "-f", str(compose), "--format", "json"], capsys)
    assert code == 0, err
    cur = {(r["workload"], r["resource"]): r["current"] for r in json.loads(out)}
    assert cur[("shop/db", "memory")]["limit"] == 2048 * M
    assert cur[("shop/web", "memory")]["limit"] == 512 * M
    assert cur[("blog/web", "memory")]["limit"] == 512 * M
    assert "rightsize: warning: compose service web matches blog/web, shop/web" in err


@pytest.mark.parametrize(("column", "resource"), [("cpu_cores", "cpu"), ("pids", "pids")])
def test_a_resource_with_too_few_samples_of_its_own_gets_no_recommendation(
    column: str, resource: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 1000 memory samples over 2.8 h, but only 5 CPU (or PID) readings: the CPU limit was a p99 of
    # 5 values, where "under 100 samples" gives no recommendation for a short history
    n = 1000
    values = np.full(n, np.nan)
    values[:5] = [0.2, 0.1, 0.5, 0.1, 0.2] if column == "cpu_cores" else [10, 11, 12, 10, 10]
    data = _dataset(tmp_path / "d", ["shop/web"], n=n, **{column: values})
    code, out, err = run(["recommend", "--data", str(data), "--format", "json"], capsys)
    assert code == 0, err
    recs = {r["resource"]: r for r in json.loads(out)}
    sparse = recs.pop(resource)
    assert sparse["samples"] == 5 and sparse["recommended"] is None
    assert sparse["reasons"] == [f"too few {resource} samples: 5 of {n} (needs >= 100)"]
    assert all(r["recommended"] is not None for r in recs.values())  # the others are unchanged
    code, out, _ = run(["recommend", "--data", str(data), "--set", "min_samples=5"], capsys)
    assert code == 0 and "too few" not in out  # the same setting lowers both


def test_helm_a_sidecar_does_not_take_the_main_containers_resources(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Deployment shop-web runs containers web and exporter; both names lead to the key `web` (one by
    # its container name, one by its release-prefixed Deployment name). The exporter came first in
    # name order and its numbers were written into web.resources; web itself was skipped.
    web, exporter = "shop/Deployment/shop-web/web", "shop/Deployment/shop-web/exporter"
    frame = pd.concat([
        pd.read_parquet(_dataset(tmp_path / "a", [web]) / "samples"),
        pd.read_parquet(_dataset(tmp_path / "b", [exporter]) / "samples").assign(
            mem_working_set=lambda f: f["mem_working_set"] // 8),
    ])  # fmt: skip
    data = tmp_path / "d"
    store.append(data, store.to_table(frame.drop(columns="date", errors="ignore")))
    values = tmp_path / "values.yaml"
    values.write_text("web:\n  resources:\n    limits: {memory: 1Gi}\n  sidecars:\n    - name: exporter\n")
    args = ["apply", "--helm", str(values), "--data", str(data), "--format", "json", "--dry-run"]
    code, out, err = run(args, capsys)
    assert code == 0, err
    changes = json.loads(out)["results"][0]["changes"]
    assert {c["workload"] for c in changes} == {web}
    assert next(c for c in changes if c["key"] == "web.resources.limits.memory")["new"] == "512Mi"
    (skip,) = [s for s in json.loads(out)["results"][0]["skipped"] if s["workload"] == exporter]
    assert "web.resources already holds " + web in skip["reason"]
    assert f"--map {exporter}=web.sidecars[name=exporter]" in skip["reason"]
    # the hint works: each container gets its own block
    code, out, err = run([*args, "--map", f"{exporter}=web.sidecars[name=exporter]"], capsys)
    assert code == 0, err
    changes = json.loads(out)["results"][0]["changes"]
    assert {c["workload"] for c in changes} == {web, exporter}
    assert {c["key"] for c in changes if c["workload"] == exporter} >= {
        "web.sidecars[name=exporter].resources.limits.memory"
    }


@pytest.mark.parametrize("cmd", ["recommend", "report"])
@pytest.mark.parametrize("since", ["6H", "10M", "3S", "2300-01-01", "06:00", "nan", "NaT", "now"])
def test_since_that_reads_as_no_date_is_one_error_line(
    cmd: str, since: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # "6H" (a duration in capitals) was parsed by pandas as 06:00 on 1 January of year 1, whose
    # nanoseconds overflow: an OverflowError traceback, exit 1 (as for a date past 2262)
    data = _dataset(tmp_path / "d", ["shop/web"])
    args = [cmd, "--data", str(data), "--since", since]
    args += ["--out", str(tmp_path / "r.html")] if cmd == "report" else []
    code, out, err = run(args, capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"rightsize: error: --since {since!r}"), err
    assert not (tmp_path / "r.html").exists()


def test_since_dates_as_people_write_them_still_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _dataset(tmp_path / "d", ["shop/web"])  # 2026-11-20 00:00:00 to 02:46:30
    cases = {"2026-11-20T01:00": 6390.0, "2026-11-20 01:00:00+00:00": 6390.0, "20 Nov 2026 01:00": 6390.0,
             "1600-01-01": 9990.0, "1h": 3600.0}  # fmt: skip
    for since, seconds in cases.items():
        code, out, err = run(["recommend", "--data", str(data), "--since", since, "--format", "json"], capsys)
        assert code == 0, (since, err)
        assert {r["history_seconds"] for r in json.loads(out)} == {seconds}, since


def _limit_file_size(limit: int) -> None:
    """In the child: files may grow to ``limit`` bytes; a write past it fails with EFBIG (the signal
    that would kill the process is ignored), as a full disk or a quota refuses one."""
    import resource
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_apply_to_several_files_changes_none_when_one_cannot_be_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # base.yml holds the limit, prod.yml the reservation. base.yml was replaced, then writing prod.yml
    # failed (a full disk): the stack was left half-applied, a lowered limit below the old reservation.
    import os
    import subprocess
    import sys

    from cli_helpers import sha

    base, prod = tmp_path / "base.yml", tmp_path / "prod.yml"
    base.write_text("name: sutazai\nservices:\n  postgres:\n    image: postgres\n    mem_limit: 2g\n")
    prod.write_text("# " + "x" * 3000 + "\nservices:\n  postgres:\n    mem_reservation: 1900m\n")
    before = sha(base), sha(prod)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = [sys.executable, "-m", "rightsize", "apply", "-f", str(base), "-f", str(prod), "--only", "memory"]
    done = subprocess.run(
        cmd, capture_output=True, text=True, env=env, preexec_fn=lambda: _limit_file_size(2000), check=False
    )
    assert done.returncode == 2, done.stderr
    assert (sha(base), sha(prod)) == before  # neither file changed
    assert done.stderr.splitlines()[-1].startswith(f"rightsize: error: {prod}: cannot write it"), done.stderr
    assert "Traceback" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.yml", "prod.yml"]  # no temporary file left
    # without the limit, both are written
    code, _, err = run(cmd[3:], capsys)
    assert code == 0, err
    assert "mem_limit: 1536m" in base.read_text() and "mem_reservation: 896m" in prod.read_text()


def test_apply_helm_that_cannot_be_written_names_the_file(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from cli_helpers import sha

    values = tmp_path / "values.yaml"
    values.write_text("# " + "x" * 3000 + "\nredis:\n  resources:\n    limits: {memory: 1Gi}\n")
    before = sha(values)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "rightsize", "apply", "--helm", str(values)],
        capture_output=True, text=True, env=env, preexec_fn=lambda: _limit_file_size(2000), check=False,
    )  # fmt: skip
    assert done.returncode == 2 and sha(values) == before, done.stderr
    want = f"rightsize: error: {values}: cannot write it: File too large; the file is unchanged"
    assert done.stderr.splitlines()[-1] == want
    assert sorted(p.name for p in tmp_path.iterdir()) == ["values.yaml"]


def test_backtest_train_no_longer_than_min_history_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # --train 1h: a window [s, s+1h) holds 59 min 50 s from its first sample to its last, under the
    # strategies' min_history (1h), so none was scored; the warning only said "(--set default.…)"
    data = _dataset(tmp_path / "d", ["shop/web"], n=2000)  # 5.6 h
    code, _, err = run(["backtest", "--data", str(data), "--train", "1h", "--test", "1h"], capsys)
    assert code == 0, err
    (line,) = [ln for ln in err.splitlines() if "no window scored" in ln]
    assert "a 1h training window spans less than their min_history (1h)" in line, line
    assert "--train longer than 1h, or --set default.min_history=" in line, line


@pytest.mark.parametrize("cmd", ["check", "apply"])
@pytest.mark.parametrize("swap", ["1e400", "1e400M"])
def test_a_swap_size_too_large_for_a_number_is_one_error_line(
    cmd: str, swap: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # parse_bytes multiplied into a float infinity and round() raised OverflowError: a traceback
    compose = tmp_path / "compose.yml"
    compose.write_text("name: sutazai\nservices:\n  redis:\n    image: r\n    mem_limit: 512m\n")
    code, out, err = run([cmd, "-f", str(compose), "--swap", swap], capsys)
    assert code == 2 and out == ""
    want = "expected a swap size such as 0 or 256M (leave --swap out to keep the swap as it is)"
    assert err == f"rightsize: error: --swap {swap!r}: {want}\n"


@pytest.mark.parametrize("cmd", ["check", "apply", "recommend"])
def test_a_yaml_tagged_pid_count_is_read_or_refused_in_one_line(
    cmd: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `pids_limit: !!str 1g` reached int() as ruamel's TaggedScalar: a TypeError traceback
    compose = tmp_path / "compose.yml"
    compose.write_text("name: sutazai\nservices:\n  redis:\n    image: r\n    pids_limit: !!str 1g\n")
    code, out, err = run([cmd, "-f", str(compose)], capsys)
    assert code == 2 and out == "", err
    want = f"rightsize: error: {compose}: services.redis.pids_limit: not a PID count"
    assert err.splitlines()[-1].startswith(want)
    compose.write_text("name: sutazai\nservices:\n  redis:\n    image: r\n    pids_limit: !!str 100\n")
    code, out, err = run([cmd, "-f", str(compose), "--format", "json"], capsys)  # a string, as YAML says
    assert code in (0, 1) and "error" not in err, err


@pytest.mark.parametrize("target", ["compose", "helm"])
def test_a_value_with_an_explicit_int_tag_is_one_error_line_and_nothing_written(
    target: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `mem_limit: !!int 5` got 192M spliced after its tag; re-reading `!!int 192M` raised ValueError
    from cli_helpers import sha

    if target == "compose":
        path = tmp_path / "compose.yml"
        path.write_text("name: sutazai\nservices:\n  redis:\n    image: r\n    mem_limit: !!int 536870912\n")
        args = ["apply", "-f", str(path)]
    else:
        path = tmp_path / "values.yaml"
        path.write_text("redis:\n  resources:\n    limits:\n      memory: !!int 536870912\n")
        args = ["apply", "--helm", str(path)]
    before = sha(path)
    code, _, err = run(args, capsys)
    assert code == 2 and sha(path) == before, err
    assert err.splitlines()[-1].startswith("rightsize: error: ") and "Traceback" not in err
    assert "!!int" in err.splitlines()[-1]
