"""YAML text for a list of flat records, written directly: the bytes of ruamel.yaml's safe dump.

ruamel.yaml's pure-Python dumper builds a node, an event and a tag object for every scalar and
took ~21 s for 3,000 workloads (9,000 records). The records here have one shape (a list of
mappings whose values are scalars, mappings of scalars or lists of scalars), so the structure is
plain string work; only string scalars need care. Their style and folding follow ruamel's
emitter (ported: ``analyze_scalar``'s block indicators, ``choose_scalar_style``, ``write_plain``,
``write_single_quoted``, the escapes of ``write_double_quoted``); the tests compare the output
with ruamel's dump on awkward names and read it back with YAML 1.2 and 1.1 parsers. Any other
shape or type is handed to ruamel whole.

Deliberate differences, each where ruamel's text reads back as something else:
- a string that YAML 1.1 reads as another type (``yes``, ``no``, ``on``, ``y``, ``1:20``) is
  single-quoted: ruamel (YAML 1.2) writes it plain, and PyYAML reads a boolean or a number;
- a double-quoted string (control or line-break characters, U+FEFF, or a ``'`` in a string that
  needs quotes) stays on one line: ruamel's folding dropped a space after an escape;
- a plain string whose fold would fall after a run of spaces is single-quoted: a reader folds
  the run into one space.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

WIDTH = 80  # ruamel's default best_width
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Outside what the emitter writes as is (allow_unicode): controls, tab, U+0085, U+2028/9,
# surrogates, U+FEFF, U+FFFE/F. Such strings are double-quoted, with ruamel's escapes.
_SPECIAL = re.compile("[^\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")
_RUNS = re.compile(r" +|[^ ]+")
# analyze_scalar's block indicators for a string without breaks or special characters
_FIRST = frozenset("#,[]{}&*!|>'\"%@`")
_COLON_OR_HASH = re.compile(r":(?: |\Z)| #")
_STR = "tag:yaml.org,2002:str"
# what ruamel's write_double_quoted escapes, and how
_ESCAPE = re.compile('["\\\\\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]')
_REPLACEMENTS = {
    "\0": "0", "\x07": "a", "\x08": "b", "\x09": "t", "\x0a": "n", "\x0b": "v", "\x0c": "f", "\x0d": "r",
    "\x1b": "e", '"': '"', "\\": "\\", "\x85": "N", "\u2028": "L", "\u2029": "P",
}  # fmt: skip


def dump(records: Sequence[Mapping[str, Any]]) -> str:
    """``records`` as ruamel's ``YAML(typ="safe", pure=True)`` with block style dumps them."""
    if not records:
        return "[]\n"
    try:
        return _dump(records, _Writer())
    except _Unexpected:  # a shape or type not handled here: ruamel writes it all
        return _ruamel([dict(r) if isinstance(r, Mapping) else r for r in records])


class _Unexpected(Exception):
    pass


def _dump(records: Sequence[Mapping[str, Any]], writer: _Writer) -> str:
    out: list[str] = []
    for record in records:
        if not isinstance(record, dict):
            raise _Unexpected(type(record))
        if not record:
            out.append("- {}\n")
            continue
        first = True
        for key in sorted(record):
            out.append("- " if first else "  ")
            first = False
            writer.entry(out, key, record[key], 2, (key,), nested=True)
    return "".join(out)


