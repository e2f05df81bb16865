"""``memswap_limit`` beside a memory limit that moves: keep the swap allowance, or set ``--swap``.

Compose reads ``memswap_limit`` as memory + swap (equal to the limit: no swap; ``-1``: unlimited).
It has no ``deploy.resources`` key for swap, so the service-level key is written beside
``deploy.resources`` too: Compose v2 takes MemorySwap from it whichever spelling holds the limit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ruamel.yaml.comments import CommentedMap

from rightsize.targets import edit
from rightsize.targets.composefile import Stack, service_node
from rightsize.targets.edit import NewScalar
from rightsize.targets.effective import read as read_value
from rightsize.targets.locate import env_at
from rightsize.targets.locate import exists as _exists
from rightsize.targets.locate import where as _where
from rightsize.targets.mergetags import dropped
from rightsize.targets.values import Wanted, format_value, interpolated, minus_one, parse_value, same
from rightsize.units import human_bytes

if TYPE_CHECKING:
    from rightsize.targets.compose import _Plan

SWAP = ("memswap_limit",)
LIMITS = (("mem_limit",), ("deploy", "resources", "limits", "memory"))
RESERVATIONS = (("mem_reservation",), ("deploy", "resources", "reservations", "memory"))


def keep_swap(
    docs: Stack, svc: str, home: int, w: Wanted, old_limit: Any, new: NewScalar, plan: _Plan
) -> None:
    """Keep the swap allowance (memswap_limit - mem_limit) when the memory limit moves. An interpolated
    memswap_limit is read (as compose reads it now) but never replaced: the value to set is reported."""
    if not _exists(docs, svc, SWAP):
        return
    i, _, swap = _where(docs, svc, SWAP, home)
    if (i, svc, SWAP) in plan.meta:
        return  # both a legacy and a deploy limit changed: one swap update is enough
    where = f"{docs[i].source}: services.{svc}.memswap_limit"
    read = str(read_value(swap, env_at(docs, svc, SWAP, i), where)[0])  # (empty, "1g ": bad input)
    if old_limit is None or interpolated(old_limit) or minus_one(read):
        why = f"it reads {read}, unlimited" if interpolated(swap) else "no known swap allowance"
        _skip_once(docs, i, w, plan, f"memswap_limit {swap} left as it is ({why})", None)
        return
    before = parse_value("memory", old_limit, "compose", where)
    allowance = parse_value("memory", read, "compose", where) - before
    if allowance < 0:
        return
    total = parse_value("memory", new.raw, "compose", where) + allowance
    value = format_value("memory", total, "compose", read)
    allowed = f"the swap allowance of {human_bytes(allowance)}"
    if interpolated(swap):
        why = f"memswap_limit is interpolated ({swap}, reads {read}): not replaced; set it to {value.raw}"
        _skip_once(docs, i, w, plan, f"{why} to keep {allowed}", value.raw)
        return
    plan.add(i, svc, SWAP, value, w.workload, swap, f"kept {allowed}")


def _skip_once(docs: Stack, i: int, w: Wanted, plan: _Plan, why: str, raw: str | None) -> None:
    """A memory limit written in two spellings (twins) reaches the swap twice: report it once."""
    if any(j == i and s.workload == w.workload and s.reason == why for j, s in plan.skipped):
        return
    plan.skip(docs, i, w.workload, "memory", why, raw)


def set_swap(docs: Stack, svc: str, home: int, w: Wanted, plan: _Plan, hint: Any) -> None:
    """``--swap``: memswap_limit = the memory limit written + the swap asked for, whatever it was
    (``-1`` included: the option is there to bound the swap). ``hint``: the file's unit spelling."""
    assert plan.swap is not None
    i, exists, old = _where(docs, svc, SWAP, home)
    if (i, svc, SWAP) in plan.meta:
        return
    limit, total = _limit_and_total(w, plan.swap)
    unlimited = exists and minus_one(old)
    sized = exists and not interpolated(old) and not unlimited  # a size whose spelling to follow
    value = format_value("memory", total, "compose", old if sized else hint)
    if exists and interpolated(old):
        where = f"{docs[i].source}: services.{svc}.memswap_limit"
        read = str(read_value(old, env_at(docs, svc, SWAP, i), where)[0])
        current = None if minus_one(read) else parse_value("memory", read, "compose", where)
        if current is not None and same("memory", current, value.raw, "compose"):
            return  # it reads the value --swap asks for: nothing to set
        skip_swap(docs, i, w, plan, f"it is interpolated ({old})", value.raw)
        return
    reset = None if exists else dropped(docs, svc, [SWAP])
    if reset:  # the user dropped it in a later file: adding it back would undo that
        skip_swap(docs, i, w, plan, reset, value.raw)
        return
    if sized:
        where = f"{docs[i].source}: services.{svc}.memswap_limit"
        if same("memory", parse_value("memory", old, "compose", where), value.raw, "compose"):
            return
    written = parse_value("memory", value.raw, "compose", "internal") - limit  # whole MiB in a file
    swap = "no swap" if written == 0 else f"{human_bytes(written)} of swap"
    note = f"--swap: memory limit {human_bytes(limit)} + {swap}" + (
        "; it was -1, unlimited" if unlimited else ""
    )
    plan.add(i, svc, SWAP, value, w.workload, old if exists else None, note)


