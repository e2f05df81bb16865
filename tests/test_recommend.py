"""recommend() on the bundled sample, on DataFrames and folders, and bad input through the CLI."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cli_helpers import run_cli

from rightsize import store
from rightsize.analysis.recommend import SampleDataWarning, recommend, sample_path
from rightsize.errors import RightsizeError
from rightsize.units import GiB


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(sample_path(), root)
    return root


def test_bundled_sample_gives_the_expected_story() -> None:
    with pytest.warns(SampleDataWarning, match="SYNTHETIC sample"):
        recs = recommend()
    assert len(recs) == 30
    assert [r.resource for r in recs[:3]] == ["memory", "cpu", "pids"]
    assert [r.workload for r in recs] == sorted(r.workload for r in recs)
    by = {(r.workload, r.resource): r for r in recs}
    neo = by["sutazai/neo4j", "memory"]
    assert neo.oom_kills == 2 and neo.recommended is not None and neo.recommended.limit is not None
    assert neo.recommended.limit > 1 * GiB  # the plan's 768MB would be OOM-killed even more
    fe = by["sutazai/frontend", "cpu"]
    assert fe.throttled_share is not None and fe.throttled_share > 0.1
    assert fe.recommended is not None and fe.recommended.limit is not None and fe.recommended.limit >= 0.5
    oll = by["sutazai/ollama", "memory"]
    assert oll.recommended is not None and oll.recommended.limit is not None
    assert oll.observed.max is not None and oll.observed.max <= oll.recommended.limit <= 16 * GiB
    assert by["sutazai/backend", "memory"].samples == 2 * 8641  # two replicas pooled


def test_folder_and_dataframe_paths_agree(dataset: Path) -> None:
    from_folder = recommend(dataset, strategy="vpa")
    frame, events = store.load(dataset), store.load_events(dataset)
    from_frame = recommend(frame, strategy="vpa", events=events)
    assert from_folder == from_frame


def test_since_and_workload_filters(dataset: Path) -> None:
    recs = recommend(dataset, since="6h", workloads="*/post*")
    assert {r.workload for r in recs} == {"sutazai/postgres"}
    assert all(r.history_seconds <= 6 * 3600 for r in recs)
    short = recommend(dataset, since="20m", workloads="sutazai/redis")
    assert all(r.recommended is None and "too little history" in r.reasons[0] for r in short)
    with pytest.raises(RightsizeError, match="no workload matches"):
        recommend(dataset, workloads="nothing/*")


def test_current_values_from_a_compose_file(dataset: Path, tmp_path: Path) -> None:
    compose = tmp_path / "docker-compose.yml"
    compose.write_text(
        "services:\n"
        "  ollama:\n    image: ollama\n    deploy:\n      resources:\n"
        "        limits: {memory: 12g, cpus: '6', pids: 300}\n        reservations: {memory: 2g}\n"
        "  redis:\n    image: redis\n    mem_limit: 256m\n    cpus: 0.25\n"
        "  grafana:\n    image: grafana\n    mem_limit: ${GRAFANA_MEM:-1g}\n"
    )
    by = {(r.workload, r.resource): r for r in recommend(dataset, compose=compose)}
    assert by["sutazai/ollama", "memory"].current.limit == 12 * GiB
    assert by["sutazai/ollama", "memory"].current.reservation == 2 * GiB
    assert by["sutazai/ollama", "cpu"].current.limit == 6.0
    assert by["sutazai/ollama", "pids"].current.limit == 300
    assert by["sutazai/redis", "memory"].current.limit == 256 * 2**20
    assert by["sutazai/grafana", "memory"].current.limit == GiB  # read as compose does (GRAFANA_MEM unset)
    assert by["sutazai/postgres", "memory"].current.limit == 2 * GiB  # not in the file: from samples


def test_cli_recommend_on_the_sample_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["recommend", "--format", "json"], capsys)
    assert code == 0
    assert "rightsize: warning: no --data given: using the bundled SYNTHETIC sample" in err
    assert '"workload": "sutazai/neo4j"' in out


def _write(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: None, "no dataset at"),
        (lambda p: p.mkdir(), "no rightsize dataset at"),
        (lambda p: (p / "samples").mkdir(parents=True), "the dataset is empty"),
    ],
)
def test_cli_missing_or_empty_dataset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setup, message
) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "d"
    setup(target)
    code, out, err = run_cli(["recommend", "--data", str(target)], capsys)
    assert code == 2 and out == ""
    assert err.startswith("rightsize: error: ") and message in err and err.count("\n") == 1


def test_cli_not_parquet_alone_and_among_good_files(
    dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = dataset / "samples" / "date=2026-11-16" / "broken.parquet"
    bad.write_text("this is not parquet")
    code, out, err = run_cli(["recommend", "--data", str(dataset), "--format", "csv"], capsys)
    assert code == 0 and "rightsize: warning: skipping" in err and "broken.parquet" in err
    assert out.count("\n") == 31
    only = tmp_path / "only" / "samples" / "date=2026-01-01"
    only.mkdir(parents=True)
    (only / "x.parquet").write_text("nope")
    code, out, err = run_cli(["recommend", "--data", str(tmp_path / "only")], capsys)
    assert code == 2 and "no readable samples" in err


@pytest.mark.parametrize("command", ["recommend", "backtest", "report"])
def test_cli_a_plain_folder_of_foreign_parquet_names_file_and_column(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # no date= folders and no ts column: this was a KeyError traceback (recommend, report) or
    # called the file an events file (backtest)
    _write(tmp_path / "d" / "x.parquet", pa.table({"a": [1, 2]}))
    argv = [command, "--data", str(tmp_path / "d")]
    argv += ["--out", str(tmp_path / "r.html")] if command == "report" else []
    code, out, err = run_cli(argv, capsys)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert "x.parquet is not a rightsize samples file: missing column ts" in err


def test_backtest_reads_a_plain_folder_of_sample_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sample files without date= folders or an events folder beside them: they are samples, not events
    from backtest_data import flat

    _write(tmp_path / "d" / "a.parquet", store.to_table(flat(days=22)))
    code, out, err = run_cli(["backtest", "--data", str(tmp_path / "d"), "--format", "json"], capsys)
    assert code == 0, err
    assert json.loads(out)["strategies"]["krr"]["windows"] == 1


def test_cli_wrong_schema_names_file_and_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "d" / "samples" / "date=2026-01-01" / "a.parquet"
    _write(f, pa.table({"ts": pa.array([1, 2], pa.timestamp("ms", tz="UTC")), "workload": ["a", "a"]}))
    code, _, err = run_cli(["recommend", "--data", str(tmp_path / "d")], capsys)
    assert code == 2 and "a.parquet" in err and "missing column" in err and "mem_working_set" in err


def test_cli_nan_negative_and_counter_resets_warn_and_still_recommend(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    n = 400
    rng = np.random.default_rng(0)
    ts = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.arange(n) * 30, unit="s")
    mem = rng.integers(100, 200, n).astype(float) * 2**20
    mem[5] = np.nan
    mem[6] = -1
    cpu = rng.random(n)
    cpu[100] = -35.0  # cumulative counter reset after a restart
    cpu[200] = np.inf  # a broken source (Prometheus can answer "+Inf")
    frame = pd.DataFrame(
        {
            "ts": ts,
            "host": "h",
            "workload": "p/app",
            "container_id": "c1",
            "container": "app",
            "mem_working_set": pd.array(mem.round(), dtype="Int64"),
            "cpu_cores": cpu,
            "pids": 10,
            "oom_kills": 0,
            "restarts": 0,
        }
    )
    store.append(tmp_path / "d", store.to_table(frame))
    code, out, err = run_cli(["recommend", "--data", str(tmp_path / "d"), "--format", "json"], capsys)
    assert code == 0
    bad = "1 negative or infinite memory values, 2 negative or infinite CPU values"
    assert f"rightsize: warning: ignored {bad}" in err and "invalid value" not in err, err
    assert '"resource": "memory"' in out and '"recommended": null' not in out
    cpu_rec = next(r for r in json.loads(out) if r["resource"] == "cpu")
    valid = cpu[(cpu >= 0) & np.isfinite(cpu)]
    assert cpu_rec["observed"]["max"] == pytest.approx(valid.max(), rel=1e-3)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--strategy", "magic"], "unknown strategy 'magic'"),
        (["--format", "xml"], "unknown format 'xml'"),
        (["--units", "furlongs"], "unknown units 'furlongs'"),
        (["--set", "mem_margin"], "--set expects NAME=VALUE"),
        (["--set", "nope=1"], "unknown setting 'nope'"),
        (["--set", "mem_margin=-1"], "out of range"),
        (["--set", "pids_floor=inf"], "pids_floor='inf' out of range"),
        (["--set", "pids_factor=1e308"], "out of range: expected 1..1e+06"),
        (["--set", "oom_bump_bytes=1e400"], "cannot read '1e400'"),
        (["--since", "yesterday-ish"], "--since 'yesterday-ish'"),
        (["--since", "2099-01-01"], "--since '2099-01-01': no samples after it"),
        (["--compose", "/nonexistent/compose.yml"], "compose file not found"),
        (["--data", ""], "--data is empty: expected a dataset folder"),
        (["--compose", ""], "--compose is empty: expected a compose file"),
        (["--workload", ""], "--workload is empty: expected a glob"),
        (["--since", ""], "--since is empty: expected a duration"),
        (["--since", " "], "--since is empty: expected a duration"),
    ],
)
def test_cli_bad_options_are_one_line_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SampleDataWarning)
        code, out, err = run_cli(["recommend", *args], capsys)
    assert code == 2 and out == ""
    errors = [line for line in err.splitlines() if "error" in line]
    assert len(errors) == 1 and message in errors[0]


def test_cli_settings_and_overrides(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["recommend", "--strategy", "krr", "--settings"], capsys)
    assert code == 0 and "cpu_request_percentile = 0.95" in out
    code, out, _ = run_cli(
        ["recommend", "--set", "mem_margin=1", "--format", "csv", "--workload", "*/redis"], capsys
    )
    assert code == 0 and "+100%" in out


def test_data_may_be_the_samples_folder_or_one_file(dataset: Path) -> None:
    whole = {(r.workload, r.resource): r for r in recommend(dataset, workloads="*/neo4j")}
    folder = {(r.workload, r.resource): r for r in recommend(dataset / "samples", workloads="*/neo4j")}
    assert folder == whole  # the events beside the samples folder are found too
    one = sorted((dataset / "samples").rglob("*.parquet"))[0]
    single = {(r.workload, r.resource): r for r in recommend(one, workloads="*/neo4j")}
    mem = single["sutazai/neo4j", "memory"]
    assert mem.samples < whole["sutazai/neo4j", "memory"].samples
    assert mem.oom_kills == 1  # no events beside one file: the kill comes from the counters


def test_two_scanner_processes_give_the_same_profiles(dataset: Path) -> None:
    from rightsize.analysis.scan import scan_profiles
    from rightsize.store import DatasetWarning

    serial = scan_profiles(dataset, parallel=False)
    assert scan_profiles(dataset, parallel=True) == serial
    later = sorted((dataset / "samples").iterdir())[-1]
    (later / "broken.parquet").write_bytes(b"PAR1 not really")
    with pytest.warns(DatasetWarning, match=r"skipping .*broken\.parquet"):
        both = scan_profiles(dataset, parallel=True)  # the warning comes from the second process
    assert [p.workload for p in both] == [p.workload for p in serial]


def test_cli_data_that_is_not_parquet_at_all(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("memory: plenty\n")
    code, out, err = run_cli(["recommend", "--data", str(notes)], capsys)
    assert code == 2 and out == ""
    assert err == f"rightsize: error: no readable samples: {notes} is not a readable Parquet file\n"


def test_microsecond_timestamps_and_float_memory_from_other_writers(tmp_path: Path) -> None:
    frame = store.load(sample_path())
    frame = frame[frame["workload"] == "sutazai/redis"]
    expected = recommend(frame, workloads="sutazai/redis")
    table = store.to_table(frame)
    i = table.schema.get_field_index("ts")
    table = table.set_column(i, "ts", table["ts"].cast(pa.timestamp("us", tz="UTC")))
    j = table.schema.get_field_index("mem_working_set")
    table = table.set_column(j, "mem_working_set", table["mem_working_set"].cast(pa.float64()))
    _write(tmp_path / "d" / "samples" / "date=2026-11-16" / "other.parquet", table)
    got = recommend(tmp_path / "d", workloads="sutazai/redis")
    assert [r.recommended for r in got] == [r.recommended for r in expected]
    assert [r.history_seconds for r in got] == [86400.0] * 3


def test_many_small_files_read_in_batches_give_the_same_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A collector's one-minute flushes: many tiny files, read together; with and without the values
    kept from pass 1 (a budget of 0 forces the second pass to re-read the batches)."""
    from rightsize.analysis import scanpart

    monkeypatch.setenv("RIGHTSIZE_SMALL_ROWS", "0")  # the scan, not the small-data path

    table = store.read_table(sample_path()).sort_by("ts")
    out = tmp_path / "many" / "samples" / "date=2026-11-16"
    out.mkdir(parents=True)
    step = table.num_rows // 120 + 1
    for i in range(120):
        pq.write_table(table.slice(i * step, step), out / f"h-{i:04d}.parquet")
    shutil.copytree(sample_path() / "events", tmp_path / "many" / "events")
    expected = recommend(sample_path(), strategy="vpa")
    assert recommend(tmp_path / "many", strategy="vpa") == expected
    monkeypatch.setattr(scanpart, "VALUE_CACHE_BYTES", 0)
    assert recommend(tmp_path / "many", strategy="vpa") == expected


