"""Where a workload's ``resources`` live in a Helm values file: the usual layouts guessed from its
name (``<name>.resources``, one level deeper, a top-level block for one workload), or a ``--map``
path resolved into the file (``valuepath``)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Iterable, Sequence

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from rightsize.errors import RightsizeError
from rightsize.sources.docker import is_oneoff
from rightsize.targets import valuepath
from rightsize.targets.helmchart import Chart
from rightsize.targets.helmdeps import Off, off_reason
from rightsize.targets.values import lookup
from rightsize.targets.yaml import Doc

MAIN_COMPONENTS = ("primary", "master", "main", "server")


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def candidate_names(workload: str) -> list[str]:
    """Names a values key may use for a workload, most specific first."""
    parts = workload.split("/")
    # namespace/kind/name/container: the container's, then its controller's names
    names = [parts[3], *_pod_names(parts[2])] if len(parts) == 4 else [parts[-1]]
    return list(dict.fromkeys(names))


def _pod_names(pod: str) -> list[str]:
    """A controller's name, and without its release prefix: "shop-postgresql" -> "postgresql"."""
    return [pod, pod.split("-", 1)[1]] if "-" in pod else [pod]


def _component(key: str, value: CommentedMap, lone: bool = True) -> tuple[str, ...] | None:
    """``key.resources``, or ``key.<only or main part>.resources`` (bitnami: primary + readReplicas).
    Not ``lone``: only a main part. A subchart declaring ``metrics.resources`` alone may read an
    undeclared ``resources`` for its main container: its numbers must not land in the sidecar's."""
    if "resources" in value:
        return (key, "resources")
    inner = [str(k) for k, v in value.items() if isinstance(v, CommentedMap) and "resources" in v]
    main = [k for k in inner if k in MAIN_COMPONENTS]
    if (lone and len(inner) == 1) or len(main) == 1:
        return (key, (main or inner)[0], "resources")
    return None


def _pod(wl: str) -> str:
    """The controller's name of a ``namespace/kind/name/container`` workload ("" for others)."""
    parts = wl.split("/")
    return parts[2] if len(parts) == 4 else ""


def _after(pod: str, key: str) -> list[str]:
    """What follows ``key`` as a run of dash-separated words in the pod's name, at each place it stands
    (``shop-redis-replicas``, ``redis``: ``["replicas"]``; ``""`` where the name ends with it)."""
    p, k = pod.lower(), key.lower()
    out = []
    for m in re.finditer(re.escape(k), p) if k else ():
        if (m.start() == 0 or p[m.start() - 1] == "-") and (m.end() == len(p) or p[m.end()] == "-"):
            out.append(p[m.end() + 1 :])
    return out


def _blocks(value: CommentedMap) -> list[str]:
    return [str(k) for k, v in value.items() if isinstance(v, CommentedMap) and "resources" in v]


def _role(pod: str, key: str, value: CommentedMap) -> str | None:
    """The one inner block named like the pod's role after the component's name: bitnami's
    ``shop-redis-replicas`` -> ``redis.replica``, ``shop-postgresql-read`` -> ``readReplicas``."""
    for rest in _after(pod, key):
        role = _norm(rest)
        hits = [b for b in _blocks(value) if min(len(role), len(_norm(b))) >= 4
                and (_norm(b).startswith(role) or role.startswith(_norm(b)))]  # fmt: skip
        if len(hits) == 1:
            return hits[0]
    return None


Found = tuple[tuple[str, ...], str]  # the keys down to ``resources``, and a note when not exact


