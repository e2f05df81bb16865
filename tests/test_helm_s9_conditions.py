"""``apply --helm`` and subcharts helm does not render: a dependency's ``condition`` (in the chart's
defaults, a subchart's, or the file being patched; the first path holding a boolean wins; YAML 1.1
``no``), its ``tags`` (condition over tags; a subchart's own defaults' tags for its dependencies),
from Chart.yaml or an apiVersion v1 requirements.yaml. Each case is rendered with the real
``helm template`` (3.17.3): a turned-off subchart's workload is not rendered, and rightsize writes
nothing for it and says why; a subchart turned on by the file gets its block where helm reads it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import sha
from helm_helpers import (
    PG,
    WEB,
    apply,
    as_text,
    chart_dir,
    dataset,
    helm,
    render_with,
    workload_template,
    written,
)

REDIS = "shop/StatefulSet/shop-redis-master/redis"
PG_STS = ("StatefulSet", "shop-postgresql")
REDIS_STS = ("StatefulSet", "shop-redis-master")


def _pg_subchart(parent: Path) -> None:
    """A bitnami-like postgresql (``primary.resources``) in ``parent``'s charts/ folder."""
    pg = workload_template(
        "StatefulSet", "{{ .Release.Name }}-postgresql", {"postgresql": ".Values.primary.resources"}
    )
    chart_dir(parent / "charts" / "postgresql", "postgresql", "primary:\n  resources: {}\n", {"sts.yaml": pg})


def shop_chart(root: Path, values: str, deps: str, requirements: str | None = None) -> Path:
    """``shop`` (its own Deployment ``shop-web`` reading ``web.resources``) with two subchart folders:
    a bitnami-like postgresql (``primary.resources``) and redis (``master.resources``)."""
    web = workload_template("Deployment", "{{ .Release.Name }}-web", {"web": ".Values.web.resources"})
    shop = chart_dir(root / "shop", "shop", values, {"web.yaml": web}, deps)
    pg = workload_template(
        "StatefulSet", "{{ .Release.Name }}-postgresql", {"postgresql": ".Values.primary.resources"}
    )
    chart_dir(shop / "charts" / "postgresql", "postgresql", "primary:\n  resources: {}\n", {"sts.yaml": pg})
    redis = workload_template(
        "StatefulSet", "{{ .Release.Name }}-redis-master", {"redis": ".Values.master.resources"}
    )
    chart_dir(shop / "charts" / "redis", "redis", "master:\n  resources: {}\n", {"sts.yaml": redis})
    if requirements is not None:
        (shop / "requirements.yaml").write_text(requirements)
    return shop


DEPS = (
    "dependencies:\n"
    "  - name: postgresql\n    version: 0.1.0\n    condition: postgresql.enabled\n"
    "  - name: redis\n    version: 0.1.0\n    condition: redis.enabled\n"
)
USAGE = {WEB: (200, 0.3), PG: (900, 1.0), REDIS: (400, 0.5)}


def _reasons(result: dict) -> dict[str, str]:  # type: ignore[type-arg]
    return {s["workload"]: s["reason"] for s in result["skipped"] if s["resource"] == "all"}


