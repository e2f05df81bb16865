"""Restart and OOM-kill events from the counters of one container (kube-state-metrics' restart
counter and last termination reason, cAdvisor's ``container_oom_events_total``).

One kill can show in two counters: cAdvisor's rises when the kernel kills, the restart counter when
the kubelet starts the container again, which in a crash loop is after a back-off of up to five
minutes (the kubelet's MaxContainerBackOff). The two are paired across that span, across query
chunks too, so that each kill counts once, at the time cAdvisor saw it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MAX_BACKOFF = 300.0  # seconds: the kubelet's longest crash-loop back-off
# and the scrapes around it: kube-state-metrics' restart counter is seen a scrape (30-60 s, up to
# 2 min) after the restart
SCRAPE_SLACK = 120.0

EventRow = tuple[int, str, int | None]  # (ts ms, kind, exit code)


@dataclass
class Counters:
    """Per container, carried from one time chunk to the next (mutable on purpose)."""

    restarts: float = np.nan
    oom_events: float = np.nan
    ooms: int = 0
    held: dict[str, float] = field(default_factory=dict)  # the last limit/request seen, per column
    # kills counted from cAdvisor that no OOM restart has claimed yet, and OOM restarts counted
    # without a cAdvisor kill before them (ts ms), each kept for as long as its pair may still come
    unclaimed_kills: list[int] = field(default_factory=list)
    unpaired_restarts: list[int] = field(default_factory=list)


def events(
    grid: np.ndarray,
    step: float,
    restarts: np.ndarray | None,
    oom_reason: np.ndarray | None,
    oom_events: np.ndarray | None,
    state: Counters,
) -> tuple[np.ndarray, list[EventRow]]:
    """Restart and OOM events from the counters; -> (cumulative OOM kills per grid step, event rows)."""
    reach = round((MAX_BACKOFF + SCRAPE_SLACK + step) * 1000)  # a kill ... its restart
    after = round(step * 1000)  # a restart ... cAdvisor's kill seen a step late
    inc = np.zeros(len(grid), dtype=np.int64)
    rows: list[EventRow] = []
    # kills first at one step: a kill and its restart in the same step pair
    todo = [(i, 0, d) for i, d in increments(oom_events, state, "oom_events")]
    todo += [(i, 1, d) for i, d in increments(restarts, state, "restarts")]
    for i, kind, d in sorted(todo):
        ts = int(grid[i])
        state.unclaimed_kills = [t for t in state.unclaimed_kills if ts - t <= reach]
        state.unpaired_restarts = [t for t in state.unpaired_restarts if ts - t <= after]
        if kind == 0:  # cAdvisor: a kill, unless it is the one an OOM restart just counted
            for _ in range(d):
                if state.unpaired_restarts:
                    state.unpaired_restarts.pop(0)
                    continue
                inc[i] += 1
                rows.append((ts, "oom", 137))
                state.unclaimed_kills.append(ts)
            continue
        # kube-state-metrics only keeps the *last* termination reason; a burst of restarts
        # between two samples ending in OOMKilled is counted as that many OOM kills (crash loop)
        oom = oom_reason is not None and bool(np.nan_to_num(oom_reason[i : i + 2]).max() >= 1)
        for _ in range(d):
            if oom and state.unclaimed_kills:  # the kill cAdvisor counted before this restart
                state.unclaimed_kills.pop(0)
            elif oom:
                inc[i] += 1
                rows.append((ts, "oom", 137))
                state.unpaired_restarts.append(ts)
            rows.append((ts, "restart", None))
    state.ooms += int(inc.sum())
    return state.ooms - int(inc.sum()) + np.cumsum(inc), rows


def increments(values: np.ndarray | None, state: Counters, name: str) -> list[tuple[int, int]]:
    """(grid index, increase) of a cumulative counter, continuing from the previous chunk; a drop
    is a reset (a re-created pod, a new cgroup) that counts its new value as the increase."""
    if values is None:
        return []
    idx = np.flatnonzero(~np.isnan(values))
    if not len(idx):
        return []
    vals = values[idx]
    prev = np.concatenate([[getattr(state, name)], vals[:-1]])
    delta = np.where(vals < prev, vals, vals - prev)
    setattr(state, name, float(vals[-1]))
    return [(int(idx[j]), round(delta[j])) for j in np.flatnonzero(delta >= 0.5)]
