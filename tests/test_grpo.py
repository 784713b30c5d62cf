"""GRPO through TRL: the FGO mask enters where TRL counts its loss normaliser, and nowhere else carries gradient."""

from __future__ import annotations

import pytest
import torch
from rl_helpers import ScriptedSampler, save_tiny_model, smoke_problems
from test_ppo import HiddenGrad

from stepcoder_lib.executor import Executor, ExecutorConfig
from stepcoder_lib.models.loading import load_policy
from stepcoder_lib.settings.profiles import get_profile
from stepcoder_lib.training.grpo import grpo_config, make_trainer
from stepcoder_lib.training.train import make_curriculum, task_prompt

GROUP = 4


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """One generation batch of TRL's trainer, produced by the seam (CCCS prefixes, FGO masks) on a real tiny model."""
    profile = get_profile("smoke", {"rl.problems_per_step": 2, "rl.rollouts_per_problem": GROUP,
                                    "rl.max_new_tokens": 512, "rl.steps": 1})
    problems = smoke_problems(6)
    prompts = {p.id: task_prompt(p, profile) for p in problems}
    model, tok = load_policy(save_tiny_model(tmp_path_factory.mktemp("sft") / "m"), profile)
    with Executor(ExecutorConfig(workers=2, coverage=True, time_limit_s=2.0)) as ex:
        trainer, seam = make_trainer(model, tok, problems, prompts, profile.rl, executor=ex,
                                     curriculum=make_curriculum(problems, profile.rl.cccs), fgo=True, seed=0,
                                     output_dir=tmp_path_factory.mktemp("out"),
                                     sampler=ScriptedSampler(problems, prompts, pass_prob=0.5))
        rows = [{"prompt": prompts[p.id], "problem_id": p.id} for p in problems[:2] for _ in range(GROUP)]
        trainer.model.train()
        trainer.current_gradient_accumulation_steps = 1  # set by Trainer's loop, which these tests step outside of
        inputs = trainer._generate_and_score_completions(rows)
    return trainer, seam, inputs, tok, prompts


def test_fgo_mask_reaches_trl_as_its_per_token_mask(scored) -> None:
    _, seam, inputs, _, _ = scored
    fgo = torch.zeros_like(inputs["completion_mask"])
    for i, r in enumerate(seam.last_rollouts):
        fgo[i, : len(r.mask)] = torch.tensor(r.mask)
    kept = inputs["completion_mask"] * inputs["tool_mask"]
    assert torch.equal(kept, inputs["completion_mask"] * fgo)
    assert 0 < kept.sum() < inputs["completion_mask"].sum()  # FGO removed some completion tokens
    assert int(inputs["num_items_in_batch"]) == int(kept.sum())  # ... and TRL's normaliser counts only the kept ones


def test_grpo_fgo_loss_equals_the_hand_computed_masked_mean(scored) -> None:
    trainer, _, inputs, _, _ = scored
    assert trainer.loss_type == "dapo" and trainer.beta == 0.05
    adv = inputs["advantages"]
    assert adv.abs().sum() > 0  # groups with both passes and failures
    loss = trainer.compute_loss(trainer.model, inputs).detach()
    cm, kept = inputs["completion_mask"].float(), (inputs["completion_mask"] * inputs["tool_mask"]).float()
    # on-policy (ratio 1) and policy == reference (KL 0): each kept token's loss is -A of its completion
    per_token = -adv.unsqueeze(1).expand_as(kept)
    by_hand = (per_token * kept).sum() / kept.sum()
    divided_by_all_tokens = (per_token * kept).sum() / cm.sum()  # what a mask applied after generation would give
    assert float(loss) == pytest.approx(float(by_hand), rel=1e-5, abs=1e-7)
    assert abs(float(by_hand) - float(divided_by_all_tokens)) > 1e-4
    assert float(loss) != pytest.approx(float(divided_by_all_tokens), rel=1e-3)


def test_grpo_gradient_is_zero_on_prompt_prefix_and_unexecuted_tokens(scored) -> None:
    trainer, seam, inputs, _, _ = scored
    model = trainer.model
    hook = HiddenGrad(model.model.norm)
    model.zero_grad()
    trainer.compute_loss(model, inputs).backward()
    grad = hook.per_position()
    width = inputs["prompt_ids"].shape[1]  # prompts are left-padded to this width; completions follow
    kept = (inputs["completion_mask"] * inputs["tool_mask"]).bool()
    assert any(r.prefix for r in seam.last_rollouts)
    for b in range(grad.shape[0]):
        for t in range(grad.shape[1]):
            j = t - width + 1  # position t scores completion token j
            should = 0 <= j < kept.shape[1] and bool(kept[b, j]) and float(inputs["advantages"][b]) != 0
            assert (grad[b, t] > 0) == should, (b, t, j)


def test_grpo_config_follows_the_profile() -> None:
    rl = get_profile("paper").rl
    cfg = grpo_config(rl, "/tmp/unused", seed=3, world_size=2)
    assert (cfg.learning_rate, cfg.beta, cfg.temperature, cfg.top_p, cfg.num_generations) == (5e-7, 0.05, 0.8, 0.9, 16)
    assert cfg.per_device_train_batch_size * 2 == rl.problems_per_step * rl.rollouts_per_problem
    assert cfg.max_completion_length == 1024 and cfg.epsilon == 0.2 and cfg.seed == 3
    with pytest.raises(ValueError, match="divisible"):
        grpo_config(rl, "/tmp/unused", seed=0, world_size=3)


def test_an_unjudged_rollout_gets_its_groups_mean_reward_and_no_loss() -> None:
    """TRL normalises rewards within a group: an unjudged rollout must neither shift the mean nor get an advantage."""
    from stepcoder_lib.executor import Verdict
    from stepcoder_lib.training.grpo import _rewards_for_trl
    from stepcoder_lib.training.rollout import Rollout

    def rollout(pid: str, verdict: Verdict, reward: float) -> Rollout:
        return Rollout(pid, "interview", 0, (1,), "", "x", (5, 6), True, verdict, reward, (0, 0) if reward == 0.0
                       and verdict == Verdict.JUDGE_ERROR else (1, 1))

    group = [rollout("a", Verdict.PASSED, 1.0), rollout("a", Verdict.WRONG_ANSWER, -0.3),
             rollout("a", Verdict.JUDGE_ERROR, 0.0), rollout("b", Verdict.JUDGE_ERROR, 0.0)]
    assert _rewards_for_trl(group) == [1.0, -0.3, pytest.approx(0.35), 0.0]
    assert not group[2].trainable and set(group[2].mask) == {0}
