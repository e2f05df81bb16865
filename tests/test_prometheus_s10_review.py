"""Review of session 10's Prometheus pull (CPU bursts at long steps), against a real Prometheus.

The burst subquery took the highest short rate among the windows *ending* within each step, so a
window ending just after a step boundary, reading the 4 scrapes before it, gave the next step the
whole burst again: a 10-minute burst ending on the hour read 2 cores in two hours (one of them
without a single busy minute), which can lift a p95 of hourly samples to the burst's height.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from prom_fixtures import Cluster, PrometheusServer, backfill, write_openmetrics
from test_prometheus_s10_cpu import BURST, HOURS, BurstPod, _cluster, _cpu

from rightsize.sources.prometheus import pull

pytestmark = pytest.mark.prometheus


@pytest.fixture(scope="module")
def on_the_hour(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, PrometheusServer]]:
    """report-0 bursts by 2 cores for the 10 minutes ending exactly on an hour (scraped every 60 s)."""
    work = tmp_path_factory.mktemp("burst-edge")
    base = _cluster(int(time.time()) // 3600 * 3600 - 3600)
    pod = base.pods[0]
    assert isinstance(pod, BurstPod)
    edge = base.start + 3 * 3600
    cluster = Cluster(base.start, base.end, (dataclasses.replace(pod, burst_at=edge - 600),))
    write_openmetrics(cluster, work / "om")
    backfill(work / "om", work / "tsdb")
    with PrometheusServer(work / "tsdb") as server:
        yield cluster, server


@pytest.mark.filterwarnings("ignore:--since 6h at --step 1h")  # too few samples: said, not the point
def test_a_burst_ending_on_a_step_boundary_is_read_in_its_own_step_only(
    on_the_hour: tuple[Cluster, PrometheusServer], tmp_path: Path
) -> None:
    cluster, server = on_the_hour
    pull(server.url, tmp_path, HOURS * 3600, 3600, ["shop"], quiet=True, now=cluster.end)
    cpu = _cpu(tmp_path, "report-0/report")
    edge = pd.Timestamp(cluster.start + 3 * 3600, unit="s", tz="UTC")
    assert cpu[edge] >= BURST  # the step (edge - 1h, edge] holds the whole burst
    after = cpu[edge + pd.Timedelta(hours=1)]  # (edge, edge + 1h]: not one busy minute
    assert after < 0.5, cpu.to_dict()  # before: 2.1, the burst's 4 scrapes before the edge again
    assert (cpu >= 1.0).sum() == 1
