"""Differential tests (see test_compose_v2_config.py) of projects of several layers: ``-f`` files,
``include``, ``extends`` (same file, other files, chains), merge tags (``!reset``, ``!override``) and
profiles, each read by ``docker compose config`` (2.40.3) and by rightsize alike."""

from __future__ import annotations

from pathlib import Path

import pytest
from compose_v2_reading import _DEPLOY_ALL, Case, _have_v2, _svc, _write, agree, rs_read, v2_config, v2_values

pytestmark = pytest.mark.skipif(not _have_v2(), reason="Docker Compose v2 (docker compose) not installed")


CASES: dict[str, Case] = {
    "three-files": Case(
        {
            "compose.yml": _svc("    mem_limit: 1g\n    cpus: 1\n    pids_limit: 10\n"),
            "o1.yml": "services:\n  db:\n    mem_limit: 2g\n  web:\n    image: y\n    cpus: 0.5\n",
            "o2.yml": "services:\n  db:\n    cpus: 3\n  web:\n    mem_limit: 64m\n",
        },
        f=("compose.yml", "o1.yml", "o2.yml"),
    ),
    "override-in-other-folder": Case(
        {
            "compose.yml": _svc("    mem_limit: ${MEM:-1g}\n"),
            ".env": "MEM=2g\n",
            "env/prod.yml": "services:\n  db:\n    cpus: ${CPUS:-0.5}\n",
            "env/.env": "CPUS=4\n",
        },
        f=("compose.yml", "env/prod.yml"),
    ),
    "override-deploy-over-legacy": Case(
        {
            "compose.yml": _svc("    deploy:\n      resources:\n        limits: {memory: 1g, cpus: '1'}\n"),
            "o.yml": "services:\n  db:\n    deploy:\n      resources:\n        limits: {memory: 2g}\n",
        },
        f=("compose.yml", "o.yml"),
    ),
    "extends-same-file": Case(
        {
            "compose.yml": """services:
  base:
    image: x
    mem_limit: 1g
    cpus: 2
    pids_limit: 10
  mid:
    extends: base
    cpus: 1
  top:
    extends: {service: mid}
    pids_limit: 20
"""
        }
    ),
    "extends-other-file": Case(
        {
            "compose.yml": _svc("    extends: {file: common/base.yml, service: big}\n    mem_limit: 3g\n"),
            "common/base.yml": "services:\n  big:\n    image: x\n    mem_limit: 1g\n    cpus: 4\n"
            "    extends: {file: more.yml, service: root}\n",
            "common/more.yml": "services:\n  root:\n    image: x\n    pids_limit: 99\n"
            "    mem_reservation: 64m\n",
        }
    ),
    "extends-chain-relative-paths": Case(
        {
            "a/compose.yml": "services:\n  db:\n    extends: {file: ../common/base.yml, service: base}\n"
            "    mem_limit: ${MEM:-1g}\n  web:\n    extends: {file: b/web.yml, service: w}\n",
            "a/.env": "MEM=2g\n",
            "common/.env": "CPUS=3\n",  # (not read: extends interpolates with the project's environment)
            "common/base.yml": "services:\n  base:\n    extends: {file: deep/root.yml, service: r}\n"
            "    cpus: ${CPUS:-1}\n",
            "common/deep/root.yml": """services:
  r:
    image: x
    pids_limit: 42
    mem_reservation: 100m
    deploy: {resources: {reservations: {memory: 100m}}}
    extends: sibling
  sibling:
    image: x
    deploy: {resources: {reservations: {cpus: "0.25", memory: 50m}}}
""",
            "a/b/web.yml": "services:\n  w:\n    image: y\n    extends: w2\n    mem_limit: 3g\n"
            "  w2:\n    image: y\n    cpus: 0.5\n    mem_limit: 1g\n",
        },
        f=("a/compose.yml",),
    ),
    "extends-in-override-own-file": Case(
        {
            "compose.yml": _svc("    mem_limit: 1g\n")
            + "  tmpl:\n    image: y\n    cpus: 2\n    pids_limit: 5\n",
            "o.yml": "services:\n  db:\n    extends: {file: compose.yml, service: tmpl}\n    pids_limit: 6\n",
        },
        f=("compose.yml", "o.yml"),
    ),
    "include-single": Case(
        {
            "compose.yml": "include:\n  - sub/db.yml\nservices:\n  web:\n    image: y\n    cpus: 0.5\n",
            "sub/db.yml": _svc("    mem_limit: ${MEM:-1g}\n    pids_limit: 50\n"),
            "sub/.env": "MEM=2g\n",
        }
    ),
    "include-nested": Case(
        {
            "compose.yml": "include:\n  - a/one.yml\nservices:\n  web:\n    image: y\n",
            "a/one.yml": "include:\n  - ../b/two.yml\nservices:\n  one:\n    image: y\n"
            "    mem_limit: ${M1:-1g}\n",
            "a/.env": "M1=3g\n",
            "b/two.yml": "services:\n  two:\n    image: y\n    cpus: ${C2:-1}\n",
            "b/.env": "C2=7\n",
        }
    ),
    "include-long-syntax": Case(
        {
            "compose.yml": """include:
  - path: [sub/a.yml, sub/a-override.yml]
    project_directory: sub
    env_file: [sub/x.env, sub/y.env]
services:
  web: {image: y}
""",
            "sub/a.yml": _svc(
                "    mem_limit: ${MEM}\n    cpus: ${CPUS:-1}\n    extends: {file: base.yml, service: b}\n"
            ),
            "sub/base.yml": "services:\n  b:\n    image: x\n    pids_limit: ${PIDS:-3}\n",
            "sub/a-override.yml": "services:\n  db:\n    cpus: 2.5\n",
            "sub/x.env": "MEM=1g\nPIDS=12\n",
            "sub/y.env": "MEM=2g\n",
            "sub/.env": "MEM=9g\n",
        }
    ),
    "include-project-env-wins": Case(
        {
            "compose.yml": "include:\n  - sub/db.yml\nservices:\n  web: {image: y, mem_limit: '${MEM}'}\n",
            ".env": "MEM=1g\n",
            "sub/db.yml": _svc("    mem_limit: ${MEM}\n    cpus: ${CPUS}\n"),
            "sub/.env": "MEM=2g\nCPUS=3\n",
        },
    ),
    "include-identical-copies": Case(
        {
            "compose.yml": "include: [a.yml, sub/b.yml]\n" + _svc("    mem_limit: 1g\n    pids_limit: 5\n"),
            "a.yml": _svc("    mem_limit: 1g\n    pids_limit: 5\n"),
            "sub/b.yml": _svc("    mem_limit: 1g\n    pids_limit: 5\n"),
        }
    ),
    "include-env-file-under-process-env": Case(
        {
            "compose.yml": "include:\n  - path: sub/a.yml\n    env_file: sub/x.env\n"
            "services:\n  w: {image: y, mem_limit: '${M:-1g}'}\n",
            "sub/a.yml": "services:\n  a: {image: x, cpus: '${CPUS}', mem_limit: '${M}'}\n",
            "sub/x.env": "CPUS=2\nM=3g\n",
            ".env": "M=2g\n",
        },
        env={"CPUS": "5"},
    ),
    "env-file-disabled": Case(
        {"compose.yml": _svc("    mem_limit: ${M:-1g}\n    cpus: ${C:-1}\n"), ".env": "M=2g\nC=2\n"},
        env={"COMPOSE_DISABLE_ENV_FILE": "1", "C": "3"},
    ),
    "empty-service-in-override": Case(
        {"compose.yml": _svc("    mem_limit: 1g\n"), "o.yml": "services:\n  db:\n"},
        f=("compose.yml", "o.yml"),
    ),
    "interpolated-paths": Case(
        {
            "compose.yml": "include:\n  - ${SUB:-sub}/a.yml\nservices:\n  w:\n    image: y\n"
            '    extends: {file: "${SUB:-sub}/b.yml", service: "${S:-x}"}\n',
            "sub/a.yml": "services:\n  a: {image: x, cpus: 1}\n",
            "sub/b.yml": "services:\n  b: {image: x, pids_limit: 3}\n",
            ".env": "S=b\n",
        }
    ),
    "profiles": Case(
        {
            "compose.yml": """services:
  a: {image: x, mem_limit: 1g}
  dbg: {image: x, mem_limit: 2g, profiles: [debug]}
"""
        },
        profiles=("debug",),
    ),
    "reset-and-override": Case(
        {
            "compose.yml": _svc(
                "    mem_limit: 1g\n    cpus: 1\n    pids_limit: 5\n"
                + _DEPLOY_ALL.replace(
                    'limits: {memory: 768M, cpus: "0.5", pids: 50}',
                    'limits: {memory: 1g, cpus: "1", pids: 5}',
                )
            ),
            "o.yml": """services:
  db:
    mem_limit: !reset null
    cpus: !override 1
    pids_limit: !reset
    deploy:
      resources:
        limits: !override {cpus: "1"}
        reservations: !reset {}
""",
        },
        f=("compose.yml", "o.yml"),
    ),
    # merge tags beside extends in the same file: the own value replaces the base's (or drops it)
    "tags-beside-extends": Case(
        {
            "compose.yml": """services:
  tmpl:
    image: x
    pids_limit: 9
    deploy: {resources: {limits: {pids: 9, memory: 1g}, reservations: {memory: 64m}}}
  t2:
    image: x
    deploy: {resources: {limits: {pids: 9, memory: 2g}, reservations: {memory: 64m}}}
  db:
    extends: tmpl
  own:
    image: x
    pids_limit: !reset 9
    extends: tmpl
  ovr:
    extends: t2
    deploy: !override {resources: {limits: {pids: 3}}}
  ovr2:
    extends: t2
    deploy:
      resources: !override {reservations: {memory: 32m}}
  rst:
    extends: t2
    deploy: !reset {}
""",
            "o.yml": "services:\n  db:\n    pids_limit: !reset null\n    deploy:\n      resources:\n"
            "        reservations: !reset {}\n",
        },
        f=("compose.yml", "o.yml"),
    ),
    "tags-on-an-extends-chain": Case(
        {
            "compose.yml": """services:
  base:
    image: x
    deploy: {resources: {limits: {memory: 1g, pids: 5}, reservations: {memory: 64m}}}
  mid:
    extends: base
    deploy: !override {resources: {limits: {pids: 7}}}
  top:
    extends: mid
    deploy: {resources: {limits: {cpus: "1"}}}
  mid2:
    extends: base
    deploy: {resources: {reservations: !reset {}}}
  top2:
    extends: mid2
"""
        }
    ),
    # a !reset under an !override keeps its content; what a !reset drops is not validated
    "reset-under-override": Case(
        {
            "compose.yml": _svc("    mem_limit: 2g\n    deploy: {resources: {reservations: {memory: 1g}}}\n")
            + "  web: {image: x, pids_limit: 5}\n",
            "o.yml": "services:\n  db:\n    deploy: !override\n      resources:\n"
            "        reservations: {memory: !reset 64m}\n  web: !override\n    image: x\n"
            "    pids_limit: !reset 100\n",
            "o2.yml": "services:\n  db:\n    deploy:\n      resources:\n"
            "        limits: !reset {memory: 0, pids: 0}\n",
        },
        f=("compose.yml", "o.yml", "o2.yml"),
    ),
    "reset-whole-service": Case(
        {
            "compose.yml": _svc("    mem_limit: 1g\n")
            + "  web:\n    image: y\n    cpus: 2\n    pids_limit: 3\n"
            "  api:\n    image: z\n    deploy: {resources: {limits: {pids: 4, memory: 1g}}}\n",
            "o.yml": "services:\n  db: !reset\n  web: !override\n    image: y\n    cpus: 1\n"
            "  api:\n    deploy: {resources: !reset {}}\n",
            "o2.yml": "services:\n  db:\n    image: q\n    pids_limit: 9\n",
        },
        f=("compose.yml", "o.yml", "o2.yml"),
    ),
}


# Docker Compose 2.40.3 reads these differently from run to run (Go map order: a tagged service that
# others extend is resolved in place, so its !override/!reset is honoured or not; 4 in 12 runs kept
# base's memory under mid's deploy: !override): rightsize reads them one way, the tags honoured,
# which must be among what compose gave over a few runs
UNSTABLE_IN_V2 = {"tags-on-an-extends-chain"}


@pytest.mark.parametrize("name", list(CASES))
def test_corner_reads_as_compose_v2(tmp_path: Path, name: str) -> None:
    if name not in UNSTABLE_IN_V2:
        agree(tmp_path / "proj", CASES[name])
        return
    root, case = tmp_path / "proj", CASES[name]
    _write(root, case.files)
    seen = []
    for _ in range(8):
        cfg, err = v2_config(root, case)
        assert cfg is not None, err
        seen.append({n: v2_values(svc) for n, svc in cfg["services"].items()})
    got, _ = rs_read(root, case)
    assert got in seen
    assert got["mid"]["memory"] == (None, None) and got["top2"]["memory"] == (None, 2**30)  # (honoured)
