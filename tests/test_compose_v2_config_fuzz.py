"""Seeded projects read by the real ``docker compose config`` and by rightsize alike (see
test_compose_v2_config): -f overrides, extends, merge tags, both spellings; includes in folders."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from compose_v2_reading import (
    Case,
    Values,
    _have_v2,
    _write,
    rs_read,
    v2_config,
    v2_values,
)

from rightsize.errors import RightsizeError

pytestmark = pytest.mark.skipif(not _have_v2(), reason="Docker Compose v2 (docker compose) not installed")


_MEM, _CPU, _PID = ["1g", "512m", "768M", "1.5g", "0"], ["0.5", "1", "2", "1.5"], [10, 50, 0]
_TAGS = ["", "", "", "!reset ", "!override "]


def _resources(r: random.Random, tags: bool) -> list[str]:
    """A service's resource keys: the service-level ones or a deploy block (with merge tags)."""

    def t() -> str:
        return r.choice(_TAGS) if tags else ""

    if r.random() < 0.5:
        keys = [("mem_limit", _MEM, 0.6), ("mem_reservation", _MEM, 0.4), ("cpus", _CPU, 0.6)]
        lines = [f"    {k}: {t()}{r.choice(pick)}" for k, pick, p in keys if r.random() < p]
        return lines + ([f"    pids_limit: {t()}{r.choice(_PID)}"] if r.random() < 0.5 else [])
    lim = [f"memory: '{r.choice(_MEM)}'"] if r.random() < 0.6 else []
    lim += [f"cpus: '{r.choice(_CPU)}'"] if r.random() < 0.6 else []
    lim += [f"pids: {r.choice(_PID)}"] if r.random() < 0.5 else []
    rsv = [f"memory: '{r.choice(_MEM)}'"] if r.random() < 0.4 else []
    rsv += [f"cpus: '{r.choice(_CPU)}'"] if r.random() < 0.4 else []
    body = [f"        {k}: {t()}{{{', '.join(v)}}}" for k, v in (("limits", lim), ("reservations", rsv)) if v]
    return [f"    deploy: {t()}", f"      resources: {t()}", *body] if body else []


def _fuzz_case(seed: int) -> Case:
    r = random.Random(seed)
    base = ["services:"]
    for n in "abc":
        base += [f"  {n}:", "    image: x"]
        base += (
            [f"    extends: {r.choice([m for m in 'abc' if m < n])}"] if n != "a" and r.random() < 0.4 else []
        )
        base += _resources(r, False)
    files, f = {"compose.yml": "\n".join(base) + "\n"}, ["compose.yml"]
    for k in range(r.randint(0, 2)):
        lines = ["services:"]
        for n in r.sample("abc", r.randint(1, 3)):
            roll = r.random()
            if roll < 0.08:
                lines.append(f"  {n}: !reset")
                continue
            lines += [f"  {n}: !override", "    image: z"] if roll < 0.15 else [f"  {n}:"]
            lines += _resources(r, True) or ["    image: x"]
        files[f"o{k}.yml"] = "\n".join(lines) + "\n"
        f.append(f"o{k}.yml")
    return Case(files, f=tuple(f))


def _both_ways(root: Path, case: Case) -> tuple[dict[str, Any] | None, str, dict[str, Values] | None, str]:
    """Write the case and read it both ways: (compose's config or None, its stderr, what rightsize
    reads or None, rightsize's error)."""
    _write(root, case.files)
    cfg, err = v2_config(root, case)
    try:
        return cfg, err, rs_read(root, case)[0], ""
    except RightsizeError as exc:
        return cfg, err, None, str(exc)


