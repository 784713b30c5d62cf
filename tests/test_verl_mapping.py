"""The verl engine's parts that need no verl: the profile-to-verl mapping, the dry run, the trainer's maths.

The maths run on verl's batch layout (right-padded responses, the score on the last response token,
FGO masks as per-rollout lists) and are checked against stepcoder_lib.training.ppo's ``gae``, ``whiten``,
``kl_penalised_rewards`` and ``policy_loss`` over the native ``PPOBatch`` of the same real rollouts.
The verl side itself (agent loop, manager, verl's own losses) is tests/verl/ in the verl venv.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest
import torch
from rl_helpers import ScriptedSampler, smoke_problems

from stepcoder_lib.engines.verl.mapping import (
    CHECKPOINT_CALLBACK_CLASS,
    MANAGER_CLASS,
    NO_DUAL_CLIP,
    RL_TO_VERL,
    Launch,
    overrides_as_dict,
    rl_fields,
    unmapped_fields,
    verl_overrides,
)
from stepcoder_lib.engines.verl.maths import (
    StepCoderMaths,
    advantages_and_returns,
    fgo_tensor,
    policy_mask,
    token_rewards,
)
from stepcoder_lib.executor import Executor, ExecutorConfig
from stepcoder_lib.models.tokenizer import tiny_tokenizer
from stepcoder_lib.settings.profiles import RLConfig, get_profile
from stepcoder_lib.training.ppo import gae, kl_penalised_rewards, make_batch, policy_loss, whiten
from stepcoder_lib.training.rollout import SamplingSettings, StagePrompts, collect_rollouts
from stepcoder_lib.training.train import task_prompt

LAUNCH = Launch(sft_path="/models/sft", data_dir="/runs/x/verl_data", run_dir="/runs/x", nnodes=2, n_gpus_per_node=8)


def test_every_native_ppo_value_has_a_verl_key() -> None:
    assert unmapped_fields(RLConfig()) == []
    assert set(RL_TO_VERL) == set(rl_fields(RLConfig()))
    assert {"ppo.lam", "cccs.alpha", "grpo.loss_type", "update_epochs"} <= set(RL_TO_VERL)  # nested ones dotted


@pytest.mark.parametrize("name", ["smoke", "tiny", "paper"])
def test_each_mapped_key_carries_the_profiles_value(name: str) -> None:
    profile = get_profile(name)
    rl = profile.rl
    launch = dataclasses.replace(LAUNCH, nnodes=1, n_gpus_per_node=2 if name == "smoke" else 8)
    got = overrides_as_dict(verl_overrides(profile, launch, cccs=True, fgo=True, seed=3))
    expected = {
        "steps": str(rl.steps), "problems_per_step": str(rl.problems_per_step),
        "rollouts_per_problem": str(rl.rollouts_per_problem), "temperature": str(rl.temperature),
        "top_p": str(rl.top_p), "max_new_tokens": str(rl.max_new_tokens), "policy_lr": str(rl.policy_lr),
        "ppo.critic_lr": str(rl.ppo.critic_lr), "kl_beta": str(rl.kl_beta), "ppo.kl_clip": str(rl.ppo.kl_clip),
        "ppo.gamma": str(rl.ppo.gamma), "ppo.lam": str(rl.ppo.lam), "clip_range": str(rl.clip_range),
        "ppo.value_clip": str(rl.ppo.value_clip), "ppo.reward_clip": str(rl.ppo.reward_clip),
        "update_epochs": str(rl.update_epochs),
        "ppo.minibatch_size": str(rl.ppo.minibatch_size // rl.rollouts_per_problem),  # verl counts prompts
        "ppo.whiten_advantages": str(rl.ppo.whiten_advantages).lower(), "max_grad_norm": str(rl.max_grad_norm),
        "adam_beta1": f"[{rl.adam_beta1},{rl.adam_beta2}]", "adam_beta2": f"[{rl.adam_beta1},{rl.adam_beta2}]",
        "adam_eps": f"{{eps:{rl.adam_eps}}}", "warmup_steps": str(rl.warmup_steps),
        "checkpoint_every": str(rl.checkpoint_every), "cccs.alpha": str(rl.cccs.alpha),
        "cccs.rho_threshold": str(rl.cccs.rho_threshold),
        "cccs.cut_at_line_start": str(rl.cccs.cut_at_line_start).lower(),
    }
    assert set(expected) == {name for name, keys in RL_TO_VERL.items() if keys is not None}
    for field, keys in RL_TO_VERL.items():
        if keys is None:
            continue
        for key in keys:
            assert got[key.lstrip("+")] == expected[field], f"{field} -> {key}"
    assert got["data.max_prompt_length"] == str(profile.model.max_prompt_tokens + rl.max_new_tokens)
    assert got["stepcoder.executor.time_limit_s"] == str(profile.executor.time_limit_s)
    assert got["actor_rollout_ref.actor.optim.weight_decay"] == "0.0"  # the native AdamW's, not verl's 0.01
    assert got["actor_rollout_ref.actor.clip_ratio_c"] == str(NO_DUAL_CLIP)  # no dual clip, as natively


def test_the_overrides_select_gae_the_critic_vllm_the_agent_loop_the_manager_and_the_callback() -> None:
    got = overrides_as_dict(verl_overrides(get_profile("paper"), LAUNCH, cccs=True, fgo=False, seed=0))
    assert got["trainer.use_v1"] == "false" and got["algorithm.adv_estimator"] == "gae"
    assert got["critic.enable"] == "true" and got["critic.model.path"] == "/models/sft"
    assert got["actor_rollout_ref.rollout.name"] == "vllm" and got["actor_rollout_ref.rollout.mode"] == "async"
    assert got["actor_rollout_ref.rollout.agent.default_agent_loop"] == "stepcoder_agent"
    assert got["actor_rollout_ref.rollout.agent.agent_loop_manager_class"] == MANAGER_CLASS
    assert got["trainer.checkpoint_callback_class"] == CHECKPOINT_CALLBACK_CLASS
    assert got["trainer.nnodes"] == "2" and got["trainer.n_gpus_per_node"] == "8"
    assert got["stepcoder.cccs"] == "true" and got["stepcoder.fgo"] == "false"
    assert got["actor_rollout_ref.actor.fsdp_config.model_dtype"] == "fp32"  # fp32 master weights


def test_batches_verl_cannot_split_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="rl.ppo.minibatch_size=12 must be a multiple of rl.rollouts_per_problem=8"):
        verl_overrides(get_profile("tiny", {"rl.ppo.minibatch_size": 12}), LAUNCH, cccs=True, fgo=True, seed=0)
    with pytest.raises(ValueError, match="must divide over trainer.nnodes x n_gpus_per_node = 24"):
        verl_overrides(get_profile("paper"), dataclasses.replace(LAUNCH, nnodes=3), cccs=True, fgo=True, seed=0)


def test_dry_run_prints_the_verl_command_without_importing_verl() -> None:
    code = ("import sys; from stepcoder_lib.training.train import main; "
            "main(['--engine', 'verl', '--profile', 'paper', "
            "'--algo', 'ppo', '--cccs', '--fgo', '--dry-run', '--nnodes', '2', '--gpus-per-node', '8']); "
            "print('VERL_IMPORTED', any(m == 'verl' or m.startswith('verl.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    for piece in ("-m stepcoder_lib.engines.verl.main", "algorithm.adv_estimator=gae", "critic.enable=true",
                  "actor_rollout_ref.rollout.name=vllm", "default_agent_loop=stepcoder_agent",
                  f"agent_loop_manager_class={MANAGER_CLASS}", f"checkpoint_callback_class={CHECKPOINT_CALLBACK_CLASS}",
                  "trainer.nnodes=2", "trainer.n_gpus_per_node=8", "+stepcoder.kl_clip=0.8"):
        assert piece in out, piece
    assert "VERL_IMPORTED False" in out


def test_grpo_is_refused_on_the_verl_engine() -> None:
    from stepcoder_lib.training.train import main

    with pytest.raises(SystemExit, match="--engine verl runs PPO"):
        main(["--engine", "verl", "--profile", "paper", "--algo", "grpo", "--dry-run"])


# --------------------------------------------------------------------------- the trainer subclass's maths
@pytest.fixture(scope="module")
def rollouts() -> list:
    """Real judged rollouts (tiny tokenizer, scripted policy, the executor with coverage): FGO masks with zeros."""
    profile = get_profile("smoke", {"rl.max_new_tokens": 256})
    problems = smoke_problems(4)
    prompts = {p.id: task_prompt(p, profile) for p in problems}
    tok = tiny_tokenizer()
    rows = [p for p in problems for _ in range(3)]
    with Executor(ExecutorConfig(coverage=True, time_limit_s=1.0, workers=2)) as ex:
        rb = collect_rollouts(None, tok, rows, StagePrompts(tok, prompts, None), executor=ex,
                              sampling=SamplingSettings(max_new_tokens=256),
                              curriculum=None, fgo=True, seed=0, sampler=ScriptedSampler(problems, prompts, 0.7))
    assert any(0 in r.mask for r in rb.rollouts), "the scripted policy's unused helper should be masked"
    return rb.rollouts


def verl_layout(rollouts: list, width: int) -> tuple[torch.Tensor, torch.Tensor, list]:
    """What verl's agent-loop postprocessing builds: response mask, score on the last response token, FGO lists."""
    b = len(rollouts)
    response_mask = torch.zeros((b, width), dtype=torch.long)
    scores = torch.zeros((b, width))
    for i, r in enumerate(rollouts):
        n = len(r.token_ids)
        response_mask[i, :n] = 1 if r.trainable else 0
        scores[i, n - 1] = r.reward
    return response_mask, scores, [list(r.mask) for r in rollouts]


