"""CPU bursts shorter than the step (session 10), against a real Prometheus.

With ``--step`` much longer than the scrape interval, ``rate()`` over the step is the step's mean: a
10-minute burst at 2 cores read as ~0.4 cores in its hour, and the CPU percentiles under-read. The
pull now reads CPU as the highest 4-scrape rate within each step (a subquery), and keeps the plain
rate where the step is about the scrape interval.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from prom_cli import collect_args, run
from prom_fixtures import Cluster, MiB, Pod, PrometheusServer, backfill, write_openmetrics

from rightsize import store
from rightsize.sources import prometheus_windows
from rightsize.sources.prometheus import pull

pytestmark = pytest.mark.prometheus

HOURS = 6
BURST = 2.0  # cores on top of the pod's own use, for 10 minutes


@dataclass(frozen=True)
class BurstPod(Pod):
    """A pod whose CPU jumps by ``burst_cores`` for ``burst_for`` seconds after ``burst_at``."""

    burst_at: int = 0
    burst_for: int = 0
    burst_cores: float = 0.0

    def cpu_rate(self, t: np.ndarray) -> np.ndarray:
        inside = (t > self.burst_at) & (t <= self.burst_at + self.burst_for)
        return super().cpu_rate(t) + np.where(inside, self.burst_cores, 0.0)


def _cluster(end: int) -> Cluster:
    start = end - HOURS * 3600
    burst_at = start + 2 * 3600 + 1500  # 25 minutes into the third hour: inside one hour step
    pods = (
        BurstPod("shop", "report-0", "report", "node-a", "registry.local/report:1", ("StatefulSet", "report"),
                 100 * MiB, 20 * MiB, 0.05, 0.05, 4, 21, burst_at=burst_at, burst_for=600, burst_cores=BURST,
                 mem_limit=256 * MiB, mem_request=128 * MiB),
        Pod("shop", "api-0", "api", "node-b", "registry.local/api:1", ("StatefulSet", "api"),
            100 * MiB, 20 * MiB, 0.2, 0.2, 4, 22, mem_limit=256 * MiB, mem_request=128 * MiB),
    )  # fmt: skip
    return Cluster(start, end, pods)


@pytest.fixture(scope="module")
def bursty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, PrometheusServer]]:
    work = tmp_path_factory.mktemp("burst")
    cluster = _cluster(int(time.time()) // 3600 * 3600 - 3600)  # whole hours: every hour step is full
    write_openmetrics(cluster, work / "om")  # scraped every 60 s
    backfill(work / "om", work / "tsdb")
    with PrometheusServer(work / "tsdb") as server:
        yield cluster, server


def _cpu(root: Path, container: str) -> pd.Series:
    df = store.load(root, columns=["ts", "container", "cpu_cores"])
    return df[df["container"] == container].set_index("ts")["cpu_cores"].sort_index()


def test_a_burst_shorter_than_the_step_keeps_its_height(
    bursty: tuple[Cluster, PrometheusServer], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # before: the hour holding the burst read 0.1 + 2 x 10/60 = 0.43 cores (the hour's mean)
    cluster, server = bursty
    code, _, err = run(collect_args(server.url, tmp_path, "--since", f"{HOURS}h", "--step", "1h"), capsys)
    assert code == 0, err
    cpu = _cpu(tmp_path, "report-0/report")
    assert len(cpu) >= HOURS - 1
    assert cpu.max() >= BURST  # a 4-minute rate fully inside the burst: 2 cores + its own use
    assert (cpu >= 1.0).sum() == 1  # one hour holds the burst, the others read the pod's own use
    # the steady pod: per hour, the highest 4-minute rate, never above its highest minute
    pod = cluster.pods[1]
    t = np.arange(cluster.start, cluster.end + 1, 60)
    api = _cpu(tmp_path, "api-0/api")
    assert api.max() <= pod.cpu_rate(t).max() + 1e-9
    assert api.min() > pod.cpu_rate(t).mean() * 0.9  # a peak per hour: not below the day's mean


def test_a_step_about_the_scrape_interval_keeps_the_mean(
    bursty: tuple[Cluster, PrometheusServer], tmp_path: Path
) -> None:
    # at 2-minute steps with 60 s scrapes the rate is the plain one over 4 scrapes, as before: the
    # interval is estimated as 3600 / 61 = 59 s, so the window is 236 s, holding the samples of the
    # last 3 minutes, whose delta Prometheus extrapolates over the window: the mean of those minutes
    cluster, server = bursty
    pull(server.url, tmp_path, 3600, 120, ["shop"], quiet=True, now=cluster.end)
    api = _cpu(tmp_path, "api-0/api")
    pod = cluster.pods[1]
    for ts, value in api.items():
        end = int(pd.Timestamp(ts).timestamp())
        minutes = np.arange(end - 120, end + 1, 60)
        assert value == pytest.approx(pod.cpu_rate(minutes).mean(), rel=1e-6)


@pytest.mark.filterwarnings("ignore:--since 6h at --step 1h")  # too few samples: said, not the point here
def test_a_burst_query_split_in_time_reads_the_same(
    bursty: tuple[Cluster, PrometheusServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the burst subquery holds 60 inner points per hour step and series; past INNER_POINTS it is
    # asked in pieces of fewer steps (here 1 step: 2 series x 60 > 100), with the same rows
    cluster, server = bursty
    whole = pull(server.url, tmp_path / "whole", HOURS * 3600, 3600, ["shop"], quiet=True, now=cluster.end)
    monkeypatch.setattr(prometheus_windows, "INNER_POINTS", 100)
    split = pull(server.url, tmp_path / "split", HOURS * 3600, 3600, ["shop"], quiet=True, now=cluster.end)
    assert split.queries == whole.queries + HOURS  # the CPU query alone: one per step, not one
    cols = ["ts", "container_id", "cpu_cores", "mem_working_set"]
    a = store.load(tmp_path / "whole", columns=cols).sort_values(["container_id", "ts"], ignore_index=True)
    b = store.load(tmp_path / "split", columns=cols).sort_values(["container_id", "ts"], ignore_index=True)
    assert len(a) >= 2 * (HOURS - 1) and a.equals(b)


def test_a_step_leaving_too_few_samples_for_recommend_is_said(
    bursty: tuple[Cluster, PrometheusServer], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 6 hours at 1h steps is 7 samples per container: recommend then makes no recommendation for a
    # single replica ("too little history: 6 samples over 5.0 h"), and only said so after the pull
    _, server = bursty
    since = ("--since", f"{HOURS}h")
    code, _, err = run(collect_args(server.url, tmp_path / "h", *since, "--step", "1h"), capsys)
    assert code == 0 and err.count("\n") == 1, err
    assert err == (
        "rightsize: warning: --since 6h at --step 1h is 7 samples per container, and recommend makes none "
        "for a workload of fewer than 100 (replicas pool theirs): --step 2m gives 181\n"
    )
    code, out, err = run(["recommend", "--data", str(tmp_path / "h"), "--format", "csv"], capsys)
    assert code == 0 and "too little history" in out and "(needs >= 100 samples" in out
    code, _, err = run(collect_args(server.url, tmp_path / "m", *since, "--step", "2m"), capsys)
    assert code == 0 and err == "", err
    code, out, err = run(["recommend", "--data", str(tmp_path / "m"), "--format", "csv"], capsys)
    assert code == 0 and "too little history" not in out
