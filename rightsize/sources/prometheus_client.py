"""A small Prometheus HTTP API client: auth from the environment, TLS, retries, time chunking.

Only what ``rightsize.sources.prometheus`` needs: probe the server, list metric names and series
label sets (index lookups, cheap), and run range queries split into time chunks that stay under
Prometheus's limit of 11,000 points per series per query.
"""

from __future__ import annotations

import math
import os
import re
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import numpy as np
import requests

from rightsize.errors import RightsizeError
from rightsize.sources.prometheus_url import base_hint

TOKEN_ENV = "RIGHTSIZE_PROM_TOKEN"
USER_ENV = "RIGHTSIZE_PROM_USER"
PASSWORD_ENV = "RIGHTSIZE_PROM_PASSWORD"
CA_ENV = "RIGHTSIZE_PROM_CA"  # a CA bundle to verify the server with (a cluster's private CA)
CERT_ENV = "RIGHTSIZE_PROM_CERT"  # a client certificate, for a Prometheus behind mutual TLS
KEY_ENV = "RIGHTSIZE_PROM_KEY"  # its key, when not in the certificate's file

MAX_POINTS = 11_000  # Prometheus refuses range queries with more points per series than this
CHUNK_POINTS = 10_000  # stay clearly below it (start/end rounding can add a point)
TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Series:
    """One range-query result series: its labels, timestamps (ms) and values (float64)."""

    labels: Mapping[str, str]
    ts: np.ndarray
    values: np.ndarray


@dataclass
class Stats:
    """Counters of one pull (mutable on purpose: owned by one client, read at the end)."""

    queries: int = 0
    retries: int = 0
    points: int = 0
    bytes: int = 0
    seconds_waiting: float = 0.0
    errors: list[str] = field(default_factory=list)


class QueryTooBig(RightsizeError):
    """The server refused a query as too expensive (``query.max-samples`` or its timeout)."""


class NotAnApi(RightsizeError):
    """The URL answered, but not with Prometheus JSON (a web UI page, a 404, another server)."""


def auth_from_env(env: Mapping[str, str] | None = None) -> tuple[dict[str, str], tuple[str, str] | None]:
    """Headers and basic-auth pair from RIGHTSIZE_PROM_TOKEN or RIGHTSIZE_PROM_USER/_PASSWORD."""
    env = os.environ if env is None else env
    token = env.get(TOKEN_ENV, "").strip()
    user = env.get(USER_ENV, "")
    password = env.get(PASSWORD_ENV, "")
    if token and user:
        raise RightsizeError(f"set either {TOKEN_ENV} or {USER_ENV}/{PASSWORD_ENV}, not both")
    if token:
        return {"Authorization": f"Bearer {token}"}, None
    if user:
        return {}, (user, password)
    if password:
        raise RightsizeError(f"{PASSWORD_ENV} is set but {USER_ENV} is not")
    return {}, None


def chunks(
    start: float, end: float, step: float, max_points: int = CHUNK_POINTS
) -> list[tuple[float, float]]:
    """Split [start, end] into consecutive ranges of at most ``max_points`` steps each.

    Chunks share the step grid (each starts one step after the previous one ends), so the points
    of consecutive chunks never overlap nor leave a gap.
    """
    if step <= 0:
        raise RightsizeError(f"step must be positive, got {step}")
    n_points = math.floor((end - start) / step) + 1
    per = max(1, min(max_points, MAX_POINTS - 1))
    out = []
    for first in range(0, n_points, per):
        last = min(first + per, n_points) - 1
        out.append((start + first * step, start + last * step))
    return out


