"""The ``.Values.a.b`` paths a chart's templates name, its subcharts' too (under their keys), for the
render's candidate paths (``helmsentinel``): a template may read a block no values file declares.

A subchart's ``.Values.x`` is the parent's ``<key>.x``, where the key is the dependency's ``alias``
(each alias, when one chart is installed twice) or its name; ``.Values.global.x`` stays global.
Charts are read as helm finds them: a folder or a ``.tgz``, with ``charts/<sub>/`` folders and
``charts/*.tgz`` below, to a few levels.
"""

from __future__ import annotations

import io
import re
import tarfile
import zlib
from pathlib import Path
from typing import Any

import yaml

Keys = tuple[str, ...]
MAX_DEPTH = 3  # subcharts of subcharts of subcharts
MAX_BYTES = 5 * 1024**2  # helm's own limit on a chart file
_REF = re.compile(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def template_refs(chart: Path) -> list[Keys]:
    """Every ``.Values`` path the chart's and its subcharts' templates name (none if unreadable)."""
    try:
        files = _folder(chart, 0) if chart.is_dir() else _tgz(chart.read_bytes())
        return sorted(_refs(files, (), 0))
    except (OSError, EOFError, zlib.error, tarfile.TarError, yaml.YAMLError, UnicodeDecodeError):
        return []


def _refs(files: dict[str, bytes], prefix: Keys, depth: int) -> set[Keys]:
    out: set[Keys] = set()
    for rel, blob in files.items():
        if rel.startswith("templates/"):
            for m in _REF.finditer(blob.decode(errors="replace")):
                keys = tuple(m.group(1)[1:].split("."))
                out.add(keys if keys[0] == "global" else (*prefix, *keys))
    if depth >= MAX_DEPTH:
        return out
    under = _dependency_keys(files)
    for sub in _subcharts(files):
        name = _name(sub)
        for key in under.get(name, [name]) if name else ():
            out |= _refs(sub, (*prefix, key), depth + 1)
    return out


def _name(files: dict[str, bytes]) -> str:
    meta = _load(files.get("Chart.yaml"))
    return meta.get("name", "") if isinstance(meta, dict) and isinstance(meta.get("name"), str) else ""


def _load(blob: bytes | None) -> Any:
    return None if blob is None else yaml.load(blob.decode(errors="replace"), Loader=_LOADER)


def _dependency_keys(files: dict[str, bytes]) -> dict[str, list[str]]:
    """Chart name -> the keys its values sit under (its aliases, else its name)."""
    meta, req = _load(files.get("Chart.yaml")), _load(files.get("requirements.yaml"))
    deps = req if isinstance(req, dict) and "dependencies" in req else meta
    if not isinstance(deps, dict):
        return {}
    out: dict[str, list[str]] = {}
    listed = deps.get("dependencies")
    for dep in listed if isinstance(listed, list) else []:
        if isinstance(dep, dict) and isinstance(dep.get("name"), str):
            alias = dep.get("alias")
            out.setdefault(dep["name"], []).append(alias if isinstance(alias, str) and alias else dep["name"])
    return out


def _subcharts(files: dict[str, bytes]) -> list[dict[str, bytes]]:
    subs: dict[str, dict[str, bytes]] = {}
    for rel, blob in files.items():
        parts = rel.split("/")
        if len(parts) == 2 and parts[0] == "charts" and parts[1].endswith(".tgz"):
            subs[rel] = _tgz(blob)
        elif len(parts) > 2 and parts[0] == "charts":
            subs.setdefault(parts[1], {})["/".join(parts[2:])] = blob
    return list(subs.values())


def _folder(root: Path, depth: int) -> dict[str, bytes]:
    """A chart folder's Chart.yaml, requirements.yaml, templates, and charts/ (folders and .tgz)."""
    out = {n: _read(root / n) for n in ("Chart.yaml", "requirements.yaml") if (root / n).is_file()}
    if (root / "templates").is_dir():
        for p in sorted((root / "templates").rglob("*")):
            if p.is_file():
                out[p.relative_to(root).as_posix()] = _read(p)
    charts = root / "charts"
    if depth < MAX_DEPTH and charts.is_dir():
        for entry in sorted(charts.iterdir()):
            if entry.name.startswith(("_", ".")):
                continue
            if entry.is_file() and entry.name.endswith(".tgz"):
                out[f"charts/{entry.name}"] = _read(entry)
            elif entry.is_dir():
                out.update({f"charts/{entry.name}/{k}": v for k, v in _folder(entry, depth + 1).items()})
    return out


def _read(path: Path) -> bytes:
    return b"" if path.stat().st_size > MAX_BYTES else path.read_bytes()


def _tgz(blob: bytes) -> dict[str, bytes]:
    """A packaged chart's files under its one top folder (``shop/templates/a.yaml``: ``templates/a.yaml``)."""
    out = {}
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        for member in tar.getmembers():
            _, _, rel = member.name.lstrip("./").partition("/")
            if member.isfile() and rel and member.size <= MAX_BYTES and (handle := tar.extractfile(member)):
                out[rel] = handle.read()
    return out
