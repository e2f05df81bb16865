"""``check``'s swap row: ``memswap_limit`` beside the memory limit (read as compose reads both).

With ``--swap SIZE`` (as ``apply --swap``: memory + swap = limit + SIZE, ``0``: no swap) a service
with a memory limit must have that memswap_limit. Without it, only what Docker refuses fails:
memswap_limit below the memory limit ("Minimum memoryswap limit should be larger than memory
limit"), or set without a memory limit ("You should always set the Memory limit when using
Memoryswap limit"). ``0`` (or a variable reading empty) is no memswap_limit: Docker's default, as much
swap as memory; ``-1`` is unlimited swap.
"""

from __future__ import annotations

from dataclasses import dataclass

from rightsize.targets.composefile import Stack
from rightsize.targets.effective import effective, read
from rightsize.targets.locate import DEPLOY
from rightsize.targets.values import format_value, minus_one, parse_value, same
from rightsize.units import human_bytes

SWAP = ("memswap_limit",)
LIMIT_PATHS = [("mem_limit",), DEPLOY[("memory", "limit")]]


@dataclass(frozen=True)
class SwapVerdict:
    configured: str | None
    expected: str | None
    ok: bool
    why: str


def swap_verdict(docs: Stack, svc: str, swap: int | None) -> SwapVerdict | None:
    """The swap row of ``svc`` (None: nothing to judge); ``swap``: bytes from ``--swap``, or None."""
    raw_limit, limit_where, limit_env = effective(docs, svc, LIMIT_PATHS)
    limit, limit_text = None, None
    if raw_limit is not None:
        limit_text = read(raw_limit, limit_env, limit_where or svc)[0]
        limit = parse_value("memory", limit_text, "compose", limit_where or svc) if limit_text != "" else None
        limit = limit if limit else None  # 0: unlimited memory
    raw, where, env = effective(docs, svc, [SWAP])
    value, how = read(raw, env, where or svc) if raw is not None else (None, "")
    unlimited = value is not None and minus_one(value)
    sized = value not in (None, "") and not unlimited
    total = parse_value("memory", value, "compose", where or svc) if sized else None
    total = total if total else None  # 0: not set (Docker's default)
    shown = None if raw is None else str(raw)
    how = how if how.startswith("reads") else (how + ": " if how else "")

    if limit is None:
        if total is None:
            return None  # no memory limit: its own row fails; no swap to judge without one
        why = "memswap_limit without a memory limit: Docker refuses it (set a memory limit)"
        return SwapVerdict(shown, None, False, how + why)
    expected = None
    if swap is not None:
        hint = value if total is not None else limit_text  # the file's unit spelling, as apply writes
        expected = format_value("memory", limit + swap, "compose", hint).raw
    asked = "no swap" if swap == 0 else f"{human_bytes(swap or 0)} of swap"

    def verdict(ok: bool, why: str) -> SwapVerdict:
        return SwapVerdict(shown, expected, ok, how + why)

    if total is not None and total < limit:
        fix = f"set it to {expected}" if expected else "set it to the memory limit or more"
        return verdict(False, f"below the memory limit {human_bytes(limit)}: Docker refuses it; {fix}")
    if expected is None:  # without --swap: any valid pair passes
        if unlimited:
            return verdict(True, "unlimited swap")
        if total is None:
            return None if raw is None else verdict(True, "not set: Docker allows as much swap as memory")
        return verdict(True, _allows(total - limit))
    if total is not None and (total == limit + (swap or 0) or same("memory", total, expected, "compose")):
        return verdict(True, f"{asked}, as --swap asks")
    if unlimited:
        return verdict(False, f"unlimited swap; --swap asks for {asked}: set it to {expected}")
    if total is None:
        none = "0 = no memswap_limit" if raw is not None and not how else "no memswap_limit"
        why = f"{none} (Docker allows as much swap as memory); --swap asks for {asked}"
        return verdict(False, f"{why}: set memswap_limit: {expected}")
    return verdict(False, f"{_allows(total - limit)}; --swap asks for {asked}: set it to {expected}")


def _allows(swap: float) -> str:
    return "no swap" if swap == 0 else f"allows {human_bytes(swap)} of swap"
