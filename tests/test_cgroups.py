"""cgroup v1/v2 and Docker stats parsing, from recorded real payloads (see tests/fixtures/README.md)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rightsize.collector.sampling import cpu_rates, sample_row
from rightsize.errors import RightsizeError
from rightsize.sources import cgroups
from rightsize.sources.cgroups import Counters
from rightsize.sources.docker import counters_from_stats, info_from_inspect, parse_filters, workload_name

FIX = Path(__file__).parent / "fixtures"
MiB = 1024**2


def _files(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() for p in folder.rglob("*") if p.is_file()}


# ------------------------------------------------------------------------------------ cgroup v1


def test_v1_files_recorded_here_give_working_set_rss_peak_and_counters() -> None:
    # Recorded from a container holding a 48 MiB dd buffer and spinning under --cpus 0.5 -m 64m.
    c = cgroups.counters_v1(_files(FIX / "cgroup_v1"), t=10.0)
    assert c.mem_usage == 50860032
    assert c.inactive_file == 0
    assert c.working_set == 50860032
    assert c.rss == 50429952  # total_rss
    assert c.peak == 50962432  # memory.max_usage_in_bytes
    assert c.cpu_ns == 52017500583
    assert (c.periods, c.throttled) == (1043, 1019)
    assert c.pids == 2
    assert c.oom_kills == 0
    assert 45 * MiB < c.working_set < 52 * MiB


def test_v1_working_set_subtracts_total_inactive_file() -> None:
    files = _files(FIX / "cgroup_v1")
    files["memory/memory.stat"] = files["memory/memory.stat"].replace(
        "total_inactive_file 0", "total_inactive_file 1048576"
    )
    assert cgroups.counters_v1(files, 0.0).working_set == 50860032 - 1048576


def test_v1_missing_optional_files_are_none_not_errors() -> None:
    files = {"memory/memory.usage_in_bytes": "4096\n"}
    c = cgroups.counters_v1(files, 0.0)
    assert c.working_set == 4096
    assert c.cpu_ns is None and c.peak is None and c.oom_kills is None and c.pids is None


# ------------------------------------------------------------------------------------ cgroup v2


def test_v2_memory_stat_and_current_from_clickhouse_recording() -> None:
    c = cgroups.counters_v2(_files(FIX / "cgroup_v2_clickhouse"), 0.0)
    assert c.mem_usage == 29645422592
    assert c.inactive_file == 8693084160
    assert c.working_set == 29645422592 - 8693084160
    assert c.rss == 10429399040  # anon
    assert c.peak is None  # no memory.peak in that recording


def test_v2_docker_container_matches_docker_stats_mem_usage() -> None:
    # The post computed 20054016 - 6627328 = 13426688 bytes and docker stats showed 12.81MiB.
    c = cgroups.counters_v2(_files(FIX / "cgroup_v2_docker_debian12"), 0.0)
    assert c.working_set == 13426688
    assert round(c.working_set / MiB, 1) == pytest.approx(12.8, abs=0.05)
    assert c.cpu_ns == 3956133964 * 1000  # usage_usec -> ns
    assert (c.periods, c.throttled) == (0, 0)
    assert c.pids == 2


def test_v2_oom_kill_and_peak() -> None:
    vps = cgroups.counters_v2({**_files(FIX / "cgroup_v2_oom_vps"), "memory.current": "0\n"}, 0.0)
    assert vps.oom_kills == 1
    assert vps.peak == 173756416
    ecs = cgroups.counters_v2(_files(FIX / "cgroup_v2_ecs_slice"), 0.0)
    assert ecs.oom_kills == 1


def test_v2_locate_and_read_in_a_systemd_driver_layout(tmp_path: Path) -> None:
    """The recorded v2 files placed where Docker's systemd driver puts them, read via locate()."""
    cid = "1552aca7680656f0647952f0be64e5e23d3493aac833b734aadf09aa0e941d58"
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory hugetlb pids rdma\n")
    scope = tmp_path / "system.slice" / f"docker-{cid}.scope"
    shutil.copytree(FIX / "cgroup_v2_docker_debian12", scope)
    reader = cgroups.locate(cid, None, tmp_path)
    assert reader is not None and reader.version == 2
    c = reader.read(5.0)
    assert c.working_set == 13426688 and c.t == 5.0
    assert cgroups.locate("f" * 64, None, tmp_path) is None
    shutil.rmtree(scope)
    with pytest.raises(cgroups.CgroupGone):
        reader.read(6.0)


def test_detect_version(tmp_path: Path) -> None:
    assert cgroups.detect_version(tmp_path) is None
    (tmp_path / "memory").mkdir()
    (tmp_path / "cpuacct").mkdir()
    assert cgroups.detect_version(tmp_path) == 1
    (tmp_path / "cgroup.controllers").write_text("memory\n")
    assert cgroups.detect_version(tmp_path) == 2


