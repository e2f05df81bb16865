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
"""

from __future__ import annotations

from pathlib import Path

import pytest
from compose_v2_reading import (
    FIXTURES,
    Case,
    _have_v2,
    _svc,
    _write,
    agree,
    both_refuse,
    rs_read,
    v2_config,
    v2_values,
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

_DEPLOY_ALL = """    deploy:
      resources:
        limits: {memory: 768M, cpus: "0.5", pids: 50}
        reservations: {memory: 512mb, cpus: 0.25}
"""

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
