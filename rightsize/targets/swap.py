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
from rightsize.targets.locate import exists as _exists
from rightsize.targets.locate import where as _where
from rightsize.targets.mergetags import dropped
from rightsize.targets.values import Wanted, format_value, interpolated, parse_value, same
from rightsize.units import human_bytes

if TYPE_CHECKING:
    from rightsize.targets.compose import _Plan

SWAP = ("memswap_limit",)
LIMITS = (("mem_limit",), ("deploy", "resources", "limits", "memory"))


def keep_swap(
    docs: Stack, svc: str, home: int, w: Wanted, old_limit: Any, new: NewScalar, plan: _Plan
) -> None:
    """Keep the swap allowance (memswap_limit - mem_limit) when the memory limit moves."""
    if not _exists(docs, svc, SWAP):
        return
    i, _, swap = _where(docs, svc, SWAP, home)
    if (i, svc, SWAP) in plan.meta:
        return  # both a legacy and a deploy limit changed: one swap update is enough
    where = f"{docs[i].source}: services.{svc}.memswap_limit"
    if interpolated(swap) or old_limit is None or interpolated(old_limit) or str(swap).strip() == "-1":
        plan.skip(
            docs, i, w.workload, "memory", f"memswap_limit {swap} left as it is (no known swap allowance)"
        )
        return
    allowance = parse_value("memory", swap, "compose", where) - parse_value(
        "memory", old_limit, "compose", where
    )
    if allowance < 0:
        return
    total = parse_value("memory", new.raw, "compose", where) + allowance
    value = format_value("memory", total, "compose", swap)
    note = f"kept the swap allowance of {human_bytes(allowance)}"
    plan.add(i, svc, SWAP, value, w.workload, swap, note)


def set_swap(docs: Stack, svc: str, home: int, w: Wanted, plan: _Plan, hint: Any) -> None:
    """``--swap``: memswap_limit = the memory limit written + the swap asked for, whatever it was
    (``-1`` included: the option is there to bound the swap). ``hint``: the file's unit spelling."""
    assert plan.swap is not None
    i, exists, old = _where(docs, svc, SWAP, home)
    if (i, svc, SWAP) in plan.meta:
        return
    limit, total = _limit_and_total(w, plan.swap)
    unlimited = exists and str(old).strip() == "-1"
    sized = exists and not interpolated(old) and not unlimited  # a size whose spelling to follow
    value = format_value("memory", total, "compose", old if sized else hint)
    if exists and interpolated(old):
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
    share) would sit below the limit left in place, which Docker refuses: it is not written either."""
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
