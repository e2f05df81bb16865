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

_KEY_CHARS = re.compile(r"[\w.]")  # compose-go: letters, digits, '_' and '.'


def parse_dotenv(
    text: str, source: str, environ: Mapping[str, str], prior: Mapping[str, str] | None = None
) -> dict[str, str]:
    """``KEY=VALUE`` lines as compose-go's dotenv parser reads them: ``export`` prefix, ``#`` comments
    (also after an unquoted value), single quotes literal, double quotes with ``\\n`` escapes; unquoted
    and double-quoted values are interpolated (from ``environ``, the keys above, then ``prior``: the
    env files read before); a bare ``KEY`` takes the value ``environ`` has, if any. A key ``environ``
    sets keeps that value (the process environment wins over env files)."""
    out: dict[str, str] = {}
    before = prior or {}

    def env(name: str) -> str | None:
        for source_ in (environ, out, before):
            if name in source_:
                return source_[name]
        return None

    text = text.removeprefix("\ufeff")
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t\r\n\v\f":
            i += 1
        if i >= n:
            break
        line_no = text.count("\n", 0, i) + 1
        where = f"{source}:{line_no}"
        if text[i] == "#":
            nl = text.find("\n", i)
            i = n if nl < 0 else nl
            continue
        if text.startswith("export", i) and i + 6 < n and text[i + 6] in " \t":
            i += 6
            while i < n and text[i] in " \t":
                i += 1
        j = i
        while j < n and text[j] not in "=:\n":
            if not (_KEY_CHARS.match(text[j]) or text[j] in " \t\r"):
                raise RightsizeError(f"{where}: unexpected character {text[j]!r} in variable name")
            j += 1
        key = text[i:j].strip()
        if not key or " " in key or "\t" in key:
            raise RightsizeError(f"{where}: not a KEY=VALUE line")
        if j >= n or text[j] == "\n":  # a bare KEY: inherited from the environment
            if key in environ:
                out[key] = environ[key]
            i = j
            continue
        i = j + 1
        while i < n and text[i] in " \t":
            i += 1
        quote = text[i] if i < n and text[i] in "'\"" else ""
        if quote:
            end = i + 1
            while end < n and (text[end] != quote or text[end - 1] == "\\"):
                end += 1
            if end >= n:
                raise RightsizeError(f"{where}: unterminated quoted value")
            raw = text[i + 1 : end]
            i = end + 1
            if quote == '"':
                raw = _unescape(raw)
                raw = _substitute(raw, env, where)
        else:
            nl = text.find("\n", i)
            end = n if nl < 0 else nl
            raw = text[i:end].split("#")[0].rstrip()
            i = end
            raw = _substitute(raw, env, where)
        out[key] = environ.get(key, raw)
    return out


def _unescape(raw: str) -> str:
    raw = re.sub(r"\\([nr])", lambda m: "\n" if m.group(1) == "n" else "\r", raw)
    return re.sub(r"\\([^$])", r"\1", raw)


def read_env_files(files: Sequence[Path], base: Mapping[str, str]) -> dict[str, str]:
    """The variables of ``files`` (a later file's value wins, as Compose's documentation says), read
    with ``base`` (the environment: it wins over every file) looked up first."""
    found: dict[str, str] = {}
    for f in files:
        try:
            text = Path(f).read_bytes().decode("utf-8")
        except IsADirectoryError:
            raise RightsizeError(f"env file {f}: is a directory") from None
        except FileNotFoundError:
            raise RightsizeError(f"env file {f}: no such file") from None
        except OSError as exc:
            raise RightsizeError(f"env file {f}: cannot read it: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise RightsizeError(f"env file {f}: not UTF-8 text") from None
        found.update(parse_dotenv(text, str(f), base, found))  # a later file's value wins
    return found


def project_env(
    first_file: Path, env_files: Sequence[Path | str] | None, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment compose interpolates a project's files from: the process environment, then
    ``--env-file`` files (else ``.env`` beside the first compose file, when there is one)."""
    base = dict(os.environ if environ is None else environ)
    if env_files:
        files = [Path(f) for f in env_files]
    else:
        dot = Path(first_file).parent / ".env"
        files = [dot] if dot.is_file() else []
    return {**read_env_files(files, base), **base}
