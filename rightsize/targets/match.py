"""Which recommendations belong to a compose service (or a Helm component).

Workload names: compose ``project/service``; Kubernetes ``namespace/kind/name/container``; else the
container name. A service ``svc`` matches ``project/svc`` when the project is known, else ``*/svc``,
or a workload named like its ``container_name``. ``docker-compose run`` one-offs of a service
(``project/svc (run)``, see ``sources.docker.workload_name``) never match it: a migration's or a
batch job's usage is not the service's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from rightsize.models import Recommendation
from rightsize.sources.docker import ONEOFF_SUFFIX, is_oneoff


def candidates(
    service: str, recs: Sequence[Recommendation], *, project: str | None = None, aliases: Iterable[str] = ()
) -> list[str]:
    """The workloads in ``recs`` that could be the service (more than one: ambiguous)."""
    names = {r.workload for r in recs if not is_oneoff(r.workload)}
    exact = [f"{project}/{service}"] if project else []
    hit = [w for w in exact if w in names]
    if not hit:
        alias_hits = [a for a in (*aliases, service) if a in names]
        compose_hits = (
            [] if project else sorted(w for w in names if w.count("/") == 1 and w.split("/")[1] == service)
        )
        hit = list(dict.fromkeys(alias_hits or compose_hits))
    return hit


def match_workloads(
    service: str, recs: Sequence[Recommendation], *, project: str | None = None, aliases: Iterable[str] = ()
) -> tuple[list[Recommendation], str]:
    """The recommendations for one service, or ([], why not)."""
    hit = candidates(service, recs, project=project, aliases=aliases)
    if not hit:
        run = f"{service}{ONEOFF_SUFFIX}"
        runs = sorted({w for w in (r.workload for r in recs) if w == f"{project}/{run}" or (
            not project and w.count("/") == 1 and w.split("/")[1] == run)})
        if runs:  # say why, rather than "not in the data"
            return [], f"only its one-off runs are in the data ({', '.join(runs)}): not the service's usage"
        return [], "service not in the data"
    if len(hit) > 1:
        return [], f"ambiguous: workloads {', '.join(hit)} in the data (pass --project)"
    return [r for r in recs if r.workload == hit[0]], ""


Recs = Sequence[Recommendation] | Callable[[], Sequence[Recommendation]]


def resolve(recs: Recs) -> list[Recommendation]:
    """Recommendations given directly, or computed only now (after the files were checked: fail fast)."""
    return list(recs() if callable(recs) else recs)
