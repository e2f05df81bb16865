"""A new user following the README, through the CLI: the bugs found on the way (session 5)."""

from __future__ import annotations

import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cli_helpers import run_cli, sha

import rightsize


def _one_error(code: int, err: str) -> None:
    assert code == 2, err
    assert err.startswith("rightsize: error: ") and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


def test_import_of_a_trace_without_rows_is_an_error_not_imported_0_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A header-only export said "imported 0 rows into OUT" with exit 0, and OUT did not exist:
    # the next `recommend --data OUT` then said "the path does not exist".
    trace, out = tmp_path / "export.csv", tmp_path / "data"
    trace.write_text("vm,time,cpu\n")
    code, stdout, err = run_cli(["import", str(trace), "--map", "workload=vm,ts=time,cpu_cores=cpu",
                                 "--out", str(out)], capsys)  # fmt: skip
    _one_error(code, err)
    assert "export.csv holds no rows" in err and stdout == ""
    assert not out.exists()


def test_import_where_that_keeps_no_row_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace, out = tmp_path / "t.csv", tmp_path / "data"
    trace.write_text("vm,time,cpu,live\nweb,2026-06-01T00:00:00Z,0.5,false\n")
    args = ["import", str(trace), "--map", "workload=vm,ts=time,cpu_cores=cpu", "--out", str(out)]
    args += ["--where", "live"]
    code, _, err = run_cli(args, capsys)
    _one_error(code, err)
    assert "no row of t.csv has --where live true" in err
    assert not out.exists()


