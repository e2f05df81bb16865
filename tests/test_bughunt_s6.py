"""Bugs found by trying what a user feeds `import`, `check` and `collect --source prometheus`."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import run_cli as run


def test_check_warns_when_no_service_matches_the_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a wrong --project (or the data of another stack) made every row "service not in the data" and
    # the CI gate green without a word; apply warns in the same case, check said nothing
    compose = tmp_path / "compose.yml"
    compose.write_text(
        "services:\n  backend:\n    image: x\n    restart: always\n    mem_limit: 1g\n    cpus: 1\n"
        "    pids_limit: 100\n"
    )
    code, out, err = run(["check", "-f", str(compose), "--project", "wrong"], capsys)
    assert code == 0, err
    assert "service not in the data" in out
    assert "rightsize: warning: no service matched a workload in the data (it has sutazai/" in err
    # the right project matches: no such warning
    code, out, err = run(["check", "-f", str(compose), "--project", "sutazai"], capsys)
    assert "no service matched" not in err


@pytest.mark.prometheus
def test_a_docker_hosts_cadvisor_is_named_in_the_no_series_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # cAdvisor run beside Docker (the usual compose + Prometheus setup) labels a container by
    # name/id/image, with no Kubernetes namespace/pod/container: the pull found "no container
    # series" and said nothing of why, though the working-set series were right there
    import time

    from prom_fixtures import PrometheusServer, backfill

    now = int(time.time()) // 60 * 60
    labels = 'id="/docker/4f1c",image="nginx:1.27",name="shop-web-1",instance="host1:8080",job="cadvisor"'
    om = tmp_path / "om"
    om.mkdir()
    rows = [
        f"container_memory_working_set_bytes{{{labels}}} {100_000_000 + i} {now - 3600 + 60 * i}"
        for i in range(50)
    ]
    cpu = [
        f'container_cpu_usage_seconds_total{{{labels},cpu="total"}} {30 * i} {now - 3600 + 60 * i}'
        for i in range(50)
    ]
    (om / "docker.om").write_text(
        "# TYPE container_memory_working_set_bytes gauge\n" + "\n".join(rows)
        + "\n# TYPE container_cpu_usage_seconds_total counter\n" + "\n".join(cpu) + "\n# EOF\n"
    )  # fmt: skip
    backfill(om, tmp_path / "tsdb")
    with PrometheusServer(tmp_path / "tsdb") as server:
        out_dir = tmp_path / "out"
        code, _out, err = run(
            [
                "collect",
                "--source",
                "prometheus",
                "--url",
                server.url,
                "--since",
                "2h",
                "--out",
                str(out_dir),
            ],
            capsys,
        )
    assert code == 2, err
    error = [line for line in err.splitlines() if line.startswith("rightsize: error:")]
    assert len(error) == 1 and "has no container series" in error[0]
    assert 'name="shop-web-1"' in error[0] and "Kubernetes" in error[0], error[0]
    assert not out_dir.exists()


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_a_true_false_column_mapped_to_a_number_is_refused(
    suffix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # --map cpu_cores=up (a health flag, not the CPU column) imported true/false as 1.0/0.0 cores
    # (and a Parquet bool as mem_working_set as 1 byte) without a word
    import pandas as pd

    trace = tmp_path / f"trace.{suffix}"
    frame = pd.DataFrame(
        {"vm": ["a", "a"], "time": [1700000000, 1700000060], "cpu": [0.5, 0.6], "up": [True, False]}
    )
    if suffix == "csv":
        trace.write_text("vm,time,cpu,up\na,1700000000,0.5,true\na,1700000060,0.6,false\n")
    else:
        frame.to_parquet(trace)
    out = tmp_path / "out"
    code, _out, err = run(
        ["import", str(trace), "--map", "workload=vm,ts=time,cpu_cores=up", "--out", str(out)], capsys
    )
    assert code == 2, err
    assert (
        err.startswith("rightsize: error: --map cpu_cores=up: column 'up' holds true/false")
        and err.count("\n") == 1
    )
    assert not out.exists()
    code, _out, err = run(
        ["import", str(trace), "--map", "workload=vm,ts=time,cpu_cores=cpu", "--out", str(out)], capsys
    )
    assert code == 0, err


def test_a_utf16_csv_is_named_as_such(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Excel's "Unicode Text" and PowerShell's Export-Csv (Windows PowerShell 5) write UTF-16 with a
    # BOM: arrow read it as bytes and failed with "Expected 3 columns, got 1: " and nothing else
    trace = tmp_path / "trace.csv"
    trace.write_bytes("vm,time,mem\r\na,1700000000,5\r\n".encode("utf-16"))
    out = tmp_path / "out"
    code, _out, err = run(
        ["import", str(trace), "--map", "workload=vm,ts=time,mem_working_set=mem", "--out", str(out)], capsys
    )
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith("rightsize: error: cannot read trace.csv as CSV: it is UTF-16 text"), err
    assert not out.exists()


@pytest.mark.parametrize("url", ["http://[::1", "http://host:99999", "http://:9090", "http://host:port"])
def test_a_malformed_prometheus_url_is_one_error_line(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # "http://[::1" raised ValueError out of urlsplit: a traceback and exit 1; a port out of range
    # or no host at all reached requests and came back as its own wording
    out = tmp_path / "out"
    code, _out, err = run(["collect", "--source", "prometheus", "--url", url, "--out", str(out)], capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"rightsize: error: not a Prometheus URL: {url!r}"), err
    assert not out.exists()