def test_files_from_before_cpu_reservation_mix_with_newer_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Schema v2 added cpu_reservation: files written before it (the bundled sample) read it as null,
    a newer file beside them carries it, and its latest value is the current CPU reservation - on the
    batched scan (the first file of the batch lacks the column), file by file, and in memory."""
    import pyarrow.compute as pc

    from rightsize.analysis import scanpart

    monkeypatch.setenv("RIGHTSIZE_SMALL_ROWS", "0")  # the scan, not the small-data path
    root = tmp_path / "mixed"
    shutil.copytree(sample_path(), root)
    old = store.read_table(sample_path())
    assert old["cpu_reservation"].null_count == old.num_rows  # filled: the files lack the column
    redis = old.filter(pc.equal(old["workload"], "sutazai/redis")).sort_by("ts")
    new = redis.slice(redis.num_rows - 100)
    shifted = pc.add(new["ts"].cast(pa.int64()), 1_000_000).cast(new["ts"].type)
    new = new.set_column(new.schema.get_field_index("ts"), "ts", shifted)
    new = new.set_column(new.schema.get_field_index("cpu_reservation"), "cpu_reservation",
                         pa.array([0.25] * 100, pa.float64()))  # fmt: skip
    _write(root / "samples" / "date=2026-11-17" / "z-new.parquet", new)

    frame = store.load(root)
    assert frame["cpu_reservation"].notna().sum() == 100
    recs = recommend(root)
    by = {(r.workload, r.resource): r for r in recs}
    assert by["sutazai/redis", "cpu"].current.reservation == 0.25
    assert by["sutazai/ollama", "cpu"].current.reservation is None
    assert recommend(frame, events=store.load_events(root)) == recs
    monkeypatch.setattr(scanpart, "SMALL_FILE_BYTES", 0)  # every file alone
    assert recommend(root) == recs


def test_file_lacking_an_original_column_is_still_an_error(tmp_path: Path) -> None:
    table = store.read_table(sample_path()).slice(0, 500).drop_columns(["cpu_limit", "cpu_reservation"])
    _write(tmp_path / "d" / "samples" / "date=2026-11-16" / "a.parquet", table)
    with pytest.raises(RightsizeError, match=r"a\.parquet is not a rightsize samples file: .*cpu_limit$"):
        recommend(tmp_path / "d")
    with pytest.raises(RightsizeError, match=r"a\.parquet .*missing column cpu_limit$"):
        store.load(tmp_path / "d")


def test_profiles_carry_kernel_peak_percentiles_on_both_paths(dataset: Path, tmp_path: Path) -> None:
    """p50/p90/p95/p99/max of mem_peak, exact (as numpy's quantile), from the streaming scan and from
    in-memory histories alike; none where the kernel offered no peaks."""
    from rightsize.analysis.history import histories
    from rightsize.analysis.profile import OBSERVED_QS, Dist, profile_of
    from rightsize.analysis.scan import scan_profiles

    frame = store.load(dataset)
    scanned = {p.workload: p for p in scan_profiles(dataset)}
    hists = list(histories(frame, store.load_events(dataset)))
    assert len(hists) == len(scanned) == 10
    for h in hists:
        p = profile_of(h)
        peaks = frame.loc[frame["workload"] == h.workload, "mem_peak"].dropna().to_numpy()
        assert p.mem_peaks.n == len(peaks) > 8000
        got = [p.mem_peaks.at(q) for q in OBSERVED_QS]
        np.testing.assert_array_equal(got, np.quantile(peaks, OBSERVED_QS))
        assert p.mem_peak_max == peaks.max() and p.mem_peaks.observed().p99 == p.mem_peaks.at(0.99)
        assert scanned[h.workload].mem_peaks == p.mem_peaks
    frame.loc[frame["workload"] == "sutazai/redis", "mem_peak"] = np.nan
    store.append(tmp_path, store.to_table(frame))
    redis = scan_profiles(tmp_path, workloads="sutazai/redis")[0]
    assert redis.mem_peaks == Dist() and redis.mem_peak_max is None


def test_absurd_data_and_overrides_never_overflow_int64(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Working sets near 2**63 bytes and 1e300 cores: limits are capped at what a runtime accepts."""
    n = 400
    ts = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.arange(n) * 300, unit="s")
    frame = pd.DataFrame({
        "ts": ts, "host": "h", "workload": "p/app", "container_id": "c1", "container": "app",
        "mem_working_set": pd.array(np.full(n, 2**63 - 2**20), dtype="Int64"), "cpu_cores": 1e300,
        "pids": 2**31 - 1, "oom_kills": 0, "restarts": 0,
    })  # fmt: skip
    store.append(tmp_path / "d", store.to_table(frame))
    args = ["recommend", "--data", str(tmp_path / "d"), "--format", "json", "--set", "mem_margin=10"]
    code, out, err = run_cli(args, capsys)
    assert code == 0 and "Traceback" not in err
    int64 = 2**63 - 1
    recs = {r["resource"]: r["recommended"] for r in json.loads(out)}
    assert 0 < recs["memory"]["reservation"] <= recs["memory"]["limit"] <= int64
    assert recs["memory"]["limit"] >= 2**63 - 2**32  # capped, not wrapped around or shrunk to nothing
    assert 0 < recs["cpu"]["limit"] * 1e9 <= int64  # Docker's NanoCpus is an int64 as well
    assert 0 < recs["pids"]["limit"] <= int64
    warned = [line for line in err.splitlines() if line.startswith("rightsize: warning: a recommended")]
    assert any("memory" in w and "capped" in w for w in warned) and any("cpu" in w for w in warned)


