"""Leftovers of the session-9 K3s bug hunt, against a real Prometheus (promtool-backfilled K3s series,
tests/prom_fixtures.py): two clusters pulled into one root, ``--namespace a,b``, a StatefulSet pod
moved to another node, and a crash-looping container OOM-killed with a long back-off.
"""

from __future__ import annotations

import dataclasses
import json
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from prom_cli import collect_args, run
from prom_fixtures import Cluster, MiB, Pod, PrometheusServer, moved_pod, serve_parts

from rightsize import store
from rightsize.sources.prometheus import pull

pytestmark = pytest.mark.prometheus

HOURS = 3
DB = Pod("data", "db-0", "postgres", "node-a", "docker.io/library/postgres:16", ("StatefulSet", "db"),
         300 * MiB, 50 * MiB, 0.1, 0.1, 10, 5, mem_limit=1024 * MiB, mem_request=512 * MiB)  # fmt: skip
KILLS = 3  # the crash loop's OOM kills, each restarted after the kubelet's longest back-off (5 min)


@dataclasses.dataclass(frozen=True)
class Shape:
    start: int
    moved: int  # db-0's last sample on node-a; from the next minute on it runs on node-b
    kills: tuple[int, ...]  # unix seconds of the crash loop's kills
    server: PrometheusServer


@pytest.fixture(scope="module")
def k3s(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shape]:
    work = tmp_path_factory.mktemp("leftovers")
    end = int(time.time()) // 60 * 60 - 120
    start = end - HOURS * 3600
    moved = start + 90 * 60
    kills = tuple(1800 + k * 600 for k in range(KILLS))  # seconds after the start
    loop = Pod("loop", "api-0", "api", "node-a", "registry.local/api:2", ("StatefulSet", "api"), 200 * MiB,
               20 * MiB, 0.1, 0.1, 6, 9, mem_limit=256 * MiB, mem_request=256 * MiB,
               oom_inside=tuple(float(k) for k in kills),  # cAdvisor's container_oom_events_total
               oom_restarts=tuple(k + 300.0 for k in kills))  # kube-state-metrics' restart, 5 min later
    parts = (*moved_pod(DB, start, moved, end, "node-b"),  # db-0 rescheduled: its pod re-created on node-b
             Cluster(start, end, (loop,)))  # fmt: skip
    for server in serve_parts([(part, "") for part in parts], work):
        yield Shape(start, moved, tuple(start + k for k in kills), server)


