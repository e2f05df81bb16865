"""The user of the container optimization plan, following the README end to end (session 6): the
bugs found on the way, each pinned by a test that failed before its fix."""

from __future__ import annotations

import dataclasses
import json
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from cli_helpers import run_cli

import rightsize
from rightsize import store, units

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "explore.ipynb"


def _short_dataset(root: Path, hours: float) -> Path:
    """The bundled sample cut to its first ``hours``: a user's first day of collecting."""
    samples = rightsize.load(rightsize.sample_path())
    cut = samples[samples["ts"] < samples["ts"].min() + pd.Timedelta(hours=hours)]
    store.append(root, store.to_table(cut, "samples"), "samples", "journey")
    return root


@pytest.mark.slow
def test_notebook_runs_to_the_end_on_a_short_history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # README: RIGHTSIZE_DATA=$PWD/rightsize-data jupyter lab notebooks/explore.ipynb. With a few hours
    # collected the backtest cell raised RightsizeError (its 12 h / 6 h windows need 18 h), and the
    # report was never written: the notebook stopped halfway on the user's own data.
    import nbformat
    from nbclient import NotebookClient

    data = _short_dataset(tmp_path / "data", 3)
    monkeypatch.setenv("RIGHTSIZE_DATA", str(data))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, [(e.ename, e.evalue) for e in errors]
    text = "\n".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "no backtest" in text and "18h" in text  # says why, in the cell's output
    assert (tmp_path / "rightsize-report.html").stat().st_size > 1_000_000


# --- the library API, called as the CLI is (README: "The same steps are a library") ---

VALUES = """\
postgresql:
  primary:
    resources:
      limits:
        memory: 2Gi
        cpu: 2
backend:
  resources: {}
"""

COMPOSE = """\
name: sutazai
services:
  backend:
    image: rightsize-test/busybox:1
    mem_limit: 4g
"""


def _recs() -> list[rightsize.Recommendation]:
    with pytest.warns(UserWarning):  # the bundled sample says it is synthetic
        return rightsize.recommend(workloads="sutazai/backend,sutazai/postgres")


def test_library_patch_helm_takes_the_map_option_as_the_cli_spells_it(tmp_path: Path) -> None:
    # mapping="sutazai/backend=backend" (the --map text) was an AttributeError traceback
    values = tmp_path / "values.yaml"
    values.write_text(VALUES)
    recs = _recs()
    for mapping in ("sutazai/backend=backend", ["sutazai/backend=backend"], {"sutazai/backend": "backend"}):
        result = rightsize.patch_helm(values, recs, mapping=mapping, dry_run=True)
        assert {c.key for c in result.changes if c.workload == "sutazai/backend"} >= {
            "backend.resources.limits.memory"
        }, mapping
    with pytest.raises(rightsize.RightsizeError, match=r"expected WORKLOAD=dotted\.path"):
        rightsize.patch_helm(values, recs, mapping="backend", dry_run=True)


def test_library_check_compose_takes_tolerance_and_swap_as_the_cli_spells_them(tmp_path: Path) -> None:
    # tolerance="25%" and swap="256M" were TypeError tracebacks ('-' between int and str)
    compose = tmp_path / "compose.yaml"
    compose.write_text(COMPOSE)
    recs = _recs()
    spelled = rightsize.check_compose(compose, recs, tolerance="25%", swap="256M")
    numbers = rightsize.check_compose(compose, recs, tolerance=0.25, swap=256 * 2**20)
    assert spelled.to_json() == numbers.to_json()
    with pytest.raises(rightsize.RightsizeError, match="tolerance out of range"):
        rightsize.check_compose(compose, recs, tolerance=25)  # 25 meant as 25 %: 2500 % passed everything
    with pytest.raises(rightsize.RightsizeError, match="give a unit"):
        rightsize.check_compose(compose, recs, swap="512")


def test_library_patch_compose_takes_swap_as_the_cli_spells_it(tmp_path: Path) -> None:
    # swap="256M" was a TypeError ('<' between str and int)
    compose = tmp_path / "compose.yaml"
    compose.write_text(COMPOSE)
    (result,) = rightsize.patch_compose(compose, _recs(), swap="256M", dry_run=True)
    swap = next(c for c in result.changes if c.key.endswith("memswap_limit"))
    limit = next(c for c in result.changes if c.key.endswith("mem_limit"))
    assert units.parse_bytes(swap.new) == units.parse_bytes(limit.new) + 256 * 2**20, (swap, limit)
    with pytest.raises(rightsize.RightsizeError, match="give a unit"):
        rightsize.patch_compose(compose, _recs(), swap="512", dry_run=True)


