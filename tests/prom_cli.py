"""The Prometheus source's CLI test helpers: run the CLI in-process, a `collect` command line, and a
throwaway HTTP server in front of (or instead of) a real Prometheus."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from rightsize.cli import main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(argv)
    captured = capsys.readouterr()
    return int(done.value.code or 0), captured.out, captured.err


def collect_args(url: str, out: Path, *extra: str) -> list[str]:
    return ["collect", "--source", "prometheus", "--url", url, "--out", str(out), "-q", *extra]


def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def forward(handler: BaseHTTPRequestHandler, upstream: str) -> None:
    """Answer the handler's GET with what the real Prometheus at ``upstream`` answers to it."""
    r = requests.get(upstream + handler.path, timeout=60)
    handler.send_response(r.status_code)
    handler.send_header("Content-Type", r.headers.get("Content-Type", "application/json"))
    handler.send_header("Content-Length", str(len(r.content)))
    handler.end_headers()
    handler.wfile.write(r.content)
