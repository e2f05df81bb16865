"""How long does pulling a 14-day, 500-container history from Prometheus take, and how many queries?

Backfills a seeded K3s-like history (cAdvisor + kube-state-metrics series, 3 replicas per
Deployment, 10 namespaces, 5 nodes) into a real Prometheus with promtool, then measures in the same
run:

* ours: ``rightsize.sources.prometheus.pull`` (queries per metric and namespace, time-chunked),
  writing the Parquet dataset;
* baseline: one range query per container and metric (what a script looping over the pods does),
  chunked and parsed the same way but not written, on the containers of one namespace (a tenth),
  beside ``pull`` of that same namespace, and scaled linearly to all containers.

The backfill stores one sample every ``--sample-every`` seconds (default 30 min) and the server
runs with a longer lookback, so a 1-minute step still returns every point of a real 1-minute
scrape: response sizes, query counts and client work are those of the real thing, while promtool
stays affordable. The server's own work per query is lower than on densely scraped data.

    python benchmarks/prometheus_pull.py                       # 500 containers, 14 days, 1m step
    python benchmarks/prometheus_pull.py --containers 50 --days 3   # a quick look

Wall times depend on what else runs on the machine; CPU is this process's (client) time only.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from prom_fixtures import PrometheusServer, backfill, big_cluster, write_openmetrics

from rightsize import store
from rightsize.sources.prometheus import PullSummary, pull
from rightsize.sources.prometheus_client import CHUNK_POINTS, PromClient, chunks
from rightsize.sources.prometheus_frames import SPECS


def prepare(args: argparse.Namespace) -> tuple[Path, int]:
    """Backfilled TSDB folder (reused when the same parameters were backfilled before) and its end."""
    work = Path(args.workdir or tempfile.gettempdir()) / (
        f"rightsize-bench-prom-{args.containers}c-{args.days}d-{args.sample_every}s"
    )
    marker = work / "backfilled.json"
    if marker.exists() and not args.fresh:
        end = int(json.loads(marker.read_text())["end"])
        print(f"reusing the backfill in {work}")
        return work, end
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    cluster = big_cluster(args.containers, args.days)
    t0 = time.perf_counter()
    lines = write_openmetrics(cluster, work / "openmetrics", args.sample_every, args.sample_every, lean=True)
    t1 = time.perf_counter()
    backfill(work / "openmetrics", work / "tsdb")
    t2 = time.perf_counter()
    shutil.rmtree(work / "openmetrics")
    print(f"backfill: {lines:,} OpenMetrics samples written in {t1 - t0:.1f}s, promtool {t2 - t1:.1f}s")
    marker.write_text(json.dumps({"end": cluster.end, "lines": lines}))
    return work, cluster.end


def baseline(
    url: str, end: int, args: argparse.Namespace, window: float, namespace: str
) -> dict[str, float]:
    """Per-container queries for every container of ``namespace``: queries, wall/CPU seconds, bytes."""
    start = end - args.days * 86400
    with PromClient(url) as client:
        present = client.metric_names(start, end)
        specs = [spec.with_names(spec.available(present)) for spec in SPECS if spec.available(present)]
        sel = f'container_memory_working_set_bytes{{container!="",container!="POD",namespace="{namespace}"}}'
        pods = sorted({s["pod"] for s in client.series(sel, start, end)})
        before = client.stats.queries
        wall, cpu = time.perf_counter(), time.process_time()
        for pod in pods:
            for spec in specs:  # the same metrics ``pull`` found, one container at a time
                q = spec.query(namespace, window).replace(
                    f'namespace="{namespace}"', f'namespace="{namespace}",pod="{pod}"'
                )
                for a, b in chunks(start, end, args.step, CHUNK_POINTS):
                    client.query_range(q, a, b, args.step)
        return {
            "containers": len(pods),
            "queries": client.stats.queries - before,
            "wall": time.perf_counter() - wall,
            "cpu": time.process_time() - cpu,
            "bytes": client.stats.bytes,
        }


def ours(
    url: str, end: int, args: argparse.Namespace, namespaces: list[str] | None
) -> tuple[PullSummary, dict[str, float]]:
    out = Path(tempfile.mkdtemp(prefix="rightsize-bench-pull-"))
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        s = pull(url, out, args.days * 86400, args.step, namespaces, quiet=True, now=end)
        took = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}
        took["rows"] = len(store.load(out, columns=["ts"]))
        return s, took
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--containers", type=int, default=500)
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--step", type=float, default=60.0)
    ap.add_argument("--sample-every", type=int, default=1800, help="backfill sample spacing, seconds")
    ap.add_argument("--workdir", default=None, help="where the backfill is kept (default: the temp dir)")
    ap.add_argument("--fresh", action="store_true", help="backfill again even if a backfill exists")
    args = ap.parse_args()

    work, end = prepare(args)
    lookback = f"{int(args.sample_every * 1.5)}s"
    warnings.simplefilter("ignore")  # the lean backfill lacks optional families on purpose
    with PrometheusServer(work / "tsdb", (f"--query.lookback-delta={lookback}",)) as server:
        # same-run comparison on one namespace (~1/10 of the containers), then the whole pull;
        # one untimed pull first, so that neither side pays for the server's cold page cache
        ours(server.url, end, args, ["team0"])
        sub, sub_took = ours(server.url, end, args, ["team0"])
        base = baseline(server.url, end, args, sub.rate_window, "team0")
        full, full_took = ours(server.url, end, args, None)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    scale = full.containers / base["containers"]
    print(f"\n{full}\n")
    print(f"{'':44}{'containers':>11}{'queries':>9}{'wall s':>9}{'CPU s':>8}{'MB':>7}")
    base_all = {"wall": base["wall"] * scale, "cpu": base["cpu"] * scale}
    rows = [
        ("rightsize pull, namespace team0", sub.containers, sub.queries, sub_took, sub.bytes),
        ("baseline: per-container queries, team0", base["containers"], base["queries"], base, base["bytes"]),
        ("rightsize pull, all namespaces", full.containers, full.queries, full_took, full.bytes),
        (f"baseline scaled to all (x{scale:.1f})", full.containers, base["queries"] * scale, base_all,
         base["bytes"] * scale),
    ]
    for name, n, q, took, nbytes in rows:
        print(f"{name:44}{n:>11,}{round(q):>9,}{took['wall']:>9.1f}{took['cpu']:>8.1f}{nbytes / 1e6:>7.0f}")
    written = full_took["rows"]
    print(f"\nall namespaces: {written:,} samples written ({written / full_took['wall']:,.0f}/s), "
          f"{full.files} files, {full.points:,} points parsed, peak RSS {rss:.0f} MiB, "
          f"rate window {full.rate_window:.0f}s")
    print("baseline = query + parse only (it writes nothing); rightsize also builds and writes the dataset")


if __name__ == "__main__":
    main()
