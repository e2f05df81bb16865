"""Scoring one test window against the limits a strategy set, and summing windows into metrics.

Definitions (issue 4; shares are fractions):
- mem_slack: mean over test samples of (limit - usage) / limit
- mem_overrun_share: share of workload-test-windows where usage exceeded the limit at least once
  (each one is an OOM kill), or a real OOM kill happened at a limit at least as high
- mem_alloc_ratio: sum of limits / sum of mean usage, over windows
- cpu_slack: mean over test samples of (reservation - usage) / reservation
- cpu_over_reservation_share: share of test samples with CPU usage above the reservation
- limit_changes: windows whose memory or CPU limit differs from the same workload's previous window
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# one row per scored window; the columns of the numbers kept
FIELDS = (
    "mem_slack_sum",  # sum over samples of (L - u) / L
    "mem_n",  # memory samples
    "overrun",  # 1.0 if the window had an overrun
    "mem_limit",  # the limit (mean limit for time-varying limits)
    "mem_mean",  # mean usage
    "cpu_slack_sum",
    "cpu_n",  # CPU samples scored (with a reservation)
    "cpu_over",  # samples above the reservation
    "changed",  # 1.0 if a limit changed since the previous window
)
ROW = {name: i for i, name in enumerate(FIELDS)}


@dataclass(frozen=True)
class Limits:
    """What a strategy set for one test window (None = not set)."""

    mem_limit: float | None
    mem_reservation: float | None
    cpu_limit: float | None
    cpu_reservation: float | None

    def same_limits(self, other: Limits | None) -> bool:
        return other is not None and (self.mem_limit, self.cpu_limit) == (other.mem_limit, other.cpu_limit)


def score_window(
    mem: np.ndarray,
    cpu: np.ndarray,
    mem_limit: float | np.ndarray,
    cpu_reservation: float | np.ndarray | None,
    oom_limits: np.ndarray,
    changed: bool,
) -> np.ndarray | None:
    """One window's row (FIELDS); None when there is no memory usage or no memory limit to score.

    ``mem_limit``/``cpu_reservation`` may be arrays (per-sample limits, as a dataset's own limits
    are); NaN there means "no limit at that sample". ``oom_limits`` are the limits in force at the
    real OOM kills inside the window: a limit no higher than one of them would have been killed too.
    """
    ok = ~np.isnan(mem)
    if isinstance(mem_limit, np.ndarray):
        ok &= ~np.isnan(mem_limit) & (mem_limit > 0)
        u, L = mem[ok], mem_limit[ok]
    elif np.isfinite(mem_limit) and mem_limit > 0:
        u, L = mem[ok], np.float64(mem_limit)
    else:
        return None
    if not len(u):
        return None
    row = np.zeros(len(FIELDS))
    row[ROW["mem_slack_sum"]] = float(np.sum((L - u) / L))
    row[ROW["mem_n"]] = len(u)
    killed = len(oom_limits) > 0 and float(np.min(L)) <= float(np.nanmax(oom_limits, initial=-math.inf))
    # (np.min of a scalar limit is the limit itself)
    row[ROW["overrun"]] = float(bool(np.any(u > L)) or killed)
    row[ROW["mem_limit"]] = float(np.mean(L)) if isinstance(L, np.ndarray) else float(L)
    row[ROW["mem_mean"]] = float(np.mean(u))
    if cpu_reservation is not None:
        res = np.broadcast_to(np.asarray(cpu_reservation, dtype=np.float64), cpu.shape)
        cok = ~np.isnan(cpu) & ~np.isnan(res) & (res > 0)
        if cok.any():
            c, r = cpu[cok], res[cok]
            row[ROW["cpu_slack_sum"]] = float(np.sum((r - c) / r))
            row[ROW["cpu_n"]] = len(c)
            row[ROW["cpu_over"]] = float(np.count_nonzero(c > r))
    row[ROW["changed"]] = float(changed)
    return row


@dataclass(frozen=True)
class Score:
    """One strategy's metrics over a set of windows (None where nothing could be scored)."""

    windows: int
    mem_overruns: int
    mem_slack: float | None
    mem_overrun_share: float | None
    mem_alloc_ratio: float | None
    cpu_slack: float | None
    cpu_over_reservation_share: float | None
    limit_changes: int

    def to_dict(self) -> dict[str, float | int | None]:
        return {
            "mem_slack": _r(self.mem_slack),
            "mem_overrun_share": _r(self.mem_overrun_share),
            "mem_alloc_ratio": _r(self.mem_alloc_ratio),
            "cpu_slack": _r(self.cpu_slack),
            "cpu_over_reservation_share": _r(self.cpu_over_reservation_share),
            "limit_changes": self.limit_changes,
            "windows": self.windows,
            "mem_overruns": self.mem_overruns,
        }


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def summarize(rows: np.ndarray) -> Score:
    """Metrics from window rows (shape (n, len(FIELDS)))."""
    rows = np.asarray(rows, dtype=np.float64).reshape(-1, len(FIELDS))
    n = len(rows)
    if not n:
        return Score(0, 0, None, None, None, None, None, 0)
    col = {name: rows[:, i] for name, i in ROW.items()}
    mem_n = col["mem_n"].sum()
    cpu_n = col["cpu_n"].sum()
    used = col["mem_mean"].sum()
    overruns = int(col["overrun"].sum())
    return Score(
        windows=n,
        mem_overruns=overruns,
        mem_slack=float(col["mem_slack_sum"].sum() / mem_n) if mem_n else None,
        mem_overrun_share=overruns / n,
        mem_alloc_ratio=float(col["mem_limit"].sum() / used) if used > 0 else None,
        cpu_slack=float(col["cpu_slack_sum"].sum() / cpu_n) if cpu_n else None,
        cpu_over_reservation_share=float(col["cpu_over"].sum() / cpu_n) if cpu_n else None,
        limit_changes=int(col["changed"].sum()),
    )
