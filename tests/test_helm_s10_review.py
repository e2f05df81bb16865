"""Review of session 10's ``apply --helm`` render, ``--values`` and ``--helm-set``: each test failed
before its fix, checked against the real ``helm`` (3.17.3)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cli_helpers import run_cli, sha
from helm_helpers import apply, chart_dir, dataset, helm, mib, one_block_for_two, workload_template
from test_helm_s10_render import API, CACHE, FIXTURE, METRICS, QUEUE, USAGE, rendered

from rightsize.units import parse_cpus


@pytest.fixture
def chart(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURE, tmp_path / "shop"))


@pytest.mark.parametrize("off", ["False", "FALSE"])
def test_helm_set_types_false_in_any_case_as_helm_does(
    chart: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], off: str
) -> None:
    # helm's --set reads False/FALSE as false (strvals: strings.EqualFold): the cache subchart is off
    pair = f"cache.enabled={off}"
    assert not any(k.startswith("StatefulSet/shop-cache") for k in rendered(chart, "--set", pair))
    result = apply(chart / "values.yaml", dataset(tmp_path / "d", USAGE), capsys, "--helm-set", pair)
    keys = {c["workload"] for c in result["changes"]}
    assert API in keys and CACHE not in keys and METRICS not in keys


def test_a_helm_set_string_helm_keeps_a_string_renders_as_helm_renders_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # --set track=1e3 is the string "1e3" to helm (a values file's plain 1e3 would be the float 1000)
    tpl = workload_template("Deployment", "app-{{ .Values.track }}", {"app": ".Values.pod.res"})
    chart = chart_dir(tmp_path / "c", "c", "track: stable\npod:\n  res: {}\n", {"d.yaml": tpl})
    assert "name: app-1e3\n" in helm("template", "r", chart, "--set", "track=1e3")
    data = dataset(tmp_path / "d", {"r/Deployment/app-1e3/app": (300, 0.3)})
    result = apply(chart / "values.yaml", data, capsys, "--helm-set", "track=1e3", "--release", "r")
    assert {c["key"] for c in result["changes"]} >= {"pod.res.limits.memory"}, result


def test_a_values_file_named_relative_to_the_working_folder_is_rendered(
    chart: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # rightsize apply --helm values-prod.yaml, run in the chart's folder (helm ran in a temp folder)
    data = dataset(tmp_path / "d", USAGE)
    (tmp_path / "base.yaml").write_text("queue:\n  replicas: 3\n")
    (chart / "values-prod.yaml").write_text("queue:\n  replicas: 2\n")
    monkeypatch.chdir(chart)
    args = ["apply", "--helm", "values-prod.yaml", "--values", "../base.yaml", "--data", str(data)]
    code, out, err = run_cli([*args, "--format", "json", "--dry-run"], capsys)
    assert code == 0 and "warning" not in err, err
    changes = json.loads(out)["results"][0]["changes"]
    keys = {c["workload"]: c["key"].rsplit(".", 2)[0] for c in changes}
    assert keys[API] == "server.res" and keys[QUEUE] == "workers.main.resources"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--release", "Bad_Name"], "--release 'Bad_Name': not a helm release name (lower-case letters, "
                                    "digits, '-' and '.', at most 53 characters)"),
        (["--release", "a" * 54], "not a helm release name"),
        (["--release", ""], "--release is empty: expected the release name the pods were named under"),
        (["--release", "shop", "--no-render"], "--release names the release for the render: leave out "
                                               "--no-render, or --release"),
        (["--values", ""], "--values is empty: expected a values file helm gets before the one written"),
    ],
)
def test_a_bad_release_or_values_option_is_one_error_line(
    chart: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    # was: helm's refusal of the name as a warning (and the heuristics), or the option ignored
    before = sha(chart / "values.yaml")
    code, out, err = run_cli(["apply", "--helm", str(chart / "values.yaml"), *args, "--data",
                              str(dataset(tmp_path / "d", USAGE))], capsys)  # fmt: skip
    assert (code, out) == (2, "") and err.startswith("rightsize: error: ") and err.count("\n") == 1, err
    assert message in err
    assert sha(chart / "values.yaml") == before


@pytest.mark.parametrize(
    "args, source",
    [
        (["--values", "BASE"], "--values sets cache.enabled: false"),
        (["--helm-set", "cache.enabled=false"], "--helm-set sets cache.enabled: false"),
    ],
)
def test_a_subchart_turned_off_by_values_or_helm_set_says_which(
    chart: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], source: str
) -> None:
    # was: "cache.enabled is false by the chart's defaults" (the chart's defaults turn it on)
    (tmp_path / "base.yaml").write_text("cache:\n  enabled: false\n")
    (chart / "prod.yaml").write_text("queue:\n  replicas: 3\n")
    given = [str(tmp_path / "base.yaml") if a == "BASE" else a for a in args]
    result = apply(chart / "prod.yaml", dataset(tmp_path / "d", USAGE), capsys, *given)
    (why,) = {s["reason"] for s in result["skipped"] if s["workload"] == CACHE}
    assert why == (f"cannot place: the subchart cache is turned off by its condition: {source}; helm "
                   "renders none of it (turn it on, or --map the workload elsewhere)")  # fmt: skip


def test_a_given_release_that_renders_none_of_the_data_is_not_told_to_pass_release(
    chart: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = dataset(tmp_path / "d", USAGE)
    args = ["apply", "--helm", str(chart / "values.yaml"), "--data", str(data), "--release", "other"]
    args.append("--dry-run")
    code, _, err = run_cli(args, capsys)
    assert code == 0 and err.count("rightsize: warning: ") == 1, err
    assert ("helm template (release other) renders none of the data's workloads (CronJob/other-report, "
            "Deployment/other-api, Deployment/other-proxy, Deployment/other-queue); is --release right?: "
            "values.yaml is placed from the values' keys") in err  # fmt: skip


def test_two_containers_given_one_block_get_the_larger_of_each_resource(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the proxy needs more memory, the app more CPU: the block holds the larger of each (was: the
    # proxy's numbers whole, a CPU limit far below what the app uses: throttled)
    # (the helper checks that only the proxy's block is written and the app is skipped as held)
    chart, _ = one_block_for_two(tmp_path, capsys, app=(50, 1.0), proxy=(300, 0.05))
    after = rendered(chart, release="shop")["Deployment/shop-app/app"]
    assert after == rendered(chart)["Deployment/shop-app/proxy"]
    assert mib(after["requests"]["memory"]) >= 300 and parse_cpus(str(after["requests"]["cpu"])) >= 0.8
    assert parse_cpus(str(after["limits"]["cpu"])) >= 1.0


def test_a_bare_pod_the_chart_renders_is_placed_where_its_template_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a Pod has its containers in spec (no pod template): the data names it ns/Pod/name/container
    pod = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}-runner\nspec:\n"
           "  containers:\n    - name: runner\n      image: r:1\n"
           "      resources: {{- toYaml .Values.runner.res | nindent 8 }}\n")
    chart = chart_dir(tmp_path / "c", "c", "runner:\n  res: {}\n", {"pod.yaml": pod})
    data = dataset(tmp_path / "d", {"shop/Pod/shop-runner/runner": (300, 0.3)})
    result = apply(chart / "values.yaml", data, capsys)
    # was: runner.resources (the values' names), which the template does not read
    assert {c["key"].rsplit(".", 2)[0] for c in result["changes"]} == {"runner.res"}, result["skipped"]


def test_release_for_a_values_file_outside_its_chart_without_chart_is_one_error_line(
    chart: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # no chart known: no render, so --release was ignored without a word
    outside = tmp_path / "prod.yaml"
    outside.write_text("queue:\n  replicas: 3\n")
    data = dataset(tmp_path / "d", USAGE)
    args = ["apply", "--helm", str(outside), "--release", "shop", "--data", str(data)]
    code, out, err = run_cli(args, capsys)
    assert (code, out) == (2, "") and err == (
        "rightsize: error: --release names the release for the render, which needs the chart: the values "
        "file is not beside its Chart.yaml, so give --chart (a folder or .tgz)\n"
    )
    code, out, err = run_cli([*args, "--chart", str(chart), "--format", "json", "--dry-run"], capsys)
    assert code == 0 and "warning" not in err, err
