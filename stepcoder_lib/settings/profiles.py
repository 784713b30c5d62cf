"""Run profiles: every size, model id, limit and hyperparameter a profile sets, in one place.

``smoke`` proves the chain runs (seconds per step), ``tiny`` is the default CPU reproduction
(offline: generated data, a tokenizer and a small Llama trained here), ``small`` is one GPU with a
hub code model, ``paper`` is the paper's setup (DeepSeek-Coder-6.7B-Instruct, its printed
hyperparameters).

Each section is a frozen dataclass (TRL's config style) whose defaults are the paper's: each field
is documented once, beside it, with where its default comes from ("paper" means the digest,
``shared/paper/STEPCODER.md``, prints it). PPO-only, GRPO-only and curriculum settings are nested
in ``rl`` (``rl.ppo``, ``rl.grpo``, ``rl.cccs``). ``paper`` is the defaults; every other profile
is written as what it changes from ``paper`` (nanoGPT's config files), one short why per value.

    profile = get_profile("tiny", {"rl.ppo.lam": 0.95})  # dotted overrides; unknown keys are an error
    profile.rl.rollouts_per_problem                       # 8
    save_effective_config(profile, run_dir)               # config.json beside every run's outputs
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The paper's prompt (DeepSeek Coder's instruction format); ``{task}`` is the problem statement.
PAPER_PROMPT = (
    "You are an AI programming assistant, utilizing the DeepSeek Coder model, developed by DeepSeek Company, "
    "and you only answer questions related to computer science. For politically sensitive questions, security "
    "and privacy issues, and other non-computer science questions, you will refuse to answer.\n"
    "### Instruction:\nwrite an algorithm in python:\n{task}\n### Response:\n"
)
#: The same instruction without the system preamble: the tiny model has a 512-token context.
SHORT_PROMPT = "### Instruction:\nwrite an algorithm in python:\n{task}\n### Response:\n"


@dataclass(frozen=True)
class DataConfig:
    """Where problems come from and how many each step sees (``stepcoder_lib.data.prepare``)."""

    source: str = "codeparrot/apps"  # paper: APPS, cleaned to APPS+ by notebook 01 | APPS folder / JSON lines /
    # hub id | "synthetic" (APPS-format problems generated offline)
    synthetic_size: str = "tiny"  # key of the synthetic generator's sizes when source == "synthetic"
    apps_plus: str | None = None  # an existing apps_plus.jsonl to use instead of cleaning
    max_train_problems: int | None = None  # cap on the training split (None: all)
    max_eval_problems: int | None = None  # cap per evaluation split, each difficulty keeping its share (None: all)
    synthetic_options: tuple[tuple[str, Any], ...] = ()  # (keyword, value) pairs for the generator, over its size
    split_fractions: tuple[float, float, float] = (0.5, 0.25, 0.25)  # train/validation/test: the paper's ~50/25/25


@dataclass(frozen=True)
class TinyModelConfig:
    """The Llama-style model trained from scratch here for ``tiny``/``smoke`` (ignored for hub models)."""

    vocab_size: int = 4096  # BPE vocabulary: the synthetic problems' words and Python's keywords fit with room
    split_digits: bool = False  # True: one token per digit (as LLaMA); whole numbers copy better in one token
    hidden_size: int = 256  # this project's choice (3.7M parameters with the three below); tiny takes 1M
    intermediate_size: int = 688  # ~2.7 x hidden_size, as Llama's
    num_layers: int = 4
    num_heads: int = 4
    max_position_embeddings: int = 1024  # prompt (<= 512) + completion (<= 256 new tokens) fit
    pretrain_steps: int = 1500  # next-token pretraining on the training problems and the stdlib, before SFT
    pretrain_batch_size: int = 16  # examples (whole problem documents or stdlib chunks) per step
    pretrain_lr: float = 1e-3  # small models take large learning rates (nanoGPT's tiny configs use 1e-3)
    pretrain_warmup: float = 0.05  # share of pretraining steps spent warming up (ratio in [0, 1))
    pretrain_seq_len: int = 768  # longest example: a whole prompt + solution fits (they are never split)
    stdlib_share: float = 0.2  # share of pretraining blocks from the stdlib slice (the rest: training problems)
    seed: int = 0  # initialisation and pretraining order


@dataclass(frozen=True)
class ModelConfig:
    """The policy every stage starts from and the prompt it reads (``stepcoder_lib.models``)."""

    base: str = "deepseek-ai/deepseek-coder-6.7b-instruct"  # paper | hub id | local path | "tiny" (built here)
    prompt_template: str = PAPER_PROMPT  # paper: DeepSeek Coder's instruction format
    dtype: str = "bfloat16"  # "float32" | "bfloat16"
    max_prompt_tokens: int = 2048  # APPS statements run long; the paper prints no cap
    lora_r: int = 0  # 0: full fine-tuning
    tiny: TinyModelConfig = field(default_factory=TinyModelConfig)  # read only when base == "tiny"


@dataclass(frozen=True)
class SFTConfig:
    """TRL's SFTTrainer on (prompt, canonical solution), loss on the completion (``stepcoder_lib.training.sft``)."""

    learning_rate: float = 2e-5  # paper
    epochs: float = 3.0  # paper
    warmup_epochs: float = 0.3  # paper: warm-up 0.3 epoch
    scheduler: str = "linear"  # paper: linear decay to zero
    batch_size: int = 64  # paper: global batch 64
    per_device_batch_size: int = 8  # batch_size / this = gradient accumulation steps (per device)
    max_seq_len: int = 2048  # prompt + solution tokens; longer examples are cut (APPS+ solutions are ~22 lines)
    weight_decay: float = 0.0  # paper silent; TrainingArguments' default
    gradient_checkpointing: bool = True  # 6.7B on 80 GB needs it; tiny models do not
    seed: int = 0  # data order and initialisation of SFT


