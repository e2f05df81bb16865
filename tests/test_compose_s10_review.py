"""Review of the engine resolution (hostcpus.engine_address, shared by apply/check, apply --live and
collect) against what the real docker CLI does with the same config folder.

docker-py's ContextAPI, used before, differs from the CLI: it looks for contexts beside the first
config.json it finds (``./contexts`` when there is none; ``~/.docker`` when DOCKER_CONFIG's folder
has none), and it builds no TLS for a context with only a CA or with skip-tls-verify. Each case is
made with `docker context create` and shown to work (or not) with the real CLI first. The TLS
engine is the local dockerd behind a TLS proxy in this process (openssl makes its certificate).
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import socket
import ssl
import subprocess
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import certifi
import pytest
from context_helpers import SOCKET, clear_docker_env, cpu_case, one_cpu

from rightsize.models import Observed, Recommendation, Values
from rightsize.targets import hostcpus
from rightsize.targets.compose import patch_compose

pytestmark = pytest.mark.docker

GONE = "unix:///nonexistent/rightsize-s10-review.sock"
TEXT, REC = cpu_case("rs10rev")


def mem_48m(workload: str) -> Recommendation:
    return Recommendation(
        workload, "memory", Values(), Values(None, 48 * 2**20), Observed(p99=8 * 2**20, max=9 * 2**20),
        20160, 14 * 86400, 0.9, ("p99 +25%",), "default",
    )  # fmt: skip


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, docker_client: Any) -> pytest.MonkeyPatch:
    """No DOCKER_* variables; HOME and DOCKER_CONFIG are the test's own (neither has a config.json)."""
    if int(docker_client.info()["NCPU"]) < 2 or not Path(SOCKET).exists():
        pytest.skip("needs the engine on /var/run/docker.sock with 2+ CPUs")
    clear_docker_env(monkeypatch)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())  # the system's CAs, as often set: requests
    # put it over the context's CA (and over skip-tls-verify) before (engineclient)
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "cfg"))
    return monkeypatch


def docker(*args: str) -> subprocess.CompletedProcess[str]:
    """The real docker CLI in this process's environment (HOME, DOCKER_CONFIG, DOCKER_CONTEXT)."""
    return subprocess.run(["docker", *args], env={**os.environ}, capture_output=True, text=True, timeout=60)


