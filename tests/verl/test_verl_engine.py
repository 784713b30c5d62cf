"""StepCoder on verl, on CPU: the agent loop, the curriculum manager and the trainer's maths against the native seam.

Runs in the verl venv only (``make test-verl``); the main suite does not collect this folder.
What these tests cannot show (no GPU here): sharding, vLLM, weight sync, Ray placement.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import verl
from verl_harness import (
    ReplaySampler,
    ScriptedServer,
    compose_config,
    make_manager,
    profile,
    rows_for_step,
    step_batch,
)

from stepcoder_lib.engines.verl.agent_loop import FGO_FIELD, PROBLEM_FIELD, REWARD_FIELD, STAGE_FIELD, VERDICT_FIELD
from stepcoder_lib.engines.verl.maths import policy_mask
from stepcoder_lib.engines.verl.trainer import maths_from_config, replace_advantages
from stepcoder_lib.executor import Executor, ExecutorConfig
from stepcoder_lib.training.ppo import gae, kl_penalised_rewards, make_batch, policy_loss, value_loss, whiten
from stepcoder_lib.training.rollout import SamplingSettings, StagePrompts, collect_rollouts
from stepcoder_lib.training.train import make_curriculum, task_prompt

STEPS = 3


def test_the_pinned_verl_is_installed() -> None:
    assert verl.__version__ == "0.9.1"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("verl")
    config, problems = compose_config(tmp)
    prof = profile()
    from verl.utils import hf_tokenizer

    tokenizer = hf_tokenizer(config.actor_rollout_ref.model.path)
    prompts = {p.id: task_prompt(p, prof) for p in problems}
    return {"tmp": tmp, "config": config, "problems": problems, "profile": prof, "tokenizer": tokenizer,
            "prompts": prompts}


def _server(w: dict[str, Any]) -> ScriptedServer:
    return ScriptedServer(w["tokenizer"], w["problems"], w["prompts"], w["profile"].rl.max_new_tokens)


def _run_verl_steps(w: dict[str, Any], manager: Any, steps: range) -> list[Any]:
    """Each step's batch after generation, joined as ``RayPPOTrainer.fit`` joins it (``batch.union``)."""
    out = []
    per_step = w["profile"].rl.problems_per_step
    for step in steps:
        batch, gen = step_batch(w["config"], w["tokenizer"], rows_for_step(step, len(w["problems"]), per_step), step)
        out.append(batch.union(manager.generate_sequences(gen)))
    return out


def _native(w: dict[str, Any], server: ScriptedServer, steps: range, curriculum: Any) -> list[Any]:
    """The native seam on the same problems, fed the same token ids (``collect_rollouts`` with a replay sampler)."""
    rl, by_id = w["profile"].rl, {p.id: p for p in w["problems"]}
    replay = ReplaySampler(w["tokenizer"], server.calls)
    batches = []
    stage_prompts = StagePrompts(w["tokenizer"], w["prompts"], curriculum)
    with Executor(ExecutorConfig(coverage=True, time_limit_s=1.0, workers=2)) as ex:
        for step in steps:
            rows = rows_for_step(step, len(w["problems"]), rl.problems_per_step)
            problems = [by_id[w["problems"][i].id] for i in rows for _ in range(rl.rollouts_per_problem)]
            batches.append(collect_rollouts(None, w["tokenizer"], problems, stage_prompts, executor=ex,
                                            sampling=SamplingSettings(max_new_tokens=rl.max_new_tokens),
                                            curriculum=curriculum, fgo=True, seed=step, sampler=replay))
    return batches


@pytest.fixture(scope="module")
def three_steps(world: dict[str, Any]) -> dict[str, Any]:
    """Three verl steps through the manager, and the native seam over the same tokens with its own curriculum."""
    server = _server(world)
    manager = make_manager(world["config"], server)
    verl_batches = _run_verl_steps(world, manager, range(STEPS))
    native_curriculum = make_curriculum(world["problems"], world["profile"].rl.cccs)
    native = _native(world, server, range(STEPS), native_curriculum)
    return {"server": server, "manager": manager, "verl": verl_batches, "native": native,
            "native_curriculum": native_curriculum}


