"""Following a compose file's top-level ``include`` (Compose 2.20+) the way Docker Compose v2 does.

Each included file is read as a file of its own (patched and checked there, its comments kept), with
the environment compose interpolates it from: the including project's environment, then the
include's ``env_file`` (default: ``.env`` in its project directory). Relative paths in an include
resolve against the including project's directory (the first ``-f`` file's folder, or an included
project's ``project_directory``, by default its first file's folder). As compose, an include cycle and
a missing file are refused.

A service several places define is merged as compose-go merges it (loader/include.go, importResource:
``MergeYaml(imported, existing)``, the one already in the model wins; compose-go#835, before it
"conflicts with imported resource"): the file's own definition over what its includes bring, and an
earlier include over a later one. One include's own paths merge like ``-f`` files, the later winning.
``load_project`` lists the files in that precedence order, lowest first, as the ``-f`` files are.
"""

from __future__ import annotations

import dataclasses
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from rightsize.errors import RightsizeError
from rightsize.targets.documents import read_documents
from rightsize.targets.interpolate import project_env, read_env_files, substitute
from rightsize.targets.yaml import Doc

# git (https://host/repo.git#ref:path, git@host:repo) and oci:// includes are fetched by compose's remote
# loaders. rightsize warns and goes on rather than failing: it reads and writes local files only (a
# remote file cannot be patched in place), and an error would make apply and check unusable on the
# project's local services; the warning says that the remote services are neither patched nor checked.
_REMOTE = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*://|git@)")


@dataclass(frozen=True)
class ComposeDoc(Doc):
    """A compose file with the environment compose interpolates it from, and who included it."""

    env: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)
    included_by: str | None = None
    also_by: tuple[str, ...] = ()  # the other files that include it (it is read once)
    workdir: Path | None = None  # the project directory its relative paths resolve against
    seq: int = 0  # its place in reading order: included files first, each include in the file's order
    # the include entries that brought it, from the top: ((file, entry index), ...); () for a -f file.
    # A !reset here drops what is merged under it in its own load: files whose stack starts with it
    stack: tuple[tuple[str, int], ...] = ()
    part: int = 0  # its YAML document (1, 2, ...) when the file holds several (see documents); else 0


def stack_of(doc: Doc) -> tuple[tuple[str, int], ...]:
    """The include entries that brought the file (``ComposeDoc.stack``); () for a ``-f`` file."""
    return doc.stack if isinstance(doc, ComposeDoc) else ()


def reading_order(docs: Sequence[Doc]) -> list[Doc]:
    """The files as they are written (what a user reads: an include's services where it stands), not
    in the order compose lets them win (an earlier include wins over a later one)."""
    return sorted(docs, key=lambda d: d.seq if isinstance(d, ComposeDoc) else 0)


def doc_env(doc: Doc) -> Mapping[str, str]:
    return doc.env if isinstance(doc, ComposeDoc) else {}


def extends_file(doc: Doc, file: str) -> Path:
    """Where a service of ``doc`` finds ``extends.file``, as compose-go resolves it: a relative path
    against the project directory for a ``-f`` file (the first file's folder, also for a later
    ``-f`` file in another folder), against the include's project directory for an included file
    (``project_directory``, by default its first file's folder), and against the extended file's own
    folder for a file reached through ``extends.file``; ``~`` is the home folder."""
    if file.startswith("~"):
        return Path.home() / file[1:].lstrip("/")
    base = doc.workdir if isinstance(doc, ComposeDoc) and doc.workdir is not None else None
    return (base if base is not None else Path(doc.source).parent) / file


@dataclass(frozen=True)
class _Include:
    paths: tuple[str, ...]
    project_directory: str | None
    env_files: tuple[str, ...]


@dataclass
class _Walk:
    out: list[ComposeDoc | _Again] = field(default_factory=list)
    done: set[Path] = field(default_factory=set)
    given: set[Path] = field(default_factory=set)
    read: int = 0  # files kept so far
    also: dict[Path, list[str]] = field(default_factory=dict)  # a file read once -> its other includers


@dataclass(frozen=True)
class _Again:
    """A file read once, included again: at this place in ``_Walk.out`` (see ``_reassert``)."""

    real: Path
    stack: tuple[tuple[str, int], ...]


