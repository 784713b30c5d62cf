"""GRPO through TRL's ``GRPOTrainer``, with the rollout seam, reward and switches PPO uses.

TRL samples, scores and optimises; the StepCoder parts enter through its ``rollout_func`` hook,
which here calls ``stepcoder_lib.training.rollout.collect_rollouts``:

* CCCS: the prompt the policy continues is task prompt + canonical prefix, returned as
  ``prompt_ids``; TRL computes log-probs only over ``completion_ids``, so the prefix (prompt)
  never carries gradient.
* The reward: the seam's Eq. 3 value, handed to TRL's reward function as an extra field.
* FGO: the mask goes back as ``env_mask``, which TRL treats as its per-token ``tool_mask``. This
  is the one correct place for it. TRL multiplies ``completion_mask * tool_mask`` into the loss
  mask AND counts the loss normaliser from that product at generation time
  (``num_items_in_batch``, the divisor of the token-level "dapo"/"cispo" losses). A mask
  multiplied into the per-token loss later (say in an overridden ``_compute_loss``) would leave
  the normaliser counting every completion token: the loss would be divided by the wrong number
  and shrink with the share of unexecuted code. ``tests/test_grpo.py`` checks the loss against a
  hand-computed masked mean.

Why a subclass: ``rollout_func(prompts, trainer)`` receives the prompt texts only, but CCCS needs
each row's problem id (its stage and prefix). ``StepCoderGRPOTrainer`` only remembers the batch's
rows for the rollout; nothing else of TRL's loop changes.

What differs from PPO, and why: no critic (group-relative advantages, TRL's ``scale_rewards="group"``),
the KL to the reference is TRL's k3 estimator added to the loss with the same beta rather than
a clipped per-token penalty in the reward, and the loss is TRL's default token-level "dapo".
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from transformers import TrainerCallback
from trl import GRPOConfig, GRPOTrainer
from trl.models.utils import unwrap_model_for_generation

from stepcoder_lib.data.problem import Problem
from stepcoder_lib.executor import Executor
from stepcoder_lib.method.curriculum import Curriculum
from stepcoder_lib.method.reward import PAPER_REWARD, RewardTable
from stepcoder_lib.models.generation import sample_completions
from stepcoder_lib.models.loading import mixed_precision
from stepcoder_lib.settings.profiles import RLConfig
from stepcoder_lib.settings.progress import use_progress_bar
from stepcoder_lib.training.rollout import (
    Rollout,
    Sampler,
    SamplingSettings,
    StagePrompts,
    collect_rollouts,
    step_metrics,
)
from stepcoder_lib.training.runlog import RunLog

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

#: The reward function's extra input (one Eq. 3 value per rollout; see ``_rewards_for_trl`` for unjudged ones).
REWARD_FIELD = "stepcoder_reward"


class StepCoderGRPOTrainer(GRPOTrainer):
    """``GRPOTrainer`` that lets the rollout see the batch's rows (for their problem ids); see the module docstring."""

    def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        self.stepcoder_rows = inputs
        return super()._generate_and_score_completions(inputs)


def compiler_feedback(completions: list[Any], stepcoder_reward: list[float | None], **_: Any) -> list[float | None]:
    """TRL reward function: the seam already judged every completion; this hands TRL its Eq. 3 reward."""
    return list(stepcoder_reward)


