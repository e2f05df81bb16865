"""The compose project a file's services ran in, named as Docker Compose v2 names it (compose-go):
``COMPOSE_PROJECT_NAME``/``--project`` as given (an unnormalized one is refused), else ``name:``
normalized, else the file's folder name normalized (``My.Shop`` -> ``myshop``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import run_cli as run
from test_bughunt_s7 import _dataset

M = 2**20
FILE = "services:\n  web:\n    image: x\n    mem_limit: 1g\n  db:\n    image: x\n    mem_limit: 2g\n"


@pytest.fixture(autouse=True)
def _no_project_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMPOSE_PROJECT_NAME", raising=False)


def _compose(folder: Path, text: str = FILE) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "compose.yml"
    path.write_text(text)
    return path


def _current(out: str) -> dict[tuple[str, str], object]:
    return {(r["workload"], r["resource"]): r["current"]["limit"] for r in json.loads(out)}


def _apply(
    data: Path, compose: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[set[str], list[tuple[str, str]]]:
    """``apply --dry-run``: the workloads written, and the (workload, reason) of the skipped."""
    code, out, err = run(
        ["apply", "--data", str(data), "-f", str(compose), "--dry-run", "--format", "json"], capsys
    )
    assert code == 0, err
    (result,) = json.loads(out)["results"]
    skipped = [
        (s["workload"], s["reason"]) for s in result["skipped"] if "CPU reservation" not in s["reason"]
    ]
    return {c["workload"] for c in result["changes"]}, skipped


def test_recommend_takes_the_project_from_the_files_folder_as_compose_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `docker compose up` in My.Shop/ labels the containers myshop: its web is myshop/web, not
    # blog/web. rightsize matched */web, found two and warned, leaving both without the file's values.
    data = _dataset(tmp_path / "d", ["myshop/web", "blog/web", "myshop/db"])
    compose = _compose(tmp_path / "My.Shop")
    code, out, err = run(["recommend", "--data", str(data), "-f", str(compose), "--format", "json"], capsys)
    assert code == 0, err
    assert "warning" not in err
    cur = _current(out)
    assert cur[("myshop/web", "memory")] == 1024 * M  # the file's
    assert cur[("blog/web", "memory")] == 512 * M  # what blog's containers ran with
    assert cur[("myshop/db", "memory")] == 2048 * M


def test_apply_and_check_match_the_folders_project(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _dataset(tmp_path / "d", ["myshop/web", "blog/web", "myshop/db"])
    compose = _compose(tmp_path / "My.Shop")
    # web was skipped: "ambiguous: workloads blog/web, myshop/web in the data (pass --project)"
    assert _apply(data, compose, capsys) == ({"myshop/web", "myshop/db"}, [])
    code, out, err = run(["check", "--data", str(data), "-f", str(compose), "--format", "json"], capsys)
    assert code == 1 and err == ""  # (no restart policy)
    rows = {(r["service"], r["resource"]): r for r in json.loads(out)["rows"]}
    assert "ambiguous" not in rows[("web", "memory")]["why"], rows[("web", "memory")]
    assert rows[("web", "memory")]["recommended"] == rows[("db", "memory")]["recommended"]  # same usage


def test_the_folders_project_keeps_another_projects_service_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the stack ran from My.Shop/ (myshop/db is in the data) but its web never did: blog/web is
    # another stack's, and its usage must not be written into this file's web
    data = _dataset(tmp_path / "d", ["myshop/db", "blog/web"])
    compose = _compose(tmp_path / "My.Shop")
    assert _apply(data, compose, capsys) == ({"myshop/db"}, [("web", "service not in the data")])
    # a stack whose folder's project is not in the data at all (started with -p, or from another
    # checkout) is matched by service name, as before
    other = _compose(tmp_path / "Elsewhere")
    assert _apply(data, other, capsys) == ({"myshop/db", "blog/web"}, [])


def test_a_name_is_normalized_as_compose_normalizes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # name: My.Shop runs as project myshop; rightsize looked for "My.Shop/web" and found nothing
    data = _dataset(tmp_path / "d", ["myshop/web", "blog/web"])
    compose = _compose(tmp_path / "plain", "name: ${STACK:-_My.Shop}\n" + FILE)
    code, out, err = run(["recommend", "--data", str(data), "-f", str(compose), "--format", "json"], capsys)
    assert code == 0, err
    assert _current(out)[("myshop/web", "memory")] == 1024 * M
    assert _apply(data, compose, capsys) == ({"myshop/web"}, [("db", "service not in the data")])


@pytest.mark.parametrize("command", ["apply", "check", "recommend"])
def test_an_unnormalized_compose_project_name_is_refused_as_compose_refuses_it(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # compose v2 takes COMPOSE_PROJECT_NAME (and -p) as given and refuses My.Shop ("invalid project
    # name"): no container of it ran. rightsize matched nothing and passed check with a warning.
    data = _dataset(tmp_path / "d", ["myshop/web"])
    compose = _compose(tmp_path / "plain")
    (tmp_path / "plain" / ".env").write_text("COMPOSE_PROJECT_NAME=My.Shop\n")
    before = compose.read_text()
    code, out, err = run([command, "--data", str(data), "-f", str(compose)], capsys)
    assert code == 2 and out == ""
    assert err == (
        "rightsize: error: COMPOSE_PROJECT_NAME: invalid project name 'My.Shop': Docker Compose refuses it, "
        "a project name is only lowercase letters, digits, '-' and '_', starting with a letter or digit "
        "(did you mean myshop?)\n"
    )
    assert compose.read_text() == before


@pytest.mark.parametrize("command", ["apply", "check"])
def test_an_unnormalized_project_option_is_refused(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _dataset(tmp_path / "d", ["myshop/web"])
    compose = _compose(tmp_path / "plain")
    code, _, err = run([command, "--data", str(data), "-f", str(compose), "--project", "MyShop"], capsys)
    assert code == 2
    assert (
        err.startswith("rightsize: error: --project: invalid project name 'MyShop'") and err.count("\n") == 1
    )
    code, _, err = run([command, "--data", str(data), "-f", str(compose), "--project", "myshop"], capsys)
    assert code != 2 and "no service matched" not in err, err  # (check exits 1: no restart policy)