@pytest.mark.slow
def test_seeded_projects_read_as_compose_v2(tmp_path: Path) -> None:
    """60 generated projects (seeded): where compose reads the files, rightsize reads the same values;
    where compose refuses them, rightsize refuses too, or the refusal is one check reports as a
    'conflict' row (twin keys that disagree: see test_twin_keys_...) or a service without an image
    (an override defining it anew after a !reset); rightsize refuses a project
    every service of which a !reset drops ("defines no services": apply and check would do nothing)."""
    outcomes: dict[str, int] = {}
    for seed in range(60):
        root = tmp_path / f"s{seed}"
        cfg, err, got, mine = _both_ways(root, _fuzz_case(seed))
        if cfg is not None and got is not None:
            assert got == {n: v2_values(svc) for n, svc in cfg["services"].items()}, f"seed {seed}"
            kind = "agree"
        elif cfg is None and got is not None:
            # (leniencies that read no other value: check flags the conflict; a service an override
            # defines anew without an image has its resources all the same)
            lenient = ("can't set distinct values on", "has neither an image nor a build context")
            assert any(x in err for x in lenient), f"seed {seed}: {err}"
            kind = "lenient"
        elif cfg is not None:
            assert "defines no services" in mine and not cfg["services"], f"seed {seed}: {mine}"
            kind = "no services"
        else:
            kind = "both refuse"
        outcomes[kind] = outcomes.get(kind, 0) + 1
    assert outcomes.get("agree", 0) >= 20, outcomes  # (the generator keeps most projects loadable)


_IMEM, _ICPU = ["1g", "512m", "${MEM:-768m}", "${MEM}", "2g"], ["0.5", "1", "${CPUS:-2}", "${CPUS-1.5}"]


def _iservice(r: random.Random, name: str) -> list[str]:
    lines = [f"  {name}:", "    image: x"]
    lines += [f'    mem_limit: "{r.choice(_IMEM)}"'] if r.random() < 0.6 else []
    lines += [f'    cpus: "{r.choice(_ICPU)}"'] if r.random() < 0.5 else []
    return lines + ([f"    pids_limit: {r.choice([5, 50])}"] if r.random() < 0.4 else [])


def _include_case(seed: int) -> Case:
    """includes in folders (short syntax, env_file, project_directory), their .env files, an
    extends.file out of them, interpolation with defaults, the process environment."""
    r = random.Random(seed)

    def envs() -> str:
        return f"MEM={r.choice(['1g', '3g', '256m'])}\n" + (
            f"CPUS={r.choice(['3', '0.25'])}\n" if r.random() < 0.5 else ""
        )

    files, entries = (
        {"base.yml": "services:\n  b:\n    image: x\n    mem_limit: ${MEM:-1g}\n    pids_limit: 7\n"},
        [],
    )
    for k in range(r.randint(1, 3)):
        folder = r.choice(["inc", "lib", "inc/deep"])
        name = f"{folder}/f{k}.yml"
        body = ["services:", *_iservice(r, r.choice(["db", "web", f"s{k}"]))]
        if r.random() < 0.3:
            up = "../" * (folder.count("/") + 1)
            body += ["  ext:", f"    extends: {{file: {up}base.yml, service: b}}"]
            body += [f'    cpus: "{r.choice(_ICPU)}"'] if r.random() < 0.5 else []
        files[name] = "\n".join(body) + "\n"
        if r.random() < 0.5:
            files[f"{folder}/.env"] = envs()
        roll = r.random()
        if roll < 0.4:
            entries.append(f"  - {name}")
        elif roll < 0.7:
            entries.append(f"  - path: {name}\n    env_file: {folder}/x{k}.env")
            files[f"{folder}/x{k}.env"] = envs()
        else:
            entries.append(f"  - path: {name}\n    project_directory: {folder}")
    files["compose.yml"] = "\n".join(["include:", *entries, "services:", *_iservice(r, "main")]) + "\n"
    if r.random() < 0.6:
        files[".env"] = envs()
    return Case(files, env={"MEM": "5g"} if r.random() < 0.2 else {})


@pytest.mark.slow
def test_seeded_include_projects_read_as_compose_v2(tmp_path: Path) -> None:
    """40 generated projects with includes (seeded): read alike, both refused (a variable left
    unset), or the known version difference (a service two includes bring, differing: 2.40.3
    refuses it, rightsize merges it as Compose 5 does, see test_a_service_two_includes_...)."""
    outcomes: dict[str, int] = {}
    for seed in range(40):
        root = tmp_path / f"s{seed}"
        cfg, err, got, mine = _both_ways(root, _include_case(seed))
        if cfg is not None:
            assert got == {n: v2_values(svc) for n, svc in cfg["services"].items()}, f"seed {seed}"
            kind = "agree"
        elif got is not None:
            assert "conflicts with imported resource" in err, f"seed {seed}: {err}"
            kind = "version"
        else:
            assert "reads empty" in mine, f"seed {seed}: {mine}"
            kind = "both refuse"
        outcomes[kind] = outcomes.get(kind, 0) + 1
    assert outcomes.get("agree", 0) >= 20, outcomes