def applied(tmp_path: Path) -> str:
    """apply -f with this process on one CPU (the engine has 2+): the cpus written (1.25 when the
    engine's count is read, 1 when this process's is)."""
    path = tmp_path / "compose.yml"
    path.write_text(TEXT)
    with one_cpu(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the cap's warning: the value written says it)
        patch_compose(path, [REC])
    return next(line.split(": ")[1] for line in path.read_text().splitlines() if "cpus:" in line)


def test_docker_context_without_a_config_json_is_found(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`docker context create` writes no config.json; DOCKER_CONTEXT then names it. Before: looked for
    under ./contexts, "not found", this process's count (1) written though `docker` reaches the engine."""
    assert docker("context", "create", "rs10rev", "--docker", f"host=unix://{SOCKET}").returncode == 0
    assert not (tmp_path / "cfg" / "config.json").exists()
    env.setenv("DOCKER_CONTEXT", "rs10rev")
    assert docker("info", "--format", "{{.NCPU}}").stdout.strip().isdigit()
    assert hostcpus.engine_address()[0] == f"unix://{SOCKET}"
    assert applied(tmp_path) == "1.25"


def test_docker_config_folder_without_config_json_ignores_the_home_one(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """~/.docker/config.json's current context is at no engine; DOCKER_CONFIG names another folder
    with no config.json: the CLI uses the local engine. Before: the home folder's context was used."""
    home_cfg = tmp_path / "home" / ".docker"
    env.setenv("DOCKER_CONFIG", str(home_cfg))
    assert docker("context", "create", "rs10gone", "--docker", f"host={GONE}").returncode == 0
    assert docker("context", "use", "rs10gone").returncode == 0
    assert docker("info").returncode != 0  # (the home folder's context is at no engine)

    (tmp_path / "cfg").mkdir()
    env.setenv("DOCKER_CONFIG", str(tmp_path / "cfg"))
    assert docker("info", "--format", "{{.NCPU}}").returncode == 0  # the CLI: the local engine
    assert hostcpus.engine_address() == (None, None, hostcpus.LOCAL)


def _certificate(folder: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("needs openssl to make a certificate")
    key, cert = folder / "server-key.pem", folder / "server-cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


@contextlib.contextmanager
def tls_engine(folder: Path, mutual: bool = False) -> Iterator[tuple[int, Path]]:
    """The local dockerd behind TLS on 127.0.0.1 (its port, the certificate to verify it by; with
    ``mutual`` a client must show that certificate too, as dockerd's --tlsverify asks)."""
    cert, key = _certificate(folder)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    if mutual:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cert)
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def pipe(conn: socket.socket) -> None:
        with (
            contextlib.suppress(OSError),
            ctx.wrap_socket(conn, server_side=True) as tls,
            socket.socket(socket.AF_UNIX) as up,
        ):
            up.connect(SOCKET)
            while not stop.is_set():
                ready, _, _ = select.select([tls, up], [], [], 0.5)
                if tls in ready or tls.pending():
                    data = tls.recv(65536)
                    if not data:
                        return
                    up.sendall(data)
                if up in ready:
                    data = up.recv(65536)
                    if not data:
                        return
                    tls.sendall(data)

    def serve() -> None:
        while not stop.is_set():
            ready, _, _ = select.select([listener], [], [], 0.2)
            if ready:
                conn, _ = listener.accept()
                threading.Thread(target=pipe, args=(conn,), daemon=True).start()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        yield listener.getsockname()[1], cert
    finally:
        stop.set()
        server.join()
        listener.close()


def test_tls_contexts_with_a_ca_only_or_skip_tls_verify(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A current context verifying the engine by a CA (no client certificate), and one with
    skip-tls-verify: the CLI speaks TLS to both. Before: plain HTTP to a TLS port, "did not answer",
    this process's count (1) written; apply --live and collect refused the engine."""
    from rightsize.sources.docker import connect

    with tls_engine(tmp_path) as (port, ca):
        host = f"tcp://127.0.0.1:{port}"
        for name, more in (("rs10ca", f",ca={ca}"), ("rs10skip", ",skip-tls-verify=true")):
            made = docker("context", "create", name, "--docker", f"host={host}{more}")
            assert made.returncode == 0, made.stderr
            assert docker("context", "use", name).returncode == 0  # (a config.json, its currentContext)
            shown = docker("info", "--format", "{{.NCPU}}")
            assert shown.returncode == 0 and shown.stdout.strip().isdigit(), shown.stderr  # the CLI: TLS
            assert hostcpus.engine_cpus().source == f"docker info NCPU of docker context {name} ({host})"
            assert applied(tmp_path) == "1.25"
            client = connect(timeout=10)  # collect's (and --live's) client
            try:
                assert client.ping()
            finally:
                client.close()


def test_a_missing_context_is_one_line_naming_it_not_the_local_engine(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Before, collect said "cannot reach the local Docker engine (/var/run/docker.sock): docker
    context 'rs10nope' not found": the local engine was never tried."""
    env.setenv("DOCKER_CONTEXT", "rs10nope")
    assert "rs10nope" in docker("info").stderr  # (the CLI refuses it too)
    for args in (["collect", "--out", str(tmp_path / "out"), "--duration", "2s", "-q"], ["apply", "--live"]):
        done = subprocess.run(
            ["python3", "-m", "rightsize", *args],
            env={**os.environ},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
        assert "docker context 'rs10nope' not found" in done.stderr and "local" not in done.stderr, (
            done.stderr
        )


def test_an_empty_docker_host_suggests_what_is_reached(capsys: pytest.CaptureFixture[str]) -> None:
    """Before: "expected an engine URL such as ssh://host (leave --docker-host out for
    DOCKER_HOST/local)": ssh:// is not reached (no paramiko), and leaving it out follows the context."""
    from rightsize.cli import main

    with pytest.raises(SystemExit) as done:
        main(["collect", "--docker-host", "", "--duration", "1s"])
    err = capsys.readouterr().err
    assert done.value.code == 2 and len(err.splitlines()) == 1, err
    assert "ssh://" not in err and "DOCKER_HOST, else the context" in err, err


def test_apply_live_through_a_mutual_tls_context(
    env: pytest.MonkeyPatch, tmp_path: Path, run_container: Any
) -> None:
    """ca, cert and key in the context (dockerd's --tlsverify): the CLI, the CPU cap and apply --live
    reach the engine; without the client certificate the engine refuses (the proxy is really mutual)."""
    from rightsize.targets.live import apply_live

    project = f"rs10tls{os.getpid()}"
    labels = {"com.docker.compose.project": project, "com.docker.compose.service": "app"}
    app = run_container("sleep 3600", labels=labels, mem_limit="64m")
    with tls_engine(tmp_path, mutual=True) as (port, ca):
        host = f"tcp://127.0.0.1:{port}"
        key = ca.with_name("server-key.pem")
        for name, more in (("rs10mtls", f",ca={ca},cert={ca},key={key}"), ("rs10half", f",ca={ca}")):
            assert docker("context", "create", name, "--docker", f"host={host}{more}").returncode == 0
        env.setenv("DOCKER_CONTEXT", "rs10half")
        assert docker("info").returncode != 0 and "did not answer" in hostcpus.engine_cpus().source
        env.setenv("DOCKER_CONTEXT", "rs10mtls")
        assert docker("info", "--format", "{{.NCPU}}").returncode == 0
        assert applied(tmp_path) == "1.25"
        result = apply_live([mem_48m(f"{project}/app")], project=project)
    app.reload()
    assert result.written and app.attrs["HostConfig"]["Memory"] == 48 * 2**20
