"""The compact page: the shared time grid that keeps every bucket's extremes, and the packed payload."""

from __future__ import annotations

import base64
import gzip
import json
import re
import struct

import numpy as np
import pandas as pd
import pytest
from test_report import rec, samples_frame

from rightsize.models import Values
from rightsize.report import charts, pack
from rightsize.report.downsample import grid_envelope
from rightsize.report.html import build_page


def _reference(t: np.ndarray, v: np.ndarray, start: float, span: float, buckets: int) -> np.ndarray:
    """Each bucket's min and max, first-happened first, computed independently with pandas."""
    frame = pd.DataFrame({"t": t, "v": v}).dropna().sort_values("t", kind="stable")
    frame["b"] = np.clip(((frame["t"] - start) / span * buckets).astype(int), 0, buckets - 1)
    out = np.full(2 * buckets, np.nan)
    for b, g in frame.groupby("b"):
        lo, hi = g["v"].idxmin(), g["v"].idxmax()  # first occurrence of each
        first, second = (lo, hi) if g.index.get_loc(lo) <= g.index.get_loc(hi) else (hi, lo)
        out[2 * int(b)], out[2 * int(b) + 1] = g.at[first, "v"], g.at[second, "v"]
    return out


@pytest.mark.parametrize("seed", range(6))
def test_grid_envelope_keeps_each_buckets_min_and_max_in_time_order(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, buckets = int(rng.integers(50, 20_000)), int(rng.integers(1, 300))
    t = rng.uniform(0, 1e9, n).round()  # unsorted, uneven, repeated timestamps
    v = rng.standard_cauchy(n)  # heavy tails: many extremes
    v[rng.random(n) < rng.uniform(0, 0.5)] = np.nan
    start, span = float(t.min()), float(t.max() - t.min())
    got = grid_envelope(t, v, start, span, buckets)
    assert len(got) == 2 * buckets
    order = np.argsort(t, kind="stable")
    np.testing.assert_array_equal(got, _reference(t[order], v[order], start, span, buckets))
    assert np.nanmax(got) == np.nanmax(v) and np.nanmin(got) == np.nanmin(v)


def test_grid_envelope_gaps_and_degenerate_inputs() -> None:
    t = np.arange(100, dtype=float)
    v = np.where((t >= 40) & (t < 60), np.nan, t)  # a stretch with no value: a gap in the line
    got = grid_envelope(t, v, 0.0, 100.0, 10)
    assert np.isnan(got[8:12]).all() and np.isfinite(got[:8]).all() and np.isfinite(got[12:]).all()
    assert got[:2].tolist() == [0.0, 9.0]  # rising: the min came first
    assert np.isnan(grid_envelope(t, np.full(100, np.nan), 0.0, 100.0, 4)).all()
    assert grid_envelope(np.zeros(5), np.arange(5.0), 0.0, 0.0, 3).tolist()[:2] == [0.0, 4.0]
    with pytest.raises(ValueError):
        grid_envelope([1, 2], [1.0], 0, 1, 5)
    with pytest.raises(ValueError):
        grid_envelope([1, 2], [1.0, 2.0], 0, 1, 0)


def test_long_series_share_one_time_grid_and_keep_their_peak() -> None:
    frame = samples_frame(["a"], hours=6)  # 2,160 samples: more than 2 x 100 buckets
    recs = {"memory": rec("a", "memory", Values(300 * 2**20, 400 * 2**20))}
    fig = charts.usage_figure(frame, recs, charts.markers(frame, None), buckets=100)
    used = [t for t in fig["data"] if t["name"] in ("used (min/max per bucket)", "kernel peak")]
    assert len(used) == 4  # working set, kernel peak, CPU, PIDs
    t = charts.ts_ms(frame)
    for trace in used:
        assert "x" not in trace and trace["dx"] == pytest.approx((t.max() - t.min()) / 200)
        assert trace["x0"] == pytest.approx(t.min() + trace["dx"] / 2)
        assert len(_floats(trace["y"])) == 200
    memory = next(t for t in used if t["yaxis"] == "y" and t["name"].startswith("used"))
    peak = np.float32(frame["mem_working_set"].max() / 2**20)
    assert np.nanmax(_floats(memory["y"])) == peak  # the true peak, to float32


def test_a_limit_that_changes_is_drawn_on_the_grid_where_it_changed() -> None:
    frame = samples_frame(["a"], hours=6)  # 2,160 samples
    change = len(frame) * 3 // 4 + 7
    frame["mem_limit"] = np.where(np.arange(len(frame)) < change, 512 * 2**20, 768 * 2**20)
    frame.loc[frame.index[:100], "mem_limit"] = None  # no limit at first: a gap
    fig = charts.usage_figure(frame, {}, charts.markers(frame, None), buckets=100)
    limit = _floats(next(t for t in fig["data"] if t["name"] == "current limit" and t["yaxis"] == "y")["y"])
    t = charts.ts_ms(frame)
    bucket = np.minimum(((t - t.min()) / (t.max() - t.min()) * 100).astype(int), 99)
    first_set, changed = bucket[100], bucket[change]
    assert np.isnan(limit[: 2 * bucket[99]]).all()  # buckets with no limit at all: a gap
    assert (limit[2 * first_set + 2 : 2 * changed] == 512).all()
    assert limit[2 * changed : 2 * changed + 2].tolist() == [512, 768]  # the step, in order
    assert (limit[2 * changed + 2 :] == 768).all()
    short = samples_frame(["a"], hours=1)  # 360 samples: its own times, one point per run end
    short["mem_limit"] = np.where(np.arange(len(short)) < 200, 512 * 2**20, 768 * 2**20)
    fig = charts.usage_figure(short, {}, charts.markers(short, None), buckets=500)
    limit_trace = next(t for t in fig["data"] if t["name"] == "current limit" and t["yaxis"] == "y")
    assert _floats(limit_trace["y"]).tolist() == [512, 512, 768, 768] and "x" in limit_trace


def test_a_row_without_samples_says_so_instead_of_drawing_nan() -> None:
    frame = samples_frame(["a"], hours=6)
    frame["pids"] = pd.array([pd.NA] * len(frame), dtype="Int32")  # a trace without PIDs
    fig = charts.usage_figure(frame, {}, charts.markers(frame, None), buckets=100)
    pids = [t for t in fig["data"] if t["yaxis"] == "y3"]
    assert len(pids) == 1 and pids[0]["y"] == [None, None] and not pids[0]["showlegend"]
    assert [a["text"] for a in fig["layout"]["annotations"]] == ["no samples"]
    assert fig["layout"]["annotations"][0]["yref"] == "y3 domain"


def _floats(spec: dict[str, str]) -> np.ndarray:
    return np.frombuffer(base64.b64decode(spec["bdata"]), dtype=np.float32 if spec["dtype"] == "f4" else "f8")


def _figures(names: list[str]) -> dict[str, dict[str, object]]:
    frame = samples_frame(names, hours=6)
    figs: dict[str, dict[str, object]] = {}
    for i, (name, g) in enumerate(frame.groupby("workload")):
        recs = {"memory": rec(str(name), "memory", Values(300 * 2**20, 400 * 2**20))}
        g = g.reset_index(drop=True)
        figs[f"spec-{i}-usage"] = charts.usage_figure(g, recs, charts.markers(g, None), buckets=100)
        figs[f"spec-{i}-dist"] = charts.distribution_figure(g, recs)
    return figs


def test_pack_round_trips_and_stores_each_layout_and_style_once() -> None:
    figs = _figures(["a", "b", "c"])
    text = pack.pack(figs)
    assert re.fullmatch(r"[A-Za-z0-9+/]+=*", text)  # nothing in it can end its <script> block
    assert pack.unpack(text) == figs
    raw = gzip.decompress(base64.b64decode(text))
    (size,) = struct.unpack_from("<I", raw)
    header = json.loads(raw[4 : 4 + size])
    assert len(header["layouts"]) == 2  # usage and distribution, not one per figure
    styles = {json.dumps(s, sort_keys=True) for s in header["styles"]}
    assert len(styles) == len(header["styles"]) < sum(len(f["data"]) for f in figs.values()) / 2
    offsets = [v["buf"][1] for f in header["figures"].values() for t in f["data"] for v in t.values()
               if isinstance(v, dict)]  # fmt: skip
    assert offsets and all(o % 8 == 0 for o in offsets)  # float64 views need 8-byte alignment
    assert pack.pack(figs) == text  # the same report twice is the same bytes


def test_the_page_carries_one_payload_and_a_compressed_plotly() -> None:
    names = ["a", "b"]
    recs = [rec(n, "memory", Values(300 * 2**20, 400 * 2**20)) for n in names]
    page = build_page(recs, samples_frame(names, hours=6), None, source="x", buckets=100)
    assert '<script type="application/json"' not in page  # the old per-figure blocks
    blocks = dict(re.findall(r'<script type="application/octet-stream" id="([\w-]+)">([^<]*)</script>', page))
    assert set(blocks) == {"rightsize-plotly", "rightsize-data"}
    figures = pack.unpack(blocks["rightsize-data"])
    assert sorted(figures) == ["spec-0-dist", "spec-0-usage", "spec-1-dist", "spec-1-usage"]
    assert sorted(re.findall(r'data-spec="([\w-]+)"', page)) == sorted(figures)
    js = gzip.decompress(base64.b64decode(blocks["rightsize-plotly"])).decode()
    assert js == pack.plotly_bundle()[0] and re.search(r"\* plotly\.js v\d", js)
    assert not re.search(r"\* plotly\.js v\d", page)  # only the compressed copy is in the page
