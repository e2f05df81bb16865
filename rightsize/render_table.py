"""The recommendations table as rich draws it, without rich drawing every row.

rich lays out and draws ~0.75 ms a row: 9,000 rows (3,000 workloads) took 7 s, 20 s on a busy
host. Its layout depends only on each column's widest cell and longest word, so rich lays out
and draws a table of those few rows (title, borders, header and column widths come from it), and
every row whose cells are plain one-line ASCII that fit their column is drawn here as rich draws
it: ``│ cell␣padded │ … │``, a cell too wide for its column wrapped by rich's own line division.
Any other row (non-ASCII, ``:x:`` that rich may read as an emoji code, leading or trailing
blanks) is drawn by rich alone at the same column widths.
Small tables go to rich whole.
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Sequence

WHOLE = 200  # rows up to which rich draws the table itself (fast enough, nothing to gain)
_WORD = re.compile(r"\S+")
_ASCII = re.compile(r"(?:[!-~](?:[ -~]*[!-~])?)?\Z")  # printable ASCII, no blank at either end
_EMOJI = re.compile(r":\S*:")  # what rich may replace with an emoji (":smile:")


def _plain(cell: str) -> bool:
    return _ASCII.match(cell) is not None and (":" not in cell or _EMOJI.search(cell) is None)


Rows = Sequence[tuple[str, ...]]


def draw(title: str, headers: Sequence[str], rows: Rows, styles: Sequence[str | None], width: int) -> str:
    """``rows`` under ``headers`` as ``rich.table.Table(title=title)`` with ``overflow="fold"``
    columns prints them on a ``width``-column console without colour."""
    if len(rows) <= WHOLE:
        return _rich(title, headers, rows, styles, width)
    picked: set[int] = set()
    for j in range(len(headers)):
        column = [row[j] for row in rows]
        lengths = list(map(len, column))
        picked.add(lengths.index(max(lengths)))  # the widest cell
        longest = max(map(len, _WORD.findall("\n".join(column))), default=0)
        if longest:  # the longest word (the narrowest the column can get without folding it)
            word = re.compile(rf"\S{{{longest}}}")
            picked.add(next(i for i, c in enumerate(column) if word.search(c)))
    wide = [i for i in range(len(rows)) if not all(map(_plain, rows[i]))]
    if len(wide) > len(rows) // 10:  # many names rich must measure itself: no gain
        return _rich(title, headers, rows, styles, width)
    # rich measures non-ASCII text in cells (wide characters) its own way: let it see those rows too
    sample = sorted(picked | set(wide))
    frame = _rich(title, headers, [rows[i] for i in sample], [styles[i] for i in sample], width).split("\n")
    sep = next(k for k, line in enumerate(frame) if line.startswith("┡"))
    bottom = next(k for k in range(len(frame) - 1, -1, -1) if frame[k].startswith("└"))
    widths = [len(part) - 2 for part in frame[sep][1:-1].split("╇")]
    body: list[str] = []
    for i, row in enumerate(rows):
        if not all(map(_plain, row)):
            body.extend(_rich_row(row, styles[i], widths, width))
        elif all(len(c) <= w for c, w in zip(row, widths, strict=True)):
            body.append("│ " + " │ ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " │")
        else:  # a cell to wrap (a narrow terminal)
            cells = [_wrap(c, w) for c, w in zip(row, widths, strict=True)]
            for k in range(max(map(len, cells))):
                parts = ((c[k] if k < len(c) else "").ljust(w) for c, w in zip(cells, widths, strict=True))
                body.append("│ " + " │ ".join(parts) + " │")
    return "\n".join([*frame[: sep + 1], *body, *frame[bottom:]])


def _wrap(cell: str, width: int) -> list[str]:
    """rich's ``Text.wrap`` with ``overflow="fold"`` for one line of plain ASCII: its own line
    division, then whitespace past the width cut and every line cropped to the width."""
    from rich._wrap import divide_line

    bounds = [0, *divide_line(cell, width, fold=True), len(cell)]
    lines = []
    for a, b in itertools.pairwise(bounds):
        line = cell[a:b]
        if len(line) > width:
            line = line[: max(width, len(line.rstrip()))]
        lines.append(line[:width])
    return lines


def _rich(title: str, headers: Sequence[str], rows: Rows, styles: Sequence[str | None], width: int) -> str:
    from rich.table import Table

    t = Table(title=title)
    for h in headers:
        t.add_column(h, overflow="fold")
    for row, style in zip(rows, styles, strict=True):
        t.add_row(*row, style=style)
    return _print(t, width)


def _rich_row(row: tuple[str, ...], style: str | None, widths: Sequence[int], width: int) -> list[str]:
    """The lines rich draws for ``row`` in columns of ``widths`` (a one-row table's body)."""
    from rich.table import Table

    t = Table(show_header=False)
    for w in widths:
        t.add_column(width=w, overflow="fold")
    t.add_row(*row, style=style)
    return _print(t, width).split("\n")[1:-2]  # without the top and bottom borders


def _print(table: object, width: int) -> str:
    from rich.console import Console

    buf = io.StringIO()
    # markup=False: a name like "[bold]x" is text to show, not a style to apply (or a MarkupError)
    Console(file=buf, width=width, force_terminal=False, color_system=None, markup=False).print(table)
    return buf.getvalue()
