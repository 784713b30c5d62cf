"""Notebook 02 (SFT baseline): paired with its .py source, and it runs end to end under papermill (smoke)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from stepcoder_lib.settings.paths import repo_root

NOTEBOOK = repo_root() / "notebooks" / "02_sft_baseline"


def test_notebook_pair_is_in_sync_and_opens_with_its_story() -> None:
    import jupytext

    py = jupytext.read(NOTEBOOK.with_suffix(".py"))
    ipynb = nbformat.read(NOTEBOOK.with_suffix(".ipynb"), as_version=4)
    src = lambda nb: [(c.cell_type, c.source.strip()) for c in nb.cells]
    assert src(py) == src(ipynb), "run: jupytext --sync notebooks/02_sft_baseline.py"
    tagged = [c for c in ipynb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1 and 'profile = "tiny"' in tagged[0].source
    head = ipynb.cells[0]
    assert head.cell_type == "markdown"
    assert all(k in head.source for k in ("*Needs*", "*writes*", "*takes*"))  # bookkeeping in a short header


@pytest.mark.slow
def test_notebook_runs_on_smoke(tmp_path: Path, monkeypatch) -> None:
    papermill = pytest.importorskip("papermill")
    monkeypatch.setenv("STEPCODER_ARTIFACTS", str(tmp_path / "artifacts"))  # the kernel inherits it
    monkeypatch.setenv("PYTHONPATH", str(repo_root()))  # this checkout's library, whichever copy is installed
    out = tmp_path / "run"
    executed = tmp_path / "02.out.ipynb"
    papermill.execute_notebook(str(NOTEBOOK.with_suffix(".ipynb")), str(executed), kernel_name="python3",
                               parameters={"profile": "smoke", "eval_problems": 6, "out_dir": str(out)},
                               cwd=str(NOTEBOOK.parent), progress_bar=False)
    record = json.loads((out / "config.json").read_text())
    assert record["profile"]["name"] == "smoke" and record["notebook"] == "02_sft_baseline"
    assert Path(record["sft_model"]).parent == tmp_path / "artifacts" / "sft"  # built by this run, here
    table = record["validation_pass_at_1"]
    assert set(table) == {"base", "SFT"} and "overall" in table["SFT"]
    assert all(0.0 <= v <= 1.0 for col in table.values() for v in col.values())
    for name in ("sft_loss.png", "validation_pass_at_1.png", "validation_pass_at_1.csv"):
        assert (out / name).stat().st_size > 0, name
    nb = nbformat.read(executed, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 2
    shown = "".join(o.get("data", {}).get("text/markdown", "") for o in outputs)
    assert "def sft_examples(" in shown and "completion_only_loss=True" in shown  # the loss's configuration
    saw = nb.cells[-1].outputs[-1]["data"]["text/markdown"]  # What we saw, from this run's numbers
    overall = table["SFT"]["overall"]
    assert f"{overall:.1%} after SFT" in saw and "6 problems x" in saw