#: ``rl.grpo.vllm_mode``'s choices: HF generate, or one of TRL's two vLLM modes.
VLLM_MODES: tuple[str, ...] = ("off", "colocate", "server")


@dataclass(frozen=True)
class PPOConfig:
    """PPO-only settings (``stepcoder_lib.training.ppo``; verl's PPO takes them through ``engines.verl.mapping``)."""

    critic_lr: float = 1.5e-6  # paper: the critic's learning rate
    kl_clip: float = 0.8  # paper: "with a clip value of 0.8", read as a clip of the per-token log-ratio (ppo.py)
    gamma: float = 1.0  # MOSS-RLHF default (paper silent): GAE's discount
    lam: float = 0.95  # MOSS-RLHF default (paper silent): GAE's lambda
    value_clip: float = 0.2  # MOSS-RLHF default (paper silent): how far a value may move from its old estimate
    reward_clip: float = 10.0  # MOSS-RLHF default (paper silent); inert for rewards in [-1, 1]
    whiten_advantages: bool = True  # MOSS-RLHF's advantage normalisation (PPO-max)
    minibatch_size: int = 16  # paper silent: sequences per PPO update (a step's rollouts / this = updates per epoch)

    def __post_init__(self) -> None:
        for name in ("gamma", "lam"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"rl.ppo.{name}={getattr(self, name)}: set it in [0, 1] (1.0: no discounting)")
        for name in ("critic_lr", "value_clip", "reward_clip", "minibatch_size"):
            if getattr(self, name) <= 0:
                raise ValueError(f"rl.ppo.{name}={getattr(self, name)}: set a positive value")
        if self.kl_clip < 0:
            raise ValueError(f"rl.ppo.kl_clip={self.kl_clip}: set a positive clip, or 0 for an unclipped KL penalty")


@dataclass(frozen=True)
class GRPOConfig:
    """GRPO-only settings (``stepcoder_lib.training.grpo``: TRL's ``GRPOTrainer``)."""

    loss_type: str = "dapo"  # TRL's default token-level loss (TRL's ``GRPOConfig.loss_type`` lists the others)
    vllm_mode: str = "off"  # "off" (HF generate) | "colocate" (vLLM in each training process) | "server"
    # (`trl vllm-serve` on GPUs of its own); vLLM is not in this project's pins (README: "At scale")
    vllm_gpu_memory_utilization: float = 0.3  # TRL's default: vLLM's share of each GPU when colocated

    def __post_init__(self) -> None:
        if self.vllm_mode not in VLLM_MODES:
            raise ValueError(f"rl.grpo.vllm_mode={self.vllm_mode!r}: choose one of {', '.join(VLLM_MODES)}")
        if not 0.0 < self.vllm_gpu_memory_utilization <= 1.0:
            raise ValueError(f"rl.grpo.vllm_gpu_memory_utilization={self.vllm_gpu_memory_utilization}: set a share "
                             "of the GPU in (0, 1]")


