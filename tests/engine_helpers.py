"""Small questions the collector tests ask the real engine."""

from __future__ import annotations

from typing import Any

import docker


def container_gone(client: Any, container_id: str) -> bool:
    """True once the engine no longer knows the container (a ``--rm`` job removed)."""
    try:
        client.api.inspect_container(container_id)
    except docker.errors.NotFound:
        return True
    return False
