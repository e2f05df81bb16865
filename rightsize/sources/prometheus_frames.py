"""Which PromQL fills which dataset column, and turning range-query results into dataset rows.

Every query aggregates ``max by (namespace, pod, container)``: after a container restart its old
cgroup series lingers for the lookback window next to the new one, and two scrape jobs can export
the same container; ``max`` keeps one value per container and step without double counting.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Literal

import numpy as np
import pyarrow as pa

from rightsize import store
from rightsize.sources.prometheus_client import Series
from rightsize.sources.prometheus_events import Counters, events
from rightsize.sources.prometheus_nodes import Moves
from rightsize.sources.prometheus_options import qualified
from rightsize.sources.prometheus_workloads import Owners, workload_name

CONTAINERS = 'container!="",container!="POD"'  # "" = the pod's own cgroup, POD = the pause container
_BY = "max by (namespace, pod, container) "
Key = tuple[str, str]  # (pod, container)


@dataclass(frozen=True)
class MetricSpec:
    """One dataset column (or event source) and the PromQL that fills it."""

    column: str
    names: tuple[str, ...]
    template: str  # $m0, $m1: metric names; $sel: label selector; $w: rate window
    lost: str  # what the dataset lacks without it (said in the warning/error)
    required: bool = False
    any_of: bool = False  # names are alternatives (the first present wins) rather than all needed
    ksm: bool = False  # a kube-state-metrics series: no cAdvisor container filter
    fallback_for: str = ""  # queried only when this metric is missing (and never warned about)
    peak: bool = False  # a gauge whose highest value matters: the max over each step, not its last
    burst: bool = False  # a rate whose short peaks matter: the max of short rates over each step
    # beside this metric, this one's absence loses nothing and is not warned about (kube-state-metrics
    # exports a last termination reason only once a container has terminated)
    absent_ok_with: str = ""
    chosen: tuple[str, ...] = ()

    def available(self, present: set[str]) -> tuple[str, ...]:
        if self.any_of:
            return next(((n,) for n in self.names if n in present), ())
        return self.names if all(n in present for n in self.names) else ()

    def with_names(self, names: tuple[str, ...]) -> MetricSpec:
        return replace(self, chosen=names)

    def query(
        self, namespace: str, window: float, peak_window: float = 0.0,
        burst: tuple[float, float] | None = None,
    ) -> str:
        """The PromQL for one namespace; ``peak_window`` > 0 (a step of several scrapes): a peak
        gauge is read as ``max_over_time`` over each step, since a plain range query takes one
        sample per step and skips the scrapes between, a short spike among them. ``burst`` =
        (short rate window, resolution), for a step much longer than the rate window: a burst rate
        is the highest short rate within each step (a subquery), since the rate over the whole step
        is its mean and a burst of minutes vanishes in an hour's mean."""
        sel = f'namespace="{namespace}"' if self.ksm else f'{CONTAINERS},namespace="{namespace}"'
        template = self.template
        if self.peak and peak_window > 0:  # 1 ms short: Prometheus 2 ranges include both ends
            span = f"[{round(peak_window * 1000) - 1}ms]"
            template = template.replace("$m0{$sel}", f"max_over_time($m0{{$sel}}{span})")
        if self.burst and burst is not None and peak_window > 0:
            # windows ending in the step's last (step - short): a window ending just past the
            # step's start reads the previous step's scrapes, and a burst would count in both
            short, res = burst
            span = f"[{round(max(peak_window - short, res) * 1000)}ms:{round(res)}s]"
            template = template.replace("rate($m0{$sel}[$w])",
                                        f"max_over_time(rate($m0{{$sel}}[{round(short)}s]){span})")
        text = template.replace("$sel", sel).replace("$w", f"{int(window)}s")
        for i, name in enumerate(self.chosen or self.names):
            text = text.replace(f"$m{i}", name)
        return text


def _ksm(column: str, name: str, extra: str, lost: str) -> MetricSpec:
    return MetricSpec(column, (name,), _BY + f"($m0{{$sel,{extra}}})", lost, ksm=True)


