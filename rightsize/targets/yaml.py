"""The one round-trip YAML factory for compose files and Helm values, and byte-exact text edits.

Why text edits instead of dumping the round-tripped tree: ruamel.yaml's emitter re-flows what it
reads (alignment after a colon, spacing inside flow collections, multi-line flow sequences, ``~``,
``True``, long lines), so a dump would change lines nobody asked to change. The document is parsed
once here (structure, line/column positions, anchors, merge keys, duplicate keys), and the writers
splice only the scalar tokens that change, or the lines they add, into the original text.
"""

from __future__ import annotations

import io
import itertools
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError, SafeConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from rightsize.errors import RightsizeError


@dataclass(frozen=True)
class Indent:
    """How a file indents: ``mapping`` spaces per level; sequence dashes ``offset`` in from the key."""

    mapping: int = 2
    offset: int = 0


def make_yaml(indent: Indent | None = None) -> YAML:
    """The round-trip loader/dumper every writer uses (quotes kept, duplicate keys refused)."""
    ind = indent or Indent()
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.allow_duplicate_keys = False
    y.width = 4096  # never fold a long scalar we render
    y.indent(mapping=ind.mapping, sequence=ind.offset + 2, offset=ind.offset)
    return y


class _ComposeConstructor(SafeConstructor):
    """Safe loading plus Compose's merge tags (``!reset``, ``!override``), read as the value they tag."""


def _untagged(constructor: SafeConstructor, node: Node) -> Any:
    # built here, not through construct_object: that call is already under way for this node
    if isinstance(node, MappingNode):
        return constructor.construct_mapping(node, deep=True)
    if isinstance(node, SequenceNode):
        return constructor.construct_sequence(node, deep=True)
    plain = (not getattr(node, "style", None), False)  # a quoted or block scalar is a string, as untagged
    tag = str(constructor.loader.resolver.resolve(ScalarNode, node.value, plain))
    return constructor.yaml_constructors[tag](constructor, node)


for _tag in ("!reset", "!override"):
    _ComposeConstructor.add_constructor(_tag, _untagged)


def plain_yaml() -> YAML:
    """A safe loader for compose files and values (plain dicts, merges resolved, compose tags read)."""
    y = YAML(typ="safe", pure=True)
    y.Constructor = _ComposeConstructor
    return y


_KEY_LINE = re.compile(r"^( *)(?:- +)?[^\s#\-][^#]*:\s*(#.*)?$")


def detect_indent(text: str) -> Indent:
    """The most common indentation step of block mappings, and where sequence dashes sit."""
    steps: Counter[int] = Counter()
    offsets: Counter[int] = Counter()
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    for cur, nxt in itertools.pairwise(lines):
        m = _KEY_LINE.match(cur)
        if not m:
            continue
        col = len(m.group(1))
        if cur.lstrip().startswith("- "):
            col = len(cur) - len(cur.lstrip("- ").lstrip())
        ncol = len(nxt) - len(nxt.lstrip(" "))
        if nxt.lstrip().startswith("- "):
            if ncol >= col:
                offsets[ncol - col] += 1
        elif ncol > col:
            steps[ncol - col] += 1
    mapping = steps.most_common(1)[0][0] if steps else 2
    offset = offsets.most_common(1)[0][0] if offsets else 0
    return Indent(mapping=mapping, offset=offset)


