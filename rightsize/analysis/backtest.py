"""Rolling backtest: fit each strategy on a training window, apply its limits to the next test window.

Per workload, windows start at its first sample and slide by ``every``: train on [s, s+train), score
on [s+train, s+train+test), while the test window lies inside the history. Nothing from a test window
reaches the fit of that window. ``current`` is what the samples say the workload ran with at the
end of the training window. A strategy does learn from earlier windows, as it would when run every
week: each earlier test window in which usage exceeded the limit it set counts as an OOM kill at that limit
(``History.oom_limits``), as the kill would be in the events of a real run.

``current`` is the pseudo-strategy "what the dataset ran with": the limits recorded in the samples
(hand-provisioned sizes in a trace), scored sample by sample on the same test windows.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from rightsize.analysis.backtest_table import format_table as format_table  # its old home: re-exported
from rightsize.analysis.scoring import FIELDS, Limits, Score, score_window, summarize
from rightsize.analysis.series import Series, load_series
from rightsize.errors import RightsizeError
from rightsize.globs import joined, matches, warn_unmatched
from rightsize.models import Recommendation, Values
from rightsize.units import format_duration, parse_duration, refuse_bare_number

if TYPE_CHECKING:
    from rightsize.analysis.history import History

CURRENT = "current"
DEFAULT_STRATEGIES = ("default", "krr", "vpa")


@dataclass(frozen=True)
class Window:
    """Index ranges into one Series: train [train_lo, train_hi), test [test_lo, test_hi); times in ms."""

    start: int
    train_lo: int
    train_hi: int
    test_lo: int
    test_hi: int
    test_start: int
    test_end: int


MAX_WINDOWS = 1_000_000  # workload-windows in one run (a year of 50 workloads slid hourly: 411,600)


def _window_count(ts: np.ndarray, train_ms: int, test_ms: int, every_ms: int) -> int:
    return max(0, (int(ts[-1]) - int(ts[0]) - train_ms - test_ms) // every_ms + 1) if len(ts) else 0


def windows(ts: np.ndarray, train_ms: int, test_ms: int, every_ms: int) -> list[Window]:
    """The rolling windows over sorted ``ts`` whose test window ends inside the history."""
    if not len(ts):
        return []
    first = int(ts[0])
    count = _window_count(ts, train_ms, test_ms, every_ms)
    if count <= 0:
        return []
    starts = first + every_ms * np.arange(count, dtype=np.int64)
    edges = np.searchsorted(
        ts, np.stack([starts, starts + train_ms, starts + train_ms + test_ms]), side="left"
    )
    return [
        Window(int(s), int(a), int(b), int(b), int(c), int(s + train_ms), int(s + train_ms + test_ms))
        for s, a, b, c in zip(starts, edges[0], edges[1], edges[2], strict=True)
    ]


@dataclass(frozen=True)
class WorkloadScore:
    workload: str
    scores: dict[str, Score]

    def to_dict(self) -> dict[str, Any]:
        return {"workload": self.workload, "strategies": {k: v.to_dict() for k, v in self.scores.items()}}


@dataclass(frozen=True)
class BacktestResult:
    train_seconds: float
    test_seconds: float
    every_seconds: float
    strategies: dict[str, Score]
    workloads: tuple[WorkloadScore, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "train": format_duration(self.train_seconds),
            "test": format_duration(self.test_seconds),
            "every": format_duration(self.every_seconds),
            "strategies": {k: v.to_dict() for k, v in self.strategies.items()},
            "workloads": [w.to_dict() for w in self.workloads],
        }


def _values(rec: Recommendation | None) -> Values | None:
    return rec.recommended if rec is not None and rec.recommended is not None else None


def _limit_at(s: Series, column: str, at: int) -> float | None:
    """The dataset's value of ``column`` at the latest sample before ``at`` (ms)."""
    i = int(np.searchsorted(s.ts, at, side="left")) - 1
    if i < 0:
        return None
    v = float(s[column][i])
    return v if np.isfinite(v) and v > 0 else None


def _dataset_current(s: Series, at: int) -> dict[str, Values]:
    return {
        "memory": Values(_limit_at(s, "mem_reservation", at), _limit_at(s, "mem_limit", at)),
        "cpu": Values(_limit_at(s, "cpu_reservation", at), _limit_at(s, "cpu_limit", at)),
        "pids": Values(None, _limit_at(s, "pids_limit", at)),
    }


