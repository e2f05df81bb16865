"""Kubernetes workload names (``namespace/kind/name/container``) for pods seen in Prometheus.

Replicas of one Deployment must share one workload name (so their samples pool), and that name
must survive a rollout (a new ReplicaSet). kube-state-metrics says who owns what
(``kube_pod_owner``, ``kube_replicaset_owner``, ``kube_job_owner``); without it the owner is read
from the pod name, whose suffixes Kubernetes generates in a known shape.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# Kubernetes generates name suffixes from this alphabet (no vowels, no 0/1/3), see
# k8s.io/apimachinery/pkg/util/rand.SafeEncodeString: a ReplicaSet adds its pod-template-hash
# (up to 10 characters), every generated pod name adds 5 more.
_SAFE = "[bcdfghjklmnpqrstvwxz2456789]"
_DEPLOYMENT_POD = re.compile(rf"^(?P<base>.+)-{_SAFE}{{6,10}}-{_SAFE}{{5}}$")
_STATEFUL_POD = re.compile(r"^(?P<base>.+)-(?:0|[1-9][0-9]*)$")
_GENERATED_POD = re.compile(rf"^(?P<base>.+)-{_SAFE}{{5}}$")
_REPLICASET = re.compile(rf"^(?P<base>.+)-{_SAFE}{{6,10}}$")
_CRONJOB_JOB = re.compile(r"^(?P<base>.+)-[0-9]{8,}$")  # a CronJob names its Jobs name-<minutes>
_CRONJOB_POD = re.compile(rf"^(?P<base>.+)-[0-9]{{8,}}-{_SAFE}{{5}}$")  # ... and their pods <job>-<5>

Owner = tuple[str, str]  # (kind, name)


@dataclass(frozen=True)
class Owners:
    """Ownership as kube-state-metrics reported it (empty maps when it is not scraped)."""

    pods: Mapping[str, Owner] = field(default_factory=dict)  # pod -> (kind, name)
    replicasets: Mapping[str, Owner] = field(default_factory=dict)  # replicaset -> (kind, name)
    jobs: Mapping[str, Owner] = field(default_factory=dict)  # job -> (kind, name)
    nodes: Mapping[str, str] = field(default_factory=dict)  # pod -> node

    @classmethod
    def from_series(
        cls,
        pod_owner: Iterable[Mapping[str, str]] = (),
        replicaset_owner: Iterable[Mapping[str, str]] = (),
        job_owner: Iterable[Mapping[str, str]] = (),
        pod_info: Iterable[Mapping[str, str]] = (),
    ) -> Owners:
        """Build from ``/api/v1/series`` label sets of the kube-state-metrics series."""
        pods = {s["pod"]: _owner(s) for s in pod_owner if "pod" in s}
        replicasets = {s["replicaset"]: _owner(s) for s in replicaset_owner if "replicaset" in s}
        jobs = {s["job_name"]: _owner(s) for s in job_owner if "job_name" in s}
        nodes: dict[str, str] = {}
        for s in sorted(pod_info, key=lambda s: s.get("node", "")):
            if s.get("pod") and s.get("node"):
                nodes[s["pod"]] = s["node"]
        return cls(pods, replicasets, jobs, nodes)


def _owner(labels: Mapping[str, str]) -> Owner:
    return labels.get("owner_kind", "<none>"), labels.get("owner_name", "<none>")


def guess_owner(pod: str) -> Owner:
    """The owner a pod name implies: ``web-5d8f7c9b6-x2x4q`` -> Deployment web, ``db-0`` ->
    StatefulSet db, ``backup-29412360-x2x4q`` -> CronJob backup (every run one workload, not a
    workload per run), ``agent-x2x4q`` -> DaemonSet agent (a Job's pod looks the same), else the pod.
    """
    for pattern, kind in (
        (_CRONJOB_POD, "CronJob"),
        (_DEPLOYMENT_POD, "Deployment"),
        (_STATEFUL_POD, "StatefulSet"),
        (_GENERATED_POD, "DaemonSet"),
    ):
        m = pattern.match(pod)
        if m:
            return kind, m.group("base")
    return "Pod", pod


def resolve_owner(pod: str, owners: Owners) -> Owner:
    """The top-level controller of ``pod``: through ReplicaSet -> Deployment and Job -> CronJob."""
    if pod not in owners.pods:
        return guess_owner(pod)
    kind, name = owners.pods[pod]
    if kind in ("", "<none>") or name in ("", "<none>"):
        return "Pod", pod  # kube-state-metrics says: a bare pod
    if kind == "ReplicaSet":
        parent = owners.replicasets.get(name)
        if parent and parent[0] not in ("", "<none>"):
            return parent
        if parent is None:  # no kube_replicaset_owner: a Deployment's ReplicaSet ends in the hash
            m = _REPLICASET.match(name)
            return ("Deployment", m.group("base")) if m else (kind, name)
        return kind, name  # a bare ReplicaSet
    if kind == "Job":
        parent = owners.jobs.get(name)
        if parent and parent[0] not in ("", "<none>"):
            return parent
        m = _CRONJOB_JOB.match(name)
        if parent is None and m:
            return "CronJob", m.group("base")
        return kind, name
    if kind == "Node":  # a static pod is named <name>-<node>
        suffix = f"-{name}"
        return "Pod", pod[: -len(suffix)] if pod.endswith(suffix) and len(pod) > len(suffix) else pod
    return kind, name


def workload_name(namespace: str, pod: str, container: str, owners: Owners) -> str:
    """``namespace/kind/name/container``: the unit rightsize recommends for (replicas pooled)."""
    kind, name = resolve_owner(pod, owners)
    return f"{namespace}/{kind}/{name}/{container}"
