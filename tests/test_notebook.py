"""notebooks/explore.ipynb runs top to bottom in a real kernel on the bundled sample (so it never rots)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "explore.ipynb"


def test_notebook_is_committed_without_outputs() -> None:
    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code
    assert all(not c.outputs and c.execution_count is None for c in code)


@pytest.mark.slow
def test_notebook_executes_on_the_sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("TMPDIR", str(tmp_path))  # where its last cell writes the report
    monkeypatch.delenv("RIGHTSIZE_DATA", raising=False)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()

    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.output_type != "error"
            texts.append(out.get("text", "") + out.get("data", {}).get("text/plain", ""))
    text = "\n".join(texts)
    assert re.search(r"[\d,]+ samples of \d+ workloads", text)
    figures = sum(
        "application/vnd.plotly.v1+json" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", [])
    )
    assert figures == 3
    for column in ("default", "safe", "krr", "vpa", "mem_overrun_share"):
        assert column in text
    report = tmp_path / "rightsize-report.html"
    assert report.stat().st_size > 1_000_000 and f"wrote {report}" in text
