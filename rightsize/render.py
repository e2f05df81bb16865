"""Recommendations -> text: a rich table, JSON, YAML, CSV, or the plan's Markdown resource matrix.

Every format shows every recommendation, including the explicit "no recommendation" ones with
their reason. JSON/YAML/CSV carry base units (bytes as integers, CPUs as cores); the table and the
Markdown matrix use the units a deploy file takes (``--units compose``: 1536M / 1.5; ``k8s``:
1536Mi / 1500m).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import shutil
import string
import unicodedata
from collections.abc import Sequence
from typing import Any

from rightsize.errors import RightsizeError
from rightsize.models import Observed, Recommendation, Values, history_text
from rightsize.units import Dialect, format_bytes, format_cpus

FORMATS = ("table", "json", "yaml", "csv", "markdown")
UNITS = ("compose", "k8s")
LOW_CONFIDENCE = 0.5


# past this a value is no real reading (a broken counter): shown as 1e+300 instead of 301 digits
HUGE = 1e15


def fmt_value(resource: str, value: float | None, units: Dialect) -> str:
    """A value for a person to read; only the display is rounded (JSON/YAML/CSV keep it exact)."""
    if value is None:
        return "-"
    if not math.isfinite(value) or abs(value) >= HUGE:
        return f"{value:.3g}" + (" B" if resource == "memory" else "")
    if resource == "memory":
        return format_bytes(value, units)
    if resource == "cpu":
        return format_cpus(value, units)
    return str(round(value))


def one_line(text: str) -> str:
    """``text`` with each control, format (bidi) or line-break char as its escape (``\\n``, ``\\u202e``).

    Workload names come from outside (container names, imported traces): a newline in one must not
    start a new table row that reads like another workload.
    """
    return "".join(repr(ch)[1:-1] if unicodedata.category(ch) in _UNSAFE else ch for ch in text)


def shown_name(name: str) -> str:
    """A workload name to display: a blank one ("", "   ") quoted, or it reads as no name at all."""
    return name if name.strip() else repr(name)


# controls, line breaks, and format characters: bidi overrides (U+202E) would reorder the line a
# terminal or browser shows, zero-width ones hide text; surrogates cannot be printed at all
_UNSAFE = frozenset(("Cc", "Cf", "Cs", "Zl", "Zp"))

# CommonMark makes any backslash-escaped ASCII punctuation literal: no emphasis (* _ ~), code span,
# link, HTML, entity (&lt;), cell split (|), math ($), emoji (:x:), autolink (www. / https:), issue
# (#1) or mention (@a) reference. The rest cannot start inline markup in a one-line cell ("( ) % ; ,"
# are in nearly every note, "/ -" in names), so they stay readable. (An e-mail-like a@b.co is still
# autolinked by GitHub whatever is escaped; its text shows unchanged.)
_MD_SPECIAL = str.maketrans({c: "\\" + c for c in string.punctuation if c not in "/-()%;,=+?'\"{}^"})


def md_text(text: str) -> str:
    """``text`` for one Markdown table cell or inline span: one line, literal, no cell split."""
    return one_line(text.translate(_MD_SPECIAL))


def _pair(resource: str, v: Values | None, units: Dialect) -> str:
    if v is None:
        return "no recommendation"
    return f"{fmt_value(resource, v.reservation, units)} / {fmt_value(resource, v.limit, units)}"


def change(rec: Recommendation) -> str:
    """Limit change as a percentage, ``new`` when no limit was set, ``removed`` when none is advised."""
    if rec.recommended is None:
        return ""
    old, new = rec.current.limit, rec.recommended.limit
    if old is None and new is None:
        return "="
    if old is None:
        return "new"
    if new is None:
        return "removed"
    if old == 0:
        return "new"
    pct = (new - old) / old * 100
    return "=" if abs(pct) < 0.5 else f"{pct:+.0f}%"


def flags(rec: Recommendation) -> list[str]:
    out = []
    if rec.oom_kills:
        out.append(f"OOM-killed {rec.oom_kills}x")
    if rec.throttled_share:
        out.append(f"throttled {rec.throttled_share:.0%}")
    if rec.recommended is not None and rec.confidence < LOW_CONFIDENCE:
        out.append(f"low confidence ({history_text(rec.history_seconds)} of history)")
    return out


def table_width(isatty: bool) -> int:
    """COLUMNS if set, else the terminal's width; 160 into a pipe or file (where nothing wraps)."""
    env = os.environ.get("COLUMNS", "")
    if env.isdigit() and int(env) > 0:
        return max(int(env), 40)
    return max(shutil.get_terminal_size((160, 24)).columns, 40) if isatty else 160


