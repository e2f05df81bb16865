"""``apply --helm`` finds where a chart's templates read each container's resources by rendering the
chart once with ``helm template`` (sentinel blocks at every candidate path), checked with the real
helm 3.17.3: the written file is rendered again and each container's requests/limits compared.

The committed chart ``fixtures/helm_s10/shop`` reads its resources from keys the values' names do not
give away: ``.Values.server.res`` (api), ``toYaml .Values.workers.main.resources`` (the queue, while
a decoy ``queue.resources`` sits in the values), one field ``limits.memory`` (the exporter), a block
written in the template (proxy), a CronJob (report), an init container (wait), and a subchart
``cache`` whose blocks are ``node``/``metrics``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_helpers import run_cli, sha
from helm_helpers import apply, as_text, dataset, helm, helm_bin, mib, written

FIXTURE = Path(__file__).parent / "fixtures" / "helm_s10" / "shop"
API, EXPORTER = "shop/Deployment/shop-api/api", "shop/Deployment/shop-api/exporter"
QUEUE, WAIT = "shop/Deployment/shop-queue/queue", "shop/Deployment/shop-queue/wait"
PROXY, REPORT = "shop/Deployment/shop-proxy/proxy", "shop/CronJob/shop-report/report"
CACHE, METRICS = "shop/StatefulSet/shop-cache/cache", "shop/StatefulSet/shop-cache/metrics"
USAGE = {
    API: (300, 0.3), EXPORTER: (40, 0.05), QUEUE: (500, 0.5), WAIT: (20, 0.02), PROXY: (100, 0.1),
    REPORT: (200, 0.2), CACHE: (700, 0.4), METRICS: (30, 0.05),
}  # fmt: skip


def rendered(chart: Path | str, *args: str, release: str = "shop") -> dict[str, dict[str, Any]]:
    """``kind/name/container`` -> its rendered resources (CronJobs' and init containers too)."""
    out = {}
    for doc in yaml.safe_load_all(helm("template", release, chart, "--namespace", "shop", *args)):
        spec = doc["spec"]["jobTemplate"]["spec"] if doc["kind"] == "CronJob" else doc["spec"]
        pod = spec["template"]["spec"]
        for c in [*pod.get("initContainers", []), *pod["containers"]]:
            out[f"{doc['kind']}/{doc['metadata']['name']}/{c['name']}"] = c.get("resources") or {}
    return out


def pod(wl: str) -> str:
    return wl.split("/", 1)[1]


@pytest.fixture
def chart(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURE, tmp_path / "shop"))


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return dataset(tmp_path / "d", USAGE)


