"""Generate the bundled SYNTHETIC sample: 24 h of 10 s samples for a stack like the plan's.

    python data/make_sample.py            # rewrites rightsize/sample/ (shipped in the wheel)

Seeded (same output every run). The services and their current limits follow
container-optimization-plan.md (Ollama 16 GB / 8 cores, PostgreSQL 2 GB / 2, Backend 4 GB / 4,
Neo4j 1 GB / 1.5, Qdrant 2 GB / 2); the others got plausible limits. Usage shapes are invented:
daily cycles, bursts, an LLM server loading a model for sessions, a JVM (neo4j) growing into its
1 GB limit and being OOM-killed twice, and a frontend throttled at its 0.5 CPU limit.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rightsize import store  # noqa: E402

OUT = ROOT / "rightsize" / "sample"
SEED = 20251110
START = pd.Timestamp("2026-11-16T06:00:00Z")
STEP_S = 10
N = 24 * 3600 // STEP_S + 1  # both ends included: exactly 24 h of history
MiB = 1024**2
GiB = 1024**3
PROJECT = "sutazai"


@dataclass(frozen=True)
class Service:
    name: str
    mem_limit: int
    mem_reservation: int | None
    cpu_limit: float
    pids_limit: int | None
    replicas: int = 1


SERVICES = [
    Service("ollama", 16 * GiB, 4 * GiB, 8.0, None),
    Service("postgres", 2 * GiB, 1 * GiB, 2.0, None),
    Service("backend", 4 * GiB, 1 * GiB, 4.0, None, replicas=2),
    Service("frontend", 512 * MiB, None, 0.5, None),
    Service("neo4j", 1 * GiB, 512 * MiB, 1.5, None),
    Service("qdrant", 2 * GiB, 512 * MiB, 2.0, None),
    Service("redis", 512 * MiB, None, 0.5, None),
    Service("rabbitmq", 1 * GiB, None, 1.0, None),
    Service("prometheus", 2 * GiB, None, 1.0, None),
    Service("grafana", 512 * MiB, None, 0.5, None),
]


def diurnal(hours: np.ndarray, peak_hour: float = 15.0) -> np.ndarray:
    """0 at night, 1 at the peak hour (UTC)."""
    return 0.5 + 0.5 * np.cos(2 * np.pi * (hours - peak_hour) / 24)


def bursts(rng: np.random.Generator, rate_per_hour: float, mean_len: int) -> np.ndarray:
    """0/1 mask of bursts starting at random (Poisson) and lasting ~mean_len samples."""
    mask = np.zeros(N)
    starts = np.flatnonzero(rng.random(N) < rate_per_hour * STEP_S / 3600)
    for s in starts:
        mask[s : s + max(1, int(rng.exponential(mean_len)))] = 1
    return mask


def smooth(x: np.ndarray, width: int) -> np.ndarray:
    return np.convolve(x, np.ones(width) / width, mode="same")


def usage(svc: Service, rng: np.random.Generator, hours: np.ndarray) -> dict[str, np.ndarray]:
    """Demand of one replica: memory working set (bytes), CPU demand (cores), PIDs."""
    d = diurnal(hours)
    noise = rng.normal(0, 1, N)
    name = svc.name
    if name == "ollama":  # model loaded (~5 GiB) during sessions, unloaded 5 min after the last one
        sessions = smooth(bursts(rng, 1.2 * 1, 120) * (d > 0.3), 61) > 0
        mem = np.where(sessions, 5.1 * GiB + 0.15 * GiB * rng.random(N), 380 * MiB) + 5 * MiB * noise
        cpu = np.where(sessions, 0.2 + 4.5 * bursts(rng, 20, 6), 0.02) + 0.01 * np.abs(noise)
        pids = np.where(sessions, 34, 22) + rng.integers(0, 3, N)
    elif name == "postgres":
        mem = 430 * MiB + 380 * MiB * d + 20 * MiB * noise + 150 * MiB * smooth(bursts(rng, 0.5, 60), 30)
        cpu = 0.05 + 0.45 * d + 1.1 * bursts(rng, 1.5, 12) + 0.03 * np.abs(noise)
        pids = 12 + (30 * d).astype(int) + rng.integers(0, 4, N)
    elif name == "backend":
        mem = 520 * MiB + 300 * MiB * d + 15 * MiB * noise + 250 * MiB * smooth(bursts(rng, 2, 30), 20)
        cpu = 0.08 + 0.7 * d + 1.6 * bursts(rng, 4, 6) + 0.05 * np.abs(noise)
        pids = 28 + (24 * d).astype(int) + rng.integers(0, 5, N)
    elif name == "frontend":  # demand often above its 0.5 CPU limit: throttled
        mem = 150 * MiB + 60 * MiB * d + 4 * MiB * noise
        cpu = 0.15 + 0.55 * d + 0.6 * bursts(rng, 6, 8) + 0.05 * np.abs(noise)
        pids = 9 + rng.integers(0, 3, N)
    elif name == "neo4j":  # heap creeps up to the 1 GiB limit twice a day
        phase = (np.arange(N) % (N // 2)) / (N // 2)
        mem = 560 * MiB + 520 * MiB * phase**1.5 + 8 * MiB * noise
        cpu = 0.1 + 0.3 * d + 0.8 * bursts(rng, 2, 10) + 0.02 * np.abs(noise)
        pids = 68 + rng.integers(0, 6, N)
    elif name == "qdrant":
        mem = 640 * MiB + 90 * MiB * np.arange(N) / N + 10 * MiB * noise
        cpu = 0.04 + 0.2 * d + 0.9 * bursts(rng, 1, 6) + 0.02 * np.abs(noise)
        pids = 41 + rng.integers(0, 3, N)
    elif name == "redis":
        mem = 46 * MiB + 14 * MiB * d + 1 * MiB * noise
        cpu = 0.01 + 0.05 * d + 0.005 * np.abs(noise)
        pids = 5 + rng.integers(0, 2, N)
    elif name == "rabbitmq":
        mem = 165 * MiB + 40 * MiB * d + 3 * MiB * noise
        cpu = 0.03 + 0.08 * d + 0.2 * bursts(rng, 2, 6) + 0.01 * np.abs(noise)
        pids = 31 + rng.integers(0, 3, N)
    elif name == "prometheus":  # head block grows for 2 h, then compaction drops it
        saw = (np.arange(N) % 720) / 720
        mem = 300 * MiB + 260 * MiB * saw + 6 * MiB * noise
        cpu = 0.05 + 0.4 * bursts(rng, 3, 3) + 0.02 * np.abs(noise)
        pids = 14 + rng.integers(0, 3, N)
    else:  # grafana
        mem = 105 * MiB + 20 * MiB * d + 2 * MiB * noise
        cpu = 0.01 + 0.3 * bursts(rng, 3, 2) + 0.005 * np.abs(noise)
        pids = 17 + rng.integers(0, 3, N)
    return {"mem": np.maximum(mem, 8 * MiB), "cpu": np.maximum(cpu, 0.0), "pids": pids.astype(float)}


def frames(svc: Service, rng: np.random.Generator) -> tuple[pd.DataFrame, list[dict[str, object]]]:
    ts = START + pd.to_timedelta(np.arange(N) * STEP_S, unit="s")
    hours = ((ts - ts.normalize()).total_seconds() / 3600).to_numpy()
    rows, all_events = [], []
    for r in range(svc.replicas):
        events: list[dict[str, object]] = [dict(ts=ts[0], kind="start", exit_code=None)]
        u = usage(svc, rng, hours)
        container = f"{PROJECT}-{svc.name}-{r + 1}"
        cid = hashlib.sha256(f"{SEED}-{container}".encode()).hexdigest()[:12]
        mem = u["mem"]
        oom = np.zeros(N, dtype=int)
        if svc.name == "neo4j":  # the kernel kills it where the working set reaches the limit
            killed = np.flatnonzero(mem[1:] < mem[:-1] - 300 * MiB) + 1
            mem = np.minimum(mem, svc.mem_limit - 2 * MiB)
            for k in killed:
                oom[k:] += 1
                mem[k - 1] = svc.mem_limit - 512 * 1024
                when = ts[k - 1] + pd.Timedelta(seconds=5)
                events += [
                    dict(ts=when, kind="oom", exit_code=None),
                    dict(ts=when, kind="die", exit_code=137),
                    dict(ts=when + pd.Timedelta(seconds=1), kind="start", exit_code=None),
                ]
        demand = u["cpu"]
        cpu = np.minimum(demand, svc.cpu_limit)
        throttled = np.clip((demand - svc.cpu_limit) / np.maximum(demand, 1e-9) * 1.6, 0, 1)
        throttled = np.where(demand > 0.85 * svc.cpu_limit, np.maximum(throttled, 0.05), 0.0)
        restart_first = np.r_[True, oom[1:] != oom[:-1]]
        cpu = np.where(restart_first, np.nan, cpu)  # counters restart: no rate on a first sample
        ws = (np.round(mem / 4096) * 4096).astype(np.int64)
        cache = 40 * MiB + 0.2 * ws
        peak = pd.Series(ws + cache).groupby(oom).cummax().to_numpy().astype(np.int64)
        rows.append(
            pd.DataFrame(
                {
                    "ts": ts,
                    "host": "sutazai-host",
                    "workload": f"{PROJECT}/{svc.name}",
                    "container_id": cid,
                    "container": container,
                    "image": f"{svc.name}:latest",
                    "cpu_cores": np.round(cpu, 5),
                    "cpu_throttled": np.round(throttled, 4),
                    "mem_working_set": ws,
                    "mem_rss": (ws * 0.85).astype(np.int64),
                    "mem_peak": peak,
                    "pids": u["pids"].astype(np.int32),
                    "mem_limit": svc.mem_limit,
                    "mem_reservation": svc.mem_reservation,
                    "cpu_limit": svc.cpu_limit,
                    "pids_limit": svc.pids_limit,
                    "oom_kills": oom.astype(np.int32),
                    "restarts": oom.astype(np.int32),
                }
            )
        )
        for e in events:
            e.update(
                host="sutazai-host", workload=f"{PROJECT}/{svc.name}", container_id=cid, container=container
            )
        all_events += events
    return pd.concat(rows, ignore_index=True), all_events


def write(table_kind: store.Kind, frame: pd.DataFrame) -> None:
    table = store.to_table(frame.sort_values("ts", kind="stable"), table_kind)
    dates = pc.strftime(table["ts"], format="%Y-%m-%d")
    for date in pc.unique(dates).to_pylist():
        part = table.filter(pc.equal(dates, date))
        directory = OUT / table_kind / f"date={date}"
        directory.mkdir(parents=True, exist_ok=True)
        first = int(pc.min(part["ts"]).cast("int64").as_py())
        pq.write_table(part, directory / f"sample-{first}.parquet", compression="zstd", compression_level=9)


def main() -> None:
    rng = np.random.default_rng(SEED)
    samples, events = [], []
    for svc in SERVICES:
        frame, evs = frames(svc, rng)
        samples.append(frame)
        events += evs
    for old in OUT.rglob("*.parquet"):
        old.unlink()
    write("samples", pd.concat(samples, ignore_index=True))
    write("events", pd.DataFrame(events))
    size = sum(f.stat().st_size for f in OUT.rglob("*.parquet"))
    print(
        f"wrote {sum(len(s) for s in samples)} samples, {len(events)} events to {OUT} ({size / 1e6:.2f} MB)"
    )


if __name__ == "__main__":
    main()
