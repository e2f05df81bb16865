"""``--filter ancestor=IMAGE`` judged at a container's create, as the engine judges it in a list.

An event names the image as the container was created from (``rs-job:1``), so the image's name
alone cannot tell that it was built ``FROM`` the filter's image. The engine's list (graph-driver
image store) matches a container whose image is the named one or one of its descendants by the
store's parent links (``Parent``: set by the classic builder and by ``docker commit``). The same
links are followed here, from the container's image ID up, each image's parent asked once per run
(an image's parent never changes); the filter's names are resolved at each judgement, since a tag
may move during a run. An engine whose images record no parent (the containerd image store, which
compares layers instead) is judged by its list alone, in the loop, as before.
"""

from __future__ import annotations

import threading
from typing import Any

# far more than any real build has layers with parents of their own: a bound, never a loop
MAX_DEPTH = 1_000


class Ancestry:
    """One run's image parent lookups (no global state). Called from a pool's threads."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._lock = threading.Lock()
        self._parents: dict[str, str | None] = {}

    def _parent(self, image_id: str) -> str | None:
        with self._lock:
            if image_id in self._parents:
                return self._parents[image_id]
        parent = str(self.client.api.inspect_image(image_id).get("Parent") or "") or None
        with self._lock:
            self._parents[image_id] = parent
        return parent

    def lineage(self, image_id: str) -> list[str]:
        """The image's ID, then its parent's, and so on up to the first without a parent (an image
        removed meanwhile ends it there)."""
        chain = [image_id]
        while len(chain) < MAX_DEPTH:
            try:
                parent = self._parent(chain[-1])
            except Exception:  # removed, or the engine did not answer: the links known so far
                break
            if parent is None or parent in chain:
                break
            chain.append(parent)
        return chain

    def descends(self, image_id: str, ancestors: list[str]) -> bool:
        """Whether the image ``image_id`` is, or was built from, one of the images named (a name
        the engine does not know matches nothing, as in its list)."""
        wanted = set()
        for name in ancestors:
            try:
                wanted.add(str(self.client.api.inspect_image(name)["Id"]))
            except Exception:
                continue
        return bool(wanted) and not wanted.isdisjoint(self.lineage(image_id))
