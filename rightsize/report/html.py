"""``rightsize report``: one self-contained HTML file that shows why each limit was chosen.

plotly.js and every figure's data sit once each in an inert compressed block (``pack.py``) that the
page's one script unpacks, and a content security policy forbids any request, so the file opens
offline and can be attached to a ticket. Everything that comes from the data (workload, container,
image, host names, reasons) is HTML-escaped in the page and never placed in a figure.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow

from rightsize.atomic import replace_text
from rightsize.errors import RightsizeError
from rightsize.globs import joined, matches, natural
from rightsize.models import RESOURCES, Recommendation, history_text
from rightsize.render import shown_name
from rightsize.report import assets, charts, frames, pack, span
from rightsize.report.downsample import BUCKETS, page_buckets
from rightsize.report.overview import LABELS, change_cell, esc, overview
from rightsize.report.summary import fmt_value, warnings_for

if TYPE_CHECKING:
    from rightsize.analysis.recommend import Since

META_COLUMNS = ["workload", "container", "image", "host"]


# ------------------------------------------------------------------------------------- the API


def report(
    data: str | os.PathLike[str] | pd.DataFrame | None = None,
    *,
    out: str | os.PathLike[str] = "rightsize-report.html",
    strategy: str = "default",
    overrides: dict[str, str] | None = None,
    compose: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
    env_files: Sequence[str | os.PathLike[str]] | None = None,
    recommendations: Sequence[Recommendation] | None = None,
    buckets: int | None = None,
    since: Since = None,
    workloads: str | Sequence[str] | None = None,
    now: datetime | None = None,
    project_directory: str | os.PathLike[str] | None = None,
) -> Path:
    """Recommend (or take ``recommendations``) for the dataset ``data`` and write the HTML report.

    ``data`` is a dataset root (``None``: ``default_data()``) or a samples DataFrame; ``since``
    (``7d`` or a date) and ``workloads`` (globs: ``"shop/*,db"`` or a list) narrow it, and
    ``compose`` (one file or several, merged as ``-f a -f b``) with ``env_files`` gives the current
    values, as for ``recommend``. Returns the path written. The file is written to a temporary
    name and renamed: never half a report. Samples of impossible times (before 2000, a day after
    ``now``: this machine's clock by default) are left out everywhere, as recommend leaves them out.
    """
    from rightsize.analysis.plausible import keep_possible, plausible
    from rightsize.analysis.recommend import default_data, recommend
    from rightsize.store import events_beside, warn_once

    if buckets is not None and buckets < 10:
        raise RightsizeError(f"--buckets must be at least 10, not {buckets}")
    workloads = joined(workloads)  # a list of globs, as recommend() takes it
    given = Path(out)
    target = given.resolve() if given.is_symlink() else given  # the rename would replace the link
    if not target.parent.is_dir():
        raise RightsizeError(f"cannot write {given}: folder {target.parent} does not exist")
    if target.is_dir():
        raise RightsizeError(
            f"cannot write {given}: it is a folder; give a file name, e.g. {given / 'report.html'}"
        )
    if target.exists() and not target.is_file():  # /dev/stdout, a FIFO: the rename would replace it
        raise RightsizeError(f"cannot write {given}: not a regular file; give a file name, e.g. report.html")
    if target.is_file() and not _replaceable(target):  # `-o compose.yml` meant `-f`: never replace it
        raise RightsizeError(
            f"cannot write {given}: it exists and is not an HTML page; give another --out (e.g. report.html)"
        )
    source: str | os.PathLike[str] | pd.DataFrame = default_data() if data is None else data
    now = now or datetime.now(UTC)  # one clock for recommend and the charts: the same rows left out
    warned: set[str] = set()  # recommend and the chart reader read the same files: warn once
    if recommendations is None:  # data=None lets recommend() warn that this is the sample
        given_files = [compose] if isinstance(compose, str | os.PathLike) else compose or []
        files = [Path(c) for c in given_files] or None
        with warn_once(warned):
            recs = recommend(
                _pathlike(data), strategy=strategy, overrides=overrides, compose=files, since=since,
                workloads=workloads, env_files=[Path(e) for e in env_files] if env_files else None, now=now,
                project_directory=None if project_directory is None else Path(project_directory),
            )  # fmt: skip
    else:
        recs = list(recommendations)
    # recommend's freed Arrow buffers are kept by its allocator: hand them back before the charts'
    # numpy arrays (malloc, another heap) are allocated beside them
    pyarrow.default_memory_pool().release_unused()
    columns = sorted(set(charts.COLUMNS) | set(META_COLUMNS))
    samples: Mapping[str, pd.DataFrame]
    latest = None
    valid = plausible(now, source)
    if isinstance(source, pd.DataFrame):
        with warn_once(warned):
            samples, about = frames.split(keep_possible(source, valid) if len(source) else source)
        events, label = None, "a DataFrame"
    else:
        # File by file into per-workload slices, each workload's frame put together only when its
        # charts are drawn (frames.read_groups): 4 GB -> 1 GB on the 500-VM trace.
        with warn_once(warned):
            samples, about, latest = frames.read_groups(source, columns, workloads, valid)
            events, label = events_beside(source), str(source)  # none beside a single file
    samples, events = _narrow(samples, events, since, workloads, latest)
    settings = None
    if recommendations is None:
        from rightsize.analysis.strategies import get_strategy

        settings = get_strategy(strategy, overrides).describe()
    page = build_page(recs, samples, events, source=label, buckets=buckets, about=about, settings=settings)
    try:
        return write_atomic(target, page)
    except OSError as exc:
        raise RightsizeError(f"cannot write {target}: {exc.strerror or exc}") from None


def _narrow(
    groups: Mapping[str, pd.DataFrame],
    events: pd.DataFrame | None,
    since: Since,
    workloads: str | None,
    latest: int | None = None,
) -> tuple[Mapping[str, pd.DataFrame], pd.DataFrame | None]:
    """The chart data for the same window and workloads that ``recommend`` looked at; ``latest``:
    the dataset's last sample (ms) when ``groups`` hold only the chosen workloads already."""
    from rightsize.analysis.recommend import since_start

    if since:  # relative to the latest sample of the whole dataset, before the workload filter
        if latest is None:
            latest = max((int(charts.ts_ms(g).max()) for g in groups.values() if len(g)), default=None)
        start = since_start(since, latest)
        if start is not None:
            # a workload with no sample in the window is left out, as recommend leaves it out
            if isinstance(groups, frames.Groups):
                groups = groups.since(start)
            else:
                kept = {k: v[charts.ts_ms(v) >= start] for k, v in groups.items()}
                groups = {k: v for k, v in kept.items() if len(v)}
            if events is not None and len(events):
                events = events[charts.ts_ms(events) >= start]
    if workloads and not isinstance(groups, frames.Groups):  # Groups are read for these workloads only
        groups = {k: v for k, v in groups.items() if matches(k, workloads)}
    return groups, events


def _replaceable(path: Path) -> bool:
    """An existing file a report may replace: named .html/.htm, empty, or an HTML page (an earlier report)."""
    if path.suffix.lower() in (".html", ".htm"):
        return True
    try:
        with path.open("rb") as f:
            head = f.read(512).lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    except OSError:  # unreadable: the write says why, as before
        return True
    return not head or head.startswith((b"<!doctype html", b"<html"))


def _pathlike(data: str | os.PathLike[str] | pd.DataFrame | None) -> str | Path | pd.DataFrame | None:
    return Path(data) if isinstance(data, os.PathLike) else data


def write_atomic(target: Path, text: str) -> Path:
    replace_text(target, text)
    return target


# ------------------------------------------------------------------------------------ the page


def build_page(
    recs: Sequence[Recommendation],
    samples: pd.DataFrame | Mapping[str, pd.DataFrame],
    events: pd.DataFrame | None,
    *,
    source: str,
    buckets: int | None = None,
    generated: datetime | None = None,
    about: frames.About | None = None,
    settings: str | None = None,
) -> str:
    """The whole HTML document as a string (pure: no I/O).

    ``samples``: one frame, or frames already split per workload (``frames.split_arrow``);
    ``about``: names seen per workload (computed from a single frame when None)."""
    by_workload: dict[str, dict[str, Recommendation]] = {}
    for rec in recs:
        by_workload.setdefault(rec.workload, {})[rec.resource] = rec
    groups: Mapping[str, pd.DataFrame]
    if isinstance(samples, pd.DataFrame):
        groups, about = frames.split(samples, about)
    else:
        groups, about = samples, about or {}
    ev_groups = events.groupby("workload", sort=False).indices if events is not None and len(events) else {}
    names = sorted(set(by_workload) | {str(w) for w in groups}, key=natural)
    asked, buckets = buckets, page_buckets(len(names), buckets)
    strategies = sorted({r.strategy for r in recs})
    when = (generated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")

    sections: list[str] = []
    figures: dict[str, dict[str, Any]] = {}
    count, spans = 0, []  # counted while drawing: Groups put each frame together once
    strays: list[tuple[str, span.Span]] = []
    for i, name in enumerate(names):
        frame = groups[name] if name in groups else pd.DataFrame({"ts": np.zeros(0, "datetime64[ms]")})
        count += len(frame)
        dense = span.dense_span(charts.ts_ms(frame))
        if len(frame):
            spans.append((dense.lo, dense.hi))
        if dense.strays:
            strays.append((name, dense))
        ev = events.take(np.asarray(ev_groups[name])) if events is not None and name in ev_groups else None
        section, spec = _workload_section(
            i, name, by_workload.get(name, {}), frame, ev, about.get(name, {}), buckets, dense
        )
        sections.append(section)
        figures.update(spec)
        del frame  # the next workload's frame need not sit beside this one
    if strays:  # once for the report: the page names each workload
        warnings.warn(span.strays_warning(strays), UserWarning, stacklevel=2)

    bundle, packed_bundle = pack.plotly_bundle()
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{assets.csp(bundle, assets.SCRIPT)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',
        "<title>rightsize report</title>",
        f"<style>{assets.CSS}</style>",
        "</head><body>",
        '<noscript><style>.plot { display: none; }</style><div class="nocharts">The charts need '
        "JavaScript; the tables and recommendations are complete without it.</div></noscript>",
        "<header><h1>rightsize report</h1>",
        f'<p class="meta">{len(names)} workloads · {count:,} samples · {span.header_span(spans)} · '
        f"strategy {esc(', '.join(strategies) or '-')} · data {esc(source)} · generated {esc(when)}"
        f"{_coarser(buckets, len(names), asked is not None)}</p>",
        f"<details><summary>Strategy settings</summary><pre>{esc(settings)}</pre></details>"
        if settings
        else "",
        assets.HOW_TO_READ,
        "</header><main>",
        overview(names, by_workload, {n: [(span.KIND, span.stray_text(s))] for n, s in strays}),
        *sections,
        "</main>",
        f'<script type="application/octet-stream" id="rightsize-plotly">{packed_bundle}</script>',
        f'<script type="application/octet-stream" id="rightsize-data">{pack.pack(figures)}</script>',
        f"<script>{assets.SCRIPT}</script>",
        "</body></html>",
    ]
    return "\n".join(parts)


def _coarser(buckets: int, workloads: int, asked: bool) -> str:
    if asked:  # --buckets: not a choice made for the page
        return f" · charts at {buckets} time buckets (--buckets {buckets})" if buckets != BUCKETS else ""
    if buckets >= BUCKETS:
        return ""
    return (f" · charts at {buckets} time buckets (fewer for {workloads:,} workloads, to keep the file "
            "small; every peak is kept; --buckets sets it)")  # fmt: skip


def _workload_section(
    i: int,
    name: str,
    recs: Mapping[str, Recommendation],
    frame: pd.DataFrame,
    events: pd.DataFrame | None,
    about: Mapping[str, list[str]],
    buckets: int,
    dense: span.Span,
) -> tuple[str, dict[str, dict[str, Any]]]:
    out = [f'<section class="workload" id="w{i}"><h3>{esc(shown_name(name))}</h3>']
    meta = " · ".join(f"{label}: {_listing(values)}" for label, values in about.items())
    top = '<a class="top" href="#overview">↑ overview</a>'  # the page is long: a way back up
    out.append(f'<p class="meta">{meta}{" · " if meta else ""}{top}</p>')
    out.append(
        "<table><tr><th>resource</th><th>reservation now → recommended</th>"
        "<th>limit now → recommended</th><th>p50</th><th>p95</th><th>p99</th><th>max</th>"
        "<th>samples</th><th>history</th><th>confidence</th></tr>"
    )
    reasons: list[str] = []
    warned: list[str] = []
    for resource in RESOURCES:
        rec = recs.get(resource)
        if rec is None:
            continue
        obs = [fmt_value(resource, getattr(rec.observed, p)) for p in ("p50", "p95", "p99", "max")]
        out.append(
            f"<tr><td>{LABELS[resource]}</td>{change_cell(rec, 'reservation')}{change_cell(rec, 'limit')}"
            + "".join(f'<td class="num">{esc(v)}</td>' for v in obs)
            + f'<td class="num">{rec.samples:,}</td>'
            + f'<td class="num">{esc(history_text(rec.history_seconds))}</td>'
            + f'<td class="num">{rec.confidence:.2f}</td></tr>'
        )
        warned.extend(
            f"<li>{LABELS[resource]}: {esc(text)}</li>"
            for text in warnings_for({resource: rec}, missing=False)
        )
        reasons.extend(f"<li>{LABELS[resource]}: {esc(text)}</li>" for text in rec.reasons)
    out.append("</table>")
    if not recs:
        out.append('<p class="none">No recommendation for this workload.</p>')
    if dense.strays:
        warned.append(f"<li>Time: {esc(span.stray_text(dense))}</li>")
    if warned:
        out.append(f'<div class="warn"><ul class="reasons">{"".join(warned)}</ul></div>')
    if reasons:
        out.append(
            f'<p class="small">Why (strategy {esc(_strategy(recs))}):</p>'
            f'<ul class="reasons">{"".join(reasons)}</ul>'
        )
    specs: dict[str, dict[str, Any]] = {}
    if len(frame):
        drawn = frame  # the usage chart covers the dense range; the distribution every sample
        if dense.strays:
            drawn = frame[dense.inside(charts.ts_ms(frame))]
            events = None if events is None else events[dense.inside(charts.ts_ms(events))]
        marks = charts.markers(drawn, events)
        figures = (
            ("usage", charts.usage_figure(drawn, recs, marks, buckets)),
            ("dist", charts.distribution_figure(frame, recs)),
        )
        for kind, fig in figures:
            spec_id = f"spec-{i}-{kind}"
            out.append(f'<div class="plot {kind}" id="plot-{i}-{kind}" data-spec="{spec_id}"></div>')
            specs[spec_id] = fig
        if len(marks.oom) or len(marks.restarts):
            out.append(
                f'<p class="small">{len(marks.oom)} OOM kill(s), {len(marks.restarts)} restart(s) '
                "marked on the memory chart.</p>"
            )
    else:
        out.append('<p class="none">No samples for this workload in the dataset.</p>')
    out.append("</section>")
    return "\n".join(out), specs


def _strategy(recs: Mapping[str, Recommendation]) -> str:
    return ", ".join(sorted({r.strategy for r in recs.values()})) or "-"


def _listing(values: Iterable[str], limit: int = 6) -> str:
    items = sorted(values)
    shown = ", ".join(esc(v) for v in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "") if items else "-"


__all__ = ["build_page", "esc", "report", "write_atomic"]