def test_agent_loop_reward_mask_and_verdict_equal_the_native_seam_on_the_same_tokens(three_steps: dict) -> None:
    verdicts, masked = set(), 0
    for vb, rb in zip(three_steps["verl"], three_steps["native"]):
        nt = vb.non_tensor_batch
        assert len(vb) == len(rb.rollouts)
        for i, r in enumerate(rb.rollouts):
            n = len(r.token_ids)
            assert nt[PROBLEM_FIELD][i] == r.problem_id and int(nt[STAGE_FIELD][i]) == r.stage
            assert nt[VERDICT_FIELD][i] == r.verdict.value
            assert float(nt[REWARD_FIELD][i]) == r.reward
            assert tuple(nt[FGO_FIELD][i]) == r.mask
            assert vb.batch["responses"][i, :n].tolist() == list(r.token_ids)  # the same actions
            assert vb.batch["fgo_mask"][i, :n].tolist() == [float(m) for m in r.mask]
            assert vb.batch["fgo_mask"][i, n:].sum() == 0
            resp_len = int(vb.batch["response_mask"][i].sum())
            assert resp_len == (n if r.trainable else 0)
            if r.trainable:  # verl's score sits on the last response token: the rollout's reward, nowhere else
                assert float(vb.batch["rm_scores"][i].sum()) == pytest.approx(r.reward)
                assert float(vb.batch["rm_scores"][i, n - 1]) == pytest.approx(r.reward)
            verdicts.add(r.verdict.value)
            masked += n - sum(r.mask)
    assert {"passed"} < verdicts, f"the scripted policy should pass and fail: {verdicts}"
    assert masked > 0, "FGO should mask the scripted policy's unused helper"


def test_manager_curriculum_equals_update_curriculum_over_the_same_verdicts(three_steps: dict) -> None:
    manager, native = three_steps["manager"], three_steps["native_curriculum"]
    assert manager.curriculum.state_dict() == native.state_dict()
    stages = [int(s) for vb in three_steps["verl"] for s in vb.non_tensor_batch[STAGE_FIELD]]
    first = [int(s) for s in three_steps["verl"][0].non_tensor_batch[STAGE_FIELD]]
    assert max(first) > 0 and min(stages) < max(first), f"no stage moved in {STEPS} steps: {stages}"


def test_curriculum_survives_a_save_and_a_resume(world: dict[str, Any], three_steps: dict, tmp_path: Path) -> None:
    server = _server(world)
    first = make_manager(world["config"], server)
    _run_verl_steps(world, first, range(2))
    ckpt = tmp_path / "global_step_2" / "curriculum.json"
    first.save_curriculum(ckpt)
    resumed = make_manager(world["config"], server)  # a new driver process: the curriculum starts fresh
    assert resumed.curriculum.state_dict() != first.curriculum.state_dict()
    resumed.load_curriculum(ckpt)
    _run_verl_steps(world, resumed, range(2, STEPS))
    assert resumed.curriculum.state_dict() == three_steps["native_curriculum"].state_dict()
    assert json.loads(ckpt.read_text())  # a plain JSON file beside verl's checkpoint
    with pytest.raises(FileNotFoundError, match="no curriculum state"):
        resumed.load_curriculum(tmp_path / "global_step_9" / "curriculum.json")


def test_extra_fields_survive_verls_data_container(three_steps: dict) -> None:
    from verl.protocol import DataProto

    batch = three_steps["verl"][0]
    perm = torch.randperm(len(batch), generator=torch.Generator().manual_seed(0))
    moved = DataProto.concat(batch.select_idxs(perm).chunk(2))  # balance_batch's reorder, a dispatch round trip
    for new, old in enumerate(perm.tolist()):
        for key in (FGO_FIELD, VERDICT_FIELD, STAGE_FIELD, PROBLEM_FIELD, REWARD_FIELD):
            assert moved.non_tensor_batch[key][new] == batch.non_tensor_batch[key][old] or (
                list(moved.non_tensor_batch[key][new]) == list(batch.non_tensor_batch[key][old]))
        assert torch.equal(moved.batch["fgo_mask"][new], batch.batch["fgo_mask"][old])
        assert torch.equal(moved.batch["responses"][new], batch.batch["responses"][old])
    td = moved.to_tensordict()  # what the trainer hands the workers
    assert torch.equal(td["fgo_mask"], moved.batch["fgo_mask"])


