"""Which recommendations belong to a compose service (or a Helm component).

Workload names: compose ``project/service``; Kubernetes ``namespace/kind/name/container``; else the
container name. A service ``svc`` matches ``project/svc`` when the project is known, else ``*/svc``,
or a workload named like its ``container_name``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from rightsize.models import Recommendation


def match_workloads(
    service: str, recs: Sequence[Recommendation], *, project: str | None = None, aliases: Iterable[str] = ()
) -> tuple[list[Recommendation], str]:
    """The recommendations for one service, or ([], why not)."""
    names = {r.workload for r in recs}
    exact = [f"{project}/{service}"] if project else []
    hit = [w for w in exact if w in names]
    if not hit:
        alias_hits = [a for a in (*aliases, service) if a in names]
        compose_hits = (
            [] if project else sorted(w for w in names if w.count("/") == 1 and w.split("/")[1] == service)
        )
        hit = list(dict.fromkeys(alias_hits or compose_hits))
    if not hit:
        return [], "service not in the data"
    if len(hit) > 1:
        return [], f"ambiguous: workloads {', '.join(hit)} in the data (pass --project)"
    return [r for r in recs if r.workload == hit[0]], ""


Recs = Sequence[Recommendation] | Callable[[], Sequence[Recommendation]]


def resolve(recs: Recs) -> list[Recommendation]:
    """Recommendations given directly, or computed only now (after the files were checked: fail fast)."""
    return list(recs() if callable(recs) else recs)
