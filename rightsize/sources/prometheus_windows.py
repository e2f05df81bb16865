"""How a pull reads between its steps: rate windows, per-step peaks and CPU bursts.

A range query returns one value per step. For a gauge that is one scrape, for ``rate()`` the mean
over its window. With a step of several scrapes both lose the short peaks a limit must hold: so
gauges are read as ``max_over_time`` over the step, and CPU, when the step is much longer than a
short rate window (four scrapes), as the highest short rate within the step (a subquery).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rightsize.sources.prometheus_client import PromClient, Series, chunks

# A subquery keeps its inner results in memory (series x inner points), and Prometheus refuses a
# query holding more than query.max-samples (50 M by default): a burst query asks for at most this
# many inner points at a time, splitting its chunk in time (the other queries keep theirs).
INNER_POINTS = 10_000_000


@dataclass(frozen=True)
class Windows:
    """The windows of one pull, from its step and the scrape interval."""

    rate: float  # rate() window: at least one step and four scrapes (two samples despite misses)
    peak: float  # max_over_time span of a peak gauge: the step, or 0 where a step is one scrape
    burst: tuple[float, float] | None  # (short rate window, subquery resolution), or None: the mean

    def steps_per_query(self, step: float, series: int, burst: bool) -> int:
        """How many steps one query of ``series`` series may span (a burst subquery evaluates its
        short rate at every resolution point of the step)."""
        if not burst or self.burst is None:
            return 2**62
        inner = max(1, round(step / self.burst[1]))
        return max(1, INNER_POINTS // (max(1, series) * inner))


def windows(step: float, scrape: float) -> Windows:
    """The pull's windows. The scrape interval is an estimate (3600 / 61 = 59 s for 60 s scrapes)
    and jitters, so "several scrapes" needs a 10 % margin: a step must never be empty."""
    short = float(math.ceil(4 * scrape))
    peak = step if step >= 1.1 * scrape else 0.0
    # where the step is about the short window, the rate over max(step, short) is already as short
    # as a rate can robustly be: the mean is kept (the cheaper query)
    burst = (short, float(max(1, round(scrape)))) if step >= 1.1 * short else None
    return Windows(float(math.ceil(max(step, 4 * scrape))), peak, burst)


def fetch(
    client: PromClient, query: str, start: float, end: float, step: float, max_steps: int
) -> list[Series]:
    """``query_range_split`` over [start, end] in pieces of at most ``max_steps`` steps."""
    out: list[Series] = []
    for a, b in chunks(start, end, step, max_steps):
        out += client.query_range_split(query, a, b, step)
    return out
