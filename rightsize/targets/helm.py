"""Write ``resources.requests``/``resources.limits`` into Helm values files, in Kubernetes units.

Where a workload's resources live is recognised from the usual layouts: ``<name>.resources``
(a subchart such as ``postgresql:`` or a component key named like the service), one level deeper
(``postgresql.primary.resources``), or a top-level ``resources`` when the file serves one workload.
``--map WORKLOAD=dotted.path`` overrides the guess.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from ruamel.yaml.comments import CommentedMap

from rightsize.errors import RightsizeError
from rightsize.models import Change, PatchResult, Recommendation, Skipped
from rightsize.sources.docker import is_oneoff
from rightsize.targets import edit
from rightsize.targets.composefile import check_min_confidence, low_confidence, parse_only
from rightsize.targets.edit import NewScalar
from rightsize.targets.match import Recs, resolve
from rightsize.targets.values import format_value, lookup, parse_value, same, wanted
from rightsize.targets.write import atomic_write, check_writable, unified_diff
from rightsize.targets.yaml import Doc, read, verify_written

KEYS = {"limit": "limits", "reservation": "requests"}
K8S_NAME = {"memory": "memory", "cpu": "cpu"}
MAIN_COMPONENTS = ("primary", "master", "main", "server")


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def candidate_names(workload: str) -> list[str]:
    """Names a values key may use for a workload, most specific first."""
    parts = workload.split("/")
    if len(parts) == 4:  # namespace/kind/name/container
        name, container = parts[2], parts[3]
        names = [container, name]
        if "-" in name:  # release-prefixed: "shop-postgresql" -> "postgresql"
            names.append(name.split("-", 1)[1])
    else:
        names = [parts[-1]]
    return list(dict.fromkeys(names))


def _component(key: str, value: CommentedMap) -> tuple[str, ...] | None:
    """``key.resources``, or ``key.<only or main part>.resources`` (bitnami: primary + readReplicas)."""
    if "resources" in value:
        return (key, "resources")
    inner = [str(k) for k, v in value.items() if isinstance(v, CommentedMap) and "resources" in v]
    main = [k for k in inner if k in MAIN_COMPONENTS]
    if len(inner) == 1 or len(main) == 1:
        return (key, (main or inner)[0], "resources")
    return None


def _find(data: CommentedMap, names: Sequence[str]) -> tuple[tuple[str, ...], str] | None:
    """Where a workload's ``resources`` live (path, and a note when the match was not exact)."""
    targets = [_norm(n) for n in names]
    maps = [(str(k), v) for k, v in data.items() if isinstance(v, CommentedMap)]
    for target in targets:
        for key, value in maps:
            if _norm(key) == target and (found := _component(key, value)):
                return found, ""
    for key, value in maps:  # one level down: global.<component>, components.<name>, ...
        for target in targets:
            for k2, v2 in value.items():
                if _norm(str(k2)) == target and isinstance(v2, CommentedMap) and "resources" in v2:
                    return (key, str(k2), "resources"), ""
    for target in targets:  # the component is there, its resources are not yet
        for key, _ in maps:
            if _norm(key) == target:
                return (key, "resources"), f"added resources under {key}"
    near = [
        (key, value)
        for key, value in maps
        if any(len(t) >= 4 and (_norm(key).startswith(t) or t.startswith(_norm(key))) for t in targets)
    ]
    if len(near) == 1:  # postgres ~ postgresql: one key only, and said so
        key, value = near[0]
        return _component(key, value) or (key, "resources"), f"placed by a similar name: {names[0]} ~ {key}"
    return None


def parse_map(items: Iterable[str]) -> dict[str, str]:
    """``WORKLOAD=dotted.path`` options as a dict (bad spelling is bad input)."""
    out = {}
    for item in items:
        workload, sep, path = item.partition("=")
        if not sep or not workload.strip() or not path.strip():
            raise RightsizeError(f"--map {item!r}: expected WORKLOAD=dotted.path")
        if any(not part.strip() for part in path.strip().split(".")):  # `a..b` would write under a.b
            raise RightsizeError(f"--map {item!r}: an empty key in the dotted path")
        out[workload.strip()] = path.strip()
    return out


def load_values(path: Path) -> Doc:
    doc = read(path)
    if doc.data is None:  # empty, or comments only: an overrides file waiting for its first values
        doc = dataclasses.replace(doc, data=CommentedMap())
    if not isinstance(doc.data, CommentedMap):
        raise RightsizeError(f"{path}: not a Helm values file (the top level is not a mapping)")
    return doc


