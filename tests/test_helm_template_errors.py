"""``apply --helm`` with bad input, inside a real chart (``helm create``): one error line on stderr,
exit 2, the values file unchanged; a chart that cannot be read is one warning, and the file is
still placed from its own keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import run_cli, sha
from helm_helpers import WEB, chart_dir, create, dataset, helm

DB = "shop/StatefulSet/shop-db/db"
DB_EXPORTER = "shop/StatefulSet/shop-db/exporter"


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
        pytest.param("a: " + "[" * 3000 + "]" * 3000 + "\n", [], "nested too deeply to read", id="deep"),
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
