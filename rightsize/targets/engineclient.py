"""A docker-py client that speaks TLS as it was told to (a docker context's CA, its skip-tls-verify,
DOCKER_CERT_PATH's CA), not as REQUESTS_CA_BUNDLE says: requests puts that variable (or
CURL_CA_BUNDLE) over a session's own ``verify`` on every request, so an engine verified by its own
CA failed ("self-signed certificate") and skip-tls-verify verified anyway, where the docker CLI and
``docker compose`` reach the engine. (Docker-py is imported by this module: import it lazily.)"""

from __future__ import annotations

import re
import urllib.parse
import warnings
from typing import Any

import docker
import docker.tls
import urllib3


class _Api(docker.APIClient):
    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        if verify is None and self.verify is not True:  # a CA file or False: the client's own
            verify = self.verify
        return super().merge_environment_settings(url, proxies, stream, verify, cert)


class EngineClient(docker.DockerClient):
    """``docker.DockerClient(**kwargs)`` with that TLS (proxies from the environment still apply)."""

    def __init__(self, **kwargs: Any) -> None:
        tls = kwargs.get("tls")
        if isinstance(tls, docker.tls.TLSConfig) and not tls.verify:  # skip-tls-verify, asked for:
            host = urllib.parse.urlsplit(str(kwargs.get("base_url"))).hostname or ""  # not one warning
            warnings.filterwarnings(  # line per request (the first one is the constructor's)
                "ignore", f"Unverified HTTPS request is being made to host '{re.escape(host)}'",
                urllib3.exceptions.InsecureRequestWarning,
            )  # fmt: skip
        self.api = _Api(**kwargs)