# ------------------------------------------------------------------------------- Docker stats API


def test_docker_stats_v1_payload_recorded_here() -> None:
    payload = json.loads((FIX / "docker_stats_v1.json").read_text())
    c = counters_from_stats(payload)
    assert c is not None
    mem = payload["memory_stats"]
    assert c.working_set == mem["usage"] - mem["stats"]["total_inactive_file"]
    assert c.rss == mem["stats"]["total_rss"]
    assert c.peak == mem["max_usage"]
    # The payload carries its own previous reading: cores and throttling between the two.
    pre = dict(payload, read=payload["preread"], cpu_stats=payload["precpu_stats"])
    prev = counters_from_stats(pre)
    cores, throttled = cpu_rates(prev, c, cpu_limit=0.5)  # type: ignore[misc]
    assert cores == pytest.approx(0.5, abs=0.05)  # a busy loop under --cpus 0.5
    assert throttled == pytest.approx(1.0)


def test_docker_stats_v2_payloads() -> None:
    oneshot = counters_from_stats(json.loads((FIX / "docker_stats_v2_oneshot.json").read_text()))
    assert oneshot is not None
    assert oneshot.working_set == 20103168 - 6668288  # usage - inactive_file, as docker stats
    assert oneshot.rss == 7581696  # anon
    assert oneshot.peak is None  # v2 payloads have no max_usage
    assert oneshot.pids == 2
    stream = json.loads((FIX / "docker_stats_v2_stream.json").read_text())
    cur = counters_from_stats(stream)
    prev = counters_from_stats(dict(stream, read=stream["preread"], cpu_stats=stream["precpu_stats"]))
    cores, throttled = cpu_rates(prev, cur, cpu_limit=None)  # type: ignore[arg-type,misc]
    assert cores == pytest.approx((63085778000 - 61876816000) / 1.002679729 / 1e9, rel=1e-6)
    assert throttled is None  # no CPU limit -> no throttled share


def test_stopped_container_payload_is_none() -> None:
    assert counters_from_stats({"read": "0001-01-01T00:00:00Z", "memory_stats": {}, "cpu_stats": {}}) is None


def test_inspect_recorded_here() -> None:
    info = info_from_inspect(json.loads((FIX / "docker_inspect_v1.json").read_text()))
    assert info.cpu_limit == 0.5
    assert info.mem_limit == 64 * MiB
    assert info.mem_reservation is None and info.pids_limit is None
    assert info.workload == info.name == "rs-probe"
    assert info.restarts == 0 and info.pid


# ------------------------------------------------------------------------------------ pure rules


def test_cpu_rates_rules() -> None:
    a = Counters(t=0.0, cpu_ns=0, periods=0, throttled=0)
    b = Counters(t=2.0, cpu_ns=1_000_000_000, periods=20, throttled=5)
    assert cpu_rates(None, a, 1.0) == (None, None)  # first sample of a container
    assert cpu_rates(a, b, 1.0) == (0.5, 0.25)
    assert cpu_rates(a, b, None) == (0.5, None)
    assert cpu_rates(b, b, 1.0) is None  # not a newer reading
    reset = Counters(t=3.0, cpu_ns=10, periods=0, throttled=0)
    assert cpu_rates(b, reset, 1.0) == (None, None)  # counters went backwards: no value
    idle = Counters(t=4.0, cpu_ns=1_000_000_000, periods=20, throttled=5)
    assert cpu_rates(b, idle, 1.0) == (0.0, 0.0)


def test_sample_row_takes_the_larger_of_kernel_and_event_oom_counts() -> None:
    info = info_from_inspect(json.loads((FIX / "docker_inspect_v1.json").read_text()))
    reading = Counters(t=1.0, mem_usage=10, oom_kills=None)
    row = sample_row(info, reading, (None, None), ts_ms=1, host="h", oom_events=2)
    assert row["oom_kills"] == 2 and row["mem_working_set"] == 10 and row["cpu_limit"] == 0.5
    row = sample_row(info, Counters(t=1.0, oom_kills=3), (None, None), ts_ms=1, host="h", oom_events=1)
    assert row["oom_kills"] == 3


def test_workload_names() -> None:
    labels = {"com.docker.compose.project": "shop", "com.docker.compose.service": "db"}
    assert workload_name(labels, "/shop_db_1") == "shop/db"
    assert workload_name({}, "/web") == "web"


def test_filters() -> None:
    assert parse_filters(["name=web", "label=tier=db"], "shop") == {
        "name": ["web"],
        "label": ["tier=db", "com.docker.compose.project=shop"],
    }
    with pytest.raises(RightsizeError, match="unknown filter"):
        parse_filters(["colour=red"], None)
    with pytest.raises(RightsizeError, match="KEY=VALUE"):
        parse_filters(["name"], None)
