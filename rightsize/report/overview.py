"""The report's overview: warnings, totals, and the current -> recommended matrix (pure functions)."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence

from rightsize.models import RESOURCES, Recommendation
from rightsize.render import shown_name
from rightsize.report.summary import fmt_value, totals_rows, warnings_html

LABELS = {"memory": "Memory", "cpu": "CPU", "pids": "PIDs"}


def esc(value: object) -> str:
    """Text from anywhere -> safe HTML text or attribute value."""
    return html.escape(str(value), quote=True)


def overview(
    names: Sequence[str],
    by_workload: Mapping[str, Mapping[str, Recommendation]],
    notes: Mapping[str, Sequence[tuple[str, str]]],
) -> str:
    recs = [r for w in names for r in by_workload.get(w, {}).values()]
    out = ['<section id="overview"><h2>Overview</h2>']
    out.append(warnings_html(names, by_workload, notes))
    out.append(
        "<h3>Totals</h3><table><tr><th>resource</th><th>reserved now</th><th>reserved after</th>"
        "<th>limits now</th><th>limits after</th></tr>"
    )
    for row in totals_rows(recs):
        out.append(
            "<tr>"
            + "".join(f'<td class="{"num" if j else ""}">{esc(c)}</td>' for j, c in enumerate(row))
            + "</tr>"
        )
    out.append(
        '</table><p class="small">Sums over workloads, one container each; where a workload gets no '
        'recommendation its current values count on both sides. "-" = not set.</p>'
    )
    out.append(
        '<h3>Current → recommended</h3><table class="matrix"><tr><th>workload</th>'
        + "".join(f"<th>{LABELS[r]} reservation</th><th>{LABELS[r]} limit</th>" for r in RESOURCES[:2])
        + "<th>PIDs limit</th>"
        + "<th>confidence</th></tr>"
    )
    for i, name in enumerate(names):
        recs_w = by_workload.get(name, {})
        cells = [f'<td class="name"><a href="#w{i}">{esc(shown_name(name))}</a></td>']
        for resource in RESOURCES:
            rec = recs_w.get(resource)
            if resource != "pids":  # a PID count has no reservation
                cells.append(change_cell(rec, "reservation"))
            cells.append(change_cell(rec, "limit"))
        conf = [r.confidence for r in recs_w.values() if r.ok]
        cells.append(f'<td class="num">{min(conf):.2f}</td>' if conf else '<td class="none">-</td>')
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table></section>")
    return "\n".join(out)


def change_cell(rec: Recommendation | None, field: str) -> str:
    if rec is None:
        return '<td class="none">-</td>'
    now = getattr(rec.current, field)
    if rec.recommended is None:
        why = "; ".join(rec.reasons) or "no recommendation"
        return f'<td class="none" title="{esc(why)}">{esc(fmt_value(rec.resource, now))} (kept)</td>'
    new = getattr(rec.recommended, field)
    cls = "same"
    if new is not None and now is not None and not math.isclose(new, now, rel_tol=1e-6):
        cls = "down" if new < now else "up"
    elif new is not None and now is None:
        cls = "up"
    return (
        f'<td class="{cls}">{esc(fmt_value(rec.resource, now))} → '
        f"<b>{esc(fmt_value(rec.resource, new))}</b></td>"
    )
