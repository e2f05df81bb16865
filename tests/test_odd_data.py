"""Odd and big data through the report and the table: many workloads, one warning everywhere, long names."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import run_cli
from test_report import rec, samples_frame
from test_report_browser import CHROMIUM, FLAGS

from rightsize.errors import RightsizeError
from rightsize.models import Values
from rightsize.report import charts
from rightsize.report.html import build_page, report
from rightsize.store import append, to_table


def test_a_warning_every_workload_shares_is_one_folded_line_not_hundreds() -> None:
    # A trace without PIDs (Bitbrains, most Prometheus pulls) gives every workload "no pids
    # recommendation": 500 such lines buried the one OOM kill that matters at the bottom of the list.
    names = [f"vm/{i:03d}" for i in range(40)]
    recs = [rec(n, "memory", Values(None, 256 * 2**20), oom_kills=3 if n == "vm/039" else 0) for n in names]
    recs += [rec(n, "pids", None, reasons=("no pids samples: all 2160 missing",)) for n in names]
    page = build_page(recs, samples_frame(names[:1], hours=1), None, source="x")
    box = page[page.index('<div class="warn"><b>Warnings') :]
    box = box[: box.index("</ul></div>")]
    folded = re.search(r"<details><summary>(.*?)</summary>(.*?)</details>", box, re.S)
    assert folded and "no pids recommendation" in folded.group(1) and "40 of 40 workloads" in folded.group(1)
    assert folded.group(2).count("<li>") == 40  # still one click away, each with its link and reason
    shown = box.replace(folded.group(0), "")
    assert shown.count("<li>") == 2  # the OOM kill and the folded group, both in plain sight
    assert 'href="#w39">vm/039</a>: OOM-killed 3x' in shown


def test_few_warnings_of_a_kind_stay_listed_one_per_line() -> None:
    names = ["a", "b"]
    recs = [rec(n, "pids", None, reasons=("no pids samples: all 10 missing",)) for n in names]
    page = build_page(recs, samples_frame(["a"], hours=1), None, source="x")
    box = page[page.index('<div class="warn"><b>Warnings') :]
    assert "<details>" not in box[: box.index("</ul></div>")]
    assert box.count("no pids recommendation: no pids samples") == 2


@pytest.mark.browser
@pytest.mark.slow
def test_a_500_character_name_does_not_widen_the_page_in_chromium(tmp_path: Path) -> None:
    # Container names and imported trace ids can be this long: the warning link and the
    # "containers: ..." line pushed the page to 4,000 px wide (a sideways scroll for every reader).
    name = "x" * 500
    recs = [rec(name, "memory", Values(None, 256 * 2**20), oom_kills=1)]
    out = tmp_path / "long.html"
    out.write_text(build_page(recs, samples_frame([name], hours=1), None, source="x"))
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        page.goto(out.as_uri(), wait_until="load")
        widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        browser.close()
    assert widths[0] <= widths[1]


def _decoded(spec: dict[str, str]) -> np.ndarray:
    return np.frombuffer(base64.b64decode(spec["bdata"]), dtype=np.float32 if spec["dtype"] == "f4" else "f8")


def test_charts_leave_out_the_negative_cpu_that_recommend_ignores() -> None:
    # A cumulative-counter reset gives a -5 cores sample: recommend warns and ignores it, but the
    # charts drew it, squashing the real 0.1-core usage into a flat line at the top of a -5..0 axis.
    frame = samples_frame(["a"], hours=2)
    frame.loc[frame.index[::50], "cpu_cores"] = -5.0
    frame.loc[frame.index[7], "mem_working_set"] = -1
    fig = charts.usage_figure(frame, {}, charts.markers(frame, None), buckets=100)
    for axis in ("y", "y2"):
        used = next(t for t in fig["data"] if t["yaxis"] == axis and t["name"].startswith("used"))
        assert np.nanmin(_decoded(used["y"])) >= 0
    dist = charts.distribution_figure(frame, {})
    bars = [t for t in dist["data"] if t["type"] == "bar"]  # memory, CPU, PIDs
    for bar in bars:
        assert _decoded(bar["x"]).min() - _decoded(bar["width"]).max() / 2 >= -1e-6
    assert _decoded(bars[1]["y"]).sum() == (frame["cpu_cores"] >= 0).sum()


def test_samples_all_at_one_instant_are_drawn_as_points() -> None:
    # One sample, or 500 with the same timestamp: a line through one x is invisible, and the chart
    # looked empty beside a table that counted 500 samples.
    frame = samples_frame(["a"], hours=1).head(500)
    frame["ts"] = frame["ts"].iloc[0]
    for part in (frame, frame.head(1)):
        fig = charts.usage_figure(part, {}, charts.markers(part, None), buckets=100)
        used = [t for t in fig["data"] if t["name"].startswith("used")]
        assert len(used) == 3 and all("markers" in t["mode"] for t in used)
    fig = charts.usage_figure(samples_frame(["a"], hours=1), {}, charts.Markers(np.zeros(0), np.zeros(0)))
    assert all(t["mode"] == "lines" for t in fig["data"] if t["name"].startswith("used"))


def test_report_since_leaves_out_workloads_without_samples_in_the_window(tmp_path: Path) -> None:
    # On the 500-VM trace, --since 1h listed 53 VMs that had stopped earlier as empty sections
    # ("no samples in the dataset", though they are in it); recommend leaves them out.
    frame = samples_frame(["gone", "live"], hours=2)
    frame = frame[(frame["workload"] == "live") | (frame["ts"] < frame["ts"].min() + pd.Timedelta("30min"))]
    append(tmp_path / "ds", to_table(frame))
    page = report(tmp_path / "ds", out=tmp_path / "r.html", since="1h").read_text()
    assert page.count('<section class="workload"') == 1 and "<h3>live</h3>" in page
    assert ">gone<" not in page and "1 workloads" in page


def test_report_takes_integers_past_2_to_the_53(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # cgroup v1 reports "no memory limit" as 9223372036854771712 bytes; an imported trace that keeps
    # it (or a 2**63-1 sample) made the report's Arrow cast to float raise: a traceback, exit 1.
    frame = samples_frame(["a"], hours=2)
    frame["mem_limit"] = 9223372036854771712
    frame["cpu_limit"] = 1e308  # past float32 (the charts' values): no numpy "overflow" warning line
    frame.loc[frame.index[3], "mem_working_set"] = 2**63 - 1
    append(tmp_path / "ds", to_table(frame))
    out = tmp_path / "r.html"
    code, _, err = run_cli(["report", "--data", str(tmp_path / "ds"), "--out", str(out)], capsys)
    assert code == 0 and "Traceback" not in err and "overflow" not in err and out.stat().st_size > 0
    page = out.read_text()
    assert "<h3>a</h3>" in page and "1e+308 cores" in page  # not its 309 digits across the table
    assert not re.search(r"\d{20}", page.split("<script")[0])


def test_json_stays_json_when_a_cpu_sample_is_infinite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A rate over a zero time delta is inf; the observed max came out NaN and --format json wrote a
    # bare NaN, which no strict JSON reader (jq, JSON.parse, Go) accepts.
    frame = samples_frame(["a"], hours=2)
    frame.loc[frame.index[5], "cpu_cores"] = np.inf
    append(tmp_path / "ds", to_table(frame))
    code, out, _ = run_cli(["recommend", "--data", str(tmp_path / "ds"), "--format", "json"], capsys)
    assert code == 0

    def strict(name: str) -> None:
        raise ValueError(f"not JSON: {name}")

    cpu = next(r for r in json.loads(out, parse_constant=strict) if r["resource"] == "cpu")
    assert cpu["recommended"]["limit"] > 0 and cpu["observed"]["p50"] > 0


def test_report_reads_only_the_chosen_workloads_chart_rows(tmp_path: Path) -> None:
    # report --workload 'x*' on the 500-VM trace held all 12 M rows (4.5 GB) to chart 10 VMs.
    from rightsize.report import frames

    frame = samples_frame(["a/1", "a/2", "b/1"], hours=1)
    later = frame["workload"] == "b/1"
    frame.loc[later, "ts"] = frame.loc[later, "ts"] + pd.Timedelta("2h")  # the dataset's latest sample
    append(tmp_path / "ds", to_table(frame[~later]))
    append(tmp_path / "ds", to_table(frame[later]))
    table, about, latest = frames.read_arrow(tmp_path / "ds", ["ts", "workload", "host"], "a/*")
    assert table.num_rows == (~later).sum() and set(table["workload"].to_pylist()) == {"a/1", "a/2"}
    assert latest == int(frame["ts"].max().value // 10**6)
    assert about == {"a/1": {"hosts": ["h1"]}, "a/2": {"hosts": ["h1"]}} and "host" not in table.column_names
    # --since counts back from that latest sample, whichever workloads are drawn (as recommend does)
    with pytest.raises(RightsizeError):  # a/* have no sample in b/1's last hour
        report(tmp_path / "ds", out=tmp_path / "r.html", since="1h", workloads="a/*")
    page = report(tmp_path / "ds", out=tmp_path / "r.html", since="4h", workloads="a/*").read_text()
    assert page.count('<section class="workload"') == 2 and "<h3>a/2</h3>" in page


def test_blank_workload_names_show_quoted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # An imported trace with "" or "   " as a workload: the table showed an empty name cell (read as
    # more rows of the workload above), the report an empty, unclickable link.
    frame = samples_frame(["", "   ", "b"], hours=2)
    append(tmp_path / "ds", to_table(frame))
    code, out, _ = run_cli(["recommend", "--data", str(tmp_path / "ds")], capsys)
    assert code == 0
    names = [line.split("│")[1].strip() for line in out.splitlines() if "│ memory" in line]
    assert names == ["''", "'   '", "b"]
    code, out, _ = run_cli(["recommend", "--data", str(tmp_path / "ds"), "--format", "markdown"], capsys)
    assert "| '' |" in out and "| '   ' |" in out  # quotes need no backslash in a cell
    code, out, _ = run_cli(["recommend", "--data", str(tmp_path / "ds"), "--format", "csv"], capsys)
    assert out.count("\n,memory,") == 1  # the data formats keep the name exact
    page = report(tmp_path / "ds", out=tmp_path / "r.html").read_text()
    assert '<a href="#w0">&#x27;&#x27;</a>' in page and "<h3>&#x27;   &#x27;</h3>" in page
