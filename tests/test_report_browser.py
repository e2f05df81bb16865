"""The report in real headless Chromium: loads cleanly, offline, renders its plots, runs no data.

The dataset is the bundled sample with one workload (and its container) renamed to markup that
would set ``window.__pwned`` and the title if it were ever parsed as HTML.
"""

from __future__ import annotations

import shutil
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rightsize.analysis.recommend import sample_path
from rightsize.store import append, load, load_events, to_table

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
HOSTILE = "<img src=x onerror=\"document.title='pwned';window.__pwned=1\">"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rightsize.report.html import report

    root = tmp_path_factory.mktemp("hostile")
    samples, events = load(sample_path()), load_events(sample_path())
    victim = sorted(samples["workload"].unique())[-1]
    for frame in (samples, events):
        frame.loc[frame["workload"] == victim, "container"] = HOSTILE
        frame.loc[frame["workload"] == victim, "workload"] = HOSTILE
    append(root / "ds", to_table(samples, "samples"))
    append(root / "ds", to_table(events, "events"), "events")
    return report(root / "ds", out=root / "report.html")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/test-env.sh installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
            viewport={"width": 1300, "height": 1000},
        )
        context.set_default_timeout(90_000)  # generous: CI shares two cores with everything else
        yield context
        context.close()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def page(browser: Any, report_file: Path) -> Iterator[tuple[Any, list[str], list[str]]]:
    page = browser.new_page()
    problems: list[str] = []
    requests: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None,
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(report_file.as_uri(), wait_until="load")
    yield page, problems, requests
    page.close()


def test_loads_without_errors_or_requests_outside_the_file(
    page: tuple[Any, list[str], list[str]], report_file: Path
) -> None:
    p, problems, requests = page
    p.evaluate("window.rightsizeRenderAll()")
    # Predicates are functions: the page's CSP (rightly) forbids evaluating strings.
    p.wait_for_function(
        "() => Array.from(document.querySelectorAll('div.plot'))"
        ".every(d => d.querySelector('.main-svg') !== null)"
    )
    p.wait_for_timeout(300)
    assert problems == []
    assert requests == [report_file.as_uri()]  # plotly.js is inline: nothing else is fetched


def test_plots_render_with_data(page: tuple[Any, list[str], list[str]]) -> None:
    p, _, _ = page
    p.evaluate("window.rightsizeRenderAll()")
    workloads = p.locator("section.workload").count()
    assert workloads == len(load(sample_path(), columns=["workload"])["workload"].unique())
    p.wait_for_function(f"() => document.querySelectorAll('.js-plotly-plot').length === {2 * workloads}")
    # Each usage chart drew lines (one path per trace), each distribution its bars.
    lines = p.evaluate(
        "Array.from(document.querySelectorAll('div.plot.usage')).map("
        "d => d.querySelectorAll('.scatterlayer .trace path.js-line').length)"
    )
    bars = p.evaluate(
        "Array.from(document.querySelectorAll('div.plot.dist')).map("
        "d => d.querySelectorAll('.barlayer .point').length)"
    )
    assert len(lines) == workloads and min(lines) >= 5
    assert len(bars) == workloads and min(bars) >= 3
    assert p.locator("#overview table.matrix tr").count() == workloads + 1


def test_drawn_lines_reach_each_workloads_true_peak(page: tuple[Any, list[str], list[str]]) -> None:
    """The figures arrive through the packed payload (gzip, typed arrays, shared time grid): the
    memory line plotly.js holds reaches the working set's true maximum, the CPU line its CPU's."""
    p, _, _ = page
    p.evaluate("window.rightsizeRenderAll()")
    drawn = p.evaluate(
        """() => Array.from(document.querySelectorAll('section.workload')).map(s => {
             const gd = s.querySelector('div.plot.usage');
             const top = axis => Math.max(...gd.data
               .filter(t => t.yaxis === axis && t.name.startsWith('used')).map(t => Array.from(t.y))
               .flat().filter(Number.isFinite));
             return [s.querySelector('h3').textContent, top('y'), top('y2'), gd.data[0].x === undefined];
           })"""
    )
    samples = load(sample_path(), columns=["workload", "mem_working_set", "cpu_cores"])
    peaks = samples.groupby("workload")[["mem_working_set", "cpu_cores"]].max()
    assert len(drawn) == len(peaks)
    for name, memory, cpu, on_grid in drawn:
        want = peaks.loc[name] if name in peaks.index else peaks.iloc[-1]  # the renamed (hostile) one
        assert memory == float(np.float32(want["mem_working_set"] / 2**20))
        assert cpu == float(np.float32(want["cpu_cores"]))
        assert on_grid  # 8,641+ samples: drawn on the shared time grid, no time array shipped


