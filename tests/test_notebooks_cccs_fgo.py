"""Notebooks 03 (CCCS) and 04 (FGO): paired with their .py sources, and they run under papermill."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from stepcoder_lib.curriculum import Curriculum
from stepcoder_lib.data.demo import demo_problems
from stepcoder_lib.paths import repo_root

REPO_ROOT = repo_root()
NOTEBOOKS = ["03_cccs_ablation", "04_fgo_ablation"]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_pair_is_in_sync(name: str) -> None:
    import jupytext

    py = jupytext.read(REPO_ROOT / "notebooks" / f"{name}.py")
    ipynb = nbformat.read(REPO_ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    src = lambda nb: [(c.cell_type, c.source.strip()) for c in nb.cells]  # noqa: E731
    assert src(py) == src(ipynb), f"run: jupytext --sync notebooks/{name}.py"
    tagged = [c for c in ipynb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1 and "apps_path = None" in tagged[0].source and "use_realdata = " in tagged[0].source
    head = ipynb.cells[0]
    assert head.cell_type == "markdown" and all(k in head.source for k in ("What it shows", "What it needs", "How long"))


def run(name: str, tmp_path: Path, **params) -> nbformat.NotebookNode:
    papermill = pytest.importorskip("papermill")
    executed = tmp_path / f"{name}.out.ipynb"
    papermill.execute_notebook(str(REPO_ROOT / "notebooks" / f"{name}.ipynb"), str(executed), parameters=params,
                               kernel_name="python3", cwd=str(REPO_ROOT / "notebooks"), progress_bar=False)
    return nbformat.read(executed, as_version=4)


@pytest.mark.slow
def test_cccs_notebook_runs_and_matches_the_library(tmp_path: Path) -> None:
    out = tmp_path / "03"
    nb = run("03_cccs_ablation", tmp_path, use_realdata=False, n_problems=5, seed=3, sim_problems=12, sim_steps=60,
             out_dir=str(out))
    summary = json.loads((out / "cccs_summary.json").read_text())
    problems, source = demo_problems(None, False, 5, 3)
    cur = Curriculum.from_problems(problems)
    assert summary["source"] == source
    assert summary["plans"] == {p.id: {"E": cur.plans[p.id].n_conditionals, "stages": cur.plans[p.id].n_stages,
                                       "stride": cur.plans[p.id].stride, "cuts": list(cur.plans[p.id].cuts)}
                                for p in problems}
    sim = summary["simulation"]
    assert sim["moves_back_only"] and summary["state_round_trip"]
    assert sum(sim["stage_counts_first"]) == sum(sim["stage_counts_last"]) == 12
    assert sim["stage_counts_last"][0] > sim["stage_counts_first"][0]
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)  # the explorer
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 1
    assert (out / "cccs_progress.png").stat().st_size > 0


@pytest.mark.slow
def test_fgo_notebook_runs_and_masks_what_did_not_run(tmp_path: Path) -> None:
    out = tmp_path / "04"
    nb = run("04_fgo_ablation", tmp_path, use_realdata=False, n_problems=4, seed=3, workers=2, out_dir=str(out))
    summary = json.loads((out / "fgo_summary.json").read_text())
    rows = summary["rollouts"]
    assert len(rows) == 12 and summary["source"].startswith("synthetic dataset")
    assert all(r["verdict"] == "passed" and r["reward"] == 1.0 for r in rows if r["rollout"] == "canonical")
    assert all(r["verdict"] == "runtime_error" for r in rows if r["rollout"] == "crash")
    assert summary["compile_error_masks_all_ones"]
    shares = summary["masked_share_by_kind"]
    assert shares["crash"] > shares["canonical"]
    assert summary["tokens_in_loss"]["with_fgo"] < summary["tokens_in_loss"]["without_fgo"]
    html = (out / "fgo_view.html").read_text(encoding="utf-8")
    assert "sc-exe" in html and "sc-unexe" in html and "sc-prefix" in html
    assert any("text/html" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