@dataclass(frozen=True)
class CCCSConfig:
    """The curriculum's settings (``stepcoder_lib.method.curriculum``, whose docstring argues the defaults)."""

    alpha: float = 0.1  # paper silent: weight of the newest rollout in a problem's running pass rate rho
    rho_threshold: float = 0.8  # paper silent: rho above this moves the problem one stage on (16 passes in a row)
    cut_at_line_start: bool = False  # paper: a stage starts at the conditional statement itself (its keyword)

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha <= 1.0:
            raise ValueError(f"rl.cccs.alpha={self.alpha}: set it in (0, 1] (0 would never move a stage)")
        if not 0.0 <= self.rho_threshold < 1.0:
            raise ValueError(f"rl.cccs.rho_threshold={self.rho_threshold}: set it in [0, 1) (rho never exceeds 1)")


@dataclass(frozen=True)
class RLConfig:
    """What PPO and GRPO share; ``ppo``, ``grpo`` and ``cccs`` hold what only one of them (or the curriculum) reads.

    A step = problems_per_step x rollouts_per_problem rollouts."""

    engine: str = "native"  # "native": this project's trainers (CPU, one GPU, DDP) | "verl": PPO on verl (multi-GPU,
    # several nodes; its own venv, `make verl-venv`; run through `python -m stepcoder_lib.training.train --engine verl`)
    steps: int = 240  # paper silent on its total: 240 x 64 problems visit each APPS+ training problem ~4 times
    problems_per_step: int = 64  # paper silent: 64 x 16 rollouts a step (8 problems per rank on 8 GPUs)
    rollouts_per_problem: int = 16  # paper: 16 rollouts per example (GRPO: the group size)
    temperature: float = 0.8  # paper: nucleus sampling at T 0.8
    top_p: float = 0.9  # paper
    max_new_tokens: int = 1024  # paper: max output 1024 tokens
    max_tests: int | None = None  # unit tests run per rollout (None: all; APPS+ has ~3 per problem)
    policy_lr: float = 5e-7  # paper
    kl_beta: float = 0.05  # paper: token-level KL coefficient (GRPO: TRL's beta)
    clip_range: float = 0.2  # MOSS-RLHF default (paper silent): the policy ratio's clip (GRPO: TRL's epsilon)
    update_epochs: int = 1  # paper silent; MOSS-RLHF makes one pass per rollout batch (GRPO: TRL's num_iterations)
    max_grad_norm: float = 1.0  # MOSS-RLHF / HF default (paper silent)
    adam_beta1: float = 0.9  # MOSS-RLHF default (paper silent)
    adam_beta2: float = 0.95  # MOSS-RLHF default (paper silent)
    adam_eps: float = 1e-6  # MOSS-RLHF default (paper silent)
    warmup_steps: int = 0  # paper silent; constant lr after warm-up
    generation_batch_size: int = 64  # sequences per generate call (memory, not maths)
    seeds: tuple[int, ...] = (0,)  # the training seeds of each ablation row (the paper reports one run)
    algos: tuple[str, ...] = ("ppo", "grpo")  # what notebook 05 (and so make reproduce) trains: PPO is the paper's
    checkpoint_every: int = 50  # steps between checkpoints
    probe_problems: int = 64  # fixed training problems whose whole-program reward is measured before and after
    probe_samples: int = 1  # completions per probe problem (the probe's mean reward has ~1/sqrt of their noise)
    max_problems: int | None = None  # RL problem pool, a stratified subset of the training split (None: all of it)
    validation_every: int = 0  # ours (paper silent): held-out pass@1 every this many steps and at the last
    # (0: off; training/validation.py)
    validation_problems: int = 100  # validation problems it is measured on (stratified; fixed for every run)
    validation_samples: int = 2  # samples per problem, at the evaluation decoding (profile.eval)
    ppo: PPOConfig = field(default_factory=PPOConfig)  # PPO-only: rl.ppo.*
    grpo: GRPOConfig = field(default_factory=GRPOConfig)  # GRPO-only: rl.grpo.*
    cccs: CCCSConfig = field(default_factory=CCCSConfig)  # the curriculum (with --cccs): rl.cccs.*

    def __post_init__(self) -> None:
        for name in ("steps", "problems_per_step", "rollouts_per_problem", "max_new_tokens", "update_epochs",
                     "generation_batch_size", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"rl.{name}={getattr(self, name)}: set 1 or more")
        if not 0.0 < self.top_p <= 1.0 or self.temperature <= 0:
            raise ValueError(f"rl.temperature={self.temperature}, rl.top_p={self.top_p}: set a temperature above 0 "
                             "and top-p in (0, 1]")


