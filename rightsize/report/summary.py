"""Words and numbers for the report's overview: formatted values, totals, the warning box (pure
functions)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from html import escape

from rightsize.models import Recommendation, Resource
from rightsize.render import shown_name
from rightsize.units import format_cpus, human_bytes

# Below this the strategy had too little or too uneven history to be trusted without a look.
LOW_CONFIDENCE = 0.5
# CPU throttled in more than this share of periods: the limit is already costing latency.
THROTTLED = 0.05


def fmt_value(resource: Resource | str, value: float | None) -> str:
    """A value in base units as a person reads it: ``1.5 GiB``, ``0.25 cores``, ``200``; ``-`` if unset."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if not math.isfinite(value) or (resource != "memory" and abs(value) >= 1e15):  # a broken counter
        return f"{value:.3g}" + (" cores" if resource == "cpu" else "")
    if resource == "memory":
        return human_bytes(value)
    if resource == "cpu":
        return f"{format_cpus(value)} {'core' if value == 1 else 'cores'}"
    return str(round(value))


def warnings_for(recs: Mapping[str, Recommendation], missing: bool = True) -> list[str]:
    """The things a reviewer must see for one workload's recommendations, in words.

    ``missing=False`` leaves out "no recommendation" (where the reasons already say why)."""
    return [text for _, text in warning_items(recs, missing)]


def warning_items(recs: Mapping[str, Recommendation], missing: bool = True) -> list[tuple[str, str]]:
    """``warnings_for`` as ``(kind, text)``: the kind groups one warning across many workloads."""
    out = []
    for resource in ("memory", "cpu", "pids"):
        rec = recs.get(resource)
        if rec is None:
            continue
        if rec.oom_kills:
            limit = fmt_value("memory", rec.current.limit)
            out.append(("OOM-killed", f"OOM-killed {rec.oom_kills}x with memory limit {limit}"))
        if rec.throttled_share is not None and rec.throttled_share > THROTTLED:
            out.append(
                (
                    "CPU throttled",
                    f"CPU throttled in {rec.throttled_share:.0%} of periods under limit "
                    f"{fmt_value('cpu', rec.current.limit)}",
                )
            )
        if rec.recommended is None:
            if missing:
                kind = f"no {resource} recommendation"
                out.append((kind, f"{kind}: {'; '.join(rec.reasons) or 'unknown reason'}"))
        elif rec.confidence < LOW_CONFIDENCE:
            kind = f"low confidence in the {resource} recommendation"
            out.append((kind, f"{kind} ({rec.confidence:.2f})"))
    return out


def totals_rows(recs: Iterable[Recommendation]) -> list[tuple[str, str, str, str, str]]:
    """Memory and CPU reserved and limited in total, now and after (kept values where no recommendation)."""
    rows = []
    recs = list(recs)
    for resource in ("memory", "cpu"):
        sums = {"res_now": 0.0, "res_after": 0.0, "lim_now": 0.0, "lim_after": 0.0}
        unset = {"res_now": 0, "res_after": 0, "lim_now": 0, "lim_after": 0}
        for rec in (r for r in recs if r.resource == resource):
            after = rec.recommended if rec.recommended is not None else rec.current
            for key, value in (
                ("res_now", rec.current.reservation),
                ("res_after", after.reservation),
                ("lim_now", rec.current.limit),
                ("lim_after", after.limit),
            ):
                if value is None:
                    unset[key] += 1
                else:
                    sums[key] += value
        cells = [
            _total(resource, sums[k], unset[k]) for k in ("res_now", "res_after", "lim_now", "lim_after")
        ]
        rows.append((resource, cells[0], cells[1], cells[2], cells[3]))
    return rows


def _total(resource: str, value: float, unset: int) -> str:
    text = fmt_value(resource, value)
    return f"{text} ({unset} not set)" if unset else text


# More workloads than this with one kind of warning (a trace without PIDs: all of them) fold into one
# line; listed, they would bury the few OOM kills that matter.
FOLD_AFTER = 10


def warnings_html(
    names: Sequence[str],
    by_workload: Mapping[str, Mapping[str, Recommendation]],
    notes: Mapping[str, Sequence[tuple[str, str]]] | None = None,
) -> str:
    """The overview's warning box: one line per warning, a folded line per kind that many share.

    ``notes``: more ``(kind, text)`` per workload, from the data rather than the recommendations."""
    kinds: dict[str, list[str]] = {}
    items = []
    for i, name in enumerate(names):
        for kind, text in [*warning_items(by_workload.get(name, {})), *(notes or {}).get(name, ())]:
            item = f'<li><a href="#w{i}">{escape(shown_name(name))}</a>: {escape(text)}</li>'
            kinds.setdefault(kind, []).append(item)
            items.append((kind, item))
    if not items:
        return '<p class="meta">No OOM kills, no CPU throttling, no low-confidence recommendations.</p>'
    shown = [item for kind, item in items if len(kinds[kind]) <= FOLD_AFTER]
    shown += [
        f"<li><details><summary>{escape(kind)}: {len(group)} of {len(names)} workloads</summary>"
        f"<ul>{''.join(group)}</ul></details></li>"
        for kind, group in kinds.items()
        if len(group) > FOLD_AFTER
    ]
    return (
        f'<div class="warn"><b>Warnings</b> (OOM kills, CPU throttling, confidence below '
        f"{LOW_CONFIDENCE:.2f}, no recommendation)<ul>{''.join(shown)}</ul></div>"
    )
