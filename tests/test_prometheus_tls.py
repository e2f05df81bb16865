"""Retries, credentials and TLS of the Prometheus source, through the CLI where the user meets them,
against a real Prometheus behind a flaky/auth/TLS front (split from test_prometheus_errors.py)."""

from __future__ import annotations

import base64
import shutil
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from prom_cli import collect_args as _collect
from prom_cli import forward
from prom_cli import run as _cli
from prom_cli import serve as _serve
from prom_fixtures import Cluster, PrometheusServer

from rightsize.errors import RightsizeError
from rightsize.sources.prometheus import pull

# ------------------------------------------------------------------------------ retries, auth, TLS


class _Flaky(BaseHTTPRequestHandler):
    """In front of the real Prometheus: demands credentials, fails the first range queries."""

    upstream = ""
    expect_auth = ""
    failures: list[str] = []  # noqa: RUF012 - set per test, one test at a time
    lock = threading.Lock()

    def do_GET(self) -> None:
        if self.headers.get("Authorization", "") != self.expect_auth:
            self.send_response(401)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"Unauthorized\n")
            return
        with self.lock:
            ranged = self.path.startswith("/api/v1/query_range")
            failure = self.failures.pop(0) if ranged and self.failures else ""
        if failure == "reset":  # drop the connection without an answer
            self.close_connection = True
            return
        if failure:
            self.send_response(int(failure))
            self.end_headers()
            return
        forward(self, self.upstream)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.prometheus
