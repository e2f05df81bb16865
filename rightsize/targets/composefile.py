"""Reading compose files: parse, check the shape, list and select services."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from rightsize.errors import RightsizeError
from rightsize.models import RESOURCES, Recommendation
from rightsize.targets.chains import Link, extends_chains, nested
from rightsize.targets.chains import service_node as service_node  # (re-exported: its readers import it here)
from rightsize.targets.include import (
    ComposeDoc,
    doc_env,
    load_project,
    reading_order,
)
from rightsize.targets.interpolate import resolve
from rightsize.targets.mergetags import hidden, replaces, tag
from rightsize.targets.valuetypes import check_types
from rightsize.targets.yaml import Doc


def load_compose(
    files: Sequence[Path],
    env_files: Sequence[Path | str] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    documents: bool = False,
    project_directory: str | os.PathLike[str] | None = None,
) -> list[ComposeDoc]:
    """Parse every file, and the files they include, and check each looks like a compose file (a
    mapping; services a mapping). Each file carries the environment compose interpolates it from
    (``environ``, default the process environment, then ``env_files``, default ``.env``).
    ``documents``: a file of several YAML documents is read (each a ``ComposeDoc``, see documents);
    else (writers: the documents would be patched apart) it is refused. ``project_directory``
    (compose's ``--project-directory``): where ``.env``, relative include and extends paths resolve
    and the default project name comes from (default: the first file's folder)."""
    if not files:
        raise RightsizeError("no compose file given (--compose FILE)")
    env_files = None if env_files is None else paths_of(env_files)
    seen: dict[Path, Path] = {}
    for f in files:  # one file twice would be patched twice, its second diff against the first
        if str(f) == "-":  # docker compose -f - reads stdin; there is no file to patch or name in a diff
            raise RightsizeError("-f -: compose from stdin is not supported; give the file's path")
        real = Path(f).resolve()
        if real in seen:
            raise RightsizeError(f"{f}: given twice (as {seen[real]} too): give each compose file once")
        seen[real] = Path(f)
    docs = load_project([Path(f) for f in files], env_files, environ, _directory(project_directory))
    several = next((d for d in docs if d.part > 1), None)
    if several is not None and not documents:
        raise RightsizeError(
            f"{several.source}: holds several YAML documents (---): apply cannot patch such a file "
            "(check and recommend -f read it as compose does); merge them into one document to apply"
        )
    for doc in reading_order(docs):  # (the first bad file named as before: in the order they are written)
        if not isinstance(doc.data, CommentedMap):
            raise RightsizeError(f"{doc.source}: not a compose file (the top level is not a mapping)")
        services = doc.data.get("services")
        if services is not None and not isinstance(services, CommentedMap):
            raise RightsizeError(f"{doc.source}: not a compose file ('services' is not a mapping)")
        for name, svc in (services or {}).items():
            if not isinstance(name, str):  # `123:` or `yes:`: compose wants a string (and so do we)
                raise RightsizeError(f"{doc.source}: service name {name!r} is not a string: quote it")
            if svc is not None and not isinstance(svc, CommentedMap) and tag(svc) != "!reset":  # (db: !reset)
                raise RightsizeError(f"{doc.source}: service {name!r} is not a mapping")
            check_types(doc, name, svc)
    if not any(isinstance(d.data.get("services"), CommentedMap) for d in docs):
        raise RightsizeError(f"{Path(files[0])}: not a compose file (no 'services' mapping)")
    for doc in reading_order(docs):  # `web:` with nothing under it anywhere: compose refuses the project
        for name, svc in (doc.data.get("services") or {}).items():
            if svc is None and not any(isinstance(service_node(d, name), CommentedMap) for d in docs):
                raise RightsizeError(
                    f"{doc.source}: service {name!r} is empty: Docker Compose v2 refuses it "
                    f"(services.{name} must be a mapping)"
                )
    if not service_names(docs):  # else apply changes nothing and check passes, both with exit 0
        raise RightsizeError(f"{Path(files[0])}: defines no services")
    base = Path(files[0])
    named = doc_env(docs[-1]).get("COMPOSE_FILE", "").strip()  # then compose reads no override: see include
    if len(files) == 1 and base.stem in ("compose", "docker-compose") and not named:  # compose's defaults
        for override in (base.parent / f"{base.stem}.override.{ext}" for ext in ("yaml", "yml")):
            if override.is_file():  # `docker compose up` without -f merges it over these values
                warnings.warn(
                    f"{override} is beside {base}: docker compose merges it unless -f is given; "
                    "its values are not read (give it with -f too)",
                    stacklevel=2,
                )
    return docs


def _directory(given: str | os.PathLike[str] | None) -> Path | None:
    if given is None:
        return None
    if not str(given).strip():
        raise RightsizeError("--project-directory: expected a folder, e.g. --project-directory .")
    path = Path(given)
    if not path.is_dir():
        what = "not a folder" if path.exists() else "no such folder"
        raise RightsizeError(f"--project-directory {given}: {what}")
    return path


def service_names(docs: Sequence[Doc]) -> list[str]:
    """The services compose keeps: not one a later file drops whole (``db: !reset``) and no file after
    defines again."""
    names: dict[str, None] = {}
    for doc in reading_order(docs):
        for name in doc.data.get("services") or {}:
            names[str(name)] = None
    return [n for n in names if _kept(docs, n)]


def _kept(docs: Sequence[Doc], svc: str) -> bool:
    hide = hidden(docs, svc, ())[0]
    return any(i not in hide and isinstance(service_node(d, svc), CommentedMap) for i, d in enumerate(docs))


def container_alias(docs: Sequence[Doc], svc: str) -> str | None:
    """The service's ``container_name`` as compose sets it (the last file's, interpolated): a workload
    named so is the service's."""
    for d in reversed(docs):
        node = service_node(d, svc)
        if isinstance(node, CommentedMap) and node.get("container_name"):
            where = f"{d.source}: services.{svc}.container_name"
            return str(resolve(node["container_name"], doc_env(d), where)) or None
    return None


def select(docs: Sequence[Doc], services: Iterable[str] | None) -> list[str]:
    """The services to work on; naming one that no file defines is bad input."""
    names = service_names(docs)
    if not services:
        return names
    wanted_names = [s.strip() for s in names_of(services) if s.strip()]
    missing = [s for s in wanted_names if s not in names]
    if missing:
        raise RightsizeError(
            f"no service named {', '.join(missing)} in {_first(docs)} (services: {', '.join(names)})"
        )
    return [n for n in names if n in wanted_names]


def _first(docs: Sequence[Doc]) -> str:
    """The first -f file (an included file comes before the file including it)."""
    return next((d.source for d in docs if not (isinstance(d, ComposeDoc) and d.included_by)), docs[0].source)


def names_of(value: str | Iterable[str]) -> Iterable[str]:
    """A library caller's ``only="memory,cpu"`` / ``services="db"`` as the CLI's list (a str was read
    letter by letter: "unknown resource m, e, m, o, r, y")."""
    return value.split(",") if isinstance(value, str) else value


def paths_of(files: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Path]:
    """One path or several: ``patch_compose("compose.yml", ...)`` read "compose.yml" letter by letter
    ("c: given twice")."""
    return [Path(files)] if isinstance(files, str | os.PathLike) else [Path(f) for f in files]


def parse_only(only: str | Iterable[str] | None) -> tuple[str, ...]:
    if not only:
        return RESOURCES
    picked = tuple(o.strip() for o in names_of(only) if o.strip())
    bad = [o for o in picked if o not in RESOURCES]
    if bad:
        raise RightsizeError(f"unknown resource {', '.join(bad)} (choose from memory, cpu, pids)")
    return picked


def check_min_confidence(value: float) -> float:
    """``--min-confidence`` is a confidence, 0..1: 2 or -1 would silently skip all or nothing."""
    if not 0.0 <= value <= 1.0:  # also refuses nan
        raise RightsizeError(f"--min-confidence {value}: expected a number from 0 to 1")
    return value


def low_confidence(rec: Recommendation, min_confidence: float) -> str | None:
    """The reason to skip ``rec`` when it is below ``min_confidence``; None to keep it."""
    if rec.ok and rec.confidence < min_confidence:
        return f"low confidence {rec.confidence:.2f} < {min_confidence:.2f}"
    return None


Layer = tuple[int, bool, Any, Mapping[str, str]]  # (file index, the file's own service?, node, environment)


class Stack(list[Doc]):
    """The compose files in precedence order, plus what each file's ``extends`` brings to a service
    (read-only: a value found there gets an override in the extending service); ``layers`` puts them
    in the order compose lets them win."""

    def __init__(self, docs: Sequence[Doc], names: Sequence[str]) -> None:
        super().__init__(docs)
        self.chains: dict[str, dict[int, list[Link]]] = {n: extends_chains(docs, n) for n in names}
        links = [x for chains in self.chains.values() for chain in chains.values() for x in chain]
        self._origins = {id(x.node): x.where for x in links}

    def origin(self, node: Any, svc: str) -> str:
        """Where a service node a layer holds is written: "FILE: services.NAME" (what ``extends``
        brings is another service, maybe in another file)."""
        own = next((d.source for d in self if service_node(d, svc) is node), None)
        return f"{own}: services.{svc}" if own else self._origins.get(id(node), f"services extended by {svc}")

    def layers(self, svc: str, hidden: AbstractSet[int] = frozenset()) -> list[Layer]:
        """From the last file down, but the ``hidden`` ones (see mergetags.hidden): each file's service,
        then what its includes bring, then what that file's ``extends`` brings, nearest first.
        compose-go applies a file's ``extends`` after importing its includes and before it merges the
        file over the ones before (loader.go, loadYamlFile), so with ``-f a.yml -f b.yml`` a value
        b.yml's base sets wins over a.yml's own."""
        chains = self.chains.get(svc) or {}
        out: list[Layer] = []
        for i, own in nested(self, [i for i in range(len(self) - 1, -1, -1) if i not in hidden]):
            if own:
                out.append((i, True, service_node(self[i], svc), doc_env(self[i])))
            else:
                out += [(i, False, link.node, link.env) for link in chains.get(i, ())]
        return out


def visible(layers: Sequence[Layer], path: tuple[str, ...]) -> list[Layer]:
    """``layers`` without what a service's ``extends`` brings at ``path`` below a node that replaces
    it there: an ``!override``/``!reset`` along path in the file's own service or a service on its
    chain (mergetags.replaces; compose-go merges each base under its extending service with the
    same tags, so ``deploy: !override`` in ``mid`` keeps ``base``'s deploy out of ``top``)."""
    out: list[Layer] = []
    cut: set[int] = set()
    for layer in layers:  # (the very tuples: effective tells them apart by identity)
        i, own, node, _ = layer
        if not own and i in cut:
            continue
        out.append(layer)
        if replaces(node, path):
            cut.add(i)
    return out
