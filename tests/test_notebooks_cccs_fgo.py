"""Notebooks 03 (CCCS), 04 (FGO) and 05 (full training): paired with their .py sources, and they run under
papermill with the ``smoke`` profile, training real (tiny, randomly initialised) models through the library."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from rl_helpers import save_tiny_model

from stepcoder_lib.data.demo import demo_problems
from stepcoder_lib.method.curriculum import Curriculum
from stepcoder_lib.settings.paths import repo_root
from stepcoder_lib.settings.profiles import get_profile
from stepcoder_lib.training.runlog import read_metrics

REPO_ROOT = repo_root()
NOTEBOOKS = ["03_cccs_ablation", "04_fgo_ablation", "05_full_training"]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_pair_is_in_sync(name: str) -> None:
    import jupytext

    py = jupytext.read(REPO_ROOT / "notebooks" / f"{name}.py")
    ipynb = nbformat.read(REPO_ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    src = lambda nb: [(c.cell_type, c.source.strip()) for c in nb.cells]
    assert src(py) == src(ipynb), f"run: jupytext --sync notebooks/{name}.py"
    tagged = [c for c in ipynb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1 and 'profile = "tiny"' in tagged[0].source and "runs_dir = None" in tagged[0].source
    if name != "05_full_training":
        assert "apps_path = None" in tagged[0].source and "use_realdata = " in tagged[0].source
    head = ipynb.cells[0]
    assert head.cell_type == "markdown"
    assert all(k in head.source for k in ("*Needs*", "*writes*", "*takes*"))  # bookkeeping in a short header
    code = "\n".join(c.source for c in ipynb.cells if c.cell_type == "code")
    shown = {"03_cccs_ablation": "show_source(Curriculum.update)", "04_fgo_ablation": "show_source(token_mask)",
             "05_full_training": "show_source(policy_loss)"}[name]
    assert shown in code  # the implementing function under its equation
    assert ipynb.cells[-2].source.strip() == "## What we saw" and ipynb.cells[-1].cell_type == "code"
    assert "noqa: E402" not in code and "def table(" not in code and "run_ablation(" in code


@pytest.fixture(scope="module")
def shared(tmp_path_factory, monkeypatch_module):
    """A tiny random "SFT" model and one runs folder for all three notebooks (vanilla PPO is trained once)."""
    monkeypatch_module.setenv("PYTHONPATH", str(REPO_ROOT))  # the kernel imports this checkout's library
    root = tmp_path_factory.mktemp("nb")
    return {"sft_path": str(save_tiny_model(root / "sft")), "runs_dir": str(root / "runs"), "profile": "smoke"}


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def run(name: str, tmp_path: Path, **params) -> nbformat.NotebookNode:
    papermill = pytest.importorskip("papermill")
    executed = tmp_path / f"{name}.out.ipynb"
    papermill.execute_notebook(str(REPO_ROOT / "notebooks" / f"{name}.ipynb"), str(executed), parameters=params,
                               kernel_name="python3", cwd=str(REPO_ROOT / "notebooks"), progress_bar=False)
    return nbformat.read(executed, as_version=4)


def outputs(nb: nbformat.NotebookNode) -> list:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def check_runs(paths: list[str], settings: set[str], algos: set[str]) -> None:
    found = set()
    for path in paths:
        cfg = json.loads((Path(path) / "config.json").read_text())
        assert cfg["profile"]["name"] == "smoke" and (Path(path) / "done.json").exists()
        m = read_metrics(path)
        assert len(m) == get_profile("smoke").rl.steps and m["reward_mean"].notna().all()
        found.add((cfg["algo"], cfg["setting"]))
    assert found == {(a, s) for a in algos for s in settings}


@pytest.mark.slow
def test_cccs_notebook_runs_and_matches_the_library(tmp_path: Path, shared, capfd) -> None:
    out = tmp_path / "03"
    nb = run("03_cccs_ablation", tmp_path, use_realdata=False, n_problems=5, seed=3, sim_problems=12, sim_steps=60,
             out_dir=str(out), **shared)
    # the training progress bar reaches the terminal (the kernel's own stderr), not only the notebook
    terminal = capfd.readouterr().err
    assert "ppo cccs s0" in terminal and "2/2" in terminal and "reward=" in terminal
    summary = json.loads((out / "cccs_summary.json").read_text())
    problems, source = demo_problems(None, False, 5, 3)
    rl = get_profile("smoke").rl
    cur = Curriculum.from_problems(problems, rl.cccs)
    assert summary["source"] == source
    assert summary["plans"] == {p.id: {"E": cur.plans[p.id].n_conditionals, "stages": cur.plans[p.id].n_stages,
                                       "stride": cur.plans[p.id].stride, "cuts": list(cur.plans[p.id].cuts)}
                                for p in problems}
    sim = summary["simulation"]
    assert sim["moves_back_only"] and summary["state_round_trip"]
    assert sum(sim["stage_counts_first"]) == sum(sim["stage_counts_last"]) == 12
    assert sim["stage_counts_last"][0] > sim["stage_counts_first"][0]
    outs = outputs(nb)
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outs)  # the explorer
    assert sum("image/png" in o.get("data", {}) for o in outs) >= 4  # simulation, curves, difficulty, stages
    assert sum("text/html" in o.get("data", {}) and "<table" in o["data"]["text/html"] for o in outs) >= 3
    for png in ("cccs_progress.png", "cccs_training.png", "cccs_stages.png"):
        assert (out / png).stat().st_size > 0
    check_runs(summary["runs"], {"vanilla", "cccs"}, {"ppo"})
    shown = "".join(o.get("data", {}).get("text/markdown", "") for o in outs)
    assert "def update(" in shown and "def aligned_prefix(" in shown  # Algorithm 1 and the token-aligned cut


@pytest.mark.slow
def test_fgo_notebook_runs_and_masks_what_did_not_run(tmp_path: Path, shared) -> None:
    out = tmp_path / "04"
    nb = run("04_fgo_ablation", tmp_path, use_realdata=False, n_problems=4, seed=3, workers=2, out_dir=str(out),
             **shared)
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
    assert any("text/html" in o.get("data", {}) for o in outputs(nb))
    assert (out / "fgo_training.png").stat().st_size > 0
    check_runs(summary["runs"], {"vanilla", "fgo"}, {"ppo"})
    shown = "".join(o.get("data", {}).get("text/markdown", "") for o in outputs(nb))
    assert "def token_mask(" in shown and "def policy_loss(" in shown and "def apply_token_mask(" in shown
    saw = nb.cells[-1].outputs[-1]["data"]["text/markdown"]  # What we saw, from this run's numbers
    assert f"{summary['tokens_in_loss']['with_fgo']} of {summary['tokens_in_loss']['without_fgo']}" in saw
    assert f"{len(summary['runs'])} training runs" in saw
    fgo_run = next(p for p in summary["runs"] if json.loads((Path(p) / "config.json").read_text())["fgo"])
    assert read_metrics(fgo_run)["fgo_kept_share"].between(0, 1).all()


@pytest.mark.slow
def test_full_training_notebook_compares_stepcoder_and_vanilla_for_ppo_and_grpo(tmp_path: Path, shared) -> None:
    out = tmp_path / "05"
    nb = run("05_full_training", tmp_path, out_dir=str(out), **shared)
    summary = json.loads((out / "full_training.json").read_text())
    check_runs(summary["runs"], {"vanilla", "stepcoder"}, {"ppo", "grpo"})
    assert {(r["run"], r["seed"]) for r in summary["before_after"]} == {
        ("PPO vanilla", 0), ("PPO stepcoder", 0), ("GRPO vanilla", 0), ("GRPO stepcoder", 0)}
    assert sum("image/png" in o.get("data", {}) for o in outputs(nb)) >= 3
    for png in ("full_training.png", "full_by_difficulty.png", "full_stages.png"):
        assert (out / png).stat().st_size > 0
    shown = "".join(o.get("data", {}).get("text/markdown", "") for o in outputs(nb))
    assert "def gae(" in shown and "def policy_loss(" in shown
    saw = nb.cells[-1].outputs[-1]["data"]["text/markdown"]  # What we saw, from this run's numbers
    assert f"{len(summary['runs'])} runs on profile 'smoke'" in saw and "PPO stepcoder, seed 0: training reward" in saw
