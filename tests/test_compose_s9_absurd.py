"""Absurd resource values, beside what Docker Compose 2.40.3 makes of them (``config --format json``).

compose-go keeps cpus as a float32 and sizes, PIDs and CFS times as int64: a number beyond them is
refused by compose, or misread (a YAML integer of 2^63 wraps to -9223372036854775808, or a size is
dropped: no limit). rightsize read most of them as the number written (a 9.2e18-byte limit, 1e39
CPUs). Now each is refused by check, recommend and apply in one line naming the key (exit 2); the
largest values compose holds are read as it reads them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli
from compose_v2_reading import Case, _have_v2, agree, v2_config

pytestmark = pytest.mark.skipif(not _have_v2(), reason="Docker Compose v2 (docker compose) not installed")

MIN64 = -(2**63)
# the line under services.web, the key named, and what v2 makes of it: None when `config` fails,
# else the value its JSON shows at that key (None: the key is dropped)
REFUSED: dict[str, tuple[str, str, Any]] = {
    "cpus-1e400": ("cpus: 1e400", "cpus", None),  # "strconv.ParseFloat: parsing "1e400": value out of range"
    "cpus-1e39": ("cpus: 1e39", "cpus", None),  # float32: +Inf, "json: unsupported value: +Inf"
    "cpus-1e39-text": ('cpus: "1e39"', "cpus", None),
    "cpus-inf": ("cpus: .inf", "cpus", None),
    "reserved-cpus-3.5e38": (
        'deploy: {resources: {reservations: {cpus: "3.5e38"}}}', "deploy.resources.reservations.cpus", None
    ),
    "mem-1e400": ("mem_limit: 1e400", "mem_limit", None),
    "mem-2^63": ("mem_limit: 9223372036854775808", "mem_limit", ("mem_limit", None)),  # dropped: no limit
    "mem-2^63-text": ('mem_limit: "9223372036854775807"', "mem_limit", ("mem_limit", str(MIN64))),
    "deploy-mem-8388608t": (
        'deploy: {resources: {limits: {memory: "8388608t"}}}', "deploy.resources.limits.memory",
        ("deploy.resources.limits.memory", str(MIN64)),
    ),
    "pids-1e20": ("pids_limit: 1e20", "pids_limit", ("pids_limit", MIN64)),
    "deploy-pids-1e20": (
        "deploy: {resources: {limits: {pids: 1e20}}}", "deploy.resources.limits.pids",
        ("deploy.resources.limits.pids", MIN64),
    ),
    "pids-2^63": ("pids_limit: 9223372036854775808", "pids_limit", ("pids_limit", MIN64)),
    "deploy-pids-below-int64": (
        "deploy: {resources: {limits: {pids: -9223372036854775809}}}", "deploy.resources.limits.pids",
        ("deploy.resources.limits.pids", MIN64),
    ),
    "cpu-quota-2^63": ("cpu_quota: 9223372036854775808", "cpu_quota", ("cpu_quota", MIN64)),
    "cpu-period-1e20": ("cpu_period: 99999999999999999999", "cpu_period", ("cpu_period", MIN64)),
    # negative: v2 reads them, the engine refuses them at `up` (range of CPUs; minimum memory 6MB)
    "cpus-negative": ("cpus: -1", "cpus", ("cpus", -1)),
    "mem-negative": ("mem_limit: -5", "mem_limit", ("mem_limit", "-5")),
    "reservation-negative": ("mem_reservation: -1", "mem_reservation", ("mem_reservation", "-1")),
}  # fmt: skip


def _at(svc: dict[str, Any], key: str) -> Any:
    node: Any = svc
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


@pytest.mark.parametrize("name", REFUSED)
def test_each_command_refuses_it_in_one_line(name: str, tmp_path: Path, capsys: Any) -> None:
    line, key, v2_reads = REFUSED[name]
    case = Case({"compose.yml": f"services:\n  web:\n    image: x\n    {line}\n"})
    (tmp_path / "compose.yml").write_text(case.files["compose.yml"])
    cfg, err = v2_config(tmp_path, case)
    if v2_reads is None:
        assert cfg is None, cfg  # compose refuses it (or cannot print what it read)
    else:
        assert cfg is not None, err
        at, value = v2_reads
        assert _at(cfg["services"]["web"], at) == value  # not the number written
    compose = str(tmp_path / "compose.yml")
    for argv in (
        ["check", "-f", compose],
        ["recommend", "-f", compose],
        ["apply", "-f", compose, "--dry-run"],
    ):
        code, out, err = run_cli(argv, capsys)
        lines = [x for x in err.splitlines() if not x.startswith("rightsize: warning: no --data")]
        assert (code, out) == (2, ""), (argv, err)
        assert len(lines) == 1, (argv, err)
        assert lines[0].startswith(f"rightsize: error: {compose}: services.web"), (argv, err)
        assert key in lines[0] and "Traceback" not in err
    assert (tmp_path / "compose.yml").read_text() == case.files["compose.yml"]


@pytest.mark.parametrize(
    "line",
    [
        "mem_limit: 9223372036854775807",  # the largest int64: v2 keeps it
        "pids_limit: 9223372036854775807",
        "cpus: 1e10",  # within float32 (the engine refuses it at `up`, as it refuses 3 on 2 CPUs)
        "cpus: 3e38",  # near the largest float32 (3.4028235e38)
        "mem_limit: 8e18",  # a YAML float for bytes: ignored by both (no limit)
        "pids_limit: -2",  # negative: unlimited to both
        "deploy: {resources: {limits: {pids: 5.0}}}",  # a whole float is a JSON Schema integer: 5
    ],
)
def test_the_largest_values_compose_holds_are_read_as_it_reads_them(line: str, tmp_path: Path) -> None:
    agree(tmp_path, Case({"compose.yml": f"services:\n  web:\n    image: x\n    {line}\n"}))