def test_without_decompression_the_page_says_so_once_and_the_tables_stay(
    browser: Any, report_file: Path
) -> None:
    """A browser without ``DecompressionStream`` (Firefox < 113, Safari < 16.4): one message for the
    page, at the top and still in view when scrolled down (it said so in every chart's place, ~20
    copies, and in none near the top), the empty chart boxes are gone, the tables stay."""
    p = browser.new_page()
    errors: list[str] = []
    try:
        p.on("pageerror", lambda e: errors.append(str(e)))
        p.add_init_script("delete window.DecompressionStream;")
        p.goto(report_file.as_uri(), wait_until="load")
        p.wait_for_function("() => document.querySelectorAll('div.plot.failed').length > 0")
        notes = p.get_by_text("charts cannot be drawn in this browser")
        assert notes.count() == 1 and notes.is_visible()
        text = notes.inner_text()
        assert "DecompressionStream" in text and "Firefox 113" in text and "Safari 16.4" in text
        assert (notes.bounding_box() or {"y": -1})["y"] < 100  # at the top of the page
        p.locator("section.workload").last.scroll_into_view_if_needed()
        box = notes.bounding_box()
        assert box is not None and 0 <= box["y"] < 100  # still in view down the page
        assert all(not d.is_visible() for d in p.locator("div.plot").all())
        assert p.locator("#overview table.matrix tr").count() > 1 and errors == []
    finally:
        p.close()


def test_without_javascript_the_page_says_so_once(browser: Any, report_file: Path) -> None:
    """Scripts off: one line saying the charts need JavaScript, no screen-high empty chart boxes."""
    p = browser.new_page()
    try:
        cdp = p.context.new_cdp_session(p)
        cdp.send("Emulation.setScriptExecutionDisabled", {"value": True})
        p.goto(report_file.as_uri(), wait_until="load")
        notes = p.locator(".nocharts")  # (text search skips <noscript>, even when it is shown)
        assert notes.count() == 1 and notes.is_visible()
        assert "The charts need JavaScript" in notes.inner_text()
        assert all(not d.is_visible() for d in p.locator("div.plot").all())
        assert p.locator("#overview table.matrix tr").count() > 1
    finally:
        p.close()


def test_hostile_name_is_text_and_runs_nothing(page: tuple[Any, list[str], list[str]]) -> None:
    p, _, _ = page
    assert p.title() == "rightsize report"
    assert p.evaluate("window.__pwned") is None
    assert p.locator("img").count() == 0
    titles = p.locator("section.workload h3").all_inner_texts()
    assert HOSTILE in titles
    assert HOSTILE in p.locator("#overview").inner_text()


def test_plots_render_lazily_when_scrolled_to(browser: Any, report_file: Path) -> None:
    p = browser.new_page()
    try:
        p.goto(report_file.as_uri(), wait_until="load")
        last = p.locator("div.plot.dist").last
        assert last.get_attribute("data-rendered") is None  # far below the fold: not drawn yet
        last.scroll_into_view_if_needed()
        p.wait_for_function(
            "() => Array.from(document.querySelectorAll('div.plot.dist')).pop()"
            ".querySelector('.main-svg') !== null"
        )
    finally:
        p.close()


def test_screenshot_of_a_plot_is_not_blank(page: tuple[Any, list[str], list[str]], tmp_path: Path) -> None:
    p, _, _ = page
    p.evaluate("window.rightsizeRenderAll()")
    shot = p.locator("div.plot.usage").first.screenshot()
    (tmp_path / "usage.png").write_bytes(shot)
    width, height, pixels = decode_png(shot)
    assert width > 800 and height > 500
    colours = set(pixels)
    non_white = sum(1 for px in pixels if px[:3] != (255, 255, 255))
    assert len(colours) > 20  # lines, grid, text, legend: many colours
    assert non_white > 0.02 * len(pixels)


def decode_png(data: bytes) -> tuple[int, int, list[tuple[int, ...]]]:
    """Pixels of an 8-bit RGB/RGBA PNG (what Chromium writes), without an imaging library."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    height = colour_type = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour_type = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour_type in (2, 6)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    bpp = 4 if colour_type == 6 else 3
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    pixels: list[tuple[int, ...]] = []
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 255
        pixels.extend(tuple(line[i : i + bpp]) for i in range(0, stride, bpp))
        prev = line
    return width, height, pixels


def test_content_security_policy_blocks_injected_markup(browser: Any, report_file: Path) -> None:
    """Second line of defence: even markup that got into the DOM could neither run nor fetch."""
    p = browser.new_page()
    blocked: list[str] = []
    requests: list[str] = []  # responses received
    try:
        p.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
        p.on("response", lambda r: requests.append(r.url))
        p.on("requestfailed", lambda r: blocked.append(f"{r.url}: {r.failure}"))
        p.goto(report_file.as_uri(), wait_until="load")
        p.evaluate(
            "() => { document.body.insertAdjacentHTML('beforeend',"
            ' \'<img src="https://example.invalid/x.png" onerror="window.__ran=1">'
            '<svg onload="window.__ran=2"></svg>\'); }'
        )
        p.wait_for_timeout(500)
        assert p.evaluate("() => window.__ran") is None
        assert any(b.endswith("x.png: csp") for b in blocked), blocked  # the image was refused
        assert any("Content Security Policy" in b for b in blocked), blocked  # so were the handlers
        assert requests == [report_file.as_uri()]  # nothing but the file itself was answered
    finally:
        p.close()
