"""Bugs found by pulling a K3s cluster's history from a real Prometheus as a new user (session 9).

The cluster is the K3s shape of tests/prom_fixtures.py (cAdvisor + kube-state-metrics series,
backfilled with promtool), scraped every 15 s as kube-prometheus-stack does: a StatefulSet pod of
the plan's PostgreSQL with one short working-set spike between two minute marks, and an hourly
CronJob in a namespace kube-state-metrics does not watch (its ``--namespaces`` allow-list).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from prom_cli import collect_args, run, serve
from prom_fixtures import Cluster, MiB, Pod, PrometheusServer, backfill, small_cluster, write_openmetrics

from rightsize import store
from rightsize.sources.prometheus import PrometheusWarning, pull

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


class _SlowServer(BaseHTTPRequestHandler):
    """In front of the real Prometheus: a range query of more than ``limit`` steps gets the answer
    Prometheus gives when its --query.timeout runs out (recorded from prometheus 2.42 with
    --query.timeout=1ms: HTTP 503, application/json), as a small K3s server does for wide ranges."""

    upstream = ""
    limit = 200
    refused: list[str] = []  # noqa: RUF012 - one test at a time
    lock = threading.Lock()
    TIMEOUT = b'{"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"}'

    def do_GET(self) -> None:
        from urllib.parse import parse_qs, urlsplit

        import requests

        q = parse_qs(urlsplit(self.path).query)
        if self.path.startswith("/api/v1/query_range"):
            steps = (float(q["end"][0]) - float(q["start"][0])) / float(q["step"][0]) + 1
            if steps > self.limit:
                with self.lock:
                    self.refused.append(q["query"][0])
                self.send_response(503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(self.TIMEOUT)))
                self.end_headers()
                self.wfile.write(self.TIMEOUT)
                return
        r = requests.get(self.upstream + self.path, timeout=60)
        self.send_response(r.status_code)
        self.send_header("Content-Type", r.headers.get("Content-Type", "application/json"))
        self.send_header("Content-Length", str(len(r.content)))
        self.end_headers()
        self.wfile.write(r.content)

    def log_message(self, *args: Any) -> None:
        pass


def test_a_query_the_server_timed_out_is_split_at_once_not_retried(
    prom_cluster: tuple[Cluster, PrometheusServer], tmp_path: Path
) -> None:
    # a server-side query timeout came back as HTTP 503, which was retried 4 times (0.5+1+2+4 s of
    # backoff, and on a real slow server 4 more full query timeouts) before the range was split
    cluster, server = prom_cluster
    _SlowServer.upstream, _SlowServer.refused = server.url, []
    direct = pull(server.url, tmp_path / "direct", 6 * 3600, 60, ["batch"], quiet=True, now=cluster.end)
    for url in serve(_SlowServer):
        split = pull(url, tmp_path / "split", 6 * 3600, 60, ["batch"], quiet=True, now=cluster.end)
    assert _SlowServer.refused and split.retries == 0
    assert split.queries == direct.queries + 2 * len(_SlowServer.refused)  # each refused one: 2 halves
    cols = ["ts", "container_id", "mem_working_set", "cpu_cores", "pids", "mem_limit"]
    a = store.load(tmp_path / "direct", columns=cols).sort_values(["container_id", "ts"], ignore_index=True)
    b = store.load(tmp_path / "split", columns=cols).sort_values(["container_id", "ts"], ignore_index=True)
    assert len(a) == 361 and a.equals(b)


@pytest.fixture(scope="module")
def jittered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, PrometheusServer]]:
    """The small cluster scraped every 60 s as a real scrape loop stamps it, a few ms off the grid:
    every other scrape 4 ms late, the one at the end and an hour before it on time."""
    work = tmp_path_factory.mktemp("jitter")
    cluster = small_cluster(days=0.1)
    write_openmetrics(cluster, work / "om")
    for f in (work / "om").glob("*.om"):
        lines = f.read_text().splitlines(keepends=True)
        for i, line in enumerate(lines):
            if line.startswith("container_"):
                head, ts = line.rsplit(" ", 1)
                late = (cluster.end - int(ts)) // 60 % 2
                lines[i] = f"{head} {int(ts) + 0.004 * late:.3f}\n"
        f.write_text("".join(lines))
    backfill(work / "om", work / "tsdb")
    with PrometheusServer(work / "tsdb") as server:
        yield cluster, server


def test_a_step_as_long_as_the_scrape_interval_has_no_gaps(
    jittered: tuple[Cluster, PrometheusServer], tmp_path: Path
) -> None:
    # the spike fix first took any step longer than the estimated interval (61 samples in the last
    # hour: 59 s, for 60 s scrapes) as max_over_time over 59.999 s, a window that a scrape 4 ms
    # late misses: every other row was lost
    cluster, server = jittered
    pull(server.url, tmp_path, 2 * 3600, 60, ["batch"], quiet=True, now=cluster.end)
    ts = store.load(tmp_path, columns=["ts"])["ts"].to_numpy()
    assert len(ts) == 121 and (np.diff(ts) == np.timedelta64(60, "s")).all()


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    """The small cluster with kube-state-metrics scraped as a plain annotated service endpoint whose
    job sets ``namespace`` (honor_labels false): Prometheus stores the exporter's label as
    ``exported_namespace`` and the exporter's own namespace as ``namespace``."""
    import re

    work = tmp_path_factory.mktemp("exported")
    write_openmetrics(small_cluster(days=0.1), work / "om")
    for f in (work / "om").glob("*.om"):
        moved = r'\1{exported_namespace="\2",namespace="kube-system"'
        f.write_text(re.sub(r'^(kube_\w+)\{namespace="([^"]*)"', moved, f.read_text(), flags=re.M))
    backfill(work / "om", work / "tsdb")
    with PrometheusServer(work / "tsdb") as server:
        yield server


