"""A chart folder's ``.helmignore``, as helm's loader reads it (helm 3.17 pkg/ignore/rules.go; checked
against ``helm template``): the top chart's file applies to every path below it, subcharts' folders
included (a subchart's own ``.helmignore`` is not read when the parent is loaded from a folder, and a
packaged ``.tgz`` was filtered when it was made).

Rules, one a line (``#`` comments): a pattern without ``/`` matches the last path element anywhere
(``values.yaml`` ignores every chart's values); one with ``/`` matches the whole path from the chart
folder (``charts/postgresql``; a leading ``/`` is dropped); a trailing ``/`` matches folders only;
``*``/``?`` stop at ``/`` (Go's ``filepath.Match``). A ``!`` rule is helm's own: a path it does NOT
match is ignored (helm's code, not git's negation). ``**`` is refused, as helm refuses the chart.
"""

from __future__ import annotations

import dataclasses
import re


class IgnoreError(ValueError):
    pass


@dataclasses.dataclass(frozen=True)
class _Rule:
    raw: str
    regex: re.Pattern[str]
    negate: bool
    must_dir: bool
    base_only: bool


@dataclasses.dataclass(frozen=True)
class Rules:
    rules: tuple[_Rule, ...] = ()

    def ignored(self, path: str, is_dir: bool) -> str | None:
        """The rule that makes helm skip ``path`` (relative to the chart folder, ``/``-separated)."""
        if path in ("", ".", "./"):
            return None
        for rule in self.rules:
            name = path.rsplit("/", 1)[-1] if rule.base_only else path
            hit = rule.regex.fullmatch(name) is not None
            if rule.negate:
                if (rule.must_dir and not is_dir) or not hit:
                    return rule.raw
                continue
            if rule.must_dir and not is_dir:
                continue
            if hit:
                return rule.raw
        return None


DEFAULTS = ("templates/.?*",)  # helm's AddDefaults


def parse(text: str) -> Rules:
    rules = []
    for line in (*DEFAULTS, *text.splitlines()):
        rule = line.strip()
        if not rule or rule.startswith("#"):
            continue
        if "**" in rule:
            raise IgnoreError(f".helmignore: {rule}: double-star (**) syntax is not supported")
        raw, negate = rule, rule.startswith("!")
        rule = rule[1:] if negate else rule
        must_dir = rule.endswith("/")
        rule = rule.removesuffix("/")
        base_only = "/" not in rule
        rule = rule.removeprefix("/")
        rules.append(_Rule(raw, re.compile(_go_match(rule, raw)), negate, must_dir, base_only))
    return Rules(tuple(rules))


def _go_match(pattern: str, raw: str) -> str:
    """Go's ``filepath.Match`` pattern as a regular expression. What Go refuses (``foo\\``, ``[]a]``,
    ``[a-]``, an unclosed class) is refused, as helm then refuses the chart."""
    out, i, n = [], 0, len(pattern)
    bad = IgnoreError(f".helmignore: {raw}: syntax error in pattern")

    def esc(j: int) -> tuple[str, int]:
        """Go's getEsc: one class character at ``j`` (``\\`` escapes), with the class still to close."""
        escaped = j < n and pattern[j] == "\\"
        j += escaped
        if j + 1 >= n or (not escaped and pattern[j] in "-]"):
            raise bad
        return pattern[j], j + 1

    while i < n:
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\":
            if i + 1 >= n:
                raise bad
            i += 1
            out.append(re.escape(pattern[i]))
        elif c == "[":
            negated = pattern[i + 1 : i + 2] == "^"
            i += 1 + negated
            ranges: list[str] = []
            while not (pattern[i : i + 1] == "]" and ranges):
                lo, i = esc(i)
                hi, i = esc(i + 1) if pattern[i] == "-" else (lo, i)
                # a range written backwards (z-a) matches nothing to Go; Python's re refuses it
                ranges.append(f"{re.escape(lo)}-{re.escape(hi)}" if lo <= hi else "")
            body = "".join(ranges)
            out.append(f"[{'^' * negated}{body}]" if body else "[\\s\\S]" if negated else "(?!)")
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)
