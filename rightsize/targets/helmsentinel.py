"""The sentinel values file of the render (``helmrender``): where a resources block may be read, and
a block of sizes no chart uses at each of those paths, so a rendered container's numbers name the path
(and the fields) it came from.

A path is a tuple of keys and list indices (``("db", "sidecars", 0, "resources")``): a list item
that looks like a container (a mapping with a ``name``) gets a block too. Helm replaces a list as a
whole, so the sentinel file holds a copy of the list with each item's block set.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Sequence
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarbool import ScalarBoolean

from rightsize.targets import valuepath

MAX_DEPTH = 8  # values deeper than this are not searched for resources blocks
MAX_PATHS = 99_999  # the codes hold five digits of index
FIELDS = (("requests", "memory"), ("requests", "cpu"), ("limits", "memory"), ("limits", "cpu"))
SHORT = (("memory",), ("cpu",))  # neo4j's shorthand: resources.memory is request and limit both
SENTINEL = re.compile(r"9([1-6])(\d{5})(Ki|m)")
# res, resources, nodeResources, podRes (camel case: not features, cores)
_RESLIKE = re.compile(r"(?i:^res$|resources?$)|[a-z0-9]Res$")
At = tuple[str | int, ...]  # keys, and indices into lists
Keys = tuple[str, ...]


def candidates(view: CommentedMap, refs: Iterable[Keys], guesses: Iterable[At]) -> list[At]:
    """Paths where a resources block may be read: every ``resources`` key and every mapping holding
    ``limits``/``requests`` in the values (not inside one another), the ``resources`` of list items
    named like containers, the templates' references to such a block (``.Values.x.res``,
    ``.Values.x.resources.limits.memory``), and the guesses; each only where the values leave room
    for a mapping (no scalar in the way)."""
    out: dict[At, None] = {}

    def walk(node: CommentedMap, at: At) -> None:
        if len(at) >= MAX_DEPTH:
            return
        for key, value in node.items():
            here = (*at, str(key))
            if key == "resources" and isinstance(value, CommentedMap) and _per_component(value):
                walk(value, here)  # resources: {web: {limits: ...}, worker: ...}
            elif _block(str(key), value):
                out[here] = None
            elif isinstance(value, CommentedMap):
                walk(value, here)
            elif isinstance(value, CommentedSeq):  # sidecars: [{name: exporter, ...}]
                for i, item in enumerate(value):
                    if isinstance(item, CommentedMap) and isinstance(item.get("name"), str):
                        out[(*here, i, "resources")] = None

    walk(view, ())
    # a template naming .Values.resources does not make a per-component map (resources.web) one block
    above = {at[:i] for at in out for i in range(1, len(at))}
    for ref in refs:
        cut = next((i for i, k in enumerate(ref) if k in ("limits", "requests")), None)
        block = ref[:cut] if cut else ref if _RESLIKE.search(ref[-1]) else None
        if block and block not in above:
            out[block] = None
    out.update(dict.fromkeys(g for g in guesses if g not in above))
    kept = [at for at in out if _room(view, at) and not any(at[:i] in out for i in range(1, len(at)))]
    return kept[:MAX_PATHS]


def _block(key: str, value: Any) -> bool:
    """A resources block: any ``resources`` mapping (or null), an empty one named like it
    (``res: {}``, ``podResources:``), or a mapping holding limits/requests."""
    if key == "resources" and (value is None or isinstance(value, CommentedMap)):
        return True
    if _RESLIKE.search(key) and (value is None or (isinstance(value, CommentedMap) and not value)):
        return True
    return isinstance(value, CommentedMap) and ("limits" in value or "requests" in value)


def _per_component(block: CommentedMap) -> bool:
    """A ``resources`` mapping of components' blocks, not a block itself."""
    own = {"limits", "requests", "claims", *(r for (r,) in SHORT)}
    return bool(block) and not own & set(map(str, block)) and all(
        isinstance(v, CommentedMap) for v in block.values())  # fmt: skip


def at(view: Any, path: At) -> tuple[bool, Any]:
    """The value at a path (keys into mappings, indices into lists)."""
    node = view
    for step in path:
        if isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            node = node[step]
            continue
        if not (isinstance(node, dict) and isinstance(step, str) and step in node):
            return False, None
        node = node[step]
    return True, node


def _room(view: CommentedMap, path: At) -> bool:
    """No scalar on the way to the block, nor as the block: each step a mapping (a list where the path
    indexes one, the item there), or missing from there down (created, as a template naming
    ``.Values.a.b.res`` where no values file holds ``a`` reads it once set)."""
    node: Any = view
    for step in path:
        if isinstance(step, int):
            if not (isinstance(node, list) and 0 <= step < len(node)):
                return False
            node = node[step]
            continue
        if not isinstance(node, dict):
            return False
        if step not in node or node[step] is None:
            return True
        node = node[step]
    return isinstance(node, dict)


def sentinel_values(paths: Sequence[At], view: CommentedMap) -> dict[str, Any]:
    """The values file setting each path's sentinels (a shorthand block gets its own two too), as
    plain data for ``json.dumps`` (JSON is YAML, and keeps a string like 1e3 a string to helm)."""
    out: dict[str, Any] = {}
    for i, path in enumerate(paths):
        block: dict[str, Any] = {}
        for code, (side, res) in enumerate(FIELDS, 1):
            block.setdefault(side, {})[res] = code_of(code, i, res)
        if _is_short(view, path):
            for code, (res,) in enumerate(SHORT, 5):
                block[res] = code_of(code, i, res)
        node: Any = out
        for j, step in enumerate(path[:-1]):
            below = at(view, path[: j + 1])[1]
            if isinstance(below, list) and not isinstance(node.get(step), list):
                node[step] = plain(copy.deepcopy(below))  # the whole list: helm replaces lists
            node = (
                node[step] if isinstance(below, list) or isinstance(step, int) else node.setdefault(step, {})
            )
        node[path[-1]] = block
    return out


def plain(value: Any) -> Any:
    """As plain data for ``json.dumps`` (ruamel's scalars as the Python types they stand for)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, ScalarBoolean):
        return bool(value)
    for kind in (bool, int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return str(value)


def code_of(field: int, index: int, resource: str) -> str:
    return f"9{field}{index:05d}{'Ki' if resource == 'memory' else 'm'}"


def _is_short(view: CommentedMap, path: At) -> bool:
    node = at(view, path)[1]
    return isinstance(node, dict) and any(r in node for (r,) in SHORT)


def spelled(view: CommentedMap, path: At) -> str:
    """A path as ``--map`` spells it: a list item by its name when that is unique in its list."""
    steps: list[valuepath.Step] = []
    for j, step in enumerate(path):
        if isinstance(step, str):
            steps.append(valuepath.Key(step))
            continue
        items = at(view, path[:j])[1]
        name = items[step].get("name") if isinstance(items[step], dict) else None
        names = [i.get("name") for i in items if isinstance(i, dict)]
        unique = isinstance(name, str) and names.count(name) == 1
        steps.append(valuepath.Select("name", str(name)) if unique else valuepath.Index(step))
    return valuepath.render(steps)