def test_kube_state_metrics_under_exported_namespace_is_said(
    exported: PrometheusServer, tmp_path: Path, capsys: Any
) -> None:
    # every kube-state-metrics query asks for namespace="shop": none matched, and the pull went on
    # without current limits, restarts or owners, silently
    for extra in ((), ("--namespace", "shop")):
        code, out, err = run(collect_args(exported.url, tmp_path / "d", "--since", "2h", *extra), capsys)
        assert code == 0 and out.startswith("pulled ")
        assert err.count("\n") == 1 and "exported_namespace" in err and "honor_labels: true" in err
        assert store.load(tmp_path / "d")["mem_limit"].isna().all()  # what the warning says is lost
        shutil.rmtree(tmp_path / "d")


def test_nodes_behind_the_apiserver_proxy_keep_their_names(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    # cAdvisor scraped through the apiserver (/api/v1/nodes/<node>/proxy/metrics/cadvisor, with the
    # labelmap of node labels) has one instance for every node: without kube-state-metrics all
    # containers were put on one host "kubernetes.default.svc"
    import re

    work = tmp_path_factory.mktemp("proxied")
    cluster = small_cluster(days=0.1)
    write_openmetrics(cluster, work / "om", keep="container_")
    proxied = r'instance="kubernetes.default.svc:443",kubernetes_io_hostname="\1"'
    for f in (work / "om").glob("*.om"):
        f.write_text(re.sub(r'instance="([^":]+):10250"', proxied, f.read_text()))
    backfill(work / "om", work / "tsdb")
    with PrometheusServer(work / "tsdb") as server, pytest.warns(PrometheusWarning, match="limits"):
        summary = pull(server.url, tmp_path, 2 * 3600, 60, quiet=True, now=cluster.end)
    assert set(summary.hosts) == {"node-a", "node-b"}
    rows = store.load(tmp_path, columns=["container_id", "host"]).drop_duplicates()
    assert {(r.container_id, r.host) for r in rows.itertuples()} == {
        (f"{p.namespace}/{p.pod}/{p.container}", p.node) for p in cluster.pods
    }


def test_current_limits_survive_a_last_step_without_kube_state_metrics(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, capsys: Any
) -> None:
    # a cluster switched off (a homelab K3s, Prometheus with it: no staleness markers) and pulled
    # later: cAdvisor's last scrape (every 60 s) reaches one step further than kube-state-metrics'
    # (every 120 s, the last a minute earlier), so the newest row had no limits, and recommend,
    # which takes a workload's current values from its newest row, said "current: none" for all
    work = tmp_path_factory.mktemp("switched-off")
    cluster = small_cluster(days=145 / 1440)  # 145 minutes: the last KSM scrape is a minute early
    write_openmetrics(cluster, work / "om")
    backfill(work / "om", work / "tsdb")
    with PrometheusServer(work / "tsdb") as server:
        pull(server.url, tmp_path / "d", 3 * 3600, 60, ["shop"], quiet=True, now=cluster.end + 300)
    rows = store.load(tmp_path / "d", columns=["ts", "workload", "mem_limit"])
    assert rows["mem_limit"].notna().all()  # a pod's resources hold for its life
    recs = _recommend(tmp_path / "d", capsys, "--workload", "shop/Deployment/*")
    web = {r["resource"]: r["current"] for r in recs}
    assert web["memory"] == {"reservation": 256 * MiB, "limit": 512 * MiB}
    assert web["cpu"] == {"reservation": 0.25, "limit": 1.0}
