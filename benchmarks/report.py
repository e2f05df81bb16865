"""Benchmark: the HTML report for 50 services x 14 days at 10 s (6,048,000 samples).

Target (issue 6): file <= 10 MB, written in <= 15 s. Measured in the same run:

- ours: ``rightsize.report`` (recommend + load + min/max grid per bucket + page), end to end, in a
  fresh process;
- baseline "page before": the same with the package as it was before the compact page (see
  ``--trace`` below for which revision), in a fresh process;
- baseline "no downsampling": our page with every sample plotted (buckets larger than the
  history), i.e. what plotting the raw frames gives;
- baseline "stride": the naive way to fit the same point budget (every k-th sample), scored on
  how many of the daily working-set peaks each shows (a point within one bucket of the peak's
  time, at 99% of its height or more).

Run:  python3 benchmarks/report.py            (generates the seeded dataset under /tmp once)
      python3 benchmarks/report.py --services 10 --days 3     (smaller, quicker)

``--trace DIR`` instead: the report on an imported dataset (the 500-VM Bitbrains trace:
``benchmarks/backtest.py`` imports it to /tmp/rightsize-bench-bitbrains), ours beside the baseline:
the package as it was before the compact page (``git archive`` of the parent of the commit that
added ``rightsize/report/pack.py``, or ``--baseline-rev``), each in a fresh process: wall, CPU, the
peak RSS of recommend and of the rest of the report apart, the page size; ``--chromium``: the time
to open each page and draw its first chart in headless Chromium. Recommend alone is run first.

      python3 benchmarks/report.py --trace /tmp/rightsize-bench-bitbrains --chromium
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow

from rightsize.report.html import report
from rightsize.store import append, load, to_table

MIB = 2**20


def generate(root: Path, services: int, days: int, interval: int, seed: int = 42) -> Path:
    """A seeded dataset: daily cycles, slow leaks with OOM kills, short spikes, bursty CPU."""
    marker = root / f".complete-v2-{services}x{days}d-{interval}s-{seed}"
    if marker.exists():
        return root
    rng = np.random.default_rng(seed)
    per_day = 86400 // interval
    start = int(pd.Timestamp("2026-11-01", tz="UTC").value // 10**6)
    base = rng.uniform(64, 3000, services) * MIB
    limit = np.ceil(base * rng.uniform(1.5, 4, services) / (256 * MIB)) * 256 * MIB
    leaky = rng.random(services) < 0.1
    for day in range(days):
        rows = []
        events: list[dict[str, object]] = []
        for s in range(services):
            i = np.arange(day * per_day, (day + 1) * per_day)
            t = start + i.astype(np.int64) * interval * 1000
            cycle = np.sin(2 * np.pi * i * interval / 86400)
            mem = base[s] * (1 + 0.15 * cycle) + rng.normal(0, base[s] * 0.02, per_day)
            kills = np.zeros(per_day, dtype=np.int32)
            if leaky[s]:  # grows until the limit, is OOM-killed, restarts: every 5 days
                period = 5 * 86400
                phase = (i * interval) % period / period
                mem = base[s] + phase * (limit[s] - base[s])
                kills = (i * interval // period).astype(np.int32)  # cumulative, as the collector records
                before = (i - 1) * interval // period
                for k in np.flatnonzero((kills > before) & (i > 0)):
                    events += [
                        {
                            "ts": int(t[k]),
                            "workload": f"bench/svc{s:02d}",
                            "container_id": f"c{s}",
                            "container": f"svc{s:02d}-1",
                            "kind": kind,
                            "host": "bench",
                        }
                        for kind in ("oom", "die", "start")
                    ]
            spikes = rng.random(per_day) < 0.0003
            mem[spikes] *= rng.uniform(1.3, 2.0, spikes.sum())
            mem = np.minimum(mem, limit[s])
            cpu = rng.gamma(1.5, 0.05 + 0.3 * rng.random(), per_day) * (1 + 0.5 * cycle.clip(0))
            rows.append(
                pd.DataFrame(
                    {
                        "ts": t,
                        "host": "bench",
                        "workload": f"bench/svc{s:02d}",
                        "container_id": f"c{s}",
                        "container": f"svc{s:02d}-1",
                        "image": f"svc{s:02d}:1",
                        "cpu_cores": cpu,
                        "mem_working_set": mem.astype(np.int64),
                        "mem_rss": (mem * 0.8).astype(np.int64),
                        "mem_peak": (mem * 1.03).astype(np.int64),
                        "pids": rng.integers(5, 60, per_day).astype(np.int32),
                        "mem_limit": int(limit[s]),
                        "cpu_limit": 2.0,
                        "oom_kills": kills,
                        "restarts": kills,
                    }
                )
            )
        append(root, to_table(pd.concat(rows, ignore_index=True)), host="bench")
        if events:
            append(root, to_table(events, "events"), "events", host="bench")
    marker.touch()
    return root


def timed(label: str, fn: Callable[[], Path]) -> tuple[float, Path]:
    """Wall time (the target) and CPU time of this process (steadier on a shared machine)."""
    gc.collect()
    t0, c0 = time.perf_counter(), time.process_time()
    path = fn()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"{label:<34} {seconds:7.1f} s  {cpu:7.1f} s  {path.stat().st_size / 1e6:8.1f} MB")
    return seconds, path


def peaks_shown(ds: Path, buckets: int) -> tuple[float, float]:
    """Share of (service, day) working-set maxima that the plotted points show: a drawn point
    within one bucket's width of the day's peak reaching 99% of it; the page's min/max grid vs
    taking every k-th sample for the same number of points."""
    from rightsize.report.downsample import grid_envelope  # here: the baseline's child lacks it

    frame = load(ds, columns=["ts", "workload", "mem_working_set"])
    shown_env = shown_stride = total = 0
    for _, g in frame.groupby("workload", sort=False):
        t = g["ts"].to_numpy(dtype="datetime64[ms]").astype(np.int64).astype(float)
        v = g["mem_working_set"].to_numpy(dtype=float)
        k = max(1, len(v) // (2 * buckets))
        span = t[-1] - t[0]  # the page's grid: point i at t0 + (i + 0.5) * span / (2 * buckets)
        grid = t[0] + (np.arange(2 * buckets) + 0.5) * span / (2 * buckets)
        env = grid_envelope(t, v, t[0], span, buckets)
        day = ((t - t[0]) // 86_400_000).astype(int)
        for d in np.unique(day):
            i = np.flatnonzero(day == d)
            peak_at, peak = t[i][np.argmax(v[i])], v[i].max()
            total += 1
            shown_env += _near(grid, env, peak_at, peak, span / buckets)
            shown_stride += _near(t[::k], v[::k], peak_at, peak, span / buckets)
    return shown_env / total, shown_stride / total


def _near(x: np.ndarray, y: np.ndarray, at: float, peak: float, width: float) -> bool:
    close = np.abs(x - at) <= width
    return bool(close.any() and np.nanmax(y[close], initial=-np.inf) >= 0.99 * peak)


def child(data: Path, out: Path | None) -> None:
    """One contender in this (fresh) process: recommend, then (``out``) the rest of the report with
    those recommendations, as ``rightsize report`` does. Prints wall, CPU and the peak RSS of each
    step as JSON: the kernel's high-water mark (VmHWM), reset between the steps."""
    from rightsize.analysis.recommend import recommend

    t0, c0 = time.perf_counter(), time.process_time()
    recs = recommend(data)
    result: dict[str, object] = {"recommend_wall": time.perf_counter() - t0, "recommend_rss": _hwm()}
    if out is not None:
        # what the report does first (recommend's freed Arrow buffers back), before the mark is reset
        pyarrow.default_memory_pool().release_unused()
        gc.collect()
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        t1, base = time.perf_counter(), _hwm()
        report(data, out=out, recommendations=recs)
        result.update(report_wall=time.perf_counter() - t1, report_rss=_hwm(), report_base=base)
    result.update(wall=time.perf_counter() - t0, cpu=time.process_time() - c0)
    result["module"] = str(Path(sys.modules["rightsize"].__file__ or "").parent)
    print(json.dumps(result))


