"""Review of the session-9 ``apply --helm`` chart reading, each case checked against the real
``helm template`` (3.17.3): what it renders (or refuses) is what rightsize must assume.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cli_helpers import run_cli
from helm_helpers import PG, WEB, chart_dir, dataset, helm_bin, workload_template

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
