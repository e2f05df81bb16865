"""Write recommended limits and reservations into compose files, touching nothing else.

Per service and value: a service-level key that already exists (``mem_limit``, ``cpus``, ...) is
updated, so is a ``deploy.resources`` key; both when both exist, so they never disagree. New values
go where the service already keeps its resources (legacy keys or ``deploy``). With several files
(``-f base -f override``) a value is changed in the file that sets it (the last one, as compose
merges), a new one next to its siblings.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from rightsize.errors import RightsizeError
from rightsize.models import RESOURCES, Change, PatchResult, Recommendation, Skipped
from rightsize.render import one_line
from rightsize.targets import edit, hostcpus
from rightsize.targets.composefile import (
    Stack,
    check_min_confidence,
    container_alias,
    load_compose,
    low_confidence,
    parse_only,
    paths_of,
    select,
    service_node,
)
from rightsize.targets.copies import sync_copies
from rightsize.targets.cpuquota import QuotaEdit, plan_quota
from rightsize.targets.edit import NewScalar
from rightsize.targets.effective import read as read_value
from rightsize.targets.include import reading_order
from rightsize.targets.locate import DEPLOY, LEGACY, LEGACY_KEYS, env_at, spelling
from rightsize.targets.locate import exists as _exists
from rightsize.targets.locate import home as _home
from rightsize.targets.locate import named as _named
from rightsize.targets.locate import where as _where
from rightsize.targets.match import Recs, match_workloads, resolve
from rightsize.targets.mergetags import dropped
from rightsize.targets.project import folder_project, project_for, project_name
from rightsize.targets.schema import check_patched
from rightsize.targets.swap import drop_unbacked, keep_swap, set_swap, skip_swap
from rightsize.targets.swapsize import parse_swap
from rightsize.targets.validate import validate_units
from rightsize.targets.values import (
    Wanted,
    engine_refuses,
    format_value,
    interpolated,
    parse_value,
    same,
    unreserved,
    wanted,
)
from rightsize.targets.write import check_writable, make_backup, unified_diff, write_all
from rightsize.targets.yaml import verify_written


@dataclass
class _Plan:
    """Assignments per file index and service, and the bookkeeping to report them."""

    assigns: dict[tuple[int, str], dict[tuple[str, ...], NewScalar]] = field(default_factory=dict)
    meta: dict[tuple[int, str, tuple[str, ...]], tuple[str, str, str]] = field(default_factory=dict)
    skipped: list[tuple[int, Skipped]] = field(default_factory=list)
    swap: int | None = None  # --swap: bytes of swap beyond each memory limit set; None keeps the swap
    cpus: hostcpus.LazyCpus = field(default_factory=hostcpus.LazyCpus)  # what a CPU limit is checked against

    def skip(
        self, docs: Stack, i: int, wl: str, resource: str, why: str, recommended: str | None = None
    ) -> None:
        self.skipped.append((i, Skipped(docs[i].source, wl, resource, why, recommended)))

    def add(
        self, i: int, svc: str, path: tuple[str, ...], new: NewScalar, wl: str, old: Any, note: str
    ) -> None:
        self.assigns.setdefault((i, svc), {})[path] = new
        self.meta[(i, svc, path)] = (wl, "" if old is None else str(old), note)


def patch_compose(
    files: Path | str | Sequence[Path | str],
    recs: Recs,
    *,
    dry_run: bool = False,
    backup: bool = False,
    only: str | Iterable[str] | None = None,
    services: str | Iterable[str] | None = None,
    project: str | None = None,
    env_files: Sequence[Path | str] | None = None,
    min_confidence: float = 0.0,
    swap: int | str | None = None,
    project_directory: Path | str | None = None,
    host_cpus: int | None = None,
) -> list[PatchResult]:
    """Patch compose files in place (or only diff them); one PatchResult per file.

    ``swap`` (bytes, from ``--swap``) sets ``memswap_limit`` to each memory limit set plus that much
    swap; None keeps the swap allowance a service already has. ``host_cpus``: the CPU count a CPU
    limit is checked against (see hostcpus; default the engine's, else this machine's).
    """
    check_min_confidence(min_confidence)
    swap = parse_swap(swap)  # bytes, or the --swap text ("256M")
    paths = paths_of(files)
    files_ = load_compose(paths, env_files, project_directory=project_directory)
    paths = [Path(d.source) for d in files_]  # with the included files, in the order of files_
    if not dry_run and len(paths) == 1:  # the one file a change can go to: refused before the analysis
        check_writable(paths[0], backup)
    resources = parse_only(only)
    names = select(files_, services)
    docs = Stack(files_, names)
    validate_units(docs, names)
    explicit = project_name(docs, project)  # refused before the analysis, as compose refuses it
    recs = resolve(recs)
    project = project_for(explicit, folder_project(docs), recs)
    plan = _Plan(swap=swap, cpus=hostcpus.LazyCpus(host_cpus))
    unmatched = 0
    for svc in names:
        container = container_alias(docs, svc)
        home = _home(docs, svc)
        found, why = match_workloads(svc, recs, project=project, aliases=(container,) if container else ())
        if not found:
            plan.skipped.append((home, Skipped(docs[home].source, svc, "all", why)))
            unmatched += why == "service not in the data"
            continue
        for rec in sorted(found, key=lambda r: RESOURCES.index(r.resource)):
            if rec.resource not in resources:
                continue
            _plan_rec(docs, svc, home, rec, plan, min_confidence)
    if recs and names and unmatched == len(names):
        known = sorted({r.workload for r in recs})
        some = one_line(", ".join(known[:5]) + (", ..." if len(known) > 5 else ""))  # a warning is one line
        warnings.warn(
            f"no service matched a workload in the data (it has {some}); check --project or the "
            "file's top-level name: key",
            stacklevel=2,
        )
    drop_unbacked(docs, plan)
    sync_copies(docs, plan)
    return _execute(docs, paths, plan, dry_run=dry_run, backup=backup)


def _plan_rec(docs: Stack, svc: str, home: int, rec: Recommendation, plan: _Plan, min_conf: float) -> None:
    if not rec.ok:
        plan.skip(
            docs, home, rec.workload, rec.resource, "no recommendation: " + ("; ".join(rec.reasons) or "-")
        )
        return
    low = low_confidence(rec, min_conf)
    if low:
        plan.skip(docs, home, rec.workload, rec.resource, low)
        return
    quota = rec.resource == "cpu" and plan_quota(docs, svc, home, 1.0) is not None
    # Docker bounds cpus (NanoCpus) by the host's CPUs, not a cpu_quota: a quota is written as recommended
    rec = unreserved(rec if quota else hostcpus.fit_host(rec, svc, plan.cpus))
    # cpu_quota/cpu_period: plan_quota checks the quota's own floor at the file's period
    refused = engine_refuses(rec, cfs=quota and bool(rec.recommended and rec.recommended.limit))
    if refused:  # compose would load the file, but `up` would fail on it
        plan.skip(docs, home, rec.workload, rec.resource, "not written: " + refused)
        return
    has_legacy = any(_exists(docs, svc, (k,)) for k in LEGACY_KEYS)
    legacy_style = has_legacy and not _exists(docs, svc, ("deploy", "resources"))
    assert rec.recommended is not None
    if (
        rec.resource == "cpu"
        and rec.recommended.limit is None
        and (_exists(docs, svc, DEPLOY[("cpu", "limit")]) or _exists(docs, svc, ("cpus",)))
    ):
        plan.skip(
            docs, home, rec.workload, "cpu", "no CPU limit recommended; the existing limit is left as it is"
        )
    limit_interpolated = False
    for w in wanted(rec):
        if w.kind == "reservation" and limit_interpolated:
            plan.skip(
                docs,
                home,
                w.workload,
                w.resource,
                "not written: the limit is interpolated, so a reservation could exceed it",
                format_value(w.resource, w.value, "compose").raw,
            )
            continue
        if w.kind == "reservation" and getattr(rec.recommended, "limit", None) is None:
            kept = _current(docs, svc, w.resource)
            if kept is not None and w.value > kept:
                raw = format_value(w.resource, w.value, "compose").raw
                why = f"not written: {raw} would exceed the {w.resource} limit left in place"
                plan.skip(docs, home, w.workload, w.resource, why, raw)
                continue
        if (
            w.kind == "limit"
            and w.resource != "pids"
            and (rec.recommended.reservation is None or _interpolated(docs, svc, w.resource, "reservation"))
        ):  # an interpolated reservation is never replaced: it stays as it reads
            kept = _current(docs, svc, w.resource, "reservation")
            if kept is not None and w.value < kept:  # Docker refuses a memory limit below the reservation
                raw = format_value(w.resource, w.value, "compose").raw
                why = f"not written: {raw} would be below the {w.resource} reservation left in place"
                plan.skip(docs, home, w.workload, w.resource, why, raw)
                continue
        q = plan_quota(docs, svc, home, w.value) if (w.resource, w.kind) == ("cpu", "limit") else None
        if q is not None:
            if isinstance(q, QuotaEdit):
                plan.add(q.index, svc, ("cpu_quota",), q.new, w.workload, q.old, q.note)
            elif q:
                plan.skip(docs, home, w.workload, "cpu", q, format_value("cpu", w.value, "compose").raw)
            continue
        limit_interpolated = not _plan_value(docs, svc, home, w, legacy_style, plan) and w.kind == "limit"


def _current(docs: Stack, svc: str, resource: str, kind: str = "limit") -> float | None:
    """The limit (reservation) compose would apply now, in base units; None when unset or unknown."""
    legacy = LEGACY.get((resource, kind))
    for path in ((legacy,) if legacy else (), DEPLOY[(resource, kind)]):
        if path and _exists(docs, svc, path):
            i, _, value = _where(docs, svc, path, 0)
            where = _named(docs, svc, path, i)
            if value is not None:  # ${MEM:-1g}: as compose reads it (empty: an error, as in compose)
                value = read_value(value, env_at(docs, svc, path, i), where)[0]
                return parse_value(resource, value, "compose", where)
    return None


def _interpolated(docs: Stack, svc: str, resource: str, kind: str) -> bool:
    """Whether a value compose uses for the limit (reservation) is interpolated."""
    legacy = LEGACY.get((resource, kind))
    paths = [p for p in ((legacy,) if legacy else (), DEPLOY[(resource, kind)]) if p]
    return any(_exists(docs, svc, p) and interpolated(_where(docs, svc, p, 0)[2]) for p in paths)


def _plan_value(docs: Stack, svc: str, home: int, w: Wanted, legacy_style: bool, plan: _Plan) -> bool:
    """Plan one value into every key that holds it; False when an interpolated value blocks it."""
    pair = (w.resource, w.kind)
    legacy = LEGACY.get(pair)
    raw = format_value(w.resource, w.value, "compose").raw
    candidates = [p for p in ((legacy,) if legacy else None, DEPLOY[pair]) if p and _exists(docs, svc, p)]
    twin = candidates == [(legacy,)] and _exists(docs, svc, DEPLOY[pair][:-1])
    if twin:  # compose v2 refuses the block without it (see locate.spelling)
        candidates.append(DEPLOY[pair])
    if not candidates:
        reset = dropped(docs, svc, [(legacy,) if legacy else (), DEPLOY[pair]])
        if reset:  # the user dropped it in a later file: adding it in another spelling would undo that
            plan.skip(docs, home, w.workload, w.resource, f"{reset}: not written; set it to {raw}", raw)
            return True
        style = spelling(docs, svc, pair, legacy_style)
        if style == "none":
            plan.skip(
                docs,
                home,
                w.workload,
                w.resource,
                "the service uses service-level keys and compose has "
                f"none for a CPU {w.kind} (cpu_shares is relative)",
                raw,
            )
            return True
        candidates = [(legacy,) if style == "legacy" and legacy else DEPLOY[pair]]
    located = [(p, *_where(docs, svc, p, home)) for p in candidates]
    for path, i, _, old in located:
        if interpolated(old) and not _reads_as(docs, svc, path, i, old, w):
            plan.skip(
                docs,
                i,
                w.workload,
                w.resource,
                f"{'.'.join(path)} is interpolated ({old}): not replaced; set it to {raw}",
                raw,
            )
            if pair == ("memory", "limit") and plan.swap is not None:
                skip_swap(docs, i, w, plan, "the memory limit is interpolated", None)
            return False
    for path, i, exists, old in located:
        if interpolated(old):
            continue  # it reads as the recommendation (above): already right, like a literal value
        where = _named(docs, svc, path, i)
        new = format_value(w.resource, w.value, "compose", old if old is not None else _unit_hint(docs, svc))
        if old is not None and same(
            w.resource, parse_value(w.resource, old, "compose", where), new.raw, "compose"
        ):
            continue
        note = "" if exists or old is None else "inherited through extends: own override written"
        if twin and path == DEPLOY[pair] and not exists:
            note = f"the twin of {legacy}: Docker Compose v2 refuses a {path[2]} block without it"
        plan.add(i, svc, path, new, w.workload, old, note)
        new_twin = twin and path == DEPLOY[pair] and not exists  # it moves no limit: no swap change
        if pair == ("memory", "limit") and plan.swap is None and not new_twin:
            keep_swap(docs, svc, home, w, old, new, plan)
    if pair == ("memory", "limit") and plan.swap is not None:  # also when the limit is already right
        set_swap(docs, svc, home, w, plan, _unit_hint(docs, svc))
    return True


def _reads_as(docs: Stack, svc: str, path: tuple[str, ...], i: int, old: str, w: Wanted) -> bool:
    """Whether an interpolated value (in ``docs[i]``) reads, as compose reads it now, as the value apply
    would write; a value compose could not read is bad input, as ``check`` says."""
    where = _named(docs, svc, path, i)
    read = str(read_value(old, env_at(docs, svc, path, i), where)[0])  # (empty, " 1g": bad input)
    current = parse_value(w.resource, read, "compose", f"{where} ({old})")
    return current > 0 and same(w.resource, current, format_value(w.resource, w.value, "compose", read).raw,
                                "compose")  # fmt: skip


def _unit_hint(docs: Stack, svc: str) -> Any:
    """A memory value the service already has, so that new ones follow its spelling (``1g`` vs ``1G``)."""
    for path in (("mem_limit",), DEPLOY[("memory", "limit")], ("mem_reservation",), ("memswap_limit",)):
        _, _, value = _where(docs, svc, path, 0)  # (a value inherited through extends counts too)
        if value is not None and not interpolated(value):
            return value
    return None


def _execute(
    docs: Stack, paths: Sequence[Path], plan: _Plan, *, dry_run: bool, backup: bool
) -> list[PatchResult]:
    results = []
    pending: list[tuple[int, str, str, tuple[Change, ...], tuple[Skipped, ...]]] = []
    for i, doc in enumerate(docs):
        edits: list[edit.Edit] = []
        changes: list[Change] = []
        written_paths: list[tuple[tuple[str, ...], str]] = []
        skipped = [s for j, s in plan.skipped if j == i]
        mine = [(service_node(doc, svc), list(a)) for (j, svc), a in plan.assigns.items() if j == i]
        shared = edit.settled_shared(doc, mine)
        for (j, svc), assigns in plan.assigns.items():
            if j != i:
                continue
            node = service_node(doc, svc)
            if not isinstance(node, CommentedMap):  # the service only exists elsewhere: start it here
                raise RightsizeError(f"{doc.source}: service {svc!r} has no mapping to write into")
            e, full = edit.plan(doc, node, assigns, ("services", svc), shared)
            outcomes = {p[2:]: o for p, o in full.items()}
            edits.extend(e)
            for path, out in outcomes.items():
                wl, old, note = plan.meta[(i, svc, path)]
                key = f"services.{svc}.{'.'.join(path)}"
                if out.ok:
                    written_paths.append((("services", svc, *path), assigns[path].raw))
                    changes.append(
                        Change(
                            doc.source,
                            wl,
                            key,
                            old or None,
                            assigns[path].raw,
                            "; ".join(n for n in (note, out.note) if n),
                        )
                    )
                else:
                    skipped.append(Skipped(doc.source, wl, _resource(path), out.note, assigns[path].raw))
        new_text = edit.apply_edits(doc.text, edits)
        if new_text != doc.text:
            verify_written(new_text, doc.source, written_paths)
            check_patched(doc.text, new_text, doc.source)
        diff = unified_diff(paths[i], doc.text, new_text)
        pending.append((i, new_text, diff, tuple(changes), tuple(skipped)))
    # every file is checked, and backed up, before the first is written: a bad second file (or its
    # backup) leaves the first as it was
    for i, _, diff, _, _ in pending:  # a file with no change may be read-only (a vendored include)
        if diff and not dry_run:
            check_writable(paths[i], backup)
    baks = {i: make_backup(paths[i]) for i, _, diff, _, _ in pending if backup and diff and not dry_run}
    if not dry_run:  # all or none: every new text is on disk before the first file is replaced
        write_all([(paths[i], new_text) for i, new_text, diff, _, _ in pending if diff])
    for i, _, diff, changes_, skipped_ in pending:
        bak = baks.get(i)
        written = bool(diff) and not dry_run
        extra = {"backup": str(bak)} if bak else {}
        results.append(PatchResult(docs[i].source, changes_, skipped_, diff, written, extra))
    order = {id(d): n for n, d in enumerate(reading_order(docs))}  # as written, not as compose merges
    return [r for _, r in sorted(zip(docs, results, strict=True), key=lambda p: order[id(p[0])])]


def _resource(path: tuple[str, ...]) -> str:
    last = path[-1]
    if last in ("mem_limit", "mem_reservation", "memswap_limit"):
        return "memory"
    return {"cpus": "cpu", "cpu_quota": "cpu", "pids_limit": "pids"}.get(last, last)
