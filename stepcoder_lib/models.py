"""Base models: the ``tiny`` Llama trained here, and one loader for tiny, local and hub models.

``tiny`` has no hub to come from, so it is made here, on CPU: a byte-level BPE tokenizer and a
small ``LlamaForCausalLM`` (transformers' own class) trained from scratch on Python source -- a
slice of the standard library, and the training split's problems written as prompt followed by
canonical solution, so the base model has seen the prompt format before SFT. It is saved with
``save_pretrained`` into ``artifacts_dir()/models/<key>``, where ``key`` hashes every input (the
model config, the dataset's key, this module's and the tokenizer's source, the library versions);
every later step loads it through ``load_policy`` exactly as it would load a hub model.

    path = base_model_path(profile)                        # tiny: built (or found) here; else the hub id / path
    model, tokenizer = load_policy(path, profile)          # AutoModelForCausalLM / AutoTokenizer
    print(plan(profile).to_string(index=False))            # GPUs, memory estimate, steps, batch sizes; no weights
"""

from __future__ import annotations

import json
import math
import random
import re
import warnings
from pathlib import Path
from typing import Any

from stepcoder_lib.cache import build_once, input_digest, library_files
from stepcoder_lib.paths import artifacts_dir, repo_root
from stepcoder_lib.profiles import save_effective_config
from stepcoder_lib.prompts import build_prompt

#: Sub-folder of a built model holding the effective profile it was built with (``config.json`` beside the
#: weights is the model's own).
RUN_CONFIG_DIR = "stepcoder_run"


class ModelUnavailable(RuntimeError):
    """Model weights could not be reached; the message says what was tried and how to supply them locally."""


# ----------------------------------------------------------------------------- the tiny model
def tiny_key(profile: Any) -> str:
    """Cache key of the profile's tiny base model (no data or weights are read)."""
    import tokenizers
    import torch
    import transformers

    from stepcoder_lib.data.prepare import dataset_key

    config = {"tiny": profile.model.tiny, "prompt_template": profile.model.prompt_template,
              "data": dataset_key(profile), "max_train_problems": profile.data.max_train_problems,
              "versions": [torch.__version__, transformers.__version__, tokenizers.__version__]}
    return f"tiny-{input_digest(config, library_files('models.py', 'tokenizer.py', 'prompts.py'))}"


def problem_documents(problems: list[Any], profile: Any) -> list[str]:
    """Prompt + canonical solution for each problem: the format the model is later asked to complete."""
    return [build_prompt(p, profile) + p.canonical_solution for p in problems if p.canonical_solution]


def train_tiny_tokenizer(problems: list[Any], profile: Any, save_dir: str | Path | None = None) -> Any:
    """A byte-level BPE on the stdlib slice and the training split's prompts and solutions."""
    from stepcoder_lib.tokenizer import stdlib_corpus, train_code_tokenizer

    return train_code_tokenizer(stdlib_corpus() + problem_documents(problems, profile),
                                vocab_size=profile.model.tiny.vocab_size, save_dir=save_dir,
                                split_digits=profile.model.tiny.split_digits)


def _llama_config(tiny: Any, tokenizer: Any) -> Any:
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=tiny.hidden_size, intermediate_size=tiny.intermediate_size,
        num_hidden_layers=tiny.num_layers, num_attention_heads=tiny.num_heads, num_key_value_heads=tiny.num_heads,
        max_position_embeddings=tiny.max_position_embeddings, tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)


def pretraining_examples(problems: list[Any], profile: Any, tokenizer: Any, n_examples: int,
                         seed: int) -> list[list[int]]:
    """``n_examples`` token sequences: whole problem documents and stdlib chunks, in a seeded order.

    Each problem document (prompt + canonical solution + EOS) is one example, kept whole, so that
    every solution token is learned in the context of its statement (packing documents into fixed
    blocks would cut most of them apart). A share ``stdlib_share`` of the examples are consecutive
    chunks of the stdlib slice, the rest are the training problems, each pass in a fresh order.
    Examples longer than ``pretrain_seq_len`` are cut there.
    """
    from stepcoder_lib.tokenizer import stdlib_corpus

    tiny, eos, cap = profile.model.tiny, tokenizer.eos_token_id, profile.model.tiny.pretrain_seq_len
    rng = random.Random(f"pretrain/{seed}")
    # with the tokenizer's special tokens, as SFT, RL and evaluation encode (``encoding.encode``)
    encoded = tokenizer(problem_documents(problems, profile), verbose=False)["input_ids"]
    n_cut = sum(len(ids) + 1 > cap for ids in encoded)
    if n_cut:
        warnings.warn(f"{n_cut} of {len(encoded)} problem documents are longer than model.tiny.pretrain_seq_len={cap} "
                      "tokens and are cut there for pretraining", stacklevel=2)
    docs = [ids[: cap - 1] + [eos] for ids in encoded]
    n_std = round(n_examples * tiny.stdlib_share) if docs else n_examples
    chunks: list[list[int]] = []
    if n_std:
        std_len = max(16, min(cap, round(sum(map(len, docs)) / len(docs)) if docs else cap))  # like a document
        for ids in tokenizer(stdlib_corpus(), add_special_tokens=False, verbose=False)["input_ids"]:
            chunks += [ids[i:i + std_len] for i in range(0, len(ids) - std_len + 1, std_len)]
    out = [chunks[i % len(chunks)] for i in range(n_std)] if chunks else []
    while len(out) < n_examples and docs:
        order = list(range(len(docs)))
        rng.shuffle(order)
        out += [docs[i] for i in order[: n_examples - len(out)]]
    rng.shuffle(out)
    return out


