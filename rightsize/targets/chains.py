"""What a compose service's ``extends`` brings, file by file, as compose-go resolves it: the chain of
services extended (same file, the file's includes, ``extends.file``), nearest first, each with the
environment it is interpolated from; and the order a file's own service, its includes' copies and
its ``extends`` win in (``nested``). Used by ``composefile.Stack``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from ruamel.yaml.comments import CommentedMap

from rightsize.errors import RightsizeError
from rightsize.targets.documents import read_documents
from rightsize.targets.include import ComposeDoc, doc_env, extends_file, stack_of
from rightsize.targets.interpolate import resolve
from rightsize.targets.valuetypes import check_types
from rightsize.targets.yaml import Doc


class Link(NamedTuple):
    """A service extended, the environment it was read with, and where it is written ("FILE:
    services.NAME": an error about one of its values names that file, not the extending service)."""

    node: CommentedMap
    env: Mapping[str, str]
    where: str


def _link(doc: Doc, name: str, env: Mapping[str, str]) -> Link:
    return Link(service_node(doc, name), env, f"{doc.source}: services.{name}")


def service_node(doc: Doc, svc: str) -> Any:
    return (doc.data.get("services") or {}).get(svc)


def nested(docs: Sequence[Doc], order: Sequence[int]) -> Iterator[tuple[int, bool]]:
    """``order`` (file indices, the winning first) as ``(i, True)`` for file i's own service and
    ``(i, False)`` for what its ``extends`` brings: that comes after what the file's includes bring,
    as compose-go imports a file's includes into its content before it applies its ``extends``
    (loader.go, loadYamlFile), each included file already extended in its own load."""
    waiting: list[int] = []
    for i in order:
        while waiting and not _includes(docs[waiting[-1]], docs[i]):
            yield waiting.pop(), False
        yield i, True
        waiting.append(i)
    while waiting:
        yield waiting.pop(), False


def _includes(outer: Doc, doc: Doc) -> bool:
    """Whether ``doc`` is read through ``outer``'s includes (nested ones too)."""
    mine, theirs = stack_of(outer), stack_of(doc)
    return len(theirs) > len(mine) and theirs[: len(mine)] == mine and theirs[len(mine)][0] == outer.source


def extends_chains(docs: Sequence[Doc], svc: str) -> dict[int, list[Link]]:
    """File index -> the services ``svc`` extends there, nearest first, from the same file (or a file
    it includes) or ``extends.file``."""
    chains: dict[int, list[Link]] = {}
    for i, doc in enumerate(docs):
        node = service_node(doc, svc)
        if isinstance(node, CommentedMap) and "extends" in node:
            chains[i] = _chain_of(docs, doc, svc, node)
    return chains


def _scope(docs: Sequence[Doc], cur: Doc) -> list[Doc]:
    """The files whose services an ``extends`` without ``file`` in ``cur`` can name: ``cur``, then what
    it includes, nested includes too, the one compose lets win first. compose-go (loader.go,
    loadYamlFile: "Process includes first so that extended services have all merged attributes", the
    order since docker/compose#13606 and compose-go#868) imports the included services before it
    applies ``extends``; a file read through ``extends.file`` is loaded with SkipInclude (extends.go),
    so its includes are not seen."""
    if not any(d is cur for d in docs):
        return [cur]
    sources, under = {cur.source}, []
    for _ in range(len(docs)):  # (a fixed point: each round adds the next level of includes)
        more = [
            d
            for d in docs
            if isinstance(d, ComposeDoc)
            and (d.included_by in sources or sources.intersection(d.also_by))
            and d not in under
            and d is not cur
            and not _another_documents(d, cur)
        ]
        if not more:
            break
        under += more
        sources |= {d.source for d in more}
    # docs lists each file's includes in precedence order, lowest first (see include.load_project)
    return [cur, *sorted(under, key=lambda d: -next(i for i, x in enumerate(docs) if x is d))]


def _another_documents(d: Doc, cur: Doc) -> bool:
    """Whether ``d`` comes through an include of another YAML document of ``cur``'s file (see
    documents): each document's includes are imported in its own load, out of the others' reach
    (Docker Compose 2.40.3: 'service "x" not found')."""
    mine, theirs = stack_of(cur), stack_of(d)
    part = cur.part if isinstance(cur, ComposeDoc) else 0
    return (
        len(theirs) > len(mine)
        and theirs[: len(mine)] == mine
        and theirs[len(mine)][0] == cur.source
        and theirs[len(mine)][1] // 1000 != part  # (include.py numbers a document's entries from 1000 x part)
    )


def _chain_of(docs: Sequence[Doc], cur: Doc, svc: str, own: Any) -> list[Link]:
    """One file's chain: what the ``extends`` of ``svc`` (``own`` in ``cur``) brings, nearest first."""
    ext = own.get("extends")
    chain: list[Link] = []
    outside: list[tuple[Doc, str]] = []  # files only extends.file reaches: load_compose did not check them
    later: list[list[Link]] = []  # copies outside each step's file: under the rest of the chain
    env = doc_env(cur)  # compose interpolates before extending: the whole chain (an included file: its own)
    seen = [(Path(cur.source).resolve(), svc)]
    while ext is not None:  # no depth limit in compose: a cycle is what ends it
        where = f"{cur.source}: services.{seen[-1][1]}.extends"
        if isinstance(ext, CommentedMap):
            name, file = resolve(ext.get("service"), env, where), resolve(ext.get("file"), env, where)
        else:
            name, file = resolve(ext, env, where), None
        if not isinstance(name, str) or not name:  # compose: "extends.<svc>.service is required"
            raise RightsizeError(f"{where}: expected a service name (extends: NAME, or {{service: NAME}})")
        scope = read_documents(extends_file(cur, str(file)))[::-1] if file else _scope(docs, cur)
        target = next((d for d in scope if isinstance(service_node(d, name), CommentedMap)), scope[0])
        if file:  # the file's other documents (the last wins): merged under target's chain
            later.append(_other_documents(scope, target, name, env))
        outside += [(d, name) for d in (scope if file else [target]) if not any(d is x for x in docs)]
        if (Path(target.source).resolve(), name) in seen:  # compose refuses it: "Circular reference"
            cycle = " -> ".join(f"{n} ({s})" for s, n in [*seen, (Path(target.source).resolve(), name)])
            raise RightsizeError(f"{cur.source}: extends cycle: {cycle}")
        seen.append((Path(target.source).resolve(), name))
        node = service_node(target, name)
        if not isinstance(node, CommentedMap):
            which = (
                f"{target.source} and the files it includes lack"
                if len(scope) > 1
                else f"{target.source} lacks"
            )
            raise RightsizeError(f"{cur.source}: service {svc!r} extends {name!r}, which {which}")
        if target is not cur and any(d is target for d in docs):
            env = doc_env(target)  # an included file is interpolated with its include's environment
        chain.append(_link(target, name, env))
        # a file's own service merges over an included one (compose-go#835) before its extends
        # applies; the copies outside target's includes come under target's whole chain
        rest = [] if file else scope[scope.index(target) + 1 :]
        chain += _copies(docs, [d for d in rest if _includes(target, d)], name)
        later.append(_copies(docs, [d for d in rest if not _includes(target, d)], name))
        cur, ext = target, node.get("extends")
    for more in reversed(later):
        chain += more
    _check_outside(chain, outside, own)
    return chain


def _check_outside(chain: Sequence[Link], outside: Sequence[tuple[Doc, str]], own: Any) -> None:
    """Type-check what the files only ``extends.file`` reaches bring, below what is merged over it
    (``own``: the extending service): compose validates the service once extended, so a limit of the
    wrong type there is refused unless a nearer service sets or replaces it."""
    nodes = [link.node for link in chain]
    for d, name in outside:
        node = service_node(d, name)
        at = next((k for k, n in enumerate(nodes) if n is node), None)
        if at is not None:  # (a copy not on the chain is not merged: not validated either)
            check_types(d, name, node, [own, *nodes[:at]])


def _other_documents(parts: Sequence[Doc], target: Doc, name: str, env: Mapping[str, str]) -> list[Link]:
    """The service ``name`` as an ``extends.file``'s other documents define it (see documents), the
    winning first. A copy there with an ``extends`` of its own is not followed: refused."""
    out: list[Link] = []
    for d in parts[parts.index(target) + 1 :]:
        node = service_node(d, name)
        if isinstance(node, CommentedMap) and "extends" in node:
            raise RightsizeError(
                f"{d.source}: services.{name}.extends: not supported in one of several YAML documents "
                "read through extends.file (put the documents in one)"
            )
        if isinstance(node, CommentedMap):
            out.append(_link(d, name, env))
    return out


def _copies(docs: Sequence[Doc], among: Sequence[Doc], name: str) -> list[Link]:
    """The service ``name`` as the files ``among`` (the winning first) define it, each followed by
    what its ``extends`` brings once its includes' copies are merged (see ``nested``)."""
    order = [next(i for i, x in enumerate(docs) if x is d) for d in among]
    out: list[Link] = []
    for i, own in nested(docs, [i for i in order if isinstance(service_node(docs[i], name), CommentedMap)]):
        node = service_node(docs[i], name)
        out += [_link(docs[i], name, doc_env(docs[i]))] if own else _chain_of(docs, docs[i], name, node)
    return out
