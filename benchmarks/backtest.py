"""Backtest benchmark on the real Bitbrains Rnd trace: quality table and speed, baselines in the same run.

    python benchmarks/backtest.py [--trace ../shared/traces/bitbrains-rnd.parquet] [--data DIR] [--frontier]

1. Imports the trace (only ``provisioned`` rows) into DIR once (``rightsize import``), timed.
2. Backtests default, krr, vpa and ``current`` (the trace's own hand-provisioned limits) with
   ``--train 14d --test 7d --every 7d``: the quality baselines are krr, vpa and current.
3. Speed baseline: the obvious pandas implementation (boolean masks on each workload's frame for
   every window) for the same strategy calls on the first 40 workloads, per window beside ours.
4. ``--frontier``: the default strategy at other headroom settings (the overrun/memory trade-off),
   and how predictable next week's peak is; ``--holdout``: the headroom chosen on half the VMs,
   scored on the other half.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd

from rightsize.analysis.backtest import backtest, format_table
from rightsize.analysis.history import History
from rightsize.analysis.strategies import get_strategy
from rightsize.importer import import_trace, parse_mapping
from rightsize.store import load

MAP = "workload=container_id,ts=ts,cpu_cores=cpu,mem_working_set=mem,mem_limit=mem_limit,cpu_limit=cpu_limit"
DAY = 86_400_000
FRONTIER = (
    {"mem_headroom_ref": "0", "mem_cap_current": "0", "mem_raise_max": "10"},
    {"mem_headroom_ref": "0"},
    {"mem_headroom_ref": "1G"},
    {"mem_headroom_ref": "4G"},
    {"mem_headroom_ref": "8G"},
    {"mem_headroom_ref": "12G", "mem_cap_current": "0", "mem_raise_max": "10"},
    {"mem_headroom_ref": "12G", "mem_raise_max": "10"},
    {"mem_headroom_ref": "16G"},
)


def naive_seconds_per_window(data: Path, workloads: int) -> tuple[float, int]:
    """Per-window cost of the straightforward pandas way: mask the frame for every window."""
    frame = load(data, columns=["ts", "workload", "mem_working_set", "cpu_cores", "mem_limit", "cpu_limit"])
    names = sorted(frame["workload"].unique())[:workloads]
    strat = get_strategy("krr")
    t0, n = time.perf_counter(), 0
    for name in names:
        w = frame[frame["workload"] == name]
        ts = pd.DatetimeIndex(w["ts"]).as_unit("ms").asi8
        start = ts[0]
        while start + 21 * DAY <= ts[-1]:
            train = w[(ts >= start) & (ts < start + 14 * DAY)]
            test = w[(ts >= start + 14 * DAY) & (ts < start + 21 * DAY)]
            tts = pd.DatetimeIndex(train["ts"]).as_unit("ms").asi8
            nan = np.full(len(train), np.nan)
            mem, cores = train["mem_working_set"].to_numpy(float), train["cpu_cores"].to_numpy(float)
            h = History(name, tts, mem, nan, cores, nan, nan)
            rec = strat.recommend(h)[0]
            if rec.recommended is not None and rec.recommended.limit is not None and len(test):
                used = test["mem_working_set"].to_numpy(float)
                _ = (
                    (used > rec.recommended.limit).any(),
                    ((rec.recommended.limit - used) / rec.recommended.limit).mean(),
                )
            n += 1
            start += 7 * DAY
    return (time.perf_counter() - t0) / max(n, 1), n


def bounds(data: Path) -> None:
    """How predictable next week's peak is from the last two weeks' (the README's evidence)."""
    from rightsize.analysis.backtest import windows
    from rightsize.analysis.series import load_series

    rows = []
    for s in load_series(data):
        mem = s["mem_working_set"]
        for w in windows(s.ts, 14 * DAY, 7 * DAY, 7 * DAY):
            train, test = mem[w.train_lo : w.train_hi], mem[w.test_lo : w.test_hi]
            train, test = train[~np.isnan(train)], test[~np.isnan(test)]
            if len(train) >= 100 and len(test) and train.max() > 0:
                rows.append((s.workload, train.max(), test.max(), test.mean()))
    f = pd.DataFrame(rows, columns=["w", "train_max", "test_max", "test_mean"])
    ratio = f["test_max"] / f["train_max"]
    used = f["test_mean"].sum()
    per_workload = ratio.groupby(f["w"]).transform("max").clip(lower=1.0)
    print(f"\nnext week's peak / last two weeks' peak over {len(f)} workload-weeks:")
    print(f"  > 1.15x in {np.mean(ratio > 1.15):.1%}, >= 2.5x in {np.mean(ratio >= 2.5):.1%}")
    print(
        f"  perfect foresight (limit = the week's own peak): {f['test_max'].sum() / used:.2f}x allocated/used"
    )
    print(
        "  hindsight margin per workload (smallest multiple of the 14-day peak that never overran): "
        f"{(f['train_max'] * per_workload).sum() / used:.2f}x, 0 overruns"
    )


def holdout(data: Path) -> None:
    """Choose mem_headroom_ref on the VMs with an odd number, score it on the even ones, and back."""
    halves = {"odd": "*1,*3,*5,*7,*9", "even": "*0,*2,*4,*6,*8"}
    for tune, test in (("odd", "even"), ("even", "odd")):
        tried = []
        for ref in ("6G", "8G", "10G", "12G", "14G", "16G"):
            ov = {"default": {"mem_headroom_ref": ref}}
            res = backtest(data, strategies="default", overrides=ov, workloads=halves[tune])
            sc = res.strategies["default"]
            tried.append((ref, sc.mem_overrun_share or 0.0, sc.mem_alloc_ratio or 0.0))
        ok = [t for t in tried if t[1] <= 0.01] or tried[-1:]
        ref, share, ratio = min(ok, key=lambda t: t[2])
        r = backtest(data, strategies="default,krr,current", overrides={"default": {"mem_headroom_ref": ref}},
                     workloads=halves[test]).strategies  # fmt: skip
        print(
            f"tuned on {tune} VMs: mem_headroom_ref={ref} ({share:.2%}, {ratio:.2f}x there); on {test} VMs: "
            + ", ".join(f"{n} {sc.mem_overrun_share:.2%} / {sc.mem_alloc_ratio:.2f}x" for n, sc in r.items())
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    here = Path(__file__).resolve().parents[1]
    ap.add_argument("--trace", default=str(here.parent / "shared" / "traces" / "bitbrains-rnd.parquet"))
    ap.add_argument("--data", default="/tmp/rightsize-bench-bitbrains")
    ap.add_argument("--frontier", action="store_true")
    ap.add_argument("--holdout", action="store_true", help="tune on odd VMs, score on even ones, and back")
    args = ap.parse_args()
    data = Path(args.data)
    if not (data / "samples").is_dir():
        t0 = time.perf_counter()
        rows = import_trace(args.trace, parse_mapping(MAP), data, where="provisioned", host="bitbrains")
        print(f"import: {rows:,} rows in {time.perf_counter() - t0:.1f} s wall")

    wall, cpu = time.perf_counter(), time.process_time()
    result = backtest(data, train="14d", test="7d", every="7d", strategies="default,krr,vpa,current")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(format_table(result))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    windows = sum(s.windows for n, s in result.strategies.items() if n != "current")
    print(
        f"\nbacktest: {wall:.1f} s wall, {cpu:.1f} s CPU, peak RSS {rss:.0f} MiB; {windows} strategy-windows"
    )
    print(f"ours:  {cpu / windows * 1000:.2f} ms CPU per strategy-window (load + sort + fit + score)")
    per, n = naive_seconds_per_window(data, 40)
    print(
        f"naive: {per * 1000:.2f} ms per window (pandas masks per window, {n} windows of 40 workloads, krr)"
    )

    if args.holdout:
        holdout(data)
    if args.frontier:
        bounds(data)
        print("\ndefault at other settings (--set NAME=VALUE):")
        for ov in FRONTIER:
            sc = backtest(data, strategies="default", overrides={"default": ov}).strategies["default"]
            label = ",".join(f"{k}={v}" for k, v in ov.items())
            print(
                f"  {label:40s} overruns {sc.mem_overrun_share:.2%} ({sc.mem_overruns})  "
                f"alloc/used {sc.mem_alloc_ratio:.2f}x"
            )


if __name__ == "__main__":
    main()
