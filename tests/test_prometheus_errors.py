"""Bad input, credentials, retries and TLS of the Prometheus source, through the CLI where the
user meets them, against real servers (Prometheus, an HTML page, a flaky/auth/TLS front)."""

from __future__ import annotations

import re
import subprocess
import sys
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from prom_cli import collect_args as _collect
from prom_cli import run as _cli
from prom_cli import serve as _serve
from prom_fixtures import Cluster, PrometheusServer, free_port

from rightsize import store

WEB = "shop/Deployment/web/nginx"
DB = "shop/StatefulSet/db/postgres"
WORKER = "batch/Deployment/worker/worker"


# ------------------------------------------------------------------------------ bad input, CLI


@pytest.mark.prometheus
def test_cli_pulls_into_the_dataset(
    prom_cluster: tuple[Cluster, PrometheusServer], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, server = prom_cluster
    code, out, err = _cli(_collect(server.url, tmp_path, "--since", "1d", "--step", "5m"), capsys)
    assert code == 0, err
    assert out.startswith("pulled ") and "4 containers (3 workloads, 2 namespaces, 2 nodes)" in out
    assert set(store.load(tmp_path)["workload"]) == {WEB, DB, WORKER}
    # one namespace: its counts are singular ("1 namespaces, 1 nodes" before)
    batch = _collect(server.url, tmp_path / "b", "--since", "1d", "--namespace", "batch")
    code, out, err = _cli(batch, capsys)
    assert code == 0, err
    assert "events of 1 container (1 workload, 1 namespace, 1 node)" in out


def test_cli_unreachable_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = _cli(_collect(f"http://127.0.0.1:{free_port()}", tmp_path), capsys)
    assert code == 2 and err.count("\n") == 1 and "cannot reach Prometheus at http://127.0.0.1:" in err
    assert err.rstrip().endswith(": Connection refused")
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--since", "1000000d"], "--since 1000000d reaches back before 1970"),  # was hours of queries
        (["--since", "99999999999999d"], "reaches back before 1970"),  # was "Value too large ..."
        (["--since", "1.5s"], "--since must be at least one step (1m), got 1.5s"),
        (["--step", "1ms"], "--step must be at least 1s, got 0.001s"),
    ],
)
def test_cli_durations_out_of_range_fail_before_any_query(
    extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = _cli(_collect(f"http://127.0.0.1:{free_port()}", tmp_path, *extra), capsys)
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert not any(tmp_path.iterdir())


class _Recorder(BaseHTTPRequestHandler):
    """Answers nothing useful; only counts that someone asked (a refused pull must not ask)."""

    paths: list[str] = []  # noqa: RUF012 - reset per test, one test at a time

    def do_GET(self) -> None:
        self.paths.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--since", "3650d", "--step", "1s"],  # was hours of pulling, 315 M points per series
         "--since 3650d at --step 1s is 315,360,001 points per series (at most 1,000,000): "
         "use a larger --step (6m) or a shorter --since (11d)"),
        (["--since", "1000000s", "--step", "1s"],  # one point over the bound
         "1,000,001 points per series (at most 1,000,000)"),
        (["--since", "400d", "--step", "15s"],
         "--since 400d at --step 15s is 2,304,001 points per series (at most 1,000,000): "
         "use a larger --step (35s) or a shorter --since (173d)"),
    ],
)
def test_cli_a_pull_too_big_is_refused_before_any_query(
    extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _Recorder.paths = []
    for url in _serve(_Recorder):  # reachable: the refusal, not a connection error, must stop it
        code, _out, err = _cli(_collect(url, tmp_path, *extra), capsys)
        assert code == 2 and err.count("\n") == 1, err
        assert err.startswith("rightsize: error: ") and message in err, err
        assert _Recorder.paths == [] and not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    "extra",
    [
        ["--since", "90d", "--step", "15s"],  # 518,401 points per series: long retention, usual scrape
        ["--since", "365d", "--step", "1m"],  # 525,601
        ["--since", "999999s", "--step", "1s"],  # exactly 1,000,000
    ],
)
def test_cli_big_but_sensible_pulls_are_not_refused(
    extra: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _Recorder.paths = []
    for url in _serve(_Recorder):
        code, _out, err = _cli(_collect(url, tmp_path, *extra), capsys)
        # past the size check, on to the server (which is no Prometheus here)
        assert code == 2 and "is not a Prometheus HTTP API" in err and "points per series" not in err, err
        assert _Recorder.paths[0] == "/api/v1/status/buildinfo"


@pytest.mark.prometheus
def test_a_password_in_the_url_is_never_printed(
    prom_cluster: tuple[Cluster, PrometheusServer], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, server = prom_cluster
    with_password = server.url.replace("http://", "http://bob:s3cret@")
    code, out, err = _cli(_collect(with_password, tmp_path / "a", "--since", "1h"), capsys)
    assert code == 0 and f"from {server.url}:" in out and "s3cret" not in out + err
    code, out, err = _cli(_collect(with_password, tmp_path / "b", "--namespace", "nope"), capsys)
    assert code == 2 and f"Prometheus at {server.url} has no container series" in err and "s3cret" not in err
    unreachable = f"http://bob:s3cret@127.0.0.1:{free_port()}"
    code, out, err = _cli(_collect(unreachable, tmp_path / "c"), capsys)
    assert code == 2 and "cannot reach Prometheus at http://127.0.0.1:" in err and "s3cret" not in err


class _Html(BaseHTTPRequestHandler):
    status, kind = 200, "text/html; charset=utf-8"
    body = b"<!doctype html><html><body>Grafana login</body></html>"

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.send_header("Content-Type", self.kind)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


def test_cli_not_a_prometheus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for url in _serve(_Html):
        code, _, err = _cli(_collect(url, tmp_path), capsys)
        assert code == 2 and err.count("\n") == 1
        assert "is not a Prometheus HTTP API" in err and "text/html" in err


class _NotFound(_Html):
    """Some other web server: 404 for every path, no redirect."""

    status, kind, body = 404, "text/plain; charset=utf-8", b"404 page not found\n"


def test_a_browser_url_with_no_server_answering_says_what_a_base_url_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # (with a Prometheus that answers: test_prometheus_url.py)
    for root in _serve(_NotFound):
        code, _, err = _cli(_collect(f"{root}/prometheus/graph?g0.expr=up", tmp_path), capsys)
        assert code == 2 and err.count("\n") == 1, err
        assert f"--url must be the server's base URL (e.g. {root}/prometheus), with the path prefix" in err
        # a bare host that is no Prometheus: nothing to suggest, no base-URL advice
        code, _, err = _cli(_collect(root, tmp_path), capsys)
        assert code == 2 and "is not a Prometheus HTTP API" in err and "base URL" not in err, err
    assert not any(tmp_path.iterdir())


@pytest.mark.prometheus
def test_cli_prometheus_without_any_samples(
    empty_prometheus: PrometheusServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _cli(_collect(empty_prometheus.url, tmp_path, "--since", "1h"), capsys)
    assert code == 2 and err.count("\n") == 1 and "has no samples at all" in err


@pytest.mark.prometheus
def test_cli_prometheus_without_cadvisor(
    ksm_only_prometheus: tuple[Cluster, PrometheusServer], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, server = ksm_only_prometheus
    code, _, err = _cli(_collect(server.url, tmp_path, "--since", "1d"), capsys)
    assert code == 2 and err.count("\n") == 1
    assert "no container_memory_working_set_bytes (memory use, so memory recommendations)" in err
    assert "no container_cpu_usage_seconds_total (CPU use, so CPU recommendations)" in err
    assert "scrape the kubelet's /metrics/cadvisor" in err and not any(tmp_path.iterdir())


@pytest.mark.prometheus
def test_cli_without_kube_state_metrics_warns_and_names_workloads_from_pods(
    cadvisor_only_prometheus: tuple[Cluster, PrometheusServer],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, server = cadvisor_only_prometheus
    code, out, err = _cli(_collect(server.url, tmp_path, "--since", "1d"), capsys)
    assert code == 0 and out.startswith("pulled ")
    (warning,) = err.splitlines()
    assert warning.startswith("rightsize: warning: Prometheus has no kube_pod_container_resource_limits")
    assert "current limits" in warning and "restarts" in warning
    df = store.load(tmp_path)
    assert set(df["workload"]) == {WEB, WORKER, DB}  # owners guessed from the pod names
    assert df["restarts"].isna().all() and df["mem_reservation"].isna().all()
    # limits from the cgroup as cAdvisor reports it (0 = none) instead of kube-state-metrics
    limits = df.groupby("workload")[["mem_limit", "cpu_limit"]].max()
    assert limits.loc[WEB].tolist() == [512 * 2**20, 1.0] and limits.loc[DB, "mem_limit"] == 2**30
    assert limits.loc[WORKER].isna().all() and np.isnan(limits.loc[DB, "cpu_limit"])
    assert set(df["host"]) == {"node-a", "node-b"}  # from cAdvisor's instance label


@pytest.mark.prometheus
def test_cli_unwritable_out(
    prom_cluster: tuple[Cluster, PrometheusServer], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, server = prom_cluster
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, _, err = _cli(_collect(server.url, blocker / "data", "--since", "1h"), capsys)
    assert code == 2 and err.count("\n") == 1 and f"cannot write to --out {blocker / 'data'}" in err


@pytest.mark.prometheus
def test_queries_too_big_for_the_server_are_split_else_explained(
    strict_prometheus: tuple[Cluster, PrometheusServer, int],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cluster, server, max_samples = strict_prometheus
    code, out, err = _cli(_collect(server.url, tmp_path, "--since", "6h", "--step", "1m"), capsys)
    if max_samples == 2:  # not even one step fits: one line that says how to ask for less
        assert code == 2 and err.count("\n") == 1 and "rejected /api/v1/query_range" in err
        assert "too many samples" in err and "a larger --step" in err and not any(tmp_path.iterdir())
        return
    assert code == 0, err
    queries = int(re.search(r"(\d+) queries", out).group(1))  # type: ignore[union-attr]
    assert queries > 2 * 14 + 7  # halves of halves of the refused ranges
    df = store.load(tmp_path)
    web = next(p for p in cluster.pods if p.pod.startswith("web-"))
    rows = df[df["container_id"] == f"shop/{web.pod}/nginx"]
    ts = ((rows["ts"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)).to_numpy()
    assert len(rows) == 361 and np.all(np.diff(ts) == 60)  # every step once, none twice
    seen = ts <= cluster.end  # later steps repeat the last sample (Prometheus's lookback)
    np.testing.assert_array_equal(rows["mem_working_set"].to_numpy()[seen], web.working_set(ts[seen]))


@pytest.mark.prometheus
@pytest.mark.parametrize("strict_prometheus", [2], indirect=True, ids=["max-samples-2"])
def test_a_pull_that_fails_halfway_leaves_not_even_the_out_folder(
    strict_prometheus: tuple[Cluster, PrometheusServer, int],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, server, _ = strict_prometheus  # it refuses every range query, after all the checks passed
    out = tmp_path / "new" / "data"
    code, _, err = _cli(_collect(server.url, out, "--since", "6h", "--step", "1m"), capsys)
    assert code == 2 and "rejected /api/v1/query_range" in err
    assert not out.exists()  # an empty folder was left behind; parents it made stay (empty)


@pytest.mark.prometheus
def test_cli_empty_namespace(
    prom_cluster: tuple[Cluster, PrometheusServer], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, server = prom_cluster
    code, _, err = _cli(_collect(server.url, tmp_path, "--since", "1d", "--namespace", "ghost"), capsys)
    assert code == 2 and err.count("\n") == 1 and "no container series in namespace(s) ghost" in err


@pytest.mark.prometheus
def test_sigterm_halfway_through_a_pull_leaves_no_staging_folder(
    prom_cluster: tuple[Cluster, PrometheusServer], tmp_path: Path
) -> None:
    import signal
    import time

    _, server = prom_cluster
    (tmp_path / "samples").mkdir()  # an existing dataset folder: it must stay, without any .pull-*
    pull = _collect(server.url, tmp_path, "--since", "3d", "--step", "1s")
    proc = subprocess.Popen([sys.executable, "-m", "rightsize", *pull], stderr=subprocess.PIPE)
    try:
        while proc.poll() is None and not list(tmp_path.glob(".pull-*")):
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)  # timeout(1), systemd, a Kubernetes Job's deadline
        proc.wait(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode not in (0, -signal.SIGTERM)  # it was still pulling, and unwound
    assert sorted(p.name for p in tmp_path.iterdir()) == ["samples"]


def test_cli_bad_step_through_a_subprocess(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "rightsize", *_collect("http://127.0.0.1:9", tmp_path, "--step", "0s")],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 2 and proc.stderr.startswith("rightsize: error:") and "step" in proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
