"""Which node a pod ran on at each step, for the pods seen on more than one.

A StatefulSet pod keeps its name when it is rescheduled: ``kube_pod_info`` then has one series per
node it ran on. Its label sets alone cannot say which node held which hours, so for those pods only
(usually none) the series are read over time: at each step the node whose ``kube_pod_info`` sample
is the newest (``timestamp()``), since the old pod's series lingers for the lookback window.
Without kube-state-metrics, cAdvisor's own series say the same: each node's kubelet exports the
containers it runs, with its node in a label (``node_of``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from rightsize.sources.prometheus_client import PromClient, chunks

_MAX_LISTED = 100  # more moved pods than this: ask for the whole namespace, not a pod list
# where cAdvisor's series name their node: a relabelled `node`, the common labelmap's
# `kubernetes_io_hostname` (every instance is the apiserver proxy there), else the kubelet's address
NODE_LABELS = ("node", "kubernetes_io_hostname", "instance")


def node_of(labels: Mapping[str, str]) -> str:
    """The node a series' labels name ("" if none)."""
    return (labels.get("node") or labels.get("kubernetes_io_hostname")
            or labels.get("instance", "").rsplit(":", 1)[0])  # fmt: skip


@dataclass(frozen=True)
class Moves:
    """pod -> the steps (ms) where its node is known and that node, for pods seen on several nodes."""

    times: Mapping[str, np.ndarray] = field(default_factory=dict)
    nodes: Mapping[str, np.ndarray] = field(default_factory=dict)

    def at(self, pod: str, ts: np.ndarray) -> np.ndarray | None:
        """The node at each of ``ts`` (ms): the last known before it, else the first after it;
        None for a pod that never moved."""
        times = self.times.get(pod)
        if times is None or not len(times):
            return None
        idx = np.searchsorted(times, ts, side="right") - 1
        return self.nodes[pod][np.maximum(idx, 0)]


def moved_pods(pod_info: Iterable[Mapping[str, str]]) -> dict[str, list[str]]:
    """namespace -> the pods whose ``kube_pod_info`` label sets name more than one node."""
    nodes: dict[tuple[str, str], set[str]] = {}
    for s in pod_info:
        if s.get("pod") and s.get("node"):
            nodes.setdefault((s.get("namespace", ""), s["pod"]), set()).add(s["node"])
    out: dict[str, list[str]] = {}
    for (ns, pod), seen in sorted(nodes.items()):
        if len(seen) > 1:
            out.setdefault(ns, []).append(pod)
    return out


def read_moves(
    client: PromClient, namespace: str, pods: list[str], start: float, end: float, step: float,
    max_points: int, escape: Callable[[str], str], series: str = "kube_pod_info",
) -> Moves:  # fmt: skip
    """The node timelines of ``pods`` (in ``namespace``) over [start, end], from ``series`` (a
    metric and its selector's extra matchers: ``kube_pod_info``, or a cAdvisor metric's)."""
    listed = f',pod=~"{"|".join(escape(p) for p in pods)}"' if len(pods) <= _MAX_LISTED else ""
    metric, _, extra = series.partition("{")
    sel = f'namespace="{namespace}"{listed}' + ("," + extra.rstrip("}") if extra else "")
    by = ("node",) if metric == "kube_pod_info" else NODE_LABELS  # its instance is the exporter's
    query = f"max by (pod, {', '.join(by)}) (timestamp({metric}{{{sel}}}))"
    found: dict[str, list[tuple[np.ndarray, np.ndarray, str]]] = {}
    for a, b in chunks(start, end, step, max_points):
        for s in client.query_range_split(query, a, b, step):
            pod, node = s.labels.get("pod", ""), node_of({k: s.labels.get(k, "") for k in by})
            if pod in pods and node:
                found.setdefault(pod, []).append((s.ts, s.values, node))
    times, nodes = {}, {}
    for pod, parts in found.items():
        ts = np.concatenate([p[0] for p in parts])
        seen = np.concatenate([p[1] for p in parts])
        names = np.concatenate([np.full(len(p[0]), p[2], dtype=object) for p in parts])
        order = np.lexsort((seen, ts))  # by step, then the newest sample last
        ts, names = ts[order], names[order]
        last = np.append(ts[1:] != ts[:-1], True)  # each step's newest
        times[pod], nodes[pod] = ts[last], names[last]
    return Moves(times, nodes)
