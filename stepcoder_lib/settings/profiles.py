"""Run profiles: every size, model id, limit and hyperparameter a profile sets, in one place.

``smoke`` proves the chain runs (seconds per step), ``tiny`` is the default CPU reproduction
(offline: generated data, a tokenizer and a small Llama trained here), ``small`` is one GPU with a
hub code model, ``paper`` is the paper's setup (DeepSeek-Coder-6.7B-Instruct, its printed
hyperparameters). Each section is a frozen dataclass (TRL's config style); each profile's value
says why in a comment: "paper" means the digest (``shared/paper/STEPCODER.md``) prints it.

    profile = get_profile("tiny", {"rl.steps": 5})     # dotted overrides; unknown keys are an error
    profile.rl.rollouts_per_problem                     # 8
    save_effective_config(profile, run_dir)             # config.json beside every run's outputs
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

    source: str = "synthetic"  # "synthetic" (generated offline) | APPS folder / JSON lines / hub id
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
    split_digits: bool = False  # True: one token per digit (as LLaMA). Whole numbers copy in one token: on the
    # plain tiny data, 8% vs 0% introductory pass@1 after the same 1,200 training steps
    hidden_size: int = 256
    intermediate_size: int = 688
    num_layers: int = 4
    num_heads: int = 4
    max_position_embeddings: int = 1024  # prompt (<= 512) + completion (<= 256 new tokens) fit
    pretrain_steps: int = 1500
    pretrain_batch_size: int = 16  # examples (whole problem documents or stdlib chunks) per step
    pretrain_lr: float = 1e-3  # small models take large learning rates (nanoGPT's tiny configs use 1e-3)
    pretrain_warmup: float = 0.05  # share of pretraining steps spent warming up (ratio in [0, 1))
    pretrain_seq_len: int = 768  # longest example: a whole prompt + solution fits (they are never split)
    stdlib_share: float = 0.2  # share of pretraining blocks from the stdlib slice (the rest: training problems)
    bf16: bool = False  # bfloat16 autocast while pretraining (CPUs with AMX gain; others lose)
    seed: int = 0


@dataclass(frozen=True)
class ModelConfig:
    base: str = "tiny"  # "tiny" (built here) | hub id | local path
    prompt_template: str = SHORT_PROMPT
    dtype: str = "float32"  # "float32" | "bfloat16"
    max_prompt_tokens: int = 512
    lora_r: int = 0  # 0: full fine-tuning
    tiny: TinyModelConfig = field(default_factory=TinyModelConfig)


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
    bf16: bool = True  # mixed precision on GPU; CPUs with AMX gain too
    seed: int = 0


@dataclass(frozen=True)
class RLConfig:
    """Shared by PPO and GRPO; PPO-only and GRPO-only knobs say so.

    A step = problems_per_step x rollouts_per_problem rollouts."""

    engine: str = "native"  # "native": this project's trainers (CPU, one GPU, DDP) | "verl": PPO on verl (multi-GPU,
    # several nodes; its own venv, `make verl-venv`; run through `python -m stepcoder_lib.training.train --engine verl`)
    steps: int = 100  # optimisation steps (paper silent on its total)
    problems_per_step: int = 4  # problems sampled per step, split over ranks (paper silent)
    rollouts_per_problem: int = 16  # paper: 16 rollouts per example (GRPO: the group size)
    temperature: float = 0.8  # paper: nucleus sampling at T 0.8
    top_p: float = 0.9  # paper
    max_new_tokens: int = 1024  # paper: max output 1024 tokens
    max_tests: int | None = None  # unit tests run per rollout (None: all; APPS+ has ~3 per problem)
    policy_lr: float = 5e-7  # paper
    critic_lr: float = 1.5e-6  # paper (PPO)
    kl_beta: float = 0.05  # paper: token-level KL coefficient
    kl_clip: float = 0.8  # paper: "with a clip value of 0.8" (PPO: clip of the per-token log-ratio; see ppo.py)
    gamma: float = 1.0  # MOSS-RLHF default (paper silent) (PPO)
    lam: float = 0.95  # MOSS-RLHF default (paper silent) (PPO)
    clip_range: float = 0.2  # MOSS-RLHF default (paper silent): policy ratio clip (GRPO: epsilon)
    value_clip: float = 0.2  # MOSS-RLHF default (paper silent) (PPO)
    reward_clip: float = 10.0  # MOSS-RLHF default (paper silent); inert for rewards in [-1, 1] (PPO)
    whiten_advantages: bool = True  # MOSS-RLHF's advantage normalisation (PPO-max) (PPO)
    ppo_epochs: int = 1  # paper silent; MOSS-RLHF makes one pass per rollout batch (GRPO: num_iterations)
    minibatch_size: int = 16  # paper silent; sequences per PPO update (PPO)
    max_grad_norm: float = 1.0  # MOSS-RLHF / HF default (paper silent)
    adam_beta1: float = 0.9  # MOSS-RLHF default (paper silent)
    adam_beta2: float = 0.95  # MOSS-RLHF default (paper silent)
    adam_eps: float = 1e-6  # MOSS-RLHF default (paper silent)
    warmup_steps: int = 0  # paper silent; constant lr after warm-up
    grpo_loss_type: str = "dapo"  # TRL's default token-level loss (GRPO)
    generation_batch_size: int = 64  # sequences per generate call (memory, not math)
    vllm_mode: str = "off"  # GRPO on TRL: "off" (HF generate) | "colocate" (vLLM in each training process) |
    # "server" (`trl vllm-serve` on GPUs of its own); needs vLLM installed (not in this project's pins; see README)
    vllm_gpu_memory_utilization: float = 0.3  # colocate: vLLM's share of each GPU (TRL's default)
    cccs_alpha: float = 0.1  # paper silent: see curriculum.py
    cccs_rho_threshold: float = 0.8  # paper silent: see curriculum.py
    cccs_cut_at_line_start: bool = False  # paper: a stage starts at the conditional statement itself (its keyword)
    seeds: tuple[int, ...] = (0,)
    algos: tuple[str, ...] = ("ppo", "grpo")  # what notebook 05 (and so make reproduce) trains: PPO is the paper's
    checkpoint_every: int = 50  # steps between checkpoints
    probe_problems: int = 64  # fixed training problems whose whole-program reward is measured before and after
    probe_samples: int = 1  # completions per probe problem (the probe's mean reward has ~1/sqrt of their noise)
    max_problems: int | None = None  # RL problem pool, a stratified subset of the training split (None: all of it)
    validation_every: int = 0  # held-out pass@1 every this many steps and at the last (0: off; training/validation.py)
    validation_problems: int = 100  # validation problems it is measured on (stratified; fixed for every run)
    validation_samples: int = 2  # samples per problem, at the evaluation decoding (profile.eval)


@dataclass(frozen=True)
class EvalConfig:
    n_samples: int = 1  # samples per problem for pass@k
    ks: tuple[int, ...] = (1,)
    temperature: float = 0.2  # paper
    top_p: float = 0.95  # paper
    greedy: bool = False
    max_new_tokens: int = 1024
    humaneval: bool = True
    mbpp: bool = True
    seed: int = 0  # sampling seed of every evaluation: same seed, same samples, same numbers
    batch_size: int = 64  # prompts x samples per generate call (part of the cache key: it shapes the draws)
    max_problems: int | None = None  # APPS+ test problems per model, stratified by difficulty (None: all)
    zero_shot_style: str = "instruct"  # HumanEval/MBPP prompts: "instruct" (template) or "completion" (base models)
    max_zero_shot_problems: int | None = None  # HumanEval / MBPP problems per model (None: all)
    mbpp_split: str = "test"  # MBPP's upstream test split (tasks 11-510), the zero-shot convention


@dataclass(frozen=True)
class ExecConfig:
    time_limit_s: float = 4.0  # CPU seconds per test (scaled per problem from the canonical solution)
    memory_limit_mb: int = 2048
    workers: int | None = None  # None: cores // LOCAL_WORLD_SIZE


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    data: DataConfig
    model: ModelConfig
    sft: SFTConfig
    rl: RLConfig
    eval: EvalConfig
    executor: ExecConfig = field(default_factory=ExecConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ----------------------------------------------------------------------------- the registry
# Sections per profile, kept apart so each can be tuned without touching the others.

_DATA = {
    "smoke": DataConfig(synthetic_size="smoke"),  # 48 generated problems: every path, in seconds
    "tiny": DataConfig(synthetic_size="tiny",  # 3,500 generated problems (3,000 train pool / 500 held-out test)
                       split_fractions=(0.7, 0.15, 0.15),  # more to learn from; 450+ validation problems suffice
                       synthetic_options=(
                           ("plain", True),  # one wording, the program's own names: a 1M-parameter model trained
                           # for minutes cannot learn the paraphrases (0-3% validation pass@1 with them)
                           ("if_bands", (("introductory", (0, 1)), ("interview", (2, 3)), ("competition", (4, 6)))),
                       )),  # tiers scaled down: 0-1, 2-3, 4-6 if/elif (the paper's APPS tiers need far larger models)
    "small": DataConfig(source="codeparrot/apps"),  # real APPS, cleaned to APPS+ by notebook 01
    "paper": DataConfig(source="codeparrot/apps"),  # real APPS, cleaned to APPS+ by notebook 01
}

_TINY_MODEL = TinyModelConfig(
    vocab_size=2048,  # the generated statements and Python need few merges; a small head is most of the saving
    hidden_size=128, intermediate_size=344, num_layers=4, num_heads=4,  # 1M parameters: at this budget a smaller
    # model seeing the data more often beats a larger one seeing it less (3.7M: 0% pass@1 after the same minutes)
    pretrain_steps=600, pretrain_batch_size=8,  # ~2 passes over the training problems; SFT does the rest
    stdlib_share=0.05,  # the stdlib is there to show Python at large; the budget goes to the task's format
    pretrain_lr=2e-3, bf16=True)  # AMX makes bf16 autocast ~1.5x faster on this CPU
_SMOKE_MODEL = TinyModelConfig(
    vocab_size=1024, hidden_size=64, intermediate_size=172, num_layers=2, num_heads=2, pretrain_steps=20,
    pretrain_batch_size=8, pretrain_seq_len=512)  # seconds to build: proves the path, learns nothing

_MODEL = {
    "smoke": ModelConfig(base="tiny", max_prompt_tokens=512, tiny=_SMOKE_MODEL),
    "tiny": ModelConfig(base="tiny", tiny=_TINY_MODEL),
    "small": ModelConfig(base="Qwen/Qwen2.5-Coder-0.5B-Instruct", dtype="bfloat16", max_prompt_tokens=1024,
                         lora_r=16),  # fits one GPU with room for rollouts
    "paper": ModelConfig(base="deepseek-ai/deepseek-coder-6.7b-instruct", prompt_template=PAPER_PROMPT,
                         dtype="bfloat16", max_prompt_tokens=2048),  # paper
}

_SFT = {
    "smoke": SFTConfig(learning_rate=1e-3, epochs=1, warmup_epochs=0.1, batch_size=8, per_device_batch_size=8,
                       max_seq_len=1024, gradient_checkpointing=False),  # a few steps: proves the path
    "tiny": SFTConfig(learning_rate=2e-3, epochs=9, warmup_epochs=0.3, batch_size=8, per_device_batch_size=8,
                      max_seq_len=768, gradient_checkpointing=False),  # the paper's schedule shape, longer: a 1M
    # model learns to copy constants from statement to code only after ~2,500 steps of 8 (pass@1 jumps there);
    # small models take large learning rates; no accumulation or checkpointing on CPU (they only cost time there)
    "small": SFTConfig(per_device_batch_size=8),  # the paper's schedule on one GPU: 8 x 8 accumulation
    "paper": SFTConfig(),  # paper: lr 2e-5, 3 epochs, warm-up 0.3 epoch, linear decay, global batch 64
}

_RL = {
    "smoke": RLConfig(steps=2, problems_per_step=2, rollouts_per_problem=2, max_new_tokens=64, policy_lr=1e-4,
                      critic_lr=1e-4, minibatch_size=4, probe_problems=4),  # every path once, in seconds
    "tiny": RLConfig(
        steps=25, problems_per_step=4, rollouts_per_problem=8,  # 32 rollouts a step (~2.2 s), ~65 s a run with the
        # probes: 8 PPO runs are a third of make reproduce (30 steps took it to 29.5 minutes on 2 cores)
        max_problems=48, probe_problems=48,  # a pool of 48 training problems, each seen ~2 times in a run, and the
        # probe is that pool: RL raises the reward on what it trains on (over all 2,200 problems, 30 steps see each
        # once at most and the before/after reward only moves within noise)
        probe_samples=4,  # 192 probe rollouts: with one per problem the before/after difference was within the
        # probe's own noise (+-0.1); four cost ~5 s a run
        max_tests=3,  # APPS+ has ~3 tests per problem; the generator's 10-15 drive every branch, so with all of them
        # FGO would mask nothing (kept share 1.0) -- with 3, it masks 5-25% of the completion tokens
        max_new_tokens=256,  # the tiny SFT model's solutions fit (its model context is 1024 with a <= 512-token prompt)
        policy_lr=1e-4, critic_lr=3e-4,  # 1M model trained at 2e-3: 3e-5 does not move it in 30 steps, 2e-4 overshoots
        # (probe reward 0.37 -> 0.21), 1e-4 raises it (0.49 -> 0.57, vanilla PPO)
        lam=1.0,  # the zero-initialised critic has 30 steps to learn; with 0.95 a token 50 before the end of the
        # program would get 0.95**50 = 8% of its reward (the paper's 0.95 stays on `paper`)
        minibatch_size=16,  # two PPO updates per step: the second is off-policy enough for the clip to matter
        cccs_alpha=0.3, cccs_rho_threshold=0.7,  # a problem is seen ~2.5 times a run: these move a stage after 4
        # passes in a row, within one group of 8 (the defaults need 16, more than a tiny run gives a problem)
        seeds=(0, 1),  # two seeds: the results table reports a spread
        algos=("ppo",)),  # GRPO's two runs (~2.5 min) would take make reproduce past 30 minutes on 2 cores;
    # notebook 05's algos=["ppo", "grpo"] adds them (the smoke chain in the test suite runs GRPO through every notebook)
    "small": RLConfig(steps=200, problems_per_step=8, max_new_tokens=768, policy_lr=1e-6, critic_lr=3e-6),
    "paper": RLConfig(  # paper (and MOSS-RLHF defaults where it is silent); its step count is not printed:
        steps=240, problems_per_step=64,  # 64 problems x 16 rollouts a step (8 per rank on 8 GPUs, 4 on 16) and
        # 240 steps visit each of APPS+'s ~3,700 training problems ~4 times: a stage moves after one group of 16
        # passes (alpha 0.1, rho 0.8), so a problem that passes on every visit walks from its start (stage <= 3
        # for solutions with up to 16 conditionals) to the whole program; 100 steps of 4 would visit 11% once
    ),
}

_EVAL = {
    "smoke": EvalConfig(n_samples=2, ks=(1, 2), max_new_tokens=64, humaneval=False, mbpp=False, batch_size=32,
                        zero_shot_style="completion"),
    # A CPU budget: 100 test problems x 4 samples per model (~18 s a model) keeps notebook 06 to minutes; a tiny model
    # trained from scratch is a base model, so zero-shot sets (skipped: near zero) would use raw prompts.
    "tiny": EvalConfig(n_samples=4, ks=(1, 2, 4), max_new_tokens=256, humaneval=False, mbpp=False, batch_size=64,
                       max_problems=100, zero_shot_style="completion"),
    "small": EvalConfig(n_samples=5, ks=(1, 5)),  # an instruction-tuned hub model: the instruct prompts
    "paper": EvalConfig(n_samples=5, ks=(1, 5)),  # paper: pass@1 at temperature 0.2, top-p 0.95
}

_EXEC = {
    # Generated programs run in milliseconds (the slowest canonical test ~5 ms CPU), so 0.5 s leaves 100x. The limit
    # is what a program that never stops costs: the dataset's injected infinite loops run under 4x it while
    # cleaning (tiny: ~300 s at 2 s, ~250 s at 0.5 s), a policy's loops under 1x it in every RL step.
    "smoke": ExecConfig(time_limit_s=0.5),
    "tiny": ExecConfig(time_limit_s=0.5),
    "small": ExecConfig(),
    "paper": ExecConfig(),
}

_DESCRIPTIONS = {
    "smoke": "the whole chain in minutes: proves it runs, numbers mean nothing",
    "tiny": "default: offline, 2 CPU cores, generated APPS-format problems and a model trained here",
    "small": "one GPU: a 0.5B hub code model on real APPS+ (LoRA optional)",
    "paper": "the paper: DeepSeek-Coder-6.7B-Instruct, every hyperparameter the paper prints",
}

PROFILES: dict[str, Profile] = {
    name: Profile(name=name, description=_DESCRIPTIONS[name], data=_DATA[name], model=_MODEL[name], sft=_SFT[name],
                  rl=_RL[name], eval=_EVAL[name], executor=_EXEC[name])
    for name in _DESCRIPTIONS
}


def _replace_path(obj: Any, path: list[str], value: Any, full_key: str) -> Any:
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


def save_effective_config(profile: Profile, run_dir: str | Path, extra: Mapping[str, Any] | None = None) -> Path:
    """Write ``run_dir/config.json``: the profile as used, plus run-specific settings (``extra``)."""
    path = Path(run_dir) / "config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"profile": profile.to_dict(), **dict(extra or {})}
    path.write_text(json.dumps(record, indent=1, sort_keys=True, default=str) + "\n", encoding="utf-8")
    return path
