"""The time range a workload's usage chart covers, and the words for samples left outside it.

One row with a broken timestamp (1970-01-01 from a zero, the year 2100 from a bad clock or unit)
stretched the chart's shared time grid over decades: the real day of data fell into one or two of
its 500 buckets. Impossible times like those are now left out by every reader
(``analysis/plausible.py``); possible but far ones (a file from a host whose clock was weeks off)
still are. Such stray samples are few and far away, so the chart covers the dense range and
the page says what it left out. They are not dropped from anything else: ``recommend`` counts
them (its percentiles, sample counts and history length), so the tables and the distributions
count them too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from rightsize.models import history_text

# A stray group is at most 1% of the samples (or one sample) and lies more than FAR times the span
# of the rest away from it; the rest's span counts as at least an hour, so a burst at one instant
# does not make a sample minutes later a stray.
SHARE = 0.01
FAR = 10.0
MIN_SPAN_MS = 3_600_000.0
MIN_SAMPLES = 10  # fewer: no rest to speak of
KIND = "samples far from the rest in time"  # the overview folds this warning across workloads


@dataclass(frozen=True)
class Span:
    """The dense time range (ms since epoch) and the samples before and after it."""

    lo: float
    hi: float
    before: npt.NDArray[np.float64]  # the strays' times, sorted
    after: npt.NDArray[np.float64]

    @property
    def strays(self) -> int:
        return len(self.before) + len(self.after)

    def inside(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
        return (t >= self.lo) & (t <= self.hi)


def dense_span(t: npt.NDArray[np.float64]) -> Span:
    """The range of ``t`` (ms) without the stray groups at either end (see the module's doc)."""
    t = np.sort(t[np.isfinite(t)])
    n = len(t)
    if not n:
        return Span(0.0, 0.0, t, t)
    if n < MIN_SAMPLES:
        return Span(float(t[0]), float(t[-1]), t[:0], t[:0])
    # each end is measured against the other end without its own possible strays: a 1970 row and
    # a 2100 row in one workload would otherwise each hide the other
    most = max(1, int(n * SHARE))
    lo = _cut(t, most, head=True)
    hi = _cut(t, most, head=False)
    return Span(float(t[lo]), float(t[hi]), t[:lo], t[hi + 1 :])


def _cut(t: npt.NDArray[np.float64], most: int, *, head: bool) -> int:
    """The index of the first (head) or last sample kept: the farthest cut of at most ``most``
    samples from that end whose gap to the rest exceeds ``FAR`` times the rest's span."""
    n = len(t)
    k = np.arange(1, most + 1)  # samples cut from this end
    if head:
        ends = k  # the first sample kept
        gaps = t[ends] - t[ends - 1]
        rest = t[n - 1 - most] - t[ends]
    else:
        ends = n - 1 - k  # the last sample kept
        gaps = t[ends + 1] - t[ends]
        rest = t[ends] - t[most]
    far = np.flatnonzero(gaps > FAR * np.maximum(rest, MIN_SPAN_MS))
    if not len(far):
        return 0 if head else n - 1
    return int(ends[far[-1]])


def _when(times: npt.NDArray[np.float64]) -> str:
    first, last = (f"{pd.Timestamp(float(v), unit='ms'):%Y-%m-%d %H:%M}" for v in (times[0], times[-1]))
    return f"at {first}" if first == last else f"from {first} to {last}"


def stray_text(span: Span) -> str:
    """What the page says about one workload's stray samples (empty: none)."""
    if not span.strays:
        return ""
    where = [
        f"{len(times)} {side} it ({_when(times)})"
        for times, side in ((span.before, "before"), (span.after, "after"))
        if len(times)
    ]
    return (
        f"{_samples(span.strays)} far outside the rest of the history ({_range(span.lo, span.hi)}): "
        f"{' and '.join(where)}. The usage chart shows that range only; the samples still count "
        "in the numbers above and in the distributions (a broken clock or timestamp column?)"
    )


def strays_warning(found: Sequence[tuple[str, Span]]) -> str:
    """One line for the whole report (the CLI's ``warning:``), naming the first workload."""
    total = sum(s.strays for _, s in found)
    name, first = found[0]
    others = f" and {len(found) - 1} more workload(s)" if len(found) > 1 else ""
    return (
        f"{total} sample(s) of '{name}'{others} lie far from the rest of the history "
        f"(e.g. {_when(np.concatenate([first.before, first.after]))}): the usage charts show the "
        "dense range only; those samples still count in the recommendations and distributions"
    )


def _samples(n: int) -> str:
    return f"{n} sample{'s' if n != 1 else ''} {'lies' if n == 1 else 'lie'}"


def _range(lo: float, hi: float) -> str:
    first, last = pd.Timestamp(lo, unit="ms"), pd.Timestamp(hi, unit="ms")
    return f"{first:%Y-%m-%d %H:%M} → {last:%Y-%m-%d %H:%M} UTC"


def header_span(spans: Sequence[tuple[float, float]]) -> str:
    """The header's time range over every workload's dense range."""
    if not spans:
        return "no samples"
    lo, hi = min(a for a, _ in spans), max(b for _, b in spans)
    return f"{_range(lo, hi)} ({history_text(max((hi - lo) / 1000, 0))})"