@pytest.mark.parametrize(
    ("column", "resource"), [("mem_working_set", "memory"), ("cpu_cores", "cpu"), ("pids", "pids")]
)
@pytest.mark.parametrize("n", [2000, 50], ids=["long", "short"])
def test_cli_a_resource_never_recorded_says_so_not_too_little_history(
    column: str, resource: str, n: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every sample of one column null (a source that cannot read it): more history would not help."""
    ts = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.arange(n) * 60, unit="s")
    frame = pd.DataFrame({
        "ts": ts, "host": "h", "workload": "p/app", "container_id": "c1", "container": "app",
        "mem_working_set": pd.array(np.arange(n) % 50 * 2**20 + 2**28, dtype="Int64"),
        "cpu_cores": np.linspace(0.1, 0.5, n), "pids": 10, "oom_kills": 0, "restarts": 0,
    })  # fmt: skip
    frame[column] = np.nan  # NaN in the frame, null in the Parquet file
    store.append(tmp_path / "d", store.to_table(frame))
    files = sorted((tmp_path / "d").rglob("*.parquet"))  # two days: two files
    assert sum(pq.read_table(f)[column].null_count for f in files) == n
    code, out, err = run_cli(["recommend", "--data", str(tmp_path / "d"), "--format", "json"], capsys)
    assert code == 0, err
    recs = {r["resource"]: r for r in json.loads(out)}
    missing = recs.pop(resource)
    assert missing["recommended"] is None and missing["samples"] == 0
    assert missing["reasons"][0] == f"no {resource} samples: all {n} missing"
    assert len(missing["reasons"]) == (1 if n == 2000 else 2)  # short: and too little history, also true
    for other in recs.values():  # the others keep their own story: a recommendation, or too short
        assert (other["recommended"] is not None) == (n == 2000), other
        assert ("too little history" in other["reasons"][0]) == (n == 50), other
    code, out, _ = run_cli(["recommend", "--data", str(tmp_path / "d")], capsys)
    assert code == 0 and f"no {resource} samples" in out
