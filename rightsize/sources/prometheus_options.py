"""The Prometheus pull's naming options: ``--namespace`` (comma lists) and ``--cluster``."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rightsize.errors import RightsizeError

# what a cluster name may hold: it is glob-matched (--workload: no * ? [ ] ,), split at "/" and set
# off from the namespace by ":" (neither allowed), and ends up in file names (safe characters only)
_CLUSTER = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?")


def namespace_list(values: Sequence[str] | None) -> tuple[str, ...]:
    """``["shop,batch", "web"]`` -> ``("shop", "batch", "web")`` (kubectl-like comma lists; repeats
    and blanks dropped); given but naming none (``","``: unset variables) is an error, not "all"."""
    names = tuple(dict.fromkeys(n.strip() for v in values or () for n in v.split(",") if n.strip()))
    if values and not names:
        raise RightsizeError(
            f"--namespace {','.join(values)!r} names no namespace: expected a namespace or a comma list "
            "such as shop,batch (leave --namespace out for every namespace)"
        )
    return names


def cluster_name(value: str | None) -> str:
    """The checked ``--cluster`` name ("" when not given)."""
    if value is None:
        return ""
    if not value.strip():
        raise RightsizeError("--cluster is empty: expected a name such as prod (or leave --cluster out)")
    if not _CLUSTER.fullmatch(value):
        raise RightsizeError(
            f"--cluster {value!r}: expected a name such as prod or eu-west.k3s: letters, digits, '.', '-' "
            "or '_', at most 63, beginning and ending with a letter or digit"
        )
    return value


def qualified(cluster: str, name: str) -> str:
    """``prod:shop/...`` for a namespace-first name (workload, container id) or a node."""
    return f"{cluster}:{name}" if cluster else name
