"""Backtest on seeded histories whose answers are known by construction (tests/backtest_data.py)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from backtest_data import DAY_MS, MiB, flat, leak, oom, weekly_spike
from backtest_data import STEP_MS as STEP
from cli_helpers import run_cli

from rightsize import store
from rightsize.analysis.backtest import _run_strategy, backtest, parse_overrides, windows
from rightsize.analysis.estimators import round_memory
from rightsize.analysis.scoring import FIELDS, score_window, summarize
from rightsize.analysis.series import load_series
from rightsize.analysis.strategies import get_strategy

# ------------------------------------------------------------------------------ windows and scoring


def test_windows_tile_history_without_overlap_of_train_and_test() -> None:
    ts = load_series(flat(days=29))[0].ts
    ws = windows(ts, 14 * DAY_MS, 7 * DAY_MS, 7 * DAY_MS)
    assert len(ws) == 2  # starts at day 0 and 7; a third (14..35) would end after the history
    for w in ws:
        assert w.train_hi == w.test_lo
        assert ts[w.train_hi - 1] < w.test_start <= ts[w.test_lo]
        assert ts[w.test_hi - 1] < w.test_end
        assert w.test_start - w.start == 14 * DAY_MS
    assert ws[1].start - ws[0].start == 7 * DAY_MS
    assert windows(ts, 30 * DAY_MS, 7 * DAY_MS, 7 * DAY_MS) == []


def test_score_window_matches_the_definitions() -> None:
    mem = np.array([50.0, 100.0, np.nan, 75.0])
    cpu = np.array([0.5, 1.5, 1.0, np.nan])
    row = score_window(mem, cpu, 100.0, 1.0, np.empty(0), changed=True)
    assert row is not None
    r = dict(zip(FIELDS, row, strict=True))
    assert r["mem_n"] == 3 and r["overrun"] == 0  # usage == limit is not above it
    assert r["mem_slack_sum"] == pytest.approx(0.5 + 0 + 0.25)
    assert r["mem_mean"] == pytest.approx(75.0)
    assert r["cpu_n"] == 3 and r["cpu_over"] == 1
    assert r["cpu_slack_sum"] == pytest.approx(0.5 - 0.5 + 0.0)
    over = score_window(np.array([50.0, 101.0]), cpu[:2], 100.0, None, np.empty(0), changed=False)
    assert over is not None and over[FIELDS.index("overrun")] == 1
    killed = score_window(np.array([50.0, 60.0]), cpu[:2], 100.0, None, np.array([128.0]), changed=False)
    assert killed is not None and killed[FIELDS.index("overrun")] == 1  # OOM-killed at a higher limit
    assert score_window(np.array([np.nan]), cpu[:1], 100.0, None, np.empty(0), changed=False) is None
    s = summarize(np.array([row, over]))
    assert s.windows == 2 and s.mem_overrun_share == 0.5 and s.limit_changes == 1
    assert s.mem_alloc_ratio == pytest.approx(200 / (75 + 75.5))
    assert s.cpu_over_reservation_share == pytest.approx(1 / 3)  # only the window with a reservation


# ------------------------------------------------------------------------------ known answers


def test_flat_workload_never_overruns_and_krr_costs_max_plus_15_percent() -> None:
    data = flat()
    r = backtest(data, strategies="default,krr,vpa")
    for name, sc in r.strategies.items():
        assert sc.windows == 2, name
        assert sc.mem_overrun_share == 0.0, name
    # krr by hand: limit = max of the 14 training days x 1.15, rounded up to a human step
    mem = data["mem_working_set"].to_numpy(float)
    t = (data["ts"] - data["ts"].iloc[0]).dt.total_seconds().to_numpy() * 1000
    limits, means, slack, n = [], [], 0.0, 0
    for s in (0, 7):
        train = mem[(t >= s * DAY_MS) & (t < (s + 14) * DAY_MS)]
        test = mem[(t >= (s + 14) * DAY_MS) & (t < (s + 21) * DAY_MS)]
        limit = round_memory(train.max() * 1.15)
        limits.append(limit)
        means.append(test.mean())
        slack += float(np.sum((limit - test) / limit))
        n += len(test)
    krr = r.strategies["krr"]
    assert krr.mem_alloc_ratio == pytest.approx(sum(limits) / sum(means))
    assert krr.mem_slack == pytest.approx(slack / n)
    assert krr.limit_changes == 0


def test_weekly_spike_is_caught_by_a_14_day_window_and_missed_by_a_3_day_one() -> None:
    data = weekly_spike()
    long = backtest(data, train="14d", strategies="default,krr,p95")
    assert long.strategies["krr"].mem_overrun_share == 0.0
    assert long.strategies["default"].mem_overrun_share == 0.0
    # an hour a week is 0.6 % of the samples: p95 + 20 % never sees the spike, so every week overruns
    # (each OOM kill raises the next limit by the OOM rule, but not to 800 MiB within three weeks)
    assert long.strategies["p95"].mem_overrun_share == 1.0
    assert long.strategies["p95"].mem_alloc_ratio < long.strategies["krr"].mem_alloc_ratio
    short = backtest(data, train="3d", test="7d", every="7d", strategies="krr,vpa")
    krr = short.strategies["krr"]
    assert krr.windows == 4 and krr.mem_overrun_share == 1.0  # every test week holds a spike
    # each overrun feeds back as an OOM kill at that limit, so the next limit is higher: 3 changes
    assert krr.limit_changes == 3


def test_leak_overruns_every_week_for_max_based_rules() -> None:
    r = backtest(leak(), strategies="krr,vpa")
    assert r.strategies["krr"].windows == 4
    assert r.strategies["krr"].mem_overrun_share == 1.0
    assert r.strategies["vpa"].mem_overrun_share == 1.0


def test_oom_event_is_an_overrun_of_the_limit_in_force_and_feeds_later_fits() -> None:
    samples, events = oom(kill_days=(16.5,))
    r = backtest(samples, events=events, strategies="krr,current")
    cur = r.strategies["current"]
    # usage never exceeds the 256 MiB limit; the kill in the first test window (days 14..21) is
    # the only overrun of the dataset's own limits
    assert cur.windows == 3 and cur.mem_overruns == 1
    assert cur.mem_alloc_ratio == pytest.approx(256 * MiB / samples["mem_working_set"].mean(), rel=0.01)
    seen: list[Any] = []

    class Recording:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def recommend(self, h: Any) -> Any:
            seen.append(h)
            return self.inner.recommend(h)

    series = load_series(samples, events)[0]
    wins = windows(series.ts, 14 * DAY_MS, 7 * DAY_MS, 7 * DAY_MS)
    rows = _run_strategy(Recording(get_strategy("default")), series, wins)
    assert len(rows) == 3
    # the kill at day 16.5 lies in window 0's test range: window 0 must not see it (no leakage),
    # windows 1 and 2 train on days 7..21 and 14..28, which contain it
    assert seen[0].oom_limits == ()
    assert seen[1].oom_limits == (256 * MiB,) and seen[2].oom_limits == (256 * MiB,)
    for h, w in zip(seen, wins, strict=True):
        assert h.ts.max() < w.test_start
        assert h.current["memory"].limit == 256 * MiB
    limit1 = rows[1][FIELDS.index("mem_limit")]
    assert limit1 >= 256 * MiB * 1.2  # the OOM bump of the default chain


def test_oom_kill_counters_count_where_there_are_no_events() -> None:
    samples, _ = oom(kill_days=())
    t = (samples["ts"] - samples["ts"].iloc[0]).dt.total_seconds().to_numpy() * 1000
    samples["oom_kills"] = (t >= 16.5 * DAY_MS).astype("int32")  # the cgroup counter steps to 1
    r = backtest(samples, strategies="current")
    assert r.strategies["current"].mem_overruns == 1  # the kill at day 16.5, in the first test week
    series = load_series(samples)[0]
    assert len(series.oom_ts) == 1 and series.oom_ts[0] - series.ts[0] == pytest.approx(
        16.5 * DAY_MS, abs=STEP
    )


def test_no_leakage_changing_a_test_window_changes_only_its_score() -> None:
    data = flat(days=36)
    base = backtest(data, strategies="krr")
    t = (data["ts"] - data["ts"].iloc[0]).dt.total_seconds().to_numpy() * 1000
    last_test = (t >= 28 * DAY_MS) & (t < 35 * DAY_MS)
    bumped = data.copy()
    bumped.loc[last_test, "mem_working_set"] *= 3
    r = backtest(bumped, strategies="krr")
    assert base.strategies["krr"].mem_overruns == 0
    # had the 3x week leaked into its own fit, the limit would cover it and nothing would overrun
    assert r.strategies["krr"].mem_overruns == 1 and r.strategies["krr"].windows == 3


def test_dataset_path_and_frame_give_the_same_result(tmp_path: Any) -> None:
    data = pd.concat([flat(), weekly_spike()], ignore_index=True)
    store.append(tmp_path, store.to_table(data), "samples", "test")
    a = backtest(data, strategies="default,krr,vpa")
    b = backtest(tmp_path, strategies="default,krr,vpa")
    assert a.to_dict() == b.to_dict()
    assert [w.workload for w in b.workloads] == ["flat", "spike"]


def test_current_baseline_is_added_only_when_the_data_has_limits() -> None:
    assert "current" not in backtest(flat()).strategies
    with_limits = backtest(flat(mem_limit=1024 * MiB, cpu_limit=1.0))
    assert list(with_limits.strategies) == ["default", "krr", "vpa", "current"]
    cur = with_limits.strategies["current"]
    assert cur.mem_overrun_share == 0.0 and cur.limit_changes == 0
    assert cur.mem_slack == pytest.approx(1 - 201 * MiB / (1024 * MiB), abs=0.01)
    assert cur.cpu_slack == pytest.approx(1 - 0.205, abs=0.01)


def test_overrides_reach_the_strategy() -> None:
    assert parse_overrides(["mem_margin=1", "krr.mem_margin=0.5"]) == {
        "default": {"mem_margin": "1"},
        "krr": {"mem_margin": "0.5"},
    }
    data = flat()
    plain = backtest(data, strategies="krr").strategies["krr"]
    wide = backtest(data, strategies="krr", overrides={"krr": {"mem_margin": "1.0"}}).strategies["krr"]
    assert wide.mem_alloc_ratio is not None and plain.mem_alloc_ratio is not None
    assert wide.mem_alloc_ratio > 1.5 * plain.mem_alloc_ratio  # x2 instead of x1.15, then rounded


# ------------------------------------------------------------------------------ CLI


def test_cli_json_shape(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    store.append(tmp_path, store.to_table(flat(mem_limit=512 * MiB)), "samples", "test")
    code, out, err = run_cli(["backtest", "--data", str(tmp_path), "--format", "json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert set(doc["strategies"]) == {"default", "krr", "vpa", "current"}
    keys = {"mem_slack", "mem_overrun_share", "mem_alloc_ratio", "cpu_slack", "cpu_over_reservation_share",
            "limit_changes", "windows"}  # fmt: skip
    for sc in doc["strategies"].values():
        assert keys <= set(sc)
        assert 0 <= sc["mem_overrun_share"] <= 1
    assert doc["workloads"][0]["workload"] == "flat"
    assert set(doc["workloads"][0]["strategies"]) == set(doc["strategies"])
    code, out, _ = run_cli(["backtest", "--data", str(tmp_path), "--strategies", "krr"], capsys)
    assert (
        code == 0 and out.splitlines()[1].split()[0] == "strategy" and out.splitlines()[2].startswith("krr")
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--strategies", "nope"], "unknown strategy 'nope'; choose one of: default, safe, krr, vpa, p95, current"),  # noqa: E501
        (["--format", "xml"], "--format 'xml'"),
        (["--train", "soon"], "not a duration"),
        (["--every", "0s"], "--every must be longer than 0"),
        (["--set", "mem_margin"], "--set expects"),
        (["--set", "krr.bogus=1", "--strategies", "krr"], "unknown setting 'bogus'"),
        (["--set", "vpa.margin=1", "--strategies", "krr"], "not backtested"),
        (["--train", "30d"], "no window to score"),
        (["--workload", "nothing*"], "no workload matches"),
        (["--data", ""], "--data is empty: expected a dataset folder"),
        (["--workload", ""], "--workload is empty: expected a glob"),
        (["--strategies", " "], "--strategies is empty: expected strategies such as default,safe,krr "
                                "(leave --strategies out for default,krr,vpa)"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(
    tmp_path: Any, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    store.append(tmp_path, store.to_table(flat()), "samples", "test")
    code, out, err = run_cli(["backtest", "--data", str(tmp_path), *args], capsys)
    assert code == 2 and out == ""
    assert err.startswith("rightsize: error: ") and message in err and err.count("\n") == 1


def test_cli_no_window_hint_is_one_that_can_work(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    store.append(tmp_path, store.to_table(flat()), "samples", "test")
    # windows fit the 29 days, but 30 minutes of training is below every strategy's min_history
    code, out, err = run_cli(["backtest", "--data", str(tmp_path), "--train", "30m"], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "fits the history" in err and "min_history" in err and "try shorter windows" not in err
    one = tmp_path / "one"
    store.append(one, store.to_table(flat(days=29).head(1)), "samples", "test")
    code, out, err = run_cli(["backtest", "--data", str(one)], capsys)
    assert code == 2 and "no workload has history over time" in err and "--train 0s" not in err


def test_absurd_values_are_scored_not_a_traceback(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    # working sets of 2**62 + 1 bytes: valid int64, not exact in a float64 (beyond 2**53)
    data = flat(days=22)
    data["mem_working_set"] = pd.array(np.full(len(data), 2**62 + 1), dtype="Int64")
    store.append(tmp_path, store.to_table(data), "samples", "test")
    code, out, err = run_cli(["backtest", "--data", str(tmp_path), "--format", "json"], capsys)
    assert code == 0 and "Traceback" not in err, err
    doc = json.loads(out)
    assert doc["strategies"]["krr"]["windows"] == 1 and doc["strategies"]["krr"]["mem_overruns"] == 0


def test_cli_missing_dataset(capsys: pytest.CaptureFixture[str], tmp_path: Any) -> None:
    code, _, err = run_cli(["backtest", "--data", str(tmp_path / "none")], capsys)
    assert code == 2 and "does not exist" in err


def test_windows_with_too_little_training_data_are_skipped_not_scored() -> None:
    data = flat(days=29)
    strat = get_strategy("krr")
    series = load_series(data)[0]
    wins = windows(series.ts, 30 * 60_000, 7 * DAY_MS, 7 * DAY_MS)  # 30 minutes: below min_history
    assert wins and _run_strategy(strat, series, wins) == []


# ------------------------------------------------------------------------------ the tuned default


def test_default_keeps_a_proven_current_limit_and_drops_the_cap_after_an_oom() -> None:
    # usage ~200 MiB under a 256 MiB limit it never came near: max + sqrt headroom (~370 MiB) would be
    # above 256 MiB, so the limit stays at the proven 256 MiB
    r = backtest(flat(mem_limit=256 * MiB), strategies="default,current")
    assert r.strategies["default"].mem_overrun_share == 0.0
    assert r.strategies["default"].mem_alloc_ratio == pytest.approx(
        r.strategies["current"].mem_alloc_ratio, rel=0.01
    )
    # the same history OOM-killed near its limit: the cap no longer applies, the OOM bump does
    samples, events = oom(kill_days=(2.0,))
    series = load_series(samples, events)[0]
    wins = windows(series.ts, 14 * DAY_MS, 7 * DAY_MS, 7 * DAY_MS)
    rows = _run_strategy(get_strategy("default"), series, wins)
    assert rows[0][FIELDS.index("mem_limit")] >= 256 * MiB * 1.2
    capped = _run_strategy(get_strategy("default"), load_series(samples)[0], wins)
    assert capped[0][FIELDS.index("mem_limit")] == 256 * MiB  # no kill: 240 MiB < 95% of 256 MiB


def test_default_headroom_is_relatively_larger_for_small_workloads() -> None:
    small = backtest(flat(level=64 * MiB), strategies="default").strategies["default"]
    large = backtest(flat(level=16 * 1024 * MiB), strategies="default").strategies["default"]
    assert small.mem_alloc_ratio is not None and large.mem_alloc_ratio is not None
    # 64 MiB + sqrt(64 MiB x 96 MiB) ~ 2.2x; 16 GiB + sqrt(16 GiB x 96 MiB) ~ 1.08x
    assert small.mem_alloc_ratio > 2 * large.mem_alloc_ratio > 2 * 1.05


def test_default_raises_a_limit_only_a_little_without_an_oom_kill() -> None:
    # usage at ~98% of a 205 MiB limit, never killed: at most +15% over the limit, not the headroom
    data = flat(mem_limit=205 * MiB)
    series = load_series(data)[0]
    wins = windows(series.ts, 14 * DAY_MS, 7 * DAY_MS, 7 * DAY_MS)
    rows = _run_strategy(get_strategy("default"), series, wins)
    assert [r[FIELDS.index("mem_limit")] for r in rows] == [round_memory(205 * MiB * 1.15)] * 2
    free = _run_strategy(get_strategy("default", {"mem_raise_max": "10"}), series, wins)
    assert free[0][FIELDS.index("mem_limit")] > 340 * MiB  # max + sqrt(202 MiB x 96 MiB)
