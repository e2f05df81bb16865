"""Plotly figure specs (plain dicts) for one workload: usage over time, and the distributions.

Figures are built as plain dicts, not ``go.Figure``: no per-figure template (8 KB each), no
validation cost, and numeric arrays go out as plotly.js typed arrays (base64), which is ~3x
smaller than JSON numbers. No string from the data goes into a figure: titles and trace names
are fixed words, so the figures cannot carry markup from a container name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from rightsize.models import RESOURCES, Recommendation, Resource
from rightsize.report import traces as tr
from rightsize.report.downsample import histogram, step_points

MIB = float(2**20)
# resource -> (usage column, kernel-peak column or None, limit column, reservation column, scale, axis title)
SERIES: dict[Resource, tuple[str, str | None, str, str | None, float, str]] = {
    "memory": ("mem_working_set", "mem_peak", "mem_limit", "mem_reservation", MIB, "memory (MiB)"),
    "cpu": ("cpu_cores", None, "cpu_limit", "cpu_reservation", 1.0, "CPU (cores)"),
    "pids": ("pids", None, "pids_limit", None, 1.0, "PIDs"),
}
COLUMNS = sorted(
    {"ts", "container_id", "oom_kills", "restarts"}
    | {c for spec in SERIES.values() for c in spec[:4] if c is not None}
)
PERCENTILES = ("p50", "p90", "p95", "p99", "max")
GREY = {"p50": "#bbbbbb", "p90": "#999999", "p95": "#777777", "p99": "#555555", "max": "#222222"}
USAGE, PEAK, CURRENT, RECOMMENDED = "#1f77b4", "#9467bd", "#d62728", "#2ca02c"


@dataclass(frozen=True)
class Markers:
    """Times (ms since epoch) of OOM kills and restarts of one workload."""

    oom: npt.NDArray[np.float64]
    restarts: npt.NDArray[np.float64]


def ts_ms(frame: pd.DataFrame) -> npt.NDArray[np.float64]:
    """The ``ts`` column as float64 ms since epoch (what plotly.js date axes take as numbers)."""
    values = frame["ts"].to_numpy(dtype="datetime64[ms]")
    return values.astype(np.int64).astype(np.float64)


def markers(samples: pd.DataFrame, events: pd.DataFrame | None) -> Markers:
    """OOM kills and restarts from the events of this workload, or (without events) from the
    cumulative ``oom_kills``/``restarts`` counters stepping up between a container's samples."""
    if events is not None and len(events):
        events = events.sort_values("ts", kind="stable")
        t = ts_ms(events)
        kind = events["kind"].astype(str).to_numpy()
        # Docker reports a restart as a "start" of a container that died before.
        ids = (
            events["container_id"].astype(str).to_numpy() if "container_id" in events else np.full(len(t), "")
        )
        died: set[str] = set()
        again = np.zeros(len(t), dtype=bool)
        for j, (k, cid) in enumerate(zip(kind.tolist(), ids.tolist(), strict=True)):
            again[j] = k == "restart" or (k == "start" and cid in died)
            if k == "die":
                died.add(cid)
        return Markers(oom=t[kind == "oom"], restarts=t[again])
    t_all = ts_ms(samples)
    ids = pd.factorize(samples["container_id"])[0] if "container_id" in samples else np.zeros(len(t_all), int)
    order = np.lexsort((t_all, ids))  # each container's samples together, in time order
    same = ids[order][1:] == ids[order][:-1]
    found = []
    for column in ("oom_kills", "restarts"):
        if column not in samples:
            found.append(np.zeros(0))
            continue
        counter = samples[column].to_numpy(dtype=np.float64)[order]
        found.append(np.sort(t_all[order][1:][same & (np.diff(counter) > 0)]))
    return Markers(oom=found[0], restarts=found[1])


def usage(samples: pd.DataFrame, column: str, scale: float) -> npt.NDArray[np.float64]:
    """A usage column in chart units; a negative value (a counter reset) is a gap, as recommend
    ignores it: drawn, one -5 cores sample flattened a 0.1-core history into the top of the axis."""
    if column not in samples:  # a column with no value in the dataset is left out when read
        return np.full(len(samples), np.nan)
    values = samples[column].to_numpy(dtype=np.float64) / scale
    return np.where(values < 0, np.nan, values)


