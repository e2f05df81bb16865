"""``apply``'s Helm options: checked once (one error line when one is given without ``--helm``), and
the ``patch_helm`` call they configure (kept out of ``cli.py``, which only parses and prints)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rightsize.cli_checks import not_empty
from rightsize.errors import RightsizeError
from rightsize.models import PatchResult

# helm's own rule for a release name (pkg/chartutil ValidateReleaseName), at most 53 characters
_RELEASE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


@dataclasses.dataclass(frozen=True)
class HelmTarget:
    values_file: str
    cluster: str | None
    map_: Sequence[str]
    chart: str | None
    release: str | None
    render: bool
    values: Sequence[str]
    sets: Sequence[str]

    def patch(
        self, recs: Callable[[], list[Any]], dry_run: bool, backup: bool, only: list[str] | None,
        min_confidence: float,
    ) -> PatchResult:  # fmt: skip
        from rightsize.targets.clusters import helm_map, helm_recs
        from rightsize.targets.helm import parse_map, patch_helm

        return patch_helm(self.values_file, helm_recs(recs, self.cluster),
                          mapping=helm_map(parse_map(list(self.map_)), self.cluster), dry_run=dry_run,
                          backup=backup, only=only, min_confidence=min_confidence, chart=self.chart,
                          render=self.render, release=self.release, values=list(self.values),
                          sets=list(self.sets))  # fmt: skip


def helm_target(
    helm: str | None, cluster: str | None, map_: Sequence[str], chart: str | None, release: str | None,
    render: bool, values: Sequence[str], helm_set: Sequence[str],
) -> HelmTarget | None:  # fmt: skip
    """The Helm target, or None without ``--helm`` (then a Helm-only option given is one error)."""
    from rightsize.targets.clusters import check_cluster_option

    check_cluster_option(cluster, helm)
    helm_only = {"--release": release is not None, "--values": values, "--helm-set": helm_set,
                 "--no-render": not render}  # fmt: skip
    if helm is None and (what := next((o for o, on in helm_only.items() if on), None)):
        raise RightsizeError(f"{what} works with --helm only")
    if helm is None:
        return None
    not_empty("--release", release, "the release name the pods were named under (helm install NAME)")
    not_empty("--values", list(values), "a values file helm gets before the one written")
    if release and (not _RELEASE.fullmatch(release) or len(release) > 53):  # helm would refuse it
        raise RightsizeError(f"--release {release!r}: not a helm release name (lower-case letters, digits, "
                             "'-' and '.', at most 53 characters)")  # fmt: skip
    alone = Path(helm).is_file() and not (Path(helm).parent / "Chart.yaml").is_file()
    if release is not None and chart is None and alone:  # no chart, no render: it would be ignored
        raise RightsizeError("--release names the release for the render, which needs the chart: the "
                             "values file is not beside its Chart.yaml, so give --chart (a folder or .tgz)")
    if release is not None and not render:  # it would be ignored
        raise RightsizeError("--release names the release for the render: leave out --no-render, or "
                             "--release")  # fmt: skip
    return HelmTarget(helm, cluster, map_, chart, release, render, values, helm_set)
