"""The ``rightsize`` command line: each command parses options, calls one library function, prints.

No logic lives here. Library errors (RightsizeError) and usage errors become one line on stderr
and exit code 2; dataset warnings become one ``warning:`` line each.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

import click
import typer

from rightsize.errors import RightsizeError

app = typer.Typer(
    name="rightsize",
    help="Measure what each container really uses; recommend and write memory, CPU and PID limits.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def fail(message: str) -> typer.Exit:
    """Print one error line and return the Exit to raise (exit code 2)."""
    typer.echo(f"rightsize: error: {message}", err=True)
    return typer.Exit(2)


def _show_warning(message: Any, category: Any, filename: str, lineno: int, *args: Any, **kw: Any) -> None:
    print(f"rightsize: warning: {message}", file=sys.stderr)


# Commands are added below, one section each; every section only parses, calls and prints.

# --- collect ---

# --- recommend ---


@app.command()
def recommend(
    data: str | None = typer.Option(None, "--data", help="Dataset folder (default: the bundled sample)."),
    strategy: str = typer.Option("default", help="default|krr|vpa (see --settings)."),
    fmt: str = typer.Option("table", "--format", help="table|json|yaml|csv|markdown."),
    compose: str | None = typer.Option(None, help="Take the current values from this compose file."),
    since: str | None = typer.Option(None, help="Only the last 7d/24h of the data (or since a date)."),
    workload: str | None = typer.Option(None, help="Only workloads matching this glob, e.g. 'shop/*'."),
    units: str = typer.Option("compose", help="compose (1536M, 1.5) or k8s (1536Mi, 1500m)."),
    set_: list[str] = typer.Option([], "--set", help="Override a strategy setting: NAME=VALUE (repeatable)"),
    settings: bool = typer.Option(False, "--settings", help="Print the strategy's settings, and exit."),
) -> None:
    """Recommend memory, CPU and PID reservations/limits from the percentiles of the history."""
    from rightsize.analysis.settings import parse_assignments
    from rightsize.analysis.strategies import get_strategy
    from rightsize.render import FORMATS, UNITS, render

    overrides = parse_assignments(set_)
    strat = get_strategy(strategy, overrides)
    if settings:
        typer.echo(strat.describe())
        return
    if fmt not in FORMATS or units not in UNITS:
        render([], fmt, units)  # raises the one-line error before any data is read
    from rightsize.analysis.recommend import recommend as run_recommend

    recs = run_recommend(
        data, strategy=strategy, overrides=overrides, since=since, workloads=workload, compose=compose
    )
    typer.echo(render(recs, fmt, units), nl=False)


# --- backtest ---

# --- apply ---

# --- report ---


@app.command()
def report(
    data: str | None = typer.Option(None, help="Dataset folder (default: the bundled sample)."),
    out: str = typer.Option("rightsize-report.html", "--out", "-o", help="HTML file to write."),
    compose: str | None = typer.Option(None, help="Compose file whose current limits to compare against."),
    strategy: str = typer.Option("default", help="default|krr|vpa."),
    set_: list[str] = typer.Option([], "--set", help="Strategy setting KEY=VALUE (repeatable)."),
    buckets: int = typer.Option(500, help="Time buckets per chart (each keeps its min and max sample)."),
) -> None:
    """Write one self-contained HTML report: current vs recommended, usage over time, distributions."""
    from rightsize.report.html import report as write_report

    overrides = {}
    for item in set_:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise RightsizeError(f"--set takes KEY=VALUE, not {item!r}")
        overrides[key.strip()] = value.strip()
    path = write_report(data, out=out, strategy=strategy, overrides=overrides or None, compose=compose,
                        buckets=buckets)
    typer.echo(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB)")


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the app, turning every expected failure into one line and exit 2."""
    warnings.showwarning = _show_warning
    try:
        app(args=argv, standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:  # bad option, missing argument, ...
        print(f"rightsize: error: {exc.format_message()}", file=sys.stderr)
        sys.exit(2)
    except RightsizeError as exc:
        print(f"rightsize: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except (BrokenPipeError, KeyboardInterrupt):
        sys.exit(130)
    sys.exit(0)
