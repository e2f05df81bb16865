"""``--url`` pasted from the browser (a web UI page, ``/api/v1``) or without the server's route
prefix: one error line that names the base URL that answers, against real Prometheus servers."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import run_cli
from prom_fixtures import Cluster, PrometheusServer

BASE_URL = "--url must be the server's base URL"


def _collect(url: str, out: Path) -> list[str]:
    return ["collect", "--source", "prometheus", "--url", url, "--out", str(out), "-q", "--since", "1h"]


@pytest.fixture(scope="module")
def prefixed_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    """A real Prometheus (no data) serving under /prometheus, as behind a reverse proxy's path."""
    if not shutil.which("prometheus"):
        pytest.fail("missing prometheus (run scripts/test-env.sh)")
    server = PrometheusServer(tmp_path_factory.mktemp("prom-prefix"), ("--web.route-prefix=/prometheus",))
    root = server.url
    server.url = f"{root}/prometheus"  # its readiness answers there, not at the root
    with server:
        server.url = root
        yield server


@pytest.mark.prometheus
@pytest.mark.parametrize(
    "page", ["/graph", "/graph?g0.expr=up&g0.tab=0", "/query", "/api/v1", "/api/v1/", "/classic/graph"]
)
def test_a_browser_url_names_the_base_url_that_answers(
    prom_cluster: tuple[Cluster, PrometheusServer],
    page: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, server = prom_cluster
    code, _, err = run_cli(_collect(server.url + page, tmp_path / "d"), capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert "is not a Prometheus HTTP API" in err and BASE_URL in err, err
    assert err.rstrip().endswith(f"use --url {server.url}"), err
    assert not (tmp_path / "d").exists()


@pytest.mark.prometheus
def test_a_route_prefix_is_kept_and_suggested_when_missing(
    prefixed_prometheus: PrometheusServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = prefixed_prometheus.url
    # the base URL with its path works (the server answers; it just holds no samples)
    code, _, err = run_cli(_collect(f"{root}/prometheus", tmp_path / "a"), capsys)
    assert code == 2 and "has no samples at all" in err and BASE_URL not in err, err
    # a UI page under the prefix: the prefix stays in the suggestion
    code, _, err = run_cli(_collect(f"{root}/prometheus/graph", tmp_path / "b"), capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert err.rstrip().endswith(f"use --url {root}/prometheus"), err
    # the host without the prefix: the root's redirect tells it
    for url in (root, f"{root}/graph"):
        code, _, err = run_cli(_collect(url, tmp_path / "c"), capsys)
        assert code == 2 and err.count("\n") == 1, err
        assert err.rstrip().endswith(f"use --url {root}/prometheus"), err
    assert not any(tmp_path.iterdir())
