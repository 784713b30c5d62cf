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
import random
import shutil
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stepcoder_lib.data.prepare import dataset_key, load_splits
from stepcoder_lib.data.problem import Problem
from stepcoder_lib.models.prompts import build_prompt
from stepcoder_lib.settings.cache import build_once, input_digest, library_files
from stepcoder_lib.settings.paths import artifacts_dir
from stepcoder_lib.settings.profiles import save_effective_config
from stepcoder_lib.settings.progress import use_progress_bar

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

#: Sub-folder of a built model holding the effective profile it was built with (``config.json`` beside the
#: weights is the model's own).
RUN_CONFIG_DIR = "stepcoder_run"


# ----------------------------------------------------------------------------- the tiny model
def tiny_key(profile: Any) -> str:
    """Cache key of the profile's tiny base model (no data or weights are read)."""
    import tokenizers  # lazy: importing this module needs no tokenizers
    import torch  # lazy: importing this module needs no torch
    import transformers  # lazy: importing this module needs no transformers

    config = {"tiny": profile.model.tiny, "prompt_template": profile.model.prompt_template,
              "data": dataset_key(profile), "max_train_problems": profile.data.max_train_problems,
              "versions": [torch.__version__, transformers.__version__, tokenizers.__version__]}
    sources = library_files("models/tiny.py", "models/loading.py", "models/plan.py", "models/tokenizer.py",
                            "models/prompts.py")
    return f"tiny-{input_digest(config, sources)}"


def problem_documents(problems: list[Problem], profile: Any) -> list[str]:
    """Prompt + canonical solution for each problem: the format the model is later asked to complete."""
    return [build_prompt(p, profile) + p.canonical_solution for p in problems if p.canonical_solution]


def train_tiny_tokenizer(problems: list[Problem], profile: Any, save_dir: str | Path | None = None) -> Any:
    """A byte-level BPE on the stdlib slice and the training split's prompts and solutions."""
    from stepcoder_lib.models.tokenizer import (  # lazy: importing this module needs no transformers
        stdlib_corpus,
        train_code_tokenizer,
    )

    return train_code_tokenizer(stdlib_corpus() + problem_documents(problems, profile),
                                vocab_size=profile.model.tiny.vocab_size, save_dir=save_dir,
                                split_digits=profile.model.tiny.split_digits)


def _llama_config(tiny: Any, tokenizer: PreTrainedTokenizerBase) -> Any:
    from transformers import LlamaConfig  # lazy: importing this module needs no transformers

    return LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=tiny.hidden_size, intermediate_size=tiny.intermediate_size,
        num_hidden_layers=tiny.num_layers, num_attention_heads=tiny.num_heads, num_key_value_heads=tiny.num_heads,
        max_position_embeddings=tiny.max_position_embeddings, tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)


def pretraining_examples(problems: list[Problem], profile: Any, tokenizer: PreTrainedTokenizerBase, n_examples: int,
                         seed: int) -> list[list[int]]:
    """``n_examples`` token sequences: whole problem documents and stdlib chunks, in a seeded order.

    Each problem document (prompt + canonical solution + EOS) is one example, kept whole, so that
    every solution token is learned in the context of its statement (packing documents into fixed
    blocks would cut most of them apart). A share ``stdlib_share`` of the examples are consecutive
    chunks of the stdlib slice, the rest are the training problems, each pass in a fresh order.
    Examples longer than ``pretrain_seq_len`` are cut there.
    """
    from stepcoder_lib.models.tokenizer import (
        stdlib_corpus,  # lazy: importing this module needs no transformers
    )

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
    key = tiny_key(profile)

    def build(tmp: Path) -> None:
        import torch  # lazy: importing this module needs no torch
        from transformers import (  # lazy: importing this module needs no transformers
            DataCollatorForLanguageModeling,
            LlamaForCausalLM,
            Trainer,
            TrainingArguments,
        )

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
            dataloader_num_workers=0, use_cpu=not torch.cuda.is_available(), bf16=profile.model.dtype == "bfloat16",
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

        shutil.rmtree(tmp / "trainer", ignore_errors=True)

    return build_once(artifacts_dir() / "models" / key, build, force=force,
                      inputs={"key": key, "tiny": profile.model.tiny, "profile": profile.name})


def base_model_path(profile: Any, force: bool = False, progress: bool = True) -> str:
    """What ``load_policy`` should load as the base model: the built tiny model, or ``model.base`` as given."""
    if profile.model.base == "tiny":
        return str(build_tiny_model(profile, force=force, progress=progress))
    return profile.model.base
