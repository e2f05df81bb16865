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

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from rightsize.errors import RightsizeError
from rightsize.models import Change, PatchResult, Recommendation, Skipped
from rightsize.sources.docker import is_oneoff
from rightsize.targets import edit, valuepath
from rightsize.targets.composefile import check_min_confidence, low_confidence, parse_only
from rightsize.targets.edit import NewScalar
from rightsize.targets.match import Recs, resolve
from rightsize.targets.values import format_value, lookup, parse_value, same, wanted
from rightsize.targets.write import atomic_write, check_writable, unified_diff
from rightsize.targets.yaml import Doc, loadable, plain_yaml, read, verify_written

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
    """``WORKLOAD=path`` options as a dict; the path's spelling is checked here (``valuepath``)."""
    out = {}
    for item in items:
        workload, sep, path = item.partition("=")
        if not sep or not workload.strip() or not path.strip():
            raise RightsizeError(f"--map {item!r}: expected WORKLOAD=dotted.path")
        try:
            valuepath.parse(path.strip())
        except RightsizeError as exc:  # the path's own errors name it; here the whole option is named
            why = str(exc).removeprefix(f"{path.strip()!r}: ")
            raise RightsizeError(f"--map {item.strip()!r}: {why}") from None
        out[workload.strip()] = path.strip()
    return out


def load_values(path: Path) -> Doc:
    doc = read(path)
    if doc.data is None:  # empty, or comments only: an overrides file waiting for its first values
        doc = dataclasses.replace(doc, data=CommentedMap())
    if not isinstance(doc.data, CommentedMap):
        raise RightsizeError(f"{path}: not a Helm values file (the top level is not a mapping)")
    return doc


@dataclasses.dataclass(frozen=True)
class Place:
    """Where a workload's ``resources`` go: keys under a mapping (the document, or a list item)."""

    node: CommentedMap
    label: str  # the path to node as spelled ("" for the document)
    concrete: tuple[str | int, ...]  # the way to node in keys and indices (for the read-back)
    keys: tuple[str, ...]  # from node down to ``resources``
    note: str = ""

    def show(self, rel: tuple[str, ...]) -> str:
        keys = valuepath.render_keys(rel)
        return f"{self.label}.{keys}" if self.label and keys else self.label or keys


def patch_helm(
    file: Path | str,
    recs: Recs,
    *,
    mapping: Mapping[str, str] | str | Sequence[str] | None = None,
    dry_run: bool = False,
    backup: bool = False,
    only: Iterable[str] | None = None,
    min_confidence: float = 0.0,
) -> PatchResult:
    """Patch one values file in place (or only diff it). ``mapping``: ``{WORKLOAD: path}``, or the
    ``--map`` text (``"shop/db=db.primary"``, or a list of them)."""
    check_min_confidence(min_confidence)
    if mapping is not None and not isinstance(mapping, Mapping):
        mapping = parse_map([mapping] if isinstance(mapping, str) else mapping)
    path = Path(file)
    doc = load_values(path)
    if not dry_run:
        check_writable(path, backup)
    # a --map path that does not resolve in this file is reported before the analysis runs
    mapped = {wl: _mapped(doc, wl, spelled) for wl, spelled in (mapping or {}).items()}
    recs = resolve(recs)
    resources = parse_only(only)
    names = list(dict.fromkeys(r.workload for r in recs))
    unknown = [w for w in mapped if w not in names]
    if unknown:
        raise RightsizeError(f"--map {unknown[0]}: no such workload in the data")
    data: CommentedMap = doc.data
    places: dict[int, Place] = {}  # one per mapping written under (the document, list items)
    assigns: dict[int, dict[tuple[str, ...], NewScalar]] = {}
    meta: dict[tuple[int, tuple[str, ...]], tuple[str, str]] = {}
    skipped: list[Skipped] = []
    used: dict[tuple[int, tuple[str, ...]], str] = {}
    notes: dict[str, str] = {}
    for wl in names:
        place = mapped.get(wl) or _place(doc, wl, single=len(names) == 1)
        if place is None:
            hint = _list_hint(data, candidate_names(wl)) if not is_oneoff(wl) else None
            why = "cannot place: no values key matches this workload (use --map WORKLOAD=dotted.path)"
            if not is_oneoff(wl) and (key := _beside_top(data, _find(data, candidate_names(wl)))):
                why = (f"cannot place: {key} holds no resources, and the top-level resources may be the "
                       f"chart's own: --map {wl}=resources (the top level) or --map {wl}={key}")  # fmt: skip
            if hint:
                why += f"; a list item matches: --map {wl}={hint}"
            skipped.append(Skipped(doc.source, wl, "all", why))
            continue
        group = id(place.node)
        if (group, place.keys) in used:
            where = place.show(place.keys)
            skipped.append(Skipped(doc.source, wl, "all", f"{where} already holds {used[group, place.keys]}"))
            continue
        used[group, place.keys] = wl
        notes[wl] = place.note
        places.setdefault(group, place)  # one item reached by two spellings is shown by the first
        for rec in (r for r in recs if r.workload == wl and r.resource in resources):
            low = low_confidence(rec, min_confidence)
            if low:
                skipped.append(Skipped(doc.source, wl, rec.resource, low))
                continue
            _plan_rec(doc, place, rec, assigns.setdefault(group, {}), meta, skipped)
    shared = edit.settled_shared(doc, [(places[g].node, list(a)) for g, a in assigns.items()])
    edits: list[edit.Edit] = []
    changes = []
    written: list[tuple[tuple[str | int, ...], str]] = []
    for group, todo in assigns.items():
        place = places[group]
        prefix = (place.label,) if place.label else ()
        more, outcomes = edit.plan(doc, place.node, todo, prefix, shared)
        edits += more
        for p, out in outcomes.items():
            rel = p[len(prefix) :]
            wl, old = meta[group, rel]
            new = todo[rel].raw
            if out.ok:
                note = "; ".join(n for n in (notes[wl], out.note) if n)
                changes.append(Change(doc.source, wl, place.show(rel), old or None, new, note))
                written.append(((*place.concrete, *rel), new))
            else:
                skipped.append(Skipped(doc.source, wl, rel[-1], out.note, new))
    new_text = edit.apply_edits(doc.text, edits)
    if new_text != doc.text:
        _read_back(new_text, doc.source, written)
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