def _ooms_between(s: Series, lo: int, hi: int) -> np.ndarray:
    """Limits in force at the real OOM kills with lo <= ts < hi (NaN where none was set)."""
    a, b = np.searchsorted(s.oom_ts, [lo, hi], side="left")
    return np.array(
        [_limit_at(s, "mem_limit", int(t) + 1) or np.nan for t in s.oom_ts[a:b]], dtype=np.float64
    )


class Recommender(Protocol):
    """What the backtest needs of a strategy (``strategies.Strategy`` is one)."""

    def recommend(self, h: History) -> tuple[Recommendation, ...]: ...


def _run_strategy(strategy: Recommender, s: Series, wins: list[Window]) -> list[np.ndarray]:
    """Fit/score one strategy over one workload's windows, carrying its limits and overruns forward."""
    from rightsize.analysis.history import History

    rows: list[np.ndarray] = []
    prev: Limits | None = None
    feedback: list[float] = []  # limits this strategy set that usage exceeded (= simulated OOM kills)
    mem, peak, cpu = s["mem_working_set"], s["mem_peak"], s["cpu_cores"]
    thr, pids = s["cpu_throttled"], s["pids"]
    for w in wins:
        tr = slice(w.train_lo, w.train_hi)
        te = slice(w.test_lo, w.test_hi)
        if w.test_hi <= w.test_lo or w.train_hi <= w.train_lo:
            continue
        real = _ooms_between(s, w.start, w.test_start)
        h = History(
            s.workload, s.ts[tr], mem[tr], peak[tr], cpu[tr], thr[tr], pids[tr],
            current=_dataset_current(s, w.test_start),
            oom_limits=(*real.tolist(), *feedback),
        )  # fmt: skip
        recs = {r.resource: r for r in strategy.recommend(h)}
        m, c = _values(recs.get("memory")), _values(recs.get("cpu"))
        if m is None or (m.limit is None and m.reservation is None):
            continue
        lim = Limits(
            mem_limit=m.limit if m.limit is not None else m.reservation,
            mem_reservation=m.reservation,
            cpu_limit=c.limit if c else None,
            cpu_reservation=(c.reservation if c.reservation is not None else c.limit) if c else None,
        )
        row = score_window(
            mem[te], cpu[te], float(lim.mem_limit or np.nan), lim.cpu_reservation,
            _ooms_between(s, w.test_start, w.test_end),
            changed=prev is not None and not lim.same_limits(prev),
        )  # fmt: skip
        if row is None:
            continue
        rows.append(row)
        # usage above the limit is a kill only this simulation knows of; a real kill is in the events
        # and reaches later fits through them, so it is not fed back twice
        limit = float(lim.mem_limit or np.nan)
        if row[FIELDS.index("overrun")] and np.nanmax(mem[te], initial=-np.inf) > limit:
            feedback.append(limit)
        prev = lim
    return rows


def _run_current(s: Series, wins: list[Window]) -> list[np.ndarray]:
    """Score the dataset's own limits (per sample) on the same test windows."""
    rows: list[np.ndarray] = []
    prev: tuple[float, float] | None = None
    for w in wins:
        te = slice(w.test_lo, w.test_hi)
        if w.test_hi <= w.test_lo:
            continue
        lim = s["mem_limit"][te]
        clim, cres = s["cpu_limit"][te], s["cpu_reservation"][te]
        cres = np.where(cres > 0, cres, clim)  # the limit only where no reservation is recorded
        last = (float(lim[-1]), float(clim[-1]))
        changed = prev is not None and not np.array_equal(np.array(prev), np.array(last), equal_nan=True)
        row = score_window(
            s["mem_working_set"][te], s["cpu_cores"][te], lim, cres,
            _ooms_between(s, w.test_start, w.test_end), changed=changed,
        )  # fmt: skip
        if row is None:
            continue
        rows.append(row)
        prev = last
    return rows


def _strategy_names(strategies: Sequence[str] | str | None, has_limits: bool) -> list[str]:
    if strategies is None:
        return [*DEFAULT_STRATEGIES, *([CURRENT] if has_limits else [])]
    names = [n.strip() for n in (strategies.split(",") if isinstance(strategies, str) else strategies)]
    names = [n for n in names if n]
    if not names:
        raise RightsizeError("--strategies: name at least one strategy")
    if len(set(names)) != len(names):
        raise RightsizeError(f"--strategies names a strategy twice: {','.join(names)}")
    return names


