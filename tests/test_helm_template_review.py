"""``apply --helm`` against the real ``helm`` in chart layouts the other helm tests do not build: a
``--map`` beside a Chart.yaml (the chart's defaults still count), dependencies declared in
``requirements.yaml``, symlinked subchart folders, large files that are not charts under charts/."""

from __future__ import annotations

from pathlib import Path

import pytest
from helm_helpers import (
    apply,
    as_text,
    chart_dir,
    check_sane,
    dataset,
    helm,
    render,
    workload_template,
    written,
)

REDIS = "shop/StatefulSet/shop-redis-master/redis"


def test_a_map_beside_a_chart_keeps_a_request_under_the_limit_the_subchart_keeps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # krr recommends a CPU request and no limit; the packaged subchart keeps limits.cpu 100m by
    # default. Guessed, the place knew it; through --map it did not: requests.cpu 500m was written
    # and helm rendered a request above the limit, a pod the API server refuses.
    deps = "dependencies:\n  - name: redis\n    version: 0.1.0\n"
    shop = chart_dir(tmp_path / "shop", "shop", "# parent\nredis: {}\n", {}, deps)
    tpl = workload_template(
        "StatefulSet", "{{ .Release.Name }}-redis-master", {"redis": ".Values.master.resources"}
    )
    redis = chart_dir(
        tmp_path / "src", "redis", "master:\n  resources:\n    limits:\n      cpu: 100m\n", {"s.yaml": tpl}
    )
    (shop / "charts").mkdir()
    helm("package", redis, "--destination", shop / "charts")
    data = dataset(tmp_path / "d", {REDIS: (100, 0.5)})
    result = apply(shop / "values.yaml", data, capsys, "--strategy", "krr", "--map", f"{REDIS}=redis.master")
    why = [s["reason"] for s in result["skipped"] if s["resource"] == "cpu"]
    assert any("above limits.cpu 100m (the chart's default) left in place" in w for w in why), why
    rendered = render(shop)["StatefulSet", "shop-redis-master"]["redis"]
    check_sane(rendered)
    assert rendered["limits"]["cpu"] == "100m" and "cpu" not in rendered["requests"]
    assert as_text(rendered)["requests"] == written(result, REDIS)["requests"]
    helm("lint", "--strict", shop)
