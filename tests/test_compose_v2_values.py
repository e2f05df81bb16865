"""Resource values read as Docker Compose v2 reads them, not more leniently.

Only Docker Compose v1 is installed here, so v2's behaviour is taken from its source:
- compose-go ``types.UnitBytes`` (mem_limit, mem_reservation, memswap_limit, deploy.resources.*.memory):
  ``strconv.ParseInt(s, 10, 64)``, else go-units v0.5.0 ``RAMInBytes`` (compose-go's go.mod requires
  v0.5.0; its parseSize has no regular expression since docker/go-units#40);
- compose-go ``loader/interpolate.go``: ``cpus`` cast with ``strconv.ParseFloat`` and ``pids_limit``
  with ``strconv.ParseInt(s, 10, 64)``, for every string at that path (interpolated or not);
  ``types.NanoCPUs`` (deploy.resources.*.cpus): ``strconv.ParseFloat``; deploy.resources.limits.pids
  is an int64 (the loader's ``cast`` hook: ParseInt).
None of these trims white space. ``fixtures/compose_go_numbers.jsonl`` holds what Go answered for each
input: go-units v0.5.0's parseSize (transcribed from its size.go) and strconv, run under Go 1.19.8.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from cli_helpers import run_cli, sha
from writer_recs import rec

from rightsize.errors import RightsizeError
from rightsize.targets.check import check_compose
from rightsize.targets.compose import patch_compose
from rightsize.units import go_parse_float, go_parse_int, parse_compose_bytes

FIXTURE = Path(__file__).parent / "fixtures" / "compose_go_numbers.jsonl"


def _rows() -> list[dict[str, object]]:
    return [json.loads(line) for line in FIXTURE.read_text().splitlines()]


@pytest.mark.parametrize("row", _rows(), ids=lambda r: repr(r["in"]))
def test_number_grammar_is_gos(row: dict[str, object]) -> None:
    text = str(row["in"])
    want = row["bytes"]  # (a negative result is one rightsize refuses, as before: no memory size)
    try:
        got: int | None = parse_compose_bytes(text)
    except RightsizeError:
        got = None
    assert got == (want if isinstance(want, int) and want >= 0 else None)
    f64 = go_parse_float(text)
    expected = None if row["f64"] is None else float(str(row["f64"]))
    assert (f64 is None) == (expected is None)
    if f64 is not None and expected is not None:
        assert f64 == expected or (math.isnan(f64) and math.isnan(expected))
    assert go_parse_int(text) == row["int"]


def _service(lines: str) -> str:
    return "services:\n  postgres:\n    image: x\n" + lines


# (the service's lines, the key named in the error, the value quoted in it)
REFUSED = [
    ('    mem_limit: "1g "\n', "mem_limit", "'1g '"),  # go-units: "1g" is no number
    ('    mem_limit: " 1g"\n', "mem_limit", "' 1g'"),
    ("    mem_limit: 1Gi\n", "mem_limit", "'1Gi'"),  # invalid suffix: 'gi'
    ('    mem_reservation: "512m\\t"\n', "mem_reservation", "'512m\\t'"),
    ('    memswap_limit: " -1"\n', "memswap_limit", "' -1'"),  # ParseInt does not trim either
    ('    deploy:\n      resources:\n        limits:\n          memory: "1g "\n',
     "deploy.resources.limits.memory", "'1g '"),
    ('    deploy:\n      resources:\n        reservations:\n          memory: 1 g b\n',
     "deploy.resources.reservations.memory", "'1 g b'"),
    ('    cpus: "1500m"\n', "cpus", "'1500m'"),  # ParseFloat: no Kubernetes millicores
    ('    cpus: "1.5 "\n', "cpus", "'1.5 '"),
    ('    deploy:\n      resources:\n        limits:\n          cpus: "500m"\n',
     "deploy.resources.limits.cpus", "'500m'"),
    ('    pids_limit: "100 "\n', "pids_limit", "'100 '"),
    ('    pids_limit: "1_000"\n', "pids_limit", "'1_000'"),  # Python's int() takes it, ParseInt not
    ('    deploy:\n      resources:\n        limits:\n          pids: " 100"\n',
     "deploy.resources.limits.pids", "' 100'"),
]  # fmt: skip


@pytest.mark.parametrize(("lines", "key", "shown"), REFUSED)
def test_a_value_compose_v2_refuses_is_one_error_line_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lines: str, key: str, shown: str
) -> None:
    path = tmp_path / "compose.yml"
    path.write_text(_service(lines))
    before = sha(path)
    for command in (["apply"], ["check"]):
        code, out, err = run_cli([*command, "-f", str(path)], capsys)
        errors = [x for x in err.splitlines() if "bundled SYNTHETIC sample" not in x]
        assert (code, out, len(errors)) == (2, "", 1), err
        assert errors[0].startswith(f"rightsize: error: {path}: services.postgres.{key}: not a ")
        assert f": {shown} " in errors[0] or errors[0].endswith(f": {shown}")
    assert sha(path) == before


def test_an_interpolated_value_is_not_trimmed_either(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``MEM="1g "`` in .env: compose interpolates the value with its space, then ParseInt and
    RAMInBytes refuse it (compose.py's _reads_as and effective.read stripped it: read as 1g)."""
    monkeypatch.delenv("MEM", raising=False)
    path = tmp_path / "compose.yml"
    path.write_text(_service("    mem_limit: ${MEM}\n"))
    (tmp_path / ".env").write_text('MEM="1g "\n')
    before = sha(path)
    for command in (["apply"], ["check"], ["recommend"]):
        code, out, err = run_cli([*command, "-f", str(path)], capsys)
        errors = [x for x in err.splitlines() if "bundled SYNTHETIC sample" not in x]
        assert (code, out, len(errors)) == (2, "", 1), err
        assert errors[0].startswith(f"rightsize: error: {path}: services.postgres.mem_limit")
        assert "not a memory size: '1g '" in errors[0]
    assert sha(path) == before


