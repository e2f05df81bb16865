"""Option checks shared by the ``rightsize`` commands: the one-line error and empty-value rules."""

from __future__ import annotations

import contextlib
import sys
from typing import Any

import typer


def fail(message: str) -> typer.Exit:
    """Print one error line and return the Exit to raise (exit code 2)."""
    typer.echo(f"rightsize: error: {message}", err=True)
    return typer.Exit(2)


# What an option that was given empty should have held. An empty value usually is a script's unset
# variable: it must not silently mean "the current folder" (Path("") is ".") or "no filter".
_EXPECTED = {
    "FILE": "a Parquet or CSV trace file",
    "--data": "a dataset folder (leave --data out for the bundled sample)",
    "--compose": "a compose file",
    "--helm": "a Helm values file",
    "--chart": "a chart folder or .tgz (leave --chart out for the chart the values file sits in)",
    "--workload": "a glob such as 'shop/*' (leave --workload out for every workload)",
    "--since": "a duration such as 7d or a date such as 2026-11-01 (leave --since out for all the data)",
    "--project": "a compose project name (leave --project out for every project)",
    "--services": "compose service names a,b (leave --services out for every service)",
    "--only": "resources among memory,cpu,pids (leave --only out for all three)",
    "--strategies": "strategies such as default,safe,krr (leave --strategies out for default,krr,vpa)",
    "--namespace": "a namespace (leave --namespace out for every namespace)",
    "--docker-host": "an engine URL such as tcp://host:2375 (leave it out for DOCKER_HOST, else the context)",
    "--swap": "a swap size such as 0 or 256M (leave --swap out to keep the swap as it is)",
    "--project-directory": "a folder (leave --project-directory out for the first -f file's folder)",
}

# compose's --project-directory, for every command that reads -f files (one Option, shared)
PROJECT_DIRECTORY: Any = typer.Option(
    None, "--project-directory", metavar="DIR",
    help="Compose: the project folder .env and relative paths resolve in, and the default project name "
    "(default: the first -f file's folder), as docker compose --project-directory.",
)  # fmt: skip
DATA_HELP = "Dataset folder (default: ./rightsize-data if it is here, else the bundled sample)."


def not_empty(option: str, value: str | list[str] | None, expected: str | None = None) -> None:
    """Exit 2 with one line if ``value`` (or any item of a repeated option) is empty or blank."""
    values = value if isinstance(value, list) else [] if value is None else [value]
    if any(not v.strip() for v in values):
        raise fail(f"{option} is empty: expected {expected or _EXPECTED[option]}")


def one_line(message: Any) -> str:
    """The text on one line, whatever it holds: pyarrow's "Couldn't deserialize thrift: ... Invalid
    data\n" left a lone ")" on a line of its own, and an option's value may hold a newline."""
    return " ".join(part.strip() for part in str(message).splitlines() if part.strip())


def show_warning(message: Any, category: Any, filename: str, lineno: int, *args: Any, **kw: Any) -> None:
    # as Python's own showwarning: a terminal that hung up (EIO) must not end a run mid-way, e.g.
    # `collect & disown` then the terminal closed: the warning raised out of the loop, rows unflushed
    with contextlib.suppress(OSError):
        print(f"rightsize: warning: {one_line(message)}", file=sys.stderr)


def split_names(option: str, value: str | None) -> list[str] | None:
    """``a,b`` -> [a, b]; only commas (``"$A,$B"`` with both unset) is an error, not "no filter"."""
    names = None if value is None else [v for v in value.split(",") if v.strip()]
    if names == []:
        raise fail(f"{option} is empty: expected {_EXPECTED[option]}")
    return names


def swap_bytes(value: str | None) -> int | None:
    """``--swap``: the swap allowed beyond the memory limit, in bytes (None: leave the swap as it is).

    A bare number other than 0 is refused: compose reads it as bytes, and ``--swap 512`` meant as
    512 MiB would quietly allow half a kilobyte."""
    if value is None:
        return None
    not_empty("--swap", value)
    from rightsize.errors import RightsizeError
    from rightsize.targets.swapsize import parse_swap

    try:
        return parse_swap(value, "--swap", _EXPECTED["--swap"])
    except RightsizeError as exc:
        raise fail(str(exc)) from None


def check_compose_options(
    compose: list[str], env_file: list[str], project_directory: str | None = None
) -> None:
    """``recommend`` and ``report``: ``--compose`` files (repeatable, merged as ``-f a -f b``), the
    ``--env-file`` files their ``${VAR}`` values are read from and ``--project-directory``."""
    not_empty("--compose", compose)
    not_empty("--env-file", env_file, "an env file, e.g. --env-file .env.prod")
    not_empty("--project-directory", project_directory)
    if env_file and not compose:  # else silently unused
        raise fail("--env-file works with --compose only")
    if project_directory is not None and not compose:
        raise fail("--project-directory works with --compose only")