SPECS: tuple[MetricSpec, ...] = (
    MetricSpec("mem_working_set", ("container_memory_working_set_bytes",), _BY + "($m0{$sel})",
               "memory use, so memory recommendations", required=True, peak=True),
    MetricSpec("cpu_cores", ("container_cpu_usage_seconds_total",), _BY + "(rate($m0{$sel}[$w]))",
               "CPU use, so CPU recommendations", required=True, burst=True),
    MetricSpec("mem_rss", ("container_memory_rss",), _BY + "($m0{$sel})", "anonymous memory (mem_rss)",
               peak=True),
    MetricSpec("mem_peak", ("container_memory_max_usage_bytes",), _BY + "($m0{$sel})",
               "peak memory between samples", peak=True),
    # cAdvisor exports the CFS counters only for a container with a CPU quota: where no container
    # has a CPU limit there are none, and nothing was throttled (not warned about)
    MetricSpec("cpu_throttled",
               ("container_cpu_cfs_throttled_periods_total", "container_cpu_cfs_periods_total"),
               _BY + "(rate($m0{$sel}[$w]) / rate($m1{$sel}[$w]))", "CPU throttling",
               absent_ok_with="container_memory_working_set_bytes"),
    # threads, not processes: a PIDs limit (pids.max) counts every task, threads included
    MetricSpec("pids", ("container_threads", "container_processes"), _BY + "($m0{$sel})",
               "PID counts, so PID recommendations", any_of=True, peak=True),
    # Kubernetes sets no PID limit on a container's cgroup (podPidsLimit is the pod's), so this is
    # "no limit" where present, and kube-prometheus-stack drops it by default: never warned about
    MetricSpec("pids_limit", ("container_threads_max",), _BY + "($m0{$sel})", "current PID limits",
               absent_ok_with="container_memory_working_set_bytes"),
    _ksm("mem_limit", "kube_pod_container_resource_limits", 'resource="memory"', "current limits"),
    _ksm("mem_reservation", "kube_pod_container_resource_requests", 'resource="memory"', "current requests"),
    _ksm("cpu_limit", "kube_pod_container_resource_limits", 'resource="cpu"', "current limits"),
    _ksm("cpu_reservation", "kube_pod_container_resource_requests", 'resource="cpu"', "current requests"),
    _ksm("restarts", "kube_pod_container_status_restarts_total", 'container!=""', "restarts"),
    replace(_ksm("oom_reason", "kube_pod_container_status_last_terminated_reason", 'reason="OOMKilled"',
                 "OOM kills that restarted a container"),
            absent_ok_with="kube_pod_container_status_restarts_total"),
    MetricSpec("oom_events", ("container_oom_events_total",), _BY + "($m0{$sel})",
               "OOM kills inside running containers"),
    # init containers' (native sidecars run beside the app: restartPolicy Always); a cluster without
    # any init container has none of these series, which loses nothing: never warned about
    *(replace(_ksm(f"init_{column}", f"kube_pod_init_container_resource_{kind}", f'resource="{res}"', ""),
              absent_ok_with="container_memory_working_set_bytes")
      for column, kind, res in (("mem_limit", "limits", "memory"), ("mem_reservation", "requests", "memory"),
                                ("cpu_limit", "limits", "cpu"), ("cpu_reservation", "requests", "cpu"))),
    # without kube-state-metrics, the limits the kubelet set on the cgroup (cAdvisor's view)
    MetricSpec("spec_mem_limit", ("container_spec_memory_limit_bytes",), _BY + "($m0{$sel})",
               "current limits", fallback_for="kube_pod_container_resource_limits"),
    MetricSpec("spec_cpu_limit", ("container_spec_cpu_quota", "container_spec_cpu_period"),
               _BY + "($m0{$sel} / $m1{$sel})", "current limits",
               fallback_for="kube_pod_container_resource_limits"),
)
# where a container has no value of its own column: an init container's, then cAdvisor's
_FALLBACKS = {"mem_limit": ("init_mem_limit", "spec_mem_limit"), "mem_reservation": ("init_mem_reservation",),
              "cpu_limit": ("init_cpu_limit", "spec_cpu_limit"), "cpu_reservation": ("init_cpu_reservation",)}