def build_tiny_model(profile: Any, force: bool = False, progress: bool = True) -> Path:
    """Train (or find cached) the tiny tokenizer + Llama; returns the ``save_pretrained`` folder."""
    from stepcoder_lib.data.prepare import load_splits

    key = tiny_key(profile)

    def build(tmp: Path) -> None:
        import torch
        from transformers import DataCollatorForLanguageModeling, LlamaForCausalLM, Trainer, TrainingArguments

        from stepcoder_lib.progress import use_progress_bar

        tiny = profile.model.tiny
        train = load_splits(profile, progress=progress)["train"]
        tokenizer = train_tiny_tokenizer(train, profile)
        torch.manual_seed(tiny.seed)
        model = LlamaForCausalLM(_llama_config(tiny, tokenizer))
        examples = pretraining_examples(train, profile, tokenizer, tiny.pretrain_steps * tiny.pretrain_batch_size,
                                        tiny.seed)
        dataset = [{"input_ids": ids} for ids in examples]
        args = TrainingArguments(
            output_dir=str(tmp / "trainer"), max_steps=tiny.pretrain_steps,
            per_device_train_batch_size=tiny.pretrain_batch_size,
            learning_rate=tiny.pretrain_lr, lr_scheduler_type="cosine", warmup_steps=tiny.pretrain_warmup,
            weight_decay=0.1, adam_beta2=0.95, max_grad_norm=1.0, logging_steps=max(1, tiny.pretrain_steps // 50),
            save_strategy="no", report_to="none", seed=tiny.seed, data_seed=tiny.seed, disable_tqdm=not progress,
            dataloader_num_workers=0, use_cpu=not torch.cuda.is_available(), bf16=use_bf16(tiny.bf16),
            train_sampling_strategy="group_by_length")  # batches of similar length: little padding
        collator = DataCollatorForLanguageModeling(tokenizer, mlm=False)  # pads; labels -100 on padding
        trainer = use_progress_bar(Trainer(model=model, args=args, train_dataset=dataset, data_collator=collator),
                                   f"pretraining tiny ({profile.name})", enabled=progress)
        result = trainer.train()
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        model.generation_config.save_pretrained(tmp)
        save_effective_config(profile, tmp / RUN_CONFIG_DIR, extra={"built": "tiny base model", "key": key})
        (tmp / "pretrain_log.json").write_text(json.dumps({"log_history": trainer.state.log_history,
                                                             "train_runtime_s": result.metrics.get("train_runtime"),
                                                             "n_parameters": model.num_parameters()}, indent=1))
        import shutil

        shutil.rmtree(tmp / "trainer", ignore_errors=True)

    return build_once(artifacts_dir() / "models" / key, build, force=force,
                      inputs={"key": key, "tiny": profile.model.tiny, "profile": profile.name})


def base_model_path(profile: Any, force: bool = False, progress: bool = True) -> str:
    """What ``load_policy`` should load as the base model: the built tiny model, or ``model.base`` as given."""
    if profile.model.base == "tiny":
        return str(build_tiny_model(profile, force=force, progress=progress))
    return profile.model.base


def use_bf16(requested: bool) -> bool:
    """bf16 mixed precision where it pays: a GPU that supports it, or a CPU with AVX512-BF16/AMX (else fp32,
    since emulated bf16 on older CPUs is several times slower than fp32)."""
    import torch

    if not requested:
        return False
    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # an older torch without the probes
        return False


# ----------------------------------------------------------------------------- loading
def mixed_precision(dtype_name: str, device: Any = "cpu") -> Any:
    """The compute context of a profile's ``model.dtype``: autocast to 16 bits over fp32 master weights.

    ``float32``: a no-op context. ``bfloat16``/``float16``: ``torch.autocast`` on the device's type,
    so matrix products run in 16 bits while the weights the optimiser updates stay fp32. At the
    paper's policy lr 5e-7 an AdamW step moves a weight by ~5e-7, below half a bf16 ulp of almost
    every weight: in pure bf16 about 1% of the weights would change at all.
    """
    import torch

    dtype = _torch_dtype(dtype_name)
    kind = torch.device(device).type if not isinstance(device, torch.device) else device.type
    return torch.autocast(device_type=kind, dtype=dtype, enabled=dtype != torch.float32)


def _torch_dtype(name: str) -> Any:
    import torch

    dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if name not in dtypes:
        raise ValueError(f"model.dtype {name!r} is not one of {', '.join(dtypes)}")
    return dtypes[name]


def resolve_model_path(path_or_id: str | Path) -> tuple[str, bool]:
    """``(where, is_local)``: an existing folder (relative paths from the checkout) or a hub id."""
    text = str(path_or_id)
    path = Path(text).expanduser()
    for candidate in (path, repo_root() / path):
        if candidate.is_dir():
            return str(candidate), True
    return text, False


def load_policy(path_or_id: str | Path, profile: Any = None, *, dtype: str | None = None,
                device: str | None = None, trainable: bool = True) -> tuple[Any, Any]:
    """``(model, tokenizer)`` from a folder written by ``save_pretrained`` or a hub id, the same way for all.

    The dtype is ``dtype`` or the profile's ``model.dtype`` (float32 without a profile); a model
    loaded to be trained (``trainable``) is kept in float32 whatever that dtype is: its weights are
    the optimiser's master copy, and 16-bit compute comes from ``mixed_precision``. The
    tokenizer gets a pad token (its EOS when it has none: decoder-only models often ship without).
    An unreachable hub id raises ``ModelUnavailable`` at once, with one sentence, instead of
    transformers' retries and its long message.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from stepcoder_lib.data.loaders import hub_reachable

    where, local = resolve_model_path(path_or_id)
    dtype_name = "float32" if trainable else dtype or (profile.model.dtype if profile is not None else "float32")
    kwargs: dict[str, Any] = {"dtype": _torch_dtype(dtype_name)}
    looks_local = where.startswith((".", "/", "~")) or where.count("/") != 1
    if not local and looks_local:
        raise ModelUnavailable(f"Could not load model {where}: the local path does not exist (and it is not a hub id "
                               "owner/name); check model.base or build the model first.")
    online = local or hub_reachable()
    if not online:
        kwargs["local_files_only"] = True
    try:
        tokenizer = AutoTokenizer.from_pretrained(where, **({"local_files_only": True} if not online else {}))
        model = AutoModelForCausalLM.from_pretrained(where, **kwargs)
    except (OSError, ValueError) as exc:
        if local:
            raise ModelUnavailable(f"Could not load model from {where}: {str(exc).splitlines()[0][:200]}") from None
        why = ("the hub is unreachable and it is not in the local Hugging Face cache" if not online
               else str(exc).splitlines()[0][:200].rstrip(". "))
        raise ModelUnavailable(
            f"Could not load model {where}: tried the local path {Path(where).expanduser()} (it does not exist) and "
            f"the Hugging Face hub ({why}); download it where the hub is reachable (huggingface-cli download {where} "
            "--local-dir DIR) and set model.base to DIR.") from None
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    if device is not None:
        model.to(device)  # type: ignore[arg-type]  # transformers' stub types .to() for models only
    model.train(trainable)
    if not trainable:
        model.requires_grad_(False)
    return model, tokenizer


def lora_config(profile: Any) -> Any:
    """A peft ``LoraConfig`` when ``model.lora_r > 0`` (else None): pass it as a trainer's ``peft_config``."""
    if profile.model.lora_r <= 0:
        return None
    try:
        from peft import LoraConfig
    except ImportError:
        raise ImportError("model.lora_r > 0 needs the 'peft' package (pinned in requirements.txt)") from None
    return LoraConfig(r=profile.model.lora_r, lora_alpha=2 * profile.model.lora_r, lora_dropout=0.05,
                      target_modules="all-linear", task_type="CAUSAL_LM")


# ----------------------------------------------------------------------------- the dry run
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
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM

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
    from stepcoder_lib.cache import is_built
    from stepcoder_lib.data.prepare import dataset_key

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
        from stepcoder_lib.synthetic import SIZES

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
    import pandas as pd
    import torch

    from stepcoder_lib.profiles import get_profile

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
                 f"{rl.problems_per_step} problems x {rl.rollouts_per_problem} samples, minibatch {rl.minibatch_size}"))
    rows.append(("rl", "generated tokens per step (max)", rollouts * rl.max_new_tokens,
                 f"temperature {rl.temperature}, top-p {rl.top_p}, max {rl.max_new_tokens} new tokens"))
    ev = profile.eval
    rows.append(("eval", "samples per problem", ev.n_samples, (f"pass@{list(ev.ks)}, temperature {ev.temperature}, "
                 f"top-p {ev.top_p}")))
    return pd.DataFrame(rows, columns=["section", "item", "value", "note"])