def render(
    recs: Sequence[Recommendation], fmt: str = "table", units: str = "compose", *, width: int = 160
) -> str:
    """``recs`` as ``fmt`` text; ``width`` is the table's (``table_width`` for a terminal)."""
    if fmt not in FORMATS:
        raise RightsizeError(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    if units not in UNITS:
        raise RightsizeError(f"unknown units {units!r}; choose one of: {', '.join(UNITS)}")
    dialect: Dialect = "k8s" if units == "k8s" else "compose"
    if fmt == "table":
        return _table(recs, dialect, width)
    return {"json": _json, "yaml": _yaml, "csv": _csv, "markdown": _markdown}[fmt](recs, dialect)


def records(recs: Sequence[Recommendation]) -> list[dict[str, Any]]:
    """``[r.to_dict() for r in recs]``, equal to it key for key and in order, without
    ``dataclasses.asdict``'s recursive deep copy (1.2 s of the 3 s that 9,000 records took)."""
    out = []
    names = _FIELDS
    for r in recs:
        d = {name: getattr(r, name) for name in names}
        d["reasons"] = list(r.reasons)
        d["unit"] = r.unit
        whole = r.resource in ("memory", "pids")
        for key in ("current", "recommended", "observed"):
            v = d[key]
            if v is not None:
                d[key] = {
                    k: None if x is None else (round(x) if whole else round(float(x), 4))
                    for k in _VALUE_FIELDS[key]
                    for x in (getattr(v, k),)
                }
        out.append(d)
    return out


_FIELDS = tuple(f.name for f in dataclasses.fields(Recommendation))
_VALUE_FIELDS = {
    "current": tuple(f.name for f in dataclasses.fields(Values)),
    "recommended": tuple(f.name for f in dataclasses.fields(Values)),
    "observed": tuple(f.name for f in dataclasses.fields(Observed)),
}


def _json(recs: Sequence[Recommendation], units: Dialect) -> str:
    return json.dumps([_finite(d) for d in records(recs)], indent=2, allow_nan=False) + "\n"


def _finite(obj: Any) -> Any:
    """JSON has no NaN or Infinity (from a broken reading, e.g. an inf CPU rate): they become null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def _yaml(recs: Sequence[Recommendation], units: Dialect) -> str:
    from rightsize.render_yaml import dump

    # ruamel's dumper took 21 s for 3,000 workloads; this writes the same bytes (see render_yaml)
    return dump(records(recs))


CSV_FIELDS = (
    "workload", "resource", "unit", "current_reservation", "current_limit", "recommended_reservation",
    "recommended_limit", "p50", "p90", "p95", "p99", "max", "samples", "history_seconds", "confidence",
    "oom_kills", "throttled_share", "strategy", "reasons",
)  # fmt: skip


def _csv(recs: Sequence[Recommendation], units: Dialect) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    w.writeheader()
    for r, d in zip(recs, records(recs), strict=True):
        row: dict[str, Any] = {k: d.get(k) for k in CSV_FIELDS if k in d}
        for key in ("current", "recommended"):
            v = d[key] or {}
            row[f"{key}_reservation"], row[f"{key}_limit"] = v.get("reservation"), v.get("limit")
        row.update(d["observed"])
        row["reasons"] = "; ".join(r.reasons)
        w.writerow({k: "" if v is None else csv_text(v) for k, v in row.items()})
    return buf.getvalue()


# a cell opening with one of these is a formula to Excel, LibreOffice and Google Sheets (OWASP "CSV
# injection"): a workload name "=cmd|' /C calc'!A0" would run when the file is opened
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_text(value: Any) -> Any:
    """A text cell that a spreadsheet would read as a formula, with a leading ``'`` (shown as text,
    the common practice); numbers are left as they are, so -1 stays a number."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _markdown(recs: Sequence[Recommendation], units: Dialect) -> str:
    """The plan's "Optimized Resource Matrix" (limits), plus PIDs, then the notes and reasons."""
    by_wl: dict[str, dict[str, Recommendation]] = {}
    for r in recs:
        by_wl.setdefault(r.workload, {})[r.resource] = r
    head = ["Service", "Current Memory", "Optimized Memory", "Current CPU", "Optimized CPU",
            "Current PIDs", "Optimized PIDs", "Notes"]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    notes = []
    for wl, rs in by_wl.items():
        cells, marks = [wl], []
        for res in ("memory", "cpu", "pids"):
            rec = rs.get(res)
            if rec is None:
                cells += ["-", "-"]
                continue
            cells.append(fmt_value(res, rec.current.limit, units))
            new = fmt_value(res, rec.recommended.limit, units) if rec.recommended else "no recommendation"
            if rec.recommended and rec.recommended.limit is None:  # krr's CPU: "-" would read "unknown"
                new = "no limit"
            cells.append(new)
            marks += [f for f in flags(rec) if f not in marks]
            if rec.recommended is None:
                marks = [m for m in marks if not rec.reasons or not rec.reasons[0].startswith(m)]
                marks += [x for x in rec.reasons if x not in marks]
        cells.append("; ".join(marks))
        # the numbers are ours (16G, 1.5); the name and the notes are escaped so they show as text
        name = md_text(shown_name(wl))
        lines.append("| " + " | ".join([name, *cells[1:-1], md_text(cells[-1])]) + " |")
        for r in rs.values():
            if r.recommended is not None:
                notes.append(f"- **{name}** {r.resource}: {_pair(r.resource, r.recommended, units)} "
                             f"(reservation / limit) — {'; '.join(r.reasons)}")  # fmt: skip
    strategy = recs[0].strategy if recs else "-"
    return "\n".join(["**Optimized Resource Matrix** (limits; strategy `" + strategy + "`)", "", *lines, "",
                      *notes]) + "\n"  # fmt: skip


