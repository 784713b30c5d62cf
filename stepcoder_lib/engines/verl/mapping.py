"""A profile as a verl run: every ``rl.*`` value, as the verl override that carries it (or why none does).

Plain data and strings only (no verl import), so ``python -m stepcoder_lib.training.train --engine verl
--dry-run`` prints the exact command in the project's own venv, and the mapping is tested there.

Where verl has no key for a value (the paper's clipped per-token KL, the reward clip, whitening
over FGO-kept tokens, the curriculum, the executor) it goes under ``stepcoder.*``, a config block
added with Hydra's ``+`` syntax and read by this package's trainer subclass, manager and agent
loop on the verl side. ``RL_TO_VERL`` is the table; ``verl_overrides`` produces the overrides.
"""

from __future__ import annotations

import dataclasses
import math
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stepcoder_lib.settings.paths import repo_root
from stepcoder_lib.settings.profiles import Profile, RLConfig

#: The package's verl-side classes, by the fully qualified names verl's config takes.
PACKAGE = "stepcoder_lib.engines.verl"
AGENT_LOOP_NAME = "stepcoder_agent"
MANAGER_CLASS = f"{PACKAGE}.manager.StepCoderAgentLoopManager"
CHECKPOINT_CALLBACK_CLASS = f"{PACKAGE}.trainer.CurriculumCheckpointCallback"
ENTRY_MODULE = f"{PACKAGE}.main"
#: The agent-loop registry file verl loads in every agent-loop worker (``agent_loop_config_path``).
AGENT_LOOP_CONFIG = Path("configs/verl/agent_loops.yaml")
#: Written beside each of verl's ``global_step_N`` checkpoint folders (and read back on resume).
CURRICULUM_FILE = "curriculum.json"
#: Dual-clip PPO's bound (verl's ``clip_ratio_c``, default 3): so large that it never binds, as in the native
#: loss, which has no dual clip (verl asserts it is > 1, so it cannot be switched off by a value like 0).
NO_DUAL_CLIP = 1e9

#: Every field of a profile's ``rl`` section (``settings.profiles.RLConfig``; nested ones dotted, ``ppo.lam``) -> the
#: verl override key(s) carrying it. A value that verl cannot express goes under ``+stepcoder.*`` and is applied by
#: this package; ``None`` says the value has no verl meaning (the comment says why).
RL_TO_VERL: dict[str, tuple[str, ...] | None] = {
    "engine": None,  # which engine runs: this mapping is the verl one
    "max_tests": None,  # applied to the problems when the run's data is written (``launch.py``)
    "max_problems": None,  # the problem pool written by ``launch.py`` (it also sizes trainer.total_epochs)
    "steps": ("trainer.total_training_steps",),
    "problems_per_step": ("data.train_batch_size",),  # prompts per step; verl repeats each rollout.n times
    "rollouts_per_problem": ("actor_rollout_ref.rollout.n",),
    "temperature": ("actor_rollout_ref.rollout.temperature",),  # verl also scores log-probs at this temperature
    "top_p": ("actor_rollout_ref.rollout.top_p",),
    "max_new_tokens": ("data.max_response_length",),  # rollout.response_length follows it
    "policy_lr": ("actor_rollout_ref.actor.optim.lr",),
    "kl_beta": ("algorithm.kl_ctrl.kl_coef",),  # fixed controller; the clipped penalty itself is stepcoder's
    "clip_range": ("actor_rollout_ref.actor.clip_ratio", "actor_rollout_ref.actor.clip_ratio_low",
                   "actor_rollout_ref.actor.clip_ratio_high"),
    "update_epochs": ("actor_rollout_ref.actor.ppo_epochs", "critic.ppo_epochs"),
    "max_grad_norm": ("actor_rollout_ref.actor.optim.clip_grad", "critic.optim.clip_grad"),
    "adam_beta1": ("actor_rollout_ref.actor.optim.betas", "critic.optim.betas"),
    "adam_beta2": ("actor_rollout_ref.actor.optim.betas", "critic.optim.betas"),
    "adam_eps": ("actor_rollout_ref.actor.optim.override_optimizer_config", "critic.optim.override_optimizer_config"),
    "warmup_steps": ("actor_rollout_ref.actor.optim.lr_warmup_steps", "critic.optim.lr_warmup_steps"),
    "generation_batch_size": None,  # HF generate's batch (memory, not maths): vLLM schedules its own batches
    "seeds": None,  # a verl run is one seed (--seed: data.seed, the data loader's seed)
    "algos": None,  # what notebook 05 trains; verl runs PPO
    "checkpoint_every": ("trainer.save_freq",),
    "probe_problems": None,  # the native run's before/after probe
    "probe_samples": None,
    "validation_every": None,  # the native run's held-out curve (training/validation.py); verl's own test_freq
    "validation_problems": None,  # validation stays off in the verl run (trainer.test_freq=-1)
    "validation_samples": None,
    "ppo.critic_lr": ("critic.optim.lr",),
    "ppo.kl_clip": ("+stepcoder.kl_clip",),  # verl's in-reward KL has no clip: the trainer subclass applies it
    "ppo.gamma": ("algorithm.gamma",),
    "ppo.lam": ("algorithm.lam",),
    "ppo.value_clip": ("critic.cliprange_value",),
    "ppo.reward_clip": ("+stepcoder.reward_clip",),  # verl has no score clip
    "ppo.whiten_advantages": ("+stepcoder.whiten_advantages",),  # verl always whitens, over all response tokens
    "ppo.minibatch_size": ("actor_rollout_ref.actor.ppo_mini_batch_size", "critic.ppo_mini_batch_size"),  # prompts
    "grpo.loss_type": None,  # GRPO runs on TRL (training.grpo), not verl
    "grpo.vllm_mode": None,
    "grpo.vllm_gpu_memory_utilization": None,
    "cccs.alpha": ("+stepcoder.curriculum.alpha",),  # the curriculum lives in this package's manager
    "cccs.rho_threshold": ("+stepcoder.curriculum.rho_threshold",),
    "cccs.cut_at_line_start": ("+stepcoder.curriculum.cut_at_line_start",),
}


