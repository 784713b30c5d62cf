"""``make reproduce`` end to end on the smoke profile: notebooks 01 to 06 through papermill, in order.

Checks the table's shape and that every number in it was computed by this run: each cell's run folder
is under this run's artifacts, and its evaluation-cache entry (written during this run) holds the
verdicts the number is recomputed from.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import papermill
import pytest

from stepcoder_lib.results import reproduce
from stepcoder_lib.results.evaluation import pass_at_k_table
from stepcoder_lib.results.table import APPS_COLUMNS
from stepcoder_lib.settings.profiles import get_profile


@pytest.mark.slow
def test_reproduce_chain_01_to_06_builds_a_table_computed_by_this_run(tmp_path, monkeypatch):
    artifacts = tmp_path / "artifacts"
    monkeypatch.setenv("STEPCODER_ARTIFACTS", str(artifacts))
    out = tmp_path / "papermill_runs" / "smoke"
    started = time.time()
    steps = reproduce.run("smoke", out, stream=False)

    names = [s.notebook for s in steps]
    assert names == sorted(names) and names == [p.name for p in reproduce.notebooks()]
    assert names[0].startswith("01_") and names[-1].startswith("06_") and {s.status for s in steps} == {"ran"}
    for step in steps:
        nb = json.loads(Path(step.output).read_text())
        errors = [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, (step.notebook, errors[:1])
        if "profile" in papermill.inspect_notebook(str(reproduce.REPO / "notebooks" / step.notebook)):
            params = [c for c in nb["cells"] if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
            assert params and 'profile = "smoke"' in "".join(params[0]["source"]), step.notebook

    results = out / "results"
    table = pd.read_csv(results / "table.csv").set_index("config")
    assert {"sft", "ppo-vanilla", "ppo-fgo", "ppo-cccs", "ppo-stepcoder"} <= set(table.index)
    assert set(APPS_COLUMNS) <= set(table.columns) and {"HumanEval", "MBPP"} <= set(table.columns)
    seeds = len(get_profile("smoke").rl.seeds)
    assert (table.loc[["ppo-vanilla", "ppo-stepcoder"], "overall_n"] == seeds).all()
    cells = pd.read_csv(results / "cells.csv")
    for row in cells.itertuples():
        entry = artifacts / "eval_cache" / row.cache_key
        assert (entry / "samples.jsonl").stat().st_mtime >= started  # written by this run
        # runs, the base model and the SFT baseline all live under this run's (fresh) artifacts folder, named
        # relative to it (cells.csv is committed as a reference: no machine's absolute paths)
        assert not row.run.startswith("/") and (artifacts / row.run).exists(), row.run
        assert row.run.startswith("runs/smoke/") or row.config in ("base", "sft"), row.run
        recomputed = pass_at_k_table(pd.read_json(entry / "samples.jsonl", lines=True), (1,))
        assert recomputed.loc["overall" if row.column in ("HumanEval", "MBPP") else row.column, "pass@1"] == \
            pytest.approx(row.value, abs=1e-3)
    for (config, column), group in cells.groupby(["config", "column"]):
        assert table.loc[config, column] == pytest.approx(group.value.mean(), abs=1e-3)
    for figure in ("table.png", "training_reward.png", "curriculum_progress.png", "fgo_kept_share.png",
                   "failure_breakdown.png", "pass_at_k.png"):
        assert (results / figure).is_file(), figure

    again = reproduce.run("smoke", out, stream=False)  # nothing changed: every step is skipped
    assert {s.status for s in again} == {"skipped"}
