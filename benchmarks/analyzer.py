"""Analyzer benchmark: ``recommend()`` over a large dataset vs DuckDB and pandas, same files, same run.

    python benchmarks/make_analyzer_data.py --rows 100000000 --out /tmp/rightsize-bench   # ~2 GB
    python benchmarks/analyzer.py --data /tmp/rightsize-bench --rounds 3 [--threads 2] [--no-pandas]

Each contender runs in its own fresh Python process (so peak RSS is its own): wall time and peak
RSS (ru_maxrss). rightsize and DuckDB compute the same per-workload numbers: count, first/last
timestamp, p50/p90/p95/p99/max of memory working set, kernel peaks (mem_peak), CPU cores and
PIDs, the same percentiles of the daily memory peaks, mean throttling and the latest limits
(linear interpolation: DuckDB ``quantile_cont``); rightsize also runs the strategy chain. pandas
computes only the four metrics' percentiles. Every percentile of every workload is compared with
DuckDB's: they must agree exactly (up to float rounding).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

QS = [0.5, 0.9, 0.95, 0.99]
COLS = {"mem_working_set": "memory", "cpu_cores": "cpu", "pids": "pids", "mem_peak": "peak"}

PRELUDE = """
import json, resource, sys, time
import numpy as np
t0 = time.perf_counter()
"""
EPILOGUE = """
ru, rc = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = ru.ru_utime + ru.ru_stime + rc.ru_utime + rc.ru_stime
rss = (ru.ru_maxrss + rc.ru_maxrss) / 1024  # a second scanner process counts too (sum of peaks)
out = {"wall": wall, "cpu": cpu, "rss_mb": rss, "rows": rows, "result": result}
json.dump(out, open(sys.argv[1], "w"))
"""

RIGHTSIZE = """
import warnings
import rightsize.analysis.scan as scan
from rightsize import recommend
profiles = []
def keep(*args, _scan=scan.scan_profiles, **kwargs):  # the profiles too, to compare peaks (no copy)
    out = _scan(*args, **kwargs)
    profiles.extend(out)
    return out
scan.scan_profiles = keep
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    recs = recommend(DATA)
wall = time.perf_counter() - t0
result = {}
for p in profiles:
    result[p.workload] = {
        name: [d.q.get(q) for q in (*QS, 1.0)] if d.n else [None] * (len(QS) + 1)
        for name, d in (("memory", p.mem), ("cpu", p.cpu), ("pids", p.pids), ("peak", p.mem_peaks),
                        ("daily", p.daily_mem_peaks))
    }
rows = sum(p.samples for p in profiles)
assert len(recs) == 3 * len(profiles)
"""

# The same per-workload numbers a Profile holds, in one SQL statement: count, first/last ts,
# p50/p90/p95/p99/max of memory, kernel peaks, CPU and PIDs, percentiles of the daily memory
# peaks, mean throttling (0..1 only), the limits of the latest row and the counters' maxima.
# Tuned for DuckDB: days as epoch_ms(ts) // 86400000 (time_bucket on a timestamptz was 9x slower
# here), and no FILTER (WHERE x >= 0) on the quantiles (+35 % time; the generated data holds no
# negative values, so the results are the same as rightsize's, which drops negatives).
DUCKDB = """
import duckdb
con = duckdb.connect()
con.execute(f"SET threads={THREADS}")
src = f"read_parquet('{DATA}/samples/**/*.parquet', hive_partitioning = false)"
sel = ", ".join(f"quantile_cont({c}, {QS}) AS {c}_q, max({c}) AS {c}_max" for c in COLS)
LIMITS = ("mem_reservation", "mem_limit", "cpu_limit", "pids_limit")
lims = ", ".join(f"arg_max({c}, ts) AS {c}" for c in LIMITS)
q = f\"\"\"
WITH days AS (
  SELECT workload, max(mem_working_set) AS peak FROM {src}
  GROUP BY workload, epoch_ms(ts) // 86400000
), daily AS (
  SELECT workload, quantile_cont(peak, {QS}) AS daily_q, max(peak) AS daily_max FROM days GROUP BY workload
), main AS (
  SELECT workload, count(*) AS n, min(ts), max(ts), {sel}, {lims},
    avg(cpu_throttled) FILTER (WHERE cpu_throttled BETWEEN 0 AND 1) AS throttled,
    max(oom_kills), max(restarts)
  FROM {src} GROUP BY workload
)
SELECT * FROM main JOIN daily USING (workload)\"\"\"
res = con.execute(q).fetchall()
wall = time.perf_counter() - t0
names = [d[0] for d in con.description]
result, rows = {}, 0
for row in res:
    d = dict(zip(names, row))
    rows += d["n"]
    result[d["workload"]] = {COLS[c]: [*d[c + "_q"], d[c + "_max"]] if d[c + "_q"] else [None] * (len(QS) + 1)
                             for c in COLS}
    result[d["workload"]]["daily"] = [*d["daily_q"], d["daily_max"]]
