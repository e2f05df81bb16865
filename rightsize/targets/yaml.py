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
        # ruamel.yaml counts no column for a byte-order mark: on the first line, the text has one more
        bom = line == 0 and self.text.startswith("\ufeff")
        return self.line_starts[line] + col + bom

    def line_of(self, offset: int) -> int:
        lo, hi = 0, len(self.line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.line_starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo


# Tabs as separating white space (trailing, before a comment, after `key:`): YAML allows them and
# Docker Compose v2 reads them, ruamel.yaml (like PyYAML) refuses them. Parsing sees spaces there,
# one for one, so every offset into the original text stays right.
_SEP_TABS = re.compile(r"[ \t]*\t[ \t]*(?=\r?$)|(?<=\S)[ \t]*\t[ \t]*(?=#)|(?<=:)[ \t]*\t[ \t]*(?=\S)", re.M)


def loadable(text: str) -> str:
    """The text the YAML loaders read: separating tabs as spaces (indentation tabs stay an error)."""
    if "\t" not in text:
        return text
    return _SEP_TABS.sub(lambda m: " " * len(m.group(0)), text)


# A `%YAML` directive other than 1.1: Go's YAML readers (compose-go's yaml.v3, Helm's go-yaml) refuse
# the file ("yaml: found incompatible YAML document"); ruamel.yaml reads 1.2 (and asserts on 1.3).
_DIRECTIVE = re.compile(r"^%YAML(?:[ \t]+([^\s#]*))?", re.M)


def _check_directive(text: str, source: str) -> None:
    for m in _DIRECTIVE.finditer(text):
        if m.group(1) != "1.1":
            line = text.count("\n", 0, m.start()) + 1
            raise RightsizeError(
                f"{source}:{line}: %YAML {m.group(1) or ''} directive: Docker Compose v2 and Helm refuse "
                "the file (yaml: found incompatible YAML document; only 1.1 is read): remove that line"
            )


def load_error(exc: YAMLError, source: str) -> RightsizeError:
    """The round-trip loader's error as one line naming the file, the line (and column) and the cause."""
    if isinstance(exc, DuplicateKeyError):
        mark = exc.problem_mark
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        return RightsizeError(f"{where}: duplicate key: {_one_line(exc.problem)}")
    if isinstance(exc, MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source
        cause = " ".join(p for p in (exc.context, exc.problem) if p)
        return RightsizeError(f"{where}: invalid YAML: {_one_line(cause)}")
    return RightsizeError(f"{source}: invalid YAML: {_one_line(str(exc))}")


def parse(text: str, source: str) -> Doc:
    """Parse YAML text; any YAML problem becomes one RightsizeError line naming file, line and cause."""
    _check_directive(text.removeprefix("\ufeff"), source)
    try:
        data = make_yaml().load(loadable(text))
    except YAMLError as exc:
        raise load_error(exc, source) from None
    except RecursionError:  # ruamel's loader recurses per level: a few hundred nested [ or { end it
        raise RightsizeError(f"{source}: nested too deeply to read") from None
    try:  # what compose and helm read: plain data (a tag like !custom has no meaning to them)
        plain_yaml().load(loadable(text))
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
        data = plain_yaml().load(loadable(text))
    except YAMLError as exc:
        raise RightsizeError(
            f"internal error, nothing written: {source} would not parse ({_one_line(str(exc))})"
        ) from None
    except (ValueError, TypeError) as exc:  # `!!int 192M`: a new value under the old one's explicit tag
        tag = " a value rightsize rewrites has an explicit YAML tag (!!int, !!float): remove it;"
        tag = tag if "!!" in text else ""
        raise RightsizeError(
            f"{source}:{tag} nothing written: the patched file would not read back ({_one_line(str(exc))})"
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