# A pod's requests and limits are fixed for its life (or change by an in-place resize): a step
# without a sample of them (kube-state-metrics scraped less often than cAdvisor, its lookback
# ending a step earlier, a new pod before its first scrape) holds the value next to it.
_HELD = ("mem_limit", "mem_reservation", "cpu_limit", "cpu_reservation", "spec_mem_limit", "spec_cpu_limit",
         "init_mem_limit", "init_mem_reservation", "init_cpu_limit", "init_cpu_reservation")
_UNLIMITED = 2.0**62  # cgroup v1 writes "no limit" as 9223372036854771712

# dataset column -> Arrow type of the value arrays built here
_INT64 = ("mem_working_set", "mem_rss", "mem_peak", "mem_limit", "mem_reservation")
_INT32 = ("pids", "pids_limit", "restarts")


@dataclass
class ChunkBuilder:
    """Turns the results of one (namespace, time chunk) into per-host samples/events tables.

    Mutable on purpose: counters (restarts, OOM kills) continue across chunks of one pull.
    """

    step: float
    default_host: str
    cluster: str = ""  # prefixed to namespaces and nodes: several clusters kept apart in one root
    hosts: set[str] = field(default_factory=set)
    containers: set[str] = field(default_factory=set)
    workloads: set[str] = field(default_factory=set)
    samples: int = 0
    events: int = 0
    _state: dict[tuple[str, str, str], Counters] = field(default_factory=dict)

    def build(
        self,
        namespace: str,
        start: float,
        end: float,
        results: Mapping[str, Sequence[Series]],
        owners: Owners,
        inventory: Mapping[Key, tuple[str, str]] | None = None,
        moves: Moves | None = None,
    ) -> Iterator[tuple[str, Literal["samples", "events"], pa.Table]]:
        step_ms = round(self.step * 1000)
        g0 = round(start * 1000)
        n = round((end - start) / self.step) + 1
        grid = g0 + step_ms * np.arange(n, dtype=np.int64)
        cols = {col: _align(series, g0, step_ms, n) for col, series in results.items()}
        samples: dict[str, list[pa.Table]] = {}
        found: dict[str, list[dict[str, object]]] = {}  # event rows per host
        for key, ws in sorted(cols.get("mem_working_set", {}).items()):
            mask = ~np.isnan(ws)
            if not mask.any():
                continue
            pod, container = key
            image, node = (inventory or {}).get(key, ("", ""))
            host = owners.nodes.get(pod) or node or self.default_host
            # a pod rescheduled under its name (a StatefulSet's): each step on the node it was on
            nodes = (moves or Moves()).at(pod, grid)
            on = np.full(n, host, dtype=object) if nodes is None else nodes
            ident = {
                "workload": qualified(self.cluster, workload_name(namespace, pod, container, owners)),
                "container_id": qualified(self.cluster, f"{namespace}/{pod}/{container}"),
                "container": f"{pod}/{container}",
            }
            state = self._state.setdefault((namespace, pod, container), Counters())
            values = {c: cols[c].get(key) if c in cols else None for c in cols}
            for col in _HELD:
                held = values.get(col)
                if held is not None:
                    values[col] = _hold(held, state, col)
            ooms, rows = events(grid, self.step, values.get("restarts"), values.get("oom_reason"),
                                values.get("oom_events"), state)
            for node_ in [host] if nodes is None else dict.fromkeys(on[mask]):
                part, h = mask if nodes is None else mask & (on == node_), qualified(self.cluster, node_)
                samples.setdefault(h, []).append(
                    _table(grid[part], part, values, ooms[part], {"host": h, **ident, "image": image or None})
                )
                self.hosts.add(h)
            for ts, k, code in rows:
                h = qualified(self.cluster, on[min(max((ts - g0) // step_ms, 0), n - 1)])
                found.setdefault(h, []).append({"ts": ts, "host": h, **ident, "kind": k, "exit_code": code})
            self.containers.add(ident["container_id"])
            self.workloads.add(ident["workload"])
            self.samples += int(mask.sum())
            self.events += len(rows)
        for host, tables in samples.items():
            yield host, "samples", pa.concat_tables(tables)
        for host, event_rows in found.items():
            if event_rows:
                yield host, "events", store.to_table(event_rows, "events")


def _align(series: Sequence[Series], g0: int, step_ms: int, n: int) -> dict[Key, np.ndarray]:
    """Results on the common step grid, one float array per (pod, container); NaN = no value."""
    out: dict[Key, np.ndarray] = {}
    for s in series:
        key = (s.labels.get("pod", ""), s.labels.get("container", ""))
        arr = out.setdefault(key, np.full(n, np.nan))
        idx = (s.ts - g0) // step_ms
        ok = (idx >= 0) & (idx < n)
        arr[idx[ok]] = np.fmax(arr[idx[ok]], s.values[ok])
    return out


def _hold(values: np.ndarray, state: Counters, name: str) -> np.ndarray:
    """``values`` with each NaN step taking the last value before it (from an earlier chunk too),
    or, before the first, the first value after it; all NaN stays NaN (none known yet)."""
    known = ~np.isnan(values)
    before = state.held.get(name, np.nan)
    if known.any():
        last = np.maximum.accumulate(np.where(known, np.arange(len(values)), -1))
        first = before if not np.isnan(before) else values[np.argmax(known)]
        values = np.where(last >= 0, values[np.maximum(last, 0)], first)
        state.held[name] = float(values[-1])
    elif not np.isnan(before):
        values = np.full(len(values), before)
    return values


def _table(
    ts: np.ndarray,
    mask: np.ndarray,
    values: Mapping[str, np.ndarray | None],
    ooms: np.ndarray,
    ident: Mapping[str, str | None],
) -> pa.Table:
    n = len(ts)
    arrays: dict[str, pa.Array] = {"ts": pa.array(ts, type=pa.timestamp("ms", tz="UTC"))}
    for name, value in ident.items():
        arrays[name] = pa.array([value] * n, type=pa.string())
    for field_ in store.SAMPLES_SCHEMA:
        col = field_.name
        if col in arrays:
            continue
        if col == "oom_kills":
            arrays[col] = pa.array(ooms.astype(np.int32))
            continue
        raw = values.get(col)
        for fallback in _FALLBACKS.get(col, ()):
            raw = values.get(fallback) if raw is None else raw
        if raw is None:
            arrays[col] = pa.nulls(n, type=field_.type)
            continue
        x = raw[mask]
        if col in ("pids_limit", "mem_limit", "cpu_limit"):
            x = np.where((x > 0) & (x < _UNLIMITED), x, np.nan)  # cAdvisor: 0 (or huge) = no limit
        missing = ~np.isfinite(x)
        if col in _INT64 or col in _INT32:
            ints = np.round(np.where(missing, 0, x)).astype(np.int64)
            arrays[col] = pa.array(ints, mask=missing).cast(field_.type)
        else:
            arrays[col] = pa.array(np.where(missing, np.nan, x), mask=missing).cast(field_.type)
    return pa.table(arrays, schema=store.SAMPLES_SCHEMA)


class Progress:
    """A rich progress bar on stderr over the planned queries (nothing when quiet)."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.total = total
        self.quiet = quiet
        self._bar: object = None
        self._task: object = None

    def __enter__(self) -> Progress:
        if not self.quiet:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
            from rich.progress import Progress as RichProgress

            bar = RichProgress(
                TextColumn("pulling {task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeRemainingColumn(), console=Console(stderr=True), transient=True,
            )
            bar.start()
            self._task = bar.add_task("", total=self.total)
            self._bar = bar
        return self

    def advance(self, description: str) -> None:
        if self._bar is not None:
            self._bar.update(self._task, description=description, advance=1)  # type: ignore[attr-defined]

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.stop()  # type: ignore[attr-defined]
