"""``--cluster NAME`` for ``apply --helm`` and ``recommend`` (session 10), on a root holding two
clusters' pulls from two real Prometheus servers (promtool-backfilled K3s series).

prod's db uses ~900 MiB, staging's ~150 MiB, under the same name ``data/StatefulSet/db/postgres``.
Before, ``apply --helm`` wrote whichever cluster came first into ``db.resources`` (the other was
skipped: "already holds"), and a values file had no way to say which cluster it deploys.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helm_helpers import chart_dir, workload_template
from prom_cli import run
from prom_fixtures import Cluster, MiB, Pod, PrometheusServer, backfill, write_openmetrics

from rightsize.sources.prometheus import pull
from rightsize.units import parse_bytes

pytestmark = pytest.mark.prometheus

HOURS = 3
DB = Pod("data", "db-0", "postgres", "node-a", "docker.io/library/postgres:16", ("StatefulSet", "db"),
         900 * MiB, 50 * MiB, 0.3, 0.1, 10, 5, mem_limit=2048 * MiB, mem_request=1024 * MiB)  # fmt: skip
WEB = Pod("data", "web-7d9c8b6f5-x2x4q", "nginx", "node-b", "docker.io/library/nginx:1.25",
          ("ReplicaSet", "web-7d9c8b6f5"), 100 * MiB, 20 * MiB, 0.1, 0.1, 4, 6,
          mem_limit=256 * MiB)  # fmt: skip
VALUES = "db:\n  image: postgres:16\n  resources:\n    limits:\n      memory: 1Gi\n"
WL = "data/StatefulSet/db/postgres"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One dataset root: prod (db at 900 MiB, web) and staging (db at 150 MiB), each pulled from its
    own real Prometheus with ``--cluster``."""
    work = tmp_path_factory.mktemp("clusters")
    end = int(time.time()) // 60 * 60 - 120
    shapes = {
        "prod": Cluster(end - HOURS * 3600, end, (DB, WEB), {"data/web-7d9c8b6f5": ("Deployment", "web")}),
        "staging": Cluster(end - HOURS * 3600, end, (dataclasses.replace(DB, mem_base=150 * MiB),)),
    }
    out = work / "data"
    for name, cluster in shapes.items():
        write_openmetrics(cluster, work / f"om-{name}")
        backfill(work / f"om-{name}", work / f"tsdb-{name}")
        with PrometheusServer(work / f"tsdb-{name}") as server:
            pull(server.url, out, HOURS * 3600, 60, quiet=True, now=end, cluster=name)
            if name == "prod":  # and a root of prod alone
                pull(server.url, work / "prod", HOURS * 3600, 60, quiet=True, now=end, cluster=name)
    yield out


def _apply(root: Path, values: Path, capsys: Any, *extra: str) -> tuple[int, str, str]:
    values.write_text(VALUES)
    return run(["apply", "--helm", str(values), "--data", str(root), "--format", "json", *extra], capsys)


def _written_memory_limit(values: Path) -> int:
    from ruamel.yaml import YAML

    doc = YAML(typ="safe").load(values.read_text())
    return parse_bytes(str(doc["db"]["resources"]["limits"]["memory"]), "k8s")


def test_apply_helm_writes_the_chosen_clusters_values(root: Path, tmp_path: Path, capsys: Any) -> None:
    values = tmp_path / "values.yaml"
    limits = {}
    for cluster in ("prod", "staging"):
        code, out, err = _apply(root, values, capsys, "--cluster", cluster)
        assert code == 0, err
        done = json.loads(out)["results"]
        assert {c["workload"] for r in done for c in r["changes"]} == {WL}  # named as the values know it
        limits[cluster] = _written_memory_limit(values)
        code, out, err = run(["recommend", "--data", str(root), "--format", "json", "--cluster", cluster],
                             capsys)  # fmt: skip
        assert code == 0, err
        recs = {(r["workload"], r["resource"]): r for r in json.loads(out)}
        assert recs[(WL, "memory")]["recommended"]["limit"] == pytest.approx(limits[cluster], rel=0.01)
    # prod's db uses 900-950 MiB, staging's 150-200 MiB: each file gets its own cluster's limit
    assert limits["prod"] > 950 * MiB and limits["staging"] < limits["prod"] / 2


