"""`check --swap SIZE`: memswap_limit beside each memory limit, as `apply --swap` writes it; without
--swap only a pair Docker refuses fails. Values read as compose reads them (${VAR}, -f files)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli as run
from writer_recs import G, M, rec

from rightsize.errors import RightsizeError
from rightsize.targets.check import check_compose

STACK = """\
name: p
services:
  plain:
    image: x
    mem_limit: 1g
  swapped:
    image: x
    mem_limit: 1g
    memswap_limit: 1280m
  nothing:
    image: x
    mem_limit: 1g
    memswap_limit: 1g
  unlimited:
    image: x
    deploy:
      resources:
        limits: {memory: 1G}
    memswap_limit: -1
  below:
    image: x
    mem_limit: ${BELOW_MEM:-1g}
    memswap_limit: ${BELOW_SWAP:-512m}
  lonely:
    image: x
    memswap_limit: 1g
  default:
    image: x
    mem_limit: 1g
    memswap_limit: 0
"""
NAMES = ("plain", "swapped", "nothing", "unlimited", "below", "lonely", "default")


def swap_rows(path: Path, swap: int | None) -> dict[str, Any]:
    recs = [rec(f"p/{n}", "memory", None, G) for n in NAMES]
    result = check_compose([path], recs, swap=swap)
    assert result.swap == swap
    return {r.service: (r.configured, r.recommended, r.ok, r.why) for r in result.rows if r.kind == "swap"}


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("BELOW_MEM", "BELOW_SWAP", "SWAP"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "compose.yml"
    path.write_text(STACK)
    return path


def test_without_swap_only_what_docker_refuses_fails(stack: Path) -> None:
    assert swap_rows(stack, None) == {
        "swapped": ("1280m", None, True, "allows 256 MiB of swap"),
        "nothing": ("1g", None, True, "no swap"),
        "unlimited": ("-1", None, True, "unlimited swap"),
        "below": (
            "${BELOW_SWAP:-512m}",
            None,
            False,
            "reads 512m: below the memory limit 1 GiB: Docker refuses it; set it to the memory limit or more",
        ),
        "lonely": (
            "1g",
            None,
            False,
            "memswap_limit without a memory limit: Docker refuses it (set a memory limit)",
        ),
        "default": ("0", None, True, "not set: Docker allows as much swap as memory"),
    }  # "plain" has no memswap_limit: nothing to judge


def test_swap_size_wants_limit_plus_size_everywhere(stack: Path) -> None:
    (stack.parent / ".env").write_text("BELOW_SWAP=1280m\n")  # the pair is valid now, and what --swap asks
    rows = swap_rows(stack, 256 * M)
    assert rows["swapped"] == ("1280m", "1280m", True, "256 MiB of swap, as --swap asks")
    assert rows["below"] == (
        "${BELOW_SWAP:-512m}",
        "1280m",
        True,
        "reads 1280m: 256 MiB of swap, as --swap asks",
    )
    assert rows["plain"] == (
        None,
        "1280m",
        False,
        "no memswap_limit (Docker allows as much swap as memory); --swap asks for 256 MiB of swap: "
        "set memswap_limit: 1280m",
    )
    assert rows["nothing"][1:] == (
        "1280m",
        False,
        "no swap; --swap asks for 256 MiB of swap: set it to 1280m",
    )
    assert rows["unlimited"][1:] == (
        "1280M",
        False,
        "unlimited swap; --swap asks for 256 MiB of swap: set it to 1280M",
    )
    assert rows["default"][2:] == (
        False,
        "0 = no memswap_limit (Docker allows as much swap as memory); --swap asks for 256 MiB of swap: "
        "set memswap_limit: 1280m",
    )
    assert rows["lonely"][2] is False
    rows = swap_rows(stack, 0)
    assert rows["nothing"] == ("1g", "1g", True, "no swap, as --swap asks")
    assert rows["swapped"][2:] == (False, "allows 256 MiB of swap; --swap asks for no swap: set it to 1g")


def test_a_later_file_and_an_interpolated_limit_are_read_as_compose_reads_them(
    stack: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    over = stack.parent / "over.yml"
    over.write_text("services:\n  plain:\n    memswap_limit: ${SWAP:-0}\n")  # 0: not set (Docker's default)
    monkeypatch.setenv("BELOW_MEM", "512m")
    recs = [rec(f"p/{n}", "memory", None, G) for n in NAMES]
    rows = {r.service: r for r in check_compose([stack, over], recs, swap=0).rows if r.kind == "swap"}
    assert rows["below"].ok and rows["below"].recommended == "512m"  # limit 512m (environment) + no swap
    assert not rows["plain"].ok
    assert rows["plain"].why.startswith("reads 0: ") and rows["plain"].why.endswith(
        "--swap asks for no swap: set memswap_limit: 1g"
    ), rows["plain"].why
    over.write_text("services:\n  plain:\n    memswap_limit: ${SWAP}\n")  # empty: compose v2 refuses it
    with pytest.raises(
        RightsizeError, match=r"over.yml: services.plain.memswap_limit: \$\{SWAP\} reads empty"
    ):
        check_compose([stack, over], recs, swap=0)


def test_cli_apply_swap_then_check_swap_passes_and_another_size_fails(tmp_path: Path, capsys: Any) -> None:
    """The real analysis on the bundled sample: after `apply --swap 256M` every swap row passes
    `check --swap 256M`; `check --swap 0` fails them, each saying what to set; text and json agree."""
    path = tmp_path / "compose.yml"
    path.write_text(
        "name: sutazai\nservices:\n  postgres:\n    image: p\n    mem_limit: 2g\n    restart: always\n"
        "  redis:\n    image: r\n    restart: always\n    memswap_limit: 3g\n    deploy:\n      resources:\n"
        "        limits: {memory: 512M}\n"
    )
    code, out, err = run(["check", "-f", str(path), "--swap", "256M"], capsys)
    assert code == 1 and "memswap_limit" in out
    code, _, err = run(["apply", "-f", str(path), "--swap", "256M"], capsys)
    assert code == 0, err
    code, out, err = run(["check", "-f", str(path), "--swap", "256M", "--format", "json"], capsys)
    doc = json.loads(out)
    swap = [r for r in doc["rows"] if r["kind"] == "swap"]
    assert doc["swap"] == 256 * M and len(swap) == 2 and {r["resource"] for r in swap} == {"swap"}
    assert all(r["ok"] and r["why"] == "256 MiB of swap, as --swap asks" for r in swap), swap
    assert code == 0, out  # apply also set every limit the data recommends: the whole check passes
    code, out, _ = run(["check", "-f", str(path), "--swap", "0"], capsys)
    assert code == 1
    lines = [ln for ln in out.splitlines() if ln.split()[1:2] == ["swap"]]
    assert len(lines) == 2 and all(
        "FAIL" in ln and "--swap asks for no swap: set it to" in ln for ln in lines
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "--swap '-1': a size cannot be negative"),
        ("512", "--swap '512': give a unit (e.g. 512M)"),
        ("lots", "--swap 'lots': expected a swap size such as 0 or 256M"),
        ("", "--swap is empty"),
    ],
)
def test_cli_bad_swap_is_one_line_exit_2(stack: Path, capsys: Any, value: str, message: str) -> None:
    code, out, err = run(["check", "-f", str(stack), "--swap", value], capsys)
    assert code == 2 and out == ""
    assert err.startswith(f"rightsize: error: {message}") and err.count("\n") == 1


def test_cli_unset_required_swap_variable_is_one_line_exit_2(stack: Path, capsys: Any) -> None:
    """As docker compose: an unset ${X:?msg} fails the whole file, with or without --swap."""
    stack.write_text(STACK.replace("${BELOW_SWAP:-512m}", "${BELOW_SWAP:?say how much swap}"))
    code, out, err = run(["check", "-f", str(stack)], capsys)
    assert code == 2 and out == ""
    assert err == (
        f"rightsize: error: {stack}: services.below.memswap_limit: required variable BELOW_SWAP is missing "
        "a value: say how much swap\n"
    )
