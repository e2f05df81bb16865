"""Mistakes a new user makes while following the README: each is one error line and exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_helpers import run_cli


def test_import_out_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "trace.csv"
    trace.write_text("vm,time,cpu\nvm1,1767225600,0.5\n")
    out = tmp_path / "docker-compose.yml"
    out.write_text("services: {}\n")
    code, _, err = run_cli(
        ["import", str(trace), "--map", "workload=vm,ts=time,cpu_cores=cpu", "--out", str(out)], capsys
    )
    assert code == 2
    assert err == f"rightsize: error: output {out} exists and is not a folder\n"
    assert out.read_text() == "services: {}\n"


@pytest.mark.parametrize("command", [["apply", "--dry-run"], ["check"]])
def test_compose_file_without_services(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    # a CI gate must not pass (exit 0, "checklist met") on a file that defines no service at all
    path = tmp_path / "docker-compose.yml"
    path.write_text("services: {}\n")
    code, out, err = run_cli([*command, "-f", str(path)], capsys)
    assert code == 2, out
    assert err == f"rightsize: error: {path}: defines no services\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["recommend", "--since", "7x"], "--since '7x': expected a duration"),
        (["report", "--since", "7x", "--out", "{tmp}/r.html"], "--since '7x': expected a duration"),
        (["check", "-f", "{tmp}/c.yml", "--since", "7x"], "--since '7x': expected a duration"),
        (["backtest", "--train", "1x"], "not a duration: '1x'"),
        (["backtest", "--strategies", "default,foo"], "unknown strategy 'foo'"),
    ],
)
def test_bad_option_without_data_is_the_error_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    # the option is wrong whatever the data: no "using the bundled sample" warning before the error
    (tmp_path / "c.yml").write_text("services:\n  db:\n    image: postgres\n")
    code, _, err = run_cli([a.replace("{tmp}", str(tmp_path)) for a in argv], capsys)
    assert code == 2
    assert err.startswith("rightsize: error: ") and message in err and err.count("\n") == 1, err


def test_no_arguments_prints_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    # a new user's first try: the help, not "rightsize: error: Usage: ..."
    code, out, err = run_cli([], capsys)
    assert (code, err) == (0, "")
    assert out.startswith("Usage: ") and "COMMAND [ARGS]" in out and "recommend" in out


def test_tolerance_out_of_range_says_what_fits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "docker-compose.yml"
    path.write_text("services:\n  db:\n    image: postgres\n")
    code, _, err = run_cli(["check", "-f", str(path), "--tolerance", "25"], capsys)  # meant 25%
    assert code == 2
    assert err == "rightsize: error: tolerance out of range: '25' (expected 0 to 10, e.g. 25% or 0.25)\n"


@pytest.mark.parametrize("command", [["apply"], ["check"]])
def test_same_compose_file_twice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    # -f a.yml -f ./a.yml patched the file twice, printing "0 changed" and then "26 changed"
    path = tmp_path / "a.yml"
    path.write_text("services:\n  db:\n    image: postgres\n")
    again = tmp_path / "sub" / ".." / "a.yml"
    (tmp_path / "sub").mkdir()
    code, _, err = run_cli([*command, "-f", str(path), "-f", str(again)], capsys)
    assert code == 2
    assert err == f"rightsize: error: {again}: given twice (as {path} too): give each compose file once\n"
    assert path.read_text() == "services:\n  db:\n    image: postgres\n"


def test_the_events_folder_given_as_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # --data ROOT/events silently read ROOT/samples: the slip is named instead
    from rightsize import store
    from rightsize.analysis.recommend import sample_path

    root = tmp_path / "ds"
    frame = store.load(sample_path())
    store.append(root, store.to_table(frame[frame["workload"] == "sutazai/redis"], "samples"), "samples", "h")
    store.append(root, store.to_table(store.load_events(sample_path()), "events"), "events", "h")
    code, _, err = run_cli(["recommend", "--data", str(root / "events")], capsys)
    assert code == 2
    events = root / "events"
    why = "holds events (OOM kills, restarts), not samples"
    assert err == f"rightsize: error: {events} {why}: give the dataset {root}\n"
    code, out, _ = run_cli(["recommend", "--data", str(root / "samples"), "--format", "csv"], capsys)
    assert code == 0 and "sutazai/redis" in out


@pytest.mark.parametrize("command", [["recommend", "--format", "csv"], ["report", "--out", "{tmp}/r.html"]])
def test_workload_takes_several_globs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    # backtest took 'a,b'; recommend and report said "no workload matches 'a,b'"
    argv = [a.replace("{tmp}", str(tmp_path)) for a in command]
    code, out, err = run_cli([*argv, "--workload", "sutazai/redis, sutazai/neo*"], capsys)
    assert code == 0, err
    text = out if command[0] == "recommend" else (tmp_path / "r.html").read_text()
    assert "sutazai/redis" in text and "sutazai/neo4j" in text and "sutazai/ollama" not in text


def test_version_is_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    import tomllib

    project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())["project"]
    code, out, err = run_cli(["--version"], capsys)
    assert code == 0 and out == f"rightsize {project['version']}\n" and not err
