"""What one scanner Part sends back after each pass (picklable: the second process sends them)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from rightsize.analysis.plausible import Ignored
from rightsize.analysis.scanoom import EventLimits


@dataclass
class Found:
    """What pass 1 of a Part found, in that Part's workload codes (picklable)."""

    names: list[str]
    n: np.ndarray
    ts_min: np.ndarray
    ts_max: np.ndarray
    tables: dict[str, np.ndarray]
    peaks: np.ndarray
    thr: np.ndarray
    bad: dict[str, int]
    changes: pd.DataFrame | None
    files: int  # readable files
    day0: int  # UTC day number of the first column of peaks
    ev_limits: EventLimits
    ignored: Ignored  # rows of impossible times
    possible: int  # rows of possible times


@dataclass
class Kept:
    """What pass 2 of a Part kept: (keys, values) per metric, and each workload's latest limits."""

    values: dict[str, tuple[np.ndarray, np.ndarray]]
    latest: dict[int, tuple[int, dict[str, float]]]  # code -> (ts, limits)