@pytest.mark.slow
def test_retries_transient_errors_and_sends_credentials(
    prom_cluster: tuple[Cluster, PrometheusServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cluster, server = prom_cluster
    _Flaky.upstream = server.url
    _Flaky.expect_auth = "Bearer s3cret"
    _Flaky.failures = ["503", "reset", "502"]
    for url in _serve(_Flaky):
        code, _, err = _cli(_collect(url, tmp_path / "none", "--since", "1d"), capsys)
        assert code == 2 and "refused access (HTTP 401)" in err and "RIGHTSIZE_PROM_TOKEN" in err

        monkeypatch.setenv("RIGHTSIZE_PROM_TOKEN", "s3cret")
        s = pull(url, tmp_path / "a", 86400, 300, ["batch"], quiet=True, now=cluster.end)
        assert s.retries == 3 and s.samples == 86400 // 300 + 1 and not _Flaky.failures

        monkeypatch.delenv("RIGHTSIZE_PROM_TOKEN")
        monkeypatch.setenv("RIGHTSIZE_PROM_USER", "ops")
        monkeypatch.setenv("RIGHTSIZE_PROM_PASSWORD", "pw")
        _Flaky.expect_auth = "Basic " + base64.b64encode(b"ops:pw").decode()
        _Flaky.failures = ["500"] * 100  # more than the retries: a clear error, nothing written
        with pytest.raises(RightsizeError, match="failed /api/v1/query_range: HTTP 500 after 4 retries"):
            pull(url, tmp_path / "b", 86400, 300, ["batch"], quiet=True, now=cluster.end)
        assert not (tmp_path / "b" / "samples").exists()


@pytest.mark.prometheus
def test_tls_is_verified_by_default(
    prom_cluster: tuple[Cluster, PrometheusServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cluster, server = prom_cluster
    cert, key = _cert(tmp_path, "ca")
    _Flaky.upstream, _Flaky.expect_auth, _Flaky.failures = server.url, "", []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd = _tls_front(context)
    url = f"https://127.0.0.1:{httpd.server_address[1]}"
    try:
        code, _, err = _cli(_collect(url, tmp_path / "a", "--since", "1d"), capsys)
        assert code == 2 and err.count("\n") == 1 and "TLS verification failed" in err
        assert "RIGHTSIZE_PROM_CA" in err and not (tmp_path / "a").exists()
        s = pull(url, tmp_path / "b", 86400, 600, ["batch"], quiet=True, now=cluster.end, verify_tls=False)
        assert s.samples == 86400 // 600 + 1
        monkeypatch.setenv("RIGHTSIZE_PROM_CA", str(cert))
        s = pull(url, tmp_path / "c", 86400, 600, ["batch"], quiet=True, now=cluster.end)
        assert s.samples == 86400 // 600 + 1
    finally:
        httpd.shutdown()
        httpd.server_close()


def _cert(tmp_path: Path, name: str) -> tuple[Path, Path]:
    if not shutil.which("openssl"):
        pytest.skip("no openssl to make a certificate")
    cert, key = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def _tls_front(context: ssl.SSLContext) -> ThreadingHTTPServer:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


@pytest.mark.prometheus
def test_mutual_tls_asks_for_a_client_certificate_then_works_with_one(
    prom_cluster: tuple[Cluster, PrometheusServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A Prometheus behind mutual TLS used to be told "does the server speak HTTPS? a plain-HTTP
    # Prometheus is http://", which is wrong, and rightsize could not send a client certificate.
    cluster, server = prom_cluster
    server_cert, server_key = _cert(tmp_path, "server")
    client_cert, client_key = _cert(tmp_path, "client")
    _Flaky.upstream, _Flaky.expect_auth, _Flaky.failures = server.url, "", []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(server_cert, server_key)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(client_cert)
    httpd = _tls_front(context)
    url = f"https://127.0.0.1:{httpd.server_address[1]}"
    monkeypatch.setenv("RIGHTSIZE_PROM_CA", str(server_cert))
    try:
        code, _, err = _cli(_collect(url, tmp_path / "a", "--since", "1d"), capsys)
        assert code == 2 and err.count("\n") == 1, err
        assert "client certificate" in err and "RIGHTSIZE_PROM_CERT" in err
        assert "http://" not in err and not (tmp_path / "a").exists()
        monkeypatch.setenv("RIGHTSIZE_PROM_KEY", str(client_key))
        code, _, err = _cli(_collect(url, tmp_path / "b", "--since", "1d"), capsys)
        assert code == 2 and "RIGHTSIZE_PROM_KEY is set without RIGHTSIZE_PROM_CERT" in err
        monkeypatch.setenv("RIGHTSIZE_PROM_CERT", str(tmp_path / "nope.crt"))
        code, _, err = _cli(_collect(url, tmp_path / "b", "--since", "1d"), capsys)
        assert code == 2 and "RIGHTSIZE_PROM_CERT=" in err and "no such file" in err
        monkeypatch.setenv("RIGHTSIZE_PROM_CERT", str(client_cert))
        s = pull(url, tmp_path / "c", 86400, 600, ["batch"], quiet=True, now=cluster.end)
        assert s.samples == 86400 // 600 + 1
        # the key inside the certificate's own file works too
        both = tmp_path / "both.pem"
        both.write_text(client_cert.read_text() + client_key.read_text())
        monkeypatch.setenv("RIGHTSIZE_PROM_CERT", str(both))
        monkeypatch.delenv("RIGHTSIZE_PROM_KEY")
        s = pull(url, tmp_path / "d", 86400, 600, ["batch"], quiet=True, now=cluster.end)
        assert s.samples == 86400 // 600 + 1
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_a_tls_version_mismatch_does_not_suggest_plain_http(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cert, key = _cert(tmp_path, "server")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    # The client (requests) offers TLS 1.2 and 1.3 only; a server stuck at 1.1 or below fails it.
    context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    context.maximum_version = ssl.TLSVersion.TLSv1_1
    try:
        httpd = _tls_front(context)
    except ssl.SSLError:
        pytest.skip("this OpenSSL cannot serve TLS 1.1")
    url = f"https://127.0.0.1:{httpd.server_address[1]}"
    try:
        code, _, err = _cli(_collect(url, tmp_path / "a", "--since", "1d"), capsys)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert code == 2 and err.count("\n") == 1, err
    assert f"no TLS handshake with {url} (" in err
    assert "http://" not in err and "RIGHTSIZE_PROM_CA" not in err and not (tmp_path / "a").exists()


def test_an_unusable_client_certificate_is_named_not_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A client certificate file that is not PEM, or a key that is not the certificate's, read
    # "no TLS handshake with https://... (PEM lib)": the server was blamed for a local file.
    server_cert, server_key = _cert(tmp_path, "server")
    client_cert, _ = _cert(tmp_path, "client")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(server_cert, server_key)
    httpd = _tls_front(context)
    url = f"https://127.0.0.1:{httpd.server_address[1]}"
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    monkeypatch.setenv("RIGHTSIZE_PROM_CA", str(server_cert))
    cases = [
        (
            {"RIGHTSIZE_PROM_CERT": garbage},
            f"RIGHTSIZE_PROM_CERT={garbage}: not a PEM certificate and unencrypted key",
        ),
        (  # the key is in a file of its own, not given
            {"RIGHTSIZE_PROM_CERT": client_cert},
            f"RIGHTSIZE_PROM_CERT={client_cert}: not a PEM certificate and unencrypted key",
        ),
        (
            {"RIGHTSIZE_PROM_CERT": client_cert, "RIGHTSIZE_PROM_KEY": server_key},
            f"RIGHTSIZE_PROM_KEY={server_key}: not the key of {client_cert}",
        ),
    ]
    try:
        for i, (env, message) in enumerate(cases):
            monkeypatch.delenv("RIGHTSIZE_PROM_KEY", raising=False)
            for name, value in env.items():
                monkeypatch.setenv(name, str(value))
            code, _, err = _cli(_collect(url, tmp_path / f"out{i}", "--since", "1d"), capsys)
            assert code == 2 and err.count("\n") == 1, err
            assert message in err and "no TLS handshake" not in err, err
            assert not (tmp_path / f"out{i}").exists()
    finally:
        httpd.shutdown()
        httpd.server_close()
