"""The Prometheus source against a real Prometheus holding a backfilled, seeded K3s history."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import requests
from prom_fixtures import Cluster, Pod, PrometheusServer

from rightsize import store
from rightsize.cli import main
from rightsize.errors import RightsizeError
from rightsize.sources.prometheus import PrometheusWarning, _usable_specs, pull
from rightsize.sources.prometheus_client import MAX_POINTS, auth_from_env, chunks
from rightsize.sources.prometheus_workloads import Owners, guess_owner, resolve_owner
from rightsize.units import format_bytes

WEB = "shop/Deployment/web/nginx"
DB = "shop/StatefulSet/db/postgres"
WORKER = "batch/Deployment/worker/worker"


# ------------------------------------------------------------------------------ pure parts


def test_chunks_cover_the_range_on_one_grid_below_the_point_limit() -> None:
    start, step = 1_700_000_000.0, 60.0
    end = start + 14 * 86400
    parts = chunks(start, end, step)
    assert parts[0][0] == start and parts[-1][1] == end
    for (_, b), (c, _) in itertools.pairwise(parts):
        assert c == b + step  # next chunk starts one step later: no overlap, no gap
    assert all((b - a) / step + 1 < MAX_POINTS for a, b in parts)
    assert sum(round((b - a) / step) + 1 for a, b in parts) == 14 * 1440 + 1
    assert chunks(start, start, step) == [(start, start)]


@pytest.mark.parametrize(
    ("pod", "owner"),
    [
        ("web-7d9c8b6f5-x2x4q", ("Deployment", "web")),
        ("my-api-v2-5c7f8d6b4d-zq9lx", ("Deployment", "my-api-v2")),
        ("db-0", ("StatefulSet", "db")),
        ("kafka-broker-12", ("StatefulSet", "kafka-broker")),
        ("svclb-traefik-x7k2p", ("DaemonSet", "svclb-traefik")),
        ("standalone", ("Pod", "standalone")),
        ("web-Ab1aa-x2x4q", ("DaemonSet", "web-Ab1aa")),  # upper case/vowels: not a template hash
    ],
)
def test_owner_from_pod_name(pod: str, owner: tuple[str, str]) -> None:
    assert guess_owner(pod) == owner


def test_owner_from_kube_state_metrics_labels() -> None:
    owners = Owners.from_series(
        pod_owner=[
            {"pod": "web-7d9c8b6f5-x2x4q", "owner_kind": "ReplicaSet", "owner_name": "web-7d9c8b6f5"},
            {"pod": "api-6b7c8d9f5-abcde", "owner_kind": "ReplicaSet", "owner_name": "api-6b7c8d9f5"},
            {"pod": "backup-29012345-k2j4h", "owner_kind": "Job", "owner_name": "backup-29012345"},
            {"pod": "etl-x9z8w", "owner_kind": "Job", "owner_name": "etl"},
            {"pod": "debug", "owner_kind": "<none>", "owner_name": "<none>"},
            {"pod": "kube-vip-node1", "owner_kind": "Node", "owner_name": "node1"},
        ],
        replicaset_owner=[
            {"replicaset": "web-7d9c8b6f5", "owner_kind": "Deployment", "owner_name": "frontend"}
        ],
        job_owner=[{"job_name": "etl", "owner_kind": "<none>", "owner_name": "<none>"}],
    )
    assert resolve_owner("web-7d9c8b6f5-x2x4q", owners) == ("Deployment", "frontend")  # KSM beats the name
    assert resolve_owner("api-6b7c8d9f5-abcde", owners) == ("Deployment", "api")  # no RS owner: hash stripped
    assert resolve_owner("backup-29012345-k2j4h", owners) == ("CronJob", "backup")
    assert resolve_owner("etl-x9z8w", owners) == ("Job", "etl")
    assert resolve_owner("debug", owners) == ("Pod", "debug")
    assert resolve_owner("kube-vip-node1", owners) == ("Pod", "kube-vip")
    assert resolve_owner("cache-1", owners) == ("StatefulSet", "cache")  # not listed: from the name


def test_auth_from_environment() -> None:
    assert auth_from_env({"RIGHTSIZE_PROM_TOKEN": "t0k"}) == ({"Authorization": "Bearer t0k"}, None)
    assert auth_from_env({"RIGHTSIZE_PROM_USER": "u", "RIGHTSIZE_PROM_PASSWORD": "p"}) == ({}, ("u", "p"))
    assert auth_from_env({}) == ({}, None)
    with pytest.raises(RightsizeError, match="not both"):
        auth_from_env({"RIGHTSIZE_PROM_TOKEN": "t", "RIGHTSIZE_PROM_USER": "u"})


def test_missing_optional_metrics_warn_what_is_lost() -> None:
    present = {"container_memory_working_set_bytes", "container_cpu_usage_seconds_total"}
    with pytest.warns(PrometheusWarning) as caught:
        specs, _missing = _usable_specs(present, "http://p", 0, 60)
    assert [s.column for s in specs] == ["mem_working_set", "cpu_cores"]
    text = str(caught[0].message)
    assert "kube_pod_container_resource_limits" in text and "current limits" in text
    assert "container_threads or container_processes" in text and "PID recommendations" in text
    with pytest.raises(RightsizeError, match=r"no container_cpu_usage_seconds_total .*CPU"):
        _usable_specs({"container_memory_working_set_bytes"}, "http://p", 0, 60)
    with pytest.raises(RightsizeError, match=r"no container_memory_working_set_bytes.*memory recom.*kubelet"):
        _usable_specs({"kube_pod_info", "up"}, "http://p", 0, 60)


# ------------------------------------------------------------------------------ real server


@pytest.fixture(scope="module")
def pulled(prom_cluster: tuple[Cluster, PrometheusServer], tmp_path_factory: pytest.TempPathFactory) -> Any:
    cluster, server = prom_cluster
    out = tmp_path_factory.mktemp("pulled")
    summary = pull(url=server.url, out=out, since=3 * 86400, step=60, quiet=True, now=cluster.end)
    return cluster, out, summary


def _secs(ts: pd.Series) -> pd.Series:
    return (ts - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)


def _pod(cluster: Cluster, name: str) -> Pod:
    return next(p for p in cluster.pods if p.pod == name)


@pytest.mark.prometheus
def test_pulled_samples_are_what_was_backfilled(pulled: Any) -> None:
    cluster, out, summary = pulled
    df = store.load(out)
    assert set(df["workload"]) == {WEB, DB, WORKER}  # replicas share one workload; POD/"" dropped
    assert summary.containers == 4 and summary.workloads == 3 and summary.samples == len(df)
    assert set(summary.namespaces) == {"shop", "batch"} and set(summary.hosts) == {"node-a", "node-b"}
    # one query per metric and namespace (14 x 2), never per container; 7 to discover what exists
    # (probe, metric names, containers, 3 kube-state-metrics owner/node lookups, scrape interval)
    assert summary.queries == 2 * 14 + 7 and summary.retries == 0
    for p in cluster.pods:
        rows = df[df["container_id"] == f"{p.namespace}/{p.pod}/{p.container}"]
        ts = _secs(rows["ts"]).to_numpy()
        assert ts[0] == cluster.start and ts[-1] == cluster.end and np.all(np.diff(ts) == 60)
        assert set(rows["host"]) == {p.node} and set(rows["image"]) == {p.image}
        np.testing.assert_array_equal(rows["mem_working_set"].to_numpy(), p.working_set(ts))
        np.testing.assert_array_equal(rows["mem_rss"].to_numpy(), (p.working_set(ts) * 0.8).astype(np.int64))
        # rate() over 4 scrape intervals = the mean of the three minutes the window's samples span
        expected_cpu = (p.cpu_rate(ts) + p.cpu_rate(ts - 60) + p.cpu_rate(ts - 120)) / 3
        cpu = rows["cpu_cores"].to_numpy()
        assert np.isnan(cpu[0])  # a rate needs two samples
        np.testing.assert_allclose(cpu[3:], expected_cpu[3:], rtol=1e-6)
        np.testing.assert_array_equal(rows["pids"].to_numpy(), p.threads + ts // 3600 % 3)
        assert set(rows["mem_limit"].dropna()) == ({p.mem_limit} if p.mem_limit else set())
        assert set(rows["mem_reservation"].dropna()) == ({p.mem_request} if p.mem_request else set())
        assert set(rows["cpu_limit"].dropna()) == ({p.cpu_limit} if p.cpu_limit else set())
        assert set(rows["cpu_reservation"].dropna()) == ({p.cpu_request} if p.cpu_request else set())
        assert set(rows["pids_limit"].dropna()) == ({p.threads_max} if p.threads_max else set())
        if p.cpu_limit:
            np.testing.assert_allclose(rows["cpu_throttled"].dropna(), 0.1, rtol=1e-5)
        else:
            assert rows["cpu_throttled"].isna().all()


@pytest.mark.prometheus
def test_oom_kills_and_restarts_become_counters_and_events(pulled: Any) -> None:
    cluster, out, _ = pulled
    df = store.load(out)
    ev = store.load_events(out)
    db, worker = _pod(cluster, "db-0"), _pod(cluster, "worker-5f6d7c8b9-q7w2z")
    oom_restart = cluster.start + db.oom_restarts[0]  # kube-state-metrics samples every 2 minutes
    ksm_seen = cluster.start + -(-(oom_restart - cluster.start) // 120) * 120
    oom_inside = cluster.start + worker.oom_inside[0]
    got = sorted(
        (int(r.ts.timestamp()), r.workload, r.kind, None if pd.isna(r.exit_code) else int(r.exit_code))
        for r in ev.itertuples()
    )
    assert got == [
        (ksm_seen, DB, "oom", 137), (ksm_seen, DB, "restart", None), (oom_inside, WORKER, "oom", 137)
    ]
    secs = _secs(df["ts"])
    dbrows = df[df["workload"] == DB]
    assert (dbrows.loc[secs < ksm_seen, ["oom_kills", "restarts"]] == 0).all().all()
    assert (dbrows.loc[secs >= ksm_seen, ["oom_kills", "restarts"]] == 1).all().all()
    wrows = df[df["workload"] == WORKER]
    assert (wrows.loc[secs >= oom_inside, "oom_kills"] == 1).all()
    assert (wrows.loc[secs < oom_inside, "oom_kills"] == 0).all()
    assert df.loc[df["workload"] == WEB, "oom_kills"].eq(0).all()


@pytest.mark.prometheus
@pytest.mark.slow
def test_chunked_pull_is_identical_and_finer_steps_stay_under_the_limit(
    pulled: Any, prom_cluster: tuple[Cluster, PrometheusServer], tmp_path: Path
) -> None:
    cluster, out, summary = pulled
    _, server = prom_cluster
    small = pull(server.url, tmp_path / "small", 3 * 86400, 60, quiet=True, now=cluster.end, chunk_points=500)
    assert small.queries > summary.queries + 14 * 2 * 7  # 2 namespaces x >8 chunks x 14 metrics
    cols = ["ts", "container_id", "mem_working_set", "cpu_cores", "oom_kills", "restarts", "mem_limit"]
    a = store.load(out, columns=cols).sort_values(["container_id", "ts"], ignore_index=True)
    b = store.load(tmp_path / "small", columns=cols).sort_values(["container_id", "ts"], ignore_index=True)
    pd.testing.assert_frame_equal(a, b)
    assert len(store.load_events(tmp_path / "small")) == len(store.load_events(out))
    # 15 s steps over 3 days = 17,281 points per series: Prometheus refuses that in one query
    with pytest.raises(requests.HTTPError) as refused:
        r = requests.get(
            f"{server.url}/api/v1/query_range",
            params={"query": "container_memory_rss", "start": cluster.start, "end": cluster.end, "step": 15},
            timeout=30,
        )
        r.raise_for_status()
    assert "11,000" in refused.value.response.text
    fine = pull(server.url, tmp_path / "fine", 3 * 86400, 15, ["batch"], quiet=True, now=cluster.end)
    assert fine.samples == 3 * 86400 // 15 + 1 and fine.containers == 1


@pytest.mark.prometheus
def test_namespace_filter(prom_cluster: tuple[Cluster, PrometheusServer], tmp_path: Path) -> None:
    cluster, server = prom_cluster
    s = pull(server.url, tmp_path, 86400, 300, ["batch"], quiet=True, now=cluster.end)
    assert set(store.load(tmp_path)["workload"]) == {WORKER} and s.namespaces == ("batch",)
    with pytest.warns(PrometheusWarning, match=r"no container series in namespace.s. nope"):
        pull(server.url, tmp_path / "b", 86400, 300, ["batch", "nope"], quiet=True, now=cluster.end)
    with pytest.warns(PrometheusWarning, match=r"already holds samples of node-b .*twice"):
        pull(server.url, tmp_path, 3600, 300, ["batch"], quiet=True, now=cluster.end)
    with pytest.raises(RightsizeError, match=r"no container series in namespace.s. nope"):
        pull(server.url, tmp_path / "c", 86400, 300, ["nope"], quiet=True, now=cluster.end)
    assert not (tmp_path / "c" / "samples").exists()


@pytest.mark.prometheus
def test_recommendation_matches_the_backfilled_series(pulled: Any) -> None:
    from rightsize.analysis.recommend import recommend

    cluster, out, _ = pulled
    recs = {(r.workload, r.resource): r for r in recommend(out)}
    web = [p for p in cluster.pods if p.pod.startswith("web-")]
    ts = np.arange(cluster.start, cluster.end + 1, 60)
    pooled = np.concatenate([p.working_set(ts) for p in web])  # both replicas, on both nodes
    mem = recs[(WEB, "memory")]
    assert mem.samples == len(pooled)
    assert mem.observed.max == pooled.max()
    assert mem.observed.p95 == pytest.approx(np.percentile(pooled, 95), rel=0.01)
    assert mem.current.limit == 512 * 1024**2 and mem.current.reservation == 256 * 1024**2
    assert mem.recommended is not None and mem.recommended.limit >= pooled.max()
    cpu = recs[(WEB, "cpu")]
    cores = np.concatenate(
        [(p.cpu_rate(ts) + p.cpu_rate(ts - 60) + p.cpu_rate(ts - 120))[3:] / 3 for p in web]
    )
    assert cpu.observed.p95 == pytest.approx(np.percentile(cores, 95), rel=0.02)
    assert cpu.current.limit == 1.0 and cpu.current.reservation == 0.25
    assert recs[(DB, "cpu")].current.reservation is None  # kube-state-metrics exports no CPU request for it
    assert recs[(DB, "memory")].oom_kills == 1


@pytest.mark.prometheus
def test_apply_helm_writes_what_was_pulled(pulled: Any, tmp_path: Path) -> None:
    """The pulled K3s workloads land in a Helm values file unchanged (``apply --helm``)."""
    from rightsize.analysis.recommend import recommend
    from rightsize.targets.helm import patch_helm

    _, out, _ = pulled
    values = tmp_path / "values.yaml"
    values.write_text(
        "# shop chart\n"
        "web:\n  replicas: 2\n  resources:\n    limits:\n      memory: 512Mi  # nginx\n"
        "db:\n  resources:\n    requests:\n      memory: 1Gi\n    limits:\n      memory: 1Gi\n"
    )
    recs = recommend(out)
    planned = patch_helm(values, recs, dry_run=True, only=["memory"])
    by_key = {c.key: c for c in planned.changes}
    assert {c.workload for c in planned.changes} == {WEB, DB}
    web_mem = next(r for r in recs if r.workload == WEB and r.resource == "memory")
    assert web_mem.recommended is not None and web_mem.recommended.reservation is not None
    assert by_key["web.resources.requests.memory"].new == format_bytes(web_mem.recommended.reservation, "k8s")
    with pytest.raises(SystemExit) as done:
        main(["apply", "--helm", str(values), "--data", str(out), "--only", "memory"])
    assert done.value.code == 0
    text = values.read_text()
    assert text.startswith("# shop chart\n") and "# nginx" in text and "replicas: 2" in text
    for change in planned.changes:
        assert f"memory: {change.new}" in text
