"""The Compose Specification's JSON schema (package data) checks a patched file before it is written.

Only violations the patch would add count: a file that already breaks the schema somewhere else (a
feature newer or older than this copy of the schema) is still patched, as compose itself reads it.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from rightsize.errors import RightsizeError
from rightsize.targets.yaml import loadable, plain_yaml

SCHEMA = resources.files("rightsize.targets") / "compose-spec" / "compose-spec.json"


def schema_errors(data: Any) -> list[tuple[str, str]]:
    """``(path, message)`` of every compose-spec violation in ``data`` (plain data, merges resolved)."""
    from jsonschema import Draft7Validator

    validator = Draft7Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    return [
        (".".join(map(str, e.absolute_path)) or "(top level)", e.message)
        for e in validator.iter_errors(_string_keys(data))
    ]


def _string_keys(node: Any) -> Any:
    """Keys as compose reads them (``1: x`` under labels is "1"); jsonschema's patternProperties
    raises a TypeError on a key that is not a string."""
    if isinstance(node, dict):
        return {str(k): _string_keys(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_string_keys(v) for v in node]
    return node


def check_patched(before: str, after: str, source: str) -> None:
    """RightsizeError if ``after`` breaks the compose schema where ``before`` did not (a writer bug)."""
    load = plain_yaml().load
    old = set(schema_errors(load(loadable(before))))
    new = [e for e in schema_errors(load(loadable(after))) if e not in old]
    if new:
        path, message = new[0]
        more = f" (and {len(new) - 1} more)" if len(new) > 1 else ""
        raise RightsizeError(
            f"internal error, nothing written: {source} would break the compose schema at {path}: "
            f"{' '.join(message.split())[:200]}{more}"
        )
