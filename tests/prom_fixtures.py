"""A seeded K3s-like history (cAdvisor + kube-state-metrics) backfilled into a real Prometheus.

``write_openmetrics`` writes the series the kubelet's cAdvisor and kube-state-metrics expose for a
small cluster; ``backfill`` turns the file into TSDB blocks with ``promtool tsdb
create-blocks-from openmetrics``; ``PrometheusServer`` runs Debian's ``prometheus`` on a free
loopback port over those blocks. The ``Cluster``/``Pod`` records hold the truth the tests compare
the pulled dataset against (``working_set(t)``, ``cpu_counter(t)``).
Used by tests/test_prometheus.py, tests/test_many_hosts.py and benchmarks/prometheus_pull.py.
"""

from __future__ import annotations

import math
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import requests

MiB = 1024**2
DAY = 86400
BLOCK = 7200  # promtool cuts 2-hour blocks


@dataclass(frozen=True)
class Pod:
    """One container of one pod and the shape of its usage (all deterministic from ``seed``)."""

    namespace: str
    pod: str
    container: str
    node: str
    image: str
    owner: tuple[str, str] | None  # kube_pod_owner (kind, name); None: no owner series at all
    mem_base: float  # bytes
    mem_amp: float  # daily swing on top of the base, bytes
    cpu_base: float  # cores
    cpu_amp: float
    threads: int
    seed: int
    mem_limit: float | None = None
    mem_request: float | None = None
    cpu_limit: float | None = None
    cpu_request: float | None = None
    threads_max: int = 0  # 0 = unlimited, as cAdvisor reports it
    oom_restarts: tuple[float, ...] = ()  # seconds after the start: OOM-killed and restarted
    oom_inside: tuple[float, ...] = ()  # seconds after the start: a process OOM-killed, no restart

    def _noise(self, t: np.ndarray) -> np.ndarray:
        # a hash of (seed, t), so any timestamp has a fixed value whatever the grid
        x = np.sin((t.astype(np.float64) / 60.0 + 1.0) * (12.9898 + self.seed)) * 43758.5453
        return x - np.floor(x)

    def working_set(self, t: np.ndarray) -> np.ndarray:
        """Working-set bytes at unix seconds ``t`` (integers)."""
        daily = 0.5 + 0.5 * np.sin(2 * math.pi * (t % DAY) / DAY)
        return np.floor(self.mem_base + self.mem_amp * daily + 8 * MiB * self._noise(t)).astype(np.int64)

    def cpu_rate(self, t: np.ndarray) -> np.ndarray:
        """Mean cores over the minute ending at ``t``."""
        daily = 0.5 + 0.5 * np.sin(2 * math.pi * (t % DAY) / DAY + 1.0)
        return self.cpu_base + self.cpu_amp * daily * (0.5 + self._noise(t + 7))

    def cpu_counter(self, t: np.ndarray, t0: int) -> np.ndarray:
        """container_cpu_usage_seconds_total at minute marks t (from t0), the running sum of cpu_rate."""
        minutes = np.arange(t0, int(t.max()) + 60, 60)
        total = np.cumsum(self.cpu_rate(minutes) * 60.0) + 1000.0
        return total[((t - t0) // 60).astype(np.int64)]

    def restarts(self, t: np.ndarray, t0: int) -> np.ndarray:
        times = np.asarray([t0 + s for s in self.oom_restarts])
        return (t[:, None] >= times[None, :]).sum(axis=1) if len(times) else np.zeros(len(t), np.int64)


@dataclass(frozen=True)
class Cluster:
    start: int  # unix seconds, a multiple of 60
    end: int  # last sample, a multiple of 60
    pods: tuple[Pod, ...]
    replicasets: dict[str, tuple[str, str]] = field(default_factory=dict)  # ns/rs -> owner


def small_cluster(days: float = 3, end: int | None = None) -> Cluster:
    """Four containers in two namespaces on two nodes: a 2-replica Deployment, an OOM-killed
    StatefulSet, and a Deployment pod whose owner kube-state-metrics does not report."""
    end = (int(time.time()) // 60 * 60 - 120) if end is None else end
    start = end - int(days * DAY)
    oom_at = float((end - start) // 2 // 60 * 60)
    pods = (
        Pod("shop", "web-7d9c8b6f5-x2x4q", "nginx", "node-a", "docker.io/library/nginx:1.25",
            ("ReplicaSet", "web-7d9c8b6f5"), 200 * MiB, 100 * MiB, 0.2, 0.3, 12, 1,
            mem_limit=512 * MiB, mem_request=256 * MiB, cpu_limit=1.0, cpu_request=0.25),
        Pod("shop", "web-7d9c8b6f5-b5n8k", "nginx", "node-b", "docker.io/library/nginx:1.25",
            ("ReplicaSet", "web-7d9c8b6f5"), 260 * MiB, 120 * MiB, 0.3, 0.4, 14, 2,
            mem_limit=512 * MiB, mem_request=256 * MiB, cpu_limit=1.0, cpu_request=0.25),
        Pod("shop", "db-0", "postgres", "node-a", "docker.io/library/postgres:16",
            ("StatefulSet", "db"), 700 * MiB, 200 * MiB, 0.5, 0.5, 30, 3,
            mem_limit=1024 * MiB, mem_request=1024 * MiB, threads_max=200, oom_restarts=(oom_at,)),
        Pod("batch", "worker-5f6d7c8b9-q7w2z", "worker", "node-b", "registry.local/worker:3",
            None, 100 * MiB, 50 * MiB, 0.05, 0.1, 4, 4, oom_inside=(oom_at + 3600,)),
    )
    return Cluster(start, end, pods, {"shop/web-7d9c8b6f5": ("Deployment", "web")})


def big_cluster(containers: int, days: float, namespaces: int = 10, nodes: int = 5, end: int | None = None,
                seed: int = 7) -> Cluster:
    """``containers`` Deployment pods (3 replicas each) spread over namespaces and nodes (benchmark)."""
    end = (int(time.time()) // 60 * 60 - 120) if end is None else end
    rng = np.random.default_rng(seed)
    safe = list("bcdfghjklmnpqrstvwxz2456789")
    pods, replicasets = [], {}
    for i in range(containers):
        ns, svc = f"team{i // 3 % namespaces}", f"svc{i // 3}"
        rs = f"{svc}-{''.join(rng.choice(safe, 9))}"
        replicasets[f"{ns}/{rs}"] = ("Deployment", svc)
        pod = f"{rs}-{''.join(rng.choice(safe, 5))}"
        pods.append(Pod(ns, pod, "app", f"node-{i % nodes}", f"registry.local/{svc}:1", ("ReplicaSet", rs),
                        float(rng.integers(50, 2000)) * MiB, float(rng.integers(10, 500)) * MiB,
                        float(rng.uniform(0.01, 1)), float(rng.uniform(0.01, 1)), int(rng.integers(1, 64)),
                        i, mem_limit=4096 * MiB, mem_request=1024 * MiB))
    return Cluster(end - int(days * DAY), end, tuple(pods), replicasets)


def _labels(**kw: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in kw.items()) + "}"


def write_openmetrics(
    cluster: Cluster, path: Path, scrape: int = 60, ksm_every: int = 120, lean: bool = False,
    keep: str = "",
) -> int:
    """Write the cluster's history as OpenMetrics files in the folder ``path``; -> samples written.

    ``lean`` leaves out the families that only some kubelets export (peak memory, thread limits,
    OOM events, CFS throttling), to keep a large backfill affordable. ``keep`` = a name prefix:
    only those families (``container_``: cAdvisor alone, ``kube_``: kube-state-metrics alone).
    """
    t = np.arange(cluster.start, cluster.end + 1, scrape, dtype=np.int64)
    tk = np.arange(cluster.start, cluster.end + 1, ksm_every, dtype=np.int64)
    families: dict[str, tuple[str, list[tuple[str, np.ndarray, np.ndarray]]]] = {}

    optional = {"container_memory_max_usage_bytes", "container_threads_max", "container_oom_events_total",
                "container_cpu_cfs_periods_total", "container_cpu_cfs_throttled_periods_total",
                "container_spec_memory_limit_bytes", "container_spec_cpu_quota", "container_spec_cpu_period"}

    def add(name: str, kind: str, labels: str, ts: np.ndarray, values: np.ndarray) -> None:
        if (lean and name in optional) or not name.startswith(keep):
            return
        families.setdefault(name, (kind, []))[1].append((labels, ts, values))

    for p in cluster.pods:
        cad = _labels(container=p.container, id=f"/kubepods/pod-{p.pod}/{p.container}", image=p.image,
                      name=f"k8s_{p.container}_{p.pod}", namespace=p.namespace, pod=p.pod,
                      instance=f"{p.node}:10250")
        ws = p.working_set(t)
        add("container_memory_working_set_bytes", "gauge", cad, t, ws)
        add("container_memory_rss", "gauge", cad, t, (ws * 0.8).astype(np.int64))
        add("container_memory_max_usage_bytes", "gauge", cad, t, np.maximum.accumulate(ws) + 4 * MiB)
        add("container_cpu_usage_seconds_total", "counter", cad, t, p.cpu_counter(t, cluster.start))
        add("container_threads", "gauge", cad, t, p.threads + (t // 3600 % 3))
        add("container_threads_max", "gauge", cad, t, np.full(len(t), p.threads_max))
        ooms = (t[:, None] >= np.asarray([cluster.start + s for s in p.oom_inside] or [2**62])).sum(axis=1)
        add("container_oom_events_total", "counter", cad, t, ooms)
        add("container_spec_memory_limit_bytes", "gauge", cad, t, np.full(len(t), p.mem_limit or 0))
        if p.cpu_limit:  # cAdvisor exports a quota only where one is set
            add("container_spec_cpu_quota", "gauge", cad, t, np.full(len(t), p.cpu_limit * 100_000))
            add("container_spec_cpu_period", "gauge", cad, t, np.full(len(t), 100_000.0))
        if p.cpu_limit:
            periods = (t - cluster.start) * 10.0  # 100 ms CFS periods
            add("container_cpu_cfs_periods_total", "counter", cad, t, periods)
            add("container_cpu_cfs_throttled_periods_total", "counter", cad, t, periods * 0.1)
        if p.pod.startswith("web-") and p.node == "node-a":  # the pod cgroup and the pause container
            for container in ("", "POD"):
                pause = _labels(container=container, namespace=p.namespace, pod=p.pod)
                add("container_memory_working_set_bytes", "gauge", pause, t, ws * 3)
        ksm = {"namespace": p.namespace, "pod": p.pod}
        add("kube_pod_info", "gauge", _labels(**ksm, node=p.node, host_ip="10.0.0.1", uid=p.pod),
            tk, np.ones(len(tk)))
        if p.owner:
            own = _labels(**ksm, owner_kind=p.owner[0], owner_name=p.owner[1], owner_is_controller="true")
            add("kube_pod_owner", "gauge", own, tk, np.ones(len(tk)))
        for metric, resource, value, unit in (
            ("kube_pod_container_resource_limits", "memory", p.mem_limit, "byte"),
            ("kube_pod_container_resource_requests", "memory", p.mem_request, "byte"),
            ("kube_pod_container_resource_limits", "cpu", p.cpu_limit, "core"),
            ("kube_pod_container_resource_requests", "cpu", p.cpu_request, "core"),
        ):
            if value is not None:
                lab = _labels(**ksm, container=p.container, node=p.node, resource=resource, unit=unit)
                add(metric, "gauge", lab, tk, np.full(len(tk), value))
        add("kube_pod_container_status_restarts_total", "counter",
            _labels(**ksm, container=p.container), tk, p.restarts(tk, cluster.start))
        if p.oom_restarts:
            first = cluster.start + min(p.oom_restarts)
            tr = tk[tk >= first]
            add("kube_pod_container_status_last_terminated_reason", "gauge",
                _labels(**ksm, container=p.container, reason="OOMKilled"), tr, np.ones(len(tr)))
    for key, (kind, name) in cluster.replicasets.items():
        ns, rs = key.split("/")
        lab = _labels(namespace=ns, replicaset=rs, owner_kind=kind, owner_name=name,
                      owner_is_controller="true")
        add("kube_replicaset_owner", "gauge", lab, tk, np.ones(len(tk)))

    # One file per 2-hour block: promtool re-reads its whole input for every block it cuts, so
    # one file of many days costs (days x 12) passes; per-block files cost one pass in total.
    lines = 0
    path.mkdir(parents=True, exist_ok=True)
    for block in range(cluster.start // BLOCK, cluster.end // BLOCK + 1):
        lo, hi = block * BLOCK, (block + 1) * BLOCK
        with open(path / f"block-{block}.om", "w") as fh:
            for name, (kind, series) in families.items():
                fh.write(f"# TYPE {name} {kind}\n")
                for labels, ts, values in series:
                    a, b = np.searchsorted(ts, [lo, hi])
                    fh.writelines(
                        f"{name}{labels} {float(v)!r} {int(t)}\n"
                        for t, v in zip(ts[a:b], values[a:b], strict=True)
                    )
                    lines += int(b - a)
            fh.write("# EOF\n")
    return lines


def backfill(openmetrics: Path, data_dir: Path) -> None:
    """``promtool tsdb create-blocks-from openmetrics FILE DIR`` for each file in the folder
    ``openmetrics`` (raises with promtool's stderr)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    for f in sorted(openmetrics.glob("*.om")):
        proc = subprocess.run(
            ["promtool", "tsdb", "create-blocks-from", "openmetrics", "-q", str(f), str(data_dir)],
            capture_output=True, text=True, check=False,
        )
        if proc.returncode:
            raise RuntimeError(f"promtool failed on {f.name}: {proc.stderr.strip()[-2000:]}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrometheusServer:
    """``prometheus`` over a TSDB folder on 127.0.0.1:<free port>; stopped (only this process) on exit."""

    def __init__(
        self, data_dir: Path, extra_args: tuple[str, ...] = (), prefix: str = "",
        auth: tuple[str, str] | None = None,
    ) -> None:
        """``prefix``: the path the server is served under (its --web.route-prefix); ``auth``: the
        basic-auth pair its --web.config.file asks for (its readiness check needs it too)."""
        self.data_dir = Path(data_dir).resolve()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}{prefix}"
        self.auth = auth
        self.extra_args = extra_args
        self._proc: subprocess.Popen[bytes] | None = None
        self._workdir = Path(tempfile.mkdtemp(prefix="rs-prom-cfg-"))

    def __enter__(self) -> PrometheusServer:
        config = self._workdir / "prometheus.yml"
        config.write_text("global:\n  scrape_interval: 1m\nscrape_configs: []\n")
        self._log = open(self._workdir / "prometheus.log", "wb")
        self._proc = subprocess.Popen(
            [
                "prometheus", f"--storage.tsdb.path={self.data_dir}", f"--config.file={config}",
                f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=3650d",
                *self.extra_args,
            ],
            stdout=self._log, stderr=subprocess.STDOUT, cwd=self._workdir,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"prometheus exited: {self.log()[-2000:]}")
            try:
                if requests.get(f"{self.url}/-/ready", timeout=2, auth=self.auth).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"prometheus not ready after 60s: {self.log()[-2000:]}")

    def log(self) -> str:
        return (self._workdir / "prometheus.log").read_text(errors="replace")

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if getattr(self, "_log", None):
            self._log.close()
        shutil.rmtree(self._workdir, ignore_errors=True)


def serve_cluster(
    cluster: Cluster, workdir: Path, keep: str = "", extra_args: tuple[str, ...] = ()
) -> Iterator[PrometheusServer]:
    """Backfill ``cluster`` into ``workdir/tsdb`` and yield a running server over it."""
    om = workdir / "openmetrics"
    write_openmetrics(cluster, om, keep=keep)
    backfill(om, workdir / "tsdb")
    shutil.rmtree(om)
    with PrometheusServer(workdir / "tsdb", extra_args) as server:
        yield server


def moved_pod(pod: Pod, start: int, moved: int, end: int, node: str) -> tuple[Cluster, Cluster]:
    """``pod`` on its node from ``start`` to ``moved`` (its last sample there), then re-created under
    its own name on ``node`` from the next minute to ``end`` (a rescheduled StatefulSet pod)."""
    return Cluster(start, moved, (pod,)), Cluster(moved + 60, end, (replace(pod, node=node),))


def serve_parts(parts: Iterable[tuple[Cluster, str]], workdir: Path) -> Iterator[PrometheusServer]:
    """Backfill each (cluster, ``keep`` of ``write_openmetrics``) part into one TSDB
    ``workdir/tsdb`` and yield a running server over the history they make together."""
    for i, (part, keep) in enumerate(parts):
        write_openmetrics(part, workdir / f"om{i}", keep=keep)
        backfill(workdir / f"om{i}", workdir / "tsdb")
    with PrometheusServer(workdir / "tsdb") as server:
        yield server


# ------------------------------------------------------------------------------- pytest fixtures
# Loaded as a plugin (``pytest_plugins = ["prom_fixtures"]``) by the test modules that need it, so
# one backfilled server serves them all.

try:
    import pytest
except ImportError:  # the benchmark imports this module without pytest
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture(scope="session")
    def prom_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, PrometheusServer]]:
        """Three days of a small K3s cluster in a real Prometheus (backfilled with promtool)."""
        missing = [b for b in ("prometheus", "promtool") if not shutil.which(b)]
        if missing:
            if os.environ.get("RIGHTSIZE_SKIP_PROMETHEUS") == "1" and not os.environ.get("CI"):
                pytest.skip(f"missing {', '.join(missing)}")
            pytest.fail(f"missing {', '.join(missing)} (run scripts/test-env.sh)")
        cluster = small_cluster(days=3)
        for server in serve_cluster(cluster, tmp_path_factory.mktemp("prom")):
            yield cluster, server

    @pytest.fixture(scope="session")
    def empty_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
        """A real Prometheus without any data (it scrapes nothing)."""
        with PrometheusServer(tmp_path_factory.mktemp("prom-empty")) as server:
            yield server

    @pytest.fixture(scope="session")
    def cadvisor_only_prometheus(
        tmp_path_factory: pytest.TempPathFactory,
    ) -> Iterator[tuple[Cluster, PrometheusServer]]:
        """Six hours of the small cluster's cAdvisor series, without kube-state-metrics."""
        cluster = small_cluster(days=0.25)
        for server in serve_cluster(cluster, tmp_path_factory.mktemp("prom-cadvisor"), keep="container_"):
            yield cluster, server

    @pytest.fixture(scope="session")
    def ksm_only_prometheus(
        tmp_path_factory: pytest.TempPathFactory,
    ) -> Iterator[tuple[Cluster, PrometheusServer]]:
        """Six hours of the small cluster's kube-state-metrics series, without cAdvisor."""
        cluster = small_cluster(days=0.25)
        for server in serve_cluster(cluster, tmp_path_factory.mktemp("prom-ksm"), keep="kube_"):
            yield cluster, server

    @pytest.fixture(scope="session", params=[500, 2], ids=["max-samples-500", "max-samples-2"])
    def strict_prometheus(
        request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[tuple[Cluster, PrometheusServer, int]]:
        """Six hours of the small cluster in a server that refuses queries touching more samples
        than the parameter (500: whole namespaces over hours are refused; 2: even one step is)."""
        cluster = small_cluster(days=0.25)
        for server in serve_cluster(cluster, tmp_path_factory.mktemp("prom-strict"),
                                    extra_args=(f"--query.max-samples={request.param}",)):
            yield cluster, server, request.param
