"""Checks of a Prometheus pull that end in an error line or one warning: the size asked for, how
kube-state-metrics was scraped, and a dataset that already holds the days pulled."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from rightsize.errors import RightsizeError
from rightsize.sources.prometheus_client import PromClient
from rightsize.units import format_duration

# Steps per series a pull may ask for. 90d at 15s (518,401) or a year at 1m (525,601) fit; beyond
# it a step finer than any scrape (1s) or years of history: hours of queries, for repeated samples.
MAX_POINTS_PER_SERIES = 1_000_000


class PrometheusWarning(UserWarning):
    """Something the pull could not get (a metric, a namespace); the rest is still usable."""


def check_size(since: float, step: float, points: int) -> None:
    """Refuse a pull of more than MAX_POINTS_PER_SERIES steps, naming a step and a --since that fit."""
    if points <= MAX_POINTS_PER_SERIES:
        return
    fits = MAX_POINTS_PER_SERIES - 1  # steps after the first point
    units = (86400, 3600, 60, 1)
    need = since / fits  # the smallest step that fits, rounded up to whole units of its size
    unit = next((u for u in units if need >= u), 1)
    larger = math.ceil(need / unit) * unit
    longest = fits * step  # the longest --since that fits, rounded down likewise
    unit = next((u for u in units if longest >= u), 1)
    shorter = math.floor(longest / unit) * unit
    raise RightsizeError(
        f"--since {format_duration(since)} at --step {format_duration(step)} is {points:,} points per "
        f"series (at most {MAX_POINTS_PER_SERIES:,}): use a larger --step ({format_duration(larger)}) "
        f"or a shorter --since ({format_duration(shorter)})"
    )


def warn_exported(client: PromClient, ns_re: str, start: float, end: float) -> None:
    """kube-state-metrics scraped without ``honor_labels: true`` beside a job that sets ``namespace``:
    Prometheus renames its labels ``exported_namespace``, and no per-namespace query finds them."""
    if client.series(f'kube_pod_info{{exported_namespace=~"{ns_re}"}}', start, end)[:1]:
        warnings.warn(
            "kube-state-metrics' series carry the pods' namespace as exported_namespace (its scrape job "
            "lacks honor_labels: true): current limits, requests, restarts and owners are not read",
            PrometheusWarning,
            stacklevel=3,
        )


def warn_overlap(staging: Path, out: Path) -> None:
    """Say so when ``out`` already holds samples of the same containers over overlapping times (an
    earlier pull of an overlapping range): the dataset would count those samples twice. Another
    namespace's containers on the same nodes and days, or the next days' samples, are no overlap."""
    seen = set()
    for f in staging.glob("samples/date=*/*.parquet"):
        host = f.name.rsplit("-", 2)[0]
        older = list((out / f.parent.relative_to(staging)).glob(f"{host}-*.parquet"))
        if not older or host in seen:
            continue
        new, old = _spans([f]), _spans(older)
        if any(new[c][0] <= old[c][1] and old[c][0] <= new[c][1] for c in new.keys() & old.keys()):
            seen.add(host)
    if seen:
        warnings.warn(
            f"{out} already holds samples of {', '.join(sorted(seen))} at the times just pulled: "
            "overlapping pulls count those samples twice (pull into a new --out, or a later --since)",
            PrometheusWarning,
            stacklevel=3,
        )


def _spans(files: list[Path]) -> dict[str, tuple[float, float]]:
    """container_id -> (first, last) sample time in ``files`` (unreadable files are left out)."""
    spans: dict[str, tuple[float, float]] = {}
    for f in files:
        try:
            table = pq.read_table(f, columns=["container_id", "ts"])
        except (OSError, pa.ArrowException):  # recommend names a broken file; not this check's job
            continue
        grouped = table.group_by("container_id").aggregate([("ts", "min"), ("ts", "max")]).to_pylist()
        for row in grouped:
            lo, hi = row["ts_min"].timestamp(), row["ts_max"].timestamp()
            old = spans.get(row["container_id"], (lo, hi))
            spans[row["container_id"]] = (min(old[0], lo), max(old[1], hi))
    return spans


# steps a hint may name (each a whole number of the units a user types)
_STEPS = (15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400)


def warn_few_samples(since: float, step: float, scrape: float, points: int) -> None:
    """Say so when the step leaves each container fewer samples than ``recommend`` needs of a
    workload (the strategies' default min_samples) while a shorter step would give them: a 3-day
    pull at 1h steps (73) gets a single replica no recommendation. Not when only a step finer than
    the scrape interval would (it repeats samples), nor for a --since shorter than recommend's
    min_history (1h): a short --since is then what recommend names."""
    from rightsize.analysis.strategies import DefaultSettings

    needed = int(DefaultSettings().min_samples)
    if points >= needed or since < DefaultSettings().min_history:  # then no step would do
        return
    fits = [s for s in _STEPS if s < step and s >= 0.9 * scrape and math.floor(since / s) + 1 >= needed]
    if fits:
        warnings.warn(
            f"--since {format_duration(since)} at --step {format_duration(step)} is {points} samples per "
            f"container, and recommend makes none for a workload of fewer than {needed} (replicas pool "
            f"theirs): --step {format_duration(fits[-1])} gives {math.floor(since / fits[-1]) + 1}",
            PrometheusWarning,
            stacklevel=3,
        )
