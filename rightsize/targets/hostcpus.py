"""A CPU limit above the CPU count of the engine ``docker compose`` deploys to.

Docker refuses a container whose ``cpus`` (NanoCPUs) exceeds the CPUs the engine may use ("Range of
CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"), so ``docker compose up`` fails on
the whole project. A workload that kept every core busy gets such a recommendation (2 saturated
cores: the default strategy's p99 +25% is 2.5, vpa's upper bound 5). What is written:

- the data's peak fits this host (it never used more CPUs than this host has, within sampling
  noise): the data was most likely collected here, and a limit of this host's CPU count keeps every
  peak measured: the limit (and a reservation above it) is capped there, with a warning;
- the data peaked above this host's CPU count: it comes from a larger host the file deploys to, so
  the recommendation is written as it is, with a warning that ``up`` fails on this host.

The count is the engine's (``docker info`` NCPU) when the engine ``docker compose`` would talk to
answers: ``DOCKER_HOST``, else ``DOCKER_CONTEXT``, else the CLI config's current context, else the
local socket, as the docker CLI picks it. A remote engine may have more or fewer CPUs than this
machine. Unreachable (no engine here, a stale context), it is this process's CPU count, which is the
engine's when dockerd runs on this machine.

A ``cpu_quota`` is not bounded so (the engine checks only NanoCpus: a quota of 3 CPUs starts on 2),
so apply and check leave a service that limits CPU with one as recommended.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import hashlib
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rightsize.models import Recommendation, Values
from rightsize.units import format_cpus

_NOISE = 1.05  # a sampled peak a little above the CPU count (2.04 on 2 CPUs) is still this host's
LOCAL = "the local engine (/var/run/docker.sock)"  # no DOCKER_HOST, no context: docker-py's default
_TIMEOUT = 5  # seconds for `docker info`: an unreachable tcp:// engine must not stall apply for a minute


@dataclass(frozen=True)
class HostCpus:
    """A CPU count and where it was read (said in the cap's warning)."""

    count: int
    source: str = ""  # "" for a count given by the caller


class LazyCpus:
    """The engine's CPU count, asked once and only when a CPU limit is to be judged (a file without
    one never talks to the engine); ``given`` (the API's ``host_cpus``) is used as it is."""

    def __init__(self, given: int | None = None) -> None:
        self._given = given

    @functools.cached_property
    def value(self) -> HostCpus:
        return HostCpus(self._given) if self._given else engine_cpus()


def engine_address() -> tuple[str | None, Any, str]:
    """(base URL, TLS config, what it is for people) of the engine the docker CLI and ``docker
    compose`` talk to; the URL is None for the environment's default (``DOCKER_HOST`` with its TLS
    variables, else the local socket). DOCKER_HOST wins over DOCKER_CONTEXT, which wins over the
    config's currentContext. A context that does not exist is a LookupError.

    Read as the CLI reads it, not with docker-py's ContextAPI: that one looks for contexts beside
    the first config.json it finds (``./contexts`` when there is none, ``~/.docker`` when
    DOCKER_CONFIG's folder has none) and ignores a context's CA without a client cert and its
    SkipTLSVerify, so it missed or mis-spoke to engines ``docker compose`` reaches."""
    if os.environ.get("DOCKER_HOST"):
        return None, None, f"DOCKER_HOST={os.environ['DOCKER_HOST']}"
    folder = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")  # the CLI's config.Dir()
    name = os.environ.get("DOCKER_CONTEXT") or _current_context(folder / "config.json")
    if name == "default":
        return None, None, LOCAL
    key = hashlib.sha256(name.encode()).hexdigest()  # the CLI's store keys a context by its name's digest
    meta = folder / "contexts" / "meta" / key / "meta.json"
    try:
        endpoint = json.loads(meta.read_text())["Endpoints"]["docker"]
        host = str(endpoint["Host"])
    except FileNotFoundError:
        raise LookupError(f"docker context {name!r} not found") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise LookupError(f"docker context {name!r} unreadable ({meta}: {exc})") from None
    tls = _context_tls(folder / "contexts" / "tls" / key / "docker", bool(endpoint.get("SkipTLSVerify")))
    return host, tls, f"docker context {name} ({host})"


def _current_context(config: Path) -> str:
    """config.json's currentContext; "default" without one (an unreadable file too: the CLI warns
    and uses the default)."""
    try:
        name = json.loads(config.read_text()).get("currentContext")
    except (OSError, ValueError, AttributeError):
        return "default"
    return name if isinstance(name, str) and name else "default"


def _context_tls(folder: Path, skip_verify: bool) -> Any:
    """The context's TLS as the CLI builds it: none without TLS files or SkipTLSVerify; else TLS,
    verified against its ca.pem (the system's CAs without one) unless SkipTLSVerify, with its
    cert.pem/key.pem as the client's certificate when both are there."""
    have = {n: str(folder / f"{n}.pem") for n in ("ca", "cert", "key") if (folder / f"{n}.pem").is_file()}
    if not have and not skip_verify:
        return None
    from docker.tls import TLSConfig

    cert = (have["cert"], have["key"]) if "cert" in have and "key" in have else None
    return TLSConfig(client_cert=cert, ca_cert=have.get("ca"), verify=not skip_verify)


def engine_cpus() -> HostCpus:
    """The engine's NCPU (see the module's docstring), else this process's CPU count."""
    where = ""  # (none when no engine could be named: a missing or unreadable context)
    with warnings.catch_warnings():
        # docker-py leaves the socket of a refused connection to the collector: not the user's concern
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            url, tls, where = engine_address()
            ncpu = _ncpu(url, tls)
        except Exception as exc:  # any failure: no engine to ask, the local count as before
            why = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
            ncpu = None
        gc.collect()  # (the refused socket, while its warning is ignored)
    if ncpu is None:
        said = f"{where} did not answer: {why}" if where else why
        return HostCpus(host_cpus(), f"this machine's count: {said}")
    return HostCpus(ncpu, f"docker info NCPU of {where}")


def engine_client(url: str | None, tls: Any, timeout: int | None = None, pool_size: int | None = None) -> Any:
    """A docker client for ``engine_address()``'s URL and TLS (the environment's default for None:
    DOCKER_HOST with DOCKER_TLS_VERIFY/DOCKER_CERT_PATH, else the local socket), TLS as given even
    with REQUESTS_CA_BUNDLE set (see engineclient)."""
    from docker.utils import kwargs_from_env

    from rightsize.targets.engineclient import EngineClient

    more: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
    if pool_size is not None:
        more["max_pool_size"] = pool_size
    if url:
        return EngineClient(base_url=url, tls=tls or False, **more)
    return EngineClient(**kwargs_from_env(), **more)


def _ncpu(url: str | None, tls: Any) -> int:
    client = engine_client(url, tls, _TIMEOUT)
    try:
        ncpu = int(client.info()["NCPU"])
    finally:
        client.close()
    if ncpu < 1:
        raise ValueError(f"docker info says NCPU {ncpu}")
    return ncpu


def host_cpus() -> int:
    """The CPUs this process may run on: the count the engine checks (Go's runtime.NumCPU, the
    affinity mask) when dockerd runs on this machine."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # (not Linux)
        return os.cpu_count() or 1


def fit_host(
    rec: Recommendation, service: str, host: int | HostCpus | LazyCpus, warn: bool = True
) -> Recommendation:
    """``rec`` as apply writes it on a host of ``host`` CPUs (see the module's docstring); a CPU limit
    above it warns once, naming the service (unless ``warn`` is False: check says it in its row)."""
    values = rec.recommended
    if rec.resource != "cpu" or values is None or values.limit is None or values.limit <= 1:
        return rec  # (every engine has a CPU: no need to ask one about a limit of 1 or less)
    known = host.value if isinstance(host, LazyCpus) else host
    known = known if isinstance(known, HostCpus) else HostCpus(known)
    cpus = known.count
    if values.limit <= cpus:
        return rec
    want = format_cpus(values.limit)
    peak = peak_of(rec)
    seen = f"the data's peak is {format_cpus(peak)} CPUs" if peak is not None else "the data has no peak"
    if known.source:
        seen = f"{known.source}; {seen}"
    if peak is not None and peak > cpus * _NOISE:
        if not warn:
            return rec
        warnings.warn(
            f"{service}: CPU limit {want} is above this host's {cpus} CPUs; written as recommended "
            f"({seen}: collected on a larger host), but `docker compose up` fails on this host",
            stacklevel=3,
        )
        return rec
    reservation = None if values.reservation is None else min(values.reservation, float(cpus))
    if warn:
        warnings.warn(
            f"{service}: CPU limit {want} capped at {cpus}, this host's CPU count ({seen}; Docker refuses "
            "more here); edit the file if it deploys to a larger host",
            stacklevel=3,
        )
    return dataclasses.replace(rec, recommended=Values(reservation, float(cpus)))


def peak_of(rec: Recommendation) -> float | None:
    """The highest CPU use the recommendation saw (its max, else its highest percentile known)."""
    o = rec.observed
    return next((v for v in (o.max, o.p99, o.p95, o.p90, o.p50) if v is not None), None)
