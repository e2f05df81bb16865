"""One cluster's workloads out of a dataset holding several (``--cluster NAME``).

A Prometheus pull with ``--cluster prod`` names its workloads ``prod:shop/Deployment/web/nginx``,
so several clusters can share one dataset root. A Helm values file deploys one cluster's release:
given the whole root, staging's and prod's same-named workloads would claim one values block.
``--cluster`` keeps one cluster's recommendations and names them as the values know them (without
the prefix); without it, a root of several clusters is refused for ``--helm`` rather than guessed.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping, Sequence

from rightsize.errors import RightsizeError
from rightsize.globs import matches, warn_unmatched
from rightsize.models import Recommendation
from rightsize.sources.prometheus_options import cluster_name

# a pull's workload: cluster:namespace/kind/name/container (a cluster name never holds ":" or "/",
# and no Compose project/service or namespace holds ":")
_PREFIXED = re.compile(
    r"(?P<cluster>[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?):(?P<rest>[^/:]+(?:/[^/]+){3})"
)
_KUBE = re.compile(r"[^/:]+(?:/[^/:]+){3}")  # namespace/kind/name/container of a pull without --cluster


def split(workload: str) -> tuple[str, str]:
    """``prod:shop/Deployment/web/nginx`` -> ``("prod", "shop/Deployment/web/nginx")``; a name
    without a cluster -> ``("", name)``."""
    m = _PREFIXED.fullmatch(workload)
    return (m["cluster"], m["rest"]) if m else ("", workload)


def clusters_in(workloads: Iterable[str]) -> list[str]:
    """The cluster names among ``workloads``, sorted."""
    return sorted({c for c in (split(w)[0] for w in workloads) if c})


def _described(found: list[str]) -> str:
    return f"its clusters: {', '.join(found)}" if found else "it names no cluster: pulled without --cluster"


def pick(recs: Sequence[Recommendation], cluster: str) -> list[Recommendation]:
    """The recommendations of ``cluster``'s workloads, named without the ``cluster:`` prefix."""
    cluster = cluster_name(cluster)
    kept = []
    for rec in recs:
        name, rest = split(rec.workload)
        if name == cluster:
            kept.append(dataclasses.replace(rec, workload=rest))
    if not kept:
        found = clusters_in(r.workload for r in recs)
        raise RightsizeError(f"--cluster {cluster}: no such cluster in the data ({_described(found)})")
    return kept


def for_helm(recs: Sequence[Recommendation], cluster: str | None) -> list[Recommendation]:
    """What one values file is patched with: ``cluster``'s recommendations, or all when the data
    holds at most one cluster (an error names them when it holds several and none was picked)."""
    if cluster is not None:
        return pick(recs, cluster)
    found = clusters_in(r.workload for r in recs)
    if len(found) > 1:
        raise RightsizeError(
            f"the data holds {len(found)} clusters ({', '.join(found)}) whose same-named workloads would "
            f"claim the same values: pick the one this values file deploys "
            f"({' or '.join(f'--cluster {c}' for c in found[:3])})"
        )
    # one cluster pulled with --cluster, another into the same root without: the same clash
    if found and any(_KUBE.fullmatch(r.workload) for r in recs):
        raise RightsizeError(
            f"the data holds cluster {found[0]} and workloads pulled without --cluster, whose same-named "
            f"workloads would claim the same values: pick --cluster {found[0]}, or pull the other cluster "
            "into its own --out (or again with --cluster NAME)"
        )
    return list(recs)


def helm_recs(
    recs: Callable[[], Sequence[Recommendation]], cluster: str | None
) -> Callable[[], list[Recommendation]]:
    """``recs`` (computed when called, after the values file was checked) through ``for_helm``."""
    return lambda: for_helm(recs(), cluster)


def helm_map(mapping: Mapping[str, str], cluster: str | None) -> dict[str, str]:
    """``--map`` with ``--cluster``: a workload may be named with or without the cluster (``prod:shop/…``
    or ``shop/…``); one of another cluster is an error (it is not written under --cluster)."""
    if cluster is None:
        return dict(mapping)
    out = {}
    for workload, path in mapping.items():
        name, rest = split(workload)
        if name and name != cluster:
            raise RightsizeError(
                f"--map {workload}={path}: a workload of cluster {name}, not of --cluster {cluster}"
            )
        out[rest] = path
    return out


def checked(cluster: str | None) -> None:
    """A bad ``--cluster`` name is one error line before any data is read."""
    if cluster is not None:
        cluster_name(cluster)


def check_cluster_option(cluster: str | None, helm: str | None) -> None:
    """``apply --cluster`` picks the workloads of a Helm values file; Compose and --live have no clusters."""
    checked(cluster)
    if cluster is not None and helm is None:
        raise RightsizeError(
            "--cluster picks one Kubernetes cluster's workloads for --helm; Compose files and --live "
            "containers have none (select workloads with --services)"
        )


def for_recommend(
    recs: Sequence[Recommendation], cluster: str, workloads: str | None
) -> list[Recommendation]:
    """``recommend --cluster``: ``cluster``'s recommendations without the prefix, then the
    ``--workload`` globs (matched with or without the ``cluster:`` prefix)."""
    kept = pick(recs, cluster)
    if not workloads:
        return kept

    def wanted(name: str) -> bool:
        return matches(name, workloads) or matches(f"{cluster}:{name}", workloads)

    chosen = [r for r in kept if wanted(r.workload)]
    if not chosen:
        raise RightsizeError(f"no workload of cluster {cluster} matches {workloads!r}")
    names = {r.workload for r in kept} | {f"{cluster}:{r.workload}" for r in kept}
    warn_unmatched(workloads, names, f"of cluster {cluster}")
    return chosen