def _recommend(data: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> list[dict[str, Any]]:
    code, out, err = run(["recommend", "--data", str(data), "--format", "json", *extra], capsys)
    assert code == 0, err
    return list(json.loads(out))


# ------------------------------------------------------------------ 1. several clusters, one root


def test_two_clusters_in_one_root_stay_two_workloads(k3s: Shape, tmp_path: Path, capsys: Any) -> None:
    # staging's and prod's data/StatefulSet/db/postgres pooled into one workload (and the second
    # pull warned that it counted the first one's samples twice: same container ids, same nodes)
    out = tmp_path / "d"
    for cluster in ("staging", "prod"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            code, _, err = run(collect_args(k3s.server.url, out, "--since", f"{HOURS}h", "--namespace",
                                               "data", "--cluster", cluster), capsys)  # fmt: skip
        assert code == 0 and err == "", err
    rows = store.load(out, columns=["workload", "container_id", "host", "container"]).drop_duplicates()
    assert set(rows["workload"]) == {f"{c}:data/StatefulSet/db/postgres" for c in ("staging", "prod")}
    assert set(rows["container_id"]) == {"staging:data/db-0/postgres", "prod:data/db-0/postgres"}
    assert set(rows["host"]) == {f"{c}:node-{n}" for c in ("staging", "prod") for n in "ab"}
    assert set(rows["container"]) == {"db-0/postgres"}  # what a person reads stays the pod's
    files = {f.name.split("-node-")[0] for f in store.list_files(out)}
    assert files == {"staging", "prod"}  # each cluster's files named by its nodes
    recs = _recommend(out, capsys, "--workload", "prod:*")
    assert {r["workload"] for r in recs} == {"prod:data/StatefulSet/db/postgres"}
    assert {r["resource"]: r["current"] for r in recs}["memory"] == {"reservation": 512 * MiB,
                                                                      "limit": 1024 * MiB}
    assert len(_recommend(out, capsys, "--workload", "*:data/StatefulSet/db/*")) == 2 * 3


def test_a_cluster_prefix_still_finds_its_helm_values(k3s: Shape, tmp_path: Path, capsys: Any) -> None:
    # apply --helm guesses the values block from the workload's controller and container names:
    # the cluster prefix sits on the namespace, so db-0's block is found as without one
    out = tmp_path / "d"
    for cluster in ("prod", "staging"):
        code, _, err = run(collect_args(k3s.server.url, out, "--since", f"{HOURS}h", "--namespace", "data",
                                        "--cluster", cluster), capsys)  # fmt: skip
        assert code == 0, err
    values = tmp_path / "values-prod.yaml"
    values.write_text("db:\n  image: postgres:16\n  resources:\n    limits:\n      memory: 1Gi\n")
    # session 10: both clusters claimed db.resources (the second skipped: "already holds"); now the
    # data of two clusters needs --cluster (tests/test_prometheus_s10_clusters.py)
    code, text, err = run(["apply", "--helm", str(values), "--data", str(out), "--dry-run"], capsys)
    assert code == 2 and "--cluster prod" in err, err
    for cluster in ("prod", "staging"):  # --cluster decides whose is written; --map takes the prefixed name
        wl = f"{cluster}:data/StatefulSet/db/postgres"
        values.write_text("db:\n  image: postgres:16\n  resources:\n    limits:\n      memory: 1Gi\n")
        code, text, err = run(["apply", "--helm", str(values), "--data", str(out), "--format", "json",
                               "--map", f"{wl}=db", "--cluster", cluster], capsys)  # fmt: skip
        assert code == 0, err
        done = json.loads(text)["results"]
        changed = {c["workload"] for r in done for c in r["changes"]}
        skipped = [(s["workload"], s["reason"]) for r in done for s in r["skipped"] if s["resource"] == "all"]
        assert changed == {"data/StatefulSet/db/postgres"} and skipped == []
        assert "requests:" in values.read_text()


@pytest.mark.parametrize("bad", ["a/b", "prod:eu", "*", "a,b", "-prod", "x" * 64, " "])
def test_a_bad_cluster_name_is_one_error_line(k3s: Shape, tmp_path: Path, capsys: Any, bad: str) -> None:
    code, out, err = run(collect_args(k3s.server.url, tmp_path / "d", "--since", "1h", "--cluster", bad),
                         capsys)  # fmt: skip
    assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("rightsize: error: --cluster")
    assert not (tmp_path / "d").exists()


def test_cluster_is_for_prometheus_only(tmp_path: Path, capsys: Any) -> None:
    code, _, err = run(["collect", "--source", "docker", "--out", str(tmp_path), "--cluster", "prod"], capsys)
    assert code == 2 and err == "rightsize: error: --cluster applies to --source prometheus\n"


# ------------------------------------------------------------------- 2. --namespace as a comma list


def test_namespaces_as_a_comma_list(k3s: Shape, tmp_path: Path, capsys: Any) -> None:
    # "--namespace data,loop" was one namespace named "data,loop": "no container series in namespace(s)"
    for i, args in enumerate((["data,loop"], [" data , loop,"], ["data,", "--namespace", "loop"])):
        code, out, err = run(collect_args(k3s.server.url, tmp_path / f"d{i}", "--since", "1h", "--namespace",
                                          *args), capsys)  # fmt: skip
        assert code == 0 and err == "" and "2 namespaces" in out, err
        assert set(store.load(tmp_path / f"d{i}", columns=["workload"])["workload"]) == {
            "data/StatefulSet/db/postgres", "loop/StatefulSet/api/api"}
    code, out, err = run(collect_args(k3s.server.url, tmp_path / "e", "--since", "1h", "--namespace", ","),
                         capsys)  # fmt: skip
    assert code == 2 and err.count("\n") == 1 and "--namespace" in err and not (tmp_path / "e").exists()
    code, out, err = run(collect_args(k3s.server.url, tmp_path / "e", "--since", "1h", "--namespace",
                                      "data,lopo"), capsys)  # fmt: skip
    assert code == 0 and err.count("\n") == 1 and "lopo" in err and "data,lopo" not in err


# ------------------------------------------------------------------------- 3. a pod moved to a node


def test_a_moved_statefulset_pod_keeps_the_node_it_ran_on(k3s: Shape, tmp_path: Path) -> None:
    # kube_pod_info has two series for db-0 (one per node it ran on); the node was taken from the
    # label sets alone, the name sorting last winning: all of db-0's rows went to node-b
    summary = pull(k3s.server.url, tmp_path, HOURS * 3600, 60, ["data"], quiet=True,
                   now=k3s.start + HOURS * 3600)  # fmt: skip
    rows = store.load(tmp_path, columns=["ts", "host"])
    before = rows["ts"] <= pd.Timestamp(k3s.moved, unit="s", tz="UTC")
    assert before.sum() > 60 and (~before).sum() > 60
    assert set(rows.loc[before, "host"]) == {"node-a"} and set(rows.loc[~before, "host"]) == {"node-b"}
    assert set(summary.hosts) == {"node-a", "node-b"}
    by_file: Counter[str] = Counter()  # files are named by node (and split by day)
    for f in store.list_files(tmp_path):
        by_file[f.name.split("-")[1]] += len(store.read_table(f))
    assert by_file == {"a": int(before.sum()), "b": int((~before).sum())}


# ---------------------------------------------------------------- 4. an OOM kill with a long back-off


def test_an_oom_kill_restarted_after_a_long_back_off_counts_once(k3s: Shape, tmp_path: Path) -> None:
    # cAdvisor's container_oom_events_total rises at the kill; kube-state-metrics' restart counter
    # only when the kubelet restarts the container, up to 5 minutes later in a crash loop (its last
    # termination reason OOMKilled): the two were paired only within one step, so each kill was
    # counted twice (6 OOM kills for 3)
    pull(k3s.server.url, tmp_path, HOURS * 3600, 60, ["loop"], quiet=True, now=k3s.start + HOURS * 3600)
    rows = store.load(tmp_path, columns=["ts", "oom_kills", "restarts"])
    assert rows["oom_kills"].max() == KILLS and rows["restarts"].max() == KILLS
    events = store.load_events(tmp_path)
    kinds = events["kind"].value_counts().to_dict()
    assert kinds == {"oom": KILLS, "restart": KILLS}
    # each kill counted when cAdvisor saw it, not when the container came back
    ooms = events.loc[events["kind"] == "oom", "ts"]
    assert [int(pd.Timestamp(t).timestamp()) for t in ooms] == list(k3s.kills)
    rising = np.flatnonzero(np.diff(rows.sort_values("ts")["oom_kills"].to_numpy()))
    assert len(rising) == KILLS


def test_a_kill_and_its_restart_in_two_query_chunks_count_once(k3s: Shape, tmp_path: Path) -> None:
    # 33 steps a query: the first kill (step 30) and its restart (step 36) come in two chunks
    pull(k3s.server.url, tmp_path, HOURS * 3600, 60, ["loop"], quiet=True, now=k3s.start + HOURS * 3600,
         chunk_points=33)  # fmt: skip
    assert store.load(tmp_path, columns=["oom_kills"])["oom_kills"].max() == KILLS
    assert store.load_events(tmp_path)["kind"].value_counts().to_dict() == {"oom": KILLS, "restart": KILLS}