def usage_figure(
    samples: pd.DataFrame, recs: Mapping[str, Recommendation], marks: Markers, buckets: int = 500
) -> dict[str, Any]:
    """Working set, kernel peak, CPU and PIDs over time (min/max per bucket), one row each, with the
    current limit (as it was over time), the recommended limit and reservation, OOM and restart marks."""
    t = ts_ms(samples)
    t0, t1 = (float(t.min()), float(t.max())) if len(t) else (0.0, 1.0)
    traces: list[dict[str, Any]] = []
    layout: dict[str, Any] = {
        "height": 640,
        "margin": {"l": 64, "r": 210, "t": 16, "b": 40},
        "hovermode": "closest",
        "xaxis": {"type": "date", "anchor": "y3", "title": {"text": "time (UTC)"}},
    }
    domains = {1: [0.70, 1.0], 2: [0.36, 0.64], 3: [0.0, 0.30]}
    for row, resource in enumerate(RESOURCES, start=1):
        usage_col, peak_col, limit_col, res_col, scale, title = SERIES[resource]
        legend = "legend" if row == 1 else f"legend{row}"
        axis_name = "yaxis" if row == 1 else f"yaxis{row}"
        layout[axis_name] = {"domain": domains[row], "title": {"text": title}, "rangemode": "tozero"}
        top = domains[row][1]
        layout[legend] = {"x": 1.01, "xanchor": "left", "y": top, "yanchor": "top", "font": {"size": 11}}
        series = usage(samples, usage_col, scale)
        if not np.isfinite(series).any():  # a trace without PIDs: words, not 1,000 NaN points
            layout.setdefault("annotations", []).append(tr.no_samples(row))
            # an empty row keeps its axes (the time axis is drawn under the last row) only with a trace
            traces.append({**tr.line([t0, t1], [None, None], "", USAGE, row, legend=legend, show=False),
                           "hoverinfo": "skip"})  # fmt: skip
        else:
            used = tr.envelope(t, series, (t0, t1), buckets, "used (min/max per bucket)", USAGE, row)
            seen = t[np.isfinite(series)]
            if seen.min() == seen.max():  # one instant: a line through one x is invisible
                used = [{**used[0], "mode": "lines+markers"}]
            traces += used
        if peak_col and peak_col in samples and samples[peak_col].notna().any():
            peak_series = usage(samples, peak_col, scale)
            traces += tr.envelope(t, peak_series, (t0, t1), buckets, "kernel peak", PEAK, row, "dot")
        rec = recs.get(resource)
        if rec is not None and rec.recommended is not None:
            r = rec.recommended
            traces += tr.hline(
                t0, t1, _scaled(r.limit, scale), "recommended limit", RECOMMENDED, "solid", row, legend
            )
            traces += tr.hline(
                t0,
                t1,
                _scaled(r.reservation, scale),
                "recommended reservation",
                RECOMMENDED,
                "dot",
                row,
                legend,
            )
        # Current values drawn last: a dashed line stays visible on a recommendation equal to it.
        for col, name, dash in (
            (limit_col, "current limit", "dash"),
            (res_col, "current reservation", "dashdot"),
        ):
            if col and col in samples and samples[col].notna().any():
                values = samples[col].to_numpy(dtype=np.float64) / scale
                # "hv": a limit holds until it changes; a straight line between two samples drew
                # values it never had
                if len(t) > 2 * buckets:  # on the grid too: a limit changing hourly cost 2/3 of the bytes
                    traces += tr.envelope(t, values, (t0, t1), buckets, name, CURRENT, row, dash, 1.6, "hv")
                else:
                    order = np.argsort(t, kind="stable")  # the pauses are found in time order
                    x, y = step_points(*tr.break_gaps(t[order], values[order], (t1 - t0) / buckets))
                    line = tr.line(tr.typed(x, "f8"), tr.typed(y), name, CURRENT, row, dash=dash, width=1.6,
                                   legend=legend, shape="hv")  # fmt: skip
                    traces += [line, *tr.lone_points(line, x, y)]
        if resource == "memory":
            peak = float(np.nanmax(series)) if np.isfinite(series).any() else 0.0
            # OOM kills at the peak, restarts on the floor: both stay visible when they coincide.
            for times, name, symbol, color, level in (
                (marks.oom, "OOM kill", "x", CURRENT, peak),
                (marks.restarts, "restart", "triangle-up", "#ff7f0e", 0.0),
            ):
                if len(times):
                    traces.append(
                        {
                            "type": "scatter",
                            "mode": "markers",
                            "x": tr.typed(times, "f8"),
                            "y": tr.typed(np.full(len(times), level)),
                            "name": name,
                            "legend": legend,
                            "xaxis": "x",
                            "yaxis": "y",
                            "marker": {"symbol": symbol, "size": 11, "color": color, "line": {"width": 2}},
                        }
                    )
    if t0 == t1:  # one instant: every line (the current limit, a recommended one) is a point, which
        for trace in traces:  # a line alone does not draw: a marker does
            if trace.get("mode") == "lines":
                trace["mode"] = "lines+markers"
    return {"data": traces, "layout": layout}


