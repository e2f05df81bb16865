"""Review of session 9's compose changes (host CPU cap, absurd values): each test failed before its fix.

- a ``cpu_quota`` above the host's CPUs starts (Docker bounds only ``cpus``/NanoCpus by the host's
  CPU count), so apply writes the quota as recommended: it was capped, with a warning claiming that
  Docker refuses more;
- ``check`` judges a CPU limit against what ``apply`` writes on this host (the capped value): right
  after ``apply`` it failed the limit apply had just written (vpa: 21 recommended, 2 written);
- ``.nan``/``.inf`` were refused as "not a finite number (1e400 is too large for a float)";
- a size go-units reads as 2^63 (``8388608t``) was refused as a bare "not a memory size".
"""

from __future__ import annotations

import uuid
import warnings
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli
from compose_v2_helpers import IMAGE, hosts_of, v2
from compose_v2_helpers import stack as stack  # the fixture
from compose_v2_reading import Case, _have_v2, v2_config

from rightsize.models import Observed, Recommendation, Values
from rightsize.targets.check import check_compose
from rightsize.targets.compose import patch_compose


def cpu_rec(workload: str, reservation: float | None, limit: float, peak: float) -> Recommendation:
    return Recommendation(
        workload, "cpu", Values(), Values(reservation, limit), Observed(p99=peak * 0.98, max=peak),
        20160, 14 * 86400, 0.9, ("p99 +25%",), "default",
    )  # fmt: skip


def _patch(path: Path, recs: list[Recommendation], cpus: int) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        patch_compose(path, recs, host_cpus=cpus)
    return [str(w.message) for w in caught]


QUOTA = "services:\n  web:\n    image: x\n    cpu_quota: 50000\n"


def test_a_cpu_quota_above_the_host_is_written_as_recommended(tmp_path: Path) -> None:
    path = tmp_path / "compose.yml"
    path.write_text(QUOTA)
    said = _patch(path, [cpu_rec("web", None, 2.5, 2.0)], cpus=2)
    assert path.read_text() == QUOTA.replace("50000", "250000")
    assert said == []  # no "capped at 2 ... Docker refuses more here": it does not, for a quota


def test_a_cpu_quota_from_a_larger_host_gives_no_up_fails_warning(tmp_path: Path) -> None:
    path = tmp_path / "compose.yml"
    path.write_text(QUOTA)
    said = _patch(path, [cpu_rec("web", None, 4.5, 3.6)], cpus=2)
    assert path.read_text() == QUOTA.replace("50000", "450000") and said == []


@pytest.mark.docker
@pytest.mark.slow
def test_the_quota_apply_writes_above_the_host_starts(stack: Any, docker_client: Any) -> None:
    """What the tests above rely on: `docker compose up` runs a quota of more CPUs than the host has."""
    n = docker_client.info()["NCPU"]
    project = f"rs9rv{uuid.uuid4().hex[:8]}"
    text = f"services:\n  web:\n    image: {IMAGE}\n    command: sleep 3600\n    labels: [rightsize-test=1]\n"
    _, folder = stack({"compose.yml": text + "    cpu_quota: 50000\n"}, ("compose.yml",), project=project)
    _patch(folder / "compose.yml", [cpu_rec(f"{project}/web", None, n + 1.5, n)], cpus=n)
    up = v2(project, folder, ("compose.yml",), "up", "-d", ok=False)
    assert up.returncode == 0, up.stderr
    host = hosts_of(docker_client, project)["web"]
    assert (host["CpuQuota"], host["NanoCpus"]) == (round((n + 1.5) * 100_000), 0)


def test_check_right_after_apply_passes_the_capped_cpu_limit(tmp_path: Path) -> None:
    """vpa on 2 busy cores: 21 recommended, apply caps it at this host's 2; check must not fail it."""
    path = tmp_path / "compose.yml"
    path.write_text("services:\n  web:\n    image: x\n    cpus: 0.5\n")
    recs = [cpu_rec("web", None, 21.0, 2.0)]
    _patch(path, recs, cpus=2)
    assert "cpus: 2\n" in path.read_text()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = check_compose(path, recs, host_cpus=2)
    (row,) = [r for r in result.rows if r.resource == "cpu"]
    assert (row.ok, row.configured, row.recommended) == (True, "2", "2"), row
    assert "capped at this host's 2 CPUs" in row.why
    assert [str(w.message) for w in caught] == []  # the row says it: no apply-worded warning


def test_check_keeps_the_recommendation_for_a_quota_and_data_from_a_larger_host(tmp_path: Path) -> None:
    path = tmp_path / "compose.yml"
    path.write_text(
        "services:\n  web:\n    image: x\n    cpus: 2\n  q:\n    image: x\n    cpu_quota: 200000\n"
    )
    recs = [cpu_rec("web", None, 4.5, 3.6), cpu_rec("q", None, 21.0, 2.0)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = {r.service: r for r in check_compose(path, recs, host_cpus=2).rows if r.resource == "cpu"}
    assert (rows["web"].ok, rows["web"].recommended) == (False, "4.5")  # as apply writes it
    assert (rows["q"].ok, rows["q"].recommended) == (False, "21")  # a quota is not capped


@pytest.mark.parametrize(
    ("line", "said"), [("cpus: .nan", "nan is not a number"), ("mem_limit: .inf", "inf is infinite")]
)
def test_a_nan_or_inf_is_named_as_such(line: str, said: str, tmp_path: Path, capsys: Any) -> None:
    """`.nan` was refused as "nan is not a finite number (1e400 is too large for a float)"."""
    path = tmp_path / "compose.yml"
    path.write_text(f"services:\n  web:\n    image: x\n    {line}\n")
    for argv in (["check", "-f", str(path)], ["apply", "-f", str(path), "--dry-run"]):
        code, out, err = run_cli(argv, capsys)
        (line_,) = [x for x in err.splitlines() if "rightsize: error:" in x]
        assert (code, out) == (2, "") and f"services.web.{line.split(':')[0]}: {said}" in line_, err
        assert "1e400" not in line_


@pytest.mark.skipif(not _have_v2(), reason="Docker Compose v2 (docker compose) not installed")
@pytest.mark.parametrize("size", ["8388608t", "8388607.99999999999t", "9223372036854775296"])
def test_a_size_v2_wraps_to_minus_2_63_says_so(size: str, tmp_path: Path, capsys: Any) -> None:
    """go-units reads a size through a float64: each of these is 2^63 there and wraps (config shows
    -9223372036854775808). A size with a unit was refused as a bare "not a memory size: '8388608t'";
    2^63 - 512, which rounds up, was said to be "2^63 bytes or more"."""
    path = tmp_path / "compose.yml"
    path.write_text(f"services:\n  web:\n    image: x\n    mem_limit: '{size}'\n")
    cfg, err = v2_config(tmp_path, Case({"compose.yml": path.read_text()}))
    assert cfg is not None, err
    assert cfg["services"]["web"]["mem_limit"] == "-9223372036854775808"
    code, out, err = run_cli(["check", "-f", str(path)], capsys)
    assert out == ""
    (line,) = [x for x in err.splitlines() if "rightsize: error:" in x]
    assert code == 2 and line.endswith(
        f"services.web.mem_limit: '{size}' reads as 2^63 bytes or more (Docker Compose v2 reads a size "
        "through a float64): it wraps to -9223372036854775808, which Docker refuses"
    ), line
