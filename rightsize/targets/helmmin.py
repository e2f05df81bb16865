"""The least Kubernetes takes as a container's requests and limits, as Compose apply has Docker's
(``values.ENGINE_MIN``). A value below is skipped with its reason rather than written: written, it
would be refused, or silently run as something else than the file says.

- CPU limit under 10m: the kubelet turns a limit into a CFS quota per 100 ms period and raises any
  quota under 1 ms (the kernel's least) to 1 ms (kubelet ``MilliCPUToQuota``: ``minQuotaPeriod``), so
  ``5m`` runs as 10m; ``0`` is no quota at all.
- CPU request under 1m: the API server keeps millicores only and rounds a finer request up to 1m
  (``0.2m`` is stored as ``1m``); written in millicores it would read ``0``, no request at all. A
  request that rounds to 1m is written as 1m, what the API would store anyway.
- Memory limit under 12Mi: CRI-O refuses to create the container ("set memory limit ... too low;
  should be at least 12582912"), cri-dockerd/Docker below 6 MiB; containerd passes it to runc, where
  a container this small may be OOM-killed as it starts. A memory request has no such floor (it only
  schedules), only ``0``, which reads as none.
"""

from __future__ import annotations

from rightsize.units import human_bytes, parse_bytes, parse_cpus

MIN_MEMORY_LIMIT = 12 * 1024**2
MIN_CPU_LIMIT = 0.01
MIN_CPU_REQUEST = 0.001


def k8s_refuses(resource: str, kind: str, raw: str) -> str | None:
    """Why ``raw`` (the k8s quantity about to be written) is not written, or None."""
    noun = "CPU" if resource == "cpu" else resource
    side = "request" if kind == "reservation" else "limit"
    if resource == "cpu":
        cores = parse_cpus(raw)
        if side == "limit" and cores < MIN_CPU_LIMIT:
            zero = ", and 0 is no limit at all" if cores == 0 else f": it would run as 10m, not {raw}"
            return (f"the CPU limit {raw} is below 10m, the least CFS quota the kubelet sets (1 ms per "
                    f"100 ms){zero} (--set cpu_floor=0.01 raises it)")  # fmt: skip
        if side == "request" and cores < MIN_CPU_REQUEST:
            return ("the CPU request rounds to 0, no request at all: Kubernetes keeps millicores and "
                    "rounds a finer request up to 1m (--set cpu_floor=0.001 raises it)")  # fmt: skip
        return None
    if resource != "memory":
        return None
    size = parse_bytes(raw, "k8s")
    if side == "limit" and size < MIN_MEMORY_LIMIT:
        return (f"the memory limit {raw} is below {human_bytes(MIN_MEMORY_LIMIT)}, the least CRI-O creates a "
                "container with (Docker: 6 MiB; under containerd a container this small may be "
                "OOM-killed as it starts) (--set mem_floor=12Mi raises it)")  # fmt: skip
    if side == "request" and size == 0:
        return f"the {noun} request rounds to 0, no request at all"
    return None
