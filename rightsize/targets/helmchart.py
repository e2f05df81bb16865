"""The chart a Helm values file sits in: its name, and the values as its templates see them.

A values file beside a ``Chart.yaml`` belongs to that chart. Helm renders the chart with its own
``values.yaml`` under the file, and each subchart in ``charts/`` (a folder, or a ``.tgz`` as
``helm dependency build`` leaves it) with its own defaults under the parent's ``<name>:`` (or the
dependency's ``alias``). So where a subchart reads its resources (``postgresql.primary.resources``)
shows in the subchart's defaults, not in a parent file that only sets ``postgresql.auth``; writing
``postgresql.resources`` there changes nothing ``helm template`` renders. The view built here is what
the place finder reads; writes still go to the values file. A file outside a chart is read alone.
"""

from __future__ import annotations

import dataclasses
import io
import re
import tarfile
import warnings
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from rightsize.errors import RightsizeError
from rightsize.targets.helmdeps import (
    Off,
    Switch,
    globals_below,
    imported,
    judged,
    merged,
    switch_of,
    tags_below,
)
from rightsize.targets.helmignore import IgnoreError, Rules, parse
from rightsize.targets.yaml import loadable, plain_yaml

MAX_DEPTH = 4  # subcharts of subcharts: deeper nesting is not followed
# a chart's values.yaml is only read, never written: libyaml's loader (PyYAML's C one) reads a bitnami
# subchart's 80 KB in ~30 ms, ruamel's pure-Python round trip in ~1 s (60 subcharts: minutes)
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_BYTES = 64 * 1024**2  # a chart file larger is not read (helm refuses files over 5 MiB already)


@dataclasses.dataclass(frozen=True)
class Chart:
    name: str  # Chart.yaml's name ("" outside a chart)
    view: CommentedMap  # defaults (the chart's, its subcharts' under their keys) with the file over them
    subcharts: Mapping[str, CommentedMap]  # top-level keys that are subcharts': their own defaults
    # the same keys' charts as this view leaves them (their view: view[key]), for their own subcharts
    nested: Mapping[str, Chart] = dataclasses.field(default_factory=dict)
    switches: Mapping[str, Switch] = dataclasses.field(default_factory=dict)  # dependencies' condition/tags
    own_tags: Any = None  # the chart's own values.yaml `tags:` (a subchart's fill in the top-level ones)
    off: Mapping[str, Off] = dataclasses.field(default_factory=dict)  # subcharts helm does not render
    # import-values (key, its list), and those of keys off by the chart's defaults, read from ``bare``
    # (the defaults without imports) when the values turn them on: helm imports after judging them
    wired: tuple[tuple[str, Any], ...] = ()
    unimported: frozenset[str] = frozenset()
    bare: CommentedMap | None = None


class _Unreadable(Exception):
    pass


def read_chart(
    values: Path, data: CommentedMap, given: Path | None = None, over: CommentedMap | None = None
) -> Chart:
    """The chart ``values`` sits in, or the file alone (a bad chart is a warning: the file can still be
    patched, only without the chart's help). ``given`` (``--chart``): the chart the file is installed
    with, a folder or a ``.tgz`` (as ``helm pull`` leaves them), wherever the file is; bad input if it
    cannot be read. ``over``: values over the file's (helm's ``--set``)."""
    if given is not None:
        return _given_chart(values, data, given, over)
    root = values.parent
    if not (root / "Chart.yaml").is_file():
        return Chart("", data if over is None else merged(data, over), {})
    try:
        files = _dir_files(root)
        chart = _load(files, str(root), 0)
        # the chart's own values.yaml is the defaults as they stand (a null there is kept, not a deletion)
        return _over(chart, data, _own(files, root, values), over)
    except RecursionError:  # values nested hundreds of levels deep (the walks here recurse per level)
        why = "values nested too deeply"
    except (_Unreadable, OSError, EOFError, zlib.error, tarfile.TarError, YAMLError) as exc:
        why = _one_line(exc)
    warnings.warn(f"{root}: chart not read ({why}); {values.name} is placed from its own keys", stacklevel=2)
    return Chart("", data if over is None else merged(data, over), {})


def _over(chart: Chart, data: CommentedMap, own: bool, over: CommentedMap | None) -> Chart:
    """The chart under the file (not when the file is its own values.yaml), and ``over`` above."""
    if own and over is None:
        return chart
    user = data if over is None else merged(data, over)
    return _seen_as(chart, merged(chart.view, over if own else user), user=over if own else user)


