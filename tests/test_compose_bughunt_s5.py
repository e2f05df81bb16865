"""Corner cases of today's compose work, found by trying to break it through the CLI: JSON compose
files, ``extends`` chains, ``.env`` and interpolation. The bundled sample recommends 1536M for
``sutazai/postgres``'s memory limit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cli_helpers import run_cli as run

COMPACT = '{"name":"sutazai","services":{"postgres":{"image":"x","mem_limit":"1g"}}}'


def test_apply_to_compact_json_keeps_it_json(tmp_path: Path, capsys: Any) -> None:
    """``{"a":"b"}`` (no space after the colon, as JSON tools write it) read 'internal: could not find
    a key's colon', exit 2."""
    path = tmp_path / "compose.json"
    path.write_text(COMPACT)
    code, _, err = run(["apply", "-f", str(path), "--only", "memory"], capsys)
    assert code == 0, err
    service = json.loads(path.read_text())["services"]["postgres"]
    assert service["mem_limit"] == "1536m" and service["mem_reservation"]