def _hwm() -> int:
    line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def baseline_tree(rev: str | None) -> tuple[str, Path]:
    """The package as it was before the compact page (the parent of the commit that added
    report/pack.py, or ``rev``), unpacked with ``git archive`` (no worktree, no checkout)."""
    repo = Path(__file__).resolve().parents[1]
    git = ["git", "-C", str(repo)]
    if rev is None:
        log = [*git, "log", "--diff-filter=A", "--format=%H", "--", "rightsize/report/pack.py"]
        added = subprocess.run(log, check=True, capture_output=True, text=True).stdout.split()
        rev = f"{added[-1]}~1"
    sha = subprocess.run([*git, "rev-parse", "--short", rev], check=True, capture_output=True, text=True)
    tree = Path(f"/tmp/rightsize-report-baseline-{sha.stdout.strip()}")
    if not (tree / "rightsize").is_dir():
        tree.mkdir(parents=True, exist_ok=True)
        tar = subprocess.run([*git, "archive", rev, "rightsize"], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=tar, check=True)
    return sha.stdout.strip(), tree


def run_child(data: Path, out: Path | None, tree: Path | None = None) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(tree)) if tree else None
    args = [sys.executable, __file__, "--child", str(data), str(out or "-")]
    run = subprocess.run(args, capture_output=True, text=True, env=env)
    if run.returncode:
        sys.exit(f"{' '.join(args)} failed:\n{run.stderr}")
    result: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


