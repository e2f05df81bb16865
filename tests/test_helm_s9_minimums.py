"""``apply --helm`` skips values Kubernetes would refuse or run as something else (helmmin.py): a
CPU limit under 10m (the kubelet's least CFS quota; ``0`` is no limit at all), a CPU request that
rounds to ``0`` (no request), a memory limit under 12Mi (CRI-O's least). The recommendations come
from the real analysis of an idle workload with the floors lowered (``--set cpu_floor=0
mem_floor=0``); the patched chart is rendered with the real ``helm template`` and linted.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helm_helpers import (
    WEB,
    M,
    apply,
    as_text,
    chart_dir,
    dataset,
    helm,
    render_with,
    workload_template,
    written,
)

from rightsize.targets.helmmin import k8s_refuses
from rightsize.units import parse_bytes, parse_cpus

IDLE = "shop/Deployment/shop-idle/idle"
FLOORS = ("--set", "cpu_floor=0", "--set", "mem_floor=0")


def shop(tmp_path: Path, values: str) -> Path:
    tpl = {
        "web.yaml": workload_template(
            "Deployment", "{{ .Release.Name }}-web", {"web": ".Values.web.resources"}
        ),
        "idle.yaml": workload_template(
            "Deployment", "{{ .Release.Name }}-idle", {"idle": ".Values.idle.resources"}
        ),
    }
    return chart_dir(tmp_path / "shop", "shop", values, tpl)


def _skips(result: dict, workload: str) -> dict[str, list[str]]:  # type: ignore[type-arg]
    out: dict[str, list[str]] = {}
    for s in result["skipped"]:
        if s["workload"] == workload:
            out.setdefault(s["resource"], []).append(s["reason"])
    return out


@pytest.mark.parametrize("strategy", ["default", "krr"])
def test_an_idle_workloads_values_below_what_kubernetes_takes_are_skipped_with_the_reason(
    strategy: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # idle: 2-3 MiB and no CPU at all. default recommends cpu 0/0 (a limit of 0 is none at all) and
    # a 64Mi memory limit; krr a memory limit of 8Mi and a CPU request of 0.
    chart = shop(tmp_path, "web:\n  resources: {}\nidle:\n  resources: {}\n")
    data = dataset(tmp_path / "d", {WEB: (200, 0.3), IDLE: (2, 0.0)}, noise=M)
    result = apply(chart / "values.yaml", data, capsys, "--strategy", strategy, *FLOORS)
    skips = _skips(result, IDLE)
    assert any("the CPU request rounds to 0, no request at all" in r for r in skips["cpu"]), skips
    if strategy == "default":
        assert any("the CPU limit 0 is below 10m" in r and "0 is no limit at all" in r for r in skips["cpu"])
    else:
        assert any("the memory limit 8Mi is below 12 MiB" in r for r in skips["memory"]), skips
    rendered = render_with(chart)
    idle = as_text(rendered["Deployment", "shop-idle"]["idle"])  # as_text: valid quantities, request <= limit
    cpus = [parse_cpus(b["cpu"]) for b in idle.values() if "cpu" in b]
    assert all(c >= 0.001 for c in cpus) and parse_cpus(idle.get("limits", {}).get("cpu", "1")) >= 0.01
    assert parse_bytes(idle.get("limits", {}).get("memory", "1Gi"), "k8s") >= 12 * M
    assert idle.get("requests", {}).get("memory")  # the memory request has no such floor: written
    assert as_text(rendered["Deployment", "shop-web"]["web"]) == written(result, WEB)  # others as before
    helm("lint", "--strict", chart)


def test_a_request_is_checked_against_the_limit_left_in_place_when_the_new_limit_is_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # krr: memory 8Mi/8Mi. The 8Mi limit is skipped, so the file's 6Mi limit stays; an 8Mi request
    # above it would make the pod invalid (the API server refuses requests above limits).
    chart = shop(tmp_path, "web:\n  resources: {}\nidle:\n  resources:\n    limits:\n      memory: 6Mi\n")
    data = dataset(tmp_path / "d", {WEB: (200, 0.3), IDLE: (2, 0.0)}, noise=M)
    result = apply(chart / "values.yaml", data, capsys, "--strategy", "krr", *FLOORS)
    reasons = _skips(result, IDLE)["memory"]
    assert any("below 12 MiB" in r for r in reasons) and any("above limits.memory 6Mi" in r for r in reasons)
    idle = as_text(render_with(chart)["Deployment", "shop-idle"]["idle"])
    assert idle == {"limits": {"memory": "6Mi"}}


@pytest.mark.parametrize(
    ("resource", "kind", "raw", "refused"),
    [
        ("cpu", "limit", "10m", False),
        ("cpu", "limit", "9m", True),
        ("cpu", "limit", "0", True),
        ("cpu", "reservation", "1m", False),
        ("cpu", "reservation", "0", True),
        ("memory", "limit", "12Mi", False),
        ("memory", "limit", "12582911", True),
        ("memory", "reservation", "1Ki", False),
        ("memory", "reservation", "0", True),
    ],
)
def test_the_bounds(resource: str, kind: str, raw: str, refused: bool) -> None:
    assert (k8s_refuses(resource, kind, raw) is not None) is refused