@pytest.mark.docker
def test_library_apply_live_takes_swap_as_the_cli_spells_it(run_container: Any) -> None:
    # swap="0" was a TypeError before any container was looked at; now it is read as --swap is
    project = f"rsjourney{uuid.uuid4().hex[:8]}"
    labels = {"com.docker.compose.project": project, "com.docker.compose.service": "backend"}
    run_container("sleep 60", labels=labels, mem_limit="4g")
    recs = [dataclasses.replace(r, workload=f"{project}/backend") for r in _recs()]
    result = rightsize.apply_live(recs, project=project, only="memory", swap="0", dry_run=True)
    swaps = [c for c in result.changes if c.key == "MemorySwap"]
    assert len(swaps) == 1 and swaps[0].old == "8G", result.changes
    with pytest.raises(rightsize.RightsizeError, match="cannot be negative"):
        rightsize.apply_live(recs, project=project, swap="-1", dry_run=True)
    with pytest.raises(rightsize.RightsizeError, match="give a unit"):
        rightsize.apply_live(recs, project=project, swap="512", dry_run=True)


NEO4J_VALUES = """\
neo4j:
  neo4j:
    name: sutazai
    # used for both requests and limits (the neo4j chart's layout)
    resources:
      cpu: "1.5"
      memory: "1Gi"
  volumes:
    data:
      mode: defaultStorageClass
"""


def test_helm_values_with_the_cpu_memory_shorthand_get_the_limit_there(tmp_path: Path) -> None:
    # The neo4j chart reads neo4j.resources.{cpu,memory} as both request and limit. apply --helm
    # added limits/requests blocks beside them and reported the limit as "(unset) -> ...", leaving
    # memory: 1Gi in place: a chart that reads only the shorthand kept running at 1Gi.
    values = tmp_path / "values.yaml"
    values.write_text(NEO4J_VALUES)
    with pytest.warns(UserWarning):
        recs = rightsize.recommend(workloads="sutazai/neo4j")
    limit = next(r for r in recs if r.resource == "memory").recommended
    assert limit is not None and limit.limit is not None
    result = rightsize.patch_helm(values, recs)
    data = yaml.safe_load(values.read_text())["neo4j"]["neo4j"]["resources"]
    assert set(data) == {"cpu", "memory"}, data  # no limits/requests blocks beside the shorthand
    assert units.parse_bytes(data["memory"], "k8s") == limit.limit
    changed = {c.key: c.old for c in result.changes}
    assert changed["neo4j.neo4j.resources.memory"] == "1Gi"
    why = " ".join(s.reason for s in result.skipped if s.resource == "memory")
    assert "both request and limit" in why
    assert "# used for both requests and limits" in values.read_text()
    # memory alone in the shorthand: the CPU goes beside it, not into a limits block of its own
    # (the chart then takes limits from that block only, and the memory limit would be gone)
    values.write_text(NEO4J_VALUES.replace('      cpu: "1.5"\n', ""))
    rightsize.patch_helm(values, recs)
    data = yaml.safe_load(values.read_text())["neo4j"]["neo4j"]["resources"]
    assert set(data) == {"cpu", "memory"}, data


