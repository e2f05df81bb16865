"""Benchmark: the HTML report for 50 services x 14 days at 10 s (6,048,000 samples).

Target (issue 6): file <= 10 MB, written in <= 15 s. Measured in the same run:

- ours: ``rightsize.report`` (recommend + load + min/max envelope per bucket + page), end to end;
- baseline "no downsampling": the same page with every sample plotted (buckets larger than the
  history), i.e. what plotting the raw frames gives;
- baseline "stride": the naive way to fit the same point budget (every k-th sample), scored on
  how many of each series' true peaks it still shows, against the envelope's.

Run:  python3 benchmarks/report.py            (generates the seeded dataset under /tmp once)
      python3 benchmarks/report.py --services 10 --days 3     (smaller, quicker)

``--trace DIR`` instead: the report on an imported dataset (the 500-VM Bitbrains trace:
``benchmarks/backtest.py`` imports it to /tmp/rightsize-bench-bitbrains), ours beside the previous
way of reading the chart rows (one Arrow table of every row, split per workload with every column
as float64: ``frames.read_arrow`` + ``frames.split_arrow``), each in a fresh process (peak RSS),
and whether the two pages are the same bytes.

      python3 benchmarks/report.py --trace /tmp/rightsize-bench-bitbrains
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import resource
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from rightsize.report.downsample import minmax_envelope
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
    """Share of (service, day) working-set maxima that the plotted points show (within 1%):
    the min/max envelope vs taking every k-th sample for the same number of points."""
    frame = load(ds, columns=["ts", "workload", "mem_working_set"])
    shown_env = shown_stride = total = 0
    for _, g in frame.groupby("workload", sort=False):
        t = g["ts"].to_numpy(dtype="datetime64[ms]").astype(np.int64).astype(float)
        v = g["mem_working_set"].to_numpy(dtype=float)
        k = max(1, len(v) // (2 * buckets))
        truth = _daily_max(t, v, t[0])
        env = _daily_max(*minmax_envelope(t, v, buckets), t[0])
        stride = _daily_max(t[::k], v[::k], t[0])
        total += len(truth)
        shown_env += int((env.reindex(truth.index) >= 0.99 * truth).sum())
        shown_stride += int((stride.reindex(truth.index) >= 0.99 * truth).sum())
    return shown_env / total, shown_stride / total


def _daily_max(t: np.ndarray, v: np.ndarray, t0: float) -> pd.Series:
    return pd.Series(v).groupby(((t - t0) // 86_400_000).astype(int)).max()


def previous_report(data: Path, out: Path) -> Path:
    """The report as written before reading file by file: the whole table, then split."""
    from rightsize.analysis.recommend import recommend
    from rightsize.analysis.strategies import get_strategy
    from rightsize.report import charts, frames
    from rightsize.report.html import META_COLUMNS, build_page, write_atomic
    from rightsize.store import events_beside

    recs = recommend(data)
    table, about, _ = frames.read_arrow(data, sorted(set(charts.COLUMNS) | set(META_COLUMNS)), None)
    samples, about = frames.split_arrow(table, about)
    settings = get_strategy("default", None).describe()
    page = build_page(recs, samples, events_beside(data), source=str(data), about=about, settings=settings)
    return write_atomic(out, page)


def child(which: str, data: Path, out: Path) -> None:
    """One contender in this (fresh) process: prints wall, CPU and peak RSS as JSON."""
    t0, c0 = time.perf_counter(), time.process_time()
    if which == "ours":
        report(data, out=out)
    else:
        previous_report(data, out)
    print(json.dumps({"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0,
                      "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))  # fmt: skip


def trace(data: Path) -> None:
    out = Path("/tmp/rightsize-report-trace")
    out.mkdir(exist_ok=True)
    print(f"report on {data}, each in a fresh process")
    print(f"{'':<44} {'wall':>8} {'cpu':>8} {'peak RSS':>10} {'page':>9}")
    pages = {}
    for which, label in (("ours", "ours (file by file)"), ("previous", "baseline: whole table, then split")):
        path = out / f"{which}.html"
        run = subprocess.run([sys.executable, __file__, "--child", which, str(data), str(path)],
                             check=True, capture_output=True, text=True)  # fmt: skip
        m = json.loads(run.stdout.strip().splitlines()[-1])
        print(f"{label:<44} {m['wall']:7.1f}s {m['cpu']:7.1f}s {m['rss'] / 1e9:8.2f} GB "
              f"{path.stat().st_size / 2**20:6.1f} MiB")  # fmt: skip
        pages[which] = re.sub(r"generated [^<]*UTC", "", path.read_text())
    print(f"same page (but for the generation time): {pages['ours'] == pages['previous']}")


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        warnings.simplefilter("ignore")
        return child(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--services", type=int, default=50)
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--interval", type=int, default=10)
    ap.add_argument("--root", default="/tmp/rightsize-report-bench")
    ap.add_argument("--skip-full", action="store_true", help="skip the no-downsampling baseline")
    ap.add_argument("--trace", type=Path, help="an imported dataset: ours beside the previous reading")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    if args.trace:
        return trace(args.trace)
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
    ours, path = timed("ours (500 min/max buckets)", lambda: report(ds, out=out / "ours.html"))
    verdict = "OK" if ours <= 15 and path.stat().st_size <= 10e6 else "OVER TARGET"
    print(f"{'':<34} target <= 15 s, <= 10 MB: {verdict}")
    if not args.skip_full:
        timed("baseline: no downsampling", lambda: report(ds, out=out / "full.html", buckets=10**7))
    env, stride = peaks_shown(ds, 500)
    print(
        f"daily working-set peaks visible at 1,000 points/series: min/max envelope {env:.0%}, "
        f"stride (every k-th sample) {stride:.0%}"
    )


if __name__ == "__main__":
    main()
