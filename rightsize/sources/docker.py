"""The Docker Engine side: connection, container discovery and metadata, streamed stats (events:
``docker_events.py``).

The engine's one-shot stats call waits for two internal samples (about a second per container),
so polling it serially cannot keep up with more than a handful of containers at 1 Hz. Instead each
container gets one long-lived streaming stats connection in its own thread; the sampler takes the
latest payload each tick. The engine is also the source of names, labels, HostConfig limits,
restart counts, and (through its event stream) of start/die/oom events.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rightsize.errors import RightsizeError
from rightsize.sources.cgroups import Counters

COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"
# `docker-compose run` (v1.29) and `docker compose run` (v2) both set "True"; `up` replicas "False"
COMPOSE_ONEOFF = "com.docker.compose.oneoff"
ONEOFF_SUFFIX = " (run)"
FILTER_KEYS = ("name", "label", "id", "ancestor")


@dataclass(frozen=True)
class ContainerInfo:
    """What the engine says about one container (from ``inspect``)."""

    id: str
    name: str
    image: str
    workload: str
    pid: int | None
    mem_limit: int | None
    mem_reservation: int | None
    cpu_limit: float | None  # cores
    pids_limit: int | None
    restarts: int
    oom_killed: bool = False
    started_at: float | None = None  # epoch seconds (State.StartedAt), this run of the container
    restarting: bool = False  # waiting for its restart policy's next start (its count raised already)


def connect(docker_host: str | None = None, *, pool_size: int = 512, timeout: int = 60) -> Any:
    """A DockerClient for ``docker_host`` (or the engine `docker compose` talks to: DOCKER_HOST, else
    the docker context, else the local socket; see targets.hostcpus.engine_address).

    Raises RightsizeError if the engine does not answer.
    """
    import docker
    import requests

    from rightsize.targets.hostcpus import engine_address, engine_client

    env = os.environ.get("DOCKER_HOST")  # name what was tried: a stale DOCKER_HOST is the usual cause
    where = docker_host or (f"DOCKER_HOST={env}" if env else "the local Docker engine (/var/run/docker.sock)")
    try:
        url, tls = docker_host, None
        if not docker_host:
            local, where = where, "the Docker engine"  # (a missing context: the error names it)
            url, tls, what = engine_address()  # (a docker context: its own URL and TLS)
            where = what if url else local
        client = engine_client(url, tls, timeout, pool_size)  # (None: the environment's default)
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError, LookupError) as exc:
        raise RightsizeError(f"cannot reach {where}: {_first_line(exc)}") from None
    return client


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def workload_name(labels: Mapping[str, str] | None, name: str) -> str:
    """Compose ``project/service`` (replicas pool into one workload), else the container name.

    ``docker-compose run`` one-offs (a migration, a shell, a batch job) carry the service's labels
    plus ``com.docker.compose.oneoff=True``; they are ``project/service (run)``, so a short job's
    usage never moves the long-running service's percentiles. No compose service or container name
    can hold a space or parentheses, so the name never collides with one (``targets/match.py``).
    """
    labels = labels or {}
    project, service = labels.get(COMPOSE_PROJECT), labels.get(COMPOSE_SERVICE)
    suffix = ONEOFF_SUFFIX if str(labels.get(COMPOSE_ONEOFF, "")).lower() == "true" else ""
    if project and service:
        return f"{project}/{service}{suffix}"
    if service:
        return service + suffix
    return name.lstrip("/")


def is_oneoff(workload: str) -> bool:
    """Whether a workload is a compose service's ``run`` one-offs (never patched into the service)."""
    return workload.endswith(ONEOFF_SUFFIX)