@dataclass(frozen=True)
class Launch:
    """Where a verl run reads and writes, and on what hardware (the parts of a run the profile does not hold)."""

    sft_path: str  # the SFT model every RL run starts from (actor, reference and critic are initialised from it)
    data_dir: str  # train.parquet, problems.jsonl, task_prompts.json (``stepcoder_lib.engines.verl.data``)
    run_dir: str  # verl's checkpoints/ and the run's logs
    nnodes: int = 1
    n_gpus_per_node: int = 8
    rollout_tp: int = 1  # vLLM tensor parallelism per replica (6.7B in bf16 fits one 80 GB GPU)
    gpu_memory_utilization: float = 0.5  # vLLM's share of each GPU; the rest is FSDP's (hybrid engine)
    python: str = ".venv-verl/bin/python"

    @property
    def world_size(self) -> int:
        return self.nnodes * self.n_gpus_per_node


def _fmt(value: Any) -> str:
    """A value in Hydra's override grammar."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_fmt(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{k}:{_fmt(v)}" for k, v in value.items()) + "}"
    return str(value)


def _check_batches(rl: RLConfig, launch: Launch) -> tuple[int, int]:
    """(PPO minibatch in prompts, micro-batch per GPU); a profile verl cannot split says which field to change."""
    minibatch = rl.ppo.minibatch_size
    if minibatch % rl.rollouts_per_problem:
        raise ValueError(f"rl.ppo.minibatch_size={minibatch} must be a multiple of rl.rollouts_per_problem="
                         f"{rl.rollouts_per_problem}: verl counts PPO minibatches in prompts (whole groups)")
    sequences = rl.problems_per_step * rl.rollouts_per_problem
    world = launch.world_size
    for name, n in (("rl.problems_per_step x rl.rollouts_per_problem", sequences),
                    ("rl.ppo.minibatch_size", minibatch)):
        if n % world:
            raise ValueError(f"{name} = {n} sequences must divide over trainer.nnodes x n_gpus_per_node = {world} "
                             "GPUs (verl splits every batch evenly over its data-parallel ranks)")
    return minibatch // rl.rollouts_per_problem, max(1, min(2, minibatch // world))


def verl_overrides(profile: Profile, launch: Launch, *, cccs: bool, fgo: bool, seed: int) -> list[str]:
    """The Hydra overrides of verl's ``ppo_trainer`` config that make it run ``profile`` as StepCoder's PPO."""
    rl, ppo, model = profile.rl, profile.rl.ppo, profile.model
    mini_prompts, micro = _check_batches(rl, launch)
    data = Path(launch.data_dir)
    betas = [rl.adam_beta1, rl.adam_beta2]
    optim = {"betas": betas, "weight_decay": 0.0,  # the native AdamW has no weight decay (verl's default is 0.01)
             "clip_grad": rl.max_grad_norm, "lr_warmup_steps": rl.warmup_steps,
             "lr_scheduler_type": "constant",  # constant after warm-up, as get_scheduler("constant_with_warmup")
             "override_optimizer_config": {"eps": rl.adam_eps}}  # verl's optimiser config has no eps field
    pairs: list[tuple[str, Any]] = [
        # --- the PPO path: verl's RayPPOTrainer (main_ppo_v0), GAE with a critic
        ("trainer.use_v1", False),
        ("algorithm.adv_estimator", "gae"),
        ("algorithm.gamma", ppo.gamma),
        ("algorithm.lam", ppo.lam),
        ("algorithm.use_kl_in_reward", True),  # loads the reference model; the subclass replaces the penalty
        ("algorithm.kl_penalty", "kl"),
        ("algorithm.kl_ctrl.type", "fixed"),
        ("algorithm.kl_ctrl.kl_coef", rl.kl_beta),
        ("critic.enable", True),
        # --- data: one row per training problem; the CCCS prompt is built per rollout by the agent loop
        ("data.train_files", str(data / "train.parquet")),
        ("data.val_files", str(data / "train.parquet")),  # required by verl; validation is off (test_freq=-1)
        ("data.train_batch_size", rl.problems_per_step),
        # a CCCS prompt is the task (<= model.max_prompt_tokens) plus a prefix of a solution the policy could write
        # whole at stage 0 (<= rl.max_new_tokens); a longer one is refused by name in the agent loop
        ("data.max_prompt_length", model.max_prompt_tokens + rl.max_new_tokens),
        ("data.max_response_length", rl.max_new_tokens),
        ("data.filter_overlong_prompts", False),  # the agent loop refuses an over-long prompt by name instead
        ("data.return_raw_chat", True),
        ("data.shuffle", True),
        ("data.seed", seed),
        # --- the policy (actor), its reference and the vLLM rollout
        ("actor_rollout_ref.model.path", launch.sft_path),
        ("actor_rollout_ref.model.enable_gradient_checkpointing", True),
        ("actor_rollout_ref.actor.strategy", "fsdp"),
        ("actor_rollout_ref.actor.fsdp_config.model_dtype", "fp32"),  # fp32 master weights, bf16 compute
        ("actor_rollout_ref.actor.optim.lr", rl.policy_lr),
        *((f"actor_rollout_ref.actor.optim.{k}", v) for k, v in optim.items()),
        ("actor_rollout_ref.actor.ppo_mini_batch_size", mini_prompts),
        ("actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu", micro),
        ("actor_rollout_ref.actor.ppo_epochs", rl.update_epochs),
        ("actor_rollout_ref.actor.shuffle", True),  # the native loop draws a fresh minibatch order per epoch
        ("actor_rollout_ref.actor.data_loader_seed", seed),
        ("actor_rollout_ref.actor.clip_ratio", rl.clip_range),
        ("actor_rollout_ref.actor.clip_ratio_low", rl.clip_range),
        ("actor_rollout_ref.actor.clip_ratio_high", rl.clip_range),
        ("actor_rollout_ref.actor.clip_ratio_c", NO_DUAL_CLIP),
        ("actor_rollout_ref.actor.loss_agg_mode", "token-mean"),  # sum over kept tokens / their count
        ("actor_rollout_ref.actor.entropy_coeff", 0.0),
        ("actor_rollout_ref.actor.use_kl_loss", False),  # the KL is in the reward (Eq. 4), not the loss
        ("actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu", 2 * micro),
        ("actor_rollout_ref.rollout.name", "vllm"),
        ("actor_rollout_ref.rollout.mode", "async"),
        ("actor_rollout_ref.rollout.n", rl.rollouts_per_problem),
        ("actor_rollout_ref.rollout.temperature", rl.temperature),
        ("actor_rollout_ref.rollout.top_p", rl.top_p),
        ("actor_rollout_ref.rollout.top_k", -1),
        ("actor_rollout_ref.rollout.dtype", "bfloat16" if model.dtype == "bfloat16" else "float32"),
        ("actor_rollout_ref.rollout.tensor_model_parallel_size", launch.rollout_tp),
        ("actor_rollout_ref.rollout.gpu_memory_utilization", launch.gpu_memory_utilization),
        ("actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu", 2 * micro),
        ("actor_rollout_ref.rollout.agent.default_agent_loop", AGENT_LOOP_NAME),
        ("actor_rollout_ref.rollout.agent.agent_loop_config_path", str(repo_root() / AGENT_LOOP_CONFIG)),
        ("+actor_rollout_ref.rollout.agent.agent_loop_manager_class", MANAGER_CLASS),
        # --- the critic: initialised from the SFT model, trained on every completion token (not FGO-masked)
        ("critic.model.path", launch.sft_path),
        ("critic.model.enable_gradient_checkpointing", True),
        ("critic.optim.lr", ppo.critic_lr),
        *((f"critic.optim.{k}", v) for k, v in optim.items()),
        ("critic.ppo_mini_batch_size", mini_prompts),
        ("critic.ppo_micro_batch_size_per_gpu", micro),
        ("critic.ppo_epochs", rl.update_epochs),
        ("critic.cliprange_value", ppo.value_clip),
        # --- the run
        ("trainer.nnodes", launch.nnodes),
        ("trainer.n_gpus_per_node", launch.n_gpus_per_node),
        ("trainer.total_training_steps", rl.steps),
        ("trainer.total_epochs", max(1, math.ceil(rl.steps * rl.problems_per_step / max(1, rl.max_problems or 1)))),
        ("trainer.save_freq", rl.checkpoint_every),
        ("trainer.test_freq", -1),
        ("trainer.val_before_train", False),
        ("trainer.critic_warmup", 0),
        ("trainer.resume_mode", "auto"),
        ("trainer.default_local_dir", str(Path(launch.run_dir) / "checkpoints")),
        ("trainer.project_name", "stepcoder"),
        ("trainer.experiment_name", Path(launch.run_dir).name),
        ("trainer.logger", ["console", "tensorboard"]),
        ("trainer.checkpoint_callback_class", CHECKPOINT_CALLBACK_CLASS),
        # --- what verl cannot express: read by this package on the verl side
        ("+stepcoder.profile", profile.name),
        ("+stepcoder.problems", str(data / "problems.jsonl")),
        ("+stepcoder.task_prompts", str(data / "task_prompts.json")),
        ("+stepcoder.cccs", bool(cccs)),
        ("+stepcoder.fgo", bool(fgo)),
        ("+stepcoder.kl_clip", ppo.kl_clip),
        ("+stepcoder.reward_clip", ppo.reward_clip),
        ("+stepcoder.whiten_advantages", ppo.whiten_advantages),
        ("+stepcoder.curriculum.alpha", rl.cccs.alpha),
        ("+stepcoder.curriculum.rho_threshold", rl.cccs.rho_threshold),
        ("+stepcoder.curriculum.cut_at_line_start", rl.cccs.cut_at_line_start),
        ("+stepcoder.executor.time_limit_s", profile.executor.time_limit_s),
        ("+stepcoder.executor.memory_limit_mb", profile.executor.memory_limit_mb),
        ("+stepcoder.executor.workers", profile.executor.workers),
    ]
    return [f"{key}={_fmt(value)}" for key, value in pairs]


def verl_command(profile: Profile, launch: Launch, *, cccs: bool, fgo: bool, seed: int) -> list[str]:
    """argv of the verl run: this package's Hydra entry point (verl's ``main_ppo`` with the trainer subclass)."""
    return [launch.python, "-m", ENTRY_MODULE, *verl_overrides(profile, launch, cccs=cccs, fgo=fgo, seed=seed)]


def format_command(argv: Sequence[str]) -> str:
    """The command as a shell line, one override per line."""
    head = " ".join(shlex.quote(a) for a in argv[:3])
    return " \\\n    ".join([head, *(shlex.quote(a) for a in argv[3:])])


def overrides_as_dict(overrides: Sequence[str]) -> dict[str, str]:
    """``key=value`` overrides as {key: value} (the leading ``+`` dropped): what a test or a reader looks up."""
    out = {}
    for item in overrides:
        key, value = item.split("=", 1)
        out[key.lstrip("+")] = value
    return out


def rl_fields(section: Any, prefix: str = "") -> list[str]:
    """The fields of an ``rl`` section (a dataclass instance), nested sections' fields dotted: ``ppo.lam``."""
    out = []
    for f in dataclasses.fields(section):
        value = getattr(section, f.name)
        out += rl_fields(value, f"{prefix}{f.name}.") if dataclasses.is_dataclass(value) else [prefix + f.name]
    return out


def unmapped_fields(rl: RLConfig) -> list[str]:
    """``rl`` fields that ``RL_TO_VERL`` does not list (must be empty: every value has a verl home or says why not)."""
    return [name for name in rl_fields(rl) if name not in RL_TO_VERL]


__all__ = ["AGENT_LOOP_NAME", "CHECKPOINT_CALLBACK_CLASS", "CURRICULUM_FILE", "ENTRY_MODULE", "MANAGER_CLASS",
           "NO_DUAL_CLIP", "RL_TO_VERL", "Launch", "format_command", "overrides_as_dict", "rl_fields",
           "unmapped_fields", "verl_command", "verl_overrides"]