def test_import_blank_workload_is_no_workload_and_skipped_rows_are_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An empty CSV field is "" (not null): such rows became a workload named '' (shown as '' in the
    # table), while rows with a null time were dropped without a word.
    trace, out = tmp_path / "t.csv", tmp_path / "data"
    trace.write_text(
        "vm,time,cpu\n"
        ",2026-06-01T00:00:00Z,0.5\n"
        "  ,2026-06-01T00:05:00Z,0.5\n"
        "web,,0.5\n"
        "web,2026-06-01T00:10:00Z,0.5\n"
    )
    code, stdout, err = run_cli(["import", str(trace), "--map", "workload=vm,ts=time,cpu_cores=cpu",
                                 "--out", str(out)], capsys)  # fmt: skip
    assert code == 0, err
    assert "imported 1 row into" in stdout
    assert "rightsize: warning: t.csv: skipped 3 rows without a time (--map ts=time) or a workload" in err
    assert "imported 1 rows" not in stdout
    assert list(rightsize.load(out)["workload"]) == ["web"]

    # nothing but blank workloads: an error, nothing written
    only_blank = tmp_path / "blank.csv"
    only_blank.write_text("vm,time,cpu\n,2026-06-01T00:00:00Z,0.5\n")
    other = tmp_path / "other"
    code, _, err = run_cli(["import", str(only_blank), "--map", "workload=vm,ts=time,cpu_cores=cpu",
                            "--out", str(other)], capsys)  # fmt: skip
    _one_error(code, err)
    assert "no row of blank.csv has both a time (--map ts=time) and a workload (--map workload=vm)" in err
    assert not other.exists()


def test_library_workloads_take_a_list_of_globs_as_the_cli_takes_a_comma_list() -> None:
    # README: rightsize.recommend(..., workloads=) / rightsize.backtest(..., workloads=); a list
    # (what a Python caller writes) failed with AttributeError: 'list' object has no attribute 'split'
    data = rightsize.sample_path()
    listed = rightsize.recommend(data, workloads=["sutazai/redis", "sutazai/neo*"])
    text = rightsize.recommend(data, workloads="sutazai/redis,sutazai/neo*")
    assert [r.to_dict() for r in listed] == [r.to_dict() for r in text]
    assert {r.workload for r in listed} == {"sutazai/redis", "sutazai/neo4j"}
    frame = rightsize.load(data)
    assert {r.workload for r in rightsize.recommend(frame, workloads=("sutazai/redis",))} == {"sutazai/redis"}
    result = rightsize.backtest(data, train="12h", test="6h", every="6h", workloads=["sutazai/redis"])
    assert [w["workload"] for w in result.to_dict()["workloads"]] == ["sutazai/redis"]
    with pytest.raises(rightsize.RightsizeError, match="no workload matches"):
        rightsize.recommend(data, workloads=["nothing/*"])


class _PlainHttp(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_https_url_to_a_plain_http_server_does_not_ask_for_a_ca(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # https:// given for a plain-HTTP Prometheus said "TLS verification failed (... (_ssl.c:...);
    # point RIGHTSIZE_PROM_CA at the CA certificate": no certificate can fix that
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _PlainHttp)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"https://127.0.0.1:{httpd.server_address[1]}"
    out = tmp_path / "data"
    try:
        code, _, err = run_cli(["collect", "--source", "prometheus", "--url", url, "--since", "1h",
                                "--out", str(out), "--quiet"], capsys)  # fmt: skip
    finally:
        httpd.shutdown()
        httpd.server_close()
    _one_error(code, err)
    assert "the server does not speak HTTPS; a plain-HTTP Prometheus is http://" in err
    assert "RIGHTSIZE_PROM_CA" not in err and not out.exists()


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("pids_floor=1.5", "setting pids_floor: cannot read '1.5' as a whole number"),
        ("mem_floor=-1", "setting mem_floor: cannot read '-1' as a size (100M, 1.5g, 512Mi)"),
        ("cpu_floor=half", "setting cpu_floor: cannot read 'half' as CPU cores (0.5, 500m)"),
    ],
)
def test_set_bad_values_say_what_is_expected(
    setting: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # said "cannot read '-1' as a bytes" / "as a cores"; pids_floor=1.5 was taken as a PID count
    code, _, err = run_cli(["recommend", "--set", setting, "--workload", "sutazai/redis"], capsys)
    _one_error(code, err)
    assert expected in err


def test_set_cpu_settings_take_millicores(capsys: pytest.CaptureFixture[str]) -> None:
    # --cpus and Kubernetes write 500m; --set cpu_floor=500m said "cannot read '500m' as a cores"
    args = ["recommend", "--format", "json", "--workload", "sutazai/redis"]
    code, out, err = run_cli([*args, "--set", "cpu_floor=500m"], capsys)
    assert code == 0, err
    code, same, err = run_cli([*args, "--set", "cpu_floor=0.5"], capsys)
    assert code == 0, err
    assert out == same
    cpu = next(r for r in json.loads(out) if r["resource"] == "cpu")
    assert cpu["recommended"]["reservation"] == 0.5  # the floor applied


def test_helm_map_to_a_limits_block_is_refused_not_nested(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # --map W=backend.resources.limits wrote backend.resources.limits.resources.limits.memory: a key
    # no chart reads, reported as a change
    values = tmp_path / "values.yaml"
    values.write_text("backend:\n  resources:\n    limits:\n      memory: 4Gi\n")
    before = sha(values)
    for path, want in [
        ("backend.resources.limits", "give the component (backend) or its resources (backend.resources)"),
        ("resources.requests", "names the requests block: give resources"),
    ]:
        code, out, err = run_cli(["apply", "--helm", str(values), "--map", f"sutazai/backend={path}"], capsys)
        _one_error(code, err)
        assert want in err and out == ""
        assert sha(values) == before
    code, out, err = run_cli(
        ["apply", "--helm", str(values), "--map", "sutazai/backend=backend.resources", "--dry-run"], capsys
    )
    assert code == 0, err
    assert "backend.resources.limits.memory: 4Gi -> 1792Mi" in err


def test_a_corrupt_parquet_file_is_one_warning_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # pyarrow's "Couldn't deserialize thrift: TProtocolException: Invalid data\n" ended the warning
    # with a lone ")" on a second stderr line
    trace, data = tmp_path / "t.csv", tmp_path / "data"
    rows = "".join(f"web,{1_700_000_000 + 60 * i},0.5,{100 + i}\n" for i in range(300))
    trace.write_text("vm,t,cpu,mem\n" + rows)
    mapping = "workload=vm,ts=t,cpu_cores=cpu,mem_working_set=mem"
    code, _, err = run_cli(["import", str(trace), "--map", mapping, "--out", str(data)], capsys)
    assert code == 0, err
    bad = data / "samples" / "date=2023-11-14" / "other-1700000000000-0.parquet"
    shutil.copy(next(data.rglob("*.parquet")), bad)
    raw = bytearray(bad.read_bytes())
    for i in range(200, len(raw) // 2, 7):  # the footer stays readable, the pages do not
        raw[i] ^= 0xFF
    bad.write_bytes(bytes(raw))
    for command in (["recommend"], ["backtest", "--train", "2h", "--test", "1h"]):
        code, _, err = run_cli([*command, "--data", str(data)], capsys)
        assert code in (0, 2), err
        lines = err.strip().splitlines()
        assert any(bad.name in line for line in lines), err
        assert all(line.startswith(("rightsize: warning: ", "rightsize: error: ")) for line in lines), err


def test_library_patch_compose_takes_one_path_and_comma_lists(tmp_path: Path) -> None:
    # rightsize.patch_compose("compose.yml", recs) read the path letter by letter ("c: given twice"),
    # only="memory" said "unknown resource m, e, m, o, r, y", services="db" "no service named d, b"
    compose = tmp_path / "compose.yml"
    compose.write_text(
        "name: sutazai\nservices:\n  postgres:\n    image: postgres\n    mem_limit: 2g\n"
        "  redis:\n    image: redis\n    mem_limit: 512m\n"
    )
    env = tmp_path / "prod.env"
    env.write_text("UNUSED=1\n")
    recs = rightsize.recommend(rightsize.sample_path())
    one = rightsize.patch_compose(
        str(compose), recs, dry_run=True, only="memory,cpu", services="postgres", env_files=str(env)
    )
    listed = rightsize.patch_compose(
        [compose], recs, dry_run=True, only=["memory", "cpu"], services=["postgres"], env_files=[env]
    )
    assert one == listed
    changed = {(c.workload, c.key) for c in one[0].changes}
    assert ("sutazai/postgres", "services.postgres.mem_limit") in changed
    assert all(c.workload == "sutazai/postgres" for c in one[0].changes)
    assert not any(c.key.endswith("pids_limit") for c in one[0].changes)
    # check_compose too: one path as a str, services as a comma list
    checked = rightsize.check_compose(str(compose), recs, services="postgres", env_files=str(env))
    assert checked == rightsize.check_compose([compose], recs, services=["postgres"], env_files=[env])
    assert {r.service for r in checked.rows} == {"postgres"}
    helm = tmp_path / "values.yaml"
    helm.write_text("postgresql:\n  resources: {}\n")
    result = rightsize.patch_helm(helm, recs, dry_run=True, only="memory")
    assert result.changes and all("memory" in c.key for c in result.changes)


def test_the_raise_ceiling_reason_says_the_limit_was_rounded_up_past_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # bitbrains_rnd_14 ran at 97% of its 2G limit: the reason said "at most +15% over the current
    # limit 2 GiB" beside a 2560M limit (+25%), the ceiling rounded up to the 256M step
    excerpt = Path(__file__).parent / "fixtures" / "backtest" / "bitbrains-rnd-excerpt.parquet"
    data = tmp_path / "data"
    mapping = "workload=container_id,ts=ts,cpu_cores=cpu,mem_working_set=mem,mem_limit=mem_limit"
    code, _, err = run_cli(["import", str(excerpt), "--where", "provisioned", "--map", mapping,
                            "--out", str(data)], capsys)  # fmt: skip
    assert code == 0, err
    args = ["recommend", "--data", str(data), "--format", "json", "--workload", "bitbrains_rnd_14"]
    code, out, err = run_cli(args, capsys)
    assert code == 0, err
    memory = json.loads(out)[0]
    assert memory["current"]["limit"] == 2 * 2**30
    assert memory["recommended"]["limit"] == 2560 * 2**20  # 2 GiB x 1.15 = 2355.2 MiB, rounded up
    said = "at most +15% over the current limit 2 GiB (2.3 GiB before rounding up to a step)"
    assert any(said in reason for reason in memory["reasons"]), memory["reasons"]


def test_a_history_under_a_minute_is_not_0_min(capsys: pytest.CaptureFixture[str]) -> None:
    # a first try after `collect --duration 25s` said "low confidence (0 min of history)"
    args = ["recommend", "--since", "30s", "--set", "min_samples=2", "--set", "min_history=10s",
            "--workload", "sutazai/redis"]  # fmt: skip
    code, out, err = run_cli(args, capsys)
    assert code == 0, err
    assert "low confidence (30 s of history)" in out and "0 min" not in out
    code, out, err = run_cli([*args, "--format", "markdown"], capsys)
    assert code == 0, err
    assert "30 s of history" in out


def test_apply_to_a_compose_file_written_as_json_keeps_it_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # new keys went in as YAML (`mem_reservation: 64m`, `deploy: {resources: ...}`): compose still
    # loaded the file, json.load and every JSON tool no longer did
    compose = tmp_path / "compose.json"
    compose.write_text(
        '{\n  "name": "sutazai",\n  "services": {\n'
        '    "redis": {"image": "redis", "mem_limit": "1g", "cpus": 1},\n'
        '    "postgres": {"image": "postgres", "deploy": {}},\n'
        '    "qdrant": {"image": "q", "deploy": {"resources": {"limits": {"memory": "2g"}}}}\n  }\n}\n'
    )
    code, _, err = run_cli(["apply", "-f", str(compose)], capsys)
    assert code == 0, err
    services = json.loads(compose.read_text())["services"]
    assert services["redis"] == {"image": "redis", "mem_limit": "192m", "cpus": 0.1, "mem_reservation": "64m",
                                 "pids_limit": 100}  # fmt: skip
    assert services["postgres"]["deploy"]["resources"] == {
        "limits": {"memory": "1536M", "cpus": "2", "pids": 100},
        "reservations": {"memory": "896M", "cpus": "0.75"},
    }
    assert services["qdrant"]["deploy"]["resources"]["limits"]["pids"] == 100
    before = sha(compose)
    code, out, err = run_cli(["apply", "-f", str(compose)], capsys)  # applying twice changes nothing
    assert code == 0 and "0 changed" in out, err
    assert sha(compose) == before


def test_backup_onto_a_folder_is_refused_before_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a folder named FILE.bak got the backup copied inside it (FILE.bak/FILE) while the summary
    # said "backup: FILE.bak", and the file was rewritten
    compose, values = tmp_path / "compose.yml", tmp_path / "values.yaml"
    compose.write_text("name: sutazai\nservices:\n  redis:\n    image: redis\n    mem_limit: 1g\n")
    values.write_text("redis:\n  resources: {}\n")
    for target, path in (("-f", compose), ("--helm", values)):
        folder = path.with_name(path.name + ".bak")
        folder.mkdir()
        before = sha(path)
        code, out, err = run_cli(["apply", target, str(path), "--backup"], capsys)
        _one_error(code, err)
        assert f"cannot keep the backup {folder}: it is a folder; nothing written" in err and out == ""
        assert sha(path) == before and list(folder.iterdir()) == []


def test_set_a_percent_written_as_a_bare_number_gets_a_hint(capsys: pytest.CaptureFixture[str]) -> None:
    # --set mem_margin=20 (meant: 20 %) said "out of range: expected 0..10" and nothing more;
    # mem_margin=5 silently meant +500 %
    base = ["recommend", "--format", "json", "--workload", "sutazai/redis"]
    code, _, err = run_cli([*base, "--set", "mem_margin=20"], capsys)
    _one_error(code, err)
    assert "for 20 percent write 20% or 0.2" in err
    code, _, err = run_cli([*base, "--set", "mem_reservation_percentile=95"], capsys)
    _one_error(code, err)
    assert "for 95 percent write 95% or 0.95" in err
    code, _, err = run_cli([*base, "--set", "mem_margin=5"], capsys)
    assert code == 0 and "rightsize: warning: --set mem_margin=5 reads as 500%; for 5 percent write 5%" in err
    for meant in ("mem_margin=0.05", "mem_margin=5%", "mem_raise_max=10", "mem_limit_percentile=1"):
        code, _, err = run_cli([*base, "--set", meant], capsys)
        assert code == 0 and "reads as" not in err, (meant, err)


def test_library_import_trace_takes_the_cli_mapping_text(tmp_path: Path) -> None:
    # rightsize.import_trace(file, "workload=vm,ts=t,...", out) said "unknown samples column 'w', 'o', ..."
    trace = tmp_path / "t.csv"
    trace.write_text("vm,t,cpu\nweb,2026-06-01T00:00:00Z,50\nweb,2026-06-01T00:10:00Z,70\n")
    text = rightsize.import_trace(trace, "workload=vm,ts=t,cpu_cores=cpu/100", tmp_path / "a")
    mapping = {"workload": "vm", "ts": "t", "cpu_cores": "cpu/100"}
    mapped = rightsize.import_trace(trace, mapping, tmp_path / "b")
    assert text == mapped == 2
    assert list(rightsize.load(tmp_path / "a")["cpu_cores"]) == pytest.approx([0.5, 0.7])


@pytest.mark.parametrize(
    ("old", "new"),
    [("1GB", "1792MB"), ("1 GB", "1792 MB"), ("1GiB", "1792MiB"), ("1gb", "1792mb"), ("1 GiB", "1792 MiB"),
     ("1g", "1792m"), ("1G", "1792M"), ("1073741824b", "1792m")],
)  # fmt: skip  (no "1Gi": Docker Compose v2 refuses it, see test_compose_v2_values)
def test_apply_keeps_the_unit_spelling_of_a_size(
    old: str, new: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the plan's "memory: 1GB" became "1792M" (the B dropped); README: unit spelling survives
    compose = tmp_path / "compose.yml"
    compose.write_text(f"name: sutazai\nservices:\n  neo4j:\n    image: neo4j\n    mem_limit: {old}\n")
    code, _, err = run_cli(["apply", "-f", str(compose), "--only", "memory"], capsys)
    assert code == 0, err
    assert f"    mem_limit: {new}\n" in compose.read_text()
    code, out, err = run_cli(["apply", "-f", str(compose), "--only", "memory"], capsys)
    assert code == 0 and "0 changed" in out, err  # read back as the same size: applying twice changes nothing


@pytest.mark.parametrize("small_rows", ["", "0"])  # the small-dataset path and the streaming scanner
def test_a_dangling_link_in_the_dataset_is_skipped_with_a_warning(
    small_rows: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a file gone from a synced folder (here a dangling link) failed recommend as a whole:
    # "rightsize: error: .../broken.parquet No such file or directory"; backtest skipped it
    monkeypatch.setenv("RIGHTSIZE_SMALL_ROWS", small_rows)
    data = tmp_path / "data"
    shutil.copytree(rightsize.sample_path(), data)
    broken = data / "samples" / "date=2026-11-16" / "gone.parquet"
    broken.symlink_to(tmp_path / "nowhere.parquet")
    code, out, err = run_cli(["recommend", "--data", str(data), "--format", "json"], capsys)
    assert code == 0, err
    assert f"rightsize: warning: skipping {broken}: not a readable Parquet file" in err
    assert len(json.loads(out)) == 30


def test_backtest_set_for_a_misspelt_strategy_fails_before_the_data_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # --set defualt.mem_margin=0.1 said "--set names strategy defualt, which is not backtested", and
    # only after the whole dataset was read; a library caller's flat overrides={"mem_margin": ...} too
    missing = tmp_path / "no-such-dataset"
    args = ["backtest", "--data", str(missing), "--set", "defualt.mem_margin=0.1"]
    code, _, err = run_cli(args, capsys)
    _one_error(code, err)
    assert "unknown strategy 'defualt'; choose one of: default, safe, krr, vpa" in err  # not "no dataset"
    code, _, err = run_cli(["backtest", "--data", str(missing), "--set", "krr.nosuch=1"], capsys)
    _one_error(code, err)
    assert "unknown setting 'nosuch'" in err
    sample = str(rightsize.sample_path())
    args = ["backtest", "--data", sample, "--train", "12h", "--test", "6h", "--set", "safe.mem_margin=0.1"]
    code, _, err = run_cli(args, capsys)
    _one_error(code, err)
    assert "which is not backtested (add it to --strategies)" in err
    with pytest.raises(rightsize.RightsizeError, match=r"overrides maps a strategy to its settings"):
        rightsize.backtest(rightsize.sample_path(), train="12h", test="6h", overrides={"mem_margin": "0.3"})


def test_report_warns_once_about_a_bad_file_and_takes_a_list_of_globs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # recommend and the chart reader both read the dataset: a corrupt file was warned about twice
    data = tmp_path / "d"
    shutil.copytree(rightsize.sample_path(), data)
    good = sorted((data / "samples").rglob("*.parquet"))[0]
    bad = good.with_name("broken.parquet")
    bad.write_bytes(good.read_bytes()[:5000])
    code, _, err = run_cli(["report", "--data", str(data), "--out", str(tmp_path / "r.html")], capsys)
    assert code == 0, err
    about = [line for line in err.splitlines() if "broken.parquet" in line]
    assert len(about) == 1 and about[0].startswith("rightsize: warning: skipping"), err
    # the library's workloads= takes a list, as recommend's does (it raised AttributeError)
    page = rightsize.report(data, out=tmp_path / "one.html", workloads=["sutazai/redis", "sutazai/neo4j"])
    text = page.read_text()
    assert "2 workloads" in text and "sutazai/postgres" not in text