class _Writer:
    """Scalar formatting with per-dump caches (names, reasons and units repeat)."""

    def __init__(self) -> None:
        from ruamel.yaml.nodes import ScalarNode
        from ruamel.yaml.resolver import VersionedResolver

        r12, r11 = VersionedResolver(), VersionedResolver(version=(1, 1))
        self._tag12: Callable[[str], str] = lambda s: r12.resolve(ScalarNode, s, (True, False))
        self._tag11: Callable[[str], str] = lambda s: r11.resolve(ScalarNode, s, (True, False))
        self._cache: dict[tuple[tuple[str, ...], str], str] = {}

    def entry(
        self, out: list[str], key: Any, value: Any, indent: int, path: tuple[str, ...], nested: bool = False
    ) -> None:
        """``key: value`` for a mapping whose keys sit at column ``indent``; ends with a newline.
        ``nested``: the value may be a mapping or a list of scalars (one level deep)."""
        if type(key) is not str or not _KEY.match(key):
            raise _Unexpected(key)
        if isinstance(value, dict | list | tuple):
            if not nested:
                raise _Unexpected(path)
            if not value:
                out.append(f"{key}: {{}}\n" if isinstance(value, dict) else f"{key}: []\n")
                return
            out.append(f"{key}:\n")
            pad = " " * indent
            if isinstance(value, dict):
                for k in sorted(value):
                    out.append(pad + "  ")
                    self.entry(out, k, value[k], indent + 2, (*path, k))
            else:
                item_path = (*path, "-")
                for item in value:  # ruamel's sequences inside a mapping are not indented
                    out.append(f"{pad}-")
                    out.append(self.scalar(item, indent + 1, indent + 2, item_path))
        else:
            out.append(f"{key}:")
            out.append(self.scalar(value, indent + len(key) + 1, indent + 2, path))

    def scalar(self, value: Any, column: int, indent: int, path: tuple[str, ...]) -> str:
        """A scalar after ``key:`` or ``-`` at ``column``, with its leading space and the newline;
        folded lines start at ``indent``."""
        if value is None:
            return " null\n"
        if value is True or value is False:
            return " true\n" if value else " false\n"
        if isinstance(value, int):
            return f" {int.__repr__(value)}\n"
        if isinstance(value, float):
            if math.isnan(value):
                return " .nan\n"
            if math.isinf(value):
                return " .inf\n" if value > 0 else " -.inf\n"
            return f" {float.__repr__(value).lower()}\n"
        if not isinstance(value, str):
            raise _Unexpected(type(value))
        key = (path, value)
        text = self._cache.get(key)
        if text is None:
            text = self._string(value, column, indent)
            self._cache[key] = text
        return text

    def _string(self, s: str, column: int, indent: int) -> str:
        if not s:
            return " ''\n"
        if _SPECIAL.search(s):
            return " " + _double(s) + "\n"
        plain = (
            s[0] != " "
            and s[-1] != " "
            and not s.startswith(("---", "..."))
            and s[0] not in _FIRST
            and not (s[0] in "?:-" and (len(s) == 1 or s[1] == " "))
            and _COLON_OR_HASH.search(s) is None
        )
        if plain and self._tag12(s) == _STR and self._tag11(s) == _STR:
            text = _fold_plain(s, column + 1, indent)
            if text is not None:
                return " " + text + "\n"
        if "'" in s:  # as ruamel: double quotes rather than doubled single ones
            return " " + _double(s) + "\n"
        return " " + _fold_single(s, column + 1, indent) + "\n"


def _fold_plain(text: str, column: int, indent: int) -> str | None:
    """ruamel's ``write_plain`` for a line without breaks: a single space past the width becomes a
    line break; a word that would cross the width starts a new line (the space stays before it).
    None where that would follow a run of spaces: a reader folds the run into one space (ruamel
    writes it anyway and the name comes back changed)."""
    out = []
    previous = ""
    for run in _RUNS.findall(text):
        if run[0] == " ":
            if len(run) == 1 and column >= WIDTH:
                out.append("\n" + " " * indent)
                column = indent
                previous = ""
                continue
        elif len(run) + column > WIDTH and column > indent:
            if len(previous) > 1:
                return None
            out.append("\n" + " " * indent)
            column = indent
        out.append(run)
        column += len(run)
        previous = run
    return "".join(out)


def _fold_single(text: str, column: int, indent: int) -> str:
    """ruamel's ``write_single_quoted`` for a line without breaks or quotes: a single space found
    past the width, not the first or last run, becomes the line break."""
    out = ["'"]
    column += 1
    runs = _RUNS.findall(text)
    last = len(runs) - 1
    for i, run in enumerate(runs):
        if run == " " and column > WIDTH and 0 < i < last:
            out.append("\n" + " " * indent)
            column = indent
            continue
        out.append(run)
        column += len(run)
    out.append("'")
    return "".join(out)


def _double(text: str) -> str:
    """Double-quoted with ruamel's escapes, on one line: ruamel folds long ones, and its folding
    dropped a space after an escaped character (the loaded name differed from the real one)."""
    return '"' + _ESCAPE.sub(_escape, text) + '"'


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    if ch in _REPLACEMENTS:
        return "\\" + _REPLACEMENTS[ch]
    code = ord(ch)
    return f"\\x{code:02X}" if code <= 0xFF else (f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}")


def _ruamel(data: Any) -> str:
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    buf = io.StringIO()
    yaml.dump(data, buf)
    return buf.getvalue()
