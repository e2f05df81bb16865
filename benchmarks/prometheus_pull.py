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
    python benchmarks/prometheus_pull.py --days 2 --scrape 60 --step 1h --cpu-burst-check

``--cpu-burst-check`` compares, in the same run, the whole pull as it reads CPU at a step much longer
than the scrape interval (the highest 4-scrape rate within each step, a ``max_over_time`` of a rate
subquery) with the same pull reading the step's plain ``rate()`` (the subquery switched off, which is
the query before it came): wall, client CPU, queries, the server's query time and CPU, peak RSS, each
pull in its own process; and checks both wrote the same samples apart from ``cpu_cores``. The burst
path needs a real scrape spacing (``--scrape``, the cAdvisor series' spacing; kube-state-metrics
keep ``--sample-every``): at 30-minute samples a step under 2.2 h is never "much longer".

Wall times depend on what else runs on the machine; CPU is this process's (client) time only.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import shutil
import subprocess
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
from rightsize.sources.prometheus_windows import Windows


def prepare(args: argparse.Namespace) -> tuple[Path, int]:
    """Backfilled TSDB folder (reused when the same parameters were backfilled before) and its end."""
    scrape = args.scrape or args.sample_every
    dense = f"-scrape{scrape}s" if scrape != args.sample_every else ""
    work = Path(args.workdir or tempfile.gettempdir()) / (
        f"rightsize-bench-prom-{args.containers}c-{args.days}d-{args.sample_every}s{dense}"
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
    lines = write_openmetrics(cluster, work / "openmetrics", scrape, args.sample_every, lean=True)
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


def child_pull(args: argparse.Namespace) -> None:
    """One whole pull (``--child burst|plain``) in this process; prints its numbers as JSON."""
    import rightsize.sources.prometheus as prometheus

    full, seen = prometheus.windows, []

    def windows(step: float, scrape: float) -> Windows:
        win = full(step, scrape)
        if args.child == "plain":  # the previous query: the step's mean rate, no subquery
            win = dataclasses.replace(win, burst=None)
        seen.append((scrape, win))
        return win

    prometheus.windows = windows
    wall, cpu = time.perf_counter(), time.process_time()
    s = pull(args.url, Path(args.out), args.days * 86400, args.step, None, quiet=True, now=args.end)
    print(json.dumps({"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
                      "queries": s.queries, "points": s.points, "bytes": s.bytes, "samples": s.samples,
                      "containers": s.containers, "window": s.rate_window, "scrape": seen[0][0],
                      "burst": seen[0][1].burst}))


def _server_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _query_seconds(url: str) -> float:
    """The server's own total query time (its engine's summary over every slice)."""
    import requests

    text = requests.get(f"{url}/metrics", timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("prometheus_engine_query_duration_seconds_sum"))


def burst_check(server: PrometheusServer, end: int, args: argparse.Namespace) -> None:
    """The whole pull with the CPU burst subquery, beside the same pull with the plain rate."""
    pid = server._proc.pid if server._proc else 0
    runs: dict[str, dict[str, float]] = {}
    outs: dict[str, Path] = {}
    try:
        for mode in ("plain", "plain", "burst"):  # the first, untimed: the server's cold page cache
            out = Path(tempfile.mkdtemp(prefix=f"rightsize-bench-{mode}-")) / "data"
            log = out.parent / "child.json"
            q0, c0 = _query_seconds(server.url), _server_cpu(pid)
            with open(log, "w") as fh:
                proc = subprocess.Popen(
                    [sys.executable, __file__, "--child", mode, "--url", server.url, "--end", str(end),
                     "--days", str(args.days), "--step", str(args.step), "--out", str(out)], stdout=fh,
                )
                _, status, usage = os.wait4(proc.pid, 0)
            if status:
                raise SystemExit(f"the {mode} pull failed (status {status})")
            r = json.loads(log.read_text())
            r.update(server_query=_query_seconds(server.url) - q0, server_cpu=_server_cpu(pid) - c0,
                     rss=usage.ru_maxrss / 1024, proc_cpu=usage.ru_utime + usage.ru_stime)
            if mode in outs:
                shutil.rmtree(outs[mode].parent, ignore_errors=True)
            runs[mode], outs[mode] = r, out
        frames = {m: store.load(o).sort_values(["ts", "host", "container_id"], ignore_index=True)
                  for m, o in outs.items()}
    finally:
        for o in outs.values():
            shutil.rmtree(o.parent, ignore_errors=True)
    plain, burst = frames["plain"], frames["burst"]
    same = plain.drop(columns="cpu_cores").equals(burst.drop(columns="cpu_cores"))
    print(f"\n{args.containers} containers, {args.days} d, step {args.step:.0f}s, scrape estimated "
          f"{runs['burst']['scrape']:.0f}s, plain rate window {runs['plain']['window']:.0f}s, burst (short "
          f"window, resolution) {runs['burst']['burst']}")
    print("whole pull, each in its own process (CPU s = the process's user+sys, RSS its peak)")
    print(f"{'':36}{'queries':>8}{'wall s':>8}{'CPU s':>7}{'RSS MiB':>8}{'server query s':>15}"
          f"{'server CPU s':>13}{'MB':>6}")
    for name, m in (("plain rate (before; baseline)", "plain"), ("highest 4-scrape rate (ours)", "burst")):
        r = runs[m]
        print(f"{name:36}{r['queries']:>8}{r['wall']:>8.1f}{r['proc_cpu']:>7.1f}{r['rss']:>8.0f}"
              f"{r['server_query']:>15.1f}{r['server_cpu']:>13.1f}{r['bytes'] / 1e6:>6.0f}")
    cp, cb = plain["cpu_cores"], burst["cpu_cores"]
    print(f"\nsamples: {len(plain):,} vs {len(burst):,} rows; all columns but cpu_cores identical: {same}")
    print(f"cpu_cores: mean {cp.mean():.3f} vs {cb.mean():.3f}, p99 {cp.quantile(0.99):.3f} vs "
          f"{cb.quantile(0.99):.3f}, max {cp.max():.3f} vs {cb.max():.3f}; burst >= plain in "
          f"{(cb >= cp - 1e-9).mean():.1%} of rows; nulls {cp.isna().sum()} vs {cb.isna().sum()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--containers", type=int, default=500)
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--step", type=float, default=60.0)
    ap.add_argument("--sample-every", type=int, default=1800, help="backfill sample spacing, seconds")
    ap.add_argument("--workdir", default=None, help="where the backfill is kept (default: the temp dir)")
    ap.add_argument("--fresh", action="store_true", help="backfill again even if a backfill exists")
    ap.add_argument("--scrape", type=int, default=0,
                    help="spacing of the cAdvisor samples, seconds (default: --sample-every)")
    ap.add_argument("--cpu-burst-check", action="store_true",
                    help="compare the whole pull with the CPU burst subquery against the plain rate")
    ap.add_argument("--child", choices=("burst", "plain"), help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--end", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        warnings.simplefilter("ignore")
        return child_pull(args)

    work, end = prepare(args)
    lookback = f"{int(args.sample_every * 1.5)}s"
    warnings.simplefilter("ignore")  # the lean backfill lacks optional families on purpose
    with PrometheusServer(work / "tsdb", (f"--query.lookback-delta={lookback}",)) as server:
        if args.cpu_burst_check:
            return burst_check(server, end, args)
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