@dataclass(frozen=True)
class EvalConfig:
    """pass@k on APPS+'s test split and the zero-shot sets (``stepcoder_lib.results.evaluation``)."""

    n_samples: int = 5  # samples per problem for pass@k
    ks: tuple[int, ...] = (1, 5)  # paper: pass@1 (pass@5 beside it needs n_samples >= 5)
    temperature: float = 0.2  # paper
    top_p: float = 0.95  # paper
    greedy: bool = False  # True: greedy decoding instead of the paper's sampling
    max_new_tokens: int = 1024  # paper silent for evaluation: its training maximum
    humaneval: bool = True  # paper: zero-shot HumanEval beside APPS+
    mbpp: bool = True  # paper: zero-shot MBPP beside APPS+
    seed: int = 0  # sampling seed of every evaluation: same seed, same samples, same numbers
    batch_size: int = 64  # prompts x samples per generate call (part of the cache key: it shapes the draws)
    max_problems: int | None = None  # APPS+ test problems per model, stratified by difficulty (None: all)
    zero_shot_style: str = "instruct"  # HumanEval/MBPP prompts: "instruct" (template) or "completion" (base models)
    max_zero_shot_problems: int | None = None  # HumanEval / MBPP problems per model (None: all)
    mbpp_split: str = "test"  # MBPP's upstream test split (tasks 11-510), the zero-shot convention


@dataclass(frozen=True)
class ExecConfig:
    """The executor's limits per test (``stepcoder_lib.executor``)."""

    time_limit_s: float = 4.0  # CPU seconds per test (scaled per problem from the canonical solution)
    memory_limit_mb: int = 2048  # address space a test may add to the worker's baseline (paper silent)
    workers: int | None = None  # None: cores // LOCAL_WORLD_SIZE


