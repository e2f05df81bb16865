"""Compose's merge tags across ``-f`` files: ``!reset`` drops what earlier files set at that key (its
own content too); ``!override`` replaces it with its own content. A value below either, set by an
earlier file, is not what compose uses, so it is neither read (check) nor edited (apply).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ruamel.yaml.comments import CommentedMap, TaggedScalar

from rightsize.targets.include import stack_of
from rightsize.targets.yaml import Doc


def tag(value: Any) -> str | None:
    t = getattr(value, "tag", None)
    return getattr(t, "value", None) if t is not None else None


def hidden(docs: Sequence[Doc], svc: str, path: tuple[str, ...]) -> tuple[frozenset[int], str | None]:
    """(the files whose value at ``path`` compose does not use, the ``!reset`` that dropped it if one
    did). compose-go removes a tagged key from the file's own content and applies the file's reset
    paths to what is merged under it in that file's own load (loadYamlFile: ``processor.Apply`` on
    the files before it; importResource: on what it includes): for a ``-f`` file every earlier file,
    for an included one only the files before it in its include entry, and its own includes."""
    out: set[int] = set()
    reset: str | None = None
    for i in range(len(docs) - 1, -1, -1):
        if i in out:
            continue
        node: Any = (docs[i].data.get("services") or {}) if isinstance(docs[i].data, CommentedMap) else None
        for key in (svc, *path):  # (the service itself first: `db: !reset` drops it whole)
            if not isinstance(node, CommentedMap) or key not in node:
                break
            node = node[key]
            t = tag(node)
            if t in ("!reset", "!override"):
                mine = stack_of(docs[i])
                out |= {j for j in range(i) if stack_of(docs[j])[: len(mine)] == mine}
                if t == "!reset":  # (its own content too; !override keeps it)
                    out.add(i)
                    reset = reset or docs[i].source
                break
    return frozenset(out), reset


def untagged(value: Any) -> Any:
    """A scalar tagged ``!override`` as compose-go reads it: its text, a string (then cast as an
    interpolated value is: ``pids_limit: !override 050`` is 50, ``mem_limit: !override 1e9`` 1e9
    bytes; Docker Compose 2.40.3)."""
    if not isinstance(value, TaggedScalar) or tag(value) not in ("!override", "!reset"):
        return value  # (a !reset kept: under an !override, see effective.dropped_here)
    return None if value.value is None else str(value.value)


def replaces(node: Any, path: tuple[str, ...]) -> bool:
    """Whether a service's own definition (``node``) replaces what its ``extends`` brings at ``path``:
    an ``!override`` (or ``!reset``) on a key along it. compose-go merges the extended service under
    the extending one with the same merge rules as files (Docker Compose 2.40.3: ``deploy: !override
    {...}`` beside ``extends`` keeps none of the base's deploy)."""
    for key in path:
        if not isinstance(node, CommentedMap) or key not in node:
            return False
        node = node[key]
        if tag(node) in ("!override", "!reset"):
            return True
    return False


def dropped(docs: Sequence[Doc], svc: str, paths: Sequence[tuple[str, ...]]) -> str | None:
    """``"<path> is !reset in <file>"`` for the first of paths a ``!reset`` drops, else None."""
    for path in (p for p in paths if p):
        reset = hidden(docs, svc, path)[1]
        if reset:
            return f"{'.'.join(path)} is !reset in {reset}"
    return None