def _scored(batch: Any, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    shape = batch.batch["responses"].shape
    return -torch.rand(shape, generator=g) * 3, -torch.rand(shape, generator=g) * 3, torch.randn(shape, generator=g)


@pytest.mark.parametrize("fgo", [True, False])
def test_trainer_maths_on_a_verl_batch_equal_the_native_ppo(world: dict, three_steps: dict, fgo: bool) -> None:
    """The subclass's replacement of rewards/advantages/returns, and verl's own policy and value losses over the
    masks it hands them, against stepcoder_lib.training.ppo on the same rollouts and log-probs."""
    from verl.trainer.ppo.core_algos import compute_policy_loss_vanilla, compute_value_loss
    from verl.utils.config import omega_conf_to_dataclass

    batch, rollouts = three_steps["verl"][2], three_steps["native"][2].rollouts
    logp, ref, values = _scored(batch, 0)
    batch.batch["old_log_probs"], batch.batch["ref_log_prob"], batch.batch["values"] = logp, ref, values
    batch.batch["token_level_scores"] = batch.batch["rm_scores"]
    if not fgo:
        batch.batch["fgo_mask"] = torch.ones_like(batch.batch["fgo_mask"])
    maths = maths_from_config(world["config"])
    replace_advantages(batch, maths)

    native = make_batch(rollouts, world["tokenizer"])
    if not fgo:
        native.fgo_mask = torch.ones_like(native.fgo_mask)
    r = native.actions.shape[1]
    mask, pmask = native.completion_mask, native.policy_mask
    rewards = kl_penalised_rewards(native.scores, logp[:, :r], ref[:, :r], mask, maths.kl_beta, maths.kl_clip,
                                   maths.reward_clip)
    adv, ret = gae(rewards, values[:, :r], mask, maths.gamma, maths.lam)
    adv = whiten(adv, pmask)
    torch.testing.assert_close(batch.batch["token_level_rewards"][:, :r], rewards)
    torch.testing.assert_close(batch.batch["advantages"][:, :r] * pmask, adv * pmask)
    torch.testing.assert_close(batch.batch["returns"][:, :r] * mask, ret * mask)
    if fgo:  # whitening over kept tokens is not whitening over every completion token
        raw = gae(rewards, values[:, :r], mask, maths.gamma, maths.lam)[0]
        assert not torch.allclose(adv * pmask, whiten(raw, mask) * pmask, atol=1e-4)

    # verl's own losses over the masks the subclass hands them
    new_logp = logp + 0.3 * torch.randn(logp.shape, generator=torch.Generator().manual_seed(1))
    actor = omega_conf_to_dataclass(world["config"].actor_rollout_ref.actor)  # FSDPActorConfig, as the worker builds
    actor_mask = policy_mask(batch.batch["response_mask"], batch.batch["fgo_mask"]).bool()
    verl_pg, _ = compute_policy_loss_vanilla(logp, new_logp, batch.batch["advantages"], actor_mask, "token-mean",
                                             actor)
    native_pg, _ = policy_loss(new_logp[:, :r], logp[:, :r], adv, pmask,
                               float(world["config"].actor_rollout_ref.actor.clip_ratio))
    torch.testing.assert_close(verl_pg, native_pg)
    new_values = values + 0.5 * torch.randn(values.shape, generator=torch.Generator().manual_seed(2))
    verl_vf, _ = compute_value_loss(new_values, batch.batch["returns"], values, batch.batch["response_mask"].bool(),
                                    float(world["config"].critic.cliprange_value), "token-mean")
    native_vf, _ = value_loss(new_values[:, :r], values[:, :r], ret, mask,
                              float(world["config"].critic.cliprange_value))
    torch.testing.assert_close(verl_vf, native_vf)


def test_the_overrides_compose_and_pass_verls_validation(world: dict[str, Any]) -> None:
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    config = world["config"]
    validate_config(config=config, use_reference_policy=need_reference_policy(config), use_critic=need_critic(config))
    assert config.actor_rollout_ref.rollout.agent.agent_loop_manager_class.endswith("StepCoderAgentLoopManager")
    assert bool(np.isclose(config.actor_rollout_ref.actor.clip_ratio_c, 1e9))


def test_trainer_hands_the_actor_completion_x_fgo_and_the_critic_every_token(
        world: dict[str, Any], three_steps: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """The subclass's two overrides around verl's updates, with verl's update RPCs replaced by recorders."""
    from verl.trainer.ppo.ray_trainer import RayPPOTrainer

    from stepcoder_lib.engines.verl.trainer import StepCoderPPOTrainer

    batch = three_steps["verl"][1]
    logp, ref, values = _scored(batch, 3)
    batch.batch["old_log_probs"], batch.batch["ref_log_prob"], batch.batch["values"] = logp, ref, values
    batch.batch["token_level_scores"] = batch.batch["rm_scores"]
    seen: dict[str, torch.Tensor] = {}
    monkeypatch.setattr(RayPPOTrainer, "_update_critic", lambda self, b: seen.setdefault(
        "critic", b.batch["response_mask"].clone()))
    monkeypatch.setattr(RayPPOTrainer, "_update_actor", lambda self, b: seen.setdefault(
        "actor", b.batch["response_mask"].clone()))
    trainer = object.__new__(StepCoderPPOTrainer)  # the overrides use only these attributes
    trainer.stepcoder_maths = maths_from_config(world["config"])
    full = batch.batch["response_mask"].clone()
    trainer._update_critic(batch)
    trainer._update_actor(batch)
    kept = (full * batch.batch["fgo_mask"]).to(full.dtype)
    assert torch.equal(seen["critic"], full) and torch.equal(seen["actor"], kept)
    assert kept.sum() < full.sum()  # FGO dropped tokens from the policy loss only
    assert torch.equal(batch.batch["response_mask"], full)  # restored for verl's metrics
    assert float((batch.batch["advantages"] * (1 - kept)).abs().sum()) == 0.0  # no advantage outside kept tokens


def test_checkpoint_hooks_write_and_read_curriculum_json(world: dict[str, Any], three_steps: dict, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from omegaconf import OmegaConf
    from verl.trainer.ppo.checkpoint_callback import CheckpointCallback
    from verl.trainer.ppo.ray_trainer import RayPPOTrainer

    from stepcoder_lib.engines.verl.trainer import StepCoderPPOTrainer

    order: list[str] = []
    monkeypatch.setattr(RayPPOTrainer, "_save_checkpoint", lambda self: order.append(
        "verl saved" + (" after curriculum" if (tmp_path / "global_step_3" / "curriculum.json").exists() else "")))
    monkeypatch.setattr(RayPPOTrainer, "_load_checkpoint", lambda self: setattr(self, "global_steps", 3))
    trainer = object.__new__(StepCoderPPOTrainer)
    trainer.config = OmegaConf.create({"trainer": {"default_local_dir": str(tmp_path), "resume_mode": "auto"}})
    trainer.global_steps = 3
    trainer.async_rollout_manager = three_steps["manager"]
    trainer.checkpoint_callback = CheckpointCallback()
    trainer._save_checkpoint()
    assert order == ["verl saved after curriculum"]  # the tracker verl writes last never names a bare checkpoint
    resumed = make_manager(world["config"], _server(world))
    trainer.async_rollout_manager = resumed
    trainer.global_steps = 0
    trainer._load_checkpoint()
    assert resumed.curriculum.state_dict() == three_steps["manager"].curriculum.state_dict()


def test_vanilla_rl_on_verl_stages_nothing_and_masks_nothing(tmp_path: Path) -> None:
    """CCCS and FGO off: every prompt the plain task at stage 0, every mask all ones; rewards as the native seam's."""
    config, problems = compose_config(tmp_path, cccs=False, fgo=False)
    prof = profile()
    from verl.utils import hf_tokenizer

    tokenizer = hf_tokenizer(config.actor_rollout_ref.model.path)
    w = {"config": config, "problems": problems, "profile": prof, "tokenizer": tokenizer,
         "prompts": {p.id: task_prompt(p, prof) for p in problems}}
    server = _server(w)
    manager = make_manager(config, server)
    assert manager.curriculum is None
    (vb,) = _run_verl_steps(w, manager, range(1))
    nt = vb.non_tensor_batch
    assert {int(s) for s in nt[STAGE_FIELD]} == {0} and set(nt["cccs_prefix"]) == {""}
    assert all(set(m) == {1} for m in nt[FGO_FIELD])
    rl, by_id = prof.rl, {p.id: p for p in problems}
    rows = [by_id[problems[i].id] for i in rows_for_step(0, len(problems), rl.problems_per_step)
            for _ in range(rl.rollouts_per_problem)]
    with Executor(ExecutorConfig(time_limit_s=1.0, workers=2)) as ex:
        rb = collect_rollouts(None, tokenizer, rows, StagePrompts(tokenizer, w["prompts"], None), executor=ex,
                              sampling=SamplingSettings(max_new_tokens=rl.max_new_tokens), curriculum=None, fgo=False,
                              seed=0, sampler=ReplaySampler(tokenizer, server.calls))
    assert [float(x) for x in nt[REWARD_FIELD]] == [r.reward for r in rb.rollouts]
    assert list(nt[VERDICT_FIELD]) == [r.verdict.value for r in rb.rollouts]
