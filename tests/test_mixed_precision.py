"""bfloat16 profiles train fp32 master weights with bf16 compute: the paper's tiny learning rates still move them.

At lr 5e-7 an AdamW step moves a weight by about 5e-7, below half a bf16 ulp for almost every
weight, so pure-bf16 training loses nearly every update (checked here too, so the test can tell).
Each trainer runs one real step on the smoke model with ``model.dtype=bfloat16`` on CPU; "changed"
counts the weights the step updated (nonzero AdamW first moment).
"""

from __future__ import annotations

import torch
from rl_helpers import ScriptedSampler, save_tiny_model, smoke_problems

from stepcoder_lib.executor import Executor, ExecutorConfig
from stepcoder_lib.models.loading import load_policy
from stepcoder_lib.settings.profiles import get_profile
from stepcoder_lib.training.train import make_curriculum, task_prompt

LR = 5e-7


def bf16_profile(**rl):
    return get_profile("smoke", {"model.dtype": "bfloat16", "rl.policy_lr": LR, "rl.ppo.critic_lr": LR, **rl})


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def changed_share(model: torch.nn.Module, before: dict[str, torch.Tensor], optimizer: torch.optim.Optimizer) -> float:
    """Share of the updated weights (nonzero first moment) whose value changed in the step."""
    state = optimizer.state
    changed = total = 0
    for name, p in model.named_parameters():
        if name not in before or p not in state or "exp_avg" not in state[p]:
            continue
        touched = state[p]["exp_avg"] != 0
        changed += int(((p.detach() != before[name]) & touched).sum())
        total += int(touched.sum())
    assert total > 0, "the step updated nothing"
    return changed / total


def test_pure_bf16_adamw_loses_most_updates_at_the_papers_lr() -> None:
    """The failure mode the master copy prevents: the same AdamW step on bf16 weights changes ~1% of them."""
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(256, 256) * 0.02)
    shares = {}
    for dtype in (torch.bfloat16, torch.float32):
        p = torch.nn.Parameter(w.detach().to(dtype).clone())
        opt = torch.optim.AdamW([p], lr=LR, weight_decay=0.0)
        p.grad = torch.randn_like(p)
        before = p.detach().clone()
        opt.step()
        shares[dtype] = float((p.detach() != before).float().mean())
    assert shares[torch.bfloat16] < 0.1 and shares[torch.float32] > 0.95


def test_ppo_bf16_profile_updates_most_policy_and_critic_weights(tmp_path) -> None:
    from stepcoder_lib.training.ppo import PPOTrainer

    profile = bf16_profile(**{"rl.problems_per_step": 2, "rl.rollouts_per_problem": 4, "rl.max_new_tokens": 512})
    problems = smoke_problems(4)
    prompts = {p.id: task_prompt(p, profile) for p in problems}
    policy, tok = load_policy(save_tiny_model(tmp_path / "sft"), profile)
    assert all(p.dtype == torch.float32 for p in policy.parameters())  # the master copy
    with Executor(ExecutorConfig(workers=2, coverage=True, time_limit_s=2.0)) as ex:
        trainer = PPOTrainer(policy, tok, problems, prompts, profile.rl, executor=ex,
                             curriculum=make_curriculum(problems, profile.rl.cccs), fgo=True, seed=0,
                             sampler=ScriptedSampler(problems, prompts, pass_prob=0.5), compute_dtype="bfloat16")
        assert next(trainer.reference.parameters()).dtype == torch.bfloat16  # frozen: stored in the compute dtype
        before_p, before_c = snapshot(trainer.unwrapped_policy), snapshot(trainer.critic)
        metrics, rollouts = trainer.train_step()
    assert len({r.reward for r in rollouts}) > 1 and metrics["policy_loss"] == metrics["policy_loss"]  # not NaN
    assert changed_share(trainer.unwrapped_policy, before_p, trainer.opt_policy.optimizer) > 0.9
    assert changed_share(trainer.critic, before_c, trainer.opt_critic.optimizer) > 0.9


def test_grpo_bf16_profile_updates_most_weights(tmp_path) -> None:
    from stepcoder_lib.training.grpo import make_trainer

    profile = bf16_profile(**{"rl.problems_per_step": 2, "rl.rollouts_per_problem": 8, "rl.max_new_tokens": 512,
                              "rl.steps": 1})
    problems = smoke_problems(4)
    prompts = {p.id: task_prompt(p, profile) for p in problems}
    policy, tok = load_policy(save_tiny_model(tmp_path / "sft"), profile)
    with Executor(ExecutorConfig(workers=2, coverage=True, time_limit_s=2.0)) as ex:
        trainer, seam = make_trainer(policy, tok, problems, prompts, profile.rl, executor=ex,
                                     curriculum=None, fgo=False, seed=0, output_dir=tmp_path / "out",
                                     sampler=ScriptedSampler(problems, prompts, pass_prob=0.5),
                                     compute_dtype="bfloat16")
        assert trainer.args.bf16
        before = snapshot(trainer.model)
        trainer.train()
    groups: dict[str, set[float]] = {}
    for r in seam.last_rollouts:
        groups.setdefault(r.problem_id, set()).add(r.reward)
    assert any(len(v) > 1 for v in groups.values())  # rewards differ within a group: advantages are not zero
    assert changed_share(trainer.model, before, trainer.optimizer) > 0.9


def test_sft_bf16_profile_updates_most_weights(tmp_path) -> None:
    from stepcoder_lib.training.sft import SFTRunConfig, make_sft_trainer

    profile = get_profile("smoke", {"model.dtype": "bfloat16", "sft.learning_rate": LR, "sft.warmup_epochs": 0.0})
    run = SFTRunConfig.from_profile(profile, base_model=str(save_tiny_model(tmp_path / "base")), max_steps=1,
                                    progress=False)
    assert run.bf16  # a bfloat16 profile computes in bf16 whatever the CPU
    trainer = make_sft_trainer(profile, run, tmp_path / "out", problems=smoke_problems(16), progress=False)
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())
    before = snapshot(trainer.model)
    trainer.train()
    assert changed_share(trainer.model, before, trainer.optimizer) > 0.9