def load_project(
    files: Sequence[Path],
    env_files: Sequence[Path | str] | None = None,
    environ: Mapping[str, str] | None = None,
    project_directory: Path | None = None,
) -> list[ComposeDoc]:
    """The ``-f`` files in order, each preceded by what it includes (nested includes first), in the
    order compose lets them win, lowest first: a file's last include first, its own content last."""
    # compose's project directory (--project-directory, else the first file's folder): .env and
    # relative paths resolve here
    workdir = Path(files[0]).parent if project_directory is None else project_directory
    env = project_env(files[0], env_files, environ, workdir)
    _compose_file_differs(files, env, os.environ if environ is None else environ, workdir)
    walk = _Walk(given={Path(f).resolve() for f in files})
    for f in files:
        _load(Path(f), workdir, env, (), None, (), walk)
    out = _reassert(walk.out)
    return [dataclasses.replace(d, also_by=tuple(walk.also.get(Path(d.source).resolve(), ()))) for d in out]


def _reassert(items: list[ComposeDoc | _Again]) -> list[ComposeDoc]:
    """Each file read once moved, with what it includes, to the highest place a file includes it.
    compose-go loads each ``-f`` file (and each path of an include entry) with its includes, then
    merges it over the ones before: a later file that includes a file an earlier one included too
    brings its services again, over the earlier file's own (``-f f1.yml -f f2.yml`` both including
    common.yml: common.yml's values win over f1.yml's). Where the first includer wins anyway (two
    entries of one file's include: the first include's load wins) it stays."""
    out = list(items)
    while True:
        place = {Path(d.source).resolve(): i for i, d in enumerate(out) if isinstance(d, ComposeDoc)}
        above = [(j, m) for j, m in enumerate(out) if isinstance(m, _Again) and place[m.real] < j]
        if not above:
            return [d for d in out if isinstance(d, ComposeDoc)]
        j, marker = above[-1]  # the highest place a file is included again
        i = place[marker.real]
        doc = out[i]
        assert isinstance(doc, ComposeDoc)
        start = i
        while start and _under(out[start - 1], doc):
            start -= 1
        out[j : j + 1] = [_restack(x, doc.stack, marker.stack) for x in out[start : i + 1]]
        del out[start : i + 1]
        out = [x for x in out if not (isinstance(x, _Again) and x.real == marker.real)]


def _under(item: ComposeDoc | _Again, doc: ComposeDoc) -> bool:
    """Whether ``item`` came through ``doc``'s includes (or is an earlier document of its file)."""
    mine = doc.stack
    if isinstance(item, ComposeDoc) and item.source == doc.source and item.stack == mine:
        return True
    return (
        len(item.stack) > len(mine)
        and item.stack[: len(mine)] == mine
        and item.stack[len(mine)][0] == doc.source
    )


def _restack(
    item: ComposeDoc | _Again, old: tuple[tuple[str, int], ...], new: tuple[tuple[str, int], ...]
) -> Any:
    return dataclasses.replace(item, stack=new + item.stack[len(old) :])


def _compose_file_differs(
    files: Sequence[Path], env: Mapping[str, str], environ: Mapping[str, str], workdir: Path
) -> None:
    """Warn when ``COMPOSE_FILE`` names other files than the ``-f`` ones. rightsize reads (and writes)
    only the files it is given, as ``docker compose -f`` does; but ``docker compose`` without ``-f``
    reads COMPOSE_FILE (split on ``COMPOSE_PATH_SEPARATOR``, default ``:``), so its values could
    come from files rightsize never saw. Its paths are relative to the working directory: the
    current one for the shell's COMPOSE_FILE, the project directory for one from an env file (where
    ``docker compose`` must run to read that file)."""
    value = env.get("COMPOSE_FILE", "")
    if not value.strip():
        return
    base = Path.cwd() if "COMPOSE_FILE" in environ else workdir
    named = [base / p for p in value.split(env.get("COMPOSE_PATH_SEPARATOR") or os.pathsep) if p]
    if [p.resolve() for p in named] == [Path(f).resolve() for f in files]:
        return
    origin = "the environment" if "COMPOSE_FILE" in environ else "the env file"
    warnings.warn(
        f"COMPOSE_FILE (from {origin}) names {', '.join(str(p) for p in named)}: docker compose without -f "
        f"reads those, rightsize reads only {', '.join(str(f) for f in files)}; give the same files with -f",
        stacklevel=4,
    )


