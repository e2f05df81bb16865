"""Why a resource gets no recommendation: nothing measured, too little history, or an OOM kill.

A job OOM-killed before any reading has only the collector's record of the kill (its limit, no
usage). That row is not a missing sample, and what matters is the kill: the reasons open with how
far to raise the limit it ran at.
"""

from __future__ import annotations

import math
from typing import Protocol

from rightsize.analysis import estimators as est
from rightsize.analysis.profile import Dist, Profile
from rightsize.models import Resource, history_text
from rightsize.units import format_duration, human_bytes


class Limits(Protocol):
    """The settings read here (every strategy's settings have them)."""

    @property
    def min_history(self) -> float: ...
    @property
    def min_samples(self) -> float: ...
    @property
    def oom_bump_bytes(self) -> float: ...
    @property
    def oom_bump_factor(self) -> float: ...


def kill_limit(p: Profile) -> float | None:
    """The highest limit an OOM kill happened at (None: no kill, or none under a limit)."""
    return max((x for x in p.oom_limits if math.isfinite(x) and x > 0), default=None)


def kill_hint(p: Profile, s: Limits) -> tuple[str, ...]:
    """With too little to recommend from, an OOM kill still says the limit it ran with was too low."""
    if (at := kill_limit(p)) is None:
        return ()
    need = human_bytes(est.round_memory(est.oom_bump(at, s.oom_bump_bytes, s.oom_bump_factor)))
    return (f"OOM-killed {len(p.oom_limits)}x at limit {human_bytes(at)}: that is too low; "
            f"raise it to >= {need} and collect again",)  # fmt: skip


def is_short(p: Profile, s: Limits) -> bool:
    return p.samples < s.min_samples or p.history_seconds < s.min_history


def no_recommendation(p: Profile, s: Limits, r: Resource, d: Dist) -> tuple[str, ...] | None:
    """The reasons ``r`` gets no recommendation, the kill first; None when the chain may give one."""
    short = is_short(p, s)
    short_why = (
        f"too little history: {p.samples} sample{'s' * (p.samples != 1)} over "
        f"{history_text(p.history_seconds)} "
        f"(needs >= {s.min_samples:g} samples and >= {format_duration(s.min_history)})"
    )
    kill = kill_hint(p, s) if r == "memory" else ()
    if not d.n and p.oom_limits and not (p.mem.n or p.cpu.n or p.pids.n):
        # only the kill's record: more history of this job would not help, a higher limit would
        return (*kill, f"no {r} samples: OOM-killed before any reading")
    if not d.n:  # none recorded (a source that cannot read it): more history alone won't help
        return (*kill, f"no {r} samples: all {p.samples} missing", *((short_why,) if short else ()))
    if short:
        return (*kill, short_why)
    if d.n < s.min_samples:  # a long history with few readings of this one (a p99 of 5 values)
        return (f"too few {r} samples: {d.n} of {p.samples} (needs >= {s.min_samples:g})",)
    return None
