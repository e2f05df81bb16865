"""Fill the dataset from Prometheus: Kubernetes/K3s cAdvisor and kube-state-metrics history.

``pull`` writes the same ``samples``/``events`` Parquet dataset the Docker collector writes, so
every later step works unchanged. Queries go per metric and per namespace (never per container),
each split in time chunks below Prometheus's 11,000-points-per-series limit and small enough that
one response stays a few tens of MB. All files go to a hidden staging folder first and move into
the dataset only when the whole pull succeeded: a failed pull leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import math
import os
import secrets
import shutil
import signal
import threading
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rightsize import store
from rightsize.errors import RightsizeError
from rightsize.sources.prometheus_checks import (
    PrometheusWarning,
    check_size,
    warn_exported,
    warn_few_samples,
    warn_overlap,
)
from rightsize.sources.prometheus_client import CHUNK_POINTS, PromClient, chunks
from rightsize.sources.prometheus_frames import CONTAINERS, SPECS, ChunkBuilder, Key, MetricSpec, Progress
from rightsize.sources.prometheus_nodes import Moves, moved_pods, node_of, read_moves
from rightsize.sources.prometheus_options import cluster_name, namespace_list
from rightsize.sources.prometheus_windows import fetch, windows
from rightsize.sources.prometheus_workloads import Owners
from rightsize.units import format_duration

POINTS_PER_QUERY = 1_000_000  # series x points in one response: ~25 MB of JSON
PARALLEL = 3  # queries in flight: the server computes one while we parse another, and no more
WORKING_SET = "container_memory_working_set_bytes"


@dataclass(frozen=True)
class PullSummary:
    """What one ``pull`` did; ``str()`` is the line ``rightsize collect`` prints."""

    url: str
    out: Path
    start: float
    end: float
    step: float
    rate_window: float
    namespaces: tuple[str, ...]
    hosts: tuple[str, ...]
    containers: int
    workloads: int
    samples: int
    events: int
    files: int
    queries: int
    retries: int
    points: int
    bytes: int
    seconds: float
    missing: tuple[str, ...] = ()

    def __str__(self) -> str:
        lost = f"; missing metrics: {', '.join(self.missing)}" if self.missing else ""
        return (
            f"pulled {self.samples:,} samples and {self.events:,} events of "
            f"{_n(self.containers, 'container')} ({_n(self.workloads, 'workload')}, "
            f"{_n(len(self.namespaces), 'namespace')}, "
            f"{_n(len(self.hosts), 'node')}) "
            f"from {self.url}: {format_duration(self.end - self.start)} at {format_duration(self.step)} "
            f"steps, {self.queries} queries ({self.retries} retries, {self.bytes / 1e6:.1f} MB) "
            f"in {self.seconds:.1f}s -> {self.out}{lost}"
        )


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")  # "1 namespaces" after one --namespace


def pull(
    url: str,
    out: Path,
    since: float,
    step: float,
    namespaces: Sequence[str] | None = None,
    quiet: bool = False,
    verify_tls: bool = True,
    *,
    now: float | None = None,
    chunk_points: int = CHUNK_POINTS,
    cluster: str | None = None,
) -> PullSummary:
    """Pull ``since`` seconds of history at ``step`` seconds from the Prometheus at ``url`` into ``out``.

    Raises RightsizeError (before writing anything) for a range of more than MAX_POINTS_PER_SERIES
    steps (before any query), an unreachable URL, something that is not a Prometheus, missing core
    metrics, or no container series in the range/namespaces.
    ``now`` (default: the clock) ends the range; ``chunk_points`` caps the steps per query.
    ``namespaces``: names, or comma lists of them. ``cluster``: a name that prefixes every row's
    namespace, node and container id (``prod:shop/…``), to keep several clusters apart in one root.
    """
    t0 = time.monotonic()
    if not step or step < 1 or not math.isfinite(step):
        raise RightsizeError(f"--step must be at least 1s, got {format_duration(step or 0)}")
    if not since or since < step or not math.isfinite(since):
        got = format_duration(since or 0)
        raise RightsizeError(f"--since must be at least one step ({format_duration(step)}), got {got}")
    end = math.floor((time.time() if now is None else now) / step) * step
    start = end - math.floor(since / step) * step
    if start < 0:  # else hours of empty queries (1000000d), or an overflow in the time formatting
        too_far = f"--since {format_duration(since)} reaches back before 1970"
        raise RightsizeError(f"{too_far}: ask for less, e.g. 14d")
    check_size(since, step, round((end - start) / step) + 1)
    wanted, cluster = namespace_list(namespaces), cluster_name(cluster)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise RightsizeError(f"--out {out} exists and is not a directory")

    with PromClient(url, verify_tls=verify_tls) as client:
        client.probe()
        present = client.metric_names(start, end)
        with warnings.catch_warnings(record=True) as held:  # said once the namespaces are found:
            warnings.simplefilter("always")  # a typo'd --namespace is then one error line alone
            specs, missing = _usable_specs(present, client.url, start, end)
        inventory, seen_on = _inventory(client, start, end, wanted)
        for held_warning in held:
            warnings.warn(held_warning.message, held_warning.category, stacklevel=2)
        # only the user's namespaces in the regex: all of a big cluster's would overflow the URL
        ns_re = "|".join(_escape(ns) for ns in inventory) if wanted else ".+"
        owners, moved = _owners(client, present, ns_re, start, end)
        # where kube-state-metrics does not say which node ran a pod (not scraped, not watching the
        # namespace), cAdvisor's series do: each node's kubelet exports its own containers
        cadvisor = f"{WORKING_SET}{{{CONTAINERS}}}"
        movers = {ns: (moved.get(ns, []), "kube_pod_info") if ns in owners and owners[ns].nodes
                  else (seen_on.get(ns, []), cadvisor) for ns in inventory}  # fmt: skip
        if "kube_pod_info" in present and not owners.keys() & inventory.keys():
            warn_exported(client, ns_re, start, end)
        scrape = _scrape_interval(client, ns_re, start, end)
        win = windows(step, scrape)
        warn_few_samples(since, step, scrape, round((end - start) / step) + 1)
        window, peak_window = win.rate, win.peak
        plan = [
            (ns, a, b)
            for ns, keys in inventory.items()
            for a, b in chunks(start, end, step, min(chunk_points, max(60, POINTS_PER_QUERY // len(keys))))
        ]
        staging = out / f".pull-{secrets.token_hex(4)}"
        builder = ChunkBuilder(step, urlsplit(url).hostname or "prometheus", cluster)
        moves = {ns: read_moves(client, ns, pods, start, end, step, chunk_points, _escape, source)
                 for ns, (pods, source) in movers.items() if pods}  # fmt: skip
        files: list[Path] = []
        created, published = not out.exists(), False
        previous_term = _term_as_interrupt()
        try:
            staging.mkdir(parents=True)
        except OSError as exc:
            raise RightsizeError(f"cannot write to --out {out}: {exc.strerror or exc}") from None
        try:
            with (
                Progress(total=len(plan) * len(specs), quiet=quiet) as progress,
                ThreadPoolExecutor(PARALLEL, thread_name_prefix="rightsize-prom") as pool,
            ):
                for ns, a, b in plan:
                    futures = {
                        spec.column: pool.submit(
                            fetch, client, spec.query(ns, window, peak_window, win.burst), a, b, step,
                            win.steps_per_query(step, len(inventory[ns]), spec.burst),
                        )
                        for spec in specs
                    }
                    results = {}
                    try:
                        for column, future in futures.items():
                            results[column] = future.result()
                            progress.advance(f"{ns} {column}")
                    except BaseException:
                        client.abort()  # the others stop retrying, so the error shows at once
                        raise
                    tables = builder.build(ns, a, b, results, owners.get(ns, Owners()), inventory[ns],
                                           moves.get(ns, Moves()))  # fmt: skip
                    for host, kind, table in tables:
                        store.append(staging, table, kind, host)
            warn_overlap(staging, out)
            files, published = _publish(staging, out), True
        except OSError as exc:  # disk full, storage gone: nothing of this pull stays behind
            raise RightsizeError(f"writing {out} failed: {exc.strerror or exc}") from None
        finally:
            if previous_term is not None:
                signal.signal(signal.SIGTERM, previous_term)
            shutil.rmtree(staging, ignore_errors=True)
            if created and not published:  # failed or Ctrl-C: not even the folder it made
                with contextlib.suppress(OSError):
                    out.rmdir()

    return PullSummary(
        url=client.url,
        out=out,
        start=start,
        end=end,
        step=step,
        rate_window=window,
        namespaces=tuple(inventory),
        hosts=tuple(sorted(builder.hosts)),
        containers=len(builder.containers),
        workloads=len(builder.workloads),
        samples=builder.samples,
        events=builder.events,
        files=len(files),
        queries=client.stats.queries,
        retries=client.stats.retries,
        points=client.stats.points,
        bytes=client.stats.bytes,
        seconds=time.monotonic() - t0,
        missing=missing,
    )


def _term_as_interrupt() -> Any:
    """SIGTERM (timeout, systemd, a Job's deadline) unwinds like Ctrl-C: the staging folder goes too.
    Returns the previous handler (None off the main thread, where handlers cannot be set)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, interrupt)


