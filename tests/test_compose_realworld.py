"""Compose constructs seen in real-world files that the writers must handle (one test per construct)."""

from __future__ import annotations

import subprocess
import uuid
import warnings
from pathlib import Path
from typing import Any

import pytest
from writer_recs import G, M, rec

from rightsize.errors import RightsizeError
from rightsize.targets.check import check_compose
from rightsize.targets.compose import patch_compose
from rightsize.targets.yaml import plain_yaml


def load(path: Path) -> Any:
    return plain_yaml().load(path.read_text())  # compose's !reset / !override tags read


def test_keys_are_added_after_a_sequence_at_its_keys_column(tmp_path: Path) -> None:
    """GPU reservations as Docker's docs write them, with the dashes at the key's own column: the new
    reservation goes after the whole ``devices`` list, not between ``devices:`` and its items."""
    text = (
        "services:\n"
        "  ollama:\n"
        "    image: ollama/ollama\n"
        "    deploy:\n"
        "      resources:\n"
        "        reservations:\n"
        "          devices:\n"
        "          - driver: nvidia\n"
        "            count: 1\n"
        "            capabilities: [gpu]\n"
        "  web:\n"
        "    image: nginx\n"
    )
    path = tmp_path / "compose.yml"
    path.write_text(text)
    (result,) = patch_compose([path], [rec("p/ollama", "memory", 6 * G, 8 * G)])
    assert result.written
    out = path.read_text()
    assert out.startswith(text.split("  web:")[0])  # every original line kept, in place
    assert out.endswith("  web:\n    image: nginx\n")
    res = load(path)["services"]["ollama"]["deploy"]["resources"]
    assert res["reservations"] == {
        "devices": [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}],
        "memory": "6G",
    }
    assert res["limits"] == {"memory": "8G"}
    (again,) = patch_compose([path], [rec("p/ollama", "memory", 6 * G, 8 * G)])
    assert not again.diff


def test_a_top_level_sequence_at_column_zero_is_not_taken_into_the_block(tmp_path: Path) -> None:
    """The last service's ``volumes:`` list at its key's column, then the top-level ``volumes:``."""
    text = (
        "services:\n"
        "  db:\n"
        "    image: postgres\n"
        "    volumes:\n"
        "    - data:/var/lib/postgresql/data\n"
        "volumes:\n"
        "  data: {}\n"
    )
    path = tmp_path / "compose.yml"
    path.write_text(text)
    patch_compose([path], [rec("p/db", "memory", None, 512 * M)])
    added = "    deploy:\n      resources:\n        limits:\n          memory: 512M\n"
    assert path.read_text() == text.replace("data\nvolumes:", f"data\n{added}volumes:")


def test_check_reads_an_unlimited_limit_as_no_limit(tmp_path: Path) -> None:
    """``pids_limit: -1``, ``mem_limit: 0`` and ``cpus: 0`` are Docker's "unlimited": check fails them as
    a missing limit (the plan's checklist), not as a value some percent below the recommendation."""
    text = "services:\n  db:\n    restart: always\n    mem_limit: 0\n    cpus: 0\n    pids_limit: -1\n"
    path = tmp_path / "c.yml"
    path.write_text(text)
    recs = [rec("p/db", "memory", None, G), rec("p/db", "cpu", None, 1.0), rec("p/db", "pids", None, 100)]
    rows = {r.resource: r for r in check_compose([path], recs).rows}
    assert rows["memory"].why == "0 = unlimited: no memory limit (plan checklist: Memory limits set)"
    assert rows["cpu"].why == "0 = unlimited: no cpu limit (plan checklist: CPU limits set)"
    assert rows["pids"].why == "-1 = unlimited: no pids limit (plan checklist: PID limits configured)"
    assert not any(rows[r].ok for r in ("memory", "cpu", "pids")) and rows["restart"].ok