def patch_helm(
    file: Path | str,
    recs: Recs,
    *,
    mapping: Mapping[str, str] | None = None,
    dry_run: bool = False,
    backup: bool = False,
    only: Iterable[str] | None = None,
    min_confidence: float = 0.0,
) -> PatchResult:
    """Patch one values file in place (or only diff it)."""
    check_min_confidence(min_confidence)
    path = Path(file)
    doc = load_values(path)
    if not dry_run:
        check_writable(path)
    recs = resolve(recs)
    resources = parse_only(only)
    mapping = dict(mapping or {})
    names = list(dict.fromkeys(r.workload for r in recs))
    unknown = [w for w in mapping if w not in names]
    if unknown:
        raise RightsizeError(f"--map {unknown[0]}: no such workload in the data")
    data: CommentedMap = doc.data
    assigns: dict[tuple[str, ...], NewScalar] = {}
    meta: dict[tuple[str, ...], tuple[str, str]] = {}
    skipped: list[Skipped] = []
    used: dict[tuple[str, ...], str] = {}
    notes: dict[str, str] = {}
    for wl in names:
        placed = _place(data, wl, mapping, single=len(names) == 1)
        if placed is None:
            skipped.append(
                Skipped(
                    doc.source,
                    wl,
                    "all",
                    "cannot place: no values key matches this workload (use --map WORKLOAD=dotted.path)",
                )
            )
            continue
        where, notes[wl] = placed
        if where in used:
            skipped.append(Skipped(doc.source, wl, "all", f"{'.'.join(where)} already holds {used[where]}"))
            continue
        used[where] = wl
        for rec in (r for r in recs if r.workload == wl and r.resource in resources):
            low = low_confidence(rec, min_confidence)
            if low:
                skipped.append(Skipped(doc.source, wl, rec.resource, low))
                continue
            _plan_rec(doc, where, rec, assigns, meta, skipped)
    edits, outcomes = edit.plan(doc, data, assigns, (), edit.settled_shared(doc, [(data, list(assigns))]))
    changes = []
    for p, out in outcomes.items():
        wl, old = meta[p]
        if out.ok:
            note = "; ".join(n for n in (notes.get(wl, ""), out.note) if n)
            changes.append(Change(doc.source, wl, ".".join(p), old or None, assigns[p].raw, note))
        else:
            skipped.append(Skipped(doc.source, wl, p[-1], out.note, assigns[p].raw))
    new_text = edit.apply_edits(doc.text, edits)
    if new_text != doc.text:
        verify_written(new_text, doc.source, [(p, assigns[p].raw) for p, out in outcomes.items() if out.ok])
    diff = unified_diff(path, doc.text, new_text)
    bak = atomic_write(path, new_text, backup=backup) if diff and not dry_run else None
    return PatchResult(
        doc.source,
        tuple(changes),
        tuple(skipped),
        diff,
        bool(diff and not dry_run),
        {"backup": str(bak)} if bak else {},
    )


def _place(
    data: CommentedMap, wl: str, mapping: Mapping[str, str], single: bool
) -> tuple[tuple[str, ...], str] | None:
    if wl in mapping:
        parts = tuple(p for p in mapping[wl].split(".") if p)
        return (parts if parts and parts[-1] == "resources" else (*parts, "resources")), ""
    if is_oneoff(wl):  # `docker-compose run` jobs: "web (run)" must not land in web's values by a near name
        return None
    found = _find(data, candidate_names(wl))
    if found is None and single and "resources" in data:
        return ("resources",), ""
    return found


def _plan_rec(
    doc: Doc,
    where: tuple[str, ...],
    rec: Recommendation,
    assigns: dict[tuple[str, ...], NewScalar],
    meta: dict[tuple[str, ...], tuple[str, str]],
    skipped: list[Skipped],
) -> None:
    if rec.resource == "pids":
        if rec.ok:
            skipped.append(
                Skipped(
                    doc.source,
                    rec.workload,
                    "pids",
                    "Kubernetes has no per-container PID limit (set it on the kubelet: podPidsLimit)",
                )
            )
        return
    if not rec.ok:
        skipped.append(
            Skipped(
                doc.source,
                rec.workload,
                rec.resource,
                "no recommendation: " + ("; ".join(rec.reasons) or "not enough data"),
            )
        )
        return
    assert rec.recommended is not None
    if (
        rec.resource == "cpu"
        and rec.recommended.limit is None
        and lookup(doc.data, (*where, "limits", "cpu"))[0]
    ):
        skipped.append(
            Skipped(
                doc.source,
                rec.workload,
                "cpu",
                "no CPU limit recommended; the existing limit is left as it is",
            )
        )
    for w in wanted(rec):
        path = (*where, KEYS[w.kind], K8S_NAME[w.resource])
        found, old = lookup(doc.data, path)
        new = format_value(w.resource, w.value, "k8s")
        clash = _clash(doc, where, rec, w.kind, w.value, new.raw)
        if clash:
            skipped.append(Skipped(doc.source, rec.workload, w.resource, clash, new.raw))
            continue
        if found and old is not None:
            current = parse_value(w.resource, old, "k8s", f"{doc.source}: {'.'.join(path)}")
            if same(w.resource, current, new.raw, "k8s"):
                continue
        assigns[path] = new
        meta[path] = (rec.workload, "" if old is None else str(old))


def _clash(
    doc: Doc, where: tuple[str, ...], rec: Recommendation, kind: str, value: float, raw: str
) -> str | None:
    """Why a request (limit) that the file's limit (request), left in place, contradicts is not written:
    Kubernetes refuses requests above limits."""
    other = "reservation" if kind == "limit" else "limit"
    assert rec.recommended is not None
    if getattr(rec.recommended, other) is not None:
        return None
    path = (*where, KEYS[other], K8S_NAME[rec.resource])
    found, kept = lookup(doc.data, path)
    if not found or kept is None:
        return None
    current = parse_value(rec.resource, kept, "k8s", f"{doc.source}: {'.'.join(path)}")
    if (value > current) if kind == "reservation" else (value < current):
        side = "above" if kind == "reservation" else "below"
        return f"not written: {raw} would be {side} {'.'.join(path[-2:])} {kept} left in place"
    return None
