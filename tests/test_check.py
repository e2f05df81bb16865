"""`rightsize check` (CI gate) and the `apply`/`check` commands end to end on the bundled sample."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli as run
from cli_helpers import sha
from ruamel.yaml import YAML
from writer_recs import G, M, rec, stack_recs

from rightsize.errors import RightsizeError
from rightsize.targets.check import check_compose, parse_tolerance
from rightsize.units import format_bytes, format_cpus, parse_bytes, parse_cpus

FIX = Path(__file__).parent / "fixtures" / "compose"

SAMPLE_STACK = """\
# two services of the bundled sample's project, limits set by hand
name: sutazai
services:
  postgres:
    image: postgres:16
    restart: unless-stopped
    mem_limit: 2g
    cpus: 2
  redis:
    image: redis:7
    deploy:
      restart_policy: {condition: on-failure}
      resources:
        limits: {memory: 512M, cpus: "0.5"}
"""


def rows_by(result: Any) -> dict[tuple[str, str], Any]:
    return {(r.service, r.resource): r for r in result.rows if r.kind != "reservation"}


def test_check_flags_limits_outside_the_band_and_checklist_items() -> None:
    result = check_compose([FIX / "stack.yml"], stack_recs(), tolerance=0.25)
    rows = rows_by(result)
    assert result.failed
    assert (
        not rows[("postgres", "memory")].ok and "above the recommendation" in rows[("postgres", "memory")].why
    )
    assert rows[("postgres", "cpu")].ok  # 2 cores recommended, 2 configured
    assert "PID limits configured" in rows[("postgres", "pids")].why
    assert "Restart policy configured" in rows[("postgres", "restart")].why
    # interpolated limits are checked at their default: ${OLLAMA_MEM:-16g} is 100% above 8G
    assert "100% above" in rows[("ollama", "memory")].why
    assert rows[("rabbitmq", "restart")].ok  # inherited through the merge key
    assert rows[("frontend", "memory")].why.startswith("no memory limit")
    assert "FAIL" in result.table() and "problem(s)" in result.table()


def test_check_passes_after_apply_with_the_same_recommendations(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text("services:\n  db:\n    restart: always\n    mem_limit: 4g\n  web:\n    restart: always\n")
    recs = [
        rec("p/db", "memory", None, 1 * G),
        rec("p/db", "cpu", 0.5, 1.0),
        rec("p/db", "pids", None, 100),
        rec("p/web", "memory", None, 300 * M),
        rec("p/web", "cpu", 0.1, 0.5),
        rec("p/web", "pids", None, 50),
    ]
    assert check_compose([path], recs).failed
    from rightsize.targets.compose import patch_compose

    patch_compose([path], recs)
    result = check_compose([path], recs, tolerance=0.0)
    assert not result.failed, result.table()
    # a limit 20% off is inside a 25% band but outside a 10% one
    path.write_text(path.read_text().replace("mem_limit: 1g", "mem_limit: 1228m"))
    assert not check_compose([path], recs, tolerance=0.25).failed
    assert check_compose([path], recs, tolerance=0.10).failed


def test_check_judges_configured_reservations_like_limits(tmp_path: Path) -> None:
    recs = [
        rec("p/db", "memory", 512 * M, 1 * G),
        rec("p/db", "cpu", 0.5, 1.0),
        rec("p/web", "memory", 256 * M, 512 * M),
        rec("p/web", "cpu", 0.5, 1.0),
        rec("p/api", "memory", None, 1 * G),
        rec("p/api", "cpu", 0.25, 1.0),
    ]
    text = (
        "name: p\n"
        "services:\n"
        "  db:\n    restart: always\n    mem_limit: 1g\n    mem_reservation: 2g\n    cpus: 1\n"
        "    deploy: {resources: {reservations: {cpus: '0.1'}}}\n"
        "  web:\n    restart: always\n"
        "    deploy: {resources: {limits: {memory: 512M, cpus: '1'}, reservations: {memory: 280M}}}\n"
        "  api:\n    restart: always\n    mem_limit: 1g\n    mem_reservation: 768m\n    cpus: 1\n"
    )
    path = tmp_path / "c.yml"
    path.write_text(text)
    result = check_compose([path], recs, tolerance=0.25)
    rows = {(r.service, r.resource, r.kind): r for r in result.rows}
    db_mem = rows[("db", "memory", "reservation")]
    assert not db_mem.ok and db_mem.configured == "2g" and db_mem.recommended == "512M"
    assert db_mem.why == "above the recommended limit 1G: a reservation cannot exceed it"
    db_cpu = rows[("db", "cpu", "reservation")]
    assert not db_cpu.ok and db_cpu.why == "80% below the recommended reservation (band 0.375..0.625)"
    assert rows[("web", "memory", "reservation")].ok  # 280M is 9% above 256M
    assert rows[("web", "memory", "reservation")].why == "within the band"
    assert ("web", "cpu", "reservation") not in rows  # none configured: nothing to judge, not a failure
    api = rows[("api", "memory", "reservation")]  # no reservation recommended: only the limit bounds it
    assert api.ok and api.why == "no reservation recommended; below the recommended limit 1G"
    assert rows[("db", "memory", "limit")].ok and rows[("db", "cpu", "limit")].ok
    assert [(r.service, r.resource) for r in result.rows if not r.ok and r.kind == "reservation"] == [
        ("db", "memory"),
        ("db", "cpu"),
    ]
    assert "db       memory reservation  2g" in result.table()
    assert json.loads(result.to_json())["rows"][1]["kind"] == "reservation"


def test_a_zero_reservation_is_none_set_not_a_failure(tmp_path: Path) -> None:
    recs = [rec("p/db", "memory", 512 * M, 1 * G), rec("p/db", "cpu", 0.5, 1.0)]
    text = (
        "name: p\nservices:\n  db:\n    restart: always\n"
        "    deploy: {resources: {limits: {memory: 1g, cpus: '1'}, reservations: {memory: '0', cpus: '0'}}}\n"
    )  # ('0' quoted: the Compose Specification wants a string there; compose v2 refuses a bare 0)
    path = tmp_path / "c.yml"
    path.write_text(text)
    result = check_compose([path], recs, tolerance=0.25)
    zero = [r for r in result.rows if r.kind == "reservation"]
    assert [(r.resource, r.ok) for r in zero] == [("memory", True), ("cpu", True)]
    assert all(r.why == "0 = no reservation: nothing to judge" for r in zero)


@pytest.mark.slow
def test_cli_check_exits_1_for_a_reservation_off_the_recommendation(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "docker-compose.yml"
    path.write_text(SAMPLE_STACK)
    assert run(["apply", "-f", str(path)], capsys)[0] == 0
    assert run(["check", "-f", str(path)], capsys)[0] == 0
    applied = YAML(typ="safe").load(path.read_text())["services"]["postgres"]
    assert "mem_reservation" in applied  # apply wrote a reservation: check judged it and passed
    limit = parse_bytes(applied["mem_limit"])
    path.write_text(path.read_text().replace(f"mem_reservation: {applied['mem_reservation']}",
                                             f"mem_reservation: {format_bytes(2 * limit)}"))  # fmt: skip
    code, out, _ = run(["check", "-f", str(path)], capsys)
    assert code == 1
    bad = [line for line in out.splitlines() if "FAIL" in line]
    assert len(bad) == 1 and bad[0].startswith("postgres  memory reservation")
    assert "above the recommended limit" in bad[0]


def test_tolerance_parsing() -> None:
    assert parse_tolerance("25%") == 0.25 and parse_tolerance("0.1") == 0.1
    with pytest.raises(RightsizeError):
        parse_tolerance("lots")


@pytest.mark.slow
def test_cli_check_apply_check_on_the_bundled_sample(tmp_path: Path, capsys: Any) -> None:
    """The real analysis on the bundled sample: check fails, apply writes exactly recommend()'s values,
    check passes; a second apply changes nothing."""
    from rightsize.analysis.recommend import recommend

    path = tmp_path / "docker-compose.yml"
    path.write_text(SAMPLE_STACK)
    code, out, err = run(["check", "-f", str(path), "--format", "json"], capsys)
    report = json.loads(out)
    assert code == 1 and report["failed"] is True
    assert {"service": "postgres", "resource": "pids", "configured": None}.items() <= next(
        r for r in report["rows"] if r["service"] == "postgres" and r["resource"] == "pids"
    ).items()
    assert "SYNTHETIC sample" in err  # the analysis says which data it used

    code, out, err = run(["apply", "-f", str(path), "--dry-run"], capsys)
    assert code == 0 and out.startswith(f"--- {path}") and "would change" in err
    assert path.read_text() == SAMPLE_STACK

    code, out, _ = run(["apply", "-f", str(path), "--format", "json", "--dry-run"], capsys)
    planned = json.loads(out)["results"][0]
    assert code == 0 and planned["changes"] and planned["diff"].startswith(f"--- {path}")
    code, out, _ = run(["apply", "-f", str(path), "--backup"], capsys)
    assert code == 0 and "(written)" in out
    assert len(planned["changes"]) == int(out.split(": ")[1].split()[0])  # as many as the dry run said
    assert Path(str(path) + ".bak").read_text() == SAMPLE_STACK

    with pytest.warns(UserWarning):
        recs = {(r.workload, r.resource): r for r in recommend(None)}
    svc = YAML(typ="safe").load(path.read_text())["services"]
    pg_mem = recs[("sutazai/postgres", "memory")].recommended
    assert parse_bytes(svc["postgres"]["mem_limit"]) == parse_bytes(format_bytes(pg_mem.limit))
    if pg_mem.reservation is not None:
        written = svc["postgres"]["mem_reservation"]
        assert parse_bytes(written) == parse_bytes(format_bytes(pg_mem.reservation))
    assert svc["postgres"]["pids_limit"] == int(recs[("sutazai/postgres", "pids")].recommended.limit)
    redis_lim = svc["redis"]["deploy"]["resources"]["limits"]
    assert parse_cpus(redis_lim["cpus"]) == parse_cpus(
        format_cpus(recs[("sutazai/redis", "cpu")].recommended.limit)
    )
    assert "restart_policy: {condition: on-failure}" in path.read_text()  # untouched

    code, out, _ = run(["check", "-f", str(path)], capsys)
    assert code == 0, out
    before = sha(path)
    code, out, _ = run(["apply", "-f", str(path)], capsys)
    assert code == 0 and "0 changed" in out and sha(path) == before


@pytest.mark.parametrize(
    ("argv", "text", "message"),
    [
        (["apply", "-f", "{f}"], "services:\n  a: {image: x}\n  a: {image: y}\n", "duplicate key"),
        (
            ["apply", "-f", "{f}", "--services", "nope"],
            "services:\n  a: {image: x}\n",
            "no service named nope",
        ),
        (["apply", "-f", "{f}", "--only", "disk"], "services:\n  a: {image: x}\n", "unknown resource disk"),
        (["apply", "-f", "{f}"], "services:\n  a:\n    mem_limit: 12 parsecs\n", "not a memory size"),
        (["apply", "-f", "{f}", "--helm", "{f}"], "services: {}\n", "exactly one target"),
        (["apply", "--helm", "{f}"], "[1, 2]\n", "not a Helm values file"),
        (["check", "-f", "{f}", "--tolerance", "wide"], "services:\n  a: {image: x}\n", "not a tolerance"),
        (["check", "-f", "{f}"], "services: [a, b]\n", "'services' is not a mapping"),
        (["apply", "-f", "{f}", "-f", ""], "services:\n  a: {image: x}\n", "--compose is empty: expected"),
        (["apply", "--helm", " "], "services: {}\n", "--helm is empty: expected a Helm values file"),
        (["apply", "-f", "{f}", "--data", ""], "services: {}\n", "--data is empty: expected"),
        (["check", "-f", ""], "services: {}\n", "--compose is empty: expected a compose file"),
        (["check", "-f", "{f}", "--data", ""], "services: {}\n", "--data is empty: expected"),
        (["apply", "-f", "{f}", "--services", ""], "services:\n  a: {image: x}\n", "--services is empty"),
        (["apply", "-f", "{f}", "--only", ""], "services:\n  a: {image: x}\n", "--only is empty"),
        (["apply", "-f", "{f}", "--since", ""], "services:\n  a: {image: x}\n", "--since is empty"),
        (["apply", "-f", "{f}", "--project", ""], "services:\n  a: {image: x}\n", "--project is empty"),
        (["check", "-f", "{f}", "--services", " "], "services:\n  a: {image: x}\n", "--services is empty"),
        (["check", "-f", "{f}", "--since", ""], "services:\n  a: {image: x}\n", "--since is empty"),
        # only commas (a script's "$A,$B" with both unset) is no name at all, not "every service"
        (["apply", "-f", "{f}", "--services", ","], "services:\n  a: {image: x}\n", "--services is empty"),
        (["apply", "-f", "{f}", "--only", " , "], "services:\n  a: {image: x}\n", "--only is empty"),
        (["apply", "--helm", "{f}", "--only", ","], "a: {resources: {}}\n", "--only is empty"),
        (["check", "-f", "{f}", "--services", ",,"], "services:\n  a: {image: x}\n", "--services is empty"),
        # an unset $REMOTE must not update the local engine's containers instead
        (["apply", "--live", "--docker-host", ""], "services: {}\n", "--docker-host is empty: expected an"),
        (["apply", "--live", "--backup"], "services: {}\n", "--backup keeps a copy of a file"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2_file_identical(
    tmp_path: Path, capsys: Any, argv: list[str], text: str, message: str
) -> None:
    path = tmp_path / "in.yml"
    path.write_text(text)
    before = sha(path)
    code, _out, err = run([a.replace("{f}", str(path)) for a in argv], capsys)
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.startswith("rightsize: error:")]
    assert len(lines) == 1 and message in lines[0], err
    assert "Traceback" not in err
    assert sha(path) == before


def test_cli_read_only_file_exit_2_untouched(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "ro.yml"
    shutil.copy(FIX / "stack.yml", path)
    os.chmod(path, 0o444)
    before = sha(path)
    code, _, err = run(["apply", "-f", str(path)], capsys)
    assert code == 2 and err.strip().endswith("file is read-only; nothing written")
    assert sha(path) == before
    code, _, err = run(["apply", "-f", str(tmp_path / "missing.yml")], capsys)
    assert code == 2 and "cannot read" in err
    code, _, err = run(["apply", "-f", str(tmp_path)], capsys)
    assert code == 2 and "is a directory" in err
    latin = tmp_path / "latin1.yml"
    latin.write_bytes("services:\n  caf\xe9:\n    image: x\n".encode("latin-1"))
    before = sha(latin)
    code, _, err = run(["apply", "-f", str(latin)], capsys)
    assert code == 2 and "not UTF-8 text" in err and sha(latin) == before
