"""Bugs found by using the non-Compose commands as a new user would (session 8)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import run_cli as run

from rightsize import store

M = 2**20
T0 = 1_790_000_000_000  # 2026-09-21, ms


def _kill_row(workload: str, ts: int, limit: int = 8 * M, cid: str = "c1") -> dict[str, object]:
    """The collector's row for a job OOM-killed before any reading: its limit, its kill, no usage."""
    return {"ts": ts, "host": "h", "workload": workload, "container_id": cid, "container": workload,
            "image": "i", "mem_limit": limit, "oom_kills": 1, "restarts": 0}  # fmt: skip


@pytest.mark.parametrize("small_rows", ["300000", "0"])  # the in-memory path and the streaming scanner
def test_a_kill_row_is_no_row_without_a_memory_value_on_either_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, small_rows: str
) -> None:
    # the streaming scanner warned "ignored 1 rows without a memory value" for the kill's record,
    # which the in-memory path (and the README) take as the kill, not as a missing value
    monkeypatch.setenv("RIGHTSIZE_SMALL_ROWS", small_rows)
    rows = [_kill_row("job", T0), _kill_row("job", T0 + 5000, cid="c2")]
    store.append(tmp_path / "d", store.to_table(rows))
    code, out, err = run(["recommend", "--data", str(tmp_path / "d"), "--format", "json"], capsys)
    assert code == 0 and err == "", err
    assert {r["oom_kills"] for r in json.loads(out) if r["resource"] == "memory"} == {2}
    # a row that measured nothing and is no kill's record is still one
    blank = {**_kill_row("job", T0 + 9000, cid="c3"), "oom_kills": 0}
    store.append(tmp_path / "d", store.to_table([blank]))
    code, out, err = run(["recommend", "--data", str(tmp_path / "d"), "--format", "json"], capsys)
    assert code == 0 and err == "rightsize: warning: ignored 1 rows without a memory value\n", err


@pytest.mark.parametrize("small_rows", ["300000", "0"])
def test_a_job_killed_before_any_reading_opens_with_the_kill(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, small_rows: str
) -> None:
    # Its only row is the kill's: the reasons opened with "no memory samples: all 1 missing" (the
    # kill row is no missing sample) and the table's notes showed that, not how far to raise the limit.
    monkeypatch.setenv("RIGHTSIZE_SMALL_ROWS", small_rows)
    store.append(tmp_path / "d", store.to_table([_kill_row("job", T0)]))
    code, out, err = run(["recommend", "--data", str(tmp_path / "d"), "--format", "json"], capsys)
    assert code == 0 and "warning" not in err, err
    recs = {r["resource"]: r for r in json.loads(out)}
    hint = "OOM-killed 1x at limit 8 MiB: that is too low; raise it to >= 128 MiB and collect again"
    assert recs["memory"]["reasons"] == [hint, "no memory samples: OOM-killed before any reading"]
    for r in ("cpu", "pids"):
        assert recs[r]["reasons"] == [f"no {r} samples: OOM-killed before any reading"], recs[r]
        assert not any("missing" in why for why in recs[r]["reasons"])
    monkeypatch.setenv("COLUMNS", "300")  # one line per row
    code, out, err = run(["recommend", "--data", str(tmp_path / "d")], capsys)
    assert code == 0, err
    text = " ".join(out.split())
    assert "that is too low; raise it to >= 128 MiB" in text, out  # the table's notes show the hint
    assert "OOM-killed 1x; OOM-killed 1x" not in text  # once, not the flag and then the hint


def _week(root: Path) -> Path:
    """A week of one workload at 10 min steps, 2026-03-23 .. 2026-03-29 (a DST change in Europe)."""
    import numpy as np
    import pandas as pd

    n = 7 * 144
    ts = pd.Timestamp("2026-03-23", tz="UTC") + pd.to_timedelta(np.arange(n) * 600, unit="s")
    store.append(root, store.to_table(pd.DataFrame({
        "ts": ts, "host": "h", "workload": "w", "container_id": "c", "container": "c", "image": "i",
        "cpu_cores": 0.2, "mem_working_set": 200 * M, "pids": 10, "oom_kills": 0, "restarts": 0,
    })))  # fmt: skip
    return root


