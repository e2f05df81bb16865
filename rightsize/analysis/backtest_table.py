"""The backtest's per-strategy summary as an aligned text table (``backtest --format table``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rightsize.units import format_duration_as_typed

if TYPE_CHECKING:
    from rightsize.analysis.backtest import BacktestResult


def format_table(result: BacktestResult) -> str:
    """The per-strategy summary as an aligned text table."""
    head = ("strategy", "windows", "mem overruns", "mem alloc/used", "mem slack", "cpu slack",
            "cpu > reservation", "limit changes")  # fmt: skip
    lines = [head]
    for name, sc in result.strategies.items():
        lines.append((
            name, str(sc.windows),
            "-" if sc.mem_overrun_share is None else f"{sc.mem_overrun_share:.2%} ({sc.mem_overruns})",
            "-" if sc.mem_alloc_ratio is None else f"{sc.mem_alloc_ratio:.2f}x",
            _pct(sc.mem_slack), _pct(sc.cpu_slack), _pct(sc.cpu_over_reservation_share),
            str(sc.limit_changes),
        ))  # fmt: skip
    widths = [max(len(r[i]) for r in lines) for i in range(len(head))]
    out = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in lines
    ]
    title = (
        f"backtest: train {format_duration_as_typed(result.train_seconds)}, "
        f"test {format_duration_as_typed(result.test_seconds)}, "
        f"every {format_duration_as_typed(result.every_seconds)}; "
        f"{len(result.workloads)} workloads"
    )
    return "\n".join([title, *out])


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"
