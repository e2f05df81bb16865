"""Reading a Helm umbrella chart for ``apply --helm``: libyaml (rightsize) vs ruamel's round trip
(the loader used before), on the same generated charts in the same run.

    python benchmarks/helm_chart.py [--subcharts 20] [--components 60] [--rounds 3]

The umbrella's ``charts/`` holds ``--subcharts`` packaged subcharts (``.tgz``), each a values.yaml
like bitnami's: mostly ``## @param`` comments, ``--components`` blocks with image, resources and
empty lists/maps (60 components: ~30 KB; bitnami postgresql's is ~80 KB, ~160 here). The time is
``helmchart.read_chart`` for the umbrella's values.yaml (CPU time of this process, best of
``--rounds``); both loaders must give the same view.
"""

from __future__ import annotations

import argparse
import io
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from rightsize.targets import helmchart
from rightsize.targets.yaml import loadable, make_yaml


def values_text(components: int) -> str:
    out = ["## Default values (bitnami style)", ""]
    for i in range(components):
        out += [
            f"## @section component{i} parameters",
            f"## @param comp{i}.enabled Deploy component {i}; see https://example.com/docs/comp{i}",
            f"## @param comp{i}.image.tag The image tag (immutable tags are recommended)",
            f"## @param comp{i}.resources Set container requests and limits for different resources",
            "## e.g:",
            "## resources:",
            "##   requests:",
            "##     cpu: 2",
            "##     memory: 512Mi",
            f"comp{i}:",
            "  enabled: true",
            f"  image: {{registry: docker.io, repository: bitnami/comp{i}, tag: 1.{i}.0}}",
            "  resources: {}",
            "  extraEnvVars: []",
            "  podLabels: {}",
            "  replicaCount: 1",
            "",
        ]
    return "\n".join(out)


def tgz(name: str, values: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for rel, text in (
            ("Chart.yaml", f"apiVersion: v2\nname: {name}\nversion: 0.1.0\n"),
            ("values.yaml", values),
        ):
            data = text.encode()
            info = tarfile.TarInfo(f"{name}/{rel}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def make_chart(root: Path, subcharts: int, components: int) -> Path:
    (root / "charts").mkdir(parents=True)
    (root / "Chart.yaml").write_text("apiVersion: v2\nname: shop\nversion: 0.1.0\n")
    (root / "values.yaml").write_text("replicaCount: 1\n")
    text = values_text(components)
    for i in range(subcharts):
        (root / "charts" / f"sub{i}-0.1.0.tgz").write_bytes(tgz(f"sub{i}", text))
    return root


def ruamel_values(blob: bytes, source: str) -> Any:
    return make_yaml().load(loadable(blob.decode("utf-8", "replace")))


def timed(chart: Path, rounds: int) -> tuple[float, Any]:
    data = make_yaml().load((chart / "values.yaml").read_text())
    best, view = float("inf"), None
    for _ in range(rounds):
        t0 = time.process_time()
        view = helmchart.read_chart(chart / "values.yaml", data).view
        best = min(best, time.process_time() - t0)
    return best, view


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--subcharts", type=int, default=20)
    ap.add_argument("--components", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        chart = make_chart(Path(tmp) / "shop", args.subcharts, args.components)
        size = len(values_text(args.components)) // 1024
        ours, view = timed(chart, args.rounds)
        fast = helmchart._values
        helmchart._values = ruamel_values  # the loader read_chart used before, in the same code path
        try:
            base, base_view = timed(chart, args.rounds)
        finally:
            helmchart._values = fast
    assert view == base_view, "the two loaders' views differ"
    print(f"{args.subcharts} subcharts, values.yaml {size} KB each, best of {args.rounds} (CPU s)")
    print(f"  ruamel round trip (before): {base:7.2f} s")
    print(f"  libyaml (rightsize):        {ours:7.2f} s   {base / ours:5.1f}x faster")


if __name__ == "__main__":
    main()
