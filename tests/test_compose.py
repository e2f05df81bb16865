"""Compose writer: golden before/after files, round-trip fidelity, schema, idempotence, safety (the
YAML layouts it edits: test_compose_layout.py)."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import sha
from jsonschema import Draft7Validator
from ruamel.yaml import YAML
from writer_recs import G, M, rec, stack_recs

from rightsize.errors import RightsizeError
from rightsize.targets import schema
from rightsize.targets.compose import patch_compose

FIX = Path(__file__).parent / "fixtures"
SCHEMA = json.loads(schema.SCHEMA.read_text())
RESOURCE_KEYS = ("memory", "cpus", "pids", "mem_limit", "mem_reservation", "memswap_limit", "pids_limit")


def copy(tmp_path: Path, *names: str) -> list[Path]:
    out = []
    for name in names:
        dst = tmp_path / name
        shutil.copy(FIX / "compose" / name, dst)
        out.append(dst)
    return out


def schema_errors(path: Path) -> list[str]:
    data = YAML(typ="safe").load(path.read_text())  # plain data, merge keys resolved as compose does
    return [e.message for e in Draft7Validator(SCHEMA).iter_errors(data)]


def test_stack_matches_golden_file(tmp_path: Path) -> None:
    (path,) = copy(tmp_path, "stack.yml")
    (result,) = patch_compose([path], stack_recs(), min_confidence=0.5)
    assert path.read_text() == (FIX / "compose" / "stack.after.yml").read_text()
    assert result.written
    reasons = {(s.workload, s.resource): s.reason for s in result.skipped}
    ollama = [s for s in result.skipped if s.workload == "sutazai/ollama" and s.resource == "memory"]
    assert "mem_limit is interpolated (${OLLAMA_MEM:-16g}): not replaced; set it to 8G" in ollama[0].reason
    assert ollama[0].recommended == "8G"
    assert "reservation could exceed it" in ollama[1].reason
    assert reasons[("frontend", "all")] == "service not in the data"
    assert "low confidence" in reasons[("sutazai/redis", "cpu")]
    assert "only 1h of history" in reasons[("sutazai/redis", "pids")]
    notes = {c.key: c.note for c in result.changes}
    assert "swap allowance of 1 GiB" in notes["services.backend.memswap_limit"]
    assert "merge key" in notes["services.rabbitmq.deploy.resources.limits.memory"]


def test_only_resource_scalars_differ_and_anchor_is_untouched(tmp_path: Path) -> None:
    (path,) = copy(tmp_path, "stack.yml")
    before = path.read_text().splitlines()
    (result,) = patch_compose([path], stack_recs(), min_confidence=0.5)
    removed = [ln[1:] for ln in result.diff.splitlines() if ln.startswith("-") and not ln.startswith("---")]
    assert removed, "the fixture has values to change"
    for line in removed:
        assert line.split(":")[0].strip() in RESOURCE_KEYS, line
    after = path.read_text().splitlines()
    # the shared anchor block (first 11 lines: comments, flow maps, odd spacing) is byte-identical
    assert after[:11] == before[:11]
    data = YAML().load(path.read_text())
    assert data["x-defaults"]["deploy"]["resources"]["limits"]["memory"] == "1g"
    assert data["services"]["rabbitmq"]["deploy"]["resources"]["limits"]["memory"] == "384m"
    assert data["services"]["rabbitmq"]["restart"] == "unless-stopped"  # still inherited


def test_patched_files_validate_against_the_compose_schema(tmp_path: Path) -> None:
    stack, base, override = copy(tmp_path, "stack.yml", "base.yml", "override.yml")
    patch_compose([stack], stack_recs())
    patch_compose([base, override], stack_recs())
    for p in (stack, base, override):
        assert schema_errors(p) == []


def test_schema_check_catches_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("services:\n  a:\n    deploy:\n      resources:\n        limits:\n          memory: 5\n")
    assert schema_errors(bad)  # memory must be a string: the validator really validates


def test_apply_refuses_a_patch_that_would_break_the_compose_schema() -> None:
    before = "services:\n  a:\n    image: x\n"
    after = before + "    deploy:\n      resources:\n        limits:\n          memory: 5\n"
    with pytest.raises(RightsizeError) as exc:
        schema.check_patched(before, after, "c.yml")
    assert str(exc.value) == (
        "internal error, nothing written: c.yml would break the compose schema at "
        "services.a.deploy.resources.limits.memory: 5 is not of type 'string'"
    )
    schema.check_patched(before, before + "    mem_limit: 1g\n", "c.yml")  # a valid patch passes


def test_a_file_already_off_the_schema_elsewhere_is_still_patched(tmp_path: Path) -> None:
    # a key this copy of the schema does not know is compose's business, not a reason to refuse
    path = tmp_path / "c.yml"
    path.write_text("services:\n  db:\n    image: x\n    future_option: 1\n    mem_limit: 4g\n")
    assert schema_errors(path) == ["'future_option' does not match any of the regexes: '^x-'"]
    (result,) = patch_compose([path], [rec("p/db", "memory", None, 1 * G)])
    assert result.written and "mem_limit: 1g" in path.read_text()


def test_applying_twice_changes_nothing(tmp_path: Path) -> None:
    stack, base, override = copy(tmp_path, "stack.yml", "base.yml", "override.yml")
    patch_compose([stack], stack_recs())
    patch_compose([base, override], stack_recs())
    hashes = [sha(p) for p in (stack, base, override)]
    again = patch_compose([stack], stack_recs()) + patch_compose([base, override], stack_recs())
    assert [sha(p) for p in (stack, base, override)] == hashes
    assert all(r.diff == "" and not r.changes and not r.written for r in again)


def test_multi_file_change_goes_where_the_key_lives(tmp_path: Path) -> None:
    base, override = copy(tmp_path, "base.yml", "override.yml")
    r_base, r_over = patch_compose([base, override], stack_recs(), only=["memory", "cpu"])
    assert base.read_text() == (FIX / "compose" / "base.after.yml").read_text()
    assert override.read_text() == (FIX / "compose" / "override.after.yml").read_text()
    assert {c.key for c in r_over.changes} == {"services.postgres.deploy.resources.limits.cpus"}
    assert "services.postgres.deploy.resources.limits.memory" in {c.key for c in r_base.changes}


def test_dry_run_prints_a_diff_and_writes_nothing(tmp_path: Path) -> None:
    (path,) = copy(tmp_path, "stack.yml")
    before = sha(path)
    (result,) = patch_compose([path], stack_recs(), dry_run=True, min_confidence=0.5)
    assert sha(path) == before and not result.written
    assert result.diff.startswith(f"--- {path}\n+++ {path}\n@@")
    assert "-          memory: 2G\n+          memory: 1280M\n" in result.diff


def test_backup_and_mode_are_kept(tmp_path: Path) -> None:
    (path,) = copy(tmp_path, "stack.yml")
    os.chmod(path, 0o640)
    original = path.read_bytes()
    (result,) = patch_compose([path], stack_recs(), backup=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert Path(result.extra["backup"]).read_bytes() == original
    assert path.read_bytes() != original
    assert not [p for p in tmp_path.iterdir() if "rightsize-tmp" in p.name]


@pytest.mark.parametrize(
    ("text", "kw", "message"),
    [
        ("services:\n  a:\n    image: x\n    image: y\n", {}, "duplicate key"),
        ("services:\n  a: [1\n", {}, "invalid YAML"),
        ("services:\n  a:\n    mem_limit: !custom 1g\n", {}, r"yml:3:16: not plain YAML: .*'!custom'"),
        ("- just\n- a list\n", {}, "not a compose file"),
        ("version: '3'\n", {}, "no 'services' mapping"),
        ("services:\n  a:\n    mem_limit: lots\n", {}, "not a memory size"),
        ("services:\n  a:\n    image: x\n", {"services": ["nope"]}, "no service named nope"),
        ("services:\n  a:\n    image: x\n", {"only": ["disk"]}, "unknown resource disk"),
    ],
)
def test_bad_input_is_one_error_and_the_file_is_byte_identical(
    tmp_path: Path, text: str, kw: dict[str, Any], message: str
) -> None:
    path = tmp_path / "compose.yml"
    path.write_text(text)
    before = sha(path)
    with pytest.raises(RightsizeError, match=message):
        patch_compose([path], [rec("p/a", "memory", None, 512 * M)], **kw)
    assert sha(path) == before


def test_read_only_file_is_refused_untouched(tmp_path: Path) -> None:
    (path,) = copy(tmp_path, "stack.yml")
    os.chmod(path, 0o444)
    before = sha(path)
    with pytest.raises(RightsizeError, match="read-only"):
        patch_compose([path], stack_recs())
    assert sha(path) == before
    (dry,) = patch_compose([path], stack_recs(), dry_run=True)  # a dry run only reads
    assert dry.diff and sha(path) == before


@pytest.mark.docker
@pytest.mark.slow
def test_patched_file_comes_up_with_docker_compose_and_the_new_limits(
    tmp_path: Path, docker_client: Any
) -> None:
    import subprocess
    import uuid

    (path,) = copy(tmp_path, "up.yml")
    recs = [
        rec("p/app", "memory", 32 * M, 96 * M),
        rec("p/app", "cpu", 0.25, 0.75),
        rec("p/legacy", "memory", 24 * M, 80 * M),
        rec("p/legacy", "cpu", None, 0.5),
        rec("p/legacy", "pids", None, 64),
        rec("p/merged", "memory", None, 72 * M),
    ]
    patch_compose([path], recs)
    assert schema_errors(path) == []
    project = f"rs5{uuid.uuid4().hex[:8]}"
    cmd = ["docker-compose", "-p", project, "-f", str(path)]
    try:
        up = subprocess.run([*cmd, "up", "-d"], capture_output=True, text=True, timeout=240)
        assert up.returncode == 0, up.stderr
        host = {
            c.labels["com.docker.compose.service"]: c.attrs["HostConfig"]
            for c in docker_client.containers.list(filters={"label": f"com.docker.compose.project={project}"})
        }
        assert host["app"]["Memory"] == 96 * M
        assert host["app"]["MemoryReservation"] == 32 * M
        assert host["app"]["NanoCpus"] == 750_000_000
        assert host["legacy"]["Memory"] == 80 * M
        assert host["legacy"]["MemorySwap"] == 128 * M  # the 48m swap allowance was kept
        assert host["legacy"]["NanoCpus"] == 500_000_000
        assert host["legacy"]["PidsLimit"] == 64
        assert host["merged"]["Memory"] == 72 * M  # its own override of the merged anchor
        assert host["sibling"]["Memory"] == 40 * M  # the anchor itself was not edited
    finally:
        subprocess.run([*cmd, "down", "-t", "0"], capture_output=True, timeout=240)


def test_services_filter_limits_the_work(tmp_path: Path) -> None:
    (path,) = copy(tmp_path, "stack.yml")
    (result,) = patch_compose([path], stack_recs(), services=["backend"], dry_run=True)
    assert {c.workload for c in result.changes} == {"sutazai/backend"}


def test_a_symlinked_file_stays_a_link(tmp_path: Path) -> None:
    (real,) = copy(tmp_path, "stack.yml")
    link = tmp_path / "docker-compose.yml"
    link.symlink_to(real)
    patch_compose([link], stack_recs(), min_confidence=0.5)
    assert link.is_symlink()
    assert real.read_text() == (FIX / "compose" / "stack.after.yml").read_text()


def deep_merge(into: dict[str, Any], new: dict[str, Any]) -> None:
    """Compose's merge of several files: mappings merge key by key, anything else is replaced."""
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            deep_merge(into[k], v)
        else:
            into[k] = v