@pytest.mark.parametrize(
    ("since", "said"),
    [
        # a compact ISO date read as 20,260,328 seconds (234 days): all the data, silently
        ("20260328", "--since '20260328': a number without a unit"),
        ("2026", "--since '2026': a number without a unit"),  # the year, read as 34 minutes
        # day and month both <= 12: read month first (4 March: all the data), where most of the
        # world means 3 April; a later date was "no samples after it"
        ("03/04/2026", "--since '03/04/2026': is it 2026-03-04 or 2026-04-03?"),
        ("03.04.2026", "--since '03.04.2026': is it 2026-03-04 or 2026-04-03?"),
    ],
)
@pytest.mark.parametrize("command", ["recommend", "report"])
def test_since_that_could_mean_two_things_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], since: str, said: str, command: str
) -> None:
    data = _week(tmp_path / "d")
    extra = ["--out", str(tmp_path / "r.html")] if command == "report" else []
    code, _, err = run([command, "--data", str(data), "--since", since, *extra], capsys)
    assert code == 2 and err.startswith(f"rightsize: error: {said}") and err.count("\n") == 1, err
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize(("since", "samples"), [("28.03.2026", 288), ("2026-03-28", 288), ("2026/03/28", 288),
                                                ("12/12/2026", None), ("1d", 145), ("3600s", 7)])  # fmt: skip
def test_since_that_means_one_thing_still_works(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], since: str, samples: int | None
) -> None:
    data = _week(tmp_path / "d")
    code, out, err = run(["recommend", "--data", str(data), "--since", since, "--format", "json"], capsys)
    if samples is None:  # a date after the data
        assert code == 2 and "no samples after it" in err, err
        return
    assert code == 0, err
    assert json.loads(out)[0]["samples"] == samples


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_import_reads_a_limit_beyond_int64_as_no_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    # The README: a mem_limit of 2^62 bytes or more is stored as no limit. 2^64 - 1 (an unsigned
    # "no limit", as u64 counters write it) was an error line instead: "out of range for mem_limit"
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    table = pa.table({
        "vm": ["a", "a", "a"], "t": ["2026-11-20T00:00:00Z", "2026-11-20T00:01:00Z", "2026-11-20T00:02:00Z"],
        "mem": [100, 200, 300],
        "lim": pa.array([2**64 - 1, 9223372036854771712, 512 * M], pa.uint64()),
    })  # fmt: skip
    trace = tmp_path / f"t.{kind}"
    pacsv.write_csv(table, trace) if kind == "csv" else pq.write_table(table, trace)
    args = ["import", str(trace), "--out", str(tmp_path / "d"),
            "--map", "workload=vm,ts=t,mem_working_set=mem,mem_limit=lim,mem_reservation=lim*1"]  # fmt: skip
    code, _, err = run(args, capsys)
    assert code == 0, err
    got = store.load(tmp_path / "d").sort_values("ts")
    assert got["mem_limit"].isna().tolist() == [True, True, False]
    assert got["mem_limit"].iloc[2] == 512 * M
    assert got["mem_reservation"].isna().tolist() == [True, True, False]  # scaled too


def _workloads(root: Path, names: list[str]) -> Path:
    """2.8 h of 10 s samples for each workload (enough history for a recommendation)."""
    import numpy as np
    import pandas as pd

    n = 1000
    ts = pd.Timestamp("2026-11-20", tz="UTC") + pd.to_timedelta(np.arange(n) * 10, unit="s")
    frames = [pd.DataFrame({
        "ts": ts, "host": "h", "workload": w, "container_id": f"id{i}", "container": f"c{i}", "image": "i",
        "cpu_cores": 0.2, "mem_working_set": 200 * M, "pids": 10, "oom_kills": 0, "restarts": 0,
    }) for i, w in enumerate(names)]  # fmt: skip
    store.append(root, store.to_table(pd.concat(frames, ignore_index=True)))
    return root


def test_helm_map_with_two_mappings_in_one_option_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # import's --map is comma-separated, apply's is repeated: 'a=x,b=y' wrote a key named
    # 'worker,shop/Deployment/web/nginx=web' (with resources) into the values file
    from cli_helpers import sha

    data = _workloads(tmp_path / "d", ["batch/Deployment/worker/worker", "shop/Deployment/web/nginx"])
    values = tmp_path / "values.yaml"
    values.write_text("web:\n  resources: {}\nbatch:\n  worker:\n    image: x\n")
    before = sha(values)
    both = "batch/Deployment/worker/worker=batch.worker,shop/Deployment/web/nginx=web"
    code, _, err = run(["apply", "--helm", str(values), "--data", str(data), "--map", both], capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"rightsize: error: --map {both!r}: one WORKLOAD=path per --map"), err
    assert sha(values) == before
    # '=' inside a selector or a quoted key is part of the path
    for path in ('batch["worker=1"]', "jobs[name=migrate]"):
        from rightsize.targets.helmplace import parse_map

        assert parse_map([f"w={path}"]) == {"w": path}
    # the two, each in its own --map, are written
    args = ["--map", "batch/Deployment/worker/worker=batch.worker", "--map", "shop/Deployment/web/nginx=web"]
    code, _, err = run(["apply", "--helm", str(values), "--data", str(data), *args], capsys)
    assert code == 0, err
    text = values.read_text()
    assert "worker,shop" not in text and text.count("resources:") == 2, text