def _table(recs: Sequence[Recommendation], units: Dialect, width: int = 160) -> str:
    from rightsize.render_table import draw

    rows, styles = [], []
    last = None
    for r in recs:
        obs = (
            f"{fmt_value(r.resource, r.observed.p95, units)} / {fmt_value(r.resource, r.observed.max, units)}"
        )
        notes = flags(r)
        if r.recommended is None and r.reasons:  # its first reason; a flag it opens with is not said twice
            notes = [f for f in notes if not r.reasons[0].startswith(f)] + [r.reasons[0]]
        styles.append("red" if r.oom_kills else ("yellow" if r.recommended is None else None))
        rows.append(
            (
                one_line(shown_name(r.workload)) if r.workload != last else "",
                r.resource,
                _pair(r.resource, r.current, units),
                _pair(r.resource, r.recommended, units),
                change(r),
                obs if r.samples else "-",
                "; ".join(notes),
            )
        )
        last = r.workload
    title = f"rightsize recommendations (strategy: {recs[0].strategy if recs else '-'})"
    # rich draws the few rows that decide the layout; plain rows are drawn alike without it (7 s ->
    # 0.2 s for 3,000 workloads)
    return draw(title, TABLE_HEADERS, rows, styles, width)


TABLE_HEADERS = ("Workload", "Resource", "Current res / limit", "Recommended res / limit", "Change",
                 "p95 / max used", "Notes")  # fmt: skip
