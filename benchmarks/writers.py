"""Writers: how many lines a patch touches, and how long it takes, beside a plain ruamel.yaml round trip.

Baseline: the usual way to edit YAML while "keeping comments": ruamel.yaml round-trip load, set the
same values in the tree, dump. Ours: parse once, splice only the changed scalars into the text.
Both get the same recommendations. Counted: lines of the unified diff that are not resource values
(lines nobody asked to change), and wall time on a generated compose file of N services.

``--formats N``: ``recommend --format`` for N workloads (3 recommendations each, from the seeded
analyzer generator, 1,000 samples each), every format timed; YAML beside ruamel.yaml's safe dump
of the same records (what ``render`` called before) and the table beside rich drawing every row
(as before), each with a byte comparison.

    python benchmarks/writers.py [--services 500]
    python benchmarks/writers.py --services 0 --formats 3000
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from writer_recs import M, rec, stack_recs  # noqa: E402

from rightsize.targets.compose import patch_compose  # noqa: E402
from rightsize.units import format_bytes, format_cpus  # noqa: E402

RESOURCE_KEYS = ("memory", "cpus", "pids", "mem_limit", "mem_reservation", "memswap_limit", "pids_limit")


def baseline(text: str, recs: list, project: str) -> str:
    """ruamel round trip: set deploy.resources (or the legacy keys that exist) in the tree, dump."""
    y = YAML()
    y.preserve_quotes = True
    y.width = 4096
    data = y.load(text)
    for r in recs:
        svc_name = r.workload.split("/")[-1]
        svc = data["services"].get(svc_name)
        if svc is None or r.recommended is None or r.recommended.limit is None:
            continue
        value = format_bytes(r.recommended.limit) if r.resource == "memory" else (
            format_cpus(r.recommended.limit) if r.resource == "cpu" else int(r.recommended.limit))
        legacy = {"memory": "mem_limit", "cpu": "cpus", "pids": "pids_limit"}[r.resource]
        if legacy in svc:
            svc[legacy] = value
        else:
            key = {"memory": "memory", "cpu": "cpus", "pids": "pids"}[r.resource]
            svc.setdefault("deploy", {}).setdefault("resources", {}).setdefault("limits", {})[key] = value
    buf = io.StringIO()
    y.dump(data, buf)
    return buf.getvalue()


def unrelated_lines(before: str, after: str) -> int:
    """Lines of the original that are gone (as a multiset) and are not a resource value."""
    gone = Counter(before.splitlines()) - Counter(after.splitlines())
    return sum(n for line, n in gone.items() if line.split(":")[0].strip() not in RESOURCE_KEYS)


def generated(n: int) -> tuple[str, list]:
    parts = ["# generated stack\nname: big\nx-defaults: &defaults\n  restart: unless-stopped\n\nservices:\n"]
    recs = []
    for i in range(n):
        parts.append(
            f"  svc{i}:   # service {i}\n    <<: *defaults\n    image: example/svc{i}:1\n"
            f"    command: [\"run\",\n              \"--port\", \"{8000 + i}\"]\n"
            f"    environment: {{A: '1', B: \"2\"}}\n"
            f"    deploy:\n      resources:\n        limits:\n          memory: 1G\n          cpus: '2'\n\n"
        )
        recs.append(rec(f"big/svc{i}", "memory", 256 * M, 512 * M))
        recs.append(rec(f"big/svc{i}", "cpu", 0.25, 1.0))
    return "".join(parts), recs


def formats(workloads: int, root: Path) -> None:
    """Every output format for ``workloads`` workloads; YAML beside the ruamel dump."""
    from rightsize.analysis.recommend import recommend
    from rightsize.render import FORMATS, render
    from rightsize.render_yaml import _ruamel

    data = root / f"{workloads}w"
    if not (data / "samples").is_dir():
        subprocess.run(
            [sys.executable, str(ROOT / "benchmarks/make_analyzer_data.py"), "--rows", str(workloads * 1000),
             "--workloads", str(workloads), "--out", str(data)],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        recs = recommend(data)
    print(f"\nrecommend --format, {workloads:,} workloads = {len(recs):,} recommendations ({data})")
    print(f"{'format':<48}{'wall':>9}{'cpu':>9}{'output':>11}")
    out = {}
    for fmt, width in [*((f, 160) for f in FORMATS), ("table", 80)]:
        label = f"{fmt}, {width} columns" if fmt == "table" else fmt
        t0, c0 = time.perf_counter(), time.process_time()
        out[label] = render(recs, fmt, width=width)
        print(f"{label:<48}{time.perf_counter() - t0:>8.2f}s{time.process_time() - c0:>8.2f}s"
              f"{len(out[label]) / 1e6:>8.1f} MB")  # fmt: skip
    t0, c0 = time.perf_counter(), time.process_time()
    old = _ruamel([r.to_dict() for r in recs])
    print(f"{'baseline: ruamel.yaml safe dump (the old yaml)':<48}{time.perf_counter() - t0:>8.2f}s"
          f"{time.process_time() - c0:>8.2f}s")  # fmt: skip
    from rightsize import render_table

    render_table.WHOLE = 10**9  # the table as rich alone draws it (the old table)
    for width in (160, 80):
        t0, c0 = time.perf_counter(), time.process_time()
        same = render(recs, "table", width=width) == out[f"table, {width} columns"]
        print(f"{f'baseline: rich draws every row, {width} columns':<48}{time.perf_counter() - t0:>8.2f}s"
              f"{time.process_time() - c0:>8.2f}s   identical: {same}")  # fmt: skip
    print(f"yaml identical to the ruamel dump: {out['yaml'] == old}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=500)
    ap.add_argument("--formats", type=int, default=0, metavar="N", help="time every format for N workloads")
    ap.add_argument("--root", default="/tmp/rightsize-bench-formats", help="--formats' dataset")
    args = ap.parse_args()
    if args.formats:
        formats(args.formats, Path(args.root))
    if not args.services:
        return
    tmp = Path(tempfile.mkdtemp(prefix="rs-bench-writers-"))
    try:
        print(f"{'file':<28}{'unrelated lines changed':>26}{'time':>18}")
        print(f"{'':<28}{'ruamel dump':>13}{'rightsize':>13}{'ruamel dump':>12}{'rightsize':>10}")
        cases = [("tests stack.yml (sutazai)", (ROOT / "tests/fixtures/compose/stack.yml").read_text(),
                  stack_recs(), "sutazai")]
        big_text, big_recs = generated(args.services)
        cases.append((f"generated, {args.services} services", big_text, big_recs, "big"))
        for name, text, recs, project in cases:
            t0 = time.perf_counter()
            base_out = baseline(text, recs, project)
            t_base = time.perf_counter() - t0
            path = tmp / "compose.yml"
            path.write_text(text)
            t0 = time.perf_counter()
            patch_compose([path], recs, project=project)
            t_ours = time.perf_counter() - t0
            ours_out = path.read_text()
            print(f"{name:<28}{unrelated_lines(text, base_out):>13}{unrelated_lines(text, ours_out):>13}"
                  f"{t_base:>11.2f}s{t_ours:>9.2f}s")
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