def _read_back(text: str, source: str, expected: list[tuple[tuple[str | int, ...], str]]) -> None:
    """The patched text must parse and hold every value written (list items included); else nothing
    is written: the fault is ours."""
    verify_written(text, source, [])  # parses, as helm would read it
    data = plain_yaml().load(loadable(text))
    for where, want in expected:
        found, value = valuepath.follow(data, where)
        if not found or str(value) != want:
            at = ".".join(map(str, where))
            raise RightsizeError(f"internal error, nothing written: {at} would read {value!r}, not {want!r}")


def _place(doc: Doc, wl: str, single: bool) -> Place | None:
    data: CommentedMap = doc.data
    if is_oneoff(wl):  # `docker-compose run` jobs: "web (run)" must not land in web's values by a near name
        return None
    found = _find(data, candidate_names(wl))
    if (key := _beside_top(data, found)) is not None:  # which one is the chart's: no guess, but one
        note = f"the top-level resources: {key} holds none"
        return Place(data, "", (), ("resources",), note) if single else None
    if found is None and single and "resources" in data:
        return Place(data, "", (), ("resources",))
    return None if found is None else Place(data, "", (), found[0], found[1])


def _beside_top(data: CommentedMap, found: tuple[tuple[str, ...], str] | None) -> str | None:
    """The key a workload matched, when resources would be created under it beside a top-level
    ``resources``: that may be the chart's own container (the ollama chart's ``ollama:`` holds its
    settings, gpu and models; ``ollama.resources`` is read by nothing), or a subchart's."""
    if found is None or "resources" not in data or lookup(data, found[0])[0]:
        return None
    return found[0][0]


_BLOCKS = (valuepath.Key("limits"), valuepath.Key("requests"))


def _mapped(doc: Doc, wl: str, spelled: str) -> Place:
    """A ``--map`` path resolved in the file: list items must exist (exactly one per step), keys after
    the last list step are created; a path through a value or the wrong kind of node is bad input."""
    steps = valuepath.parse(spelled)
    if len(steps) > 1 and steps[-2] == valuepath.Key("resources") and steps[-1] in _BLOCKS:
        # x.resources.limits would get its own resources.limits inside: a values key no chart reads
        owner, res = valuepath.render(steps[:-2]), valuepath.render(steps[:-1])
        want = f"the component ({owner}) or its resources ({res})" if owner else res
        raise RightsizeError(
            f"{doc.source}: --map {wl}={spelled} names the {valuepath.render(steps[-1:])} block: give {want}"
        )
    if steps[-1] != valuepath.Key("resources"):
        steps = (*steps, valuepath.Key("resources"))
    head, keys = valuepath.split_tail(steps)
    try:
        found = valuepath.resolve(doc.data, head)
        label = valuepath.render(head)
        valuepath.check_keys(found.node, keys, label)
    except RightsizeError as exc:
        raise RightsizeError(f"{doc.source}: --map {wl}={spelled}: {exc}") from None
    return Place(found.node, label, found.concrete, keys)


