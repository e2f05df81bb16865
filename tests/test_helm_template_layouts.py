"""``apply --helm`` against the real ``helm``, for single charts: a StatefulSet's sidecar and init
container through the hinted ``--map``, the neo4j shorthand, an overrides file, an alias/merge-key
file, the ollama layout, keys holding a dot, a parent's empty block for a subchart, a --map into a
list only the chart holds. Bad input: test_helm_template_errors.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from cli_helpers import run_cli, sha
from helm_helpers import (
    PG,
    SHOP,
    WEB,
    apply,
    as_text,
    chart_dir,
    check_sane,
    create,
    dataset,
    helm,
    mib,
    render,
    workload_template,
    written,
)

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
    # the values' names alone (--no-render; rendering finds the list items: test_helm_s10_render)
    result = apply(chart / "values.yaml", data, capsys, "--no-render")
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


def test_a_map_into_a_list_only_the_charts_values_hold_says_to_copy_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # prod.yaml overrides the db chart; the sidecars list is in the chart's values.yaml. An item can
    # only be given resources by setting the whole list (helm does not merge lists).
    chart = chart_dir(tmp_path / "db", "db", DB_VALUES, {"sts.yaml": DB_STS})
    prod = chart / "prod.yaml"
    prod.write_text("db:\n  image: postgres:16.4\n")
    data = dataset(tmp_path / "d", {DB: (900, 1.0), DB_EXPORTER: (30, 0.05)})
    args = [
        "apply",
        "--helm",
        str(prod),
        "--data",
        str(data),
        "--map",
        f"{DB_EXPORTER}=db.sidecars[name=exporter]",
    ]
    code, out, err = run_cli(args, capsys)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert (
        "no key 'sidecars' under db" in err and "helm replaces a list as a whole: copy the list here" in err
    )
    assert prod.read_text() == "db:\n  image: postgres:16.4\n"
