"""The HTML report: escaping, the page, the command (downsampling: test_report_downsample.py)."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import run_cli

from rightsize.models import Observed, Recommendation, Values
from rightsize.report import charts, pack
from rightsize.report.html import build_page, write_atomic
from rightsize.store import append, load, load_events, to_table

HOSTILE = "<img src=x onerror=\"document.title='pwned';window.__pwned=1\">"


# ------------------------------------------------------------------------ page from real frames


def samples_frame(names: list[str], hours: int = 6, interval: int = 10, seed: int = 1) -> pd.DataFrame:
    """Seeded samples in the store's schema, round-tripped through the Parquet store's types."""
    rng = np.random.default_rng(seed)
    n = hours * 3600 // interval
    start = int(pd.Timestamp("2026-11-01", tz="UTC").value // 10**6)
    frames = []
    for i, name in enumerate(names):
        mem = (200 + 50 * i) * 2**20 * (1 + 0.1 * np.sin(np.arange(n) / 200)) + rng.normal(0, 2**20, n)
        oom = np.zeros(n, dtype=np.int32)
        oom[n // 2 :] = 1 if i == 0 else 0
        frames.append(
            pd.DataFrame(
                {
                    "ts": start + np.arange(n, dtype=np.int64) * interval * 1000,
                    "host": "h1",
                    "workload": name,
                    "container_id": f"c{i}",
                    "container": name,
                    "image": f"{name}:1",
                    "cpu_cores": rng.gamma(2.0, 0.05, n),
                    "mem_working_set": mem.astype(np.int64),
                    "mem_rss": (mem * 0.8).astype(np.int64),
                    "mem_peak": (mem * 1.1).astype(np.int64),
                    "pids": rng.integers(8, 20, n).astype(np.int32),
                    "mem_limit": 1024 * 2**20,
                    "cpu_limit": 1.0,
                    "oom_kills": oom,
                    "restarts": np.zeros(n, dtype=np.int32),
                }
            )
        )
    return to_table(pd.concat(frames, ignore_index=True)).to_pandas()


def rec(workload: str, resource: str, recommended: Values | None, **kw: object) -> Recommendation:
    base: dict[str, object] = dict(
        workload=workload,
        resource=resource,
        current=Values(None, 1024 * 2**20),
        recommended=recommended,
        observed=Observed(1.0, 2.0, 3.0, 4.0, 5.0),
        samples=2160,
        history_seconds=21600.0,
        confidence=0.9,
        reasons=("p95 of working set + 15%",),
        strategy="default",
    )
    base.update(kw)
    return Recommendation(**base)  # type: ignore[arg-type]


def test_page_escapes_every_data_string_and_inlines_plotly_once() -> None:
    names = ["stack/db", HOSTILE]
    frame = samples_frame(names)
    recs = [
        rec(HOSTILE, "memory", Values(300 * 2**20, 400 * 2**20), reasons=(HOSTILE,), oom_kills=2),
        rec("stack/db", "memory", None, reasons=("too little history <1d>",)),
    ]
    page = build_page(recs, frame, None, source=HOSTILE)
    assert HOSTILE not in page and "<img" not in page
    assert page.count("&lt;img src=x onerror=") >= 4  # matrix, warning, section title, header
    assert page.count("too little history &lt;1d&gt;") >= 1
    assert "<script src" not in page and '<link rel="stylesheet"' not in page
    # The policy allows exactly the page's own script and the plotly.js it unpacks, by hash.
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert policy and "'unsafe-inline'" not in policy.group(1).split("style-src")[0]
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    allowed = set(re.findall(r"'sha256-([^']+)'", policy.group(1)))
    bundle = pack.plotly_bundle()[0]
    assert len(scripts) == 1 and scripts[0].count("Plotly.newPlot") == 1
    assert {
        base64.b64encode(hashlib.sha256(js.encode()).digest()).decode() for js in (*scripts, bundle)
    } == allowed
    # Two figures per workload with samples, in the one inert compressed block the page's script unpacks.
    data = re.search(r'<script type="application/octet-stream" id="rightsize-data">([^<]*)</script>', page)
    assert data
    figures = pack.unpack(data.group(1))
    assert len(figures) == 4 and all(fig["data"] and "layout" in fig for fig in figures.values())
    assert "http://" not in page.split("<script>")[0] and "https://" not in page.split("<script>")[0]


def test_usage_figure_has_limits_recommendation_and_oom_marks() -> None:
    frame = samples_frame(["a"])
    recs = {"memory": rec("a", "memory", Values(300 * 2**20, 400 * 2**20))}
    marks = charts.markers(frame, None)  # no events: from the oom_kills counter stepping up
    assert len(marks.oom) == 1 and len(marks.restarts) == 0
    fig = charts.usage_figure(frame, recs, marks, buckets=100)
    names = [t["name"] for t in fig["data"]]
    for expected in (
        "used (min/max per bucket)",
        "kernel peak",
        "current limit",
        "recommended limit",
        "recommended reservation",
        "OOM kill",
    ):
        assert expected in names
    limit = next(t for t in fig["data"] if t["name"] == "recommended limit" and t["yaxis"] == "y")
    assert limit["y"] == [400.0, 400.0]  # MiB on the memory axis
    used = next(t for t in fig["data"] if t["yaxis"] == "y" and t["name"].startswith("used"))
    y = np.frombuffer(base64.b64decode(used["y"]["bdata"]), dtype=np.float32)
    assert len(y) <= 200
    assert y.max() == pytest.approx(frame["mem_working_set"].max() / 2**20, rel=1e-6)
    events = pd.DataFrame(
        {"ts": frame["ts"].iloc[[5, 9]].to_numpy(), "workload": "a", "kind": ["oom", "restart"]}
    )
    marks = charts.markers(frame, events)
    assert len(marks.oom) == 1 and len(marks.restarts) == 1


def test_write_atomic_leaves_nothing_behind_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "r.html"
    target.write_text("old")
    with pytest.raises(UnicodeEncodeError):
        write_atomic(target, "half \ud800 written")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]
    write_atomic(target, "new")
    assert target.read_text() == "new"


# ----------------------------------------------------------------------------------- the command


@pytest.mark.parametrize(
    "args, message",
    [
        (["--data", "/nonexistent/rs"], "no dataset at /nonexistent/rs"),
        (["--out", "/nonexistent/dir/r.html"], "folder /nonexistent/dir does not exist"),
        (["--set", "novalue"], "--set expects NAME=VALUE"),
        (["--buckets", "2"], "--buckets must be at least 10"),
        (["--out", "/tmp"], "cannot write /tmp: it is a folder"),
        (["--out", ""], "--out is empty: expected an HTML file"),
        (["--data", ""], "--data is empty: expected a dataset folder"),
        (["--workload", ""], "--workload is empty: expected a glob"),
        (["--since", ""], "--since is empty: expected a duration"),
        (["--compose", ""], "--compose is empty: expected a compose file"),
    ],
)
def test_report_bad_input_is_one_line_exit_2(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ds = tmp_path / "ds"
    append(ds, to_table(samples_frame(["a"], hours=1)))
    full = ["report", "--data", str(ds), "--out", str(tmp_path / "r.html"), *args]
    code, _, err = run_cli(full, capsys)
    assert code == 2
    assert err.startswith("rightsize: error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "r.html").exists()


def test_report_out_never_replaces_a_pipe_or_a_link(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import os
    import stat

    ds = tmp_path / "ds"
    append(ds, to_table(samples_frame(["a"], hours=1)))
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)  # like --out /dev/stdout: renaming over it would replace the node with a file
    code, _, err = run_cli(["report", "--data", str(ds), "--out", str(fifo)], capsys)
    assert code == 2 and "not a regular file" in err and err.count("\n") == 1
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    real, link = tmp_path / "real.html", tmp_path / "link.html"
    real.write_text("old")
    link.symlink_to(real)
    code, _, _ = run_cli(["report", "--data", str(ds), "--out", str(link)], capsys)
    assert code == 0 and link.is_symlink() and "<html" in real.read_text()[:500].lower()


def test_report_reads_a_single_samples_file_and_a_samples_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ds = tmp_path / "ds"
    (one,) = append(ds, to_table(samples_frame(["a"], hours=1)))
    # recommend --data takes these too; report read their samples as an events dataset
    for data in (one, ds / "samples"):
        code, out, err = run_cli(["report", "--data", str(data), "--out", str(tmp_path / "r.html")], capsys)
        assert code == 0, err
        assert out.startswith("wrote ")


def test_load_round_trip_feeds_the_charts(tmp_path: Path) -> None:
    frame = samples_frame(["x/y"], hours=2)
    append(tmp_path, to_table(frame))
    loaded = load(tmp_path, columns=[*charts.COLUMNS, "workload"])
    fig = charts.distribution_figure(loaded, {})
    assert sum(1 for t in fig["data"] if t["type"] == "bar") == 3
    assert load_events(tmp_path).empty
    shutil.rmtree(tmp_path / "samples")


def test_split_groups_rows_per_workload_and_lists_their_containers() -> None:
    from rightsize.report.frames import meta_from_arrow, split, split_arrow

    frame = samples_frame(["b", "a"], hours=1)
    shuffled = frame.sample(frac=1.0, random_state=3).reset_index(drop=True)
    groups, about = split(shuffled)
    assert sorted(groups) == ["a", "b"]
    for name, g in groups.items():
        want = frame[frame["workload"] == name]
        assert len(g) == len(want)
        held = want["mem_working_set"].to_numpy(np.float32)  # chart values are held as float32
        assert sorted(g["mem_working_set"].tolist()) == sorted(held.tolist())
        assert about[name] == {"containers": [name], "images": [f"{name}:1"], "hosts": ["h1"]}
    assert meta_from_arrow(to_table(shuffled)) == about  # the Arrow path lists the same names
    arrow_groups, arrow_about = split_arrow(to_table(shuffled))
    assert arrow_about == about and sorted(arrow_groups) == sorted(groups)
    for name, g in groups.items():
        a = arrow_groups[name]
        for column in ("ts", "mem_working_set", "mem_peak", "cpu_cores", "mem_reservation", "oom_kills"):
            np.testing.assert_array_equal(a[column].to_numpy(), g[column].to_numpy())
    # The envelope sorts by time itself, so the shuffled order still yields the true peak.
    fig = charts.usage_figure(groups["a"], {}, charts.markers(groups["a"], None), buckets=50)
    assert fig["data"][0]["name"].startswith("used")


def test_report_command_on_the_sample_with_compose_and_strategy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rightsize.analysis.recommend import sample_path

    compose = tmp_path / "docker-compose.yml"
    compose.write_text(
        "name: sutazai\nservices:\n  ollama:\n    image: ollama/ollama\n"
        "    deploy:\n      resources:\n        limits:\n          memory: 12g\n          cpus: '3'\n"
    )
    out = tmp_path / "r.html"
    code, stdout, _ = run_cli(
        [
            "report",
            "--data",
            str(sample_path()),
            "--out",
            str(out),
            "--compose",
            str(compose),
            "--strategy",
            "krr",
        ],
        capsys,
    )
    assert code == 0 and stdout.startswith(f"wrote {out} (")
    page = out.read_text()
    assert "strategy krr" in page and "cpu_request_percentile = 0.95" in page  # the settings used
    ollama = page[page.index("<h3>sutazai/ollama</h3>") :]
    ollama = ollama[: ollama.index("</table>")]
    assert "12 GiB → <b>" in ollama and "3 cores → " in ollama  # current values from the compose file
    assert (
        page.count('<section class="workload"')
        == load(sample_path(), columns=["workload"])["workload"].nunique()
    )
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file left


def test_report_unknown_strategy_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rightsize.analysis.recommend import sample_path

    code, _, err = run_cli(
        ["report", "--data", str(sample_path()), "--out", str(tmp_path / "r.html"), "--strategy", "nope"],
        capsys,
    )
    assert code == 2 and err.startswith("rightsize: error: ") and err.count("\n") == 1
    assert not (tmp_path / "r.html").exists()


def test_report_since_and_workload_narrow_charts_like_recommend(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rightsize.analysis.recommend import sample_path

    out = tmp_path / "r.html"
    code, _, _ = run_cli(
        [
            "report",
            "--data",
            str(sample_path()),
            "--out",
            str(out),
            "--since",
            "6h",
            "--workload",
            "sutazai/o*",
        ],
        capsys,
    )
    assert code == 0
    page = out.read_text()
    assert page.count('<section class="workload"') == 1 and "<h3>sutazai/ollama</h3>" in page
    # the history the recommendation used, spelled as recommend spells it (models.history_text)
    assert "1 workloads · 2,161 samples" in page and "(6.0 h)" in page
    assert '<td class="num">6.0 h</td>' in page


def test_page_shows_workloads_without_samples_or_recommendations() -> None:
    frame = samples_frame(["only/data"], hours=1)
    recs = [rec("only/recommended", "memory", Values(None, 256 * 2**20))]
    page = build_page(recs, frame, None, source="x")
    assert page.count('<section class="workload"') == 2
    ghost = page[page.index("<h3>only/recommended</h3>") :]
    assert "No samples for this workload in the dataset." in ghost[: ghost.index("</section>")]
    data_only = page[page.index("<h3>only/data</h3>") :]
    assert "No recommendation for this workload." in data_only[: data_only.index("</section>")]
    assert page.count('data-spec="') == 2  # figures only where there are samples


def test_sections_come_in_natural_order_and_lead_back_to_the_overview() -> None:
    # 500 VMs sorted rnd_1, rnd_10, rnd_100, ... on a 680,000 px page with no way back up
    names = ["vm_10", "vm_2", "vm_1"]
    recs = [rec(n, "memory", Values(None, 400 * 2**20)) for n in names]
    page = build_page(recs, samples_frame(names), None, source="test")
    titles = re.findall(r'<section class="workload" id="w\d+"><h3>([^<]+)</h3>', page)
    assert titles == ["vm_1", "vm_2", "vm_10"]
    assert 'id="overview"' in page and page.count('<a class="top" href="#overview">') == 3


@pytest.fixture(scope="module")
def patchy_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four workloads over three files written out of order: kernel peaks only in one file, no
    image anywhere, a missing container name, a container replaced halfway (a restart mark)."""
    root = tmp_path_factory.mktemp("patchy")
    frame = samples_frame(["a/1", "a/2", "b/1", ""], hours=3)
    frame["image"] = None
    frame.loc[frame.index[::7], "container"] = None
    late = frame["ts"] > frame["ts"].quantile(0.5)
    frame.loc[late & (frame["workload"] == "a/2"), "container_id"] = "c-new"
    shuffled = frame.sample(frac=1.0, random_state=5)
    thirds = np.array_split(np.arange(len(shuffled)), 3)
    for k, rows in enumerate(thirds):
        part = shuffled.iloc[rows].copy()
        if k != 1:
            part["mem_peak"] = None
        append(root, to_table(part))
    return root


