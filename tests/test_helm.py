"""Helm values writer: golden before/after, layouts it recognises, --map, idempotence, bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cli_helpers import run_cli, sha
from ruamel.yaml import YAML
from writer_recs import M, k8s_recs, rec

from rightsize.errors import RightsizeError
from rightsize.targets.helm import candidate_names, parse_map, patch_helm

FIX = Path(__file__).parent / "fixtures" / "helm"


def values(tmp_path: Path, name: str = "values.yaml") -> Path:
    dst = tmp_path / name
    shutil.copy(FIX / name, dst)
    return dst


def test_values_match_golden_file_in_kubernetes_units(tmp_path: Path) -> None:
    path = values(tmp_path)
    result = patch_helm(path, k8s_recs())
    assert path.read_text() == (FIX / "values.after.yaml").read_text()
    data = YAML(typ="safe").load(path.read_text())
    assert data["postgresql"]["resources"] == {
        "limits": {"memory": "1280Mi", "cpu": "1500m"},
        "requests": {"memory": "896Mi", "cpu": "750m"},
    }
    assert data["ollama"]["resources"]["limits"] == {"memory": "8Gi", "cpu": "6"}
    reasons = {(s.workload.split("/")[-1], s.resource): s.reason for s in result.skipped}
    assert "no per-container PID limit" in reasons[("postgresql", "pids")]
    assert "cannot place" in reasons[("worker", "all")]
    # the commented example under `resources: {}` and everything else survived
    assert "  # resources:\n  #   limits:\n  #     cpu: 100m\n" in path.read_text()


def test_twice_is_a_no_op_and_dry_run_writes_nothing(tmp_path: Path) -> None:
    path = values(tmp_path)
    dry = patch_helm(path, k8s_recs(), dry_run=True)
    assert dry.diff and not dry.written and path.read_text() == (FIX / "values.yaml").read_text()
    patch_helm(path, k8s_recs())
    before = sha(path)
    again = patch_helm(path, k8s_recs())
    assert again.diff == "" and not again.changes and sha(path) == before


def test_map_places_a_workload_at_a_new_path(tmp_path: Path) -> None:
    path = values(tmp_path)
    worker = "sutazai/Deployment/sutazai-worker/worker"
    patch_helm(path, k8s_recs(), mapping=parse_map([f"{worker}=frontend.worker"]))
    data = YAML(typ="safe").load(path.read_text())
    assert data["frontend"] == {
        "replicaCount": 2,
        "worker": {"resources": {"limits": {"memory": "256Mi"}, "requests": {"memory": "128Mi"}}},
    }


def test_top_level_resources_for_a_single_workload(tmp_path: Path) -> None:
    path = values(tmp_path, "single.yaml")
    patch_helm(path, [rec("cache/Deployment/redis/redis", "memory", 96 * M, 128 * M)])
    assert path.read_text() == (
        "image:\n  repository: redis\n"
        "resources:\n  requests:\n    memory: '96Mi'\n  limits:\n    memory: 128Mi\n"
    )


def test_candidate_names_strip_the_release_prefix() -> None:
    assert candidate_names("shop/StatefulSet/shop-postgresql/postgresql") == ["postgresql", "shop-postgresql"]
    assert candidate_names("shop/Deployment/shop-api/server") == ["server", "shop-api", "api"]
    assert candidate_names("proj/backend") == ["backend"]


@pytest.mark.parametrize(
    ("text", "mapping", "message"),
    [
        ("- a\n- b\n", None, "not a Helm values file"),
        ("a: 1\na: 2\n", None, "duplicate key"),
        ("backend:\n  resources:\n    limits:\n      memory: lots\n", None, "not a memory size"),
        ("backend: {}\n", {"nobody/x": "backend"}, "no such workload"),
    ],
)
def test_bad_input_is_one_error_and_the_file_is_byte_identical(
    tmp_path: Path, text: str, mapping: dict[str, str] | None, message: str
) -> None:
    path = tmp_path / "values.yaml"
    path.write_text(text)
    before = sha(path)
    with pytest.raises(RightsizeError, match=message):
        patch_helm(path, [rec("ns/Deployment/backend/backend", "memory", None, 512 * M)], mapping=mapping)
    assert sha(path) == before


def test_map_spelling_is_checked() -> None:
    with pytest.raises(RightsizeError, match=r"WORKLOAD=dotted\.path"):
        parse_map(["backend"])
    for path in ("a..b", ".a", "a.", "a. .b"):  # was read as a.b and written there
        with pytest.raises(RightsizeError, match="an empty key in the dotted path"):
            parse_map([f"shop/db={path}"])
    assert parse_map(["shop/db = a.b "]) == {"shop/db": "a.b"}


@pytest.mark.parametrize("seed", range(6))
def test_random_recommendations_read_back_and_are_idempotent(tmp_path: Path, seed: int) -> None:
    import random

    rnd = random.Random(seed)
    recs = []
    for wl in (
        "sutazai/StatefulSet/sutazai-postgresql/postgresql",
        "sutazai/Deployment/sutazai-backend/backend",
        "sutazai/Deployment/sutazai-ollama/ollama",
    ):
        mem = rnd.choice([96, 384, 1280, 3072, 8192]) * M
        recs.append(rec(wl, "memory", rnd.choice([None, mem // 2]), mem))
        recs.append(rec(wl, "cpu", rnd.choice([None, 0.1, 0.25]), rnd.choice([None, 0.5, 1.5, 2.0])))
    path = values(tmp_path)
    result = patch_helm(path, recs)
    data = YAML(typ="safe").load(path.read_text())
    for ch in result.changes:
        value = data
        for k in ch.key.split("."):
            value = value[k]
        assert str(value) == ch.new
    before = sha(path)
    assert not patch_helm(path, recs).changes and sha(path) == before


def test_subchart_primary_component_is_recognised(tmp_path: Path) -> None:
    path = tmp_path / "values.yaml"
    path.write_text("postgresql:\n  primary:\n    resources: {}\n  readReplicas:\n    resources: {}\n")
    patch_helm(path, [rec("db/StatefulSet/db-postgresql/postgresql", "memory", None, 1 * 1024 * M)])
    data = YAML(typ="safe").load(path.read_text())
    assert data["postgresql"]["primary"]["resources"] == {"limits": {"memory": "1Gi"}}
    assert data["postgresql"]["readReplicas"]["resources"] == {}


def test_similar_name_and_missing_resources_are_placed_and_said_so(tmp_path: Path) -> None:
    path = values(tmp_path)
    recs = [rec("sutazai/postgres", "memory", None, 2 * 1024 * M), rec("sutazai/frontend", "cpu", 0.25, 0.5)]
    result = patch_helm(path, recs)
    notes = {c.key: c.note for c in result.changes}
    assert notes["postgresql.resources.limits.memory"] == "placed by a similar name: postgres ~ postgresql"
    assert notes["frontend.resources.limits.cpu"] == "added resources under frontend"
    data = YAML(typ="safe").load(path.read_text())
    assert data["frontend"]["resources"] == {"limits": {"cpu": "500m"}, "requests": {"cpu": "250m"}}


def test_min_confidence_applies_to_helm_and_is_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = values(tmp_path)
    before = sha(path)
    result = patch_helm(path, k8s_recs(), min_confidence=0.95)  # k8s_recs are all at confidence 0.9
    assert not result.changes and not result.written and sha(path) == before
    assert any(s.reason == "low confidence 0.90 < 0.95" for s in result.skipped)
    for bad in ("2", "-1", "nan"):
        code, out, err = run_cli(["apply", "--helm", str(path), "--min-confidence", bad], capsys)
        assert code == 2 and out == "" and sha(path) == before
        assert [ln for ln in err.splitlines() if "error" in ln] == [
            f"rightsize: error: --min-confidence {float(bad)}: expected a number from 0 to 1"
        ]


def test_a_request_never_exceeds_the_limit_left_in_place(tmp_path: Path) -> None:
    """krr recommends a CPU request and no limit: above the chart's CPU limit, Kubernetes refuses the
    pod ("must be less than or equal to cpu limit"); the reverse holds for a lone limit."""
    path = tmp_path / "values.yaml"
    text = "db:\n  resources:\n    limits:\n      cpu: 500m\n    requests:\n      memory: 2Gi\n"
    path.write_text(text)
    result = patch_helm(path, [rec("shop/db", "cpu", 2.0, None), rec("shop/db", "memory", None, 1024 * M)])
    assert path.read_text() == text
    assert [s.reason for s in result.skipped] == [
        "no CPU limit recommended; the existing limit is left as it is",
        "not written: 2 would be above limits.cpu 500m left in place",
        "not written: 1Gi would be below requests.memory 2Gi left in place",
    ]
    patch_helm(path, [rec("shop/db", "cpu", 0.25, None)])  # under the limit: written
    assert "    requests:\n      memory: 2Gi\n      cpu: 250m\n" in path.read_text()


@pytest.mark.parametrize("text", ["", "# prod overrides\n", "# no final newline"])
def test_an_empty_values_file_gets_the_mapped_resources(tmp_path: Path, text: str) -> None:
    """An overrides file with nothing in it yet (empty, or comments only) was refused as 'not a Helm
    values file'; with --map the resources start it, the comments kept."""
    path = tmp_path / "values-prod.yaml"
    path.write_text(text)
    recs = [rec("shop/StatefulSet/db/postgresql", "memory", 512 * M, 1024 * M)]
    mapping = parse_map(["shop/StatefulSet/db/postgresql=postgresql.primary"])
    patch_helm(path, recs, mapping=mapping)
    body = "postgresql:\n  primary:\n    resources:\n      limits:\n        memory: 1Gi\n"
    body += "      requests:\n        memory: 512Mi\n"
    assert path.read_text() == (text + "\n" if text and not text.endswith("\n") else text) + body
    assert not patch_helm(path, recs, mapping=mapping).diff