def open_in_chromium(path: Path) -> tuple[float, float] | None:
    """(seconds to the load event, seconds to the first usage chart drawn) in headless Chromium."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    with sync_playwright() as pw:
        flags = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=flags)
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        t0 = time.perf_counter()
        page.goto(path.as_uri(), wait_until="load", timeout=300_000)
        loaded = time.perf_counter() - t0
        page.locator("div.plot.usage").first.scroll_into_view_if_needed()
        page.wait_for_function("() => document.querySelector('div.plot.usage .main-svg') !== null",
                               polling=20, timeout=300_000)  # fmt: skip
        drawn = time.perf_counter() - t0
        browser.close()
    return loaded, drawn


def trace(data: Path, rev: str | None, chromium: bool) -> None:
    out = Path("/tmp/rightsize-report-trace")
    out.mkdir(exist_ok=True)
    sha, tree = baseline_tree(rev)
    print(f"report on {data}, each in a fresh process; baseline: rightsize at {sha}, before the compact page")
    alone = run_child(data, None)
    print(f"recommend alone: {alone['wall']:.1f} s wall, peak RSS {alone['recommend_rss'] / 1e9:.2f} GB")
    print("peak RSS: of recommend; of the rest of the report (from the RSS left after recommend)")
    head = f"{'':<28} {'wall':>7} {'cpu':>7} {'recommend':>10} {'the rest':>22} {'page':>9}"
    print(head + ("  Chromium: load / first chart" if chromium else ""))
    for label, which, where in (("ours", "ours", None), (f"baseline ({sha})", "baseline", tree)):
        path = out / f"{which}.html"
        m = run_child(data, path, where)
        assert (where is None) == (m["module"] == str(Path(__file__).resolve().parents[1] / "rightsize")), m
        line = (f"{label:<28} {m['wall']:6.1f}s {m['cpu']:6.1f}s {m['recommend_rss'] / 1e9:7.2f} GB "
                f"{m['report_rss'] / 1e9:7.2f} GB (from {m['report_base'] / 1e9:4.2f} GB) "
                f"{path.stat().st_size / 2**20:5.1f} MiB")  # fmt: skip
        opened = open_in_chromium(path) if chromium else None
        print(line + (f"  {opened[0]:5.1f} s / {opened[1]:4.1f} s" if opened else ""))


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        warnings.simplefilter("ignore")
        return child(Path(sys.argv[2]), None if sys.argv[3] == "-" else Path(sys.argv[3]))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--services", type=int, default=50)
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--interval", type=int, default=10)
    ap.add_argument("--root", default="/tmp/rightsize-report-bench")
    ap.add_argument("--skip-full", action="store_true", help="skip the no-downsampling baseline")
    ap.add_argument("--trace", type=Path, help="an imported dataset: ours beside the baseline revision")
    ap.add_argument("--baseline-rev", help="git revision of the baseline (default: before report/pack.py)")
    ap.add_argument("--chromium", action="store_true", help="also time opening both pages in Chromium")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    if args.trace:
        return trace(args.trace, args.baseline_rev, args.chromium)
    ds = Path(args.root) / f"{args.services}x{args.days}d-{args.interval}s"
    t0 = time.perf_counter()
    generate(ds, args.services, args.days, args.interval)
    n = args.services * args.days * 86400 // args.interval
    print(
        f"dataset: {args.services} services x {args.days} days at {args.interval} s = {n:,} samples "
        f"({time.perf_counter() - t0:.1f} s to generate or find) in {ds}"
    )
    out = ds.parent / "out"
    out.mkdir(exist_ok=True)
    print(f"{'':<34} {'wall':>9}  {'cpu':>9}  {'size':>11}")
    sha, tree = baseline_tree(args.baseline_rev)
    for label, name, where in (("ours (default min/max buckets)", "ours", None),
                               (f"baseline: page before, at {sha}", "before", tree)):  # fmt: skip
        m = run_child(ds, out / f"{name}.html", where)  # each in a fresh process
        size = (out / f"{name}.html").stat().st_size
        print(f"{label:<34} {m['wall']:7.1f} s  {m['cpu']:7.1f} s  {size / 1e6:8.1f} MB")
        if where is None:
            verdict = "OK" if m["wall"] <= 15 and size <= 10e6 else "OVER TARGET"
            print(f"{'':<34} target <= 15 s, <= 10 MB: {verdict}")
    if not args.skip_full:
        timed("baseline: no downsampling", lambda: report(ds, out=out / "full.html", buckets=10**7))
    env, stride = peaks_shown(ds, 500)
    print(
        f"daily working-set peaks drawn (99%, within a bucket of their time) at 1,000 points/series: "
        f"min/max grid {env:.0%}, stride (every k-th sample) {stride:.0%}"
    )


if __name__ == "__main__":
    main()