# spellings compose v2 reads: apply and check must go on (exit 0), the value read as compose reads it
ACCEPTED = [
    ('    mem_limit: "1 g"\n', 2**30),  # one space between number and unit is the separator
    ("    mem_limit: .5g\n", 2**29),
    ("    mem_limit: 1536MiB\n", 1536 * 2**20),
    ("    mem_limit: 1e3m\n", 1000 * 2**20),  # ParseFloat takes exponents
    ("    mem_limit: 2147483648b\n", 2**31),
    ('    mem_limit: "+1g"\n', 2**30),
]


@pytest.mark.parametrize(("lines", "limit"), ACCEPTED)
def test_a_spelling_compose_v2_reads_is_read_alike(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lines: str, limit: int
) -> None:
    path = tmp_path / "compose.yml"
    path.write_text(_service(lines))
    code, _, err = run_cli(["apply", "--dry-run", "-f", str(path)], capsys)
    assert code == 0, err
    code, _, err = run_cli(["check", "-f", str(path)], capsys)
    assert code in (0, 1), err  # (1: a limit off the recommendation; no input error)
    recs = [rec("p/postgres", "memory", None, float(limit))]
    row = next(r for r in check_compose([path], recs).rows if (r.resource, r.kind) == ("memory", "limit"))
    assert row.ok, row
    (result,) = patch_compose([path], recs)
    assert not result.diff  # the value already reads as the recommendation


def test_cpus_and_pids_spellings_compose_v2_reads(tmp_path: Path) -> None:
    path = tmp_path / "compose.yml"
    text = _service('    cpus: "1.50"\n    pids_limit: "+200"\n')
    path.write_text(text)
    recs = [rec("p/postgres", "cpu", None, 1.5), rec("p/postgres", "pids", None, 200)]
    (result,) = patch_compose([path], recs)
    assert not result.diff, result.diff