class PromClient:
    """Talks to one Prometheus (or a compatible API: Thanos, Mimir, VictoriaMetrics)."""

    def __init__(
        self,
        url: str,
        *,
        verify_tls: bool = True,
        timeout: float = 150.0,  # past Prometheus's and Thanos' 2m query timeout: theirs answers first
        retries: int = 4,
        backoff: float = 0.5,
        env: Mapping[str, str] | None = None,
    ) -> None:
        try:  # "http://[::1" and "host:99999" raise here, not as a traceback
            parts = urlsplit(url)
            ok = parts.scheme in ("http", "https") and bool(parts.hostname) and (parts.port or 1) > 0
        except ValueError:
            ok = False
        if not ok:
            raise RightsizeError(f"not a Prometheus URL: {url!r} (expected e.g. http://prometheus:9090)")
        in_url = None
        if "@" in parts.netloc:  # http://user:pass@host: sent as basic auth, never shown in a message
            in_url = (unquote(parts.username or ""), unquote(parts.password or ""))
            url = urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.stats = Stats()
        self._lock = threading.Lock()  # queries may run from a few threads at once
        self._abort = threading.Event()
        env = os.environ if env is None else env
        headers, basic = auth_from_env(env)
        self.session = requests.Session()
        self.session.headers.update({"Accept": "application/json", **headers})
        self.session.auth = basic or (None if headers else in_url)
        # which credentials went out, so that a refusal names them instead of asking to set them
        self._sent = (TOKEN_ENV if headers else f"{USER_ENV}/{PASSWORD_ENV}" if basic
                      else "the user:password in --url" if in_url else "")  # fmt: skip
        ca = env.get(CA_ENV, "")
        if ca and not os.path.isfile(ca):
            raise RightsizeError(f"{CA_ENV}={ca}: no such file")
        # passed with every request: requests lets REQUESTS_CA_BUNDLE override a session's verify
        self._verify: bool | str = (ca or True) if verify_tls else False
        self._cert = client_cert(env)

    def abort(self) -> None:
        """Make queries still waiting to retry (in other threads) give up at once."""
        self._abort.set()

    def close(self) -> None:
        self._abort.set()
        self.session.close()

    def __enter__(self) -> PromClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------ HTTP

    def _get(
        self, path: str, params: Mapping[str, Any] | list[tuple[str, Any]], retries: int | None = None
    ) -> Any:
        """GET an API path, retrying transient failures with exponential backoff; -> ``data``."""
        url = f"{self.url}{path}"
        retries = self.retries if retries is None else retries
        attempt = 0
        while True:
            if attempt == 0:
                self._count(queries=1)
            try:
                resp = self.session.get(
                    url, params=params, timeout=self.timeout, verify=self._verify, cert=self._cert
                )
            except requests.exceptions.SSLError as exc:
                raise RightsizeError(tls_error(self.url, exc)) from None
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt < retries:
                    attempt = self._wait(attempt)
                    continue
                raise RightsizeError(f"cannot reach Prometheus at {self.url}: {_short(exc)}") from None
            if resp.status_code in TRANSIENT_STATUS and attempt < retries and not _timed_out(resp):
                attempt = self._wait(attempt)
                continue
            self._count(bytes=len(resp.content))
            return self._data(resp, path)

    def _wait(self, attempt: int) -> int:
        delay = self.backoff * 2**attempt
        self._count(retries=1, seconds_waiting=delay)
        if self._abort.wait(delay):  # another query failed for good: stop retrying this one
            raise RightsizeError(f"Prometheus at {self.url}: pull aborted")
        return attempt + 1

    def _count(self, **amounts: float) -> None:
        with self._lock:
            for name, amount in amounts.items():
                setattr(self.stats, name, getattr(self.stats, name) + amount)

    def _data(self, resp: requests.Response, path: str) -> Any:
        if resp.status_code in (401, 403) and self._sent:
            raise RightsizeError(
                f"Prometheus at {self.url} refused the credentials given (HTTP {resp.status_code}): "
                f"check {self._sent}"
            )
        if resp.status_code in (401, 403):
            raise RightsizeError(
                f"Prometheus at {self.url} refused access (HTTP {resp.status_code}): set {TOKEN_ENV} "
                f"(bearer token) or {USER_ENV}/{PASSWORD_ENV} (basic auth)"
            )
        try:
            body = resp.json()
        except ValueError:
            if resp.status_code in TRANSIENT_STATUS:
                raise RightsizeError(
                    f"Prometheus at {self.url} failed {path}: HTTP {resp.status_code} after "
                    f"{self.retries} retries"
                ) from None
            kind = resp.headers.get("Content-Type", "unknown content").split(";")[0]
            raise NotAnApi(
                f"{self.url} is not a Prometheus HTTP API: GET {path} returned {kind} "
                f"(HTTP {resp.status_code}), not Prometheus JSON"
            ) from None
        if not isinstance(body, dict) or "status" not in body:
            raise NotAnApi(f"{self.url} is not a Prometheus HTTP API: GET {path} returned other JSON")
        if body["status"] != "success":
            msg = str(body.get("error") or body.get("errorType") or f"HTTP {resp.status_code}")
            if "too many samples" in msg or body.get("errorType") == "timeout" or "timed out" in msg:
                msg += " (a larger --step, a shorter --since or fewer namespaces per run ask for less)"
                raise QueryTooBig(f"Prometheus at {self.url} rejected {path}: {msg}")
            raise RightsizeError(f"Prometheus at {self.url} rejected {path}: {msg}")
        return body.get("data")

    # ------------------------------------------------------------------------------------ API

    def probe(self) -> str:
        """Check that the URL is a Prometheus API and return its version ("unknown" if it won't say)."""
        try:
            try:
                # one retry only: a wrong URL should fail in about a second, not after the full backoff
                info = self._get("/api/v1/status/buildinfo", {}, retries=1)
            except RightsizeError as exc:
                # Thanos / VictoriaMetrics may lack buildinfo; any working instant query proves the API.
                if "rejected" not in str(exc) and "HTTP 404" not in str(exc):
                    raise
                self._get("/api/v1/query", {"query": "vector(1)"})
                return "unknown"
        except NotAnApi as exc:  # a URL pasted from the browser: name the base that answers
            hint = base_hint(self.url, self._redirect("/"), self._answers)
            raise NotAnApi(f"{exc}{hint}") from None
        return str(info.get("version", "unknown")) if isinstance(info, dict) else "unknown"

    def _answers(self, base: str) -> bool:
        """Whether ``base`` answers an instant query as Prometheus (one try, a short wait)."""
        try:
            resp = self._raw(f"{base}/api/v1/query", {"query": "vector(1)"})
            body = resp.json()
        except (requests.RequestException, ValueError):
            return False
        return isinstance(body, dict) and body.get("status") == "success"

    def _redirect(self, path: str) -> str | None:
        """Where the server's ``path`` redirects to (a route prefix shows there), if anywhere."""
        parts = urlsplit(self.url)
        try:
            resp = self._raw(urlunsplit((parts.scheme, parts.netloc, path, "", "")), {}, follow=False)
        except requests.RequestException:
            return None
        return resp.headers.get("Location") if resp.is_redirect else None

    def _raw(self, url: str, params: Mapping[str, str], follow: bool = True) -> requests.Response:
        return self.session.get(
            url, params=params, timeout=min(self.timeout, 10.0), verify=self._verify, cert=self._cert,
            allow_redirects=follow,
        )  # fmt: skip

    def metric_names(self, start: float, end: float) -> set[str]:
        """Names of the metrics with samples between start and end (one index lookup)."""
        data = self._get("/api/v1/label/__name__/values", {"start": _fmt(start), "end": _fmt(end)})
        return set(data or [])

    def series(self, match: str, start: float, end: float) -> list[dict[str, str]]:
        """Label sets of the series matching ``match`` between start and end (no samples read)."""
        data = self._get("/api/v1/series", [("match[]", match), ("start", _fmt(start)), ("end", _fmt(end))])
        return list(data or [])

    def instant(self, query: str, at: float) -> list[tuple[dict[str, str], float]]:
        data = self._get("/api/v1/query", {"query": query, "time": _fmt(at)})
        if not data or data.get("resultType") != "vector":
            return []
        return [(r["metric"], float(r["value"][1])) for r in data["result"]]

    def query_range(self, query: str, start: float, end: float, step: float) -> list[Series]:
        """One range query (the caller keeps it under MAX_POINTS per series)."""
        data = self._get(
            "/api/v1/query_range",
            {"query": query, "start": _fmt(start), "end": _fmt(end), "step": _fmt(step)},
        )
        if not data or data.get("resultType") != "matrix":
            return []
        out = []
        for r in data["result"]:
            values = r.get("values") or []
            if not values:
                continue
            arr = np.asarray(values, dtype=object)
            ts = np.round(arr[:, 0].astype(np.float64) * 1000).astype(np.int64)
            vals = arr[:, 1].astype(np.float64)  # Prometheus sends numbers as strings ("NaN", "+Inf" too)
            self._count(points=len(ts))
            out.append(Series(r.get("metric", {}), ts, vals))
        return out

    def query_range_split(self, query: str, start: float, end: float, step: float) -> list[Series]:
        """``query_range``, halving the time range while the server finds a query too big (a
        long rate window or a big namespace can touch more samples than ``query.max-samples``)."""
        try:
            return self.query_range(query, start, end, step)
        except QueryTooBig:
            n = round((end - start) / step) + 1
            if n < 2:
                raise
        mid = start + (n // 2 - 1) * step
        return self.query_range_split(query, start, mid, step) + self.query_range_split(
            query, mid + step, end, step
        )


def _timed_out(resp: requests.Response) -> bool:
    """The server's own query timeout (HTTP 503, errorType "timeout"): the same range would only
    time out again after as long, so it is not retried but split (``query_range_split``)."""
    try:
        body = resp.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("errorType") == "timeout"


def client_cert(env: Mapping[str, str]) -> str | tuple[str, str] | None:
    """``RIGHTSIZE_PROM_CERT`` (+ ``RIGHTSIZE_PROM_KEY``) as requests takes a client certificate."""
    cert, key = env.get(CERT_ENV, ""), env.get(KEY_ENV, "")
    if key and not cert:
        raise RightsizeError(f"{KEY_ENV} is set without {CERT_ENV}: set both, or neither")
    for name, path in ((CERT_ENV, cert), (KEY_ENV, key)):
        if path and not os.path.isfile(path):
            raise RightsizeError(f"{name}={path}: no such file")
    if not cert:
        return None
    try:  # here, not at the first request: there OpenSSL's failure read as the server's fault
        ssl.create_default_context().load_cert_chain(cert, key or None, password=lambda: b"")
    except ssl.SSLError as exc:
        if "KEY_VALUES_MISMATCH" in str(exc):
            raise RightsizeError(f"{KEY_ENV}={key}: not the key of {cert}") from None
        given = f", {KEY_ENV}={key}" if key else ""
        hint = "" if key else f"; set {KEY_ENV} when the key is in its own file"
        raise RightsizeError(
            f"{CERT_ENV}={cert}{given}: not a PEM certificate and unencrypted key "
            f"({exc.reason or exc}){hint}"
        ) from None
    return (cert, key) if key else cert


# What OpenSSL says when the other side does not speak TLS at all (https:// to a plain-HTTP port).
_NOT_TLS = ("wrong version number", "record layer failure", "packet length too long", "http request")
# ... and when the server wants (another) client certificate.
_CLIENT_CERT = ("certificate required", "bad certificate", "unknown ca", "certificate unknown")


def tls_error(url: str, exc: BaseException) -> str:
    """One line that says which TLS problem this is, and what fixes it."""
    text, why = str(exc).lower(), _short(exc)
    if "certificate verify failed" in text:
        return (f"TLS verification failed for {url} ({why}); point {CA_ENV} at the "
                "CA certificate that signed the server's")  # fmt: skip
    if any(s in text for s in _NOT_TLS):  # a CA cannot help here
        return (f"no TLS handshake with {url} ({why}): the server does not speak HTTPS; "
                "a plain-HTTP Prometheus is http://")  # fmt: skip
    if any(s in text for s in _CLIENT_CERT):
        return (f"{url} refused the TLS handshake ({why}): it asks for a client certificate; "
                f"give one with {CERT_ENV} (and {KEY_ENV} when the key is in its own file)")  # fmt: skip
    if "eof occurred" in text:  # TLS 1.3 servers often just hang up on a missing client certificate
        return (f"{url} closed the connection during the TLS handshake; if it asks for a client "
                f"certificate, give one with {CERT_ENV} (and {KEY_ENV})")  # fmt: skip
    return f"no TLS handshake with {url} ({why})"


def _fmt(x: float) -> str:
    return f"{x:.3f}".rstrip("0").rstrip(".")


def _short(exc: BaseException) -> str:
    """The reason inside requests' nested wrapper text ("[Errno 111] Connection refused")."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    m = re.search(r"\[Errno -?\d+\] ([^'\")]+)|(Read timed out|Connection aborted|RemoteDisconnected[^'\")]*)"
                  r"|(EOF occurred in violation of protocol)"
                  r"|certificate verify failed: ([^'\")(]+)|\[SSL: \w+\] ([^'\")(]+)", text)
    if m:
        return next(g for g in m.groups() if g).strip()
    return text if len(text) < 200 else text[:197] + "..."
