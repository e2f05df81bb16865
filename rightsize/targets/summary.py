"""Plain-text summaries of what the writers changed and skipped, for the terminal."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence

from rightsize.models import PatchResult
from rightsize.render import one_line


def summarize(results: Sequence[PatchResult], *, dry_run: bool) -> str:
    """One block per target: each change (old -> new, note) and each skip with its reason.

    Names come from the files and the data: a newline or a bidi override in one is shown escaped
    (``\\n``, ``\\u202e``) so that every change and every skip stays one line.
    """
    lines: list[str] = []
    verb = "would change" if dry_run else "changed"
    total_c = total_s = 0
    for r in results:
        state = "" if dry_run else (" (written)" if r.written else " (unchanged)")
        lines.append(one_line(f"{r.target}: {len(r.changes)} {verb}, {len(r.skipped)} skipped{state}"))
        for c in r.changes:
            note = f"  ({c.note})" if c.note else ""
            who = c.workload if c.target == r.target else f"{c.workload} ({c.target})"  # live: the container
            lines.append(one_line(f"  {who}: {c.key}: {c.old or '(unset)'} -> {c.new}{note}"))
        for s in r.skipped:
            rec = f" [recommended {s.recommended}]" if s.recommended else ""
            lines.append(one_line(f"  skipped {s.workload} {s.resource}: {s.reason}{rec}"))
        if r.extra.get("backup"):
            lines.append(one_line(f"  backup: {r.extra['backup']}"))
        total_c += len(r.changes)
        total_s += len(r.skipped)
    if len(results) > 1:
        lines.append(f"total: {total_c} {verb}, {total_s} skipped")
    return "\n".join(lines)


def to_json(results: Sequence[PatchResult], *, dry_run: bool) -> str:
    """Machine-readable results: every change and skip, and each file's diff."""
    return json.dumps({"dry_run": dry_run, "results": [dataclasses.asdict(r) for r in results]}, indent=2)
