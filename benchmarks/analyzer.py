"""Analyzer benchmark: ``recommend()`` over a large dataset vs DuckDB and pandas, same files, same run.

    python benchmarks/make_analyzer_data.py --rows 100000000 --out /tmp/rightsize-bench   # ~2 GB
    python benchmarks/analyzer.py --data /tmp/rightsize-bench [--threads 2] [--no-pandas]

Each contender runs in its own fresh Python process (so peak RSS is its own): wall time and peak
RSS (ru_maxrss). All compute per-workload p50/p90/p95/p99/max of memory working set, CPU cores and
PIDs (linear interpolation: DuckDB ``quantile_cont``, pandas ``quantile``); rightsize also
computes everything else a recommendation needs (daily peaks, OOMs, limits, strategy chain).
The percentiles of the three are compared: they must agree exactly (up to float rounding).
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
COLS = {"mem_working_set": "memory", "cpu_cores": "cpu", "pids": "pids"}

PRELUDE = """
import json, resource, sys, time
import numpy as np
t0 = time.perf_counter()
"""
EPILOGUE = """
wall = time.perf_counter() - t0
ru, rc = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = ru.ru_utime + ru.ru_stime + rc.ru_utime + rc.ru_stime
rss = (ru.ru_maxrss + rc.ru_maxrss) / 1024  # a second scanner process counts too (sum of peaks)
out = {"wall": wall, "cpu": cpu, "rss_mb": rss, "rows": rows, "result": result}
json.dump(out, open(sys.argv[1], "w"))
"""

RIGHTSIZE = """
import warnings
from rightsize import recommend
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    recs = recommend(DATA)
result = {}
for r in recs:
    o = r.observed
    result.setdefault(r.workload, {})[r.resource] = [o.p50, o.p90, o.p95, o.p99, o.max]
rows = sum(r.samples for r in recs if r.resource == "memory")
"""

DUCKDB = """
import duckdb
con = duckdb.connect()
con.execute(f"SET threads={THREADS}")
sel = ", ".join(
    f"quantile_cont({c}, {QS}) AS {c}_q, max({c}) AS {c}_max" for c in COLS
)
q = f\"\"\"SELECT workload, count(*) AS n, min(ts), max(ts), avg(cpu_throttled), max(mem_peak), {sel}
FROM read_parquet('{DATA}/samples/**/*.parquet', hive_partitioning = false) GROUP BY workload\"\"\"
res = con.execute(q).fetchall()
names = [d[0] for d in con.description]
result, rows = {}, 0
for row in res:
    d = dict(zip(names, row))
    rows += d["n"]
    result[d["workload"]] = {COLS[c]: [*d[c + "_q"], d[c + "_max"]] for c in COLS}
"""

PANDAS = """
import pandas as pd
df = pd.read_parquet(f"{DATA}/samples", columns=["workload", *COLS])
g = df.groupby("workload", observed=True)
qq = g[list(COLS)].quantile(QS)
mx = g[list(COLS)].max()
rows = len(df)
result = {}
for wl in mx.index:
    result[str(wl)] = {COLS[c]: [*qq.loc[wl][c].tolist(), float(mx.loc[wl][c])] for c in COLS}
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
    for wl, res in a.items():
        for r, vals in res.items():
            other = b.get(wl, {}).get(r)
            if other is None:
                return float("inf")
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
    a = ap.parse_args()
    contenders = [("rightsize recommend()", RIGHTSIZE), (f"DuckDB ({a.threads} threads)", DUCKDB)]
    if not a.no_pandas:
        contenders.append(("pandas groupby-quantile", PANDAS))
    # alternate, so that load from other processes on a shared machine hits every contender alike
    runs: dict[str, list[dict]] = {name: [] for name, _ in contenders}
    for _ in range(a.rounds):
        for name, body in contenders:
            runs[name].append(run(name, body, a.data, a.threads))
    base = runs[contenders[1][0]][0]
    load = os.getloadavg()[0]
    n_wl = len(base["result"])
    print(f"dataset: {a.data}  ({base['rows']:,} samples, {n_wl} workloads); load avg {load:.1f}")
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
