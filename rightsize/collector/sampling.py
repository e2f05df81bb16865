"""Pure parts of sampling: counters -> rows, engine events -> rows, the column buffer, the summary.

Kept apart from the loop (loop.py) so each rule is tested on recorded payloads alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from rightsize import store
from rightsize.models import history_text
from rightsize.sources.cgroups import Counters
from rightsize.sources.docker import ContainerInfo, workload_name


@dataclass(frozen=True)
class CollectSummary:
    """What one ``collect`` run wrote (``str()`` is the summary the CLI prints).

    ``samples``, ``containers``, ``workloads`` and ``sources`` count only rows written to the
    dataset: a container tracked but never sampled (stopped in the first seconds) is not in them.
    ``dropped`` counts rows given up while the disk refused writes for too long (``flush.py``).
    ``no_cpu``: container lives without any CPU value, by reason (``endings.py``);
    ``no_cpu_containers``: how many containers those lives were (a crash loop is one, run many times).
    ``oom_kills``: OOM events of matching containers; ``oom_unread``: those recorded by a row that
    holds the limits only (killed before any reading: counted in ``samples``, nothing measured);
    ``oom_kernel_only``: those the engine sent no event for, known from the kernel's log (``kmsg.py``);
    ``kernel_log``: whether that log could be read (if not, such kills are not counted: said once).
    """

    out: Path
    host: str
    seconds: float
    ticks: int
    missed_ticks: int
    samples: int
    events: int
    containers: int
    workloads: int
    files: int
    sources: dict[str, int] = field(default_factory=dict)
    interrupted: bool = False
    dropped: int = 0
    no_cpu: dict[str, int] = field(default_factory=dict)
    no_cpu_containers: int = 0
    oom_kills: int = 0
    oom_unread: int = 0
    oom_kernel_only: int = 0
    kernel_log: bool = True

    def __str__(self) -> str:
        how = ", ".join(f"{n} via {s}" for s, n in sorted(self.sources.items())) or "none"
        took = f"on {self.host} in {history_text(self.seconds)}"  # "3 min", as recommend says it
        if self.samples:
            first = (f"collected {_n(self.samples, 'sample')} from {_n(self.containers, 'container')} "
                     f"({_n(self.workloads, 'workload')}) {took}")
        else:
            first = f"no samples written: no matching container was sampled {took}"
        lines = [
            first + (" (stopped early by signal)" if self.interrupted else ""),
            f"  ticks: {self.ticks}" + (f" ({self.missed_ticks} missed: sampling fell behind)"
                                        if self.missed_ticks else ""),
            f"  sources: {how}",
            f"  events: {self.events}",
            f"  written: {_n(self.files, 'file')} under {self.out}",
        ]
        if self.no_cpu:
            why = ", ".join(f"{n} {reason}" for reason, n in self.no_cpu.items())
            lives = sum(self.no_cpu.values())
            many = self.no_cpu_containers and self.no_cpu_containers != lives
            counted = f"{_n(lives, 'run')} of {_n(self.no_cpu_containers, 'container')}" if many else _n(
                lives, "container"
            )
            lines.append(f"  no CPU value: {counted} ({why})")
        if self.oom_kills:
            unread = ""
            if self.oom_unread:  # their rows count as samples above, yet measured nothing
                one = self.oom_unread == 1
                whose = "its row holds the limits it" if one else "their rows hold the limits they"
                unread = f" ({self.oom_unread} before any reading: {whose} ran with, no usage)"
            lines.append(f"  OOM kills: {self.oom_kills}{unread}")
            if self.oom_kernel_only:
                told = "in the kernel's log only (the engine sent no event)"
                lines.append(f"    {self.oom_kernel_only} of them {told}")
        if not self.kernel_log:
            lines.append("  OOM kills the engine does not report cannot be recovered: /dev/kmsg is not "
                         "readable (needs root or CAP_SYSLOG)")
        if self.dropped:
            lines.append(f"  lost: {self.dropped} rows dropped while the disk refused writes (memory cap)")
        return "\n".join(lines)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


# ------------------------------------------------------------------------------- pure sampling


def cpu_rates(
    prev: Counters | None, cur: Counters, cpu_limit: float | None
) -> tuple[float | None, float | None] | None:
    """(cores, throttled share) between two readings; None when ``cur`` is not newer than ``prev``.

    Cores are mean CPU over the span; the throttled share is Δthrottled/Δperiods, only when the
    container has a CPU limit (0.0 when no CFS period elapsed). A counter that went backwards
    (the cgroup was recreated) gives no value rather than a negative one.
    """
    if prev is None:
        return (None, None)
    dt = cur.t - prev.t
    if dt <= 0:
        return None
    cores = None
    if cur.cpu_ns is not None and prev.cpu_ns is not None and cur.cpu_ns >= prev.cpu_ns:
        cores = (cur.cpu_ns - prev.cpu_ns) / (dt * 1e9)
    throttled = None
    if cpu_limit and None not in (cur.periods, prev.periods, cur.throttled, prev.throttled):
        d_periods = cur.periods - prev.periods  # type: ignore[operator]
        d_throttled = cur.throttled - prev.throttled  # type: ignore[operator]
        if d_periods > 0 and d_throttled >= 0:
            throttled = min(1.0, d_throttled / d_periods)
        elif d_periods == 0:
            throttled = 0.0
    return (cores, throttled)


def sample_row(
    info: ContainerInfo,
    cur: Counters,
    rates: tuple[float | None, float | None],
    *,
    ts_ms: int,
    host: str,
    oom_events: int = 0,
) -> dict[str, object]:
    """One ``samples`` row (DESIGN.md schema) from a reading and its CPU rates."""
    oom = cur.oom_kills if cur.oom_kills is not None else oom_events
    return {
        "ts": ts_ms,
        "host": host,
        "workload": info.workload,
        "container_id": info.id,
        "container": info.name,
        "image": info.image,
        "cpu_cores": rates[0],
        "cpu_throttled": rates[1],
        "mem_working_set": cur.working_set,
        "mem_rss": cur.rss,
        "mem_peak": cur.peak,
        "pids": cur.pids,
        "mem_limit": info.mem_limit,
        "mem_reservation": info.mem_reservation,
        "cpu_limit": info.cpu_limit,
        "pids_limit": info.pids_limit,
        "oom_kills": max(oom, oom_events),
        "restarts": info.restarts,
    }


def event_row(event: dict[str, Any], info: ContainerInfo | None, host: str) -> dict[str, object]:
    """One ``events`` row from an engine event (``timeNano`` is its time)."""
    attrs = (event.get("Actor") or {}).get("Attributes") or {}
    name = (info.name if info else attrs.get("name")) or ""
    exit_code = attrs.get("exitCode")
    ts_ms = int(event.get("timeNano", 0)) // 1_000_000 or int(event.get("time", time.time())) * 1000
    return {
        "ts": ts_ms,
        "host": host,
        "workload": info.workload if info else workload_name(attrs, name),
        "container_id": event.get("id") or (event.get("Actor") or {}).get("ID"),
        "container": name,
        "kind": event.get("Action") or event.get("status"),
        "exit_code": int(exit_code) if exit_code not in (None, "") else None,
    }



class Columns:
    """Rows buffered column by column (a long flush interval x many containers stays small)."""

    def __init__(self, kind: store.Kind) -> None:
        self.kind = kind
        self.names = store.SCHEMAS[kind].names
        self.clear()

    def clear(self) -> None:
        self.columns: dict[str, list[object]] = {name: [] for name in self.names}

    def append(self, row: dict[str, object]) -> None:
        for name in self.names:
            self.columns[name].append(row.get(name))

    def __len__(self) -> int:
        return len(self.columns["ts"])

    def table(self) -> pa.Table:
        return pa.table(self.columns, schema=store.SCHEMAS[self.kind])