def _usable_specs(
    present: set[str], url: str, start: float, end: float
) -> tuple[list[MetricSpec], tuple[str, ...]]:
    """The specs whose metrics exist; an error if a core one is missing, one warning for the rest."""
    span = f"{_iso(start)} .. {_iso(end)}"
    if not present:
        raise RightsizeError(
            f"Prometheus at {url} has no samples at all in {span}: is it scraping anything, and does "
            "its retention reach back that far?"
        )
    usable, missing, lost, fatal = [], [], [], []
    for spec in SPECS:
        names = spec.available(present)
        if spec.fallback_for:
            if names and spec.fallback_for not in present:
                usable.append(spec.with_names(names))
            continue
        if names:
            usable.append(spec.with_names(names))
            continue
        if spec.absent_ok_with and spec.absent_ok_with in present:  # no container ever terminated
            continue
        label = " or ".join(spec.names) if spec.any_of else " and ".join(spec.names)
        if spec.required:
            fatal.append(f"{label} ({spec.lost})")
        elif label not in missing:
            missing.append(label)
            lost.append(spec.lost)
    if fatal:
        hint = (
            "no cAdvisor metrics at all: scrape the kubelet's /metrics/cadvisor"
            if WORKING_SET not in present
            else "check the scrape config"
        )
        raise RightsizeError(
            f"Prometheus at {url} has no {'; no '.join(fatal)} in {span} — without them there is "
            f"nothing to recommend ({hint})"
        )
    if missing:
        warnings.warn(
            f"Prometheus has no {', '.join(missing)}: the dataset will lack {', '.join(dict.fromkeys(lost))}",
            PrometheusWarning,
            stacklevel=3,
        )
    return usable, tuple(missing)


