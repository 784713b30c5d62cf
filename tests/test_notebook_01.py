"""Notebook 01 runs under papermill with a small parameter set and writes the APPS+ files."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from stepcoder_lib.data import CleaningReport, load_apps_plus

REPO_ROOT = Path(__file__).resolve().parents[1]
NB_PY = REPO_ROOT / "notebooks" / "01_data_cleaning.py"
NB = REPO_ROOT / "notebooks" / "01_data_cleaning.ipynb"


def test_notebook_pair_is_in_sync() -> None:
    import jupytext

    py = jupytext.read(NB_PY)
    ipynb = nbformat.read(NB, as_version=4)
    src = lambda nb: [(c.cell_type, c.source.strip()) for c in nb.cells]  # noqa: E731
    assert src(py) == src(ipynb), "run: jupytext --sync notebooks/01_data_cleaning.py"
    tagged = [c for c in ipynb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1 and "apps_path = None" in tagged[0].source
    assert ipynb.cells[0].cell_type == "markdown" and "How long" in ipynb.cells[0].source


@pytest.mark.slow
def test_notebook_runs_under_papermill(tmp_path) -> None:
    papermill = pytest.importorskip("papermill")
    out_dir = tmp_path / "apps_plus"
    params = dict(profile="smoke", n_train=16, n_test=4, seed=1, defect_rate=0.25, out_dir=str(out_dir),
                  bench_dir=str(tmp_path / "bench"), workers=2, time_limit_s=1.0)
    executed = tmp_path / "01_data_cleaning.out.ipynb"
    # run from a different folder than the repo: the notebook must find the checkout itself
    papermill.execute_notebook(str(NB), str(executed), parameters=params, kernel_name="python3",
                               cwd=str(REPO_ROOT / "notebooks"), progress_bar=False)
    nb = nbformat.read(executed, as_version=4)
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "defects caught: 100.0% of 5; clean kept: 100.0% of 15; reason agrees: 100.0%" in text
    images = sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
    assert images >= 4
    problems = load_apps_plus(out_dir / "apps_plus.jsonl")
    assert len(problems) == 15 and {p.split for p in problems} == {"train", "validation", "test"}
    assert all(p.canonical_solution and p.canonical_solution.startswith(p.starter_code) for p in problems)
    report = CleaningReport.load(out_dir / "report.json")
    assert report.n_input == 20 and report.n_kept == 15 and sum(report.drops_by_reason().values()) == 5
    assert json.loads((out_dir / "report.json").read_text())["summary"]["kept"] == 15
    for name in ("report.md", "dropped.jsonl", "survivors_per_difficulty.png", "conditionals_per_solution.png"):
        assert (out_dir / name).stat().st_size > 0
    assert (tmp_path / "bench" / "truth.json").exists() and (tmp_path / "bench" / "train").is_dir()