def skip_swap(docs: Stack, i: int, w: Wanted, plan: _Plan, why: str, raw: str | None) -> None:
    """Report a ``--swap`` value that is not written, and what to set by hand (the recommended limit
    + the swap when ``raw`` is None)."""
    assert plan.swap is not None
    raw = raw or format_value("memory", _limit_and_total(w, plan.swap)[1], "compose").raw
    plan.skip(
        docs, i, w.workload, "memory", f"--swap: memswap_limit not written: {why}; set it to {raw}", raw
    )


def _limit_and_total(w: Wanted, swap: int) -> tuple[float, float]:
    """The limit as it is written (whole MiB, rounded up) and memswap_limit: from the written limit, so
    that rounding never puts memswap_limit below it (Docker refuses that)."""
    limit = parse_value("memory", format_value("memory", w.value, "compose").raw, "compose", "internal")
    return limit, limit + swap


def drop_unbacked(docs: Stack, plan: _Plan) -> None:
    """A memswap_limit planned with a memory limit that cannot be written (an anchor other services
    share) would sit below the limit left in place, which Docker refuses: it is not written either.
    Nor is a memory limit raised above an interpolated memswap_limit (see ``_hold_above_swap``)."""
    _hold_above_swap(docs, plan)
    failed: set[str] = set()
    for i, doc in enumerate(docs):
        mine = [(service_node(doc, svc), list(a)) for (j, svc), a in plan.assigns.items() if j == i]
        shared = edit.settled_shared(doc, mine)
        for (j, svc), assigns in plan.assigns.items():
            node = service_node(doc, svc)
            if j != i or not isinstance(node, CommentedMap) or not any(p in LIMITS for p in assigns):
                continue
            _, outcomes = edit.plan(doc, node, assigns, ("services", svc), shared)
            if any(p[2:] in LIMITS and not o.ok for p, o in outcomes.items()):
                failed.add(svc)
    for (j, svc), assigns in list(plan.assigns.items()):
        if svc in failed and SWAP in assigns:
            new = assigns.pop(SWAP)
            wl = plan.meta.pop((j, svc, SWAP))[0]
            why = "memswap_limit not written: neither is the memory limit it goes with (see its line)"
            plan.skip(docs, j, wl, "memory", ("--swap: " if plan.swap is not None else "") + why, new.raw)
            if not assigns:
                del plan.assigns[(j, svc)]


def _hold_above_swap(docs: Stack, plan: _Plan) -> None:
    """A memory limit raised above what an interpolated memswap_limit reads (``${SWAP:-1g}``, which is
    never replaced) would make a pair Docker refuses (memory + swap below memory): the limit is not
    written, nor a memory reservation above the limit left in place; the values to set are reported."""
    planned: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
    for (j, svc), assigns in plan.assigns.items():
        planned.setdefault(svc, []).extend((j, p) for p in assigns)
    for svc, where_paths in planned.items():
        limits = [(j, p) for j, p in where_paths if p in LIMITS]
        if not limits or any(p == SWAP for _, p in where_paths) or not _exists(docs, svc, SWAP):
            continue
        i, _, swap = _where(docs, svc, SWAP, 0)
        where = f"{docs[i].source}: services.{svc}.memswap_limit"
        read = str(read_value(swap, env_at(docs, svc, SWAP, i), where)[0]) if interpolated(swap) else ""
        if read == "" or minus_one(read):
            continue
        total = parse_value("memory", read, "compose", where)
        new = max(_bytes(plan.assigns[(j, svc)][p].raw) for j, p in limits)
        if new <= total:
            continue
        kept: float | None = None
        for j, p in limits:
            raw = plan.assigns[(j, svc)].pop(p).raw
            wl, old, _ = plan.meta.pop((j, svc, p))
            kept = max(kept or 0.0, _bytes(old)) if old else kept
            why = f"{'.'.join(p)} not written: {raw} would be above memswap_limit {swap} (reads {read}), "
            plan.skip(docs, j, wl, "memory", why + "which Docker refuses: set it with memswap_limit", raw)
        for k, q in where_paths:  # a reservation above the limit left in place: Docker refuses it too
            new_res = plan.assigns[(k, svc)].get(q) if q in RESERVATIONS else None
            if new_res is not None and kept is not None and _bytes(new_res.raw) > kept:
                plan.assigns[(k, svc)].pop(q)
                wl = plan.meta.pop((k, svc, q))[0]
                why = f"not written: {new_res.raw} would exceed the memory limit left in place"
                plan.skip(docs, k, wl, "memory", why, new_res.raw)
        for k, _ in where_paths:
            if (k, svc) in plan.assigns and not plan.assigns[(k, svc)]:
                del plan.assigns[(k, svc)]


def _bytes(raw: str) -> float:
    return parse_value("memory", raw, "compose", "internal")