def _given_chart(values: Path, data: CommentedMap, given: Path, over: CommentedMap | None = None) -> Chart:
    what = "give a chart folder (holding Chart.yaml) or a packaged chart .tgz, as helm pull leaves them"
    try:
        if given.is_dir():
            if not (given / "Chart.yaml").is_file():
                raise _Unreadable(f"no Chart.yaml in {given}: {what}")
            files = _dir_files(given)
            chart, own = _load(files, str(given), 0), _own(files, given, values)
        elif given.is_file():
            if not given.name.endswith((".tgz", ".tar.gz")):
                raise _Unreadable(f"{given.name} is not a chart: {what}")
            try:
                files = _tar_files(_read(given), str(given))
            except (OSError, EOFError, zlib.error, tarfile.TarError) as exc:
                raise _Unreadable(f"not a chart archive: {_one_line(exc)}") from None
            chart, own = _load(files, str(given), 0), False
        else:
            raise _Unreadable(f"no such chart folder or file: {what}")
        return _over(chart, data, own, over)
    except RecursionError:
        why = "values nested too deeply"
    except (_Unreadable, OSError, YAMLError) as exc:
        why = _one_line(exc)
    raise RightsizeError(f"--chart {given}: {why}")


def _own(files: dict[str, bytes], root: Path, values: Path) -> bool:
    """Whether ``values`` is the chart's own values.yaml, as helm loads it (a .helmignore may leave it
    out: then helm reads it only if it is given with -f, and it is placed as such)."""
    if (root / "values.yaml").resolve() != values.resolve():
        return False
    if "values.yaml" not in files:
        why = files.get(_IGNORED_TOP, b"").decode()
        warnings.warn(f"{root}/.helmignore leaves out values.yaml ({why}): helm reads it only if "
                      "given with -f", stacklevel=3)  # fmt: skip
        return False
    return True


def _seen_as(
    chart: Chart,
    view: Any,
    tags: Any = None,
    prefix: tuple[str, ...] = (),
    above: Any = None,
    user: Any = None,
) -> Chart:
    """A chart under values set over its defaults, its subcharts under theirs, down. A subchart's key
    set to null (``postgresql:`` with only comments under it, common in an overrides file) leaves
    the subchart's defaults whole, as helm coalesces them; ``merged`` keeps that null. Which subcharts
    are turned off is judged on this view (``tags``: the top-level table as this chart sees it;
    ``above``: the parent's ``global:``, which helm copies down over the subchart's own; ``user``: the
    file being patched, at its top level)."""
    if not isinstance(view, CommentedMap):
        view = chart.view
    if not prefix:
        tags = view.get("tags")
    glob = globals_below(view.get("global"), above)
    below = {k: tags_below(c.own_tags, tags) for k, c in chart.nested.items()}
    nested = {
        k: _seen_as(c, view.get(k), below[k], (*prefix, k), glob, user) for k, c in chart.nested.items()
    }
    if any(c.view is not view.get(k) for k, c in nested.items()):
        view = CommentedMap(view)  # a copy: the view given may be the chart's own defaults
        view.update({k: c.view for k, c in nested.items()})
    judge = view if glob is None or glob is view.get("global") else CommentedMap({**view, "global": glob})
    off = {k: o for k, s in chart.switches.items() if (o := judged(s, judge, tags, prefix, user))}
    off.update({k: o for k, o in chart.off.items() if o.how == "helmignore"})
    late = [(k, items) for k, items in chart.wired if k in chart.unimported and k not in off]
    if late and chart.bare is not None and (extra := imported(late, chart.bare)):
        view = merged(extra, view)  # below everything else, as the imports of the chart's defaults
    return dataclasses.replace(chart, view=view, nested=nested, off=off)


def _one_line(what: BaseException | str) -> str:
    return " ".join(str(what).split()) or type(what).__name__


CHART_FILES = ("Chart.yaml", "values.yaml", "requirements.yaml")
# where helm looks for charts in an archive: its files, and charts/<sub>/ or charts/<sub>.tgz below
# (helm skips names starting with '_' or '.'; a .tgz elsewhere, in files/ say, is not a chart)
_SUB = r"charts/[^/_.][^/]*"
_PART = re.compile(rf"({_SUB}/)*({'|'.join(map(re.escape, CHART_FILES))}|{_SUB}\.tgz)")


# a subchart (folder or .tgz) that the top chart's .helmignore leaves out is still read, for its
# name, and marked: a file beside it by this name holds the rule (the loaders read no such file)
IGNORED = ".helmignored"
_IGNORED_TOP = "values.yaml" + IGNORED


