"""The HTML report's downsampling: the envelope keeps every bucket's min and max and the global peak
(split from test_report.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rightsize.report.downsample import histogram, minmax_envelope, step_points


def test_envelope_keeps_every_buckets_min_and_max_and_the_global_peak() -> None:
    rng = np.random.default_rng(7)
    n, buckets = 120_960, 500
    t = np.arange(n, dtype=np.float64) * 10_000 + 1.7e12
    v = rng.normal(1000, 50, n)
    v[rng.integers(0, n, 30)] += 5000  # short spikes a mean or a stride would lose
    v[rng.integers(0, n, 500)] = np.nan
    x, y = minmax_envelope(t, v, buckets)

    assert len(x) <= 2 * buckets
    assert np.all(np.diff(x) > 0)
    assert np.nanmax(y) == np.nanmax(v) and np.nanmin(y) == np.nanmin(v)
    # Reference computed independently with pandas: every bucket's extremes survive, at their times.
    bucket = np.minimum(((t - t[0]) / (t[-1] - t[0]) * buckets).astype(int), buckets - 1)
    ref = pd.DataFrame({"b": bucket, "v": v}).groupby("b")["v"].agg(["min", "max"])
    got = (
        pd.DataFrame(
            {"b": np.minimum(((x - t[0]) / (t[-1] - t[0]) * buckets).astype(int), buckets - 1), "v": y}
        )
        .groupby("b")["v"]
        .agg(["min", "max"])
    )
    pd.testing.assert_frame_equal(got, ref)
    kept = dict(zip(t, v, strict=True))
    assert all(kept[a] == b for a, b in zip(x, y, strict=True))  # real samples, not averages


@pytest.mark.parametrize("seed", range(8))
def test_envelope_matches_a_reference_on_random_series(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, buckets = int(rng.integers(1, 20_000)), int(rng.integers(1, 300))
    t = np.sort(rng.uniform(0, 1e9, n)).round()  # uneven spacing, repeated timestamps
    v = rng.standard_cauchy(n)  # heavy tails: many extreme values
    v[rng.random(n) < rng.uniform(0, 0.5)] = np.nan
    shuffle = rng.permutation(n)
    x, y = minmax_envelope(t[shuffle], v[shuffle], buckets)
    assert np.all(np.diff(x) >= 0) and len(x) <= max(2 * buckets, n)
    finite = np.isfinite(v)
    if n <= 2 * buckets:
        assert len(x) == n
        return
    span = t[-1] - t[0]
    b_in = np.minimum(((t - t[0]) / span * buckets).astype(int), buckets - 1) if span else np.zeros(n, int)
    b_out = (
        np.minimum(((x - t[0]) / span * buckets).astype(int), buckets - 1) if span else np.zeros(len(x), int)
    )
    ref = pd.DataFrame({"b": b_in[finite], "v": v[finite]}).groupby("b")["v"].agg(["min", "max"])
    got = pd.DataFrame({"b": b_out, "v": y}).dropna().groupby("b")["v"].agg(["min", "max"])
    pd.testing.assert_frame_equal(got, ref)


def test_envelope_short_unsorted_nan_and_degenerate_inputs() -> None:
    x, y = minmax_envelope([3, 1, 2], [30.0, 10.0, 20.0], 10)
    assert x.tolist() == [1, 2, 3] and y.tolist() == [10, 20, 30]
    # A stretch of all-NaN samples stays a visible gap (one NaN point), not a line across it.
    t = np.arange(100, dtype=float)
    v = np.where((t >= 40) & (t < 60), np.nan, t)
    x, y = minmax_envelope(t, v, 10)
    assert np.isnan(y).sum() == 2 and len(x) <= 20
    x, y = minmax_envelope(np.zeros(50), np.arange(50.0), 5)  # all at one instant
    assert sorted(y.tolist()) == [0.0, 49.0]
    with pytest.raises(ValueError):
        minmax_envelope([1, 2], [1.0], 5)
    with pytest.raises(ValueError):
        minmax_envelope([1, 2], [1.0, 2.0], 0)


def test_step_points_reproduce_the_step_function() -> None:
    t = np.arange(1000, dtype=float)
    v = np.repeat([4.0, np.nan, 2.0, 2.5], 250)
    x, y = step_points(t, v)
    assert len(x) == 8
    rebuilt = pd.Series(y, index=x).reindex(t, method="ffill").to_numpy()
    np.testing.assert_array_equal(rebuilt, v)


def test_histogram_counts_every_finite_sample() -> None:
    v = np.r_[np.arange(1000.0), np.nan, np.inf]
    left, width, counts = histogram(v, bins=20)
    assert counts.sum() == 1000 and len(left) == 20
    assert left[0] == 0 and left[-1] + width[-1] == pytest.approx(999)
    assert [len(a) for a in histogram([np.nan])] == [0, 0, 0]
    assert histogram([5.0, 5.0])[2].sum() == 2  # one value: still one visible bar
