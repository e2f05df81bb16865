"""Bugs found by building datasets that stress the report page and opening each in headless Chromium.

Each test failed before its fix; the browser ones read what plotly.js holds and drew, not our dicts.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from test_report_browser import browser  # noqa: F401  (the module-scoped Chromium fixture)

from rightsize.store import append, to_table

MIB = 2**20
START = int(pd.Timestamp("2026-11-01", tz="UTC").value // 10**6)


def rows(
    name: str, ts: np.ndarray, mem: np.ndarray, cpu: np.ndarray, cids: list[str] | None = None
) -> pd.DataFrame:
    n = len(ts)
    return pd.DataFrame(
        {
            "ts": pd.to_datetime(np.asarray(ts, dtype=np.int64), unit="ms", utc=True),
            "host": "h1",
            "workload": name,
            "container_id": cids if cids is not None else [f"c-{name}"] * n,
            "container": name,
            "image": "img:1",
            "cpu_cores": cpu,
            "mem_working_set": np.asarray(mem, dtype=np.int64),
            "mem_rss": np.asarray(mem, dtype=np.int64),
            "pids": np.full(n, 5, np.int32),
            "oom_kills": np.zeros(n, np.int32),
            "restarts": np.zeros(n, np.int32),
        }
    )


def write_report(tmp: Path, frames: list[pd.DataFrame], **kw: Any) -> Path:
    from rightsize.report.html import report

    append(tmp / "ds", to_table(pd.concat(frames, ignore_index=True), "samples"))
    return report(tmp / "ds", out=tmp / "report.html", **kw)


@pytest.fixture
def opened(browser: Any) -> Iterator[Any]:  # noqa: F811
    """``open(path)`` -> a page with every plot drawn; the console must stay clean."""
    pages: list[tuple[Any, list[str]]] = []

    def open_(path: Path) -> Any:
        page = browser.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        pages.append((page, problems))
        page.goto(path.as_uri(), wait_until="load")
        page.evaluate("window.rightsizeRenderAll()")
        return page

    yield open_
    for page, problems in pages:
        page.close()
        assert problems == []


# What each usage chart row shows a person: the finite values of its lines that have a finite
# neighbour (a segment is drawn) or that carry a marker.
VISIBLE = """(title) => {
  const section = Array.from(document.querySelectorAll('section.workload'))
    .find(s => s.querySelector('h3').textContent === title);
  const gd = section.querySelector('div.plot.usage');
  const out = {};
  gd.data.forEach(t => {
    if (!t.y || !t.name.startsWith('used')) { return; }
    const y = Array.from(t.y), marked = (t.mode || '').includes('markers');
    const seen = y.filter((v, i) => Number.isFinite(v) &&
      (marked || Number.isFinite(y[i - 1]) || Number.isFinite(y[i + 1])));
    out[t.yaxis] = (out[t.yaxis] || []).concat(seen);
  });
  out.points = gd.querySelectorAll('.scatterlayer .trace path.point').length;
  return out;
}"""


@pytest.mark.browser
@pytest.mark.slow
def test_values_with_gaps_on_both_sides_are_drawn(tmp_path: Path, opened: Any) -> None:
    """A crash loop (each container lives two samples; CPU is null on a container's first) drew an
    empty CPU chart: every CPU value sat between two gaps, and a line draws nothing for a lone point.
    On the shared grid a sparse stretch (a sample every 3 h, buckets of 2.4 h) vanished the same way."""
    n = 60
    cpu = np.where(np.arange(n) % 2 == 1, 0.3 + 0.01 * np.arange(n), np.nan)
    loop = rows(
        "crashloop",
        START + np.arange(n) * 10_000,
        np.full(n, 30 * MIB),
        cpu,
        [f"k{i // 2}" for i in range(n)],
    )
    dense_t = START + np.arange(720) * 10_000  # 2 h at 10 s, then 10 days at one sample per 3 h
    sparse_t = dense_t[-1] + np.arange(1, 81) * 3 * 3_600_000
    mem = np.r_[np.full(720, 100 * MIB), np.full(80, 200 * MIB)]
    mem[760] = 999 * MIB  # the highest sample is in the sparse stretch
    sparse = rows("sparse", np.r_[dense_t, sparse_t], mem, np.full(800, 0.1))
    page = opened(write_report(tmp_path, [loop, sparse], buckets=100))

    shown = page.evaluate(VISIBLE, "crashloop")
    assert sorted(shown["y2"]) == pytest.approx(sorted(cpu[np.isfinite(cpu)].tolist()))
    assert shown["points"] >= 30  # drawn as SVG points, not only held in the data
    shown = page.evaluate(VISIBLE, "sparse")
    assert max(shown["y"]) == 999  # the peak is visible
    assert shown["y"].count(200) >= 40  # and so is the sparse stretch, not only its bucket neighbours


GAPS = """([title, line]) => {
  const section = Array.from(document.querySelectorAll('section.workload'))
    .find(s => s.querySelector('h3').textContent === title);
  const t = section.querySelector('div.plot.usage').data
    .find(t => t.yaxis === 'y' && t.name.startsWith(line));
  const y = Array.from(t.y);
  const x = t.x ? Array.from(t.x) : y.map((_, i) => t.x0 + i * t.dx);
  return x.filter((_, i) => !Number.isFinite(y[i]));
}"""


@pytest.mark.browser
@pytest.mark.slow
def test_days_without_samples_are_a_gap_in_short_and_long_series(tmp_path: Path, opened: Any) -> None:
    """The shared grid leaves a stretch with no sample empty; a series short enough to keep its own
    times drew a straight line across the three days the collector was down, as if measured."""
    frames, day = [], 86_400_000
    for name, count in (("short", 400), ("long", 4_000)):
        ts = START + np.arange(count) * 10_000
        ts[count // 2 :] += 3 * day  # the collector was down for three days halfway through
        frames.append(rows(name, ts, np.full(count, 100 * MIB), np.full(count, 0.1)))
        frames[-1]["mem_limit"] = np.int64(512 * MIB)
    page = opened(write_report(tmp_path, frames, buckets=500))
    for name, count in (("short", 400), ("long", 4_000)):
        down = (START + (count // 2 - 1) * 10_000, START + (count // 2) * 10_000 + 3 * day)
        for line in ("used", "current limit"):
            gaps = page.evaluate(GAPS, [name, line])
            assert gaps and all(down[0] < x < down[1] for x in gaps), (name, line)


@pytest.mark.parametrize(("replicas", "jitter_ms"), [(1, 0), (3, 0), (20, 0), (20, 7), (50, 3)])
def test_replicas_sampled_at_one_tick_draw_one_unbroken_line(replicas: int, jitter_ms: int) -> None:
    """Pooled replicas share (or nearly share) each tick's time, so most intervals are ~0: the pause
    rule must not read every tick as a pause (a line of dots), only the real one."""
    from rightsize.report import charts

    ticks = 1_000 // replicas
    t = np.repeat(START + np.arange(ticks) * 10_000.0, replicas) + np.tile(
        np.arange(replicas) * jitter_ms, ticks
    )
    t[len(t) // 2 :] += 1_200_000  # one real pause of 20 min, ~1/4 of the chart
    frame = pd.DataFrame(
        {
            "ts": pd.to_datetime(t.astype(np.int64), unit="ms", utc=True),
            "mem_working_set": np.full(len(t), 1.0 * MIB),
        }
    )
    fig = charts.usage_figure(frame, {}, charts.markers(frame, None), buckets=500)
    used = next(tr for tr in fig["data"] if tr["yaxis"] == "y" and tr["name"].startswith("used"))
    y = np.frombuffer(base64.b64decode(used["y"]["bdata"]), "<f4")
    assert np.isnan(y).sum() == 1  # the pause, and only it


@pytest.mark.browser
@pytest.mark.slow
def test_a_distribution_without_samples_says_so(tmp_path: Path, opened: Any) -> None:
    """A workload whose CPU is all null: the usage chart's CPU row said 'no samples', while the
    distributions left a blank third with no axis, no title and no word of why."""
    n = 50
    frame = rows("nocpu", START + np.arange(n) * 10_000, np.full(n, 50 * MIB), np.full(n, np.nan))
    page = opened(write_report(tmp_path, [frame]))
    dist = page.locator("div.plot.dist")
    assert dist.locator(".annotation-text").all_text_contents() == ["no samples"]
    assert "CPU (cores)" in (dist.locator(".g-x2title").text_content() or "")
    usage = page.locator("div.plot.usage")
    assert usage.locator(".annotation-text").all_text_contents() == ["no samples"]


DRAWN = """(title) => {
  const section = Array.from(document.querySelectorAll('section.workload'))
    .find(s => s.querySelector('h3').textContent === title);
  const out = {};
  section.querySelectorAll('div.plot.usage .scatterlayer .trace').forEach(g => {
    const trace = g.__data__[0].trace;
    out[trace.yaxis + ' ' + trace.name] = g.querySelectorAll('path.point').length;
  });
  return out;
}"""


@pytest.mark.browser
@pytest.mark.slow
def test_a_limit_at_one_instant_is_drawn(tmp_path: Path, opened: Any) -> None:
    """Every sample at one instant (a snapshot of 40 replicas): the usage was drawn as markers, but
    the current limit, a line from that instant to itself, was in the legend and nowhere on the chart."""
    n = 40
    snap = rows(
        "snapshot",
        np.full(n, START),
        (100 + np.arange(n)) * MIB,
        np.full(n, 0.2),
        [f"r{i}" for i in range(n)],
    )
    snap["mem_limit"] = np.int64(1024 * MIB)
    page = opened(write_report(tmp_path, [snap]))
    drawn = page.evaluate(DRAWN, "snapshot")
    assert drawn["y current limit"] >= 1
    assert drawn["y used (min/max per bucket)"] >= 1
