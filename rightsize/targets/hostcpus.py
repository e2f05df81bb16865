"""A CPU limit above the CPU count of the host ``apply -f`` runs on.

Docker refuses a container whose ``cpus`` (NanoCPUs) exceeds the CPUs the engine may use ("Range of
CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"), so ``docker compose up`` fails on
the whole project. A workload that kept every core busy gets such a recommendation (2 saturated
cores: the default strategy's p99 +25% is 2.5, vpa's upper bound 5). What is written:

- the data's peak fits this host (it never used more CPUs than this host has, within sampling
  noise): the data was most likely collected here, and a limit of this host's CPU count keeps every
  peak measured: the limit (and a reservation above it) is capped there, with a warning;
- the data peaked above this host's CPU count: it comes from a larger host the file deploys to, so
  the recommendation is written as it is, with a warning that ``up`` fails on this host.

A ``cpu_quota`` is not bounded so (the engine checks only NanoCpus: a quota of 3 CPUs starts on 2),
so apply and check leave a service that limits CPU with one as recommended.
"""

from __future__ import annotations

import dataclasses
import os
import warnings

from rightsize.models import Recommendation, Values
from rightsize.units import format_cpus

_NOISE = 1.05  # a sampled peak a little above the CPU count (2.04 on 2 CPUs) is still this host's


def host_cpus() -> int:
    """The CPUs this process may run on: the count the engine checks (Go's runtime.NumCPU, the
    affinity mask) when dockerd runs on this machine."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # (not Linux)
        return os.cpu_count() or 1


def fit_host(rec: Recommendation, service: str, cpus: int, warn: bool = True) -> Recommendation:
    """``rec`` as apply writes it on a host of ``cpus`` CPUs (see the module's docstring); a CPU limit
    above ``cpus`` warns once, naming the service (unless ``warn`` is False: check says it in its row)."""
    values = rec.recommended
    if rec.resource != "cpu" or values is None or values.limit is None or values.limit <= cpus:
        return rec
    want = format_cpus(values.limit)
    peak = _peak(rec)
    seen = f"the data's peak is {format_cpus(peak)} CPUs" if peak is not None else "the data has no peak"
    if peak is not None and peak > cpus * _NOISE:
        if not warn:
            return rec
        warnings.warn(
            f"{service}: CPU limit {want} is above this host's {cpus} CPUs; written as recommended "
            f"({seen}: collected on a larger host), but `docker compose up` fails on this host",
            stacklevel=3,
        )
        return rec
    reservation = None if values.reservation is None else min(values.reservation, float(cpus))
    if warn:
        warnings.warn(
            f"{service}: CPU limit {want} capped at {cpus}, this host's CPU count ({seen}; Docker refuses "
            "more here); edit the file if it deploys to a larger host",
            stacklevel=3,
        )
    return dataclasses.replace(rec, recommended=Values(reservation, float(cpus)))


def _peak(rec: Recommendation) -> float | None:
    """The highest CPU use the recommendation saw (its max, else its highest percentile known)."""
    o = rec.observed
    return next((v for v in (o.max, o.p99, o.p95, o.p90, o.p50) if v is not None), None)
