"""``--map`` paths into Helm values: dotted keys, list items by index or by a field, escaped dots.

Spelling follows what users already type for Helm (``--set a.b[0].c``, ``\\.`` for a dot inside a
key) and yq (``a["prometheus.io/scrape"]``), plus a selector ``sidecars[name=exporter]`` that picks
the one item whose ``name`` is ``exporter`` (list order changes between chart versions; names do not).

A path is resolved against the parsed file up to its last list step: that item must exist, exactly
once. The keys after it are created when missing (as for a plain dotted path).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from rightsize.errors import RightsizeError


@dataclass(frozen=True)
class Key:
    name: str


@dataclass(frozen=True)
class Index:
    index: int


@dataclass(frozen=True)
class Select:
    """The one list item (a mapping) whose ``field`` reads ``value``."""

    field: str
    value: str


Step = Key | Index | Select

_BRACKET_HELP = 'expected an index [0], a selector [name=value] or a quoted key ["a.b"]'


def parse(path: str) -> tuple[Step, ...]:
    """Steps of a path; bad spelling is a RightsizeError naming what is wrong."""
    steps: list[Step] = []
    i, n = 0, len(path)
    while True:
        if i < n and path[i] in "\"'":
            name, i = _quoted(path, i)
            if not name:
                raise RightsizeError(f"{path!r}: an empty key in the dotted path")
            steps.append(Key(name))
        elif not (i == 0 and i < n and path[i] == "["):  # only the first step may be a bracket alone
            name, i = _plain_key(path, i)
            if not name.strip():
                raise RightsizeError(f"{path!r}: an empty key in the dotted path")
            steps.append(Key(name))
        while i < n and path[i] == "[":
            step, i = _bracket(path, i)
            steps.append(step)
        if i >= n:
            return tuple(steps)
        if path[i] != ".":
            raise RightsizeError(f"{path!r}: expected '.' or '[' after {path[:i]!r}, found {path[i]!r}")
        i += 1


def _plain_key(path: str, i: int) -> tuple[str, int]:
    out = []
    while i < len(path) and path[i] not in ".[]":
        if path[i] == "\\":
            if i + 1 >= len(path):
                raise RightsizeError(f"{path!r}: a trailing '\\' escapes nothing")
            out.append(path[i + 1])
            i += 2
            continue
        out.append(path[i])
        i += 1
    if i < len(path) and path[i] == "]":
        raise RightsizeError(f"{path!r}: a ']' without its '['")
    return "".join(out), i


def _quoted(path: str, i: int) -> tuple[str, int]:
    quote = path[i]
    end = path.find(quote, i + 1)
    if end < 0:
        raise RightsizeError(f"{path!r}: an unclosed {quote}")
    return path[i + 1 : end], end + 1


def _bracket(path: str, i: int) -> tuple[Step, int]:
    if i + 1 < len(path) and path[i + 1] in "\"'":
        name, j = _quoted(path, i + 1)
        if j >= len(path) or path[j] != "]":
            raise RightsizeError(f"{path!r}: an unclosed '[' ({_BRACKET_HELP})")
        if not name:
            raise RightsizeError(f"{path!r}: an empty key in the dotted path")
        return Key(name), j + 1
    # a quoted selector value may hold ']' (and '.'): [name="a]b"] ends at the quote's own ']'
    quoted = re.compile(r"""\[\s*([^\]=\s]+)\s*=\s*(["'])(.*?)\2\s*\]""").match(path, i)
    if quoted and quoted.group(3):
        return Select(quoted.group(1), quoted.group(3)), quoted.end()
    end = path.find("]", i)
    if end < 0:
        raise RightsizeError(f"{path!r}: an unclosed '[' ({_BRACKET_HELP})")
    inner = path[i + 1 : end]
    if re.fullmatch(r"\d+", inner):
        return Index(int(inner)), end + 1
    field, eq, value = inner.partition("=")
    field, value = field.strip(), value.strip()
    if eq and field and value and value[0] not in "\"'":
        return Select(field, value), end + 1
    raise RightsizeError(f"{path!r}: [{inner}]: {_BRACKET_HELP}")


def _escape(name: str) -> str:
    # a leading quote too: unescaped, '"0"' would parse back as the quoted key 0
    return re.sub(r"([.\[\]\\]|^[\"'])", r"\\\1", name)


def render(steps: tuple[Step, ...] | list[Step]) -> str:
    """A path as it is spelled (the inverse of ``parse``)."""
    out = ""
    for step in steps:
        if isinstance(step, Key):
            out += _key(step.name, first=not out)
        elif isinstance(step, Index):
            out += f"[{step.index}]"
        else:
            value = step.value
            if any(c in value for c in "[]\"'") or value != value.strip():
                value = f'"{value}"' if '"' not in value else f"'{value}'"
            out += f"[{step.field}={value}]"
    return out


def _key(name: str, first: bool) -> str:
    """A key as spelled: escaped, or quoted in brackets when it holds '=' (``--map`` splits at the
    first '=' outside quotes and brackets)."""
    quote = next((q for q in "\"'" if q not in name), None)
    if "=" in name and "]" not in name and quote:
        return f"[{quote}{name}{quote}]"
    return ("" if first else ".") + _escape(name)


def render_keys(keys: tuple[str, ...]) -> str:
    return render([Key(k) for k in keys])


def split_tail(steps: tuple[Step, ...]) -> tuple[tuple[Step, ...], tuple[str, ...]]:
    """(steps up to and including the last list step, the keys after it)."""
    last = max((i for i, s in enumerate(steps) if not isinstance(s, Key)), default=-1)
    tail = tuple(s.name for s in steps[last + 1 :] if isinstance(s, Key))
    return steps[: last + 1], tail


@dataclass(frozen=True)
class Found:
    """The mapping a path's list steps lead to, and the concrete way there (keys and indices)."""

    node: CommentedMap
    concrete: tuple[str | int, ...]


def _kind(node: Any) -> str:
    if node is None:
        return "empty (null)"
    if isinstance(node, CommentedMap):
        return "a mapping"
    if isinstance(node, CommentedSeq):
        return "a list"
    return f"a single value ({node!r})"


def resolve(data: CommentedMap, steps: tuple[Step, ...]) -> Found:
    """Follow ``steps`` (all of which must exist) to a mapping; anything else is a RightsizeError."""
    node: Any = data
    concrete: list[str | int] = []
    for n, step in enumerate(steps):
        here = render(steps[:n]) or "the top level"
        if isinstance(step, Key):
            if not isinstance(node, CommentedMap):
                raise RightsizeError(_not_a_mapping(here, node))
            if step.name not in node:
                raise RightsizeError(f"no key {step.name!r} under {here}")
            node = node[step.name]
            concrete.append(step.name)
            continue
        if not isinstance(node, CommentedSeq):
            raise RightsizeError(f"{here} is {_kind(node)}, not a list")
        if isinstance(step, Index):
            if step.index >= len(node):
                raise RightsizeError(f"{here} has {len(node)} item(s): no [{step.index}]")
            index = step.index
        else:
            fields = {
                i: _text(m[step.field])
                for i, m in enumerate(node)
                if isinstance(m, CommentedMap) and step.field in m
            }
            hits = [i for i, value in fields.items() if value == step.value]
            if not hits:
                seen = list(fields.values())
                listed = ", ".join(seen) if seen else "none"
                raise RightsizeError(
                    f"no item of {here} has {step.field}={step.value} ({step.field}s there: {listed})"
                )
            if len(hits) > 1:
                at = ", ".join(f"[{i}]" for i in hits)
                raise RightsizeError(f"{len(hits)} items of {here} have {step.field}={step.value}: {at}")
            index = hits[0]
        node = node[index]
        concrete.append(index)
    if not isinstance(node, CommentedMap):
        raise RightsizeError(f"{render(steps)} is {_kind(node)}, not a mapping")
    return Found(node, tuple(concrete))


def check_keys(node: CommentedMap, keys: tuple[str, ...], prefix: str) -> None:
    """The keys a write will create or enter under node must not run through a list or a value."""
    here = prefix
    for key in keys:
        if key not in node or node[key] is None:
            return  # created from here on
        here = f"{here}.{_escape(key)}" if here else _escape(key)
        node = node[key]
        if not isinstance(node, CommentedMap):
            raise RightsizeError(_not_a_mapping(here, node))


def _not_a_mapping(here: str, node: Any) -> str:
    hint = f" (address an item: {here}[0] or {here}[name=...])" if isinstance(node, CommentedSeq) else ""
    return f"{here} is {_kind(node)}, not a mapping{hint}"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return "" if value is None else str(value)


def follow(data: Any, concrete: tuple[str | int, ...]) -> tuple[bool, Any]:
    """Follow keys and indices through plain loaded data; (found, value)."""
    for step in concrete:
        if isinstance(step, int):
            if not isinstance(data, list) or step >= len(data):
                return False, None
        elif not isinstance(data, dict) or step not in data:
            return False, None
        data = data[step]
    return True, data
