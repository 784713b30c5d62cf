"""The dry run: validate a profile and lay out its run (hardware, memory, steps, batch sizes) without weights.

    print(plan(profile).to_string(index=False))
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from stepcoder_lib.data.prepare import dataset_key
from stepcoder_lib.data.synthetic import SIZES
from stepcoder_lib.models.loading import resolve_model_path
from stepcoder_lib.settings.cache import is_built
from stepcoder_lib.settings.paths import artifacts_dir
from stepcoder_lib.settings.profiles import get_profile

#: Parameter counts of the profiles' hub models (from their model cards), for planning without weights.
KNOWN_PARAMETERS = {
    "deepseek-ai/deepseek-coder-6.7b-instruct": 6.74e9,
    "Qwen/Qwen2.5-Coder-0.5B-Instruct": 0.494e9,
    "Qwen/Qwen2.5-Coder-1.5B-Instruct": 1.54e9,
}
#: APPS+ training split size when no cleaned file is at hand: 7,456 instances less ~25% validation, ~25% test.
PAPER_TRAIN_PROBLEMS = 3_728


def _count_parameters(profile: Any) -> tuple[float, str]:
    """Parameter count without weights: from the tiny config, a local config.json (meta device), or known sizes."""
    base = profile.model.base
    if base == "tiny":
        t = profile.model.tiny
        h, ff, layers, v = t.hidden_size, t.intermediate_size, t.num_layers, t.vocab_size
        return float(v * h + layers * (4 * h * h + 3 * h * ff + 2 * h) + h), "exact (tiny config)"
    where, local = resolve_model_path(base)
    if local and (Path(where) / "config.json").is_file():
        import torch  # lazy: importing this module needs no torch
        from transformers import (  # lazy: importing this module needs no transformers
            AutoConfig,
            AutoModelForCausalLM,
        )

        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(where))
        return float(sum(p.numel() for p in model.parameters())), "exact (local config.json, no weights)"
    if base in KNOWN_PARAMETERS:
        return KNOWN_PARAMETERS[base], "model card"
    match = re.search(r"(\d+(?:\.\d+)?)\s*([bm])\b", base.lower().replace("-", " ").replace("_", " "))
    if match:
        return float(match.group(1)) * (1e9 if match.group(2) == "b" else 1e6), "from the model name"
    raise ValueError(f"cannot estimate the size of model {base!r}: give a local folder with config.json")


def _n_train(profile: Any) -> tuple[int, str]:

    data = profile.data
    try:
        folder = artifacts_dir() / "apps_plus" / dataset_key(profile)
        if data.apps_plus:
            folder = Path(data.apps_plus)
        if is_built(folder) or data.apps_plus:
            path = folder / "apps_plus.jsonl" if folder.is_dir() else folder
            n = sum(1 for line in path.open(encoding="utf-8") if '"split":"train"' in line)
            cap = data.max_train_problems
            return (min(n, cap) if cap else n), f"counted in {path.name}"
    except (OSError, KeyError, ValueError):
        pass
    if data.source == "synthetic":
        n = round(SIZES[data.synthetic_size]["n_train"] * 2 / 3)  # train/validation 2:1 of the generated train
    else:
        n = PAPER_TRAIN_PROBLEMS
    cap = data.max_train_problems
    return (min(n, cap) if cap else n), "estimated (APPS+ not built yet)"


def plan(profile: Any) -> Any:
    """Validate ``profile`` and lay out the run without loading weights: a DataFrame (section, item, value, note).

    Memory is an estimate of weights and optimiser state only (no activations, KV cache or
    rollouts), as the native trainers hold them: a trained model is fp32 (the master copy; 16-bit
    compute is autocast) with an fp32 gradient and AdamW's two fp32 moments, 16 bytes a weight; the
    frozen reference is stored in ``model.dtype``. LoRA (SFT only) trains ~1% of the weights
    (estimated) over a frozen base in ``model.dtype``. Nothing is sharded: with accelerate's DDP
    every GPU holds all of it (the verl engine shards; see the README's "At scale").
    """
    import pandas as pd  # lazy: importing this module needs no pandas
    import torch  # lazy: importing this module needs no torch

    profile = get_profile(profile)  # a name or a Profile; validates names
    n_params, source = _count_parameters(profile)
    bytes_per = {"float32": 4, "bfloat16": 2, "float16": 2}[profile.model.dtype]
    full_train = n_params * 16  # fp32 master weight + fp32 gradient + two fp32 AdamW moments
    lora = profile.model.lora_r > 0
    sft_state = n_params * bytes_per + 0.01 * n_params * 16 if lora else full_train

    gib = 1024 ** 3
    weights = n_params * bytes_per
    rows: list[tuple[str, str, Any, str]] = []
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    gpu_mem = [torch.cuda.get_device_properties(i).total_memory / gib for i in range(gpus)]
    rows.append(("hardware", "GPUs available", gpus, ", ".join(f"{m:.0f} GiB" for m in gpu_mem) or "CPU only"))
    rows.append(("model", "base", profile.model.base, profile.model.dtype + (f", LoRA r={profile.model.lora_r}"
                                                                          if profile.model.lora_r else "")))
    rows.append(("model", "parameters", f"{n_params / 1e6:,.1f} M", source))
    rows.append(("memory", "policy (fp32 master + grad + AdamW)", f"{full_train / gib:.2f} GiB",
                 f"16 B a weight; {profile.model.dtype} compute by autocast"))
    rows.append(("memory", "reference (frozen)", f"{weights / gib:.2f} GiB",
                 f"KL anchor: the SFT model in {profile.model.dtype}"))
    rows.append(("memory", "critic (PPO; fp32 master + grad + AdamW)", f"{full_train / gib:.2f} GiB",
                 "initialised from the SFT model"))
    total = weights + 2 * full_train
    rows.append(("memory", "PPO total per GPU (excl. activations)", f"{total / gib:.2f} GiB",
                 "native trainer: DDP, every GPU holds all of it (no sharding)"))
    rows.append(("memory", "SFT total per GPU (excl. activations)", f"{sft_state / gib:.2f} GiB",
                 f"LoRA r={profile.model.lora_r} over a frozen {profile.model.dtype} base" if lora
                 else "full fine-tuning, fp32 master"))

    n_train, n_note = _n_train(profile)
    sft = profile.sft
    steps_per_epoch = math.ceil(n_train / sft.batch_size)  # global batch: accumulation adapts to the devices
    sft_steps = math.ceil(steps_per_epoch * sft.epochs)
    rows.append(("data", "training problems", n_train, n_note))
    rows.append(("sft", "global batch size", sft.batch_size, (f"{sft.per_device_batch_size} per device, "
                 "gradient accumulation making up the rest")))
    rows.append(("sft", "optimisation steps", sft_steps, (f"{sft.epochs:g} epochs, lr {sft.learning_rate:g}, "
                 f"warm-up {sft.warmup_epochs:g} epoch, {sft.scheduler} decay")))
    rl = profile.rl
    rollouts = rl.problems_per_step * rl.rollouts_per_problem
    rows.append(("rl", "steps", rl.steps, f"seeds {list(rl.seeds)}"))
    rows.append(("rl", "rollouts per step", rollouts,
                 f"{rl.problems_per_step} problems x {rl.rollouts_per_problem} samples, "
                 f"minibatch {rl.ppo.minibatch_size}"))
    rows.append(("rl", "generated tokens per step (max)", rollouts * rl.max_new_tokens,
                 f"temperature {rl.temperature}, top-p {rl.top_p}, max {rl.max_new_tokens} new tokens"))
    ev = profile.eval
    rows.append(("eval", "samples per problem", ev.n_samples, (f"pass@{list(ev.ks)}, temperature {ev.temperature}, "
                 f"top-p {ev.top_p}")))
    return pd.DataFrame(rows, columns=["section", "item", "value", "note"])