def test_a_subchart_turned_off_in_the_charts_defaults_gets_no_block(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The data still holds the postgresql of an earlier release; the chart now uses an external
    # database (postgresql.enabled: false, bitnami's usual switch). helm renders no postgresql, so a
    # block written under postgresql.primary would be read by nothing: it is skipped, with the reason.
    values = (
        "web:\n  resources: {}\n"
        "postgresql:\n  enabled: false\n  auth:\n    database: shop\nredis:\n  enabled: true\n"
    )
    shop = shop_chart(tmp_path, values, DEPS)
    rendered = render_with(shop)
    assert PG_STS not in rendered and REDIS_STS in rendered
    result = apply(shop / "values.yaml", dataset(tmp_path / "d", USAGE), capsys)
    assert {c["workload"] for c in result["changes"]} == {WEB, REDIS}
    why = _reasons(result)[PG]
    assert "postgresql is turned off by its condition: values.yaml sets postgresql.enabled: false" in why
    assert "primary" not in (shop / "values.yaml").read_text()
    after = render_with(shop)
    assert PG_STS not in after
    assert as_text(after["Deployment", "shop-web"]["web"]) == written(result, WEB)
    assert as_text(after[REDIS_STS]["redis"]) == written(result, REDIS)
    helm("lint", "--strict", shop)


def test_the_file_being_patched_turns_a_subchart_off_or_on_over_the_defaults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Defaults: postgresql on, redis off. values-prod.yaml (helm install -f) turns postgresql off with
    # a plain YAML 1.1 `no` (helm reads it as false) and redis on: the file's values decide.
    values = "web:\n  resources: {}\npostgresql:\n  enabled: true\nredis:\n  enabled: false\n"
    shop = shop_chart(tmp_path, values, DEPS)
    prod = shop / "values-prod.yaml"
    prod.write_text("# prod\npostgresql:\n  enabled: no   # external database\nredis:\n  enabled: true\n")
    assert PG_STS not in render_with(shop, prod) and REDIS_STS in render_with(shop, prod)
    result = apply(prod, dataset(tmp_path / "d", USAGE), capsys)
    assert {c["workload"] for c in result["changes"]} == {WEB, REDIS}
    assert "values-prod.yaml sets postgresql.enabled: no" in _reasons(result)[PG]
    after = render_with(shop, prod)
    assert PG_STS not in after
    assert as_text(after[REDIS_STS]["redis"]) == written(result, REDIS)
    assert as_text(after["Deployment", "shop-web"]["web"]) == written(result, WEB)
    assert next(c["key"] for c in result["changes"] if c["workload"] == REDIS).startswith("redis.master.")
    # the chart's own values.yaml (redis off there) places postgresql, not redis
    again = apply(shop / "values.yaml", dataset(tmp_path / "d2", USAGE), capsys)
    assert {c["workload"] for c in again["changes"]} == {WEB, PG}
    assert "redis.enabled is false by the chart's defaults" not in _reasons(again)[REDIS]
    assert "values.yaml sets redis.enabled: false" in _reasons(again)[REDIS]
    assert as_text(render_with(shop)[PG_STS]["postgresql"]) == written(again, PG)


@pytest.mark.parametrize(
    ("values", "pg_on"),
    [
        # the first path holding a boolean wins; a missing one, a null or a quoted "false" is passed over
        ("global:\n  postgresql:\n    enabled: false\n", False),
        ("postgresql:\n  enabled: true\nglobal:\n  postgresql:\n    enabled: false\n", True),
        ("postgresql:\n  enabled: 'false'\nglobal:\n  postgresql:\n    enabled: false\n", False),
        ("postgresql:\n  enabled: null\n", True),
        ('postgresql:\n  enabled: "false"\n', True),
    ],
)
def test_the_first_condition_path_holding_a_boolean_decides(
    values: str, pg_on: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deps = (
        "dependencies:\n  - name: postgresql\n    version: 0.1.0\n"
        "    condition: postgresql.enabled,global.postgresql.enabled\n"
    )
    shop = shop_chart(tmp_path, "web:\n  resources: {}\n", deps)
    over = shop / "values-over.yaml"
    over.write_text(values)
    assert (PG_STS in render_with(shop, over)) is pg_on
    result = apply(over, dataset(tmp_path / "d", {WEB: (200, 0.3), PG: (900, 1.0)}), capsys)
    placed = {c["workload"] for c in result["changes"]}
    assert (PG in placed) is pg_on, result["skipped"]
    after = render_with(shop, over)
    if pg_on:
        assert as_text(after[PG_STS]["postgresql"]) == written(result, PG)
    else:
        assert PG_STS not in after and "turned off by its condition" in _reasons(result)[PG]


def test_tags_turn_subcharts_off_and_a_condition_decides_over_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # apiVersion v1 style: the dependencies (with tags) in requirements.yaml. Both subcharts carry the
    # tag `backing`, turned off; redis's condition (true in its own defaults) decides over the tag.
    req = (
        "dependencies:\n"
        "  - name: postgresql\n    version: 0.1.0\n    tags: [backing]\n"
        "  - name: redis\n    version: 0.1.0\n    tags: [backing, cache]\n    condition: redis.enabled\n"
    )
    shop = shop_chart(tmp_path, "web:\n  resources: {}\ntags:\n  backing: false\n", "", req)
    (shop / "charts" / "redis" / "values.yaml").write_text("enabled: true\nmaster:\n  resources: {}\n")
    rendered = render_with(shop)
    assert PG_STS not in rendered and REDIS_STS in rendered
    data = dataset(tmp_path / "d", USAGE)
    result = apply(shop / "values.yaml", data, capsys)
    assert {c["workload"] for c in result["changes"]} == {WEB, REDIS}
    assert (
        "postgresql is turned off by its tags (none true): values.yaml sets tags.backing: false"
        in _reasons(result)[PG]
    )
    assert as_text(render_with(shop)[REDIS_STS]["redis"]) == written(result, REDIS)
    # one true tag among false ones turns it on (an overrides file)
    on = shop / "values-on.yaml"
    on.write_text("tags:\n  cache: true\n")
    (shop / "charts" / "redis" / "values.yaml").write_text("master:\n  resources: {}\n")
    before = sha(on)
    assert REDIS_STS in render_with(shop, on) and PG_STS not in render_with(shop, on)
    again = apply(on, data, capsys)
    assert {c["workload"] for c in again["changes"]} == {WEB, REDIS} and sha(on) != before
    assert as_text(render_with(shop, on)[REDIS_STS]["redis"]) == written(again, REDIS)


def test_a_subcharts_own_default_tags_turn_off_its_dependency(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # shop -> backend -> postgresql (tag `db`). backend's own values.yaml says tags.db: false; helm
    # coalesces it into the top-level tags, so postgresql is off unless the top level says true.
    shop = chart_dir(
        tmp_path / "shop",
        "shop",
        "backend: {}\n",
        {},
        "dependencies:\n  - name: backend\n    version: 0.1.0\n",
    )
    api = workload_template("Deployment", "{{ .Release.Name }}-backend", {"backend": ".Values.api.resources"})
    backend = chart_dir(
        shop / "charts" / "backend",
        "backend",
        "api:\n  resources: {}\ntags:\n  db: false\n",
        {"d.yaml": api},
        "dependencies:\n  - name: postgresql\n    version: 0.1.0\n    tags: [db]\n",
    )
    _pg_subchart(backend)
    assert PG_STS not in render_with(shop)
    data = dataset(tmp_path / "d", {PG: (900, 1.0)})
    result = apply(shop / "values.yaml", data, capsys)
    assert result["changes"] == []
    assert "backend.postgresql is turned off by its tags" in _reasons(result)[PG]
    assert "tags.db is false by the chart's defaults" in _reasons(result)[PG]
    (shop / "values.yaml").write_text("backend: {}\ntags:\n  db: true\n")
    assert PG_STS in render_with(shop)
    on = apply(shop / "values.yaml", data, capsys)
    assert next(c["key"] for c in on["changes"]).startswith("backend.postgresql.primary.resources.")
    assert as_text(render_with(shop)[PG_STS]["postgresql"]) == written(on, PG)


def test_a_map_into_a_subchart_turned_off_is_written_as_asked_and_said_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    values = "web:\n  resources: {}\npostgresql:\n  enabled: false\n"
    shop = shop_chart(tmp_path, values, DEPS)
    data = dataset(tmp_path / "d", {PG: (900, 1.0)})
    result = apply(shop / "values.yaml", data, capsys, "--map", f"{PG}=postgresql.primary")
    notes = {c["note"] for c in result["changes"]}
    assert notes == {
        "the subchart postgresql is turned off by its condition (postgresql.enabled): helm renders none of it"
    }
    assert PG_STS not in render_with(shop)  # as the note says


def test_each_alias_of_one_chart_has_its_own_condition(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # One postgresql chart (.tgz) used twice: `db` (on) and `audit` (off by its alias's condition).
    deps = (
        "dependencies:\n"
        "  - name: postgresql\n    version: 0.1.0\n    alias: db\n    condition: db.enabled\n"
        "  - name: postgresql\n    version: 0.1.0\n    alias: audit\n    condition: audit.enabled\n"
    )
    shop = chart_dir(tmp_path / "shop", "shop", "db:\n  enabled: true\naudit:\n  enabled: false\n", {}, deps)
    sts = workload_template(
        "StatefulSet", "{{ .Release.Name }}-{{ .Chart.Name }}", {"postgresql": ".Values.primary.resources"}
    )
    src = chart_dir(tmp_path / "src", "postgresql", "primary:\n  resources: {}\n", {"sts.yaml": sts})
    (shop / "charts").mkdir()
    helm("package", src, "--destination", shop / "charts")
    db, audit = "shop/StatefulSet/shop-db/postgresql", "shop/StatefulSet/shop-audit/postgresql"
    assert ("StatefulSet", "shop-db") in render_with(shop) and (
        "StatefulSet",
        "shop-audit",
    ) not in render_with(shop)
    result = apply(shop / "values.yaml", dataset(tmp_path / "d", {db: (900, 1.0), audit: (300, 0.2)}), capsys)
    assert {c["key"].rsplit(".", 2)[0] for c in result["changes"]} == {"db.primary.resources"}
    assert (
        "the subchart audit is turned off by its condition: values.yaml sets audit.enabled: false"
        in (_reasons(result)[audit])
    )
    assert as_text(render_with(shop)["StatefulSet", "shop-db"]["postgresql"]) == written(result, db)
    helm("lint", "--strict", shop)


def test_a_global_condition_two_levels_down_is_the_top_levels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # shop -> backend -> postgresql (condition global.db.enabled). backend's own defaults say true;
    # helm copies shop's global down over them, so shop's `global.db.enabled: false` decides.
    deps = "dependencies:\n  - name: backend\n    version: 0.1.0\n"
    shop = chart_dir(tmp_path / "shop", "shop", "global:\n  db:\n    enabled: false\n", {}, deps)
    backend = chart_dir(
        shop / "charts" / "backend",
        "backend",
        "global:\n  db:\n    enabled: true\n",
        {},
        "dependencies:\n  - name: postgresql\n    version: 0.1.0\n    condition: global.db.enabled\n",
    )
    _pg_subchart(backend)
    assert PG_STS not in render_with(shop)
    data = dataset(tmp_path / "d", {PG: (900, 1.0)})
    result = apply(shop / "values.yaml", data, capsys)
    assert result["changes"] == []
    assert (
        "backend.postgresql is turned off by its condition: values.yaml sets global.db.enabled: false"
        in (_reasons(result)[PG])
    )
    (shop / "values.yaml").write_text("global:\n  other: 1\n")  # backend's own true now decides
    assert PG_STS in render_with(shop)
    on = apply(shop / "values.yaml", data, capsys)
    assert as_text(render_with(shop)[PG_STS]["postgresql"]) == written(on, PG)


@pytest.mark.parametrize("patched", ["values.yaml", "values-prod.yaml"])
def test_a_quoted_false_in_the_charts_defaults_is_not_a_boolean(
    patched: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # helm reads values as YAML 1.1: plain `no` is false, "false" in quotes a string (passed over,
    # with a warning): postgresql stays on, whichever file is patched.
    shop = shop_chart(tmp_path, 'web:\n  resources: {}\npostgresql:\n  enabled: "false"\n', DEPS)
    (shop / "values-prod.yaml").write_text("# prod overrides\n")
    values = [shop / "values-prod.yaml"] if patched != "values.yaml" else []
    assert PG_STS in render_with(shop, *values)
    result = apply(shop / patched, dataset(tmp_path / "d", {WEB: (200, 0.3), PG: (900, 1.0)}), capsys)
    assert PG in {c["workload"] for c in result["changes"]}, result["skipped"]
    assert as_text(render_with(shop, *values)[PG_STS]["postgresql"]) == written(result, PG)
