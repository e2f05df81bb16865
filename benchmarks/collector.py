"""Collector benchmark: N idle containers sampled at 1 Hz for 60 s, per source path.

For each N (default 50, 100, 200) it starts idle ``sleep 3600`` containers (label
``rightsize-bench=<run>``, all removed at the end), then in the same run measures:

- baseline: wall time of one ``docker stats --no-stream`` sweep over those containers, and of
  the engine's one-shot stats API called serially (what a naive per-tick loop does), on a few;
- ours, per source path (``cgroup``, ``docker``): ``rightsize collect`` as a subprocess at 1 Hz
  for 60 s: share of the expected N x 60 samples written, its CPU (% of one core, over the
  sampling window and over its whole life) and peak RSS.

    python benchmarks/collector.py [--sizes 50,100,200] [--seconds 60] [--json out.json]

Needs a local engine, the image ``rightsize-test/busybox:1`` (scripts/test-env.sh) and psutil.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import docker
import psutil

IMAGE = "rightsize-test/busybox:1"


def start_containers(client: Any, tag: str, first: int, count: int) -> list[str]:
    def one(i: int) -> str:
        c = client.containers.run(
            IMAGE, ["sleep", "3600"], name=f"rsbench-{tag}-{i}", labels={"rightsize-bench": tag}, detach=True
        )
        return str(c.id)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(one, range(first, first + count)))


def docker_stats_sweep(ids: list[str]) -> float:
    t0 = time.monotonic()
    subprocess.run(["docker", "stats", "--no-stream", *ids], check=True, capture_output=True, timeout=900)
    return time.monotonic() - t0


def serial_one_shot(client: Any, ids: list[str]) -> float:
    """Seconds per container of the engine's stats(stream=False), called one after another."""
    t0 = time.monotonic()
    for cid in ids:
        client.api.stats(cid, stream=False)
    return (time.monotonic() - t0) / len(ids)


def run_collector(source: str, tag: str, seconds: int, n: int) -> dict[str, Any]:
    import rightsize

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "data"
        cmd = [sys.executable, "-m", "rightsize", "collect", "--duration", f"{seconds}s", "--interval", "1s",
               "--flush", "30s", "--source", source, "--filter", f"label=rightsize-bench={tag}",
               "--out", str(out), "-q"]
        t_start = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        ps = psutil.Process(proc.pid)
        peak_rss = 0
        cpu_at_sampling: float | None = None
        t_sampling = 0.0
        while proc.poll() is None:
            try:
                peak_rss = max(peak_rss, ps.memory_info().rss)
                if cpu_at_sampling is None and out.exists():  # discovery done, sampling started
                    c = ps.cpu_times()
                    cpu_at_sampling, t_sampling = c.user + c.system, time.monotonic()
                c = ps.cpu_times()
                cpu_last, t_last = c.user + c.system, time.monotonic()
            except psutil.NoSuchProcess:
                break
            time.sleep(0.25)
        stdout, stderr = proc.communicate()
        wall = time.monotonic() - t_start
        if proc.returncode != 0:
            raise RuntimeError(f"collector failed: {stderr.decode()[-2000:]}")
        samples = rightsize.load(out)
    expected = n * seconds
    window = (t_last - t_sampling) if cpu_at_sampling is not None else wall
    return {
        "source": source,
        "containers": n,
        "samples": len(samples),
        "expected": expected,
        "share": len(samples) / expected,
        "cpu_pct_sampling": 100 * (cpu_last - (cpu_at_sampling or 0.0)) / window,
        "cpu_pct_lifetime": 100 * cpu_last / wall,
        "peak_rss_mb": peak_rss / 1e6,
        "wall_s": wall,
        "summary": stdout.decode().strip().splitlines()[:2],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="50,100,200")
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--sources", default="cgroup,docker")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    client = docker.from_env(timeout=300)
    tag = uuid.uuid4().hex[:8]
    ids: list[str] = []
    results: list[dict[str, Any]] = []
    try:
        for n in sizes:
            t0 = time.monotonic()
            ids += start_containers(client, tag, len(ids), n - len(ids))
            took = time.monotonic() - t0
            print(f"N={n}: {len(ids)} containers running (started in {took:.0f}s)", flush=True)
            time.sleep(5)  # let the engine settle after the burst of starts
            sweep = docker_stats_sweep(ids)
            serial = serial_one_shot(client, ids[:10])
            print(f"  baseline: docker stats --no-stream sweep {sweep:.1f}s; serial one-shot API "
                  f"{serial:.2f}s/container -> {serial * n:.0f}s per 1 Hz tick for {n}", flush=True)
            for source in args.sources.split(","):
                r = run_collector(source, tag, args.seconds, n)
                r.update(baseline_sweep_s=sweep, baseline_serial_s_per_container=serial)
                results.append(r)
                print(f"  rightsize --source {source}: {r['samples']}/{r['expected']} samples "
                      f"({100 * r['share']:.1f}%), CPU {r['cpu_pct_sampling']:.1f}% of a core while sampling "
                      f"({r['cpu_pct_lifetime']:.1f}% incl. startup), peak RSS {r['peak_rss_mb']:.0f} MB",
                      flush=True)
    finally:
        print(f"removing {len(ids)} benchmark containers", flush=True)
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda c: client.api.remove_container(c, force=True), ids))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
