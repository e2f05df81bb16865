"""Small frozen records passed between the analysis and the targets.

Units inside these records are always base units: bytes for memory, cores for CPU, a count for
PIDs. Formatting to ``1536M``/``1536Mi``/``1500m`` happens at the edges (targets, renderers).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Resource = Literal["memory", "cpu", "pids"]
RESOURCES: tuple[Resource, ...] = ("memory", "cpu", "pids")
UNITS: dict[Resource, str] = {"memory": "bytes", "cpu": "cores", "pids": "count"}


@dataclass(frozen=True)
class Values:
    """A reservation (Kubernetes request) and a limit; None means not set."""

    reservation: float | None = None
    limit: float | None = None


@dataclass(frozen=True)
class Observed:
    """Percentiles of what was used over the history the recommendation was computed from."""

    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class Recommendation:
    """One workload, one resource.

    ``recommended is None`` is the explicit "no recommendation" value; ``reasons`` then says why
    (too little history, no samples of this resource, ...). Renderers show it, never drop it.
    """

    workload: str
    resource: Resource
    current: Values
    recommended: Values | None
    observed: Observed
    samples: int
    history_seconds: float
    confidence: float
    reasons: tuple[str, ...]
    strategy: str
    oom_kills: int = 0
    throttled_share: float | None = None

    @property
    def unit(self) -> str:
        return UNITS[self.resource]

    @property
    def ok(self) -> bool:
        return self.recommended is not None

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape documented in docs/recommend.md (bytes as integers, CPUs as cores)."""
        d = asdict(self)
        d["reasons"] = list(self.reasons)
        d["unit"] = self.unit
        for key in ("current", "recommended", "observed"):
            if d[key] is not None:
                d[key] = {k: _plain(v, self.resource) for k, v in d[key].items()}
        return d


def _plain(value: float | None, resource: Resource) -> float | int | None:
    if value is None:
        return None
    if resource in ("memory", "pids"):
        return round(value)
    return round(float(value), 4)


@dataclass(frozen=True)
class Change:
    """One scalar a writer changed (or would change) in a file or a running container."""

    target: str  # file path, or container name for --live
    workload: str
    key: str  # dotted path inside the file, e.g. services.db.deploy.resources.limits.memory
    old: str | None
    new: str
    note: str = ""


@dataclass(frozen=True)
class Skipped:
    """A recommendation a writer did not write, and why."""

    target: str
    workload: str
    resource: str
    reason: str
    recommended: str | None = None


@dataclass(frozen=True)
class PatchResult:
    """What a writer did to one target: changes, skips, and the unified diff of the file."""

    target: str
    changes: tuple[Change, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    diff: str = ""
    written: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def history_text(seconds: float) -> str:
    """A history length for people, alike in the notes, the strategies' reasons and the report: seconds
    under 90 s (25 s read "0 min"), minutes under 1.5 h (a few minutes read "0.0 h"; "3.967m" read
    as millicores beside a k8s CPU), hours under a day, else days."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} days"
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"
