"""Reading a compose project twice, with the real ``docker compose config`` (Docker Compose 2.40.3)
and with rightsize, for the differential tests (test_compose_v2_config*.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from rightsize.analysis.current import read_compose
from rightsize.errors import RightsizeError

FIXTURES = Path(__file__).parent / "fixtures" / "compose"


def _have_v2() -> bool:
    if shutil.which("docker") is None:
        return False
    done = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, check=False)
    return done.returncode == 0 and "version 2." in done.stdout


Values = dict[str, tuple[float | None, float | None]]  # resource -> (reservation, limit)


@dataclass(frozen=True)
class Case:
    """A project: files (relative path -> text), the ``-f`` files, the environment, options."""

    files: Mapping[str, str]
    f: Sequence[str] = ("compose.yml",)
    env: Mapping[str, str] = field(default_factory=dict)
    env_files: Sequence[str] = ()
    project: str | None = None
    project_dir: str | None = None
    profiles: Sequence[str] = ()  # compose's --profile: rightsize reads every service whatever its profiles


def _env(extra: Mapping[str, str]) -> dict[str, str]:
    """A small, known process environment (no COMPOSE_* or test variables leak in from the shell)."""
    base = {k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ}
    return {**base, "DOCKER_CONFIG": "/nonexistent-rightsize", **extra}


def _write(root: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def v2_config(root: Path, case: Case) -> tuple[dict[str, Any] | None, str]:
    """(the config compose prints, None when it refuses; its stderr)."""
    cmd = ["docker", "compose"]
    for f in case.f:
        cmd += ["-f", str(root / f)]
    for e in case.env_files:
        cmd += ["--env-file", str(root / e)]
    if case.project:
        cmd += ["-p", case.project]
    if case.project_dir:
        cmd += ["--project-directory", str(root / case.project_dir)]
    for p in case.profiles:
        cmd += ["--profile", p]
    done = subprocess.run(
        [*cmd, "config", "--format", "json"],
        cwd=root,
        env=_env(case.env),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        return None, done.stderr.strip()
    return json.loads(done.stdout), done.stderr


def _num(value: Any) -> float | None:
    if value is None:
        return None
    n = float(value)
    return None if n <= 0 else n  # 0 (and -1 for PIDs): no limit


def v2_values(svc: Mapping[str, Any]) -> Values:
    res = (svc.get("deploy") or {}).get("resources") or {}
    lim, rsv = res.get("limits") or {}, res.get("reservations") or {}
    cpu = svc["cpus"] if svc.get("cpus") is not None else lim.get("cpus")
    if cpu is None and svc.get("cpu_quota") is not None:
        cpu = svc["cpu_quota"] / (svc.get("cpu_period") or 100_000)
    return {
        "memory": (
            _num(svc.get("mem_reservation", rsv.get("memory"))),
            _num(svc.get("mem_limit", lim.get("memory"))),
        ),
        "cpu": (_num(rsv.get("cpus")), _num(cpu)),
        "pids": (None, _num(svc.get("pids_limit", lim.get("pids")))),
    }


def rs_read(root: Path, case: Case) -> tuple[dict[str, Values], str | None]:
    """(what rightsize reads per service, the project name it gives the stack: as check and apply name
    it, ``project_name`` with ``--project``, else ``folder_project``)."""
    from rightsize.targets.composefile import load_compose
    from rightsize.targets.project import folder_project, project_name

    env = _env(case.env)
    env_files = [root / e for e in case.env_files] or None
    files = [root / f for f in case.f]
    here = os.getcwd()
    os.chdir(root)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = read_compose(files, env_files, env, **_pdir(root, case))
            docs = load_compose(files, env_files, env, documents=True, **_pdir(root, case))
            name = project_name(docs, case.project) or folder_project(docs)
    finally:
        os.chdir(here)
    values = {
        name: {r: (v.reservation, v.limit) for r, v in cur.items()} for name, cur in got.services.items()
    }
    assert (got.project or got.folder) == (name if case.project is None else got.project or got.folder)
    return values, name


def _pdir(root: Path, case: Case) -> dict[str, Any]:
    return {"project_directory": root / case.project_dir} if case.project_dir else {}


def agree(root: Path, case: Case) -> dict[str, Values]:
    """Write the case, read it both ways, assert they agree; what they read."""
    _write(root, case.files)
    cfg, err = v2_config(root, case)
    assert cfg is not None, f"docker compose refused the case: {err}"
    want = {name: v2_values(svc) for name, svc in cfg["services"].items()}
    got, name = rs_read(root, case)
    assert got == want
    assert name == cfg["name"]
    return got


def both_refuse(root: Path, case: Case) -> tuple[str, str]:
    """The case is refused by compose and by rightsize: (compose's message, rightsize's)."""
    _write(root, case.files)
    cfg, err = v2_config(root, case)
    assert cfg is None, f"docker compose accepted the case: {cfg}"
    with pytest.raises(RightsizeError) as exc:
        rs_read(root, case)
    assert "\n" not in str(exc.value)
    return err, str(exc.value)


def _svc(body: str, name: str = "db", image: str = "x") -> str:
    return f"services:\n  {name}:\n    image: {image}\n" + body


_DEPLOY_ALL = """    deploy:
      resources:
        limits: {memory: 768M, cpus: "0.5", pids: 50}
        reservations: {memory: 512mb, cpus: 0.25}
"""  # every deploy.resources value (test_compose_v2_config*.py)
