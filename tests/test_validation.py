"""Held-out pass@1 during RL: when it is measured, what a run writes, the shared SFT point, resume, the plot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rl_helpers import ScriptedSampler, save_tiny_model, smoke_problems

from stepcoder_lib.settings.profiles import get_profile
from stepcoder_lib.training.train import run_rl, task_prompt
from stepcoder_lib.training.validation import (
    VALIDATION_FILE,
    ValidationLog,
    due,
    plot_validation,
    read_validation,
    validation_set,
)

OVERRIDES = {"rl.steps": 3, "rl.checkpoint_every": 3, "rl.problems_per_step": 2, "rl.rollouts_per_problem": 2,
             "rl.max_new_tokens": 256, "rl.ppo.minibatch_size": 4, "rl.probe_problems": 0, "executor.workers": 2,
             "rl.validation_every": 2, "rl.validation_problems": 6, "rl.validation_samples": 2}


def test_due_every_k_steps_and_the_last_and_never_when_off() -> None:
    assert [s for s in range(1, 8) if due(s, 3, 7)] == [3, 6, 7]
    assert not any(due(s, 0, 7) for s in range(8))


def test_resumed_log_drops_rows_past_the_checkpoint(tmp_path: Path) -> None:
    (tmp_path / VALIDATION_FILE).write_text("".join(json.dumps({"step": s, "pass@1": 0.1 * s}) + "\n"
                                                    for s in (0, 2, 4, 6)))
    log = ValidationLog(tmp_path, start_step=4)
    assert log.steps() == {0, 2, 4}
    log.write({"step": 6, "pass@1": 0.5})
    assert log.steps() == {0, 2, 4, 6}


@pytest.mark.slow
def test_runs_write_held_out_pass_at_1_from_a_shared_sft_point(tmp_path: Path) -> None:
    sft = save_tiny_model(tmp_path / "sft")
    profile = get_profile("smoke", OVERRIDES)
    problems = smoke_problems(8)
    prompts = {p.id: task_prompt(p, profile) for p in problems}
    runs = [run_rl(profile, "ppo", cccs, False, 0, tmp_path / "runs", sft, problems=problems,
                   sampler=ScriptedSampler(problems, prompts, pass_prob=0.6)) for cccs in (False, True)]
    held_out = validation_set(profile)
    assert len(held_out) == 6 and {p.split for p in held_out} == {"validation"}
    rows = [[json.loads(line) for line in (r / VALIDATION_FILE).read_text().splitlines()] for r in runs]
    for run_rows in rows:
        assert [r["step"] for r in run_rows] == [0, 2, 3]  # the SFT model, every 2 steps, and the last
        assert all(0.0 <= r["pass@1"] <= 1.0 and r["problems"] == 6 and r["samples"] == 2 for r in run_rows)
        assert any(k.startswith("pass@1/") for k in run_rows[0])
    assert rows[0][0] == rows[1][0]  # step 0 is measured once and shared by both runs
    assert len(list((runs[0].parent / "validation-sft").glob("*.json"))) == 1 and runs[0].parent == runs[1].parent

    frame = read_validation(runs)
    assert sorted(frame["label"].unique()) == ["PPO cccs", "PPO vanilla"] and len(frame) == 6
    fig = plot_validation(frame)
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines][-1] == "SFT"
    assert ax.lines[-1].get_ydata()[0] == pytest.approx(100 * rows[0][0]["pass@1"])
