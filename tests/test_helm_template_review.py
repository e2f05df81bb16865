"""``apply --helm`` against the real ``helm`` in chart layouts the other helm tests do not build: a
``--map`` beside a Chart.yaml (the chart's defaults still count), symlinked subchart folders, large
files under charts/ that are not charts, dependencies in ``requirements.yaml``, chart files that are
not YAML, another pod's container named like a subchart's block, a subchart's own subchart, an
overrides file's null subchart key, two subcharts whose names the same pod's name holds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from cli_helpers import run_cli
from helm_helpers import (
    SHOP,
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

from rightsize.targets import valuepath
from rightsize.targets.helmplace import parse_map

REDIS = "shop/StatefulSet/shop-redis-master/redis"


def test_a_map_beside_a_chart_keeps_a_request_under_the_limit_the_subchart_keeps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # krr recommends a CPU request and no limit; the packaged subchart keeps limits.cpu 100m by
    # default. Guessed, the place knew it; through --map it did not: requests.cpu 500m was written
    # and helm rendered a request above the limit, a pod the API server refuses.
    shop = with_packaged_redis(tmp_path, "# parent\nredis: {}\n")
    data = dataset(tmp_path / "d", {REDIS: (100, 0.5)})
    result = apply(shop / "values.yaml", data, capsys, "--strategy", "krr", "--map", f"{REDIS}=redis.master")
    why = [s["reason"] for s in result["skipped"] if s["resource"] == "cpu"]
    assert any("above limits.cpu 100m (the chart's default) left in place" in w for w in why), why
    rendered = render(shop)["StatefulSet", "shop-redis-master"]["redis"]
    check_sane(rendered)
    assert rendered["limits"]["cpu"] == "100m" and "cpu" not in rendered["requests"]
    assert as_text(rendered)["requests"] == written(result, REDIS)["requests"]
    helm("lint", "--strict", shop)


PG = "shop/StatefulSet/shop-postgresql/postgresql"


def pg_chart(root: Path) -> Path:
    """A bitnami-like postgresql: its container reads primary.resources."""
    tpl = workload_template(
        "StatefulSet", "{{ .Release.Name }}-postgresql", {"postgresql": ".Values.primary.resources"}
    )
    return chart_dir(root, "postgresql", "primary:\n  resources: {}\n", {"sts.yaml": tpl})


def test_a_symlinked_subchart_folder_is_read_as_helm_follows_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # charts/postgresql -> ../../postgresql (a monorepo's shared chart): helm follows the link and
    # renders the subchart; rightsize did not look into it, took postgresql: for a plain key and
    # wrote postgresql.resources, which nothing reads (helm rendered no resources).
    shop = chart_dir(
        tmp_path / "app" / "shop", "shop", "# parent\npostgresql:\n  auth: {database: shop}\n", {}
    )
    pg_chart(tmp_path / "postgresql")
    (shop / "charts").mkdir()
    (shop / "charts" / "postgresql").symlink_to("../../../postgresql", target_is_directory=True)
    result = apply(shop / "values.yaml", dataset(tmp_path / "d", {PG: (900, 1.0)}), capsys)
    assert {c["key"].rsplit(".", 2)[0] for c in result["changes"]} == {"postgresql.primary.resources"}
    rendered = render(shop)["StatefulSet", "shop-postgresql"]["postgresql"]
    assert as_text(rendered) == written(result, PG) and mib(rendered["requests"]["memory"]) >= 900


def test_a_large_archive_in_a_subcharts_files_does_not_hide_the_chart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Only charts/*.tgz are charts to helm; every .tgz below charts/ was read, and one over 64 MiB in
    # a subchart's files/ (that .helmignore keeps out of helm's way) made the whole chart unreadable:
    # postgresql.resources was written from the file alone, where nothing reads it.
    shop = chart_dir(tmp_path / "shop", "shop", "postgresql:\n  auth: {database: shop}\n", {})
    pg = pg_chart(shop / "charts" / "postgresql")
    (pg / "files").mkdir()
    with (pg / "files" / "seed.tgz").open("wb") as f:
        f.truncate(65 * 1024**2)  # sparse: no disk used
    (shop / ".helmignore").write_text("seed.tgz\n")  # else helm refuses any chart file over 5 MiB
    data = dataset(tmp_path / "d", {PG: (900, 1.0)})
    code, out, err = run_cli(
        ["apply", "--helm", str(shop / "values.yaml"), "--data", str(data), "--format", "json"], capsys
    )
    assert code == 0 and "warning" not in err, err
    result = json.loads(out)["results"][0]
    assert {c["key"].rsplit(".", 2)[0] for c in result["changes"]} == {"postgresql.primary.resources"}
    rendered = render(shop)["StatefulSet", "shop-postgresql"]["postgresql"]
    assert as_text(rendered) == written(result, PG)


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_dependencies_in_requirements_yaml_are_read_with_their_aliases(
    api: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An apiVersion v1 chart lists its dependencies in requirements.yaml (helm reads that file for v2
    # too). Its alias was not seen: the subchart `web` aliased `frontend` was taken for a chart at
    # `web:`. The frontend's numbers went to frontend.resources (the subchart reads main.resources)
    # and another cluster's `web` workload got web.main.resources: helm rendered neither.
    shop = chart_dir(tmp_path / "shop", "shop", "# parent\nfrontend:\n  replicas: 2\n", {})
    (shop / "Chart.yaml").write_text(f"apiVersion: {api}\nname: shop\nversion: 0.1.0\n")
    deps = "dependencies:\n  - name: web\n    version: 0.1.0\n    alias: frontend\n"
    (shop / "requirements.yaml").write_text(deps)
    tpl = workload_template(
        "Deployment", "{{ .Release.Name }}-{{ .Chart.Name }}", {"{{ .Chart.Name }}": ".Values.main.resources"}
    )
    chart_dir(shop / "charts" / "web", "web", "main:\n  resources: {}\n", {"d.yaml": tpl})
    frontend, other = "shop/Deployment/shop-frontend/frontend", "shop/Deployment/shop-web/web"
    result = apply(
        shop / "values.yaml", dataset(tmp_path / "d", {frontend: (100, 0.5), other: (300, 0.2)}), capsys
    )
    keys = {c["workload"]: c["key"].rsplit(".", 2)[0] for c in result["changes"]}
    assert keys == {frontend: "frontend.main.resources"}
    rendered = render(shop)["Deployment", "shop-frontend"]["frontend"]
    assert as_text(rendered) == written(result, frontend) and mib(rendered["requests"]["memory"]) >= 100


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("Chart.yaml", b"\x00\x01 binary", "Chart.yaml: invalid YAML: unacceptable character #x0000"),
        ("Chart.yaml", b"name: web\nname: web2\n", 'Chart.yaml: invalid YAML: found duplicate key "name"'),
        ("requirements.yaml", b"dependencies: [\n", "requirements.yaml: invalid YAML: expected the node"),
    ],
)
def test_a_chart_file_that_is_not_yaml_is_named_in_a_short_warning(
    name: str, content: bytes, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The warning quoted the loader's whole message ('in "<unicode string>", line 1 ... To suppress
    # this check see: https://...') and, for a binary Chart.yaml, named no file at all.
    chart = chart_dir(tmp_path / "web", "web", "web:\n  resources: {}\n", {})
    (chart / name).write_bytes(content)
    data = dataset(tmp_path / "d", {"shop/Deployment/shop-web/web": (200, 0.3)})
    code, _, err = run_cli(["apply", "--helm", str(chart / "values.yaml"), "--data", str(data)], capsys)
    assert code == 0, err
    (warn,) = [line for line in err.splitlines() if "warning" in line]
    assert f"{chart}/{says}" in warn and "unicode string" not in warn and "https://" not in warn, warn
    assert "values.yaml is placed from its own keys" in warn


def test_another_pods_sidecar_named_like_a_subcharts_exporter_does_not_take_its_block(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The shop's api runs a sidecar `metrics` too. Looking one level down for a block named like the
    # container, it found the postgresql subchart's metrics.resources (a default the parent file does
    # not even hold): helm rendered the api sidecar's 400 MiB on postgresql's exporter, whose own
    # numbers were skipped ('already holds shop-api/metrics').
    deps = "dependencies:\n  - name: postgresql\n    version: 0.1.0\n"
    api = workload_template(
        "Deployment", "{{ .Release.Name }}-api", {"metrics": ".Values.apiMetrics.resources"}
    )
    values = "# parent\napiMetrics: {}\npostgresql:\n  auth: {database: shop}\n"
    shop = chart_dir(tmp_path / "shop", "shop", values, {"api.yaml": api}, deps)
    sts = workload_template(
        "StatefulSet",
        "{{ .Release.Name }}-postgresql",
        {"postgresql": ".Values.primary.resources", "metrics": ".Values.metrics.resources"},
    )
    pg_values = "primary:\n  resources: {}\nmetrics:\n  resources: {}\n"
    chart_dir(shop / "charts" / "postgresql", "postgresql", pg_values, {"sts.yaml": sts})
    api_metrics, pg_metrics = "shop/Deployment/shop-api/metrics", "shop/StatefulSet/shop-postgresql/metrics"
    data = dataset(tmp_path / "d", {api_metrics: (400, 0.4), PG: (900, 1.0), pg_metrics: (30, 0.05)})
    result = apply(shop / "values.yaml", data, capsys)
    keys = {c["workload"]: c["key"].rsplit(".", 2)[0] for c in result["changes"]}
    # (session 10: rendering the chart finds the key the api's sidecar is read from, apiMetrics)
    assert keys == {PG: "postgresql.primary.resources", pg_metrics: "postgresql.metrics.resources",
                    api_metrics: "apiMetrics.resources"}  # fmt: skip
    after = render(shop)
    exporter = after["StatefulSet", "shop-postgresql"]["metrics"]
    assert as_text(exporter) == written(result, pg_metrics) and mib(exporter["limits"]["memory"]) < 400
    sidecar = after["Deployment", "shop-api"]["metrics"]
    assert as_text(sidecar) == written(result, api_metrics) and mib(sidecar["requests"]["memory"]) >= 400


def test_a_subcharts_pod_takes_its_block_before_another_pods_sidecar_of_the_same_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The shop's web runs a `redis` sidecar; the redis subchart's master runs a container `redis`.
    # Both reached redis.master.resources by the container's name and the first in name order (the
    # Deployment's sidecar) took it: helm rendered the master that uses 700 MiB with a 256 MiB
    # limit, and the master's own numbers were skipped. The pod named like the block claims it first.
    deps = "dependencies:\n  - name: redis\n    version: 0.1.0\n"
    web = workload_template("Deployment", "{{ .Release.Name }}-web", {"redis": ".Values.webRedis.resources"})
    shop = chart_dir(tmp_path / "shop", "shop", "# parent\nwebRedis: {}\n", {"web.yaml": web}, deps)
    sts = workload_template(
        "StatefulSet", "{{ .Release.Name }}-redis-master", {"redis": ".Values.master.resources"}
    )
    values = "master:\n  resources: {}\nreplica:\n  resources: {}\n"
    chart_dir(shop / "charts" / "redis", "redis", values, {"sts.yaml": sts})
    sidecar = "shop/Deployment/shop-web/redis"
    result = apply(
        shop / "values.yaml", dataset(tmp_path / "d", {sidecar: (50, 0.1), REDIS: (700, 0.5)}), capsys
    )
    # (session 10: rendering the chart finds the sidecar's own key, webRedis)
    assert {c["workload"]: c["key"].rsplit(".", 2)[0] for c in result["changes"]} == {
        REDIS: "redis.master.resources", sidecar: "webRedis.resources"
    }
    after = render(shop)
    master = after["StatefulSet", "shop-redis-master"]["redis"]
    assert as_text(master) == written(result, REDIS) and mib(master["requests"]["memory"]) >= 700
    own = after["Deployment", "shop-web"]["redis"]
    assert as_text(own) == written(result, sidecar) and mib(own["limits"]["memory"]) < 700


@pytest.mark.parametrize(
    "parent", ["postgresql:\n    auth: {database: shop}\n", "postgresql:\n    resources: {}\n"]
)
def test_a_subcharts_own_subchart_gets_its_block_where_it_reads_it(
    parent: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # shop -> backend -> postgresql (reads primary.resources), two levels down. Only the top-level
    # subcharts were known: the workload could not be placed, or, when the parent's file held a
    # backend.postgresql.resources, got that block, which the nested chart never reads.
    deps = "dependencies:\n  - name: {}\n    version: 0.1.0\n"
    values = f"# umbrella\nbackend:\n  replicas: 1\n  {parent}"
    shop = chart_dir(tmp_path / "shop", "shop", values, {}, deps.format("backend"))
    backend = chart_dir(
        shop / "charts" / "backend", "backend", "replicas: 2\n", {}, deps.format("postgresql")
    )
    pg_chart(backend / "charts" / "postgresql")
    assert render(shop)["StatefulSet", "shop-postgresql"]["postgresql"] == {}
    result = apply(shop / "values.yaml", dataset(tmp_path / "d", {PG: (900, 1.0)}), capsys)
    assert {c["key"].rsplit(".", 2)[0] for c in result["changes"]} == {"backend.postgresql.primary.resources"}
    rendered = render(shop)["StatefulSet", "shop-postgresql"]["postgresql"]
    assert as_text(rendered) == written(result, PG) and mib(rendered["requests"]["memory"]) >= 900
    helm("lint", "--strict", shop)


def test_an_overrides_files_null_subchart_key_leaves_the_subcharts_defaults_in_view(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `postgresql:` with only comments under it is null; helm still renders the subchart with its
    # defaults. The view kept the null, so the subchart was not seen: 'cannot place: no values key
    # matches this workload'.
    deps = "dependencies:\n  - name: postgresql\n    version: 0.1.0\n"
    shop = chart_dir(tmp_path / "shop", "shop", "postgresql:\n  auth: {database: shop}\n", {}, deps)
    pg_chart(shop / "charts" / "postgresql")
    prod = shop / "values-prod.yaml"
    prod.write_text("postgresql:\n  # auth:\n  #   database: prod\n")
    result = apply(prod, dataset(tmp_path / "d", {PG: (900, 1.0)}), capsys)
    assert {c["key"].rsplit(".", 2)[0] for c in result["changes"]} == {"postgresql.primary.resources"}
    assert "  #   database: prod\n" in prod.read_text()
    docs = yaml.safe_load_all(helm("template", "shop", shop, "-f", prod))
    (sts,) = [d for d in docs if d and d["kind"] == "StatefulSet"]
    rendered = sts["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert as_text(rendered) == written(result, PG) and mib(rendered["requests"]["memory"]) >= 900


def test_a_pod_named_after_the_longer_of_two_subcharts_gets_that_ones_blocks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # bitnami's postgresql (disabled) and postgresql-ha side by side: the HA StatefulSet
    # shop-postgresql-ha-postgresql holds both names. Its exporter `metrics` got the postgresql
    # subchart's metrics block (first in the file), which helm does not even render.
    cond = "    version: 0.1.0\n    condition: {}.enabled\n"
    deps = f"dependencies:\n  - name: postgresql\n{cond.format('postgresql')}"
    deps += f"  - name: postgresql-ha\n{cond.format('postgresql-ha')}"
    values = "postgresql:\n  enabled: false\npostgresql-ha:\n  enabled: true\n"
    shop = chart_dir(tmp_path / "shop", "shop", values, {}, deps)
    pg_chart(shop / "charts" / "postgresql")
    (shop / "charts" / "postgresql" / "values.yaml").write_text(
        "primary:\n  resources: {}\nmetrics:\n  resources: {}\n"
    )
    pods = {
        "postgresql-ha-postgresql": {
            "postgresql": ".Values.postgresql.resources",
            "metrics": ".Values.metrics.resources",
        },
        "postgresql-ha-pgpool": {"pgpool": ".Values.pgpool.resources"},
    }
    tpl = {
        f"{n}.yaml": workload_template("StatefulSet", f"{{{{ .Release.Name }}}}-{n}", c)
        for n, c in pods.items()
    }
    ha_values = "postgresql:\n  resources: {}\npgpool:\n  resources: {}\nmetrics:\n  resources: {}\n"
    chart_dir(shop / "charts" / "postgresql-ha", "postgresql-ha", ha_values, tpl)
    usage = {
        "shop/StatefulSet/shop-postgresql-ha-postgresql/postgresql": (900, 1.0),
        "shop/StatefulSet/shop-postgresql-ha-postgresql/metrics": (40, 0.05),
        "shop/StatefulSet/shop-postgresql-ha-pgpool/pgpool": (300, 0.3),
    }
    result = apply(shop / "values.yaml", dataset(tmp_path / "d", usage), capsys)
    assert {c["workload"].rsplit("/", 1)[1]: c["key"].rsplit(".", 2)[0] for c in result["changes"]} == {
        "postgresql": "postgresql-ha.postgresql.resources",
        "metrics": "postgresql-ha.metrics.resources",
        "pgpool": "postgresql-ha.pgpool.resources",
    }
    after = render(shop)
    for wl, (used, _) in usage.items():
        sts, container = wl.split("/")[2:]
        rendered = after["StatefulSet", sts][container]
        assert as_text(rendered) == written(result, wl) and mib(rendered["requests"]["memory"]) >= used, wl
    helm("lint", "--strict", shop)


def test_one_chart_under_two_aliases_from_a_renamed_folder_by_a_relative_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Layouts checked in this review that were already right (kept as a guard): the umbrella's folder
    # is not named like its chart, helm create's scaffold is a dependency twice (frontend, admin) and
    # a third time disabled (cache), and the values file is given relative to another folder.
    shop = create(tmp_path, "shop-chart")
    (shop / "Chart.yaml").write_text(
        (shop / "Chart.yaml").read_text().replace("name: shop-chart", "name: shop")
    )
    dep = "  - name: web\n    version: 0.1.0\n    alias: {}\n"
    deps = "dependencies:\n" + dep.format("frontend") + dep.format("admin") + dep.format("cache")
    (shop / "Chart.yaml").write_text(
        (shop / "Chart.yaml").read_text() + deps + "    condition: cache.enabled\n"
    )
    values = (shop / "values.yaml").read_text()
    (shop / "values.yaml").write_text(
        "frontend:\n  replicaCount: 2\nadmin: {}\ncache:\n  enabled: false\n" + values
    )
    create(shop / "charts", "web")
    frontend, admin = "shop/Deployment/shop-frontend/frontend", "shop/Deployment/shop-admin/admin"
    usage = {frontend: (100, 0.5), admin: (300, 0.2), SHOP: (150, 0.1)}
    data = dataset(tmp_path / "d", usage)
    monkeypatch.chdir(shop / "charts")
    result = apply(Path("../values.yaml"), data, capsys)
    keys = {c["workload"]: c["key"].rsplit(".", 2)[0] for c in result["changes"]}
    assert keys == {frontend: "frontend.resources", admin: "admin.resources", SHOP: "resources"}
    after = render(shop)
    assert ("Deployment", "shop-cache") not in after
    for wl, (used, _) in usage.items():
        sts, container = wl.split("/")[2:]
        rendered = after["Deployment", sts][container]
        assert as_text(rendered) == written(result, wl) and mib(rendered["requests"]["memory"]) >= used, wl
    helm("lint", "--strict", shop)


def test_a_subchart_whose_values_nest_thousands_deep_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The walks over a chart's values recurse per level: this was a RecursionError traceback.
    chart = chart_dir(tmp_path / "web", "web", "web:\n  resources: {}\n", {})
    chart_dir(chart / "charts" / "deep", "deep", "a: " + "[" * 3000 + "]" * 3000 + "\n", {})
    data = dataset(tmp_path / "d", {"shop/Deployment/shop-web/web": (200, 0.3)})
    code, out, err = run_cli(["apply", "--helm", str(chart / "values.yaml"), "--data", str(data)], capsys)
    assert code == 0, err
    (warn,) = [line for line in err.splitlines() if "warning" in line]
    why = "chart not read (values nested too deeply); values.yaml is placed from its own keys"
    assert warn == f"rightsize: warning: {chart}: {why}"
    assert "web.resources.limits.memory" in out


@pytest.mark.parametrize("key", ['"quoted"', "'single'", "a=b", "x.y", "[0]", "it's", "c:\\dir", "plain"])
def test_a_key_renders_as_a_path_that_reads_back_and_map_takes(key: str) -> None:
    # Change keys and --map hints are rendered paths. A key starting with a quote ('"0"') rendered
    # as "0" (read back as the key 0), and one holding '=' (a=b) as a=b, which --map splits.
    steps = (valuepath.Key("top"), valuepath.Key(key), valuepath.Key("resources"))
    spelled = valuepath.render(steps)
    assert valuepath.parse(spelled) == steps, spelled
    assert parse_map([f"shop/web={spelled}"]) == {"shop/web": spelled}
