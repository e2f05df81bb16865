"""``apply --helm`` and ``import-values``: a dependency's values copied into its parent (helm's
processImportValues: ``- child: a.b`` / ``parent: c`` and the ``exports`` form), below the parent's own
values. A parent workload whose block exists only through an import is placed there, and a default
limit an import brings counts (a request above it is not written). Checked with the real ``helm
template`` (3.17.3) and ``helm lint --strict``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helm_helpers import apply, as_text, chart_dir, check_sane, dataset, helm, render_with, written

API = "shop/Deployment/shop-api/api"
IMPORT_CHILD = "    import-values:\n      - child: defaults.api\n        parent: api\n"
IMPORT_EXPORTS = "    import-values:\n      - data\n"
COMMON = (
    "defaults:\n  api:\n    resources:\n      limits:\n        cpu: 100m\n"
    "exports:\n  data:\n    api:\n      resources:\n        limits:\n          cpu: 100m\n"
)


def shop(root: Path, how: str) -> Path:
    """``shop``'s Deployment reads ``.Values.api.resources``, which its values never mention: the
    library chart ``common`` (no templates) brings it through ``import-values``."""
    api = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}-api\nspec:\n"
        "  selector:\n    matchLabels: {app: api}\n  template:\n    metadata:\n      labels: {app: api}\n"
        "    spec:\n      containers:\n        - name: api\n          image: api:1\n"
        "          resources:\n            {{- toYaml .Values.api.resources | nindent 12 }}\n"
    )
    deps = f"dependencies:\n  - name: common\n    version: 0.1.0\n{how}"
    chart = chart_dir(root / "shop", "shop", "replicaCount: 1\n", {"api.yaml": api}, deps)
    chart_dir(chart / "charts" / "common", "common", COMMON, {})
    return chart


@pytest.mark.parametrize("how", [IMPORT_CHILD, IMPORT_EXPORTS], ids=["child-parent", "exports"])
def test_a_block_only_an_import_brings_is_where_the_workload_goes(
    how: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = shop(tmp_path, how)
    assert render_with(chart)["Deployment", "shop-api"]["api"] == {"limits": {"cpu": "100m"}}
    result = apply(chart / "values.yaml", dataset(tmp_path / "d", {API: (300, 0.05)}), capsys)
    want = written(result, API)
    assert {c["key"].rsplit(".", 2)[0] for c in result["changes"]} == {"api.resources"}
    assert want["limits"].keys() == {"memory", "cpu"}
    assert as_text(render_with(chart)["Deployment", "shop-api"]["api"]) == want
    assert "defaults:" not in (chart / "values.yaml").read_text()  # only the block, not the import's copy
    helm("lint", "--strict", chart)


def test_a_default_limit_an_import_brings_keeps_a_request_above_it_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # krr: a CPU request (p95 of ~0.5 cores) and no CPU limit. The imported 100m limit stays in force:
    # a 500m request beside it would make the pod invalid, so it is not written (and said so).
    chart = shop(tmp_path, IMPORT_CHILD)
    result = apply(
        chart / "values.yaml", dataset(tmp_path / "d", {API: (300, 0.5)}), capsys, "--strategy", "krr"
    )
    why = [s["reason"] for s in result["skipped"] if s["workload"] == API and s["resource"] == "cpu"]
    assert any("above limits.cpu 100m (the chart's default)" in w for w in why), why
    rendered = render_with(chart)["Deployment", "shop-api"]["api"]
    check_sane(rendered)
    assert rendered["limits"]["cpu"] == "100m" and "cpu" not in rendered.get("requests", {})
    assert as_text(rendered)["requests"] == written(result, API)["requests"]
