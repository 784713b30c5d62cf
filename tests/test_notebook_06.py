"""Notebook 06 through papermill on runs laid out as the trainers write them (tiny random models).

Checks the table's shape, that every number in it was computed by this run (its cache entry holds the
verdicts it is recomputed from, its run folder is one of the runs given), and that a second run
re-renders from the cache without generating.
"""

from __future__ import annotations

import json

import pandas as pd
import papermill
import pytest
from conftest import REPO_ROOT
from eval_helpers import synthetic_test_problems, write_fake_run

from stepcoder_lib.data import write_jsonl
from stepcoder_lib.evaluation import pass_at_k_table
from stepcoder_lib.results_table import APPS_COLUMNS

NOTEBOOK = REPO_ROOT / "notebooks" / "06_results.ipynb"
RUNS = [("base", 0, False, False), ("sft", 0, False, False), ("ppo-vanilla", 0, False, False),
        ("ppo-vanilla", 1, False, False), ("ppo-stepcoder", 0, True, True), ("ppo-stepcoder", 1, True, True)]


def test_notebook_is_paired_and_declares_every_knob():
    import jupytext
    import nbformat

    py = jupytext.read(REPO_ROOT / "notebooks" / "06_results.py")
    ipynb = nbformat.read(NOTEBOOK, as_version=4)
    def src(nb):
        return [(c.cell_type, c.source.strip()) for c in nb.cells]

    assert src(py) == src(ipynb), "run: .venv/bin/jupytext --sync notebooks/06_results.py"
    head = ipynb.cells[0]
    assert head.cell_type == "markdown" and all(k in head.source for k in ("What it shows", "What it needs",
                                                                         "How long", "What it writes"))
    declared = papermill.inspect_notebook(str(NOTEBOOK))
    assert {"profile", "runs_dir", "apps_plus", "results_to", "n_samples", "ks", "temperature", "top_p", "greedy",
            "max_new_tokens", "max_problems", "humaneval", "mbpp", "use_cache"} <= set(declared)
    assert "papermill_runs/<profile>/results" in ipynb.cells[0].source


def _execute(tmp_path, name, **params):
    out = tmp_path / name
    papermill.execute_notebook(str(NOTEBOOK), str(out), kernel_name="python3", cwd=str(REPO_ROOT / "notebooks"),
                               progress_bar=False, parameters=params)
    nb = json.loads(out.read_text())
    errors = [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors[:1]
    return nb


@pytest.mark.slow
def test_results_notebook_builds_the_table_from_the_runs_and_rerenders_from_the_cache(tmp_path, monkeypatch):
    artifacts = tmp_path / "artifacts"
    monkeypatch.setenv("STEPCODER_ARTIFACTS", str(artifacts))  # the kernel inherits it
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))  # the kernel imports this checkout's library
    runs = tmp_path / "runs"
    for k, (config, seed, cccs, fgo) in enumerate(RUNS):
        write_fake_run(runs, config, seed, model_seed=k, cccs=cccs, fgo=fgo)
    problems = synthetic_test_problems(8)
    write_jsonl(tmp_path / "apps_plus.jsonl", problems)
    out = tmp_path / "results"
    params = {"profile": "smoke", "runs_dir": str(runs), "apps_plus": str(tmp_path / "apps_plus.jsonl"),
              "results_to": str(out), "max_new_tokens": 16, "workers": 2}

    nb = _execute(tmp_path, "first.ipynb", **params)
    table = pd.read_csv(out / "table.csv").set_index("config")
    assert list(table.index) == ["base", "sft", "ppo-vanilla", "ppo-stepcoder"]  # the paper's row order
    assert {"introductory", "interview", "competition", "overall", "HumanEval", "MBPP"} <= set(table.columns)
    assert table.loc["ppo-stepcoder", "overall_n"] == 2 and table.loc["sft", "overall_n"] == 1
    assert table.loc["ppo-stepcoder", "overall_paper"] == 36.1 and table["MBPP_n"].eq(0).all()  # skipped: smoke
    for name in ("table.md", "table.png", "training_reward.png", "curriculum_progress.png", "fgo_kept_share.png",
                 "failure_breakdown.png", "pass_at_k.png", "provenance.json", "evaluations.csv", "differences.csv",
                 "differences.png", "claims.csv", "claims.md", "power.csv"):
        assert (out / name).is_file(), name
    # Every cell has its interval around it, and each RL row its paired difference from SFT (and vanilla RL).
    for column in APPS_COLUMNS:
        assert (table[f"{column}_low"] <= table[column] + 1e-9).all() and (table[column] <= table[f"{column}_high"]
                                                                           + 1e-9).all()
    assert table.loc["ppo-stepcoder", "overall_vs_vanilla"] == pytest.approx(
        table.loc["ppo-stepcoder", "overall"] - table.loc["ppo-vanilla", "overall"], abs=1e-3)
    assert table.loc["ppo-vanilla", "overall_vs_sft"] == pytest.approx(
        table.loc["ppo-vanilla", "overall"] - table.loc["sft", "overall"], abs=1e-3)
    assert " [" in (out / "table.md").read_text() and "Paired differences" in (out / "table.md").read_text()
    # The notebook ends with the claims read out: every claim kept, the rows this run lacks marked "not run".
    claims = pd.read_csv(out / "claims.csv").set_index("claim")
    assert len(claims) == 7 and set(claims.verdict) <= {"supported", "contradicted", "inconclusive", "not run"}
    assert claims.loc["CCCS helps (CCCS only vs vanilla RL)", "verdict"] == "not run"  # no ppo-cccs run given
    assert claims.loc["StepCoder beats vanilla RL", "difference"] == pytest.approx(
        table.loc["ppo-stepcoder", "overall_vs_vanilla"], abs=1e-3)
    last = [c for c in nb["cells"] if c["cell_type"] == "code"][-1]
    shown = "".join("".join(o.get("data", {}).get("text/markdown", "")) for o in last.get("outputs", []))
    assert shown.startswith("Of 7 claims:") and "StepCoder beats vanilla RL: **" in shown

    # Every number traces back to a run given here and a cache entry written by this run.
    cells = pd.read_csv(out / "cells.csv")
    run_dirs = {str(runs / c / f"seed{s}") for c, s, _, _ in RUNS}
    assert set(cells.run) == run_dirs
    for (config, column), group in cells.groupby(["config", "column"]):
        assert table.loc[config, column] == pytest.approx(group.value.mean(), abs=1e-3)
    for row in cells.itertuples():
        entry = artifacts / "eval_cache" / row.cache_key
        assert entry.is_dir() and json.loads((entry / "meta.json").read_text())["source"] == row.run + "/model"
        records = pd.read_json(entry / "samples.jsonl", lines=True)
        recomputed = pass_at_k_table(records, (1,))
        assert recomputed.loc[row.column, "pass@1"] == pytest.approx(row.value, abs=1e-3)
    assert set(cells.column) == set(APPS_COLUMNS)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["models"] == len(RUNS) and summary["from_cache"] == 0

    first_table = (out / "table.csv").read_bytes()
    _execute(tmp_path, "second.ipynb", **params)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["from_cache"] == summary["evaluations"] == len(RUNS)  # nothing generated again
    assert (out / "table.csv").read_bytes() == first_table  # same numbers