@pytest.mark.parametrize("fgo", [True, False])
def test_trainer_maths_equal_the_native_ppo_on_the_same_tensors(rollouts: list, fgo: bool) -> None:
    tok = tiny_tokenizer()
    native = make_batch(rollouts, tok)
    r = native.actions.shape[1]
    width = r + 7  # verl pads responses to rollout.response_length
    response_mask, scores, masks = verl_layout(rollouts, width)
    if not fgo:
        masks = [[1] * len(m) for m in masks]
        native.fgo_mask = torch.ones_like(native.fgo_mask)
    g = torch.Generator().manual_seed(0)
    logp, ref, values = (-torch.rand(len(rollouts), width, generator=g) * 3, -torch.rand(len(rollouts), width,
                         generator=g) * 3, torch.randn(len(rollouts), width, generator=g))
    maths = StepCoderMaths(kl_beta=0.05, kl_clip=0.8, reward_clip=10.0, gamma=1.0, lam=0.95, whiten_advantages=True)

    fgo_t = fgo_tensor(masks, response_mask)
    rewards = token_rewards(scores, logp, ref, response_mask, maths)
    adv, ret = advantages_and_returns(rewards, values, response_mask, fgo_t, maths)
    kept = policy_mask(response_mask, fgo_t)

    mask, pmask = native.completion_mask, native.policy_mask
    n_rewards = kl_penalised_rewards(native.scores, logp[:, :r], ref[:, :r], mask, 0.05, 0.8, 10.0)
    n_adv, n_ret = gae(n_rewards, values[:, :r], mask, 1.0, 0.95)
    n_adv = whiten(n_adv, pmask)
    torch.testing.assert_close(kept[:, :r], pmask)
    assert kept[:, r:].sum() == 0
    torch.testing.assert_close(rewards[:, :r], n_rewards)
    torch.testing.assert_close(adv[:, :r], n_adv)
    torch.testing.assert_close(ret[:, :r] * mask, n_ret * mask)
    new_logp = logp + 0.2 * torch.randn(logp.shape, generator=g)
    loss, _ = policy_loss(new_logp, logp, adv, kept, 0.2)
    n_loss, _ = policy_loss(new_logp[:, :r], logp[:, :r], n_adv, pmask, 0.2)
    torch.testing.assert_close(loss, n_loss)
    if fgo:
        assert pmask.sum() < mask.sum()
        loss_all, _ = policy_loss(new_logp[:, :r], logp[:, :r], whiten(gae(n_rewards, values[:, :r], mask, 1.0,
                                                                            0.95)[0], mask), mask, 0.2)
        assert not torch.isclose(loss, loss_all)  # the mask and the normaliser change the loss


def test_fgo_tensor_refuses_a_mask_shorter_than_its_response() -> None:
    with pytest.raises(ValueError, match="fgo_mask of row 1: 2 entries for a response of 3 tokens"):
        fgo_tensor([[1, 1, 1], [1, 0]], torch.tensor([[1, 1, 1, 0], [1, 1, 1, 0]]))
    out = fgo_tensor([[1, 0, 1, 1, 1]], torch.tensor([[1, 1, 1]]))  # verl cut the response at response_length
    assert out.tolist() == [[1.0, 0.0, 1.0]]


def test_run_rl_refuses_a_verl_profile_by_name() -> None:
    from stepcoder_lib.training.train import run_rl

    with pytest.raises(ValueError, match="rl.engine='verl' runs outside this process"):
        run_rl(get_profile("smoke", {"rl.engine": "verl"}), "ppo")
    with pytest.raises(SystemExit, match="rl.engine='spark'"):
        from stepcoder_lib.training.train import main

        main(["--profile", "smoke", "--set", "rl.engine=spark", "--dry-run"])
