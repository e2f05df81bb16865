"""Differential tests (see test_compose_v2_config.py) of the project name (``name:``, ``-p``,
``COMPOSE_PROJECT_NAME``, the folder), ``--project-directory`` and files of several YAML documents,
each read by ``docker compose config`` (2.40.3) and by rightsize alike."""

from __future__ import annotations

from pathlib import Path

import pytest
from compose_v2_reading import Case, _have_v2, _svc, agree

pytestmark = pytest.mark.skipif(not _have_v2(), reason="Docker Compose v2 (docker compose) not installed")


CASES: dict[str, Case] = {
    "name-key": Case({"compose.yml": "name: My_App\n" + _svc("")}),
    "name-interpolated": Case({"compose.yml": "name: ${STACK:-shop}\n" + _svc(""), ".env": "STACK=shop2\n"}),
    "name-last-file": Case(
        {"compose.yml": "name: first\n" + _svc(""), "o.yml": "name: second\nservices: {}\n"},
        f=("compose.yml", "o.yml"),
    ),
    "name-from-env": Case(
        {"compose.yml": "name: ignored\n" + _svc("")}, env={"COMPOSE_PROJECT_NAME": "fromenv"}
    ),
    "name-from-dotenv": Case(
        {"compose.yml": "name: ignored\n" + _svc(""), ".env": "COMPOSE_PROJECT_NAME=dotted\n"}
    ),
    "name-from-p": Case(
        {"compose.yml": "name: ignored\n" + _svc("")},
        project="given",
        env={"COMPOSE_PROJECT_NAME": "fromenv"},
    ),
    "name-folder": Case({"My.Folder_1/compose.yml": _svc("")}, f=("My.Folder_1/compose.yml",)),
    "name-empty-is-none": Case({"Dir/compose.yml": 'name: ""\n' + _svc("")}, f=("Dir/compose.yml",)),
    "name-partly-unset": Case({"compose.yml": "name: x${N}\n" + _svc("")}),
    "name-from-env-over-name": Case(
        {"compose.yml": 'name: "${COMPOSE_PROJECT_NAME}x"\n' + _svc(""), ".env": "COMPOSE_PROJECT_NAME=dot\n"}
    ),
    "name-included-ignored": Case(
        {
            "compose.yml": "include: [sub/x.yml]\n" + _svc(""),
            "sub/x.yml": "name: inner\nservices:\n  w: {image: y}\n",
        }
    ),
    # --project-directory: .env, relative include/extends paths and the default name come from it
    "project-directory": Case(
        {
            "files/compose.yml": "include: [sub/inc.yml]\n"
            + _svc("    mem_limit: ${MEM:-1g}\n    extends: {file: sub/base.yml, service: b}\n"),
            "files/.env": "MEM=2g\n",
            "files/sub/base.yml": "services:\n  b: {image: x, cpus: 1}\n",
            "files/sub/inc.yml": "services:\n  i: {image: x, pids_limit: 1}\n",
            "Other.Dir/.env": "MEM=3g\n",
            "Other.Dir/sub/base.yml": "services:\n  b: {image: x, cpus: 2}\n",
            "Other.Dir/sub/inc.yml": "services:\n  i: {image: x, pids_limit: 2}\n",
        },
        f=("files/compose.yml",),
        project_dir="Other.Dir",
    ),
    "project-directory-with-override-and-name": Case(
        {
            "a/compose.yml": _svc("    mem_limit: ${MEM:-1g}\n"),
            "b/o.yml": "name: ${STACK:-fallback}\nservices:\n  db: {cpus: '${CPUS:-1}'}\n",
            "b/.env": "CPUS=3\nSTACK=from-b\n",
            "a/.env": "MEM=5g\nSTACK=from-a\n",
        },
        f=("a/compose.yml", "b/o.yml"),
        project_dir="b",
    ),
    # several YAML documents in one file: merged in order, each like a file of its own (v2 reads them)
    "documents": Case(
        {
            "compose.yml": "name: one\n"
            + _svc("    mem_limit: 1g\n    cpus: 1\n    pids_limit: 3\n")
            + "---\nname: two\nservices:\n  db:\n    mem_limit: 2g\n    pids_limit: !reset null\n"
            "  web:\n    image: y\n    extends: {file: multi.yml, service: b}\n"
            "...\n---\ninclude: [inc.yml]\nservices:\n  db:\n    cpus: 0.5\n",
            "multi.yml": "services:\n  b: {image: x, mem_limit: 1g, pids_limit: 8}\n---\n"
            "services:\n  b: {cpus: 3}\n",
            "inc.yml": "services:\n  i: {image: x, mem_reservation: 64m}\n---\n"
            "services:\n  i: {cpus: 0.25}\n",
        },
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_corner_reads_as_compose_v2(tmp_path: Path, name: str) -> None:
    agree(tmp_path / "proj", CASES[name])
