"""The ``rightsize`` command line: each command parses options, calls one library function, prints.

No logic lives here. Library errors (RightsizeError) and usage errors become one line on stderr
and exit code 2; dataset warnings become one ``warning:`` line each.
"""

from __future__ import annotations

import sys
import warnings
from functools import partial

import typer

from rightsize.cli_checks import (
    DATA_HELP,
    PROJECT_DIRECTORY,
    check_collect_options,
    check_compose_options,
    not_empty,
    one_line,
    recommendations_for,
    show_warning,
    split_names,
)
from rightsize.errors import RightsizeError

# typer >= 0.26 vendors click (and does not install it): usage errors derive from TyperException.
_UsageError = typer.TyperException

app = typer.Typer(
    name="rightsize",
    help="Measure what each container really uses; recommend and write memory, CPU and PID limits.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


# Commands are added below, one section each; every section only parses, calls and prints.

# --- collect ---


def _version(value: bool) -> None:
    if value:
        from rightsize import __version__

        typer.echo(f"rightsize {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Measure what each container really uses; recommend and write memory, CPU and PID limits."""
    # A callback keeps `rightsize COMMAND` a command group even while only one command exists.


@app.command(short_help="Sample containers (or Prometheus history) into a dataset.")
def collect(
    duration: str | None = typer.Option(None, help="How long to sample: 90s, 30m, 24h, 7d (default 24h)."),
    interval: str | None = typer.Option(None, help="Time between samples of each container (default 10s)."),
    out: str = typer.Option("./rightsize-data", help="Dataset folder (appended to if it exists)."),
    flush: str | None = typer.Option(None, help="A new Parquet file this often (default 60s)."),
    source: str = typer.Option("auto", help="auto|docker|cgroup|prometheus (auto: cgroup files if visible)."),
    filter: list[str] = typer.Option(
        [], "--filter", help="name=…, label=KEY[=VALUE], id=…, ancestor=… (repeatable)."
    ),
    project: str | None = typer.Option(None, help="Only this compose project."),
    docker_host: str | None = typer.Option(None, help="Engine URL (default: DOCKER_HOST, else context)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    url: str | None = typer.Option(None, help="Prometheus base URL (--source prometheus)."),
    since: str | None = typer.Option(None, help="Prometheus: how much history to pull (default 14d)."),
    step: str | None = typer.Option(
        None, help="Prometheus: query resolution (default 1m); at most 1,000,000 points per series."
    ),
    namespace: list[str] = typer.Option(
        [], "--namespace", help="Prometheus: only these namespaces (a,b or repeated)."
    ),
    cluster: str | None = typer.Option(None, help="Prometheus: rows named NAME:namespace/… (many clusters)."),
    host: str | None = typer.Option(None, help="Host name for rows and file names (default: the engine's)."),
) -> None:
    """Sample every running container (or the filtered ones) into a Parquet dataset."""
    from pathlib import Path

    not_empty("--out", out, "a dataset folder")
    given = {"--project": project, "--namespace": namespace, "--docker-host": docker_host}
    for option, value in given.items():
        not_empty(option, value)
    check_collect_options(source, {
        "--filter": filter, "--project": project, "--docker-host": docker_host, "--host": host is not None,
        "--duration": duration, "--interval": interval, "--flush": flush, "--url": url,
        "--namespace": namespace, "--since": since, "--step": step, "--cluster": cluster is not None,
    })  # fmt: skip
    if source == "prometheus":
        from rightsize.units import parse_duration

        try:
            from rightsize.sources.prometheus import pull
        except ImportError as exc:
            raise RightsizeError(f"the prometheus source is not available: {exc}") from None
        summary: object = pull(
            url=url or "",  # checked above: given
            out=Path(out),
            since=parse_duration(since or "14d"),
            step=parse_duration(step or "1m"),
            namespaces=list(namespace),
            quiet=quiet,
            verify_tls=True,
            cluster=cluster,
        )
    else:
        from rightsize.runtime import lean_collector_process

        lean_collector_process()
        from rightsize.collector.loop import collect as run_collect

        summary = run_collect(
            out,
            duration=duration or "24h",
            interval=interval or "10s",
            flush=flush or "60s",
            source=source,
            filters=filter,
            project=project,
            docker_host=docker_host,
            quiet=quiet,
            host=host,
        )
    typer.echo(str(summary))


# --- recommend ---


@app.command(short_help="Recommend reservations and limits from the history's percentiles.")
def recommend(
    data: str | None = typer.Option(None, "--data", help=DATA_HELP),
    strategy: str = typer.Option("default", help="default|safe|krr|vpa|p95 (see --settings)."),
    fmt: str = typer.Option("table", "--format", help="table|json|yaml|csv|markdown."),
    compose: list[str] = typer.Option([], "--compose", "-f", help="Compose file(s) with current values."),
    env_file: list[str] = typer.Option([], "--env-file", help="${VAR} values (default: .env beside -f)."),
    project_directory: str | None = PROJECT_DIRECTORY,
    since: str | None = typer.Option(None, help="Only the last 7d/24h of the data (or since a date)."),
    workload: str | None = typer.Option(None, help="Only workloads matching these globs, e.g. 'shop/*,db'."),
    units: str = typer.Option("compose", help="compose (1536M, 1.5) or k8s (1536Mi, 1500m)."),
    set_: list[str] = typer.Option([], "--set", help="Override a strategy setting: NAME=VALUE (repeatable)"),
    settings: bool = typer.Option(False, "--settings", help="Print the strategy's settings, and exit."),
    cluster: str | None = typer.Option(None, "--cluster", help="Only this cluster's workloads, e.g. prod."),
) -> None:
    """Recommend memory, CPU and PID reservations/limits from the percentiles of the history."""
    not_empty("--data", data)
    check_compose_options(compose, env_file, project_directory)
    not_empty("--since", since)
    not_empty("--workload", workload)
    from rightsize.analysis.settings import parse_assignments, show_settings
    from rightsize.analysis.strategies import get_strategy
    from rightsize.render import FORMATS, UNITS, render, table_width

    overrides = parse_assignments(set_)
    strat = get_strategy(strategy, overrides)
    if settings:
        typer.echo(show_settings(strat.name, strat.summary, strat.settings, fmt), nl=False)
        return
    if fmt not in FORMATS or units not in UNITS:
        render([], fmt, units)  # raises the one-line error before any data is read
    from rightsize.analysis.recommend import recommend as run_recommend
    from rightsize.targets.clusters import checked, for_recommend

    checked(cluster)
    recs = run_recommend(data, strategy=strategy, overrides=overrides, since=since,
                         workloads=workload if cluster is None else None, compose=compose or None,
                         env_files=env_file or None, project_directory=project_directory)  # fmt: skip
    recs = recs if cluster is None else for_recommend(recs, cluster, workload)
    typer.echo(render(recs, fmt, units, width=table_width(sys.stdout.isatty())), nl=False)


# --- backtest ---


@app.command(short_help="Replay history: how each strategy's limits would have fared.")
def backtest(
    data: str | None = typer.Option(None, "--data", help=DATA_HELP),
    train: str = typer.Option("14d", help="Training window: each strategy is fitted on this much history."),
    test: str = typer.Option("7d", help="Test window right after it, where the limits are scored."),
    every: str = typer.Option("7d", help="Slide the windows by this much."),
    strategies: str | None = typer.Option(
        None,
        help="Comma-separated default,safe,krr,vpa,p95,current (leave out: default,krr,vpa, and current "
        "if the data has limits).",
    ),
    fmt: str = typer.Option("table", "--format", help="table|json."),
    workload: str | None = typer.Option(None, help="Only workloads matching these globs (comma-separated)."),
    set_: list[str] = typer.Option(
        [], "--set", help="Override a setting: [STRATEGY.]NAME=VALUE (default strategy if none; repeatable)."
    ),
) -> None:
    """Replay history: fit each strategy on a training window, score its limits on the next window."""
    not_empty("--data", data)
    not_empty("--workload", workload)
    not_empty("--strategies", strategies)
    import json

    from rightsize.analysis.backtest import backtest as run_backtest
    from rightsize.analysis.backtest import format_table, parse_overrides

    if fmt not in ("table", "json"):
        raise RightsizeError(f"--format {fmt!r}: choose table or json")
    result = run_backtest(
        data, train=train, test=test, every=every, strategies=strategies,
        overrides=parse_overrides(set_), workloads=workload,
    )  # fmt: skip
    typer.echo(json.dumps(result.to_dict(), indent=2) if fmt == "json" else format_table(result))


@app.command("import", short_help="Import an outside trace (Parquet or CSV) into a dataset.")
def import_(
    file: str = typer.Argument(..., metavar="FILE", help="The trace: a Parquet or CSV file."),
    map_: str = typer.Option(
        ...,
        "--map",
        help="SAMPLES_COLUMN=TRACE_COLUMN[*FACTOR or /DIVISOR],...: workload, ts, cpu_cores, "
        "mem_working_set, ... (e.g. mem_working_set=mem_kb*1024, cpu_cores=cpu_pct/100)",
    ),
    out: str = typer.Option(..., "--out", help="Dataset folder to write into (created if missing)."),
    where: str | None = typer.Option(None, help="Import only rows where this boolean column is true."),
    host: str = typer.Option("import", help="Value of the host column (and file name prefix)."),
    tz: str | None = typer.Option(
        None,
        "--tz",
        metavar="ZONE",
        help="Zone of times written without one (Europe/Berlin, UTC, +02:00); default UTC, with a "
        "warning. Times with an offset keep it; epoch numbers are UTC by definition and never shifted.",
    ),
) -> None:
    """Import an outside trace into the samples dataset through a column mapping."""
    not_empty("FILE", file)
    not_empty("--out", out, "a dataset folder")
    from rightsize.ingest.importer import import_trace, parse_mapping

    rows = import_trace(file, parse_mapping(map_), out, where=where, host=host, tz=tz)
    typer.echo(f"imported {rows} row{'' if rows == 1 else 's'} into {out}")


# --- apply ---


@app.command(short_help="Write recommendations into compose/Helm files or live containers.")
def apply(
    compose: list[str] = typer.Option([], "--compose", "-f", help="Compose file (repeat: -f a -f b)."),
    helm: str | None = typer.Option(None, "--helm", help="Helm values file to write resources into."),
    live: bool = typer.Option(False, "--live", help="Update running containers through the Engine API."),
    map_: list[str] = typer.Option([], "--map", help="Helm: WORKLOAD=dotted.path (repeatable)."),
    chart: str | None = typer.Option(None, "--chart", help="Helm: the values' chart (a folder or .tgz)."),
    release: str | None = typer.Option(None, "--release", help="Helm: the release name (default: guessed)."),
    render: bool = typer.Option(True, "--render/--no-render", help="Helm: find places with helm template."),
    values: list[str] = typer.Option([], "--values", help="Helm: a -f file helm gets before it (read)."),
    helm_set: list[str] = typer.Option([], "--helm-set", help="Helm: a --set KEY=VALUE helm gets (read)."),
    data: str | None = typer.Option(None, "--data", help=DATA_HELP),
    strategy: str = typer.Option("default", help="default|safe|krr|vpa|p95."),
    set_: list[str] = typer.Option([], "--set", help="Override a strategy setting: NAME=VALUE."),
    since: str | None = typer.Option(None, help="Only the last 7d/24h of the data."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print a unified diff; write nothing."),
    backup: bool = typer.Option(False, "--backup", help="Keep the old file as FILE.bak."),
    only: str | None = typer.Option(None, help="Only these resources: memory,cpu,pids."),
    services: str | None = typer.Option(None, help="Only these compose services: a,b."),
    project: str | None = typer.Option(None, help="Compose project name (workloads are project/service)."),
    env_file: list[str] = typer.Option([], "--env-file", help="Compose: ${VAR} values (default: .env)."),
    project_directory: str | None = PROJECT_DIRECTORY,
    docker_host: str | None = typer.Option(None, "--docker-host", help="--live URL, or DOCKER_HOST/context"),
    min_confidence: float = typer.Option(0.0, "--min-confidence", help="Skip recommendations below this."),
    swap: str | None = typer.Option(None, "--swap", metavar="SIZE", help="Swap beyond the limit: 0, 256M."),
    fmt: str = typer.Option("text", "--format", help="text (diff + summary) or json."),
    cluster: str | None = typer.Option(None, "--cluster", help="Helm: only this cluster's workloads."),
) -> None:
    """Write the recommendations into compose files or Helm values, or apply them to running containers."""
    from rightsize.cli_checks import check_apply_options
    from rightsize.cli_helm import helm_target
    from rightsize.targets.summary import summarize, to_json

    only_, services_, swap_ = check_apply_options(
        compose=compose, helm=helm, live=live, map_=map_, data=data, since=since, backup=backup, only=only,
        services=services, project=project, env_file=env_file, docker_host=docker_host, swap=swap, fmt=fmt,
        project_directory=project_directory, chart=chart)  # fmt: skip
    helm_ = helm_target(helm, cluster, map_, chart, release, render, values, helm_set)  # checks them
    recs = partial(recommendations_for, data, strategy, set_, since)  # called once the file is read
    if compose:
        from rightsize.targets.compose import patch_compose
        results = patch_compose(compose, recs, dry_run=dry_run, backup=backup, only=only_,
                                services=services_, project=project, min_confidence=min_confidence,
                                swap=swap_, env_files=env_file or None, project_directory=project_directory)
    elif helm_ is not None:
        results = [helm_.patch(recs, dry_run, backup, only_, min_confidence)]
    else:
        from rightsize.targets.live import apply_live
        results = [apply_live(recs, project=project, docker_host=docker_host, dry_run=dry_run,
                              only=only_, min_confidence=min_confidence, swap=swap_)]
    if fmt == "json":
        typer.echo(to_json(results, dry_run=dry_run))
        return
    if dry_run:
        typer.echo("".join(r.diff for r in results), nl=False)
    typer.echo(summarize(results, dry_run=dry_run), err=dry_run)


@app.command(short_help="CI gate: exit 1 when compose limits are off the recommendation.")
def check(
    compose: list[str] = typer.Option([], "--compose", "-f", help="Compose file (repeat: -f a -f b)."),
    data: str | None = typer.Option(None, "--data", help=DATA_HELP),
    strategy: str = typer.Option("default", help="default|safe|krr|vpa|p95."),
    set_: list[str] = typer.Option([], "--set", help="Override a strategy setting: NAME=VALUE."),
    since: str | None = typer.Option(None, help="Only the last 7d/24h of the data."),
    tolerance: str = typer.Option("25%", help="Allowed distance from the recommended limit."),
    services: str | None = typer.Option(None, help="Only these compose services: a,b."),
    project: str | None = typer.Option(None, help="Compose project name."),
    env_file: list[str] = typer.Option([], "--env-file", help="Values for ${VAR} (default: .env beside -f)."),
    project_directory: str | None = PROJECT_DIRECTORY,
    swap: str | None = typer.Option(
        None, "--swap", metavar="SIZE", help="Require memswap_limit = memory limit + SIZE (0: no swap)."
    ),
    fmt: str = typer.Option("table", "--format", help="table or json."),
) -> None:
    """CI gate: exit 1 when a limit or a set reservation is off the recommendation, or a checklist fails."""
    from rightsize.cli_checks import check_check_options, swap_bytes
    from rightsize.targets.check import check_compose, parse_tolerance

    check_check_options(compose, env_file, project_directory, fmt, data, since, services, project)
    tol, swap_ = parse_tolerance(tolerance), swap_bytes(swap)
    result = check_compose(compose, lambda: recommendations_for(data, strategy, set_, since), tolerance=tol,
                           services=split_names("--services", services), project=project,
                           env_files=env_file or None, swap=swap_, project_directory=project_directory)
    typer.echo(result.to_json() if fmt == "json" else result.table())
    raise typer.Exit(1 if result.failed else 0)


# --- report ---


@app.command(short_help="Write one self-contained HTML report.")
def report(
    data: str | None = typer.Option(None, help=DATA_HELP),
    out: str = typer.Option("rightsize-report.html", "--out", "-o", help="HTML file to write."),
    compose: list[str] = typer.Option([], "--compose", "-f", help="Compose file(s) with current values."),
    env_file: list[str] = typer.Option([], "--env-file", help="${VAR} values (default: .env beside -f)."),
    project_directory: str | None = PROJECT_DIRECTORY,
    strategy: str = typer.Option("default", help="default|safe|krr|vpa|p95 (see recommend --settings)."),
    set_: list[str] = typer.Option([], "--set", help="Override a strategy setting: NAME=VALUE (repeatable)"),
    since: str | None = typer.Option(None, help="Only the last 7d/24h of the data (or since a date)."),
    workload: str | None = typer.Option(None, help="Only workloads matching these globs, e.g. 'shop/*,db'."),
    buckets: int | None = typer.Option(
        None, help="Time buckets per chart (each keeps its min and max sample); 500, fewer past 500 workloads"
    ),
) -> None:
    """Write one self-contained HTML report: current vs recommended, usage over time, distributions."""
    not_empty("--data", data)
    not_empty("--out", out, "an HTML file, e.g. --out report.html")
    not_empty("--since", since)
    not_empty("--workload", workload)
    check_compose_options(compose, env_file, project_directory)
    from rightsize.analysis.settings import parse_assignments
    from rightsize.report.html import report as write_report

    path = write_report(
        data, out=out, strategy=strategy, overrides=parse_assignments(set_) or None, since=since,
        compose=compose or None, env_files=env_file or None, workloads=workload, buckets=buckets,
        project_directory=project_directory,
    )  # fmt: skip
    typer.echo(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB)")


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the app, turning every expected failure into one line and exit 2."""
    warnings.showwarning = show_warning
    try:
        # without standalone mode click returns (not raises) the code of a typer.Exit; no arguments
        # is the help (no_args_is_help raises it as a usage error: "rightsize: error: Usage: ...")
        code = app(args=(sys.argv[1:] if argv is None else argv) or ["--help"], standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except _UsageError as exc:  # bad option, missing argument, ...
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        print(f"rightsize: error: {one_line(message)}", file=sys.stderr)
        sys.exit(2)
    except RightsizeError as exc:
        print(f"rightsize: error: {one_line(exc)}", file=sys.stderr)
        sys.exit(2)
    except (BrokenPipeError, KeyboardInterrupt):
        sys.exit(130)
    except OSError as exc:  # a file or folder the OS refused that no check foresaw: still one line
        where = f"{exc.filename} " if exc.filename else ""
        print(f"rightsize: error: {one_line(f'{where}{exc.strerror or exc}')}", file=sys.stderr)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)
