"""Session 6 report fixes, checked in headless Chromium on what plotly.js drew (SVG paths read back
into data units), not on our dicts: limits drawn as steps, a stray sample far from the rest of its
workload's time, a browser without ``DecompressionStream``.

Each test failed before its fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from test_report_browser import browser  # noqa: F401  (the module-scoped Chromium fixture)
from test_report_bughunt_s5 import MIB, START, opened, rows, write_report  # noqa: F401

# The y value (data units) that a line trace's drawn SVG path has at each time ``at`` (ms): the
# path is parsed (M/L/H/V, absolute, as plotly writes it) into segments in pixels, and the segment
# spanning the pixel of each time gives y there; null where no segment spans it (a gap).
DRAWN_AT = """([title, name, axis, at]) => {
  const section = Array.from(document.querySelectorAll('section.workload'))
    .find(s => s.querySelector('h3').textContent === title);
  const gd = section.querySelector('div.plot.usage');
  const g = Array.from(gd.querySelectorAll('.scatterlayer .trace')).find(g => {
    const t = g.__data__[0].trace;
    return t.name === name && t.yaxis === axis && t.mode.includes('lines');
  });
  const d = g.querySelector('path.js-line').getAttribute('d');
  const segs = [];
  let x = 0, y = 0;
  for (const [, cmd, args] of d.matchAll(/([MLHV])([^MLHVZ]*)/g)) {
    const n = args.split(/[ ,]+/).filter(s => s).map(Number);
    const [x0, y0] = [x, y];
    if (cmd === 'M') { [x, y] = n; continue; }
    if (cmd === 'L') { [x, y] = n; } else if (cmd === 'H') { x = n[0]; } else { y = n[0]; }
    segs.push([x0, y0, x, y]);
  }
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout[axis === 'y' ? 'yaxis' : 'yaxis' + axis.slice(1)];
  return at.map(ms => {
    const px = xa.c2p(ms);
    const s = segs.find(([a, , b]) => Math.min(a, b) < px && px < Math.max(a, b));
    if (!s) { return null; }
    const [a, ya0, b, yb] = s;
    return ya.p2c(ya0 + (yb - ya0) * (px - a) / (b - a));
  });
}"""


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("count", [150, 4_000])  # own times / on the shared grid (buckets=100)
def test_a_limit_is_drawn_as_a_step(tmp_path: Path, opened: Any, count: int) -> None:  # noqa: F811
    """A memory limit raised from 512 to 1024 MiB between two samples was drawn as a slope from
    one to the other: a limit holds until changed, so between the two samples it is still 512."""
    ts = START + np.arange(count) * 10_000
    frame = rows("stepped", ts, np.full(count, 100 * MIB), np.full(count, 0.1))
    change = count // 2
    frame["mem_limit"] = np.where(np.arange(count) < change, 512 * MIB, 1024 * MIB).astype(np.int64)
    page = opened(write_report(tmp_path, [frame], buckets=100))
    if count <= 200:  # own times: between the two samples, exactly the old value
        between = [float(ts[change - 1] + f * 10_000) for f in (0.25, 0.5, 0.75)]
        assert page.evaluate(DRAWN_AT, ["stepped", "current limit", "y", between]) == [512, 512, 512]
    # nowhere a value between the two: sampled every 1/8 of a pixel-ish around the change
    bucket = (ts[-1] - ts[0]) / 100
    around = np.linspace(ts[change] - 2 * bucket, ts[change] + 2 * bucket, 401).tolist()
    drawn = page.evaluate(DRAWN_AT, ["stepped", "current limit", "y", around])
    values = [v for v in drawn if v is not None]
    assert len(values) > 300
    assert {round(v, 3) for v in values} == {512.0, 1024.0}
    # the step sits within one bucket of the change (the grid's resolution; exact on own times)
    first_new = around[next(i for i, v in enumerate(drawn) if v is not None and round(v) == 1024)]
    assert ts[change - 1] <= first_new <= ts[change] + bucket


# The vertices of a line trace's drawn SVG path in data units ([ms, value]), and the x-axis range.
VERTICES = """([title, name, axis]) => {
  const section = Array.from(document.querySelectorAll('section.workload'))
    .find(s => s.querySelector('h3').textContent === title);
  const gd = section.querySelector('div.plot.usage');
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout[axis === 'y' ? 'yaxis' : 'yaxis' + axis.slice(1)];
  const out = [];
  gd.querySelectorAll('.scatterlayer .trace').forEach(g => {
    const t = g.__data__[0].trace;
    if (t.name !== name || t.yaxis !== axis) { return; }
    g.querySelectorAll('path.js-line').forEach(p => {
      for (const m of p.getAttribute('d').matchAll(/[ML]([-\\d.e]+),([-\\d.e]+)/g)) {
        out.push([xa.p2c(Number(m[1])), ya.p2c(Number(m[2]))]);
      }
    });
  });
  return {points: out, range: xa.range.map(r => xa.r2c(r))};
}"""

DAY = 86_400_000


@pytest.mark.browser
@pytest.mark.slow
def test_stray_samples_far_in_time_do_not_flatten_the_chart(tmp_path: Path, opened: Any) -> None:  # noqa: F811
    """One row at 1970-01-01 and two in 2100 stretched the usage chart's time grid over 130 years:
    the real day fell into a bucket or two and its peaks were a few pixels wide. Such impossible
    times are now left out by every reader (test_impossible_times); possible but far ones (2001,
    three weeks later) still would stretch it. The chart covers the dense day, the page and the
    CLI say once what was left out, and the strays still count where recommend counts them
    (sample counts, the distribution)."""
    n = 8_640
    ts = START + np.arange(n) * 10_000
    mem = (100 + np.arange(n) % 50) * MIB
    mem[4_000] = 900 * MIB
    cpu = np.full(n, 0.2)
    cpu[6_000] = 1.5
    clean = rows("clean", ts, mem, cpu)
    odd_ts = ts.copy()
    odd_ts[[17, 3_000, 5_000]] = [
        int(pd.Timestamp("2001-01-01", tz="UTC").value // 10**6),
        *(int(pd.Timestamp(f"2026-11-2{d}", tz="UTC").value // 10**6) for d in (1, 2)),
    ]
    strays = rows("strays", odd_ts, mem, cpu)
    with pytest.warns(UserWarning) as caught:
        path = write_report(tmp_path, [clean, strays], buckets=200)
    said = [str(w.message) for w in caught if "far from the rest" in str(w.message)]
    assert len(said) == 1 and "3 sample(s) of 'strays'" in said[0] and "2001-01-01" in said[0]
    page = opened(path)

    overview = page.locator("#overview .warn li").all_inner_texts()
    noted = [t for t in overview if "far outside the rest" in t]
    assert len(noted) == 1 and noted[0].startswith("strays:"), overview
    assert "1 before it (at 2001-01-01 00:00) and 2 after it (from 2026-11-21" in noted[0]
    header = page.locator("header p.meta").inner_text()
    assert "2026-11-01 00:00 → 2026-11-01 23:59 UTC" in header and "2001" not in header

    for name in ("clean", "strays"):
        memory = page.evaluate(VERTICES, [name, "used (min/max per bucket)", "y"])
        lo, hi = memory["range"]
        assert lo > START - DAY / 10 and hi < START + 1.1 * DAY, (name, memory["range"])
        values = [v for _, v in memory["points"]]
        assert max(values) == pytest.approx(900, rel=0.01)  # the drawn line reaches the peak
        assert len(values) > 300  # spread over the day's buckets, not a few
        cores = [v for _, v in page.evaluate(VERTICES, [name, "used (min/max per bucket)", "y2"])["points"]]
        assert max(cores) == pytest.approx(1.5, rel=0.01)

    section = page.locator("section.workload", has=page.locator("h3", has_text="strays"))
    assert "far outside the rest" in section.locator(".warn").inner_text()
    # recommend counts the strays, and so do the table and the distribution
    assert "8,640" in section.locator("table").first.inner_text()
    counted = page.evaluate(
        """() => {
          const s = Array.from(document.querySelectorAll('section.workload'))
            .find(s => s.querySelector('h3').textContent === 'strays');
          const bars = s.querySelector('div.plot.dist').data.find(t => t.type === 'bar' && t.xaxis === 'x');
          return Array.from(bars.y).reduce((a, b) => a + b, 0);
        }"""
    )
    assert counted == n


@pytest.mark.parametrize(
    ("extra", "strays"),
    [
        ([], 0),  # a plain day
        ([0.0], 1),  # a zero timestamp
        ([0.0, 0.0, 4.1e12, 4.1e12 + 1], 4),  # both ends at once: each must not hide the other
        (list(START + 5 * DAY + np.arange(360) * 10_000.0), 0),  # a second run 5 days on: real data
        (list(START - 20 * DAY + np.arange(5) * 10_000.0), 5),  # 5 rows 20 days before a 1-day run
    ],
)
def test_dense_span_leaves_out_only_few_far_samples(extra: list[float], strays: int) -> None:
    from rightsize.report.span import dense_span

    day = START + np.arange(8_640) * 10_000.0
    span = dense_span(np.r_[day, extra])
    assert span.strays == strays
    if strays:
        assert (span.lo, span.hi) == (day[0], day[-1])


def test_dense_span_of_a_few_samples_or_one_instant_keeps_them_all() -> None:
    from rightsize.report.span import dense_span

    assert dense_span(np.r_[0.0, START + np.arange(8) * 10_000.0]).strays == 0  # too few to judge
    burst = np.r_[np.full(50, float(START)), START + 60_000.0]  # a minute after a burst: not far
    assert dense_span(burst).strays == 0
    assert dense_span(np.zeros(0)).strays == 0


def test_page_buckets_fall_past_500_workloads_unless_asked() -> None:
    from rightsize.report.downsample import page_buckets

    assert [page_buckets(n) for n in (1, 500, 501, 1_000, 2_000, 10_000)] == [500, 500, 499, 250, 125, 100]
    assert page_buckets(2_000, 500) == 500 and page_buckets(3, 40) == 40


@pytest.mark.slow
def test_a_page_of_many_workloads_has_a_coarser_grid_and_every_peak(tmp_path: Path) -> None:
    """1,000 workloads: each chart's series hold 2 x 250 points (not 2 x 500), the header says why,
    and each workload's working-set line still reaches its true peak (a random sample of its 600)."""
    import base64
    import re

    from rightsize.report import pack
    from rightsize.report.html import build_page

    rng = np.random.default_rng(7)
    workloads, n = 1_000, 600
    mem = rng.integers(50, 400, (workloads, n)) * MIB
    mem[np.arange(workloads), rng.integers(0, n, workloads)] = 2_000 * MIB
    frame = pd.DataFrame(
        {
            "ts": pd.to_datetime(np.tile(START + np.arange(n) * 60_000, workloads), unit="ms", utc=True),
            "workload": np.repeat([f"w{i:04d}" for i in range(workloads)], n),
            "mem_working_set": mem.ravel(),
            "cpu_cores": 0.1,
        }
    )
    page = build_page([], frame, None, source="test")
    assert "charts at 250 time buckets (fewer for 1,000 workloads" in page
    data = re.search(r'id="rightsize-data">([^<]*)<', page)
    assert data
    figures = pack.unpack(data.group(1))
    usage = [f for k, f in figures.items() if k.endswith("-usage")]
    assert len(usage) == workloads
    for fig in usage:
        used = next(t for t in fig["data"] if t["yaxis"] == "y" and t["name"].startswith("used"))
        y = np.frombuffer(base64.b64decode(used["y"]["bdata"]), "<f4")
        assert len(y) == 500 and np.nanmax(y) == 2_000


def test_a_grid_the_user_asked_for_is_not_said_to_be_chosen_for_the_page() -> None:
    """``--buckets 100`` on a page of two workloads read "fewer for 2 workloads, to keep the file
    small": the page claimed a choice it did not make."""
    from rightsize.report.html import build_page

    frame = pd.DataFrame(
        {
            "ts": pd.to_datetime(np.tile(START + np.arange(300) * 60_000, 2), unit="ms", utc=True),
            "workload": np.repeat(["a", "b"], 300),
            "mem_working_set": 100 * MIB,
        }
    )
    page = build_page([], frame, None, source="test", buckets=100)
    assert "charts at 100 time buckets (--buckets 100)" in page
    assert "fewer for" not in page
    assert "time buckets" not in build_page([], frame, None, source="test")
