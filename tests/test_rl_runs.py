"""Whole RL runs at smoke size: every algorithm x switch setting, kill-and-resume, two processes, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from rl_helpers import ScriptedSampler, save_tiny_model, smoke_problems
from safetensors.torch import load_file

from stepcoder_lib.settings.profiles import get_profile
from stepcoder_lib.training.runlog import read_metrics
from stepcoder_lib.training.train import find_runs, latest_checkpoint, main, make_curriculum, run_rl, task_prompt

HERE = Path(__file__).resolve().parent
#: Small and fast, but long enough for the curriculum to move (two passes in a row move a stage) and for
#: a kill after step 3 to lose work done since the checkpoint at step 2.
OVERRIDES = {"rl.steps": 4, "rl.checkpoint_every": 2, "rl.problems_per_step": 2, "rl.rollouts_per_problem": 2,
             "rl.max_new_tokens": 512, "rl.cccs.alpha": 0.5, "rl.cccs.rho_threshold": 0.6, "rl.ppo.minibatch_size": 4,
             "executor.workers": 2}
#: Metrics that depend on the clock, not on the computation.
TIMING = ("time/", "tokens_per_s")


@pytest.fixture(scope="module")
def sft(tmp_path_factory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("sft") / "model")


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("runs")


def smoke_run(algo: str, cccs: bool, fgo: bool, sft: Path, out: Path, steps: int = 4, **kw) -> Path:
    profile = get_profile("smoke", {**OVERRIDES, "rl.steps": steps})
    problems = smoke_problems(8)
    prompts = {p.id: task_prompt(p, profile) for p in problems}
    return run_rl(profile, algo, cccs, fgo, 0, out, sft, problems=problems,
                  sampler=ScriptedSampler(problems, prompts, pass_prob=0.6), **kw)


def deterministic(df):
    return df[[c for c in df.columns if not c.startswith(TIMING)]]


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run_dir / "policy" / "model.safetensors"))


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["ppo", "grpo"])
@pytest.mark.parametrize("cccs,fgo", [(False, False), (False, True), (True, False), (True, True)])
def test_each_algorithm_and_switch_setting_trains(algo, cccs, fgo, sft, runs_root) -> None:
    steps = 4 if cccs and fgo else 2  # StepCoder runs are also the uninterrupted reference of the resume test
    run = smoke_run(algo, cccs, fgo, sft, runs_root, steps=steps)
    assert (run / "done.json").exists() and (run / "config.json").exists() and any((run / "tb").iterdir())
    config = json.loads((run / "config.json").read_text())
    assert (config["algo"], config["cccs"], config["fgo"]) == (algo, cccs, fgo)
    m = read_metrics(run)
    assert list(m.index) == list(range(1, steps + 1))
    assert m["rollouts"].eq(4).all() and m["pass_rate"].between(0, 1).all() and m["policy_loss"].notna().all()
    for col in ("reward_mean", "verdict/passed", "verdict/compile_error", "kl", "entropy", "clip_fraction",
                "tokens_per_s", "time/generation", "time/execution", "time/masks_prompts", "time/optimisation"):
        assert col in m and m[col].notna().all(), col
    assert ("value_loss" in m) == (algo == "ppo")
    assert ("fgo_kept_share" in m) == fgo and (m["fgo_kept_share"].lt(1).any() if fgo else True)
    assert ("stage_mean" in m) == cccs and (run / "curriculum.json").exists() == cccs
    if cccs:
        assert m["stage_mean"].iloc[-1] < m["stage_mean"].iloc[0] or m["curriculum_moves"].sum() > 0
    probe = json.loads((run / "done.json").read_text())["probe"]  # SFT start and trained end, same problems
    assert probe["start"]["rollouts"] == probe["end"]["rollouts"] == 4 and -1 <= probe["end"]["reward_mean"] <= 1
    staged = {"start_staged", "end_staged"} & set(probe)  # CCCS runs: both models on the curriculum's final tasks
    assert staged == ({"start_staged", "end_staged"} if cccs else set())
    if cccs:
        assert probe["start_staged"]["rollouts"] == probe["end_staged"]["rollouts"] == 4
    sft_w, trained = load_file(str(sft / "model.safetensors")), weights(run)
    assert any(not torch.equal(sft_w[k], trained[k]) for k in sft_w)  # the policy was optimised
    # a second call finds the finished run by its key and returns it untouched
    before = (run / "metrics.jsonl").read_text()
    assert smoke_run(algo, cccs, fgo, sft, runs_root, steps=steps) == run
    assert (run / "metrics.jsonl").read_text() == before


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["ppo", "grpo"])
def test_a_killed_run_resumes_to_the_same_end_as_an_uninterrupted_one(algo, sft, runs_root, tmp_path) -> None:
    full = smoke_run(algo, True, True, sft, runs_root)  # cached by the settings test when it ran first
    killed = smoke_run(algo, True, True, sft, tmp_path, stop_after=3)  # dies after step 3; checkpoint at step 2
    assert not (killed / "done.json").exists() and latest_checkpoint(killed).name.endswith("2")
    assert len(read_metrics(killed)) == 3  # step 3's line is there; its work is lost with the process
    resumed = smoke_run(algo, True, True, sft, tmp_path)
    assert resumed == killed and json.loads((resumed / "done.json").read_text())["resumed_from"] == 2
    a, b = deterministic(read_metrics(full)), deterministic(read_metrics(resumed))
    assert list(b.index) == [1, 2, 3, 4]
    assert a.equals(b), (a.compare(b) if a.shape == b.shape else (a.columns, b.columns))
    assert json.loads((full / "curriculum.json").read_text()) == json.loads((resumed / "curriculum.json").read_text())
    wa, wb = weights(full), weights(resumed)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


@pytest.mark.slow
def test_two_processes_end_with_the_same_curriculum_for_ppo_and_grpo(sft, tmp_path) -> None:
    from test_distributed_curriculum import free_port

    accelerate = Path(sys.executable).with_name("accelerate")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": f"{HERE.parent}{os.pathsep}{HERE}"}
    for algo in ("ppo", "grpo"):
        cmd = [str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port()),
               str(HERE / "distributed_rl_worker.py"), algo, str(sft), str(tmp_path)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=HERE.parent, check=False)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # the CLI itself under accelerate (the random model: only that it runs and the ranks agree)
    cli = [str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port()),
           "-m", "stepcoder_lib.training.train", "--profile", "smoke", "--algo", "ppo", "--cccs", "--fgo",
           "--sft", str(sft),
           "--out", str(tmp_path / "cli"), "--set", "rl.steps=1", "--set", "executor.workers=1"]
    proc = subprocess.run(cli, capture_output=True, text=True, timeout=300, env=env, cwd=HERE.parent, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (cli_run,) = find_runs(tmp_path / "cli", "smoke")["path"]
    done = json.loads((Path(cli_run) / "done.json").read_text())
    assert done["world_size"] == 2 and len(set(done["curriculum_sha256_per_rank"])) == 1
    runs = find_runs(tmp_path, "smoke")
    assert sorted(runs["algo"]) == ["grpo", "ppo"]
    for path in runs["path"]:
        done = json.loads((Path(path) / "done.json").read_text())
        digests = done["curriculum_sha256_per_rank"]
        assert done["world_size"] == 2 and len(digests) == 2 and digests[0] == digests[1] is not None
        m = read_metrics(path)
        assert m["rollouts"].eq(8).all()  # each step's log counts both ranks' rollouts
        state = json.loads((Path(path) / "curriculum.json").read_text())
        start = make_curriculum(smoke_problems(8), get_profile("smoke").rl.cccs)
        moved = [pid for pid, s in state["problems"].items() if s["stage"] != start.stage(pid)]
        assert moved, "the scripted passes should have moved some stages"


def test_cli_dry_run_prints_the_plan_and_rejects_unknown_keys(capsys) -> None:
    assert main(["--profile", "paper", "--algo", "ppo", "--cccs", "--fgo", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "deepseek-coder-6.7b-instruct" in out and "stepcoder" in out and "16 rollouts" in out
    assert "policy lr 5e-07, critic lr 1.5e-06, KL beta 0.05" in out
    with pytest.raises(SystemExit, match="rl.stepz"):
        main(["--profile", "smoke", "--set", "rl.stepz=3", "--dry-run"])


def test_paper_profile_rl_values_are_the_digests() -> None:
    rl = get_profile("paper").rl
    assert (rl.policy_lr, rl.ppo.critic_lr, rl.rollouts_per_problem, rl.temperature, rl.top_p, rl.max_new_tokens,
            rl.kl_beta, rl.ppo.kl_clip) == (5e-7, 1.5e-6, 16, 0.8, 0.9, 1024, 0.05, 0.8)
    assert (rl.ppo.gamma, rl.ppo.lam, rl.clip_range, rl.ppo.value_clip,
            rl.ppo.reward_clip) == (1.0, 0.95, 0.2, 0.2, 10.0)


def test_paper_budget_splits_over_eight_ranks_and_lets_the_curriculum_walk() -> None:
    """Each of APPS+'s training problems is visited often enough to walk its stages (one group passing per move)."""
    import math

    from stepcoder_lib.method.curriculum import n_stages
    from stepcoder_lib.models.plan import PAPER_TRAIN_PROBLEMS

    rl = get_profile("paper").rl
    assert rl.problems_per_step % 8 == 0 and rl.problems_per_step % 16 == 0  # one node of 8 GPUs, or two
    visits = rl.steps * rl.problems_per_step / PAPER_TRAIN_PROBLEMS
    moves_needed = n_stages(16) - 1  # a solution with 16 conditionals starts 3 stages from the whole program
    passes_per_move = math.ceil(math.log(1 - rl.cccs.rho_threshold) / math.log(1 - rl.cccs.alpha))  # from rho = 0
    assert passes_per_move <= rl.rollouts_per_problem  # one visit's group can move a stage
    assert visits >= moves_needed + 1  # every move, then the whole program at least once