def check_check_options(
    compose: list[str], env_file: list[str], project_directory: str | None, fmt: str,
    data: str | None, since: str | None, services: str | None, project: str | None,
) -> None:
    """``check``'s option rules."""  # fmt: skip
    given = {"--compose": compose, "--data": data, "--since": since, "--services": services,
             "--project": project}  # fmt: skip
    for option, value in given.items():
        not_empty(option, value)
    not_empty("--env-file", env_file, "an env file, e.g. --env-file .env.prod")
    not_empty("--project-directory", project_directory)
    if not compose:
        raise fail("give the compose file(s) to check: --compose FILE")
    if fmt not in ("table", "json"):
        raise fail(f"--format {fmt!r}: choose table or json")


def check_apply_options(
    *, compose: list[str], helm: str | None, live: bool, map_: list[str], data: str | None,
    since: str | None, backup: bool, only: str | None, services: str | None, project: str | None,
    env_file: list[str], docker_host: str | None, swap: str | None, fmt: str,
    project_directory: str | None = None, chart: str | None = None,
) -> tuple[list[str] | None, list[str] | None, int | None]:
    """``apply``'s option rules; returns (--only, --services, --swap bytes) parsed."""  # fmt: skip
    given = {"--compose": compose, "--helm": helm, "--data": data, "--since": since, "--services": services,
             "--only": only, "--project": project, "--docker-host": docker_host,
             "--project-directory": project_directory, "--chart": chart}  # fmt: skip
    for option, value in given.items():
        not_empty(option, value)
    not_empty("--env-file", env_file, "an env file, e.g. --env-file .env.prod")
    if sum([bool(compose), helm is not None, live]) != 1:
        raise fail("give exactly one target: --compose FILE [...], --helm FILE or --live")
    if live and backup:  # a running container has no file to back up: say so rather than ignore it
        raise fail("--backup keeps a copy of a file; --live changes running containers (no file)")
    misplaced = {"--map": bool(map_) and helm is None, "--chart": chart is not None and helm is None,
                 "--services": services is not None and not compose,
                 "--project": project is not None and helm is not None,
                 "--docker-host": docker_host is not None and not live,
                 "--env-file": bool(env_file) and not compose,
                 "--project-directory": project_directory is not None and not compose}  # fmt: skip
    for option in (o for o, unused in misplaced.items() if unused):  # ignored, it would patch too much
        target = {"--map": "--helm", "--chart": "--helm", "--services": "--compose",
                  "--docker-host": "--live",
                  "--env-file": "--compose", "--project-directory": "--compose"}  # fmt: skip
        raise fail(f"{option} works with {target.get(option, '--compose or --live')} only")
    if fmt not in ("text", "json"):
        raise fail(f"--format {fmt!r}: choose text or json")
    if swap is not None and helm is not None:
        raise fail("--swap works with --compose or --live only: Kubernetes has no per-container swap limit")
    only_, services_ = split_names("--only", only), split_names("--services", services)
    swap_ = swap_bytes(swap)
    if swap_ is not None and only_ is not None and "memory" not in (o.strip() for o in only_):
        raise fail(f"--swap is set with each memory limit: --only {only} leaves memory out")
    return only_, services_, swap_


# Options of one kind of collect that the other kind would silently ignore (a Docker collect run
# for 24 h instead of a Prometheus pull, or 14 days pulled when --duration 1h was asked for).
_ENGINE_ONLY = {
    "--filter": "use --namespace",
    "--project": "use --namespace",
    "--docker-host": "use --url",
    "--host": "Prometheus names nodes",
    "--duration": "a Prometheus pull takes --since",
    "--interval": "a Prometheus pull takes --step",
    "--flush": "a Prometheus pull writes when it is done",
}
_PROMETHEUS_ONLY = ("--url", "--namespace", "--since", "--step", "--cluster")


def check_collect_options(source: str, given: dict[str, object]) -> None:
    """One line, exit 2, for an option that does not apply to ``source`` (``given``: only the
    options that were given)."""
    if source == "prometheus":
        if not given.get("--url"):
            raise fail("--source prometheus needs --url, e.g. --url http://localhost:9090")
        for option in (o for o in _ENGINE_ONLY if given.get(o)):
            raise fail(f"{option} applies to the docker and cgroup sources ({_ENGINE_ONLY[option]})")
        from rightsize.units import refuse_bare_number

        for option in ("--since", "--step"):  # `--since 14` was 14 seconds of history
            value = given.get(option)
            if isinstance(value, str):
                refuse_bare_number(value, option)
        return
    for option in (o for o in _PROMETHEUS_ONLY if given.get(o)):
        raise fail(f"{option} applies to --source prometheus")


def recommendations_for(data: str | None, strategy: str, set_: list[str], since: str | None) -> list[Any]:
    """What `apply` and `check` write or judge against: `recommend` with the command's options."""
    from rightsize.analysis.recommend import recommend
    from rightsize.analysis.settings import parse_assignments

    return recommend(data, strategy=strategy, overrides=parse_assignments(set_), since=since)
