"""A user's multi-file compose project through ``check`` and ``apply``: bugs found by using it as a user
would (include, ``${VAR}`` interpolation, ``.env``, ``--swap``), each pinned by a test here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import run_cli
from writer_recs import G, rec

from rightsize.targets.compose import patch_compose


def _memory_rows(out: str) -> dict[str, str]:
    rows = json.loads(out)["rows"]
    return {r["service"]: r["why"] for r in rows if (r["resource"], r["kind"]) == ("memory", "limit")}


def test_alternative_value_interpolation_is_read_as_compose_reads_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``${VAR:+word}`` / ``${VAR+word}`` (Compose v2's alternative value, in Docker's interpolation
    reference) read ``word`` when VAR is set (with the colon: and not empty), else empty. They used to be
    refused as an invalid interpolation format (exit 2) on a file ``docker compose`` accepts."""
    for var in ("STAGE", "LIMITS_ON", "COMPOSE_PROJECT_NAME"):
        monkeypatch.delenv(var, raising=False)
    compose = tmp_path / "compose.yaml"
    compose.write_text(
        "name: sutazai${STAGE:+-$STAGE}   # sutazai, or sutazai-prod\n"
        "services:\n"
        "  redis:\n"
        "    image: rightsize-test/busybox:1\n"
        "    mem_limit: ${LIMITS_ON:+192m}\n"
        "  grafana:\n"
        "    image: rightsize-test/busybox:1\n"
        "    mem_limit: ${LIMITS_ON+384m}\n"
    )
    args = ["check", "-f", str(compose), "--format", "json"]
    # unset, both read empty, which compose v2 refuses ("invalid size: ''"): one error line, exit 2
    code, out, err = run_cli(args, capsys)
    assert (code, out) == (2, "") and err.count("\n") == 1, err
    assert f"{compose}: services.redis.mem_limit: ${{LIMITS_ON:+192m}} reads empty" in err
    (tmp_path / ".env").write_text("LIMITS_ON=\n")  # set but empty: only '+' gives its word
    code, out, err = run_cli(args, capsys)
    assert code == 2 and "services.redis.mem_limit: ${LIMITS_ON:+192m} reads empty" in err, err
    text = compose.read_text()
    compose.write_text(text.replace("${LIMITS_ON:+192m}", "${LIMITS_ON:+192m}${LIMITS_ON:-0}"))
    code, out, err = run_cli(args, capsys)
    assert code == 1, err
    rows = _memory_rows(out)  # (0: compose's way to say no limit)
    assert rows["grafana"] == "reads 384m: within the band" and rows["redis"].startswith("reads 0: ")
    compose.write_text(text)
    (tmp_path / ".env").write_text("ON=1\nLIMITS_ON=${ON:+yes}\n")  # .env values use the same syntax
    rows = _memory_rows(run_cli(args, capsys)[1])
    assert rows == {"redis": "reads 192m: within the band", "grafana": "reads 384m: within the band"}
    (tmp_path / ".env").write_text("STAGE=prod\nLIMITS_ON=1\n")  # project sutazai-prod: not in the data
    code, _, err = run_cli(["apply", "-f", str(compose), "--dry-run"], capsys)
    assert code == 0, err
    assert "skipped redis all: service not in the data" in err


