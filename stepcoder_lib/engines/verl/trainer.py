"""verl's ``RayPPOTrainer`` with StepCoder's loss: FGO in the policy loss only, the paper's clipped KL.

verl's PPO step, on the driver, runs: generate -> old log-probs -> reference log-probs -> values
-> token rewards (in-reward KL) -> GAE (whitened over ``response_mask``) -> critic update ->
actor update. Two overrides, nothing else of the loop changes:

* ``_update_critic`` (the last point before both updates): token rewards, advantages and returns
  are recomputed with ``maths.py`` -- the clipped per-token KL (verl's options have no clip),
  GAE over every completion token, whitening over completion x FGO (verl whitens over every
  response token, with a Bessel correction the native PPO does not use);
* ``_update_actor``: the actor sees ``response_mask x fgo_mask`` as its mask, so verl's
  "token-mean" policy loss sums over kept tokens and divides by their count. The critic has
  already been updated on the full mask, which is restored afterwards.

Checkpoints: ``_save_checkpoint`` writes ``curriculum.json`` into verl's ``global_step_N`` folder
before verl writes its ``latest_checkpointed_iteration.txt`` (so the tracker never names a
checkpoint without its curriculum); ``_load_checkpoint`` reads it back when verl resumes. verl's
v0 trainer has no checkpoint callback hook (v1 has ``trainer.checkpoint_callback_class``); this
subclass calls the configured one after each save, as v1 does, and ``CurriculumCheckpointCallback``
(the one the mapping configures) writes the same file, so the v1 trainer would save it too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from verl.trainer.ppo.checkpoint_callback import CheckpointCallback, build_checkpoint_callback
from verl.trainer.ppo.ray_trainer import RayPPOTrainer

from stepcoder_lib.engines.verl.mapping import CURRICULUM_FILE
from stepcoder_lib.engines.verl.maths import StepCoderMaths, advantages_and_returns, policy_mask, token_rewards


def maths_from_config(config: Any) -> StepCoderMaths:
    """The loss settings of a verl config carrying the ``stepcoder`` block (``mapping.verl_overrides``)."""
    sc, algo = config.stepcoder, config.algorithm
    return StepCoderMaths(kl_beta=float(algo.kl_ctrl.kl_coef), kl_clip=float(sc.kl_clip),
                          reward_clip=float(sc.reward_clip), gamma=float(algo.gamma), lam=float(algo.lam),
                          whiten_advantages=bool(sc.whiten_advantages))


def replace_advantages(batch: Any, maths: StepCoderMaths) -> None:
    """Token rewards, advantages and returns of a verl batch (a ``DataProto``), replaced in place."""
    td = batch.batch
    rewards = token_rewards(td["token_level_scores"], td["old_log_probs"], td["ref_log_prob"], td["response_mask"],
                            maths)
    advantages, returns = advantages_and_returns(rewards, td["values"], td["response_mask"], td["fgo_mask"], maths)
    td["token_level_rewards"], td["advantages"], td["returns"] = rewards, advantages, returns


class CurriculumCheckpointCallback(CheckpointCallback):
    """Writes the manager's curriculum as ``curriculum.json`` in the checkpoint folder.

    Named by ``trainer.checkpoint_callback_class``: verl's v1 trainer calls it after each save, this v0 subclass too."""

    def on_save(self, trainer: Any, global_step: int, checkpoint_dir: str, async_save: bool = False,
                **kwargs: Any) -> None:
        trainer.async_rollout_manager.save_curriculum(Path(checkpoint_dir) / CURRICULUM_FILE)


class StepCoderPPOTrainer(RayPPOTrainer):
    """verl's PPO trainer with FGO in the policy loss only and the paper's clipped token-level KL."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.use_critic or not self.use_reference_policy:
            raise ValueError("StepCoder's PPO needs the critic (algorithm.adv_estimator=gae) and the reference "
                             "policy (algorithm.use_kl_in_reward=true); see stepcoder_lib.engines.verl.mapping")
        self.stepcoder_maths = maths_from_config(self.config)
        self.checkpoint_callback = build_checkpoint_callback(self.config)

    def _update_critic(self, batch: Any) -> Any:
        replace_advantages(batch, self.stepcoder_maths)
        return super()._update_critic(batch)

    def _update_actor(self, batch: Any) -> Any:
        full = batch.batch["response_mask"]
        batch.batch["response_mask"] = policy_mask(full, batch.batch["fgo_mask"]).to(full.dtype)
        try:
            return super()._update_actor(batch)
        finally:
            batch.batch["response_mask"] = full

    def _step_folder(self) -> str:
        return os.path.join(self.config.trainer.default_local_dir, f"global_step_{self.global_steps}")

    def _save_checkpoint(self) -> None:
        self.async_rollout_manager.save_curriculum(Path(self._step_folder()) / CURRICULUM_FILE)  # before the tracker
        super()._save_checkpoint()
        self.checkpoint_callback.on_save(self, self.global_steps, self._step_folder())  # v1's hook, after the save

    def _load_checkpoint(self) -> Any:
        out = super()._load_checkpoint()
        if self.global_steps > 0:  # verl resumed from global_step_N: the curriculum resumes with it
            folder = (self.config.trainer.resume_from_path if self.config.trainer.resume_mode == "resume_path"
                      else self._step_folder())
            self.async_rollout_manager.load_curriculum(Path(folder) / CURRICULUM_FILE)
        return out


__all__ = ["CurriculumCheckpointCallback", "StepCoderPPOTrainer", "maths_from_config", "replace_advantages"]
