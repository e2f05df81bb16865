"""Review of the session-9 ``apply --helm`` chart reading, each case checked against the real
``helm template`` (3.17.3): what it renders (or refuses) is what rightsize must assume.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from cli_helpers import run_cli
from helm_helpers import PG, WEB, chart_dir, check_sane, dataset, helm_bin, render_with, workload_template

from rightsize.targets.helm import load_values
from rightsize.targets.helmdeps import Off, off_reason
from rightsize.targets.helmignore import parse

PG_DEP = (
    "dependencies:\n  - name: postgresql\n    version: 0.1.0\n"
    "    repository: https://charts.bitnami.com/bitnami\n    condition: postgresql.enabled\n"
)


def test_a_dependency_missing_from_charts_is_one_warning_not_a_silent_guess(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # charts/ is often git-ignored: a checkout without `helm dependency build` has no postgresql
    # chart, so its defaults (bitnami's primary.resources) are unknown and postgresql.resources is a
    # guess helm will not read once the dependency is built. helm itself refuses the chart.
    web = workload_template("Deployment", "{{ .Release.Name }}-web", {"web": ".Values.web.resources"})
    values = "web:\n  resources: {}\npostgresql:\n  enabled: true\n  auth:\n    database: shop\n"
    chart = chart_dir(tmp_path / "shop", "shop", values, {"web.yaml": web}, PG_DEP)
    proc = subprocess.run([helm_bin(), "template", "shop", chart], capture_output=True, text=True, timeout=60)
    assert "missing in charts/ directory: postgresql" in proc.stderr
    data = dataset(tmp_path / "d", {WEB: (200, 0.3), PG: (900, 1.0)})
    args = ["apply", "--helm", str(chart / "values.yaml"), "--data", str(data), "--dry-run"]
    code, _, err = run_cli(args, capsys)
    warned = [line for line in err.splitlines() if line.startswith("rightsize: warning: ")]
    assert code == 0 and len(warned) == 1, err
    assert "postgresql" in warned[0] and "helm dependency build" in warned[0]


def test_a_subcharts_missing_dependency_is_no_warning_as_helm_renders_the_chart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # helm checks only the top chart's dependencies; a subchart's missing one is just not rendered
    web = workload_template("Deployment", "{{ .Release.Name }}-web", {"web": ".Values.resources"})
    shop = chart_dir(tmp_path / "shop", "shop", "", {}, "dependencies:\n  - name: web\n    version: 0.1.0\n")
    chart_dir(shop / "charts" / "web", "web", "resources: {}\n", {"w.yaml": web}, PG_DEP)
    assert ("Deployment", "shop-web") in render_with(shop)
    data = dataset(tmp_path / "d", {WEB: (200, 0.3)})
    args = ["apply", "--helm", str(shop / "values.yaml"), "--data", str(data), "--dry-run"]
    code, _, err = run_cli(args, capsys)
    assert code == 0 and "warning" not in err, err


API = "shop/Deployment/shop-api/api"
VALUES = "api:\n  resources: {}\ncommon:\n  enabled: false\n"


def test_the_imports_of_a_subchart_the_values_turn_on_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The library chart common is off by the chart's defaults; prod.yaml turns it on, and helm then
    # imports its api defaults (a 100m CPU limit). krr's 500m request beside that limit is a pod the
    # API server refuses, so it is not written. Imports were judged on the chart's defaults only.
    api = workload_template("Deployment", "{{ .Release.Name }}-api", {"api": ".Values.api.resources"})
    deps = (
        "dependencies:\n  - name: common\n    version: 0.1.0\n    condition: common.enabled\n"
        "    import-values:\n      - child: defaults.api\n        parent: api\n"
    )
    chart = chart_dir(tmp_path / "shop", "shop", VALUES, {"api.yaml": api}, deps)
    common = "defaults:\n  api:\n    resources:\n      limits:\n        cpu: 100m\n"
    chart_dir(chart / "charts" / "common", "common", common, {})
    prod = chart / "prod.yaml"
    prod.write_text("common:\n  enabled: true\n")
    assert render_with(chart, prod)["Deployment", "shop-api"]["api"] == {"limits": {"cpu": "100m"}}
    data = dataset(tmp_path / "d", {API: (300, 0.5)})
    code, out, err = run_cli(
        ["apply", "--helm", str(prod), "--data", str(data), "--strategy", "krr", "--format", "json"], capsys
    )
    assert code == 0, err
    rendered = render_with(chart, prod)["Deployment", "shop-api"]["api"]
    check_sane(rendered)  # no request above the limit helm imports
    assert rendered["limits"]["cpu"] == "100m" and rendered["requests"].keys() == {"memory"}
    why = [s["reason"] for s in json.loads(out)["results"][0]["skipped"] if s["resource"] == "cpu"]
    assert any("above limits.cpu 100m (the chart's default)" in w for w in why), why


def test_the_off_reason_spells_the_boolean_as_the_file_does(tmp_path: Path) -> None:
    (tmp_path / "values.yaml").write_text("postgresql:\n  enabled: false\n")
    data = load_values(tmp_path / "values.yaml").data
    why = off_reason(Off("condition", ("postgresql", "enabled")), "postgresql", data, "values.yaml")
    assert "values.yaml sets postgresql.enabled: false;" in why, why


def _helmignored_shop(root: Path, rule: str) -> Path:
    web = workload_template("Deployment", "{{ .Release.Name }}-web", {"web": ".Values.web.resources"})
    chart = chart_dir(root / "shop", "shop", "web:\n  resources: {}\n", {"web.yaml": web})
    (chart / ".helmignore").write_text(rule + "\n")
    return chart


@pytest.mark.parametrize("rule", ["foo\\", "[]a]", "[a-]", "[-a]", "[^]", "[a"])
def test_a_helmignore_pattern_go_refuses_is_the_chart_not_read(
    rule: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # helm checks each rule with Go's filepath.Match and refuses the chart; `[^]` was a traceback
    chart = _helmignored_shop(tmp_path, rule)
    proc = subprocess.run([helm_bin(), "template", "shop", chart], capture_output=True, text=True, timeout=60)
    assert "syntax error in pattern" in proc.stderr
    data = dataset(tmp_path / "d", {WEB: (200, 0.3)})
    code, _, err = run_cli(["apply", "--helm", str(chart / "values.yaml"), "--data", str(data)], capsys)
    assert code == 0 and f"rightsize: warning: {chart}: chart not read" in err, err
    assert f"{rule}: syntax error in pattern" in err


@pytest.mark.parametrize(("rule", "path", "hit"), [("[z-a]", "m", False), ("[\\]]x", "]x", True)])
def test_a_helmignore_pattern_go_takes_is_read_as_go_reads_it(
    rule: str, path: str, hit: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # [z-a] is a class matching nothing to Go (a traceback here); [\]]x an escaped ] then x
    chart = _helmignored_shop(tmp_path, rule)
    assert ("Deployment", "shop-web") in render_with(chart)
    data = dataset(tmp_path / "d", {WEB: (200, 0.3)})
    code, _, err = run_cli(["apply", "--helm", str(chart / "values.yaml"), "--data", str(data)], capsys)
    assert code == 0 and "warning" not in err, err
    assert (parse(rule).ignored(path, False) == rule) is hit
