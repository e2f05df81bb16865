"""Plain YAML numbers as compose-go's YAML reader (yaml.v3) reads them, where ruamel.yaml (YAML 1.2)
reads them otherwise; checked with Docker Compose 2.40.3 (test_compose_v2_config)."""

from __future__ import annotations

import re
from typing import Any

from ruamel.yaml.scalarint import ScalarInt

# compose-go decodes these into types.UnitBytes, whose DecodeMapstructure takes an int or a string
# and lets any other value through as 0: a YAML float there (1e9, 1.5, 1073741824.0) is no limit at
# all (Docker Compose 2.40.3: `mem_limit: 1e9` ran with HostConfig.Memory 0)
BYTES_KEYS = ("mem_limit", "memswap_limit", "mem_reservation")

_GO_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")


def yaml_v3(value: Any) -> Any:
    """A plain integer written with leading zeros as compose-go's YAML reader (yaml.v3) reads it: Go's
    ``strconv.ParseInt(s, 0, 64)``, so ``017`` is octal 15, and one it refuses (``019``) a float,
    19.0; ruamel.yaml (YAML 1.2) reads both as decimal. Anything else is returned as it is."""
    width = getattr(value, "_width", None)
    if type(value) is not ScalarInt or not width or getattr(value, "_underscore", None):
        return value
    digits = str(abs(int(value)))
    text = "0" * (width - len(digits)) + digits
    sign = -1 if value < 0 else 1
    if len(text) < 2 or not text.startswith("0"):
        return value
    if all(c in "01234567" for c in text):
        return sign * int(text, 8)
    return sign * float(text) if _GO_FLOAT.fullmatch(text) else value