def test_a_dollar_starting_no_variable_is_kept_not_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ``.env`` holds the stack's passwords too: ``DB_PASSWORD=p@ss$!word`` or ``PRICE=5$`` is a ``$``
    that starts no variable, which Docker Compose keeps as it is (its interpolation reference: "In other
    circumstances, it will be preserved"). check/apply used to stop on it (exit 2, invalid interpolation
    format), though they never read these variables. An unclosed or nameless ``${`` is still refused."""
    monkeypatch.delenv("PG_MEM", raising=False)
    compose = tmp_path / "compose.yaml"
    compose.write_text(
        "name: sutazai\nservices:\n  postgres:\n    image: rightsize-test/busybox:1\n"
        "    environment:\n      POSTGRES_PASSWORD: ${DB_PASSWORD}\n"
        "    mem_limit: ${PG_MEM:-2g}\n"
    )
    (tmp_path / ".env").write_text(
        '# secrets\nDB_PASSWORD=p@ss$!word\nDOUBLE="x$ y$"\nPRICE=5$\nPG_MEM=1536m\n'
    )
    code, out, err = run_cli(["check", "-f", str(compose), "--format", "json"], capsys)
    assert code == 1 and "invalid interpolation" not in err, err
    assert _memory_rows(out)["postgres"] == "reads 1536m: within the band"
    code, _, err = run_cli(["apply", "-f", str(compose), "--dry-run", "--only", "memory"], capsys)
    assert code == 0 and "invalid interpolation" not in err
    assert "mem_limit" not in err  # it reads 1536m, the recommendation: already right, like a literal
    (tmp_path / ".env").write_text("DB_PASSWORD=${\n")
    code, _, err = run_cli(["check", "-f", str(compose)], capsys)
    env = tmp_path / ".env"
    assert (code, err) == (
        2,
        f"rightsize: error: {env}:1: invalid interpolation format '${{' (escape a literal $ as $$)\n",
    )


RESERVED = """\
name: sutazai
services:
  grafana:
    image: rightsize-test/busybox:1
    mem_limit: 512m              # lowered to 384m unless the reservation reads more
    mem_reservation: ${GRAFANA_RES:-448m}
  redis:
    image: rightsize-test/busybox:1
    deploy:
      resources:
        limits:
          memory: 512M
        reservations:
          memory: ${REDIS_RES:-256M}   # from .env
"""


def test_a_limit_is_not_lowered_below_an_interpolated_reservation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An interpolated reservation is never replaced, so it stays as compose reads it: a memory limit
    written below that (grafana 384m under ${GRAFANA_RES:-448m}) is a pair Docker refuses ("Minimum memory
    limit can not be less than memory reservation limit"). apply used to write it; now the limit is not
    written and the summary says why, as for a literal reservation left in place. Once the variable reads
    no more than the limit, the limit is written."""
    for var in ("GRAFANA_RES", "REDIS_RES", "COMPOSE_PROJECT_NAME"):
        monkeypatch.delenv(var, raising=False)
    compose = tmp_path / "compose.yaml"
    compose.write_text(RESERVED)
    (tmp_path / ".env").write_text("REDIS_RES=256M\n")
    code, out, err = run_cli(["apply", "-f", str(compose), "--only", "memory"], capsys)
    assert code == 0, err
    assert compose.read_text() == RESERVED
    for svc, raw in (("grafana", "384M"), ("redis", "192M")):
        assert (
            f"skipped sutazai/{svc} memory: not written: {raw} would be below the memory reservation" in out
        )
    (tmp_path / ".env").write_text("GRAFANA_RES=128m\nREDIS_RES=64M\n")
    code, _, err = run_cli(["apply", "-f", str(compose), "--only", "memory"], capsys)
    assert code == 0, err
    assert compose.read_text() == RESERVED.replace("mem_limit: 512m ", "mem_limit: 384m ").replace(
        "memory: 512M", "memory: 192M"
    )


def test_an_interpolated_extends_file_is_followed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """compose interpolates a file before applying ``extends``, so ``extends.file: ${PG_BASE:-base.yaml}``
    (the base chosen per environment, here from the included stack's own .env) names a file to read.
    check and apply used to stop with 'cannot read db/${PG_BASE:-base.yaml}' (exit 2)."""
    for var in ("PG_BASE", "PG_SVC", "COMPOSE_PROJECT_NAME"):
        monkeypatch.delenv(var, raising=False)
    db = tmp_path / "db"
    db.mkdir()
    (tmp_path / "compose.yaml").write_text(
        "name: sutazai\ninclude:\n  - db/compose.yaml   # the database stack\nservices:\n"
        "  backend:\n    image: rightsize-test/busybox:1\n    mem_limit: 1792m\n"
    )
    stack = (
        "services:\n  postgres:\n    extends:\n      file: ${PG_BASE:-base.yaml}\n"
        "      service: ${PG_SVC:-pg}\n    image: rightsize-test/busybox:1\n"
    )
    (db / "compose.yaml").write_text(stack)
    base = "services:\n  pg:\n    mem_limit: 4g   # dev\n"
    prod = "services:\n  pg-prod:\n    mem_limit: 2g   # prod\n"
    (db / "base.yaml").write_text(base)
    (db / "prod-base.yaml").write_text(prod)
    (db / ".env").write_text("PG_BASE=prod-base.yaml\nPG_SVC=pg-prod\n")
    compose = str(tmp_path / "compose.yaml")
    code, out, err = run_cli(["check", "-f", compose, "--format", "json"], capsys)
    assert code == 1, err
    assert _memory_rows(out)["postgres"] == "33% above the recommendation (band 1152M..1920M)"  # 2g
    code, out, err = run_cli(["apply", "-f", compose, "--only", "memory"], capsys)
    assert code == 0, err
    assert "postgres.mem_limit: 2g -> 1536m  (inherited through extends: own override written)" in out
    assert (db / "compose.yaml").read_text() == stack + "    mem_limit: 1536m\n    mem_reservation: 896m\n"
    assert (db / "prod-base.yaml").read_text() == prod and (db / "base.yaml").read_text() == base


MAIN = """\
# sutazai: main stack
name: ${PROJECT_NAME:-sutazai}
include:
  - db/compose.yaml          # the database stack, with its own .env
x-defaults: &defaults
  restart: unless-stopped    # always restart
x-res: &res
  deploy:
    resources:
      limits: {memory: 1g, cpus: "1"}   # shared
services:
  "frontend":
    <<: *defaults
    extends: {file: common.yaml, service: webbase}
    image: rightsize-test/busybox:1
  rabbitmq:
    <<: [*defaults, *res]
    image: rightsize-test/busybox:1
  neo4j:
    <<: *defaults
    image: rightsize-test/busybox:1
    mem_limit: 1g
    memswap_limit: ${NEO4J_SWAP:-2g}   # 1g of swap
"""
DB_STACK = """\
services:
  postgres:
    restart: always
    image: rightsize-test/busybox:1
    deploy:
      resources:
        limits:
          memory: ${PG_MEM:-2g}   # from db/.env
        reservations:
          memory: 1g
  redis:
    restart: always
    image: rightsize-test/busybox:1
    mem_limit: 512m   # keep
    memswap_limit: 1g
"""


def test_a_multi_file_project_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The whole journey on one project (include with its own .env, extends, merge keys, CRLF and a
    BOM): apply writes each value in the file that defines it and keeps every comment, line ending and
    interpolated value; a second apply changes nothing; apply --swap 0 then check --swap 0 agree."""
    (tmp_path / "db").mkdir()
    files = {
        "compose.yaml": MAIN,
        "common.yaml": "services:\n  webbase:\n    mem_limit: 512m   # base\n",
        "db/compose.yaml": DB_STACK,
        "db/.env": 'export PG_MEM="1536m"   # the DBA\'s value\n',
    }
    for name, text in files.items():
        (tmp_path / name).write_bytes(("\ufeff" + text).replace("\n", "\r\n").encode())
    compose = str(tmp_path / "compose.yaml")
    apply = ["apply", "-f", compose, "--only", "memory"]
    code, out, err = run_cli(apply, capsys)
    assert code == 0, err
    texts = {n: (tmp_path / n).read_bytes().decode() for n in files}
    for name, text in texts.items():  # CRLF, BOM and comments survive; only values and new keys differ
        assert text.startswith("\ufeff") and "\n" not in text.replace("\r\n", ""), name
        for line in files[name].splitlines():
            if "#" in line:
                assert line.split("#", 1)[1] in text, (name, line)
    assert texts["common.yaml"] == "\ufeff" + files["common.yaml"].replace("\n", "\r\n")  # base untouched
    assert "${PG_MEM:-2g}" in texts["db/compose.yaml"] and "${NEO4J_SWAP:-2g}" in texts["compose.yaml"]
    assert "mem_limit: 192m   # keep\r\n    memswap_limit: 704m\r\n" in texts["db/compose.yaml"]
    assert "set it to 2816m to keep the swap allowance of 1 GiB" in out  # neo4j: 1792m + (2g - 1g)
    # idempotent; postgres' ${PG_MEM:-2g} reads 1536m, the recommendation: already right, not "skipped"
    assert run_cli(apply, capsys)[1].endswith("total: 0 changed, 0 skipped\n")
    code, out, err = run_cli([*apply, "--swap", "0"], capsys)
    assert code == 0, err
    assert run_cli([*apply, "--swap", "0"], capsys)[1].splitlines()[-1].startswith("total: 0 changed")
    code, out, _ = run_cli(["check", "-f", compose, "--swap", "0", "--format", "json"], capsys)
    swap = {r["service"]: r for r in json.loads(out)["rows"] if r["resource"] == "swap"}
    assert {s for s, r in swap.items() if r["ok"]} == {"redis", "frontend", "rabbitmq", "postgres"}
    assert swap["neo4j"]["why"] == (
        "reads 2g: allows 256 MiB of swap; --swap asks for no swap: set it to 1792m"
    )  # never replaced
    assert swap["postgres"]["configured"] == "1536M"  # its interpolated limit reads as recommended


def test_a_container_name_alias_is_read_as_compose_reads_it(tmp_path: Path) -> None:
    """A workload named like the service's ``container_name`` (an imported trace keyed by container
    names) is matched by that name as compose sets it: interpolated (``${STACK:-shop}-db``), and from
    the last file that sets it. The template itself used to be the alias, so nothing matched."""
    base = tmp_path / "compose.yaml"
    base.write_text(
        "services:\n  db:\n    image: x\n    container_name: ${STACK:-shop}-db\n    mem_limit: 4g\n"
    )
    (tmp_path / ".env").write_text("STACK=prod\n")
    recs = [rec("shop-db", "memory", None, 1 * G), rec("prod-db", "memory", None, 2 * G)]
    (result,) = patch_compose([base], recs, dry_run=True)
    assert [(c.key, c.new) for c in result.changes] == [("services.db.mem_limit", "2g")]
    override = tmp_path / "compose.ci.yaml"
    override.write_text("services:\n  db:\n    container_name: shop-db   # CI\n")
    results = patch_compose([base, override], recs, dry_run=True)
    assert [(c.key, c.new) for r in results for c in r.changes] == [("services.db.mem_limit", "1g")]


def test_recommend_compose_reads_unlimited_as_no_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``mem_limit: 0``, ``cpus: 0`` and ``pids_limit: -1`` (also ``${PIDS:--1}``) are Docker's
    "unlimited", which check reads as no limit; recommend --compose showed them as current limits
    (``- / -1`` pids with a change of -10100%, ``- / 0K`` memory)."""
    compose = tmp_path / "compose.yaml"
    compose.write_text(
        "name: sutazai\nservices:\n  redis:\n    image: x\n    mem_limit: 0\n    cpus: 0\n"
        "    pids_limit: ${PIDS:--1}   # unlimited\n    mem_reservation: 0\n"
        "  grafana:\n    image: x\n    mem_limit: 512m\n    deploy:\n      resources:\n"
        "        limits: {memory: 512m, pids: -1}\n"
    )
    code, out, err = run_cli(["recommend", "--compose", str(compose), "--format", "json"], capsys)
    assert code == 0, err
    current = {(r["workload"], r["resource"]): r["current"] for r in json.loads(out)}
    none = {"reservation": None, "limit": None}
    assert {r: current[("sutazai/redis", r)] for r in ("memory", "cpu", "pids")} == dict.fromkeys(
        ("memory", "cpu", "pids"), none
    )
    assert current[("sutazai/grafana", "pids")] == none
    assert current[("sutazai/grafana", "memory")] == {"reservation": None, "limit": 512 * 1024**2}


def test_check_matches_a_container_name_alias_as_apply_does(tmp_path: Path) -> None:
    """apply matches a service to a workload named like its ``container_name``; check did not, so it
    passed ('service not in the data') a limit that apply would change."""
    from rightsize.targets.check import check_compose

    compose = tmp_path / "compose.yaml"
    compose.write_text(
        "services:\n  db:\n    image: x\n    container_name: ${STACK:-shop}-db\n    mem_limit: 4g\n"
    )
    recs = [rec("shop-db", "memory", None, 1 * G)]
    (result,) = patch_compose([compose], recs, dry_run=True)
    assert [(c.key, c.new) for c in result.changes] == [("services.db.mem_limit", "1g")]
    rows = [r for r in check_compose([compose], recs).rows if r.resource == "memory"]
    assert [(r.ok, r.why) for r in rows] == [(False, "300% above the recommendation (band 768M..1280M)")]
