"""A pod rescheduled under its own name where kube-state-metrics does not say where it ran
(session 10), against a real Prometheus (promtool-backfilled K3s series).

``db-0`` runs on node-a, then on node-b; only cAdvisor reports it (kube-state-metrics is not
scraped, or does not watch its namespace: here it reports another namespace only). Each node's
kubelet exports the containers it runs, so the series say which node held which steps. Before, the
pod's node was taken from the label sets alone: all its rows went to one node.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from prom_fixtures import Cluster, MiB, Pod, PrometheusServer, moved_pod, serve_parts

from rightsize import store
from rightsize.sources.prometheus import pull

pytestmark = pytest.mark.prometheus

HOURS = 3
DB = Pod("data", "db-0", "postgres", "node-a", "docker.io/library/postgres:16", ("StatefulSet", "db"),
         300 * MiB, 50 * MiB, 0.1, 0.1, 10, 5, mem_limit=1024 * MiB)  # fmt: skip
WEB = Pod("shop", "web-0", "nginx", "node-b", "docker.io/library/nginx:1.25", ("StatefulSet", "web"),
          100 * MiB, 20 * MiB, 0.1, 0.1, 4, 6, mem_limit=256 * MiB, mem_request=128 * MiB)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Shape:
    end: int
    moved: int  # db-0's last sample on node-a; from the next minute on it runs on node-b
    server: PrometheusServer


@pytest.fixture(scope="module")
def k3s(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shape]:
    work = tmp_path_factory.mktemp("nodes")
    end = int(time.time()) // 60 * 60 - 120
    start = end - HOURS * 3600
    moved = start + 90 * 60
    before, after = moved_pod(DB, start, moved, end, "node-b")
    # (cluster, families kept): db-0 in cAdvisor only, web-0 with kube-state-metrics too
    parts = [(before, "container_"), (after, "container_"), (Cluster(start, end, (WEB,)), "")]
    for server in serve_parts(parts, work):
        yield Shape(end, moved, server)


@pytest.mark.parametrize("namespaces", [["data"], None], ids=["data-only", "all"])
def test_a_moved_pod_without_kube_state_metrics_keeps_the_node_it_ran_on(
    k3s: Shape, tmp_path: Path, namespaces: list[str] | None
) -> None:
    summary = pull(k3s.server.url, tmp_path, HOURS * 3600, 60, namespaces, quiet=True, now=k3s.end)
    every = store.load(tmp_path, columns=["ts", "host", "container"])
    rows = every[every["container"] == "db-0/postgres"]
    before = rows["ts"] <= pd.Timestamp(k3s.moved, unit="s", tz="UTC")
    assert before.sum() > 60 and (~before).sum() > 60
    assert set(rows.loc[before, "host"]) == {"node-a"} and set(rows.loc[~before, "host"]) == {"node-b"}
    assert {"node-a", "node-b"} <= set(summary.hosts)
    if namespaces is None:  # web-0, which kube-state-metrics reports, stays on its node
        assert set(every.loc[every["container"] == "web-0/nginx", "host"]) == {"node-b"}

