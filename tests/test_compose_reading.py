"""`recommend --compose` and `report --compose` read current values as `check` does: a file's
``include:`` is followed and ``${VAR}`` is read from the environment, then ``.env`` (or an include's
``env_file``). Real files, the bundled sample, through the CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli as run
from writer_recs import G, M, rec

from rightsize.analysis.current import compose_current
from rightsize.errors import RightsizeError
from rightsize.models import Values
from rightsize.targets.check import check_compose
from rightsize.targets.compose import patch_compose
from rightsize.targets.yaml import plain_yaml
from rightsize.units import parse_bytes

TOP = """\
name: sutazai
include:
  - path: cache/compose.yml
    env_file: cache/values.env
services:
  postgres:
    image: postgres:16
    mem_limit: ${PG_MEM:-2g}
    cpus: ${PG_CPUS:?set PG_CPUS}
    mem_reservation: ${PG_RES:-0}
"""
CACHE = """\
services:
  redis:
    image: redis:7
    deploy:
      resources:
        limits: {memory: "${REDIS_MEM}", pids: 77}
        reservations: {cpus: "0.125"}
"""


def project(tmp_path: Path, dotenv: str = "PG_MEM=1536m\nPG_CPUS=3\n") -> Path:
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "compose.yml").write_text(CACHE)
    (tmp_path / "cache" / "values.env").write_text("REDIS_MEM=384M\n")
    (tmp_path / ".env").write_text(dotenv)
    top = tmp_path / "compose.yml"
    top.write_text(TOP)
    return top


def current(out: str) -> dict[tuple[str, str], Any]:
    return {(r["workload"], r["resource"]): r["current"] for r in json.loads(out)}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("PG_MEM", "PG_CPUS", "PG_RES", "REDIS_MEM"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_cli_recommend_reads_included_and_interpolated_limits(
    tmp_path: Path, capsys: Any, clean_env: pytest.MonkeyPatch
) -> None:
    """The sample's own limits (postgres 2 GiB / 2 cores, redis 512 MiB / 0.5) are replaced by the
    file's: postgres from .env (the environment wins for PG_CPUS), redis from the included file and
    its env_file; ${PG_RES} is unset: its default 0 is no reservation (empty, compose v2 refuses it)."""
    top = project(tmp_path)
    clean_env.setenv("PG_CPUS", "1.25")
    args = [
        "recommend",
        "--compose",
        str(top),
        "--format",
        "json",
        "--workload",
        "sutazai/postgres,sutazai/redis",
    ]
    code, out, err = run(args, capsys)
    assert code == 0, err
    cur = current(out)
    assert cur["sutazai/postgres", "memory"] == {"reservation": None, "limit": 1536 * M}
    assert cur["sutazai/postgres", "cpu"] == {"reservation": None, "limit": 1.25}
    assert cur["sutazai/redis", "memory"] == {"reservation": None, "limit": 384 * M}
    assert cur["sutazai/redis", "cpu"] == {"reservation": 0.125, "limit": None}
    assert cur["sutazai/redis", "pids"] == {"reservation": None, "limit": 77}
    # check reads the same file the same way
    recs = [rec("sutazai/postgres", "memory", None, 1536 * M), rec("sutazai/redis", "memory", None, 384 * M)]
    rows = {(r.service, r.resource, r.kind): r for r in check_compose([top], recs).rows}
    assert rows["postgres", "memory", "limit"].ok and rows["postgres", "memory", "limit"].why.startswith(
        "reads 1536m"
    )
    assert rows["redis", "memory", "limit"].ok and rows["redis", "memory", "limit"].why.startswith(
        "reads 384M"
    )


def test_without_env_the_defaults_are_read_and_a_required_variable_fails_in_one_line(
    tmp_path: Path, capsys: Any, clean_env: pytest.MonkeyPatch
) -> None:
    top = project(tmp_path, dotenv="PG_CPUS=3\n")
    code, out, err = run(["recommend", "--compose", str(top), "--format", "json"], capsys)
    assert code == 0, err
    assert current(out)["sutazai/postgres", "memory"]["limit"] == 2 * G  # ${PG_MEM:-2g}
    (tmp_path / ".env").write_text("# PG_CPUS left out\n")
    for command in (["recommend", "--format", "json"], ["report", "--out", str(tmp_path / "r.html")]):
        code, out, err = run([*command, "--compose", str(top)], capsys)
        assert code == 2 and out == ""
        lines = [ln for ln in err.splitlines() if not ln.startswith("rightsize: warning:")]
        assert lines == [
            f"rightsize: error: {top}: services.postgres.cpus: required variable PG_CPUS is missing a value: "
            "set PG_CPUS"
        ]
    assert not (tmp_path / "r.html").exists()


def test_a_value_compose_cannot_read_is_one_line(
    tmp_path: Path, capsys: Any, clean_env: pytest.MonkeyPatch
) -> None:
    top = project(tmp_path, dotenv="PG_MEM=lots\nPG_CPUS=3\n")
    code, out, err = run(["recommend", "--compose", str(top)], capsys)
    assert code == 2 and out == ""
    assert (
        f"rightsize: error: {top}: services.postgres.mem_limit (${{PG_MEM:-2g}}): not a memory size: 'lots'"
        in err
    )


def test_cli_report_shows_the_included_services_current_limit(
    tmp_path: Path, capsys: Any, clean_env: pytest.MonkeyPatch
) -> None:
    top = project(tmp_path)
    out = tmp_path / "r.html"
    args = [
        "report",
        "--out",
        str(out),
        "--compose",
        str(top),
        "--workload",
        "sutazai/redis,sutazai/postgres",
    ]
    code, _, err = run(args, capsys)
    assert code == 0, err
    page = out.read_text()
    redis = page[page.index("<h3>sutazai/redis</h3>") :]
    redis = redis[: redis.index("</table>")]
    postgres = page[page.index("<h3>sutazai/postgres</h3>") :]
    postgres = postgres[: postgres.index("</table>")]
    assert "384 MiB → <b>" in redis and "512 MiB →" not in redis  # the file's, not the sample's
    assert "1.5 GiB → <b>" in postgres and "3 cores → " in postgres


def test_several_files_the_later_wins_as_check_reads_them(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    top = project(tmp_path)
    over = tmp_path / "over.yml"
    over.write_text(
        "services:\n  redis:\n    deploy:\n      resources:\n        limits:\n          memory: !reset null\n"
    )
    cur = compose_current([top, over])
    assert cur["redis"]["memory"].limit is None and cur["redis"]["pids"].limit == 77
    assert cur["postgres"]["memory"].limit == 1536 * M
    (tmp_path / "prod.env").write_text("PG_CPUS=1\n")  # --env-file replaces .env: PG_MEM's default
    assert compose_current(top, env_files=[tmp_path / "prod.env"])["postgres"]["memory"].limit == 2 * G


# ---- apply: an interpolated memswap_limit is read (never replaced) -------------------------------


def _apply(
    tmp_path: Path, text: str, limit: float, swap: int | None, reservation: float | None = None
) -> Any:
    path = tmp_path / "compose.yml"
    path.write_text(text)
    (result,) = patch_compose([path], [rec("p/a", "memory", reservation, limit)], swap=swap)
    return path.read_text(), {s.reason: s.recommended for s in result.skipped}


def test_an_interpolated_limit_is_not_rewritten_so_its_swap_does_not_move(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    text = "services:\n  a:\n    image: x\n    mem_limit: ${MEM:-1g}\n    memswap_limit: 2g\n"
    out, skipped = _apply(tmp_path, text, 512 * M, None)
    assert out == text
    assert skipped == {"mem_limit is interpolated (${MEM:-1g}): not replaced; set it to 512M": "512M"}


def test_a_limit_written_beside_an_interpolated_swap_reports_the_swap_to_set(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    """The allowance (what ${SWAP:-2g} reads, minus the old limit) is known now; the variable stays,
    reported with the value that keeps the allowance; twins (mem_limit and deploy) report it once."""
    text = "services:\n  a:\n    image: x\n    mem_limit: 1g\n    memswap_limit: ${SWAP:-2g}\n"
    out, skipped = _apply(tmp_path, text, 512 * M, None)
    assert out == text.replace("mem_limit: 1g", "mem_limit: 512m")
    why = "memswap_limit is interpolated (${SWAP:-2g}, reads 2g): not replaced; set it to 1536m"
    assert skipped == {why + " to keep the swap allowance of 1 GiB": "1536m"}
    (tmp_path / ".env").write_text("SWAP=1280m\n")  # read from .env, as compose does
    twins = text + "    deploy:\n      resources:\n        limits:\n          memory: 1g\n"
    out, skipped = _apply(tmp_path, twins, 512 * M, None)
    assert out == twins.replace("1g", "512m")
    why = "memswap_limit is interpolated (${SWAP:-2g}, reads 1280m): not replaced; set it to 768m"
    assert skipped == {why + " to keep the swap allowance of 256 MiB": "768m"}
    (tmp_path / ".env").write_text("OTHER=1\n")  # unset, no default: compose v2 refuses the empty value
    with pytest.raises(RightsizeError, match=r"memswap_limit: \$\{SWAP\} reads empty \(SWAP not set"):
        _apply(tmp_path, text.replace(":-2g", ""), 512 * M, None)


def test_a_limit_raised_above_an_interpolated_swap_is_not_written(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    """2g beside a memswap_limit reading 1536m is a pair Docker refuses ("Minimum memoryswap limit
    should be larger than memory limit"): neither the limit nor a reservation above the old limit is
    written; each line says what to set."""
    text = (
        "services:\n  a:\n    image: x\n    mem_limit: 1g\n    mem_reservation: 1g\n"
        "    memswap_limit: ${SWAP:-1536m}\n"
    )
    out, skipped = _apply(tmp_path, text, 2 * G, None, reservation=1536 * M)
    assert out == text
    assert skipped == {
        "memswap_limit is interpolated (${SWAP:-1536m}, reads 1536m): not replaced; set it to 2560m "
        "to keep the swap allowance of 512 MiB": "2560m",
        "mem_limit not written: 2g would be above memswap_limit ${SWAP:-1536m} (reads 1536m), which Docker "
        "refuses: set it with memswap_limit": "2g",
        "not written: 1536m would exceed the memory limit left in place": "1536m",
    }
    out, skipped = _apply(tmp_path, text, 2 * G, 0)
    assert out == text
    assert (
        skipped["--swap: memswap_limit not written: it is interpolated (${SWAP:-1536m}); set it to 2g"]
        == "2g"
    )
    clean_env.setenv("SWAP", "3g")  # the environment makes room: the limit is written, the swap reported
    out, skipped = _apply(tmp_path, text, 2 * G, None)
    assert "mem_limit: 2g" in out and "memswap_limit: ${SWAP:-1536m}" in out
    assert list(skipped.values()) == ["4g"]


def test_swap_an_interpolated_memswap_already_reading_the_value_asked_for_is_left_quietly(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    text = "services:\n  a:\n    image: x\n    mem_limit: 1g\n    memswap_limit: ${SWAP:-512m}\n"
    out, skipped = _apply(tmp_path, text, 512 * M, 0)
    assert out == text.replace("mem_limit: 1g", "mem_limit: 512m") and skipped == {}
    out, skipped = _apply(tmp_path, text, 512 * M, 256 * M)  # asks for more: the variable is reported
    assert skipped == {
        "--swap: memswap_limit not written: it is interpolated (${SWAP:-512m}); set it to 768m": "768m"
    }


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose (v1) not installed")
def test_current_values_agree_with_docker_compose_config(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    """What `recommend --compose` reads equals what docker-compose itself resolves (`config`), for
    defaults, .env values, the environment winning over .env, and a default of 0 (no reservation; a
    variable left blank v1 reads as '', which compose v2 refuses: "invalid size: ''")."""
    path = tmp_path / "compose.yml"
    path.write_text(
        "services:\n  a:\n    image: x\n    mem_limit: ${A_MEM:-2g}\n    mem_reservation: ${A_RES:-0}\n"
        "    cpus: ${A_CPU:-0.5}\n    pids_limit: ${A_PIDS}\n"
        "  b:\n    image: x\n    deploy:\n      resources:\n        limits:\n          memory: ${B_MEM}\n"
        "          cpus: ${B_CPU:-0.25}\n"
    )
    (tmp_path / ".env").write_text("A_MEM=1536m\nB_MEM=300M\nA_PIDS=99\nA_CPU=3\n")
    clean_env.setenv("A_CPU", "1.25")
    for name in ("A_RES", "B_CPU"):
        clean_env.delenv(name, raising=False)
    cfg = subprocess.run(
        ["docker-compose", "-f", str(path), "config"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert cfg.returncode == 0, cfg.stderr
    svc = plain_yaml().load(cfg.stdout)["services"]
    limits = svc["b"]["deploy"]["resources"]["limits"]
    theirs = {
        ("a", "memory"): Values(None, float(parse_bytes(svc["a"]["mem_limit"]))),  # mem_reservation: 0
        ("a", "cpu"): Values(None, float(svc["a"]["cpus"])),
        ("a", "pids"): Values(None, float(svc["a"]["pids_limit"])),
        ("b", "memory"): Values(None, float(parse_bytes(limits["memory"]))),
        ("b", "cpu"): Values(None, float(limits["cpus"])),
    }
    assert str(svc["a"]["mem_reservation"]) == "0"
    cur = compose_current(path)
    ours = {(s, r): cur[s][r] for s, r in theirs}
    assert ours == theirs
    assert ours[("a", "memory")].limit == 1536 * M and ours[("a", "cpu")].limit == 1.25  # not .env's 3
