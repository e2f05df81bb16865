"""Compose's variable interpolation (``${VAR}``, ``${VAR:-d}``, ``${VAR-d}``, ``${VAR:?e}``, ``${VAR?e}``,
``${VAR:+alt}``, ``${VAR+alt}``, ``$VAR``, ``$$``) and its ``.env`` files, read the way Docker Compose v2
(compose-go) reads them.

Precedence, as ``docker compose`` builds it: the process environment first, then the env files
(``--env-file``, else ``.env`` in the project directory, the first compose file's folder). Only
reading uses this: the writers never replace an interpolated value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rightsize.errors import RightsizeError

Lookup = Callable[[str], "str | None"]
_NAME = re.compile(r"[_A-Za-z][_A-Za-z0-9]*")


class _Invalid(Exception):
    """A template compose refuses (``${`` without a name, an operator it knows, or its closing ``}``)."""


class _Missing(Exception):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"required variable {name} is missing a value" + (f": {message}" if message else ""))


def _closing(text: str, start: int) -> int:
    """Index of the ``}`` closing the ``${`` at ``start`` (nested ``${...}`` allowed); -1 if none."""
    depth, i = 0, start
    while i < len(text):
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _expand(text: str, lookup: Lookup, unset: list[str]) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        j = text.find("$", i)
        if j < 0:
            out.append(text[i:])
            break
        out.append(text[i:j])
        nxt = text[j + 1 : j + 2]
        if nxt == "$":  # $$ is a literal $
            out.append("$")
            i = j + 2
            continue
        m = _NAME.match(text, j + 1)
        if m:  # $VAR
            value = lookup(m.group(0))
            if value is None:
                unset.append(m.group(0))
            out.append(value or "")
            i = m.end()
            continue
        if nxt != "{":  # a $ starting no variable ("p@ss$!", "5$") stays as it is, as compose keeps it
            out.append("$")
            i = j + 1
            continue
        end = _closing(text, j)
        m = _NAME.match(text, j + 2)
        if end < 0 or not m:
            raise _Invalid
        out.append(_braced(m.group(0), text[m.end() : end], lookup, unset))
        i = end + 1
    return "".join(out)


def _braced(name: str, rest: str, lookup: Lookup, unset: list[str]) -> str:
    """``${name<rest>}``: rest is empty or an operator (``:-``, ``-``, ``:?``, ``?``, ``:+``, ``+``) and its
    word."""
    value = lookup(name)
    if not rest:
        if value is None:
            unset.append(name)
        return value or ""
    op = rest[:2] if rest[:2] in (":-", ":?", ":+") else rest[:1]
    if op not in (":-", "-", ":?", "?", ":+", "+"):
        raise _Invalid
    word = _expand(rest[len(op) :], lookup, unset)  # the default (message) is interpolated too
    empty_counts = op.startswith(":")  # with a colon, set-but-empty counts as unset
    missing = value is None or (empty_counts and value == "")
    if op.endswith("?"):
        if missing:
            raise _Missing(name, word)
        return value or ""
    if op.endswith("+"):  # the alternative value: word when set (with ':', and not empty), else empty
        return "" if missing else word
    return word if missing else (value or "")


def substitute(text: str, env: Mapping[str, str], where: str) -> str:
    """``text`` interpolated from ``env``; an invalid template or an unset required variable is bad input
    (one line naming where, worded like Compose's own message)."""
    return _substitute(text, env.get, where)


def _substitute(text: str, lookup: Lookup, where: str) -> str:
    unset: list[str] = []
    try:
        return _expand(text, lookup, unset)
    except _Invalid:
        raise RightsizeError(
            f"{where}: invalid interpolation format {text!r} (escape a literal $ as $$)"
        ) from None
    except _Missing as exc:
        raise RightsizeError(f"{where}: {exc}") from None


def unset_names(text: str, env: Mapping[str, str]) -> list[str]:
    """The variables ``text`` reads without a default that ``env`` lacks (compose uses "" for them)."""
    unset: list[str] = []
    try:
        _expand(text, env.get, unset)
    except (_Invalid, _Missing):
        return []
    return unset


def interpolated(value: Any) -> bool:
    return isinstance(value, str) and "$" in value


def resolve(value: Any, env: Mapping[str, str], where: str) -> Any:
    """A scalar as compose reads it: strings with ``$`` interpolated, anything else unchanged."""
    return substitute(value, env, where) if interpolated(value) else value


# ---- .env files ----------------------------------------------------------------------------------
# Read as compose-go's dotenv parser (dotenv/parser.go) reads them; Docker Compose v1 (python-dotenv)
# differs in places, and rightsize follows v2 where they do (noted below).

_SPACE = "\t\v\f\r \x85\xa0"  # compose-go's isSpace: white space, but not a line break
# Go's unicode.IsSpace (where compose-go trims a key, a value, or skips to a statement): Python's
# str.isspace() also takes \x1c-\x1f, which Go reads as characters (a key starting with one is refused)
_GO_SPACE = "".join(map(chr, [*b"\t\n\v\f\r \x85\xa0", 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F,
                             0x205F, 0x3000]))  # fmt: skip
_EXPORT = re.compile(r"export[\t\n\f\r ]+")  # Go's \s is ASCII only
# The escapes compose-go expands in double quotes (Go's rune-literal escapes, plus \$ and \0NNN octal)
_ESCAPE = re.compile(r"\\(?:[abcfnrtv$\"\\]|0[0-9]{0,3})")
_CHARS = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\", '"': '"'}


def parse_dotenv(
    text: str, source: str, environ: Mapping[str, str], prior: Mapping[str, str] | None = None
) -> dict[str, str]:
    """``KEY=VALUE`` (or ``KEY: VALUE``) statements as compose-go's dotenv parser reads them.

    Blank lines and lines starting with ``#`` are skipped; ``export`` before a key is dropped; a key
    is letters, digits, ``_``, ``.``, ``-``, ``[`` and ``]``; a line holding only a key takes the value
    the environment (or an earlier env file) has, if any. An unquoted value runs to the end of the
    line, and ``#`` starts a comment only after a space (``A=x#y`` is ``x#y``); single quotes are
    literal; double quotes expand ``\\n``, ``\\t``, ``\\"``, ``\\\\``, ``\\$``, ... Unquoted and double-quoted
    values are interpolated from ``environ``, then ``prior`` (the env files read before), then the
    keys above in this file. A key ``environ`` sets keeps that value (the environment wins)."""
    out: dict[str, str] = {}
    before = prior or {}

    def outside(name: str) -> str | None:  # compose-go's lookupFn: the environment, then earlier files
        return environ[name] if name in environ else before.get(name)

    def lookup(name: str) -> str | None:  # then the keys this file set above
        value = outside(name)
        return out.get(name) if value is None else value

    text = text.removeprefix("\ufeff")
    i, n = 0, len(text)
    while True:
        i = _statement_start(text, i)
        if i >= n:
            return out
        where = f"{source}:{text.count(chr(10), 0, i) + 1}"
        m = _EXPORT.match(text, i)
        if m:
            i += 6
            while i < n and text[i] in _SPACE:
                i += 1
        j = i
        while j < n and text[j] not in "=:\n":  # compose-go also reads the YAML-like KEY: VALUE
            if not (text[j] in _SPACE or text[j].isalnum() or text[j] in "_.-[]"):
                raise RightsizeError(f"{where}: unexpected character {text[j]!r} in variable name")
            j += 1
        if j >= n:  # a last key with no '=' and no newline: compose-go sets nothing visible
            return out
        key = text[i:j].rstrip(_GO_SPACE)
        if " " in key:
            raise RightsizeError(f"{where}: key cannot contain a space ({key!r})")
        if text[j] == "\n":  # a bare KEY: inherited from the environment or an earlier env file
            value = outside(key)
            if key and value is not None:
                out[key] = value
            i = j + 1
            continue
        i = j + 1
        while i < n and text[i] in _SPACE:
            i += 1
        if i < n and text[i] in "'\"":
            raw, i = _quoted(text, i, where)
            value = raw if text[i - 1] == "'" else _substitute(_escapes(raw), lookup, where)
        else:
            end = text.find("\n", i)
            end = n if end < 0 else end
            # only " #" starts a comment: "x\t#y" stays whole in compose-go (v1 cut it at the tab)
            value = _substitute(text[i:end].split(" #", 1)[0].rstrip(_GO_SPACE), lookup, where)
            i = end + 1
        if key:  # compose-go accepts "=value" (an empty key); no ${} can name it
            out[key] = environ.get(key, value)


def _statement_start(text: str, i: int) -> int:
    """The next statement: past white space (line breaks too) and ``#`` comment lines."""
    n = len(text)
    while i < n:
        if text[i] in _GO_SPACE:
            i += 1
        elif text[i] == "#":
            nl = text.find("\n", i)
            i = n if nl < 0 else nl
        else:
            break
    return i


def _quoted(text: str, start: int, where: str) -> tuple[str, int]:
    """The quoted value at ``start`` (without its quotes) and the index after the closing quote. A
    backslash before the quote character escapes it (and is dropped); before any other character
    it is kept, for the double-quote escapes to expand."""
    quote, chars, escaped = text[start], [], False
    for k in range(start + 1, len(text)):
        c = text[k]
        if escaped:
            escaped = False
            chars.append(c if c == quote else "\\" + c)
        elif c == "\\":
            escaped = True
        elif c == quote:
            return "".join(chars), k + 1
        else:
            chars.append(c)
    raise RightsizeError(f"{where}: unterminated quoted value")


def _escapes(raw: str) -> str:
    """compose-go's expandEscapes: Go's escapes through strconv.UnquoteChar; ``\\$`` becomes ``$$``
    (a literal $ for the interpolation after); an escape Go refuses stays as written."""

    def one(m: re.Match[str]) -> str:
        text = m.group(0)
        if text == "\\$":
            return "$$"
        if text[1] != "0":
            return _CHARS[text[1]]
        text = "\\" + text[2:]  # \0NNN is the octal \NNN; compose-go keeps this rewritten text on error
        digits = text[1:]
        if len(digits) == 3 and all(d in "01234567" for d in digits) and int(digits, 8) < 256:
            return chr(int(digits, 8))
        return text

    return _ESCAPE.sub(one, raw)


def read_env_files(files: Sequence[Path], base: Mapping[str, str]) -> dict[str, str]:
    """The variables of ``files`` (a later file's value wins, as Compose's documentation says), read
    with ``base`` (the environment: it wins over every file) looked up first."""
    found: dict[str, str] = {}
    for f in files:
        try:
            # compose-go reads the bytes as a Go string: a byte that is not UTF-8 is U+FFFD to the key
            # scanner (refused in a name, as compose refuses it) and kept in a value
            text = Path(f).read_bytes().decode("utf-8", errors="replace")
        except IsADirectoryError:
            raise RightsizeError(f"env file {f}: is a directory") from None
        except FileNotFoundError:
            raise RightsizeError(f"env file {f}: no such file") from None
        except OSError as exc:
            raise RightsizeError(f"env file {f}: cannot read it: {exc.strerror or exc}") from None
        found.update(parse_dotenv(text, str(f), base, found))  # a later file's value wins
    return found


def project_env(
    first_file: Path,
    env_files: Sequence[Path | str] | None,
    environ: Mapping[str, str] | None = None,
    directory: Path | None = None,
) -> dict[str, str]:
    """The environment compose interpolates a project's files from: the process environment, then
    ``--env-file`` files (else ``.env`` in the project ``directory``, default the first compose
    file's folder, when there is one and ``COMPOSE_DISABLE_ENV_FILE`` is not true)."""
    base = dict(os.environ if environ is None else environ)
    if env_files:
        files = [Path(f) for f in env_files]
    else:
        dot = (Path(first_file).parent if directory is None else directory) / ".env"
        files = [dot] if dot.is_file() and not _env_file_disabled(base) else []
    return {**read_env_files(files, base), **base}


def _env_file_disabled(environ: Mapping[str, str]) -> bool:
    """``COMPOSE_DISABLE_ENV_FILE`` (the environment only), read as Go's strconv.ParseBool, which
    compose uses: a value it refuses is an error there too."""
    value = environ.get("COMPOSE_DISABLE_ENV_FILE")
    if value is None:
        return False
    if value in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if value in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise RightsizeError(f"COMPOSE_DISABLE_ENV_FILE={value!r}: expected true or false (as compose reads it)")
