"""Seeded generator of the analyzer benchmark dataset (default 100 M samples, 1,000 workloads).

    python benchmarks/make_analyzer_data.py --rows 100000000 --workloads 1000 --out /tmp/rightsize-bench

Writes ROOT/samples/date=YYYY-MM-DD/<host>-<first ts>.parquet (zstd), one file per host and UTC
day, like collectors on several hosts that flush into one root, plus ROOT/events with the OOM
kills. 10 s samples; every workload gets its own level, daily cycle, noise and bursts; some are
throttled, some have no CPU limit, some are OOM-killed. Nothing here is measured data.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rightsize.store import EVENTS_SCHEMA, SAMPLES_SCHEMA

STEP_MS = 10_000
DAY_MS = 86_400_000
T0 = 1_790_000_000_000 - 1_790_000_000_000 % DAY_MS  # a UTC midnight
MiB = 2**20
WORKLOADS_PER_HOST = 100


def workload_params(rng: np.random.Generator, w: int) -> dict[str, np.ndarray]:
    return {
        "base": rng.lognormal(np.log(300 * MiB), 1.2, w),
        "amp": rng.uniform(0.0, 0.6, w),
        "noise": rng.uniform(0.005, 0.08, w),
        "cpu": rng.lognormal(np.log(0.1), 1.3, w),
        "pids": rng.integers(3, 300, w),
        "cpu_limit": np.where(rng.random(w) < 0.2, np.nan, rng.choice([0.25, 0.5, 1, 2, 4], w)),
        "oom": rng.random(w) < 0.02,
        "peak": rng.random(w) < 0.5,
        "kills": np.zeros(w, dtype=np.int32),  # mutated while generating: OOM kills so far
    }


def host_day(
    rng: np.random.Generator, p: dict[str, np.ndarray], ids: np.ndarray, t0: int, n_ticks: int, host: str
) -> tuple[pa.Table, list[dict[str, object]]]:
    k = len(ids)
    ts = t0 + np.arange(n_ticks, dtype=np.int64) * STEP_MS
    hours = (ts % DAY_MS) / 3_600_000
    daily = 0.5 + 0.5 * np.cos(2 * np.pi * (hours - 15) / 24)
    # rows ordered by tick, then workload: what a collector flushing every tick would write
    tsr = np.repeat(ts, k)
    w = np.tile(ids, n_ticks)
    d = np.repeat(daily, k)
    base, amp, noise = p["base"][w], p["amp"][w], p["noise"][w]
    burst = (rng.random(len(w)) < 0.002) * rng.uniform(0.1, 0.8, len(w))
    mem = base * (1 + amp * d + noise * rng.standard_normal(len(w)) + burst)
    mem = np.maximum(np.round(mem / 4096) * 4096, 4096).astype(np.int64)
    mem_limit = (np.round(p["base"] * 2.5 / MiB) * MiB).astype(np.int64)[w]
    limit = p["cpu_limit"][w]
    demand = p["cpu"][w] * (0.3 + d) * rng.gamma(2.0, 0.5, len(w))
    cpu = np.where(np.isnan(limit), demand, np.minimum(demand, limit))
    thr = np.where(np.isnan(limit), np.nan, np.clip((demand - limit) / np.maximum(demand, 1e-9), 0, 1))
    pids = (p["pids"][w] + rng.integers(0, 8, len(w))).astype(np.int32)
    peak = np.where(p["peak"][w], np.round(mem * 1.1), np.nan)
    oom = np.repeat(p["kills"][ids][None, :], n_ticks, axis=0).ravel().astype(np.int32)
    events: list[dict[str, object]] = []
    for i, wid in enumerate(ids):
        if p["oom"][wid]:  # one kill a day, at a random tick: the counter steps up from there
            tick = int(rng.integers(0, n_ticks))
            oom[i + tick * k :: k] += 1
            p["kills"][wid] += 1  # cumulative, as the kernel's counter is
            events.append(
                {"ts": int(ts[tick]), "host": host, "workload": f"ns/app-{wid:04d}", "kind": "oom",
                 "container_id": f"c{wid:05d}", "container": f"app-{wid:04d}", "exit_code": 137}
            )  # fmt: skip
    names = np.array([f"ns/app-{i:04d}" for i in ids], dtype=object)
    cids = np.array([f"c{i:05d}" for i in ids], dtype=object)
    local = np.tile(np.arange(k), n_ticks)
    cols = {
        "ts": pa.array(tsr, pa.timestamp("ms", tz="UTC")),
        "host": pa.array(np.full(len(w), host, dtype=object), pa.string()),
        "workload": pa.array(names[local], pa.string()),
        "container_id": pa.array(cids[local], pa.string()),
        "container": pa.array(names[local], pa.string()),
        "image": pa.array(np.full(len(w), "app:1", dtype=object), pa.string()),
        "cpu_cores": pa.array(cpu, pa.float64()),
        "cpu_throttled": pa.array(thr.astype(np.float32), pa.float32(), from_pandas=True),
        "mem_working_set": pa.array(mem, pa.int64()),
        "mem_rss": pa.array((mem * 0.8).astype(np.int64), pa.int64()),
        "mem_peak": pa.array(peak, pa.int64(), from_pandas=True),
        "pids": pa.array(pids, pa.int32()),
        "mem_limit": pa.array(mem_limit, pa.int64()),
        "mem_reservation": pa.nulls(len(w), pa.int64()),
        "cpu_limit": pa.array(limit, pa.float64(), from_pandas=True),
        "pids_limit": pa.nulls(len(w), pa.int32()),
        "cpu_reservation": pa.nulls(len(w), pa.float64()),
        "oom_kills": pa.array(oom, pa.int32()),
        "restarts": pa.array(oom, pa.int32()),
    }
    return pa.table(cols, schema=SAMPLES_SCHEMA), events


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000_000)
    ap.add_argument("--workloads", type=int, default=1000)
    ap.add_argument("--out", default="/tmp/rightsize-bench")
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    out = Path(a.out)
    if out.exists():
        shutil.rmtree(out)
    rng = np.random.default_rng(a.seed)
    p = workload_params(rng, a.workloads)
    ticks = a.rows // a.workloads
    started, written, events = time.time(), 0, []
    for day0 in range(0, ticks, DAY_MS // STEP_MS):
        n = min(DAY_MS // STEP_MS, ticks - day0)
        t0 = T0 + day0 * STEP_MS
        date = time.strftime("%Y-%m-%d", time.gmtime(t0 / 1000))
        for h, lo in enumerate(range(0, a.workloads, WORKLOADS_PER_HOST)):
            ids = np.arange(lo, min(lo + WORKLOADS_PER_HOST, a.workloads))
            table, ev = host_day(rng, p, ids, t0, n, f"host-{h:02d}")
            d = out / "samples" / f"date={date}"
            d.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, d / f"host-{h:02d}-{t0}.parquet", compression="zstd")
            written += table.num_rows
            events += ev
        print(f"  {written:,} rows ({time.time() - started:.0f} s)", file=sys.stderr)
    if events:
        ev_dir = out / "events" / "date=all"
        ev_dir.mkdir(parents=True)
        etable = pa.Table.from_pylist(events, schema=EVENTS_SCHEMA)
        pq.write_table(etable, ev_dir / "events.parquet")
    size = sum(f.stat().st_size for f in out.rglob("*.parquet"))
    print(f"wrote {written:,} samples of {a.workloads} workloads to {out} ({size / 1e9:.2f} GB)")


if __name__ == "__main__":
    main()