@pytest.mark.parametrize(
    ("since", "workloads"), [(None, None), ("90m", None), (None, "a/*"), ("2h", "a/*,''")]
)
def test_file_by_file_frames_draw_the_same_page_as_the_whole_table(
    patchy_dataset: Path, since: str | None, workloads: str | None
) -> None:
    """read_groups (the report's path since it peaked at 4 GB on the 500-VM trace) gives the same
    frames, names and page as reading one table and splitting it (read_arrow + split_arrow)."""
    from rightsize.analysis.recommend import recommend
    from rightsize.report import frames
    from rightsize.report.html import META_COLUMNS, _narrow

    columns = sorted(set(charts.COLUMNS) | set(META_COLUMNS))
    table, about_old, latest_old = frames.read_arrow(patchy_dataset, columns, workloads)
    old, about_old = frames.split_arrow(table, about_old)
    new, about_new, latest_new = frames.read_groups(patchy_dataset, columns, workloads)
    assert (about_new, latest_new) == (about_old, latest_old)
    assert about_new["a/2"]["containers"] == ["a/2"] and about_new["a/2"]["images"] == []
    old_n, _ = _narrow(old, None, since, workloads, latest_old)
    new_n, _ = _narrow(new, None, since, workloads, latest_new)
    assert list(new_n) == list(old_n) and len(new_n) >= 1
    for name, g in old_n.items():
        got = new_n[name]
        for column in g.columns:
            want = g[column].to_numpy()
            if column == "container_id":  # codes, compared for equality only: the same partition
                np.testing.assert_array_equal(pd.factorize(got[column])[0], pd.factorize(want)[0])
            elif column in got:
                np.testing.assert_array_equal(got[column].to_numpy(), want)
            else:  # left out because it holds no value in the dataset
                assert column in ("mem_reservation", "cpu_reservation", "pids_limit") and np.isnan(want).all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        recs = recommend(patchy_dataset, since=since, workloads=workloads)
    when = datetime(2026, 11, 28, tzinfo=UTC)
    pages = [
        build_page(recs, g, None, source="x", about=a, generated=when)
        for g, a in ((old_n, about_old), (new_n, about_new))
    ]
    assert pages[0] == pages[1]
    assert "restart" in pages[1] or workloads == "a/*"