def test_a_history_reads_alike_in_the_notes_and_in_the_reasons(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # After a first collect the Markdown matrix said "low confidence (30 min of history)" and the
    # reasons under it "x2.65 for 29.833m of history" (m: minutes here, millicores in --units k8s);
    # "too little history: 180 samples over 29.833m".
    data = _short_dataset(tmp_path / "data", 0.5)
    args = ["recommend", "--data", str(data), "--workload", "sutazai/postgres"]
    code, out, err = run_cli([*args, "--format", "markdown", "--set", "min_history=10m"], capsys)
    assert code == 0, err
    assert "low confidence (30 min of history)" in out and "x2.65 for 30 min of history" in out, out
    assert "29.8" not in out
    code, out, err = run_cli([*args, "--format", "json"], capsys)
    assert code == 0, err
    reasons = {r["reasons"][0] for r in json.loads(out)}
    assert reasons == {"too little history: 180 samples over 30 min (needs >= 100 samples and >= 1h)"}


def test_backtest_says_why_a_strategy_scored_no_window_beside_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # --set without a prefix reaches default only: with windows shorter than krr's and vpa's
    # min_history their rows were "0 - - -" with no word of why
    data = _short_dataset(tmp_path / "data", 3)
    args = ["backtest", "--data", str(data), "--train", "40m", "--test", "20m", "--every", "20m"]
    code, out, err = run_cli([*args, "--set", "min_history=30m"], capsys)
    assert code == 0, err
    assert "default " in out and "krr " in out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rightsize: warning: krr, vpa: no window scored"), err
    assert "--set krr." in lines[0]


def test_the_markdown_matrix_notes_read_plainly_as_the_plans_do(capsys: pytest.CaptureFixture[str]) -> None:
    # The notes were "throttled 24\%" and "low confidence \(4 min of history\)": backslashes before
    # characters that mean nothing in a GFM table cell, in a file people read raw (the plan is one).
    # What can start markup (* _ ` [ < & | : . ...) stays escaped: test_render checks it with cmark-gfm.
    import cmarkgfm

    code, out, err = run_cli(["recommend", "--format", "markdown"], capsys)
    assert code == 0, err
    frontend = next(line for line in out.splitlines() if line.startswith("| sutazai/frontend |"))
    assert frontend.endswith("| throttled 24% |"), frontend
    assert "\\%" not in out and "\\(" not in out
    assert "<td>throttled 24%</td>" in cmarkgfm.github_flavored_markdown_to_html(out)


def test_the_report_spells_a_history_as_recommend_does(tmp_path: Path) -> None:
    # The report's per-workload table said "29.833m" where recommend's notes say "30 min"
    data = _short_dataset(tmp_path / "data", 0.5)
    page = rightsize.report(data, out=tmp_path / "r.html", workloads="sutazai/postgres").read_text()
    assert '<td class="num">30 min</td>' in page and '<td class="num">29.833m</td>' not in page


def test_the_matrix_says_no_limit_where_the_strategy_advises_none(capsys: pytest.CaptureFixture[str]) -> None:
    # krr recommends no CPU limit: the matrix read "| 8 | - |", as if nothing were known, where the
    # table says "removed"; "-" in the current columns means "not set"
    code, out, err = run_cli(["recommend", "--strategy", "krr", "--format", "markdown"], capsys)
    assert code == 0, err
    ollama = next(line for line in out.splitlines() if line.startswith("| sutazai/ollama |"))
    assert "| 16G | " in ollama and "| 8 | no limit |" in ollama, ollama


OLLAMA_VALUES = """\
replicaCount: 1
image:
  repository: ollama/ollama
# Ollama parameters (the chart's own settings, not a subchart)
ollama:
  gpu:
    enabled: false
  defaultModel: "llama2"
resources:
  requests:
    memory: 4096Mi
    cpu: 2000m
  limits:
    memory: 8192Mi
    cpu: 4000m
"""


def test_the_ollama_charts_settings_key_gets_no_resources_nobody_reads(tmp_path: Path) -> None:
    # The ollama chart (otwld/ollama-helm) keeps its container's resources at the top level and
    # its own settings (gpu, models) under `ollama:`. apply --helm wrote ollama.resources ("added
    # resources under ollama"), which the chart never reads, and left the 8Gi limit in force.
    values = tmp_path / "values.yaml"
    values.write_text(OLLAMA_VALUES)
    recs = _recs() + [r for r in _all_recs() if r.workload == "sutazai/ollama"]
    before = values.read_text()
    result = rightsize.patch_helm(values, recs, dry_run=True)
    assert not [c for c in result.changes if c.workload == "sutazai/ollama"]
    why = next(s.reason for s in result.skipped if s.workload == "sutazai/ollama")
    assert "--map sutazai/ollama=resources" in why and "--map sutazai/ollama=ollama" in why, why
    assert values.read_text() == before
    # the data of that one workload: the chart's top-level resources, and said so
    one = [r for r in recs if r.workload == "sutazai/ollama"]
    result = rightsize.patch_helm(values, one)
    keys = {c.key: c.note for c in result.changes}
    assert keys.keys() >= {"resources.limits.cpu", "resources.requests.memory"}, keys  # 8Gi stays: as advised
    assert "ollama holds none" in keys["resources.limits.cpu"]
    assert "resources" not in yaml.safe_load(values.read_text())["ollama"]


def _all_recs() -> list[rightsize.Recommendation]:
    with pytest.warns(UserWarning):
        return rightsize.recommend()


@pytest.mark.docker
def test_apply_live_names_a_recommended_service_with_no_running_container(run_container: Any) -> None:
    # A service that was down (crashed, restarting, stopped) when apply --live ran was left out
    # without a word: "docker: 0 would change, 0 skipped" read as "all done"
    project = f"rsjourney{uuid.uuid4().hex[:8]}"
    labels = {"com.docker.compose.project": project, "com.docker.compose.service": "backend"}
    run_container("sleep 60", labels=labels, mem_limit="4g")
    stopped = run_container("true", labels={**labels, "com.docker.compose.service": "postgres"})
    stopped.wait()
    recs = [dataclasses.replace(r, workload=r.workload.replace("sutazai/", f"{project}/")) for r in _recs()]
    result = rightsize.apply_live(recs, project=project, only="memory", dry_run=True)
    assert {c.workload for c in result.changes} == {f"{project}/backend"}
    (skip,) = [s for s in result.skipped if s.workload == f"{project}/postgres"]
    assert "no running container" in skip.reason and skip.resource == "all", skip


def test_backtest_suggests_windows_a_person_would_type_and_they_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # "try shorter windows, e.g. --train 1.499h --test 44.958m": the hint now rounds down to whole
    # units, and the windows it names run
    data = _short_dataset(tmp_path / "data", 3)
    code, _, err = run_cli(["backtest", "--data", str(data)], capsys)
    assert code == 2 and err.rstrip().endswith("e.g. --train 89m --test 44m"), err
    code, out, err = run_cli(["backtest", "--data", str(data), "--train", "89m", "--test", "44m"], capsys)
    assert code == 0, err
    assert "backtest: train 89m, test 44m, every 7d;" in out  # as typed, not "1.483h"
