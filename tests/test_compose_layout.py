"""Compose writer and the YAML it edits: anchors and aliases, merge keys and tags, flow maps,
indentation, line endings, block scalars, extends; each file changes only where a value goes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator
from ruamel.yaml import YAML
from writer_recs import G, M, rec

from rightsize.models import Recommendation
from rightsize.targets import schema
from rightsize.targets.check import check_compose
from rightsize.targets.compose import patch_compose

SCHEMA = json.loads(schema.SCHEMA.read_text())


def _patch_text(tmp_path: Path, text: str, recs: list[Recommendation], **kw: Any) -> tuple[str, Any]:
    path = tmp_path / "compose.yml"
    path.write_text(text)
    (result,) = patch_compose([path], recs, **kw)
    return path.read_text(), result


def test_alias_gets_its_own_copy_and_a_shared_definition_is_not_edited(tmp_path: Path) -> None:
    text = (
        "services:\n"
        "  a:\n"
        "    image: x\n"
        "    deploy:\n"
        "      resources: &res\n"
        "        limits:\n"
        "          memory: 512m   # shared\n"
        "  b:\n"
        "    image: x\n"
        "    deploy: {resources: *res}\n"
        "  c:\n"
        "    deploy: {resources: *res}   # not in the data: keeps sharing a's block\n"
    )
    recs = [rec("p/a", "memory", None, 256 * M), rec("p/b", "memory", None, 768 * M)]
    out, result = _patch_text(tmp_path, text, recs)
    assert out.splitlines()[:9] == text.splitlines()[:9]  # a's anchored block untouched
    assert out.splitlines()[9] == "    deploy: {resources: {limits: {memory: 768m}}}"
    assert out.splitlines()[10:] == text.splitlines()[10:]
    skipped = {s.workload: s.reason for s in result.skipped}
    assert "shared through anchor &res" in skipped["p/a"]
    data = YAML(typ="safe").load(out)
    assert data["services"]["a"]["deploy"]["resources"]["limits"]["memory"] == "512m"


def test_compose_merge_tags_reset_and_override_are_read_and_kept(tmp_path: Path) -> None:
    # docker compose's !reset / !override (multi-file merge control) are valid compose files
    text = (
        "services:\n"
        "  a:\n"
        "    image: x\n"
        "    ports: !reset []\n"
        "    environment: !override\n"
        "      A: '1'\n"
        "    deploy:\n"
        "      resources:\n"
        "        limits:\n"
        "          memory: 1g\n"
    )
    out, result = _patch_text(tmp_path, text, [rec("p/a", "memory", None, 768 * M)])
    assert [c.new for c in result.changes] == ["768m"]
    assert out == text.replace("memory: 1g", "memory: 768m")
    from rightsize.analysis.current import compose_current

    assert compose_current(tmp_path / "compose.yml")["a"]["memory"].limit == 768 * M


def test_a_tagged_value_keeps_its_unit_style(tmp_path: Path) -> None:
    # `mem_limit: !override 4g` was written back as `!override 8G`, and a key added beside it as 6G:
    # the unit's case was read from the tag's node, not its text
    text = "services:\n  a:\n    image: x\n    mem_limit: !override 4g\n"
    out, _ = _patch_text(tmp_path, text, [rec("p/a", "memory", 6 * G, 8 * G)])
    assert out == "services:\n  a:\n    image: x\n    mem_limit: !override 8g\n    mem_reservation: 6g\n"


def test_block_alias_replaced_by_own_block(tmp_path: Path) -> None:
    text = (
        "x-res: &res\n"
        "  limits:\n"
        "    memory: 1g\n"
        "services:\n"
        "  a:\n"
        "    image: x\n"
        "    deploy:\n"
        "      resources: *res\n"
        "      replicas: 1\n"
    )
    out, result = _patch_text(tmp_path, text, [rec("p/a", "memory", 256 * M, 512 * M)])
    assert out == (
        "x-res: &res\n  limits:\n    memory: 1g\nservices:\n  a:\n    image: x\n    deploy:\n"
        "      resources:\n        limits:\n          memory: 512m\n        reservations:\n"
        "          memory: 256m\n      replicas: 1\n"
    )
    assert all(c.note.startswith("was shared") or "*res" in c.note for c in result.changes)


def test_flow_maps_empty_maps_and_no_final_newline(tmp_path: Path) -> None:
    text = (
        "services:\n  a: {image: x, deploy: {resources: {limits: {memory: 1g}}}}\n"
        "  b:\n    image: y\n    deploy: {}"
    )
    recs = [rec("p/a", "memory", 64 * M, 128 * M), rec("p/b", "cpu", 0.5, 1.5), rec("p/b", "pids", None, 64)]
    out, _ = _patch_text(tmp_path, text, recs)
    assert out.splitlines()[1] == (
        "  a: {image: x, deploy: {resources: {limits: {memory: 128m}, reservations: {memory: 64m}}}}"
    )
    assert out.endswith(
        '    deploy:\n      resources:\n        limits:\n          cpus: "1.5"\n'
        '          pids: 64\n        reservations:\n          cpus: "0.5"\n'
    )
    data = YAML(typ="safe").load(out)
    assert not list(Draft7Validator(SCHEMA).iter_errors(data))


def test_four_space_indentation_is_followed(tmp_path: Path) -> None:
    text = "services:\n    a:\n        image: x\n"
    out, _ = _patch_text(tmp_path, text, [rec("p/a", "memory", None, 2 * G)])
    assert (
        out == "services:\n    a:\n        image: x\n        deploy:\n            resources:\n"
        "                limits:\n                    memory: 2G\n"
    )


def test_legacy_and_deploy_keys_both_updated_so_they_agree(tmp_path: Path) -> None:
    text = (
        "services:\n  a:\n    mem_limit: 1g\n"
        "    deploy:\n      resources:\n        limits:\n          memory: 1g\n"
    )
    out, _result = _patch_text(tmp_path, text, [rec("p/a", "memory", None, 768 * M)])
    data = YAML(typ="safe").load(out)
    assert data["services"]["a"]["mem_limit"] == "768m"
    assert data["services"]["a"]["deploy"]["resources"]["limits"]["memory"] == "768m"


def test_project_disambiguates_and_ambiguity_is_reported(tmp_path: Path) -> None:
    text = "services:\n  web:\n    image: x\n"
    recs = [rec("one/web", "memory", None, 256 * M), rec("two/web", "memory", None, 512 * M)]
    _, result = _patch_text(tmp_path, text, recs, dry_run=True)
    assert "ambiguous" in result.skipped[0].reason
    out, _ = _patch_text(tmp_path, text, recs, project="two")
    assert "memory: 512M" in out


def test_crlf_line_endings_are_kept(tmp_path: Path) -> None:
    text = "services:\r\n  a:\r\n    image: x   # c\r\n    mem_limit: 1g\r\n  b:\r\n    image: y\r\n"
    path = tmp_path / "compose.yml"
    path.write_bytes(text.encode())
    patch_compose([path], [rec("p/a", "memory", 256 * M, 512 * M), rec("p/b", "memory", None, 512 * M)])
    out = path.read_bytes().decode()
    assert "\n" not in out.replace("\r\n", "")
    assert out.startswith(
        "services:\r\n  a:\r\n    image: x   # c\r\n    mem_limit: 512m\r\n    mem_reservation: 256m\r\n"
    )


def test_unlimited_swap_and_no_cpu_limit_are_left_alone(tmp_path: Path) -> None:
    text = "services:\n  a:\n    mem_limit: 1g\n    memswap_limit: -1\n    cpus: 2\n"
    recs = [rec("p/a", "memory", None, 512 * M), rec("p/a", "cpu", 0.5, None)]  # KRR-style: no CPU limit
    out, result = _patch_text(tmp_path, text, recs)
    assert out == "services:\n  a:\n    mem_limit: 512m\n    memswap_limit: -1\n    cpus: 2\n"
    reasons = " | ".join(s.reason for s in result.skipped)
    assert "memswap_limit -1 left as it is" in reasons
    assert "no CPU limit recommended" in reasons
    assert "compose has none for a CPU reservation" in reasons


def test_a_service_whose_block_others_merge_is_not_edited_in_place(tmp_path: Path) -> None:
    text = (
        "services:\n"
        "  api: &api\n"
        "    image: x\n"
        "    mem_limit: 1g\n"
        "  worker:\n"
        "    <<: *api\n"
        "    command: work\n"
    )
    recs = [rec("p/api", "memory", None, 512 * M), rec("p/worker", "memory", None, 256 * M)]
    out, result = _patch_text(tmp_path, text, recs)
    assert out == text.replace("    command: work\n", "    command: work\n    mem_limit: 256m\n")
    (skip,) = result.skipped
    assert skip.workload == "p/api" and "services.api is shared through anchor &api" in skip.reason


def test_scalars_written_on_the_next_line_and_next_line_aliases(tmp_path: Path) -> None:
    text = (
        'x: &m 1g\nservices:\n  a:\n    mem_limit:\n      1g\n    cpus: # c\n      "2"\n'
        "  b:\n    mem_limit:\n      *m\n"
    )
    recs = [
        rec("p/a", "memory", None, 512 * M),
        rec("p/a", "cpu", None, 1.5),
        rec("p/b", "memory", None, 256 * M),
    ]
    out, _ = _patch_text(tmp_path, text, recs)
    assert out == text.replace("      1g\n", "      512m\n").replace('"2"', '"1.5"').replace("*m", "256m")


def test_a_reservation_never_exceeds_the_limit_left_in_place(tmp_path: Path) -> None:
    text = "services:\n  a:\n    deploy:\n      resources:\n        limits:\n          cpus: '1'\n"
    out, result = _patch_text(tmp_path, text, [rec("p/a", "cpu", 2.0, None)])  # KRR: request only
    assert out == text
    assert any("would exceed the cpu limit left in place" in s.reason for s in result.skipped)


def test_service_names_with_dots(tmp_path: Path) -> None:
    text = "services:\n  my.api:\n    image: x\n    mem_limit: 1g\n"
    out, result = _patch_text(tmp_path, text, [rec("p/my.api", "memory", None, 512 * M)])
    assert out == text.replace("1g", "512m")
    assert result.changes[0].key == "services.my.api.mem_limit"


def test_indentation_is_detected() -> None:
    from rightsize.targets.yaml import Indent, detect_indent

    assert detect_indent("a:\n    b:\n        c: 1\n    l:\n    - x\n") == Indent(mapping=4, offset=0)
    assert detect_indent("a:\n  b: 1\n  l:\n    - x\n    - y\n") == Indent(mapping=2, offset=2)
    assert detect_indent("a: 1\n") == Indent(mapping=2, offset=0)


def test_a_shared_scalar_anchor_is_not_edited_but_its_alias_is(tmp_path: Path) -> None:
    text = "services:\n  a:\n    mem_limit: &mem 1g\n  b:\n    mem_limit: *mem\n  c:\n    mem_limit: *mem\n"
    recs = [rec("p/a", "memory", None, 512 * M), rec("p/b", "memory", None, 256 * M)]
    out, result = _patch_text(tmp_path, text, recs)  # c (not in the data) keeps using &mem
    assert out == text.replace("b:\n    mem_limit: *mem", "b:\n    mem_limit: 256m")
    assert "shared through anchor &mem" in {s.workload: s.reason for s in result.skipped}["p/a"]


def test_extends_gets_an_own_override_in_the_inherited_spelling(tmp_path: Path) -> None:
    (tmp_path / "common.yml").write_text("services:\n  base:\n    image: x\n    mem_limit: 1g\n    cpus: 2\n")
    text = (
        "services:\n"
        "  web:\n"
        "    extends: {file: common.yml, service: base}\n"
        "  worker:\n"
        "    extends: web\n"
        "    command: work\n"
    )
    recs = [rec("p/web", "memory", None, 512 * M), rec("p/worker", "cpu", None, 2.0)]
    out, result = _patch_text(tmp_path, text, recs)
    # web overrides the inherited mem_limit with its own (same key: the two never disagree);
    # worker's inherited 2 CPUs already match, so nothing is written for it
    assert out == text.replace("service: base}\n", "service: base}\n    mem_limit: 512m\n")
    assert result.changes[0].old == "1g" and "extends" in result.changes[0].note
    assert (tmp_path / "common.yml").read_text().endswith("mem_limit: 1g\n    cpus: 2\n")
    rows = {(r.service, r.resource): r for r in check_compose([tmp_path / "compose.yml"], recs).rows}
    assert rows[("worker", "cpu")].ok and rows[("worker", "memory")].configured == "512m"


def test_a_block_scalar_value_is_replaced_whole(tmp_path: Path) -> None:
    text = (
        "services:\n  db:\n    image: x\n    deploy:\n      resources:\n        limits:\n"
        "          memory: >-\n            1g\n\n          cpus: '2'\n"
    )
    out, result = _patch_text(tmp_path, text, [rec("p/db", "memory", None, 512 * M)])
    assert [c.new for c in result.changes] == ["512m"]
    assert out == text.replace("memory: >-\n            1g\n", "memory: 512m\n")


def test_keys_are_added_to_tagged_block_and_flow_mappings(tmp_path: Path) -> None:
    text = (
        "services:\n  db:\n    image: x\n    deploy:\n      resources:\n"
        "        limits: !override\n          memory: 1g\n        reservations: !reset {}\n"
    )
    recs = [rec("p/db", "memory", 256 * M, 512 * M), rec("p/db", "cpu", None, 1.0)]
    out, result = _patch_text(tmp_path, text, recs)
    assert out == (
        "services:\n  db:\n    image: x\n    deploy:\n      resources:\n"
        '        limits: !override\n          memory: 512m\n          cpus: "1"\n'
        "        reservations: !reset {}\n"
    )
    # compose drops a !reset key with its content (compose-go's ResetProcessor): not written there
    (skip,) = result.skipped
    assert skip.reason.startswith(f"deploy.resources.reservations.memory is !reset in {tmp_path}/compose")
    flow = text.replace("!override\n          memory: 1g", "!override {memory: 1g}")
    out, _ = _patch_text(tmp_path, flow, recs)
    assert '        limits: !override {memory: 512m, cpus: "1"}\n' in out