def _not_kubernetes(client: PromClient, start: float, end: float) -> str:
    """Why, when the working-set series are there without Kubernetes labels: cAdvisor run beside
    Docker names a container by ``name``/``id``, which no pod/container selector matches."""
    for labels in client.series(f'{WORKING_SET}{{name!=""}}', start, end)[:1]:
        return (
            f"; its {WORKING_SET} series have no Kubernetes namespace/pod/container labels (e.g. "
            f'name="{labels["name"]}": cAdvisor beside Docker?): --source prometheus reads a Kubernetes '
            "cluster's cAdvisor; on a Docker host run rightsize collect there"
        )
    return ""


def _inventory(
    client: PromClient, start: float, end: float, wanted: tuple[str, ...]
) -> tuple[dict[str, dict[Key, tuple[str, str]]], dict[str, list[str]]]:
    """namespace -> {(pod, container): (image, node)} of the containers with a working-set series
    in range (an index lookup: no samples read; the node is a fallback for kube_pod_info), and
    namespace -> the pods whose series name more than one node (rescheduled under their name)."""
    sel = CONTAINERS + (f',namespace=~"{"|".join(_escape(n) for n in wanted)}"' if wanted else "")
    found: dict[str, dict[Key, tuple[str, str]]] = {}
    seen: list[dict[str, str]] = []
    for labels in client.series(f"{WORKING_SET}{{{sel}}}", start, end):
        if labels.get("namespace") and labels.get("pod"):
            node = node_of(labels)
            seen.append({"namespace": labels["namespace"], "pod": labels["pod"], "node": node})
            info = found.setdefault(labels["namespace"], {})
            old = info.get((labels["pod"], labels["container"]), ("", ""))
            info[(labels["pod"], labels["container"])] = (labels.get("image") or old[0], node or old[1])
    span = f"between {_iso(start)} and {_iso(end)}"
    if not found:
        where = f" in namespace(s) {', '.join(wanted)}" if wanted else ""
        raise RightsizeError(
            f"Prometheus at {client.url} has no container series{where} {span}"
            + ("" if wanted else _not_kubernetes(client, start, end))
        )
    absent = [n for n in wanted if n not in found]
    if absent:
        warnings.warn(f"no container series in namespace(s) {', '.join(absent)} {span}", PrometheusWarning,
                      stacklevel=3)
    return dict(sorted(found.items())), moved_pods(seen)


