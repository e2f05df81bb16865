"""Process settings for the long-running collector (``rightsize collect`` as its own process).

Applied only in a fresh process (neither pyarrow nor pandas loaded yet), so a notebook or a test
session that calls the library is never affected.
"""

from __future__ import annotations

import importlib.abc
import os
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType


class _WithoutPandas(importlib.abc.MetaPathFinder):
    """Makes ``import pandas`` fail as if it were not installed.

    pyarrow imports pandas on its first conversion when pandas is installed (~40 MB of RSS); the
    collector only builds Arrow tables from Python lists and never needs it.
    """

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname == "pandas" or fullname.startswith("pandas."):
            raise ImportError("pandas is not used by the collector process")
        return None


def lean_collector_process() -> None:
    """Keep a fresh collector process small: no pandas, and Arrow memory returned to the OS."""
    if "pyarrow" in sys.modules or "pandas" in sys.modules:
        return
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")  # jemalloc keeps freed pages
    sys.meta_path.insert(0, _WithoutPandas())
