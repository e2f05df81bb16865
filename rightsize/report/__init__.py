"""The HTML report (``html.py``) and its parts: charts, downsampling, per-workload frames, summary.

``rightsize.report`` is both this package and the public function ``rightsize.report(data, out=...)``.
Once any submodule is imported, Python binds the package to the attribute ``rightsize.report``,
which would hide the function; making the package callable keeps ``rightsize.report(...)`` working
either way.
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _CallablePackage(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from rightsize.report.html import report

        return report(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
