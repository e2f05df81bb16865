"""Leftovers of the session-8 bug hunt: CSV formula injection, the throttled share's float32 noise,
``recommend --settings --format json``."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_cli as run
from typer.testing import CliRunner

from rightsize import store
from rightsize.analysis.settings import show_settings
from rightsize.analysis.strategies import get_strategy, measured_share
from rightsize.cli import app
from rightsize.models import Observed, Recommendation, Values
from rightsize.render import render

M = 2**20
T0 = 1_790_000_000_000  # 2026-09-21, ms
FEW = ["--set", "min_samples=1", "--set", "min_history=0s"]
EVIL = "=cmd|' /C calc'!A0"


def _rows(workload: str, n: int = 20, throttled: float | None = 0.2) -> list[dict[str, object]]:
    """The collector's rows of one container held to one core, throttled in ``throttled`` of periods."""
    return [{"ts": T0 + i * 10_000, "host": "h", "workload": workload, "container_id": "c1",
             "container": "c", "image": "i", "mem_working_set": 100 * M + i * M, "cpu_cores": 0.1 + i / 100,
             "pids": 3 + i % 2, "cpu_throttled": throttled, "cpu_limit": 1.0, "mem_limit": 512 * M,
             "oom_kills": 0, "restarts": 0}
            for i in range(n)]  # fmt: skip


def _dataset(tmp_path: Path, *workloads: str) -> str:
    root = tmp_path / "d"
    for wl in workloads:
        store.append(root, store.to_table(_rows(wl)))
    return str(root)


# --- CSV injection ---


def test_csv_guards_a_workload_name_that_a_spreadsheet_would_run_as_a_formula(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names = [EVIL, "+1+1", "-2+3", "@SUM(A1)", "plain/name", "a=b"]
    data = _dataset(tmp_path, *names)
    code, out, err = run(["recommend", "--data", data, "--format", "csv", *FEW], capsys)
    assert code == 0 and err == "", err
    rows = list(csv.DictReader(io.StringIO(out)))
    shown = {r["workload"] for r in rows}
    # a text cell opening with = + - @ gets a leading quote (shown as text); the rest is untouched
    assert shown == {"'" + EVIL, "'+1+1", "'-2+3", "'@SUM(A1)", "plain/name", "a=b"}, shown
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r.values())
    # numbers stay numbers, and so do the other text cells
    mem = next(r for r in rows if r["workload"] == "'" + EVIL and r["resource"] == "memory")
    assert mem["current_limit"] == str(512 * M) and mem["max"] == str(119 * M), mem
    assert mem["strategy"] == "default" and mem["unit"] == "bytes"
    # JSON is no spreadsheet: the name is written as it is
    only = ["--workload", "plain/*"]
    code, out, err = run(["recommend", "--data", data, "--format", "json", *FEW, *only], capsys)
    assert code == 0 and {r["workload"] for r in json.loads(out)} == {"plain/name"}
    code, out, err = run(["recommend", "--data", data, "--format", "json", *FEW], capsys)
    assert EVIL in {r["workload"] for r in json.loads(out)}


def test_a_negative_number_in_csv_stays_a_number() -> None:
    # no dataset yields a negative value (the analysis drops negative readings), so the record is
    # built here: the guard must look at text cells only, never turn -1 into the text '-1
    rec = Recommendation(
        workload="-w", resource="cpu", current=Values(reservation=-1.0, limit=None), recommended=None,
        observed=Observed(p50=-0.5, p90=-0.25, p95=0.0, p99=0.0, max=1.0), samples=3,
        history_seconds=60.0, confidence=0.1, reasons=("-x",), strategy="default",
    )  # fmt: skip
    row = next(csv.DictReader(io.StringIO(render([rec], "csv"))))
    assert row["current_reservation"] == "-1.0" and row["p50"] == "-0.5" and row["p90"] == "-0.25", row
    assert row["workload"] == "'-w" and row["reasons"] == "'-x"


# --- the throttled share ---


def test_the_throttled_share_is_the_measured_value_not_its_float32_noise(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _dataset(tmp_path, "svc")
    assert float(np.float32(0.2)) == 0.20000000298023224  # what the float32 column reads back as
    for small_rows in ("300000", "0"):  # the in-memory path and the streaming scanner
        monkeypatch.setenv("RIGHTSIZE_SMALL_ROWS", small_rows)
        code, out, err = run(["recommend", "--data", data, "--format", "json", *FEW], capsys)
        assert code == 0, err
        cpu = next(r for r in json.loads(out) if r["resource"] == "cpu")
        assert cpu["throttled_share"] == 0.2, cpu
        code, out, err = run(["recommend", "--data", data, "--format", "yaml", *FEW], capsys)
        assert "throttled_share: 0.2\n" in out and "0.2000000" not in out, out
        code, out, err = run(["recommend", "--data", data, "--format", "csv", *FEW], capsys)
        cpu = next(r for r in csv.DictReader(io.StringIO(out)) if r["resource"] == "cpu")
        assert cpu["throttled_share"] == "0.2", cpu
        # other numbers keep their precision (the CPU values are exact to 4 decimals, as before)
        assert cpu["p50"] == "0.195", cpu


def test_measured_share_rounds_to_float32_precision_only() -> None:
    mean = float(np.mean(np.array([0.1, 0.2, 0.3], dtype=np.float32), dtype=np.float64))
    assert mean != 0.2 and measured_share(mean) == 0.2
    assert measured_share(0.123456789) == 0.12345679  # float32 keeps ~7 digits, all of them kept
    assert measured_share(None) is None and measured_share(1e-6) == 1e-6 and measured_share(0.0) == 0.0


# --- recommend --settings --format ---


def test_settings_honour_format_json() -> None:
    result = CliRunner().invoke(app, ["recommend", "--settings", "--strategy", "vpa", "--format", "json",
                                      "--set", "margin=0.2", "--set", "min_history=2h"])  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["strategy"] == "vpa" and doc["summary"].startswith("Kubernetes VPA")
    by_name = {s["name"]: s for s in doc["settings"]}
    assert by_name["margin"]["value"] == 0.2 and by_name["margin"]["kind"] == "fraction"
    assert by_name["min_history"] == {
        "name": "min_history", "value": 7200.0, "text": "2h", "kind": "duration", "min": 0.0, "max": None,
        "help": "no recommendation below this much history",
    }  # fmt: skip
    assert by_name["mem_floor"]["value"] == 250 * M and by_name["mem_floor"]["text"] == "250 MiB"
    assert by_name["upper_confidence_k"]["max"] == 5
    # the same settings the table shows, one for one
    table = CliRunner().invoke(app, ["recommend", "--settings", "--strategy", "vpa", "--set", "margin=0.2",
                                     "--set", "min_history=2h"])  # fmt: skip
    assert table.exit_code == 0
    assert table.stdout == show_settings("vpa", doc["summary"], get_strategy("vpa", {"margin": "0.2",
                                         "min_history": "2h"}).settings)  # fmt: skip
    assert [line.split()[0] for line in table.stdout.splitlines()[1:]] == list(by_name)


@pytest.mark.parametrize("fmt", ["csv", "yaml", "markdown", "xml"])
def test_settings_say_which_formats_they_take(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["recommend", "--settings", "--format", fmt], capsys)
    assert code == 2 and out == ""
    assert err == f"rightsize: error: --settings prints as --format table or json, not {fmt!r}\n"