@pytest.mark.parametrize("small_rows", ["300000", "0"])
def test_the_library_takes_since_as_a_timestamp_or_a_timedelta(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_rows: str
) -> None:
    # A notebook passing pd.Timestamp / pd.Timedelta got a TypeError traceback (re on a non-str)
    import pandas as pd

    import rightsize

    monkeypatch.setenv("RIGHTSIZE_SMALL_ROWS", small_rows)
    data = _week(tmp_path / "d")
    frame = rightsize.load(data)

    from rightsize.analysis.recommend import recommend
    from rightsize.report.html import report

    def samples(since: object) -> list[int]:
        return [r.samples for r in recommend(data, since=since)]  # type: ignore[arg-type]

    assert samples(pd.Timedelta(days=1)) == samples("1d") == [145, 145, 145]
    assert samples(pd.Timestamp("2026-03-28", tz="UTC")) == samples("2026-03-28")
    assert samples(pd.Timestamp("2026-03-28").to_pydatetime()) == samples("2026-03-28")  # naive: UTC
    assert [r.samples for r in recommend(frame, since=pd.Timedelta(days=1))] == [145, 145, 145]
    with pytest.raises(rightsize.RightsizeError, match="negative"):
        recommend(data, since=pd.Timedelta(days=-1))
    assert Path(report(data, out=tmp_path / "r.html", since=pd.Timedelta(days=1))).exists()


@pytest.mark.parametrize(
    ("setting", "said"),
    [
        # said 'expected at most 1e+06', where the setting's own range is 0..10 (as -0.1 says)
        ("mem_margin=1e309", "setting mem_margin='1e309' out of range: expected 0..10"),
        ("mem_margin=nan", "setting mem_margin='nan' out of range: expected 0..10"),
        ("cpu_floor=1e300", "setting cpu_floor='1e300' out of range: expected 0..1e+06"),
        ("mem_confidence_k=inf", "setting mem_confidence_k='inf' out of range: expected 0..5"),
    ],
)
def test_set_out_of_range_names_the_settings_own_range(
    capsys: pytest.CaptureFixture[str], setting: str, said: str
) -> None:
    code, _, err = run(["recommend", "--set", setting], capsys)
    assert code == 2 and err == f"rightsize: error: {said}\n", err


@pytest.mark.parametrize("command", ["recommend", "backtest"])
@pytest.mark.parametrize("small_rows", ["300000", "0"])
def test_a_workload_glob_that_matches_nothing_beside_others_is_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: str,
    small_rows: str,
) -> None:  # fmt: skip
    # 'shop/web,shop/dbb' (a typo) gave shop/web alone, with no word about shop/dbb
    monkeypatch.setenv("RIGHTSIZE_SMALL_ROWS", small_rows)
    data = _workloads(tmp_path / "d", ["shop/web", "shop/db"])
    extra = ["--train", "2h", "--test", "30m"] if command == "backtest" else []
    globs = "shop/web, shop/dbb,x*"
    code, out, err = run([command, "--data", str(data), "--workload", globs, *extra], capsys)
    assert code == 0, err
    assert "rightsize: warning: --workload: shop/dbb, x* match no workload in the data\n" in err, err
    assert ("1 workloads" if command == "backtest" else "shop/web") in out and "shop/db " not in out
    code, out, err = run([command, "--data", str(data), "--workload", "shop/*", *extra], capsys)
    assert code == 0 and "--workload" not in err, err


@pytest.mark.parametrize("small_rows", ["300000", "0"])
def test_a_days_partition_folder_keeps_that_days_oom_kills(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, small_rows: str
) -> None:
    # --data ROOT/samples/date=2026-11-20 (one day, as the Hive layout invites) read no events: a job
    # OOM-killed at 256M that day got a limit below it (oom_kills 0), where ROOT gave the OOM bump
    import pandas as pd

    monkeypatch.setenv("RIGHTSIZE_SMALL_ROWS", small_rows)
    root = _workloads(tmp_path / "d", ["job"])
    kill = {"ts": pd.Timestamp("2026-11-20T01:00", tz="UTC"), "host": "h", "workload": "job",
            "container_id": "id0", "container": "c0", "kind": "oom", "exit_code": None}  # fmt: skip
    store.append(root, store.to_table([kill], "events"), "events")
    day = root / "samples" / "date=2026-11-20"
    got = {}
    for data in (root, day):
        code, out, err = run(["recommend", "--data", str(data), "--format", "json"], capsys)
        assert code == 0, err
        got[data] = next(r for r in json.loads(out) if r["resource"] == "memory")
    assert got[day]["oom_kills"] == got[root]["oom_kills"] == 1
    assert got[day]["recommended"] == got[root]["recommended"]


