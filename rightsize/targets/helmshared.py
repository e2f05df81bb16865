"""One resources block the chart's template gives several containers (``helm template`` shows a sidecar
reading the main container's block): which container writes it, and with which numbers. The block
must fit each of them, so each resource gets the larger recommendation (memory from one container,
CPU from another: a CPU limit from the container needing less would throttle the other)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence

from rightsize.models import Recommendation
from rightsize.targets.helmplace import Place


def memory_of(recs: Sequence[Recommendation], wl: str) -> float:
    """The larger of a workload's recommended memory limit and reservation (0 without one)."""
    return max((_size(r) for r in recs if r.workload == wl and r.resource == "memory"), default=0.0)


def _size(rec: Recommendation) -> float:
    values = (rec.recommended.limit, rec.recommended.reservation) if rec.recommended else ()
    return max((v for v in values if v is not None), default=0.0)


def shared_blocks(rendered: Mapping[str, Place]) -> dict[str, list[str]]:
    """Each rendered container -> the other rendered containers given the same block."""
    by_block: dict[tuple[int, tuple[str, ...]], list[str]] = {}
    for wl, place in rendered.items():
        by_block.setdefault((id(place.node), place.keys), []).append(wl)
    return {wl: [m for m in group if m != wl] for group in by_block.values() for wl in group}


def larger_recs(
    recs: Sequence[Recommendation], wl: str, mates: Sequence[str], resources: Iterable[str]
) -> Iterator[Recommendation]:
    """``wl``'s recommendations to write; with ``mates`` sharing its block, of each resource the one
    (of any of them) recommending the most, as ``wl``'s."""
    wanted = set(resources)
    for rec in (r for r in recs if r.workload == wl and r.resource in wanted):
        ok = [r for r in recs if r.workload in (wl, *mates) and r.resource == rec.resource and r.ok]
        best = max(ok, key=lambda r: (_size(r), r.workload == wl), default=rec)
        yield best if best.workload == wl else dataclasses.replace(best, workload=wl)
