"""rightsize reads compose files as the real Docker Compose v2 reads them: differential tests.

Each case is a small project (or a committed fixture) read twice: by ``docker compose ... config
--format json`` (Docker Compose 2.40.3, compose-go 2.9.1, installed by scripts/test-env.sh; no
engine needed) and by ``rightsize.analysis.current.read_compose`` (what ``recommend -f`` and
``report`` read; ``check`` reads the same ``targets.effective`` values). Per service the memory
reservation/limit, the CPU reservation/limit and the PIDs limit must be equal, and so must the
project name (``-p``, ``COMPOSE_PROJECT_NAME``, ``name:``, the folder). A file v2 refuses must not give
numbers in rightsize either, except where noted (a version difference or a leniency that reads no
other value).

v2's config output keeps both spellings apart (``mem_limit`` beside ``deploy.resources``); a service
setting both must set them equal there (compose-go's checkConsistency), so the effective value is the
service-level key, else the deploy one; a CPU limit may be ``cpu_quota``/``cpu_period``. 0 (and -1 for
PIDs) means none, as rightsize reads it.

Here: the fixtures, values and units, and the files both refuse; projects of several layers (files,
include, extends, merge tags) in test_compose_v2_config_merge.py; the project name, the project
directory and multi-document files in test_compose_v2_config_names.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from compose_v2_reading import (
    _DEPLOY_ALL,
    FIXTURES,
    Case,
    _have_v2,
    _svc,
    agree,
    both_refuse,
)

pytestmark = pytest.mark.skipif(not _have_v2(), reason="Docker Compose v2 (docker compose) not installed")


# ---- the committed fixtures -----------------------------------------------------------------


@pytest.mark.parametrize(
    "files",
    [
        ["stack.yml"],
        ["base.yml"],
        ["base.yml", "override.yml"],
        ["stack.after.yml"],
        ["up.yml"],
        ["base.after.yml", "override.after.yml"],
    ],
    ids="+".join,
)
def test_committed_fixtures_read_as_compose_v2(tmp_path: Path, files: list[str]) -> None:
    texts = {f.name: f.read_text() for f in FIXTURES.iterdir() if f.suffix == ".yml"}
    agree(tmp_path, Case(texts, f=files, env={}))


# ---- corners: each a small project both must read alike -------------------------------------

CASES: dict[str, Case] = {
    "units": Case(
        {
            "compose.yml": """services:
  a: {image: x, mem_limit: 1.5g, mem_reservation: 768M, cpus: 1.5, pids_limit: 100}
  b: {image: x, mem_limit: "512mb", mem_reservation: 1073741824, cpus: "0.75", pids_limit: "64"}
  c: {image: x, mem_limit: 2147483648, cpus: 2, memswap_limit: 3g}
  d: {image: x, mem_limit: 1536MiB, mem_reservation: "1 g", cpus: .5}
  e: {image: x, mem_limit: 1e3m, mem_reservation: 100k, pids_limit: -1, cpus: 0}
  f: {image: x, mem_limit: 0, cpus: "1e0"}
"""
        }
    ),
    # compose-go's YAML reader (yaml.v3): a leading 0 is octal (017 = 15), 019 a float; a float
    # where compose wants bytes (mem_limit: 1e9) is ignored: no limit at all
    "yaml-numbers": Case(
        {
            "compose.yml": """services:
  a: {image: x, pids_limit: 017, cpus: 019, mem_limit: 0100, mem_reservation: 010}
  b: {image: x, mem_limit: 1e9, memswap_limit: 2.5e9, pids_limit: 0x40, cpus: 0o2}
  c: {image: x, mem_limit: 1073741824.0, mem_reservation: 5.5e8, pids_limit: 1_000, cpus: 00}
  d: {image: x, mem_limit: 019, pids_limit: 0b11, cpu_quota: 050000}
"""
        }
    ),
    "deploy": Case({"compose.yml": _svc(_DEPLOY_ALL)}),
    "deploy-units": Case(
        {
            "compose.yml": """services:
  a:
    image: x
    deploy: {resources: {limits: {memory: 2147483648b, cpus: 1, pids: "7"}, reservations: {memory: "1.5G"}}}
  b:
    image: x
    deploy: {resources: {limits: {memory: "0"}, reservations: {cpus: "0.125"}}}
