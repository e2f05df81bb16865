"""``apply --helm FILE --helm-set a.b=c``: the ``--set`` values helm gets over every values file.

They are read (which subcharts are on, the limits kept, the render) and never written; a field they
set is not written in the file either (helm's ``--set`` would override it). Only the plain form is
read: dotted keys (``\\.`` for a dot inside a key) and one scalar, typed as helm's ``--set`` types it
(``true``/``false``, ``null`` in any case, integers; anything else a string). Lists (``a[0]=x``,
``{a,b}``) and several pairs in one option (``a=1,b=2``) are refused: put those in a ``--values`` file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ruamel.yaml.comments import CommentedMap

from rightsize.errors import RightsizeError
from rightsize.models import Skipped

_INT = re.compile(r"[-+]?(0|[1-9][0-9]*)")


def parse_sets(items: Sequence[str]) -> list[tuple[tuple[str, ...], Any]]:
    """Each ``--helm-set KEY=VALUE`` as (keys, value)."""
    out = []
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise RightsizeError(f"--helm-set {item!r}: expected KEY=VALUE (helm's --set)")
        if any(c in item for c in "[]{}") or "," in raw.replace("\\,", ""):
            raise RightsizeError(f"--helm-set {item!r}: only one plain KEY=VALUE is read (no lists, no "
                                 "a=1,b=2): put the rest in a --values file")  # fmt: skip
        keys = tuple(k.replace("\0", ".") for k in key.replace("\\.", "\0").split("."))
        if any(not k for k in keys):
            raise RightsizeError(f"--helm-set {item!r}: an empty key in {key!r}")
        out.append((keys, _typed(raw.replace("\\,", ","))))
    return out


def _typed(raw: str) -> Any:
    if raw.lower() in ("true", "false"):  # helm's strvals compares with strings.EqualFold
        return raw.lower() == "true"
    if raw.lower() == "null":
        return None
    if _INT.fullmatch(raw) and abs(int(raw)) < 2**63:
        return int(raw)
    return raw


def set_values(sets: Sequence[tuple[tuple[str, ...], Any]]) -> CommentedMap:
    """The pairs as one mapping (later pairs over earlier), as a values file would hold them."""
    out = CommentedMap()
    for keys, value in sets:
        node = out
        for key in keys[:-1]:
            if not isinstance(node.get(key), CommentedMap):
                node[key] = CommentedMap()
            node = node[key]
        node[keys[-1]] = value
    return out


def drop_overridden(
    source: str,
    pairs: Sequence[tuple[tuple[str, ...], Any]],
    concrete: Mapping[int, tuple[str | int, ...]],
    assigns: dict[int, dict[tuple[str, ...], Any]],
    meta: Mapping[tuple[int, tuple[str, ...]], tuple[str, str]],
) -> list[Skipped]:
    """Take out of ``assigns`` (per group: the path under its node) each value a ``--helm-set`` pair
    sets, or sets a mapping above: helm's --set would override what the file says."""
    skipped = []
    for group, todo in assigns.items():
        for rel in list(todo):
            full = (*concrete[group], *rel)
            hit = next((keys for keys, _ in pairs if full[: len(keys)] == keys), None)
            if hit is not None:
                wl, _ = meta[group, rel]
                why = f"--helm-set {'.'.join(hit)} overrides it (helm's --set is over the values files)"
                skipped.append(Skipped(source, wl, rel[-1], why, str(todo.pop(rel).raw)))
    return skipped