def _check_overrides(overrides: Mapping[str, Mapping[str, str]] | None) -> None:
    from rightsize.analysis.strategies import STRATEGIES, get_strategy

    for name, settings in (overrides or {}).items():
        if name in STRATEGIES:
            if not isinstance(settings, Mapping):  # {'default': 'mem_margin=0.3'}: dict() raised ValueError
                raise RightsizeError(
                    f"overrides[{name!r}]: expected a mapping of settings, e.g. {{'mem_margin': '0.3'}}"
                )
            get_strategy(name, dict(settings))
        elif name != CURRENT:  # a typo, or a library caller's flat {"mem_margin": "0.3"}
            flat = " (overrides maps a strategy to its settings: {'default': {...}})"
            raise RightsizeError(
                f"--set {name}.…: unknown strategy {name!r}; choose one of: {', '.join(STRATEGIES)}"
                + (flat if isinstance(settings, str) else "")
            )


def _duration_ms(value: str | float, what: str) -> int:
    refuse_bare_number(value, f"--{what}")
    ms = round(parse_duration(value) * 1000)
    if ms <= 0:
        raise RightsizeError(f"--{what} must be longer than 0 (got {value!r})")
    return ms


def _no_window(series: Sequence[Series], train_ms: int, test_ms: int) -> str:
    """Why nothing was scored, with a hint that can work (never "shorter" windows that fit already)."""
    longest = max((int(s.ts[-1] - s.ts[0]) for s in series if len(s.ts)), default=0) / 1000
    span = format_duration((train_ms + test_ms) / 1000)
    if not any(np.isfinite(s["mem_working_set"]).any() for s in series):  # e.g. a CPU-only import
        return (
            "no window to score: the data has no memory usage (mem_working_set), and every window is "
            "scored on the memory limit it sets (CPU is scored beside it)"
        )
    if longest < 2:  # below 1 s: no windows of whole seconds can fit
        return f"no window to score: no workload has history over time (longest {format_duration(longest)})"
    if train_ms + test_ms > longest * 1000:  # the hint in whole units (89m, not 1.499h), >= 1 each
        u, n = next(((u, n) for u, n in ((86400, "d"), (3600, "h"), (60, "m")) if longest >= 4 * u), (1, "s"))
        return (
            f"no window to score: train + test ({span}) is longer than every workload's history "
            f"(longest {format_duration(longest)}); try shorter windows, e.g. "
            f"--train {max(int(longest / 2 // u), 1)}{n} --test {max(int(longest / 4 // u), 1)}{n}"
        )
    return (
        f"no window to score: train + test ({span}) fits the history (longest "
        f"{format_duration(longest)}), but no training window has enough samples for the strategies "
        "(their min_samples/min_history settings; lower them with --set, or use a longer --train)"
    )