def _owners(
    client: PromClient, present: set[str], ns_re: str, start: float, end: float
) -> tuple[dict[str, Owners], dict[str, list[str]]]:
    """Per namespace: who owns which pod and where it ran (kube-state-metrics label sets), and the
    pods it puts on more than one node (rescheduled under the same name: a StatefulSet's)."""
    names = ("kube_pod_owner", "kube_replicaset_owner", "kube_job_owner", "kube_pod_info")
    by_ns: dict[str, dict[str, list[dict[str, str]]]] = {}
    for name in names:
        if name not in present:
            continue
        for labels in client.series(f'{name}{{namespace=~"{ns_re}"}}', start, end):
            by_ns.setdefault(labels.get("namespace", ""), {}).setdefault(name, []).append(labels)
    moved = moved_pods(s for groups in by_ns.values() for s in groups.get("kube_pod_info", []))
    owners = {ns: Owners.from_series(*(groups.get(n, []) for n in names)) for ns, groups in by_ns.items()}
    return owners, moved


def _scrape_interval(client: PromClient, ns_re: str, start: float, end: float) -> float:
    """The scrape interval, estimated from the last hour of CPU samples (or, when that hour has none:
    a cluster switched off, then pulled, from the middle and the first hour of the range). It sets
    the rate() window (at least one step and four scrapes, so a missed scrape or two still leaves
    two samples) and whether a step spans several scrapes (then gauges are read as their max)."""
    query = (
        "quantile(0.5, count_over_time(container_cpu_usage_seconds_total"
        f'{{{CONTAINERS},namespace=~"{ns_re}"}}[1h]))'
    )
    for at in dict.fromkeys((end, min(end, max((start + end) / 2, start + 3600)), min(end, start + 3600))):
        try:
            result = client.instant(query, at)
        except RightsizeError:
            result = []
        if result and result[0][1] >= 2:
            return 3600.0 / result[0][1]
    return 60.0  # Prometheus's default scrape_interval, if the data won't tell


def _publish(staging: Path, out: Path) -> list[Path]:
    """Move every finished file from the staging folder into the dataset (same file system)."""
    moved: list[Path] = []
    if not staging.exists():
        return moved
    for f in sorted(staging.rglob("*.parquet")):
        if f.name.startswith("."):
            continue
        dest = out / f.relative_to(staging)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(f, dest)
        moved.append(dest)
    return moved


def _escape(value: str) -> str:
    """A literal inside a PromQL regex string (Kubernetes names are DNS labels; be safe anyway)."""
    out = []
    for ch in value:
        if ch in r".^$*+?()[]{}|\\":
            out.append("\\\\" + ch)
        elif ch == '"':
            out.append('\\"')
        else:
            out.append(ch)
    return "".join(out)


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(t))
