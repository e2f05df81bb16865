"""The compose project a stack's containers run in (their ``com.docker.compose.project`` label),
named as Docker Compose v2 names it (compose-go ``cli/options.go`` and ``loader/loader.go``):

1. ``-p`` (rightsize: ``--project``), else ``COMPOSE_PROJECT_NAME`` (environment, then ``.env``):
   taken as given; a name that is not already normalized is refused ("invalid project name"),
   not normalized (since Compose 2.6 / 2.17, see docker/compose#9519, #10426);
2. else the last ``-f`` file's ``name:``, interpolated and normalized;
3. else the project directory's folder name (the first ``-f`` file's folder), normalized.

Normalized: lower case, every character but ``a-z 0-9 _ -`` dropped, then leading ``_``/``-``.

The folder name is only a default: it is used when the data has workloads of that project. A
stack started from another folder or with ``-p`` is then matched as before, by service name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

from rightsize.errors import RightsizeError
from rightsize.models import Recommendation
from rightsize.targets.include import ComposeDoc, doc_env
from rightsize.targets.interpolate import resolve
from rightsize.targets.yaml import Doc

_NOT_ALLOWED = re.compile(r"[^a-z0-9_-]")


def normalize(name: str) -> str:
    """compose-go ``loader.NormalizeProjectName``."""
    return _NOT_ALLOWED.sub("", name.lower()).lstrip("_-")


def _checked(name: str, where: str) -> str:
    if normalize(name) != name:
        hint = f" (did you mean {normalize(name)}?)" if normalize(name) else ""
        raise RightsizeError(
            f"{where}: invalid project name {name!r}: Docker Compose refuses it, a project name is only "
            f"lowercase letters, digits, '-' and '_', starting with a letter or digit{hint}"
        )
    return name


def _tops(docs: Sequence[Doc]) -> list[Doc]:
    return [d for d in docs if not (isinstance(d, ComposeDoc) and d.included_by)]


def project_name(docs: Sequence[Doc], given: str | None = None) -> str | None:
    """The project set explicitly: ``given`` (``--project``), ``COMPOSE_PROJECT_NAME`` or the last
    -f file's ``name:`` (an included file's ``name`` is not read); None when none is. Every file's
    ``name`` must be a string (the schema compose validates each file against, whatever names the
    project); ``name: ""`` is as good as none (compose's merge skips it)."""
    for d in docs:
        if "name" in d.data and not isinstance(d.data["name"], str):  # (null, 123, true)
            raise RightsizeError(f"{d.source}: name: {d.data['name']!r} is not a string: Docker Compose "
                                 "refuses it")  # fmt: skip
    if given:
        return _checked(given, "--project")
    tops = _tops(docs)
    env = doc_env(tops[0]) if tops else {}
    if env.get("COMPOSE_PROJECT_NAME"):
        return _checked(env["COMPOSE_PROJECT_NAME"], "COMPOSE_PROJECT_NAME")
    named = next((d for d in reversed(tops) if d.data.get("name")), None)
    if named is None:
        return None
    raw = named.data["name"]
    name = normalize(str(resolve(raw, doc_env(named), f"{named.source}: name")))
    if not name:  # name: ${UNSET}, name: "---": Docker Compose 2.40.3 says "project name must not be empty"
        raise RightsizeError(
            f"{named.source}: name: {raw!r} reads as an empty project name: Docker Compose refuses it "
            "(set the variable, or leave name: out for the folder's name)"
        )
    return name


def folder_project(docs: Sequence[Doc]) -> str | None:
    """The name compose gives a project none names: its directory's, normalized (None if empty)."""
    tops = _tops(docs)
    if not tops:
        return None
    first = tops[0]
    workdir = first.workdir if isinstance(first, ComposeDoc) and first.workdir is not None else None
    folder = os.path.abspath(workdir if workdir is not None else os.path.dirname(first.source) or ".")
    return normalize(os.path.basename(folder)) or None  # abspath: "-f ../x/c.yml" is folder x, as Go's Abs


def project_for(explicit: str | None, folder: str | None, recs: Sequence[Recommendation]) -> str | None:
    """The project to match ``project/service`` in: the explicit one, else the folder's when the data
    has workloads of it, else None (a service matches ``*/service`` when one project has it)."""
    if explicit or folder is None:
        return explicit
    return folder if any(r.workload.startswith(f"{folder}/") for r in recs) else None
