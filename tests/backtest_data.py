"""Seeded synthetic histories whose backtest outcome is known by construction.

Each builder returns a samples DataFrame (5-minute samples, one workload) in the samples schema:
- ``flat``: memory constant with tiny noise: no strategy may overrun, alloc/used close to 1.15.
- ``weekly_spike``: a one-hour spike every 7 days at day 6.5 (relative to the start): a training
  window of 3 days never sees it, a 14-day one always does.
- ``leak``: memory grows x2.5 a week: the next week's usage always exceeds the last two weeks' max by
  more than any margin + rounding step of a max-based rule (1.15 x at most 1.5).
- ``oom``: flat usage just below a 256 MiB limit, OOM-killed (events) at that limit in chosen weeks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MiB = 1024**2
STEP_MS = 300_000
DAY_MS = 86_400_000
T0 = pd.Timestamp("2026-01-05T00:00:00Z")


def frame(
    workload: str,
    mem: np.ndarray,
    cpu: np.ndarray | None = None,
    mem_limit: float | None = None,
    cpu_limit: float | None = None,
) -> pd.DataFrame:
    n = len(mem)
    ts = T0 + pd.to_timedelta(np.arange(n) * STEP_MS, unit="ms")
    return pd.DataFrame(
        {
            "ts": ts,
            "host": "test",
            "workload": workload,
            "container_id": workload,
            "container": workload,
            "mem_working_set": np.round(mem).astype("int64"),
            "cpu_cores": cpu if cpu is not None else np.full(n, 0.1),
            "mem_limit": pd.array([mem_limit] * n, dtype="Int64")
            if mem_limit
            else pd.array([None] * n, "Int64"),
            "cpu_limit": np.full(n, cpu_limit if cpu_limit else np.nan),
        }
    )


def samples_for(days: float) -> int:
    return int(days * DAY_MS // STEP_MS)


def flat(days: float = 29, level: float = 200 * MiB, seed: int = 1, **kw: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = samples_for(days)
    return frame("flat", level * (1 + 0.01 * rng.random(n)), 0.2 + 0.01 * rng.random(n), **kw)


def weekly_spike(
    days: float = 36, base: float = 200 * MiB, spike: float = 800 * MiB, seed: int = 2
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = samples_for(days)
    t = np.arange(n) * STEP_MS
    mem = base * (1 + 0.01 * rng.random(n))
    in_spike = ((t % (7 * DAY_MS)) >= 6.5 * DAY_MS) & ((t % (7 * DAY_MS)) < 6.5 * DAY_MS + 3_600_000)
    mem[in_spike] = spike
    return frame("spike", mem)


def leak(days: float = 43, start: float = 64 * MiB, weekly: float = 2.5) -> pd.DataFrame:
    n = samples_for(days)
    mem = start * weekly ** (np.arange(n) * STEP_MS / (7 * DAY_MS))
    return frame("leak", mem)


def oom(days: float = 36, kill_days: tuple[float, ...] = (16.5,)) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Usage hovers at 240 MiB under a 256 MiB limit; OOM kills (events) on ``kill_days``."""
    rng = np.random.default_rng(3)
    n = samples_for(days)
    samples = frame("oom", 240 * MiB * (1 + 0.01 * rng.random(n)), mem_limit=256 * MiB)
    events = pd.DataFrame(
        {
            "ts": [T0 + pd.Timedelta(days=d) for d in kill_days],
            "host": "test",
            "workload": "oom",
            "container_id": "oom",
            "container": "oom",
            "kind": "oom",
            "exit_code": 137,
        }
    )
    return samples, events