def test_apply_helm_without_cluster_on_two_clusters_is_one_error_line(
    root: Path, tmp_path: Path, capsys: Any
) -> None:
    # before: exit 0, prod's or staging's values written into db.resources, whichever came first
    values = tmp_path / "values.yaml"
    code, out, err = _apply(root, values, capsys)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert err.startswith("rightsize: error: the data holds 2 clusters (prod, staging)")
    assert "--cluster prod" in err and values.read_text() == VALUES


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--cluster", "dev"], "--cluster dev: no such cluster in the data (its clusters: prod, staging)"),
        (["--cluster", "a/b"], "--cluster 'a/b': expected a name such as prod"),
        (["--cluster", "prod", "--map", f"staging:{WL}=db"], f"--map staging:{WL}=db: a workload of cluster "
                                                              "staging, not of --cluster prod"),
    ],
)  # fmt: skip
def test_bad_cluster_choices_are_one_error_line(
    root: Path, tmp_path: Path, capsys: Any, extra: list[str], message: str
) -> None:
    values = tmp_path / "values.yaml"
    code, out, err = _apply(root, values, capsys, *extra)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert err.startswith(f"rightsize: error: {message}") and values.read_text() == VALUES


def test_cluster_is_for_helm_only(root: Path, tmp_path: Path, capsys: Any) -> None:
    compose = tmp_path / "compose.yaml"
    compose.write_text("services:\n  db:\n    image: postgres:16\n")
    code, _, err = run(["apply", "-f", str(compose), "--data", str(root), "--cluster", "prod"], capsys)
    assert code == 2 and err.count("\n") == 1 and "--cluster picks one Kubernetes cluster's workloads" in err


@pytest.mark.parametrize("spelled", [WL, f"prod:{WL}"])
def test_map_takes_the_name_with_or_without_the_cluster(
    root: Path, tmp_path: Path, capsys: Any, spelled: str
) -> None:
    values = tmp_path / "values.yaml"
    code, _, err = _apply(root, values, capsys, "--cluster", "prod", "--map", f"{spelled}=db")
    assert code == 0, err
    assert _written_memory_limit(values) > 950 * MiB


def test_recommend_cluster_keeps_one_clusters_workloads(root: Path, capsys: Any) -> None:
    data = ["--data", str(root)]
    code, out, err = run(["recommend", *data, "--format", "json", "--cluster", "staging"], capsys)
    assert code == 0, err
    assert {r["workload"] for r in json.loads(out)} == {WL}
    code, out, err = run(["recommend", "--data", str(root), "--format", "json", "--cluster", "prod",
                          "--workload", "data/Deployment/*"], capsys)  # fmt: skip
    assert code == 0, err
    assert {r["workload"] for r in json.loads(out)} == {"data/Deployment/web/nginx"}
    code, out, err = run(["recommend", *data, "--cluster", "prod", "--workload", "nope/*"], capsys)
    assert code == 2 and err == "rightsize: error: no workload of cluster prod matches 'nope/*'\n"
    code, out, err = run(["recommend", "--data", str(root), "--cluster", "qa"], capsys)
    assert code == 2 and err.startswith("rightsize: error: --cluster qa: no such cluster in the data")



def test_a_root_of_one_cluster_needs_no_cluster_option(root: Path, tmp_path: Path, capsys: Any) -> None:
    # one cluster's pull alone: nothing to choose, its (prefixed) workloads find their block, here
    # through the chart's rendered templates
    template = workload_template("StatefulSet", "db", {"postgres": ".Values.db.resources"})
    chart = chart_dir(tmp_path / "data", "data", VALUES, {"db.yaml": template})
    code, out, err = run(["apply", "--helm", str(chart / "values.yaml"), "--data", str(root.parent / "prod"),
                          "--format", "json"], capsys)  # fmt: skip
    assert code == 0, err
    changes = [c for r in json.loads(out)["results"] for c in r["changes"]]
    assert {c["workload"] for c in changes} == {f"prod:{WL}"}
    assert _written_memory_limit(chart / "values.yaml") > 950 * MiB


def test_a_cluster_prefix_is_not_given_to_helm_as_the_namespace(
    root: Path, tmp_path: Path, capsys: Any
) -> None:
    # one cluster's pull rendered without --cluster: helm got --namespace prod:data, which a chart
    # checking its namespace refuses (the render then fell back to the heuristics with a warning)
    guard = '{{- if not (regexMatch "^[a-z0-9-]+$" .Release.Namespace) }}{{ fail "bad namespace" }}{{ end }}'
    guard += "\n"
    template = guard + workload_template("StatefulSet", "db", {"postgres": ".Values.db.resources"})
    chart = chart_dir(tmp_path / "data", "data", VALUES, {"db.yaml": template})
    code, _, err = run(["apply", "--helm", str(chart / "values.yaml"), "--data", str(root.parent / "prod")],
                       capsys)  # fmt: skip
    assert code == 0, err
    assert "warning" not in err, err
    assert _written_memory_limit(chart / "values.yaml") > 950 * MiB