@pytest.mark.parametrize(
    ("legacy", "deploy", "conflict"),
    [
        ("mem_limit: 1073741823", "memory: 1g", True),  # one byte apart: int64s differ
        ("mem_limit: 1024m", "memory: 1g", False),
        ("cpus: 1.0000001", 'cpus: "1"', True),  # float32: 1.00000012 != 1
        ("cpus: 0.1", 'cpus: "0.10000000000000001"', False),  # the same float32
        ("pids_limit: 100", "pids: 101", True),
    ],
)
def test_twins_disagree_exactly_when_compose_v2_says_they_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], legacy: str, deploy: str, conflict: bool
) -> None:
    """docker/compose's checkConsistency compares ``mem_limit`` with ``deploy.resources.limits.memory``
    (and pids) as int64 and ``cpus`` with ``NanoCPUs`` as float32, exactly: check's conflict row used a
    relative tolerance of 1e-6, so a value one byte off passed where compose refuses the file."""
    path = tmp_path / "compose.yml"
    block = f"    deploy:\n      resources:\n        limits:\n          {deploy}\n"
    path.write_text(_service(f"    {legacy}\n{block}"))
    code, out, err = run_cli(["check", "-f", str(path)], capsys)
    assert code in (0, 1), err
    rows = [x for x in out.splitlines() if " conflict " in x]
    assert bool(rows) == conflict, out
    if conflict:
        assert "disagree: Docker Compose v2 refuses the file" in rows[0] and code == 1


@pytest.mark.parametrize("value", ['" 50000"', '"5e4"', '"50_000"'])
def test_a_cpu_quota_compose_v2_refuses_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    """compose-go casts cpu_quota (and cpu_period) with strconv.ParseInt(s, 10, 64)
    (loader/interpolate.go); rightsize read int(float(s.strip()))."""
    path = tmp_path / "compose.yml"
    path.write_text(_service(f"    cpu_quota: {value}\n"))
    before = sha(path)
    for command in (["apply"], ["check"]):
        code, out, err = run_cli([*command, "-f", str(path)], capsys)
        errors = [x for x in err.splitlines() if "bundled SYNTHETIC sample" not in x]
        assert (code, out, len(errors)) == (2, "", 1), err
        assert errors[0].startswith(f"rightsize: error: {path}: services.postgres: cpu_quota: not a number")
    assert sha(path) == before
    path.write_text(_service('    cpu_quota: 50000\n    cpu_period: "100000"\n'))
    code, out, err = run_cli(["check", "-f", str(path)], capsys)
    assert code in (0, 1) and "0.5" in next(x for x in out.splitlines() if " cpu " in x), err


LIMITS = "    deploy:\n      resources:\n        limits:\n"


@pytest.mark.parametrize(
    ("lines", "key", "message"),
    [
        (LIMITS + "          memory: 1073741824\n", "deploy.resources.limits.memory",
         '1073741824 is not a string (quote it: "1073741824")'),
        ("    deploy:\n      resources:\n        reservations:\n          memory: 0\n",
         "deploy.resources.reservations.memory", "0 is not a string"),
        (LIMITS + "          pids: 100.5\n", "deploy.resources.limits.pids",
         "100.5 is not a string or an integer"),
        ("    mem_reservation: 1.5\n", "mem_reservation", "1.5 is not a string or an integer"),
        ("    mem_limit: true\n", "mem_limit", "True is not a number or a string"),
    ],
)  # fmt: skip
def test_a_type_the_compose_specification_refuses_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lines: str, key: str, message: str
) -> None:
    """compose-go validates the file against the Compose Specification's schema before it reads a value:
    ``deploy.resources.*.memory`` is a string, ``limits.pids`` and ``mem_reservation`` a string or an
    integer (rightsize read ``memory: 1073741824`` as 1 GiB, where compose stops)."""
    path = tmp_path / "compose.yml"
    path.write_text(_service(lines))
    before = sha(path)
    for command in (["apply"], ["check"], ["recommend"]):
        code, out, err = run_cli([*command, "-f", str(path)], capsys)
        errors = [x for x in err.splitlines() if "bundled SYNTHETIC sample" not in x]
        assert (code, out, len(errors)) == (2, "", 1), err
        assert errors[0].startswith(f"rightsize: error: {path}: services.postgres.{key}: {message}")
    assert sha(path) == before
    path.write_text(_service(LIMITS + '          memory: "1073741824"\n          pids: 100\n'))
    code, _, err = run_cli(["check", "-f", str(path)], capsys)
    assert code in (0, 1), err
