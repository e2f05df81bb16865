"""New keys in a compose file written as JSON (``{"services": ...}``): they must stay JSON, or the file
still loads as YAML but no JSON tool reads it; in an indented file, one key a line at its siblings'
indentation, as ``json.dump(indent=...)`` writes them."""

from __future__ import annotations

import json
import re
from typing import Any

from ruamel.yaml.comments import CommentedMap

from rightsize.targets.yaml import Doc


def json_like(doc: Doc) -> bool:
    """Whether the file is written as JSON: its top level opens with ``{`` and a quoted key."""
    m = re.match(r"[\ufeff\s]*\{\s*(.)", doc.text)
    return m is not None and m.group(1) == '"'


def json_text(value: Any, text: bool, indent: tuple[str, str] | None = None) -> str:
    """``value`` as JSON; ``text``: scalars are YAML as written (``64m``, ``"0.1"``, ``'2'``, ``100``).
    ``indent`` (the white space before the value's key, one level's step): a mapping one key a line;
    else all on one line."""
    if isinstance(value, dict):
        if not value:
            return "{}"
        if indent is None:
            pairs = (f"{json.dumps(str(k))}: {json_text(v, text)}" for k, v in value.items())
            return "{" + ", ".join(pairs) + "}"
        lead, step = indent
        items = [f"{json.dumps(str(k))}: {json_text(v, text, (lead + step, step))}" for k, v in value.items()]
        pad = lead + step
        return "{\n" + pad + (",\n" + pad).join(items) + "\n" + lead + "}"
    if isinstance(value, list):
        return "[" + ", ".join(json_text(v, text) for v in value) + "]"
    if not text or not isinstance(value, str):
        return json.dumps(value if isinstance(value, bool | int | float) or value is None else str(value))
    if value.startswith('"'):
        return value
    if value.startswith("'"):
        return json.dumps(value[1:-1].replace("''", "'"))
    return value if re.fullmatch(r"-?\d+(\.\d+)?", value) else json.dumps(value)


def json_items(doc: Doc, node: CommentedMap, inserts: dict[str, Any], pos: int, close: int) -> str:
    """The text inserted after a JSON mapping's last value (at ``pos``; its ``}`` at ``close``): on the
    same line in a one-line mapping, else each key on its own line, indented like the key before it
    (spaces or tabs)."""
    one_line = "\n" not in doc.text[pos:close]
    line, col = node.lc.key(list(node)[-1])
    start = doc.offset(line, col)
    lead = doc.text[doc.text.rfind("\n", 0, start) + 1 : start]
    closing = doc.text[doc.text.rfind("\n", 0, close) + 1 : close]
    step = lead[len(closing) :] if lead.startswith(closing) and len(lead) > len(closing) else "  "
    parts = []
    for key, val in inserts.items():
        literal = not isinstance(val, CommentedMap)  # a copied block holds values, not YAML text
        parts.append(f"{json.dumps(key)}: {json_text(val, literal, None if one_line else (lead, step))}")
    if one_line:
        return ", " + ", ".join(parts)
    return "".join(f",\n{lead}{p}" for p in parts)  # (a CRLF file gets CRLF: apply_edits)