def test_each_container_gets_the_block_its_template_reads(
    chart: Path, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = apply(chart / "values.yaml", data, capsys)
    keys = {c["workload"]: c["key"].rsplit(".", 2)[0] for c in result["changes"]}
    assert keys == {
        API: "server.res", EXPORTER: "exporter.resources", QUEUE: "workers.main.resources",
        WAIT: "workers.wait.resources", REPORT: "jobs.nightly.resources", CACHE: "cache.node.resources",
        METRICS: "cache.metrics.resources",
    }  # fmt: skip
    after = rendered(chart)
    for wl in (API, QUEUE, WAIT, REPORT, CACHE, METRICS):
        assert as_text(after[pod(wl)]) == written(result, wl), wl
        assert USAGE[wl][0] <= mib(after[pod(wl)]["requests"]["memory"]) < 2 * USAGE[wl][0] + 64, wl
    # the exporter's template reads one field: only that one is written, the others are said
    assert written(result, EXPORTER).keys() == {"limits"} and written(result, EXPORTER)["limits"].keys() == {
        "memory"
    }
    assert as_text(after[pod(EXPORTER)]) == written(result, EXPORTER)
    skipped: dict[tuple[str, str], list[str]] = {}
    for s in result["skipped"]:
        skipped.setdefault((s["workload"], s["resource"]), []).append(s["reason"])
    assert sorted(skipped[EXPORTER, "memory"] + skipped[EXPORTER, "cpu"]) == [
        f"exporter.resources.{k} is not read by the chart's template (helm template)"
        for k in ("limits.cpu", "requests.cpu", "requests.memory")
    ]
    # the proxy's block is in its template: skipped, saying so, and its numbers rendered as before
    (reason,) = skipped[PROXY, "all"]
    assert reason.startswith("the chart's template sets Deployment/shop-proxy container proxy's resources "
                             "itself (requests.memory: 64Mi"), reason  # fmt: skip
    assert after[pod(PROXY)] == {"limits": {"memory": "128Mi", "cpu": "100m"},
                                 "requests": {"memory": "64Mi", "cpu": "50m"}}  # fmt: skip
    text = (chart / "values.yaml").read_text()
    assert "  resources: {}        # a decoy: the queue's template reads workers.main.resources" in text
    assert "proxy:\n  replicas: 1          # the proxy's resources are written in its template\n" in text
    helm("lint", "--strict", chart)


def test_without_rendering_the_heuristics_miss_what_the_render_finds(
    chart: Path, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the contrast: from the values' names alone, the queue's numbers land in the decoy and the
    # proxy gets a block nothing reads (this is what apply wrote before session 10)
    result = apply(chart / "values.yaml", data, capsys, "--no-render")
    keys = {c["workload"]: c["key"].rsplit(".", 2)[0] for c in result["changes"]}
    assert keys[QUEUE] == "queue.resources" and keys[PROXY] == "proxy.resources"
    assert API not in keys and CACHE not in keys
    after = rendered(chart)
    assert after[pod(QUEUE)] == {} and after[pod(PROXY)]["limits"]["memory"] == "128Mi"


def test_a_two_word_release_is_guessed_and_a_longer_one_is_given_with_release(
    chart: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # my-shop-api: "my" renders none of them, "my-shop" is tried next
    data = dataset(tmp_path / "d1", {w.replace("shop-", "my-shop-"): u for w, u in USAGE.items()})
    result = apply(chart / "values.yaml", data, capsys, "--dry-run")
    api = "shop/Deployment/my-shop-api/api"
    assert {c["key"].rsplit(".", 2)[0] for c in result["changes"] if c["workload"] == api} == {"server.res"}
    # team-a-shop-api: no guess (team, team-a) renders them: one warning, the values' keys place
    data = dataset(tmp_path / "d2", {w.replace("shop-", "team-a-shop-"): u for w, u in USAGE.items()})
    before = sha(chart / "values.yaml")
    code, _, err = run_cli(["apply", "--helm", str(chart / "values.yaml"), "--data", str(data), "--dry-run"],
                           capsys)  # fmt: skip
    warned = [line for line in err.splitlines() if line.startswith("rightsize: warning: ")]
    assert code == 0 and len(warned) == 1, err
    assert "helm template (release team, team-a) renders none of the data's workloads" in warned[0]
    assert "pass --release NAME: values.yaml is placed from the values' keys" in warned[0]
    assert sha(chart / "values.yaml") == before
    result = apply(chart / "values.yaml", data, capsys, "--release", "team-a-shop")
    api = "shop/Deployment/team-a-shop-api/api"
    assert {c["key"].rsplit(".", 2)[0] for c in result["changes"] if c["workload"] == api} == {"server.res"}
    after = rendered(chart, release="team-a-shop")
    assert as_text(after["Deployment/team-a-shop-api/api"]) == written(result, api)


def test_a_packaged_chart_given_with_chart_is_rendered_with_the_file_kept_apart(
    tmp_path: Path, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    helm("package", FIXTURE, "--destination", tmp_path)
    tgz = tmp_path / "shop-0.1.0.tgz"
    mine = tmp_path / "prod.yaml"
    mine.write_text("# prod overrides\nqueue:\n  replicas: 3\n")
    result = apply(mine, data, capsys, "--chart", str(tgz))
    keys = {c["workload"]: c["key"].rsplit(".", 2)[0] for c in result["changes"]}
    assert keys[API] == "server.res" and keys[QUEUE] == "workers.main.resources"
    after = rendered(tgz, "-f", str(mine))
    for wl in (API, QUEUE, CACHE):
        assert as_text(after[pod(wl)]) == written(result, wl), wl
    assert mine.read_text().startswith("# prod overrides\nqueue:\n  replicas: 3\n")


def test_a_map_still_overrides_the_render(
    chart: Path, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = apply(chart / "values.yaml", data, capsys, "--map", f"{QUEUE}=queue")
    keys = {c["workload"]: c["key"].rsplit(".", 2)[0] for c in result["changes"]}
    assert keys[QUEUE] == "queue.resources" and keys[API] == "server.res"


# a Deployment {{ .Release.Name }}-web with one container web: ANNOTATION and RESOURCES are replaced
WEB = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
  annotations:
    ANNOTATION
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: web:1
RESOURCES"""


def web_deployment(annotation: str, resources: str) -> str:
    return WEB.replace("ANNOTATION", annotation).replace("RESOURCES", resources)


REQUIRED = web_deployment(
    'password: {{ required "db.password is required" .Values.db.password | quote }}',
    "          resources: {{- toYaml .Values.web.resources | nindent 12 }}\n",
)


def test_a_chart_whose_template_fails_is_one_warning_and_the_heuristics_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from helm_helpers import chart_dir

    chart = chart_dir(tmp_path / "web", "web", "db: {}\nweb:\n  resources: {}\n", {"web.yaml": REQUIRED})
    data = dataset(tmp_path / "d", {"shop/Deployment/shop-web/web": (200, 0.2)})
    code, out, err = run_cli(["apply", "--helm", str(chart / "values.yaml"), "--data", str(data)], capsys)
    warned = [line for line in err.splitlines() if "warning" in line or "Traceback" in line]
    assert code == 0 and warned == [
        "rightsize: warning: helm template failed: execution error at (web/templates/web.yaml:6:17): "
        "db.password is required: values.yaml is placed from the values' keys"
    ], err
    assert "web.resources.limits.memory" in out  # placed by its name, as before
    after = yaml.safe_load_all(helm("template", "shop", chart, "--set", "db.password=x"))
    (dep,) = [d for d in after if d]
    assert mib(dep["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["memory"]) >= 200


def test_no_helm_is_one_warning(
    chart: Path, data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RIGHTSIZE_HELM", str(chart / "no-such-helm"))
    code, out, err = run_cli(["apply", "--helm", str(chart / "values.yaml"), "--data", str(data)], capsys)
    warned = [line for line in err.splitlines() if "warning" in line or "Traceback" in line]
    assert code == 0 and warned == [
        f"rightsize: warning: $RIGHTSIZE_HELM={chart / 'no-such-helm'} not found, so the chart's "
        "templates were not rendered: values.yaml is placed from the values' keys"
    ], err
    assert "queue.resources.limits.memory" in out  # the heuristics' guess
    monkeypatch.setenv("RIGHTSIZE_HELM", helm_bin())  # the variable names the binary to use
    shutil.copy(FIXTURE / "values.yaml", chart / "values.yaml")
    code, out, err = run_cli(["apply", "--helm", str(chart / "values.yaml"), "--data", str(data)], capsys)
    assert code == 0 and err == "" and "workers.main.resources.limits.memory" in out, err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--release", "shop"], "rightsize: error: --release works with --helm only"),
        (["--no-render"], "rightsize: error: --no-render works with --helm only"),
    ],
)
def test_helm_only_options_without_helm_are_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    compose = tmp_path / "compose.yaml"
    compose.write_text("services:\n  web:\n    image: busybox\n")
    before = sha(compose)
    code, out, err = run_cli(["apply", "--compose", str(compose), *args], capsys)
    assert (code, out, err) == (2, "", message + "\n")
    assert sha(compose) == before


def test_a_sidecar_and_an_init_container_listed_in_the_values_get_their_list_items(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the db chart renders `range .Values.db.sidecars` and `toYaml .Values.db.initContainers`: the
    # render finds each item (the values' names alone stop at a --map hint)
    from helm_helpers import chart_dir
    from test_helm_template_layouts import DB, DB_EXPORTER, DB_MIGRATE, DB_STS, DB_VALUES

    chart = chart_dir(tmp_path / "db", "db", DB_VALUES, {"sts.yaml": DB_STS})
    usage = {DB_EXPORTER: (30, 0.05), DB_MIGRATE: (60, 0.5), DB: (900, 1.0)}
    result = apply(chart / "values.yaml", dataset(tmp_path / "d", usage), capsys)
    keys = {c["workload"]: c["key"].rsplit(".", 2)[0] for c in result["changes"]}
    assert keys == {
        DB: "db.resources",
        DB_EXPORTER: "db.sidecars[name=exporter].resources",
        DB_MIGRATE: "db.initContainers[name=migrate].resources",
    }
    after = rendered(chart)
    for wl, (mem, _) in usage.items():
        assert as_text(after[pod(wl)]) == written(result, wl), wl
        assert mem <= mib(after[pod(wl)]["requests"]["memory"]) < 2 * mem + 64, wl
    text = (chart / "values.yaml").read_text()
    assert "    - name: exporter   # prometheus metrics\n" in text
    helm("lint", "--strict", chart)


RELATIVE = """\
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: {{ .Release.Name }}-agent
spec:
  selector:
    matchLabels: {app: agent}
  template:
    metadata:
      labels: {app: agent}
    spec:
      containers:
      {{- with .Values.node }}
        - name: agent
          image: agent:1
          resources: {{- toYaml .podRes | nindent 12 }}
      {{- end }}
"""


def test_a_block_read_through_with_is_found_by_its_empty_key_named_like_resources(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `with .Values.node` then `.podRes`: no .Values path in the template names it; the empty
    # `podRes: {}` in the values is tried because its name ends like resources
    from helm_helpers import chart_dir

    chart = chart_dir(tmp_path / "agent", "agent", "node:\n  podRes: {}\n", {"ds.yaml": RELATIVE})
    agent = "shop/DaemonSet/shop-agent/agent"
    result = apply(chart / "values.yaml", dataset(tmp_path / "d", {agent: (120, 0.2)}), capsys)
    assert {c["key"].rsplit(".", 2)[0] for c in result["changes"]} == {"node.podRes"}
    after = rendered(chart)["DaemonSet/shop-agent/agent"]
    assert as_text(after) == written(result, agent) and mib(after["requests"]["memory"]) >= 120


def test_a_whole_clusters_data_tries_the_next_release_when_the_commonest_renders_nothing(
    chart: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # K3s's own pods outnumber the shop's: "svclb" is the commonest first word, rendering under it
    # names none of the data's workloads, so "shop" is tried next (no warning)
    others = {f"kube-system/DaemonSet/svclb-traefik-{i}/lb-tcp-{i}": (10, 0.01) for i in range(10)}
    data = dataset(tmp_path / "d", {**others, **USAGE})
    code, out, err = run_cli(["apply", "--helm", str(chart / "values.yaml"), "--data", str(data)], capsys)
    assert code == 0 and "warning" not in err, err
    after = rendered(chart)
    assert mib(after[pod(QUEUE)]["requests"]["memory"]) >= USAGE[QUEUE][0]
    assert "workers.main.resources.limits.memory" in out


SIZE = '{"type": "object", "additionalProperties": {"type": "string", "pattern": "^[0-9]+(m|Mi|Gi)?$"}}'
SCHEMA = (
    '{"type": "object", "properties": {"web": {"type": "object", "properties": {"resources": '
    f'{{"type": "object", "properties": {{"limits": {SIZE}, "requests": {SIZE}}}}}}}}}}}}}'
)


def test_a_values_schema_does_not_stop_the_render_and_the_written_file_passes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the sentinels (930000Ki) break the chart's schema; the render skips schema validation, and what
    # is written passes it (helm template validates it again below)
    from helm_helpers import chart_dir, workload_template

    tpl = workload_template("Deployment", "{{ .Release.Name }}-site", {"site": ".Values.web.resources"})
    chart = chart_dir(tmp_path / "site", "site", "web:\n  resources: {}\n", {"d.yaml": tpl})
    (chart / "values.schema.json").write_text(SCHEMA)
    site = "shop/Deployment/shop-site/site"
    code, out, err = run_cli(["apply", "--helm", str(chart / "values.yaml"), "--data",
                              str(dataset(tmp_path / "d", {site: (300, 0.3)}))], capsys)  # fmt: skip
    assert code == 0 and err == "", err
    assert "web.resources.limits.memory" in out and "where helm template shows the chart reads it" in out
    after = rendered(chart)["Deployment/shop-site/site"]
    assert mib(after["requests"]["memory"]) >= 300


def test_a_list_item_only_the_charts_defaults_hold_is_skipped_saying_to_copy_the_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from helm_helpers import chart_dir
    from test_helm_template_layouts import DB, DB_EXPORTER, DB_STS, DB_VALUES

    chart = chart_dir(tmp_path / "db", "db", DB_VALUES, {"sts.yaml": DB_STS})
    prod = chart / "values-prod.yaml"
    prod.write_text("db:\n  image: postgres:17\n")
    result = apply(prod, dataset(tmp_path / "d", {DB_EXPORTER: (30, 0.05), DB: (900, 1.0)}), capsys)
    assert {c["workload"] for c in result["changes"]} == {DB}
    (skip,) = [s for s in result["skipped"] if s["resource"] == "all"]
    assert skip["workload"] == DB_EXPORTER and skip["reason"] == (
        "helm template shows StatefulSet/shop-db container exporter reads "
        "db.sidecars[name=exporter].resources, not in this file: no key 'sidecars' under db (the chart's "
        "values have it, and helm replaces a list as a whole: copy the list here)"
    )
    after = rendered(chart, "-f", str(prod))
    assert (
        as_text(after["StatefulSet/shop-db/db"]) == written(result, DB)
        and after["StatefulSet/shop-db/exporter"] == {}
    )


def test_a_shorthand_looking_block_the_template_reads_as_limits_and_requests_gets_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `resources: {memory: 2Gi}` looks like neo4j's shorthand, but this template copies the block
    # (toYaml): the render shows limits/requests are what is read, so those are written
    from helm_helpers import chart_dir, workload_template

    tpl = workload_template("Deployment", "{{ .Release.Name }}-app", {"app": ".Values.app.resources"})
    chart = chart_dir(tmp_path / "app", "app", "app:\n  resources:\n    memory: 2Gi\n", {"d.yaml": tpl})
    app = "shop/Deployment/shop-app/app"
    result = apply(chart / "values.yaml", dataset(tmp_path / "d", {app: (300, 0.3)}), capsys)
    assert written(result, app).keys() == {"limits", "requests"}
    after = rendered(chart)["Deployment/shop-app/app"]
    assert as_text({k: after[k] for k in ("limits", "requests")}) == written(result, app)


POOL = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-{{ .Chart.Name }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: {{ .Chart.Name }}}
  template:
    metadata:
      labels: {app: {{ .Chart.Name }}}
    spec:
      containers:
        - name: {{ .Chart.Name }}
          image: worker:1
          {{- if .Values.pool }}{{- with .Values.pool.res }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}{{- end }}
"""


def test_a_key_only_an_aliased_subcharts_template_names_is_found_under_each_alias(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the worker subchart, installed twice (aliases fast, slow), reads .Values.pool.res, which no
    # values file holds: its template names it, so fast.pool.res and slow.pool.res are tried
    from helm_helpers import chart_dir

    deps = ("dependencies:\n  - {name: worker, version: 0.1.0, alias: fast}\n"
            "  - {name: worker, version: 0.1.0, alias: slow}\n")  # fmt: skip
    shop = chart_dir(tmp_path / "shop", "shop", "# parent\nfast:\n  replicas: 2\n", {}, deps)
    chart_dir(shop / "charts" / "worker", "worker", "replicas: 1\n", {"d.yaml": POOL})
    fast, slow = "shop/Deployment/shop-fast/fast", "shop/Deployment/shop-slow/slow"
    result = apply(
        shop / "values.yaml", dataset(tmp_path / "d", {fast: (400, 0.4), slow: (100, 0.1)}), capsys
    )
    keys = {c["workload"]: c["key"].rsplit(".", 2)[0] for c in result["changes"]}
    assert keys == {fast: "fast.pool.res", slow: "slow.pool.res"}
    after = rendered(shop)
    for wl, (mem, _) in ((fast, (400, 0)), (slow, (100, 0))):
        assert as_text(after[pod(wl)]) == written(result, wl) and mem <= mib(
            after[pod(wl)]["requests"]["memory"]
        )
    assert (
        (shop / "values.yaml").read_text().startswith("# parent\nfast:\n  replicas: 2\n  pool:\n    res:\n")
    )
    helm("lint", "--strict", shop)


def test_an_undeclared_block_a_subcharts_template_reads_gets_the_main_containers_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the cache subchart declares metrics.resources only; its main container reads .Values.resources
    # (undeclared): the values' names alone skip it (test_helm_template), the render places it
    from helm_helpers import chart_dir, workload_template

    deps = "dependencies:\n  - name: cache\n    version: 0.1.0\n"
    shop = chart_dir(tmp_path / "shop", "shop", "cache:\n  maxmemory: 800mb\n", {}, deps)
    reads = {"cache": ".Values.resources", "metrics": ".Values.metrics.resources"}
    tpl = workload_template("StatefulSet", "{{ .Release.Name }}-cache", reads)
    values = "maxmemory: 100mb\nmetrics:\n  image: exporter:1\n  resources: {}\n"
    chart_dir(shop / "charts" / "cache", "cache", values, {"sts.yaml": tpl})
    main, sidecar = "shop/StatefulSet/shop-cache/cache", "shop/StatefulSet/shop-cache/metrics"
    result = apply(
        shop / "values.yaml", dataset(tmp_path / "d", {main: (900, 1.0), sidecar: (30, 0.05)}), capsys
    )
    keys = {c["workload"]: c["key"].rsplit(".", 2)[0] for c in result["changes"]}
    assert keys == {main: "cache.resources", sidecar: "cache.metrics.resources"}
    after = rendered(shop)
    assert (
        as_text(after[pod(main)]) == written(result, main)
        and mib(after[pod(main)]["requests"]["memory"]) >= 900
    )
    assert as_text(after[pod(sidecar)]) == written(result, sidecar)
    assert mib(after[pod(sidecar)]["limits"]["memory"]) < 900


def test_two_containers_the_template_gives_one_block_get_the_larger_ones_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from helm_helpers import ONE_BLOCK_PROXY, one_block_for_two

    # the proxy (sorting after app) needs more memory: its numbers are written, so both fit (the
    # helper checks that only the proxy's block is written and the app is skipped as held)
    proxy = ONE_BLOCK_PROXY
    chart, result = one_block_for_two(tmp_path, capsys, app=(50, 0.05), proxy=(300, 0.3))
    after = rendered(chart)
    assert as_text(after["Deployment/shop-app/proxy"]) == written(result, proxy)
    assert after["Deployment/shop-app/app"] == after["Deployment/shop-app/proxy"]
    assert mib(after["Deployment/shop-app/app"]["requests"]["memory"]) >= 300


def test_another_releases_workload_the_values_names_would_match_is_not_written(
    chart: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # K3s's metrics-server: dropping a "release prefix", its name matches the shop's `server:` key;
    # the render shows the shop chart renders no such workload, so nothing of it is written there
    other = "kube-system/Deployment/metrics-server/metrics-server"
    data = dataset(tmp_path / "d", {**USAGE, other: (60, 0.1)})
    no_render = apply(chart / "values.yaml", data, capsys, "--no-render", "--dry-run")
    assert {c["key"].rsplit(".", 2)[0] for c in no_render["changes"] if c["workload"] == other} == {
        "server.resources"
    }  # what the values' names alone did
    result = apply(chart / "values.yaml", data, capsys)
    assert not [c for c in result["changes"] if c["workload"] == other]
    (why,) = [s["reason"] for s in result["skipped"] if s["workload"] == other and s["resource"] == "all"]
    assert why.startswith("helm template (release shop) renders no Deployment/metrics-server container "
                          "metrics-server from this chart, so server.resources is not its"), why  # fmt: skip
    assert "server:\n  image: api:1\n  res:" in (chart / "values.yaml").read_text()


PER_COMPONENT = web_deployment(
    'sized: {{ if .Values.resources }}"yes"{{ else }}"no"{{ end }}',
    "          {{- with .Values.resources.web }}\n"
    "          resources:\n"
    "            {{- toYaml . | nindent 12 }}\n"
    "          {{- end }}\n",
)


def test_a_per_component_resources_map_stays_per_component_when_a_template_names_it_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from helm_helpers import chart_dir

    values = "resources:\n  web:\n    limits: {memory: 1Gi}\n  worker: {}\n"
    chart = chart_dir(tmp_path / "web", "web", values, {"d.yaml": PER_COMPONENT})
    web = "shop/Deployment/shop-web/web"
    result = apply(chart / "values.yaml", dataset(tmp_path / "d", {web: (200, 0.2)}), capsys)
    assert {c["key"].rsplit(".", 2)[0] for c in result["changes"]} == {"resources.web"}
    after = rendered(chart)["Deployment/shop-web/web"]
    assert as_text(after) == written(result, web) and mib(after["limits"]["memory"]) < 1024


def test_a_map_to_a_block_the_render_gives_another_container_comes_first(
    chart: Path, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the user maps the report job onto workers.main (where the queue's template reads): the --map
    # is written, the queue (larger, found by the render) is skipped as already held
    result = apply(chart / "values.yaml", data, capsys, "--map", f"{REPORT}=workers.main")
    keys = {c["workload"]: c["key"].rsplit(".", 2)[0] for c in result["changes"]}
    assert keys[REPORT] == "workers.main.resources" and QUEUE not in keys
    (why,) = [s["reason"] for s in result["skipped"] if s["workload"] == QUEUE and s["resource"] == "all"]
    assert why == f"workers.main.resources already holds {REPORT}"