def _dir_files(
    root: Path, depth: int = 0, above: frozenset[Path] = frozenset(), rules: Rules | None = None, at: str = ""
) -> dict[str, bytes]:
    """The files a chart folder's values come from: its own (CHART_FILES), and those of the charts in
    its charts/ (folders, symlinked ones too as helm follows them, and .tgz), to MAX_DEPTH; not every
    file below (a chart's files/ may hold archives no template reads, large ones too). The top
    folder's .helmignore applies to all (``at``: this folder's path from the top)."""
    if rules is None:
        ignore = root / ".helmignore"
        try:
            rules = parse(_read(ignore).decode("utf-8", "replace")) if ignore.is_file() else Rules()
        except IgnoreError as exc:
            raise _Unreadable(f"{root}/{exc}") from None
    out = {}
    for name in (n for n in CHART_FILES if (root / n).is_file()):
        if why := rules.ignored(at + name, False):
            out[name + IGNORED] = why.encode()
        else:
            out[name] = _read(root / name)
    charts = root / "charts"
    if depth >= MAX_DEPTH or not charts.is_dir():
        return out
    here = above | {root.resolve()}
    for entry in sorted(charts.iterdir()):
        rel = f"charts/{entry.name}"
        why = rules.ignored(at + "charts", True) or rules.ignored(at + rel, entry.is_dir())
        if entry.name.startswith(("_", ".")):
            continue
        if entry.is_file() and _archive(entry.name):
            out[rel] = _read(entry)
        elif entry.is_dir() and entry.resolve() not in here:  # a symlink back up is not walked round
            inner = Rules() if why else rules  # left out: read whole, only to name it
            for sub, blob in _dir_files(entry, depth + 1, here, inner, f"{at}{rel}/").items():
                out[f"{rel}/{sub}"] = blob
        else:
            continue
        if why:
            out[rel + ("/" if entry.is_dir() else "") + IGNORED] = why.encode()
    return out


def _read(path: Path) -> bytes:
    if path.stat().st_size > MAX_BYTES:
        raise _Unreadable(f"{path}: larger than {MAX_BYTES // 1024**2} MiB")
    return path.read_bytes()


def _archive(name: str) -> bool:
    return name.endswith(".tgz")  # helm reads only these in charts/ (a .tar.gz there is an error)


def _tar_files(blob: bytes, source: str) -> dict[str, bytes]:
    """A packaged chart's files, under its one top folder (``postgresql/values.yaml`` -> ``values.yaml``)."""
    out: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        for member in tar.getmembers():
            top, _, rel = member.name.lstrip("./").partition("/")
            if not member.isfile() or not top or not _PART.fullmatch(rel):
                continue
            if member.size > MAX_BYTES:
                raise _Unreadable(f"{source}: {member.name} is larger than {MAX_BYTES // 1024**2} MiB")
            handle = tar.extractfile(member)
            if handle is not None:
                out[rel] = handle.read()
    return out


def _load(files: dict[str, bytes], source: str, depth: int) -> Chart:
    """The chart as its own defaults leave it: its values with its subcharts' under their keys."""
    if "Chart.yaml" not in files:
        raise _Unreadable(f"{source}: no Chart.yaml")
    meta = _parse(files, "Chart.yaml", source)
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
        raise _Unreadable(f"{source}/Chart.yaml: no chart name")
    values: Any = CommentedMap()
    if "values.yaml" in files:
        values = _values(files["values.yaml"], f"{source}/values.yaml")
    if values is None:
        values = CommentedMap()
    if not isinstance(values, CommentedMap):
        raise _Unreadable(f"{source}/values.yaml: the top level is not a mapping")
    if depth >= MAX_DEPTH:
        return Chart(meta["name"], values, {}, own_tags=values.get("tags"))
    subs, left = _subcharts(files, source, depth)
    deps = _dependencies(meta, files, source)
    if depth == 0 and (missing := list(dict.fromkeys(d["name"] for d in deps if d["name"] not in subs))):
        # charts/ is often git-ignored; helm refuses the top chart until they are fetched (a subchart's
        # missing ones it only leaves unrendered)
        warnings.warn(f"{source}: dependencies not in charts/: {', '.join(missing)} (run helm dependency "
                      "build): their defaults are unknown, so a block placed under them is a guess",
                      stacklevel=2)  # fmt: skip
    keys: dict[str, Chart] = {}
    switches: dict[str, Switch] = {}
    wired: list[tuple[str, Any]] = []  # (key, its import-values)
    aliased = set()
    for dep in deps:  # an aliased dependency is rendered under its alias only
        if dep["name"] in subs:
            alias = dep.get("alias")
            key = alias if isinstance(alias, str) and alias else dep["name"]
            keys[key], switches[key] = subs[dep["name"]], switch_of(dep)
            wired.append((key, dep.get("import-values")))
            aliased |= {dep["name"]} if isinstance(alias, str) and alias else set()
    for name, sub in subs.items():
        if name not in aliased:
            keys.setdefault(name, sub)
    view = CommentedMap(values)
    for key, sub in keys.items():
        over = values.get(key)  # `postgresql:` with nothing under it leaves the defaults whole
        view[key] = sub.view if over is None else merged(sub.view, over)
    off = {k: Off("helmignore", (left[c.name],)) for k, c in keys.items() if c.name in left}
    shut = set(off) | {k for k, s in switches.items() if judged(s, view, view.get("tags"), ())}
    bare = view
    if extra := imported([(k, items) for k, items in wired if k not in shut], view):
        view = merged(extra, view)  # the chart's own values (its subcharts' under them) over the imports
    subs_view, unimported = {k: c.view for k, c in keys.items()}, frozenset(k for k, _ in wired if k in shut)
    own = Chart(meta["name"], view, subs_view, keys, switches, values.get("tags"), off, (*wired,), unimported)
    own = dataclasses.replace(own, bare=bare)
    return _seen_as(own, view)


