"""Recommendations for the writer tests, in the shape the analyzer returns for the bundled sample.

Writers are unit-tested with fixed records so that a golden file cannot drift when the analysis is
tuned; the CLI tests run the real analysis end to end.
"""

from __future__ import annotations

from rightsize.models import Observed, Recommendation, Values

M = 1024**2
G = 1024**3


def rec(
    workload: str, resource: str, reservation: float | None, limit: float | None, confidence: float = 0.9
) -> Recommendation:
    return Recommendation(
        workload=workload,
        resource=resource,  # type: ignore[arg-type]
        current=Values(),
        recommended=Values(reservation, limit),
        observed=Observed(p95=limit),
        samples=20160,
        history_seconds=14 * 86400,
        confidence=confidence,
        reasons=("p95 + 15%",),
        strategy="default",
    )


def none_rec(workload: str, resource: str) -> Recommendation:
    return Recommendation(
        workload,
        resource,
        Values(),
        None,
        Observed(),
        12,
        3600.0,
        0.0,  # type: ignore[arg-type]
        ("only 1h of history (need 24h)",),
        "default",
    )


def stack_recs(project: str = "sutazai") -> list[Recommendation]:
    p = project
    return [
        rec(f"{p}/postgres", "memory", 896 * M, 1280 * M),
        rec(f"{p}/postgres", "cpu", 0.75, 2.0),
        rec(f"{p}/postgres", "pids", None, 100),
        rec(f"{p}/ollama", "memory", 6 * G, 8 * G),
        rec(f"{p}/ollama", "cpu", 0.25, 6.0),
        rec(f"{p}/ollama", "pids", None, 100),
        rec(f"{p}/backend", "memory", 896 * M, 1536 * M),
        rec(f"{p}/backend", "cpu", 1.0, 3.0),
        rec(f"{p}/backend", "pids", None, 110),
        rec(f"{p}/rabbitmq", "memory", 224 * M, 384 * M),
        rec(f"{p}/rabbitmq", "cpu", 0.15, 0.4),
        rec(f"{p}/rabbitmq", "pids", None, 100),
        rec(f"{p}/redis", "memory", 64 * M, 96 * M),
        rec(f"{p}/redis", "cpu", 0.1, 0.1, confidence=0.2),
        none_rec(f"{p}/redis", "pids"),
    ]


def k8s_recs(ns: str = "sutazai") -> list[Recommendation]:
    """Kubernetes workloads (namespace/kind/name/container), as the Prometheus source names them."""
    pg = f"{ns}/StatefulSet/{ns}-postgresql/postgresql"
    be = f"{ns}/Deployment/{ns}-backend/backend"
    ol = f"{ns}/Deployment/{ns}-ollama/ollama"
    wk = f"{ns}/Deployment/{ns}-worker/worker"
    return [
        rec(pg, "memory", 896 * M, 1280 * M),
        rec(pg, "cpu", 0.75, 1.5),
        rec(pg, "pids", None, 100),
        rec(be, "memory", 896 * M, 1536 * M),
        rec(be, "cpu", 1.0, None),
        rec(ol, "memory", 6 * G, 8 * G),
        rec(ol, "cpu", 0.25, 6.0),
        rec(wk, "memory", 128 * M, 256 * M),
    ]