def _load(
    path: Path,
    workdir: Path,
    env: Mapping[str, str],
    chain: tuple[Path, ...],
    by: str | None,
    stack: tuple[tuple[str, int], ...],
    walk: _Walk,
) -> None:
    real = path.resolve()
    if real in chain:
        cycle = " -> ".join(str(p) for p in (*chain[chain.index(real) :], real))
        raise RightsizeError(f"include cycle: {cycle}")
    if real in walk.done or (by is not None and real in walk.given):
        if by is not None:  # (its services are the including file's too: an extends there finds them)
            walk.also.setdefault(real, []).append(by)
            walk.out.append(_Again(real, stack))  # (compose brings them again here: see _reassert)
        return  # read once: a file given with -f, or included twice (compose accepts identical copies)
    walk.done.add(real)
    parts = read_documents(path)
    for n, doc in enumerate(parts, start=1):  # (several: each loads as a file of its own, see documents)
        _load_doc(doc, n if len(parts) > 1 else 0, workdir, env, (*chain, real), by, stack, walk)


def _load_doc(
    doc: Doc,
    part: int,
    workdir: Path,
    env: Mapping[str, str],
    chain: tuple[Path, ...],
    by: str | None,
    stack: tuple[tuple[str, int], ...],
    walk: _Walk,
) -> None:
    if not isinstance(doc.data, CommentedMap):
        raise RightsizeError(f"{doc.source}: not a compose file (the top level{_of(part)} is not a mapping)")
    blocks: list[
        list[ComposeDoc | _Again]
    ] = []  # per include entry: its files, in their own precedence order
    for n, item in enumerate(_items(doc, env)):
        remote = [p for p in item.paths if _REMOTE.match(p)]
        if remote:
            warnings.warn(
                f"{doc.source}: include {remote[0]} is remote: not followed (rightsize reads local files "
                "only): its services are neither patched nor checked",
                stacklevel=4,
            )
            continue
        paths = [workdir / p for p in item.paths]
        for p, given in zip(paths, item.paths, strict=True):
            if not p.is_file():
                what = "is a directory" if p.is_dir() else "no such file"
                raise RightsizeError(f"{doc.source}: include {given}: {what} ({p})")
        project = workdir / item.project_directory if item.project_directory else paths[0].parent
        if item.env_files:
            files = [workdir / f for f in item.env_files]
        else:
            files = [f for f in (project / ".env",) if f.is_file()]
        inc_env = {**read_env_files(files, env), **env}  # the including environment wins (compose's Merge)
        mark = len(walk.out)
        for p in paths:  # (loaded in the file's order: the first bad one is the one compose names)
            entry = (doc.source, n + 1000 * part)  # (each document's include entries are its own)
            _load(p, project, inc_env, chain, doc.source, (*stack, entry), walk)
        blocks.append(walk.out[mark:])
        del walk.out[mark:]
    # compose-go imports each include in turn under what the model already holds (the file's own
    # services, then the earlier includes'): the first include wins over the later ones
    for block in reversed(blocks):
        walk.out.extend(block)
    kept = ComposeDoc(doc.source, doc.text, doc.data, doc.indent, doc.line_starts, env=env, included_by=by)
    walk.out.append(dataclasses.replace(kept, workdir=workdir, seq=walk.read, stack=stack, part=part))
    walk.read += 1


def _of(part: int) -> str:
    return f" of its document {part}" if part else ""


def _items(doc: Doc, env: Mapping[str, str]) -> list[_Include]:
    """The top-level ``include`` entries (short and long syntax), interpolated as compose does."""
    raw = doc.data.get("include")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise RightsizeError(f"{doc.source}: include must be a list of files")
    out = []
    for n, item in enumerate(raw):
        where = f"{doc.source}: include[{n}]"
        if isinstance(item, str):
            item = {"path": item}
        if not isinstance(item, dict):
            raise RightsizeError(f"{where}: expected a path or a mapping with 'path'")
        unknown = sorted(str(k) for k in item if k not in ("path", "project_directory", "env_file"))
        if unknown:
            raise RightsizeError(
                f"{where}: unknown key {', '.join(unknown)} (path, project_directory, env_file)"
            )
        paths = _strings(item.get("path"), f"{where}.path", env)
        if not paths:
            raise RightsizeError(f"{where}: no path")
        directory = _strings(item.get("project_directory"), f"{where}.project_directory", env)
        env_files = _strings(item.get("env_file"), f"{where}.env_file", env)
        out.append(_Include(tuple(paths), directory[0] if directory else None, tuple(env_files)))
    return out


def _strings(value: Any, where: str, env: Mapping[str, str]) -> list[str]:
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) and v.strip() for v in values):
        raise RightsizeError(f"{where}: expected a file name or a list of them")
    return [substitute(v, env, where) for v in values]
