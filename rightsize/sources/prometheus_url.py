"""Which base URL a user meant when ``--url`` is not one: a page of Prometheus's web UI pasted from
the browser (``/graph?g0.expr=…``, ``/query``), an API path (``…/api/v1``), or a server that runs
under a path prefix (``--web.route-prefix``) given without it.

Nothing is stripped silently: a Prometheus behind a reverse proxy under ``/prometheus`` is a base
URL with a path, indistinguishable from a UI page by its look. Only after a request failed are
the likely bases tried, and the error line names the one that answers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

# The paths of Prometheus's web UI (2.x classic and React, 3.x) and API, at the end of a URL path.
_UI_PAGE = re.compile(
    r"(?:/(?:classic|new))?/(?:graph|query|alerts|targets|rules|config|flags|status|tsdb-status|"
    r"service-discovery|agent|explore|metrics|federate|-/ready|-/healthy)/?$"
    r"|/api/v1(?:/.*)?$|/api/?$"
)


def stripped(url: str) -> str:
    """``url`` without its query, fragment and a trailing UI page or API path (a prefix stays)."""
    parts = urlsplit(url)
    path = _UI_PAGE.sub("", parts.path.rstrip("/") or "/").rstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def candidates(url: str, root_redirect: str | None) -> list[str]:
    """Bases to try for a failed ``url``, likeliest first: the URL stripped of a UI page, and the
    prefix the server's root redirects to (``/`` -> ``/prometheus`` under a route prefix)."""
    parts = urlsplit(url)
    root = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    out = [stripped(url)]
    if root_redirect:
        target = urlsplit(root_redirect)
        if not target.netloc or target.netloc == parts.netloc:  # the same server, not a login page
            out.append(stripped(urlunsplit((parts.scheme, parts.netloc, target.path, "", ""))))
    out.append(root)
    seen: list[str] = []
    for c in out:
        if c != url.rstrip("/") and c not in seen:
            seen.append(c)
    return seen


def base_hint(url: str, root_redirect: str | None, answers: Callable[[str], bool]) -> str:
    """The clause added to "not a Prometheus HTTP API" (empty for a bare host that is no Prometheus):
    the base that ``answers`` like Prometheus, else what a base URL looks like."""
    tried = candidates(url, root_redirect)
    for base in tried:
        if answers(base):
            return f"; --url must be the server's base URL, not a web UI page or API path: use --url {base}"
    parts = urlsplit(url)
    if parts.path.strip("/") or parts.query or parts.fragment:
        guess = tried[0] if tried else url
        return (f"; --url must be the server's base URL (e.g. {guess}), with the path prefix it is "
                "served under if any, not a web UI page or API path")  # fmt: skip
    return ""
