"""Identical copies of a service that compose meets when it imports an include: patched together.

Docker Compose 5.0+ (compose-go 2.10+, #835) merges a service an include brings under the one the
model already holds, so a value is used from one file only (the including file's own, else the first
include's). Docker Compose 2.20-2.40 refused two definitions that differ ("services.db conflicts with
imported resource") and accepted identical ones (importResource: ``reflect.DeepEqual``). Writing the
new value to the copy compose 5.0 uses alone would make the copies differ and the project fail on
those releases; writing it to every identical copy keeps it loading on both (and changes nothing for
compose 5.0: the copy it uses has the value).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ruamel.yaml.comments import CommentedMap

from rightsize.targets.composefile import Stack, service_node
from rightsize.targets.include import ComposeDoc, stack_of
from rightsize.targets.values import lookup
from rightsize.targets.yaml import Doc

if TYPE_CHECKING:
    from rightsize.targets.compose import _Plan


def sync_copies(docs: Stack, plan: _Plan) -> None:
    """Give every identical copy of a service that is patched (one compose compares it with on
    import) the same assignments."""
    for (i, svc), assigns in list(plan.assigns.items()):
        node = service_node(docs[i], svc)
        if not isinstance(node, CommentedMap):
            continue
        plain = _plain(node)
        for j, doc in enumerate(docs):
            other = service_node(doc, svc)
            if j == i or not isinstance(other, CommentedMap) or not _imported_against(docs[i], doc):
                continue
            if _plain(other) != plain:
                continue
            theirs = plan.assigns.get((j, svc), {})
            for path, new in assigns.items():
                if path in theirs:
                    continue
                wl, _, note = plan.meta[(i, svc, path)]
                why = (
                    f"kept identical to the copy in {docs[i].source}: Docker Compose before 5.0 refuses "
                    "two copies of an included service that differ"
                )
                note = "; ".join(n for n in (note, why) if n)
                plan.add(j, svc, path, new, wl, lookup(other, path)[1], note)


def _imported_against(a: Doc, b: Doc) -> bool:
    """Whether compose compares the two files' services when it imports an include (rather than
    merging them as ``-f`` files or one include entry's paths): one is the including file and the
    other comes from its includes, or they come from two entries of the same file's ``include``."""
    if a.source in _includers(b) or b.source in _includers(a):  # (a file read once: any includer)
        return True
    sa, sb = stack_of(a), stack_of(b)
    n = 0
    while n < min(len(sa), len(sb)) and sa[n] == sb[n]:
        n += 1
    if len(sa) > n and len(sb) > n:
        return sa[n][0] == sb[n][0]  # two entries of one file's include (or two nested under them)
    if len(sa) == len(sb):
        return False  # the same -f list or include entry: merged as -f files
    shorter, longer = (a, sb) if len(sa) == n else (b, sa)
    return shorter.source == longer[n][0]  # the including file itself


def _includers(doc: Doc) -> set[str | None]:
    return {doc.included_by, *doc.also_by} if isinstance(doc, ComposeDoc) else set()


def _plain(node: Any) -> Any:
    """The data compose compares (key order and comments aside)."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node