def _find(
    data: CommentedMap, names: Sequence[str], subs: Collection[str] = (), pod: str = ""
) -> Found | None:
    """Where a workload's ``resources`` live (path, and a note when the match was not exact); ``subs``:
    the keys that are subcharts'; ``pod``: the controller's name (a sidecar's or a role's block)."""
    targets = [_norm(n) for n in names]
    maps = [(str(k), v) for k, v in data.items() if isinstance(v, CommentedMap)]
    # by the pod's name, the longest key first: shop-postgresql-ha-postgresql is postgresql-ha's
    # (its metrics sidecar must not get the postgresql subchart's metrics block)
    longest = sorted(maps, key=lambda item: -len(item[0]))
    for key, value in longest:  # a sidecar's own block inside its pod's component: postgresql.metrics
        if _norm(key) in targets[1:] or _after(pod, key):
            for k2 in _blocks(value):
                if _norm(k2) == targets[0]:
                    return (key, k2, "resources"), ""
    for key, value in longest:  # a role of a component: redis.master / redis.replica by the pod's name
        if role := _role(pod, key, value):
            return (key, role, "resources"), ""
    for target in targets:
        for key, value in maps:
            if _norm(key) == target and (found := _component(key, value, key not in subs)):
                return found, ""
    by_pod = {_norm(n) for n in _pod_names(pod)} if pod else set()
    for key, value in maps:  # one level down: global.<component>, components.<name>, ...
        # a subchart's inner blocks are its own pods': another pod's sidecar named like one (metrics)
        # must not take it; only the pod's own name leads into a subchart here (backend.api)
        for target in [t for t in targets if t in by_pod] if key in subs and pod else targets:
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
        note = f"placed by a similar name: {names[0]} ~ {key}"
        return _component(key, value, key not in subs) or (key, "resources"), note
    return None


def parse_map(items: Iterable[str]) -> dict[str, str]:
    """``WORKLOAD=path`` options as a dict; the path's spelling is checked here (``valuepath``)."""
    out = {}
    for item in items:
        workload, sep, path = item.partition("=")
        if not sep or not workload.strip() or not path.strip():
            raise RightsizeError(f"--map {item!r}: expected WORKLOAD=dotted.path")
        # 'a=x,b=y' (import's --map is comma-separated) would write a key named 'x,b=y'
        if "=" in re.sub(r"\[[^\]]*\]|\"[^\"]*\"|'[^']*'", "", path):
            raise RightsizeError(
                f"--map {item.strip()!r}: one WORKLOAD=path per --map (repeat --map for each; "
                "quote a key that holds '=': [\"a=b\"])"
            )
        try:
            valuepath.parse(path.strip())
        except RightsizeError as exc:  # the path's own errors name it; here the whole option is named
            why = str(exc).removeprefix(f"{path.strip()!r}: ")
            raise RightsizeError(f"--map {item.strip()!r}: {why}") from None
        out[workload.strip()] = path.strip()
    return out


@dataclasses.dataclass(frozen=True)
class Place:
    """Where a workload's ``resources`` go: keys under a mapping (the document, or a list item)."""

    node: CommentedMap
    label: str  # the path to node as spelled ("" for the document)
    concrete: tuple[str | int, ...]  # the way to node in keys and indices (for the read-back)
    keys: tuple[str, ...]  # from node down to ``resources``
    note: str = ""
    seen: CommentedMap | None = None  # node as the chart sees it (its defaults under the file), if known
    owner: str = ""  # the chart whose own container's block this is (the top level, by Chart.yaml)
    # the fields under ``keys`` the chart's template reads (helm template), None when not rendered
    reads: frozenset[tuple[str, ...]] | None = None

    @property
    def effective(self) -> CommentedMap:
        return self.node if self.seen is None else self.seen

    def show(self, rel: tuple[str, ...]) -> str:
        keys = valuepath.render_keys(rel)
        return f"{self.label}.{keys}" if self.label and keys else self.label or keys


