"""Apply recommendations to running containers through the Docker Engine API, without a restart.

``POST /containers/{id}/update`` changes Memory, MemoryReservation, MemorySwap, NanoCpus (or
CpuQuota when the container was started with a quota or a period: the engine refuses to mix them)
and PidsLimit in place. A memory limit below what the container uses now (working set) is refused, as
is a PID limit below its current PID count: the kernel would have to reclaim or kill to honour it.
Values the engine would refuse (more CPUs than it has, a quota under 1 ms, memory under 6 MiB) are
skipped, not sent: it refuses the whole update, which would lose the container's other changes. A
CPU limit above the engine's CPU count whose data peaked within it is capped at the count instead,
as ``apply -f`` writes it (see hostcpus); one whose data peaked above it came from a larger host.

MemorySwap is memory + swap. With ``swap`` (``--swap``) it is set to the memory limit + swap for
every container whose limit is set (or already right). Without it the swap allowance is kept when
the limit moves: the engine stores its default (twice the limit, when no swap was given) as a plain
number, so it cannot be told from an explicit ``--memory-swap`` of twice the limit, and keeping the
allowance never takes swap away behind the user's back. The summary says so, and how to bound it.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from typing import Any

from rightsize.errors import RightsizeError
from rightsize.models import Change, PatchResult, Recommendation, Skipped
from rightsize.sources.docker import is_oneoff, workload_name
from rightsize.targets.hostcpus import LOCAL, engine_address, engine_client, fit_host, peak_of
from rightsize.targets.match import Recs, resolve
from rightsize.targets.project import project_name
from rightsize.targets.swapsize import parse_swap
from rightsize.targets.values import MIN_QUOTA_US, engine_refuses, unreserved, wanted
from rightsize.units import format_bytes, format_cpus, human_bytes

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"


def workload_of(container: Any) -> str:
    """``project/service`` for compose containers, else the container name: the collector's own rule
    (``sources.docker.workload_name``), so a container carrying only a service label is its service.

    A ``docker-compose run`` one-off is ``project/service (run)``: it never gets the service's values.
    """
    return workload_name(container.labels, str(container.name))


def _client(docker_host: str | None) -> Any:
    """The engine at ``docker_host``, else the one ``docker compose`` talks to (DOCKER_HOST, else the
    docker context: see hostcpus.engine_address), so that --live updates the containers `up` made."""
    import docker

    at = f" at {docker_host}" if docker_host else ""
    try:
        if docker_host:
            client = docker.DockerClient(base_url=docker_host)
        else:
            url, tls, what = engine_address()
            at = "" if what == LOCAL else f" at {what}"  # name what was tried: a stale
            client = engine_client(url, tls)  # DOCKER_HOST or context is the usual cause
        client.ping()
    except Exception as exc:
        raise RightsizeError(f"cannot reach the Docker engine{at}: {exc}") from None
    return client


def _info(client: Any) -> dict[str, Any]:
    """``docker info``; empty when the engine cannot answer (the update itself then reports it)."""
    try:
        return dict(client.info())
    except Exception:
        return {}


def _usage(container: Any) -> tuple[float | None, int | None]:
    """Working-set bytes (usage minus inactive file cache, cgroup v1 or v2) and current PID count."""
    stats = container.stats(stream=False, one_shot=True)
    mem = stats.get("memory_stats") or {}
    usage = mem.get("usage")
    st = mem.get("stats") or {}
    inactive = st.get("total_inactive_file", st.get("inactive_file", 0)) or 0
    ws = None if usage is None else float(max(usage - inactive, 0))
    pids = (stats.get("pids_stats") or {}).get("current")
    return ws, pids


def apply_live(
    recs: Recs,
    *,
    project: str | None = None,
    docker_host: str | None = None,
    dry_run: bool = False,
    only: Sequence[str] | None = None,
    min_confidence: float = 0.0,
    swap: int | str | None = None,
) -> PatchResult:
    """Update running containers whose workload has a recommendation (only ``project``'s, if given).

    ``swap`` (bytes): MemorySwap = memory limit + swap; None keeps each container's swap allowance.
    """
    from rightsize.targets.composefile import check_min_confidence, low_confidence, parse_only

    resources = parse_only(only)
    check_min_confidence(min_confidence)
    swap = parse_swap(swap)  # bytes, or the --swap text
    if project:  # as `docker compose -p My.Shop` refuses it ("invalid project name"): no label has it
        project_name((), project)
    client = _client(docker_host)
    target = docker_host or "docker"
    info = _info(client)
    if swap is not None and not info.get("SwapLimit", True):  # (unknown counts as yes)
        warnings.warn(
            f"{target} has no swap accounting (docker info: no swap limit support): the engine ignores "
            "MemorySwap, so --swap bounds nothing there (cgroup v1 needs swapaccount=1 on the kernel line)",
            stacklevel=2,
        )
    try:
        recs = resolve(recs)
    except BaseException:
        client.close()
        raise
    by_wl: dict[str, list[Recommendation]] = {}
    for r in recs:
        by_wl.setdefault(r.workload, []).append(r)
    filters = {"label": f"{PROJECT_LABEL}={project}"} if project else {}
    changes: list[Change] = []
    skipped: list[Skipped] = []
    try:
        containers = client.containers.list(filters=filters, ignore_removed=True)  # removed mid-list: skip
        if project and not containers:
            raise RightsizeError(f"no running containers of compose project {project!r}")
        for c in containers:
            wl = workload_of(c)
            if project and wl not in by_wl:  # the project asked for, not a stranger on the host: say so
                skipped.append(Skipped(c.name, wl, "all", f"the data has no workload {wl}"))
            mine = [r for r in by_wl.get(wl, []) if r.resource in resources]
            lows = [(r, why) for r in mine if (why := low_confidence(r, min_confidence))]
            skipped.extend(Skipped(c.name, wl, r.resource, why) for r, why in lows)
            mine = [r for r in mine if not low_confidence(r, min_confidence)]
            if mine:
                ch, sk = _update(client, c, wl, mine, dry_run, swap, info.get("NCPU"))
                changes.extend(ch)
                skipped.extend(sk)
        running = {workload_of(c) for c in containers}
        for wl, rs in by_wl.items():  # down when this ran (crashed, restarting, stopped): say so
            ours = (not project or wl.startswith(f"{project}/")) and not is_oneoff(wl)
            if ours and wl not in running and any(r.ok and r.resource in resources for r in rs):
                skipped.append(Skipped(target, wl, "all", "no running container of this workload"))
    finally:
        client.close()
    return PatchResult(target, tuple(changes), tuple(skipped), "", bool(changes) and not dry_run)


def _update(
    client: Any,
    c: Any,
    wl: str,
    recs: Sequence[Recommendation],
    dry_run: bool,
    swap: int | None = None,
    ncpu: int | None = None,
) -> tuple[list[Change], list[Skipped]]:
    host = c.attrs["HostConfig"]
    body: dict[str, int] = {}
    kept_limit = None  # a memory limit already as recommended: --swap still applies to it
    changes: list[Change] = []
    skipped: list[Skipped] = []
    try:
        ws, pids_now = _usage(c)
    except Exception as exc:  # removed since the list (or the engine balked): skip it, update the rest
        gone = getattr(exc, "status_code", None) == 404
        why = (
            "the container is gone (removed since it was listed)"
            if gone
            else f"cannot read its usage: {_msg(exc)}"
        )
        return [], [Skipped(c.name, wl, "all", why)]
    for rec in recs:
        if not rec.ok:
            skipped.append(Skipped(c.name, wl, rec.resource, "no recommendation: " + "; ".join(rec.reasons)))
            continue
        rec = unreserved(rec)  # a reservation of 0 is none: the limit is still sent
        cfs = bool(host.get("CpuQuota") or host.get("CpuPeriod"))  # a quota's floor: see CpuQuota below
        rec, capped = _fit_engine(rec, wl, ncpu, cfs)
        refused = engine_refuses(rec, exact=True, cfs=cfs)
        if refused:  # the engine would refuse the whole update: skip this resource, send the others
            skipped.append(Skipped(c.name, wl, rec.resource, "not sent: " + refused))
            continue
        for w in wanted(rec):
            key, old, new, text = _field(host, w.resource, w.kind, w.value)
            if key == "Memory" and old == new:
                kept_limit = new
            if key is None or old == new:
                continue
            if key == "NanoCpus" and ncpu and new > ncpu * 1e9:  # the engine refuses the whole update
                why = (
                    f"refused: {text} CPUs is more than the {ncpu} this engine has (Docker's upper bound; "
                    f"{_peak_text(rec)}: collected on a larger host)"
                )
                skipped.append(Skipped(c.name, wl, "cpu", why, text))
                continue
            if key == "CpuQuota" and new < MIN_QUOTA_US:
                period = host.get("CpuPeriod") or 100_000
                why = f"refused: {text} CPUs is CpuQuota {new} at CpuPeriod {period}, below 1000 (1 ms)"
                skipped.append(Skipped(c.name, wl, "cpu", why, text))
                continue
            if key == "Memory" and ws is not None and new < ws:
                skipped.append(
                    Skipped(
                        c.name,
                        wl,
                        "memory",
                        f"refused: limit {format_bytes(new)} is below the current usage {human_bytes(ws)}",
                        format_bytes(new),
                    )
                )
                continue
            if key == "PidsLimit" and pids_now is not None and new < pids_now:
                skipped.append(
                    Skipped(
                        c.name,
                        wl,
                        "pids",
                        f"refused: limit {new} is below the {pids_now} processes running now",
                        str(new),
                    )
                )
                continue
            body[key] = new
            changes.append(
                Change(c.name, wl, key, _show(key, old, host), text, capped if key == "NanoCpus" else "")
            )
    _plan_swap(c.name, wl, host, body, changes, swap, kept_limit)
    limit = body.get("Memory", host.get("Memory") or 0)
    reservation = body.get("MemoryReservation", host.get("MemoryReservation") or 0)
    if limit and reservation > limit:  # the engine refuses a reservation above the limit
        why = (
            f"refused: memory reservation {format_bytes(reservation)} would exceed the limit "
            f"{format_bytes(limit)}"
        )
        skipped.append(Skipped(c.name, wl, "memory", why))
        body = {k: v for k, v in body.items() if not k.startswith("Memory")}
        changes = [ch for ch in changes if not ch.key.startswith("Memory")]
    if body and not dry_run:
        try:
            resp = client.api.post(client.api._url("/containers/{0}/update", c.id), json=body)
            client.api._raise_for_status(resp)
        except Exception as exc:  # one container's refusal must not stop the others: report it
            skipped.append(Skipped(c.name, wl, "all", f"the engine refused the update: {_msg(exc)}"))
            return [], skipped
    return changes, skipped


def _fit_engine(rec: Recommendation, wl: str, ncpu: int | None, cfs: bool) -> tuple[Recommendation, str]:
    """A CPU limit above the engine's CPU count, capped there when the data's peak fits it, as
    ``apply -f`` writes it (hostcpus.fit_host); the Change's note when capped. A container limited
    by a CFS quota is left as recommended: the engine bounds only NanoCpus, as with cpu_quota in a file.
    A peak above the count (data from a larger host) is left to be skipped: the engine refuses it."""
    if rec.resource != "cpu" or not ncpu or cfs or rec.recommended is None or rec.recommended.limit is None:
        return rec, ""
    fitted = fit_host(rec, wl, ncpu, warn=False)
    if fitted is rec:
        return rec, ""
    was = format_cpus(rec.recommended.limit)
    return (
        fitted,
        f"recommended {was}, capped at the engine's {ncpu} CPUs ({_peak_text(rec)}), as apply -f writes it",
    )


def _peak_text(rec: Recommendation) -> str:
    peak = peak_of(rec)
    return "the data has no peak" if peak is None else f"the data's peak is {format_cpus(peak)} CPUs"


def _plan_swap(
    name: str,
    wl: str,
    host: dict[str, Any],
    body: dict[str, int],
    changes: list[Change],
    swap: int | None,
    kept_limit: int | None,
) -> None:
    """Add MemorySwap to an update that sets a memory limit (the engine wants it restated, or it
    rejects a limit above the old MemorySwap), and say in the summary what swap the container keeps."""
    old_mem, old_swap = int(host.get("Memory") or 0), int(host.get("MemorySwap") or 0)
    if swap is not None and ("Memory" in body or kept_limit is not None):
        mem = body.get("Memory", kept_limit or 0)
        if old_swap != mem + swap or "Memory" in body:
            body["Memory"], body["MemorySwap"] = mem, mem + swap
        if old_swap != mem + swap:
            what = "no swap" if swap == 0 else f"{human_bytes(swap)} of swap"
            old = "-1" if old_swap == -1 else _show("MemorySwap", old_swap, host)
            changes.append(Change(name, wl, "MemorySwap", old, format_bytes(mem + swap), f"--swap: {what}"))
        return
    if "Memory" not in body:
        return
    mem = body["Memory"]
    if old_swap == -1:  # unlimited stays so; the engine wants it restated with the limit
        body["MemorySwap"], note = -1, "swap stays unlimited (MemorySwap -1)"
    elif old_mem > 0 and old_swap > 0:  # keep the swap allowance, or the engine rejects the update
        body["MemorySwap"] = mem + (old_swap - old_mem)
        allowance = human_bytes(old_swap - old_mem)
        note = f"swap allowance kept: {allowance}" if old_swap > old_mem else "no swap, as before"
        if old_swap == 2 * old_mem:  # also what the engine stores when no swap was given
            note += " (MemorySwap was twice the limit, as the engine sets it when no swap is given)"
    else:
        body["MemorySwap"] = mem * 2
        note = "swap as much as the limit (MemorySwap twice it, the engine's default)"
    if body["MemorySwap"] == -1 or body["MemorySwap"] > mem:  # it can swap: say how to bound it
        note += "; --swap SIZE bounds it"
    i = next(k for k, ch in enumerate(changes) if ch.key == "Memory")
    changes[i] = dataclasses.replace(changes[i], note="; ".join(n for n in (changes[i].note, note) if n))


def _msg(exc: Exception) -> str:
    return str(getattr(exc, "explanation", None) or exc).splitlines()[0]


def _field(host: dict[str, Any], resource: str, kind: str, value: float) -> tuple[str | None, int, int, str]:
    """(engine field, its current value, the new value, the new value for people)."""
    if resource == "memory":
        key = "Memory" if kind == "limit" else "MemoryReservation"
        new = int(value)
        return key, int(host.get(key) or 0), new, format_bytes(new)
    if resource == "cpu":
        if kind != "limit":
            return None, 0, 0, ""  # a CPU reservation has no engine field (CpuShares is relative)
        if host.get("CpuQuota") or host.get("CpuPeriod"):  # NanoCpus beside a CFS period: refused
            period = int(host.get("CpuPeriod") or 100_000)
            return "CpuQuota", int(host["CpuQuota"]), round(value * period), format_cpus(value)
        return "NanoCpus", int(host.get("NanoCpus") or 0), round(value * 1e9), format_cpus(value)
    return "PidsLimit", int(host.get("PidsLimit") or 0), int(value), str(int(value))


def _show(key: str, old: int, host: dict[str, Any]) -> str | None:
    if not old:
        return None
    if key in ("Memory", "MemoryReservation", "MemorySwap"):
        return format_bytes(old)
    if key == "NanoCpus":
        return format_cpus(old / 1e9)
    if key == "CpuQuota":
        return format_cpus(old / int(host.get("CpuPeriod") or 100_000))
    return str(old)