"""
        }
    ),
    "both-spellings-equal": Case(
        {
            "compose.yml": _svc(
                """    mem_limit: 768m
    cpus: 0.5
    pids_limit: 50
    mem_reservation: 536870912
"""
                + _DEPLOY_ALL
            )
        }
    ),
    "cpu-quota": Case(
        {
            "compose.yml": """services:
  a: {image: x, cpu_quota: 50000}
  b: {image: x, cpu_quota: 150000, cpu_period: 50000}
  c: {image: x, cpu_quota: "25000", cpu_period: "100000"}
"""
        }
    ),
    # cpu_period 0 is Docker's default period (100000: the container's cfs_period_us), not "no limit"
    "cpu-quota-default-period": Case({"compose.yml": _svc("    cpu_quota: 50000\n    cpu_period: 0\n")}),
    # interpolated: substituted, then cast as an int64 (rightsize read no CPU limit)
    "cpu-quota-interpolated": Case(
        {
            "compose.yml": "services:\n  a: {image: x, cpu_quota: '${Q:-25000}'}\n"
            "  b: {image: x, cpu_quota: '${Q2}', cpu_period: '${P:-50000}'}\n"
            "  c: {image: x, cpu_quota: '${Z:-0}'}\n"
            "  d: {image: x, extends: a, cpu_period: '${P}'}\n",
            ".env": "Q2=75000\nP=0\n",
        },
        env={"P": "200000"},
    ),
    "interpolation": Case(
        {
            "compose.yml": """services:
  a:
    image: x
    mem_limit: ${MEM:-1g}
    mem_reservation: ${RES-256m}
    cpus: ${CPUS:-1.5}
    pids_limit: ${PIDS}
  b:
    image: x
    mem_limit: ${EMPTY:-2g}
    mem_reservation: ${EMPTY-128m}0
    cpus: ${SET:+0.5}
    environment: [PRICE=$$5]
""",
            ".env": "PIDS=42\nRES=300m\nEMPTY=\nSET=yes\n",
        }
    ),
    "process-env-wins": Case(
        {"compose.yml": _svc("    mem_limit: ${MEM}\n    cpus: ${CPUS:-1}\n"), ".env": "MEM=1g\nCPUS=2\n"},
        env={"MEM": "3g"},
    ),
    "env-file-option": Case(
        {
            "compose.yml": _svc("    mem_limit: ${MEM}\n    pids_limit: ${PIDS:-9}\n"),
            ".env": "MEM=1g\n",
            "prod.env": "MEM=4g\n",
            "more.env": "PIDS=11\nMEM=5g\n",
        },
        env_files=("prod.env", "more.env"),
    ),
    "dotenv-refers-back": Case(
        {
            "compose.yml": _svc("    mem_limit: ${MEM}\n    mem_reservation: ${HALF}\n"),
            ".env": 'UNIT=m\nMEM="512${UNIT}"\nHALF=256$UNIT\n',
        }
    ),
    "anchors-and-merge-keys": Case(
        {
            "compose.yml": """x-small: &small
  mem_limit: 256m
  cpus: 0.5
x-res: &res
  deploy:
    resources:
      limits: {memory: 1g, pids: 30}
      reservations: {memory: 512m}
services:
  a:
    <<: *small
    image: x
  b:
    <<: [*res, *small]
    image: x
    mem_limit: 1g
    cpus: 0
  c:
    <<: *res
    image: x
  d:
    image: x
    mem_limit: *m
    cpus: 2