@dataclass(frozen=True)
class Doc:
    """A parsed file: its exact text, the ruamel tree and how it indents."""

    source: str
    text: str
    data: Any
    indent: Indent
    line_starts: tuple[int, ...]

    def offset(self, line: int, col: int) -> int:
        return self.line_starts[line] + col

    def line_of(self, offset: int) -> int:
        lo, hi = 0, len(self.line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.line_starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo


def parse(text: str, source: str) -> Doc:
    """Parse YAML text; any YAML problem becomes one RightsizeError line naming file, line and cause."""
    try:
        data = make_yaml().load(text)
    except DuplicateKeyError as exc:
        mark = exc.problem_mark
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise RightsizeError(f"{where}: duplicate key: {_one_line(exc.problem)}") from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source
        cause = " ".join(p for p in (exc.context, exc.problem) if p)
        raise RightsizeError(f"{where}: invalid YAML: {_one_line(cause)}") from None
    except YAMLError as exc:
        raise RightsizeError(f"{source}: invalid YAML: {_one_line(str(exc))}") from None
    try:  # what compose and helm read: plain data (a tag like !custom has no meaning to them)
        plain_yaml().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source
        raise RightsizeError(f"{where}: not plain YAML: {_one_line(exc.problem or str(exc))}") from None
    starts = [0]
    for i, ch in enumerate(text):
        if ch == "\n":
            starts.append(i + 1)
    return Doc(source, text, data, detect_indent(text), tuple(starts))


def read(path: Path) -> Doc:
    """Read and parse a file; unreadable files are a RightsizeError too."""
    try:
        raw = path.read_bytes()
    except IsADirectoryError:
        raise RightsizeError(f"{path}: is a directory, not a YAML file") from None
    except OSError as exc:
        raise RightsizeError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RightsizeError(f"{path}: not UTF-8 text") from None
    return parse(text, str(path))


def verify_written(text: str, source: str, expected: list[tuple[tuple[str, ...], str]]) -> None:
    """Re-read patched text (with the faster safe loader: merges resolved, as compose reads it): it must
    parse and hold every value a writer claims to have written. Any failure is ours: nothing is written."""
    try:
        data = plain_yaml().load(text)
    except YAMLError as exc:
        raise RightsizeError(
            f"internal error, nothing written: {source} would not parse ({_one_line(str(exc))})"
        ) from None
    for path, want in expected:
        node: Any = data
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if node is None or str(node) != want:
            raise RightsizeError(
                f"internal error, nothing written: {'.'.join(path)} would read {node!r}, not {want!r}"
            )


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


# ---- tokens in the original text -------------------------------------------------------------


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
        pos = _quoted_end(text, pos)
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


def block_col(node: CommentedMap) -> int:
    """The column of a block mapping's keys. ``lc.col`` is where the node starts, which for a tagged
    mapping (``limits: !override``) is the tag, not the keys below it."""
    first = next((k for k, _ in node.non_merged_items()), None)
    return int(node.lc.key(first)[1]) if first is not None else int(node.lc.col)


def block_end(doc: Doc, node: CommentedMap) -> int:
    """Offset of the start of the line after the last content line of a block mapping."""
    col = block_col(node)
    first = node.lc.line
    last = max([first, *(doc.line_of(doc.offset(*node.lc.key(k))) for k, _ in node.non_merged_items())])
    lines = doc.text.split("\n")
    i = last + 1
    while i < len(lines):
        ln = lines[i]
        stripped = ln.strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        if len(ln) - len(ln.lstrip(" ")) > col:
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


def render_block(tree: dict[str, Any], step: int, col: int) -> str:
    """New keys as block YAML at column col (values: pre-rendered scalar text, or nested dicts)."""
    out: list[str] = []
    for key, value in tree.items():
        if isinstance(value, dict):
            out.append(f"{' ' * col}{key}:\n")
            out.append(render_block(value, step, col + step))
        else:
            out.append(f"{' ' * col}{key}: {value}\n")
    return "".join(out)


def render_flow(tree: dict[str, Any]) -> str:
    """New keys as the inside of a flow mapping: ``a: 1, b: {c: 2}``."""
    parts = []
    for key, value in tree.items():
        parts.append(f"{key}: {{{render_flow(value)}}}" if isinstance(value, dict) else f"{key}: {value}")
    return ", ".join(parts)


def dump_copy(node: Any, indent: Indent) -> str:
    """Block YAML of a copied subtree (used to give a service its own copy of an inherited block)."""
    buf = io.StringIO()
    make_yaml(indent).dump(node, buf)
    return buf.getvalue()


def plain_copy(node: Any) -> Any:
    """A deep copy with merges flattened and anchors dropped, keeping scalar styles and flow style."""
    if isinstance(node, CommentedMap):
        new = CommentedMap()
        for k, v in node.items():
            new[k] = plain_copy(v)
        if node.fa.flow_style():
            new.fa.set_flow_style()
        return new
    if isinstance(node, CommentedSeq):
        seq = CommentedSeq(plain_copy(v) for v in node)
        if node.fa.flow_style():
            seq.fa.set_flow_style()
        return seq
    if isinstance(node, str) and type(node) is not str:
        return type(node)(str(node))  # a quoted-style string without its anchor
    return node