@pytest.mark.parametrize("text", ["null\n", "~\n", "# values\n--- null # none yet\n"])
def test_helm_values_holding_only_null_is_one_plain_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    # 'internal error, nothing written: v.yaml would not parse': the new block was appended after
    # the document's 'null'
    from cli_helpers import sha

    data = _workloads(tmp_path / "d", ["shop/Deployment/web/nginx"])
    values = tmp_path / "values.yaml"
    values.write_text(text)
    before = sha(values)
    args = ["apply", "--helm", str(values), "--data", str(data), "--map", "shop/Deployment/web/nginx=web"]
    code, _, err = run(args, capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert "internal error" not in err and "the top level is null" in err, err
    assert sha(values) == before
    values.write_text("# no values yet\n")  # comments only: the block is added, as before
    code, _, err = run(args, capsys)
    assert code == 0 and "resources:" in values.read_text(), err


@pytest.mark.parametrize("command", [["recommend"], ["backtest", "--train", "12h", "--test", "6h"],
                                     ["report", "--out", "r.html"]])  # fmt: skip
def test_no_data_beside_collects_default_out_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    # 'rightsize collect' (default --out ./rightsize-data) then 'rightsize recommend' read the
    # bundled sample, saying only that; the collected data is now read (session 10), and said so
    monkeypatch.chdir(tmp_path)
    code, _, err = run(command, capsys)
    assert code == 0 and "SYNTHETIC" in err and "rightsize-data" not in err, err
    _workloads(tmp_path / "rightsize-data", ["w"])
    code, _, err = run(command, capsys)
    if command[0] == "backtest":  # the collected 2.8 h, not the sample's 24 h, is too short for 12h + 6h
        assert code == 2 and "(longest 2.775h)" in err, err
    else:
        assert code == 0, err
    assert "SYNTHETIC" not in err
    assert "no --data given: reading ./rightsize-data (collect's default --out)" in err.splitlines()[0], err


@pytest.mark.parametrize("missing", ["workload", "ts", "kind"])
def test_an_events_frame_lacking_a_column_is_one_error(tmp_path: Path, missing: str) -> None:
    # recommend(frame, events=…) and backtest(frame, events=…) raised KeyError: 'workload' / 'ts'
    # (a notebook's frame without them); without 'kind' the events were silently ignored
    import rightsize
    from rightsize.analysis.backtest import backtest
    from rightsize.analysis.recommend import recommend

    data = _week(tmp_path / "d")
    frame = rightsize.load(data)
    kill = {"ts": frame["ts"].iloc[500], "host": "h", "workload": "w", "container_id": "c", "container": "c",
            "kind": "oom", "exit_code": 137}  # fmt: skip
    events = store.to_table([kill], "events").to_pandas().drop(columns=[missing])
    with pytest.raises(rightsize.RightsizeError, match=f"events frame lacks column\\(s\\): {missing}$"):
        recommend(frame, events=events)
    with pytest.raises(rightsize.RightsizeError, match=f"events frame lacks column\\(s\\): {missing}$"):
        backtest(frame, events=events, train="2d", test="1d")
    whole = store.to_table([kill], "events").to_pandas()  # the full frame counts the kill
    assert next(r for r in recommend(frame, events=whole) if r.resource == "memory").oom_kills == 1
    assert recommend(frame, events=whole.iloc[:0].drop(columns=[missing]))  # no rows: nothing to lack


def test_backtest_overrides_of_a_strategy_as_text_is_one_error(tmp_path: Path) -> None:
    # backtest(overrides={'default': 'mem_margin=0.3'}) raised ValueError (dict() of a string)
    import rightsize
    from rightsize.analysis.backtest import backtest

    data = _week(tmp_path / "d")
    said = "overrides\\['default'\\]: expected a mapping of settings"
    with pytest.raises(rightsize.RightsizeError, match=said):
        backtest(data, train="2d", test="1d", overrides={"default": "mem_margin=0.3"})  # type: ignore[dict-item]
    assert backtest(data, train="2d", test="1d", overrides={"default": {"mem_margin": "0.3"}}).strategies


def test_one_sample_is_said_in_the_singular(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 'too little history: 1 samples over 0 s'
    import pandas as pd

    row = {"ts": pd.Timestamp("2026-11-20", tz="UTC"), "host": "h", "workload": "w", "container_id": "c",
           "container": "c", "image": "i", "mem_working_set": 200 * M, "pids": 3, "oom_kills": 0,
           "restarts": 0}  # fmt: skip
    store.append(tmp_path / "d", store.to_table([row]))
    code, out, err = run(["recommend", "--data", str(tmp_path / "d"), "--format", "json"], capsys)
    assert code == 0, err
    assert json.loads(out)[0]["reasons"][0].startswith("too little history: 1 sample over 0 s (needs")
