"""``apply --helm prod.yaml --values base.yaml``: the files helm gets before the one written
(``helm upgrade -f base.yaml -f prod.yaml``) are read (subcharts they turn off, the limits they keep,
the render) and never written; checked with the real ``helm template -f base.yaml -f prod.yaml``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cli_helpers import run_cli, sha
from helm_helpers import apply, as_text, dataset, written
from test_helm_s10_render import API, CACHE, FIXTURE, METRICS, QUEUE, USAGE, pod, rendered

BASE = "# shared\ncache:\n  enabled: false\nworkers:\n  main:\n    resources:\n      limits: {cpu: 100m}\n"


@pytest.fixture
def chart(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURE, tmp_path / "shop"))


def test_a_base_file_is_read_and_only_the_last_file_written(
    chart: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, prod = chart / "values-base.yaml", chart / "values-prod.yaml"
    base.write_text(BASE)
    prod.write_text("# prod\nqueue:\n  replicas: 3\n")
    before = sha(base)
    data = dataset(tmp_path / "d", USAGE)
    result = apply(prod, data, capsys, "--values", str(base))
    keys = {c["workload"]: c["key"].rsplit(".", 2)[0] for c in result["changes"]}
    assert keys[API] == "server.res" and keys[QUEUE] == "workers.main.resources"
    # base.yaml turns the cache subchart off: its workloads are skipped, saying why
    reasons = {s["workload"]: s["reason"] for s in result["skipped"] if s["resource"] == "all"}
    assert CACHE not in keys and METRICS not in keys
    assert "cache.enabled" in reasons[CACHE], reasons
    assert sha(base) == before
    after = rendered(chart, "-f", str(base), "-f", str(prod))
    assert not any(k.startswith("StatefulSet/shop-cache") for k in after)
    for wl in (API, QUEUE):
        assert as_text(after[pod(wl)]) == written(result, wl), wl
    assert prod.read_text().startswith("# prod\nqueue:\n  replicas: 3\n")


def test_without_the_base_file_the_cache_is_placed(
    chart: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prod = chart / "values-prod.yaml"
    prod.write_text("# prod\nqueue:\n  replicas: 3\n")
    result = apply(prod, dataset(tmp_path / "d", USAGE), capsys)
    keys = {c["workload"]: c["key"].rsplit(".", 2)[0] for c in result["changes"]}
    assert keys[CACHE] == "cache.node.resources"


@pytest.mark.parametrize(
    "which, message",
    [
        ("own", "is the chart's defaults, below every -f file: write the last file helm gets (--helm FILE), "
                "the others as --values"),
        ("same", "the file written (--helm) is read as itself"),
        ("missing", "no-such.yaml"),
    ],
)  # fmt: skip
def test_bad_values_options_are_one_error_line(
    chart: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], which: str, message: str
) -> None:
    prod = chart / "values-prod.yaml"
    prod.write_text("queue:\n  replicas: 3\n")
    target, extra = {
        "own": (chart / "values.yaml", prod),
        "same": (prod, prod),
        "missing": (prod, chart / "no-such.yaml"),
    }[which]
    before = sha(target)
    data = dataset(tmp_path / "d", USAGE)
    code, out, err = run_cli(
        ["apply", "--helm", str(target), "--values", str(extra), "--data", str(data)], capsys
    )
    assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("rightsize: error: "), err
    assert message in err
    assert sha(target) == before


def test_values_without_helm_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    compose = tmp_path / "compose.yaml"
    compose.write_text("services:\n  web:\n    image: busybox\n")
    code, out, err = run_cli(["apply", "--compose", str(compose), "--values", "x.yaml"], capsys)
    assert (code, out, err) == (2, "", "rightsize: error: --values works with --helm only\n")


def test_helm_set_pairs_are_read_and_a_field_they_set_is_not_written(
    chart: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # helm upgrade -f values.yaml --set cache.enabled=false --set workers.main.resources.limits.memory=4Gi
    sets = ["cache.enabled=false", "workers.main.resources.limits.memory=4Gi"]
    data = dataset(tmp_path / "d", USAGE)
    result = apply(chart / "values.yaml", data, capsys, *(a for s in sets for a in ("--helm-set", s)))
    keys = {c["workload"]: c["key"].rsplit(".", 2)[0] for c in result["changes"]}
    assert keys[API] == "server.res" and keys[QUEUE] == "workers.main.resources"
    assert CACHE not in keys and METRICS not in keys
    assert written(result, QUEUE)["limits"].keys() == {"cpu"}  # the memory limit is --set's
    reasons = [s["reason"] for s in result["skipped"] if s["workload"] == QUEUE and s["resource"] == "memory"]
    assert reasons == ["--helm-set workers.main.resources.limits.memory overrides it (helm's --set is over "
                       "the values files)"]  # fmt: skip
    after = rendered(chart, *(a for s in sets for a in ("--set", s)))
    assert not any(k.startswith("StatefulSet/shop-cache") for k in after)
    queue = after[pod(QUEUE)]
    assert queue["limits"]["memory"] == "4Gi"
    assert as_text({"requests": queue["requests"]}) == {"requests": written(result, QUEUE)["requests"]}
    assert str(queue["limits"]["cpu"]) == written(result, QUEUE)["limits"]["cpu"]


@pytest.mark.parametrize(
    "pair, why",
    [
        (
            "a[0]=x",
            "only one plain KEY=VALUE is read (no lists, no a=1,b=2): put the rest in a --values file",
        ),
        ("a=1,b=2", "only one plain KEY=VALUE is read"),
        ("novalue", "expected KEY=VALUE (helm's --set)"),
        ("a..b=1", "an empty key in 'a..b'"),
    ],
)
def test_a_helm_set_not_read_is_one_error_line(
    chart: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], pair: str, why: str
) -> None:
    before = sha(chart / "values.yaml")
    data = dataset(tmp_path / "d", USAGE)
    args = ["apply", "--helm", str(chart / "values.yaml"), "--helm-set", pair, "--data", str(data)]
    code, out, err = run_cli(args, capsys)
    assert code == 2 and out == "" and err.startswith(f"rightsize: error: --helm-set {pair!r}: "), err
    assert why in err and err.count("\n") == 1
    assert sha(chart / "values.yaml") == before
