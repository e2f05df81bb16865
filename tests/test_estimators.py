"""Each estimator alone: small pure functions with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rightsize.analysis import estimators as est
from rightsize.analysis.profile import daily_peaks, dist_of
from rightsize.units import GiB, MiB


def test_percentile_interpolates_linearly_and_ignores_nan() -> None:
    v = np.array([1.0, 2.0, 3.0, 4.0, np.nan])
    assert est.percentile(v, 0.5) == 2.5
    assert est.percentile(v, 1.0) == 4.0
    assert est.percentile(v, 0.0) == 1.0
    assert math.isnan(est.percentile(np.array([np.nan]), 0.9))


def test_dist_of_matches_numpy_quantile_exactly() -> None:
    rng = np.random.default_rng(1)
    v = rng.lognormal(20, 1, 5001)
    qs = (0.5, 0.9, 0.95, 0.99, 1.0, 0.123)
    d = dist_of(v, qs)
    assert d.n == 5001
    for q in qs:
        assert d.at(q) == pytest.approx(float(np.quantile(v, q)), rel=1e-12)
    with pytest.raises(KeyError):
        d.at(0.42)


def test_margin_and_confidence_multiplier() -> None:
    assert est.with_margin(100.0, 0.15) == pytest.approx(115.0)
    assert est.confidence_multiplier(1.0, 1.0) == pytest.approx(2.0)
    assert est.confidence_multiplier(7.0, 1.0) == pytest.approx(8 / 7)
    assert est.confidence_multiplier(1.0, 0.0) == 1.0
    assert est.scale_by_confidence(10.0, 1.0, 2.0) == pytest.approx(40.0)
    # longer history -> smaller multiplier
    assert est.confidence_multiplier(30, 1) < est.confidence_multiplier(3, 1)


def test_oom_bump_is_the_larger_of_absolute_and_relative() -> None:
    assert est.oom_bump(100 * MiB, 100 * MiB, 1.2) == 200 * MiB  # small limit: +100 MiB wins
    assert est.oom_bump(4 * GiB, 100 * MiB, 1.2) == pytest.approx(4.8 * GiB)  # large: x1.2 wins
    assert est.oom_floor([1 * GiB, 2 * GiB, math.nan], 100 * MiB, 1.2) == pytest.approx(2.4 * GiB)
    assert est.oom_floor([math.nan], 100 * MiB, 1.2) is None
    assert est.oom_floor([], 100 * MiB, 1.2) is None


def test_floor_and_pids_headroom() -> None:
    assert est.floor_at(10.0, 32.0) == 32.0
    assert est.floor_at(64.0, 32.0) == 64.0
    assert est.pids_headroom(50, 2.0, 20) == 100
    assert est.pids_headroom(5, 2.0, 20) == 25  # small counts get at least +extra


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (100 * MiB, 128 * MiB),
        (128 * MiB, 128 * MiB),
        (700 * MiB, 768 * MiB),
        (1.1 * GiB, 1.25 * GiB),
        (1.5 * GiB, 1.5 * GiB),
        (7.3 * GiB, 8 * GiB),
        (17 * GiB, 18 * GiB),
        (5 * MiB, 8 * MiB),
    ],
)
def test_round_memory_to_human_steps(value: float, expected: float) -> None:
    assert est.round_memory(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.3, 0.3), (0.31, 0.35), (0.5, 0.5), (0.51, 0.75), (1.4, 1.5), (2.2, 2.5), (8.1, 9.0)],
)
def test_round_cpu_to_human_steps(value: float, expected: float) -> None:
    assert est.round_cpu(value) == expected


def test_rounding_never_goes_below_the_value() -> None:
    rng = np.random.default_rng(7)
    for x in rng.lognormal(0, 2, 2000):
        assert est.round_cpu(x) >= x
        assert est.round_pids(x * 100) >= x * 100
    for x in rng.lognormal(22, 2, 2000):
        assert est.round_memory(x) >= x


def test_confidence_grows_with_history() -> None:
    assert est.confidence(0) == 0
    assert est.confidence(1) == 0.5
    assert 0.87 < est.confidence(7) < 0.88


def test_daily_peaks_per_utc_day() -> None:
    day = 86_400_000
    ts = np.array([0, 1000, day - 1, day, day + 5, 3 * day])
    v = np.array([1.0, 5.0, 2.0, np.nan, 3.0, 9.0])
    assert daily_peaks(ts, v).tolist() == [5.0, 3.0, 9.0]


@pytest.mark.parametrize("integer", [False, True])
def test_two_pass_quantiles_equal_numpy_bit_for_bit(integer: bool) -> None:
    from rightsize.analysis.exact import Binning, Counter, Keeper, plan

    rng = np.random.default_rng(3)
    groups, n = 40, 200_000
    codes = rng.integers(0, groups, n)
    vals = np.where(rng.random(n) < 0.3, 0.0, rng.lognormal(20, 0.05, n).round())
    vals[codes == 3] = 12345.0  # constant
    vals[codes == 4] = rng.integers(0, 40, int((codes == 4).sum()))  # small integers
    vals[codes == 5] = rng.random(int((codes == 5).sum())) * 1e-9  # below the first octave
    vals[codes == 6] = rng.lognormal(50, 1, int((codes == 6).sum()))  # above the last
    binning = Binning(0, 20, integer=True) if integer else Binning(16, 42)
    counter = Counter(binning)
    counter.grow(groups + 1)  # one group never seen
    chunks = range(0, n, 7_000)
    for i in chunks:  # local codes = global codes here; a permutation would do as well
        counter.add(codes[i : i + 7_000], vals[i : i + 7_000], np.arange(groups))
    qs = (0.0, 0.123, 0.5, 0.9, 0.95, 0.99, 1.0)
    keeper = Keeper(plan(counter.table(), qs, binning))
    for i in chunks:
        keeper.add(codes[i : i + 7_000], vals[i : i + 7_000])
    got = keeper.quantiles()
    for g in range(groups):
        for q in qs:
            assert got[q][g] == np.quantile(vals[codes == g], q), (g, q)
    assert all(np.isnan(got[q][groups]) for q in qs)
    kept = sum(len(v) for v in keeper.values)
    assert kept < n  # pass 2 keeps only the bins holding the wanted ranks


def test_counter_ignores_filtered_codes_without_touching_the_last_group() -> None:
    from rightsize.analysis.exact import Binning, Counter

    counter = Counter(Binning(0, 4))
    counter.grow(3)
    # local codes 0 and 2 map to groups 2 and 0; local code 1 was filtered out (-1)
    local = np.array([0, 0, 2, 0] * 1000)
    counter.add(local, np.full(len(local), 3.0), np.array([2, -1, 0]))
    table = counter.table()
    assert table.sum(axis=1).tolist() == [1000, 0, 3000]