def test_an_included_file_is_followed_and_patched_once(tmp_path: Path) -> None:
    """``include:`` (Compose 2.20+) brings services from another file: apply and check follow it (more
    in test_compose_include.py); the file also given with -f, as the old workaround did, is read once."""
    (tmp_path / "db").mkdir()
    db = tmp_path / "db" / "compose.yml"
    db.write_text("services:\n  postgres:\n    image: postgres\n")
    top = tmp_path / "compose.yml"
    top.write_text("include:\n  - db/compose.yml\nservices:\n  web:\n    image: x\n")
    recs = [rec("p/postgres", "memory", None, G), rec("p/web", "memory", None, G)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rows = check_compose([top], recs).rows
        assert {r.service for r in rows} == {"web", "postgres"}
        results = patch_compose([top, db], recs)
    assert [(r.target, len(r.changes)) for r in results] == [(str(top), 1), (str(db), 1)]
    assert load(db)["services"]["postgres"]["deploy"]["resources"]["limits"]["memory"] == "1G"


def test_a_cfs_quota_is_updated_instead_of_adding_cpus(tmp_path: Path) -> None:
    """Docker refuses ``cpus`` beside ``cpu_quota`` or ``cpu_period`` ("Conflicting options: Nano CPUs
    and CPU Quota cannot both be set"): the quota is rescaled instead; a period alone is skipped."""
    text = (
        "services:\n"
        "  db:\n    image: x\n    cpu_quota: 50000   # half a CPU\n    cpu_period: 50000\n"
        "  web:\n    image: x\n    cpu_period: 100000\n    mem_limit: 1g\n"
    )
    path = tmp_path / "compose.yml"
    path.write_text(text)
    recs = [rec("p/db", "cpu", None, 1.5), rec("p/web", "cpu", None, 0.5)]
    (result,) = patch_compose([path], recs)
    assert path.read_text() == text.replace("cpu_quota: 50000 ", "cpu_quota: 75000 ")
    assert [(c.key, c.old, c.new) for c in result.changes] == [("services.db.cpu_quota", "50000", "75000")]
    (skip,) = result.skipped
    assert skip.reason == (
        "cpu_period is set without cpu_quota (Docker refuses cpus beside it): "
        "set cpu_quota: 50000 for 0.5 CPUs"
    )
    (again,) = patch_compose([path], recs)
    assert not again.diff and not again.changes
    rows = {(r.service, r.resource): r for r in check_compose([path], recs).rows}
    assert (rows[("db", "cpu")].configured, rows[("db", "cpu")].ok) == ("1.5", True)
    assert rows[("web", "cpu")].why == "no cpu limit (plan checklist: CPU limits set)"


@pytest.mark.docker
@pytest.mark.slow
def test_a_rescaled_quota_comes_up_with_docker_compose(tmp_path: Path, docker_client: Any) -> None:
    path = tmp_path / "compose.yml"
    path.write_text(
        "services:\n  db:\n    image: rightsize-test/busybox:1\n    command: sleep 3600\n"
        "    labels: {rightsize-test: '1'}\n    cpu_quota: 50000\n"
    )
    patch_compose([path], [rec("p/db", "cpu", 0.25, 0.75)])
    project = f"rsq{uuid.uuid4().hex[:8]}"
    cmd = ["docker-compose", "-p", project, "-f", str(path)]
    try:
        up = subprocess.run([*cmd, "up", "-d"], capture_output=True, text=True, timeout=240)
        assert up.returncode == 0, up.stderr  # with a `cpus` added beside the quota the engine refused
        (c,) = docker_client.containers.list(filters={"label": f"com.docker.compose.project={project}"})
        assert (c.attrs["HostConfig"]["CpuQuota"], c.attrs["HostConfig"]["NanoCpus"]) == (75000, 0)
    finally:
        subprocess.run([*cmd, "down", "-t", "0"], capture_output=True, timeout=240)


def test_reset_and_override_tags_in_a_later_file_hide_the_earlier_values(tmp_path: Path) -> None:
    """``!reset`` drops what earlier files set (apply skips it and says so; check sees no limit);
    ``!override`` replaces the block, so new keys go into it, not into the file it hides."""
    base = tmp_path / "compose.yml"
    base.write_text(
        "services:\n"
        "  db:\n    image: x\n    restart: always\n    mem_limit: 4g\n    cpus: 2\n"
        "  web:\n    image: x\n    restart: always\n"
        "    deploy:\n      resources:\n        limits:\n          memory: 2g\n          cpus: '1'\n"
        "        reservations:\n          memory: 1g\n"
    )
    over = tmp_path / "compose.override.yml"
    over.write_text(
        "services:\n  db:\n    mem_limit: !reset null\n    cpus: !reset\n"
        "  web:\n    deploy: !override\n      resources:\n        limits:\n          memory: 1g\n"
    )
    recs = [
        rec("p/db", "memory", None, G),
        rec("p/db", "cpu", None, 1.0),
        rec("p/web", "memory", 256 * M, 512 * M),
        rec("p/web", "cpu", None, 0.5),
    ]
    rows = {(r.service, r.resource, r.kind): r for r in check_compose([base, over], recs).rows}
    assert rows[("db", "memory", "limit")].why == "no memory limit (plan checklist: Memory limits set)"
    assert rows[("db", "cpu", "limit")].configured is None
    assert rows[("web", "memory", "limit")].configured == "1g"
    assert rows[("web", "cpu", "limit")].configured is None  # the override dropped base's cpus
    assert ("web", "memory", "reservation") not in rows

    before = base.read_text()
    results = patch_compose([base, over], recs)
    assert base.read_text() == before  # what compose reads of these services is all in the override
    assert [s.reason for s in results[1].skipped] == [
        "mem_limit is !reset in " + str(over) + ": not written; set it to 1G",
        "cpus is !reset in " + str(over) + ": not written; set it to 1",
    ]
    web = load(over)["services"]["web"]["deploy"]["resources"]
    assert web == {"limits": {"memory": "512m", "cpus": "0.5"}, "reservations": {"memory": "256m"}}
    rows = {(r.service, r.resource): r for r in check_compose([base, over], recs).rows}
    assert rows[("web", "memory")].ok and rows[("web", "cpu")].ok


# compose-go's checkConsistency (loader/validate.go, Docker Compose v2): a service-level key set
# beside a deploy block that exists must equal its twin there, an absent twin counting as 0.
TWINS = (
    ("cpus", "limits", "cpus"),
    ("mem_limit", "limits", "memory"),
    ("mem_reservation", "reservations", "memory"),
    ("pids_limit", "limits", "pids"),
)


def compose_v2_conflicts(path: Path) -> list[str]:
    from rightsize.units import parse_bytes, parse_cpus

    def norm(key: str, value: Any) -> float | str:
        if value is None:
            return 0.0
        if "$" in str(value):
            return str(value)  # interpolated: equal only to the same text
        return parse_cpus(value) if key == "cpus" else float(parse_bytes(value) if "mem" in key else value)

    out = []
    for name, svc in load(path)["services"].items():
        res = (svc.get("deploy") or {}).get("resources") or {}
        for key, block, twin in TWINS:
            value = norm(key, svc.get(key))
            if value and block in res and value != norm(key, (res[block] or {}).get(twin)):
                out.append(f"{name}: {key} / deploy.resources.{block}.{twin}")
    return out


def test_no_service_level_key_is_left_beside_a_deploy_block_without_its_twin(tmp_path: Path) -> None:
    """Docker Compose v2 refuses ``mem_limit`` (``cpus``, ``pids_limit``, ``mem_reservation``) beside a
    ``deploy.resources.limits`` (``reservations``) block that says otherwise or nothing: "can't set
    distinct values on 'mem_limit' and 'deploy.resources.limits.memory'". New limits go beside the
    service-level ones instead of starting a limits block; an existing block gets the twin too."""
    text = (
        "services:\n"
        "  a:\n    image: x\n    mem_limit: 1g\n"  # reservations only: a limits block must not appear
        "    deploy:\n      resources:\n        reservations:\n          memory: 256m\n"
        "  b:\n    image: x\n    pids_limit: 200\n"  # a limits block without pids (v2 already refuses)
        "    deploy:\n      resources:\n        limits:\n          memory: 1g\n"
        "  c:\n    image: x\n    mem_reservation: 128m\n"  # a CPU reservation would start a block
        "    deploy:\n      resources:\n        limits:\n          memory: 1g\n"
    )
    path = tmp_path / "compose.yml"
    path.write_text(text)
    recs = [
        *(rec(f"p/{s}", "memory", 256 * M, 512 * M) for s in "abc"),
        *(rec(f"p/{s}", "cpu", 0.5, 1.0) for s in "abc"),
        *(rec(f"p/{s}", "pids", None, 100) for s in "abc"),
    ]
    (result,) = patch_compose([path], recs)
    assert compose_v2_conflicts(path) == []
    data = load(path)["services"]
    assert data["a"]["mem_limit"] == "512m" and data["a"]["cpus"] == "1" and data["a"]["pids_limit"] == 100
    assert data["a"]["deploy"] == {"resources": {"reservations": {"memory": "256m", "cpus": "0.5"}}}
    assert data["b"]["pids_limit"] == 100 and data["b"]["deploy"]["resources"]["limits"]["pids"] == 100
    assert "reservations" not in data["c"]["deploy"]["resources"]
    assert data["c"]["mem_reservation"] == "256m"
    assert [(s.workload, s.resource) for s in result.skipped] == [("p/c", "cpu")]


def test_check_fails_the_two_spellings_disagreeing_and_apply_mends_it(tmp_path: Path) -> None:
    text = (
        "services:\n  db:\n    image: x\n    restart: always\n    cpus: 1\n    pids_limit: 100\n"
        "    deploy:\n      resources:\n        limits:\n          memory: 1g\n          pids: 100\n"
    )
    path = tmp_path / "compose.yml"
    path.write_text(text)
    recs = [rec("p/db", "memory", None, G), rec("p/db", "cpu", None, 1.0), rec("p/db", "pids", None, 100)]
    conflicts = [r for r in check_compose([path], recs).rows if r.kind == "conflict"]
    assert [(r.resource, r.configured, r.ok) for r in conflicts] == [("cpu", "1", False)]
    assert conflicts[0].why == (
        "cpus and deploy.resources.limits.cpus (unset) disagree: Docker Compose v2 refuses the file"
    )
    assert compose_v2_conflicts(path) == ["db: cpus / deploy.resources.limits.cpus"]
    table = check_compose([path], recs).table()
    assert "cpu conflict  1           -            FAIL    cpus and deploy.resources.limits.cpus" in table
    patch_compose([path], recs)  # the values are right already: only the missing twin is written
    assert path.read_text() == text.replace("pids: 100\n", 'pids: 100\n          cpus: "1"\n')
    assert compose_v2_conflicts(path) == []
    assert not check_compose([path], recs).failed


def test_kubernetes_style_binary_units_are_refused_as_compose_v2_refuses_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    r"""``1Gi`` is not a compose size. 0bc8cf2 took it for one from go-units' old regular expression
    (``^\d+(\.\d+)* ?[kmgtp]?i?b?$``, v0.4.0), but compose-go requires go-units v0.5.0, whose parseSize
    (docker/go-units#40, "size: stop using regexp") takes a suffix ``b``, ``k``..``p``, ``kb`` or ``kib``
    only: ``1Gi`` is "invalid suffix: 'gi'" there, and ``docker compose`` stops on it. ``1GiB`` is fine."""
    from cli_helpers import run_cli, sha

    path = tmp_path / "compose.yml"
    path.write_text("services:\n  postgres:\n    image: x\n    mem_limit: 1Gi\n")
    before = sha(path)
    for command in (["apply"], ["check"]):
        code, out, err = run_cli([*command, "-f", str(path)], capsys)
        lines = [x for x in err.splitlines() if "bundled SYNTHETIC sample" not in x]
        assert (code, out, len(lines)) == (2, "", 1), err
        want = f"rightsize: error: {path}: services.postgres.mem_limit: not a memory size: '1Gi'"
        assert lines[0].startswith(want)
    assert sha(path) == before
    path.write_text("services:\n  db:\n    image: x\n    mem_limit: 1GiB\n    mem_reservation: 512 MiB\n")
    recs = [rec("p/db", "memory", 512 * M, G)]
    rows = {(r.resource, r.kind): r for r in check_compose([path], recs).rows}
    assert rows[("memory", "limit")].ok and rows[("memory", "reservation")].ok
    (result,) = patch_compose([path], recs)
    assert not result.diff  # 1GiB and 512 MiB are the recommended values already


def test_tabs_separating_values_and_comments_are_read_and_kept(tmp_path: Path) -> None:
    """Trailing tabs, a tab before a comment or after ``key:`` are valid YAML that Docker Compose v2
    reads (ruamel.yaml and PyYAML refuse them); a tab in the indentation stays one error line."""
    text = "services:\n  db:\n    image: x\t\n    mem_limit: 2g\t# tabbed\n    cpus:\t1\t\n"
    path = tmp_path / "compose.yml"
    path.write_text(text)
    recs = [rec("p/db", "memory", None, G), rec("p/db", "cpu", None, 0.5)]
    (result,) = patch_compose([path], recs)
    assert path.read_text() == text.replace("2g\t", "1g\t").replace("\t1\t", "\t0.5\t")
    assert [c.new for c in result.changes] == ["1g", "0.5"]
    assert not patch_compose([path], recs)[0].diff
    path.write_text("services:\n  db:\n\timage: x\n")
    with pytest.raises(RightsizeError, match=r"compose.yml:3:1: invalid YAML"):
        patch_compose([path], recs)


def test_an_empty_flow_service_gets_its_keys_inside_the_braces(tmp_path: Path) -> None:
    """``redis: {}`` (an override that only names a service) has no flow style set in ruamel.yaml:
    apply stopped with 'cannot add keys to an empty block mapping'."""
    text = "services:\n  redis: {}\n  db: !override {}\n"
    path = tmp_path / "compose.yml"
    path.write_text(text)
    patch_compose([path], [rec("p/redis", "memory", None, 512 * M), rec("p/db", "memory", None, G)])
    assert path.read_text() == (
        "services:\n  redis: {deploy: {resources: {limits: {memory: 512M}}}}\n"
        "  db: !override {deploy: {resources: {limits: {memory: 1G}}}}\n"
    )


def test_an_anchor_whose_name_starts_another_alias_is_not_taken_as_shared(tmp_path: Path) -> None:
    text = (
        "x-small: &mem_small 256m\n"
        "services:\n  a:\n    image: x\n    mem_limit: &mem 1g\n"
        "  b:\n    image: x\n    mem_limit: *mem_small\n  c:\n    image: x\n    mem_limit: *mem\n"
    )
    path = tmp_path / "compose.yml"
    path.write_text(text)
    (result,) = patch_compose([path], [rec("p/a", "memory", None, 512 * M)])
    reasons = [s.reason for s in result.skipped if s.workload == "p/a"]
    assert reasons == ["services.a.mem_limit is shared through anchor &mem; not edited"]  # c uses *mem
    path.write_text(text.replace("mem_limit: *mem\n", "mem_limit: 2g\n"))
    (result,) = patch_compose([path], [rec("p/a", "memory", None, 512 * M)])
    assert not [s for s in result.skipped if s.workload == "p/a"]
    assert "mem_limit: &mem 512m\n" in path.read_text()  # *mem_small is no alias of &mem


@pytest.mark.parametrize(
    ("target", "extra", "message"),
    [
        (["--helm", "{v}"], ["--services", "db"], "--services works with --compose only"),
        (["--helm", "{v}"], ["--project", "p"], "--project works with --compose or --live only"),
        (["-f", "{c}"], ["--map", "p/db=db"], "--map works with --helm only"),
        (["-f", "{c}"], ["--docker-host", "unix:///x.sock"], "--docker-host works with --live only"),
    ],
)
def test_apply_refuses_an_option_its_target_would_ignore(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], target: list[str], extra: list[str], message: str
) -> None:
    """``--helm v.yaml --services db`` patched every workload: the filter was silently ignored."""
    from cli_helpers import run_cli

    files = {"c": tmp_path / "compose.yml", "v": tmp_path / "values.yaml"}
    files["c"].write_text("services:\n  db:\n    image: x\n")
    files["v"].write_text("db:\n  resources: {}\n")
    code, _, err = run_cli(["apply", *(a.format(**files) for a in target), *extra], capsys)
    assert (code, err) == (2, f"rightsize: error: {message}\n")
    assert files["c"].read_text() == "services:\n  db:\n    image: x\n"
    assert files["v"].read_text() == "db:\n  resources: {}\n"