def backtest(
    data: str | os.PathLike[str] | pd.DataFrame | None = None,
    *,
    train: str | float = "14d",
    test: str | float = "7d",
    every: str | float = "7d",
    strategies: Sequence[str] | str | None = None,
    overrides: Mapping[str, Mapping[str, str]] | None = None,
    workloads: str | Sequence[str] | None = None,
    events: pd.DataFrame | None = None,
    now: datetime | None = None,
) -> BacktestResult:
    """Rolling train/test evaluation of ``strategies`` on ``data`` (a dataset path or samples frame;
    None = ./rightsize-data if here, else the bundled sample, with a warning).

    ``strategies`` defaults to default, krr, vpa, plus ``current`` when the data records limits.
    ``overrides`` maps a strategy name to its ``--set`` values; ``workloads`` is a comma-separated
    list of glob patterns. Samples with impossible times (``plausible.py``, ``now``: this machine's
    clock by default) are left out, with one warning.
    """
    from rightsize.analysis.strategies import STRATEGIES, get_strategy

    train_ms, test_ms, every_ms = (
        _duration_ms(train, "train"),
        _duration_ms(test, "test"),
        _duration_ms(every, "every"),
    )
    explicit = _strategy_names(strategies, True) if strategies is not None else []
    for n in explicit:
        if n != CURRENT and n not in STRATEGIES:  # an unknown name fails before the data is read
            known = ", ".join([*STRATEGIES, CURRENT])
            raise RightsizeError(f"unknown strategy {n!r}; choose one of: {known}")
        if n != CURRENT:
            get_strategy(n)
    _check_overrides(overrides)  # so does a bad --set: it failed only after a large dataset was read
    if data is None:  # after the checks above: a bad option is the only line, not after this warning
        from rightsize.analysis.recommend import SampleDataWarning, default_data, sample_warning

        data = default_data()
        warnings.warn(sample_warning(), SampleDataWarning, stacklevel=2)
    series = load_series(data, events, now=now)
    workloads = joined(workloads)  # one glob string, as --workload gives it
    if workloads:
        series = [s for s in series if matches(s.workload, workloads)]
        if not series:
            raise RightsizeError(f"no workload matches {workloads!r}")
        warn_unmatched(workloads, (s.workload for s in series))
    has_limits = any(np.isfinite(s["mem_limit"]).any() for s in series)
    names = _strategy_names(strategies, has_limits)
    if CURRENT in names and not has_limits:  # no setting can help: say what is missing
        why = f"--strategies {CURRENT}: the data records no memory limit (mem_limit) to score as {CURRENT}"
        if names == [CURRENT]:
            raise RightsizeError(why)
        warnings.warn(why, stacklevel=2)
    unknown = set(overrides or {}) - set(names)
    if unknown:
        raise RightsizeError(
            f"--set names strategy {', '.join(sorted(unknown))}, which is not backtested "
            f"(add it to --strategies)"
        )
    if (overrides or {}).get(CURRENT):
        first = next(iter((overrides or {})[CURRENT]))
        raise RightsizeError(
            f"--set {CURRENT}.{first}: {CURRENT} has no settings (it is the limits recorded in the data)"
        )
    counts = {s.workload: _window_count(s.ts, train_ms, test_ms, every_ms) for s in series}
    total = sum(counts.values())
    if total > MAX_WINDOWS:  # ~1 ms a fit: an hour or more with no output; nobody asks for that
        top = max(counts, key=lambda k: counts[k])
        raise RightsizeError(
            f"--every {format_duration(every_ms / 1000)} makes {total:,} train/test windows "
            f"({top}: {counts[top]:,}); the backtest scores at most {MAX_WINDOWS:,}: use a longer --every"
        )
    fitted = {n: get_strategy(n, dict((overrides or {}).get(n, {}))) for n in names if n != CURRENT}
    per: dict[str, list[np.ndarray]] = {n: [] for n in names}
    ws: list[WorkloadScore] = []
    for s in series:
        wins = windows(s.ts, train_ms, test_ms, every_ms)
        scores = {}
        for n in names:
            rows = _run_current(s, wins) if n == CURRENT else _run_strategy(fitted[n], s, wins)
            per[n].extend(rows)
            scores[n] = summarize(np.array(rows))
        ws.append(WorkloadScore(s.workload, scores))
    if not any(per.values()):
        raise RightsizeError(_no_window(series, train_ms, test_ms))
    if idle := [n for n in names if n != CURRENT and not per[n]]:  # most often: a --set for default only
        why = f"each training window was too short for their min_samples/min_history (--set {idle[0]}.…)"
        least = min(float(fitted[n].settings.min_history) for n in idle)
        if train_ms / 1000 <= least:  # [s, s+train) never spans train from its first sample to its last
            hours = format_duration(least)
            why = (f"a {format_duration(train_ms / 1000)} training window spans less than their min_history "
                   f"({hours}): use a --train longer than {hours}, or --set {idle[0]}.min_history="
                   f"{format_duration(train_ms / 2000)}")  # fmt: skip
        warnings.warn(f"{', '.join(idle)}: no window scored: {why}", stacklevel=2)
    return BacktestResult(
        train_ms / 1000, test_ms / 1000, every_ms / 1000,
        {n: summarize(np.array(per[n])) for n in names},
        tuple(ws),
    )  # fmt: skip


def parse_overrides(items: Sequence[str] | None) -> dict[str, dict[str, str]]:
    """``["default.mem_margin=0.3", "krr.mem_margin=0.2", "cpu_margin=0.5"]`` -> per-strategy overrides.

    A name without ``STRATEGY.`` applies to ``default``.
    """
    out: dict[str, dict[str, str]] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise RightsizeError(f"--set expects [STRATEGY.]NAME=VALUE, got {item!r}")
        strategy, dot, name = key.strip().rpartition(".")
        out.setdefault(strategy if dot else "default", {})[name] = value.strip()
    return out