def _list_hint(data: CommentedMap, names: Sequence[str]) -> str | None:
    """A ``--map`` path to a list item named like the workload (auto-matching never enters lists:
    which list, sidecars or init containers, is the user's call), as a hint in the skip reason."""
    targets = {_norm(n) for n in names}

    def walk(node: object, at: tuple[valuepath.Step, ...], depth: int) -> str | None:
        if depth > 4:
            return None
        if isinstance(node, CommentedMap):
            for k, v in node.items():
                if (hit := walk(v, (*at, valuepath.Key(str(k))), depth + 1)) is not None:
                    return hit
        elif isinstance(node, CommentedSeq):
            for item in node:
                if isinstance(item, CommentedMap) and _norm(str(item.get("name", ""))) in targets:
                    return valuepath.render((*at, valuepath.Select("name", str(item["name"]))))
        return None

    return walk(data, (), 0)


def _plan_rec(
    doc: Doc,
    place: Place,
    rec: Recommendation,
    assigns: dict[tuple[str, ...], NewScalar],
    meta: dict[tuple[int, tuple[str, ...]], tuple[str, str]],
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
        and lookup(place.node, (*place.keys, "limits", "cpu"))[0]
    ):
        skipped.append(
            Skipped(
                doc.source,
                rec.workload,
                "cpu",
                "no CPU limit recommended; the existing limit is left as it is",
            )
        )
    shorthand = _shorthand(place)
    for w in wanted(rec):
        path = (*place.keys, KEYS[w.kind], K8S_NAME[w.resource])
        if shorthand and w.kind == "reservation":
            why = (f"{place.show((*place.keys, rec.resource))} is both request and limit (a chart's "
                   "shorthand, as neo4j's): it takes the limit")  # fmt: skip
            skipped.append(Skipped(doc.source, rec.workload, rec.resource, why, format_value(
                rec.resource, w.value, "k8s").raw))  # fmt: skip
            continue
        if shorthand:
            path = (*place.keys, K8S_NAME[w.resource])
        found, old = lookup(place.node, path)
        new = format_value(w.resource, w.value, "k8s")
        clash = _clash(doc, place, rec, w.kind, w.value, new.raw)
        if clash:
            skipped.append(Skipped(doc.source, rec.workload, w.resource, clash, new.raw))
            continue
        if found and old is not None:
            current = parse_value(w.resource, old, "k8s", f"{doc.source}: {place.show(path)}")
            if same(w.resource, current, new.raw, "k8s"):
                continue
        assigns[path] = new
        meta[id(place.node), path] = (rec.workload, "" if old is None else str(old))


def _shorthand(place: Place) -> bool:
    """``resources: {cpu: "1", memory: 2Gi}`` without limits/requests: the neo4j chart reads those
    keys as request and limit both (a ``limits`` block beside them would leave them in force, and
    one holding only cpu would drop the memory limit)."""
    found, block = lookup(place.node, place.keys)
    return (
        found
        and isinstance(block, CommentedMap)
        and any(not isinstance(block.get(k), CommentedMap | type(None)) for k in K8S_NAME.values())
        and not any(k in block for k in KEYS.values())
    )


def _clash(doc: Doc, place: Place, rec: Recommendation, kind: str, value: float, raw: str) -> str | None:
    """Why a request (limit) that the file's limit (request), left in place, contradicts is not written:
    Kubernetes refuses requests above limits."""
    other = "reservation" if kind == "limit" else "limit"
    assert rec.recommended is not None
    if getattr(rec.recommended, other) is not None:
        return None
    path = (*place.keys, KEYS[other], K8S_NAME[rec.resource])
    found, kept = lookup(place.node, path)
    if not found or kept is None:
        return None
    current = parse_value(rec.resource, kept, "k8s", f"{doc.source}: {place.show(path)}")
    if (value > current) if kind == "reservation" else (value < current):
        side = "above" if kind == "reservation" else "below"
        return f"not written: {raw} would be {side} {'.'.join(path[-2:])} {kept} left in place"
    return None
