from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
import pytest

from rightsize import store
from rightsize.errors import RightsizeError


def _rows(start_ms: int, n: int, workload: str = "proj/web") -> list[dict[str, object]]:
    return [
        {
            "ts": start_ms + i * 10_000,
            "host": "h1",
            "workload": workload,
            "container_id": "abc",
            "container": "web-1",
            "image": "img",
            "cpu_cores": 0.5,
            "mem_working_set": 100 + i,
            "mem_rss": 90,
            "pids": 3,
            "oom_kills": 0,
            "restarts": 0,
        }
        for i in range(n)
    ]


def test_append_partitions_by_day_and_reads_back(tmp_path: Path) -> None:
    midnight = int(pd.Timestamp("2026-01-02", tz="UTC").timestamp() * 1000)
    table = store.to_table(_rows(midnight - 30_000, 6))
    written = store.append(tmp_path, table, host="my host/1")
    assert sorted(p.parent.name for p in written) == ["date=2026-01-01", "date=2026-01-02"]
    assert all(p.name.startswith("my-host-1-") for p in written)
    frame = store.load(tmp_path)
    assert len(frame) == 6
    assert frame["ts"].is_monotonic_increasing
    assert frame["mem_peak"].isna().all()
    # Readable without rightsize: pandas and pyarrow.dataset over the same folder.
    assert len(pd.read_parquet(tmp_path / "samples")) == 6
    assert ds.dataset(tmp_path / "samples", partitioning="hive").count_rows() == 6


def test_second_append_adds_files(tmp_path: Path) -> None:
    store.append(tmp_path, store.to_table(_rows(0, 3)))
    store.append(tmp_path, store.to_table(_rows(100_000, 3)))
    assert len(store.list_files(tmp_path)) == 2
    assert len(store.load(tmp_path)) == 6


def test_temporary_files_are_skipped(tmp_path: Path) -> None:
    store.append(tmp_path, store.to_table(_rows(0, 3)))
    day = next((tmp_path / "samples").iterdir())
    (day / ".half-written.parquet.tmp").write_bytes(b"PAR1garbage")
    (day / "_other.parquet").write_bytes(b"garbage")
    assert len(store.load(tmp_path)) == 3


def test_corrupt_file_is_skipped_with_warning_naming_it(tmp_path: Path) -> None:
    store.append(tmp_path, store.to_table(_rows(0, 3)))
    day = next((tmp_path / "samples").iterdir())
    bad = day / "broken.parquet"
    bad.write_bytes(b"this is not parquet")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = store.load(tmp_path)
    assert len(frame) == 3
    assert any("broken.parquet" in str(w.message) for w in caught)


def test_wrong_schema_names_file_and_column(tmp_path: Path) -> None:
    day = tmp_path / "samples" / "date=2026-01-01"
    day.mkdir(parents=True)
    pd.DataFrame({"ts": [1], "workload": ["x"]}).to_parquet(day / "foreign.parquet")
    with pytest.raises(RightsizeError, match=r"foreign\.parquet.*missing column.*host"):
        store.load(tmp_path)


def test_missing_and_empty_datasets(tmp_path: Path) -> None:
    with pytest.raises(RightsizeError, match="does not exist"):
        store.load(tmp_path / "nope")
    (tmp_path / "samples").mkdir()
    with pytest.raises(RightsizeError, match="empty"):
        store.load(tmp_path)
    with pytest.raises(RightsizeError, match="no rightsize dataset"):
        store.load(tmp_path / "samples" / ".." / "..")


def test_events_roundtrip_and_empty(tmp_path: Path) -> None:
    store.append(tmp_path, store.to_table(_rows(0, 1)))
    assert list(store.load_events(tmp_path).columns) == store.EVENTS_SCHEMA.names
    ev = store.to_table(
        [
            {
                "ts": 5,
                "host": "h",
                "workload": "w",
                "container_id": "c",
                "container": "n",
                "kind": "oom",
                "exit_code": 137,
            }
        ],
        "events",
    )
    store.append(tmp_path, ev, "events")
    events = store.load_events(tmp_path)
    assert events["kind"].tolist() == ["oom"]


def test_since_filters_rows(tmp_path: Path) -> None:
    store.append(tmp_path, store.to_table(_rows(0, 10)))
    frame = store.load(tmp_path, since=pd.Timestamp(50_000, unit="ms", tz="UTC"))
    assert len(frame) == 5


def test_events_beside_a_samples_folder_given_directly(tmp_path: Path) -> None:
    store.append(tmp_path, store.to_table(_rows(0, 2)))
    ev = store.to_table([{"ts": 5, "host": "h", "workload": "w", "container_id": "c", "container": "n",
                          "kind": "die", "exit_code": 1}], "events")
    store.append(tmp_path, ev, "events")
    assert store.load_events(tmp_path / "samples")["kind"].tolist() == ["die"]
    assert len(store.load(tmp_path / "samples")) == 2


def test_files_from_before_an_added_column_read_it_as_null(tmp_path: Path) -> None:
    """cpu_reservation came with schema version 2: a version-1 file (without it) is still a good
    file, read with the column null beside newer files that carry it."""
    import pyarrow.parquet as pq

    assert store.SCHEMA_VERSION == "2" and "cpu_reservation" in store.ADDED_COLUMNS["samples"]
    old = store.to_table(_rows(0, 3)).drop_columns(["cpu_reservation"])
    day = tmp_path / "samples" / "date=1970-01-01"
    day.mkdir(parents=True)
    pq.write_table(old, day / "a-old.parquet")
    store.append(tmp_path, store.to_table([{**r, "cpu_reservation": 0.5} for r in _rows(100_000, 2)]))
    frame = store.load(tmp_path)
    assert frame["cpu_reservation"].isna().tolist() == [True, True, True, False, False]
    assert frame["cpu_reservation"].max() == 0.5
    only = store.load(tmp_path, columns=["ts", "cpu_reservation"])
    assert list(only.columns) == ["ts", "cpu_reservation"] and only["cpu_reservation"].notna().sum() == 2
    assert store.read_table(day / "a-old.parquet").schema == store.SAMPLES_SCHEMA.remove_metadata()


@pytest.mark.parametrize("call", ["load", "recommend", "backtest", "report"])
def test_library_refuses_an_empty_dataset_path(
    call: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Path("") is "." : an empty variable must not quietly analyse the current folder
    import rightsize

    store.append(tmp_path, store.to_table(_rows(0, 3)))  # a real dataset in the cwd
    monkeypatch.chdir(tmp_path)
    kw = {"out": str(tmp_path / "r.html")} if call == "report" else {}
    with pytest.raises(RightsizeError, match="the dataset path is empty"):
        getattr(rightsize, call)("", **kw)