def _positive(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and value > 0 else None


def info_from_inspect(attrs: Mapping[str, Any]) -> ContainerInfo:
    """Pure: an ``inspect`` document -> ContainerInfo (0/None/-1 limits mean "none")."""
    config = attrs.get("Config") or {}
    host = attrs.get("HostConfig") or {}
    state = attrs.get("State") or {}
    name = str(attrs.get("Name") or attrs.get("Id", "")[:12]).lstrip("/")
    cpu_limit: float | None = None
    if host.get("NanoCpus"):
        cpu_limit = host["NanoCpus"] / 1e9
    elif host.get("CpuQuota") and host["CpuQuota"] > 0:
        cpu_limit = host["CpuQuota"] / (host.get("CpuPeriod") or 100_000)
    return ContainerInfo(
        id=str(attrs["Id"]),
        name=name,
        image=str(config.get("Image") or attrs.get("Image") or ""),
        workload=workload_name(config.get("Labels"), name),
        pid=_positive(state.get("Pid")),
        mem_limit=_positive(host.get("Memory")),
        mem_reservation=_positive(host.get("MemoryReservation")),
        cpu_limit=cpu_limit,
        pids_limit=_positive(host.get("PidsLimit")),
        restarts=int(attrs.get("RestartCount") or 0),
        oom_killed=bool(state.get("OOMKilled")),
        started_at=parse_time(state.get("StartedAt")),
        restarting=bool(state.get("Restarting")),
    )


def parse_filters(filters: list[str] | tuple[str, ...] | None, project: str | None) -> dict[str, list[str]]:
    """``["name=web", "label=tier=db"]`` -> the engine's filter dict. Unknown keys: RightsizeError."""
    out: dict[str, list[str]] = {}
    for item in filters or ():
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not value:
            raise RightsizeError(f"bad filter {item!r}: expected KEY=VALUE, e.g. name=web or label=tier=db")
        if key not in FILTER_KEYS:
            raise RightsizeError(f"unknown filter {key!r} in {item!r} (known: {', '.join(FILTER_KEYS)})")
        out.setdefault(key, []).append(value)
    if project:
        out.setdefault("label", []).append(f"{COMPOSE_PROJECT}={project}")
    return out


def event_matches(filters: Mapping[str, list[str]], event: Mapping[str, Any]) -> bool:
    """Pure: whether the container an event is about passes ``filters``, judged from the event
    alone (its Attributes hold the labels, name and image): for a container already removed.

    As the engine does: every label filter must hold; any one of the names, ids or images will do.
    """
    attrs = (event.get("Actor") or {}).get("Attributes") or {}
    cid = str(event.get("id") or "")
    for item in filters.get("label", []):
        key, sep, value = item.partition("=")
        if key not in attrs or (sep and attrs[key] != value):
            return False
    names = filters.get("name")
    if names and not any(_search(n, str(attrs.get("name") or "")) for n in names):
        return False
    if filters.get("id") and not any(cid.startswith(i) for i in filters["id"]):
        return False
    image = str(attrs.get("image") or "")
    ancestors = filters.get("ancestor")
    return not ancestors or any(a in (image, image.removesuffix(":latest")) for a in ancestors)


def _search(pattern: str, text: str) -> bool:
    import re

    try:
        return re.search(pattern, text) is not None
    except re.error:
        return pattern in text


def parse_time(text: str | None) -> float | None:
    """RFC 3339 with nanoseconds (``2024-08-31T22:02:27.639190522Z``) -> epoch seconds."""
    if not text or text.startswith("0001-01-01"):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        head, _, frac = text.rstrip("Z").partition(".")
        return datetime.fromisoformat(head + "+00:00").timestamp() + float("0." + (frac or "0"))


def counters_from_stats(payload: Mapping[str, Any]) -> Counters | None:
    """Pure: one ``/containers/{id}/stats`` payload (cgroup v1 or v2 host) -> Counters.

    None for the empty payload the engine sends for a stopped container.
    """
    t = parse_time(payload.get("read"))
    mem = payload.get("memory_stats") or {}
    cpu = payload.get("cpu_stats") or {}
    if t is None or (not mem and not cpu.get("cpu_usage", {}).get("total_usage")):
        return None
    stats = mem.get("stats") or {}
    v1 = "total_inactive_file" in stats or "total_rss" in stats
    throttling = cpu.get("throttling_data") or {}
    return Counters(
        t=t,
        cpu_ns=(cpu.get("cpu_usage") or {}).get("total_usage"),
        periods=throttling.get("periods"),
        throttled=throttling.get("throttled_periods"),
        mem_usage=mem.get("usage"),
        inactive_file=stats.get("total_inactive_file") if v1 else stats.get("inactive_file"),
        rss=stats.get("total_rss") if v1 else stats.get("anon"),
        peak=mem.get("max_usage"),  # v1 only; the engine does not report memory.peak on v2
        pids=(payload.get("pids_stats") or {}).get("current"),
        oom_kills=None,  # not in the payload: counted from "oom" events instead
    )


class StatsStream:
    """One streaming stats connection for one container, read in a daemon thread.

    ``latest`` is the newest Counters (None until the first payload), ``first`` the first one;
    ``ended`` is set when the stream closes (``stop()``, an engine that closes it at exit).

    The engine sends a first payload at once (its cumulative ``total_usage`` is all the CPU since
    the start), then one a second. Engine 20.10 keeps the stream open after the container exits,
    sending empty payloads (``read`` 0001-01-01, ignored), and ``/stats`` of an exited container
    is empty too: the last real payload is the final reading there is, so it is kept in ``latest``.
    """

    def __init__(self, client: Any, container_id: str) -> None:
        self.container_id = container_id
        self.first: Counters | None = None
        self.latest: Counters | None = None
        self.ended = threading.Event()
        self._client = client
        self._stream: Any = None
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=f"stats-{container_id[:12]}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import docker.types

        api = self._client.api
        try:
            response = api._get(
                api._url("/containers/{0}/stats", self.container_id), params={"stream": True}, stream=True
            )
            api._raise_for_status(response)
            chunks = api._stream_helper(response, decode=False)
            self._stream = docker.types.CancellableStream(chunks, response)
            for chunk in self._stream:
                if self._stopping:
                    break
                try:
                    counters = counters_from_stats(json.loads(chunk))
                except (ValueError, TypeError):
                    continue
                if counters is not None:
                    if self.first is None:
                        self.first = counters
                    self.latest = counters
        except Exception:  # any failure ends this stream, never the run
            pass
        finally:
            self.ended.set()

    def stop(self) -> None:
        self._stopping = True
        stream = self._stream
        if stream is not None:
            with contextlib.suppress(Exception):  # closing a dead socket
                stream.close()