def _parse(files: dict[str, bytes], name: str, source: str) -> Any:
    """Chart.yaml or requirements.yaml; an error names it, short."""
    try:
        return plain_yaml().load(loadable(files[name].decode("utf-8", "replace")))
    except YAMLError as exc:
        raise _Unreadable(f"{source}/{name}: invalid YAML: {_problem(exc)}") from None


def _values(blob: bytes, source: str) -> Any:
    """A values.yaml as mappings and lists the place finder reads (key order kept, a null block kept
    as a null key), by libyaml: YAML 1.1, as helm's own parser reads it."""
    try:
        return _commented(yaml.load(loadable(blob.decode("utf-8", "replace")), Loader=_FAST_LOADER))
    except yaml.YAMLError as exc:
        raise _Unreadable(f"{source}: invalid YAML: {_problem(exc)}") from None


def _commented(value: Any, memo: dict[int, Any] | None = None) -> Any:
    """The loaded values as the round-trip types (each node once: anchors stay shared, not copied)."""
    memo = {} if memo is None else memo
    if not isinstance(value, dict | list):
        return value
    if id(value) in memo:
        return memo[id(value)]
    # each filled after memo holds it: a recursive anchor ends here
    if isinstance(value, dict):
        out = memo[id(value)] = CommentedMap()
        out.update((k, _commented(v, memo)) for k, v in value.items())
        return out
    seq = memo[id(value)] = CommentedSeq()
    seq.extend(_commented(v, memo) for v in value)
    return seq


def _problem(exc: YAMLError | yaml.YAMLError) -> str:
    """What a YAML error says is wrong and on which line, without the loader's quoting of the text."""
    problem, mark = getattr(exc, "problem", None), getattr(exc, "problem_mark", None)
    if isinstance(exc, MarkedYAMLError | yaml.MarkedYAMLError) and problem:
        return _one_line(problem) + (f" (line {mark.line + 1})" if mark is not None else "")
    return _one_line(str(exc).split("\n", 1)[0])


def _dependencies(meta: dict[str, Any], files: dict[str, bytes], source: str) -> list[dict[str, Any]]:
    """Chart.yaml's dependencies, or requirements.yaml's (apiVersion v1 charts list them, aliases too,
    there; helm reads that file over Chart.yaml's list whatever the apiVersion)."""
    deps = meta.get("dependencies")
    if "requirements.yaml" in files:
        req = _parse(files, "requirements.yaml", source)
        if isinstance(req, dict) and "dependencies" in req:
            deps = req["dependencies"]
    listed = deps if isinstance(deps, list) else []
    return [d for d in listed if isinstance(d, dict) and isinstance(d.get("name"), str)]


def _subcharts(files: dict[str, bytes], source: str, depth: int) -> tuple[dict[str, Chart], dict[str, str]]:
    """Each chart in charts/ by its Chart.yaml name; and those a .helmignore leaves out (the rule)."""
    out: dict[str, Chart] = {}
    left: dict[str, str] = {}
    folders = sorted(
        {rel.split("/")[1] for rel in files if rel.startswith("charts/") and rel.count("/") >= 2}
    )
    for folder in folders:
        prefix = f"charts/{folder}/"
        sub = {rel[len(prefix) :]: blob for rel, blob in files.items() if rel.startswith(prefix)}
        if "Chart.yaml" in sub:
            chart = _load(sub, source + "/" + prefix.rstrip("/"), depth + 1)
            out[chart.name] = chart
            if IGNORED in sub:
                left[chart.name] = sub[IGNORED].decode()
    for rel, blob in sorted(files.items()):
        if rel.startswith("charts/") and rel.count("/") == 1 and _archive(rel):
            try:
                packed = _tar_files(blob, f"{source}/{rel}")
            except (OSError, EOFError, zlib.error, tarfile.TarError) as exc:
                raise _Unreadable(f"{source}/{rel}: not a chart archive: {_one_line(exc)}") from None
            chart = _load(packed, f"{source}/{rel}", depth + 1)
            if chart.name not in out and rel + IGNORED in files:
                left[chart.name] = files[rel + IGNORED].decode()
            out.setdefault(chart.name, chart)  # an unpacked folder of the same chart is what helm reads
    return out, left
