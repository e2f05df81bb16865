"""Write ``resources.requests``/``resources.limits`` into Helm values files, in Kubernetes units.

Where a workload's resources live is recognised from the usual layouts: ``<name>.resources``
(a subchart such as ``postgresql:`` or a component key named like the service), one level deeper
(``postgresql.primary.resources``), or a top-level ``resources`` when the file serves one workload.
``--map WORKLOAD=dotted.path`` overrides the guess. With a ``helm`` binary and the chart known, one
``helm template`` run shows where the templates really read each container's block, which replaces
the guess (``helmrender.py``). Finding the place is ``helmplace.py``; this module plans the values
there and writes them.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from ruamel.yaml.comments import CommentedMap

from rightsize.errors import RightsizeError
from rightsize.models import Change, PatchResult, Recommendation, Skipped
from rightsize.sources.docker import is_oneoff
from rightsize.targets import edit, valuepath
from rightsize.targets.composefile import check_min_confidence, low_confidence, parse_only
from rightsize.targets.edit import NewScalar
from rightsize.targets.helmchart import Chart, read_chart
from rightsize.targets.helmdeps import merged
from rightsize.targets.helmmin import k8s_refuses
from rightsize.targets.helmplace import (
    Place,
    beside_top,
    candidate_names,
    claim,
    list_hint,
    mapped_place,
    off_noted,
    off_subchart,
    parse_map,
    place_of,
    unread_subchart,
)
from rightsize.targets.helmrender import NotRendered, chart_of, locate, rendered_places
from rightsize.targets.helmset import drop_overridden, parse_sets, set_values
from rightsize.targets.helmshared import larger_recs, memory_of, shared_blocks
from rightsize.targets.match import Recs, resolve
from rightsize.targets.values import format_value, lookup, parse_value, same, wanted
from rightsize.targets.write import atomic_write, check_writable, unified_diff
from rightsize.targets.yaml import Doc, loadable, plain_yaml, read, verify_written

KEYS = {"limit": "limits", "reservation": "requests"}
K8S_NAME = {"memory": "memory", "cpu": "cpu"}


def load_values(path: Path) -> Doc:
    doc = read(path)  # (a file nested too deeply for the loader is read's one-line error)
    if doc.data is None:  # empty, or comments only: an overrides file waiting for its first values
        if any(_content(line) for line in doc.text.splitlines()):  # 'null' / '~': no room for keys
            raise RightsizeError(f"{path}: the top level is null, not a mapping of values (remove it)")
        doc = dataclasses.replace(doc, data=CommentedMap())
    if not isinstance(doc.data, CommentedMap):
        raise RightsizeError(f"{path}: not a Helm values file (the top level is not a mapping)")
    return doc


def base_values(path: Path, extra: list[Path], chart: Path | None) -> CommentedMap | None:
    """The values of the files helm gets before ``path`` (later ones over earlier), or None."""
    if not extra:
        return None
    folder = chart if chart is not None and chart.is_dir() else path.parent if chart is None else None
    if (
        folder is not None
        and (folder / "Chart.yaml").is_file()
        and (folder / "values.yaml").resolve() == path.resolve()
    ):
        raise RightsizeError(f"--values: {path} is the chart's defaults, below every -f file: write "
                             "the last file helm gets (--helm FILE), the others as --values")  # fmt: skip
    under: CommentedMap = CommentedMap()
    for file in extra:
        if file.resolve() == path.resolve():
            raise RightsizeError(f"--values {file}: the file written (--helm) is read as itself")
        under = merged(under, load_values(file).data)
    return under


def _content(line: str) -> bool:
    """A line holding more than a comment or a document marker."""
    text = line.split("#", 1)[0].strip()
    return bool(text) and text not in ("---", "...")


def patch_helm(
    file: Path | str,
    recs: Recs,
    *,
    mapping: Mapping[str, str] | str | Sequence[str] | None = None,
    dry_run: bool = False,
    backup: bool = False,
    only: Iterable[str] | None = None,
    min_confidence: float = 0.0,
    chart: Path | str | None = None,
    render: bool = True,
    release: str | None = None,
    values: Sequence[Path | str] = (),
    sets: Sequence[str] = (),
) -> PatchResult:
    """Patch one values file in place (or only diff it). ``mapping``: ``{WORKLOAD: path}``, or the
    ``--map`` text (``"shop/db=db.primary"``, or a list of them). ``chart``: the chart the file is
    installed with (a folder or a ``.tgz``), when the file is not beside its ``Chart.yaml``.
    ``render``: find where the templates read each container's resources with one ``helm template``
    run (``release``: the release name the data's pods were named under; default guessed).
    ``values``: the other values files helm gets before this one (``-f base.yaml -f this.yaml``): read
    (the chart's view, current limits, the render), never written. ``sets``: helm's ``--set a.b=c``
    over all of them (plain pairs only, see ``helmset``); a field they set is not written."""
    check_min_confidence(min_confidence)
    if mapping is not None and not isinstance(mapping, Mapping):
        mapping = parse_map([mapping] if isinstance(mapping, str) else mapping)
    path = Path(file)
    doc = load_values(path)
    if not dry_run:
        check_writable(path, backup)
    # a --map path that does not resolve in this file is reported before the analysis runs
    extra, given = [Path(v) for v in values], None if chart is None else Path(chart)
    under = base_values(path, extra, given)
    pairs = parse_sets(sets)
    over = set_values(pairs) if pairs else None
    view = doc.data if under is None else merged(under, doc.data)
    seen = read_chart(path, view, given, over)
    mapped = {
        wl: off_noted(seen, mapped_place(doc, wl, spelled, seen.view))
        for wl, spelled in (mapping or {}).items()
    }
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
    guessed = {wl: mapped.get(wl) or place_of(doc, wl, single=len(names) == 1, chart=seen) for wl in names}
    unmapped = [w for w in names if w not in mapped]
    rendered, fixed, unrendered = _rendered(
        path, given, seen, doc, guessed, unmapped, render, release, extra, over
    )
    guessed.update(rendered)

    # --map first, then the guesses by how strongly each workload claims its place
    def rank(w: str) -> tuple[int, float]:
        # of containers the template gives one block, the one needing the most memory writes it
        if w in mapped or w in rendered:  # --map first, then the render's
            return (0 if w in mapped else 1), -memory_of(recs, w) if w in rendered else 0.0
        return (2 + claim(g, w) if (g := guessed[w]) else 5), 0.0

    ranked = sorted(names, key=rank)
    mates = shared_blocks(rendered)  # the block written holds the larger of each resource
    for wl in ranked:
        place = guessed[wl]
        if wl in fixed:
            skipped.append(Skipped(doc.source, wl, "all", fixed[wl]))
            continue
        if place is None:
            hint = list_hint(data, candidate_names(wl)) if not is_oneoff(wl) else None
            why = "cannot place: no values key matches this workload (use --map WORKLOAD=dotted.path)"
            if off := off_subchart(seen, wl, data, path.name, over, under):
                why = off
            elif not is_oneoff(wl) and (sub := unread_subchart(seen, wl)):
                why = (f"cannot place: {sub} is a subchart whose values hold no resources block (nor "
                       "one level down), so none is known to be read; "
                       f"--map {wl}={sub}.PATH writes one")  # fmt: skip
            elif not is_oneoff(wl) and (key := beside_top(seen, wl)):
                why = (f"cannot place: {key} holds no resources, and the top-level resources may be the "
                       f"chart's own: --map {wl}=resources (the top level) or --map {wl}={key}")  # fmt: skip
            if hint:
                why += f"; a list item matches: --map {wl}={hint}"
            skipped.append(Skipped(doc.source, wl, "all", why))
            continue
        group = id(place.node)
        if (group, place.keys) in used:
            where = place.show(place.keys)
            why = f"{where} already holds {used[group, place.keys]}"
            if wl in rendered and used[group, place.keys] in rendered:
                why += (" (helm template shows the chart gives both containers this one block: of each "
                        "resource, the larger numbers are written)")  # fmt: skip
            elif not is_oneoff(wl) and (hint := list_hint(data, candidate_names(wl))):
                why += f"; a list item matches: --map {wl}={hint}"
            skipped.append(Skipped(doc.source, wl, "all", why))
            continue
        used[group, place.keys] = wl
        notes[wl] = place.note
        places.setdefault(group, place)  # one item reached by two spellings is shown by the first
        for rec in larger_recs(recs, wl, mates.get(wl, []) if wl in rendered else [], resources):
            low = low_confidence(rec, min_confidence)
            if low:
                skipped.append(Skipped(doc.source, wl, rec.resource, low))
                continue
            _plan_rec(doc, place, rec, assigns.setdefault(group, {}), meta, skipped)
    skipped += drop_overridden(doc.source, pairs, {g: places[g].concrete for g in assigns}, assigns, meta)
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
    if unrendered:
        warnings.warn(unrendered, stacklevel=2)
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


def _rendered(
    path: Path,
    chart: Path | None,
    seen: Chart,
    doc: Doc,
    guessed: dict[str, Place | None],
    todo: list[str],
    render: bool,
    release: str | None,
    extra: list[Path],
    over: CommentedMap | None,
) -> tuple[dict[str, Place], dict[str, str], str | None]:
    """The places one ``helm template`` run shows (and the containers no values key reaches), for the
    workloads not ``--map``ped; none when not rendering or when the chart is not known; and why the
    chart could not be rendered (warned once the patch is planned: a bad value is the one error)."""
    root = chart_of(path, chart)
    if not render or root is None or not seen.name or not todo:  # no name: the chart was not read
        return {}, {}, None
    guesses = [g.keys for g in guessed.values() if g is not None and not g.concrete]
    try:
        found = locate(path, root, seen.view, todo, guesses, release=release, extra_values=extra, over=over)
    except NotRendered as exc:
        return {}, {}, f"{exc}: {path.name} is placed from the values' keys"
    return (*rendered_places(found, doc, seen.view, guessed), None)


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
        and lookup(place.effective, (*place.keys, "limits", "cpu"))[0]
    ):
        skipped.append(
            Skipped(
                doc.source,
                rec.workload,
                "cpu",
                "no CPU limit recommended; the existing limit is left as it is",
            )
        )
    # the render shows which the template reads, whatever the block holds now
    shorthand = _shorthand(place) if place.reads is None else any(len(r) == 1 for r in place.reads)
    refused = {w.kind: why for w in wanted(rec) if (why := _refused(w.resource, w.kind, w.value))}
    for w in (w for w in wanted(rec) if w.kind in refused):
        raw = format_value(w.resource, w.value, "k8s").raw
        skipped.append(Skipped(doc.source, rec.workload, w.resource, refused[w.kind], raw))
    if refused:  # a value not written leaves the file's in place: the other one is checked against it
        kept = {k: None for k in refused}
        rec = dataclasses.replace(rec, recommended=dataclasses.replace(rec.recommended, **kept))
    for w in wanted(rec):
        path = (*place.keys, KEYS[w.kind], K8S_NAME[w.resource])
        if place.reads is not None and not shorthand and path[len(place.keys) :] not in place.reads:
            why = f"{place.show(path)} is not read by the chart's template (helm template)"
            skipped.append(Skipped(doc.source, rec.workload, w.resource, why, format_value(
                w.resource, w.value, "k8s").raw))  # fmt: skip
            continue
        if shorthand and w.kind == "reservation":
            why = (f"{place.show((*place.keys, rec.resource))} is both request and limit (a chart's "
                   "shorthand, as neo4j's): it takes the limit")  # fmt: skip
            skipped.append(Skipped(doc.source, rec.workload, rec.resource, why, format_value(
                rec.resource, w.value, "k8s").raw))  # fmt: skip
            continue
        if shorthand:
            path = (*place.keys, K8S_NAME[w.resource])
            if place.reads is not None and path[len(place.keys) :] not in place.reads:
                why = f"{place.show(path)} is not read by the chart's template (helm template)"
                skipped.append(Skipped(doc.source, rec.workload, w.resource, why))
                continue
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


def _refused(resource: str, kind: str, value: float) -> str | None:
    return k8s_refuses(resource, kind, format_value(resource, value, "k8s").raw)


def _shorthand(place: Place) -> bool:
    """``resources: {cpu: "1", memory: 2Gi}`` without limits/requests: the neo4j chart reads those
    keys as request and limit both (a ``limits`` block beside them would leave them in force, and
    one holding only cpu would drop the memory limit)."""
    found, block = lookup(place.effective, place.keys)
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
    found, kept = lookup(place.effective, path)
    if not found or kept is None:
        return None
    current = parse_value(rec.resource, kept, "k8s", f"{doc.source}: {place.show(path)}")
    if (value > current) if kind == "reservation" else (value < current):
        side = "above" if kind == "reservation" else "below"
        whose = "" if lookup(place.node, path)[0] else " (the chart's default)"
        return f"not written: {raw} would be {side} {'.'.join(path[-2:])} {kept}{whose} left in place"
    return None