class SeamRollout:
    """TRL's ``rollout_func``: the shared rollout seam, plus each step's metrics for the log."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, problems: Sequence[Problem],
                 task_prompts: Mapping[str, str], *, executor: Executor, sampling: SamplingSettings,
                 curriculum: Curriculum | None, fgo: bool, seed: int,
                 reward_table: RewardTable = PAPER_REWARD, sampler: Sampler = sample_completions,
                 compute_dtype: str = "float32") -> None:
        self.tokenizer, self.problems = tokenizer, {p.id: p for p in problems}
        self.compute_dtype = compute_dtype
        self.task_prompts, self.executor, self.sampling = dict(task_prompts), executor, sampling
        self.curriculum, self.fgo, self.seed, self.reward_table = curriculum, fgo, seed, reward_table
        self.sampler = sampler
        self.prompts = StagePrompts(tokenizer, self.task_prompts, curriculum)
        self.metrics: dict[int, dict[str, Any]] = {}  # by global step at generation time (0-based)
        self.last_rollouts: list[Any] = []

    def __call__(self, prompts: list[Any], trainer: Any) -> dict[str, Any]:  # a StepCoderGRPOTrainer
        rows = trainer.stepcoder_rows
        if len(rows) != len(prompts):
            raise RuntimeError(f"rollout got {len(prompts)} prompts for {len(rows)} rows")
        problems = [self.problems[row["problem_id"]] for row in rows]
        acc, step = trainer.accelerator, trainer.state.global_step
        seed = self.seed * 1_000_003 + step * 1009 + acc.process_index
        # ZeRO-3 shards the weights: HF generate needs them gathered for the rollout (TRL's own unwrap does it)
        with unwrap_model_for_generation(trainer.model_wrapped, acc) as model:
            was_training = model.training
            model.eval()
            with mixed_precision(self.compute_dtype, acc.device):  # sampled with the compute the loss uses
                rb = collect_rollouts(model, self.tokenizer, problems, self.prompts, executor=self.executor,
                                      sampling=self.sampling, curriculum=self.curriculum, fgo=self.fgo, seed=seed,
                                      reward_table=self.reward_table, sampler=self.sampler)
            model.train(was_training)
        self.last_rollouts = rb.rollouts
        metrics = step_metrics(rb.summaries, self.curriculum, self.fgo)
        for k, v in rb.timings.items():
            metrics[f"time/{k}"] = _max_over_ranks(v, acc)
        metrics["tokens_per_s"] = metrics["completion_tokens"] / max(metrics["time/generation"], 1e-9)
        metrics["curriculum_moves"] = float(len(rb.moved))
        self.metrics[step] = metrics
        out = {
            "prompt_ids": [list(r.prompt_ids) for r in rb.rollouts],  # as sampled: token-aligned CCCS prompts
            "completion_ids": [list(r.token_ids) for r in rb.rollouts],
            "logprobs": None,  # TRL recomputes them with the policy (no vLLM importance correction here)
            REWARD_FIELD: _rewards_for_trl(rb.rollouts),
        }
        if self.fgo or not all(r.trainable for r in rb.rollouts):
            # -> TRL's tool_mask, normaliser included: FGO's mask, and zeros for an unjudged rollout
            out["env_mask"] = [list(r.mask) for r in rb.rollouts]
        return out


def _rewards_for_trl(rollouts: Sequence[Rollout]) -> list[float]:
    """Eq. 3 per rollout; an unjudged one gets its group's mean (zero advantage, the group's mean unchanged).

    Its mask is all zeros (``rollout.fgo_mask``), so it is out of the loss either way; TRL would read a
    ``None`` as a reward of 0 in the group's mean and standard deviation.
    """
    judged: dict[str, list[float]] = {}
    for r in rollouts:
        if r.trainable:
            judged.setdefault(r.problem_id, []).append(r.reward)
    return [r.reward if r.trainable else (sum(judged[r.problem_id]) / len(judged[r.problem_id])
                                          if r.problem_id in judged else 0.0) for r in rollouts]


def _max_over_ranks(value: float, acc: Any) -> float:
    if acc.num_processes == 1:
        return value
    return float(acc.gather(torch.tensor([value], dtype=torch.float64, device=acc.device)).max())


class StepCoderCallback(TrainerCallback):
    """Per-step log (the seam's metrics + TRL's losses) and the curriculum state inside every checkpoint."""

    #: TRL's log names -> this project's metric names (the same names PPO logs).
    RENAMES: ClassVar[dict[str, str]] = {"loss": "policy_loss", "kl": "kl", "entropy": "entropy",
                                         "clip_ratio/region_mean": "clip_fraction",
               "grad_norm": "grad_norm", "learning_rate": "lr/policy"}

    def __init__(self, seam: SeamRollout, runlog: RunLog | None) -> None:
        self.seam, self.runlog = seam, runlog
        self._step_start = time.perf_counter()

    def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self._step_start = time.perf_counter()

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        m = self.seam.metrics.get(state.global_step - 1)
        if m is not None:
            m["time/step"] = time.perf_counter() - self._step_start
            seam_s = m["time/generation"] + m["time/execution"] + m["time/masks_prompts"]
            m["time/optimisation"] = m["time/step"] - seam_s

    def on_log(self, args: Any, state: Any, control: Any, logs: Mapping[str, Any] | None = None, **kw: Any) -> None:
        if not logs or "loss" not in logs:
            return  # the end-of-training summary
        step = state.global_step
        metrics = dict(self.seam.metrics.pop(step - 1, {}))
        metrics.update({ours: float(logs[theirs]) for theirs, ours in self.RENAMES.items() if theirs in logs})
        if self.runlog is not None:
            self.runlog.log(step, metrics)

    def on_save(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if self.seam.curriculum is None or not state.is_world_process_zero:
            return
        ckpt = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        ckpt.mkdir(parents=True, exist_ok=True)
        (ckpt / "curriculum.json").write_text(json.dumps(self.seam.curriculum.state_dict(), sort_keys=True))


def grpo_config(rl: RLConfig, output_dir: str | Path, seed: int, world_size: int, bf16: bool = False) -> GRPOConfig:
    """TRL's config from a profile's ``rl`` section: one optimiser step per generation batch of
    ``problems_per_step x rollouts_per_problem`` completions (the same batch PPO sees).

    ``bf16``: TRL's mixed precision (autocast over the fp32 master weights ``load_policy`` gives a
    trained model), for bfloat16 profiles.

    ``rl.grpo.vllm_mode``: "off" (the seam samples with HF generate) or TRL's two vLLM modes (the seam
    samples through TRL's ``vllm_generation``, whose weights TRL syncs before each rollout;
    ``stepcoder_lib.models.trl_vllm``)."""
    total = rl.problems_per_step * rl.rollouts_per_problem
    grpo = rl.grpo
    if rl.problems_per_step % world_size:
        raise ValueError(f"rl.problems_per_step={rl.problems_per_step} must be divisible by the {world_size} "
                         "processes (each rank holds whole groups)")
    return GRPOConfig(
        output_dir=str(output_dir), max_steps=rl.steps, per_device_train_batch_size=total // world_size,
        gradient_accumulation_steps=1, num_generations=rl.rollouts_per_problem, num_iterations=rl.update_epochs,
        learning_rate=rl.policy_lr, lr_scheduler_type="constant_with_warmup", warmup_steps=rl.warmup_steps,
        adam_beta1=rl.adam_beta1, adam_beta2=rl.adam_beta2, adam_epsilon=rl.adam_eps, weight_decay=0.0,
        max_grad_norm=rl.max_grad_norm, beta=rl.kl_beta, epsilon=rl.clip_range, temperature=rl.temperature,
        top_p=rl.top_p, max_completion_length=rl.max_new_tokens, loss_type=grpo.loss_type, scale_rewards="group",
        logging_steps=1, save_strategy="steps", save_steps=rl.checkpoint_every, save_total_limit=1, seed=seed,
        data_seed=seed,
        report_to=[],  # the run's RunLog writes metrics.jsonl and TensorBoard, the same way for PPO and GRPO
        remove_unused_columns=False, use_cpu=not torch.cuda.is_available(), bf16=bf16, disable_tqdm=True,
        dataloader_num_workers=0, save_only_model=False, log_completions=False,
        use_vllm=grpo.vllm_mode != "off", vllm_mode=grpo.vllm_mode if grpo.vllm_mode != "off" else "colocate",
        vllm_gpu_memory_utilization=grpo.vllm_gpu_memory_utilization,
    )


def problem_dataset(problems: Sequence[Problem], task_prompts: Mapping[str, str]) -> Any:
    """The training problems as TRL's prompt dataset: the task prompt (stage 0) and the problem id."""
    from datasets import Dataset  # lazy: importing this module needs no datasets

    return Dataset.from_dict({"prompt": [task_prompts[p.id] for p in problems], "problem_id": [p.id for p in problems]})


