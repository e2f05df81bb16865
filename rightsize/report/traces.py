"""Plotly trace specs (plain dicts) that the charts are made of: lines, a series' min/max envelope
on the chart's time grid (or its own times when short), markers for lone values, a "no samples" note.

Numeric arrays go out as plotly.js typed arrays (base64), ~3x smaller than JSON numbers.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import numpy.typing as npt

from rightsize.report.downsample import grid_envelope, minmax_envelope


def typed(values: npt.ArrayLike, dtype: str = "f4") -> dict[str, str]:
    """A plotly.js typed-array spec; float32 is plenty for plotted values, time needs float64."""
    with np.errstate(over="ignore"):  # past float32 (a 1e308 limit) is inf: off the chart, no warning
        arr = np.ascontiguousarray(np.asarray(values, dtype=np.float32 if dtype == "f4" else np.float64))
    return {"dtype": dtype, "bdata": base64.b64encode(arr.tobytes()).decode("ascii")}


def axis(letter: str, n: int) -> str:
    return letter if n == 1 else f"{letter}{n}"


def line(
    x: Any,
    y: Any,
    name: str,
    color: str,
    yaxis: int,
    *,
    xaxis: int = 1,
    dash: str = "solid",
    width: float = 1.2,
    legend: str = "legend",
    group: str | None = None,
    show: bool = True,
    shape: str = "linear",
) -> dict[str, Any]:
    """A line trace; ``shape="hv"`` draws a step series (a limit holds until it changes)."""
    style: dict[str, Any] = {"color": color, "dash": dash, "width": width}
    if shape != "linear":
        style["shape"] = shape
    trace: dict[str, Any] = {
        "type": "scatter",
        "mode": "lines",
        "x": x,
        "y": y,
        "name": name,
        "line": style,
        "xaxis": axis("x", xaxis),
        "yaxis": axis("y", yaxis),
        "legend": legend,
        "showlegend": show,
    }
    if group:
        trace["legendgroup"] = group
    return trace


def hline(
    t0: float, t1: float, value: float | None, name: str, color: str, dash: str, row: int, legend: str
) -> list[dict[str, Any]]:
    if value is None or not np.isfinite(value):
        return []
    return [line([t0, t1], [value, value], name, color, row, dash=dash, width=1.6, legend=legend)]


def envelope(
    t: npt.NDArray[np.float64],
    values: npt.NDArray[np.float64],
    bounds: tuple[float, float],
    buckets: int,
    name: str,
    color: str,
    row: int,
    dash: str = "solid",
    width: float = 1.2,
    shape: str = "linear",
) -> list[dict[str, Any]]:
    """A line that keeps every bucket's min and max (and markers for its lone points). Long series
    sit on the chart's shared time grid (``x0``/``dx``: no time array at all); short ones keep their
    own times. A step series (a limit, ``shape="hv"``) on the grid changes within the bucket where
    it changed, as a step: each value holds until the next point."""
    legend = "legend" if row == 1 else f"legend{row}"
    kw: dict[str, Any] = {"dash": dash, "width": width, "legend": legend, "shape": shape}
    if len(t) <= 2 * buckets:
        x, y = break_gaps(*minmax_envelope(t, values, buckets), (bounds[1] - bounds[0]) / buckets)
        trace = line(typed(x, "f8"), typed(y), name, color, row, **kw)
        return [trace, *lone_points(trace, x, y)]
    span = bounds[1] - bounds[0]
    y = grid_envelope(t, values, bounds[0], span, buckets)
    trace = line(None, typed(y), name, color, row, **kw)
    del trace["x"]
    step = span / (2 * buckets)
    trace.update(x0=bounds[0] + step / 2, dx=step)
    return [trace, *lone_points(trace, trace["x0"] + step * np.arange(len(y)), y)]


def break_gaps(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], bucket: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """A gap in the line (a NaN point) where no sample came for longer than a grid bucket, 4 usual
    intervals and 1/20 of the chart: the grid leaves such stretches empty, and a short series (usage,
    or a limit's steps) drew a straight line across days when the collector was down, as if measured.
    The usual interval is the 90th percentile, and the 1/20 a floor, because replicas sampled at one
    tick (or ms apart) make most intervals ~0: a median broke the line at every tick."""
    if len(x) < 3:
        return x, y
    step = np.diff(x)
    usual = float(np.quantile(step, 0.9))
    at = np.flatnonzero(step > max(bucket, 4 * usual, (x[-1] - x[0]) / 20))
    if not len(at):
        return x, y
    return np.insert(x, at + 1, (x[at] + x[at + 1]) / 2), np.insert(y, at + 1, np.nan)


def lone_points(
    trace: dict[str, Any], x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]
) -> list[dict[str, Any]]:
    """Markers for the values with a gap on both sides, which a line alone does not draw at all: a
    crash loop's CPU (null on each container's first sample), a sparse stretch on the grid. They
    share the line's legend entry."""
    finite = np.isfinite(y)
    lone = finite & ~np.r_[False, finite[:-1]] & ~np.r_[finite[1:], False]
    if not lone.any():
        return []
    trace["legendgroup"] = group = f"{trace['yaxis']}:{trace['name']}"
    return [
        {
            "type": "scatter",
            "mode": "markers",
            "x": typed(x[lone], "f8"),
            "y": typed(y[lone]),
            "name": trace["name"],
            "marker": {"color": trace["line"]["color"], "size": 4},
            "xaxis": trace["xaxis"],
            "yaxis": trace["yaxis"],
            "legend": trace["legend"],
            "legendgroup": group,
            "showlegend": False,
        }
    ]


def no_samples(row: int, xref: str = "paper") -> dict[str, Any]:
    return {
        "text": "no samples",
        "xref": xref,
        "yref": f"{axis('y', row)} domain",
        "x": 0.5,
        "y": 0.5,
        "showarrow": False,
        "font": {"color": "#888"},
    }
