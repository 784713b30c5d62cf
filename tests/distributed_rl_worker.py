"""Run by tests/test_rl_runs.py under ``accelerate launch --multi_gpu --num_processes 2`` (gloo on CPU).

Trains a few PPO or GRPO steps with StepCoder's switches on, through ``run_rl`` (the CLI's
function), with the scripted policy: its seeds differ per rank, so the ranks see different
passes, and the curriculum must still end identical on both (``run_rl`` checks the per-rank
digests and records them in ``done.json``). See distributed_curriculum_worker.py for why
``--multi_gpu``: it is the launcher that starts two processes on a machine without GPUs.
"""

from __future__ import annotations

import sys
from pathlib import Path

from accelerate import PartialState
from rl_helpers import ScriptedSampler, smoke_problems

from stepcoder_lib.settings.profiles import get_profile
from stepcoder_lib.training.train import run_rl, task_prompt

OVERRIDES = {"rl.steps": 2, "rl.problems_per_step": 2, "rl.rollouts_per_problem": 4, "rl.max_new_tokens": 512,
             "rl.cccs.alpha": 0.5, "rl.cccs.rho_threshold": 0.6, "rl.ppo.minibatch_size": 4, "executor.workers": 1}


def main() -> None:
    algo, sft, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    state = PartialState(cpu=True)
    assert state.num_processes == 2, f"expected 2 processes, got {state.num_processes}"
    profile = get_profile("smoke", OVERRIDES)
    problems = smoke_problems(8)
    prompts = {p.id: task_prompt(p, profile) for p in problems}
    run_rl(profile, algo, True, True, 0, out, sft, problems=problems,
           sampler=ScriptedSampler(problems, prompts, pass_prob=0.7))
    state.wait_for_everyone()
    state.destroy_process_group()  # left to exit, gloo's threads can abort a rank


if __name__ == "__main__":
    main()