def make_trainer(policy: Any, tokenizer: PreTrainedTokenizerBase, problems: Sequence[Problem],
                 task_prompts: Mapping[str, str], rl: RLConfig, *,
                 executor: Executor, curriculum: Curriculum | None, fgo: bool, seed: int, output_dir: str | Path,
                 runlog: RunLog | None = None, reward_table: RewardTable = PAPER_REWARD,
                 sampler: Sampler = sample_completions,
                 compute_dtype: str = "float32") -> tuple[StepCoderGRPOTrainer, SeamRollout]:
    """A ready ``StepCoderGRPOTrainer``; the policy is the SFT model loaded from a path (TRL builds the reference
    from that path)."""
    from accelerate import PartialState  # lazy: importing this module needs no accelerate

    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # rollout_func is marked experimental in TRL 1.16
    # TRL 1.16 still calls transformers' gradient_checkpointing names, which warn once per step
    warnings.filterwarnings("ignore", message=r".*gradient_checkpointing.*deprecated", category=FutureWarning)
    world = PartialState(cpu=not torch.cuda.is_available()).num_processes
    if any(p.dtype != torch.float32 for p in policy.parameters() if p.requires_grad):
        raise ValueError("GRPO trains fp32 master weights: load the policy with load_policy(..., trainable=True) "
                         "and set compute_dtype='bfloat16' for 16-bit compute")
    args = grpo_config(rl, output_dir, seed, world, bf16=compute_dtype == "bfloat16")
    seam = SeamRollout(tokenizer, problems, task_prompts, executor=executor,
                       sampling=SamplingSettings(rl.temperature, rl.top_p, rl.max_new_tokens, rl.generation_batch_size),
                       curriculum=curriculum, fgo=fgo, seed=seed, reward_table=reward_table, sampler=sampler,
                       compute_dtype=compute_dtype)
    vllm_sampler = None
    if args.use_vllm and sampler is sample_completions:  # the seam's prompts go to TRL's vLLM, not HF generate
        from stepcoder_lib.models.trl_vllm import TRLVLLMSampler  # lazy: only with rl.grpo.vllm_mode

        seam.sampler = vllm_sampler = TRLVLLMSampler()
    trainer = StepCoderGRPOTrainer(model=policy, reward_funcs=[compiler_feedback], args=args,
                                   train_dataset=problem_dataset(problems, task_prompts), processing_class=tokenizer,
                                   rollout_func=seam, callbacks=[StepCoderCallback(seam, runlog)])
    if vllm_sampler is not None:
        vllm_sampler.bind(trainer)
    use_progress_bar(trainer, "GRPO", enabled=False)  # RunLog shows progress; TRL would print every log dict
    return trainer, seam
