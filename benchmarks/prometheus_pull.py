"""How long does pulling a 14-day, 500-container history from Prometheus take, and how many queries?

Backfills a seeded K3s-like history (cAdvisor + kube-state-metrics series, 3 replicas per
Deployment, 10 namespaces, 5 nodes) into a real Prometheus with promtool, then measures in the same
run:

* ours: ``rightsize.sources.prometheus.pull`` (queries per metric and namespace, time-chunked),
  writing the Parquet dataset;
* baseline: one range query per container and metric (what a script looping over the pods does),
  chunked the same way and parsed the same way but not written, on a random subset of containers,
  scaled linearly to all of them (running it on all 500 would take many minutes more).

The backfill stores one sample every ``--sample-every`` seconds (default 30 min) and the server
runs with a longer lookback, so a 1-minute step still returns every point of a real 1-minute
scrape: response sizes, query counts and client work are those of the real thing, while promtool
stays affordable. The server's own work per query is lower than on densely scraped data.

    python benchmarks/prometheus_pull.py                       # 500 containers, 14 days, 1m step
    python benchmarks/prometheus_pull.py --containers 50 --days 3   # a quick look
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

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from prom_fixtures import PrometheusServer, backfill, big_cluster, write_openmetrics

from rightsize import store
from rightsize.sources.prometheus import pull
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


def baseline(url: str, end: int, args: argparse.Namespace, window: float) -> tuple[int, float, int]:
    """Per-container queries for ``--baseline-sample`` random containers -> (queries, seconds, bytes)."""
    start = end - args.days * 86400
    with PromClient(url) as client:
        pods = [
            (s["namespace"], s["pod"])
            for s in client.series('container_memory_working_set_bytes{container!="",container!="POD"}',
                                   start, end)
        ]
        rng = np.random.default_rng(1)
        picked = [pods[i] for i in rng.choice(len(pods), min(args.baseline_sample, len(pods)), replace=False)]
        present = client.metric_names(start, end)
        specs = [spec.with_names(spec.available(present)) for spec in SPECS if spec.available(present)]
        before = client.stats.queries
        t0 = time.perf_counter()
        for ns, pod in picked:
            for spec in specs:  # the same metrics ``pull`` found, one container at a time
                q = spec.query(ns, window).replace(f'namespace="{ns}"', f'namespace="{ns}",pod="{pod}"')
                for a, b in chunks(start, end, args.step, CHUNK_POINTS):
                    client.query_range(q, a, b, args.step)
        return client.stats.queries - before, time.perf_counter() - t0, client.stats.bytes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--containers", type=int, default=500)
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--step", type=float, default=60.0)
    ap.add_argument("--sample-every", type=int, default=1800, help="backfill sample spacing, seconds")
    ap.add_argument("--baseline-sample", type=int, default=25, help="containers the baseline queries")
    ap.add_argument("--workdir", default=None, help="where the backfill is kept (default: the temp dir)")
    ap.add_argument("--fresh", action="store_true", help="backfill again even if a backfill exists")
    args = ap.parse_args()

    work, end = prepare(args)
    lookback = f"{int(args.sample_every * 1.5)}s"
    out = Path(tempfile.mkdtemp(prefix="rightsize-bench-pull-"))
    try:
        with PrometheusServer(work / "tsdb", (f"--query.lookback-delta={lookback}",)) as server:
            warnings.simplefilter("ignore")  # the lean backfill lacks optional families on purpose
            t0 = time.perf_counter()
            s = pull(server.url, out, since=args.days * 86400, step=args.step, quiet=True, now=end)
            ours = time.perf_counter() - t0
            rows = len(store.load(out, columns=["ts"]))
            q_base, t_base, b_base = baseline(server.url, end, args, s.rate_window)
        scale = s.containers / max(1, min(args.baseline_sample, s.containers))
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"\n{s}\n")
        print(f"{'':34}{'queries':>10}{'seconds':>10}{'MB':>10}")
        print(f"{'rightsize pull (per metric x ns)':34}{s.queries:>10,}{ours:>10.1f}{s.bytes / 1e6:>10.0f}")
        print(f"{'per-container baseline, scaled':34}{round(q_base * scale):>10,}{t_base * scale:>10.1f}"
              f"{b_base * scale / 1e6:>10.0f}   (measured on {min(args.baseline_sample, s.containers)} "
              f"containers: {q_base} queries, {t_base:.1f}s)")
        print(f"\n{rows:,} samples written ({rows / ours:,.0f} rows/s), {s.files} files, "
              f"{s.points:,} points parsed, peak RSS {rss:.0f} MiB, rate window {s.rate_window:.0f}s")
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
