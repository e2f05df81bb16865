"""Review of session 10's Prometheus pull and --cluster, against real Prometheus servers.

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
from prom_cli import run
from prom_fixtures import Cluster, MiB, PrometheusServer, backfill, write_openmetrics
from test_prometheus_s10_clusters import DB, VALUES
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


@pytest.fixture(scope="module")
def mixed_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One root: prod pulled with --cluster prod (db at ~900 MiB), another cluster pulled into it
    without --cluster (db at ~150 MiB), both from real Prometheus servers."""
    work = tmp_path_factory.mktemp("mixed")
    end = int(time.time()) // 60 * 60 - 120
    shapes = {"prod": (DB,), "": (dataclasses.replace(DB, mem_base=150 * MiB),)}
    for name, pods in shapes.items():
        write_openmetrics(Cluster(end - 3 * 3600, end, pods), work / f"om-{name}")
        backfill(work / f"om-{name}", work / f"tsdb-{name}")
        with PrometheusServer(work / f"tsdb-{name}") as server:
            pull(server.url, work / "data", 3 * 3600, 60, quiet=True, now=end, cluster=name or None)
    return work / "data"


def test_apply_helm_on_a_named_and_an_unnamed_cluster_is_one_error_line(
    mixed_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # before: exit 0, the unnamed cluster's db written into db.resources and prod's skipped
    # ("db.resources already holds data/StatefulSet/db/postgres"): the two-cluster case's bug again
    values = tmp_path / "values.yaml"
    values.write_text(VALUES)
    argv = ["apply", "--helm", str(values), "--data", str(mixed_root), "--no-render"]
    code, out, err = run(argv, capsys)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert err.startswith("rightsize: error: the data holds cluster prod and workloads pulled without")
    assert "--cluster prod" in err and values.read_text() == VALUES
    code, out, err = run([*argv, "--cluster", "prod"], capsys)  # prod alone is still written
    assert code == 0, err
    assert "prod:" not in out and "already holds" not in out


def test_few_samples_names_no_step_when_the_range_is_shorter_than_recommend_needs(
    recwarn: pytest.WarningsRecorder,
) -> None:
    # --since 50m at 5m steps with 15 s scrapes: 11 samples; --step 15s would give 201, but recommend
    # still makes none (50 minutes < its min_history of 1h): the hint named a step that cannot help
    from rightsize.sources.prometheus_checks import warn_few_samples

    warn_few_samples(3000, 300, 15.0, 11)
    assert [str(w.message) for w in recwarn] == []
    warn_few_samples(4 * 3600, 3600, 15.0, 5)  # 4h: a step that helps is still named
    assert [str(w.message) for w in recwarn] == [
        "--since 4h at --step 1h is 5 samples per container, and recommend makes none for a workload of "
        "fewer than 100 (replicas pool theirs): --step 2m gives 121"
    ]


@pytest.mark.filterwarnings("ignore:--since 4h at --step 4.5m")  # too few samples: not the point
def test_a_step_just_over_the_burst_threshold_leaves_no_step_without_cpu(
    on_the_hour: tuple[Cluster, PrometheusServer], tmp_path: Path
) -> None:
    # 270 s steps at 60 s scrapes (estimated 59 s): the burst subquery is used (270 > 1.1 x 237 s)
    # though the step minus the short window (33 s) is shorter than its 59 s resolution: it still
    # spans one resolution point, so no step goes without a CPU value
    cluster, server = on_the_hour
    pull(server.url, tmp_path, 4 * 3600, 270, ["shop"], quiet=True, now=cluster.end)
    cpu = _cpu(tmp_path, "report-0/report")
    assert len(cpu) > 50 and not cpu.isna().any()
    assert cpu.max() >= BURST
