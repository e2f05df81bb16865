"""Many hosts, one dataset root: files are named by host and never clash; recommend pools replicas.

Three angles, all with real writers: two real ``rightsize collect`` processes sampling two replicas
of one compose service at once into one root (one Docker engine here, so both report its name as
the host: the collector takes the host from the engine, it has no option to override it); two
processes appending as two different hosts through the store; and a pull from a real Prometheus
whose replicas ran on two nodes.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from prom_fixtures import Cluster, PrometheusServer

from rightsize import store
from rightsize.analysis.recommend import recommend
from rightsize.sources.prometheus import pull


def _rows_by_file(root: Path) -> dict[Path, Any]:
    return {f: pq.read_table(f).to_pandas() for f in store.list_files(root)}


@pytest.mark.docker
@pytest.mark.slow
def test_two_collect_processes_write_one_root_and_pool(
    run_container: Any, docker_client: Any, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:6]
    labels = {"com.docker.compose.project": f"mh{tag}", "com.docker.compose.service": "web"}
    busy = "while true; do dd if=/dev/zero of=/dev/null bs=64k count=200 2>/dev/null; sleep 0.3; done"
    for i in (1, 2):
        run_container(busy, name=f"mh-{tag}-r{i}", labels=labels, mem_limit="64m")
    root = tmp_path / "shared"
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "rightsize", "collect", "--source", "docker",
             "--filter", f"name=mh-{tag}-r{i}", "--duration", "8s", "--interval", "1s", "--flush", "2s",
             "--out", str(root), "-q"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for i in (1, 2)
    ]
    outputs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outputs]
    written = [int(m.group(1)) for out, _ in outputs if (m := re.search(r"written: (\d+) files", out))]
    by_file = _rows_by_file(root)
    events = store.list_files(root, "events")
    assert len(by_file) + len(events) == sum(written)  # every flush of both processes: its own files
    assert len(by_file) >= 2
    for frame in by_file.values():  # no file mixes the two writers
        assert frame["container"].nunique() == 1
    host = docker_client.info()["Name"]
    assert all(f.name.startswith(f"{store.safe_host(host)}-") for f in by_file)
    samples = store.load(root)
    assert set(samples["container"]) == {f"mh-{tag}-r1", f"mh-{tag}-r2"}
    recs = [r for r in recommend(root) if r.resource == "memory"]
    assert [r.workload for r in recs] == [f"mh{tag}/web"]  # both replicas: one workload
    assert recs[0].samples == len(samples)


_WRITER = textwrap.dedent(
    """
    import sys
    import pandas as pd
    from rightsize import store
    root, host, offset = sys.argv[1], sys.argv[2], int(sys.argv[3])
    t0 = pd.Timestamp("2026-03-01T22:55:00Z")
    for flush in range(12):  # a collector flushing every 10 minutes, across midnight
        rows = [
            {"ts": t0 + pd.Timedelta(minutes=10 * flush + m), "host": host, "workload": "shop/api",
             "container_id": f"{host}-api-1", "container": "shop-api-1",
             "mem_working_set": (offset + flush * 10 + m) * 2**20, "cpu_cores": 0.1, "pids": 5}
            for m in range(10)
        ]
        store.append(root, store.to_table(rows), "samples", host=host)
    """
)


@pytest.mark.slow
def test_two_hosts_append_concurrently_without_clashing(tmp_path: Path) -> None:
    root = tmp_path / "nfs-share"
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(root), host, str(offset)],
                         stderr=subprocess.PIPE)
        for host, offset in (("docker-a", 100), ("docker-b", 400))
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0], [p.stderr.read() for p in procs if p.stderr]
    by_file = _rows_by_file(root)
    # 12 flushes x 2 hosts, and the flush spanning midnight splits into one file per date
    assert len(by_file) == 2 * 13
    assert {f.parent.name for f in by_file} == {"date=2026-03-01", "date=2026-03-02"}
    for f, frame in by_file.items():
        m = re.fullmatch(r"(.+)-(\d{13})-[0-9a-f]{8}\.parquet", f.name)  # <host>-<first ts ms>-<random>
        assert m and set(frame["host"]) == {m.group(1)}
        assert int(m.group(2)) == frame["ts"].min().value // 10**6
    samples = store.load(root)
    assert samples.groupby("host").size().to_dict() == {"docker-a": 120, "docker-b": 120}
    (mem,) = [r for r in recommend(root) if r.resource == "memory"]
    assert mem.workload == "shop/api" and mem.samples == 240
    assert mem.observed.max == (400 + 119) * 2**20 and mem.observed.p50 is not None
    assert 100 * 2**20 < mem.observed.p50 < (400 + 119) * 2**20  # pooled across hosts, not one host


@pytest.mark.prometheus
def test_pull_names_files_by_node_and_pools_replicas(
    prom_cluster: tuple[Cluster, PrometheusServer], tmp_path: Path
) -> None:
    cluster, server = prom_cluster
    summary = pull(server.url, tmp_path, 86400, 120, ["shop"], quiet=True, now=cluster.end)
    assert set(summary.hosts) == {"node-a", "node-b"}
    by_file = _rows_by_file(tmp_path)
    for f, frame in by_file.items():
        (host,) = set(frame["host"])
        assert f.name.startswith(f"{host}-")
    assert {h for frame in by_file.values() for h in frame["host"]} == {"node-a", "node-b"}
    recs = {(r.workload, r.resource): r for r in recommend(tmp_path)}
    web = recs[("shop/Deployment/web/nginx", "memory")]
    assert web.samples == 2 * (86400 // 120 + 1)  # the replica on node-a and the one on node-b
