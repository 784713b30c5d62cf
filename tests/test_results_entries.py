"""Which models notebook 06 evaluates: the runs in table order, and the base model however it is given."""

from __future__ import annotations

import pandas as pd
import pytest
from eval_helpers import save_tiny_model

from stepcoder_lib.results.evaluation import EvalResult, failure_breakdown_by_model, load_for_eval, pass_at_k_by_model
from stepcoder_lib.results.notebook import model_entries
from stepcoder_lib.settings.profiles import get_profile


def _run(root, config, seed, model=True):
    path = root / config / f"seed{seed}"
    (path / "model").mkdir(parents=True)
    if model:
        (path / "model" / "config.json").write_text("{}")
    return path


def test_runs_in_table_order_and_base_from_a_folder_or_hub_id(tmp_path):
    _run(tmp_path, "ppo-stepcoder", 1)
    _run(tmp_path, "sft", 0)
    _run(tmp_path, "ppo-stepcoder", 0)
    _run(tmp_path, "ppo-cccs", 0, model=False)
    hub = get_profile("smoke", {"model.base": "some-org/some-coder"})
    entries, notes = model_entries(hub, tmp_path, base_source=lambda p: p.model.base)
    assert [(e.config, e.seed) for e in entries] == [("base", 0), ("sft", 0), ("ppo-stepcoder", 0),
                                                     ("ppo-stepcoder", 1)]
    assert entries[0].ref.resolve_identity() == "hub:some-org/some-coder@main"
    assert entries[1].origin == str(tmp_path / "sft" / "seed0") and entries[1].ref.source == tmp_path / "sft" / \
        "seed0" / "model"
    assert any("ppo-cccs" in n and "no model" in n for n in notes)  # an unfinished run is reported, not evaluated
    only = model_entries(hub, tmp_path, include_base=False, configs=["sft"])[0]
    assert [(e.config, e.seed) for e in only] == [("sft", 0)]


def test_a_named_base_model_is_loaded_and_identified_by_its_parameters(tmp_path):
    folder = save_tiny_model(tmp_path / "tiny-base")
    calls = []

    def loader(source, profile):
        calls.append(source)
        return load_for_eval(folder, profile)

    named = {"base_source": lambda p: p.model.base, "include_sft": False}
    entries, _ = model_entries(get_profile("smoke"), tmp_path / "no-runs", loader=loader, **named)
    assert calls == ["tiny"] and entries[0].ref.model is not None
    assert entries[0].ref.resolve_identity().startswith("params:") and entries[0].origin.startswith("profile smoke")

    def unreachable(source, profile):
        raise OSError("weights not found")

    entries, notes = model_entries(get_profile("smoke"), tmp_path / "no-runs", loader=unreachable, **named)
    assert entries == [] and any("base model 'tiny': not evaluated (OSError: weights not found)" in n for n in notes)
    built = {"base_source": lambda p: str(folder), "include_sft": False}  # a folder (the built tiny model): not loaded
    entries, _ = model_entries(get_profile("smoke"), tmp_path / "no-runs", loader=unreachable, **built)
    assert entries[0].ref.resolve_identity().startswith("files:") and entries[0].origin == str(folder)


def test_the_sft_baseline_comes_from_the_profile_when_no_run_holds_it(tmp_path):
    folder = save_tiny_model(tmp_path / "sft-model")
    profile = get_profile("smoke")
    entries, notes = model_entries(profile, tmp_path / "no-runs", include_base=False, sft_source=lambda p: str(folder))
    assert [(e.config, e.seed, e.origin) for e in entries] == [("sft", 0, str(folder))]
    entries, notes = model_entries(profile, tmp_path / "no-runs", include_base=False, sft_source=lambda p: None)
    assert entries == [] and any("SFT baseline" in n and "not evaluated" in n for n in notes)
    _run(tmp_path / "runs", "sft", 3)  # a run folder holding the SFT model takes precedence

    def never(p):
        raise AssertionError("the profile's SFT baseline must not be built when a run holds it")

    entries, _ = model_entries(profile, tmp_path / "runs", include_base=False, sft_source=never)
    assert [(e.config, e.seed) for e in entries] == [("sft", 3)]


def _result(spec):
    rows = [{"problem_id": f"p{i}", "difficulty": d, "sample": j, "passed": j < c,
             "verdict": "passed" if j < c else v} for i, (d, c, v) in enumerate(spec) for j in range(4)]
    return EvalResult("m", "apps_plus", "k", pd.DataFrame(rows), (1, 2, 4))


def test_breakdown_and_pass_at_k_pool_seeds_per_model():
    seed0 = _result([("introductory", 2, "compile_error"), ("interview", 0, "runtime_error")])
    seed1 = _result([("introductory", 4, "compile_error"), ("interview", 1, "wrong_answer")])
    grouped = {"StepCoder (PPO)": [seed0, seed1], "SFT": [seed0]}
    breakdown = failure_breakdown_by_model(grouped).set_index(["model", "difficulty", "family"])
    assert breakdown.loc[("StepCoder (PPO)", "introductory", "compile_error"), "count"] == 2
    assert breakdown.loc[("StepCoder (PPO)", "interview", "runtime_error"), "share"] == pytest.approx(50.0)
    assert breakdown.loc[("StepCoder (PPO)", "interview", "wrong_answer"), "share"] == pytest.approx(37.5)
    assert breakdown.loc[("SFT", "overall", "passed"), "share"] == pytest.approx(25.0)
    curves = pass_at_k_by_model(grouped, (1, 2, 4)).set_index(["model", "k"])
    # seed0 overall pass@1 = (0.5 + 0) / 2 = 25%, seed1 = (1 + 0.25) / 2 = 62.5%
    assert curves.loc[("StepCoder (PPO)", 1), "mean"] == pytest.approx(43.75)
    assert curves.loc[("StepCoder (PPO)", 1), "min"] == pytest.approx(25.0) and curves.loc[("SFT", 1), "n"] == 1
    assert curves.loc[("StepCoder (PPO)", 4), "mean"] == pytest.approx(75.0)  # p0 seed0 solved, p1 only seed1