@dataclass(frozen=True)
class Profile:
    """A run's every setting; the defaults are the paper's (``PAPER``)."""

    name: str = "paper"
    description: str = "the paper: DeepSeek-Coder-6.7B-Instruct, every hyperparameter the paper prints"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    sft: SFTConfig = field(default_factory=SFTConfig)
    rl: RLConfig = field(default_factory=RLConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    executor: ExecConfig = field(default_factory=ExecConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ----------------------------------------------------------------------------- the registry
# nanoGPT's config files: each profile is what it changes from ``paper``, one short why per value.
# The measurements behind the values are in the README ("Why tiny's values").

PAPER = Profile()

#: One GPU: what ``small`` changes from ``paper``.
SMALL: dict[str, Any] = {
    "model.base": "Qwen/Qwen2.5-Coder-0.5B-Instruct",  # 0.5B fits one GPU with room for rollouts
    "model.prompt_template": SHORT_PROMPT,  # the system preamble is DeepSeek Coder's own
    "model.max_prompt_tokens": 1024,
    "model.lora_r": 16,  # LoRA: the optimiser state of a full fine-tune would crowd out the rollouts
    "rl.steps": 200,
    "rl.problems_per_step": 8,  # 8 x 16 rollouts fit one GPU's step
    "rl.max_new_tokens": 768,
    "rl.policy_lr": 1e-6,  # a smaller model takes a larger step
    "rl.ppo.critic_lr": 3e-6,  # the paper's 3x the policy's
}

#: Offline on 2 CPU cores: what ``tiny`` (the default reproduction) changes from ``paper``.
TINY: dict[str, Any] = {
    "data.source": "synthetic",  # offline: 3,500 generated APPS-format problems
    "data.split_fractions": (0.7, 0.15, 0.15),  # more to learn from; 450+ validation problems suffice
    "data.synthetic_options": (
        ("plain", True),  # one wording, the program's own names: a 1M model cannot learn the paraphrases
        ("if_bands", (("introductory", (0, 1)), ("interview", (2, 3)), ("competition", (4, 6)))),  # tiers scaled
        # down to 0-1, 2-3, 4-6 if/elif (APPS's tiers need far larger models)
        ("n_tests", (5, 8)),  # still every if both ways (the generator's cover), nearer APPS+'s ~3; the executor's
    ),  # share of make reproduce (cleaning, judging) halves against the generator's default 10-15
    "model.base": "tiny",  # a Llama trained here (model.tiny)
    "model.prompt_template": SHORT_PROMPT,  # the 512-token context has no room for the system preamble
    "model.dtype": "float32",  # fp32 everywhere on every CPU: same seed, same numbers (bf16 is emulated on many)
    "model.max_prompt_tokens": 512,
    "model.tiny.vocab_size": 2048,  # the generated statements and Python need few merges
    "model.tiny.hidden_size": 128,  # 1M parameters: at this budget smaller and more passes beats larger
    "model.tiny.intermediate_size": 344,
    "model.tiny.pretrain_steps": 600,  # ~2 passes over the training problems; SFT does the rest
    "model.tiny.pretrain_batch_size": 8,
    "model.tiny.stdlib_share": 0.05,  # the budget goes to the task's format
    "model.tiny.pretrain_lr": 2e-3,  # small models take large learning rates
    "sft.learning_rate": 2e-3,  # small models take large learning rates
    "sft.epochs": 9,  # the paper's schedule shape, longer: copying constants is learnt late
    "sft.batch_size": 8,  # no accumulation on CPU: it only costs time
    "sft.max_seq_len": 768,  # a whole prompt + solution
    "sft.gradient_checkpointing": False,  # saves memory a 1M model does not need, costs time
    "rl.steps": 10,  # held-out pass@1 was flat from step 5 to 20 (README): half the cost, the same result
    "rl.problems_per_step": 4,
    "rl.rollouts_per_problem": 8,  # 32 rollouts a step (~2.2 s)
    "rl.max_problems": 24,  # a pool each problem of which a run sees ~2 times (CCCS needs repeat visits)
    "rl.probe_problems": 24,  # the probe is that pool: RL raises the reward on what it trains on
    "rl.probe_samples": 2,  # 48 probe rollouts: the held-out curves (validation_*) carry the verdict
    "rl.max_tests": 3,  # APPS+'s ~3 per problem; with all 5-8 (every branch both ways), FGO would mask nothing
    "rl.max_new_tokens": 192,  # the tiny solutions fit (99% of canonical ones are under 160 tokens)
    "rl.policy_lr": 1e-4,  # a 1M model trained at 2e-3: smaller does not move it in 30 steps, larger overshoots
    "rl.ppo.critic_lr": 3e-4,
    "rl.ppo.lam": 1.0,  # a zero-initialised critic with 10 steps to learn: 0.95 would hide the end's reward
    "rl.cccs.alpha": 0.3,  # with rho_threshold 0.7: a stage moves after 4 passes in a row, within one group of 8
    "rl.cccs.rho_threshold": 0.7,
    "rl.seeds": (0, 1),  # two seeds: the results table reports a spread
    "rl.validation_every": 5,  # held-out pass@1 at steps 0, 5 and 10: over- and under-training show
    "rl.validation_problems": 60,  # 60 validation problems x 2 samples (7-13 s a point)
    "rl.algos": ("ppo",),  # GRPO's runs would take make reproduce past 30 minutes (notebook 05's algos adds them)
    "eval.n_samples": 4,  # 100 problems x 4 samples (~18 s a model) keeps notebook 06 to minutes
    "eval.ks": (1, 2, 4),
    "eval.max_new_tokens": 192,  # as rl.max_new_tokens: a batch runs to its longest sample
    "eval.humaneval": False,  # near zero for a model trained on generated problems
    "eval.mbpp": False,
    "eval.max_problems": 100,
    "eval.zero_shot_style": "completion",  # a model trained from scratch is a base model
    "executor.time_limit_s": 0.25,  # generated programs run in milliseconds: 50x the slowest test
}

#: Proves the chain runs, in minutes (its numbers mean nothing): what ``smoke`` changes from ``paper``.
SMOKE: dict[str, Any] = {
    "data.source": "synthetic",
    "data.synthetic_size": "smoke",  # 48 generated problems
    "model.base": "tiny",
    "model.prompt_template": SHORT_PROMPT,
    "model.dtype": "float32",
    "model.max_prompt_tokens": 512,
    "model.tiny.vocab_size": 1024,  # model.tiny: seconds to build, learns nothing
    "model.tiny.hidden_size": 64,
    "model.tiny.intermediate_size": 172,
    "model.tiny.num_layers": 2,
    "model.tiny.num_heads": 2,
    "model.tiny.pretrain_steps": 20,
    "model.tiny.pretrain_batch_size": 8,
    "model.tiny.pretrain_seq_len": 512,
    "sft.learning_rate": 1e-3,  # SFT: a few steps
    "sft.epochs": 1,
    "sft.warmup_epochs": 0.1,
    "sft.batch_size": 8,
    "sft.max_seq_len": 1024,
    "sft.gradient_checkpointing": False,
    "rl.steps": 2,  # RL: every path once
    "rl.problems_per_step": 2,
    "rl.rollouts_per_problem": 2,
    "rl.max_new_tokens": 64,
    "rl.policy_lr": 1e-4,
    "rl.ppo.critic_lr": 1e-4,
    "rl.ppo.minibatch_size": 4,
    "rl.probe_problems": 4,
    "rl.validation_every": 2,  # the held-out curves' path (steps 0 and 2), on two problems
    "rl.validation_problems": 2,
    "rl.validation_samples": 1,
    "eval.n_samples": 2,  # evaluation: pass@2 is computed, on a few tokens
    "eval.ks": (1, 2),
    "eval.max_new_tokens": 64,
    "eval.humaneval": False,
    "eval.mbpp": False,
    "eval.batch_size": 32,
    "eval.zero_shot_style": "completion",
    "executor.time_limit_s": 0.5,
}


def _from_paper(name: str, description: str, changes: Mapping[str, Any]) -> Profile:
    """``paper`` renamed, with ``changes`` (dotted keys, as overrides) applied."""
    return get_profile(dataclasses.replace(PAPER, name=name, description=description), changes)


def _replace_path(obj: Any, path: list[str], value: Any, full_key: str) -> Any:
    """``obj`` with the field at ``path`` (one name per level, any depth: ``rl.ppo.lam``) set to ``value``; the
    sections on the way are rebuilt, so each one's ``__post_init__`` checks the new value."""
    names = {f.name: f for f in dataclasses.fields(obj)}
    head = path[0]
    if head not in names or head == "name":
        raise KeyError(f"unknown profile key {full_key!r}: {type(obj).__name__} has {', '.join(sorted(names))}")
    if len(path) == 1:
        current = getattr(obj, head)
        if dataclasses.is_dataclass(current):
            raise KeyError(f"profile key {full_key!r} is a section; set one of its fields, e.g. {full_key}.<field>")
        if isinstance(current, tuple) and isinstance(value, list):
            value = tuple(value)
        return dataclasses.replace(obj, **{head: value})
    return dataclasses.replace(obj, **{head: _replace_path(getattr(obj, head), path[1:], value, full_key)})


def get_profile(name: str | Profile, overrides: Mapping[str, Any] | None = None) -> Profile:
    """The named profile (or a profile) with dotted-key overrides applied (``{"rl.steps": 3}``); unknown keys raise
    KeyError."""
    base: Profile
    if isinstance(name, Profile):
        base = name
    elif name not in PROFILES:
        raise KeyError(f"unknown profile {name!r}: choose one of {', '.join(PROFILES)}")
    else:
        base = PROFILES[name]
    for key, value in (overrides or {}).items():
        base = _replace_path(base, key.split("."), value, key)
    return base


PROFILES: dict[str, Profile] = {
    "smoke": _from_paper("smoke", "the whole chain in minutes: proves it runs, numbers mean nothing", SMOKE),
    "tiny": _from_paper("tiny", "default: offline, 2 CPU cores, generated APPS-format problems and a model trained "
                        "here", TINY),
    "small": _from_paper("small", "one GPU: a 0.5B hub code model on real APPS+ (LoRA optional)", SMALL),
    "paper": PAPER,
}


def save_effective_config(profile: Profile, run_dir: str | Path, extra: Mapping[str, Any] | None = None) -> Path:
    """Write ``run_dir/config.json``: the profile as used, plus run-specific settings (``extra``)."""
    path = Path(run_dir) / "config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"profile": profile.to_dict(), **dict(extra or {})}
    path.write_text(json.dumps(record, indent=1, sort_keys=True, default=str) + "\n", encoding="utf-8")
    return path