@pytest.mark.parametrize("seed", range(8))
def test_random_recommendations_keep_every_fixture_valid_and_idempotent(tmp_path: Path, seed: int) -> None:
    """Seeded random values over all fixtures: the result parses with a different loader (safe, merges
    resolved), every reported change reads back, the schema holds, and a second run is a no-op."""
    import random

    rnd = random.Random(seed)
    services = ["postgres", "ollama", "backend", "rabbitmq", "redis", "frontend", "app", "legacy"]
    recs = []
    for svc in services:
        mem = rnd.choice([64, 96, 384, 768, 1280, 3072]) * M
        recs.append(rec(f"sutazai/{svc}", "memory", rnd.choice([None, mem // 2]), mem))
        recs.append(rec(f"sutazai/{svc}", "cpu", rnd.choice([None, 0.25]), rnd.choice([None, 0.5, 1.5, 3.0])))
        recs.append(rec(f"sutazai/{svc}", "pids", None, rnd.choice([64, 100, 500])))
    only = rnd.sample(["memory", "cpu", "pids"], rnd.randint(1, 3))
    for group in (["stack.yml"], ["base.yml", "override.yml"], ["up.yml"]):
        paths = copy(tmp_path, *group)
        results = patch_compose(paths, recs, only=only, project="sutazai")
        merged: dict[str, Any] = {}
        for p in paths:
            assert schema_errors(p) == []
            for name, svc in (YAML(typ="safe").load(p.read_text()).get("services") or {}).items():
                deep_merge(merged.setdefault(name, {}), svc or {})
        for r in results:
            for ch in r.changes:
                _, name, *keys = ch.key.split(".")
                value: Any = merged[name]
                for k in keys:
                    value = value[k]
                assert str(value) == ch.new, ch
        hashes = [sha(p) for p in paths]
        assert not any(r.changes for r in patch_compose(paths, recs, only=only, project="sutazai"))
        assert [sha(p) for p in paths] == hashes
        for p in paths:
            p.unlink()


def test_no_service_matching_the_data_warns(tmp_path: Path) -> None:
    path = tmp_path / "compose.yml"
    path.write_text("name: shop\nservices:\n  web:\n    image: x\n")
    with pytest.warns(UserWarning, match=r"no service matched a workload in the data \(it has sutazai/"):
        (result,) = patch_compose([path], stack_recs())
    assert not result.changes


def test_dry_run_diff_of_a_long_file_shows_only_the_changed_lines(tmp_path: Path) -> None:
    # > 200 lines with many repeated lines: difflib's junk heuristic would show blank lines as changed
    text = "services:\n" + "".join(
        f"  s{i}:\n    image: x\n    deploy:\n      resources:\n        limits:\n          memory: 1G\n\n"
        for i in range(60)
    )
    path = tmp_path / "compose.yml"
    path.write_text(text)
    recs = [rec(f"p/s{i}", "memory", None, 512 * M) for i in range(60)]
    (result,) = patch_compose([path], recs, dry_run=True)
    lines = result.diff.splitlines()
    assert [ln for ln in lines if ln.startswith("-") and not ln.startswith("---")] == [
        "-          memory: 1G"
    ] * 60
    assert [ln for ln in lines if ln.startswith("+") and not ln.startswith("+++")] == [
        "+          memory: 512M"
    ] * 60


def test_summary_is_one_line_per_change_whatever_the_names(tmp_path: Path) -> None:
    """A newline or a bidi override in a service name is shown escaped: each change stays one line."""
    from writer_recs import none_rec

    from rightsize.targets.summary import summarize

    path = tmp_path / "c.yml"
    path.write_text('name: p\nservices:\n  "web\\nx":\n    mem_limit: 4g\n  "a\\u202eb":\n    image: x\n')
    recs = [
        rec("p/web\nx", "memory", None, 1 * G),
        none_rec("p/web\nx", "pids"),
        rec("p/a\u202eb", "memory", None, G),
    ]
    results = patch_compose([path], recs)
    (result,) = results
    assert len(result.changes) == 2 and len(result.skipped) == 1
    for dry_run in (True, False):
        lines = summarize(results, dry_run=dry_run).splitlines()
        assert len(lines) == 1 + 2 + 1, lines
        assert not any(ch in line for line in lines for ch in "\r\u202e\x1b")
    text = summarize(results, dry_run=False)
    assert "  p/web\\nx: services.web\\nx.mem_limit: 4g -> 1g\n" in text
    assert "  p/a\\u202eb: services.a\\u202eb.deploy.resources.limits.memory: (unset) -> 1G" in text
    assert text.endswith("  skipped p/web\\nx pids: no recommendation: only 1h of history (need 24h)")


def test_the_no_match_warning_is_one_line_whatever_the_names(tmp_path: Path) -> None:
    path = tmp_path / "compose.yml"
    path.write_text("name: shop\nservices:\n  web:\n    image: x\n")
    with pytest.warns(UserWarning) as caught:
        patch_compose([path], [rec("evil\nname", "memory", None, G)])
    (message,) = [str(w.message) for w in caught]
    assert "\n" not in message and "(it has evil\\nname)" in message


def test_every_file_is_checked_before_the_first_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """-f base -f override: the override's patch is refused, so the base (checked fine) stays as it was.

    No real patch of this writer breaks the compose schema (the check is a net for writer bugs), so
    the refusal is injected: the schema check reports a new violation in the override only.
    """
    base, override = tmp_path / "base.yml", tmp_path / "override.yml"
    base.write_text(
        "services:\n  db:\n    image: x\n    deploy:\n"
        "      resources:\n        limits:\n          memory: 1g\n"
    )
    override.write_text('services:\n  db:\n    deploy:\n      resources:\n        limits: {cpus: "2"}\n')
    real = schema.schema_errors

    def new_violation_in_the_override(data: Any) -> list[tuple[str, str]]:
        limits = data["services"]["db"]["deploy"]["resources"]["limits"]
        extra = [("services.db", "injected")] if limits.get("cpus") == "1" else []
        return real(data) + extra

    monkeypatch.setattr(schema, "schema_errors", new_violation_in_the_override)
    recs = [rec("db", "memory", None, 512 * M), rec("db", "cpu", None, 1.0)]
    (alone,) = patch_compose([base], [recs[0]], dry_run=True)  # the base alone would be written
    assert "+          memory: 512m" in alone.diff
    before = [base.read_bytes(), override.read_bytes()]
    with pytest.raises(RightsizeError, match=r"override\.yml would break the compose schema at services\.db"):
        patch_compose([base, override], recs)
    assert [base.read_bytes(), override.read_bytes()] == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.yml", "override.yml"]  # no temp file left