def place_of(doc: Doc, wl: str, single: bool, chart: Chart | None = None) -> Place | None:
    """Where a workload's resources go, guessed from the values as the chart sees them (``chart``:
    its defaults and subcharts' under the file; the file alone without it)."""
    data: CommentedMap = doc.data
    view = chart.view if chart else data
    if is_oneoff(wl):  # `docker-compose run` jobs: "web (run)" must not land in web's values by a near name
        return None
    names = candidate_names(wl)
    found = _guess(chart or Chart("", data, {}), wl)
    if found and chart and off_at(chart, found[0]):
        return None  # a subchart helm does not render (a condition, tags, .helmignore): nothing reads it
    if found and chart and found[0][0] in chart.subcharts and not lookup(view, found[0])[0]:
        return None  # a subchart whose defaults hold no such block: nothing shows it is read
    top = _beside_top(view, found)
    own = chart is not None and chart.name and _norm(chart.name) in {_norm(n) for n in names}
    if chart and own and (found is None or top) and "resources" in view:  # the chart's own container
        note = f"the chart's own resources (Chart.yaml: name: {chart.name})"
        return Place(data, "", (), ("resources",), note, view, chart.name)
    if chart and own and found is None and (inner := _own_component(chart, _pod(wl))):
        note = f"the chart's own {inner} (Chart.yaml: name: {chart.name})"
        return Place(data, "", (), (inner, "resources"), note, view, chart.name)
    if top is not None:  # which one is the chart's: no guess, but one
        note = f"the top-level resources: {top} holds none"
        return Place(data, "", (), ("resources",), note, view) if single else None
    if found is None and single and "resources" in view:
        return Place(data, "", (), ("resources",), "", view)
    return None if found is None else Place(data, "", (), found[0], found[1], view)


def _own_component(chart: Chart, pod: str) -> str | None:
    """The chart's own block for a workload named like the chart, when it has no top-level one: the
    role its pod is named after (bitnami postgresql installed alone: ``shop-postgresql-read`` ->
    ``readReplicas``), else its one main component (``primary``)."""
    if role := _role(pod, chart.name, chart.view):
        return role
    found = _component("", chart.view, lone=False)
    return found[1] if found else None


def _guess(chart: Chart, wl: str) -> Found | None:
    return _located(chart, candidate_names(wl), _pod(wl))


def _located(chart: Chart, names: Sequence[str], pod: str) -> Found | None:
    """``_find`` in the chart's view, subcharts' blocks where they declare them; a subchart's own
    subchart (shop -> backend -> postgresql) is searched when nothing matched, or only a block the
    parent's file sets under it (backend.postgresql.resources, while it reads primary.resources)."""
    found = _declared(chart, _find(chart.view, names, chart.subcharts, pod))
    if found is not None and not _in_nested(chart, found[0]):
        return found
    for key, sub in chart.nested.items():
        inner = _located(sub, names, pod) if sub.subcharts else None
        if inner and inner[0][0] in sub.subcharts and lookup(sub.view, inner[0])[0]:
            return (key, *inner[0]), f"under {key}: {inner[1]}" if inner[1] else ""
    return found


def _in_nested(chart: Chart, keys: tuple[str, ...]) -> bool:
    """Whether keys lead into a subchart's own subchart (its defaults are that chart's to say)."""
    return len(keys) > 2 and keys[0] in chart.nested and keys[1] in chart.nested[keys[0]].subcharts


def _declared(chart: Chart | None, found: Found | None) -> Found | None:
    """A subchart's block where its own defaults declare it (bitnami postgresql: ``primary.resources``),
    not where the parent's file sets one the subchart never reads (the plan's ``postgresql.resources``)."""
    if not chart or not found or found[0][0] not in chart.subcharts or len(found[0]) != 2:
        return found
    key = found[0][0]
    own = chart.subcharts[key]
    if "resources" in own or not (declared := _component(key, own, lone=False)):
        return found
    note = f"{key}.resources is not read by the subchart {key}: it declares {'.'.join(declared)}"
    return declared, "; ".join(n for n in (found[1], note) if n)


def off_at(chart: Chart, keys: tuple[str, ...]) -> tuple[str, Off] | None:
    """The subchart (its keys from the top, dotted) on the way down ``keys`` that helm leaves out."""
    if keys and keys[0] in chart.off:
        return keys[0], chart.off[keys[0]]
    if len(keys) > 1 and keys[0] in chart.nested and (inner := off_at(chart.nested[keys[0]], keys[1:])):
        return f"{keys[0]}.{inner[0]}", inner[1]
    return None