def distribution_figure(samples: pd.DataFrame, recs: Mapping[str, Recommendation]) -> dict[str, Any]:
    """Histograms of memory, CPU and PIDs, with the percentiles the strategy saw and the
    recommended reservation/limit and current limit as vertical lines."""
    traces: list[dict[str, Any]] = []
    layout: dict[str, Any] = {
        "height": 330,
        "margin": {"l": 56, "r": 16, "t": 20, "b": 90},
        "bargap": 0,
        "legend": {"orientation": "h", "y": -0.3, "yanchor": "top"},
        "hovermode": "closest",
    }
    gap = 0.06
    width = (1 - 2 * gap) / 3
    shown: set[str] = set()  # one legend entry per kind of line, wherever it first appears
    for col, resource in enumerate(RESOURCES, start=1):
        usage_col, _, _, _, scale, title = SERIES[resource]
        suffix = "" if col == 1 else str(col)
        layout[f"xaxis{suffix}"] = {
            "domain": [(col - 1) * (width + gap), (col - 1) * (width + gap) + width],
            "anchor": f"y{suffix}",
            "title": {"text": title},
        }
        # Log counts: the rare high samples that decide a limit stay visible next to the bulk.
        layout[f"yaxis{suffix}"] = {
            "anchor": f"x{suffix}",
            "type": "log",
            "dtick": 1,  # a tick per decade: minor-digit labels crowd a small range
            "title": {"text": "samples (log)" if col == 1 else ""},
        }
        rec = recs.get(resource)
        lines = _lines(rec)
        drawn = [v for _, value, _, _ in lines if (v := _scaled(value, scale)) is not None and np.isfinite(v)]
        left, widths, counts = histogram(usage(samples, usage_col, scale), upto=max(drawn) if drawn else None)
        if not len(counts):  # as on the usage chart: words, not a blank third of the figure
            layout.setdefault("annotations", []).append(tr.no_samples(col, f"{tr.axis('x', col)} domain"))
            traces.append({**tr.line([0, 1], [None, None], "", USAGE, col, xaxis=col, show=False),
                           "hoverinfo": "skip"})  # fmt: skip
            continue
        traces.append(
            {
                "type": "bar",
                "x": tr.typed(left + widths / 2),
                "y": tr.typed(counts),
                "width": tr.typed(widths),
                "marker": {"color": USAGE},
                "name": "samples",
                "showlegend": _first(shown, "samples"),
                "legendgroup": "samples",
                "xaxis": f"x{col}" if col > 1 else "x",
                "yaxis": f"y{col}" if col > 1 else "y",
            }
        )
        top = float(counts.max())
        for name, value, color, dash in lines:
            v = _scaled(value, scale)
            if v is None or not np.isfinite(v):
                continue
            traces.append(
                tr.line(
                    [v, v],
                    [0.8, top * 1.5],
                    name,
                    color,
                    col,
                    xaxis=col,
                    dash=dash,
                    width=1.6,
                    group=name,
                    show=_first(shown, name),
                )
            )
    return {"data": traces, "layout": layout}


def _lines(rec: Recommendation | None) -> list[tuple[str, float | None, str, str]]:
    """(name, value in base units, colour, dash) of the vertical lines on a distribution."""
    if rec is None:
        return []
    lines = [(p, getattr(rec.observed, p), GREY[p], "dot") for p in PERCENTILES]
    if rec.recommended is not None:
        lines += [
            ("recommended reservation", rec.recommended.reservation, RECOMMENDED, "dot"),
            ("recommended limit", rec.recommended.limit, RECOMMENDED, "solid"),
        ]
    lines.append(("current limit", rec.current.limit, CURRENT, "dash"))
    return lines


def _first(shown: set[str], name: str) -> bool:
    first = name not in shown
    shown.add(name)
    return first


def _scaled(value: float | None, scale: float) -> float | None:
    return None if value is None else float(value) / scale
