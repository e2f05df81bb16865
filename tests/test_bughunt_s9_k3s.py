"""Bugs found by pulling a K3s cluster's history from a real Prometheus as a new user (session 9).

The cluster is the K3s shape of tests/prom_fixtures.py (cAdvisor + kube-state-metrics series,
backfilled with promtool), scraped every 15 s (kube-prometheus-stack: 30 s): a StatefulSet pod of
the plan's PostgreSQL with one short working-set spike between two minute marks, and an hourly
CronJob in a namespace kube-state-metrics does not watch (its ``--namespaces`` allow-list).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from prom_cli import collect_args, run
from prom_fixtures import Cluster, MiB, Pod, PrometheusServer, backfill, small_cluster, write_openmetrics

from rightsize import store

pytestmark = pytest.mark.prometheus

DB = "sutazai/StatefulSet/sutazai-postgresql/postgresql"
BACKUP = "batch/CronJob/backup/backup"
SPIKE = 1400 * MiB  # one 15 s scrape, below the 1.5Gi limit
HOURS = 6
# bcrypt (cost 4, cheap for the server) of "s3cret", as Prometheus's --web.config.file takes it
HASH = "$2b$04$B1yEb9Sn3ZZomOqO7lL1g.b9BFF0DBnAE7UEGniauD2Z7gCofRxuW"


def _k3s(end: int) -> tuple[Cluster, list[Cluster]]:
    start = end - HOURS * 3600
    db = Pod("sutazai", "sutazai-postgresql-0", "postgresql", "k3s-node1", "docker.io/bitnami/postgresql:16",
             ("StatefulSet", "sutazai-postgresql"), 400 * MiB, 200 * MiB, 0.3, 0.4, 20, 11,
             mem_limit=1536 * MiB, mem_request=512 * MiB, cpu_limit=1.5, cpu_request=0.5)  # fmt: skip
    runs = [  # a Job backup-<minutes> per hour, its pod backup-<minutes>-<5 generated characters>
        Cluster(t, t + 1200, (Pod("batch", f"backup-{t // 60}-{'bcdfghjk'[i]}x7q2", "backup", "k3s-node2",
                                  "registry.local/backup:1", ("Job", f"backup-{t // 60}"), 50 * MiB, 20 * MiB,
                                  0.2, 0.1, 4, 40 + i, mem_limit=256 * MiB),))
        for i, t in enumerate(range(start, end - 1200, 3600))
    ]  # fmt: skip
    return Cluster(start, end, (db,)), runs


def _drop_as_kube_prometheus_stack(folder: Path) -> None:
    """Leave out what kube-prometheus-stack's default cAdvisorMetricRelabelings drop (the regexes
    'container_(file_descriptors|tasks_state|threads_max)' and 'container_spec.*')."""
    dropped = ("container_threads_max", "container_spec_")
    for f in folder.glob("*.om"):
        lines = f.read_text().splitlines(keepends=True)
        f.write_text("".join(x for x in lines if not x.removeprefix("# TYPE ").startswith(dropped)))


@pytest.fixture(scope="module")
def k3s(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, Path, Any]]:
    """The cluster in a real Prometheus, pulled once through ``python -m rightsize collect``."""
    work = tmp_path_factory.mktemp("k3s")
    main, runs = _k3s(int(time.time()) // 60 * 60 - 120)
    write_openmetrics(main, work / "om-main", scrape=15)
    spike_at = main.start + 3 * 3600 + 15  # between two minute marks
    for f in (work / "om-main").glob("*.om"):
        lines = f.read_text().splitlines(keepends=True)
        for i, line in enumerate(lines):
            if line.startswith("container_memory_working_set_bytes{") and line.endswith(f" {spike_at}\n"):
                lines[i] = line.rsplit(" ", 2)[0] + f" {float(SPIKE)!r} {spike_at}\n"
        f.write_text("".join(lines))
    for i, run_ in enumerate(runs):  # cAdvisor only: kube-state-metrics does not watch "batch"
        write_openmetrics(run_, work / f"om-run{i}", scrape=15, keep="container_")
    for folder in sorted(work.glob("om-*")):
        _drop_as_kube_prometheus_stack(folder)
        backfill(folder, work / "tsdb")
    with PrometheusServer(work / "tsdb") as server:
        out = work / "data"
        proc = subprocess.run(
            [sys.executable, "-m", "rightsize", *collect_args(server.url, out, "--since", f"{HOURS + 1}h")],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        yield main, out, proc


def _recommend(data: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> list[dict[str, Any]]:
    code, out, err = run(["recommend", "--data", str(data), "--format", "json", *extra], capsys)
    assert code == 0, err
    return list(json.loads(out))


def test_a_spike_between_two_steps_is_pulled(k3s: tuple[Cluster, Path, Any], capsys: Any) -> None:
    # at --step 1m over 15 s scrapes a range query took the one sample at each minute mark: the
    # three scrapes between (a 1400 MiB spike among them) never reached the dataset, and the
    # memory limit was fitted below a peak the container really had
    _, out, _ = k3s
    rows = store.load(out, columns=["ts", "workload", "mem_working_set"])
    db = rows[rows["workload"] == DB]
    assert db["mem_working_set"].max() == SPIKE
    assert (np.diff(db["ts"].to_numpy()) == np.timedelta64(60, "s")).all()  # one row a step, no gaps
    memory = next(r for r in _recommend(out, capsys, "--workload", DB) if r["resource"] == "memory")
    assert memory["observed"]["max"] == SPIKE and memory["recommended"]["limit"] >= SPIKE


def test_cronjob_runs_without_kube_state_metrics_are_one_workload(
    k3s: tuple[Cluster, Path, Any], capsys: Any
) -> None:
    # read from the pod names, each run (backup-29412360-bx7q2) was its own "DaemonSet
    # backup-29412360" of 20 minutes: six workloads, none with enough history to recommend
    _, out, _ = k3s
    workloads = set(store.load(out, columns=["workload"])["workload"])
    assert workloads == {DB, BACKUP}
    memory = next(r for r in _recommend(out, capsys, "--workload", BACKUP) if r["resource"] == "memory")
    assert memory["recommended"] is not None and memory["samples"] >= 100


def test_a_standard_kube_prometheus_stack_pull_warns_nothing(k3s: tuple[Cluster, Path, Any]) -> None:
    # kube-state-metrics exports kube_pod_container_status_last_terminated_reason only for a
    # container that has terminated before: on a healthy cluster every pull warned that the
    # dataset "will lack OOM kills", and the summary listed it as a missing metric. And
    # kube-prometheus-stack drops container_threads_max: every pull warned of "current PID limits",
    # which Kubernetes does not set on a container (apply never writes one)
    _, _, proc = k3s
    assert proc.stderr == ""
    assert proc.stdout.startswith("pulled ") and "missing metrics" not in proc.stdout


def test_a_typo_in_the_namespace_is_one_error_line(
    cadvisor_only_prometheus: tuple[Cluster, PrometheusServer], tmp_path: Path, capsys: Any
) -> None:
    # without kube-state-metrics the missing-metrics warning came first, then the error
    _, server = cadvisor_only_prometheus
    typo = collect_args(server.url, tmp_path / "d", "--since", "6h", "--namespace", "shpo")
    code, out, err = run(typo, capsys)
    assert code == 2 and out == "" and not (tmp_path / "d").exists()
    assert err.splitlines() == [err.strip()] and err.startswith("rightsize: error: ") and "shpo" in err
    # a pull that works still says what the dataset lacks
    code, out, err = run([*typo[:-1], "shop"], capsys)
    assert code == 0 and "kube_pod_container_resource_limits" in err


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    """A small cluster in a Prometheus behind basic auth (admin / s3cret) under /prometheus."""
    work = tmp_path_factory.mktemp("guarded")
    write_openmetrics(small_cluster(days=0.1), work / "om")
    backfill(work / "om", work / "tsdb")
    (work / "web.yml").write_text(f"basic_auth_users:\n  admin: {HASH}\n")
    args = (f"--web.config.file={work / 'web.yml'}", "--web.route-prefix=/prometheus")
    with PrometheusServer(work / "tsdb", args, prefix="/prometheus", auth=("admin", "s3cret")) as server:
        yield server


def test_refused_credentials_are_named_not_asked_for(
    guarded: PrometheusServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    # a wrong password was answered "set RIGHTSIZE_PROM_TOKEN ... or RIGHTSIZE_PROM_USER/..._PASSWORD":
    # the user had set them
    monkeypatch.setenv("RIGHTSIZE_PROM_USER", "admin")
    monkeypatch.setenv("RIGHTSIZE_PROM_PASSWORD", "wrong")
    code, _, err = run(collect_args(guarded.url, tmp_path / "d", "--since", "2h"), capsys)
    assert code == 2 and err.count("\n") == 1 and "refused the credentials given (HTTP 401)" in err
    assert "check RIGHTSIZE_PROM_USER/RIGHTSIZE_PROM_PASSWORD" in err and "wrong" not in err
    monkeypatch.delenv("RIGHTSIZE_PROM_USER")
    monkeypatch.delenv("RIGHTSIZE_PROM_PASSWORD")
    host = guarded.url.split("//", 1)[1]
    code, _, err = run(collect_args(f"http://admin:nope@{host}", tmp_path / "d", "--since", "2h"), capsys)
    assert code == 2 and "check the user:password in --url" in err and "nope" not in err
    code, _, err = run(collect_args(guarded.url, tmp_path / "d", "--since", "2h"), capsys)  # none given
    assert code == 2 and "refused access (HTTP 401): set RIGHTSIZE_PROM_TOKEN" in err
    code, out, err = run(collect_args(f"http://admin:s3cret@{host}", tmp_path / "d", "--since", "2h"), capsys)
    assert code == 0 and "4 containers" in out and "s3cret" not in out + err


@pytest.mark.browser
@pytest.mark.slow
def test_the_report_draws_the_spike_in_chromium(k3s: tuple[Cluster, Path, Any], tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright
    from test_report_browser import CHROMIUM, FLAGS

    from rightsize.report.html import report

    _, out, _ = k3s
    page_file = report(out, out=tmp_path / "k3s.html")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            page = browser.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.goto(page_file.as_uri(), wait_until="load")
            page.evaluate("window.rightsizeRenderAll()")
            page.wait_for_function(
                "() => Array.from(document.querySelectorAll('div.plot'))"
                ".every(d => d.querySelector('.main-svg') !== null)"
            )
            tops = page.evaluate(
                """() => Object.fromEntries(Array.from(document.querySelectorAll('section.workload'))
                   .map(s => {
                     const gd = s.querySelector('div.plot.usage');
                     return [s.querySelector('h3').textContent, Math.max(...gd.data
                       .filter(t => t.yaxis === 'y' && t.name.startsWith('used')).map(t => Array.from(t.y))
                       .flat().filter(Number.isFinite))];
                   }))"""
            )
        finally:
            browser.close()
    assert problems == []
    assert tops[DB] == float(np.float32(SPIKE / 2**20)) and set(tops) == {DB, BACKUP}
