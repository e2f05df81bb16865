"""Compose's merge tags across ``-f`` files: ``!reset`` drops what earlier files set at that key (its
own content too); ``!override`` replaces it with its own content. A value below either, set by an
earlier file, is not what compose uses, so it is neither read (check) nor edited (apply).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ruamel.yaml.comments import CommentedMap

from rightsize.targets.composefile import service_node
from rightsize.targets.yaml import Doc


def tag(value: Any) -> str | None:
    t = getattr(value, "tag", None)
    return getattr(t, "value", None) if t is not None else None


def visible(docs: Sequence[Doc], svc: str, path: tuple[str, ...]) -> tuple[int, str | None]:
    """(first file index compose reads ``path`` from, reset file's source if a ``!reset`` cut it)."""
    for i in range(len(docs) - 1, -1, -1):
        node: Any = service_node(docs[i], svc)
        for key in path:
            if not isinstance(node, CommentedMap) or key not in node:
                break
            node = node[key]
            t = tag(node)
            if t == "!reset":
                return i + 1, docs[i].source
            if t == "!override":
                return i, None
    return 0, None


def dropped(docs: Sequence[Doc], svc: str, paths: Sequence[tuple[str, ...]]) -> str | None:
    """``"<path> is !reset in <file>"`` for the first of paths a ``!reset`` drops, else None."""
    for path in (p for p in paths if p):
        reset = visible(docs, svc, path)[1]
        if reset:
            return f"{'.'.join(path)} is !reset in {reset}"
    return None
