"""Bugs found by pulling a K3s cluster's history from a real Prometheus as a new user (session 9):
how the server answers and how it labels what it stores (query timeouts, scrape timestamps off the
grid, kube-state-metrics under exported_namespace, cAdvisor through the apiserver proxy, a cluster
switched off, native sidecars). Servers are real Prometheus over promtool-backfilled K3s series
(tests/prom_fixtures.py); the one proxy answers as Prometheus does when its query timeout runs out.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from prom_cli import collect_args, forward, run, serve
from prom_fixtures import Cluster, MiB, Pod, PrometheusServer, backfill, small_cluster, write_openmetrics

from rightsize import store
from rightsize.sources.prometheus import PrometheusWarning, pull

pytestmark = pytest.mark.prometheus


def _recommend(data: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> list[dict[str, Any]]:
    code, out, err = run(["recommend", "--data", str(data), "--format", "json", *extra], capsys)
    assert code == 0, err
    return list(json.loads(out))


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
        forward(self, self.upstream)

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


def test_a_native_sidecar_has_its_current_limits(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, capsys: Any
) -> None:
    # a native sidecar (an init container with restartPolicy: Always, Kubernetes 1.29+) runs beside
    # the app, but kube-state-metrics reports its resources as kube_pod_init_container_resource_*:
    # only kube_pod_container_resource_* was read, so the sidecar had no current limits
    work = tmp_path_factory.mktemp("sidecar")
    end = int(time.time()) // 60 * 60 - 120
    own = ("ReplicaSet", "backend-6b7f9c8d5")
    app, shipper = (
        Pod("sutazai", "backend-6b7f9c8d5-x2x4q", name, "k3s-node1", image, own, base, 20 * MiB, 0.2, 0.1, 8,
            seed, mem_limit=limit, mem_request=limit // 2, cpu_limit=cpu, cpu_request=cpu / 4)
        for name, image, base, limit, cpu, seed in (
            ("backend", "reg/backend:2", 600 * MiB, 2048 * MiB, 2.0, 1),
            ("log-shipper", "docker.io/fluent/fluent-bit:3.0", 40 * MiB, 128 * MiB, 0.2, 2),
        )
    )  # fmt: skip
    write_openmetrics(Cluster(end - 2 * 3600, end, (app, shipper)), work / "om")
    for f in (work / "om").glob("*.om"):  # the sidecar's resource series under the init family
        lines = f.read_text().splitlines(keepends=True)
        moved = [x.startswith("kube_pod_container_resource_") and '"log-shipper"' in x for x in lines]
        init = [x.replace("kube_pod_", "kube_pod_init_", 1) for x, m in zip(lines, moved, strict=True) if m]
        rest = [x for x, m in zip(lines, moved, strict=True) if not m]
        tail = [f"# TYPE {fam} gauge\n" + "".join(x for x in init if x.startswith(fam + "{"))
                for fam in sorted({x.split("{", 1)[0] for x in init})]  # fmt: skip
        f.write_text("".join(rest[:-1]) + "".join(tail) + rest[-1])  # before "# EOF"
    backfill(work / "om", work / "tsdb")
    with PrometheusServer(work / "tsdb") as server:
        pull(server.url, tmp_path / "d", 2 * 3600, 60, quiet=True, now=end)
    recs = _recommend(tmp_path / "d", capsys, "--workload", "*/log-shipper")
    current = {r["resource"]: r["current"] for r in recs}
    assert current["memory"] == {"reservation": 64 * MiB, "limit": 128 * MiB}
    assert current["cpu"] == {"reservation": 0.05, "limit": 0.2}


def test_pulling_another_namespace_into_the_same_root_is_no_overlap(
    prom_cluster: tuple[Cluster, PrometheusServer], tmp_path: Path
) -> None:
    # the overlap check compared node names and days only: a second pull of other namespaces (other
    # containers, nothing counted twice) into the same --out warned "count those samples twice"
    cluster, server = prom_cluster
    out = tmp_path / "d"
    pull(server.url, out, 6 * 3600, 300, ["batch"], quiet=True, now=cluster.end)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", "--since .+ samples per container")  # too few: said (s10)
        pull(server.url, out, 6 * 3600, 300, ["shop"], quiet=True, now=cluster.end)
        # ... nor is the next six hours of the same containers
        pull(server.url, out, 6 * 3600 - 300, 300, ["shop"], quiet=True, now=cluster.end - 6 * 3600 - 300)
    with pytest.warns(PrometheusWarning, match="count those samples twice"):  # the same hours again
        pull(server.url, out, 3600, 300, ["shop"], quiet=True, now=cluster.end)


def test_a_cluster_switched_off_hours_ago_keeps_its_spikes_and_warns_nothing(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    # the scrape interval was estimated from the hour before the pull's end only: with no samples
    # there (a homelab cluster off since last night) it fell back to 60 s, so at --step 1m the
    # 15 s scrapes were read one a minute again, and a spike between two minute marks was lost
    work = tmp_path_factory.mktemp("off")
    end = int(time.time()) // 60 * 60 - 3 * 3600
    pod = Pod("shop", "db-0", "postgres", "k3s-node1", "docker.io/library/postgres:16", ("StatefulSet", "db"),
              300 * MiB, 50 * MiB, 0.1, 0.1, 10, 5, mem_limit=1024 * MiB, mem_request=512 * MiB,
              cpu_request=0.1)  # fmt: skip
    write_openmetrics(Cluster(end - 3 * 3600, end, (pod,)), work / "om", scrape=15)
    spike_at = end - 3600 + 30
    for f in (work / "om").glob("*.om"):
        f.write_text(re.sub(rf"^(container_memory_working_set_bytes\{{.*\}}) \S+ {spike_at}$",
                            rf"\1 {float(900 * MiB)!r} {spike_at}", f.read_text(), flags=re.M))  # fmt: skip
    backfill(work / "om", work / "tsdb")
    with PrometheusServer(work / "tsdb") as server, warnings.catch_warnings():
        # and no container has a CPU limit: cAdvisor exports no CFS counters, and the pull warned
        # that the dataset "will lack CPU throttling", of which there was none
        warnings.simplefilter("error")
        pull(server.url, tmp_path, 8 * 3600, 60, quiet=True, now=end + 3 * 3600)
    assert store.load(tmp_path, columns=["mem_working_set"])["mem_working_set"].max() == 900 * MiB