x-mem: &m 3g
""".replace("    mem_limit: *m\n", "    mem_limit: 3g\n")
        }
    ),
    "override-scalars": Case(
        {
            "compose.yml": _svc("    mem_limit: 2g\n    pids_limit: 5\n    cpus: 2\n"),
            "o.yml": "services:\n  db:\n    mem_limit: !reset 1g\n    pids_limit: !override 050\n"
            '    cpus: !override "1.5"\n    mem_reservation: !override 256m\n',
            # a tagged scalar is a string to compose-go, cast as an interpolated one: 050 is 50, 1e9 bytes
            "o2.yml": "services:\n  db:\n    mem_limit: !override 1e9\n",
        },
        f=("compose.yml", "o.yml", "o2.yml"),
    ),
    # a zero is compose-go's unset: the other spelling's value applies (also through extends)
    "zero-beside-the-other-spelling": Case(
        {
            "compose.yml": """services:
  a:
    image: x
    deploy: {resources: {limits: {memory: 768M, cpus: '0.5', pids: 9}, reservations: {memory: 1.5g}}}
  b:
    extends: a
    mem_limit: 0
    mem_reservation: 0
    cpus: 0
    pids_limit: 0
  d:
    image: x
    mem_limit: 1e9
    deploy: {resources: {limits: {memory: 1g}}}
  e: {image: x, mem_limit: 0, cpus: 0, pids_limit: 0}
"""
        }
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_corner_reads_as_compose_v2(tmp_path: Path, name: str) -> None:
    agree(tmp_path / "proj", CASES[name])


# ---- files both refuse ------------------------------------------------------------------------

REFUSED: dict[str, tuple[Case, str]] = {
    # (the case, a part of rightsize's one line)
    "extends-across-documents": (
        Case(
            {"compose.yml": "services:\n  base: {image: x, cpus: 2}\n---\nservices:\n  db: {extends: base}\n"}
        ),
        "extends 'base', which",
    ),
    "empty-document": (Case({"compose.yml": _svc("    mem_limit: 1g\n") + "---\n# nothing\n"}), "document 2"),
    "list-document": (Case({"compose.yml": _svc("    mem_limit: 1g\n") + "---\n- a\n"}), "document 2"),
    # the project name: name: must be a string in every file; read from name: it must not be empty
    "name-unset": (Case({"compose.yml": 'name: "${N}"\n' + _svc("")}), "reads as an empty project name"),
    "name-normalized-away": (Case({"compose.yml": 'name: "---"\n' + _svc("")}), "reads as an empty project"),
    "name-in-override-unset": (
        Case(
            {"compose.yml": "name: good\n" + _svc(""), "o.yml": 'name: "${N:-}"\nservices: {}\n'},
            f=("compose.yml", "o.yml"),
        ),
        "o.yml: name: '${N:-}' reads as an empty project name",
    ),
    "name-number": (
        Case({"compose.yml": "name: 123\n" + _svc("")}, project="ok"),
        "name: 123 is not a string",
    ),
    "name-null": (Case({"compose.yml": "name:\n" + _svc("")}), "name: None is not a string"),
    "name-in-include": (
        Case({"compose.yml": "include: [i.yml]\n" + _svc(""), "i.yml": "name: true\nservices: {}\n"}),
        "i.yml: name: True is not a string",
    ),
    "project-name-invalid": (Case({"compose.yml": _svc("")}, project="Bad"), "invalid project name 'Bad'"),
    "env-project-name-invalid": (
        Case({"compose.yml": _svc(""), ".env": "COMPOSE_PROJECT_NAME=Up\n"}),
        "invalid project name 'Up'",
    ),
    "extends-another-documents-include": (
        Case(
            {
                "compose.yml": "services:\n  db: {extends: x, image: y}\n---\ninclude: [inc.yml]\n",
                "inc.yml": "services:\n  x: {image: x, cpus: 2}\n",
            }
        ),
        "extends 'x', which",
    ),
    "empty-service": (
        Case({"compose.yml": _svc("    mem_limit: 1g\n") + "  web:\n"}),
        "service 'web' is empty",
    ),
    "float-reservation": (
        Case({"compose.yml": _svc("    mem_reservation: 1.5\n")}),
        "is not a string or an integer",
    ),
    "extends-other-f-file": (
        Case(
            {
                "compose.yml": _svc("    mem_limit: 1g\n") + "  tmpl:\n    image: y\n    cpus: 2\n",
                "o.yml": "services:\n  db:\n    extends: tmpl\n",
            },
            f=("compose.yml", "o.yml"),
        ),
        "extends 'tmpl', which",
    ),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_a_file_compose_v2_refuses_gives_no_numbers(tmp_path: Path, name: str) -> None:
    case, part = REFUSED[name]
    _, mine = both_refuse(tmp_path / "proj", case)
    assert part in mine
