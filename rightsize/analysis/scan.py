"""Profiles straight from a Parquet dataset folder."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from rightsize import store
from rightsize.analysis.history import histories
from rightsize.analysis.profile import Profile, profile_of
from rightsize.errors import RightsizeError

COLUMNS = [
    "ts", "workload", "container_id", "cpu_cores", "cpu_throttled", "mem_working_set", "mem_peak", "pids",
    "mem_limit", "mem_reservation", "cpu_limit", "pids_limit", "oom_kills", "restarts",
]  # fmt: skip


def scan_profiles(
    path: Path, *, since: str | None = None, qs: Iterable[float] = (), workloads: str | None = None
) -> list[Profile]:
    from rightsize.analysis.recommend import since_start

    files = store.list_files(path, "samples")
    if not files:
        raise RightsizeError(f"no samples under {store.dataset_dir(path)}: the dataset is empty")
    samples = store.read_table(path, "samples", COLUMNS).to_pandas()
    if samples.empty:
        raise RightsizeError(f"no readable samples under {store.dataset_dir(path)}")
    start = since_start(since, int(samples["ts"].max().value // 1_000_000))
    events = store.load_events(path)
    if start is not None:
        t = pd.Timestamp(start, unit="ms", tz="UTC")
        samples = samples[samples["ts"] >= t]
        events = events[events["ts"] >= t]
    return [profile_of(h, qs) for h in histories(samples, events)]
