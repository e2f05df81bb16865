"""``apply --helm FILE --chart CHART``: a values file kept apart from its chart (``helm install -f
my-values.yaml bitnami/postgresql``; a chart pulled with ``helm pull``, packaged or ``--untar``ed
elsewhere) is placed from that chart's defaults and subcharts, as ``helm template CHART -f FILE``
renders it (the real helm 3.17.3; charts built offline here). Bad ``--chart`` input: one error line,
exit 2, nothing written.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import run_cli, sha
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

PG_READ = "shop/StatefulSet/shop-postgresql-read/postgresql"
MY_VALUES = """\
# my-values.yaml: kept in the ops repo, next to nothing of the chart
auth:
  database: shop
primary:
  persistence:
    size: 8Gi   # the chart's default is too small
"""


def bitnami_like(root: Path) -> Path:
    """A postgresql chart as bitnami lays it out: ``primary`` and ``readReplicas`` blocks, no top-level
    ``resources``; packaged as ``helm pull`` downloads it."""
    sts = workload_template(
        "StatefulSet", "{{ .Release.Name }}-postgresql", {"postgresql": ".Values.primary.resources"}
    )
    read = workload_template(
        "StatefulSet", "{{ .Release.Name }}-postgresql-read", {"postgresql": ".Values.readReplicas.resources"}
    )
    values = (
        "auth:\n  database: app\nprimary:\n  persistence:\n    size: 1Gi\n  resources: {}\n"
        "readReplicas:\n  replicaCount: 1\n  resources: {}\n"
    )
    src = chart_dir(root / "src" / "postgresql", "postgresql", values, {"sts.yaml": sts, "read.yaml": read})
    helm("package", src, "--destination", root)
    return root / "postgresql-0.1.0.tgz"


def test_a_values_file_apart_from_its_packaged_chart_is_placed_by_the_chart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tgz = bitnami_like(tmp_path)
    ops = tmp_path / "ops"
    ops.mkdir()
    mine = ops / "my-values.yaml"
    mine.write_text(MY_VALUES)
    data = dataset(tmp_path / "d", {PG: (900, 1.0), PG_READ: (300, 0.2)})
    # alone, the file names neither workload: nothing is placed
    alone = apply(mine, data, capsys, "--dry-run")
    assert alone["changes"] == [] and {s["workload"] for s in alone["skipped"]} == {PG, PG_READ}
    result = apply(mine, data, capsys, "--chart", str(tgz))
    keys = {c["workload"]: c["key"].rsplit(".", 2)[0] for c in result["changes"]}
    assert keys == {PG: "primary.resources", PG_READ: "readReplicas.resources"}
    rendered = render_with(tgz, mine)
    assert as_text(rendered["StatefulSet", "shop-postgresql"]["postgresql"]) == written(result, PG)
    assert as_text(rendered["StatefulSet", "shop-postgresql-read"]["postgresql"]) == written(result, PG_READ)
    text = mine.read_text()
    assert text.startswith("# my-values.yaml: kept in the ops repo") and "size: 8Gi   # the chart's" in text
    assert "readReplicas:\n  resources:" in text  # only the blocks: none of the chart's defaults copied
    assert "replicaCount" not in text and "database: app" not in text


def test_an_untarred_umbrella_elsewhere_turns_on_its_subchart_from_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `helm pull --untar` of an umbrella whose packaged postgresql is off by default; the file turns
    # it on and sets its auth. The subchart's defaults say where its block is read.
    tgz = bitnami_like(tmp_path / "pg")
    web = workload_template("Deployment", "{{ .Release.Name }}-web", {"web": ".Values.web.resources"})
    deps = "dependencies:\n  - name: postgresql\n    version: 0.1.0\n    condition: postgresql.enabled\n"
    shop = chart_dir(
        tmp_path / "pulled" / "shop",
        "shop",
        "web:\n  resources: {}\npostgresql:\n  enabled: false\n",
        {"w.yaml": web},
        deps,
    )
    (shop / "charts").mkdir()
    (shop / "charts" / tgz.name).write_bytes(tgz.read_bytes())
    mine = tmp_path / "my-values.yaml"
    mine.write_text("postgresql:\n  enabled: true\n  auth:\n    database: shop\n")
    data = dataset(tmp_path / "d", {WEB: (200, 0.3), PG: (900, 1.0)})
    result = apply(mine, data, capsys, "--chart", str(shop))
    keys = {c["workload"]: c["key"].rsplit(".", 2)[0] for c in result["changes"]}
    assert keys == {WEB: "web.resources", PG: "postgresql.primary.resources"}
    rendered = render_with(shop, mine)
    assert as_text(rendered["StatefulSet", "shop-postgresql"]["postgresql"]) == written(result, PG)
    assert as_text(rendered["Deployment", "shop-web"]["web"]) == written(result, WEB)
    helm("lint", "--strict", shop, "-f", mine)
    # without the file's `enabled: true`, the chart's default leaves postgresql out: skipped, said so
    other = tmp_path / "other.yaml"
    other.write_text("postgresql:\n  auth:\n    database: shop\n")
    skipped = apply(other, data, capsys, "--chart", str(shop))
    assert {c["workload"] for c in skipped["changes"]} == {WEB}
    reason = next(s["reason"] for s in skipped["skipped"] if s["workload"] == PG)
    assert "postgresql.enabled is false by the chart's defaults" in reason
    assert ("StatefulSet", "shop-postgresql") not in render_with(shop, other)


def test_the_charts_own_values_file_given_as_chart_too_is_its_defaults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    web = workload_template("Deployment", "{{ .Release.Name }}-web", {"web": ".Values.web.resources"})
    shop = chart_dir(tmp_path / "shop", "shop", "web:\n  resources: {}\n", {"w.yaml": web})
    data = dataset(tmp_path / "d", {WEB: (200, 0.3)})
    result = apply(shop / "values.yaml", data, capsys, "--chart", str(shop))
    assert as_text(render_with(shop)["Deployment", "shop-web"]["web"]) == written(result, WEB)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        ("missing", "no such chart folder or file"),
        ("folder", "no Chart.yaml in"),
        ("text", "not a chart: give a chart folder"),
        ("corrupt", "not a chart archive"),
        ("no-name", "Chart.yaml: no chart name"),
        ("bad-values", "values.yaml: invalid YAML"),
        ("empty", "--chart is empty"),
        ("compose", "--chart works with --helm only"),
    ],
)
def test_a_bad_chart_is_one_error_line_exit_2_and_nothing_written(
    make: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    values = tmp_path / "my-values.yaml"
    values.write_text("web:\n  resources: {}\n")
    before = sha(values)
    chart = tmp_path / "chart"
    if make == "folder":
        chart.mkdir()
    elif make == "text":
        chart = tmp_path / "notes.txt"
        chart.write_text("hello\n")
    elif make == "corrupt":
        chart = tmp_path / "chart-1.0.0.tgz"
        chart.write_bytes(b"\x1f\x8b\x08\x00garbage")
    elif make in ("no-name", "bad-values"):
        chart_dir(chart, "shop", "a: [\n" if make == "bad-values" else "a: 1\n", {})
        if make == "no-name":
            (chart / "Chart.yaml").write_text("apiVersion: v2\nversion: 0.1.0\n")
    data = dataset(tmp_path / "d", {WEB: (200, 0.3)})
    target = ["--compose", str(tmp_path / "c.yaml")] if make == "compose" else ["--helm", str(values)]
    given = "" if make == "empty" else str(chart)
    code, out, err = run_cli(["apply", *target, "--chart", given, "--data", str(data)], capsys)
    assert code == 2 and out == "", (out, err)
    assert len(err.strip().splitlines()) == 1 and err.startswith("rightsize: error: ") and message in err, err
    assert sha(values) == before
    if make not in ("empty", "compose"):
        assert f"--chart {chart}" in err


def test_json_output_names_the_chart_place_and_dry_run_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tgz = bitnami_like(tmp_path)
    mine = tmp_path / "my-values.yaml"
    mine.write_text(MY_VALUES)
    before = sha(mine)
    data = dataset(tmp_path / "d", {PG: (900, 1.0)})
    code, out, err = run_cli(
        [
            "apply",
            "--helm",
            str(mine),
            "--chart",
            str(tgz),
            "--data",
            str(data),
            "--dry-run",
            "--format",
            "json",
        ],
        capsys,
    )
    assert code == 0, err
    result = json.loads(out)["results"][0]
    assert {c["key"] for c in result["changes"]} >= {"primary.resources.limits.memory"}
    assert sha(mine) == before
