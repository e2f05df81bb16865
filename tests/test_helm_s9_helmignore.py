"""``apply --helm`` and the chart's ``.helmignore``: helm's loader leaves out what it matches, from
the top chart's folder down (subchart folders, packaged subcharts, a subchart's values.yaml, even
the chart's own values.yaml). Checked against the real ``helm template`` (3.17.3): a subchart left
out is not rendered (its workload is skipped, with the rule), a subchart's default limit left out
is not in force (a request above it is written, and rendered).
"""

from __future__ import annotations

import shutil
import subprocess
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
    helm_bin,
    render_with,
    workload_template,
    written,
)

from rightsize.targets.helmignore import parse

REDIS = "shop/StatefulSet/shop-redis-master/redis"
PG_STS = ("StatefulSet", "shop-postgresql")
REDIS_STS = ("StatefulSet", "shop-redis-master")


def shop(root: Path, ignore: str, redis_values: str = "master:\n  resources: {}\n") -> Path:
    """``shop`` (web) with a postgresql folder and a packaged redis in charts/, none of them listed
    as dependencies (helm renders what charts/ holds), and ``ignore`` as its .helmignore."""
    web = workload_template("Deployment", "{{ .Release.Name }}-web", {"web": ".Values.web.resources"})
    values = (
        "web:\n  resources: {}\npostgresql:\n  auth:\n    database: shop\n"
        "redis:\n  master:\n    resources: {}\n"
    )
    chart = chart_dir(root / "shop", "shop", values, {"w.yaml": web})
    pg = workload_template(
        "StatefulSet", "{{ .Release.Name }}-postgresql", {"postgresql": ".Values.primary.resources"}
    )
    chart_dir(chart / "charts" / "postgresql", "postgresql", "primary:\n  resources: {}\n", {"s.yaml": pg})
    rd = workload_template(
        "StatefulSet", "{{ .Release.Name }}-redis-master", {"redis": ".Values.master.resources"}
    )
    src = chart_dir(root / "src" / "redis", "redis", redis_values, {"s.yaml": rd})
    helm("package", src, "--destination", chart / "charts")
    (chart / ".helmignore").write_text(ignore)
    return chart


USAGE = {WEB: (200, 0.3), PG: (900, 1.0), REDIS: (400, 0.5)}


def _reasons(result: dict) -> dict[str, str]:  # type: ignore[type-arg]
    return {s["workload"]: s["reason"] for s in result["skipped"] if s["resource"] == "all"}


@pytest.mark.parametrize(
    ("ignore", "gone", "rule"),
    [
        ("# helm create's\n.DS_Store\ncharts/postgresql/\n", PG, "charts/postgresql/"),
        ("postgresql\n", PG, "postgresql"),  # no slash: the last path element, anywhere
        ("*.tgz\n", REDIS, "*.tgz"),
        ("/charts/redis-0.1.0.tgz\n", REDIS, "/charts/redis-0.1.0.tgz"),
    ],
)
def test_a_subchart_the_helmignore_leaves_out_gets_no_block(
    ignore: str, gone: str, rule: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = shop(tmp_path, ignore)
    sts = PG_STS if gone == PG else REDIS_STS
    assert sts not in render_with(chart)
    result = apply(chart / "values.yaml", dataset(tmp_path / "d", USAGE), capsys)
    assert {c["workload"] for c in result["changes"]} == set(USAGE) - {gone}
    assert f"is not loaded by helm (.helmignore: {rule})" in _reasons(result)[gone]
    rendered = render_with(chart)
    assert sts not in rendered
    for wl, key in ((WEB, ("Deployment", "shop-web")), (PG, PG_STS), (REDIS, REDIS_STS)):
        if wl != gone:
            assert as_text(rendered[key][key[1].removeprefix("shop-").split("-")[0]]) == written(result, wl)


def test_a_subcharts_default_limit_the_helmignore_leaves_out_is_not_in_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # krr recommends a CPU request and no limit. The redis chart's own values.yaml keeps a 100m CPU
    # limit, but the top .helmignore leaves every values.yaml below charts/ out (the packaged redis is
    # unpacked here as a folder): helm renders no such limit, so the 500m request is valid and written.
    chart = shop(tmp_path, "charts/*/values.yaml\n")
    (chart / "charts" / "redis-0.1.0.tgz").unlink()
    shutil.rmtree(chart / "charts" / "postgresql")
    rd = workload_template(
        "StatefulSet", "{{ .Release.Name }}-redis-master", {"redis": ".Values.master.resources"}
    )
    limit = "master:\n  resources:\n    limits:\n      cpu: 100m\n"
    chart_dir(chart / "charts" / "redis", "redis", limit, {"s.yaml": rd})
    assert as_text(render_with(chart)[REDIS_STS]["redis"]) == {}
    result = apply(chart / "values.yaml", dataset(tmp_path / "d", USAGE), capsys, "--strategy", "krr")
    want = written(result, REDIS)
    assert "cpu" in want["requests"] and "cpu" not in want.get("limits", {})
    assert as_text(render_with(chart)[REDIS_STS]["redis"]) == want


def test_the_charts_own_values_file_left_out_is_one_warning_and_placed_as_given_with_f(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = shop(tmp_path, "/values.yaml\n")
    data = dataset(tmp_path / "d", {WEB: (200, 0.3)})
    code, _, err = run_cli(["apply", "--helm", str(chart / "values.yaml"), "--data", str(data)], capsys)
    assert code == 0 and "rightsize: warning: " in err and ".helmignore leaves out values.yaml" in err, err
    alone = subprocess.run(
        [helm_bin(), "template", "shop", chart], capture_output=True, text=True, timeout=60
    )
    assert "nil pointer evaluating interface {}.resources" in alone.stderr  # helm does not read it...
    with_f = render_with(chart, chart / "values.yaml")["Deployment", "shop-web"]["web"]
    assert as_text(with_f)["limits"]  # ...unless given with -f


def test_a_helmignore_helm_refuses_is_a_warning_and_the_file_is_placed_from_its_own_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = shop(tmp_path, "charts/**/values.yaml\n")
    data = dataset(tmp_path / "d", {WEB: (200, 0.3)})
    before = sha(chart / "values.yaml")
    code, _, err = run_cli(["apply", "--helm", str(chart / "values.yaml"), "--data", str(data)], capsys)
    assert code == 0 and "double-star (**) syntax is not supported" in err, err
    assert sha(chart / "values.yaml") != before


@pytest.mark.parametrize(
    ("rules", "path", "is_dir", "hit"),
    [
        ("values.yaml", "charts/a/values.yaml", False, "values.yaml"),
        ("charts/*.tgz", "charts/a-1.tgz", False, "charts/*.tgz"),
        ("charts/*.tgz", "charts/x/charts/a-1.tgz", False, None),  # * stops at /
        ("charts/", "charts", False, None),  # a folder rule: not a file
        ("charts/", "charts", True, "charts/"),
        ("c?arts/[a-c]*", "charts/b", True, "c?arts/[a-c]*"),
        ("[^a]*", "b", False, "[^a]*"),
        ("!keep", "other", False, "!keep"),  # helm's negation: what it does not match is left out
        ("!keep", "keep", False, None),
        ("templates/x", "templates/.hidden", False, "templates/.?*"),  # helm's default rule
    ],
)
def test_the_rules_as_helm_reads_them(rules: str, path: str, is_dir: bool, hit: str | None) -> None:
    assert parse(rules).ignored(path, is_dir) == hit