def test_a_limit_is_never_written_below_the_reservation_left_in_place(tmp_path: Path) -> None:
    """Docker refuses to start such a container ("Minimum memory limit can not be less than memory
    reservation limit"): a recommendation with a limit only must not go under the file's reservation."""
    text = (
        "services:\n  db:\n    image: x\n    mem_limit: 4g\n    mem_reservation: 2g\n"
        "  web:\n    image: x\n    deploy:\n      resources:\n"
        "        limits: {memory: 4g}\n        reservations: {memory: 512m}\n"
    )
    path = tmp_path / "compose.yml"
    path.write_text(text)
    (result,) = patch_compose([path], [rec("p/db", "memory", None, G), rec("p/web", "memory", None, G)])
    assert path.read_text() == text.replace("{memory: 4g}", "{memory: 1g}")  # web: 1g >= 512m
    assert [(s.workload, s.reason) for s in result.skipped] == [
        ("p/db", "not written: 1G would be below the memory reservation left in place")
    ]


def test_keys_that_are_not_strings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A label or variable named ``1:`` is read (jsonschema raised a TypeError: a traceback); a service
    named ``123:`` is one error line, as docker-compose says it must be a quoted string."""
    from cli_helpers import run_cli

    path = tmp_path / "compose.yml"
    path.write_text("services:\n  db:\n    image: x\n    labels:\n      1: one\n    environment: {2: two}\n")
    (result,) = patch_compose([path], [rec("p/db", "memory", None, G)])
    assert [c.new for c in result.changes] == ["1G"]
    text = "services:\n  123:\n    image: x\n"
    path.write_text(text)
    for command in ("apply", "check"):
        code, _, err = run_cli([command, "-f", str(path)], capsys)
        assert (code, err) == (2, f"rightsize: error: {path}: service name 123 is not a string: quote it\n")
    assert path.read_text() == text


def test_the_override_file_compose_merges_by_default_is_named(tmp_path: Path) -> None:
    """``docker compose up`` reads docker-compose.override.yml beside docker-compose.yml: limits set there
    win, so a patch of the base alone (or a check of it) would be silently off."""
    base = tmp_path / "docker-compose.yml"
    base.write_text("services:\n  db:\n    image: x\n    mem_limit: 4g\n")
    recs = [rec("p/db", "memory", None, G)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_compose([base], recs)
    assert not caught  # no override: nothing to say
    override = tmp_path / "docker-compose.override.yml"
    override.write_text("services:\n  db:\n    mem_limit: 8g\n")
    with pytest.warns(UserWarning, match="docker-compose.override.yml is beside") as caught:
        check_compose([base], recs)
    assert str(caught[0].message) == (
        f"{override} is beside {base}: docker compose merges it unless -f is given; "
        "its values are not read (give it with -f too)"
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = patch_compose([base, override], recs)
    assert not caught and [len(r.changes) for r in results] == [0, 1]


def test_a_new_twin_beside_mem_limit_leaves_the_swap_alone_without_a_word(tmp_path: Path) -> None:
    text = (
        "services:\n  db:\n    image: x\n    mem_limit: 1g\n    memswap_limit: 2g\n"
        "    deploy:\n      resources:\n        limits: {cpus: '1'}\n"
    )
    path = tmp_path / "compose.yml"
    path.write_text(text)
    (result,) = patch_compose([path], [rec("p/db", "memory", None, G)])
    assert path.read_text() == text.replace("{cpus: '1'}", "{cpus: '1', memory: 1g}")
    assert not result.skipped  # it said 'memswap_limit 2g left as it is (no known swap allowance)'


def test_a_block_whose_every_alias_gets_its_own_copy_is_edited_in_the_same_run(tmp_path: Path) -> None:
    """The anchor's owner was skipped as shared although the one alias was replaced by a copy in that
    run: a second apply then changed the file (applying twice must change nothing)."""
    text = (
        "services:\n  db:\n    image: x\n    deploy: &dep\n      resources:\n        limits:\n"
        "          memory: 4g\n  web:\n    image: y\n    deploy: *dep\n"
    )
    path = tmp_path / "compose.yml"
    path.write_text(text)
    recs = [rec("p/db", "memory", None, G), rec("p/web", "memory", None, 2 * G)]
    (result,) = patch_compose([path], recs)
    assert not result.skipped
    assert path.read_text() == text.replace("memory: 4g", "memory: 1g").replace(
        "deploy: *dep\n", "deploy:\n      resources:\n        limits:\n          memory: 2g\n"
    )
    (again,) = patch_compose([path], recs)
    assert not again.diff


def test_a_scalar_anchor_whose_every_alias_gets_its_own_value_is_edited_in_the_same_run(
    tmp_path: Path,
) -> None:
    text = "services:\n  db:\n    image: x\n    mem_limit: &mem 4g\n  web:\n    mem_limit: *mem\n"
    path = tmp_path / "compose.yml"
    path.write_text(text)
    recs = [rec("p/db", "memory", None, G), rec("p/web", "memory", None, 2 * G)]
    (result,) = patch_compose([path], recs)
    assert path.read_text() == text.replace("&mem 4g", "&mem 1g").replace("*mem", "2g")
    assert not result.skipped and not patch_compose([path], recs)[0].diff
    path.write_text(text + "  api:\n    image: z\n    mem_limit: *mem\n")  # api keeps using it
    (result,) = patch_compose([path], recs)
    assert "&mem 4g" in path.read_text()
    assert [s.reason for s in result.skipped if s.workload == "p/db"] == [
        "services.db.mem_limit is shared through anchor &mem; not edited"
    ]


def test_new_values_follow_the_unit_spelling_inherited_through_extends(tmp_path: Path) -> None:
    text = "services:\n  base:\n    image: x\n    mem_limit: 2g\n  db:\n    extends: base\n"
    path = tmp_path / "compose.yml"
    path.write_text(text)
    patch_compose([path], [rec("p/db", "memory", 896 * M, 1792 * M)])
    assert path.read_text() == text + "    mem_limit: 1792m\n    mem_reservation: 896m\n"  # was 896M