"""

# The same without the daily-peak percentiles (DuckDB reads the files a second time for those): what
# a comparison that leaves out VPA's input would measure. --duckdb-light adds it to the run.
_DAILY = (
    ("WITH days AS (\n  SELECT workload, max(mem_working_set) AS peak FROM {src}\n"
     "  GROUP BY workload, epoch_ms(ts) // 86400000\n), daily AS (\n"
     "  SELECT workload, quantile_cont(peak, {QS}) AS daily_q, max(peak) AS daily_max"
     " FROM days GROUP BY workload\n"
     "), main AS (", "WITH main AS ("),
    ("SELECT * FROM main JOIN daily USING (workload)", "SELECT * FROM main"),
    ('    result[d["workload"]]["daily"] = [*d["daily_q"], d["daily_max"]]\n', ""),
)  # fmt: skip
DUCKDB_LIGHT = DUCKDB
for _old, _new in _DAILY:
    assert _old in DUCKDB_LIGHT, _old
    DUCKDB_LIGHT = DUCKDB_LIGHT.replace(_old, _new)

PANDAS = """
import pandas as pd
df = pd.read_parquet(f"{DATA}/samples", columns=["workload", *COLS])
g = df.groupby("workload", observed=True)
qq = g[list(COLS)].quantile(QS)
mx = g[list(COLS)].max()
rows = len(df)
wall = time.perf_counter() - t0
result = {}
for wl in mx.index:
    result[str(wl)] = {
        COLS[c]: [*qq.loc[wl][c].tolist(), float(mx.loc[wl][c])] if mx.loc[wl][c] == mx.loc[wl][c]
        else [None] * (len(QS) + 1)  # NaN: no values (a workload without kernel peaks)
        for c in COLS
    }
"""


def run(name: str, body: str, data: str, threads: int) -> dict:
    head = f"DATA = {data!r}\nTHREADS = {threads}\nQS = {QS!r}\nCOLS = {COLS!r}\n"
    code = PRELUDE + head + body + EPILOGUE
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        proc = subprocess.run([sys.executable, "-c", code, out.name], env=env, capture_output=True, text=True)
        if proc.returncode:
            print(f"{name} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
            nan = float("nan")
            return {"wall": nan, "cpu": nan, "rss_mb": nan, "rows": 0, "result": {}}
        return json.loads(Path(out.name).read_text())


def max_rel_diff(a: dict, b: dict) -> float:
    worst = 0.0
    if set(a) != set(b):  # a workload missing on one side
        return float("inf")
    for wl, res in a.items():
        for r, vals in res.items():
            other = b[wl].get(r)
            if other is None:  # a contender that does not compute it (pandas: daily peaks)
                continue
            for x, y in zip(vals, other, strict=True):
                if x is None or y is None:
                    if x != y:
                        return float("inf")
                    continue
                worst = max(worst, abs(x - y) / max(abs(y), 1e-12))
    return worst


def main() -> None:
    ap = argparse.ArgumentParser(description="recommend() vs DuckDB vs pandas on one dataset")
    ap.add_argument("--data", default="/tmp/rightsize-bench")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2, help="DuckDB threads")
    ap.add_argument("--no-pandas", action="store_true", help="skip pandas (it holds everything in RAM)")
    ap.add_argument("--rounds", type=int, default=1, help="alternate the contenders this often; median")
    ap.add_argument(
        "--duckdb-light", action="store_true", help="also DuckDB without the daily-peak percentiles"
    )
    a = ap.parse_args()
    contenders = [("rightsize recommend()", RIGHTSIZE), (f"DuckDB ({a.threads} threads)", DUCKDB)]
    if a.duckdb_light:
        contenders.append(("DuckDB, no daily peaks", DUCKDB_LIGHT))
    if not a.no_pandas:
        contenders.append(("pandas groupby-quantile", PANDAS))
    # alternate, so that load from other processes on a shared machine hits every contender alike
    runs: dict[str, list[dict]] = {name: [] for name, _ in contenders}
    load0 = os.getloadavg()[0]
    for _ in range(a.rounds):
        for name, body in contenders:
            runs[name].append(run(name, body, a.data, a.threads))
    base = runs[contenders[1][0]][0]
    load = os.getloadavg()[0]
    n_wl = len(base["result"])
    print(f"dataset: {a.data}  ({base['rows']:,} samples, {n_wl} workloads)")
    print(f"load avg (1 min): {load0:.1f} before, {load:.1f} after (the contenders themselves add up to 2)")
    head = f"{'wall s (each round)':>26} {'CPU s':>7} {'peak RSS MB':>12} {'max rel diff':>13}"
    print(f"{'contender':28} {head}")
    for name, rs in runs.items():
        walls = sorted(r["wall"] for r in rs)
        med = walls[len(walls) // 2]
        r = rs[0]
        diff = max_rel_diff(r["result"], base["result"]) if r["result"] else float("nan")
        each = " ".join(f"{r['wall']:.1f}" for r in rs)
        cpu = sorted(r["cpu"] for r in rs)[len(rs) // 2]
        rss = max(r["rss_mb"] for r in rs)
        print(f"{name:28} {med:8.1f} ({each:>15}) {cpu:7.1f} {rss:12.0f} {diff:13.2e}")
    print("wall: median over rounds; CPU: user+sys of the process and its children (all threads);")
    print("peak RSS: ru_maxrss of the process + that of its largest child (rightsize may start one)")
    print("max rel diff: largest relative difference of any percentile from DuckDB's")


if __name__ == "__main__":
    main()