def off_subchart(
    chart: Chart, wl: str, data: CommentedMap, file: str, over: object = None, under: object = None
) -> str | None:
    """The skip reason of a workload whose block is in a subchart helm does not render."""
    found = None if is_oneoff(wl) else _guess(chart, wl)
    hit = off_at(chart, found[0]) if found else None
    return off_reason(hit[1], hit[0], data, file, over, under) if hit else None


def off_noted(chart: Chart, place: Place) -> Place:
    """A ``--map`` place inside a subchart helm does not render: written as asked, and said so."""
    keys: list[str] = []
    for step in (*place.concrete, *place.keys):
        if not isinstance(step, str):
            break
        keys.append(step)
    hit = off_at(chart, tuple(keys))
    if hit is None:
        return place
    how = "by .helmignore" if hit[1].how == "helmignore" else f"by its {hit[1].how}"
    note = f"the subchart {hit[0]} is turned off {how} ({'.'.join(hit[1].path)}): helm renders none of it"
    return dataclasses.replace(place, note="; ".join(n for n in (place.note, note) if n))


def unread_subchart(chart: Chart, wl: str) -> str | None:
    """The subchart key a workload matched whose own values hold no resources block there."""
    found = _guess(chart, wl)
    if found and found[0][0] in chart.subcharts and not lookup(chart.view, found[0])[0]:
        return found[0][0]
    return None


def claim(place: Place, wl: str) -> int:
    """How strongly a workload claims a guessed place (lower first): 0 when it is under a key named like
    the workload's own container and its pod's name holds that key too (bitnami's shop-redis-master
    for ``redis.master``), 1 by the container's name alone (another pod's sidecar named ``redis``
    reaches the same block), 2 by the Deployment's name only (``.../shop-web/exporter`` at ``web``):
    the stronger claim takes a block two workloads reach."""
    own = _norm(candidate_names(wl)[0])
    keys = (*place.keys[:-1], place.owner)
    if not any(_norm(k) == own for k in keys):
        return 2
    return 0 if any(k and _after(_pod(wl), k) for k in keys) else 1


def _beside_top(data: CommentedMap, found: tuple[tuple[str, ...], str] | None) -> str | None:
    """The key a workload matched, when resources would be created under it beside a top-level
    ``resources``: that may be the chart's own container (the ollama chart's ``ollama:`` holds its
    settings, gpu and models; ``ollama.resources`` is read by nothing), or a subchart's."""
    if found is None or "resources" not in data or lookup(data, found[0])[0]:
        return None
    return found[0][0]


def beside_top(chart: Chart, wl: str) -> str | None:
    """The key this workload's name matches when that key holds no resources and the top level does."""
    return _beside_top(chart.view, _guess(chart, wl))


_BLOCKS = (valuepath.Key("limits"), valuepath.Key("requests"))


def mapped_place(doc: Doc, wl: str, spelled: str, view: CommentedMap | None = None) -> Place:
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
        hint = ""
        if view is not None and head and _resolves(view, head):  # a list only the chart's defaults hold
            hint = " (the chart's values have it, and helm replaces a list as a whole: copy the list here)"
        raise RightsizeError(f"{doc.source}: --map {wl}={spelled}: {exc}{hint}") from None
    # the chart's defaults there count too: a request above the limit a subchart keeps is refused
    seen = _resolved(view, head) if view is not None else None
    return Place(found.node, label, found.concrete, keys, seen=seen)


def _resolves(data: CommentedMap, steps: tuple[valuepath.Step, ...]) -> bool:
    return _resolved(data, steps) is not None


def _resolved(data: CommentedMap, steps: tuple[valuepath.Step, ...]) -> CommentedMap | None:
    try:
        return valuepath.resolve(data, steps).node
    except RightsizeError:
        return None


def list_hint(data: CommentedMap, names: Sequence[str]) -> str | None:
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
