"""rightsize: measure what containers use, recommend limits, write them where you deploy from.

The public API (used by the CLI, the notebook and the tests). Names resolve lazily so that
``import rightsize`` stays fast and each part loads only what it needs.
"""

from __future__ import annotations

import importlib
from typing import Any

from rightsize.errors import RightsizeError
from rightsize.models import Change, Observed, PatchResult, Recommendation, Skipped, Values

__version__ = "0.1.0"

_LAZY = {
    "load": "rightsize.store",
    "load_events": "rightsize.store",
    "collect": "rightsize.collector.loop",
    "recommend": "rightsize.analysis.recommend",
    "backtest": "rightsize.analysis.backtest",
    "import_trace": "rightsize.ingest.importer",
    "patch_compose": "rightsize.targets.compose",
    "patch_helm": "rightsize.targets.helm",
    "apply_live": "rightsize.targets.live",
    "check_compose": "rightsize.targets.check",
    "report": "rightsize.report.html",
    "sample_path": "rightsize.analysis.recommend",
}

__all__ = [
    "Change",
    "Observed",
    "PatchResult",
    "Recommendation",
    "RightsizeError",
    "Skipped",
    "Values",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rightsize' has no attribute {name!r}")
