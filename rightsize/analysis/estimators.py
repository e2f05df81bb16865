"""Tiny pure estimators, VPA-style: each takes numbers and returns a number, and is tested alone.

A strategy is a chain of these (see strategies.py). Nothing here knows about workloads or files.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from typing import Protocol

import numpy as np

from rightsize.units import GiB, MiB

# (upper bound, step): a value up to the bound is rounded up to a multiple of the step. Steps grow
# with the value, so results read like what people write: 96M, 768M, 1.5g, 8G; 0.35, 1.5, 4 cpus.
MEMORY_STEPS: tuple[tuple[float, float], ...] = (
    (32 * MiB, 8 * MiB),
    (256 * MiB, 32 * MiB),
    (GiB, 128 * MiB),
    (4 * GiB, 256 * MiB),
    (16 * GiB, GiB),
    (math.inf, 2 * GiB),
)
CPU_STEPS: tuple[tuple[float, float], ...] = ((0.5, 0.05), (2.0, 0.25), (8.0, 0.5), (math.inf, 1.0))
PIDS_STEPS: tuple[tuple[float, float], ...] = ((200, 10), (1000, 50), (math.inf, 500))


def percentile(values: np.ndarray, q: float) -> float:
    """Exact q-quantile (0..1) of the non-NaN values, linear interpolation; NaN if there are none."""
    v = values[~np.isnan(values)]
    return float(np.quantile(v, q)) if len(v) else math.nan


class Quantiles(Protocol):
    @property
    def n(self) -> int: ...

    def at(self, p: float) -> float: ...


def percentile_of(d: Quantiles, q: float) -> float:
    """The q-quantile a profile already holds (NaN when the metric has no samples)."""
    return d.at(q) if d.n else math.nan


def with_margin(x: float, margin: float) -> float:
    """``x`` plus a safety margin given as a fraction (0.15 = +15%)."""
    return x * (1.0 + margin)


def sqrt_headroom(x: float, ref: float) -> float:
    """Headroom sqrt(x * ref): relatively large for small x, relatively small for large x.

    Memory on real hosts grows in chunks (a process, a cache, a batch) whose size does not scale with
    the workload: a 100 MiB service needs proportionally more headroom than a 16 GiB one.
    """
    return math.sqrt(x * ref) if x > 0 and ref > 0 else 0.0


def confidence_multiplier(days: float, k: float) -> float:
    """VPA's history-length multiplier (1 + 1/days)^k: large on short histories, -> 1 on long ones."""
    return (1.0 + 1.0 / max(days, 1e-6)) ** k


def scale_by_confidence(x: float, days: float, k: float) -> float:
    return x * confidence_multiplier(days, k)


def oom_bump(limit_at_oom: float, min_bytes: float, factor: float) -> float:
    """The smallest limit a workload OOM-killed at ``limit_at_oom`` should get: max(L + min, L x factor)."""
    return max(limit_at_oom + min_bytes, limit_at_oom * factor)


def oom_floor(oom_limits: Iterable[float], min_bytes: float, factor: float) -> float | None:
    """The OOM bump of the highest finite limit a kill happened at (None: no such kill)."""
    finite = [x for x in oom_limits if x is not None and math.isfinite(x) and x > 0]
    return oom_bump(max(finite), min_bytes, factor) if finite else None


def floor_at(x: float, minimum: float) -> float:
    return max(x, minimum)


def pids_headroom(max_pids: float, factor: float, extra: float) -> float:
    """PIDs limit before the floor: the highest count seen times ``factor``, and at least ``extra`` more."""
    return max(max_pids * factor, max_pids + extra)


def round_up(x: float, steps: Sequence[tuple[float, float]]) -> float:
    """Round ``x`` up to the human step for its size; never returns less than ``x``."""
    if not math.isfinite(x) or x <= 0:
        return x
    step = next(s for bound, s in steps if x <= bound)
    r = round(math.ceil(x / step - 1e-9) * step, 6)
    while r < x:
        r = round(r + step, 6)
    return r


# The most a runtime accepts: int64 bytes and PIDs, and Docker's NanoCpus (cores x 1e9) is an int64.
# Only absurd data or --set values get there; the value is capped (with a warning), never overflowed.
MAX_BYTES = float(2**63 - 2**31)  # on the 2 GiB step, and exact as a float
MAX_CORES = float((2**63 - 1) // 10**9)


def _capped(x: float, cap: float, what: str) -> float:
    if x > cap:
        why = "absurd values in the data, or a --set value too large"
        warnings.warn(f"a recommended {what} of {x:.4g} is more than a container runtime accepts: "
                      f"capped at {cap:.4g} ({why})", stacklevel=3)  # fmt: skip
        return cap
    return x


def round_memory(x: float) -> float:
    return _capped(round_up(x, MEMORY_STEPS), MAX_BYTES, "memory value (bytes)")


def round_cpu(x: float) -> float:
    return _capped(round_up(x, CPU_STEPS), MAX_CORES, "cpu value (cores)")


def round_pids(x: float) -> float:
    return _capped(round_up(x, PIDS_STEPS), MAX_BYTES, "pids value")


def confidence(days: float) -> float:
    """0..1 from history length: days/(days+1) -> 0.5 after one day, 0.88 after a week."""
    return max(days, 0.0) / (max(days, 0.0) + 1.0)
