"""Turn "set these dotted paths to these scalars" into minimal text edits of one parsed YAML file.

Rules that keep other workloads safe: a block reached through a merge key (``<<: *defaults``) or an
alias (``*res``) gets its own copy in the service instead of an edit of the shared anchor; an
anchored block that other places reuse is never edited in place (skipped, with the reason).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import ScalarString

from rightsize.errors import RightsizeError
from rightsize.targets.jsonstyle import json_items, json_like, json_text
from rightsize.targets.tokens import (
    block_col,
    block_end,
    content_end,
    flow_close,
    line_end,
    requote,
    value_token,
)
from rightsize.targets.yaml import Doc, dump_copy, plain_copy, render_block, render_flow

Path = tuple[str, ...]


@dataclass(frozen=True)
class NewScalar:
    """A value to write: ``raw`` unquoted, ``text`` as written for a new key, ``value`` for copies."""

    raw: str
    text: str
    value: Any

    def like(self, old: Any) -> Any:
        """The value in the style of the one it replaces (quoted stays quoted)."""
        if isinstance(old, ScalarString):
            return type(old)(self.raw)
        return self.value


@dataclass(frozen=True)
class Edit:
    """Replace text[start:end]; ``order`` sorts insertions at one offset (deeper blocks come first)."""

    start: int
    end: int
    text: str
    order: int = 0


@dataclass(frozen=True)
class Outcome:
    ok: bool
    note: str = ""


def apply_edits(text: str, edits: list[Edit]) -> str:
    """Splice edits into text (edits never overlap: each touches its own token or insertion point)."""
    out = text
    crlf = "\r\n" in text  # added lines follow the file's line endings
    ordered = sorted(edits, key=lambda e: (e.start, e.end, e.order), reverse=True)
    # insertions at the end of a file without a final line break each start with one: only the
    # first of them in the result (the last spliced) keeps it, or a blank line parts them
    opened = [e for e in ordered if e.start == len(text) and e.text.startswith("\n") and text[-1:] != "\n"]
    for e in ordered:
        piece = e.text[1:] if e in opened[:-1] else e.text
        piece = piece.replace("\n", "\r\n") if crlf else piece
        out = out[: e.start] + piece + out[e.end :]
    return out


def shared_nodes(root: Any, copied: Counter[int] | None = None) -> dict[int, str]:
    """id -> anchor name for every container reachable from more than one place (and all below it);
    ``copied`` counts the alias references this patch replaces by own copies (they no longer share)."""
    count: dict[int, int] = {k: -v for k, v in (copied or Counter()).items()}
    nodes: dict[int, Any] = {}

    def visit(node: Any) -> None:
        if not isinstance(node, CommentedMap | CommentedSeq):
            return
        count[id(node)] = count.get(id(node), 0) + 1
        if id(node) in nodes:
            return
        nodes[id(node)] = node
        if isinstance(node, CommentedMap):
            for _, v in node.non_merged_items():
                visit(v)
            for src in node.merge:
                visit(src[1] if isinstance(src, tuple) else src)
        else:
            for v in node:
                visit(v)

    visit(root)
    shared: dict[int, str] = {}

    def mark(node: Any, name: str) -> None:
        if not isinstance(node, CommentedMap | CommentedSeq) or id(node) in shared:
            return
        shared[id(node)] = name
        for v in node.values() if isinstance(node, CommentedMap) else node:
            mark(v, name)

    for nid, n in count.items():
        if n > 1:
            anchor = nodes[nid].anchor.value or "?"
            mark(nodes[nid], anchor)
    return shared


class Shared(dict[int, str]):
    """``shared_nodes``, plus the offsets of the scalar aliases (``*mem``) this patch replaces."""

    freed: frozenset[int] = frozenset()


def settled_shared(doc: Doc, targets: list[tuple[Any, list[Path]]]) -> Shared:
    """``shared_nodes`` once the aliases the writes under ``targets`` (node, paths below it) replace by
    own copies or values are gone: what they pointed at may then be edited in place in the same run
    (else a second apply would still change it)."""
    shared: dict[int, str] = shared_nodes(doc.data)
    for _ in range(8):  # each round can only free more
        blocks: dict[tuple[int, str], Any] = {}  # (mapping, key) -> the block its alias points at
        freed: set[int] = set()
        for node, paths in targets:
            for path in paths:
                hit = _alias_on_path(doc, node, path, shared)
                if isinstance(hit, int):
                    freed.add(hit)
                elif hit:
                    blocks[hit[:2]] = hit[2]
        settled = shared_nodes(doc.data, Counter(id(block) for block in blocks.values()))
        if settled == shared:
            break
        shared = settled
    out = Shared(shared)
    out.freed = frozenset(freed)
    return out


def _alias_on_path(
    doc: Doc, node: Any, path: Path, shared: dict[int, str]
) -> tuple[int, str, CommentedMap] | int | None:
    """The alias on the way to path that ``plan`` replaces (as ``_walk`` decides): a block's
    (mapping id, key, block), or the offset of a scalar alias at the end of the path."""
    for depth, key in enumerate(path):
        if not isinstance(node, CommentedMap) or id(node) in shared or key not in node:
            return None
        if key not in {k for k, _ in node.non_merged_items()}:
            return None  # inherited through a merge key: an override is added, the merge stays
        child = node[key]
        tok = value_token(doc, node, key)
        if tok.kind == "alias" and depth == len(path) - 1:
            return None if isinstance(child, CommentedMap | CommentedSeq) else tok.start
        if isinstance(child, CommentedMap) and tok.kind == "alias":
            return id(node), key, child
        node = child
    return None


def plan(
    doc: Doc, node: CommentedMap, assigns: dict[Path, NewScalar], prefix: Path, shared: dict[int, str]
) -> tuple[list[Edit], dict[Path, Outcome]]:
    """Edits that set every ``prefix + path`` under node, and what happened to each path."""
    edits: list[Edit] = []
    results: dict[Path, Outcome] = {}
    _walk(doc, node, assigns, prefix, shared, edits, results)
    return edits, results


def _skip_all(results: dict[Path, Outcome], prefix: Path, assigns: dict[Path, NewScalar], why: str) -> None:
    for path in assigns:
        results[prefix + path] = Outcome(False, why)


def _walk(
    doc: Doc,
    node: CommentedMap,
    assigns: dict[Path, NewScalar],
    prefix: Path,
    shared: dict[int, str],
    edits: list[Edit],
    results: dict[Path, Outcome],
) -> None:
    if id(node) in shared:
        where = ".".join(prefix) or "document"
        _skip_all(
            results,
            prefix,
            assigns,
            f"{where} is shared through anchor &{shared[id(node)]}; "
            "not edited (give the service its own block)",
        )
        return
    own = {k for k, _ in node.non_merged_items()}
    groups: dict[str, dict[Path, NewScalar]] = {}
    for path, new in assigns.items():
        groups.setdefault(path[0], {})[path[1:]] = new
    inserts: dict[str, Any] = {}
    for key, sub in groups.items():
        full = (*prefix, key)
        inherited = key not in own and key in node
        note = "inherited through a merge key: own override written, anchor untouched" if inherited else ""
        if () in sub:
            new = sub[()]
            if key not in own:
                inserts[key] = new.text
                results[full] = Outcome(True, note)
            else:
                _set_scalar(doc, node, key, new, full, edits, results, getattr(shared, "freed", frozenset()))
        elif key in own:
            child = node[key]
            tok = value_token(doc, node, key)
            if tok.kind == "alias" and isinstance(child, CommentedMap):
                copy = plain_copy(child)
                _set_in(copy, sub)
                _replace_value(doc, node, key, tok, copy, edits)
                _ok_all(results, full, sub, f"{tok.text(doc)} was shared: own copy written, anchor untouched")
            elif isinstance(child, CommentedMap) and not (
                len(child) == 0 and tok.kind == "flow" and not node.fa.flow_style()
            ):
                _walk(doc, child, sub, full, shared, edits, results)
            elif child is None or isinstance(child, CommentedMap):  # no value yet, or `{}`: write a block
                copy = CommentedMap()
                _set_in(copy, sub)
                _replace_value(doc, node, key, tok, copy, edits)
                _ok_all(results, full, sub, "")
            else:
                _skip_all(results, full, sub, f"{'.'.join(full)} is not a mapping")
        elif inherited:
            copy = plain_copy(node[key])
            if not isinstance(copy, CommentedMap):
                _skip_all(results, full, sub, f"{'.'.join(full)} is not a mapping")
                continue
            _set_in(copy, sub)
            inserts[key] = copy
            _ok_all(results, full, sub, note)
        else:
            tree: dict[str, Any] = {}
            for path, new in sub.items():
                _nest(tree, path, new.text)
            inserts[key] = tree
            _ok_all(results, full, sub, "")
    if inserts:
        edits.append(_insert(doc, node, inserts))


def _ok_all(results: dict[Path, Outcome], full: Path, sub: dict[Path, NewScalar], note: str) -> None:
    for path in sub:
        results[full + path] = Outcome(True, note)


def _nest(tree: dict[str, Any], path: Path, text: str) -> None:
    for k in path[:-1]:
        tree = tree.setdefault(k, {})
    tree[path[-1]] = text


def _set_in(copy: CommentedMap, sub: dict[Path, NewScalar]) -> None:
    for path, new in sub.items():
        m = copy
        for k in path[:-1]:
            if not isinstance(m.get(k), CommentedMap):
                m[k] = CommentedMap()
            m = m[k]
        m[path[-1]] = new.like(m.get(path[-1]))


def _set_scalar(
    doc: Doc,
    node: CommentedMap,
    key: str,
    new: NewScalar,
    full: Path,
    edits: list[Edit],
    results: dict[Path, Outcome],
    freed: frozenset[int],
) -> None:
    tok = value_token(doc, node, key)
    if isinstance(node[key], CommentedMap | CommentedSeq):
        results[full] = Outcome(False, f"{'.'.join(full)} is not a single value")
    elif tok.kind == "alias":
        edits.append(Edit(tok.start, tok.end, new.text))
        results[full] = Outcome(True, f"was the alias {tok.text(doc)}: own value written, anchor untouched")
    elif tok.anchor and any(  # `*mem` (not `*mem2`) still somewhere after this run
        m.start() not in freed for m in re.finditer(rf"\*{re.escape(tok.anchor)}(?![^\s,\[\]{{}}])", doc.text)
    ):
        results[full] = Outcome(False, f"{'.'.join(full)} is shared through anchor &{tok.anchor}; not edited")
    elif tok.kind == "scalar":
        text = requote(tok.text(doc), new.raw)  # (a JSON number replaced by 1536M gets quotes)
        edits.append(Edit(tok.start, tok.end, json_text(text, True) if json_like(doc) else text))
        results[full] = Outcome(True)
    else:  # `key:` or `key: ~` with no value yet
        pad = "" if doc.text[tok.start - 1] in " \t" else " "
        text = json_text(new.text, True) if json_like(doc) else new.text  # (JSON null: a quoted size)
        edits.append(Edit(tok.start, tok.end, pad + text))
        results[full] = Outcome(True)


def _flow_text(copy: CommentedMap, doc: Doc) -> str:
    if json_like(doc):
        return json_text(copy, False)

    def flowify(n: Any) -> None:
        if isinstance(n, CommentedMap | CommentedSeq):
            n.fa.set_flow_style()
            for v in n.values() if isinstance(n, CommentedMap) else n:
                flowify(v)

    flowify(copy)
    return dump_copy(copy, doc.indent).strip()


def _replace_value(
    doc: Doc, node: CommentedMap, key: str, tok: Any, copy: CommentedMap, edits: list[Edit]
) -> None:
    """Write copy as the value of an existing key whose value is an alias or null."""
    if node.fa.flow_style() or copy.fa.flow_style():
        pad = "" if doc.text[tok.start - 1] in " \t" else " "
        edits.append(Edit(tok.start, tok.end, pad + _flow_text(copy, doc)))
        return
    start = tok.start
    while start > 0 and doc.text[start - 1] in " \t":
        start -= 1
    col = node.lc.key(key)[1]
    body = _indent(dump_copy(copy, doc.indent), col + doc.indent.mapping)
    edits.append(Edit(start, tok.end, ""))
    at = line_end(doc, tok.end)
    if at == len(doc.text) and not doc.text.endswith("\n"):
        body = "\n" + body  # the key was on the last line, which had no newline
    edits.append(Edit(at, at, body, order=-(col + doc.indent.mapping)))


def _indent(text: str, col: int) -> str:
    return "".join(" " * col + ln if ln.strip() else ln for ln in text.splitlines(keepends=True))


def _insert(doc: Doc, node: CommentedMap, inserts: dict[str, Any]) -> Edit:
    """One edit adding all new keys to a mapping, in its own style (block or flow)."""
    empty_flow = False  # an empty `{}` has no flow style set: read the text
    if len(node) == 0 and node.lc.line is not None:  # (an empty document's root has no position)
        start = doc.offset(node.lc.line, node.lc.col)
        empty_flow = re.match(r"(?:![^\s{]*\s*)?\{", doc.text[start:]) is not None
    if node.fa.flow_style() or empty_flow:
        parts = []
        for key, val in inserts.items():
            if json_like(doc):
                parts.append(f"{json.dumps(key)}: {json_text(val, not isinstance(val, CommentedMap))}")
            elif isinstance(val, CommentedMap):
                parts.append(f"{key}: {_flow_text(val, doc)}")
            elif isinstance(val, dict):
                parts.append(f"{key}: {{{render_flow(val)}}}")
            else:
                parts.append(f"{key}: {val}")
        close = flow_close(doc, node)
        if len(node) == 0:
            return Edit(doc.text.rfind("{", 0, close) + 1, close, ", ".join(parts))
        pos = content_end(doc.text, close)  # (not inside a comment after the last entry)
        if json_like(doc):  # an indented JSON file: one key a line
            return Edit(pos, pos, json_items(doc, node, inserts, pos, close))
        if doc.text[pos - 1] == ",":  # a trailing comma ({a: 1,}): the new keys go after it, as one
            return Edit(pos, pos, " " + ", ".join(parts) + ",")
        return Edit(pos, pos, ", " + ", ".join(parts))
    if len(node) == 0 and node is not doc.data:
        raise RightsizeError(f"{doc.source}: cannot add keys to an empty block mapping")
    col = block_col(node, doc) if len(node) else 0  # an empty document: the new keys start it
    chunks = []
    for key, val in inserts.items():
        if isinstance(val, CommentedMap):
            chunks.append(_indent(dump_copy(CommentedMap([(key, val)]), doc.indent), col))
        elif isinstance(val, dict):
            chunks.append(render_block({key: val}, doc.indent.mapping, col))
        else:
            chunks.append(f"{' ' * col}{key}: {val}\n")
    pos = block_end(doc, node) if len(node) else len(doc.text)
    text = "".join(chunks)
    if pos == len(doc.text) and doc.text and not doc.text.endswith("\n"):
        text = "\n" + text
    return Edit(pos, pos, text, order=-col)
