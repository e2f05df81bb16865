"""Which of a chart's subcharts helm renders: a dependency's ``condition`` and ``tags`` (Chart.yaml or
requirements.yaml), judged on the values as helm judges them (helm 3.17 pkg/chartutil/dependencies.go,
checked against ``helm template``):

- every dependency starts enabled; its ``tags`` are looked up in the top-level ``tags:`` table: one
  true tag enables it, only false ones disable it;
- then its ``condition``, a comma-separated list of value paths (from the subchart's parent), decides
  over the tags: the first path holding a boolean wins, a path missing or holding anything else (a
  null, a quoted "false") is passed over (helm warns);
- the values are the file's over the chart's defaults, the subcharts' defaults included
  (``postgresql.enabled: true`` in the postgresql chart's own values counts);
- a subchart's own dependencies read the same top-level ``tags``, with the subchart's own
  ``values.yaml`` ``tags`` filling in those missing (helm coalesces each chart's defaults into the top).

A subchart turned off is kept in the view (its defaults still name its blocks, so a workload matching
it is told why it is not placed) and listed in ``Chart.off``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from ruamel.yaml.comments import CommentedMap

# YAML 1.1 booleans: helm reads values with go-yaml v2, where a plain `enabled: no` is false; the
# round-trip loader reads the file being patched as YAML 1.2 (a str). Quoted ("no") stays a string.
_YAML11_BOOL = {
    **dict.fromkeys(["y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"], True),
    **dict.fromkeys(["n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"], False),
}


@dataclasses.dataclass(frozen=True)
class Switch:
    """A dependency's ``condition`` (as written) and ``tags``."""

    condition: str = ""
    tags: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Off:
    """Why a subchart is not rendered: ``how`` is ``condition``, ``tags`` or ``helmignore``; ``path``
    the value's keys from the top of the values (or the .helmignore pattern, as one item)."""

    how: str
    path: tuple[str, ...]


def switch_of(dep: Mapping[str, Any]) -> Switch:
    condition = dep.get("condition")
    tags = dep.get("tags")
    listed = tuple(str(t) for t in tags if isinstance(t, str)) if isinstance(tags, list) else ()
    return Switch(condition if isinstance(condition, str) else "", listed)


def as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if type(value) is str:  # a plain scalar (quoted ones are str subclasses in the round-trip load)
        return _YAML11_BOOL.get(value)
    return None


def _path_value(view: Any, path: Sequence[str]) -> tuple[bool, Any]:
    for key in path:
        if not isinstance(view, Mapping) or key not in view:
            return False, None
        view = view[key]
    return True, view


def judged(switch: Switch, view: Any, tags: Any, prefix: tuple[str, ...], user: Any = None) -> Off | None:
    """Why helm leaves this dependency out (None: it renders it). ``view``: its parent's values;
    ``tags``: the top-level tags table as this chart sees it; ``prefix``: the parent's keys from the top;
    ``user``: the file being patched (its top level), whose plain ``no`` is a YAML 1.1 false."""
    off: Off | None = None
    table = tags if isinstance(tags, Mapping) else {}
    said = {t: b for t in switch.tags if t in table and (b := _flag(("tags", t), table[t], user)) is not None}
    if said and not any(said.values()):
        off = Off("tags", ("tags", next(iter(said))))
    for cond in switch.condition.strip().split(","):  # not stripped one by one: helm does not either
        if not cond:
            continue
        found, value = _path_value(view, cond.split("."))
        # a global is the top level's (copied down to every subchart), named so
        path = (*(() if cond.startswith("global.") else prefix), *cond.split("."))
        if found and (flag := _flag(path, value, user)) is not None:
            return None if flag else Off("condition", path)
    return off


def _flag(path: tuple[str, ...], value: Any, user: Any) -> bool | None:
    """A value as helm's boolean: the file's read as YAML 1.1 (the round-trip load is 1.2); the charts'
    defaults were loaded as 1.1 already, so a string there was quoted: not a boolean."""
    found, mine = _path_value(user, path)
    if found:
        return as_bool(mine)
    return value if isinstance(value, bool) else None


def tags_below(own: Any, tags: Any) -> Any:
    """The tags a subchart's dependencies are judged by: the ones above, its own defaults' filling in."""
    if not isinstance(own, Mapping):
        return tags
    if not isinstance(tags, Mapping):
        return own
    out = CommentedMap(own)
    out.update(tags)
    return out


def globals_below(own: Any, above: Any) -> Any:
    """A subchart's ``global:`` as helm leaves it: the parent's over its own, key by key."""
    if not isinstance(above, CommentedMap):
        return own
    return merged(own, above) if isinstance(own, CommentedMap) else above


def off_reason(off: Off, key: str, data: CommentedMap, file: str, over: Any = None, under: Any = None) -> str:
    """The skip reason for a workload whose block would be in the subchart ``key`` that is off;
    ``data``: the file being patched, ``over``/``under``: the --helm-set pairs and --values files (the
    first of them, in helm's order, holding the deciding value is named)."""
    if off.how == "helmignore":
        return (f"cannot place: the subchart {key} is not loaded by helm (.helmignore: {off.path[0]}), "
                "so nothing of it is rendered")  # fmt: skip
    where = ".".join(off.path)
    sources = (("--helm-set", over), (file, data), ("--values", under))  # helm's order, the top first
    hits = [(name, hit[1]) for name, values in sources if (hit := _path_value(values, off.path))[0]]
    name, value = hits[0] if hits else (file, None)
    shown = str(value).lower() if isinstance(value, bool) else value  # as the file spells it, not False
    source = f"{name} sets {where}: {shown}" if hits else f"{where} is false by the chart's defaults"
    what = "its condition" if off.how == "condition" else "its tags (none true)"
    return (f"cannot place: the subchart {key} is turned off by {what}: {source}; helm renders none "
            f"of it (turn it on, or --map the workload elsewhere)")  # fmt: skip


def imported(wired: Sequence[tuple[str, Any]], view: Mapping[str, Any]) -> CommentedMap:
    """What dependencies' ``import-values`` copy into their parent's values (helm's processImportValues):
    ``- data`` the child's ``exports.data`` table into the parent's top level, ``- child: a.b /
    parent: c`` the child's ``a.b`` table to ``c`` (``.``: the top). Read from the child's values as
    the chart's defaults leave them (not the file's), only tables; the first import wins a key, and
    the chart's own values win over all of them (the caller's merge)."""
    out = CommentedMap()
    for key, items in wired:
        for item in items if isinstance(items, list) else ():
            if isinstance(item, str):
                child, parent = ["exports", *item.split(".")], "."
            elif isinstance(item, Mapping) and isinstance(item.get("child"), str):
                child, parent = str(item["child"]).split("."), str(item.get("parent", "."))
            else:
                continue
            found, table = _path_value(view.get(key), child)
            if not found or not isinstance(table, CommentedMap):
                continue
            for part in reversed(parent.split(".") if parent != "." else []):
                table = CommentedMap({part: table})
            out = merged(table, out)
    return out


def merged(base: Any, over: Any) -> Any:
    """Helm's coalescing of values: mappings merge key by key, anything else in ``over`` wins (new
    mappings, in ``over``'s order then the rest of ``base``; neither input is changed). A null in
    ``over`` stays a null key: helm drops the default there, but the key is still where the chart
    reads that value, which is what the places are found from."""
    if not isinstance(base, CommentedMap) or not isinstance(over, CommentedMap):
        return over
    out = CommentedMap(over)
    for key, value in base.items():
        out[key] = merged(value, over[key]) if key in over else value
    return out
