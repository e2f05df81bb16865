"""Where things sit in a YAML file's text: the token of a value, the end of a scalar, a flow or a block
mapping, so the writers can splice new text into the original bytes (see ``yaml.py`` for why)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from rightsize.errors import RightsizeError
from rightsize.targets.yaml import Doc


@dataclass(frozen=True)
class Token:
    """What follows ``key:`` on the key's own line.

    kind: ``scalar``, ``alias`` (``*name``), ``null`` (``~``/``null``), ``empty`` (nothing on the
    line: a block value or no value), ``flow`` (``{``/``[``). ``anchor`` is a ``&name`` written
    before the value; ``start:end`` spans the value itself (after the anchor).
    """

    kind: str
    start: int
    end: int
    anchor: str | None = None

    def text(self, doc: Doc) -> str:
        return doc.text[self.start : self.end]


def value_token(doc: Doc, node: CommentedMap, key: Any) -> Token:
    """The token of ``node[key]`` as written at this key (an alias stays an alias here)."""
    kline, kcol = node.lc.key(key)
    text = doc.text
    pos = _skip_key(text, doc.offset(kline, kcol))
    flow = bool(node.fa.flow_style())
    pos = _skip_spaces(text, pos)
    anchor = None
    while pos < len(text) and text[pos] in "&!":
        m = re.compile(r"[&!][^\s,\[\]{}]*").match(text, pos)
        assert m is not None
        if text[pos] == "&":
            anchor = m.group(0)[1:]
        pos = _skip_spaces(text, m.end())
    if pos >= len(text) or text[pos] in "#\r\n":
        value = node[key]
        if value is None or isinstance(value, CommentedMap | CommentedSeq) or anchor:
            return Token("empty", pos, pos, anchor)
        vline, vcol = node.lc.value(key)  # a scalar on the next line: `memory:\n  1g`
        start = doc.offset(vline, vcol)
        gap = re.compile(r"(?:[ \t]*(?:#[^\n]*)?\r?\n)*[ \t]*")
        alias = re.compile(r"\*[^\s,\[\]{}]+").match(text, gap.match(text, pos).end())  # type: ignore[union-attr]
        if alias:  # an alias reports the anchor's position, not its own
            return Token("alias", alias.start(), alias.end(), None)
        if start < pos or not gap.fullmatch(text[pos:start]):
            return Token("empty", pos, pos, anchor)
        return Token("scalar", start, scalar_end(text, start, flow), None)
    if flow and text[pos] in ",}":
        return Token("empty", pos, pos, anchor)
    if text[pos] == "*":
        m = re.compile(r"\*[^\s,\[\]{}]+").match(text, pos)
        assert m is not None
        return Token("alias", pos, m.end(), anchor)
    if text[pos] in "{[":
        return Token("flow", pos, _flow_end(text, pos), anchor)
    if text[pos] in "|>" and not flow:  # a block scalar: the header and every deeper line after it
        return Token("scalar", pos, _block_scalar_end(text, pos, kcol), anchor)
    end = scalar_end(text, pos, flow)
    word = text[pos:end]
    kind = "null" if word in ("~", "null", "Null", "NULL") else "scalar"
    return Token(kind, pos, end, anchor)


def _block_scalar_end(text: str, pos: int, key_col: int) -> int:
    """End of a ``|``/``>`` scalar's last content line (lines indented deeper than its key)."""
    end = text.find("\n", pos)
    if end < 0:
        return len(text)
    i = end + 1
    while i < len(text):
        nl = text.find("\n", i)
        line = text[i : nl if nl >= 0 else len(text)]
        if line.strip():
            if len(line) - len(line.lstrip(" ")) <= key_col:
                break
            end = nl if nl >= 0 else len(text)
        if nl < 0:
            break
        i = nl + 1
    return end


def _skip_spaces(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t":
        pos += 1
    return pos


def _skip_key(text: str, pos: int) -> int:
    """From the start of a key to just after its ``:``."""
    if text[pos] in "\"'":
        pos = _skip_spaces(text, _quoted_end(text, pos))
        if text[pos : pos + 1] == ":":  # a quoted key's colon needs no space after it: {"a":"b"} (JSON)
            return pos + 1
    while pos < len(text):
        if text[pos] == ":" and (pos + 1 >= len(text) or text[pos + 1] in " \t\r\n,}]"):
            return pos + 1
        pos += 1
    raise RightsizeError("internal: could not find a key's colon")  # parser accepted it: cannot happen


def _quoted_end(text: str, pos: int) -> int:
    quote = text[pos]
    i = pos + 1
    while i < len(text):
        if quote == '"' and text[i] == "\\":
            i += 2
            continue
        if text[i] == quote:
            if quote == "'" and text[i + 1 : i + 2] == "'":
                i += 2
                continue
            return i + 1
        i += 1
    return i


def scalar_end(text: str, pos: int, flow: bool) -> int:
    """End of a one-line scalar starting at pos (quoted, or plain up to a comment / flow separator)."""
    if text[pos] in "\"'":
        return _quoted_end(text, pos)
    i = pos
    stop = ",}]" if flow else ""
    while i < len(text) and text[i] not in "\r\n" and text[i] not in stop:
        if text[i] == "#" and text[i - 1] in " \t":
            break
        i += 1
    while i > pos and text[i - 1] in " \t":
        i -= 1
    return i


def _flow_end(text: str, pos: int) -> int:
    """Offset just past the flow collection that opens at pos."""
    depth = 0
    i = pos
    while i < len(text):
        ch = text[i]
        if ch in "\"'":
            i = _quoted_end(text, i)
            continue
        if ch == "#" and text[i - 1] in " \t":
            while i < len(text) and text[i] != "\n":
                i += 1
            continue
        if ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return i


def requote(old_token: str, new: str) -> str:
    """``new`` written in the quoting style of the token it replaces."""
    if old_token.startswith('"'):
        return f'"{new}"'
    if old_token.startswith("'"):
        return f"'{new}'"
    return new


# ---- where new lines go ------------------------------------------------------------------------


def block_col(node: CommentedMap, doc: Doc | None = None) -> int:
    """The column of a block mapping's keys. ``lc.col`` is where the node starts, which for a tagged
    mapping (``limits: !override``) is the tag, not the keys below it; an explicit key (``? key``)
    sits after its ``?``, which is at the mapping's column (given ``doc``, that is read)."""
    first = next((k for k, _ in node.non_merged_items()), None)
    if first is None:
        return int(node.lc.col)
    line, col = node.lc.key(first)
    if doc is not None:
        start = doc.offset(line, 0)
        explicit = re.fullmatch(r"( *)\?[ \t]+", doc.text[start : start + col])
        if explicit:
            return len(explicit.group(1))
    return int(col)


def block_end(doc: Doc, node: CommentedMap) -> int:
    """Offset of the start of the line after the last content line of a block mapping."""
    col = block_col(node, doc)
    keyed = [(doc.line_of(doc.offset(*node.lc.key(k))), k) for k, _ in node.non_merged_items()]
    last, key = max(keyed, default=(node.lc.line, None), key=lambda lk: lk[0])
    token = value_token(doc, node, key) if key is not None else None
    # the last value's own end, at any column: a flow collection's closing line (`labels: [` ... `]`),
    # a quoted scalar's continuation line (`command: "sleep` then `  3600"`, less indented than the key)
    if token is not None and token.kind in ("flow", "scalar") and token.end > token.start:
        last = max(last, doc.line_of(token.end - 1))
    lines = doc.text.split("\n")
    i = last + 1
    while i < len(lines):
        ln = lines[i]
        stripped = ln.strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        indent = len(ln) - len(ln.lstrip(" "))
        # a sequence may sit at its key's own column (`devices:` then `- driver: nvidia`)
        # and an explicit key's value (`? key` then `: value`) at the key's column
        if indent > col or (indent == col and re.match(r"[-:](\s|$)", stripped)):
            last = i
            i += 1
            continue
        break
    if last + 1 < len(doc.line_starts):
        return doc.line_starts[last + 1]
    return len(doc.text)


def line_end(doc: Doc, offset: int) -> int:
    """Offset of the start of the next line (or the end of the text)."""
    nl = doc.text.find("\n", offset)
    return len(doc.text) if nl < 0 else nl + 1


def flow_close(doc: Doc, node: CommentedMap) -> int:
    """Offset of the ``}`` that closes a flow mapping."""
    start = doc.offset(node.lc.line, node.lc.col)
    tag = re.match(r"![^\s{]*\s*", doc.text[start:])  # a tagged map (`!override {...}`) starts at its tag
    if tag:
        start += tag.end()
    if doc.text[start] != "{":
        start = doc.text.rfind("{", 0, start + 1)
    return _flow_end(doc.text, start) - 1


def content_end(text: str, pos: int) -> int:
    """Just after the last character before ``pos`` that is neither blank nor in a comment: where a
    flow mapping's last entry ends, though a comment follows it (``{a: 1  # c`` then ``}``)."""
    while True:
        while pos > 0 and text[pos - 1] in " \t\r\n":
            pos -= 1
        start = text.rfind("\n", 0, pos) + 1
        quote, cut = "", None
        for i in range(start, pos):  # a '#' after a blank (or first), outside quotes, opens a comment
            ch = text[i]
            if quote:
                quote = "" if ch == quote and not (ch == '"' and text[i - 1] == "\\") else quote
            elif ch in "\"'" and (i == start or text[i - 1] in " \t{[,:"):  # (it's: no quote)
                quote = ch
            elif ch == "#" and (i == start or text[i - 1] in " \t"):
                cut = i
                break
        if cut is None:
            return pos
        pos = cut
