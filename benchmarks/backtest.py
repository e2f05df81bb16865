"""Backtest benchmark on the real Bitbrains Rnd trace: quality table and speed, baselines in the same run.

    python benchmarks/backtest.py [--trace ../shared/traces/bitbrains-rnd.parquet] [--data DIR] [--frontier]
                                  [--holdout]

1. Imports the trace (only ``provisioned`` rows) into DIR once (``rightsize import``), timed.
2. Backtests default, safe, krr, vpa and ``current`` (the trace's own hand-provisioned limits) with
   ``--train 14d --test 7d --every 7d``: the quality baselines are krr, vpa and current.
3. Speed baseline: the obvious pandas implementation (boolean masks on each workload's frame for
   every window) for the same strategy calls on the first 40 workloads, per window beside ours.
4. ``--frontier``: the default strategy at other headroom settings (the overrun/memory trade-off),
   how predictable next week's peak is, and the best lookup table of peak multiples fitted in
   hindsight; ``--holdout``: the headroom of default and safe chosen on half the VMs, scored on the
   other half.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd

from rightsize.analysis.backtest import BacktestResult, backtest, format_table
from rightsize.analysis.history import History
from rightsize.analysis.strategies import get_strategy
from rightsize.ingest.importer import import_trace, parse_mapping
from rightsize.store import load

MAP = "workload=container_id,ts=ts,cpu_cores=cpu,mem_working_set=mem,mem_limit=mem_limit,cpu_limit=cpu_limit"
# the same trace as a stack that never set limits: no current-limit ceiling, no ``current`` baseline
MAP_NO_LIMITS = "workload=container_id,ts=ts,cpu_cores=cpu,mem_working_set=mem"
DAY = 86_400_000
FRONTIER = (
    {"mem_margin": "0.15", "mem_headroom_ref": "0", "mem_cap_current": "0", "mem_raise_max": "10"},
    {"mem_headroom_ref": "0"},
    {"mem_headroom_ref": "32M"},
    {"mem_headroom_ref": "64M"},
    {"mem_headroom_ref": "96M"},
    {"mem_headroom_ref": "128M"},
    {"mem_headroom_ref": "512M"},
    {"mem_margin": "0.15", "mem_headroom_ref": "1G"},
    {"mem_margin": "0.15", "mem_headroom_ref": "4G"},
    {"mem_margin": "0.15", "mem_headroom_ref": "12G"},
    {"mem_margin": "0.15", "mem_headroom_ref": "12G", "mem_cap_current": "0", "mem_raise_max": "10"},
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


def _weeks(data: Path) -> pd.DataFrame:
    """Per workload-week (the backtest's own windows): the 14-day peak and mean, next week's peak and mean."""
    from rightsize.analysis.backtest import windows
    from rightsize.analysis.series import load_series

    rows = []
    for s in load_series(data):
        mem, lim = s["mem_working_set"], s["mem_limit"]
        for w in windows(s.ts, 14 * DAY, 7 * DAY, 7 * DAY):
            train, test = mem[w.train_lo : w.train_hi], mem[w.test_lo : w.test_hi]
            train, test = train[~np.isnan(train)], test[~np.isnan(test)]
            current = lim[w.train_hi - 1] if w.train_hi > 0 else np.nan  # the limit at the test's start
            if len(train) >= 100 and len(test) and train.max() > 0:
                past_max = np.nanmax(mem[: w.train_hi])  # every week before the test, not the last two
                rows.append(
                    (s.workload, train.max(), train.mean(), test.max(), test.mean(), current, past_max)
                )
    cols = ["w", "train_max", "train_mean", "test_max", "test_mean", "current", "past_max"]
    return pd.DataFrame(rows, columns=cols)


def hindsight_table(
    f: pd.DataFrame, groups: pd.Series, cap: bool = False, base: str = "train_max"
) -> list[tuple[float, float]]:
    """The best possible lookup-table rule, fitted on the answers: one multiple of ``base`` per group,
    chosen knowing every test week (Lagrangian: fewest overruns for the memory). Returns the
    (allocated/used, overrun share) frontier. No rule computed from these groups can do better.
    ``base`` = "train_max" (the 14-day peak), "past_max" (the peak of all earlier weeks) or "one"
    (one fixed limit per group). ``cap``: each
    limit also kept <= max(current limit, 14-day peak), as ``default`` does.

    The candidate multiples are exact: every ratio test peak / base in the group (the only points
    where the overrun count changes), so the frontier is exact, not a grid's approximation."""
    used, n = f["test_mean"].sum(), len(f)
    tables = []
    for _, g in f.groupby(groups):
        b = g[base].to_numpy() if base != "one" else np.ones(len(g))
        need = g["test_max"].to_numpy()
        top = np.fmax(g["current"].fillna(np.inf).to_numpy(), g["train_max"].to_numpy()) if cap else np.inf
        floor = 1.0 if base != "one" else float(g["train_max"].max())  # never below seen usage
        multiples = np.unique(np.concatenate([np.maximum(need / b, floor), [floor]]))
        limits = np.minimum(np.outer(multiples, b), top)  # one row per candidate multiple
        cost = limits.sum(axis=1)
        # the tolerance: (need / b) * b can round to just below need
        tables.append((cost, (need[None, :] > limits * (1 + 1e-9)).sum(axis=1)))
    out = []
    for lam in np.logspace(-24, -5, 1000):
        picks = [int(np.argmin(over + lam * cost)) for cost, over in tables]
        alloc = sum(cost[i] for (cost, _), i in zip(tables, picks, strict=True))
        overs = sum(over[i] for (_, over), i in zip(tables, picks, strict=True))
        out.append((alloc / used, overs / n))
    return out


def bounds(data: Path, krr_alloc: float) -> None:
    """How predictable next week's peak is from the last two weeks' (docs/backtest.md's evidence)."""
    f = _weeks(data)
    ratio = f["test_max"] / f["train_max"]
    used = f["test_mean"].sum()
    print(f"\nnext week's peak / last two weeks' peak over {len(f)} workload-weeks:")
    print(f"  > 1.15x in {np.mean(ratio > 1.15):.1%}, >= 2.5x in {np.mean(ratio >= 2.5):.1%}")
    print(
        f"  perfect foresight (limit = the week's own peak): {f['test_max'].sum() / used:.2f}x allocated/used"
    )
    rank = f.rank(method="first")
    size = pd.qcut(rank["train_max"], 25, labels=False)
    flat = pd.qcut((f["train_mean"] / f["train_max"]).rank(method="first"), 6, labels=False)
    both = pd.qcut(rank["train_max"], 8, labels=False) * 10 + flat
    workload = f["w"]
    for label, groups, cap, base in (
        ("one multiple of the 14-day peak per size class (25)", size, False, "train_max"),
        ("... per size x flatness class (48)", both, False, "train_max"),
        ("... per size class, current-limit ceiling", size, True, "train_max"),
        ("... per size x flatness class, current-limit ceiling", both, True, "train_max"),
        ("... per workload (one per VM)", workload, False, "train_max"),
        ("... per workload, current-limit ceiling", workload, True, "train_max"),
        ("one fixed limit per workload for all its weeks", workload, False, "one"),
        ("one multiple of the all-history peak per size class", size, False, "past_max"),
        ("... the same, current-limit ceiling", size, True, "past_max"),
    ):
        front = hindsight_table(f, groups, cap, base)
        at_krr = min((o for a, o in front if a <= krr_alloc), default=None)
        one = min((a for a, o in front if o <= 0.01), default=None)
        best = f"at best {at_krr:.2%} overruns" if at_krr is not None else "none is that cheap"
        need = f"needs {one:.2f}x" if one is not None else "is out of reach"
        print(f"  hindsight, {label}: at krr's {krr_alloc:.2f}x {best}; <= 1 % overruns {need}")


def holdout(data: Path, bare: Path) -> None:
    """Choose mem_headroom_ref on the VMs with an odd number, score it on the even ones, and back:
    for ``default`` the most headroom at no more memory than krr, with the trace's limits and
    without them (``bare``); for ``safe`` the least memory with <= 1 % overruns."""
    halves = {"odd": "*1,*3,*5,*7,*9", "even": "*0,*2,*4,*6,*8"}
    goals = {
        "default": ("32M", "64M", "96M", "128M", "192M", "256M"),
        "safe": ("6G", "8G", "10G", "12G", "14G", "16G"),
    }
    for name, refs in goals.items():
        sets = (data, bare) if name == "default" else (data,)
        for tune, test in (("odd", "even"), ("even", "odd")):
            tried = []
            for ref in refs:
                ov = {name: {"mem_headroom_ref": ref}}
                scores = []
                for d in sets:
                    r = backtest(d, strategies=f"{name},krr", overrides=ov, workloads=halves[tune])
                    sc, base = r.strategies[name], r.strategies["krr"]
                    scores.append(
                        (sc.mem_overrun_share or 0.0, sc.mem_alloc_ratio or 0.0, base.mem_alloc_ratio)
                    )
                cheap = all(ratio <= (limit or 0.0) for _, ratio, limit in scores)
                tried.append((ref, scores[0][0], scores[0][1], cheap))
            if name == "default":  # fewest overruns at no more memory than krr, with and without limits
                ok = [t for t in tried if t[3]] or tried[:1]
                ref, share, ratio, _ = min(ok, key=lambda t: t[1])
            else:  # least memory at <= 1 % overruns
                ok = [t for t in tried if t[1] <= 0.01] or tried[-1:]
                ref, share, ratio, _ = min(ok, key=lambda t: t[2])
            ov = {name: {"mem_headroom_ref": ref}}
            for d in sets:
                what = f"{name},krr,vpa" + (",current" if d == data else "")
                r = backtest(d, strategies=what, overrides=ov, workloads=halves[test])
                print(
                    f"{name} tuned on {tune} VMs: mem_headroom_ref={ref} ({share:.2%}, {ratio:.2f}x there); "
                    f"on {test} VMs{'' if d == data else ' without limits'}: "
                    + ", ".join(
                        f"{n} {sc.mem_overrun_share:.2%} / {sc.mem_alloc_ratio:.2f}x"
                        for n, sc in r.strategies.items()
                    )
                )


def first_overruns(result: BacktestResult) -> None:
    """Overruns that were a workload's first: no feedback after a kill can prevent those."""
    print("\nworkloads overrun at least once (a feedback that stopped every repeat would leave this share):")
    for name, sc in result.strategies.items():
        hit = sum(1 for w in result.workloads if name in w.scores and w.scores[name].mem_overruns > 0)
        share = hit / sc.windows if sc.windows else float("nan")
        n = len(result.workloads)
        print(f"  {name:8s} {hit:4d} of {n} workloads = {share:.2%} of {sc.windows} windows")


def main() -> None:
    ap = argparse.ArgumentParser()
    here = Path(__file__).resolve().parents[1]
    ap.add_argument("--trace", default=str(here.parent / "shared" / "traces" / "bitbrains-rnd.parquet"))
    ap.add_argument("--data", default="/tmp/rightsize-bench-bitbrains")
    ap.add_argument("--frontier", action="store_true")
    ap.add_argument("--holdout", action="store_true", help="tune on odd VMs, score on even ones, and back")
    args = ap.parse_args()
    data = Path(args.data)
    bare = data.with_name(data.name + "-nolimits")
    for folder, mapping in ((data, MAP), (bare, MAP_NO_LIMITS)):
        if not (folder / "samples").is_dir():
            t0 = time.perf_counter()
            rows = import_trace(
                args.trace, parse_mapping(mapping), folder, where="provisioned", host="bitbrains"
            )
            print(f"import into {folder}: {rows:,} rows in {time.perf_counter() - t0:.1f} s wall")

    wall, cpu = time.perf_counter(), time.process_time()
    result = backtest(data, train="14d", test="7d", every="7d", strategies="default,safe,krr,vpa,p95,current")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(format_table(result))
    first_overruns(result)
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

    print("\nthe same trace without its limits (a stack that never set any):")
    print(format_table(backtest(bare, strategies="default,safe,krr,vpa,p95")))

    if args.holdout:
        holdout(data, bare)
    if args.frontier:
        bounds(data, result.strategies["krr"].mem_alloc_ratio or float("nan"))
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
